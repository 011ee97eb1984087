
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * API callers (RFC 6750): the access token of "Authorization: Bearer"
 * checked as a JWT access token (RFC 9068) with the provider's keys
 * (the same caches and rotation handling as ID tokens), remembered in the
 * shared zone under a hash of it (never the token) until its exp or
 * bearer_cache_time, a refused one for a short time, and made the
 * request's session so that oauth2_require and the variables work as for
 * a cookie.  Each worker also keeps the sessions of the tokens it saw
 * last, under the same hash, so that a repeated token costs a hash and a
 * comparison.  A token in the query string or a form body is never looked
 * at (RFC 9700, section 2.4).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_module.h"
#include "ngx_http_oauth2_authz.h"
#include "ngx_http_oauth2_codec.h"
#include "ngx_http_oauth2_ctx.h"
#include "ngx_http_oauth2_introspect.h"
#include "ngx_http_oauth2_json.h"
#include "ngx_http_oauth2_jwk.h"
#include "ngx_http_oauth2_jwt.h"
#include "ngx_http_oauth2_metrics.h"
#include "ngx_http_oauth2_park.h"
#include "ngx_http_oauth2_provider.h"
#include "ngx_http_oauth2_reply.h"
#include "ngx_http_oauth2_session.h"
#include "ngx_http_oauth2_shm.h"
#include "ngx_http_oauth2_bearer.h"


/* how long a refused token is remembered as refused */
#define NGX_HTTP_OAUTH2_BEARER_REFUSED_TTL  10

/* how long a check in progress keeps others from repeating it */
#define NGX_HTTP_OAUTH2_BEARER_RUNNING_TTL  10

/* the worker's cache: slots (a power of 2), and how long an entry taken
 * from the shared zone may live in it at most (its time left there is
 * not known) */
#define NGX_HTTP_OAUTH2_BEARER_SLOTS        1024
#define NGX_HTTP_OAUTH2_BEARER_SHM_TTL      10


/*
 * A session made from a token, in the worker's memory, strings after it.
 * An entry is freed when it expires or its slot is taken by another token,
 * which may happen while a request that found it is still running: a
 * request gets a copy in its own pool, never pointers into the entry.
 */
typedef struct {
    u_char                          key[NGX_HTTP_OAUTH2_SHM_KEY_LEN];
    size_t                          size;     /* the entry with its strings */
    ngx_http_oauth2_provider_t     *provider;
    time_t                          until;    /* the entry's end */
    time_t                          expires;  /* the token's exp, 0: none */
    ngx_str_t                       sub;
    ngx_str_t                       email;
    ngx_str_t                       scope;
    ngx_str_t                       client_id;
    ngx_uint_t                      nclaims;
    ngx_http_oauth2_claim_t        *claims;
} ngx_http_oauth2_bearer_entry_t;


static ngx_int_t ngx_http_oauth2_bearer_jwt(ngx_http_request_t *r,
    ngx_http_oauth2_provider_t *p, ngx_http_oauth2_ctx_t *ctx,
    ngx_str_t *token, ngx_str_t *payload, time_t *exp, const char **err);
static ngx_uint_t ngx_http_oauth2_bearer_algs(ngx_http_oauth2_provider_t *p);
static ngx_uint_t ngx_http_oauth2_bearer_is_jws(ngx_str_t *token);
static ngx_int_t ngx_http_oauth2_bearer_typ(ngx_http_oauth2_jwt_t *jwt);
static ngx_int_t ngx_http_oauth2_bearer_claims(ngx_http_oauth2_provider_t *p,
    yajl_val claims, time_t *exp, const char **err);
static ngx_int_t ngx_http_oauth2_bearer_session(ngx_http_request_t *r,
    ngx_http_oauth2_provider_t *p, ngx_http_oauth2_ctx_t *ctx,
    ngx_str_t *token, ngx_str_t *payload);
static ngx_int_t ngx_http_oauth2_bearer_scope(ngx_pool_t *pool,
    yajl_val claims, ngx_str_t *scope);
static ngx_int_t ngx_http_oauth2_bearer_require(ngx_http_request_t *r,
    ngx_http_oauth2_provider_t *p, ngx_http_oauth2_ctx_t *ctx);
static ngx_uint_t ngx_http_oauth2_bearer_known(ngx_http_request_t *r,
    ngx_http_oauth2_provider_t *p, ngx_http_oauth2_ctx_t *ctx, u_char *key,
    ngx_str_t *token);
