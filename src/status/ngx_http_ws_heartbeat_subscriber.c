
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 *
 * A delta-stream subscriber's connection: the WebSocket handshake, its
 * messages framed as WebSocket text frames or as Server-Sent Events, the
 * backlog it may hold before it is a slow consumer, writing it out, the
 * frames it sends, its pings and zombie check, and its close.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_ws_heartbeat_module.h"
#include "ngx_http_ws_heartbeat_subscriber.h"


#define NGX_HTTP_WSHB_LINGER        1000    /* ms to flush a final frame */


static ngx_int_t ngx_http_ws_heartbeat_frame_out(
    ngx_http_ws_heartbeat_sub_t *sub, u_char *data, size_t len);
static ngx_http_ws_heartbeat_chunk_t *ngx_http_ws_heartbeat_chunk(
    ngx_http_ws_heartbeat_sub_t *sub, size_t size, size_t counted);
static void ngx_http_ws_heartbeat_sub_abort(ngx_http_ws_heartbeat_sub_t *sub,
    ngx_uint_t reason);
static void ngx_http_ws_heartbeat_sub_read(ngx_http_request_t *r);
static void ngx_http_ws_heartbeat_sub_input(ngx_http_ws_heartbeat_sub_t *sub,
    u_char *buf, size_t n);
static void ngx_http_ws_heartbeat_sub_write(ngx_http_request_t *r);
static void ngx_http_ws_heartbeat_sub_timer(ngx_event_t *ev);
static void ngx_http_ws_heartbeat_sub_tick(ngx_http_ws_heartbeat_sub_t *sub);


/* the payload of pings to subscribers: their pongs are only counted */
static uint8_t  ngx_http_ws_heartbeat_sub_cookie[NGX_HTTP_WSHB_COOKIE_LEN]
    = "stream00";


/*
 * The answer to a WebSocket subscription's handshake: 101 with the accept
 * and the bearer subprotocol it used, if any; NGX_DECLINED for a bad one
 */

ngx_int_t
ngx_http_ws_heartbeat_handshake(ngx_http_request_t *r, ngx_str_t *protocol)
{
    ngx_str_t         accept;
    ngx_table_elt_t  *key, *version, *h;

    key = ngx_http_ws_heartbeat_request_header(r, "Sec-WebSocket-Key");
    version = ngx_http_ws_heartbeat_request_header(r, "Sec-WebSocket-Version");
    h = ngx_http_ws_heartbeat_request_header(r, "Connection");

    if (r->method != NGX_HTTP_GET
        || r->http_version != NGX_HTTP_VERSION_11
        || !ngx_http_ws_heartbeat_is_websocket(r)
        || h == NULL
        || ngx_strlcasestrn(h->value.data, h->value.data + h->value.len,
                            (u_char *) "upgrade", sizeof("upgrade") - 2)
           == NULL
        || key == NULL || key->value.len != NGX_HTTP_WSHB_KEY_LEN
        || version == NULL || version->value.len != 2
        || ngx_strncmp(version->value.data, "13", 2) != 0)
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "ws_heartbeat: bad WebSocket handshake to the "
                      "status location");
        return NGX_DECLINED;
    }

    accept.data = ngx_pnalloc(r->pool, NGX_HTTP_WSHB_ACCEPT_LEN);
    if (accept.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_ws_heartbeat_accept(key->value.data, accept.data);
    accept.len = NGX_HTTP_WSHB_ACCEPT_LEN;

    r->headers_out.status = NGX_HTTP_SWITCHING_PROTOCOLS;
    r->headers_out.content_length_n = -1;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Upgrade");
    ngx_str_set(&h->value, "websocket");

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Sec-WebSocket-Accept");
    h->value = accept;

    if (protocol && protocol->len) {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->hash = 1;
        ngx_str_set(&h->key, "Sec-WebSocket-Protocol");
        h->value = *protocol;
    }

    return NGX_OK;
}


/*
 * The answer to an event-stream subscription: 200 text/event-stream, not
 * to be cached.  Its Last-Event-ID resumes like ?since=; NGX_DECLINED for
 * a bad one.
 */

