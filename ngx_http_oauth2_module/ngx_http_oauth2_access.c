
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * The access phase: which requests the module handles (callback,
 * logout, back-channel logout, protected locations, subrequests), and
 * for a protected location a session that passes, a refresh, a login or
 * 401; the module's cookies are kept from every upstream.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_module.h"
#include "ngx_http_oauth2_backchannel.h"
#include "ngx_http_oauth2_bearer.h"
#include "ngx_http_oauth2_callback.h"
#include "ngx_http_oauth2_ctx.h"
#include "ngx_http_oauth2_login.h"
#include "ngx_http_oauth2_logout.h"
#include "ngx_http_oauth2_park.h"
#include "ngx_http_oauth2_provider.h"
#include "ngx_http_oauth2_refresh.h"
#include "ngx_http_oauth2_reply.h"
#include "ngx_http_oauth2_request.h"
#include "ngx_http_oauth2_session.h"
#include "ngx_http_oauth2_store.h"
#include "ngx_http_oauth2_access.h"


static ngx_int_t ngx_http_oauth2_access(ngx_http_request_t *r);
static ngx_int_t ngx_http_oauth2_unprotected(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf, ngx_http_oauth2_main_conf_t *omcf);
static ngx_int_t ngx_http_oauth2_strip_others(ngx_http_request_t *r,
    ngx_http_oauth2_main_conf_t *omcf, ngx_http_oauth2_provider_t *p);
static ngx_int_t ngx_http_oauth2_bearer_pass(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf, ngx_http_oauth2_main_conf_t *omcf,
    ngx_uint_t fallback);
