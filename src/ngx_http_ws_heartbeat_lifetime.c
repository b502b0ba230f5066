
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_ws_heartbeat_lifetime.h"
#include "ngx_http_ws_heartbeat_close.h"


/* how long a close waits for a frame boundary on both sides */
#define NGX_HTTP_WSHB_BOUNDARY_WAIT  1000
#define NGX_HTTP_WSHB_BOUNDARY_POLL  20


static ngx_int_t ngx_http_ws_heartbeat_expiry(ngx_http_request_t *r,
    ngx_http_ws_heartbeat_loc_conf_t *wlcf, ngx_msec_int_t *left);


/* ws_heartbeat_max_age time [jitter=percent] [code=code] */

char *
ngx_http_ws_heartbeat_max_age(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_ws_heartbeat_loc_conf_t *wlcf = conf;

    ngx_int_t   n;
    ngx_str_t  *value, v;
    ngx_uint_t  i;

    if (wlcf->max_age != NGX_CONF_UNSET_MSEC) {
        return "is duplicate";
    }

    value = cf->args->elts;

    wlcf->max_age = ngx_parse_time(&value[1], 0);

    if (wlcf->max_age == (ngx_msec_t) NGX_ERROR || wlcf->max_age == 0
        || wlcf->max_age > NGX_HTTP_WSHB_MAX_MSEC)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid time \"%V\" in \"%V\" directive, "
                           "it must be from 1ms to 24d", &value[1],
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "jitter=", 7) == 0) {
            v.data = value[i].data + 7;
            v.len = value[i].len - 7;

            if (v.len && v.data[v.len - 1] == '%') {
                v.len--;
            }

            n = ngx_atoi(v.data, v.len);

            if (n == NGX_ERROR || n > 100) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid jitter \"%V\" in \"%V\" "
                                   "directive, it must be 0 to 100 %%",
                                   &value[i], &cmd->name);
                return NGX_CONF_ERROR;
            }

            wlcf->max_age_jitter = (ngx_uint_t) n;
            continue;
        }

        if (ngx_http_ws_heartbeat_close_code_conf(cf, cmd, &value[i],
                                                  &wlcf->max_age_code)
            != NGX_CONF_OK)
        {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/* ws_heartbeat_expires value [code=code] */

char *
ngx_http_ws_heartbeat_expires(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_ws_heartbeat_loc_conf_t *wlcf = conf;

    ngx_str_t                         *value;
    ngx_http_compile_complex_value_t   ccv;

    if (wlcf->expires != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    wlcf->expires = ngx_palloc(cf->pool, sizeof(ngx_http_complex_value_t));
    if (wlcf->expires == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = &value[1];
    ccv.complex_value = wlcf->expires;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (cf->args->nelts == 3) {
        return ngx_http_ws_heartbeat_close_code_conf(cf, cmd, &value[2],
                                                     &wlcf->expires_code);
    }

    return NGX_CONF_OK;
}


/*
 * As the session starts: when it is to be closed, if ever.  Max age less
 * a random share of up to its jitter, so that sessions opened together
 * (after a deploy) do not all reconnect together; or the expiry, if that
 * comes first.
 */

void
ngx_http_ws_heartbeat_lifetime(ngx_http_request_t *r,
    ngx_http_ws_heartbeat_ctx_t *ctx, ngx_http_ws_heartbeat_loc_conf_t *wlcf)
{
    ngx_msec_t      spread;
    ngx_msec_int_t  left;

    ctx->ends = NGX_HTTP_WSHB_ENDS_NONE;

    if (wlcf->max_age) {
        left = (ngx_msec_int_t) wlcf->max_age;
        spread = wlcf->max_age / 100 * wlcf->max_age_jitter
                 + wlcf->max_age % 100 * wlcf->max_age_jitter / 100;

        if (spread) {
            left -= (ngx_msec_int_t) ((ngx_msec_t) ngx_random()
                                      % (spread + 1));
        }

        ctx->ends = NGX_HTTP_WSHB_ENDS_MAX_AGE;
        ctx->end_at = ctx->start + (uint32_t) left;
    }

    if (wlcf->expires
        && ngx_http_ws_heartbeat_expiry(r, wlcf, &left) == NGX_OK
        && (ctx->ends == NGX_HTTP_WSHB_ENDS_NONE
            || (int32_t) (ctx->start + (uint32_t) left - ctx->end_at) < 0))
    {
        ctx->ends = NGX_HTTP_WSHB_ENDS_EXPIRED;
        ctx->end_at = ctx->start + (uint32_t) left;
    }
}


/*
 * The expiry, an absolute Unix time in seconds, as ms from now (0 if it
 * has passed): NGX_OK, or NGX_DECLINED with one line at info when the
 * value is empty, malformed or more than 24 days away
 */

static ngx_int_t
ngx_http_ws_heartbeat_expiry(ngx_http_request_t *r,
    ngx_http_ws_heartbeat_loc_conf_t *wlcf, ngx_msec_int_t *left)
{
    time_t       exp;
    int64_t      ms;
    ngx_str_t    value;
    ngx_time_t  *tp;

    if (ngx_http_complex_value(r, wlcf->expires, &value) != NGX_OK) {
        return NGX_DECLINED;
    }

    exp = value.len ? ngx_atotm(value.data, value.len) : NGX_ERROR;

    if (exp == NGX_ERROR) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "ws_heartbeat: expiry \"%V\" is not a Unix time, "
                      "the session has none", &value);
        return NGX_DECLINED;
    }

    tp = ngx_timeofday();

    /*
     * In seconds first: ngx_atotm() takes up to 2^63 - 1, and only a time
     * within the horizon may be multiplied into ms
     */

    if (exp - tp->sec > NGX_HTTP_WSHB_MAX_MSEC / 1000) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "ws_heartbeat: expiry \"%V\" is more than 24 days "
                      "away, the session has none", &value);
        return NGX_DECLINED;
    }

    ms = (int64_t) (exp - tp->sec) * 1000 - (int64_t) tp->msec;

    *left = (ms > 0) ? (ngx_msec_int_t) ms : 0;

    return NGX_OK;
}


