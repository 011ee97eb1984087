
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


#ifndef _NGX_HTTP_OAUTH2_FLEET_H_INCLUDED_
#define _NGX_HTTP_OAUTH2_FLEET_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_module.h"
#include "ngx_http_oauth2_shm.h"


/* the directives oauth2_redis, oauth2_redis_password, oauth2_redis_prefix
 * (main configuration, omcf->fleet) */
char *ngx_http_oauth2_fleet_redis(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_oauth2_fleet_password(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_oauth2_fleet_prefix(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* checks the fleet settings once the configuration is read */
ngx_int_t ngx_http_oauth2_fleet_init_conf(ngx_conf_t *cf,
    ngx_http_oauth2_main_conf_t *omcf);

/* the worker's Redis connections, when oauth2_redis is set */
ngx_int_t ngx_http_oauth2_fleet_init_process(ngx_cycle_t *cycle,
    ngx_http_oauth2_main_conf_t *omcf);
void ngx_http_oauth2_fleet_exit_process(void);

/*
 * A back-channel logout recorded in this host's zone, made known to the
 * fleet: kept in Redis (for hosts that start or reconnect later) and
 * published (to the hosts connected now), which record it in their zones
 * at the time "at".  Does nothing without oauth2_redis or while Redis is
 * down.
 */
void ngx_http_oauth2_fleet_logout(ngx_http_oauth2_main_conf_t *omcf,
    u_char *jti, time_t jti_expires,
    u_char (*keys)[NGX_HTTP_OAUTH2_SHM_KEY_LEN], u_char *kinds,
    ngx_uint_t n, time_t rev_expires, time_t at);

/* a request waiting for Redis is woken through this */
typedef void (*ngx_http_oauth2_fleet_wake_pt)(void *data);

/*
 * Refresh single flight across hosts, for the key of a refresh token
 * (ngx_http_oauth2_shm_key(NGX_HTTP_OAUTH2_SHM_REFRESH, ...)), asked by
 * the one request of this host that would run it.  NGX_DECLINED: no
 * fleet or Redis unusable, run it per host; NGX_AGAIN: asked, wake(data)
 * is called with the answer (*op keeps the question: call again, or
 * ngx_http_oauth2_fleet_refresh_cancel()); NGX_OK with *state:
 * NGX_HTTP_OAUTH2_SHM_NONE (this host runs it, and must tell the
 * outcome with ngx_http_oauth2_fleet_refresh_done()), RUNNING (another
 * host does: ask again later), DONE (*result, in pool: the new sealed
 * session), REFUSED or FAILED.
 */
ngx_int_t ngx_http_oauth2_fleet_refresh_claim(ngx_pool_t *pool, u_char *key,
    time_t ttl, void **op, ngx_http_oauth2_fleet_wake_pt wake, void *data,
    ngx_uint_t *state, ngx_str_t *result);
void ngx_http_oauth2_fleet_refresh_cancel(void **op);

/* the outcome of a refresh this host ran (NGX_HTTP_OAUTH2_SHM_NONE: the
 * claim is given up), kept ttl seconds */
void ngx_http_oauth2_fleet_refresh_done(u_char *key, ngx_uint_t state,
    ngx_str_t *result, time_t ttl);

/* a command's reply: a redisReply *, or NULL when it failed (connection
 * lost, timeout, the worker exits) */
typedef void (*ngx_http_oauth2_fleet_reply_pt)(void *data, void *reply);

/*
 * A command on this worker's command connection (for session_store redis,
 * ngx_http_oauth2_store.c).  NGX_OK: cb (which may be NULL) is called
 * with the reply; NGX_DECLINED: no oauth2_redis or not connected now, cb
 * is never called.
 */
ngx_int_t ngx_http_oauth2_fleet_command(ngx_http_oauth2_fleet_reply_pt cb,
    void *data, int argc, const char **argv, const size_t *argvlen);

/* oauth2_redis_prefix in this worker, or NULL without a fleet */
ngx_str_t *ngx_http_oauth2_fleet_key_prefix(void);



#endif /* _NGX_HTTP_OAUTH2_FLEET_H_INCLUDED_ */
