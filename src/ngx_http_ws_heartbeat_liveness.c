
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 *
 * Is the peer there?  Pings on a schedule, the pongs that answer them and
 * their RTT, the judgment of a peer that owes a pong (its bytes, our ping
 * in its kernel, and its TCP receive window: a stopped process still
 * takes data into its kernel), the state its record shows, and the
 * session timer that runs it all.  Zombies and idle sessions are handed
 * to ngx_http_ws_heartbeat_close().
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <sys/ioctl.h>
#if (NGX_LINUX)
#include <linux/sockios.h>
#endif

#include "ngx_http_ws_heartbeat_session.h"
#include "ngx_http_ws_heartbeat_buffers.h"
#include "ngx_http_ws_heartbeat_liveness.h"
#include "ngx_http_ws_heartbeat_keys.h"
#include "ngx_http_ws_heartbeat_close.h"
#include "ngx_http_ws_heartbeat_lifetime.h"


#define NGX_HTTP_WSHB_MAX_WAITS       3

/* a peer's kernel may move the edge this much as it packs its data */
#define NGX_HTTP_WSHB_KERNEL_ROOM     8192

/* what ngx_http_ws_heartbeat_alive() finds */
#define NGX_HTTP_WSHB_DEAD            0
#define NGX_HTTP_WSHB_ALIVE           1
#define NGX_HTTP_WSHB_WAIT            2


static void ngx_http_ws_heartbeat_timer_handler(
    ngx_http_ws_heartbeat_ctx_t *ctx);
static ngx_int_t ngx_http_ws_heartbeat_judge(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_uint_t i, ngx_http_ws_heartbeat_msec_t now,
    ngx_http_ws_heartbeat_loc_conf_t *wlcf);
static void ngx_http_ws_heartbeat_ping(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_uint_t i);
static void ngx_http_ws_heartbeat_rtt(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_uint_t i);
static size_t ngx_http_ws_heartbeat_held_from(
    ngx_http_ws_heartbeat_ctx_t *ctx, ngx_uint_t i);
static ngx_uint_t ngx_http_ws_heartbeat_heard(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_uint_t i);
static ngx_uint_t ngx_http_ws_heartbeat_alive(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_uint_t i);
static ngx_uint_t ngx_http_ws_heartbeat_reading(
    ngx_http_ws_heartbeat_ctx_t *ctx, ngx_uint_t i);
static ngx_uint_t ngx_http_ws_heartbeat_progress(
    ngx_http_ws_heartbeat_ctx_t *ctx, ngx_uint_t i);
static void ngx_http_ws_heartbeat_look(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_uint_t i);
static void ngx_http_ws_heartbeat_seen(ngx_http_ws_heartbeat_peer_t *peer,
    uint32_t edge, uint32_t wnd);
static ngx_int_t ngx_http_ws_heartbeat_window(ngx_connection_t *c,
    uint32_t *edge, uint32_t *wnd);
static ngx_uint_t ngx_http_ws_heartbeat_outq(ngx_connection_t *c);
static ngx_http_ws_heartbeat_msec_t ngx_http_ws_heartbeat_last_data(
    ngx_http_ws_heartbeat_ctx_t *ctx);
static ngx_uint_t ngx_http_ws_heartbeat_state(
    ngx_http_ws_heartbeat_ctx_t *ctx);


/* a session timer fired (see ngx_http_ws_heartbeat_timer.c) */

void
ngx_http_ws_heartbeat_fired(ngx_http_ws_heartbeat_timer_t *timer)
{
    ngx_http_ws_heartbeat_timer_handler((ngx_http_ws_heartbeat_ctx_t *)
        ((u_char *) timer - offsetof(ngx_http_ws_heartbeat_ctx_t, timer)));
}


/*
 * A session's timer: the end of a close or a drain, the judgment of a
 * peer at its deadline, the pings that are due, the idle timeout
 */

