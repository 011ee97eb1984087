
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * One slab pool; its entries are in one red-black tree by key and in one
 * of two queues, newest first: the short-lived ones (refreshes, logout
 * token jtis: a few seconds to a few minutes) and the revocations (as
 * long as a session may last).  Every operation takes the slab pool's
 * mutex, first drops a few expired entries from the old ends of the
 * queues, and treats an expired entry it meets as absent.  When the pool
 * is full, the oldest short-lived entries are dropped to make room, then,
 * with a warning, the oldest revocations.
 *
 * The number of revocations is kept in the zone as well, so that the
 * check every request with a session makes costs one memory read while
 * there is none.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <openssl/evp.h>

#include "ngx_http_oauth2_module.h"
#include "ngx_http_oauth2_shm.h"


#define NGX_HTTP_OAUTH2_SHM_EXPIRE_STEP    8
#define NGX_HTTP_OAUTH2_SHM_EVICT_MAX      64


typedef struct {
    ngx_rbtree_node_t                node;     /* key: the key's start */
    ngx_queue_t                      queue;
    u_char                           key[NGX_HTTP_OAUTH2_SHM_KEY_LEN];
    u_char                           kind;
    u_char                           state;
    uint32_t                         len;      /* of data */
    time_t                           time;     /* recorded */
    time_t                           expires;
    u_char                          *data;     /* refresh result */
} ngx_http_oauth2_shm_node_t;


typedef struct {
    ngx_rbtree_t                     rbtree;
    ngx_rbtree_node_t                sentinel;
    ngx_queue_t                      transient;    /* refreshes, jtis */
    ngx_queue_t                      revocations;
    ngx_atomic_t                     nrevocations;
} ngx_http_oauth2_shm_sh_t;


typedef struct {
    ngx_http_oauth2_shm_sh_t        *sh;
    ngx_slab_pool_t                 *shpool;
} ngx_http_oauth2_shm_ctx_t;


static ngx_int_t ngx_http_oauth2_shm_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void ngx_http_oauth2_shm_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static ngx_http_oauth2_shm_node_t *ngx_http_oauth2_shm_lookup(
    ngx_http_oauth2_shm_ctx_t *ctx, u_char *key, time_t now);
static ngx_http_oauth2_shm_node_t *ngx_http_oauth2_shm_create(
    ngx_http_oauth2_shm_ctx_t *ctx, u_char *key, ngx_uint_t kind);
static void *ngx_http_oauth2_shm_alloc(ngx_http_oauth2_shm_ctx_t *ctx,
    size_t size);
static void ngx_http_oauth2_shm_free(ngx_http_oauth2_shm_ctx_t *ctx,
    ngx_http_oauth2_shm_node_t *e);
static void ngx_http_oauth2_shm_expire(ngx_http_oauth2_shm_ctx_t *ctx,
    time_t now);
static ngx_uint_t ngx_http_oauth2_shm_is_revocation(ngx_uint_t kind);


static ngx_str_t  ngx_http_oauth2_shm_name =
    ngx_string("ngx_http_oauth2_module");


ngx_int_t
ngx_http_oauth2_shm_add(ngx_conf_t *cf, ngx_http_oauth2_main_conf_t *omcf)
{
    ngx_http_oauth2_shm_ctx_t  *ctx;

    if (omcf->zone_size < 8 * ngx_pagesize) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"oauth2_zone_size\" of %uz bytes is too small, "
                           "at least %uz are needed", omcf->zone_size,
                           8 * ngx_pagesize);
        return NGX_ERROR;
    }

    ctx = ngx_pcalloc(cf->pool, sizeof(ngx_http_oauth2_shm_ctx_t));
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    omcf->zone = ngx_shared_memory_add(cf, &ngx_http_oauth2_shm_name,
                                       omcf->zone_size,
                                       &ngx_http_oauth2_module);
    if (omcf->zone == NULL) {
        return NGX_ERROR;
    }

    if (omcf->zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "the shared memory zone \"%V\" is already in use",
                           &ngx_http_oauth2_shm_name);
        return NGX_ERROR;
    }

    omcf->zone->init = ngx_http_oauth2_shm_init_zone;
    omcf->zone->data = ctx;

    return NGX_OK;
}


