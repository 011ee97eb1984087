
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * session_store redis: server-side sessions.  The cookie holds a ticket,
 * sealed with the cookie secret like any session cookie: "T", a random
 * 16-byte id and a random 32-byte key.  The session (the same encoding
 * as a session cookie's) is sealed with that key (AES-256-GCM, the Redis
 * key name as additional data) and kept, with the session's lifetime as
 * its TTL, under PREFIXsession:{H}, H the hex of the first 16 bytes of
 * SHA-256 over the id.  Redis alone holds no token or claim in clear,
 * and a copy of the cookie opens nothing once the key is deleted.
 *
 * Every request reads the session (GET, no per-worker cache: a logout
 * on another host deletes it at once); the request waits for the reply
 * without blocking the worker.  Redis unusable: the caller refuses the
 * request with 503, one error line per outage.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "ngx_http_oauth2_store.h"
#include "ngx_http_oauth2_cookie.h"
#include "ngx_http_oauth2_ctx.h"
#include "ngx_http_oauth2_fleet.h"
#include "ngx_http_oauth2_seal.h"

#if (NGX_HTTP_OAUTH2_REDIS)
#include <hiredis/hiredis.h>
#endif


#define NGX_HTTP_OAUTH2_STORE_ID_LEN   16
#define NGX_HTTP_OAUTH2_STORE_TICKET   (1 + NGX_HTTP_OAUTH2_STORE_ID_LEN    \
                                        + NGX_HTTP_OAUTH2_KEY_LEN)

/* a value read back larger than this is not taken */
#define NGX_HTTP_OAUTH2_STORE_MAX      65536

/* "PREFIX" (64 at most) "session:{" 32 hex digits "}" */
#define NGX_HTTP_OAUTH2_STORE_NAME     (64 + sizeof("session:{}") + 32)


/* a GET in flight; it outlives its request when the request goes */
typedef struct {
    ngx_http_request_t             *r;
    ngx_http_oauth2_store_wake_pt   wake;
    ngx_int_t                       rc;       /* NGX_AGAIN: asked */
    u_char                         *value;
    size_t                          len;
    unsigned                        cancelled:1;
} ngx_http_oauth2_store_op_t;


/* the request's ticket and what was read for it */
typedef struct {
    ngx_http_oauth2_provider_t     *provider;
    u_char                          id[NGX_HTTP_OAUTH2_STORE_ID_LEN];
    u_char                          key[NGX_HTTP_OAUTH2_KEY_LEN];
    unsigned                        have_ticket:1;
    unsigned                        loaded:1;
    ngx_str_t                       value;
    ngx_http_oauth2_store_op_t     *op;
} ngx_http_oauth2_store_t;


static ngx_http_oauth2_store_t *ngx_http_oauth2_store_get(
    ngx_http_request_t *r, ngx_http_oauth2_provider_t *p);
static void ngx_http_oauth2_store_ticket(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf, ngx_http_oauth2_store_t *st);
static ngx_int_t ngx_http_oauth2_store_name(ngx_http_oauth2_store_t *st,
    u_char *buf, ngx_str_t *name);
static ngx_array_t *ngx_http_oauth2_store_keys(ngx_pool_t *pool,
    ngx_http_oauth2_store_t *st);
static void ngx_http_oauth2_store_cleanup(void *data);
static void ngx_http_oauth2_store_op_free(ngx_http_oauth2_store_op_t *op);
static void ngx_http_oauth2_store_got(void *data, void *reply);
static void ngx_http_oauth2_store_written(void *data, void *reply);
static void ngx_http_oauth2_store_failed(const char *why);
static void ngx_http_oauth2_store_answered(void);


/* Redis failed and has not answered since: the outage is logged once */
static ngx_uint_t  ngx_http_oauth2_store_failing;


