
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 */


#ifndef _NGX_HTTP_WS_HEARTBEAT_PROMETHEUS_H_INCLUDED_
#define _NGX_HTTP_WS_HEARTBEAT_PROMETHEUS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_ws_heartbeat_out.h"


ngx_int_t ngx_http_ws_heartbeat_prometheus(ngx_http_ws_heartbeat_out_t *out,
    ngx_http_ws_heartbeat_summary_t *sum);


#endif /* _NGX_HTTP_WS_HEARTBEAT_PROMETHEUS_H_INCLUDED_ */
