
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include "ngx_http_oauth2_session.h"


/*
 * docs/session-format.md describes every byte written here; keep both (and
 * t/tools/seal.js) in step.
 */

#define NGX_HTTP_OAUTH2_SEAL_VERSION     1
#define NGX_HTTP_OAUTH2_NONCE_LEN        12
#define NGX_HTTP_OAUTH2_TAG_LEN          16
#define NGX_HTTP_OAUTH2_SEAL_OVERHEAD                                         \
    (1 + NGX_HTTP_OAUTH2_NONCE_LEN + NGX_HTTP_OAUTH2_TAG_LEN)

/* base64url of the smallest sealed value, and a bound for the largest */
#define NGX_HTTP_OAUTH2_SEALED_MIN       39
#define NGX_HTTP_OAUTH2_SEALED_MAX       65536
#define NGX_HTTP_OAUTH2_PLAIN_MAX        49000

#define NGX_HTTP_OAUTH2_SESSION_VERSION  2
#define NGX_HTTP_OAUTH2_STATE_VERSION    1

/* cipher contexts kept per process, each for one key */
#define NGX_HTTP_OAUTH2_GCM_CACHE        8

/* additional data up to this long goes to the cipher in one call */
#define NGX_HTTP_OAUTH2_AAD_MAX          256

/*
 * the cache of opened cookies: a bucket per this many bytes of its size,
 * and no entry for a value longer than this (or than a 16th of the size)
 */
#define NGX_HTTP_OAUTH2_OCACHE_BUCKET    (size_t) 256
#define NGX_HTTP_OAUTH2_OCACHE_VALUE_MAX 8192

/* varints carry at most 63 bits: 9 bytes of 7 bits */
#define NGX_HTTP_OAUTH2_VARINT_MAX_LEN   9

#define NGX_HTTP_OAUTH2_HKDF_SALT        "ngx_http_oauth2_module cookie keys v1"

/* a Set-Cookie header value never exceeds this many bytes */
#define NGX_HTTP_OAUTH2_COOKIE_MAX_LEN   4000
#define NGX_HTTP_OAUTH2_COOKIE_CHUNKS    16
#define NGX_HTTP_OAUTH2_CHUNK_MARKER     "chunks."
#define NGX_HTTP_OAUTH2_CHUNK_SUFFIX_MAX (sizeof("_16") - 1)
#define NGX_HTTP_OAUTH2_COOKIE_EPOCH     "Thu, 01 Jan 1970 00:00:00 GMT"


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


typedef ngx_int_t (*ngx_http_oauth2_pair_pt)(ngx_str_t *name,
    ngx_str_t *value, void *data);


typedef struct {
    EVP_CIPHER_CTX            *ctx;
    u_char                     key[NGX_HTTP_OAUTH2_KEY_LEN];
} ngx_http_oauth2_gcm_slot_t;


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
    ngx_str_t                 *domain;
} ngx_http_oauth2_cookie_attrs_t;


static EVP_CIPHER *ngx_http_oauth2_cipher(ngx_log_t *log);
static ngx_int_t ngx_http_oauth2_hkdf(EVP_KDF_CTX *kctx, ngx_str_t *secret,
    const char *info, u_char *out);
static ngx_http_oauth2_gcm_slot_t *ngx_http_oauth2_gcm_init(ngx_log_t *log,
    ngx_uint_t encrypt, u_char *key, u_char *nonce);
static ngx_int_t ngx_http_oauth2_gcm(ngx_log_t *log, ngx_uint_t encrypt,
    u_char *key, u_char *nonce, ngx_uint_t purpose, ngx_str_t *aad,
    u_char *in, size_t len, u_char *out, u_char *tag);
static void ngx_http_oauth2_gcm_fail(ngx_log_t *log,
    ngx_http_oauth2_gcm_slot_t *slot, const char *what);
