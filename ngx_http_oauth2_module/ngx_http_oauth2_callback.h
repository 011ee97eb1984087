
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * The callback (the path of the provider's redirect_uri, whatever location
 * it falls in) is a small state machine kept in the request's context:
 * (ngx_http_oauth2_callback.c)
 */


#ifndef _NGX_HTTP_OAUTH2_CALLBACK_H_INCLUDED_
#define _NGX_HTTP_OAUTH2_CALLBACK_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_module.h"


ngx_http_oauth2_provider_t *ngx_http_oauth2_callback_provider(
    ngx_http_request_t *r, ngx_http_oauth2_main_conf_t *omcf);
ngx_int_t ngx_http_oauth2_callback(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf, ngx_http_oauth2_provider_t *p);


#endif /* _NGX_HTTP_OAUTH2_CALLBACK_H_INCLUDED_ */
