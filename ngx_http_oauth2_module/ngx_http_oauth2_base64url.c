
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * base64url decoding, shared by the sealed cookies and the JWTs: the one
 * decoder of the module, strict or not as its caller needs.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_oauth2_base64url.h"


/*
 * base64url (RFC 4648, section 5) decoding: the value of each character,
 * 64 for those outside the alphabet ("=" included: values are never
 * padded); no value has that bit
 */

static const u_char  ngx_http_oauth2_base64url[256] = {
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 62, 64, 64,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 64, 64, 64, 64, 64, 64,
    64,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14,
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 64, 64, 64, 64, 63,
    64, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64
};


/*
 * In one pass, four characters at a time: nginx's ngx_decode_base64url()
 * checks every character first, then decodes, and takes a third of what
 * opening a session costs.
 */

ngx_int_t
ngx_http_oauth2_base64url_decode(ngx_str_t *dst, ngx_str_t *src,
    ngx_uint_t flags)
{
    u_char        *d, *s;
    size_t         n;
    uint32_t       v;
    const u_char  *b;

    b = ngx_http_oauth2_base64url;
    d = dst->data;
    s = src->data;

    for (n = src->len; n >= 4; n -= 4) {

        if ((b[s[0]] | b[s[1]] | b[s[2]] | b[s[3]]) & 64) {
            return NGX_ERROR;
        }

        v = (uint32_t) b[s[0]] << 18 | (uint32_t) b[s[1]] << 12
            | (uint32_t) b[s[2]] << 6 | b[s[3]];

        *d++ = (u_char) (v >> 16);
        *d++ = (u_char) (v >> 8);
        *d++ = (u_char) v;

        s += 4;
    }

    switch (n) {

    case 0:
        break;

    case 2:
        if ((b[s[0]] | b[s[1]]) & 64
            || ((flags & NGX_HTTP_OAUTH2_BASE64URL_STRICT)
                && (b[s[1]] & 0x0f)))
        {
            return NGX_ERROR;
        }

        *d++ = (u_char) (b[s[0]] << 2 | b[s[1]] >> 4);
        break;

    case 3:
        if ((b[s[0]] | b[s[1]] | b[s[2]]) & 64
            || ((flags & NGX_HTTP_OAUTH2_BASE64URL_STRICT)
                && (b[s[2]] & 0x03)))
        {
            return NGX_ERROR;
        }

        *d++ = (u_char) (b[s[0]] << 2 | b[s[1]] >> 4);
        *d++ = (u_char) (b[s[1]] << 4 | b[s[2]] >> 2);
        break;

    default: /* 1 */
        return NGX_ERROR;
    }

    dst->len = d - dst->data;

    return NGX_OK;
}
