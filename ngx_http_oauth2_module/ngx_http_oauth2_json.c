
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * The thin layer over yajl: documents from a provider parsed with bounds
 * (size, nesting, strings without control characters), and the typed
 * reads of their members (strings, integers, NumericDates, claims).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http_oauth2_module.h>
#include <ngx_http_oauth2_json.h>


static const char *ngx_http_oauth2_json_check(u_char *p, u_char *last);
static void ngx_http_oauth2_json_cleanup(void *data);
static ngx_int_t ngx_http_oauth2_json_scalar(yajl_val v, ngx_str_t *s);
static size_t ngx_http_oauth2_json_varint_len(size_t v);


/*
 * Checks the document before yajl sees it: bracket nesting (yajl frees its
 * trees recursively, so the depth must be bounded), terminated strings
 * without control characters, no "\u0000" escapes (yajl hands strings out
 * NUL-terminated, and an embedded NUL would silently truncate a claim), no
 * raw NUL bytes, and no comments (yajl_tree_parse() allows them, JSON does
 * not).  The rest of the syntax is left to yajl.
 */

static const char *
ngx_http_oauth2_json_check(u_char *p, u_char *last)
{
    u_char      c, stack[NGX_HTTP_OAUTH2_JSON_MAX_DEPTH];
    ngx_uint_t  depth, closed;

    depth = 0;

    while (p < last) {

        c = *p++;

        switch (c) {

        case '"':

            closed = 0;

            while (p < last) {
                c = *p++;

                if (c == '"') {
                    closed = 1;
                    break;
                }

                if (c < 0x20) {
                    return "invalid JSON";
                }

                if (c != '\\') {
                    continue;
                }

                if (p == last) {
                    return "invalid JSON";
                }

                if (*p == 'u'
                    && last - p >= 5
                    && p[1] == '0' && p[2] == '0'
                    && p[3] == '0' && p[4] == '0')
                {
                    return "JSON string contains NUL";
                }

                p++;
            }

            if (!closed) {
                return "invalid JSON";
            }

            break;

        case '{':
        case '[':

            if (depth == NGX_HTTP_OAUTH2_JSON_MAX_DEPTH) {
                return "JSON nested too deeply";
            }

            stack[depth++] = c;
            break;

        case '}':
        case ']':

            if (depth == 0 || stack[depth - 1] != (c == '}' ? '{' : '[')) {
                return "invalid JSON";
            }

            depth--;
            break;

        case '/':
        case '\0':
            return "invalid JSON";

        default:
            break;
        }
    }

    if (depth != 0) {
        return "invalid JSON";
    }

    return NULL;
}


yajl_val
ngx_http_oauth2_json_parse(ngx_pool_t *pool, u_char *data, size_t len,
    const char **err)
{
    u_char              *buf;
    yajl_val             v;
    ngx_pool_cleanup_t  *cln;

    if (len == 0) {
        *err = "empty JSON document";
        return NULL;
    }

    *err = ngx_http_oauth2_json_check(data, data + len);
    if (*err != NULL) {
        return NULL;
    }

    /* added first, so that a parsed tree can never be left without it */

    cln = ngx_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        *err = "out of memory";
        return NULL;
    }

    buf = ngx_pnalloc(pool, len + 1);
    if (buf == NULL) {
        *err = "out of memory";
        return NULL;
    }

    ngx_memcpy(buf, data, len);
    buf[len] = '\0';

    /*
     * no error buffer: yajl's messages quote the input, which may be
     * a token or a secret and must not reach the log
     */

    v = yajl_tree_parse((const char *) buf, NULL, 0);

    ngx_pfree(pool, buf);

    if (v == NULL) {
        *err = "invalid JSON";
        return NULL;
    }

    cln->handler = ngx_http_oauth2_json_cleanup;
    cln->data = v;

    *err = NULL;

    return v;
}


static void
ngx_http_oauth2_json_cleanup(void *data)
{
    yajl_val  v = data;

    yajl_tree_free(v);
}


/*
 * Duplicate member names: RFC 7515 and RFC 7519 require a parser either to
 * reject them or to use the lexically last one; the last one is returned.
 */

