
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_ws_heartbeat.h"


ngx_http_ws_heartbeat_worker_t  ngx_http_ws_heartbeat_worker;


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
