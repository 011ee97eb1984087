
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * JWT client assertions (RFC 7523, 2.2; RFC 7521): the client's private
 * key (and its certificate's thumbprints), read once from PEM at
 * configuration time, the header built once, and a fresh signed
 * assertion for each call that authenticates the client.
 * (ngx_http_oauth2_assertion.c)
 */


#ifndef _NGX_HTTP_OAUTH2_ASSERTION_H_INCLUDED_
#define _NGX_HTTP_OAUTH2_ASSERTION_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <openssl/evp.h>


/* how long an assertion is valid: exp = iat + this */
#define NGX_HTTP_OAUTH2_ASSERTION_TTL  60


/*
 * The private key in pem (PKCS#8 or the traditional RSA and EC forms):
 * an RSA key of at least 2048 bits (RS256) or an EC P-256 key (ES256).
 * Anything else, an encrypted key included, is refused with a message
 * that names "what" and never shows the key.  *key is freed with
 * cf->pool; *alg is NGX_HTTP_OAUTH2_ALG_RS256 or _ES256.
 */
ngx_int_t ngx_http_oauth2_assertion_key(ngx_conf_t *cf, ngx_str_t *pem,
    const char *what, EVP_PKEY **key, ngx_uint_t *alg);

/*
 * The base64url SHA-1 and SHA-256 thumbprints ("x5t", "x5t#S256") of the
 * PEM certificate in pem, which must be that of key; in cf->pool.
 */
ngx_int_t ngx_http_oauth2_assertion_thumbprints(ngx_conf_t *cf,
    ngx_str_t *pem, const char *what, EVP_PKEY *key, ngx_str_t *x5t,
    ngx_str_t *x5t_s256);

/*
 * The base64url JOSE header of the assertions, in pool: alg (an
 * NGX_HTTP_OAUTH2_ALG_* bit: RS256, ES256 or HS256), and kid, x5t and
 * x5t#S256 when not empty.
 */
ngx_int_t ngx_http_oauth2_assertion_header(ngx_pool_t *pool, ngx_uint_t alg,
    ngx_str_t *kid, ngx_str_t *x5t, ngx_str_t *x5t_s256, ngx_str_t *header);

/*
 * A client assertion, in pool: header (of ngx_http_oauth2_assertion_
 * header()), then the claims iss = sub = client_id, aud, a random jti,
 * iat now and exp a minute later; signed with key (alg RS256 or ES256)
 * or, when key is NULL, with secret (HS256).
 */
ngx_int_t ngx_http_oauth2_assertion(ngx_pool_t *pool, EVP_PKEY *key,
    ngx_uint_t alg, ngx_str_t *secret, ngx_str_t *header,
    ngx_str_t *client_id, ngx_str_t *aud, ngx_str_t *out);


#endif /* _NGX_HTTP_OAUTH2_ASSERTION_H_INCLUDED_ */
