
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * The oauth2_provider block: its directives (dispatched by the block
 * handler, not nginx directives of their own), the presets, secrets
 * written literally, as env:NAME or as file:/path, the checks of the
 * URLs and paths it names, and the defaults and consistency checks
 * applied once the block is read.  The module's main configuration keeps
 * the providers; ngx_http_oauth2_module.c calls in here and nothing here
 * calls back.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_module.h"
#include "ngx_http_oauth2_assertion.h"
#include "ngx_http_oauth2_conf_provider.h"
#include "ngx_http_oauth2_conf_value.h"
#include "ngx_http_oauth2_jwk.h"
#include "ngx_http_oauth2_jwt.h"
#include "ngx_http_oauth2_provider.h"
#include "ngx_http_oauth2_url.h"


static char *ngx_http_oauth2_provider_directive(ngx_conf_t *cf,
    ngx_command_t *dummy, void *conf);
static char *ngx_http_oauth2_provider_finish(ngx_conf_t *cf,
    ngx_http_oauth2_main_conf_t *omcf, ngx_http_oauth2_provider_t *p);
static char *ngx_http_oauth2_set_client_key(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_http_oauth2_check_client_auth(ngx_conf_t *cf,
    ngx_http_oauth2_provider_t *p);


static ngx_conf_enum_t  ngx_http_oauth2_presets[] = {
    { ngx_string("google"), NGX_HTTP_OAUTH2_PRESET_GOOGLE },
    { ngx_string("github"), NGX_HTTP_OAUTH2_PRESET_GITHUB },
    { ngx_string("gitlab"), NGX_HTTP_OAUTH2_PRESET_GITLAB },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_oauth2_auth_methods[] = {
    { ngx_string("client_secret_basic"), NGX_HTTP_OAUTH2_AUTH_BASIC },
    { ngx_string("client_secret_post"), NGX_HTTP_OAUTH2_AUTH_POST },
    { ngx_string("private_key_jwt"), NGX_HTTP_OAUTH2_AUTH_PRIVATE_KEY },
    { ngx_string("client_secret_jwt"), NGX_HTTP_OAUTH2_AUTH_SECRET_JWT },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_oauth2_par_modes[] = {
    { ngx_string("off"), NGX_HTTP_OAUTH2_PAR_OFF },
    { ngx_string("on"), NGX_HTTP_OAUTH2_PAR_ON },
    { ngx_string("auto"), NGX_HTTP_OAUTH2_PAR_AUTO },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_oauth2_response_modes[] = {
    { ngx_string("query"), NGX_HTTP_OAUTH2_RESPONSE_QUERY },
    { ngx_string("form_post"), NGX_HTTP_OAUTH2_RESPONSE_FORM },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_oauth2_session_stores[] = {
    { ngx_string("cookie"), NGX_HTTP_OAUTH2_STORE_COOKIE },
    { ngx_string("redis"), NGX_HTTP_OAUTH2_STORE_REDIS },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_oauth2_bearer_modes[] = {
    { ngx_string("jwt"), NGX_HTTP_OAUTH2_BEARER_JWT },
    { ngx_string("introspection"), NGX_HTTP_OAUTH2_BEARER_INTROSPECT },
    { ngx_string("auto"), NGX_HTTP_OAUTH2_BEARER_AUTO },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_oauth2_userinfo_modes[] = {
    { ngx_string("off"), NGX_HTTP_OAUTH2_USERINFO_OFF },
    { ngx_string("on"), NGX_HTTP_OAUTH2_USERINFO_ON },
    { ngx_string("auto"), NGX_HTTP_OAUTH2_USERINFO_AUTO },
    { ngx_null_string, 0 }
};


/* introspection_concurrency: calls at once per worker */
static ngx_conf_num_bounds_t  ngx_http_oauth2_introspection_bounds = {
    ngx_conf_check_num_bounds, 1, 65535
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

    { ngx_string("pushed_authorization_request_endpoint"),
      NGX_CONF_TAKE1,
      ngx_http_oauth2_set_url,
      0,
      offsetof(ngx_http_oauth2_provider_t, par_endpoint),
      NULL },

    { ngx_string("pushed_authorization_requests"),
      NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      0,
      offsetof(ngx_http_oauth2_provider_t, par),
      &ngx_http_oauth2_par_modes },

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

    { ngx_string("client_key"),
      NGX_CONF_TAKE1,
      ngx_http_oauth2_set_client_key,
      0,
      0,
      NULL },

    { ngx_string("client_key_id"),
      NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      0,
      offsetof(ngx_http_oauth2_provider_t, client_key_id),
      NULL },

    { ngx_string("client_key_certificate"),
      NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      0,
      offsetof(ngx_http_oauth2_provider_t, client_key_cert),
      NULL },

    { ngx_string("client_assertion_audience"),
      NGX_CONF_TAKE1,
      ngx_http_oauth2_set_url,
      0,
      offsetof(ngx_http_oauth2_provider_t, assertion_audience),
      NULL },

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
      NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      0,
      offsetof(ngx_http_oauth2_provider_t, userinfo),
      &ngx_http_oauth2_userinfo_modes },

    { ngx_string("response_mode"),
      NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      0,
      offsetof(ngx_http_oauth2_provider_t, response_mode),
      &ngx_http_oauth2_response_modes },

    { ngx_string("session_store"),
      NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      0,
      offsetof(ngx_http_oauth2_provider_t, session_store),
      &ngx_http_oauth2_session_stores },

    { ngx_string("ssl_trusted_certificate"),
      NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      0,
      offsetof(ngx_http_oauth2_provider_t, ssl_trusted_certificate),
      NULL },

    { ngx_string("proxy"),
      NGX_CONF_TAKE1,
      ngx_http_oauth2_set_proxy,
      0,
      offsetof(ngx_http_oauth2_provider_t, proxy),
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

    { ngx_string("bearer_audience"),
      NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      0,
      offsetof(ngx_http_oauth2_provider_t, bearer_audience),
      NULL },

    { ngx_string("bearer_algs"),
      NGX_CONF_1MORE,
      ngx_http_oauth2_set_algs,
      0,
      offsetof(ngx_http_oauth2_provider_t, bearer_algs),
      NULL },

    { ngx_string("bearer_validation"),
      NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      0,
      offsetof(ngx_http_oauth2_provider_t, bearer_validation),
      &ngx_http_oauth2_bearer_modes },

    { ngx_string("introspection_endpoint"),
      NGX_CONF_TAKE1,
      ngx_http_oauth2_set_url,
      0,
      offsetof(ngx_http_oauth2_provider_t, introspection_endpoint),
      NULL },

    { ngx_string("bearer_cache_time"),
      NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      0,
      offsetof(ngx_http_oauth2_provider_t, bearer_cache_time),
      NULL },

    { ngx_string("introspection_concurrency"),
      NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      0,
      offsetof(ngx_http_oauth2_provider_t, introspection_concurrency),
      &ngx_http_oauth2_introspection_bounds },

      ngx_null_command
};


char *
ngx_http_oauth2_conf_provider_block(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
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

    if (ngx_http_oauth2_conf_find_provider(omcf, &value[1]) != NULL) {
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
     *     p->client_key = NULL;
     *     p->client_key_id = { 0, NULL };
     *     p->client_key_cert = { 0, NULL };
     *     p->assertion_header = { 0, NULL };
     *     p->assertion_audience = { 0, NULL };
     *     p->scope = { 0, NULL };
     *     p->redirect_uri = { 0, NULL };
     *     p->ssl_trusted_certificate = { 0, NULL };
     *     p->cookie_name = { 0, NULL };
     *     p->algs = 0;
     *     p->bearer_audience = { 0, NULL };
     *     p->bearer_algs = 0;
     *     p->rt = NULL;
     */

    p->name = value[1];
    p->preset = NGX_CONF_UNSET_UINT;
    p->auth_method = NGX_CONF_UNSET_UINT;
    p->userinfo = NGX_CONF_UNSET_UINT;
    p->par = NGX_CONF_UNSET_UINT;
    p->response_mode = NGX_CONF_UNSET_UINT;
    p->session_store = NGX_CONF_UNSET_UINT;
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
    p->bearer_validation = NGX_CONF_UNSET_UINT;
    p->bearer_cache_time = NGX_CONF_UNSET;
    p->introspection_concurrency = NGX_CONF_UNSET_UINT;
    p->file = cf->conf_file->file.name.data;
    p->line = cf->conf_file->line;

    pp = ngx_array_push(&omcf->providers);
    if (pp == NULL) {
        return NGX_CONF_ERROR;
    }

    *pp = p;
    p->index = omcf->providers.nelts - 1;

    save = *cf;
    cf->handler = ngx_http_oauth2_provider_directive;
    cf->handler_conf = (void *) p;

    rv = ngx_conf_parse(cf, NULL);

    *cf = save;

    if (rv != NGX_CONF_OK) {
        return rv;
    }

    return ngx_http_oauth2_provider_finish(cf, omcf, p);
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
ngx_http_oauth2_provider_finish(ngx_conf_t *cf,
    ngx_http_oauth2_main_conf_t *omcf, ngx_http_oauth2_provider_t *p)
{
    u_char                        *s, *t;
    ngx_uint_t                     i;
    ngx_str_t                     *a, *b;
    ngx_http_oauth2_provider_t   **pp;

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

    if (p->scope.data == NULL) {
        ngx_str_set(&p->scope, "openid");
    }

    if (p->redirect_uri.data == NULL) {
        ngx_str_set(&p->redirect_uri, "/oauth2/callback");
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

    /* OpenID Connect: the ID tokens' "iss" must equal the issuer */

    if (p->issuer.len == 0
        && (p->oidc || p->authorization_endpoint.len == 0
            || p->token_endpoint.len == 0))
    {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "oauth2 provider \"%V\" needs \"issuer\" (always "
                      "with \"openid\" in its scope) or both "
                      "\"authorization_endpoint\" and \"token_endpoint\" "
                      "in %s:%ui", &p->name, p->file, p->line);
        return NGX_CONF_ERROR;
    }

    /*
     * A multi-tenant issuer: one "{tenantid}", in the path, and no other
     * brace; each ID token's tid fills it (ngx_http_oauth2_jwt.c)
     */

    if (p->issuer.len
        && (ngx_strlchr(p->issuer.data, p->issuer.data + p->issuer.len, '{')
            || ngx_strlchr(p->issuer.data, p->issuer.data + p->issuer.len,
                           '}')))
    {
        t = ngx_http_oauth2_issuer_template(&p->issuer);
        s = ngx_http_oauth2_url_host(&p->issuer);

        if (s != NULL) {
            s = ngx_strlchr(s, p->issuer.data + p->issuer.len, '/');
        }

        if (t == NULL || s == NULL || t < s || !p->oidc
            || ngx_strlchr(p->issuer.data, t, '{')
            || ngx_strlchr(p->issuer.data, t, '}')
            || ngx_strlchr(t + sizeof(NGX_HTTP_OAUTH2_TENANT_ID) - 1,
                           p->issuer.data + p->issuer.len, '{')
            || ngx_strlchr(t + sizeof(NGX_HTTP_OAUTH2_TENANT_ID) - 1,
                           p->issuer.data + p->issuer.len, '}'))
        {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "oauth2 provider \"%V\": a multi-tenant "
                          "\"issuer\" has one \"" NGX_HTTP_OAUTH2_TENANT_ID
                          "\" in its path and no other brace, and needs "
                          "OpenID Connect, in %s:%ui",
                          &p->name, p->file, p->line);
            return NGX_CONF_ERROR;
        }
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

        if (p->userinfo == NGX_HTTP_OAUTH2_USERINFO_OFF) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "oauth2 provider \"%V\" is plain OAuth 2.0 and "
                          "cannot have \"userinfo off\" in %s:%ui",
                          &p->name, p->file, p->line);
            return NGX_CONF_ERROR;
        }

        p->userinfo = NGX_HTTP_OAUTH2_USERINFO_ON;
    }

    ngx_conf_init_uint_value(p->userinfo, NGX_HTTP_OAUTH2_USERINFO_AUTO);
    ngx_conf_init_uint_value(p->response_mode,
                             NGX_HTTP_OAUTH2_RESPONSE_QUERY);
    ngx_conf_init_uint_value(p->par, NGX_HTTP_OAUTH2_PAR_AUTO);
    ngx_conf_init_uint_value(p->session_store, NGX_HTTP_OAUTH2_STORE_COOKIE);

    if (ngx_http_oauth2_check_client_auth(cf, p) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

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

    /* access tokens: signed with the provider's keys, never a secret */

    if (p->bearer_algs == 0) {
        p->bearer_algs = NGX_HTTP_OAUTH2_ALG_ASYMMETRIC;
        p->bearer_algs_default = 1;
    }

    if (p->bearer_algs & ~NGX_HTTP_OAUTH2_ALG_ASYMMETRIC) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "oauth2 provider \"%V\": \"bearer_algs\" takes "
                      "asymmetric algorithms only in %s:%ui",
                      &p->name, p->file, p->line);
        return NGX_CONF_ERROR;
    }

    ngx_conf_init_uint_value(p->bearer_validation,
                             NGX_HTTP_OAUTH2_BEARER_AUTO);
    ngx_conf_init_value(p->bearer_cache_time, 600);
    ngx_conf_init_uint_value(p->introspection_concurrency, 32);

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


/* client_key file:/path.pem | env:NAME: read and checked once, here */

static char *
ngx_http_oauth2_set_client_key(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_oauth2_provider_t *p = conf;

    ngx_int_t   rc;
    ngx_str_t  *value, pem;

    if (p->client_key != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (!(value[1].len > 5 && ngx_strncmp(value[1].data, "file:", 5) == 0)
        && !(value[1].len > 4 && ngx_strncmp(value[1].data, "env:", 4) == 0))
    {
        return "takes \"file:/path\" or \"env:NAME\" (a PEM private key)";
    }

    if (ngx_http_oauth2_conf_read_secret(cf, &value[1], &pem, "client_key")
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    rc = ngx_http_oauth2_assertion_key(cf, &pem, "client_key",
                                       &p->client_key, &p->client_key_alg);

    ngx_explicit_memzero(pem.data, pem.len);

    return (rc == NGX_OK) ? NGX_CONF_OK : NGX_CONF_ERROR;
}


/*
 * The client authentication method and what it needs: a client_key
 * alone means private_key_jwt; private_key_jwt needs the key and
 * client_secret_jwt the secret.
 */

static ngx_int_t
ngx_http_oauth2_check_client_auth(ngx_conf_t *cf,
    ngx_http_oauth2_provider_t *p)
{
    ngx_str_t    pem, x5t, x5t_s256;
    const char  *problem;

    if (p->auth_method == NGX_CONF_UNSET_UINT) {
        p->auth_method = (p->client_key != NULL)
                         ? NGX_HTTP_OAUTH2_AUTH_PRIVATE_KEY
                         : NGX_HTTP_OAUTH2_AUTH_BASIC;
    }

    problem = NULL;

    switch (p->auth_method) {

    case NGX_HTTP_OAUTH2_AUTH_PRIVATE_KEY:
        if (p->client_key == NULL) {
            problem = "\"client_auth_method private_key_jwt\" needs "
                      "\"client_key\"";
        }

        break;

    case NGX_HTTP_OAUTH2_AUTH_SECRET_JWT:
        if (p->client_secret.len == 0) {
            problem = "\"client_auth_method client_secret_jwt\" needs "
                      "\"client_secret\"";

        } else if (p->client_key != NULL) {
            problem = "\"client_key\" is only used with "
                      "\"client_auth_method private_key_jwt\"";
        }

        break;

    default:
        if (p->client_key != NULL) {
            problem = "\"client_key\" is only used with "
                      "\"client_auth_method private_key_jwt\"";
        }
    }

    if (problem == NULL && p->client_key_id.len && p->client_key == NULL) {
        problem = "\"client_key_id\" names the key of \"client_key\", "
                  "which is not set";
    }

    if (problem == NULL && p->client_key_cert.len && p->client_key == NULL) {
        problem = "\"client_key_certificate\" is the certificate of "
                  "\"client_key\", which is not set";
    }

    if (problem == NULL && p->assertion_audience.len
        && p->auth_method != NGX_HTTP_OAUTH2_AUTH_PRIVATE_KEY
        && p->auth_method != NGX_HTTP_OAUTH2_AUTH_SECRET_JWT)
    {
        problem = "\"client_assertion_audience\" is only used with "
                  "\"private_key_jwt\" or \"client_secret_jwt\"";
    }

    if (problem == NULL
        && p->client_key_id.len
        && !ngx_http_oauth2_clean(p->client_key_id.data,
                                  p->client_key_id.len))
    {
        problem = "\"client_key_id\" has a control character";
    }

    if (problem != NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "oauth2 provider \"%V\": %s in %s:%ui",
                      &p->name, problem, p->file, p->line);
        return NGX_ERROR;
    }

    if (p->auth_method != NGX_HTTP_OAUTH2_AUTH_PRIVATE_KEY
        && p->auth_method != NGX_HTTP_OAUTH2_AUTH_SECRET_JWT)
    {
        return NGX_OK;
    }

    /* RFC 7518, 3.2: an HS256 key of at least 256 bits */

    if (p->auth_method == NGX_HTTP_OAUTH2_AUTH_SECRET_JWT
        && p->client_secret.len < 32)
    {
        ngx_log_error(NGX_LOG_WARN, cf->log, 0,
                      "oauth2 provider \"%V\": a \"client_secret\" of "
                      "%uz bytes is a weak key for client_secret_jwt "
                      "(HS256 wants 32 or more) in %s:%ui",
                      &p->name, p->client_secret.len, p->file, p->line);
    }

    ngx_str_null(&x5t);
    ngx_str_null(&x5t_s256);

    if (p->client_key_cert.len) {
        if (!(p->client_key_cert.len > 5
              && ngx_strncmp(p->client_key_cert.data, "file:", 5) == 0)
            && !(p->client_key_cert.len > 4
                 && ngx_strncmp(p->client_key_cert.data, "env:", 4) == 0))
        {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "oauth2 provider \"%V\": \"client_key_"
                          "certificate\" takes \"file:/path\" or "
                          "\"env:NAME\" in %s:%ui",
                          &p->name, p->file, p->line);
            return NGX_ERROR;
        }

        if (ngx_http_oauth2_conf_read_secret(cf, &p->client_key_cert, &pem,
                                             "client_key_certificate")
            != NGX_OK
            || ngx_http_oauth2_assertion_thumbprints(cf, &pem,
                                                     "client_key_certificate",
                                                     p->client_key, &x5t,
                                                     &x5t_s256)
               != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return ngx_http_oauth2_assertion_header(cf->pool, p->client_key_alg,
                                            &p->client_key_id, &x5t,
                                            &x5t_s256, &p->assertion_header);
}


ngx_http_oauth2_provider_t *
ngx_http_oauth2_conf_find_provider(ngx_http_oauth2_main_conf_t *omcf,
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
