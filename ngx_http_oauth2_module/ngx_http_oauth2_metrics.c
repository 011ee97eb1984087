
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * Metrics: a shared memory zone of its own, "oauth2_metrics", holding one
 * slot per worker (workers beyond the slots share one by their number;
 * every update is an atomic add, so sharing only costs contention).  A
 * slot is the worker's gauges followed by one block per provider: the
 * event counters, the calls by endpoint and outcome, a duration
 * histogram by endpoint, and when the worker last fetched the metadata
 * and the JWKS.  The zone keeps its counts over a reload when neither
 * its size nor the providers change (a signature in its header says so).
 * A scrape reads every slot without a lock: counts may be a few events
 * apart between families, never torn.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_module.h"
#include "ngx_http_oauth2_metrics.h"


#define NGX_HTTP_OAUTH2_M_ENDPOINTS  10
#define NGX_HTTP_OAUTH2_M_OUTCOMES   3
#define NGX_HTTP_OAUTH2_M_BUCKETS    11    /* + the count: +Inf */
#define NGX_HTTP_OAUTH2_M_MAX_SLOTS  64


/* a provider's block in a slot, in ngx_atomic_t words */
#define NGX_HTTP_OAUTH2_M_CALLS      NGX_HTTP_OAUTH2_M_COUNTERS
#define NGX_HTTP_OAUTH2_M_HIST                                               \
    (NGX_HTTP_OAUTH2_M_CALLS                                                 \
     + NGX_HTTP_OAUTH2_M_ENDPOINTS * NGX_HTTP_OAUTH2_M_OUTCOMES)
#define NGX_HTTP_OAUTH2_M_HIST_WORDS  (NGX_HTTP_OAUTH2_M_BUCKETS + 2)
#define NGX_HTTP_OAUTH2_M_FETCHED                                            \
    (NGX_HTTP_OAUTH2_M_HIST                                                  \
     + NGX_HTTP_OAUTH2_M_ENDPOINTS * NGX_HTTP_OAUTH2_M_HIST_WORDS)
#define NGX_HTTP_OAUTH2_M_PROVIDER_WORDS  (NGX_HTTP_OAUTH2_M_FETCHED + 2)

/* the worker's gauges, before the providers' blocks */
#define NGX_HTTP_OAUTH2_M_CACHE      0
#define NGX_HTTP_OAUTH2_M_WORKER_WORDS  1


typedef struct {
    uint32_t                    signature;
    ngx_uint_t                  slots;
    ngx_uint_t                  providers;
    ngx_atomic_t                words[1];
} ngx_http_oauth2_metrics_sh_t;


typedef struct {
    uint32_t                    signature;
    ngx_uint_t                  slots;
    ngx_uint_t                  providers;
    ngx_http_oauth2_metrics_sh_t  *sh;
} ngx_http_oauth2_metrics_ctx_t;


typedef struct {
    const char                 *name;
    const char                 *help;
    const char                 *label;
    ngx_uint_t                  first;
    ngx_uint_t                  n;
    const char                **values;
} ngx_http_oauth2_family_t;


static ngx_int_t ngx_http_oauth2_metrics_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_atomic_t *ngx_http_oauth2_metrics_slot(
    ngx_http_oauth2_metrics_ctx_t **ctxp);
static ngx_uint_t ngx_http_oauth2_metrics_words(ngx_uint_t providers);
static ngx_atomic_uint_t ngx_http_oauth2_metrics_sum(
    ngx_http_oauth2_metrics_ctx_t *ctx, ngx_uint_t word);
static u_char *ngx_http_oauth2_metrics_family(u_char *b, u_char *last,
    ngx_http_oauth2_metrics_ctx_t *ctx, ngx_array_t *providers,
    ngx_http_oauth2_family_t *f);
static u_char *ngx_http_oauth2_metrics_head(u_char *b, u_char *last,
    const char *name, const char *help, const char *type);


static ngx_str_t  ngx_http_oauth2_metrics_name =
    ngx_string("oauth2_metrics");


/* the names of fetches (ngx_http_oauth2_fetch_t's endpoint); the last
 * one takes any other */