yajl_val
ngx_http_oauth2_json_get(yajl_val obj, const char *name)
{
    size_t    i;
    yajl_val  found;

    if (!YAJL_IS_OBJECT(obj) || name == NULL) {
        return NULL;
    }

    found = NULL;

    for (i = 0; i < obj->u.object.len; i++) {
        if (obj->u.object.keys[i] != NULL
            && ngx_strcmp(obj->u.object.keys[i], name) == 0)
        {
            found = obj->u.object.values[i];
        }
    }

    return found;
}


ngx_int_t
ngx_http_oauth2_json_string(yajl_val obj, const char *name, ngx_str_t *value)
{
    yajl_val  v;

    v = ngx_http_oauth2_json_get(obj, name);

    if (v == NULL) {
        return NGX_DECLINED;
    }

    if (!YAJL_IS_STRING(v) || v->u.string == NULL) {
        return NGX_ERROR;
    }

    value->data = (u_char *) v->u.string;
    value->len = ngx_strlen(v->u.string);

    return NGX_OK;
}


ngx_int_t
ngx_http_oauth2_json_int(yajl_val obj, const char *name, int64_t *value)
{
    yajl_val  v;

    v = ngx_http_oauth2_json_get(obj, name);

    if (v == NULL) {
        return NGX_DECLINED;
    }

    if (!YAJL_IS_INTEGER(v)) {
        return NGX_ERROR;
    }

    *value = (int64_t) YAJL_GET_INTEGER(v);

    return NGX_OK;
}


ngx_int_t
ngx_http_oauth2_json_seconds(yajl_val obj, const char *name,
    ngx_uint_t round_up, int64_t *value)
{
    double    d;
    int64_t   n;
    yajl_val  v;

    v = ngx_http_oauth2_json_get(obj, name);

    if (v == NULL) {
        return NGX_DECLINED;
    }

    if (YAJL_IS_INTEGER(v)) {
        n = (int64_t) YAJL_GET_INTEGER(v);

        if (n < 0 || n > NGX_HTTP_OAUTH2_JSON_MAX_SECONDS) {
            return NGX_ERROR;
        }

        *value = n;

        return NGX_OK;
    }

    /* a fraction, an exponent, or an integer too large for int64_t */

    if (!YAJL_IS_DOUBLE(v)) {
        return NGX_ERROR;
    }

    d = YAJL_GET_DOUBLE(v);

    /* also false for NaN */

    if (!(d >= 0 && d <= (double) NGX_HTTP_OAUTH2_JSON_MAX_SECONDS)) {
        return NGX_ERROR;
    }

    /* the conversion truncates: rounds down, d being positive */

    n = (int64_t) d;

    if (round_up && (double) n < d) {
        n++;
    }

    *value = n;

    return NGX_OK;
}


/* a scalar as text without copying: NGX_DECLINED for objects and arrays */

static ngx_int_t
ngx_http_oauth2_json_scalar(yajl_val v, ngx_str_t *s)
{
    switch (v->type) {

    case yajl_t_string:
        if (v->u.string == NULL) {
            break;
        }

        s->data = (u_char *) v->u.string;
        s->len = ngx_strlen(v->u.string);
        return NGX_OK;

    case yajl_t_number:
        if (v->u.number.r == NULL) {
            break;
        }

        s->data = (u_char *) v->u.number.r;
        s->len = ngx_strlen(v->u.number.r);
        return NGX_OK;

    case yajl_t_true:
        ngx_str_set(s, "true");
        return NGX_OK;

    case yajl_t_false:
        ngx_str_set(s, "false");
        return NGX_OK;

    case yajl_t_null:
        ngx_str_set(s, "");
        return NGX_OK;

    default:
        break;
    }

    return NGX_DECLINED;
}


