
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_ws_heartbeat_out.h"


/*
 * Room for n bytes at the end of the document: in the last buffer, or in
 * a new one of NGX_HTTP_WSHB_CHUNK (or n) bytes.  NULL when there is none;
 * a document without a pool has one fixed buffer.
 */

u_char *
ngx_http_ws_heartbeat_reserve(ngx_http_ws_heartbeat_out_t *out, size_t n)
{
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    if (out->buf && (size_t) (out->buf->end - out->buf->last) >= n) {
        return out->buf->last;
    }

    if (out->pool == NULL) {
        /* a fixed buffer, and it is full */
        return NULL;
    }

    cl = (out->free && *out->free) ? *out->free : NULL;

    if (cl && (size_t) (cl->buf->end - cl->buf->start) >= n) {
        *out->free = cl->next;

        b = cl->buf;
        b->pos = b->start;
        b->last = b->start;
        b->last_buf = 0;
        b->last_in_chain = 0;

    } else {
        b = ngx_create_temp_buf(out->pool, ngx_max(n, NGX_HTTP_WSHB_CHUNK));
        if (b == NULL) {
            return NULL;
        }

        b->tag = out->tag;

        cl = ngx_alloc_chain_link(out->pool);
        if (cl == NULL) {
            return NULL;
        }

        cl->buf = b;
    }

    cl->next = NULL;

    if (out->last) {
        out->last->next = cl;

    } else {
        out->first = cl;
    }

    out->last = cl;
    out->buf = b;

    return b->last;
}


/* a short text answer: an error, with its reason */

ngx_int_t
ngx_http_ws_heartbeat_status_error(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *text)
{
    ngx_buf_t  *b;

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        r->keepalive = 0;
    }

    b = ngx_create_temp_buf(r->pool, text->len + 1);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_cpymem(b->last, text->data, text->len);
    *b->last++ = LF;

    return ngx_http_ws_heartbeat_status_send(r, status, "text/plain", b);
}


/* an answer in one buffer */

ngx_int_t
ngx_http_ws_heartbeat_status_send(ngx_http_request_t *r, ngx_uint_t status,
    char *type, ngx_buf_t *b)
{
    ngx_int_t     rc;
    ngx_chain_t   out;

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.status = status;
    r->headers_out.content_length_n = b->last - b->pos;
    r->headers_out.content_type.data = (u_char *) type;
    r->headers_out.content_type.len = ngx_strlen(type);
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}
