
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 *
 * One proxied session from the 101 to its end: its context, the upstream's
 * finalize_request chained, and the recv wrappers on both connections with
 * the per-frame path.  Frames are parsed, our pongs removed and pings put
 * at frame boundaries into nginx's own upgrade buffers, so that nginx
 * itself deals with partial writes, TLS and send_timeout.  Also the
 * worker's once-a-second watch over its sessions.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_ws_heartbeat_session.h"
#include "ngx_http_ws_heartbeat_buffers.h"
#include "ngx_http_ws_heartbeat_liveness.h"
#include "ngx_http_ws_heartbeat_close.h"
#include "ngx_http_ws_heartbeat_keys.h"
#include "ngx_http_ws_heartbeat_wake.h"
#include "ngx_http_ws_heartbeat_lifetime.h"


/*
 * The fast path of the recv wrappers must be inlined into both, with the
 * direction a constant: a call and its register saves would cost as much
 * as the work.  GCC and clang are told so; others may decide themselves.
 */
#if defined(__GNUC__)
#define ngx_http_ws_heartbeat_inline    inline __attribute__((always_inline))
#define ngx_http_ws_heartbeat_noinline  __attribute__((noinline))
#else
#define ngx_http_ws_heartbeat_inline    ngx_inline
#define ngx_http_ws_heartbeat_noinline
#endif

static void ngx_http_ws_heartbeat_peers_init(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_connection_t *c, ngx_connection_t *uc, ngx_uint_t upstream);
static void ngx_http_ws_heartbeat_early(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_uint_t i);
static ssize_t ngx_http_ws_heartbeat_recv_client(ngx_connection_t *c,
    u_char *buf, size_t size);
static ssize_t ngx_http_ws_heartbeat_recv_upstream(ngx_connection_t *c,
    u_char *buf, size_t size);
static ngx_http_ws_heartbeat_inline ssize_t ngx_http_ws_heartbeat_recv_fast(
    ngx_http_ws_heartbeat_ctx_t *ctx, ngx_uint_t i, ngx_connection_t *c,
    u_char *buf, size_t size);
static ssize_t ngx_http_ws_heartbeat_recv(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_uint_t i, ngx_connection_t *c, u_char *buf, size_t size);
static ngx_http_ws_heartbeat_inline size_t ngx_http_ws_heartbeat_read(
    ngx_http_ws_heartbeat_ctx_t *ctx, ngx_uint_t i, u_char *buf, size_t len,
    size_t n, size_t *at, ngx_uint_t plain);
static ngx_http_ws_heartbeat_noinline size_t
    ngx_http_ws_heartbeat_parse_rest(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_uint_t i, u_char *buf, size_t out, size_t len, size_t *at);
static ngx_http_ws_heartbeat_noinline ssize_t
    ngx_http_ws_heartbeat_withheld(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_uint_t i);
static void ngx_http_ws_heartbeat_events(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_uint_t i, uint32_t pongs);
static void ngx_http_ws_heartbeat_finalize(ngx_http_request_t *r,
    ngx_int_t rc);
static void ngx_http_ws_heartbeat_end(ngx_http_ws_heartbeat_ctx_t *ctx);
static void ngx_http_ws_heartbeat_cleanup(void *data);
static ngx_uint_t ngx_http_ws_heartbeat_watch(ngx_log_t *log);
static void ngx_http_ws_heartbeat_drain_one(ngx_http_ws_heartbeat_ctx_t *ctx,
    void *data);
static void ngx_http_ws_heartbeat_probe_one(ngx_http_ws_heartbeat_ctx_t *ctx,
    void *data);
static void ngx_http_ws_heartbeat_woken(ngx_event_t *ev);


/* the drain's place in the sessions it closes, spread over its window */

typedef struct {
    ngx_uint_t                        n;
    ngx_uint_t                        k;
} ngx_http_ws_heartbeat_drain_t;


/* the limit, if any, and the key, if any, whose sessions are probed */

