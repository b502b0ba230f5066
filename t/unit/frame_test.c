
/*
 * Unit tests for the pure frame codec; prints TAP for prove.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_http_ws_heartbeat_frame.h"


static int  tests, failures;

static const uint8_t  prefix[NGX_HTTP_WSHB_COOKIE_LEN] = {
    1, 2, 3, 4, 5, 6, 7, 8
};

static const uint8_t  other[NGX_HTTP_WSHB_COOKIE_LEN] = {
    1, 2, 3, 4, 5, 6, 7, 9
};


static void
ok(int cond, const char *name)
{
    tests++;

    if (!cond) {
        failures++;
        printf("not ");
    }

    printf("ok %d - %s\n", tests, name);
}


/* appends one frame; returns its length */

static size_t
frame(uint8_t *out, unsigned b0, int masked, uint64_t len, uint8_t fill)
{
    size_t    n, i;
    uint8_t   mask[4] = { 0x11, 0x22, 0x33, 0x44 };

    out[0] = (uint8_t) b0;
    n = 2;

    if (len < 126) {
        out[1] = (uint8_t) len;

    } else if (len < 65536) {
        out[1] = 126;
        out[2] = (uint8_t) (len >> 8);
        out[3] = (uint8_t) len;
        n = 4;

    } else {
        out[1] = 127;

        for (i = 0; i < 8; i++) {
            out[2 + i] = (uint8_t) (len >> (56 - 8 * i));
        }

        n = 10;
    }

    if (masked) {
        out[1] |= 0x80;
        memcpy(&out[n], mask, 4);
        n += 4;
    }

    memset(&out[n], fill, len);

    return n + len;
}


typedef struct {
    uint8_t   out[1 << 20];
    size_t    olen;
    uint32_t  pongs, seq, data, closes, frames;
} result_t;


/* the cookie that the parses of the stream get, as a session keeps it */

static const uint8_t  *cookie;


static void
init(ngx_http_ws_heartbeat_parser_t *p, int masked, const uint8_t *c)
{
    ngx_http_ws_heartbeat_parser_init(p, masked);
    cookie = c;
}


/* feeds stream in pieces cut at the given offsets, as a recv wrapper does */

static void
feed(ngx_http_ws_heartbeat_parser_t *p, const uint8_t *in, size_t len,
    const size_t *cuts, size_t ncuts, result_t *res)
{
    size_t          i, from, to, k, n, boundary;
    static uint8_t  buf[1 << 20];

    memset(res, 0, sizeof(result_t));
    from = 0;

    for (i = 0; i <= ncuts; i++) {
        to = (i < ncuts) ? cuts[i] : len;

        k = ngx_http_ws_heartbeat_unstash(p, buf);
        memcpy(buf + k, in + from, to - from);

        n = ngx_http_ws_heartbeat_parse(p, cookie, buf, k + to - from,
                                        &boundary);

        if (boundary != NGX_HTTP_WSHB_NO_BOUNDARY && boundary > n) {
            printf("# boundary %zu past the output %zu\n", boundary, n);
            failures++;
        }

        memcpy(res->out + res->olen, buf, n);
        res->olen += n;
        from = to;
    }

    /* the stream ends: a withheld partial frame goes out as it is */

    k = ngx_http_ws_heartbeat_unstash(p, buf);
    memcpy(res->out + res->olen, buf, k);
    res->olen += k;

    res->pongs = p->pongs;
    res->seq = p->pong_seq;
    res->data = (uint32_t) p->data_frames;
    res->closes = p->closed;
    res->frames = (uint32_t) ngx_http_ws_heartbeat_frames(p);
}


static int
same(const result_t *res, const uint8_t *want, size_t wlen)
{
    return res->olen == wlen && memcmp(res->out, want, wlen) == 0;
}


