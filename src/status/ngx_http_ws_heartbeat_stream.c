
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 *
 * The delta stream's fan-out: subscribers of the status location, over
 * WebSocket (the module is the server) or Server-Sent Events, get a
 * snapshot of the session table (or a replay from the ring) and then every
 * session delta from the zone's ring, whichever worker produced it.  Each
 * worker with subscribers polls the ring's sequence number.  A
 * subscriber's own connection is ngx_http_ws_heartbeat_subscriber.c's.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_ws_heartbeat_status_module.h"
#include "ngx_http_ws_heartbeat_out.h"
#include "ngx_http_ws_heartbeat_json.h"
#include "ngx_http_ws_heartbeat_stream.h"
#include "ngx_http_ws_heartbeat_slices.h"
#include "ngx_http_ws_heartbeat_filter.h"
#include "ngx_http_ws_heartbeat_subscriber.h"


#define NGX_HTTP_WSHB_POLL          20      /* ms between looks at the ring */
#define NGX_HTTP_WSHB_EVENT_BATCH   32

/* how far a snapshot's slices may run ahead of what the reader took */
#define NGX_HTTP_WSHB_SNAPSHOT_AHEAD  (1024 * 1024)
#define NGX_HTTP_WSHB_MESSAGE_MAX   (2 * NGX_HTTP_WSHB_RECORD_JSON + 512)


static void ngx_http_ws_heartbeat_sub_cleanup(void *data);
static ngx_int_t ngx_http_ws_heartbeat_catch_up(
    ngx_http_ws_heartbeat_sub_t *sub, ngx_http_ws_heartbeat_query_t *q);
static void ngx_http_ws_heartbeat_snapshot_next(ngx_event_t *ev);
static ngx_int_t ngx_http_ws_heartbeat_snapshot_slice(
    ngx_http_ws_heartbeat_sub_t *sub, ngx_uint_t resync);
static ngx_int_t ngx_http_ws_heartbeat_snapshot(
    ngx_http_ws_heartbeat_sub_t *sub, ngx_uint_t resync, ngx_uint_t counted);
static ngx_int_t ngx_http_ws_heartbeat_replay_slice(
    ngx_http_ws_heartbeat_sub_t *sub);
static ngx_int_t ngx_http_ws_heartbeat_replay(
    ngx_http_ws_heartbeat_sub_t *sub, uint64_t from, uint64_t to);
static ngx_int_t ngx_http_ws_heartbeat_render(
    ngx_http_ws_heartbeat_event_t *ev, ngx_chain_t *cl, ngx_buf_t *b);
static void ngx_http_ws_heartbeat_poll(ngx_event_t *ev);
static void ngx_http_ws_heartbeat_deliver(ngx_http_ws_heartbeat_zone_t *zone);
static void ngx_http_ws_heartbeat_fan_out(ngx_http_ws_heartbeat_zone_t *zone,
    ngx_http_ws_heartbeat_event_t *ev);


static ngx_queue_t   ngx_http_ws_heartbeat_subs;
static ngx_uint_t    ngx_http_ws_heartbeat_nsubs;
static ngx_event_t   ngx_http_ws_heartbeat_poller;
static uint64_t      ngx_http_ws_heartbeat_cursor;  /* last delta delivered */

static ngx_http_ws_heartbeat_event_t
                     ngx_http_ws_heartbeat_batch[NGX_HTTP_WSHB_EVENT_BATCH];

/* a replay may run while the fan-out goes through the batch above */
static ngx_http_ws_heartbeat_event_t
                     ngx_http_ws_heartbeat_replayed[NGX_HTTP_WSHB_EVENT_BATCH];
static u_char        ngx_http_ws_heartbeat_msg[NGX_HTTP_WSHB_MESSAGE_MAX];


