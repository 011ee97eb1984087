
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * The checks of request data that builds URLs (ngx_http_oauth2_url.c):
 * the input is tried as a Host header value and as a URL to send a
 * browser back to.  Whatever passes must hold what the callers rely on:
 * a host has no byte that could end the authority ("@", "/", "\", "?",
 * "#"), no white space or control byte, and a port of digits in 1-65535;
 * a local URL is ASCII without control bytes, spaces or "\", starts
 * with one "/" that no "/" or "\" follows, and keeps the input's bytes
 * (only bytes above 0x7f percent-encoded).  A URL taken for a loopback
 * one starts with "http://" or "https://".
 *
 * Seeds: host names, addresses, the attacks of issue 11.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_shim.h"
#include "ngx_http_oauth2_url.h"


static void fuzz_host(u_char *data, size_t size);
static void fuzz_local(ngx_pool_t *pool, u_char *data, size_t size);
static void fuzz_loopback(u_char *data, size_t size);


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ngx_shim_init(NGX_LOG_DEBUG_ALL, "FUZZ_VERBOSE");

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char      *copy;
    ngx_pool_t  *pool;

    pool = ngx_shim_pool();

    /* an exact-size copy, so that ASan sees any read past the end */

    copy = malloc(size ? size : 1);
    if (copy == NULL) {
        abort();
    }

    ngx_memcpy(copy, data, size);

    fuzz_host(copy, size);
    fuzz_local(pool, copy, size);
    fuzz_loopback(copy, size);

    free(copy);
    ngx_destroy_pool(pool);

    return 0;
}


static void
fuzz_host(u_char *data, size_t size)
{
    size_t      i;
    ngx_str_t   host, name;
    ngx_uint_t  port;

    host.data = data;
    host.len = size;

    if (ngx_http_oauth2_host_valid(&host, &name) != NGX_OK) {
        return;
    }

    if (name.data != host.data || name.len == 0 || name.len > host.len) {
        fprintf(stderr, "fuzz_url: host name is not a prefix\n");
        abort();
    }

    for (i = 0; i < name.len; i++) {
        if (data[i] <= ' ' || data[i] >= 0x7f || data[i] == '@'
            || data[i] == '/' || data[i] == '\\' || data[i] == '?'
            || data[i] == '#' || data[i] == '%')
        {
            fprintf(stderr, "fuzz_url: host with byte 0x%02x\n", data[i]);
            abort();
        }
    }

    if (name.len == host.len) {
        return;
    }

    if (data[name.len] != ':' || host.len - name.len < 2
        || host.len - name.len > 6)
    {
        fprintf(stderr, "fuzz_url: bad port separator\n");
        abort();
    }

    port = 0;

    for (i = name.len + 1; i < host.len; i++) {
        if (data[i] < '0' || data[i] > '9') {
            fprintf(stderr, "fuzz_url: port with byte 0x%02x\n", data[i]);
            abort();
        }

        port = port * 10 + (data[i] - '0');
    }

    if (port < 1 || port > 65535) {
        fprintf(stderr, "fuzz_url: port %lu\n", (unsigned long) port);
        abort();
    }
}


static void
fuzz_local(ngx_pool_t *pool, u_char *data, size_t size)
{
    size_t      i, j;
    ngx_int_t   rc;
    ngx_str_t   in, out;

    static u_char  hex[] = "0123456789ABCDEF";

    in.data = data;
    in.len = size;

    rc = ngx_http_oauth2_local_url(pool, &in, &out);

    if (rc == NGX_ERROR) {
        abort();
    }

    if (rc != NGX_OK) {
        return;
    }

    if (out.len == 0 || out.data[0] != '/'
        || (out.len > 1 && (out.data[1] == '/' || out.data[1] == '\\')))
    {
        fprintf(stderr, "fuzz_url: local URL leaves the host\n");
        abort();
    }

    /* the same bytes, the high ones as %XX */

    for (i = 0, j = 0; i < in.len; i++) {

        if (out.data[j] <= ' ' || out.data[j] >= 0x7f
            || out.data[j] == '\\')
        {
            fprintf(stderr, "fuzz_url: local URL with byte 0x%02x\n",
                    out.data[j]);
            abort();
        }

        if (in.data[i] < 0x80) {
            if (j >= out.len || out.data[j] != in.data[i]) {
                fprintf(stderr, "fuzz_url: local URL changed\n");
                abort();
            }

            j++;
            continue;
        }

        if (j + 3 > out.len || out.data[j] != '%'
            || out.data[j + 1] != hex[in.data[i] >> 4]
            || out.data[j + 2] != hex[in.data[i] & 0xf])
        {
            fprintf(stderr, "fuzz_url: bad escape\n");
            abort();
        }

        j += 3;
    }

    if (j != out.len) {
        fprintf(stderr, "fuzz_url: local URL longer than its input\n");
        abort();
    }
}


/* a URL taken for a loopback one is http or https */

static void
fuzz_loopback(u_char *data, size_t size)
{
    ngx_str_t  url;

    url.data = data;
    url.len = size;

    if (!ngx_http_oauth2_url_is_loopback(&url)) {
        return;
    }

    if (ngx_http_oauth2_url_host(&url) == NULL) {
        fprintf(stderr, "fuzz_url: loopback URL of another scheme\n");
        abort();
    }
}
