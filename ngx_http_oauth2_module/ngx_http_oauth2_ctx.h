
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * The request's context: what the module knows of a request (its
 * session, a callback's exchange, the refresh and back-channel state),
 * kept in a pool cleanup so that internal redirects, which empty
 * r->ctx, find it again.
 * (ngx_http_oauth2_ctx.c)
 */


#ifndef _NGX_HTTP_OAUTH2_CTX_H_INCLUDED_
#define _NGX_HTTP_OAUTH2_CTX_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_module.h"
#include "ngx_http_oauth2_codec.h"
#include "ngx_http_oauth2_cookie.h"
#include "ngx_http_oauth2_http.h"
#include "ngx_http_oauth2_jwt.h"


/* where a callback request is in its exchange with the provider */
typedef enum {
    ngx_http_oauth2_cb_start = 0,
    ngx_http_oauth2_cb_token,
    ngx_http_oauth2_cb_token_done,
    ngx_http_oauth2_cb_verify,
    ngx_http_oauth2_cb_userinfo,
    ngx_http_oauth2_cb_userinfo_done,
    ngx_http_oauth2_cb_emails,
    ngx_http_oauth2_cb_emails_done,
    ngx_http_oauth2_cb_finish
} ngx_http_oauth2_cb_phase_e;


typedef struct {
    ngx_http_oauth2_provider_t     *provider;

    /* the session, opened once per request (access phase or variable) */
    ngx_http_oauth2_session_t       session;
    unsigned                        session_tried:1;
    unsigned                        session_valid:1;
    unsigned                        session_expired:1;  /* opened, expired */
    unsigned                        session_reseal:1;   /* old secret */
    ngx_http_oauth2_cookie_scan_t   cookie_scan;        /* for the strip */
    ngx_array_t                    *saved_cookies;      /* before a strip
                                                           elsewhere */

    /* the session came from an access token (ngx_http_oauth2_bearer.c):
     * its scope and client, for $oauth2_scope and $oauth2_client_id */
    unsigned                        bearer:1;
    unsigned                        introspected:1;  /* ctx->fetch ended */
    ngx_str_t                       scope;
    ngx_str_t                       client_id;

    /* why the module refused the request ($oauth2_error), if it did */
    ngx_str_t                       error;

    /* the parking record of a request that waits (ngx_http_oauth2_park.c) */
    void                           *parked;

    /* the callback's exchange */
    unsigned                        callback:1;   /* a failure is a login's */
    unsigned                        keys_refetched:1;
    ngx_http_oauth2_cb_phase_e      phase;
    ngx_http_oauth2_fetch_t        *fetch;
    ngx_http_oauth2_login_state_t   login;
    ngx_str_t                       state_cookie;
    ngx_str_t                       access_token;
    ngx_str_t                       refresh_token;
    ngx_str_t                       id_token;
    time_t                          expires_in;
    ngx_http_oauth2_jwt_t           jwt;
    void                           *userinfo;    /* yajl_val */
    ngx_str_t                       email;

    /* a login's pushed authorization request (ngx_http_oauth2_login.c) */
    void                           *par;

    /* response_mode form_post: the callback's POSTed form */
    ngx_str_t                       form;
    unsigned                        form_reading:1;  /* nginx reads it */
    unsigned                        form_body:1;     /* nginx read it */
    unsigned                        form_have:1;     /* in ctx->form */

    /* ngx_http_oauth2_refresh.c's and ngx_http_oauth2_backchannel.c's */
    void                           *refresh;
    void                           *backchannel;

    /* session_store redis: the ticket and what Redis holds for it
     * (ngx_http_oauth2_store.c) */
    void                           *store;
} ngx_http_oauth2_ctx_t;


/* the request's context, found again after internal redirects; created
 * if asked */
ngx_http_oauth2_ctx_t *ngx_http_oauth2_get_ctx(ngx_http_request_t *r,
    ngx_uint_t create);


#endif /* _NGX_HTTP_OAUTH2_CTX_H_INCLUDED_ */
