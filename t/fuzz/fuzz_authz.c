
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * The Authorization header parser (ngx_http_oauth2_authz.c): the input is
 * one header value.  Whatever it accepts must hold what the callers rely
 * on: the token lies inside the value, is 1 to 16384 bytes of the
 * b64token alphabet (letters, digits, "-._~+/", then only "="), and the
 * value starts with "Bearer" in some case; a refusal leaves no token.
 *
 * Seeds: well-formed and malformed headers of RFC 6750's examples.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_shim.h"
#include "ngx_http_oauth2_authz.h"


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ngx_shim_init(NGX_LOG_DEBUG_ALL, "FUZZ_VERBOSE");

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char      *copy, c;
    size_t       i;
    ngx_int_t    rc;
    ngx_str_t    token;
    ngx_uint_t   pad;

    /* an exact-size copy, so that ASan sees any read past the end */

    copy = malloc(size ? size : 1);
    if (copy == NULL) {
        abort();
    }

    ngx_memcpy(copy, data, size);

    rc = ngx_http_oauth2_authz_parse(copy, size, &token);

    if (rc != NGX_OK) {
        if (token.len != 0 || token.data != NULL) {
            fprintf(stderr, "fuzz_authz: a refusal left a token\n");
            abort();
        }

        free(copy);
        return 0;
    }

    if (token.len == 0 || token.len > NGX_HTTP_OAUTH2_AUTHZ_MAX_LEN
        || token.data < copy || token.data + token.len > copy + size)
    {
        fprintf(stderr, "fuzz_authz: token outside the value\n");
        abort();
    }

    for (i = 0; i < size && (copy[i] == ' ' || copy[i] == '\t'); i++) {
        /* void */
    }

    if (size - i < 7 || ngx_strncasecmp(copy + i, (u_char *) "bearer", 6) != 0
        || token.data < copy + i + 7)
    {
        fprintf(stderr, "fuzz_authz: no scheme before the token\n");
        abort();
    }

    pad = 0;

    for (i = 0; i < token.len; i++) {
        c = token.data[i];

        if (c == '=') {
            pad = 1;
            continue;
        }

        if (pad
            || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                 || (c >= '0' && c <= '9') || c == '-' || c == '.'
                 || c == '_' || c == '~' || c == '+' || c == '/'))
        {
            fprintf(stderr, "fuzz_authz: token byte 0x%02x\n", c);
            abort();
        }
    }

    free(copy);

    return 0;
}
