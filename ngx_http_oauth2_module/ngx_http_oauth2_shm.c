
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_module.h"
#include "ngx_http_oauth2_shm.h"


ngx_int_t
ngx_http_oauth2_shm_add(ngx_conf_t *cf, ngx_http_oauth2_main_conf_t *omcf)
{
    return NGX_OK;
}