static void
test_every_split(void)
{
    size_t                          len, cut, i;
    int                             good;
    uint8_t                        *s;
    result_t                       *res;
    ngx_http_ws_heartbeat_parser_t  p;

    s = malloc(200000);
    res = malloc(sizeof(result_t));

    len = 0;
    len += frame(s + len, 0x81, 1, 5, 'a');          /* text, 7-bit */
    len += frame(s + len, 0x02, 1, 300, 'b');        /* binary, 16-bit */
    len += frame(s + len, 0x89, 1, 3, 'p');          /* ping between */
    len += frame(s + len, 0x80, 1, 70000, 'c');      /* cont, 64-bit */
    len += frame(s + len, 0xc1, 1, 10, 'd');         /* RSV1 (deflate) */
    len += frame(s + len, 0x8a, 1, 16, 'q');         /* app pong, 16 B */
    len += frame(s + len, 0x88, 1, 2, 0x03);         /* close */

    good = 1;

    for (cut = 0; cut <= len; cut++) {
        init(&p, 1, prefix);
        p.armed = 1;
        feed(&p, s, len, &cut, 1, res);

        if (!same(res, s, len) || res->data != 4 || res->frames != 7
            || res->closes != 1 || p.error)
        {
            good = 0;
            printf("# split at %zu differs\n", cut);
            break;
        }
    }

    ok(good, "mixed stream passes unchanged when split at every byte");

    /* three-way splits around the 64-bit header */

    good = 1;

    for (cut = 300; cut < 340 && good; cut++) {
        for (i = cut; i < 340; i++) {
            size_t  cuts[2] = { cut, i };

            init(&p, 1, prefix);
            feed(&p, s, len, cuts, 2, res);

            if (!same(res, s, len) || res->frames != 7) {
                good = 0;
                break;
            }
        }
    }

    ok(good, "headers split in three pieces parse");

    free(s);
    free(res);
}


static void
test_pong_removed(int masked)
{
    size_t                          len, plen, cut, pos;
    int                             good;
    uint8_t                         s[4096], want[4096], mask[4];
    result_t                       *res;
    ngx_http_ws_heartbeat_parser_t  p;

    res = malloc(sizeof(result_t));
    memcpy(mask, "\x9a\x0b\xcc\x7d", 4);

    len = frame(s, 0x81, masked, 200, 'x');
    pos = len;
    plen = ngx_http_ws_heartbeat_build_ping(s + len, prefix, 0x01020304,
                                            masked ? mask : NULL);
    s[len] = 0x8a;                       /* the peer answers our ping */
    len += plen;
    len += frame(s + len, 0x82, masked, 20, 'y');
    len += frame(s + len, 0x8a, masked, 16, 'z');  /* someone else's pong */

    memcpy(want, s, pos);
    memcpy(want + pos, s + pos + plen, len - pos - plen);

    good = 1;

    for (cut = 0; cut <= len; cut++) {
        init(&p, masked, prefix);
        p.armed = 1;
        feed(&p, s, len, &cut, 1, res);

        if (!same(res, want, len - plen) || res->pongs != 1
            || res->seq != 0x01020304 || res->frames != 4)
        {
            good = 0;
            printf("# split at %zu: olen %zu pongs %u\n", cut, res->olen,
                   res->pongs);
            break;
        }
    }

    ok(good, masked ? "our masked pong is removed at every split"
                    : "our unmasked pong is removed at every split");

    /* a pong with another cookie is somebody else's */

    init(&p, masked, other);
    p.armed = 1;
    cut = pos + 3;
    feed(&p, s, len, &cut, 1, res);
    ok(same(res, s, len) && res->pongs == 0,
       "a pong with another cookie passes through");

    /* not armed: nothing is withheld or removed */

    init(&p, masked, prefix);
    feed(&p, s, len, &cut, 1, res);
    ok(same(res, s, len) && res->pongs == 0,
       "nothing is removed before our first ping");

    free(res);
}


static void
test_truncated_pong(void)
{
    size_t                          len, cut;
    uint8_t                         s[64];
    result_t                       *res;
    ngx_http_ws_heartbeat_parser_t  p;

    res = malloc(sizeof(result_t));

    len = ngx_http_ws_heartbeat_build_ping(s, prefix, 7, NULL);
    s[0] = 0x8a;
    len -= 3;                            /* the stream ends inside it */

    init(&p, 0, prefix);
    p.armed = 1;
    cut = 5;
    feed(&p, s, len, &cut, 1, res);

    ok(same(res, s, len) && res->pongs == 0,
       "a withheld partial pong is given back when the stream ends");

    free(res);
}


