
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 *
 * A DELETE marks the sessions its filters match, in the zone, with the
 * close frame to send; the worker of each one sends it (see
 * ngx_http_ws_heartbeat_close_marked()), woken through its pipe.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_ws_heartbeat_admin.h"
#include "ngx_http_ws_heartbeat_filter.h"
#include "ngx_http_ws_heartbeat_command.h"
#include "ngx_http_ws_heartbeat_out.h"
#include "ngx_http_ws_heartbeat_wake.h"


#define NGX_HTTP_WSHB_DEFAULT_REASON  "closed by operator"


static ngx_int_t ngx_http_ws_heartbeat_delete_allowed(ngx_http_request_t *r,
    ngx_http_ws_heartbeat_query_t *q, ngx_http_ws_heartbeat_token_t *token);
static ngx_int_t ngx_http_ws_heartbeat_mark(ngx_http_ws_heartbeat_zone_t *zone,
    ngx_http_ws_heartbeat_query_t *q, u_char *ids, ngx_uint_t *unjudged);
static ngx_int_t ngx_http_ws_heartbeat_delete_busy(ngx_http_request_t *r,
    ngx_http_ws_heartbeat_token_t *token);
static ngx_int_t ngx_http_ws_heartbeat_delete_answer(ngx_http_request_t *r,
    ngx_uint_t n, ngx_uint_t unjudged, u_char *ids);


ngx_int_t
ngx_http_ws_heartbeat_delete(ngx_http_request_t *r,
    ngx_http_ws_heartbeat_query_t *q, ngx_http_ws_heartbeat_token_t *token)
{
    u_char                             *ids;
    ngx_int_t                           rc, n;
    ngx_uint_t                          unjudged;
    ngx_http_ws_heartbeat_main_conf_t  *wmcf;

    rc = ngx_http_ws_heartbeat_delete_allowed(r, q, token);

    if (rc != NGX_DECLINED) {
        return rc;
    }

    ids = ngx_pnalloc(r->pool,
                      NGX_HTTP_WSHB_DELETE_IDS * NGX_HTTP_WSHB_ID_LEN);
    if (ids == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    wmcf = ngx_http_ws_heartbeat_get_main_conf(r);

    n = ngx_http_ws_heartbeat_mark(wmcf->zone, q, ids, &unjudged);

    if (n == NGX_BUSY) {
        return ngx_http_ws_heartbeat_delete_busy(r, token);
    }

    ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                  "ws_heartbeat: client %V, token \"%V\": DELETE \"%V\" "
                  "closes %i sessions, %ui not judged",
                  &r->connection->addr_text, &token->name, &r->args, n,
                  unjudged);

    if (n) {
        ngx_http_ws_heartbeat_wake_others();
        ngx_http_ws_heartbeat_close_marked();
    }

    return ngx_http_ws_heartbeat_delete_answer(r, (ngx_uint_t) n, unjudged,
                                               ids);
}


/*
 * An admin token, and a filter or all=1: NGX_DECLINED, or the answer that
 * says what is missing (ws_heartbeat_status requires the zone)
 */

static ngx_int_t
ngx_http_ws_heartbeat_delete_allowed(ngx_http_request_t *r,
    ngx_http_ws_heartbeat_query_t *q, ngx_http_ws_heartbeat_token_t *token)
{
    ngx_str_t  error;

    if (token == NULL || !token->admin) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "ws_heartbeat: DELETE without an admin token");

        ngx_str_set(&error, "closing sessions needs a "
                            "ws_heartbeat_status_token with \"admin\"");
        return ngx_http_ws_heartbeat_status_error(r, NGX_HTTP_FORBIDDEN,
                                                  &error);
    }

    if (q->filters == 0 && !q->all) {
        ngx_str_set(&error, "DELETE needs a filter, or all=1 to close "
                            "every session");
        return ngx_http_ws_heartbeat_status_error(r, NGX_HTTP_BAD_REQUEST,
                                                  &error);
    }

    return NGX_DECLINED;
}


/*
 * Under the mutex: the close frame in a slot, and every matching session
 * marked with it; the first ids copied.  The count of matches, or
 * NGX_BUSY, with nothing marked, if they need a slot and none is free;
 * in unjudged, the count of the open sessions the filters cannot judge.
 *
 * A slot is held as long as a live record is marked with it, so the
 * owner of a session always finds the frame of the DELETE that marked it
 * last, however late it acts (an old worker of a reload acts at its
 * watch).  A DELETE takes the slot that holds the same frame, or a slot
 * that no record holds.
 */