ngx_int_t
ngx_http_oauth2_store_load(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf, ngx_http_oauth2_provider_t *p,
    ngx_http_oauth2_store_wake_pt wake)
{
    u_char                       buf[NGX_HTTP_OAUTH2_STORE_NAME];
    ngx_int_t                    rc;
    ngx_str_t                    name;
    const char                  *argv[2];
    size_t                       argvlen[2];
    ngx_pool_cleanup_t          *cln;
    ngx_http_oauth2_store_t     *st;
    ngx_http_oauth2_store_op_t  *op;

    st = ngx_http_oauth2_store_get(r, p);
    if (st == NULL) {
        return NGX_ERROR;
    }

    if (st->loaded) {
        return NGX_OK;
    }

    op = st->op;

    if (op != NULL) {
        if (op->rc == NGX_AGAIN) {
            return NGX_AGAIN;
        }

        rc = op->rc;

        if (rc == NGX_OK && op->len) {
            st->value.data = ngx_pnalloc(r->pool, op->len);

            if (st->value.data == NULL) {
                rc = NGX_ERROR;

            } else {
                ngx_memcpy(st->value.data, op->value, op->len);
                st->value.len = op->len;
            }
        }

        ngx_http_oauth2_store_op_free(op);
        st->op = NULL;
        st->loaded = (rc == NGX_OK);

        return rc;
    }

    ngx_http_oauth2_store_ticket(r, olcf, st);

    if (!st->have_ticket) {
        st->loaded = 1;
        return NGX_OK;
    }

    if (ngx_http_oauth2_store_name(st, buf, &name) != NGX_OK) {
        ngx_http_oauth2_store_failed("no oauth2_redis in this worker");
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    op = ngx_calloc(sizeof(ngx_http_oauth2_store_op_t), r->connection->log);
    if (op == NULL) {
        return NGX_ERROR;
    }

    op->r = r;
    op->wake = wake;
    op->rc = NGX_AGAIN;

    argv[0] = "GET";
    argvlen[0] = 3;
    argv[1] = (const char *) name.data;
    argvlen[1] = name.len;

    if (ngx_http_oauth2_fleet_command(ngx_http_oauth2_store_got, op, 2,
                                      argv, argvlen)
        != NGX_OK)
    {
        ngx_free(op);
        ngx_http_oauth2_store_failed("Redis is not connected");
        return NGX_ERROR;
    }

    st->op = op;

    cln->handler = ngx_http_oauth2_store_cleanup;
    cln->data = st;

    return NGX_AGAIN;
}


ngx_int_t
ngx_http_oauth2_store_open(ngx_http_request_t *r,
    ngx_http_oauth2_provider_t *p, ngx_http_oauth2_session_t *s)
{
    u_char                    buf[NGX_HTTP_OAUTH2_STORE_NAME];
    ngx_str_t                 name, plain;
    ngx_array_t              *keys;
    ngx_http_oauth2_ctx_t    *ctx;
    ngx_http_oauth2_store_t  *st;

    ctx = ngx_http_oauth2_get_ctx(r, 0);

    if (ctx == NULL || ctx->store == NULL) {
        return NGX_DECLINED;
    }

    st = ctx->store;

    if (st->provider != p || !st->loaded || st->value.len == 0) {
        return NGX_DECLINED;
    }

    keys = ngx_http_oauth2_store_keys(r->pool, st);

    if (keys == NULL
        || ngx_http_oauth2_store_name(st, buf, &name) != NGX_OK
        || ngx_http_oauth2_open(r->pool, keys, NGX_HTTP_OAUTH2_SEAL_SESSION,
                                &name, &st->value, &plain, NULL)
           != NGX_OK
        || ngx_http_oauth2_session_decode(r->pool, &plain, s) != NGX_OK)
    {
        return NGX_ABORT;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_oauth2_store_save(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf, ngx_http_oauth2_provider_t *p,
    ngx_http_oauth2_session_t *s, time_t ttl, ngx_uint_t secure)
{
    u_char                    buf[NGX_HTTP_OAUTH2_STORE_NAME];
    u_char                    ticket[NGX_HTTP_OAUTH2_STORE_TICKET];
    u_char                    ms[NGX_TIME_T_LEN + 3];
    ngx_int_t                 rc;
    ngx_str_t                 name, plain, sealed, t;
    ngx_array_t              *keys;
    const char               *argv[5];
    size_t                    argvlen[5];
    ngx_http_oauth2_store_t  *st;

    st = ngx_http_oauth2_store_get(r, p);
    if (st == NULL) {
        return NGX_ERROR;
    }

    if (!st->have_ticket) {
        if (RAND_bytes(st->id, NGX_HTTP_OAUTH2_STORE_ID_LEN) != 1
            || RAND_bytes(st->key, NGX_HTTP_OAUTH2_KEY_LEN) != 1)
        {
            return NGX_ERROR;
        }

        st->have_ticket = 1;
    }

    keys = ngx_http_oauth2_store_keys(r->pool, st);
    if (keys == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_oauth2_store_name(st, buf, &name) != NGX_OK) {
        ngx_http_oauth2_store_failed("no oauth2_redis in this worker");
        return NGX_ERROR;
    }

    if (ngx_http_oauth2_session_encode(r->pool, s, &plain) != NGX_OK) {
        return NGX_ERROR;
    }

    rc = ngx_http_oauth2_seal(r->pool, keys, NGX_HTTP_OAUTH2_SEAL_SESSION,
                              &name, &plain, &sealed);

    ngx_explicit_memzero(plain.data, plain.len);

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    argv[0] = "SET";
    argvlen[0] = 3;
    argv[1] = (const char *) name.data;
    argvlen[1] = name.len;
    argv[2] = (const char *) sealed.data;
    argvlen[2] = sealed.len;
    argv[3] = "PX";
    argvlen[3] = 2;
    argv[4] = (const char *) ms;
    argvlen[4] = ngx_sprintf(ms, "%T", (ttl > 0 ? ttl : 1) * 1000) - ms;

    if (ngx_http_oauth2_fleet_command(ngx_http_oauth2_store_written, NULL,
                                      5, argv, argvlen)
        != NGX_OK)
    {
        ngx_http_oauth2_store_failed("Redis is not connected");
        return NGX_ERROR;
    }

    ticket[0] = 'T';
    ngx_memcpy(ticket + 1, st->id, NGX_HTTP_OAUTH2_STORE_ID_LEN);
    ngx_memcpy(ticket + 1 + NGX_HTTP_OAUTH2_STORE_ID_LEN, st->key,
               NGX_HTTP_OAUTH2_KEY_LEN);

    t.data = ticket;
    t.len = sizeof(ticket);

    rc = ngx_http_oauth2_seal(r->pool, olcf->keys,
                              NGX_HTTP_OAUTH2_SEAL_SESSION, &p->cookie_name,
                              &t, &sealed);

    ngx_explicit_memzero(ticket, sizeof(ticket));

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_oauth2_cookie_set(r, &p->cookie_name, &sealed, ttl,
                                      secure, &olcf->cookie_domain);
}


void
ngx_http_oauth2_store_delete(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf, ngx_http_oauth2_provider_t *p)
{
    u_char                    buf[NGX_HTTP_OAUTH2_STORE_NAME];
    ngx_str_t                 name;
    const char               *argv[2];
    size_t                    argvlen[2];
    ngx_http_oauth2_store_t  *st;

    st = ngx_http_oauth2_store_get(r, p);
    if (st == NULL) {
        return;
    }

    if (!st->have_ticket) {
        ngx_http_oauth2_store_ticket(r, olcf, st);
    }

    if (!st->have_ticket
        || ngx_http_oauth2_store_name(st, buf, &name) != NGX_OK)
    {
        return;
    }

    argv[0] = "DEL";
    argvlen[0] = 3;
    argv[1] = (const char *) name.data;
    argvlen[1] = name.len;

    if (ngx_http_oauth2_fleet_command(ngx_http_oauth2_store_written, NULL,
                                      2, argv, argvlen)
        != NGX_OK)
    {
        ngx_http_oauth2_store_failed("Redis is not connected, a logged out "
                                     "session stays until its TTL");
    }

    st->value.len = 0;
}


/* the request's store record for provider p (reset for another one) */

static ngx_http_oauth2_store_t *
ngx_http_oauth2_store_get(ngx_http_request_t *r,
    ngx_http_oauth2_provider_t *p)
{
    ngx_http_oauth2_ctx_t    *ctx;
    ngx_http_oauth2_store_t  *st;

    ctx = ngx_http_oauth2_get_ctx(r, 1);
    if (ctx == NULL) {
        return NULL;
    }

    st = ctx->store;

    if (st == NULL) {
        st = ngx_pcalloc(r->pool, sizeof(ngx_http_oauth2_store_t));
        if (st == NULL) {
            return NULL;
        }

        st->provider = p;
        ctx->store = st;
    }

    if (st->provider != p && st->op == NULL) {
        ngx_explicit_memzero(st->key, sizeof(st->key));
        ngx_memzero(st, sizeof(ngx_http_oauth2_store_t));
        st->provider = p;
    }

    return st;
}


/* the ticket of the request's cookie, if it opens with the cookie keys */

static void
ngx_http_oauth2_store_ticket(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf, ngx_http_oauth2_store_t *st)
{
    ngx_str_t  value, plain;

    if (ngx_http_oauth2_cookie_get(r, &st->provider->cookie_name, &value,
                                   NULL)
        != NGX_OK)
    {
        return;
    }

    if (ngx_http_oauth2_open(r->pool, olcf->keys,
                             NGX_HTTP_OAUTH2_SEAL_SESSION,
                             &st->provider->cookie_name, &value, &plain, NULL)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "oauth2: session ticket \"%V\" does not open "
                      "(tampered, truncated or sealed with another secret)",
                      &st->provider->cookie_name);
        return;
    }

    if (plain.len != NGX_HTTP_OAUTH2_STORE_TICKET || plain.data[0] != 'T') {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "oauth2: session cookie \"%V\" is not a ticket of "
                      "session_store redis", &st->provider->cookie_name);
        ngx_explicit_memzero(plain.data, plain.len);
        return;
    }

    ngx_memcpy(st->id, plain.data + 1, NGX_HTTP_OAUTH2_STORE_ID_LEN);
    ngx_memcpy(st->key, plain.data + 1 + NGX_HTTP_OAUTH2_STORE_ID_LEN,
               NGX_HTTP_OAUTH2_KEY_LEN);
    ngx_explicit_memzero(plain.data, plain.len);

    st->have_ticket = 1;
}


/* PREFIXsession:{H} into buf; NGX_DECLINED without a fleet */

static ngx_int_t
ngx_http_oauth2_store_name(ngx_http_oauth2_store_t *st, u_char *buf,
    ngx_str_t *name)
{
    u_char        md[EVP_MAX_MD_SIZE], *p;
    unsigned int  mdlen;
    ngx_str_t    *prefix;

    prefix = ngx_http_oauth2_fleet_key_prefix();

    if (prefix == NULL || prefix->len > 64) {
        return NGX_DECLINED;
    }

    if (EVP_Digest(st->id, NGX_HTTP_OAUTH2_STORE_ID_LEN, md, &mdlen,
                   EVP_sha256(), NULL)
        != 1)
    {
        return NGX_DECLINED;
    }

    p = ngx_cpymem(buf, prefix->data, prefix->len);
    p = ngx_cpymem(p, "session:{", sizeof("session:{") - 1);
    p = ngx_hex_dump(p, md, 16);
    *p++ = '}';

    name->data = buf;
    name->len = p - buf;

    return NGX_OK;
}


/* the ticket's key as a key set for seal.c */

static ngx_array_t *
ngx_http_oauth2_store_keys(ngx_pool_t *pool, ngx_http_oauth2_store_t *st)
{
    ngx_array_t             *keys;
    ngx_http_oauth2_keys_t  *k;

    keys = ngx_array_create(pool, 1, sizeof(ngx_http_oauth2_keys_t));
    if (keys == NULL) {
        return NULL;
    }

    k = ngx_array_push(keys);
    if (k == NULL) {
        return NULL;
    }

    ngx_memcpy(k->session, st->key, NGX_HTTP_OAUTH2_KEY_LEN);
    ngx_memzero(k->state, NGX_HTTP_OAUTH2_KEY_LEN);

    return keys;
}


/* the request goes: a GET still in flight is left to free itself */

static void
ngx_http_oauth2_store_cleanup(void *data)
{
    ngx_http_oauth2_store_t *st = data;

    if (st->op == NULL) {
        return;
    }

    if (st->op->rc == NGX_AGAIN) {
        st->op->cancelled = 1;

    } else {
        ngx_http_oauth2_store_op_free(st->op);
    }

    st->op = NULL;
}


static void
ngx_http_oauth2_store_op_free(ngx_http_oauth2_store_op_t *op)
{
    if (op->value != NULL) {
        ngx_explicit_memzero(op->value, op->len);
        ngx_free(op->value);
    }

    ngx_free(op);
}


#if (NGX_HTTP_OAUTH2_REDIS)

static void
ngx_http_oauth2_store_got(void *data, void *r)
{
    redisReply                  *reply;
    ngx_http_oauth2_store_op_t  *op;

    op = data;
    reply = r;

    if (op->cancelled) {
        ngx_http_oauth2_store_op_free(op);
        return;
    }

    op->rc = NGX_ERROR;

    if (reply == NULL) {
        ngx_http_oauth2_store_failed("a GET failed (connection lost or "
                                     "timed out)");

    } else if (reply->type == REDIS_REPLY_NIL) {
        op->rc = NGX_OK;

    } else if (reply->type == REDIS_REPLY_STRING
               && reply->len > 0
               && (size_t) reply->len <= NGX_HTTP_OAUTH2_STORE_MAX)
    {
        op->value = ngx_alloc(reply->len, ngx_cycle->log);

        if (op->value != NULL) {
            ngx_memcpy(op->value, reply->str, reply->len);
            op->len = reply->len;
            op->rc = NGX_OK;
        }

    } else if (reply->type == REDIS_REPLY_STRING) {
        /* too large to be ours: no session */
        op->rc = NGX_OK;

    } else {
        ngx_http_oauth2_store_failed("Redis answered a GET with an error");
    }

    if (op->rc == NGX_OK) {
        ngx_http_oauth2_store_answered();
    }

    op->wake(op->r);
}


static void
ngx_http_oauth2_store_written(void *data, void *r)
{
    redisReply  *reply;

    reply = r;

    if (reply == NULL) {
        ngx_http_oauth2_store_failed("a write failed (connection lost or "
                                     "timed out)");

    } else if (reply->type == REDIS_REPLY_ERROR) {
        ngx_http_oauth2_store_failed("Redis answered a write with an error");

    } else {
        ngx_http_oauth2_store_answered();
    }
}

#else

static void
ngx_http_oauth2_store_got(void *data, void *r)
{
}


static void
ngx_http_oauth2_store_written(void *data, void *r)
{
}

#endif


static void
ngx_http_oauth2_store_failed(const char *why)
{
    if (ngx_http_oauth2_store_failing) {
        return;
    }

    ngx_http_oauth2_store_failing = 1;

    ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                  "oauth2 session_store redis: %s; requests with sessions "
                  "in Redis get 503 until it answers", why);
}


static void
ngx_http_oauth2_store_answered(void)
{
    if (!ngx_http_oauth2_store_failing) {
        return;
    }

    ngx_http_oauth2_store_failing = 0;

    ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                  "oauth2 session_store redis: Redis answers again");
}
