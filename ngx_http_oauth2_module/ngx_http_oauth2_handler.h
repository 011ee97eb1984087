
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


#ifndef _NGX_HTTP_OAUTH2_HANDLER_H_INCLUDED_
#define _NGX_HTTP_OAUTH2_HANDLER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_module.h"
#include "ngx_http_oauth2_http.h"
#include "ngx_http_oauth2_json.h"
#include "ngx_http_oauth2_jwt.h"
#include "ngx_http_oauth2_session.h"


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

    /* the callback's exchange */
    void                           *parked;
    unsigned                        waiting:1;
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

    /* ngx_http_oauth2_refresh.c's and ngx_http_oauth2_backchannel.c's */
    void                           *refresh;
    void                           *backchannel;
} ngx_http_oauth2_ctx_t;


ngx_int_t ngx_http_oauth2_access_handler(ngx_http_request_t *r);

/* subrequests into protected locations (precontent phase) */
ngx_int_t ngx_http_oauth2_subrequest_handler(ngx_http_request_t *r);

/* the request's context, found again after internal redirects; created
 * if asked */
ngx_http_oauth2_ctx_t *ngx_http_oauth2_get_ctx(ngx_http_request_t *r,
    ngx_uint_t create);

/* opens the request's session cookie at most once; the ctx or NULL */
ngx_http_oauth2_ctx_t *ngx_http_oauth2_get_session(ngx_http_request_t *r);

ngx_int_t ngx_http_oauth2_register_variables(ngx_conf_t *cf);

/* a short HTML page (status, title, optional escaped detail); finalizes
 * the request and returns NGX_DONE, for the access phase to return */
ngx_int_t ngx_http_oauth2_page(ngx_http_request_t *r, ngx_uint_t status,
    const char *title, ngx_str_t *detail);
ngx_uint_t ngx_http_oauth2_secure(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf);
ngx_int_t ngx_http_oauth2_no_store(ngx_http_request_t *r);
ngx_int_t ngx_http_oauth2_add_header(ngx_http_request_t *r,
    const char *name, const char *value);
ngx_uint_t ngx_http_oauth2_is_navigation(ngx_http_request_t *r);
ngx_int_t ngx_http_oauth2_send_html(ngx_http_request_t *r,
    ngx_uint_t status, ngx_buf_t *b);
/* a path made absolute with this request's scheme and checked host;
 * NGX_DECLINED: no valid host (answer with ngx_http_oauth2_host_failed) */
ngx_int_t ngx_http_oauth2_absolute_url(ngx_http_request_t *r,
    ngx_str_t *path, ngx_str_t *uri);
ngx_int_t ngx_http_oauth2_host_failed(ngx_http_request_t *r, ngx_int_t rc);

/* 32 random bytes, base64url */
ngx_int_t ngx_http_oauth2_random(ngx_pool_t *pool, ngx_str_t *out);

/* "name=value&" with the value percent-encoded, and its length */
u_char *ngx_http_oauth2_add_param(u_char *p, const char *name,
    ngx_str_t *value);
size_t ngx_http_oauth2_param_len(const char *name, ngx_str_t *value);

/* a parameter of an application/x-www-form-urlencoded body, decoded:
 * NGX_OK, NGX_DECLINED if absent */
ngx_int_t ngx_http_oauth2_form_param(ngx_pool_t *pool, ngx_str_t *body,
    const char *name, ngx_str_t *value);

/* the Authorization value of client_secret_basic */
ngx_int_t ngx_http_oauth2_basic_auth(ngx_pool_t *pool,
    ngx_http_oauth2_provider_t *p, ngx_str_t *authorization);

/* seals ctx->session into the provider's session cookie (Set-Cookie) */
ngx_int_t ngx_http_oauth2_session_save(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf, ngx_http_oauth2_ctx_t *ctx);

/*
 * Refreshes an expired session that holds a refresh token
 * (ngx_http_oauth2_refresh.c): NGX_OK (ctx->session is valid again and
 * its cookie was resealed), NGX_AGAIN (the request waits), NGX_DECLINED
 * (no refresh possible: log in again).
 */
ngx_int_t ngx_http_oauth2_refresh(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf, ngx_http_oauth2_ctx_t *ctx);

/* a worker exits: drops the refresh calls in flight */
void ngx_http_oauth2_refresh_exit(void);

/* backchannel_logout_uri (ngx_http_oauth2_backchannel.c) */
ngx_int_t ngx_http_oauth2_backchannel(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf, ngx_http_oauth2_provider_t *p);

/* 1 if a back-channel logout ended the session (logged at info) */
ngx_uint_t ngx_http_oauth2_session_revoked(ngx_http_request_t *r,
    ngx_http_oauth2_provider_t *p, ngx_http_oauth2_session_t *s);

/* logout_uri (ngx_http_oauth2_logout.c) */
ngx_int_t ngx_http_oauth2_logout(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf, ngx_http_oauth2_provider_t *p);


/* the fields of a token endpoint's answer (RFC 6749, 5.1 and 5.2) */
typedef struct {
    ngx_str_t                       error;
    ngx_str_t                       access_token;
    ngx_str_t                       token_type;
    ngx_str_t                       refresh_token;
    ngx_str_t                       id_token;
    time_t                          expires_in;  /* 0: absent or absurd */
} ngx_http_oauth2_token_fields_t;

/* the fields of a JSON token response (doc: an object); the strings point
 * into doc */
void ngx_http_oauth2_token_fields(yajl_val doc,
    ngx_http_oauth2_token_fields_t *t);

/* the first token of t with a byte outside 0x20-0x7e, or NULL */
const char *ngx_http_oauth2_token_fields_invalid(
    ngx_http_oauth2_token_fields_t *t);

/* token_type absent or "Bearer", in any case (RFC 6749, 7.1) */
ngx_uint_t ngx_http_oauth2_bearer(ngx_str_t *token_type);

/* an error code of the provider, made fit to log and show: error codes
 * are made of letters, digits, "_" and "-"; anything else is "invalid" */
void ngx_http_oauth2_error_code(ngx_str_t *error);


#endif /* _NGX_HTTP_OAUTH2_HANDLER_H_INCLUDED_ */
