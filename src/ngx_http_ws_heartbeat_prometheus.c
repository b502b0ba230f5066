
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 *
 * The status document in the Prometheus text exposition format 0.0.4.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <nginx.h>

#include "ngx_http_ws_heartbeat_module.h"
#include "ngx_http_ws_heartbeat_prometheus.h"


#define ngx_http_ws_heartbeat_meta(p, name, type, help)                       \
    ngx_slprintf(p, last, "# HELP nginx_ws_" name " " help "\n"              \
                          "# TYPE nginx_ws_" name " " type "\n")

/*
 * The most the fixed part takes: 112 lines of text (about 6 000 bytes)
 * and 70 numbers, none longer than NGX_ATOMIC_T_LEN
 */
#define NGX_HTTP_WSHB_PROMETHEUS  (8192 + 100 * NGX_ATOMIC_T_LEN)


static u_char *ngx_http_ws_heartbeat_prometheus_sessions(u_char *p,
    u_char *last, ngx_http_ws_heartbeat_summary_t *sum);
static u_char *ngx_http_ws_heartbeat_prometheus_traffic(u_char *p,
    u_char *last, ngx_http_ws_heartbeat_totals_t *t);
static u_char *ngx_http_ws_heartbeat_prometheus_rtt(u_char *p,
    u_char *last, ngx_http_ws_heartbeat_totals_t *t);
static u_char *ngx_http_ws_heartbeat_prometheus_zone(u_char *p,
    u_char *last, ngx_http_ws_heartbeat_summary_t *sum);


/*
 * The Prometheus text format.  The fixed part, whose lines are all of a
 * bounded length, fits in one reservation and is written up to its end at
 * most; each upstream gets its own.
 */

ngx_int_t
ngx_http_ws_heartbeat_prometheus(ngx_http_ws_heartbeat_out_t *out,
    ngx_http_ws_heartbeat_summary_t *sum)
{
    u_char                                  *p, *last;
    ngx_uint_t                               i;
    ngx_http_ws_heartbeat_upstream_count_t  *uc;

    p = ngx_http_ws_heartbeat_reserve(out, NGX_HTTP_WSHB_PROMETHEUS);
    if (p == NULL) {
        return NGX_ERROR;
    }

    last = p + NGX_HTTP_WSHB_PROMETHEUS;

    p = ngx_http_ws_heartbeat_prometheus_sessions(p, last, sum);
    p = ngx_http_ws_heartbeat_prometheus_traffic(p, last, &sum->totals);
    p = ngx_http_ws_heartbeat_prometheus_rtt(p, last, &sum->totals);
    p = ngx_http_ws_heartbeat_prometheus_zone(p, last, sum);

    p = ngx_http_ws_heartbeat_meta(p, "upstream_sessions", "gauge",
            "Tracked sessions by upstream peer.");

    out->buf->last = p;

    uc = sum->upstreams.elts;

    for (i = 0; i < sum->upstreams.nelts; i++) {
        p = ngx_http_ws_heartbeat_reserve(out, NGX_SOCKADDR_STRLEN + 64);
        if (p == NULL) {
            return NGX_ERROR;
        }

        p = ngx_sprintf(p, "nginx_ws_upstream_sessions{upstream=\"");
        p = ngx_http_ws_heartbeat_addr_text(p, &uc[i].addr);
        p = ngx_sprintf(p, "\"} %ui\n", uc[i].sessions);
        out->buf->last = p;
    }

    return NGX_OK;
}


/* the module, the sessions by state and how they ended, the stream */

