
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * The Redis client: hiredis's asynchronous context on nginx's events and
 * timers, one per use in each worker, and the oauth2_redis URL parser.
 *
 * hiredis owns the socket: it opens it (a non-blocking connect to an IP
 * address or a unix socket: no name is resolved here), reads, writes and
 * closes it.  We take an nginx connection for its descriptor with
 * ngx_get_connection() and hiredis's event hooks (addRead, delRead,
 * addWrite, delWrite) add and delete its events, level-triggered like
 * the libcurl client's; cleanup gives the connection back with
 * ngx_free_connection() and its fd set to -1, never closing it.
 *
 * hiredis 0.14 has no timeouts of its own: one timer per client serves
 * as the connect timeout, the command timeout (armed while replies are
 * awaited, re-armed by each reply), and the reconnect backoff.  A timeout
 * frees the context from the timer's handler, never from inside a
 * hiredis callback; hiredis then calls every pending callback with NULL.
 *
 * Each new connection sends AUTH and SELECT when configured and a PING;
 * the client is ready on their replies.  The first failure after the
 * client was ready (or at start) logs one error line; the next success
 * logs that Redis is back.  Nothing else is logged per request.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_redis.h"

#if (NGX_HTTP_OAUTH2_REDIS)
#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#endif


#define NGX_HTTP_OAUTH2_REDIS_BACKOFF_MIN  100
#define NGX_HTTP_OAUTH2_REDIS_BACKOFF_MAX  2000


