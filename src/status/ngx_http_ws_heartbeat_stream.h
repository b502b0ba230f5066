
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 */


#ifndef _NGX_HTTP_WS_HEARTBEAT_STREAM_H_INCLUDED_
#define _NGX_HTTP_WS_HEARTBEAT_STREAM_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_ws_heartbeat_query.h"


#define NGX_HTTP_WSHB_WEBSOCKET          0
#define NGX_HTTP_WSHB_SSE                1


ngx_int_t ngx_http_ws_heartbeat_wants_stream(ngx_http_request_t *r,
    ngx_http_ws_heartbeat_query_t *q);
ngx_int_t ngx_http_ws_heartbeat_subscribe(ngx_http_request_t *r,
    ngx_http_ws_heartbeat_query_t *q, ngx_uint_t transport,
    ngx_str_t *protocol, ngx_uint_t admin);
ngx_int_t ngx_http_ws_heartbeat_stream_init_worker(ngx_cycle_t *cycle);


#endif /* _NGX_HTTP_WS_HEARTBEAT_STREAM_H_INCLUDED_ */
