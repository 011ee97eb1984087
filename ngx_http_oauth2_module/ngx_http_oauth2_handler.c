
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "ngx_http_oauth2_module.h"
#include "ngx_http_oauth2_handler.h"
#include "ngx_http_oauth2_json.h"
#include "ngx_http_oauth2_park.h"
#include "ngx_http_oauth2_provider.h"
#include "ngx_http_oauth2_url.h"


/*
 * The access phase.
 *
 * A request to a location with "oauth2 NAME" that carries a session cookie
 * which opens and has not expired passes (NGX_OK): this is the hot path,
 * one AES-GCM open and no allocation beyond the request's context.
 *
 * Without a session, a browser's page load is sent to the provider's
 * authorization endpoint (302) with a fresh state, nonce and PKCE
 * challenge, which travel with the return URL in a sealed state cookie
 * named after the state; anything else gets 401.
 *
 * The callback (the path of the provider's redirect_uri, whatever location
 * it falls in) is a small state machine kept in the request's context:
 *
 *   start         check state against its cookie, the provider's error
 *                 and iss parameters; POST the code to the token endpoint
 *   token_done    read the token response; for OpenID Connect wait for
 *                 the JWKS
 *   verify        verify the ID token (one JWKS refetch on an unknown
 *                 kid); fetch userinfo if configured or plain OAuth 2.0
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


#define NGX_HTTP_OAUTH2_STATE_TTL        600
/* what the session cookie leaves of large_client_header_buffers */
#define NGX_HTTP_OAUTH2_COOKIE_RESERVE   1024

#define NGX_HTTP_OAUTH2_MAX_STATES       5
#define NGX_HTTP_OAUTH2_RANDOM_LEN       32
#define NGX_HTTP_OAUTH2_MAX_PARAM        4096


typedef struct {
    ngx_str_t                       name;
    time_t                          created;
} ngx_http_oauth2_state_ref_t;


typedef struct {
    ngx_http_oauth2_loc_conf_t     *olcf;
    ngx_http_oauth2_provider_t     *provider;
    ngx_array_t                     states;
} ngx_http_oauth2_state_scan_t;


static ngx_int_t ngx_http_oauth2_access(ngx_http_request_t *r);
static void ngx_http_oauth2_ctx_cleanup(void *data);
static ngx_http_oauth2_provider_t *ngx_http_oauth2_callback_provider(
    ngx_http_request_t *r, ngx_http_oauth2_main_conf_t *omcf);
static ngx_int_t ngx_http_oauth2_open_session(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf, ngx_http_oauth2_ctx_t *ctx,
    ngx_http_oauth2_provider_t *p);
static ngx_int_t ngx_http_oauth2_require(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf, ngx_http_oauth2_ctx_t *ctx);
static ngx_int_t ngx_http_oauth2_require_match(ngx_http_request_t *r,
    ngx_http_oauth2_require_t *rule, ngx_str_t *value);
static ngx_int_t ngx_http_oauth2_unauthorized(ngx_http_request_t *r,
    ngx_http_oauth2_provider_t *p);
static ngx_int_t ngx_http_oauth2_unprotected(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf, ngx_http_oauth2_main_conf_t *omcf);
static ngx_int_t ngx_http_oauth2_strip_others(ngx_http_request_t *r,
    ngx_http_oauth2_main_conf_t *omcf, ngx_http_oauth2_provider_t *p);
static ngx_http_oauth2_provider_t *ngx_http_oauth2_chosen(
    ngx_http_request_t *r, ngx_http_oauth2_loc_conf_t *olcf);
static ngx_int_t ngx_http_oauth2_chooser(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf);
static ngx_int_t ngx_http_oauth2_request_url(ngx_http_request_t *r,
    ngx_str_t *url);
static ngx_int_t ngx_http_oauth2_login(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf, ngx_http_oauth2_provider_t *p);
static ngx_int_t ngx_http_oauth2_limit_states(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf, ngx_http_oauth2_provider_t *p);
static ngx_int_t ngx_http_oauth2_scan_state(ngx_http_request_t *r,
    ngx_str_t *name, ngx_str_t *value, void *data);
static ngx_int_t ngx_http_oauth2_redirect_uri(ngx_http_request_t *r,
    ngx_http_oauth2_provider_t *p, ngx_str_t *uri);
static ngx_int_t ngx_http_oauth2_request_host(ngx_http_request_t *r,
    ngx_str_t *host);
static ngx_uint_t ngx_http_oauth2_server_name_match(ngx_str_t *pattern,
    ngx_str_t *name);
static ngx_int_t ngx_http_oauth2_pkce_challenge(ngx_pool_t *pool,
    ngx_str_t *verifier, ngx_str_t *challenge);

static ngx_int_t ngx_http_oauth2_callback(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf, ngx_http_oauth2_provider_t *p);
static ngx_int_t ngx_http_oauth2_callback_start(ngx_http_request_t *r,
    ngx_http_oauth2_ctx_t *ctx, ngx_http_oauth2_loc_conf_t *olcf);
static ngx_int_t ngx_http_oauth2_redact_request_line(ngx_http_request_t *r);
static ngx_int_t ngx_http_oauth2_get_param(ngx_http_request_t *r,
    const char *name, ngx_str_t *value);
static ngx_int_t ngx_http_oauth2_token_request(ngx_http_request_t *r,
    ngx_http_oauth2_ctx_t *ctx, ngx_str_t *code, ngx_str_t *redirect_uri);
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
    ngx_http_oauth2_ctx_t *ctx, ngx_str_t *name, ngx_str_t *value);
static ngx_int_t ngx_http_oauth2_start_fetch(ngx_http_request_t *r,
    ngx_http_oauth2_ctx_t *ctx, const char *endpoint, ngx_str_t *url);
static void ngx_http_oauth2_fetch_done(ngx_http_oauth2_fetch_t *f);
static ngx_int_t ngx_http_oauth2_fetch_failed(ngx_http_request_t *r,
    ngx_http_oauth2_ctx_t *ctx);


ngx_int_t
ngx_http_oauth2_access_handler(ngx_http_request_t *r)
{
    ngx_int_t  rc;

    ngx_http_oauth2_unpark(r);

    rc = ngx_http_oauth2_access(r);

    if (rc == NGX_AGAIN && ngx_http_oauth2_park(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return rc;
}


static ngx_int_t
ngx_http_oauth2_access(ngx_http_request_t *r)
{
    ngx_int_t                     rc;
    ngx_uint_t                    i;
    ngx_http_oauth2_ctx_t        *ctx;
    ngx_http_oauth2_provider_t   *p, **pp;
    ngx_http_oauth2_loc_conf_t   *olcf;
    ngx_http_oauth2_main_conf_t  *omcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_oauth2_module);
    omcf = ngx_http_get_module_main_conf(r, ngx_http_oauth2_module);

    if (olcf->keys == NULL) {
        return ngx_http_oauth2_unprotected(r, olcf, omcf);
    }

    p = ngx_http_oauth2_callback_provider(r, omcf);

    if (p != NULL) {
        return ngx_http_oauth2_callback(r, olcf, p);
    }

    pp = omcf->providers.elts;

    for (i = 0; i < omcf->providers.nelts; i++) {
        if (pp[i]->logout_path.len == r->uri.len
            && ngx_strncmp(pp[i]->logout_path.data, r->uri.data, r->uri.len)
               == 0)
        {
            return ngx_http_oauth2_logout(r, olcf, pp[i]);
        }

        if (pp[i]->backchannel_path.len == r->uri.len
            && ngx_strncmp(pp[i]->backchannel_path.data, r->uri.data,
                           r->uri.len)
               == 0)
        {
            return ngx_http_oauth2_backchannel(r, olcf, pp[i]);
        }
    }

    p = olcf->provider;

    if (p == NULL) {
        return ngx_http_oauth2_unprotected(r, olcf, omcf);
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_oauth2_module);

    if (ctx != NULL && ctx->saved_cookies != NULL) {
        /* an unprotected location stripped them before an internal
         * redirect to this one */
        ngx_http_oauth2_cookie_swap(ctx->saved_cookies);
        ctx->saved_cookies = NULL;
    }

    ctx = ngx_http_oauth2_get_session(r);

    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ctx->provider;

    if (!ctx->session_valid && ctx->session_expired
        && ctx->session.refresh_token.len)
    {
        rc = ngx_http_oauth2_refresh(r, olcf, ctx);

        if (rc != NGX_OK && rc != NGX_DECLINED) {
            return rc;
        }
    }

    if (ctx->session_valid) {

        if (ctx->session_reseal) {
            ctx->session_reseal = 0;

            /* the cookie in hand still serves if this fails */

            if (ngx_http_oauth2_session_save(r, olcf, ctx) == NGX_ERROR) {
                ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                              "oauth2 provider \"%V\": the session could "
                              "not be sealed again", &p->name);
            }
        }

        if (olcf->require != NULL
            && ngx_http_oauth2_require(r, olcf, ctx) != NGX_OK)
        {
            return ngx_http_oauth2_page(r, NGX_HTTP_FORBIDDEN,
                                        "You are not allowed to see this "
                                        "page", NULL);
        }

        if (olcf->strip_cookies
            && (ngx_http_oauth2_cookie_strip(r, &p->cookie_name,
                                             &ctx->cookie_scan)
                != NGX_OK
                || ngx_http_oauth2_strip_others(r, omcf, p) != NGX_OK))
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return NGX_OK;
    }

    if (!ngx_http_oauth2_is_navigation(r)) {
        return ngx_http_oauth2_unauthorized(r, p);
    }

    if (olcf->choices != NULL) {
        p = ngx_http_oauth2_chosen(r, olcf);

        if (p == NULL) {
            return ngx_http_oauth2_chooser(r, olcf);
        }
    }

    return ngx_http_oauth2_login(r, olcf, p);
}