static const char  *ngx_http_oauth2_endpoints[] = {
    "discovery", "jwks", "token", "refresh", "userinfo", "emails",
    "revocation", "par", "introspection", "other"
};


/* upper bounds of the duration buckets, in ms and as printed */
static ngx_msec_t  ngx_http_oauth2_bucket_ms[] = {
    5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000
};

static const char  *ngx_http_oauth2_bucket_le[] = {
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5",
    "10"
};


static const char  *ngx_http_oauth2_login_results[] = {
    "started", "completed"
};

static const char  *ngx_http_oauth2_session_reasons[] = {
    "expired", "idle", "tampered", "revoked", "require"
};

static const char  *ngx_http_oauth2_refresh_results[] = {
    "ok", "invalid_grant", "provider_failed"
};

static const char  *ngx_http_oauth2_backchannel_results[] = {
    "accepted", "refused"
};


static const char  *ngx_http_oauth2_bearer_results[] = {
    "valid", "invalid"
};

static const char  *ngx_http_oauth2_bearer_reasons[] = {
    "no_token", "invalid_token", "insufficient_scope", "invalid_request"
};


static ngx_http_oauth2_family_t  ngx_http_oauth2_families[] = {
    { "nginx_oauth2_logins_total",
      "Logins by result (failed ones by reason in "
      "nginx_oauth2_login_failures_total).",
      "result", NGX_HTTP_OAUTH2_M_LOGIN_STARTED, 2,
      ngx_http_oauth2_login_results },
    { "nginx_oauth2_sessions_refused_total",
      "Session cookies refused, by reason.",
      "reason", NGX_HTTP_OAUTH2_M_SESSION_EXPIRED, 5,
      ngx_http_oauth2_session_reasons },
    { "nginx_oauth2_refreshes_total",
      "Token refreshes by result.",
      "result", NGX_HTTP_OAUTH2_M_REFRESH_OK, 3,
      ngx_http_oauth2_refresh_results },
    { "nginx_oauth2_logouts_total",
      "RP-initiated logouts.",
      NULL, NGX_HTTP_OAUTH2_M_LOGOUT, 1, NULL },
    { "nginx_oauth2_backchannel_logouts_total",
      "Back-channel logout tokens by result.",
      "result", NGX_HTTP_OAUTH2_M_BACKCHANNEL_OK, 2,
      ngx_http_oauth2_backchannel_results },
    { "nginx_oauth2_bearer_validations_total",
      "Bearer tokens validated (signature or introspection; cached ones "
      "are not counted again), by result.",
      "result", NGX_HTTP_OAUTH2_M_BEARER_VALID, 2,
      ngx_http_oauth2_bearer_results },
    { "nginx_oauth2_bearer_refused_total",
      "API requests refused (RFC 6750), by error.",
      "reason", NGX_HTTP_OAUTH2_M_BEARER_NO_TOKEN, 4,
      ngx_http_oauth2_bearer_reasons },
};


