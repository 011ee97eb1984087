
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * Test module for ngx_http_oauth2_http.c alone.  "oauth2_http_test" in a
 * location makes its content handler fetch the URL in the "url" argument
 * and answer with the results:
 *
 *   url=      the URL (escaped)
 *   post=     a form body: POST (escaped)
 *   auth=     an Authorization value (escaped)
 *   max=      max_size
 *   timeout=  timeout in ms;  ctimeout=  connect timeout in ms
 *   ca=       ca_file (escaped)
 *   chain=N   fetch the URL N more times, each started from the handler
 *             of the previous one
 *   url2=     also fetch this URL, in a pool of its own, at the same
 *             time; the handler of the first fetch destroys that pool
 *             (cancelling the second fetch if it still runs)
 *
 * With "loopback=URL" instead, it answers "loopback=0" or "loopback=1",
 * what ngx_http_oauth2_url_is_loopback() says of the URL.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_http.h"
#include "ngx_http_oauth2_metrics.h"
#include "ngx_http_oauth2_url.h"


typedef struct {
    ngx_http_request_t         *request;
    ngx_http_oauth2_fetch_t    *fetch;
    ngx_pool_t                 *pool2;
    ngx_http_oauth2_fetch_t    *fetch2;
    ngx_uint_t                  chain;
    ngx_uint_t                  done;
    ngx_uint_t                  failed;
    ngx_str_t                   result2;
    ngx_msec_t                  start;
} ngx_http_oauth2_test_ctx_t;


