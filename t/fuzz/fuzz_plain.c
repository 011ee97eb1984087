
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * The plaintexts of sealed cookies (docs/session-format.md, section 3),
 * which a forged cookie cannot reach but a leaked or rotated secret would:
 * the input is decoded as a session and as a login state.  What decodes
 * must encode back to the same bytes (the format is canonical), and every
 * input must survive seal then open unchanged, under the right key and
 * cookie name only.  A decoded session holds no byte below 0x20 nor DEL
 * anywhere (session format 2: typed claims, array elements walked).
 *
 * Seeds: the plaintexts of the fuzz_cookie seeds (seal.js open --hex).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_seal.h"
#include "ngx_http_oauth2_codec.h"
#include "ngx_shim.h"


#define FUZZ_SECRET      "fuzz-cookie-secret-0123456789abcdef-0123456789"


static void fuzz_clean(ngx_str_t *s);
static void fuzz_session(ngx_http_oauth2_session_t *s);


static ngx_array_t  *fuzz_keys;


/* what LLVMFuzzerInitialize() keeps for the whole run */
static ngx_pool_t  *fuzz_init_pool;


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ngx_pool_t              *pool;
    ngx_str_t                secret;
    ngx_http_oauth2_keys_t  *k;

    ngx_shim_init(NGX_LOG_DEBUG_ALL, "FUZZ_VERBOSE");

    pool = ngx_shim_pool();
    fuzz_init_pool = pool;

    fuzz_keys = ngx_array_create(pool, 1, sizeof(ngx_http_oauth2_keys_t));
    k = (fuzz_keys != NULL) ? ngx_array_push(fuzz_keys) : NULL;

    ngx_str_set(&secret, FUZZ_SECRET);

    if (k == NULL || ngx_http_oauth2_derive_keys(&secret, k) != NGX_OK) {
        abort();
    }

    return 0;
}


static void
fuzz_clean(ngx_str_t *s)
{
    if (!ngx_http_oauth2_clean(s->data, s->len)) {
        fprintf(stderr, "fuzz_plain: a control character decoded\n");
        abort();
    }
}


static void
fuzz_session(ngx_http_oauth2_session_t *s)
{
    u_char                   *p, *last;
    ngx_str_t                 e;
    ngx_uint_t                i;
    ngx_http_oauth2_claim_t  *c;

    fuzz_clean(&s->sub);
    fuzz_clean(&s->email);
    fuzz_clean(&s->access_token);
    fuzz_clean(&s->refresh_token);
    fuzz_clean(&s->id_token);

    c = s->claims.elts;

    for (i = 0; i < s->claims.nelts; i++) {
        fuzz_clean(&c[i].name);

        if (c[i].type != NGX_HTTP_OAUTH2_CLAIM_ARRAY) {
            fuzz_clean(&c[i].value);
            continue;
        }

        p = c[i].value.data;
        last = p + c[i].value.len;

        while (ngx_http_oauth2_claim_element(&p, last, &e) == NGX_OK) {
            fuzz_clean(&e);
        }

        if (p != last) {
            fprintf(stderr, "fuzz_plain: an array does not walk\n");
            abort();
        }
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ngx_str_t                      plain, again, sealed, opened, name, other;
    ngx_uint_t                     index;
    ngx_pool_t                    *pool;
    ngx_http_oauth2_session_t      s;
    ngx_http_oauth2_login_state_t  st;

    pool = ngx_shim_pool();

    /* an allocation of exactly the input's size */

    plain.len = size;
    plain.data = ngx_pnalloc(pool, size);
    if (plain.data == NULL) {
        abort();
    }

    if (size) {
        ngx_memcpy(plain.data, data, size);
    }

    if (ngx_http_oauth2_session_decode(pool, &plain, &s) == NGX_OK) {
        fuzz_session(&s);

        if (ngx_http_oauth2_session_encode(pool, &s, &again) != NGX_OK
            || again.len != plain.len
            || ngx_memcmp(again.data, plain.data, plain.len) != 0)
        {
            fprintf(stderr, "fuzz_plain: session does not re-encode\n");
            abort();
        }
    }

    if (ngx_http_oauth2_state_decode(pool, &plain, &st) == NGX_OK) {
        if (ngx_http_oauth2_state_encode(pool, &st, &again) != NGX_OK
            || again.len != plain.len
            || ngx_memcmp(again.data, plain.data, plain.len) != 0)
        {
            fprintf(stderr, "fuzz_plain: state does not re-encode\n");
            abort();
        }
    }

    ngx_str_set(&name, "oauth2_op");
    ngx_str_set(&other, "oauth2_op2");

    if (ngx_http_oauth2_seal(pool, fuzz_keys, NGX_HTTP_OAUTH2_SEAL_SESSION,
                             &name, &plain, &sealed)
        == NGX_OK)
    {
        if (ngx_http_oauth2_open(pool, fuzz_keys,
                                 NGX_HTTP_OAUTH2_SEAL_SESSION, &name, &sealed,
                                 &opened, &index)
            != NGX_OK
            || index != 0
            || opened.len != plain.len
            || (plain.len
                && ngx_memcmp(opened.data, plain.data, plain.len) != 0))
        {
            fprintf(stderr, "fuzz_plain: seal then open differs\n");
            abort();
        }

        if (ngx_http_oauth2_open(pool, fuzz_keys, NGX_HTTP_OAUTH2_SEAL_STATE,
                                 &name, &sealed, &opened, &index)
            != NGX_DECLINED
            || ngx_http_oauth2_open(pool, fuzz_keys,
                                    NGX_HTTP_OAUTH2_SEAL_SESSION, &other,
                                    &sealed, &opened, &index)
               != NGX_DECLINED)
        {
            fprintf(stderr, "fuzz_plain: opened with the wrong purpose or "
                            "name\n");
            abort();
        }

    } else if (size <= 49000) {
        fprintf(stderr, "fuzz_plain: seal failed\n");
        abort();
    }

    ngx_destroy_pool(pool);

    return 0;
}
