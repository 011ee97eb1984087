
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * A request's session: opening the provider's cookie (lifetimes, idle
 * time, back-channel revocations), oauth2_require, and sealing it into
 * Set-Cookie within what nginx accepts back.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_module.h"
#include "ngx_http_oauth2_codec.h"
#include "ngx_http_oauth2_cookie.h"
#include "ngx_http_oauth2_ctx.h"
#include "ngx_http_oauth2_metrics.h"
#include "ngx_http_oauth2_ocache.h"
#include "ngx_http_oauth2_reply.h"
#include "ngx_http_oauth2_seal.h"
#include "ngx_http_oauth2_shm.h"
#include "ngx_http_oauth2_store.h"
#include "ngx_http_oauth2_session.h"


/* what the session cookie leaves of large_client_header_buffers */
#define NGX_HTTP_OAUTH2_COOKIE_RESERVE   1024


static ngx_uint_t ngx_http_oauth2_session_revoked(ngx_http_request_t *r,
    ngx_http_oauth2_provider_t *p, ngx_http_oauth2_session_t *s);
static ngx_int_t ngx_http_oauth2_open_session(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf, ngx_http_oauth2_ctx_t *ctx,
    ngx_http_oauth2_provider_t *p);
static ngx_int_t ngx_http_oauth2_require_match(ngx_http_request_t *r,
    ngx_http_oauth2_require_t *rule, ngx_str_t *value);


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

    if (p->session_store == NGX_HTTP_OAUTH2_STORE_REDIS) {

        /* the cookie is a ticket: the access phase read its session from
         * Redis (ngx_http_oauth2_store_load) */

        rc = ngx_http_oauth2_store_open(r, p, &ctx->session);
        index = 0;

        if (rc == NGX_DECLINED) {
            ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "oauth2: no session in Redis for \"%V\"",
                           &p->cookie_name);
            return NGX_DECLINED;
        }

    } else {
        rc = ngx_http_oauth2_session_open_cached(r->pool,
                                                 omcf->session_cache,
                                                 olcf->keys, &p->cookie_name,
                                                 &value, &ctx->session,
                                                 &index);
    }

    if (rc == NGX_ABORT) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "oauth2: session cookie \"%V\" is malformed",
                      &p->cookie_name);
        ngx_http_oauth2_metrics_count(p, NGX_HTTP_OAUTH2_M_SESSION_TAMPERED);
        return NGX_DECLINED;
    }

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "oauth2: session cookie \"%V\" does not open "
                      "(tampered, truncated or sealed with another secret)",
                      &p->cookie_name);
        ngx_http_oauth2_metrics_count(p, NGX_HTTP_OAUTH2_M_SESSION_TAMPERED);
        return NGX_DECLINED;
    }

    if (ngx_http_oauth2_session_revoked(r, p, &ctx->session)) {
        ngx_http_oauth2_metrics_count(p, NGX_HTTP_OAUTH2_M_SESSION_REVOKED);
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
        ngx_http_oauth2_metrics_count(p, NGX_HTTP_OAUTH2_M_SESSION_EXPIRED);
        return NGX_DECLINED;
    }

    if (olcf->session_idle_timeout) {
        seen = ctx->session.seen ? ctx->session.seen : ctx->session.created;

        if (seen + olcf->session_idle_timeout <= now) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "oauth2: session \"%V\" idle for too long",
                          &p->cookie_name);
            ngx_http_oauth2_metrics_count(p, NGX_HTTP_OAUTH2_M_SESSION_IDLE);
            return NGX_DECLINED;
        }

        /* the activity is recorded at most once a minute */

        if (now - seen >= 60) {
            ctx->session.seen = now;
            ctx->session_reseal = 1;
        }
    }

    /* a session with a refresh token is refreshed a little early */

    if (ngx_http_oauth2_session_end(&ctx->session)
        <= now + (ctx->session.refresh_token.len ? p->refresh_margin : 0))
    {
        ctx->session_expired = 1;

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "oauth2: session \"%V\" expired", &p->cookie_name);

        if (ctx->session.refresh_token.len) {
            return NGX_OK;
        }

        ngx_http_oauth2_metrics_count(p, NGX_HTTP_OAUTH2_M_SESSION_EXPIRED);

        return NGX_DECLINED;
    }

    ctx->session_valid = 1;

    return NGX_OK;
}


/*
 * The session ends at s->expires (the ID token's exp, or the access
 * token's without an ID token; never past session_lifetime).  A session
 * that keeps the access token (the configuration uses
 * $oauth2_access_token) ends when the access token expires if that is
 * sooner: it is refreshed refresh_margin before, or the user logs in
 * again, and an upstream never receives an expired access token.
 */

time_t
ngx_http_oauth2_session_end(ngx_http_oauth2_session_t *s)
{
    if (s->access_token.len && s->access_expires
        && s->access_expires < s->expires)
    {
        return s->access_expires;
    }

    return s->expires;
}


/*
 * every oauth2_require rule of the location must hold: a string, a number
 * or a boolean matches as a whole (its text), an array when one of its
 * elements does, and "scope" as a string when one of its space-separated
 * values does; a claim the session does not have never matches
 */