typedef struct {
    ngx_http_ws_heartbeat_limit_t    *limit;
    uint32_t                          key;
    ngx_http_ws_heartbeat_msec_t      now;
} ngx_http_ws_heartbeat_probe_t;


static ngx_uint_t                      ngx_http_ws_heartbeat_nsessions;
static ngx_uint_t                      ngx_http_ws_heartbeat_counter;


ngx_int_t
ngx_http_ws_heartbeat_init_worker(ngx_cycle_t *cycle)
{
    uint32_t                            rnd;
    ngx_uint_t                          i;
    ngx_http_ws_heartbeat_main_conf_t  *wmcf;

    wmcf = ngx_http_ws_heartbeat_cycle_get_main_conf(cycle);
    ngx_http_ws_heartbeat_worker.zone = wmcf ? wmcf->zone : NULL;

    ngx_http_ws_heartbeat_nsessions = 0;
    ngx_http_ws_heartbeat_counter = 0;
    ngx_http_ws_heartbeat_worker.start = ngx_time();

    /*
     * Our pings carry it, and a pong with it is ours.  A pong with it in
     * another session's stream is of no use to its sender: each stream is
     * parsed on its own, and only its own pings are answered there.
     */

    for (i = 0; i < NGX_HTTP_WSHB_COOKIE_LEN; i += 4) {
        rnd = ngx_http_ws_heartbeat_random32();
        ngx_memcpy(&ngx_http_ws_heartbeat_worker.cookie[i], &rnd, 4);
    }

    ngx_http_ws_heartbeat_timers_init(cycle, ngx_http_ws_heartbeat_fired,
                                      ngx_http_ws_heartbeat_watch);

    if (ngx_http_ws_heartbeat_worker.zone == NULL) {
        return NGX_OK;
    }

    ngx_http_ws_heartbeat_commands_init(ngx_http_ws_heartbeat_worker.zone);

    return ngx_http_ws_heartbeat_wake_listen(cycle,
                                             ngx_http_ws_heartbeat_woken);
}


/*
 * At worker exit: nothing runs any session's code after exit_process, and
 * the module is unloaded right after, so its contexts must not outlive it.
 */

void
ngx_http_ws_heartbeat_exit_worker(ngx_cycle_t *cycle)
{
    ngx_http_ws_heartbeat_ctx_done();

    ngx_http_ws_heartbeat_timers_done();
    ngx_http_ws_heartbeat_wake_done();
}


ngx_int_t
ngx_http_ws_heartbeat_start(ngx_http_request_t *r,
    ngx_http_ws_heartbeat_loc_conf_t *wlcf)
{
    ngx_msec_t                          delay;
    ngx_connection_t                   *c, *uc;
    ngx_pool_cleanup_t                 *cln;
    ngx_http_upstream_t                *u;
    ngx_http_ws_heartbeat_ctx_t        *ctx;
    ngx_http_ws_heartbeat_main_conf_t  *wmcf;

    c = r->connection;
    u = r->upstream;
    uc = u->peer.connection;

    if (uc == NULL || ngx_http_ws_heartbeat_get_ctx(r))
    {
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    ctx = ngx_http_ws_heartbeat_ctx_alloc(c->log);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    ctx->client = c;
    ctx->start = ngx_http_ws_heartbeat_msec();
    ctx->counter = (uint32_t) ngx_http_ws_heartbeat_counter++;

    wmcf = ngx_http_ws_heartbeat_get_main_conf(r);

    ctx->record = NGX_HTTP_WSHB_NO_RECORD;

    ngx_http_ws_heartbeat_lifetime(r, ctx, wlcf);

    if (ngx_http_ws_heartbeat_worker.zone) {
        ctx->key = wlcf->key_limit ? ngx_http_ws_heartbeat_key_of(r) : 0;

        ctx->record = ngx_http_ws_heartbeat_record_alloc(
                               ngx_http_ws_heartbeat_worker.zone, r, wlcf->tags,
                               ctx->counter, ctx->ends,
                               ctx->ends ? ctx->end_at - ctx->start : 0,
                               ctx->key);
    }

    ngx_http_ws_heartbeat_peers_init(ctx, c, uc, wlcf->upstream);

    ngx_http_ws_heartbeat_set_ctx(r, ctx);

    cln->handler = ngx_http_ws_heartbeat_cleanup;
    cln->data = ctx;

    ctx->hook.finalize = u->finalize_request;
    u->finalize_request = ngx_http_ws_heartbeat_finalize;

    c->recv = ngx_http_ws_heartbeat_recv_client;
    uc->recv = ngx_http_ws_heartbeat_recv_upstream;

    ctx->active = 1;

    if (ngx_http_ws_heartbeat_nsessions++ == 0) {
        ngx_http_ws_heartbeat_periodic();
    }

    /* bytes that arrived with the handshake never pass through recv */

    ngx_http_ws_heartbeat_early(ctx, NGX_HTTP_WSHB_UPSTREAM);
    ngx_http_ws_heartbeat_early(ctx, NGX_HTTP_WSHB_CLIENT);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "ws_heartbeat: session " NGX_HTTP_WSHB_ID_FMT " started",
                   (uint32_t) ngx_http_ws_heartbeat_worker.start, ngx_pid,
                   ctx->counter);

    if (ngx_exiting) {
        delay = ngx_random() % (wmcf->drain + 1);
        ngx_http_ws_heartbeat_drain(ctx, ngx_max(delay, 1));

    } else if (!ctx->passthrough) {
        ngx_http_ws_heartbeat_schedule(ctx);
    }

    return NGX_OK;
}


