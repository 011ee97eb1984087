
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * The module's HTTP client: libcurl's multi_socket interface driven by the
 * nginx event loop, so that a worker never waits for the network.
 *
 * This file is one transfer: checking and copying what the caller asks
 * for, setting up the easy handle, collecting the response and turning
 * libcurl's result into the fetch's.  The per-worker multi handle and its
 * events are ngx_http_oauth2_http_multi.c's.
 *
 * Lifetime.  A fetch lives in its owner's pool.  A cleanup of that pool
 * removes a running transfer, so libcurl never calls back into freed
 * memory.  The response is collected in a buffer from the fetch's pool
 * that doubles as it grows, up to max_size.
 *
 * Logs never show the Authorization value, the request body or the query
 * string of a URL.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <curl/curl.h>

#include "ngx_http_oauth2_http.h"
#include "ngx_http_oauth2_http_multi.h"
#include "ngx_http_oauth2_metrics.h"


#define NGX_HTTP_OAUTH2_HTTP_CONNECT_TIMEOUT  5000
#define NGX_HTTP_OAUTH2_HTTP_TIMEOUT          10000
#define NGX_HTTP_OAUTH2_HTTP_MAX_SIZE         (1024 * 1024)
#define NGX_HTTP_OAUTH2_HTTP_BUF_SIZE         4096

#define NGX_HTTP_OAUTH2_HTTP_ACCEPT           "application/json"
#define NGX_HTTP_OAUTH2_HTTP_USER_AGENT       "ngx_http_oauth2_module/0.1"


static void ngx_http_oauth2_fetch_cleanup(void *data);
static ngx_int_t ngx_http_oauth2_fetch_header(struct curl_slist **headers,
    const char *name, ngx_str_t *value, ngx_log_t *log);
static char *ngx_http_oauth2_fetch_cstr(ngx_pool_t *pool, ngx_str_t *s);
static ngx_int_t ngx_http_oauth2_fetch_proxy_auth(ngx_http_oauth2_fetch_t *f,
    CURL *easy);
static ngx_int_t ngx_http_oauth2_fetch_valid(ngx_str_t *s);
static void ngx_http_oauth2_fetch_done(ngx_http_oauth2_fetch_t *f,
    CURLcode code);
static void ngx_http_oauth2_fetch_finish(ngx_http_oauth2_fetch_t *f,
    CURLcode code);
static const char *ngx_http_oauth2_fetch_strerror(CURLcode code,
    long oserr, ngx_uint_t proxy);
static void ngx_http_oauth2_fetch_url(ngx_str_t *url, ngx_str_t *out);
static size_t ngx_http_oauth2_http_write(char *ptr, size_t size,
    size_t nmemb, void *userdata);


