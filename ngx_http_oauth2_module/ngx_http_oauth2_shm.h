
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


#ifndef _NGX_HTTP_OAUTH2_SHM_H_INCLUDED_
#define _NGX_HTTP_OAUTH2_SHM_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_module.h"


/* registers the shared memory zone (omcf->zone, omcf->zone_size) */
ngx_int_t ngx_http_oauth2_shm_add(ngx_conf_t *cf,
    ngx_http_oauth2_main_conf_t *omcf);


#endif /* _NGX_HTTP_OAUTH2_SHM_H_INCLUDED_ */
