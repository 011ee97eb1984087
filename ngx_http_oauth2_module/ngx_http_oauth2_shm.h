
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


#ifndef _NGX_HTTP_OAUTH2_SHM_H_INCLUDED_
#define _NGX_HTTP_OAUTH2_SHM_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_module.h"


/*
 * The state the workers share, in one shared memory zone of
 * oauth2_zone_size bytes: refreshes in flight and their results (single
 * flight across workers), bearer tokens checked or being introspected
 * (the same entries, kind NGX_HTTP_OAUTH2_SHM_BEARER), the back-channel
 * logouts received and the jtis of the logout tokens already seen.
 * Entries are found by a key, the first NGX_HTTP_OAUTH2_SHM_KEY_LEN bytes
 * of a SHA-256 over their kind,
 * the provider's name and a value (a refresh token, a sid, ...), so no
 * token is kept in the zone in clear.
 */


#define NGX_HTTP_OAUTH2_SHM_KEY_LEN        16

/* kinds of entries, hashed into their keys */
#define NGX_HTTP_OAUTH2_SHM_REFRESH        'r'   /* a refresh token */
#define NGX_HTTP_OAUTH2_SHM_JTI            'j'   /* a logout token seen */
#define NGX_HTTP_OAUTH2_SHM_REVOKE_SID     's'   /* logged out: a sid */
#define NGX_HTTP_OAUTH2_SHM_REVOKE_SUB     'u'   /* logged out: a sub */
#define NGX_HTTP_OAUTH2_SHM_REVOKE_NOSID   'n'   /* a sub, only for the
                                                    sessions without sid */
#define NGX_HTTP_OAUTH2_SHM_BEARER         'b'   /* an access token checked:
                                                    its claims, or refused */

/* where a refresh is, ngx_http_oauth2_shm_refresh_get() */
#define NGX_HTTP_OAUTH2_SHM_NONE           0     /* the caller runs it */
#define NGX_HTTP_OAUTH2_SHM_RUNNING        1     /* someone else runs it */
#define NGX_HTTP_OAUTH2_SHM_DONE           2     /* the new session */
#define NGX_HTTP_OAUTH2_SHM_REFUSED        3     /* invalid_grant, or a
                                                    response that failed
                                                    validation */
#define NGX_HTTP_OAUTH2_SHM_FAILED         4     /* the provider failed */
#define NGX_HTTP_OAUTH2_SHM_LOST           5     /* done, but the result
                                                    was too large to keep */

/* a refresh result larger than this is not kept in the zone */
#define NGX_HTTP_OAUTH2_SHM_MAX_RESULT     8192


typedef struct {
    u_char                      key[NGX_HTTP_OAUTH2_SHM_KEY_LEN];
    time_t                      created; /* matches revocations recorded
                                            later than this */
} ngx_http_oauth2_shm_check_t;


/* registers the shared memory zone (omcf->zone, omcf->zone_size), and
 * checks the providers' back-channel logout settings */
ngx_int_t ngx_http_oauth2_shm_add(ngx_conf_t *cf,
    ngx_http_oauth2_main_conf_t *omcf);


/* the key of an entry; NGX_ERROR only if OpenSSL fails */
ngx_int_t ngx_http_oauth2_shm_key(ngx_uint_t kind, ngx_str_t *provider,
    ngx_str_t *value, u_char *key);

/*
 * Refresh single flight.  get: NGX_HTTP_OAUTH2_SHM_NONE when no refresh
 * of this token is known (an entry RUNNING until now + ttl is then
 * created for the caller, who must run it and set its outcome), else the
 * state of the known one; DONE copies the result (a sealed session) into
 * pool.  set: records the outcome (NONE removes the entry), kept ttl
 * seconds.
 */
ngx_uint_t ngx_http_oauth2_shm_refresh_get(ngx_shm_zone_t *zone, u_char *key,
    time_t ttl, ngx_pool_t *pool, ngx_str_t *result);
void ngx_http_oauth2_shm_refresh_set(ngx_shm_zone_t *zone, u_char *key,
    ngx_uint_t state, ngx_str_t *result, time_t ttl);

/*
 * Back-channel logout: records that the logout token jti (kept until
 * jti_expires) was seen and the revocations keys[0..n-1] (kinds in
 * kinds[]), kept until rev_expires.  NGX_OK, NGX_DECLINED if the jti was
 * seen before (nothing recorded), NGX_ERROR if the zone is out of memory.
 * The revocations match sessions created before "at" (0: now; a logout
 * heard from another host has its own time).
 */
ngx_int_t ngx_http_oauth2_shm_logout(ngx_shm_zone_t *zone, u_char *jti,
    time_t jti_expires, u_char (*keys)[NGX_HTTP_OAUTH2_SHM_KEY_LEN],
    u_char *kinds, ngx_uint_t n, time_t rev_expires, time_t at);

/* how many revocations the zone holds, without locking */
ngx_uint_t ngx_http_oauth2_shm_revocations(ngx_shm_zone_t *zone);

/* 1 if one of the checks matches a revocation */
ngx_uint_t ngx_http_oauth2_shm_revoked(ngx_shm_zone_t *zone,
    ngx_http_oauth2_shm_check_t *checks, ngx_uint_t n);


/* the zone's bytes in use: its size less its free pages (partly used
 * pages count as used) */
size_t ngx_http_oauth2_shm_used(ngx_shm_zone_t *zone);


#endif /* _NGX_HTTP_OAUTH2_SHM_H_INCLUDED_ */