static void
ngx_http_ws_heartbeat_timer_handler(ngx_http_ws_heartbeat_ctx_t *ctx)
{
    ngx_uint_t                         i, pinged;
    ngx_http_ws_heartbeat_msec_t       now;
    ngx_http_ws_heartbeat_peer_t      *peer;
    ngx_http_ws_heartbeat_loc_conf_t  *wlcf;

    now = ngx_http_ws_heartbeat_msec();
    wlcf = ngx_http_ws_heartbeat_loc_conf(ctx);

    if (ctx->closing) {
        /* a close frame of ours went unanswered in time */
        ngx_http_ws_heartbeat_finish(ctx);
        return;
    }

    if (ngx_http_ws_heartbeat_lifetime_over(ctx, now) != NGX_DECLINED) {
        return;
    }

    if (ctx->passthrough) {
        if (ctx->draining) {
            ngx_http_ws_heartbeat_end_as_is(ctx, NGX_HTTP_WSHB_SHUTDOWN);
        }

        return;
    }

    if (ctx->draining) {
        /* its timer was set to the drain time, and nothing moved it */

        ngx_http_ws_heartbeat_publish(ctx, 0);
        ngx_http_ws_heartbeat_close(ctx, NGX_HTTP_WSHB_SHUTDOWN,
                                    NGX_HTTP_WSHB_TO_BOTH);
        return;
    }

    if (ctx->close_seen) {
        /* the closing handshake is under way: nginx ends the session */
        ngx_http_ws_heartbeat_publish(ctx, 0);
        return;
    }

    for (i = 0; i < 2; i++) {
        if (ngx_http_ws_heartbeat_judge(ctx, i, now, wlcf) != NGX_OK) {
            return;
        }
    }

    /*
     * Pings go out after both checks: a fresh ping is not a sign of life.
     * A ping publishes the session; otherwise it is published here, so
     * that counters reach the zone at least once an interval.
     */

    pinged = 0;

    for (i = 0; i < 2; i++) {
        peer = &ctx->peer[i];

        if (peer->enabled && !peer->awaiting
            && (int32_t) (now - peer->ping_time - (uint32_t) wlcf->interval)
               >= 0)
        {
            ngx_http_ws_heartbeat_ping(ctx, i);
            pinged = 1;
        }
    }

    if (wlcf->idle_timeout
        && (int32_t) (now - ngx_http_ws_heartbeat_last_data(ctx)
                      - (uint32_t) wlcf->idle_timeout)
           >= 0)
    {
        ngx_log_error(NGX_LOG_INFO, ngx_http_ws_heartbeat_log(ctx), 0,
                      "ws_heartbeat: no data for %M ms, closing session "
                      NGX_HTTP_WSHB_ID_FMT,
                      wlcf->idle_timeout, NGX_HTTP_WSHB_ID(ctx));

        ngx_http_ws_heartbeat_close(ctx, NGX_HTTP_WSHB_IDLE_TIMEOUT,
                                    NGX_HTTP_WSHB_TO_BOTH);
        return;
    }

    if (!pinged) {
        ngx_http_ws_heartbeat_publish(ctx, ngx_http_ws_heartbeat_state(ctx));
    }

    ngx_http_ws_heartbeat_schedule(ctx);
}


/*
 * Peer i, if it owes a pong.  Before the deadline (the timer may wake at
 * the next ping time) only bytes from it count; its reading is judged
 * over the whole timeout, at the deadline.  NGX_DONE once it is found
 * dead and the session closing.
 */

static ngx_int_t
ngx_http_ws_heartbeat_judge(ngx_http_ws_heartbeat_ctx_t *ctx, ngx_uint_t i,
    ngx_http_ws_heartbeat_msec_t now, ngx_http_ws_heartbeat_loc_conf_t *wlcf)
{
    ngx_uint_t                     rc;
    ngx_http_ws_heartbeat_peer_t  *peer;

    peer = &ctx->peer[i];

    if (!peer->enabled || !peer->awaiting) {
        return NGX_OK;
    }

    if ((int32_t) (now - peer->deadline) < 0) {
        if (ngx_http_ws_heartbeat_heard(ctx, i)) {
            peer->awaiting = 0;
        }

        return NGX_OK;
    }

    rc = ngx_http_ws_heartbeat_alive(ctx, i);

    if (rc == NGX_HTTP_WSHB_ALIVE) {
        peer->awaiting = 0;
        return NGX_OK;
    }

    if (rc == NGX_HTTP_WSHB_WAIT) {
        peer->deadline = now + wlcf->timeout;
        return NGX_OK;
    }

    ngx_log_error(NGX_LOG_INFO, ngx_http_ws_heartbeat_log(ctx), 0,
                  "ws_heartbeat: %s did not answer ping %uD within %M ms, "
                  "closing session " NGX_HTTP_WSHB_ID_FMT,
                  ngx_http_ws_heartbeat_peers[i], peer->pings, wlcf->timeout,
                  NGX_HTTP_WSHB_ID(ctx));

    ngx_http_ws_heartbeat_close(ctx, NGX_HTTP_WSHB_CLIENT_TIMEOUT + i,
                                NGX_HTTP_WSHB_TO(i ^ 1));
    return NGX_DONE;
}


