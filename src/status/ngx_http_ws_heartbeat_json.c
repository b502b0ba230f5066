
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 *
 * The status document as JSON.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <nginx.h>

#include "ngx_http_ws_heartbeat_module.h"
#include "ngx_http_ws_heartbeat_json.h"


static u_char *ngx_http_ws_heartbeat_json_str(u_char *p, u_char *s,
    size_t len);
static u_char *ngx_http_ws_heartbeat_json_ago(u_char *p, uint64_t now,
    uint64_t start, uint32_t at);
static u_char *ngx_http_ws_heartbeat_json_peer(u_char *p, char *name,
    ngx_http_ws_heartbeat_record_t *rec, ngx_uint_t i, uint64_t now);
static u_char *ngx_http_ws_heartbeat_json_at(u_char *p, uint64_t start,
    uint32_t at);
static u_char *ngx_http_ws_heartbeat_json_buckets(u_char *p, u_char *last,
    ngx_uint_t *bounds, ngx_atomic_t *counts, ngx_uint_t n);
static u_char *ngx_http_ws_heartbeat_json_totals(u_char *p, u_char *last,
    ngx_http_ws_heartbeat_totals_t *t);
static u_char *ngx_http_ws_heartbeat_json_rtt(u_char *p, u_char *last,
    ngx_http_ws_heartbeat_totals_t *t);
static u_char *ngx_http_ws_heartbeat_json_stream(u_char *p, u_char *last,
    ngx_http_ws_heartbeat_summary_t *sum);
static u_char *ngx_http_ws_heartbeat_json_record(u_char *p,
    ngx_http_ws_heartbeat_record_t *rec, ngx_http_ws_heartbeat_text_t *text,
    uint64_t now);
static u_char *ngx_http_ws_heartbeat_json_tags(u_char *p,
    ngx_http_ws_heartbeat_text_t *text);
static ngx_uint_t ngx_http_ws_heartbeat_json_text(u_char *s, size_t len);
static ngx_int_t ngx_http_ws_heartbeat_json_limit(
    ngx_http_ws_heartbeat_out_t *out, ngx_http_ws_heartbeat_limit_count_t *lc,
    ngx_uint_t first);




