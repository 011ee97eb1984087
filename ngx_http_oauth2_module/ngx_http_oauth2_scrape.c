
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * The location of "oauth2_metrics": a content handler that answers GET
 * and HEAD with the Prometheus text format of the module's counters
 * (ngx_http_oauth2_metrics.c) and the shared zone's use.  Who may scrape
 * it is the location's business (allow/deny, auth_basic).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oauth2_module.h"
#include "ngx_http_oauth2_metrics.h"
#include "ngx_http_oauth2_reply.h"
#include "ngx_http_oauth2_scrape.h"
#include "ngx_http_oauth2_shm.h"


static ngx_int_t ngx_http_oauth2_scrape_handler(ngx_http_request_t *r);


char *
ngx_http_oauth2_scrape_conf(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t     *clcf;
    ngx_http_oauth2_main_conf_t  *omcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler == ngx_http_oauth2_scrape_handler) {
        return "is duplicate";
    }

    clcf->handler = ngx_http_oauth2_scrape_handler;

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_oauth2_module);
    omcf->metrics_used = 1;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_oauth2_scrape_handler(ngx_http_request_t *r)
{
    size_t                        used, size;
    ngx_buf_t                    *b;
    ngx_str_t                    *reasons;
    ngx_uint_t                    n;
    ngx_http_oauth2_main_conf_t  *omcf;

    static ngx_str_t  type =
        ngx_string("text/plain; version=0.0.4; charset=utf-8");

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    omcf = ngx_http_get_module_main_conf(r, ngx_http_oauth2_module);

    if (omcf->metrics == NULL) {
        /* no provider is configured: nothing is counted */
        return NGX_HTTP_NOT_FOUND;
    }

    reasons = ngx_http_oauth2_error_reasons(r->pool, &n);
    if (reasons == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    used = 0;
    size = 0;

    if (omcf->zone != NULL) {
        used = ngx_http_oauth2_shm_used(omcf->zone);
        size = omcf->zone->shm.size;
    }

    b = ngx_http_oauth2_metrics_text(r->pool, omcf, reasons, n, used, size);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* ngx_http_oauth2_send() finalizes the request itself */

    r->main->count++;

    (void) ngx_http_oauth2_send(r, NGX_HTTP_OK, &type, b);

    return NGX_DONE;
}
