
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * Checks of URL pieces: the Host header and the URLs the module sends a
 * browser back to, which come from a request, and the scheme and
 * loopback checks of the provider URLs the configuration and discovery
 * give.  Pure functions on bytes, no request or configuration: every URL
 * the module writes into a page or a Location from request data goes
 * through ngx_http_oauth2_local_url(), every host name it writes through
 * ngx_http_oauth2_host_valid().  The fuzzer t/fuzz/fuzz_url.c drives
 * them all.
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


ngx_int_t
ngx_http_oauth2_url_chars(ngx_str_t *s, ngx_uint_t strict)
{
    u_char  *p, *last;

    last = s->data + s->len;

    for (p = s->data; p < last; p++) {
        if (*p <= ' ' || *p == 0x7f || *p == '"' || *p == '<' || *p == '>'
            || (strict && (*p == '#' || *p == '\\')))
        {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


u_char *
ngx_http_oauth2_url_host(ngx_str_t *url)
{
    if (url->len > 8
        && ngx_strncasecmp(url->data, (u_char *) "https://", 8) == 0)
    {
        return url->data + 8;
    }

    if (url->len > 7
        && ngx_strncasecmp(url->data, (u_char *) "http://", 7) == 0)
    {
        return url->data + 7;
    }

    return NULL;
}


ngx_int_t
ngx_http_oauth2_url_is_loopback(ngx_str_t *url)
{
    u_char     *p, *last, *host, *end;
    size_t      len;
    in_addr_t   addr;
    ngx_uint_t  ipv6;
#if (NGX_HAVE_INET6)
    u_char      addr6[16];
#endif

    p = ngx_http_oauth2_url_host(url);
    if (p == NULL) {
        return 0;
    }

    last = url->data + url->len;

    /* the authority ends at the path, the query or the fragment */

    host = p;

    while (p < last && *p != '/' && *p != '?' && *p != '#') {
        if (*p == '@') {
            host = p + 1;
        }

        p++;
    }

    last = p;
    ipv6 = 0;

    if (host < last && *host == '[') {
        end = ngx_strlchr(host, last, ']');
        if (end == NULL) {
            return 0;
        }

        host++;
        len = end - host;
        p = end + 1;
        ipv6 = 1;

    } else {
        end = ngx_strlchr(host, last, ':');
        if (end == NULL) {
            end = last;
        }

        len = end - host;
        p = end;
    }

    /* nothing but a port may follow */

    if (p < last) {
        if (*p++ != ':') {
            return 0;
        }

        for ( /* void */ ; p < last; p++) {
            if (*p < '0' || *p > '9') {
                return 0;
            }
        }
    }

    if (len == 0) {
        return 0;
    }

    if (ipv6) {
#if (NGX_HAVE_INET6)
        if (ngx_inet6_addr(host, len, addr6) != NGX_OK) {
            return 0;
        }

        /* ::1, or ::ffff:127.x.x.x */

        if (addr6[15] == 1
            && ngx_memcmp(addr6, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 15) == 0)
        {
            return 1;
        }

        if (ngx_memcmp(addr6, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0
            && addr6[12] == 127)
        {
            return 1;
        }
#endif

        return 0;
    }

    if (len == sizeof("localhost") - 1
        && ngx_strncasecmp(host, (u_char *) "localhost", len) == 0)
    {
        return 1;
    }

    addr = ngx_inet_addr(host, len);

    if (addr != INADDR_NONE && (ntohl(addr) >> 24) == 127) {
        return 1;
    }

    return 0;
}
