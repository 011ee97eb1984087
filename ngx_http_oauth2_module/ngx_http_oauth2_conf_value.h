
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


#ifndef _NGX_HTTP_OAUTH2_CONF_VALUE_H_INCLUDED_
#define _NGX_HTTP_OAUTH2_CONF_VALUE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_module.h"


/*
 * Directive handlers: each stores its one argument into the ngx_str_t
 * at cmd->offset of conf ("is duplicate" when it is set already), or,
 * for auth_params, algs and cookie_name, into the provider conf is.
 */
char *ngx_http_oauth2_set_url(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_oauth2_set_secret(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_oauth2_set_redirect_uri(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_oauth2_set_path(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_oauth2_set_auth_params(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_oauth2_set_algs(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_oauth2_set_cookie_name(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_oauth2_set_proxy(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/*
 * A provider URL: http(s) with a host, no user information, no invalid
 * character; plain http only to a loopback address (with a warning).
 * "what" names the directive in the message.
 */
ngx_int_t ngx_http_oauth2_check_url(ngx_conf_t *cf, ngx_str_t *url,
    const char *what);

/*
 * A secret written literally, as "env:NAME" or as "file:/path" (the
 * file's content without trailing white space), into secret, allocated
 * in cf->pool; "what" names the directive in messages, which never show
 * the value.
 */
ngx_int_t ngx_http_oauth2_conf_read_secret(ngx_conf_t *cf, ngx_str_t *spec,
    ngx_str_t *secret, const char *what);

/* the ngx_str_t field of the directive, NULL if it is set already */
ngx_str_t *ngx_http_oauth2_unset_str(void *conf, ngx_command_t *cmd);


#endif /* _NGX_HTTP_OAUTH2_CONF_VALUE_H_INCLUDED_ */
