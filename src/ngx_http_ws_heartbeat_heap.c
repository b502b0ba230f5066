
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 */


#include "ngx_http_ws_heartbeat_heap.h"


static void ngx_http_ws_heartbeat_heap_up(ngx_http_ws_heartbeat_heap_t *h,
    size_t i);
static void ngx_http_ws_heartbeat_heap_down(ngx_http_ws_heartbeat_heap_t *h,
    size_t i);


/* key a comes before key b */
#define ngx_http_ws_heartbeat_before(a, b)  ((int32_t) ((a) - (b)) < 0)


void
ngx_http_ws_heartbeat_heap_add(ngx_http_ws_heartbeat_heap_t *h,
    ngx_http_ws_heartbeat_timer_t *t, uint32_t key)
{
    uint32_t  old;

    if (t->index == NGX_HTTP_WSHB_NO_TIMER) {
        t->index = (uint32_t) h->n;
        h->nodes[h->n].key = key;
        h->nodes[h->n++].id = (uint32_t) (((unsigned char *) t - h->base)
                                          / h->stride);
        ngx_http_ws_heartbeat_heap_up(h, t->index);
        return;
    }

    old = h->nodes[t->index].key;
    h->nodes[t->index].key = key;

    if (ngx_http_ws_heartbeat_before(key, old)) {
        ngx_http_ws_heartbeat_heap_up(h, t->index);

    } else if (key != old) {
        ngx_http_ws_heartbeat_heap_down(h, t->index);
    }
}


void
ngx_http_ws_heartbeat_heap_del(ngx_http_ws_heartbeat_heap_t *h,
    ngx_http_ws_heartbeat_timer_t *t)
{
    size_t                              i;
    ngx_http_ws_heartbeat_heap_node_t  *last;

    if (t->index == NGX_HTTP_WSHB_NO_TIMER) {
        return;
    }

    i = t->index;
    t->index = NGX_HTTP_WSHB_NO_TIMER;

    if (i == --h->n) {
        return;
    }

    last = &h->nodes[h->n];

    /* the last one in its place, then up or down to where it belongs */

    h->nodes[i] = *last;
    ngx_http_ws_heartbeat_heap_timer(h, last->id)->index = (uint32_t) i;

    if (i > 0
        && ngx_http_ws_heartbeat_before(h->nodes[i].key,
                                        h->nodes[(i - 1) / 2].key))
    {
        ngx_http_ws_heartbeat_heap_up(h, i);

    } else {
        ngx_http_ws_heartbeat_heap_down(h, i);
    }
}


static void
ngx_http_ws_heartbeat_heap_up(ngx_http_ws_heartbeat_heap_t *h, size_t i)
{
    size_t                              parent;
    ngx_http_ws_heartbeat_heap_node_t   node, *nodes;

    nodes = h->nodes;
    node = nodes[i];

    while (i > 0) {
        parent = (i - 1) / 2;

        if (!ngx_http_ws_heartbeat_before(node.key, nodes[parent].key)) {
            break;
        }

        nodes[i] = nodes[parent];
        ngx_http_ws_heartbeat_heap_timer(h, nodes[i].id)->index = (uint32_t) i;
        i = parent;
    }

    nodes[i] = node;
    ngx_http_ws_heartbeat_heap_timer(h, node.id)->index = (uint32_t) i;
}


static void
ngx_http_ws_heartbeat_heap_down(ngx_http_ws_heartbeat_heap_t *h, size_t i)
{
    size_t                              child;
    ngx_http_ws_heartbeat_heap_node_t   node, *nodes;

    nodes = h->nodes;
    node = nodes[i];

    for ( ;; ) {
        child = 2 * i + 1;

        if (child >= h->n) {
            break;
        }

        if (child + 1 < h->n
            && ngx_http_ws_heartbeat_before(nodes[child + 1].key,
                                            nodes[child].key))
        {
            child++;
        }

        if (!ngx_http_ws_heartbeat_before(nodes[child].key, node.key)) {
            break;
        }

        nodes[i] = nodes[child];
        ngx_http_ws_heartbeat_heap_timer(h, nodes[i].id)->index = (uint32_t) i;
        i = child;
    }

    nodes[i] = node;
    ngx_http_ws_heartbeat_heap_timer(h, node.id)->index = (uint32_t) i;
}
