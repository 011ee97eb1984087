
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * Session cookies opened (ngx_http_oauth2_seal.h) and decoded
 * (ngx_http_oauth2_codec.h) through a per-process cache of the sessions
 * opened before.
 */


#ifndef _NGX_HTTP_OAUTH2_OCACHE_H_INCLUDED_
#define _NGX_HTTP_OAUTH2_OCACHE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_oauth2_seal.h"
#include "ngx_http_oauth2_codec.h"


typedef struct {
    size_t                     size;            /* configured */
    size_t                     used;            /* by the entries */
    ngx_uint_t                 entries;
    ngx_uint_t                 hits;            /* since the start */
    ngx_uint_t                 misses;
} ngx_http_oauth2_ocache_stats_t;


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

/* the process's cache as it is now (tests, debugging) */
void ngx_http_oauth2_open_cache_stats(ngx_http_oauth2_ocache_stats_t *stats);

/* frees the process's cache, its plaintexts zeroed (exit_process) */
void ngx_http_oauth2_ocache_exit(void);


#endif /* _NGX_HTTP_OAUTH2_OCACHE_H_INCLUDED_ */
