
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

/* values of a tag shown as series of their own */
#define NGX_HTTP_WSHB_TAG_SERIES  1000


static u_char *ngx_http_ws_heartbeat_prometheus_sessions(u_char *p,
    u_char *last, ngx_http_ws_heartbeat_summary_t *sum);
static u_char *ngx_http_ws_heartbeat_prometheus_traffic(u_char *p,
    u_char *last, ngx_http_ws_heartbeat_totals_t *t);
static u_char *ngx_http_ws_heartbeat_prometheus_rtt(u_char *p,
    u_char *last, ngx_http_ws_heartbeat_totals_t *t);
static u_char *ngx_http_ws_heartbeat_prometheus_zone(u_char *p,
    u_char *last, ngx_http_ws_heartbeat_summary_t *sum);
static ngx_int_t ngx_http_ws_heartbeat_prometheus_tags(
    ngx_http_ws_heartbeat_out_t *out, ngx_http_ws_heartbeat_summary_t *sum);
static ngx_int_t ngx_http_ws_heartbeat_tag_merge(ngx_array_t *tags,
    ngx_pool_t *pool, ngx_uint_t *merged);
static ngx_int_t ngx_http_ws_heartbeat_tag_line(
    ngx_http_ws_heartbeat_out_t *out, ngx_http_ws_heartbeat_tag_count_t *tc,
    ngx_uint_t other);
static ngx_int_t ngx_http_ws_heartbeat_tag_cmp(const void *one,
    const void *two);
static ngx_int_t ngx_http_ws_heartbeat_tag_cmp_sessions(const void *one,
    const void *two);
static u_char *ngx_http_ws_heartbeat_label(u_char *p, u_char *s, size_t len);
static ngx_int_t ngx_http_ws_heartbeat_prometheus_duration(
    ngx_http_ws_heartbeat_out_t *out, ngx_http_ws_heartbeat_totals_t *t);
static ngx_int_t ngx_http_ws_heartbeat_prometheus_limits(
    ngx_http_ws_heartbeat_out_t *out, ngx_http_ws_heartbeat_summary_t *sum);
static u_char *ngx_http_ws_heartbeat_limit_labels(u_char *p,
    ngx_http_ws_heartbeat_limit_t *l);
static ngx_uint_t ngx_http_ws_heartbeat_limit_same(
    ngx_http_ws_heartbeat_limit_t *one, ngx_http_ws_heartbeat_limit_t *two);


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
        p = ngx_http_ws_heartbeat_addr_text(p, &uc[i].addr, 1);
        p = ngx_sprintf(p, "\"} %ui\n", uc[i].sessions);
        out->buf->last = p;
    }

    if (ngx_http_ws_heartbeat_prometheus_limits(out, sum) != NGX_OK
        || ngx_http_ws_heartbeat_prometheus_duration(out, &sum->totals)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_ws_heartbeat_prometheus_tags(out, sum);
}


/* how long sessions lasted, by why they ended */

