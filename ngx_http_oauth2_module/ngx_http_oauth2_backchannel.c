
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * OpenID Connect Back-Channel Logout 1.0.  The provider POSTs a logout
 * token (a JWT) to backchannel_logout_uri when a user's session at the
 * provider ends; it names the provider session (sid), the user (sub), or
 * both.  The token is verified like an ID token (signature with the
 * provider's JWKS and allowed algorithms, iss, aud) plus the rules of
 * section 2.6: iat within leeway, the back-channel logout event, no
 * nonce, sub or sid, a jti not seen before.  The logout is then recorded
 * in the shared zone, for as long as a session may last:
 *
 *   sid            the sessions whose "sid" claim (kept from the ID token
 *                  when a provider has backchannel_logout_uri) is that sid;
 *   sid and sub    the same, and the user's sessions without a "sid" claim;
 *   sub only       every session of the user;
 *
 * in each case only the sessions created before the logout (by a second at
 * least): a new login afterwards stands, even where the provider kept the
 * sid of the session it said was ended, instead of looping.
 *
 * The session cookies themselves live in browsers: each request checks
 * its session against the zone (ngx_http_oauth2_session_revoked(), free
 * while no logout is recorded).  Answers: 200, or 400 with a JSON error
 * (section 2.8), always with Cache-Control: no-store.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_module.h"
#include "ngx_http_oauth2_backchannel.h"
#include "ngx_http_oauth2_ctx.h"
#include "ngx_http_oauth2_json.h"
#include "ngx_http_oauth2_jwt.h"
#include "ngx_http_oauth2_metrics.h"
#include "ngx_http_oauth2_park.h"
#include "ngx_http_oauth2_provider.h"
#include "ngx_http_oauth2_reply.h"
#include "ngx_http_oauth2_request.h"
#include "ngx_http_oauth2_shm.h"
#include "ngx_http_oauth2_token.h"


#define NGX_HTTP_OAUTH2_BC_MAX_BODY   65536
#define NGX_HTTP_OAUTH2_BC_EVENT                                             \
    "http://schemas.openid.net/event/backchannel-logout"


typedef struct {
    ngx_http_oauth2_jwt_t           jwt;
    unsigned                        read:1;        /* the body is there */
    unsigned                        parsed:1;
    unsigned                        keys_refetched:1;
} ngx_http_oauth2_bc_t;


static void ngx_http_oauth2_backchannel_body(ngx_http_request_t *r);
static ngx_int_t ngx_http_oauth2_backchannel_verify(ngx_http_request_t *r,
    ngx_http_oauth2_provider_t *p, ngx_http_oauth2_bc_t *bc);
static ngx_int_t ngx_http_oauth2_backchannel_parse(ngx_http_request_t *r,
    ngx_http_oauth2_provider_t *p, ngx_http_oauth2_bc_t *bc);
static const char *ngx_http_oauth2_backchannel_check(
    ngx_http_oauth2_provider_t *p, yajl_val claims, ngx_str_t *sub,
    ngx_str_t *sid, ngx_str_t *jti, time_t *iat);
static ngx_uint_t ngx_http_oauth2_backchannel_is(yajl_val v,
    ngx_str_t *value);
static ngx_int_t ngx_http_oauth2_backchannel_record(ngx_http_request_t *r,
    ngx_http_oauth2_provider_t *p, ngx_str_t *sub, ngx_str_t *sid,
    ngx_str_t *jti, time_t iat);
static ngx_int_t ngx_http_oauth2_backchannel_reject(ngx_http_request_t *r,
    ngx_http_oauth2_provider_t *p, const char *why);
static ngx_int_t ngx_http_oauth2_backchannel_reply(ngx_http_request_t *r,
    ngx_uint_t status, const char *error, const char *description);


ngx_int_t
ngx_http_oauth2_backchannel(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf, ngx_http_oauth2_provider_t *p)
{
    ngx_int_t               rc;
    ngx_str_t              *ct;
    ngx_http_oauth2_bc_t   *bc;
    ngx_http_oauth2_ctx_t  *ctx;

    ctx = ngx_http_oauth2_get_ctx(r, 1);

    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    bc = ctx->backchannel;

    if (bc != NULL) {
        if (!bc->read) {
            /* run again while the body is being read */
            return NGX_AGAIN;
        }

        return ngx_http_oauth2_backchannel_verify(r, p, bc);
    }

    if (r->method != NGX_HTTP_POST) {
        return ngx_http_oauth2_backchannel_reply(r, NGX_HTTP_NOT_ALLOWED,
                                                 "invalid_request",
                                                 "a logout token is POSTed");
    }

    ct = r->headers_in.content_type ? &r->headers_in.content_type->value
                                     : NULL;

    if (ct == NULL
        || ct->len < sizeof("application/x-www-form-urlencoded") - 1
        || ngx_strncasecmp(ct->data,
                           (u_char *) "application/x-www-form-urlencoded",
                           sizeof("application/x-www-form-urlencoded") - 1)
           != 0)
    {
        return ngx_http_oauth2_backchannel_reject(r, p,
                                                  "not a form "
                                                  "(application/x-www-form-"
                                                  "urlencoded)");
    }

    if (r->headers_in.content_length_n > NGX_HTTP_OAUTH2_BC_MAX_BODY) {
        return ngx_http_oauth2_backchannel_reject(r, p,
                                                  "the request is too "
                                                  "large");
    }

    bc = ngx_pcalloc(r->pool, sizeof(ngx_http_oauth2_bc_t));
    if (bc == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->backchannel = bc;

    r->request_body_in_single_buf = 1;

    rc = ngx_http_read_client_request_body(r,
                                           ngx_http_oauth2_backchannel_body);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    /* the body handler wakes the request (perhaps already did): its
     * phases run again from the event loop */

    ngx_http_finalize_request(r, NGX_DONE);

    return NGX_DONE;
}


static void
ngx_http_oauth2_backchannel_body(ngx_http_request_t *r)
{
    ngx_http_oauth2_bc_t   *bc;
    ngx_http_oauth2_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_oauth2_module);
    bc = ctx->backchannel;

    bc->read = 1;

    /* called from within ngx_http_read_client_request_body() when the
     * body was there already: nothing runs here */

    ngx_http_oauth2_wake(r);
}


static ngx_int_t
ngx_http_oauth2_backchannel_verify(ngx_http_request_t *r,
    ngx_http_oauth2_provider_t *p, ngx_http_oauth2_bc_t *bc)
{
    time_t       iat;
    ngx_int_t    rc;
    ngx_str_t    sub, sid, jti;
    const char  *err;

    if (!bc->parsed) {
        rc = ngx_http_oauth2_backchannel_parse(r, p, bc);

        if (rc != NGX_OK) {
            return rc;
        }

        bc->parsed = 1;
    }

    rc = ngx_http_oauth2_park_provider(r, p, NGX_HTTP_OAUTH2_NEED_METADATA
                                              |NGX_HTTP_OAUTH2_NEED_JWKS);

    if (rc == NGX_AGAIN) {
        return NGX_AGAIN;
    }

    if (rc != NGX_OK) {
        return ngx_http_oauth2_backchannel_reply(r,
                                        NGX_HTTP_SERVICE_UNAVAILABLE,
                                        "temporarily_unavailable",
                                        "the provider's keys are not "
                                        "available");
    }

    rc = ngx_http_oauth2_jwt_verify(&bc->jwt,
                                    ngx_http_oauth2_provider_keys(p),
                                    p->algs, &p->client_secret, &err);

    if (rc == NGX_AGAIN && !bc->keys_refetched) {

        /* a kid we do not know: the provider may have rotated its keys */

        bc->keys_refetched = 1;

        if (ngx_http_oauth2_park_keys(r, p) == NGX_AGAIN) {
            return NGX_AGAIN;
        }

        rc = ngx_http_oauth2_jwt_verify(&bc->jwt,
                                        ngx_http_oauth2_provider_keys(p),
                                        p->algs, &p->client_secret, &err);
    }

    if (rc != NGX_OK) {
        return ngx_http_oauth2_backchannel_reject(r, p,
                                                  err ? err
                                                  : "unknown signing key");
    }

    err = ngx_http_oauth2_backchannel_check(p, bc->jwt.claims, &sub, &sid,
                                            &jti, &iat);

    if (err != NULL) {
        return ngx_http_oauth2_backchannel_reject(r, p, err);
    }

    rc = ngx_http_oauth2_backchannel_record(r, p, &sub, &sid, &jti, iat);

    if (rc == NGX_DECLINED) {
        return ngx_http_oauth2_backchannel_reject(r, p,
                                                  "its jti was seen before "
                                                  "(replay)");
    }

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oauth2 provider \"%V\": the back-channel logout "
                      "could not be recorded", &p->name);

        return ngx_http_oauth2_backchannel_reply(r,
                                        NGX_HTTP_INTERNAL_SERVER_ERROR,
                                        "server_error",
                                        "the logout could not be recorded");
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "oauth2 provider \"%V\": back-channel logout of %s",
                  &p->name,
                  sid.len ? (sub.len ? "a provider session (sid, sub)"
                                     : "a provider session (sid)")
                          : "a user (sub)");

    ngx_http_oauth2_metrics_count(p, NGX_HTTP_OAUTH2_M_BACKCHANNEL_OK);

    return ngx_http_oauth2_backchannel_reply(r, NGX_HTTP_OK, NULL, NULL);
}


