
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * Every answer the module writes itself: its short HTML pages, 401 with
 * WWW-Authenticate, the headers every page of the module carries
 * (no-store, no framing), and the Secure attribute of its cookies.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_module.h"
#include "ngx_http_oauth2_ctx.h"
#include "ngx_http_oauth2_metrics.h"
#include "ngx_http_oauth2_reply.h"


typedef struct {
    ngx_uint_t                      status;
    ngx_str_t                       reason;
    const char                     *title;
} ngx_http_oauth2_error_t;


static ngx_http_oauth2_error_t  ngx_http_oauth2_errors[] = {
    { NGX_HTTP_UNAUTHORIZED, ngx_string("no_session"), NULL },
    { NGX_HTTP_FORBIDDEN, ngx_string("forbidden"),
      "You are not allowed to see this page" },
    { NGX_HTTP_BAD_REQUEST, ngx_string("invalid_host"),
      "The request names no valid host" },
    { NGX_HTTP_BAD_REQUEST, ngx_string("incomplete_response"),
      "The login response is incomplete" },
    { NGX_HTTP_UNAUTHORIZED, ngx_string("state_mismatch"),
      "The login could not be completed: it was not "
      "started in this browser or has expired. Please try "
      "again" },
    { NGX_HTTP_UNAUTHORIZED, ngx_string("state_expired"),
      "The login took too long, please try again" },
    { NGX_HTTP_FORBIDDEN, ngx_string("access_denied"),
      "The login was refused by the provider" },
    { NGX_HTTP_UNAUTHORIZED, ngx_string("provider_error"),
      "The login was refused by the provider" },
    { NGX_HTTP_UNAUTHORIZED, ngx_string("issuer_mismatch"),
      "The login response came from the wrong provider" },
    { NGX_HTTP_SERVICE_UNAVAILABLE, ngx_string("provider_unavailable"),
      "The login service is unavailable" },
    { NGX_HTTP_BAD_GATEWAY, ngx_string("provider_unreachable"),
      "The login service did not answer" },
    { NGX_HTTP_BAD_GATEWAY, ngx_string("provider_failed"),
      "The login service failed" },
    { NGX_HTTP_UNAUTHORIZED, ngx_string("token_refused"),
      "The login could not be completed, please try again" },
    { NGX_HTTP_UNAUTHORIZED, ngx_string("login_invalid"),
      "The login could not be verified" },
    { NGX_HTTP_BAD_GATEWAY, ngx_string("session_too_large"),
      "The login could not be completed: the provider's "
      "answer is too large for a session" },
    { NGX_HTTP_SERVICE_UNAVAILABLE, ngx_string("session_failed"),
      "The login could not be completed, please try again" },
    { NGX_HTTP_FORBIDDEN, ngx_string("https_required"),
      "This login needs https" },
    { NGX_HTTP_BAD_REQUEST, ngx_string("invalid_response"),
      "The login response is not valid" },
    { NGX_HTTP_UNAUTHORIZED, ngx_string("no_token"), NULL },
    { NGX_HTTP_UNAUTHORIZED, ngx_string("invalid_token"), NULL },
    { NGX_HTTP_FORBIDDEN, ngx_string("insufficient_scope"), NULL },
    { NGX_HTTP_BAD_REQUEST, ngx_string("invalid_request"), NULL },
};



ngx_int_t
ngx_http_oauth2_fail(ngx_http_request_t *r, ngx_uint_t err, ngx_str_t *detail)
{
    ngx_uint_t                 i;
    ngx_http_err_page_t       *page;
    ngx_http_oauth2_ctx_t     *ctx;
    ngx_http_oauth2_error_t   *e;
    ngx_http_core_loc_conf_t  *clcf;

    e = &ngx_http_oauth2_errors[err];

    ctx = ngx_http_oauth2_get_ctx(r, 1);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->error = e->reason;

    if (ctx->callback && ctx->provider && err < NGX_HTTP_OAUTH2_M_REASONS) {
        ngx_http_oauth2_metrics_count(ctx->provider,
                                      NGX_HTTP_OAUTH2_M_LOGIN_FAILED + err);
    }

    /* what ngx_http_special_response_handler() will do with the status */

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (!r->error_page && clcf->error_pages != NULL && r->uri_changes != 0)
    {
        page = clcf->error_pages->elts;

        for (i = 0; i < clcf->error_pages->nelts; i++) {
            if (page[i].status == (ngx_int_t) e->status) {
                return e->status;
            }
        }
    }

    if (e->title == NULL) {
        return e->status;
    }

    return ngx_http_oauth2_page(r, e->status, e->title, detail);
}