static void
test_errors(void)
{
    size_t                          len, cut;
    uint8_t                         s[256];
    result_t                       *res;
    ngx_http_ws_heartbeat_parser_t  p;

    struct {
        const char  *name;
        unsigned     b0;
        int          masked;
        uint64_t     len;
        unsigned     err;
    } cases[] = {
        { "reserved opcode", 0x83, 1, 4, NGX_HTTP_WSHB_ERR_OPCODE },
        { "unmasked client frame", 0x81, 0, 4, NGX_HTTP_WSHB_ERR_MASK },
        { "fragmented ping", 0x09, 1, 4, NGX_HTTP_WSHB_ERR_CONTROL },
        { "long close", 0x88, 1, 126, NGX_HTTP_WSHB_ERR_CONTROL },
        { "continuation first", 0x80, 1, 4, NGX_HTTP_WSHB_ERR_FRAGMENT },
    };
    unsigned  i;

    res = malloc(sizeof(result_t));

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        len = frame(s, 0x81, 1, 3, 'o');
        len += frame(s + len, cases[i].b0, cases[i].masked, cases[i].len, 'e');
        len += frame(s + len, 0x81, 1, 3, 'o');

        init(&p, 1, prefix);
        p.armed = 1;
        cut = 7;
        feed(&p, s, len, &cut, 1, res);

        ok(same(res, s, len) && p.error == cases[i].err, cases[i].name);
    }

    /* a 2^63 length */

    len = frame(s, 0x82, 0, 3, 'o');
    memcpy(s + len, "\x82\x7f\x80\x00\x00\x00\x00\x00\x00\x01", 10);
    len += 10;

    init(&p, 0, prefix);
    feed(&p, s, len, NULL, 0, res);
    ok(same(res, s, len) && p.error == NGX_HTTP_WSHB_ERR_LENGTH,
       "2^63 length stops parsing");

    /* a pong in the 16-bit length form (found by the fuzzer) */

    len = frame(s, 0x81, 1, 3, 'o');
    memcpy(s + len, "\x8a\xfe\x00\x10" "abcd", 8);
    memset(s + len + 8, 'x', 16);
    len += 24;

    init(&p, 1, prefix);
    p.armed = 1;
    feed(&p, s, len, NULL, 0, res);
    ok(same(res, s, len) && p.error == NGX_HTTP_WSHB_ERR_CONTROL,
       "control frame with an extended length stops parsing");

    ok(strcmp(ngx_http_ws_heartbeat_strerror(NGX_HTTP_WSHB_ERR_MASK),
              "wrong masking for this direction") == 0, "error text");

    free(res);
}


