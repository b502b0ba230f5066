
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 */


#ifndef _NGX_HTTP_WS_HEARTBEAT_MODULE_H_INCLUDED_
#define _NGX_HTTP_WS_HEARTBEAT_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_ws_heartbeat_frame.h"
#include "ngx_http_ws_heartbeat_zone.h"


#define NGX_HTTP_WS_HEARTBEAT_VERSION     "0.1.0"

#define NGX_HTTP_WSHB_CLIENT              0
#define NGX_HTTP_WSHB_UPSTREAM            1

/* worker start time (8), pid (6) and a counter (8), in hex */
#define NGX_HTTP_WSHB_ID_LEN              22
#define NGX_HTTP_WSHB_ID_FMT              "%08xT%06xP%08xD"
#define NGX_HTTP_WSHB_ID(ctx)                                                 \
    ngx_http_ws_heartbeat_worker_start, ngx_pid, (ctx)->counter

/* our ping: unmasked to the client, masked to the upstream */
#define ngx_http_ws_heartbeat_ping_len(i)                                     \
    ((i) == NGX_HTTP_WSHB_CLIENT ? 2 + NGX_HTTP_WSHB_PAYLOAD_LEN             \
                                 : 6 + NGX_HTTP_WSHB_PAYLOAD_LEN)

#define NGX_HTTP_WSHB_REASON_NONE         0
#define NGX_HTTP_WSHB_CLIENT_CLOSE        1
#define NGX_HTTP_WSHB_UPSTREAM_CLOSE      2
#define NGX_HTTP_WSHB_CLIENT_TIMEOUT      3
#define NGX_HTTP_WSHB_UPSTREAM_TIMEOUT    4
#define NGX_HTTP_WSHB_IDLE_TIMEOUT        5
#define NGX_HTTP_WSHB_SHUTDOWN            6
#define NGX_HTTP_WSHB_ERROR               7
#define NGX_HTTP_WSHB_PROXY_TIMEOUT       8
#define NGX_HTTP_WSHB_WORKER_LOST         9   /* reaped: its worker died */
#define NGX_HTTP_WSHB_NREASONS            10

#define NGX_HTTP_WSHB_MAX_LIMITS          64

/*
 * Session times are ngx_current_msec cut to 32 bits, compared only as
 * differences: intervals and timeouts stay below 2^31 ms (24.8 days).
 */
typedef uint32_t  ngx_http_ws_heartbeat_msec_t;

#define ngx_http_ws_heartbeat_msec()      ((uint32_t) ngx_current_msec)
#define NGX_HTTP_WSHB_MAX_MSEC            (24 * 86400 * 1000)


/*
 * A ws_heartbeat_max_sessions limit.  Its counter in the zone is found by
 * its id, which a reload keeps as long as the limit stays in the same
 * place (its server's first name and its location), whatever the order of
 * the directives.
 */

typedef struct {
    ngx_uint_t                        max;
    ngx_uint_t                        index;      /* its counter */
    uint32_t                          id;
    ngx_str_t                         location;   /* "" at server level */
    ngx_http_core_srv_conf_t         *server;     /* NULL at http level */
} ngx_http_ws_heartbeat_limit_t;


typedef struct {
    ngx_flag_t                        enable;
    ngx_msec_t                        interval;
    ngx_msec_t                        timeout;
    ngx_flag_t                        upstream;
    ngx_msec_t                        idle_timeout;
    ngx_array_t                      *tokens;     /* of ngx_str_t */
    ngx_http_ws_heartbeat_limit_t    *limit;
    size_t                            backlog;    /* per subscriber */
} ngx_http_ws_heartbeat_loc_conf_t;


typedef struct {
    ngx_msec_t                        drain;
    ngx_http_ws_heartbeat_zone_t     *zone;
    ngx_uint_t                        status;     /* a status location */
    ngx_array_t                       limits;     /* of ..._limit_t * */
    ngx_uint_t                        ring;       /* deltas kept */
} ngx_http_ws_heartbeat_main_conf_t;


