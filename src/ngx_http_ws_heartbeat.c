
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_ws_heartbeat.h"


ngx_http_ws_heartbeat_worker_t  ngx_http_ws_heartbeat_worker;
