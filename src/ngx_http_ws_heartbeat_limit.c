
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 *
 * ws_heartbeat_max_sessions: WebSocket upgrade requests beyond the limit
 * get 503 before they reach the upstream.  Counted in the zone, so the
 * limit holds across workers; at 90 % of it, every worker probes its
 * silent sessions at once (see ngx_http_ws_heartbeat_probe()), so that
 * zombies free their slots before anyone is turned away.  A limit per key
 * does the same for each key, after the access phase, and may evict the
 * key's oldest session instead of refusing (..._keys.c).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_ws_heartbeat_session.h"
#include "ngx_http_ws_heartbeat_limit.h"
#include "ngx_http_ws_heartbeat_close.h"
#include "ngx_http_ws_heartbeat_keys.h"
#include "ngx_http_ws_heartbeat_wake.h"


typedef struct {
    ngx_http_ws_heartbeat_zone_t   *zone;
    ngx_uint_t                      index;
} ngx_http_ws_heartbeat_limit_cleanup_t;


static char *ngx_http_ws_heartbeat_key_conf(ngx_conf_t *cf,
    ngx_command_t *cmd, ngx_str_t *param, ngx_http_ws_heartbeat_limit_t *l);
static ngx_uint_t ngx_http_ws_heartbeat_key_spoofable(ngx_str_t *value);
static ngx_int_t ngx_http_ws_heartbeat_refuse(ngx_http_request_t *r,
    ngx_http_ws_heartbeat_loc_conf_t *wlcf);
static void ngx_http_ws_heartbeat_limit_cleanup(void *data);


/*
 * ws_heartbeat_max_sessions number [key=value [uncounted=refuse|admit]]
 *     [evict] [code=code]
 */

char *
ngx_http_ws_heartbeat_max_sessions(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_ws_heartbeat_loc_conf_t *wlcf = conf;

    ngx_int_t                           n;
    ngx_str_t                          *value;
    ngx_uint_t                          i, code;
    ngx_http_core_loc_conf_t           *clcf;
    ngx_http_ws_heartbeat_limit_t     **lp, *l;
    ngx_http_ws_heartbeat_main_conf_t  *wmcf;

    value = cf->args->elts;

    n = ngx_atoi(value[1].data, value[1].len);

    if (n == NGX_ERROR || n == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"%V\" directive, "
                           "it must be a number greater than zero",
                           &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    l = ngx_pcalloc(cf->pool, sizeof(ngx_http_ws_heartbeat_limit_t));
    if (l == NULL) {
        return NGX_CONF_ERROR;
    }

    l->max = n;
    l->code = NGX_HTTP_WSHB_CLOSE_POLICY;
    l->uncounted = NGX_CONF_UNSET_UINT;
    code = 0;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "key=", 4) == 0 && l->key == NULL) {
            if (ngx_http_ws_heartbeat_key_conf(cf, cmd, &value[i], l)
                != NGX_CONF_OK)
            {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strcmp(value[i].data, "evict") == 0 && !l->evict) {
            l->evict = 1;
            continue;
        }

        if (ngx_strncmp(value[i].data, "uncounted=", 10) == 0
            && l->uncounted == NGX_CONF_UNSET_UINT)
        {
            if (ngx_strcmp(value[i].data + 10, "refuse") == 0) {
                l->uncounted = 0;

            } else if (ngx_strcmp(value[i].data + 10, "admit") == 0) {
                l->uncounted = 1;

            } else {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid value \"%V\" in \"%V\" "
                                   "directive, it must be \"uncounted=refuse\" "
                                   "or \"uncounted=admit\"",
                                   &value[i], &cmd->name);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (code
            || ngx_http_ws_heartbeat_close_code_conf(cf, cmd, &value[i],
                                                     &l->code)
               != NGX_CONF_OK)
        {
            if (code) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid parameter \"%V\" in \"%V\" "
                                   "directive", &value[i], &cmd->name);
            }

            return NGX_CONF_ERROR;
        }

        code = 1;
    }

    if (l->evict && l->key == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"evict\" in \"%V\" directive needs \"key=\"",
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (code && !l->evict) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"code=\" in \"%V\" directive needs \"evict\"",
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (l->uncounted != NGX_CONF_UNSET_UINT && l->key == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"uncounted=\" in \"%V\" directive needs "
                           "\"key=\"", &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (l->uncounted == NGX_CONF_UNSET_UINT) {
        l->uncounted = 0;
    }

    /* whoever can choose the key of an eviction can evict anyone */

    if (l->evict && ngx_http_ws_heartbeat_key_spoofable(&l->key->value)) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "\"%V\" directive: the key \"%V\" of \"evict\" "
                           "is made only of what the client sends (request "
                           "headers, arguments, cookies), so any client can "
                           "evict anyone's sessions; use an authenticated "
                           "identity", &cmd->name, &l->key->value);
    }

    /* a level has at most one limit of all its sessions, and one per key */

    lp = l->key ? &wlcf->key_limit : &wlcf->limit;

    if (*lp != NGX_CONF_UNSET_PTR) {
        if (l->key) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%V\" directive with \"key=\" is "
                               "duplicate", &cmd->name);
            return NGX_CONF_ERROR;
        }

        return "is duplicate";
    }

    *lp = l;

    wmcf = ngx_http_ws_heartbeat_conf_get_main_conf(cf);

    if (wmcf->limits.nelts == NGX_HTTP_WSHB_MAX_LIMITS) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "too many \"%V\" directives, at most %d",
                           &cmd->name, NGX_HTTP_WSHB_MAX_LIMITS);
        return NGX_CONF_ERROR;
    }

    /* where it is: the server's names are known once the block is read */

    if (cf->cmd_type & NGX_HTTP_LOC_CONF) {
        clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
        l->location = clcf->name;
    }

    if (cf->cmd_type & (NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF)) {
        l->server = ngx_http_conf_get_module_srv_conf(cf,
                                                      ngx_http_core_module);
    }

    lp = ngx_array_push(&wmcf->limits);
    if (lp == NULL) {
        return NGX_CONF_ERROR;
    }

    *lp = l;

    return NGX_CONF_OK;
}


