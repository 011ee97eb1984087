
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


#ifndef _SESSION_SHIM_H_INCLUDED_
#define _SESSION_SHIM_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/*
 * Stand-ins for the few nginx core functions ngx_http_oauth2_session.c
 * calls, so that it links into a test program without nginx's sources
 * (Debian's nginx-dev has the headers only).  Each pool allocation is a
 * malloc() of its own, so AddressSanitizer and valgrind see overruns.
 */

extern ngx_log_t  session_shim_log;

/* everything logged, formatted, one message a line */
extern u_char     session_shim_logged[16384];
extern size_t     session_shim_logged_len;

void session_shim_init(ngx_uint_t log_level);
void session_shim_log_reset(void);


#endif /* _SESSION_SHIM_H_INCLUDED_ */
