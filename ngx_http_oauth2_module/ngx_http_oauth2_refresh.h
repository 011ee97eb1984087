
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


#ifndef _NGX_HTTP_OAUTH2_REFRESH_H_INCLUDED_
#define _NGX_HTTP_OAUTH2_REFRESH_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_module.h"
#include "ngx_http_oauth2_ctx.h"


/*
 * Refreshes an expired session that holds a refresh token
 * (ngx_http_oauth2_refresh.c): NGX_OK (ctx->session is valid again and
 * its cookie was resealed), NGX_AGAIN (the request waits), NGX_DECLINED
 * (no refresh possible: log in again).
 */
ngx_int_t ngx_http_oauth2_refresh(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf, ngx_http_oauth2_ctx_t *ctx);

/* a worker exits: drops the refresh calls in flight */
void ngx_http_oauth2_refresh_exit(void);


#endif /* _NGX_HTTP_OAUTH2_REFRESH_H_INCLUDED_ */