static ngx_int_t ngx_http_oauth2_base64url_decode(ngx_str_t *dst,
    ngx_str_t *src);
static ngx_int_t ngx_http_oauth2_session_copy(ngx_pool_t *pool,
    ngx_http_oauth2_session_t *dst, ngx_http_oauth2_session_t *src,
    u_char *from, u_char *to, ngx_http_oauth2_claim_t *claims);
static void ngx_http_oauth2_rebase(ngx_str_t *s, u_char *from, u_char *to);
static ngx_int_t ngx_http_oauth2_ocache_resize(size_t size, ngx_log_t *log);
static void ngx_http_oauth2_ocache_flush(void);
static void ngx_http_oauth2_ocache_drop(ngx_uint_t b);
static ngx_uint_t ngx_http_oauth2_equal(u_char *a, u_char *b, size_t len);

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


/*
 * base64url (RFC 4648, section 5) decoding: the value of each character,
 * 64 for those outside the alphabet ("=" included: values are never
 * padded); no value has that bit
 */

static const u_char  ngx_http_oauth2_base64url[256] = {
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 62, 64, 64,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 64, 64, 64, 64, 64, 64,
    64,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14,
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 64, 64, 64, 64, 63,
    64, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64
};


/*
 * The cipher is fetched once per process (an implicit fetch on every
 * EVP_aes_256_gcm() use doubles the cost of a cookie), and a context is
 * kept for each key in use: a call then sets the nonce only, and skips
 * the AES key schedule and the GHASH set-up, a third of what opening a
 * session cookie costs.  The keys of a configuration are few (a session
 * and a state key per secret); the cache holds copies of them, as the
 * configuration does.  Workers are single threaded, and nothing here runs
 * in thread pools.
 */

static EVP_CIPHER                  *ngx_http_oauth2_gcm_cipher;
static ngx_http_oauth2_gcm_slot_t   ngx_http_oauth2_gcm_slots[
                                        NGX_HTTP_OAUTH2_GCM_CACHE];
static ngx_uint_t                   ngx_http_oauth2_gcm_next;


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
static ngx_uint_t                        ngx_http_oauth2_ocache_hand;
static ngx_http_oauth2_ocache_stats_t    ngx_http_oauth2_ocache_stats;


/* keys */

ngx_int_t
ngx_http_oauth2_derive_keys(ngx_str_t *secret, ngx_http_oauth2_keys_t *keys)
{
    EVP_KDF      *kdf;
    ngx_int_t     rc;
    EVP_KDF_CTX  *kctx;

    if (secret->len == 0) {
        return NGX_ERROR;
    }

    if (ngx_http_oauth2_cipher(ngx_cycle->log) == NULL) {
        return NGX_ERROR;
    }

    kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    if (kdf == NULL) {
        ngx_log_error(NGX_LOG_EMERG, ngx_cycle->log, 0,
                      "oauth2: EVP_KDF_fetch(\"HKDF\") failed");
        ERR_clear_error();
        return NGX_ERROR;
    }

    kctx = EVP_KDF_CTX_new(kdf);
    EVP_KDF_free(kdf);

    if (kctx == NULL) {
        ERR_clear_error();
        return NGX_ERROR;
    }

    rc = ngx_http_oauth2_hkdf(kctx, secret, "session", keys->session);

    if (rc == NGX_OK) {
        rc = ngx_http_oauth2_hkdf(kctx, secret, "state", keys->state);
    }

    EVP_KDF_CTX_free(kctx);

    if (rc != NGX_OK) {
        ngx_explicit_memzero(keys, sizeof(ngx_http_oauth2_keys_t));
        ngx_log_error(NGX_LOG_EMERG, ngx_cycle->log, 0,
                      "oauth2: HKDF key derivation failed");
        ERR_clear_error();
    }

    return rc;
}


