
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 *
 * The sessions of a JSON status document, sent a slice per turn of the
 * event loop: a table of 100 000 sessions is tens of megabytes, and
 * rendering it in one go would hold every other session of the worker.
 */


#ifndef _NGX_HTTP_WS_HEARTBEAT_SLICES_H_INCLUDED_
#define _NGX_HTTP_WS_HEARTBEAT_SLICES_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_ws_heartbeat_out.h"
#include "ngx_http_ws_heartbeat_query.h"


/* sessions rendered per turn, and record slots looked at per turn */
#define NGX_HTTP_WSHB_SLICE          256
#define NGX_HTTP_WSHB_SLICE_SCAN     8192


ngx_int_t ngx_http_ws_heartbeat_slices(ngx_http_request_t *r,
    ngx_http_ws_heartbeat_zone_t *zone, ngx_http_ws_heartbeat_query_t *q,
    ngx_http_ws_heartbeat_out_t *head);


#endif /* _NGX_HTTP_WS_HEARTBEAT_SLICES_H_INCLUDED_ */