ngx_http_oauth2_fetch_t *
ngx_http_oauth2_fetch_create(ngx_pool_t *pool, ngx_log_t *log)
{
    ngx_pool_cleanup_t       *cln;
    ngx_http_oauth2_fetch_t  *f;

    f = ngx_pcalloc(pool, sizeof(ngx_http_oauth2_fetch_t));
    if (f == NULL) {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_oauth2_fetch_cleanup;
    cln->data = f;

    f->pool = pool;
    f->log = log;
    f->rc = NGX_ERROR;
    f->detail = "";

    return f;
}


ngx_int_t
ngx_http_oauth2_fetch_start(ngx_http_oauth2_fetch_t *f)
{
    char               *url, *ca_file, *user_agent, *proxy;
    long                connect_timeout, timeout;
    CURL               *easy;
    size_t              max_size;
    ngx_str_t           accept, ua, log_url;
    struct curl_slist  *headers, *l;

    if (!ngx_http_oauth2_http_multi_running()) {
        ngx_log_error(NGX_LOG_ALERT, f->log, 0,
                      "oauth2: the http client is not running "
                      "in this process");
        return NGX_ERROR;
    }

    if (f->running) {
        ngx_log_error(NGX_LOG_ALERT, f->log, 0,
                      "oauth2: the fetch is already running");
        return NGX_ERROR;
    }

    f->rc = NGX_ERROR;
    f->status = 0;
    ngx_str_null(&f->content_type);
    ngx_str_null(&f->response);
    f->error = NULL;
    f->detail = "";
    f->elapsed = 0;
    f->buf = NULL;
    f->oversize = 0;
    f->aborted = 0;

    accept = f->accept;
    if (accept.len == 0) {
        ngx_str_set(&accept, NGX_HTTP_OAUTH2_HTTP_ACCEPT);
    }

    ua = f->user_agent;
    if (ua.len == 0) {
        ngx_str_set(&ua, NGX_HTTP_OAUTH2_HTTP_USER_AGENT);
    }

    if (f->url.len == 0
        || ngx_http_oauth2_fetch_valid(&f->url) != NGX_OK
        || ngx_http_oauth2_fetch_valid(&accept) != NGX_OK
        || ngx_http_oauth2_fetch_valid(&ua) != NGX_OK
        || ngx_http_oauth2_fetch_valid(&f->authorization) != NGX_OK
        || ngx_http_oauth2_fetch_valid(&f->ca_file) != NGX_OK
        || ngx_http_oauth2_fetch_valid(&f->proxy) != NGX_OK
        || ngx_http_oauth2_fetch_valid(&f->proxy_user) != NGX_OK
        || ngx_http_oauth2_fetch_valid(&f->proxy_password) != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, f->log, 0,
                      "oauth2: invalid characters in a request "
                      "to the provider");
        return NGX_ERROR;
    }

    connect_timeout = (f->connect_timeout == 0
                       || f->connect_timeout == NGX_CONF_UNSET_MSEC
                       || f->connect_timeout > NGX_MAX_INT32_VALUE)
                      ? NGX_HTTP_OAUTH2_HTTP_CONNECT_TIMEOUT
                      : (long) f->connect_timeout;

    timeout = (f->timeout == 0
               || f->timeout == NGX_CONF_UNSET_MSEC
               || f->timeout > NGX_MAX_INT32_VALUE)
              ? NGX_HTTP_OAUTH2_HTTP_TIMEOUT
              : (long) f->timeout;

    max_size = (f->max_size == 0 || f->max_size == NGX_CONF_UNSET_SIZE
                || f->max_size > NGX_MAX_INT32_VALUE)
               ? NGX_HTTP_OAUTH2_HTTP_MAX_SIZE : f->max_size;

    f->max_size = max_size;

    if (f->errbuf == NULL) {
        f->errbuf = ngx_pnalloc(f->pool, CURL_ERROR_SIZE);
        if (f->errbuf == NULL) {
            return NGX_ERROR;
        }
    }

    f->errbuf[0] = '\0';

    url = ngx_http_oauth2_fetch_cstr(f->pool, &f->url);
    user_agent = ngx_http_oauth2_fetch_cstr(f->pool, &ua);
    proxy = ngx_http_oauth2_fetch_cstr(f->pool, &f->proxy);

    if (url == NULL || user_agent == NULL || proxy == NULL) {
        return NGX_ERROR;
    }

    /*
     * the fetch owns what it reads after this call: the caller's URL may
     * live in memory that goes before the transfer ends (the provider's
     * metadata, replaced by a refetch), and the URL is logged at the end
     */

    f->url.data = (u_char *) url;

    ca_file = NULL;

    if (f->ca_file.len) {
        ca_file = ngx_http_oauth2_fetch_cstr(f->pool, &f->ca_file);
        if (ca_file == NULL) {
            return NGX_ERROR;
        }

        f->ca_file.data = (u_char *) ca_file;
    }

    easy = NULL;
    headers = NULL;

    if (ngx_http_oauth2_fetch_header(&headers, "Accept: ", &accept, f->log)
        != NGX_OK)
    {
        goto failed;
    }

    if (f->authorization.len
        && ngx_http_oauth2_fetch_header(&headers, "Authorization: ",
                                        &f->authorization, f->log)
           != NGX_OK)
    {
        goto failed;
    }

    if (f->body.data != NULL) {
        l = curl_slist_append(headers,
                       "Content-Type: application/x-www-form-urlencoded");
        if (l == NULL) {
            goto failed;
        }

        headers = l;

        /* no "Expect: 100-continue" round trip */

        l = curl_slist_append(headers, "Expect:");
        if (l == NULL) {
            goto failed;
        }

        headers = l;
    }

    easy = curl_easy_init();
    if (easy == NULL) {
        ngx_log_error(NGX_LOG_ALERT, f->log, 0, "curl_easy_init() failed");
        goto failed;
    }

    if (curl_easy_setopt(easy, CURLOPT_URL, url) != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_PRIVATE, f) != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L) != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, connect_timeout)
           != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout) != CURLE_OK
