
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_shim.h"


#define NGX_SHIM_LOG_LINE  2048


static void *ngx_shim_palloc(ngx_pool_t *pool, size_t size);
static u_char *ngx_shim_number(u_char *buf, u_char *last, uint64_t v,
    ngx_uint_t negative, ngx_uint_t hex, ngx_uint_t width, u_char pad);
static u_char *ngx_shim_vformat(u_char *buf, u_char *last, const char *fmt,
    va_list args);


ngx_log_t              ngx_shim_log;

static ngx_cycle_t     ngx_shim_cycle;
volatile ngx_cycle_t  *ngx_cycle = &ngx_shim_cycle;

ngx_uint_t             ngx_shim_verbose;
ngx_uint_t             ngx_shim_log_count;
ngx_uint_t             ngx_shim_alloc_fail;
u_char                 ngx_shim_logged[16384];
size_t                 ngx_shim_logged_len;

static const u_char    ngx_shim_b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";


void
ngx_shim_init(ngx_uint_t log_level, const char *verbose_env)
{
    ngx_shim_verbose = (verbose_env != NULL && getenv(verbose_env) != NULL);
    ngx_shim_log.log_level = log_level;
    ngx_shim_cycle.log = &ngx_shim_log;
    ngx_shim_log_reset();
}


void
ngx_shim_log_reset(void)
{
    ngx_shim_logged_len = 0;
    ngx_shim_log_count = 0;
}


u_char *
ngx_shim_read_file(const char *path, size_t *len)
{
    FILE    *f;
    long     n;
    u_char  *p;

    f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "ngx_shim: cannot open %s\n", path);
        exit(2);
    }

    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0
        || fseek(f, 0, SEEK_SET) != 0)
    {
        fprintf(stderr, "ngx_shim: cannot size %s\n", path);
        exit(2);
    }

    p = malloc(n + 1);
    if (p == NULL || fread(p, 1, n, f) != (size_t) n) {
        fprintf(stderr, "ngx_shim: cannot read %s\n", path);
        exit(2);
    }

    fclose(f);

    p[n] = '\0';
    *len = n;

    return p;
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

    p->max = size;
    p->current = p;
    p->log = log;

    return p;
}


ngx_pool_t *
ngx_shim_pool(void)
{
    ngx_pool_t  *p;

    p = ngx_create_pool(NGX_DEFAULT_POOL_SIZE, &ngx_shim_log);
    if (p == NULL) {
        abort();
    }

    return p;
}


void
ngx_destroy_pool(ngx_pool_t *pool)
{
    ngx_pool_large_t    *l, *ln;
    ngx_pool_cleanup_t  *c, *cn;

    for (c = pool->cleanup; c; c = c->next) {
        if (c->handler) {
            c->handler(c->data);
        }
    }

    for (c = pool->cleanup; c; c = cn) {
        cn = c->next;
        free(c);
    }

    for (l = pool->large; l; l = ln) {
        ln = l->next;
        free(l->alloc);
        free(l);
    }

    free(pool);
}


static void *
ngx_shim_palloc(ngx_pool_t *pool, size_t size)
{
    ngx_pool_large_t  *l;

    if (ngx_shim_alloc_fail > 0 && --ngx_shim_alloc_fail == 0) {
        return NULL;
    }

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
    return ngx_shim_palloc(pool, size);
}


void *
ngx_pnalloc(ngx_pool_t *pool, size_t size)
{
    return ngx_shim_palloc(pool, size);
}


void *
ngx_pcalloc(ngx_pool_t *pool, size_t size)
{
    void  *p;

    p = ngx_shim_palloc(pool, size);
    if (p) {
        ngx_memzero(p, size);
    }

    return p;
}


ngx_int_t
ngx_pfree(ngx_pool_t *pool, void *p)
{
    ngx_pool_large_t  *l;

    for (l = pool->large; l; l = l->next) {
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


/* arrays and lists, growing as nginx's do (by doubling, by parts) */

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
        elts = ngx_palloc(a->pool, 2 * a->size * (a->nalloc ? a->nalloc : 1));
        if (elts == NULL) {
            return NULL;
        }

        if (a->nelts) {
            ngx_memcpy(elts, a->elts, a->size * a->nelts);
        }

        a->elts = elts;
        a->nalloc = a->nalloc ? 2 * a->nalloc : 2;
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
        *d++ = ngx_shim_b64url[s[0] >> 2];
        *d++ = ngx_shim_b64url[((s[0] & 0x03) << 4) | (s[1] >> 4)];
        *d++ = ngx_shim_b64url[((s[1] & 0x0f) << 2) | (s[2] >> 6)];
        *d++ = ngx_shim_b64url[s[2] & 0x3f];
    }

    if (n == 1) {
        *d++ = ngx_shim_b64url[s[0] >> 2];
        *d++ = ngx_shim_b64url[(s[0] & 0x03) << 4];

    } else if (n == 2) {
        *d++ = ngx_shim_b64url[s[0] >> 2];
        *d++ = ngx_shim_b64url[((s[0] & 0x03) << 4) | (s[1] >> 4)];
        *d++ = ngx_shim_b64url[(s[1] & 0x0f) << 2];
    }

    dst->len = d - dst->data;
}


