
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * The module's HTTP client: libcurl's multi_socket interface driven by the
 * nginx event loop, so that a worker never waits for the network.
 *
 * One CURLM per worker process, made in init_process and destroyed in
 * exit_process.  libcurl's connection and DNS caches live in it, so
 * repeated calls to one provider reuse their connections.
 *
 * Sockets.  libcurl says through the socket callback which of its sockets
 * it wants watched and for what.  For each socket it tells about, we keep
 * an ngx_http_oauth2_http_sock_t (heap memory, given to libcurl with
 * curl_multi_assign()) and, while its descriptor is open and watched, an
 * nginx connection taken with ngx_get_connection().  The connection's read
 * and write handlers call curl_multi_socket_action().
 *
 * Events are added in level-triggered mode: ngx_add_event() with
 * NGX_LEVEL_EVENT, which is no EPOLLET on epoll (and no EV_CLEAR on
 * kqueue).  libcurl may leave bytes unread in a socket (its buffer is full,
 * a TLS record is incomplete, a transfer stops); with edge-triggered epoll
 * no new notification would come for them and the transfer would hang
 * until its timeout.  In level mode the event keeps firing until libcurl
 * reads or says it does not want to read any more.  This is why
 * ngx_handle_read_event() is not used: on epoll it asks for EPOLLET.
 *
 * Descriptors belong to libcurl: it opens and closes them.  Ours are never
 * closed by nginx: the connection goes back with ngx_free_connection() and
 * its fd set to -1 (stale events of that descriptor are then ignored by the
 * event module), never ngx_close_connection().  It goes back on
 * CURL_POLL_REMOVE or in our CURLOPT_CLOSESOCKETFUNCTION, whichever comes
 * first, normally while the descriptor is still open.  But libcurl 7.88
 * also closes sockets by itself before CURL_POLL_REMOVE (one still
 * connecting, when its transfer is removed), and the number may be reused
 * at once, by libcurl or by nginx.  So before the events of a socket are
 * changed, fstat() tells whether the descriptor is still the socket they
 * were added for (same device and inode).  If not, its epoll registration
 * went away with the close: the events are only marked inactive
 * (NGX_CLOSE_EVENT), since an EPOLL_CTL_DEL would fail with EBADF or hit
 * the registration of whoever has the number now; and if libcurl wants the
 * reused number watched, a new connection is taken for it.
 *
 * Timer.  One event in nginx's timer tree; the timer callback only moves
 * it (and deletes it first, as ngx_add_timer() keeps an old timer less
 * than 300 ms away from the new one); its handler calls
 * curl_multi_socket_action(CURL_SOCKET_TIMEOUT).  libcurl is never called
 * from within its own callbacks.
 *
 * Shutdown.  The timer is cancelable while no fetch runs: an idle libcurl
 * never holds up a graceful shutdown.  Our connections are marked idle, so
 * when a graceful shutdown begins nginx "closes" them: their handler then
 * fails every fetch in flight ("nginx is shutting down"), the requests
 * waiting for them get their error pages at once, and the worker exits
 * without waiting for the provider and without leaving a client's
 * connection open (a cancelable timer alone would let the worker exit under
 * those requests: "open socket left in connection" alerts, clients without
 * an answer).  While fetches run the timer is not cancelable, so nothing
 * else makes the worker exit under them.
 *
 * Completion.  After each curl_multi_socket_action() the finished transfers
 * are taken one at a time with curl_multi_info_read(): the easy handle is
 * removed from the multi handle, the results are filled in and the fetch's
 * handler is called.  Nothing is kept across a handler call: it may start
 * fetches, cancel them or destroy pools with other fetches in them, and
 * curl_multi_remove_handle() drops the pending message of a removed handle.
 *
 * Failures inside callbacks.  When the socket callback cannot watch a
 * socket (no free connection: worker_connections; an event that cannot be
 * added), it may not remove the transfer (libcurl forbids calls from its
 * callbacks) and must not return -1 (that stops the whole multi handle):
 * it marks the fetch aborted and posts an event that finishes the fetch
 * with its error right after.
 *
 * Lifetime.  A fetch lives in its owner's pool.  A cleanup of that pool
 * removes a running transfer, so libcurl never calls back into freed
 * memory; the running fetches of the worker are linked in a queue so that
 * exit_process removes them all before curl_multi_cleanup().  Should the
 * removal ever fail (a pool destroyed from inside a libcurl callback),
 * the easy handle is orphaned instead: it loses every pointer to the fetch
 * and is cleaned up when it finishes.  The response is collected in a
 * buffer from the fetch's pool that doubles as it grows, up to max_size.
 *
 * Logs never show the Authorization value, the request body or the query
 * string of a URL.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include <curl/curl.h>

