
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * Parsing the parameters of a query string (the callback's) and of an
 * application/x-www-form-urlencoded body (GitHub's token answer, a
 * back-channel logout), percent-decoded and bounded.  Pure apart from
 * nginx's own argument lookup: the fuzzer t/fuzz/fuzz_query.c links this
 * file as it is.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_form.h"


/* a query argument, percent-decoded, bounded in size */

ngx_int_t
ngx_http_oauth2_get_param(ngx_http_request_t *r, const char *name,
    ngx_str_t *value)
{
    u_char     *dst, *src;
    ngx_str_t   raw;

    if (ngx_http_arg(r, (u_char *) name, ngx_strlen(name), &raw) != NGX_OK) {
        return NGX_DECLINED;
    }

    if (raw.len == 0 || raw.len > NGX_HTTP_OAUTH2_MAX_PARAM) {
        return NGX_DECLINED;
    }

    value->data = ngx_pnalloc(r->pool, raw.len);
    if (value->data == NULL) {
        return NGX_ERROR;
    }

    dst = value->data;
    src = raw.data;

    ngx_unescape_uri(&dst, &src, raw.len, 0);

    value->len = dst - value->data;

    for (src = value->data; src < dst; src++) {
        if (*src < ' ' || *src == 0x7f) {
            return NGX_DECLINED;
        }
    }

    return value->len ? NGX_OK : NGX_DECLINED;
}


/* a parameter of an application/x-www-form-urlencoded body */

ngx_int_t
ngx_http_oauth2_form_param(ngx_pool_t *pool, ngx_str_t *body,
    const char *name, ngx_str_t *value)
{
    u_char  *p, *last, *end, *dst, *src;
    size_t   len;

    len = ngx_strlen(name);
    p = body->data;
    last = body->data + body->len;

    while (p < last) {
        end = ngx_strlchr(p, last, '&');
        if (end == NULL) {
            end = last;
        }

        if ((size_t) (end - p) > len && p[len] == '='
            && ngx_strncmp(p, name, len) == 0)
        {
            p += len + 1;

            value->data = ngx_pnalloc(pool, end - p);
            if (value->data == NULL) {
                return NGX_ERROR;
            }

            dst = value->data;
            src = p;
            ngx_unescape_uri(&dst, &src, end - p, 0);
            value->len = dst - value->data;

            return NGX_OK;
        }

        p = end + 1;
    }

    return NGX_DECLINED;
}