typedef struct {
    ngx_connection_t                 *connection;
    ngx_recv_pt                       recv;        /* the one we wrapped */
    ngx_http_ws_heartbeat_parser_t    parser;      /* frames from the peer */

    uint64_t                          rx_bytes;    /* read from the peer */
    uint64_t                          adjust;      /* see ..._queued() */
    uint64_t                          ping_end;    /* queued, up to our ping */
    uint64_t                          rx_mark;     /* rx_bytes at the ping */

    ngx_http_ws_heartbeat_msec_t      ping_time;  /* next ping: + interval */
    ngx_http_ws_heartbeat_msec_t      last_rx;    /* see ..._last_rx() */
    ngx_http_ws_heartbeat_msec_t      last_data;  /* of data, or start */
    ngx_http_ws_heartbeat_msec_t      last_pong;
    ngx_http_ws_heartbeat_msec_t      deadline;
    ngx_http_ws_heartbeat_msec_t      rtt;

    uint32_t                          pings;      /* our last one's number */

    /*
     * The last look at the peer's TCP receive window (see
     * ngx_http_ws_heartbeat_reading()): its right edge and its size, cut
     * to 32 bits.  Without the window: the send queue and the bytes sent.
     */
    uint32_t                          edge;
    uint32_t                          wnd;

    unsigned                          gone:1;     /* its stream ended */
    unsigned                          answer:1;   /* we sent it a close
                                                     frame: its own may
                                                     follow */
    unsigned                          looked:1;   /* edge and wnd are set */
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

    /* the upstream's, chained: the session ends with its connection */
    void                            (*finalize)(ngx_http_request_t *r,
                                                ngx_int_t rc);

    uint32_t                          key;        /* timer, ngx_current_msec */
    uint32_t                          heap;       /* index in the timer heap */

    ngx_http_ws_heartbeat_msec_t      start;

    uint32_t                          counter;    /* in the session id */
    uint32_t                          record;

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
} ngx_http_ws_heartbeat_ctx_t;


/* the client connection's request, as nginx's own handlers find it */

#define ngx_http_ws_heartbeat_request(ctx)                                    \
    ((ngx_http_request_t *) (ctx)->peer[NGX_HTTP_WSHB_CLIENT].connection->data)

#define ngx_http_ws_heartbeat_loc_conf(ctx)                                   \
    ngx_http_get_module_loc_conf(ngx_http_ws_heartbeat_request(ctx),          \
                                 ngx_http_ws_heartbeat_module)

#define ngx_http_ws_heartbeat_log(ctx)                                        \
    ((ctx)->peer[NGX_HTTP_WSHB_CLIENT].connection->log)


ngx_int_t ngx_http_ws_heartbeat_start(ngx_http_request_t *r,
    ngx_http_ws_heartbeat_loc_conf_t *wlcf);
ngx_int_t ngx_http_ws_heartbeat_init_worker(ngx_cycle_t *cycle);
ngx_int_t ngx_http_ws_heartbeat_stream_init_worker(ngx_cycle_t *cycle);
void ngx_http_ws_heartbeat_exit_worker(ngx_cycle_t *cycle);
ngx_uint_t ngx_http_ws_heartbeat_final_reason(ngx_http_request_t *r,
    ngx_http_ws_heartbeat_ctx_t *ctx);
void ngx_http_ws_heartbeat_publish(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_uint_t state);

ngx_int_t ngx_http_ws_heartbeat_add_variables(ngx_conf_t *cf);
ngx_uint_t ngx_http_ws_heartbeat_is_websocket(ngx_http_request_t *r);
ngx_table_elt_t *ngx_http_ws_heartbeat_header(ngx_list_t *headers,
    char *name);
void ngx_http_ws_heartbeat_accept(u_char *key, u_char *accept);

#define ngx_http_ws_heartbeat_request_header(r, name)                         \
    ngx_http_ws_heartbeat_header(&(r)->headers_in.headers, name)

/* Sec-WebSocket-Key and Sec-WebSocket-Accept, in base64 */
#define NGX_HTTP_WSHB_KEY_LEN             24
#define NGX_HTTP_WSHB_ACCEPT_LEN          28

char *ngx_http_ws_heartbeat_max_sessions(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
void ngx_http_ws_heartbeat_limit_ids(ngx_array_t *limits);
ngx_int_t ngx_http_ws_heartbeat_limit_handler(ngx_http_request_t *r);
ngx_uint_t ngx_http_ws_heartbeat_under_pressure(
    ngx_http_ws_heartbeat_zone_t *zone, ngx_http_ws_heartbeat_limit_t *limit);
void ngx_http_ws_heartbeat_probe(ngx_http_ws_heartbeat_limit_t *limit);

char *ngx_http_ws_heartbeat_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_ws_heartbeat_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_ws_heartbeat_status_token(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


extern ngx_str_t   ngx_http_ws_heartbeat_reasons[];
extern time_t      ngx_http_ws_heartbeat_worker_start;

/*
 * nginx reaches the module through ngx_modules[], never by its name: kept
 * out of the dynamic symbol table, it is read without a GOT lookup in the
 * recv wrappers.
 */
#if (__GNUC__ >= 4)
extern ngx_module_t  ngx_http_ws_heartbeat_module
    __attribute__((visibility("hidden")));
#else
extern ngx_module_t  ngx_http_ws_heartbeat_module;
#endif


#endif /* _NGX_HTTP_WS_HEARTBEAT_MODULE_H_INCLUDED_ */
