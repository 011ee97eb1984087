
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_module.h"
#include "ngx_http_oauth2_access.h"
#include "ngx_http_oauth2_backchannel.h"
#include "ngx_http_oauth2_http.h"
#include "ngx_http_oauth2_jwt.h"
#include "ngx_http_oauth2_park.h"
#include "ngx_http_oauth2_provider.h"
#include "ngx_http_oauth2_refresh.h"
#include "ngx_http_oauth2_ocache.h"
#include "ngx_http_oauth2_session.h"
#include "ngx_http_oauth2_seal.h"
#include "ngx_http_oauth2_shm.h"
#include "ngx_http_oauth2_variables.h"


#define NGX_HTTP_OAUTH2_CLAIM_PREFIX  "oauth2_claim_"


static char *ngx_http_oauth2_provider_block(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_oauth2_provider_directive(ngx_conf_t *cf,
    ngx_command_t *dummy, void *conf);
static char *ngx_http_oauth2_provider_finish(ngx_conf_t *cf,
    ngx_http_oauth2_provider_t *p);
static char *ngx_http_oauth2_set_url(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_oauth2_set_secret(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_oauth2_set_redirect_uri(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_oauth2_set_path(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_oauth2_set_auth_params(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_oauth2_set_algs(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_oauth2_set_cookie_name(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
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
static ngx_int_t ngx_http_oauth2_read_secret(ngx_conf_t *cf, ngx_str_t *spec,
    ngx_str_t *secret, const char *what);
static ngx_int_t ngx_http_oauth2_check_url(ngx_conf_t *cf, ngx_str_t *url,
    const char *what);
static ngx_http_oauth2_provider_t *ngx_http_oauth2_find_provider(
    ngx_http_oauth2_main_conf_t *omcf, ngx_str_t *name);

static ngx_int_t ngx_http_oauth2_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_http_oauth2_init(ngx_conf_t *cf);
static void ngx_http_oauth2_unique_claims(ngx_http_oauth2_main_conf_t *omcf);
static void ngx_http_oauth2_check_cookie_size(ngx_conf_t *cf,
    ngx_http_core_main_conf_t *cmcf, ngx_http_oauth2_main_conf_t *omcf);
static void *ngx_http_oauth2_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_oauth2_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_oauth2_create_srv_conf(ngx_conf_t *cf);
static ngx_int_t ngx_http_oauth2_server_names(ngx_conf_t *cf,
    ngx_http_core_main_conf_t *cmcf);
static void *ngx_http_oauth2_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_oauth2_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_oauth2_init_process(ngx_cycle_t *cycle);
static void ngx_http_oauth2_exit_process(ngx_cycle_t *cycle);


static ngx_conf_enum_t  ngx_http_oauth2_presets[] = {
    { ngx_string("google"), NGX_HTTP_OAUTH2_PRESET_GOOGLE },
    { ngx_string("github"), NGX_HTTP_OAUTH2_PRESET_GITHUB },
    { ngx_string("gitlab"), NGX_HTTP_OAUTH2_PRESET_GITLAB },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_oauth2_auth_methods[] = {
    { ngx_string("client_secret_basic"), NGX_HTTP_OAUTH2_AUTH_BASIC },
    { ngx_string("client_secret_post"), NGX_HTTP_OAUTH2_AUTH_POST },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_oauth2_secure_modes[] = {
    { ngx_string("off"), 0 },
    { ngx_string("on"), 1 },
    { ngx_string("auto"), NGX_HTTP_OAUTH2_SECURE_AUTO },
    { ngx_null_string, 0 }
};


/*
 * The directives of an oauth2_provider block.  They are not nginx
 * directives of their own: the block handler dispatches them here, so
 * their names (issuer, scope, ...) stay short without clashing with
 * other modules.  The context bits are unused; the arity bits are checked.
 */

static ngx_command_t  ngx_http_oauth2_provider_commands[] = {

    { ngx_string("issuer"),
      NGX_CONF_TAKE1,
      ngx_http_oauth2_set_url,
      0,
      offsetof(ngx_http_oauth2_provider_t, issuer),
      NULL },

    { ngx_string("authorization_endpoint"),
      NGX_CONF_TAKE1,
      ngx_http_oauth2_set_url,
      0,
      offsetof(ngx_http_oauth2_provider_t, authorization_endpoint),
      NULL },

    { ngx_string("token_endpoint"),
      NGX_CONF_TAKE1,
      ngx_http_oauth2_set_url,
      0,
      offsetof(ngx_http_oauth2_provider_t, token_endpoint),
      NULL },

    { ngx_string("userinfo_endpoint"),
      NGX_CONF_TAKE1,
      ngx_http_oauth2_set_url,
      0,
      offsetof(ngx_http_oauth2_provider_t, userinfo_endpoint),
      NULL },

    { ngx_string("jwks_uri"),
      NGX_CONF_TAKE1,
      ngx_http_oauth2_set_url,
      0,
      offsetof(ngx_http_oauth2_provider_t, jwks_uri),
      NULL },

    { ngx_string("end_session_endpoint"),
      NGX_CONF_TAKE1,
      ngx_http_oauth2_set_url,
      0,
      offsetof(ngx_http_oauth2_provider_t, end_session_endpoint),
      NULL },

    { ngx_string("revocation_endpoint"),
      NGX_CONF_TAKE1,
      ngx_http_oauth2_set_url,
      0,
      offsetof(ngx_http_oauth2_provider_t, revocation_endpoint),
      NULL },

    { ngx_string("client_id"),
      NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      0,
      offsetof(ngx_http_oauth2_provider_t, client_id),
      NULL },

    { ngx_string("client_secret"),
      NGX_CONF_TAKE1,
      ngx_http_oauth2_set_secret,
      0,
      offsetof(ngx_http_oauth2_provider_t, client_secret),
      NULL },

    { ngx_string("client_auth_method"),
      NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      0,
      offsetof(ngx_http_oauth2_provider_t, auth_method),
      &ngx_http_oauth2_auth_methods },

    { ngx_string("scope"),
      NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      0,
      offsetof(ngx_http_oauth2_provider_t, scope),
      NULL },

    { ngx_string("authorization_params"),
      NGX_CONF_TAKE1,
      ngx_http_oauth2_set_auth_params,
      0,
      offsetof(ngx_http_oauth2_provider_t, auth_params),
      NULL },

    { ngx_string("redirect_uri"),
      NGX_CONF_TAKE1,
      ngx_http_oauth2_set_redirect_uri,
      0,
      offsetof(ngx_http_oauth2_provider_t, redirect_uri),
      NULL },

    { ngx_string("preset"),
      NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      0,
      offsetof(ngx_http_oauth2_provider_t, preset),
      &ngx_http_oauth2_presets },

    { ngx_string("id_token_algs"),
      NGX_CONF_1MORE,
      ngx_http_oauth2_set_algs,
      0,
      offsetof(ngx_http_oauth2_provider_t, algs),
      NULL },

    { ngx_string("userinfo"),
      NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      0,
      offsetof(ngx_http_oauth2_provider_t, userinfo),
      NULL },

    { ngx_string("ssl_trusted_certificate"),
      NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      0,
      offsetof(ngx_http_oauth2_provider_t, ssl_trusted_certificate),
      NULL },

    { ngx_string("connect_timeout"),
      NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      0,
      offsetof(ngx_http_oauth2_provider_t, connect_timeout),
      NULL },

    { ngx_string("timeout"),
      NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      0,
      offsetof(ngx_http_oauth2_provider_t, timeout),
      NULL },

    { ngx_string("max_response_size"),
      NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      0,
      offsetof(ngx_http_oauth2_provider_t, max_response_size),
      NULL },

    { ngx_string("leeway"),
      NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      0,
      offsetof(ngx_http_oauth2_provider_t, leeway),
      NULL },

    { ngx_string("session_lifetime"),
      NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      0,
      offsetof(ngx_http_oauth2_provider_t, session_lifetime),
      NULL },

    { ngx_string("metadata_cache_time"),
      NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      0,
      offsetof(ngx_http_oauth2_provider_t, metadata_ttl),
      NULL },

    { ngx_string("jwks_cache_time"),
      NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      0,
      offsetof(ngx_http_oauth2_provider_t, jwks_ttl),
      NULL },

    { ngx_string("jwks_min_refresh"),
      NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      0,
      offsetof(ngx_http_oauth2_provider_t, jwks_min_refresh),
      NULL },

    { ngx_string("logout_uri"),
      NGX_CONF_TAKE1,
      ngx_http_oauth2_set_path,
      0,
      offsetof(ngx_http_oauth2_provider_t, logout_path),
      NULL },

    { ngx_string("post_logout_uri"),
      NGX_CONF_TAKE1,
      ngx_http_oauth2_set_path,
      0,
      offsetof(ngx_http_oauth2_provider_t, post_logout_uri),
      NULL },

    { ngx_string("backchannel_logout_uri"),
      NGX_CONF_TAKE1,
      ngx_http_oauth2_set_path,
      0,
      offsetof(ngx_http_oauth2_provider_t, backchannel_path),
      NULL },

    { ngx_string("revoke_tokens"),
      NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      0,
      offsetof(ngx_http_oauth2_provider_t, revoke),
      NULL },

    { ngx_string("refresh"),
      NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      0,
      offsetof(ngx_http_oauth2_provider_t, refresh),
      NULL },

    { ngx_string("refresh_margin"),
      NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      0,
      offsetof(ngx_http_oauth2_provider_t, refresh_margin),
      NULL },

    { ngx_string("cookie_name"),
      NGX_CONF_TAKE1,
      ngx_http_oauth2_set_cookie_name,
      0,
      offsetof(ngx_http_oauth2_provider_t, cookie_name),
      NULL },

      ngx_null_command
};


static ngx_command_t  ngx_http_oauth2_commands[] = {

    { ngx_string("oauth2_provider"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_BLOCK|NGX_CONF_TAKE1,
      ngx_http_oauth2_provider_block,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("oauth2"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_oauth2_oauth2,
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


static ngx_str_t  ngx_http_oauth2_default_scope = ngx_string("openid");
static ngx_str_t  ngx_http_oauth2_default_redirect =
    ngx_string("/oauth2/callback");


static char *
ngx_http_oauth2_provider_block(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_oauth2_main_conf_t *omcf = conf;

    char                         *rv;
    ngx_str_t                    *value;
    ngx_uint_t                    i;
    ngx_conf_t                    save;
    ngx_http_oauth2_provider_t   *p, **pp;

    value = cf->args->elts;

    if (value[1].len == 0 || value[1].len > 32) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid oauth2 provider name \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    for (i = 0; i < value[1].len; i++) {
        if (!(isalnum(value[1].data[i]) || value[1].data[i] == '_'
              || value[1].data[i] == '-'))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid oauth2 provider name \"%V\": "
                               "only letters, digits, \"_\" and \"-\" "
                               "are allowed", &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    if (ngx_http_oauth2_find_provider(omcf, &value[1]) != NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate oauth2 provider \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    p = ngx_pcalloc(cf->pool, sizeof(ngx_http_oauth2_provider_t));
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     p->issuer = { 0, NULL };
     *     p->*_endpoint = { 0, NULL };
     *     p->client_id = { 0, NULL };
     *     p->client_secret = { 0, NULL };
     *     p->scope = { 0, NULL };
     *     p->redirect_uri = { 0, NULL };
     *     p->ssl_trusted_certificate = { 0, NULL };
     *     p->cookie_name = { 0, NULL };
     *     p->algs = 0;
     *     p->rt = NULL;
     */

    p->name = value[1];
    p->preset = NGX_CONF_UNSET_UINT;
    p->auth_method = NGX_CONF_UNSET_UINT;
    p->userinfo = NGX_CONF_UNSET;
    p->connect_timeout = NGX_CONF_UNSET_MSEC;
    p->timeout = NGX_CONF_UNSET_MSEC;
    p->max_response_size = NGX_CONF_UNSET_SIZE;
    p->leeway = NGX_CONF_UNSET;
    p->refresh = NGX_CONF_UNSET;
    p->revoke = NGX_CONF_UNSET;
    p->refresh_margin = NGX_CONF_UNSET;
    p->session_lifetime = NGX_CONF_UNSET;
    p->metadata_ttl = NGX_CONF_UNSET;
    p->jwks_ttl = NGX_CONF_UNSET;
    p->jwks_min_refresh = NGX_CONF_UNSET;
    p->file = cf->conf_file->file.name.data;
    p->line = cf->conf_file->line;

    pp = ngx_array_push(&omcf->providers);
    if (pp == NULL) {
        return NGX_CONF_ERROR;
    }

    *pp = p;

    save = *cf;
    cf->handler = ngx_http_oauth2_provider_directive;
    cf->handler_conf = (void *) p;

    rv = ngx_conf_parse(cf, NULL);

    *cf = save;

    if (rv != NGX_CONF_OK) {
        return rv;
    }

    return ngx_http_oauth2_provider_finish(cf, p);
}


static char *
ngx_http_oauth2_provider_directive(ngx_conf_t *cf, ngx_command_t *dummy,
    void *conf)
{
    char           *rv;
    ngx_str_t      *name;
    ngx_uint_t      n;
    ngx_command_t  *cmd;

    static ngx_uint_t  argn[] = {
        NGX_CONF_NOARGS, NGX_CONF_TAKE1, NGX_CONF_TAKE2, NGX_CONF_TAKE3
    };

    name = cf->args->elts;
    n = cf->args->nelts - 1;

    for (cmd = ngx_http_oauth2_provider_commands; cmd->name.len; cmd++) {

        if (cmd->name.len != name->len
            || ngx_strncmp(cmd->name.data, name->data, name->len) != 0)
        {
            continue;
        }

        if (cmd->type & NGX_CONF_FLAG) {
            if (n != 1) {
                goto invalid;
            }

        } else if (cmd->type & NGX_CONF_1MORE) {
            if (n < 1) {
                goto invalid;
            }

        } else if (n > 3 || !(cmd->type & argn[n])) {
            goto invalid;
        }

        rv = cmd->set(cf, cmd, conf);

        if (rv == NGX_CONF_OK) {
            return NGX_CONF_OK;
        }

        if (rv != NGX_CONF_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%V\" directive %s", name, rv);
        }

        return NGX_CONF_ERROR;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "unknown directive \"%V\" in oauth2_provider block",
                       name);
    return NGX_CONF_ERROR;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid number of arguments in \"%V\" directive",
                       name);
    return NGX_CONF_ERROR;
}


/* fills in defaults and presets once the block is read, and checks it */

static char *
ngx_http_oauth2_provider_finish(ngx_conf_t *cf, ngx_http_oauth2_provider_t *p)
{
    u_char                        *s;
    ngx_uint_t                     i;
    ngx_str_t                     *a, *b;
    ngx_http_oauth2_provider_t   **pp;
    ngx_http_oauth2_main_conf_t   *omcf;

    ngx_conf_init_uint_value(p->preset, NGX_HTTP_OAUTH2_PRESET_NONE);

    switch (p->preset) {

    case NGX_HTTP_OAUTH2_PRESET_GOOGLE:
        if (p->issuer.len == 0) {
            ngx_str_set(&p->issuer, "https://accounts.google.com");
        }

        if (p->scope.data == NULL) {
            ngx_str_set(&p->scope, "openid email profile");
        }

        break;

    case NGX_HTTP_OAUTH2_PRESET_GITLAB:
        if (p->issuer.len == 0) {
            ngx_str_set(&p->issuer, "https://gitlab.com");
        }

        if (p->scope.data == NULL) {
            ngx_str_set(&p->scope, "openid email profile");
        }

        break;

    case NGX_HTTP_OAUTH2_PRESET_GITHUB:
        if (p->issuer.len) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "oauth2 provider \"%V\": GitHub is not an "
                               "OpenID Connect provider, \"issuer\" cannot "
                               "be used with \"preset github\"", &p->name);
            return NGX_CONF_ERROR;
        }

        if (p->authorization_endpoint.len == 0) {
            ngx_str_set(&p->authorization_endpoint,
                        "https://github.com/login/oauth/authorize");
        }

        if (p->token_endpoint.len == 0) {
            ngx_str_set(&p->token_endpoint,
                        "https://github.com/login/oauth/access_token");
        }

        if (p->userinfo_endpoint.len == 0) {
            ngx_str_set(&p->userinfo_endpoint, "https://api.github.com/user");
        }

        if (p->scope.data == NULL) {
            ngx_str_set(&p->scope, "read:user user:email");
        }

        break;
    }

    if (p->client_id.len == 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "oauth2 provider \"%V\" has no \"client_id\" "
                      "in %s:%ui", &p->name, p->file, p->line);
        return NGX_CONF_ERROR;
    }

    if (p->issuer.len == 0
        && (p->authorization_endpoint.len == 0 || p->token_endpoint.len == 0))
    {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "oauth2 provider \"%V\" needs \"issuer\" (OpenID "
                      "Connect discovery) or both \"authorization_endpoint\" "
                      "and \"token_endpoint\" in %s:%ui",
                      &p->name, p->file, p->line);
        return NGX_CONF_ERROR;
    }

    if (p->scope.data == NULL) {
        p->scope = ngx_http_oauth2_default_scope;
    }

    if (p->redirect_uri.data == NULL) {
        p->redirect_uri = ngx_http_oauth2_default_redirect;
    }

    /* an OpenID Connect provider gives an ID token; a plain OAuth 2.0 one
     * is asked who the user is at its userinfo endpoint */

    if (p->preset != NGX_HTTP_OAUTH2_PRESET_GITHUB
        && ngx_strlcasestrn(p->scope.data, p->scope.data + p->scope.len,
                            (u_char *) "openid", 6 - 1)
           != NULL)
    {
        p->oidc = 1;
    }

    if (!p->oidc) {
        if (p->userinfo_endpoint.len == 0) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "oauth2 provider \"%V\" is plain OAuth 2.0 (its "
                          "scope has no \"openid\") and needs "
                          "\"userinfo_endpoint\" in %s:%ui",
                          &p->name, p->file, p->line);
            return NGX_CONF_ERROR;
        }

        if (p->userinfo == 0) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "oauth2 provider \"%V\" is plain OAuth 2.0 and "
                          "cannot have \"userinfo off\" in %s:%ui",
                          &p->name, p->file, p->line);
            return NGX_CONF_ERROR;
        }

        p->userinfo = 1;
    }

    ngx_conf_init_value(p->userinfo, 0);
    ngx_conf_init_uint_value(p->auth_method, NGX_HTTP_OAUTH2_AUTH_BASIC);
    ngx_conf_init_msec_value(p->connect_timeout, 5000);
    ngx_conf_init_msec_value(p->timeout, 10000);
    ngx_conf_init_size_value(p->max_response_size, 1024 * 1024);
    ngx_conf_init_value(p->leeway, 60);
    ngx_conf_init_value(p->refresh, 1);
    ngx_conf_init_value(p->revoke, 0);
    ngx_conf_init_value(p->refresh_margin, 30);

    if (p->post_logout_uri.data == NULL) {
        ngx_str_set(&p->post_logout_uri, "/");
    }
    ngx_conf_init_value(p->session_lifetime, 8 * 3600);
    ngx_conf_init_value(p->metadata_ttl, 3600);
    ngx_conf_init_value(p->jwks_ttl, 3600);
    ngx_conf_init_value(p->jwks_min_refresh, 10);

    if (p->algs == 0) {
        p->algs = NGX_HTTP_OAUTH2_ALG_RS256;
    }

    if (p->cookie_name.len == 0) {
        p->cookie_name.len = sizeof("oauth2_") - 1 + p->name.len;
        p->cookie_name.data = ngx_pnalloc(cf->pool, p->cookie_name.len);
        if (p->cookie_name.data == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_sprintf(p->cookie_name.data, "oauth2_%V", &p->name);
    }

    p->state_cookie_name.len = p->cookie_name.len + sizeof("_st_") - 1;
    p->state_cookie_name.data = ngx_pnalloc(cf->pool,
                                            p->state_cookie_name.len);
    if (p->state_cookie_name.data == NULL) {
        return NGX_CONF_ERROR;
    }

    s = ngx_cpymem(p->state_cookie_name.data, p->cookie_name.data,
                   p->cookie_name.len);
    ngx_memcpy(s, "_st_", sizeof("_st_") - 1);

    /*
     * A provider's cookies are NAME, its chunks NAME_1.. and its state
     * cookies NAME_st_...: another provider's NAME may be neither NAME
     * nor begin with "NAME_" ("op" and "op_1" would read, delete and
     * strip each other's cookies)
     */

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_oauth2_module);
    pp = omcf->providers.elts;

    for (i = 0; i < omcf->providers.nelts; i++) {
        if (pp[i] == p) {
            continue;
        }

        a = &p->cookie_name;
        b = &pp[i]->cookie_name;

        if (a->len > b->len) {
            a = &pp[i]->cookie_name;
            b = &p->cookie_name;
        }

        if (ngx_strncmp(a->data, b->data, a->len) == 0
            && (a->len == b->len || b->data[a->len] == '_'))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "the cookies of oauth2 providers \"%V\" "
                               "and \"%V\" would clash: \"%V\" and "
                               "\"%V\"; set \"cookie_name\" in one of them",
                               &pp[i]->name, &p->name, &pp[i]->cookie_name,
                               &p->cookie_name);
            return NGX_CONF_ERROR;
        }
    }

    /* the path part of redirect_uri is what the callback is matched by */

    if (p->redirect_uri.data[0] == '/') {
        p->redirect_path = p->redirect_uri;

    } else {
        s = ngx_strlchr(p->redirect_uri.data + sizeof("http://") - 1,
                        p->redirect_uri.data + p->redirect_uri.len, '/');
        if (s == NULL) {
            ngx_str_set(&p->redirect_path, "/");

        } else {
            p->redirect_path.data = s;
            p->redirect_path.len = p->redirect_uri.data + p->redirect_uri.len
                                   - s;
        }
    }

    if (ngx_strlchr(p->redirect_path.data,
                    p->redirect_path.data + p->redirect_path.len, '?')
        != NULL)
    {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "oauth2 provider \"%V\": \"redirect_uri\" must not "
                      "have a query string in %s:%ui",
                      &p->name, p->file, p->line);
        return NGX_CONF_ERROR;
    }

    if (ngx_http_oauth2_provider_init(cf, p) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_oauth2_set_url(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    ngx_str_t  *field, *value;

    field = (ngx_str_t *) (p + cmd->offset);

    if (field->data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_http_oauth2_check_url(cf, &value[1], (char *) cmd->name.data)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    *field = value[1];

    /* "https://issuer/" and "https://issuer" are different issuers; keep
     * exactly what was written: discovery compares it byte for byte */

    return NGX_CONF_OK;
}


/*
 * Only http and https with a host.  Plain http is refused unless the host
 * is a loopback address, where it is allowed with a warning so that local
 * testing works.
 */

static ngx_int_t
ngx_http_oauth2_check_url(ngx_conf_t *cf, ngx_str_t *url, const char *what)
{
    u_char  *host, *end, *p;

    end = url->data + url->len;

    if (url->len > 8 && ngx_strncasecmp(url->data, (u_char *) "https://", 8)
                        == 0)
    {
        host = url->data + 8;

    } else if (url->len > 7
               && ngx_strncasecmp(url->data, (u_char *) "http://", 7) == 0)
    {
        host = url->data + 7;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid URL \"%V\" in \"%s\": must start with "
                           "\"https://\"", url, what);
        return NGX_ERROR;
    }

    if (host == end || *host == '/' || *host == ':' || *host == '?') {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid URL \"%V\" in \"%s\": no host",
                           url, what);
        return NGX_ERROR;
    }

    for (p = url->data; p < end; p++) {
        if (*p <= ' ' || *p == '"' || *p == '<' || *p == '>' || *p == '\\'
            || *p == '#' || *p == 0x7f)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid URL \"%V\" in \"%s\": invalid "
                               "character", url, what);
            return NGX_ERROR;
        }
    }

    if (ngx_strlchr(host, end, '@') != NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid URL \"%V\" in \"%s\": user information "
                           "is not allowed", url, what);
        return NGX_ERROR;
    }

    if (host - url->data == 7) {
        if (!ngx_http_oauth2_url_is_loopback(url)) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "insecure URL \"%V\" in \"%s\": plain http "
                               "is only allowed to loopback addresses",
                               url, what);
            return NGX_ERROR;
        }

        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "\"%s\" uses plain http to a loopback address, "
                           "for testing only", what);
    }

    return NGX_OK;
}


