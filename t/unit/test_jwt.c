
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * Unit tests of ngx_http_oauth2_json.c and ngx_http_oauth2_jwt.c: keys and
 * tokens are made here with OpenSSL, then parsed and verified by the
 * module's code.  Run by t/unit/run.sh.
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
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <stdarg.h>

#include "ngx_shim.h"


#define T_NOW          1700000000
#define T_ISS          "https://op.example.com"
#define T_CLIENT       "client-1"
#define T_NONCE        "n-0S6_WzA2Mj"
#define T_SECRET       "0123456789abcdef0123456789abcdef-secret"

#define T_FLIP_SIG     0x01
#define T_TAMPER       0x02
#define T_DER_SIG      0x04
#define T_NO_SIG       0x08
#define T_SHORT_SIG    0x10
#define T_LONG_SIG     0x20

#define T_ALL_ALGS     0x1fff


typedef struct {
    const char   *alg;
    EVP_PKEY    **key;
} t_alg_case_t;


static void t_check(int line, const char *what, int ok);
static void t_check_err(int line, const char *what, ngx_int_t rc,
    ngx_int_t want_rc, const char *err, const char *want_err);
static char *t_fmt(const char *fmt, ...);
static char *t_b64(const u_char *p, size_t len);
static char *t_bn_b64(const BIGNUM *bn, size_t pad);
static char *t_jwk(EVP_PKEY *pkey, const char *kid, const char *extra);
static size_t t_sign(EVP_PKEY *pkey, const char *alg, const u_char *in,
    size_t len, u_char *sig, ngx_uint_t flags);
static char *t_token(const char *header, const char *payload,
    EVP_PKEY *pkey, const char *alg, ngx_uint_t flags);
static char *t_payload(void);
static ngx_array_t *t_jwks(const char *json, ngx_int_t *rc, const char **err);
static ngx_int_t t_verify(const char *token, ngx_array_t *keys,
    ngx_uint_t algs, ngx_str_t *secret, const char **err);
static ngx_int_t t_claims(const char *payload, const char *nonce,
    const char **err);

static void test_base64url(void);
static void test_alg_bit(void);
static void test_json(void);
static void test_jwks(void);
static void test_verify_algs(void);
static void test_alg_policy(void);
static void test_kid(void);
static void test_ecdsa_format(void);
static void test_malformed(void);
static void test_claims(void);
static void test_tenants(void);
static void test_alloc_failures(void);


static ngx_uint_t   t_passed;
static ngx_uint_t   t_failed;
static ngx_pool_t  *t_pool;
static ngx_log_t    t_log;

static EVP_PKEY    *k_rsa, *k_rsa2, *k_rsa1024, *k_p256, *k_p256b, *k_p384,
                   *k_p521, *k_ed25519, *k_ed448;


#define CHECK(what, cond)  t_check(__LINE__, what, (cond))
#define CHECK_ERR(what, rc, want_rc, err, want_err)                           \
    t_check_err(__LINE__, what, rc, want_rc, err, want_err)


static void
t_check(int line, const char *what, int ok)
{
    if (ok) {
        t_passed++;
        return;
    }

    t_failed++;
    fprintf(stderr, "FAIL (line %d): %s\n", line, what);
}


static void
t_check_err(int line, const char *what, ngx_int_t rc, ngx_int_t want_rc,
    const char *err, const char *want_err)
{
    if (rc == want_rc
        && (want_err == NULL
            || (err != NULL && strcmp(err, want_err) == 0)))
    {
        t_passed++;
        return;
    }

    t_failed++;
    fprintf(stderr, "FAIL (line %d): %s: rc %d, want %d; err \"%s\", "
            "want \"%s\"\n", line, what, (int) rc, (int) want_rc,
            err ? err : "(null)", want_err ? want_err : "(any)");
}


static char *
t_fmt(const char *fmt, ...)
{
    int       n;
    char     *s;
    va_list   args;

    va_start(args, fmt);
    n = vsnprintf(NULL, 0, fmt, args);
    va_end(args);

    s = ngx_pnalloc(t_pool, n + 1);
    if (s == NULL) {
        abort();
    }

    va_start(args, fmt);
    vsnprintf(s, n + 1, fmt, args);
    va_end(args);

    return s;
}


static char *
t_b64(const u_char *p, size_t len)
{
    static const char  abc[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    char      *s, *d;
    size_t     i;
    uint32_t   v;

    s = ngx_pnalloc(t_pool, len / 3 * 4 + 5);
    if (s == NULL) {
        abort();
    }

    d = s;

    for (i = 0; i + 2 < len; i += 3) {
        v = (p[i] << 16) | (p[i + 1] << 8) | p[i + 2];
        *d++ = abc[(v >> 18) & 63];
        *d++ = abc[(v >> 12) & 63];
        *d++ = abc[(v >> 6) & 63];
        *d++ = abc[v & 63];
    }

    if (len - i == 1) {
        v = p[i] << 16;
        *d++ = abc[(v >> 18) & 63];
        *d++ = abc[(v >> 12) & 63];

    } else if (len - i == 2) {
        v = (p[i] << 16) | (p[i + 1] << 8);
        *d++ = abc[(v >> 18) & 63];
        *d++ = abc[(v >> 12) & 63];
        *d++ = abc[(v >> 6) & 63];
    }

    *d = '\0';

    return s;
}


static char *
t_bn_b64(const BIGNUM *bn, size_t pad)
{
    u_char  buf[2048];
    size_t  len;

    len = pad ? pad : (size_t) BN_num_bytes(bn);

    if (len > sizeof(buf) || BN_bn2binpad(bn, buf, len) < 0) {
        abort();
    }

    return t_b64(buf, len);
}


static char *
t_jwk(EVP_PKEY *pkey, const char *kid, const char *extra)
{
    char     *kid_member, *s, group[64];
    u_char    raw[64];
    size_t    len, clen;
    BIGNUM   *a, *b;
    const char  *crv;

    kid_member = kid ? t_fmt("\"kid\":\"%s\",", kid) : "";
    extra = extra ? extra : "";

    a = NULL;
    b = NULL;

    switch (EVP_PKEY_get_base_id(pkey)) {

    case EVP_PKEY_RSA:
        if (!EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &a)
            || !EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &b))
        {
            abort();
        }

        s = t_fmt("{%s\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\"%s}",
                  kid_member, t_bn_b64(a, 0), t_bn_b64(b, 0), extra);
        break;

    case EVP_PKEY_EC:
        if (!EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME,
                                            group, sizeof(group), NULL)
            || !EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &a)
            || !EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &b))
        {
            abort();
        }

        if (strcmp(group, "prime256v1") == 0) {
            crv = "P-256";
            clen = 32;

        } else if (strcmp(group, "secp384r1") == 0) {
            crv = "P-384";
            clen = 48;

        } else {
            crv = "P-521";
            clen = 66;
        }

        s = t_fmt("{%s\"kty\":\"EC\",\"crv\":\"%s\",\"x\":\"%s\","
                  "\"y\":\"%s\"%s}", kid_member, crv, t_bn_b64(a, clen),
                  t_bn_b64(b, clen), extra);
        break;

    default:
        len = sizeof(raw);

        if (!EVP_PKEY_get_raw_public_key(pkey, raw, &len)) {
            abort();
        }

        s = t_fmt("{%s\"kty\":\"OKP\",\"crv\":\"%s\",\"x\":\"%s\"%s}",
                  kid_member,
                  EVP_PKEY_get_base_id(pkey) == EVP_PKEY_ED25519
                  ? "Ed25519" : "Ed448",
                  t_b64(raw, len), extra);
        break;
    }

    BN_free(a);
    BN_free(b);

    return s;
}


static size_t
t_sign(EVP_PKEY *pkey, const char *alg, const u_char *in, size_t len,
    u_char *sig, ngx_uint_t flags)
{
    u_char         der[256];
    size_t         siglen, half;
    const char    *md;
    ECDSA_SIG     *es;
    EVP_MD_CTX    *mctx;
    EVP_PKEY_CTX  *pctx;
    const BIGNUM  *r, *s;
    const u_char  *p;

    md = strstr(alg, "256") ? "SHA256"
         : strstr(alg, "384") ? "SHA384"
         : strstr(alg, "512") ? "SHA512" : NULL;

    if (alg[0] == 'H') {
        if (EVP_Q_mac(NULL, "HMAC", NULL, md, NULL, T_SECRET,
                      sizeof(T_SECRET) - 1, in, len, sig, 64, &siglen)
            == NULL)
        {
            abort();
        }

        return siglen;
    }

    mctx = EVP_MD_CTX_new();

    if (mctx == NULL
        || EVP_DigestSignInit_ex(mctx, &pctx, md, NULL, NULL, pkey, NULL)
           != 1)
    {
        abort();
    }

    if (alg[0] == 'P') {
        if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0
            || EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST)
               <= 0)
        {
            abort();
        }
    }

    if (alg[0] != 'E' || alg[1] == 'd') {
        siglen = 2048;

        if (EVP_DigestSign(mctx, sig, &siglen, in, len) != 1) {
            abort();
        }

        EVP_MD_CTX_free(mctx);
        return siglen;
    }

    siglen = sizeof(der);

    if (EVP_DigestSign(mctx, der, &siglen, in, len) != 1) {
        abort();
    }

    EVP_MD_CTX_free(mctx);

    if (flags & T_DER_SIG) {
        ngx_memcpy(sig, der, siglen);
        return siglen;
    }

    half = strcmp(alg, "ES256") == 0 ? 32 : strcmp(alg, "ES384") == 0 ? 48
                                                                     : 66;

    p = der;
    es = d2i_ECDSA_SIG(NULL, &p, siglen);
    if (es == NULL) {
        abort();
    }

    ECDSA_SIG_get0(es, &r, &s);

    if (BN_bn2binpad(r, sig, half) < 0
        || BN_bn2binpad(s, sig + half, half) < 0)
    {
        abort();
    }

    ECDSA_SIG_free(es);

    return 2 * half;
}


static char *
t_token(const char *header, const char *payload, EVP_PKEY *pkey,
    const char *alg, ngx_uint_t flags)
{
    u_char  sig[2048], *p;
    char   *input, *pl, *sub;
    size_t  siglen;

    input = t_fmt("%s.%s", t_b64((u_char *) header, strlen(header)),
                  t_b64((u_char *) payload, strlen(payload)));

    siglen = 0;

    if (!(flags & T_NO_SIG)) {
        siglen = t_sign(pkey, alg, (u_char *) input, strlen(input), sig,
                        flags);
    }

    if (flags & T_FLIP_SIG) {
        sig[siglen / 2] ^= 0x01;
    }

    if (flags & T_SHORT_SIG) {
        siglen--;
    }

    if (flags & T_LONG_SIG) {
        sig[siglen++] = 0;
    }

    if (flags & T_TAMPER) {
        pl = t_fmt("%s", payload);
        sub = strstr(pl, "\"sub\":\"");

        if (sub == NULL) {
            abort();
        }

        p = (u_char *) sub + 7;
        *p ^= 0x01;

        input = t_fmt("%s.%s", t_b64((u_char *) header, strlen(header)),
                      t_b64((u_char *) pl, strlen(pl)));
    }

    return t_fmt("%s.%s", input, t_b64(sig, siglen));
}


