
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * The per-worker half of the HTTP client: libcurl's multi handle and its
 * glue to the nginx event loop (sockets, timer, shutdown, completion).
 * One transfer's setup and response are ngx_http_oauth2_http.c's: it adds
 * its easy handles here and is told through the done handler given to
 * ngx_http_oauth2_http_multi_init() when one ends; nothing here calls it
 * directly.
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
 * are taken one at a time with curl_multi_info_read() and given to the
 * done handler, which removes the easy handle from the multi handle,
 * fills in the results and calls the fetch's handler.  Nothing is kept
 * across a handler call: it may start fetches, cancel them or destroy
 * pools with other fetches in them, and curl_multi_remove_handle() drops
 * the pending message of a removed handle.
 *
 * Failures inside callbacks.  When the socket callback cannot watch a
 * socket (no free connection: worker_connections; an event that cannot be
 * added), it may not remove the transfer (libcurl forbids calls from its
 * callbacks) and must not return -1 (that stops the whole multi handle):
 * it marks the fetch aborted and posts an event that finishes the fetch
 * with its error right after.
 *
 * Lifetime.  The running fetches of the worker are linked in a queue so
 * that exit_process removes them all before curl_multi_cleanup().  Should
 * a removal ever fail (a pool destroyed from inside a libcurl callback),
 * the easy handle is orphaned instead: it loses every pointer to the fetch
 * and is cleaned up when it finishes.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include <curl/curl.h>

#include "ngx_http_oauth2_http_multi.h"


#define NGX_HTTP_OAUTH2_HTTP_MAX_CONNECTS     32


typedef struct {
    ngx_queue_t                 queue;
    curl_socket_t               fd;
    ngx_connection_t           *connection;

    /* which socket the connection watches, see ngx_http_oauth2_http_same() */
    dev_t                       dev;
    ngx_file_uniq_t             uniq;
} ngx_http_oauth2_http_sock_t;


static void ngx_http_oauth2_fetch_abort(CURL *easy, const char *reason);
static int ngx_http_oauth2_http_socket(CURL *easy, curl_socket_t s,
    int what, void *userp, void *socketp);
static ngx_int_t ngx_http_oauth2_http_watch(ngx_event_t *ev,
    ngx_int_t event, ngx_uint_t want);
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

/* ends a transfer: ngx_http_oauth2_http.c's */
static ngx_http_oauth2_http_done_pt  ngx_http_oauth2_done;


ngx_uint_t
ngx_http_oauth2_http_multi_running(void)
{
    return ngx_http_oauth2_multi != NULL;
}


ngx_int_t
ngx_http_oauth2_http_multi_add(ngx_http_oauth2_fetch_t *f, void *easy)
{
    CURLMcode  mc;

    if (curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION,
                         ngx_http_oauth2_http_close_socket)
        != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, NULL) != CURLE_OK)
    {
        ngx_log_error(NGX_LOG_ALERT, f->log, 0, "curl_easy_setopt() failed");
        return NGX_ERROR;
    }

    mc = curl_multi_add_handle(ngx_http_oauth2_multi, easy);

    if (mc != CURLM_OK) {
        ngx_log_error(NGX_LOG_ALERT, f->log, 0,
                      "curl_multi_add_handle() failed: %s",
                      curl_multi_strerror(mc));
        return NGX_ERROR;
    }

    f->easy = easy;
    f->running = 1;

    ngx_queue_insert_tail(&ngx_http_oauth2_fetches, &f->queue);
    ngx_http_oauth2_timer_event.cancelable = 0;

    return NGX_OK;
}


/* takes the transfer out of libcurl; no handler is called */

void
ngx_http_oauth2_http_multi_remove(ngx_http_oauth2_fetch_t *f)
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


static int
ngx_http_oauth2_http_socket(CURL *easy, curl_socket_t s, int what,
    void *userp, void *socketp)
{
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

    if (ngx_http_oauth2_http_watch(c->read, NGX_READ_EVENT,
                                   what & CURL_POLL_IN)
        != NGX_OK
        || ngx_http_oauth2_http_watch(c->write, NGX_WRITE_EVENT,
                                      what & CURL_POLL_OUT)
           != NGX_OK)
    {
        goto failed;
    }

    return 0;

failed:

    ngx_http_oauth2_http_free_connection(sock, 0);
    ngx_http_oauth2_fetch_abort(easy, "cannot watch a socket");

    return 0;
}


/* watches ev (NGX_READ_EVENT or NGX_WRITE_EVENT), level-triggered, or
 * stops watching it, as libcurl wants */

static ngx_int_t
ngx_http_oauth2_http_watch(ngx_event_t *ev, ngx_int_t event, ngx_uint_t want)
{
    if (want) {
        if (!ev->active && ngx_add_event(ev, event, NGX_LEVEL_EVENT) != NGX_OK)
        {
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    if (ev->active) {
        if (ngx_del_event(ev, event, 0) != NGX_OK) {
            return NGX_ERROR;
        }

        if (ev->posted) {
            ngx_delete_posted_event(ev);
        }
    }

    return NGX_OK;
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

        ngx_http_oauth2_done(f, CURLE_ABORTED_BY_CALLBACK);
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

        ngx_http_oauth2_done(f, code);
    }
}


ngx_int_t
ngx_http_oauth2_http_multi_init(ngx_cycle_t *cycle,
    ngx_http_oauth2_http_done_pt done)
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

    ngx_http_oauth2_done = done;

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
ngx_http_oauth2_http_multi_exit(ngx_cycle_t *cycle)
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

        ngx_http_oauth2_http_multi_remove(f);
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
