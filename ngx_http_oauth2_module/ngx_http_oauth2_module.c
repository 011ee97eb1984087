
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * The module itself: its definition and directives table, the main,
 * server and location configurations (create, merge), postconfiguration
 * (phase handlers, the shared zone, which claims and tokens sessions
 * keep) and the worker process hooks.  The oauth2_provider block is read
 * by ngx_http_oauth2_conf_provider.c.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_module.h"
#include "ngx_http_oauth2_access.h"
#include "ngx_http_oauth2_authreq.h"
#include "ngx_http_oauth2_backchannel.h"
#include "ngx_http_oauth2_conf_provider.h"
#include "ngx_http_oauth2_conf_value.h"
#include "ngx_http_oauth2_fleet.h"
#include "ngx_http_oauth2_http.h"
#include "ngx_http_oauth2_metrics.h"
#include "ngx_http_oauth2_park.h"
#include "ngx_http_oauth2_provider.h"
#include "ngx_http_oauth2_refresh.h"
#include "ngx_http_oauth2_scrape.h"
#include "ngx_http_oauth2_ocache.h"
#include "ngx_http_oauth2_session.h"
#include "ngx_http_oauth2_seal.h"
#include "ngx_http_oauth2_shm.h"
#include "ngx_http_oauth2_variables.h"


#define NGX_HTTP_OAUTH2_CLAIM_PREFIX  "oauth2_claim_"