#if (LIBCURL_VERSION_NUM >= 0x075500)
        || curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https")
           != CURLE_OK
#else
        || curl_easy_setopt(easy, CURLOPT_PROTOCOLS,
                            (long) (CURLPROTO_HTTP|CURLPROTO_HTTPS))
           != CURLE_OK
#endif
        || curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK

        /*
         * the provider's proxy, or none: "" also keeps libcurl from
         * reading http_proxy, https_proxy, all_proxy and no_proxy from
         * the environment, so only the configuration decides
         */
        || curl_easy_setopt(easy, CURLOPT_PROXY, proxy) != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_NOPROXY, "") != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_USERAGENT, user_agent) != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers) != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, f->errbuf)
           != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_MAXFILESIZE_LARGE,
                            (curl_off_t) max_size)
           != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION,
                            ngx_http_oauth2_http_write)
           != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_WRITEDATA, f) != CURLE_OK)
    {
        ngx_log_error(NGX_LOG_ALERT, f->log, 0, "curl_easy_setopt() failed");
        goto failed;
    }

    if (f->body.data != NULL) {

        /* the size first: the body is not NUL-terminated */

        if (curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                             (curl_off_t) f->body.len)
            != CURLE_OK
            || curl_easy_setopt(easy, CURLOPT_COPYPOSTFIELDS, f->body.data)
               != CURLE_OK)
        {
            ngx_log_error(NGX_LOG_ALERT, f->log, 0,
                          "curl_easy_setopt() failed for the request body");
            goto failed;
        }
    }

    /*
     * CURLOPT_CAINFO replaces the compiled-in CA bundle file; Debian's
     * libcurl also has the CA directory /etc/ssl/certs compiled in, which
     * stays in use, so there the system CAs remain trusted as well
     */

    if (ca_file != NULL
        && curl_easy_setopt(easy, CURLOPT_CAINFO, ca_file) != CURLE_OK)
    {
        ngx_log_error(NGX_LOG_ERR, f->log, 0,
                      "oauth2: cannot use the trusted certificates \"%V\"",
                      &f->ca_file);
        goto failed;
    }

    /*
     * an https proxy is verified like the provider: libcurl's own setting
     * for it is separate, and ssl_trusted_certificate covers both
     */

    if (f->proxy.len > 8
        && ngx_strncasecmp(f->proxy.data, (u_char *) "https://", 8) == 0
        && (curl_easy_setopt(easy, CURLOPT_PROXY_SSL_VERIFYPEER, 1L)
            != CURLE_OK
            || curl_easy_setopt(easy, CURLOPT_PROXY_SSL_VERIFYHOST, 2L)
               != CURLE_OK
            || (ca_file != NULL
                && curl_easy_setopt(easy, CURLOPT_PROXY_CAINFO, ca_file)
                   != CURLE_OK)))
    {
        ngx_log_error(NGX_LOG_ERR, f->log, 0,
                      "oauth2: cannot set up the https proxy");
        goto failed;
    }

    if (f->proxy_user.len
        && ngx_http_oauth2_fetch_proxy_auth(f, easy) != NGX_OK)
    {
        goto failed;
    }

    if (ngx_http_oauth2_http_multi_add(f, easy) != NGX_OK) {
        goto failed;
    }

    f->headers = headers;
    f->start = ngx_current_msec;

    ngx_http_oauth2_fetch_url(&f->url, &log_url);

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, f->log, 0,
                   "oauth2 fetch %p start: %s \"%V\" %s",
                   f, f->body.data ? "POST" : "GET", &log_url,
                   f->endpoint ? f->endpoint : "");

    return NGX_OK;

