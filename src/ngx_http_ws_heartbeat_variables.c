
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_ws_heartbeat_session.h"
#include "ngx_http_ws_heartbeat_variables.h"
#include "ngx_http_ws_heartbeat_close.h"


#define NGX_HTTP_WSHB_VAR_ID          0
#define NGX_HTTP_WSHB_VAR_REASON      1
#define NGX_HTTP_WSHB_VAR_RTT         2
#define NGX_HTTP_WSHB_VAR_UPSTREAM_RTT  3
#define NGX_HTTP_WSHB_VAR_PINGS       4
#define NGX_HTTP_WSHB_VAR_PONGS       5


static ngx_int_t ngx_http_ws_heartbeat_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


static ngx_http_variable_t  ngx_http_ws_heartbeat_vars[] = {

    { ngx_string("ws_heartbeat_session_id"), NULL,
      ngx_http_ws_heartbeat_variable, NGX_HTTP_WSHB_VAR_ID,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("ws_heartbeat_close_reason"), NULL,
      ngx_http_ws_heartbeat_variable, NGX_HTTP_WSHB_VAR_REASON,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("ws_heartbeat_rtt"), NULL,
      ngx_http_ws_heartbeat_variable, NGX_HTTP_WSHB_VAR_RTT,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("ws_heartbeat_upstream_rtt"), NULL,
      ngx_http_ws_heartbeat_variable, NGX_HTTP_WSHB_VAR_UPSTREAM_RTT,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("ws_heartbeat_pings"), NULL,
      ngx_http_ws_heartbeat_variable, NGX_HTTP_WSHB_VAR_PINGS,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("ws_heartbeat_pongs"), NULL,
      ngx_http_ws_heartbeat_variable, NGX_HTTP_WSHB_VAR_PONGS,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


ngx_int_t
ngx_http_ws_heartbeat_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_ws_heartbeat_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_ws_heartbeat_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                        *p;
    ngx_str_t                     *reason;
    ngx_uint_t                     n;
    ngx_http_ws_heartbeat_ctx_t   *ctx;
    ngx_http_ws_heartbeat_peer_t  *peer;

    ctx = ngx_http_ws_heartbeat_get_ctx(r->main);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    switch (data) {

    case NGX_HTTP_WSHB_VAR_ID:
        p = ngx_pnalloc(r->pool, NGX_HTTP_WSHB_ID_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        v->data = p;
        v->len = ngx_sprintf(p, NGX_HTTP_WSHB_ID_FMT, NGX_HTTP_WSHB_ID(ctx))
                 - p;
        goto found;

    case NGX_HTTP_WSHB_VAR_REASON:
        n = ngx_http_ws_heartbeat_final_reason(r->main, ctx);
        reason = &ngx_http_ws_heartbeat_reasons[n];
        v->data = reason->data;
        v->len = reason->len;
        goto found;

    case NGX_HTTP_WSHB_VAR_RTT:
    case NGX_HTTP_WSHB_VAR_UPSTREAM_RTT:
        peer = &ctx->peer[data == NGX_HTTP_WSHB_VAR_RTT
                          ? NGX_HTTP_WSHB_CLIENT : NGX_HTTP_WSHB_UPSTREAM];

        if (!peer->rtt_set) {
            v->not_found = 1;
            return NGX_OK;
        }

        p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        v->data = p;
        v->len = ngx_sprintf(p, "%M", (ngx_msec_t) peer->rtt) - p;
        goto found;

    default: /* NGX_HTTP_WSHB_VAR_PINGS, NGX_HTTP_WSHB_VAR_PONGS */

        p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        v->data = p;
        v->len = ngx_sprintf(p, "%ui",
                             data == NGX_HTTP_WSHB_VAR_PINGS
                             ? (ngx_uint_t) ctx->peer[0].pings
                               + ctx->peer[1].pings
                             : (ngx_uint_t) ctx->peer[0].parser.pongs
                               + ctx->peer[1].parser.pongs)
                 - p;
        goto found;
    }

found:

    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}
