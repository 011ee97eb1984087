
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http_oauth2_module.h>
#include <ngx_http_oauth2_json.h>
#include <ngx_http_oauth2_jwt.h>
#include <ngx_http_oauth2_base64url.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>


#define NGX_HTTP_OAUTH2_JWT_RSA        1
#define NGX_HTTP_OAUTH2_JWT_PSS        2
#define NGX_HTTP_OAUTH2_JWT_EC         3
#define NGX_HTTP_OAUTH2_JWT_EDDSA      4
#define NGX_HTTP_OAUTH2_JWT_HMAC       5

#define NGX_HTTP_OAUTH2_RSA_ALGS                                              \
    (NGX_HTTP_OAUTH2_ALG_RS256|NGX_HTTP_OAUTH2_ALG_RS384                      \
     |NGX_HTTP_OAUTH2_ALG_RS512|NGX_HTTP_OAUTH2_ALG_PS256                     \
     |NGX_HTTP_OAUTH2_ALG_PS384|NGX_HTTP_OAUTH2_ALG_PS512)

#define NGX_HTTP_OAUTH2_RSA_MIN_BITS   2048
#define NGX_HTTP_OAUTH2_RSA_MAX_BITS   16384
#define NGX_HTTP_OAUTH2_RSA_MAX_E_LEN  8

/* the longest DER ECDSA-Sig-Value: P-521, two 67-byte INTEGERs */
#define NGX_HTTP_OAUTH2_ECDSA_DER_LEN  160

/* a P-521 uncompressed point: 04 || x || y */
#define NGX_HTTP_OAUTH2_EC_POINT_LEN   (1 + 2 * 66)

#define NGX_HTTP_OAUTH2_HMAC_MAX_LEN   64


typedef struct {
    ngx_str_t                  name;
    ngx_uint_t                 bit;
    ngx_uint_t                 kind;
    const char                *md;       /* digest name, NULL for EdDSA */
    size_t                     siglen;   /* fixed length, 0 for RSA */
} ngx_http_oauth2_jwt_alg_t;


typedef struct {
    ngx_str_t                  crv;
    const char                *group;
    size_t                     len;      /* coordinate length */
    ngx_uint_t                 alg;
} ngx_http_oauth2_jwt_curve_t;


static ngx_http_oauth2_jwt_alg_t *ngx_http_oauth2_jwt_alg(ngx_uint_t bit);
static ngx_int_t ngx_http_oauth2_jwt_base64url(ngx_pool_t *pool, u_char *p,
    size_t len, ngx_str_t *out);
static ngx_int_t ngx_http_oauth2_jwk_member(ngx_pool_t *pool, yajl_val v,
    const char *name, ngx_str_t *out);
static ngx_int_t ngx_http_oauth2_jwk_parse(ngx_pool_t *pool, yajl_val v,
    ngx_http_oauth2_jwk_t *key, const char **reason);
static ngx_int_t ngx_http_oauth2_jwk_rsa(ngx_pool_t *pool, yajl_val v,
    ngx_http_oauth2_jwk_t *key, const char **reason);
static ngx_int_t ngx_http_oauth2_jwk_ec(ngx_pool_t *pool, yajl_val v,
    ngx_http_oauth2_jwk_t *key, const char **reason);
static ngx_int_t ngx_http_oauth2_jwk_okp(ngx_pool_t *pool, yajl_val v,
    ngx_http_oauth2_jwk_t *key, const char **reason);
static EVP_PKEY *ngx_http_oauth2_jwk_fromdata(const char *type,
    OSSL_PARAM_BLD *bld);
static void ngx_http_oauth2_jwks_cleanup(void *data);
static ngx_int_t ngx_http_oauth2_jwt_verify_hmac(ngx_http_oauth2_jwt_t *jwt,
    ngx_http_oauth2_jwt_alg_t *alg, ngx_str_t *secret);
static ngx_int_t ngx_http_oauth2_jwt_verify_pkey(ngx_http_oauth2_jwt_t *jwt,
    ngx_http_oauth2_jwt_alg_t *alg, EVP_PKEY *pkey);
static int ngx_http_oauth2_jwt_ecdsa_der(ngx_str_t *sig, u_char *der);
static ngx_int_t ngx_http_oauth2_jwt_check_aud(yajl_val claims,
    ngx_str_t *client_id, const char **err);


