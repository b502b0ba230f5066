
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 *
 * The status handler: method and token checks, the query, and a snapshot
 * of the zone rendered as JSON or Prometheus text into a chain of
 * fixed-size buffers.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_ws_heartbeat_status_module.h"
#include "ngx_http_ws_heartbeat_status.h"
#include "ngx_http_ws_heartbeat_query.h"
#include "ngx_http_ws_heartbeat_out.h"
#include "ngx_http_ws_heartbeat_json.h"
#include "ngx_http_ws_heartbeat_prometheus.h"
#include "ngx_http_ws_heartbeat_stream.h"
#include "ngx_http_ws_heartbeat_dashboard.h"
#include "ngx_http_ws_heartbeat_filter.h"
#include "ngx_http_ws_heartbeat_admin.h"
#include "ngx_http_ws_heartbeat_slices.h"


#define NGX_HTTP_WSHB_MAX_UPSTREAMS  256


static ngx_int_t ngx_http_ws_heartbeat_status_query(ngx_http_request_t *r,
    ngx_http_ws_heartbeat_query_t *q);
static ngx_int_t ngx_http_ws_heartbeat_status_method(ngx_http_request_t *r);
static ngx_int_t ngx_http_ws_heartbeat_status_from_origin(
    ngx_http_request_t *r, ngx_array_t *origins);
static ngx_int_t ngx_http_ws_heartbeat_origin_parse(u_char *p, size_t len,
    ngx_http_ws_heartbeat_origin_t *o);
static ngx_int_t ngx_http_ws_heartbeat_host_port(u_char *p, size_t len,
    ngx_http_ws_heartbeat_origin_t *o);
static ngx_uint_t ngx_http_ws_heartbeat_same_origin(
    ngx_http_ws_heartbeat_origin_t *a, ngx_http_ws_heartbeat_origin_t *b);
static ngx_int_t ngx_http_ws_heartbeat_status_auth(ngx_http_request_t *r,
    ngx_array_t *tokens, ngx_str_t *protocol,
    ngx_http_ws_heartbeat_token_t **token);
static ngx_int_t ngx_http_ws_heartbeat_status_subscribe(ngx_http_request_t *r,
    ngx_http_ws_heartbeat_query_t *q, ngx_uint_t transport,
    ngx_str_t *protocol, ngx_uint_t admin);
static ngx_int_t ngx_http_ws_heartbeat_status_document(ngx_http_request_t *r,
    ngx_http_ws_heartbeat_query_t *q);
static ngx_int_t ngx_http_ws_heartbeat_authorized(ngx_http_request_t *r,
    ngx_array_t *tokens, ngx_str_t *protocol,
    ngx_http_ws_heartbeat_token_t **token);
static ngx_http_ws_heartbeat_token_t *ngx_http_ws_heartbeat_token_match(
    ngx_array_t *tokens, u_char *p, size_t len);
static ngx_uint_t ngx_http_ws_heartbeat_wants_prometheus(
    ngx_http_request_t *r);
static ngx_int_t ngx_http_ws_heartbeat_summary(ngx_http_request_t *r,
    ngx_http_ws_heartbeat_zone_t *zone, ngx_http_ws_heartbeat_query_t *q,
    ngx_http_ws_heartbeat_summary_t *sum);
static void ngx_http_ws_heartbeat_peer_counts_locked(
    ngx_http_ws_heartbeat_zone_t *zone, ngx_http_ws_heartbeat_summary_t *sum);
static void ngx_http_ws_heartbeat_count_upstream(
    ngx_http_ws_heartbeat_summary_t *sum, ngx_http_ws_heartbeat_addr_t *addr);
static void ngx_http_ws_heartbeat_tag_counts_locked(
    ngx_http_ws_heartbeat_zone_t *zone, ngx_http_ws_heartbeat_summary_t *sum);
static ngx_int_t ngx_http_ws_heartbeat_limit_counts(ngx_http_request_t *r,
    ngx_http_ws_heartbeat_query_t *q, ngx_http_ws_heartbeat_summary_t *sum);
static void ngx_http_ws_heartbeat_limit_counts_locked(
    ngx_http_ws_heartbeat_zone_t *zone, ngx_http_ws_heartbeat_summary_t *sum);



/* ws_heartbeat_status_token token [name=name] [admin] */

