
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 *
 * The documents of the status side: the counts they are made from, copied
 * under the zone's mutex, and the chain of buffers they are written into.
 */


#ifndef _NGX_HTTP_WS_HEARTBEAT_OUT_H_INCLUDED_
#define _NGX_HTTP_WS_HEARTBEAT_OUT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_ws_heartbeat_module.h"
#include "ngx_http_ws_heartbeat_keys.h"


#define NGX_HTTP_WSHB_CHUNK              16384


/* a session count per upstream peer */

typedef struct {
    ngx_http_ws_heartbeat_addr_t    addr;
    ngx_uint_t                      sessions;
} ngx_http_ws_heartbeat_upstream_count_t;


/* sessions by the value of a tag declared with "metrics" */

typedef struct {
    u_char                          name[NGX_HTTP_WSHB_TAG_NAME_LEN];
    u_char                          value[NGX_HTTP_WSHB_TAG_VALUE_LEN];
    u_char                          name_len;
    u_char                          value_len;
    ngx_uint_t                      sessions;
    ngx_str_t                       label;      /* the value, as rendered */
} ngx_http_ws_heartbeat_tag_count_t;


/* a limit of the configuration, its counts, and its keys most held */

typedef struct {
    ngx_http_ws_heartbeat_limit_t      *limit;
    ngx_uint_t                          sessions;
    ngx_uint_t                          rejected;
    ngx_uint_t                          evicted;
    ngx_uint_t                          keys;
    ngx_uint_t                          ntop;
    ngx_http_ws_heartbeat_key_count_t  *top;    /* JSON, with a key only */
} ngx_http_ws_heartbeat_limit_count_t;


/* what the renderers print: copied under the zone mutex */

typedef struct {
    ngx_http_ws_heartbeat_totals_t  totals;
    ngx_uint_t                      states[NGX_HTTP_WSHB_NSTATES];
    ngx_array_t                     upstreams;
    ngx_array_t                     tags;       /* of ..._tag_count_t */
    ngx_array_t                     limits;     /* of ..._limit_count_t */
    ngx_uint_t                      used;
    ngx_uint_t                      nrecords;
    ngx_uint_t                      nnames;
    size_t                          names_size;
    ngx_uint_t                      unnamed;
    ngx_uint_t                      matching;   /* sessions passing filters */
    ngx_uint_t                      unjudged;   /* that filters cannot see */
    time_t                          created;
    ngx_str_t                       zone_name;
    size_t                          zone_size;
    uint64_t                        seq;        /* of the last delta */
    ngx_uint_t                      nevents;
} ngx_http_ws_heartbeat_summary_t;


/*
 * A chain of fixed-size buffers the renderers append to, taken from
 * "free" first when there is one (a document sent in slices reuses the
 * buffers sent already; they carry "tag")
 */

typedef struct {
    ngx_pool_t                     *pool;
    ngx_chain_t                    *first;
    ngx_chain_t                    *last;
    ngx_buf_t                      *buf;
    ngx_chain_t                   **free;
    ngx_buf_tag_t                   tag;
} ngx_http_ws_heartbeat_out_t;


u_char *ngx_http_ws_heartbeat_reserve(ngx_http_ws_heartbeat_out_t *out,
    size_t n);
ngx_int_t ngx_http_ws_heartbeat_status_error(ngx_http_request_t *r,
    ngx_uint_t status, ngx_str_t *text);
ngx_int_t ngx_http_ws_heartbeat_status_send(ngx_http_request_t *r,
    ngx_uint_t status, char *type, ngx_buf_t *b);


#endif /* _NGX_HTTP_WS_HEARTBEAT_OUT_H_INCLUDED_ */