/*
 * Both peers: the recv each connection had, their parsers, and the first
 * pings an interval after the start
 */

static void
ngx_http_ws_heartbeat_peers_init(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_connection_t *c, ngx_connection_t *uc, ngx_uint_t upstream)
{
    ngx_uint_t                     i;
    ngx_http_ws_heartbeat_peer_t  *peer;

    for (i = 0; i < 2; i++) {
        peer = &ctx->peer[i];

        peer->recv = (i == NGX_HTTP_WSHB_CLIENT) ? c->recv : uc->recv;
        peer->enabled = (i == NGX_HTTP_WSHB_CLIENT || upstream) ? 1 : 0;
        peer->ping_time = ctx->start;
        peer->last_data = ctx->start;

        /* frames from the client are masked */

        ngx_http_ws_heartbeat_parser_init(&peer->parser,
                                          i == NGX_HTTP_WSHB_CLIENT);
    }
}


static void
ngx_http_ws_heartbeat_early(ngx_http_ws_heartbeat_ctx_t *ctx, ngx_uint_t i)
{
    ngx_str_t  bytes;

    ngx_http_ws_heartbeat_handshake_bytes(ctx, i, &bytes);

    if (bytes.len == 0) {
        return;
    }

    /* nothing can be removed yet: no ping of ours went out */

    (void) ngx_http_ws_heartbeat_parse(&ctx->peer[i].parser,
                                       ngx_http_ws_heartbeat_worker.cookie,
                                       bytes.data, bytes.len, NULL);

    ctx->peer[i].rx_bytes += bytes.len;

    ngx_http_ws_heartbeat_events(ctx, i, 0);
}


static ssize_t
ngx_http_ws_heartbeat_recv_client(ngx_connection_t *c, u_char *buf,
    size_t size)
{
    ngx_http_request_t  *r;

    r = c->data;

    return ngx_http_ws_heartbeat_recv_fast(
                      ngx_http_ws_heartbeat_get_ctx(r),
                      NGX_HTTP_WSHB_CLIENT, c, buf, size);
}


static ssize_t
ngx_http_ws_heartbeat_recv_upstream(ngx_connection_t *c, u_char *buf,
    size_t size)
{
    ngx_http_request_t  *r;

    r = c->data;

    return ngx_http_ws_heartbeat_recv_fast(
                      ngx_http_ws_heartbeat_get_ctx(r),
                      NGX_HTTP_WSHB_UPSTREAM, c, buf, size);
}


