
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


#ifndef _FUZZ_SHIM_H_INCLUDED_
#define _FUZZ_SHIM_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/*
 * Stand-ins for the nginx core functions the module's parsers call, shared
 * by every fuzzer of t/fuzz/ (Debian's nginx-dev tree has the headers
 * only).  Every pool allocation is a malloc() of its own, so that
 * AddressSanitizer sees any overrun of a pool allocation, and destroying
 * a pool runs its cleanups as nginx does (the last added first), so that
 * LeakSanitizer sees whatever a cleanup forgets (yajl trees, EVP_PKEYs).
 *
 * Logging formats the message into a small buffer (so a bad %V or %s
 * argument is caught) and drops it unless FUZZ_VERBOSE is set.
 */


extern ngx_log_t   fuzz_log;

/* FUZZ_VERBOSE is set: log lines and the harnesses' findings go to stderr */
extern ngx_uint_t  fuzz_verbose;


/* once per process: the log at debug level, ngx_cycle */
void fuzz_shim_init(void);

/* a pool of its own malloc()s, and nginx's destruction of it */
ngx_pool_t *fuzz_pool(void);

/*
 * A request good enough for the cookie and query functions: a pool, a
 * connection with a log, headers_in.cookies (nginx 1.22) or
 * headers_in.cookie (1.23+), headers_out.headers, args.  Cookie header
 * values and args are copied into allocations of exactly their size.
 */
ngx_http_request_t *fuzz_request(ngx_pool_t *pool);
ngx_int_t fuzz_request_add_cookie(ngx_http_request_t *r, u_char *data,
    size_t len);
ngx_int_t fuzz_request_set_args(ngx_http_request_t *r, u_char *data,
    size_t len);

/* reads a whole file into malloc()ed memory; exits on errors */
u_char *fuzz_read_file(const char *path, size_t *len);


#endif /* _FUZZ_SHIM_H_INCLUDED_ */
