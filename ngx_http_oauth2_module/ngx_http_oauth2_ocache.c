
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * The per-process cache of opened session cookies: a hit spares the
 * AES-GCM opening (ngx_http_oauth2_seal.c) and the decoding
 * (ngx_http_oauth2_codec.c) of a value the browser sent before.  It sits
 * above both and below the request-level session code.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_metrics.h"
#include "ngx_http_oauth2_ocache.h"


/*
 * the cache of opened cookies: a bucket per this many bytes of its size,
 * and no entry for a value longer than this (or than a 16th of the size)
 */
#define NGX_HTTP_OAUTH2_OCACHE_BUCKET    (size_t) 256
#define NGX_HTTP_OAUTH2_OCACHE_VALUE_MAX 8192


/*
 * An opened session cookie: the key that opened it and the session decoded
 * from it; the cookie name, the sealed value and the plaintext follow the
 * structure in the same allocation, the session's strings point into that
 * plaintext, and its claims come last
 */

typedef struct {
    uint64_t                   tag;       /* 8 characters of the nonce */
    size_t                     size;      /* of the whole allocation */
    ngx_uint_t                 index;     /* of the key in the key list */
    u_char                     key[NGX_HTTP_OAUTH2_KEY_LEN];
    size_t                     name_len;
    size_t                     sealed_len;
    size_t                     plain_len;
    ngx_http_oauth2_session_t  session;
} ngx_http_oauth2_ocache_entry_t;


static ngx_int_t ngx_http_oauth2_session_copy(ngx_pool_t *pool,
    ngx_http_oauth2_session_t *dst, ngx_http_oauth2_session_t *src,
    u_char *from, u_char *to, ngx_http_oauth2_claim_t *claims);
static void ngx_http_oauth2_rebase(ngx_str_t *s, u_char *from, u_char *to);
static ngx_int_t ngx_http_oauth2_ocache_resize(size_t size, ngx_log_t *log);
static void ngx_http_oauth2_ocache_flush(void);
static void ngx_http_oauth2_ocache_drop(ngx_uint_t b);
static ngx_uint_t ngx_http_oauth2_equal(u_char *a, u_char *b, size_t len);


/*
 * The cache of opened session cookies, per process: a table of
 * 2^ocache_bits buckets of one entry each, bucket chosen by the random
 * nonce at the start of the sealed value.  A new entry replaces the one in
 * its bucket; ocache_used counts the bytes the entries take, never more
 * than ocache_size (ocache_hand: where the sweep that makes room goes on).
 * Only values that opened are entered, so values made up by a client
 * cannot push out the sessions of others.
 */

static ngx_http_oauth2_ocache_entry_t  **ngx_http_oauth2_ocache;
static ngx_uint_t                        ngx_http_oauth2_ocache_bits;
static size_t                            ngx_http_oauth2_ocache_size;
static size_t                            ngx_http_oauth2_ocache_used;
static ngx_uint_t                        ngx_http_oauth2_ocache_entries;
static ngx_uint_t                        ngx_http_oauth2_ocache_hand;
static ngx_http_oauth2_ocache_stats_t    ngx_http_oauth2_ocache_stats;


/*
 * ngx_http_oauth2_open() and ngx_http_oauth2_session_decode() of a session
 * cookie, through the cache of opened sessions.  Opening and decoding a
 * default session cookie is most of what a logged-in request costs the
 * module, and a browser sends the same value with every request until the
 * session changes.  A hit needs the same sealed value and cookie name,
 * and the key that opened it still in the key list at the same place
 * (another configuration may have other secrets); values and keys are
 * compared in constant time.  A hit copies the plaintext and the decoded
 * session into pool: an entry may be replaced while the request lives.
 * NGX_ABORT: the value opened but is no session (and is not cached).
 */

