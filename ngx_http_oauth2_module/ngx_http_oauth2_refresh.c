
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * Refreshing an expired session (RFC 6749, section 6; OpenID Connect Core
 * 1.0, section 12), once per refresh token across all the workers.
 *
 * Many requests may carry the same expired session at once (several tabs,
 * a burst of API calls), in several workers.  The first one to find no
 * entry for its refresh token in the shared zone creates one, "running",
 * and starts a job: the grant_type=refresh_token call, with its own pool,
 * so that it completes even if that request goes away.  Every request,
 * that one included, then waits: it looks at the zone every
 * NGX_HTTP_OAUTH2_REFRESH_POLL ms, and the requests of the job's own
 * worker are also woken at once when it ends.  The job validates the
 * answer, builds the new session, seals it and keeps the sealed value in
 * the zone for NGX_HTTP_OAUTH2_REFRESH_GRACE seconds; each request opens
 * it, sets it as its session cookie and passes.
 *
 * The result stays there on purpose: a request that still carries the
 * previous cookie during that time (sent before the new one arrived) gets
 * the same new session instead of calling the provider with a refresh
 * token that a provider rotating refresh tokens no longer accepts.  It
 * stays less long when its own session is due for a refresh sooner.
 *
 * Failures: invalid_grant (or an answer that fails validation) is kept as
 * long as a result, a provider fault (no answer, 5xx, bad JSON) for
 * NGX_HTTP_OAUTH2_REFRESH_RETRY seconds; the waiters get NGX_DECLINED (log
 * in again), except that after a provider fault a session whose tokens
 * have not really expired yet (it is only within refresh_margin) passes.
 * A sealed session larger than NGX_HTTP_OAUTH2_SHM_MAX_RESULT is handed
 * to the job's own worker only; the requests of other workers log in
 * again (with a rotating provider, refreshing again would fail anyway, or
 * worse, make the provider revoke the whole grant).
 *
 * A new ID token is validated as at login, without the nonce (OpenID
 * Connect Core 12.2), and must be about the same user.  When it names a
 * key the worker does not know, the job waits for the JWKS to be fetched
 * again (with its own waiter: no request needs to be there) and then
 * completes.  The requests are resumed by ngx_http_oauth2_wake(), which
 * posts them: the job never runs a request's phases.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_module.h"
#include "ngx_http_oauth2_metrics.h"
#include "ngx_http_oauth2_codec.h"
#include "ngx_http_oauth2_ctx.h"
#include "ngx_http_oauth2_http.h"
#include "ngx_http_oauth2_json.h"
#include "ngx_http_oauth2_jwt.h"
#include "ngx_http_oauth2_park.h"
#include "ngx_http_oauth2_provider.h"
#include "ngx_http_oauth2_refresh.h"
#include "ngx_http_oauth2_session.h"
#include "ngx_http_oauth2_seal.h"
#include "ngx_http_oauth2_shm.h"
#include "ngx_http_oauth2_token.h"


#define NGX_HTTP_OAUTH2_REFRESH_POLL       25      /* ms */
#define NGX_HTTP_OAUTH2_REFRESH_GRACE      60      /* s */
#define NGX_HTTP_OAUTH2_REFRESH_RETRY      5       /* s */

/* a job's outcome: the NGX_HTTP_OAUTH2_SHM_* states, or */
#define NGX_HTTP_OAUTH2_REFRESH_NEED_KEYS  100


typedef struct ngx_http_oauth2_refresh_job_s  ngx_http_oauth2_refresh_job_t;


/* a request refreshing its session; in the request's pool */
typedef struct {
    ngx_http_request_t             *request;
    ngx_shm_zone_t                 *zone;
    ngx_queue_t                     queue;      /* in the waiters */
    ngx_event_t                     timer;      /* the next look */
    u_char                          key[NGX_HTTP_OAUTH2_SHM_KEY_LEN];
    ngx_msec_t                      deadline;
    ngx_uint_t                      state;      /* given by a job here */
    ngx_str_t                       result;
    unsigned                        queued:1;
    unsigned                        owner:1;    /* is to start the job */
} ngx_http_oauth2_refresh_req_t;


