
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


#ifndef _NGX_HTTP_OAUTH2_BACKCHANNEL_H_INCLUDED_
#define _NGX_HTTP_OAUTH2_BACKCHANNEL_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_module.h"


/* backchannel_logout_uri (ngx_http_oauth2_backchannel.c) */
ngx_int_t ngx_http_oauth2_backchannel(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf, ngx_http_oauth2_provider_t *p);

/* configuration checks; the sessions keep the "sid" claim when a
 * provider has backchannel_logout_uri */
ngx_int_t ngx_http_oauth2_backchannel_init(ngx_conf_t *cf,
    ngx_http_oauth2_main_conf_t *omcf);


#endif /* _NGX_HTTP_OAUTH2_BACKCHANNEL_H_INCLUDED_ */