ngx_int_t
ngx_http_oauth2_json_text(ngx_pool_t *pool, yajl_val v, ngx_str_t *text)
{
    u_char     *p;
    size_t      i, len, n;
    ngx_str_t   s;

    if (v == NULL) {
        return NGX_DECLINED;
    }

    if (v->type != yajl_t_array) {

        if (ngx_http_oauth2_json_scalar(v, &s) != NGX_OK) {
            return NGX_DECLINED;
        }

        n = 1;
        len = s.len;

    } else {

        n = v->u.array.len;
        len = (n > 0) ? n - 1 : 0;

        for (i = 0; i < n; i++) {
            if (ngx_http_oauth2_json_scalar(v->u.array.values[i], &s)
                != NGX_OK)
            {
                return NGX_DECLINED;
            }

            len += s.len;
        }
    }

    text->len = len;

    if (len == 0) {
        text->data = (u_char *) "";
        return NGX_OK;
    }

    text->data = ngx_pnalloc(pool, len);
    if (text->data == NULL) {
        return NGX_ERROR;
    }

    if (v->type != yajl_t_array) {
        (void) ngx_http_oauth2_json_scalar(v, &s);
        ngx_memcpy(text->data, s.data, s.len);
        return NGX_OK;
    }

    p = text->data;

    for (i = 0; i < n; i++) {

        if (i > 0) {
            *p++ = ',';
        }

        (void) ngx_http_oauth2_json_scalar(v->u.array.values[i], &s);
        p = ngx_cpymem(p, s.data, s.len);
    }

    return NGX_OK;
}


/*
 * A claim as the session keeps it (docs/session-format.md): strings,
 * numbers (as written) and booleans as text; an array of strings as its
 * elements, each a varint length and the bytes.  Nothing with a byte below
 * 0x20 or DEL is kept: such a string is refused, such an element left out
 * (with *err set all the same).
 */

ngx_int_t
ngx_http_oauth2_json_claim(ngx_pool_t *pool, yajl_val v, ngx_uint_t *type,
    ngx_str_t *value, const char **err)
{
    u_char     *p;
    size_t      i, len, n;
    ngx_str_t   s;

    *err = NULL;

    if (v == NULL || YAJL_IS_NULL(v)) {
        return NGX_DECLINED;
    }

    switch (v->type) {

    case yajl_t_string:
    case yajl_t_number:
    case yajl_t_true:
    case yajl_t_false:

        if (ngx_http_oauth2_json_scalar(v, value) != NGX_OK) {
            *err = "it is not valid JSON text";
            return NGX_DECLINED;
        }

        if (!ngx_http_oauth2_clean(value->data, value->len)) {
            *err = "it holds a control character";
            return NGX_DECLINED;
        }

        *type = (v->type == yajl_t_string) ? NGX_HTTP_OAUTH2_CLAIM_STRING
                : (v->type == yajl_t_number) ? NGX_HTTP_OAUTH2_CLAIM_NUMBER
                : NGX_HTTP_OAUTH2_CLAIM_BOOLEAN;

        return NGX_OK;

    case yajl_t_array:
        break;

    default:
        *err = "it is an object";
        return NGX_DECLINED;
    }

    n = v->u.array.len;
    len = 0;

    for (i = 0; i < n; i++) {
        if (!YAJL_IS_STRING(v->u.array.values[i])
            || v->u.array.values[i]->u.string == NULL)
        {
            *err = "it is an array holding other than strings";
            return NGX_DECLINED;
        }

        (void) ngx_http_oauth2_json_scalar(v->u.array.values[i], &s);

        if (!ngx_http_oauth2_clean(s.data, s.len)) {
            *err = "an element holding a control character is left out";
            continue;
        }

        len += ngx_http_oauth2_json_varint_len(s.len) + s.len;
    }

    *type = NGX_HTTP_OAUTH2_CLAIM_ARRAY;

    value->len = len;
    value->data = (u_char *) "";

    if (len == 0) {
        return NGX_OK;
    }

    value->data = ngx_pnalloc(pool, len);
    if (value->data == NULL) {
        return NGX_ERROR;
    }

    p = value->data;

    for (i = 0; i < n; i++) {
        (void) ngx_http_oauth2_json_scalar(v->u.array.values[i], &s);

        if (!ngx_http_oauth2_clean(s.data, s.len)) {
            continue;
        }

        for (len = s.len; len >= 0x80; len >>= 7) {
            *p++ = (u_char) (len | 0x80);
        }

        *p++ = (u_char) len;
        p = ngx_cpymem(p, s.data, s.len);
    }

    return NGX_OK;
}


static size_t
ngx_http_oauth2_json_varint_len(size_t v)
{
    size_t  n;

    for (n = 1; v >= 0x80; v >>= 7) {
        n++;
    }

    return n;
}
