
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * The few nginx core functions the JSON and JWT code calls, for the unit
 * test only: the Debian nginx-dev tree has the headers but not the core
 * sources.  Every pool allocation is a separate malloc() so that
 * AddressSanitizer sees overruns, and ngx_destroy_pool() runs the cleanups
 * like nginx does (the most recently added first).
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_unit_shim.h"


static void *ngx_unit_alloc(ngx_pool_t *pool, size_t size);


ngx_uint_t  ngx_unit_log_count;
ngx_uint_t  ngx_unit_log_verbose;
ngx_uint_t  ngx_unit_alloc_fail;    /* fail the n-th allocation from now */


ngx_pool_t *
ngx_create_pool(size_t size, ngx_log_t *log)
{
    ngx_pool_t  *pool;

    pool = calloc(1, sizeof(ngx_pool_t));
    if (pool == NULL) {
        return NULL;
    }

    pool->max = size;
    pool->current = pool;
    pool->log = log;

    return pool;
}


void
ngx_destroy_pool(ngx_pool_t *pool)
{
    ngx_pool_large_t    *l, *ln;
    ngx_pool_cleanup_t  *c, *cn;

    for (c = pool->cleanup; c != NULL; c = c->next) {
        if (c->handler != NULL) {
            c->handler(c->data);
        }
    }

    for (c = pool->cleanup; c != NULL; c = cn) {
        cn = c->next;
        free(c);
    }

    for (l = pool->large; l != NULL; l = ln) {
        ln = l->next;
        free(l->alloc);
        free(l);
    }

    free(pool);
}


static void *
ngx_unit_alloc(ngx_pool_t *pool, size_t size)
{
    void              *p;
    ngx_pool_large_t  *l;

    if (ngx_unit_alloc_fail > 0 && --ngx_unit_alloc_fail == 0) {
        return NULL;
    }

    p = malloc(size ? size : 1);
    if (p == NULL) {
        return NULL;
    }

    l = malloc(sizeof(ngx_pool_large_t));
    if (l == NULL) {
        free(p);
        return NULL;
    }

    l->alloc = p;
    l->next = pool->large;
    pool->large = l;

    return p;
}


void *
ngx_palloc(ngx_pool_t *pool, size_t size)
{
    return ngx_unit_alloc(pool, size);
}


void *
ngx_pnalloc(ngx_pool_t *pool, size_t size)
{
    return ngx_unit_alloc(pool, size);
}


void *
ngx_pcalloc(ngx_pool_t *pool, size_t size)
{
    void  *p;

    p = ngx_unit_alloc(pool, size);
    if (p != NULL) {
        ngx_memzero(p, size);
    }

    return p;
}


ngx_int_t
ngx_pfree(ngx_pool_t *pool, void *p)
{
    ngx_pool_large_t  *l;

    for (l = pool->large; l != NULL; l = l->next) {
        if (l->alloc == p) {
            free(l->alloc);
            l->alloc = NULL;
            return NGX_OK;
        }
    }

    return NGX_DECLINED;
}


ngx_pool_cleanup_t *
ngx_pool_cleanup_add(ngx_pool_t *p, size_t size)
{
    ngx_pool_cleanup_t  *c;

    if (ngx_unit_alloc_fail > 0 && --ngx_unit_alloc_fail == 0) {
        return NULL;
    }

    c = malloc(sizeof(ngx_pool_cleanup_t));
    if (c == NULL) {
        return NULL;
    }

    if (size) {
        c->data = ngx_palloc(p, size);
        if (c->data == NULL) {
            free(c);
            return NULL;
        }

    } else {
        c->data = NULL;
    }

    c->handler = NULL;
    c->next = p->cleanup;
    p->cleanup = c;

    return c;
}


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
    void  *elt, *new;

    if (a->nelts == a->nalloc) {
        new = ngx_palloc(a->pool, 2 * a->nalloc * a->size);
        if (new == NULL) {
            return NULL;
        }

        ngx_memcpy(new, a->elts, a->nelts * a->size);
        a->elts = new;
        a->nalloc *= 2;
    }

    elt = (u_char *) a->elts + a->size * a->nelts;
    a->nelts++;

    return elt;
}


/*
 * Behaves as nginx's own: decoding stops at the first "=", characters
 * outside the URL-safe alphabet and a length of 4n + 1 are errors.
 */

ngx_int_t
ngx_decode_base64url(ngx_str_t *dst, ngx_str_t *src)
{
    u_char      *d, c;
    size_t       i, len;
    uint32_t     acc;
    ngx_int_t    v;
    ngx_uint_t   bits;

    for (len = 0; len < src->len; len++) {
        if (src->data[len] == '=') {
            break;
        }
    }

    if (len % 4 == 1) {
        return NGX_ERROR;
    }

    d = dst->data;
    acc = 0;
    bits = 0;

    for (i = 0; i < len; i++) {
        c = src->data[i];

        if (c >= 'A' && c <= 'Z') {
            v = c - 'A';

        } else if (c >= 'a' && c <= 'z') {
            v = c - 'a' + 26;

        } else if (c >= '0' && c <= '9') {
            v = c - '0' + 52;

        } else if (c == '-') {
            v = 62;

        } else if (c == '_') {
            v = 63;

        } else {
            return NGX_ERROR;
        }

        acc = (acc << 6) | (uint32_t) v;
        bits += 6;

        if (bits >= 8) {
            bits -= 8;
            *d++ = (u_char) (acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }

    dst->len = d - dst->data;

    return NGX_OK;
}


void
ngx_log_error_core(ngx_uint_t level, ngx_log_t *log, ngx_err_t err,
    const char *fmt, ...)
{
    ngx_unit_log_count++;

    if (ngx_unit_log_verbose) {
        fprintf(stderr, "    log[%u]: %s\n", (unsigned) level, fmt);
    }
}
