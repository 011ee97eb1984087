
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * The callback's query string and the form-encoded token responses (GitHub's
 * default): the input is used as r->args for ngx_http_oauth2_get_param()
 * ("state", "code", "error", "error_description", "iss", as the callback
 * reads them) and as a response body for ngx_http_oauth2_form_param()
 * ("access_token", "token_type", "refresh_token", "expires_in", "error").
 *
 * Both live in ngx_http_oauth2_form.c, linked as it is.  ngx_http_arg() and
 * ngx_unescape_uri() are the stand-ins of t/shim/ngx_shim.c (nginx's own
 * are not in Debian's nginx-dev).
 *
 * Seeds: callback URLs' queries the fake provider redirects to (success,
 * errors, wrong iss) and GitHub form responses.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_shim.h"

#include "ngx_http_oauth2_form.h"


static const char  *fuzz_args[] = {
    "state", "code", "error", "error_description", "iss", NULL
};

static const char  *fuzz_form[] = {
    "access_token", "token_type", "refresh_token", "expires_in", "error",
    "error_description", NULL
};


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ngx_shim_init(NGX_LOG_DEBUG_ALL, "FUZZ_VERBOSE");

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char              *p;
    ngx_str_t            value, body;
    ngx_pool_t          *pool;
    const char         **name;
    ngx_http_request_t  *r;

    pool = ngx_shim_pool();
    r = ngx_shim_request(pool);

    if (ngx_shim_request_set_args(r, (u_char *) data, size) != NGX_OK) {
        abort();
    }

    for (name = fuzz_args; *name; name++) {

        if (ngx_http_oauth2_get_param(r, *name, &value) != NGX_OK) {
            continue;
        }

        /* percent-decoded, bounded, no control characters */

        if (value.len == 0 || value.len > NGX_HTTP_OAUTH2_MAX_PARAM) {
            fprintf(stderr, "fuzz_query: \"%s\" of length %zu\n", *name,
                    value.len);
            abort();
        }

        for (p = value.data; p < value.data + value.len; p++) {
            if (*p < ' ' || *p == 0x7f) {
                fprintf(stderr, "fuzz_query: control character in \"%s\"\n",
                        *name);
                abort();
            }
        }
    }

    body = r->args;

    for (name = fuzz_form; *name; name++) {
        if (ngx_http_oauth2_form_param(pool, &body, *name, &value) == NGX_OK
            && value.len > body.len)
        {
            abort();
        }
    }

    ngx_destroy_pool(pool);

    return 0;
}
