
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_ws_heartbeat_table.h"


/* CRC32 of the parts, one after the other */

uint32_t
ngx_http_ws_heartbeat_table_hash(ngx_str_t *parts, ngx_uint_t n)
{
    uint32_t    hash;
    ngx_uint_t  i;

    ngx_crc32_init(hash);

    for (i = 0; i < n; i++) {
        ngx_crc32_update(&hash, parts[i].data, parts[i].len);
    }

    ngx_crc32_final(hash);

    return hash;
}


/* the offset of the entry that eq() says data describes; 0: none */

uint32_t
ngx_http_ws_heartbeat_table_find(ngx_http_ws_heartbeat_table_t *t,
    uint32_t hash, ngx_http_ws_heartbeat_table_eq_pt eq, void *data)
{
    uint32_t  off;

    for (off = t->buckets[hash & t->mask];
         off;
         off = ngx_http_ws_heartbeat_table_next(t->base, off))
    {
        if (eq(t->base + off, data)) {
            return off;
        }
    }

    return 0;
}


/* an entry at the head of its chain */

void
ngx_http_ws_heartbeat_table_link(ngx_http_ws_heartbeat_table_t *t,
    uint32_t hash, uint32_t off)
{
    uint32_t  *bucket;

    bucket = &t->buckets[hash & t->mask];

    ngx_http_ws_heartbeat_table_next(t->base, off) = *bucket;
    *bucket = off;
}


/* an entry out of its chain, which holds it */

void
ngx_http_ws_heartbeat_table_unlink(ngx_http_ws_heartbeat_table_t *t,
    uint32_t hash, uint32_t off)
{
    uint32_t  *link;

    link = &t->buckets[hash & t->mask];

    while (*link != off) {
        link = &ngx_http_ws_heartbeat_table_next(t->base, *link);
    }

    *link = ngx_http_ws_heartbeat_table_next(t->base, off);
}


/* n entries of size bytes at p on the free list */

void
ngx_http_ws_heartbeat_table_entries(u_char *base, u_char *p, size_t n,
    size_t size, uint32_t *free)
{
    size_t    i;
    uint32_t  off;

    off = (uint32_t) (p - base);
    *free = off;

    for (i = 0; i < n; i++) {
        *(uint32_t *) (p + i * size) = (i + 1 < n)
                                       ? off + (uint32_t) ((i + 1) * size)
                                       : 0;
    }
}


/* the offset of an entry off the free list; 0: it is empty */

uint32_t
ngx_http_ws_heartbeat_table_take(u_char *base, uint32_t *free)
{
    uint32_t  off;

    off = *free;

    if (off) {
        *free = ngx_http_ws_heartbeat_table_next(base, off);
    }

    return off;
}


void
ngx_http_ws_heartbeat_table_give(u_char *base, uint32_t *free, uint32_t off)
{
    ngx_http_ws_heartbeat_table_next(base, off) = *free;
    *free = off;
}