/* one call to the token endpoint; in its own pool */
struct ngx_http_oauth2_refresh_job_s {
    ngx_queue_t                     queue;      /* in the jobs */
    u_char                          key[NGX_HTTP_OAUTH2_SHM_KEY_LEN];
    ngx_pool_t                     *pool;
    ngx_shm_zone_t                 *zone;
    ngx_http_oauth2_provider_t     *provider;
    ngx_array_t                    *keys;       /* cookie keys */
    ngx_str_t                       plain;      /* the old session */
    ngx_http_oauth2_session_t       session;
    ngx_http_oauth2_fetch_t        *fetch;
    ngx_str_t                       access_token;
    ngx_str_t                       refresh_token;
    ngx_str_t                       id_token;
    time_t                          expires_in;
    ngx_http_oauth2_jwt_t           jwt;
    ngx_str_t                       result;     /* the new one, sealed */
    ngx_http_oauth2_waiter_t        waiter;     /* for the JWKS */
    unsigned                        store_access_token:1;
    unsigned                        store_id_token:1;
    unsigned                        keys_refetched:1;
};


static ngx_int_t ngx_http_oauth2_refresh_start(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf, ngx_http_oauth2_ctx_t *ctx,
    ngx_http_oauth2_refresh_req_t *rq);
static void ngx_http_oauth2_refresh_done(ngx_http_oauth2_fetch_t *f);
static void ngx_http_oauth2_refresh_keys_done(void *data, ngx_int_t rc);
static ngx_uint_t ngx_http_oauth2_refresh_response(
    ngx_http_oauth2_refresh_job_t *job);
static ngx_uint_t ngx_http_oauth2_refresh_validate(
    ngx_http_oauth2_refresh_job_t *job);
static ngx_uint_t ngx_http_oauth2_refresh_session(
    ngx_http_oauth2_refresh_job_t *job);
static void ngx_http_oauth2_refresh_finish(ngx_http_oauth2_refresh_job_t *job,
    ngx_uint_t state);
static void ngx_http_oauth2_refresh_free(ngx_http_oauth2_refresh_job_t *job);
static ngx_int_t ngx_http_oauth2_refresh_wait(ngx_http_request_t *r,
    ngx_http_oauth2_ctx_t *ctx, ngx_http_oauth2_refresh_req_t *rq);
static void ngx_http_oauth2_refresh_unwait(ngx_http_oauth2_refresh_req_t *rq);
static void ngx_http_oauth2_refresh_poll(ngx_event_t *ev);
static void ngx_http_oauth2_refresh_cleanup(void *data);
static ngx_int_t ngx_http_oauth2_refresh_apply(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf, ngx_http_oauth2_ctx_t *ctx,
    ngx_str_t *sealed);
static ngx_int_t ngx_http_oauth2_refresh_failed(ngx_http_request_t *r,
    ngx_http_oauth2_ctx_t *ctx, ngx_uint_t state);
static time_t ngx_http_oauth2_refresh_ttl(ngx_http_oauth2_provider_t *p);


/* the worker's jobs, and its requests waiting for a refresh */
static ngx_queue_t  ngx_http_oauth2_refresh_jobs;
static ngx_queue_t  ngx_http_oauth2_refresh_waiters;