void
ngx_http_ws_heartbeat_schedule(ngx_http_ws_heartbeat_ctx_t *ctx)
{
    ngx_uint_t                         i;
    ngx_msec_int_t                     d, min;
    ngx_http_ws_heartbeat_msec_t       now, at;
    ngx_http_ws_heartbeat_peer_t      *peer;
    ngx_http_ws_heartbeat_loc_conf_t  *wlcf;

    now = ngx_http_ws_heartbeat_msec();
    wlcf = ngx_http_ws_heartbeat_loc_conf(ctx);

    if (ctx->draining) {
        /* the timer stays at the drain time */
        return;
    }

    min = NGX_MAX_INT32_VALUE;

    for (i = 0; i < 2; i++) {
        peer = &ctx->peer[i];

        if (!peer->enabled) {
            continue;
        }

        at = peer->ping_time + (uint32_t) wlcf->interval;

        /*
         * Awaiting a pong: the deadline, or the next ping time if that
         * comes first (a timeout longer than the interval).  The pong
         * that ends the wait moves the timer to the next ping: see
         * ngx_http_ws_heartbeat_pong().
         */

        if (peer->awaiting
            && ((int32_t) (at - now) <= 0
                || (int32_t) (peer->deadline - at) < 0))
        {
            at = peer->deadline;
        }

        d = (int32_t) (at - now);

        if (d < min) {
            min = d;
        }
    }

    if (wlcf->idle_timeout) {
        d = (int32_t) (ngx_http_ws_heartbeat_last_data(ctx)
                       + (uint32_t) wlcf->idle_timeout - now);

        if (d < min) {
            min = d;
        }
    }

    if (ctx->ends) {
        d = (int32_t) (ctx->end_at - now);

        if (d < min) {
            min = d;
        }
    }

    if (min < 1) {
        min = 1;
    }

    ngx_http_ws_heartbeat_timer_add(&ctx->timer, (ngx_msec_t) min);
}


static void
ngx_http_ws_heartbeat_ping(ngx_http_ws_heartbeat_ctx_t *ctx, ngx_uint_t i)
{
    size_t                             len;
    ngx_http_ws_heartbeat_peer_t      *peer;
    ngx_http_ws_heartbeat_zone_t      *zone;
    ngx_http_ws_heartbeat_loc_conf_t  *wlcf;
    u_char                             frame[NGX_HTTP_WSHB_PING_MAX];

    wlcf = ngx_http_ws_heartbeat_loc_conf(ctx);
    zone = ngx_http_ws_heartbeat_worker.zone;
    peer = &ctx->peer[i];

    peer->pings++;
    peer->awaiting = 1;
    peer->ping_time = ngx_http_ws_heartbeat_msec();
    peer->deadline = peer->ping_time + wlcf->timeout;
    peer->rx_mark = (uint32_t) peer->rx_bytes;
    peer->parser.armed = 1;

    /*
     * A look at the peer's window as the ping goes, unless nothing is in
     * flight: after a pong to the last ping with nothing queued since,
     * the segment that brought the pong acknowledged every byte up to the
     * end of that ping.  That is every ping of an idle session.
     */

    peer->looked = 0;
    peer->waits = 0;

    if (!peer->drained
        || ngx_http_ws_heartbeat_queued(ctx, i) != peer->ping_end)
    {
        ngx_http_ws_heartbeat_look(ctx, i);
    }

    peer->drained = 0;

    if (zone) {
        (void) ngx_atomic_fetch_add(&zone->sh->totals.pings[i], 1);
    }

    ngx_http_ws_heartbeat_publish(ctx, NGX_HTTP_WSHB_STATE_AWAITING);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_http_ws_heartbeat_log(ctx), 0,
                   "ws_heartbeat: ping %uD to %s",
                   peer->pings, ngx_http_ws_heartbeat_peers[i]);

    len = ngx_http_ws_heartbeat_build(ctx, i, frame);

    if (ngx_http_ws_heartbeat_append(ctx, i, frame, len) == NGX_OK) {
        ngx_http_ws_heartbeat_ping_queued(ctx, i);
        ngx_post_event(ngx_http_ws_heartbeat_connection(ctx, i)->write,
                       &ngx_posted_events);
        return;
    }

    /*
     * The recv wrapper of the other peer builds it again and puts it at
     * the next boundary; nothing of it is kept meanwhile.
     */

    peer->inject = 1;
    ctx->peer[i ^ 1].parser.divert = 1;
}


