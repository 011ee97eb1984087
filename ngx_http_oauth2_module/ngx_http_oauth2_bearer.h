
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * API callers: the access token of "Authorization: Bearer" checked as a
 * JWT access token (RFC 9068) with the provider's keys, remembered in the
 * shared zone by a hash of it, and made the request's session.
 * (ngx_http_oauth2_bearer.c)
 */


#ifndef _NGX_HTTP_OAUTH2_BEARER_H_INCLUDED_
#define _NGX_HTTP_OAUTH2_BEARER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_module.h"


/*
 * The bearer check of a location.  NGX_OK: a valid access token of
 * provider p, which is the request's session now (ctx->bearer) and passed
 * oauth2_require; NGX_DECLINED: the request carries no Bearer credentials
 * and fallback allows another way in (the cookie); NGX_AGAIN: it waits
 * for the provider's keys; anything else is the refusal (RFC 6750) to
 * return from the access phase.
 */
ngx_int_t ngx_http_oauth2_bearer_check(ngx_http_request_t *r,
    ngx_http_oauth2_provider_t *p, ngx_uint_t fallback);

/* 1 if the request carries an Authorization header of the Bearer scheme
 * (well-formed or not) */
ngx_uint_t ngx_http_oauth2_bearer_sent(ngx_http_request_t *r);


#endif /* _NGX_HTTP_OAUTH2_BEARER_H_INCLUDED_ */
