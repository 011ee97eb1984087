
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * Opaque access tokens: RFC 7662 introspection, one call per token across
 * the workers, its answer checked.
 * (ngx_http_oauth2_introspect.c)
 */


#ifndef _NGX_HTTP_OAUTH2_INTROSPECT_H_INCLUDED_
#define _NGX_HTTP_OAUTH2_INTROSPECT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_module.h"
#include "ngx_http_oauth2_shm.h"


/*
 * Starts the introspection of token for r, whose access handler then
 * returns NGX_AGAIN: the request is woken when the call ends
 * (ctx->introspected set).  key is the token's entry in the shared zone,
 * RUNNING for this request: if the request goes away first, the entry is
 * removed so that another may call.  NGX_AGAIN, or NGX_ERROR (logged).
 */
ngx_int_t ngx_http_oauth2_introspect_start(ngx_http_request_t *r,
    ngx_http_oauth2_provider_t *p, ngx_str_t *token, u_char *key);

/*
 * The answer of the call started: NGX_OK for an active token (claims: the
 * answer's JSON text; exp: its exp, 0 if none), NGX_DECLINED and *err for
 * one that is inactive or fails a check, NGX_ERROR if the provider failed
 * (logged).
 */
ngx_int_t ngx_http_oauth2_introspect_result(ngx_http_request_t *r,
    ngx_http_oauth2_provider_t *p, ngx_str_t *claims, time_t *exp,
    const char **err);

/* another request introspects the token: r is woken in 25 ms to look
 * at the shared zone again; NGX_AGAIN or NGX_ERROR */
ngx_int_t ngx_http_oauth2_introspect_wait(ngx_http_request_t *r);


#endif /* _NGX_HTTP_OAUTH2_INTROSPECT_H_INCLUDED_ */
