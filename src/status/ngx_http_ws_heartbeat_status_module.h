
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 *
 * ngx_http_ws_heartbeat_status_module: its configuration.  The status side
 * reads the sessions' module only through the zone and the main and
 * location configuration of ngx_http_ws_heartbeat_module.h.
 */


#ifndef _NGX_HTTP_WS_HEARTBEAT_STATUS_MODULE_H_INCLUDED_
#define _NGX_HTTP_WS_HEARTBEAT_STATUS_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_ws_heartbeat_module.h"


/* a ws_heartbeat_status_token */

typedef struct {
    ngx_str_t                         token;
    ngx_str_t                         name;       /* in the audit log */
    ngx_uint_t                        admin;      /* may close sessions */
} ngx_http_ws_heartbeat_token_t;


/* a ws_heartbeat_status_origin: an empty host is "*", any origin */

typedef struct {
    ngx_uint_t                        https;
    ngx_str_t                         host;
    ngx_uint_t                        port;
} ngx_http_ws_heartbeat_origin_t;


typedef struct {
    ngx_uint_t                        status;     /* a status location */
} ngx_http_ws_heartbeat_status_main_conf_t;


typedef struct {
    ngx_array_t                      *tokens;     /* of ..._token_t */
    ngx_array_t                      *origins;    /* of ..._origin_t */
    size_t                            backlog;    /* per subscriber */
} ngx_http_ws_heartbeat_status_loc_conf_t;


/* its request context is a delta-stream subscriber or a document's slices */
extern ngx_module_t  ngx_http_ws_heartbeat_status_module;


#endif /* _NGX_HTTP_WS_HEARTBEAT_STATUS_MODULE_H_INCLUDED_ */
