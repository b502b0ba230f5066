
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 */


#ifndef _NGX_HTTP_WS_HEARTBEAT_STATUS_H_INCLUDED_
#define _NGX_HTTP_WS_HEARTBEAT_STATUS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


ngx_int_t ngx_http_ws_heartbeat_status_handler(ngx_http_request_t *r);
char *ngx_http_ws_heartbeat_status_token(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_ws_heartbeat_status_origin(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


#endif /* _NGX_HTTP_WS_HEARTBEAT_STATUS_H_INCLUDED_ */
