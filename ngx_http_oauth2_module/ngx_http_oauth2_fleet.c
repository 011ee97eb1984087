
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * What a fleet of hosts shares through Redis (oauth2_redis): the
 * back-channel logouts.  Each host keeps the revocations in its own zone
 * (ngx_http_oauth2_shm.c), which requests read without any round trip;
 * Redis only carries them between hosts.
 *
 * A logout received by one host is recorded in its zone, then added to
 * the sorted set PREFIX{revocations} (score: when the revocation may be
 * forgotten, member: the logout) and published on the channel of the
 * same name.  Every worker of every host subscribes to the channel and
 * records the logouts it hears in its zone (the same logout twice is
 * recorded once: its jti); on each (re)connection it reads the whole
 * set, after trimming what has expired, so a host started or cut off
 * later learns what it missed.  The key and the channel carry a hash tag,
 * so they live on one slot of a Redis Cluster.
 *
 * A logout travels as text: "AT REV_EXPIRES JTI_EXPIRES JTI KIND+KEY..."
 * with the times in seconds, the jti and the revocation keys as the hex
 * of the zone's keys (hashes: no sid, sub or token goes to Redis).  What
 * comes back from Redis is parsed as strictly as anything from outside.
 *
 * While Redis is down requests go on with the zone as it is (the one
 * error line of the outage says that revocations may be stale).
 *
 * The refresh single flight: the one request of a host that would run a
 * refresh (ngx_http_oauth2_refresh.c) first claims it in Redis with
 * "SET PREFIXrefresh:{KEY} R NX PX ttl GET" (Redis 7): nothing was there,
 * this host runs it and stores the outcome under the same key for the
 * grace time ("D" and the sealed session, "X" refused, "F" failed);
 * otherwise the value says the refresh runs elsewhere (that request asks
 * again after a short wait; the others of its host wait on the zone) or
 * gives its outcome.  The key is the zone's hash of the refresh token.
 * Redis down, or an error: per host, as without oauth2_redis.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_fleet.h"
#include "ngx_http_oauth2_conf_value.h"
#include "ngx_http_oauth2_redis.h"

#if (NGX_HTTP_OAUTH2_REDIS)
#include <hiredis/hiredis.h>
#endif


#define NGX_HTTP_OAUTH2_FLEET_MAX_KEYS  2

/* a refresh outcome larger than this in Redis is not taken */
#define NGX_HTTP_OAUTH2_FLEET_MAX_RESULT  65536

/* "AT REV JTI_EXP " + jti + 2 x " K" + key */
#define NGX_HTTP_OAUTH2_FLEET_MSG_LEN                                        \
    (3 * (NGX_TIME_T_LEN + 1) + 2 * NGX_HTTP_OAUTH2_SHM_KEY_LEN              \
     + NGX_HTTP_OAUTH2_FLEET_MAX_KEYS * (2 + 2 * NGX_HTTP_OAUTH2_SHM_KEY_LEN))


/* a question to Redis a request waits for; heap memory, as the answer
 * may come after the request is gone (then it is only freed) */
typedef struct {
    ngx_http_oauth2_fleet_wake_pt   wake;
    void                           *data;
    ngx_int_t                       rc;       /* NGX_AGAIN: asked */
    ngx_uint_t                      state;
    u_char                         *value;
    size_t                          len;
    unsigned                        cancelled:1;
} ngx_http_oauth2_fleet_op_t;


typedef struct {
    ngx_http_oauth2_redis_conf_t    redis;
    ngx_str_t                       prefix;
    ngx_str_t                       revocations;  /* the key and channel */
    ngx_str_t                       password;     /* the directive's spec */
    unsigned                        enabled:1;
} ngx_http_oauth2_fleet_conf_t;


static ngx_http_oauth2_fleet_conf_t *ngx_http_oauth2_fleet_conf(
    ngx_conf_t *cf, ngx_http_oauth2_main_conf_t *omcf);

#if (NGX_HTTP_OAUTH2_REDIS)
static void ngx_http_oauth2_fleet_cmd_ready(void *data);
static void ngx_http_oauth2_fleet_sub_ready(void *data);
static void ngx_http_oauth2_fleet_message(void *data, void *r);
static void ngx_http_oauth2_fleet_catch_up(void);
static void ngx_http_oauth2_fleet_caught_up(void *data, void *r);
static ngx_int_t ngx_http_oauth2_fleet_record(u_char *p, size_t len);
static ngx_int_t ngx_http_oauth2_fleet_time(u_char **pp, u_char *last,
    time_t *t);