#include "ngx_http_oauth2_http.h"


#define NGX_HTTP_OAUTH2_HTTP_CONNECT_TIMEOUT  5000
#define NGX_HTTP_OAUTH2_HTTP_TIMEOUT          10000
#define NGX_HTTP_OAUTH2_HTTP_MAX_SIZE         (1024 * 1024)
#define NGX_HTTP_OAUTH2_HTTP_MAX_CONNECTS     32
#define NGX_HTTP_OAUTH2_HTTP_BUF_SIZE         4096

#define NGX_HTTP_OAUTH2_HTTP_ACCEPT           "application/json"
#define NGX_HTTP_OAUTH2_HTTP_USER_AGENT       "ngx_http_oauth2_module/0.1"


typedef struct {
    ngx_queue_t                 queue;
    curl_socket_t               fd;
    ngx_connection_t           *connection;

    /* which socket the connection watches, see ngx_http_oauth2_http_same() */
    dev_t                       dev;
    ngx_file_uniq_t             uniq;
} ngx_http_oauth2_http_sock_t;


static void ngx_http_oauth2_fetch_cleanup(void *data);
static ngx_int_t ngx_http_oauth2_fetch_header(struct curl_slist **headers,
    const char *name, ngx_str_t *value, ngx_log_t *log);
static char *ngx_http_oauth2_fetch_cstr(ngx_pool_t *pool, ngx_str_t *s);
static ngx_int_t ngx_http_oauth2_fetch_valid(ngx_str_t *s);
static void ngx_http_oauth2_fetch_release(ngx_http_oauth2_fetch_t *f);
static void ngx_http_oauth2_fetch_finish(ngx_http_oauth2_fetch_t *f,
    CURLcode code);
static const char *ngx_http_oauth2_fetch_strerror(CURLcode code,
    long oserr);
static void ngx_http_oauth2_fetch_abort(CURL *easy, const char *reason);
static void ngx_http_oauth2_fetch_url(ngx_str_t *url, ngx_str_t *out);

static size_t ngx_http_oauth2_http_write(char *ptr, size_t size,
    size_t nmemb, void *userdata);
static int ngx_http_oauth2_http_socket(CURL *easy, curl_socket_t s,
    int what, void *userp, void *socketp);
static int ngx_http_oauth2_http_timer(CURLM *multi, long timeout_ms,
    void *userp);
static int ngx_http_oauth2_http_close_socket(void *clientp,
    curl_socket_t s);
static ngx_http_oauth2_http_sock_t *ngx_http_oauth2_http_find_sock(
    curl_socket_t s);
static ngx_int_t ngx_http_oauth2_http_same(ngx_http_oauth2_http_sock_t *sock);
static void ngx_http_oauth2_http_free_connection(
    ngx_http_oauth2_http_sock_t *sock, ngx_uint_t closed);
static void ngx_http_oauth2_http_event_handler(ngx_event_t *ev);
static void ngx_http_oauth2_http_timer_handler(ngx_event_t *ev);
static void ngx_http_oauth2_http_shutdown(void);
static void ngx_http_oauth2_http_abort_handler(ngx_event_t *ev);
static void ngx_http_oauth2_http_action(curl_socket_t s, int mask);
static void ngx_http_oauth2_http_check_done(void);


static CURLM             *ngx_http_oauth2_multi;
static ngx_uint_t         ngx_http_oauth2_curl_initialized;

static ngx_queue_t        ngx_http_oauth2_fetches;
static ngx_queue_t        ngx_http_oauth2_socks;