static char *
ngx_http_oauth2_set_secret(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    ngx_str_t  *field, *value;

    field = (ngx_str_t *) (p + cmd->offset);

    if (field->data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_http_oauth2_read_secret(cf, &value[1], field,
                                    (char *) cmd->name.data)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * A secret is written literally, as "env:NAME" (read from the
 * environment of the process that reads the configuration) or as
 * "file:/path" (the file's content without trailing white space).  Its
 * value never appears in a message.
 */

static ngx_int_t
ngx_http_oauth2_read_secret(ngx_conf_t *cf, ngx_str_t *spec,
    ngx_str_t *secret, const char *what)
{
    char             *env;
    u_char           *name;
    size_t            len;
    ssize_t           n;
    ngx_fd_t          fd;
    ngx_str_t         path;
    ngx_file_t        file;
    ngx_file_info_t   fi;

    if (spec->len > 4 && ngx_strncmp(spec->data, "env:", 4) == 0) {

        name = ngx_pnalloc(cf->temp_pool, spec->len - 4 + 1);
        if (name == NULL) {
            return NGX_ERROR;
        }

        ngx_cpystrn(name, spec->data + 4, spec->len - 4 + 1);

        env = getenv((char *) name);

        if (env == NULL || env[0] == '\0') {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%s\": environment variable \"%s\" is "
                               "not set or empty", what, name);
            return NGX_ERROR;
        }

        secret->len = ngx_strlen(env);
        secret->data = ngx_pnalloc(cf->pool, secret->len);
        if (secret->data == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(secret->data, env, secret->len);

        return NGX_OK;
    }

    if (spec->len > 5 && ngx_strncmp(spec->data, "file:", 5) == 0) {

        path.len = spec->len - 5;
        path.data = spec->data + 5;

        if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
            return NGX_ERROR;
        }

        fd = ngx_open_file(path.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
        if (fd == NGX_INVALID_FILE) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                               "\"%s\": cannot open \"%s\"", what,
                               path.data);
            return NGX_ERROR;
        }

        if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                               "\"%s\": cannot stat \"%s\"", what,
                               path.data);
            goto failed;
        }

        len = (size_t) ngx_file_size(&fi);

        if (len == 0 || len > 64 * 1024) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%s\": \"%s\" must hold between 1 byte "
                               "and 64 KiB", what, path.data);
            goto failed;
        }

        ngx_memzero(&file, sizeof(ngx_file_t));
        file.fd = fd;
        file.name = path;
        file.log = cf->log;

        secret->data = ngx_pnalloc(cf->pool, len);
        if (secret->data == NULL) {
            goto failed;
        }

        n = ngx_read_file(&file, secret->data, len, 0);

        if (n != (ssize_t) len) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                               "\"%s\": cannot read \"%s\"", what,
                               path.data);
            goto failed;
        }

        ngx_close_file(fd);

        while (len && (secret->data[len - 1] == '\n'
                       || secret->data[len - 1] == '\r'
                       || secret->data[len - 1] == ' '
                       || secret->data[len - 1] == '\t'))
        {
            len--;
        }

        if (len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%s\": \"%s\" is empty", what, path.data);
            return NGX_ERROR;
        }

        secret->len = len;

        return NGX_OK;

    failed:

        ngx_close_file(fd);
        return NGX_ERROR;
    }

    *secret = *spec;

    return NGX_OK;
}


