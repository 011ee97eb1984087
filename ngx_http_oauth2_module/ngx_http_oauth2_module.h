
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


#ifndef _NGX_HTTP_OAUTH2_MODULE_H_INCLUDED_
#define _NGX_HTTP_OAUTH2_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


#define NGX_HTTP_OAUTH2_MIN_SECRET_LEN    32

/* ID token signature algorithms, a bit each */
#define NGX_HTTP_OAUTH2_ALG_RS256         0x0001
#define NGX_HTTP_OAUTH2_ALG_RS384         0x0002
#define NGX_HTTP_OAUTH2_ALG_RS512         0x0004
#define NGX_HTTP_OAUTH2_ALG_PS256         0x0008
#define NGX_HTTP_OAUTH2_ALG_PS384         0x0010
#define NGX_HTTP_OAUTH2_ALG_PS512         0x0020
#define NGX_HTTP_OAUTH2_ALG_ES256         0x0040
#define NGX_HTTP_OAUTH2_ALG_ES384         0x0080
#define NGX_HTTP_OAUTH2_ALG_ES512         0x0100
#define NGX_HTTP_OAUTH2_ALG_EDDSA         0x0200
#define NGX_HTTP_OAUTH2_ALG_HS256         0x0400
#define NGX_HTTP_OAUTH2_ALG_HS384         0x0800
#define NGX_HTTP_OAUTH2_ALG_HS512         0x1000

#define NGX_HTTP_OAUTH2_PRESET_NONE       0
#define NGX_HTTP_OAUTH2_PRESET_GOOGLE     1
#define NGX_HTTP_OAUTH2_PRESET_GITHUB     2
#define NGX_HTTP_OAUTH2_PRESET_GITLAB     3

/* the JSON type of a claim kept in the session (docs/session-format.md) */
#define NGX_HTTP_OAUTH2_CLAIM_STRING      1
#define NGX_HTTP_OAUTH2_CLAIM_NUMBER      2
#define NGX_HTTP_OAUTH2_CLAIM_BOOLEAN     3
#define NGX_HTTP_OAUTH2_CLAIM_ARRAY       4

#define NGX_HTTP_OAUTH2_AUTH_BASIC        1
#define NGX_HTTP_OAUTH2_AUTH_POST         2
#define NGX_HTTP_OAUTH2_AUTH_PRIVATE_KEY  3    /* private_key_jwt */
#define NGX_HTTP_OAUTH2_AUTH_SECRET_JWT   4    /* client_secret_jwt */

#define NGX_HTTP_OAUTH2_SECURE_AUTO       2

/* userinfo off | on | auto */
#define NGX_HTTP_OAUTH2_USERINFO_OFF      0
#define NGX_HTTP_OAUTH2_USERINFO_ON       1
#define NGX_HTTP_OAUTH2_USERINFO_AUTO     2

/* pushed_authorization_requests off | on | auto */
#define NGX_HTTP_OAUTH2_PAR_OFF           0
#define NGX_HTTP_OAUTH2_PAR_ON            1
#define NGX_HTTP_OAUTH2_PAR_AUTO          2

/* response_mode query | form_post */
#define NGX_HTTP_OAUTH2_RESPONSE_QUERY    0
#define NGX_HTTP_OAUTH2_RESPONSE_FORM     1

/* session_store cookie | redis */
#define NGX_HTTP_OAUTH2_STORE_COOKIE      0
#define NGX_HTTP_OAUTH2_STORE_REDIS       1

/* bearer_validation jwt | introspection | auto */
#define NGX_HTTP_OAUTH2_BEARER_JWT        1
#define NGX_HTTP_OAUTH2_BEARER_INTROSPECT 2
#define NGX_HTTP_OAUTH2_BEARER_AUTO       3

/* the asymmetric algorithms: bearer_algs' default */
#define NGX_HTTP_OAUTH2_ALG_ASYMMETRIC    0x03ff


typedef struct ngx_http_oauth2_provider_rt_s  ngx_http_oauth2_provider_rt_t;


