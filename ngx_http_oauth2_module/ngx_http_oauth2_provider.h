
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


#ifndef _NGX_HTTP_OAUTH2_PROVIDER_H_INCLUDED_
#define _NGX_HTTP_OAUTH2_PROVIDER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_module.h"
#include "ngx_http_oauth2_http.h"


/*
 * A provider's metadata (from discovery, overridden by the endpoints the
 * configuration names) and keys, fetched lazily on first need and shared
 * by all requests and jobs of the worker: concurrent ones wait for one
 * fetch.
 */


#define NGX_HTTP_OAUTH2_NEED_METADATA  1
#define NGX_HTTP_OAUTH2_NEED_JWKS      2


/* the endpoints in force */
typedef struct {
    ngx_str_t                  authorization_endpoint;
    ngx_str_t                  token_endpoint;
    ngx_str_t                  userinfo_endpoint;
    ngx_str_t                  jwks_uri;
    ngx_str_t                  end_session_endpoint;
    ngx_str_t                  revocation_endpoint;
    ngx_str_t                  introspection_endpoint;   /* RFC 7662 */
    ngx_str_t                  par_endpoint;   /* RFC 9126 */

    /* RFC 9126: require_pushed_authorization_requests */
    unsigned                   require_par:1;

    /*
     * id_token_signing_alg_values_supported, as NGX_HTTP_OAUTH2_ALG_* bits
     * (0: not said): what a bearer_algs left to its default narrows to
     */
    ngx_uint_t                 signing_algs;

    /* RFC 9207: authorization_response_iss_parameter_supported */
    unsigned                   iss_parameter:1;
} ngx_http_oauth2_metadata_t;


/*
 * Whoever waits for a provider's metadata or keys: a request (its parking
 * record's waiter, ngx_http_oauth2_park.h) or a background job (a session
 * refresh).  The waiter is its owner's memory; handler and data are set by
 * the owner.  While it waits it is on the cache's queue.  When the fetch
 * ends it is taken off and handler(data, rc) is called, rc NGX_OK if the
 * fetch succeeded, NGX_ERROR if not; the handler may free its owner but
 * must not run a request's phases (ngx_http_oauth2_wake() posts them).  An
 * owner that goes away first calls ngx_http_oauth2_provider_cancel(): the
 * handler is not called then.  Zeroed memory is a waiter that does not
 * wait.
 */

typedef void (*ngx_http_oauth2_wait_pt)(void *data, ngx_int_t rc);

typedef struct {
    ngx_queue_t                queue;
    ngx_http_oauth2_wait_pt    handler;
    void                      *data;
} ngx_http_oauth2_waiter_t;


/*
 * Makes what "need" names available.  NGX_OK: ready, see
 * ngx_http_oauth2_provider_metadata() / _keys().  NGX_AGAIN: w waits and
 * its handler is called when the fetch ends.  NGX_ERROR: the provider
 * failed recently; an error line was logged when it failed.
 */
ngx_int_t ngx_http_oauth2_provider_wait(ngx_http_oauth2_provider_t *p,
    ngx_uint_t need, ngx_http_oauth2_waiter_t *w, ngx_log_t *log);

/*
 * Asks for one JWKS refetch because a token named an unknown kid.  At most
 * one refetch per jwks_min_refresh: asked sooner, w waits for the one a
 * timer starts when it is allowed.  NGX_AGAIN (w waits), NGX_OK or
 * NGX_ERROR (no fetch could start: the keys there are).
 */
ngx_int_t ngx_http_oauth2_provider_wait_keys(ngx_http_oauth2_provider_t *p,
    ngx_http_oauth2_waiter_t *w, ngx_log_t *log);

/* w stops waiting, if it waits */
void ngx_http_oauth2_provider_cancel(ngx_http_oauth2_waiter_t *w);


/* a fetch with the provider's timeouts, size cap and CAs; the caller
 * sets the URL, body, handler */
ngx_http_oauth2_fetch_t *ngx_http_oauth2_provider_fetch(ngx_pool_t *pool,
    ngx_log_t *log, ngx_http_oauth2_provider_t *p, const char *endpoint);

/*
 * The one error line of a failed call to the provider: provider, endpoint,
 * URL and cause: libcurl's (and its message) when no answer came, else the
 * HTTP status unless it was 200, else cause (what was wrong with the
 * answer).  A call cut short by this worker's exit is logged at info.
 * more is added to the line ("" for nothing).
 */
void ngx_http_oauth2_provider_failed(ngx_http_oauth2_fetch_t *f,
    ngx_log_t *log, const char *cause, const char *more);

ngx_http_oauth2_metadata_t *ngx_http_oauth2_provider_metadata(
    ngx_http_oauth2_provider_t *p);
ngx_array_t *ngx_http_oauth2_provider_keys(ngx_http_oauth2_provider_t *p);

/* allocates p->rt at configuration time */
ngx_int_t ngx_http_oauth2_provider_init(ngx_conf_t *cf,
    ngx_http_oauth2_provider_t *p);

void ngx_http_oauth2_provider_exit(ngx_http_oauth2_provider_t *p);


#endif /* _NGX_HTTP_OAUTH2_PROVIDER_H_INCLUDED_ */