static char *
t_payload(void)
{
    return t_fmt("{\"iss\":\"" T_ISS "\",\"aud\":\"" T_CLIENT "\","
                 "\"sub\":\"alice\",\"exp\":%d,\"iat\":%d,"
                 "\"nonce\":\"" T_NONCE "\"}", T_NOW + 300, T_NOW);
}


static ngx_array_t *
t_jwks(const char *json, ngx_int_t *rc, const char **err)
{
    ngx_array_t  *keys;

    keys = NULL;
    *err = NULL;

    *rc = ngx_http_oauth2_jwks_parse(t_pool, &t_log, (u_char *) json,
                                     strlen(json), &keys, err);

    return (*rc == NGX_OK) ? keys : NULL;
}


static ngx_int_t
t_verify(const char *token, ngx_array_t *keys, ngx_uint_t algs,
    ngx_str_t *secret, const char **err)
{
    ngx_int_t               rc;
    ngx_str_t               s;
    ngx_http_oauth2_jwt_t   jwt;

    s.data = (u_char *) token;
    s.len = strlen(token);
    *err = NULL;

    rc = ngx_http_oauth2_jwt_parse(t_pool, &s, &jwt, err);
    if (rc != NGX_OK) {
        return 100 + rc;
    }

    return ngx_http_oauth2_jwt_verify(&jwt, keys, algs, secret, err);
}


static ngx_int_t
t_claims(const char *payload, const char *nonce, const char **err)
{
    char                          *token;
    ngx_int_t                      rc;
    ngx_str_t                      s;
    ngx_http_oauth2_jwt_t          jwt;
    ngx_http_oauth2_jwt_expect_t   expect;

    token = t_token("{\"alg\":\"none\"}", payload, NULL, "none", T_NO_SIG);

    s.data = (u_char *) token;
    s.len = strlen(token);
    *err = NULL;

    rc = ngx_http_oauth2_jwt_parse(t_pool, &s, &jwt, err);
    if (rc != NGX_OK) {
        return 100 + rc;
    }

    ngx_str_set(&expect.issuer, T_ISS);
    ngx_str_set(&expect.client_id, T_CLIENT);
    expect.nonce.data = (u_char *) nonce;
    expect.nonce.len = nonce ? strlen(nonce) : 0;
    expect.now = T_NOW;
    expect.leeway = 60;

    return ngx_http_oauth2_jwt_check_id_token(&jwt, &expect, err);
}


/* the module's one decoder, in both strictnesses */

static void
test_base64url(void)
{
    u_char      buf[16];
    ngx_str_t   src, dst;
    ngx_uint_t  i;

    static struct {
        const char  *in;
        const char  *out;     /* NULL: refused */
        const char  *strict;  /* NULL: refused when strict */
    } cases[] = {
        { "", "", "" },
        { "AQEB", "\x01\x01\x01", "\x01\x01\x01" },
        { "_-8", "\xff\xef", "\xff\xef" },
        { "YQ", "a", "a" },
        { "YR", "a", NULL },          /* spare bits set */
        { "YWI", "ab", "ab" },
        { "YWJ", "ab", NULL },
        { "YWJj", "abc", "abc" },
        { "YWJjZ", NULL, NULL },      /* 4k + 1 characters */
        { "YQ==", NULL, NULL },       /* padding */
        { "YW+j", NULL, NULL },       /* the base64 alphabet */
        { "YW/j", NULL, NULL },
        { "YW j", NULL, NULL },
        { "YWJjYQ.", NULL, NULL },
    };

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        src.data = (u_char *) cases[i].in;
        src.len = ngx_strlen(cases[i].in);

        dst.data = buf;
        dst.len = 0;

        if (cases[i].out == NULL) {
            CHECK(t_fmt("base64url: \"%s\" refused", cases[i].in),
                  ngx_http_oauth2_base64url_decode(&dst, &src, 0)
                  == NGX_ERROR);

        } else {
            CHECK(t_fmt("base64url: \"%s\" decoded", cases[i].in),
                  ngx_http_oauth2_base64url_decode(&dst, &src, 0) == NGX_OK
                  && dst.len == ngx_strlen(cases[i].out)
                  && ngx_memcmp(buf, cases[i].out, dst.len) == 0);
        }

        dst.len = 0;

        if (cases[i].strict == NULL) {
            CHECK(t_fmt("base64url: \"%s\" refused when strict",
                        cases[i].in),
                  ngx_http_oauth2_base64url_decode(&dst, &src,
                                          NGX_HTTP_OAUTH2_BASE64URL_STRICT)
                  == NGX_ERROR);

        } else {
            CHECK(t_fmt("base64url: \"%s\" decoded when strict",
                        cases[i].in),
                  ngx_http_oauth2_base64url_decode(&dst, &src,
                                          NGX_HTTP_OAUTH2_BASE64URL_STRICT)
                  == NGX_OK
                  && dst.len == ngx_strlen(cases[i].strict)
                  && ngx_memcmp(buf, cases[i].strict, dst.len) == 0);
        }
    }
}


static void
test_alg_bit(void)
{
    ngx_str_t  s;

    static struct {
        const char  *name;
        ngx_uint_t   bit;
    } algs[] = {
        { "RS256", NGX_HTTP_OAUTH2_ALG_RS256 },
        { "RS384", NGX_HTTP_OAUTH2_ALG_RS384 },
        { "RS512", NGX_HTTP_OAUTH2_ALG_RS512 },
        { "PS256", NGX_HTTP_OAUTH2_ALG_PS256 },
        { "PS384", NGX_HTTP_OAUTH2_ALG_PS384 },
        { "PS512", NGX_HTTP_OAUTH2_ALG_PS512 },
        { "ES256", NGX_HTTP_OAUTH2_ALG_ES256 },
        { "ES384", NGX_HTTP_OAUTH2_ALG_ES384 },
        { "ES512", NGX_HTTP_OAUTH2_ALG_ES512 },
        { "EdDSA", NGX_HTTP_OAUTH2_ALG_EDDSA },
        { "HS256", NGX_HTTP_OAUTH2_ALG_HS256 },
        { "HS384", NGX_HTTP_OAUTH2_ALG_HS384 },
        { "HS512", NGX_HTTP_OAUTH2_ALG_HS512 },
        { "none", 0 },
        { "rs256", 0 },
        { "RS25", 0 },
        { "RS2566", 0 },
        { "", 0 },
        { "ES256K", 0 },
        { "Ed25519", NGX_HTTP_OAUTH2_ALG_EDDSA },
        { "Ed448", 0 },
        { "ed25519", 0 }
    };

    size_t  i;

    for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        s.data = (u_char *) algs[i].name;
        s.len = strlen(algs[i].name);

        CHECK(t_fmt("alg_bit(\"%s\")", algs[i].name),
              ngx_http_oauth2_alg_bit(&s) == algs[i].bit);
    }
}


static void
test_json(void)
{
    char        *doc, *big;
    size_t       i, n;
    int64_t      iv;
    yajl_val     v, m;
    ngx_str_t    s;
    const char  *err;

    static const char  *bad[] = {
        "",
        "{",
        "}",
        "[}",
        "{]",
        "{\"a\":1",
        "\"abc",
        "{\"a\":\"x\\\"}",
        "{\"a\":1} x",
        "{\"a\":1}}",
        "{\"a\":1 /* c */}",
        "// c\n{}",
        "{\"a\":\"x\\u0000y\"}",
        "{\"a\":\"tab\there\"}",
        "{\"a\":\"\xff\xfe\"}",
        "{\"a\":01}",
        "{\"a\":tru}",
        "{a:1}",
        "{\"a\" 1}",
        "[1,]",
    };

    /* well-formed documents */

#define T_JSON(d)  ngx_http_oauth2_json_parse(t_pool, (u_char *) (d),        \
                                              strlen(d), &err)

    doc = "{\"s\":\"str\",\"i\":42,\"neg\":-7,\"d\":1.50,\"e\":1e3,"
          "\"t\":true,\"f\":false,\"n\":null,\"a\":[\"x\",2,true,null],"
          "\"o\":{\"k\":1},\"aa\":[[1]],\"empty\":[],"
          "\"dup\":\"first\",\"dup\":\"last\",\"u\":\"\\u00e9\\n\"}";

    v = T_JSON(doc);
    CHECK("json: parse a document", v != NULL && YAJL_IS_OBJECT(v));

    if (v == NULL) {
        return;
    }

    CHECK("json: string member",
          ngx_http_oauth2_json_string(v, "s", &s) == NGX_OK
          && s.len == 3 && ngx_strncmp(s.data, "str", 3) == 0);
    CHECK("json: string member absent",
          ngx_http_oauth2_json_string(v, "nope", &s) == NGX_DECLINED);
    CHECK("json: string member of another type",
          ngx_http_oauth2_json_string(v, "i", &s) == NGX_ERROR);
    CHECK("json: duplicate names: the last one",
          ngx_http_oauth2_json_string(v, "dup", &s) == NGX_OK
          && s.len == 4 && ngx_strncmp(s.data, "last", 4) == 0);
    CHECK("json: escapes decoded",
          ngx_http_oauth2_json_string(v, "u", &s) == NGX_OK
          && s.len == 3 && ngx_strncmp(s.data, "\xc3\xa9\n", 3) == 0);

    CHECK("json: int member",
          ngx_http_oauth2_json_int(v, "i", &iv) == NGX_OK && iv == 42);
    CHECK("json: negative int",
          ngx_http_oauth2_json_int(v, "neg", &iv) == NGX_OK && iv == -7);
    CHECK("json: int with fraction",
          ngx_http_oauth2_json_int(v, "d", &iv) == NGX_ERROR);
    CHECK("json: int in exponent form",
          ngx_http_oauth2_json_int(v, "e", &iv) == NGX_ERROR);
    CHECK("json: int of a string",
          ngx_http_oauth2_json_int(v, "s", &iv) == NGX_ERROR);
    CHECK("json: int absent",
          ngx_http_oauth2_json_int(v, "nope", &iv) == NGX_DECLINED);

    CHECK("json: seconds of an integer",
          ngx_http_oauth2_json_seconds(v, "i", 0, &iv) == NGX_OK
          && iv == 42);
    CHECK("json: seconds of a fraction, rounded down",
          ngx_http_oauth2_json_seconds(v, "d", 0, &iv) == NGX_OK
          && iv == 1);
    CHECK("json: seconds of a fraction, rounded up",
          ngx_http_oauth2_json_seconds(v, "d", 1, &iv) == NGX_OK
          && iv == 2);
    CHECK("json: seconds in exponent form",
          ngx_http_oauth2_json_seconds(v, "e", 1, &iv) == NGX_OK
          && iv == 1000);
    CHECK("json: seconds negative",
          ngx_http_oauth2_json_seconds(v, "neg", 0, &iv) == NGX_ERROR);
    CHECK("json: seconds of a string",
          ngx_http_oauth2_json_seconds(v, "s", 0, &iv) == NGX_ERROR);
    CHECK("json: seconds of a boolean",
          ngx_http_oauth2_json_seconds(v, "t", 0, &iv) == NGX_ERROR);
    CHECK("json: seconds of null",
          ngx_http_oauth2_json_seconds(v, "n", 0, &iv) == NGX_ERROR);
    CHECK("json: seconds absent",
          ngx_http_oauth2_json_seconds(v, "nope", 0, &iv) == NGX_DECLINED);

    CHECK("json: get of a non-object",
          ngx_http_oauth2_json_get(ngx_http_oauth2_json_get(v, "a"), "x")
          == NULL);
    CHECK("json: get of NULL", ngx_http_oauth2_json_get(NULL, "x") == NULL);

