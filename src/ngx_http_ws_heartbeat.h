
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 *
 * The vocabulary every file of both modules shares, and the state of the
 * worker.  Nothing here calls anything.
 */


#ifndef _NGX_HTTP_WS_HEARTBEAT_H_INCLUDED_
#define _NGX_HTTP_WS_HEARTBEAT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_ws_heartbeat_frame.h"


/*
 * Session times are ngx_current_msec cut to 32 bits, compared only as
 * differences: intervals and timeouts stay below 2^31 ms (24.8 days).
 */
typedef uint32_t  ngx_http_ws_heartbeat_msec_t;

#define ngx_http_ws_heartbeat_msec()      ((uint32_t) ngx_current_msec)
#define NGX_HTTP_WSHB_MAX_MSEC            (24 * 86400 * 1000)


/* ws_heartbeat_max_sessions directives in a configuration */
#define NGX_HTTP_WSHB_MAX_LIMITS      64

/* the two peers of a session, and the tables named after them */
#define NGX_HTTP_WSHB_CLIENT          0
#define NGX_HTTP_WSHB_UPSTREAM        1

/* why a session ended: ngx_http_ws_heartbeat_reasons[] */
#define NGX_HTTP_WSHB_REASON_NONE     0
#define NGX_HTTP_WSHB_CLIENT_CLOSE    1
#define NGX_HTTP_WSHB_UPSTREAM_CLOSE  2
#define NGX_HTTP_WSHB_CLIENT_TIMEOUT  3
#define NGX_HTTP_WSHB_UPSTREAM_TIMEOUT  4
#define NGX_HTTP_WSHB_IDLE_TIMEOUT    5
#define NGX_HTTP_WSHB_SHUTDOWN        6
#define NGX_HTTP_WSHB_ERROR           7
#define NGX_HTTP_WSHB_PROXY_TIMEOUT   8
#define NGX_HTTP_WSHB_WORKER_LOST     9   /* reaped: its worker died */
#define NGX_HTTP_WSHB_ADMIN           10  /* a DELETE at the status */
#define NGX_HTTP_WSHB_MAX_AGE         11  /* ws_heartbeat_max_age */
#define NGX_HTTP_WSHB_EXPIRED         12  /* ws_heartbeat_expires */
#define NGX_HTTP_WSHB_EVICTED         13  /* replaced: a limit per key */
#define NGX_HTTP_WSHB_NREASONS        14

/* a session's state, as its record shows it */
#define NGX_HTTP_WSHB_STATE_FREE      0
#define NGX_HTTP_WSHB_STATE_HEALTHY   1
#define NGX_HTTP_WSHB_STATE_AWAITING  2
#define NGX_HTTP_WSHB_STATE_CLOSING   3
#define NGX_HTTP_WSHB_STATE_PASSTHROUGH  4
#define NGX_HTTP_WSHB_NSTATES         5

/* why a subscriber was closed */
#define NGX_HTTP_WSHB_SUB_CLIENT      0
#define NGX_HTTP_WSHB_SUB_ZOMBIE      1
#define NGX_HTTP_WSHB_SUB_SLOW        2
#define NGX_HTTP_WSHB_SUB_SHUTDOWN    3
#define NGX_HTTP_WSHB_SUB_ERROR       4
#define NGX_HTTP_WSHB_SUB_NREASONS    5

/* why an upgrade on a location with heartbeats on was passed through */
#define NGX_HTTP_WSHB_SKIP_NOT_101    0   /* answered another status */
#define NGX_HTTP_WSHB_SKIP_NOT_HTTP1  1   /* over HTTP/2 or HTTP/3 */
#define NGX_HTTP_WSHB_SKIP_NOT_WS     2   /* to another protocol */
#define NGX_HTTP_WSHB_SKIP_FAILED     3   /* could not start (memory) */
#define NGX_HTTP_WSHB_NSKIPS          4

/* the WebSocket close codes the module sends (RFC 6455, 7.4.1) */
#define NGX_HTTP_WSHB_CLOSE_NORMAL    1000
#define NGX_HTTP_WSHB_CLOSE_GOING_AWAY  1001
#define NGX_HTTP_WSHB_CLOSE_POLICY    1008
#define NGX_HTTP_WSHB_CLOSE_ERROR     1011