/* one oauth2_provider block */
typedef struct {
    ngx_str_t                       name;
    ngx_uint_t                      index;      /* in the providers */

    ngx_str_t                       issuer;
    ngx_str_t                       authorization_endpoint;
    ngx_str_t                       token_endpoint;
    ngx_str_t                       userinfo_endpoint;
    ngx_str_t                       jwks_uri;
    ngx_str_t                       end_session_endpoint;
    ngx_str_t                       revocation_endpoint;
    ngx_str_t                       par_endpoint;

    ngx_str_t                       client_id;
    ngx_str_t                       client_secret;

    /* private_key_jwt: the key (EVP_PKEY), its JWS algorithm (an
     * NGX_HTTP_OAUTH2_ALG_* bit), "kid" and certificate (file: or env:);
     * the assertions' header, built once, and "aud" if not the token
     * endpoint */
    struct evp_pkey_st             *client_key;
    ngx_uint_t                      client_key_alg;
    ngx_str_t                       client_key_id;
    ngx_str_t                       client_key_cert;
    ngx_str_t                       assertion_header;
    ngx_str_t                       assertion_audience;
    ngx_str_t                       scope;
    ngx_str_t                       auth_params;
    ngx_str_t                       redirect_uri;
    ngx_str_t                       redirect_path;      /* its path part */
    ngx_str_t                       logout_path;
    ngx_str_t                       post_logout_uri;
    ngx_str_t                       backchannel_path;
    ngx_str_t                       ssl_trusted_certificate;
    ngx_str_t                       user_agent;
    ngx_str_t                       proxy;              /* empty: none */
    ngx_str_t                       proxy_user;         /* decoded */
    ngx_str_t                       proxy_password;

    ngx_str_t                       cookie_name;        /* session cookie */
    ngx_str_t                       state_cookie_name;  /* prefix */

    ngx_uint_t                      preset;
    ngx_uint_t                      auth_method;
    ngx_uint_t                      algs;
    ngx_uint_t                      userinfo;
    ngx_uint_t                      par;
    ngx_uint_t                      response_mode;
    ngx_uint_t                      session_store;

    /*
     * "userinfo auto" with OpenID Connect: the claims (char *) an ID
     * token must carry for the login to do without userinfo; else NULL
     */
    ngx_array_t                    *userinfo_claims;

    ngx_flag_t                      oidc;
    ngx_flag_t                      refresh;
    ngx_flag_t                      revoke;

    ngx_msec_t                      connect_timeout;
    ngx_msec_t                      timeout;
    size_t                          max_response_size;

    time_t                          leeway;
    time_t                          refresh_margin;
    time_t                          session_lifetime;
    time_t                          metadata_ttl;
    time_t                          jwks_ttl;
    time_t                          jwks_min_refresh;

    /* access tokens of API callers (ngx_http_oauth2_bearer.c) */
    ngx_str_t                       bearer_audience;
    ngx_str_t                       introspection_endpoint;
    ngx_uint_t                      bearer_algs;
    ngx_uint_t                      bearer_validation;
    time_t                          bearer_cache_time;
    ngx_uint_t                      introspection_concurrency;
    ngx_uint_t                      introspections;  /* the worker's, now */
    unsigned                        bearer_algs_default:1;

    /* per-worker state: discovered metadata, JWKS, fetches in flight */
    ngx_http_oauth2_provider_rt_t  *rt;

    u_char                         *file;
    ngx_uint_t                      line;
} ngx_http_oauth2_provider_t;


typedef struct {
    ngx_array_t                     providers;  /* provider pointers */

    /* what sessions keep: claims by name (ngx_str_t), and tokens */
    ngx_array_t                     claims;
    unsigned                        store_access_token:1;
    unsigned                        store_id_token:1;
    unsigned                        shared_redirect:1;

    /* bytes of opened session cookies each worker keeps; 0: none */
    size_t                          session_cache;

    /* state shared by the workers (ngx_http_oauth2_shm.c) */
    size_t                          zone_size;
    ngx_shm_zone_t                 *zone;

    /* oauth2_redis and what goes with it (ngx_http_oauth2_fleet.c) */
    void                           *fleet;

    /* the counters (ngx_http_oauth2_metrics.c), kept when a location
     * has oauth2_metrics */
    ngx_shm_zone_t                 *metrics;
    unsigned                        metrics_used:1;
} ngx_http_oauth2_main_conf_t;


/* an explicit server_name of a server block: exact, wildcard or regex */
typedef struct {
    ngx_str_t                       name;
#if (NGX_PCRE)
    ngx_regex_t                    *regex;
#endif
} ngx_http_oauth2_name_t;


typedef struct {
    /* ngx_http_oauth2_name_t, NULL: the server names none */
    ngx_array_t                    *names;
} ngx_http_oauth2_srv_conf_t;


/* one oauth2_require rule */
typedef struct {
    ngx_str_t                       claim;
    ngx_str_t                       value;
#if (NGX_PCRE)
    ngx_regex_t                    *regex;
#endif
} ngx_http_oauth2_require_t;


typedef struct {
    /* NULL: off; NGX_CONF_UNSET_PTR: not set on this level */
    ngx_http_oauth2_provider_t     *provider;
    ngx_str_t                       provider_name;

    /* "oauth2 a b": every provider the location admits, else NULL */
    ngx_array_t                    *choices;
    ngx_array_t                    *choice_names;
    u_char                         *file;
    ngx_uint_t                      line;

    /* ngx_http_oauth2_keys_t (seal.h): the first seals, every one opens */
    ngx_array_t                    *keys;

    ngx_uint_t                      cookie_secure;
    ngx_str_t                       cookie_domain;

    /* ngx_http_oauth2_require_t, all must hold */
    ngx_array_t                    *require;

    ngx_flag_t                      strip_cookies;

    /* oauth2_bearer: NULL off, NGX_CONF_UNSET_PTR not set on this level */
    ngx_http_oauth2_provider_t     *bearer;
    ngx_str_t                       bearer_name;

    /* oauth2_auth_request: the provider its content handler answers for */
    ngx_http_oauth2_provider_t     *auth_request;
    ngx_str_t                       auth_request_name;

    time_t                          session_timeout;       /* 0: provider's */
    time_t                          session_idle_timeout;  /* 0: none */
} ngx_http_oauth2_loc_conf_t;


extern ngx_module_t  ngx_http_oauth2_module;


/*
 * 1 if no byte is below 0x20 or DEL (0x7f): nothing else may reach a
 * variable, where such bytes would split headers
 */

static ngx_inline ngx_uint_t
ngx_http_oauth2_clean(u_char *p, size_t len)
{
    u_char  *last;

    for (last = p + len; p < last; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            return 0;
        }
    }

    return 1;
}


#endif /* _NGX_HTTP_OAUTH2_MODULE_H_INCLUDED_ */