#define T_TEXT(name, want)                                                    \
    m = ngx_http_oauth2_json_get(v, name);                                    \
    CHECK("json: text of \"" name "\"",                                       \
          ngx_http_oauth2_json_text(t_pool, m, &s) == NGX_OK                  \
          && s.len == strlen(want)                                            \
          && ngx_strncmp(s.data, want, s.len) == 0)

    T_TEXT("s", "str");
    T_TEXT("i", "42");
    T_TEXT("d", "1.50");
    T_TEXT("e", "1e3");
    T_TEXT("t", "true");
    T_TEXT("f", "false");
    T_TEXT("n", "");
    T_TEXT("a", "x,2,true,");
    T_TEXT("empty", "");

    CHECK("json: text of an object",
          ngx_http_oauth2_json_text(t_pool, ngx_http_oauth2_json_get(v, "o"),
                                    &s)
          == NGX_DECLINED);
    CHECK("json: text of nested arrays",
          ngx_http_oauth2_json_text(t_pool,
                                    ngx_http_oauth2_json_get(v, "aa"), &s)
          == NGX_DECLINED);
    CHECK("json: text of NULL",
          ngx_http_oauth2_json_text(t_pool, NULL, &s) == NGX_DECLINED);

    /* not a NUL-terminated input: only len bytes are parsed */

    v = ngx_http_oauth2_json_parse(t_pool, (u_char *) "{\"a\":1}garbage", 7,
                                   &err);
    CHECK("json: only len bytes", v != NULL);

    CHECK("json: a top-level scalar parses", T_JSON("\"x\"") != NULL);

    /* malformed documents */

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err = NULL;
        v = T_JSON(bad[i]);
        CHECK(t_fmt("json: reject bad document #%uz", i),
              v == NULL && err != NULL);
    }

    v = ngx_http_oauth2_json_parse(t_pool, (u_char *) "{\"a\":\"x\0y\"}", 11,
                                   &err);
    CHECK("json: reject a raw NUL", v == NULL);

    /* the error message never quotes the input */

    v = T_JSON("{\"secret-value\":");
    CHECK("json: error message is fixed",
          v == NULL && err != NULL && strstr(err, "secret") == NULL);

    /* nesting */

    n = NGX_HTTP_OAUTH2_JSON_MAX_DEPTH;
    big = ngx_pnalloc(t_pool, 2 * n + 3);

    for (i = 0; i < n; i++) {
        big[i] = '[';
        big[n + i] = ']';
    }

    big[2 * n] = '\0';

    CHECK("json: maximum depth accepted", T_JSON(big) != NULL);

    big[0] = '{';
    big[2 * n - 1] = '}';
    CHECK("json: bad nesting rejected", T_JSON(big) == NULL);

    n = NGX_HTTP_OAUTH2_JSON_MAX_DEPTH + 1;
    big = ngx_pnalloc(t_pool, 2 * n + 1);

    for (i = 0; i < n; i++) {
        big[i] = '[';
        big[n + i] = ']';
    }

    big[2 * n] = '\0';

    err = NULL;
    CHECK("json: too deep rejected",
          T_JSON(big) == NULL && err != NULL
          && strcmp(err, "JSON nested too deeply") == 0);

    n = 1024 * 1024;
    big = ngx_pnalloc(t_pool, n + 1);
    ngx_memset(big, '[', n);
    big[n] = '\0';
    CHECK("json: 1 MiB of \"[\" rejected", T_JSON(big) == NULL);

    ngx_memset(big, '{', n);
    CHECK("json: 1 MiB of \"{\" rejected", T_JSON(big) == NULL);

    /*
     * a large flat document is fine (not 1 MiB: yajl grows its arrays one
     * element at a time, and under AddressSanitizer every realloc() copies)
     */

    n = 16 * 1024;
    big[0] = '[';

    for (i = 1; i + 3 < n; i += 2) {
        big[i] = '1';
        big[i + 1] = ',';
    }

    big[i++] = '1';
    big[i++] = ']';
    big[i] = '\0';

    v = T_JSON(big);
    CHECK("json: 16 KiB flat array",
          v != NULL && YAJL_IS_ARRAY(v) && v->u.array.len == n / 2 - 1);

    /* strings with escaped quotes and brackets do not confuse the check */

    CHECK("json: brackets in strings",
          T_JSON("{\"a\":\"[[[{\\\"}}}\",\"b\":[\"]\"]}") != NULL);
    CHECK("json: escaped backslash before a quote",
          T_JSON("{\"a\":\"x\\\\\",\"b\":1}") != NULL);
    CHECK("json: \\u0000 lookalike allowed",
          T_JSON("{\"a\":\"\\\\u0000\"}") != NULL);

#undef T_TEXT
#undef T_JSON
}


static void
test_jwks(void)
{
    char                   *doc;
    ngx_int_t               rc;
    ngx_uint_t              logs, i;
    const char             *err;
    ngx_array_t            *keys;
    ngx_http_oauth2_jwk_t  *k;

    doc = t_fmt("{\"keys\":[%s,%s,%s,%s,%s]}",
                t_jwk(k_rsa, "rsa", ",\"use\":\"sig\""),
                t_jwk(k_p256, "p256", NULL),
                t_jwk(k_p384, "p384", NULL),
                t_jwk(k_p521, "p521", NULL),
                t_jwk(k_ed25519, "ed", NULL));

    keys = t_jwks(doc, &rc, &err);
    CHECK("jwks: five keys", keys != NULL && keys->nelts == 5);

    if (keys == NULL || keys->nelts != 5) {
        return;
    }

    k = keys->elts;

    CHECK("jwks: RSA algs",
          k[0].algs == (NGX_HTTP_OAUTH2_ALG_RS256|NGX_HTTP_OAUTH2_ALG_RS384
                        |NGX_HTTP_OAUTH2_ALG_RS512|NGX_HTTP_OAUTH2_ALG_PS256
                        |NGX_HTTP_OAUTH2_ALG_PS384|NGX_HTTP_OAUTH2_ALG_PS512)
          && k[0].kid.len == 3 && ngx_strncmp(k[0].kid.data, "rsa", 3) == 0
          && k[0].pkey != NULL);
    CHECK("jwks: P-256 algs", k[1].algs == NGX_HTTP_OAUTH2_ALG_ES256);
    CHECK("jwks: P-384 algs", k[2].algs == NGX_HTTP_OAUTH2_ALG_ES384);
    CHECK("jwks: P-521 algs", k[3].algs == NGX_HTTP_OAUTH2_ALG_ES512);
    CHECK("jwks: Ed25519 algs", k[4].algs == NGX_HTTP_OAUTH2_ALG_EDDSA);

    CHECK("jwks: the keys are the right ones",
          EVP_PKEY_eq(k[0].pkey, k_rsa) == 1
          && EVP_PKEY_eq(k[1].pkey, k_p256) == 1
          && EVP_PKEY_eq(k[2].pkey, k_p384) == 1
          && EVP_PKEY_eq(k[3].pkey, k_p521) == 1
          && EVP_PKEY_eq(k[4].pkey, k_ed25519) == 1);

    /* "alg" restricts */

    keys = t_jwks(t_fmt("{\"keys\":[%s]}",
                        t_jwk(k_ed25519, NULL, ",\"alg\":\"Ed25519\"")),
                  &rc, &err);
    CHECK("jwks: JWK alg Ed25519",
          keys != NULL && keys->nelts == 1
          && ((ngx_http_oauth2_jwk_t *) keys->elts)->algs
             == NGX_HTTP_OAUTH2_ALG_EDDSA);

    keys = t_jwks(t_fmt("{\"keys\":[%s]}",
                        t_jwk(k_rsa, NULL, ",\"alg\":\"PS384\"")),
                  &rc, &err);
    CHECK("jwks: JWK alg restricts the key",
          keys != NULL && keys->nelts == 1
          && ((ngx_http_oauth2_jwk_t *) keys->elts)->algs
             == NGX_HTTP_OAUTH2_ALG_PS384
          && ((ngx_http_oauth2_jwk_t *) keys->elts)->kid.len == 0);

    /* skipped keys: the document is still a JWKS */

    logs = ngx_shim_log_count;

    doc = t_fmt("{\"keys\":[%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,"
                "%s,%s,%s,%s,%s,%s,%s,%s],\"other\":1}",
                t_jwk(k_rsa, "enc", ",\"use\":\"enc\""),
                t_jwk(k_rsa, "use-num", ",\"use\":1"),
                t_jwk(k_rsa1024, "small", NULL),
                t_jwk(k_p256, "wrong-alg", ",\"alg\":\"ES384\""),
                t_jwk(k_rsa, "rsa-es", ",\"alg\":\"ES256\""),
                t_jwk(k_rsa, "bad-alg", ",\"alg\":\"XX999\""),
                t_jwk(k_rsa, "none-alg", ",\"alg\":\"none\""),
                t_jwk(k_rsa, "ops", ",\"key_ops\":[\"encrypt\"]"),
                t_jwk(k_ed448, "ed448", NULL),
                "{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"}",
                "{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}",
                "{\"kty\":\"RSA\",\"e\":\"AQAB\"}",
                "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AQAB\","
                "\"y\":\"AQAB\"}",
                "{\"kty\":\"EC\",\"crv\":\"P-256K\",\"x\":\"AQAB\","
                "\"y\":\"AQAB\"}",
                /* a 32-byte x and y that are not a point of the curve */
                "{\"kty\":\"EC\",\"crv\":\"P-256\","
                "\"x\":\"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\","
                "\"y\":\"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}",
                "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"AQAB\"}",
                "{\"kty\":\"OKP\",\"crv\":\"X25519\","
                "\"x\":\"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}",
                "{\"kty\":1}",
                "{}",
                "[]",
                "\"key\"",
                t_jwk(k_rsa, NULL, ",\"kid\":7"),
                t_jwk(k_rsa, "ops-ok", ",\"key_ops\":[\"verify\"]"));

    keys = t_jwks(doc, &rc, &err);
    CHECK("jwks: bad keys skipped",
          keys != NULL && keys->nelts == 1
          && ((ngx_http_oauth2_jwk_t *) keys->elts)->kid.len == 6);
    CHECK("jwks: skipped keys logged", ngx_shim_log_count - logs == 22);

    /* "n" and "e" encodings */

    doc = t_jwk(k_rsa, NULL, NULL);
    doc = t_fmt("{\"keys\":[%s]}", doc);

    for (i = 0; doc[i]; i++) {
        if (ngx_strncmp(&doc[i], "\"e\":\"AQAB\"", 10) == 0) {
            break;
        }
    }

    CHECK("jwks: test key has e AQAB", doc[i] != '\0');

    if (doc[i] != '\0') {
        ngx_memcpy(&doc[i], "\"e\":\"AQA=\"", 10);
        keys = t_jwks(doc, &rc, &err);
        CHECK("jwks: padded base64url rejected",
              keys != NULL && keys->nelts == 0);

        ngx_memcpy(&doc[i], "\"e\":\"AQA+\"", 10);
        keys = t_jwks(doc, &rc, &err);
        CHECK("jwks: base64 alphabet rejected",
              keys != NULL && keys->nelts == 0);

        ngx_memcpy(&doc[i], "\"e\":\"AAAB\"", 10);
        keys = t_jwks(doc, &rc, &err);
        CHECK("jwks: e = 1 rejected", keys != NULL && keys->nelts == 0);

        ngx_memcpy(&doc[i], "\"e\":\"AQAA\"", 10);
        keys = t_jwks(doc, &rc, &err);
        CHECK("jwks: even e rejected", keys != NULL && keys->nelts == 0);

        ngx_memcpy(&doc[i], "\"e\":\"AAAD\"", 10);
        keys = t_jwks(doc, &rc, &err);
        CHECK("jwks: e = 3 with a leading zero accepted",
              keys != NULL && keys->nelts == 1);
    }

    /* not a JWKS at all */

    keys = t_jwks("{\"key\":[]}", &rc, &err);
    CHECK_ERR("jwks: no keys member", rc, NGX_ERROR, err,
              "JWKS has no \"keys\" array");

    keys = t_jwks("{\"keys\":{}}", &rc, &err);
    CHECK_ERR("jwks: keys not an array", rc, NGX_ERROR, err,
              "JWKS has no \"keys\" array");

    keys = t_jwks("[1,2]", &rc, &err);
    CHECK_ERR("jwks: an array", rc, NGX_ERROR, err, NULL);

    keys = t_jwks("<html>", &rc, &err);
    CHECK_ERR("jwks: not JSON", rc, NGX_ERROR, err, "invalid JSON");

    keys = t_jwks("", &rc, &err);
    CHECK_ERR("jwks: empty", rc, NGX_ERROR, err, NULL);

    keys = t_jwks("{\"keys\":[]}", &rc, &err);
    CHECK("jwks: empty keys array is a JWKS",
          rc == NGX_OK && keys != NULL && keys->nelts == 0);
}