ngx_int_t
ngx_http_ws_heartbeat_stream_init_worker(ngx_cycle_t *cycle)
{
    ngx_queue_init(&ngx_http_ws_heartbeat_subs);

    ngx_http_ws_heartbeat_poller.handler = ngx_http_ws_heartbeat_poll;
    ngx_http_ws_heartbeat_poller.log = cycle->log;
    ngx_http_ws_heartbeat_poller.data = NULL;

    return NGX_OK;
}


/*
 * Whether the request asks to subscribe: a WebSocket upgrade, or an
 * event stream by ?format=sse or by its Accept header.
 */

ngx_int_t
ngx_http_ws_heartbeat_wants_stream(ngx_http_request_t *r,
    ngx_http_ws_heartbeat_query_t *q)
{
    ngx_table_elt_t  *h;

    /* other upgrades (curl's "h2c", say) are plain requests here */

    if (ngx_http_ws_heartbeat_is_websocket(r)) {
        return NGX_HTTP_WSHB_WEBSOCKET;
    }

    if (q->format == NGX_HTTP_WSHB_FORMAT_SSE) {
        return NGX_HTTP_WSHB_SSE;
    }

    /*
     * headers_in.accept exists only in nginx built with NGX_HTTP_HEADERS
     * (--with-compat and a few modules): the list is searched instead
     */

    if (!q->format_set) {
        h = ngx_http_ws_heartbeat_request_header(r, "Accept");

        if (h && ngx_strlcasestrn(h->value.data, h->value.data + h->value.len,
                                  (u_char *) "text/event-stream",
                                  sizeof("text/event-stream") - 2)
                 != NULL)
        {
            return NGX_HTTP_WSHB_SSE;
        }
    }

    return NGX_DECLINED;
}


/*
 * NGX_DONE once subscribed; NGX_DECLINED for a bad handshake or a bad
 * Last-Event-ID, which the caller answers with 400; or an HTTP status.
 */

