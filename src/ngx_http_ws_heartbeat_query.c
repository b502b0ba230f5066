
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 */


#include <string.h>

#include "ngx_http_ws_heartbeat_frame.h"
#include "ngx_http_ws_heartbeat_query.h"


typedef const char *(*ngx_http_ws_heartbeat_param_pt)(
    ngx_http_ws_heartbeat_query_t *q, ngx_http_ws_heartbeat_span_t *v);

typedef struct {
    const char                     *name;
    ngx_http_ws_heartbeat_param_pt  parse;
} ngx_http_ws_heartbeat_param_t;


static const char *ngx_http_ws_heartbeat_param(
    ngx_http_ws_heartbeat_query_t *q, ngx_http_ws_heartbeat_span_t *key,
    ngx_http_ws_heartbeat_span_t *val);
static const char *ngx_http_ws_heartbeat_q_format(
    ngx_http_ws_heartbeat_query_t *q, ngx_http_ws_heartbeat_span_t *v);
static const char *ngx_http_ws_heartbeat_q_since(
    ngx_http_ws_heartbeat_query_t *q, ngx_http_ws_heartbeat_span_t *v);
static const char *ngx_http_ws_heartbeat_q_sessions(
    ngx_http_ws_heartbeat_query_t *q, ngx_http_ws_heartbeat_span_t *v);
static const char *ngx_http_ws_heartbeat_q_state(
    ngx_http_ws_heartbeat_query_t *q, ngx_http_ws_heartbeat_span_t *v);
static const char *ngx_http_ws_heartbeat_q_upstream(
    ngx_http_ws_heartbeat_query_t *q, ngx_http_ws_heartbeat_span_t *v);
static const char *ngx_http_ws_heartbeat_q_client(
    ngx_http_ws_heartbeat_query_t *q, ngx_http_ws_heartbeat_span_t *v);
static const char *ngx_http_ws_heartbeat_q_id(
    ngx_http_ws_heartbeat_query_t *q, ngx_http_ws_heartbeat_span_t *v);
static const char *ngx_http_ws_heartbeat_q_uri(
    ngx_http_ws_heartbeat_query_t *q, ngx_http_ws_heartbeat_span_t *v);
static const char *ngx_http_ws_heartbeat_q_older_than(
    ngx_http_ws_heartbeat_query_t *q, ngx_http_ws_heartbeat_span_t *v);
static const char *ngx_http_ws_heartbeat_q_all(
    ngx_http_ws_heartbeat_query_t *q, ngx_http_ws_heartbeat_span_t *v);
static const char *ngx_http_ws_heartbeat_q_code(
    ngx_http_ws_heartbeat_query_t *q, ngx_http_ws_heartbeat_span_t *v);
static const char *ngx_http_ws_heartbeat_q_reason(
    ngx_http_ws_heartbeat_query_t *q, ngx_http_ws_heartbeat_span_t *v);
static const char *ngx_http_ws_heartbeat_filter(
    ngx_http_ws_heartbeat_query_t *q, ngx_http_ws_heartbeat_span_t *field,
    ngx_http_ws_heartbeat_span_t *v, const char *error);
static const char *ngx_http_ws_heartbeat_q_tag(
    ngx_http_ws_heartbeat_query_t *q, ngx_http_ws_heartbeat_span_t *name,
    ngx_http_ws_heartbeat_span_t *v);
static int ngx_http_ws_heartbeat_number(ngx_http_ws_heartbeat_span_t *v,
    size_t digits, uint64_t *n);
static size_t ngx_http_ws_heartbeat_unescape(uint8_t *p, size_t len);
static int ngx_http_ws_heartbeat_hex(uint8_t c);
static uint32_t ngx_http_ws_heartbeat_hex_n(const uint8_t *p, size_t n);
static int ngx_http_ws_heartbeat_is(const uint8_t *p, size_t len,
    const char *s);


