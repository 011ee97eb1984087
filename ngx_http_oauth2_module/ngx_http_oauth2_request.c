
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * What the module reads from a request to build URLs: the host
 * (checked, limited to the server's names), this request's own URL as a
 * safe local URL, whether it is a page load, and the callback's request
 * line with its secrets redacted for the logs; and a request body once
 * nginx has read it.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_module.h"
#include "ngx_http_oauth2_url.h"
#include "ngx_http_oauth2_request.h"


static ngx_int_t ngx_http_oauth2_request_host(ngx_http_request_t *r,
    ngx_str_t *host);
static ngx_uint_t ngx_http_oauth2_server_name_match(ngx_str_t *pattern,
    ngx_str_t *name);


/*
 * This request's URL as a path on this host, to link or send the browser
 * back to: the URL as the browser sent it when it passes
 * ngx_http_oauth2_local_url(); else nginx's normalized path, escaped,
 * with the arguments (GET //evil.example/..%2Fmulti/ is /multi/ to nginx,
 * but a browser would read the raw form as another host); else "/".
 */

ngx_int_t
ngx_http_oauth2_request_url(ngx_http_request_t *r, ngx_str_t *url)
{
    u_char     *p, *s, *last;
    ngx_int_t   rc;
    ngx_str_t   raw;

    static u_char  hex[] = "0123456789ABCDEF";

    rc = ngx_http_oauth2_local_url(r->pool, &r->unparsed_uri, url);

    if (rc != NGX_DECLINED) {
        return rc;
    }

    raw.data = ngx_pnalloc(r->pool, 3 * r->uri.len + 1 + r->args.len);
    if (raw.data == NULL) {
        return NGX_ERROR;
    }

    p = raw.data;
    last = r->uri.data + r->uri.len;

    for (s = r->uri.data; s < last; s++) {
        if (*s <= ' ' || *s >= 0x7f || *s == '\\' || *s == '%' || *s == '?'
            || *s == '#' || *s == '"' || *s == '<' || *s == '>'
            || *s == '\'')
        {
            *p++ = '%';
            *p++ = hex[*s >> 4];
            *p++ = hex[*s & 0xf];

        } else {
            *p++ = *s;
        }
    }

    if (r->args.len) {
        *p++ = '?';
        p = ngx_cpymem(p, r->args.data, r->args.len);
    }

    raw.len = p - raw.data;

    rc = ngx_http_oauth2_local_url(r->pool, &raw, url);

    if (rc == NGX_DECLINED) {
        ngx_str_set(url, "/");
        return NGX_OK;
    }

    return rc;
}


/*
 * A browser loading a page can be redirected to the provider; a script
 * (XHR, fetch), an API client or a WebSocket cannot follow that, and gets
 * 401 instead.
 */

ngx_uint_t
ngx_http_oauth2_is_navigation(ngx_http_request_t *r)
{
    ngx_uint_t        i;
    ngx_str_t        *accept;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return 0;
    }

    accept = NULL;

#if (NGX_HTTP_HEADERS)
    if (r->headers_in.accept) {
        accept = &r->headers_in.accept->value;
    }
#endif

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == sizeof("Sec-Fetch-Mode") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "Sec-Fetch-Mode",
                               h[i].key.len) == 0)
        {
            return h[i].value.len == sizeof("navigate") - 1
                   && ngx_strncasecmp(h[i].value.data, (u_char *) "navigate",
                                      h[i].value.len) == 0;
        }

        if (h[i].key.len == sizeof("X-Requested-With") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "X-Requested-With",
                               h[i].key.len) == 0)
        {
            return 0;
        }

        if (h[i].key.len == sizeof("Upgrade") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "Upgrade",
                               h[i].key.len) == 0)
        {
            return 0;
        }

        if (accept == NULL
            && h[i].key.len == sizeof("Accept") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "Accept",
                               h[i].key.len) == 0)
        {
            accept = &h[i].value;
        }
    }

    if (accept != NULL
        && ngx_strlcasestrn(accept->data, accept->data + accept->len,
                            (u_char *) "text/html", 9 - 1)
           == NULL
        && ngx_strlcasestrn(accept->data, accept->data + accept->len,
                            (u_char *) "application/json", 16 - 1)
           != NULL)
    {
        return 0;
    }

    return 1;
}


