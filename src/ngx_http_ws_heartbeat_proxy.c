
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 *
 * The upgraded proxy session: recv wrappers on both connections parse
 * frames and remove our pongs; pings and close frames are put into nginx's
 * own upgrade buffers at frame boundaries, so that nginx itself deals with
 * partial writes, TLS and send_timeout.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <sys/ioctl.h>
#if (NGX_LINUX)
#include <linux/sockios.h>
#endif

#include "ngx_http_ws_heartbeat_module.h"


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

#define NGX_HTTP_WSHB_WATCH_INTERVAL  1000
#define NGX_HTTP_WSHB_CTX_CHUNK       64
#define NGX_HTTP_WSHB_NO_TIMER        ((uint32_t) -1)
#define NGX_HTTP_WSHB_MAX_WAITS       3
#define NGX_HTTP_WSHB_CLOSE_WAIT      1000

#define NGX_HTTP_WSHB_DEAD            0
#define NGX_HTTP_WSHB_ALIVE           1
#define NGX_HTTP_WSHB_WAIT            2


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
static ngx_http_ws_heartbeat_noinline ssize_t ngx_http_ws_heartbeat_ended(
    ngx_http_ws_heartbeat_ctx_t *ctx, ngx_uint_t i, ssize_t n);
static ssize_t ngx_http_ws_heartbeat_discard(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_uint_t i, ngx_connection_t *c, u_char *buf, size_t size);
static void ngx_http_ws_heartbeat_events(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_uint_t i, uint32_t pongs);
static void ngx_http_ws_heartbeat_early(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_uint_t i, ngx_buf_t *b);
static void ngx_http_ws_heartbeat_fail(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_uint_t i);
static ngx_buf_t *ngx_http_ws_heartbeat_buffer_to(
    ngx_http_ws_heartbeat_ctx_t *ctx, ngx_uint_t i);
static ngx_http_ws_heartbeat_msec_t ngx_http_ws_heartbeat_last_rx(
    ngx_http_ws_heartbeat_peer_t *peer);
static ngx_http_ws_heartbeat_msec_t ngx_http_ws_heartbeat_last_data(
    ngx_http_ws_heartbeat_ctx_t *ctx);
static ngx_inline uint64_t ngx_http_ws_heartbeat_queued(
    ngx_http_ws_heartbeat_ctx_t *ctx, ngx_uint_t i);
static size_t ngx_http_ws_heartbeat_pending_to(
    ngx_http_ws_heartbeat_ctx_t *ctx, ngx_uint_t i);
static size_t ngx_http_ws_heartbeat_held_from(
    ngx_http_ws_heartbeat_ctx_t *ctx, ngx_uint_t i);
static ngx_int_t ngx_http_ws_heartbeat_append(
    ngx_http_ws_heartbeat_ctx_t *ctx, ngx_uint_t i, u_char *frame,
    size_t len);
static void ngx_http_ws_heartbeat_ping(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_uint_t i);
static size_t ngx_http_ws_heartbeat_build(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_uint_t i, u_char *out);
static void ngx_http_ws_heartbeat_pass(ngx_http_ws_heartbeat_ctx_t *ctx);
static void ngx_http_ws_heartbeat_divert(ngx_http_ws_heartbeat_ctx_t *ctx);
static void ngx_http_ws_heartbeat_ping_queued(
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
static ngx_int_t ngx_http_ws_heartbeat_window(ngx_connection_t *c,
    uint32_t *edge, uint32_t *wnd);
static ngx_uint_t ngx_http_ws_heartbeat_outq(ngx_connection_t *c);
static void ngx_http_ws_heartbeat_timer_handler(
    ngx_http_ws_heartbeat_ctx_t *ctx);
static void ngx_http_ws_heartbeat_timer_add(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_msec_t delay);
static void ngx_http_ws_heartbeat_timer_del(ngx_http_ws_heartbeat_ctx_t *ctx);
static void ngx_http_ws_heartbeat_heap_up(ngx_uint_t i);
static void ngx_http_ws_heartbeat_heap_down(ngx_uint_t i);
static void ngx_http_ws_heartbeat_tick(ngx_event_t *ev);
static void ngx_http_ws_heartbeat_schedule(ngx_http_ws_heartbeat_ctx_t *ctx);
static void ngx_http_ws_heartbeat_close(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_uint_t reason, ngx_uint_t to_client, ngx_uint_t to_upstream);
static void ngx_http_ws_heartbeat_send_close(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_uint_t i, ngx_uint_t reason);
static void ngx_http_ws_heartbeat_finish(ngx_http_ws_heartbeat_ctx_t *ctx);
static void ngx_http_ws_heartbeat_rtt(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_uint_t i);
static void ngx_http_ws_heartbeat_arm(ngx_msec_t key);
static void ngx_http_ws_heartbeat_watch(ngx_log_t *log);
static void ngx_http_ws_heartbeat_probe_session(
    ngx_http_ws_heartbeat_ctx_t *ctx, ngx_http_ws_heartbeat_limit_t *limit,
    ngx_http_ws_heartbeat_msec_t now);
static void ngx_http_ws_heartbeat_finalize(ngx_http_request_t *r,
    ngx_int_t rc);
static void ngx_http_ws_heartbeat_end(ngx_http_ws_heartbeat_ctx_t *ctx);
static void ngx_http_ws_heartbeat_cleanup(void *data);
static ngx_http_ws_heartbeat_ctx_t *ngx_http_ws_heartbeat_ctx_alloc(
    ngx_log_t *log);


ngx_str_t  ngx_http_ws_heartbeat_reasons[] = {
    ngx_null_string,
    ngx_string("client_close"),
    ngx_string("upstream_close"),
    ngx_string("client_timeout"),
    ngx_string("upstream_timeout"),
    ngx_string("idle_timeout"),
    ngx_string("shutdown"),
    ngx_string("error"),
    ngx_string("proxy_timeout"),
    ngx_string("worker_lost")
};


static char  *ngx_http_ws_heartbeat_close_text[] = {
    "",
    "client closed",
    "upstream closed",
    "client heartbeat timeout",
    "upstream heartbeat timeout",
    "idle timeout",
    "server shutting down",
    "",
    "",
    ""
};


static char  *ngx_http_ws_heartbeat_peer_name[] = { "client", "upstream" };


/*
 * Contexts come in blocks, kept for the worker's life, freed at its exit;
 * the sessions are walked block by block (ctx->active).
 */

typedef struct ngx_http_ws_heartbeat_block_s  ngx_http_ws_heartbeat_block_t;

struct ngx_http_ws_heartbeat_block_s {
    ngx_http_ws_heartbeat_block_t    *next;
    ngx_http_ws_heartbeat_ctx_t       ctx[NGX_HTTP_WSHB_CTX_CHUNK];
};

static ngx_http_ws_heartbeat_block_t  *ngx_http_ws_heartbeat_blocks;
static ngx_uint_t     ngx_http_ws_heartbeat_nsessions;

/*
 * Session timers: a binary heap of this worker's own, ordered by
 * ctx->key, and one nginx timer for the earliest of them (an ngx_event_t
 * per session would be 96 bytes of which a timer uses 40, a tree node 40).
 * The same nginx timer runs the watch, every second while there are
 * sessions: each timer of nginx's own tree makes finding the next one
 * dearer on every event loop turn.
 *
 * One array with room for a pointer per context (doubled as needed)
 * holds both the heap, from its start, and the free contexts, from its
 * end: a context is in one or the other or, live without a timer, in
 * neither.
 */

static ngx_http_ws_heartbeat_ctx_t  **ngx_http_ws_heartbeat_heap;
static ngx_uint_t         ngx_http_ws_heartbeat_nheap;
static ngx_uint_t         ngx_http_ws_heartbeat_nfree;
static ngx_uint_t         ngx_http_ws_heartbeat_nctx;   /* contexts */
static ngx_uint_t         ngx_http_ws_heartbeat_cap;    /* the array size */
static ngx_event_t        ngx_http_ws_heartbeat_ticker;
static ngx_msec_t         ngx_http_ws_heartbeat_watch_at;
static ngx_uint_t         ngx_http_ws_heartbeat_watching;
static ngx_uint_t     ngx_http_ws_heartbeat_counter;
time_t                ngx_http_ws_heartbeat_worker_start;

/* the zone of the cycle this worker serves: every session's */
static ngx_http_ws_heartbeat_zone_t  *ngx_http_ws_heartbeat_wzone;


ngx_int_t
ngx_http_ws_heartbeat_init_worker(ngx_cycle_t *cycle)
{
    ngx_http_ws_heartbeat_main_conf_t  *wmcf;

    wmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_ws_heartbeat_module);
    ngx_http_ws_heartbeat_wzone = wmcf ? wmcf->zone : NULL;

    ngx_http_ws_heartbeat_nsessions = 0;
    ngx_http_ws_heartbeat_counter = 0;
    ngx_http_ws_heartbeat_worker_start = ngx_time();

    ngx_http_ws_heartbeat_ticker.handler = ngx_http_ws_heartbeat_tick;
    ngx_http_ws_heartbeat_ticker.log = cycle->log;
    ngx_http_ws_heartbeat_ticker.data = cycle;
    ngx_http_ws_heartbeat_ticker.cancelable = 1;

    ngx_http_ws_heartbeat_watching = 0;

    return NGX_OK;
}


