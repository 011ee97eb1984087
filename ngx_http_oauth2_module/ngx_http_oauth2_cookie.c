
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * Cookies: the Cookie header parsing (pairs, the module's cookies and
 * their numbered chunks), stripping the module's cookies from the request
 * headers, saving and swapping those headers, and Set-Cookie headers with
 * their attributes, split over chunks when a value is too long for one.
 * Values are opaque strings: nothing here seals, opens or decodes.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_cookie.h"


/* a Set-Cookie header value never exceeds this many bytes */
#define NGX_HTTP_OAUTH2_COOKIE_MAX_LEN   4000
#define NGX_HTTP_OAUTH2_COOKIE_CHUNKS    16
#define NGX_HTTP_OAUTH2_CHUNK_MARKER     "chunks."
#define NGX_HTTP_OAUTH2_CHUNK_SUFFIX_MAX (sizeof("_16") - 1)
#define NGX_HTTP_OAUTH2_COOKIE_EPOCH     "Thu, 01 Jan 1970 00:00:00 GMT"


typedef ngx_int_t (*ngx_http_oauth2_pair_pt)(ngx_str_t *name,
    ngx_str_t *value, void *data);


typedef struct {
    ngx_uint_t                 i;
    ngx_table_elt_t           *h;
} ngx_http_oauth2_cookie_iter_t;


typedef struct {
    ngx_str_t                 *name;
    ngx_str_t                  value;
    ngx_uint_t                 found;
    uint32_t                   seen;      /* bit k: NAME_k is present */
    ngx_str_t                  chunks[NGX_HTTP_OAUTH2_COOKIE_CHUNKS + 1];
} ngx_http_oauth2_cookie_find_t;


typedef struct {
    ngx_http_request_t        *request;
    ngx_str_t                 *prefix;
    ngx_http_oauth2_cookie_pt  handler;
    void                      *data;
} ngx_http_oauth2_cookie_each_t;


typedef struct {
    time_t                     max_age;
    ngx_uint_t                 secure;
    ngx_uint_t                 cross_site;  /* SameSite=None */
    ngx_str_t                 *domain;
} ngx_http_oauth2_cookie_attrs_t;


static ngx_table_elt_t *ngx_http_oauth2_cookie_next_header(
    ngx_http_request_t *r, ngx_http_oauth2_cookie_iter_t *it);
static ngx_int_t ngx_http_oauth2_cookie_next_pair(u_char **pos, u_char *last,
    ngx_str_t *pair, ngx_str_t *name, ngx_str_t *value);
static ngx_int_t ngx_http_oauth2_cookie_walk(ngx_http_request_t *r,
    ngx_http_oauth2_pair_pt handler, void *data);
static void ngx_http_oauth2_cookie_find_pair(
    ngx_http_oauth2_cookie_find_t *find, ngx_str_t *name, ngx_str_t *value);
static ngx_int_t ngx_http_oauth2_cookie_each_pair(ngx_str_t *name,
    ngx_str_t *value, void *data);
static void ngx_http_oauth2_cookie_scan(ngx_table_elt_t *h, ngx_str_t *base,
    ngx_http_oauth2_cookie_find_t *find,
    ngx_http_oauth2_cookie_scan_t *scan);
static void ngx_http_oauth2_cookie_find(ngx_http_request_t *r,
    ngx_http_oauth2_cookie_find_t *find,
    ngx_http_oauth2_cookie_scan_t *scan);
static ngx_int_t ngx_http_oauth2_cookie_rejoin(ngx_http_request_t *r,
    ngx_table_elt_t *h, ngx_str_t *prefix);
static ngx_uint_t ngx_http_oauth2_chunk_number(u_char *p, size_t len);
static ngx_uint_t ngx_http_oauth2_has_prefix(ngx_str_t *s,
    ngx_str_t *prefix);
static ngx_uint_t ngx_http_oauth2_own_cookie(ngx_str_t *s, ngx_str_t *base);
static size_t ngx_http_oauth2_decimal_len(uint64_t v);
static size_t ngx_http_oauth2_cookie_attrs_len(
    ngx_http_oauth2_cookie_attrs_t *a);
static u_char *ngx_http_oauth2_cookie_attrs_write(u_char *p,
    ngx_http_oauth2_cookie_attrs_t *a);
