
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * The callback (the path of the provider's redirect_uri, whatever location
 * it falls in) is a small state machine kept in the request's context:
 *
 *   start         check state against its cookie, the provider's error
 *                 and iss parameters; POST the code to the token endpoint
 *   token_done    read the token response; for OpenID Connect wait for
 *                 the JWKS
 *   verify        verify the ID token (an unknown kid waits for one
 *                 JWKS refetch, put off until jwks_min_refresh allows
 *                 it); fetch userinfo with "userinfo on", for plain
 *                 OAuth 2.0, and with "userinfo auto" when the ID token
 *                 lacks a claim the configuration uses
 *   userinfo_done check userinfo (its sub must be the ID token's)
 *   emails_done   GitHub: the primary verified address
 *   finish        seal the session cookie, 302 to the return URL
 *
 * Every network step returns NGX_AGAIN; the fetch's completion wakes the
 * request (posts it: its phases run again from the event loop, see
 * ngx_http_oauth2_park.c) and this handler resumes where it was.
 * A request that goes away meanwhile destroys its pool, which cancels the
 * fetch, so no completion ever sees a freed request.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <openssl/crypto.h>

#include "ngx_http_oauth2_module.h"
#include "ngx_http_oauth2_codec.h"
#include "ngx_http_oauth2_cookie.h"
#include "ngx_http_oauth2_ctx.h"
#include "ngx_http_oauth2_form_post.h"
#include "ngx_http_oauth2_json.h"
#include "ngx_http_oauth2_jwt.h"
#include "ngx_http_oauth2_login.h"
#include "ngx_http_oauth2_metrics.h"
#include "ngx_http_oauth2_park.h"
#include "ngx_http_oauth2_provider.h"
#include "ngx_http_oauth2_reply.h"
#include "ngx_http_oauth2_request.h"
#include "ngx_http_oauth2_session.h"
#include "ngx_http_oauth2_seal.h"
#include "ngx_http_oauth2_token.h"
#include "ngx_http_oauth2_url.h"
#include "ngx_http_oauth2_callback.h"


static ngx_int_t ngx_http_oauth2_callback_start(ngx_http_request_t *r,
    ngx_http_oauth2_ctx_t *ctx, ngx_http_oauth2_loc_conf_t *olcf);
static ngx_int_t ngx_http_oauth2_token_request(ngx_http_request_t *r,
    ngx_http_oauth2_ctx_t *ctx, ngx_str_t *code, ngx_str_t *redirect_uri);
static ngx_int_t ngx_http_oauth2_start_fetch(ngx_http_request_t *r,
    ngx_http_oauth2_ctx_t *ctx, const char *endpoint, ngx_str_t *url);
static void ngx_http_oauth2_fetch_done(ngx_http_oauth2_fetch_t *f);
static ngx_int_t ngx_http_oauth2_fetch_failed(ngx_http_request_t *r,
    ngx_http_oauth2_ctx_t *ctx);
static ngx_int_t ngx_http_oauth2_token_response(ngx_http_request_t *r,
    ngx_http_oauth2_ctx_t *ctx);
static ngx_int_t ngx_http_oauth2_verify(ngx_http_request_t *r,
    ngx_http_oauth2_ctx_t *ctx);
static ngx_int_t ngx_http_oauth2_userinfo_request(ngx_http_request_t *r,
    ngx_http_oauth2_ctx_t *ctx, ngx_str_t *url);
static ngx_int_t ngx_http_oauth2_userinfo_response(ngx_http_request_t *r,
    ngx_http_oauth2_ctx_t *ctx);
static ngx_int_t ngx_http_oauth2_emails_response(ngx_http_request_t *r,
    ngx_http_oauth2_ctx_t *ctx);
static ngx_int_t ngx_http_oauth2_finish(ngx_http_request_t *r,
    ngx_http_oauth2_ctx_t *ctx, ngx_http_oauth2_loc_conf_t *olcf);
static ngx_int_t ngx_http_oauth2_claim(ngx_http_request_t *r,
    ngx_http_oauth2_ctx_t *ctx, ngx_http_oauth2_claim_t *claim);
static void ngx_http_oauth2_verified_email(ngx_http_request_t *r,
    ngx_http_oauth2_ctx_t *ctx, ngx_str_t *email);


/*
 * The provider whose redirect_uri path this request is for.  Providers
 * may share the path (the default /oauth2/callback): then the one with a
 * state cookie for this state wins.
 */

ngx_http_oauth2_provider_t *
ngx_http_oauth2_callback_provider(ngx_http_request_t *r,
    ngx_http_oauth2_main_conf_t *omcf)
{
    ngx_str_t                     state, name, value;
    ngx_uint_t                    i;
    ngx_http_oauth2_provider_t  **pp, *first;

    pp = omcf->providers.elts;
    first = NULL;

    for (i = 0; i < omcf->providers.nelts; i++) {
        if (r->uri.len != pp[i]->redirect_path.len
            || ngx_strncmp(r->uri.data, pp[i]->redirect_path.data,
                           r->uri.len)
               != 0)
        {
            continue;
        }

        if (first == NULL) {
            first = pp[i];

            if (!omcf->shared_redirect) {
                return first;
            }

            if (ngx_http_oauth2_callback_param(r, "state", &state)
                != NGX_OK
                || state.len < 8)
            {
                return first;
            }
        }

        if (ngx_http_oauth2_state_cookie_name(r->pool, pp[i], &state, &name)
            != NGX_OK)
        {
            return first;
        }

        if (ngx_http_oauth2_cookie_get(r, &name, &value, NULL) == NGX_OK) {
            return pp[i];
        }
    }

    return first;
}


ngx_int_t
ngx_http_oauth2_callback(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf, ngx_http_oauth2_provider_t *p)
{
    ngx_int_t               rc;
    ngx_http_oauth2_ctx_t  *ctx;

    ctx = ngx_http_oauth2_get_ctx(r, 1);

    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->provider == NULL) {
        rc = ngx_http_oauth2_form_post(r, p);

        if (rc != NGX_OK) {
            return rc;
        }
    }

    if (ctx->provider != p) {
        ctx->provider = p;
        ctx->callback = 1;
        ctx->phase = ngx_http_oauth2_cb_start;

        if (ngx_http_oauth2_redact_request_line(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    for ( ;; ) {

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "oauth2 callback phase %d", (int) ctx->phase);

        switch (ctx->phase) {

        case ngx_http_oauth2_cb_start:
            rc = ngx_http_oauth2_callback_start(r, ctx, olcf);
            break;

        case ngx_http_oauth2_cb_token:
        case ngx_http_oauth2_cb_userinfo:
        case ngx_http_oauth2_cb_emails:
            /* woken without the fetch having ended: keep waiting */
            return NGX_AGAIN;

        case ngx_http_oauth2_cb_token_done:
            rc = ngx_http_oauth2_token_response(r, ctx);
            break;

        case ngx_http_oauth2_cb_verify:
            rc = ngx_http_oauth2_verify(r, ctx);
            break;

        case ngx_http_oauth2_cb_userinfo_done:
            rc = ngx_http_oauth2_userinfo_response(r, ctx);
            break;

        case ngx_http_oauth2_cb_emails_done:
            rc = ngx_http_oauth2_emails_response(r, ctx);
            break;

        default: /* ngx_http_oauth2_cb_finish */
            return ngx_http_oauth2_finish(r, ctx, olcf);
        }

        if (rc != NGX_OK) {
            return rc;
        }
    }
}


static ngx_int_t
ngx_http_oauth2_callback_start(ngx_http_request_t *r,
    ngx_http_oauth2_ctx_t *ctx, ngx_http_oauth2_loc_conf_t *olcf)
{
    u_char                      *s;
    ngx_int_t                    rc;
    ngx_str_t                    state, code, error, iss, name, value;
    ngx_str_t                    plain, empty, redirect_uri, detail;
    ngx_uint_t                   index, valid, have_iss;
    ngx_http_oauth2_provider_t  *p;

    p = ctx->provider;

    if (ngx_http_oauth2_no_store(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_oauth2_callback_param(r, "state", &state) != NGX_OK
        || state.len < 8)
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "oauth2 provider \"%V\": callback without a valid "
                      "\"state\"", &p->name);
        return ngx_http_oauth2_fail(r, NGX_HTTP_OAUTH2_ERR_INCOMPLETE, NULL);
    }

    /* the state cookie is named after the state's first characters */

    if (ngx_http_oauth2_state_cookie_name(r->pool, p, &state, &name)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    valid = 0;

    for (s = state.data; s < state.data + 8; s++) {
        if (!(isalnum(*s) || *s == '-' || *s == '_')) {
            goto bad_state;
        }
    }

    if (ngx_http_oauth2_cookie_get(r, &name, &value, NULL) == NGX_OK
        && ngx_http_oauth2_open(r->pool, olcf->keys,
                                NGX_HTTP_OAUTH2_SEAL_STATE, &name, &value,
                                &plain, &index)
           == NGX_OK
        && ngx_http_oauth2_state_decode(r->pool, &plain, &ctx->login)
           == NGX_OK
        && ctx->login.state.len == state.len
        && CRYPTO_memcmp(ctx->login.state.data, state.data, state.len) == 0)
    {
        valid = 1;
    }

    /* used once, whatever happens next */

    ngx_str_null(&empty);

    if (ngx_http_oauth2_cookie_set(r, &name, &empty, 0,
                                   ngx_http_oauth2_state_cookie_flags(r, olcf,
                                                                      p),
                                   &olcf->cookie_domain)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (!valid) {
        goto bad_state;
    }

    if (ctx->login.created + NGX_HTTP_OAUTH2_STATE_TTL < ngx_time()) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "oauth2 provider \"%V\": callback state expired",
                      &p->name);
        return ngx_http_oauth2_fail(r, NGX_HTTP_OAUTH2_ERR_STATE_EXPIRED, NULL);
    }

    rc = ngx_http_oauth2_callback_param(r, "error", &error);

    if (rc == NGX_OK) {
        for (s = error.data; s < error.data + error.len; s++) {
            if (!(isalnum(*s) || *s == '_' || *s == '-' || *s == '.')) {
                ngx_str_set(&error, "invalid");
                break;
            }
        }

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "oauth2 provider \"%V\" returned error \"%V\"",
                      &p->name, &error);

        detail = error;

        return ngx_http_oauth2_fail(r,
                                    (error.len == sizeof("access_denied") - 1
                                     && ngx_strncmp(error.data,
                                                    "access_denied",
                                                    error.len) == 0)
                                    ? NGX_HTTP_OAUTH2_ERR_DENIED
                                    : NGX_HTTP_OAUTH2_ERR_PROVIDER_ERROR,
                                    &detail);
    }

    /* RFC 9207: a response that names its issuer must name ours */

    have_iss = 0;

    if (ngx_http_oauth2_callback_param(r, "iss", &iss) == NGX_OK) {
        have_iss = 1;

        if (p->issuer.len == 0
            || ngx_http_oauth2_issuer_match(&p->issuer, &iss, NULL)
               != NGX_OK)
        {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "oauth2 provider \"%V\": the callback's \"iss\" "
                          "is not the provider's issuer (mix-up?)",
                          &p->name);
            return ngx_http_oauth2_fail(r, NGX_HTTP_OAUTH2_ERR_ISSUER, NULL);
        }
    }

    if (ngx_http_oauth2_callback_param(r, "code", &code) != NGX_OK) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "oauth2 provider \"%V\": callback without \"code\"",
                      &p->name);
        return ngx_http_oauth2_fail(r, NGX_HTTP_OAUTH2_ERR_INCOMPLETE, NULL);
    }

    rc = ngx_http_oauth2_park_provider(r, p, NGX_HTTP_OAUTH2_NEED_METADATA);

    if (rc == NGX_AGAIN) {
        return NGX_AGAIN;
    }

    if (rc != NGX_OK) {
        return ngx_http_oauth2_fail(r, NGX_HTTP_OAUTH2_ERR_UNAVAILABLE, NULL);
    }

    /* a provider that says it names itself in every response must */

    if (!have_iss && ngx_http_oauth2_provider_metadata(p)->iss_parameter) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oauth2 provider \"%V\": the callback has no \"iss\" "
                      "though the provider promises it (RFC 9207; "
                      "mix-up?)", &p->name);
        return ngx_http_oauth2_fail(r, NGX_HTTP_OAUTH2_ERR_ISSUER, NULL);
    }

    rc = ngx_http_oauth2_redirect_uri(r, p, &redirect_uri);

    if (rc != NGX_OK) {
        return ngx_http_oauth2_host_failed(r, rc);
    }

    return ngx_http_oauth2_token_request(r, ctx, &code, &redirect_uri);

