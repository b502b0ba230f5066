
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 */


#ifndef _NGX_HTTP_WS_HEARTBEAT_JSON_H_INCLUDED_
#define _NGX_HTTP_WS_HEARTBEAT_JSON_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_ws_heartbeat_out.h"


/*
 * The most the document's head takes: its text (about 3 500 bytes), its
 * numbers (under 250 of them, none longer than NGX_ATOMIC_T_LEN), and the
 * zone's name (cut at 256 bytes, each escaped in 6 at most)
 */
#define NGX_HTTP_WSHB_JSON_HEAD                                              \
    (4096 + 250 * NGX_ATOMIC_T_LEN + 2 + 6 * 256)

/* an ISO 8601 time with milliseconds: "2026-12-01T12:00:00.000Z" */
#define NGX_HTTP_WSHB_TIME_LEN       (sizeof("1970-01-01T00:00:00.000Z") - 1)

/* the most the tags of a session take: names need no escapes */
#define NGX_HTTP_WSHB_TAGS_JSON                                              \
    (sizeof(",\"tags\":{}") - 1                                              \
     + NGX_HTTP_WSHB_MAX_TAGS * (NGX_HTTP_WSHB_TAG_NAME_LEN + 4             \
                                 + 2 + 6 * NGX_HTTP_WSHB_TAG_VALUE_LEN))

/*
 * The most one session object takes as JSON: its names and punctuation
 * (under 450 bytes, state and reason names included), 16 numbers, 6
 * times, 2 addresses, and the host, URI and tags, each byte escaped in 6
 * at most
 */
#define NGX_HTTP_WSHB_RECORD_JSON                                            \
    (576 + 16 * NGX_INT64_LEN + 6 * NGX_HTTP_WSHB_TIME_LEN                   \
     + 2 * NGX_SOCKADDR_STRLEN                                               \
     + 2 + 6 * NGX_HTTP_WSHB_HOST_LEN + 2 + 6 * NGX_HTTP_WSHB_URI_LEN        \
     + NGX_HTTP_WSHB_TAGS_JSON)


ngx_int_t ngx_http_ws_heartbeat_json_head(ngx_http_ws_heartbeat_out_t *out,
    ngx_http_ws_heartbeat_summary_t *sum);
ngx_int_t ngx_http_ws_heartbeat_json_session(ngx_http_ws_heartbeat_out_t *out,
    ngx_http_ws_heartbeat_view_t *view, ngx_uint_t first);
ngx_int_t ngx_http_ws_heartbeat_json_tail(ngx_http_ws_heartbeat_out_t *out);
ngx_int_t ngx_http_ws_heartbeat_json_event(ngx_http_ws_heartbeat_out_t *out,
    ngx_http_ws_heartbeat_event_t *ev);
ngx_int_t ngx_http_ws_heartbeat_json_snapshot(
    ngx_http_ws_heartbeat_out_t *out, uint64_t seq, ngx_uint_t resync,
    ngx_uint_t admin);
u_char *ngx_http_ws_heartbeat_json_time(u_char *p, uint64_t ms);


#endif /* _NGX_HTTP_WS_HEARTBEAT_JSON_H_INCLUDED_ */
