
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 */


#ifndef _NGX_HTTP_WS_HEARTBEAT_STATUS_H_INCLUDED_
#define _NGX_HTTP_WS_HEARTBEAT_STATUS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_ws_heartbeat_module.h"
#include "ngx_http_ws_heartbeat_query.h"


#define NGX_HTTP_WSHB_MAX_UPSTREAMS      256

extern char  *ngx_http_ws_heartbeat_sub_reasons[];

/* its request context is a delta-stream subscriber */
extern ngx_module_t  ngx_http_ws_heartbeat_status_module;
#define NGX_HTTP_WSHB_CHUNK              16384

#define NGX_HTTP_WSHB_WEBSOCKET          0
#define NGX_HTTP_WSHB_SSE                1

/* the most one session object takes as JSON */
#define NGX_HTTP_WSHB_RECORD_JSON                                            \
    (1536 + 6 * (NGX_HTTP_WSHB_HOST_LEN + NGX_HTTP_WSHB_URI_LEN))


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
    ngx_uint_t                      nnames;
    size_t                          names_size;
    ngx_uint_t                      unnamed;
    ngx_uint_t                      matching;   /* sessions passing filters */
    time_t                          created;
    ngx_str_t                       zone_name;
    size_t                          zone_size;
    uint64_t                        seq;        /* of the last delta */
    ngx_uint_t                      nevents;
} ngx_http_ws_heartbeat_summary_t;


/* a chain of fixed-size buffers the renderers append to */

typedef struct {
    ngx_pool_t                     *pool;
    ngx_chain_t                    *first;
    ngx_chain_t                    *last;
    ngx_buf_t                      *buf;
} ngx_http_ws_heartbeat_out_t;


u_char *ngx_http_ws_heartbeat_reserve(ngx_http_ws_heartbeat_out_t *out,
    size_t n);
ngx_int_t ngx_http_ws_heartbeat_json_head(ngx_http_ws_heartbeat_out_t *out,
    ngx_http_ws_heartbeat_summary_t *sum);
ngx_int_t ngx_http_ws_heartbeat_json_session(ngx_http_ws_heartbeat_out_t *out,
    ngx_http_ws_heartbeat_view_t *view, ngx_uint_t first);
ngx_int_t ngx_http_ws_heartbeat_json_tail(ngx_http_ws_heartbeat_out_t *out);
ngx_int_t ngx_http_ws_heartbeat_json_event(ngx_http_ws_heartbeat_out_t *out,
    ngx_http_ws_heartbeat_event_t *ev);
ngx_int_t ngx_http_ws_heartbeat_json_snapshot(
    ngx_http_ws_heartbeat_out_t *out, uint64_t seq, ngx_uint_t resync);
u_char *ngx_http_ws_heartbeat_json_time(u_char *p, uint64_t ms);
ngx_int_t ngx_http_ws_heartbeat_wants_stream(ngx_http_request_t *r,
    ngx_http_ws_heartbeat_query_t *q);
ngx_int_t ngx_http_ws_heartbeat_subscribe(ngx_http_request_t *r,
    ngx_http_ws_heartbeat_query_t *q, ngx_uint_t transport,
    ngx_str_t *protocol);
ngx_int_t ngx_http_ws_heartbeat_dashboard(ngx_http_request_t *r);
ngx_int_t ngx_http_ws_heartbeat_prometheus(ngx_http_ws_heartbeat_out_t *out,
    ngx_http_ws_heartbeat_summary_t *sum);


#endif /* _NGX_HTTP_WS_HEARTBEAT_STATUS_H_INCLUDED_ */