static ngx_int_t ngx_http_oauth2_cookie_header(ngx_http_request_t *r,
    ngx_str_t *name, ngx_uint_t chunk, u_char *value, size_t len,
    ngx_http_oauth2_cookie_attrs_t *a);
static ngx_int_t ngx_http_oauth2_cookie_delete_chunks(ngx_http_request_t *r,
    ngx_str_t *name, uint32_t seen, ngx_uint_t from,
    ngx_http_oauth2_cookie_attrs_t *a);



static ngx_table_elt_t *
ngx_http_oauth2_cookie_next_header(ngx_http_request_t *r,
    ngx_http_oauth2_cookie_iter_t *it)
{
#if (nginx_version >= 1023000)

    it->h = (it->i++ == 0) ? r->headers_in.cookie : it->h->next;

    while (it->h != NULL && it->h->hash == 0) {
        it->h = it->h->next;
    }

    return it->h;

#else

    ngx_table_elt_t  **hh;

    hh = r->headers_in.cookies.elts;

    while (it->i < r->headers_in.cookies.nelts) {
        it->h = hh[it->i++];

        if (it->h->hash != 0) {
            return it->h;
        }
    }

    return NULL;

#endif
}


/*
 * Splits a Cookie header value at ";" (RFC 6265, 5.4 and 4.2.1, leniently):
 * pair is the item without surrounding white space, name and value are its
 * parts around the first "=" (name empty if there is none), each without
 * surrounding white space, and value without one pair of double quotes.
 */

static ngx_int_t
ngx_http_oauth2_cookie_next_pair(u_char **pos, u_char *last, ngx_str_t *pair,
    ngx_str_t *name, ngx_str_t *value)
{
    u_char  *p, *start, *end, *eq;

    p = *pos;

    for ( ;; ) {

        while (p < last && (*p == ' ' || *p == '\t' || *p == ';')) {
            p++;
        }

        if (p >= last) {
            *pos = p;
            return NGX_DONE;
        }

        start = p;

        /*
         * memchr() rather than a loop over every byte: sealed values are
         * long, and a request to a protected location walks its Cookie
         * headers up to three times (the session cookie, then
         * oauth2_strip_cookies); "p >= last" above lets gcc see that the
         * length is positive (-Wstringop-overread)
         */

        p = memchr(start, ';', last - start);

        if (p == NULL) {
            p = last;
        }

        eq = memchr(start, '=', p - start);

        end = p;

        while (end > start && (end[-1] == ' ' || end[-1] == '\t')) {
            end--;
        }

        if (end > start) {
            break;
        }
    }

    *pos = p;

    pair->data = start;
    pair->len = end - start;

    if (eq == NULL) {
        name->data = start;
        name->len = 0;
        value->data = start;
        value->len = pair->len;

        return NGX_OK;
    }

    name->data = start;
    name->len = eq - start;

    while (name->len
           && (name->data[name->len - 1] == ' '
               || name->data[name->len - 1] == '\t'))
    {
        name->len--;
    }

    value->data = eq + 1;

    while (value->data < end && (*value->data == ' ' || *value->data == '\t'))
    {
        value->data++;
    }

    value->len = end - value->data;

    if (value->len >= 2
        && value->data[0] == '"' && value->data[value->len - 1] == '"')
    {
        value->data++;
        value->len -= 2;
    }

    return NGX_OK;
}


/* calls handler for each name=value; any result but NGX_OK stops */

static ngx_int_t
ngx_http_oauth2_cookie_walk(ngx_http_request_t *r,
    ngx_http_oauth2_pair_pt handler, void *data)
{
    u_char                         *p, *last;
    ngx_int_t                       rc;
    ngx_str_t                       pair, name, value;
    ngx_table_elt_t                *h;
    ngx_http_oauth2_cookie_iter_t   it;

    it.i = 0;
    it.h = NULL;

    while ((h = ngx_http_oauth2_cookie_next_header(r, &it)) != NULL) {

        p = h->value.data;
        last = p + h->value.len;

        while (ngx_http_oauth2_cookie_next_pair(&p, last, &pair, &name,
                                                &value)
               == NGX_OK)
        {
            if (name.len == 0) {
                continue;
            }

            rc = handler(&name, &value, data);

            if (rc != NGX_OK) {
                return rc;
            }
        }
    }

    return NGX_OK;
}


