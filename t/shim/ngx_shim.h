
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


#ifndef _NGX_SHIM_H_INCLUDED_
#define _NGX_SHIM_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/*
 * Stand-ins for the nginx core functions the module's files call, for the
 * unit tests of t/unit/ and the fuzzers of t/fuzz/ (Debian's nginx-dev
 * tree has the headers only).  Every pool allocation is a malloc() of its
 * own, so that AddressSanitizer sees any overrun of a pool allocation,
 * and destroying a pool runs its cleanups as nginx does (the last added
 * first), so that LeakSanitizer sees whatever a cleanup forgets (yajl
 * trees, EVP_PKEYs).
 *
 * Logging formats the message (so a bad %V or %s argument is caught),
 * counts it, appends it to ngx_shim_logged, and prints it if
 * ngx_shim_verbose.
 */


extern ngx_log_t   ngx_shim_log;

/* log lines go to stderr too */
extern ngx_uint_t  ngx_shim_verbose;

/* ngx_log_error() calls, and what they wrote (one line each, cut short
 * when the buffer is full), since ngx_shim_log_reset() */
extern ngx_uint_t  ngx_shim_log_count;
extern u_char      ngx_shim_logged[16384];
extern size_t      ngx_shim_logged_len;

/* non-zero: the pool allocation that many from now fails (once) */
extern ngx_uint_t  ngx_shim_alloc_fail;


/* once per process: ngx_shim_log at log_level, ngx_cycle; verbose if
 * the environment variable verbose_env is set */
void ngx_shim_init(ngx_uint_t log_level, const char *verbose_env);
void ngx_shim_log_reset(void);

/* a pool of its own malloc()s, and nginx's destruction of it */
ngx_pool_t *ngx_shim_pool(void);

/*
 * A request good enough for the cookie and query functions: a pool, a
 * connection with a log, headers_in.cookies (nginx 1.22) or
 * headers_in.cookie (1.23+), headers_out.headers, args.  Cookie header
 * values and args are copied into allocations of exactly their size.
 */
ngx_http_request_t *ngx_shim_request(ngx_pool_t *pool);
ngx_int_t ngx_shim_request_add_cookie(ngx_http_request_t *r, u_char *data,
    size_t len);
/* the request's n-th Cookie header (from 0), emptied ones too; or NULL */
ngx_table_elt_t *ngx_shim_request_cookie(ngx_http_request_t *r,
    ngx_uint_t n);
ngx_int_t ngx_shim_request_set_args(ngx_http_request_t *r, u_char *data,
    size_t len);

/* reads a whole file into malloc()ed memory; exits on errors */
u_char *ngx_shim_read_file(const char *path, size_t *len);


#endif /* _NGX_SHIM_H_INCLUDED_ */