/*
 * A path made absolute with the scheme and host this request came to:
 * NGX_DECLINED when the request names no usable host (the caller answers
 * 400).  The host is never taken unchecked from the request: see
 * ngx_http_oauth2_request_host().
 */

ngx_int_t
ngx_http_oauth2_absolute_url(ngx_http_request_t *r, ngx_str_t *path,
    ngx_str_t *uri)
{
    u_char     *s;
    ngx_int_t   rc;
    ngx_str_t   host;

    rc = ngx_http_oauth2_request_host(r, &host);

    if (rc != NGX_OK) {
        return rc;
    }

    uri->len = sizeof("https://") - 1 + host.len + path->len;
    uri->data = ngx_pnalloc(r->pool, uri->len);
    if (uri->data == NULL) {
        return NGX_ERROR;
    }

#if (NGX_HTTP_SSL)
    if (r->connection->ssl) {
        s = ngx_cpymem(uri->data, "https://", sizeof("https://") - 1);

    } else
#endif
    {
        s = ngx_cpymem(uri->data, "http://", sizeof("http://") - 1);
    }

    s = ngx_cpymem(s, host.data, host.len);
    s = ngx_cpymem(s, path->data, path->len);

    uri->len = s - uri->data;

    return NGX_OK;
}


/*
 * The host (and port) to build this request's absolute URLs with.  The
 * Host header must be a valid host name or address with an optional port
 * (ngx_http_oauth2_host_valid), else NGX_DECLINED.  Where the server block
 * names its server_name explicitly (anything but "" and "_"), the host
 * must be one of those names (exact, wildcard or regular expression);
 * another is replaced with the first exact name, and with none to take,
 * NGX_DECLINED.  Without explicit names the valid Host header is used.
 */

static ngx_int_t
ngx_http_oauth2_request_host(ngx_http_request_t *r, ngx_str_t *host)
{
    u_char                      *s;
    ngx_str_t                    raw, name, *exact;
    ngx_uint_t                   i;
    ngx_http_oauth2_name_t      *sn;
    ngx_http_oauth2_srv_conf_t  *oscf;

    ngx_str_null(&raw);
    ngx_str_null(&name);

    if (r->headers_in.host != NULL) {
        raw = r->headers_in.host->value;

        if (ngx_http_oauth2_host_valid(&raw, &name) != NGX_OK) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "oauth2: the \"Host\" header is not a valid host "
                          "name");
            return NGX_DECLINED;
        }
    }

    oscf = ngx_http_get_module_srv_conf(r, ngx_http_oauth2_module);

    if (oscf->names == NULL) {
        if (raw.len == 0) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "oauth2: no \"Host\" header and no server_name "
                          "to use instead");
            return NGX_DECLINED;
        }

        *host = raw;
        return NGX_OK;
    }

    sn = oscf->names->elts;
    exact = NULL;

    for (i = 0; i < oscf->names->nelts; i++) {

#if (NGX_PCRE)
        if (sn[i].regex != NULL) {
            if (name.len && ngx_regex_exec(sn[i].regex, &name, NULL, 0) >= 0)
            {
                *host = raw;
                return NGX_OK;
            }

            continue;
        }
#endif

        if (name.len && ngx_http_oauth2_server_name_match(&sn[i].name, &name))
        {
            *host = raw;
            return NGX_OK;
        }

        if (exact == NULL && sn[i].name.data[0] != '.'
            && ngx_strlchr(sn[i].name.data, sn[i].name.data + sn[i].name.len,
                           '*')
               == NULL)
        {
            exact = &sn[i].name;
        }
    }

    if (exact == NULL) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "oauth2: the \"Host\" header names none of the "
                      "server's names and there is no exact server_name "
                      "to use instead");
        return NGX_DECLINED;
    }

    /* the first exact server_name, with the port the request named */

    host->len = exact->len + (raw.len - name.len);
    host->data = ngx_pnalloc(r->pool, host->len);
    if (host->data == NULL) {
        return NGX_ERROR;
    }

    s = ngx_cpymem(host->data, exact->data, exact->len);
    ngx_memcpy(s, raw.data + name.len, raw.len - name.len);

    return NGX_OK;
}


