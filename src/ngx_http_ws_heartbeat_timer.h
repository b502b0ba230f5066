
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 *
 * The worker's session timers: a heap of its own (see
 * ngx_http_ws_heartbeat_heap.h) and one nginx timer for the earliest of
 * them, which also runs a periodic job every second while it is wanted.
 * An ngx_event_t per session would be 96 bytes, of which a timer uses
 * 40; and every timer in nginx's own tree makes finding the next one
 * dearer on every turn of the event loop.
 */


#ifndef _NGX_HTTP_WS_HEARTBEAT_TIMER_H_INCLUDED_
#define _NGX_HTTP_WS_HEARTBEAT_TIMER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_ws_heartbeat_heap.h"


#define NGX_HTTP_WSHB_PERIOD  1000


/* a timer fired; the periodic job answers whether it is wanted again */
typedef void (*ngx_http_ws_heartbeat_fired_pt)(
    ngx_http_ws_heartbeat_timer_t *t);
typedef ngx_uint_t (*ngx_http_ws_heartbeat_periodic_pt)(ngx_log_t *log);


void ngx_http_ws_heartbeat_timers_init(ngx_cycle_t *cycle,
    ngx_http_ws_heartbeat_fired_pt fired,
    ngx_http_ws_heartbeat_periodic_pt periodic);
ngx_int_t ngx_http_ws_heartbeat_timers_reserve(void *base, size_t stride,
    size_t n, ngx_log_t *log);
void ngx_http_ws_heartbeat_timers_done(void);
void ngx_http_ws_heartbeat_timer_add(ngx_http_ws_heartbeat_timer_t *t,
    ngx_msec_t delay);
void ngx_http_ws_heartbeat_timer_del(ngx_http_ws_heartbeat_timer_t *t);
void ngx_http_ws_heartbeat_periodic(void);


#endif /* _NGX_HTTP_WS_HEARTBEAT_TIMER_H_INCLUDED_ */