static void
test_verify_algs(void)
{
    char         *doc, *payload, *token;
    size_t        i;
    ngx_int_t     rc;
    ngx_str_t     secret;
    const char   *err;
    ngx_array_t  *keys;

    static EVP_PKEY  **keyp[] = {
        &k_rsa, &k_rsa, &k_rsa, &k_rsa, &k_rsa, &k_rsa,
        &k_p256, &k_p384, &k_p521, &k_ed25519, NULL, NULL, NULL
    };

    static const char  *algs[] = {
        "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
        "ES256", "ES384", "ES512", "EdDSA", "HS256", "HS384", "HS512"
    };

    doc = t_fmt("{\"keys\":[%s,%s,%s,%s,%s]}",
                t_jwk(k_rsa, "rsa", NULL),
                t_jwk(k_p256, "p256", NULL),
                t_jwk(k_p384, "p384", NULL),
                t_jwk(k_p521, "p521", NULL),
                t_jwk(k_ed25519, "ed", NULL));

    keys = t_jwks(doc, &rc, &err);

    if (keys == NULL) {
        CHECK("verify: JWKS", 0);
        return;
    }

    payload = t_payload();
    ngx_str_set(&secret, T_SECRET);

    for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        EVP_PKEY    *pkey;
        const char  *kid, *hdr;

        pkey = keyp[i] ? *keyp[i] : NULL;

        kid = (keyp[i] == NULL) ? NULL
              : (pkey == k_rsa) ? "rsa"
              : (pkey == k_p256) ? "p256"
              : (pkey == k_p384) ? "p384"
              : (pkey == k_p521) ? "p521" : "ed";

        hdr = kid ? t_fmt("{\"alg\":\"%s\",\"kid\":\"%s\",\"typ\":\"JWT\"}",
                          algs[i], kid)
                  : t_fmt("{\"alg\":\"%s\"}", algs[i]);

        token = t_token(hdr, payload, pkey, algs[i], 0);
        rc = t_verify(token, keys, T_ALL_ALGS, &secret, &err);
        CHECK_ERR(t_fmt("verify %s: good signature", algs[i]),
                  rc, NGX_OK, err, NULL);

        token = t_token(hdr, payload, pkey, algs[i], T_FLIP_SIG);
        rc = t_verify(token, keys, T_ALL_ALGS, &secret, &err);
        CHECK_ERR(t_fmt("verify %s: one bit of signature", algs[i]),
                  rc, NGX_DECLINED, err, "signature verification failed");

        token = t_token(hdr, payload, pkey, algs[i], T_TAMPER);
        rc = t_verify(token, keys, T_ALL_ALGS, &secret, &err);
        CHECK_ERR(t_fmt("verify %s: one bit of payload", algs[i]),
                  rc, NGX_DECLINED, err, "signature verification failed");

        token = t_token(hdr, payload, pkey, algs[i], T_SHORT_SIG);
        rc = t_verify(token, keys, T_ALL_ALGS, &secret, &err);
        CHECK_ERR(t_fmt("verify %s: signature one byte short", algs[i]),
                  rc, NGX_DECLINED, err, "signature verification failed");

        token = t_token(hdr, payload, pkey, algs[i], T_LONG_SIG);
        rc = t_verify(token, keys, T_ALL_ALGS, &secret, &err);
        CHECK_ERR(t_fmt("verify %s: signature one byte long", algs[i]),
                  rc, NGX_DECLINED, err, "signature verification failed");

        token = t_token(hdr, payload, pkey, algs[i], T_NO_SIG);
        rc = t_verify(token, keys, T_ALL_ALGS, &secret, &err);
        CHECK_ERR(t_fmt("verify %s: no signature", algs[i]),
                  rc, NGX_DECLINED, err, "signature verification failed");

        rc = t_verify(t_token(hdr, payload, pkey, algs[i], 0), keys,
                      T_ALL_ALGS & ~ngx_http_oauth2_alg_bit(
                          &(ngx_str_t) { strlen(algs[i]),
                                         (u_char *) algs[i] }),
                      &secret, &err);
        CHECK_ERR(t_fmt("verify %s: not in the allowed algs", algs[i]),
                  rc, NGX_DECLINED, err, "alg not allowed");
    }

    /* a signature made with another key of the same type */

    token = t_token("{\"alg\":\"RS256\",\"kid\":\"rsa\"}", payload, k_rsa2,
                    "RS256", 0);
    rc = t_verify(token, keys, T_ALL_ALGS, NULL, &err);
    CHECK_ERR("verify: RS256 by another key", rc, NGX_DECLINED, err,
              "signature verification failed");

    token = t_token("{\"alg\":\"ES256\",\"kid\":\"p256\"}", payload, k_p256b,
                    "ES256", 0);
    rc = t_verify(token, keys, T_ALL_ALGS, NULL, &err);
    CHECK_ERR("verify: ES256 by another key", rc, NGX_DECLINED, err,
              "signature verification failed");

    /* PKCS#1 v1.5 and PSS are not interchangeable */

    token = t_token("{\"alg\":\"PS256\",\"kid\":\"rsa\"}", payload, k_rsa,
                    "RS256", 0);
    rc = t_verify(token, keys, T_ALL_ALGS, NULL, &err);
    CHECK_ERR("verify: RS256 signature labelled PS256", rc, NGX_DECLINED,
              err, "signature verification failed");

    token = t_token("{\"alg\":\"RS256\",\"kid\":\"rsa\"}", payload, k_rsa,
                    "PS256", 0);
    rc = t_verify(token, keys, T_ALL_ALGS, NULL, &err);
    CHECK_ERR("verify: PS256 signature labelled RS256", rc, NGX_DECLINED,
              err, "signature verification failed");

    token = t_token("{\"alg\":\"RS384\",\"kid\":\"rsa\"}", payload, k_rsa,
                    "RS256", 0);
    rc = t_verify(token, keys, T_ALL_ALGS, NULL, &err);
    CHECK_ERR("verify: RS256 signature labelled RS384", rc, NGX_DECLINED,
              err, "signature verification failed");
}


static void
test_alg_policy(void)
{
    char         *payload, *token, *doc;
    ngx_int_t     rc;
    ngx_str_t     secret, other, empty;
    const char   *err;
    ngx_array_t  *keys;

    doc = t_fmt("{\"keys\":[%s]}", t_jwk(k_rsa, "rsa", NULL));
    keys = t_jwks(doc, &rc, &err);
    payload = t_payload();

    ngx_str_set(&secret, T_SECRET);
    ngx_str_set(&other, "another-secret-another-secret-00");
    ngx_str_null(&empty);

    token = t_token("{\"alg\":\"none\"}", payload, NULL, "none", T_NO_SIG);
    rc = t_verify(token, keys, T_ALL_ALGS, &secret, &err);
    CHECK_ERR("policy: alg none", rc, NGX_DECLINED, err,
              "alg none is not allowed");

    token = t_token("{\"alg\":\"none\",\"kid\":\"rsa\"}", payload, k_rsa,
                    "RS256", 0);
    rc = t_verify(token, keys, T_ALL_ALGS, &secret, &err);
    CHECK_ERR("policy: alg none with a signature", rc, NGX_DECLINED, err,
              "alg none is not allowed");

    token = t_token("{\"alg\":\"None\"}", payload, NULL, "none", T_NO_SIG);
    rc = t_verify(token, keys, T_ALL_ALGS, &secret, &err);
    CHECK_ERR("policy: alg None", rc, NGX_DECLINED, err, "unsupported alg");

    token = t_token("{\"alg\":\"RS1\",\"kid\":\"rsa\"}", payload, NULL,
                    "none", T_NO_SIG);
    rc = t_verify(token, keys, T_ALL_ALGS, &secret, &err);
    CHECK_ERR("policy: unknown alg", rc, NGX_DECLINED, err,
              "unsupported alg");

    token = t_token("{\"alg\":\"HS256\"}", payload, NULL, "HS256", 0);

    rc = t_verify(token, keys, NGX_HTTP_OAUTH2_ALG_RS256, &secret, &err);
    CHECK_ERR("policy: HS256 not allowed", rc, NGX_DECLINED, err,
              "alg not allowed");

    rc = t_verify(token, keys, NGX_HTTP_OAUTH2_ALG_HS256, &secret, &err);
    CHECK_ERR("policy: HS256 allowed", rc, NGX_OK, err, NULL);

    rc = t_verify(token, keys, NGX_HTTP_OAUTH2_ALG_HS256, NULL, &err);
    CHECK_ERR("policy: HS256 without a secret", rc, NGX_DECLINED, err,
              "no secret for HMAC alg");

    rc = t_verify(token, keys, NGX_HTTP_OAUTH2_ALG_HS256, &empty, &err);
    CHECK_ERR("policy: HS256 with an empty secret", rc, NGX_DECLINED, err,
              "no secret for HMAC alg");

    rc = t_verify(token, keys, NGX_HTTP_OAUTH2_ALG_HS256, &other, &err);
    CHECK_ERR("policy: HS256 with another secret", rc, NGX_DECLINED, err,
              "signature verification failed");

    /* an RS256 key never serves as an HMAC secret and vice versa */

    token = t_token("{\"alg\":\"HS256\",\"kid\":\"rsa\"}", payload, NULL,
                    "HS256", 0);
    rc = t_verify(token, keys, T_ALL_ALGS, &other, &err);
    CHECK_ERR("policy: HS256 with kid of an RSA key", rc, NGX_DECLINED, err,
              "signature verification failed");

    token = t_token("{\"alg\":\"RS256\",\"kid\":\"rsa\"}", payload, k_rsa,
                    "RS256", 0);
    rc = t_verify(token, keys, NGX_HTTP_OAUTH2_ALG_RS256, NULL, &err);
    CHECK_ERR("policy: RS256 allowed alone", rc, NGX_OK, err, NULL);

    rc = t_verify(token, keys, NGX_HTTP_OAUTH2_ALG_ES256, NULL, &err);
    CHECK_ERR("policy: RS256 with only ES256 allowed", rc, NGX_DECLINED, err,
              "alg not allowed");

    rc = t_verify(token, keys, 0, NULL, &err);
    CHECK_ERR("policy: nothing allowed", rc, NGX_DECLINED, err,
              "alg not allowed");
}