bad_state:

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "oauth2 provider \"%V\": callback state does not match "
                  "a login started in this browser", &p->name);

    return ngx_http_oauth2_fail(r, NGX_HTTP_OAUTH2_ERR_STATE, NULL);
}


static ngx_int_t
ngx_http_oauth2_token_request(ngx_http_request_t *r,
    ngx_http_oauth2_ctx_t *ctx, ngx_str_t *code, ngx_str_t *redirect_uri)
{
    ngx_str_t                    grant;
    ngx_http_oauth2_param_t      params[5];
    ngx_http_oauth2_metadata_t  *md;
    ngx_http_oauth2_provider_t  *p;

    p = ctx->provider;
    md = ngx_http_oauth2_provider_metadata(p);

    if (ngx_http_oauth2_start_fetch(r, ctx, "token", &md->token_endpoint)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_str_set(&grant, "authorization_code");

    params[0].name = "grant_type";
    params[0].value = &grant;
    params[1].name = "code";
    params[1].value = code;
    params[2].name = "redirect_uri";
    params[2].value = redirect_uri;
    params[3].name = "code_verifier";
    params[3].value = &ctx->login.verifier;
    params[4].name = NULL;

    if (ngx_http_oauth2_client_request(r->pool, p, params, ctx->fetch)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (p->preset == NGX_HTTP_OAUTH2_PRESET_GITHUB) {
        ngx_str_set(&ctx->fetch->accept, "application/json");
    }

    ctx->phase = ngx_http_oauth2_cb_token;

    if (ngx_http_oauth2_fetch_start(ctx->fetch) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oauth2 provider \"%V\": cannot start the token "
                      "request", &p->name);
        return ngx_http_oauth2_fail(r, NGX_HTTP_OAUTH2_ERR_UNAVAILABLE, NULL);
    }

    return NGX_AGAIN;
}


static ngx_int_t
ngx_http_oauth2_start_fetch(ngx_http_request_t *r, ngx_http_oauth2_ctx_t *ctx,
    const char *endpoint, ngx_str_t *url)
{
    ngx_http_oauth2_fetch_t     *f;
    ngx_http_oauth2_provider_t  *p;

    p = ctx->provider;

    f = ngx_http_oauth2_provider_fetch(r->pool, r->connection->log, p,
                                       endpoint);
    if (f == NULL) {
        return NGX_ERROR;
    }

    f->url = *url;
    f->handler = ngx_http_oauth2_fetch_done;
    f->data = r;

    ctx->fetch = f;

    return NGX_OK;
}


static void
ngx_http_oauth2_fetch_done(ngx_http_oauth2_fetch_t *f)
{
    ngx_http_request_t *r = f->data;

    ngx_http_oauth2_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_oauth2_module);

    switch (ctx->phase) {

    case ngx_http_oauth2_cb_token:
        ctx->phase = ngx_http_oauth2_cb_token_done;
        break;

    case ngx_http_oauth2_cb_userinfo:
        ctx->phase = ngx_http_oauth2_cb_userinfo_done;
        break;

    case ngx_http_oauth2_cb_emails:
        ctx->phase = ngx_http_oauth2_cb_emails_done;
        break;

    default:
        break;
    }

    ngx_http_oauth2_wake(r);
}