ngx_int_t
ngx_http_ws_heartbeat_event_stream(ngx_http_request_t *r,
    ngx_http_ws_heartbeat_query_t *q)
{
    ngx_table_elt_t  *h;

    h = ngx_http_ws_heartbeat_request_header(r, "Last-Event-ID");

    if (h && !q->since_set) {
        if (ngx_http_ws_heartbeat_parse_seq(h->value.data, h->value.len,
                                            &q->since)
            != 0)
        {
            return NGX_DECLINED;
        }

        q->since_set = 1;
    }

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = -1;
    ngx_str_set(&r->headers_out.content_type, "text/event-stream");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Cache-Control");
    ngx_str_set(&h->value, "no-cache");

    return NGX_OK;
}


/*
 * The subscriber's events from now on: its reads (a WebSocket
 * subscriber's frames, or the end of an event stream), its writes, and
 * its heartbeat timer
 */

void
ngx_http_ws_heartbeat_sub_start(ngx_http_ws_heartbeat_sub_t *sub)
{
    ngx_http_request_t  *r;

    r = sub->request;

    ngx_http_ws_heartbeat_parser_init(&sub->parser, 1);

    sub->timer.handler = ngx_http_ws_heartbeat_sub_timer;
    sub->timer.data = sub;
    sub->timer.log = r->connection->log;

    r->read_event_handler = ngx_http_ws_heartbeat_sub_read;
    r->write_event_handler = ngx_http_ws_heartbeat_sub_write;

    ngx_add_timer(&sub->timer, sub->interval);
}


/*
 * Queues one message, or a part of one (a snapshot goes in slices): a
 * WebSocket text frame, or its fragments (a text frame without FIN, the
 * continuations, the last with FIN); an SSE event whose id is the
 * sequence number.  Our JSON has no raw newlines, so it fits one "data:"
 * line, which the parts of an event continue.
 */

ngx_int_t
ngx_http_ws_heartbeat_message(ngx_http_ws_heartbeat_sub_t *sub,
    ngx_chain_t *json, uint64_t seq, ngx_uint_t counted, ngx_uint_t part)
{
    u_char                         *p;
    size_t                          len, size;
    ngx_chain_t                    *cl;
    ngx_http_ws_heartbeat_chunk_t  *chunk;

    if (sub->closing) {
        return NGX_OK;
    }

    len = 0;

    for (cl = json; cl; cl = cl->next) {
        len += cl->buf->last - cl->buf->pos;
    }

    size = len + NGX_INT64_LEN + 16;

    if (counted && sub->backlog + size > sub->limit) {
        ngx_log_error(NGX_LOG_INFO, sub->request->connection->log, 0,
                      "ws_heartbeat: subscriber backlog over %uz bytes, "
                      "closing it", sub->limit);
        ngx_http_ws_heartbeat_sub_close(sub, NGX_HTTP_WSHB_SUB_SLOW,
                                        NGX_HTTP_WSHB_CLOSE_POLICY,
                                        "backlog limit");
        return NGX_OK;
    }

    chunk = ngx_http_ws_heartbeat_chunk(sub, size, counted ? size : 0);
    if (chunk == NULL) {
        return NGX_ERROR;
    }

    p = chunk->buf.last;

    if (sub->transport == NGX_HTTP_WSHB_WEBSOCKET) {
        p += ngx_http_ws_heartbeat_build_header(p,
                                  (part & NGX_HTTP_WSHB_PART_FIRST)
                                  ? NGX_HTTP_WSHB_OP_TEXT
                                  : NGX_HTTP_WSHB_OP_CONT,
                                  len, NULL);

        if (!(part & NGX_HTTP_WSHB_PART_LAST)) {
            chunk->buf.last[0] &= ~NGX_HTTP_WSHB_FIN;
        }

    } else if (part & NGX_HTTP_WSHB_PART_FIRST) {
        p = ngx_sprintf(p, "id: %uL\ndata: ", seq);
    }

    for (cl = json; cl; cl = cl->next) {
        p = ngx_cpymem(p, cl->buf->pos, cl->buf->last - cl->buf->pos);
    }

    if (sub->transport == NGX_HTTP_WSHB_SSE
        && (part & NGX_HTTP_WSHB_PART_LAST))
    {
        *p++ = LF;
        *p++ = LF;
    }

    chunk->buf.last = p;

    return NGX_OK;
}