static void
test_kid(void)
{
    char         *payload, *token;
    ngx_int_t     rc;
    const char   *err;
    ngx_array_t  *two, *one, *mixed, *none, *restricted, *nokid, *empty;

    payload = t_payload();

    two = t_jwks(t_fmt("{\"keys\":[%s,%s]}", t_jwk(k_rsa, "a", NULL),
                       t_jwk(k_rsa2, "b", NULL)), &rc, &err);
    one = t_jwks(t_fmt("{\"keys\":[%s]}", t_jwk(k_rsa, "a", NULL)),
                 &rc, &err);
    nokid = t_jwks(t_fmt("{\"keys\":[%s]}", t_jwk(k_rsa, NULL, NULL)),
                   &rc, &err);
    mixed = t_jwks(t_fmt("{\"keys\":[%s,%s,%s]}", t_jwk(k_p256, "p", NULL),
                         t_jwk(k_rsa, "a", NULL),
                         t_jwk(k_ed25519, "e", NULL)), &rc, &err);
    restricted = t_jwks(t_fmt("{\"keys\":[%s,%s]}",
                              t_jwk(k_rsa, "a", ",\"alg\":\"PS256\""),
                              t_jwk(k_rsa2, "b", ",\"alg\":\"RS256\"")),
                        &rc, &err);
    empty = t_jwks("{\"keys\":[]}", &rc, &err);
    none = NULL;

    if (two == NULL || one == NULL || nokid == NULL || mixed == NULL
        || restricted == NULL || empty == NULL)
    {
        CHECK("kid: JWKS", 0);
        return;
    }

    token = t_token("{\"alg\":\"RS256\",\"kid\":\"b\"}", payload, k_rsa2,
                    "RS256", 0);
    rc = t_verify(token, two, T_ALL_ALGS, NULL, &err);
    CHECK_ERR("kid: second key by kid", rc, NGX_OK, err, NULL);

    token = t_token("{\"alg\":\"RS256\",\"kid\":\"a\"}", payload, k_rsa2,
                    "RS256", 0);
    rc = t_verify(token, two, T_ALL_ALGS, NULL, &err);
    CHECK_ERR("kid: kid of another key", rc, NGX_DECLINED, err,
              "signature verification failed");

    token = t_token("{\"alg\":\"RS256\",\"kid\":\"c\"}", payload, k_rsa,
                    "RS256", 0);
    rc = t_verify(token, two, T_ALL_ALGS, NULL, &err);
    CHECK_ERR("kid: unknown kid", rc, NGX_AGAIN, err, "no key for kid");

    rc = t_verify(token, none, T_ALL_ALGS, NULL, &err);
    CHECK_ERR("kid: no JWKS", rc, NGX_AGAIN, err, "no key for kid");

    rc = t_verify(token, empty, T_ALL_ALGS, NULL, &err);
    CHECK_ERR("kid: empty JWKS", rc, NGX_AGAIN, err, "no key for kid");

    token = t_token("{\"alg\":\"RS256\",\"kid\":\"A\"}", payload, k_rsa,
                    "RS256", 0);
    rc = t_verify(token, two, T_ALL_ALGS, NULL, &err);
    CHECK_ERR("kid: kid compared exactly", rc, NGX_AGAIN, err,
              "no key for kid");

    token = t_token("{\"alg\":\"RS256\",\"kid\":\"a\"}", payload, k_rsa,
                    "RS256", 0);
    rc = t_verify(token, nokid, T_ALL_ALGS, NULL, &err);
    CHECK_ERR("kid: token kid, JWK without", rc, NGX_AGAIN, err,
              "no key for kid");

    /* no kid in the token */

    token = t_token("{\"alg\":\"RS256\"}", payload, k_rsa, "RS256", 0);

    rc = t_verify(token, one, T_ALL_ALGS, NULL, &err);
    CHECK_ERR("kid: none, one key", rc, NGX_OK, err, NULL);

    rc = t_verify(token, nokid, T_ALL_ALGS, NULL, &err);
    CHECK_ERR("kid: none, one key without kid", rc, NGX_OK, err, NULL);

    rc = t_verify(token, two, T_ALL_ALGS, NULL, &err);
    CHECK_ERR("kid: none, several keys", rc, NGX_DECLINED, err,
              "token has no kid and several keys match");

    rc = t_verify(token, mixed, T_ALL_ALGS, NULL, &err);
    CHECK_ERR("kid: none, one key of the alg among others", rc, NGX_OK, err,
              NULL);

    rc = t_verify(token, restricted, T_ALL_ALGS, NULL, &err);
    CHECK_ERR("kid: none, keys restricted by alg", rc, NGX_DECLINED, err,
              "signature verification failed");

    token = t_token("{\"alg\":\"RS256\"}", payload, k_rsa2, "RS256", 0);
    rc = t_verify(token, restricted, T_ALL_ALGS, NULL, &err);
    CHECK_ERR("kid: none, the one RS256 key", rc, NGX_OK, err, NULL);

    token = t_token("{\"alg\":\"ES384\"}", payload, k_p384, "ES384", 0);
    rc = t_verify(token, mixed, T_ALL_ALGS, NULL, &err);
    CHECK_ERR("kid: none, no key for the alg", rc, NGX_AGAIN, err,
              "no key for alg");

    rc = t_verify(token, none, T_ALL_ALGS, NULL, &err);
    CHECK_ERR("kid: none, no JWKS", rc, NGX_AGAIN, err, "no key for alg");

    token = t_token("{\"alg\":\"EdDSA\"}", payload, k_ed25519, "EdDSA", 0);
    rc = t_verify(token, mixed, T_ALL_ALGS, NULL, &err);
    CHECK_ERR("kid: none, EdDSA among others", rc, NGX_OK, err, NULL);

    token = t_token("{\"alg\":\"Ed25519\"}", payload, k_ed25519, "EdDSA",
                    0);
    rc = t_verify(token, mixed, NGX_HTTP_OAUTH2_ALG_EDDSA, NULL, &err);
    CHECK_ERR("kid: none, alg Ed25519 (RFC 9864)", rc, NGX_OK, err, NULL);

    /* a kid whose key cannot do the token's alg */

    token = t_token("{\"alg\":\"RS256\",\"kid\":\"a\"}", payload, k_rsa,
                    "RS256", 0);
    rc = t_verify(token, restricted, T_ALL_ALGS, NULL, &err);
    CHECK_ERR("kid: key restricted to PS256", rc, NGX_DECLINED, err,
              "key of kid does not support alg");

    token = t_token("{\"alg\":\"ES256\",\"kid\":\"a\"}", payload, k_p256,
                    "ES256", 0);
    rc = t_verify(token, mixed, T_ALL_ALGS, NULL, &err);
    CHECK_ERR("kid: ES256 token with kid of an RSA key", rc, NGX_DECLINED,
              err, "key of kid does not support alg");

    token = t_token("{\"alg\":\"ES384\",\"kid\":\"p\"}", payload, k_p384,
                    "ES384", 0);
    rc = t_verify(token, mixed, T_ALL_ALGS, NULL, &err);
    CHECK_ERR("kid: ES384 token with kid of a P-256 key", rc, NGX_DECLINED,
              err, "key of kid does not support alg");
}


static void
test_ecdsa_format(void)
{
    char         *payload, *token, *doc;
    ngx_int_t     rc;
    const char   *err;
    ngx_array_t  *keys;

    doc = t_fmt("{\"keys\":[%s,%s,%s]}", t_jwk(k_p256, "p256", NULL),
                t_jwk(k_p384, "p384", NULL), t_jwk(k_p521, "p521", NULL));
    keys = t_jwks(doc, &rc, &err);
    payload = t_payload();

    if (keys == NULL) {
        CHECK("ecdsa: JWKS", 0);
        return;
    }

    token = t_token("{\"alg\":\"ES256\",\"kid\":\"p256\"}", payload, k_p256,
                    "ES256", T_DER_SIG);
    rc = t_verify(token, keys, T_ALL_ALGS, NULL, &err);
    CHECK_ERR("ecdsa: DER signature rejected", rc, NGX_DECLINED, err,
              "signature verification failed");

    token = t_token("{\"alg\":\"ES512\",\"kid\":\"p521\"}", payload, k_p521,
                    "ES512", T_DER_SIG);
    rc = t_verify(token, keys, T_ALL_ALGS, NULL, &err);
    CHECK_ERR("ecdsa: DER P-521 signature rejected", rc, NGX_DECLINED, err,
              "signature verification failed");

    /* a P-384 signature, 96 bytes, presented as ES256 by a P-256 kid */

    token = t_token("{\"alg\":\"ES256\",\"kid\":\"p256\"}", payload, k_p384,
                    "ES384", 0);
    rc = t_verify(token, keys, T_ALL_ALGS, NULL, &err);
    CHECK_ERR("ecdsa: 96-byte signature for ES256", rc, NGX_DECLINED, err,
              "signature verification failed");

    /* many signatures: the leading-zero cases of R and S come up */

    {
        int  i, ok;

        ok = 1;

        for (i = 0; i < 200; i++) {
            token = t_token(t_fmt("{\"alg\":\"ES256\",\"kid\":\"p256\","
                                  "\"n\":%d}", i),
                            payload, k_p256, "ES256", 0);
            if (t_verify(token, keys, T_ALL_ALGS, NULL, &err) != NGX_OK) {
                ok = 0;
            }

            token = t_token(t_fmt("{\"alg\":\"ES512\",\"kid\":\"p521\","
                                  "\"n\":%d}", i),
                            payload, k_p521, "ES512", 0);
            if (t_verify(token, keys, T_ALL_ALGS, NULL, &err) != NGX_OK) {
                ok = 0;
            }
        }

        CHECK("ecdsa: 200 ES256 and ES512 signatures verify", ok);
    }

    /* R or S zero, and all ones */

    {
        u_char       sig[64];
        char        *input;
        const char  *hdr;

        hdr = "{\"alg\":\"ES256\",\"kid\":\"p256\"}";
        input = t_fmt("%s.%s", t_b64((u_char *) hdr, strlen(hdr)),
                      t_b64((u_char *) payload, strlen(payload)));

        ngx_memzero(sig, sizeof(sig));
        token = t_fmt("%s.%s", input, t_b64(sig, 64));
        rc = t_verify(token, keys, T_ALL_ALGS, NULL, &err);
        CHECK_ERR("ecdsa: zero R and S", rc, NGX_DECLINED, err,
                  "signature verification failed");

        ngx_memset(sig, 0xff, sizeof(sig));
        token = t_fmt("%s.%s", input, t_b64(sig, 64));
        rc = t_verify(token, keys, T_ALL_ALGS, NULL, &err);
        CHECK_ERR("ecdsa: R and S all ones", rc, NGX_DECLINED, err,
                  "signature verification failed");
    }
}