/*
 * Session contexts come from a per-worker free list, allocated in chunks:
 * from the request pool, a context taken after the handshake would often
 * start a new 4k pool block of its own.
 */

/*
 * At worker exit: nothing runs any session's code after exit_process, and
 * the module is unloaded right after, so its blocks must not outlive it.
 */

void
ngx_http_ws_heartbeat_exit_worker(ngx_cycle_t *cycle)
{
    ngx_http_ws_heartbeat_block_t  *block, *next;

    for (block = ngx_http_ws_heartbeat_blocks; block; block = next) {
        next = block->next;
        ngx_free(block);
    }

    ngx_http_ws_heartbeat_blocks = NULL;

    if (ngx_http_ws_heartbeat_heap) {
        ngx_free(ngx_http_ws_heartbeat_heap);
        ngx_http_ws_heartbeat_heap = NULL;
    }

    ngx_http_ws_heartbeat_nheap = 0;
    ngx_http_ws_heartbeat_nfree = 0;
    ngx_http_ws_heartbeat_nctx = 0;
    ngx_http_ws_heartbeat_cap = 0;
}


static ngx_http_ws_heartbeat_ctx_t *
ngx_http_ws_heartbeat_ctx_alloc(ngx_log_t *log)
{
    ngx_uint_t                      i, n;
    ngx_http_ws_heartbeat_ctx_t    *ctx, **heap;
    ngx_http_ws_heartbeat_block_t  *block;

    if (ngx_http_ws_heartbeat_nfree == 0) {
        n = ngx_http_ws_heartbeat_nctx + NGX_HTTP_WSHB_CTX_CHUNK;

        block = ngx_alloc(sizeof(ngx_http_ws_heartbeat_block_t), log);
        if (block == NULL) {
            return NULL;
        }

        /* a pointer for each context: the array doubles as needed */

        if (n > ngx_http_ws_heartbeat_cap) {
            n = ngx_max(n, 2 * ngx_http_ws_heartbeat_cap);

            heap = ngx_alloc(n * sizeof(ngx_http_ws_heartbeat_ctx_t *), log);
            if (heap == NULL) {
                ngx_free(block);
                return NULL;
            }

            /* no context is free: the heap is all there is to keep */

            if (ngx_http_ws_heartbeat_heap) {
                ngx_memcpy(heap, ngx_http_ws_heartbeat_heap,
                           ngx_http_ws_heartbeat_nheap
                           * sizeof(ngx_http_ws_heartbeat_ctx_t *));
                ngx_free(ngx_http_ws_heartbeat_heap);
            }

            ngx_http_ws_heartbeat_heap = heap;
            ngx_http_ws_heartbeat_cap = n;
        }

        block->next = ngx_http_ws_heartbeat_blocks;
        ngx_http_ws_heartbeat_blocks = block;
        ngx_http_ws_heartbeat_nctx += NGX_HTTP_WSHB_CTX_CHUNK;

        heap = ngx_http_ws_heartbeat_heap;
        n = ngx_http_ws_heartbeat_cap;

        for (i = 0; i < NGX_HTTP_WSHB_CTX_CHUNK; i++) {
            heap[n - 1 - i] = &block->ctx[i];
            block->ctx[i].active = 0;
        }

        ngx_http_ws_heartbeat_nfree = NGX_HTTP_WSHB_CTX_CHUNK;
    }

    ctx = ngx_http_ws_heartbeat_heap[ngx_http_ws_heartbeat_cap
                                     - ngx_http_ws_heartbeat_nfree--];

    ngx_memzero(ctx, sizeof(ngx_http_ws_heartbeat_ctx_t));
    ctx->heap = NGX_HTTP_WSHB_NO_TIMER;

    return ctx;
}


