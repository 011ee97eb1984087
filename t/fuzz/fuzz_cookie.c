
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * The request's Cookie headers, as the access phase and the callback see
 * them: the input is one or more Cookie header values, one a line.  The
 * session cookie of provider "op" is looked up (chunks reassembled), opened
 * with two keys (rotation) and decoded; every state cookie is opened and
 * decoded as the login-state scan does; the session cookie is set again
 * (the chunks of the previous value are deleted) and stripped from the
 * headers passed upstream, both with what the lookup saw (as the access
 * phase does) and by a walk of its own on a copy of the request: the two
 * must leave the same headers.
 *
 * Seeds: cookies sealed by t/tools/seal.js with FUZZ_SECRET (they open, so
 * the decoders are reached), chunked ones, and broken variants.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_seal.h"
#include "ngx_http_oauth2_codec.h"
#include "ngx_http_oauth2_cookie.h"
#include "ngx_shim.h"


/* the same secrets as t/fuzz/make-corpus.js */
#define FUZZ_SECRET      "fuzz-cookie-secret-0123456789abcdef-0123456789"
#define FUZZ_OLD_SECRET  "fuzz-old-secret-abcdef0123456789-abcdef0123456"

#define FUZZ_COOKIE      "oauth2_op"
#define FUZZ_STATES      "oauth2_op_st_"


typedef struct {
    ngx_array_t  *keys;
    ngx_uint_t    n;
} fuzz_states_t;


static ngx_array_t  *fuzz_keys;


static void
fuzz_check_session(ngx_pool_t *pool, ngx_str_t *plain)
{
    ngx_str_t                   again;
    ngx_uint_t                  i;
    ngx_http_oauth2_claim_t    *claim;
    ngx_http_oauth2_session_t   s;

    if (ngx_http_oauth2_session_decode(pool, plain, &s) != NGX_OK) {
        if (ngx_shim_verbose) {
            fprintf(stderr, "fuzz_cookie: session opens, does not decode\n");
        }

        return;
    }

    if (ngx_shim_verbose) {
        fprintf(stderr, "fuzz_cookie: session of \"%.*s\", %u claims\n",
                (int) s.sub.len, s.sub.data, (unsigned) s.claims.nelts);
    }

    /* touch every string the decoder pointed into the plaintext */

    claim = s.claims.elts;

    for (i = 0; i < s.claims.nelts; i++) {
        if (claim[i].name.len) {
            __asm__ __volatile__ ("" : : "r" (claim[i].name.data[0]));
        }
    }

    /* the encoding is canonical: what decodes, encodes back the same */

    if (ngx_http_oauth2_session_encode(pool, &s, &again) != NGX_OK
        || again.len != plain->len
        || ngx_memcmp(again.data, plain->data, plain->len) != 0)
    {
        fprintf(stderr, "fuzz_cookie: session does not re-encode the same\n");
        abort();
    }
}


static void
fuzz_check_state(ngx_pool_t *pool, ngx_str_t *plain)
{
    ngx_str_t                      again;
    ngx_http_oauth2_login_state_t  st;

    if (ngx_http_oauth2_state_decode(pool, plain, &st) != NGX_OK) {
        return;
    }

    if (ngx_shim_verbose) {
        fprintf(stderr, "fuzz_cookie: state \"%.*s\"\n",
                (int) st.state.len, st.state.data);
    }

    if (ngx_http_oauth2_state_encode(pool, &st, &again) != NGX_OK
        || again.len != plain->len
        || ngx_memcmp(again.data, plain->data, plain->len) != 0)
    {
        fprintf(stderr, "fuzz_cookie: state does not re-encode the same\n");
        abort();
    }
}


static ngx_int_t
fuzz_state_cookie(ngx_http_request_t *r, ngx_str_t *name, ngx_str_t *value,
    void *data)
{
    fuzz_states_t  *st = data;

    ngx_str_t   plain;
    ngx_uint_t  index;

    st->n++;

    if (ngx_http_oauth2_open(r->pool, st->keys, NGX_HTTP_OAUTH2_SEAL_STATE,
                             name, value, &plain, &index)
        == NGX_OK)
    {
        fuzz_check_state(r->pool, &plain);
    }

    /* the walk goes on after a handler's NGX_OK only */

    return (st->n < 64) ? NGX_OK : NGX_DONE;
}


