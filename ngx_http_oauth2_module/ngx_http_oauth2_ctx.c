
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * The request's context: what the module knows of a request (its
 * session, a callback's exchange, the refresh and back-channel state),
 * kept in a pool cleanup so that internal redirects, which empty
 * r->ctx, find it again.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_module.h"
#include "ngx_http_oauth2_ctx.h"


static void ngx_http_oauth2_ctx_cleanup(void *data);


/*
 * The request's context.  It lives in a pool cleanup's data, so that it
 * can be found again after an internal redirect (index, try_files,
 * error_page), which empties r->ctx: a logged-in request whose session
 * cookie was already stripped from its headers keeps its session.
 */

static void
ngx_http_oauth2_ctx_cleanup(void *data)
{
    /* nothing to free: the cleanup only marks where the context is */
}


ngx_http_oauth2_ctx_t *
ngx_http_oauth2_get_ctx(ngx_http_request_t *r, ngx_uint_t create)
{
    ngx_pool_cleanup_t     *cln;
    ngx_http_oauth2_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_oauth2_module);

    if (ctx != NULL) {
        return ctx;
    }

    if (r->internal) {
        for (cln = r->pool->cleanup; cln; cln = cln->next) {
            if (cln->handler == ngx_http_oauth2_ctx_cleanup) {
                ctx = cln->data;
                ngx_http_set_ctx(r, ctx, ngx_http_oauth2_module);
                return ctx;
            }
        }
    }

    if (!create) {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_http_oauth2_ctx_t));
    if (cln == NULL) {
        return NULL;
    }

    ctx = cln->data;
    ngx_memzero(ctx, sizeof(ngx_http_oauth2_ctx_t));
    cln->handler = ngx_http_oauth2_ctx_cleanup;

    ngx_http_set_ctx(r, ctx, ngx_http_oauth2_module);

    return ctx;
}