ngx_int_t
ngx_http_oauth2_session_open_cached(ngx_pool_t *pool, size_t cache_size,
    ngx_array_t *keys, ngx_str_t *name, ngx_str_t *sealed,
    ngx_http_oauth2_session_t *session, ngx_uint_t *index)
{
    u_char                          *p, *entry_plain;
    size_t                           size, claims_at;
    uint64_t                         tag;
    ngx_int_t                        rc;
    ngx_str_t                        plain;
    ngx_uint_t                       i, b, n, mask;
    ngx_http_oauth2_keys_t          *k;
    ngx_http_oauth2_ocache_entry_t  *e;

    e = NULL;
    b = 0;
    tag = 0;

    if (cache_size == 0
        || keys == NULL
        || sealed->len < NGX_HTTP_OAUTH2_SEALED_MIN
        || sealed->len > NGX_HTTP_OAUTH2_OCACHE_VALUE_MAX
        || sealed->len > cache_size / 16
        || (cache_size != ngx_http_oauth2_ocache_size
            && ngx_http_oauth2_ocache_resize(cache_size, pool->log)
               != NGX_OK))
    {
        cache_size = 0;
        goto open;
    }

    /* characters 2..9 are nonce bits only (1 and 2 carry the version) */

    ngx_memcpy(&tag, sealed->data + 2, sizeof(uint64_t));

    b = (ngx_uint_t) ((tag * 0x9e3779b97f4a7c15ULL)
                      >> (64 - ngx_http_oauth2_ocache_bits));

    e = ngx_http_oauth2_ocache[b];
    k = keys->elts;

    if (e != NULL
        && e->tag == tag
        && e->sealed_len == sealed->len
        && e->name_len == name->len
        && e->index < keys->nelts)
    {
        p = (u_char *) (e + 1);

        if ((ngx_http_oauth2_equal(p, name->data, name->len)
             & ngx_http_oauth2_equal(p + name->len, sealed->data,
                                     sealed->len)
             & ngx_http_oauth2_equal(e->key, k[e->index].session,
                                     NGX_HTTP_OAUTH2_KEY_LEN)))
        {
            entry_plain = p + name->len + sealed->len;

            p = ngx_pnalloc(pool, e->plain_len);
            if (p == NULL) {
                return NGX_ERROR;
            }

            ngx_memcpy(p, entry_plain, e->plain_len);

            if (index != NULL) {
                *index = e->index;
            }

            ngx_http_oauth2_ocache_stats.hits++;

            ngx_log_debug0(NGX_LOG_DEBUG_HTTP, pool->log, 0,
                           "oauth2: session from the cache");

            return ngx_http_oauth2_session_copy(pool, session, &e->session,
                                                entry_plain, p, NULL);
        }
    }

    ngx_http_oauth2_ocache_stats.misses++;

open:

    rc = ngx_http_oauth2_open(pool, keys, NGX_HTTP_OAUTH2_SEAL_SESSION, name,
                              sealed, &plain, &i);

    if (rc != NGX_OK) {
        return rc;
    }

    if (index != NULL) {
        *index = i;
    }

    rc = ngx_http_oauth2_session_decode(pool, &plain, session);

    if (rc != NGX_OK) {
        return (rc == NGX_DECLINED) ? NGX_ABORT : rc;
    }

    if (cache_size == 0) {
        return NGX_OK;
    }

    claims_at = ngx_align(sizeof(ngx_http_oauth2_ocache_entry_t)
                          + name->len + sealed->len + plain.len,
                          sizeof(void *));
    size = claims_at
           + session->claims.nelts * sizeof(ngx_http_oauth2_claim_t);

    /* a failed allocation costs the cache, not the request */

    p = ngx_alloc(size, pool->log);
    if (p == NULL) {
        return NGX_OK;
    }

    if (e != NULL) {
        ngx_http_oauth2_ocache_drop(b);
    }

    /*
     * when the entries would take more than the size, others go, from
     * where the last such sweep stopped on: a large session pushes out
     * several small ones rather than never getting in
     */

    mask = ((ngx_uint_t) 1 << ngx_http_oauth2_ocache_bits) - 1;

    for (n = 0;
         n <= mask
         && ngx_http_oauth2_ocache_used + size > ngx_http_oauth2_ocache_size;
         n++)
    {
        ngx_http_oauth2_ocache_drop(ngx_http_oauth2_ocache_hand);
        ngx_http_oauth2_ocache_hand = (ngx_http_oauth2_ocache_hand + 1)
                                      & mask;
    }

    e = (ngx_http_oauth2_ocache_entry_t *) p;
    k = keys->elts;

    e->tag = tag;
    e->size = size;
    e->index = i;
    ngx_memcpy(e->key, k[i].session, NGX_HTTP_OAUTH2_KEY_LEN);
    e->name_len = name->len;
    e->sealed_len = sealed->len;
    e->plain_len = plain.len;

    p = (u_char *) (e + 1);
    p = ngx_cpymem(p, name->data, name->len);
    p = ngx_cpymem(p, sealed->data, sealed->len);
    ngx_memcpy(p, plain.data, plain.len);

    /* no allocation with room for the claims given: this cannot fail */

    (void) ngx_http_oauth2_session_copy(NULL, &e->session, session,
                                        plain.data, p,
                                        (ngx_http_oauth2_claim_t *)
                                            ((u_char *) e + claims_at));

    ngx_http_oauth2_ocache[b] = e;
    ngx_http_oauth2_ocache_used += size;
    ngx_http_oauth2_ocache_entries++;

    ngx_http_oauth2_metrics_cache(ngx_http_oauth2_ocache_entries);

    return NGX_OK;
}


/*
 * dst = src with its strings moved from the plaintext at "from" to the
 * same plaintext at "to"; the claims go to the given room, or to a new
 * array in pool
 */

