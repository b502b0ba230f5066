
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 */


#include <string.h>

#include "ngx_http_ws_heartbeat_query.h"


static size_t ngx_http_ws_heartbeat_unescape(uint8_t *p, size_t len);
static int ngx_http_ws_heartbeat_hex(uint8_t c);
static int ngx_http_ws_heartbeat_is(const uint8_t *p, size_t len,
    const char *s);


/*
 * format=json|prometheus|sse|html, sessions=N (0..100000), state=S,
 * upstream=A, since=N (a delta sequence number, for subscribers).
 * Keys are exact; an unknown key, a bad value or a malformed escape is an
 * error.  Empty pairs ("a&&b") are skipped.
 */

const char *
ngx_http_ws_heartbeat_parse_query(uint8_t *buf, size_t len,
    ngx_http_ws_heartbeat_query_t *q)
{
    size_t          i, klen, vlen;
    uint8_t        *p, *end, *amp, *eq, *key, *val;
    unsigned long   n;

    memset(q, 0, sizeof(ngx_http_ws_heartbeat_query_t));
    q->sessions = NGX_HTTP_WSHB_SESSIONS_DEFAULT;

    p = buf;
    end = buf + len;

    while (p < end) {
        amp = memchr(p, '&', end - p);

        if (amp == NULL) {
            amp = end;
        }

        eq = memchr(p, '=', amp - p);

        key = p;
        klen = (eq ? eq : amp) - p;
        val = eq ? eq + 1 : amp;
        vlen = amp - val;

        p = amp + (amp < end);

        if (klen == 0) {
            if (vlen == 0) {
                continue;
            }

            return "a parameter without a name";
        }

        vlen = ngx_http_ws_heartbeat_unescape(val, vlen);

        if (vlen == (size_t) -1) {
            return "a malformed %-escape";
        }

        if (ngx_http_ws_heartbeat_is(key, klen, "format")) {
            q->format_set = 1;

            if (ngx_http_ws_heartbeat_is(val, vlen, "json")) {
                q->format = NGX_HTTP_WSHB_FORMAT_JSON;

            } else if (ngx_http_ws_heartbeat_is(val, vlen, "prometheus")) {
                q->format = NGX_HTTP_WSHB_FORMAT_PROMETHEUS;

            } else if (ngx_http_ws_heartbeat_is(val, vlen, "sse")) {
                q->format = NGX_HTTP_WSHB_FORMAT_SSE;

            } else if (ngx_http_ws_heartbeat_is(val, vlen, "html")) {
                q->format = NGX_HTTP_WSHB_FORMAT_HTML;

            } else {
                return "format must be json, prometheus, sse or html";
            }

        } else if (ngx_http_ws_heartbeat_is(key, klen, "since")) {

            if (ngx_http_ws_heartbeat_parse_seq(val, vlen, &q->since) != 0) {
                return "since must be a delta sequence number";
            }

            q->since_set = 1;

        } else if (ngx_http_ws_heartbeat_is(key, klen, "sessions")) {

            if (vlen == 0 || vlen > 6) {
                return "sessions must be a number from 0 to 100000";
            }

            n = 0;

            for (i = 0; i < vlen; i++) {
                if (val[i] < '0' || val[i] > '9') {
                    return "sessions must be a number from 0 to 100000";
                }

                n = n * 10 + (val[i] - '0');
            }

            if (n > NGX_HTTP_WSHB_SESSIONS_MAX) {
                return "sessions must be a number from 0 to 100000";
            }

            q->sessions = n;

        } else if (ngx_http_ws_heartbeat_is(key, klen, "state")) {

            if (vlen == 0 || vlen > NGX_HTTP_WSHB_FILTER_MAX) {
                return "state must be healthy, awaiting_pong, closing "
                       "or passthrough";
            }

            q->state = val;
            q->state_len = vlen;

        } else if (ngx_http_ws_heartbeat_is(key, klen, "upstream")) {

            if (vlen == 0 || vlen > NGX_HTTP_WSHB_FILTER_MAX) {
                return "upstream must be an address:port";
            }

            q->upstream = val;
            q->upstream_len = vlen;

        } else {
            return "unknown parameter; known are format, sessions, state, "
                   "upstream and since";
        }
    }

    return NULL;
}


/* decimal, at most 19 digits; also used for Last-Event-ID */

int
ngx_http_ws_heartbeat_parse_seq(const uint8_t *p, size_t len, uint64_t *seq)
{
    size_t    i;
    uint64_t  n;

    if (len == 0 || len > 19) {
        return -1;
    }

    n = 0;

    for (i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return -1;
        }

        n = n * 10 + (p[i] - '0');
    }

    *seq = n;

    return 0;
}


/* %XX and '+' in place; returns the new length or (size_t) -1 */

static size_t
ngx_http_ws_heartbeat_unescape(uint8_t *p, size_t len)
{
    int      hi, lo;
    size_t   r, w;

    for (r = 0, w = 0; r < len; r++, w++) {

        if (p[r] == '%') {
            if (len - r < 3) {
                return (size_t) -1;
            }

            hi = ngx_http_ws_heartbeat_hex(p[r + 1]);
            lo = ngx_http_ws_heartbeat_hex(p[r + 2]);

            if (hi < 0 || lo < 0) {
                return (size_t) -1;
            }

            p[w] = (uint8_t) (hi << 4 | lo);
            r += 2;

        } else if (p[r] == '+') {
            p[w] = ' ';

        } else {
            p[w] = p[r];
        }
    }

    return w;
}


static int
ngx_http_ws_heartbeat_hex(uint8_t c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    c |= 0x20;

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    return -1;
}


static int
ngx_http_ws_heartbeat_is(const uint8_t *p, size_t len, const char *s)
{
    return strlen(s) == len && memcmp(p, s, len) == 0;
}