/*
 * The common case, inlined into both wrappers with i known: a read that
 * starts at a frame boundary (no payload or header continues), nothing
 * withheld from the last read, no fragmented message, no ping waiting for
 * a boundary in this stream and the session not passed through
 * (p->divert stands for these two), and whole data frames stepped over.
 * Anything else goes the general way.
 */

static ngx_http_ws_heartbeat_inline ssize_t
ngx_http_ws_heartbeat_recv_fast(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_uint_t i, ngx_connection_t *c, u_char *buf, size_t size)
{
    size_t                           len;
    ssize_t                          n;
    ngx_http_ws_heartbeat_peer_t    *peer;
    ngx_http_ws_heartbeat_parser_t  *p;

    peer = &ctx->peer[i];
    p = &peer->parser;

    if (ngx_http_ws_heartbeat_busy(p)) {
        return ngx_http_ws_heartbeat_recv(ctx, i, c, buf, size);
    }

    n = peer->recv(c, buf, size);

    if (!ngx_http_ws_heartbeat_likely(n > 0)) {
        if (n != NGX_AGAIN) {
            return ngx_http_ws_heartbeat_ended(ctx, i, n);
        }

        return n;
    }

    len = ngx_http_ws_heartbeat_read(ctx, i, buf, n, n, NULL, 1);

    if (len) {
        return len;
    }

    return ngx_http_ws_heartbeat_withheld(ctx, i);
}


/*
 * The len bytes at buf from peer i, n of them just read (the rest were
 * withheld last time): counted, their frames parsed, our pongs removed.
 * With at, the first frame boundary is wanted (to put a ping there);
 * plain is the fast path's word that the bytes start at a frame boundary
 * (ngx_http_ws_heartbeat_busy() was 0).  Returns what is left of them.
 */

static ngx_http_ws_heartbeat_inline size_t
ngx_http_ws_heartbeat_read(ngx_http_ws_heartbeat_ctx_t *ctx, ngx_uint_t i,
    u_char *buf, size_t len, size_t n, size_t *at, ngx_uint_t plain)
{
    size_t                           out;
    uint64_t                         frames;
    ngx_http_ws_heartbeat_msec_t     now;
    ngx_http_ws_heartbeat_peer_t    *peer;

    peer = &ctx->peer[i];
    now = ngx_http_ws_heartbeat_msec();

    peer->rx_bytes += n;

    /* whole data frames need neither the parser nor the event check */

    if (at == NULL) {
        out = ngx_http_ws_heartbeat_skip(&peer->parser, buf, len,
                                         i == NGX_HTTP_WSHB_CLIENT, plain,
                                         &frames);

        /*
         * From a frame boundary, all of it taken means at least one data
         * frame: the fast path's way out needs no other test
         */

        if (plain && ngx_http_ws_heartbeat_likely(out == len)) {
            /* last_rx is left behind: see ngx_http_ws_heartbeat_last_rx() */
            peer->last_data = now;
            return out;
        }

        peer->last_rx = now;

        if (frames) {
            peer->last_data = now;
        }

        if (out == len) {
            return out;
        }

    } else {
        peer->last_rx = now;
        out = 0;
    }

    return ngx_http_ws_heartbeat_parse_rest(ctx, i, buf, out, len, at);
}


/*
 * What the inline part left of buf[0..len), from buf + out on: control
 * frames, longer lengths, headers split across reads.  Returns the length
 * of all that is left of buf.  Out of line, so that the fast path needs
 * few registers saved around its own calls.
 */

static ngx_http_ws_heartbeat_noinline size_t
ngx_http_ws_heartbeat_parse_rest(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_uint_t i, u_char *buf, size_t out, size_t len, size_t *at)
{
    uint32_t                         pongs;
    uint64_t                         data;
    ngx_http_ws_heartbeat_peer_t    *peer;
    ngx_http_ws_heartbeat_parser_t  *p;

    peer = &ctx->peer[i];
    p = &peer->parser;
    data = p->data_frames;
    pongs = p->pongs;

    out += ngx_http_ws_heartbeat_parse(p, ngx_http_ws_heartbeat_worker.cookie,
                                       buf + out, len - out, at);

    /* what was removed or withheld is not queued: see ..._queued() */
    ctx->peer[i ^ 1].adjust += out - len;

    if (p->pongs != pongs || p->closed || p->error) {
        ngx_http_ws_heartbeat_events(ctx, i, p->pongs - pongs);
    }

    if (p->data_frames != data) {
        peer->last_data = ngx_http_ws_heartbeat_msec();
    }

    return out;
}


