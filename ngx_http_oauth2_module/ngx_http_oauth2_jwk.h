
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


#ifndef _NGX_HTTP_OAUTH2_JWK_H_INCLUDED_
#define _NGX_HTTP_OAUTH2_JWK_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <openssl/evp.h>


/* how an algorithm signs: ngx_http_oauth2_alg_t.kind */
#define NGX_HTTP_OAUTH2_SIG_RSA        1
#define NGX_HTTP_OAUTH2_SIG_PSS        2
#define NGX_HTTP_OAUTH2_SIG_EC         3
#define NGX_HTTP_OAUTH2_SIG_EDDSA      4
#define NGX_HTTP_OAUTH2_SIG_HMAC       5


/* a JWS algorithm: "RS256", NGX_HTTP_OAUTH2_ALG_RS256, RSA, "SHA256" */
typedef struct {
    ngx_str_t           name;
    ngx_uint_t          bit;      /* NGX_HTTP_OAUTH2_ALG_* */
    ngx_uint_t          kind;     /* NGX_HTTP_OAUTH2_SIG_* */
    const char         *md;       /* digest name, NULL for EdDSA */
    size_t              siglen;   /* fixed length, 0 for RSA */
} ngx_http_oauth2_alg_t;


/* a public key from a JWKS, usable for signature verification */
typedef struct {
    ngx_str_t           kid;      /* empty if the JWK has none */
    ngx_uint_t          algs;     /* NGX_HTTP_OAUTH2_ALG_* it can verify */
    EVP_PKEY           *pkey;
} ngx_http_oauth2_jwk_t;


/*
 * Parses a JWKS document into an array of ngx_http_oauth2_jwk_t allocated
 * in pool; the EVP_PKEYs are freed by a cleanup of that pool.  Keys of
 * unsupported types or with "use" other than "sig" are skipped (logged at
 * info level); returns NGX_ERROR (and *err) only if the document is not a
 * JWKS at all.  RSA, EC P-256/P-384/P-521 and Ed25519 keys are supported.
 */
ngx_int_t ngx_http_oauth2_jwks_parse(ngx_pool_t *pool, ngx_log_t *log,
    u_char *data, size_t len, ngx_array_t **keys, const char **err);

/* "RS256" -> NGX_HTTP_OAUTH2_ALG_RS256, 0 if unknown */
ngx_uint_t ngx_http_oauth2_alg_bit(ngx_str_t *name);

/* the algorithm of one NGX_HTTP_OAUTH2_ALG_* bit, NULL if none */
ngx_http_oauth2_alg_t *ngx_http_oauth2_alg(ngx_uint_t bit);

/*
 * Strict base64url (RFC 7515, section 2) of len bytes at p into out,
 * allocated in pool, as JWK members and JWS segments are: NGX_ERROR if it
 * is not exactly that.
 */
ngx_int_t ngx_http_oauth2_jwk_base64url(ngx_pool_t *pool, u_char *p,
    size_t len, ngx_str_t *out);


#endif /* _NGX_HTTP_OAUTH2_JWK_H_INCLUDED_ */