ngx_int_t
ngx_http_oauth2_metrics_add(ngx_conf_t *cf,
    ngx_http_oauth2_main_conf_t *omcf)
{
    size_t                          size;
    uint32_t                        crc;
    ngx_uint_t                      i, slots;
    ngx_core_conf_t                *ccf;
    ngx_http_oauth2_provider_t    **pp;
    ngx_http_oauth2_metrics_ctx_t  *ctx;

    ccf = (ngx_core_conf_t *) ngx_get_conf(cf->cycle->conf_ctx,
                                           ngx_core_module);

    /* worker_processes may come after the http block: then the number
     * of CPUs, which "auto" would take */

    slots = (ccf->worker_processes == NGX_CONF_UNSET)
            ? (ngx_uint_t) ngx_ncpu : (ngx_uint_t) ccf->worker_processes;

    slots = ngx_max(slots, 1);
    slots = ngx_min(slots, NGX_HTTP_OAUTH2_M_MAX_SLOTS);

    ctx = ngx_pcalloc(cf->pool, sizeof(ngx_http_oauth2_metrics_ctx_t));
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    ctx->slots = slots;
    ctx->providers = omcf->providers.nelts;

    /* the layout: the same signature means the same counters */

    ngx_crc32_init(crc);
    ngx_crc32_update(&crc, (u_char *) &slots, sizeof(ngx_uint_t));
    i = NGX_HTTP_OAUTH2_M_PROVIDER_WORDS;
    ngx_crc32_update(&crc, (u_char *) &i, sizeof(ngx_uint_t));

    pp = omcf->providers.elts;

    for (i = 0; i < omcf->providers.nelts; i++) {
        ngx_crc32_update(&crc, pp[i]->name.data, pp[i]->name.len);
        ngx_crc32_update(&crc, (u_char *) "", 1);
    }

    ngx_crc32_final(crc);
    ctx->signature = crc;

    size = sizeof(ngx_http_oauth2_metrics_sh_t)
           + slots * ngx_http_oauth2_metrics_words(ctx->providers)
             * sizeof(ngx_atomic_t);

    /* the slab pool's own pages */
    size = ngx_align(size, ngx_pagesize) + 8 * ngx_pagesize;

    omcf->metrics = ngx_shared_memory_add(cf, &ngx_http_oauth2_metrics_name,
                                          size, &ngx_http_oauth2_module);
    if (omcf->metrics == NULL) {
        return NGX_ERROR;
    }

    if (omcf->metrics->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "the shared memory zone \"%V\" is already in use",
                           &ngx_http_oauth2_metrics_name);
        return NGX_ERROR;
    }

    omcf->metrics->init = ngx_http_oauth2_metrics_init_zone;
    omcf->metrics->data = ctx;

    return NGX_OK;
}


static ngx_uint_t
ngx_http_oauth2_metrics_words(ngx_uint_t providers)
{
    return NGX_HTTP_OAUTH2_M_WORKER_WORDS
           + providers * NGX_HTTP_OAUTH2_M_PROVIDER_WORDS;
}


static ngx_int_t
ngx_http_oauth2_metrics_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_oauth2_metrics_ctx_t  *octx = data;

    size_t                          size;
    ngx_slab_pool_t                *shpool;
    ngx_http_oauth2_metrics_ctx_t  *ctx;

    ctx = shm_zone->data;
    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (octx && octx->sh && octx->sh->signature == ctx->signature) {
        /* a reload that changed nothing counted: keep the counts */
        ctx->sh = octx->sh;
        return NGX_OK;
    }

    if (shm_zone->shm.exists && shpool->data) {
        ctx->sh = shpool->data;
        return NGX_OK;
    }

    size = sizeof(ngx_http_oauth2_metrics_sh_t)
           + ctx->slots * ngx_http_oauth2_metrics_words(ctx->providers)
             * sizeof(ngx_atomic_t);

    if (octx && octx->sh) {
        /* same size, other counters: start again */
        ngx_slab_free(shpool, octx->sh);
    }

    ctx->sh = ngx_slab_calloc(shpool, size);
    if (ctx->sh == NULL) {
        return NGX_ERROR;
    }

    shpool->data = ctx->sh;

    ctx->sh->signature = ctx->signature;
    ctx->sh->slots = ctx->slots;
    ctx->sh->providers = ctx->providers;

    return NGX_OK;
}


/* this worker's slot, NULL outside a worker or without the zone */

static ngx_atomic_t *
ngx_http_oauth2_metrics_slot(ngx_http_oauth2_metrics_ctx_t **ctxp)
{
    ngx_http_oauth2_main_conf_t    *omcf;
    ngx_http_oauth2_metrics_ctx_t  *ctx;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NULL;
    }

    omcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_oauth2_module);

    if (omcf == NULL || omcf->metrics == NULL) {
        return NULL;
    }

    ctx = omcf->metrics->data;

    if (ctx->sh == NULL) {
        return NULL;
    }

    if (ctxp) {
        *ctxp = ctx;
    }

    return ctx->sh->words + (ngx_worker % ctx->slots)
                            * ngx_http_oauth2_metrics_words(ctx->providers);
}


void
ngx_http_oauth2_metrics_init_process(ngx_cycle_t *cycle)
{
    ngx_atomic_t  *slot;

    slot = ngx_http_oauth2_metrics_slot(NULL);

    if (slot) {
        slot[NGX_HTTP_OAUTH2_M_CACHE] = 0;
    }
}


