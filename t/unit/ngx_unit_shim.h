
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


#ifndef _NGX_UNIT_SHIM_H_INCLUDED_
#define _NGX_UNIT_SHIM_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


extern ngx_uint_t  ngx_unit_log_count;
extern ngx_uint_t  ngx_unit_log_verbose;
extern ngx_uint_t  ngx_unit_alloc_fail;


#endif /* _NGX_UNIT_SHIM_H_INCLUDED_ */