ngx_int_t
ngx_http_ws_heartbeat_start(ngx_http_request_t *r,
    ngx_http_ws_heartbeat_loc_conf_t *wlcf)
{
    u_char                              cookie[NGX_HTTP_WSHB_COOKIE_LEN];
    uint32_t                            rnd;
    ngx_msec_t                          delay;
    ngx_uint_t                          i;
    ngx_connection_t                   *c, *uc;
    ngx_pool_cleanup_t                 *cln;
    ngx_http_upstream_t                *u;
    ngx_http_ws_heartbeat_ctx_t        *ctx;
    ngx_http_ws_heartbeat_main_conf_t  *wmcf;

    c = r->connection;
    u = r->upstream;
    uc = u->peer.connection;

    if (uc == NULL || ngx_http_get_module_ctx(r, ngx_http_ws_heartbeat_module))
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

    ctx->start = ngx_http_ws_heartbeat_msec();
    ctx->counter = (uint32_t) ngx_http_ws_heartbeat_counter++;

    wmcf = ngx_http_get_module_main_conf(r, ngx_http_ws_heartbeat_module);

    ctx->record = NGX_HTTP_WSHB_NO_RECORD;

    if (ngx_http_ws_heartbeat_wzone) {
        ctx->record = ngx_http_ws_heartbeat_record_alloc(
                               ngx_http_ws_heartbeat_wzone, r,
                               (uint32_t) ngx_http_ws_heartbeat_worker_start,
                               ctx->counter);
    }

    /* "WSHB" and a per-session random cookie identify our pings */

    for (i = 0; i < NGX_HTTP_WSHB_COOKIE_LEN; i += 4) {
        rnd = (uint32_t) ngx_random() ^ ((uint32_t) ngx_random() << 16);
        ngx_memcpy(&cookie[i], &rnd, 4);
    }

    ctx->peer[NGX_HTTP_WSHB_CLIENT].connection = c;
    ctx->peer[NGX_HTTP_WSHB_CLIENT].recv = c->recv;
    ctx->peer[NGX_HTTP_WSHB_CLIENT].enabled = 1;
    ngx_http_ws_heartbeat_parser_init(&ctx->peer[NGX_HTTP_WSHB_CLIENT].parser,
                                      1, cookie);

    ctx->peer[NGX_HTTP_WSHB_UPSTREAM].connection = uc;
    ctx->peer[NGX_HTTP_WSHB_UPSTREAM].recv = uc->recv;
    ctx->peer[NGX_HTTP_WSHB_UPSTREAM].enabled = wlcf->upstream ? 1 : 0;
    ngx_http_ws_heartbeat_parser_init(
                                &ctx->peer[NGX_HTTP_WSHB_UPSTREAM].parser,
                                0, cookie);

    /* the first pings go an interval after the start; no data yet */

    for (i = 0; i < 2; i++) {
        ctx->peer[i].ping_time = ctx->start;
        ctx->peer[i].last_data = ctx->start;
    }

    ngx_http_set_ctx(r, ctx, ngx_http_ws_heartbeat_module);

    cln->handler = ngx_http_ws_heartbeat_cleanup;
    cln->data = ctx;

    ctx->finalize = u->finalize_request;
    u->finalize_request = ngx_http_ws_heartbeat_finalize;

    c->recv = ngx_http_ws_heartbeat_recv_client;
    uc->recv = ngx_http_ws_heartbeat_recv_upstream;

    ctx->active = 1;

    if (ngx_http_ws_heartbeat_nsessions++ == 0
        && !ngx_http_ws_heartbeat_watching)
    {
        ngx_http_ws_heartbeat_watching = 1;
        ngx_http_ws_heartbeat_watch_at = ngx_current_msec
                                         + NGX_HTTP_WSHB_WATCH_INTERVAL;
        ngx_http_ws_heartbeat_arm(ngx_http_ws_heartbeat_watch_at);
    }

    /* bytes that arrived with the handshake never pass through recv */

    ngx_http_ws_heartbeat_early(ctx, NGX_HTTP_WSHB_UPSTREAM, &u->buffer);
    ngx_http_ws_heartbeat_early(ctx, NGX_HTTP_WSHB_CLIENT, r->header_in);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "ws_heartbeat: session " NGX_HTTP_WSHB_ID_FMT " started",
                   ngx_http_ws_heartbeat_worker_start, ngx_pid,
                   ctx->counter);

    if (ngx_exiting) {
        ctx->draining = 1;
    }

    if (ctx->draining) {
        delay = ngx_random() % (wmcf->drain + 1);
        ngx_http_ws_heartbeat_timer_add(ctx, ngx_max(delay, 1));

    } else if (!ctx->passthrough) {
        ngx_http_ws_heartbeat_schedule(ctx);
    }

    return NGX_OK;
}


static void
ngx_http_ws_heartbeat_early(ngx_http_ws_heartbeat_ctx_t *ctx, ngx_uint_t i,
    ngx_buf_t *b)
{
    size_t  len;

    if (b == NULL || b->pos == NULL || b->last <= b->pos) {
        return;
    }

    len = b->last - b->pos;

    /* nothing can be removed yet: no ping of ours went out */

    (void) ngx_http_ws_heartbeat_parse(&ctx->peer[i].parser, b->pos, len,
                                       NULL);

    ctx->peer[i].rx_bytes += len;

    ngx_http_ws_heartbeat_events(ctx, i, 0);
}


static ssize_t
ngx_http_ws_heartbeat_recv_client(ngx_connection_t *c, u_char *buf,
    size_t size)
{
    ngx_http_request_t  *r;

    r = c->data;

    return ngx_http_ws_heartbeat_recv_fast(
                      ngx_http_get_module_ctx(r, ngx_http_ws_heartbeat_module),
                      NGX_HTTP_WSHB_CLIENT, c, buf, size);
}


