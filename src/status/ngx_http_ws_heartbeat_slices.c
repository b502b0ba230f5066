
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 *
 * Each turn of the event loop renders at most NGX_HTTP_WSHB_SLICE
 * sessions (copied from the zone in batches under the mutex, rendered
 * outside it) and hands them to the output filters; the next slice waits
 * for the next turn, when the other connections of the worker have had
 * theirs, and for the previous slice to be sent, so that the buffers are
 * reused and a slow reader holds one slice of memory, not the document.
 * The length is not known in advance: the answer is chunked (HTTP/1.1)
 * or ends with the connection (HTTP/1.0).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_ws_heartbeat_slices.h"
#include "ngx_http_ws_heartbeat_json.h"
#include "ngx_http_ws_heartbeat_filter.h"
#include "ngx_http_ws_heartbeat_stream.h"


#define NGX_HTTP_WSHB_BATCH          64


typedef struct {
    ngx_http_ws_heartbeat_zone_t   *zone;
    ngx_http_ws_heartbeat_query_t   q;
    ngx_http_ws_heartbeat_view_t   *batch;
    ngx_http_ws_heartbeat_out_t     out;
    ngx_chain_t                    *free;
    ngx_chain_t                    *busy;
    uint64_t                        now;        /* as the document began */
    uint32_t                        next;       /* the next record slot */
    ngx_uint_t                      sent;       /* sessions rendered */
} ngx_http_ws_heartbeat_slices_t;


static void ngx_http_ws_heartbeat_slice_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_ws_heartbeat_slice(ngx_http_request_t *r,
    ngx_http_ws_heartbeat_slices_t *sl);
static ngx_int_t ngx_http_ws_heartbeat_slice_render(
    ngx_http_ws_heartbeat_slices_t *sl);


/*
 * The document's head is in head; the header is sent, the first slice
 * goes with the head, and the request stays open for the others
 */

ngx_int_t
ngx_http_ws_heartbeat_slices(ngx_http_request_t *r,
    ngx_http_ws_heartbeat_zone_t *zone, ngx_http_ws_heartbeat_query_t *q,
    ngx_http_ws_heartbeat_out_t *head)
{
    ngx_int_t                        rc;
    ngx_time_t                      *tp;
    ngx_http_ws_heartbeat_slices_t  *sl;

    sl = ngx_pcalloc(r->pool, sizeof(ngx_http_ws_heartbeat_slices_t));
    if (sl == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    sl->batch = ngx_palloc(r->pool, NGX_HTTP_WSHB_BATCH
                                    * sizeof(ngx_http_ws_heartbeat_view_t));
    if (sl->batch == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    sl->zone = zone;
    sl->q = *q;
    sl->out = *head;
    sl->out.free = &sl->free;

    tp = ngx_timeofday();
    sl->now = (uint64_t) tp->sec * 1000 + tp->msec;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = -1;
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    ngx_http_ws_heartbeat_status_set_ctx(r, sl);

    r->main->count++;
    r->write_event_handler = ngx_http_ws_heartbeat_slice_handler;

    rc = ngx_http_ws_heartbeat_slice(r, sl);

    if (rc != NGX_AGAIN) {
        ngx_http_finalize_request(r, rc);
    }

    return NGX_DONE;
}


static void
ngx_http_ws_heartbeat_slice_handler(ngx_http_request_t *r)
{
    ngx_int_t                        rc;
    ngx_event_t                     *wev;
    ngx_http_ws_heartbeat_slices_t  *sl;

    wev = r->connection->write;

    if (wev->timedout) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, NGX_ETIMEDOUT,
                      "ws_heartbeat: client timed out reading the status");
        r->connection->timedout = 1;
        ngx_http_finalize_request(r, NGX_ERROR);
        return;
    }

    if (wev->timer_set) {
        ngx_del_timer(wev);
    }

    sl = ngx_http_ws_heartbeat_status_get_ctx(r);

    rc = ngx_http_ws_heartbeat_slice(r, sl);

    if (rc != NGX_AGAIN) {
        ngx_http_finalize_request(r, rc);
    }
}


