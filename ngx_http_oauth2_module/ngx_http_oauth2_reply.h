
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * Every answer the module writes itself: its short HTML pages, 401 with
 * WWW-Authenticate, the headers every page of the module carries
 * (no-store, no framing), and the Secure attribute of its cookies.
 * (ngx_http_oauth2_reply.c)
 */


#ifndef _NGX_HTTP_OAUTH2_REPLY_H_INCLUDED_
#define _NGX_HTTP_OAUTH2_REPLY_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_module.h"


ngx_int_t ngx_http_oauth2_unauthorized(ngx_http_request_t *r,
    ngx_http_oauth2_provider_t *p);
ngx_int_t ngx_http_oauth2_host_failed(ngx_http_request_t *r, ngx_int_t rc);
/* a short HTML page (status, title, optional escaped detail); finalizes
 * the request and returns NGX_DONE, for the access phase to return */
ngx_int_t ngx_http_oauth2_page(ngx_http_request_t *r, ngx_uint_t status,
    const char *title, ngx_str_t *detail);
ngx_int_t ngx_http_oauth2_send_html(ngx_http_request_t *r,
    ngx_uint_t status, ngx_buf_t *b);
ngx_int_t ngx_http_oauth2_no_store(ngx_http_request_t *r);
ngx_uint_t ngx_http_oauth2_secure(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf);
ngx_int_t ngx_http_oauth2_add_header(ngx_http_request_t *r,
    const char *name, const char *value);


#endif /* _NGX_HTTP_OAUTH2_REPLY_H_INCLUDED_ */