static ngx_http_oauth2_jwt_alg_t  ngx_http_oauth2_jwt_algs[] = {

    { ngx_string("RS256"), NGX_HTTP_OAUTH2_ALG_RS256,
      NGX_HTTP_OAUTH2_JWT_RSA, "SHA256", 0 },
    { ngx_string("RS384"), NGX_HTTP_OAUTH2_ALG_RS384,
      NGX_HTTP_OAUTH2_JWT_RSA, "SHA384", 0 },
    { ngx_string("RS512"), NGX_HTTP_OAUTH2_ALG_RS512,
      NGX_HTTP_OAUTH2_JWT_RSA, "SHA512", 0 },

    { ngx_string("PS256"), NGX_HTTP_OAUTH2_ALG_PS256,
      NGX_HTTP_OAUTH2_JWT_PSS, "SHA256", 0 },
    { ngx_string("PS384"), NGX_HTTP_OAUTH2_ALG_PS384,
      NGX_HTTP_OAUTH2_JWT_PSS, "SHA384", 0 },
    { ngx_string("PS512"), NGX_HTTP_OAUTH2_ALG_PS512,
      NGX_HTTP_OAUTH2_JWT_PSS, "SHA512", 0 },

    { ngx_string("ES256"), NGX_HTTP_OAUTH2_ALG_ES256,
      NGX_HTTP_OAUTH2_JWT_EC, "SHA256", 64 },
    { ngx_string("ES384"), NGX_HTTP_OAUTH2_ALG_ES384,
      NGX_HTTP_OAUTH2_JWT_EC, "SHA384", 96 },
    { ngx_string("ES512"), NGX_HTTP_OAUTH2_ALG_ES512,
      NGX_HTTP_OAUTH2_JWT_EC, "SHA512", 132 },

    { ngx_string("EdDSA"), NGX_HTTP_OAUTH2_ALG_EDDSA,
      NGX_HTTP_OAUTH2_JWT_EDDSA, NULL, 64 },

    /* the fully-specified name of RFC 9864: with the only curve we do */
    { ngx_string("Ed25519"), NGX_HTTP_OAUTH2_ALG_EDDSA,
      NGX_HTTP_OAUTH2_JWT_EDDSA, NULL, 64 },

    { ngx_string("HS256"), NGX_HTTP_OAUTH2_ALG_HS256,
      NGX_HTTP_OAUTH2_JWT_HMAC, "SHA256", 32 },
    { ngx_string("HS384"), NGX_HTTP_OAUTH2_ALG_HS384,
      NGX_HTTP_OAUTH2_JWT_HMAC, "SHA384", 48 },
    { ngx_string("HS512"), NGX_HTTP_OAUTH2_ALG_HS512,
      NGX_HTTP_OAUTH2_JWT_HMAC, "SHA512", 64 },

    { ngx_null_string, 0, 0, NULL, 0 }
};


static ngx_http_oauth2_jwt_curve_t  ngx_http_oauth2_jwt_curves[] = {
    { ngx_string("P-256"), "prime256v1", 32, NGX_HTTP_OAUTH2_ALG_ES256 },
    { ngx_string("P-384"), "secp384r1", 48, NGX_HTTP_OAUTH2_ALG_ES384 },
    { ngx_string("P-521"), "secp521r1", 66, NGX_HTTP_OAUTH2_ALG_ES512 },
    { ngx_null_string, NULL, 0, 0 }
};


ngx_uint_t
ngx_http_oauth2_alg_bit(ngx_str_t *name)
{
    ngx_http_oauth2_jwt_alg_t  *alg;

    for (alg = ngx_http_oauth2_jwt_algs; alg->bit; alg++) {
        if (alg->name.len == name->len
            && ngx_memcmp(alg->name.data, name->data, name->len) == 0)
        {
            return alg->bit;
        }
    }

    return 0;
}


static ngx_http_oauth2_jwt_alg_t *
ngx_http_oauth2_jwt_alg(ngx_uint_t bit)
{
    ngx_http_oauth2_jwt_alg_t  *alg;

    for (alg = ngx_http_oauth2_jwt_algs; alg->bit; alg++) {
        if (alg->bit == bit) {
            return alg;
        }
    }

    return NULL;
}


/*
 * Strict base64url (RFC 7515, section 2): the URL-safe alphabet only, no
 * "=" padding, no whitespace, and the unused bits of the last character
 * must be zero, so that every value has exactly one encoding.
 */

static ngx_int_t
ngx_http_oauth2_jwt_base64url(ngx_pool_t *pool, u_char *p, size_t len,
    ngx_str_t *out)
{
    ngx_str_t  src;

    out->data = ngx_pnalloc(pool, ngx_base64_decoded_length(len) + 1);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    src.len = len;
    src.data = p;

    return ngx_http_oauth2_base64url_decode(out, &src,
                                            NGX_HTTP_OAUTH2_BASE64URL_STRICT);
}


/* a base64url member of a JWK, decoded: NGX_DECLINED if bad or absent */

