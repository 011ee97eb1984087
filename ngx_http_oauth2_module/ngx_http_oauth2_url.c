
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * Checks of URL pieces that come from a request: the Host header and the
 * URLs the module sends a browser back to.  Pure functions on bytes, no
 * request or configuration: every URL the module writes into a page or a
 * Location from request data goes through ngx_http_oauth2_local_url(),
 * every host name it writes through ngx_http_oauth2_host_valid().  The
 * fuzzer t/fuzz/fuzz_url.c drives both.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_oauth2_url.h"


static ngx_int_t ngx_http_oauth2_port_valid(u_char *p, u_char *last);
static ngx_int_t ngx_http_oauth2_ipv6_valid(u_char *p, u_char *last);
static ngx_int_t ngx_http_oauth2_name_valid(u_char *p, u_char *last);


ngx_int_t
ngx_http_oauth2_host_valid(ngx_str_t *host, ngx_str_t *name)
{
    u_char  *p, *last, *colon;

    p = host->data;
    last = p + host->len;

    if (host->len == 0 || host->len > NGX_HTTP_OAUTH2_MAX_HOST) {
        return NGX_DECLINED;
    }

    if (*p == '[') {
        colon = ngx_strlchr(p, last, ']');

        if (colon == NULL
            || ngx_http_oauth2_ipv6_valid(p + 1, colon) != NGX_OK)
        {
            return NGX_DECLINED;
        }

        colon++;

        if (colon != last
            && (*colon != ':'
                || ngx_http_oauth2_port_valid(colon + 1, last) != NGX_OK))
        {
            return NGX_DECLINED;
        }

        name->data = p;
        name->len = colon - p;

        return NGX_OK;
    }

    colon = ngx_strlchr(p, last, ':');

    if (colon != NULL) {
        if (ngx_http_oauth2_port_valid(colon + 1, last) != NGX_OK) {
            return NGX_DECLINED;
        }

        last = colon;
    }

    if (ngx_http_oauth2_name_valid(p, last) != NGX_OK) {
        return NGX_DECLINED;
    }

    name->data = p;
    name->len = last - p;

    return NGX_OK;
}


/* 1 to 65535, decimal, no sign, at most five digits */

static ngx_int_t
ngx_http_oauth2_port_valid(u_char *p, u_char *last)
{
    ngx_uint_t  port;

    if (last - p < 1 || last - p > 5) {
        return NGX_DECLINED;
    }

    port = 0;

    for ( /* void */ ; p < last; p++) {
        if (*p < '0' || *p > '9') {
            return NGX_DECLINED;
        }

        port = port * 10 + (*p - '0');
    }

    return (port >= 1 && port <= 65535) ? NGX_OK : NGX_DECLINED;
}


/* hex digits, ":" and "." (an IPv4 tail) only, with at least two colons */

static ngx_int_t
ngx_http_oauth2_ipv6_valid(u_char *p, u_char *last)
{
    ngx_uint_t  colons;

    if (last - p < 2 || last - p > 45) {
        return NGX_DECLINED;
    }

    colons = 0;

    for ( /* void */ ; p < last; p++) {
        if (*p == ':') {
            colons++;
            continue;
        }

        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')
              || (*p >= 'A' && *p <= 'F') || *p == '.'))
        {
            return NGX_DECLINED;
        }
    }

    return colons >= 2 ? NGX_OK : NGX_DECLINED;
}


/*
 * A DNS name or an IPv4 address: labels of letters, digits, "-" and "_"
 * (used by internal names), 1 to 63 bytes, not beginning or ending with
 * "-", separated by single dots, one trailing dot allowed, at most 253
 * bytes in all.
 */

static ngx_int_t
ngx_http_oauth2_name_valid(u_char *p, u_char *last)
{
    u_char  *label;

    if (last > p && last[-1] == '.') {
        last--;
    }

    if (last - p < 1 || last - p > 253) {
        return NGX_DECLINED;
    }

    label = p;

    for ( ;; ) {

        if (p == last || *p == '.') {

            if (p - label < 1 || p - label > 63
                || *label == '-' || p[-1] == '-')
            {
                return NGX_DECLINED;
            }

            if (p == last) {
                return NGX_OK;
            }

            label = ++p;
            continue;
        }

        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
        {
            return NGX_DECLINED;
        }

        p++;
    }
}


ngx_int_t
ngx_http_oauth2_local_url(ngx_pool_t *pool, ngx_str_t *in, ngx_str_t *out)
{
    u_char      *p, *last, *d;
    ngx_uint_t   high;

    static u_char  hex[] = "0123456789ABCDEF";

    p = in->data;
    last = p + in->len;

    if (in->len == 0 || in->len > NGX_HTTP_OAUTH2_MAX_LOCAL_URL
        || p[0] != '/'
        || (in->len > 1 && (p[1] == '/' || p[1] == '\\')))
    {
        return NGX_DECLINED;
    }

    high = 0;

    for ( /* void */ ; p < last; p++) {

        /*
         * Browsers drop tabs and newlines inside URLs and read "\" as "/":
         * "/\t/evil.example" would become "//evil.example".  No control
         * byte, space or backslash passes.
         */

        if (*p <= ' ' || *p == 0x7f || *p == '\\') {
            return NGX_DECLINED;
        }

        if (*p >= 0x80) {
            high++;
        }
    }

    if (high == 0) {
        *out = *in;
        return NGX_OK;
    }

    /* raw UTF-8 of a request line: percent-encoded, so the value is ASCII */

    out->data = ngx_pnalloc(pool, in->len + 2 * high);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    d = out->data;

    for (p = in->data; p < last; p++) {
        if (*p >= 0x80) {
            *d++ = '%';
            *d++ = hex[*p >> 4];
            *d++ = hex[*p & 0xf];

        } else {
            *d++ = *p;
        }
    }

    out->len = d - out->data;

    return NGX_OK;
}
