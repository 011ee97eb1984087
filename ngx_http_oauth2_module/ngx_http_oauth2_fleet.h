
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


#endif /* _NGX_HTTP_OAUTH2_FLEET_H_INCLUDED_ */