size_t
ngx_http_ws_heartbeat_build(ngx_http_ws_heartbeat_ctx_t *ctx, ngx_uint_t i,
    u_char *out)
{
    u_char                        *cookie;
    uint32_t                       rnd;
    ngx_http_ws_heartbeat_peer_t  *peer;

    peer = &ctx->peer[i];
    cookie = ngx_http_ws_heartbeat_worker.cookie;

    if (i == NGX_HTTP_WSHB_CLIENT) {
        return ngx_http_ws_heartbeat_build_ping(out, cookie, peer->pings,
                                                NULL);
    }

    rnd = ngx_http_ws_heartbeat_random32();

    return ngx_http_ws_heartbeat_build_ping(out, cookie, peer->pings,
                                            (u_char *) &rnd);
}


void
ngx_http_ws_heartbeat_ping_queued(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_uint_t i)
{
    ngx_http_ws_heartbeat_peer_t  *peer;

    peer = &ctx->peer[i];

    peer->ping_end = ngx_http_ws_heartbeat_queued(ctx, i);
}


/*
 * This many new pongs to our pings from peer i; the last one's sequence
 * number is the parser's.  One to our last ping ends the wait for it.
 */

void
ngx_http_ws_heartbeat_pong(ngx_http_ws_heartbeat_ctx_t *ctx, ngx_uint_t i,
    uint32_t pongs)
{
    ngx_http_ws_heartbeat_zone_t    *zone;
    ngx_http_ws_heartbeat_peer_t    *peer;
    ngx_http_ws_heartbeat_parser_t  *p;

    zone = ngx_http_ws_heartbeat_worker.zone;
    peer = &ctx->peer[i];
    p = &peer->parser;

    peer->last_pong = ngx_http_ws_heartbeat_msec();

    if (zone) {
        (void) ngx_atomic_fetch_add(&zone->sh->totals.pongs[i], pongs);
    }

    if (!peer->awaiting || p->pong_seq != peer->pings) {
        return;
    }

    peer->awaiting = 0;
    peer->drained = 1;
    peer->rtt = ngx_http_ws_heartbeat_msec() - peer->ping_time;
    peer->rtt_set = 1;

    ngx_http_ws_heartbeat_rtt(ctx, i);
    ngx_http_ws_heartbeat_publish(ctx, ngx_http_ws_heartbeat_state(ctx));

    /*
     * With no pong owed any more, the timer moves from the deadline to
     * the next ping time now, while the session is at hand, rather than
     * waking the worker at the deadline for nothing
     */

    if (!ctx->peer[i ^ 1].awaiting && !ctx->passthrough && !ctx->closing
        && !ctx->close_seen && !ctx->draining && !ctx->ending)
    {
        ngx_http_ws_heartbeat_schedule(ctx);
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ngx_http_ws_heartbeat_log(ctx), 0,
                   "ws_heartbeat: %s pong %uD, rtt %M",
                   ngx_http_ws_heartbeat_peers[i], p->pong_seq,
                   (ngx_msec_t) peer->rtt);
}


