
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 *
 * A hash table in the zone, the one the names, the upstream peers and
 * the keys are found through: chains of entries whose first field is the
 * offset in the zone of the next one (0: the end), from an array of such
 * offsets, a power of two long.  An entry that is free is on a free list
 * through the same field.  The table neither allocates nor locks: its
 * callers hold the zone mutex.
 */


#ifndef _NGX_HTTP_WS_HEARTBEAT_TABLE_H_INCLUDED_
#define _NGX_HTTP_WS_HEARTBEAT_TABLE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


typedef struct {
    u_char                        *base;        /* offsets count from it */
    uint32_t                      *buckets;
    uint32_t                       mask;        /* buckets less one */
} ngx_http_ws_heartbeat_table_t;


/* whether the entry is the one data describes */
typedef ngx_int_t (*ngx_http_ws_heartbeat_table_eq_pt)(void *entry,
    void *data);


#define ngx_http_ws_heartbeat_table_next(base, off)                           \
    (*(uint32_t *) ((u_char *) (base) + (off)))


uint32_t ngx_http_ws_heartbeat_table_hash(ngx_str_t *parts, ngx_uint_t n);
uint32_t ngx_http_ws_heartbeat_table_find(ngx_http_ws_heartbeat_table_t *t,
    uint32_t hash, ngx_http_ws_heartbeat_table_eq_pt eq, void *data);
void ngx_http_ws_heartbeat_table_link(ngx_http_ws_heartbeat_table_t *t,
    uint32_t hash, uint32_t off);
void ngx_http_ws_heartbeat_table_unlink(ngx_http_ws_heartbeat_table_t *t,
    uint32_t hash, uint32_t off);
void ngx_http_ws_heartbeat_table_entries(u_char *base, u_char *p, size_t n,
    size_t size, uint32_t *free);
uint32_t ngx_http_ws_heartbeat_table_take(u_char *base, uint32_t *free);
void ngx_http_ws_heartbeat_table_give(u_char *base, uint32_t *free,
    uint32_t off);


#endif /* _NGX_HTTP_WS_HEARTBEAT_TABLE_H_INCLUDED_ */