static ngx_int_t
ngx_http_ws_heartbeat_prometheus_duration(ngx_http_ws_heartbeat_out_t *out,
    ngx_http_ws_heartbeat_totals_t *t)
{
    u_char             *p, *last;
    size_t              len;
    ngx_uint_t          i, b;
    ngx_atomic_uint_t   acc;

    p = ngx_http_ws_heartbeat_reserve(out, 256);
    if (p == NULL) {
        return NGX_ERROR;
    }

    last = p + 256;

    out->buf->last = ngx_http_ws_heartbeat_meta(p, "session_duration_seconds",
                         "histogram",
                         "How long sessions lasted, by why they ended.");

    len = (NGX_HTTP_WSHB_DURATION_BUCKETS + 3) * (96 + NGX_ATOMIC_T_LEN);

    for (i = 1; i < NGX_HTTP_WSHB_NREASONS; i++) {
        p = ngx_http_ws_heartbeat_reserve(out, len);
        if (p == NULL) {
            return NGX_ERROR;
        }

        last = p + len;
        acc = 0;

        for (b = 0; b < NGX_HTTP_WSHB_DURATION_BUCKETS; b++) {
            acc += t->duration_bucket[i][b];
            p = ngx_slprintf(p, last, "nginx_ws_session_duration_seconds_bucket"
                                      "{reason=\"%V\",le=\"%ui\"} %uA\n",
                             &ngx_http_ws_heartbeat_reasons[i],
                             ngx_http_ws_heartbeat_duration_bounds[b], acc);
        }

        acc += t->duration_bucket[i][NGX_HTTP_WSHB_DURATION_BUCKETS];

        out->buf->last = ngx_slprintf(p, last,
                             "nginx_ws_session_duration_seconds_bucket"
                             "{reason=\"%V\",le=\"+Inf\"} %uA\n"
                             "nginx_ws_session_duration_seconds_sum"
                             "{reason=\"%V\"} %uA.%03uA\n"
                             "nginx_ws_session_duration_seconds_count"
                             "{reason=\"%V\"} %uA\n",
                             &ngx_http_ws_heartbeat_reasons[i], acc,
                             &ngx_http_ws_heartbeat_reasons[i],
                             t->duration_sum[i] / 1000,
                             t->duration_sum[i] % 1000,
                             &ngx_http_ws_heartbeat_reasons[i], acc);
    }

    return NGX_OK;
}


/*
 * The limits, by where they are: their server's first name, location and
 * key.  Limits that share all three (servers without a name) are summed.
 */

static ngx_int_t
ngx_http_ws_heartbeat_prometheus_limits(ngx_http_ws_heartbeat_out_t *out,
    ngx_http_ws_heartbeat_summary_t *sum)
{
    u_char                               *p;
    ngx_uint_t                            f, i, j, v, keyed;
    ngx_http_ws_heartbeat_limit_count_t  *lc;

    static const char  *families[][4] = {
        { "sessions_rejected_total", "counter",
          "Upgrade requests refused by a ws_heartbeat_max_sessions limit." },
        { "sessions_evicted_total", "counter",
          "Sessions closed to admit a newer one of their key." },
        { "limit_sessions", "gauge",
          "Sessions counted by a ws_heartbeat_max_sessions limit." },
        { "limit_max_sessions", "gauge",
          "The number of a ws_heartbeat_max_sessions limit: of all its "
          "sessions, or of each key's." },
        { "limit_keys", "gauge",
          "Keys of a limit per key that hold sessions." }
    };

    lc = sum->limits.elts;

    for (f = 0; f < sizeof(families) / sizeof(families[0]); f++) {
        p = ngx_http_ws_heartbeat_reserve(out, 256);
        if (p == NULL) {
            return NGX_ERROR;
        }

        out->buf->last = ngx_sprintf(p, "# HELP nginx_ws_%s %s\n"
                                        "# TYPE nginx_ws_%s %s\n",
                                     families[f][0], families[f][2],
                                     families[f][0], families[f][1]);

        for (i = 0; i < sum->limits.nelts; i++) {
            keyed = (lc[i].limit->key != NULL);

            if (f == 4 && !keyed) {
                continue;
            }

            for (j = 0; j < i; j++) {
                if (ngx_http_ws_heartbeat_limit_same(lc[i].limit,
                                                     lc[j].limit))
                {
                    break;
                }
            }

            if (j < i) {
                continue;
            }

            v = 0;

            for (j = i; j < sum->limits.nelts; j++) {
                if (j == i
                    || ngx_http_ws_heartbeat_limit_same(lc[i].limit,
                                                        lc[j].limit))
                {
                    v += (f == 0) ? lc[j].rejected
                         : (f == 1) ? lc[j].evicted
                         : (f == 2) ? lc[j].sessions
                         : (f == 3) ? lc[j].limit->max
                         : lc[j].keys;
                }
            }

            p = ngx_http_ws_heartbeat_reserve(out,
                                              64 + 3 * 3 * 256
                                              + NGX_ATOMIC_T_LEN);
            if (p == NULL) {
                return NGX_ERROR;
            }

            p = ngx_sprintf(p, "nginx_ws_%s", families[f][0]);
            p = ngx_http_ws_heartbeat_limit_labels(p, lc[i].limit);
            out->buf->last = ngx_sprintf(p, " %ui\n", v);
        }
    }

    return NGX_OK;
}


