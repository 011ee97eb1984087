
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * JWT client assertions (RFC 7523, 2.2; RFC 7521, 4.2): the client's
 * private key, read once from PEM at configuration time and checked
 * (RSA of 2048 bits or more, EC P-256; never an encrypted key, never
 * shown in a message) with the thumbprints of its certificate if one is
 * given, the JOSE header built once, and the signing of one assertion
 * per call that authenticates the client: RS256, ES256 (the JWS form of
 * the signature, r || s, not DER) or HS256 with the client secret.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "ngx_http_oauth2_module.h"
#include "ngx_http_oauth2_assertion.h"


/* random bytes of a jti: 128 bits (RFC 7519 wants no collision) */
#define NGX_HTTP_OAUTH2_JTI_LEN        16

/* the longest signature: RSA 16384 bits */
#define NGX_HTTP_OAUTH2_SIG_MAX_LEN    2048


static int ngx_http_oauth2_no_password(char *buf, int size, int rwflag,
    void *data);
static void ngx_http_oauth2_key_free(void *data);
static u_char *ngx_http_oauth2_json_member(u_char *p, const char *name,
    ngx_str_t *value);
static ngx_int_t ngx_http_oauth2_assertion_sign(EVP_PKEY *key,
    ngx_uint_t alg, ngx_str_t *secret, u_char *data, size_t len,
    u_char *sig, size_t *siglen);


ngx_int_t
ngx_http_oauth2_assertion_key(ngx_conf_t *cf, ngx_str_t *pem,
    const char *what, EVP_PKEY **key, ngx_uint_t *alg)
{
    BIO                 *bio;
    char                 group[64];
    size_t               len;
    EVP_PKEY            *pkey;
    ngx_pool_cleanup_t  *cln;

    if (ngx_strlcasestrn(pem->data, pem->data + pem->len,
                         (u_char *) "ENCRYPTED", sizeof("ENCRYPTED") - 2)
        != NULL)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%s\": the key is encrypted; nginx cannot ask "
                           "for its password: store it unencrypted "
                           "(\"openssl pkey -in KEY -out PLAIN\") in a file "
                           "only nginx's master process can read", what);
        return NGX_ERROR;
    }

    bio = BIO_new_mem_buf(pem->data, (int) pem->len);
    if (bio == NULL) {
        return NGX_ERROR;
    }

    pkey = PEM_read_bio_PrivateKey(bio, NULL, ngx_http_oauth2_no_password,
                                   NULL);
    BIO_free(bio);
    ERR_clear_error();

    if (pkey == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%s\": no PEM private key found (\"BEGIN "
                           "PRIVATE KEY\", \"BEGIN RSA PRIVATE KEY\" or "
                           "\"BEGIN EC PRIVATE KEY\")", what);
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        EVP_PKEY_free(pkey);
        return NGX_ERROR;
    }

    cln->handler = ngx_http_oauth2_key_free;
    cln->data = pkey;

    switch (EVP_PKEY_get_base_id(pkey)) {

    case EVP_PKEY_RSA:
        if (EVP_PKEY_get_bits(pkey) < 2048) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%s\": an RSA key of %d bits is too short "
                               "(2048 at least)", what,
                               EVP_PKEY_get_bits(pkey));
            return NGX_ERROR;
        }

        *alg = NGX_HTTP_OAUTH2_ALG_RS256;
        break;

    case EVP_PKEY_EC:
        if (EVP_PKEY_get_group_name(pkey, group, sizeof(group), &len) != 1
            || ngx_strcmp(group, "prime256v1") != 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%s\": only EC keys of curve P-256 are "
                               "supported (ES256)", what);
            return NGX_ERROR;
        }

        *alg = NGX_HTTP_OAUTH2_ALG_ES256;
        break;

    default:
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%s\": the key must be an RSA or EC P-256 "
                           "private key", what);
        return NGX_ERROR;
    }

    *key = pkey;

    return NGX_OK;
}


/* an encrypted key is refused, never asked for on a terminal */

static int
ngx_http_oauth2_no_password(char *buf, int size, int rwflag, void *data)
{
    return -1;
}


static void
ngx_http_oauth2_key_free(void *data)
{
    EVP_PKEY_free(data);
}


/*
 * The certificate of the key (Entra ID's certificate credentials): its
 * SHA-1 and SHA-256 thumbprints, base64url, for "x5t" and "x5t#S256"
 */

