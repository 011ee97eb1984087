
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * The Authorization request header of RFC 6750, section 2.1: the
 * "Bearer" scheme and its b64token, checked without a request or a
 * configuration (a fuzzer links this file alone).
 * (ngx_http_oauth2_authz.c)
 */


#ifndef _NGX_HTTP_OAUTH2_AUTHZ_H_INCLUDED_
#define _NGX_HTTP_OAUTH2_AUTHZ_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/* longer credentials are malformed: no access token is this large */
#define NGX_HTTP_OAUTH2_AUTHZ_MAX_LEN  16384


/*
 * One Authorization header value.  NGX_OK: the "Bearer" scheme (any case)
 * with one b64token, which token points to (into value, no copy);
 * NGX_DECLINED: another scheme (Basic, Negotiate, ...), nothing for us;
 * NGX_ERROR: "Bearer" with no token, several, a byte a b64token may not
 * hold, or too long (400 invalid_request).
 */
ngx_int_t ngx_http_oauth2_authz_parse(u_char *value, size_t len,
    ngx_str_t *token);


#endif /* _NGX_HTTP_OAUTH2_AUTHZ_H_INCLUDED_ */