static ssize_t
ngx_http_ws_heartbeat_recv_upstream(ngx_connection_t *c, u_char *buf,
    size_t size)
{
    ngx_http_request_t  *r;

    r = c->data;

    return ngx_http_ws_heartbeat_recv_fast(
                      ngx_http_get_module_ctx(r, ngx_http_ws_heartbeat_module),
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

    out += ngx_http_ws_heartbeat_parse(p, buf + out, len - out, at);

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
 * All of a read withheld, as the start of what may be our pong.  NGX_AGAIN
 * for a socket that is still ready would leave it unread (with edge-
 * triggered events nobody would call again), so the read event is posted
 * and nginx calls back.  Out of line: after their own recv call the
 * inline wrappers then need nothing but the session and the buffer.
 */

static ngx_http_ws_heartbeat_noinline ssize_t
ngx_http_ws_heartbeat_withheld(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_uint_t i)
{
    ngx_event_t  *rev;

    rev = ctx->peer[i].connection->read;

    if (rev->ready) {
        ngx_post_event(rev, &ngx_posted_events);
    }

    return NGX_AGAIN;
}


/*
 * Peer i's stream ended (n is 0 or NGX_ERROR).  Without a close frame
 * first, and with the stream toward the other peer at a frame boundary,
 * the other peer gets a close frame 1001 saying so, and may answer before
 * nginx closes: nginx learns of the end (the event's eof) only when
 * ngx_http_ws_heartbeat_finish() says so.  That needs edge-triggered
 * events, with which a socket at its end raises no further ones.
 */

static ngx_http_ws_heartbeat_noinline ssize_t
ngx_http_ws_heartbeat_ended(ngx_http_ws_heartbeat_ctx_t *ctx, ngx_uint_t i,
    ssize_t n)
{
    ngx_connection_t  *c;

    if (ctx->reason == NGX_HTTP_WSHB_REASON_NONE) {
        ctx->reason = (n == NGX_ERROR) ? NGX_HTTP_WSHB_ERROR
                                       : NGX_HTTP_WSHB_CLIENT_CLOSE + i;
    }

    if (ctx->passthrough || ctx->closing || ctx->close_seen || ctx->cut
        || ctx->peer[i].parser.slen
        || !ngx_http_ws_heartbeat_at_boundary(&ctx->peer[i].parser)
        || !(ngx_event_flags & NGX_USE_CLEAR_EVENT))
    {
        return n;
    }

    c = ctx->peer[i].connection;

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "ws_heartbeat: %s stream ended without a close frame, "
                   "session " NGX_HTTP_WSHB_ID_FMT,
                   ngx_http_ws_heartbeat_peer_name[i],
                   ngx_http_ws_heartbeat_worker_start, ngx_pid,
                   ctx->counter);

    ctx->peer[i].gone = 1;
    c->read->eof = 0;
    c->read->error = 0;

    ngx_http_ws_heartbeat_close(ctx, NGX_HTTP_WSHB_CLIENT_CLOSE + i,
                                i == NGX_HTTP_WSHB_UPSTREAM,
                                i == NGX_HTTP_WSHB_CLIENT);

    return NGX_AGAIN;
}


/*
 * A closing session: nothing more passes either way (a close frame of
 * ours went to one peer or both, and the other one, if any, is gone or
 * dead), but the bytes are read, so that an answering close frame is seen
 * and no unread byte makes the kernel reset the connection at the close.
 */

static ssize_t
ngx_http_ws_heartbeat_discard(ngx_http_ws_heartbeat_ctx_t *ctx, ngx_uint_t i,
    ngx_connection_t *c, u_char *buf, size_t size)
{
    ssize_t                          n;
    uint32_t                         control;
    uint64_t                         data;
    ngx_http_ws_heartbeat_peer_t    *peer;
    ngx_http_ws_heartbeat_parser_t  *p;

    peer = &ctx->peer[i];
    p = &peer->parser;

    if (peer->gone) {
        c->read->ready = 0;
        return NGX_AGAIN;
    }

    n = peer->recv(c, buf, size);

    if (n == NGX_AGAIN) {
        return n;
    }

    if (n <= 0) {
        peer->gone = 1;
        peer->answer = 0;
        c->read->eof = 0;
        c->read->error = 0;

    } else if (peer->answer) {
        /*
         * Nothing is withheld or removed any more, and nothing counted:
         * the bytes go nowhere
         */

        p->armed = 0;
        p->slen = 0;
        data = p->data_frames;
        control = p->control_frames;

        (void) ngx_http_ws_heartbeat_parse(p, buf, n, NULL);

        p->data_frames = data;
        p->control_frames = control;

        if (p->closed || p->error) {
            peer->answer = 0;
        }
    }

    if (!ctx->peer[0].answer && !ctx->peer[1].answer) {
        ngx_http_ws_heartbeat_finish(ctx);
        return NGX_AGAIN;
    }

    return ngx_http_ws_heartbeat_withheld(ctx, i);
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
    ngx_http_ws_heartbeat_zone_t    *zone;
    ngx_http_ws_heartbeat_peer_t    *peer;
    ngx_http_ws_heartbeat_parser_t  *p;

    zone = ngx_http_ws_heartbeat_wzone;
    peer = &ctx->peer[i];
    p = &peer->parser;

    if (pongs) {
        peer->last_pong = ngx_http_ws_heartbeat_msec();

        if (zone) {
            (void) ngx_atomic_fetch_add(&zone->sh->totals.pongs[i], pongs);
        }

        if (peer->awaiting && p->pong_seq == peer->pings) {
            peer->awaiting = 0;
            peer->drained = 1;
            peer->rtt = ngx_http_ws_heartbeat_msec() - peer->ping_time;
            peer->rtt_set = 1;

            ngx_http_ws_heartbeat_rtt(ctx, i);
            ngx_http_ws_heartbeat_publish(ctx, NGX_HTTP_WSHB_STATE_HEALTHY);

            /*
             * The timer stays: set at the earlier of the next ping time
             * and the deadline, it is never late, at worst early.
             */

            ngx_log_debug3(NGX_LOG_DEBUG_HTTP, peer->connection->log, 0,
                           "ws_heartbeat: %s pong %uD, rtt %M",
                           ngx_http_ws_heartbeat_peer_name[i],
                           p->pong_seq, (ngx_msec_t) peer->rtt);
        }
    }

    if (p->closed && !ctx->close_seen) {
        ctx->close_seen = 1;

        if (ctx->reason == NGX_HTTP_WSHB_REASON_NONE) {
            ctx->reason = NGX_HTTP_WSHB_CLIENT_CLOSE + i;
        }
    }

    if (p->error) {
        ngx_http_ws_heartbeat_fail(ctx, i);
    }
}


static void
ngx_http_ws_heartbeat_fail(ngx_http_ws_heartbeat_ctx_t *ctx, ngx_uint_t i)
{
    if (ctx->passthrough) {
        return;
    }

    ngx_log_error(NGX_LOG_INFO, ctx->peer[NGX_HTTP_WSHB_CLIENT].connection->log,
                  0, "ws_heartbeat: %s stream does not parse (%s), "
                  "session " NGX_HTTP_WSHB_ID_FMT " passed through from now on",
                  ngx_http_ws_heartbeat_peer_name[i],
                  ngx_http_ws_heartbeat_strerror(ctx->peer[i].parser.error),
                  NGX_HTTP_WSHB_ID(ctx));

    ngx_http_ws_heartbeat_pass(ctx);

    ngx_http_ws_heartbeat_publish(ctx, NGX_HTTP_WSHB_STATE_PASSTHROUGH);

    /* a draining session keeps its timer, set to its drain time */

    if (!ctx->draining) {
        ngx_http_ws_heartbeat_timer_del(ctx);
    }
}


/*
 * Both streams pass untouched from now on: no ping waits for a boundary,
 * and every read leaves the wrappers' fast path for the general one,
 * which passes bytes through.
 */

static void
ngx_http_ws_heartbeat_pass(ngx_http_ws_heartbeat_ctx_t *ctx)
{
    ctx->passthrough = 1;
    ngx_http_ws_heartbeat_divert(ctx);
}


/* every read leaves the fast path, and no ping waits for a boundary */

static void
ngx_http_ws_heartbeat_divert(ngx_http_ws_heartbeat_ctx_t *ctx)
{
    ctx->peer[0].inject = 0;
    ctx->peer[1].inject = 0;
    ctx->peer[0].parser.divert = 1;
    ctx->peer[1].parser.divert = 1;
}


/* nginx's buffer that carries bytes to peer i, if we may append to it */

static ngx_buf_t *
ngx_http_ws_heartbeat_buffer_to(ngx_http_ws_heartbeat_ctx_t *ctx, ngx_uint_t i)
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
 * The time of the last read from a peer, 0 if none.  A read of whole data
 * frames (the recv wrappers' fast path) leaves only last_data, the time of
 * the last data frame (the start until there is one); any other read sets
 * last_rx.  Times are 32-bit: "later" is judged by the sign of the
 * difference.
 */

static ngx_http_ws_heartbeat_msec_t
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


/* the time of the last data frame either way, or of the start */

static ngx_http_ws_heartbeat_msec_t
ngx_http_ws_heartbeat_last_data(ngx_http_ws_heartbeat_ctx_t *ctx)
{
    ngx_http_ws_heartbeat_msec_t  a, b;

    a = ctx->peer[NGX_HTTP_WSHB_CLIENT].last_data;
    b = ctx->peer[NGX_HTTP_WSHB_UPSTREAM].last_data;

    return (int32_t) (a - b) > 0 ? a : b;
}


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


static size_t
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


/*
 * Appends a frame to the bytes nginx is about to send to peer i, if the
 * stream to it is at a frame boundary and there is room; nginx's write
 * handler then sends it as any other byte.
 */

static ngx_int_t
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


static void
ngx_http_ws_heartbeat_ping(ngx_http_ws_heartbeat_ctx_t *ctx, ngx_uint_t i)
{
    size_t                             len;
    ngx_http_ws_heartbeat_peer_t      *peer;
    ngx_http_ws_heartbeat_zone_t      *zone;
    ngx_http_ws_heartbeat_loc_conf_t  *wlcf;
    u_char                             frame[NGX_HTTP_WSHB_PING_MAX];

    wlcf = ngx_http_ws_heartbeat_loc_conf(ctx);
    zone = ngx_http_ws_heartbeat_wzone;
    peer = &ctx->peer[i];

    peer->pings++;
    peer->awaiting = 1;
    peer->ping_time = ngx_http_ws_heartbeat_msec();
    peer->deadline = peer->ping_time + wlcf->timeout;
    peer->rx_mark = peer->rx_bytes;
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

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, peer->connection->log, 0,
                   "ws_heartbeat: ping %uD to %s",
                   peer->pings, ngx_http_ws_heartbeat_peer_name[i]);

    len = ngx_http_ws_heartbeat_build(ctx, i, frame);

    if (ngx_http_ws_heartbeat_append(ctx, i, frame, len) == NGX_OK) {
        ngx_http_ws_heartbeat_ping_queued(ctx, i);
        ngx_post_event(peer->connection->write, &ngx_posted_events);
        return;
    }

    /*
     * The recv wrapper of the other peer builds it again and puts it at
     * the next boundary; nothing of it is kept meanwhile.
     */

    peer->inject = 1;
    ctx->peer[i ^ 1].parser.divert = 1;
}


/* our ping number peer->pings to peer i, masked toward the upstream */

static size_t
ngx_http_ws_heartbeat_build(ngx_http_ws_heartbeat_ctx_t *ctx, ngx_uint_t i,
    u_char *out)
{
    uint32_t                       rnd;
    ngx_http_ws_heartbeat_peer_t  *peer;

    peer = &ctx->peer[i];

    if (i == NGX_HTTP_WSHB_CLIENT) {
        return ngx_http_ws_heartbeat_build_ping(out,
                                                ctx->peer[0].parser.cookie,
                                                peer->pings, NULL);
    }

    rnd = (uint32_t) ngx_random() ^ ((uint32_t) ngx_random() << 16);

    return ngx_http_ws_heartbeat_build_ping(out, ctx->peer[0].parser.cookie,
                                            peer->pings, (u_char *) &rnd);
}


static void
ngx_http_ws_heartbeat_ping_queued(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_uint_t i)
{
    ngx_http_ws_heartbeat_peer_t  *peer;

    peer = &ctx->peer[i];

    peer->ping_end = ngx_http_ws_heartbeat_queued(ctx, i);
}


/* a byte from peer i since our ping, passed on or still held by nginx */

static ngx_uint_t
ngx_http_ws_heartbeat_heard(ngx_http_ws_heartbeat_ctx_t *ctx, ngx_uint_t i)
{
    return ctx->peer[i].rx_bytes != ctx->peer[i].rx_mark
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
 * suspended app, a hung event loop) keeps its kernel taking bytes into
 * its receive buffer, so bytes leaving nginx or the socket prove nothing.
 * Only the application frees room in that buffer, and that moves the right
 * edge of the window the peer advertises (bytes acknowledged + window)
 * forward:
 *
 * - our ping not yet in the peer's kernel (in nginx's buffer or the
 *   socket's send queue, or not yet in the stream, which is mid-frame,
 *   while bytes are on their way): it reads if the edge moved since the
 *   last look;
 *
 * - our ping in the peer's kernel: it reads if the edge moved and the
 *   window did not shrink, or the window is closed (room freed and filled
 *   at once).  A stopped peer's window shrinks as data arrive and stay,
 *   even while its kernel still grows the window and so moves the edge.
 *
 * Looks are at the ping (unless nothing was in flight then) and at each
 * deadline.  Without the window (a kernel before Linux 5.4, another
 * system): ngx_http_ws_heartbeat_progress().
 */

