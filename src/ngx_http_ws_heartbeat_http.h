
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 */


#ifndef _NGX_HTTP_WS_HEARTBEAT_HTTP_H_INCLUDED_
#define _NGX_HTTP_WS_HEARTBEAT_HTTP_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* Sec-WebSocket-Key and Sec-WebSocket-Accept, in base64 */
#define NGX_HTTP_WSHB_KEY_LEN             24
#define NGX_HTTP_WSHB_ACCEPT_LEN          28


ngx_uint_t ngx_http_ws_heartbeat_is_websocket(ngx_http_request_t *r);
ngx_table_elt_t *ngx_http_ws_heartbeat_header(ngx_list_t *headers,
    char *name);
void ngx_http_ws_heartbeat_accept(u_char *key, u_char *accept);

#define ngx_http_ws_heartbeat_request_header(r, name)                         \
    ngx_http_ws_heartbeat_header(&(r)->headers_in.headers, name)


#endif /* _NGX_HTTP_WS_HEARTBEAT_HTTP_H_INCLUDED_ */
