
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * Sending a browser to the provider: the provider chooser of a location
 * with several, the authorization request (state, nonce, PKCE), and the
 * state cookies that carry a login in flight.
 * (ngx_http_oauth2_login.c)
 */


#ifndef _NGX_HTTP_OAUTH2_LOGIN_H_INCLUDED_
#define _NGX_HTTP_OAUTH2_LOGIN_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_module.h"


/* how long a login may take, from the redirect to the callback */
#define NGX_HTTP_OAUTH2_STATE_TTL        600


ngx_http_oauth2_provider_t *ngx_http_oauth2_chosen(
    ngx_http_request_t *r, ngx_http_oauth2_loc_conf_t *olcf);
ngx_int_t ngx_http_oauth2_chooser(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf);
ngx_int_t ngx_http_oauth2_login(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf, ngx_http_oauth2_provider_t *p);
ngx_int_t ngx_http_oauth2_redirect_uri(ngx_http_request_t *r,
    ngx_http_oauth2_provider_t *p, ngx_str_t *uri);


#endif /* _NGX_HTTP_OAUTH2_LOGIN_H_INCLUDED_ */