static ngx_event_t        ngx_http_oauth2_timer_event;
static ngx_event_t        ngx_http_oauth2_abort_event;

/* the "connection" of the two events above, for the event debug logs */
static ngx_connection_t   ngx_http_oauth2_dummy;


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
    char               *url, *ca_file, *user_agent;
    long                connect_timeout, timeout;
    CURL               *easy;
    size_t              max_size;
    ngx_str_t           accept, ua, log_url;
    CURLMcode           mc;
    struct curl_slist  *headers, *l;

    if (ngx_http_oauth2_multi == NULL) {
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
        || ngx_http_oauth2_fetch_valid(&f->ca_file) != NGX_OK)
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

    if (url == NULL || user_agent == NULL) {
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
        || curl_easy_setopt(easy, CURLOPT_WRITEDATA, f) != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION,
                            ngx_http_oauth2_http_close_socket)
           != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, NULL) != CURLE_OK)
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

    mc = curl_multi_add_handle(ngx_http_oauth2_multi, easy);

    if (mc != CURLM_OK) {
        ngx_log_error(NGX_LOG_ALERT, f->log, 0,
                      "curl_multi_add_handle() failed: %s",
                      curl_multi_strerror(mc));
        goto failed;
    }

    f->easy = easy;
    f->headers = headers;
    f->running = 1;
    f->start = ngx_current_msec;

    ngx_queue_insert_tail(&ngx_http_oauth2_fetches, &f->queue);
    ngx_http_oauth2_timer_event.cancelable = 0;

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

    ngx_http_oauth2_fetch_release(f);
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

    ngx_memcpy(p, s->data, s->len);
    p[s->len] = '\0';

    return (char *) p;
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


/* takes the transfer out of libcurl; no handler is called */

static void
ngx_http_oauth2_fetch_release(ngx_http_oauth2_fetch_t *f)
{
    CURL       *easy;
    CURLMcode   mc;

    if (!f->running) {
        return;
    }

    easy = f->easy;

    f->running = 0;
    f->easy = NULL;
    ngx_queue_remove(&f->queue);

    if (ngx_queue_empty(&ngx_http_oauth2_fetches)) {
        ngx_http_oauth2_timer_event.cancelable = 1;
    }

    mc = CURLM_OK;

    if (ngx_http_oauth2_multi != NULL) {
        mc = curl_multi_remove_handle(ngx_http_oauth2_multi, easy);
    }

    if (mc == CURLM_OK) {
        curl_easy_cleanup(easy);

    } else {
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                      "curl_multi_remove_handle() failed: %s, "
                      "the transfer is orphaned", curl_multi_strerror(mc));

        /*
         * the easy handle stays in the multi handle until it ends and is
         * cleaned up then, see ngx_http_oauth2_http_check_done();
         * it must not point to the fetch or to its pool any more
         */

        (void) curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
        (void) curl_easy_setopt(easy, CURLOPT_WRITEDATA, NULL);
        (void) curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, NULL);
        (void) curl_easy_setopt(easy, CURLOPT_HTTPHEADER, NULL);
    }

    if (f->headers != NULL) {
        curl_slist_free_all(f->headers);
        f->headers = NULL;
    }
}


static void
ngx_http_oauth2_fetch_finish(ngx_http_oauth2_fetch_t *f, CURLcode code)
{
    long        status, oserr;
    char       *ct;
    size_t      len;
    u_char     *p;
    ngx_str_t   log_url;

    status = 0;
    oserr = 0;
    ct = NULL;

    (void) curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &status);
    (void) curl_easy_getinfo(f->easy, CURLINFO_OS_ERRNO, &oserr);
    (void) curl_easy_getinfo(f->easy, CURLINFO_CONTENT_TYPE, &ct);

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

    ngx_http_oauth2_fetch_release(f);

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

        if (f->error == NULL) {
            f->error = ngx_http_oauth2_fetch_strerror(code, oserr);
        }

        if (f->errbuf[0]) {
            f->detail = f->errbuf;

        } else {
            f->detail = f->aborted ? "" : curl_easy_strerror(code);
        }
    }

    ngx_http_oauth2_fetch_url(&f->url, &log_url);

    ngx_log_debug6(NGX_LOG_DEBUG_HTTP, f->log, 0,
                   "oauth2 fetch %p done: \"%V\" status:%ui size:%uz "
                   "time:%Mms %s", f, &log_url, f->status, f->response.len,
                   f->elapsed, f->error ? f->error : "ok");
}


