
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * The callback's request as the provider's response_mode makes it: with
 * "response_mode form_post" the provider's answer (code, state, iss or
 * error) is a form the browser POSTs to the callback, otherwise it is
 * the query of a GET.  Each provider takes only its own: a GET for a
 * form_post provider, or a POST for a query one, is refused, so that an
 * answer cannot be replayed in the other form (a code in a URL would
 * reach logs and browser history).
 *
 * The form is read without blocking: ngx_http_read_client_request_body()
 * reads it while the access handler has returned NGX_DONE; its handler
 * wakes the request (ngx_http_oauth2_park.c), whose phases run again from
 * the event loop.  A client that sends slowly meets client_body_timeout,
 * one that goes away ends the request (nginx's own body reading finalizes
 * it), before anything of the module ran.  The form is copied once into
 * the context and the request's buffers are wiped, so the body cannot
 * reach a log through $request_body.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_module.h"
#include "ngx_http_oauth2_ctx.h"
#include "ngx_http_oauth2_form.h"
#include "ngx_http_oauth2_park.h"
#include "ngx_http_oauth2_reply.h"
#include "ngx_http_oauth2_request.h"
#include "ngx_http_oauth2_form_post.h"


/* code, state, iss and a few more: a kilobyte or two */
#define NGX_HTTP_OAUTH2_FORM_MAX_BODY   16384


static ngx_int_t ngx_http_oauth2_form_start(ngx_http_request_t *r,
    ngx_http_oauth2_ctx_t *ctx, ngx_http_oauth2_provider_t *p);
static ngx_uint_t ngx_http_oauth2_form_wanted(ngx_http_request_t *r,
    ngx_http_oauth2_provider_t *p);
static void ngx_http_oauth2_form_body(ngx_http_request_t *r);
static void ngx_http_oauth2_form_take(ngx_http_request_t *r,
    ngx_http_oauth2_ctx_t *ctx);
static ngx_int_t ngx_http_oauth2_form_refuse(ngx_http_request_t *r,
    ngx_http_oauth2_provider_t *p, const char *why);
static ngx_int_t ngx_http_oauth2_form_value(ngx_pool_t *pool,
    ngx_str_t *form, const char *name, ngx_str_t *value);


ngx_int_t
ngx_http_oauth2_form_post(ngx_http_request_t *r,
    ngx_http_oauth2_provider_t *p)
{
    ngx_http_oauth2_ctx_t  *ctx;

    ctx = ngx_http_oauth2_get_ctx(r, 1);

    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->form_reading) {
        /* run again while nginx reads the body */
        return NGX_AGAIN;
    }

    if (ctx->form_body && !ctx->form_have) {

        if (ctx->form.data == NULL) {
            return ngx_http_oauth2_form_refuse(r, p, "too large a form");
        }

        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->form_have) {

        /* the provider chosen by the form's state may be a query one */

        if (p->response_mode != NGX_HTTP_OAUTH2_RESPONSE_FORM) {
            return ngx_http_oauth2_form_refuse(r, p, "a POST, but the "
                                              "provider's response_mode "
                                              "is query");
        }

        return NGX_OK;
    }

    if (r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD)) {

        if (p->response_mode == NGX_HTTP_OAUTH2_RESPONSE_FORM) {
            return ngx_http_oauth2_form_refuse(r, p, "a GET, but the "
                                              "provider's response_mode "
                                              "is form_post");
        }

        return NGX_OK;
    }

    if (r->method == NGX_HTTP_POST && ngx_http_oauth2_form_wanted(r, p)) {
        return ngx_http_oauth2_form_start(r, ctx, p);
    }

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_HTTP_NOT_ALLOWED;
}


/* a provider of this callback path takes POSTs (providers may share it) */

static ngx_uint_t
ngx_http_oauth2_form_wanted(ngx_http_request_t *r,
    ngx_http_oauth2_provider_t *p)
{
    ngx_uint_t                    i;
    ngx_http_oauth2_provider_t  **pp;
    ngx_http_oauth2_main_conf_t  *omcf;

    omcf = ngx_http_get_module_main_conf(r, ngx_http_oauth2_module);
    pp = omcf->providers.elts;

    for (i = 0; i < omcf->providers.nelts; i++) {
        if (pp[i]->response_mode == NGX_HTTP_OAUTH2_RESPONSE_FORM
            && pp[i]->redirect_path.len == p->redirect_path.len
            && ngx_strncmp(pp[i]->redirect_path.data, p->redirect_path.data,
                           p->redirect_path.len)
               == 0)
        {
            return 1;
        }
    }

    return 0;
}


static ngx_int_t
ngx_http_oauth2_form_start(ngx_http_request_t *r, ngx_http_oauth2_ctx_t *ctx,
    ngx_http_oauth2_provider_t *p)
{
    ngx_int_t   rc;
    ngx_str_t  *ct;

    ct = r->headers_in.content_type ? &r->headers_in.content_type->value
                                     : NULL;

    if (ct == NULL
        || ct->len < sizeof("application/x-www-form-urlencoded") - 1
        || ngx_strncasecmp(ct->data,
                           (u_char *) "application/x-www-form-urlencoded",
                           sizeof("application/x-www-form-urlencoded") - 1)
           != 0
        || (ct->len > sizeof("application/x-www-form-urlencoded") - 1
            && ct->data[sizeof("application/x-www-form-urlencoded") - 1]
               != ';'
            && ct->data[sizeof("application/x-www-form-urlencoded") - 1]
               != ' '))
    {
        return ngx_http_oauth2_form_refuse(r, p, "not a form "
                                           "(application/x-www-form-"
                                           "urlencoded)");
    }

    if (r->headers_in.content_length_n > NGX_HTTP_OAUTH2_FORM_MAX_BODY) {
        return ngx_http_oauth2_form_refuse(r, p, "too large a form");
    }

    ctx->form_reading = 1;

    r->request_body_in_single_buf = 1;

    rc = ngx_http_read_client_request_body(r, ngx_http_oauth2_form_body);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        ctx->form_reading = 0;
        return rc;
    }

    /* the body handler wakes the request (perhaps already did) */

    ngx_http_finalize_request(r, NGX_DONE);

    return NGX_DONE;
}