static void
ngx_http_ws_heartbeat_rtt(ngx_http_ws_heartbeat_ctx_t *ctx, ngx_uint_t i)
{
    ngx_uint_t                       b;
    ngx_http_ws_heartbeat_totals_t  *totals;

    if (ngx_http_ws_heartbeat_worker.zone == NULL) {
        return;
    }

    totals = &ngx_http_ws_heartbeat_worker.zone->sh->totals;

    for (b = 0; b < NGX_HTTP_WSHB_RTT_BUCKETS; b++) {
        if (ctx->peer[i].rtt <= ngx_http_ws_heartbeat_rtt_bounds[b]) {
            break;
        }
    }

    (void) ngx_atomic_fetch_add(&totals->rtt_bucket[i][b], 1);
    (void) ngx_atomic_fetch_add(&totals->rtt_sum[i], ctx->peer[i].rtt);
    (void) ngx_atomic_fetch_add(&totals->rtt_count[i], 1);
}


/*
 * Bytes that peer i sent and nginx has not passed on yet; our own ping to
 * the other peer, if still unsent, is not among them.
 */

static size_t
ngx_http_ws_heartbeat_held_from(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_uint_t i)
{
    size_t                         held, ours;
    uint64_t                       sent;
    ngx_http_ws_heartbeat_peer_t  *to;

    to = &ctx->peer[i ^ 1];

    held = ngx_http_ws_heartbeat_pending_to(ctx, i ^ 1);

    if (held == 0) {
        return 0;
    }

    sent = ngx_http_ws_heartbeat_queued(ctx, i ^ 1) - held;
    ours = 0;

    if (sent < to->ping_end) {
        ours = ngx_min(to->ping_end - sent, NGX_HTTP_WSHB_PING_MAX);
    }

    return held > ours ? held - ours : 0;
}


static ngx_uint_t
ngx_http_ws_heartbeat_heard(ngx_http_ws_heartbeat_ctx_t *ctx, ngx_uint_t i)
{
    return (uint32_t) ctx->peer[i].rx_bytes != ctx->peer[i].rx_mark
           || ngx_http_ws_heartbeat_held_from(ctx, i) != 0;
}


/*
 * Is peer i, which owes us a pong, alive?  Any byte from it counts, and so
 * do its bytes that nginx still holds (its pong may be queued behind them
 * while the other side applies backpressure).  Otherwise it is alive only
 * if it still reads: see ngx_http_ws_heartbeat_reading().
 */

static ngx_uint_t
ngx_http_ws_heartbeat_alive(ngx_http_ws_heartbeat_ctx_t *ctx, ngx_uint_t i)
{
    if (ngx_http_ws_heartbeat_heard(ctx, i)) {
        return NGX_HTTP_WSHB_ALIVE;
    }

    return ngx_http_ws_heartbeat_reading(ctx, i);
}


/*
 * Does peer i, silent since our ping, still read?  A stopped process (a
 * suspended app, a hung event loop) keeps its kernel acknowledging bytes
 * into its receive buffer, so bytes leaving nginx or the socket prove
 * nothing, and neither does the right edge of the window it advertises
 * (bytes acknowledged + window) moving on its own: while the buffer has
 * room, Linux advertises a window of the same size, and every byte its
 * kernel takes moves the edge, ours included.  The edge says that the
 * application freed room only while unread data bind the window: the
 * window is below the largest seen, and Linux never moves an edge back,
 * so that a stopped peer's edge then stands still.  A closed window is
 * bound by unread data whatever was seen before.
 *
 * - our ping not yet in the peer's kernel (in nginx's buffer or the
 *   socket's send queue, or not yet in the stream, which is mid-frame,
 *   while bytes are on their way): the window or the link holds it back,
 *   and the peer reads if the edge moved since the last look (by more
 *   than the kernel's own moves: see below);
 *
 * - our ping in the peer's kernel: an application that reads gets to it
 *   and answers; the peer may only be behind a backlog too large for the
 *   window, and is taken to read through it if the edge moved since a
 *   look at which unread data bound the window (a stopped peer's edge
 *   stands still from then on), or if unread data bind it now and the
 *   edge moved by more than the window at the look before (a stopped
 *   peer's kernel moves it only while it has room, by less than that,
 *   before the window closes).  Otherwise the missing pong decides: the
 *   peer is dead.
 *
 * Looks are at the ping (unless nothing was in flight then) and at each
 * deadline.  Without the window (a kernel before Linux 5.4, another
 * system): ngx_http_ws_heartbeat_progress().
 */

