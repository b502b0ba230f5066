
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 *
 * Every way a session ends that the module has a part in: its own closes
 * (a zombie, an idle session, a drain), with a close frame to each side
 * still alive and a short wait for the answer; a peer whose stream ends
 * without a close frame; a stream that stops parsing (passed through from
 * then on); and the reason each of them leaves.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_ws_heartbeat_session.h"
#include "ngx_http_ws_heartbeat_buffers.h"
#include "ngx_http_ws_heartbeat_close.h"


#define NGX_HTTP_WSHB_CLOSE_WAIT      1000


static void ngx_http_ws_heartbeat_send_close(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_uint_t i, ngx_uint_t code, u_char *text, size_t len);
static void ngx_http_ws_heartbeat_pass(ngx_http_ws_heartbeat_ctx_t *ctx);
static void ngx_http_ws_heartbeat_command(ngx_http_ws_heartbeat_ctx_t *ctx,
    void *data);


/* the reason in the close frames of ours, by close reason */

/* the DELETEs this worker has acted on: the zone's count of them */
static ngx_atomic_uint_t  ngx_http_ws_heartbeat_commanded;


static char  *ngx_http_ws_heartbeat_close_text[] = {
    "",
    "client closed",
    "upstream closed",
    "client heartbeat timeout",
    "upstream heartbeat timeout",
    "idle timeout",
    "server shutting down",
    "",
    "",
    "",
    "closed by operator",
    "max age",
    "expired"
};


/*
 * Ends the session: a close frame to each side named, and nothing more
 * either way.  A peer that got one may answer with its own for up to
 * NGX_HTTP_WSHB_CLOSE_WAIT ms (browsers then call the close clean), then
 * ngx_http_ws_heartbeat_finish() lets nginx end the request.
 */

void
ngx_http_ws_heartbeat_close(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_uint_t reason, ngx_uint_t to)
{
    char  *text;

    text = ngx_http_ws_heartbeat_close_text[reason];

    ngx_http_ws_heartbeat_close_coded(ctx, reason,
                                      NGX_HTTP_WSHB_CLOSE_GOING_AWAY,
                                      (u_char *) text, ngx_strlen(text), to);
}


/* the same, with the close frames' code and reason given */

void
ngx_http_ws_heartbeat_close_coded(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_uint_t reason, ngx_uint_t code, u_char *text, size_t len,
    ngx_uint_t to)
{
    if (ctx->closing) {
        return;
    }

    ctx->closing = 1;

    if (ctx->reason == NGX_HTTP_WSHB_REASON_NONE) {
        ctx->reason = reason;
    }

    ngx_http_ws_heartbeat_timer_del(&ctx->timer);

    ngx_http_ws_heartbeat_publish(ctx, NGX_HTTP_WSHB_STATE_CLOSING);

    if (to & NGX_HTTP_WSHB_TO_CLIENT) {
        ngx_http_ws_heartbeat_send_close(ctx, NGX_HTTP_WSHB_CLIENT, code,
                                         text, len);
    }

    if (to & NGX_HTTP_WSHB_TO_UPSTREAM) {
        ngx_http_ws_heartbeat_send_close(ctx, NGX_HTTP_WSHB_UPSTREAM, code,
                                         text, len);
    }

    ngx_http_ws_heartbeat_divert(ctx);

    if (ctx->peer[NGX_HTTP_WSHB_CLIENT].answer
        || ctx->peer[NGX_HTTP_WSHB_UPSTREAM].answer)
    {
        ngx_http_ws_heartbeat_timer_add(&ctx->timer, NGX_HTTP_WSHB_CLOSE_WAIT);
        return;
    }

    ngx_http_ws_heartbeat_finish(ctx);
}


/*
 * nginx's upgraded-connection code ends the request from a posted event,
 * as after an end of stream on both sides
 */

void
ngx_http_ws_heartbeat_finish(ngx_http_ws_heartbeat_ctx_t *ctx)
{
    ngx_connection_t  *c, *uc;

    ngx_http_ws_heartbeat_timer_del(&ctx->timer);

    c = ctx->client;
    uc = ngx_http_ws_heartbeat_connection(ctx, NGX_HTTP_WSHB_UPSTREAM);

    c->read->eof = 1;
    uc->read->eof = 1;

    ngx_post_event(c->write, &ngx_posted_events);
}