/* the body's logout_token, parsed as a JWT */

static ngx_int_t
ngx_http_oauth2_backchannel_parse(ngx_http_request_t *r,
    ngx_http_oauth2_provider_t *p, ngx_http_oauth2_bc_t *bc)
{
    ngx_int_t    rc;
    ngx_str_t    body, token, typ;
    const char  *err;

    rc = ngx_http_oauth2_read_body(r, NGX_HTTP_OAUTH2_BC_MAX_BODY, &body);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_oauth2_backchannel_reject(r, p,
                                                  "the request is too "
                                                  "large");
    }

    rc = ngx_http_oauth2_form_param(r->pool, &body, "logout_token", &token);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc != NGX_OK || token.len == 0) {
        return ngx_http_oauth2_backchannel_reject(r, p,
                                                  "no \"logout_token\"");
    }

    if (ngx_http_oauth2_jwt_parse(r->pool, &token, &bc->jwt, &err)
        != NGX_OK)
    {
        return ngx_http_oauth2_backchannel_reject(r, p, err);
    }

    /* explicit typing (section 2.4): none, or a logout token's; never
     * another kind of JWT */

    rc = ngx_http_oauth2_json_string(bc->jwt.header, "typ", &typ);

    if (rc == NGX_ERROR
        || (rc == NGX_OK
            && !(typ.len == sizeof("JWT") - 1
                 && ngx_strncasecmp(typ.data, (u_char *) "JWT", typ.len)
                    == 0)
            && !(typ.len == sizeof("logout+jwt") - 1
                 && ngx_strncasecmp(typ.data, (u_char *) "logout+jwt",
                                    typ.len) == 0)
            && !(typ.len == sizeof("application/logout+jwt") - 1
                 && ngx_strncasecmp(typ.data,
                                    (u_char *) "application/logout+jwt",
                                    typ.len) == 0)))
    {
        return ngx_http_oauth2_backchannel_reject(r, p,
                                                  "its \"typ\" is not a "
                                                  "logout token's");
    }

    return NGX_OK;
}