static ngx_int_t ngx_http_oauth2_auth_request_check(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf);
static ngx_int_t ngx_http_oauth2_store_read(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf);


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

    /*
     * The error_page of a refusal of ours (ngx_http_oauth2_fail): served
     * as it is, even from a protected location, with $oauth2_error set.
     */

    ctx = ngx_http_oauth2_get_ctx(r, 0);

    if (ctx != NULL && ctx->error.len && r->err_status) {
        return NGX_DECLINED;
    }

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_oauth2_module);
    omcf = ngx_http_get_module_main_conf(r, ngx_http_oauth2_module);

    if (olcf->keys == NULL) {

        if (olcf->auth_request != NULL) {
            return ngx_http_oauth2_auth_request_check(r, olcf);
        }

        if (olcf->bearer != NULL) {
            return ngx_http_oauth2_bearer_pass(r, olcf, omcf, 0);
        }

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
            if (pp[i]->session_store == NGX_HTTP_OAUTH2_STORE_REDIS
                && ngx_http_oauth2_store_load(r, olcf, pp[i],
                                              ngx_http_oauth2_wake)
                   == NGX_AGAIN)
            {
                /* the session, for the audit line and id_token_hint;
                 * Redis unusable: logged out without them */
                return NGX_AGAIN;
            }

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

    if (olcf->auth_request != NULL) {
        return ngx_http_oauth2_auth_request_check(r, olcf);
    }

    /* an API caller's token first: with one, never the cookie or a login */

    if (olcf->bearer != NULL) {
        rc = ngx_http_oauth2_bearer_pass(r, olcf, omcf,
                                         olcf->provider != NULL);

        if (rc != NGX_DECLINED) {
            return rc;
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

    rc = ngx_http_oauth2_store_read(r, olcf);

    if (rc != NGX_OK) {
        return rc;
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
            && ngx_http_oauth2_session_require(r, olcf, ctx) != NGX_OK)
        {
            return ngx_http_oauth2_fail(r, NGX_HTTP_OAUTH2_ERR_FORBIDDEN, NULL);
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

    /* a request with a bearer token is never sent to log in */

    if (!ngx_http_oauth2_is_navigation(r) || ngx_http_oauth2_bearer_sent(r)) {
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
 * session_store redis: the session of the ticket cookie is read from
 * Redis before the session is opened, the request waiting meanwhile.  In
 * a location that admits several providers, that of the first one with
 * session_store redis.  Redis unusable: 503, never a pass.
 */

static ngx_int_t
ngx_http_oauth2_store_read(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf)
{
    ngx_int_t                    rc;
    ngx_uint_t                   i;
    ngx_http_oauth2_provider_t  *p, **pp;

    p = olcf->provider;

    if (olcf->choices != NULL) {
        pp = olcf->choices->elts;

        for (i = 0; i < olcf->choices->nelts; i++) {
            if (pp[i]->session_store == NGX_HTTP_OAUTH2_STORE_REDIS) {
                p = pp[i];
                break;
            }
        }
    }

    if (p == NULL || p->session_store != NGX_HTTP_OAUTH2_STORE_REDIS) {
        return NGX_OK;
    }

    rc = ngx_http_oauth2_store_load(r, olcf, p, ngx_http_oauth2_wake);

    if (rc == NGX_ERROR) {
        return ngx_http_oauth2_fail(r, NGX_HTTP_OAUTH2_ERR_SEAL, NULL);
    }

    return rc;
}


/*
 * oauth2_bearer: NGX_OK for a valid token (the module's cookies are then
 * kept from the upstream as for a session), NGX_DECLINED without Bearer
 * credentials when fallback lets the cookie be tried, else what
 * ngx_http_oauth2_bearer_check() answered.
 */

static ngx_int_t
ngx_http_oauth2_bearer_pass(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf, ngx_http_oauth2_main_conf_t *omcf,
    ngx_uint_t fallback)
{
    ngx_int_t  rc;

    rc = ngx_http_oauth2_bearer_check(r, olcf->bearer, fallback);

    if (rc != NGX_OK) {
        return rc;
    }

    if (olcf->strip_cookies && r == r->main
        && ngx_http_oauth2_strip_others(r, omcf, NULL) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_OK;
}


/*
 * oauth2_auth_request: a bearer token, else the session cookie, checked
 * before its content handler answers 204.  A refusal is the answer: 401
 * (or 403 when oauth2_require fails), which auth_request passes on with
 * WWW-Authenticate.  It never logs in or refreshes.
 */

static ngx_int_t
ngx_http_oauth2_auth_request_check(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf)
{
    ngx_http_oauth2_ctx_t       *ctx, *mctx;
    ngx_http_oauth2_provider_t  *p;

    p = olcf->auth_request;

    if (olcf->bearer != NULL
        && (ngx_http_oauth2_bearer_sent(r) || olcf->keys == NULL))
    {
        return ngx_http_oauth2_bearer_check(r, p, 0);
    }

    if (olcf->keys == NULL) {
        return ngx_http_oauth2_unauthorized(r, p);
    }

    /* the main request's location may have stripped the cookies */

    mctx = (r != r->main) ? ngx_http_oauth2_get_ctx(r->main, 0) : NULL;

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
        return ngx_http_oauth2_unauthorized(r, p);
    }

    if (olcf->require != NULL
        && ngx_http_oauth2_session_require(r, olcf, ctx) != NGX_OK)
    {
        return ngx_http_oauth2_fail(r, NGX_HTTP_OAUTH2_ERR_FORBIDDEN, NULL);
    }

    return NGX_OK;
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
    ngx_int_t                    rc;
    ngx_http_oauth2_ctx_t       *ctx, *mctx;
    ngx_http_oauth2_loc_conf_t  *olcf;

    if (r == r->main) {
        return NGX_DECLINED;
    }

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_oauth2_module);

    if (olcf->auth_request == NULL && olcf->bearer == NULL
        && (olcf->provider == NULL || olcf->keys == NULL))
    {
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

    if (olcf->auth_request != NULL || olcf->bearer != NULL) {
        ngx_http_oauth2_unpark(r);

        if (olcf->auth_request != NULL) {
            rc = ngx_http_oauth2_auth_request_check(r, olcf);

        } else {
            rc = ngx_http_oauth2_bearer_check(r, olcf->bearer,
                                        olcf->provider != NULL
                                        && olcf->keys != NULL);
        }

        if (rc == NGX_AGAIN) {
            return (ngx_http_oauth2_park(r) == NGX_OK)
                   ? NGX_AGAIN : NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (rc == NGX_OK) {
            return NGX_DECLINED;
        }

        if (rc != NGX_DECLINED) {
            return rc;
        }

        if (olcf->provider == NULL || olcf->keys == NULL) {
            return NGX_DECLINED;
        }
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
        && ngx_http_oauth2_session_require(r, olcf, ctx) != NGX_OK)
    {
        return NGX_HTTP_FORBIDDEN;
    }

    return NGX_DECLINED;
}
