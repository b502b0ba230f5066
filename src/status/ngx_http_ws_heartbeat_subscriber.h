
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 *
 * One subscriber of the delta stream, over WebSocket or Server-Sent
 * Events: what ngx_http_ws_heartbeat_stream.c (the fan-out) and
 * ngx_http_ws_heartbeat_subscriber.c (its connection) share.
 */


#ifndef _NGX_HTTP_WS_HEARTBEAT_SUBSCRIBER_H_INCLUDED_
#define _NGX_HTTP_WS_HEARTBEAT_SUBSCRIBER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_ws_heartbeat_module.h"
#include "ngx_http_ws_heartbeat_stream.h"


/*
 * A message or part of one, owned by a subscriber until sent; its bytes
 * are allocated apart, and freed then.  The chain link is its first
 * member.
 */

typedef struct {
    ngx_chain_t                     cl;
    ngx_buf_t                       buf;
    size_t                          counted;    /* in the backlog */
} ngx_http_ws_heartbeat_chunk_t;


typedef struct {
    ngx_http_request_t             *request;
    ngx_http_ws_heartbeat_zone_t   *zone;
    ngx_queue_t                     queue;
    ngx_event_t                     timer;
    uint64_t                        seq;        /* last delta queued */
    ngx_chain_t                    *pending;    /* not yet given to nginx */
    ngx_chain_t                   **last;
    ngx_chain_t                    *busy;       /* given, not yet sent */
    ngx_chain_t                   **busy_last;
    ngx_chain_t                    *spare;      /* chunks sent, to reuse */
    size_t                          backlog;
    size_t                          limit;
    ngx_msec_t                      interval;
    ngx_msec_t                      timeout;
    uint64_t                        rx;         /* bytes from the client */
    uint64_t                        sent;       /* bytes that went out */
    uint64_t                        mark;       /* rx or sent at a ping */
    ngx_uint_t                      reason;
    ngx_uint_t                      transport;
    ngx_http_ws_heartbeat_parser_t  parser;
    ngx_event_t                     slicer;     /* a snapshot's next slice */
    uint32_t                        snap_next;  /* its next record slot */
    unsigned                        snapping:1; /* a snapshot under way */
    unsigned                        replaying:1; /* its deltas after it */
    unsigned                        snap_any:1; /* has a session in it */
    unsigned                        snap_counted:1;
    unsigned                        awaiting:1;
    unsigned                        closing:1;
    unsigned                        last_sent:1;
    unsigned                        admin:1;    /* its token may close */
} ngx_http_ws_heartbeat_sub_t;


/* a part of a message: a whole one is both */
#define NGX_HTTP_WSHB_PART_FIRST     1
#define NGX_HTTP_WSHB_PART_LAST      2
#define NGX_HTTP_WSHB_PART_WHOLE     3


ngx_int_t ngx_http_ws_heartbeat_handshake(ngx_http_request_t *r,
    ngx_str_t *protocol);
ngx_int_t ngx_http_ws_heartbeat_event_stream(ngx_http_request_t *r,
    ngx_http_ws_heartbeat_query_t *q);
void ngx_http_ws_heartbeat_sub_start(ngx_http_ws_heartbeat_sub_t *sub);
ngx_int_t ngx_http_ws_heartbeat_message(ngx_http_ws_heartbeat_sub_t *sub,
    ngx_chain_t *json, uint64_t seq, ngx_uint_t counted, ngx_uint_t part);
void ngx_http_ws_heartbeat_sub_flush(ngx_http_ws_heartbeat_sub_t *sub);
void ngx_http_ws_heartbeat_sub_close(ngx_http_ws_heartbeat_sub_t *sub,
    ngx_uint_t reason, ngx_uint_t code, char *text);


#endif /* _NGX_HTTP_WS_HEARTBEAT_SUBSCRIBER_H_INCLUDED_ */