/* what LLVMFuzzerInitialize() keeps for the whole run */
static ngx_pool_t  *fuzz_init_pool;


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ngx_pool_t              *pool;
    ngx_str_t                secret;
    ngx_http_oauth2_keys_t  *k;

    ngx_shim_init(NGX_LOG_DEBUG_ALL, "FUZZ_VERBOSE");

    /* lives for the whole run */
    pool = ngx_shim_pool();
    fuzz_init_pool = pool;

    fuzz_keys = ngx_array_create(pool, 2, sizeof(ngx_http_oauth2_keys_t));
    if (fuzz_keys == NULL) {
        abort();
    }

    k = ngx_array_push(fuzz_keys);
    ngx_str_set(&secret, FUZZ_OLD_SECRET);
    if (k == NULL || ngx_http_oauth2_derive_keys(&secret, k) != NGX_OK) {
        abort();
    }

    k = ngx_array_push(fuzz_keys);
    ngx_str_set(&secret, FUZZ_SECRET);
    if (k == NULL || ngx_http_oauth2_derive_keys(&secret, k) != NGX_OK) {
        abort();
    }

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                         *p, *last, *nl;
    ngx_int_t                       rc;
    ngx_str_t                       name, prefix, value, plain, domain, copy;
    ngx_uint_t                      i, index, lines;
    ngx_pool_t                     *pool;
    fuzz_states_t                   st;
    ngx_table_elt_t                *h, *h2;
    ngx_http_request_t             *r, *r2;
    ngx_http_oauth2_cookie_scan_t   scan;

    pool = ngx_shim_pool();
    r = ngx_shim_request(pool);
    r2 = ngx_shim_request(pool);

    p = (u_char *) data;
    last = p + size;
    lines = 0;

    do {
        nl = ngx_strlchr(p, last, '\n');
        if (nl == NULL) {
            nl = last;
        }

        if (ngx_shim_request_add_cookie(r, p, nl - p) != NGX_OK
            || ngx_shim_request_add_cookie(r2, p, nl - p) != NGX_OK)
        {
            abort();
        }

        p = nl + 1;

    } while (nl < last && ++lines < 8);

    ngx_str_set(&name, FUZZ_COOKIE);
    ngx_str_set(&prefix, FUZZ_STATES);

    /* the session, as ngx_http_oauth2_open_session() does */

    rc = ngx_http_oauth2_cookie_get(r, &name, &value, &scan);

    if (ngx_shim_verbose) {
        fprintf(stderr, "fuzz_cookie: cookie_get: %d, %zu bytes\n", (int) rc,
                rc == NGX_OK ? value.len : 0);
    }

    if (rc == NGX_OK) {

        /* the value may point into the header: keep a copy to compare */

        copy.len = value.len;
        copy.data = ngx_pnalloc(pool, value.len + 1);
        if (copy.data == NULL) {
            abort();
        }

        ngx_memcpy(copy.data, value.data, value.len);

        if (ngx_http_oauth2_open(pool, fuzz_keys, NGX_HTTP_OAUTH2_SEAL_SESSION,
                                 &name, &value, &plain, &index)
            == NGX_OK)
        {
            fuzz_check_session(pool, &plain);
        }

        /* a session value never opens as a state */

        if (ngx_http_oauth2_open(pool, fuzz_keys, NGX_HTTP_OAUTH2_SEAL_STATE,
                                 &name, &value, &plain, &index)
            == NGX_OK)
        {
            fuzz_check_state(pool, &plain);
        }

        /* set it again: deletes what chunks the request carried */

        ngx_str_set(&domain, "example.com");

        (void) ngx_http_oauth2_cookie_set(r, &name, &value, 3600, 1,
                                          &domain);
        (void) ngx_http_oauth2_cookie_set(r, &name, &value, 0, 0, NULL);

        if (value.len != copy.len
            || ngx_memcmp(value.data, copy.data, copy.len) != 0)
        {
            fprintf(stderr, "fuzz_cookie: cookie_set changed the value\n");
            abort();
        }
    }

    /* the login states, as the state scan of a new login does */

    st.keys = fuzz_keys;
    st.n = 0;

    (void) ngx_http_oauth2_cookie_each(r, &prefix, fuzz_state_cookie, &st);

    /* strip_cookies: nothing of the provider may remain */

    if (ngx_http_oauth2_cookie_strip(r, &name, &scan) != NGX_OK
        || ngx_http_oauth2_cookie_strip(r2, &name, NULL) != NGX_OK)
    {
        abort();
    }

    if (ngx_http_oauth2_cookie_get(r, &name, &value, NULL) == NGX_OK) {
        fprintf(stderr, "fuzz_cookie: the session survived cookie_strip\n");
        abort();
    }

    for (i = 0; (h = ngx_shim_request_cookie(r, i)) != NULL; i++) {
        h2 = ngx_shim_request_cookie(r2, i);

        if ((h->hash == 0) != (h2->hash == 0)
            || h->value.len != h2->value.len
            || ngx_memcmp(h->value.data, h2->value.data, h->value.len) != 0)
        {
            fprintf(stderr, "fuzz_cookie: header %u: the strip with the "
                    "scan left \"%.*s\", the walk \"%.*s\"\n",
                    (unsigned) i, (int) h->value.len, h->value.data,
                    (int) h2->value.len, h2->value.data);
            abort();
        }
    }

    ngx_destroy_pool(pool);

    return 0;
}