/* one error line naming provider, endpoint and cause; a short page */

static ngx_int_t
ngx_http_oauth2_fetch_failed(ngx_http_request_t *r, ngx_http_oauth2_ctx_t *ctx)
{
    ngx_http_oauth2_fetch_t  *f;

    f = ctx->fetch;

    ngx_http_oauth2_provider_failed(f, r->connection->log, NULL, "");

    if (f->rc != NGX_OK) {
        return ngx_http_oauth2_fail(r, NGX_HTTP_OAUTH2_ERR_UNREACHABLE, NULL);
    }

    return ngx_http_oauth2_fail(r, NGX_HTTP_OAUTH2_ERR_FAILED, NULL);
}


static ngx_int_t
ngx_http_oauth2_token_response(ngx_http_request_t *r,
    ngx_http_oauth2_ctx_t *ctx)
{
    ngx_int_t                        rc;
    ngx_str_t                        expires;
    yajl_val                         doc;
    const char                      *err, *bad;
    ngx_http_oauth2_fetch_t         *f;
    ngx_http_oauth2_provider_t      *p;
    ngx_http_oauth2_token_fields_t   t;

    f = ctx->fetch;
    p = ctx->provider;

    if (f->rc != NGX_OK
        || (f->status != 200 && f->status != 400 && f->status != 401))
    {
        return ngx_http_oauth2_fetch_failed(r, ctx);
    }

    ngx_memzero(&t, sizeof(ngx_http_oauth2_token_fields_t));

    if (f->content_type.len >= sizeof("application/x-www-form-urlencoded") - 1
        && ngx_strncasecmp(f->content_type.data,
                           (u_char *) "application/x-www-form-urlencoded",
                           sizeof("application/x-www-form-urlencoded") - 1)
           == 0)
    {
        /* GitHub's default answer */

        (void) ngx_http_oauth2_form_param(r->pool, &f->response, "error",
                                          &t.error);
        (void) ngx_http_oauth2_form_param(r->pool, &f->response,
                                          "access_token", &t.access_token);
        (void) ngx_http_oauth2_form_param(r->pool, &f->response,
                                          "token_type", &t.token_type);
        (void) ngx_http_oauth2_form_param(r->pool, &f->response,
                                          "refresh_token", &t.refresh_token);

        if (ngx_http_oauth2_form_param(r->pool, &f->response, "expires_in",
                                       &expires)
            == NGX_OK)
        {
            rc = ngx_atoi(expires.data, expires.len);
            t.expires_in = (rc > 0 && rc < 10 * 365 * 86400) ? rc : 0;
        }

    } else {
        doc = ngx_http_oauth2_json_parse(r->pool, f->response.data,
                                         f->response.len, &err);

        if (doc == NULL || !YAJL_IS_OBJECT(doc)) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "oauth2 provider \"%V\": token response is not a "
                          "JSON object%s%s", &p->name,
                          doc == NULL ? ": " : "",
                          doc == NULL ? err : "");
            return ngx_http_oauth2_fail(r, NGX_HTTP_OAUTH2_ERR_FAILED, NULL);
        }

        ngx_http_oauth2_token_fields(doc, &t);
    }

    bad = ngx_http_oauth2_token_fields_invalid(&t);

    if (bad != NULL) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oauth2 provider \"%V\": token response with "
                      "control or non-ASCII characters in \"%s\"",
                      &p->name, bad);
        return ngx_http_oauth2_fail(r, NGX_HTTP_OAUTH2_ERR_FAILED, NULL);
    }

    ctx->access_token = t.access_token;
    ctx->refresh_token = t.refresh_token;
    ctx->id_token = t.id_token;
    ctx->expires_in = t.expires_in;

    if (t.error.len) {
        ngx_http_oauth2_error_code(&t.error);

        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oauth2 provider \"%V\": token request refused: "
                      "\"%V\"", &p->name, &t.error);

        return ngx_http_oauth2_fail(r, NGX_HTTP_OAUTH2_ERR_TOKEN, &t.error);
    }

    if (f->status != 200) {
        return ngx_http_oauth2_fetch_failed(r, ctx);
    }

    if (ctx->access_token.len == 0) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oauth2 provider \"%V\": token response without "
                      "\"access_token\"", &p->name);
        return ngx_http_oauth2_fail(r, NGX_HTTP_OAUTH2_ERR_FAILED, NULL);
    }

    if (!ngx_http_oauth2_bearer(&t.token_type)) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oauth2 provider \"%V\": unsupported token type",
                      &p->name);
        return ngx_http_oauth2_fail(r, NGX_HTTP_OAUTH2_ERR_FAILED, NULL);
    }

    if (!p->oidc) {
        ctx->phase = ngx_http_oauth2_cb_verify;
        return NGX_OK;
    }

    if (ctx->id_token.len == 0) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oauth2 provider \"%V\": token response without "
                      "\"id_token\"", &p->name);
        return ngx_http_oauth2_fail(r, NGX_HTTP_OAUTH2_ERR_FAILED, NULL);
    }

    if (ngx_http_oauth2_jwt_parse(r->pool, &ctx->id_token, &ctx->jwt, &err)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oauth2 provider \"%V\": invalid ID token: %s",
                      &p->name, err);
        return ngx_http_oauth2_fail(r, NGX_HTTP_OAUTH2_ERR_INVALID, NULL);
    }

    ctx->phase = ngx_http_oauth2_cb_verify;

    return NGX_OK;
}


