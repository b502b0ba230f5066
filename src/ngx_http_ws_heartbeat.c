
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_ws_heartbeat.h"


ngx_http_ws_heartbeat_worker_t  ngx_http_ws_heartbeat_worker;


/* why a session ended, by NGX_HTTP_WSHB_* reason */
ngx_str_t  ngx_http_ws_heartbeat_reasons[] = {
    ngx_null_string,
    ngx_string("client_close"),
    ngx_string("upstream_close"),
    ngx_string("client_timeout"),
    ngx_string("upstream_timeout"),
    ngx_string("idle_timeout"),
    ngx_string("shutdown"),
    ngx_string("error"),
    ngx_string("proxy_timeout"),
    ngx_string("worker_lost"),
    ngx_string("admin"),
    ngx_string("max_age"),
    ngx_string("expired"),
    ngx_string("evicted")
};


ngx_str_t  ngx_http_ws_heartbeat_states[] = {
    ngx_string("free"),
    ngx_string("healthy"),
    ngx_string("awaiting_pong"),
    ngx_string("closing"),
    ngx_string("passthrough")
};


char  *ngx_http_ws_heartbeat_peers[] = { "client", "upstream" };


/* the direction of the frames and bytes read from each peer */
char  *ngx_http_ws_heartbeat_directions[] = {
    "client_to_upstream", "upstream_to_client"
};


/* why a subscriber of the delta stream was closed */
char  *ngx_http_ws_heartbeat_sub_reasons[] = {
    "client", "zombie", "slow", "shutdown", "error"
};


/* why an upgrade was passed through without heartbeats */
char  *ngx_http_ws_heartbeat_skips[] = {
    "not_101", "not_http1", "not_websocket", "failed"
};


/* a table with a name for each value it is read by, or the build fails */

#define ngx_http_ws_heartbeat_names_for(table, n)                             \
    typedef char  table##_check[                                              \
        sizeof(table) / sizeof(table[0]) == (n) ? 1 : -1]

ngx_http_ws_heartbeat_names_for(ngx_http_ws_heartbeat_reasons,
                                NGX_HTTP_WSHB_NREASONS);
ngx_http_ws_heartbeat_names_for(ngx_http_ws_heartbeat_states,
                                NGX_HTTP_WSHB_NSTATES);
ngx_http_ws_heartbeat_names_for(ngx_http_ws_heartbeat_peers, 2);
ngx_http_ws_heartbeat_names_for(ngx_http_ws_heartbeat_directions, 2);
ngx_http_ws_heartbeat_names_for(ngx_http_ws_heartbeat_sub_reasons,
                                NGX_HTTP_WSHB_SUB_NREASONS);
ngx_http_ws_heartbeat_names_for(ngx_http_ws_heartbeat_skips,
                                NGX_HTTP_WSHB_NSKIPS);


/* like ngx_conf_check_num_bounds(), but the error names the directive */

char *
ngx_http_ws_heartbeat_bounds(ngx_conf_t *cf, void *post, void *data)
{
    ngx_conf_num_bounds_t  *bounds = post;
    ngx_int_t              *np = data;

    if (*np < bounds->low || *np > bounds->high) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" directive value must be between %i "
                           "and %i", &((ngx_str_t *) cf->args->elts)[0],
                           bounds->low, bounds->high);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}
