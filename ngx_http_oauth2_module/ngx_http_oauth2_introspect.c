
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * Opaque access tokens (RFC 7662): the introspection call, authenticated
 * as the provider's other calls (token.c), non-blocking (the request is
 * parked and woken when it ends), one per token at a time across the
 * workers (its entry in the shared zone is RUNNING meanwhile and others
 * look again every 25 ms), and its answer checked: active, exp, iss and
 * aud.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_module.h"
#include "ngx_http_oauth2_ctx.h"
#include "ngx_http_oauth2_json.h"
#include "ngx_http_oauth2_park.h"
#include "ngx_http_oauth2_provider.h"
#include "ngx_http_oauth2_shm.h"
#include "ngx_http_oauth2_token.h"
#include "ngx_http_oauth2_introspect.h"


#define NGX_HTTP_OAUTH2_INTROSPECT_POLL  25      /* ms */


/* what a request that calls, or waits for another's call, holds */
typedef struct {
    ngx_http_request_t             *request;
    ngx_event_t                     timer;
    ngx_shm_zone_t                 *zone;
    u_char                          key[NGX_HTTP_OAUTH2_SHM_KEY_LEN];
    ngx_http_oauth2_provider_t     *provider;
    unsigned                        owner:1;
    unsigned                        done:1;
    unsigned                        counted:1;  /* in introspections */
} ngx_http_oauth2_introspect_t;


static ngx_http_oauth2_introspect_t *ngx_http_oauth2_introspect_get(
    ngx_http_request_t *r);
static void ngx_http_oauth2_introspect_done(ngx_http_oauth2_fetch_t *f);
static void ngx_http_oauth2_introspect_poll(ngx_event_t *ev);
static void ngx_http_oauth2_introspect_cleanup(void *data);
static void ngx_http_oauth2_introspect_release(
    ngx_http_oauth2_introspect_t *in);
static ngx_int_t ngx_http_oauth2_introspect_aud(yajl_val aud,
    ngx_str_t *audience);


/* when this worker last said its introspection calls were at their limit */
static time_t  ngx_http_oauth2_introspect_busy_logged;


static ngx_http_oauth2_introspect_t *
ngx_http_oauth2_introspect_get(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t            *cln;
    ngx_http_oauth2_introspect_t  *in;

    for (cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_oauth2_introspect_cleanup) {
            in = cln->data;

            if (in->request == r) {
                return in;
            }
        }
    }

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_http_oauth2_introspect_t));
    if (cln == NULL) {
        return NULL;
    }

    in = cln->data;
    ngx_memzero(in, sizeof(ngx_http_oauth2_introspect_t));

    in->request = r;
    in->timer.handler = ngx_http_oauth2_introspect_poll;
    in->timer.data = in;
    in->timer.log = r->connection->log;

    cln->handler = ngx_http_oauth2_introspect_cleanup;

    return in;
}