/*
 * A location the module does not protect still keeps the module's cookies
 * from its upstream (oauth2_strip_cookies): sealed sessions hold tokens.
 * The headers as they were are kept in the context, for an internal
 * redirect to a protected location.
 */

static ngx_int_t
ngx_http_oauth2_unprotected(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf, ngx_http_oauth2_main_conf_t *omcf)
{
    ngx_array_t            *saved;
    ngx_http_oauth2_ctx_t  *ctx;

    if (!olcf->strip_cookies) {
        return NGX_DECLINED;
    }

    if (ngx_http_oauth2_cookie_save(r, &saved) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (saved == NULL) {
        return NGX_DECLINED;
    }

    if (ngx_http_oauth2_strip_others(r, omcf, NULL) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (!ngx_http_oauth2_cookie_changed(saved)) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_oauth2_get_ctx(r, 1);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->saved_cookies == NULL) {
        ctx->saved_cookies = saved;
    }

    return NGX_DECLINED;
}


/* strips the cookies of every provider but p (NULL: of every one) */

static ngx_int_t
ngx_http_oauth2_strip_others(ngx_http_request_t *r,
    ngx_http_oauth2_main_conf_t *omcf, ngx_http_oauth2_provider_t *p)
{
    ngx_uint_t                    i;
    ngx_http_oauth2_provider_t  **pp;

    pp = omcf->providers.elts;

    for (i = 0; i < omcf->providers.nelts; i++) {
        if (pp[i] != p
            && ngx_http_oauth2_cookie_strip(r, &pp[i]->cookie_name, NULL)
               != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * nginx runs no access-phase handler for subrequests (auth_request, SSI
 * includes, add_before_body): a subrequest into a protected location is
 * checked here, in the precontent phase, and answered 401 (403 when an
 * oauth2_require rule fails) unless it carries a valid session.  It never
 * logs in, refreshes or redirects; that is the main request's part.  Its
 * headers are its parent's, so nothing is stripped here.
 */

ngx_int_t
ngx_http_oauth2_subrequest_handler(ngx_http_request_t *r)
{
    ngx_http_oauth2_ctx_t       *ctx, *mctx;
    ngx_http_oauth2_loc_conf_t  *olcf;

    if (r == r->main) {
        return NGX_DECLINED;
    }

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_oauth2_module);

    if (olcf->provider == NULL || olcf->keys == NULL) {
        return NGX_DECLINED;
    }

    /* its own context: a subrequest shares its parent's pool, where
     * ngx_http_oauth2_get_ctx() would find the parent's */

    ctx = ngx_http_get_module_ctx(r, ngx_http_oauth2_module);

    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_oauth2_ctx_t));
        if (ctx == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_http_set_ctx(r, ctx, ngx_http_oauth2_module);
    }

    /* the main request's location may have stripped the cookies */

    mctx = ngx_http_oauth2_get_ctx(r->main, 0);

    if (mctx != NULL && mctx->saved_cookies != NULL) {
        ngx_http_oauth2_cookie_swap(mctx->saved_cookies);
    }

    ctx = ngx_http_oauth2_get_session(r);

    if (mctx != NULL && mctx->saved_cookies != NULL) {
        ngx_http_oauth2_cookie_swap(mctx->saved_cookies);
    }

    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (!ctx->session_valid) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "oauth2: subrequest without a valid session");
        return ngx_http_oauth2_unauthorized(r, ctx->provider);
    }

    if (olcf->require != NULL
        && ngx_http_oauth2_require(r, olcf, ctx) != NGX_OK)
    {
        return NGX_HTTP_FORBIDDEN;
    }

    return NGX_DECLINED;
}


/*
 * A location that admits several providers asks the user which one: the
 * chooser page links to this same URL with "oauth2_provider=NAME" added
 * at the end of its arguments.
 */

static ngx_http_oauth2_provider_t *
ngx_http_oauth2_chosen(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf)
{
    ngx_str_t                     name;
    ngx_uint_t                    i;
    ngx_http_oauth2_provider_t  **pp;

    if (ngx_http_arg(r, (u_char *) "oauth2_provider",
                     sizeof("oauth2_provider") - 1, &name)
        != NGX_OK)
    {
        return NULL;
    }

    pp = olcf->choices->elts;

    for (i = 0; i < olcf->choices->nelts; i++) {
        if (pp[i]->name.len == name.len
            && ngx_strncmp(pp[i]->name.data, name.data, name.len) == 0)
        {
            return pp[i];
        }
    }

    return NULL;
}


static ngx_int_t
ngx_http_oauth2_chooser(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf)
{
    u_char                       *p;
    size_t                        len, uri;
    ngx_buf_t                    *b;
    ngx_str_t                     url;
    ngx_uint_t                    i, query;
    ngx_http_oauth2_provider_t  **pp;

    static u_char  head[] =
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
        "<title>Log in</title></head>\n<body><h1>Log in with</h1>\n<ul>\n";
    static u_char  tail[] = "</ul>\n</body></html>\n";

    pp = olcf->choices->elts;

    if (ngx_http_oauth2_request_url(r, &url) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    query = (ngx_strlchr(url.data, url.data + url.len, '?') != NULL);

    uri = url.len + ngx_escape_html(NULL, url.data, url.len);

    len = sizeof(head) - 1 + sizeof(tail) - 1;

    for (i = 0; i < olcf->choices->nelts; i++) {
        len += sizeof("<li><a href=\"&amp;oauth2_provider=\"></a></li>\n")
               - 1 + uri + 2 * pp[i]->name.len;
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(b->last, head, sizeof(head) - 1);

    for (i = 0; i < olcf->choices->nelts; i++) {
        p = ngx_cpymem(p, "<li><a href=\"", sizeof("<li><a href=\"") - 1);
        p = (u_char *) ngx_escape_html(p, url.data, url.len);

        if (query) {
            p = ngx_cpymem(p, "&amp;", sizeof("&amp;") - 1);

        } else {
            *p++ = '?';
        }

        p = ngx_sprintf(p, "oauth2_provider=%V\">%V</a></li>\n",
                        &pp[i]->name, &pp[i]->name);
    }

    p = ngx_cpymem(p, tail, sizeof(tail) - 1);

    b->last = p;

    return ngx_http_oauth2_send_html(r, NGX_HTTP_OK, b);
}


/*
 * This request's URL as a path on this host, to link or send the browser
 * back to: the URL as the browser sent it when it passes
 * ngx_http_oauth2_local_url(); else nginx's normalized path, escaped,
 * with the arguments (GET //evil.example/..%2Fmulti/ is /multi/ to nginx,
 * but a browser would read the raw form as another host); else "/".
 */

static ngx_int_t
ngx_http_oauth2_request_url(ngx_http_request_t *r, ngx_str_t *url)
{
    u_char     *p, *s, *last;
    ngx_int_t   rc;
    ngx_str_t   raw;

    static u_char  hex[] = "0123456789ABCDEF";

    rc = ngx_http_oauth2_local_url(r->pool, &r->unparsed_uri, url);

    if (rc != NGX_DECLINED) {
        return rc;
    }

    raw.data = ngx_pnalloc(r->pool, 3 * r->uri.len + 1 + r->args.len);
    if (raw.data == NULL) {
        return NGX_ERROR;
    }

    p = raw.data;
    last = r->uri.data + r->uri.len;

    for (s = r->uri.data; s < last; s++) {
        if (*s <= ' ' || *s >= 0x7f || *s == '\\' || *s == '%' || *s == '?'
            || *s == '#' || *s == '"' || *s == '<' || *s == '>'
            || *s == '\'')
        {
            *p++ = '%';
            *p++ = hex[*s >> 4];
            *p++ = hex[*s & 0xf];

        } else {
            *p++ = *s;
        }
    }

    if (r->args.len) {
        *p++ = '?';
        p = ngx_cpymem(p, r->args.data, r->args.len);
    }

    raw.len = p - raw.data;

    rc = ngx_http_oauth2_local_url(r->pool, &raw, url);

    if (rc == NGX_DECLINED) {
        ngx_str_set(url, "/");
        return NGX_OK;
    }

    return rc;
}


/*
 * The provider whose redirect_uri path this request is for.  Providers
 * may share the path (the default /oauth2/callback): then the one with a
 * state cookie for this state wins.
 */

static ngx_http_oauth2_provider_t *
ngx_http_oauth2_callback_provider(ngx_http_request_t *r,
    ngx_http_oauth2_main_conf_t *omcf)
{
    u_char                       *s;
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

            if (ngx_http_arg(r, (u_char *) "state", 5, &state) != NGX_OK
                || state.len < 8)
            {
                return first;
            }
        }

        name.len = pp[i]->state_cookie_name.len + 8;
        name.data = ngx_pnalloc(r->pool, name.len);
        if (name.data == NULL) {
            return first;
        }

        s = ngx_cpymem(name.data, pp[i]->state_cookie_name.data,
                       pp[i]->state_cookie_name.len);
        ngx_memcpy(s, state.data, 8);

        if (ngx_http_oauth2_cookie_get(r, &name, &value, NULL) == NGX_OK) {
            return pp[i];
        }
    }

    return first;
}


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