/* key=value: a complex value, evaluated as a session asks to start */

static char *
ngx_http_ws_heartbeat_key_conf(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_str_t *param, ngx_http_ws_heartbeat_limit_t *l)
{
    ngx_str_t                          v;
    ngx_http_compile_complex_value_t   ccv;

    v.data = param->data + 4;
    v.len = param->len - 4;

    if (v.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "empty key in \"%V\" directive", &cmd->name);
        return NGX_CONF_ERROR;
    }

    l->key = ngx_palloc(cf->pool, sizeof(ngx_http_complex_value_t));
    if (l->key == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = &v;
    ccv.complex_value = l->key;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * A key whose variables all come from the request as the client sent it:
 * its headers ($http_*), arguments ($arg_*, $args, $query_string,
 * $request_uri) or cookies ($cookie_*).  Text around them changes nothing.
 */

static ngx_uint_t
ngx_http_ws_heartbeat_key_spoofable(ngx_str_t *value)
{
    u_char      *p, *end, *name;
    size_t       len;
    ngx_uint_t   n;

    p = value->data;
    end = p + value->len;
    n = 0;

    while (p < end) {
        if (*p++ != '$') {
            continue;
        }

        if (p < end && *p == '{') {
            name = ++p;

            while (p < end && *p != '}') {
                p++;
            }

            len = p - name;

        } else {
            name = p;

            while (p < end
                   && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
                       || (*p >= '0' && *p <= '9') || *p == '_'))
            {
                p++;
            }

            len = p - name;
        }

        if (len == 0) {
            continue;
        }

        n++;

        if ((len > 5 && ngx_strncmp(name, "http_", 5) == 0)
            || (len > 4 && ngx_strncmp(name, "arg_", 4) == 0)
            || (len > 7 && ngx_strncmp(name, "cookie_", 7) == 0)
            || (len == 4 && ngx_strncmp(name, "args", 4) == 0)
            || (len == 12 && ngx_strncmp(name, "query_string", 12) == 0)
            || (len == 11 && ngx_strncmp(name, "request_uri", 11) == 0))
        {
            continue;
        }

        return 0;
    }

    return n > 0;
}


/*
 * Each limit's id: a CRC of its server's first name, its location and its
 * key, and which of the limits with that CRC it is, in the order of the
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
            l->server_name = sn[0].name;
        }

        ngx_crc32_update(&crc, l->server_name.data, l->server_name.len);

        ngx_crc32_update(&crc, (u_char *) "", 1);
        ngx_crc32_update(&crc, l->location.data, l->location.len);

        if (l->key) {
            ngx_crc32_update(&crc, (u_char *) "", 1);
            ngx_crc32_update(&crc, l->key->value.data, l->key->value.len);
        }

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
    ngx_atomic_t                           *count;
    ngx_atomic_uint_t                       n;
    ngx_pool_cleanup_t                     *cln;
    ngx_http_ws_heartbeat_limit_t          *limit;
    ngx_http_ws_heartbeat_loc_conf_t       *wlcf;
    ngx_http_ws_heartbeat_main_conf_t      *wmcf;
    ngx_http_ws_heartbeat_limit_cleanup_t  *lc;

    if (r != r->main) {
        return NGX_DECLINED;
    }

    wlcf = ngx_http_ws_heartbeat_get_loc_conf(r);
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

    wmcf = ngx_http_ws_heartbeat_get_main_conf(r);
    count = &wmcf->zone->sh->limits[limit->index];

    for ( ;; ) {
        n = *count;

        if (n >= limit->max) {
            (void) ngx_atomic_fetch_add(&wmcf->zone->sh->totals.rejected, 1);
            (void) ngx_atomic_fetch_add(
                          &wmcf->zone->sh->limit_rejected[limit->index], 1);

            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "ws_heartbeat: limit of %ui sessions reached, "
                          "upgrade refused", limit->max);

            ngx_http_ws_heartbeat_probe(limit, 0);

            return ngx_http_ws_heartbeat_refuse(r, wlcf);
        }

        if (ngx_atomic_cmp_set(count, n, n + 1)) {
            break;
        }
    }

    if (ngx_http_ws_heartbeat_under_pressure(wmcf->zone, limit->index,
                                             limit->max))
    {
        ngx_http_ws_heartbeat_probe(limit, 0);
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


/*
 * A limit per key: the key is evaluated once the access phase has run,
 * so that it may come from auth_request_set; an empty one is not limited
 */

