
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * The oauth2_bearer and oauth2_auth_request directives, and the content
 * handler of oauth2_auth_request: 204 with the caller's identity in
 * headers, or the refusal.
 * (ngx_http_oauth2_authreq.c)
 */


#ifndef _NGX_HTTP_OAUTH2_AUTHREQ_H_INCLUDED_
#define _NGX_HTTP_OAUTH2_AUTHREQ_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_module.h"


/* oauth2_bearer NAME | off */
char *ngx_http_oauth2_bearer_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* oauth2_auth_request NAME */
char *ngx_http_oauth2_auth_request_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);


#endif /* _NGX_HTTP_OAUTH2_AUTHREQ_H_INCLUDED_ */