static ngx_int_t
ngx_http_oauth2_shm_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_oauth2_shm_ctx_t  *octx = data;

    size_t                      len;
    ngx_http_oauth2_shm_ctx_t  *ctx;

    ctx = shm_zone->data;

    if (octx) {
        /* a reload with a zone of the same size: keep what it holds */
        ctx->sh = octx->sh;
        ctx->shpool = octx->shpool;
        return NGX_OK;
    }

    ctx->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        ctx->sh = ctx->shpool->data;
        return NGX_OK;
    }

    ctx->sh = ngx_slab_alloc(ctx->shpool, sizeof(ngx_http_oauth2_shm_sh_t));
    if (ctx->sh == NULL) {
        return NGX_ERROR;
    }

    ctx->shpool->data = ctx->sh;

    ngx_rbtree_init(&ctx->sh->rbtree, &ctx->sh->sentinel,
                    ngx_http_oauth2_shm_insert_value);
    ngx_queue_init(&ctx->sh->transient);
    ngx_queue_init(&ctx->sh->revocations);
    ctx->sh->nrevocations = 0;

    len = sizeof(" in oauth2 zone \"\"") + shm_zone->shm.name.len;

    ctx->shpool->log_ctx = ngx_slab_alloc(ctx->shpool, len);
    if (ctx->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(ctx->shpool->log_ctx, " in oauth2 zone \"%V\"%Z",
                &shm_zone->shm.name);

    /* a full zone is handled here, by dropping entries */
    ctx->shpool->log_nomem = 0;

    return NGX_OK;
}


ngx_int_t
ngx_http_oauth2_shm_key(ngx_uint_t kind, ngx_str_t *provider,
    ngx_str_t *value, u_char *key)
{
    u_char        c, md[EVP_MAX_MD_SIZE];
    ngx_int_t     rc;
    EVP_MD_CTX   *mdctx;
    unsigned int  n;

    mdctx = EVP_MD_CTX_new();
    if (mdctx == NULL) {
        return NGX_ERROR;
    }

    c = (u_char) kind;
    rc = NGX_ERROR;

    /* provider names have no NUL: kind, name, NUL, value is unambiguous */

    if (EVP_DigestInit_ex(mdctx, EVP_sha256(), NULL) == 1
        && EVP_DigestUpdate(mdctx, &c, 1) == 1
        && EVP_DigestUpdate(mdctx, provider->data, provider->len) == 1
        && EVP_DigestUpdate(mdctx, "", 1) == 1
        && EVP_DigestUpdate(mdctx, value->data, value->len) == 1
        && EVP_DigestFinal_ex(mdctx, md, &n) == 1
        && n >= NGX_HTTP_OAUTH2_SHM_KEY_LEN)
    {
        ngx_memcpy(key, md, NGX_HTTP_OAUTH2_SHM_KEY_LEN);
        rc = NGX_OK;
    }

    EVP_MD_CTX_free(mdctx);

    return rc;
}


