
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * logout_uri: the session and state cookies are deleted, the tokens are
 * revoked at the provider if asked (RFC 7009, without making the user
 * wait), and the browser goes to the provider's end_session_endpoint
 * (OpenID Connect RP-Initiated Logout 1.0) when it has one, else to
 * post_logout_uri.
 *
 * Another site must not be able to log the user out: a request that a
 * browser marks as cross-site (Sec-Fetch-Site, else Origin or Referer)
 * gets a page with a button instead, whose same-origin POST logs out.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_module.h"
#include "ngx_http_oauth2_metrics.h"
#include "ngx_http_oauth2_codec.h"
#include "ngx_http_oauth2_cookie.h"
#include "ngx_http_oauth2_http.h"
#include "ngx_http_oauth2_logout.h"
#include "ngx_http_oauth2_park.h"
#include "ngx_http_oauth2_provider.h"
#include "ngx_http_oauth2_reply.h"
#include "ngx_http_oauth2_request.h"
#include "ngx_http_oauth2_seal.h"
#include "ngx_http_oauth2_session.h"
#include "ngx_http_oauth2_store.h"
#include "ngx_http_oauth2_token.h"


static ngx_uint_t ngx_http_oauth2_same_origin(ngx_http_request_t *r);
static ngx_table_elt_t *ngx_http_oauth2_header(ngx_http_request_t *r,
    const char *name);
static ngx_int_t ngx_http_oauth2_logout_confirm(ngx_http_request_t *r);
static ngx_int_t ngx_http_oauth2_delete_state(ngx_http_request_t *r,
    ngx_str_t *name, ngx_str_t *value, void *data);
static void ngx_http_oauth2_revoke(ngx_http_request_t *r,
    ngx_http_oauth2_provider_t *p, ngx_str_t *url, ngx_str_t *token,
    const char *hint);
static void ngx_http_oauth2_revoke_done(ngx_http_oauth2_fetch_t *f);


typedef struct {
    ngx_http_oauth2_loc_conf_t     *olcf;
} ngx_http_oauth2_logout_ctx_t;


