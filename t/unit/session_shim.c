
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "session_shim.h"


static u_char *shim_vformat(u_char *buf, u_char *last, const char *fmt,
    va_list args);
static u_char *shim_number(u_char *buf, u_char *last, uint64_t v,
    ngx_uint_t negative);
static u_char *shim_signed(u_char *buf, u_char *last, int64_t v);


ngx_log_t              session_shim_log;
u_char                 session_shim_logged[16384];
size_t                 session_shim_logged_len;

static ngx_cycle_t     shim_cycle;
volatile ngx_cycle_t  *ngx_cycle = &shim_cycle;

static const char      shim_b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";


void
session_shim_init(ngx_uint_t log_level)
{
    session_shim_log.log_level = log_level;
    shim_cycle.log = &session_shim_log;
    session_shim_log_reset();
}


void
session_shim_log_reset(void)
{
    session_shim_logged_len = 0;
}


/* pools */

ngx_pool_t *
ngx_create_pool(size_t size, ngx_log_t *log)
{
    ngx_pool_t  *p;

    p = calloc(1, sizeof(ngx_pool_t));
    if (p == NULL) {
        return NULL;
    }

    p->log = log;

    return p;
}


void
ngx_destroy_pool(ngx_pool_t *pool)
{
    ngx_pool_large_t  *l, *next;

    for (l = pool->large; l; l = next) {
        next = l->next;
        free(l->alloc);
        free(l);
    }

    free(pool);
}


void *
ngx_pnalloc(ngx_pool_t *pool, size_t size)
{
    ngx_pool_large_t  *l;

    l = malloc(sizeof(ngx_pool_large_t));
    if (l == NULL) {
        return NULL;
    }

    l->alloc = malloc(size ? size : 1);
    if (l->alloc == NULL) {
        free(l);
        return NULL;
    }

    l->next = pool->large;
    pool->large = l;

    return l->alloc;
}


/* the process heap (ngx_alloc.c) */

void *
ngx_alloc(size_t size, ngx_log_t *log)
{
    return malloc(size);
}


void *
ngx_calloc(size_t size, ngx_log_t *log)
{
    return calloc(1, size);
}


void *
ngx_palloc(ngx_pool_t *pool, size_t size)
{
    return ngx_pnalloc(pool, size);
}


void *
ngx_pcalloc(ngx_pool_t *pool, size_t size)
{
    void  *p;

    p = ngx_pnalloc(pool, size);
    if (p != NULL) {
        memset(p, 0, size);
    }

    return p;
}


/* arrays and lists, growing the way nginx's do */

ngx_array_t *
ngx_array_create(ngx_pool_t *p, ngx_uint_t n, size_t size)
{
    ngx_array_t  *a;

    a = ngx_palloc(p, sizeof(ngx_array_t));
    if (a == NULL) {
        return NULL;
    }

    if (ngx_array_init(a, p, n, size) != NGX_OK) {
        return NULL;
    }

    return a;
}


void *
ngx_array_push(ngx_array_t *a)
{
    void  *elts;

    if (a->nelts == a->nalloc) {
        elts = ngx_palloc(a->pool, 2 * a->size * a->nalloc);
        if (elts == NULL) {
            return NULL;
        }

        memcpy(elts, a->elts, a->size * a->nalloc);
        a->elts = elts;
        a->nalloc *= 2;
    }

    return (u_char *) a->elts + a->size * a->nelts++;
}


void *
ngx_list_push(ngx_list_t *l)
{
    ngx_list_part_t  *last;

    last = l->last;

    if (last->nelts == l->nalloc) {
        last = ngx_palloc(l->pool, sizeof(ngx_list_part_t));
        if (last == NULL) {
            return NULL;
        }

        last->elts = ngx_palloc(l->pool, l->nalloc * l->size);
        if (last->elts == NULL) {
            return NULL;
        }

        last->nelts = 0;
        last->next = NULL;

        l->last->next = last;
        l->last = last;
    }

    return (u_char *) last->elts + l->size * last->nelts++;
}


/* strings */

void
ngx_explicit_memzero(void *buf, size_t n)
{
    memset(buf, 0, n);
    __asm__ __volatile__ ("" : : "r" (buf) : "memory");
}


void
ngx_encode_base64url(ngx_str_t *dst, ngx_str_t *src)
{
    u_char  *d, *s;
    size_t   n;

    d = dst->data;
    s = src->data;

    for (n = src->len; n >= 3; n -= 3, s += 3) {
        *d++ = shim_b64url[s[0] >> 2];
        *d++ = shim_b64url[((s[0] & 0x03) << 4) | (s[1] >> 4)];
        *d++ = shim_b64url[((s[1] & 0x0f) << 2) | (s[2] >> 6)];
        *d++ = shim_b64url[s[2] & 0x3f];
    }

    if (n > 0) {
        *d++ = shim_b64url[s[0] >> 2];

        if (n == 1) {
            *d++ = shim_b64url[(s[0] & 0x03) << 4];

        } else {
            *d++ = shim_b64url[((s[0] & 0x03) << 4) | (s[1] >> 4)];
            *d++ = shim_b64url[(s[1] & 0x0f) << 2];
        }
    }

    dst->len = d - dst->data;
}


