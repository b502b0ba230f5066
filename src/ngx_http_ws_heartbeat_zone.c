
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 *
 * The shared memory zone.  For now it holds global counters only; the
 * per-session table comes with the status handler.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_ws_heartbeat_module.h"


typedef struct {
    ngx_atomic_t                  sessions;
} ngx_http_ws_heartbeat_shctx_t;


static ngx_int_t ngx_http_ws_heartbeat_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);


char *
ngx_http_ws_heartbeat_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_ws_heartbeat_main_conf_t *wmcf = conf;

    u_char      *p;
    ssize_t      size;
    ngx_str_t   *value, name, s;

    if (wmcf->shm_zone) {
        return "is duplicate";
    }

    value = cf->args->elts;

    p = (u_char *) ngx_strchr(value[1].data, ':');

    if (p == NULL || p == value[1].data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone \"%V\" in \"%V\" directive, "
                           "expected name:size", &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    name.data = value[1].data;
    name.len = p - value[1].data;

    s.data = p + 1;
    s.len = value[1].data + value[1].len - s.data;

    size = ngx_parse_size(&s);

    if (size == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone size \"%V\" in \"%V\" directive",
                           &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (size < (ssize_t) (8 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is too small in \"%V\" directive, "
                           "at least %uzk", &value[1], &cmd->name,
                           8 * ngx_pagesize / 1024);
        return NGX_CONF_ERROR;
    }

    wmcf->shm_zone = ngx_shared_memory_add(cf, &name, size,
                                           &ngx_http_ws_heartbeat_module);
    if (wmcf->shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (wmcf->shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" in \"%V\" directive is already used",
                           &name, &cmd->name);
        return NGX_CONF_ERROR;
    }

    wmcf->shm_zone->init = ngx_http_ws_heartbeat_init_zone;
    wmcf->shm_zone->data = wmcf;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_ws_heartbeat_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    size_t                          len;
    ngx_slab_pool_t                *shpool;
    ngx_http_ws_heartbeat_shctx_t  *sh;

    if (data) {
        /* reload: the zone, and what it holds, carries over */
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        return NGX_OK;
    }

    sh = ngx_slab_calloc(shpool, sizeof(ngx_http_ws_heartbeat_shctx_t));
    if (sh == NULL) {
        return NGX_ERROR;
    }

    shpool->data = sh;

    len = sizeof(" in ws_heartbeat zone \"\"") + shm_zone->shm.name.len;

    shpool->log_ctx = ngx_slab_alloc(shpool, len);
    if (shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(shpool->log_ctx, " in ws_heartbeat zone \"%V\"%Z",
                &shm_zone->shm.name);

    return NGX_OK;
}