ngx_str_t *
ngx_http_oauth2_error_reasons(ngx_pool_t *pool, ngx_uint_t *n)
{
    ngx_str_t   *reasons;
    ngx_uint_t   i;

    *n = sizeof(ngx_http_oauth2_errors) / sizeof(ngx_http_oauth2_error_t);

    reasons = ngx_palloc(pool, *n * sizeof(ngx_str_t));
    if (reasons == NULL) {
        return NULL;
    }

    for (i = 0; i < *n; i++) {
        reasons[i] = ngx_http_oauth2_errors[i].reason;
    }

    return reasons;
}


ngx_str_t *
ngx_http_oauth2_error(ngx_http_request_t *r)
{
    ngx_http_oauth2_ctx_t  *ctx;

    static ngx_str_t  none = ngx_null_string;

    ctx = ngx_http_oauth2_get_ctx(r, 0);

    return (ctx != NULL) ? &ctx->error : &none;
}


ngx_int_t
ngx_http_oauth2_unauthorized(ngx_http_request_t *r,
    ngx_http_oauth2_provider_t *p)
{
    u_char           *s;
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->value.len = sizeof("Bearer realm=\"\"") - 1 + p->name.len;
    h->value.data = ngx_pnalloc(r->pool, h->value.len);
    if (h->value.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    s = ngx_sprintf(h->value.data, "Bearer realm=\"%V\"", &p->name);
    h->value.len = s - h->value.data;

    h->hash = 1;
    ngx_str_set(&h->key, "WWW-Authenticate");

#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    r->headers_out.www_authenticate = h;

    return ngx_http_oauth2_fail(r, NGX_HTTP_OAUTH2_ERR_NO_SESSION, NULL);
}


ngx_int_t
ngx_http_oauth2_bearer_refuse(ngx_http_request_t *r,
    ngx_http_oauth2_provider_t *p, ngx_uint_t err, const char *description,
    ngx_str_t *scope)
{
    u_char           *s, *d;
    size_t            len, dlen;
    ngx_str_t        *reason;
    ngx_table_elt_t  *h;

    reason = &ngx_http_oauth2_errors[err].reason;
    dlen = (description != NULL) ? ngx_strlen(description) : 0;

    switch (err) {

    case NGX_HTTP_OAUTH2_ERR_NO_TOKEN:
        ngx_http_oauth2_metrics_count(p, NGX_HTTP_OAUTH2_M_BEARER_NO_TOKEN);
        break;

    case NGX_HTTP_OAUTH2_ERR_SCOPE:
        ngx_http_oauth2_metrics_count(p, NGX_HTTP_OAUTH2_M_BEARER_SCOPE);
        break;

    case NGX_HTTP_OAUTH2_ERR_BAD_REQUEST:
        ngx_http_oauth2_metrics_count(p, NGX_HTTP_OAUTH2_M_BEARER_MALFORMED);
        break;

    default:
        ngx_http_oauth2_metrics_count(p, NGX_HTTP_OAUTH2_M_BEARER_BAD_TOKEN);
    }

    len = sizeof("Bearer realm=\"\"") - 1 + p->name.len;

    if (err != NGX_HTTP_OAUTH2_ERR_NO_TOKEN) {
        len += sizeof(", error=\"\"") - 1 + reason->len;

        if (dlen) {
            len += sizeof(", error_description=\"\"") - 1 + dlen;
        }

        if (scope != NULL && scope->len) {
            len += sizeof(", scope=\"\"") - 1 + scope->len;
        }
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->value.data = ngx_pnalloc(r->pool, len);
    if (h->value.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    s = ngx_sprintf(h->value.data, "Bearer realm=\"%V\"", &p->name);

    if (err != NGX_HTTP_OAUTH2_ERR_NO_TOKEN) {
        s = ngx_sprintf(s, ", error=\"%V\"", reason);

        if (dlen) {
            s = ngx_cpymem(s, ", error_description=\"",
                           sizeof(", error_description=\"") - 1);

            /* RFC 6750, section 3: no '"' or '\' in a description */

            for (d = (u_char *) description; *d; d++) {
                *s++ = (*d == '"' || *d == '\\' || *d < 0x20 || *d > 0x7e)
                       ? '\'' : *d;
            }

            *s++ = '"';
        }

        if (scope != NULL && scope->len) {
            s = ngx_sprintf(s, ", scope=\"%V\"", scope);
        }
    }

    h->value.len = s - h->value.data;
    h->hash = 1;
    ngx_str_set(&h->key, "WWW-Authenticate");

#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    r->headers_out.www_authenticate = h;

    return ngx_http_oauth2_fail(r, err, NULL);
}


/* what an absolute_url() failure is answered with */

ngx_int_t
ngx_http_oauth2_host_failed(ngx_http_request_t *r, ngx_int_t rc)
{
    if (rc == NGX_DECLINED) {
        return ngx_http_oauth2_fail(r, NGX_HTTP_OAUTH2_ERR_HOST, NULL);
    }

    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}


ngx_int_t
ngx_http_oauth2_page(ngx_http_request_t *r, ngx_uint_t status,
    const char *title, ngx_str_t *detail)
{
    u_char     *p;
    size_t      len, esc;
    ngx_buf_t  *b;

    esc = 0;
    len = sizeof("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
                 "<title></title></head>\n<body><h1></h1>\n</body></html>\n")
          - 1 + 2 * ngx_strlen(title);

    if (detail != NULL && detail->len) {
        esc = ngx_escape_html(NULL, detail->data, detail->len);
        len += sizeof("<p>Provider error: <code></code></p>\n") - 1
               + detail->len + esc;
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return NGX_DONE;
    }

    p = ngx_sprintf(b->last, "<!DOCTYPE html>\n<html><head><meta "
                    "charset=\"utf-8\"><title>%s</title></head>\n"
                    "<body><h1>%s</h1>\n", title, title);

    if (detail != NULL && detail->len) {
        p = ngx_cpymem(p, "<p>Provider error: <code>",
                       sizeof("<p>Provider error: <code>") - 1);
        p = (u_char *) ngx_escape_html(p, detail->data, detail->len);
        p = ngx_cpymem(p, "</code></p>\n", sizeof("</code></p>\n") - 1);
    }

    p = ngx_cpymem(p, "</body></html>\n", sizeof("</body></html>\n") - 1);

    b->last = p;

    return ngx_http_oauth2_send_html(r, status, b);
}


/* sends b as the whole HTML response, finalizes; NGX_DONE */

ngx_int_t
ngx_http_oauth2_send_html(ngx_http_request_t *r, ngx_uint_t status,
    ngx_buf_t *b)
{
    static ngx_str_t  html = ngx_string("text/html; charset=utf-8");

    return ngx_http_oauth2_send(r, status, &html, b);
}


ngx_int_t
ngx_http_oauth2_send(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *type, ngx_buf_t *b)
{
    u_char       *semicolon;
    ngx_int_t     rc;
    ngx_chain_t   out;

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        r->keepalive = 0;
    }

    r->headers_out.status = status;
    r->headers_out.content_length_n = (b != NULL) ? b->last - b->pos : 0;

    if (b != NULL) {
        b->last_buf = (r == r->main) ? 1 : 0;
        b->last_in_chain = 1;

        semicolon = ngx_strlchr(type->data, type->data + type->len, ';');

        r->headers_out.content_type = *type;
        r->headers_out.content_type_len = semicolon
                                           ? (size_t) (semicolon - type->data)
                                           : type->len;
        r->headers_out.content_type_lowcase = NULL;

    } else {
        r->header_only = 1;
    }

    ngx_http_clear_location(r);

    /* nothing of the module's may be cached or framed by another site */

    if (ngx_http_oauth2_no_store(r) != NGX_OK
        || ngx_http_oauth2_add_header(r, "X-Frame-Options", "DENY")
           != NGX_OK
        || ngx_http_oauth2_add_header(r, "Content-Security-Policy",
                                      "frame-ancestors 'none'")
           != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return NGX_DONE;
    }

    if (r->method == NGX_HTTP_HEAD && b != NULL) {
        b->pos = b->last;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        ngx_http_finalize_request(r, rc);
        return NGX_DONE;
    }

    out.buf = b;
    out.next = NULL;

    ngx_http_finalize_request(r, ngx_http_output_filter(r, &out));

    return NGX_DONE;
}


ngx_int_t
ngx_http_oauth2_no_store(ngx_http_request_t *r)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->headers_out.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].hash && h[i].key.len == sizeof("Cache-Control") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "Cache-Control",
                               h[i].key.len) == 0)
        {
            return NGX_OK;
        }
    }

    return ngx_http_oauth2_add_header(r, "Cache-Control", "no-store");
}


/* a response header with a static name and value */

ngx_int_t
ngx_http_oauth2_add_header(ngx_http_request_t *r, const char *name,
    const char *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) name;
    h->key.len = ngx_strlen(name);
    h->value.data = (u_char *) value;
    h->value.len = ngx_strlen(value);

#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    return NGX_OK;
}


ngx_uint_t
ngx_http_oauth2_secure(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf)
{
    if (olcf->cookie_secure != NGX_HTTP_OAUTH2_SECURE_AUTO) {
        return olcf->cookie_secure;
    }

#if (NGX_HTTP_SSL)
    if (r->connection->ssl) {
        return 1;
    }
#endif

    return 0;
}


ngx_int_t
ngx_http_oauth2_redirect(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *url)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Location");
    h->value = *url;

#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    ngx_http_clear_location(r);
    r->headers_out.location = h;

    if (ngx_http_oauth2_no_store(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return status;
}
