
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 *
 * The worker's session contexts.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_ws_heartbeat_session.h"


/*
 * The worker's contexts are one array, as its connections are: one for
 * each connection, as a session's context lives no longer than its
 * request, which holds a client connection.  The array is taken at the
 * first session and kept for the worker's life; the system backs its
 * pages only as contexts are used.  Free contexts are kept in a list
 * through ctx->hook.next, the last freed first; the sessions are walked
 * over the contexts used so far (ctx->active).  The timer heap names a
 * session by its place in the array.  From the request pool, a context
 * taken after the handshake would often start a new 4k pool block of its
 * own.
 */

static ngx_http_ws_heartbeat_ctx_t    *ngx_http_ws_heartbeat_ctxs;
static ngx_uint_t                      ngx_http_ws_heartbeat_nctx;
static ngx_uint_t                      ngx_http_ws_heartbeat_ctx_cap;
static ngx_http_ws_heartbeat_ctx_t    *ngx_http_ws_heartbeat_free;


ngx_http_ws_heartbeat_ctx_t *
ngx_http_ws_heartbeat_ctx_alloc(ngx_log_t *log)
{
    size_t                        n;
    ngx_http_ws_heartbeat_ctx_t  *ctx;

    if (ngx_http_ws_heartbeat_free) {
        ctx = ngx_http_ws_heartbeat_free;
        ngx_http_ws_heartbeat_free = ctx->hook.next;

    } else {

        if (ngx_http_ws_heartbeat_ctxs == NULL) {
            n = ngx_cycle->connection_n;

            ngx_http_ws_heartbeat_ctxs =
                          ngx_alloc(n * sizeof(ngx_http_ws_heartbeat_ctx_t),
                                    log);
            if (ngx_http_ws_heartbeat_ctxs == NULL) {
                return NULL;
            }

            /* a timer for every context */

            if (ngx_http_ws_heartbeat_timers_reserve(
                    &ngx_http_ws_heartbeat_ctxs[0].timer,
                    sizeof(ngx_http_ws_heartbeat_ctx_t), n, log)
                != NGX_OK)
            {
                ngx_free(ngx_http_ws_heartbeat_ctxs);
                ngx_http_ws_heartbeat_ctxs = NULL;
                return NULL;
            }

            ngx_http_ws_heartbeat_ctx_cap = n;
        }

        if (ngx_http_ws_heartbeat_nctx == ngx_http_ws_heartbeat_ctx_cap) {
            return NULL;
        }

        ctx = &ngx_http_ws_heartbeat_ctxs[ngx_http_ws_heartbeat_nctx++];
    }

    ngx_memzero(ctx, sizeof(ngx_http_ws_heartbeat_ctx_t));
    ctx->timer.index = NGX_HTTP_WSHB_NO_TIMER;

    return ctx;
}


/* a context back to the free list, once its request pool goes */

void
ngx_http_ws_heartbeat_ctx_free(ngx_http_ws_heartbeat_ctx_t *ctx)
{
    ctx->hook.next = ngx_http_ws_heartbeat_free;
    ngx_http_ws_heartbeat_free = ctx;
}


/*
 * At worker exit: nothing runs any session's code after exit_process, and
 * the module is unloaded right after, so its contexts must not outlive it.
 */

void
ngx_http_ws_heartbeat_ctx_done(void)
{
    if (ngx_http_ws_heartbeat_ctxs) {
        ngx_free(ngx_http_ws_heartbeat_ctxs);
    }

    ngx_http_ws_heartbeat_ctxs = NULL;
    ngx_http_ws_heartbeat_free = NULL;
    ngx_http_ws_heartbeat_nctx = 0;
    ngx_http_ws_heartbeat_ctx_cap = 0;
}


/* calls handler for every live session of the worker */

void
ngx_http_ws_heartbeat_each(ngx_http_ws_heartbeat_each_pt handler, void *data)
{
    ngx_uint_t  j;

    for (j = 0; j < ngx_http_ws_heartbeat_nctx; j++) {
        if (ngx_http_ws_heartbeat_ctxs[j].active) {
            handler(&ngx_http_ws_heartbeat_ctxs[j], data);
        }
    }
}
