
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


/*
 * Why the module refused a request: the status, the reason that
 * $oauth2_error holds, and the title of the module's page.
 */
#define NGX_HTTP_OAUTH2_ERR_NO_SESSION       0
#define NGX_HTTP_OAUTH2_ERR_FORBIDDEN        1
#define NGX_HTTP_OAUTH2_ERR_HOST             2
#define NGX_HTTP_OAUTH2_ERR_INCOMPLETE       3
#define NGX_HTTP_OAUTH2_ERR_STATE            4
#define NGX_HTTP_OAUTH2_ERR_STATE_EXPIRED    5
#define NGX_HTTP_OAUTH2_ERR_DENIED           6
#define NGX_HTTP_OAUTH2_ERR_PROVIDER_ERROR   7
#define NGX_HTTP_OAUTH2_ERR_ISSUER           8
#define NGX_HTTP_OAUTH2_ERR_UNAVAILABLE      9
#define NGX_HTTP_OAUTH2_ERR_UNREACHABLE      10
#define NGX_HTTP_OAUTH2_ERR_FAILED           11
#define NGX_HTTP_OAUTH2_ERR_TOKEN            12
#define NGX_HTTP_OAUTH2_ERR_INVALID          13
#define NGX_HTTP_OAUTH2_ERR_TOO_LARGE        14
#define NGX_HTTP_OAUTH2_ERR_SEAL             15
#define NGX_HTTP_OAUTH2_ERR_INSECURE         16
#define NGX_HTTP_OAUTH2_ERR_BAD_FORM         17
/* RFC 6750, section 3.1: an API caller's access token */
#define NGX_HTTP_OAUTH2_ERR_NO_TOKEN         18
#define NGX_HTTP_OAUTH2_ERR_INVALID_TOKEN    19
#define NGX_HTTP_OAUTH2_ERR_SCOPE            20
#define NGX_HTTP_OAUTH2_ERR_BAD_REQUEST      21


ngx_int_t ngx_http_oauth2_unauthorized(ngx_http_request_t *r,
    ngx_http_oauth2_provider_t *p);
/*
 * Refuses an API caller (RFC 6750, section 3): err is one of
 * NGX_HTTP_OAUTH2_ERR_NO_TOKEN (401, no "error"), _INVALID_TOKEN (401),
 * _SCOPE (403, with scope if not NULL) or _BAD_REQUEST (400);
 * WWW-Authenticate names the provider as realm, the error and, if not
 * NULL, description (a fixed text).  For the access phase to return.
 */
ngx_int_t ngx_http_oauth2_bearer_refuse(ngx_http_request_t *r,
    ngx_http_oauth2_provider_t *p, ngx_uint_t err, const char *description,
    ngx_str_t *scope);
ngx_int_t ngx_http_oauth2_host_failed(ngx_http_request_t *r, ngx_int_t rc);
/* a short HTML page (status, title, optional escaped detail); finalizes
 * the request and returns NGX_DONE, for the access phase to return */
ngx_int_t ngx_http_oauth2_page(ngx_http_request_t *r, ngx_uint_t status,
    const char *title, ngx_str_t *detail);
ngx_int_t ngx_http_oauth2_send_html(ngx_http_request_t *r,
    ngx_uint_t status, ngx_buf_t *b);

/* sends b (NULL: no body) as the whole answer, of type type, with the
 * headers every answer of the module carries; finalizes: NGX_DONE */
ngx_int_t ngx_http_oauth2_send(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *type, ngx_buf_t *b);
ngx_int_t ngx_http_oauth2_no_store(ngx_http_request_t *r);
ngx_uint_t ngx_http_oauth2_secure(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf);
ngx_int_t ngx_http_oauth2_add_header(ngx_http_request_t *r,
    const char *name, const char *value);
/*
 * Refuses the request with error err (NGX_HTTP_OAUTH2_ERR_*): its reason
 * goes into $oauth2_error; where the location has an error_page for the
 * status, the status is returned for nginx to serve it, else the module's
 * own page is sent (detail, if not NULL, shown escaped) and NGX_DONE
 * returned.  For the access phase to return.
 */
ngx_int_t ngx_http_oauth2_fail(ngx_http_request_t *r, ngx_uint_t err,
    ngx_str_t *detail);

/* the reasons of every NGX_HTTP_OAUTH2_ERR_*, by number, in pool; *n of
 * them (the metrics' labels) */
ngx_str_t *ngx_http_oauth2_error_reasons(ngx_pool_t *pool, ngx_uint_t *n);

/* the reason of the request's refusal, empty if none */
ngx_str_t *ngx_http_oauth2_error(ngx_http_request_t *r);

/* a redirect (status 302 or 303) to url, not to be cached: the status,
 * for the access phase to return */
ngx_int_t ngx_http_oauth2_redirect(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *url);


#endif /* _NGX_HTTP_OAUTH2_REPLY_H_INCLUDED_ */