typedef struct ngx_http_ws_heartbeat_zone_s  ngx_http_ws_heartbeat_zone_t;


/*
 * The worker's state, written only by the top files: the slots are the
 * two modules' indices among nginx's HTTP modules (their ctx_index),
 * copied as each configuration starts, so that the files below the
 * modules' own reach their configuration and request contexts without
 * naming the modules; the rest is set as the worker starts.
 */

typedef struct {
    ngx_http_ws_heartbeat_zone_t     *zone;       /* the cycle's sessions */
    time_t                            start;
    ngx_uint_t                        slot;        /* the sessions' module */
    ngx_uint_t                        status_slot; /* the status module */
    u_char                            cookie[NGX_HTTP_WSHB_COOKIE_LEN];
                                                  /* in our pings */
} ngx_http_ws_heartbeat_worker_t;


/*
 * Kept out of the dynamic symbol table: it is read without a GOT lookup
 * in the recv wrappers.
 */
#if (__GNUC__ >= 4)
extern ngx_http_ws_heartbeat_worker_t  ngx_http_ws_heartbeat_worker
    __attribute__((visibility("hidden")));
#else
extern ngx_http_ws_heartbeat_worker_t  ngx_http_ws_heartbeat_worker;
#endif


#define ngx_http_ws_heartbeat_get_ctx(r)                                      \
    (r)->ctx[ngx_http_ws_heartbeat_worker.slot]
#define ngx_http_ws_heartbeat_set_ctx(r, c)                                   \
    (r)->ctx[ngx_http_ws_heartbeat_worker.slot] = c
#define ngx_http_ws_heartbeat_get_main_conf(r)                                \
    (r)->main_conf[ngx_http_ws_heartbeat_worker.slot]
#define ngx_http_ws_heartbeat_get_loc_conf(r)                                 \
    (r)->loc_conf[ngx_http_ws_heartbeat_worker.slot]
#define ngx_http_ws_heartbeat_conf_get_main_conf(cf)                          \
    ((ngx_http_conf_ctx_t *) (cf)->ctx)                                       \
        ->main_conf[ngx_http_ws_heartbeat_worker.slot]
#define ngx_http_ws_heartbeat_cycle_get_main_conf(cycle)                      \
    ((cycle)->conf_ctx[ngx_http_module.index]                                 \
     ? ((ngx_http_conf_ctx_t *) (cycle)->conf_ctx[ngx_http_module.index])     \
           ->main_conf[ngx_http_ws_heartbeat_worker.slot]                     \
     : NULL)

#define ngx_http_ws_heartbeat_status_get_loc_conf(r)                          \
    (r)->loc_conf[ngx_http_ws_heartbeat_worker.status_slot]
#define ngx_http_ws_heartbeat_status_get_ctx(r)                               \
    (r)->ctx[ngx_http_ws_heartbeat_worker.status_slot]
#define ngx_http_ws_heartbeat_status_set_ctx(r, c)                            \
    (r)->ctx[ngx_http_ws_heartbeat_worker.status_slot] = c


char *ngx_http_ws_heartbeat_bounds(ngx_conf_t *cf, void *post, void *data);


/* 32 random bits (ngx_random() gives 31): masks, the cookie */

static ngx_inline uint32_t
ngx_http_ws_heartbeat_random32(void)
{
    return (uint32_t) ngx_random() ^ ((uint32_t) ngx_random() << 16);
}


/* the names of the outputs, one table per fact: ngx_http_ws_heartbeat.c */
extern ngx_str_t   ngx_http_ws_heartbeat_reasons[];
extern ngx_str_t   ngx_http_ws_heartbeat_states[];
extern char       *ngx_http_ws_heartbeat_peers[];
extern char       *ngx_http_ws_heartbeat_directions[];
extern char       *ngx_http_ws_heartbeat_sub_reasons[];
extern char       *ngx_http_ws_heartbeat_skips[];


#endif /* _NGX_HTTP_WS_HEARTBEAT_H_INCLUDED_ */