ngx_int_t
ngx_http_oauth2_assertion_thumbprints(ngx_conf_t *cf, ngx_str_t *pem,
    const char *what, EVP_PKEY *key, ngx_str_t *x5t, ngx_str_t *x5t_s256)
{
    BIO           *bio;
    X509          *x;
    ngx_int_t      rc;
    ngx_str_t      src;
    unsigned int   n;
    u_char         md[EVP_MAX_MD_SIZE];

    bio = BIO_new_mem_buf(pem->data, (int) pem->len);
    if (bio == NULL) {
        return NGX_ERROR;
    }

    x = PEM_read_bio_X509(bio, NULL, ngx_http_oauth2_no_password, NULL);
    BIO_free(bio);
    ERR_clear_error();

    if (x == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%s\": no PEM certificate found (\"BEGIN "
                           "CERTIFICATE\")", what);
        return NGX_ERROR;
    }

    rc = NGX_ERROR;

    if (X509_check_private_key(x, key) != 1) {
        ERR_clear_error();
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%s\": the certificate is not that of "
                           "\"client_key\"", what);
        goto done;
    }

    src.data = md;

    if (X509_digest(x, EVP_sha1(), md, &n) != 1) {
        goto done;
    }

    src.len = n;
    x5t->data = ngx_pnalloc(cf->pool, ngx_base64_encoded_length(n));
    if (x5t->data == NULL) {
        goto done;
    }

    ngx_encode_base64url(x5t, &src);

    if (X509_digest(x, EVP_sha256(), md, &n) != 1) {
        goto done;
    }

    src.len = n;
    x5t_s256->data = ngx_pnalloc(cf->pool, ngx_base64_encoded_length(n));
    if (x5t_s256->data == NULL) {
        goto done;
    }

    ngx_encode_base64url(x5t_s256, &src);

    rc = NGX_OK;

done:

    ERR_clear_error();
    X509_free(x);

    return rc;
}


/* the JOSE header, the same for every assertion: built once, base64url */

