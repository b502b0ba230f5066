
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 */


#include <string.h>

#include "ngx_http_ws_heartbeat_frame.h"


#define NGX_HTTP_WSHB_MASK         0x80

#define NGX_HTTP_WSHB_NO_MATCH     0
#define NGX_HTTP_WSHB_PARTIAL      1
#define NGX_HTTP_WSHB_MATCH        2


static size_t ngx_http_ws_heartbeat_header_size(uint8_t b0, uint8_t b1);
static unsigned ngx_http_ws_heartbeat_header(ngx_http_ws_heartbeat_parser_t *p,
    const uint8_t *h);
static unsigned ngx_http_ws_heartbeat_match(ngx_http_ws_heartbeat_parser_t *p,
    const uint8_t *cookie, const uint8_t *b, size_t n, uint32_t *seq);
static unsigned ngx_http_ws_heartbeat_match_whole(const uint8_t *cookie,
    const uint8_t *payload, const uint8_t *mask, uint32_t *seq);


/* ngx_http_ws_heartbeat_busy() reads these four bytes at once */
typedef char  ngx_http_ws_heartbeat_flags_adjacent[
    (offsetof(ngx_http_ws_heartbeat_parser_t, in_message)
         == offsetof(ngx_http_ws_heartbeat_parser_t, hlen) + 1
     && offsetof(ngx_http_ws_heartbeat_parser_t, slen)
         == offsetof(ngx_http_ws_heartbeat_parser_t, hlen) + 2
     && offsetof(ngx_http_ws_heartbeat_parser_t, divert)
         == offsetof(ngx_http_ws_heartbeat_parser_t, hlen) + 3) ? 1 : -1];


static const char  *ngx_http_ws_heartbeat_errors[] = {
    "no error",
    "reserved opcode",
    "invalid control frame",
    "wrong masking for this direction",
    "payload length out of range",
    "broken fragmentation"
};


void
ngx_http_ws_heartbeat_parser_init(ngx_http_ws_heartbeat_parser_t *p,
    int masked)
{
    memset(p, 0, sizeof(ngx_http_ws_heartbeat_parser_t));

    p->masked = masked ? 1 : 0;
}


/*
 * Parses buf[0..len) in place.  Our pongs (with the cookie, which the
 * caller keeps and gives to every parse of the stream) are cut out, a pong
 * that may be ours but is not complete yet is withheld in the stash (the
 * caller puts it back in front of the next bytes with
 * ngx_http_ws_heartbeat_unstash()).
 * Everything else stays byte for byte.  Returns the length of the output;
 * counts what it saw in the parser.  If boundary is not NULL, it receives
 * the offset of the first frame boundary in the output, or
 * NGX_HTTP_WSHB_NO_BOUNDARY.  After a protocol error the rest of the
 * input, and everything later, is passed through untouched.
 */

size_t
ngx_http_ws_heartbeat_parse(ngx_http_ws_heartbeat_parser_t *p,
    const uint8_t *cookie, uint8_t *buf, size_t len, size_t *boundary)
{
    size_t     n, need, first, plen;
    uint8_t   *r, *w, *end, b1;
    uint32_t   seq;
    uint64_t   frames;
    unsigned   rc, op;

    first = NGX_HTTP_WSHB_NO_BOUNDARY;

    if (p->error) {
        goto done;
    }

    r = buf;
    end = buf + len;

    /* the common case first: nothing to remove, nothing to copy */

    if (p->hlen == 0 && p->left < len) {
        first = (size_t) p->left;
    }

    r += ngx_http_ws_heartbeat_skip(p, buf, len, p->masked, 0, &frames);

    w = r;

    while (r < end) {

        if (p->left) {
            n = (size_t) (end - r);

            if ((uint64_t) n > p->left) {
                n = (size_t) p->left;
            }

            if (w != r) {
                memmove(w, r, n);
            }

            w += n;
            r += n;
            p->left -= n;
            continue;
        }

        if (p->hlen == 0) {

            if (first == NGX_HTTP_WSHB_NO_BOUNDARY) {
                first = (size_t) (w - buf);
            }

            if (p->armed
                && r[0] == (NGX_HTTP_WSHB_FIN | NGX_HTTP_WSHB_OP_PONG))
            {
                need = p->masked ? 6 + NGX_HTTP_WSHB_PAYLOAD_LEN
                                 : 2 + NGX_HTTP_WSHB_PAYLOAD_LEN;
                n = (size_t) (end - r);

                rc = ngx_http_ws_heartbeat_match(p, cookie, r,
                                                 n < need ? n : need, &seq);

                if (rc == NGX_HTTP_WSHB_MATCH) {
                    p->control_frames++;
                    p->pongs++;
                    p->pong_seq = seq;
                    r += need;
                    continue;
                }

                if (rc == NGX_HTTP_WSHB_PARTIAL) {
                    memcpy(p->buf, r, n);
                    p->slen = (uint8_t) n;
                    break;
                }
            }

            if (end - r >= 2) {
                b1 = r[1];

                /* the common case: a whole text or binary frame, 7-bit */

                if (!p->in_message
                    && ngx_http_ws_heartbeat_simple(r, p->masked, op, plen)
                    && (size_t) (end - r) >= 2 + 4 * (size_t) p->masked)
                {
                    need = 2 + 4 * (size_t) p->masked;

                    p->data_frames++;
                    p->left = plen;

                    if (w != r) {
                        memmove(w, r, need);
                    }

                    w += need;
                    r += need;
                    continue;
                }

                need = ngx_http_ws_heartbeat_header_size(r[0], b1);

                if ((size_t) (end - r) >= need) {

                    if (ngx_http_ws_heartbeat_header(p, r)) {
                        goto failed;
                    }

                    if (w != r) {
                        memmove(w, r, need);
                    }

                    w += need;
                    r += need;
                    continue;
                }
            }
        }

        /* a header split across reads: collect it byte by byte */

        p->buf[p->hlen++] = *r;
        *w++ = *r++;

        if (p->hlen >= 2
            && p->hlen == ngx_http_ws_heartbeat_header_size(p->buf[0],
                                                            p->buf[1]))
        {
            if (ngx_http_ws_heartbeat_header(p, p->buf)) {
                goto failed;
            }

            p->hlen = 0;
        }
    }

    if (first == NGX_HTTP_WSHB_NO_BOUNDARY
        && ngx_http_ws_heartbeat_at_boundary(p))
    {
        first = (size_t) (w - buf);
    }

    len = (size_t) (w - buf);

    goto done;

failed:

    n = (size_t) (end - r);

    if (w != r) {
        memmove(w, r, n);
    }

    len = (size_t) (w - buf) + n;

done:

    if (boundary) {
        *boundary = first;
    }

    return len;
}