static const char *
ngx_http_oauth2_fetch_strerror(CURLcode code, long oserr)
{
    switch (code) {

    case CURLE_COULDNT_CONNECT:

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


/*
 * called from libcurl's callbacks, where the transfer cannot be removed:
 * the abort event finishes it as soon as the callback has returned
 */

static void
ngx_http_oauth2_fetch_abort(CURL *easy, const char *reason)
{
    char                     *p;
    ngx_http_oauth2_fetch_t  *f;

    p = NULL;
    (void) curl_easy_getinfo(easy, CURLINFO_PRIVATE, &p);

    f = (ngx_http_oauth2_fetch_t *) p;

    if (f == NULL || !f->running || f->aborted) {
        return;
    }

    f->aborted = 1;
    f->error = reason;

    if (!ngx_http_oauth2_abort_event.posted) {
        ngx_post_event(&ngx_http_oauth2_abort_event, &ngx_posted_events);
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


static int
ngx_http_oauth2_http_socket(CURL *easy, curl_socket_t s, int what,
    void *userp, void *socketp)
{
    ngx_event_t                  *rev, *wev;
    ngx_file_info_t               fi;
    ngx_connection_t             *c;
    ngx_http_oauth2_http_sock_t  *sock;

    sock = socketp;

    if (sock == NULL) {
        /* libcurl before 7.82 refuses curl_multi_assign() here */
        sock = ngx_http_oauth2_http_find_sock(s);
    }

    ngx_log_debug3(NGX_LOG_DEBUG_EVENT, ngx_cycle->log, 0,
                   "oauth2 fetch socket %d what:%d sock:%p", s, what, sock);

    if (what == CURL_POLL_REMOVE) {
        if (sock != NULL) {
            ngx_http_oauth2_http_free_connection(sock,
                                       !ngx_http_oauth2_http_same(sock));
            ngx_queue_remove(&sock->queue);
            ngx_free(sock);
        }

        return 0;
    }

    if (sock == NULL) {
        sock = ngx_alloc(sizeof(ngx_http_oauth2_http_sock_t), ngx_cycle->log);
        if (sock == NULL) {
            ngx_http_oauth2_fetch_abort(easy, "out of memory");
            return 0;
        }

        sock->fd = s;
        sock->connection = NULL;

        ngx_queue_insert_tail(&ngx_http_oauth2_socks, &sock->queue);

        (void) curl_multi_assign(ngx_http_oauth2_multi, s, sock);
    }

    if (sock->connection != NULL && !ngx_http_oauth2_http_same(sock)) {
        /* closed behind our back and the number reused */
        ngx_http_oauth2_http_free_connection(sock, 1);
    }

    c = sock->connection;

    if (c == NULL) {
        if (ngx_fd_info(s, &fi) == NGX_FILE_ERROR) {
            ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, ngx_errno,
                          ngx_fd_info_n " socket %d failed", s);
            ngx_http_oauth2_fetch_abort(easy, "cannot watch a socket");
            return 0;
        }

        sock->dev = fi.st_dev;
        sock->uniq = ngx_file_uniq(&fi);

        c = ngx_get_connection(s, ngx_cycle->log);
        if (c == NULL) {
            ngx_http_oauth2_fetch_abort(easy,
                                        "worker_connections are not enough");
            return 0;
        }

        c->data = sock;

        /* graceful shutdown "closes" idle connections: for ours that
         * fails the fetches, whose requests then get their answers */
        c->idle = 1;

        c->read->handler = ngx_http_oauth2_http_event_handler;
        c->write->handler = ngx_http_oauth2_http_event_handler;
        c->read->log = c->log;
        c->write->log = c->log;

        sock->connection = c;
    }

    rev = c->read;
    wev = c->write;

    if (what & CURL_POLL_IN) {
        if (!rev->active
            && ngx_add_event(rev, NGX_READ_EVENT, NGX_LEVEL_EVENT) != NGX_OK)
        {
            goto failed;
        }

    } else if (rev->active) {
        if (ngx_del_event(rev, NGX_READ_EVENT, 0) != NGX_OK) {
            goto failed;
        }

        if (rev->posted) {
            ngx_delete_posted_event(rev);
        }
    }

    if (what & CURL_POLL_OUT) {
        if (!wev->active
            && ngx_add_event(wev, NGX_WRITE_EVENT, NGX_LEVEL_EVENT) != NGX_OK)
        {
            goto failed;
        }

    } else if (wev->active) {
        if (ngx_del_event(wev, NGX_WRITE_EVENT, 0) != NGX_OK) {
            goto failed;
        }

        if (wev->posted) {
            ngx_delete_posted_event(wev);
        }
    }

    return 0;

failed:

    ngx_http_oauth2_http_free_connection(sock, 0);
    ngx_http_oauth2_fetch_abort(easy, "cannot watch a socket");

    return 0;
}


static int
ngx_http_oauth2_http_timer(CURLM *multi, long timeout_ms, void *userp)
{
    ngx_event_t  *ev;

    ev = &ngx_http_oauth2_timer_event;

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, ngx_cycle->log, 0,
                   "oauth2 fetch timer: %l", timeout_ms);

    /* ngx_add_timer() would keep a timer set less than 300 ms away */

    if (ev->timer_set) {
        ngx_del_timer(ev);
    }

    if (timeout_ms < 0) {
        return 0;
    }

    ev->log = ngx_cycle->log;

    ngx_add_timer(ev, (ngx_msec_t) timeout_ms);

    return 0;
}


static int
ngx_http_oauth2_http_close_socket(void *clientp, curl_socket_t s)
{
    ngx_http_oauth2_http_sock_t  *sock;

    sock = ngx_http_oauth2_http_find_sock(s);

    if (sock != NULL) {
        /* the events go while the descriptor is still open */
        ngx_http_oauth2_http_free_connection(sock, 0);
    }

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, ngx_cycle->log, 0,
                   "oauth2 fetch close socket %d", s);

    if (ngx_close_socket(s) == -1) {
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, ngx_socket_errno,
                      ngx_close_socket_n " %d failed", s);
        return 1;
    }

    return 0;
}