static void ngx_http_oauth2_bearer_keep(ngx_http_oauth2_provider_t *p,
    ngx_http_oauth2_ctx_t *ctx, u_char *key, time_t until);


static ngx_http_oauth2_bearer_entry_t
    *ngx_http_oauth2_bearer_slots[NGX_HTTP_OAUTH2_BEARER_SLOTS];


ngx_uint_t
ngx_http_oauth2_bearer_sent(ngx_http_request_t *r)
{
    ngx_str_t         token;
    ngx_table_elt_t  *h;

    h = r->headers_in.authorization;

    if (h == NULL) {
        return 0;
    }

    return ngx_http_oauth2_authz_parse(h->value.data, h->value.len, &token)
           != NGX_DECLINED;
}


ngx_int_t
ngx_http_oauth2_bearer_check(ngx_http_request_t *r,
    ngx_http_oauth2_provider_t *p, ngx_uint_t fallback)
{
    u_char                        key[NGX_HTTP_OAUTH2_SHM_KEY_LEN];
    time_t                        exp, now, ttl;
    ngx_int_t                     rc;
    ngx_str_t                     token, cached, payload, desc;
    ngx_uint_t                    state, jwt;
    const char                   *err;
    ngx_table_elt_t              *h;
    ngx_http_oauth2_ctx_t        *ctx;
    ngx_http_oauth2_main_conf_t  *omcf;

    exp = 0;

    ctx = ngx_http_oauth2_get_ctx(r, 1);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* an internal redirect into another location of the same provider */

    if (ctx->bearer && ctx->session_valid && ctx->provider == p) {
        return ngx_http_oauth2_bearer_require(r, p, ctx);
    }

    h = r->headers_in.authorization;

    rc = (h != NULL)
         ? ngx_http_oauth2_authz_parse(h->value.data, h->value.len, &token)
         : NGX_DECLINED;

    if (rc == NGX_DECLINED) {
        if (fallback) {
            return NGX_DECLINED;
        }

        return ngx_http_oauth2_bearer_refuse(r, p,
                                             NGX_HTTP_OAUTH2_ERR_NO_TOKEN,
                                             NULL, NULL);
    }

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "oauth2 provider \"%V\": malformed Authorization "
                      "header", &p->name);
        return ngx_http_oauth2_bearer_refuse(r, p,
                                  NGX_HTTP_OAUTH2_ERR_BAD_REQUEST,
                                  "malformed Bearer credentials", NULL);
    }

    omcf = ngx_http_get_module_main_conf(r, ngx_http_oauth2_module);

    if (ngx_http_oauth2_shm_key(NGX_HTTP_OAUTH2_SHM_BEARER, &p->name, &token,
                                key)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (!ctx->introspected
        && ngx_http_oauth2_bearer_known(r, p, ctx, key, &token))
    {
        return ngx_http_oauth2_bearer_require(r, p, ctx);
    }

    /* this request's introspection call ended */

    if (ctx->introspected) {
        rc = ngx_http_oauth2_introspect_result(r, p, &payload, &exp, &err);

        if (rc == NGX_ERROR) {
            ngx_http_oauth2_shm_refresh_set(omcf->zone, key,
                                            NGX_HTTP_OAUTH2_SHM_NONE, NULL, 0);
            return ngx_http_oauth2_fail(r, NGX_HTTP_OAUTH2_ERR_FAILED, NULL);
        }

        goto checked;
    }

    /* a JWS is checked here (unless "bearer_validation introspection"),
     * anything else asked of the provider, which needs its metadata */

    jwt = (p->bearer_validation == NGX_HTTP_OAUTH2_BEARER_JWT
           || (p->bearer_validation == NGX_HTTP_OAUTH2_BEARER_AUTO
               && ngx_http_oauth2_bearer_is_jws(&token)));

    if (!jwt) {
        rc = ngx_http_oauth2_park_provider(r, p,
                                           NGX_HTTP_OAUTH2_NEED_METADATA);

        if (rc == NGX_AGAIN) {
            return NGX_AGAIN;
        }

        if (rc != NGX_OK) {
            return ngx_http_oauth2_fail(r, NGX_HTTP_OAUTH2_ERR_UNAVAILABLE,
                                        NULL);
        }
    }

    state = ngx_http_oauth2_shm_refresh_get(omcf->zone, key,
                                            NGX_HTTP_OAUTH2_BEARER_RUNNING_TTL,
                                            r->pool, &cached);

    if (state == NGX_HTTP_OAUTH2_SHM_DONE && cached.len > 1) {

        if (cached.data[0] == '{') {
            ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "oauth2: bearer token known valid");

            rc = ngx_http_oauth2_bearer_session(r, p, ctx, &token, &cached);

            if (rc != NGX_OK) {
                return rc;
            }

            now = ngx_time();
            ttl = ngx_min(p->bearer_cache_time,
                          NGX_HTTP_OAUTH2_BEARER_SHM_TTL);

            if (ctx->session.expires && ctx->session.expires < now + ttl) {
                ttl = ctx->session.expires - now;
            }

            if (ttl > 0) {
                ngx_http_oauth2_bearer_keep(p, ctx, key, now + ttl);
            }

            return ngx_http_oauth2_bearer_require(r, p, ctx);
        }

        /* "!" and the description of the refusal */

        desc.data = ngx_pnalloc(r->pool, cached.len);
        if (desc.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_cpystrn(desc.data, cached.data + 1, cached.len);

        return ngx_http_oauth2_bearer_refuse(r, p,
                                             NGX_HTTP_OAUTH2_ERR_INVALID_TOKEN,
                                             (char *) desc.data, NULL);
    }

    if (!jwt) {

        if (state == NGX_HTTP_OAUTH2_SHM_RUNNING) {
            /* another request, maybe of another worker, asks */
            return ngx_http_oauth2_introspect_wait(r);
        }

        rc = ngx_http_oauth2_introspect_start(r, p, &token, key);

        if (rc == NGX_AGAIN) {
            return NGX_AGAIN;
        }

        ngx_http_oauth2_shm_refresh_set(omcf->zone, key,
                                        NGX_HTTP_OAUTH2_SHM_NONE, NULL, 0);
        return ngx_http_oauth2_fail(r, NGX_HTTP_OAUTH2_ERR_UNAVAILABLE, NULL);
    }

    rc = ngx_http_oauth2_bearer_jwt(r, p, ctx, &token, &payload, &exp, &err);

    if (rc == NGX_AGAIN) {
        return NGX_AGAIN;
    }

    if (rc == NGX_ERROR) {
        ngx_http_oauth2_shm_refresh_set(omcf->zone, key,
                                        NGX_HTTP_OAUTH2_SHM_NONE, NULL, 0);
        return ngx_http_oauth2_fail(r, NGX_HTTP_OAUTH2_ERR_UNAVAILABLE, NULL);
    }

checked:

    ngx_http_oauth2_metrics_count(p, (rc == NGX_DECLINED)
                                     ? NGX_HTTP_OAUTH2_M_BEARER_INVALID
                                     : NGX_HTTP_OAUTH2_M_BEARER_VALID);

    if (rc == NGX_DECLINED) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "oauth2 provider \"%V\": bearer token refused: %s",
                      &p->name, err);

        cached.len = 1 + ngx_strlen(err);
        cached.data = ngx_pnalloc(r->pool, cached.len);
        if (cached.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        cached.data[0] = '!';
        ngx_memcpy(cached.data + 1, err, cached.len - 1);

        ngx_http_oauth2_shm_refresh_set(omcf->zone, key,
                                        NGX_HTTP_OAUTH2_SHM_DONE, &cached,
                                        NGX_HTTP_OAUTH2_BEARER_REFUSED_TTL);

        return ngx_http_oauth2_bearer_refuse(r, p,
                                             NGX_HTTP_OAUTH2_ERR_INVALID_TOKEN,
                                             err, NULL);
    }

    /* valid: remembered until its exp, at most bearer_cache_time */

    now = ngx_time();
    ttl = exp ? exp - now : p->bearer_cache_time;

    if (ttl > p->bearer_cache_time) {
        ttl = p->bearer_cache_time;
    }

    if (ttl > 0 && payload.len && payload.data[0] == '{') {
        ngx_http_oauth2_shm_refresh_set(omcf->zone, key,
                                        NGX_HTTP_OAUTH2_SHM_DONE, &payload,
                                        ttl);

    } else {
        ngx_http_oauth2_shm_refresh_set(omcf->zone, key,
                                        NGX_HTTP_OAUTH2_SHM_NONE, NULL, 0);
    }

    rc = ngx_http_oauth2_bearer_session(r, p, ctx, &token, &payload);

    if (rc != NGX_OK) {
        return rc;
    }

    if (ttl > 0) {
        ngx_http_oauth2_bearer_keep(p, ctx, key, now + ttl);
    }

    return ngx_http_oauth2_bearer_require(r, p, ctx);
}


