
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * Sending a browser to the provider: the provider chooser of a location
 * with several, the authorization request (state, nonce, PKCE), pushed
 * to the provider first when it wants that (RFC 9126), and the state
 * cookies that carry a login in flight.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "ngx_http_oauth2_module.h"
#include "ngx_http_oauth2_codec.h"
#include "ngx_http_oauth2_json.h"
#include "ngx_http_oauth2_cookie.h"
#include "ngx_http_oauth2_ctx.h"
#include "ngx_http_oauth2_metrics.h"
#include "ngx_http_oauth2_reply.h"
#include "ngx_http_oauth2_request.h"
#include "ngx_http_oauth2_seal.h"
#include "ngx_http_oauth2_token.h"
#include "ngx_http_oauth2_park.h"
#include "ngx_http_oauth2_provider.h"
#include "ngx_http_oauth2_url.h"
#include "ngx_http_oauth2_login.h"


#define NGX_HTTP_OAUTH2_MAX_STATES       5
#define NGX_HTTP_OAUTH2_RANDOM_LEN       32

/* the longest request_uri a provider may give back */
#define NGX_HTTP_OAUTH2_REQUEST_URI_MAX  1024


typedef struct {
    ngx_str_t                       name;
    time_t                          created;
} ngx_http_oauth2_state_ref_t;


typedef struct {
    ngx_http_oauth2_loc_conf_t     *olcf;
    ngx_http_oauth2_provider_t     *provider;
    ngx_array_t                     states;
} ngx_http_oauth2_state_scan_t;


/* a pushed authorization request in flight, or its answer */
typedef struct {
    ngx_http_oauth2_fetch_t        *fetch;
    ngx_http_request_t             *request;
    unsigned                        done:1;
} ngx_http_oauth2_par_t;


static ngx_int_t ngx_http_oauth2_push(ngx_http_request_t *r,
    ngx_http_oauth2_provider_t *p, ngx_http_oauth2_metadata_t *md,
    ngx_http_oauth2_param_t *params);
static void ngx_http_oauth2_push_done(ngx_http_oauth2_fetch_t *f);
static ngx_int_t ngx_http_oauth2_pushed(ngx_http_request_t *r,
    ngx_http_oauth2_provider_t *p, ngx_http_oauth2_par_t *par);
static ngx_int_t ngx_http_oauth2_request_uri_valid(ngx_str_t *uri);
static ngx_int_t ngx_http_oauth2_limit_states(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf, ngx_http_oauth2_provider_t *p);
static ngx_int_t ngx_http_oauth2_scan_state(ngx_http_request_t *r,
    ngx_str_t *name, ngx_str_t *value, void *data);
static ngx_int_t ngx_http_oauth2_random(ngx_pool_t *pool, ngx_str_t *out);
static ngx_int_t ngx_http_oauth2_pkce_challenge(ngx_pool_t *pool,
    ngx_str_t *verifier, ngx_str_t *challenge);


/*
 * A location that admits several providers asks the user which one: the
 * chooser page links to this same URL with "oauth2_provider=NAME" added
 * at the end of its arguments.
 */

ngx_http_oauth2_provider_t *
ngx_http_oauth2_chosen(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf)
{
    ngx_str_t                     name;
    ngx_uint_t                    i;
    ngx_http_oauth2_provider_t  **pp;

    if (ngx_http_arg(r, (u_char *) "oauth2_provider",
                     sizeof("oauth2_provider") - 1, &name)
        != NGX_OK)
    {
        return NULL;
    }

    pp = olcf->choices->elts;

    for (i = 0; i < olcf->choices->nelts; i++) {
        if (pp[i]->name.len == name.len
            && ngx_strncmp(pp[i]->name.data, name.data, name.len) == 0)
        {
            return pp[i];
        }
    }

    return NULL;
}