static ngx_int_t
ngx_http_oauth2_verify(ngx_http_request_t *r, ngx_http_oauth2_ctx_t *ctx)
{
    ngx_int_t                       rc;
    const char                     *err;
    ngx_http_oauth2_provider_t     *p;
    ngx_http_oauth2_metadata_t     *md;
    ngx_http_oauth2_jwt_expect_t    expect;

    p = ctx->provider;
    md = ngx_http_oauth2_provider_metadata(p);

    if (!p->oidc) {
        return ngx_http_oauth2_userinfo_request(r, ctx,
                                                &md->userinfo_endpoint);
    }

    rc = ngx_http_oauth2_park_provider(r, p, NGX_HTTP_OAUTH2_NEED_JWKS);

    if (rc == NGX_AGAIN) {
        return NGX_AGAIN;
    }

    if (rc != NGX_OK) {
        return ngx_http_oauth2_fail(r, NGX_HTTP_OAUTH2_ERR_UNAVAILABLE, NULL);
    }

    rc = ngx_http_oauth2_jwt_verify(&ctx->jwt, ngx_http_oauth2_provider_keys(p),
                                    p->algs, &p->client_secret, &err);

    if (rc == NGX_AGAIN && !ctx->keys_refetched) {

        /* a kid we do not know: the provider may have rotated its keys;
         * the request waits for the refetch (at most jwks_min_refresh) */

        ctx->keys_refetched = 1;

        if (ngx_http_oauth2_park_keys(r, p) == NGX_AGAIN) {
            return NGX_AGAIN;
        }

        /* no refetch could start: the keys there are */

        rc = ngx_http_oauth2_jwt_verify(&ctx->jwt,
                                        ngx_http_oauth2_provider_keys(p),
                                        p->algs, &p->client_secret, &err);
    }

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oauth2 provider \"%V\": ID token rejected: %s",
                      &p->name, err);
        return ngx_http_oauth2_fail(r, NGX_HTTP_OAUTH2_ERR_INVALID, NULL);
    }

    expect.issuer = p->issuer;
    expect.client_id = p->client_id;
    expect.nonce = ctx->login.nonce;
    expect.now = ngx_time();
    expect.leeway = p->leeway;

    if (ngx_http_oauth2_jwt_check_id_token(&ctx->jwt, &expect, &err)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oauth2 provider \"%V\": ID token rejected: %s",
                      &p->name, err);
        return ngx_http_oauth2_fail(r, NGX_HTTP_OAUTH2_ERR_INVALID, NULL);
    }

    /* "userinfo auto": only when the ID token lacks a claim that the
     * configuration uses (set up by ngx_http_oauth2_module.c) */

    if (md->userinfo_endpoint.len
        && (p->userinfo == NGX_HTTP_OAUTH2_USERINFO_ON
            || (p->userinfo_claims != NULL
                && !ngx_http_oauth2_jwt_has_claims(&ctx->jwt,
                                                   p->userinfo_claims))))
    {
        return ngx_http_oauth2_userinfo_request(r, ctx,
                                                &md->userinfo_endpoint);
    }

    ctx->phase = ngx_http_oauth2_cb_finish;

    return NGX_OK;
}


