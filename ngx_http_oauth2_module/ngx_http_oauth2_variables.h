
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


#ifndef _NGX_HTTP_OAUTH2_VARIABLES_H_INCLUDED_
#define _NGX_HTTP_OAUTH2_VARIABLES_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_module.h"


ngx_int_t ngx_http_oauth2_register_variables(ngx_conf_t *cf);


#endif /* _NGX_HTTP_OAUTH2_VARIABLES_H_INCLUDED_ */