ngx_int_t
ngx_http_oauth2_chooser(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf)
{
    u_char                       *p;
    size_t                        len, uri;
    ngx_buf_t                    *b;
    ngx_str_t                     url;
    ngx_uint_t                    i, query;
    ngx_http_oauth2_provider_t  **pp;

    static u_char  head[] =
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
        "<title>Log in</title></head>\n<body><h1>Log in with</h1>\n<ul>\n";
    static u_char  tail[] = "</ul>\n</body></html>\n";

    pp = olcf->choices->elts;

    if (ngx_http_oauth2_request_url(r, &url) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    query = (ngx_strlchr(url.data, url.data + url.len, '?') != NULL);

    uri = url.len + ngx_escape_html(NULL, url.data, url.len);

    len = sizeof(head) - 1 + sizeof(tail) - 1;

    for (i = 0; i < olcf->choices->nelts; i++) {
        len += sizeof("<li><a href=\"&amp;oauth2_provider=\"></a></li>\n")
               - 1 + uri + 2 * pp[i]->name.len;
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(b->last, head, sizeof(head) - 1);

    for (i = 0; i < olcf->choices->nelts; i++) {
        p = ngx_cpymem(p, "<li><a href=\"", sizeof("<li><a href=\"") - 1);
        p = (u_char *) ngx_escape_html(p, url.data, url.len);

        if (query) {
            p = ngx_cpymem(p, "&amp;", sizeof("&amp;") - 1);

        } else {
            *p++ = '?';
        }

        p = ngx_sprintf(p, "oauth2_provider=%V\">%V</a></li>\n",
                        &pp[i]->name, &pp[i]->name);
    }

    p = ngx_cpymem(p, tail, sizeof(tail) - 1);

    b->last = p;

    return ngx_http_oauth2_send_html(r, NGX_HTTP_OK, b);
}


ngx_int_t
ngx_http_oauth2_login(ngx_http_request_t *r, ngx_http_oauth2_loc_conf_t *olcf,
    ngx_http_oauth2_provider_t *p)
{
    size_t                          len;
    ngx_int_t                       rc;
    ngx_str_t                       plain, sealed, name, redirect_uri, url;
    ngx_str_t                       challenge, method, code, client_id;
    ngx_str_t                       form_post;
    ngx_http_oauth2_param_t         params[10];
    ngx_http_oauth2_ctx_t          *ctx;
    ngx_http_oauth2_par_t          *par;
    ngx_http_oauth2_metadata_t     *md;
    ngx_http_oauth2_login_state_t   st;

    ctx = ngx_http_oauth2_get_ctx(r, 1);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    par = ctx->par;

    if (par != NULL) {
        /* resumed: the push has ended, or not yet */
        return par->done ? ngx_http_oauth2_pushed(r, p, par) : NGX_AGAIN;
    }

    rc = ngx_http_oauth2_park_provider(r, p, NGX_HTTP_OAUTH2_NEED_METADATA);

    if (rc == NGX_AGAIN) {
        return NGX_AGAIN;
    }

    if (rc != NGX_OK) {
        return ngx_http_oauth2_fail(r, NGX_HTTP_OAUTH2_ERR_UNAVAILABLE, NULL);
    }

    md = ngx_http_oauth2_provider_metadata(p);

    rc = ngx_http_oauth2_redirect_uri(r, p, &redirect_uri);

    if (rc != NGX_OK) {
        return ngx_http_oauth2_host_failed(r, rc);
    }

    /* form_post's state cookie is Secure: a browser would drop it over
     * plain http to anything but a loopback address */

    if (p->response_mode == NGX_HTTP_OAUTH2_RESPONSE_FORM
        && ngx_strncasecmp(redirect_uri.data, (u_char *) "https://",
                           sizeof("https://") - 1)
           != 0
        && !ngx_http_oauth2_url_is_loopback(&redirect_uri))
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oauth2 provider \"%V\": \"response_mode form_post\" "
                      "needs https, the redirect_uri would be plain http",
                      &p->name);
        return ngx_http_oauth2_fail(r, NGX_HTTP_OAUTH2_ERR_INSECURE, NULL);
    }

    ngx_memzero(&st, sizeof(ngx_http_oauth2_login_state_t));

    st.created = ngx_time();

    if (ngx_http_oauth2_random(r->pool, &st.state) != NGX_OK
        || ngx_http_oauth2_random(r->pool, &st.nonce) != NGX_OK
        || ngx_http_oauth2_random(r->pool, &st.verifier) != NGX_OK
        || ngx_http_oauth2_pkce_challenge(r->pool, &st.verifier, &challenge)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the page to come back to: this request's own path and arguments,
     * so always a path on this host */

    if (ngx_http_oauth2_request_url(r, &st.return_url) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (olcf->choices != NULL) {
        /* without the chooser's "oauth2_provider=NAME" at the end */

        len = sizeof("oauth2_provider=") - 1 + p->name.len + 1;

        if (st.return_url.len > len
            && ngx_strncmp(st.return_url.data + st.return_url.len - len + 1,
                           "oauth2_provider=", sizeof("oauth2_provider=") - 1)
               == 0)
        {
            st.return_url.len -= len;
        }
    }

    if (ngx_http_oauth2_limit_states(r, olcf, p) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_oauth2_state_cookie_name(r->pool, p, &st.state, &name)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_oauth2_state_encode(r->pool, &st, &plain) != NGX_OK
        || ngx_http_oauth2_seal(r->pool, olcf->keys,
                                NGX_HTTP_OAUTH2_SEAL_STATE, &name, &plain,
                                &sealed)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_oauth2_cookie_set(r, &name, &sealed,
                                   NGX_HTTP_OAUTH2_STATE_TTL,
                                   ngx_http_oauth2_state_cookie_flags(r,
                                                                      olcf,
                                                                      p),
                                   &olcf->cookie_domain)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_str_set(&code, "code");
    ngx_str_set(&method, "S256");
    client_id = p->client_id;

    params[0].name = "response_type";
    params[0].value = &code;
    params[1].name = "client_id";
    params[1].value = &client_id;
    params[2].name = "redirect_uri";
    params[2].value = &redirect_uri;
    params[3].name = "scope";
    params[3].value = &p->scope;
    params[4].name = "state";
    params[4].value = &st.state;
    params[5].name = "nonce";
    params[5].value = p->oidc ? &st.nonce : NULL;
    params[6].name = "code_challenge";
    params[6].value = &challenge;
    params[7].name = "code_challenge_method";
    params[7].value = &method;
    params[8].name = "response_mode";
    params[8].value = NULL;
    params[9].name = NULL;

    if (p->response_mode == NGX_HTTP_OAUTH2_RESPONSE_FORM) {
        ngx_str_set(&form_post, "form_post");
        params[8].value = &form_post;
    }

    if (p->par == NGX_HTTP_OAUTH2_PAR_ON
        || (p->par == NGX_HTTP_OAUTH2_PAR_AUTO && md->require_par))
    {
        return ngx_http_oauth2_push(r, p, md, params);
    }

    if (ngx_http_oauth2_endpoint_url(r->pool, &md->authorization_endpoint,
                                     params, &p->auth_params, &url)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "oauth2 provider \"%V\": redirecting to login", &p->name);

    ngx_http_oauth2_metrics_count(p, NGX_HTTP_OAUTH2_M_LOGIN_STARTED);

    return ngx_http_oauth2_redirect(r, NGX_HTTP_MOVED_TEMPORARILY, &url);
}


/*
 * RFC 9126: the authorization request's parameters (and
 * authorization_params) go to the provider in a call that authenticates
 * the client, while the request waits; the browser then gets only
 * client_id and the request_uri the provider answered.
 */

static ngx_int_t
ngx_http_oauth2_push(ngx_http_request_t *r, ngx_http_oauth2_provider_t *p,
    ngx_http_oauth2_metadata_t *md, ngx_http_oauth2_param_t *params)
{
    u_char                   *s;
    ngx_http_oauth2_ctx_t    *ctx;
    ngx_http_oauth2_par_t    *par;
    ngx_http_oauth2_fetch_t  *f;

    if (md->par_endpoint.len == 0) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oauth2 provider \"%V\" has no pushed authorization "
                      "request endpoint (set "
                      "\"pushed_authorization_request_endpoint\" or "
                      "\"pushed_authorization_requests off\")", &p->name);
        return ngx_http_oauth2_fail(r, NGX_HTTP_OAUTH2_ERR_UNAVAILABLE, NULL);
    }

    par = ngx_pcalloc(r->pool, sizeof(ngx_http_oauth2_par_t));
    if (par == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    f = ngx_http_oauth2_provider_fetch(r->pool, r->connection->log, p,
                                       "pushed authorization");
    if (f == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    f->url = md->par_endpoint;
    f->handler = ngx_http_oauth2_push_done;
    f->data = par;

    if (ngx_http_oauth2_client_request(r->pool, p, params, f) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (p->auth_params.len) {
        s = ngx_pnalloc(r->pool, f->body.len + 1 + p->auth_params.len);
        if (s == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_memcpy(s, f->body.data, f->body.len);
        s[f->body.len] = '&';
        ngx_memcpy(s + f->body.len + 1, p->auth_params.data,
                   p->auth_params.len);

        f->body.data = s;
        f->body.len += 1 + p->auth_params.len;
    }

    par->fetch = f;
    par->request = r;

    if (ngx_http_oauth2_fetch_start(f) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oauth2 provider \"%V\": cannot start the pushed "
                      "authorization request", &p->name);
        return ngx_http_oauth2_fail(r, NGX_HTTP_OAUTH2_ERR_UNAVAILABLE, NULL);
    }

    ctx = ngx_http_oauth2_get_ctx(r, 0);
    ctx->par = par;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "oauth2 provider \"%V\": pushing the authorization "
                   "request", &p->name);

    return NGX_AGAIN;
}


static void
ngx_http_oauth2_push_done(ngx_http_oauth2_fetch_t *f)
{
    ngx_http_oauth2_par_t *par = f->data;

    par->done = 1;

    ngx_http_oauth2_wake(par->request);
}


/* the provider's answer (RFC 9126, 2.2 and 2.3) and the redirect */

static ngx_int_t
ngx_http_oauth2_pushed(ngx_http_request_t *r, ngx_http_oauth2_provider_t *p,
    ngx_http_oauth2_par_t *par)
{
    int64_t                      expires;
    yajl_val                     doc;
    ngx_str_t                    request_uri, error, url, client_id;
    const char                  *err;
    ngx_http_oauth2_param_t      params[3];
    ngx_http_oauth2_fetch_t     *f;
    ngx_http_oauth2_metadata_t  *md;

    f = par->fetch;

    if (f->rc != NGX_OK) {
        ngx_http_oauth2_provider_failed(f, r->connection->log, NULL, "");
        return ngx_http_oauth2_fail(r, NGX_HTTP_OAUTH2_ERR_UNREACHABLE, NULL);
    }

    doc = ngx_http_oauth2_json_parse(r->pool, f->response.data,
                                     f->response.len, &err);

    if (f->status != 201 && f->status != 200) {
        ngx_str_set(&error, "");

        if (doc != NULL
            && ngx_http_oauth2_json_string(doc, "error", &error) == NGX_OK)
        {
            ngx_http_oauth2_error_code(&error);
        }

        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oauth2 provider \"%V\": pushed authorization request "
                      "to \"%V\" failed: HTTP status %ui%s%V%s",
                      &p->name, &f->url, f->status,
                      error.len ? " \"" : "", &error, error.len ? "\"" : "");
        return ngx_http_oauth2_fail(r, NGX_HTTP_OAUTH2_ERR_FAILED, NULL);
    }

    err = NULL;

    if (doc == NULL || !YAJL_IS_OBJECT(doc)) {
        err = "the answer is not a JSON object";

    } else if (ngx_http_oauth2_json_string(doc, "request_uri", &request_uri)
               != NGX_OK
               || ngx_http_oauth2_request_uri_valid(&request_uri) != NGX_OK)
    {
        err = "no valid \"request_uri\" in the answer";

    } else if (ngx_http_oauth2_json_seconds(doc, "expires_in", 0, &expires)
               != NGX_OK
               || expires <= 0 || expires > 86400)
    {
        err = "no valid \"expires_in\" in the answer";
    }

    if (err != NULL) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oauth2 provider \"%V\": pushed authorization request "
                      "to \"%V\" failed: %s", &p->name, &f->url, err);
        return ngx_http_oauth2_fail(r, NGX_HTTP_OAUTH2_ERR_FAILED, NULL);
    }

    md = ngx_http_oauth2_provider_metadata(p);
    client_id = p->client_id;

    params[0].name = "client_id";
    params[0].value = &client_id;
    params[1].name = "request_uri";
    params[1].value = &request_uri;
    params[2].name = NULL;

    ngx_str_null(&error);

    if (ngx_http_oauth2_endpoint_url(r->pool, &md->authorization_endpoint,
                                     params, &error, &url)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "oauth2 provider \"%V\": redirecting to login with a "
                   "pushed request", &p->name);

    return ngx_http_oauth2_redirect(r, NGX_HTTP_MOVED_TEMPORARILY, &url);
}