static void
test_build(void)
{
    size_t                          n, boundary;
    uint8_t                         out[NGX_HTTP_WSHB_CLOSE_MAX + 300];
    uint8_t                         mask[4] = { 1, 2, 3, 4 };
    ngx_http_ws_heartbeat_parser_t  p;

    n = ngx_http_ws_heartbeat_build_close(out, 1001, "client timeout", 14,
                                          NULL);
    ok(n == 18 && out[0] == 0x88 && out[1] == 16 && out[2] == 0x03
       && out[3] == 0xe9 && memcmp(&out[4], "client timeout", 14) == 0,
       "close frame 1001 with reason");

    n = ngx_http_ws_heartbeat_build_close(out, 1001, "x", 1, mask);
    ok(n == 9 && out[1] == (0x80 | 3) && (out[6] ^ 1) == 0x03
       && (out[7] ^ 2) == 0xe9 && (out[8] ^ 3) == 'x', "masked close frame");

    n = ngx_http_ws_heartbeat_build_ping(out, prefix, 42, mask);
    init(&p, 1, prefix);
    ok(n == 22
       && ngx_http_ws_heartbeat_parse(&p, cookie, out, n, &boundary) == n
       && ngx_http_ws_heartbeat_frames(&p) == 1 && boundary == 0
       && ngx_http_ws_heartbeat_at_boundary(&p), "masked ping parses");

    /* headers of every length field: as the parser reads them */

    n = ngx_http_ws_heartbeat_build_header(out, NGX_HTTP_WSHB_OP_TEXT, 125,
                                           NULL);
    ok(n == 2 && out[0] == 0x81 && out[1] == 125, "header, 7-bit length");

    n = ngx_http_ws_heartbeat_build_header(out, NGX_HTTP_WSHB_OP_TEXT, 126,
                                           NULL);
    ok(n == 4 && out[1] == 126 && out[2] == 0 && out[3] == 126,
       "header, 16-bit length from 126");

    n = ngx_http_ws_heartbeat_build_header(out, NGX_HTTP_WSHB_OP_BINARY,
                                           65536, mask);
    ok(n == 14 && out[0] == 0x82 && out[1] == (0x80 | 127)
       && memcmp(&out[2], "\0\0\0\0\0\1\0\0", 8) == 0
       && memcmp(&out[10], mask, 4) == 0,
       "header, 64-bit length from 65536, masked");

    n = ngx_http_ws_heartbeat_build_header(out, NGX_HTTP_WSHB_OP_TEXT,
                                           (uint64_t) 1 << 40, NULL);
    ok(n == 10 && out[2] == 0 && out[4] == 1 && out[9] == 0,
       "header, a length past 32 bits");

    n = ngx_http_ws_heartbeat_build_header(out, NGX_HTTP_WSHB_OP_TEXT, 300,
                                           NULL);
    memset(out + n, 'j', 300);
    init(&p, 0, prefix);
    ok(ngx_http_ws_heartbeat_parse(&p, cookie, out, n + 300, NULL)
       == n + 300
       && p.data_frames == 1 && ngx_http_ws_heartbeat_at_boundary(&p),
       "a built header parses, its payload stepped over");

    /* a boundary at the very end is reported too */

    n = frame(out, 0x81, 1, 3, 'x');
    init(&p, 1, prefix);
    ok(ngx_http_ws_heartbeat_parse(&p, cookie, out, n, &boundary) == n
       && boundary == 0 && p.data_frames == 1, "boundary at the start");
    ok(ngx_http_ws_heartbeat_parse(&p, cookie, out, 0, &boundary) == 0
       && boundary == 0, "boundary at the end of an empty read");
}


static void
test_random(void)
{
    size_t                          len, cuts[8], i, want_len, flen;
    int                             good, k, masked;
    uint8_t                        *s, *want;
    uint32_t                        pongs;
    result_t                       *res;
    ngx_http_ws_heartbeat_parser_t  p;

    s = malloc(1 << 19);
    want = malloc(1 << 19);
    res = malloc(sizeof(result_t));
    srand(12345);
    good = 1;

    for (k = 0; k < 2000 && good; k++) {
        masked = k & 1;
        len = 0;
        want_len = 0;
        pongs = 0;

        for (i = 0; i < 20; i++) {
            switch (rand() % 4) {
            case 0:
                flen = ngx_http_ws_heartbeat_build_ping(s + len, prefix,
                           (uint32_t) i, masked ? (uint8_t *) "abcd" : NULL);
                s[len] = 0x8a;
                len += flen;
                pongs++;
                continue;

            case 1:
                flen = frame(s + len, 0x8a, masked, rand() % 126, 'p');
                break;

            default:
                flen = frame(s + len, (rand() & 1) ? 0x81 : 0xc2, masked,
                             rand() % 3000, (uint8_t) rand());
            }

            memcpy(want + want_len, s + len, flen);
            want_len += flen;
            len += flen;
        }

        for (i = 0; i < 8; i++) {
            cuts[i] = (size_t) rand() % (len + 1);
        }

        for (i = 1; i < 8; i++) {
            size_t  j, t;

            for (j = i; j > 0 && cuts[j - 1] > cuts[j]; j--) {
                t = cuts[j];
                cuts[j] = cuts[j - 1];
                cuts[j - 1] = t;
            }
        }

        init(&p, masked, prefix);
        p.armed = 1;
        feed(&p, s, len, cuts, 8, res);

        if (!same(res, want, want_len) || res->pongs != pongs || p.error) {
            good = 0;
            printf("# random stream %d differs\n", k);
        }
    }

    ok(good, "2000 random streams with random splits");

    free(s);
    free(want);
    free(res);
}