static ngx_http_ws_heartbeat_param_t  ngx_http_ws_heartbeat_params[] = {
    { "format", ngx_http_ws_heartbeat_q_format },
    { "sessions", ngx_http_ws_heartbeat_q_sessions },
    { "since", ngx_http_ws_heartbeat_q_since },
    { "state", ngx_http_ws_heartbeat_q_state },
    { "upstream", ngx_http_ws_heartbeat_q_upstream },
    { "client", ngx_http_ws_heartbeat_q_client },
    { "id", ngx_http_ws_heartbeat_q_id },
    { "uri", ngx_http_ws_heartbeat_q_uri },
    { "older_than", ngx_http_ws_heartbeat_q_older_than },
    { "all", ngx_http_ws_heartbeat_q_all },
    { "code", ngx_http_ws_heartbeat_q_code },
    { "reason", ngx_http_ws_heartbeat_q_reason },
    { NULL, NULL }
};


/*
 * Pairs "key=value" separated by '&'; keys are exact, values %-escaped.
 * An unknown key, a bad value, a filter given twice or a malformed escape
 * is an error.  Empty pairs ("a&&b") are skipped.
 */

const char *
ngx_http_ws_heartbeat_parse_query(uint8_t *buf, size_t len,
    ngx_http_ws_heartbeat_query_t *q)
{
    uint8_t                       *p, *end, *amp, *eq;
    const char                    *reason;
    ngx_http_ws_heartbeat_span_t   key, val;

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

        key.data = p;
        key.len = (eq ? eq : amp) - p;
        val.data = eq ? eq + 1 : amp;
        val.len = amp - val.data;

        p = amp + (amp < end);

        if (key.len == 0) {
            if (val.len == 0) {
                continue;
            }

            return "a parameter without a name";
        }

        val.len = ngx_http_ws_heartbeat_unescape((uint8_t *) val.data,
                                                 val.len);

        if (val.len == (size_t) -1) {
            return "a malformed %-escape";
        }

        reason = ngx_http_ws_heartbeat_param(q, &key, &val);

        if (reason) {
            return reason;
        }
    }

    return NULL;
}


static const char *
ngx_http_ws_heartbeat_param(ngx_http_ws_heartbeat_query_t *q,
    ngx_http_ws_heartbeat_span_t *key, ngx_http_ws_heartbeat_span_t *val)
{
    ngx_http_ws_heartbeat_span_t   name;
    ngx_http_ws_heartbeat_param_t  *param;

    if (key->len > 4 && memcmp(key->data, "tag.", 4) == 0) {
        name.data = key->data + 4;
        name.len = key->len - 4;

        return ngx_http_ws_heartbeat_q_tag(q, &name, val);
    }

    for (param = ngx_http_ws_heartbeat_params; param->name; param++) {
        if (ngx_http_ws_heartbeat_is(key->data, key->len, param->name)) {
            return param->parse(q, val);
        }
    }

    return "unknown parameter; known are format, sessions, since, state, "
           "upstream, client, id, uri, older_than, tag.NAME, all, code "
           "and reason";
}


static const char *
ngx_http_ws_heartbeat_q_format(ngx_http_ws_heartbeat_query_t *q,
    ngx_http_ws_heartbeat_span_t *v)
{
    static const char  *formats[] = { "json", "prometheus", "sse", "html" };

    for (q->format = 0; q->format < 4; q->format++) {
        if (ngx_http_ws_heartbeat_is(v->data, v->len, formats[q->format])) {
            q->format_set = 1;
            return NULL;
        }
    }

    return "format must be json, prometheus, sse or html";
}


static const char *
ngx_http_ws_heartbeat_q_since(ngx_http_ws_heartbeat_query_t *q,
    ngx_http_ws_heartbeat_span_t *v)
{
    if (ngx_http_ws_heartbeat_parse_seq(v->data, v->len, &q->since) != 0) {
        return "since must be a delta sequence number";
    }

    q->since_set = 1;

    return NULL;
}


static const char *
ngx_http_ws_heartbeat_q_sessions(ngx_http_ws_heartbeat_query_t *q,
    ngx_http_ws_heartbeat_span_t *v)
{
    uint64_t  n;

    if (ngx_http_ws_heartbeat_number(v, 6, &n) != 0
        || n > NGX_HTTP_WSHB_SESSIONS_MAX)
    {
        return "sessions must be a number from 0 to 100000";
    }

    q->sessions = (unsigned long) n;

    return NULL;
}


