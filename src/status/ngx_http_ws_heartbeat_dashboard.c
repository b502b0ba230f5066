
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 *
 * ?format=html: one self-contained page that subscribes to the delta
 * stream.  The page itself is ngx_http_ws_heartbeat_dashboard.html,
 * turned into ngx_http_ws_heartbeat_page.h by "make -f Makefile.dev
 * dashboard".
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_ws_heartbeat_module.h"
#include "ngx_http_ws_heartbeat_dashboard.h"
#include "ngx_http_ws_heartbeat_page.h"


ngx_int_t
ngx_http_ws_heartbeat_dashboard(ngx_http_request_t *r)
{
    ngx_int_t         rc;
    ngx_buf_t        *b;
    ngx_uint_t        i;
    ngx_chain_t       out;
    ngx_table_elt_t  *h;

    static ngx_str_t  headers[][2] = {
        { ngx_string("Cache-Control"), ngx_string("no-cache") },
        { ngx_string("X-Content-Type-Options"), ngx_string("nosniff") },
        { ngx_string("Content-Security-Policy"),
          ngx_string("default-src 'none'; script-src 'unsafe-inline'; "
                     "style-src 'unsafe-inline'; connect-src 'self'; "
                     "frame-ancestors 'none'") }
    };

    for (i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->hash = 1;
        h->key = headers[i][0];
        h->value = headers[i][1];
    }

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = sizeof(ngx_http_ws_heartbeat_page) - 1;
    ngx_str_set(&r->headers_out.content_type, "text/html; charset=utf-8");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = ngx_http_ws_heartbeat_page;
    b->last = ngx_http_ws_heartbeat_page + sizeof(ngx_http_ws_heartbeat_page)
              - 1;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}