ngx_int_t
ngx_http_oauth2_redis_parse_url(ngx_pool_t *pool, ngx_str_t *url,
    ngx_http_oauth2_redis_conf_t *conf, char **err)
{
    u_char     *p, *last, *at, *colon, *slash;
    ngx_int_t   n;
    in_addr_t   addr;

    p = url->data;
    last = p + url->len;

    if (url->len > 5 && ngx_strncmp(p, "unix:", 5) == 0) {
        p += 5;

        for (at = p; at < last && *at != '?'; at++) { /* void */ }

        if (at == p || *p != '/') {
            *err = "needs an absolute path after \"unix:\"";
            return NGX_ERROR;
        }

        conf->path.len = at - p;
        conf->path.data = ngx_pnalloc(pool, conf->path.len + 1);
        if (conf->path.data == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(conf->path.data, p, conf->path.len);
        conf->path.data[conf->path.len] = '\0';

        if (at < last) {
            if (last - at < 5 || ngx_strncmp(at, "?db=", 4) != 0) {
                *err = "accepts only \"?db=N\" after a unix socket path";
                return NGX_ERROR;
            }

            n = ngx_atoi(at + 4, last - at - 4);
            if (n == NGX_ERROR || n > 255) {
                *err = "has an invalid database number";
                return NGX_ERROR;
            }

            conf->db = n;
        }

        conf->url.len = sizeof("unix:") - 1 + conf->path.len;
        conf->url.data = ngx_pnalloc(pool, conf->url.len);
        if (conf->url.data == NULL) {
            return NGX_ERROR;
        }

        ngx_sprintf(conf->url.data, "unix:%V", &conf->path);

        return NGX_OK;
    }

    if (url->len < 9 || ngx_strncmp(p, "redis://", 8) != 0) {
        *err = "must start with \"redis://\" or \"unix:\"";
        return NGX_ERROR;
    }

    p += 8;

    at = ngx_strlchr(p, last, '@');

    if (at != NULL) {
        colon = ngx_strlchr(p, at, ':');

        if (colon == NULL) {
            *err = "needs \"user:password@\" (the user may be empty)";
            return NGX_ERROR;
        }

        conf->user.data = p;
        conf->user.len = colon - p;
        conf->password.data = colon + 1;
        conf->password.len = at - colon - 1;
        p = at + 1;
    }

    slash = ngx_strlchr(p, last, '/');

    if (slash != NULL) {
        if (slash + 1 < last) {
            n = ngx_atoi(slash + 1, last - slash - 1);
            if (n == NGX_ERROR || n > 255) {
                *err = "has an invalid database number";
                return NGX_ERROR;
            }

            conf->db = n;
        }

        last = slash;
    }

    colon = ngx_strlchr(p, last, ':');
    conf->port = 6379;

    if (colon != NULL) {
        n = ngx_atoi(colon + 1, last - colon - 1);
        if (n < 1 || n > 65535) {
            *err = "has an invalid port";
            return NGX_ERROR;
        }

        conf->port = (in_port_t) n;
        last = colon;
    }

    if (last - p == sizeof("localhost") - 1
        && ngx_strncmp(p, "localhost", last - p) == 0)
    {
        ngx_str_set(&conf->host, "127.0.0.1");
        goto done;
    }

    /* hiredis resolves names with a blocking getaddrinfo(): only
     * addresses are accepted */

    addr = ngx_inet_addr(p, last - p);

    if (addr == INADDR_NONE) {
        *err = "needs an IPv4 address (a name would be resolved blocking)";
        return NGX_ERROR;
    }

    conf->host.len = last - p;
    conf->host.data = ngx_pnalloc(pool, conf->host.len + 1);
    if (conf->host.data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(conf->host.data, p, conf->host.len);
    conf->host.data[conf->host.len] = '\0';

done:

    /* for logs: without the credentials */

    conf->url.data = ngx_pnalloc(pool, sizeof("redis://:65535/255")
                                       + conf->host.len);
    if (conf->url.data == NULL) {
        return NGX_ERROR;
    }

    conf->url.len = ngx_sprintf(conf->url.data, "redis://%V:%d/%ui",
                                &conf->host, (int) conf->port, conf->db)
                    - conf->url.data;

    return NGX_OK;
}


#if (NGX_HTTP_OAUTH2_REDIS)


#define NGX_HTTP_OAUTH2_REDIS_DOWN         0
#define NGX_HTTP_OAUTH2_REDIS_CONNECTING   1
#define NGX_HTTP_OAUTH2_REDIS_READY        2


struct ngx_http_oauth2_redis_s {
    ngx_http_oauth2_redis_conf_t   *conf;
    ngx_log_t                      *log;
    const char                     *name;
    redisAsyncContext              *ac;
    ngx_connection_t               *connection;
    ngx_event_t                     timer;
    ngx_msec_t                      backoff;
    ngx_uint_t                      state;
    ngx_uint_t                      pending;   /* replies awaited */
    ngx_http_oauth2_redis_ready_pt  ready;
    void                           *data;
    unsigned                        outage:1;  /* logged */
    unsigned                        subscribed:1;
    unsigned                        destroyed:1;
};


typedef struct {
    ngx_http_oauth2_redis_t        *rd;
    ngx_http_oauth2_redis_reply_pt  handler;
    void                           *data;
    unsigned                        subscribe:1;
} ngx_http_oauth2_redis_cmd_t;


static void ngx_http_oauth2_redis_connect(ngx_http_oauth2_redis_t *rd);
static void ngx_http_oauth2_redis_down(ngx_http_oauth2_redis_t *rd,
    const char *why);
static void ngx_http_oauth2_redis_drop(ngx_http_oauth2_redis_t *rd,
    const char *why);
static void ngx_http_oauth2_redis_timer(ngx_event_t *ev);
static void ngx_http_oauth2_redis_on_connect(const redisAsyncContext *ac,
    int status);
static void ngx_http_oauth2_redis_on_disconnect(const redisAsyncContext *ac,
    int status);
static void ngx_http_oauth2_redis_hello(redisAsyncContext *ac, void *r,
    void *data);
static void ngx_http_oauth2_redis_reply(redisAsyncContext *ac, void *r,
    void *data);
static void ngx_http_oauth2_redis_event(ngx_event_t *ev);
static void ngx_http_oauth2_redis_add_read(void *data);
static void ngx_http_oauth2_redis_del_read(void *data);
static void ngx_http_oauth2_redis_add_write(void *data);
static void ngx_http_oauth2_redis_del_write(void *data);
static void ngx_http_oauth2_redis_cleanup(void *data);
static void ngx_http_oauth2_redis_watch(ngx_event_t *ev, ngx_int_t event,
    ngx_uint_t want);


ngx_http_oauth2_redis_t *
ngx_http_oauth2_redis_create(ngx_http_oauth2_redis_conf_t *conf,
    ngx_log_t *log, const char *name, ngx_http_oauth2_redis_ready_pt ready,
    void *data)
{
    ngx_http_oauth2_redis_t  *rd;

    rd = ngx_calloc(sizeof(ngx_http_oauth2_redis_t), log);
    if (rd == NULL) {
        return NULL;
    }

    rd->conf = conf;
    rd->log = log;
    rd->name = name;
    rd->ready = ready;
    rd->data = data;
    rd->backoff = NGX_HTTP_OAUTH2_REDIS_BACKOFF_MIN;

    rd->timer.handler = ngx_http_oauth2_redis_timer;
    rd->timer.data = rd;
    rd->timer.log = log;
    rd->timer.cancelable = 1;

    ngx_http_oauth2_redis_connect(rd);

    return rd;
}


void
ngx_http_oauth2_redis_destroy(ngx_http_oauth2_redis_t *rd)
{
    redisAsyncContext  *ac;

    if (rd == NULL) {
        return;
    }

    rd->destroyed = 1;

    if (rd->timer.timer_set) {
        ngx_del_timer(&rd->timer);
    }

    ac = rd->ac;
    rd->ac = NULL;

    if (ac != NULL) {
        redisAsyncFree(ac);
    }

    ngx_free(rd);
}


ngx_uint_t
ngx_http_oauth2_redis_ready(ngx_http_oauth2_redis_t *rd)
{
    return rd != NULL && rd->state == NGX_HTTP_OAUTH2_REDIS_READY;
}


ngx_int_t
ngx_http_oauth2_redis_command(ngx_http_oauth2_redis_t *rd,
    ngx_http_oauth2_redis_reply_pt cb, void *data, int argc,
    const char **argv, const size_t *argvlen)
{
    ngx_http_oauth2_redis_cmd_t  *cmd;

    if (!ngx_http_oauth2_redis_ready(rd)) {
        return NGX_DECLINED;
    }

    cmd = ngx_alloc(sizeof(ngx_http_oauth2_redis_cmd_t), rd->log);
    if (cmd == NULL) {
        return NGX_DECLINED;
    }

    cmd->rd = rd;
    cmd->handler = cb;
    cmd->data = data;
    cmd->subscribe = (argvlen[0] == 9
                      && ngx_strncasecmp((u_char *) argv[0],
                                         (u_char *) "SUBSCRIBE", 9) == 0);

    if (redisAsyncCommandArgv(rd->ac, ngx_http_oauth2_redis_reply, cmd,
                              argc, argv, argvlen)
        != REDIS_OK)
    {
        ngx_free(cmd);
        return NGX_DECLINED;
    }

    if (!cmd->subscribe) {
        rd->pending++;

        if (!rd->timer.timer_set) {
            ngx_add_timer(&rd->timer, rd->conf->command_timeout);
        }
    }

    return NGX_OK;
}


void
ngx_http_oauth2_redis_subscribed(ngx_http_oauth2_redis_t *rd)
{
    rd->subscribed = 1;
}


static void
ngx_http_oauth2_redis_connect(ngx_http_oauth2_redis_t *rd)
{
    int                 argc;
    size_t              argvlen[3];
    u_char              db[NGX_INT_T_LEN];
    const char         *argv[3];
    redisAsyncContext  *ac;

    rd->state = NGX_HTTP_OAUTH2_REDIS_CONNECTING;
    rd->pending = 0;
    rd->subscribed = 0;

    if (rd->conf->path.len) {
        ac = redisAsyncConnectUnix((char *) rd->conf->path.data);

    } else {
        ac = redisAsyncConnect((char *) rd->conf->host.data,
                               rd->conf->port);
    }

    if (ac == NULL) {
        ngx_http_oauth2_redis_down(rd, "out of memory");
        return;
    }

    if (ac->err) {
        redisAsyncFree(ac);
        ngx_http_oauth2_redis_down(rd, "connect() failed");
        return;
    }

    rd->ac = ac;
    ac->data = rd;

    rd->connection = ngx_get_connection(ac->c.fd, rd->log);

    if (rd->connection == NULL) {
        rd->ac = NULL;
        redisAsyncFree(ac);
        ngx_http_oauth2_redis_down(rd, "worker_connections are not enough");
        return;
    }

    rd->connection->data = rd;
    rd->connection->read->handler = ngx_http_oauth2_redis_event;
    rd->connection->write->handler = ngx_http_oauth2_redis_event;
    rd->connection->read->log = rd->log;
    rd->connection->write->log = rd->log;

    ac->ev.data = rd;
    ac->ev.addRead = ngx_http_oauth2_redis_add_read;
    ac->ev.delRead = ngx_http_oauth2_redis_del_read;
    ac->ev.addWrite = ngx_http_oauth2_redis_add_write;
    ac->ev.delWrite = ngx_http_oauth2_redis_del_write;
    ac->ev.cleanup = ngx_http_oauth2_redis_cleanup;

    redisAsyncSetConnectCallback(ac, ngx_http_oauth2_redis_on_connect);
    redisAsyncSetDisconnectCallback(ac, ngx_http_oauth2_redis_on_disconnect);

    /* queued now, written once connected; the client is ready on the
     * last reply (PING) */

    if (rd->conf->password.len) {
        argc = 0;
        argv[argc] = "AUTH";
        argvlen[argc++] = 4;

        if (rd->conf->user.len) {
            argv[argc] = (char *) rd->conf->user.data;
            argvlen[argc++] = rd->conf->user.len;
        }

        argv[argc] = (char *) rd->conf->password.data;
        argvlen[argc++] = rd->conf->password.len;

        redisAsyncCommandArgv(ac, ngx_http_oauth2_redis_hello, NULL,
                              argc, argv, argvlen);
    }

    if (rd->conf->db) {
        argv[0] = "SELECT";
        argvlen[0] = 6;
        argv[1] = (char *) db;
        argvlen[1] = ngx_sprintf(db, "%ui", rd->conf->db) - db;

        redisAsyncCommandArgv(ac, ngx_http_oauth2_redis_hello, NULL,
                              2, argv, argvlen);
    }

    argv[0] = "PING";
    argvlen[0] = 4;

    redisAsyncCommandArgv(ac, ngx_http_oauth2_redis_hello, rd,
                          1, argv, argvlen);

    ngx_add_timer(&rd->timer, rd->conf->connect_timeout);
}


/* the connection is gone (ac freed or being freed by hiredis): logs the
 * outage once and schedules the next attempt */

static void
ngx_http_oauth2_redis_down(ngx_http_oauth2_redis_t *rd, const char *why)
{
    if (rd->destroyed || rd->state == NGX_HTTP_OAUTH2_REDIS_DOWN) {
        return;
    }

    rd->state = NGX_HTTP_OAUTH2_REDIS_DOWN;
    rd->ac = NULL;
    rd->pending = 0;

    if (!rd->outage) {
        rd->outage = 1;
        ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                      "oauth2 redis \"%V\" (%s) unavailable: %s, "
                      "retrying", &rd->conf->url, rd->name, why);
    }

    if (rd->timer.timer_set) {
        ngx_del_timer(&rd->timer);
    }

    if (!ngx_exiting && !ngx_terminate && !ngx_quit) {
        ngx_add_timer(&rd->timer, rd->backoff);
        rd->backoff = ngx_min(rd->backoff * 2,
                              NGX_HTTP_OAUTH2_REDIS_BACKOFF_MAX);
    }
}


/* ends the connection from outside hiredis's callbacks */

static void
ngx_http_oauth2_redis_drop(ngx_http_oauth2_redis_t *rd, const char *why)
{
    redisAsyncContext  *ac;

    ac = rd->ac;

    ngx_http_oauth2_redis_down(rd, why);

    if (ac != NULL) {
        redisAsyncFree(ac);
    }
}


static void
ngx_http_oauth2_redis_timer(ngx_event_t *ev)
{
    ngx_http_oauth2_redis_t  *rd;

    rd = ev->data;

    switch (rd->state) {

    case NGX_HTTP_OAUTH2_REDIS_DOWN:
        if (!ngx_exiting && !ngx_terminate && !ngx_quit) {
            ngx_http_oauth2_redis_connect(rd);
        }
        return;

    case NGX_HTTP_OAUTH2_REDIS_CONNECTING:
        ngx_http_oauth2_redis_drop(rd, "connect timed out");
        return;

    default:
        if (rd->pending) {
            ngx_http_oauth2_redis_drop(rd, "command timed out");
        }
    }
}


static void
ngx_http_oauth2_redis_on_connect(const redisAsyncContext *ac, int status)
{
    ngx_http_oauth2_redis_t  *rd;

    rd = ac->data;

    if (status != REDIS_OK && rd != NULL) {
        /* hiredis frees the context when this returns */
        ngx_http_oauth2_redis_down(rd, ac->errstr);
    }
}


static void
ngx_http_oauth2_redis_on_disconnect(const redisAsyncContext *ac, int status)
{
    ngx_http_oauth2_redis_t  *rd;

    rd = ac->data;

    if (rd != NULL && rd->ac == ac) {
        ngx_http_oauth2_redis_down(rd, status == REDIS_OK ? "closed"
                                                          : ac->errstr);
    }
}


static void
ngx_http_oauth2_redis_hello(redisAsyncContext *ac, void *r, void *data)
{
    redisReply               *reply;
    ngx_http_oauth2_redis_t  *rd;

    reply = r;
    rd = ac->data;

    if (rd == NULL || rd->ac != ac
        || rd->state != NGX_HTTP_OAUTH2_REDIS_CONNECTING)
    {
        return;
    }

    if (reply == NULL) {
        return;
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        /* a wrong password or database: the timer drops it */
        if (!rd->outage) {
            rd->outage = 1;
            ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                          "oauth2 redis \"%V\" (%s) refused the connection: "
                          "%*s", &rd->conf->url, rd->name,
                          (size_t) ngx_min(reply->len, 200), reply->str);
        }

        if (rd->timer.timer_set) {
            ngx_del_timer(&rd->timer);
        }

        ngx_add_timer(&rd->timer, 1);
        return;
    }

    if (data == NULL) {
        return;
    }

    /* PING answered: ready */

    if (rd->timer.timer_set) {
        ngx_del_timer(&rd->timer);
    }

    rd->state = NGX_HTTP_OAUTH2_REDIS_READY;
    rd->backoff = NGX_HTTP_OAUTH2_REDIS_BACKOFF_MIN;

    if (rd->outage) {
        rd->outage = 0;
        ngx_log_error(NGX_LOG_NOTICE, rd->log, 0,
                      "oauth2 redis \"%V\" (%s) is reachable again",
                      &rd->conf->url, rd->name);
    }

    if (rd->ready) {
        rd->ready(rd->data);
    }
}


