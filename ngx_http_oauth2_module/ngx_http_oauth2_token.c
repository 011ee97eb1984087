
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * The OAuth 2.0 protocol pieces that several calls share: the fields of
 * a token response and their checks, form and query parameters (encoding
 * and parsing), and client authentication: the one place that builds
 * it for every call (code exchange, refresh, revocation, introspection,
 * pushed authorization requests).  No request state.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_module.h"
#include "ngx_http_oauth2_assertion.h"
#include "ngx_http_oauth2_json.h"
#include "ngx_http_oauth2_http.h"
#include "ngx_http_oauth2_provider.h"
#include "ngx_http_oauth2_token.h"


static ngx_int_t ngx_http_oauth2_basic_auth(ngx_pool_t *pool,
    ngx_http_oauth2_provider_t *p, ngx_str_t *authorization);


static ngx_uint_t ngx_http_oauth2_printable(ngx_str_t *s);


size_t
ngx_http_oauth2_param_len(const char *name, ngx_str_t *value)
{
    return ngx_strlen(name) + 2 + value->len
           + 2 * ngx_escape_uri(NULL, value->data, value->len,
                                NGX_ESCAPE_URI_COMPONENT);
}


/* name=value&, the value percent-encoded */

u_char *
ngx_http_oauth2_add_param(u_char *p, const char *name, ngx_str_t *value)
{
    p = ngx_cpymem(p, name, ngx_strlen(name));
    *p++ = '=';
    p = (u_char *) ngx_escape_uri(p, value->data, value->len,
                                  NGX_ESCAPE_URI_COMPONENT);
    *p++ = '&';

    return p;
}


/*
 * The one place that authenticates the client (RFC 6749, 2.3; RFC 7523,
 * 2.2): client_secret_basic, client_secret_post, private_key_jwt or
 * client_secret_jwt, for every call that needs it.
 */