static ngx_int_t
ngx_http_oauth2_jwk_member(ngx_pool_t *pool, yajl_val v, const char *name,
    ngx_str_t *out)
{
    ngx_str_t  s;

    if (ngx_http_oauth2_json_string(v, name, &s) != NGX_OK || s.len == 0) {
        return NGX_DECLINED;
    }

    if (ngx_http_oauth2_jwt_base64url(pool, s.data, s.len, out) != NGX_OK) {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_oauth2_jwks_parse(ngx_pool_t *pool, ngx_log_t *log, u_char *data,
    size_t len, ngx_array_t **keys, const char **err)
{
    size_t                  i, n;
    yajl_val                root, list;
    ngx_int_t               rc;
    const char             *reason;
    ngx_array_t            *a;
    ngx_pool_cleanup_t     *cln;
    ngx_http_oauth2_jwk_t  *jwk, key;

    root = ngx_http_oauth2_json_parse(pool, data, len, err);
    if (root == NULL) {
        return NGX_ERROR;
    }

    list = ngx_http_oauth2_json_get(root, "keys");

    if (!YAJL_IS_ARRAY(list)) {
        *err = "JWKS has no \"keys\" array";
        return NGX_ERROR;
    }

    n = list->u.array.len;

    a = ngx_array_create(pool, n ? n : 1, sizeof(ngx_http_oauth2_jwk_t));
    if (a == NULL) {
        *err = "out of memory";
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        *err = "out of memory";
        return NGX_ERROR;
    }

    cln->handler = ngx_http_oauth2_jwks_cleanup;
    cln->data = a;

    for (i = 0; i < n; i++) {

        ngx_memzero(&key, sizeof(ngx_http_oauth2_jwk_t));
        reason = NULL;

        rc = ngx_http_oauth2_jwk_parse(pool, list->u.array.values[i], &key,
                                       &reason);

        if (rc == NGX_ERROR) {
            *err = "out of memory";
            return NGX_ERROR;
        }

        if (rc == NGX_DECLINED) {
            ngx_log_error(NGX_LOG_INFO, log, 0,
                          "oauth2: JWKS key #%uz skipped: %s", i, reason);
            continue;
        }

        jwk = ngx_array_push(a);
        if (jwk == NULL) {
            EVP_PKEY_free(key.pkey);
            *err = "out of memory";
            return NGX_ERROR;
        }

        *jwk = key;
    }

    *keys = a;
    *err = NULL;

    return NGX_OK;
}


static void
ngx_http_oauth2_jwks_cleanup(void *data)
{
    ngx_array_t  *a = data;

    ngx_uint_t              i;
    ngx_http_oauth2_jwk_t  *jwk;

    jwk = a->elts;

    for (i = 0; i < a->nelts; i++) {
        EVP_PKEY_free(jwk[i].pkey);
        jwk[i].pkey = NULL;
    }
}


static ngx_int_t
ngx_http_oauth2_jwk_parse(ngx_pool_t *pool, yajl_val v,
    ngx_http_oauth2_jwk_t *key, const char **reason)
{
    size_t      i;
    yajl_val    ops;
    ngx_int_t   rc;
    ngx_str_t   kty, use, kid, alg;
    ngx_uint_t  bit, verify;

    if (!YAJL_IS_OBJECT(v)) {
        *reason = "not an object";
        return NGX_DECLINED;
    }

    if (ngx_http_oauth2_json_string(v, "kty", &kty) != NGX_OK) {
        *reason = "no \"kty\"";
        return NGX_DECLINED;
    }

    rc = ngx_http_oauth2_json_string(v, "use", &use);

    if (rc == NGX_ERROR
        || (rc == NGX_OK
            && (use.len != 3 || ngx_strncmp(use.data, "sig", 3) != 0)))
    {
        *reason = "\"use\" is not \"sig\"";
        return NGX_DECLINED;
    }

    ops = ngx_http_oauth2_json_get(v, "key_ops");

    if (ops != NULL) {
        verify = 0;

        if (YAJL_IS_ARRAY(ops)) {
            for (i = 0; i < ops->u.array.len; i++) {
                if (YAJL_IS_STRING(ops->u.array.values[i])
                    && ngx_strcmp(ops->u.array.values[i]->u.string, "verify")
                       == 0)
                {
                    verify = 1;
                }
            }
        }

        if (!verify) {
            *reason = "\"key_ops\" has no \"verify\"";
            return NGX_DECLINED;
        }
    }

    rc = ngx_http_oauth2_json_string(v, "kid", &kid);

    if (rc == NGX_ERROR) {
        *reason = "\"kid\" is not a string";
        return NGX_DECLINED;
    }

    if (rc == NGX_OK && kid.len > 0) {
        key->kid.data = ngx_pnalloc(pool, kid.len);
        if (key->kid.data == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(key->kid.data, kid.data, kid.len);
        key->kid.len = kid.len;
    }

    rc = ngx_http_oauth2_json_string(v, "alg", &alg);

    if (rc == NGX_ERROR) {
        *reason = "\"alg\" is not a string";
        return NGX_DECLINED;
    }

    if (rc == NGX_OK) {
        bit = ngx_http_oauth2_alg_bit(&alg);

        if (bit == 0) {
            *reason = "unsupported \"alg\"";
            return NGX_DECLINED;
        }

    } else {
        bit = 0;
    }

    if (kty.len == 3 && ngx_strncmp(kty.data, "RSA", 3) == 0) {
        rc = ngx_http_oauth2_jwk_rsa(pool, v, key, reason);

    } else if (kty.len == 2 && ngx_strncmp(kty.data, "EC", 2) == 0) {
        rc = ngx_http_oauth2_jwk_ec(pool, v, key, reason);

    } else if (kty.len == 3 && ngx_strncmp(kty.data, "OKP", 3) == 0) {
        rc = ngx_http_oauth2_jwk_okp(pool, v, key, reason);

    } else {
        *reason = "unsupported \"kty\"";
        return NGX_DECLINED;
    }

    if (rc != NGX_OK) {
        return rc;
    }

    /* a JWK "alg" restricts the key to that one algorithm */

    if (bit != 0) {
        key->algs &= bit;
    }

    if (key->algs == 0) {
        EVP_PKEY_free(key->pkey);
        key->pkey = NULL;

        *reason = "\"alg\" does not match the key type";
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/*
 * RSA keys shorter than 2048 bits are refused (RFC 7518, section 3.3 says
 * a key of 2048 bits or larger MUST be used); longer than 16384 bits is
 * OpenSSL's own limit for verification.
 */

static ngx_int_t
ngx_http_oauth2_jwk_rsa(ngx_pool_t *pool, yajl_val v,
    ngx_http_oauth2_jwk_t *key, const char **reason)
{
    u_char           c;
    size_t           bits;
    BIGNUM          *n, *e;
    EVP_PKEY        *pkey;
    ngx_str_t        ns, es;
    OSSL_PARAM_BLD  *bld;

    if (ngx_http_oauth2_jwk_member(pool, v, "n", &ns) != NGX_OK
        || ngx_http_oauth2_jwk_member(pool, v, "e", &es) != NGX_OK)
    {
        *reason = "bad RSA \"n\" or \"e\"";
        return NGX_DECLINED;
    }

    while (ns.len > 0 && ns.data[0] == 0) {
        ns.data++;
        ns.len--;
    }

    while (es.len > 0 && es.data[0] == 0) {
        es.data++;
        es.len--;
    }

    if (ns.len == 0 || (ns.data[ns.len - 1] & 1) == 0) {
        *reason = "bad RSA modulus";
        return NGX_DECLINED;
    }

    bits = ns.len * 8;

    for (c = ns.data[0]; (c & 0x80) == 0; c <<= 1) {
        bits--;
    }

    if (bits < NGX_HTTP_OAUTH2_RSA_MIN_BITS) {
        *reason = "RSA key shorter than 2048 bits";
        return NGX_DECLINED;
    }

    if (bits > NGX_HTTP_OAUTH2_RSA_MAX_BITS) {
        *reason = "RSA key longer than 16384 bits";
        return NGX_DECLINED;
    }

    if (es.len == 0
        || es.len > NGX_HTTP_OAUTH2_RSA_MAX_E_LEN
        || (es.data[es.len - 1] & 1) == 0
        || (es.len == 1 && es.data[0] == 1))
    {
        *reason = "bad RSA exponent";
        return NGX_DECLINED;
    }

    pkey = NULL;

    n = BN_bin2bn(ns.data, ns.len, NULL);
    e = BN_bin2bn(es.data, es.len, NULL);
    bld = OSSL_PARAM_BLD_new();

    if (n != NULL && e != NULL && bld != NULL
        && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n)
        && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
    {
        pkey = ngx_http_oauth2_jwk_fromdata("RSA", bld);
    }

    OSSL_PARAM_BLD_free(bld);
    BN_free(e);
    BN_free(n);

    if (pkey == NULL) {
        ERR_clear_error();
        *reason = "cannot create RSA key";
        return NGX_DECLINED;
    }

    key->pkey = pkey;
    key->algs = NGX_HTTP_OAUTH2_RSA_ALGS;

    return NGX_OK;
}


static ngx_int_t
ngx_http_oauth2_jwk_ec(ngx_pool_t *pool, yajl_val v,
    ngx_http_oauth2_jwk_t *key, const char **reason)
{
    u_char                        point[NGX_HTTP_OAUTH2_EC_POINT_LEN];
    EVP_PKEY                     *pkey;
    ngx_str_t                     crv, x, y;
    EVP_PKEY_CTX                 *ctx;
    OSSL_PARAM_BLD               *bld;
    ngx_http_oauth2_jwt_curve_t  *c;

    if (ngx_http_oauth2_json_string(v, "crv", &crv) != NGX_OK) {
        *reason = "no EC \"crv\"";
        return NGX_DECLINED;
    }

    for (c = ngx_http_oauth2_jwt_curves; c->len; c++) {
        if (c->crv.len == crv.len
            && ngx_memcmp(c->crv.data, crv.data, crv.len) == 0)
        {
            break;
        }
    }

    if (c->len == 0) {
        *reason = "unsupported EC curve";
        return NGX_DECLINED;
    }

    /* RFC 7518, section 6.2.1.2: the full coordinate length, always */

    if (ngx_http_oauth2_jwk_member(pool, v, "x", &x) != NGX_OK
        || ngx_http_oauth2_jwk_member(pool, v, "y", &y) != NGX_OK
        || x.len != c->len
        || y.len != c->len)
    {
        *reason = "bad EC \"x\" or \"y\"";
        return NGX_DECLINED;
    }

    point[0] = 0x04;
    ngx_memcpy(&point[1], x.data, c->len);
    ngx_memcpy(&point[1 + c->len], y.data, c->len);

    pkey = NULL;

    bld = OSSL_PARAM_BLD_new();

    if (bld != NULL
        && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                           c->group, 0)
        && OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
                                            point, 1 + 2 * c->len))
    {
        pkey = ngx_http_oauth2_jwk_fromdata("EC", bld);
    }

    OSSL_PARAM_BLD_free(bld);

    if (pkey == NULL) {
        ERR_clear_error();
        *reason = "cannot create EC key";
        return NGX_DECLINED;
    }

    /* the point must be on the curve and not the point at infinity */

    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);

    if (ctx == NULL || EVP_PKEY_public_check(ctx) != 1) {
        EVP_PKEY_CTX_free(ctx);
        EVP_PKEY_free(pkey);
        ERR_clear_error();
        *reason = "invalid EC public key";
        return NGX_DECLINED;
    }

    EVP_PKEY_CTX_free(ctx);

    key->pkey = pkey;
    key->algs = c->alg;

    return NGX_OK;
}


static ngx_int_t
ngx_http_oauth2_jwk_okp(ngx_pool_t *pool, yajl_val v,
    ngx_http_oauth2_jwk_t *key, const char **reason)
{
    EVP_PKEY   *pkey;
    ngx_str_t   crv, x;

    if (ngx_http_oauth2_json_string(v, "crv", &crv) != NGX_OK
        || crv.len != 7
        || ngx_strncmp(crv.data, "Ed25519", 7) != 0)
    {
        *reason = "unsupported OKP curve";
        return NGX_DECLINED;
    }

    if (ngx_http_oauth2_jwk_member(pool, v, "x", &x) != NGX_OK
        || x.len != 32)
    {
        *reason = "bad Ed25519 \"x\"";
        return NGX_DECLINED;
    }

    pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x.data, x.len);

    if (pkey == NULL) {
        ERR_clear_error();
        *reason = "cannot create Ed25519 key";
        return NGX_DECLINED;
    }

    key->pkey = pkey;
    key->algs = NGX_HTTP_OAUTH2_ALG_EDDSA;

    return NGX_OK;
}


static EVP_PKEY *
ngx_http_oauth2_jwk_fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
    EVP_PKEY      *pkey;
    OSSL_PARAM    *params;
    EVP_PKEY_CTX  *ctx;

    pkey = NULL;

    params = OSSL_PARAM_BLD_to_param(bld);
    ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);

    if (params == NULL
        || ctx == NULL
        || EVP_PKEY_fromdata_init(ctx) != 1
        || EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
    {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }

    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);

    return pkey;
}


