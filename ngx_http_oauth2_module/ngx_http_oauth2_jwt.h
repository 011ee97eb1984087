
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


#ifndef _NGX_HTTP_OAUTH2_JWT_H_INCLUDED_
#define _NGX_HTTP_OAUTH2_JWT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <openssl/evp.h>
#include <yajl/yajl_tree.h>

#include "ngx_http_oauth2_jwk.h"


/* longer tokens are refused by ngx_http_oauth2_jwt_parse() */
#define NGX_HTTP_OAUTH2_JWT_MAX_LEN  65536


/* a parsed (not yet verified) JWS in compact serialization */
typedef struct {
    ngx_str_t           signing_input;   /* header.payload as received */
    ngx_str_t           signature;       /* decoded */
    ngx_str_t           alg;
    ngx_str_t           kid;             /* empty if absent */
    ngx_uint_t          alg_bit;         /* NGX_HTTP_OAUTH2_ALG_*, 0 if
                                            unknown or "none" */
    yajl_val            header;
    yajl_val            claims;
} ngx_http_oauth2_jwt_t;


/* what the ID token must match (OpenID Connect Core 3.1.3.7) */
typedef struct {
    ngx_str_t           issuer;
    ngx_str_t           client_id;
    ngx_str_t           nonce;           /* empty: not checked */
    time_t              now;
    time_t              leeway;
} ngx_http_oauth2_jwt_expect_t;


/* splits, base64url-decodes and JSON-parses the three segments */
ngx_int_t ngx_http_oauth2_jwt_parse(ngx_pool_t *pool, ngx_str_t *token,
    ngx_http_oauth2_jwt_t *jwt, const char **err);

/*
 * Verifies the signature with the key of jwt->kid (or the only suitable
 * key when the token has no kid).  hmac_secret, when not NULL, is used for
 * HS* algorithms if they are in algs.  Returns NGX_OK, NGX_DECLINED (and
 * *err) on a bad signature or forbidden algorithm, NGX_AGAIN if no key
 * with that kid is known, or, for a token without kid, if no key can
 * verify its alg (the caller may refetch the JWKS once).  A token without
 * kid while several keys can verify its alg is NGX_DECLINED.  keys may be
 * NULL.
 */
ngx_int_t ngx_http_oauth2_jwt_verify(ngx_http_oauth2_jwt_t *jwt,
    ngx_array_t *keys, ngx_uint_t algs, ngx_str_t *hmac_secret,
    const char **err);

/* the claim checks of OpenID Connect Core 3.1.3.7: NGX_OK or NGX_DECLINED
 * with *err naming the failed rule */
ngx_int_t ngx_http_oauth2_jwt_check_id_token(ngx_http_oauth2_jwt_t *jwt,
    ngx_http_oauth2_jwt_expect_t *expect, const char **err);

/*
 * Multi-tenant issuers (Entra ID's common and organizations endpoints):
 * an issuer holding "{tenantid}" stands for every issuer it gives with a
 * tenant id (1 to 64 letters, digits and "-") in its place.
 */
#define NGX_HTTP_OAUTH2_TENANT_ID        "{tenantid}"
#define NGX_HTTP_OAUTH2_TENANT_MAX_LEN   64

/* where "{tenantid}" is in issuer, NULL if it is not a template */
u_char *ngx_http_oauth2_issuer_template(ngx_str_t *issuer);

/*
 * NGX_OK if iss is issuer byte for byte or, for a template, the template
 * filled with the tenant id tid (NULL: with any valid tenant id);
 * NGX_DECLINED if not
 */
ngx_int_t ngx_http_oauth2_issuer_match(ngx_str_t *issuer, ngx_str_t *iss,
    ngx_str_t *tid);

/*
 * The token's iss against issuer: for a template, the token's "tid"
 * claim, a valid tenant id, fills it (NGX_DECLINED and *err without one)
 */
ngx_int_t ngx_http_oauth2_jwt_check_iss(yajl_val claims, ngx_str_t *issuer,
    const char **err);

/* 1 if the token carries each claim of names (char *), not null */
ngx_uint_t ngx_http_oauth2_jwt_has_claims(ngx_http_oauth2_jwt_t *jwt,
    ngx_array_t *names);


#endif /* _NGX_HTTP_OAUTH2_JWT_H_INCLUDED_ */
