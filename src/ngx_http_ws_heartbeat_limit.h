
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 */


#ifndef _NGX_HTTP_WS_HEARTBEAT_LIMIT_H_INCLUDED_
#define _NGX_HTTP_WS_HEARTBEAT_LIMIT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


char *ngx_http_ws_heartbeat_max_sessions(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
void ngx_http_ws_heartbeat_limit_ids(ngx_array_t *limits);
ngx_int_t ngx_http_ws_heartbeat_limit_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_ws_heartbeat_key_handler(ngx_http_request_t *r);


#endif /* _NGX_HTTP_WS_HEARTBEAT_LIMIT_H_INCLUDED_ */