static ngx_uint_t
ngx_http_ws_heartbeat_reading(ngx_http_ws_heartbeat_ctx_t *ctx, ngx_uint_t i)
{
    size_t                         pending;
    uint32_t                       edge, wnd, step;
    uint64_t                       sent;
    ngx_uint_t                     rc, outq, delivered, moved, full;
    ngx_connection_t              *c;
    ngx_http_ws_heartbeat_peer_t  *peer;

    peer = &ctx->peer[i];
    c = ngx_http_ws_heartbeat_connection(ctx, i);

    if (ngx_http_ws_heartbeat_window(c, &edge, &wnd) != NGX_OK) {
        return ngx_http_ws_heartbeat_progress(ctx, i);
    }

    pending = ngx_http_ws_heartbeat_pending_to(ctx, i);
    sent = ngx_http_ws_heartbeat_queued(ctx, i) - pending;
    outq = ngx_http_ws_heartbeat_outq(c);

    if (peer->inject) {
        /* our ping is not out: the stream to the peer is mid-frame */
        delivered = 0;

    } else {
        /*
         * In the peer's kernel once the send queue holds no more than the
         * bytes queued after the ping (TLS makes them more, never fewer)
         */
        delivered = (sent >= peer->ping_end
                     && outq <= sent - peer->ping_end);
    }

    /*
     * A move of the edge by an eighth of the largest window, or by
     * NGX_HTTP_WSHB_KERNEL_ROOM, or less, is the kernel's own: it makes
     * room as it packs the data it holds
     */

    step = peer->looked ? edge - peer->edge : 0;
    moved = ((int32_t) step
             > (int32_t) ngx_max(peer->wnd_max / 8,
                                 NGX_HTTP_WSHB_KERNEL_ROOM));
    full = (wnd < peer->wnd_max || wnd == 0);

    if (peer->inject && pending == 0 && outq == 0) {
        /* nothing is on its way to the peer: it owes nothing yet */
        rc = NGX_HTTP_WSHB_WAIT;

    } else if (!peer->looked) {
        /* nothing was in flight at the ping: it met an open window */
        rc = delivered ? NGX_HTTP_WSHB_DEAD : NGX_HTTP_WSHB_WAIT;

    } else if (!delivered) {
        rc = moved ? NGX_HTTP_WSHB_WAIT : NGX_HTTP_WSHB_DEAD;

    } else {
        rc = (moved && (peer->full || (full && step > peer->wnd)))
             ? NGX_HTTP_WSHB_WAIT : NGX_HTTP_WSHB_DEAD;
    }

    ngx_log_debug8(NGX_LOG_DEBUG_HTTP, ngx_http_ws_heartbeat_log(ctx), 0,
                   "ws_heartbeat: %s silent: edge %uD -> %uD, window "
                   "%uD -> %uD, ping delivered %ui, outq %ui: %ui",
                   ngx_http_ws_heartbeat_peers[i], peer->edge, edge,
                   peer->wnd, wnd, delivered, outq, rc);
    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ngx_http_ws_heartbeat_log(ctx), 0,
                   "ws_heartbeat: %s window bound by unread data: "
                   "%ui -> %ui",
                   ngx_http_ws_heartbeat_peers[i], (ngx_uint_t) peer->full,
                   full);

    ngx_http_ws_heartbeat_seen(peer, edge, wnd);

    return rc;
}


/*
 * Without the peer's window: progress toward the peer (nginx's buffer
 * draining into the socket, the socket's send queue shrinking) moves the
 * deadline, at most NGX_HTTP_WSHB_MAX_WAITS times after a ping, so that a
 * stopped peer whose kernel takes data is closed within interval +
 * (1 + NGX_HTTP_WSHB_MAX_WAITS) * timeout.  edge holds the send queue,
 * wnd the bytes sent.
 */