static ngx_int_t
ngx_http_oauth2_session_copy(ngx_pool_t *pool, ngx_http_oauth2_session_t *dst,
    ngx_http_oauth2_session_t *src, u_char *from, u_char *to,
    ngx_http_oauth2_claim_t *claims)
{
    ngx_uint_t                i, n;
    ngx_http_oauth2_claim_t  *c;

    *dst = *src;

    ngx_http_oauth2_rebase(&dst->sub, from, to);
    ngx_http_oauth2_rebase(&dst->email, from, to);
    ngx_http_oauth2_rebase(&dst->access_token, from, to);
    ngx_http_oauth2_rebase(&dst->refresh_token, from, to);
    ngx_http_oauth2_rebase(&dst->id_token, from, to);

    n = src->claims.nelts;

    if (claims == NULL) {
        if (ngx_array_init(&dst->claims, pool, n ? n : 1,
                           sizeof(ngx_http_oauth2_claim_t))
            != NGX_OK)
        {
            return NGX_ERROR;
        }

    } else {
        dst->claims.elts = claims;
        dst->claims.nalloc = n;
        dst->claims.pool = NULL;
    }

    dst->claims.nelts = n;

    if (n == 0) {
        return NGX_OK;
    }

    c = dst->claims.elts;
    ngx_memcpy(c, src->claims.elts, n * sizeof(ngx_http_oauth2_claim_t));

    for (i = 0; i < n; i++) {
        ngx_http_oauth2_rebase(&c[i].name, from, to);
        ngx_http_oauth2_rebase(&c[i].value, from, to);
    }

    return NGX_OK;
}


/* the strings of a decoded session point into its plaintext */

static void
ngx_http_oauth2_rebase(ngx_str_t *s, u_char *from, u_char *to)
{
    if (s->data != NULL) {
        s->data = to + (s->data - from);
    }
}


void
ngx_http_oauth2_open_cache_stats(ngx_http_oauth2_ocache_stats_t *stats)
{
    ngx_uint_t  i;

    *stats = ngx_http_oauth2_ocache_stats;
    stats->size = ngx_http_oauth2_ocache_size;
    stats->used = ngx_http_oauth2_ocache_used;
    stats->entries = 0;

    if (ngx_http_oauth2_ocache == NULL) {
        return;
    }

    for (i = 0; i < ((ngx_uint_t) 1 << ngx_http_oauth2_ocache_bits); i++) {
        if (ngx_http_oauth2_ocache[i] != NULL) {
            stats->entries++;
        }
    }
}


/*
 * The entries live as long as the process; they are freed at its exit,
 * before the module itself is unloaded.
 */

void
ngx_http_oauth2_ocache_exit(void)
{
    ngx_http_oauth2_ocache_flush();

    if (ngx_http_oauth2_ocache != NULL) {
        ngx_free(ngx_http_oauth2_ocache);
        ngx_http_oauth2_ocache = NULL;
        ngx_http_oauth2_ocache_size = 0;
    }
}


/* a table for cache_size bytes of entries; the entries go */

static ngx_int_t
ngx_http_oauth2_ocache_resize(size_t size, ngx_log_t *log)
{
    ngx_uint_t                        bits;
    ngx_http_oauth2_ocache_entry_t  **table;

    ngx_http_oauth2_ocache_flush();

    bits = 4;

    while (bits < 24
           && (NGX_HTTP_OAUTH2_OCACHE_BUCKET << (bits + 1)) <= size)
    {
        bits++;
    }

    table = ngx_calloc(sizeof(ngx_http_oauth2_ocache_entry_t *) << bits, log);
    if (table == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_oauth2_ocache != NULL) {
        ngx_free(ngx_http_oauth2_ocache);
    }

    ngx_http_oauth2_ocache = table;
    ngx_http_oauth2_ocache_bits = bits;
    ngx_http_oauth2_ocache_size = size;

    return NGX_OK;
}


static void
ngx_http_oauth2_ocache_flush(void)
{
    ngx_uint_t  i;

    if (ngx_http_oauth2_ocache == NULL) {
        return;
    }

    for (i = 0; i < ((ngx_uint_t) 1 << ngx_http_oauth2_ocache_bits); i++) {
        ngx_http_oauth2_ocache_drop(i);
    }

    ngx_http_oauth2_ocache_used = 0;
    ngx_http_oauth2_ocache_hand = 0;
}


/* the entry goes, its plaintext zeroed first */

static void
ngx_http_oauth2_ocache_drop(ngx_uint_t b)
{
    ngx_http_oauth2_ocache_entry_t  *e;

    e = ngx_http_oauth2_ocache[b];

    if (e == NULL) {
        return;
    }

    ngx_http_oauth2_ocache[b] = NULL;
    ngx_http_oauth2_ocache_used -= e->size;
    ngx_http_oauth2_ocache_entries--;

    ngx_explicit_memzero(e, e->size);
    ngx_free(e);
}


/* 1 if equal; the time taken depends on len only */

static ngx_uint_t
ngx_http_oauth2_equal(u_char *a, u_char *b, size_t len)
{
    uint64_t  x, y, d;

    d = 0;

    for ( /* void */ ; len >= 8; len -= 8) {
        ngx_memcpy(&x, a, 8);
        ngx_memcpy(&y, b, 8);
        d |= x ^ y;
        a += 8;
        b += 8;
    }

    while (len--) {
        d |= (uint64_t) (*a++ ^ *b++);
    }

    return d == 0;
}