/*
 * A request_uri goes into the browser's URL: a URN or an https URL
 * (RFC 9126, 2.2) of printable characters that need no quoting, of a
 * sane length.
 */

static ngx_int_t
ngx_http_oauth2_request_uri_valid(ngx_str_t *uri)
{
    u_char  *c;

    if (uri->len < sizeof("urn:x") - 1
        || uri->len > NGX_HTTP_OAUTH2_REQUEST_URI_MAX)
    {
        return NGX_ERROR;
    }

    if (ngx_strncasecmp(uri->data, (u_char *) "urn:", 4) != 0
        && (uri->len <= sizeof("https://") - 1
            || ngx_strncasecmp(uri->data, (u_char *) "https://", 8) != 0))
    {
        return NGX_ERROR;
    }

    for (c = uri->data; c < uri->data + uri->len; c++) {
        if (*c == '\0'
            || !(isalnum(*c) || ngx_strchr("-._~:/?#[]@!$&'()*+,;=%", *c)))
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * One state cookie per login in flight lets several tabs log in at once;
 * the oldest are dropped so that at most NGX_HTTP_OAUTH2_MAX_STATES stay.
 */

static ngx_int_t
ngx_http_oauth2_limit_states(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf, ngx_http_oauth2_provider_t *p)
{
    ngx_str_t                      empty;
    ngx_uint_t                     i, j, oldest;
    ngx_http_oauth2_state_ref_t   *ref;
    ngx_http_oauth2_state_scan_t   scan;

    scan.olcf = olcf;
    scan.provider = p;

    if (ngx_array_init(&scan.states, r->pool, 4,
                       sizeof(ngx_http_oauth2_state_ref_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_oauth2_cookie_each(r, &p->state_cookie_name,
                                    ngx_http_oauth2_scan_state, &scan)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_str_null(&empty);
    ref = scan.states.elts;

    for (i = 0; i < scan.states.nelts; i++) {
        if (ref[i].created != 0) {
            continue;
        }

        /* expired or unreadable: delete */

        if (ngx_http_oauth2_cookie_set(r, &ref[i].name, &empty, 0,
                                       ngx_http_oauth2_state_cookie_flags(
                                           r, olcf, p),
                                       &olcf->cookie_domain)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        ref[i].created = NGX_MAX_TIME_T_VALUE;
    }

    for ( ;; ) {
        j = 0;

        for (i = 0; i < scan.states.nelts; i++) {
            if (ref[i].created != NGX_MAX_TIME_T_VALUE) {
                j++;
            }
        }

        if (j < NGX_HTTP_OAUTH2_MAX_STATES) {
            return NGX_OK;
        }

        oldest = 0;

        for (i = 1; i < scan.states.nelts; i++) {
            if (ref[i].created < ref[oldest].created) {
                oldest = i;
            }
        }

        if (ngx_http_oauth2_cookie_set(r, &ref[oldest].name, &empty, 0,
                                       ngx_http_oauth2_state_cookie_flags(
                                           r, olcf, p),
                                       &olcf->cookie_domain)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        ref[oldest].created = NGX_MAX_TIME_T_VALUE;
    }
}


static ngx_int_t
ngx_http_oauth2_scan_state(ngx_http_request_t *r, ngx_str_t *name,
    ngx_str_t *value, void *data)
{
    ngx_http_oauth2_state_scan_t *scan = data;

    ngx_str_t                       plain;
    ngx_uint_t                      index;
    ngx_http_oauth2_state_ref_t    *ref;
    ngx_http_oauth2_login_state_t   st;

    ref = ngx_array_push(&scan->states);
    if (ref == NULL) {
        return NGX_ERROR;
    }

    ref->name = *name;
    ref->created = 0;

    if (ngx_http_oauth2_open(r->pool, scan->olcf->keys,
                             NGX_HTTP_OAUTH2_SEAL_STATE, name, value, &plain,
                             &index)
        == NGX_OK
        && ngx_http_oauth2_state_decode(r->pool, &plain, &st) == NGX_OK
        && st.created + NGX_HTTP_OAUTH2_STATE_TTL > ngx_time())
    {
        ref->created = st.created;
    }

    return NGX_OK;
}


/* the redirect_uri sent to the provider: as configured, or the configured
 * path on the host this request was sent to */

ngx_int_t
ngx_http_oauth2_redirect_uri(ngx_http_request_t *r,
    ngx_http_oauth2_provider_t *p, ngx_str_t *uri)
{
    if (p->redirect_uri.data[0] != '/') {
        *uri = p->redirect_uri;
        return NGX_OK;
    }

    return ngx_http_oauth2_absolute_url(r, &p->redirect_uri, uri);
}


/*
 * The attributes of a provider's state cookies: with form_post the
 * provider's answer is a cross-site POST, on which a browser sends only
 * SameSite=None cookies (and those only when Secure)
 */

ngx_uint_t
ngx_http_oauth2_state_cookie_flags(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf, ngx_http_oauth2_provider_t *p)
{
    ngx_uint_t  flags;

    flags = ngx_http_oauth2_secure(r, olcf) ? NGX_HTTP_OAUTH2_COOKIE_SECURE
                                            : 0;

    if (p->response_mode == NGX_HTTP_OAUTH2_RESPONSE_FORM) {
        flags |= NGX_HTTP_OAUTH2_COOKIE_CROSS_SITE;
    }

    return flags;
}


/* 32 random bytes, base64url: state, nonce and PKCE code_verifier */

static ngx_int_t
ngx_http_oauth2_random(ngx_pool_t *pool, ngx_str_t *out)
{
    u_char     buf[NGX_HTTP_OAUTH2_RANDOM_LEN];
    ngx_str_t  src;

    if (RAND_bytes(buf, sizeof(buf)) != 1) {
        return NGX_ERROR;
    }

    src.len = sizeof(buf);
    src.data = buf;

    out->data = ngx_pnalloc(pool, ngx_base64_encoded_length(sizeof(buf)));
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    ngx_encode_base64url(out, &src);

    return NGX_OK;
}


static ngx_int_t
ngx_http_oauth2_pkce_challenge(ngx_pool_t *pool, ngx_str_t *verifier,
    ngx_str_t *challenge)
{
    u_char        md[EVP_MAX_MD_SIZE];
    ngx_str_t     src;
    unsigned int  n;

    if (EVP_Digest(verifier->data, verifier->len, md, &n, EVP_sha256(), NULL)
        != 1)
    {
        return NGX_ERROR;
    }

    src.len = n;
    src.data = md;

    challenge->data = ngx_pnalloc(pool, ngx_base64_encoded_length(n));
    if (challenge->data == NULL) {
        return NGX_ERROR;
    }

    ngx_encode_base64url(challenge, &src);

    return NGX_OK;
}


ngx_int_t
ngx_http_oauth2_state_cookie_name(ngx_pool_t *pool,
    ngx_http_oauth2_provider_t *p, ngx_str_t *state, ngx_str_t *name)
{
    u_char  *s;

    if (state->len < NGX_HTTP_OAUTH2_STATE_NAME_LEN) {
        return NGX_ERROR;
    }

    name->len = p->state_cookie_name.len + NGX_HTTP_OAUTH2_STATE_NAME_LEN;
    name->data = ngx_pnalloc(pool, name->len);
    if (name->data == NULL) {
        return NGX_ERROR;
    }

    s = ngx_cpymem(name->data, p->state_cookie_name.data,
                   p->state_cookie_name.len);
    ngx_memcpy(s, state->data, NGX_HTTP_OAUTH2_STATE_NAME_LEN);

    return NGX_OK;
}
