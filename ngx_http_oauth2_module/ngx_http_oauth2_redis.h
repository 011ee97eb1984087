
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


#ifndef _NGX_HTTP_OAUTH2_REDIS_H_INCLUDED_
#define _NGX_HTTP_OAUTH2_REDIS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/*
 * A worker's connection to Redis: hiredis's asynchronous context on
 * nginx's events and timers.  Commands never block: while the connection
 * is down, ngx_http_oauth2_redis_command() says NGX_DECLINED at once.
 */


typedef struct {
    ngx_str_t                       url;       /* for logs, no password */
    ngx_str_t                       host;      /* an IP address, or */
    ngx_str_t                       path;      /* a unix socket */
    in_port_t                       port;
    ngx_uint_t                      db;
    ngx_str_t                       user;      /* ACL user, or empty */
    ngx_str_t                       password;  /* or empty */
    ngx_msec_t                      connect_timeout;
    ngx_msec_t                      command_timeout;
} ngx_http_oauth2_redis_conf_t;


typedef struct ngx_http_oauth2_redis_s  ngx_http_oauth2_redis_t;

/* a command's reply: reply is a redisReply *, or NULL when the command
 * failed (connection lost, timeout, shutdown) */
typedef void (*ngx_http_oauth2_redis_reply_pt)(void *data, void *reply);

/* the connection is ready (after AUTH and SELECT) */
typedef void (*ngx_http_oauth2_redis_ready_pt)(void *data);


/* parses "redis://[user:password@]ip[:port][/db]" or "unix:/path[?db=N]"
 * into conf; NGX_ERROR with err set to the reason */
ngx_int_t ngx_http_oauth2_redis_parse_url(ngx_pool_t *pool, ngx_str_t *url,
    ngx_http_oauth2_redis_conf_t *conf, char **err);

#if (NGX_HTTP_OAUTH2_REDIS)

/* a client that connects now and reconnects with backoff; ready is
 * called each time it is (again) usable */
ngx_http_oauth2_redis_t *ngx_http_oauth2_redis_create(
    ngx_http_oauth2_redis_conf_t *conf, ngx_log_t *log, const char *name,
    ngx_http_oauth2_redis_ready_pt ready, void *data);

/* closes the connection; pending callbacks are called with NULL */
void ngx_http_oauth2_redis_destroy(ngx_http_oauth2_redis_t *rd);

ngx_uint_t ngx_http_oauth2_redis_ready(ngx_http_oauth2_redis_t *rd);

/*
 * Sends a command (arguments as in redisAsyncCommandArgv).  NGX_OK: cb is
 * called later with its reply or NULL; NGX_DECLINED: not connected, cb
 * is never called.  A subscribing command (SUBSCRIBE) calls cb for each
 * message and takes the connection out of the command timeout.
 */
ngx_int_t ngx_http_oauth2_redis_command(ngx_http_oauth2_redis_t *rd,
    ngx_http_oauth2_redis_reply_pt cb, void *data, int argc,
    const char **argv, const size_t *argvlen);

/* marks the connection as subscribed: no command timeout on it */
void ngx_http_oauth2_redis_subscribed(ngx_http_oauth2_redis_t *rd);

#endif


#endif /* _NGX_HTTP_OAUTH2_REDIS_H_INCLUDED_ */
