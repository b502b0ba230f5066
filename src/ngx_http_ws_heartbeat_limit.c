
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 *
 * ws_heartbeat_max_sessions: WebSocket upgrade requests beyond the limit
 * get 503 before they reach the upstream.  Counted in the zone, so the
 * limit holds across workers; at 90 % of it, every worker probes its
 * silent sessions at once (see ngx_http_ws_heartbeat_probe()), so that
 * zombies free their slots before anyone is turned away.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_ws_heartbeat_session.h"


typedef struct {
    ngx_http_ws_heartbeat_zone_t   *zone;
    ngx_uint_t                      index;
} ngx_http_ws_heartbeat_limit_cleanup_t;


static void ngx_http_ws_heartbeat_limit_cleanup(void *data);


char *
ngx_http_ws_heartbeat_max_sessions(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_ws_heartbeat_loc_conf_t *wlcf = conf;

    ngx_int_t                           n;
    ngx_str_t                          *value;
    ngx_http_core_loc_conf_t           *clcf;
    ngx_http_ws_heartbeat_limit_t     **lp;
    ngx_http_ws_heartbeat_main_conf_t  *wmcf;

    if (wlcf->limit != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    n = ngx_atoi(value[1].data, value[1].len);

    if (n == NGX_ERROR || n == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"%V\" directive, "
                           "it must be a number greater than zero",
                           &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    wmcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_ws_heartbeat_module);

    if (wmcf->limits.nelts == NGX_HTTP_WSHB_MAX_LIMITS) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "too many \"%V\" directives, at most %d",
                           &cmd->name, NGX_HTTP_WSHB_MAX_LIMITS);
        return NGX_CONF_ERROR;
    }

    wlcf->limit = ngx_pcalloc(cf->pool, sizeof(ngx_http_ws_heartbeat_limit_t));
    if (wlcf->limit == NULL) {
        return NGX_CONF_ERROR;
    }

    wlcf->limit->max = n;

    /* where it is: the server's names are known once the block is read */

    if (cf->cmd_type & NGX_HTTP_LOC_CONF) {
        clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
        wlcf->limit->location = clcf->name;
    }

    if (cf->cmd_type & (NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF)) {
        wlcf->limit->server = ngx_http_conf_get_module_srv_conf(cf,
                                                      ngx_http_core_module);
    }

    lp = ngx_array_push(&wmcf->limits);
    if (lp == NULL) {
        return NGX_CONF_ERROR;
    }

    *lp = wlcf->limit;

    return NGX_CONF_OK;
}


/*
 * Each limit's id: a CRC of its server's first name and its location, and
 * which of the limits with that CRC it is, in the order of the
 * configuration.  Called once the http block is read.
 */

void
ngx_http_ws_heartbeat_limit_ids(ngx_array_t *limits)
{
    uint32_t                        crc;
    ngx_uint_t                      i, j;
    ngx_http_server_name_t         *sn;
    ngx_http_ws_heartbeat_limit_t **lp, *l;

    lp = limits->elts;

    for (i = 0; i < limits->nelts; i++) {
        l = lp[i];

        ngx_crc32_init(crc);

        if (l->server && l->server->server_names.nelts) {
            sn = l->server->server_names.elts;
            ngx_crc32_update(&crc, sn[0].name.data, sn[0].name.len);
        }

        ngx_crc32_update(&crc, (u_char *) "", 1);
        ngx_crc32_update(&crc, l->location.data, l->location.len);
        ngx_crc32_final(crc);

        /* 0 marks a counter that no limit has */

        l->id = crc ? crc : 1;

        /* the same place twice: the later one takes the next id free */

        for (j = 0; j < i; /* void */) {
            if (lp[j]->id != l->id) {
                j++;
                continue;
            }

            if (++l->id == 0) {
                l->id = 1;
            }

            j = 0;
        }
    }
}


ngx_int_t
ngx_http_ws_heartbeat_limit_handler(ngx_http_request_t *r)
{
    ngx_uint_t                              retry;
    ngx_atomic_t                           *count;
    ngx_atomic_uint_t                       n;
    ngx_pool_cleanup_t                     *cln;
    ngx_table_elt_t                        *h;
    ngx_http_ws_heartbeat_limit_t          *limit;
    ngx_http_ws_heartbeat_loc_conf_t       *wlcf;
    ngx_http_ws_heartbeat_main_conf_t      *wmcf;
    ngx_http_ws_heartbeat_limit_cleanup_t  *lc;

    if (r != r->main) {
        return NGX_DECLINED;
    }

    wlcf = ngx_http_get_module_loc_conf(r, ngx_http_ws_heartbeat_module);
    limit = wlcf->limit;

    if (limit == NULL || !wlcf->enable
        || !ngx_http_ws_heartbeat_is_websocket(r))
    {
        return NGX_DECLINED;
    }

    /* once per request, even after internal redirects */

    for (cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_ws_heartbeat_limit_cleanup) {
            return NGX_DECLINED;
        }
    }

    wmcf = ngx_http_get_module_main_conf(r, ngx_http_ws_heartbeat_module);
    count = &wmcf->zone->sh->limits[limit->index];

    for ( ;; ) {
        n = *count;

        if (n >= limit->max) {
            (void) ngx_atomic_fetch_add(&wmcf->zone->sh->totals.rejected, 1);

            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "ws_heartbeat: limit of %ui sessions reached, "
                          "upgrade refused", limit->max);

            ngx_http_ws_heartbeat_probe(limit);

            h = ngx_list_push(&r->headers_out.headers);
            if (h == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            /* zombies are found within a timeout under pressure */

            retry = (wlcf->timeout + 999) / 1000 + 1;

            h->hash = 1;
            ngx_str_set(&h->key, "Retry-After");
            h->value.data = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
            if (h->value.data == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            h->value.len = ngx_sprintf(h->value.data, "%ui", retry)
                           - h->value.data;

            return NGX_HTTP_SERVICE_UNAVAILABLE;
        }

        if (ngx_atomic_cmp_set(count, n, n + 1)) {
            break;
        }
    }

    if (ngx_http_ws_heartbeat_under_pressure(wmcf->zone, limit->index,
                                             limit->max))
    {
        ngx_http_ws_heartbeat_probe(limit);
    }

    cln = ngx_pool_cleanup_add(r->pool,
                               sizeof(ngx_http_ws_heartbeat_limit_cleanup_t));
    if (cln == NULL) {
        (void) ngx_atomic_fetch_add(count, (ngx_atomic_int_t) -1);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    lc = cln->data;
    lc->zone = wmcf->zone;
    lc->index = limit->index;
    cln->handler = ngx_http_ws_heartbeat_limit_cleanup;

    return NGX_DECLINED;
}


static void
ngx_http_ws_heartbeat_limit_cleanup(void *data)
{
    ngx_http_ws_heartbeat_limit_cleanup_t  *lc = data;

    (void) ngx_atomic_fetch_add(&lc->zone->sh->limits[lc->index],
                                (ngx_atomic_int_t) -1);
}
