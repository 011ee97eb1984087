
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * How a request waits.
 *
 * A request waits for a provider's metadata or keys, for one of its own
 * calls to the provider (the callback's token and userinfo calls), for a
 * session refresh, or for a request body (a back-channel logout token, a
 * form_post callback's form).  Its access handler then returns NGX_AGAIN
 * (NGX_DONE for a body) and the request keeps a parking record, made on
 * first need in its pool and found again through its context
 * (ctx->parked):
 *
 *   parked   the access handler returned NGX_AGAIN: the record is on the
 *            worker's parked list; write events are ignored
 *            (ngx_http_request_empty_handler) and read events only notice
 *            a client that goes away (ngx_http_test_reading), on every
 *            path alike;
 *
 *   woken    whatever it waited for ended: ngx_http_oauth2_wake() posts
 *            the record's event; it may be called from anywhere (a libcurl
 *            completion, a loop over waiters, another request's handler,
 *            the request's own access handler) because it runs nothing;
 *
 *   resumed  the event runs from the event loop: the request is posted
 *            (ngx_http_post_request) and ngx_http_run_posted_requests()
 *            runs its phases again, from its access handler, which takes
 *            it off the parked list and goes on where it stopped.
 *
 * Only that event resumes a waiting request, so its phases never run
 * twice nor inside another call stack.  A request that goes away (client
 * abort: ngx_http_test_reading finalizes it) destroys its pool: the
 * record's cleanup takes it off the list, deletes a posted event and
 * cancels its wait for a provider.  A worker that exits answers every
 * parked request 503 (ngx_http_oauth2_end_parked(), from exit_process)
 * instead of leaving its connection open.
 *
 * Background jobs (a session refresh) wait with a waiter of their own
 * (ngx_http_oauth2_provider.h), never through a request.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_module.h"
#include "ngx_http_oauth2_ctx.h"
#include "ngx_http_oauth2_park.h"
#include "ngx_http_oauth2_provider.h"


typedef struct {
    ngx_queue_t                     queue;      /* in the parked list */
    ngx_http_request_t             *request;
    ngx_event_t                     event;      /* posted to resume it */
    ngx_http_oauth2_waiter_t        waiter;     /* its wait for a provider */
    unsigned                        parked:1;
} ngx_http_oauth2_park_t;


static ngx_http_oauth2_park_t *ngx_http_oauth2_park_get(ngx_http_request_t *r,
    ngx_uint_t create);
static void ngx_http_oauth2_park_cleanup(void *data);
static void ngx_http_oauth2_park_remove(ngx_http_oauth2_park_t *pk);
static void ngx_http_oauth2_park_waited(void *data, ngx_int_t rc);
static void ngx_http_oauth2_park_post(ngx_http_oauth2_park_t *pk);
static void ngx_http_oauth2_park_resume(ngx_event_t *ev);


static ngx_queue_t  ngx_http_oauth2_parked;


static ngx_http_oauth2_park_t *
ngx_http_oauth2_park_get(ngx_http_request_t *r, ngx_uint_t create)
{
    ngx_pool_cleanup_t      *cln;
    ngx_http_oauth2_ctx_t   *ctx;
    ngx_http_oauth2_park_t  *pk;

    ctx = ngx_http_oauth2_get_ctx(r, create);

    if (ctx == NULL) {
        return NULL;
    }

    if (ctx->parked != NULL || !create) {
        return ctx->parked;
    }

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_http_oauth2_park_t));
    if (cln == NULL) {
        return NULL;
    }

    pk = cln->data;
    ngx_memzero(pk, sizeof(ngx_http_oauth2_park_t));

    pk->request = r;

    pk->event.handler = ngx_http_oauth2_park_resume;
    pk->event.data = pk;
    pk->event.log = r->connection->log;

    pk->waiter.handler = ngx_http_oauth2_park_waited;
    pk->waiter.data = pk;

    cln->handler = ngx_http_oauth2_park_cleanup;

    ctx->parked = pk;

    return pk;
}


static void
ngx_http_oauth2_park_cleanup(void *data)
{
    ngx_http_oauth2_park_t *pk = data;

    ngx_http_oauth2_park_remove(pk);
    ngx_http_oauth2_provider_cancel(&pk->waiter);

    if (pk->event.posted) {
        ngx_delete_posted_event(&pk->event);
    }
}


static void
ngx_http_oauth2_park_remove(ngx_http_oauth2_park_t *pk)
{
    if (pk->parked) {
        ngx_queue_remove(&pk->queue);
        pk->parked = 0;
    }
}