/* as nginx's: stops at "=", rejects other foreign characters */

ngx_int_t
ngx_decode_base64url(ngx_str_t *dst, ngx_str_t *src)
{
    u_char         *d, *s;
    size_t          len, i;
    ngx_uint_t      v, bits, k;
    static u_char   value[256];
    static int      ready;

    if (!ready) {
        memset(value, 0xff, sizeof(value));

        for (k = 0; k < 64; k++) {
            value[(u_char) shim_b64url[k]] = (u_char) k;
        }

        ready = 1;
    }

    s = src->data;

    for (len = 0; len < src->len && s[len] != '='; len++) {
        if (value[s[len]] == 0xff) {
            return NGX_ERROR;
        }
    }

    if (len % 4 == 1) {
        return NGX_ERROR;
    }

    d = dst->data;
    v = 0;
    bits = 0;

    for (i = 0; i < len; i++) {
        v = ((v << 6) | value[s[i]]) & 0xffffff;
        bits += 6;

        if (bits >= 8) {
            bits -= 8;
            *d++ = (u_char) (v >> bits);
        }
    }

    dst->len = d - dst->data;

    return NGX_OK;
}


/* the conversions the module uses: %T %ui %i %uz %z %d %V %s %% */

static u_char *
shim_number(u_char *buf, u_char *last, uint64_t v, ngx_uint_t negative)
{
    u_char  tmp[24], *p;

    p = tmp + sizeof(tmp);

    do {
        *--p = (u_char) ('0' + v % 10);
        v /= 10;
    } while (v);

    if (negative) {
        *--p = '-';
    }

    while (p < tmp + sizeof(tmp) && buf < last) {
        *buf++ = *p++;
    }

    return buf;
}


static u_char *
shim_signed(u_char *buf, u_char *last, int64_t v)
{
    uint64_t  u;

    u = (v < 0) ? 0 - (uint64_t) v : (uint64_t) v;

    return shim_number(buf, last, u, v < 0);
}


static u_char *
shim_vformat(u_char *buf, u_char *last, const char *fmt, va_list args)
{
    char       *s;
    ngx_str_t  *v;
    ngx_uint_t  u;

    while (*fmt && buf < last) {

        if (*fmt != '%') {
            *buf++ = (u_char) *fmt++;
            continue;
        }

        fmt++;
        u = 0;

        if (*fmt == 'u') {
            u = 1;
            fmt++;
        }

        switch (*fmt++) {

        case 'T':
            buf = shim_signed(buf, last, va_arg(args, time_t));
            break;

        case 'i':
            if (u) {
                buf = shim_number(buf, last, va_arg(args, ngx_uint_t), 0);

            } else {
                buf = shim_signed(buf, last, va_arg(args, ngx_int_t));
            }
            break;

        case 'z':
            if (u) {
                buf = shim_number(buf, last, va_arg(args, size_t), 0);

            } else {
                buf = shim_signed(buf, last, va_arg(args, ssize_t));
            }
            break;

        case 'd':
            buf = shim_signed(buf, last, va_arg(args, int));
            break;

        case 'V':
            v = va_arg(args, ngx_str_t *);
            u = ngx_min(v->len, (size_t) (last - buf));
            buf = ngx_cpymem(buf, v->data, u);
            break;

        case 's':
            s = va_arg(args, char *);
            while (*s && buf < last) {
                *buf++ = (u_char) *s++;
            }
            break;

        case '%':
            *buf++ = '%';
            break;

        default:
            fprintf(stderr, "session_shim: unsupported format \"%s\"\n",
                    fmt - 1);
            abort();
        }
    }

    return buf;
}


u_char * ngx_cdecl
ngx_sprintf(u_char *buf, const char *fmt, ...)
{
    u_char   *p;
    va_list   args;

    va_start(args, fmt);
    p = shim_vformat(buf, (u_char *) -1, fmt, args);
    va_end(args);

    return p;
}


void ngx_cdecl
ngx_log_error_core(ngx_uint_t level, ngx_log_t *log, ngx_err_t err,
    const char *fmt, ...)
{
    u_char   *p, *last;
    va_list   args;

    p = session_shim_logged + session_shim_logged_len;
    last = session_shim_logged + sizeof(session_shim_logged) - 1;

    va_start(args, fmt);
    p = shim_vformat(p, last, fmt, args);
    va_end(args);

    if (p < last) {
        *p++ = '\n';
    }

    if (getenv("SESSION_TEST_VERBOSE") != NULL) {
        fprintf(stderr, "log[%d]: %.*s", (int) level,
                (int) (p - session_shim_logged - session_shim_logged_len),
                session_shim_logged + session_shim_logged_len);
    }

    session_shim_logged_len = p - session_shim_logged;
}