static ngx_uint_t
ngx_http_ws_heartbeat_reading(ngx_http_ws_heartbeat_ctx_t *ctx, ngx_uint_t i)
{
    size_t                         pending;
    uint32_t                       edge, wnd;
    uint64_t                       sent;
    ngx_uint_t                     rc, outq, delivered, moved;
    ngx_http_ws_heartbeat_peer_t  *peer;

    peer = &ctx->peer[i];

    if (ngx_http_ws_heartbeat_window(peer->connection, &edge, &wnd)
        != NGX_OK)
    {
        return ngx_http_ws_heartbeat_progress(ctx, i);
    }

    pending = ngx_http_ws_heartbeat_pending_to(ctx, i);
    sent = ngx_http_ws_heartbeat_queued(ctx, i) - pending;
    outq = ngx_http_ws_heartbeat_outq(peer->connection);

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

    moved = peer->looked && (int32_t) (edge - peer->edge) > 0;

    if (peer->inject && pending == 0 && outq == 0) {
        /* nothing is on its way to the peer: it owes nothing yet */
        rc = NGX_HTTP_WSHB_WAIT;

    } else if (!peer->looked) {
        /* nothing was in flight at the ping: it met an open window */
        rc = delivered ? NGX_HTTP_WSHB_DEAD : NGX_HTTP_WSHB_WAIT;

    } else if (!delivered) {
        rc = moved ? NGX_HTTP_WSHB_WAIT : NGX_HTTP_WSHB_DEAD;

    } else {
        rc = (moved && (wnd >= peer->wnd || wnd == 0))
             ? NGX_HTTP_WSHB_WAIT : NGX_HTTP_WSHB_DEAD;
    }

    ngx_log_debug8(NGX_LOG_DEBUG_HTTP, peer->connection->log, 0,
                   "ws_heartbeat: %s silent: edge %uD -> %uD, window "
                   "%uD -> %uD, ping delivered %ui, outq %ui: %ui",
                   ngx_http_ws_heartbeat_peer_name[i], peer->edge, edge,
                   peer->wnd, wnd, delivered, outq, rc);

    peer->edge = edge;
    peer->wnd = wnd;
    peer->looked = 1;

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
    outq = ngx_http_ws_heartbeat_outq(peer->connection);

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


/* a look at peer i at our ping, for ngx_http_ws_heartbeat_reading() */

static void
ngx_http_ws_heartbeat_look(ngx_http_ws_heartbeat_ctx_t *ctx, ngx_uint_t i)
{
    ngx_http_ws_heartbeat_peer_t  *peer;

    peer = &ctx->peer[i];

    if (ngx_http_ws_heartbeat_window(peer->connection, &peer->edge,
                                     &peer->wnd)
        != NGX_OK)
    {
        peer->edge = (uint32_t) ngx_http_ws_heartbeat_outq(peer->connection);
        peer->wnd = (uint32_t) (ngx_http_ws_heartbeat_queued(ctx, i)
                                - ngx_http_ws_heartbeat_pending_to(ctx, i));
    }

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


/* the socket's send queue: bytes not yet acknowledged by the peer */

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


static void
ngx_http_ws_heartbeat_timer_handler(ngx_http_ws_heartbeat_ctx_t *ctx)
{
    ngx_uint_t                         i, rc, pinged;
    ngx_log_t                         *log;
    ngx_http_ws_heartbeat_msec_t       now;
    ngx_http_ws_heartbeat_peer_t      *peer;
    ngx_http_ws_heartbeat_loc_conf_t  *wlcf;

    log = ctx->peer[NGX_HTTP_WSHB_CLIENT].connection->log;
    now = ngx_http_ws_heartbeat_msec();
    wlcf = ngx_http_ws_heartbeat_loc_conf(ctx);

    if (ctx->closing) {
        /* a close frame of ours went unanswered in time */
        ngx_http_ws_heartbeat_finish(ctx);
        return;
    }

    if (ctx->passthrough) {
        /* no frame boundaries are known: a drain ends it as it is */

        if (ctx->draining) {
            ctx->reason = NGX_HTTP_WSHB_SHUTDOWN;
            ngx_http_ws_heartbeat_finish(ctx);
        }

        return;
    }

    if (ctx->draining) {
        /* its timer was set to the drain time, and nothing moved it */

        ngx_http_ws_heartbeat_publish(ctx, 0);
        ngx_http_ws_heartbeat_close(ctx, NGX_HTTP_WSHB_SHUTDOWN, 1, 1);
        return;
    }

    if (ctx->close_seen) {
        /* the closing handshake is under way: nginx ends the session */
        ngx_http_ws_heartbeat_publish(ctx, 0);
        return;
    }

    for (i = 0; i < 2; i++) {
        peer = &ctx->peer[i];

        if (!peer->enabled || !peer->awaiting) {
            continue;
        }

        /*
         * Before the deadline (the timer may wake at the next ping time)
         * only bytes from the peer count; progress in sending to it is
         * judged over the whole timeout, at the deadline.
         */

        if ((int32_t) (now - peer->deadline) < 0) {
            if (ngx_http_ws_heartbeat_heard(ctx, i)) {
                peer->awaiting = 0;
            }

            continue;
        }

        rc = ngx_http_ws_heartbeat_alive(ctx, i);

        if (rc == NGX_HTTP_WSHB_ALIVE) {
            peer->awaiting = 0;

        } else if (rc == NGX_HTTP_WSHB_WAIT) {
            peer->deadline = now + wlcf->timeout;

        } else {
            ngx_log_error(NGX_LOG_INFO, log, 0,
                          "ws_heartbeat: %s did not answer ping %uD "
                          "within %M ms, closing session "
                          NGX_HTTP_WSHB_ID_FMT,
                          ngx_http_ws_heartbeat_peer_name[i],
                          peer->pings, wlcf->timeout,
                          NGX_HTTP_WSHB_ID(ctx));

            ngx_http_ws_heartbeat_close(ctx,
                                        NGX_HTTP_WSHB_CLIENT_TIMEOUT + i,
                                        i == NGX_HTTP_WSHB_UPSTREAM,
                                        i == NGX_HTTP_WSHB_CLIENT);
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
        ngx_log_error(NGX_LOG_INFO, log, 0,
                      "ws_heartbeat: no data for %M ms, closing session "
                      NGX_HTTP_WSHB_ID_FMT,
                      wlcf->idle_timeout,
                      NGX_HTTP_WSHB_ID(ctx));

        ngx_http_ws_heartbeat_close(ctx, NGX_HTTP_WSHB_IDLE_TIMEOUT, 1, 1);
        return;
    }

    if (!pinged) {
        ngx_http_ws_heartbeat_publish(ctx, 0);
    }

    ngx_http_ws_heartbeat_schedule(ctx);
}


static void
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
         * comes first, so that a pong in time needs no move of the timer
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

    if (min < 1) {
        min = 1;
    }

    ngx_http_ws_heartbeat_timer_add(ctx, (ngx_msec_t) min);
}


static void
ngx_http_ws_heartbeat_timer_add(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_msec_t delay)
{
    uint32_t  key, old;

    key = (uint32_t) (ngx_current_msec + delay);

    if (ctx->heap == NGX_HTTP_WSHB_NO_TIMER) {
        ctx->key = key;
        ctx->heap = (uint32_t) ngx_http_ws_heartbeat_nheap;
        ngx_http_ws_heartbeat_heap[ngx_http_ws_heartbeat_nheap++] = ctx;
        ngx_http_ws_heartbeat_heap_up(ctx->heap);

    } else {
        old = ctx->key;

        if (old == key) {
            return;
        }

        ctx->key = key;

        if ((int32_t) (key - old) < 0) {
            ngx_http_ws_heartbeat_heap_up(ctx->heap);

        } else {
            ngx_http_ws_heartbeat_heap_down(ctx->heap);
        }
    }

    ngx_http_ws_heartbeat_arm(ngx_current_msec + delay);
}


/* the ticker fires at key at the latest */

static void
ngx_http_ws_heartbeat_arm(ngx_msec_t key)
{
    ngx_event_t  *ticker;

    ticker = &ngx_http_ws_heartbeat_ticker;

    if (ticker->timer_set) {
        if ((ngx_msec_int_t) (key - ticker->timer.key) >= 0) {
            return;
        }

        /* not ngx_add_timer() on a set timer: it may keep the later one */

        ngx_del_timer(ticker);
    }

    ngx_add_timer(ticker, key - ngx_current_msec);
}


static void
ngx_http_ws_heartbeat_timer_del(ngx_http_ws_heartbeat_ctx_t *ctx)
{
    ngx_uint_t                    i;
    ngx_http_ws_heartbeat_ctx_t  *last;

    if (ctx->heap == NGX_HTTP_WSHB_NO_TIMER) {
        return;
    }

    i = ctx->heap;
    ctx->heap = NGX_HTTP_WSHB_NO_TIMER;

    last = ngx_http_ws_heartbeat_heap[--ngx_http_ws_heartbeat_nheap];

    if (last == ctx) {
        return;
    }

    /* the last one in its place, then up or down to where it belongs */

    ngx_http_ws_heartbeat_heap[i] = last;
    last->heap = (uint32_t) i;

    if (i > 0
        && (int32_t) (last->key - ngx_http_ws_heartbeat_heap[(i - 1) / 2]->key)
           < 0)
    {
        ngx_http_ws_heartbeat_heap_up(i);

    } else {
        ngx_http_ws_heartbeat_heap_down(i);
    }
}


static void
ngx_http_ws_heartbeat_heap_up(ngx_uint_t i)
{
    ngx_uint_t                     parent;
    ngx_http_ws_heartbeat_ctx_t   *ctx, **heap;

    heap = ngx_http_ws_heartbeat_heap;
    ctx = heap[i];

    while (i > 0) {
        parent = (i - 1) / 2;

        if ((int32_t) (ctx->key - heap[parent]->key) >= 0) {
            break;
        }

        heap[i] = heap[parent];
        heap[i]->heap = (uint32_t) i;
        i = parent;
    }

    heap[i] = ctx;
    ctx->heap = (uint32_t) i;
}


static void
ngx_http_ws_heartbeat_heap_down(ngx_uint_t i)
{
    ngx_uint_t                     child, n;
    ngx_http_ws_heartbeat_ctx_t   *ctx, **heap;

    heap = ngx_http_ws_heartbeat_heap;
    n = ngx_http_ws_heartbeat_nheap;
    ctx = heap[i];

    for ( ;; ) {
        child = 2 * i + 1;

        if (child >= n) {
            break;
        }

        if (child + 1 < n
            && (int32_t) (heap[child + 1]->key - heap[child]->key) < 0)
        {
            child++;
        }

        if ((int32_t) (heap[child]->key - ctx->key) >= 0) {
            break;
        }

        heap[i] = heap[child];
        heap[i]->heap = (uint32_t) i;
        i = child;
    }

    heap[i] = ctx;
    ctx->heap = (uint32_t) i;
}


/*
 * Runs the session timers that are due and the watch if due, then waits
 * for the next of them.
 */

static void
ngx_http_ws_heartbeat_tick(ngx_event_t *ev)
{
    ngx_msec_t                    key;
    ngx_uint_t                    armed;
    ngx_http_ws_heartbeat_ctx_t  *ctx;

    while (ngx_http_ws_heartbeat_nheap) {

        ctx = ngx_http_ws_heartbeat_heap[0];

        if ((int32_t) (ctx->key - (uint32_t) ngx_current_msec) > 0) {
            break;
        }

        ngx_http_ws_heartbeat_timer_del(ctx);

        /* may set its timer again, always at least 1 ms ahead */

        ngx_http_ws_heartbeat_timer_handler(ctx);
    }

    if (ngx_http_ws_heartbeat_watching
        && (ngx_msec_int_t) (ngx_http_ws_heartbeat_watch_at
                             - ngx_current_msec) <= 0)
    {
        ngx_http_ws_heartbeat_watch(ev->log);
    }

    if (ev->timer_set) {
        ngx_del_timer(ev);
    }

    key = 0;
    armed = 0;

    if (ngx_http_ws_heartbeat_nheap) {
        ctx = ngx_http_ws_heartbeat_heap[0];
        key = ngx_current_msec
              + (ngx_msec_int_t) (int32_t) (ctx->key
                                            - (uint32_t) ngx_current_msec);
        armed = 1;
    }

    if (ngx_http_ws_heartbeat_watching
        && (!armed
            || (ngx_msec_int_t) (ngx_http_ws_heartbeat_watch_at - key) < 0))
    {
        key = ngx_http_ws_heartbeat_watch_at;
        armed = 1;
    }

    if (armed) {
        ngx_add_timer(ev, key - ngx_current_msec);
    }
}


/*
 * Ends the session: a close frame to each side named, and nothing more
 * either way.  A peer that got one may answer with its own for up to
 * NGX_HTTP_WSHB_CLOSE_WAIT ms (browsers then call the close clean), then
 * ngx_http_ws_heartbeat_finish() lets nginx end the request.
 */

static void
ngx_http_ws_heartbeat_close(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_uint_t reason, ngx_uint_t to_client, ngx_uint_t to_upstream)
{
    if (ctx->closing) {
        return;
    }

    ctx->closing = 1;

    if (ctx->reason == NGX_HTTP_WSHB_REASON_NONE) {
        ctx->reason = reason;
    }

    ngx_http_ws_heartbeat_timer_del(ctx);

    ngx_http_ws_heartbeat_publish(ctx, NGX_HTTP_WSHB_STATE_CLOSING);

    if (to_client) {
        ngx_http_ws_heartbeat_send_close(ctx, NGX_HTTP_WSHB_CLIENT, reason);
    }

    if (to_upstream) {
        ngx_http_ws_heartbeat_send_close(ctx, NGX_HTTP_WSHB_UPSTREAM, reason);
    }

    ngx_http_ws_heartbeat_divert(ctx);

    if (ctx->peer[NGX_HTTP_WSHB_CLIENT].answer
        || ctx->peer[NGX_HTTP_WSHB_UPSTREAM].answer)
    {
        ngx_http_ws_heartbeat_timer_add(ctx, NGX_HTTP_WSHB_CLOSE_WAIT);
        return;
    }

    ngx_http_ws_heartbeat_finish(ctx);
}


/*
 * nginx's upgraded-connection code ends the request from a posted event,
 * as after an end of stream on both sides
 */

static void
ngx_http_ws_heartbeat_finish(ngx_http_ws_heartbeat_ctx_t *ctx)
{
    ngx_connection_t  *c;

    ngx_http_ws_heartbeat_timer_del(ctx);

    c = ctx->peer[NGX_HTTP_WSHB_CLIENT].connection;

    c->read->eof = 1;
    ctx->peer[NGX_HTTP_WSHB_UPSTREAM].connection->read->eof = 1;

    ngx_post_event(c->write, &ngx_posted_events);
}


static void
ngx_http_ws_heartbeat_send_close(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_uint_t i, ngx_uint_t reason)
{
    char      *text;
    size_t     len;
    uint32_t   rnd;
    u_char     frame[NGX_HTTP_WSHB_CLOSE_MAX];

    text = ngx_http_ws_heartbeat_close_text[reason];

    if (i == NGX_HTTP_WSHB_CLIENT) {
        len = ngx_http_ws_heartbeat_build_close(frame, 1001, text,
                                                ngx_strlen(text), NULL);

    } else {
        rnd = (uint32_t) ngx_random() ^ ((uint32_t) ngx_random() << 16);
        len = ngx_http_ws_heartbeat_build_close(frame, 1001, text,
                                                ngx_strlen(text),
                                                (u_char *) &rnd);
    }

    if (ngx_http_ws_heartbeat_append(ctx, i, frame, len) != NGX_OK) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_http_ws_heartbeat_log(ctx), 0,
                       "ws_heartbeat: no close frame to %s, mid-frame",
                       ngx_http_ws_heartbeat_peer_name[i]);
        return;
    }

    /* nginx's write handler sends it, as it does any other byte */

    ctx->peer[i].answer = 1;

    ngx_post_event(ctx->peer[i].connection->write, &ngx_posted_events);
}