static ngx_int_t ngx_http_oauth2_fleet_hex(u_char **pp, u_char *last,
    u_char *key);
static void ngx_http_oauth2_fleet_argv(const char **argv, size_t *argvlen,
    ngx_uint_t i, u_char *p, size_t len);
static u_char *ngx_http_oauth2_fleet_refresh_key(u_char *buf, u_char *key);
static void ngx_http_oauth2_fleet_claimed(void *data, void *r);
static void ngx_http_oauth2_fleet_op_free(ngx_http_oauth2_fleet_op_t *o);


static ngx_http_oauth2_fleet_conf_t  *ngx_http_oauth2_fleet_worker;
static ngx_shm_zone_t                *ngx_http_oauth2_fleet_zone;
static ngx_http_oauth2_redis_t       *ngx_http_oauth2_fleet_cmd;
static ngx_http_oauth2_redis_t       *ngx_http_oauth2_fleet_sub;
#endif


char *
ngx_http_oauth2_fleet_redis(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
#if (NGX_HTTP_OAUTH2_REDIS)
    char                          *err;
    ngx_str_t                     *value;
    ngx_http_oauth2_fleet_conf_t  *fc;

    fc = ngx_http_oauth2_fleet_conf(cf, conf);
    if (fc == NULL) {
        return NGX_CONF_ERROR;
    }

    if (fc->enabled) {
        return "is duplicate";
    }

    value = cf->args->elts;
    err = NULL;

    if (ngx_http_oauth2_redis_parse_url(cf->pool, &value[1], &fc->redis,
                                        &err)
        != NGX_OK)
    {
        if (err == NULL) {
            return NGX_CONF_ERROR;
        }

        /* the URL may hold a password: not echoed */
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"oauth2_redis\": the URL %s", err);
        return NGX_CONF_ERROR;
    }

    fc->enabled = 1;

    return NGX_CONF_OK;

#else

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"oauth2_redis\": this ngx_http_oauth2_module was "
                       "built without hiredis (libhiredis-dev), so it has "
                       "no fleet mode");
    return NGX_CONF_ERROR;

#endif
}