static ngx_http_oauth2_http_sock_t *
ngx_http_oauth2_http_find_sock(curl_socket_t s)
{
    ngx_queue_t                  *q;
    ngx_http_oauth2_http_sock_t  *sock;

    for (q = ngx_queue_head(&ngx_http_oauth2_socks);
         q != ngx_queue_sentinel(&ngx_http_oauth2_socks);
         q = ngx_queue_next(q))
    {
        sock = ngx_queue_data(q, ngx_http_oauth2_http_sock_t, queue);

        if (sock->fd == s) {
            return sock;
        }
    }

    return NULL;
}


/*
 * Is the descriptor still the socket the connection was taken for?  Not if
 * libcurl has closed it (EBADF), nor if the number then went to another
 * socket or file, ours or nginx's: its events must not be touched then.
 * libcurl 7.88 does close a socket still connecting before it sends
 * CURL_POLL_REMOVE, and without calling CURLOPT_CLOSESOCKETFUNCTION, when
 * its transfer is removed.
 */

static ngx_int_t
ngx_http_oauth2_http_same(ngx_http_oauth2_http_sock_t *sock)
{
    ngx_file_info_t  fi;

    if (sock->connection == NULL) {
        return 0;
    }

    if (ngx_fd_info(sock->fd, &fi) == NGX_FILE_ERROR) {
        return 0;
    }

    return fi.st_dev == sock->dev && ngx_file_uniq(&fi) == sock->uniq;
}


/*
 * The descriptor stays open: it is libcurl's to close.  "closed" says that
 * it is closed already: its epoll registration went with it, and the
 * events are only marked inactive (NGX_CLOSE_EVENT).
 */