static void
ngx_http_ws_heartbeat_watch(ngx_log_t *log)
{
    ngx_msec_t                          delay;
    ngx_uint_t                          n, k, j;
    ngx_http_request_t                 *r;
    ngx_http_ws_heartbeat_ctx_t        *ctx;
    ngx_http_ws_heartbeat_block_t      *block;
    ngx_http_ws_heartbeat_main_conf_t  *wmcf;

    if (ngx_http_ws_heartbeat_nsessions == 0) {
        ngx_http_ws_heartbeat_watching = 0;
        return;
    }

    if (!ngx_exiting) {
        ngx_http_ws_heartbeat_probe(NULL);
        ngx_http_ws_heartbeat_watch_at = ngx_current_msec
                                         + NGX_HTTP_WSHB_WATCH_INTERVAL;
        return;
    }

    ngx_http_ws_heartbeat_watching = 0;

    /*
     * The worker is shutting down: our pings would keep its sessions alive
     * for ever.  Close them with 1001, spread evenly over the drain window
     * so that clients do not all reconnect at the same moment.
     */

    n = ngx_http_ws_heartbeat_nsessions;
    k = 0;

    ngx_log_error(NGX_LOG_NOTICE, log, 0,
                  "ws_heartbeat: worker exiting, draining %ui sessions", n);

    for (block = ngx_http_ws_heartbeat_blocks; block; block = block->next) {
        for (j = 0; j < NGX_HTTP_WSHB_CTX_CHUNK; j++) {
            ctx = &block->ctx[j];

            if (!ctx->active || ctx->draining || ctx->closing) {
                continue;
            }

            r = ngx_http_ws_heartbeat_request(ctx);
            wmcf = ngx_http_get_module_main_conf(r,
                                                 ngx_http_ws_heartbeat_module);

            /* the k-th of n at k/n of the window: the last one at its end */

            ctx->draining = 1;
            delay = wmcf->drain * ++k / n;
            ngx_http_ws_heartbeat_timer_add(ctx, ngx_max(delay, 1));
        }
    }
}


