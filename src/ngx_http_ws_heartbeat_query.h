
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 *
 * The status endpoint's query string parser.  Pure C, no nginx
 * dependency, so that it can be fuzzed alone.
 */


#ifndef _NGX_HTTP_WS_HEARTBEAT_QUERY_H_INCLUDED_
#define _NGX_HTTP_WS_HEARTBEAT_QUERY_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


#define NGX_HTTP_WSHB_FORMAT_JSON        0
#define NGX_HTTP_WSHB_FORMAT_PROMETHEUS  1
#define NGX_HTTP_WSHB_FORMAT_SSE         2
#define NGX_HTTP_WSHB_FORMAT_HTML        3

#define NGX_HTTP_WSHB_SESSIONS_DEFAULT   100
#define NGX_HTTP_WSHB_SESSIONS_MAX       100000

#define NGX_HTTP_WSHB_FILTER_MAX         64


typedef struct {
    unsigned        format;
    unsigned        format_set;
    unsigned long   sessions;
    uint64_t        since;         /* resume after this delta */
    unsigned        since_set;
    const uint8_t  *state;         /* unescaped, in the caller's buffer */
    size_t          state_len;     /* 0: any */
    const uint8_t  *upstream;
    size_t          upstream_len;  /* 0: any */
    unsigned        state_index;   /* set by the caller from state */
} ngx_http_ws_heartbeat_query_t;


/*
 * Parses buf[0..len), the query string, unescaping values in place (the
 * buffer must be the caller's copy).  Returns NULL, or a one-line reason.
 */

const char *ngx_http_ws_heartbeat_parse_query(uint8_t *buf, size_t len,
    ngx_http_ws_heartbeat_query_t *q);


int ngx_http_ws_heartbeat_parse_seq(const uint8_t *p, size_t len,
    uint64_t *seq);


#endif /* _NGX_HTTP_WS_HEARTBEAT_QUERY_H_INCLUDED_ */
