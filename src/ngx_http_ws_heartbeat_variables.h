
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 */


#ifndef _NGX_HTTP_WS_HEARTBEAT_VARIABLES_H_INCLUDED_
#define _NGX_HTTP_WS_HEARTBEAT_VARIABLES_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


ngx_int_t ngx_http_ws_heartbeat_add_variables(ngx_conf_t *cf);


#endif /* _NGX_HTTP_WS_HEARTBEAT_VARIABLES_H_INCLUDED_ */