char *
ngx_http_ws_heartbeat_status_token(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_ws_heartbeat_status_loc_conf_t *slcf = conf;

    ngx_str_t                      *value;
    ngx_uint_t                      i;
    ngx_http_ws_heartbeat_token_t  *token;

    value = cf->args->elts;

    if (value[1].len == 0) {
        return "takes a non-empty token";
    }

    if (slcf->tokens == NGX_CONF_UNSET_PTR) {
        slcf->tokens = ngx_array_create(cf->pool, 2,
                                        sizeof(ngx_http_ws_heartbeat_token_t));
        if (slcf->tokens == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    token = ngx_array_push(slcf->tokens);
    if (token == NULL) {
        return NGX_CONF_ERROR;
    }

    token->token = value[1];
    token->admin = 0;

    /* by default, its place: "token1", "token2" */

    token->name.data = ngx_pnalloc(cf->pool, sizeof("token") + NGX_INT_T_LEN);
    if (token->name.data == NULL) {
        return NGX_CONF_ERROR;
    }

    token->name.len = ngx_sprintf(token->name.data, "token%ui",
                                  slcf->tokens->nelts)
                      - token->name.data;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strcmp(value[i].data, "admin") == 0) {
            token->admin = 1;
            continue;
        }

        if (value[i].len > 5 && value[i].len <= 5 + 64
            && ngx_strncmp(value[i].data, "name=", 5) == 0)
        {
            token->name.data = value[i].data + 5;
            token->name.len = value[i].len - 5;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\" in \"%V\" directive, "
                           "it must be \"name=\" (1 to 64 bytes) or "
                           "\"admin\"", &value[i], &cmd->name);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * ws_heartbeat_status_origin origin ...: the origins, besides the
 * location's own, whose pages may subscribe over WebSocket; "*" for any
 */

char *
ngx_http_ws_heartbeat_status_origin(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_ws_heartbeat_status_loc_conf_t *slcf = conf;

    ngx_str_t                       *value;
    ngx_uint_t                       i;
    ngx_http_ws_heartbeat_origin_t  *o;

    if (slcf->origins == NGX_CONF_UNSET_PTR) {
        slcf->origins = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                      sizeof(ngx_http_ws_heartbeat_origin_t));
        if (slcf->origins == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        o = ngx_array_push(slcf->origins);
        if (o == NULL) {
            return NGX_CONF_ERROR;
        }

        if (value[i].len == 1 && value[i].data[0] == '*') {
            ngx_memzero(o, sizeof(ngx_http_ws_heartbeat_origin_t));
            continue;
        }

        if (ngx_http_ws_heartbeat_origin_parse(value[i].data, value[i].len,
                                               o)
            != NGX_OK)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid origin \"%V\" in \"%V\" directive, "
                               "it must be \"*\" or scheme://host[:port] "
                               "with the scheme http or https",
                               &value[i], &cmd->name);
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/*
 * The status location: the method, the query, the dashboard page (static,
 * so it needs no token: the stream it opens is authorized like any other
 * request), the origin of a WebSocket, the token, then a DELETE, a
 * subscription or a document
 */

ngx_int_t
ngx_http_ws_heartbeat_status_handler(ngx_http_request_t *r)
{
    ngx_int_t                                 rc, transport;
    ngx_str_t                                 protocol;
    ngx_array_t                              *tokens;
    ngx_http_ws_heartbeat_query_t             q;
    ngx_http_ws_heartbeat_token_t            *token;
    ngx_http_ws_heartbeat_status_loc_conf_t  *slcf;

    /* the steps answer NGX_DECLINED to go on, or the request's end */

    rc = ngx_http_ws_heartbeat_status_method(r);

    if (rc != NGX_DECLINED) {
        return rc;
    }

    rc = ngx_http_ws_heartbeat_status_query(r, &q);

    if (rc != NGX_DECLINED) {
        return rc;
    }

    if (q.format == NGX_HTTP_WSHB_FORMAT_HTML
        && r->method != NGX_HTTP_DELETE
        && !ngx_http_ws_heartbeat_is_websocket(r))
    {
        return ngx_http_ws_heartbeat_dashboard(r);
    }

    ngx_str_null(&protocol);
    token = NULL;

    slcf = ngx_http_ws_heartbeat_status_get_loc_conf(r);
    tokens = slcf->tokens;

    if (r->method != NGX_HTTP_DELETE
        && ngx_http_ws_heartbeat_is_websocket(r))
    {
        rc = ngx_http_ws_heartbeat_status_from_origin(r, slcf->origins);

        if (rc != NGX_DECLINED) {
            return rc;
        }
    }

    if (tokens) {
        rc = ngx_http_ws_heartbeat_status_auth(r, tokens, &protocol, &token);

        if (rc != NGX_DECLINED) {
            return rc;
        }
    }

    if (r->method == NGX_HTTP_DELETE) {
        return ngx_http_ws_heartbeat_delete(r, &q, token);
    }

    transport = ngx_http_ws_heartbeat_wants_stream(r, &q);

    if (transport != NGX_DECLINED) {
        return ngx_http_ws_heartbeat_status_subscribe(r, &q, transport,
                                                      &protocol,
                                                      token && token->admin);
    }

    return ngx_http_ws_heartbeat_status_document(r, &q);
}


/* GET, HEAD and DELETE; no body is read */

static ngx_int_t
ngx_http_ws_heartbeat_status_method(ngx_http_request_t *r)
{
    ngx_int_t         rc;
    ngx_str_t         error;
    ngx_table_elt_t  *h;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_DELETE))) {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->hash = 1;
        ngx_str_set(&h->key, "Allow");
        ngx_str_set(&h->value, "GET, HEAD, DELETE");

        ngx_str_set(&error, "only GET, HEAD and DELETE are allowed");
        return ngx_http_ws_heartbeat_status_error(r, NGX_HTTP_NOT_ALLOWED,
                                                  &error);
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    return NGX_DECLINED;
}


/*
 * The query, parsed from a copy of the arguments: NGX_DECLINED, or 400
 * with a reason
 */

static ngx_int_t
ngx_http_ws_heartbeat_status_query(ngx_http_request_t *r,
    ngx_http_ws_heartbeat_query_t *q)
{
    ngx_str_t    args, error;
    const char  *reason;

    /* a copy: values are unescaped in place, $request must stay as is */

    args.len = r->args.len;
    args.data = ngx_pnalloc(r->pool, args.len + 1);
    if (args.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (args.len) {
        ngx_memcpy(args.data, r->args.data, args.len);
    }

    reason = ngx_http_ws_heartbeat_parse_query(args.data, args.len, q);

    if (reason == NULL) {
        reason = ngx_http_ws_heartbeat_filter_check(q);
    }

    if (reason == NULL) {
        return NGX_DECLINED;
    }

    error.data = (u_char *) reason;
    error.len = ngx_strlen(reason);

    return ngx_http_ws_heartbeat_status_error(r, NGX_HTTP_BAD_REQUEST,
                                              &error);
}


/*
 * A WebSocket subscription: browsers apply neither the same-origin policy
 * nor CORS to WebSockets and send the user's cookies and credentials with
 * them, so any page the operator visits could read the stream.  Its
 * Origin, if it has one, must be the location's own (the connection's
 * scheme and the Host header) or one that ws_heartbeat_status_origin
 * lists: NGX_DECLINED, or 403.  Clients that send no Origin are not
 * pages in a browser.
 */

static ngx_int_t
ngx_http_ws_heartbeat_status_from_origin(ngx_http_request_t *r,
    ngx_array_t *origins)
{
    u_char                          *p;
    size_t                           len;
    ngx_str_t                        error;
    ngx_uint_t                       i, n;
    ngx_table_elt_t                 *h, *host;
    ngx_http_ws_heartbeat_origin_t  *o, from, own;

    h = ngx_http_ws_heartbeat_request_header(r, "Origin");

    if (h == NULL) {
        return NGX_DECLINED;
    }

    o = origins ? origins->elts : NULL;
    n = origins ? origins->nelts : 0;

    for (i = 0; i < n; i++) {
        if (o[i].host.len == 0) {
            return NGX_DECLINED;
        }
    }

    if (ngx_http_ws_heartbeat_origin_parse(h->value.data, h->value.len,
                                           &from)
        == NGX_OK)
    {
#if (NGX_HTTP_SSL)
        own.https = (r->connection->ssl != NULL);
#else
        own.https = 0;
#endif
        host = r->headers_in.host;

        if (host
            && ngx_http_ws_heartbeat_host_port(host->value.data,
                                               host->value.len, &own)
               == NGX_OK
            && ngx_http_ws_heartbeat_same_origin(&from, &own))
        {
            return NGX_DECLINED;
        }

        for (i = 0; i < n; i++) {
            if (ngx_http_ws_heartbeat_same_origin(&from, &o[i])) {
                return NGX_DECLINED;
            }
        }
    }

    len = ngx_min(h->value.len, 256);
    p = ngx_pnalloc(r->pool, len * 3);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    error.data = p;
    error.len = (u_char *) ngx_escape_uri(p, h->value.data, len,
                                          NGX_ESCAPE_HTML)
                - p;

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "ws_heartbeat: status WebSocket from origin \"%V\" "
                  "refused: not the location's own, not listed by "
                  "ws_heartbeat_status_origin", &error);

    ngx_str_set(&error, "WebSocket subscriptions from this origin are not "
                        "allowed");

    return ngx_http_ws_heartbeat_status_error(r, NGX_HTTP_FORBIDDEN, &error);
}


/*
 * An origin as browsers send it (RFC 6454): the scheme http or https,
 * then host[:port].  NGX_OK, or NGX_ERROR.
 */

static ngx_int_t
ngx_http_ws_heartbeat_origin_parse(u_char *p, size_t len,
    ngx_http_ws_heartbeat_origin_t *o)
{
    if (len > sizeof("https://") - 1
        && ngx_strncasecmp(p, (u_char *) "https://", sizeof("https://") - 1)
           == 0)
    {
        o->https = 1;
        p += sizeof("https://") - 1;
        len -= sizeof("https://") - 1;

    } else if (len > sizeof("http://") - 1
               && ngx_strncasecmp(p, (u_char *) "http://",
                                  sizeof("http://") - 1)
                  == 0)
    {
        o->https = 0;
        p += sizeof("http://") - 1;
        len -= sizeof("http://") - 1;

    } else {
        return NGX_ERROR;
    }

    return ngx_http_ws_heartbeat_host_port(p, len, o);
}


/*
 * host[:port], as a Host header or the end of an origin has it: a name or
 * an IPv4 address, or an IPv6 one in brackets; without a port, the
 * scheme's (o->https).  NGX_OK, or NGX_ERROR.
 */

static ngx_int_t
ngx_http_ws_heartbeat_host_port(u_char *p, size_t len,
    ngx_http_ws_heartbeat_origin_t *o)
{
    u_char     *end, *q, c;
    ngx_int_t   port;

    end = p + len;
    q = p;

    if (q < end && *q == '[') {
        for (q++; q < end && *q != ']'; q++) {
            c = *q;

            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')
                  || (c >= 'A' && c <= 'F') || c == ':' || c == '.'))
            {
                return NGX_ERROR;
            }
        }

        if (q == end || q == p + 1) {
            return NGX_ERROR;
        }

        q++;

    } else {
        for ( /* void */ ; q < end && *q != ':'; q++) {
            c = *q;

            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')
                  || (c >= 'A' && c <= 'Z') || c == '-' || c == '.'
                  || c == '_'))
            {
                return NGX_ERROR;
            }
        }

        if (q == p) {
            return NGX_ERROR;
        }
    }

    o->host.data = p;
    o->host.len = q - p;
    o->port = o->https ? 443 : 80;

    if (q == end) {
        return NGX_OK;
    }

    if (*q != ':' || end - q < 2 || end - q > 6) {
        return NGX_ERROR;
    }

    port = ngx_atoi(q + 1, end - q - 1);

    if (port < 1 || port > 65535) {
        return NGX_ERROR;
    }

    o->port = (ngx_uint_t) port;

    return NGX_OK;
}