/* {server="",location="",key=""}: each cut at 256 bytes */

static u_char *
ngx_http_ws_heartbeat_limit_labels(u_char *p, ngx_http_ws_heartbeat_limit_t *l)
{
    ngx_str_t  server, location, key;

    ngx_http_ws_heartbeat_limit_where(l, &server, &location, &key);

    p = ngx_cpymem(p, "{server=\"", 9);
    p = ngx_http_ws_heartbeat_label(p, server.data, server.len);
    p = ngx_cpymem(p, "\",location=\"", 12);
    p = ngx_http_ws_heartbeat_label(p, location.data, location.len);
    p = ngx_cpymem(p, "\",key=\"", 7);
    p = ngx_http_ws_heartbeat_label(p, key.data, key.len);

    return ngx_cpymem(p, "\"}", 2);
}


static ngx_uint_t
ngx_http_ws_heartbeat_limit_same(ngx_http_ws_heartbeat_limit_t *one,
    ngx_http_ws_heartbeat_limit_t *two)
{
    ngx_str_t  s1, l1, k1, s2, l2, k2;

    ngx_http_ws_heartbeat_limit_where(one, &s1, &l1, &k1);
    ngx_http_ws_heartbeat_limit_where(two, &s2, &l2, &k2);

    return s1.len == s2.len && ngx_memcmp(s1.data, s2.data, s1.len) == 0
           && l1.len == l2.len && ngx_memcmp(l1.data, l2.data, l1.len) == 0
           && k1.len == k2.len && ngx_memcmp(k1.data, k2.data, k1.len) == 0;
}


/*
 * nginx_ws_tag_sessions{tag,value} for the tags declared with "metrics":
 * at most NGX_HTTP_WSHB_TAG_SERIES values of a tag, those with the most
 * sessions; the rest are summed as value="other", and how many values
 * that holds is nginx_ws_tag_values_other{tag}
 */

