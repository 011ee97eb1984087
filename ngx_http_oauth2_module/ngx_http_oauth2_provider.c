
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * Each worker keeps, per provider, the metadata in force and the JWKS, and
 * at most one fetch in flight for each.  Whoever needs what is not there
 * yet puts a waiter on the cache's queue: a request its parking record's
 * (unlinked if the request goes away, woken by posting the request), a
 * refresh job its own.  Every waiter's handler is called when the fetch
 * ends, successful or not.  A failed fetch is not retried for a
 * few seconds, so a provider that is down costs one error line and no
 * storm of connections; expired metadata and keys stay in use while their
 * refetch runs, and after a failed refetch.
 *
 * A token with an unknown kid asks for a JWKS refetch at most once per
 * jwks_min_refresh: one asked sooner waits for the refetch that a timer
 * starts as soon as it is allowed, so a key rotated at the provider
 * seconds after the last fetch delays a login instead of failing it.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_module.h"
#include "ngx_http_oauth2_provider.h"
#include "ngx_http_oauth2_http.h"
#include "ngx_http_oauth2_json.h"
#include "ngx_http_oauth2_jwk.h"
#include "ngx_http_oauth2_jwt.h"
#include "ngx_http_oauth2_metrics.h"
#include "ngx_http_oauth2_url.h"


#define NGX_HTTP_OAUTH2_RETRY_DELAY  5


typedef struct {
    ngx_http_oauth2_provider_t     *provider;
    ngx_pool_t                     *pool;        /* the current data */
    ngx_pool_t                     *fetch_pool;  /* the fetch in flight */
    ngx_queue_t                     waiters;
    time_t                          expires;     /* 0: never had data */
    time_t                          fetched;     /* last fetch started */
    ngx_msec_t                      fetched_msec;
    ngx_event_t                     refetch;     /* a refetch put off */
    time_t                          failed;      /* last fetch failed */
    ngx_uint_t                      what;        /* NGX_HTTP_OAUTH2_NEED_* */
} ngx_http_oauth2_cache_t;


struct ngx_http_oauth2_provider_rt_s {
    ngx_http_oauth2_metadata_t      md;
    ngx_http_oauth2_cache_t         md_cache;
    ngx_array_t                    *keys;
    ngx_http_oauth2_cache_t         keys_cache;
};


static ngx_int_t ngx_http_oauth2_cache_ready(ngx_http_oauth2_cache_t *cache,
    ngx_uint_t force, ngx_http_oauth2_waiter_t *w, ngx_log_t *log);
static ngx_int_t ngx_http_oauth2_cache_fetch(ngx_http_oauth2_cache_t *cache,
    ngx_log_t *log);
static ngx_int_t ngx_http_oauth2_cache_wait(ngx_http_oauth2_cache_t *cache,
    ngx_http_oauth2_waiter_t *w);
static void ngx_http_oauth2_cache_done(ngx_http_oauth2_fetch_t *f);
static void ngx_http_oauth2_cache_wake(ngx_http_oauth2_cache_t *cache,
    ngx_int_t rc);
static ngx_msec_int_t ngx_http_oauth2_keys_refetch_in(
    ngx_http_oauth2_cache_t *cache);
static void ngx_http_oauth2_keys_refetch(ngx_event_t *ev);
static ngx_int_t ngx_http_oauth2_metadata_parse(ngx_http_oauth2_cache_t *cache,
    ngx_http_oauth2_fetch_t *f, ngx_pool_t *pool, const char **err);
static ngx_int_t ngx_http_oauth2_metadata_url(ngx_pool_t *pool,
    yajl_val doc, const char *name, ngx_str_t *configured, ngx_str_t *url);
static ngx_int_t ngx_http_oauth2_keys_parse(ngx_http_oauth2_cache_t *cache,
    ngx_http_oauth2_fetch_t *f, ngx_pool_t *pool, const char **err);
static u_char *ngx_http_oauth2_jwks_log_handler(ngx_log_t *log, u_char *buf,
    size_t len);