static void
test_utf8(void)
{
    static const struct {
        const char  *bytes;
        size_t       n;
        size_t       len;
    } cases[] = {
        { "a", 1, 1 },
        { "\xc3\xa9", 2, 2 },
        { "\xe2\x82\xac", 3, 3 },
        { "\xf0\x9f\x98\x80", 4, 4 },
        { "\xc3", 1, 0 },                  /* cut short */
        { "\xe9\xe9\xe9", 3, 0 },          /* Latin-1, not UTF-8 */
        { "\xc0\xaf", 2, 0 },              /* overlong */
        { "\xe0\x80\xaf", 3, 0 },          /* overlong */
        { "\xed\xa0\x80", 3, 0 },          /* a surrogate */
        { "\xf4\x90\x80\x80", 4, 0 },      /* past U+10FFFF */
        { "\x80", 1, 0 },                  /* a continuation byte */
        { "\xff", 1, 0 }
    };

    size_t  i;
    char    name[64];

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(name, sizeof(name), "utf8 case %zu: %zu", i, cases[i].len);
        ok(ngx_http_ws_heartbeat_utf8_len((const uint8_t *) cases[i].bytes,
                                          cases[i].n)
           == cases[i].len, name);
    }

    ok(ngx_http_ws_heartbeat_utf8_valid((const uint8_t *) "", 0),
       "utf8: empty is valid");
    ok(ngx_http_ws_heartbeat_utf8_valid((const uint8_t *) "al\xc3\xa9x", 5),
       "utf8: a whole string");
    ok(!ngx_http_ws_heartbeat_utf8_valid((const uint8_t *) "ab\xc3", 3),
       "utf8: cut at the end");
    ok(ngx_http_ws_heartbeat_utf8_valid((const uint8_t *) "\x7f\0\0\x01", 4),
       "utf8: an IPv4 address in binary may be");
    ok(!ngx_http_ws_heartbeat_utf8_valid((const uint8_t *) "\x0a\xfe\0\x01",
                                         4),
       "utf8: one with a byte above 0x7f is not");

    ok(ngx_http_ws_heartbeat_utf8_hidden((const uint8_t *) "\xe2\x80\xae", 3)
       == 0x202e, "utf8: U+202E is hidden");
    ok(ngx_http_ws_heartbeat_utf8_hidden((const uint8_t *) "\xe2\x80\xaa", 3)
       == 0x202a, "utf8: U+202A is hidden");
    ok(ngx_http_ws_heartbeat_utf8_hidden((const uint8_t *) "\xe2\x81\xa9", 3)
       == 0x2069, "utf8: U+2069 is hidden");
    ok(ngx_http_ws_heartbeat_utf8_hidden((const uint8_t *) "\xc2\x9b", 2)
       == 0x9b, "utf8: a C1 control is hidden");
    ok(ngx_http_ws_heartbeat_utf8_hidden((const uint8_t *) "\xc2\xa0", 2)
       == 0, "utf8: U+00A0 is shown");
    ok(ngx_http_ws_heartbeat_utf8_hidden((const uint8_t *) "\xe2\x80\xaf", 3)
       == 0, "utf8: U+202F is shown");
    ok(ngx_http_ws_heartbeat_utf8_hidden((const uint8_t *) "\xe2\x81\xa5", 3)
       == 0, "utf8: U+2065 is shown");
    ok(ngx_http_ws_heartbeat_utf8_hidden((const uint8_t *) "\xe2\x82\xac", 3)
       == 0, "utf8: the euro sign is shown");
}


int
main(void)
{
    test_every_split();
    test_pong_removed(1);
    test_pong_removed(0);
    test_truncated_pong();
    test_errors();
    test_build();
    test_random();
    test_utf8();

    printf("1..%d\n", tests);

    return failures ? 1 : 0;
}