ngx_int_t
ngx_http_oauth2_jwt_parse(ngx_pool_t *pool, ngx_str_t *token,
    ngx_http_oauth2_jwt_t *jwt, const char **err)
{
    u_char     *p, *last, *dot1, *dot2;
    ngx_int_t   rc;
    ngx_str_t   header, payload;

    ngx_memzero(jwt, sizeof(ngx_http_oauth2_jwt_t));

    if (token->len > NGX_HTTP_OAUTH2_JWT_MAX_LEN) {
        *err = "token too large";
        return NGX_ERROR;
    }

    p = token->data;
    last = p + token->len;

    dot1 = ngx_strlchr(p, last, '.');
    if (dot1 == NULL) {
        *err = "token is not a JWS";
        return NGX_ERROR;
    }

    dot2 = ngx_strlchr(dot1 + 1, last, '.');
    if (dot2 == NULL || ngx_strlchr(dot2 + 1, last, '.') != NULL) {
        *err = "token is not a JWS";
        return NGX_ERROR;
    }

    if (dot1 == p || dot2 == dot1 + 1) {
        *err = "token has an empty segment";
        return NGX_ERROR;
    }

    if (ngx_http_oauth2_jwt_base64url(pool, p, dot1 - p, &header) != NGX_OK
        || ngx_http_oauth2_jwt_base64url(pool, dot1 + 1, dot2 - dot1 - 1,
                                         &payload)
           != NGX_OK
        || ngx_http_oauth2_jwt_base64url(pool, dot2 + 1, last - dot2 - 1,
                                         &jwt->signature)
           != NGX_OK)
    {
        *err = "token is not valid base64url";
        return NGX_ERROR;
    }

    jwt->signing_input.data = p;
    jwt->signing_input.len = dot2 - p;

    jwt->header = ngx_http_oauth2_json_parse(pool, header.data, header.len,
                                             err);
    if (jwt->header == NULL) {
        *err = "token header is not valid JSON";
        return NGX_ERROR;
    }

    if (!YAJL_IS_OBJECT(jwt->header)) {
        *err = "token header is not a JSON object";
        return NGX_ERROR;
    }

    if (ngx_http_oauth2_json_string(jwt->header, "alg", &jwt->alg) != NGX_OK) {
        *err = "token header has no \"alg\"";
        return NGX_ERROR;
    }

    rc = ngx_http_oauth2_json_string(jwt->header, "kid", &jwt->kid);

    if (rc == NGX_ERROR) {
        *err = "token \"kid\" is not a string";
        return NGX_ERROR;
    }

    if (rc == NGX_DECLINED) {
        ngx_str_null(&jwt->kid);
    }

    /*
     * RFC 7515, section 4.1.11: "crit" lists extensions that must be
     * understood; none is supported here
     */

    if (ngx_http_oauth2_json_get(jwt->header, "crit") != NULL) {
        *err = "token has unsupported \"crit\" header";
        return NGX_ERROR;
    }

    jwt->alg_bit = ngx_http_oauth2_alg_bit(&jwt->alg);

    jwt->claims = ngx_http_oauth2_json_parse(pool, payload.data, payload.len,
                                             err);
    if (jwt->claims == NULL) {
        *err = "token payload is not valid JSON";
        return NGX_ERROR;
    }

    if (!YAJL_IS_OBJECT(jwt->claims)) {
        *err = "token payload is not a JSON object";
        return NGX_ERROR;
    }

    *err = NULL;

    return NGX_OK;
}


