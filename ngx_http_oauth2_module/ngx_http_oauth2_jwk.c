
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * JSON Web Keys: the JWS algorithms the module knows (JWA, RFC 7518) and
 * which keys serve them, strict base64url into pool memory (with
 * ngx_http_oauth2_base64url.c's decoder), and the parsing of a JWKS
 * document into public keys (RSA, EC P-256/P-384/P-521, Ed25519) ready
 * for verification.  ngx_http_oauth2_jwt.c verifies tokens with them;
 * nothing here knows about tokens.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http_oauth2_module.h>
#include <ngx_http_oauth2_base64url.h>
#include <ngx_http_oauth2_json.h>
#include <ngx_http_oauth2_jwk.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>


#define NGX_HTTP_OAUTH2_RSA_ALGS                                              \
    (NGX_HTTP_OAUTH2_ALG_RS256|NGX_HTTP_OAUTH2_ALG_RS384                      \
     |NGX_HTTP_OAUTH2_ALG_RS512|NGX_HTTP_OAUTH2_ALG_PS256                     \
     |NGX_HTTP_OAUTH2_ALG_PS384|NGX_HTTP_OAUTH2_ALG_PS512)

#define NGX_HTTP_OAUTH2_RSA_MIN_BITS   2048
#define NGX_HTTP_OAUTH2_RSA_MAX_BITS   16384
#define NGX_HTTP_OAUTH2_RSA_MAX_E_LEN  8

/* a P-521 uncompressed point: 04 || x || y */
#define NGX_HTTP_OAUTH2_EC_POINT_LEN   (1 + 2 * 66)


typedef struct {
    ngx_str_t                  crv;
    const char                *group;
    size_t                     len;      /* coordinate length */
    ngx_uint_t                 alg;
} ngx_http_oauth2_jwk_curve_t;


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


static ngx_http_oauth2_alg_t  ngx_http_oauth2_algs[] = {

    { ngx_string("RS256"), NGX_HTTP_OAUTH2_ALG_RS256,
      NGX_HTTP_OAUTH2_SIG_RSA, "SHA256", 0 },
    { ngx_string("RS384"), NGX_HTTP_OAUTH2_ALG_RS384,
      NGX_HTTP_OAUTH2_SIG_RSA, "SHA384", 0 },
    { ngx_string("RS512"), NGX_HTTP_OAUTH2_ALG_RS512,
      NGX_HTTP_OAUTH2_SIG_RSA, "SHA512", 0 },

    { ngx_string("PS256"), NGX_HTTP_OAUTH2_ALG_PS256,
      NGX_HTTP_OAUTH2_SIG_PSS, "SHA256", 0 },
    { ngx_string("PS384"), NGX_HTTP_OAUTH2_ALG_PS384,
      NGX_HTTP_OAUTH2_SIG_PSS, "SHA384", 0 },
    { ngx_string("PS512"), NGX_HTTP_OAUTH2_ALG_PS512,
      NGX_HTTP_OAUTH2_SIG_PSS, "SHA512", 0 },

    { ngx_string("ES256"), NGX_HTTP_OAUTH2_ALG_ES256,
      NGX_HTTP_OAUTH2_SIG_EC, "SHA256", 64 },
    { ngx_string("ES384"), NGX_HTTP_OAUTH2_ALG_ES384,
      NGX_HTTP_OAUTH2_SIG_EC, "SHA384", 96 },
    { ngx_string("ES512"), NGX_HTTP_OAUTH2_ALG_ES512,
      NGX_HTTP_OAUTH2_SIG_EC, "SHA512", 132 },

    { ngx_string("EdDSA"), NGX_HTTP_OAUTH2_ALG_EDDSA,
      NGX_HTTP_OAUTH2_SIG_EDDSA, NULL, 64 },

    /* the fully-specified name of RFC 9864: with the only curve we do */
    { ngx_string("Ed25519"), NGX_HTTP_OAUTH2_ALG_EDDSA,
      NGX_HTTP_OAUTH2_SIG_EDDSA, NULL, 64 },

    { ngx_string("HS256"), NGX_HTTP_OAUTH2_ALG_HS256,
      NGX_HTTP_OAUTH2_SIG_HMAC, "SHA256", 32 },
    { ngx_string("HS384"), NGX_HTTP_OAUTH2_ALG_HS384,
      NGX_HTTP_OAUTH2_SIG_HMAC, "SHA384", 48 },
    { ngx_string("HS512"), NGX_HTTP_OAUTH2_ALG_HS512,
      NGX_HTTP_OAUTH2_SIG_HMAC, "SHA512", 64 },

    { ngx_null_string, 0, 0, NULL, 0 }
};


static ngx_http_oauth2_jwk_curve_t  ngx_http_oauth2_jwk_curves[] = {
    { ngx_string("P-256"), "prime256v1", 32, NGX_HTTP_OAUTH2_ALG_ES256 },
    { ngx_string("P-384"), "secp384r1", 48, NGX_HTTP_OAUTH2_ALG_ES384 },
    { ngx_string("P-521"), "secp521r1", 66, NGX_HTTP_OAUTH2_ALG_ES512 },
    { ngx_null_string, NULL, 0, 0 }
};


ngx_uint_t
ngx_http_oauth2_alg_bit(ngx_str_t *name)
{
    ngx_http_oauth2_alg_t  *alg;

    for (alg = ngx_http_oauth2_algs; alg->bit; alg++) {
        if (alg->name.len == name->len
            && ngx_memcmp(alg->name.data, name->data, name->len) == 0)
        {
            return alg->bit;
        }
    }

    return 0;
}


ngx_http_oauth2_alg_t *
ngx_http_oauth2_alg(ngx_uint_t bit)
{
    ngx_http_oauth2_alg_t  *alg;

    for (alg = ngx_http_oauth2_algs; alg->bit; alg++) {
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

ngx_int_t
ngx_http_oauth2_jwk_base64url(ngx_pool_t *pool, u_char *p, size_t len,
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

    if (ngx_http_oauth2_jwk_base64url(pool, s.data, s.len, out) != NGX_OK) {
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
    ngx_http_oauth2_jwk_curve_t  *c;

    if (ngx_http_oauth2_json_string(v, "crv", &crv) != NGX_OK) {
        *reason = "no EC \"crv\"";
        return NGX_DECLINED;
    }

    for (c = ngx_http_oauth2_jwk_curves; c->len; c++) {
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