static char *ngx_http_oauth2_oauth2(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_oauth2_cookie_secret(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_oauth2_claims(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_oauth2_session_cache(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_oauth2_require(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

static ngx_int_t ngx_http_oauth2_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_http_oauth2_init(ngx_conf_t *cf);
static void ngx_http_oauth2_unique_claims(ngx_http_oauth2_main_conf_t *omcf);
static ngx_int_t ngx_http_oauth2_userinfo_claims(ngx_conf_t *cf,
    ngx_http_oauth2_main_conf_t *omcf, ngx_http_oauth2_provider_t *p);
static ngx_uint_t ngx_http_oauth2_scope_has(ngx_str_t *scope,
    const char *name);
static void ngx_http_oauth2_check_cookie_size(ngx_conf_t *cf,
    ngx_http_core_main_conf_t *cmcf, ngx_http_oauth2_main_conf_t *omcf);
static void *ngx_http_oauth2_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_oauth2_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_oauth2_create_srv_conf(ngx_conf_t *cf);
static ngx_int_t ngx_http_oauth2_server_names(ngx_conf_t *cf,
    ngx_http_core_main_conf_t *cmcf);
static void *ngx_http_oauth2_create_loc_conf(ngx_conf_t *cf);
static ngx_int_t ngx_http_oauth2_merge_bearer(ngx_conf_t *cf,
    ngx_http_oauth2_main_conf_t *omcf, ngx_http_oauth2_loc_conf_t *prev,
    ngx_http_oauth2_loc_conf_t *conf);
static char *ngx_http_oauth2_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_oauth2_init_process(ngx_cycle_t *cycle);
static void ngx_http_oauth2_exit_process(ngx_cycle_t *cycle);


static ngx_conf_enum_t  ngx_http_oauth2_secure_modes[] = {
    { ngx_string("off"), 0 },
    { ngx_string("on"), 1 },
    { ngx_string("auto"), NGX_HTTP_OAUTH2_SECURE_AUTO },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_http_oauth2_commands[] = {

    { ngx_string("oauth2_provider"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_BLOCK|NGX_CONF_TAKE1,
      ngx_http_oauth2_conf_provider_block,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("oauth2"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_oauth2_oauth2,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("oauth2_bearer"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_oauth2_bearer_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("oauth2_auth_request"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_oauth2_auth_request_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("oauth2_cookie_secret"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_http_oauth2_cookie_secret,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("oauth2_cookie_secure"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_oauth2_loc_conf_t, cookie_secure),
      &ngx_http_oauth2_secure_modes },

    { ngx_string("oauth2_cookie_domain"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_oauth2_loc_conf_t, cookie_domain),
      NULL },

    { ngx_string("oauth2_require"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE2,
      ngx_http_oauth2_require,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("oauth2_strip_cookies"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_oauth2_loc_conf_t, strip_cookies),
      NULL },

    { ngx_string("oauth2_session_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_oauth2_loc_conf_t, session_timeout),
      NULL },

    { ngx_string("oauth2_session_idle_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_oauth2_loc_conf_t, session_idle_timeout),
      NULL },

    { ngx_string("oauth2_zone_size"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_oauth2_main_conf_t, zone_size),
      NULL },

    { ngx_string("oauth2_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_oauth2_scrape_conf,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("oauth2_session_cache"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_oauth2_session_cache,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("oauth2_claims"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_oauth2_claims,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("oauth2_redis"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_oauth2_fleet_redis,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("oauth2_redis_password"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_oauth2_fleet_password,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("oauth2_redis_prefix"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_oauth2_fleet_prefix,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_oauth2_module_ctx = {
    ngx_http_oauth2_add_variables,         /* preconfiguration */
    ngx_http_oauth2_init,                  /* postconfiguration */

    ngx_http_oauth2_create_main_conf,      /* create main configuration */
    ngx_http_oauth2_init_main_conf,        /* init main configuration */

    ngx_http_oauth2_create_srv_conf,       /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_oauth2_create_loc_conf,       /* create location configuration */
    ngx_http_oauth2_merge_loc_conf         /* merge location configuration */
};


ngx_module_t  ngx_http_oauth2_module = {
    NGX_MODULE_V1,
    &ngx_http_oauth2_module_ctx,           /* module context */
    ngx_http_oauth2_commands,              /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_oauth2_init_process,          /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_oauth2_exit_process,          /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static char *
ngx_http_oauth2_oauth2(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_oauth2_loc_conf_t *olcf = conf;

    ngx_str_t   *value, *name;
    ngx_uint_t   i;

    if (olcf->provider != NGX_CONF_UNSET_PTR || olcf->provider_name.len) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 3 && ngx_strncmp(value[1].data, "off", 3) == 0) {
        if (cf->args->nelts > 2) {
            return "has \"off\" with other arguments";
        }

        olcf->provider = NULL;
        return NGX_CONF_OK;
    }

    /* providers are looked up when the whole http block has been read */

    if (cf->args->nelts > 2) {
        olcf->choice_names = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                              sizeof(ngx_str_t));
        if (olcf->choice_names == NULL) {
            return NGX_CONF_ERROR;
        }

        for (i = 1; i < cf->args->nelts; i++) {
            name = ngx_array_push(olcf->choice_names);
            if (name == NULL) {
                return NGX_CONF_ERROR;
            }

            *name = value[i];
        }
    }

    olcf->provider_name = value[1];
    olcf->provider = NGX_CONF_UNSET_PTR;
    olcf->file = cf->conf_file->file.name.data;
    olcf->line = cf->conf_file->line;

    return NGX_CONF_OK;
}


static char *
ngx_http_oauth2_cookie_secret(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_oauth2_loc_conf_t *olcf = conf;

    ngx_int_t                rc;
    ngx_str_t               *value, secret;
    ngx_http_oauth2_keys_t  *keys;

    value = cf->args->elts;

    if (olcf->keys == NGX_CONF_UNSET_PTR) {
        olcf->keys = ngx_array_create(cf->pool, 2,
                                      sizeof(ngx_http_oauth2_keys_t));
        if (olcf->keys == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    if (ngx_http_oauth2_conf_read_secret(cf, &value[1], &secret,
                                         "oauth2_cookie_secret")
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (secret.len < NGX_HTTP_OAUTH2_MIN_SECRET_LEN) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"oauth2_cookie_secret\" is too short: at least "
                           "%d bytes are required (generate one with "
                           "\"openssl rand -base64 48\")",
                           NGX_HTTP_OAUTH2_MIN_SECRET_LEN);
        return NGX_CONF_ERROR;
    }

    keys = ngx_array_push(olcf->keys);
    if (keys == NULL) {
        return NGX_CONF_ERROR;
    }

    rc = ngx_http_oauth2_derive_keys(&secret, keys);

    ngx_explicit_memzero(secret.data, secret.len);

    if (rc != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"oauth2_cookie_secret\": key derivation "
                           "failed");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_oauth2_claims(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_oauth2_main_conf_t *omcf = conf;

    ngx_str_t   *value, *name;
    ngx_uint_t   i;

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        name = ngx_array_push(&omcf->claims);
        if (name == NULL) {
            return NGX_CONF_ERROR;
        }

        *name = value[i];
    }

    return NGX_CONF_OK;
}


/* oauth2_session_cache off | size */

static char *
ngx_http_oauth2_session_cache(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_oauth2_main_conf_t *omcf = conf;

    ssize_t     size;
    ngx_str_t  *value;

    if (omcf->session_cache != NGX_CONF_UNSET_SIZE) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        omcf->session_cache = 0;
        return NGX_CONF_OK;
    }

    size = ngx_parse_size(&value[1]);

    if (size == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid size \"%V\" in \"%V\": a size such as "
                           "\"512k\" or \"off\"", &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (size < 16 * 1024 || size > 1024 * 1024 * 1024) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" must be between 16k and 1g, or \"off\"",
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    omcf->session_cache = size;

    return NGX_CONF_OK;
}


/*
 * oauth2_require CLAIM VALUE: the claim (or, for an array, one of its
 * elements) equals VALUE, or matches the regular expression after "~".
 * The claim is then kept in the session.
 */

static char *
ngx_http_oauth2_require(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_oauth2_loc_conf_t *olcf = conf;

    ngx_str_t                    *value, *name;
    ngx_http_oauth2_require_t    *rule;
    ngx_http_oauth2_main_conf_t  *omcf;
#if (NGX_PCRE)
    u_char                        errstr[NGX_MAX_CONF_ERRSTR];
    ngx_regex_compile_t           rc;
#endif

    value = cf->args->elts;

    if (olcf->require == NGX_CONF_UNSET_PTR) {
        olcf->require = ngx_array_create(cf->pool, 2,
                                         sizeof(ngx_http_oauth2_require_t));
        if (olcf->require == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    rule = ngx_array_push(olcf->require);
    if (rule == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(rule, sizeof(ngx_http_oauth2_require_t));

    rule->claim = value[1];
    rule->value = value[2];

    if (value[2].len > 1 && value[2].data[0] == '~') {
#if (NGX_PCRE)
        ngx_memzero(&rc, sizeof(ngx_regex_compile_t));

        rc.pattern.len = value[2].len - 1;
        rc.pattern.data = value[2].data + 1;
        rc.pool = cf->pool;
        rc.err.len = NGX_MAX_CONF_ERRSTR;
        rc.err.data = errstr;

        if (ngx_regex_compile(&rc) != NGX_OK) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%V", &rc.err);
            return NGX_CONF_ERROR;
        }

        rule->regex = rc.regex;
#else
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"oauth2_require\" with a regular expression "
                           "needs PCRE");
        return NGX_CONF_ERROR;
#endif
    }

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_oauth2_module);

    name = ngx_array_push(&omcf->claims);
    if (name == NULL) {
        return NGX_CONF_ERROR;
    }

    *name = value[1];

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_oauth2_add_variables(ngx_conf_t *cf)
{
    return ngx_http_oauth2_register_variables(cf);
}


static void *
ngx_http_oauth2_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_oauth2_main_conf_t  *omcf;

    omcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_oauth2_main_conf_t));
    if (omcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&omcf->providers, cf->pool, 2,
                       sizeof(ngx_http_oauth2_provider_t *))
        != NGX_OK)
    {
        return NULL;
    }

    if (ngx_array_init(&omcf->claims, cf->pool, 4, sizeof(ngx_str_t))
        != NGX_OK)
    {
        return NULL;
    }

    omcf->zone_size = NGX_CONF_UNSET_SIZE;
    omcf->session_cache = NGX_CONF_UNSET_SIZE;

    return omcf;
}


static char *
ngx_http_oauth2_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_oauth2_main_conf_t *omcf = conf;

    ngx_conf_init_size_value(omcf->zone_size, 1024 * 1024);
    ngx_conf_init_size_value(omcf->session_cache, 512 * 1024);

    if (ngx_http_oauth2_fleet_init_conf(cf, omcf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_oauth2_create_srv_conf(ngx_conf_t *cf)
{
    return ngx_pcalloc(cf->pool, sizeof(ngx_http_oauth2_srv_conf_t));
}


/*
 * nginx keeps a server's server_name list only while it reads the
 * configuration: each server's explicit names (all but "" and "_") are
 * copied for building absolute URLs (ngx_http_oauth2_request_host).
 */

static ngx_int_t
ngx_http_oauth2_server_names(ngx_conf_t *cf, ngx_http_core_main_conf_t *cmcf)
{
    ngx_uint_t                   i, j;
    ngx_http_server_name_t      *sn;
    ngx_http_oauth2_srv_conf_t  *oscf;
    ngx_http_oauth2_name_t      *name;
    ngx_http_core_srv_conf_t   **cscfp;

    cscfp = cmcf->servers.elts;

    for (i = 0; i < cmcf->servers.nelts; i++) {

        oscf = cscfp[i]->ctx->srv_conf[ngx_http_oauth2_module.ctx_index];
        sn = cscfp[i]->server_names.elts;

        for (j = 0; j < cscfp[i]->server_names.nelts; j++) {

#if (NGX_PCRE)
            if (sn[j].regex == NULL)
#endif
            {
                if (sn[j].name.len == 0
                    || (sn[j].name.len == 1 && sn[j].name.data[0] == '_'))
                {
                    continue;
                }
            }

            if (oscf->names == NULL) {
                oscf->names = ngx_array_create(cf->pool, 2,
                                               sizeof(ngx_http_oauth2_name_t));
                if (oscf->names == NULL) {
                    return NGX_ERROR;
                }
            }

            name = ngx_array_push(oscf->names);
            if (name == NULL) {
                return NGX_ERROR;
            }

            name->name.len = sn[j].name.len;
            name->name.data = ngx_pstrdup(cf->pool, &sn[j].name);
            if (name->name.data == NULL) {
                return NGX_ERROR;
            }

#if (NGX_PCRE)
            name->regex = sn[j].regex ? sn[j].regex->regex : NULL;
#endif
        }
    }

    return NGX_OK;
}


static void *
ngx_http_oauth2_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_oauth2_loc_conf_t  *olcf;

    olcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_oauth2_loc_conf_t));
    if (olcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     olcf->provider_name = { 0, NULL };
     *     olcf->cookie_domain = { 0, NULL };
     *     olcf->bearer_name = { 0, NULL };
     *     olcf->auth_request = NULL;
     *     olcf->auth_request_name = { 0, NULL };
     *     olcf->file = NULL;
     *     olcf->line = 0;
     */

    olcf->provider = NGX_CONF_UNSET_PTR;
    olcf->bearer = NGX_CONF_UNSET_PTR;
    olcf->keys = NGX_CONF_UNSET_PTR;
    olcf->cookie_secure = NGX_CONF_UNSET_UINT;
    olcf->require = NGX_CONF_UNSET_PTR;
    olcf->strip_cookies = NGX_CONF_UNSET;
    olcf->session_timeout = NGX_CONF_UNSET;
    olcf->session_idle_timeout = NGX_CONF_UNSET;

    return olcf;
}


static char *
ngx_http_oauth2_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_oauth2_loc_conf_t *prev = parent;
    ngx_http_oauth2_loc_conf_t *conf = child;

    ngx_str_t                     *names;
    ngx_uint_t                     i;
    ngx_http_oauth2_provider_t   **pp;
    ngx_http_oauth2_main_conf_t   *omcf;

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_oauth2_module);

    /* resolve "oauth2 NAME" on the level where it was written */

    if (conf->provider == NGX_CONF_UNSET_PTR && conf->provider_name.len) {
        conf->provider = ngx_http_oauth2_conf_find_provider(omcf,
                                                    &conf->provider_name);
        if (conf->provider == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "unknown oauth2 provider \"%V\" in %s:%ui",
                          &conf->provider_name, conf->file, conf->line);
            return NGX_CONF_ERROR;
        }
    }

    if (conf->choice_names != NULL) {
        conf->choices = ngx_array_create(cf->pool, conf->choice_names->nelts,
                                         sizeof(ngx_http_oauth2_provider_t *));
        if (conf->choices == NULL) {
            return NGX_CONF_ERROR;
        }

        names = conf->choice_names->elts;

        for (i = 0; i < conf->choice_names->nelts; i++) {
            pp = ngx_array_push(conf->choices);
            if (pp == NULL) {
                return NGX_CONF_ERROR;
            }

            *pp = ngx_http_oauth2_conf_find_provider(omcf, &names[i]);

            if (*pp == NULL) {
                ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                              "unknown oauth2 provider \"%V\" in %s:%ui",
                              &names[i], conf->file, conf->line);
                return NGX_CONF_ERROR;
            }
        }

        conf->choice_names = NULL;
    }

    if (conf->provider == NGX_CONF_UNSET_PTR) {
        conf->provider = prev->provider;
        conf->choices = prev->choices;
        conf->provider_name = prev->provider_name;
        conf->file = prev->file;
        conf->line = prev->line;
    }

    if (ngx_http_oauth2_merge_bearer(cf, omcf, prev, conf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    ngx_conf_merge_ptr_value(conf->keys, prev->keys, NULL);
    ngx_conf_merge_uint_value(conf->cookie_secure, prev->cookie_secure,
                              NGX_HTTP_OAUTH2_SECURE_AUTO);
    ngx_conf_merge_str_value(conf->cookie_domain, prev->cookie_domain, "");
    ngx_conf_merge_ptr_value(conf->require, prev->require, NULL);
    ngx_conf_merge_value(conf->strip_cookies, prev->strip_cookies, 1);
    ngx_conf_merge_value(conf->session_timeout, prev->session_timeout, 0);
    ngx_conf_merge_value(conf->session_idle_timeout,
                         prev->session_idle_timeout, 0);

    if (conf->provider != NULL && conf->provider != NGX_CONF_UNSET_PTR
        && conf->keys == NULL && conf->auth_request == NULL)
    {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"oauth2 %V\" in %s:%ui needs \"oauth2_cookie_secret\"",
                      &conf->provider_name, conf->file, conf->line);
        return NGX_CONF_ERROR;
    }

    if (conf->provider == NGX_CONF_UNSET_PTR) {
        conf->provider = NULL;
    }

    return NGX_CONF_OK;
}


/*
 * oauth2_bearer and oauth2_auth_request name their providers on the level
 * where they are written; a provider that takes access tokens must say
 * which audience they are for.
 */

static ngx_int_t
ngx_http_oauth2_merge_bearer(ngx_conf_t *cf, ngx_http_oauth2_main_conf_t *omcf,
    ngx_http_oauth2_loc_conf_t *prev, ngx_http_oauth2_loc_conf_t *conf)
{
    ngx_http_oauth2_provider_t  *p;

    if (conf->bearer == NGX_CONF_UNSET_PTR && conf->bearer_name.len) {
        conf->bearer = ngx_http_oauth2_conf_find_provider(omcf,
                                                          &conf->bearer_name);
        if (conf->bearer == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "unknown oauth2 provider \"%V\" in "
                          "\"oauth2_bearer\"", &conf->bearer_name);
            return NGX_ERROR;
        }
    }

    ngx_conf_merge_ptr_value(conf->bearer, prev->bearer, NULL);

    if (conf->auth_request_name.len) {
        conf->auth_request = ngx_http_oauth2_conf_find_provider(omcf,
                                                    &conf->auth_request_name);
        if (conf->auth_request == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "unknown oauth2 provider \"%V\" in "
                          "\"oauth2_auth_request\"",
                          &conf->auth_request_name);
            return NGX_ERROR;
        }

        /* it answers for a session of this provider, or its tokens */

        conf->provider = conf->auth_request;
        conf->provider_name = conf->auth_request_name;
        conf->choices = NULL;

        if (conf->bearer != NULL && conf->bearer != conf->auth_request) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"oauth2_auth_request %V\" and \"oauth2_bearer "
                          "%V\" name different providers",
                          &conf->auth_request_name, &conf->bearer->name);
            return NGX_ERROR;
        }

        if (conf->auth_request->bearer_audience.len) {
            conf->bearer = conf->auth_request;
        }
    }

    p = conf->bearer;

    if (p != NULL && p->bearer_audience.len == 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "oauth2 provider \"%V\" takes access tokens "
                      "(\"oauth2_bearer\") but has no \"bearer_audience\" "
                      "in %s:%ui", &p->name, p->file, p->line);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_oauth2_init(ngx_conf_t *cf)
{
    size_t                        len;
    ngx_str_t                    *claim;
    ngx_uint_t                    i, j;
    ngx_http_handler_pt          *h;
    ngx_http_variable_t          *v;
    ngx_http_core_main_conf_t    *cmcf;
    ngx_http_oauth2_provider_t  **pp;
    ngx_http_oauth2_main_conf_t  *omcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);
    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_oauth2_module);

    if (omcf->providers.nelts == 0) {

        if (omcf->metrics_used) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"oauth2_metrics\" is used but no "
                          "\"oauth2_provider\" is configured");
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_oauth2_access_handler;

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PRECONTENT_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_oauth2_subrequest_handler;

    if (ngx_http_oauth2_server_names(cf, cmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_oauth2_shm_add(cf, omcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (omcf->metrics_used && ngx_http_oauth2_metrics_add(cf, omcf) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_oauth2_backchannel_init(cf, omcf) != NGX_OK) {
        return NGX_ERROR;
    }

    /*
     * The session keeps only the claims the configuration uses: every
     * $oauth2_claim_NAME written anywhere in it is an indexed variable by
     * now, plus those named by oauth2_claims.  Tokens are kept only when
     * their variables are used.
     */

    len = sizeof(NGX_HTTP_OAUTH2_CLAIM_PREFIX) - 1;
    v = cmcf->variables.elts;

    for (i = 0; i < cmcf->variables.nelts; i++) {

        if (v[i].name.len > len
            && ngx_strncmp(v[i].name.data, NGX_HTTP_OAUTH2_CLAIM_PREFIX, len)
               == 0)
        {
            claim = ngx_array_push(&omcf->claims);
            if (claim == NULL) {
                return NGX_ERROR;
            }

            claim->len = v[i].name.len - len;
            claim->data = v[i].name.data + len;
            continue;
        }

        if (v[i].name.len == sizeof("oauth2_access_token") - 1
            && ngx_strncmp(v[i].name.data, "oauth2_access_token",
                           v[i].name.len) == 0)
        {
            omcf->store_access_token = 1;
        }

        if (v[i].name.len == sizeof("oauth2_id_token") - 1
            && ngx_strncmp(v[i].name.data, "oauth2_id_token",
                           v[i].name.len) == 0)
        {
            omcf->store_id_token = 1;
        }
    }

    /* RP-initiated logout sends the ID token back as id_token_hint */

    pp = omcf->providers.elts;

    for (i = 0; i < omcf->providers.nelts; i++) {
        /* several providers on one callback path are told apart by
         * their state cookies */

        for (j = 0; j < i; j++) {
            if (pp[j]->redirect_path.len == pp[i]->redirect_path.len
                && ngx_strncmp(pp[j]->redirect_path.data,
                               pp[i]->redirect_path.data,
                               pp[i]->redirect_path.len) == 0)
            {
                omcf->shared_redirect = 1;
            }
        }
    }

    ngx_http_oauth2_unique_claims(omcf);

    for (i = 0; i < omcf->providers.nelts; i++) {
        if (ngx_http_oauth2_userinfo_claims(cf, omcf, pp[i]) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    ngx_http_oauth2_check_cookie_size(cf, cmcf, omcf);

    return NGX_OK;
}


/*
 * A request header line must fit in one large_client_header_buffers
 * buffer.  The session cookie is small unless tokens are kept; then it may
 * take several KB (and several cookies, all in the one Cookie line).  Warn
 * when a likely worst case does not fit.
 */

static void
ngx_http_oauth2_check_cookie_size(ngx_conf_t *cf,
    ngx_http_core_main_conf_t *cmcf, ngx_http_oauth2_main_conf_t *omcf)
{
    size_t                       worst, plain;
    ngx_uint_t                   i, refresh, logout;
    ngx_http_oauth2_provider_t **pp;
    ngx_http_core_srv_conf_t   **cscfp;

    refresh = 0;
    logout = 0;
    pp = omcf->providers.elts;

    for (i = 0; i < omcf->providers.nelts; i++) {
        if (pp[i]->refresh) {
            refresh = 1;
        }

        /* RP-initiated logout keeps the ID token for id_token_hint */

        if (pp[i]->logout_path.len && pp[i]->oidc) {
            logout = 1;
        }
    }

    /* identity and times, each claim, each token (JWTs of a few KB) */

    plain = 256 + 256 * omcf->claims.nelts
            + (omcf->store_access_token ? 4096 : 0)
            + ((omcf->store_id_token || logout) ? 4096 : 0)
            + (refresh ? 1024 : 0);

    worst = sizeof("Cookie: ") - 1 + 64
            + ngx_base64_encoded_length(1 + 12 + plain + 16);

    cscfp = cmcf->servers.elts;

    for (i = 0; i < cmcf->servers.nelts; i++) {
        if (worst > cscfp[i]->large_client_header_buffers.size) {
            ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                               "the oauth2 session cookie may reach %uz "
                               "bytes with the tokens it keeps, more than "
                               "\"large_client_header_buffers\" (%uz) "
                               "allows in a request; raise it",
                               worst,
                               cscfp[i]->large_client_header_buffers.size);
            return;
        }
    }
}


/* a claim named by several variables or rules is kept once */

static void
ngx_http_oauth2_unique_claims(ngx_http_oauth2_main_conf_t *omcf)
{
    ngx_str_t   *name;
    ngx_uint_t   i, j, n;

    name = omcf->claims.elts;
    n = 0;

    for (i = 0; i < omcf->claims.nelts; i++) {

        for (j = 0; j < n; j++) {
            if (name[j].len == name[i].len
                && ngx_strncmp(name[j].data, name[i].data, name[i].len) == 0)
            {
                break;
            }
        }

        if (j == n) {
            name[n++] = name[i];
        }
    }

    omcf->claims.nelts = n;
}


/*
 * "userinfo auto" with OpenID Connect: the login asks userinfo only when
 * the ID token lacks one of these claims (OpenID Connect Core 5.4 lets a
 * provider that issues an access token put the scope's claims in userinfo
 * alone): every claim the configuration uses, and "email" and
 * "email_verified" when the scope asks for the address, which
 * $oauth2_email is always kept from
 */

static ngx_int_t
ngx_http_oauth2_userinfo_claims(ngx_conf_t *cf,
    ngx_http_oauth2_main_conf_t *omcf, ngx_http_oauth2_provider_t *p)
{
    char        **name;
    ngx_str_t    *claim;
    ngx_uint_t    i;

    if (p->userinfo != NGX_HTTP_OAUTH2_USERINFO_AUTO || !p->oidc) {
        return NGX_OK;
    }

    p->userinfo_claims = ngx_array_create(cf->pool, omcf->claims.nelts + 2,
                                          sizeof(char *));
    if (p->userinfo_claims == NULL) {
        return NGX_ERROR;
    }

    claim = omcf->claims.elts;

    for (i = 0; i < omcf->claims.nelts; i++) {
        name = ngx_array_push(p->userinfo_claims);
        if (name == NULL) {
            return NGX_ERROR;
        }

        *name = ngx_pnalloc(cf->pool, claim[i].len + 1);
        if (*name == NULL) {
            return NGX_ERROR;
        }

        ngx_cpystrn((u_char *) *name, claim[i].data, claim[i].len + 1);
    }

    if (ngx_http_oauth2_scope_has(&p->scope, "email")) {
        name = ngx_array_push_n(p->userinfo_claims, 2);
        if (name == NULL) {
            return NGX_ERROR;
        }

        name[0] = "email";
        name[1] = "email_verified";
    }

    return NGX_OK;
}


/* 1 if the space-separated scope has the value name (RFC 6749, 3.3) */

static ngx_uint_t
ngx_http_oauth2_scope_has(ngx_str_t *scope, const char *name)
{
    u_char  *p, *end, *last;
    size_t   len;

    len = ngx_strlen(name);
    p = scope->data;
    last = p + scope->len;

    while (p < last) {
        end = ngx_strlchr(p, last, ' ');
        if (end == NULL) {
            end = last;
        }

        if ((size_t) (end - p) == len && ngx_strncmp(p, name, len) == 0) {
            return 1;
        }

        p = end + 1;
    }

    return 0;
}


static ngx_int_t
ngx_http_oauth2_init_process(ngx_cycle_t *cycle)
{
    ngx_http_oauth2_main_conf_t  *omcf;

    omcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_oauth2_module);

    if (omcf == NULL || omcf->providers.nelts == 0) {
        return NGX_OK;
    }

    ngx_http_oauth2_metrics_init_process(cycle);

    if (ngx_http_oauth2_fleet_init_process(cycle, omcf) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_oauth2_http_init_process(cycle);
}


static void
ngx_http_oauth2_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                    i;
    ngx_http_oauth2_provider_t  **pp;
    ngx_http_oauth2_main_conf_t  *omcf;

    omcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_oauth2_module);

    /* requests first (their fetches go with their pools), then the
     * providers' caches, then the client itself */

    ngx_http_oauth2_end_parked();
    ngx_http_oauth2_refresh_exit();

    if (omcf != NULL) {
        pp = omcf->providers.elts;

        for (i = 0; i < omcf->providers.nelts; i++) {
            ngx_http_oauth2_provider_exit(pp[i]);
        }
    }

    ngx_http_oauth2_fleet_exit_process();
    ngx_http_oauth2_ocache_exit();
    ngx_http_oauth2_seal_exit();
    ngx_http_oauth2_http_exit_process(cycle);
}