static void
ngx_http_ws_heartbeat_send_close(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_uint_t i, ngx_uint_t code, u_char *text, size_t len)
{
    uint32_t   rnd;
    u_char     frame[NGX_HTTP_WSHB_CLOSE_MAX];

    if (i == NGX_HTTP_WSHB_CLIENT) {
        len = ngx_http_ws_heartbeat_build_close(frame, code, (char *) text,
                                                len, NULL);

    } else {
        rnd = ngx_http_ws_heartbeat_random32();
        len = ngx_http_ws_heartbeat_build_close(frame, code, (char *) text,
                                                len, (u_char *) &rnd);
    }

    if (ngx_http_ws_heartbeat_append(ctx, i, frame, len) != NGX_OK) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_http_ws_heartbeat_log(ctx), 0,
                       "ws_heartbeat: no close frame to %s, mid-frame",
                       ngx_http_ws_heartbeat_peers[i]);
        return;
    }

    /* nginx's write handler sends it, as it does any other byte */

    ctx->peer[i].answer = 1;

    ngx_post_event(ngx_http_ws_heartbeat_connection(ctx, i)->write,
                   &ngx_posted_events);
}


/*
 * Peer i's stream ended (n is 0 or NGX_ERROR).  Without a close frame
 * first, and with the stream toward the other peer at a frame boundary,
 * the other peer gets a close frame 1001 saying so, and may answer before
 * nginx closes: nginx learns of the end (the event's eof) only when
 * ngx_http_ws_heartbeat_finish() says so.  That needs edge-triggered
 * events, with which a socket at its end raises no further ones.
 */

ssize_t
ngx_http_ws_heartbeat_ended(ngx_http_ws_heartbeat_ctx_t *ctx, ngx_uint_t i,
    ssize_t n)
{
    ngx_connection_t  *c;

    if (ctx->reason == NGX_HTTP_WSHB_REASON_NONE) {
        ctx->reason = (n == NGX_ERROR) ? NGX_HTTP_WSHB_ERROR
                                       : NGX_HTTP_WSHB_CLIENT_CLOSE + i;
    }

    if (ctx->passthrough || ctx->closing || ctx->close_seen || ctx->cut
        || ctx->peer[i].parser.slen
        || !ngx_http_ws_heartbeat_at_boundary(&ctx->peer[i].parser)
        || !(ngx_event_flags & NGX_USE_CLEAR_EVENT))
    {
        return n;
    }

    c = ngx_http_ws_heartbeat_connection(ctx, i);

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "ws_heartbeat: %s stream ended without a close frame, "
                   "session " NGX_HTTP_WSHB_ID_FMT,
                   ngx_http_ws_heartbeat_peers[i],
                   (uint32_t) ngx_http_ws_heartbeat_worker.start, ngx_pid,
                   ctx->counter);

    ctx->peer[i].gone = 1;
    c->read->eof = 0;
    c->read->error = 0;

    ngx_http_ws_heartbeat_close(ctx, NGX_HTTP_WSHB_CLIENT_CLOSE + i,
                                NGX_HTTP_WSHB_TO(i ^ 1));

    return NGX_AGAIN;
}


/*
 * A closing session: nothing more passes either way (a close frame of
 * ours went to one peer or both, and the other one, if any, is gone or
 * dead), but the bytes are read, so that an answering close frame is seen
 * and no unread byte makes the kernel reset the connection at the close.
 */

