
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


#ifndef _NGX_HTTP_OAUTH2_SESSION_H_INCLUDED_
#define _NGX_HTTP_OAUTH2_SESSION_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_module.h"


/*
 * Sealed cookies.  A sealed value is base64url(version | nonce | AES-256-GCM
 * ciphertext | tag) with the cookie's name (and purpose) as additional data,
 * so a value cannot be moved to another cookie.  The exact format is in
 * docs/session-format.md; t/tools/seal.js implements the same for tests.
 */


#define NGX_HTTP_OAUTH2_SEAL_SESSION   0
#define NGX_HTTP_OAUTH2_SEAL_STATE     1


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


/* derives the session and state keys from one secret (HKDF-SHA256) */
ngx_int_t ngx_http_oauth2_derive_keys(ngx_str_t *secret,
    ngx_http_oauth2_keys_t *keys);

/* frees the process's cached cipher contexts (exit_process) */
void ngx_http_oauth2_session_exit(void);

/* seal with the first key; purpose selects the session or state key.
 * plain is left alone: ngx_explicit_memzero() it once sealed if it holds
 * tokens */
ngx_int_t ngx_http_oauth2_seal(ngx_pool_t *pool, ngx_array_t *keys,
    ngx_uint_t purpose, ngx_str_t *aad, ngx_str_t *plain, ngx_str_t *sealed);

/* open with any key: NGX_OK (*index = the key that opened it; index may
 * be NULL), NGX_DECLINED for anything that does not open, NGX_ERROR only
 * for memory or OpenSSL failures; the plaintext is in pool */
ngx_int_t ngx_http_oauth2_open(ngx_pool_t *pool, ngx_array_t *keys,
    ngx_uint_t purpose, ngx_str_t *aad, ngx_str_t *sealed, ngx_str_t *plain,
    ngx_uint_t *index);

/*
 * A session cookie opened and decoded into session, through a per-process
 * cache of the sessions opened before, which takes up to cache_size bytes
 * (0: no cache): NGX_OK (*index as ngx_http_oauth2_open() sets it),
 * NGX_DECLINED if it does not open, NGX_ABORT if it opens but is no
 * session, NGX_ERROR for memory or OpenSSL failures.  The session is in
 * pool, whether it came from the cache or not.
 */
ngx_int_t ngx_http_oauth2_session_open_cached(ngx_pool_t *pool,
    size_t cache_size, ngx_array_t *keys, ngx_str_t *name, ngx_str_t *sealed,
    ngx_http_oauth2_session_t *session, ngx_uint_t *index);

typedef struct {
    size_t                     size;            /* configured */
    size_t                     used;            /* by the entries */
    ngx_uint_t                 entries;
    ngx_uint_t                 hits;            /* since the start */
    ngx_uint_t                 misses;
} ngx_http_oauth2_ocache_stats_t;

/* the process's cache as it is now (tests, debugging) */
void ngx_http_oauth2_open_cache_stats(ngx_http_oauth2_ocache_stats_t *stats);

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

/*
 * What a walk saw of one Cookie header: the pairs that are not the named
 * cookie's (nor its chunks' or state cookies') are start..end, unless one
 * of ours sits between two of them (split).  cookie_get keeps it for a
 * request's only Cookie header, so that cookie_strip need not walk the
 * header again.
 */
typedef struct {
    ngx_str_t                 *name;
    ngx_table_elt_t           *header;    /* NULL: nothing to reuse */
    u_char                    *data;      /* the header's value as seen */
    size_t                     len;
    u_char                    *start;     /* NULL: no pair but ours */
    u_char                    *end;
    unsigned                   own:1;     /* at least one pair is ours */
    unsigned                   split:1;
} ngx_http_oauth2_cookie_scan_t;

/*
 * Request cookies.  cookie_get finds a cookie by name, reassembling a
 * value split over numbered chunks; NGX_DECLINED if absent or if its
 * chunks are inconsistent.  The first of several same-named cookies wins.
 * The value points into the request headers (or, reassembled, r->pool).
 * scan, if not NULL, is filled for cookie_strip.  Works with nginx before
 * and after 1.23's change of r->headers_in.cookies.
 */
ngx_int_t ngx_http_oauth2_cookie_get(ngx_http_request_t *r, ngx_str_t *name,
    ngx_str_t *value, ngx_http_oauth2_cookie_scan_t *scan);

/* calls handler for every request cookie whose name starts with prefix;
 * a handler result other than NGX_OK stops the walk and is returned */
typedef ngx_int_t (*ngx_http_oauth2_cookie_pt)(ngx_http_request_t *r,
    ngx_str_t *name, ngx_str_t *value, void *data);
ngx_int_t ngx_http_oauth2_cookie_each(ngx_http_request_t *r,
    ngx_str_t *prefix, ngx_http_oauth2_cookie_pt handler, void *data);

/*
 * Adds Set-Cookie headers: HttpOnly, SameSite=Lax, Path=/, Secure if
 * secure, Domain if given, Max-Age=max_age (0 deletes, negative leaves
 * Max-Age out: a browser-session cookie).  A value longer than one cookie
 * may hold is split over numbered chunks, and chunks a previous, longer
 * value left behind are deleted.  NGX_DECLINED: the value is too long
 * even for 16 chunks, nothing was set.
 */
/* at most the bytes a value of len bytes set by cookie_set takes in a
 * request's Cookie header, chunks included */
size_t ngx_http_oauth2_cookie_wire_len(ngx_str_t *name, size_t len);

ngx_int_t ngx_http_oauth2_cookie_set(ngx_http_request_t *r, ngx_str_t *name,
    ngx_str_t *value, time_t max_age, ngx_uint_t secure, ngx_str_t *domain);

/*
 * Removes the cookie named prefix and those named prefix followed by "_"
 * (its chunks and state cookies) from the request headers passed
 * upstream: what is left of a header is the piece of it from the first
 * other pair to the last, unless one of ours sat between two others (then
 * those after it are joined with "; "); a header left empty is dropped.
 * scan (may be NULL) is what cookie_get saw for the same prefix: if the
 * header still has that value, the walk is spared.
 */
ngx_int_t ngx_http_oauth2_cookie_strip(ngx_http_request_t *r,
    ngx_str_t *prefix, ngx_http_oauth2_cookie_scan_t *scan);


/*
 * The request's Cookie headers as they are now (*saved NULL: there are
 * none), whether a strip changed them since, and swapping the headers'
 * values with the saved ones (twice: as they were): a location that
 * strips the module's cookies without using them may internally redirect
 * to one that needs them, or make a subrequest into one.
 */
typedef struct {
    ngx_table_elt_t           *header;
    ngx_str_t                  value;
    ngx_uint_t                 hash;
} ngx_http_oauth2_cookie_saved_t;

ngx_int_t ngx_http_oauth2_cookie_save(ngx_http_request_t *r,
    ngx_array_t **saved);
ngx_uint_t ngx_http_oauth2_cookie_changed(ngx_array_t *saved);
void ngx_http_oauth2_cookie_swap(ngx_array_t *saved);

#endif /* _NGX_HTTP_OAUTH2_SESSION_H_INCLUDED_ */