static void
ngx_http_oauth2_http_free_connection(ngx_http_oauth2_http_sock_t *sock,
    ngx_uint_t closed)
{
    ngx_uint_t         flags;
    ngx_connection_t  *c;

    c = sock->connection;

    if (c == NULL) {
        return;
    }

    sock->connection = NULL;

    flags = closed ? NGX_CLOSE_EVENT : 0;

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, ngx_cycle->log, 0,
                   "oauth2 fetch socket %d unwatched%s",
                   sock->fd, closed ? ", closed already" : "");

    if (c->read->active) {
        (void) ngx_del_event(c->read, NGX_READ_EVENT, flags);
    }

    if (c->write->active) {
        (void) ngx_del_event(c->write, NGX_WRITE_EVENT, flags);
    }

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    ngx_free_connection(c);

    c->fd = (ngx_socket_t) -1;
}


static void
ngx_http_oauth2_http_event_handler(ngx_event_t *ev)
{
    ngx_connection_t  *c;

    c = ev->data;

    if (c->close) {
        /* a graceful shutdown began, or worker_shutdown_timeout expired */
        c->close = 0;
        ngx_http_oauth2_http_shutdown();
        return;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, ev->log, 0,
                   "oauth2 fetch socket %d ready for %s",
                   c->fd, ev->write ? "write" : "read");

    /* c may be freed by the call: nothing of it is used after */

    ngx_http_oauth2_http_action(c->fd,
                                ev->write ? CURL_CSELECT_OUT : CURL_CSELECT_IN);
}


static void
ngx_http_oauth2_http_timer_handler(ngx_event_t *ev)
{
    ngx_log_debug0(NGX_LOG_DEBUG_EVENT, ev->log, 0, "oauth2 fetch timeout");

    ngx_http_oauth2_http_action(CURL_SOCKET_TIMEOUT, 0);
}


/* fails all fetches at once, from the abort event */

static void
ngx_http_oauth2_http_shutdown(void)
{
    ngx_queue_t              *q;
    ngx_http_oauth2_fetch_t  *f;

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "oauth2 fetch shutdown");

    for (q = ngx_queue_head(&ngx_http_oauth2_fetches);
         q != ngx_queue_sentinel(&ngx_http_oauth2_fetches);
         q = ngx_queue_next(q))
    {
        f = ngx_queue_data(q, ngx_http_oauth2_fetch_t, queue);

        if (!f->aborted) {
            f->aborted = 1;
            f->error = "nginx is shutting down";
        }
    }

    if (!ngx_queue_empty(&ngx_http_oauth2_fetches)
        && !ngx_http_oauth2_abort_event.posted)
    {
        ngx_post_event(&ngx_http_oauth2_abort_event, &ngx_posted_events);
    }
}


static void
ngx_http_oauth2_http_abort_handler(ngx_event_t *ev)
{
    ngx_queue_t              *q;
    ngx_http_oauth2_fetch_t  *f;

    /* a handler may change the queue: look from its head each time */

    for ( ;; ) {

        f = NULL;

        for (q = ngx_queue_head(&ngx_http_oauth2_fetches);
             q != ngx_queue_sentinel(&ngx_http_oauth2_fetches);
             q = ngx_queue_next(q))
        {
            f = ngx_queue_data(q, ngx_http_oauth2_fetch_t, queue);

            if (f->aborted) {
                break;
            }

            f = NULL;
        }

        if (f == NULL) {
            return;
        }

        ngx_http_oauth2_fetch_finish(f, CURLE_ABORTED_BY_CALLBACK);

        if (f->handler) {
            f->handler(f);
        }
    }
}


static void
ngx_http_oauth2_http_action(curl_socket_t s, int mask)
{
    int        running;
    CURLMcode  mc;

    if (ngx_http_oauth2_multi == NULL) {
        return;
    }

    mc = curl_multi_socket_action(ngx_http_oauth2_multi, s, mask, &running);

    if (mc != CURLM_OK) {
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                      "curl_multi_socket_action() failed: %s",
                      curl_multi_strerror(mc));
    }

    ngx_http_oauth2_http_check_done();
}