ngx_int_t
ngx_http_oauth2_provider_init(ngx_conf_t *cf, ngx_http_oauth2_provider_t *p)
{
    ngx_http_oauth2_provider_rt_t  *rt;

    rt = ngx_pcalloc(cf->pool, sizeof(ngx_http_oauth2_provider_rt_t));
    if (rt == NULL) {
        return NGX_ERROR;
    }

    rt->md.authorization_endpoint = p->authorization_endpoint;
    rt->md.token_endpoint = p->token_endpoint;
    rt->md.userinfo_endpoint = p->userinfo_endpoint;
    rt->md.jwks_uri = p->jwks_uri;
    rt->md.end_session_endpoint = p->end_session_endpoint;
    rt->md.revocation_endpoint = p->revocation_endpoint;
    rt->md.par_endpoint = p->par_endpoint;
    rt->md.introspection_endpoint = p->introspection_endpoint;

    rt->md_cache.provider = p;
    rt->md_cache.what = NGX_HTTP_OAUTH2_NEED_METADATA;
    ngx_queue_init(&rt->md_cache.waiters);

    rt->keys_cache.provider = p;
    rt->keys_cache.what = NGX_HTTP_OAUTH2_NEED_JWKS;
    ngx_queue_init(&rt->keys_cache.waiters);

    rt->keys_cache.refetch.handler = ngx_http_oauth2_keys_refetch;
    rt->keys_cache.refetch.data = &rt->keys_cache;
    rt->keys_cache.refetch.cancelable = 1;

    /* every endpoint a login needs is configured: no discovery, ever (the
     * optional ones are then only those configured) */

    if (p->issuer.len == 0
        || (p->authorization_endpoint.len && p->token_endpoint.len
            && (!p->oidc || p->jwks_uri.len)))
    {
        rt->md_cache.expires = NGX_MAX_TIME_T_VALUE;

        if (p->par == NGX_HTTP_OAUTH2_PAR_ON && p->par_endpoint.len == 0) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "oauth2 provider \"%V\" has \"pushed_"
                          "authorization_requests on\" and its endpoints "
                          "configured (no discovery): it needs \"pushed_"
                          "authorization_request_endpoint\" in %s:%ui",
                          &p->name, p->file, p->line);
            return NGX_ERROR;
        }
    }

    p->rt = rt;

    return NGX_OK;
}


/* a fetch to one of the provider's endpoints, with its settings */

ngx_http_oauth2_fetch_t *
ngx_http_oauth2_provider_fetch(ngx_pool_t *pool, ngx_log_t *log,
    ngx_http_oauth2_provider_t *p, const char *endpoint)
{
    ngx_http_oauth2_fetch_t  *f;

    f = ngx_http_oauth2_fetch_create(pool, log);
    if (f == NULL) {
        return NULL;
    }

    f->provider = p->name;
    f->endpoint = endpoint;
    f->connect_timeout = p->connect_timeout;
    f->timeout = p->timeout;
    f->max_size = p->max_response_size;
    f->ca_file = p->ssl_trusted_certificate;
    f->proxy = p->proxy;
    f->proxy_user = p->proxy_user;
    f->proxy_password = p->proxy_password;

    return f;
}


void
ngx_http_oauth2_provider_failed(ngx_http_oauth2_fetch_t *f, ngx_log_t *log,
    const char *cause, const char *more)
{
    ngx_uint_t   level;
    const char  *detail;

    if (f->rc != NGX_OK) {
        /* cut short by this worker's exit: no fault of the provider */
        level = (ngx_exiting || ngx_terminate) ? NGX_LOG_INFO : NGX_LOG_ERR;
        detail = (f->detail && *f->detail) ? f->detail : NULL;

        ngx_log_error(level, log, 0,
                      "oauth2 provider \"%V\": %s request to \"%V\"%s%V%s "
                      "failed: %s%s%s%s%s", &f->provider, f->endpoint,
                      &f->url, f->proxy.len ? " through proxy \"" : "",
                      &f->proxy, f->proxy.len ? "\"" : "",
                      f->error ? f->error : "unknown error", more,
                      detail ? " (" : "", detail ? detail : "",
                      detail ? ")" : "");
        return;
    }

    if (cause == NULL || f->status != 200) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "oauth2 provider \"%V\": %s request to \"%V\" "
                      "failed: HTTP status %ui%s", &f->provider, f->endpoint,
                      &f->url, f->status, more);
        return;
    }

    ngx_log_error(NGX_LOG_ERR, log, 0,
                  "oauth2 provider \"%V\": %s request to \"%V\" failed: "
                  "%s%s", &f->provider, f->endpoint, &f->url, cause, more);
}


