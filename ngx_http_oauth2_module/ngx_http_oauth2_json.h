
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


#ifndef _NGX_HTTP_OAUTH2_JSON_H_INCLUDED_
#define _NGX_HTTP_OAUTH2_JSON_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <yajl/yajl_tree.h>


/* documents nested deeper than this are rejected before parsing */
#define NGX_HTTP_OAUTH2_JSON_MAX_DEPTH  64


/*
 * A thin layer over yajl's tree parser.  The tree is freed by a cleanup
 * of the pool it was parsed in; strings returned point into the tree.
 */


/*
 * parses len bytes (need not be NUL-terminated); NULL and *err on error;
 * *err is a fixed message that never quotes the input.  Comments, "\u0000"
 * escapes and nesting deeper than NGX_HTTP_OAUTH2_JSON_MAX_DEPTH are
 * rejected.
 */
yajl_val ngx_http_oauth2_json_parse(ngx_pool_t *pool, u_char *data,
    size_t len, const char **err);

/* the member of an object, NULL if absent or if obj is not an object;
 * the last one if the name is repeated (RFC 7519, section 4) */
yajl_val ngx_http_oauth2_json_get(yajl_val obj, const char *name);

/* the member as a string: NGX_OK, NGX_DECLINED if absent, NGX_ERROR if of
 * another type */
ngx_int_t ngx_http_oauth2_json_string(yajl_val obj, const char *name,
    ngx_str_t *value);

/* the member as an integer (JSON number without fraction) */
ngx_int_t ngx_http_oauth2_json_int(yajl_val obj, const char *name,
    int64_t *value);

/*
 * The member as a whole number of seconds: a NumericDate (RFC 7519,
 * section 2) or a duration.  Any JSON number, with a fraction or an
 * exponent too, rounded down or, with round_up, up, so that the caller
 * rounds toward its safe side (down for an expiry, up for a start).
 * NGX_DECLINED if absent; NGX_ERROR if not a number (a string, say), or
 * negative, or past NGX_HTTP_OAUTH2_JSON_MAX_SECONDS (the end of 9999).
 */
#define NGX_HTTP_OAUTH2_JSON_MAX_SECONDS  ((int64_t) 253402300799LL)

ngx_int_t ngx_http_oauth2_json_seconds(yajl_val obj, const char *name,
    ngx_uint_t round_up, int64_t *value);

/* a claim value as text: strings as they are, numbers and booleans as in
 * JSON, arrays of scalars joined with commas; allocated in pool; null is
 * an empty string; NGX_DECLINED for v NULL, objects and arrays holding
 * objects or arrays, NGX_ERROR if out of memory */
ngx_int_t ngx_http_oauth2_json_text(ngx_pool_t *pool, yajl_val v,
    ngx_str_t *text);

/*
 * a claim as the session keeps it: *type is an NGX_HTTP_OAUTH2_CLAIM_*,
 * *value its text or, for an array of strings, its elements each encoded
 * as a string of the session plaintext (docs/session-format.md); NGX_OK,
 * NGX_DECLINED for null (*err NULL) or for what cannot be kept (*err says
 * why: an object, an array holding other than strings, a string with a
 * byte below 0x20 or DEL), NGX_ERROR if out of memory.  An array element
 * with such a byte is left out and *err set, with NGX_OK.  *err never
 * quotes the value.
 */
ngx_int_t ngx_http_oauth2_json_claim(ngx_pool_t *pool, yajl_val v,
    ngx_uint_t *type, ngx_str_t *value, const char **err);


#endif /* _NGX_HTTP_OAUTH2_JSON_H_INCLUDED_ */