/*
 * All of a read withheld, as the start of what may be our pong.  Out of
 * line: after their own recv call the inline wrappers then need nothing
 * but the session and the buffer.
 */

static ngx_http_ws_heartbeat_noinline ssize_t
ngx_http_ws_heartbeat_withheld(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_uint_t i)
{
    return ngx_http_ws_heartbeat_again(ngx_http_ws_heartbeat_connection(ctx,
                                                                        i));
}


/*
 * Bytes from peer i, on their way to peer i ^ 1.  A call that removed
 * or withheld all it read answers NGX_AGAIN, never 0, and posts the read
 * event if the socket is still ready (ngx_http_ws_heartbeat_withheld()).
 */

static ssize_t
ngx_http_ws_heartbeat_recv(ngx_http_ws_heartbeat_ctx_t *ctx, ngx_uint_t i,
    ngx_connection_t *c, u_char *buf, size_t size)
{
    size_t                           k, len, reserve, at;
    ssize_t                          n;
    ngx_http_ws_heartbeat_peer_t    *peer, *to;
    ngx_http_ws_heartbeat_parser_t  *p;

    peer = &ctx->peer[i];
    p = &peer->parser;
    to = &ctx->peer[i ^ 1];
    k = 0;

    if (ctx->closing) {
        return ngx_http_ws_heartbeat_discard(ctx, i, c, buf, size);
    }

    if (ctx->passthrough) {
        n = peer->recv(c, buf, size);
        goto done;
    }

    k = p->slen;
    reserve = 0;

    if (k) {
        if (size <= k) {
            /* nginx's buffer is nearly full; it calls again once drained */
            return NGX_AGAIN;
        }

        k = ngx_http_ws_heartbeat_unstash(p, buf);
    }

    if (to->inject && size - k > NGX_HTTP_WSHB_PING_MAX) {
        reserve = ngx_http_ws_heartbeat_ping_len(i ^ 1);
    }

    n = peer->recv(c, buf + k, size - k - reserve);

    if (n <= 0) {

        if (n == NGX_AGAIN) {
            if (k) {
                ngx_http_ws_heartbeat_restash(p, buf, k);
            }

            return NGX_AGAIN;
        }

        goto done;
    }

    /* the bytes withheld last time are in the stream again */
    to->adjust += k;

    len = ngx_http_ws_heartbeat_read(ctx, i, buf, k + n, n,
                                     reserve ? &at : NULL, 0);

    if (reserve && to->inject && !ctx->passthrough
        && at != NGX_HTTP_WSHB_NO_BOUNDARY)
    {
        ngx_memmove(buf + at + reserve, buf + at, len - at);
        (void) ngx_http_ws_heartbeat_build(ctx, i ^ 1, buf + at);

        /* queued up to the end of the ping first, then the rest */

        to->adjust += at + reserve - len;
        to->inject = 0;
        p->divert = 0;
        ngx_http_ws_heartbeat_ping_queued(ctx, i ^ 1);

        to->adjust += len - at;
        return len + reserve;
    }

    if (len) {
        return len;
    }

    return ngx_http_ws_heartbeat_withheld(ctx, i);

done:

    if (n != 0 && n != NGX_ERROR) {
        return n;
    }

    if (k) {
        /* the stream ends inside a withheld frame: that goes as it is */

        ctx->cut = 1;
        (void) ngx_http_ws_heartbeat_ended(ctx, i, n);

        return k;
    }

    return ngx_http_ws_heartbeat_ended(ctx, i, n);
}