/*
 * Key selection.  With a "kid", only the keys of that kid are considered:
 * none known is NGX_AGAIN (the JWKS may have been rotated), one or more of
 * which none can do the token's alg is NGX_DECLINED, and if several could
 * (a JWKS should not repeat a kid) the first one is used.  Without a "kid"
 * (OpenID Connect Core, section 10.1, allows that when there is only one
 * key), the token is verified only if exactly one key can do its alg;
 * several such keys are NGX_DECLINED rather than tried in turn, so that
 * a token cannot make us run many verifications, and none is NGX_AGAIN.
 */

ngx_int_t
ngx_http_oauth2_jwt_verify(ngx_http_oauth2_jwt_t *jwt, ngx_array_t *keys,
    ngx_uint_t algs, ngx_str_t *hmac_secret, const char **err)
{
    ngx_int_t                   rc;
    ngx_uint_t                  i, nkid, nmatch;
    ngx_http_oauth2_jwk_t      *jwk, *found;
    ngx_http_oauth2_jwt_alg_t  *alg;

    alg = (jwt->alg_bit != 0) ? ngx_http_oauth2_jwt_alg(jwt->alg_bit) : NULL;

    if (alg == NULL) {
        if (jwt->alg.len == 4 && ngx_strncmp(jwt->alg.data, "none", 4) == 0)
        {
            *err = "alg none is not allowed";

        } else {
            *err = "unsupported alg";
        }

        return NGX_DECLINED;
    }

    if ((algs & alg->bit) == 0) {
        *err = "alg not allowed";
        return NGX_DECLINED;
    }

    if (alg->kind == NGX_HTTP_OAUTH2_JWT_HMAC) {

        if (hmac_secret == NULL || hmac_secret->len == 0) {
            *err = "no secret for HMAC alg";
            return NGX_DECLINED;
        }

        rc = ngx_http_oauth2_jwt_verify_hmac(jwt, alg, hmac_secret);
        goto done;
    }

    found = NULL;
    nkid = 0;
    nmatch = 0;

    if (keys != NULL) {
        jwk = keys->elts;

        for (i = 0; i < keys->nelts; i++) {

            if (jwt->kid.len > 0) {
                if (jwk[i].kid.len != jwt->kid.len
                    || ngx_memcmp(jwk[i].kid.data, jwt->kid.data,
                                  jwt->kid.len)
                       != 0)
                {
                    continue;
                }

                nkid++;
            }

            if ((jwk[i].algs & alg->bit) == 0 || jwk[i].pkey == NULL) {
                continue;
            }

            if (found == NULL) {
                found = &jwk[i];
            }

            nmatch++;
        }
    }

    if (jwt->kid.len > 0) {

        if (nkid == 0) {
            *err = "no key for kid";
            return NGX_AGAIN;
        }

        if (found == NULL) {
            *err = "key of kid does not support alg";
            return NGX_DECLINED;
        }

    } else {

        if (nmatch == 0) {
            *err = "no key for alg";
            return NGX_AGAIN;
        }

        if (nmatch > 1) {
            *err = "token has no kid and several keys match";
            return NGX_DECLINED;
        }
    }

    rc = ngx_http_oauth2_jwt_verify_pkey(jwt, alg, found->pkey);

done:

    if (rc != NGX_OK) {
        *err = "signature verification failed";
        return NGX_DECLINED;
    }

    *err = NULL;

    return NGX_OK;
}