/*
 * ngx_unescape_uri(), type 0 (what the module uses): "%XX" with two hex
 * digits is one byte, anything else is copied, except that a "%" not
 * followed by two hex digits is dropped together with the hex digit that
 * follows it, if any, as nginx does.  The output is never longer than the
 * input.  The NGX_UNESCAPE_URI and NGX_UNESCAPE_REDIRECT types (which
 * treat "?" and control characters specially) are not needed here.
 */

void
ngx_unescape_uri(u_char **dst, u_char **src, size_t size, ngx_uint_t type)
{
    u_char   *d, *s, *end;
    ngx_int_t hi, lo;

    if (type != 0) {
        fprintf(stderr, "ngx_shim: ngx_unescape_uri() type %u\n",
                (unsigned) type);
        abort();
    }

    d = *dst;
    s = *src;
    end = s + size;

    while (s < end) {

        if (*s != '%') {
            *d++ = *s++;
            continue;
        }

        s++;

        if (s == end) {
            break;
        }

        hi = ngx_hextoi(s, 1);

        if (hi == NGX_ERROR) {
            /* "%" and a non-hex character: the character stays */
            *d++ = *s++;
            continue;
        }

        s++;

        if (s == end) {
            break;
        }

        lo = ngx_hextoi(s, 1);

        if (lo == NGX_ERROR) {
            /* "%", a hex digit and a non-hex character: all dropped */
            s++;
            continue;
        }

        s++;
        *d++ = (u_char) (hi * 16 + lo);
    }

    *dst = d;
    *src = s;
}


ngx_int_t
ngx_hextoi(u_char *line, size_t n)
{
    u_char     c, ch;
    ngx_int_t  value;

    if (n == 0) {
        return NGX_ERROR;
    }

    for (value = 0; n--; line++) {
        if (value > NGX_MAX_INT_T_VALUE / 16) {
            return NGX_ERROR;
        }

        ch = *line;

        if (ch >= '0' && ch <= '9') {
            value = value * 16 + (ch - '0');
            continue;
        }

        c = (u_char) (ch | 0x20);

        if (c >= 'a' && c <= 'f') {
            value = value * 16 + (c - 'a' + 10);
            continue;
        }

        return NGX_ERROR;
    }

    return value;
}


ngx_int_t
ngx_atoi(u_char *line, size_t n)
{
    ngx_int_t  value, cutoff, cutlim;

    if (n == 0) {
        return NGX_ERROR;
    }

    cutoff = NGX_MAX_INT_T_VALUE / 10;
    cutlim = NGX_MAX_INT_T_VALUE % 10;

    for (value = 0; n--; line++) {
        if (*line < '0' || *line > '9') {
            return NGX_ERROR;
        }

        if (value >= cutoff && (value > cutoff || *line - '0' > cutlim)) {
            return NGX_ERROR;
        }

        value = value * 10 + (*line - '0');
    }

    return value;
}


/*
 * ngx_http_arg(): the value of the first argument named "name" (compared
 * case-insensitively) in r->args, that is, the bytes after "name=" up to
 * the next "&" or the end, where "name" starts the args or follows "&".
 * The value points into r->args.
 */

ngx_int_t
ngx_http_arg(ngx_http_request_t *r, u_char *name, size_t len,
    ngx_str_t *value)
{
    u_char  *p, *start, *last, *amp;

    if (r->args.len == 0 || len == 0) {
        return NGX_DECLINED;
    }

    start = r->args.data;
    last = start + r->args.len;

    for (p = start; p < last; p = amp + 1) {

        amp = ngx_strlchr(p, last, '&');
        if (amp == NULL) {
            amp = last;
        }

        if ((size_t) (amp - p) > len && p[len] == '='
            && ngx_strncasecmp(p, name, len) == 0)
        {
            value->data = p + len + 1;
            value->len = amp - value->data;
            return NGX_OK;
        }

        if (amp == last) {
            break;
        }
    }

    return NGX_DECLINED;
}