ngx_int_t
ngx_http_oauth2_refresh(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf, ngx_http_oauth2_ctx_t *ctx)
{
    ngx_int_t                       rc;
    ngx_str_t                       result;
    ngx_uint_t                      state, need;
    ngx_pool_cleanup_t             *cln;
    ngx_http_oauth2_provider_t     *p;
    ngx_http_oauth2_main_conf_t    *omcf;
    ngx_http_oauth2_refresh_req_t  *rq;

    p = ctx->provider;
    rq = ctx->refresh;

    if (ngx_http_oauth2_refresh_waiters.next == NULL) {
        ngx_queue_init(&ngx_http_oauth2_refresh_waiters);
        ngx_queue_init(&ngx_http_oauth2_refresh_jobs);
    }

    if (rq == NULL) {
        if (!p->refresh) {
            return NGX_DECLINED;
        }

        omcf = ngx_http_get_module_main_conf(r, ngx_http_oauth2_module);

        cln = ngx_pool_cleanup_add(r->pool,
                                   sizeof(ngx_http_oauth2_refresh_req_t));
        if (cln == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        rq = cln->data;
        ngx_memzero(rq, sizeof(ngx_http_oauth2_refresh_req_t));

        rq->request = r;
        rq->zone = omcf->zone;
        rq->deadline = ngx_current_msec
                       + (ngx_msec_t) ngx_http_oauth2_refresh_ttl(p) * 1000;

        cln->handler = ngx_http_oauth2_refresh_cleanup;

        if (ngx_http_oauth2_shm_key(NGX_HTTP_OAUTH2_SHM_REFRESH, &p->name,
                                    &ctx->session.refresh_token, rq->key)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ctx->refresh = rq;
    }

    /* running: neither waiting nor looking any more */

    ngx_http_oauth2_refresh_unwait(rq);

    if (rq->state) {

        /* the outcome, handed over by a job of this worker */

        state = rq->state;
        rq->state = 0;

        if (state == NGX_HTTP_OAUTH2_SHM_DONE) {
            return ngx_http_oauth2_refresh_apply(r, olcf, ctx, &rq->result);
        }

        return ngx_http_oauth2_refresh_failed(r, ctx, state);
    }

    if (!rq->owner) {
        state = ngx_http_oauth2_shm_refresh_get(rq->zone, rq->key,
                                                ngx_http_oauth2_refresh_ttl(p),
                                                r->pool, &result);

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "oauth2 refresh state %ui", state);

        switch (state) {

        case NGX_HTTP_OAUTH2_SHM_NONE:

            if (ngx_exiting || ngx_terminate) {
                /* no new call from a worker that exits */
                ngx_http_oauth2_shm_refresh_set(rq->zone, rq->key,
                                                NGX_HTTP_OAUTH2_SHM_NONE,
                                                NULL, 0);
                return ngx_http_oauth2_refresh_failed(r, ctx,
                                                  NGX_HTTP_OAUTH2_SHM_FAILED);
            }

            rq->owner = 1;
            break;

        case NGX_HTTP_OAUTH2_SHM_RUNNING:
            return ngx_http_oauth2_refresh_wait(r, ctx, rq);

        case NGX_HTTP_OAUTH2_SHM_DONE:
            return ngx_http_oauth2_refresh_apply(r, olcf, ctx, &result);

        default:
            return ngx_http_oauth2_refresh_failed(r, ctx, state);
        }
    }

    /* this request starts the refresh: the token endpoint first, and the
     * keys a new ID token will need */

    need = NGX_HTTP_OAUTH2_NEED_METADATA;

    if (p->oidc) {
        need |= NGX_HTTP_OAUTH2_NEED_JWKS;
    }

    rc = ngx_http_oauth2_park_provider(r, p, need);

    if (rc == NGX_AGAIN) {
        return NGX_AGAIN;
    }

    rq->owner = 0;

    if (rc == NGX_OK
        && ngx_http_oauth2_refresh_start(r, olcf, ctx, rq) == NGX_OK)
    {
        return ngx_http_oauth2_refresh_wait(r, ctx, rq);
    }

    ngx_http_oauth2_shm_refresh_set(rq->zone, rq->key,
                                    NGX_HTTP_OAUTH2_SHM_FAILED, NULL,
                                    NGX_HTTP_OAUTH2_REFRESH_RETRY);

    return ngx_http_oauth2_refresh_failed(r, ctx, NGX_HTTP_OAUTH2_SHM_FAILED);
}


/* a refresh of this worker is late by the timeouts, plus the JWKS */

static time_t
ngx_http_oauth2_refresh_ttl(ngx_http_oauth2_provider_t *p)
{
    return (time_t) (2 * p->timeout / 1000) + 2;
}


static ngx_int_t
ngx_http_oauth2_refresh_start(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf, ngx_http_oauth2_ctx_t *ctx,
    ngx_http_oauth2_refresh_req_t *rq)
{
    ngx_str_t                       grant;
    ngx_pool_t                     *pool;
    ngx_http_oauth2_param_t         params[3];
    ngx_http_oauth2_fetch_t        *f;
    ngx_http_oauth2_provider_t     *p;
    ngx_http_oauth2_metadata_t     *md;
    ngx_http_oauth2_main_conf_t    *omcf;
    ngx_http_oauth2_refresh_job_t  *job;

    p = ctx->provider;
    md = ngx_http_oauth2_provider_metadata(p);
    omcf = ngx_http_get_module_main_conf(r, ngx_http_oauth2_module);

    if (md->token_endpoint.len == 0) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oauth2 provider \"%V\": no token endpoint to "
                      "refresh the session at", &p->name);
        return NGX_ERROR;
    }

    pool = ngx_create_pool(4096, ngx_cycle->log);
    if (pool == NULL) {
        return NGX_ERROR;
    }

    job = ngx_pcalloc(pool, sizeof(ngx_http_oauth2_refresh_job_t));
    if (job == NULL) {
        goto failed;
    }

    job->pool = pool;
    ngx_memcpy(job->key, rq->key, NGX_HTTP_OAUTH2_SHM_KEY_LEN);
    job->zone = omcf->zone;
    job->provider = p;
    job->keys = olcf->keys;
    job->store_access_token = omcf->store_access_token;
    job->store_id_token = omcf->store_id_token;

    job->waiter.handler = ngx_http_oauth2_refresh_keys_done;
    job->waiter.data = job;

    /* the old session, copied: the request may go away */

    if (ngx_http_oauth2_session_encode(pool, &ctx->session, &job->plain)
        != NGX_OK
        || ngx_http_oauth2_session_decode(pool, &job->plain, &job->session)
           != NGX_OK)
    {
        goto failed;
    }

    f = ngx_http_oauth2_provider_fetch(pool, ngx_cycle->log, p,
                                       "refresh");
    if (f == NULL) {
        goto failed;
    }

    /* the metadata may be replaced while the call runs: the fetch takes
     * its own copy of the URL when it starts */

    f->url = md->token_endpoint;
    f->handler = ngx_http_oauth2_refresh_done;
    f->data = job;

    ngx_str_set(&grant, "refresh_token");

    params[0].name = "grant_type";
    params[0].value = &grant;
    params[1].name = "refresh_token";
    params[1].value = &job->session.refresh_token;
    params[2].name = NULL;

    if (ngx_http_oauth2_client_request(pool, p, params, f) != NGX_OK) {
        goto failed;
    }

    job->fetch = f;

    if (ngx_http_oauth2_fetch_start(f) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oauth2 provider \"%V\": cannot start the refresh "
                      "request", &p->name);
        goto failed;
    }

    ngx_queue_insert_tail(&ngx_http_oauth2_refresh_jobs, &job->queue);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "oauth2 provider \"%V\": refreshing a session", &p->name);

    return NGX_OK;

