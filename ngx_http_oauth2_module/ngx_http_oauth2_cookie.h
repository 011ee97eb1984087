
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * The module's cookies on the wire: finding them in the request's Cookie
 * headers (values split over numbered chunks reassembled), stripping them
 * from what goes upstream, and Set-Cookie headers (chunked when long).
 * Values are opaque here: what they hold is ngx_http_oauth2_seal.h's.
 */


#ifndef _NGX_HTTP_OAUTH2_COOKIE_H_INCLUDED_
#define _NGX_HTTP_OAUTH2_COOKIE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/*
 * What a walk saw of one Cookie header: the pairs that are not the named
 * cookie's (nor its chunks' or state cookies') are start..end, unless one
 * of ours sits between two of them (split).  cookie_get keeps it for a
 * request's only Cookie header, so that cookie_strip need not walk the
 * header again.
 */
typedef struct {
    ngx_str_t                 *name;
    ngx_table_elt_t           *header;    /* NULL: nothing to reuse */
    u_char                    *data;      /* the header's value as seen */
    size_t                     len;
    u_char                    *start;     /* NULL: no pair but ours */
    u_char                    *end;
    unsigned                   own:1;     /* at least one pair is ours */
    unsigned                   split:1;
} ngx_http_oauth2_cookie_scan_t;

/*
 * Request cookies.  cookie_get finds a cookie by name, reassembling a
 * value split over numbered chunks; NGX_DECLINED if absent or if its
 * chunks are inconsistent.  The first of several same-named cookies wins.
 * The value points into the request headers (or, reassembled, r->pool).
 * scan, if not NULL, is filled for cookie_strip.  Works with nginx before
 * and after 1.23's change of r->headers_in.cookies.
 */
ngx_int_t ngx_http_oauth2_cookie_get(ngx_http_request_t *r, ngx_str_t *name,
    ngx_str_t *value, ngx_http_oauth2_cookie_scan_t *scan);

/* calls handler for every request cookie whose name starts with prefix;
 * a handler result other than NGX_OK stops the walk and is returned */
typedef ngx_int_t (*ngx_http_oauth2_cookie_pt)(ngx_http_request_t *r,
    ngx_str_t *name, ngx_str_t *value, void *data);
ngx_int_t ngx_http_oauth2_cookie_each(ngx_http_request_t *r,
    ngx_str_t *prefix, ngx_http_oauth2_cookie_pt handler, void *data);

/* at most the bytes a value of len bytes set by cookie_set takes in a
 * request's Cookie header, chunks included */
size_t ngx_http_oauth2_cookie_wire_len(ngx_str_t *name, size_t len);

/* the flags of cookie_set's "secure" */
#define NGX_HTTP_OAUTH2_COOKIE_SECURE      0x01
#define NGX_HTTP_OAUTH2_COOKIE_CROSS_SITE  0x02   /* SameSite=None; Secure */

/*
 * Adds Set-Cookie headers: HttpOnly, SameSite=Lax (SameSite=None and
 * Secure with NGX_HTTP_OAUTH2_COOKIE_CROSS_SITE), Path=/, Secure if
 * secure, Domain if given, Max-Age=max_age (0 deletes, negative leaves
 * Max-Age out: a browser-session cookie).  A value longer than one cookie
 * may hold is split over numbered chunks, and chunks a previous, longer
 * value left behind are deleted.  NGX_DECLINED: the value is too long
 * even for 16 chunks, nothing was set.
 */
ngx_int_t ngx_http_oauth2_cookie_set(ngx_http_request_t *r, ngx_str_t *name,
    ngx_str_t *value, time_t max_age, ngx_uint_t secure, ngx_str_t *domain);

/*
 * Removes the cookie named prefix and those named prefix followed by "_"
 * (its chunks and state cookies) from the request headers passed
 * upstream: what is left of a header is the piece of it from the first
 * other pair to the last, unless one of ours sat between two others (then
 * those after it are joined with "; "); a header left empty is dropped.
 * scan (may be NULL) is what cookie_get saw for the same prefix: if the
 * header still has that value, the walk is spared.
 */
ngx_int_t ngx_http_oauth2_cookie_strip(ngx_http_request_t *r,
    ngx_str_t *prefix, ngx_http_oauth2_cookie_scan_t *scan);

/*
 * The request's Cookie headers as they are now (*saved NULL: there are
 * none), whether a strip changed them since, and swapping the headers'
 * values with the saved ones (twice: as they were): a location that
 * strips the module's cookies without using them may internally redirect
 * to one that needs them, or make a subrequest into one.
 */
typedef struct {
    ngx_table_elt_t           *header;
    ngx_str_t                  value;
    ngx_uint_t                 hash;
} ngx_http_oauth2_cookie_saved_t;

ngx_int_t ngx_http_oauth2_cookie_save(ngx_http_request_t *r,
    ngx_array_t **saved);
ngx_uint_t ngx_http_oauth2_cookie_changed(ngx_array_t *saved);
void ngx_http_oauth2_cookie_swap(ngx_array_t *saved);


#endif /* _NGX_HTTP_OAUTH2_COOKIE_H_INCLUDED_ */