ngx_int_t
ngx_strncasecmp(u_char *s1, u_char *s2, size_t n)
{
    ngx_uint_t  c1, c2;

    while (n) {
        c1 = (ngx_uint_t) *s1++;
        c2 = (ngx_uint_t) *s2++;

        c1 = (c1 >= 'A' && c1 <= 'Z') ? (c1 | 0x20) : c1;
        c2 = (c2 >= 'A' && c2 <= 'Z') ? (c2 | 0x20) : c2;

        if (c1 == c2) {
            if (c1) {
                n--;
                continue;
            }

            return 0;
        }

        return c1 - c2;
    }

    return 0;
}


/*
 * ngx_inet_addr() and ngx_inet6_addr(), for
 * ngx_http_oauth2_url_is_loopback(): libc's inet_pton() on a copy.  Close
 * enough for the fuzzers (nginx's own IPv4 parser also takes leading
 * zeros, "127.000.000.001").
 */

in_addr_t
ngx_inet_addr(u_char *text, size_t len)
{
    char            buf[16];
    struct in_addr  a;

    if (len >= sizeof(buf)) {
        return INADDR_NONE;
    }

    ngx_memcpy(buf, text, len);
    buf[len] = '\0';

    if (inet_pton(AF_INET, buf, &a) != 1) {
        return INADDR_NONE;
    }

    return a.s_addr;
}


#if (NGX_HAVE_INET6)

ngx_int_t
ngx_inet6_addr(u_char *p, size_t len, u_char *addr)
{
    char  buf[NGX_INET6_ADDRSTRLEN + 1];

    if (len >= sizeof(buf)) {
        return NGX_ERROR;
    }

    ngx_memcpy(buf, p, len);
    buf[len] = '\0';

    return (inet_pton(AF_INET6, buf, addr) == 1) ? NGX_OK : NGX_ERROR;
}

#endif


/* requests */

ngx_http_request_t *
ngx_shim_request(ngx_pool_t *pool)
{
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = ngx_pcalloc(pool, sizeof(ngx_http_request_t));
    c = ngx_pcalloc(pool, sizeof(ngx_connection_t));

    if (r == NULL || c == NULL) {
        abort();
    }

    c->log = &ngx_shim_log;
    c->pool = pool;

    r->connection = c;
    r->pool = pool;

#if (nginx_version < 1023000)
    if (ngx_array_init(&r->headers_in.cookies, pool, 2,
                       sizeof(ngx_table_elt_t *))
        != NGX_OK)
    {
        abort();
    }
#endif

    if (ngx_list_init(&r->headers_in.headers, pool, 4,
                      sizeof(ngx_table_elt_t))
        != NGX_OK
        || ngx_list_init(&r->headers_out.headers, pool, 4,
                         sizeof(ngx_table_elt_t))
           != NGX_OK)
    {
        abort();
    }

    return r;
}


