
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_ws_heartbeat_session.h"
#include "ngx_http_ws_heartbeat_wake.h"
#include "ngx_http_ws_heartbeat_lifetime.h"
#include "ngx_http_ws_heartbeat_limit.h"
#include "ngx_http_ws_heartbeat_variables.h"


/*
 * The file this object was mapped from, as it was at the first load of a
 * configuration.  On a reload the master dlopen()s the same path again and
 * is given this very object, still mapped (the old cycle's dlclose() comes
 * after the new cycle's dlopen()): this data outlives the reload, and a new
 * file at that path runs only in a new master.
 */

typedef struct {
    u_char                            *path;     /* NULL: not known */
    dev_t                              dev;
    ngx_file_uniq_t                    uniq;
    off_t                              size;
    time_t                             mtime;
    ngx_uint_t                         loaded;
} ngx_http_ws_heartbeat_file_t;


static ngx_int_t ngx_http_ws_heartbeat_header_filter(ngx_http_request_t *r);
static ngx_uint_t ngx_http_ws_heartbeat_accepted(ngx_http_request_t *r);
static void ngx_http_ws_heartbeat_skip_upgrade(ngx_uint_t cause);
static char *ngx_http_ws_heartbeat_positive(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_http_ws_heartbeat_max_msec(ngx_conf_t *cf, void *post,
    void *data);
static ngx_int_t ngx_http_ws_heartbeat_preconfiguration(ngx_conf_t *cf);
static void *ngx_http_ws_heartbeat_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_ws_heartbeat_init_main_conf(ngx_conf_t *cf, void *conf);
static char *ngx_http_ws_heartbeat_tag(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static void *ngx_http_ws_heartbeat_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_ws_heartbeat_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static ngx_int_t ngx_http_ws_heartbeat_init(ngx_conf_t *cf);
static void ngx_http_ws_heartbeat_check_file(ngx_conf_t *cf);
static ngx_int_t ngx_http_ws_heartbeat_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_ws_heartbeat_init_process(ngx_cycle_t *cycle);
static void ngx_http_ws_heartbeat_exit_process(ngx_cycle_t *cycle);


static ngx_conf_post_handler_pt  ngx_http_ws_heartbeat_positive_p =
    ngx_http_ws_heartbeat_positive;

static ngx_conf_post_handler_pt  ngx_http_ws_heartbeat_max_msec_p =
    ngx_http_ws_heartbeat_max_msec;

static ngx_conf_num_bounds_t  ngx_http_ws_heartbeat_ring_bounds = {
    ngx_http_ws_heartbeat_bounds, 16, 1048576
};


static ngx_command_t  ngx_http_ws_heartbeat_commands[] = {

    { ngx_string("ws_heartbeat"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_ws_heartbeat_loc_conf_t, enable),
      NULL },

    { ngx_string("ws_heartbeat_interval"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_ws_heartbeat_loc_conf_t, interval),
      &ngx_http_ws_heartbeat_positive_p },

    { ngx_string("ws_heartbeat_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_ws_heartbeat_loc_conf_t, timeout),
      &ngx_http_ws_heartbeat_positive_p },

    { ngx_string("ws_heartbeat_upstream"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_ws_heartbeat_loc_conf_t, upstream),
      NULL },

    { ngx_string("ws_heartbeat_idle_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_ws_heartbeat_loc_conf_t, idle_timeout),
      &ngx_http_ws_heartbeat_max_msec_p },

    { ngx_string("ws_heartbeat_drain"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_ws_heartbeat_main_conf_t, drain),
      &ngx_http_ws_heartbeat_max_msec_p },

    { ngx_string("ws_heartbeat_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_ws_heartbeat_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      &ngx_http_ws_heartbeat_module },     /* the zone's tag */

    { ngx_string("ws_heartbeat_stream_ring"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_ws_heartbeat_main_conf_t, ring),
      &ngx_http_ws_heartbeat_ring_bounds },

    { ngx_string("ws_heartbeat_max_sessions"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1234,
      ngx_http_ws_heartbeat_max_sessions,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("ws_heartbeat_tag"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE23,
      ngx_http_ws_heartbeat_tag,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("ws_heartbeat_max_age"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE123,
      ngx_http_ws_heartbeat_max_age,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("ws_heartbeat_expires"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_ws_heartbeat_expires,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_ws_heartbeat_module_ctx = {
    ngx_http_ws_heartbeat_preconfiguration, /* preconfiguration */
    ngx_http_ws_heartbeat_init,            /* postconfiguration */

    ngx_http_ws_heartbeat_create_main_conf, /* create main configuration */
    ngx_http_ws_heartbeat_init_main_conf,  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_ws_heartbeat_create_loc_conf, /* create location configuration */
    ngx_http_ws_heartbeat_merge_loc_conf   /* merge location configuration */
};


ngx_module_t  ngx_http_ws_heartbeat_module = {
    NGX_MODULE_V1,
    &ngx_http_ws_heartbeat_module_ctx,     /* module context */
    ngx_http_ws_heartbeat_commands,        /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    ngx_http_ws_heartbeat_init_module,     /* init module */
    ngx_http_ws_heartbeat_init_process,    /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_ws_heartbeat_exit_process,    /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;

static ngx_http_ws_heartbeat_file_t  ngx_http_ws_heartbeat_file;


static ngx_int_t
ngx_http_ws_heartbeat_header_filter(ngx_http_request_t *r)
{
    ngx_int_t                          rc;
    ngx_http_ws_heartbeat_loc_conf_t  *wlcf;

    if (r != r->main || r->upstream == NULL || !r->upstream->upgrade) {
        return ngx_http_next_header_filter(r);
    }

    wlcf = ngx_http_get_module_loc_conf(r, ngx_http_ws_heartbeat_module);

    if (!wlcf->enable) {
        return ngx_http_next_header_filter(r);
    }

    /* nginx 1.31's tunnel module answers a CONNECT with an upgrade and 200 */

    if (r->headers_out.status != NGX_HTTP_SWITCHING_PROTOCOLS) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "ws_heartbeat: upgrade answered %ui, not 101, "
                      "passing it through", r->headers_out.status);
        ngx_http_ws_heartbeat_skip_upgrade(NGX_HTTP_WSHB_SKIP_NOT_101);
        return ngx_http_next_header_filter(r);
    }

    if (r->http_version >= NGX_HTTP_VERSION_20) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "ws_heartbeat: upgrade is not over HTTP/1.x, "
                      "passing it through");
        ngx_http_ws_heartbeat_skip_upgrade(NGX_HTTP_WSHB_SKIP_NOT_HTTP1);
        return ngx_http_next_header_filter(r);
    }

    if (!ngx_http_ws_heartbeat_is_websocket(r)
        || !ngx_http_ws_heartbeat_accepted(r))
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "ws_heartbeat: upgrade is not to WebSocket, "
                      "passing it through");
        ngx_http_ws_heartbeat_skip_upgrade(NGX_HTTP_WSHB_SKIP_NOT_WS);
        return ngx_http_next_header_filter(r);
    }

    rc = ngx_http_next_header_filter(r);

    if (rc == NGX_ERROR || rc > NGX_OK) {
        return rc;
    }

    if (ngx_http_ws_heartbeat_start(r, wlcf) != NGX_OK) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "ws_heartbeat: could not start heartbeats, "
                      "passing the session through");
        ngx_http_ws_heartbeat_skip_upgrade(NGX_HTTP_WSHB_SKIP_FAILED);
    }

    return rc;
}


/* an upgrade passed through without heartbeats, counted by its cause */

static void
ngx_http_ws_heartbeat_skip_upgrade(ngx_uint_t cause)
{
    ngx_http_ws_heartbeat_zone_t  *zone;

    zone = ngx_http_ws_heartbeat_worker.zone;

    if (zone) {
        (void) ngx_atomic_fetch_add(&zone->sh->totals.skipped[cause], 1);
    }
}


/*
 * The upstream's 101 is a WebSocket one: its own Upgrade names websocket
 * and its Sec-WebSocket-Accept answers the client's key (RFC 6455, 4.1)
 */

static ngx_uint_t
ngx_http_ws_heartbeat_accepted(ngx_http_request_t *r)
{
    u_char            accept[NGX_HTTP_WSHB_ACCEPT_LEN];
    ngx_list_t       *headers;
    ngx_table_elt_t  *upgrade, *answer, *key;

    headers = &r->upstream->headers_in.headers;

    upgrade = ngx_http_ws_heartbeat_header(headers, "Upgrade");
    answer = ngx_http_ws_heartbeat_header(headers, "Sec-WebSocket-Accept");
    key = ngx_http_ws_heartbeat_request_header(r, "Sec-WebSocket-Key");

    if (upgrade == NULL || answer == NULL || key == NULL
        || key->value.len != NGX_HTTP_WSHB_KEY_LEN
        || answer->value.len != NGX_HTTP_WSHB_ACCEPT_LEN
        || ngx_strlcasestrn(upgrade->value.data,
                            upgrade->value.data + upgrade->value.len,
                            (u_char *) "websocket", sizeof("websocket") - 2)
           == NULL)
    {
        return 0;
    }

    ngx_http_ws_heartbeat_accept(key->value.data, accept);

    return ngx_memcmp(accept, answer->value.data, sizeof(accept)) == 0;
}


/*
 * ws_heartbeat_tag name value [metrics]: up to NGX_HTTP_WSHB_MAX_TAGS per
 * level; a level without any inherits those of the one above
 */

static char *
ngx_http_ws_heartbeat_tag(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_ws_heartbeat_loc_conf_t *wlcf = conf;

    size_t                              len;
    ngx_str_t                          *value;
    ngx_uint_t                          i;
    ngx_http_ws_heartbeat_tag_t        *tag;
    ngx_http_compile_complex_value_t    ccv;
    ngx_http_ws_heartbeat_main_conf_t  *wmcf;

    value = cf->args->elts;

    if (!ngx_http_ws_heartbeat_tag_name_valid(value[1].data, value[1].len)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid tag name \"%V\" in \"%V\" directive, "
                           "it must be [a-z][a-z0-9_]*, at most %d bytes",
                           &value[1], &cmd->name,
                           NGX_HTTP_WSHB_TAG_NAME_LEN);
        return NGX_CONF_ERROR;
    }

    if (cf->args->nelts == 4
        && ngx_strcmp(value[3].data, "metrics") != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\" in \"%V\" directive",
                           &value[3], &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (wlcf->tags == NGX_CONF_UNSET_PTR) {
        wlcf->tags = ngx_array_create(cf->pool, NGX_HTTP_WSHB_MAX_TAGS,
                                      sizeof(ngx_http_ws_heartbeat_tag_t));
        if (wlcf->tags == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    tag = wlcf->tags->elts;

    for (i = 0; i < wlcf->tags->nelts; i++) {
        if (tag[i].name.len == value[1].len
            && ngx_strncmp(tag[i].name.data, value[1].data, value[1].len)
               == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate tag \"%V\" in \"%V\" directive",
                               &value[1], &cmd->name);
            return NGX_CONF_ERROR;
        }
    }

    if (wlcf->tags->nelts == NGX_HTTP_WSHB_MAX_TAGS) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "too many \"%V\" directives, at most %d",
                           &cmd->name, NGX_HTTP_WSHB_MAX_TAGS);
        return NGX_CONF_ERROR;
    }

    tag = ngx_array_push(wlcf->tags);
    if (tag == NULL) {
        return NGX_CONF_ERROR;
    }

    tag->name = value[1];
    tag->metrics = (cf->args->nelts == 4);

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = &value[2];
    ccv.complex_value = &tag->value;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    /* the room the zone keeps for the tags of a session: the longest */

    len = 0;
    tag = wlcf->tags->elts;

    for (i = 0; i < wlcf->tags->nelts; i++) {
        len += 2 + tag[i].name.len + NGX_HTTP_WSHB_TAG_VALUE_LEN;
    }

    wmcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_ws_heartbeat_module);
    wmcf->tags_room = ngx_max(wmcf->tags_room, len);

    return NGX_CONF_OK;
}


static char *
ngx_http_ws_heartbeat_positive(ngx_conf_t *cf, void *post, void *data)
{
    ngx_msec_t  *ms = data;

    if (*ms == 0) {
        return "must be greater than zero";
    }

    return ngx_http_ws_heartbeat_max_msec(cf, post, data);
}


/* sessions keep their times in 32 bits and compare them as differences */

static char *
ngx_http_ws_heartbeat_max_msec(ngx_conf_t *cf, void *post, void *data)
{
    ngx_msec_t  *ms = data;

    if (*ms > NGX_HTTP_WSHB_MAX_MSEC) {
        return "must be at most 24d";
    }

    return NGX_CONF_OK;
}


/* the module's slot, for the files below this one (see ..._worker_t) */

static ngx_int_t
ngx_http_ws_heartbeat_preconfiguration(ngx_conf_t *cf)
{
    ngx_http_ws_heartbeat_worker.slot = ngx_http_ws_heartbeat_module.ctx_index;

    return ngx_http_ws_heartbeat_add_variables(cf);
}


static void *
ngx_http_ws_heartbeat_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_ws_heartbeat_main_conf_t  *wmcf;

    wmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_ws_heartbeat_main_conf_t));
    if (wmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     wmcf->zone = NULL;
     */

    if (ngx_array_init(&wmcf->limits, cf->pool, 4,
                       sizeof(ngx_http_ws_heartbeat_limit_t *))
        != NGX_OK)
    {
        return NULL;
    }

    wmcf->drain = NGX_CONF_UNSET_MSEC;
    wmcf->ring = NGX_CONF_UNSET_UINT;

    return wmcf;
}


static char *
ngx_http_ws_heartbeat_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_ws_heartbeat_main_conf_t  *wmcf = conf;

    ngx_uint_t                       i;
    ngx_http_ws_heartbeat_limit_t  **lp;

    if (wmcf->zone) {
        wmcf->zone->ring_set = (wmcf->ring != NGX_CONF_UNSET_UINT);
    }

    ngx_conf_init_msec_value(wmcf->drain, 10000);
    ngx_conf_init_uint_value(wmcf->ring, 1024);

    ngx_http_ws_heartbeat_limit_ids(&wmcf->limits);

    if (wmcf->zone) {
        wmcf->zone->nevents = wmcf->ring;
        wmcf->zone->limits = &wmcf->limits;
        wmcf->zone->tags_room = wmcf->tags_room;

        lp = wmcf->limits.elts;

        for (i = 0; i < wmcf->limits.nelts; i++) {
            if (lp[i]->key) {
                wmcf->zone->keyed = 1;
            }
        }
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_ws_heartbeat_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_ws_heartbeat_loc_conf_t  *wlcf;

    wlcf = ngx_palloc(cf->pool, sizeof(ngx_http_ws_heartbeat_loc_conf_t));
    if (wlcf == NULL) {
        return NULL;
    }

    wlcf->enable = NGX_CONF_UNSET;
    wlcf->interval = NGX_CONF_UNSET_MSEC;
    wlcf->timeout = NGX_CONF_UNSET_MSEC;
    wlcf->upstream = NGX_CONF_UNSET;
    wlcf->idle_timeout = NGX_CONF_UNSET_MSEC;
    wlcf->tags = NGX_CONF_UNSET_PTR;
    wlcf->max_age = NGX_CONF_UNSET_MSEC;
    wlcf->max_age_jitter = NGX_CONF_UNSET_UINT;
    wlcf->max_age_code = NGX_CONF_UNSET_UINT;
    wlcf->expires = NGX_CONF_UNSET_PTR;
    wlcf->expires_code = NGX_CONF_UNSET_UINT;
    wlcf->limit = NGX_CONF_UNSET_PTR;
    wlcf->key_limit = NGX_CONF_UNSET_PTR;

    return wlcf;
}


static char *
ngx_http_ws_heartbeat_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child)
{
    ngx_http_ws_heartbeat_loc_conf_t *prev = parent;
    ngx_http_ws_heartbeat_loc_conf_t *conf = child;

    ngx_conf_merge_value(conf->enable, prev->enable, 0);
    ngx_conf_merge_msec_value(conf->interval, prev->interval, 30000);
    ngx_conf_merge_msec_value(conf->timeout, prev->timeout, 10000);
    ngx_conf_merge_value(conf->upstream, prev->upstream, 0);
    ngx_conf_merge_msec_value(conf->idle_timeout, prev->idle_timeout, 0);
    ngx_conf_merge_ptr_value(conf->tags, prev->tags, NULL);

    /* a max age or an expiry is inherited with its parameters */

    if (conf->max_age == NGX_CONF_UNSET_MSEC) {
        conf->max_age_jitter = prev->max_age_jitter;
        conf->max_age_code = prev->max_age_code;
    }

    ngx_conf_merge_msec_value(conf->max_age, prev->max_age, 0);
    ngx_conf_merge_uint_value(conf->max_age_jitter, prev->max_age_jitter, 10);
    ngx_conf_merge_uint_value(conf->max_age_code, prev->max_age_code,
                              NGX_HTTP_WSHB_CLOSE_GOING_AWAY);

    if (conf->expires == NGX_CONF_UNSET_PTR) {
        conf->expires_code = prev->expires_code;
    }

    ngx_conf_merge_ptr_value(conf->expires, prev->expires, NULL);
    ngx_conf_merge_uint_value(conf->expires_code, prev->expires_code,
                              NGX_HTTP_WSHB_CLOSE_POLICY);

    /* as limit_conn: the limits of a level with none of its own */

    if (conf->limit == NGX_CONF_UNSET_PTR
        && conf->key_limit == NGX_CONF_UNSET_PTR)
    {
        conf->limit = prev->limit;
        conf->key_limit = prev->key_limit;
    }

    if (conf->limit == NGX_CONF_UNSET_PTR) {
        conf->limit = NULL;
    }

    if (conf->key_limit == NGX_CONF_UNSET_PTR) {
        conf->key_limit = NULL;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_ws_heartbeat_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt                *h;
    ngx_http_core_main_conf_t          *cmcf;
    ngx_http_ws_heartbeat_main_conf_t  *wmcf;

    wmcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_ws_heartbeat_module);

    if (wmcf->limits.nelts) {
        if (wmcf->zone == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"ws_heartbeat_max_sessions\" directive requires "
                          "\"ws_heartbeat_zone\" in the http block");
            return NGX_ERROR;
        }

        cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

        h = ngx_array_push(&cmcf->phases[NGX_HTTP_PREACCESS_PHASE].handlers);
        if (h == NULL) {
            return NGX_ERROR;
        }

        *h = ngx_http_ws_heartbeat_limit_handler;

        /* after the access phase: a key may come from auth_request_set */

        h = ngx_array_push(&cmcf->phases[NGX_HTTP_PRECONTENT_PHASE].handlers);
        if (h == NULL) {
            return NGX_ERROR;
        }

        *h = ngx_http_ws_heartbeat_key_handler;
    }

    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_ws_heartbeat_header_filter;

    ngx_http_ws_heartbeat_check_file(cf);

    return NGX_OK;
}