/*
 * The rare events: pongs to our pings (this many new ones), a close frame,
 * a parse error
 */

static void
ngx_http_ws_heartbeat_events(ngx_http_ws_heartbeat_ctx_t *ctx, ngx_uint_t i,
    uint32_t pongs)
{
    ngx_http_ws_heartbeat_parser_t  *p;

    p = &ctx->peer[i].parser;

    if (pongs) {
        ngx_http_ws_heartbeat_pong(ctx, i, pongs);
    }

    if (p->closed && !ctx->close_seen) {
        ctx->close_seen = 1;

        if (ctx->reason == NGX_HTTP_WSHB_REASON_NONE) {
            ctx->reason = NGX_HTTP_WSHB_CLIENT_CLOSE + i;
        }

        ngx_http_ws_heartbeat_publish(ctx, NGX_HTTP_WSHB_STATE_CLOSING);
    }

    if (p->error) {
        ngx_http_ws_heartbeat_fail(ctx, i);
    }
}


/*
 * The upstream's finalize_request, chained: nginx calls it before it
 * closes the upstream connection, the only moment at which both
 * connections are still this session's for sure.  The request may live
 * on without the upstream connection (a lingering close), so the session
 * ends here; its context stays for the log phase until the request pool
 * goes.
 */

static void
ngx_http_ws_heartbeat_finalize(ngx_http_request_t *r, ngx_int_t rc)
{
    ngx_http_ws_heartbeat_ctx_t  *ctx;

    ctx = ngx_http_ws_heartbeat_get_ctx(r);

    if (ctx->active) {
        ngx_http_ws_heartbeat_end(ctx);
    }

    ctx->hook.finalize(r, rc);
}


/*
 * The end of the session, while both connections are still its own: its
 * timer and its recv wrappers go, its record is published a last time and
 * freed.  From then on nothing of the module touches either connection.
 */

static void
ngx_http_ws_heartbeat_end(ngx_http_ws_heartbeat_ctx_t *ctx)
{
    ngx_connection_t              *c, *uc;
    ngx_http_ws_heartbeat_zone_t  *zone;

    ngx_http_ws_heartbeat_timer_del(&ctx->timer);

    c = ctx->client;
    uc = ngx_http_ws_heartbeat_connection(ctx, NGX_HTTP_WSHB_UPSTREAM);

    if (c->recv == ngx_http_ws_heartbeat_recv_client) {
        c->recv = ctx->peer[NGX_HTTP_WSHB_CLIENT].recv;
    }

    if (uc->recv == ngx_http_ws_heartbeat_recv_upstream) {
        uc->recv = ctx->peer[NGX_HTTP_WSHB_UPSTREAM].recv;
    }

    ctx->active = 0;
    ngx_http_ws_heartbeat_nsessions--;

    ctx->reason = ngx_http_ws_heartbeat_final_reason(
                      ngx_http_ws_heartbeat_request(ctx), ctx);

    zone = ngx_http_ws_heartbeat_worker.zone;

    if (zone) {
        /* the "deleted" delta tells the rest */

        ctx->ending = 1;
        ngx_http_ws_heartbeat_publish(ctx, NGX_HTTP_WSHB_STATE_CLOSING);

        (void) ngx_atomic_fetch_add(&zone->sh->totals.closed[ctx->reason], 1);
        ngx_http_ws_heartbeat_duration(zone, ctx->reason,
                                       (ngx_http_ws_heartbeat_msec_t)
                                       (ngx_http_ws_heartbeat_msec()
                                        - ctx->start));

        /* without a record too: it is no longer counted as open */

        ngx_http_ws_heartbeat_record_free(zone, ctx->record);
        ctx->record = NGX_HTTP_WSHB_NO_RECORD;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "ws_heartbeat: session " NGX_HTTP_WSHB_ID_FMT " done",
                   (uint32_t) ngx_http_ws_heartbeat_worker.start, ngx_pid,
                   ctx->counter);
}


/*
 * The request pool's cleanup: the context goes back to the free list.  A
 * session that is still active here (its request ended without its
 * upstream being finalized) ends first.
 */