size_t
ngx_http_ws_heartbeat_unstash(ngx_http_ws_heartbeat_parser_t *p, uint8_t *buf)
{
    size_t  n;

    n = p->slen;

    if (n) {
        memcpy(buf, p->buf, n);
        p->slen = 0;
    }

    return n;
}


void
ngx_http_ws_heartbeat_restash(ngx_http_ws_heartbeat_parser_t *p,
    const uint8_t *buf, size_t len)
{
    memcpy(p->buf, buf, len);
    p->slen = (uint8_t) len;
}


static size_t
ngx_http_ws_heartbeat_header_size(uint8_t b0, uint8_t b1)
{
    size_t  n;

    (void) b0;

    n = 2;

    if ((b1 & 0x7f) == 126) {
        n += 2;

    } else if ((b1 & 0x7f) == 127) {
        n += 8;
    }

    if (b1 & NGX_HTTP_WSHB_MASK) {
        n += 4;
    }

    return n;
}


static unsigned
ngx_http_ws_heartbeat_header(ngx_http_ws_heartbeat_parser_t *p,
    const uint8_t *h)
{
    uint64_t  len;
    unsigned  fin, opcode, i;

    fin = h[0] & NGX_HTTP_WSHB_FIN;
    opcode = h[0] & 0x0f;

    if (((h[1] & NGX_HTTP_WSHB_MASK) != 0) != (p->masked != 0)) {
        p->error = NGX_HTTP_WSHB_ERR_MASK;
        return p->error;
    }

    len = h[1] & 0x7f;

    if (len == 126) {
        len = ((uint64_t) h[2] << 8) | h[3];

    } else if (len == 127) {
        len = 0;

        for (i = 2; i < 10; i++) {
            len = (len << 8) | h[i];
        }

        if (len >> 63) {
            p->error = NGX_HTTP_WSHB_ERR_LENGTH;
            return p->error;
        }
    }

    switch (opcode) {

    case NGX_HTTP_WSHB_OP_CONT:
        if (!p->in_message) {
            p->error = NGX_HTTP_WSHB_ERR_FRAGMENT;
            return p->error;
        }

        p->in_message = fin ? 0 : 1;
        p->data_frames++;
        break;

    case NGX_HTTP_WSHB_OP_TEXT:
    case NGX_HTTP_WSHB_OP_BINARY:
        if (p->in_message) {
            p->error = NGX_HTTP_WSHB_ERR_FRAGMENT;
            return p->error;
        }

        p->in_message = fin ? 0 : 1;
        p->data_frames++;
        break;

    case NGX_HTTP_WSHB_OP_CLOSE:
    case NGX_HTTP_WSHB_OP_PING:
    case NGX_HTTP_WSHB_OP_PONG:
        /* at most 125 bytes, hence always in the 7-bit length field */

        if (!fin || (h[1] & 0x7f) > 125) {
            p->error = NGX_HTTP_WSHB_ERR_CONTROL;
            return p->error;
        }

        if (opcode == NGX_HTTP_WSHB_OP_CLOSE) {
            p->closed = 1;
        }

        p->control_frames++;
        break;

    default:
        p->error = NGX_HTTP_WSHB_ERR_OPCODE;
        return p->error;
    }

    p->left = len;

    return NGX_HTTP_WSHB_OK;
}