/* the worker's session of a token seen lately: 1 and ctx set, else 0 */

#define ngx_http_oauth2_bearer_rebase(str)                                    \
    (str).data = (u_char *) c + ((str).data - (u_char *) e)


static ngx_uint_t
ngx_http_oauth2_bearer_known(ngx_http_request_t *r,
    ngx_http_oauth2_provider_t *p, ngx_http_oauth2_ctx_t *ctx, u_char *key,
    ngx_str_t *token)
{
    ngx_uint_t                       i, slot;
    ngx_http_oauth2_session_t       *s;
    ngx_http_oauth2_main_conf_t     *omcf;
    ngx_http_oauth2_bearer_entry_t  *e, *c;

    slot = (key[0] | (key[1] << 8)) & (NGX_HTTP_OAUTH2_BEARER_SLOTS - 1);
    e = ngx_http_oauth2_bearer_slots[slot];

    if (e == NULL
        || e->provider != p
        || ngx_memcmp(e->key, key, NGX_HTTP_OAUTH2_SHM_KEY_LEN) != 0)
    {
        return 0;
    }

    if (e->until <= ngx_time()) {
        ngx_http_oauth2_bearer_slots[slot] = NULL;
        ngx_free(e);
        return 0;
    }

    c = ngx_palloc(r->pool, e->size);
    if (c == NULL) {
        return 0;
    }

    ngx_memcpy(c, e, e->size);

    /* the strings and claims of the copy point into the copy */

    c->claims = (ngx_http_oauth2_claim_t *)
                    ((u_char *) c + ((u_char *) e->claims - (u_char *) e));

    ngx_http_oauth2_bearer_rebase(c->sub);
    ngx_http_oauth2_bearer_rebase(c->email);
    ngx_http_oauth2_bearer_rebase(c->scope);
    ngx_http_oauth2_bearer_rebase(c->client_id);

    for (i = 0; i < c->nclaims; i++) {
        ngx_http_oauth2_bearer_rebase(c->claims[i].name);
        ngx_http_oauth2_bearer_rebase(c->claims[i].value);
    }

    e = c;

    s = &ctx->session;
    ngx_memzero(s, sizeof(ngx_http_oauth2_session_t));

    s->sub = e->sub;
    s->email = e->email;
    s->expires = e->expires;
    s->access_expires = e->expires;

    s->claims.elts = e->claims;
    s->claims.nelts = e->nclaims;
    s->claims.size = sizeof(ngx_http_oauth2_claim_t);
    s->claims.nalloc = e->nclaims;
    s->claims.pool = r->pool;

    omcf = ngx_http_get_module_main_conf(r, ngx_http_oauth2_module);

    if (omcf->store_access_token) {
        s->access_token = *token;
    }

    ctx->scope = e->scope;
    ctx->client_id = e->client_id;
    ctx->provider = p;
    ctx->bearer = 1;
    ctx->session_tried = 1;
    ctx->session_valid = 1;
    ctx->session_expired = 0;
    ctx->session_reseal = 0;

    return 1;
}


