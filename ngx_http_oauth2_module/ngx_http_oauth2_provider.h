
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
 * by all requests of the worker: concurrent requests wait for one fetch.
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

    /* RFC 9207: authorization_response_iss_parameter_supported */
    unsigned                   iss_parameter:1;
} ngx_http_oauth2_metadata_t;


/* a request waiting for the provider; lives in the request's pool */
typedef struct {
    ngx_queue_t                queue;
    ngx_http_request_t        *request;
    ngx_http_oauth2_provider_t *provider;
} ngx_http_oauth2_waiter_t;


/*
 * Makes what "need" names available.  NGX_OK: ready, see
 * ngx_http_oauth2_provider_metadata() / _keys().  NGX_AGAIN: the request
 * waits and is resumed (its phases run again) when the fetch ends.
 * NGX_ERROR: the provider failed recently; an error line was logged when
 * it failed and the caller answers 502/503.
 */
ngx_int_t ngx_http_oauth2_provider_ready(ngx_http_request_t *r,
    ngx_http_oauth2_provider_t *p, ngx_uint_t need);

/* asks for one JWKS refetch because a token named an unknown kid; rate
 * limited: NGX_AGAIN (wait) or NGX_DECLINED (refetched too recently) */
ngx_int_t ngx_http_oauth2_provider_refresh_keys(ngx_http_request_t *r,
    ngx_http_oauth2_provider_t *p);

/* a fetch with the provider's timeouts, size cap and CAs; the caller
 * sets the URL, body, handler */
ngx_http_oauth2_fetch_t *ngx_http_oauth2_provider_fetch(ngx_pool_t *pool,
    ngx_log_t *log, ngx_http_oauth2_provider_t *p, const char *endpoint);

ngx_http_oauth2_metadata_t *ngx_http_oauth2_provider_metadata(
    ngx_http_oauth2_provider_t *p);
ngx_array_t *ngx_http_oauth2_provider_keys(ngx_http_oauth2_provider_t *p);

/* allocates p->rt at configuration time */
ngx_int_t ngx_http_oauth2_provider_init(ngx_conf_t *cf,
    ngx_http_oauth2_provider_t *p);

/* resumes a parked request: runs its phases again */
void ngx_http_oauth2_wake(ngx_http_request_t *r);

/* a request that returned NGX_AGAIN is on the parked list until it runs
 * again (*parked keeps its entry), so an exiting worker ends it */
ngx_int_t ngx_http_oauth2_park(ngx_http_request_t *r, void **parked);
void ngx_http_oauth2_unpark(void *parked);
void ngx_http_oauth2_end_parked(void);

void ngx_http_oauth2_provider_exit(ngx_http_oauth2_provider_t *p);


#endif /* _NGX_HTTP_OAUTH2_PROVIDER_H_INCLUDED_ */