char *
ngx_http_oauth2_fleet_password(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_str_t                     *value;
    ngx_http_oauth2_fleet_conf_t  *fc;

    fc = ngx_http_oauth2_fleet_conf(cf, conf);
    if (fc == NULL) {
        return NGX_CONF_ERROR;
    }

    if (fc->password.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;
    fc->password = value[1];

    if (fc->password.len == 0) {
        return "is empty";
    }

    return NGX_CONF_OK;
}


char *
ngx_http_oauth2_fleet_prefix(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    size_t                         i;
    ngx_str_t                     *value;
    ngx_http_oauth2_fleet_conf_t  *fc;

    fc = ngx_http_oauth2_fleet_conf(cf, conf);
    if (fc == NULL) {
        return NGX_CONF_ERROR;
    }

    if (fc->prefix.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0 || value[1].len > 64) {
        return "must have 1 to 64 characters";
    }

    for (i = 0; i < value[1].len; i++) {
        if (value[1].data[i] <= ' ' || value[1].data[i] >= 0x7f
            || value[1].data[i] == '{' || value[1].data[i] == '}')
        {
            return "may hold only visible ASCII characters other than "
                   "\"{\" and \"}\"";
        }
    }

    fc->prefix = value[1];

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_oauth2_fleet_init_conf(ngx_conf_t *cf,
    ngx_http_oauth2_main_conf_t *omcf)
{
    u_char                        *p;
    ngx_uint_t                     i;
    ngx_http_oauth2_provider_t   **pp;
    ngx_http_oauth2_fleet_conf_t  *fc;

    fc = omcf->fleet;
    pp = omcf->providers.elts;

    for (i = 0; i < omcf->providers.nelts; i++) {
        if (pp[i]->session_store != NGX_HTTP_OAUTH2_STORE_REDIS) {
            continue;
        }

#if (NGX_HTTP_OAUTH2_REDIS)
        if (fc == NULL || !fc->enabled) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"session_store redis\" of oauth2 provider "
                               "\"%V\" needs \"oauth2_redis\"",
                               &pp[i]->name);
            return NGX_ERROR;
        }
#else
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"session_store redis\" of oauth2 provider "
                           "\"%V\": this ngx_http_oauth2_module was built "
                           "without hiredis (libhiredis-dev)", &pp[i]->name);
        return NGX_ERROR;
#endif
    }

    if (fc == NULL) {
        return NGX_OK;
    }

    if (!fc->enabled) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"oauth2_redis_password\" and "
                           "\"oauth2_redis_prefix\" need \"oauth2_redis\"");
        return NGX_ERROR;
    }

    if (fc->password.len) {
        if (ngx_http_oauth2_conf_read_secret(cf, &fc->password,
                                             &fc->redis.password,
                                             "oauth2_redis_password")
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (fc->prefix.data == NULL) {
        ngx_str_set(&fc->prefix, "oauth2:");
    }

    fc->revocations.len = fc->prefix.len + sizeof("{revocations}") - 1;
    fc->revocations.data = ngx_pnalloc(cf->pool, fc->revocations.len + 1);
    if (fc->revocations.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(fc->revocations.data, fc->prefix.data, fc->prefix.len);
    ngx_memcpy(p, "{revocations}", sizeof("{revocations}"));

    fc->redis.connect_timeout = 1000;
    fc->redis.command_timeout = 1000;

    return NGX_OK;
}


static ngx_http_oauth2_fleet_conf_t *
ngx_http_oauth2_fleet_conf(ngx_conf_t *cf, ngx_http_oauth2_main_conf_t *omcf)
{
    if (omcf->fleet == NULL) {
        omcf->fleet = ngx_pcalloc(cf->pool,
                                  sizeof(ngx_http_oauth2_fleet_conf_t));
    }

    return omcf->fleet;
}


#if (NGX_HTTP_OAUTH2_REDIS)


ngx_int_t
ngx_http_oauth2_fleet_init_process(ngx_cycle_t *cycle,
    ngx_http_oauth2_main_conf_t *omcf)
{
    ngx_http_oauth2_fleet_conf_t  *fc;

    fc = omcf->fleet;

    if (fc == NULL || !fc->enabled || omcf->zone == NULL) {
        return NGX_OK;
    }

    ngx_http_oauth2_fleet_worker = fc;
    ngx_http_oauth2_fleet_zone = omcf->zone;

    ngx_http_oauth2_fleet_cmd = ngx_http_oauth2_redis_create(
                     &fc->redis, cycle->log,
                     "commands; back-channel logouts are not shared",
                     ngx_http_oauth2_fleet_cmd_ready, NULL);

    ngx_http_oauth2_fleet_sub = ngx_http_oauth2_redis_create(
                     &fc->redis, cycle->log,
                     "subscriber; revocations may be stale",
                     ngx_http_oauth2_fleet_sub_ready, NULL);

    if (ngx_http_oauth2_fleet_cmd == NULL
        || ngx_http_oauth2_fleet_sub == NULL)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


void
ngx_http_oauth2_fleet_exit_process(void)
{
    ngx_http_oauth2_redis_destroy(ngx_http_oauth2_fleet_sub);
    ngx_http_oauth2_redis_destroy(ngx_http_oauth2_fleet_cmd);

    ngx_http_oauth2_fleet_sub = NULL;
    ngx_http_oauth2_fleet_cmd = NULL;
    ngx_http_oauth2_fleet_worker = NULL;
}


void
ngx_http_oauth2_fleet_logout(ngx_http_oauth2_main_conf_t *omcf,
    u_char *jti, time_t jti_expires,
    u_char (*keys)[NGX_HTTP_OAUTH2_SHM_KEY_LEN], u_char *kinds,
    ngx_uint_t n, time_t rev_expires, time_t at)
{
    u_char                        *p;
    size_t                         argvlen[4];
    u_char                         msg[NGX_HTTP_OAUTH2_FLEET_MSG_LEN];
    u_char                         score[NGX_TIME_T_LEN];
    ngx_uint_t                     i;
    const char                    *argv[4];
    ngx_http_oauth2_fleet_conf_t  *fc;

    fc = ngx_http_oauth2_fleet_worker;

    if (fc == NULL || n > NGX_HTTP_OAUTH2_FLEET_MAX_KEYS) {
        return;
    }

    p = ngx_sprintf(msg, "%T %T %T ", at, rev_expires, jti_expires);
    p = ngx_hex_dump(p, jti, NGX_HTTP_OAUTH2_SHM_KEY_LEN);

    for (i = 0; i < n; i++) {
        *p++ = ' ';
        *p++ = kinds[i];
        p = ngx_hex_dump(p, keys[i], NGX_HTTP_OAUTH2_SHM_KEY_LEN);
    }

    /* kept first, then published: a host that hears of it can also
     * find it, and one that (re)connects in between reads it */

    ngx_http_oauth2_fleet_argv(argv, argvlen, 0, (u_char *) "ZADD", 4);
    ngx_http_oauth2_fleet_argv(argv, argvlen, 1, fc->revocations.data,
                               fc->revocations.len);
    ngx_http_oauth2_fleet_argv(argv, argvlen, 2, score,
                               ngx_sprintf(score, "%T", rev_expires)
                               - score);
    ngx_http_oauth2_fleet_argv(argv, argvlen, 3, msg, p - msg);

    if (ngx_http_oauth2_redis_command(ngx_http_oauth2_fleet_cmd, NULL, NULL,
                                      4, argv, argvlen)
        != NGX_OK)
    {
        return;
    }

    ngx_http_oauth2_fleet_argv(argv, argvlen, 0, (u_char *) "PUBLISH", 7);
    ngx_http_oauth2_fleet_argv(argv, argvlen, 2, msg, p - msg);

    (void) ngx_http_oauth2_redis_command(ngx_http_oauth2_fleet_cmd, NULL,
                                         NULL, 3, argv, argvlen);
}


static void
ngx_http_oauth2_fleet_cmd_ready(void *data)
{
    ngx_http_oauth2_fleet_catch_up();
}


static void
ngx_http_oauth2_fleet_sub_ready(void *data)
{
    size_t       argvlen[2];
    const char  *argv[2];

    ngx_http_oauth2_fleet_argv(argv, argvlen, 0, (u_char *) "SUBSCRIBE", 9);
    ngx_http_oauth2_fleet_argv(argv, argvlen, 1,
                               ngx_http_oauth2_fleet_worker->revocations.data,
                               ngx_http_oauth2_fleet_worker->revocations.len);

    (void) ngx_http_oauth2_redis_command(ngx_http_oauth2_fleet_sub,
                                         ngx_http_oauth2_fleet_message, NULL,
                                         2, argv, argvlen);
}


/* each reply on the subscriber: the subscription, then the messages */

static void
ngx_http_oauth2_fleet_message(void *data, void *r)
{
    redisReply  *reply, *kind, *msg;

    reply = r;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY
        || reply->elements != 3)
    {
        return;
    }

    kind = reply->element[0];
    msg = reply->element[2];

    if (kind->type != REDIS_REPLY_STRING) {
        return;
    }

    if (kind->len == 9 && ngx_strncmp(kind->str, "subscribe", 9) == 0) {
        /* subscribed: what was published before is read now */
        ngx_http_oauth2_redis_subscribed(ngx_http_oauth2_fleet_sub);
        ngx_http_oauth2_fleet_catch_up();
        return;
    }

    if (kind->len == 7 && ngx_strncmp(kind->str, "message", 7) == 0
        && msg->type == REDIS_REPLY_STRING)
    {
        if (ngx_http_oauth2_fleet_record((u_char *) msg->str, msg->len)
            != NGX_OK)
        {
            ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                          "oauth2 redis: an invalid revocation was "
                          "published, ignored");
        }
    }
}


/* reads every revocation still valid (and forgets the others) */

static void
ngx_http_oauth2_fleet_catch_up(void)
{
    size_t                         argvlen[4];
    u_char                         now[NGX_TIME_T_LEN + 1];
    size_t                         nlen;
    const char                    *argv[4];
    ngx_http_oauth2_fleet_conf_t  *fc;

    fc = ngx_http_oauth2_fleet_worker;
    nlen = ngx_sprintf(now, "(%T", ngx_time()) - now;

    ngx_http_oauth2_fleet_argv(argv, argvlen, 0,
                               (u_char *) "ZREMRANGEBYSCORE", 16);
    ngx_http_oauth2_fleet_argv(argv, argvlen, 1, fc->revocations.data,
                               fc->revocations.len);
    ngx_http_oauth2_fleet_argv(argv, argvlen, 2, (u_char *) "-inf", 4);
    ngx_http_oauth2_fleet_argv(argv, argvlen, 3, now, nlen);

    if (ngx_http_oauth2_redis_command(ngx_http_oauth2_fleet_cmd, NULL, NULL,
                                      4, argv, argvlen)
        != NGX_OK)
    {
        return;
    }

    ngx_http_oauth2_fleet_argv(argv, argvlen, 0,
                               (u_char *) "ZRANGEBYSCORE", 13);
    ngx_http_oauth2_fleet_argv(argv, argvlen, 2, now, nlen);
    ngx_http_oauth2_fleet_argv(argv, argvlen, 3, (u_char *) "+inf", 4);

    (void) ngx_http_oauth2_redis_command(ngx_http_oauth2_fleet_cmd,
                                         ngx_http_oauth2_fleet_caught_up,
                                         NULL, 4, argv, argvlen);
}


static void
ngx_http_oauth2_fleet_caught_up(void *data, void *r)
{
    size_t       i, bad;
    redisReply  *reply, *e;

    reply = r;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        return;
    }

    bad = 0;

    for (i = 0; i < reply->elements; i++) {
        e = reply->element[i];

        if (e->type != REDIS_REPLY_STRING
            || ngx_http_oauth2_fleet_record((u_char *) e->str, e->len)
               != NGX_OK)
        {
            bad++;
        }
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "oauth2 redis: %uz revocations read, %uz invalid",
                   reply->elements, bad);

    if (bad) {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "oauth2 redis: %uz invalid revocations ignored", bad);
    }
}


