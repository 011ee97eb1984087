
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


#ifndef _NGX_HTTP_OAUTH2_HTTP_H_INCLUDED_
#define _NGX_HTTP_OAUTH2_HTTP_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/*
 * The non-blocking HTTP client: libcurl's multi_socket interface driven
 * by nginx's events and one timer, one multi handle per worker.
 *
 * A fetch lives in a pool given by its owner.  Destroying that pool while
 * the transfer runs cancels it (a pool cleanup removes the easy handle),
 * and the completion handler is then never called.  A running fetch reads
 * nothing of its caller's: ngx_http_oauth2_fetch_start() copies url and
 * ca_file into the fetch's pool (url is read again when the transfer
 * ends), and hands body, authorization, accept and user_agent to libcurl,
 * which copies them; so they may point into memory that goes before the
 * transfer ends, such as the provider's metadata, which a refetch
 * replaces.  The handler is called
 * once, from an nginx event handler, never from inside a libcurl callback;
 * it may start new fetches and may destroy the fetch's pool.
 *
 * Zero timeouts, a zero max_size and empty accept and user_agent take the
 * defaults (5 s to connect, 10 s in all, 1 MiB, application/json, the
 * module's name).  rc is NGX_OK when an HTTP response was received,
 * whatever its status; error is then NULL.  Otherwise response is empty,
 * error a short cause ("connection refused", "timed out", "response too
 * large"...) and detail libcurl's own message, for the log (no secrets).
 */


typedef struct ngx_http_oauth2_fetch_s  ngx_http_oauth2_fetch_t;

typedef void (*ngx_http_oauth2_fetch_pt)(ngx_http_oauth2_fetch_t *f);


struct ngx_http_oauth2_fetch_s {
    /* set by the caller before ngx_http_oauth2_fetch_start() */
    ngx_str_t                   url;
    ngx_str_t                   body;          /* POST form body if set */
    ngx_str_t                   authorization; /* Authorization value */
    ngx_str_t                   accept;        /* default application/json */
    ngx_str_t                   user_agent;    /* default module's own */
    ngx_str_t                   ca_file;       /* extra trusted CAs */
    ngx_msec_t                  connect_timeout;
    ngx_msec_t                  timeout;
    size_t                      max_size;

    ngx_http_oauth2_fetch_pt    handler;
    void                       *data;

    /* what the caller names in its log lines: provider and endpoint */
    ngx_str_t                   provider;
    const char                 *endpoint;

    /* results, valid in the handler */
    ngx_int_t                   rc;            /* NGX_OK or NGX_ERROR */
    ngx_uint_t                  status;        /* HTTP status, 0 if none */
    ngx_str_t                   content_type;
    ngx_str_t                   response;      /* NUL-terminated */
    const char                 *error;         /* cause when rc != NGX_OK */
    const char                 *detail;        /* libcurl's own message */
    ngx_msec_t                  elapsed;

    /* private */
    ngx_pool_t                 *pool;
    ngx_log_t                  *log;
    void                       *easy;
    void                       *headers;
    ngx_buf_t                  *buf;
    ngx_msec_t                  start;
    ngx_queue_t                 queue;         /* in the worker's list */
    unsigned                    running:1;
    unsigned                    oversize:1;
    unsigned                    aborted:1;
    char                       *errbuf;
};


ngx_http_oauth2_fetch_t *ngx_http_oauth2_fetch_create(ngx_pool_t *pool,
    ngx_log_t *log);
ngx_int_t ngx_http_oauth2_fetch_start(ngx_http_oauth2_fetch_t *f);
void ngx_http_oauth2_fetch_cancel(ngx_http_oauth2_fetch_t *f);

ngx_int_t ngx_http_oauth2_http_init_process(ngx_cycle_t *cycle);
void ngx_http_oauth2_http_exit_process(ngx_cycle_t *cycle);


#endif /* _NGX_HTTP_OAUTH2_HTTP_H_INCLUDED_ */