static ngx_uint_t
ngx_http_ws_heartbeat_progress(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_uint_t i)
{
    uint32_t                       sent;
    ngx_uint_t                     rc, outq;
    ngx_http_ws_heartbeat_peer_t  *peer;

    peer = &ctx->peer[i];

    sent = (uint32_t) (ngx_http_ws_heartbeat_queued(ctx, i)
                       - ngx_http_ws_heartbeat_pending_to(ctx, i));
    outq = ngx_http_ws_heartbeat_outq(ngx_http_ws_heartbeat_connection(ctx,
                                                                        i));

    if (peer->looked) {
        rc = (sent != peer->wnd || outq < peer->edge)
             ? NGX_HTTP_WSHB_WAIT : NGX_HTTP_WSHB_DEAD;

    } else {
        /* nothing was in flight at the ping: is all of it acknowledged? */
        rc = (outq == 0 && sent == (uint32_t) peer->ping_end)
             ? NGX_HTTP_WSHB_DEAD : NGX_HTTP_WSHB_WAIT;
    }

    if (rc == NGX_HTTP_WSHB_WAIT && peer->waits++ == NGX_HTTP_WSHB_MAX_WAITS)
    {
        rc = NGX_HTTP_WSHB_DEAD;
    }

    peer->edge = (uint32_t) outq;
    peer->wnd = sent;
    peer->looked = 1;

    return rc;
}


static void
ngx_http_ws_heartbeat_look(ngx_http_ws_heartbeat_ctx_t *ctx, ngx_uint_t i)
{
    uint32_t                       edge, wnd;
    ngx_connection_t              *c;
    ngx_http_ws_heartbeat_peer_t  *peer;

    peer = &ctx->peer[i];
    c = ngx_http_ws_heartbeat_connection(ctx, i);

    if (ngx_http_ws_heartbeat_window(c, &edge, &wnd) == NGX_OK) {
        ngx_http_ws_heartbeat_seen(peer, edge, wnd);
        return;
    }

    peer->edge = (uint32_t) ngx_http_ws_heartbeat_outq(c);
    peer->wnd = (uint32_t) (ngx_http_ws_heartbeat_queued(ctx, i)
                            - ngx_http_ws_heartbeat_pending_to(ctx, i));
    peer->looked = 1;
}


/* a look at the window: the largest so far, and if unread data bind it */

static void
ngx_http_ws_heartbeat_seen(ngx_http_ws_heartbeat_peer_t *peer, uint32_t edge,
    uint32_t wnd)
{
    if (wnd > peer->wnd_max) {
        peer->wnd_max = wnd;
    }

    peer->full = (wnd < peer->wnd_max || wnd == 0);
    peer->edge = edge;
    peer->wnd = wnd;
    peer->looked = 1;
}


/*
 * The right edge of the peer's receive window (bytes it acknowledged plus
 * its window) and the window, cut to 32 bits, from TCP_INFO: the kernel's
 * struct tcp_info, whose fields are only ever appended, has the bytes
 * acknowledged at offset 120 (Linux 4.1) and the peer's window at 228
 * (Linux 5.4).  The C library's struct may stop before either.
 */

#define NGX_HTTP_WSHB_TCPI_BYTES_ACKED  120
#define NGX_HTTP_WSHB_TCPI_SND_WND      228
#define NGX_HTTP_WSHB_TCPI_LEN          232

static ngx_int_t
ngx_http_ws_heartbeat_window(ngx_connection_t *c, uint32_t *edge,
    uint32_t *wnd)
{
#if (NGX_LINUX && defined TCP_INFO)
    uint32_t   w;
    uint64_t   info[NGX_HTTP_WSHB_TCPI_LEN / 8], acked;
    socklen_t  len;

    len = sizeof(info);

    if (getsockopt(c->fd, IPPROTO_TCP, TCP_INFO, info, &len) == -1
        || len < NGX_HTTP_WSHB_TCPI_LEN)
    {
        return NGX_DECLINED;
    }

    ngx_memcpy(&acked, (u_char *) info + NGX_HTTP_WSHB_TCPI_BYTES_ACKED,
               sizeof(uint64_t));
    ngx_memcpy(&w, (u_char *) info + NGX_HTTP_WSHB_TCPI_SND_WND,
               sizeof(uint32_t));

    *edge = (uint32_t) acked + w;
    *wnd = w;

    return NGX_OK;

#else
    return NGX_DECLINED;
#endif
}