/*
 * Copies the session's counters to its record and adds what changed to
 * the zone's totals: from state changes and timers, never per frame.
 */

void
ngx_http_ws_heartbeat_publish(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_uint_t state)
{
    uint64_t                         frames;
    ngx_uint_t                       i, emit;
    ngx_http_ws_heartbeat_msec_t     last;
    ngx_http_ws_heartbeat_peer_t    *peer;
    ngx_http_ws_heartbeat_zone_t    *zone;
    ngx_http_ws_heartbeat_shctx_t   *sh;
    ngx_http_ws_heartbeat_totals_t  *totals;
    ngx_http_ws_heartbeat_record_t  *rec, before;

    zone = ngx_http_ws_heartbeat_wzone;

    if (zone == NULL) {
        return;
    }

    totals = &zone->sh->totals;

    if (ctx->record == NGX_HTTP_WSHB_NO_RECORD) {

        /* without a record to mark what was added: all of it at the end */

        if (ctx->ending) {
            for (i = 0; i < 2; i++) {
                peer = &ctx->peer[i];

                (void) ngx_atomic_fetch_add(&totals->frames[i],
                                 ngx_http_ws_heartbeat_frames(&peer->parser));
                (void) ngx_atomic_fetch_add(&totals->bytes[i],
                                            peer->rx_bytes);
            }
        }

        return;
    }

    rec = &zone->sh->records[ctx->record];

    /* a change of state is a delta for subscribers: keep the old record */

    emit = (state && state != rec->state && !ctx->ending);

    if (emit) {
        before = *rec;
    }

    for (i = 0; i < 2; i++) {
        peer = &ctx->peer[i];

        last = ngx_http_ws_heartbeat_last_rx(peer);
        rec->last_rx[i] = last ? last - ctx->start : 0;
        rec->last_pong[i] = peer->last_pong ? peer->last_pong - ctx->start
                                            : 0;
        rec->rtt[i] = peer->rtt_set ? peer->rtt : (uint32_t) -1;
        rec->pings[i] = peer->pings;
        rec->pongs[i] = peer->parser.pongs;

        /* the record has what the totals got so far */

        frames = ngx_http_ws_heartbeat_frames(&peer->parser);

        if (frames != rec->frames[i]) {
            (void) ngx_atomic_fetch_add(&totals->frames[i],
                                        frames - rec->frames[i]);
            rec->frames[i] = frames;
        }

        if (peer->rx_bytes != rec->bytes[i]) {
            (void) ngx_atomic_fetch_add(&totals->bytes[i],
                                        peer->rx_bytes - rec->bytes[i]);
            rec->bytes[i] = peer->rx_bytes;
        }
    }

    rec->reason = (u_char) ctx->reason;

    if (state) {
        rec->state = (u_char) state;
    }

    if (!emit) {
        return;
    }

    /*
     * The routine ping cycle (healthy <-> awaiting_pong) is only recorded
     * while somebody subscribes: with 20 000 sessions pinged every second
     * it is 40 000 deltas a second.  When it is not recorded, resumes from
     * before this point get a snapshot instead.  The record is written
     * before the subscribers are counted, so a subscriber that arrives
     * meanwhile has it in its snapshot.
     */

    if ((state == NGX_HTTP_WSHB_STATE_HEALTHY
         || state == NGX_HTTP_WSHB_STATE_AWAITING)
        && (before.state == NGX_HTTP_WSHB_STATE_HEALTHY
            || before.state == NGX_HTTP_WSHB_STATE_AWAITING))
    {
        ngx_memory_barrier();

        if (totals->subscribers[0] + totals->subscribers[1] == 0) {
            sh = zone->sh;

            /* written only when it moves: the line stays shared */

            if (sh->unrecorded != sh->seq + 1) {
                sh->unrecorded = sh->seq + 1;
            }

            return;
        }
    }

    ngx_shmtx_lock(&zone->shpool->mutex);
    ngx_http_ws_heartbeat_emit_locked(zone, NGX_HTTP_WSHB_UPDATED,
                                      &before, rec);
    ngx_shmtx_unlock(&zone->shpool->mutex);
}


