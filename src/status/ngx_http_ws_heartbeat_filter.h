
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 *
 * Which sessions a status query's filters select, for GET and DELETE
 * alike.
 */


#ifndef _NGX_HTTP_WS_HEARTBEAT_FILTER_H_INCLUDED_
#define _NGX_HTTP_WS_HEARTBEAT_FILTER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_ws_heartbeat_query.h"
#include "ngx_http_ws_heartbeat_zone.h"


const char *ngx_http_ws_heartbeat_filter_check(
    ngx_http_ws_heartbeat_query_t *q);
ngx_uint_t ngx_http_ws_heartbeat_match_locked(
    ngx_http_ws_heartbeat_zone_t *zone, ngx_http_ws_heartbeat_record_t *rec,
    ngx_http_ws_heartbeat_query_t *q, uint64_t now);
ngx_uint_t ngx_http_ws_heartbeat_views(ngx_http_ws_heartbeat_zone_t *zone,
    uint32_t *next, uint32_t end, ngx_http_ws_heartbeat_query_t *q,
    uint64_t now, ngx_http_ws_heartbeat_view_t *views, ngx_uint_t n);


#endif /* _NGX_HTTP_WS_HEARTBEAT_FILTER_H_INCLUDED_ */