/*
 * Sends what is still buffered, then the next slice if it all went out
 * (a slice that found no session sends nothing).  NGX_AGAIN while more is
 * to come (the write event is armed, or posted to the next turn);
 * otherwise what to finalize the request with.
 */

static ngx_int_t
ngx_http_ws_heartbeat_slice(ngx_http_request_t *r,
    ngx_http_ws_heartbeat_slices_t *sl)
{
    ngx_int_t                  rc, last;
    ngx_event_t               *wev;
    ngx_http_core_loc_conf_t  *clcf;

    wev = r->connection->write;

    if (sl->busy) {
        rc = ngx_http_output_filter(r, NULL);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        ngx_chain_update_chains(r->pool, &sl->free, &sl->busy, &sl->out.first,
                                sl->out.tag);
    }

    if (sl->busy == NULL) {
        last = ngx_http_ws_heartbeat_slice_render(sl);

        if (last == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (last) {
            sl->out.last->buf->last_buf = (r == r->main) ? 1 : 0;
            sl->out.last->buf->last_in_chain = 1;
        }

        if (sl->out.first) {
            rc = ngx_http_output_filter(r, sl->out.first);

            if (rc == NGX_ERROR) {
                return NGX_ERROR;
            }

            ngx_chain_update_chains(r->pool, &sl->free, &sl->busy,
                                    &sl->out.first, sl->out.tag);

            sl->out.last = NULL;
            sl->out.buf = NULL;
        }

        if (last) {
            /* what is still buffered, ngx_http_writer() sends */
            return NGX_OK;
        }
    }

    if (sl->busy == NULL) {
        ngx_post_event(wev, &ngx_posted_next_events);
        return NGX_AGAIN;
    }

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (!wev->delayed) {
        ngx_add_timer(wev, clcf->send_timeout);
    }

    if (ngx_handle_write_event(wev, clcf->send_lowat) != NGX_OK) {
        return NGX_ERROR;
    }

    return NGX_AGAIN;
}


/*
 * The next sessions into sl->out (the tail too, at the end): 1 if it ends
 * the document, 0 if more is to come, NGX_ERROR
 */

static ngx_int_t
ngx_http_ws_heartbeat_slice_render(ngx_http_ws_heartbeat_slices_t *sl)
{
    uint32_t                         end;
    ngx_uint_t                       k, n, rendered;
    ngx_http_ws_heartbeat_shctx_t   *sh;
    ngx_http_ws_heartbeat_query_t   *q;

    sh = sl->zone->sh;
    q = &sl->q;
    rendered = 0;

    end = (sh->nrecords - sl->next > NGX_HTTP_WSHB_SLICE_SCAN)
          ? sl->next + NGX_HTTP_WSHB_SLICE_SCAN : sh->nrecords;

    while (sl->sent < q->sessions && sl->next < end
           && rendered < NGX_HTTP_WSHB_SLICE)
    {
        n = ngx_http_ws_heartbeat_views(sl->zone, &sl->next, end, q,
                                        sl->now, sl->batch,
                                        ngx_min(NGX_HTTP_WSHB_BATCH,
                                                q->sessions - sl->sent));

        for (k = 0; k < n; k++) {
            if (ngx_http_ws_heartbeat_json_session(&sl->out, &sl->batch[k],
                                                   sl->sent == 0)
                != NGX_OK)
            {
                return NGX_ERROR;
            }

            sl->sent++;
        }

        rendered += n;
    }

    if (sl->sent < q->sessions && sl->next < sh->nrecords) {
        return 0;
    }

    if (ngx_http_ws_heartbeat_json_tail(&sl->out) != NGX_OK) {
        return NGX_ERROR;
    }

    return 1;
}