/* a server_name, exact or wildcard ("*.a.b", ".a.b", "a.b.*"), and a
 * host name, in any case, a trailing dot ignored */

static ngx_uint_t
ngx_http_oauth2_server_name_match(ngx_str_t *pattern, ngx_str_t *name)
{
    size_t   len, plen;
    u_char  *pat;

    len = name->len;

    if (len && name->data[len - 1] == '.') {
        len--;
    }

    pat = pattern->data;
    plen = pattern->len;

    if (plen > 2 && pat[0] == '*' && pat[1] == '.') {
        /* "*.a.b": at least one label before ".a.b" */
        pat++;
        plen--;

        return len > plen
               && ngx_strncasecmp(name->data + len - plen, pat, plen) == 0;
    }

    if (plen > 1 && pat[0] == '.') {
        /* ".a.b": "a.b" itself or any name under it */
        if (len == plen - 1
            && ngx_strncasecmp(name->data, pat + 1, len) == 0)
        {
            return 1;
        }

        return len > plen
               && ngx_strncasecmp(name->data + len - plen, pat, plen) == 0;
    }

    if (plen > 2 && pat[plen - 1] == '*' && pat[plen - 2] == '.') {
        /* "a.b.*": at least one label after "a.b." */
        plen--;

        return len > plen && ngx_strncasecmp(name->data, pat, plen) == 0;
    }

    return len == plen && ngx_strncasecmp(name->data, pat, len) == 0;
}


/*
 * The callback's query carries the authorization code and the state.
 * nginx adds the request line to every error-log line written for the
 * request (and $request is the request line in access logs): the line
 * keeps the parameters' names, their values become "***".
 */

ngx_int_t
ngx_http_oauth2_redact_request_line(ngx_http_request_t *r)
{
    u_char  *p, *q, *end, *last, *d, *line;

    p = r->request_line.data;
    last = p + r->request_line.len;

    if (p == NULL) {
        return NGX_OK;
    }

    q = ngx_strlchr(p, last, '?');

    if (q == NULL) {
        return NGX_OK;
    }

    end = last;

    if (r->http_protocol.data > q && r->http_protocol.data <= last) {
        end = r->http_protocol.data - 1;
    }

    /* "a&" becomes "a=***&" at worst: less than four times as long */

    line = ngx_pnalloc(r->pool, 4 * r->request_line.len);
    if (line == NULL) {
        return NGX_ERROR;
    }

    d = ngx_cpymem(line, p, q + 1 - p);

    for (p = q + 1; p < end; /* void */) {

        while (p < end && *p != '=' && *p != '&') {
            *d++ = *p++;
        }

        if (p < end && *p == '=') {
            d = ngx_cpymem(d, "=***", sizeof("=***") - 1);

            while (p < end && *p != '&') {
                p++;
            }
        }

        if (p < end) {
            *d++ = *p++;
        }
    }

    d = ngx_cpymem(d, end, last - end);

    r->request_line.data = line;
    r->request_line.len = d - line;

    return NGX_OK;
}


/*
 * The request body read by ngx_http_read_client_request_body(), in one
 * piece of pool memory (from a temporary file too); NGX_DECLINED if it is
 * longer than max
 */

ngx_int_t
ngx_http_oauth2_read_body(ngx_http_request_t *r, size_t max,
    ngx_str_t *body)
{
    u_char       *p;
    size_t        len, size;
    ssize_t       n;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    ngx_str_null(body);

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        return NGX_OK;
    }

    len = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        len += ngx_buf_in_memory(b) ? (size_t) (b->last - b->pos)
                                    : (size_t) (b->file_last - b->file_pos);

        if (len > max) {
            return NGX_DECLINED;
        }
    }

    body->data = ngx_pnalloc(r->pool, len + 1);
    if (body->data == NULL) {
        return NGX_ERROR;
    }

    p = body->data;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (ngx_buf_in_memory(b)) {
            p = ngx_cpymem(p, b->pos, b->last - b->pos);
            continue;
        }

        if (!b->in_file) {
            continue;
        }

        size = (size_t) (b->file_last - b->file_pos);

        n = ngx_read_file(b->file, p, size, b->file_pos);

        if (n != (ssize_t) size) {
            return NGX_ERROR;
        }

        p += size;
    }

    body->len = p - body->data;

    return NGX_OK;
}
