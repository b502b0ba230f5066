
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_http_ws_heartbeat_timer.h"


static void ngx_http_ws_heartbeat_arm(ngx_msec_t at);
static void ngx_http_ws_heartbeat_tick(ngx_event_t *ev);


static ngx_http_ws_heartbeat_heap_t        ngx_http_ws_heartbeat_heap;
static ngx_event_t                         ngx_http_ws_heartbeat_ticker;
static ngx_http_ws_heartbeat_fired_pt      ngx_http_ws_heartbeat_fire;
static ngx_http_ws_heartbeat_periodic_pt   ngx_http_ws_heartbeat_job;
static ngx_msec_t                          ngx_http_ws_heartbeat_job_at;
static ngx_uint_t                          ngx_http_ws_heartbeat_job_on;


void
ngx_http_ws_heartbeat_timers_init(ngx_cycle_t *cycle,
    ngx_http_ws_heartbeat_fired_pt fired,
    ngx_http_ws_heartbeat_periodic_pt periodic)
{
    ngx_http_ws_heartbeat_fire = fired;
    ngx_http_ws_heartbeat_job = periodic;
    ngx_http_ws_heartbeat_job_on = 0;

    ngx_http_ws_heartbeat_ticker.handler = ngx_http_ws_heartbeat_tick;
    ngx_http_ws_heartbeat_ticker.log = cycle->log;
    ngx_http_ws_heartbeat_ticker.data = cycle;

    /* never holds up a graceful shutdown */
    ngx_http_ws_heartbeat_ticker.cancelable = 1;
}


/*
 * Room for the n timers of the owners, the k-th at base + k * stride: an
 * array reserved once, whose pages the system backs only as the heap
 * fills it
 */

ngx_int_t
ngx_http_ws_heartbeat_timers_reserve(void *base, size_t stride, size_t n,
    ngx_log_t *log)
{
    ngx_http_ws_heartbeat_heap_t  *h;

    h = &ngx_http_ws_heartbeat_heap;

    h->nodes = ngx_alloc(n * sizeof(ngx_http_ws_heartbeat_heap_node_t), log);
    if (h->nodes == NULL) {
        return NGX_ERROR;
    }

    h->n = 0;
    h->base = base;
    h->stride = stride;

    return NGX_OK;
}


/* at worker exit: nothing runs a timer after exit_process */

void
ngx_http_ws_heartbeat_timers_done(void)
{
    if (ngx_http_ws_heartbeat_heap.nodes) {
        ngx_free(ngx_http_ws_heartbeat_heap.nodes);
    }

    ngx_memzero(&ngx_http_ws_heartbeat_heap,
                sizeof(ngx_http_ws_heartbeat_heap_t));
}


void
ngx_http_ws_heartbeat_timer_add(ngx_http_ws_heartbeat_timer_t *t,
    ngx_msec_t delay)
{
    uint32_t  key;

    key = (uint32_t) (ngx_current_msec + delay);

    if (ngx_http_ws_heartbeat_timer_set(t)
        && ngx_http_ws_heartbeat_heap_key(&ngx_http_ws_heartbeat_heap, t)
           == key)
    {
        return;
    }

    ngx_http_ws_heartbeat_heap_add(&ngx_http_ws_heartbeat_heap, t, key);
    ngx_http_ws_heartbeat_arm(ngx_current_msec + delay);
}


void
ngx_http_ws_heartbeat_timer_del(ngx_http_ws_heartbeat_timer_t *t)
{
    ngx_http_ws_heartbeat_heap_del(&ngx_http_ws_heartbeat_heap, t);
}


/* the periodic job runs from a second from now on, until it says no */

void
ngx_http_ws_heartbeat_periodic(void)
{
    if (ngx_http_ws_heartbeat_job_on) {
        return;
    }

    ngx_http_ws_heartbeat_job_on = 1;
    ngx_http_ws_heartbeat_job_at = ngx_current_msec + NGX_HTTP_WSHB_PERIOD;
    ngx_http_ws_heartbeat_arm(ngx_http_ws_heartbeat_job_at);
}


/* the ticker fires at "at" at the latest */

static void
ngx_http_ws_heartbeat_arm(ngx_msec_t at)
{
    ngx_event_t  *ticker;

    ticker = &ngx_http_ws_heartbeat_ticker;

    if (ticker->timer_set) {
        if ((ngx_msec_int_t) (at - ticker->timer.key) >= 0) {
            return;
        }

        /* not ngx_add_timer() on a set timer: it may keep the later one */

        ngx_del_timer(ticker);
    }

    ngx_add_timer(ticker, at - ngx_current_msec);
}


/*
 * Runs the timers that are due and the periodic job if due, then waits
 * for the next of them.
 */

static void
ngx_http_ws_heartbeat_tick(ngx_event_t *ev)
{
    ngx_msec_t                      at;
    ngx_uint_t                      armed;
    ngx_msec_int_t                  d;
    ngx_http_ws_heartbeat_heap_t   *h;
    ngx_http_ws_heartbeat_timer_t  *t;

    h = &ngx_http_ws_heartbeat_heap;

    while ((t = ngx_http_ws_heartbeat_heap_min(h))) {

        if ((int32_t) (ngx_http_ws_heartbeat_heap_min_key(h)
                       - (uint32_t) ngx_current_msec)
            > 0)
        {
            break;
        }

        ngx_http_ws_heartbeat_heap_del(h, t);

        /* may set its timer again, always at least 1 ms ahead */

        ngx_http_ws_heartbeat_fire(t);
    }

    if (ngx_http_ws_heartbeat_job_on
        && (ngx_msec_int_t) (ngx_http_ws_heartbeat_job_at - ngx_current_msec)
           <= 0)
    {
        ngx_http_ws_heartbeat_job_on = ngx_http_ws_heartbeat_job(ev->log);
        ngx_http_ws_heartbeat_job_at = ngx_current_msec
                                       + NGX_HTTP_WSHB_PERIOD;
    }

    if (ev->timer_set) {
        ngx_del_timer(ev);
    }

    at = 0;
    armed = 0;

    if (ngx_http_ws_heartbeat_heap_min(h)) {
        d = (int32_t) (ngx_http_ws_heartbeat_heap_min_key(h)
                       - (uint32_t) ngx_current_msec);
        at = ngx_current_msec + d;
        armed = 1;
    }

    if (ngx_http_ws_heartbeat_job_on
        && (!armed
            || (ngx_msec_int_t) (ngx_http_ws_heartbeat_job_at - at) < 0))
    {
        at = ngx_http_ws_heartbeat_job_at;
        armed = 1;
    }

    if (armed) {
        ngx_add_timer(ev, at - ngx_current_msec);
    }
}
