
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * The session and the login state, and their compact binary encodings:
 * the plaintexts that ngx_http_oauth2_seal.h seals into cookies.  The
 * exact format is in docs/session-format.md.
 */


#ifndef _NGX_HTTP_OAUTH2_CODEC_H_INCLUDED_
#define _NGX_HTTP_OAUTH2_CODEC_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_module.h"


/*
 * A claim kept in the session, with its JSON type (NGX_HTTP_OAUTH2_CLAIM_*):
 * value is a string's text, a number as the provider wrote it, "true" or
 * "false", or for an array of strings its elements, each a string of the
 * plaintext encoding (a varint length and the bytes): walk them with
 * ngx_http_oauth2_claim_element().  Nothing in it holds a byte below 0x20
 * or DEL.
 */
typedef struct {
    ngx_str_t                  name;
    ngx_str_t                  value;
    ngx_uint_t                 type;
} ngx_http_oauth2_claim_t;


typedef struct {
    time_t                     expires;         /* session ends */
    time_t                     created;         /* login time */
    time_t                     access_expires;  /* 0: unknown */
    time_t                     seen;            /* last activity, 0: none */
    ngx_str_t                  sub;
    ngx_str_t                  email;           /* verified; empty: none */
    ngx_array_t                claims;          /* ngx_http_oauth2_claim_t */
    ngx_str_t                  access_token;    /* empty if not stored */
    ngx_str_t                  refresh_token;
    ngx_str_t                  id_token;
} ngx_http_oauth2_session_t;


typedef struct {
    time_t                     created;
    ngx_str_t                  state;
    ngx_str_t                  nonce;
    ngx_str_t                  verifier;        /* PKCE code_verifier */
    ngx_str_t                  return_url;
} ngx_http_oauth2_login_state_t;


/*
 * Compact binary encodings of the two sealed structures.  decode points
 * the strings into plain (no copies; keep plain alive), allocates only the
 * claims array, and returns NGX_DECLINED for anything malformed.
 */
ngx_int_t ngx_http_oauth2_session_encode(ngx_pool_t *pool,
    ngx_http_oauth2_session_t *s, ngx_str_t *plain);
ngx_int_t ngx_http_oauth2_session_decode(ngx_pool_t *pool, ngx_str_t *plain,
    ngx_http_oauth2_session_t *s);
ngx_int_t ngx_http_oauth2_state_encode(ngx_pool_t *pool,
    ngx_http_oauth2_login_state_t *st, ngx_str_t *plain);
ngx_int_t ngx_http_oauth2_state_decode(ngx_pool_t *pool, ngx_str_t *plain,
    ngx_http_oauth2_login_state_t *st);

/* the next element of an array claim's value: NGX_OK, NGX_DONE after the
 * last one, NGX_DECLINED if malformed */
ngx_int_t ngx_http_oauth2_claim_element(u_char **pos, u_char *last,
    ngx_str_t *element);


#endif /* _NGX_HTTP_OAUTH2_CODEC_H_INCLUDED_ */
