
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * The session as variables.  Each getter opens the session cookie on
 * first use if the access phase has not done it yet, so the variables
 * also work in the rewrite phase ("if", "set", "map").
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_module.h"
#include "ngx_http_oauth2_codec.h"
#include "ngx_http_oauth2_ctx.h"
#include "ngx_http_oauth2_reply.h"
#include "ngx_http_oauth2_session.h"
#include "ngx_http_oauth2_variables.h"


#define NGX_HTTP_OAUTH2_VAR_SUB           0
#define NGX_HTTP_OAUTH2_VAR_ACCESS_TOKEN  1
#define NGX_HTTP_OAUTH2_VAR_ID_TOKEN      2
#define NGX_HTTP_OAUTH2_VAR_EXPIRES_IN    3
#define NGX_HTTP_OAUTH2_VAR_PROVIDER      4
#define NGX_HTTP_OAUTH2_VAR_EMAIL         5
#define NGX_HTTP_OAUTH2_VAR_ERROR         6
#define NGX_HTTP_OAUTH2_VAR_SCOPE         7
#define NGX_HTTP_OAUTH2_VAR_CLIENT_ID     8
#define NGX_HTTP_OAUTH2_VAR_AUTH_TYPE     9


static ngx_int_t ngx_http_oauth2_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_oauth2_error_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_oauth2_claim_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_oauth2_set_value(ngx_http_variable_value_t *v,
    ngx_str_t *value);


