
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

/*
 * NGX_OK if s has no control byte, space, DEL, "\"", "<" or ">", nor,
 * when strict, "#" or "\": the bytes that would break a URL or a path
 * where the module writes it out; else NGX_DECLINED
 */
ngx_int_t ngx_http_oauth2_url_chars(ngx_str_t *s, ngx_uint_t strict);

/*
 * What follows "https://" or "http://" (either in any case) in url, NULL
 * for any other scheme or nothing after it.  The caller tells the two
 * apart by the offset: 8 or 7.
 */
u_char *ngx_http_oauth2_url_host(ngx_str_t *url);

/*
 * 1 if url is "http://" or "https://" to a loopback address (the host
 * after any user information): localhost, 127.0.0.0/8, [::1] or
 * [::ffff:127.x.x.x], then nothing but an optional port; else 0
 */
ngx_int_t ngx_http_oauth2_url_is_loopback(ngx_str_t *url);

#endif /* _NGX_HTTP_OAUTH2_URL_H_INCLUDED_ */
