
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 *
 * What ngx_http_ws_heartbeat_liveness.c offers the session: its timer
 * handler, the schedule, pongs, and the pings put in at a boundary.
 */


#ifndef _NGX_HTTP_WS_HEARTBEAT_LIVENESS_H_INCLUDED_
#define _NGX_HTTP_WS_HEARTBEAT_LIVENESS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_ws_heartbeat_session.h"


void ngx_http_ws_heartbeat_fired(ngx_http_ws_heartbeat_timer_t *timer);
void ngx_http_ws_heartbeat_schedule(ngx_http_ws_heartbeat_ctx_t *ctx);
void ngx_http_ws_heartbeat_pong(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_uint_t i, uint32_t pongs);
size_t ngx_http_ws_heartbeat_build(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_uint_t i, u_char *out);
void ngx_http_ws_heartbeat_ping_queued(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_uint_t i);
void ngx_http_ws_heartbeat_probe_session(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_http_ws_heartbeat_limit_t *limit, uint32_t key,
    ngx_http_ws_heartbeat_msec_t now);


#endif /* _NGX_HTTP_WS_HEARTBEAT_LIVENESS_H_INCLUDED_ */