void
ngx_http_oauth2_metrics_count(ngx_http_oauth2_provider_t *p,
    ngx_uint_t counter)
{
    ngx_atomic_t                   *slot;
    ngx_http_oauth2_metrics_ctx_t  *ctx;

    slot = ngx_http_oauth2_metrics_slot(&ctx);

    if (slot == NULL || p->index >= ctx->providers
        || counter >= NGX_HTTP_OAUTH2_M_COUNTERS)
    {
        return;
    }

    slot += NGX_HTTP_OAUTH2_M_WORKER_WORDS
            + p->index * NGX_HTTP_OAUTH2_M_PROVIDER_WORDS;

    (void) ngx_atomic_fetch_add(&slot[counter], 1);
}


void
ngx_http_oauth2_metrics_call(ngx_str_t *provider, const char *endpoint,
    ngx_uint_t outcome, ngx_msec_t elapsed)
{
    ngx_uint_t                      i, e, b;
    ngx_atomic_t                   *slot, *hist;
    ngx_http_oauth2_provider_t    **pp;
    ngx_http_oauth2_main_conf_t    *omcf;
    ngx_http_oauth2_metrics_ctx_t  *ctx;

    slot = ngx_http_oauth2_metrics_slot(&ctx);

    if (slot == NULL || outcome >= NGX_HTTP_OAUTH2_M_OUTCOMES) {
        return;
    }

    omcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_oauth2_module);
    pp = omcf->providers.elts;

    for (i = 0; i < omcf->providers.nelts && i < ctx->providers; i++) {
        if (pp[i]->name.len == provider->len
            && ngx_strncmp(pp[i]->name.data, provider->data, provider->len)
               == 0)
        {
            break;
        }
    }

    if (i == omcf->providers.nelts || i == ctx->providers) {
        return;
    }

    for (e = 0; e < NGX_HTTP_OAUTH2_M_ENDPOINTS - 1; e++) {
        if (endpoint && ngx_strcmp(endpoint, ngx_http_oauth2_endpoints[e])
                        == 0)
        {
            break;
        }
    }

    slot += NGX_HTTP_OAUTH2_M_WORKER_WORDS
            + i * NGX_HTTP_OAUTH2_M_PROVIDER_WORDS;

    (void) ngx_atomic_fetch_add(&slot[NGX_HTTP_OAUTH2_M_CALLS
                                      + e * NGX_HTTP_OAUTH2_M_OUTCOMES
                                      + outcome], 1);

    hist = slot + NGX_HTTP_OAUTH2_M_HIST + e * NGX_HTTP_OAUTH2_M_HIST_WORDS;

    for (b = 0; b < NGX_HTTP_OAUTH2_M_BUCKETS; b++) {
        if (elapsed <= ngx_http_oauth2_bucket_ms[b]) {
            (void) ngx_atomic_fetch_add(&hist[b], 1);
            break;
        }
    }

    /* the count, then the sum in ms */
    (void) ngx_atomic_fetch_add(&hist[NGX_HTTP_OAUTH2_M_BUCKETS], 1);
    (void) ngx_atomic_fetch_add(&hist[NGX_HTTP_OAUTH2_M_BUCKETS + 1],
                                elapsed);
}


void
ngx_http_oauth2_metrics_fetched(ngx_http_oauth2_provider_t *p,
    ngx_uint_t jwks)
{
    ngx_atomic_t                   *slot;
    ngx_http_oauth2_metrics_ctx_t  *ctx;

    slot = ngx_http_oauth2_metrics_slot(&ctx);

    if (slot == NULL || p->index >= ctx->providers) {
        return;
    }

    slot += NGX_HTTP_OAUTH2_M_WORKER_WORDS
            + p->index * NGX_HTTP_OAUTH2_M_PROVIDER_WORDS;

    slot[NGX_HTTP_OAUTH2_M_FETCHED + (jwks ? 1 : 0)] = ngx_time();
}


