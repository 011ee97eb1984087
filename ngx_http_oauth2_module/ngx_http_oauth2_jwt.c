
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * JSON Web Signatures: the parsing of a compact JWS, the verification of
 * its signature with a key of the provider's JWKS (or the client secret
 * for HS*), and the ID token claim checks of OpenID Connect Core 3.1.3.7.
 * Keys and algorithms come from ngx_http_oauth2_jwk.c.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http_oauth2_module.h>
#include <ngx_http_oauth2_json.h>
#include <ngx_http_oauth2_jwk.h>
#include <ngx_http_oauth2_jwt.h>

#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>


/* the longest DER ECDSA-Sig-Value: P-521, two 67-byte INTEGERs */
#define NGX_HTTP_OAUTH2_ECDSA_DER_LEN  160

#define NGX_HTTP_OAUTH2_HMAC_MAX_LEN   64


static ngx_int_t ngx_http_oauth2_jwt_verify_hmac(ngx_http_oauth2_jwt_t *jwt,
    ngx_http_oauth2_alg_t *alg, ngx_str_t *secret);
static ngx_int_t ngx_http_oauth2_jwt_verify_pkey(ngx_http_oauth2_jwt_t *jwt,
    ngx_http_oauth2_alg_t *alg, EVP_PKEY *pkey);
static int ngx_http_oauth2_jwt_ecdsa_der(ngx_str_t *sig, u_char *der);
static ngx_int_t ngx_http_oauth2_jwt_check_aud(yajl_val claims,
    ngx_str_t *client_id, const char **err);


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

    if (ngx_http_oauth2_jwk_base64url(pool, p, dot1 - p, &header) != NGX_OK
        || ngx_http_oauth2_jwk_base64url(pool, dot1 + 1, dot2 - dot1 - 1,
                                         &payload)
           != NGX_OK
        || ngx_http_oauth2_jwk_base64url(pool, dot2 + 1, last - dot2 - 1,
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
    ngx_http_oauth2_alg_t  *alg;

    alg = (jwt->alg_bit != 0) ? ngx_http_oauth2_alg(jwt->alg_bit) : NULL;

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

    if (alg->kind == NGX_HTTP_OAUTH2_SIG_HMAC) {

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
    ngx_http_oauth2_alg_t *alg, ngx_str_t *secret)
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
    ngx_http_oauth2_alg_t *alg, EVP_PKEY *pkey)
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

    case NGX_HTTP_OAUTH2_SIG_RSA:
    case NGX_HTTP_OAUTH2_SIG_PSS:

        if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA
            || siglen != (size_t) EVP_PKEY_get_size(pkey))
        {
            return NGX_DECLINED;
        }

        break;

    case NGX_HTTP_OAUTH2_SIG_EC:

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

    default: /* NGX_HTTP_OAUTH2_SIG_EDDSA */

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

    if (alg->kind == NGX_HTTP_OAUTH2_SIG_RSA) {
        if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0) {
            goto failed;
        }

    } else if (alg->kind == NGX_HTTP_OAUTH2_SIG_PSS) {

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


u_char *
ngx_http_oauth2_issuer_template(ngx_str_t *issuer)
{
    u_char  *p, *last;

    if (issuer->len < sizeof(NGX_HTTP_OAUTH2_TENANT_ID) - 1) {
        return NULL;
    }

    last = issuer->data + issuer->len - (sizeof(NGX_HTTP_OAUTH2_TENANT_ID) - 1);

    for (p = issuer->data; p <= last; p++) {
        if (*p == '{'
            && ngx_memcmp(p, NGX_HTTP_OAUTH2_TENANT_ID,
                          sizeof(NGX_HTTP_OAUTH2_TENANT_ID) - 1)
               == 0)
        {
            return p;
        }
    }

    return NULL;
}


ngx_int_t
ngx_http_oauth2_issuer_match(ngx_str_t *issuer, ngx_str_t *iss,
    ngx_str_t *tid)
{
    u_char     *t, *p;
    size_t      pre, post;
    ngx_str_t   id;

    t = ngx_http_oauth2_issuer_template(issuer);

    if (t == NULL) {
        return (iss->len == issuer->len
                && ngx_memcmp(iss->data, issuer->data, iss->len) == 0)
               ? NGX_OK : NGX_DECLINED;
    }

    pre = t - issuer->data;
    post = issuer->len - pre - (sizeof(NGX_HTTP_OAUTH2_TENANT_ID) - 1);

    if (iss->len <= pre + post
        || ngx_memcmp(iss->data, issuer->data, pre) != 0
        || ngx_memcmp(iss->data + iss->len - post, issuer->data + issuer->len
                      - post, post)
           != 0)
    {
        return NGX_DECLINED;
    }

    id.data = iss->data + pre;
    id.len = iss->len - pre - post;

    if (id.len > NGX_HTTP_OAUTH2_TENANT_MAX_LEN) {
        return NGX_DECLINED;
    }

    for (p = id.data; p < id.data + id.len; p++) {
        if (!(isalnum(*p) || *p == '-')) {
            return NGX_DECLINED;
        }
    }

    if (tid != NULL
        && (tid->len != id.len || ngx_memcmp(tid->data, id.data, id.len) != 0))
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_oauth2_jwt_check_iss(yajl_val claims, ngx_str_t *issuer,
    const char **err)
{
    u_char     *p;
    ngx_str_t   iss, tid;

    if (ngx_http_oauth2_json_string(claims, "iss", &iss) != NGX_OK
        || iss.len == 0)
    {
        *err = "id token has no valid iss";
        return NGX_DECLINED;
    }

    if (ngx_http_oauth2_issuer_template(issuer) == NULL) {
        if (ngx_http_oauth2_issuer_match(issuer, &iss, NULL) != NGX_OK) {
            *err = "id token issuer mismatch";
            return NGX_DECLINED;
        }

        return NGX_OK;
    }

    /* the tenant the token names, checked before it fills the template */

    if (ngx_http_oauth2_json_string(claims, "tid", &tid) != NGX_OK
        || tid.len == 0)
    {
        *err = "id token has no tid (the issuer is multi-tenant)";
        return NGX_DECLINED;
    }

    if (tid.len > NGX_HTTP_OAUTH2_TENANT_MAX_LEN) {
        *err = "id token tid is not a tenant id";
        return NGX_DECLINED;
    }

    for (p = tid.data; p < tid.data + tid.len; p++) {
        if (!(isalnum(*p) || *p == '-')) {
            *err = "id token tid is not a tenant id";
            return NGX_DECLINED;
        }
    }

    if (ngx_http_oauth2_issuer_match(issuer, &iss, &tid) != NGX_OK) {
        *err = "id token issuer mismatch (not its tenant's)";
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
    ngx_str_t   sub, nonce;

    claims = jwt->claims;

    if (!YAJL_IS_OBJECT(claims)) {
        *err = "id token has no claims";
        return NGX_DECLINED;
    }

    /* 2: the issuer, compared exactly (a template: filled with tid) */

    if (ngx_http_oauth2_jwt_check_iss(claims, &expect->issuer, err)
        != NGX_OK)
    {
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


ngx_uint_t
ngx_http_oauth2_jwt_has_claims(ngx_http_oauth2_jwt_t *jwt, ngx_array_t *names)
{
    char       **name;
    yajl_val     v;
    ngx_uint_t   i;

    name = names->elts;

    for (i = 0; i < names->nelts; i++) {
        v = ngx_http_oauth2_json_get(jwt->claims, name[i]);

        if (v == NULL || YAJL_IS_NULL(v)) {
            return 0;
        }
    }

    return 1;
}