/*
 * Does b[0..n) start one of our pongs?  b[0] is known to be FIN + pong.
 * The masked payload is compared without unmasking it in place.
 */

static unsigned
ngx_http_ws_heartbeat_match(ngx_http_ws_heartbeat_parser_t *p,
    const uint8_t *cookie, const uint8_t *b, size_t n, uint32_t *seq)
{
    size_t          i, off, full;
    uint8_t         c;
    const uint8_t  *mask;

    if (n < 2) {
        return NGX_HTTP_WSHB_PARTIAL;
    }

    if (b[1] != ((p->masked ? NGX_HTTP_WSHB_MASK : 0)
                 | NGX_HTTP_WSHB_PAYLOAD_LEN))
    {
        return NGX_HTTP_WSHB_NO_MATCH;
    }

    off = p->masked ? 6 : 2;
    full = off + NGX_HTTP_WSHB_PAYLOAD_LEN;

    if (n < off) {
        return NGX_HTTP_WSHB_PARTIAL;
    }

    mask = p->masked ? &b[2] : NULL;

    if (n >= full) {
        return ngx_http_ws_heartbeat_match_whole(cookie, &b[off], mask, seq);
    }

    /* part of it: as far as it goes, byte by byte */

    for (i = 0; i < NGX_HTTP_WSHB_PREFIX_LEN && off + i < n; i++) {
        c = b[off + i];

        if (mask) {
            c ^= mask[i & 3];
        }

        if (c != (i < 4 ? (uint8_t) NGX_HTTP_WSHB_MAGIC[i]
                        : cookie[i - 4]))
        {
            return NGX_HTTP_WSHB_NO_MATCH;
        }
    }

    return NGX_HTTP_WSHB_PARTIAL;
}


/*
 * The header of a whole frame (FIN set) of that opcode and payload length,
 * in the shortest length field, with the mask if one is given; returns
 * its length, at most NGX_HTTP_WSHB_HEADER_MAX.  The payload, masked or
 * not, is the caller's.
 */

size_t
ngx_http_ws_heartbeat_build_header(uint8_t *out, unsigned opcode,
    uint64_t len, const uint8_t *mask)
{
    size_t   off, i;
    uint8_t  m;

    m = mask ? NGX_HTTP_WSHB_MASK : 0;
    out[0] = (uint8_t) (NGX_HTTP_WSHB_FIN | opcode);

    if (len < 126) {
        out[1] = (uint8_t) (m | len);
        off = 2;

    } else if (len < 65536) {
        out[1] = m | 126;
        out[2] = (uint8_t) (len >> 8);
        out[3] = (uint8_t) len;
        off = 4;

    } else {
        out[1] = m | 127;

        for (i = 0; i < 8; i++) {
            out[2 + i] = (uint8_t) (len >> (56 - 8 * i));
        }

        off = 10;
    }

    if (mask) {
        memcpy(&out[off], mask, 4);
        off += 4;
    }

    return off;
}


size_t
ngx_http_ws_heartbeat_build_ping(uint8_t *out, const uint8_t *cookie,
    uint32_t seq, const uint8_t *mask)
{
    size_t    i, off;
    uint8_t  *payload;

    off = ngx_http_ws_heartbeat_build_header(out, NGX_HTTP_WSHB_OP_PING,
                                             NGX_HTTP_WSHB_PAYLOAD_LEN, mask);
    payload = &out[off];

    memcpy(payload, NGX_HTTP_WSHB_MAGIC, 4);
    memcpy(payload + 4, cookie, NGX_HTTP_WSHB_COOKIE_LEN);
    payload[12] = (uint8_t) (seq >> 24);
    payload[13] = (uint8_t) (seq >> 16);
    payload[14] = (uint8_t) (seq >> 8);
    payload[15] = (uint8_t) seq;

    if (mask) {
        for (i = 0; i < NGX_HTTP_WSHB_PAYLOAD_LEN; i++) {
            payload[i] ^= mask[i & 3];
        }
    }

    return off + NGX_HTTP_WSHB_PAYLOAD_LEN;
}