ngx_http_oauth2_ctx_t *
ngx_http_oauth2_get_session(ngx_http_request_t *r)
{
    ngx_uint_t                    i;
    ngx_http_oauth2_ctx_t        *ctx;
    ngx_http_oauth2_provider_t   *p, **pp;
    ngx_http_oauth2_loc_conf_t   *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_oauth2_module);

    ctx = ngx_http_oauth2_get_ctx(r, 1);

    if (ctx == NULL) {
        return NULL;
    }

    if (ctx->session_tried) {

        /* after an internal redirect the session opened before is reused
         * (its cookie may have been stripped since), unless the new
         * location wants another provider */

        if (olcf->provider == NULL || ctx->provider == olcf->provider)
        {
            return ctx;
        }

        if (olcf->choices != NULL) {
            pp = olcf->choices->elts;

            for (i = 0; i < olcf->choices->nelts; i++) {
                if (pp[i] == ctx->provider) {
                    return ctx;
                }
            }
        }

        ngx_memzero(&ctx->session, sizeof(ngx_http_oauth2_session_t));
        ctx->session_valid = 0;
        ctx->session_expired = 0;
        ctx->session_reseal = 0;
    }

    ctx->session_tried = 1;

    p = olcf->provider;

    if (p == NULL || olcf->keys == NULL) {
        return ctx;
    }

    ctx->provider = p;

    if (olcf->choices == NULL) {
        ngx_http_oauth2_open_session(r, olcf, ctx, p);
        return ctx;
    }

    /* a location that admits several providers: the first session found */

    pp = olcf->choices->elts;

    for (i = 0; i < olcf->choices->nelts; i++) {
        if (ngx_http_oauth2_open_session(r, olcf, ctx, pp[i]) == NGX_OK) {
            ctx->provider = pp[i];
            break;
        }

        ngx_memzero(&ctx->session, sizeof(ngx_http_oauth2_session_t));
        ctx->session_expired = 0;
        ctx->session_reseal = 0;
    }

    return ctx;
}


/*
 * Opens provider p's session cookie into ctx: NGX_OK if it opened (then
 * ctx->session_valid, or ctx->session_expired when it needs a refresh),
 * NGX_DECLINED if there is no usable session.
 */

static ngx_int_t
ngx_http_oauth2_open_session(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf, ngx_http_oauth2_ctx_t *ctx,
    ngx_http_oauth2_provider_t *p)
{
    time_t                        now, seen;
    ngx_int_t                     rc;
    ngx_str_t                     value;
    ngx_uint_t                    index;
    ngx_http_oauth2_main_conf_t  *omcf;

    if (ngx_http_oauth2_cookie_get(r, &p->cookie_name, &value,
                                   &ctx->cookie_scan)
        != NGX_OK)
    {
        return NGX_DECLINED;
    }

    omcf = ngx_http_get_module_main_conf(r, ngx_http_oauth2_module);

    rc = ngx_http_oauth2_session_open_cached(r->pool, omcf->session_cache,
                                             olcf->keys, &p->cookie_name,
                                             &value, &ctx->session, &index);

    if (rc == NGX_ABORT) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "oauth2: session cookie \"%V\" is malformed",
                      &p->cookie_name);
        return NGX_DECLINED;
    }

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "oauth2: session cookie \"%V\" does not open "
                      "(tampered, truncated or sealed with another secret)",
                      &p->cookie_name);
        return NGX_DECLINED;
    }

    if (ngx_http_oauth2_session_revoked(r, p, &ctx->session)) {
        return NGX_DECLINED;
    }

    if (index != 0) {
        /* opened with an older oauth2_cookie_secret: seal it anew */
        ctx->session_reseal = 1;
    }

    now = ngx_time();

    if (ctx->session.created + (olcf->session_timeout
                                ? olcf->session_timeout
                                : p->session_lifetime)
        <= now)
    {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "oauth2: session \"%V\" past its lifetime",
                       &p->cookie_name);
        return NGX_DECLINED;
    }

    if (olcf->session_idle_timeout) {
        seen = ctx->session.seen ? ctx->session.seen : ctx->session.created;

        if (seen + olcf->session_idle_timeout <= now) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "oauth2: session \"%V\" idle for too long",
                          &p->cookie_name);
            return NGX_DECLINED;
        }

        /* the activity is recorded at most once a minute */

        if (now - seen >= 60) {
            ctx->session.seen = now;
            ctx->session_reseal = 1;
        }
    }

    /* a session with a refresh token is refreshed a little early */

    if (ctx->session.expires
        <= now + (ctx->session.refresh_token.len ? p->refresh_margin : 0))
    {
        ctx->session_expired = 1;

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "oauth2: session \"%V\" expired", &p->cookie_name);

        return ctx->session.refresh_token.len ? NGX_OK : NGX_DECLINED;
    }

    ctx->session_valid = 1;

    return NGX_OK;
}


/* every oauth2_require rule of the location must hold */