ngx_http_oauth2_metadata_t *
ngx_http_oauth2_provider_metadata(ngx_http_oauth2_provider_t *p)
{
    return &p->rt->md;
}


ngx_array_t *
ngx_http_oauth2_provider_keys(ngx_http_oauth2_provider_t *p)
{
    return p->rt->keys;
}


ngx_int_t
ngx_http_oauth2_provider_wait(ngx_http_oauth2_provider_t *p, ngx_uint_t need,
    ngx_http_oauth2_waiter_t *w, ngx_log_t *log)
{
    ngx_int_t                       rc;
    ngx_http_oauth2_provider_rt_t  *rt;

    rt = p->rt;

    rc = ngx_http_oauth2_cache_ready(&rt->md_cache, 0, w, log);
    if (rc != NGX_OK) {
        return rc;
    }

    if (!(need & NGX_HTTP_OAUTH2_NEED_JWKS)) {
        return NGX_OK;
    }

    if (rt->md.jwks_uri.len == 0) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "oauth2 provider \"%V\": no jwks_uri, ID tokens "
                      "cannot be verified", &p->name);
        return NGX_ERROR;
    }

    return ngx_http_oauth2_cache_ready(&rt->keys_cache, 0, w, log);
}


ngx_int_t
ngx_http_oauth2_provider_wait_keys(ngx_http_oauth2_provider_t *p,
    ngx_http_oauth2_waiter_t *w, ngx_log_t *log)
{
    ngx_msec_int_t            left;
    ngx_http_oauth2_cache_t  *cache;

    cache = &p->rt->keys_cache;

    left = ngx_http_oauth2_keys_refetch_in(cache);

    if (cache->fetch_pool != NULL || left <= 0) {
        return ngx_http_oauth2_cache_ready(cache, 1, w, log);
    }

    /* fetched too recently: w waits for the refetch the timer starts */

    if (!cache->refetch.timer_set) {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, log, 0,
                       "oauth2 provider \"%V\": jwks refetch in %M ms",
                       &p->name, (ngx_msec_t) left);

        cache->refetch.log = ngx_cycle->log;
        ngx_add_timer(&cache->refetch, (ngx_msec_t) left);
    }

    return ngx_http_oauth2_cache_wait(cache, w);
}


/* how long until jwks_min_refresh allows the next JWKS fetch (<= 0: now) */

static ngx_msec_int_t
ngx_http_oauth2_keys_refetch_in(ngx_http_oauth2_cache_t *cache)
{
    ngx_msec_t  min;

    min = (ngx_msec_t) cache->provider->jwks_min_refresh * 1000;

    return (ngx_msec_int_t) (cache->fetched_msec + min - ngx_current_msec);
}


/* the refetch put off by jwks_min_refresh is allowed now */

static void
ngx_http_oauth2_keys_refetch(ngx_event_t *ev)
{
    ngx_http_oauth2_cache_t *cache = ev->data;

    ngx_msec_int_t  left;

    if (cache->fetch_pool != NULL || ngx_queue_empty(&cache->waiters)) {
        /* a fetch runs (its end wakes the waiters), or none waits */
        return;
    }

    /* a fetch since the timer was set (the keys expired) counts too */

    left = ngx_http_oauth2_keys_refetch_in(cache);

    if (left > 0) {
        ngx_add_timer(ev, (ngx_msec_t) left);
        return;
    }

    if (ngx_http_oauth2_cache_fetch(cache, ev->log) != NGX_OK) {
        ngx_http_oauth2_cache_wake(cache, NGX_ERROR);
    }
}


