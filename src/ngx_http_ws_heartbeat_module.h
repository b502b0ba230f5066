
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 */


#ifndef _NGX_HTTP_WS_HEARTBEAT_MODULE_H_INCLUDED_
#define _NGX_HTTP_WS_HEARTBEAT_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_ws_heartbeat_frame.h"
#include "ngx_http_ws_heartbeat_http.h"
#include "ngx_http_ws_heartbeat_zone.h"


/* a build may report another: make -f Makefile.dev WSHB_VERSION=... */
#ifndef NGX_HTTP_WS_HEARTBEAT_VERSION
#define NGX_HTTP_WS_HEARTBEAT_VERSION     "0.1.0"
#endif


/*
 * A ws_heartbeat_max_sessions limit, of all its sessions or, with a key,
 * of each key's.  Its counter in the zone is found by its id, which a
 * reload keeps as long as the limit stays in the same place (its server's
 * first name, its location and its key), whatever the order of the
 * directives.
 */

typedef struct {
    ngx_uint_t                        max;
    ngx_uint_t                        index;      /* its counter */
    uint32_t                          id;
    ngx_str_t                         location;   /* "" at server level */
    ngx_str_t                         server_name;    /* its first, or "" */
    ngx_http_core_srv_conf_t         *server;     /* NULL at http level; its
                                                     names go with the
                                                     configuration's
                                                     temporary pool */
    ngx_http_complex_value_t         *key;        /* NULL: all sessions */
    ngx_uint_t                        evict;      /* the oldest, at max */
    ngx_uint_t                        code;       /* of an eviction */
    ngx_uint_t                        uncounted;  /* admit what a limit per
                                                     key cannot count */
} ngx_http_ws_heartbeat_limit_t;


/*
 * Where a limit is, as the status shows it: its server's first name, its
 * location and its key, each "" if none, cut at 256 bytes
 */

static ngx_inline void
ngx_http_ws_heartbeat_limit_where(ngx_http_ws_heartbeat_limit_t *l,
    ngx_str_t *server, ngx_str_t *location, ngx_str_t *key)
{
    *server = l->server_name;
    ngx_str_null(key);

    if (l->key) {
        *key = l->key->value;
    }

    *location = l->location;

    server->len = ngx_min(server->len, 256);
    location->len = ngx_min(location->len, 256);
    key->len = ngx_min(key->len, 256);
}


/* a ws_heartbeat_tag: evaluated once per session, as it starts */

typedef struct {
    ngx_str_t                         name;
    ngx_http_complex_value_t          value;
    ngx_uint_t                        metrics;    /* counted in Prometheus */
} ngx_http_ws_heartbeat_tag_t;




typedef struct {
    ngx_flag_t                        enable;
    ngx_msec_t                        interval;
    ngx_msec_t                        timeout;
    ngx_flag_t                        upstream;
    ngx_msec_t                        idle_timeout;
    ngx_array_t                      *tags;       /* of ..._tag_t */
    ngx_msec_t                        max_age;
    ngx_uint_t                        max_age_jitter;   /* percent */
    ngx_uint_t                        max_age_code;
    ngx_http_complex_value_t         *expires;
    ngx_uint_t                        expires_code;
    ngx_http_ws_heartbeat_limit_t    *limit;
    ngx_http_ws_heartbeat_limit_t    *key_limit;
} ngx_http_ws_heartbeat_loc_conf_t;


typedef struct {
    ngx_msec_t                        drain;
    ngx_http_ws_heartbeat_zone_t     *zone;
    ngx_array_t                       limits;     /* of ..._limit_t * */
    ngx_uint_t                        ring;       /* deltas kept */
    size_t                            tags_room;  /* a level's longest */
} ngx_http_ws_heartbeat_main_conf_t;


/*
 * Named only in ngx_http_ws_heartbeat_module.c (the files below reach its
 * slot through ngx_http_ws_heartbeat_worker); nginx reaches it through
 * ngx_modules[], never by its name, so it stays out of the dynamic symbol
 * table.
 */
#if (__GNUC__ >= 4)
extern ngx_module_t  ngx_http_ws_heartbeat_module
    __attribute__((visibility("hidden")));
#else
extern ngx_module_t  ngx_http_ws_heartbeat_module;
#endif


#endif /* _NGX_HTTP_WS_HEARTBEAT_MODULE_H_INCLUDED_ */