ngx_int_t
ngx_http_oauth2_logout(ngx_http_request_t *r,
    ngx_http_oauth2_loc_conf_t *olcf, ngx_http_oauth2_provider_t *p)
{
    ngx_http_oauth2_param_t        params[4];
    ngx_int_t                      rc;
    ngx_str_t                      value, plain, empty, location;
    ngx_str_t                      post_logout, client_id, hint;
    ngx_uint_t                     index, have_session;
    ngx_http_oauth2_session_t      session;
    ngx_http_oauth2_metadata_t    *md;
    ngx_http_oauth2_logout_ctx_t   lctx;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_POST))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    if (!ngx_http_oauth2_same_origin(r)
        || (r->method != NGX_HTTP_POST
            && ngx_http_oauth2_header(r, "Sec-Fetch-Site") == NULL
            && ngx_http_oauth2_header(r, "Origin") == NULL
            && ngx_http_oauth2_header(r, "Referer") == NULL))
    {
        return ngx_http_oauth2_logout_confirm(r);
    }

    /* the provider's metadata first: this may wait and run again, so
     * nothing is added to the response before it is there */

    md = NULL;

    if (p->oidc) {
        rc = ngx_http_oauth2_park_provider(r, p,
                                            NGX_HTTP_OAUTH2_NEED_METADATA);
        if (rc == NGX_AGAIN) {
            return NGX_AGAIN;
        }

        if (rc == NGX_OK) {
            md = ngx_http_oauth2_provider_metadata(p);
        }
    }

    if (ngx_http_oauth2_no_store(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    have_session = 0;
    ngx_memzero(&session, sizeof(ngx_http_oauth2_session_t));

    if (p->session_store == NGX_HTTP_OAUTH2_STORE_REDIS) {

        /* read by the access phase; deleted from Redis at once, so a
         * copy of the cookie opens nothing on any host */

        if (ngx_http_oauth2_store_open(r, p, &session) == NGX_OK) {
            have_session = 1;
        }

        ngx_http_oauth2_store_delete(r, olcf, p);

    } else if (ngx_http_oauth2_cookie_get(r, &p->cookie_name, &value, NULL)
                   == NGX_OK
               && ngx_http_oauth2_open(r->pool, olcf->keys,
                                       NGX_HTTP_OAUTH2_SEAL_SESSION,
                                       &p->cookie_name, &value, &plain,
                                       &index)
                  == NGX_OK
               && ngx_http_oauth2_session_decode(r->pool, &plain, &session)
                  == NGX_OK)
    {
        have_session = 1;
    }

    ngx_str_null(&empty);

    if (ngx_http_oauth2_cookie_set(r, &p->cookie_name, &empty, 0,
                                   ngx_http_oauth2_secure(r, olcf),
                                   &olcf->cookie_domain)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    lctx.olcf = olcf;

    if (ngx_http_oauth2_cookie_each(r, &p->state_cookie_name,
                                    ngx_http_oauth2_delete_state, &lctx)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (have_session) {
        ngx_http_oauth2_metrics_count(p, NGX_HTTP_OAUTH2_M_LOGOUT);
        ngx_http_oauth2_session_audit(r, p, &session.sub, "logged out");

        if (p->revoke && md != NULL && md->revocation_endpoint.len) {
            if (session.refresh_token.len) {
                ngx_http_oauth2_revoke(r, p, &md->revocation_endpoint,
                                       &session.refresh_token,
                                       "refresh_token");
            }

            if (session.access_token.len) {
                ngx_http_oauth2_revoke(r, p, &md->revocation_endpoint,
                                       &session.access_token,
                                       "access_token");
            }
        }
    }

    if (md == NULL || md->end_session_endpoint.len == 0) {
        location = p->post_logout_uri;
        return ngx_http_oauth2_redirect(r, NGX_HTTP_SEE_OTHER, &location);
    }

    /* RP-Initiated Logout 1.0 */

    rc = ngx_http_oauth2_absolute_url(r, &p->post_logout_uri, &post_logout);

    if (rc != NGX_OK) {
        return ngx_http_oauth2_host_failed(r, rc);
    }

    client_id = p->client_id;
    hint = have_session ? session.id_token : empty;

    params[0].name = "client_id";
    params[0].value = &client_id;
    params[1].name = "post_logout_redirect_uri";
    params[1].value = &post_logout;
    params[2].name = "id_token_hint";
    params[2].value = hint.len ? &hint : NULL;
    params[3].name = NULL;

    if (ngx_http_oauth2_endpoint_url(r->pool, &md->end_session_endpoint,
                                     params, &empty, &location)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_oauth2_redirect(r, NGX_HTTP_SEE_OTHER, &location);
}


/*
 * Same origin: Sec-Fetch-Site says so ("none" is a typed URL or a
 * bookmark); without it, Origin or Referer must name this host.  No
 * header at all (an old browser, a script) counts as same origin here;
 * the caller still asks such GETs to confirm.
 */

static ngx_uint_t
ngx_http_oauth2_same_origin(ngx_http_request_t *r)
{
    u_char           *p, *last;
    ngx_str_t         host;
    ngx_table_elt_t  *h;

    h = ngx_http_oauth2_header(r, "Sec-Fetch-Site");

    if (h != NULL) {
        return (h->value.len == sizeof("same-origin") - 1
                && ngx_strncasecmp(h->value.data, (u_char *) "same-origin",
                                   h->value.len) == 0)
               || (h->value.len == sizeof("none") - 1
                   && ngx_strncasecmp(h->value.data, (u_char *) "none",
                                      h->value.len) == 0);
    }

    h = ngx_http_oauth2_header(r, "Origin");

    if (h == NULL) {
        h = ngx_http_oauth2_header(r, "Referer");
    }

    if (h == NULL) {
        return 1;
    }

    if (r->headers_in.host == NULL) {
        return 0;
    }

    host = r->headers_in.host->value;

    p = h->value.data;
    last = p + h->value.len;

    if (last - p > 8 && ngx_strncasecmp(p, (u_char *) "https://", 8) == 0) {
        p += 8;

    } else if (last - p > 7
               && ngx_strncasecmp(p, (u_char *) "http://", 7) == 0)
    {
        p += 7;

    } else {
        return 0;
    }

    if ((size_t) (last - p) < host.len
        || ngx_strncasecmp(p, host.data, host.len) != 0)
    {
        return 0;
    }

    p += host.len;

    return p == last || *p == '/';
}


static ngx_table_elt_t *
ngx_http_oauth2_header(ngx_http_request_t *r, const char *name)
{
    size_t            len;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    len = ngx_strlen(name);
    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NULL;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == len
            && ngx_strncasecmp(h[i].key.data, (u_char *) name, len) == 0)
        {
            return &h[i];
        }
    }
}


static ngx_int_t
ngx_http_oauth2_logout_confirm(ngx_http_request_t *r)
{
    ngx_buf_t  *b;

    static u_char  page[] =
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
        "<title>Log out</title></head>\n<body><h1>Log out?</h1>\n"
        "<form method=\"post\"><button type=\"submit\">Log out</button>"
        "</form>\n</body></html>\n";

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = page;
    b->last = page + sizeof(page) - 1;
    b->memory = 1;

    return ngx_http_oauth2_send_html(r, NGX_HTTP_OK, b);
}


static ngx_int_t
ngx_http_oauth2_delete_state(ngx_http_request_t *r, ngx_str_t *name,
    ngx_str_t *value, void *data)
{
    ngx_http_oauth2_logout_ctx_t *lctx = data;

    ngx_str_t  empty;

    ngx_str_null(&empty);

    return ngx_http_oauth2_cookie_set(r, name, &empty, 0,
                                      ngx_http_oauth2_secure(r, lctx->olcf),
                                      &lctx->olcf->cookie_domain);
}


/*
 * RFC 7009 revocation, fire and forget: the fetch lives in its own pool,
 * so the user's logout does not wait for it and a failure costs one log
 * line.
 */

static void
ngx_http_oauth2_revoke(ngx_http_request_t *r, ngx_http_oauth2_provider_t *p,
    ngx_str_t *url, ngx_str_t *token, const char *hint)
{
    ngx_str_t                 type;
    ngx_pool_t               *pool;
    ngx_http_oauth2_param_t   params[3];
    ngx_http_oauth2_fetch_t  *f;

    pool = ngx_create_pool(1024, ngx_cycle->log);
    if (pool == NULL) {
        return;
    }

    f = ngx_http_oauth2_provider_fetch(pool, ngx_cycle->log, p,
                                       "revocation");
    if (f == NULL) {
        goto failed;
    }

    f->url = *url;
    f->handler = ngx_http_oauth2_revoke_done;
    f->data = pool;

    type.data = (u_char *) hint;
    type.len = ngx_strlen(hint);

    params[0].name = "token";
    params[0].value = token;
    params[1].name = "token_type_hint";
    params[1].value = &type;
    params[2].name = NULL;

    if (ngx_http_oauth2_client_request(pool, p, params, f) != NGX_OK) {
        goto failed;
    }

    if (ngx_http_oauth2_fetch_start(f) == NGX_OK) {
        return;
    }

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "oauth2 provider \"%V\": cannot start the revocation "
                  "request", &p->name);

failed:

    ngx_destroy_pool(pool);
}


static void
ngx_http_oauth2_revoke_done(ngx_http_oauth2_fetch_t *f)
{
    ngx_pool_t *pool = f->data;

    if (f->rc != NGX_OK || f->status != 200) {
        ngx_http_oauth2_provider_failed(f, ngx_cycle->log, NULL, "");
    }

    ngx_destroy_pool(pool);
}
