
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * The callback's request method as the provider's response_mode wants
 * it, the POSTed form of "response_mode form_post" read without blocking,
 * and the callback's parameters from that form or from the query.
 * (ngx_http_oauth2_form_post.c)
 */


#ifndef _NGX_HTTP_OAUTH2_FORM_POST_H_INCLUDED_
#define _NGX_HTTP_OAUTH2_FORM_POST_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_module.h"


/*
 * Before a callback request for provider p is handled: NGX_OK when its
 * parameters can be read (a GET for a query provider, a POST for a
 * form_post one, its form read); NGX_DONE or NGX_AGAIN while nginx reads
 * the form (the request is woken when it is, and the provider is then
 * chosen again, by the form's state); else a refusal for the access phase
 * to return (405, or a 400 page: a GET for form_post, a POST for query,
 * not a form, a form larger than 16 KB)
 */
ngx_int_t ngx_http_oauth2_form_post(ngx_http_request_t *r,
    ngx_http_oauth2_provider_t *p);

/* a callback parameter, from the POSTed form once read, else from the
 * query, as ngx_http_oauth2_get_param() takes it */
ngx_int_t ngx_http_oauth2_callback_param(ngx_http_request_t *r,
    const char *name, ngx_str_t *value);


#endif /* _NGX_HTTP_OAUTH2_FORM_POST_H_INCLUDED_ */
