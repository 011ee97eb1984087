
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * The OAuth 2.0 protocol pieces that several calls share: the fields of
 * a token response and their checks, form and query parameters (encoding
 * and parsing), and client authentication.  No request state.
 * (ngx_http_oauth2_token.c)
 */


#ifndef _NGX_HTTP_OAUTH2_TOKEN_H_INCLUDED_
#define _NGX_HTTP_OAUTH2_TOKEN_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_module.h"
#include "ngx_http_oauth2_http.h"
#include "ngx_http_oauth2_json.h"
#include "ngx_http_oauth2_form.h"


/* the fields of a token endpoint's answer (RFC 6749, 5.1 and 5.2) */
typedef struct {
    ngx_str_t                       error;
    ngx_str_t                       access_token;
    ngx_str_t                       token_type;
    ngx_str_t                       refresh_token;
    ngx_str_t                       id_token;
    time_t                          expires_in;  /* 0: absent or absurd */
} ngx_http_oauth2_token_fields_t;


size_t ngx_http_oauth2_param_len(const char *name, ngx_str_t *value);
/* "name=value&" with the value percent-encoded, and its length */
u_char *ngx_http_oauth2_add_param(u_char *p, const char *name,
    ngx_str_t *value);
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

#define NGX_HTTP_OAUTH2_ASSERTION_TYPE                                       \
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


/* a parameter of a form body */
typedef struct {
    const char                     *name;
    ngx_str_t                      *value;
} ngx_http_oauth2_param_t;

/*
 * The form body of a call that authenticates the client (code exchange,
 * refresh, revocation, introspection, a pushed authorization request):
 * params, up to a NULL name (a NULL value is left out), then the
 * client's credentials as
 * client_auth_method says: client_id (and client_secret) in the body, an
 * Authorization header (client_secret_basic), or client_id with a fresh
 * signed client_assertion (private_key_jwt, client_secret_jwt; its "aud"
 * is the token endpoint of the provider's metadata, which must be
 * there, or client_assertion_audience).
 */
ngx_int_t ngx_http_oauth2_client_request(ngx_pool_t *pool,
    ngx_http_oauth2_provider_t *p, ngx_http_oauth2_param_t *params,
    ngx_http_oauth2_fetch_t *f);

/* endpoint with params (a NULL value is left out) and extra, a query
 * string as it is, added to its query */
ngx_int_t ngx_http_oauth2_endpoint_url(ngx_pool_t *pool,
    ngx_str_t *endpoint, ngx_http_oauth2_param_t *params, ngx_str_t *extra,
    ngx_str_t *url);


#endif /* _NGX_HTTP_OAUTH2_TOKEN_H_INCLUDED_ */