static u_char *
ngx_http_ws_heartbeat_prometheus_sessions(u_char *p, u_char *last,
    ngx_http_ws_heartbeat_summary_t *sum)
{
    ngx_uint_t                       i;
    ngx_http_ws_heartbeat_totals_t  *t;

    t = &sum->totals;

    p = ngx_http_ws_heartbeat_meta(p, "build_info", "gauge",
            "Module version and the nginx version it was built for.");
    p = ngx_slprintf(p, last, "nginx_ws_build_info{version=\""
                     NGX_HTTP_WS_HEARTBEAT_VERSION "\",nginx_version=\""
                     NGINX_VERSION "\"} 1\n");

    p = ngx_http_ws_heartbeat_meta(p, "uptime_seconds", "gauge",
            "Seconds since the zone was created.");
    p = ngx_slprintf(p, last, "nginx_ws_uptime_seconds %T\n",
                     ngx_time() - sum->created);

    p = ngx_http_ws_heartbeat_meta(p, "sessions", "gauge",
            "Tracked WebSocket sessions by liveness state.");

    for (i = 1; i < NGX_HTTP_WSHB_NSTATES; i++) {
        p = ngx_slprintf(p, last, "nginx_ws_sessions{state=\"%V\"} %ui\n",
                         &ngx_http_ws_heartbeat_states[i], sum->states[i]);
    }

    p = ngx_http_ws_heartbeat_meta(p, "sessions_opened_total", "counter",
            "WebSocket sessions opened, tracked or not.");
    p = ngx_slprintf(p, last, "nginx_ws_sessions_opened_total %uA\n",
                     t->opened);

    p = ngx_http_ws_heartbeat_meta(p, "sessions_closed_total", "counter",
            "WebSocket sessions closed, by reason.");

    for (i = 1; i < NGX_HTTP_WSHB_NREASONS; i++) {
        p = ngx_slprintf(p, last,
                         "nginx_ws_sessions_closed_total{reason=\"%V\"} "
                         "%uA\n",
                         &ngx_http_ws_heartbeat_reasons[i], t->closed[i]);
    }

    p = ngx_http_ws_heartbeat_meta(p, "sessions_rejected_total", "counter",
            "Upgrade requests refused by ws_heartbeat_max_sessions.");
    p = ngx_slprintf(p, last, "nginx_ws_sessions_rejected_total %uA\n",
                     t->rejected);

    p = ngx_http_ws_heartbeat_meta(p, "sessions_untracked_total", "counter",
            "Sessions served without a record because the zone was full.");
    p = ngx_slprintf(p, last, "nginx_ws_sessions_untracked_total %uA\n",
                     t->untracked);

    p = ngx_http_ws_heartbeat_meta(p, "sessions_reaped_total", "counter",
            "Records of worker processes that died, removed.");
    p = ngx_slprintf(p, last, "nginx_ws_sessions_reaped_total %uA\n",
                     t->reaped);

    p = ngx_http_ws_heartbeat_meta(p, "deltas_total", "counter",
            "Session deltas broadcast to subscribers.");
    p = ngx_slprintf(p, last, "nginx_ws_deltas_total %uL\n", sum->seq);

    p = ngx_http_ws_heartbeat_meta(p, "subscribers", "gauge",
            "Open subscribers of the delta stream, by transport.");
    p = ngx_slprintf(p, last,
                     "nginx_ws_subscribers{transport=\"websocket\"} %uA\n"
                     "nginx_ws_subscribers{transport=\"sse\"} %uA\n",
                     t->subscribers[0], t->subscribers[1]);

    p = ngx_http_ws_heartbeat_meta(p, "subscribers_closed_total", "counter",
            "Subscribers of the delta stream closed, by reason.");

    for (i = 0; i < NGX_HTTP_WSHB_SUB_NREASONS; i++) {
        p = ngx_slprintf(p, last, "nginx_ws_subscribers_closed_total"
                                  "{reason=\"%s\"} %uA\n",
                         ngx_http_ws_heartbeat_sub_reasons[i],
                         t->unsubscribed[i]);
    }

    return p;
}


/* pings, pongs, frames and bytes, by peer or direction */