static char *ngx_http_oauth2_test(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_oauth2_test_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_oauth2_test_arg(ngx_http_request_t *r, char *name,
    ngx_str_t *value);
static ngx_int_t ngx_http_oauth2_test_loopback(ngx_http_request_t *r,
    ngx_str_t *url);
static void ngx_http_oauth2_test_done(ngx_http_oauth2_fetch_t *f);
static void ngx_http_oauth2_test_done2(ngx_http_oauth2_fetch_t *f);
static void ngx_http_oauth2_test_respond(ngx_http_oauth2_test_ctx_t *ctx);
static void ngx_http_oauth2_test_cleanup(void *data);
static ngx_int_t ngx_http_oauth2_test_init_process(ngx_cycle_t *cycle);
static void ngx_http_oauth2_test_exit_process(ngx_cycle_t *cycle);


static ngx_command_t  ngx_http_oauth2_test_commands[] = {

    { ngx_string("oauth2_http_test"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_oauth2_test,
      0,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_oauth2_test_module_ctx = {
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
};


ngx_module_t  ngx_http_oauth2_http_test_module = {
    NGX_MODULE_V1,
    &ngx_http_oauth2_test_module_ctx,
    ngx_http_oauth2_test_commands,
    NGX_HTTP_MODULE,
    NULL,
    NULL,
    ngx_http_oauth2_test_init_process,
    NULL,
    NULL,
    ngx_http_oauth2_test_exit_process,
    NULL,
    NGX_MODULE_V1_PADDING
};


static char *
ngx_http_oauth2_test(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_oauth2_test_handler;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_oauth2_test_arg(ngx_http_request_t *r, char *name, ngx_str_t *value)
{
    u_char     *dst, *src;
    ngx_str_t   v;

    if (ngx_http_arg(r, (u_char *) name, ngx_strlen(name), &v) != NGX_OK) {
        ngx_str_null(value);
        return NGX_DECLINED;
    }

    dst = ngx_pnalloc(r->pool, v.len + 1);
    if (dst == NULL) {
        return NGX_ERROR;
    }

    value->data = dst;
    src = v.data;

    ngx_unescape_uri(&dst, &src, v.len, 0);

    value->len = dst - value->data;
    *dst = '\0';

    return NGX_OK;
}


static ngx_int_t
ngx_http_oauth2_test_handler(ngx_http_request_t *r)
{
    ngx_int_t                    rc, n;
    ngx_str_t                    v, url2;
    ngx_pool_cleanup_t          *cln;
    ngx_http_oauth2_fetch_t     *f;
    ngx_http_oauth2_test_ctx_t  *ctx;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_oauth2_test_arg(r, "loopback", &v) == NGX_OK) {
        return ngx_http_oauth2_test_loopback(r, &v);
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_oauth2_test_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->request = r;
    ctx->start = ngx_current_msec;

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_oauth2_test_cleanup;
    cln->data = ctx;

    f = ngx_http_oauth2_fetch_create(r->pool, r->connection->log);
    if (f == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->fetch = f;

    if (ngx_http_oauth2_test_arg(r, "url", &f->url) != NGX_OK) {
        return NGX_HTTP_BAD_REQUEST;
    }

    if (ngx_http_oauth2_test_arg(r, "post", &v) == NGX_OK) {
        f->body = v;
    }

    (void) ngx_http_oauth2_test_arg(r, "auth", &f->authorization);
    (void) ngx_http_oauth2_test_arg(r, "ca", &f->ca_file);

    if (ngx_http_oauth2_test_arg(r, "max", &v) == NGX_OK) {
        n = ngx_atoi(v.data, v.len);
        f->max_size = (n == NGX_ERROR) ? 0 : (size_t) n;
    }

    if (ngx_http_oauth2_test_arg(r, "timeout", &v) == NGX_OK) {
        n = ngx_atoi(v.data, v.len);
        f->timeout = (n == NGX_ERROR) ? 0 : (ngx_msec_t) n;
    }

    if (ngx_http_oauth2_test_arg(r, "ctimeout", &v) == NGX_OK) {
        n = ngx_atoi(v.data, v.len);
        f->connect_timeout = (n == NGX_ERROR) ? 0 : (ngx_msec_t) n;
    }

    if (ngx_http_oauth2_test_arg(r, "chain", &v) == NGX_OK) {
        n = ngx_atoi(v.data, v.len);
        ctx->chain = (n == NGX_ERROR) ? 0 : (ngx_uint_t) n;
    }

    ngx_str_set(&f->provider, "test");
    f->endpoint = "test";
    f->handler = ngx_http_oauth2_test_done;
    f->data = ctx;

    if (ngx_http_oauth2_fetch_start(f) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_oauth2_test_arg(r, "url2", &url2) == NGX_OK) {
        ctx->pool2 = ngx_create_pool(1024, r->connection->log);
        if (ctx->pool2 == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ctx->fetch2 = ngx_http_oauth2_fetch_create(ctx->pool2,
                                                   r->connection->log);
        if (ctx->fetch2 == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ctx->fetch2->url = url2;
        ctx->fetch2->handler = ngx_http_oauth2_test_done2;
        ctx->fetch2->data = ctx;
        ngx_str_set(&ctx->result2, "running");

        if (ngx_http_oauth2_fetch_start(ctx->fetch2) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    /* a client that goes away ends the request and so the fetch */
    r->read_event_handler = ngx_http_test_reading;

    r->main->count++;

    return NGX_DONE;
}


static ngx_int_t
ngx_http_oauth2_test_loopback(ngx_http_request_t *r, ngx_str_t *url)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    b = ngx_create_temp_buf(r->pool, sizeof("loopback=1\n") - 1);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_sprintf(b->last, "loopback=%i\n",
                          ngx_http_oauth2_url_is_loopback(url));
    b->last_buf = 1;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


static void
ngx_http_oauth2_test_done2(ngx_http_oauth2_fetch_t *f)
{
    ngx_http_oauth2_test_ctx_t *ctx = f->data;

    if (f->rc == NGX_OK) {
        ngx_str_set(&ctx->result2, "done");

    } else {
        ngx_str_set(&ctx->result2, "failed");
    }
}


static void
ngx_http_oauth2_test_done(ngx_http_oauth2_fetch_t *f)
{
    ngx_http_oauth2_test_ctx_t *ctx = f->data;

    ctx->done++;

    if (f->rc != NGX_OK) {
        ctx->failed++;
    }

    if (ctx->pool2 != NULL) {
        if (ctx->fetch2->running) {
            ngx_str_set(&ctx->result2, "cancelled");
        }

        /* cancels the second fetch if it still runs */
        ngx_destroy_pool(ctx->pool2);
        ctx->pool2 = NULL;
    }

    if (ctx->chain > 0) {
        ctx->chain--;

        if (ngx_http_oauth2_fetch_start(f) == NGX_OK) {
            return;
        }

        ctx->failed++;
    }

    ngx_http_oauth2_test_respond(ctx);
}


static void
ngx_http_oauth2_test_respond(ngx_http_oauth2_test_ctx_t *ctx)
{
    size_t                    len;
    ngx_int_t                 rc;
    ngx_buf_t                *b;
    ngx_chain_t               out;
    ngx_connection_t         *c;
    ngx_http_request_t       *r;
    ngx_http_oauth2_fetch_t  *f;

    r = ctx->request;
    c = r->connection;
    f = ctx->fetch;

    len = 512 + f->content_type.len + f->response.len + ngx_strlen(f->detail)
          + ctx->result2.len;

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        ngx_http_run_posted_requests(c);
        return;
    }

    b->last = ngx_slprintf(b->last, b->end,
                           "rc=%i status=%ui error=%s detail=%s "
                           "elapsed=%M total=%M done=%ui failed=%ui "
                           "second=%V ct=%V len=%uz\n",
                           f->rc, f->status, f->error ? f->error : "-",
                           f->detail, f->elapsed,
                           ngx_current_msec - ctx->start,
                           ctx->done, ctx->failed, &ctx->result2,
                           &f->content_type, f->response.len);

    if (f->response.len < 4096) {
        b->last = ngx_cpymem(b->last, f->response.data, f->response.len);
    }

    b->last_buf = 1;
    b->last_in_chain = 1;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;
    ngx_str_set(&r->headers_out.content_type, "text/plain");

    rc = ngx_http_send_header(r);

    if (rc != NGX_ERROR && rc <= NGX_OK) {
        out.buf = b;
        out.next = NULL;
        rc = ngx_http_output_filter(r, &out);
    }

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


/* the second fetch must not outlive the request */

static void
ngx_http_oauth2_test_cleanup(void *data)
{
    ngx_http_oauth2_test_ctx_t *ctx = data;

    if (ctx->pool2 != NULL) {
        ngx_destroy_pool(ctx->pool2);
        ctx->pool2 = NULL;
    }
}


static ngx_int_t
ngx_http_oauth2_test_init_process(ngx_cycle_t *cycle)
{
    return ngx_http_oauth2_http_init_process(cycle);
}


static void
ngx_http_oauth2_test_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_oauth2_http_exit_process(cycle);
}


/* the module's counters are not part of this test: count nothing */

void
ngx_http_oauth2_metrics_call(ngx_str_t *provider, const char *endpoint,
    ngx_uint_t outcome, ngx_msec_t elapsed)
{
    (void) provider;
    (void) endpoint;
    (void) outcome;
    (void) elapsed;
}
