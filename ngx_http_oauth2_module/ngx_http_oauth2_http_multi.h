
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


#ifndef _NGX_HTTP_OAUTH2_HTTP_MULTI_H_INCLUDED_
#define _NGX_HTTP_OAUTH2_HTTP_MULTI_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include <curl/curl.h>

#include "ngx_http_oauth2_http.h"


/*
 * The worker's libcurl multi handle, driven by nginx events and one
 * timer.  Only ngx_http_oauth2_http.c uses it: everyone else starts
 * fetches through ngx_http_oauth2_http.h.
 */


/* called once per transfer that ends, from an nginx event handler and
 * never from inside a libcurl callback; code is libcurl's result */
typedef void (*ngx_http_oauth2_http_done_pt)(ngx_http_oauth2_fetch_t *f,
    CURLcode code);


/* makes the worker's multi handle; done ends the transfers */
ngx_int_t ngx_http_oauth2_http_multi_init(ngx_cycle_t *cycle,
    ngx_http_oauth2_http_done_pt done);

/* removes every transfer (no handler is called), then the multi handle */
void ngx_http_oauth2_http_multi_exit(ngx_cycle_t *cycle);

/* 1 if this process has a multi handle */
ngx_uint_t ngx_http_oauth2_http_multi_running(void);

/* runs the easy handle, set up by the caller, as f's transfer: f->easy,
 * f->running and f->queue are set */
ngx_int_t ngx_http_oauth2_http_multi_add(ngx_http_oauth2_fetch_t *f,
    void *easy);

/* takes f's transfer out of libcurl and frees its easy handle and
 * f->headers; no handler is called */
void ngx_http_oauth2_http_multi_remove(ngx_http_oauth2_fetch_t *f);


#endif /* _NGX_HTTP_OAUTH2_HTTP_MULTI_H_INCLUDED_ */