ngx_int_t
ngx_http_oauth2_session_require(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf, ngx_http_oauth2_ctx_t *ctx)
{
    u_char                     *p, *last;
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

            if (claim[j].type == NGX_HTTP_OAUTH2_CLAIM_STRING
                && rule[i].claim.len == 5
                && ngx_strncmp(rule[i].claim.data, "scope", 5) == 0)
            {
                /* RFC 6749, section 3.3: a space-separated list */

                p = claim[j].value.data;
                last = p + claim[j].value.len;

                while (!matched && p < last) {
                    element.data = p;

                    while (p < last && *p != ' ') {
                        p++;
                    }

                    element.len = p - element.data;

                    if (element.len) {
                        matched = (ngx_http_oauth2_require_match(r, &rule[i],
                                                                 &element)
                                   == NGX_OK);
                    }

                    while (p < last && *p == ' ') {
                        p++;
                    }
                }

                break;
            }

            if (claim[j].type != NGX_HTTP_OAUTH2_CLAIM_ARRAY) {
                matched = (ngx_http_oauth2_require_match(r, &rule[i],
                                                         &claim[j].value)
                           == NGX_OK);
                break;
            }

            p = claim[j].value.data;
            last = p + claim[j].value.len;

            while (!matched
                   && ngx_http_oauth2_claim_element(&p, last, &element)
                      == NGX_OK)
            {
                matched = (ngx_http_oauth2_require_match(r, &rule[i],
                                                         &element)
                           == NGX_OK);
            }

            break;
        }

        if (!matched) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "oauth2: access denied: claim \"%V\" does not "
                          "satisfy \"oauth2_require %V %V\"",
                          &rule[i].claim, &rule[i].claim, &rule[i].value);

            if (ctx->provider) {
                ngx_http_oauth2_metrics_count(ctx->provider,
                                            NGX_HTTP_OAUTH2_M_SESSION_REQUIRE);
            }

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
                                : ngx_http_oauth2_session_end(s))
          - ngx_time();

    if (exp <= 0) {
        exp = 1;
    }

    if (p->session_store == NGX_HTTP_OAUTH2_STORE_REDIS) {
        return ngx_http_oauth2_store_save(r, olcf, p, s, exp,
                                          ngx_http_oauth2_secure(r, olcf));
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


/* 1 if a back-channel logout ended the session (logged at info) */
static ngx_uint_t
ngx_http_oauth2_session_revoked(ngx_http_request_t *r,
    ngx_http_oauth2_provider_t *p, ngx_http_oauth2_session_t *s)
{
    ngx_str_t                     sid;
    ngx_uint_t                    i;
    ngx_http_oauth2_claim_t      *claim;
    ngx_http_oauth2_shm_check_t   checks[2];
    ngx_http_oauth2_main_conf_t  *omcf;

    omcf = ngx_http_get_module_main_conf(r, ngx_http_oauth2_module);

    /* the common case: no logout recorded, no lock taken */

    if (ngx_http_oauth2_shm_revocations(omcf->zone) == 0) {
        return 0;
    }

    ngx_str_null(&sid);
    claim = s->claims.elts;

    for (i = 0; i < s->claims.nelts; i++) {
        if (claim[i].type == NGX_HTTP_OAUTH2_CLAIM_STRING
            && claim[i].name.len == sizeof("sid") - 1
            && ngx_strncmp(claim[i].name.data, "sid", sizeof("sid") - 1)
               == 0)
        {
            sid = claim[i].value;
            break;
        }
    }

    if (ngx_http_oauth2_shm_key(NGX_HTTP_OAUTH2_SHM_REVOKE_SUB, &p->name,
                                &s->sub, checks[0].key)
        != NGX_OK)
    {
        return 0;
    }

    /* only sessions created before the logout: a login after it stands,
     * even if the provider kept (or reused) the sid */

    checks[0].created = s->created;
    checks[1].created = s->created;

    if (ngx_http_oauth2_shm_key(sid.len ? NGX_HTTP_OAUTH2_SHM_REVOKE_SID
                                        : NGX_HTTP_OAUTH2_SHM_REVOKE_NOSID,
                                &p->name, sid.len ? &sid : &s->sub,
                                checks[1].key)
        != NGX_OK)
    {
        return 0;
    }

    if (!ngx_http_oauth2_shm_revoked(omcf->zone, checks, 2)) {
        return 0;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "oauth2 provider \"%V\": the session was ended by a "
                  "back-channel logout", &p->name);

    return 1;
}


void
ngx_http_oauth2_session_audit(ngx_http_request_t *r,
    ngx_http_oauth2_provider_t *p, ngx_str_t *sub, const char *what)
{
    size_t     len;
    ngx_str_t  escaped;

    if (r->connection->log->log_level < NGX_LOG_INFO) {
        return;
    }

    /* a sub is the provider's: quotes, spaces, control and non-ASCII
     * bytes are %-escaped so that the line cannot be forged */

    len = ngx_min(sub->len, 255);

    escaped.len = len + 2 * ngx_escape_uri(NULL, sub->data, len,
                                           NGX_ESCAPE_URI_COMPONENT);
    escaped.data = ngx_pnalloc(r->pool, escaped.len);

    if (escaped.data == NULL) {
        return;
    }

    ngx_escape_uri(escaped.data, sub->data, len, NGX_ESCAPE_URI_COMPONENT);

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "oauth2 provider \"%V\": user \"%V\"%s %s",
                  &p->name, &escaped, (sub->len > len) ? "..." : "", what);
}