ngx_int_t
ngx_shim_request_add_cookie(ngx_http_request_t *r, u_char *data, size_t len)
{
    ngx_table_elt_t   *h;
#if (nginx_version < 1023000)
    ngx_table_elt_t  **hh;
#else
    ngx_table_elt_t  **last;
#endif

    h = ngx_list_push(&r->headers_in.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(h, sizeof(ngx_table_elt_t));

    h->hash = 1;
    ngx_str_set(&h->key, "Cookie");
    h->lowcase_key = (u_char *) "cookie";

    h->value.len = len;
    h->value.data = ngx_pnalloc(r->pool, len);
    if (h->value.data == NULL) {
        return NGX_ERROR;
    }

    if (len) {
        ngx_memcpy(h->value.data, data, len);
    }

#if (nginx_version < 1023000)
    hh = ngx_array_push(&r->headers_in.cookies);
    if (hh == NULL) {
        return NGX_ERROR;
    }

    *hh = h;
#else
    for (last = &r->headers_in.cookie; *last; last = &(*last)->next) {
        /* void */
    }

    *last = h;
    h->next = NULL;
#endif

    return NGX_OK;
}


ngx_table_elt_t *
ngx_shim_request_cookie(ngx_http_request_t *r, ngx_uint_t n)
{
#if (nginx_version >= 1023000)
    ngx_table_elt_t  *h;

    for (h = r->headers_in.cookie; h && n; h = h->next, n--) {
        /* void */
    }

    return h;
#else
    ngx_table_elt_t  **h;

    h = r->headers_in.cookies.elts;

    return n < r->headers_in.cookies.nelts ? h[n] : NULL;
#endif
}


ngx_int_t
ngx_shim_request_set_args(ngx_http_request_t *r, u_char *data, size_t len)
{
    r->args.len = len;
    r->args.data = ngx_pnalloc(r->pool, len);
    if (r->args.data == NULL) {
        return NGX_ERROR;
    }

    if (len) {
        ngx_memcpy(r->args.data, data, len);
    }

    return NGX_OK;
}


/* formatting: the conversions of ngx_vslprintf() */

static u_char *
ngx_shim_number(u_char *buf, u_char *last, uint64_t v, ngx_uint_t negative,
    ngx_uint_t hex, ngx_uint_t width, u_char pad)
{
    u_char             tmp[NGX_INT64_LEN + 2], *p;
    size_t             len;
    static const char  lower[] = "0123456789abcdef";
    static const char  upper[] = "0123456789ABCDEF";

    p = tmp + sizeof(tmp);

    do {
        if (hex) {
            *--p = (u_char) (hex == 1 ? lower : upper)[v & 0xf];
            v >>= 4;

        } else {
            *--p = (u_char) ('0' + v % 10);
            v /= 10;
        }
    } while (v);

    if (negative) {
        *--p = '-';
    }

    len = tmp + sizeof(tmp) - p;

    while (len < width-- && buf < last) {
        *buf++ = pad;
    }

    while (p < tmp + sizeof(tmp) && buf < last) {
        *buf++ = *p++;
    }

    return buf;
}


static u_char *
ngx_shim_vformat(u_char *buf, u_char *last, const char *fmt, va_list args)
{
    u_char                *s;
    size_t                 slen, n;
    int64_t                i64;
    uint64_t               u64;
    ngx_str_t             *v;
    ngx_uint_t             sign, hex, width, max_width;
    u_char                 pad;
    ngx_variable_value_t  *vv;

    while (*fmt && buf < last) {

        if (*fmt != '%') {
            *buf++ = (u_char) *fmt++;
            continue;
        }

        fmt++;

        pad = (u_char) ((*fmt == '0') ? '0' : ' ');
        sign = 1;
        hex = 0;
        width = 0;
        max_width = 0;
        slen = (size_t) -1;

        while (*fmt >= '0' && *fmt <= '9') {
            width = width * 10 + (*fmt++ - '0');
        }

        for ( ;; ) {
            switch (*fmt) {

            case 'u':
                sign = 0;
                fmt++;
                continue;

            case 'm':
                max_width = 1;
                fmt++;
                continue;

            case 'x':
                hex = 1;
                sign = 0;
                fmt++;
                continue;

            case 'X':
                hex = 2;
                sign = 0;
                fmt++;
                continue;

            case '.':
                fmt++;
                while (*fmt >= '0' && *fmt <= '9') {
                    fmt++;
                }
                continue;

            case '*':
                slen = va_arg(args, size_t);
                fmt++;
                continue;

            default:
                break;
            }

            break;
        }

        (void) max_width;

        switch (*fmt) {

        case 'V':
            v = va_arg(args, ngx_str_t *);
            n = ngx_min(v->len, (size_t) (last - buf));
            buf = ngx_cpymem(buf, v->data, n);
            fmt++;
            continue;

        case 'v':
            vv = va_arg(args, ngx_variable_value_t *);
            n = ngx_min(vv->len, (size_t) (last - buf));
            buf = ngx_cpymem(buf, vv->data, n);
            fmt++;
            continue;

        case 's':
            s = va_arg(args, u_char *);

            if (slen == (size_t) -1) {
                while (*s && buf < last) {
                    *buf++ = *s++;
                }

            } else {
                n = ngx_min(slen, (size_t) (last - buf));
                buf = ngx_cpymem(buf, s, n);
            }

            fmt++;
            continue;

        case 'O':
            i64 = (int64_t) va_arg(args, off_t);
            sign = 1;
            break;

        case 'P':
            i64 = (int64_t) va_arg(args, ngx_pid_t);
            sign = 1;
            break;

        case 'T':
            i64 = (int64_t) va_arg(args, time_t);
            sign = 1;
            break;

        case 'M':
            u64 = (uint64_t) va_arg(args, ngx_msec_t);
            i64 = (int64_t) u64;
            sign = 0;
            break;

        case 'z':
            if (sign) {
                i64 = (int64_t) va_arg(args, ssize_t);
            } else {
                u64 = (uint64_t) va_arg(args, size_t);
                i64 = (int64_t) u64;
            }
            break;

        case 'i':
            if (sign) {
                i64 = (int64_t) va_arg(args, ngx_int_t);
            } else {
                u64 = (uint64_t) va_arg(args, ngx_uint_t);
                i64 = (int64_t) u64;
            }
            break;

        case 'd':
            if (sign) {
                i64 = (int64_t) va_arg(args, int);
            } else {
                u64 = (uint64_t) va_arg(args, u_int);
                i64 = (int64_t) u64;
            }
            break;

        case 'l':
            if (sign) {
                i64 = (int64_t) va_arg(args, long);
            } else {
                u64 = (uint64_t) va_arg(args, u_long);
                i64 = (int64_t) u64;
            }
            break;

        case 'D':
            if (sign) {
                i64 = (int64_t) va_arg(args, int32_t);
            } else {
                u64 = (uint64_t) va_arg(args, uint32_t);
                i64 = (int64_t) u64;
            }
            break;

        case 'L':
            if (sign) {
                i64 = va_arg(args, int64_t);
            } else {
                u64 = va_arg(args, uint64_t);
                i64 = (int64_t) u64;
            }
            break;

        case 'A':
            if (sign) {
                i64 = (int64_t) va_arg(args, ngx_atomic_int_t);
            } else {
                u64 = (uint64_t) va_arg(args, ngx_atomic_uint_t);
                i64 = (int64_t) u64;
            }
            break;

        case 'p':
            u64 = (uint64_t) (uintptr_t) va_arg(args, void *);
            i64 = (int64_t) u64;
            sign = 0;
            hex = 1;
            break;

        case 'c':
            *buf++ = (u_char) (va_arg(args, int) & 0xff);
            fmt++;
            continue;

        case 'Z':
            *buf++ = '\0';
            fmt++;
            continue;

        case 'N':
            *buf++ = '\n';
            fmt++;
            continue;

        case '%':
            *buf++ = '%';
            fmt++;
            continue;

        default:
            fprintf(stderr, "ngx_shim: unsupported format \"%%%s\"\n", fmt);
            abort();
        }

        if (sign && i64 < 0) {
            buf = ngx_shim_number(buf, last, 0 - (uint64_t) i64, 1, hex,
                                  width, pad);
        } else {
            buf = ngx_shim_number(buf, last, (uint64_t) i64, 0, hex, width,
                                  pad);
        }

        fmt++;
    }

    return buf;
}


u_char * ngx_cdecl
ngx_sprintf(u_char *buf, const char *fmt, ...)
{
    u_char   *p;
    va_list   args;

    va_start(args, fmt);
    p = ngx_shim_vformat(buf, (u_char *) -1, fmt, args);
    va_end(args);

    return p;
}


u_char * ngx_cdecl
ngx_snprintf(u_char *buf, size_t max, const char *fmt, ...)
{
    u_char   *p;
    va_list   args;

    va_start(args, fmt);
    p = ngx_shim_vformat(buf, buf + max, fmt, args);
    va_end(args);

    return p;
}


u_char * ngx_cdecl
ngx_slprintf(u_char *buf, u_char *last, const char *fmt, ...)
{
    u_char   *p;
    va_list   args;

    va_start(args, fmt);
    p = ngx_shim_vformat(buf, last, fmt, args);
    va_end(args);

    return p;
}


void ngx_cdecl
ngx_log_error_core(ngx_uint_t level, ngx_log_t *log, ngx_err_t err,
    const char *fmt, ...)
{
    u_char   line[NGX_SHIM_LOG_LINE], *p;
    size_t   n;
    va_list  args;

    va_start(args, fmt);
    p = ngx_shim_vformat(line, line + sizeof(line), fmt, args);
    va_end(args);

    ngx_shim_log_count++;

    n = ngx_min((size_t) (p - line),
                sizeof(ngx_shim_logged) - 1 - ngx_shim_logged_len);

    ngx_memcpy(ngx_shim_logged + ngx_shim_logged_len, line, n);
    ngx_shim_logged_len += n;

    if (ngx_shim_logged_len < sizeof(ngx_shim_logged) - 1) {
        ngx_shim_logged[ngx_shim_logged_len++] = '\n';
    }

    if (ngx_shim_verbose) {
        fprintf(stderr, "log[%u]: %.*s\n", (unsigned) level,
                (int) (p - line), line);
    }
}


/*
 * The module's counters (ngx_http_oauth2_metrics.c) live in a shared
 * zone that a test has not got; the files under test that count call
 * these, which count nothing.
 */

void
ngx_http_oauth2_metrics_cache(ngx_uint_t entries)
{
    (void) entries;
}