void
ngx_http_oauth2_metrics_cache(ngx_uint_t entries)
{
    ngx_atomic_t  *slot;

    slot = ngx_http_oauth2_metrics_slot(NULL);

    if (slot) {
        slot[NGX_HTTP_OAUTH2_M_CACHE] = entries;
    }
}


/* a word summed over the slots */

static ngx_atomic_uint_t
ngx_http_oauth2_metrics_sum(ngx_http_oauth2_metrics_ctx_t *ctx,
    ngx_uint_t word)
{
    ngx_uint_t          s, words;
    ngx_atomic_uint_t   sum;

    words = ngx_http_oauth2_metrics_words(ctx->providers);
    sum = 0;

    for (s = 0; s < ctx->slots; s++) {
        sum += ctx->sh->words[s * words + word];
    }

    return sum;
}


ngx_buf_t *
ngx_http_oauth2_metrics_text(ngx_pool_t *pool,
    ngx_http_oauth2_main_conf_t *omcf, ngx_str_t *reasons,
    ngx_uint_t nreasons, size_t zone_used, size_t zone_size)
{
    u_char                         *p, *last;
    size_t                          size;
    time_t                          t, newest;
    ngx_buf_t                      *b;
    ngx_uint_t                      i, e, k, o, base, words, s, j;
    ngx_atomic_uint_t               n, cum;
    ngx_http_oauth2_provider_t    **pp;
    ngx_http_oauth2_metrics_ctx_t  *ctx;

    static const char  *outcomes[] = { "ok", "http_status", "error" };
    static const char  *fetched[] = {
        "nginx_oauth2_metadata_age_seconds", "nginx_oauth2_jwks_age_seconds"
    };

    if (omcf->metrics == NULL || omcf->metrics->data == NULL) {
        return NULL;
    }

    ctx = omcf->metrics->data;

    if (ctx->sh == NULL) {
        return NULL;
    }

    pp = omcf->providers.elts;

    /* a generous bound: every line is at most 256 bytes plus the name */

    size = 4096 + ctx->providers
                  * (NGX_HTTP_OAUTH2_M_COUNTERS
                     + NGX_HTTP_OAUTH2_M_ENDPOINTS
                       * (NGX_HTTP_OAUTH2_M_OUTCOMES
                          + NGX_HTTP_OAUTH2_M_HIST_WORDS) + 4)
                  * 256;

    for (i = 0; i < ctx->providers; i++) {
        size += (NGX_HTTP_OAUTH2_M_COUNTERS + NGX_HTTP_OAUTH2_M_ENDPOINTS
                 * (NGX_HTTP_OAUTH2_M_OUTCOMES + NGX_HTTP_OAUTH2_M_HIST_WORDS)
                 + 4) * pp[i]->name.len;
    }

    b = ngx_create_temp_buf(pool, size);
    if (b == NULL) {
        return NULL;
    }

    p = b->pos;
    last = b->end;

    for (k = 0; k < sizeof(ngx_http_oauth2_families)
                    / sizeof(ngx_http_oauth2_family_t); k++)
    {
        p = ngx_http_oauth2_metrics_family(p, last, ctx, &omcf->providers,
                                           &ngx_http_oauth2_families[k]);

        if (k == 0) {
            /* the failed logins: in all, then by the reason
             * $oauth2_error holds */

            for (i = 0; i < ctx->providers; i++) {
                base = NGX_HTTP_OAUTH2_M_WORKER_WORDS
                       + i * NGX_HTTP_OAUTH2_M_PROVIDER_WORDS;
                n = 0;

                for (j = 0; j < NGX_HTTP_OAUTH2_M_REASONS; j++) {
                    n += ngx_http_oauth2_metrics_sum(ctx,
                             base + NGX_HTTP_OAUTH2_M_LOGIN_FAILED + j);
                }

                p = ngx_slprintf(p, last,
                        "nginx_oauth2_logins_total"
                        "{provider=\"%V\",result=\"failed\"} %uA\n",
                        &pp[i]->name, n);
            }

            p = ngx_http_oauth2_metrics_head(p, last,
                    "nginx_oauth2_login_failures_total",
                    "Failed logins by reason ($oauth2_error).", "counter");

            for (i = 0; i < ctx->providers; i++) {
                for (j = 0; j < nreasons && j < NGX_HTTP_OAUTH2_M_REASONS;
                     j++)
                {
                    base = NGX_HTTP_OAUTH2_M_WORKER_WORDS
                           + i * NGX_HTTP_OAUTH2_M_PROVIDER_WORDS;
                    n = ngx_http_oauth2_metrics_sum(ctx,
                            base + NGX_HTTP_OAUTH2_M_LOGIN_FAILED + j);

                    p = ngx_slprintf(p, last,
                            "nginx_oauth2_login_failures_total"
                            "{provider=\"%V\",reason=\"%V\"} %uA\n",
                            &pp[i]->name, &reasons[j], n);
                }
            }
        }
    }

    /* calls to the providers */

    p = ngx_http_oauth2_metrics_head(p, last,
            "nginx_oauth2_provider_requests_total",
            "Requests to the providers by endpoint and outcome.",
            "counter");

    for (i = 0; i < ctx->providers; i++) {
        base = NGX_HTTP_OAUTH2_M_WORKER_WORDS
               + i * NGX_HTTP_OAUTH2_M_PROVIDER_WORDS;

        for (e = 0; e < NGX_HTTP_OAUTH2_M_ENDPOINTS; e++) {
            for (o = 0; o < NGX_HTTP_OAUTH2_M_OUTCOMES; o++) {
                n = ngx_http_oauth2_metrics_sum(ctx,
                        base + NGX_HTTP_OAUTH2_M_CALLS
                        + e * NGX_HTTP_OAUTH2_M_OUTCOMES + o);

                p = ngx_slprintf(p, last,
                        "nginx_oauth2_provider_requests_total"
                        "{provider=\"%V\",endpoint=\"%s\",outcome=\"%s\"}"
                        " %uA\n", &pp[i]->name,
                        ngx_http_oauth2_endpoints[e], outcomes[o], n);
            }
        }
    }

    p = ngx_http_oauth2_metrics_head(p, last,
            "nginx_oauth2_provider_request_duration_seconds",
            "Duration of the requests to the providers by endpoint.",
            "histogram");

    for (i = 0; i < ctx->providers; i++) {
        base = NGX_HTTP_OAUTH2_M_WORKER_WORDS
               + i * NGX_HTTP_OAUTH2_M_PROVIDER_WORDS;

        for (e = 0; e < NGX_HTTP_OAUTH2_M_ENDPOINTS; e++) {
            s = base + NGX_HTTP_OAUTH2_M_HIST
                + e * NGX_HTTP_OAUTH2_M_HIST_WORDS;
            cum = 0;

            for (j = 0; j < NGX_HTTP_OAUTH2_M_BUCKETS; j++) {
                cum += ngx_http_oauth2_metrics_sum(ctx, s + j);

                p = ngx_slprintf(p, last,
                        "nginx_oauth2_provider_request_duration_seconds_"
                        "bucket{provider=\"%V\",endpoint=\"%s\","
                        "le=\"%s\"} %uA\n", &pp[i]->name,
                        ngx_http_oauth2_endpoints[e],
                        ngx_http_oauth2_bucket_le[j], cum);
            }

            n = ngx_http_oauth2_metrics_sum(ctx,
                                            s + NGX_HTTP_OAUTH2_M_BUCKETS);

            p = ngx_slprintf(p, last,
                    "nginx_oauth2_provider_request_duration_seconds_bucket"
                    "{provider=\"%V\",endpoint=\"%s\",le=\"+Inf\"} %uA\n",
                    &pp[i]->name, ngx_http_oauth2_endpoints[e], n);

            cum = ngx_http_oauth2_metrics_sum(ctx,
                                          s + NGX_HTTP_OAUTH2_M_BUCKETS + 1);

            p = ngx_slprintf(p, last,
                    "nginx_oauth2_provider_request_duration_seconds_sum"
                    "{provider=\"%V\",endpoint=\"%s\"} %uA.%03uA\n",
                    &pp[i]->name, ngx_http_oauth2_endpoints[e],
                    cum / 1000, cum % 1000);

            p = ngx_slprintf(p, last,
                    "nginx_oauth2_provider_request_duration_seconds_count"
                    "{provider=\"%V\",endpoint=\"%s\"} %uA\n",
                    &pp[i]->name, ngx_http_oauth2_endpoints[e], n);
        }
    }

    /* the ages of each provider's newest metadata and JWKS */

    words = ngx_http_oauth2_metrics_words(ctx->providers);

    for (k = 0; k < 2; k++) {
        p = ngx_http_oauth2_metrics_head(p, last, fetched[k],
                k ? "Seconds since a worker last fetched the JWKS."
                  : "Seconds since a worker last fetched the metadata.",
                "gauge");

        for (i = 0; i < ctx->providers; i++) {
            newest = 0;

            for (s = 0; s < ctx->slots; s++) {
                t = (time_t) ctx->sh->words[s * words
                                 + NGX_HTTP_OAUTH2_M_WORKER_WORDS
                                 + i * NGX_HTTP_OAUTH2_M_PROVIDER_WORDS
                                 + NGX_HTTP_OAUTH2_M_FETCHED + k];
                newest = ngx_max(newest, t);
            }

            if (newest == 0) {
                continue;   /* never fetched: no sample */
            }

            t = ngx_time() - newest;

            p = ngx_slprintf(p, last, "%s{provider=\"%V\"} %T\n",
                             fetched[k], &pp[i]->name, t > 0 ? t : 0);
        }
    }

    p = ngx_http_oauth2_metrics_head(p, last,
            "nginx_oauth2_session_cache_entries",
            "Opened session cookies the workers keep.", "gauge");
    p = ngx_slprintf(p, last, "nginx_oauth2_session_cache_entries %uA\n",
                     ngx_http_oauth2_metrics_sum(ctx,
                                                 NGX_HTTP_OAUTH2_M_CACHE));

    p = ngx_http_oauth2_metrics_head(p, last,
            "nginx_oauth2_zone_used_bytes",
            "Bytes in use in the oauth2 shared zone.", "gauge");
    p = ngx_slprintf(p, last, "nginx_oauth2_zone_used_bytes %uz\n",
                     zone_used);

    p = ngx_http_oauth2_metrics_head(p, last,
            "nginx_oauth2_zone_size_bytes",
            "Size of the oauth2 shared zone (oauth2_zone_size).", "gauge");
    p = ngx_slprintf(p, last, "nginx_oauth2_zone_size_bytes %uz\n",
                     zone_size);

    b->last = p;

    return b;
}


