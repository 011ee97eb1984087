
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * The access phase: which requests the module handles (callback,
 * logout, back-channel logout, protected locations, subrequests), and
 * for a protected location a session that passes, a refresh, a login or
 * 401; the module's cookies are kept from every upstream.
 * (ngx_http_oauth2_access.c)
 */


#ifndef _NGX_HTTP_OAUTH2_ACCESS_H_INCLUDED_
#define _NGX_HTTP_OAUTH2_ACCESS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_module.h"


ngx_int_t ngx_http_oauth2_access_handler(ngx_http_request_t *r);
/* subrequests into protected locations (precontent phase) */
ngx_int_t ngx_http_oauth2_subrequest_handler(ngx_http_request_t *r);


#endif /* _NGX_HTTP_OAUTH2_ACCESS_H_INCLUDED_ */
