
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 *
 * One proxied WebSocket session: its types, and what
 * ngx_http_ws_heartbeat_ctx.c and ngx_http_ws_heartbeat_session.c offer.
 * The calls go one way: session (the hooks into nginx and the per-frame
 * path) -> liveness (pings, pongs, judgments; ..._liveness.h) -> close
 * (every end; ..._close.h) -> ctx, timer, zone (docs/layout.md).  What
 * they know of nginx's upgrade buffers is in ..._buffers.h.
 */


#ifndef _NGX_HTTP_WS_HEARTBEAT_SESSION_H_INCLUDED_
#define _NGX_HTTP_WS_HEARTBEAT_SESSION_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_ws_heartbeat_module.h"
#include "ngx_http_ws_heartbeat_timer.h"


/* our ping: unmasked to the client, masked to the upstream */
#define ngx_http_ws_heartbeat_ping_len(i)                                     \
    ((i) == NGX_HTTP_WSHB_CLIENT ? 2 + NGX_HTTP_WSHB_PAYLOAD_LEN             \
                                 : 6 + NGX_HTTP_WSHB_PAYLOAD_LEN)


typedef struct {
    ngx_recv_pt                       recv;        /* the one we wrapped */
    ngx_http_ws_heartbeat_parser_t    parser;      /* frames from the peer */

    uint64_t                          rx_bytes;    /* read from the peer */
    uint64_t                          adjust;      /* see ..._queued() */
    uint64_t                          ping_end;    /* queued, up to our ping */

    ngx_http_ws_heartbeat_msec_t      ping_time;  /* next ping: + interval */
    ngx_http_ws_heartbeat_msec_t      last_rx;    /* see ..._last_rx() */
    ngx_http_ws_heartbeat_msec_t      last_data;  /* of data, or start */
    ngx_http_ws_heartbeat_msec_t      last_pong;
    ngx_http_ws_heartbeat_msec_t      deadline;
    ngx_http_ws_heartbeat_msec_t      rtt;

    uint32_t                          pings;      /* our last one's number */
    uint32_t                          rx_mark;    /* rx_bytes at the ping,
                                                     cut to 32 bits */

    /*
     * The last look at the peer's TCP receive window (see
     * ngx_http_ws_heartbeat_reading() in ..._liveness.c): its right edge
     * and its size, cut to 32 bits, and the largest window seen.  Without
     * the window: the send queue and the bytes sent.
     */
    uint32_t                          edge;
    uint32_t                          wnd;
    uint32_t                          wnd_max;

    unsigned                          gone:1;     /* its stream ended */
    unsigned                          answer:1;   /* we sent it a close
                                                     frame: its own may
                                                     follow */
    unsigned                          looked:1;   /* edge and wnd are set */
    unsigned                          full:1;     /* at that look, the
                                                     window was closed or
                                                     below its largest:
                                                     unread data bound it */
    unsigned                          waits:2;    /* deadlines moved, no
                                                     window known */
    unsigned                          enabled:1;
    unsigned                          inject:1;   /* ping awaits a boundary */
    unsigned                          awaiting:1;
    unsigned                          rtt_set:1;
    unsigned                          drained:1;  /* pong to the last ping:
                                                     acknowledged up to
                                                     ping_end */
} ngx_http_ws_heartbeat_peer_t;


typedef struct {
    ngx_http_ws_heartbeat_peer_t      peer[2];

    /* the upstream's is the request's: see ngx_http_ws_heartbeat_connection */
    ngx_connection_t                 *client;

    /*
     * While the context is a session's, the upstream's finalize_request,
     * chained (the session ends with its connection); while it is free,
     * the next one of the worker's free contexts
     */
    union {
        void                        (*finalize)(ngx_http_request_t *r,
                                                ngx_int_t rc);
        void                         *next;
    }                                 hook;

    ngx_http_ws_heartbeat_timer_t     timer;

    ngx_http_ws_heartbeat_msec_t      start;
    ngx_http_ws_heartbeat_msec_t      end_at;     /* see ..._lifetime.c */

    uint32_t                          counter;    /* in the session id */
    uint32_t                          record;
    uint32_t                          key;        /* of a limit per key */

    unsigned                          reason:4;   /* NGX_HTTP_WSHB_*, < 16 */

    unsigned                          active:1;   /* a live session: both
                                                     connections ours */
    unsigned                          passthrough:1;
    unsigned                          closing:1;
    unsigned                          close_seen:1;
    unsigned                          draining:1;
    unsigned                          ending:1;
    unsigned                          cut:1;      /* a stream ended mid-
                                                     frame */
    unsigned                          ends:2;     /* end_at is set, why */
} ngx_http_ws_heartbeat_ctx_t;


/* the client connection's request, as nginx's own handlers find it */

