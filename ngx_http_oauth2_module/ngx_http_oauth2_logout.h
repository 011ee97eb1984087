
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


#ifndef _NGX_HTTP_OAUTH2_LOGOUT_H_INCLUDED_
#define _NGX_HTTP_OAUTH2_LOGOUT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_module.h"


/* logout_uri (ngx_http_oauth2_logout.c) */
ngx_int_t ngx_http_oauth2_logout(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf, ngx_http_oauth2_provider_t *p);


#endif /* _NGX_HTTP_OAUTH2_LOGOUT_H_INCLUDED_ */
