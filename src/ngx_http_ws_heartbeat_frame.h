
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 *
 * RFC 6455 frame codec: tracks frame boundaries in a byte stream, removes
 * pongs that answer our own pings and builds the frames we inject.
 * Pure C, no nginx dependency: unit tested and fuzzed on its own.
 */


#ifndef _NGX_HTTP_WS_HEARTBEAT_FRAME_H_INCLUDED_
#define _NGX_HTTP_WS_HEARTBEAT_FRAME_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <string.h>


/* ping payload: magic (4), a cookie to know our pongs by (8), sequence (4) */
#define NGX_HTTP_WSHB_MAGIC          "WSHB"
#define NGX_HTTP_WSHB_COOKIE_LEN     8
#define NGX_HTTP_WSHB_PREFIX_LEN     12
#define NGX_HTTP_WSHB_PAYLOAD_LEN    16
#define NGX_HTTP_WSHB_PING_MAX       (2 + 4 + NGX_HTTP_WSHB_PAYLOAD_LEN)

/* close frame: code (2) and a reason; control payloads are <= 125 */
#define NGX_HTTP_WSHB_REASON_MAX     123
#define NGX_HTTP_WSHB_CLOSE_MAX      (2 + 4 + 2 + NGX_HTTP_WSHB_REASON_MAX)

#define NGX_HTTP_WSHB_NO_BOUNDARY    ((size_t) -1)

/* a frame header: 2 bytes, a 64-bit length, a mask */
#define NGX_HTTP_WSHB_HEADER_MAX     (2 + 8 + 4)

/* the first byte of a frame: FIN, and the opcode */
#define NGX_HTTP_WSHB_FIN            0x80
#define NGX_HTTP_WSHB_OP_CONT        0x0
#define NGX_HTTP_WSHB_OP_TEXT        0x1
#define NGX_HTTP_WSHB_OP_BINARY      0x2
#define NGX_HTTP_WSHB_OP_CLOSE       0x8
#define NGX_HTTP_WSHB_OP_PING        0x9
#define NGX_HTTP_WSHB_OP_PONG        0xa

#define NGX_HTTP_WSHB_OK             0
#define NGX_HTTP_WSHB_ERR_OPCODE     1
#define NGX_HTTP_WSHB_ERR_CONTROL    2
#define NGX_HTTP_WSHB_ERR_MASK       3
#define NGX_HTTP_WSHB_ERR_LENGTH     4
#define NGX_HTTP_WSHB_ERR_FRAGMENT   5


/* branch hints for the per-read path */
#if defined(__GNUC__)
#define ngx_http_ws_heartbeat_likely(x)  __builtin_expect(!!(x), 1)
#else
#define ngx_http_ws_heartbeat_likely(x)  (x)
#endif


typedef struct {
    uint64_t   left;            /* payload bytes left in the current frame */
    uint64_t   data_frames;     /* text, binary, continuation: headers seen */
    uint32_t   control_frames;  /* close, ping, pong */
    uint32_t   pongs;           /* our pongs removed from the stream */
    uint32_t   pong_seq;        /* sequence number of the last one */

    /*
     * Either the bytes of a header split across reads (hlen of them) or
     * the start of what may be our pong, withheld (slen): never both, as
     * a pong is withheld only where a header starts, and it is handed
     * back before the next parse.  A withheld pong is at least one byte
     * short of whole, and a header has at most 14 bytes.
     */
    uint8_t    buf[NGX_HTTP_WSHB_PING_MAX - 1];

    /* side by side: the recv wrappers test the four with one load */
    uint8_t    hlen;
    uint8_t    in_message;      /* inside a fragmented data message */
    uint8_t    slen;
    uint8_t    divert;          /* set by the caller, ignored by the
                                   parser: see ..._busy() */
    uint8_t    error;           /* NGX_HTTP_WSHB_ERR_*, sticky */

    unsigned   masked:1;        /* frames from this peer carry a mask */
    unsigned   armed:1;         /* our pings went out: look for pongs */
    unsigned   closed:1;        /* a close frame came */
} ngx_http_ws_heartbeat_parser_t;


void ngx_http_ws_heartbeat_parser_init(ngx_http_ws_heartbeat_parser_t *p,
    int masked);
size_t ngx_http_ws_heartbeat_parse(ngx_http_ws_heartbeat_parser_t *p,
    const uint8_t *cookie, uint8_t *buf, size_t len, size_t *boundary);
size_t ngx_http_ws_heartbeat_unstash(ngx_http_ws_heartbeat_parser_t *p,
    uint8_t *buf);
void ngx_http_ws_heartbeat_restash(ngx_http_ws_heartbeat_parser_t *p,
    const uint8_t *buf, size_t len);
size_t ngx_http_ws_heartbeat_build_header(uint8_t *out, unsigned opcode,
    uint64_t len, const uint8_t *mask);