static ngx_int_t
ngx_http_oauth2_require(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf, ngx_http_oauth2_ctx_t *ctx)
{
    u_char                     *p, *last, *comma;
    ngx_str_t                   element;
    ngx_uint_t                  i, j, matched;
    ngx_http_oauth2_claim_t    *claim;
    ngx_http_oauth2_require_t  *rule;

    rule = olcf->require->elts;
    claim = ctx->session.claims.elts;

    for (i = 0; i < olcf->require->nelts; i++) {

        matched = 0;

        for (j = 0; j < ctx->session.claims.nelts; j++) {

            if (claim[j].name.len != rule[i].claim.len
                || ngx_strncmp(claim[j].name.data, rule[i].claim.data,
                               rule[i].claim.len) != 0)
            {
                continue;
            }

            if (ngx_http_oauth2_require_match(r, &rule[i], &claim[j].value)
                == NGX_OK)
            {
                matched = 1;
                break;
            }

            /* an array is kept joined with commas: try each element */

            p = claim[j].value.data;
            last = p + claim[j].value.len;

            while (!matched && p < last) {
                comma = ngx_strlchr(p, last, ',');
                if (comma == NULL) {
                    comma = last;
                }

                element.data = p;
                element.len = comma - p;

                if (comma != last || p != claim[j].value.data) {
                    matched = (ngx_http_oauth2_require_match(r, &rule[i],
                                                             &element)
                               == NGX_OK);
                }

                p = comma + 1;
            }

            break;
        }

        if (!matched) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "oauth2: access denied: claim \"%V\" does not "
                          "satisfy \"oauth2_require %V %V\"",
                          &rule[i].claim, &rule[i].claim, &rule[i].value);
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_oauth2_require_match(ngx_http_request_t *r,
    ngx_http_oauth2_require_t *rule, ngx_str_t *value)
{
#if (NGX_PCRE)
    if (rule->regex != NULL) {
        return ngx_regex_exec(rule->regex, value, NULL, 0) >= 0
               ? NGX_OK : NGX_DECLINED;
    }
#endif

    if (value->len == rule->value.len
        && ngx_strncmp(value->data, rule->value.data, value->len) == 0)
    {
        return NGX_OK;
    }

    return NGX_DECLINED;
}


/*
 * A browser loading a page can be redirected to the provider; a script
 * (XHR, fetch), an API client or a WebSocket cannot follow that, and gets
 * 401 instead.
 */

ngx_uint_t
ngx_http_oauth2_is_navigation(ngx_http_request_t *r)
{
    ngx_uint_t        i;
    ngx_str_t        *accept;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return 0;
    }

    accept = NULL;

#if (NGX_HTTP_HEADERS)
    if (r->headers_in.accept) {
        accept = &r->headers_in.accept->value;
    }
#endif

    part = &r->headers_in.headers.part;
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

        if (h[i].key.len == sizeof("Sec-Fetch-Mode") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "Sec-Fetch-Mode",
                               h[i].key.len) == 0)
        {
            return h[i].value.len == sizeof("navigate") - 1
                   && ngx_strncasecmp(h[i].value.data, (u_char *) "navigate",
                                      h[i].value.len) == 0;
        }

        if (h[i].key.len == sizeof("X-Requested-With") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "X-Requested-With",
                               h[i].key.len) == 0)
        {
            return 0;
        }

        if (h[i].key.len == sizeof("Upgrade") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "Upgrade",
                               h[i].key.len) == 0)
        {
            return 0;
        }

        if (accept == NULL
            && h[i].key.len == sizeof("Accept") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "Accept",
                               h[i].key.len) == 0)
        {
            accept = &h[i].value;
        }
    }

    if (accept != NULL
        && ngx_strlcasestrn(accept->data, accept->data + accept->len,
                            (u_char *) "text/html", 9 - 1)
           == NULL
        && ngx_strlcasestrn(accept->data, accept->data + accept->len,
                            (u_char *) "application/json", 16 - 1)
           != NULL)
    {
        return 0;
    }

    return 1;
}


static ngx_int_t
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

    return NGX_HTTP_UNAUTHORIZED;
}