static ngx_http_variable_t  ngx_http_oauth2_vars[] = {

    { ngx_string("oauth2_claim_"), NULL, ngx_http_oauth2_claim_variable,
      0, NGX_HTTP_VAR_PREFIX|NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("oauth2_email"), NULL, ngx_http_oauth2_variable,
      NGX_HTTP_OAUTH2_VAR_EMAIL, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("oauth2_sub"), NULL, ngx_http_oauth2_variable,
      NGX_HTTP_OAUTH2_VAR_SUB, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("oauth2_access_token"), NULL, ngx_http_oauth2_variable,
      NGX_HTTP_OAUTH2_VAR_ACCESS_TOKEN, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("oauth2_id_token"), NULL, ngx_http_oauth2_variable,
      NGX_HTTP_OAUTH2_VAR_ID_TOKEN, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("oauth2_expires_in"), NULL, ngx_http_oauth2_variable,
      NGX_HTTP_OAUTH2_VAR_EXPIRES_IN, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("oauth2_provider"), NULL, ngx_http_oauth2_variable,
      NGX_HTTP_OAUTH2_VAR_PROVIDER, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("oauth2_scope"), NULL, ngx_http_oauth2_variable,
      NGX_HTTP_OAUTH2_VAR_SCOPE, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("oauth2_client_id"), NULL, ngx_http_oauth2_variable,
      NGX_HTTP_OAUTH2_VAR_CLIENT_ID, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("oauth2_auth_type"), NULL, ngx_http_oauth2_variable,
      NGX_HTTP_OAUTH2_VAR_AUTH_TYPE, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("oauth2_error"), NULL, ngx_http_oauth2_error_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


ngx_int_t
ngx_http_oauth2_register_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_oauth2_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_oauth2_variable(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    u_char                 *p;
    time_t                  left;
    ngx_str_t               value;
    ngx_http_oauth2_ctx_t  *ctx;

    ctx = ngx_http_oauth2_get_session(r);

    if (ctx == NULL || !ctx->session_valid) {
        v->not_found = 1;
        return NGX_OK;
    }

    switch (data) {

    case NGX_HTTP_OAUTH2_VAR_SUB:
        value = ctx->session.sub;
        break;

    case NGX_HTTP_OAUTH2_VAR_EMAIL:
        value = ctx->session.email;
        break;

    case NGX_HTTP_OAUTH2_VAR_ACCESS_TOKEN:
        value = ctx->session.access_token;
        break;

    case NGX_HTTP_OAUTH2_VAR_ID_TOKEN:
        value = ctx->session.id_token;
        break;

    case NGX_HTTP_OAUTH2_VAR_PROVIDER:
        value = ctx->provider->name;
        break;

    /* an access token's own scope and client; for a session, what the
     * login asked and the module's client */

    case NGX_HTTP_OAUTH2_VAR_SCOPE:
        value = ctx->bearer ? ctx->scope : ctx->provider->scope;
        break;

    case NGX_HTTP_OAUTH2_VAR_CLIENT_ID:
        value = ctx->bearer ? ctx->client_id : ctx->provider->client_id;
        break;

    case NGX_HTTP_OAUTH2_VAR_AUTH_TYPE:
        if (ctx->bearer) {
            ngx_str_set(&value, "bearer");

        } else {
            ngx_str_set(&value, "cookie");
        }

        break;

    default: /* NGX_HTTP_OAUTH2_VAR_EXPIRES_IN */

        left = ctx->session.access_expires ? ctx->session.access_expires
                                           : ctx->session.expires;
        left -= ngx_time();

        if (left < 0) {
            left = 0;
        }

        p = ngx_pnalloc(r->pool, NGX_TIME_T_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        value.data = p;
        value.len = ngx_sprintf(p, "%T", left) - p;
        break;
    }

    return ngx_http_oauth2_set_value(v, &value);
}


static ngx_int_t
ngx_http_oauth2_claim_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t *name = (ngx_str_t *) data;

    u_char                   *p, *last, *out;
    size_t                    len;
    ngx_str_t                 element, value;
    ngx_uint_t                i, n;
    ngx_http_oauth2_ctx_t    *ctx;
    ngx_http_oauth2_claim_t  *claim;

    ctx = ngx_http_oauth2_get_session(r);

    if (ctx == NULL || !ctx->session_valid) {
        v->not_found = 1;
        return NGX_OK;
    }

    len = sizeof("oauth2_claim_") - 1;
    claim = ctx->session.claims.elts;

    for (i = 0; i < ctx->session.claims.nelts; i++) {
        if (claim[i].name.len == name->len - len
            && ngx_strncmp(claim[i].name.data, name->data + len,
                           name->len - len)
               == 0)
        {
            break;
        }
    }

    if (i == ctx->session.claims.nelts) {
        v->not_found = 1;
        return NGX_OK;
    }

    if (claim[i].type != NGX_HTTP_OAUTH2_CLAIM_ARRAY) {
        return ngx_http_oauth2_set_value(v, &claim[i].value);
    }

    /* an array: its elements joined with "," (oauth2_require never
     * splits it again) */

    last = claim[i].value.data + claim[i].value.len;
    len = 0;

    for (p = claim[i].value.data;
         ngx_http_oauth2_claim_element(&p, last, &element) == NGX_OK;
         /* void */)
    {
        len += element.len + 1;
    }

    value.len = len ? len - 1 : 0;
    value.data = ngx_pnalloc(r->pool, len + 1);
    if (value.data == NULL) {
        return NGX_ERROR;
    }

    out = value.data;

    for (p = claim[i].value.data, n = 0;
         ngx_http_oauth2_claim_element(&p, last, &element) == NGX_OK;
         n++)
    {
        if (n > 0) {
            *out++ = ',';
        }

        out = ngx_cpymem(out, element.data, element.len);
    }

    return ngx_http_oauth2_set_value(v, &value);
}


static ngx_int_t
ngx_http_oauth2_set_value(ngx_http_variable_value_t *v, ngx_str_t *value)
{
    if (value->len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = value->len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = value->data;

    return NGX_OK;
}


/* $oauth2_error: why the module refused the request, empty if it did not */

static ngx_int_t
ngx_http_oauth2_error_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    return ngx_http_oauth2_set_value(v, ngx_http_oauth2_error(r));
}