static void
ngx_http_oauth2_http_check_done(void)
{
    int                       left;
    char                     *p;
    CURL                     *easy;
    CURLMsg                  *msg;
    CURLcode                  code;
    ngx_http_oauth2_fetch_t  *f;

    /*
     * one message at a time: a handler may add or remove transfers, and
     * the message of a removed transfer is gone from the queue
     */

    while (ngx_http_oauth2_multi != NULL) {

        msg = curl_multi_info_read(ngx_http_oauth2_multi, &left);
        if (msg == NULL) {
            return;
        }

        if (msg->msg != CURLMSG_DONE) {
            continue;
        }

        easy = msg->easy_handle;
        code = msg->data.result;

        p = NULL;
        (void) curl_easy_getinfo(easy, CURLINFO_PRIVATE, &p);

        f = (ngx_http_oauth2_fetch_t *) p;

        if (f == NULL) {
            /* an orphaned transfer */
            (void) curl_multi_remove_handle(ngx_http_oauth2_multi, easy);
            curl_easy_cleanup(easy);
            continue;
        }

        ngx_http_oauth2_fetch_finish(f, code);

        if (f->handler) {
            f->handler(f);
        }
    }
}


ngx_int_t
ngx_http_oauth2_http_init_process(ngx_cycle_t *cycle)
{
    CURLcode  code;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        /* cache manager and loader: no requests there */
        return NGX_OK;
    }

    if (ngx_http_oauth2_multi != NULL) {
        return NGX_OK;
    }

    if (!ngx_http_oauth2_curl_initialized) {
        code = curl_global_init(CURL_GLOBAL_DEFAULT);

        if (code != CURLE_OK) {
            ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                          "curl_global_init() failed: %s",
                          curl_easy_strerror(code));
            return NGX_ERROR;
        }

        ngx_http_oauth2_curl_initialized = 1;
    }

    ngx_queue_init(&ngx_http_oauth2_fetches);
    ngx_queue_init(&ngx_http_oauth2_socks);

    ngx_memzero(&ngx_http_oauth2_dummy, sizeof(ngx_connection_t));
    ngx_http_oauth2_dummy.fd = (ngx_socket_t) -1;

    ngx_memzero(&ngx_http_oauth2_timer_event, sizeof(ngx_event_t));
    ngx_http_oauth2_timer_event.data = &ngx_http_oauth2_dummy;
    ngx_http_oauth2_timer_event.handler = ngx_http_oauth2_http_timer_handler;
    ngx_http_oauth2_timer_event.log = cycle->log;
    ngx_http_oauth2_timer_event.cancelable = 1;

    ngx_memzero(&ngx_http_oauth2_abort_event, sizeof(ngx_event_t));
    ngx_http_oauth2_abort_event.data = &ngx_http_oauth2_dummy;
    ngx_http_oauth2_abort_event.handler = ngx_http_oauth2_http_abort_handler;
    ngx_http_oauth2_abort_event.log = cycle->log;

    ngx_http_oauth2_multi = curl_multi_init();

    if (ngx_http_oauth2_multi == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "curl_multi_init() failed");
        return NGX_ERROR;
    }

    if (curl_multi_setopt(ngx_http_oauth2_multi, CURLMOPT_SOCKETFUNCTION,
                          ngx_http_oauth2_http_socket)
        != CURLM_OK
        || curl_multi_setopt(ngx_http_oauth2_multi, CURLMOPT_TIMERFUNCTION,
                             ngx_http_oauth2_http_timer)
           != CURLM_OK
        || curl_multi_setopt(ngx_http_oauth2_multi, CURLMOPT_MAXCONNECTS,
                             (long) NGX_HTTP_OAUTH2_HTTP_MAX_CONNECTS)
           != CURLM_OK)
    {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "curl_multi_setopt() failed");

        (void) curl_multi_cleanup(ngx_http_oauth2_multi);
        ngx_http_oauth2_multi = NULL;

        return NGX_ERROR;
    }

    /* not curl_version(): it initializes libldap and libsasl2 */

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, cycle->log, 0,
                   "oauth2 http client started: libcurl %s",
                   curl_version_info(CURLVERSION_NOW)->version);

    return NGX_OK;
}