static void
test_malformed(void)
{
    char         *payload, *token, *big, *hdr;
    size_t        i, n, len;
    ngx_int_t     rc;
    ngx_str_t     s;
    const char   *err;
    ngx_http_oauth2_jwt_t  jwt;

    static const char  *bad[] = {
        "",
        "abc",
        "abc.def",
        "abc.def.ghi.jkl",
        "..",
        ".eyJ9.",
        "eyJ9..",
        "eyJhbGciOiJSUzI1NiJ9.e30.AAAA.",
        "eyJhbGciOiJSUzI1NiJ9=.e30.",
        "eyJhbGciOiJSUzI1NiJ9.e30=.",
        "eyJhbGciOiJSUzI1NiJ9.e30.AA==",
        "eyJhbGciOiJSUzI1NiJ9.e30.AA+/",
        "eyJhbGciOiJSUzI1NiJ9.e30 .",
        "eyJhbGciOiJSUzI1NiJ9 .e30.",
        "eyJhbGciOiJSUzI1NiJ9.e3.",
        "eyJhbGciOiJSUzI1NiJ9.e31.",
        "eyJhbGciOiJSUzI1NiJ9.e30.A",
        "eyJhbGciOiJSUzI1NiJ9.e30.AB",
        "eyJhbGciOiJSUzI1NiJ9.e30.AAB",
        "e30.e30.",
        "W10.e30.",
        "bnVsbA.e30.",
        "eyJhbGciOjF9.e30.",
        "eyJhbGciOm51bGx9.e30.",
        "eyJhbGciOiJSUzI1NiIsImtpZCI6MX0.e30.",
        "eyJhbGciOiJSUzI1NiJ9.W10.",
        "eyJhbGciOiJSUzI1NiJ9.MQ.",
        "eyJhbGciOiJSUzI1NiJ9.eyJhIjo.",
        "eyJhbGciOiJSUzI1NiJ9.ImEi.",
        "eyJhbGciOiJSUzI1NiIsImNyaXQiOlsiZXhwIl0sImV4cCI6MX0.e30.",
        "PGh0bWw+.e30.",
    };

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        s.data = (u_char *) bad[i];
        s.len = strlen(bad[i]);
        err = NULL;

        rc = ngx_http_oauth2_jwt_parse(t_pool, &s, &jwt, &err);
        CHECK(t_fmt("parse: reject malformed #%uz \"%s\"", i, bad[i]),
              rc == NGX_ERROR && err != NULL);
    }

    /* error messages are fixed, no token data */

    s.data = (u_char *) "eyJzZWNyZXQiOiJ4In0.e30.";
    s.len = strlen((char *) s.data);
    rc = ngx_http_oauth2_jwt_parse(t_pool, &s, &jwt, &err);
    CHECK_ERR("parse: header without alg", rc, NGX_ERROR, err,
              "token header has no \"alg\"");

    /* minimal valid ones */

    s.data = (u_char *) "eyJhbGciOiJSUzI1NiJ9.e30.";
    s.len = strlen((char *) s.data);
    rc = ngx_http_oauth2_jwt_parse(t_pool, &s, &jwt, &err);
    CHECK("parse: minimal token",
          rc == NGX_OK && jwt.alg_bit == NGX_HTTP_OAUTH2_ALG_RS256
          && jwt.kid.len == 0 && jwt.signature.len == 0
          && jwt.signing_input.len == s.len - 1
          && YAJL_IS_OBJECT(jwt.claims) && YAJL_IS_OBJECT(jwt.header));

    payload = t_payload();
    token = t_token("{\"alg\":\"ES256\",\"kid\":\"k-1\"}", payload, k_p256,
                    "ES256", 0);
    s.data = (u_char *) token;
    s.len = strlen(token);
    rc = ngx_http_oauth2_jwt_parse(t_pool, &s, &jwt, &err);
    CHECK("parse: fields",
          rc == NGX_OK && jwt.alg_bit == NGX_HTTP_OAUTH2_ALG_ES256
          && jwt.alg.len == 5 && ngx_strncmp(jwt.alg.data, "ES256", 5) == 0
          && jwt.kid.len == 3 && ngx_strncmp(jwt.kid.data, "k-1", 3) == 0
          && jwt.signature.len == 64
          && jwt.signing_input.data == s.data
          && jwt.signing_input.len == (size_t) (strrchr(token, '.') - token));

    token = t_token("{\"alg\":\"FOO\"}", payload, NULL, "none", T_NO_SIG);
    s.data = (u_char *) token;
    s.len = strlen(token);
    rc = ngx_http_oauth2_jwt_parse(t_pool, &s, &jwt, &err);
    CHECK("parse: unknown alg parses with alg_bit 0",
          rc == NGX_OK && jwt.alg_bit == 0);

    /* size limits */

    n = NGX_HTTP_OAUTH2_JWT_MAX_LEN + 1;
    big = ngx_pnalloc(t_pool, n + 1);
    ngx_memset(big, 'A', n);
    big[10] = '.';
    big[20] = '.';
    s.data = (u_char *) big;
    s.len = n;
    rc = ngx_http_oauth2_jwt_parse(t_pool, &s, &jwt, &err);
    CHECK_ERR("parse: 64 KiB + 1", rc, NGX_ERROR, err, "token too large");

    s.len = 16 * 1024 * 1024;
    rc = ngx_http_oauth2_jwt_parse(t_pool, &s, &jwt, &err);
    CHECK_ERR("parse: 16 MiB", rc, NGX_ERROR, err, "token too large");

    /* a token just under the limit, with a large claim, is fine */

    len = 40000;
    big = ngx_pnalloc(t_pool, len + 1);
    ngx_memset(big, 'x', len);
    big[len] = '\0';

    token = t_token("{\"alg\":\"EdDSA\"}",
                    t_fmt("{\"sub\":\"alice\",\"pad\":\"%s\"}", big),
                    k_ed25519, "EdDSA", 0);
    s.data = (u_char *) token;
    s.len = strlen(token);
    rc = ngx_http_oauth2_jwt_parse(t_pool, &s, &jwt, &err);
    CHECK("parse: large token under the limit",
          s.len < NGX_HTTP_OAUTH2_JWT_MAX_LEN && rc == NGX_OK);

    /* deep nesting in the payload */

    n = 1000;
    big = ngx_pnalloc(t_pool, 2 * n + 20);
    len = 0;
    len += sprintf(big, "{\"a\":");

    for (i = 0; i < n; i++) {
        big[len++] = '[';
    }

    for (i = 0; i < n; i++) {
        big[len++] = ']';
    }

    big[len++] = '}';
    big[len] = '\0';

    token = t_token("{\"alg\":\"EdDSA\"}", big, NULL, "none", T_NO_SIG);
    s.data = (u_char *) token;
    s.len = strlen(token);
    rc = ngx_http_oauth2_jwt_parse(t_pool, &s, &jwt, &err);
    CHECK_ERR("parse: deeply nested payload", rc, NGX_ERROR, err,
              "token payload is not valid JSON");

    /* the header may not be nested deeply either */

    hdr = t_fmt("{\"alg\":\"RS256\",\"x\":%s}", big);
    token = t_token(hdr, payload, NULL, "none", T_NO_SIG);
    s.data = (u_char *) token;
    s.len = strlen(token);
    rc = ngx_http_oauth2_jwt_parse(t_pool, &s, &jwt, &err);
    CHECK_ERR("parse: deeply nested header", rc, NGX_ERROR, err,
              "token header is not valid JSON");
}