/* keeps ctx's session for the token of key in the worker, until until */

static void
ngx_http_oauth2_bearer_keep(ngx_http_oauth2_provider_t *p,
    ngx_http_oauth2_ctx_t *ctx, u_char *key, time_t until)
{
    u_char                          *d;
    size_t                           len;
    ngx_uint_t                       i, slot;
    ngx_http_oauth2_claim_t         *claim;
    ngx_http_oauth2_session_t       *s;
    ngx_http_oauth2_bearer_entry_t  *e;

    s = &ctx->session;
    claim = s->claims.elts;

    len = sizeof(ngx_http_oauth2_bearer_entry_t)
          + s->claims.nelts * sizeof(ngx_http_oauth2_claim_t)
          + s->sub.len + s->email.len + ctx->scope.len + ctx->client_id.len;

    for (i = 0; i < s->claims.nelts; i++) {
        len += claim[i].name.len + claim[i].value.len;
    }

    if (len > 16384) {
        return;
    }

    e = ngx_alloc(len, ngx_cycle->log);
    if (e == NULL) {
        return;
    }

    ngx_memcpy(e->key, key, NGX_HTTP_OAUTH2_SHM_KEY_LEN);
    e->size = len;
    e->provider = p;
    e->until = until;
    e->expires = s->expires;
    e->nclaims = s->claims.nelts;
    e->claims = (ngx_http_oauth2_claim_t *) (e + 1);

    d = (u_char *) (e->claims + e->nclaims);

#define ngx_http_oauth2_bearer_copy(dst, src)                                 \
    (dst).len = (src).len;                                                    \
    (dst).data = d;                                                           \
    if ((src).len) {                                                          \
        d = ngx_cpymem(d, (src).data, (src).len);                             \
    }

    ngx_http_oauth2_bearer_copy(e->sub, s->sub);
    ngx_http_oauth2_bearer_copy(e->email, s->email);
    ngx_http_oauth2_bearer_copy(e->scope, ctx->scope);
    ngx_http_oauth2_bearer_copy(e->client_id, ctx->client_id);

    for (i = 0; i < s->claims.nelts; i++) {
        e->claims[i].type = claim[i].type;
        ngx_http_oauth2_bearer_copy(e->claims[i].name, claim[i].name);
        ngx_http_oauth2_bearer_copy(e->claims[i].value, claim[i].value);
    }

#undef ngx_http_oauth2_bearer_copy

    slot = (key[0] | (key[1] << 8)) & (NGX_HTTP_OAUTH2_BEARER_SLOTS - 1);

    if (ngx_http_oauth2_bearer_slots[slot] != NULL) {
        ngx_free(ngx_http_oauth2_bearer_slots[slot]);
    }

    ngx_http_oauth2_bearer_slots[slot] = e;
}