static u_char *
ngx_http_ws_heartbeat_prometheus_traffic(u_char *p, u_char *last,
    ngx_http_ws_heartbeat_totals_t *t)
{
    ngx_uint_t  i;

    p = ngx_http_ws_heartbeat_meta(p, "pings_total", "counter",
            "Pings sent by nginx, by peer.");

    for (i = 0; i < 2; i++) {
        p = ngx_slprintf(p, last, "nginx_ws_pings_total{peer=\"%s\"} %uA\n",
                         ngx_http_ws_heartbeat_peers[i], t->pings[i]);
    }

    p = ngx_http_ws_heartbeat_meta(p, "pongs_total", "counter",
            "Pongs to nginx's pings received and removed, by peer.");

    for (i = 0; i < 2; i++) {
        p = ngx_slprintf(p, last, "nginx_ws_pongs_total{peer=\"%s\"} %uA\n",
                         ngx_http_ws_heartbeat_peers[i], t->pongs[i]);
    }

    p = ngx_http_ws_heartbeat_meta(p, "frames_total", "counter",
            "Frames proxied, by direction.");

    for (i = 0; i < 2; i++) {
        p = ngx_slprintf(p, last,
                         "nginx_ws_frames_total{direction=\"%s\"} %uA\n",
                         ngx_http_ws_heartbeat_directions[i], t->frames[i]);
    }

    p = ngx_http_ws_heartbeat_meta(p, "bytes_total", "counter",
            "Bytes proxied, by direction.");

    for (i = 0; i < 2; i++) {
        p = ngx_slprintf(p, last,
                         "nginx_ws_bytes_total{direction=\"%s\"} %uA\n",
                         ngx_http_ws_heartbeat_directions[i], t->bytes[i]);
    }

    return p;
}


/* the RTT histogram of each peer */

static u_char *
ngx_http_ws_heartbeat_prometheus_rtt(u_char *p, u_char *last,
    ngx_http_ws_heartbeat_totals_t *t)
{
    ngx_uint_t         i, b;
    ngx_atomic_uint_t  acc;

    p = ngx_http_ws_heartbeat_meta(p, "rtt_seconds", "histogram",
            "Round-trip time of nginx's pings, by peer.");

    for (i = 0; i < 2; i++) {
        acc = 0;

        for (b = 0; b < NGX_HTTP_WSHB_RTT_BUCKETS; b++) {
            acc += t->rtt_bucket[i][b];
            p = ngx_slprintf(p, last, "nginx_ws_rtt_seconds_bucket{peer=\"%s\","
                                      "le=\"%ui.%03ui\"} %uA\n",
                             ngx_http_ws_heartbeat_peers[i],
                             ngx_http_ws_heartbeat_rtt_bounds[b] / 1000,
                             ngx_http_ws_heartbeat_rtt_bounds[b] % 1000, acc);
        }

        acc += t->rtt_bucket[i][NGX_HTTP_WSHB_RTT_BUCKETS];

        p = ngx_slprintf(p, last,
                         "nginx_ws_rtt_seconds_bucket{peer=\"%s\","
                         "le=\"+Inf\"} %uA\n"
                         "nginx_ws_rtt_seconds_sum{peer=\"%s\"} "
                         "%uA.%03uA\n"
                         "nginx_ws_rtt_seconds_count{peer=\"%s\"} %uA\n",
                         ngx_http_ws_heartbeat_peers[i], acc,
                         ngx_http_ws_heartbeat_peers[i],
                         t->rtt_sum[i] / 1000, t->rtt_sum[i] % 1000,
                         ngx_http_ws_heartbeat_peers[i], acc);
    }

    return p;
}


/* the zone: its size, records and names */

static u_char *
ngx_http_ws_heartbeat_prometheus_zone(u_char *p, u_char *last,
    ngx_http_ws_heartbeat_summary_t *sum)
{
    p = ngx_http_ws_heartbeat_meta(p, "zone_size_bytes", "gauge",
            "Size of the shared memory zone.");
    p = ngx_slprintf(p, last, "nginx_ws_zone_size_bytes %uz\n", sum->zone_size);

    p = ngx_http_ws_heartbeat_meta(p, "zone_records", "gauge",
            "Session records of the zone, used and free.");
    p = ngx_slprintf(p, last, "nginx_ws_zone_records{state=\"used\"} %ui\n"
                              "nginx_ws_zone_records{state=\"free\"} %ui\n",
                     sum->used, sum->nrecords - sum->used);

    p = ngx_http_ws_heartbeat_meta(p, "zone_names_bytes", "gauge",
            "Bytes of the zone that hold the hosts and URIs of sessions.");
    p = ngx_slprintf(p, last, "nginx_ws_zone_names_bytes %uz\n",
                     sum->names_size);

    p = ngx_http_ws_heartbeat_meta(p, "sessions_unnamed_total", "counter",
            "Sessions tracked without their host and URI: no room left.");
    p = ngx_slprintf(p, last, "nginx_ws_sessions_unnamed_total %ui\n",
                     sum->unnamed);

    return p;
}