static void
test_claims(void)
{
    ngx_int_t    rc;
    const char  *err;

#define T_CLAIMS(what, payload, nonce, want_rc, want_err)                     \
    rc = t_claims(payload, nonce, &err);                                      \
    CHECK_ERR("claims: " what, rc, want_rc, err, want_err)

#define T_P(s)  t_fmt(s, T_NOW + 300, T_NOW)

#define T_BASE  "\"iss\":\"" T_ISS "\",\"sub\":\"alice\""

    T_CLAIMS("valid", t_payload(), T_NONCE, NGX_OK, NULL);
    T_CLAIMS("valid, nonce not checked", t_payload(), NULL, NGX_OK, NULL);

    /* iss */

    T_CLAIMS("iss missing",
             T_P("{\"aud\":\"" T_CLIENT "\",\"sub\":\"a\",\"exp\":%d,"
                 "\"iat\":%d}"),
             NULL, NGX_DECLINED, "id token has no valid iss");
    T_CLAIMS("iss not a string",
             T_P("{\"iss\":1,\"aud\":\"" T_CLIENT "\",\"sub\":\"a\","
                 "\"exp\":%d,\"iat\":%d}"),
             NULL, NGX_DECLINED, "id token has no valid iss");
    T_CLAIMS("iss with a trailing slash",
             T_P("{\"iss\":\"" T_ISS "/\",\"aud\":\"" T_CLIENT "\","
                 "\"sub\":\"a\",\"exp\":%d,\"iat\":%d}"),
             NULL, NGX_DECLINED, "id token issuer mismatch");
    T_CLAIMS("iss a prefix",
             T_P("{\"iss\":\"https://op.example\",\"aud\":\"" T_CLIENT "\","
                 "\"sub\":\"a\",\"exp\":%d,\"iat\":%d}"),
             NULL, NGX_DECLINED, "id token issuer mismatch");
    T_CLAIMS("iss of another case",
             T_P("{\"iss\":\"https://OP.example.com\",\"aud\":\""
                 T_CLIENT "\",\"sub\":\"a\",\"exp\":%d,\"iat\":%d}"),
             NULL, NGX_DECLINED, "id token issuer mismatch");
    T_CLAIMS("iss duplicated, the last one counts",
             T_P("{\"iss\":\"" T_ISS "\",\"iss\":\"https://evil\",\"aud\":\""
                 T_CLIENT "\",\"sub\":\"a\",\"exp\":%d,\"iat\":%d}"),
             NULL, NGX_DECLINED, "id token issuer mismatch");

    /* aud and azp */

    T_CLAIMS("aud missing",
             T_P("{" T_BASE ",\"exp\":%d,\"iat\":%d}"),
             NULL, NGX_DECLINED, "id token has no valid aud");
    T_CLAIMS("aud another client",
             T_P("{" T_BASE ",\"aud\":\"client-2\",\"exp\":%d,\"iat\":%d}"),
             NULL, NGX_DECLINED, "id token audience mismatch");
    T_CLAIMS("aud a prefix of the client",
             T_P("{" T_BASE ",\"aud\":\"client-\",\"exp\":%d,\"iat\":%d}"),
             NULL, NGX_DECLINED, "id token audience mismatch");
    T_CLAIMS("aud a number",
             T_P("{" T_BASE ",\"aud\":1,\"exp\":%d,\"iat\":%d}"),
             NULL, NGX_DECLINED, "id token has no valid aud");
    T_CLAIMS("aud an empty array",
             T_P("{" T_BASE ",\"aud\":[],\"exp\":%d,\"iat\":%d}"),
             NULL, NGX_DECLINED, "id token has no valid aud");
    T_CLAIMS("aud an array of one",
             T_P("{" T_BASE ",\"aud\":[\"" T_CLIENT "\"],\"exp\":%d,"
                 "\"iat\":%d}"),
             NULL, NGX_OK, NULL);
    T_CLAIMS("aud an array without the client",
             T_P("{" T_BASE ",\"aud\":[\"x\",\"y\"],\"azp\":\"" T_CLIENT "\","
                 "\"exp\":%d,\"iat\":%d}"),
             NULL, NGX_DECLINED, "id token audience mismatch");
    T_CLAIMS("aud an array with a non-string",
             T_P("{" T_BASE ",\"aud\":[\"" T_CLIENT "\",1],\"azp\":\""
                 T_CLIENT "\",\"exp\":%d,\"iat\":%d}"),
             NULL, NGX_DECLINED, "id token has an invalid aud");
    T_CLAIMS("several aud without azp",
             T_P("{" T_BASE ",\"aud\":[\"" T_CLIENT "\",\"other\"],"
                 "\"exp\":%d,\"iat\":%d}"),
             NULL, NGX_DECLINED, "id token has several audiences and no azp");
    T_CLAIMS("several aud, azp the client",
             T_P("{" T_BASE ",\"aud\":[\"other\",\"" T_CLIENT "\"],"
                 "\"azp\":\"" T_CLIENT "\",\"exp\":%d,\"iat\":%d}"),
             NULL, NGX_OK, NULL);
    T_CLAIMS("several aud, azp another",
             T_P("{" T_BASE ",\"aud\":[\"other\",\"" T_CLIENT "\"],"
                 "\"azp\":\"other\",\"exp\":%d,\"iat\":%d}"),
             NULL, NGX_DECLINED, "id token azp mismatch");
    T_CLAIMS("one aud, azp another",
             T_P("{" T_BASE ",\"aud\":\"" T_CLIENT "\","
                 "\"azp\":\"other\",\"exp\":%d,\"iat\":%d}"),
             NULL, NGX_DECLINED, "id token azp mismatch");
    T_CLAIMS("one aud, azp the client",
             T_P("{" T_BASE ",\"aud\":\"" T_CLIENT "\","
                 "\"azp\":\"" T_CLIENT "\",\"exp\":%d,\"iat\":%d}"),
             NULL, NGX_OK, NULL);
    T_CLAIMS("azp not a string",
             T_P("{" T_BASE ",\"aud\":\"" T_CLIENT "\","
                 "\"azp\":[\"" T_CLIENT "\"],\"exp\":%d,\"iat\":%d}"),
             NULL, NGX_DECLINED, "id token has an invalid azp");

#define T_TIMES(s)  t_fmt("{" T_BASE ",\"aud\":\"" T_CLIENT "\"," s "}")

    /* exp: now < exp + leeway (60) */

    T_CLAIMS("exp missing", T_TIMES("\"iat\":1700000000"),
             NULL, NGX_DECLINED, "id token has no valid exp");
    T_CLAIMS("exp a string",
             T_TIMES("\"exp\":\"1700000300\",\"iat\":1700000000"),
             NULL, NGX_DECLINED, "id token has no valid exp");
    T_CLAIMS("exp null", T_TIMES("\"exp\":null,\"iat\":1700000000"),
             NULL, NGX_DECLINED, "id token has no valid exp");
    T_CLAIMS("exp long past",
             T_TIMES("\"exp\":1699990000,\"iat\":1699980000"),
             NULL, NGX_DECLINED, "id token expired");
    T_CLAIMS("exp at now - leeway",
             T_TIMES("\"exp\":1699999940,\"iat\":1699990000"),
             NULL, NGX_DECLINED, "id token expired");
    T_CLAIMS("exp at now - leeway + 1",
             T_TIMES("\"exp\":1699999941,\"iat\":1699990000"),
             NULL, NGX_OK, NULL);
    T_CLAIMS("exp fractional, within",
             T_TIMES("\"exp\":1699999941.5,\"iat\":1699990000"),
             NULL, NGX_OK, NULL);
    T_CLAIMS("exp fractional, rounded down",
             T_TIMES("\"exp\":1699999940.9,\"iat\":1699990000"),
             NULL, NGX_DECLINED, "id token expired");
    T_CLAIMS("exp in exponent form",
             T_TIMES("\"exp\":1.7000003e9,\"iat\":1699990000"),
             NULL, NGX_OK, NULL);
    T_CLAIMS("exp huge integer",
             T_TIMES("\"exp\":9223372036854775807,\"iat\":1699990000"),
             NULL, NGX_DECLINED, "id token has no valid exp");
    T_CLAIMS("exp at the end of 9999",
             T_TIMES("\"exp\":253402300799,\"iat\":1699990000"),
             NULL, NGX_OK, NULL);
    T_CLAIMS("exp past the end of 9999",
             T_TIMES("\"exp\":253402300800,\"iat\":1699990000"),
             NULL, NGX_DECLINED, "id token has no valid exp");
    T_CLAIMS("exp fractional, past the end of 9999",
             T_TIMES("\"exp\":253402300799.5,\"iat\":1699990000"),
             NULL, NGX_DECLINED, "id token has no valid exp");
    T_CLAIMS("exp beyond int64",
             T_TIMES("\"exp\":99999999999999999999999,\"iat\":1699990000"),
             NULL, NGX_DECLINED, "id token has no valid exp");
    T_CLAIMS("exp 1e300",
             T_TIMES("\"exp\":1e300,\"iat\":1699990000"),
             NULL, NGX_DECLINED, "id token has no valid exp");
    T_CLAIMS("exp negative",
             T_TIMES("\"exp\":-9223372036854775807,\"iat\":1699990000"),
             NULL, NGX_DECLINED, "id token has no valid exp");
    T_CLAIMS("exp negative fraction",
             T_TIMES("\"exp\":-0.5,\"iat\":1699990000"),
             NULL, NGX_DECLINED, "id token has no valid exp");

    /* iat: iat <= now + leeway */

    T_CLAIMS("iat missing", T_TIMES("\"exp\":1700000300"),
             NULL, NGX_DECLINED, "id token has no valid iat");
    T_CLAIMS("iat a boolean", T_TIMES("\"exp\":1700000300,\"iat\":true"),
             NULL, NGX_DECLINED, "id token has no valid iat");
    T_CLAIMS("iat at now + leeway",
             T_TIMES("\"exp\":1700000300,\"iat\":1700000060"),
             NULL, NGX_OK, NULL);
    T_CLAIMS("iat at now + leeway + 1",
             T_TIMES("\"exp\":1700000300,\"iat\":1700000061"),
             NULL, NGX_DECLINED, "id token issued in the future");
    T_CLAIMS("iat fractional, rounded up",
             T_TIMES("\"exp\":1700000300,\"iat\":1700000060.1"),
             NULL, NGX_DECLINED, "id token issued in the future");
    T_CLAIMS("iat fractional, within",
             T_TIMES("\"exp\":1700000300,\"iat\":1700000059.5"),
             NULL, NGX_OK, NULL);
    T_CLAIMS("iat in exponent form",
             T_TIMES("\"exp\":1700000300,\"iat\":1.7e9"),
             NULL, NGX_OK, NULL);
    T_CLAIMS("iat huge",
             T_TIMES("\"exp\":1700000300,\"iat\":9223372036854775807"),
             NULL, NGX_DECLINED, "id token has no valid iat");
    T_CLAIMS("iat 1e300",
             T_TIMES("\"exp\":1700000300,\"iat\":1e300"),
             NULL, NGX_DECLINED, "id token has no valid iat");
    T_CLAIMS("iat negative",
             T_TIMES("\"exp\":1700000300,\"iat\":-1"),
             NULL, NGX_DECLINED, "id token has no valid iat");
    T_CLAIMS("iat a string",
             T_TIMES("\"exp\":1700000300,\"iat\":\"1700000000\""),
             NULL, NGX_DECLINED, "id token has no valid iat");

    /* nbf: optional, nbf <= now + leeway */

    T_CLAIMS("nbf past",
             T_TIMES("\"exp\":1700000300,\"iat\":1700000000,"
                     "\"nbf\":1700000000"),
             NULL, NGX_OK, NULL);
    T_CLAIMS("nbf at now + leeway",
             T_TIMES("\"exp\":1700000300,\"iat\":1700000000,"
                     "\"nbf\":1700000060"),
             NULL, NGX_OK, NULL);
    T_CLAIMS("nbf future",
             T_TIMES("\"exp\":1700000300,\"iat\":1700000000,"
                     "\"nbf\":1700000061"),
             NULL, NGX_DECLINED, "id token not yet valid");
    T_CLAIMS("nbf a string",
             T_TIMES("\"exp\":1700000300,\"iat\":1700000000,"
                     "\"nbf\":\"0\""),
             NULL, NGX_DECLINED, "id token has an invalid nbf");
    T_CLAIMS("nbf fractional, rounded up",
             T_TIMES("\"exp\":1700000300,\"iat\":1700000000,"
                     "\"nbf\":1700000060.1"),
             NULL, NGX_DECLINED, "id token not yet valid");
    T_CLAIMS("nbf in exponent form",
             T_TIMES("\"exp\":1700000300,\"iat\":1700000000,"
                     "\"nbf\":1.7e9"),
             NULL, NGX_OK, NULL);
    T_CLAIMS("nbf negative",
             T_TIMES("\"exp\":1700000300,\"iat\":1700000000,"
                     "\"nbf\":-1"),
             NULL, NGX_DECLINED, "id token has an invalid nbf");
    T_CLAIMS("nbf huge",
             T_TIMES("\"exp\":1700000300,\"iat\":1700000000,"
                     "\"nbf\":1e20"),
             NULL, NGX_DECLINED, "id token has an invalid nbf");

    /* sub */

    T_CLAIMS("sub missing",
             T_P("{\"iss\":\"" T_ISS "\",\"aud\":\"" T_CLIENT "\","
                 "\"exp\":%d,\"iat\":%d}"),
             NULL, NGX_DECLINED, "id token has no valid sub");
    T_CLAIMS("sub empty",
             T_P("{\"iss\":\"" T_ISS "\",\"aud\":\"" T_CLIENT "\","
                 "\"sub\":\"\",\"exp\":%d,\"iat\":%d}"),
             NULL, NGX_DECLINED, "id token has no valid sub");
    T_CLAIMS("sub a number",
             T_P("{\"iss\":\"" T_ISS "\",\"aud\":\"" T_CLIENT "\","
                 "\"sub\":12345,\"exp\":%d,\"iat\":%d}"),
             NULL, NGX_DECLINED, "id token has no valid sub");

    /* nonce */

    T_CLAIMS("nonce expected, missing",
             T_P("{" T_BASE ",\"aud\":\"" T_CLIENT "\",\"exp\":%d,"
                 "\"iat\":%d}"),
             T_NONCE, NGX_DECLINED, "id token has no valid nonce");
    T_CLAIMS("nonce expected, not a string",
             T_P("{" T_BASE ",\"aud\":\"" T_CLIENT "\",\"exp\":%d,"
                 "\"iat\":%d,\"nonce\":1}"),
             T_NONCE, NGX_DECLINED, "id token has no valid nonce");
    T_CLAIMS("nonce mismatch",
             T_P("{" T_BASE ",\"aud\":\"" T_CLIENT "\",\"exp\":%d,"
                 "\"iat\":%d,\"nonce\":\"n-0S6_WzA2Mk\"}"),
             T_NONCE, NGX_DECLINED, "id token nonce mismatch");
    T_CLAIMS("nonce a prefix",
             T_P("{" T_BASE ",\"aud\":\"" T_CLIENT "\",\"exp\":%d,"
                 "\"iat\":%d,\"nonce\":\"n-0S6\"}"),
             T_NONCE, NGX_DECLINED, "id token nonce mismatch");
    T_CLAIMS("nonce longer",
             T_P("{" T_BASE ",\"aud\":\"" T_CLIENT "\",\"exp\":%d,"
                 "\"iat\":%d,\"nonce\":\"" T_NONCE "x\"}"),
             T_NONCE, NGX_DECLINED, "id token nonce mismatch");
    T_CLAIMS("nonce present, not expected",
             T_P("{" T_BASE ",\"aud\":\"" T_CLIENT "\",\"exp\":%d,"
                 "\"iat\":%d,\"nonce\":\"whatever\"}"),
             NULL, NGX_OK, NULL);

#undef T_TIMES
#undef T_BASE
#undef T_P
#undef T_CLAIMS
}