ngx_int_t
ngx_http_ws_heartbeat_subscribe(ngx_http_request_t *r,
    ngx_http_ws_heartbeat_query_t *q, ngx_uint_t transport,
    ngx_str_t *protocol, ngx_uint_t admin)
{
    ngx_int_t                                 rc;
    ngx_pool_cleanup_t                       *cln;
    ngx_http_ws_heartbeat_sub_t              *sub;
    ngx_http_ws_heartbeat_loc_conf_t         *wlcf;
    ngx_http_ws_heartbeat_main_conf_t        *wmcf;
    ngx_http_ws_heartbeat_status_loc_conf_t  *slcf;

    wmcf = ngx_http_ws_heartbeat_get_main_conf(r);
    wlcf = ngx_http_ws_heartbeat_get_loc_conf(r);
    slcf = ngx_http_ws_heartbeat_status_get_loc_conf(r);

    if (transport == NGX_HTTP_WSHB_WEBSOCKET) {
        rc = ngx_http_ws_heartbeat_handshake(r, protocol);
        if (rc != NGX_OK) {
            return rc;
        }

    } else {
        rc = ngx_http_ws_heartbeat_event_stream(r, q);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    if (transport == NGX_HTTP_WSHB_WEBSOCKET) {
        r->keepalive = 0;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    sub = ngx_pcalloc(r->pool, sizeof(ngx_http_ws_heartbeat_sub_t));
    if (sub == NULL) {
        return NGX_ERROR;
    }

    sub->admin = admin ? 1 : 0;

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    sub->request = r;
    sub->zone = wmcf->zone;
    sub->transport = transport;
    sub->limit = slcf->backlog;
    sub->interval = wlcf->interval;
    sub->timeout = wlcf->timeout;
    sub->last = &sub->pending;
    sub->busy_last = &sub->busy;
    sub->reason = NGX_HTTP_WSHB_SUB_CLIENT;

    ngx_queue_insert_tail(&ngx_http_ws_heartbeat_subs, &sub->queue);
    ngx_http_ws_heartbeat_nsubs++;

    cln->handler = ngx_http_ws_heartbeat_sub_cleanup;
    cln->data = sub;

    ngx_http_ws_heartbeat_status_set_ctx(r, sub);

    (void) ngx_atomic_fetch_add(&sub->zone->sh->totals.subscribers[transport],
                                1);
    (void) ngx_atomic_fetch_add(&sub->zone->sh->totals.subscribed, 1);

    if (ngx_http_ws_heartbeat_catch_up(sub, q) != NGX_OK) {
        return NGX_ERROR;
    }

    r->main->count++;

    ngx_http_ws_heartbeat_sub_start(sub);

    if (!ngx_http_ws_heartbeat_poller.timer_set) {
        ngx_http_ws_heartbeat_cursor = sub->seq;
        ngx_http_ws_heartbeat_poller.data = sub->zone;
        ngx_add_timer(&ngx_http_ws_heartbeat_poller, NGX_HTTP_WSHB_POLL);
    }

    /*
     * The first messages go out and the client's first frames (perhaps
     * already in header_in) are read from the event handlers, once this
     * handler has returned.
     */

    ngx_post_event(r->connection->write, &ngx_posted_events);

    if (transport == NGX_HTTP_WSHB_WEBSOCKET) {
        ngx_post_event(r->connection->read, &ngx_posted_events);
    }

    return NGX_DONE;
}


static void
ngx_http_ws_heartbeat_sub_cleanup(void *data)
{
    ngx_http_ws_heartbeat_sub_t *sub = data;

    ngx_chain_t  *cl, *next;

    if (sub->timer.timer_set) {
        ngx_del_timer(&sub->timer);
    }

    if (sub->slicer.timer_set) {
        ngx_del_timer(&sub->slicer);
    }

    if (sub->slicer.posted) {
        ngx_delete_posted_event(&sub->slicer);
    }

    ngx_queue_remove(&sub->queue);
    ngx_http_ws_heartbeat_nsubs--;

    (void) ngx_atomic_fetch_add(
                        &sub->zone->sh->totals.subscribers[sub->transport], -1);
    (void) ngx_atomic_fetch_add(
                        &sub->zone->sh->totals.unsubscribed[sub->reason], 1);

    /* the chunks are the request pool's, their bytes are not */

    for (cl = sub->busy; cl; cl = next) {
        next = cl->next;
        ngx_free(cl->buf->start);
    }

    for (cl = sub->pending; cl; cl = next) {
        next = cl->next;
        ngx_free(cl->buf->start);
    }
}


/*
 * The first messages: the deltas after ?since= if the ring still holds
 * them all and no ping cycle went unrecorded since, otherwise a snapshot
 * (marked "resync" when a resume was asked for and could not be
 * honoured).
 */

static ngx_int_t
ngx_http_ws_heartbeat_catch_up(ngx_http_ws_heartbeat_sub_t *sub,
    ngx_http_ws_heartbeat_query_t *q)
{
    uint64_t                        seq, oldest;
    ngx_http_ws_heartbeat_shctx_t  *sh;

    sh = sub->zone->sh;

    if (q->since_set) {
        seq = sh->seq;
        oldest = (seq >= sh->nevents) ? seq - sh->nevents + 1 : 1;

        if (q->since <= seq && q->since + 1 >= oldest
            && q->since >= (uint64_t) sh->unrecorded)
        {
            sub->seq = q->since;

            if (ngx_http_ws_heartbeat_replay(sub, q->since, seq) == NGX_OK) {
                return NGX_OK;
            }

            if (sub->closing) {
                return NGX_OK;
            }

            /* the ring moved on meanwhile */
        }

        (void) ngx_atomic_fetch_add(&sh->totals.resyncs, 1);

        return ngx_http_ws_heartbeat_snapshot(sub, 1, 0);
    }

    return ngx_http_ws_heartbeat_snapshot(sub, 0, 0);
}


/*
 * The table as one message, sent in slices, one per turn of the event
 * loop (see ngx_http_ws_heartbeat_snapshot_slice()).  Records that change
 * while it is sent may show a later state than its "seq"; the deltas
 * after "seq", replayed from the ring once it is sent, bring them to the
 * same end, since applying a delta replaces or removes the whole session.
 * The first snapshot is outside the backlog limit; a resync snapshot
 * counts.
 */

static ngx_int_t
ngx_http_ws_heartbeat_snapshot(ngx_http_ws_heartbeat_sub_t *sub,
    ngx_uint_t resync, ngx_uint_t counted)
{
    ngx_int_t  rc;

    if (sub->snapping) {
        /* the one under way ends up to date */
        return NGX_OK;
    }

    sub->seq = sub->zone->sh->seq;
    sub->snap_next = 0;
    sub->snap_any = 0;
    sub->snap_counted = counted ? 1 : 0;
    sub->snapping = 1;

    sub->slicer.handler = ngx_http_ws_heartbeat_snapshot_next;
    sub->slicer.data = sub;
    sub->slicer.log = sub->request->connection->log;

    rc = ngx_http_ws_heartbeat_snapshot_slice(sub, resync);

    if (rc == NGX_AGAIN) {
        ngx_post_event(&sub->slicer, &ngx_posted_next_events);
        return NGX_OK;
    }

    return rc;
}


/*
 * the next slice of a snapshot, or of the deltas after it, a turn of the
 * event loop later
 */

static void
ngx_http_ws_heartbeat_snapshot_next(ngx_event_t *ev)
{
    ngx_int_t                     rc;
    ngx_connection_t             *c;
    ngx_http_ws_heartbeat_sub_t  *sub;

    sub = ev->data;
    c = sub->request->connection;

    if (sub->closing) {
        return;
    }

    /* a reader that lags holds the snapshot back, not the worker */

    if (sub->backlog + (sub->busy ? NGX_HTTP_WSHB_CHUNK : 0)
        > NGX_HTTP_WSHB_SNAPSHOT_AHEAD)
    {
        ngx_add_timer(ev, 10);
        return;
    }

    rc = sub->replaying ? ngx_http_ws_heartbeat_replay_slice(sub)
                        : ngx_http_ws_heartbeat_snapshot_slice(sub, 0);

    if (rc == NGX_AGAIN) {
        ngx_post_event(ev, &ngx_posted_next_events);

    } else if (rc != NGX_OK) {
        ngx_http_ws_heartbeat_sub_close(sub, NGX_HTTP_WSHB_SUB_ERROR,
                                        NGX_HTTP_WSHB_CLOSE_ERROR, "error");
    }

    ngx_http_ws_heartbeat_sub_flush(sub);

    ngx_http_run_posted_requests(c);
}


/*
 * One slice of a snapshot: its head with the first, at most
 * NGX_HTTP_WSHB_SLICE sessions, copied in batches under the
 * mutex, its tail with the last.  NGX_AGAIN while more is to come; once
 * all is queued, the deltas since are, a slice a turn too.
 */

static ngx_int_t
ngx_http_ws_heartbeat_snapshot_slice(ngx_http_ws_heartbeat_sub_t *sub,
    ngx_uint_t resync)
{
    uint32_t                         end;
    ngx_int_t                        rc;
    ngx_uint_t                       k, n, part, rendered;
    ngx_pool_t                      *pool;
    ngx_http_ws_heartbeat_out_t      out;
    ngx_http_ws_heartbeat_shctx_t   *sh;
    ngx_http_ws_heartbeat_view_t    *batch;

    sh = sub->zone->sh;

    pool = ngx_create_pool(NGX_HTTP_WSHB_CHUNK + 1024,
                           sub->request->connection->log);
    if (pool == NULL) {
        return NGX_ERROR;
    }

    batch = ngx_palloc(pool, NGX_HTTP_WSHB_EVENT_BATCH
                             * sizeof(ngx_http_ws_heartbeat_view_t));
    if (batch == NULL) {
        goto failed;
    }

    ngx_memzero(&out, sizeof(ngx_http_ws_heartbeat_out_t));
    out.pool = pool;

    part = 0;

    if (sub->snap_next == 0 && !sub->snap_any) {
        part = NGX_HTTP_WSHB_PART_FIRST;

        if (ngx_http_ws_heartbeat_json_snapshot(&out, sub->seq, resync,
                                                sub->admin)
            != NGX_OK)
        {
            goto failed;
        }
    }

    end = (sh->nrecords - sub->snap_next > NGX_HTTP_WSHB_SLICE_SCAN)
          ? sub->snap_next + NGX_HTTP_WSHB_SLICE_SCAN : sh->nrecords;
    rendered = 0;

    while (sub->snap_next < end && rendered < NGX_HTTP_WSHB_SLICE) {
        n = ngx_http_ws_heartbeat_views(sub->zone, &sub->snap_next, end,
                                        NULL, 0, batch,
                                        NGX_HTTP_WSHB_EVENT_BATCH);

        for (k = 0; k < n; k++) {
            if (ngx_http_ws_heartbeat_json_session(&out, &batch[k],
                                                   !sub->snap_any)
                != NGX_OK)
            {
                goto failed;
            }

            sub->snap_any = 1;
        }

        rendered += n;
    }

    if (sub->snap_next >= sh->nrecords) {
        part |= NGX_HTTP_WSHB_PART_LAST;

        if (ngx_http_ws_heartbeat_json_tail(&out) != NGX_OK) {
            goto failed;
        }

        /* "]}\n": the newline is not part of a message */

        out.last->buf->last--;
    }

    rc = NGX_OK;

    if (out.first) {
        rc = ngx_http_ws_heartbeat_message(sub, out.first, sub->seq,
                                           sub->snap_counted, part);
    }

    ngx_destroy_pool(pool);

    if (rc != NGX_OK) {
        return rc;
    }

    if (!(part & NGX_HTTP_WSHB_PART_LAST)) {
        return sub->closing ? NGX_OK : NGX_AGAIN;
    }

    sub->replaying = 1;

    return ngx_http_ws_heartbeat_replay_slice(sub);

failed:

    ngx_destroy_pool(pool);

    return NGX_ERROR;
}


/*
 * At most NGX_HTTP_WSHB_SLICE of the deltas after the snapshot: while
 * the table was sent the ring may have filled, and each delta is copied,
 * rendered and queued apart.  The snapshot stays under way until they
 * are all queued, the ones that come meanwhile too, so that none is also
 * fanned out to it.  NGX_AGAIN while more is to come.
 */

static ngx_int_t
ngx_http_ws_heartbeat_replay_slice(ngx_http_ws_heartbeat_sub_t *sub)
{
    uint64_t                        to;
    ngx_http_ws_heartbeat_shctx_t  *sh;

    sh = sub->zone->sh;
    to = sh->seq;

    if (!sub->closing && sub->seq != to) {
        if (to - sub->seq > NGX_HTTP_WSHB_SLICE) {
            to = sub->seq + NGX_HTTP_WSHB_SLICE;
        }

        if (ngx_http_ws_heartbeat_replay(sub, sub->seq, to) != NGX_OK) {
            sub->replaying = 0;
            sub->snapping = 0;

            if (sub->closing) {
                return NGX_OK;
            }

            /* the ring moved past it meanwhile: once more */

            (void) ngx_atomic_fetch_add(&sh->totals.resyncs, 1);

            return ngx_http_ws_heartbeat_snapshot(sub, 1, 1);
        }

        if (!sub->closing && sub->seq != sh->seq) {
            return NGX_AGAIN;
        }
    }

    sub->replaying = 0;
    sub->snapping = 0;

    return NGX_OK;
}


/* deltas (from, to] to one subscriber; NGX_DECLINED if they are gone */

static ngx_int_t
ngx_http_ws_heartbeat_replay(ngx_http_ws_heartbeat_sub_t *sub, uint64_t from,
    uint64_t to)
{
    uint64_t                        seq;
    ngx_uint_t                      k, n;
    ngx_chain_t                     cl;
    ngx_buf_t                       b;
    ngx_http_ws_heartbeat_event_t  *ev;
    ngx_http_ws_heartbeat_shctx_t  *sh;

    sh = sub->zone->sh;
    ev = ngx_http_ws_heartbeat_replayed;

    seq = from;

    while (seq < to) {
        n = 0;

        ngx_shmtx_lock(&sub->zone->shpool->mutex);

        while (seq + n < to && n < NGX_HTTP_WSHB_EVENT_BATCH) {
            ev[n] = sh->events[(seq + n + 1) % sh->nevents];
            n++;
        }

        ngx_shmtx_unlock(&sub->zone->shpool->mutex);

        for (k = 0; k < n; k++) {
            if (ev[k].seq != seq + k + 1) {
                return NGX_DECLINED;
            }

            if (ngx_http_ws_heartbeat_render(&ev[k], &cl, &b) != NGX_OK
                || ngx_http_ws_heartbeat_message(sub, &cl, ev[k].seq, 0,
                                                 NGX_HTTP_WSHB_PART_WHOLE)
                   != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

        seq += n;
        sub->seq = seq;
    }

    return NGX_OK;
}


/* one delta as JSON, in the worker's message buffer */

static ngx_int_t
ngx_http_ws_heartbeat_render(ngx_http_ws_heartbeat_event_t *ev,
    ngx_chain_t *cl, ngx_buf_t *b)
{
    ngx_http_ws_heartbeat_out_t  out;

    ngx_memzero(b, sizeof(ngx_buf_t));
    b->start = ngx_http_ws_heartbeat_msg;
    b->pos = b->start;
    b->last = b->start;
    b->end = b->start + NGX_HTTP_WSHB_MESSAGE_MAX;

    cl->buf = b;
    cl->next = NULL;

    out.pool = NULL;
    out.buf = b;
    out.first = cl;
    out.last = cl;

    return ngx_http_ws_heartbeat_json_event(&out, ev);
}


/* a control frame or an SSE comment, outside the backlog */


/* hands queued messages to nginx and frees what has gone out */


/* client frames: any bytes show life, a close is answered, the rest ignored */


/* runs every NGX_HTTP_WSHB_POLL ms while the worker has subscribers */

static void
ngx_http_ws_heartbeat_poll(ngx_event_t *ev)
{
    ngx_queue_t                   *q, *next;
    ngx_connection_t              *c;
    ngx_http_ws_heartbeat_sub_t   *sub;
    ngx_http_ws_heartbeat_zone_t  *zone;

    zone = ev->data;

    if (ngx_http_ws_heartbeat_nsubs == 0) {
        return;
    }

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        for (q = ngx_queue_head(&ngx_http_ws_heartbeat_subs);
             q != ngx_queue_sentinel(&ngx_http_ws_heartbeat_subs);
             q = next)
        {
            next = ngx_queue_next(q);
            sub = ngx_queue_data(q, ngx_http_ws_heartbeat_sub_t, queue);
            c = sub->request->connection;

            ngx_http_ws_heartbeat_sub_close(sub, NGX_HTTP_WSHB_SUB_SHUTDOWN,
                                            NGX_HTTP_WSHB_CLOSE_GOING_AWAY,
                                            "server shutting down");
            ngx_http_run_posted_requests(c);
        }

    } else if ((uint64_t) zone->sh->seq != ngx_http_ws_heartbeat_cursor) {
        ngx_http_ws_heartbeat_deliver(zone);
    }

    if (ngx_http_ws_heartbeat_nsubs) {
        ngx_add_timer(ev, NGX_HTTP_WSHB_POLL);
    }
}


/*
 * New deltas: each is copied under the mutex once, rendered once, and
 * queued to every subscriber of this worker that has not had it.
 */

static void
ngx_http_ws_heartbeat_deliver(ngx_http_ws_heartbeat_zone_t *zone)
{
    uint64_t                        seq, oldest, from;
    ngx_uint_t                      k, n;
    ngx_queue_t                    *q, *next;
    ngx_connection_t               *c;
    ngx_http_ws_heartbeat_sub_t    *sub;
    ngx_http_ws_heartbeat_event_t  *ev;
    ngx_http_ws_heartbeat_shctx_t  *sh;

    sh = zone->sh;
    ev = ngx_http_ws_heartbeat_batch;

    for ( ;; ) {
        from = ngx_http_ws_heartbeat_cursor;
        n = 0;

        ngx_shmtx_lock(&zone->shpool->mutex);

        seq = sh->seq;
        oldest = (seq >= sh->nevents) ? seq - sh->nevents + 1 : 1;

        if (from + 1 < oldest) {
            /* overrun: we slept through a whole ring */
            from = oldest - 1;
        }

        while (from + n < seq && n < NGX_HTTP_WSHB_EVENT_BATCH) {
            ev[n] = sh->events[(from + n + 1) % sh->nevents];
            n++;
        }

        ngx_shmtx_unlock(&zone->shpool->mutex);

        if (n == 0) {
            break;
        }

        for (k = 0; k < n; k++) {
            ngx_http_ws_heartbeat_fan_out(zone, &ev[k]);
        }

        ngx_http_ws_heartbeat_cursor = from + n;
    }

    for (q = ngx_queue_head(&ngx_http_ws_heartbeat_subs);
         q != ngx_queue_sentinel(&ngx_http_ws_heartbeat_subs);
         q = next)
    {
        next = ngx_queue_next(q);
        sub = ngx_queue_data(q, ngx_http_ws_heartbeat_sub_t, queue);
        c = sub->request->connection;

        if (sub->pending) {
            ngx_http_ws_heartbeat_sub_flush(sub);
        }

        /* subscribers finalized above are only posted: end them now */

        ngx_http_run_posted_requests(c);
    }
}


/*
 * One delta, rendered once, to every subscriber that has the one before
 * it; a subscriber that missed one starts over with a snapshot
 */

static void
ngx_http_ws_heartbeat_fan_out(ngx_http_ws_heartbeat_zone_t *zone,
    ngx_http_ws_heartbeat_event_t *ev)
{
    ngx_buf_t                     b;
    ngx_chain_t                   cl;
    ngx_queue_t                  *q, *next;
    ngx_http_ws_heartbeat_sub_t  *sub;

    if (ngx_http_ws_heartbeat_render(ev, &cl, &b) != NGX_OK) {
        return;
    }

    for (q = ngx_queue_head(&ngx_http_ws_heartbeat_subs);
         q != ngx_queue_sentinel(&ngx_http_ws_heartbeat_subs);
         q = next)
    {
        next = ngx_queue_next(q);
        sub = ngx_queue_data(q, ngx_http_ws_heartbeat_sub_t, queue);

        if (sub->closing || sub->snapping || sub->seq >= ev->seq) {

            /* a snapshot under way catches up once it is sent */

            continue;
        }

        if (sub->seq + 1 != ev->seq) {
            (void) ngx_atomic_fetch_add(&zone->sh->totals.resyncs, 1);

            if (ngx_http_ws_heartbeat_snapshot(sub, 1, 1) != NGX_OK) {
                ngx_http_ws_heartbeat_sub_close(sub, NGX_HTTP_WSHB_SUB_ERROR,
                                                NGX_HTTP_WSHB_CLOSE_ERROR,
                                                "error");
            }

            continue;
        }

        if (ngx_http_ws_heartbeat_message(sub, &cl, ev->seq, 1,
                                          NGX_HTTP_WSHB_PART_WHOLE)
            != NGX_OK)
        {
            ngx_http_ws_heartbeat_sub_close(sub, NGX_HTTP_WSHB_SUB_ERROR,
                                            NGX_HTTP_WSHB_CLOSE_ERROR,
                                            "error");
            continue;
        }

        sub->seq = ev->seq;
    }
}
