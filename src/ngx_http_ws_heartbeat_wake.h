
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 *
 * Waking the other workers: a pipe per worker of the cycle, made by the
 * master before it forks them.  A worker that writes a byte into another
 * one's pipe has that worker run its wake handler at its next turn of
 * the event loop, however long its timers would let it sleep.
 */


#ifndef _NGX_HTTP_WS_HEARTBEAT_WAKE_H_INCLUDED_
#define _NGX_HTTP_WS_HEARTBEAT_WAKE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


ngx_int_t ngx_http_ws_heartbeat_wake_init(ngx_cycle_t *cycle);
ngx_int_t ngx_http_ws_heartbeat_wake_listen(ngx_cycle_t *cycle,
    ngx_event_handler_pt handler);
void ngx_http_ws_heartbeat_wake_done(void);
void ngx_http_ws_heartbeat_wake_others(void);


#endif /* _NGX_HTTP_WS_HEARTBEAT_WAKE_H_INCLUDED_ */
