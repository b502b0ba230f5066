
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 *
 * The status endpoint's query string parser, and the rule for tag names
 * that the query and the ws_heartbeat_tag directive share.  Pure C, no
 * nginx dependency, so that it can be fuzzed alone.
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

/* tags: per location, and the longest name and value */
#define NGX_HTTP_WSHB_MAX_TAGS           4
#define NGX_HTTP_WSHB_TAG_NAME_LEN       16
#define NGX_HTTP_WSHB_TAG_VALUE_LEN      64

/* a session id as the JSON shows it: 22 hex digits */
#define NGX_HTTP_WSHB_ID_LEN             22


/* a value, unescaped in place in the caller's buffer; len 0: not given */

typedef struct {
    const uint8_t  *data;
    size_t          len;
} ngx_http_ws_heartbeat_span_t;


typedef struct {
    unsigned                      format;
    unsigned                      format_set;
    unsigned long                 sessions;
    uint64_t                      since;        /* resume after this delta */
    unsigned                      since_set;

    /* filters: every one given must match */
    unsigned                      filters;      /* how many were given */
    ngx_http_ws_heartbeat_span_t  state;
    unsigned                      state_index;  /* set by the caller */
    ngx_http_ws_heartbeat_span_t  upstream;
    ngx_http_ws_heartbeat_span_t  client;
    ngx_http_ws_heartbeat_span_t  id;
    uint32_t                      id_start;     /* the id's three parts */
    uint32_t                      id_pid;
    uint32_t                      id_counter;
    ngx_http_ws_heartbeat_span_t  uri;          /* a prefix */
    uint64_t                      older_than;   /* seconds */
    unsigned                      older_than_set;
    unsigned                      ntags;
    ngx_http_ws_heartbeat_span_t  tag_name[NGX_HTTP_WSHB_MAX_TAGS];
    ngx_http_ws_heartbeat_span_t  tag_value[NGX_HTTP_WSHB_MAX_TAGS];

    /* a DELETE's: every session without filters, its close frame */
    unsigned                      all;
    unsigned                      code;         /* 0: the default */
    ngx_http_ws_heartbeat_span_t  reason;
    unsigned                      reason_set;
} ngx_http_ws_heartbeat_query_t;


/*
 * Parses buf[0..len), the query string, unescaping values in place (the
 * buffer must be the caller's copy).  Returns NULL, or a one-line reason.
 */

const char *ngx_http_ws_heartbeat_parse_query(uint8_t *buf, size_t len,
    ngx_http_ws_heartbeat_query_t *q);

int ngx_http_ws_heartbeat_parse_seq(const uint8_t *p, size_t len,
    uint64_t *seq);

/* [a-z][a-z0-9_]*, at most NGX_HTTP_WSHB_TAG_NAME_LEN bytes */
int ngx_http_ws_heartbeat_tag_name_valid(const uint8_t *p, size_t len);

/* a close code an operator may send: 1000, 1001, 1008, 1011-1013, 4xxx */
int ngx_http_ws_heartbeat_close_code_valid(unsigned long code);


#endif /* _NGX_HTTP_WS_HEARTBEAT_QUERY_H_INCLUDED_ */