ngx_uint_t
ngx_http_oauth2_shm_refresh_get(ngx_shm_zone_t *zone, u_char *key,
    time_t ttl, ngx_pool_t *pool, ngx_str_t *result)
{
    time_t                       now;
    ngx_uint_t                   state;
    ngx_http_oauth2_shm_ctx_t   *ctx;
    ngx_http_oauth2_shm_node_t  *e;

    ngx_str_null(result);

    if (zone == NULL) {
        return NGX_HTTP_OAUTH2_SHM_NONE;
    }

    ctx = zone->data;
    now = ngx_time();

    ngx_shmtx_lock(&ctx->shpool->mutex);

    ngx_http_oauth2_shm_expire(ctx, now);

    e = ngx_http_oauth2_shm_lookup(ctx, key, now);

    if (e == NULL) {
        e = ngx_http_oauth2_shm_create(ctx, key, NGX_HTTP_OAUTH2_SHM_REFRESH);

        if (e != NULL) {
            e->state = NGX_HTTP_OAUTH2_SHM_RUNNING;
            e->time = now;
            e->expires = now + ttl;
        }

        /* without room in the zone the caller runs it all the same */

        ngx_shmtx_unlock(&ctx->shpool->mutex);

        return NGX_HTTP_OAUTH2_SHM_NONE;
    }

    state = e->state;

    if (state == NGX_HTTP_OAUTH2_SHM_DONE) {
        result->data = ngx_pnalloc(pool, e->len);

        if (result->data == NULL) {
            state = NGX_HTTP_OAUTH2_SHM_LOST;

        } else {
            ngx_memcpy(result->data, e->data, e->len);
            result->len = e->len;
        }
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    return state;
}


void
ngx_http_oauth2_shm_refresh_set(ngx_shm_zone_t *zone, u_char *key,
    ngx_uint_t state, ngx_str_t *result, time_t ttl)
{
    time_t                       now;
    ngx_http_oauth2_shm_ctx_t   *ctx;
    ngx_http_oauth2_shm_node_t  *e;

    if (zone == NULL) {
        return;
    }

    ctx = zone->data;
    now = ngx_time();

    ngx_shmtx_lock(&ctx->shpool->mutex);

    e = ngx_http_oauth2_shm_lookup(ctx, key, now);

    if (state == NGX_HTTP_OAUTH2_SHM_NONE) {
        if (e != NULL) {
            ngx_http_oauth2_shm_free(ctx, e);
        }

        goto done;
    }

    if (e == NULL) {
        /* dropped meanwhile to make room: record the outcome anyway */

        e = ngx_http_oauth2_shm_create(ctx, key, NGX_HTTP_OAUTH2_SHM_REFRESH);
        if (e == NULL) {
            goto done;
        }

        e->time = now;
    }

    /* out of the queue while room is made for the result: not dropped */

    ngx_queue_remove(&e->queue);

    if (e->data) {
        ngx_explicit_memzero(e->data, e->len);
        ngx_slab_free_locked(ctx->shpool, e->data);
        e->data = NULL;
        e->len = 0;
    }

    e->state = (u_char) state;
    e->expires = now + ttl;

    if (state == NGX_HTTP_OAUTH2_SHM_DONE) {

        if (result->len > NGX_HTTP_OAUTH2_SHM_MAX_RESULT) {
            e->state = NGX_HTTP_OAUTH2_SHM_LOST;

        } else {
            e->data = ngx_http_oauth2_shm_alloc(ctx, result->len);

            if (e->data == NULL) {
                e->state = NGX_HTTP_OAUTH2_SHM_LOST;

            } else {
                ngx_memcpy(e->data, result->data, result->len);
                e->len = (uint32_t) result->len;
            }
        }
    }

    /* it expires later than it did: to the new end of the queue */

    ngx_queue_insert_head(&ctx->sh->transient, &e->queue);

done:

    ngx_shmtx_unlock(&ctx->shpool->mutex);
}


ngx_int_t
ngx_http_oauth2_shm_logout(ngx_shm_zone_t *zone, u_char *jti,
    time_t jti_expires, u_char (*keys)[NGX_HTTP_OAUTH2_SHM_KEY_LEN],
    u_char *kinds, ngx_uint_t n, time_t rev_expires)
{
    time_t                       now;
    ngx_int_t                    rc;
    ngx_uint_t                   i;
    ngx_http_oauth2_shm_ctx_t   *ctx;
    ngx_http_oauth2_shm_node_t  *e;

    if (zone == NULL) {
        return NGX_ERROR;
    }

    ctx = zone->data;
    now = ngx_time();
    rc = NGX_OK;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    ngx_http_oauth2_shm_expire(ctx, now);

    if (ngx_http_oauth2_shm_lookup(ctx, jti, now) != NULL) {
        rc = NGX_DECLINED;
        goto done;
    }

    for (i = 0; i < n; i++) {
        e = ngx_http_oauth2_shm_lookup(ctx, keys[i], now);

        if (e == NULL) {
            e = ngx_http_oauth2_shm_create(ctx, keys[i], kinds[i]);
            if (e == NULL) {
                rc = NGX_ERROR;
                goto done;
            }
        }

        /* a later logout of the same user covers later sessions */

        e->time = now;

        if (e->expires < rev_expires) {
            e->expires = rev_expires;
            ngx_queue_remove(&e->queue);
            ngx_queue_insert_head(&ctx->sh->revocations, &e->queue);
        }
    }

    /* the jti last: a logout that could not be recorded may be retried */

    e = ngx_http_oauth2_shm_create(ctx, jti, NGX_HTTP_OAUTH2_SHM_JTI);

    if (e != NULL) {
        e->time = now;
        e->expires = jti_expires;
    }

done:

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    return rc;
}


size_t
ngx_http_oauth2_shm_used(ngx_shm_zone_t *zone)
{
    size_t                      free;
    ngx_http_oauth2_shm_ctx_t  *ctx;

    ctx = zone->data;

    ngx_shmtx_lock(&ctx->shpool->mutex);
    free = ctx->shpool->pfree * ngx_pagesize;
    ngx_shmtx_unlock(&ctx->shpool->mutex);

    return (zone->shm.size > free) ? zone->shm.size - free : 0;
}


ngx_uint_t
ngx_http_oauth2_shm_revocations(ngx_shm_zone_t *zone)
{
    ngx_http_oauth2_shm_ctx_t  *ctx;

    if (zone == NULL) {
        return 0;
    }

    ctx = zone->data;

    return (ngx_uint_t) ctx->sh->nrevocations;
}


ngx_uint_t
ngx_http_oauth2_shm_revoked(ngx_shm_zone_t *zone,
    ngx_http_oauth2_shm_check_t *checks, ngx_uint_t n)
{
    time_t                       now;
    ngx_uint_t                   i, revoked;
    ngx_http_oauth2_shm_ctx_t   *ctx;
    ngx_http_oauth2_shm_node_t  *e;

    ctx = zone->data;
    now = ngx_time();
    revoked = 0;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    for (i = 0; i < n; i++) {
        e = ngx_http_oauth2_shm_lookup(ctx, checks[i].key, now);

        if (e != NULL && e->time > checks[i].created) {
            revoked = 1;
            break;
        }
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    return revoked;
}


static void
ngx_http_oauth2_shm_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t           **p;
    ngx_http_oauth2_shm_node_t   *e, *t;

    for ( ;; ) {

        if (node->key < temp->key) {
            p = &temp->left;

        } else if (node->key > temp->key) {
            p = &temp->right;

        } else {
            e = (ngx_http_oauth2_shm_node_t *) node;
            t = (ngx_http_oauth2_shm_node_t *) temp;

            p = (ngx_memcmp(e->key, t->key, NGX_HTTP_OAUTH2_SHM_KEY_LEN) < 0)
                ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


/* under the lock; an expired entry is freed and not found */

static ngx_http_oauth2_shm_node_t *
ngx_http_oauth2_shm_lookup(ngx_http_oauth2_shm_ctx_t *ctx, u_char *key,
    time_t now)
{
    ngx_int_t                    rc;
    ngx_rbtree_key_t             hash;
    ngx_rbtree_node_t           *node, *sentinel;
    ngx_http_oauth2_shm_node_t  *e;

    ngx_memcpy(&hash, key, sizeof(ngx_rbtree_key_t));

    node = ctx->sh->rbtree.root;
    sentinel = ctx->sh->rbtree.sentinel;

    while (node != sentinel) {

        if (hash < node->key) {
            node = node->left;
            continue;
        }

        if (hash > node->key) {
            node = node->right;
            continue;
        }

        e = (ngx_http_oauth2_shm_node_t *) node;

        rc = ngx_memcmp(key, e->key, NGX_HTTP_OAUTH2_SHM_KEY_LEN);

        if (rc == 0) {
            if (e->expires <= now) {
                ngx_http_oauth2_shm_free(ctx, e);
                return NULL;
            }

            return e;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


static ngx_http_oauth2_shm_node_t *
ngx_http_oauth2_shm_create(ngx_http_oauth2_shm_ctx_t *ctx, u_char *key,
    ngx_uint_t kind)
{
    ngx_http_oauth2_shm_node_t  *e;

    e = ngx_http_oauth2_shm_alloc(ctx, sizeof(ngx_http_oauth2_shm_node_t));
    if (e == NULL) {
        return NULL;
    }

    ngx_memzero(e, sizeof(ngx_http_oauth2_shm_node_t));

    ngx_memcpy(e->key, key, NGX_HTTP_OAUTH2_SHM_KEY_LEN);
    ngx_memcpy(&e->node.key, key, sizeof(ngx_rbtree_key_t));
    e->kind = (u_char) kind;

    ngx_rbtree_insert(&ctx->sh->rbtree, &e->node);

    if (ngx_http_oauth2_shm_is_revocation(kind)) {
        ngx_queue_insert_head(&ctx->sh->revocations, &e->queue);
        ctx->sh->nrevocations++;

    } else {
        ngx_queue_insert_head(&ctx->sh->transient, &e->queue);
    }

    return e;
}


/* under the lock: allocates, dropping the oldest entries to make room */

static void *
ngx_http_oauth2_shm_alloc(ngx_http_oauth2_shm_ctx_t *ctx, size_t size)
{
    void                        *p;
    ngx_uint_t                   i;
    ngx_queue_t                 *q;
    ngx_http_oauth2_shm_node_t  *e;

    for (i = 0; i < NGX_HTTP_OAUTH2_SHM_EVICT_MAX; i++) {

        p = ngx_slab_alloc_locked(ctx->shpool, size);
        if (p != NULL) {
            return p;
        }

        if (!ngx_queue_empty(&ctx->sh->transient)) {
            q = ngx_queue_last(&ctx->sh->transient);

        } else if (!ngx_queue_empty(&ctx->sh->revocations)) {
            q = ngx_queue_last(&ctx->sh->revocations);

            ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                          "oauth2: the shared zone is full, a back-channel "
                          "logout is forgotten early; increase "
                          "\"oauth2_zone_size\"");

        } else {
            break;
        }

        e = ngx_queue_data(q, ngx_http_oauth2_shm_node_t, queue);

        ngx_http_oauth2_shm_free(ctx, e);
    }

    ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                  "oauth2: no room in the shared zone for %uz bytes; "
                  "increase \"oauth2_zone_size\"", size);

    return NULL;
}


static void
ngx_http_oauth2_shm_free(ngx_http_oauth2_shm_ctx_t *ctx,
    ngx_http_oauth2_shm_node_t *e)
{
    ngx_queue_remove(&e->queue);
    ngx_rbtree_delete(&ctx->sh->rbtree, &e->node);

    if (ngx_http_oauth2_shm_is_revocation(e->kind)) {
        ctx->sh->nrevocations--;
    }

    if (e->data) {
        ngx_explicit_memzero(e->data, e->len);
        ngx_slab_free_locked(ctx->shpool, e->data);
    }

    ngx_slab_free_locked(ctx->shpool, e);
}


/* drops a few expired entries from the old ends of the queues */

static void
ngx_http_oauth2_shm_expire(ngx_http_oauth2_shm_ctx_t *ctx, time_t now)
{
    ngx_uint_t                   i, n;
    ngx_queue_t                 *queues[2], *q;
    ngx_http_oauth2_shm_node_t  *e;

    queues[0] = &ctx->sh->transient;
    queues[1] = &ctx->sh->revocations;

    for (i = 0; i < 2; i++) {

        for (n = 0; n < NGX_HTTP_OAUTH2_SHM_EXPIRE_STEP; n++) {

            if (ngx_queue_empty(queues[i])) {
                break;
            }

            q = ngx_queue_last(queues[i]);
            e = ngx_queue_data(q, ngx_http_oauth2_shm_node_t, queue);

            if (e->expires > now) {
                break;
            }

            ngx_http_oauth2_shm_free(ctx, e);
        }
    }
}


static ngx_uint_t
ngx_http_oauth2_shm_is_revocation(ngx_uint_t kind)
{
    return kind == NGX_HTTP_OAUTH2_SHM_REVOKE_SID
           || kind == NGX_HTTP_OAUTH2_SHM_REVOKE_SUB
           || kind == NGX_HTTP_OAUTH2_SHM_REVOKE_NOSID;
}
