
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


#endif /* _NGX_HTTP_WS_HEARTBEAT_H_INCLUDED_ */