failed:

    if (job != NULL && job->plain.len) {
        ngx_explicit_memzero(job->plain.data, job->plain.len);
    }

    ngx_destroy_pool(pool);

    return NGX_ERROR;
}


static void
ngx_http_oauth2_refresh_done(ngx_http_oauth2_fetch_t *f)
{
    ngx_http_oauth2_refresh_job_t *job = f->data;

    ngx_int_t   rc;
    ngx_uint_t  state;

    state = ngx_http_oauth2_refresh_response(job);

    if (state == NGX_HTTP_OAUTH2_REFRESH_NEED_KEYS) {

        /* the provider may have rotated its keys: the job waits for them
         * itself; the requests keep waiting for the job */

        rc = ngx_http_oauth2_provider_wait_keys(job->provider, &job->waiter,
                                                ngx_cycle->log);

        if (rc == NGX_AGAIN) {
            return;
        }

        /* no refetch could start: the keys there are */

        job->keys_refetched = 1;
        state = ngx_http_oauth2_refresh_validate(job);
    }

    ngx_http_oauth2_refresh_finish(job, state);
}


/* the JWKS was fetched again (or failed to be) for the new ID token */

static void
ngx_http_oauth2_refresh_keys_done(void *data, ngx_int_t rc)
{
    ngx_http_oauth2_refresh_job_t *job = data;

    job->keys_refetched = 1;

    ngx_http_oauth2_refresh_finish(job,
                                   ngx_http_oauth2_refresh_validate(job));
}


