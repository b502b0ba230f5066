
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 *
 * A binary min-heap of timers keyed by 32-bit times, compared as
 * differences (wrap-safe while no two keys are 2^31 apart).  Each timer
 * knows its place in the heap, so that it can be moved or taken out in
 * O(log n).  Pure C, no nginx dependency: unit tested on its own.
 */


#ifndef _NGX_HTTP_WS_HEARTBEAT_HEAP_H_INCLUDED_
#define _NGX_HTTP_WS_HEARTBEAT_HEAP_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


#define NGX_HTTP_WSHB_NO_TIMER  ((uint32_t) -1)


/* a timer knows its place; its key, when it fires, is in its node */

typedef struct {
    uint32_t                         index;   /* in the heap, or NO_TIMER */
} ngx_http_ws_heartbeat_timer_t;


/*
 * A node holds its timer's key and its number: moving a node up or down
 * compares keys in the heap's own array, and touches a timer only to tell
 * it its new place.  The timers are members of equal structures in one
 * array, the heap's owners: timer k is "stride" bytes after timer k - 1,
 * and timer 0 is at "base".
 */

typedef struct {
    uint32_t                            key;
    uint32_t                            id;
} ngx_http_ws_heartbeat_heap_node_t;


typedef struct {
    ngx_http_ws_heartbeat_heap_node_t  *nodes;   /* room for one a timer */
    size_t                              n;
    unsigned char                      *base;    /* timer 0 */
    size_t                              stride;
} ngx_http_ws_heartbeat_heap_t;


/* a timer of the owners; one in the heap already is moved instead */
void ngx_http_ws_heartbeat_heap_add(ngx_http_ws_heartbeat_heap_t *h,
    ngx_http_ws_heartbeat_timer_t *t, uint32_t key);
void ngx_http_ws_heartbeat_heap_del(ngx_http_ws_heartbeat_heap_t *h,
    ngx_http_ws_heartbeat_timer_t *t);


#define ngx_http_ws_heartbeat_heap_timer(h, k)                                \
    ((ngx_http_ws_heartbeat_timer_t *) ((h)->base + (size_t) (k) * (h)->stride))

#define ngx_http_ws_heartbeat_heap_min(h)                                     \
    ((h)->n ? ngx_http_ws_heartbeat_heap_timer(h, (h)->nodes[0].id) : NULL)

/* with a min only */
#define ngx_http_ws_heartbeat_heap_min_key(h)  ((h)->nodes[0].key)

/* a set timer's key */
#define ngx_http_ws_heartbeat_heap_key(h, t)   ((h)->nodes[(t)->index].key)

#define ngx_http_ws_heartbeat_timer_set(t)                                    \
    ((t)->index != NGX_HTTP_WSHB_NO_TIMER)


#endif /* _NGX_HTTP_WS_HEARTBEAT_HEAP_H_INCLUDED_ */
