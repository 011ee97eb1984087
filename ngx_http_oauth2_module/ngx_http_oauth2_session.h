
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * A request's session: opening the provider's cookie (lifetimes, idle
 * time, back-channel revocations), oauth2_require, and sealing it into
 * Set-Cookie within what nginx accepts back.
 * (ngx_http_oauth2_session.c)
 */


#ifndef _NGX_HTTP_OAUTH2_SESSION_H_INCLUDED_
#define _NGX_HTTP_OAUTH2_SESSION_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_module.h"
#include "ngx_http_oauth2_ctx.h"


/* opens the request's session cookie at most once; the ctx or NULL */
ngx_http_oauth2_ctx_t *ngx_http_oauth2_get_session(ngx_http_request_t *r);

/* when the session is to be refreshed by, or ends: its end, or sooner
 * the expiry of the access token it keeps */
time_t ngx_http_oauth2_session_end(ngx_http_oauth2_session_t *s);

/* every oauth2_require rule of the location holds: NGX_OK, else
 * NGX_DECLINED (logged at info) */
ngx_int_t ngx_http_oauth2_session_require(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf, ngx_http_oauth2_ctx_t *ctx);

/* seals ctx->session into the provider's session cookie (Set-Cookie);
 * NGX_DECLINED: it does not fit, even without tokens */
/*
 * The audit line of a login or logout (what: "logged in", "logged out"):
 * at info level, the provider and the user's sub, escaped; the error
 * log adds the client's address.  Never a token.
 */
void ngx_http_oauth2_session_audit(ngx_http_request_t *r,
    ngx_http_oauth2_provider_t *p, ngx_str_t *sub, const char *what);

ngx_int_t ngx_http_oauth2_session_save(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf, ngx_http_oauth2_ctx_t *ctx);


#endif /* _NGX_HTTP_OAUTH2_SESSION_H_INCLUDED_ */
