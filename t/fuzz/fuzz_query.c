
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


/* a value given points into the buffer; one not given is empty */

static int
in(const uint8_t *buf, size_t size, ngx_http_ws_heartbeat_span_t *v)
{
    return v->len == 0
           || (v->data >= buf && v->data + v->len <= buf + size
               && v->len <= NGX_HTTP_WSHB_FILTER_MAX + 64);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t                          i;
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
        check(reason[0] != '\0' && strlen(reason) < 192);
        free(buf);
        return 0;
    }

    check(q.format <= NGX_HTTP_WSHB_FORMAT_HTML);
    check(q.sessions <= NGX_HTTP_WSHB_SESSIONS_MAX);
    check(q.since_set || q.since == 0);

    check(in(buf, size, &q.state) && in(buf, size, &q.upstream)
          && in(buf, size, &q.client) && in(buf, size, &q.uri)
          && in(buf, size, &q.reason));
    check(q.id.len == 0 || q.id.len == NGX_HTTP_WSHB_ID_LEN);
    check(q.ntags <= NGX_HTTP_WSHB_MAX_TAGS);
    check(q.reason.len <= 123);
    check(q.code == 0 || ngx_http_ws_heartbeat_close_code_valid(q.code));

    for (i = 0; i < q.ntags; i++) {
        check(ngx_http_ws_heartbeat_tag_name_valid(q.tag_name[i].data,
                                                   q.tag_name[i].len));
        check(q.tag_value[i].len <= NGX_HTTP_WSHB_TAG_VALUE_LEN);
        check(q.tag_value[i].len == 0 || in(buf, size, &q.tag_value[i]));
    }

    /* without '%' and '+' unescaping changes nothing: parsing again agrees */

    if (memchr(data, '%', size) == NULL && memchr(data, '+', size) == NULL) {
        ngx_http_ws_heartbeat_query_t  q2;

        memcpy(buf, data, size);
        check(ngx_http_ws_heartbeat_parse_query(buf, size, &q2) == NULL);
        check(q2.format == q.format && q2.sessions == q.sessions
              && q2.since == q.since && q2.state.len == q.state.len
              && q2.upstream.len == q.upstream.len
              && q2.filters == q.filters && q2.ntags == q.ntags);
    }

    free(buf);

    return 0;
}