static ngx_int_t
ngx_http_oauth2_login(ngx_http_request_t *r, ngx_http_oauth2_loc_conf_t *olcf,
    ngx_http_oauth2_provider_t *p)
{
    u_char                         *s;
    size_t                          len;
    ngx_int_t                       rc;
    ngx_str_t                       plain, sealed, name, redirect_uri;
    ngx_str_t                       challenge, method, code, client_id;
    ngx_table_elt_t                *location;
    ngx_http_oauth2_metadata_t     *md;
    ngx_http_oauth2_login_state_t   st;

    rc = ngx_http_oauth2_provider_ready(r, p, NGX_HTTP_OAUTH2_NEED_METADATA);

    if (rc == NGX_AGAIN) {
        return NGX_AGAIN;
    }

    if (rc != NGX_OK) {
        return ngx_http_oauth2_page(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                    "The login service is unavailable",
                                    NULL);
    }

    md = ngx_http_oauth2_provider_metadata(p);

    rc = ngx_http_oauth2_redirect_uri(r, p, &redirect_uri);

    if (rc != NGX_OK) {
        return ngx_http_oauth2_host_failed(r, rc);
    }

    ngx_memzero(&st, sizeof(ngx_http_oauth2_login_state_t));

    st.created = ngx_time();

    if (ngx_http_oauth2_random(r->pool, &st.state) != NGX_OK
        || ngx_http_oauth2_random(r->pool, &st.nonce) != NGX_OK
        || ngx_http_oauth2_random(r->pool, &st.verifier) != NGX_OK
        || ngx_http_oauth2_pkce_challenge(r->pool, &st.verifier, &challenge)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the page to come back to: this request's own path and arguments,
     * so always a path on this host */

    if (ngx_http_oauth2_request_url(r, &st.return_url) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (olcf->choices != NULL) {
        /* without the chooser's "oauth2_provider=NAME" at the end */

        len = sizeof("oauth2_provider=") - 1 + p->name.len + 1;

        if (st.return_url.len > len
            && ngx_strncmp(st.return_url.data + st.return_url.len - len + 1,
                           "oauth2_provider=", sizeof("oauth2_provider=") - 1)
               == 0)
        {
            st.return_url.len -= len;
        }
    }

    if (ngx_http_oauth2_limit_states(r, olcf, p) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    name.len = p->state_cookie_name.len + 8;
    name.data = ngx_pnalloc(r->pool, name.len);
    if (name.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    s = ngx_cpymem(name.data, p->state_cookie_name.data,
                   p->state_cookie_name.len);
    ngx_memcpy(s, st.state.data, 8);

    if (ngx_http_oauth2_state_encode(r->pool, &st, &plain) != NGX_OK
        || ngx_http_oauth2_seal(r->pool, olcf->keys,
                                NGX_HTTP_OAUTH2_SEAL_STATE, &name, &plain,
                                &sealed)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_oauth2_cookie_set(r, &name, &sealed,
                                   NGX_HTTP_OAUTH2_STATE_TTL,
                                   ngx_http_oauth2_secure(r, olcf),
                                   &olcf->cookie_domain)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_str_set(&code, "code");
    ngx_str_set(&method, "S256");
    client_id = p->client_id;

    len = md->authorization_endpoint.len + 1
          + ngx_http_oauth2_param_len("response_type", &code)
          + ngx_http_oauth2_param_len("client_id", &client_id)
          + ngx_http_oauth2_param_len("redirect_uri", &redirect_uri)
          + ngx_http_oauth2_param_len("scope", &p->scope)
          + ngx_http_oauth2_param_len("state", &st.state)
          + ngx_http_oauth2_param_len("nonce", &st.nonce)
          + ngx_http_oauth2_param_len("code_challenge", &challenge)
          + ngx_http_oauth2_param_len("code_challenge_method", &method)
          + p->auth_params.len + 1;

    location = ngx_list_push(&r->headers_out.headers);
    if (location == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    location->value.data = ngx_pnalloc(r->pool, len);
    if (location->value.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    s = ngx_cpymem(location->value.data, md->authorization_endpoint.data,
                   md->authorization_endpoint.len);

    *s++ = ngx_strlchr(md->authorization_endpoint.data,
                       md->authorization_endpoint.data
                       + md->authorization_endpoint.len, '?')
           ? '&' : '?';

    s = ngx_http_oauth2_add_param(s, "response_type", &code);
    s = ngx_http_oauth2_add_param(s, "client_id", &client_id);
    s = ngx_http_oauth2_add_param(s, "redirect_uri", &redirect_uri);
    s = ngx_http_oauth2_add_param(s, "scope", &p->scope);
    s = ngx_http_oauth2_add_param(s, "state", &st.state);

    if (p->oidc) {
        s = ngx_http_oauth2_add_param(s, "nonce", &st.nonce);
    }

    s = ngx_http_oauth2_add_param(s, "code_challenge", &challenge);
    s = ngx_http_oauth2_add_param(s, "code_challenge_method", &method);

    if (p->auth_params.len) {
        s = ngx_cpymem(s, p->auth_params.data, p->auth_params.len);
        *s++ = '&';
    }

    /* no trailing "&" */
    location->value.len = s - location->value.data - 1;

    location->hash = 1;
    ngx_str_set(&location->key, "Location");

#if (nginx_version >= 1023000)
    location->next = NULL;
#endif

    ngx_http_clear_location(r);
    r->headers_out.location = location;

    if (ngx_http_oauth2_no_store(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "oauth2 provider \"%V\": redirecting to login", &p->name);

    return NGX_HTTP_MOVED_TEMPORARILY;
}


/*
 * One state cookie per login in flight lets several tabs log in at once;
 * the oldest are dropped so that at most NGX_HTTP_OAUTH2_MAX_STATES stay.
 */

static ngx_int_t
ngx_http_oauth2_limit_states(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf, ngx_http_oauth2_provider_t *p)
{
    ngx_str_t                      empty;
    ngx_uint_t                     i, j, oldest;
    ngx_http_oauth2_state_ref_t   *ref;
    ngx_http_oauth2_state_scan_t   scan;

    scan.olcf = olcf;
    scan.provider = p;

    if (ngx_array_init(&scan.states, r->pool, 4,
                       sizeof(ngx_http_oauth2_state_ref_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_oauth2_cookie_each(r, &p->state_cookie_name,
                                    ngx_http_oauth2_scan_state, &scan)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_str_null(&empty);
    ref = scan.states.elts;

    for (i = 0; i < scan.states.nelts; i++) {
        if (ref[i].created != 0) {
            continue;
        }

        /* expired or unreadable: delete */

        if (ngx_http_oauth2_cookie_set(r, &ref[i].name, &empty, 0,
                                       ngx_http_oauth2_secure(r, olcf),
                                       &olcf->cookie_domain)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        ref[i].created = NGX_MAX_TIME_T_VALUE;
    }

    for ( ;; ) {
        j = 0;

        for (i = 0; i < scan.states.nelts; i++) {
            if (ref[i].created != NGX_MAX_TIME_T_VALUE) {
                j++;
            }
        }

        if (j < NGX_HTTP_OAUTH2_MAX_STATES) {
            return NGX_OK;
        }

        oldest = 0;

        for (i = 1; i < scan.states.nelts; i++) {
            if (ref[i].created < ref[oldest].created) {
                oldest = i;
            }
        }

        if (ngx_http_oauth2_cookie_set(r, &ref[oldest].name, &empty, 0,
                                       ngx_http_oauth2_secure(r, olcf),
                                       &olcf->cookie_domain)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        ref[oldest].created = NGX_MAX_TIME_T_VALUE;
    }
}


static ngx_int_t
ngx_http_oauth2_scan_state(ngx_http_request_t *r, ngx_str_t *name,
    ngx_str_t *value, void *data)
{
    ngx_http_oauth2_state_scan_t *scan = data;

    ngx_str_t                       plain;
    ngx_uint_t                      index;
    ngx_http_oauth2_state_ref_t    *ref;
    ngx_http_oauth2_login_state_t   st;

    ref = ngx_array_push(&scan->states);
    if (ref == NULL) {
        return NGX_ERROR;
    }

    ref->name = *name;
    ref->created = 0;

    if (ngx_http_oauth2_open(r->pool, scan->olcf->keys,
                             NGX_HTTP_OAUTH2_SEAL_STATE, name, value, &plain,
                             &index)
        == NGX_OK
        && ngx_http_oauth2_state_decode(r->pool, &plain, &st) == NGX_OK
        && st.created + NGX_HTTP_OAUTH2_STATE_TTL > ngx_time())
    {
        ref->created = st.created;
    }

    return NGX_OK;
}


/* the redirect_uri sent to the provider: as configured, or the configured
 * path on the host this request was sent to */

static ngx_int_t
ngx_http_oauth2_redirect_uri(ngx_http_request_t *r,
    ngx_http_oauth2_provider_t *p, ngx_str_t *uri)
{
    if (p->redirect_uri.data[0] != '/') {
        *uri = p->redirect_uri;
        return NGX_OK;
    }

    return ngx_http_oauth2_absolute_url(r, &p->redirect_uri, uri);
}


/* what an absolute_url() failure is answered with */

ngx_int_t
ngx_http_oauth2_host_failed(ngx_http_request_t *r, ngx_int_t rc)
{
    if (rc == NGX_DECLINED) {
        return ngx_http_oauth2_page(r, NGX_HTTP_BAD_REQUEST,
                                    "The request names no valid host", NULL);
    }

    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}


/*
 * A path made absolute with the scheme and host this request came to:
 * NGX_DECLINED when the request names no usable host (the caller answers
 * 400).  The host is never taken unchecked from the request: see
 * ngx_http_oauth2_request_host().
 */

ngx_int_t
ngx_http_oauth2_absolute_url(ngx_http_request_t *r, ngx_str_t *path,
    ngx_str_t *uri)
{
    u_char     *s;
    ngx_int_t   rc;
    ngx_str_t   host;

    rc = ngx_http_oauth2_request_host(r, &host);

    if (rc != NGX_OK) {
        return rc;
    }

    uri->len = sizeof("https://") - 1 + host.len + path->len;
    uri->data = ngx_pnalloc(r->pool, uri->len);
    if (uri->data == NULL) {
        return NGX_ERROR;
    }

#if (NGX_HTTP_SSL)
    if (r->connection->ssl) {
        s = ngx_cpymem(uri->data, "https://", sizeof("https://") - 1);

    } else
#endif
    {
        s = ngx_cpymem(uri->data, "http://", sizeof("http://") - 1);
    }

    s = ngx_cpymem(s, host.data, host.len);
    s = ngx_cpymem(s, path->data, path->len);

    uri->len = s - uri->data;

    return NGX_OK;
}


/*
 * The host (and port) to build this request's absolute URLs with.  The
 * Host header must be a valid host name or address with an optional port
 * (ngx_http_oauth2_host_valid), else NGX_DECLINED.  Where the server block
 * names its server_name explicitly (anything but "" and "_"), the host
 * must be one of those names (exact, wildcard or regular expression);
 * another is replaced with the first exact name, and with none to take,
 * NGX_DECLINED.  Without explicit names the valid Host header is used.
 */

static ngx_int_t
ngx_http_oauth2_request_host(ngx_http_request_t *r, ngx_str_t *host)
{
    u_char                      *s;
    ngx_str_t                    raw, name, *exact;
    ngx_uint_t                   i;
    ngx_http_oauth2_name_t      *sn;
    ngx_http_oauth2_srv_conf_t  *oscf;

    ngx_str_null(&raw);
    ngx_str_null(&name);

    if (r->headers_in.host != NULL) {
        raw = r->headers_in.host->value;

        if (ngx_http_oauth2_host_valid(&raw, &name) != NGX_OK) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "oauth2: the \"Host\" header is not a valid host "
                          "name");
            return NGX_DECLINED;
        }
    }

    oscf = ngx_http_get_module_srv_conf(r, ngx_http_oauth2_module);

    if (oscf->names == NULL) {
        if (raw.len == 0) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "oauth2: no \"Host\" header and no server_name "
                          "to use instead");
            return NGX_DECLINED;
        }

        *host = raw;
        return NGX_OK;
    }

    sn = oscf->names->elts;
    exact = NULL;

    for (i = 0; i < oscf->names->nelts; i++) {

#if (NGX_PCRE)
        if (sn[i].regex != NULL) {
            if (name.len && ngx_regex_exec(sn[i].regex, &name, NULL, 0) >= 0)
            {
                *host = raw;
                return NGX_OK;
            }

            continue;
        }
#endif

        if (name.len && ngx_http_oauth2_server_name_match(&sn[i].name, &name))
        {
            *host = raw;
            return NGX_OK;
        }

        if (exact == NULL && sn[i].name.data[0] != '.'
            && ngx_strlchr(sn[i].name.data, sn[i].name.data + sn[i].name.len,
                           '*')
               == NULL)
        {
            exact = &sn[i].name;
        }
    }

    if (exact == NULL) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "oauth2: the \"Host\" header names none of the "
                      "server's names and there is no exact server_name "
                      "to use instead");
        return NGX_DECLINED;
    }

    /* the first exact server_name, with the port the request named */

    host->len = exact->len + (raw.len - name.len);
    host->data = ngx_pnalloc(r->pool, host->len);
    if (host->data == NULL) {
        return NGX_ERROR;
    }

    s = ngx_cpymem(host->data, exact->data, exact->len);
    ngx_memcpy(s, raw.data + name.len, raw.len - name.len);

    return NGX_OK;
}


/* a server_name, exact or wildcard ("*.a.b", ".a.b", "a.b.*"), and a
 * host name, in any case, a trailing dot ignored */

static ngx_uint_t
ngx_http_oauth2_server_name_match(ngx_str_t *pattern, ngx_str_t *name)
{
    size_t   len, plen;
    u_char  *pat;

    len = name->len;

    if (len && name->data[len - 1] == '.') {
        len--;
    }

    pat = pattern->data;
    plen = pattern->len;

    if (plen > 2 && pat[0] == '*' && pat[1] == '.') {
        /* "*.a.b": at least one label before ".a.b" */
        pat++;
        plen--;

        return len > plen
               && ngx_strncasecmp(name->data + len - plen, pat, plen) == 0;
    }

    if (plen > 1 && pat[0] == '.') {
        /* ".a.b": "a.b" itself or any name under it */
        if (len == plen - 1
            && ngx_strncasecmp(name->data, pat + 1, len) == 0)
        {
            return 1;
        }

        return len > plen
               && ngx_strncasecmp(name->data + len - plen, pat, plen) == 0;
    }

    if (plen > 2 && pat[plen - 1] == '*' && pat[plen - 2] == '.') {
        /* "a.b.*": at least one label after "a.b." */
        plen--;

        return len > plen && ngx_strncasecmp(name->data, pat, plen) == 0;
    }

    return len == plen && ngx_strncasecmp(name->data, pat, len) == 0;
}


/* 32 random bytes, base64url: state, nonce and PKCE code_verifier */

ngx_int_t
ngx_http_oauth2_random(ngx_pool_t *pool, ngx_str_t *out)
{
    u_char     buf[NGX_HTTP_OAUTH2_RANDOM_LEN];
    ngx_str_t  src;

    if (RAND_bytes(buf, sizeof(buf)) != 1) {
        return NGX_ERROR;
    }

    src.len = sizeof(buf);
    src.data = buf;

    out->data = ngx_pnalloc(pool, ngx_base64_encoded_length(sizeof(buf)));
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    ngx_encode_base64url(out, &src);

    return NGX_OK;
}


static ngx_int_t
ngx_http_oauth2_pkce_challenge(ngx_pool_t *pool, ngx_str_t *verifier,
    ngx_str_t *challenge)
{
    u_char        md[EVP_MAX_MD_SIZE];
    ngx_str_t     src;
    unsigned int  n;

    if (EVP_Digest(verifier->data, verifier->len, md, &n, EVP_sha256(), NULL)
        != 1)
    {
        return NGX_ERROR;
    }

    src.len = n;
    src.data = md;

    challenge->data = ngx_pnalloc(pool, ngx_base64_encoded_length(n));
    if (challenge->data == NULL) {
        return NGX_ERROR;
    }

    ngx_encode_base64url(challenge, &src);

    return NGX_OK;
}


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


static ngx_int_t
ngx_http_oauth2_callback(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf, ngx_http_oauth2_provider_t *p)
{
    ngx_int_t               rc;
    ngx_http_oauth2_ctx_t  *ctx;

    ctx = ngx_http_oauth2_get_ctx(r, 1);

    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->provider != p) {
        ctx->provider = p;
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

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    if (ngx_http_oauth2_get_param(r, "state", &state) != NGX_OK
        || state.len < 8)
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "oauth2 provider \"%V\": callback without a valid "
                      "\"state\"", &p->name);
        return ngx_http_oauth2_page(r, NGX_HTTP_BAD_REQUEST,
                                    "The login response is incomplete",
                                    NULL);
    }

    /* the state cookie is named after the state's first characters */

    name.len = p->state_cookie_name.len + 8;
    name.data = ngx_pnalloc(r->pool, name.len);
    if (name.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    s = ngx_cpymem(name.data, p->state_cookie_name.data,
                   p->state_cookie_name.len);
    ngx_memcpy(s, state.data, 8);

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
                                   ngx_http_oauth2_secure(r, olcf),
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
        return ngx_http_oauth2_page(r, NGX_HTTP_UNAUTHORIZED,
                                    "The login took too long, please try "
                                    "again", NULL);
    }

    rc = ngx_http_oauth2_get_param(r, "error", &error);

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

        return ngx_http_oauth2_page(r,
                                    (error.len == sizeof("access_denied") - 1
                                     && ngx_strncmp(error.data,
                                                    "access_denied",
                                                    error.len) == 0)
                                    ? NGX_HTTP_FORBIDDEN
                                    : NGX_HTTP_UNAUTHORIZED,
                                    "The login was refused by the provider",
                                    &detail);
    }

    /* RFC 9207: a response that names its issuer must name ours */

    have_iss = 0;

    if (ngx_http_oauth2_get_param(r, "iss", &iss) == NGX_OK) {
        have_iss = 1;

        if (p->issuer.len == 0
            || iss.len != p->issuer.len
            || ngx_strncmp(iss.data, p->issuer.data, iss.len) != 0)
        {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "oauth2 provider \"%V\": the callback's \"iss\" "
                          "is not the provider's issuer (mix-up?)",
                          &p->name);
            return ngx_http_oauth2_page(r, NGX_HTTP_UNAUTHORIZED,
                                        "The login response came from the "
                                        "wrong provider", NULL);
        }
    }

    if (ngx_http_oauth2_get_param(r, "code", &code) != NGX_OK) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "oauth2 provider \"%V\": callback without \"code\"",
                      &p->name);
        return ngx_http_oauth2_page(r, NGX_HTTP_BAD_REQUEST,
                                    "The login response is incomplete",
                                    NULL);
    }

    rc = ngx_http_oauth2_provider_ready(r, p, NGX_HTTP_OAUTH2_NEED_METADATA);

    if (rc == NGX_AGAIN) {
        return NGX_AGAIN;
    }

    if (rc != NGX_OK) {
        return ngx_http_oauth2_page(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                    "The login service is unavailable",
                                    NULL);
    }

    /* a provider that says it names itself in every response must */

    if (!have_iss && ngx_http_oauth2_provider_metadata(p)->iss_parameter) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oauth2 provider \"%V\": the callback has no \"iss\" "
                      "though the provider promises it (RFC 9207; "
                      "mix-up?)", &p->name);
        return ngx_http_oauth2_page(r, NGX_HTTP_UNAUTHORIZED,
                                    "The login response came from the "
                                    "wrong provider", NULL);
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

    return ngx_http_oauth2_page(r, NGX_HTTP_UNAUTHORIZED,
                                "The login could not be completed: it was "
                                "not started in this browser or has "
                                "expired. Please try again", NULL);
}


