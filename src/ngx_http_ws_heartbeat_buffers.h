
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 *
 * What the module knows of nginx's upgrade buffers (those of
 * ngx_http_upstream_process_upgraded()): the bytes they hold for a peer,
 * and a frame appended to them.  For liveness (pings) and close (close
 * frames) only.
 */


#ifndef _NGX_HTTP_WS_HEARTBEAT_BUFFERS_H_INCLUDED_
#define _NGX_HTTP_WS_HEARTBEAT_BUFFERS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_ws_heartbeat_session.h"


/* the bytes that nginx holds for peer i, not sent yet */

static ngx_inline size_t
ngx_http_ws_heartbeat_pending_to(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_uint_t i)
{
    ngx_http_request_t   *r;
    ngx_http_upstream_t  *u;

    r = ngx_http_ws_heartbeat_request(ctx);
    u = r->upstream;

    if (i == NGX_HTTP_WSHB_CLIENT) {
        return u->buffer.last - u->buffer.pos;
    }

    return (u->from_client.last - u->from_client.pos)
           + (r->header_in->last - r->header_in->pos);
}


/* nginx's buffer that carries bytes to peer i, if we may append to it */

static ngx_inline ngx_buf_t *
ngx_http_ws_heartbeat_buffer_to(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_uint_t i)
{
    ngx_http_request_t   *r;
    ngx_http_upstream_t  *u;

    r = ngx_http_ws_heartbeat_request(ctx);
    u = r->upstream;

    if (i == NGX_HTTP_WSHB_CLIENT) {
        return u->buffer.start ? &u->buffer : NULL;
    }

    if (r->header_in->last > r->header_in->pos
        || u->from_client.start == NULL)
    {
        return NULL;
    }

    return &u->from_client;
}


/*
 * Appends a frame to the bytes nginx is about to send to peer i, if the
 * stream to it is at a frame boundary and there is room; nginx's write
 * handler then sends it as any other byte.
 */

static ngx_inline ngx_int_t
ngx_http_ws_heartbeat_append(ngx_http_ws_heartbeat_ctx_t *ctx, ngx_uint_t i,
    u_char *frame, size_t len)
{
    ngx_buf_t  *b;

    if (!ngx_http_ws_heartbeat_at_boundary(&ctx->peer[i ^ 1].parser)) {
        return NGX_DECLINED;
    }

    b = ngx_http_ws_heartbeat_buffer_to(ctx, i);

    if (b == NULL || (size_t) (b->end - b->last) < len) {
        return NGX_DECLINED;
    }

    b->last = ngx_cpymem(b->last, frame, len);
    ctx->peer[i].adjust += len;

    return NGX_OK;
}


#endif /* _NGX_HTTP_WS_HEARTBEAT_BUFFERS_H_INCLUDED_ */