static ngx_uint_t
ngx_http_oauth2_refresh_response(ngx_http_oauth2_refresh_job_t *job)
{
    yajl_val                         doc;
    ngx_log_t                       *log;
    const char                      *err, *bad;
    ngx_http_oauth2_fetch_t         *f;
    ngx_http_oauth2_provider_t      *p;
    ngx_http_oauth2_token_fields_t   t;

    f = job->fetch;
    p = job->provider;
    log = ngx_cycle->log;

    if (f->rc != NGX_OK
        || (f->status != 200 && f->status != 400 && f->status != 401))
    {
        ngx_http_oauth2_provider_failed(f, log, NULL, "");
        return NGX_HTTP_OAUTH2_SHM_FAILED;
    }

    doc = ngx_http_oauth2_json_parse(job->pool, f->response.data,
                                     f->response.len, &err);

    if (doc == NULL || !YAJL_IS_OBJECT(doc)) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "oauth2 provider \"%V\": the refresh response (HTTP "
                      "status %ui) is not a JSON object", &p->name,
                      f->status);
        return NGX_HTTP_OAUTH2_SHM_FAILED;
    }

    ngx_memzero(&t, sizeof(ngx_http_oauth2_token_fields_t));
    ngx_http_oauth2_token_fields(doc, &t);

    if (t.error.len || f->status != 200) {

        ngx_http_oauth2_error_code(&t.error);

        if (t.error.len == sizeof("invalid_grant") - 1
            && ngx_strncmp(t.error.data, "invalid_grant", t.error.len) == 0)
        {
            ngx_log_error(NGX_LOG_INFO, log, 0,
                          "oauth2 provider \"%V\": the refresh token was "
                          "refused (invalid_grant), the user logs in again",
                          &p->name);
            return NGX_HTTP_OAUTH2_SHM_REFUSED;
        }

        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "oauth2 provider \"%V\": refresh request refused: "
                      "\"%V\" (HTTP status %ui)", &p->name, &t.error,
                      f->status);
        return NGX_HTTP_OAUTH2_SHM_FAILED;
    }

    bad = ngx_http_oauth2_token_fields_invalid(&t);

    if (bad != NULL) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "oauth2 provider \"%V\": refresh response with "
                      "control or non-ASCII characters in \"%s\"",
                      &p->name, bad);
        return NGX_HTTP_OAUTH2_SHM_FAILED;
    }

    job->access_token = t.access_token;
    job->refresh_token = t.refresh_token;
    job->id_token = t.id_token;
    job->expires_in = t.expires_in;

    if (job->access_token.len == 0) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "oauth2 provider \"%V\": refresh response without "
                      "\"access_token\"", &p->name);
        return NGX_HTTP_OAUTH2_SHM_FAILED;
    }

    if (!ngx_http_oauth2_bearer(&t.token_type)) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "oauth2 provider \"%V\": unsupported token type in "
                      "the refresh response", &p->name);
        return NGX_HTTP_OAUTH2_SHM_FAILED;
    }

    if (job->id_token.len && p->oidc
        && ngx_http_oauth2_jwt_parse(job->pool, &job->id_token, &job->jwt,
                                     &err)
           != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "oauth2 provider \"%V\": invalid ID token in the "
                      "refresh response: %s", &p->name, err);
        return NGX_HTTP_OAUTH2_SHM_REFUSED;
    }

    return ngx_http_oauth2_refresh_validate(job);
}


/* OpenID Connect Core 12.2: a new ID token as at login, without nonce,
 * about the same user */

static ngx_uint_t
ngx_http_oauth2_refresh_validate(ngx_http_oauth2_refresh_job_t *job)
{
    ngx_int_t                      rc;
    ngx_str_t                      sub;
    const char                    *err;
    ngx_http_oauth2_provider_t    *p;
    ngx_http_oauth2_jwt_expect_t   expect;

    p = job->provider;

    if (job->id_token.len == 0 || !p->oidc) {
        return ngx_http_oauth2_refresh_session(job);
    }

    rc = ngx_http_oauth2_jwt_verify(&job->jwt,
                                    ngx_http_oauth2_provider_keys(p),
                                    p->algs, &p->client_secret, &err);

    if (rc == NGX_AGAIN) {
        if (!job->keys_refetched) {
            return NGX_HTTP_OAUTH2_REFRESH_NEED_KEYS;
        }

        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "oauth2 provider \"%V\": the refreshed ID token is "
                      "signed with an unknown key: %s", &p->name, err);
        return NGX_HTTP_OAUTH2_SHM_FAILED;
    }

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "oauth2 provider \"%V\": the refreshed ID token is "
                      "rejected: %s", &p->name, err);
        return NGX_HTTP_OAUTH2_SHM_REFUSED;
    }

    ngx_memzero(&expect, sizeof(ngx_http_oauth2_jwt_expect_t));

    expect.issuer = p->issuer;
    expect.client_id = p->client_id;
    expect.now = ngx_time();
    expect.leeway = p->leeway;

    if (ngx_http_oauth2_jwt_check_id_token(&job->jwt, &expect, &err)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "oauth2 provider \"%V\": the refreshed ID token is "
                      "rejected: %s", &p->name, err);
        return NGX_HTTP_OAUTH2_SHM_REFUSED;
    }

    if (ngx_http_oauth2_json_string(job->jwt.claims, "sub", &sub) != NGX_OK
        || sub.len != job->session.sub.len
        || ngx_strncmp(sub.data, job->session.sub.data, sub.len) != 0)
    {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "oauth2 provider \"%V\": the refreshed ID token is "
                      "about another user (\"sub\" differs)", &p->name);
        return NGX_HTTP_OAUTH2_SHM_REFUSED;
    }

    return ngx_http_oauth2_refresh_session(job);
}


