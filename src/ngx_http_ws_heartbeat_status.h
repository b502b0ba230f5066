
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 */


#ifndef _NGX_HTTP_WS_HEARTBEAT_STATUS_H_INCLUDED_
#define _NGX_HTTP_WS_HEARTBEAT_STATUS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_ws_heartbeat_module.h"


#define NGX_HTTP_WSHB_FORMAT_JSON        0
#define NGX_HTTP_WSHB_FORMAT_PROMETHEUS  1

#define NGX_HTTP_WSHB_SESSIONS_DEFAULT   100
#define NGX_HTTP_WSHB_SESSIONS_MAX       100000

#define NGX_HTTP_WSHB_MAX_UPSTREAMS      256
#define NGX_HTTP_WSHB_CHUNK              16384


/* the query of a status request */

typedef struct {
    ngx_uint_t                      format;
    ngx_uint_t                      sessions;
    ngx_uint_t                      state;      /* 0: any */
    ngx_str_t                       upstream;   /* empty: any */
    unsigned                        format_set:1;
} ngx_http_ws_heartbeat_query_t;


typedef struct {
    ngx_http_ws_heartbeat_addr_t    addr;
    ngx_uint_t                      sessions;
} ngx_http_ws_heartbeat_upstream_count_t;


/* what the renderers print: copied under the zone mutex */

typedef struct {
    ngx_http_ws_heartbeat_totals_t  totals;
    ngx_uint_t                      states[NGX_HTTP_WSHB_NSTATES];
    ngx_array_t                     upstreams;
    ngx_uint_t                      used;
    ngx_uint_t                      nrecords;
    ngx_uint_t                      matching;   /* sessions passing filters */
    time_t                          created;
    ngx_str_t                       zone_name;
    size_t                          zone_size;
} ngx_http_ws_heartbeat_summary_t;


/* a chain of fixed-size buffers the renderers append to */

typedef struct {
    ngx_pool_t                     *pool;
    ngx_chain_t                    *first;
    ngx_chain_t                    *last;
    ngx_buf_t                      *buf;
} ngx_http_ws_heartbeat_out_t;


ngx_int_t ngx_http_ws_heartbeat_parse_query(ngx_str_t *args,
    ngx_http_ws_heartbeat_query_t *q, ngx_str_t *error);
u_char *ngx_http_ws_heartbeat_reserve(ngx_http_ws_heartbeat_out_t *out,
    size_t n);
ngx_int_t ngx_http_ws_heartbeat_json_head(ngx_http_ws_heartbeat_out_t *out,
    ngx_http_ws_heartbeat_summary_t *sum);
ngx_int_t ngx_http_ws_heartbeat_json_session(ngx_http_ws_heartbeat_out_t *out,
    ngx_http_ws_heartbeat_record_t *rec, ngx_uint_t first);
ngx_int_t ngx_http_ws_heartbeat_json_tail(ngx_http_ws_heartbeat_out_t *out);
ngx_int_t ngx_http_ws_heartbeat_prometheus(ngx_http_ws_heartbeat_out_t *out,
    ngx_http_ws_heartbeat_summary_t *sum);


#endif /* _NGX_HTTP_WS_HEARTBEAT_STATUS_H_INCLUDED_ */