static void
ngx_http_oauth2_redis_reply(redisAsyncContext *ac, void *r, void *data)
{
    ngx_http_oauth2_redis_t      *rd;
    ngx_http_oauth2_redis_cmd_t  *cmd;

    cmd = data;
    rd = cmd->rd;

    if (!cmd->subscribe) {
        if (rd->pending) {
            rd->pending--;
        }

        if (rd->state == NGX_HTTP_OAUTH2_REDIS_READY && r != NULL) {
            if (rd->timer.timer_set) {
                ngx_del_timer(&rd->timer);
            }

            if (rd->pending) {
                ngx_add_timer(&rd->timer, rd->conf->command_timeout);
            }
        }
    }

    if (cmd->handler != NULL) {
        cmd->handler(cmd->data, r);
    }

    if (!cmd->subscribe || r == NULL) {
        ngx_free(cmd);
    }
}


static void
ngx_http_oauth2_redis_event(ngx_event_t *ev)
{
    ngx_connection_t         *c;
    redisAsyncContext        *ac;
    ngx_http_oauth2_redis_t  *rd;

    c = ev->data;
    rd = c->data;
    ac = rd->ac;

    if (ac == NULL) {
        return;
    }

    /* hiredis may free the context (and call cleanup) in either */

    if (ev->write) {
        redisAsyncHandleWrite(ac);

    } else {
        redisAsyncHandleRead(ac);
    }
}