/* the new session, sealed into job->result */

static ngx_uint_t
ngx_http_oauth2_refresh_session(ngx_http_oauth2_refresh_job_t *job)
{
    time_t                       now, expires, cap;
    int64_t                      n;
    ngx_int_t                    rc;
    ngx_str_t                    plain;
    ngx_http_oauth2_session_t   *s;
    ngx_http_oauth2_provider_t  *p;

    p = job->provider;
    s = &job->session;
    now = ngx_time();

    /* as at login: until the ID token (or else the access token) expires,
     * never past session_lifetime from the login */

    cap = s->created + p->session_lifetime;
    expires = cap;

    if (job->id_token.len && p->oidc) {
        if (ngx_http_oauth2_json_seconds(job->jwt.claims, "exp", 0, &n)
               == NGX_OK
            && n < (int64_t) expires)
        {
            expires = (time_t) n;
        }

    } else if (job->expires_in && now + job->expires_in < expires) {
        expires = now + job->expires_in;
    }

    if (expires <= now) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "oauth2 provider \"%V\": the refreshed session would "
                      "expire at once (clock skew?)", &p->name);
        return NGX_HTTP_OAUTH2_SHM_FAILED;
    }

    s->expires = expires;
    s->access_expires = job->expires_in ? now + job->expires_in : 0;

    if (job->store_access_token) {
        s->access_token = job->access_token;
    }

    /* with the access token kept, the session ends no later than it */

    expires = ngx_http_oauth2_session_end(s);

    if (expires < cap && expires <= now + p->refresh_margin) {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "oauth2 provider \"%V\": the tokens last less than "
                      "\"refresh_margin\", every request will refresh them",
                      &p->name);
    }

    if (job->refresh_token.len) {
        /* rotated; else the old one stays valid */
        s->refresh_token = job->refresh_token;
    }

    if (job->store_id_token && job->id_token.len) {
        s->id_token = job->id_token;
    }

    if (ngx_http_oauth2_session_encode(job->pool, s, &plain) != NGX_OK) {
        return NGX_HTTP_OAUTH2_SHM_FAILED;
    }

    rc = ngx_http_oauth2_seal(job->pool, job->keys,
                              NGX_HTTP_OAUTH2_SEAL_SESSION,
                              &p->cookie_name, &plain, &job->result);

    ngx_explicit_memzero(plain.data, plain.len);

    if (rc != NGX_OK) {
        return NGX_HTTP_OAUTH2_SHM_FAILED;
    }

    ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                  "oauth2 provider \"%V\": session refreshed", &p->name);

    return NGX_HTTP_OAUTH2_SHM_DONE;
}


/* records the outcome, gives it to this worker's waiters, ends the job */

