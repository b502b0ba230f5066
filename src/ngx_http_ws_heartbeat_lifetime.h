
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 *
 * How long a session may live: ws_heartbeat_max_age, and the expiry a
 * request hands over with ws_heartbeat_expires.
 */


#ifndef _NGX_HTTP_WS_HEARTBEAT_LIFETIME_H_INCLUDED_
#define _NGX_HTTP_WS_HEARTBEAT_LIFETIME_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_ws_heartbeat_session.h"


/* ctx->ends, and the record's: what closes the session at end_at */
#define NGX_HTTP_WSHB_ENDS_NONE      0
#define NGX_HTTP_WSHB_ENDS_MAX_AGE   1
#define NGX_HTTP_WSHB_ENDS_EXPIRED   2


char *ngx_http_ws_heartbeat_max_age(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_ws_heartbeat_expires(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
void ngx_http_ws_heartbeat_lifetime(ngx_http_request_t *r,
    ngx_http_ws_heartbeat_ctx_t *ctx, ngx_http_ws_heartbeat_loc_conf_t *wlcf);
ngx_int_t ngx_http_ws_heartbeat_lifetime_over(
    ngx_http_ws_heartbeat_ctx_t *ctx, ngx_http_ws_heartbeat_msec_t now);


#endif /* _NGX_HTTP_WS_HEARTBEAT_LIFETIME_H_INCLUDED_ */