ssize_t
ngx_http_ws_heartbeat_discard(ngx_http_ws_heartbeat_ctx_t *ctx, ngx_uint_t i,
    ngx_connection_t *c, u_char *buf, size_t size)
{
    ssize_t                          n;
    uint32_t                         control;
    uint64_t                         data;
    ngx_http_ws_heartbeat_peer_t    *peer;
    ngx_http_ws_heartbeat_parser_t  *p;

    peer = &ctx->peer[i];
    p = &peer->parser;

    if (peer->gone) {
        c->read->ready = 0;
        return NGX_AGAIN;
    }

    n = peer->recv(c, buf, size);

    if (n == NGX_AGAIN) {
        return n;
    }

    if (n <= 0) {
        peer->gone = 1;
        peer->answer = 0;
        c->read->eof = 0;
        c->read->error = 0;

    } else if (peer->answer) {
        /*
         * Nothing is withheld or removed any more, and nothing counted:
         * the bytes go nowhere
         */

        p->armed = 0;
        p->slen = 0;
        data = p->data_frames;
        control = p->control_frames;

        (void) ngx_http_ws_heartbeat_parse(p,
                                           ngx_http_ws_heartbeat_worker.cookie,
                                           buf, n, NULL);

        p->data_frames = data;
        p->control_frames = control;

        if (p->closed || p->error) {
            peer->answer = 0;
        }
    }

    if (!ctx->peer[0].answer && !ctx->peer[1].answer) {
        ngx_http_ws_heartbeat_finish(ctx);
        return NGX_AGAIN;
    }

    return ngx_http_ws_heartbeat_again(c);
}


void
ngx_http_ws_heartbeat_fail(ngx_http_ws_heartbeat_ctx_t *ctx, ngx_uint_t i)
{
    if (ctx->passthrough) {
        return;
    }

    ngx_log_error(NGX_LOG_INFO, ctx->client->log,
                  0, "ws_heartbeat: %s stream does not parse (%s), "
                  "session " NGX_HTTP_WSHB_ID_FMT " passed through from now on",
                  ngx_http_ws_heartbeat_peers[i],
                  ngx_http_ws_heartbeat_strerror(ctx->peer[i].parser.error),
                  NGX_HTTP_WSHB_ID(ctx));

    ngx_http_ws_heartbeat_pass(ctx);

    ngx_http_ws_heartbeat_publish(ctx, NGX_HTTP_WSHB_STATE_PASSTHROUGH);

    /*
     * A draining session keeps its timer, set to its drain time; one with
     * a max age or an expiry has it set to that
     */

    if (ctx->draining) {
        return;
    }

    ngx_http_ws_heartbeat_timer_del(&ctx->timer);

    if (ctx->ends) {
        ngx_http_ws_heartbeat_timer_add(&ctx->timer,
            (ngx_msec_t) ngx_max((int32_t) (ctx->end_at
                                            - ngx_http_ws_heartbeat_msec()),
                                 1));
    }
}


/*
 * Both streams pass untouched from now on: no ping waits for a boundary,
 * and every read leaves the wrappers' fast path for the general one,
 * which passes bytes through.
 */

static void
ngx_http_ws_heartbeat_pass(ngx_http_ws_heartbeat_ctx_t *ctx)
{
    ctx->passthrough = 1;
    ngx_http_ws_heartbeat_divert(ctx);
}


/*
 * A session passed through: no frame boundaries are known, so it gets no
 * close frame and ends as it is
 */

void
ngx_http_ws_heartbeat_end_as_is(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_uint_t reason)
{
    ctx->reason = reason;
    ngx_http_ws_heartbeat_finish(ctx);
}


/* the session closes at its drain time, as the worker shuts down */

void
ngx_http_ws_heartbeat_drain(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_msec_t delay)
{
    ctx->draining = 1;
    ngx_http_ws_heartbeat_timer_add(&ctx->timer, delay);
}


/*
 * Why the session ended, when none of our own reasons applies: nginx's
 * timeouts of the upgraded connections, whose flags nginx set before it
 * finalized the request (the session ends before the upstream connection
 * is closed, so its flags are still its own).
 */

ngx_uint_t
ngx_http_ws_heartbeat_final_reason(ngx_http_request_t *r,
    ngx_http_ws_heartbeat_ctx_t *ctx)
{
    ngx_connection_t  *uc;

    if (ctx->reason != NGX_HTTP_WSHB_REASON_NONE) {
        return ctx->reason;
    }

    uc = r->upstream ? r->upstream->peer.connection : NULL;

    if (r->connection->timedout
        || (uc && (uc->read->timedout || uc->write->timedout)))
    {
        return NGX_HTTP_WSHB_PROXY_TIMEOUT;
    }

    return NGX_HTTP_WSHB_ERROR;
}


/* a directive's code=code parameter, a close code an endpoint may send */