static char *
ngx_http_oauth2_set_redirect_uri(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char  *p = conf;

    ngx_str_t  *field, *value;

    field = (ngx_str_t *) (p + cmd->offset);

    if (field->data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len && value[1].data[0] == '/') {

        if (value[1].len > 1 && value[1].data[1] == '/') {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid \"redirect_uri\" \"%V\": a path "
                               "must start with a single \"/\"", &value[1]);
            return NGX_CONF_ERROR;
        }

    } else if (ngx_http_oauth2_check_url(cf, &value[1], "redirect_uri")
               != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    *field = value[1];

    return NGX_CONF_OK;
}


/*
 * Extra authorization request parameters, already encoded:
 * "access_type=offline&prompt=consent".  The module's own cannot be
 * overridden.
 */

static char *
ngx_http_oauth2_set_auth_params(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_oauth2_provider_t *p = conf;

    u_char      *c, *start, *eq;
    ngx_str_t   *value, name;
    ngx_uint_t   i;

    static ngx_str_t  own[] = {
        ngx_string("response_type"), ngx_string("client_id"),
        ngx_string("redirect_uri"), ngx_string("scope"),
        ngx_string("state"), ngx_string("nonce"),
        ngx_string("code_challenge"), ngx_string("code_challenge_method")
    };

    if (p->auth_params.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    for (c = value[1].data; c < value[1].data + value[1].len; c++) {
        if (*c <= ' ' || *c == 0x7f || *c == '"' || *c == '<' || *c == '>'
            || *c == '#' || *c == '\\')
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid \"authorization_params\": invalid "
                               "character (write it URL-encoded)");
            return NGX_CONF_ERROR;
        }
    }

    start = value[1].data;

    while (start < value[1].data + value[1].len) {
        c = ngx_strlchr(start, value[1].data + value[1].len, '&');
        if (c == NULL) {
            c = value[1].data + value[1].len;
        }

        eq = ngx_strlchr(start, c, '=');

        name.data = start;
        name.len = (eq ? eq : c) - start;

        for (i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
            if (own[i].len == name.len
                && ngx_strncmp(own[i].data, name.data, name.len) == 0)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"authorization_params\" cannot set "
                                   "\"%V\", the module sends it", &name);
                return NGX_CONF_ERROR;
            }
        }

        start = c + 1;
    }

    p->auth_params = value[1];

    return NGX_CONF_OK;
}