static ngx_int_t
ngx_http_oauth2_hkdf(EVP_KDF_CTX *kctx, ngx_str_t *secret, const char *info,
    u_char *out)
{
    OSSL_PARAM  params[5], *p;

    p = params;

    *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
                                            (char *) "SHA256", 0);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
                                             secret->data, secret->len);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
                                    (void *) NGX_HTTP_OAUTH2_HKDF_SALT,
                                    sizeof(NGX_HTTP_OAUTH2_HKDF_SALT) - 1);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
                                             (void *) info, ngx_strlen(info));
    *p = OSSL_PARAM_construct_end();

    if (EVP_KDF_derive(kctx, out, NGX_HTTP_OAUTH2_KEY_LEN, params) != 1) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* sealing */

static EVP_CIPHER *
ngx_http_oauth2_cipher(ngx_log_t *log)
{
    if (ngx_http_oauth2_gcm_cipher == NULL) {
        ngx_http_oauth2_gcm_cipher = EVP_CIPHER_fetch(NULL, "AES-256-GCM",
                                                      NULL);
        if (ngx_http_oauth2_gcm_cipher == NULL) {
            ngx_log_error(NGX_LOG_ALERT, log, 0,
                          "oauth2: EVP_CIPHER_fetch(\"AES-256-GCM\") failed");
            ERR_clear_error();
            return NULL;
        }
    }

    return ngx_http_oauth2_gcm_cipher;
}


/*
 * The cached cipher contexts live as long as the process; they are freed
 * at its exit, before the module itself is unloaded.
 */

void
ngx_http_oauth2_session_exit(void)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_OAUTH2_GCM_CACHE; i++) {
        if (ngx_http_oauth2_gcm_slots[i].ctx != NULL) {
            EVP_CIPHER_CTX_free(ngx_http_oauth2_gcm_slots[i].ctx);
            ngx_http_oauth2_gcm_slots[i].ctx = NULL;
        }

        ngx_explicit_memzero(ngx_http_oauth2_gcm_slots[i].key,
                             NGX_HTTP_OAUTH2_KEY_LEN);
    }

    if (ngx_http_oauth2_gcm_cipher != NULL) {
        EVP_CIPHER_free(ngx_http_oauth2_gcm_cipher);
        ngx_http_oauth2_gcm_cipher = NULL;
    }

    ngx_http_oauth2_ocache_flush();

    if (ngx_http_oauth2_ocache != NULL) {
        ngx_free(ngx_http_oauth2_ocache);
        ngx_http_oauth2_ocache = NULL;
        ngx_http_oauth2_ocache_size = 0;
    }
}