static const char *
ngx_http_ws_heartbeat_q_state(ngx_http_ws_heartbeat_query_t *q,
    ngx_http_ws_heartbeat_span_t *v)
{
    return ngx_http_ws_heartbeat_filter(q, &q->state, v,
                                        "state must be healthy, "
                                        "awaiting_pong, closing or "
                                        "passthrough");
}


static const char *
ngx_http_ws_heartbeat_q_upstream(ngx_http_ws_heartbeat_query_t *q,
    ngx_http_ws_heartbeat_span_t *v)
{
    return ngx_http_ws_heartbeat_filter(q, &q->upstream, v,
                                        "upstream must be an address:port");
}


static const char *
ngx_http_ws_heartbeat_q_client(ngx_http_ws_heartbeat_query_t *q,
    ngx_http_ws_heartbeat_span_t *v)
{
    return ngx_http_ws_heartbeat_filter(q, &q->client, v,
                                        "client must be an address");
}


static const char *
ngx_http_ws_heartbeat_q_id(ngx_http_ws_heartbeat_query_t *q,
    ngx_http_ws_heartbeat_span_t *v)
{
    size_t  i;

    for (i = 0; i < v->len; i++) {
        if (ngx_http_ws_heartbeat_hex(v->data[i]) < 0) {
            break;
        }
    }

    if (i != NGX_HTTP_WSHB_ID_LEN || v->len != NGX_HTTP_WSHB_ID_LEN) {
        return "id must be a session id of 22 hex digits";
    }

    /* the worker's start (8 digits), its pid (6), its counter (8) */

    q->id_start = ngx_http_ws_heartbeat_hex_n(v->data, 8);
    q->id_pid = ngx_http_ws_heartbeat_hex_n(v->data + 8, 6);
    q->id_counter = ngx_http_ws_heartbeat_hex_n(v->data + 14, 8);

    return ngx_http_ws_heartbeat_filter(q, &q->id, v, NULL);
}


static const char *
ngx_http_ws_heartbeat_q_uri(ngx_http_ws_heartbeat_query_t *q,
    ngx_http_ws_heartbeat_span_t *v)
{
    return ngx_http_ws_heartbeat_filter(q, &q->uri, v,
                                        "uri must be a prefix of 1 to 64 "
                                        "bytes");
}


/* a filter's text value: given once, 1 to NGX_HTTP_WSHB_FILTER_MAX bytes */

static const char *
ngx_http_ws_heartbeat_filter(ngx_http_ws_heartbeat_query_t *q,
    ngx_http_ws_heartbeat_span_t *field, ngx_http_ws_heartbeat_span_t *v,
    const char *error)
{
    if (v->len == 0 || v->len > NGX_HTTP_WSHB_FILTER_MAX) {
        return error;
    }

    if (field->len) {
        return "a filter is given twice";
    }

    *field = *v;
    q->filters++;

    return NULL;
}


static const char *
ngx_http_ws_heartbeat_q_older_than(ngx_http_ws_heartbeat_query_t *q,
    ngx_http_ws_heartbeat_span_t *v)
{
    if (ngx_http_ws_heartbeat_number(v, 10, &q->older_than) != 0) {
        return "older_than must be a number of seconds";
    }

    if (q->older_than_set) {
        return "a filter is given twice";
    }

    q->older_than_set = 1;
    q->filters++;

    return NULL;
}


static const char *
ngx_http_ws_heartbeat_q_all(ngx_http_ws_heartbeat_query_t *q,
    ngx_http_ws_heartbeat_span_t *v)
{
    if (!ngx_http_ws_heartbeat_is(v->data, v->len, "1")) {
        return "all must be 1";
    }

    q->all = 1;

    return NULL;
}