static void
ngx_http_oauth2_redis_add_read(void *data)
{
    ngx_http_oauth2_redis_t *rd = data;

    if (rd->connection != NULL) {
        ngx_http_oauth2_redis_watch(rd->connection->read, NGX_READ_EVENT, 1);
    }
}


static void
ngx_http_oauth2_redis_del_read(void *data)
{
    ngx_http_oauth2_redis_t *rd = data;

    if (rd->connection != NULL) {
        ngx_http_oauth2_redis_watch(rd->connection->read, NGX_READ_EVENT, 0);
    }
}


static void
ngx_http_oauth2_redis_add_write(void *data)
{
    ngx_http_oauth2_redis_t *rd = data;

    if (rd->connection != NULL) {
        ngx_http_oauth2_redis_watch(rd->connection->write, NGX_WRITE_EVENT,
                                    1);
    }
}


static void
ngx_http_oauth2_redis_del_write(void *data)
{
    ngx_http_oauth2_redis_t *rd = data;

    if (rd->connection != NULL) {
        ngx_http_oauth2_redis_watch(rd->connection->write, NGX_WRITE_EVENT,
                                    0);
    }
}


/* hiredis is about to close the descriptor: the nginx connection goes
 * back without closing it */

static void
ngx_http_oauth2_redis_cleanup(void *data)
{
    ngx_connection_t         *c;
    ngx_http_oauth2_redis_t  *rd;

    rd = data;
    c = rd->connection;

    if (c == NULL) {
        return;
    }

    rd->connection = NULL;

    if (c->read->active) {
        (void) ngx_del_event(c->read, NGX_READ_EVENT, 0);
    }

    if (c->write->active) {
        (void) ngx_del_event(c->write, NGX_WRITE_EVENT, 0);
    }

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    ngx_free_connection(c);

    c->fd = (ngx_socket_t) -1;
}


static void
ngx_http_oauth2_redis_watch(ngx_event_t *ev, ngx_int_t event,
    ngx_uint_t want)
{
    if (want) {
        if (!ev->active) {
            (void) ngx_add_event(ev, event, NGX_LEVEL_EVENT);
        }

        return;
    }

    if (ev->active) {
        (void) ngx_del_event(ev, event, 0);
    }
}


#endif /* NGX_HTTP_OAUTH2_REDIS */
