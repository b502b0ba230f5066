
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_ws_heartbeat_filter.h"


static ngx_uint_t ngx_http_ws_heartbeat_match_addr(
    ngx_http_ws_heartbeat_addr_t *a, ngx_uint_t port,
    ngx_http_ws_heartbeat_span_t *v);
static ngx_uint_t ngx_http_ws_heartbeat_match_names(
    ngx_http_ws_heartbeat_names_t *nm, ngx_http_ws_heartbeat_query_t *q);
static ngx_uint_t ngx_http_ws_heartbeat_match_tag(u_char *p, u_char *end,
    ngx_http_ws_heartbeat_span_t *name, ngx_http_ws_heartbeat_span_t *value);


/*
 * What the parser leaves to nginx's side: the state's index, and that a
 * close frame's reason is UTF-8.  NULL, or a one-line reason.
 */

const char *
ngx_http_ws_heartbeat_filter_check(ngx_http_ws_heartbeat_query_t *q)
{
    size_t       n;
    u_char      *p, *end;
    ngx_uint_t   i;

    if (q->state.len) {
        for (i = 1; i < NGX_HTTP_WSHB_NSTATES; i++) {
            if (q->state.len == ngx_http_ws_heartbeat_states[i].len
                && ngx_strncmp(q->state.data,
                               ngx_http_ws_heartbeat_states[i].data,
                               q->state.len)
                   == 0)
            {
                break;
            }
        }

        if (i == NGX_HTTP_WSHB_NSTATES) {
            return "state must be healthy, awaiting_pong, closing "
                   "or passthrough";
        }

        q->state_index = i;
    }

    p = (u_char *) q->reason.data;
    end = p + q->reason.len;

    while (p < end) {
        n = ngx_http_ws_heartbeat_utf8_len(p, end - p);

        if (n == 0) {
            return "reason must be UTF-8";
        }

        p += n;
    }

    return NULL;
}


/* with the zone's mutex held: the record passes every filter given */

ngx_uint_t
ngx_http_ws_heartbeat_match_locked(ngx_http_ws_heartbeat_zone_t *zone,
    ngx_http_ws_heartbeat_record_t *rec, ngx_http_ws_heartbeat_query_t *q,
    uint64_t now)
{
    if (q->filters == 0) {
        return 1;
    }

    if (q->state_index && rec->state != q->state_index) {
        return 0;
    }

    if (q->id.len
        && (rec->worker_start != q->id_start
            || (uint32_t) rec->pid != q->id_pid
            || rec->counter != q->id_counter))
    {
        return 0;
    }

    if (q->older_than_set
        && (now < rec->start || now - rec->start <= q->older_than * 1000))
    {
        return 0;
    }

    if (q->upstream.len
        && !ngx_http_ws_heartbeat_match_addr(&rec->upstream, 1, &q->upstream))
    {
        return 0;
    }

    if (q->client.len
        && !ngx_http_ws_heartbeat_match_addr(&rec->client, 0, &q->client))
    {
        return 0;
    }

    if (q->uri.len || q->ntags) {
        return ngx_http_ws_heartbeat_match_names(
                   ngx_http_ws_heartbeat_names_locked(zone, rec), q);
    }

    return 1;
}


static ngx_uint_t
ngx_http_ws_heartbeat_match_addr(ngx_http_ws_heartbeat_addr_t *a,
    ngx_uint_t port, ngx_http_ws_heartbeat_span_t *v)
{
    u_char  *p, text[NGX_SOCKADDR_STRLEN];

    p = ngx_http_ws_heartbeat_addr_text(text, a, port);

    return (size_t) (p - text) == v->len
           && ngx_memcmp(text, v->data, v->len) == 0;
}


/* the URI starts with the one asked for; each tag asked for is the same */

static ngx_uint_t
ngx_http_ws_heartbeat_match_names(ngx_http_ws_heartbeat_names_t *nm,
    ngx_http_ws_heartbeat_query_t *q)
{
    u_char      *tags, *end;
    ngx_uint_t   i;

    if (nm == NULL) {
        /* no room for its names: it has none to match */
        tags = NULL;
        end = NULL;

        if (q->uri.len) {
            return 0;
        }

    } else {
        if (q->uri.len
            && (nm->uri_len < q->uri.len
                || ngx_memcmp(nm->data + nm->host_len, q->uri.data,
                              q->uri.len)
                   != 0))
        {
            return 0;
        }

        tags = nm->data + nm->host_len + nm->uri_len;
        end = tags + nm->tags_len;
    }

    for (i = 0; i < q->ntags; i++) {
        if (!ngx_http_ws_heartbeat_match_tag(tags, end, &q->tag_name[i],
                                             &q->tag_value[i]))
        {
            return 0;
        }
    }

    return 1;
}


/* "tag.NAME=" with no value matches the sessions without that tag */

static ngx_uint_t
ngx_http_ws_heartbeat_match_tag(u_char *p, u_char *end,
    ngx_http_ws_heartbeat_span_t *name, ngx_http_ws_heartbeat_span_t *value)
{
    ngx_http_ws_heartbeat_tag_value_t  tag;

    while (p && (p = ngx_http_ws_heartbeat_tag_next(p, end, &tag))) {
        if (tag.name.len == name->len
            && ngx_memcmp(tag.name.data, name->data, name->len) == 0)
        {
            return tag.value.len == value->len
                   && ngx_memcmp(tag.value.data, value->data, value->len)
                      == 0;
        }
    }

    return value->len == 0;
}


/*
 * At most n of the live records from slot *next up to end that q selects
 * (every one without q), copied into views under the mutex, which is
 * held for one such batch only; *next moves to the first slot not looked
 * at.  How many were copied.
 */

ngx_uint_t
ngx_http_ws_heartbeat_views(ngx_http_ws_heartbeat_zone_t *zone,
    uint32_t *next, uint32_t end, ngx_http_ws_heartbeat_query_t *q,
    uint64_t now, ngx_http_ws_heartbeat_view_t *views, ngx_uint_t n)
{
    ngx_uint_t                       k;
    ngx_http_ws_heartbeat_record_t  *rec;

    k = 0;

    ngx_shmtx_lock(&zone->shpool->mutex);

    while (*next < end && k < n) {
        rec = &zone->sh->records[*next];

        if (rec->state != NGX_HTTP_WSHB_STATE_FREE
            && (q == NULL
                || ngx_http_ws_heartbeat_match_locked(zone, rec, q, now)))
        {
            ngx_http_ws_heartbeat_view_locked(zone, rec, &views[k++]);
        }

        (*next)++;
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return k;
}