static const char *
ngx_http_ws_heartbeat_q_code(ngx_http_ws_heartbeat_query_t *q,
    ngx_http_ws_heartbeat_span_t *v)
{
    uint64_t  n;

    if (ngx_http_ws_heartbeat_number(v, 4, &n) != 0
        || !ngx_http_ws_heartbeat_close_code_valid((unsigned long) n))
    {
        return "code must be 1000, 1001, 1008, 1011, 1012, 1013 "
               "or 4000 to 4999";
    }

    q->code = (unsigned) n;

    return NULL;
}


/* UTF-8 is checked by the caller, with nginx's decoder */

static const char *
ngx_http_ws_heartbeat_q_reason(ngx_http_ws_heartbeat_query_t *q,
    ngx_http_ws_heartbeat_span_t *v)
{
    if (v->len > NGX_HTTP_WSHB_REASON_MAX) {
        return "reason must be at most 123 bytes";
    }

    q->reason = *v;
    q->reason_set = 1;

    return NULL;
}


static const char *
ngx_http_ws_heartbeat_q_tag(ngx_http_ws_heartbeat_query_t *q,
    ngx_http_ws_heartbeat_span_t *name, ngx_http_ws_heartbeat_span_t *v)
{
    unsigned  i;

    if (!ngx_http_ws_heartbeat_tag_name_valid(name->data, name->len)) {
        return "a tag name is [a-z][a-z0-9_]*, at most 16 bytes";
    }

    if (v->len > NGX_HTTP_WSHB_TAG_VALUE_LEN) {
        return "a tag value is at most 64 bytes";
    }

    for (i = 0; i < q->ntags; i++) {
        if (q->tag_name[i].len == name->len
            && memcmp(q->tag_name[i].data, name->data, name->len) == 0)
        {
            return "a tag is given twice";
        }
    }

    if (q->ntags == NGX_HTTP_WSHB_MAX_TAGS) {
        return "at most 4 tags are matched";
    }

    q->tag_name[q->ntags] = *name;
    q->tag_value[q->ntags] = *v;
    q->ntags++;
    q->filters++;

    return NULL;
}


int
ngx_http_ws_heartbeat_tag_name_valid(const uint8_t *p, size_t len)
{
    size_t  i;

    if (len == 0 || len > NGX_HTTP_WSHB_TAG_NAME_LEN
        || p[0] < 'a' || p[0] > 'z')
    {
        return 0;
    }

    for (i = 1; i < len; i++) {
        if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9')
              || p[i] == '_'))
        {
            return 0;
        }
    }

    return 1;
}


int
ngx_http_ws_heartbeat_close_code_valid(unsigned long code)
{
    return code == 1000 || code == 1001 || code == 1008
           || (code >= 1011 && code <= 1013)
           || (code >= 4000 && code <= 4999);
}


/* decimal, at most 19 digits; also used for Last-Event-ID */

int
ngx_http_ws_heartbeat_parse_seq(const uint8_t *p, size_t len, uint64_t *seq)
{
    ngx_http_ws_heartbeat_span_t  v;

    v.data = p;
    v.len = len;

    return ngx_http_ws_heartbeat_number(&v, 19, seq);
}


/* decimal, 1 to "digits" digits */

static int
ngx_http_ws_heartbeat_number(ngx_http_ws_heartbeat_span_t *v, size_t digits,
    uint64_t *n)
{
    size_t  i;

    if (v->len == 0 || v->len > digits) {
        return -1;
    }

    *n = 0;

    for (i = 0; i < v->len; i++) {
        if (v->data[i] < '0' || v->data[i] > '9') {
            return -1;
        }

        *n = *n * 10 + (v->data[i] - '0');
    }

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


/* n hex digits, known to be such, as a number */

static uint32_t
ngx_http_ws_heartbeat_hex_n(const uint8_t *p, size_t n)
{
    uint32_t  u;

    for (u = 0; n; n--) {
        u = u << 4 | (uint32_t) ngx_http_ws_heartbeat_hex(*p++);
    }

    return u;
}


static int
ngx_http_ws_heartbeat_is(const uint8_t *p, size_t len, const char *s)
{
    return strlen(s) == len && memcmp(p, s, len) == 0;
}
