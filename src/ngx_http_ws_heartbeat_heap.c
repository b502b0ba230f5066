
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 */


#include "ngx_http_ws_heartbeat_heap.h"


static void ngx_http_ws_heartbeat_heap_up(ngx_http_ws_heartbeat_heap_t *h,
    size_t i);
static void ngx_http_ws_heartbeat_heap_down(ngx_http_ws_heartbeat_heap_t *h,
    size_t i);


/* a fires before b */
#define ngx_http_ws_heartbeat_before(a, b)                                    \
    ((int32_t) ((a)->key - (b)->key) < 0)


void
ngx_http_ws_heartbeat_heap_add(ngx_http_ws_heartbeat_heap_t *h,
    ngx_http_ws_heartbeat_timer_t *t, uint32_t key)
{
    uint32_t  old;

    if (t->index == NGX_HTTP_WSHB_NO_TIMER) {
        t->key = key;
        t->index = (uint32_t) h->n;
        h->nodes[h->n++] = t;
        ngx_http_ws_heartbeat_heap_up(h, t->index);
        return;
    }

    old = t->key;
    t->key = key;

    if ((int32_t) (key - old) < 0) {
        ngx_http_ws_heartbeat_heap_up(h, t->index);

    } else if (key != old) {
        ngx_http_ws_heartbeat_heap_down(h, t->index);
    }
}


void
ngx_http_ws_heartbeat_heap_del(ngx_http_ws_heartbeat_heap_t *h,
    ngx_http_ws_heartbeat_timer_t *t)
{
    size_t                          i;
    ngx_http_ws_heartbeat_timer_t  *last;

    if (t->index == NGX_HTTP_WSHB_NO_TIMER) {
        return;
    }

    i = t->index;
    t->index = NGX_HTTP_WSHB_NO_TIMER;

    last = h->nodes[--h->n];

    if (last == t) {
        return;
    }

    /* the last one in its place, then up or down to where it belongs */

    h->nodes[i] = last;
    last->index = (uint32_t) i;

    if (i > 0 && ngx_http_ws_heartbeat_before(last, h->nodes[(i - 1) / 2])) {
        ngx_http_ws_heartbeat_heap_up(h, i);

    } else {
        ngx_http_ws_heartbeat_heap_down(h, i);
    }
}


static void
ngx_http_ws_heartbeat_heap_up(ngx_http_ws_heartbeat_heap_t *h, size_t i)
{
    size_t                           parent;
    ngx_http_ws_heartbeat_timer_t   *t, **nodes;

    nodes = h->nodes;
    t = nodes[i];

    while (i > 0) {
        parent = (i - 1) / 2;

        if (!ngx_http_ws_heartbeat_before(t, nodes[parent])) {
            break;
        }

        nodes[i] = nodes[parent];
        nodes[i]->index = (uint32_t) i;
        i = parent;
    }

    nodes[i] = t;
    t->index = (uint32_t) i;
}


static void
ngx_http_ws_heartbeat_heap_down(ngx_http_ws_heartbeat_heap_t *h, size_t i)
{
    size_t                           child;
    ngx_http_ws_heartbeat_timer_t   *t, **nodes;

    nodes = h->nodes;
    t = nodes[i];

    for ( ;; ) {
        child = 2 * i + 1;

        if (child >= h->n) {
            break;
        }

        if (child + 1 < h->n
            && ngx_http_ws_heartbeat_before(nodes[child + 1], nodes[child]))
        {
            child++;
        }

        if (!ngx_http_ws_heartbeat_before(nodes[child], t)) {
            break;
        }

        nodes[i] = nodes[child];
        nodes[i]->index = (uint32_t) i;
        i = child;
    }

    nodes[i] = t;
    t->index = (uint32_t) i;
}
