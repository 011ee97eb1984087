
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


#ifndef _NGX_HTTP_OAUTH2_METRICS_H_INCLUDED_
#define _NGX_HTTP_OAUTH2_METRICS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_module.h"


/*
 * The module's counters, for the Prometheus text format that
 * "oauth2_metrics" answers.  Each worker counts into a slot of its own
 * in a shared memory zone ("oauth2_metrics"); a scrape sums the slots.
 * Nothing is counted on the path of a request with a valid session.
 * Labels are the provider's name and fixed words, never request data.
 */


/* counters of a provider */
#define NGX_HTTP_OAUTH2_M_LOGIN_STARTED      0
#define NGX_HTTP_OAUTH2_M_LOGIN_COMPLETED    1
#define NGX_HTTP_OAUTH2_M_SESSION_EXPIRED    2
#define NGX_HTTP_OAUTH2_M_SESSION_IDLE       3
#define NGX_HTTP_OAUTH2_M_SESSION_TAMPERED   4
#define NGX_HTTP_OAUTH2_M_SESSION_REVOKED    5
#define NGX_HTTP_OAUTH2_M_SESSION_REQUIRE    6
#define NGX_HTTP_OAUTH2_M_REFRESH_OK         7
#define NGX_HTTP_OAUTH2_M_REFRESH_REFUSED    8
#define NGX_HTTP_OAUTH2_M_REFRESH_FAILED     9
#define NGX_HTTP_OAUTH2_M_LOGOUT             10
#define NGX_HTTP_OAUTH2_M_BACKCHANNEL_OK     11
#define NGX_HTTP_OAUTH2_M_BACKCHANNEL_REFUSED  12
/* API callers: tokens validated (signature or introspection, not the
 * cached ones), and the RFC 6750 refusals */
#define NGX_HTTP_OAUTH2_M_BEARER_VALID       13
#define NGX_HTTP_OAUTH2_M_BEARER_INVALID     14
#define NGX_HTTP_OAUTH2_M_BEARER_NO_TOKEN    15
#define NGX_HTTP_OAUTH2_M_BEARER_BAD_TOKEN   16
#define NGX_HTTP_OAUTH2_M_BEARER_SCOPE       17
#define NGX_HTTP_OAUTH2_M_BEARER_MALFORMED   18

/* a failed login counts as NGX_HTTP_OAUTH2_M_LOGIN_FAILED + its
 * NGX_HTTP_OAUTH2_ERR_* (reply.h): the reason $oauth2_error holds */
#define NGX_HTTP_OAUTH2_M_LOGIN_FAILED       19
#define NGX_HTTP_OAUTH2_M_REASONS            24

#define NGX_HTTP_OAUTH2_M_COUNTERS                                           \
    (NGX_HTTP_OAUTH2_M_LOGIN_FAILED + NGX_HTTP_OAUTH2_M_REASONS)


/* how a call to a provider ended */
#define NGX_HTTP_OAUTH2_M_CALL_OK            0     /* 2xx */
#define NGX_HTTP_OAUTH2_M_CALL_STATUS        1     /* another status */
#define NGX_HTTP_OAUTH2_M_CALL_ERROR         2     /* no response */


/* what the zone's size depends on: called once the providers are known */
ngx_int_t ngx_http_oauth2_metrics_add(ngx_conf_t *cf,
    ngx_http_oauth2_main_conf_t *omcf);

/* clears this worker's gauges, from the worker's init_process */
void ngx_http_oauth2_metrics_init_process(ngx_cycle_t *cycle);

/* counts one event of provider p */
void ngx_http_oauth2_metrics_count(ngx_http_oauth2_provider_t *p,
    ngx_uint_t counter);

/* one call to the provider named provider ended (an NGX_HTTP_OAUTH2_M_CALL_*
 * outcome) after elapsed ms; endpoint is the fetch's name ("token", ...) */
void ngx_http_oauth2_metrics_call(ngx_str_t *provider, const char *endpoint,
    ngx_uint_t outcome, ngx_msec_t elapsed);

/* this worker fetched p's metadata (jwks 0) or JWKS (jwks 1) just now */
void ngx_http_oauth2_metrics_fetched(ngx_http_oauth2_provider_t *p,
    ngx_uint_t jwks);

/* this worker's cache of opened session cookies holds entries now */
void ngx_http_oauth2_metrics_cache(ngx_uint_t entries);

/*
 * The exposition (text format 0.0.4) of every slot, in a buffer of pool;
 * reasons are the NGX_HTTP_OAUTH2_ERR_* names, zone_used and zone_size
 * the shared zone's bytes.  NULL if memory fails.
 */
ngx_buf_t *ngx_http_oauth2_metrics_text(ngx_pool_t *pool,
    ngx_http_oauth2_main_conf_t *omcf, ngx_str_t *reasons,
    ngx_uint_t nreasons, size_t zone_used, size_t zone_size);


#endif /* _NGX_HTTP_OAUTH2_METRICS_H_INCLUDED_ */