static void
ngx_http_oauth2_form_body(ngx_http_request_t *r)
{
    ngx_http_oauth2_ctx_t  *ctx;

    ctx = ngx_http_oauth2_get_ctx(r, 0);

    ctx->form_reading = 0;
    ctx->form_body = 1;

    /* before the callback's provider is chosen by the form's state */

    ngx_http_oauth2_form_take(r, ctx);

    /* called from within ngx_http_read_client_request_body() when the
     * body came with the headers: nothing runs here */

    ngx_http_oauth2_wake(r);
}


/*
 * The form into the context (form_have), the request's copy wiped.  A
 * form too large leaves ctx->form empty, an error sets its data only.
 */

static void
ngx_http_oauth2_form_take(ngx_http_request_t *r, ngx_http_oauth2_ctx_t *ctx)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    rc = NGX_OK;

    /* a form nginx wrote to a temporary file would leave the code on
     * disk: never read, refused as too large */

    if (r->request_body != NULL) {
        for (cl = r->request_body->bufs; cl; cl = cl->next) {
            if (!ngx_buf_in_memory(cl->buf)) {
                ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                              "oauth2: the form_post body was written to a "
                              "temporary file and is refused; raise "
                              "\"client_body_buffer_size\" to 16k for the "
                              "callback");
                rc = NGX_DECLINED;
                break;
            }
        }
    }

    if (rc == NGX_OK) {
        rc = ngx_http_oauth2_read_body(r, NGX_HTTP_OAUTH2_FORM_MAX_BODY,
                                       &ctx->form);
    }

    if (r->request_body != NULL) {
        for (cl = r->request_body->bufs; cl; cl = cl->next) {
            b = cl->buf;

            if (ngx_buf_in_memory(b) && b->pos != NULL) {
                ngx_explicit_memzero(b->pos, b->last - b->pos);
            }
        }

        r->request_body->bufs = NULL;
    }

    switch (rc) {

    case NGX_OK:
        ctx->form_have = 1;
        break;

    case NGX_DECLINED:
        ngx_str_null(&ctx->form);
        break;

    default:
        ctx->form.data = (u_char *) "";
        ctx->form.len = 0;
    }
}


static ngx_int_t
ngx_http_oauth2_form_refuse(ngx_http_request_t *r,
    ngx_http_oauth2_provider_t *p, const char *why)
{
    ngx_http_oauth2_ctx_t  *ctx;

    ctx = ngx_http_oauth2_get_ctx(r, 0);

    /* a body not read is discarded, or it would be taken for the next
     * request on the connection */

    if (!ctx->form_body
        && ngx_http_discard_request_body(r) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_oauth2_no_store(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "oauth2 provider \"%V\": callback refused: %s",
                  &p->name, why);

    return ngx_http_oauth2_fail(r, NGX_HTTP_OAUTH2_ERR_BAD_FORM, NULL);
}


ngx_int_t
ngx_http_oauth2_callback_param(ngx_http_request_t *r, const char *name,
    ngx_str_t *value)
{
    ngx_http_oauth2_ctx_t  *ctx;

    ctx = ngx_http_oauth2_get_ctx(r, 0);

    if (ctx != NULL && ctx->form_have) {
        return ngx_http_oauth2_form_value(r->pool, &ctx->form, name, value);
    }

    return ngx_http_oauth2_get_param(r, name, value);
}


/*
 * A form field as ngx_http_oauth2_get_param() takes a query argument:
 * the first of its name, "+" a space, percent-decoded, not empty, at most
 * NGX_HTTP_OAUTH2_MAX_PARAM bytes and without control characters
 */

static ngx_int_t
ngx_http_oauth2_form_value(ngx_pool_t *pool, ngx_str_t *form,
    const char *name, ngx_str_t *value)
{
    u_char  *p, *last, *end, *dst, *src, *raw;
    size_t   len, n;

    len = ngx_strlen(name);
    p = form->data;
    last = form->data + form->len;

    while (p < last) {
        end = ngx_strlchr(p, last, '&');
        if (end == NULL) {
            end = last;
        }

        if ((size_t) (end - p) > len && p[len] == '='
            && ngx_strncmp(p, name, len) == 0)
        {
            break;
        }

        p = end + 1;
    }

    if (p >= last) {
        return NGX_DECLINED;
    }

    p += len + 1;
    n = end - p;

    if (n == 0 || n > NGX_HTTP_OAUTH2_MAX_PARAM) {
        return NGX_DECLINED;
    }

    raw = ngx_pnalloc(pool, 2 * n);
    if (raw == NULL) {
        return NGX_ERROR;
    }

    for (dst = raw; p < end; p++) {
        *dst++ = (*p == '+') ? ' ' : *p;
    }

    src = raw;
    value->data = raw + n;
    dst = value->data;

    ngx_unescape_uri(&dst, &src, n, 0);

    value->len = dst - value->data;

    for (src = value->data; src < dst; src++) {
        if (*src < ' ' || *src == 0x7f) {
            return NGX_DECLINED;
        }
    }

    return value->len ? NGX_OK : NGX_DECLINED;
}