ngx_int_t
ngx_http_ws_heartbeat_json_head(ngx_http_ws_heartbeat_out_t *out,
    ngx_http_ws_heartbeat_summary_t *sum)
{
    u_char                                  *p, *last;
    ngx_uint_t                               i;
    ngx_time_t                              *tp;
    ngx_http_ws_heartbeat_totals_t          *t;
    ngx_http_ws_heartbeat_limit_count_t     *lc;
    ngx_http_ws_heartbeat_upstream_count_t  *uc;

    t = &sum->totals;
    tp = ngx_timeofday();

    p = ngx_http_ws_heartbeat_reserve(out, NGX_HTTP_WSHB_JSON_HEAD);
    if (p == NULL) {
        return NGX_ERROR;
    }

    last = p + NGX_HTTP_WSHB_JSON_HEAD;

    p = ngx_slprintf(p, last,
                     "{\"module\":\"ngx_http_ws_heartbeat_module\","
                     "\"version\":\"" NGX_HTTP_WS_HEARTBEAT_VERSION "\","
                     "\"nginx_version\":\"" NGINX_VERSION "\","
                     "\"pid\":%P,\"time\":\"",
                     ngx_pid);
    p = ngx_http_ws_heartbeat_json_time(p, (uint64_t) tp->sec * 1000
                                           + tp->msec);
    p = ngx_slprintf(p, last, "\",\"uptime\":%T,", tp->sec - sum->created);

    p = ngx_slprintf(p, last, "\"zone\":{\"name\":");
    p = ngx_http_ws_heartbeat_json_str(p, sum->zone_name.data,
                                       ngx_min(sum->zone_name.len, 256));
    p = ngx_slprintf(p, last, ",\"size\":%uz,\"record_size\":%uz,"
                              "\"max_records\":%ui,\"used_records\":%ui,"
                              "\"free_records\":%ui,\"names\":%ui,"
                              "\"names_bytes\":%uz,\"unnamed\":%ui},",
                     sum->zone_size, sizeof(ngx_http_ws_heartbeat_record_t),
                     sum->nrecords, sum->used, sum->nrecords - sum->used,
                     sum->nnames, sum->names_size, sum->unnamed);

    p = ngx_slprintf(p, last, "\"sessions_by_state\":{");

    for (i = 1; i < NGX_HTTP_WSHB_NSTATES; i++) {
        p = ngx_slprintf(p, last, "%s\"%V\":%ui", i > 1 ? "," : "",
                         &ngx_http_ws_heartbeat_states[i], sum->states[i]);
    }

    p = ngx_slprintf(p, last, "},");
    p = ngx_http_ws_heartbeat_json_totals(p, last, t);
    p = ngx_http_ws_heartbeat_json_rtt(p, last, t);
    p = ngx_http_ws_heartbeat_json_stream(p, last, sum);

    p = ngx_slprintf(p, last, ",\"upstreams\":[");
    out->buf->last = p;

    uc = sum->upstreams.elts;

    for (i = 0; i < sum->upstreams.nelts; i++) {
        p = ngx_http_ws_heartbeat_reserve(out, NGX_SOCKADDR_STRLEN + 64);
        if (p == NULL) {
            return NGX_ERROR;
        }

        p = ngx_sprintf(p, "%s{\"peer\":\"", i ? "," : "");
        p = ngx_http_ws_heartbeat_addr_text(p, &uc[i].addr, 1);
        p = ngx_sprintf(p, "\",\"sessions\":%ui}", uc[i].sessions);
        out->buf->last = p;
    }

    p = ngx_http_ws_heartbeat_reserve(out, 16);
    if (p == NULL) {
        return NGX_ERROR;
    }

    out->buf->last = ngx_cpymem(p, "],\"limits\":[", 12);

    lc = sum->limits.elts;

    for (i = 0; i < sum->limits.nelts; i++) {
        if (ngx_http_ws_heartbeat_json_limit(out, &lc[i], i == 0) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    p = ngx_http_ws_heartbeat_reserve(out, 128);
    if (p == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(p, "],\"sessions_matching\":%ui,"
                       "\"sessions_unjudged\":%ui,\"sessions\":[",
                    sum->matching, sum->unjudged);
    out->buf->last = p;

    return NGX_OK;
}


/* UTF-8 without control characters */

static ngx_uint_t
ngx_http_ws_heartbeat_json_text(u_char *s, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (s[i] < 0x20 || s[i] == 0x7f) {
            return 0;
        }
    }

    return ngx_http_ws_heartbeat_utf8_valid(s, len);
}


/*
 * A limit: where it is, its counts and, for a limit per key, its number
 * of keys and the keys that hold most sessions.  A key that is not text
 * ($binary_remote_addr) is shown in hex, as "key_hex".
 */

static ngx_int_t
ngx_http_ws_heartbeat_json_limit(ngx_http_ws_heartbeat_out_t *out,
    ngx_http_ws_heartbeat_limit_count_t *lc, ngx_uint_t first)
{
    u_char                             *p, *last;
    size_t                              len;
    ngx_str_t                           server, location, key;
    ngx_uint_t                          i;
    ngx_http_ws_heartbeat_limit_t      *l;
    ngx_http_ws_heartbeat_key_count_t  *kc;

    l = lc->limit;
    ngx_http_ws_heartbeat_limit_where(l, &server, &location, &key);

    len = 256 + 5 * NGX_ATOMIC_T_LEN + 3 * (2 + 6 * 256);

    p = ngx_http_ws_heartbeat_reserve(out, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    last = p + len;

    p = ngx_slprintf(p, last, "%s{\"server\":", first ? "" : ",");
    p = ngx_http_ws_heartbeat_json_str(p, server.data, server.len);
    p = ngx_slprintf(p, last, ",\"location\":");
    p = ngx_http_ws_heartbeat_json_str(p, location.data, location.len);
    p = ngx_slprintf(p, last, ",\"key\":");

    if (l->key) {
        p = ngx_http_ws_heartbeat_json_str(p, key.data, key.len);

    } else {
        p = ngx_cpymem(p, "null", 4);
    }

    p = ngx_slprintf(p, last, ",\"max\":%ui,\"evict\":%s,\"sessions\":%ui,"
                              "\"rejected\":%ui,\"evicted\":%ui",
                     l->max, l->evict ? "true" : "false", lc->sessions,
                     lc->rejected, lc->evicted);

    if (l->key == NULL) {
        out->buf->last = ngx_slprintf(p, last, "}");
        return NGX_OK;
    }

    out->buf->last = ngx_slprintf(p, last, ",\"keys\":%ui,\"top\":[",
                                  lc->keys);

    for (i = 0; i < lc->ntop; i++) {
        kc = &lc->top[i];
        len = 64 + NGX_ATOMIC_T_LEN + 2 + 6 * NGX_HTTP_WSHB_LIMIT_KEY_LEN;

        p = ngx_http_ws_heartbeat_reserve(out, len);
        if (p == NULL) {
            return NGX_ERROR;
        }

        last = p + len;

        if (ngx_http_ws_heartbeat_json_text(kc->data, kc->len)) {
            p = ngx_slprintf(p, last, "%s{\"key\":", i ? "," : "");
            p = ngx_http_ws_heartbeat_json_str(p, kc->data, kc->len);

        } else {
            p = ngx_slprintf(p, last, "%s{\"key_hex\":\"", i ? "," : "");
            p = ngx_hex_dump(p, kc->data, kc->len);
            *p++ = '"';
        }

        out->buf->last = ngx_slprintf(p, last, ",\"sessions\":%uD}",
                                      kc->sessions);
    }

    p = ngx_http_ws_heartbeat_reserve(out, 2);
    if (p == NULL) {
        return NGX_ERROR;
    }

    out->buf->last = ngx_cpymem(p, "]}", 2);

    return NGX_OK;
}


/* "totals":{...}, the zone's counters of sessions, pings and traffic */

static u_char *
ngx_http_ws_heartbeat_json_totals(u_char *p, u_char *last,
    ngx_http_ws_heartbeat_totals_t *t)
{
    ngx_uint_t  i;

    p = ngx_slprintf(p, last, "\"totals\":{\"opened\":%uA,\"closed\":{",
                     t->opened);

    for (i = 1; i < NGX_HTTP_WSHB_NREASONS; i++) {
        p = ngx_slprintf(p, last, "%s\"%V\":%uA", i > 1 ? "," : "",
                         &ngx_http_ws_heartbeat_reasons[i], t->closed[i]);
    }

    p = ngx_slprintf(p, last, "},\"rejected\":%uA,\"evicted\":%uA,"
                              "\"unkeyed\":%uA,\"untracked\":%uA,"
                              "\"reaped\":%uA",
                     t->rejected, t->evicted, t->unkeyed, t->untracked,
                     t->reaped);

    p = ngx_slprintf(p, last, ",\"skipped\":{");

    for (i = 0; i < NGX_HTTP_WSHB_NSKIPS; i++) {
        p = ngx_slprintf(p, last, "%s\"%s\":%uA", i ? "," : "",
                         ngx_http_ws_heartbeat_skips[i], t->skipped[i]);
    }

    p = ngx_slprintf(p, last, "}");

    p = ngx_slprintf(p, last, ",\"pings\":{\"client\":%uA,\"upstream\":%uA}"
                              ",\"pongs\":{\"client\":%uA,\"upstream\":%uA}",
                     t->pings[0], t->pings[1], t->pongs[0], t->pongs[1]);

    p = ngx_slprintf(p, last, ",\"session_duration\":{");

    for (i = 1; i < NGX_HTTP_WSHB_NREASONS; i++) {
        p = ngx_slprintf(p, last, "%s\"%V\":{\"sum_ms\":%uA,"
                                  "\"buckets_s\":{",
                         i > 1 ? "," : "", &ngx_http_ws_heartbeat_reasons[i],
                         t->duration_sum[i]);

        p = ngx_http_ws_heartbeat_json_buckets(p, last,
                                ngx_http_ws_heartbeat_duration_bounds,
                                t->duration_bucket[i],
                                NGX_HTTP_WSHB_DURATION_BUCKETS);
    }

    p = ngx_slprintf(p, last, "}");

    p = ngx_slprintf(p, last, ",\"frames\":{\"%s\":%uA,\"%s\":%uA}"
                              ",\"bytes\":{\"%s\":%uA,\"%s\":%uA}},",
                     ngx_http_ws_heartbeat_directions[0], t->frames[0],
                     ngx_http_ws_heartbeat_directions[1], t->frames[1],
                     ngx_http_ws_heartbeat_directions[0], t->bytes[0],
                     ngx_http_ws_heartbeat_directions[1], t->bytes[1]);

    return p;
}


/*
 * A histogram's n buckets, not cumulative, by their bounds, and the one
 * above them ("+Inf"); closes the buckets' object and the histogram's
 */

static u_char *
ngx_http_ws_heartbeat_json_buckets(u_char *p, u_char *last,
    ngx_uint_t *bounds, ngx_atomic_t *counts, ngx_uint_t n)
{
    ngx_uint_t  b;

    for (b = 0; b < n; b++) {
        p = ngx_slprintf(p, last, "\"%ui\":%uA,", bounds[b], counts[b]);
    }

    return ngx_slprintf(p, last, "\"+Inf\":%uA}}", counts[n]);
}


/* "rtt": the RTT histogram of each peer, in milliseconds */

static u_char *
ngx_http_ws_heartbeat_json_rtt(u_char *p, u_char *last,
    ngx_http_ws_heartbeat_totals_t *t)
{
    ngx_uint_t  i;

    p = ngx_slprintf(p, last, "\"rtt\":{");

    for (i = 0; i < 2; i++) {
        p = ngx_slprintf(p, last, "%s\"%s\":{\"count\":%uA,\"sum_ms\":%uA,"
                                  "\"avg_ms\":%uA,\"buckets_ms\":{",
                         i ? "," : "", ngx_http_ws_heartbeat_peers[i],
                         t->rtt_count[i], t->rtt_sum[i],
                         t->rtt_count[i] ? t->rtt_sum[i] / t->rtt_count[i]
                         : 0);

        p = ngx_http_ws_heartbeat_json_buckets(p, last,
                                               ngx_http_ws_heartbeat_rtt_bounds,
                                               t->rtt_bucket[i],
                                               NGX_HTTP_WSHB_RTT_BUCKETS);
    }

    return ngx_slprintf(p, last, "}");
}


/* "stream": the delta ring and its subscribers */

static u_char *
ngx_http_ws_heartbeat_json_stream(u_char *p, u_char *last,
    ngx_http_ws_heartbeat_summary_t *sum)
{
    ngx_uint_t                       i;
    ngx_http_ws_heartbeat_totals_t  *t;

    t = &sum->totals;

    p = ngx_slprintf(p, last, ",\"stream\":{\"seq\":%uL,\"ring_size\":%ui,"
                              "\"oldest_seq\":%uL,\"subscribers\":{"
                              "\"websocket\":%uA,\"sse\":%uA},"
                              "\"subscribed\":%uA,\"unsubscribed\":{",
                     sum->seq, sum->nevents,
                     sum->seq >= sum->nevents ? sum->seq - sum->nevents + 1
                     : (uint64_t) 1,
                     t->subscribers[0], t->subscribers[1], t->subscribed);

    for (i = 0; i < NGX_HTTP_WSHB_SUB_NREASONS; i++) {
        p = ngx_slprintf(p, last, "%s\"%s\":%uA", i ? "," : "",
                         ngx_http_ws_heartbeat_sub_reasons[i],
                         t->unsubscribed[i]);
    }

    return ngx_slprintf(p, last, "},\"resyncs\":%uA}", t->resyncs);
}


ngx_int_t
ngx_http_ws_heartbeat_json_session(ngx_http_ws_heartbeat_out_t *out,
    ngx_http_ws_heartbeat_view_t *view, ngx_uint_t first)
{
    u_char      *p;
    ngx_time_t  *tp;

    p = ngx_http_ws_heartbeat_reserve(out, NGX_HTTP_WSHB_RECORD_JSON + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    tp = ngx_timeofday();

    if (!first) {
        *p++ = ',';
    }

    out->buf->last = ngx_http_ws_heartbeat_json_record(p, &view->rec,
                                      &view->text,
                                      (uint64_t) tp->sec * 1000 + tp->msec);

    return NGX_OK;
}


/*
 * A session delta for subscribers.  Records in deltas are rendered
 * without the fields relative to "now" (age_ms, *_ms_ago): a delta
 * describes one moment and reads the same whenever it is sent.
 */

ngx_int_t
ngx_http_ws_heartbeat_json_event(ngx_http_ws_heartbeat_out_t *out,
    ngx_http_ws_heartbeat_event_t *ev)
{
    u_char                          *p;
    ngx_http_ws_heartbeat_record_t  *rec;

    static char  *types[] = { "", "created", "updated", "deleted" };

    p = ngx_http_ws_heartbeat_reserve(out, 2 * NGX_HTTP_WSHB_RECORD_JSON
                                           + 256);
    if (p == NULL) {
        return NGX_ERROR;
    }

    rec = (ev->type == NGX_HTTP_WSHB_DELETED) ? &ev->before : &ev->after;

    p = ngx_sprintf(p, "{\"seq\":%uL,\"type\":\"%s\","
                       "\"sessionId\":\"" NGX_HTTP_WSHB_ID_FMT "\","
                       "\"timestamp\":\"",
                    ev->seq, types[ev->type < 4 ? ev->type : 0],
                    NGX_HTTP_WSHB_RECORD_ID(rec));
    p = ngx_http_ws_heartbeat_json_time(p, ev->time);
    *p++ = '"';

    if (ev->type == NGX_HTTP_WSHB_DELETED) {
        p = ngx_cpymem(p, ",\"reason\":", sizeof(",\"reason\":") - 1);

        if (rec->reason && rec->reason < NGX_HTTP_WSHB_NREASONS) {
            p = ngx_sprintf(p, "\"%V\"",
                            &ngx_http_ws_heartbeat_reasons[rec->reason]);

        } else {
            p = ngx_cpymem(p, "null", 4);
        }
    }

    if (ev->before.state != NGX_HTTP_WSHB_STATE_FREE) {
        p = ngx_cpymem(p, ",\"before\":", sizeof(",\"before\":") - 1);
        p = ngx_http_ws_heartbeat_json_record(p, &ev->before, &ev->text, 0);
    }

    if (ev->after.state != NGX_HTTP_WSHB_STATE_FREE) {
        p = ngx_cpymem(p, ",\"after\":", sizeof(",\"after\":") - 1);
        p = ngx_http_ws_heartbeat_json_record(p, &ev->after, &ev->text, 0);
    }

    *p++ = '}';

    out->buf->last = p;

    return NGX_OK;
}


/* the first message to a subscriber; the sessions follow, then "]}" */

ngx_int_t
ngx_http_ws_heartbeat_json_snapshot(ngx_http_ws_heartbeat_out_t *out,
    uint64_t seq, ngx_uint_t resync, ngx_uint_t admin)
{
    u_char      *p;
    ngx_uint_t   i;
    ngx_time_t  *tp;

    /* the header, and the close reasons' names: 13 of at most 16 bytes */

    p = ngx_http_ws_heartbeat_reserve(out, 512);
    if (p == NULL) {
        return NGX_ERROR;
    }

    tp = ngx_timeofday();

    p = ngx_sprintf(p, "{\"seq\":%uL,\"type\":\"snapshot\","
                       "\"resync\":%s,\"admin\":%s,\"worker\":%P,"
                       "\"timestamp\":\"",
                    seq, resync ? "true" : "false", admin ? "true" : "false",
                    ngx_pid);
    p = ngx_http_ws_heartbeat_json_time(p, (uint64_t) tp->sec * 1000
                                           + tp->msec);

    /* so that a page learns every reason a "deleted" delta may carry */

    p = ngx_cpymem(p, "\",\"close_reasons\":[",
                   sizeof("\",\"close_reasons\":[") - 1);

    for (i = 1; i < NGX_HTTP_WSHB_NREASONS; i++) {
        p = ngx_sprintf(p, "%s\"%V\"", i > 1 ? "," : "",
                        &ngx_http_ws_heartbeat_reasons[i]);
    }

    out->buf->last = ngx_cpymem(p, "],\"sessions\":[",
                                sizeof("],\"sessions\":[") - 1);

    return NGX_OK;
}


/*
 * One session object; now == 0 leaves out the fields relative to the
 * present.  Needs NGX_HTTP_WSHB_RECORD_JSON bytes.
 */

static u_char *
ngx_http_ws_heartbeat_json_record(u_char *p,
    ngx_http_ws_heartbeat_record_t *rec, ngx_http_ws_heartbeat_text_t *text,
    uint64_t now)
{
    p = ngx_sprintf(p, "{\"id\":\"" NGX_HTTP_WSHB_ID_FMT "\",\"pid\":%P,"
                       "\"client_addr\":\"",
                    NGX_HTTP_WSHB_RECORD_ID(rec), rec->pid);
    p = ngx_http_ws_heartbeat_addr_text(p, &rec->client, 1);
    p = ngx_sprintf(p, "\",\"upstream_addr\":\"");
    p = ngx_http_ws_heartbeat_addr_text(p, &rec->upstream, 1);
    p = ngx_sprintf(p, "\",\"host\":");
    p = ngx_http_ws_heartbeat_json_str(p, text->host,
                               ngx_min(text->host_len, NGX_HTTP_WSHB_HOST_LEN));
    p = ngx_sprintf(p, ",\"uri\":");
    p = ngx_http_ws_heartbeat_json_str(p, text->uri,
                                ngx_min(text->uri_len, NGX_HTTP_WSHB_URI_LEN));
    p = ngx_http_ws_heartbeat_json_tags(p, text);
    p = ngx_sprintf(p, ",\"started\":\"");
    p = ngx_http_ws_heartbeat_json_time(p, rec->start);
    *p++ = '"';

    if (now) {
        p = ngx_sprintf(p, ",\"age_ms\":%uL",
                        now > rec->start ? now - rec->start : 0);
    }

    p = ngx_sprintf(p, ",\"state\":\"%V\",\"close_reason\":",
                    &ngx_http_ws_heartbeat_states[
                        rec->state < NGX_HTTP_WSHB_NSTATES ? rec->state : 0]);

    if (rec->reason && rec->reason < NGX_HTTP_WSHB_NREASONS) {
        p = ngx_sprintf(p, "\"%V\"",
                        &ngx_http_ws_heartbeat_reasons[rec->reason]);

    } else {
        p = ngx_cpymem(p, "null", 4);
    }

    p = ngx_cpymem(p, ",\"expires\":", sizeof(",\"expires\":") - 1);
    p = ngx_http_ws_heartbeat_json_at(p, rec->start, rec->ends ? rec->end : 0);
    p = ngx_sprintf(p, ",\"expires_by\":%s",
                    rec->ends == 1 ? "\"max_age\""
                    : rec->ends == 2 ? "\"expired\"" : "null");

    p = ngx_http_ws_heartbeat_json_peer(p, "client", rec, 0, now);
    p = ngx_http_ws_heartbeat_json_peer(p, "upstream", rec, 1, now);

    *p++ = '}';

    return p;
}


/* ,"tags":{"user":"alice"}: see NGX_HTTP_WSHB_TAGS_JSON */

static u_char *
ngx_http_ws_heartbeat_json_tags(u_char *p, ngx_http_ws_heartbeat_text_t *text)
{
    u_char                             *t, *end;
    ngx_uint_t                          n;
    ngx_http_ws_heartbeat_tag_value_t   tag;

    p = ngx_cpymem(p, ",\"tags\":{", sizeof(",\"tags\":{") - 1);

    t = text->tags;
    end = t + ngx_min(text->tags_len, NGX_HTTP_WSHB_TAGS_LEN);

    for (n = 0; n < NGX_HTTP_WSHB_MAX_TAGS; n++) {
        t = ngx_http_ws_heartbeat_tag_next(t, end, &tag);

        if (t == NULL) {
            break;
        }

        if (n) {
            *p++ = ',';
        }

        p = ngx_http_ws_heartbeat_json_str(p, tag.name.data,
                                           ngx_min(tag.name.len,
                                                   NGX_HTTP_WSHB_TAG_NAME_LEN));
        *p++ = ':';
        p = ngx_http_ws_heartbeat_json_str(p, tag.value.data, tag.value.len);
    }

    *p++ = '}';

    return p;
}


ngx_int_t
ngx_http_ws_heartbeat_json_tail(ngx_http_ws_heartbeat_out_t *out)
{
    u_char  *p;

    p = ngx_http_ws_heartbeat_reserve(out, 4);
    if (p == NULL) {
        return NGX_ERROR;
    }

    out->buf->last = ngx_cpymem(p, "]}\n", 3);

    return NGX_OK;
}


static u_char *
ngx_http_ws_heartbeat_json_peer(u_char *p, char *name,
    ngx_http_ws_heartbeat_record_t *rec, ngx_uint_t i, uint64_t now)
{
    p = ngx_sprintf(p, ",\"%s\":{\"frames\":%uL,\"bytes\":%uL,"
                       "\"pings\":%uD,\"pongs\":%uD,\"rtt_ms\":",
                    name, rec->frames[i], rec->bytes[i], rec->pings[i],
                    rec->pongs[i]);

    if (rec->rtt[i] != (uint32_t) -1) {
        p = ngx_sprintf(p, "%uD", rec->rtt[i]);

    } else {
        p = ngx_cpymem(p, "null", 4);
    }

    p = ngx_cpymem(p, ",\"last_rx\":", sizeof(",\"last_rx\":") - 1);
    p = ngx_http_ws_heartbeat_json_at(p, rec->start, rec->last_rx[i]);
    p = ngx_cpymem(p, ",\"last_pong\":", sizeof(",\"last_pong\":") - 1);
    p = ngx_http_ws_heartbeat_json_at(p, rec->start, rec->last_pong[i]);

    if (now) {
        p = ngx_cpymem(p, ",\"last_rx_ms_ago\":", 18);
        p = ngx_http_ws_heartbeat_json_ago(p, now, rec->start,
                                           rec->last_rx[i]);
        p = ngx_cpymem(p, ",\"last_pong_ms_ago\":", 20);
        p = ngx_http_ws_heartbeat_json_ago(p, now, rec->start,
                                           rec->last_pong[i]);
    }

    *p++ = '}';

    return p;
}


static u_char *
ngx_http_ws_heartbeat_json_at(u_char *p, uint64_t start, uint32_t at)
{
    if (at == 0) {
        return ngx_cpymem(p, "null", 4);
    }

    *p++ = '"';
    p = ngx_http_ws_heartbeat_json_time(p, start + at);
    *p++ = '"';

    return p;
}


static u_char *
ngx_http_ws_heartbeat_json_ago(u_char *p, uint64_t now, uint64_t start,
    uint32_t at)
{
    if (at == 0) {
        return ngx_cpymem(p, "null", 4);
    }

    start += at;

    return ngx_sprintf(p, "%uL", now > start ? now - start : 0);
}


/*
 * Any bytes become a valid JSON string in UTF-8: runs of valid UTF-8 are
 * kept as they are but for nginx's own escapes (ngx_escape_json():
 * quotes, backslashes, C0 controls) and \u escapes for DEL and the
 * characters a terminal or a browser would obey rather than show (see
 * ngx_http_ws_heartbeat_utf8_hidden()), and a byte that starts no valid
 * sequence (nor one of a surrogate) becomes U+FFFD.  Needs at most
 * 2 + 6 * len bytes.
 */

static u_char *
ngx_http_ws_heartbeat_json_str(u_char *p, u_char *s, size_t len)
{
    u_char    *end, *run;
    size_t     n;
    uint32_t   u;

    *p++ = '"';
    end = s + len;

    while (s < end) {
        run = s;
        n = 0;
        u = 0;

        while (s < end) {
            n = ngx_http_ws_heartbeat_utf8_len(s, end - s);
            u = (*s == 0x7f) ? 0x7f : ngx_http_ws_heartbeat_utf8_hidden(s, n);

            if (n == 0 || u) {
                break;
            }

            s += n;
        }

        p = (u_char *) ngx_escape_json(p, run, s - run);

        if (s == end) {
            break;
        }

        if (u) {
            p = ngx_sprintf(p, "\\u%04xD", u);
            s += n;

        } else {
            p = ngx_cpymem(p, "\\ufffd", sizeof("\\ufffd") - 1);
            s++;
        }
    }

    *p++ = '"';

    return p;
}


u_char *
ngx_http_ws_heartbeat_json_time(u_char *p, uint64_t ms)
{
    ngx_tm_t  tm;

    ngx_gmtime((time_t) (ms / 1000), &tm);

    return ngx_sprintf(p, "%4d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                       tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                       tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec,
                       (int) (ms % 1000));
}