/*
 * The callback's query carries the authorization code and the state.
 * nginx adds the request line to every error-log line written for the
 * request (and $request is the request line in access logs): the line
 * keeps the parameters' names, their values become "***".
 */

static ngx_int_t
ngx_http_oauth2_redact_request_line(ngx_http_request_t *r)
{
    u_char  *p, *q, *end, *last, *d, *line;

    p = r->request_line.data;
    last = p + r->request_line.len;

    if (p == NULL) {
        return NGX_OK;
    }

    q = ngx_strlchr(p, last, '?');

    if (q == NULL) {
        return NGX_OK;
    }

    end = last;

    if (r->http_protocol.data > q && r->http_protocol.data <= last) {
        end = r->http_protocol.data - 1;
    }

    /* "a&" becomes "a=***&" at worst: less than four times as long */

    line = ngx_pnalloc(r->pool, 4 * r->request_line.len);
    if (line == NULL) {
        return NGX_ERROR;
    }

    d = ngx_cpymem(line, p, q + 1 - p);

    for (p = q + 1; p < end; /* void */) {

        while (p < end && *p != '=' && *p != '&') {
            *d++ = *p++;
        }

        if (p < end && *p == '=') {
            d = ngx_cpymem(d, "=***", sizeof("=***") - 1);

            while (p < end && *p != '&') {
                p++;
            }
        }

        if (p < end) {
            *d++ = *p++;
        }
    }

    d = ngx_cpymem(d, end, last - end);

    r->request_line.data = line;
    r->request_line.len = d - line;

    return NGX_OK;
}


/* a query argument, percent-decoded, bounded in size */

static ngx_int_t
ngx_http_oauth2_get_param(ngx_http_request_t *r, const char *name,
    ngx_str_t *value)
{
    u_char     *dst, *src;
    ngx_str_t   raw;

    if (ngx_http_arg(r, (u_char *) name, ngx_strlen(name), &raw) != NGX_OK) {
        return NGX_DECLINED;
    }

    if (raw.len == 0 || raw.len > NGX_HTTP_OAUTH2_MAX_PARAM) {
        return NGX_DECLINED;
    }

    value->data = ngx_pnalloc(r->pool, raw.len);
    if (value->data == NULL) {
        return NGX_ERROR;
    }

    dst = value->data;
    src = raw.data;

    ngx_unescape_uri(&dst, &src, raw.len, 0);

    value->len = dst - value->data;

    for (src = value->data; src < dst; src++) {
        if (*src < ' ' || *src == 0x7f) {
            return NGX_DECLINED;
        }
    }

    return value->len ? NGX_OK : NGX_DECLINED;
}


