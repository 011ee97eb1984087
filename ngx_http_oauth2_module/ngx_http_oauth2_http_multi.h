
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


#ifndef _NGX_HTTP_OAUTH2_HTTP_MULTI_H_INCLUDED_
#define _NGX_HTTP_OAUTH2_HTTP_MULTI_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include <curl/curl.h>


/*
 * The worker's libcurl multi handle, driven by nginx events and one
 * timer.  Only ngx_http_oauth2_http.c calls it: everyone else starts
 * fetches through ngx_http_oauth2_http.h, which documents the fetch
 * below; it is declared here, the lowest file that reads its fields.
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
    ngx_str_t                   proxy;         /* http://host:port or "" */
    ngx_str_t                   proxy_user;    /* its credentials, or "" */
    ngx_str_t                   proxy_password;
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


/* called once per transfer that ends, from an nginx event handler and
 * never from inside a libcurl callback; code is libcurl's result */
typedef void (*ngx_http_oauth2_http_done_pt)(ngx_http_oauth2_fetch_t *f,
    CURLcode code);


/* makes the worker's multi handle; done ends the transfers */
ngx_int_t ngx_http_oauth2_http_multi_init(ngx_cycle_t *cycle,
    ngx_http_oauth2_http_done_pt done);

/* removes every transfer (no handler is called), then the multi handle */
void ngx_http_oauth2_http_multi_exit(ngx_cycle_t *cycle);

/* 1 if this process has a multi handle */
ngx_uint_t ngx_http_oauth2_http_multi_running(void);

/* runs the easy handle, set up by the caller, as f's transfer: f->easy,
 * f->running and f->queue are set */
ngx_int_t ngx_http_oauth2_http_multi_add(ngx_http_oauth2_fetch_t *f,
    void *easy);

/* takes f's transfer out of libcurl and frees its easy handle and
 * f->headers; no handler is called */
void ngx_http_oauth2_http_multi_remove(ngx_http_oauth2_fetch_t *f);


#endif /* _NGX_HTTP_OAUTH2_HTTP_MULTI_H_INCLUDED_ */