/*
 * At the first load, where this object was mapped from; at each later one
 * (a reload), whether that file is still the same: one that is not (a
 * package upgrade put a new one there) is not what runs
 */

static void
ngx_http_ws_heartbeat_check_file(ngx_conf_t *cf)
{
    Dl_info                        self, core;
    ngx_file_info_t                fi;
    ngx_http_ws_heartbeat_file_t  *f;

    f = &ngx_http_ws_heartbeat_file;

    if (!f->loaded) {
        f->loaded = 1;

        /* linked into nginx itself (--add-module), there is no file */

        if (dladdr((void *) ngx_http_ws_heartbeat_check_file, &self) == 0
            || dladdr((void *) ngx_log_error_core, &core) == 0
            || self.dli_fbase == core.dli_fbase
            || self.dli_fname == NULL
            || ngx_file_info(self.dli_fname, &fi) == NGX_FILE_ERROR)
        {
            return;
        }

        f->path = (u_char *) self.dli_fname;
        f->dev = fi.st_dev;
        f->uniq = ngx_file_uniq(&fi);
        f->size = ngx_file_size(&fi);
        f->mtime = ngx_file_mtime(&fi);

        return;
    }

    if (f->path == NULL) {
        return;
    }

    if (ngx_file_info(f->path, &fi) != NGX_FILE_ERROR
        && fi.st_dev == f->dev
        && ngx_file_uniq(&fi) == f->uniq
        && ngx_file_size(&fi) == f->size
        && ngx_file_mtime(&fi) == f->mtime)
    {
        return;
    }

    ngx_log_error(NGX_LOG_NOTICE, cf->log, 0,
                  "ws_heartbeat: \"%s\" changed on disk, but nginx goes on "
                  "running version " NGX_HTTP_WS_HEARTBEAT_VERSION
                  " of the module loaded from it: a reload cannot load "
                  "the new file, a binary upgrade or a restart can",
                  f->path);
}


/* a zone's sessions may be closed from any worker: they wake each other */

static ngx_int_t
ngx_http_ws_heartbeat_init_module(ngx_cycle_t *cycle)
{
    ngx_http_ws_heartbeat_main_conf_t  *wmcf;

    wmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_ws_heartbeat_module);

    if (wmcf == NULL || wmcf->zone == NULL) {
        return NGX_OK;
    }

    return ngx_http_ws_heartbeat_wake_init(cycle);
}


static ngx_int_t
ngx_http_ws_heartbeat_init_process(ngx_cycle_t *cycle)
{
    return ngx_http_ws_heartbeat_init_worker(cycle);
}


static void
ngx_http_ws_heartbeat_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_ws_heartbeat_exit_worker(cycle);
}
