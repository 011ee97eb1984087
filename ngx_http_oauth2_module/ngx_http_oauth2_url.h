
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


#ifndef _NGX_HTTP_OAUTH2_URL_H_INCLUDED_
#define _NGX_HTTP_OAUTH2_URL_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/* "[" 45 bytes of IPv6 "]" ":65535", or 253 bytes of name and a port */
#define NGX_HTTP_OAUTH2_MAX_HOST          260

/* a longer URL to come back to is replaced with "/" */
#define NGX_HTTP_OAUTH2_MAX_LOCAL_URL     2048


/*
 * A Host header value: a DNS name (letters, digits, "-", "_", dots), an
 * IPv4 address, or an IPv6 literal in brackets, then optionally ":" and a
 * port 1-65535.  Anything else ("@", "?", "#", "/", "\", spaces, control
 * bytes, an empty port) is NGX_DECLINED.  name is set to the host without
 * its port.
 */
ngx_int_t ngx_http_oauth2_host_valid(ngx_str_t *host, ngx_str_t *name);

/*
 * A URL taken from a request that the module sends a browser back to
 * (return-to after login, the chooser's links): it must be a path on
 * this host, "/" then anything but "/" or "\", with no control byte,
 * space, DEL or "\" anywhere, and at most NGX_HTTP_OAUTH2_MAX_LOCAL_URL
 * bytes.  out is in itself, or a copy with bytes above 0x7f
 * percent-encoded.  NGX_DECLINED: not such a URL; NGX_ERROR: no memory.
 */
ngx_int_t ngx_http_oauth2_local_url(ngx_pool_t *pool, ngx_str_t *in,
    ngx_str_t *out);


#endif /* _NGX_HTTP_OAUTH2_URL_H_INCLUDED_ */