/* "NAME_k" with k a canonical decimal in 1..NGX_HTTP_OAUTH2_COOKIE_CHUNKS */

static ngx_uint_t
ngx_http_oauth2_chunk_number(u_char *p, size_t len)
{
    ngx_uint_t  n;

    if (len == 0 || len > 2 || p[0] < '1' || p[0] > '9') {
        return 0;
    }

    n = 0;

    while (len--) {
        if (*p < '0' || *p > '9') {
            return 0;
        }

        n = n * 10 + (*p++ - '0');
    }

    return (n <= NGX_HTTP_OAUTH2_COOKIE_CHUNKS) ? n : 0;
}


/* a pair of ours (ngx_http_oauth2_own_cookie()): NAME or one of its chunks */

static void
ngx_http_oauth2_cookie_find_pair(ngx_http_oauth2_cookie_find_t *find,
    ngx_str_t *name, ngx_str_t *value)
{
    ngx_uint_t   k;
    ngx_str_t   *base;

    base = find->name;

    if (name->len == base->len) {
        if (!find->found) {
            find->found = 1;
            find->value = *value;
        }

        return;
    }

    k = ngx_http_oauth2_chunk_number(name->data + base->len + 1,
                                     name->len - base->len - 1);

    if (k && !(find->seen & (1u << k))) {
        find->seen |= 1u << k;
        find->chunks[k] = *value;
    }
}


/*
 * One Cookie header: where its pairs that are not base's lie (base, its
 * chunks and its state cookies are ours), for cookie_strip; with find,
 * the pairs of ours go to ngx_http_oauth2_cookie_find_pair().
 */

static void
ngx_http_oauth2_cookie_scan(ngx_table_elt_t *h, ngx_str_t *base,
    ngx_http_oauth2_cookie_find_t *find, ngx_http_oauth2_cookie_scan_t *scan)
{
    u_char      *p, *last;
    ngx_str_t    pair, name, value;
    ngx_uint_t   gap;

    scan->name = base;
    scan->header = h;
    scan->data = h->value.data;
    scan->len = h->value.len;
    scan->start = NULL;
    scan->end = NULL;
    scan->own = 0;
    scan->split = 0;

    gap = 0;

    p = h->value.data;
    last = p + h->value.len;

    while (ngx_http_oauth2_cookie_next_pair(&p, last, &pair, &name, &value)
           == NGX_OK)
    {
        if (name.len && ngx_http_oauth2_own_cookie(&name, base)) {
            if (find != NULL) {
                ngx_http_oauth2_cookie_find_pair(find, &name, &value);
            }

            /* one of ours after one not ours: a gap, if more follow */
            scan->own = 1;
            gap = (scan->start != NULL);
            continue;
        }

        if (gap) {
            scan->split = 1;
        }

        if (scan->start == NULL) {
            scan->start = pair.data;
        }

        scan->end = pair.data + pair.len;
    }
}


/*
 * One pass over the request's cookies for NAME and NAME_1..NAME_16; scan
 * (if not NULL) keeps what the pass saw of a request's only Cookie header.
 */

static void
ngx_http_oauth2_cookie_find(ngx_http_request_t *r,
    ngx_http_oauth2_cookie_find_t *find, ngx_http_oauth2_cookie_scan_t *scan)
{
    ngx_uint_t                      headers;
    ngx_table_elt_t                *h;
    ngx_http_oauth2_cookie_scan_t   local;
    ngx_http_oauth2_cookie_iter_t   it;

    find->found = 0;
    find->seen = 0;
    ngx_str_null(&find->value);

    if (scan == NULL) {
        scan = &local;
    }

    scan->header = NULL;

    it.i = 0;
    it.h = NULL;

    for (headers = 0;
         (h = ngx_http_oauth2_cookie_next_header(r, &it)) != NULL;
         headers++)
    {
        ngx_http_oauth2_cookie_scan(h, find->name, find, scan);
    }

    if (headers != 1) {
        scan->header = NULL;
    }
}


