
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 *
 * Closing sessions from the status endpoint: DELETE with the filters of
 * a GET, and an admin token.
 */


#ifndef _NGX_HTTP_WS_HEARTBEAT_ADMIN_H_INCLUDED_
#define _NGX_HTTP_WS_HEARTBEAT_ADMIN_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_ws_heartbeat_status_module.h"
#include "ngx_http_ws_heartbeat_query.h"


/* ids listed in a DELETE's answer */
#define NGX_HTTP_WSHB_DELETE_IDS  1000


ngx_int_t ngx_http_ws_heartbeat_delete(ngx_http_request_t *r,
    ngx_http_ws_heartbeat_query_t *q, ngx_http_ws_heartbeat_token_t *token);


#endif /* _NGX_HTTP_WS_HEARTBEAT_ADMIN_H_INCLUDED_ */