/* a path on this host: "/...", never "//host" */

static char *
ngx_http_oauth2_set_path(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    u_char     *c;
    ngx_str_t  *field, *value;

    field = (ngx_str_t *) (p + cmd->offset);

    if (field->data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0 || value[1].data[0] != '/'
        || (value[1].len > 1
            && (value[1].data[1] == '/' || value[1].data[1] == '\\')))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"%V\" \"%V\": a path on this host "
                           "starting with a single \"/\" is expected",
                           &cmd->name, &value[1]);
        return NGX_CONF_ERROR;
    }

    for (c = value[1].data; c < value[1].data + value[1].len; c++) {
        if (*c <= ' ' || *c == 0x7f || *c == '"' || *c == '<' || *c == '>') {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid \"%V\" \"%V\": invalid character",
                               &cmd->name, &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    *field = value[1];

    return NGX_CONF_OK;
}


static char *
ngx_http_oauth2_set_algs(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_oauth2_provider_t *p = conf;

    ngx_str_t   *value;
    ngx_uint_t   i, bit;

    if (p->algs) {
        return "is duplicate";
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        bit = ngx_http_oauth2_alg_bit(&value[i]);

        if (bit == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "unsupported ID token algorithm \"%V\"",
                               &value[i]);
            return NGX_CONF_ERROR;
        }

        p->algs |= bit;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_oauth2_set_cookie_name(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_oauth2_provider_t *p = conf;

    u_char     *c;
    ngx_str_t  *value;

    if (p->cookie_name.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0 || value[1].len > 64) {
        return "has an invalid cookie name";
    }

    for (c = value[1].data; c < value[1].data + value[1].len; c++) {
        if (!(isalnum(*c) || *c == '_' || *c == '-')) {
            return "has an invalid cookie name";
        }
    }

    p->cookie_name = value[1];

    return NGX_CONF_OK;
}


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

    if (ngx_http_oauth2_read_secret(cf, &value[1], &secret,
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


static ngx_http_oauth2_provider_t *
ngx_http_oauth2_find_provider(ngx_http_oauth2_main_conf_t *omcf,
    ngx_str_t *name)
{
    ngx_uint_t                    i;
    ngx_http_oauth2_provider_t  **pp;

    pp = omcf->providers.elts;

    for (i = 0; i < omcf->providers.nelts; i++) {
        if (pp[i]->name.len == name->len
            && ngx_strncmp(pp[i]->name.data, name->data, name->len) == 0)
        {
            return pp[i];
        }
    }

    return NULL;
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
     *     olcf->file = NULL;
     *     olcf->line = 0;
     */

    olcf->provider = NGX_CONF_UNSET_PTR;
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
        conf->provider = ngx_http_oauth2_find_provider(omcf,
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

            *pp = ngx_http_oauth2_find_provider(omcf, &names[i]);

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
        && conf->keys == NULL)
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


static ngx_int_t
ngx_http_oauth2_init_process(ngx_cycle_t *cycle)
{
    ngx_http_oauth2_main_conf_t  *omcf;

    omcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_oauth2_module);

    if (omcf == NULL || omcf->providers.nelts == 0) {
        return NGX_OK;
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

    ngx_http_oauth2_ocache_exit();
    ngx_http_oauth2_seal_exit();
    ngx_http_oauth2_http_exit_process(cycle);
}