ngx_int_t
ngx_http_oauth2_cookie_get(ngx_http_request_t *r, ngx_str_t *name,
    ngx_str_t *value, ngx_http_oauth2_cookie_scan_t *scan)
{
    u_char                         *p;
    size_t                          len;
    ngx_uint_t                      k, n;
    ngx_http_oauth2_cookie_find_t   find;

    find.name = name;

    ngx_http_oauth2_cookie_find(r, &find, scan);

    if (!find.found) {
        return NGX_DECLINED;
    }

    if (find.value.len < sizeof(NGX_HTTP_OAUTH2_CHUNK_MARKER) - 1
        || ngx_strncmp(find.value.data, NGX_HTTP_OAUTH2_CHUNK_MARKER,
                       sizeof(NGX_HTTP_OAUTH2_CHUNK_MARKER) - 1)
           != 0)
    {
        *value = find.value;
        return NGX_OK;
    }

    n = ngx_http_oauth2_chunk_number(
            find.value.data + sizeof(NGX_HTTP_OAUTH2_CHUNK_MARKER) - 1,
            find.value.len - (sizeof(NGX_HTTP_OAUTH2_CHUNK_MARKER) - 1));

    if (n == 0) {
        return NGX_DECLINED;
    }

    len = 0;

    for (k = 1; k <= n; k++) {
        if (!(find.seen & (1u << k)) || find.chunks[k].len == 0) {
            return NGX_DECLINED;
        }

        len += find.chunks[k].len;
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    value->data = p;
    value->len = len;

    for (k = 1; k <= n; k++) {
        p = ngx_cpymem(p, find.chunks[k].data, find.chunks[k].len);
    }

    return NGX_OK;
}


static ngx_uint_t
ngx_http_oauth2_has_prefix(ngx_str_t *s, ngx_str_t *prefix)
{
    return s->len >= prefix->len
           && ngx_memcmp(s->data, prefix->data, prefix->len) == 0;
}


/* base itself, or base followed by "_" (its chunks and state cookies):
 * the session of provider "op" is not the session of provider "op2" */

static ngx_uint_t
ngx_http_oauth2_own_cookie(ngx_str_t *s, ngx_str_t *base)
{
    if (!ngx_http_oauth2_has_prefix(s, base)) {
        return 0;
    }

    return s->len == base->len || s->data[base->len] == '_';
}


static ngx_int_t
ngx_http_oauth2_cookie_each_pair(ngx_str_t *name, ngx_str_t *value,
    void *data)
{
    ngx_http_oauth2_cookie_each_t  *each = data;

    if (!ngx_http_oauth2_has_prefix(name, each->prefix)) {
        return NGX_OK;
    }

    return each->handler(each->request, name, value, each->data);
}


ngx_int_t
ngx_http_oauth2_cookie_each(ngx_http_request_t *r, ngx_str_t *prefix,
    ngx_http_oauth2_cookie_pt handler, void *data)
{
    ngx_http_oauth2_cookie_each_t  each;

    each.request = r;
    each.prefix = prefix;
    each.handler = handler;
    each.data = data;

    return ngx_http_oauth2_cookie_walk(r, ngx_http_oauth2_cookie_each_pair,
                                       &each);
}


ngx_int_t
ngx_http_oauth2_cookie_strip(ngx_http_request_t *r, ngx_str_t *prefix,
    ngx_http_oauth2_cookie_scan_t *scan)
{
    ngx_table_elt_t                *h;
    ngx_http_oauth2_cookie_scan_t   local, *sc;
    ngx_http_oauth2_cookie_iter_t   it;

    it.i = 0;
    it.h = NULL;

    while ((h = ngx_http_oauth2_cookie_next_header(r, &it)) != NULL) {

        /* what cookie_get saw, if this header still has that value */

        if (scan != NULL
            && scan->header == h
            && scan->data == h->value.data && scan->len == h->value.len
            && scan->name->len == prefix->len
            && ngx_memcmp(scan->name->data, prefix->data, prefix->len) == 0)
        {
            sc = scan;

        } else {
            sc = &local;
            ngx_http_oauth2_cookie_scan(h, prefix, NULL, sc);
        }

        if (!sc->own) {
            continue;
        }

        /*
         * The old value is never written to: it may be referred to, e.g.
         * by a value ngx_http_oauth2_cookie_get() returned.  What is left
         * is one piece of it, unless one of ours sat between two others.
         */

        if (sc->split) {
            if (ngx_http_oauth2_cookie_rejoin(r, h, prefix) != NGX_OK) {
                return NGX_ERROR;
            }

        } else if (sc->start != NULL) {
            h->value.data = sc->start;
            h->value.len = sc->end - sc->start;

        } else {
            /*
             * nginx 1.23+ skips empty headers; proxy_pass in 1.22 still
             * sends an empty "Cookie:" line for one without a zero hash
             */
            h->value.len = 0;
            h->hash = 0;
        }
    }

    if (scan != NULL) {
        /* a scan serves once: the strip changed what it saw */
        scan->header = NULL;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_oauth2_cookie_save(ngx_http_request_t *r, ngx_array_t **saved)
{
    ngx_table_elt_t                 *h;
    ngx_http_oauth2_cookie_iter_t    it;
    ngx_http_oauth2_cookie_saved_t  *sv;

    *saved = NULL;

    it.i = 0;
    it.h = NULL;

    while ((h = ngx_http_oauth2_cookie_next_header(r, &it)) != NULL) {

        if (*saved == NULL) {
            *saved = ngx_array_create(r->pool, 2,
                                      sizeof(ngx_http_oauth2_cookie_saved_t));
            if (*saved == NULL) {
                return NGX_ERROR;
            }
        }

        sv = ngx_array_push(*saved);
        if (sv == NULL) {
            return NGX_ERROR;
        }

        sv->header = h;
        sv->value = h->value;
        sv->hash = h->hash;
    }

    return NGX_OK;
}


ngx_uint_t
ngx_http_oauth2_cookie_changed(ngx_array_t *saved)
{
    ngx_uint_t                       i;
    ngx_http_oauth2_cookie_saved_t  *sv;

    sv = saved->elts;

    for (i = 0; i < saved->nelts; i++) {
        if (sv[i].header->hash != sv[i].hash
            || sv[i].header->value.data != sv[i].value.data
            || sv[i].header->value.len != sv[i].value.len)
        {
            return 1;
        }
    }

    return 0;
}


void
ngx_http_oauth2_cookie_swap(ngx_array_t *saved)
{
    ngx_str_t                        value;
    ngx_uint_t                       i, hash;
    ngx_http_oauth2_cookie_saved_t  *sv;

    sv = saved->elts;

    for (i = 0; i < saved->nelts; i++) {
        value = sv[i].header->value;
        hash = sv[i].header->hash;

        sv[i].header->value = sv[i].value;
        sv[i].header->hash = sv[i].hash;

        sv[i].value = value;
        sv[i].hash = hash;
    }
}


/*
 * A new value for a header in which pairs of prefix's sit between others:
 * the pairs before the first of ours as they were, the others after it
 * joined with "; ", which may be longer than their old separators
 * ("a;b;c"), but never longer than twice the old value.
 */

static ngx_int_t
ngx_http_oauth2_cookie_rejoin(ngx_http_request_t *r, ngx_table_elt_t *h,
    ngx_str_t *prefix)
{
    u_char     *p, *last, *dst, *start, *first, *kept;
    ngx_str_t   pair, name, value;
    ngx_uint_t  found;

    start = ngx_pnalloc(r->pool, 2 * h->value.len);
    if (start == NULL) {
        return NGX_ERROR;
    }

    dst = start;
    first = NULL;
    kept = NULL;
    found = 0;

    p = h->value.data;
    last = p + h->value.len;

    while (ngx_http_oauth2_cookie_next_pair(&p, last, &pair, &name, &value)
           == NGX_OK)
    {
        if (name.len && ngx_http_oauth2_own_cookie(&name, prefix)) {
            if (!found && first != NULL) {
                dst = ngx_cpymem(dst, first, kept - first);
            }

            found = 1;
            continue;
        }

        if (!found) {
            if (first == NULL) {
                first = pair.data;
            }

            kept = pair.data + pair.len;
            continue;
        }

        if (dst != start) {
            *dst++ = ';'; *dst++ = ' ';
        }

        dst = ngx_cpymem(dst, pair.data, pair.len);
    }

    h->value.data = start;
    h->value.len = dst - start;

    return NGX_OK;
}


/* response cookies */

static size_t
ngx_http_oauth2_decimal_len(uint64_t v)
{
    size_t  n;

    for (n = 1; v >= 10; n++) {
        v /= 10;
    }

    return n;
}


/* the exact length of what ngx_http_oauth2_cookie_attrs_write() writes */

static size_t
ngx_http_oauth2_cookie_attrs_len(ngx_http_oauth2_cookie_attrs_t *a)
{
    size_t  len;

    len = sizeof("; Path=/") - 1
          + (a->cross_site ? sizeof("; HttpOnly; SameSite=None") - 1
                           : sizeof("; HttpOnly; SameSite=Lax") - 1);

    if (a->max_age >= 0) {
        len += sizeof("; Max-Age=") - 1
               + ngx_http_oauth2_decimal_len((uint64_t) a->max_age);
    }

    if (a->max_age == 0) {
        len += sizeof("; Expires=" NGX_HTTP_OAUTH2_COOKIE_EPOCH) - 1;
    }

    if (a->secure) {
        len += sizeof("; Secure") - 1;
    }

    if (a->domain != NULL && a->domain->len) {
        len += sizeof("; Domain=") - 1 + a->domain->len;
    }

    return len;
}


static u_char *
ngx_http_oauth2_cookie_attrs_write(u_char *p,
    ngx_http_oauth2_cookie_attrs_t *a)
{
    p = ngx_cpymem(p, "; Path=/", sizeof("; Path=/") - 1);

    if (a->max_age >= 0) {
        p = ngx_sprintf(p, "; Max-Age=%T", a->max_age);
    }

    if (a->max_age == 0) {
        p = ngx_cpymem(p, "; Expires=" NGX_HTTP_OAUTH2_COOKIE_EPOCH,
                       sizeof("; Expires=" NGX_HTTP_OAUTH2_COOKIE_EPOCH) - 1);
    }

    if (a->cross_site) {
        p = ngx_cpymem(p, "; HttpOnly; SameSite=None",
                       sizeof("; HttpOnly; SameSite=None") - 1);

    } else {
        p = ngx_cpymem(p, "; HttpOnly; SameSite=Lax",
                       sizeof("; HttpOnly; SameSite=Lax") - 1);
    }

    if (a->secure) {
        p = ngx_cpymem(p, "; Secure", sizeof("; Secure") - 1);
    }

    if (a->domain != NULL && a->domain->len) {
        p = ngx_cpymem(p, "; Domain=", sizeof("; Domain=") - 1);
        p = ngx_cpymem(p, a->domain->data, a->domain->len);
    }

    return p;
}


/* adds "Set-Cookie: NAME[_chunk]=value; attributes" */

static ngx_int_t
ngx_http_oauth2_cookie_header(ngx_http_request_t *r, ngx_str_t *name,
    ngx_uint_t chunk, u_char *value, size_t len,
    ngx_http_oauth2_cookie_attrs_t *a)
{
    u_char           *p;
    ngx_table_elt_t  *h;

    p = ngx_pnalloc(r->pool, name->len + NGX_HTTP_OAUTH2_CHUNK_SUFFIX_MAX
                             + 1 + len + ngx_http_oauth2_cookie_attrs_len(a));
    if (p == NULL) {
        return NGX_ERROR;
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Set-Cookie");
    h->lowcase_key = NULL;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    h->value.data = p;

    p = ngx_cpymem(p, name->data, name->len);

    if (chunk) {
        p = ngx_sprintf(p, "_%ui", chunk);
    }

    *p++ = '=';

    if (len) {
        p = ngx_cpymem(p, value, len);
    }

    p = ngx_http_oauth2_cookie_attrs_write(p, a);

    h->value.len = p - h->value.data;

    return NGX_OK;
}


/* deletes the chunks the request carried, from chunk number "from" on */

static ngx_int_t
ngx_http_oauth2_cookie_delete_chunks(ngx_http_request_t *r, ngx_str_t *name,
    uint32_t seen, ngx_uint_t from, ngx_http_oauth2_cookie_attrs_t *a)
{
    ngx_uint_t                      k;
    ngx_http_oauth2_cookie_attrs_t  del;

    del = *a;
    del.max_age = 0;

    for (k = from; k <= NGX_HTTP_OAUTH2_COOKIE_CHUNKS; k++) {
        if (!(seen & (1u << k))) {
            continue;
        }

        if (ngx_http_oauth2_cookie_header(r, name, k, NULL, 0, &del)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


size_t
ngx_http_oauth2_cookie_wire_len(ngx_str_t *name, size_t len)
{
    size_t  n;

    /* "NAME=value; " alone, or "NAME=chunks.N; " and N of "NAME_k=...; ",
     * each chunk at least half a cookie's room */

    if (name->len + 1 + len <= NGX_HTTP_OAUTH2_COOKIE_MAX_LEN / 2) {
        return name->len + 1 + len + 2;
    }

    n = len / (NGX_HTTP_OAUTH2_COOKIE_MAX_LEN / 2) + 1;

    return len + (n + 1) * (name->len + NGX_HTTP_OAUTH2_CHUNK_SUFFIX_MAX + 3)
           + sizeof(NGX_HTTP_OAUTH2_CHUNK_MARKER) + NGX_INT_T_LEN;
}


ngx_int_t
ngx_http_oauth2_cookie_set(ngx_http_request_t *r, ngx_str_t *name,
    ngx_str_t *value, time_t max_age, ngx_uint_t secure, ngx_str_t *domain)
{
    u_char                          marker[sizeof(NGX_HTTP_OAUTH2_CHUNK_MARKER)
                                           + NGX_INT_T_LEN];
    size_t                          size, room, fixed;
    ngx_uint_t                      k, n;
    ngx_http_oauth2_cookie_attrs_t  a;
    ngx_http_oauth2_cookie_find_t   find;

    /* browsers keep a SameSite=None cookie only if it is Secure */

    a.max_age = max_age;
    a.cross_site = (secure & NGX_HTTP_OAUTH2_COOKIE_CROSS_SITE) ? 1 : 0;
    a.secure = (secure & NGX_HTTP_OAUTH2_COOKIE_SECURE) || a.cross_site;
    a.domain = domain;

    /* which chunks does the browser hold now */

    find.name = name;

    ngx_http_oauth2_cookie_find(r, &find, NULL);

    if (max_age == 0) {
        if (ngx_http_oauth2_cookie_header(r, name, 0, NULL, 0, &a)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        return ngx_http_oauth2_cookie_delete_chunks(r, name, find.seen, 1,
                                                    &a);
    }

    fixed = ngx_http_oauth2_cookie_attrs_len(&a);

    if (name->len + 1 + value->len + fixed <= NGX_HTTP_OAUTH2_COOKIE_MAX_LEN) {

        if (ngx_http_oauth2_cookie_header(r, name, 0, value->data,
                                          value->len, &a)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        return ngx_http_oauth2_cookie_delete_chunks(r, name, find.seen, 1,
                                                    &a);
    }

    fixed += name->len + NGX_HTTP_OAUTH2_CHUNK_SUFFIX_MAX + 1;

    if (fixed >= NGX_HTTP_OAUTH2_COOKIE_MAX_LEN / 2) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oauth2: cookie name and attributes are too long "
                      "for cookie \"%V\"", name);
        return NGX_DECLINED;
    }

    room = NGX_HTTP_OAUTH2_COOKIE_MAX_LEN - fixed;
    n = (value->len + room - 1) / room;

    if (n > NGX_HTTP_OAUTH2_COOKIE_CHUNKS) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "oauth2: value of cookie \"%V\" is too long "
                      "(%uz bytes)", name, value->len);
        return NGX_DECLINED;
    }

    for (k = 1; k <= n; k++) {
        size = ngx_min(room, value->len - (k - 1) * room);

        if (ngx_http_oauth2_cookie_header(r, name, k,
                                          value->data + (k - 1) * room,
                                          size, &a)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    size = ngx_sprintf(marker, NGX_HTTP_OAUTH2_CHUNK_MARKER "%ui", n)
           - marker;

    if (ngx_http_oauth2_cookie_header(r, name, 0, marker, size, &a)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_oauth2_cookie_delete_chunks(r, name, find.seen, n + 1,
                                                &a);
}