/* records one logout, "AT REV_EXPIRES JTI_EXPIRES JTI KIND+KEY...", into
 * the zone at its own time; a logout already known changes nothing */

static ngx_int_t
ngx_http_oauth2_fleet_record(u_char *p, size_t len)
{
    u_char      *last;
    u_char       jti[NGX_HTTP_OAUTH2_SHM_KEY_LEN];
    u_char       keys[NGX_HTTP_OAUTH2_FLEET_MAX_KEYS]
                     [NGX_HTTP_OAUTH2_SHM_KEY_LEN];
    u_char       kinds[NGX_HTTP_OAUTH2_FLEET_MAX_KEYS];
    time_t       at, rev_expires, jti_expires, now;
    ngx_uint_t   n;

    last = p + len;
    now = ngx_time();

    if (ngx_http_oauth2_fleet_time(&p, last, &at) != NGX_OK
        || ngx_http_oauth2_fleet_time(&p, last, &rev_expires) != NGX_OK
        || ngx_http_oauth2_fleet_time(&p, last, &jti_expires) != NGX_OK
        || ngx_http_oauth2_fleet_hex(&p, last, jti) != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* a logout from the future is taken as now's */

    if (at > now) {
        at = now;
    }

    for (n = 0; p < last; n++) {
        if (n == NGX_HTTP_OAUTH2_FLEET_MAX_KEYS || last - p < 2
            || *p != ' ')
        {
            return NGX_ERROR;
        }

        kinds[n] = p[1];

        if (kinds[n] != NGX_HTTP_OAUTH2_SHM_REVOKE_SID
            && kinds[n] != NGX_HTTP_OAUTH2_SHM_REVOKE_SUB
            && kinds[n] != NGX_HTTP_OAUTH2_SHM_REVOKE_NOSID)
        {
            return NGX_ERROR;
        }

        p += 2;

        if (ngx_http_oauth2_fleet_hex(&p, last, keys[n]) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (n == 0 || rev_expires <= now) {
        return (n == 0) ? NGX_ERROR : NGX_OK;
    }

    (void) ngx_http_oauth2_shm_logout(ngx_http_oauth2_fleet_zone, jti,
                                      jti_expires, keys, kinds, n,
                                      rev_expires, at);

    return NGX_OK;
}


/* "DIGITS " */

static ngx_int_t
ngx_http_oauth2_fleet_time(u_char **pp, u_char *last, time_t *t)
{
    u_char  *p, *start;

    start = *pp;

    for (p = start; p < last && *p >= '0' && *p <= '9'; p++) {
        /* void */
    }

    if (p == start || p == last || *p != ' ') {
        return NGX_ERROR;
    }

    *t = ngx_atotm(start, p - start);

    if (*t == NGX_ERROR) {
        return NGX_ERROR;
    }

    *pp = p + 1;

    return NGX_OK;
}


/* a zone key in lowercase hex */

static ngx_int_t
ngx_http_oauth2_fleet_hex(u_char **pp, u_char *last, u_char *key)
{
    u_char      *p, c, v;
    ngx_uint_t   i;

    p = *pp;

    if (last - p < 2 * NGX_HTTP_OAUTH2_SHM_KEY_LEN) {
        return NGX_ERROR;
    }

    for (i = 0; i < 2 * NGX_HTTP_OAUTH2_SHM_KEY_LEN; i++) {
        c = p[i];

        if (c >= '0' && c <= '9') {
            v = c - '0';

        } else if (c >= 'a' && c <= 'f') {
            v = c - 'a' + 10;

        } else {
            return NGX_ERROR;
        }

        if (i % 2 == 0) {
            key[i / 2] = (u_char) (v << 4);

        } else {
            key[i / 2] |= v;
        }
    }

    *pp = p + 2 * NGX_HTTP_OAUTH2_SHM_KEY_LEN;

    return NGX_OK;
}


/* "PREFIXrefresh:{HEX}" into buf (the prefix, 9 + 2 + 32 bytes) */

static u_char *
ngx_http_oauth2_fleet_refresh_key(u_char *buf, u_char *key)
{
    u_char                        *p;
    ngx_http_oauth2_fleet_conf_t  *fc;

    fc = ngx_http_oauth2_fleet_worker;

    p = ngx_cpymem(buf, fc->prefix.data, fc->prefix.len);
    p = ngx_cpymem(p, "refresh:{", sizeof("refresh:{") - 1);
    p = ngx_hex_dump(p, key, NGX_HTTP_OAUTH2_SHM_KEY_LEN);
    *p++ = '}';

    return p;
}


ngx_int_t
ngx_http_oauth2_fleet_refresh_claim(ngx_pool_t *pool, u_char *key,
    time_t ttl, void **op, ngx_http_oauth2_fleet_wake_pt wake, void *data,
    ngx_uint_t *state, ngx_str_t *result)
{
    u_char                      *last;
    size_t                       argvlen[7];
    u_char                       name[64 + 64], ms[NGX_TIME_T_LEN];
    ngx_int_t                    rc;
    const char                  *argv[7];
    ngx_http_oauth2_fleet_op_t  *o;

    o = *op;

    if (o != NULL) {
        if (o->rc == NGX_AGAIN) {
            return NGX_AGAIN;
        }

        rc = o->rc;
        *state = o->state;

        if (rc == NGX_OK && o->state == NGX_HTTP_OAUTH2_SHM_DONE) {
            result->data = ngx_pnalloc(pool, o->len);

            if (result->data == NULL) {
                rc = NGX_DECLINED;

            } else {
                ngx_memcpy(result->data, o->value, o->len);
                result->len = o->len;
            }
        }

        ngx_http_oauth2_fleet_op_free(o);
        *op = NULL;

        return rc;
    }

    if (ngx_http_oauth2_fleet_worker == NULL
        || !ngx_http_oauth2_redis_ready(ngx_http_oauth2_fleet_cmd))
    {
        return NGX_DECLINED;
    }

    o = ngx_calloc(sizeof(ngx_http_oauth2_fleet_op_t), ngx_cycle->log);
    if (o == NULL) {
        return NGX_DECLINED;
    }

    o->wake = wake;
    o->data = data;
    o->rc = NGX_AGAIN;

    last = ngx_http_oauth2_fleet_refresh_key(name, key);

    ngx_http_oauth2_fleet_argv(argv, argvlen, 0, (u_char *) "SET", 3);
    ngx_http_oauth2_fleet_argv(argv, argvlen, 1, name, last - name);
    ngx_http_oauth2_fleet_argv(argv, argvlen, 2, (u_char *) "R", 1);
    ngx_http_oauth2_fleet_argv(argv, argvlen, 3, (u_char *) "NX", 2);
    ngx_http_oauth2_fleet_argv(argv, argvlen, 4, (u_char *) "PX", 2);
    ngx_http_oauth2_fleet_argv(argv, argvlen, 5, ms,
                               ngx_sprintf(ms, "%T", ttl * 1000) - ms);
    ngx_http_oauth2_fleet_argv(argv, argvlen, 6, (u_char *) "GET", 3);

    if (ngx_http_oauth2_redis_command(ngx_http_oauth2_fleet_cmd,
                                      ngx_http_oauth2_fleet_claimed, o,
                                      7, argv, argvlen)
        != NGX_OK)
    {
        ngx_free(o);
        return NGX_DECLINED;
    }

    *op = o;

    return NGX_AGAIN;
}


static void
ngx_http_oauth2_fleet_claimed(void *data, void *r)
{
    redisReply                  *reply;
    ngx_http_oauth2_fleet_op_t  *o;

    o = data;
    reply = r;

    if (o->cancelled) {
        ngx_http_oauth2_fleet_op_free(o);
        return;
    }

    o->rc = NGX_DECLINED;

    if (reply == NULL) {
        /* connection lost: per host */

    } else if (reply->type == REDIS_REPLY_NIL) {
        o->rc = NGX_OK;
        o->state = NGX_HTTP_OAUTH2_SHM_NONE;

    } else if (reply->type == REDIS_REPLY_STRING && reply->len >= 1) {
        o->rc = NGX_OK;

        switch (reply->str[0]) {

        case 'R':
            o->state = NGX_HTTP_OAUTH2_SHM_RUNNING;
            break;

        case 'X':
            o->state = NGX_HTTP_OAUTH2_SHM_REFUSED;
            break;

        case 'F':
            o->state = NGX_HTTP_OAUTH2_SHM_FAILED;
            break;

        case 'D':
            if (reply->len < 2
                || reply->len - 1 > NGX_HTTP_OAUTH2_FLEET_MAX_RESULT)
            {
                o->rc = NGX_DECLINED;
                break;
            }

            o->value = ngx_alloc(reply->len - 1, ngx_cycle->log);

            if (o->value == NULL) {
                o->rc = NGX_DECLINED;
                break;
            }

            ngx_memcpy(o->value, reply->str + 1, reply->len - 1);
            o->len = reply->len - 1;
            o->state = NGX_HTTP_OAUTH2_SHM_DONE;
            break;

        default:
            o->rc = NGX_DECLINED;
        }

        if (reply->len != 1 && reply->str[0] != 'D') {
            o->rc = NGX_DECLINED;
        }
    }

    /* an error (a Redis older than 7 refuses SET NX GET) or anything
     * else: per host */

    o->wake(o->data);
}


void
ngx_http_oauth2_fleet_refresh_cancel(void **op)
{
    ngx_http_oauth2_fleet_op_t  *o;

    o = *op;

    if (o == NULL) {
        return;
    }

    *op = NULL;

    if (o->rc == NGX_AGAIN) {
        /* the answer frees it */
        o->cancelled = 1;
        return;
    }

    ngx_http_oauth2_fleet_op_free(o);
}


void
ngx_http_oauth2_fleet_refresh_done(u_char *key, ngx_uint_t state,
    ngx_str_t *result, time_t ttl)
{
    u_char       *last, *value;
    size_t        argvlen[5];
    u_char        name[64 + 64], ms[NGX_TIME_T_LEN], one[1];
    const char   *argv[5];

    if (ngx_http_oauth2_fleet_worker == NULL
        || !ngx_http_oauth2_redis_ready(ngx_http_oauth2_fleet_cmd))
    {
        return;
    }

    last = ngx_http_oauth2_fleet_refresh_key(name, key);

    ngx_http_oauth2_fleet_argv(argv, argvlen, 1, name, last - name);

    if (state == NGX_HTTP_OAUTH2_SHM_NONE) {
        ngx_http_oauth2_fleet_argv(argv, argvlen, 0, (u_char *) "DEL", 3);

        (void) ngx_http_oauth2_redis_command(ngx_http_oauth2_fleet_cmd,
                                             NULL, NULL, 2, argv, argvlen);
        return;
    }

    value = NULL;

    if (state == NGX_HTTP_OAUTH2_SHM_DONE) {
        if (result->len == 0
            || result->len > NGX_HTTP_OAUTH2_FLEET_MAX_RESULT)
        {
            return;
        }

        value = ngx_alloc(result->len + 1, ngx_cycle->log);
        if (value == NULL) {
            return;
        }

        value[0] = 'D';
        ngx_memcpy(value + 1, result->data, result->len);
        ngx_http_oauth2_fleet_argv(argv, argvlen, 2, value,
                                   result->len + 1);

    } else {
        one[0] = (state == NGX_HTTP_OAUTH2_SHM_REFUSED) ? 'X' : 'F';
        ngx_http_oauth2_fleet_argv(argv, argvlen, 2, one, 1);
    }

    ngx_http_oauth2_fleet_argv(argv, argvlen, 0, (u_char *) "SET", 3);
    ngx_http_oauth2_fleet_argv(argv, argvlen, 3, (u_char *) "PX", 2);
    ngx_http_oauth2_fleet_argv(argv, argvlen, 4, ms,
                               ngx_sprintf(ms, "%T", ngx_max(ttl, 1) * 1000)
                               - ms);

    /* hiredis has copied the arguments when this returns */

    (void) ngx_http_oauth2_redis_command(ngx_http_oauth2_fleet_cmd, NULL,
                                         NULL, 5, argv, argvlen);

    if (value != NULL) {
        ngx_free(value);
    }
}


static void
ngx_http_oauth2_fleet_op_free(ngx_http_oauth2_fleet_op_t *o)
{
    if (o->value != NULL) {
        ngx_explicit_memzero(o->value, o->len);
        ngx_free(o->value);
    }

    ngx_free(o);
}


static void
ngx_http_oauth2_fleet_argv(const char **argv, size_t *argvlen, ngx_uint_t i,
    u_char *p, size_t len)
{
    argv[i] = (const char *) p;
    argvlen[i] = len;
}


ngx_int_t
ngx_http_oauth2_fleet_command(ngx_http_oauth2_fleet_reply_pt cb, void *data,
    int argc, const char **argv, const size_t *argvlen)
{
    if (ngx_http_oauth2_fleet_worker == NULL
        || !ngx_http_oauth2_redis_ready(ngx_http_oauth2_fleet_cmd))
    {
        return NGX_DECLINED;
    }

    return ngx_http_oauth2_redis_command(ngx_http_oauth2_fleet_cmd, cb, data,
                                         argc, argv, argvlen);
}


ngx_str_t *
ngx_http_oauth2_fleet_key_prefix(void)
{
    return ngx_http_oauth2_fleet_worker ? &ngx_http_oauth2_fleet_worker->prefix
                                        : NULL;
}


#else /* !NGX_HTTP_OAUTH2_REDIS */


ngx_int_t
ngx_http_oauth2_fleet_command(ngx_http_oauth2_fleet_reply_pt cb, void *data,
    int argc, const char **argv, const size_t *argvlen)
{
    return NGX_DECLINED;
}


ngx_str_t *
ngx_http_oauth2_fleet_key_prefix(void)
{
    return NULL;
}


ngx_int_t
ngx_http_oauth2_fleet_init_process(ngx_cycle_t *cycle,
    ngx_http_oauth2_main_conf_t *omcf)
{
    return NGX_OK;
}


void
ngx_http_oauth2_fleet_exit_process(void)
{
}


void
ngx_http_oauth2_fleet_logout(ngx_http_oauth2_main_conf_t *omcf,
    u_char *jti, time_t jti_expires,
    u_char (*keys)[NGX_HTTP_OAUTH2_SHM_KEY_LEN], u_char *kinds,
    ngx_uint_t n, time_t rev_expires, time_t at)
{
}


ngx_int_t
ngx_http_oauth2_fleet_refresh_claim(ngx_pool_t *pool, u_char *key,
    time_t ttl, void **op, ngx_http_oauth2_fleet_wake_pt wake, void *data,
    ngx_uint_t *state, ngx_str_t *result)
{
    return NGX_DECLINED;
}


void
ngx_http_oauth2_fleet_refresh_cancel(void **op)
{
}


void
ngx_http_oauth2_fleet_refresh_done(u_char *key, ngx_uint_t state,
    ngx_str_t *result, time_t ttl)
{
}


#endif