failed:

    if (easy != NULL) {
        curl_easy_cleanup(easy);
    }

    if (headers != NULL) {
        curl_slist_free_all(headers);
    }

    return NGX_ERROR;
}


void
ngx_http_oauth2_fetch_cancel(ngx_http_oauth2_fetch_t *f)
{
    if (!f->running) {
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, f->log, 0,
                   "oauth2 fetch %p cancel", f);

    ngx_http_oauth2_http_multi_remove(f);
}


static void
ngx_http_oauth2_fetch_cleanup(void *data)
{
    ngx_http_oauth2_fetch_t  *f = data;

    ngx_http_oauth2_fetch_cancel(f);
}


/* appends "name value"; the copy made on the way is wiped */

static ngx_int_t
ngx_http_oauth2_fetch_header(struct curl_slist **headers, const char *name,
    ngx_str_t *value, ngx_log_t *log)
{
    size_t              len, n;
    u_char             *line, *p;
    struct curl_slist  *l;

    n = ngx_strlen(name);
    len = n + value->len + 1;

    line = ngx_alloc(len, log);
    if (line == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(line, name, n);
    p = ngx_cpymem(p, value->data, value->len);
    *p = '\0';

    l = curl_slist_append(*headers, (char *) line);

    ngx_explicit_memzero(line, len);
    ngx_free(line);

    if (l == NULL) {
        return NGX_ERROR;
    }

    *headers = l;

    return NGX_OK;
}


static char *
ngx_http_oauth2_fetch_cstr(ngx_pool_t *pool, ngx_str_t *s)
{
    u_char  *p;

    p = ngx_pnalloc(pool, s->len + 1);
    if (p == NULL) {
        return NULL;
    }

    /* an unset string (no proxy) has no data: memcpy() wants some */

    if (s->len) {
        ngx_memcpy(p, s->data, s->len);
    }

    p[s->len] = '\0';

    return (char *) p;
}


/*
 * The proxy's user name and password: libcurl copies them, and the
 * NUL-terminated copies made here are wiped at once.  libcurl sends them
 * to the proxy only (Basic, the default of CURLOPT_PROXYAUTH), never to
 * the provider.
 */

static ngx_int_t
ngx_http_oauth2_fetch_proxy_auth(ngx_http_oauth2_fetch_t *f, CURL *easy)
{
    char       *user, *password;
    ngx_int_t   rc;

    user = ngx_http_oauth2_fetch_cstr(f->pool, &f->proxy_user);
    password = ngx_http_oauth2_fetch_cstr(f->pool, &f->proxy_password);

    if (user == NULL || password == NULL) {
        return NGX_ERROR;
    }

    rc = (curl_easy_setopt(easy, CURLOPT_PROXYUSERNAME, user) == CURLE_OK
          && curl_easy_setopt(easy, CURLOPT_PROXYPASSWORD, password)
             == CURLE_OK)
         ? NGX_OK : NGX_ERROR;

    ngx_explicit_memzero(user, f->proxy_user.len);
    ngx_explicit_memzero(password, f->proxy_password.len);

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_ALERT, f->log, 0,
                      "curl_easy_setopt() failed for the proxy's credentials");
    }

    return rc;
}


/* no control characters: they would end a C string or a header line */