static ngx_int_t
ngx_http_ws_heartbeat_frame_out(ngx_http_ws_heartbeat_sub_t *sub,
    u_char *data, size_t len)
{
    ngx_http_ws_heartbeat_chunk_t  *chunk;

    chunk = ngx_http_ws_heartbeat_chunk(sub, len, 0);
    if (chunk == NULL) {
        return NGX_ERROR;
    }

    chunk->buf.last = ngx_cpymem(chunk->buf.last, data, len);

    return NGX_OK;
}


static ngx_http_ws_heartbeat_chunk_t *
ngx_http_ws_heartbeat_chunk(ngx_http_ws_heartbeat_sub_t *sub, size_t size,
    size_t counted)
{
    u_char                         *p;
    ngx_http_ws_heartbeat_chunk_t  *chunk;

    /*
     * Only the bytes are freed once sent: the filters may still look at
     * the buffer itself (the tag, in ngx_chain_update_chains()) later, so
     * chunks live as long as the request and are reused
     */

    if (sub->spare) {
        chunk = (ngx_http_ws_heartbeat_chunk_t *) sub->spare;
        sub->spare = chunk->cl.next;

    } else {
        chunk = ngx_palloc(sub->request->pool,
                           sizeof(ngx_http_ws_heartbeat_chunk_t));
        if (chunk == NULL) {
            return NULL;
        }
    }

    p = ngx_alloc(size, sub->request->connection->log);
    if (p == NULL) {
        chunk->cl.next = sub->spare;
        sub->spare = &chunk->cl;
        return NULL;
    }

    ngx_memzero(&chunk->buf, sizeof(ngx_buf_t));

    chunk->buf.start = p;
    chunk->buf.pos = p;
    chunk->buf.last = p;
    chunk->buf.end = p + size;
    chunk->buf.memory = 1;

    chunk->cl.buf = &chunk->buf;
    chunk->cl.next = NULL;
    chunk->counted = counted;

    /* the chain link is the chunk's first member */

    *sub->last = &chunk->cl;
    sub->last = &chunk->cl.next;

    sub->backlog += counted;

    return chunk;
}


void
ngx_http_ws_heartbeat_sub_flush(ngx_http_ws_heartbeat_sub_t *sub)
{
    ngx_int_t                       rc;
    ngx_chain_t                    *cl, *in;
    ngx_connection_t               *c;
    ngx_http_request_t             *r;
    ngx_http_ws_heartbeat_chunk_t  *chunk;

    r = sub->request;
    c = r->connection;

    in = sub->pending;

    if (in) {
        for (cl = in; cl->next; cl = cl->next) { /* void */ }

        cl->buf->flush = 1;

        *sub->busy_last = in;
        sub->busy_last = sub->last;

        sub->pending = NULL;
        sub->last = &sub->pending;
    }

    if (in || r->out || c->buffered) {
        rc = ngx_http_output_filter(r, in);

    } else {
        rc = NGX_OK;
    }

    if (rc != NGX_ERROR && sub->closing && !sub->last_sent
        && sub->transport == NGX_HTTP_WSHB_SSE)
    {
        /* the end of the event stream, after everything queued */
        sub->last_sent = 1;
        rc = ngx_http_send_special(r, NGX_HTTP_LAST);
    }

    while (sub->busy && ngx_buf_size(sub->busy->buf) == 0) {
        cl = sub->busy;
        sub->busy = cl->next;

        chunk = (ngx_http_ws_heartbeat_chunk_t *) cl;
        sub->backlog -= chunk->counted;
        sub->sent += chunk->buf.last - chunk->buf.start;

        ngx_free(chunk->buf.start);
        chunk->buf.start = NULL;

        cl->next = sub->spare;
        sub->spare = cl;
    }

    if (sub->busy == NULL) {
        sub->busy_last = &sub->busy;
    }

    if (rc == NGX_ERROR) {
        ngx_http_ws_heartbeat_sub_abort(sub, NGX_HTTP_WSHB_SUB_ERROR);
        return;
    }

    if (sub->closing && sub->busy == NULL && !c->buffered) {
        /* the final frame went out */
        ngx_http_finalize_request(r, NGX_HTTP_CLOSE);
        return;
    }

    if (ngx_handle_write_event(c->write, 0) != NGX_OK) {
        ngx_http_ws_heartbeat_sub_abort(sub, NGX_HTTP_WSHB_SUB_ERROR);
    }
}


