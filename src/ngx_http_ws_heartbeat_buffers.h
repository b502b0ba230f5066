
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 *
 * What the module knows of nginx's upgrade buffers (those of
 * ngx_http_upstream_process_upgraded()): the bytes that came with the
 * handshake, for session; the bytes they hold for a peer, and a frame
 * appended to them, for liveness (pings) and close (close frames).  The
 * recv wrappers read only the buffer that nginx hands them.
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


/*
 * The bytes from peer i that came with the handshake, which never pass
 * through recv: the upstream's after its 101, in the upstream buffer; the
 * client's after its request, pipelined, in header_in
 */

static ngx_inline void
ngx_http_ws_heartbeat_handshake_bytes(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_uint_t i, ngx_str_t *bytes)
{
    ngx_buf_t           *b;
    ngx_http_request_t  *r;

    r = ngx_http_ws_heartbeat_request(ctx);

    b = (i == NGX_HTTP_WSHB_UPSTREAM) ? &r->upstream->buffer : r->header_in;

    if (b == NULL || b->pos == NULL || b->last <= b->pos) {
        ngx_str_null(bytes);
        return;
    }

    bytes->data = b->pos;
    bytes->len = b->last - b->pos;
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