static void
ngx_http_oauth2_refresh_finish(ngx_http_oauth2_refresh_job_t *job,
    ngx_uint_t state)
{
    time_t                          ttl;
    ngx_uint_t                      record;
    ngx_queue_t                     ready, *q, *next;
    ngx_http_oauth2_refresh_req_t  *rq;

    ttl = (state == NGX_HTTP_OAUTH2_SHM_FAILED) ? NGX_HTTP_OAUTH2_REFRESH_RETRY
                                                : NGX_HTTP_OAUTH2_REFRESH_GRACE;

    /* a call cut short because this worker exits (a reload) is no fault
     * of the provider: the workers that stay may try again at once */

    record = state;

    if (state == NGX_HTTP_OAUTH2_SHM_FAILED && (ngx_exiting || ngx_terminate)) {
        record = NGX_HTTP_OAUTH2_SHM_NONE;

    } else {
        ngx_http_oauth2_metrics_count(job->provider,
            (state == NGX_HTTP_OAUTH2_SHM_DONE)
            ? NGX_HTTP_OAUTH2_M_REFRESH_OK
            : (state == NGX_HTTP_OAUTH2_SHM_REFUSED)
              ? NGX_HTTP_OAUTH2_M_REFRESH_REFUSED
              : NGX_HTTP_OAUTH2_M_REFRESH_FAILED);
    }

    if (state == NGX_HTTP_OAUTH2_SHM_DONE) {

        /* never handed out once it needs a refresh itself: a provider
         * that does not rotate would get the same refresh token again */

        ttl = ngx_min(ttl, ngx_http_oauth2_session_end(&job->session)
                           - job->provider->refresh_margin - ngx_time());
        ttl = ngx_max(ttl, 1);
    }

    ngx_http_oauth2_shm_refresh_set(job->zone, job->key, record,
                                    &job->result, ttl);

    ngx_queue_remove(&job->queue);

    ngx_queue_init(&ready);

    for (q = ngx_queue_head(&ngx_http_oauth2_refresh_waiters);
         q != ngx_queue_sentinel(&ngx_http_oauth2_refresh_waiters);
         q = next)
    {
        next = ngx_queue_next(q);
        rq = ngx_queue_data(q, ngx_http_oauth2_refresh_req_t, queue);

        if (ngx_memcmp(rq->key, job->key, NGX_HTTP_OAUTH2_SHM_KEY_LEN) == 0) {
            ngx_queue_remove(q);
            ngx_queue_insert_tail(&ready, q);
        }
    }

    /* each is unlinked, then woken: posted, its phases run later */

    while (!ngx_queue_empty(&ready)) {
        q = ngx_queue_head(&ready);
        rq = ngx_queue_data(q, ngx_http_oauth2_refresh_req_t, queue);

        ngx_queue_remove(q);
        rq->queued = 0;

        if (rq->timer.timer_set) {
            ngx_del_timer(&rq->timer);
        }

        rq->state = state;

        if (state == NGX_HTTP_OAUTH2_SHM_DONE) {
            rq->result.data = ngx_pnalloc(rq->request->pool,
                                          job->result.len);

            if (rq->result.data == NULL) {
                /* it looks in the zone instead */
                rq->state = 0;

            } else {
                ngx_memcpy(rq->result.data, job->result.data,
                           job->result.len);
                rq->result.len = job->result.len;
            }
        }

        ngx_http_oauth2_wake(rq->request);
    }

    ngx_http_oauth2_refresh_free(job);
}


static void
ngx_http_oauth2_refresh_free(ngx_http_oauth2_refresh_job_t *job)
{
    ngx_http_oauth2_provider_cancel(&job->waiter);

    if (job->plain.len) {
        ngx_explicit_memzero(job->plain.data, job->plain.len);
    }

    ngx_destroy_pool(job->pool);
}


static ngx_int_t
ngx_http_oauth2_refresh_wait(ngx_http_request_t *r,
    ngx_http_oauth2_ctx_t *ctx, ngx_http_oauth2_refresh_req_t *rq)
{
    if ((ngx_msec_int_t) (ngx_current_msec - rq->deadline) >= 0) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oauth2 provider \"%V\": the session refresh did not "
                      "end in time", &ctx->provider->name);
        return ngx_http_oauth2_refresh_failed(r, ctx,
                                              NGX_HTTP_OAUTH2_SHM_FAILED);
    }

    /* not cancelable: a worker that shuts down gracefully gives its
     * waiters an answer before it exits (its own calls fail at once; the
     * wait for another worker's is bounded by the deadline) */

    if (rq->timer.handler == NULL) {
        rq->timer.handler = ngx_http_oauth2_refresh_poll;
        rq->timer.data = rq;
        rq->timer.log = r->connection->log;
    }

    ngx_add_timer(&rq->timer, NGX_HTTP_OAUTH2_REFRESH_POLL);

    ngx_queue_insert_tail(&ngx_http_oauth2_refresh_waiters, &rq->queue);
    rq->queued = 1;

    /* parked by the access handler; resumed by the job or the timer */

    return NGX_AGAIN;
}