/*
 * Ends a subscriber at once, without a final frame: its connection failed
 * or is gone.  The request is finalized; nginx ends it once the current
 * handler returns (see ngx_http_run_posted_requests()).
 */

static void
ngx_http_ws_heartbeat_sub_abort(ngx_http_ws_heartbeat_sub_t *sub,
    ngx_uint_t reason)
{
    if (!sub->closing) {
        sub->reason = reason;
        sub->closing = 1;
    }

    ngx_http_finalize_request(sub->request, NGX_HTTP_CLOSE);
}


/*
 * Ends a subscriber: a close frame (code) or the end of the event stream,
 * flushed for at most a second, then the connection is closed.
 */

void
ngx_http_ws_heartbeat_sub_close(ngx_http_ws_heartbeat_sub_t *sub,
    ngx_uint_t reason, ngx_uint_t code, char *text)
{
    size_t   len;
    u_char   frame[NGX_HTTP_WSHB_CLOSE_MAX];

    if (sub->closing) {
        return;
    }

    sub->closing = 1;
    sub->reason = reason;

    if (sub->timer.timer_set) {
        ngx_del_timer(&sub->timer);
    }

    if (sub->transport == NGX_HTTP_WSHB_WEBSOCKET) {
        len = ngx_http_ws_heartbeat_build_close(frame, code, text,
                                                ngx_strlen(text), NULL);
        (void) ngx_http_ws_heartbeat_frame_out(sub, frame, len);
    }

    ngx_add_timer(&sub->timer, NGX_HTTP_WSHB_LINGER);

    ngx_http_ws_heartbeat_sub_flush(sub);
}


static void
ngx_http_ws_heartbeat_sub_read(ngx_http_request_t *r)
{
    u_char                        buf[512];
    ssize_t                       n;
    ngx_connection_t             *c;
    ngx_http_ws_heartbeat_sub_t  *sub;

    c = r->connection;
    sub = ngx_http_ws_heartbeat_status_get_ctx(r);

    if (sub->transport == NGX_HTTP_WSHB_SSE) {
        /* nothing to read: only notice the client going away */
        ngx_http_test_reading(r);
        return;
    }

    /* frames the client sent right behind its handshake */

    if (r->header_in && r->header_in->pos < r->header_in->last) {
        n = r->header_in->last - r->header_in->pos;
        ngx_http_ws_heartbeat_sub_input(sub, r->header_in->pos, n);
        r->header_in->pos = r->header_in->last;

        if (sub->closing) {
            return;
        }
    }

    for ( ;; ) {
        n = c->recv(c, buf, sizeof(buf));

        if (n == NGX_AGAIN) {
            break;
        }

        if (n == 0 || n == NGX_ERROR) {
            ngx_http_ws_heartbeat_sub_abort(sub, NGX_HTTP_WSHB_SUB_CLIENT);
            return;
        }

        ngx_http_ws_heartbeat_sub_input(sub, buf, n);

        if (sub->closing) {
            return;
        }
    }

    if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
        ngx_http_ws_heartbeat_sub_abort(sub, NGX_HTTP_WSHB_SUB_ERROR);
    }
}