void
ngx_http_oauth2_provider_cancel(ngx_http_oauth2_waiter_t *w)
{
    /* not waiting: zeroed, or linked to itself since it last waited */

    if (w->queue.next != NULL && w->queue.next != &w->queue) {
        ngx_queue_remove(&w->queue);
        ngx_queue_init(&w->queue);
    }
}


/*
 * NGX_OK when the data is there (possibly stale, with a refetch started),
 * NGX_AGAIN when w waits, NGX_ERROR when it failed recently.
 */

static ngx_int_t
ngx_http_oauth2_cache_ready(ngx_http_oauth2_cache_t *cache, ngx_uint_t force,
    ngx_http_oauth2_waiter_t *w, ngx_log_t *log)
{
    time_t  now;

    now = ngx_time();

    if (!force && cache->expires > now) {
        return NGX_OK;
    }

    if (cache->fetch_pool) {
        if (cache->expires && !force) {
            return NGX_OK;
        }

        return ngx_http_oauth2_cache_wait(cache, w);
    }

    if (!force && cache->expires == 0 && cache->failed
        && now - cache->failed < NGX_HTTP_OAUTH2_RETRY_DELAY)
    {
        return NGX_ERROR;
    }

    if (cache->expires && !force
        && cache->failed >= cache->fetched
        && now - cache->failed < NGX_HTTP_OAUTH2_RETRY_DELAY)
    {
        /* the refetch failed a moment ago: keep serving what we have */
        return NGX_OK;
    }

    if (ngx_http_oauth2_cache_fetch(cache, log) != NGX_OK) {
        return cache->expires ? NGX_OK : NGX_ERROR;
    }

    if (cache->expires && !force) {
        return NGX_OK;
    }

    return ngx_http_oauth2_cache_wait(cache, w);
}


static ngx_int_t
ngx_http_oauth2_cache_fetch(ngx_http_oauth2_cache_t *cache, ngx_log_t *log)
{
    u_char                      *s, *t;
    ngx_pool_t                  *pool;
    ngx_http_oauth2_fetch_t     *f;
    ngx_http_oauth2_provider_t  *p;

    p = cache->provider;

    pool = ngx_create_pool(4096, ngx_cycle->log);
    if (pool == NULL) {
        return NGX_ERROR;
    }

    f = ngx_http_oauth2_provider_fetch(pool, ngx_cycle->log, p,
                                       cache->what
                                       == NGX_HTTP_OAUTH2_NEED_METADATA
                                       ? "discovery" : "jwks");
    if (f == NULL) {
        goto failed;
    }

    if (cache->what == NGX_HTTP_OAUTH2_NEED_METADATA) {
        f->url.len = p->issuer.len
                     + sizeof("/.well-known/openid-configuration") - 1;
        f->url.data = ngx_pnalloc(pool, f->url.len);
        if (f->url.data == NULL) {
            goto failed;
        }

        /* a multi-tenant issuer is discovered at its "common" tenant,
         * whose document names the template itself as its issuer */

        t = ngx_http_oauth2_issuer_template(&p->issuer);

        if (t != NULL) {
            s = ngx_cpymem(f->url.data, p->issuer.data, t - p->issuer.data);
            s = ngx_cpymem(s, "common", sizeof("common") - 1);
            t += sizeof(NGX_HTTP_OAUTH2_TENANT_ID) - 1;
            s = ngx_cpymem(s, t, p->issuer.data + p->issuer.len - t);

        } else {
            s = ngx_cpymem(f->url.data, p->issuer.data, p->issuer.len);
        }

        /* an issuer with a trailing slash must not give "//.well-known" */
        if (s[-1] == '/') {
            s--;
        }

        f->url.len = s - f->url.data
                     + sizeof("/.well-known/openid-configuration") - 1;

        ngx_memcpy(s, "/.well-known/openid-configuration",
                   sizeof("/.well-known/openid-configuration") - 1);

    } else {
        f->url = p->rt->md.jwks_uri;
    }

    f->handler = ngx_http_oauth2_cache_done;
    f->data = cache;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, log, 0,
                   "oauth2 provider \"%V\": fetching %s",
                   &p->name, f->endpoint);

    if (ngx_http_oauth2_fetch_start(f) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "oauth2 provider \"%V\": cannot start %s request",
                      &p->name, f->endpoint);
        goto failed;
    }

    cache->fetch_pool = pool;
    cache->fetched = ngx_time();
    cache->fetched_msec = ngx_current_msec;

    return NGX_OK;