ngx_int_t
ngx_http_oauth2_client_request(ngx_pool_t *pool,
    ngx_http_oauth2_provider_t *p, ngx_http_oauth2_param_t *params,
    ngx_http_oauth2_fetch_t *f)
{
    u_char                      *s;
    size_t                       len;
    ngx_str_t                    type, assertion, *aud, *id;
    ngx_uint_t                   post;
    ngx_http_oauth2_param_t     *pm;
    ngx_http_oauth2_metadata_t  *md;

    ngx_str_null(&assertion);

    if (p->auth_method == NGX_HTTP_OAUTH2_AUTH_PRIVATE_KEY
        || p->auth_method == NGX_HTTP_OAUTH2_AUTH_SECRET_JWT)
    {
        /* a fresh assertion per call, for the token endpoint (RFC 7523,
         * 3: it identifies the authorization server) */

        md = ngx_http_oauth2_provider_metadata(p);

        aud = p->assertion_audience.len ? &p->assertion_audience
                                        : &md->token_endpoint;

        if (ngx_http_oauth2_assertion(pool, p->client_key,
                                      p->client_key_alg, &p->client_secret,
                                      &p->assertion_header, &p->client_id,
                                      aud,
                                      &assertion)
            != NGX_OK)
        {
            ngx_log_error(NGX_LOG_ALERT, f->log, 0,
                          "oauth2 provider \"%V\": cannot sign the client "
                          "assertion", &p->name);
            return NGX_ERROR;
        }

        post = 0;

    } else {
        post = (p->client_secret.len == 0
                || p->auth_method == NGX_HTTP_OAUTH2_AUTH_POST);
    }

    ngx_str_set(&type, NGX_HTTP_OAUTH2_ASSERTION_TYPE);

    /* client_id once: a pushed authorization request has it already */

    id = &p->client_id;
    len = 0;

    for (pm = params; pm->name != NULL; pm++) {
        if (pm->value != NULL) {
            len += ngx_http_oauth2_param_len(pm->name, pm->value);

            if (ngx_strcmp(pm->name, "client_id") == 0) {
                id = NULL;
            }
        }
    }

    if (id != NULL && (post || assertion.len)) {
        len += ngx_http_oauth2_param_len("client_id", id);
    }

    if (post) {
        len += ngx_http_oauth2_param_len("client_secret", &p->client_secret);

    } else if (assertion.len) {
        len += ngx_http_oauth2_param_len("client_assertion_type", &type)
               + ngx_http_oauth2_param_len("client_assertion", &assertion);
    }

    f->body.data = ngx_pnalloc(pool, len);
    if (f->body.data == NULL) {
        return NGX_ERROR;
    }

    s = f->body.data;

    for (pm = params; pm->name != NULL; pm++) {
        if (pm->value != NULL) {
            s = ngx_http_oauth2_add_param(s, pm->name, pm->value);
        }
    }

    if (id != NULL && (post || assertion.len)) {
        s = ngx_http_oauth2_add_param(s, "client_id", id);
    }

    if (post) {
        if (p->client_secret.len) {
            s = ngx_http_oauth2_add_param(s, "client_secret",
                                          &p->client_secret);
        }

    } else if (assertion.len) {
        s = ngx_http_oauth2_add_param(s, "client_assertion_type", &type);
        s = ngx_http_oauth2_add_param(s, "client_assertion", &assertion);

    } else if (ngx_http_oauth2_basic_auth(pool, p, &f->authorization)
               != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* no trailing "&" */
    f->body.len = s - f->body.data - 1;

    return NGX_OK;
}


ngx_int_t
ngx_http_oauth2_endpoint_url(ngx_pool_t *pool, ngx_str_t *endpoint,
    ngx_http_oauth2_param_t *params, ngx_str_t *extra, ngx_str_t *url)
{
    u_char                   *s;
    size_t                    len;
    ngx_http_oauth2_param_t  *pm;

    len = endpoint->len + 1 + extra->len + 1;

    for (pm = params; pm->name != NULL; pm++) {
        if (pm->value != NULL) {
            len += ngx_http_oauth2_param_len(pm->name, pm->value);
        }
    }

    url->data = ngx_pnalloc(pool, len);
    if (url->data == NULL) {
        return NGX_ERROR;
    }

    s = ngx_cpymem(url->data, endpoint->data, endpoint->len);

    *s++ = ngx_strlchr(endpoint->data, endpoint->data + endpoint->len, '?')
           ? '&' : '?';

    for (pm = params; pm->name != NULL; pm++) {
        if (pm->value != NULL) {
            s = ngx_http_oauth2_add_param(s, pm->name, pm->value);
        }
    }

    if (extra->len) {
        s = ngx_cpymem(s, extra->data, extra->len);
        *s++ = '&';
    }

    /* no trailing "&" (or "?" with no parameter at all) */
    url->len = s - url->data - 1;

    return NGX_OK;
}

/* RFC 6749 2.3.1: client id and secret form-encoded, then Basic */

static ngx_int_t
ngx_http_oauth2_basic_auth(ngx_pool_t *pool, ngx_http_oauth2_provider_t *p,
    ngx_str_t *authorization)
{
    u_char     *s;
    size_t      len;
    ngx_str_t   credentials, encoded;

    len = p->client_id.len + 1 + p->client_secret.len
          + 2 * ngx_escape_uri(NULL, p->client_id.data, p->client_id.len,
                               NGX_ESCAPE_URI_COMPONENT)
          + 2 * ngx_escape_uri(NULL, p->client_secret.data,
                               p->client_secret.len,
                               NGX_ESCAPE_URI_COMPONENT);

    credentials.data = ngx_pnalloc(pool, len);
    if (credentials.data == NULL) {
        return NGX_ERROR;
    }

    s = (u_char *) ngx_escape_uri(credentials.data, p->client_id.data,
                                  p->client_id.len, NGX_ESCAPE_URI_COMPONENT);
    *s++ = ':';
    s = (u_char *) ngx_escape_uri(s, p->client_secret.data,
                                  p->client_secret.len,
                                  NGX_ESCAPE_URI_COMPONENT);
    credentials.len = s - credentials.data;

    authorization->data = ngx_pnalloc(pool, sizeof("Basic ") - 1
                                      + ngx_base64_encoded_length(
                                            credentials.len));
    if (authorization->data == NULL) {
        return NGX_ERROR;
    }

    encoded.data = ngx_cpymem(authorization->data, "Basic ",
                              sizeof("Basic ") - 1);
    ngx_encode_base64(&encoded, &credentials);

    authorization->len = sizeof("Basic ") - 1 + encoded.len;

    ngx_explicit_memzero(credentials.data, credentials.len);

    return NGX_OK;
}


void
ngx_http_oauth2_token_fields(yajl_val doc, ngx_http_oauth2_token_fields_t *t)
{
    int64_t    n;
    ngx_int_t  rc;
    ngx_str_t  value;

    (void) ngx_http_oauth2_json_string(doc, "error", &t->error);
    (void) ngx_http_oauth2_json_string(doc, "access_token", &t->access_token);
    (void) ngx_http_oauth2_json_string(doc, "token_type", &t->token_type);
    (void) ngx_http_oauth2_json_string(doc, "refresh_token",
                                       &t->refresh_token);
    (void) ngx_http_oauth2_json_string(doc, "id_token", &t->id_token);

    /*
     * a number, a fraction rounded down (the session ends no later than
     * the token), or a string of digits as in a form-encoded answer;
     * anything else is as if absent
     */

    t->expires_in = 0;

    rc = ngx_http_oauth2_json_seconds(doc, "expires_in", 0, &n);

    if (rc == NGX_ERROR
        && ngx_http_oauth2_json_string(doc, "expires_in", &value) == NGX_OK)
    {
        n = ngx_atotm(value.data, value.len);
        rc = (n == NGX_ERROR) ? NGX_ERROR : NGX_OK;
    }

    if (rc == NGX_OK && n > 0 && n < 10 * 365 * 86400) {
        t->expires_in = (time_t) n;
    }
}


/*
 * Tokens are passed on in headers ($oauth2_access_token, the refresh and
 * revocation requests): RFC 6749 (appendix A) allows only printable ASCII
 * in them, and a CR or LF would split the header.  The name of the first
 * token that is not, or NULL.
 */

const char *
ngx_http_oauth2_token_fields_invalid(ngx_http_oauth2_token_fields_t *t)
{
    if (!ngx_http_oauth2_printable(&t->access_token)) {
        return "access_token";
    }

    if (!ngx_http_oauth2_printable(&t->refresh_token)) {
        return "refresh_token";
    }

    if (!ngx_http_oauth2_printable(&t->id_token)) {
        return "id_token";
    }

    return NULL;
}


static ngx_uint_t
ngx_http_oauth2_printable(ngx_str_t *s)
{
    u_char  *p, *last;

    last = s->data + s->len;

    for (p = s->data; p < last; p++) {
        if (*p < 0x20 || *p > 0x7e) {
            return 0;
        }
    }

    return 1;
}


ngx_uint_t
ngx_http_oauth2_bearer(ngx_str_t *token_type)
{
    return token_type->len == 0
           || (token_type->len == 6
               && ngx_strncasecmp(token_type->data, (u_char *) "bearer", 6)
                  == 0);
}


void
ngx_http_oauth2_error_code(ngx_str_t *error)
{
    u_char  *c;

    for (c = error->data; c < error->data + error->len; c++) {
        if (!(isalnum(*c) || *c == '_' || *c == '-')) {
            ngx_str_set(error, "invalid");
            return;
        }
    }
}


