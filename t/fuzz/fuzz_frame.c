
/*
 * libFuzzer target for the frame codec.  The input is a byte stream cut
 * at fuzzer-chosen points and fed through the codec the way the recv
 * wrapper does (stash, then the inline skip and parse, or parse alone
 * where a boundary is wanted).  Checked against a whole-buffer
 * reference: the output must equal the input minus exactly our pongs,
 * the data and close frames counted must be the same, every boundary
 * reported must be a frame start of the output, and nothing may be read
 * or written out of bounds (AddressSanitizer).
 *
 * Input layout: flags (1), number of cuts (1), cuts (2 each), stream.
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_http_ws_heartbeat_frame.h"


static const uint8_t  prefix[NGX_HTTP_WSHB_PREFIX_LEN] = {
    'W', 'S', 'H', 'B', 0, 0, 0, 0, 0, 0, 0, 0
};


/*
 * A simple whole-buffer reading of the same rules.  starts[o] is set where
 * a frame begins in the output; data and closes count the frames whose
 * header is complete.
 */

static size_t
reference(const uint8_t *in, size_t n, int masked, int armed, uint8_t *out,
    uint8_t *starts, uint64_t *data, uint64_t *closes)
{
    int       in_msg;
    size_t    i, o, hl, k, take;
    uint8_t   b0, b1, op, fin, c;
    uint64_t  len, total;

    i = 0;
    o = 0;
    in_msg = 0;

    while (i < n) {
        starts[o] = 1;

        if (n - i < 2) {
            goto rest;
        }

        b0 = in[i];
        b1 = in[i + 1];
        len = b1 & 0x7f;
        hl = 2 + (len == 126 ? 2 : len == 127 ? 8 : 0) + ((b1 & 0x80) ? 4 : 0);

        if (n - i < hl) {
            goto rest;
        }

        if (len == 126) {
            len = ((uint64_t) in[i + 2] << 8) | in[i + 3];

        } else if (len == 127) {
            len = 0;
            for (k = 0; k < 8; k++) {
                len = (len << 8) | in[i + 2 + k];
            }
        }

        op = b0 & 0x0f;
        fin = b0 & 0x80;

        if (((b1 & 0x80) != 0) != (masked != 0) || (len >> 63)) {
            goto rest;
        }

        if (op == 0) {
            if (!in_msg) {
                goto rest;
            }
            in_msg = !fin;

        } else if (op == 1 || op == 2) {
            if (in_msg) {
                goto rest;
            }
            in_msg = !fin;

        } else if (op >= 8 && op <= 10) {
            if (!fin || (b1 & 0x7f) > 125) {
                goto rest;
            }

        } else {
            goto rest;
        }

        if (op <= 2) {
            (*data)++;

        } else if (op == 8) {
            (*closes)++;
        }

        total = hl + len;

        if (armed && b0 == 0x8a && len == NGX_HTTP_WSHB_PAYLOAD_LEN
            && n - i >= total)
        {
            for (k = 0; k < NGX_HTTP_WSHB_PREFIX_LEN; k++) {
                c = in[i + hl + k];
                if (masked) {
                    c ^= in[i + hl - 4 + (k & 3)];
                }
                if (c != prefix[k]) {
                    break;
                }
            }

            if (k == NGX_HTTP_WSHB_PREFIX_LEN) {
                i += total;
                continue;
            }
        }

        take = (total < n - i) ? (size_t) total : n - i;
        memcpy(out + o, in + i, take);
        o += take;
        i += take;
    }

    starts[o] = 1;
    return o;

rest:

    memcpy(out + o, in + i, n - i);
    return o + n - i;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                             masked, armed;
    size_t                          ncuts, i, from, to, k, n, olen, rlen, len;
    size_t                          cuts[8], boundary;
    uint64_t                        data_frames, closes, frames;
    uint8_t                        *buf, *out, *ref, *starts;
    const uint8_t                  *in;
    ngx_http_ws_heartbeat_parser_t  p;

    if (size < 2) {
        return 0;
    }

    masked = data[0] & 1;
    armed = (data[0] >> 1) & 1;
    ncuts = data[1] % 8;

    if (size < 2 + 2 * ncuts) {
        return 0;
    }

    in = data + 2 + 2 * ncuts;
    len = size - 2 - 2 * ncuts;

    for (i = 0; i < ncuts; i++) {
        cuts[i] = (((size_t) data[2 + 2 * i] << 8) | data[3 + 2 * i]);
        cuts[i] = len ? cuts[i] % (len + 1) : 0;

        if (i && cuts[i] < cuts[i - 1]) {
            cuts[i] = cuts[i - 1];
        }
    }

    /* each piece lands in an exactly sized heap buffer, plus the stash */

    out = malloc(len + 1);
    ref = malloc(len + 1);
    starts = calloc(len + 1, 1);
    data_frames = 0;
    closes = 0;

    rlen = reference(in, len, masked, armed, ref, starts, &data_frames,
                     &closes);

    ngx_http_ws_heartbeat_parser_init(&p, masked);
    p.armed = armed;

    from = 0;
    olen = 0;

    for (i = 0; i <= ncuts; i++) {
        to = (i < ncuts) ? cuts[i] : len;

        buf = malloc(p.slen + (to - from) + 1);
        k = ngx_http_ws_heartbeat_unstash(&p, buf);
        memcpy(buf + k, in + from, to - from);

        /* as the recv wrapper: the inline skip first, unless a boundary
         * is wanted; its fast path (plain) when nothing was withheld and
         * the read starts at a frame boundary outside a fragmented
         * message (ngx_http_ws_heartbeat_busy() is 0) */

        if (i & 1) {
            n = ngx_http_ws_heartbeat_parse(&p, prefix + 4, buf,
                                            k + to - from, &boundary);

        } else {
            n = ngx_http_ws_heartbeat_skip(&p, buf, k + to - from, masked,
                                           k == 0
                                           && !ngx_http_ws_heartbeat_busy(&p),
                                           &frames);
            if (n < k + to - from) {
                n += ngx_http_ws_heartbeat_parse(&p, prefix + 4, buf + n,
                                                 k + to - from - n, NULL);
            }
        }

        if (n > k + to - from
            || ((i & 1) && boundary != NGX_HTTP_WSHB_NO_BOUNDARY
                && boundary > n))
        {
            abort();
        }

        if ((i & 1) && boundary != NGX_HTTP_WSHB_NO_BOUNDARY
            && olen + boundary <= rlen && !starts[olen + boundary])
        {
            abort();
        }

        memcpy(out + olen, buf, n);
        olen += n;
        free(buf);
        from = to;
    }

    buf = malloc(NGX_HTTP_WSHB_PING_MAX);
    k = ngx_http_ws_heartbeat_unstash(&p, buf);
    memcpy(out + olen, buf, k);
    olen += k;
    free(buf);

    if (olen != rlen || memcmp(out, ref, olen) != 0) {
        abort();
    }

    if (p.error == 0
        && (p.data_frames != data_frames || p.closed != (closes != 0)))
    {
        abort();
    }

    free(out);
    free(ref);
    free(starts);

    return 0;
}