static ngx_int_t
ngx_http_oauth2_userinfo_request(ngx_http_request_t *r,
    ngx_http_oauth2_ctx_t *ctx, ngx_str_t *url)
{
    u_char                   *s;
    ngx_http_oauth2_fetch_t  *f;

    if (url->len == 0) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oauth2 provider \"%V\": no userinfo endpoint",
                      &ctx->provider->name);
        return ngx_http_oauth2_fail(r, NGX_HTTP_OAUTH2_ERR_FAILED, NULL);
    }

    if (ngx_http_oauth2_start_fetch(r, ctx, "userinfo", url) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    f = ctx->fetch;

    f->authorization.len = sizeof("Bearer ") - 1 + ctx->access_token.len;
    f->authorization.data = ngx_pnalloc(r->pool, f->authorization.len);
    if (f->authorization.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    s = ngx_cpymem(f->authorization.data, "Bearer ", sizeof("Bearer ") - 1);
    ngx_memcpy(s, ctx->access_token.data, ctx->access_token.len);

    if (ctx->phase == ngx_http_oauth2_cb_userinfo_done) {
        f->endpoint = "emails";
        ctx->phase = ngx_http_oauth2_cb_emails;

    } else {
        ctx->phase = ngx_http_oauth2_cb_userinfo;
    }

    if (ngx_http_oauth2_fetch_start(f) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oauth2 provider \"%V\": cannot start the userinfo "
                      "request", &ctx->provider->name);
        return ngx_http_oauth2_fail(r, NGX_HTTP_OAUTH2_ERR_UNAVAILABLE, NULL);
    }

    return NGX_AGAIN;
}


