
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


#ifndef _NGX_HTTP_OAUTH2_PARK_H_INCLUDED_
#define _NGX_HTTP_OAUTH2_PARK_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_provider.h"


/*
 * Requests that wait: their access handler returned NGX_AGAIN (or NGX_DONE
 * while the back-channel body is read) and something else resumes them
 * later.  See ngx_http_oauth2_park.c.
 */


/* the access handler returned NGX_AGAIN: on the worker's parked list,
 * write events ignored, a client that goes away noticed */
ngx_int_t ngx_http_oauth2_park(ngx_http_request_t *r);

/* the access handler runs again: off the list */
void ngx_http_oauth2_unpark(ngx_http_request_t *r);

/* resumes a waiting request: posts it, its phases run again from the event
 * loop, never inside the caller */
void ngx_http_oauth2_wake(ngx_http_request_t *r);

/* the request's waiter for a provider: it wakes the request */
ngx_http_oauth2_waiter_t *ngx_http_oauth2_park_waiter(ngx_http_request_t *r);

/* the worker exits: every parked request is answered 503 */
void ngx_http_oauth2_end_parked(void);

/*
 * ngx_http_oauth2_provider_wait() and _wait_keys() for a request, which
 * waits through its parking record: on NGX_AGAIN the access handler
 * returns NGX_AGAIN and the request is resumed (its phases run again)
 * when the fetch ends; the caller answers NGX_ERROR with 502/503.
 */
ngx_int_t ngx_http_oauth2_park_provider(ngx_http_request_t *r,
    ngx_http_oauth2_provider_t *p, ngx_uint_t need);

/* the same for a refetch of the keys (an unknown kid) */
ngx_int_t ngx_http_oauth2_park_keys(ngx_http_request_t *r,
    ngx_http_oauth2_provider_t *p);


#endif /* _NGX_HTTP_OAUTH2_PARK_H_INCLUDED_ */