static ngx_int_t
ngx_http_ws_heartbeat_mark(ngx_http_ws_heartbeat_zone_t *zone,
    ngx_http_ws_heartbeat_query_t *q, u_char *ids, ngx_uint_t *unjudged)
{
    size_t                            len;
    uint32_t                          i, k, slot, held;
    uint64_t                          now;
    ngx_uint_t                        n, code;
    ngx_time_t                       *tp;
    const u_char                     *text;
    ngx_http_ws_heartbeat_shctx_t    *sh;
    ngx_http_ws_heartbeat_record_t   *rec;
    ngx_http_ws_heartbeat_command_t  *cmd;

    sh = zone->sh;
    n = 0;

    tp = ngx_timeofday();
    now = (uint64_t) tp->sec * 1000 + tp->msec;

    code = q->code ? q->code : NGX_HTTP_WSHB_CLOSE_GOING_AWAY;

    if (q->reason_set) {
        text = q->reason.data;
        len = q->reason.len;

    } else {
        text = (const u_char *) NGX_HTTP_WSHB_DEFAULT_REASON;
        len = sizeof(NGX_HTTP_WSHB_DEFAULT_REASON) - 1;
    }

    ngx_shmtx_lock(&zone->shpool->mutex);

    ngx_http_ws_heartbeat_zone_reap_locked(zone);

    held = 0;

    for (i = 0; i < sh->nrecords; i++) {
        k = sh->records[i].command;

        if (k && !(k & NGX_HTTP_WSHB_EVICT)
            && sh->records[i].state != NGX_HTTP_WSHB_STATE_FREE)
        {
            held |= 1 << ((k - 1) % NGX_HTTP_WSHB_COMMANDS);
        }
    }

    slot = NGX_HTTP_WSHB_COMMANDS;

    for (k = 0; k < NGX_HTTP_WSHB_COMMANDS; k++) {
        cmd = &sh->commands[k];

        if (cmd->code == code && cmd->len == len
            && ngx_memcmp(cmd->text, text, len) == 0)
        {
            slot = k;
            break;
        }

        if (slot == NGX_HTTP_WSHB_COMMANDS && !(held & (1 << k))) {
            slot = k;
        }
    }

    if (slot < NGX_HTTP_WSHB_COMMANDS) {
        cmd = &sh->commands[slot];
        cmd->code = (uint16_t) code;
        cmd->len = (u_char) len;
        ngx_memcpy(cmd->text, text, len);
    }

    for (i = 0; i < sh->nrecords; i++) {
        rec = &sh->records[i];

        if (rec->state == NGX_HTTP_WSHB_STATE_FREE
            || !ngx_http_ws_heartbeat_match_locked(zone, rec, q, now))
        {
            continue;
        }

        if (slot == NGX_HTTP_WSHB_COMMANDS) {

            /* all held: the match alone says whether a slot was needed */

            ngx_shmtx_unlock(&zone->shpool->mutex);
            return NGX_BUSY;
        }

        rec->command = (u_char) (slot + 1);

        if (n < NGX_HTTP_WSHB_DELETE_IDS) {
            (void) ngx_sprintf(ids + n * NGX_HTTP_WSHB_ID_LEN,
                               NGX_HTTP_WSHB_ID_FMT,
                               NGX_HTTP_WSHB_RECORD_ID(rec));
        }

        n++;
    }

    if (n) {
        sh->commanded++;
    }

    *unjudged = ngx_http_ws_heartbeat_unjudged_locked(zone, q);

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return n;
}


/*
 * 503: every slot holds the frame of an earlier DELETE whose sessions
 * their workers have not closed yet, which they do within a second
 */

static ngx_int_t
ngx_http_ws_heartbeat_delete_busy(ngx_http_request_t *r,
    ngx_http_ws_heartbeat_token_t *token)
{
    ngx_str_t         error;
    ngx_table_elt_t  *h;

    ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                  "ws_heartbeat: client %V, token \"%V\": DELETE \"%V\" "
                  "refused, %d other close frames are pending",
                  &r->connection->addr_text, &token->name, &r->args,
                  NGX_HTTP_WSHB_COMMANDS);

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Retry-After");
    ngx_str_set(&h->value, "1");

    ngx_str_set(&error, "too many DELETEs with other close frames are "
                        "pending, try again in a second");

    return ngx_http_ws_heartbeat_status_error(r,
                                              NGX_HTTP_SERVICE_UNAVAILABLE,
                                              &error);
}


/* {"closed":N,"unjudged":N,"ids":["...",...]} */

static ngx_int_t
ngx_http_ws_heartbeat_delete_answer(ngx_http_request_t *r, ngx_uint_t n,
    ngx_uint_t unjudged, u_char *ids)
{
    u_char      *p;
    ngx_buf_t   *b;
    ngx_uint_t   i, listed;

    listed = ngx_min(n, NGX_HTTP_WSHB_DELETE_IDS);

    b = ngx_create_temp_buf(r->pool, sizeof("{\"closed\":,\"unjudged\":,"
                                            "\"ids\":[]}\n")
                                     + 2 * NGX_INT_T_LEN
                                     + listed * (NGX_HTTP_WSHB_ID_LEN + 3));
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_sprintf(b->last, "{\"closed\":%ui,\"unjudged\":%ui,\"ids\":[",
                    n, unjudged);

    for (i = 0; i < listed; i++) {
        p = ngx_sprintf(p, "%s\"%*s\"", i ? "," : "",
                        (size_t) NGX_HTTP_WSHB_ID_LEN,
                        ids + i * NGX_HTTP_WSHB_ID_LEN);
    }

    b->last = ngx_cpymem(p, "]}\n", 3);

    return ngx_http_ws_heartbeat_status_send(r, NGX_HTTP_OK,
                                             "application/json", b);
}