static ngx_int_t
ngx_http_oauth2_userinfo_response(ngx_http_request_t *r,
    ngx_http_oauth2_ctx_t *ctx)
{
    int64_t                      id;
    ngx_str_t                    sub, idsub, url;
    yajl_val                     doc, v;
    const char                  *err;
    ngx_http_oauth2_fetch_t     *f;
    ngx_http_oauth2_provider_t  *p;

    f = ctx->fetch;
    p = ctx->provider;

    if (f->rc != NGX_OK || f->status != 200) {
        return ngx_http_oauth2_fetch_failed(r, ctx);
    }

    doc = ngx_http_oauth2_json_parse(r->pool, f->response.data,
                                     f->response.len, &err);

    if (doc == NULL || !YAJL_IS_OBJECT(doc)) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oauth2 provider \"%V\": userinfo response is not a "
                      "JSON object", &p->name);
        return ngx_http_oauth2_fail(r, NGX_HTTP_OAUTH2_ERR_FAILED, NULL);
    }

    ctx->userinfo = doc;

    if (p->oidc) {

        /* OpenID Connect Core 5.3.2: the same sub, or the response is not
         * about this user */

        if (ngx_http_oauth2_json_string(doc, "sub", &sub) != NGX_OK
            || ngx_http_oauth2_json_string(ctx->jwt.claims, "sub", &idsub)
               != NGX_OK
            || sub.len != idsub.len
            || ngx_strncmp(sub.data, idsub.data, sub.len) != 0)
        {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "oauth2 provider \"%V\": userinfo \"sub\" differs "
                          "from the ID token's", &p->name);
            return ngx_http_oauth2_fail(r, NGX_HTTP_OAUTH2_ERR_INVALID, NULL);
        }

        ctx->phase = ngx_http_oauth2_cb_finish;
        return NGX_OK;
    }

    /* plain OAuth 2.0: "sub", or GitHub's numeric "id" */

    if (ngx_http_oauth2_json_string(doc, "sub", &sub) != NGX_OK) {
        v = ngx_http_oauth2_json_get(doc, "id");

        if (v == NULL
            || (!YAJL_IS_STRING(v)
                && ngx_http_oauth2_json_int(doc, "id", &id) != NGX_OK)
            || ngx_http_oauth2_json_text(r->pool, v, &sub) != NGX_OK
            || sub.len == 0)
        {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "oauth2 provider \"%V\": userinfo response names "
                          "no user (no \"sub\" or \"id\")", &p->name);
            return ngx_http_oauth2_fail(r, NGX_HTTP_OAUTH2_ERR_FAILED, NULL);
        }
    }

    ctx->session.sub = sub;

    if (p->preset == NGX_HTTP_OAUTH2_PRESET_GITHUB) {

        /* /user says nothing of verification: ask for the primary
         * verified address */

        url.len = f->url.len + sizeof("/emails") - 1;
        url.data = ngx_pnalloc(r->pool, url.len);
        if (url.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_memcpy(ngx_cpymem(url.data, f->url.data, f->url.len),
                   "/emails", sizeof("/emails") - 1);

        return ngx_http_oauth2_userinfo_request(r, ctx, &url);
    }

    ctx->phase = ngx_http_oauth2_cb_finish;

    return NGX_OK;
}