/* section 2.6, steps 3 to 5 (and the jti, checked when recorded) */

static const char *
ngx_http_oauth2_backchannel_check(ngx_http_oauth2_provider_t *p,
    yajl_val claims, ngx_str_t *sub,
    ngx_str_t *sid, ngx_str_t *jti, time_t *iat)
{
    size_t      i;
    time_t      now;
    int64_t     n;
    yajl_val     aud, events, v;
    ngx_int_t    rc;
    ngx_uint_t   found;
    const char  *err;

    if (!YAJL_IS_OBJECT(claims)) {
        return "it has no claims";
    }

    if (ngx_http_oauth2_jwt_check_iss(claims, &p->issuer, &err) != NGX_OK) {
        return "its issuer is not the provider's";
    }

    aud = ngx_http_oauth2_json_get(claims, "aud");
    found = 0;

    if (YAJL_IS_ARRAY(aud)) {
        for (i = 0; i < aud->u.array.len && !found; i++) {
            found = ngx_http_oauth2_backchannel_is(aud->u.array.values[i],
                                                   &p->client_id);
        }

    } else {
        found = ngx_http_oauth2_backchannel_is(aud, &p->client_id);
    }

    if (!found) {
        return "its audience is not this client";
    }

    now = ngx_time();

    /* NumericDates: a fraction is rounded up for iat (the logout then
     * covers the sessions created in that second), down for exp */

    if (ngx_http_oauth2_json_seconds(claims, "iat", 1, &n) != NGX_OK) {
        return "it has no valid iat";
    }

    if (n < (int64_t) (now - p->leeway) || n > (int64_t) (now + p->leeway)) {
        return "its iat is not within leeway of now";
    }

    *iat = (time_t) n;

    rc = ngx_http_oauth2_json_seconds(claims, "exp", 0, &n);

    if (rc == NGX_ERROR
        || (rc == NGX_OK && !((int64_t) (now - p->leeway) < n)))
    {
        return "it has expired";
    }

    events = ngx_http_oauth2_json_get(claims, "events");
    v = ngx_http_oauth2_json_get(events, NGX_HTTP_OAUTH2_BC_EVENT);

    if (v == NULL || !YAJL_IS_OBJECT(v)) {
        return "it has no back-channel logout event";
    }

    if (ngx_http_oauth2_json_get(claims, "nonce") != NULL) {
        return "it has a nonce (an ID token?)";
    }

    ngx_str_null(sub);
    ngx_str_null(sid);

    if (ngx_http_oauth2_json_string(claims, "sub", sub) == NGX_ERROR
        || ngx_http_oauth2_json_string(claims, "sid", sid) == NGX_ERROR)
    {
        return "its sub or sid is not a string";
    }

    if (sub->len == 0 && sid->len == 0) {
        return "it has neither sub nor sid";
    }

    if (ngx_http_oauth2_json_string(claims, "jti", jti) != NGX_OK
        || jti->len == 0)
    {
        return "it has no jti";
    }

    return NULL;
}