#define ngx_http_ws_heartbeat_request(ctx)                                    \
    ((ngx_http_request_t *) (ctx)->client->data)

/*
 * Peer i's connection.  The upstream's is the one that nginx's upstream
 * holds, which the session's is as long as the session is active, and
 * which is NULL once nginx has closed it.
 */
#define ngx_http_ws_heartbeat_connection(ctx, i)                              \
    ((i) == NGX_HTTP_WSHB_CLIENT                                              \
     ? (ctx)->client                                                          \
     : ngx_http_ws_heartbeat_request(ctx)->upstream->peer.connection)

#define ngx_http_ws_heartbeat_loc_conf(ctx)                                   \
    ngx_http_ws_heartbeat_get_loc_conf(ngx_http_ws_heartbeat_request(ctx))

#define ngx_http_ws_heartbeat_log(ctx)                                        \
    ((ctx)->client->log)

/* the arguments of NGX_HTTP_WSHB_ID_FMT */
#define NGX_HTTP_WSHB_ID(ctx)                                                 \
    (uint32_t) ngx_http_ws_heartbeat_worker.start, ngx_pid, (ctx)->counter


/*
 * Bytes put into nginx's buffer for peer i so far: those read from the
 * other peer, less our pongs removed and the bytes withheld, plus the
 * frames we injected.  The last three change only off the fast path, so
 * they are kept as one adjustment and the fast path counts bytes once.
 */

static ngx_inline uint64_t
ngx_http_ws_heartbeat_queued(ngx_http_ws_heartbeat_ctx_t *ctx, ngx_uint_t i)
{
    return ctx->peer[i ^ 1].rx_bytes + ctx->peer[i].adjust;
}


/*
 * The time of the last read from a peer, 0 if none.  A read of whole data
 * frames (the recv wrappers' fast path) leaves only last_data, the time of
 * the last data frame (the start until there is one); any other read sets
 * last_rx.  Times are 32-bit: "later" is judged by the sign of the
 * difference.
 */

static ngx_inline ngx_http_ws_heartbeat_msec_t
ngx_http_ws_heartbeat_last_rx(ngx_http_ws_heartbeat_peer_t *peer)
{
    if (peer->parser.data_frames
        && (peer->last_rx == 0
            || (int32_t) (peer->last_data - peer->last_rx) > 0))
    {
        return peer->last_data;
    }

    return peer->last_rx;
}


/*
 * A read that passes nothing on answers NGX_AGAIN; for a socket that is
 * still ready, that would leave it unread (with edge-triggered events
 * nobody would call again), so the read event is posted and nginx calls
 * back.
 */

static ngx_inline ssize_t
ngx_http_ws_heartbeat_again(ngx_connection_t *c)
{
    if (c->read->ready) {
        ngx_post_event(c->read, &ngx_posted_events);
    }

    return NGX_AGAIN;
}


/*
 * Every read leaves the wrappers' fast path for the general one, and no
 * ping waits for a boundary: for a session that closes or passes through
 */

static ngx_inline void
ngx_http_ws_heartbeat_divert(ngx_http_ws_heartbeat_ctx_t *ctx)
{
    ctx->peer[0].inject = 0;
    ctx->peer[1].inject = 0;
    ctx->peer[0].parser.divert = 1;
    ctx->peer[1].parser.divert = 1;
}


/* ngx_http_ws_heartbeat_ctx.c */

typedef void (*ngx_http_ws_heartbeat_each_pt)(
    ngx_http_ws_heartbeat_ctx_t *ctx, void *data);

ngx_http_ws_heartbeat_ctx_t *ngx_http_ws_heartbeat_ctx_alloc(ngx_log_t *log);
void ngx_http_ws_heartbeat_ctx_free(ngx_http_ws_heartbeat_ctx_t *ctx);
void ngx_http_ws_heartbeat_ctx_done(void);
void ngx_http_ws_heartbeat_each(ngx_http_ws_heartbeat_each_pt handler,
    void *data);

/* ngx_http_ws_heartbeat_session.c */

ngx_int_t ngx_http_ws_heartbeat_init_worker(ngx_cycle_t *cycle);
void ngx_http_ws_heartbeat_exit_worker(ngx_cycle_t *cycle);
ngx_int_t ngx_http_ws_heartbeat_start(ngx_http_request_t *r,
    ngx_http_ws_heartbeat_loc_conf_t *wlcf);
void ngx_http_ws_heartbeat_probe(ngx_http_ws_heartbeat_limit_t *limit,
    uint32_t key);

/* ngx_http_ws_heartbeat_zone.c */

void ngx_http_ws_heartbeat_publish(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_uint_t state);



#endif /* _NGX_HTTP_WS_HEARTBEAT_SESSION_H_INCLUDED_ */