static u_char *
ngx_http_oauth2_metrics_family(u_char *b, u_char *last,
    ngx_http_oauth2_metrics_ctx_t *ctx, ngx_array_t *providers,
    ngx_http_oauth2_family_t *f)
{
    ngx_uint_t                    i, j, base;
    ngx_http_oauth2_provider_t  **pp;

    b = ngx_http_oauth2_metrics_head(b, last, f->name, f->help, "counter");

    pp = providers->elts;

    for (i = 0; i < ctx->providers; i++) {
        base = NGX_HTTP_OAUTH2_M_WORKER_WORDS
               + i * NGX_HTTP_OAUTH2_M_PROVIDER_WORDS;

        for (j = 0; j < f->n; j++) {
            if (f->label) {
                b = ngx_slprintf(b, last, "%s{provider=\"%V\",%s=\"%s\"} "
                                 "%uA\n", f->name, &pp[i]->name, f->label,
                                 f->values[j],
                                 ngx_http_oauth2_metrics_sum(ctx,
                                                     base + f->first + j));
            } else {
                b = ngx_slprintf(b, last, "%s{provider=\"%V\"} %uA\n",
                                 f->name, &pp[i]->name,
                                 ngx_http_oauth2_metrics_sum(ctx,
                                                     base + f->first + j));
            }
        }
    }

    return b;
}


static u_char *
ngx_http_oauth2_metrics_head(u_char *b, u_char *last, const char *name,
    const char *help, const char *type)
{
    return ngx_slprintf(b, last, "# HELP %s %s\n# TYPE %s %s\n",
                        name, help, name, type);
}
