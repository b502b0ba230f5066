
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 *
 * libFuzzer target for the status endpoint's query string parser: any
 * bytes give either a reason or a result whose every field is in range
 * and whose strings point into the caller's buffer.
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_http_ws_heartbeat_query.h"


#define check(e)  do { if (!(e)) { abort(); } } while (0)


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t                        *buf;
    const char                     *reason;
    ngx_http_ws_heartbeat_query_t   q;

    /* an exact-size copy, so that ASan sees any read past the end */

    buf = malloc(size ? size : 1);
    check(buf != NULL);

    if (size) {
        memcpy(buf, data, size);
    }

    reason = ngx_http_ws_heartbeat_parse_query(buf, size, &q);

    if (reason != NULL) {
        check(reason[0] != '\0' && strlen(reason) < 128);
        free(buf);
        return 0;
    }

    check(q.format <= NGX_HTTP_WSHB_FORMAT_HTML);
    check(q.sessions <= NGX_HTTP_WSHB_SESSIONS_MAX);
    check(q.since_set || q.since == 0);

    if (q.state_len) {
        check(q.state >= buf && q.state + q.state_len <= buf + size);
        check(q.state_len <= NGX_HTTP_WSHB_FILTER_MAX);
    }

    if (q.upstream_len) {
        check(q.upstream >= buf && q.upstream + q.upstream_len <= buf + size);
        check(q.upstream_len <= NGX_HTTP_WSHB_FILTER_MAX);
    }

    /* without '%' and '+' unescaping changes nothing: parsing again agrees */

    if (memchr(data, '%', size) == NULL && memchr(data, '+', size) == NULL) {
        ngx_http_ws_heartbeat_query_t  q2;

        memcpy(buf, data, size);
        check(ngx_http_ws_heartbeat_parse_query(buf, size, &q2) == NULL);
        check(q2.format == q.format && q2.sessions == q.sessions
              && q2.since == q.since && q2.state_len == q.state_len
              && q2.upstream_len == q.upstream_len);
    }

    free(buf);

    return 0;
}
