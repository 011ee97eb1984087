
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


#ifndef _NGX_HTTP_OAUTH2_CONF_PROVIDER_H_INCLUDED_
#define _NGX_HTTP_OAUTH2_CONF_PROVIDER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_module.h"


/*
 * The handler of "oauth2_provider NAME { ... }": reads the block, fills
 * in the preset and the defaults, checks the provider and adds it to the
 * main configuration (conf).
 */
char *ngx_http_oauth2_conf_provider_block(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* the provider of that name, NULL if there is none */
ngx_http_oauth2_provider_t *ngx_http_oauth2_conf_find_provider(
    ngx_http_oauth2_main_conf_t *omcf, ngx_str_t *name);


#endif /* _NGX_HTTP_OAUTH2_CONF_PROVIDER_H_INCLUDED_ */