static void
ngx_http_ws_heartbeat_cleanup(void *data)
{
    ngx_http_ws_heartbeat_ctx_t *ctx = data;

    if (ctx->active) {
        ngx_http_ws_heartbeat_end(ctx);
    }

    ngx_http_ws_heartbeat_ctx_free(ctx);
}


/*
 * Every second while the worker has sessions: the limit probe (see
 * ngx_http_ws_heartbeat_probe()) if a limit may need it, or, once the
 * worker is shutting down, the drain.  Our pings would keep its sessions
 * alive for ever: they are closed with 1001, spread evenly over the drain
 * window, so that clients do not all reconnect at the same moment.
 * Answers whether it is wanted again.
 */

static ngx_uint_t
ngx_http_ws_heartbeat_watch(ngx_log_t *log)
{
    ngx_http_ws_heartbeat_zone_t   *zone;
    ngx_http_ws_heartbeat_drain_t   d;

    if (ngx_http_ws_heartbeat_nsessions == 0) {
        return 0;
    }

    /* a DELETE in a worker that could not wake this one: a reload's */

    ngx_http_ws_heartbeat_close_marked();

    if (!ngx_exiting) {
        zone = ngx_http_ws_heartbeat_worker.zone;

        if (ngx_http_ws_heartbeat_limits_pressed(zone)) {
            ngx_http_ws_heartbeat_probe(NULL, 0);
        }

        return 1;
    }

    d.n = ngx_http_ws_heartbeat_nsessions;
    d.k = 0;

    ngx_http_ws_heartbeat_each(ngx_http_ws_heartbeat_drain_one, &d);

    if (d.k) {
        ngx_log_error(NGX_LOG_NOTICE, log, 0,
                      "ws_heartbeat: worker exiting, draining %ui sessions",
                      d.n);
    }

    /* on, for the DELETEs that mark its sessions while they drain */

    return 1;
}


static void
ngx_http_ws_heartbeat_drain_one(ngx_http_ws_heartbeat_ctx_t *ctx, void *data)
{
    ngx_http_ws_heartbeat_drain_t *d = data;

    ngx_msec_t                          delay;
    ngx_http_request_t                 *r;
    ngx_http_ws_heartbeat_main_conf_t  *wmcf;

    if (ctx->draining || ctx->closing) {
        return;
    }

    r = ngx_http_ws_heartbeat_request(ctx);
    wmcf = ngx_http_ws_heartbeat_get_main_conf(r);

    /* the k-th of n at k/n of the window: the last one at its end */

    delay = wmcf->drain * ++d->k / d->n;
    ngx_http_ws_heartbeat_drain(ctx, ngx_max(delay, 1));
}


/* another worker's DELETE: see ngx_http_ws_heartbeat_wake.c */

static void
ngx_http_ws_heartbeat_woken(ngx_event_t *ev)
{
    ngx_http_ws_heartbeat_close_marked();
}


/*
 * Near a session limit (ws_heartbeat_max_sessions), every session of it
 * from which nothing came for a timeout is pinged now rather than at its
 * next interval, so zombies are found within about one timeout; near a
 * limit per key, every such session of the key.  Called every second
 * from the watch, and at once by the limit handlers (with the limit, and
 * the key, that is under pressure).
 */

void
ngx_http_ws_heartbeat_probe(ngx_http_ws_heartbeat_limit_t *limit,
    uint32_t key)
{
    ngx_http_ws_heartbeat_probe_t  p;

    p.limit = limit;
    p.key = key;
    p.now = ngx_http_ws_heartbeat_msec();

    ngx_http_ws_heartbeat_each(ngx_http_ws_heartbeat_probe_one, &p);
}


static void
ngx_http_ws_heartbeat_probe_one(ngx_http_ws_heartbeat_ctx_t *ctx, void *data)
{
    ngx_http_ws_heartbeat_probe_t *p = data;

    ngx_http_ws_heartbeat_probe_session(ctx, p->limit, p->key, p->now);
}
