
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


#ifndef _NGX_HTTP_OAUTH2_SCRAPE_H_INCLUDED_
#define _NGX_HTTP_OAUTH2_SCRAPE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_module.h"


/* the "oauth2_metrics" directive: the location answers the metrics */
char *ngx_http_oauth2_scrape_conf(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


#endif /* _NGX_HTTP_OAUTH2_SCRAPE_H_INCLUDED_ */
