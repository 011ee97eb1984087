
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * The binary encodings of the session and of the login state (the
 * plaintexts that are sealed), and their checks on decoding: varints,
 * length-prefixed strings, typed claims.  Pure functions over memory: no
 * cryptography, no cookies, no request.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_codec.h"


/*
 * docs/session-format.md describes every byte written here; keep both (and
 * t/tools/seal.js) in step.
 */

#define NGX_HTTP_OAUTH2_SESSION_VERSION  2
#define NGX_HTTP_OAUTH2_STATE_VERSION    1

/* varints carry at most 63 bits: 9 bytes of 7 bits */
#define NGX_HTTP_OAUTH2_VARINT_MAX_LEN   9


static size_t ngx_http_oauth2_varint_len(uint64_t v);
static u_char *ngx_http_oauth2_varint_write(u_char *p, uint64_t v);
static ngx_int_t ngx_http_oauth2_varint_read(u_char **pos, u_char *last,
    uint64_t *v);
static size_t ngx_http_oauth2_str_len(ngx_str_t *s);
static u_char *ngx_http_oauth2_str_write(u_char *p, ngx_str_t *s);
static ngx_int_t ngx_http_oauth2_str_read(u_char **pos, u_char *last,
    ngx_str_t *s);
static ngx_int_t ngx_http_oauth2_clean_read(u_char **pos, u_char *last,
    ngx_str_t *s);
static ngx_int_t ngx_http_oauth2_claim_read(u_char **pos, u_char *last,
    ngx_http_oauth2_claim_t *claim);
static ngx_uint_t ngx_http_oauth2_json_number(ngx_str_t *s);
static ngx_int_t ngx_http_oauth2_time_read(u_char **pos, u_char *last,
    time_t *t);


static size_t
ngx_http_oauth2_varint_len(uint64_t v)
{
    size_t  n;

    for (n = 1; v >= 0x80; n++) {
        v >>= 7;
    }

    return n;
}


static u_char *
ngx_http_oauth2_varint_write(u_char *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (u_char) (v | 0x80);
        v >>= 7;
    }

    *p++ = (u_char) v;

    return p;
}


/*
 * Reads a minimally encoded varint of at most 63 bits: NGX_DECLINED for a
 * truncated, overlong or non-minimal encoding.
 */

static ngx_int_t
ngx_http_oauth2_varint_read(u_char **pos, u_char *last, uint64_t *v)
{
    u_char      *p, c;
    uint64_t     value;
    ngx_uint_t   shift;

    p = *pos;
    value = 0;

    for (shift = 0; shift < 7 * NGX_HTTP_OAUTH2_VARINT_MAX_LEN; shift += 7) {

        if (p == last) {
            return NGX_DECLINED;
        }

        c = *p++;
        value |= (uint64_t) (c & 0x7f) << shift;

        if (c & 0x80) {
            continue;
        }

        if (c == 0 && shift != 0) {
            return NGX_DECLINED;
        }

        *pos = p;
        *v = value;

        return NGX_OK;
    }

    return NGX_DECLINED;
}


static size_t
ngx_http_oauth2_str_len(ngx_str_t *s)
{
    return ngx_http_oauth2_varint_len(s->len) + s->len;
}


static u_char *
ngx_http_oauth2_str_write(u_char *p, ngx_str_t *s)
{
    p = ngx_http_oauth2_varint_write(p, s->len);

    /* an empty string may have no data at all */

    if (s->len == 0) {
        return p;
    }

    return ngx_cpymem(p, s->data, s->len);
}


static ngx_int_t
ngx_http_oauth2_str_read(u_char **pos, u_char *last, ngx_str_t *s)
{
    uint64_t  len;

    if (ngx_http_oauth2_varint_read(pos, last, &len) != NGX_OK
        || len > (uint64_t) (last - *pos))
    {
        return NGX_DECLINED;
    }

    s->len = (size_t) len;
    s->data = *pos;

    *pos += s->len;

    return NGX_OK;
}


/*
 * Nothing decoded from a session may hold a byte below 0x20 or DEL: the
 * module never writes one, and such bytes in a variable would split
 * headers (docs/session-format.md, section 3)
 */