static ngx_int_t
ngx_http_oauth2_token_request(ngx_http_request_t *r,
    ngx_http_oauth2_ctx_t *ctx, ngx_str_t *code, ngx_str_t *redirect_uri)
{
    u_char                      *s;
    size_t                       len;
    ngx_str_t                    grant;
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

    len = ngx_http_oauth2_param_len("grant_type", &grant)
          + ngx_http_oauth2_param_len("code", code)
          + ngx_http_oauth2_param_len("redirect_uri", redirect_uri)
          + ngx_http_oauth2_param_len("code_verifier", &ctx->login.verifier)
          + ngx_http_oauth2_param_len("client_id", &p->client_id)
          + ngx_http_oauth2_param_len("client_secret", &p->client_secret);

    ctx->fetch->body.data = ngx_pnalloc(r->pool, len);
    if (ctx->fetch->body.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    s = ctx->fetch->body.data;
    s = ngx_http_oauth2_add_param(s, "grant_type", &grant);
    s = ngx_http_oauth2_add_param(s, "code", code);
    s = ngx_http_oauth2_add_param(s, "redirect_uri", redirect_uri);
    s = ngx_http_oauth2_add_param(s, "code_verifier", &ctx->login.verifier);

    if (p->client_secret.len == 0
        || p->auth_method == NGX_HTTP_OAUTH2_AUTH_POST)
    {
        s = ngx_http_oauth2_add_param(s, "client_id", &p->client_id);

        if (p->client_secret.len) {
            s = ngx_http_oauth2_add_param(s, "client_secret",
                                          &p->client_secret);
        }

    } else if (ngx_http_oauth2_basic_auth(r->pool, p,
                                          &ctx->fetch->authorization)
               != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->fetch->body.len = s - ctx->fetch->body.data - 1;

    if (p->preset == NGX_HTTP_OAUTH2_PRESET_GITHUB) {
        ngx_str_set(&ctx->fetch->accept, "application/json");
    }

    ctx->phase = ngx_http_oauth2_cb_token;

    if (ngx_http_oauth2_fetch_start(ctx->fetch) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oauth2 provider \"%V\": cannot start the token "
                      "request", &p->name);
        return ngx_http_oauth2_page(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                    "The login service is unavailable",
                                    NULL);
    }

    return NGX_AGAIN;
}


/* RFC 6749 2.3.1: client id and secret form-encoded, then Basic */

ngx_int_t
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

    if (f->rc != NGX_OK) {
        ngx_log_error((ngx_exiting ? NGX_LOG_INFO : NGX_LOG_ERR),
                      r->connection->log, 0,
                      "oauth2 provider \"%V\": %s request to \"%V\" "
                      "failed: %s%s%s%s", &f->provider, f->endpoint, &f->url,
                      f->error ? f->error : "unknown error",
                      f->detail && *f->detail ? " (" : "",
                      f->detail && *f->detail ? f->detail : "",
                      f->detail && *f->detail ? ")" : "");
        return ngx_http_oauth2_page(r, NGX_HTTP_BAD_GATEWAY,
                                    "The login service did not answer",
                                    NULL);
    }

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "oauth2 provider \"%V\": %s request to \"%V\" failed: "
                  "HTTP status %ui", &f->provider, f->endpoint, &f->url,
                  f->status);

    return ngx_http_oauth2_page(r, NGX_HTTP_BAD_GATEWAY,
                                "The login service failed", NULL);
}


static ngx_int_t
ngx_http_oauth2_token_response(ngx_http_request_t *r,
    ngx_http_oauth2_ctx_t *ctx)
{
    ngx_int_t                        rc;
    ngx_str_t                        expires;
    yajl_val                         doc;
    const char                      *err;
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
            return ngx_http_oauth2_page(r, NGX_HTTP_BAD_GATEWAY,
                                        "The login service failed", NULL);
        }

        ngx_http_oauth2_token_fields(doc, &t);
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

        return ngx_http_oauth2_page(r, NGX_HTTP_UNAUTHORIZED,
                                    "The login could not be completed, "
                                    "please try again", &t.error);
    }

    if (f->status != 200) {
        return ngx_http_oauth2_fetch_failed(r, ctx);
    }

    if (ctx->access_token.len == 0) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oauth2 provider \"%V\": token response without "
                      "\"access_token\"", &p->name);
        return ngx_http_oauth2_page(r, NGX_HTTP_BAD_GATEWAY,
                                    "The login service failed", NULL);
    }

    if (!ngx_http_oauth2_bearer(&t.token_type)) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oauth2 provider \"%V\": unsupported token type",
                      &p->name);
        return ngx_http_oauth2_page(r, NGX_HTTP_BAD_GATEWAY,
                                    "The login service failed", NULL);
    }

    if (!p->oidc) {
        ctx->phase = ngx_http_oauth2_cb_verify;
        return NGX_OK;
    }

    if (ctx->id_token.len == 0) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oauth2 provider \"%V\": token response without "
                      "\"id_token\"", &p->name);
        return ngx_http_oauth2_page(r, NGX_HTTP_BAD_GATEWAY,
                                    "The login service failed", NULL);
    }

    if (ngx_http_oauth2_jwt_parse(r->pool, &ctx->id_token, &ctx->jwt, &err)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oauth2 provider \"%V\": invalid ID token: %s",
                      &p->name, err);
        return ngx_http_oauth2_page(r, NGX_HTTP_UNAUTHORIZED,
                                    "The login could not be verified",
                                    NULL);
    }

    ctx->phase = ngx_http_oauth2_cb_verify;

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


/* a parameter of an application/x-www-form-urlencoded body */