static ngx_int_t
ngx_http_oauth2_jwt_verify_hmac(ngx_http_oauth2_jwt_t *jwt,
    ngx_http_oauth2_jwt_alg_t *alg, ngx_str_t *secret)
{
    u_char  mac[NGX_HTTP_OAUTH2_HMAC_MAX_LEN];
    size_t  len;

    if (jwt->signature.len != alg->siglen) {
        return NGX_DECLINED;
    }

    if (EVP_Q_mac(NULL, "HMAC", NULL, alg->md, NULL, secret->data,
                  secret->len, jwt->signing_input.data,
                  jwt->signing_input.len, mac, sizeof(mac), &len)
        == NULL)
    {
        ERR_clear_error();
        return NGX_ERROR;
    }

    if (len != alg->siglen
        || CRYPTO_memcmp(mac, jwt->signature.data, len) != 0)
    {
        OPENSSL_cleanse(mac, sizeof(mac));
        return NGX_DECLINED;
    }

    OPENSSL_cleanse(mac, sizeof(mac));

    return NGX_OK;
}


static ngx_int_t
ngx_http_oauth2_jwt_verify_pkey(ngx_http_oauth2_jwt_t *jwt,
    ngx_http_oauth2_jwt_alg_t *alg, EVP_PKEY *pkey)
{
    int            n, ok;
    u_char         der[NGX_HTTP_OAUTH2_ECDSA_DER_LEN];
    size_t         siglen;
    EVP_MD_CTX    *mctx;
    EVP_PKEY_CTX  *pctx;
    const u_char  *sig;

    sig = jwt->signature.data;
    siglen = jwt->signature.len;

    switch (alg->kind) {

    case NGX_HTTP_OAUTH2_JWT_RSA:
    case NGX_HTTP_OAUTH2_JWT_PSS:

        if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA
            || siglen != (size_t) EVP_PKEY_get_size(pkey))
        {
            return NGX_DECLINED;
        }

        break;

    case NGX_HTTP_OAUTH2_JWT_EC:

        /* JOSE carries R || S (RFC 7518, section 3.4), OpenSSL wants DER */

        if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_EC
            || siglen != alg->siglen)
        {
            return NGX_DECLINED;
        }

        n = ngx_http_oauth2_jwt_ecdsa_der(&jwt->signature, der);
        if (n <= 0) {
            return NGX_DECLINED;
        }

        sig = der;
        siglen = n;

        break;

    default: /* NGX_HTTP_OAUTH2_JWT_EDDSA */

        if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_ED25519
            || siglen != alg->siglen)
        {
            return NGX_DECLINED;
        }

        break;
    }

    mctx = EVP_MD_CTX_new();
    if (mctx == NULL) {
        ERR_clear_error();
        return NGX_ERROR;
    }

    pctx = NULL;
    ok = 0;

    if (EVP_DigestVerifyInit_ex(mctx, &pctx, alg->md, NULL, NULL, pkey, NULL)
        != 1)
    {
        goto failed;
    }

    if (alg->kind == NGX_HTTP_OAUTH2_JWT_RSA) {
        if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0) {
            goto failed;
        }

    } else if (alg->kind == NGX_HTTP_OAUTH2_JWT_PSS) {

        /* RFC 7518, section 3.5: MGF1 with the same hash, salt = hash */

        if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0
            || EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST)
               <= 0)
        {
            goto failed;
        }
    }

    ok = EVP_DigestVerify(mctx, sig, siglen, jwt->signing_input.data,
                          jwt->signing_input.len);