static ngx_int_t
ngx_http_oauth2_fetch_valid(ngx_str_t *s)
{
    size_t  i;

    for (i = 0; i < s->len; i++) {
        if ((s->data[i] < 0x20 && s->data[i] != '\t') || s->data[i] == 0x7f)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* the multi handle's done handler: results, then the owner's handler */

static void
ngx_http_oauth2_fetch_done(ngx_http_oauth2_fetch_t *f, CURLcode code)
{
    ngx_http_oauth2_fetch_finish(f, code);

    if (f->handler) {
        f->handler(f);
    }
}


static void
ngx_http_oauth2_fetch_finish(ngx_http_oauth2_fetch_t *f, CURLcode code)
{
    long        status, oserr, proxy_verify, connect_code;
    char       *ct;
    size_t      len;
    u_char     *p;
    ngx_str_t   log_url;

    status = 0;
    oserr = 0;
    proxy_verify = 0;
    connect_code = 0;
    ct = NULL;

    (void) curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &status);
    (void) curl_easy_getinfo(f->easy, CURLINFO_OS_ERRNO, &oserr);
    (void) curl_easy_getinfo(f->easy, CURLINFO_CONTENT_TYPE, &ct);

    if (code == CURLE_PEER_FAILED_VERIFICATION && f->proxy.len) {
        (void) curl_easy_getinfo(f->easy, CURLINFO_PROXY_SSL_VERIFYRESULT,
                                 &proxy_verify);
    }

    if (code != CURLE_OK && f->proxy.len) {
        (void) curl_easy_getinfo(f->easy, CURLINFO_HTTP_CONNECTCODE,
                                 &connect_code);
    }

    /* the content type is libcurl's memory: copy it while it is there */

    if (ct != NULL) {
        len = ngx_strlen(ct);

        p = ngx_pnalloc(f->pool, len + 1);
        if (p != NULL) {
            ngx_memcpy(p, ct, len + 1);
            f->content_type.len = len;
            f->content_type.data = p;
        }
    }

    ngx_http_oauth2_http_multi_remove(f);

    f->status = (status > 0 && status < 1000) ? (ngx_uint_t) status : 0;
    f->elapsed = ngx_current_msec - f->start;

    if (f->buf != NULL && code == CURLE_OK) {
        *f->buf->last = '\0';
        f->response.len = f->buf->last - f->buf->pos;
        f->response.data = f->buf->pos;

    } else {
        f->response.len = 0;
        f->response.data = ngx_pcalloc(f->pool, 1);

        if (f->response.data == NULL) {
            f->response.data = (u_char *) "";
        }
    }

    if (code == CURLE_OK) {
        f->rc = NGX_OK;
        f->error = NULL;
        f->detail = "";

    } else {
        f->rc = NGX_ERROR;

        if (f->error == NULL && connect_code == 407) {
            f->error = "the proxy refused the credentials (407)";

        } else if (f->error == NULL && connect_code >= 300) {
            f->error = "the proxy refused the tunnel";
        }

        if (f->error == NULL && proxy_verify != 0) {
            f->error = "the https proxy's TLS certificate verification "
                       "failed";
        }

        if (f->error == NULL) {
            f->error = ngx_http_oauth2_fetch_strerror(code, oserr,
                                                      f->proxy.len != 0);
        }

        if (f->errbuf[0]) {
            f->detail = f->errbuf;

        } else {
            f->detail = f->aborted ? "" : curl_easy_strerror(code);
        }
    }

    /* a transfer cut short by this worker's exit is not counted */

    if (!(f->rc != NGX_OK && (ngx_exiting || ngx_terminate))) {
        ngx_http_oauth2_metrics_call(&f->provider, f->endpoint,
                                     (f->rc != NGX_OK)
                                     ? NGX_HTTP_OAUTH2_M_CALL_ERROR
                                     : (f->status >= 200 && f->status < 300)
                                       ? NGX_HTTP_OAUTH2_M_CALL_OK
                                       : NGX_HTTP_OAUTH2_M_CALL_STATUS,
                                     f->elapsed);
    }

    ngx_http_oauth2_fetch_url(&f->url, &log_url);

    ngx_log_debug6(NGX_LOG_DEBUG_HTTP, f->log, 0,
                   "oauth2 fetch %p done: \"%V\" status:%ui size:%uz "
                   "time:%Mms %s", f, &log_url, f->status, f->response.len,
                   f->elapsed, f->error ? f->error : "ok");
}


static const char *
ngx_http_oauth2_fetch_strerror(CURLcode code, long oserr, ngx_uint_t proxy)
{
    switch (code) {

    case CURLE_COULDNT_CONNECT:

        /* through a proxy, the only connection libcurl opens is to it */

        if (proxy) {
            return (oserr == NGX_ECONNREFUSED)
                   ? "proxy connection refused" : "cannot connect to the proxy";
        }

        switch (oserr) {
        case NGX_ECONNREFUSED:
            return "connection refused";
        case NGX_EHOSTUNREACH:
            return "host unreachable";
        case NGX_ENETUNREACH:
            return "network unreachable";
        case NGX_ETIMEDOUT:
            return "connection timed out";
        default:
            return "cannot connect";
        }

    case CURLE_OPERATION_TIMEDOUT:
        return "timed out";

    case CURLE_COULDNT_RESOLVE_HOST:
        return "host not found";

    case CURLE_COULDNT_RESOLVE_PROXY:
        return "proxy host not found";

#if (LIBCURL_VERSION_NUM >= 0x074900)
    case CURLE_PROXY:
        return "proxy error";
#endif

    case CURLE_PEER_FAILED_VERIFICATION:
        return "TLS certificate verification failed";

    case CURLE_SSL_CACERT_BADFILE:
        return "cannot load the trusted certificates";

    case CURLE_SSL_CONNECT_ERROR:
        return "TLS handshake failed";

    case CURLE_FILESIZE_EXCEEDED:
        return "response too large";

    case CURLE_GOT_NOTHING:
        return "empty reply";

    case CURLE_SEND_ERROR:
        return "send failed";

    case CURLE_RECV_ERROR:
        return "receive failed";

    case CURLE_PARTIAL_FILE:
        return "response truncated";

    case CURLE_WEIRD_SERVER_REPLY:
        return "invalid response";

    case CURLE_UNSUPPORTED_PROTOCOL:
        return "unsupported protocol";

    case CURLE_URL_MALFORMAT:
        return "malformed URL";

    case CURLE_OUT_OF_MEMORY:
        return "out of memory";

    default:
        return curl_easy_strerror(code);
    }
}


/* the URL up to its query string or fragment, for the logs */

static void
ngx_http_oauth2_fetch_url(ngx_str_t *url, ngx_str_t *out)
{
    size_t  i;

    for (i = 0; i < url->len; i++) {
        if (url->data[i] == '?' || url->data[i] == '#') {
            break;
        }
    }

    out->len = i;
    out->data = url->data;
}


static size_t
ngx_http_oauth2_http_write(char *ptr, size_t size, size_t nmemb,
    void *userdata)
{
    ngx_http_oauth2_fetch_t *f = userdata;

    u_char      *p;
    size_t       n, used, cap, need;
    ngx_buf_t   *b;
    curl_off_t   cl;

    n = size * nmemb;

    if (f == NULL) {
        /* an orphaned transfer */
        return 0;
    }

    b = f->buf;
    used = (b != NULL) ? (size_t) (b->last - b->pos) : 0;

    if (n > f->max_size - used) {
        f->oversize = 1;
        f->error = "response too large";
        return 0;
    }

    need = used + n + 1;

    if (b == NULL || (size_t) (b->end - b->last) < n + 1) {

        if (b == NULL) {
            cap = NGX_HTTP_OAUTH2_HTTP_BUF_SIZE;

            cl = -1;
            (void) curl_easy_getinfo(f->easy,
                                     CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);

            if (cl > 0 && (curl_off_t) f->max_size >= cl) {
                cap = (size_t) cl + 1;
            }

        } else {
            cap = 2 * (size_t) (b->end - b->start);
        }

        if (cap < need) {
            cap = need;
        }

        if (cap > f->max_size + 1) {
            cap = f->max_size + 1;
        }

        p = ngx_pnalloc(f->pool, cap);
        if (p == NULL) {
            f->error = "out of memory";
            return 0;
        }

        if (b == NULL) {
            b = ngx_calloc_buf(f->pool);
            if (b == NULL) {
                f->error = "out of memory";
                return 0;
            }

            f->buf = b;

        } else {
            ngx_memcpy(p, b->pos, used);

            /* frees a large allocation, does nothing for a small one */
            (void) ngx_pfree(f->pool, b->start);
        }

        b->start = p;
        b->pos = p;
        b->last = p + used;
        b->end = p + cap;
        b->temporary = 1;
    }

    b->last = ngx_cpymem(b->last, ptr, n);

    return n;
}


ngx_int_t
ngx_http_oauth2_http_init_process(ngx_cycle_t *cycle)
{
    return ngx_http_oauth2_http_multi_init(cycle, ngx_http_oauth2_fetch_done);
}


void
ngx_http_oauth2_http_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_oauth2_http_multi_exit(cycle);
}