ngx_int_t
ngx_http_ws_heartbeat_key_handler(ngx_http_request_t *r)
{
    ngx_str_t                             key;
    ngx_uint_t                            rc;
    ngx_pool_cleanup_t                   *cln;
    ngx_http_ws_heartbeat_zone_t         *zone;
    ngx_http_ws_heartbeat_limit_t        *limit;
    ngx_http_ws_heartbeat_record_t        victim;
    ngx_http_ws_heartbeat_loc_conf_t     *wlcf;
    ngx_http_ws_heartbeat_main_conf_t    *wmcf;
    ngx_http_ws_heartbeat_key_cleanup_t  *kc;

    if (r != r->main) {
        return NGX_DECLINED;
    }

    wlcf = ngx_http_ws_heartbeat_get_loc_conf(r);
    limit = wlcf->key_limit;

    if (limit == NULL || !wlcf->enable
        || !ngx_http_ws_heartbeat_is_websocket(r))
    {
        return NGX_DECLINED;
    }

    for (cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_ws_heartbeat_key_cleanup) {
            return NGX_DECLINED;
        }
    }

    if (ngx_http_complex_value(r, limit->key, &key) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (key.len == 0) {
        return NGX_DECLINED;
    }

    if (key.len > NGX_HTTP_WSHB_LIMIT_KEY_LEN) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "ws_heartbeat: the key \"%V\" is more than %d bytes "
                      "long", &limit->key->value, NGX_HTTP_WSHB_LIMIT_KEY_LEN);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln = ngx_pool_cleanup_add(r->pool,
                               sizeof(ngx_http_ws_heartbeat_key_cleanup_t));
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    wmcf = ngx_http_ws_heartbeat_get_main_conf(r);
    zone = wmcf->zone;

    kc = cln->data;
    kc->zone = zone;

    rc = ngx_http_ws_heartbeat_key_admit(zone, limit->index, limit->max,
                                         limit->evict, limit->code,
                                         limit->uncounted, &key,
                                         r->connection->log, &kc->key,
                                         &victim);

    switch (rc) {

    case NGX_HTTP_WSHB_KEY_UNKEYED:
        if (limit->uncounted) {
            return NGX_DECLINED;
        }

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "ws_heartbeat: no room to count a session per \"%V\", "
                      "upgrade refused", &limit->key->value);

        return ngx_http_ws_heartbeat_refuse(r, wlcf);

    case NGX_HTTP_WSHB_KEY_REFUSED:
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "ws_heartbeat: limit of %ui sessions per \"%V\" "
                      "reached, upgrade refused", limit->max,
                      &limit->key->value);

        /* the key's zombies here now, the other workers' within a second */

        ngx_http_ws_heartbeat_probe(limit, kc->key);

        return ngx_http_ws_heartbeat_refuse(r, wlcf);

    case NGX_HTTP_WSHB_KEY_EVICTED:
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "ws_heartbeat: limit of %ui sessions per \"%V\" "
                      "reached, session " NGX_HTTP_WSHB_ID_FMT " evicted",
                      limit->max, &limit->key->value,
                      NGX_HTTP_WSHB_RECORD_ID(&victim));

        ngx_http_ws_heartbeat_wake_others();
        ngx_http_ws_heartbeat_close_marked();
        break;

    default:
        if (ngx_http_ws_heartbeat_key_pressure(zone, kc->key, limit->max)) {
            ngx_http_ws_heartbeat_probe(limit, kc->key);
        }
    }

    cln->handler = ngx_http_ws_heartbeat_key_cleanup;

    return NGX_DECLINED;
}


/* 503 with Retry-After: zombies are found within a timeout under pressure */

static ngx_int_t
ngx_http_ws_heartbeat_refuse(ngx_http_request_t *r,
    ngx_http_ws_heartbeat_loc_conf_t *wlcf)
{
    ngx_uint_t        retry;
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    retry = (wlcf->timeout + 999) / 1000 + 1;

    h->hash = 1;
    ngx_str_set(&h->key, "Retry-After");
    h->value.data = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (h->value.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->value.len = ngx_sprintf(h->value.data, "%ui", retry) - h->value.data;

    return NGX_HTTP_SERVICE_UNAVAILABLE;
}