/* a JSON string equal to value */

static ngx_uint_t
ngx_http_oauth2_backchannel_is(yajl_val v, ngx_str_t *value)
{
    if (!YAJL_IS_STRING(v) || v->u.string == NULL) {
        return 0;
    }

    return ngx_strlen(v->u.string) == value->len
           && ngx_strncmp(v->u.string, value->data, value->len) == 0;
}


static ngx_int_t
ngx_http_oauth2_backchannel_record(ngx_http_request_t *r,
    ngx_http_oauth2_provider_t *p, ngx_str_t *sub, ngx_str_t *sid,
    ngx_str_t *jti, time_t iat)
{
    u_char                        jkey[NGX_HTTP_OAUTH2_SHM_KEY_LEN];
    u_char                        keys[2][NGX_HTTP_OAUTH2_SHM_KEY_LEN];
    u_char                        kinds[2];
    time_t                        now;
    ngx_uint_t                    n;
    ngx_http_oauth2_main_conf_t  *omcf;

    omcf = ngx_http_get_module_main_conf(r, ngx_http_oauth2_module);
    now = ngx_time();
    n = 0;

    if (sid->len) {
        kinds[n] = NGX_HTTP_OAUTH2_SHM_REVOKE_SID;

        if (ngx_http_oauth2_shm_key(kinds[n], &p->name, sid, keys[n])
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        n++;
    }

    if (sub->len) {
        kinds[n] = sid->len ? NGX_HTTP_OAUTH2_SHM_REVOKE_NOSID
                            : NGX_HTTP_OAUTH2_SHM_REVOKE_SUB;

        if (ngx_http_oauth2_shm_key(kinds[n], &p->name, sub, keys[n])
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        n++;
    }

    if (ngx_http_oauth2_shm_key(NGX_HTTP_OAUTH2_SHM_JTI, &p->name, jti, jkey)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* a jti is kept as long as its token would be accepted */

    return ngx_http_oauth2_shm_logout(omcf->zone, jkey,
                                      ngx_max(iat, now) + p->leeway + 1,
                                      keys, kinds, n,
                                      now + p->session_lifetime);
}


ngx_int_t
ngx_http_oauth2_backchannel_init(ngx_conf_t *cf,
    ngx_http_oauth2_main_conf_t *omcf)
{
    ngx_str_t                    *name, *paths[3];
    ngx_uint_t                    i, j, k, want;
    ngx_http_oauth2_provider_t  **pp;

    pp = omcf->providers.elts;
    want = 0;

    for (i = 0; i < omcf->providers.nelts; i++) {

        if (pp[i]->backchannel_path.len == 0) {
            continue;
        }

        if (!pp[i]->oidc || pp[i]->issuer.len == 0) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "oauth2 provider \"%V\": \"backchannel_logout_uri\" "
                          "needs an OpenID Connect provider with "
                          "\"issuer\" in %s:%ui",
                          &pp[i]->name, pp[i]->file, pp[i]->line);
            return NGX_ERROR;
        }

        for (j = 0; j < omcf->providers.nelts; j++) {
            paths[0] = &pp[j]->redirect_path;
            paths[1] = &pp[j]->logout_path;
            paths[2] = (j != i) ? &pp[j]->backchannel_path : NULL;

            for (k = 0; k < 3; k++) {
                if (paths[k] != NULL
                    && paths[k]->len == pp[i]->backchannel_path.len
                    && ngx_strncmp(paths[k]->data,
                                   pp[i]->backchannel_path.data,
                                   paths[k]->len) == 0)
                {
                    ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                                  "oauth2 provider \"%V\": "
                                  "\"backchannel_logout_uri\" \"%V\" is "
                                  "already used by provider \"%V\" in "
                                  "%s:%ui", &pp[i]->name,
                                  &pp[i]->backchannel_path, &pp[j]->name,
                                  pp[i]->file, pp[i]->line);
                    return NGX_ERROR;
                }
            }
        }

        want = 1;
    }

    if (want) {
        /* logouts name provider sessions: sessions remember theirs */

        name = ngx_array_push(&omcf->claims);
        if (name == NULL) {
            return NGX_ERROR;
        }

        ngx_str_set(name, "sid");
    }

    return NGX_OK;
}


