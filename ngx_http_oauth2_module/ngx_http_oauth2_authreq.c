
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * The oauth2_bearer and oauth2_auth_request directives (their provider
 * names are looked up when the http block has been read), and the
 * content handler of oauth2_auth_request.  The access phase (or, for an
 * auth_request subrequest, the precontent phase) has already checked the
 * request's token or session and refused it if it had to: what reaches
 * this handler is answered 204 with the caller's identity in headers
 * (X-OAuth2-Sub, -Email, -Auth-Type, -Client-Id, -Scope), for
 * auth_request_set and for proxies with an external authorization call.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_module.h"
#include "ngx_http_oauth2_ctx.h"
#include "ngx_http_oauth2_reply.h"
#include "ngx_http_oauth2_authreq.h"


static ngx_int_t ngx_http_oauth2_auth_request_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_oauth2_identity_header(ngx_http_request_t *r,
    const char *name, ngx_str_t *value);


char *
ngx_http_oauth2_bearer_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_oauth2_loc_conf_t *olcf = conf;

    ngx_str_t  *value;

    if (olcf->bearer != NGX_CONF_UNSET_PTR || olcf->bearer_name.len) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 3 && ngx_strncmp(value[1].data, "off", 3) == 0) {
        olcf->bearer = NULL;
        return NGX_CONF_OK;
    }

    olcf->bearer_name = value[1];

    return NGX_CONF_OK;
}


char *
ngx_http_oauth2_auth_request_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_oauth2_loc_conf_t *olcf = conf;

    ngx_str_t                 *value;
    ngx_http_core_loc_conf_t  *clcf;

    if (olcf->auth_request_name.len) {
        return "is duplicate";
    }

    value = cf->args->elts;

    olcf->auth_request_name = value[1];

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_oauth2_auth_request_handler;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_oauth2_auth_request_handler(ngx_http_request_t *r)
{
    ngx_int_t                    rc;
    ngx_str_t                    type;
    ngx_http_oauth2_ctx_t       *ctx;
    ngx_http_oauth2_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_oauth2_module);

    if (olcf->auth_request == NULL) {
        return NGX_DECLINED;
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    ctx = (r == r->main) ? ngx_http_oauth2_get_ctx(r, 0)
                         : ngx_http_get_module_ctx(r, ngx_http_oauth2_module);

    if (ctx == NULL || !ctx->session_valid) {
        return ngx_http_oauth2_unauthorized(r, olcf->auth_request);
    }

    if (ctx->bearer) {
        ngx_str_set(&type, "bearer");

    } else {
        ngx_str_set(&type, "cookie");
    }

    if (ngx_http_oauth2_identity_header(r, "X-OAuth2-Sub",
                                        &ctx->session.sub) != NGX_OK
        || ngx_http_oauth2_identity_header(r, "X-OAuth2-Email",
                                           &ctx->session.email) != NGX_OK
        || ngx_http_oauth2_identity_header(r, "X-OAuth2-Auth-Type", &type)
           != NGX_OK
        || ngx_http_oauth2_identity_header(r, "X-OAuth2-Client-Id",
                                           &ctx->client_id) != NGX_OK
        || ngx_http_oauth2_identity_header(r, "X-OAuth2-Scope", &ctx->scope)
           != NGX_OK
        || ngx_http_oauth2_no_store(r) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = NGX_HTTP_NO_CONTENT;
    r->headers_out.content_length_n = 0;
    r->header_only = 1;

    return ngx_http_send_header(r);
}


/* a header of the answer, if the value is not empty; values hold no
 * control byte (checked where they entered) */

static ngx_int_t
ngx_http_oauth2_identity_header(ngx_http_request_t *r, const char *name,
    ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    if (value->len == 0) {
        return NGX_OK;
    }

    if (!ngx_http_oauth2_clean(value->data, value->len)) {
        return NGX_ERROR;
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) name;
    h->key.len = ngx_strlen(name);
    h->value = *value;

#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    return NGX_OK;
}
