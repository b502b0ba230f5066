
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 *
 * The keys of the limits per key (ws_heartbeat_max_sessions key=) in the
 * zone: how many sessions each holds, in every worker, and which records
 * are theirs, oldest first, so that the oldest can be evicted.
 */


#ifndef _NGX_HTTP_WS_HEARTBEAT_KEYS_H_INCLUDED_
#define _NGX_HTTP_WS_HEARTBEAT_KEYS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_ws_heartbeat_zone.h"


/* the most keys of a limit the JSON status lists */
#define NGX_HTTP_WSHB_TOP_KEYS        10


/* what ngx_http_ws_heartbeat_key_admit() did */
#define NGX_HTTP_WSHB_KEY_ADMITTED    0
#define NGX_HTTP_WSHB_KEY_EVICTED     1   /* admitted, the oldest evicted */
#define NGX_HTTP_WSHB_KEY_REFUSED     2
#define NGX_HTTP_WSHB_KEY_UNKEYED     3   /* not counted: no entry free */


/* the pool cleanup of a request admitted by a limit per key */

typedef struct {
    ngx_http_ws_heartbeat_zone_t   *zone;
    uint32_t                        key;        /* its entry in the zone */
} ngx_http_ws_heartbeat_key_cleanup_t;


/* a key and its sessions, as the JSON status lists the most held */

typedef struct {
    u_char                        data[NGX_HTTP_WSHB_LIMIT_KEY_LEN];
    u_char                        len;
    uint32_t                      sessions;
} ngx_http_ws_heartbeat_key_count_t;


ngx_uint_t ngx_http_ws_heartbeat_key_admit(ngx_http_ws_heartbeat_zone_t *zone,
    ngx_uint_t limit, ngx_uint_t max, ngx_uint_t evict, ngx_uint_t code,
    ngx_uint_t admit, ngx_str_t *key, ngx_log_t *log, uint32_t *off,
    ngx_http_ws_heartbeat_record_t *victim);
void ngx_http_ws_heartbeat_key_release(ngx_http_ws_heartbeat_zone_t *zone,
    uint32_t off);
void ngx_http_ws_heartbeat_key_link_locked(ngx_http_ws_heartbeat_zone_t *zone,
    uint32_t off, uint32_t i);
void ngx_http_ws_heartbeat_key_unlink_locked(
    ngx_http_ws_heartbeat_zone_t *zone, uint32_t i, ngx_uint_t release);
void ngx_http_ws_heartbeat_key_cleanup(void *data);
uint32_t ngx_http_ws_heartbeat_key_of(ngx_http_request_t *r);
ngx_uint_t ngx_http_ws_heartbeat_key_top_locked(
    ngx_http_ws_heartbeat_zone_t *zone, ngx_uint_t limit,
    ngx_http_ws_heartbeat_key_count_t *top);


/* ngx_http_ws_heartbeat_key_pressure(): a key at or above 90 % of max */
#define ngx_http_ws_heartbeat_key_pressure(zone, off, max)                    \
    (((ngx_http_ws_heartbeat_key_t *) ((u_char *) (zone)->shpool + (off)))    \
         ->sessions * 10 >= (max) * 9)


#endif /* _NGX_HTTP_WS_HEARTBEAT_KEYS_H_INCLUDED_ */