static void
ngx_http_ws_heartbeat_sub_input(ngx_http_ws_heartbeat_sub_t *sub,
    u_char *buf, size_t n)
{
    size_t  boundary;

    sub->rx += n;

    if (sub->closing) {
        return;
    }

    (void) ngx_http_ws_heartbeat_parse(&sub->parser,
                                       ngx_http_ws_heartbeat_sub_cookie, buf,
                                       n, &boundary);

    if (sub->parser.error) {
        ngx_log_error(NGX_LOG_INFO, sub->request->connection->log, 0,
                      "ws_heartbeat: subscriber sent a bad frame (%s)",
                      ngx_http_ws_heartbeat_strerror(sub->parser.error));
        ngx_http_ws_heartbeat_sub_close(sub, NGX_HTTP_WSHB_SUB_CLIENT, 1002,
                                        "protocol error");
        return;
    }

    if (sub->parser.closed) {
        ngx_http_ws_heartbeat_sub_close(sub, NGX_HTTP_WSHB_SUB_CLIENT,
                                        NGX_HTTP_WSHB_CLOSE_NORMAL, "");
    }
}


static void
ngx_http_ws_heartbeat_sub_write(ngx_http_request_t *r)
{
    ngx_http_ws_heartbeat_sub_flush(
              ngx_http_ws_heartbeat_status_get_ctx(r));
}


/*
 * Pings: a ping frame to WebSocket subscribers, a comment line to SSE
 * ones.  A WebSocket subscriber that sends nothing within the timeout,
 * or an SSE one whose socket takes none of what is queued, is a zombie.
 */

static void
ngx_http_ws_heartbeat_sub_timer(ngx_event_t *ev)
{
    ngx_connection_t             *c;
    ngx_http_ws_heartbeat_sub_t  *sub;

    sub = ev->data;
    c = sub->request->connection;

    ngx_http_ws_heartbeat_sub_tick(sub);

    /* a finalized request is only posted: end it now */

    ngx_http_run_posted_requests(c);
}


static void
ngx_http_ws_heartbeat_sub_tick(ngx_http_ws_heartbeat_sub_t *sub)
{
    size_t                        len;
    u_char                        frame[NGX_HTTP_WSHB_PING_MAX];
    ngx_uint_t                    alive;
    ngx_event_t                  *ev;

    ev = &sub->timer;

    if (sub->closing) {
        /* the final frame did not go out in time */
        ngx_http_finalize_request(sub->request, NGX_HTTP_CLOSE);
        return;
    }

    if (sub->awaiting) {
        if (sub->transport == NGX_HTTP_WSHB_WEBSOCKET) {
            alive = (sub->rx != sub->mark);

        } else {
            alive = (sub->busy == NULL && sub->pending == NULL
                     && !sub->request->connection->buffered)
                    || sub->sent != sub->mark;
        }

        if (!alive) {
            ngx_log_error(NGX_LOG_INFO, sub->request->connection->log, 0,
                          "ws_heartbeat: subscriber heartbeat timeout, "
                          "closing it");
            ngx_http_ws_heartbeat_sub_close(sub, NGX_HTTP_WSHB_SUB_ZOMBIE,
                                            NGX_HTTP_WSHB_CLOSE_GOING_AWAY,
                                            "heartbeat timeout");
            return;
        }

        sub->awaiting = 0;

        ngx_add_timer(ev, sub->interval > sub->timeout
                          ? sub->interval - sub->timeout : 1);
        return;
    }

    if (sub->transport == NGX_HTTP_WSHB_WEBSOCKET) {
        len = ngx_http_ws_heartbeat_build_ping(frame,
                                       ngx_http_ws_heartbeat_sub_cookie, 0,
                                       NULL);
        sub->mark = sub->rx;

    } else if (sub->snapping) {

        /* no comment inside an event: the snapshot's bytes tell instead */

        sub->mark = sub->sent;
        sub->awaiting = 1;
        ngx_add_timer(ev, sub->timeout);
        return;

    } else {
        len = sizeof(": ping\n\n") - 1;
        ngx_memcpy(frame, ": ping\n\n", len);
        sub->mark = sub->sent;
    }

    if (ngx_http_ws_heartbeat_frame_out(sub, frame, len) != NGX_OK) {
        ngx_http_ws_heartbeat_sub_close(sub, NGX_HTTP_WSHB_SUB_ERROR,
                                        NGX_HTTP_WSHB_CLOSE_ERROR,
                                        "out of memory");
        return;
    }

    sub->awaiting = 1;
    ngx_add_timer(ev, sub->timeout);

    ngx_http_ws_heartbeat_sub_flush(sub);
}