static void
ngx_http_oauth2_refresh_unwait(ngx_http_oauth2_refresh_req_t *rq)
{
    if (rq->queued) {
        ngx_queue_remove(&rq->queue);
        rq->queued = 0;
    }

    if (rq->timer.timer_set) {
        ngx_del_timer(&rq->timer);
    }
}


static void
ngx_http_oauth2_refresh_poll(ngx_event_t *ev)
{
    ngx_http_oauth2_refresh_req_t *rq = ev->data;

    if (rq->queued) {
        ngx_queue_remove(&rq->queue);
        rq->queued = 0;
    }

    ngx_http_oauth2_wake(rq->request);
}


static void
ngx_http_oauth2_refresh_cleanup(void *data)
{
    ngx_http_oauth2_refresh_req_t *rq = data;

    ngx_http_oauth2_refresh_unwait(rq);

    if (rq->owner) {
        /* it was to start the refresh: another request will */
        ngx_http_oauth2_shm_refresh_set(rq->zone, rq->key,
                                        NGX_HTTP_OAUTH2_SHM_NONE, NULL, 0);
    }
}


static ngx_int_t
ngx_http_oauth2_refresh_apply(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf, ngx_http_oauth2_ctx_t *ctx,
    ngx_str_t *sealed)
{
    ngx_int_t                    rc;
    ngx_str_t                    plain;
    ngx_http_oauth2_session_t    s;
    ngx_http_oauth2_provider_t  *p;

    p = ctx->provider;

    if (ngx_http_oauth2_open(r->pool, olcf->keys, NGX_HTTP_OAUTH2_SEAL_SESSION,
                             &p->cookie_name, sealed, &plain, NULL)
        != NGX_OK
        || ngx_http_oauth2_session_decode(r->pool, &plain, &s) != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oauth2 provider \"%V\": the refreshed session does "
                      "not open with this location's oauth2_cookie_secret",
                      &p->name);
        return NGX_DECLINED;
    }

    if (s.sub.len != ctx->session.sub.len
        || ngx_strncmp(s.sub.data, ctx->session.sub.data, s.sub.len) != 0)
    {
        return NGX_DECLINED;
    }

    ctx->session = s;
    ctx->session_expired = 0;
    ctx->session_reseal = 0;
    ctx->session_valid = 1;

    rc = ngx_http_oauth2_session_save(r, olcf, ctx);

    if (rc != NGX_OK) {
        ctx->session_valid = 0;
        return rc == NGX_DECLINED ? NGX_DECLINED
                                  : NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "oauth2 provider \"%V\": refreshed session set",
                   &p->name);

    return NGX_OK;
}


static ngx_int_t
ngx_http_oauth2_refresh_failed(ngx_http_request_t *r,
    ngx_http_oauth2_ctx_t *ctx, ngx_uint_t state)
{
    if (state == NGX_HTTP_OAUTH2_SHM_FAILED
        && ngx_http_oauth2_session_end(&ctx->session) > ngx_time())
    {
        /* the provider failed, but the tokens are good for a little while
         * yet (the session is within refresh_margin): let it pass */

        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "oauth2: refresh failed, session still valid");

        ctx->session_valid = 1;

        return NGX_OK;
    }

    if (state == NGX_HTTP_OAUTH2_SHM_LOST) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "oauth2 provider \"%V\": the session was refreshed "
                      "by another worker but is too large to share, the "
                      "user logs in again", &ctx->provider->name);
    }

    return NGX_DECLINED;
}


/* the worker exits: calls in flight are dropped */

void
ngx_http_oauth2_refresh_exit(void)
{
    ngx_queue_t                    *q;
    ngx_http_oauth2_refresh_job_t  *job;

    if (ngx_http_oauth2_refresh_jobs.next == NULL) {
        return;
    }

    while (!ngx_queue_empty(&ngx_http_oauth2_refresh_jobs)) {
        q = ngx_queue_head(&ngx_http_oauth2_refresh_jobs);
        job = ngx_queue_data(q, ngx_http_oauth2_refresh_job_t, queue);

        ngx_queue_remove(q);

        ngx_http_oauth2_shm_refresh_set(job->zone, job->key,
                                        NGX_HTTP_OAUTH2_SHM_NONE, NULL, 0);

        ngx_http_oauth2_refresh_free(job);
    }
}
