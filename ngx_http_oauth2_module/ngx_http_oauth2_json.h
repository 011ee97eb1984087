
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


#ifndef _NGX_HTTP_OAUTH2_JSON_H_INCLUDED_
#define _NGX_HTTP_OAUTH2_JSON_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <yajl/yajl_tree.h>


/*
 * A thin layer over yajl's tree parser.  The tree is freed by a cleanup
 * of the pool it was parsed in; strings returned point into the tree.
 */


/* parses len bytes (need not be NUL-terminated); NULL and *err on error */
yajl_val ngx_http_oauth2_json_parse(ngx_pool_t *pool, u_char *data,
    size_t len, const char **err);

/* the member of an object, NULL if absent or if obj is not an object */
yajl_val ngx_http_oauth2_json_get(yajl_val obj, const char *name);

/* the member as a string: NGX_OK, NGX_DECLINED if absent, NGX_ERROR if of
 * another type */
ngx_int_t ngx_http_oauth2_json_string(yajl_val obj, const char *name,
    ngx_str_t *value);

/* the member as an integer (JSON number without fraction) */
ngx_int_t ngx_http_oauth2_json_int(yajl_val obj, const char *name,
    int64_t *value);

/* a claim value as text: strings as they are, numbers and booleans as in
 * JSON, arrays of scalars joined with commas; allocated in pool */
ngx_int_t ngx_http_oauth2_json_text(ngx_pool_t *pool, yajl_val v,
    ngx_str_t *text);


#endif /* _NGX_HTTP_OAUTH2_JSON_H_INCLUDED_ */
