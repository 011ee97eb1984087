
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * session_store redis: the session kept in Redis, sealed with a key of
 * its own, and the cookie that holds only its ticket (an id and that
 * key).  (ngx_http_oauth2_store.c)
 */


#ifndef _NGX_HTTP_OAUTH2_STORE_H_INCLUDED_
#define _NGX_HTTP_OAUTH2_STORE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_module.h"
#include "ngx_http_oauth2_codec.h"


typedef void (*ngx_http_oauth2_store_wake_pt)(ngx_http_request_t *r);


/*
 * Reads provider p's session for the request's ticket cookie, once per
 * request.  NGX_OK: done (no cookie, a ticket that does not open, nothing
 * in Redis, or the session: ngx_http_oauth2_store_open() tells);
 * NGX_AGAIN: the GET runs, wake(r) is called when it ends; NGX_ERROR:
 * Redis is unusable (the request is to be refused with 503; the outage
 * is logged once).
 */
ngx_int_t ngx_http_oauth2_store_load(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf, ngx_http_oauth2_provider_t *p,
    ngx_http_oauth2_store_wake_pt wake);

/* the session read by ngx_http_oauth2_store_load() into s: NGX_OK,
 * NGX_DECLINED when there is none, NGX_ABORT when it does not open */
ngx_int_t ngx_http_oauth2_store_open(ngx_http_request_t *r,
    ngx_http_oauth2_provider_t *p, ngx_http_oauth2_session_t *s);

/* stores s for ttl seconds under the request's ticket (a new one without)
 * and sets the ticket cookie (secure: as ngx_http_oauth2_cookie_set()
 * takes it); NGX_ERROR when Redis is unusable */
ngx_int_t ngx_http_oauth2_store_save(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf, ngx_http_oauth2_provider_t *p,
    ngx_http_oauth2_session_t *s, time_t ttl, ngx_uint_t secure);

/* deletes the session of the request's ticket cookie from Redis */
void ngx_http_oauth2_store_delete(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf, ngx_http_oauth2_provider_t *p);


#endif /* _NGX_HTTP_OAUTH2_STORE_H_INCLUDED_ */