/*
 * From the session's timer, once it is at or past end_at: the close
 * frames go at the next frame boundary of each side, as pings do (the
 * timer looks again every NGX_HTTP_WSHB_BOUNDARY_POLL ms), and after
 * NGX_HTTP_WSHB_BOUNDARY_WAIT ms without one the session is closed with
 * a frame to the sides that are at one.  NGX_DECLINED if it is not over.
 */

ngx_int_t
ngx_http_ws_heartbeat_lifetime_over(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_http_ws_heartbeat_msec_t now)
{
    char                              *text;
    ngx_uint_t                         code, reason;
    ngx_http_ws_heartbeat_loc_conf_t  *wlcf;

    if (ctx->ends == NGX_HTTP_WSHB_ENDS_NONE
        || (int32_t) (now - ctx->end_at) < 0)
    {
        return NGX_DECLINED;
    }

    if (ctx->passthrough) {
        ngx_http_ws_heartbeat_end_as_is(ctx,
            (ctx->ends == NGX_HTTP_WSHB_ENDS_MAX_AGE) ? NGX_HTTP_WSHB_MAX_AGE
                                                      : NGX_HTTP_WSHB_EXPIRED);
        return NGX_DONE;
    }

    if ((!ngx_http_ws_heartbeat_at_boundary(&ctx->peer[0].parser)
         || !ngx_http_ws_heartbeat_at_boundary(&ctx->peer[1].parser))
        && (int32_t) (now - ctx->end_at) < NGX_HTTP_WSHB_BOUNDARY_WAIT)
    {
        ngx_http_ws_heartbeat_timer_add(&ctx->timer,
                                        NGX_HTTP_WSHB_BOUNDARY_POLL);
        return NGX_DONE;
    }

    wlcf = ngx_http_ws_heartbeat_loc_conf(ctx);

    if (ctx->ends == NGX_HTTP_WSHB_ENDS_MAX_AGE) {
        reason = NGX_HTTP_WSHB_MAX_AGE;
        code = wlcf->max_age_code;
        text = "max age";

    } else {
        reason = NGX_HTTP_WSHB_EXPIRED;
        code = wlcf->expires_code;
        text = "expired";
    }

    ngx_log_error(NGX_LOG_INFO, ngx_http_ws_heartbeat_log(ctx), 0,
                  "ws_heartbeat: session " NGX_HTTP_WSHB_ID_FMT " %s, "
                  "closing", NGX_HTTP_WSHB_ID(ctx),
                  reason == NGX_HTTP_WSHB_MAX_AGE ? "reached its max age"
                                                  : "expired");

    ngx_http_ws_heartbeat_close_coded(ctx, reason, code, (u_char *) text,
                                      ngx_strlen(text), NGX_HTTP_WSHB_TO_BOTH);

    return NGX_DONE;
}