static ngx_int_t
ngx_http_oauth2_emails_response(ngx_http_request_t *r,
    ngx_http_oauth2_ctx_t *ctx)
{
    size_t                    i;
    yajl_val                  doc, e, primary, verified;
    ngx_str_t                 email;
    const char               *err;
    ngx_http_oauth2_fetch_t  *f;

    f = ctx->fetch;

    ctx->phase = ngx_http_oauth2_cb_finish;

    if (f->rc != NGX_OK || f->status != 200) {
        /* no address is not a reason to refuse the login */
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "oauth2 provider \"%V\": the e-mail address list "
                      "could not be read", &ctx->provider->name);
        return NGX_OK;
    }

    doc = ngx_http_oauth2_json_parse(r->pool, f->response.data,
                                     f->response.len, &err);

    if (doc == NULL || !YAJL_IS_ARRAY(doc)) {
        return NGX_OK;
    }

    for (i = 0; i < doc->u.array.len; i++) {
        e = doc->u.array.values[i];

        primary = ngx_http_oauth2_json_get(e, "primary");
        verified = ngx_http_oauth2_json_get(e, "verified");

        if (primary != NULL && YAJL_IS_TRUE(primary)
            && verified != NULL && YAJL_IS_TRUE(verified)
            && ngx_http_oauth2_json_string(e, "email", &email) == NGX_OK)
        {
            ctx->email = email;
            break;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_oauth2_finish(ngx_http_request_t *r, ngx_http_oauth2_ctx_t *ctx,
    ngx_http_oauth2_loc_conf_t *olcf)
{
    time_t                        now;
    int64_t                       n;
    ngx_int_t                     rc;
    ngx_str_t                     url, *names;
    ngx_uint_t                    i;
    ngx_http_oauth2_claim_t      *claim;
    ngx_http_oauth2_provider_t   *p;
    ngx_http_oauth2_session_t    *s;
    ngx_http_oauth2_main_conf_t  *omcf;

    p = ctx->provider;
    s = &ctx->session;
    now = ngx_time();

    omcf = ngx_http_get_module_main_conf(r, ngx_http_oauth2_module);

    s->created = now;
    s->expires = now + (olcf->session_timeout ? olcf->session_timeout
                                              : p->session_lifetime);

    if (olcf->session_idle_timeout) {
        s->seen = now;
    }

    if (ctx->expires_in) {
        s->access_expires = now + ctx->expires_in;
    }

    if (p->oidc) {
        if (ngx_http_oauth2_json_string(ctx->jwt.claims, "sub", &s->sub)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        /* as verified: a fractional exp rounded down */

        if (ngx_http_oauth2_json_seconds(ctx->jwt.claims, "exp", 0, &n)
               == NGX_OK
            && (time_t) n < s->expires)
        {
            s->expires = (time_t) n;
        }

    } else if (s->access_expires && s->access_expires < s->expires) {
        s->expires = s->access_expires;
    }

    /*
     * the user's identifier goes to $oauth2_sub and into logs: a control
     * character in it is the provider's fault, and the login cannot do
     * without it
     */

    if (!ngx_http_oauth2_clean(s->sub.data, s->sub.len)) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oauth2 provider \"%V\": the user's \"sub\" holds a "
                      "control character", &p->name);
        return ngx_http_oauth2_fail(r, NGX_HTTP_OAUTH2_ERR_FAILED, NULL);
    }

    /* $oauth2_email: an address the provider says is verified */

    ngx_http_oauth2_verified_email(r, ctx, &s->email);

    if (!ngx_http_oauth2_clean(s->email.data, s->email.len)) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "oauth2 provider \"%V\": the verified e-mail address "
                      "holds a control character and is not kept", &p->name);
        ngx_str_null(&s->email);
    }

    if (ngx_array_init(&s->claims, r->pool,
                       omcf->claims.nelts ? omcf->claims.nelts : 1,
                       sizeof(ngx_http_oauth2_claim_t))
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    names = omcf->claims.elts;

    for (i = 0; i < omcf->claims.nelts; i++) {

        claim = ngx_array_push(&s->claims);
        if (claim == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        claim->name = names[i];

        rc = ngx_http_oauth2_claim(r, ctx, claim);

        if (rc == NGX_ERROR) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (rc != NGX_OK) {
            s->claims.nelts--;
        }
    }

    if (omcf->store_access_token) {
        s->access_token = ctx->access_token;
    }

    /* RP-initiated logout sends the ID token back as id_token_hint */

    if (omcf->store_id_token || (p->logout_path.len && p->oidc)) {
        s->id_token = ctx->id_token;
    }

    if (p->refresh) {
        s->refresh_token = ctx->refresh_token;
    }

    if (s->expires <= now) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oauth2 provider \"%V\": the session would expire at "
                      "once (clock skew?)", &p->name);
        return ngx_http_oauth2_fail(r, NGX_HTTP_OAUTH2_ERR_INVALID, NULL);
    }

    rc = ngx_http_oauth2_session_save(r, olcf, ctx);

    if (rc == NGX_DECLINED) {
        return ngx_http_oauth2_fail(r, NGX_HTTP_OAUTH2_ERR_TOO_LARGE, NULL);
    }

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oauth2 provider \"%V\": the session could not be "
                      "sealed", &p->name);
        return ngx_http_oauth2_fail(r, NGX_HTTP_OAUTH2_ERR_SEAL, NULL);
    }

    ngx_http_oauth2_metrics_count(p, NGX_HTTP_OAUTH2_M_LOGIN_COMPLETED);
    ngx_http_oauth2_session_audit(r, p, &s->sub, "logged in");

    /* the return URL was sealed by us, but check it again: a path on
     * this host, never "//host" or "/\host" */

    if (ngx_http_oauth2_local_url(r->pool, &ctx->login.return_url, &url)
        != NGX_OK)
    {
        ngx_str_set(&url, "/");
    }

    return ngx_http_oauth2_redirect(r, NGX_HTTP_MOVED_TEMPORARILY, &url);
}


