
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * A provider's JWKS document, as fetched from jwks_uri: the input is
 * parsed into keys (RSA, EC, OKP; public keys built with OpenSSL), and
 * then fixed tokens, one of each algorithm signed by the keys of
 * t/fuzz/keys/ (t/fuzz/keys/tokens.txt), are verified with whatever keys
 * came out, so that odd but accepted keys (short or huge moduli, curves
 * and points, exponents) go through OpenSSL's verification too.
 *
 * Seeds: the fixed JWKS, the fake provider's (t/fake/provider.js), and
 * variants with unusable members.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_oauth2_module.h"
#include "ngx_http_oauth2_json.h"
#include "ngx_http_oauth2_jwt.h"
#include "ngx_shim.h"


#define FUZZ_MAX_TOKENS  16
#define FUZZ_ALL_ALGS    0x1fff


static ngx_http_oauth2_jwt_t  fuzz_tokens[FUZZ_MAX_TOKENS];
static ngx_uint_t             fuzz_ntokens;
static u_char                *fuzz_tokens_doc;


/* what LLVMFuzzerInitialize() keeps for the whole run */
static ngx_pool_t  *fuzz_init_pool;


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    u_char      *doc, *p, *last, *nl;
    size_t       len;
    ngx_str_t    token;
    ngx_pool_t  *pool;
    const char  *err;

    ngx_shim_init(NGX_LOG_DEBUG_ALL, "FUZZ_VERBOSE");

    pool = ngx_shim_pool();
    fuzz_init_pool = pool;

    doc = ngx_shim_read_file(FUZZ_KEYS_DIR "/tokens.txt", &len);

    p = doc;
    last = doc + len;

    while (p < last && fuzz_ntokens < FUZZ_MAX_TOKENS) {
        nl = ngx_strlchr(p, last, '\n');
        if (nl == NULL) {
            nl = last;
        }

        token.data = p;
        token.len = nl - p;

        if (token.len
            && ngx_http_oauth2_jwt_parse(pool, &token,
                                         &fuzz_tokens[fuzz_ntokens], &err)
               != NGX_OK)
        {
            fprintf(stderr, "fuzz_jwks: a fixed token does not parse: %s\n",
                    err);
            exit(2);
        }

        if (token.len) {
            fuzz_ntokens++;
        }

        p = nl + 1;
    }

    /* kept: the tokens' signing inputs point into it */
    fuzz_tokens_doc = doc;

    if (fuzz_ntokens == 0) {
        fprintf(stderr, "fuzz_jwks: no fixed tokens\n");
        exit(2);
    }

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                 *doc;
    ngx_uint_t              i;
    ngx_pool_t             *pool;
    const char             *err;
    ngx_array_t            *keys;
    ngx_http_oauth2_jwk_t  *jwk;

    pool = ngx_shim_pool();

    doc = ngx_pnalloc(pool, size);
    if (doc == NULL) {
        abort();
    }

    if (size) {
        ngx_memcpy(doc, data, size);
    }

    keys = NULL;
    err = NULL;

    if (ngx_http_oauth2_jwks_parse(pool, &ngx_shim_log, doc, size, &keys, &err)
        != NGX_OK)
    {
        if (err == NULL) {
            abort();
        }

        ngx_destroy_pool(pool);
        return 0;
    }

    jwk = keys->elts;

    for (i = 0; i < keys->nelts; i++) {
        if (jwk[i].pkey == NULL || jwk[i].algs == 0
            || (jwk[i].algs & ~FUZZ_ALL_ALGS))
        {
            fprintf(stderr, "fuzz_jwks: key #%u is unusable\n", (unsigned) i);
            abort();
        }
    }

    for (i = 0; i < fuzz_ntokens; i++) {
        (void) ngx_http_oauth2_jwt_verify(&fuzz_tokens[i], keys,
                                          FUZZ_ALL_ALGS, NULL, &err);
    }

    ngx_destroy_pool(pool);

    return 0;
}
