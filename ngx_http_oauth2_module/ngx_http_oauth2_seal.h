
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * Sealing: the cookie keys derived from the secrets (HKDF-SHA256), and
 * AES-256-GCM sealed values.  A sealed value is base64url(version | nonce
 * | ciphertext | tag) with the cookie's name (and purpose) as additional
 * data, so a value cannot be moved to another cookie.  The exact format is
 * in docs/session-format.md; t/tools/seal.js implements the same for
 * tests.  What is sealed is opaque here (ngx_http_oauth2_codec.h).
 */


#ifndef _NGX_HTTP_OAUTH2_SEAL_H_INCLUDED_
#define _NGX_HTTP_OAUTH2_SEAL_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


#define NGX_HTTP_OAUTH2_KEY_LEN        32

#define NGX_HTTP_OAUTH2_SEAL_SESSION   0
#define NGX_HTTP_OAUTH2_SEAL_STATE     1

/* the length of the smallest sealed value */
#define NGX_HTTP_OAUTH2_SEALED_MIN     39


/* the keys derived from one oauth2_cookie_secret */
typedef struct {
    u_char                     session[NGX_HTTP_OAUTH2_KEY_LEN];
    u_char                     state[NGX_HTTP_OAUTH2_KEY_LEN];
} ngx_http_oauth2_keys_t;


/* derives the session and state keys from one secret (HKDF-SHA256) */
ngx_int_t ngx_http_oauth2_derive_keys(ngx_str_t *secret,
    ngx_http_oauth2_keys_t *keys);

/* frees the process's cached cipher contexts (exit_process) */
void ngx_http_oauth2_seal_exit(void);

/* seal with the first key; purpose selects the session or state key.
 * plain is left alone: ngx_explicit_memzero() it once sealed if it holds
 * tokens */
ngx_int_t ngx_http_oauth2_seal(ngx_pool_t *pool, ngx_array_t *keys,
    ngx_uint_t purpose, ngx_str_t *aad, ngx_str_t *plain, ngx_str_t *sealed);

/* open with any key: NGX_OK (*index = the key that opened it; index may
 * be NULL), NGX_DECLINED for anything that does not open, NGX_ERROR only
 * for memory or OpenSSL failures; the plaintext is in pool */
ngx_int_t ngx_http_oauth2_open(ngx_pool_t *pool, ngx_array_t *keys,
    ngx_uint_t purpose, ngx_str_t *aad, ngx_str_t *sealed, ngx_str_t *plain,
    ngx_uint_t *index);


#endif /* _NGX_HTTP_OAUTH2_SEAL_H_INCLUDED_ */