/* the same scheme, host (in any case) and port */

static ngx_uint_t
ngx_http_ws_heartbeat_same_origin(ngx_http_ws_heartbeat_origin_t *a,
    ngx_http_ws_heartbeat_origin_t *b)
{
    return a->https == b->https
           && a->port == b->port
           && a->host.len == b->host.len
           && ngx_strncasecmp(a->host.data, b->host.data, a->host.len) == 0;
}


/*
 * A bearer token from the Authorization header or the WebSocket
 * subprotocol: NGX_DECLINED, or 401 without one or with a wrong one
 */

static ngx_int_t
ngx_http_ws_heartbeat_status_auth(ngx_http_request_t *r, ngx_array_t *tokens,
    ngx_str_t *protocol, ngx_http_ws_heartbeat_token_t **token)
{
    ngx_int_t         rc;
    ngx_str_t         error;
    ngx_table_elt_t  *h;

    rc = ngx_http_ws_heartbeat_authorized(r, tokens, protocol, token);

    if (rc == NGX_OK) {
        return NGX_DECLINED;
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "WWW-Authenticate");

    if (rc == NGX_DECLINED) {
        ngx_str_set(&h->value, "Bearer realm=\"ws_heartbeat\"");
        ngx_str_set(&error, "a bearer token is required");

    } else {
        ngx_str_set(&h->value, "Bearer realm=\"ws_heartbeat\", "
                               "error=\"invalid_token\"");
        ngx_str_set(&error, "invalid token");

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "ws_heartbeat: status request with an invalid token");
    }

    return ngx_http_ws_heartbeat_status_error(r, NGX_HTTP_UNAUTHORIZED,
                                              &error);
}


