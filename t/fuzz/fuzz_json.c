
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * The JSON documents a provider sends: discovery, token and refresh
 * responses, userinfo, GitHub's user and emails, error bodies.  The input
 * is parsed with ngx_http_oauth2_json_parse(), and the members the module
 * reads are read with json_string / json_int / json_text as its callers
 * do; every member of an object, and of the objects of an array (GitHub's
 * emails), is turned into claim text, and typed as the session keeps it
 * (ngx_http_oauth2_json_claim()): what is kept never holds a byte below
 * 0x20 or DEL, and an array's elements walk back exactly.
 *
 * Seeds: the fake provider's documents (t/fuzz/make-corpus.js) and a few
 * hand-made real-looking ones.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_oauth2_module.h"
#include "ngx_http_oauth2_json.h"
#include "ngx_shim.h"


static const char  *fuzz_strings[] = {
    /* discovery */
    "issuer", "authorization_endpoint", "token_endpoint",
    "userinfo_endpoint", "jwks_uri", "end_session_endpoint",
    "revocation_endpoint",
    /* token response */
    "access_token", "token_type", "refresh_token", "id_token", "scope",
    "error", "error_description",
    /* userinfo, GitHub */
    "sub", "email", "name", "login", "message",
    NULL
};

static const char  *fuzz_ints[] = {
    "expires_in", "id", "exp", "iat", "auth_time", NULL
};

static const char  *fuzz_texts[] = {
    "email_verified", "groups", "primary", "verified", "id",
    "id_token_signing_alg_values_supported", "code_challenge_methods_supported",
    NULL
};


/* a claim as the session keeps it: the invariants of the typing */

static void
fuzz_claim(ngx_pool_t *pool, yajl_val v)
{
    u_char      *p, *last;
    size_t       len, shift;
    ngx_int_t    rc;
    ngx_str_t    value;
    ngx_uint_t   type;
    const char  *err;

    rc = ngx_http_oauth2_json_claim(pool, v, &type, &value, &err);

    if (rc != NGX_OK) {
        if (rc != NGX_DECLINED
            || (err == NULL && v != NULL && !YAJL_IS_NULL(v)))
        {
            fprintf(stderr, "fuzz_json: claim refused without a reason\n");
            abort();
        }

        return;
    }

    if (type != NGX_HTTP_OAUTH2_CLAIM_ARRAY) {
        if (type < NGX_HTTP_OAUTH2_CLAIM_STRING
            || !ngx_http_oauth2_clean(value.data, value.len))
        {
            fprintf(stderr, "fuzz_json: a control character kept\n");
            abort();
        }

        return;
    }

    /* the elements: varint length, bytes, to the end exactly */

    p = value.data;
    last = p + value.len;

    while (p < last) {
        len = 0;

        for (shift = 0; p < last; shift += 7) {
            len |= (size_t) (*p & 0x7f) << shift;

            if (!(*p++ & 0x80)) {
                break;
            }
        }

        if (len > (size_t) (last - p)
            || !ngx_http_oauth2_clean(p, len))
        {
            fprintf(stderr, "fuzz_json: a bad array element\n");
            abort();
        }

        p += len;
    }
}


static void
fuzz_object(ngx_pool_t *pool, yajl_val v)
{
    size_t       i;
    int64_t      n;
    ngx_str_t    s;
    const char **name;

    for (name = fuzz_strings; *name; name++) {
        if (ngx_http_oauth2_json_string(v, *name, &s) == NGX_OK
            && s.len != ngx_strlen(s.data))
        {
            abort();
        }
    }

    for (name = fuzz_ints; *name; name++) {
        (void) ngx_http_oauth2_json_int(v, *name, &n);
    }

    for (name = fuzz_texts; *name; name++) {
        (void) ngx_http_oauth2_json_text(pool,
                                         ngx_http_oauth2_json_get(v, *name),
                                         &s);
    }

    if (!YAJL_IS_OBJECT(v)) {
        return;
    }

    for (i = 0; i < v->u.object.len; i++) {
        if (ngx_http_oauth2_json_text(pool, v->u.object.values[i], &s)
            == NGX_OK
            && s.len)
        {
            /* read it all */
            if (memchr(s.data, '\0', s.len) != NULL) {
                fprintf(stderr, "fuzz_json: NUL in claim text\n");
                abort();
            }
        }

        fuzz_claim(pool, v->u.object.values[i]);

        (void) ngx_http_oauth2_json_get(v, v->u.object.keys[i]);
    }
}


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ngx_shim_init(NGX_LOG_DEBUG_ALL, "FUZZ_VERBOSE");

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t       i;
    u_char      *doc;
    yajl_val     v;
    ngx_str_t    s;
    ngx_pool_t  *pool;
    const char  *err;

    pool = ngx_shim_pool();

    doc = ngx_pnalloc(pool, size);
    if (doc == NULL) {
        abort();
    }

    if (size) {
        ngx_memcpy(doc, data, size);
    }

    err = NULL;

    v = ngx_http_oauth2_json_parse(pool, doc, size, &err);

    if (v == NULL) {
        if (err == NULL) {
            abort();
        }

        ngx_destroy_pool(pool);
        return 0;
    }

    fuzz_object(pool, v);

    (void) ngx_http_oauth2_json_text(pool, v, &s);

    if (YAJL_IS_ARRAY(v)) {
        for (i = 0; i < v->u.array.len; i++) {
            fuzz_object(pool, v->u.array.values[i]);
        }
    }

    ngx_destroy_pool(pool);

    return 0;
}