size_t ngx_http_ws_heartbeat_build_ping(uint8_t *out, const uint8_t *cookie,
    uint32_t seq, const uint8_t *mask);
size_t ngx_http_ws_heartbeat_build_close(uint8_t *out, unsigned code,
    const char *reason, size_t len, const uint8_t *mask);
const char *ngx_http_ws_heartbeat_strerror(unsigned error);
size_t ngx_http_ws_heartbeat_utf8_len(const uint8_t *p, size_t n);
int ngx_http_ws_heartbeat_utf8_valid(const uint8_t *p, size_t n);
uint32_t ngx_http_ws_heartbeat_utf8_hidden(const uint8_t *p, size_t len);


/*
 * The frame that is stepped over at once, by the skip below and by the
 * parser: FIN, no opcode but text (1) or binary (2), the mask bit as the
 * direction requires (a length that lacks it, or has it wrongly, comes
 * out above 125), and a 7-bit length, which is left in plen.  op is an
 * unsigned scratch.  Whether a fragmented message is under way (where
 * such a frame is an error) is for the caller to know.
 */

#define ngx_http_ws_heartbeat_simple(h, masked, op, plen)                     \
    (op = (unsigned) ((h)[0] & 0x8f) - 0x81,                                 \
     plen = (size_t) (h)[1] - ((masked) ? 0x80 : 0),                         \
     op <= 1 && plen <= 125)


/*
 * Steps over the rest of a payload and then over whole text and binary
 * frames with 7-bit lengths, the bulk of most streams: nothing in them is
 * ever removed, so they need no copying and no boundary bookkeeping.
 * Returns how many bytes of buf it took and, in *frames, how many frame
 * headers it read; ngx_http_ws_heartbeat_parse() reads whatever follows.
 * Inline, with masked (p->masked) a constant where the caller knows the
 * direction, and plain set where it has seen that the read starts at a
 * frame boundary (no payload left over, no split header) outside a
 * fragmented message: it runs for every read, so the loop keeps its
 * state in locals (stores through p could alias buf).
 */

static inline size_t
ngx_http_ws_heartbeat_skip(ngx_http_ws_heartbeat_parser_t *p,
    const uint8_t *buf, size_t len, unsigned masked, unsigned plain,
    uint64_t *frames)
{
    size_t     o, need, plen;
    uint64_t   left, n;
    unsigned   op;
    ptrdiff_t  last, rest;

    left = plain ? 0 : p->left;
    *frames = 0;

    if (left) {
        if (left >= len) {
            p->left = left - len;
            return len;
        }

        p->left = 0;
    }

    o = (size_t) left;

    if (!plain && (p->hlen || p->in_message)) {
        return o;
    }

    need = masked ? 6 : 2;
    n = 0;

    /*
     * The last offset a whole header can start at; below 0 for a read
     * shorter than one.  o may run past len, by the part of the last
     * payload still to come.
     */

    last = (ptrdiff_t) len - (ptrdiff_t) need;

    /* a read from a boundary mostly holds one frame: that one unrolled */

    if (plain) {
        if (last < 0 || !ngx_http_ws_heartbeat_simple(buf, masked, op, plen)) {
            return 0;
        }

        n = 1;
        o = need + plen;
    }

    while ((ptrdiff_t) o <= last
           && ngx_http_ws_heartbeat_simple(buf + o, masked, op, plen))
    {
        n++;
        o += need + plen;
    }

    p->data_frames += n;
    *frames = n;

    /*
     * All of buf taken, the last payload perhaps not yet whole: one
     * subtraction tells both (o - len is 0 where the payload ends with
     * the read, the common case)
     */

    rest = (ptrdiff_t) (o - len);

    if (ngx_http_ws_heartbeat_likely(rest >= 0)) {
        p->left = (uint64_t) rest;
        return len;
    }

    return o;
}


/*
 * Nonzero if a read must not take the recv wrappers' fast path: a payload
 * or a header continues, a fragmented message is in progress, bytes are
 * withheld, or the caller diverts it.  One load for the four flags, which
 * sit side by side, and one for the payload left.
 */

static inline uint64_t
ngx_http_ws_heartbeat_busy(const ngx_http_ws_heartbeat_parser_t *p)
{
    uint32_t  flags;

    memcpy(&flags, (const uint8_t *) p
                   + offsetof(ngx_http_ws_heartbeat_parser_t, hlen),
           sizeof(flags));

    return p->left | flags;
}


/* frames whose header completed */

#define ngx_http_ws_heartbeat_frames(p)                                       \
    ((p)->data_frames + (p)->control_frames)


/* a frame boundary sits at the end of what the parser has let through */
#define ngx_http_ws_heartbeat_at_boundary(p)                                  \
    ((p)->hlen == 0 && (p)->left == 0 && (p)->error == 0)


#endif /* _NGX_HTTP_WS_HEARTBEAT_FRAME_H_INCLUDED_ */