/* a delta-stream subscription, or 400 for a bad one */

static ngx_int_t
ngx_http_ws_heartbeat_status_subscribe(ngx_http_request_t *r,
    ngx_http_ws_heartbeat_query_t *q, ngx_uint_t transport,
    ngx_str_t *protocol, ngx_uint_t admin)
{
    ngx_int_t  rc;
    ngx_str_t  error;

    rc = ngx_http_ws_heartbeat_subscribe(r, q, transport, protocol, admin);

    if (rc != NGX_DECLINED) {
        return rc;
    }

    if (transport == NGX_HTTP_WSHB_WEBSOCKET) {
        /* the client meant to leave HTTP: do not wait for more */
        r->keepalive = 0;

        ngx_str_set(&error, "a WebSocket subscription needs a GET over "
                            "HTTP/1.1 with Connection: upgrade, "
                            "Sec-WebSocket-Key and version 13");

    } else {
        ngx_str_set(&error, "Last-Event-ID must be a delta sequence number");
    }

    return ngx_http_ws_heartbeat_status_error(r, NGX_HTTP_BAD_REQUEST,
                                              &error);
}


/* the JSON or Prometheus document, rendered and sent */

static ngx_int_t
ngx_http_ws_heartbeat_status_document(ngx_http_request_t *r,
    ngx_http_ws_heartbeat_query_t *q)
{
    ngx_int_t                           rc;
    ngx_chain_t                        *cl;
    ngx_http_ws_heartbeat_out_t         out;
    ngx_http_ws_heartbeat_summary_t     sum;
    ngx_http_ws_heartbeat_main_conf_t  *wmcf;

    if (!q->format_set && ngx_http_ws_heartbeat_wants_prometheus(r)) {
        q->format = NGX_HTTP_WSHB_FORMAT_PROMETHEUS;
    }

    wmcf = ngx_http_ws_heartbeat_get_main_conf(r);

    if (ngx_http_ws_heartbeat_summary(r, wmcf->zone, q, &sum) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memzero(&out, sizeof(ngx_http_ws_heartbeat_out_t));
    out.pool = r->pool;
    out.tag = (ngx_buf_tag_t) ngx_http_ws_heartbeat_status_handler;

    if (q->format == NGX_HTTP_WSHB_FORMAT_PROMETHEUS) {
        ngx_str_set(&r->headers_out.content_type,
                    "text/plain; version=0.0.4; charset=utf-8");

        rc = ngx_http_ws_heartbeat_prometheus(&out, &sum);

    } else {
        ngx_str_set(&r->headers_out.content_type, "application/json");

        rc = ngx_http_ws_heartbeat_json_head(&out, &sum);

        if (rc == NGX_OK && q->sessions) {
            return ngx_http_ws_heartbeat_slices(r, wmcf->zone, q, &out);
        }

        if (rc == NGX_OK) {
            rc = ngx_http_ws_heartbeat_json_tail(&out);
        }
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = 0;

    for (cl = out.first; cl; cl = cl->next) {
        r->headers_out.content_length_n += cl->buf->last - cl->buf->pos;
    }

    out.last->buf->last_buf = (r == r->main) ? 1 : 0;
    out.last->buf->last_in_chain = 1;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    return ngx_http_output_filter(r, out.first);
}


/*
 * NGX_OK: a configured token was presented, as "Authorization: Bearer T"
 * or, for browsers opening a WebSocket, as a "bearer.T" subprotocol;
 * NGX_DECLINED: none was presented; NGX_ERROR: a wrong one was.
 */

static ngx_int_t
ngx_http_ws_heartbeat_authorized(ngx_http_request_t *r, ngx_array_t *tokens,
    ngx_str_t *protocol, ngx_http_ws_heartbeat_token_t **token)
{
    u_char           *p, *end, *start;
    ngx_uint_t        presented;
    ngx_table_elt_t  *h;

    presented = 0;

    h = r->headers_in.authorization;

    if (h && h->value.len > sizeof("Bearer ") - 1
        && ngx_strncasecmp(h->value.data, (u_char *) "Bearer ",
                           sizeof("Bearer ") - 1) == 0)
    {
        presented = 1;

        p = h->value.data + sizeof("Bearer ") - 1;
        end = h->value.data + h->value.len;

        while (p < end && *p == ' ') {
            p++;
        }

        *token = ngx_http_ws_heartbeat_token_match(tokens, p, end - p);

        if (*token) {
            return NGX_OK;
        }
    }

    h = ngx_http_ws_heartbeat_request_header(r, "Sec-WebSocket-Protocol");

    if (h) {
        p = h->value.data;
        end = p + h->value.len;

        while (p < end) {
            while (p < end && (*p == ' ' || *p == ',')) {
                p++;
            }

            start = p;

            while (p < end && *p != ',' && *p != ' ') {
                p++;
            }

            if (p - start > 7
                && ngx_strncasecmp(start, (u_char *) "bearer.", 7) == 0)
            {
                presented = 1;

                *token = ngx_http_ws_heartbeat_token_match(tokens, start + 7,
                                                           p - start - 7);
                if (*token) {
                    /* echoed in the 101 response */
                    protocol->data = start;
                    protocol->len = p - start;
                    return NGX_OK;
                }
            }
        }
    }

    return presented ? NGX_ERROR : NGX_DECLINED;
}


/*
 * The token presented, or NULL: compared with every one, in time that
 * does not depend on the bytes
 */

static ngx_http_ws_heartbeat_token_t *
ngx_http_ws_heartbeat_token_match(ngx_array_t *tokens, u_char *p, size_t len)
{
    size_t                          i;
    u_char                          diff;
    ngx_uint_t                      k;
    ngx_http_ws_heartbeat_token_t  *t, *match;

    t = tokens->elts;
    match = NULL;

    for (k = 0; k < tokens->nelts; k++) {
        diff = (t[k].token.len != len);

        for (i = 0; i < t[k].token.len; i++) {
            diff |= t[k].token.data[i] ^ (i < len ? p[i] : 0);
        }

        if (diff == 0) {
            match = &t[k];
        }
    }

    return match;
}


/* Prometheus asks for "text/plain;version=0.0.4" or OpenMetrics */

static ngx_uint_t
ngx_http_ws_heartbeat_wants_prometheus(ngx_http_request_t *r)
{
    u_char           *p, *end;
    ngx_table_elt_t  *h;

    h = ngx_http_ws_heartbeat_request_header(r, "Accept");

    if (h == NULL) {
        return 0;
    }

    p = h->value.data;
    end = p + h->value.len;

    if (ngx_strlcasestrn(p, end, (u_char *) "openmetrics", 11 - 1)) {
        return 1;
    }

    p = ngx_strlcasestrn(p, end, (u_char *) "text/plain", 10 - 1);

    return p && ngx_strlcasestrn(p, end, (u_char *) "version=0.0.4", 13 - 1);
}


static ngx_int_t
ngx_http_ws_heartbeat_summary(ngx_http_request_t *r,
    ngx_http_ws_heartbeat_zone_t *zone, ngx_http_ws_heartbeat_query_t *q,
    ngx_http_ws_heartbeat_summary_t *sum)
{
    uint64_t                         now;
    ngx_uint_t                       i, n;
    ngx_time_t                      *tp;
    ngx_atomic_t                    *src, *dst;
    ngx_http_ws_heartbeat_shctx_t   *sh;
    ngx_http_ws_heartbeat_record_t  *rec;

    ngx_memzero(sum, sizeof(ngx_http_ws_heartbeat_summary_t));

    if (ngx_array_init(&sum->upstreams, r->pool, 8,
                       sizeof(ngx_http_ws_heartbeat_upstream_count_t))
        != NGX_OK
        || ngx_array_init(&sum->tags, r->pool, 8,
                          sizeof(ngx_http_ws_heartbeat_tag_count_t))
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_ws_heartbeat_limit_counts(r, q, sum) != NGX_OK) {
        return NGX_ERROR;
    }

    sh = zone->sh;

    sum->zone_name = zone->shm_zone->shm.name;
    sum->zone_size = zone->shm_zone->shm.size;
    sum->created = sh->created;

    tp = ngx_timeofday();
    now = (uint64_t) tp->sec * 1000 + tp->msec;

    ngx_shmtx_lock(&zone->shpool->mutex);

    ngx_http_ws_heartbeat_zone_reap_locked(zone);

    sum->used = sh->used;
    sum->nrecords = sh->nrecords;
    sum->nnames = sh->nnames;
    sum->names_size = (size_t) sh->nnames * sh->names_slot;
    sum->unnamed = sh->unnamed;
    sum->seq = sh->seq;
    sum->nevents = sh->nevents;

    /*
     * The counts are kept as records change: only filters, or an upstream
     * peer the zone had no room to count, need a look at every record
     */

    for (i = 1; i < NGX_HTTP_WSHB_NSTATES; i++) {
        sum->states[i] = sh->states[i];
    }

    sum->matching = sh->used;
    sum->unjudged = ngx_http_ws_heartbeat_unjudged_locked(zone, q);

    if (!sh->peers_lost) {
        ngx_http_ws_heartbeat_peer_counts_locked(zone, sum);
    }

    if (q->filters || sh->peers_lost) {
        sum->matching = 0;
        n = 0;

        for (i = 0; i < sh->nrecords && n < sh->used; i++) {
            rec = &sh->records[i];

            if (rec->state == NGX_HTTP_WSHB_STATE_FREE) {
                continue;
            }

            n++;

            if (ngx_http_ws_heartbeat_match_locked(zone, rec, q, now)) {
                sum->matching++;
            }

            if (sh->peers_lost) {
                ngx_http_ws_heartbeat_count_upstream(sum, &rec->upstream);
            }
        }
    }

    if (q->format == NGX_HTTP_WSHB_FORMAT_PROMETHEUS) {
        ngx_http_ws_heartbeat_tag_counts_locked(zone, sum);
    }

    ngx_http_ws_heartbeat_limit_counts_locked(zone, sum);

    ngx_shmtx_unlock(&zone->shpool->mutex);

    /* counters are atomics: read each once, no lock needed */

    src = (ngx_atomic_t *) &sh->totals;
    dst = (ngx_atomic_t *) &sum->totals;

    for (i = 0; i < sizeof(ngx_http_ws_heartbeat_totals_t)
                    / sizeof(ngx_atomic_t); i++)
    {
        dst[i] = src[i];
    }

    return NGX_OK;
}


/* the sessions of each upstream peer, as the zone counts them */

static void
ngx_http_ws_heartbeat_peer_counts_locked(ngx_http_ws_heartbeat_zone_t *zone,
    ngx_http_ws_heartbeat_summary_t *sum)
{
    uint32_t                                 b, off;
    ngx_http_ws_heartbeat_shctx_t           *sh;
    ngx_http_ws_heartbeat_peer_count_t      *pc;
    ngx_http_ws_heartbeat_upstream_count_t  *uc;

    sh = zone->sh;

    for (b = 0; b < NGX_HTTP_WSHB_PEER_BUCKETS; b++) {
        for (off = sh->peers[b]; off; off = pc->next) {
            pc = (ngx_http_ws_heartbeat_peer_count_t *)
                     ((u_char *) zone->shpool + off);

            if (sum->upstreams.nelts == NGX_HTTP_WSHB_MAX_UPSTREAMS) {
                return;
            }

            uc = ngx_array_push(&sum->upstreams);
            if (uc == NULL) {
                return;
            }

            uc->addr = pc->addr;
            uc->sessions = pc->sessions;
        }
    }
}


/* one more session to that upstream peer; at most 256 peers are counted */

static void
ngx_http_ws_heartbeat_count_upstream(ngx_http_ws_heartbeat_summary_t *sum,
    ngx_http_ws_heartbeat_addr_t *addr)
{
    ngx_uint_t                               k;
    ngx_http_ws_heartbeat_upstream_count_t  *uc;

    uc = sum->upstreams.elts;

    for (k = 0; k < sum->upstreams.nelts; k++) {
        if (ngx_memcmp(&uc[k].addr, addr,
                       sizeof(ngx_http_ws_heartbeat_addr_t))
            == 0)
        {
            uc[k].sessions++;
            return;
        }
    }

    if (k == NGX_HTTP_WSHB_MAX_UPSTREAMS) {
        return;
    }

    uc = ngx_array_push(&sum->upstreams);
    if (uc == NULL) {
        return;
    }

    uc->addr = *addr;
    uc->sessions = 1;
}


/*
 * The sessions of each names entry, by the value of each tag in it
 * declared with "metrics": an entry per names entry and tag, merged by
 * the renderer.  An array that cannot grow leaves the rest out.
 */

static void
ngx_http_ws_heartbeat_tag_counts_locked(ngx_http_ws_heartbeat_zone_t *zone,
    ngx_http_ws_heartbeat_summary_t *sum)
{
    u_char                             *p, *end;
    uint32_t                            b, off;
    ngx_http_ws_heartbeat_shctx_t      *sh;
    ngx_http_ws_heartbeat_names_t      *nm;
    ngx_http_ws_heartbeat_tag_count_t  *tc;
    ngx_http_ws_heartbeat_tag_value_t   tag;

    sh = zone->sh;

    for (b = 0; b <= sh->names_mask; b++) {
        for (off = sh->names[b]; off; off = nm->next) {
            nm = (ngx_http_ws_heartbeat_names_t *) ((u_char *) zone->shpool
                                                    + off);

            p = nm->data + nm->host_len + nm->uri_len;
            end = p + nm->tags_len;

            while ((p = ngx_http_ws_heartbeat_tag_next(p, end, &tag))) {
                if (!tag.metrics) {
                    continue;
                }

                tc = ngx_array_push(&sum->tags);
                if (tc == NULL) {
                    return;
                }

                tc->name_len = (u_char) ngx_min(tag.name.len,
                                                NGX_HTTP_WSHB_TAG_NAME_LEN);
                tc->value_len = (u_char) ngx_min(tag.value.len,
                                                 NGX_HTTP_WSHB_TAG_VALUE_LEN);
                ngx_memcpy(tc->name, tag.name.data, tc->name_len);
                ngx_memcpy(tc->value, tag.value.data, tc->value_len);
                tc->sessions = nm->refs;
            }
        }
    }
}


/*
 * The limits of the configuration, with room for the keys most held of
 * each limit per key in the JSON: made before the mutex is taken
 */

static ngx_int_t
ngx_http_ws_heartbeat_limit_counts(ngx_http_request_t *r,
    ngx_http_ws_heartbeat_query_t *q, ngx_http_ws_heartbeat_summary_t *sum)
{
    ngx_uint_t                            i;
    ngx_http_ws_heartbeat_limit_t       **lp;
    ngx_http_ws_heartbeat_main_conf_t    *wmcf;
    ngx_http_ws_heartbeat_limit_count_t  *lc;

    wmcf = ngx_http_ws_heartbeat_get_main_conf(r);

    if (ngx_array_init(&sum->limits, r->pool, wmcf->limits.nelts + 1,
                       sizeof(ngx_http_ws_heartbeat_limit_count_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    lp = wmcf->limits.elts;

    for (i = 0; i < wmcf->limits.nelts; i++) {
        lc = ngx_array_push(&sum->limits);
        if (lc == NULL) {
            return NGX_ERROR;
        }

        ngx_memzero(lc, sizeof(ngx_http_ws_heartbeat_limit_count_t));
        lc->limit = lp[i];

        if (lp[i]->key && q->format != NGX_HTTP_WSHB_FORMAT_PROMETHEUS) {
            lc->top = ngx_palloc(r->pool,
                                 NGX_HTTP_WSHB_TOP_KEYS
                                 * sizeof(ngx_http_ws_heartbeat_key_count_t));
            if (lc->top == NULL) {
                return NGX_ERROR;
            }
        }
    }

    return NGX_OK;
}


static void
ngx_http_ws_heartbeat_limit_counts_locked(ngx_http_ws_heartbeat_zone_t *zone,
    ngx_http_ws_heartbeat_summary_t *sum)
{
    ngx_uint_t                            i, k;
    ngx_http_ws_heartbeat_shctx_t        *sh;
    ngx_http_ws_heartbeat_limit_count_t  *lc;

    sh = zone->sh;
    lc = sum->limits.elts;

    for (i = 0; i < sum->limits.nelts; i++) {
        k = lc[i].limit->index;

        lc[i].sessions = sh->limits[k];
        lc[i].rejected = sh->limit_rejected[k];
        lc[i].evicted = sh->limit_evicted[k];
        lc[i].keys = sh->limit_keys[k];

        if (lc[i].top) {
            lc[i].ntop = ngx_http_ws_heartbeat_key_top_locked(zone, k,
                                                              lc[i].top);
        }
    }
}
