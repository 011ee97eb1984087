
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

/* a state cookie is named after this many characters of its state */
#define NGX_HTTP_OAUTH2_STATE_NAME_LEN   8


ngx_http_oauth2_provider_t *ngx_http_oauth2_chosen(
    ngx_http_request_t *r, ngx_http_oauth2_loc_conf_t *olcf);
ngx_int_t ngx_http_oauth2_chooser(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf);
ngx_int_t ngx_http_oauth2_login(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf, ngx_http_oauth2_provider_t *p);
ngx_int_t ngx_http_oauth2_redirect_uri(ngx_http_request_t *r,
    ngx_http_oauth2_provider_t *p, ngx_str_t *uri);
/* cookie_set's flags for the provider's state cookies: Secure as the
 * location says, SameSite=None and Secure with response_mode form_post */
ngx_uint_t ngx_http_oauth2_state_cookie_flags(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf, ngx_http_oauth2_provider_t *p);

/* the name of the state cookie of a login: the provider's prefix and the
 * state's first NGX_HTTP_OAUTH2_STATE_NAME_LEN characters */
ngx_int_t ngx_http_oauth2_state_cookie_name(ngx_pool_t *pool,
    ngx_http_oauth2_provider_t *p, ngx_str_t *state, ngx_str_t *name);


#endif /* _NGX_HTTP_OAUTH2_LOGIN_H_INCLUDED_ */
