
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * What the module reads from a request to build URLs: the host
 * (checked, limited to the server's names), this request's own URL as a
 * safe local URL, whether it is a page load, the callback's request
 * line with its secrets redacted for the logs, and a body once read.
 * (ngx_http_oauth2_request.c)
 */


#ifndef _NGX_HTTP_OAUTH2_REQUEST_H_INCLUDED_
#define _NGX_HTTP_OAUTH2_REQUEST_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_module.h"


ngx_int_t ngx_http_oauth2_request_url(ngx_http_request_t *r,
    ngx_str_t *url);
ngx_uint_t ngx_http_oauth2_is_navigation(ngx_http_request_t *r);
/* a path made absolute with this request's scheme and checked host;
 * NGX_DECLINED: no valid host (answer with ngx_http_oauth2_host_failed) */
ngx_int_t ngx_http_oauth2_absolute_url(ngx_http_request_t *r,
    ngx_str_t *path, ngx_str_t *uri);
ngx_int_t ngx_http_oauth2_redact_request_line(ngx_http_request_t *r);
/* the body read, in one piece; NGX_DECLINED: longer than max */
ngx_int_t ngx_http_oauth2_read_body(ngx_http_request_t *r, size_t max,
    ngx_str_t *body);


#endif /* _NGX_HTTP_OAUTH2_REQUEST_H_INCLUDED_ */