failed:

    ngx_destroy_pool(pool);
    cache->failed = ngx_time();

    return NGX_ERROR;
}


static ngx_int_t
ngx_http_oauth2_cache_wait(ngx_http_oauth2_cache_t *cache,
    ngx_http_oauth2_waiter_t *w)
{
    /* one wait at a time: a waiter still queued elsewhere moves here */

    ngx_http_oauth2_provider_cancel(w);

    ngx_queue_insert_tail(&cache->waiters, &w->queue);

    return NGX_AGAIN;
}


static void
ngx_http_oauth2_cache_done(ngx_http_oauth2_fetch_t *f)
{
    ngx_http_oauth2_cache_t *cache = f->data;

    ngx_int_t                    rc;
    ngx_pool_t                  *pool;
    const char                  *err;
    ngx_http_oauth2_provider_t  *p;

    p = cache->provider;
    err = NULL;
    pool = NULL;
    rc = NGX_ERROR;

    if (f->rc != NGX_OK) {
        err = f->error;

    } else if (f->status != 200) {
        err = "unexpected HTTP status";

    } else {
        pool = ngx_create_pool(4096, ngx_cycle->log);

        if (pool == NULL) {
            err = "out of memory";

        } else if (cache->what == NGX_HTTP_OAUTH2_NEED_METADATA) {
            rc = ngx_http_oauth2_metadata_parse(cache, f, pool, &err);

        } else {
            rc = ngx_http_oauth2_keys_parse(cache, f, pool, &err);
        }
    }

    if (rc == NGX_OK) {
        if (cache->pool) {
            ngx_destroy_pool(cache->pool);
        }

        cache->pool = pool;
        cache->expires = ngx_time()
                         + (cache->what == NGX_HTTP_OAUTH2_NEED_METADATA
                            ? p->metadata_ttl : p->jwks_ttl);
        cache->failed = 0;

        ngx_http_oauth2_metrics_fetched(p, cache->what
                                           != NGX_HTTP_OAUTH2_NEED_METADATA);

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                       "oauth2 provider \"%V\": %s updated",
                       &p->name, f->endpoint);

    } else {
        if (pool) {
            ngx_destroy_pool(pool);
        }

        cache->failed = ngx_time();

        ngx_http_oauth2_provider_failed(f, ngx_cycle->log, err,
                                        cache->expires
                                        ? ", keeping cached data" : "");
    }

    pool = cache->fetch_pool;
    cache->fetch_pool = NULL;

    ngx_http_oauth2_cache_wake(cache, rc);

    ngx_destroy_pool(pool);
}


/*
 * The waiters of a fetch that ended (or could not start): one that waits
 * again (a new fetch) is not called twice; each is unlinked before its
 * handler runs, which may free it or cancel others.
 */

static void
ngx_http_oauth2_cache_wake(ngx_http_oauth2_cache_t *cache, ngx_int_t rc)
{
    ngx_queue_t                waiters, *q;
    ngx_http_oauth2_waiter_t  *w;

    ngx_queue_init(&waiters);

    if (!ngx_queue_empty(&cache->waiters)) {
        ngx_queue_add(&waiters, &cache->waiters);
        ngx_queue_init(&cache->waiters);
    }

    while (!ngx_queue_empty(&waiters)) {
        q = ngx_queue_head(&waiters);
        w = ngx_queue_data(q, ngx_http_oauth2_waiter_t, queue);

        ngx_queue_remove(q);
        ngx_queue_init(q);

        w->handler(w->data, rc);
    }
}