static ngx_uint_t
ngx_http_ws_heartbeat_outq(ngx_connection_t *c)
{
#if (NGX_LINUX && defined SIOCOUTQ)
    int  n;

    if (ioctl(c->fd, SIOCOUTQ, &n) == -1 || n < 0) {
        return 0;
    }

    return (ngx_uint_t) n;
#else
    return 0;
#endif
}


/*
 * The state a session's record shows: closing from the first close frame
 * seen or sent, awaiting_pong while either peer owes a pong
 */

static ngx_uint_t
ngx_http_ws_heartbeat_state(ngx_http_ws_heartbeat_ctx_t *ctx)
{
    if (ctx->closing || ctx->close_seen || ctx->ending) {
        return NGX_HTTP_WSHB_STATE_CLOSING;
    }

    if (ctx->peer[NGX_HTTP_WSHB_CLIENT].awaiting
        || ctx->peer[NGX_HTTP_WSHB_UPSTREAM].awaiting)
    {
        return NGX_HTTP_WSHB_STATE_AWAITING;
    }

    return NGX_HTTP_WSHB_STATE_HEALTHY;
}


static ngx_http_ws_heartbeat_msec_t
ngx_http_ws_heartbeat_last_data(ngx_http_ws_heartbeat_ctx_t *ctx)
{
    ngx_http_ws_heartbeat_msec_t  a, b;

    a = ctx->peer[NGX_HTTP_WSHB_CLIENT].last_data;
    b = ctx->peer[NGX_HTTP_WSHB_UPSTREAM].last_data;

    return (int32_t) (a - b) > 0 ? a : b;
}


void
ngx_http_ws_heartbeat_probe_session(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_http_ws_heartbeat_limit_t *limit, uint32_t key,
    ngx_http_ws_heartbeat_msec_t now)
{
    ngx_uint_t                         pressure;
    ngx_http_ws_heartbeat_msec_t       last;
    ngx_http_ws_heartbeat_peer_t      *peer;
    ngx_http_ws_heartbeat_loc_conf_t  *wlcf;

    if (ctx->passthrough || ctx->closing || ctx->close_seen
        || ctx->draining)
    {
        return;
    }

    wlcf = ngx_http_ws_heartbeat_loc_conf(ctx);

    peer = &ctx->peer[NGX_HTTP_WSHB_CLIENT];
    last = ngx_http_ws_heartbeat_last_rx(peer);

    if (last == 0) {
        last = ctx->start;
    }

    if (peer->awaiting || now - last < wlcf->timeout) {
        return;
    }

    /* the limit asked about, or any: the session's own, if under pressure */

    pressure = 0;

    if (wlcf->limit && (limit == NULL || limit == wlcf->limit)) {
        pressure = ngx_http_ws_heartbeat_under_pressure(
                                 ngx_http_ws_heartbeat_worker.zone,
                                 wlcf->limit->index, wlcf->limit->max);
    }

    if (!pressure && ctx->key && wlcf->key_limit
        && (limit == NULL || (limit == wlcf->key_limit && key == ctx->key)))
    {
        pressure = ngx_http_ws_heartbeat_key_pressure(
                                 ngx_http_ws_heartbeat_worker.zone, ctx->key,
                                 wlcf->key_limit->max);
    }

    if (!pressure) {
        return;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ngx_http_ws_heartbeat_log(ctx), 0,
                   "ws_heartbeat: probing session " NGX_HTTP_WSHB_ID_FMT,
                   (uint32_t) ngx_http_ws_heartbeat_worker.start, ngx_pid,
                   ctx->counter);

    ngx_http_ws_heartbeat_ping(ctx, NGX_HTTP_WSHB_CLIENT);
    ngx_http_ws_heartbeat_schedule(ctx);
}