void
ngx_http_oauth2_http_exit_process(ngx_cycle_t *cycle)
{
    ngx_queue_t                  *q;
    ngx_http_oauth2_fetch_t      *f;
    ngx_http_oauth2_http_sock_t  *sock;

    if (ngx_http_oauth2_multi == NULL) {
        return;
    }

    /* the process ends: transfers go without their handlers */

    while (!ngx_queue_empty(&ngx_http_oauth2_fetches)) {
        q = ngx_queue_head(&ngx_http_oauth2_fetches);
        f = ngx_queue_data(q, ngx_http_oauth2_fetch_t, queue);

        ngx_http_oauth2_fetch_release(f);
    }

    /* closes the cached connections through our callbacks */

    (void) curl_multi_cleanup(ngx_http_oauth2_multi);
    ngx_http_oauth2_multi = NULL;

    while (!ngx_queue_empty(&ngx_http_oauth2_socks)) {
        q = ngx_queue_head(&ngx_http_oauth2_socks);
        sock = ngx_queue_data(q, ngx_http_oauth2_http_sock_t, queue);

        ngx_http_oauth2_http_free_connection(sock,
                                       !ngx_http_oauth2_http_same(sock));
        ngx_queue_remove(q);
        ngx_free(sock);
    }

    if (ngx_http_oauth2_timer_event.timer_set) {
        ngx_del_timer(&ngx_http_oauth2_timer_event);
    }

    if (ngx_http_oauth2_abort_event.posted) {
        ngx_delete_posted_event(&ngx_http_oauth2_abort_event);
    }

    if (ngx_http_oauth2_curl_initialized) {
        curl_global_cleanup();
        ngx_http_oauth2_curl_initialized = 0;
    }

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, cycle->log, 0,
                   "oauth2 http client stopped");
}


ngx_int_t
ngx_http_oauth2_url_is_loopback(ngx_str_t *url)
{
    u_char     *p, *last, *host, *end;
    size_t      len;
    in_addr_t   addr;
    ngx_uint_t  ipv6;
#if (NGX_HAVE_INET6)
    u_char      addr6[16];
#endif

    p = url->data;
    last = p + url->len;

    if (url->len > 7 && ngx_strncasecmp(p, (u_char *) "http://", 7) == 0) {
        p += 7;

    } else if (url->len > 8
               && ngx_strncasecmp(p, (u_char *) "https://", 8) == 0)
    {
        p += 8;

    } else {
        return 0;
    }

    /* the authority ends at the path, the query or the fragment */

    host = p;

    while (p < last && *p != '/' && *p != '?' && *p != '#') {
        if (*p == '@') {
            host = p + 1;
        }

        p++;
    }

    last = p;
    ipv6 = 0;

    if (host < last && *host == '[') {
        end = ngx_strlchr(host, last, ']');
        if (end == NULL) {
            return 0;
        }

        host++;
        len = end - host;
        p = end + 1;
        ipv6 = 1;

    } else {
        end = ngx_strlchr(host, last, ':');
        if (end == NULL) {
            end = last;
        }

        len = end - host;
        p = end;
    }

    /* nothing but a port may follow */

    if (p < last) {
        if (*p++ != ':') {
            return 0;
        }

        for ( /* void */ ; p < last; p++) {
            if (*p < '0' || *p > '9') {
                return 0;
            }
        }
    }

    if (len == 0) {
        return 0;
    }

    if (ipv6) {
#if (NGX_HAVE_INET6)
        if (ngx_inet6_addr(host, len, addr6) != NGX_OK) {
            return 0;
        }

        /* ::1, or ::ffff:127.x.x.x */

        if (addr6[15] == 1
            && ngx_memcmp(addr6, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 15) == 0)
        {
            return 1;
        }

        if (ngx_memcmp(addr6, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0
            && addr6[12] == 127)
        {
            return 1;
        }
#endif

        return 0;
    }

    if (len == sizeof("localhost") - 1
        && ngx_strncasecmp(host, (u_char *) "localhost", len) == 0)
    {
        return 1;
    }

    addr = ngx_inet_addr(host, len);

    if (addr != INADDR_NONE && (ntohl(addr) >> 24) == 127) {
        return 1;
    }

    return 0;
}