static ngx_int_t
ngx_http_oauth2_metadata_parse(ngx_http_oauth2_cache_t *cache,
    ngx_http_oauth2_fetch_t *f, ngx_pool_t *pool, const char **err)
{
    ngx_int_t                       rc;
    ngx_str_t                       issuer, name;
    ngx_uint_t                      i;
    yajl_val                        doc, v, a;
    ngx_http_oauth2_metadata_t      md;
    ngx_http_oauth2_provider_t     *p;

    p = cache->provider;

    doc = ngx_http_oauth2_json_parse(pool, f->response.data, f->response.len,
                                     err);
    if (doc == NULL) {
        return NGX_ERROR;
    }

    if (!YAJL_IS_OBJECT(doc)) {
        *err = "not a JSON object";
        return NGX_ERROR;
    }

    rc = ngx_http_oauth2_json_string(doc, "issuer", &issuer);

    if (rc != NGX_OK) {
        *err = "no \"issuer\" in the discovery document";
        return NGX_ERROR;
    }

    /* OpenID Connect Discovery 1.0, 4.3: exactly the configured issuer */

    if (issuer.len != p->issuer.len
        || ngx_strncmp(issuer.data, p->issuer.data, issuer.len) != 0)
    {
        *err = "the discovery document's \"issuer\" differs from the "
               "configured issuer";
        return NGX_ERROR;
    }

    if (ngx_http_oauth2_metadata_url(pool, doc, "authorization_endpoint",
                                     &p->authorization_endpoint,
                                     &md.authorization_endpoint)
        != NGX_OK
        || ngx_http_oauth2_metadata_url(pool, doc, "token_endpoint",
                                        &p->token_endpoint,
                                        &md.token_endpoint)
           != NGX_OK
        || ngx_http_oauth2_metadata_url(pool, doc, "userinfo_endpoint",
                                        &p->userinfo_endpoint,
                                        &md.userinfo_endpoint)
           != NGX_OK
        || ngx_http_oauth2_metadata_url(pool, doc, "jwks_uri",
                                        &p->jwks_uri, &md.jwks_uri)
           != NGX_OK
        || ngx_http_oauth2_metadata_url(pool, doc, "end_session_endpoint",
                                        &p->end_session_endpoint,
                                        &md.end_session_endpoint)
           != NGX_OK
        || ngx_http_oauth2_metadata_url(pool, doc, "revocation_endpoint",
                                        &p->revocation_endpoint,
                                        &md.revocation_endpoint)
           != NGX_OK
        || ngx_http_oauth2_metadata_url(pool, doc,
                                        "pushed_authorization_request_"
                                        "endpoint",
                                        &p->par_endpoint, &md.par_endpoint)
           != NGX_OK
        || ngx_http_oauth2_metadata_url(pool, doc, "introspection_endpoint",
                                        &p->introspection_endpoint,
                                        &md.introspection_endpoint)
           != NGX_OK)
    {
        *err = "an endpoint in the discovery document is not a valid "
               "https URL";
        return NGX_ERROR;
    }

    if (md.authorization_endpoint.len == 0 || md.token_endpoint.len == 0) {
        *err = "the discovery document lacks the authorization or token "
               "endpoint";
        return NGX_ERROR;
    }

    if (p->oidc && md.jwks_uri.len == 0) {
        *err = "the discovery document has no \"jwks_uri\"";
        return NGX_ERROR;
    }

    v = ngx_http_oauth2_json_get(doc,
                                 "authorization_response_iss_parameter_"
                                 "supported");
    md.iss_parameter = (v != NULL && YAJL_IS_TRUE(v));

    v = ngx_http_oauth2_json_get(doc,
                                 "require_pushed_authorization_requests");
    md.require_par = (v != NULL && YAJL_IS_TRUE(v));

    /* names it does not know are skipped, as algorithms it cannot check */

    v = ngx_http_oauth2_json_get(doc, "id_token_signing_alg_values_supported");
    md.signing_algs = 0;

    if (v != NULL && YAJL_IS_ARRAY(v)) {
        for (i = 0; i < v->u.array.len; i++) {
            a = v->u.array.values[i];

            if (!YAJL_IS_STRING(a)) {
                continue;
            }

            name.data = (u_char *) a->u.string;
            name.len = ngx_strlen(a->u.string);

            md.signing_algs |= ngx_http_oauth2_alg_bit(&name);
        }
    }

    p->rt->md = md;

    return NGX_OK;
}


