
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 *
 * What ngx_http_ws_heartbeat_close.c offers: every end of a session.
 */


#ifndef _NGX_HTTP_WS_HEARTBEAT_CLOSE_H_INCLUDED_
#define _NGX_HTTP_WS_HEARTBEAT_CLOSE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_ws_heartbeat_session.h"
#include "ngx_http_ws_heartbeat_command.h"


/* the peers a close frame goes to: NGX_HTTP_WSHB_TO(peer), or both */
#define NGX_HTTP_WSHB_TO(i)           (1 << (i))
#define NGX_HTTP_WSHB_TO_CLIENT       NGX_HTTP_WSHB_TO(NGX_HTTP_WSHB_CLIENT)
#define NGX_HTTP_WSHB_TO_UPSTREAM     NGX_HTTP_WSHB_TO(NGX_HTTP_WSHB_UPSTREAM)
#define NGX_HTTP_WSHB_TO_BOTH                                                 \
    (NGX_HTTP_WSHB_TO_CLIENT|NGX_HTTP_WSHB_TO_UPSTREAM)


void ngx_http_ws_heartbeat_close(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_uint_t reason, ngx_uint_t to);
void ngx_http_ws_heartbeat_close_coded(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_uint_t reason, ngx_uint_t code, u_char *text, size_t len,
    ngx_uint_t to);
void ngx_http_ws_heartbeat_finish(ngx_http_ws_heartbeat_ctx_t *ctx);
void ngx_http_ws_heartbeat_end_as_is(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_uint_t reason);
ssize_t ngx_http_ws_heartbeat_ended(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_uint_t i, ssize_t n);
ssize_t ngx_http_ws_heartbeat_discard(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_uint_t i, ngx_connection_t *c, u_char *buf, size_t size);
void ngx_http_ws_heartbeat_fail(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_uint_t i);
void ngx_http_ws_heartbeat_drain(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_msec_t delay);
ngx_uint_t ngx_http_ws_heartbeat_final_reason(ngx_http_request_t *r,
    ngx_http_ws_heartbeat_ctx_t *ctx);
char *ngx_http_ws_heartbeat_close_code_conf(ngx_conf_t *cf,
    ngx_command_t *cmd, ngx_str_t *value, ngx_uint_t *code);
void ngx_http_ws_heartbeat_commands_init(ngx_http_ws_heartbeat_zone_t *zone);


#endif /* _NGX_HTTP_WS_HEARTBEAT_CLOSE_H_INCLUDED_ */