ngx_int_t
ngx_http_oauth2_introspect_start(ngx_http_request_t *r,
    ngx_http_oauth2_provider_t *p, ngx_str_t *token, u_char *key)
{
    ngx_str_t                      hint;
    ngx_http_oauth2_ctx_t         *ctx;
    ngx_http_oauth2_param_t        params[3];
    ngx_http_oauth2_fetch_t       *f;
    ngx_http_oauth2_metadata_t    *md;
    ngx_http_oauth2_introspect_t  *in;
    ngx_http_oauth2_main_conf_t   *omcf;

    ctx = ngx_http_oauth2_get_ctx(r, 1);
    md = ngx_http_oauth2_provider_metadata(p);
    omcf = ngx_http_get_module_main_conf(r, ngx_http_oauth2_module);

    if (ctx == NULL || md == NULL) {
        return NGX_ERROR;
    }

    if (md->introspection_endpoint.len == 0) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oauth2 provider \"%V\": no introspection_endpoint, "
                      "opaque access tokens cannot be checked", &p->name);
        return NGX_ERROR;
    }

    /*
     * a flood of new opaque tokens makes a call each: the worker makes at
     * most introspection_concurrency at once, the others get 503
     */

    if (p->introspections >= p->introspection_concurrency) {

        if (ngx_http_oauth2_introspect_busy_logged != ngx_time()) {
            ngx_http_oauth2_introspect_busy_logged = ngx_time();

            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "oauth2 provider \"%V\": %ui introspection calls "
                          "running (introspection_concurrency), new opaque "
                          "tokens are answered 503", &p->name,
                          p->introspections);
        }

        return NGX_BUSY;
    }

    in = ngx_http_oauth2_introspect_get(r);
    if (in == NULL) {
        return NGX_ERROR;
    }

    in->zone = omcf->zone;
    ngx_memcpy(in->key, key, NGX_HTTP_OAUTH2_SHM_KEY_LEN);
    in->owner = 1;
    in->done = 0;

    f = ngx_http_oauth2_provider_fetch(r->pool, r->connection->log, p,
                                       "introspection");
    if (f == NULL) {
        return NGX_ERROR;
    }

    f->url = md->introspection_endpoint;
    f->handler = ngx_http_oauth2_introspect_done;
    f->data = in;

    ngx_str_set(&hint, "access_token");

    params[0].name = "token";
    params[0].value = token;
    params[1].name = "token_type_hint";
    params[1].value = &hint;
    params[2].name = NULL;

    if (ngx_http_oauth2_client_request(r->pool, p, params, f) != NGX_OK) {
        return NGX_ERROR;
    }

    ctx->fetch = f;
    ctx->introspected = 0;

    if (ngx_http_oauth2_fetch_start(f) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oauth2 provider \"%V\": cannot start the "
                      "introspection request", &p->name);
        return NGX_ERROR;
    }

    p->introspections++;
    in->provider = p;
    in->counted = 1;

    return NGX_AGAIN;
}


static void
ngx_http_oauth2_introspect_done(ngx_http_oauth2_fetch_t *f)
{
    ngx_http_oauth2_introspect_t *in = f->data;

    ngx_http_oauth2_ctx_t  *ctx;

    in->done = 1;

    ngx_http_oauth2_introspect_release(in);

    ctx = ngx_http_oauth2_get_ctx(in->request, 0);

    if (ctx != NULL) {
        ctx->introspected = 1;
    }

    ngx_http_oauth2_wake(in->request);
}


ngx_int_t
ngx_http_oauth2_introspect_result(ngx_http_request_t *r,
    ngx_http_oauth2_provider_t *p, ngx_str_t *claims, time_t *exp,
    const char **err)
{
    int64_t                   n;
    yajl_val                  doc, v;
    ngx_int_t                 rc;
    ngx_str_t                 s;
    const char               *perr;
    ngx_http_oauth2_ctx_t    *ctx;
    ngx_http_oauth2_fetch_t  *f;

    ctx = ngx_http_oauth2_get_ctx(r, 0);
    f = ctx->fetch;

    ctx->introspected = 0;
    ctx->fetch = NULL;
    *exp = 0;

    if (f->rc != NGX_OK || f->status != 200) {
        ngx_http_oauth2_provider_failed(f, r->connection->log, NULL, "");
        return NGX_ERROR;
    }

    doc = ngx_http_oauth2_json_parse(r->pool, f->response.data,
                                     f->response.len, &perr);

    if (doc == NULL || !YAJL_IS_OBJECT(doc)) {
        ngx_http_oauth2_provider_failed(f, r->connection->log,
                                        "the answer is not a JSON object",
                                        "");
        return NGX_ERROR;
    }

    v = ngx_http_oauth2_json_get(doc, "active");

    if (v == NULL || !YAJL_IS_TRUE(v)) {
        *err = "token is not active";
        return NGX_DECLINED;
    }

    rc = ngx_http_oauth2_json_seconds(doc, "exp", 0, &n);

    if (rc == NGX_ERROR) {
        *err = "token has an invalid exp";
        return NGX_DECLINED;
    }

    if (rc == NGX_OK) {
        if (!((int64_t) (ngx_time() - p->leeway) < n)) {
            *err = "token expired";
            return NGX_DECLINED;
        }

        *exp = (time_t) n;
    }

    rc = ngx_http_oauth2_json_string(doc, "iss", &s);

    if (rc == NGX_ERROR
        || (rc == NGX_OK
            && (s.len != p->issuer.len
                || ngx_memcmp(s.data, p->issuer.data, s.len) != 0)))
    {
        *err = "token issuer mismatch";
        return NGX_DECLINED;
    }

    v = ngx_http_oauth2_json_get(doc, "aud");

    if (v != NULL
        && ngx_http_oauth2_introspect_aud(v, &p->bearer_audience) != NGX_OK)
    {
        *err = "token audience mismatch";
        return NGX_DECLINED;
    }

    if (ngx_http_oauth2_json_string(doc, "token_type", &s) == NGX_OK
        && s.len == sizeof("refresh_token") - 1
        && ngx_strncasecmp(s.data, (u_char *) "refresh_token", s.len) == 0)
    {
        *err = "a refresh token is not an access token";
        return NGX_DECLINED;
    }

    /* the answer is the token's claims set (RFC 7662, 2.2) */

    *claims = f->response;

    while (claims->len && (claims->data[0] == ' '
                           || claims->data[0] == '\t'
                           || claims->data[0] == '\r'
                           || claims->data[0] == '\n'))
    {
        claims->data++;
        claims->len--;
    }

    return NGX_OK;
}