ngx_int_t
ngx_http_oauth2_assertion_header(ngx_pool_t *pool, ngx_uint_t alg,
    ngx_str_t *kid, ngx_str_t *x5t, ngx_str_t *x5t_s256, ngx_str_t *header)
{
    u_char      *p, *json;
    size_t       len;
    ngx_str_t    src;
    const char  *name;

    name = (alg == NGX_HTTP_OAUTH2_ALG_RS256) ? "RS256"
           : (alg == NGX_HTTP_OAUTH2_ALG_ES256) ? "ES256" : "HS256";

    len = sizeof("{\"alg\":\"RS256\"}") - 1
          + sizeof(",\"kid\":\"\"") - 1 + kid->len
          + ngx_escape_json(NULL, kid->data, kid->len)
          + sizeof(",\"x5t\":\"\"") - 1 + x5t->len
          + sizeof(",\"x5t#S256\":\"\"") - 1 + x5t_s256->len;

    json = ngx_pnalloc(pool, len);
    if (json == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(json, "{\"alg\":\"%s\"", name);

    if (kid->len) {
        p = ngx_http_oauth2_json_member(p, ",\"kid\":\"", kid);
    }

    if (x5t->len) {
        p = ngx_http_oauth2_json_member(p, ",\"x5t\":\"", x5t);
        p = ngx_http_oauth2_json_member(p, ",\"x5t#S256\":\"", x5t_s256);
    }

    *p++ = '}';

    src.data = json;
    src.len = p - json;

    header->data = ngx_pnalloc(pool, ngx_base64_encoded_length(src.len));
    if (header->data == NULL) {
        return NGX_ERROR;
    }

    ngx_encode_base64url(header, &src);

    return NGX_OK;
}


ngx_int_t
ngx_http_oauth2_assertion(ngx_pool_t *pool, EVP_PKEY *key, ngx_uint_t alg,
    ngx_str_t *secret, ngx_str_t *header, ngx_str_t *client_id,
    ngx_str_t *aud, ngx_str_t *out)
{
    u_char      *p, *json;
    size_t       len, siglen;
    time_t       now;
    ngx_str_t    jti, src, dst;
    u_char       random[NGX_HTTP_OAUTH2_JTI_LEN];
    u_char       id[ngx_base64_encoded_length(NGX_HTTP_OAUTH2_JTI_LEN)];
    u_char       sig[NGX_HTTP_OAUTH2_SIG_MAX_LEN];

    if (key == NULL) {
        alg = NGX_HTTP_OAUTH2_ALG_HS256;
    }

    if (RAND_bytes(random, sizeof(random)) != 1) {
        return NGX_ERROR;
    }

    src.len = sizeof(random);
    src.data = random;
    jti.data = id;
    ngx_encode_base64url(&jti, &src);

    now = ngx_time();

    /* the claims, as JSON */

    len = sizeof("{\"iss\":\"\",\"sub\":\"\",\"aud\":\"\",\"jti\":\"\","
                 "\"iat\":,\"exp\":}") - 1
          + 2 * (client_id->len
                 + ngx_escape_json(NULL, client_id->data, client_id->len))
          + aud->len + ngx_escape_json(NULL, aud->data, aud->len)
          + jti.len + 2 * NGX_TIME_T_LEN;

    json = ngx_pnalloc(pool, len);
    if (json == NULL) {
        return NGX_ERROR;
    }

    p = ngx_http_oauth2_json_member(json, "{\"iss\":\"", client_id);
    p = ngx_http_oauth2_json_member(p, ",\"sub\":\"", client_id);
    p = ngx_http_oauth2_json_member(p, ",\"aud\":\"", aud);
    p = ngx_http_oauth2_json_member(p, ",\"jti\":\"", &jti);
    p = ngx_sprintf(p, ",\"iat\":%T,\"exp\":%T}",
                    now, now + NGX_HTTP_OAUTH2_ASSERTION_TTL);

    /* header "." base64url(claims) "." base64url(signature) */

    siglen = (key != NULL) ? (size_t) EVP_PKEY_get_size(key) : 32;
    len = p - json;

    out->data = ngx_pnalloc(pool, header->len + 1
                                  + ngx_base64_encoded_length(len) + 1
                                  + ngx_base64_encoded_length(siglen));
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    out->len = ngx_cpymem(out->data, header->data, header->len) - out->data;
    out->data[out->len++] = '.';

    src.data = json;
    src.len = p - json;

    dst.data = out->data + out->len;
    ngx_encode_base64url(&dst, &src);
    out->len += dst.len;

    if (ngx_http_oauth2_assertion_sign(key, alg, secret, out->data, out->len,
                                       sig, &siglen)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    out->data[out->len++] = '.';

    src.data = sig;
    src.len = siglen;

    dst.data = out->data + out->len;
    ngx_encode_base64url(&dst, &src);
    out->len += dst.len;

    return NGX_OK;
}


/* name (with its punctuation) and value, JSON-escaped, and a quote */

static u_char *
ngx_http_oauth2_json_member(u_char *p, const char *name, ngx_str_t *value)
{
    p = ngx_cpymem(p, name, ngx_strlen(name));
    p = (u_char *) ngx_escape_json(p, value->data, value->len);
    *p++ = '"';

    return p;
}


static ngx_int_t
ngx_http_oauth2_assertion_sign(EVP_PKEY *key, ngx_uint_t alg,
    ngx_str_t *secret, u_char *data, size_t len, u_char *sig,
    size_t *siglen)
{
    int                   ok;
    size_t                n;
    ECDSA_SIG            *es;
    EVP_MD_CTX           *md;
    const BIGNUM         *r, *s;
    const unsigned char  *der;
    u_char                buf[NGX_HTTP_OAUTH2_SIG_MAX_LEN];

    if (alg == NGX_HTTP_OAUTH2_ALG_HS256) {
        if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, secret->data,
                      secret->len, data, len, sig, 32, siglen)
            == NULL)
        {
            ERR_clear_error();
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    if ((size_t) EVP_PKEY_get_size(key) > sizeof(buf)) {
        return NGX_ERROR;
    }

    md = EVP_MD_CTX_new();
    if (md == NULL) {
        return NGX_ERROR;
    }

    n = sizeof(buf);

    ok = EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1
         && EVP_DigestSign(md, buf, &n, data, len) == 1;

    EVP_MD_CTX_free(md);

    if (!ok) {
        ERR_clear_error();
        return NGX_ERROR;
    }

    if (alg == NGX_HTTP_OAUTH2_ALG_RS256) {
        ngx_memcpy(sig, buf, n);
        *siglen = n;
        return NGX_OK;
    }

    /* ES256: the DER SEQUENCE of r and s becomes r || s, 32 bytes each
     * (RFC 7518, 3.4) */

    der = buf;

    es = d2i_ECDSA_SIG(NULL, &der, (long) n);
    if (es == NULL) {
        ERR_clear_error();
        return NGX_ERROR;
    }

    ECDSA_SIG_get0(es, &r, &s);

    ok = BN_bn2binpad(r, sig, 32) == 32 && BN_bn2binpad(s, sig + 32, 32) == 32;

    ECDSA_SIG_free(es);

    if (!ok) {
        return NGX_ERROR;
    }

    *siglen = 64;

    return NGX_OK;
}