/*
 * Every allocation failing in turn: no crash, no leak (AddressSanitizer's
 * leak check at exit), and an error rather than a half-made result.
 */

static void
test_alloc_failures(void)
{
    char                   *doc, *token;
    ngx_int_t               rc;
    ngx_str_t               s;
    ngx_uint_t              n, ok;
    ngx_pool_t             *pool;
    const char             *err;
    ngx_array_t            *keys;
    ngx_http_oauth2_jwt_t   jwt;

    doc = t_fmt("{\"keys\":[%s,%s,%s]}", t_jwk(k_rsa, "a", NULL),
                t_jwk(k_p256, "b", NULL), t_jwk(k_ed25519, "c", NULL));

    ok = 1;

    for (n = 1; n < 100; n++) {
        pool = ngx_create_pool(1024, &t_log);
        keys = NULL;

        ngx_shim_alloc_fail = n;
        rc = ngx_http_oauth2_jwks_parse(pool, &t_log, (u_char *) doc,
                                        strlen(doc), &keys, &err);

        if (ngx_shim_alloc_fail == 0 && rc == NGX_OK) {
            /* an allocation for a key failed: it may only be skipped */
            ok &= (keys != NULL && keys->nelts <= 3);
        }

        if (ngx_shim_alloc_fail != 0) {
            ok &= (rc == NGX_OK && keys != NULL && keys->nelts == 3);
            ngx_shim_alloc_fail = 0;
            ngx_destroy_pool(pool);
            break;
        }

        ngx_destroy_pool(pool);
    }

    CHECK("alloc failures: jwks_parse", ok && n < 100);

    token = t_token("{\"alg\":\"EdDSA\",\"kid\":\"c\"}", t_payload(),
                    k_ed25519, "EdDSA", 0);
    s.data = (u_char *) token;
    s.len = strlen(token);

    ok = 1;

    for (n = 1; n < 100; n++) {
        pool = ngx_create_pool(1024, &t_log);

        ngx_shim_alloc_fail = n;
        rc = ngx_http_oauth2_jwt_parse(pool, &s, &jwt, &err);

        if (ngx_shim_alloc_fail == 0) {
            ok &= (rc == NGX_ERROR);

        } else {
            ok &= (rc == NGX_OK);
            ngx_shim_alloc_fail = 0;
            ngx_destroy_pool(pool);
            break;
        }

        ngx_destroy_pool(pool);
    }

    CHECK("alloc failures: jwt_parse", ok && n < 100);
}


/* multi-tenant issuers: "{tenantid}" filled with the token's own tid */

static void
test_tenants(void)
{
    size_t       i;
    yajl_val     claims;
    ngx_int_t    rc;
    ngx_str_t    tmpl, plain, iss, tid;
    const char  *err;

    static const struct {
        const char  *iss;
        const char  *tid;       /* NULL: any valid tenant */
        ngx_int_t    rc;
    } match[] = {
        { "https://login.example/0a1b-C2/v2.0", NULL, NGX_OK },
        { "https://login.example/0a1b-C2/v2.0", "0a1b-C2", NGX_OK },
        { "https://login.example/0a1b-C2/v2.0", "0a1b-c2", NGX_DECLINED },
        { "https://login.example/0a1b-C2/v2.0", "0a1b", NGX_DECLINED },
        { "https://login.example//v2.0", NULL, NGX_DECLINED },
        { "https://login.example/{tenantid}/v2.0", NULL, NGX_DECLINED },
        { "https://login.example/a.b/v2.0", NULL, NGX_DECLINED },
        { "https://login.example/a/b/v2.0", NULL, NGX_DECLINED },
        { "https://login.example/a%2Fb/v2.0", NULL, NGX_DECLINED },
        { "https://login.example/abc/v2.0/", NULL, NGX_DECLINED },
        { "https://login.example/abc/v2", NULL, NGX_DECLINED },
        { "http://login.example/abc/v2.0", NULL, NGX_DECLINED },
        { "https://login.example/"
          "0123456789012345678901234567890123456789012345678901234567890123"
          "/v2.0", NULL, NGX_OK },
        { "https://login.example/"
          "01234567890123456789012345678901234567890123456789012345678901234"
          "/v2.0", NULL, NGX_DECLINED },
    };

    static const struct {
        const char  *claims;
        const char  *err;       /* NULL: valid */
    } tokens[] = {
        { "{\"iss\":\"https://login.example/t-1/v2.0\",\"tid\":\"t-1\"}",
          NULL },
        { "{\"iss\":\"https://login.example/t-2/v2.0\",\"tid\":\"t-1\"}",
          "id token issuer mismatch (not its tenant's)" },
        { "{\"iss\":\"https://login.example/t-1/v2.0\"}",
          "id token has no tid (the issuer is multi-tenant)" },
        { "{\"iss\":\"https://login.example/t-1/v2.0\",\"tid\":1}",
          "id token has no tid (the issuer is multi-tenant)" },
        { "{\"iss\":\"https://login.example/a/b/v2.0\",\"tid\":\"a/b\"}",
          "id token tid is not a tenant id" },
        { "{\"iss\":\"https://login.example/{tenantid}/v2.0\","
          "\"tid\":\"{tenantid}\"}",
          "id token tid is not a tenant id" },
    };

    ngx_str_set(&tmpl, "https://login.example/{tenantid}/v2.0");
    ngx_str_set(&plain, "https://login.example/t-1/v2.0");

    CHECK("tenants: a template is one",
          ngx_http_oauth2_issuer_template(&tmpl) == tmpl.data + 22);
    CHECK("tenants: an issuer without braces is none",
          ngx_http_oauth2_issuer_template(&plain) == NULL);

    for (i = 0; i < sizeof(match) / sizeof(match[0]); i++) {
        iss.data = (u_char *) match[i].iss;
        iss.len = strlen(match[i].iss);
        tid.data = (u_char *) match[i].tid;
        tid.len = match[i].tid ? strlen(match[i].tid) : 0;

        rc = ngx_http_oauth2_issuer_match(&tmpl, &iss,
                                          match[i].tid ? &tid : NULL);

        CHECK(t_fmt("tenants: match \"%s\" (tid %s)", match[i].iss,
                    match[i].tid ? match[i].tid : "any"),
              rc == match[i].rc);
    }

    ngx_str_set(&iss, "https://login.example/t-1/v2.0");
    CHECK("tenants: a plain issuer matches itself",
          ngx_http_oauth2_issuer_match(&plain, &iss, NULL) == NGX_OK);
    ngx_str_set(&iss, "https://login.example/t-2/v2.0");
    CHECK("tenants: a plain issuer matches nothing else",
          ngx_http_oauth2_issuer_match(&plain, &iss, NULL) == NGX_DECLINED);

    for (i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++) {
        claims = ngx_http_oauth2_json_parse(t_pool,
                                            (u_char *) tokens[i].claims,
                                            strlen(tokens[i].claims), &err);
        err = NULL;
        rc = ngx_http_oauth2_jwt_check_iss(claims, &tmpl, &err);

        CHECK_ERR(t_fmt("tenants: %s", tokens[i].claims), rc,
                  tokens[i].err ? NGX_DECLINED : NGX_OK, err, tokens[i].err);
    }
}


int
main(int argc, char **argv)
{
    ngx_shim_init(NGX_LOG_INFO, "UNIT_VERBOSE");

    ngx_memzero(&t_log, sizeof(ngx_log_t));
    t_log.log_level = NGX_LOG_INFO;

    t_pool = ngx_create_pool(4096, &t_log);

    k_rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 2048);
    k_rsa2 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 3072);
    k_rsa1024 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 1024);
    k_p256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    k_p256b = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    k_p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    k_p521 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");
    k_ed25519 = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    k_ed448 = EVP_PKEY_Q_keygen(NULL, NULL, "ED448");

    if (t_pool == NULL || k_rsa == NULL || k_rsa2 == NULL
        || k_rsa1024 == NULL || k_p256 == NULL || k_p256b == NULL
        || k_p384 == NULL || k_p521 == NULL || k_ed25519 == NULL
        || k_ed448 == NULL)
    {
        fprintf(stderr, "cannot generate the test keys\n");
        return 2;
    }

    test_base64url();
    test_alg_bit();
    test_json();
    test_jwks();
    test_verify_algs();
    test_alg_policy();
    test_kid();
    test_ecdsa_format();
    test_malformed();
    test_claims();
    test_tenants();
    test_alloc_failures();

    CHECK("OpenSSL error queue left empty", ERR_peek_error() == 0);

    ngx_destroy_pool(t_pool);

    EVP_PKEY_free(k_rsa);
    EVP_PKEY_free(k_rsa2);
    EVP_PKEY_free(k_rsa1024);
    EVP_PKEY_free(k_p256);
    EVP_PKEY_free(k_p256b);
    EVP_PKEY_free(k_p384);
    EVP_PKEY_free(k_p521);
    EVP_PKEY_free(k_ed25519);
    EVP_PKEY_free(k_ed448);

    printf("%u passed, %u failed\n", (unsigned) t_passed,
           (unsigned) t_failed);

    return t_failed ? 1 : 0;
}