/* "aud" is the audience or an array holding it; absent is not checked */

static ngx_int_t
ngx_http_oauth2_introspect_aud(yajl_val aud, ngx_str_t *audience)
{
    size_t    i, len;
    yajl_val  a;

    if (YAJL_IS_STRING(aud)) {
        len = ngx_strlen(aud->u.string);

        return (len == audience->len
                && ngx_memcmp(aud->u.string, audience->data, len) == 0)
               ? NGX_OK : NGX_DECLINED;
    }

    if (!YAJL_IS_ARRAY(aud)) {
        return NGX_DECLINED;
    }

    for (i = 0; i < aud->u.array.len; i++) {
        a = aud->u.array.values[i];

        if (!YAJL_IS_STRING(a)) {
            continue;
        }

        len = ngx_strlen(a->u.string);

        if (len == audience->len
            && ngx_memcmp(a->u.string, audience->data, len) == 0)
        {
            return NGX_OK;
        }
    }

    return NGX_DECLINED;
}


ngx_int_t
ngx_http_oauth2_introspect_wait(ngx_http_request_t *r)
{
    ngx_http_oauth2_introspect_t  *in;

    in = ngx_http_oauth2_introspect_get(r);
    if (in == NULL) {
        return NGX_ERROR;
    }

    ngx_add_timer(&in->timer, NGX_HTTP_OAUTH2_INTROSPECT_POLL);

    return NGX_AGAIN;
}


static void
ngx_http_oauth2_introspect_poll(ngx_event_t *ev)
{
    ngx_http_oauth2_introspect_t *in = ev->data;

    ngx_http_oauth2_wake(in->request);
}


/* the request ends: its timer goes, and a call it did not see to the end
 * leaves the token's entry to whoever asks next */

static void
ngx_http_oauth2_introspect_cleanup(void *data)
{
    ngx_http_oauth2_introspect_t *in = data;

    if (in->timer.timer_set) {
        ngx_del_timer(&in->timer);
    }

    if (in->owner && !in->done) {
        ngx_http_oauth2_shm_refresh_set(in->zone, in->key,
                                        NGX_HTTP_OAUTH2_SHM_NONE, NULL, 0);
    }

    ngx_http_oauth2_introspect_release(in);
}


static void
ngx_http_oauth2_introspect_release(ngx_http_oauth2_introspect_t *in)
{
    if (in->counted) {
        in->counted = 0;
        in->provider->introspections--;
    }
}