/*
 * The algorithms a JWT access token may use: bearer_algs, or when it is
 * left to its default, the asymmetric ones among those the provider's
 * discovery advertises (id_token_signing_alg_values_supported; RFC 8414
 * has no list for access tokens), all asymmetric ones if it says none.
 */

static ngx_uint_t
ngx_http_oauth2_bearer_algs(ngx_http_oauth2_provider_t *p)
{
    ngx_uint_t                   algs;
    ngx_http_oauth2_metadata_t  *md;

    if (!p->bearer_algs_default) {
        return p->bearer_algs;
    }

    md = ngx_http_oauth2_provider_metadata(p);

    if (md == NULL) {
        return p->bearer_algs;
    }

    algs = md->signing_algs & NGX_HTTP_OAUTH2_ALG_ASYMMETRIC;

    return algs ? algs : p->bearer_algs;
}


/*
 * A JWT access token (RFC 9068, section 4): NGX_OK and its payload (the
 * JSON text) and exp, NGX_DECLINED and *err, NGX_AGAIN while the keys are
 * fetched, NGX_ERROR if the provider's keys cannot be had.
 */

static ngx_int_t
ngx_http_oauth2_bearer_jwt(ngx_http_request_t *r,
    ngx_http_oauth2_provider_t *p, ngx_http_oauth2_ctx_t *ctx,
    ngx_str_t *token, ngx_str_t *payload, time_t *exp, const char **err)
{
    u_char                 *dot1, *dot2, *last;
    ngx_int_t               rc;
    ngx_uint_t              algs;
    ngx_http_oauth2_jwt_t   jwt;

    ngx_str_null(payload);

    if (ngx_http_oauth2_jwt_parse(r->pool, token, &jwt, err) != NGX_OK) {
        return NGX_DECLINED;
    }

    if (ngx_http_oauth2_bearer_typ(&jwt) != NGX_OK) {
        *err = "token type is not at+jwt";
        return NGX_DECLINED;
    }

    rc = ngx_http_oauth2_park_provider(r, p, NGX_HTTP_OAUTH2_NEED_JWKS);

    if (rc == NGX_AGAIN) {
        return NGX_AGAIN;
    }

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    algs = ngx_http_oauth2_bearer_algs(p);

    rc = ngx_http_oauth2_jwt_verify(&jwt, ngx_http_oauth2_provider_keys(p),
                                    algs, NULL, err);

    if (rc == NGX_AGAIN && !ctx->keys_refetched) {

        /* a kid we do not know: the provider may have rotated its keys */

        ctx->keys_refetched = 1;

        if (ngx_http_oauth2_park_keys(r, p) == NGX_AGAIN) {
            return NGX_AGAIN;
        }

        rc = ngx_http_oauth2_jwt_verify(&jwt,
                                        ngx_http_oauth2_provider_keys(p),
                                        algs, NULL, err);
    }

    if (rc == NGX_AGAIN) {
        *err = "no key of the provider verifies the token";
        return NGX_DECLINED;
    }

    if (rc != NGX_OK) {
        return NGX_DECLINED;
    }

    if (ngx_http_oauth2_bearer_claims(p, jwt.claims, exp, err) != NGX_OK) {
        return NGX_DECLINED;
    }

    /* the payload's JSON text, for the cache and the session */

    last = token->data + token->len;
    dot1 = ngx_strlchr(token->data, last, '.');
    dot2 = ngx_strlchr(dot1 + 1, last, '.');

    if (ngx_http_oauth2_jwk_base64url(r->pool, dot1 + 1, dot2 - dot1 - 1,
                                      payload)
        != NGX_OK)
    {
        *err = "token is not valid base64url";
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/* three segments: a JWS in compact serialization, not an opaque token */

static ngx_uint_t
ngx_http_oauth2_bearer_is_jws(ngx_str_t *token)
{
    u_char      *p, *last;
    ngx_uint_t   dots;

    dots = 0;
    last = token->data + token->len;

    for (p = token->data; p < last; p++) {
        if (*p == '.') {
            dots++;
        }
    }

    return dots == 2;
}


/*
 * RFC 9068, section 2.1: "at+jwt"; "JWT" and none are what Keycloak,
 * Entra ID, Auth0 and Okta write.  Anything else (a logout token's
 * "logout+jwt", say) is not an access token.
 */

static ngx_int_t
ngx_http_oauth2_bearer_typ(ngx_http_oauth2_jwt_t *jwt)
{
    ngx_int_t  rc;
    ngx_str_t  typ;

    rc = ngx_http_oauth2_json_string(jwt->header, "typ", &typ);

    if (rc == NGX_DECLINED) {
        return NGX_OK;
    }

    if (rc != NGX_OK) {
        return NGX_DECLINED;
    }

    if (typ.len > sizeof("application/") - 1
        && ngx_strncasecmp(typ.data, (u_char *) "application/",
                           sizeof("application/") - 1) == 0)
    {
        typ.data += sizeof("application/") - 1;
        typ.len -= sizeof("application/") - 1;
    }

    if ((typ.len == 6
         && ngx_strncasecmp(typ.data, (u_char *) "at+jwt", 6) == 0)
        || (typ.len == 3
            && ngx_strncasecmp(typ.data, (u_char *) "jwt", 3) == 0))
    {
        return NGX_OK;
    }

    return NGX_DECLINED;
}


/* RFC 9068, section 4: iss, aud, exp, iat, nbf; never an ID token */

static ngx_int_t
ngx_http_oauth2_bearer_claims(ngx_http_oauth2_provider_t *p, yajl_val claims,
    time_t *exp, const char **err)
{
    size_t      i, len;
    time_t      now;
    int64_t     n;
    yajl_val    aud, a;
    ngx_int_t   rc;
    ngx_str_t   iss;
    ngx_uint_t  found;

    now = ngx_time();

    if (ngx_http_oauth2_json_string(claims, "iss", &iss) != NGX_OK
        || iss.len != p->issuer.len
        || ngx_memcmp(iss.data, p->issuer.data, iss.len) != 0)
    {
        *err = "token issuer mismatch";
        return NGX_DECLINED;
    }

    /* what only an ID token carries (OpenID Connect Core, 2 and 3.1.3.6) */

    if (ngx_http_oauth2_json_get(claims, "nonce") != NULL
        || ngx_http_oauth2_json_get(claims, "at_hash") != NULL
        || ngx_http_oauth2_json_get(claims, "c_hash") != NULL)
    {
        *err = "an ID token is not an access token";
        return NGX_DECLINED;
    }

    aud = ngx_http_oauth2_json_get(claims, "aud");
    found = 0;

    if (YAJL_IS_STRING(aud)) {
        len = ngx_strlen(aud->u.string);
        found = (len == p->bearer_audience.len
                 && ngx_memcmp(aud->u.string, p->bearer_audience.data, len)
                    == 0);

    } else if (YAJL_IS_ARRAY(aud)) {
        for (i = 0; i < aud->u.array.len; i++) {
            a = aud->u.array.values[i];

            if (!YAJL_IS_STRING(a)) {
                continue;
            }

            len = ngx_strlen(a->u.string);

            if (len == p->bearer_audience.len
                && ngx_memcmp(a->u.string, p->bearer_audience.data, len) == 0)
            {
                found = 1;
                break;
            }
        }
    }

    if (!found) {
        *err = "token audience mismatch";
        return NGX_DECLINED;
    }

    if (ngx_http_oauth2_json_seconds(claims, "exp", 0, &n) != NGX_OK) {
        *err = "token has no valid exp";
        return NGX_DECLINED;
    }

    if (!((int64_t) (now - p->leeway) < n)) {
        *err = "token expired";
        return NGX_DECLINED;
    }

    *exp = (time_t) n;

    rc = ngx_http_oauth2_json_seconds(claims, "iat", 1, &n);

    if (rc == NGX_ERROR || (rc == NGX_OK && n > (int64_t) (now + p->leeway)))
    {
        *err = "token issued in the future";
        return NGX_DECLINED;
    }

    rc = ngx_http_oauth2_json_seconds(claims, "nbf", 1, &n);

    if (rc == NGX_ERROR || (rc == NGX_OK && n > (int64_t) (now + p->leeway)))
    {
        *err = "token not yet valid";
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/*
 * The token's claims (payload, a JSON object checked before) become the
 * request's session: sub, the verified e-mail address, the claims the
 * configuration uses, scope ("scope", or "scp" as Entra ID and Okta
 * write it) and client ("client_id", else "azp").
 */

static ngx_int_t
ngx_http_oauth2_bearer_session(ngx_http_request_t *r,
    ngx_http_oauth2_provider_t *p, ngx_http_oauth2_ctx_t *ctx,
    ngx_str_t *token, ngx_str_t *payload)
{
    char                         *key;
    int64_t                       n;
    yajl_val                      claims, v;
    ngx_int_t                     rc;
    ngx_str_t                    *names;
    ngx_uint_t                    i;
    const char                   *err;
    ngx_http_oauth2_claim_t      *claim;
    ngx_http_oauth2_session_t    *s;
    ngx_http_oauth2_main_conf_t  *omcf;

    claims = ngx_http_oauth2_json_parse(r->pool, payload->data, payload->len,
                                        &err);

    if (claims == NULL || !YAJL_IS_OBJECT(claims)) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    omcf = ngx_http_get_module_main_conf(r, ngx_http_oauth2_module);

    s = &ctx->session;
    ngx_memzero(s, sizeof(ngx_http_oauth2_session_t));

    if (ngx_http_oauth2_json_string(claims, "sub", &s->sub) != NGX_OK
        || !ngx_http_oauth2_clean(s->sub.data, s->sub.len))
    {
        ngx_str_null(&s->sub);
    }

    if (ngx_http_oauth2_json_seconds(claims, "exp", 0, &n) == NGX_OK) {
        s->expires = (time_t) n;
        s->access_expires = (time_t) n;
    }

    v = ngx_http_oauth2_json_get(claims, "email_verified");

    if (v == NULL || !YAJL_IS_TRUE(v)
        || ngx_http_oauth2_json_string(claims, "email", &s->email) != NGX_OK
        || !ngx_http_oauth2_clean(s->email.data, s->email.len))
    {
        ngx_str_null(&s->email);
    }

    if (ngx_http_oauth2_bearer_scope(r->pool, claims, &ctx->scope)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_oauth2_json_string(claims, "client_id", &ctx->client_id);

    if (rc != NGX_OK) {
        rc = ngx_http_oauth2_json_string(claims, "azp", &ctx->client_id);
    }

    if (rc != NGX_OK
        || !ngx_http_oauth2_clean(ctx->client_id.data, ctx->client_id.len))
    {
        ngx_str_null(&ctx->client_id);
    }

    if (ngx_array_init(&s->claims, r->pool,
                       omcf->claims.nelts ? omcf->claims.nelts : 1,
                       sizeof(ngx_http_oauth2_claim_t))
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    names = omcf->claims.elts;

    for (i = 0; i < omcf->claims.nelts; i++) {

        claim = ngx_array_push(&s->claims);
        if (claim == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        claim->name = names[i];

        /* "scope" is the scope the token grants, however it is written */

        if (names[i].len == 5 && ngx_strncmp(names[i].data, "scope", 5) == 0)
        {
            if (ctx->scope.len == 0) {
                s->claims.nelts--;
                continue;
            }

            claim->type = NGX_HTTP_OAUTH2_CLAIM_STRING;
            claim->value = ctx->scope;
            continue;
        }

        key = ngx_pnalloc(r->pool, names[i].len + 1);
        if (key == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_cpystrn((u_char *) key, names[i].data, names[i].len + 1);

        rc = ngx_http_oauth2_json_claim(r->pool,
                                        ngx_http_oauth2_json_get(claims, key),
                                        &claim->type, &claim->value, &err);

        if (rc == NGX_ERROR) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (rc != NGX_OK) {
            s->claims.nelts--;
        }
    }

    if (omcf->store_access_token) {
        s->access_token = *token;
    }

    ctx->provider = p;
    ctx->bearer = 1;
    ctx->session_tried = 1;
    ctx->session_valid = 1;
    ctx->session_expired = 0;
    ctx->session_reseal = 0;

    return NGX_OK;
}


/* the granted scope, space-separated: "scope", else "scp" (a string or an
 * array of strings); empty if none or if it holds a control byte */

static ngx_int_t
ngx_http_oauth2_bearer_scope(ngx_pool_t *pool, yajl_val claims,
    ngx_str_t *scope)
{
    u_char    *p;
    size_t     i, len;
    yajl_val   v, e;

    ngx_str_null(scope);

    v = ngx_http_oauth2_json_get(claims, "scope");

    if (v == NULL) {
        v = ngx_http_oauth2_json_get(claims, "scp");
    }

    if (YAJL_IS_STRING(v)) {
        scope->data = (u_char *) v->u.string;
        scope->len = ngx_strlen(v->u.string);

    } else if (YAJL_IS_ARRAY(v)) {
        len = 0;

        for (i = 0; i < v->u.array.len; i++) {
            e = v->u.array.values[i];

            if (!YAJL_IS_STRING(e)) {
                return NGX_OK;
            }

            len += ngx_strlen(e->u.string) + 1;
        }

        if (len == 0) {
            return NGX_OK;
        }

        p = ngx_pnalloc(pool, len);
        if (p == NULL) {
            return NGX_ERROR;
        }

        scope->data = p;

        for (i = 0; i < v->u.array.len; i++) {
            if (i > 0) {
                *p++ = ' ';
            }

            p = ngx_cpymem(p, v->u.array.values[i]->u.string,
                           ngx_strlen(v->u.array.values[i]->u.string));
        }

        scope->len = p - scope->data;
    }

    if (!ngx_http_oauth2_clean(scope->data, scope->len)) {
        ngx_str_null(scope);
    }

    return NGX_OK;
}


/* oauth2_require for an access token: 403 insufficient_scope naming the
 * scope the location requires */

static ngx_int_t
ngx_http_oauth2_bearer_require(ngx_http_request_t *r,
    ngx_http_oauth2_provider_t *p, ngx_http_oauth2_ctx_t *ctx)
{
    u_char                      *s;
    size_t                       len;
    ngx_str_t                    scope;
    ngx_uint_t                   i;
    ngx_http_oauth2_require_t   *rule;
    ngx_http_oauth2_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_oauth2_module);

    if (olcf->require == NULL
        || ngx_http_oauth2_session_require(r, olcf, ctx) == NGX_OK)
    {
        return NGX_OK;
    }

    rule = olcf->require->elts;
    len = 0;

    for (i = 0; i < olcf->require->nelts; i++) {
        if (rule[i].claim.len == 5
            && ngx_strncmp(rule[i].claim.data, "scope", 5) == 0)
        {
            len += rule[i].value.len + 1;
        }
    }

    ngx_str_null(&scope);

    if (len) {
        scope.data = ngx_pnalloc(r->pool, len);
        if (scope.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        s = scope.data;

        for (i = 0; i < olcf->require->nelts; i++) {
            if (rule[i].claim.len == 5
                && ngx_strncmp(rule[i].claim.data, "scope", 5) == 0)
            {
                if (s != scope.data) {
                    *s++ = ' ';
                }

                s = ngx_cpymem(s, rule[i].value.data, rule[i].value.len);
            }
        }

        scope.len = s - scope.data;
    }

    return ngx_http_oauth2_bearer_refuse(r, p, NGX_HTTP_OAUTH2_ERR_SCOPE,
                                         "the token lacks a required scope",
                                         &scope);
}