static ngx_int_t
ngx_http_ws_heartbeat_prometheus_tags(ngx_http_ws_heartbeat_out_t *out,
    ngx_http_ws_heartbeat_summary_t *sum)
{
    u_char                             *p, *last;
    ngx_uint_t                          i, j, k, n;
    ngx_http_ws_heartbeat_tag_count_t  *tc, other;

    p = ngx_http_ws_heartbeat_reserve(out, 512);
    if (p == NULL) {
        return NGX_ERROR;
    }

    last = p + 512;

    p = ngx_http_ws_heartbeat_meta(p, "tag_sessions", "gauge",
            "Tracked sessions by the value of a tag declared with metrics; "
            "past 1000 values of a tag, the rest are value=\"other\".");
    p = ngx_http_ws_heartbeat_meta(p, "tag_values_other", "gauge",
            "Distinct values of a tag counted under value=\"other\".");

    out->buf->last = p;

    if (ngx_http_ws_heartbeat_tag_merge(&sum->tags, out->pool, &n)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    tc = sum->tags.elts;

    for (i = 0; i < n; i = j) {

        /* tc[i .. j) are the values of one tag */

        for (j = i + 1; j < n; j++) {
            if (tc[j].name_len != tc[i].name_len
                || ngx_memcmp(tc[j].name, tc[i].name, tc[i].name_len) != 0)
            {
                break;
            }
        }

        if (j - i > NGX_HTTP_WSHB_TAG_SERIES) {
            ngx_sort(&tc[i], j - i, sizeof(ngx_http_ws_heartbeat_tag_count_t),
                     ngx_http_ws_heartbeat_tag_cmp_sessions);
        }

        other = tc[i];
        other.value_len = 0;
        other.sessions = 0;

        for (k = i; k < j; k++) {
            if (k - i < NGX_HTTP_WSHB_TAG_SERIES) {
                if (ngx_http_ws_heartbeat_tag_line(out, &tc[k], 0) != NGX_OK) {
                    return NGX_ERROR;
                }

            } else {
                other.sessions += tc[k].sessions;
            }
        }

        if (j - i > NGX_HTTP_WSHB_TAG_SERIES) {
            if (ngx_http_ws_heartbeat_tag_line(out, &other, 1) != NGX_OK) {
                return NGX_ERROR;
            }
        }

        other.sessions = (j - i > NGX_HTTP_WSHB_TAG_SERIES)
                         ? j - i - NGX_HTTP_WSHB_TAG_SERIES : 0;

        if (ngx_http_ws_heartbeat_tag_line(out, &other, 2) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * Sorted by tag and value, one entry per value as rendered (values that
 * differ only in what the rendering replaces are one series): the number
 * left in *merged
 */

static ngx_int_t
ngx_http_ws_heartbeat_tag_merge(ngx_array_t *tags, ngx_pool_t *pool,
    ngx_uint_t *merged)
{
    u_char                             *p;
    size_t                              size;
    ngx_uint_t                          i, n;
    ngx_http_ws_heartbeat_tag_count_t  *tc;

    tc = tags->elts;
    *merged = 0;

    if (tags->nelts == 0) {
        return NGX_OK;
    }

    size = 0;

    for (i = 0; i < tags->nelts; i++) {
        size += 3 * tc[i].value_len;
    }

    p = ngx_pnalloc(pool, size + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < tags->nelts; i++) {
        tc[i].label.data = p;
        p = ngx_http_ws_heartbeat_label(p, tc[i].value, tc[i].value_len);
        tc[i].label.len = p - tc[i].label.data;
    }

    ngx_sort(tc, tags->nelts, sizeof(ngx_http_ws_heartbeat_tag_count_t),
             ngx_http_ws_heartbeat_tag_cmp);

    n = 0;

    for (i = 1; i < tags->nelts; i++) {
        if (ngx_http_ws_heartbeat_tag_cmp(&tc[n], &tc[i]) == 0) {
            tc[n].sessions += tc[i].sessions;

        } else {
            tc[++n] = tc[i];
        }
    }

    *merged = n + 1;

    return NGX_OK;
}


/* kind 0: a value's line; 1: value="other"; 2: tag_values_other */

static ngx_int_t
ngx_http_ws_heartbeat_tag_line(ngx_http_ws_heartbeat_out_t *out,
    ngx_http_ws_heartbeat_tag_count_t *tc, ngx_uint_t kind)
{
    u_char  *p;

    p = ngx_http_ws_heartbeat_reserve(out, 128 + NGX_HTTP_WSHB_TAG_NAME_LEN
                                      + 3 * NGX_HTTP_WSHB_TAG_VALUE_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(p, "nginx_ws_%s{tag=\"%*s\"",
                    kind == 2 ? "tag_values_other" : "tag_sessions",
                    (size_t) tc->name_len, tc->name);

    if (kind == 0) {
        p = ngx_cpymem(p, ",value=\"", sizeof(",value=\"") - 1);
        p = ngx_cpymem(p, tc->label.data, tc->label.len);
        *p++ = '"';

    } else if (kind == 1) {
        p = ngx_cpymem(p, ",value=\"other\"", sizeof(",value=\"other\"") - 1);
    }

    out->buf->last = ngx_sprintf(p, "} %ui\n", tc->sessions);

    return NGX_OK;
}


static ngx_int_t
ngx_http_ws_heartbeat_tag_cmp(const void *one, const void *two)
{
    const ngx_http_ws_heartbeat_tag_count_t  *a = one, *b = two;

    ngx_int_t  rc;

    rc = ngx_memn2cmp((u_char *) a->name, (u_char *) b->name, a->name_len,
                      b->name_len);
    if (rc) {
        return rc;
    }

    return ngx_memn2cmp(a->label.data, b->label.data, a->label.len,
                        b->label.len);
}


/* most sessions first; the same number by value, so that it is stable */

static ngx_int_t
ngx_http_ws_heartbeat_tag_cmp_sessions(const void *one, const void *two)
{
    const ngx_http_ws_heartbeat_tag_count_t  *a = one, *b = two;

    if (a->sessions != b->sessions) {
        return (a->sessions > b->sessions) ? -1 : 1;
    }

    return ngx_http_ws_heartbeat_tag_cmp(one, two);
}


/*
 * A label value: backslash, double quote and line feed escaped.  What a
 * terminal or a browser would obey rather than show is replaced: the
 * other C0 controls and DEL by their control pictures (ESC by U+241B),
 * C1 controls (U+0080 to U+009F) and the bidi embeddings, overrides and
 * isolates (U+202A to U+202E, U+2066 to U+2069) by U+FFFD, as is any byte
 * that starts no valid UTF-8 sequence.  Needs at most 3 * len bytes.
 */

static u_char *
ngx_http_ws_heartbeat_label(u_char *p, u_char *s, size_t len)
{
    u_char  *end;
    size_t   n;

    end = s + len;

    while (s < end) {

        if (*s == '\\' || *s == '"' || *s == '\n') {
            *p++ = '\\';
            *p++ = (*s == '\n') ? 'n' : *s;
            s++;
            continue;
        }

        if (*s < 0x20 || *s == 0x7f) {

            /* U+2400 + the byte, or U+2421 for DEL */

            *p++ = 0xe2;
            *p++ = 0x90;
            *p++ = (*s == 0x7f) ? 0xa1 : 0x80 + *s;
            s++;
            continue;
        }

        n = ngx_http_ws_heartbeat_utf8_len(s, end - s);

        if (n == 0 || ngx_http_ws_heartbeat_utf8_hidden(s, n)) {
            p = ngx_cpymem(p, "\xef\xbf\xbd", 3);
            s += n ? n : 1;
            continue;
        }

        p = ngx_cpymem(p, s, n);
        s += n;
    }

    return p;
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

    p = ngx_http_ws_heartbeat_meta(p, "sessions_unkeyed_total", "counter",
            "Sessions a limit per key could not count: no room for the key.");
    p = ngx_slprintf(p, last, "nginx_ws_sessions_unkeyed_total %uA\n",
                     t->unkeyed);

    p = ngx_http_ws_heartbeat_meta(p, "sessions_untracked_total", "counter",
            "Sessions served without a record because the zone was full.");
    p = ngx_slprintf(p, last, "nginx_ws_sessions_untracked_total %uA\n",
                     t->untracked);

    p = ngx_http_ws_heartbeat_meta(p, "upgrades_skipped_total", "counter",
            "Upgrades passed through without heartbeats, by cause.");

    for (i = 0; i < NGX_HTTP_WSHB_NSKIPS; i++) {
        p = ngx_slprintf(p, last, "nginx_ws_upgrades_skipped_total"
                                  "{cause=\"%s\"} %uA\n",
                         ngx_http_ws_heartbeat_skips[i], t->skipped[i]);
    }

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
            "Bytes of the zone that hold the hosts, URIs and tags of "
            "sessions.");
    p = ngx_slprintf(p, last, "nginx_ws_zone_names_bytes %uz\n",
                     sum->names_size);

    p = ngx_http_ws_heartbeat_meta(p, "sessions_unnamed_total", "counter",
            "Sessions tracked without their host, URI and tags: no room left.");
    p = ngx_slprintf(p, last, "nginx_ws_sessions_unnamed_total %ui\n",
                     sum->unnamed);

    return p;
}