failed:

    EVP_MD_CTX_free(mctx);

    if (ok != 1) {
        ERR_clear_error();
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/* R || S to a DER ECDSA-Sig-Value in der; its length, or 0 */

static int
ngx_http_oauth2_jwt_ecdsa_der(ngx_str_t *sig, u_char *der)
{
    int         n;
    size_t      half;
    BIGNUM     *r, *s;
    u_char     *p;
    ECDSA_SIG  *es;

    half = sig->len / 2;

    n = 0;

    es = ECDSA_SIG_new();
    r = BN_bin2bn(sig->data, half, NULL);
    s = BN_bin2bn(sig->data + half, half, NULL);

    if (es == NULL || r == NULL || s == NULL || !ECDSA_SIG_set0(es, r, s)) {
        BN_free(r);
        BN_free(s);
        goto done;
    }

    /* r and s now belong to es */

    n = i2d_ECDSA_SIG(es, NULL);

    if (n <= 0 || n > NGX_HTTP_OAUTH2_ECDSA_DER_LEN) {
        n = 0;
        goto done;
    }

    p = der;
    n = i2d_ECDSA_SIG(es, &p);

done:

    ECDSA_SIG_free(es);

    if (n <= 0) {
        ERR_clear_error();
        return 0;
    }

    return n;
}


/*
 * OpenID Connect Core 3.1.3.7, items 3 to 5: "aud" is the client_id or an
 * array containing it; with several audiences "azp" must be present; an
 * "azp" must be the client_id.
 */

static ngx_int_t
ngx_http_oauth2_jwt_check_aud(yajl_val claims, ngx_str_t *client_id,
    const char **err)
{
    size_t      i, len;
    yajl_val    aud, a;
    ngx_int_t   rc;
    ngx_str_t   azp;
    ngx_uint_t  found;

    aud = ngx_http_oauth2_json_get(claims, "aud");

    found = 0;

    if (YAJL_IS_STRING(aud)) {
        len = ngx_strlen(aud->u.string);
        found = (len == client_id->len
                 && ngx_memcmp(aud->u.string, client_id->data, len) == 0);

    } else if (YAJL_IS_ARRAY(aud) && aud->u.array.len > 0) {

        for (i = 0; i < aud->u.array.len; i++) {
            a = aud->u.array.values[i];

            if (!YAJL_IS_STRING(a)) {
                *err = "id token has an invalid aud";
                return NGX_DECLINED;
            }

            len = ngx_strlen(a->u.string);

            if (len == client_id->len
                && ngx_memcmp(a->u.string, client_id->data, len) == 0)
            {
                found = 1;
            }
        }

    } else {
        *err = "id token has no valid aud";
        return NGX_DECLINED;
    }

    if (!found) {
        *err = "id token audience mismatch";
        return NGX_DECLINED;
    }

    rc = ngx_http_oauth2_json_string(claims, "azp", &azp);

    if (rc == NGX_ERROR) {
        *err = "id token has an invalid azp";
        return NGX_DECLINED;
    }

    if (rc == NGX_DECLINED) {
        if (YAJL_IS_ARRAY(aud) && aud->u.array.len > 1) {
            *err = "id token has several audiences and no azp";
            return NGX_DECLINED;
        }

        return NGX_OK;
    }

    if (azp.len != client_id->len
        || ngx_memcmp(azp.data, client_id->data, azp.len) != 0)
    {
        *err = "id token azp mismatch";
        return NGX_DECLINED;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_oauth2_jwt_check_id_token(ngx_http_oauth2_jwt_t *jwt,
    ngx_http_oauth2_jwt_expect_t *expect, const char **err)
{
    int64_t     exp, iat, nbf;
    yajl_val    claims;
    ngx_int_t   rc;
    ngx_str_t   iss, sub, nonce;

    claims = jwt->claims;

    if (!YAJL_IS_OBJECT(claims)) {
        *err = "id token has no claims";
        return NGX_DECLINED;
    }

    /* 2: the issuer, compared exactly */

    if (ngx_http_oauth2_json_string(claims, "iss", &iss) != NGX_OK
        || iss.len == 0)
    {
        *err = "id token has no valid iss";
        return NGX_DECLINED;
    }

    if (iss.len != expect->issuer.len
        || ngx_memcmp(iss.data, expect->issuer.data, iss.len) != 0)
    {
        *err = "id token issuer mismatch";
        return NGX_DECLINED;
    }

    /* 3 to 5: the audience and the authorized party */

    if (ngx_http_oauth2_jwt_check_aud(claims, &expect->client_id, err)
        != NGX_OK)
    {
        return NGX_DECLINED;
    }

    /*
     * 9: not expired; the time arithmetic stays on our side.  The times
     * are NumericDates: a fraction is rounded to make each check stricter
     * (exp down, iat and nbf up); a value that is not a number, negative,
     * or past the year 9999 refuses the token
     */

    if (ngx_http_oauth2_json_seconds(claims, "exp", 0, &exp) != NGX_OK) {
        *err = "id token has no valid exp";
        return NGX_DECLINED;
    }

    if (!((int64_t) (expect->now - expect->leeway) < exp)) {
        *err = "id token expired";
        return NGX_DECLINED;
    }

    /* 10: issued, and not in the future */

    if (ngx_http_oauth2_json_seconds(claims, "iat", 1, &iat) != NGX_OK) {
        *err = "id token has no valid iat";
        return NGX_DECLINED;
    }

    if (iat > (int64_t) (expect->now + expect->leeway)) {
        *err = "id token issued in the future";
        return NGX_DECLINED;
    }

    rc = ngx_http_oauth2_json_seconds(claims, "nbf", 1, &nbf);

    if (rc == NGX_ERROR) {
        *err = "id token has an invalid nbf";
        return NGX_DECLINED;
    }

    if (rc == NGX_OK && nbf > (int64_t) (expect->now + expect->leeway)) {
        *err = "id token not yet valid";
        return NGX_DECLINED;
    }

    /* the subject: OpenID Connect Core, section 2, REQUIRED */

    if (ngx_http_oauth2_json_string(claims, "sub", &sub) != NGX_OK
        || sub.len == 0)
    {
        *err = "id token has no valid sub";
        return NGX_DECLINED;
    }

    /* 11: the nonce of the authentication request, if one was sent */

    if (expect->nonce.len > 0) {

        rc = ngx_http_oauth2_json_string(claims, "nonce", &nonce);

        if (rc != NGX_OK) {
            *err = "id token has no valid nonce";
            return NGX_DECLINED;
        }

        if (nonce.len != expect->nonce.len
            || CRYPTO_memcmp(nonce.data, expect->nonce.data, nonce.len) != 0)
        {
            *err = "id token nonce mismatch";
            return NGX_DECLINED;
        }
    }

    *err = NULL;

    return NGX_OK;
}