static ngx_int_t
ngx_http_oauth2_clean_read(u_char **pos, u_char *last, ngx_str_t *s)
{
    if (ngx_http_oauth2_str_read(pos, last, s) != NGX_OK
        || !ngx_http_oauth2_clean(s->data, s->len))
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/* a claim: name, type byte, value checked against the type */

static ngx_int_t
ngx_http_oauth2_claim_read(u_char **pos, u_char *last,
    ngx_http_oauth2_claim_t *claim)
{
    u_char     *p;
    ngx_int_t   rc;
    ngx_str_t   element;

    if (ngx_http_oauth2_clean_read(pos, last, &claim->name) != NGX_OK
        || claim->name.len == 0
        || *pos == last)
    {
        return NGX_DECLINED;
    }

    claim->type = *(*pos)++;

    if (ngx_http_oauth2_str_read(pos, last, &claim->value) != NGX_OK) {
        return NGX_DECLINED;
    }

    switch (claim->type) {

    case NGX_HTTP_OAUTH2_CLAIM_STRING:
        return ngx_http_oauth2_clean(claim->value.data, claim->value.len)
               ? NGX_OK : NGX_DECLINED;

    case NGX_HTTP_OAUTH2_CLAIM_NUMBER:
        return ngx_http_oauth2_json_number(&claim->value)
               ? NGX_OK : NGX_DECLINED;

    case NGX_HTTP_OAUTH2_CLAIM_BOOLEAN:
        if ((claim->value.len == 4
             && ngx_strncmp(claim->value.data, "true", 4) == 0)
            || (claim->value.len == 5
                && ngx_strncmp(claim->value.data, "false", 5) == 0))
        {
            return NGX_OK;
        }

        return NGX_DECLINED;

    case NGX_HTTP_OAUTH2_CLAIM_ARRAY:
        p = claim->value.data;

        for ( ;; ) {
            rc = ngx_http_oauth2_claim_element(&p,
                                               claim->value.data
                                               + claim->value.len,
                                               &element);
            if (rc == NGX_DONE) {
                return NGX_OK;
            }

            if (rc != NGX_OK
                || !ngx_http_oauth2_clean(element.data, element.len))
            {
                return NGX_DECLINED;
            }
        }

    default:
        return NGX_DECLINED;
    }
}


ngx_int_t
ngx_http_oauth2_claim_element(u_char **pos, u_char *last,
    ngx_str_t *element)
{
    if (*pos == last) {
        return NGX_DONE;
    }

    return ngx_http_oauth2_str_read(pos, last, element);
}


/* 1 for the text of a JSON number (RFC 8259, section 6) */

static ngx_uint_t
ngx_http_oauth2_json_number(ngx_str_t *s)
{
    u_char  *p, *last, *start;

    p = s->data;
    last = p + s->len;

    if (p < last && *p == '-') {
        p++;
    }

    if (p == last) {
        return 0;
    }

    if (*p == '0') {
        p++;

    } else {
        for (start = p; p < last && *p >= '0' && *p <= '9'; p++) {
            /* void */
        }

        if (p == start) {
            return 0;
        }
    }

    if (p < last && *p == '.') {
        for (start = ++p; p < last && *p >= '0' && *p <= '9'; p++) {
            /* void */
        }

        if (p == start) {
            return 0;
        }
    }

    if (p < last && (*p == 'e' || *p == 'E')) {
        p++;

        if (p < last && (*p == '+' || *p == '-')) {
            p++;
        }

        for (start = p; p < last && *p >= '0' && *p <= '9'; p++) {
            /* void */
        }

        if (p == start) {
            return 0;
        }
    }

    return p == last;
}


static ngx_int_t
ngx_http_oauth2_time_read(u_char **pos, u_char *last, time_t *t)
{
    uint64_t  v;

    if (ngx_http_oauth2_varint_read(pos, last, &v) != NGX_OK
        || v > (uint64_t) NGX_MAX_TIME_T_VALUE)
    {
        return NGX_DECLINED;
    }

    *t = (time_t) v;

    return NGX_OK;
}


ngx_int_t
ngx_http_oauth2_session_encode(ngx_pool_t *pool,
    ngx_http_oauth2_session_t *s, ngx_str_t *plain)
{
    u_char                   *p;
    size_t                    len;
    ngx_uint_t                i, n;
    ngx_http_oauth2_claim_t  *claim;

    if (s->expires < 0 || s->created < 0 || s->access_expires < 0
        || s->seen < 0)
    {
        return NGX_ERROR;
    }

    n = s->claims.elts ? s->claims.nelts : 0;
    claim = s->claims.elts;

    len = 1
          + ngx_http_oauth2_varint_len(s->expires)
          + ngx_http_oauth2_varint_len(s->created)
          + ngx_http_oauth2_varint_len(s->access_expires)
          + ngx_http_oauth2_str_len(&s->sub)
          + ngx_http_oauth2_str_len(&s->email)
          + ngx_http_oauth2_varint_len(n)
          + ngx_http_oauth2_str_len(&s->access_token)
          + ngx_http_oauth2_str_len(&s->refresh_token)
          + ngx_http_oauth2_str_len(&s->id_token)
          + (s->seen ? ngx_http_oauth2_varint_len(s->seen) : 0);

    for (i = 0; i < n; i++) {
        len += ngx_http_oauth2_str_len(&claim[i].name) + 1
               + ngx_http_oauth2_str_len(&claim[i].value);
    }

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    plain->data = p;
    plain->len = len;

    *p++ = NGX_HTTP_OAUTH2_SESSION_VERSION;
    p = ngx_http_oauth2_varint_write(p, s->expires);
    p = ngx_http_oauth2_varint_write(p, s->created);
    p = ngx_http_oauth2_varint_write(p, s->access_expires);
    p = ngx_http_oauth2_str_write(p, &s->sub);
    p = ngx_http_oauth2_str_write(p, &s->email);
    p = ngx_http_oauth2_varint_write(p, n);

    for (i = 0; i < n; i++) {
        p = ngx_http_oauth2_str_write(p, &claim[i].name);
        *p++ = (u_char) claim[i].type;
        p = ngx_http_oauth2_str_write(p, &claim[i].value);
    }

    p = ngx_http_oauth2_str_write(p, &s->access_token);
    p = ngx_http_oauth2_str_write(p, &s->refresh_token);
    p = ngx_http_oauth2_str_write(p, &s->id_token);

    /* optional: the last activity, for idle timeouts */

    if (s->seen) {
        (void) ngx_http_oauth2_varint_write(p, s->seen);
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_oauth2_session_decode(ngx_pool_t *pool, ngx_str_t *plain,
    ngx_http_oauth2_session_t *s)
{
    u_char                   *p, *last;
    uint64_t                  n;
    ngx_uint_t                i;
    ngx_http_oauth2_claim_t  *claim;

    ngx_memzero(s, sizeof(ngx_http_oauth2_session_t));

    p = plain->data;
    last = p + plain->len;

    if (p == last || *p++ != NGX_HTTP_OAUTH2_SESSION_VERSION) {
        return NGX_DECLINED;
    }

    if (ngx_http_oauth2_time_read(&p, last, &s->expires) != NGX_OK
        || ngx_http_oauth2_time_read(&p, last, &s->created) != NGX_OK
        || ngx_http_oauth2_time_read(&p, last, &s->access_expires) != NGX_OK
        || ngx_http_oauth2_clean_read(&p, last, &s->sub) != NGX_OK
        || ngx_http_oauth2_clean_read(&p, last, &s->email) != NGX_OK
        || ngx_http_oauth2_varint_read(&p, last, &n) != NGX_OK)
    {
        return NGX_DECLINED;
    }

    /* a claim takes three bytes at least */

    if (n > (uint64_t) (last - p) / 3) {
        return NGX_DECLINED;
    }

    if (ngx_array_init(&s->claims, pool, n ? (ngx_uint_t) n : 1,
                       sizeof(ngx_http_oauth2_claim_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    claim = s->claims.elts;

    for (i = 0; i < (ngx_uint_t) n; i++) {
        if (ngx_http_oauth2_claim_read(&p, last, &claim[i]) != NGX_OK) {
            return NGX_DECLINED;
        }
    }

    s->claims.nelts = (ngx_uint_t) n;

    if (ngx_http_oauth2_clean_read(&p, last, &s->access_token) != NGX_OK
        || ngx_http_oauth2_clean_read(&p, last, &s->refresh_token) != NGX_OK
        || ngx_http_oauth2_clean_read(&p, last, &s->id_token) != NGX_OK)
    {
        return NGX_DECLINED;
    }

    if (p != last
        && (ngx_http_oauth2_time_read(&p, last, &s->seen) != NGX_OK
            || s->seen == 0
            || p != last))
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_oauth2_state_encode(ngx_pool_t *pool,
    ngx_http_oauth2_login_state_t *st, ngx_str_t *plain)
{
    u_char  *p;
    size_t   len;

    if (st->created < 0) {
        return NGX_ERROR;
    }

    len = 1
          + ngx_http_oauth2_varint_len(st->created)
          + ngx_http_oauth2_str_len(&st->state)
          + ngx_http_oauth2_str_len(&st->nonce)
          + ngx_http_oauth2_str_len(&st->verifier)
          + ngx_http_oauth2_str_len(&st->return_url);

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    plain->data = p;
    plain->len = len;

    *p++ = NGX_HTTP_OAUTH2_STATE_VERSION;
    p = ngx_http_oauth2_varint_write(p, st->created);
    p = ngx_http_oauth2_str_write(p, &st->state);
    p = ngx_http_oauth2_str_write(p, &st->nonce);
    p = ngx_http_oauth2_str_write(p, &st->verifier);
    (void) ngx_http_oauth2_str_write(p, &st->return_url);

    return NGX_OK;
}


ngx_int_t
ngx_http_oauth2_state_decode(ngx_pool_t *pool, ngx_str_t *plain,
    ngx_http_oauth2_login_state_t *st)
{
    u_char  *p, *last;

    ngx_memzero(st, sizeof(ngx_http_oauth2_login_state_t));

    p = plain->data;
    last = p + plain->len;

    if (p == last || *p++ != NGX_HTTP_OAUTH2_STATE_VERSION) {
        return NGX_DECLINED;
    }

    if (ngx_http_oauth2_time_read(&p, last, &st->created) != NGX_OK
        || ngx_http_oauth2_str_read(&p, last, &st->state) != NGX_OK
        || ngx_http_oauth2_str_read(&p, last, &st->nonce) != NGX_OK
        || ngx_http_oauth2_str_read(&p, last, &st->verifier) != NGX_OK
        || ngx_http_oauth2_str_read(&p, last, &st->return_url) != NGX_OK
        || p != last)
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}

