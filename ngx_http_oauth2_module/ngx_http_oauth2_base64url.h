
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * base64url (RFC 4648, section 5) decoding, the module's only decoder:
 * sealed cookies (ngx_http_oauth2_seal.c) and JWS segments and JWK members
 * (ngx_http_oauth2_jwk.c).
 */


#ifndef _NGX_HTTP_OAUTH2_BASE64URL_H_INCLUDED_
#define _NGX_HTTP_OAUTH2_BASE64URL_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/* the unused low bits of the last character must be zero */
#define NGX_HTTP_OAUTH2_BASE64URL_STRICT   1


/*
 * base64url without padding from src into dst->data, which has room for
 * ngx_base64_decoded_length(src->len) bytes; NGX_ERROR for a character
 * outside the alphabet ("=" included), a length of 4k + 1, or with
 * NGX_HTTP_OAUTH2_BASE64URL_STRICT in flags, a last character whose unused
 * bits are not zero (then every value has exactly one encoding, as RFC
 * 7515 wants).  Otherwise those bits are ignored.
 */
ngx_int_t ngx_http_oauth2_base64url_decode(ngx_str_t *dst, ngx_str_t *src,
    ngx_uint_t flags);


#endif /* _NGX_HTTP_OAUTH2_BASE64URL_H_INCLUDED_ */
