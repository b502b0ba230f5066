
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 *
 * The status side as a module of its own, in the same object: its
 * directives, configuration and worker init.  Its request context slot is
 * its own too, so that a delta-stream subscriber of a status request is
 * never read as a proxied session (ngx_http_ws_heartbeat_module's slot,
 * which the variables read).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_ws_heartbeat_status_module.h"
#include "ngx_http_ws_heartbeat_status.h"
#include "ngx_http_ws_heartbeat_stream.h"


static char *ngx_http_ws_heartbeat_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_ws_heartbeat_status_preconfiguration(
    ngx_conf_t *cf);
static void *ngx_http_ws_heartbeat_status_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_ws_heartbeat_status_init_main_conf(ngx_conf_t *cf,
    void *conf);
static void *ngx_http_ws_heartbeat_status_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_ws_heartbeat_status_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);


static ngx_conf_num_bounds_t  ngx_http_ws_heartbeat_backlog_bounds = {
    ngx_http_ws_heartbeat_bounds, 1024, 1073741824
};


static ngx_command_t  ngx_http_ws_heartbeat_status_commands[] = {

    { ngx_string("ws_heartbeat_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_ws_heartbeat_status,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("ws_heartbeat_status_token"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE123,
      ngx_http_ws_heartbeat_status_token,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("ws_heartbeat_status_origin"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_ws_heartbeat_status_origin,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("ws_heartbeat_stream_backlog"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_ws_heartbeat_status_loc_conf_t, backlog),
      &ngx_http_ws_heartbeat_backlog_bounds },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_ws_heartbeat_status_module_ctx = {
    ngx_http_ws_heartbeat_status_preconfiguration, /* preconfiguration */
    NULL,                                  /* postconfiguration */

    ngx_http_ws_heartbeat_status_create_main_conf,
                                           /* create main configuration */
    ngx_http_ws_heartbeat_status_init_main_conf,
                                           /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_ws_heartbeat_status_create_loc_conf,
                                           /* create location configuration */
    ngx_http_ws_heartbeat_status_merge_loc_conf
                                           /* merge location configuration */
};


ngx_module_t  ngx_http_ws_heartbeat_status_module = {
    NGX_MODULE_V1,
    &ngx_http_ws_heartbeat_status_module_ctx, /* module context */
    ngx_http_ws_heartbeat_status_commands, /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_ws_heartbeat_stream_init_worker, /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static char *
ngx_http_ws_heartbeat_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t                  *clcf;
    ngx_http_ws_heartbeat_status_main_conf_t  *smcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_ws_heartbeat_status_handler;

    smcf = ngx_http_conf_get_module_main_conf(cf,
                                          ngx_http_ws_heartbeat_status_module);
    smcf->status = 1;

    return NGX_CONF_OK;
}


/* the module's slot, for the files below this one (see ..._worker_t) */

static ngx_int_t
ngx_http_ws_heartbeat_status_preconfiguration(ngx_conf_t *cf)
{
    ngx_http_ws_heartbeat_worker.status_slot =
                                 ngx_http_ws_heartbeat_status_module.ctx_index;

    return NGX_OK;
}


static void *
ngx_http_ws_heartbeat_status_create_main_conf(ngx_conf_t *cf)
{
    return ngx_pcalloc(cf->pool,
                       sizeof(ngx_http_ws_heartbeat_status_main_conf_t));
}


/*
 * Once the http block is read, before any module's postconfiguration: a
 * status location shows the zone's sessions
 */

static char *
ngx_http_ws_heartbeat_status_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_ws_heartbeat_status_main_conf_t *smcf = conf;

    ngx_http_ws_heartbeat_main_conf_t  *wmcf;

    wmcf = ngx_http_ws_heartbeat_conf_get_main_conf(cf);

    if (smcf->status && wmcf->zone == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"ws_heartbeat_status\" directive requires "
                      "\"ws_heartbeat_zone\" in the http block");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_ws_heartbeat_status_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_ws_heartbeat_status_loc_conf_t  *slcf;

    slcf = ngx_palloc(cf->pool,
                      sizeof(ngx_http_ws_heartbeat_status_loc_conf_t));
    if (slcf == NULL) {
        return NULL;
    }

    slcf->tokens = NGX_CONF_UNSET_PTR;
    slcf->origins = NGX_CONF_UNSET_PTR;
    slcf->backlog = NGX_CONF_UNSET_SIZE;

    return slcf;
}


static char *
ngx_http_ws_heartbeat_status_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child)
{
    ngx_http_ws_heartbeat_status_loc_conf_t *prev = parent;
    ngx_http_ws_heartbeat_status_loc_conf_t *conf = child;

    ngx_conf_merge_ptr_value(conf->tokens, prev->tokens, NULL);
    ngx_conf_merge_ptr_value(conf->origins, prev->origins, NULL);
    ngx_conf_merge_size_value(conf->backlog, prev->backlog, 1024 * 1024);

    return NGX_CONF_OK;
}