/* section 2.8: 400 with an error; one info line saying why */

static ngx_int_t
ngx_http_oauth2_backchannel_reject(ngx_http_request_t *r,
    ngx_http_oauth2_provider_t *p, const char *why)
{
    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "oauth2 provider \"%V\": back-channel logout token "
                  "rejected: %s", &p->name, why);

    ngx_http_oauth2_metrics_count(p, NGX_HTTP_OAUTH2_M_BACKCHANNEL_REFUSED);

    return ngx_http_oauth2_backchannel_reply(r, NGX_HTTP_BAD_REQUEST,
                                             "invalid_request",
                                             "invalid logout token");
}


/* an empty answer or a JSON error; finalizes the request: NGX_DONE */

static ngx_int_t
ngx_http_oauth2_backchannel_reply(ngx_http_request_t *r, ngx_uint_t status,
    const char *error, const char *description)
{
    ngx_buf_t  *b;

    static ngx_str_t  json = ngx_string("application/json");

    b = NULL;

    if (error != NULL) {
        b = ngx_create_temp_buf(r->pool,
                                sizeof("{\"error\":\"\",\"error_description\":"
                                       "\"\"}\n") - 1
                                + ngx_strlen(error) + ngx_strlen(description));
        if (b == NULL) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return NGX_DONE;
        }

        b->last = ngx_sprintf(b->last,
                              "{\"error\":\"%s\",\"error_description\":"
                              "\"%s\"}\n", error, description);
    }

    return ngx_http_oauth2_send(r, status, &json, b);
}
