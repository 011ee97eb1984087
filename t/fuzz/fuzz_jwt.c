
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * ID tokens, as the callback handles the token endpoint's answer: the
 * input is a compact JWS; it is parsed, verified against a fixed JWKS
 * (t/fuzz/keys/jwks.json: RSA, P-256, P-384, P-521, Ed25519 keys, one
 * without kid) with every algorithm allowed and an HMAC secret, then with
 * narrower policies and no keys at all, and its claims are checked (OpenID
 * Connect Core 3.1.3.7) whatever the signature, as text like the claim
 * variables.
 *
 * Seeds: tokens signed by the fixed keys (t/fuzz/make-corpus.js; they
 * verify and pass the claim checks at FUZZ_NOW) and ID tokens of the fake
 * provider's scenarios.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_oauth2_module.h"
#include "ngx_http_oauth2_json.h"
#include "ngx_http_oauth2_jwt.h"
#include "ngx_shim.h"


/* as in t/fuzz/make-corpus.js */
#define FUZZ_NOW     1700000000
#define FUZZ_ISS     "https://op.fuzz.example"
#define FUZZ_CLIENT  "fuzz-client"
#define FUZZ_NONCE   "fuzz-nonce-0S6_WzA2Mj"
#define FUZZ_HMAC    "fuzz-client-secret-0123456789abcdef-0123456789"

#define FUZZ_ALL_ALGS  0x1fff


static ngx_array_t  *fuzz_keys;


/* what LLVMFuzzerInitialize() keeps for the whole run */
static ngx_pool_t  *fuzz_init_pool;


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    u_char      *doc;
    size_t       len;
    ngx_pool_t  *pool;
    const char  *err;

    ngx_shim_init(NGX_LOG_DEBUG_ALL, "FUZZ_VERBOSE");

    /* the keys live for the whole run */
    pool = ngx_shim_pool();
    fuzz_init_pool = pool;

    doc = ngx_shim_read_file(FUZZ_KEYS_DIR "/jwks.json", &len);

    if (ngx_http_oauth2_jwks_parse(pool, &ngx_shim_log, doc, len, &fuzz_keys,
                                   &err)
        != NGX_OK
        || fuzz_keys->nelts < 5)
    {
        fprintf(stderr, "fuzz_jwt: the fixed JWKS does not parse\n");
        exit(2);
    }

    free(doc);

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t                         i;
    yajl_val                       claims;
    ngx_int_t                      rc;
    ngx_str_t                      token, secret, text;
    ngx_pool_t                    *pool;
    const char                    *err;
    ngx_http_oauth2_jwt_t          jwt;
    ngx_http_oauth2_jwt_expect_t   expect;

    pool = ngx_shim_pool();

    token.len = size;
    token.data = ngx_pnalloc(pool, size);
    if (token.data == NULL) {
        abort();
    }

    if (size) {
        ngx_memcpy(token.data, data, size);
    }

    err = NULL;

    if (ngx_http_oauth2_jwt_parse(pool, &token, &jwt, &err) != NGX_OK) {
        if (err == NULL) {
            abort();
        }

        ngx_destroy_pool(pool);
        return 0;
    }

    ngx_str_set(&secret, FUZZ_HMAC);

    /* as the callback: the provider's algorithms, the client secret */

    rc = ngx_http_oauth2_jwt_verify(&jwt, fuzz_keys, FUZZ_ALL_ALGS, &secret,
                                    &err);

    if (rc != NGX_OK && err == NULL) {
        abort();
    }

    if (ngx_shim_verbose) {
        fprintf(stderr, "fuzz_jwt: %.*s: verify %d (%s)\n",
                (int) jwt.alg.len, jwt.alg.data, (int) rc,
                rc == NGX_OK ? "ok" : err);
    }

    /* the default policy, RS256 only, and no keys yet */

    (void) ngx_http_oauth2_jwt_verify(&jwt, fuzz_keys,
                                      NGX_HTTP_OAUTH2_ALG_RS256, NULL, &err);

    if (ngx_http_oauth2_jwt_verify(&jwt, NULL, FUZZ_ALL_ALGS & ~0x1c00,
                                   NULL, &err)
        == NGX_OK)
    {
        fprintf(stderr, "fuzz_jwt: verified without keys\n");
        abort();
    }

    /* the claims, with and without a nonce, at a fixed time */

    ngx_str_set(&expect.issuer, FUZZ_ISS);
    ngx_str_set(&expect.client_id, FUZZ_CLIENT);
    ngx_str_set(&expect.nonce, FUZZ_NONCE);
    expect.now = FUZZ_NOW;
    expect.leeway = 60;

    rc = ngx_http_oauth2_jwt_check_id_token(&jwt, &expect, &err);

    if (ngx_shim_verbose) {
        fprintf(stderr, "fuzz_jwt: claims %d (%s)\n", (int) rc,
                rc == NGX_OK ? "ok" : err);
    }

    ngx_str_null(&expect.nonce);
    expect.leeway = 0;

    (void) ngx_http_oauth2_jwt_check_id_token(&jwt, &expect, &err);

    /* every claim as the session keeps it */

    claims = jwt.claims;

    for (i = 0; i < claims->u.object.len; i++) {
        (void) ngx_http_oauth2_json_text(pool, claims->u.object.values[i],
                                         &text);
    }

    ngx_destroy_pool(pool);

    return 0;
}
