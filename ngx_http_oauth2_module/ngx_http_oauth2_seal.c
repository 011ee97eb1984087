
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * Sealing, the bottom layer of the cookies: the keys derived from the
 * cookie secrets (HKDF-SHA256), AES-256-GCM sealing and opening of opaque
 * plaintexts, and the per-process cache of cipher contexts.  It knows
 * nothing of what it seals (ngx_http_oauth2_codec.c) nor of cookies
 * (ngx_http_oauth2_cookie.c).
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include "ngx_http_oauth2_base64url.h"
#include "ngx_http_oauth2_seal.h"


/*
 * docs/session-format.md describes every byte written here; keep both (and
 * t/tools/seal.js) in step.
 */

#define NGX_HTTP_OAUTH2_SEAL_VERSION     1
#define NGX_HTTP_OAUTH2_NONCE_LEN        12
#define NGX_HTTP_OAUTH2_TAG_LEN          16
#define NGX_HTTP_OAUTH2_SEAL_OVERHEAD                                         \
    (1 + NGX_HTTP_OAUTH2_NONCE_LEN + NGX_HTTP_OAUTH2_TAG_LEN)

/* a bound for the base64url of the largest sealed value (the smallest:
 * NGX_HTTP_OAUTH2_SEALED_MIN) */
#define NGX_HTTP_OAUTH2_SEALED_MAX       65536
#define NGX_HTTP_OAUTH2_PLAIN_MAX        49000

/* cipher contexts kept per process, each for one key */
#define NGX_HTTP_OAUTH2_GCM_CACHE        8

/* additional data up to this long goes to the cipher in one call */
#define NGX_HTTP_OAUTH2_AAD_MAX          256

#define NGX_HTTP_OAUTH2_HKDF_SALT        "ngx_http_oauth2_module cookie keys v1"


typedef struct {
    EVP_CIPHER_CTX            *ctx;
    u_char                     key[NGX_HTTP_OAUTH2_KEY_LEN];
} ngx_http_oauth2_gcm_slot_t;


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
ngx_http_oauth2_seal_exit(void)
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

    if (ngx_http_oauth2_base64url_decode(&raw, sealed, 0) != NGX_OK
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