char *
ngx_http_ws_heartbeat_close_code_conf(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_str_t *value, ngx_uint_t *code)
{
    ngx_int_t  n;

    if (value->len > 5 && ngx_strncmp(value->data, "code=", 5) == 0) {
        n = ngx_atoi(value->data + 5, value->len - 5);

        if (n != NGX_ERROR
            && ngx_http_ws_heartbeat_close_code_valid((unsigned long) n))
        {
            *code = (ngx_uint_t) n;
            return NGX_CONF_OK;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid close code \"%V\" in \"%V\" directive, "
                           "it must be 1000, 1001, 1008, 1011, 1012, 1013 "
                           "or 4000 to 4999", value, &cmd->name);
        return NGX_CONF_ERROR;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\" in \"%V\" directive",
                       value, &cmd->name);
    return NGX_CONF_ERROR;
}


/* as the worker starts: the DELETEs before it are not its own */

void
ngx_http_ws_heartbeat_commands_init(ngx_http_ws_heartbeat_zone_t *zone)
{
    ngx_http_ws_heartbeat_commanded = zone->sh->commanded;
}


/*
 * Sessions of this worker that a DELETE at the status endpoint marked
 * are closed with the close frame it asked for
 */

void
ngx_http_ws_heartbeat_close_marked(void)
{
    ngx_atomic_uint_t  n;

    if (ngx_http_ws_heartbeat_worker.zone == NULL) {
        return;
    }

    n = ngx_http_ws_heartbeat_worker.zone->sh->commanded;

    if (n == ngx_http_ws_heartbeat_commanded) {
        return;
    }

    ngx_http_ws_heartbeat_commanded = n;

    ngx_http_ws_heartbeat_each(ngx_http_ws_heartbeat_command, NULL);
}


static void
ngx_http_ws_heartbeat_command(ngx_http_ws_heartbeat_ctx_t *ctx, void *data)
{
    ngx_uint_t                        k, reason;
    ngx_http_ws_heartbeat_zone_t     *zone;
    ngx_http_ws_heartbeat_command_t   cmd;

    zone = ngx_http_ws_heartbeat_worker.zone;

    if (ctx->closing || ctx->record == NGX_HTTP_WSHB_NO_RECORD) {
        return;
    }

    k = zone->sh->records[ctx->record].command;

    if (k == 0) {
        return;
    }

    if (k & NGX_HTTP_WSHB_EVICT) {

        /* a newer session of its key took its place */

        reason = NGX_HTTP_WSHB_EVICTED;
        cmd.code = zone->sh->limit_code[k & ~NGX_HTTP_WSHB_EVICT];
        cmd.len = sizeof("replaced") - 1;
        ngx_memcpy(cmd.text, "replaced", cmd.len);

        ngx_log_error(NGX_LOG_INFO, ngx_http_ws_heartbeat_log(ctx), 0,
                      "ws_heartbeat: session " NGX_HTTP_WSHB_ID_FMT
                      " evicted by a newer one of its key, code %ud",
                      NGX_HTTP_WSHB_ID(ctx), (ngx_uint_t) cmd.code);

    } else {

        /*
         * A later DELETE may move the mark to another slot and then free
         * this one: the mark and its slot are read together
         */

        reason = NGX_HTTP_WSHB_ADMIN;

        ngx_shmtx_lock(&zone->shpool->mutex);
        k = zone->sh->records[ctx->record].command;
        cmd = zone->sh->commands[(k - 1) % NGX_HTTP_WSHB_COMMANDS];
        ngx_shmtx_unlock(&zone->shpool->mutex);

        ngx_log_error(NGX_LOG_INFO, ngx_http_ws_heartbeat_log(ctx), 0,
                      "ws_heartbeat: session " NGX_HTTP_WSHB_ID_FMT
                      " closed by operator, code %ud",
                      NGX_HTTP_WSHB_ID(ctx), (ngx_uint_t) cmd.code);
    }

    if (ctx->passthrough) {
        ngx_http_ws_heartbeat_end_as_is(ctx, reason);
        return;
    }

    ngx_http_ws_heartbeat_close_coded(ctx, reason, cmd.code, cmd.text,
                                      cmd.len, NGX_HTTP_WSHB_TO_BOTH);
}
