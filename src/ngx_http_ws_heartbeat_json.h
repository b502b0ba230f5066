
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 */


#ifndef _NGX_HTTP_WS_HEARTBEAT_JSON_H_INCLUDED_
#define _NGX_HTTP_WS_HEARTBEAT_JSON_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_ws_heartbeat_out.h"


/*
 * The most the document's head takes: its text (about 1 300 bytes), its
 * numbers (under 100 of them, none longer than NGX_ATOMIC_T_LEN), and the
 * zone's name (cut at 256 bytes, each escaped in 6 at most)
 */
#define NGX_HTTP_WSHB_JSON_HEAD                                              \
    (2048 + 100 * NGX_ATOMIC_T_LEN + 2 + 6 * 256)

/* the most one session object takes as JSON */
#define NGX_HTTP_WSHB_RECORD_JSON                                            \
    (1536 + 6 * (NGX_HTTP_WSHB_HOST_LEN + NGX_HTTP_WSHB_URI_LEN))


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


#endif /* _NGX_HTTP_WS_HEARTBEAT_JSON_H_INCLUDED_ */