ngx_int_t
ngx_http_oauth2_park(ngx_http_request_t *r)
{
    ngx_http_oauth2_park_t  *pk;

    pk = ngx_http_oauth2_park_get(r, 1);

    if (pk == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_oauth2_parked.next == NULL) {
        ngx_queue_init(&ngx_http_oauth2_parked);
    }

    if (!pk->parked) {
        ngx_queue_insert_tail(&ngx_http_oauth2_parked, &pk->queue);
        pk->parked = 1;
    }

    r->read_event_handler = ngx_http_test_reading;
    r->write_event_handler = ngx_http_request_empty_handler;

    return NGX_OK;
}


void
ngx_http_oauth2_unpark(ngx_http_request_t *r)
{
    ngx_http_oauth2_park_t  *pk;

    pk = ngx_http_oauth2_park_get(r, 0);

    if (pk == NULL) {
        return;
    }

    ngx_http_oauth2_park_remove(pk);

    /* running now: a resume still posted would run its phases twice */

    if (pk->event.posted) {
        ngx_delete_posted_event(&pk->event);
    }
}


ngx_http_oauth2_waiter_t *
ngx_http_oauth2_park_waiter(ngx_http_request_t *r)
{
    ngx_http_oauth2_park_t  *pk;

    pk = ngx_http_oauth2_park_get(r, 1);

    return pk ? &pk->waiter : NULL;
}


static void
ngx_http_oauth2_park_waited(void *data, ngx_int_t rc)
{
    ngx_http_oauth2_park_t *pk = data;

    ngx_http_oauth2_park_post(pk);
}


void
ngx_http_oauth2_wake(ngx_http_request_t *r)
{
    ngx_http_oauth2_park_t  *pk;

    pk = ngx_http_oauth2_park_get(r, 1);

    if (pk == NULL) {
        /* no memory for the record: end the request (nginx posts its
         * termination, nothing runs here) */
        ngx_http_finalize_request(r, NGX_ERROR);
        return;
    }

    ngx_http_oauth2_park_post(pk);
}


static void
ngx_http_oauth2_park_post(ngx_http_oauth2_park_t *pk)
{
    ngx_http_request_t  *r;

    r = pk->request;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "oauth2 wake \"%V\"", &r->uri);

    /* until the event runs, nothing else may run its phases */

    r->read_event_handler = ngx_http_test_reading;
    r->write_event_handler = ngx_http_request_empty_handler;

    if (!pk->event.posted) {
        ngx_post_event(&pk->event, &ngx_posted_events);
    }
}


static void
ngx_http_oauth2_park_resume(ngx_event_t *ev)
{
    ngx_http_oauth2_park_t *pk = ev->data;

    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = pk->request;
    c = r->connection;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "oauth2 resume \"%V\"", &r->uri);

    r->read_event_handler = ngx_http_block_reading;
    r->write_event_handler = ngx_http_core_run_phases;

    if (ngx_http_post_request(r, NULL) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_ERROR);
    }

    ngx_http_run_posted_requests(c);
}


void
ngx_http_oauth2_end_parked(void)
{
    ngx_queue_t             *q;
    ngx_http_request_t      *r;
    ngx_http_oauth2_park_t  *pk;

    if (ngx_http_oauth2_parked.next == NULL) {
        return;
    }

    while (!ngx_queue_empty(&ngx_http_oauth2_parked)) {
        q = ngx_queue_head(&ngx_http_oauth2_parked);
        pk = ngx_queue_data(q, ngx_http_oauth2_park_t, queue);

        r = pk->request;

        ngx_http_oauth2_park_remove(pk);
        ngx_http_oauth2_provider_cancel(&pk->waiter);

        if (pk->event.posted) {
            ngx_delete_posted_event(&pk->event);
        }

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "oauth2: worker exiting, request waiting for the "
                      "provider ended");

        r->keepalive = 0;
        r->lingering_close = 0;

        ngx_http_finalize_request(r, NGX_HTTP_SERVICE_UNAVAILABLE);
    }
}


ngx_int_t
ngx_http_oauth2_park_provider(ngx_http_request_t *r,
    ngx_http_oauth2_provider_t *p, ngx_uint_t need)
{
    ngx_http_oauth2_waiter_t  *w;

    w = ngx_http_oauth2_park_waiter(r);
    if (w == NULL) {
        return NGX_ERROR;
    }

    return ngx_http_oauth2_provider_wait(p, need, w, r->connection->log);
}


ngx_int_t
ngx_http_oauth2_park_keys(ngx_http_request_t *r,
    ngx_http_oauth2_provider_t *p)
{
    ngx_http_oauth2_waiter_t  *w;

    w = ngx_http_oauth2_park_waiter(r);
    if (w == NULL) {
        return NGX_ERROR;
    }

    return ngx_http_oauth2_provider_wait_keys(p, w, r->connection->log);
}
