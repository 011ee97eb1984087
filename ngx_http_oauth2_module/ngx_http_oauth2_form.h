
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * Query and form parameters, parsed (ngx_http_oauth2_form.c)
 */


#ifndef _NGX_HTTP_OAUTH2_FORM_H_INCLUDED_
#define _NGX_HTTP_OAUTH2_FORM_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* the longest query or form parameter taken */
#define NGX_HTTP_OAUTH2_MAX_PARAM        4096


/* a query argument of the request, percent-decoded: NGX_OK, NGX_DECLINED
 * if absent, empty, longer than NGX_HTTP_OAUTH2_MAX_PARAM or holding a
 * control character */
ngx_int_t ngx_http_oauth2_get_param(ngx_http_request_t *r,
    const char *name, ngx_str_t *value);

/* a parameter of an application/x-www-form-urlencoded body, decoded:
 * NGX_OK, NGX_DECLINED if absent */
ngx_int_t ngx_http_oauth2_form_param(ngx_pool_t *pool, ngx_str_t *body,
    const char *name, ngx_str_t *value);


#endif /* _NGX_HTTP_OAUTH2_FORM_H_INCLUDED_ */
