
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * The Authorization header's Bearer credentials (RFC 6750, section 2.1):
 *
 *     credentials = "Bearer" 1*SP b64token
 *     b64token    = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" )
 *                   *"="
 *
 * The scheme is case-insensitive (RFC 9110, section 11.1).  Spaces or
 * tabs after the token are ignored (nginx keeps trailing white space of a
 * header value only in odd cases); anything else after it is malformed.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_oauth2_authz.h"


ngx_int_t
ngx_http_oauth2_authz_parse(u_char *value, size_t len, ngx_str_t *token)
{
    u_char  *p, *last, *start, c;

    ngx_str_null(token);

    p = value;
    last = value + len;

    /* leading white space is not part of the value, but be lenient */

    while (p < last && (*p == ' ' || *p == '\t')) {
        p++;
    }

    if (last - p < 6 || ngx_strncasecmp(p, (u_char *) "bearer", 6) != 0) {
        return NGX_DECLINED;
    }

    p += 6;

    if (p == last) {
        return NGX_ERROR;               /* "Bearer" alone */
    }

    if (*p != ' ' && *p != '\t') {
        return NGX_DECLINED;            /* "Bearerx": another scheme */
    }

    while (p < last && (*p == ' ' || *p == '\t')) {
        p++;
    }

    start = p;

    while (p < last) {
        c = *p;

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9')
            || c == '-' || c == '.' || c == '_' || c == '~' || c == '+'
            || c == '/')
        {
            p++;
            continue;
        }

        break;
    }

    if (p == start) {
        return NGX_ERROR;               /* no token, or it starts badly */
    }

    while (p < last && *p == '=') {
        p++;
    }

    token->data = start;
    token->len = p - start;

    while (p < last && (*p == ' ' || *p == '\t')) {
        p++;
    }

    if (p != last || token->len > NGX_HTTP_OAUTH2_AUTHZ_MAX_LEN) {
        ngx_str_null(token);
        return NGX_ERROR;
    }

    return NGX_OK;
}
