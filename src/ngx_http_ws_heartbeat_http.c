/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 *
 * What both sides need to know of HTTP: whether a request asks for a
 * WebSocket, a header found by name, and the Sec-WebSocket-Accept of a
 * key.  No module state.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <ngx_sha1.h>

#include "ngx_http_ws_heartbeat_http.h"


ngx_uint_t
ngx_http_ws_heartbeat_is_websocket(ngx_http_request_t *r)
{
    ngx_table_elt_t  *h;

    h = r->headers_in.upgrade;

    if (h == NULL || h->value.len < sizeof("websocket") - 1) {
        return 0;
    }

    return ngx_strlcasestrn(h->value.data, h->value.data + h->value.len,
                            (u_char *) "websocket", sizeof("websocket") - 2)
           != NULL;
}



/* the Sec-WebSocket-Accept for a Sec-WebSocket-Key, both in base64 */

void
ngx_http_ws_heartbeat_accept(u_char *key, u_char *accept)
{
    u_char      digest[20];
    ngx_str_t   src, dst;
    ngx_sha1_t  sha1;

    static u_char  guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

    ngx_sha1_init(&sha1);
    ngx_sha1_update(&sha1, key, NGX_HTTP_WSHB_KEY_LEN);
    ngx_sha1_update(&sha1, guid, sizeof(guid) - 1);
    ngx_sha1_final(digest, &sha1);

    src.data = digest;
    src.len = sizeof(digest);
    dst.data = accept;

    ngx_encode_base64(&dst, &src);
}


/* the first header of that name in the list, or NULL */

ngx_table_elt_t *
ngx_http_ws_heartbeat_header(ngx_list_t *headers, char *name)
{
    size_t            len;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    len = ngx_strlen(name);
    part = &headers->part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NULL;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == len
            && ngx_strncasecmp(h[i].key.data, (u_char *) name, len) == 0)
        {
            return &h[i];
        }
    }
}
