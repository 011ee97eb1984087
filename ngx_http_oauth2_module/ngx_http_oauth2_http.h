
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


#ifndef _NGX_HTTP_OAUTH2_HTTP_H_INCLUDED_
#define _NGX_HTTP_OAUTH2_HTTP_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_oauth2_http_multi.h"


/*
 * The non-blocking HTTP client: libcurl's multi_socket interface driven
 * by nginx's events and one timer, one multi handle per worker
 * (ngx_http_oauth2_http_multi.c, where the fetch's struct is declared).
 *
 * A fetch lives in a pool given by its owner.  Destroying that pool while
 * the transfer runs cancels it (a pool cleanup removes the easy handle),
 * and the completion handler is then never called.  A running fetch reads
 * nothing of its caller's: ngx_http_oauth2_fetch_start() copies url and
 * ca_file into the fetch's pool (url is read again when the transfer
 * ends), and hands body, authorization, accept, user_agent and proxy to
 * libcurl, which copies them; so they may point into memory that goes
 * before the transfer ends, such as the provider's metadata, which a
 * refetch replaces.  The handler is called once, from an nginx event
 * handler, never from inside a libcurl callback;
 * it may start new fetches and may destroy the fetch's pool.
 *
 * An empty proxy means none: http_proxy and the like in the environment
 * are ignored either way.
 *
 * Zero timeouts, a zero max_size and empty accept and user_agent take the
 * defaults (5 s to connect, 10 s in all, 1 MiB, application/json, the
 * module's name).  rc is NGX_OK when an HTTP response was received,
 * whatever its status; error is then NULL.  Otherwise response is empty,
 * error a short cause ("connection refused", "timed out", "response too
 * large"...) and detail libcurl's own message, for the log (no secrets).
 */


ngx_http_oauth2_fetch_t *ngx_http_oauth2_fetch_create(ngx_pool_t *pool,
    ngx_log_t *log);
ngx_int_t ngx_http_oauth2_fetch_start(ngx_http_oauth2_fetch_t *f);
void ngx_http_oauth2_fetch_cancel(ngx_http_oauth2_fetch_t *f);

ngx_int_t ngx_http_oauth2_http_init_process(ngx_cycle_t *cycle);
void ngx_http_oauth2_http_exit_process(ngx_cycle_t *cycle);


#endif /* _NGX_HTTP_OAUTH2_HTTP_H_INCLUDED_ */