/*
 * A discovered endpoint: the configured one wins; a discovered one must
 * be https (or http to a loopback address, as the configuration allows).
 */

static ngx_int_t
ngx_http_oauth2_metadata_url(ngx_pool_t *pool, yajl_val doc,
    const char *name, ngx_str_t *configured, ngx_str_t *url)
{
    u_char     *c;
    ngx_str_t   value;

    if (configured->len) {
        *url = *configured;
        return NGX_OK;
    }

    ngx_str_null(url);

    if (ngx_http_oauth2_json_string(doc, name, &value) != NGX_OK) {
        return NGX_OK;
    }

    if (!(value.len > 8
          && ngx_strncasecmp(value.data, (u_char *) "https://", 8) == 0)
        && !(value.len > 7
             && ngx_strncasecmp(value.data, (u_char *) "http://", 7) == 0
             && ngx_http_oauth2_url_is_loopback(&value)))
    {
        return NGX_ERROR;
    }

    for (c = value.data; c < value.data + value.len; c++) {
        if (*c <= ' ' || *c == 0x7f || *c == '"' || *c == '<' || *c == '>') {
            return NGX_ERROR;
        }
    }

    url->data = ngx_pnalloc(pool, value.len);
    if (url->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(url->data, value.data, value.len);
    url->len = value.len;

    return NGX_OK;
}


static ngx_int_t
ngx_http_oauth2_keys_parse(ngx_http_oauth2_cache_t *cache,
    ngx_http_oauth2_fetch_t *f, ngx_pool_t *pool, const char **err)
{
    ngx_log_t     log;
    ngx_array_t  *keys;

    /* the keys skipped are logged with the provider's name */

    log = *ngx_cycle->log;
    log.handler = ngx_http_oauth2_jwks_log_handler;
    log.data = &cache->provider->name;

    if (ngx_http_oauth2_jwks_parse(pool, &log, f->response.data,
                                   f->response.len, &keys, err)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (keys->nelts == 0) {
        *err = "the JWKS has no usable signature key";
        return NGX_ERROR;
    }

    cache->provider->rt->keys = keys;

    return NGX_OK;
}


static u_char *
ngx_http_oauth2_jwks_log_handler(ngx_log_t *log, u_char *buf, size_t len)
{
    return ngx_snprintf(buf, len, " while reading the JWKS of oauth2 "
                        "provider \"%V\"", (ngx_str_t *) log->data);
}


/* the process ends: fetches in flight and cached data go */

void
ngx_http_oauth2_provider_exit(ngx_http_oauth2_provider_t *p)
{
    ngx_http_oauth2_cache_t  *caches[2];
    ngx_uint_t                i;

    if (p->rt == NULL) {
        return;
    }

    caches[0] = &p->rt->md_cache;
    caches[1] = &p->rt->keys_cache;

    if (caches[1]->refetch.timer_set) {
        ngx_del_timer(&caches[1]->refetch);
    }

    for (i = 0; i < 2; i++) {
        if (caches[i]->fetch_pool) {
            ngx_destroy_pool(caches[i]->fetch_pool);
            caches[i]->fetch_pool = NULL;
        }

        if (caches[i]->pool) {
            ngx_destroy_pool(caches[i]->pool);
            caches[i]->pool = NULL;
        }

        caches[i]->expires = 0;
    }

    p->rt->keys = NULL;
}