static void
ngx_http_ws_heartbeat_rtt(ngx_http_ws_heartbeat_ctx_t *ctx, ngx_uint_t i)
{
    ngx_uint_t                       b;
    ngx_http_ws_heartbeat_totals_t  *totals;

    if (ngx_http_ws_heartbeat_wzone == NULL) {
        return;
    }

    totals = &ngx_http_ws_heartbeat_wzone->sh->totals;

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
 * Near a session limit (ws_heartbeat_max_sessions), every session of it
 * from which nothing came for a timeout is pinged now rather than at its
 * next interval, so zombies are found within about one timeout.  Called
 * every second from the watch, and at once by the limit handler (with
 * the limit that is under pressure).
 */

void
ngx_http_ws_heartbeat_probe(ngx_http_ws_heartbeat_limit_t *limit)
{
    ngx_uint_t                      j;
    ngx_http_ws_heartbeat_msec_t    now;
    ngx_http_ws_heartbeat_block_t  *block;

    now = ngx_http_ws_heartbeat_msec();

    for (block = ngx_http_ws_heartbeat_blocks; block; block = block->next) {
        for (j = 0; j < NGX_HTTP_WSHB_CTX_CHUNK; j++) {
            if (block->ctx[j].active) {
                ngx_http_ws_heartbeat_probe_session(&block->ctx[j], limit,
                                                    now);
            }
        }
    }
}


static void
ngx_http_ws_heartbeat_probe_session(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_http_ws_heartbeat_limit_t *limit, ngx_http_ws_heartbeat_msec_t now)
{
    ngx_http_ws_heartbeat_msec_t       last;
    ngx_http_ws_heartbeat_peer_t      *peer;
    ngx_http_ws_heartbeat_loc_conf_t  *wlcf;

    wlcf = ngx_http_ws_heartbeat_loc_conf(ctx);

    if (wlcf->limit == NULL
        || (limit && wlcf->limit != limit)
        || ctx->passthrough || ctx->closing || ctx->close_seen
        || ctx->draining)
    {
        return;
    }

    peer = &ctx->peer[NGX_HTTP_WSHB_CLIENT];
    last = ngx_http_ws_heartbeat_last_rx(peer);

    if (last == 0) {
        last = ctx->start;
    }

    if (peer->awaiting || now - last < wlcf->timeout
        || !ngx_http_ws_heartbeat_under_pressure(ngx_http_ws_heartbeat_wzone,
                                                 wlcf->limit))
    {
        return;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ngx_http_ws_heartbeat_log(ctx), 0,
                   "ws_heartbeat: probing session " NGX_HTTP_WSHB_ID_FMT,
                   ngx_http_ws_heartbeat_worker_start, ngx_pid,
                   ctx->counter);

    ngx_http_ws_heartbeat_ping(ctx, NGX_HTTP_WSHB_CLIENT);
    ngx_http_ws_heartbeat_schedule(ctx);
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

    ctx = ngx_http_get_module_ctx(r, ngx_http_ws_heartbeat_module);

    if (ctx->active) {
        if (ctx->reason == NGX_HTTP_WSHB_REASON_NONE
            && (rc == NGX_HTTP_REQUEST_TIME_OUT
                || rc == NGX_HTTP_GATEWAY_TIME_OUT))
        {
            ctx->reason = NGX_HTTP_WSHB_PROXY_TIMEOUT;
        }

        ngx_http_ws_heartbeat_end(ctx);
    }

    ctx->finalize(r, rc);
}


/*
 * Why the session ended, when none of our own reasons applies: nginx's
 * timeouts of the upgraded connections (ngx_http_ws_heartbeat_finalize()
 * sees them in rc, but the request may also be finalized otherwise).
 */

ngx_uint_t
ngx_http_ws_heartbeat_final_reason(ngx_http_request_t *r,
    ngx_http_ws_heartbeat_ctx_t *ctx)
{
    ngx_connection_t  *uc;

    if (ctx->reason != NGX_HTTP_WSHB_REASON_NONE) {
        return ctx->reason;
    }

    uc = ctx->peer[NGX_HTTP_WSHB_UPSTREAM].connection;

    if (r->connection->timedout
        || (uc && (uc->read->timedout || uc->write->timedout)))
    {
        return NGX_HTTP_WSHB_PROXY_TIMEOUT;
    }

    return NGX_HTTP_WSHB_ERROR;
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

    ngx_http_ws_heartbeat_timer_del(ctx);

    c = ctx->peer[NGX_HTTP_WSHB_CLIENT].connection;
    uc = ctx->peer[NGX_HTTP_WSHB_UPSTREAM].connection;

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

    zone = ngx_http_ws_heartbeat_wzone;

    if (zone) {
        /* the "deleted" delta tells the rest */

        ctx->ending = 1;
        ngx_http_ws_heartbeat_publish(ctx, NGX_HTTP_WSHB_STATE_CLOSING);

        (void) ngx_atomic_fetch_add(&zone->sh->totals.closed[ctx->reason], 1);

        if (ctx->record != NGX_HTTP_WSHB_NO_RECORD) {
            ngx_http_ws_heartbeat_record_free(zone, ctx->record);
            ctx->record = NGX_HTTP_WSHB_NO_RECORD;
        }
    }

    ctx->peer[NGX_HTTP_WSHB_UPSTREAM].connection = NULL;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "ws_heartbeat: session " NGX_HTTP_WSHB_ID_FMT " done",
                   ngx_http_ws_heartbeat_worker_start, ngx_pid,
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

    ngx_http_ws_heartbeat_nfree++;
    ngx_http_ws_heartbeat_heap[ngx_http_ws_heartbeat_cap
                               - ngx_http_ws_heartbeat_nfree] = ctx;
}