size_t
ngx_http_ws_heartbeat_build_close(uint8_t *out, unsigned code,
    const char *reason, size_t len, const uint8_t *mask)
{
    size_t    i, off;
    uint8_t  *payload;

    if (len > NGX_HTTP_WSHB_REASON_MAX) {
        len = NGX_HTTP_WSHB_REASON_MAX;
    }

    off = ngx_http_ws_heartbeat_build_header(out, NGX_HTTP_WSHB_OP_CLOSE,
                                             2 + len, mask);
    payload = &out[off];

    payload[0] = (uint8_t) (code >> 8);
    payload[1] = (uint8_t) code;
    memcpy(&payload[2], reason, len);

    if (mask) {
        for (i = 0; i < 2 + len; i++) {
            payload[i] ^= mask[i & 3];
        }
    }

    return off + 2 + len;
}


const char *
ngx_http_ws_heartbeat_strerror(unsigned error)
{
    if (error >= sizeof(ngx_http_ws_heartbeat_errors)
                 / sizeof(ngx_http_ws_heartbeat_errors[0]))
    {
        return "unknown error";
    }

    return ngx_http_ws_heartbeat_errors[error];
}


/*
 * A whole pong payload, a word at a time: every pong of ours is read
 * here once, so it should cost little next to the recv that brought it.
 * The mask applies to the payload's bytes in turn, which a 32-bit XOR
 * does whatever the byte order.
 */

static unsigned
ngx_http_ws_heartbeat_match_whole(const uint8_t *cookie,
    const uint8_t *payload, const uint8_t *mask, uint32_t *seq)
{
    uint8_t   tail[4];
    uint32_t  w[4], want[3], m;

    memcpy(w, payload, sizeof(w));

    if (mask) {
        memcpy(&m, mask, sizeof(m));

        w[0] ^= m;
        w[1] ^= m;
        w[2] ^= m;
        w[3] ^= m;
    }

    memcpy(want, NGX_HTTP_WSHB_MAGIC, 4);
    memcpy(&want[1], cookie, NGX_HTTP_WSHB_COOKIE_LEN);

    if (((w[0] ^ want[0]) | (w[1] ^ want[1]) | (w[2] ^ want[2])) != 0) {
        return NGX_HTTP_WSHB_NO_MATCH;
    }

    memcpy(tail, &w[3], sizeof(tail));

    *seq = ((uint32_t) tail[0] << 24) | ((uint32_t) tail[1] << 16)
           | ((uint32_t) tail[2] << 8) | tail[3];

    return NGX_HTTP_WSHB_MATCH;
}


/*
 * The length of the UTF-8 sequence at p[0..n), 1 to 4, or 0 if none
 * starts there (RFC 3629: no overlong forms, no surrogates, nothing past
 * U+10FFFF, and every continuation byte 10xxxxxx)
 */

size_t
ngx_http_ws_heartbeat_utf8_len(const uint8_t *p, size_t n)
{
    size_t    len, i;
    uint32_t  u, min;

    if (n == 0) {
        return 0;
    }

    u = p[0];

    if (u < 0x80) {
        return 1;
    }

    if (u >= 0xc2 && u <= 0xdf) {
        len = 2;
        u &= 0x1f;
        min = 0x80;

    } else if (u >= 0xe0 && u <= 0xef) {
        len = 3;
        u &= 0x0f;
        min = 0x800;

    } else if (u >= 0xf0 && u <= 0xf4) {
        len = 4;
        u &= 0x07;
        min = 0x10000;

    } else {
        return 0;
    }

    if (n < len) {
        return 0;
    }

    for (i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }

        u = (u << 6) | (p[i] & 0x3f);
    }

    if (u < min || u > 0x10ffff || (u >= 0xd800 && u <= 0xdfff)) {
        return 0;
    }

    return len;
}


/*
 * The character of a UTF-8 sequence of len bytes at p (as
 * ngx_http_ws_heartbeat_utf8_len() found it) if it is one that terminals
 * and browsers obey rather than show: a C1 control (U+0080 to U+009F) or
 * a bidi embedding, override or isolate (U+202A to U+202E, U+2066 to
 * U+2069); 0 for any other
 */

uint32_t
ngx_http_ws_heartbeat_utf8_hidden(const uint8_t *p, size_t len)
{
    uint32_t  u;

    if (len == 2 && p[0] == 0xc2 && p[1] < 0xa0) {
        return p[1];
    }

    if (len != 3 || p[0] != 0xe2) {
        return 0;
    }

    u = 0x2000 | ((uint32_t) (p[1] & 0x3f) << 6) | (p[2] & 0x3f);

    if ((u >= 0x202a && u <= 0x202e) || (u >= 0x2066 && u <= 0x2069)) {
        return u;
    }

    return 0;
}


/* whether all of p[0..n) is UTF-8 */

int
ngx_http_ws_heartbeat_utf8_valid(const uint8_t *p, size_t n)
{
    size_t  len;

    while (n) {
        len = ngx_http_ws_heartbeat_utf8_len(p, n);

        if (len == 0) {
            return 0;
        }

        p += len;
        n -= len;
    }

    return 1;
}