ngx_int_t
ngx_http_oauth2_form_param(ngx_pool_t *pool, ngx_str_t *body,
    const char *name, ngx_str_t *value)
{
    u_char  *p, *last, *end, *dst, *src;
    size_t   len;

    len = ngx_strlen(name);
    p = body->data;
    last = body->data + body->len;

    while (p < last) {
        end = ngx_strlchr(p, last, '&');
        if (end == NULL) {
            end = last;
        }

        if ((size_t) (end - p) > len && p[len] == '='
            && ngx_strncmp(p, name, len) == 0)
        {
            p += len + 1;

            value->data = ngx_pnalloc(pool, end - p);
            if (value->data == NULL) {
                return NGX_ERROR;
            }

            dst = value->data;
            src = p;
            ngx_unescape_uri(&dst, &src, end - p, 0);
            value->len = dst - value->data;

            return NGX_OK;
        }

        p = end + 1;
    }

    return NGX_DECLINED;
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

    rc = ngx_http_oauth2_provider_ready(r, p, NGX_HTTP_OAUTH2_NEED_JWKS);

    if (rc == NGX_AGAIN) {
        return NGX_AGAIN;
    }

    if (rc != NGX_OK) {
        return ngx_http_oauth2_page(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                    "The login service is unavailable",
                                    NULL);
    }

    rc = ngx_http_oauth2_jwt_verify(&ctx->jwt, ngx_http_oauth2_provider_keys(p),
                                    p->algs, &p->client_secret, &err);

    if (rc == NGX_AGAIN && !ctx->keys_refetched) {

        /* a kid we do not know: the provider may have rotated its keys */

        ctx->keys_refetched = 1;

        rc = ngx_http_oauth2_provider_refresh_keys(r, p);

        if (rc == NGX_AGAIN) {
            return NGX_AGAIN;
        }

        if (rc == NGX_OK) {
            rc = ngx_http_oauth2_jwt_verify(&ctx->jwt,
                                            ngx_http_oauth2_provider_keys(p),
                                            p->algs, &p->client_secret, &err);

        } else {
            err = "unknown kid, and the JWKS was fetched too recently "
                  "to fetch it again";
            rc = NGX_DECLINED;
        }
    }

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oauth2 provider \"%V\": ID token rejected: %s",
                      &p->name, err);
        return ngx_http_oauth2_page(r, NGX_HTTP_UNAUTHORIZED,
                                    "The login could not be verified",
                                    NULL);
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
        return ngx_http_oauth2_page(r, NGX_HTTP_UNAUTHORIZED,
                                    "The login could not be verified",
                                    NULL);
    }

    if (p->userinfo && md->userinfo_endpoint.len) {
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
        return ngx_http_oauth2_page(r, NGX_HTTP_BAD_GATEWAY,
                                    "The login service failed", NULL);
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
        return ngx_http_oauth2_page(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                    "The login service is unavailable",
                                    NULL);
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
        return ngx_http_oauth2_page(r, NGX_HTTP_BAD_GATEWAY,
                                    "The login service failed", NULL);
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
            return ngx_http_oauth2_page(r, NGX_HTTP_UNAUTHORIZED,
                                        "The login could not be verified",
                                        NULL);
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
            return ngx_http_oauth2_page(r, NGX_HTTP_BAD_GATEWAY,
                                        "The login service failed", NULL);
        }
    }

    ctx->session.sub = sub;

    if (ngx_http_oauth2_json_string(doc, "email", &ctx->email) != NGX_OK) {
        ngx_str_null(&ctx->email);
    }

    if (ctx->email.len == 0 && p->preset == NGX_HTTP_OAUTH2_PRESET_GITHUB) {

        /* a private address: ask for the primary verified one */

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
    ngx_str_t                     value, name, *names;
    ngx_uint_t                    i;
    ngx_table_elt_t              *location;
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

    if (ngx_array_init(&s->claims, r->pool, omcf->claims.nelts + 1,
                       sizeof(ngx_http_oauth2_claim_t))
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the e-mail address always: $oauth2_email */

    ngx_str_set(&name, "email");

    if (ctx->email.len == 0) {
        (void) ngx_http_oauth2_claim(r, ctx, &name, &ctx->email);
    }

    if (ctx->email.len) {
        claim = ngx_array_push(&s->claims);
        if (claim == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        claim->name = name;
        claim->value = ctx->email;
    }

    names = omcf->claims.elts;

    for (i = 0; i < omcf->claims.nelts; i++) {

        if (names[i].len == 5 && ngx_strncmp(names[i].data, "email", 5) == 0)
        {
            continue;
        }

        if (ngx_http_oauth2_claim(r, ctx, &names[i], &value) != NGX_OK) {
            continue;
        }

        claim = ngx_array_push(&s->claims);
        if (claim == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        claim->name = names[i];
        claim->value = value;
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
        return ngx_http_oauth2_page(r, NGX_HTTP_UNAUTHORIZED,
                                    "The login could not be verified",
                                    NULL);
    }

    rc = ngx_http_oauth2_session_save(r, olcf, ctx);

    if (rc == NGX_DECLINED) {
        return ngx_http_oauth2_page(r, NGX_HTTP_BAD_GATEWAY,
                                    "The login could not be completed: "
                                    "the provider's answer is too large "
                                    "for a session", NULL);
    }

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oauth2 provider \"%V\": the session could not be "
                      "sealed", &p->name);
        return ngx_http_oauth2_page(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                    "The login could not be completed, "
                                    "please try again", NULL);
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "oauth2 provider \"%V\": user logged in", &p->name);

    location = ngx_list_push(&r->headers_out.headers);
    if (location == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the return URL was sealed by us, but check it again: a path on
     * this host, never "//host" or "/\host" */

    if (ngx_http_oauth2_local_url(r->pool, &ctx->login.return_url,
                                  &location->value)
        != NGX_OK)
    {
        ngx_str_set(&location->value, "/");
    }

    location->hash = 1;
    ngx_str_set(&location->key, "Location");

#if (nginx_version >= 1023000)
    location->next = NULL;
#endif

    ngx_http_clear_location(r);
    r->headers_out.location = location;

    return NGX_HTTP_MOVED_TEMPORARILY;
}


/*
 * Seals ctx->session into the provider's cookie, valid until the
 * session expires.  The browser sends all of it back in one Cookie line,
 * which must fit in one of the server's large_client_header_buffers, or
 * nginx answers 400 to every request of the site until the cookie expires:
 * the session gets at most that size less NGX_HTTP_OAUTH2_COOKIE_RESERVE
 * (the site's other cookies, state cookies, "Cookie: ").  What does not
 * fit is dropped, the least needed first: the ID token (logout then goes
 * without id_token_hint), the access token, the refresh token, each with
 * a warning.  NGX_DECLINED if even the identity does not fit.
 */

ngx_int_t
ngx_http_oauth2_session_save(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf, ngx_http_oauth2_ctx_t *ctx)
{
    time_t                       exp;
    size_t                       room;
    ngx_int_t                    rc;
    ngx_str_t                    plain, sealed, *drop;
    const char                  *what;
    ngx_http_oauth2_session_t   *s;
    ngx_http_oauth2_provider_t  *p;
    ngx_http_core_srv_conf_t    *cscf;

    p = ctx->provider;
    s = &ctx->session;

    cscf = ngx_http_get_module_srv_conf(r, ngx_http_core_module);

    room = cscf->large_client_header_buffers.size;
    room = (room > 2 * NGX_HTTP_OAUTH2_COOKIE_RESERVE)
           ? room - NGX_HTTP_OAUTH2_COOKIE_RESERVE : room / 2;

    /* with a refresh token the cookie must outlive the tokens, for the
     * refresh to find it */

    exp = (s->refresh_token.len ? s->created + p->session_lifetime
                                : s->expires)
          - ngx_time();

    if (exp <= 0) {
        exp = 1;
    }

    for ( ;; ) {
        if (ngx_http_oauth2_session_encode(r->pool, s, &plain) != NGX_OK) {
            return NGX_ERROR;
        }

        rc = ngx_http_oauth2_seal(r->pool, olcf->keys,
                                  NGX_HTTP_OAUTH2_SEAL_SESSION,
                                  &p->cookie_name, &plain, &sealed);

        ngx_explicit_memzero(plain.data, plain.len);

        if (rc != NGX_OK) {
            return NGX_ERROR;
        }

        if (ngx_http_oauth2_cookie_wire_len(&p->cookie_name, sealed.len)
            <= room)
        {
            rc = ngx_http_oauth2_cookie_set(r, &p->cookie_name, &sealed, exp,
                                            ngx_http_oauth2_secure(r, olcf),
                                            &olcf->cookie_domain);

            if (rc != NGX_DECLINED) {
                return rc;
            }
        }

        if (s->id_token.len) {
            drop = &s->id_token;
            what = "ID token";

        } else if (s->access_token.len) {
            drop = &s->access_token;
            what = "access token";

        } else if (s->refresh_token.len) {
            drop = &s->refresh_token;
            what = "refresh token";

        } else {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "oauth2 provider \"%V\": the session does not "
                          "fit in %uz bytes of cookies "
                          "(large_client_header_buffers)", &p->name, room);
            return NGX_DECLINED;
        }

        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "oauth2 provider \"%V\": the session does not fit in "
                      "%uz bytes of cookies (large_client_header_buffers) "
                      "with the %s, which is not kept", &p->name, room, what);

        ngx_str_null(drop);
    }
}


/* a claim as text: from userinfo if it was asked, else the ID token */

static ngx_int_t
ngx_http_oauth2_claim(ngx_http_request_t *r, ngx_http_oauth2_ctx_t *ctx,
    ngx_str_t *name, ngx_str_t *value)
{
    u_char    *key;
    yajl_val   v;

    key = ngx_pnalloc(r->pool, name->len + 1);
    if (key == NULL) {
        return NGX_ERROR;
    }

    ngx_cpystrn(key, name->data, name->len + 1);

    v = NULL;

    if (ctx->userinfo != NULL) {
        v = ngx_http_oauth2_json_get(ctx->userinfo, (char *) key);
    }

    if (v == NULL && ctx->jwt.claims != NULL) {
        v = ngx_http_oauth2_json_get(ctx->jwt.claims, (char *) key);
    }

    if (v == NULL || YAJL_IS_NULL(v) || YAJL_IS_OBJECT(v)) {
        return NGX_DECLINED;
    }

    return ngx_http_oauth2_json_text(r->pool, v, value);
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
    ngx_int_t     rc;
    ngx_chain_t   out;

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        r->keepalive = 0;
    }

    r->headers_out.status = status;
    r->headers_out.content_length_n = b->last - b->pos;
    ngx_str_set(&r->headers_out.content_type, "text/html; charset=utf-8");
    r->headers_out.content_type_len = sizeof("text/html") - 1;
    r->headers_out.content_type_lowcase = NULL;

    ngx_http_clear_location(r);

    /* no page of the module's may be framed by another site */

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

    if (r->method == NGX_HTTP_HEAD) {
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