/*
 * A claim with its type, from userinfo if it was asked, else from the ID
 * token: NGX_DECLINED if absent or null, or if it cannot be kept (an
 * object, an array of other than strings, a control character), which is
 * logged without the value
 */

static ngx_int_t
ngx_http_oauth2_claim(ngx_http_request_t *r, ngx_http_oauth2_ctx_t *ctx,
    ngx_http_oauth2_claim_t *claim)
{
    u_char      *key;
    yajl_val     v;
    ngx_int_t    rc;
    const char  *err;

    key = ngx_pnalloc(r->pool, claim->name.len + 1);
    if (key == NULL) {
        return NGX_ERROR;
    }

    ngx_cpystrn(key, claim->name.data, claim->name.len + 1);

    v = NULL;

    if (ctx->userinfo != NULL) {
        v = ngx_http_oauth2_json_get(ctx->userinfo, (char *) key);
    }

    if (v == NULL && ctx->jwt.claims != NULL) {
        v = ngx_http_oauth2_json_get(ctx->jwt.claims, (char *) key);
    }

    rc = ngx_http_oauth2_json_claim(r->pool, v, &claim->type, &claim->value,
                                    &err);

    if (err != NULL) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "oauth2 provider \"%V\": claim \"%V\"%s: %s",
                      &ctx->provider->name, &claim->name,
                      (rc == NGX_OK) ? "" : " is not kept", err);
    }

    return rc;
}


/*
 * The address for $oauth2_email: GitHub's primary verified one (from
 * /user/emails), or "email" from the first of userinfo and the ID token
 * that has one, if the same document has "email_verified" true (or
 * "true", as some providers write it)
 */

static void
ngx_http_oauth2_verified_email(ngx_http_request_t *r,
    ngx_http_oauth2_ctx_t *ctx, ngx_str_t *email)
{
    yajl_val   doc, verified;
    ngx_str_t  s;

    ngx_str_null(email);

    if (ctx->provider->preset == NGX_HTTP_OAUTH2_PRESET_GITHUB) {
        *email = ctx->email;
        return;
    }

    doc = ctx->userinfo;

    if (ngx_http_oauth2_json_get(doc, "email") == NULL) {
        doc = ctx->jwt.claims;
    }

    if (ngx_http_oauth2_json_string(doc, "email", email) != NGX_OK) {
        ngx_str_null(email);
        return;
    }

    verified = ngx_http_oauth2_json_get(doc, "email_verified");

    if (verified != NULL
        && (YAJL_IS_TRUE(verified)
            || (ngx_http_oauth2_json_string(doc, "email_verified", &s)
                == NGX_OK
                && s.len == 4 && ngx_strncmp(s.data, "true", 4) == 0)))
    {
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "oauth2 provider \"%V\": the e-mail address is not "
                   "verified", &ctx->provider->name);

    ngx_str_null(email);
}