ngx_int_t
ngx_http_oauth2_seal(ngx_pool_t *pool, ngx_array_t *keys, ngx_uint_t purpose,
    ngx_str_t *aad, ngx_str_t *plain, ngx_str_t *sealed)
{
    u_char                  *raw, *key;
    size_t                   len;
    ngx_str_t                src;
    ngx_http_oauth2_keys_t  *k;

    if (keys == NULL || keys->nelts == 0) {
        ngx_log_error(NGX_LOG_ALERT, pool->log, 0,
                      "oauth2: no cookie keys to seal with");
        return NGX_ERROR;
    }

    if (plain->len > NGX_HTTP_OAUTH2_PLAIN_MAX) {
        ngx_log_error(NGX_LOG_ERR, pool->log, 0,
                      "oauth2: %uz bytes are too many to seal in a cookie",
                      plain->len);
        return NGX_ERROR;
    }

    k = keys->elts;
    key = (purpose == NGX_HTTP_OAUTH2_SEAL_STATE) ? k[0].state : k[0].session;

    len = NGX_HTTP_OAUTH2_SEAL_OVERHEAD + plain->len;

    raw = ngx_pnalloc(pool, len + ngx_base64_encoded_length(len));
    if (raw == NULL) {
        return NGX_ERROR;
    }

    raw[0] = NGX_HTTP_OAUTH2_SEAL_VERSION;

    if (RAND_bytes(raw + 1, NGX_HTTP_OAUTH2_NONCE_LEN) != 1) {
        ngx_log_error(NGX_LOG_ALERT, pool->log, 0,
                      "oauth2: RAND_bytes() failed");
        ERR_clear_error();
        return NGX_ERROR;
    }

    if (ngx_http_oauth2_gcm(pool->log, 1, key, raw + 1, purpose, aad,
                            plain->data, plain->len,
                            raw + 1 + NGX_HTTP_OAUTH2_NONCE_LEN,
                            raw + 1 + NGX_HTTP_OAUTH2_NONCE_LEN + plain->len)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    src.data = raw;
    src.len = len;

    sealed->data = raw + len;
    ngx_encode_base64url(sealed, &src);

    return NGX_OK;
}


ngx_int_t
ngx_http_oauth2_open(ngx_pool_t *pool, ngx_array_t *keys, ngx_uint_t purpose,
    ngx_str_t *aad, ngx_str_t *sealed, ngx_str_t *plain, ngx_uint_t *index)
{
    u_char                  *buf, *out, *key, *nonce, *ct;
    size_t                   max, len;
    ngx_int_t                rc;
    ngx_str_t                raw;
    ngx_uint_t               i;
    ngx_http_oauth2_keys_t  *k;

    if (keys == NULL || keys->nelts == 0) {
        return NGX_ERROR;
    }

    if (sealed->len < NGX_HTTP_OAUTH2_SEALED_MIN
        || sealed->len > NGX_HTTP_OAUTH2_SEALED_MAX
        || sealed->len % 4 == 1)
    {
        return NGX_DECLINED;
    }

    max = ngx_base64_decoded_length(sealed->len);

    /* one buffer: the decoded value, then room for the plaintext */

    buf = ngx_pnalloc(pool, 2 * max);
    if (buf == NULL) {
        return NGX_ERROR;
    }

    raw.data = buf;

    /*
     * every character is decoded or the value refused, so n characters
     * (n % 4 != 1, checked above) give exactly 3n/4 bytes
     */

    if (ngx_http_oauth2_base64url_decode(&raw, sealed) != NGX_OK
        || raw.len != sealed->len * 3 / 4
        || raw.len < NGX_HTTP_OAUTH2_SEAL_OVERHEAD
        || raw.data[0] != NGX_HTTP_OAUTH2_SEAL_VERSION)
    {
        return NGX_DECLINED;
    }

    nonce = raw.data + 1;
    ct = nonce + NGX_HTTP_OAUTH2_NONCE_LEN;
    len = raw.len - NGX_HTTP_OAUTH2_SEAL_OVERHEAD;
    out = buf + max;

    k = keys->elts;

    for (i = 0; i < keys->nelts; i++) {

        key = (purpose == NGX_HTTP_OAUTH2_SEAL_STATE) ? k[i].state
                                                      : k[i].session;

        rc = ngx_http_oauth2_gcm(pool->log, 0, key, nonce, purpose, aad,
                                 ct, len, out, ct + len);

        if (rc == NGX_OK) {
            plain->data = out;
            plain->len = len;

            if (index != NULL) {
                *index = i;
            }

            return NGX_OK;
        }

        if (rc == NGX_ERROR) {
            ngx_explicit_memzero(out, len);
            return NGX_ERROR;
        }
    }

    /* unauthenticated output of the failed attempts */
    ngx_explicit_memzero(out, len);

    return NGX_DECLINED;
}


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


/* a context ready for one operation with key and nonce; NULL on errors */

static ngx_http_oauth2_gcm_slot_t *
ngx_http_oauth2_gcm_init(ngx_log_t *log, ngx_uint_t encrypt, u_char *key,
    u_char *nonce)
{
    ngx_uint_t                   i;
    EVP_CIPHER                  *cipher;
    ngx_http_oauth2_gcm_slot_t  *slot;

    for (i = 0; i < NGX_HTTP_OAUTH2_GCM_CACHE; i++) {
        slot = &ngx_http_oauth2_gcm_slots[i];

        if (slot->ctx != NULL
            && CRYPTO_memcmp(slot->key, key, NGX_HTTP_OAUTH2_KEY_LEN) == 0)
        {
            /* the key is set: a new nonce resets the rest */

            if (EVP_CipherInit_ex2(slot->ctx, NULL, NULL, nonce,
                                   (int) encrypt, NULL)
                != 1)
            {
                ngx_http_oauth2_gcm_fail(log, slot, "EVP_CipherInit_ex2()");
                return NULL;
            }

            return slot;
        }
    }

    slot = &ngx_http_oauth2_gcm_slots[ngx_http_oauth2_gcm_next];
    ngx_http_oauth2_gcm_next = (ngx_http_oauth2_gcm_next + 1)
                               % NGX_HTTP_OAUTH2_GCM_CACHE;

    if (slot->ctx == NULL) {
        cipher = ngx_http_oauth2_cipher(log);
        if (cipher == NULL) {
            return NULL;
        }

        slot->ctx = EVP_CIPHER_CTX_new();
        if (slot->ctx == NULL) {
            ngx_http_oauth2_gcm_fail(log, slot, "EVP_CIPHER_CTX_new()");
            return NULL;
        }

    } else {
        /* the cipher stays, the key changes */
        cipher = NULL;
    }

    ngx_memcpy(slot->key, key, NGX_HTTP_OAUTH2_KEY_LEN);

    if (EVP_CipherInit_ex2(slot->ctx, cipher, key, nonce, (int) encrypt,
                           NULL)
        != 1)
    {
        ngx_http_oauth2_gcm_fail(log, slot, "EVP_CipherInit_ex2()");
        return NULL;
    }

    return slot;
}


/*
 * One AES-256-GCM operation.  The additional data is the seal version, the
 * purpose and aad; the tag is written (encrypt) or checked (decrypt) at
 * tag.  NGX_DECLINED: the tag did not verify.
 */

static ngx_int_t
ngx_http_oauth2_gcm(ngx_log_t *log, ngx_uint_t encrypt, u_char *key,
    u_char *nonce, ngx_uint_t purpose, ngx_str_t *aad, u_char *in, size_t len,
    u_char *out, u_char *tag)
{
    int                          n;
    u_char                       head[2 + NGX_HTTP_OAUTH2_AAD_MAX];
    EVP_CIPHER_CTX              *ctx;
    ngx_http_oauth2_gcm_slot_t  *slot;

    slot = ngx_http_oauth2_gcm_init(log, encrypt, key, nonce);
    if (slot == NULL) {
        return NGX_ERROR;
    }

    ctx = slot->ctx;

    head[0] = NGX_HTTP_OAUTH2_SEAL_VERSION;
    head[1] = (u_char) purpose;

    /*
     * the additional data in one call when it fits (cookie names do): an
     * EVP call costs about as much as the AES-GCM work on a small session
     */

    if (aad->len <= NGX_HTTP_OAUTH2_AAD_MAX) {
        ngx_memcpy(head + 2, aad->data, aad->len);

        if (EVP_CipherUpdate(ctx, NULL, &n, head, (int) (2 + aad->len)) != 1)
        {
            ngx_http_oauth2_gcm_fail(log, slot, "EVP_CipherUpdate()");
            return NGX_ERROR;
        }

    } else if (EVP_CipherUpdate(ctx, NULL, &n, head, 2) != 1
               || EVP_CipherUpdate(ctx, NULL, &n, aad->data, (int) aad->len)
                  != 1)
    {
        ngx_http_oauth2_gcm_fail(log, slot, "EVP_CipherUpdate()");
        return NGX_ERROR;
    }

    if (len && EVP_CipherUpdate(ctx, out, &n, in, (int) len) != 1) {
        ngx_http_oauth2_gcm_fail(log, slot, "EVP_CipherUpdate()");
        return NGX_ERROR;
    }

    if (encrypt) {
        if (EVP_CipherFinal_ex(ctx, out + len, &n) != 1
            || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG,
                                   NGX_HTTP_OAUTH2_TAG_LEN, tag) != 1)
        {
            ngx_http_oauth2_gcm_fail(log, slot, "AES-256-GCM encryption");
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG,
                            NGX_HTTP_OAUTH2_TAG_LEN, tag) != 1)
    {
        ngx_http_oauth2_gcm_fail(log, slot, "EVP_CIPHER_CTX_ctrl()");
        return NGX_ERROR;
    }

    /* the tag comparison in OpenSSL is constant time */

    if (EVP_CipherFinal_ex(ctx, out + len, &n) != 1) {
        ERR_clear_error();
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static void
ngx_http_oauth2_gcm_fail(ngx_log_t *log, ngx_http_oauth2_gcm_slot_t *slot,
    const char *what)
{
    ngx_log_error(NGX_LOG_ALERT, log, 0, "oauth2: %s failed", what);

    ERR_clear_error();

    /* start over with a fresh context next time */

    if (slot->ctx != NULL) {
        EVP_CIPHER_CTX_free(slot->ctx);
        slot->ctx = NULL;
    }

    ngx_explicit_memzero(slot->key, NGX_HTTP_OAUTH2_KEY_LEN);
}


/*
 * base64url without padding into dst->data (room for
 * ngx_base64_decoded_length(src->len) bytes); NGX_ERROR on a character
 * outside the alphabet or a length of 4k + 1.  The unused low bits of the
 * last character are ignored.  In one pass, four characters at a time:
 * nginx's ngx_decode_base64url() checks every character first, then
 * decodes, and takes a third of what opening a session costs.
 */

static ngx_int_t
ngx_http_oauth2_base64url_decode(ngx_str_t *dst, ngx_str_t *src)
{
    u_char        *d, *s;
    size_t         n;
    uint32_t       v;
    const u_char  *b;

    b = ngx_http_oauth2_base64url;
    d = dst->data;
    s = src->data;

    for (n = src->len; n >= 4; n -= 4) {

        if ((b[s[0]] | b[s[1]] | b[s[2]] | b[s[3]]) & 64) {
            return NGX_ERROR;
        }

        v = (uint32_t) b[s[0]] << 18 | (uint32_t) b[s[1]] << 12
            | (uint32_t) b[s[2]] << 6 | b[s[3]];

        *d++ = (u_char) (v >> 16);
        *d++ = (u_char) (v >> 8);
        *d++ = (u_char) v;

        s += 4;
    }

    switch (n) {

    case 0:
        break;

    case 2:
        if ((b[s[0]] | b[s[1]]) & 64) {
            return NGX_ERROR;
        }

        *d++ = (u_char) (b[s[0]] << 2 | b[s[1]] >> 4);
        break;

    case 3:
        if ((b[s[0]] | b[s[1]] | b[s[2]]) & 64) {
            return NGX_ERROR;
        }

        *d++ = (u_char) (b[s[0]] << 2 | b[s[1]] >> 4);
        *d++ = (u_char) (b[s[1]] << 4 | b[s[2]] >> 2);
        break;

    default: /* 1 */
        return NGX_ERROR;
    }

    dst->len = d - dst->data;

    return NGX_OK;
}


/* plaintext encodings */

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


/* request cookies */

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
          + sizeof("; HttpOnly; SameSite=Lax") - 1;

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

    p = ngx_cpymem(p, "; HttpOnly; SameSite=Lax",
                   sizeof("; HttpOnly; SameSite=Lax") - 1);

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

    a.max_age = max_age;
    a.secure = secure;
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
