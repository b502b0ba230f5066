
/*
 * wsbench: a small WebSocket load generator and echo upstream, epoll, no
 * third-party code.
 *
 *   wsbench server PORT [sink] [push BYTES MS]
 *       echoes every data frame back (or, with "sink", discards it) and
 *       answers pings; with "push", also sends a binary frame of BYTES to
 *       every open connection every MS milliseconds
 *
 *   wsbench client -p PORT [-H host] [-u /path] [-c conns] [-s size]
 *                  [-d seconds] [-n messages]
 *                  [-m echo|stream|idle|slow|zombie]
 *                  [-b src1,src2,...] [-z seconds] [-i ms] [-r ms]
 *                  [-W pid1,pid2,...]
 *       echo:   each connection sends a masked frame of -s bytes, waits for
 *               it to come back and checks every byte; -n stops after that
 *               many round trips in total (lock-step, for callgrind); with
 *               -i, the next one -i ms after the last one was sent (a probe
 *               that measures, rather than loads)
 *       stream: sends frames one way as fast as the socket takes them
 *       idle:   holds the connections open and answers pings
 *       slow:   like idle, but reads (and so answers) only for the first
 *               -r ms (10) of every -i ms (600)
 *       zombie: like idle, then after -z seconds stops reading and
 *               answering; reports when each connection was closed (one
 *               still open at the end counts as closed then)
 *   -W: connection i is wanted in the worker process pid(i mod count);
 *   one whose 101 response says another pid in its X-Worker header (the
 *   proxy's "add_header X-Worker $pid always") is closed and dialled
 *   again, until it lands there (a listen with reuseport picks a worker
 *   per connection).  Without -W the header is only read.
 *   The client prints one line of JSON with its results, among them the
 *   data frames received and the connections still open at the end, and,
 *   where the 101 responses named workers, the latency per worker.
 *   Pings are answered like a browser does: a masked pong with the same
 *   payload.
 */

#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>


#define BUF_SIZE  (1 << 20)


typedef struct conn_s  conn_t;

struct conn_s {
    int        fd;
    int        state;          /* 0 handshake, 1 open, 2 closed */
    uint8_t   *in;
    size_t     in_len;
    uint8_t   *out;
    size_t     out_len;
    size_t     out_sent;
    double     sent_at;
    uint64_t   seq;
    int        waiting;        /* an echo is outstanding */
    double     closed_at;
    double     next_at;        /* -i: when to send the next echo */
    long       worker;         /* the pid in the 101's X-Worker, or 0 */
    long       want;           /* -W: the pid it must reach, or 0 */
    conn_t    *prev;           /* server: the list of connections */
    conn_t    *next;
};


static double      start_time;
static uint64_t    round_trips, bytes_moved, mismatches, errors, frames_in;
static double     *lat;
static long       *lat_worker;
static size_t      nlat, lat_cap;


static double
now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec + ts.tv_nsec / 1e9;
}


static void
nonblock(int fd)
{
    int  one = 1;

    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}


static size_t
frame(uint8_t *out, int op, const uint8_t *p, size_t len, int masked)
{
    size_t   n, i;
    uint8_t  mask[4] = { 0x12, 0x34, 0x56, 0x78 };

    out[0] = 0x80 | op;
    n = 2;

    if (len < 126) {
        out[1] = len;

    } else if (len < 65536) {
        out[1] = 126;
        out[2] = len >> 8;
        out[3] = len;
        n = 4;

    } else {
        out[1] = 127;

        for (i = 0; i < 8; i++) {
            out[2 + i] = (uint64_t) len >> (56 - 8 * i);
        }

        n = 10;
    }

    if (masked) {
        out[1] |= 0x80;
        memcpy(out + n, mask, 4);
        n += 4;

        for (i = 0; i < len; i++) {
            out[n + i] = p[i] ^ mask[i & 3];
        }

    } else {
        memcpy(out + n, p, len);
    }

    return n + len;
}


/* parses one frame at buf; returns its total length or 0 if incomplete */

static size_t
parse(const uint8_t *buf, size_t len, int *op, size_t *off, size_t *plen,
    const uint8_t **mask)
{
    size_t    n, i;
    uint64_t  l;

    if (len < 2) {
        return 0;
    }

    *op = buf[0] & 0x0f;
    l = buf[1] & 0x7f;
    n = 2;

    if (l == 126) {
        if (len < 4) {
            return 0;
        }
        l = ((uint64_t) buf[2] << 8) | buf[3];
        n = 4;

    } else if (l == 127) {
        if (len < 10) {
            return 0;
        }
        l = 0;
        for (i = 0; i < 8; i++) {
            l = (l << 8) | buf[2 + i];
        }
        n = 10;
    }

    *mask = NULL;

    if (buf[1] & 0x80) {
        if (len < n + 4) {
            return 0;
        }
        *mask = buf + n;
        n += 4;
    }

    if (len < n + l) {
        return 0;
    }

    *off = n;
    *plen = l;

    return n + l;
}


static int
flush(conn_t *c)
{
    ssize_t  n;

    while (c->out_sent < c->out_len) {
        n = send(c->fd, c->out + c->out_sent, c->out_len - c->out_sent,
                 MSG_NOSIGNAL);

        if (n < 0) {
            if (errno == EAGAIN) {
                return 0;
            }
            return -1;
        }

        c->out_sent += n;
    }

    c->out_len = 0;
    c->out_sent = 0;

    return 0;
}


static void
queue(conn_t *c, const uint8_t *p, size_t len)
{
    if (c->out_sent && c->out_sent == c->out_len) {
        c->out_len = 0;
        c->out_sent = 0;
    }

    if (c->out_len + len > BUF_SIZE + 64) {
        errors++;
        return;
    }

    memcpy(c->out + c->out_len, p, len);
    c->out_len += len;
}


/* ------------------------------------------------------------------ */


/* the server's connections, for the pushes */

static conn_t  *server_conns;


static void
server_close(conn_t *c)
{
    if (c->prev) {
        c->prev->next = c->next;

    } else {
        server_conns = c->next;
    }

    if (c->next) {
        c->next->prev = c->prev;
    }

    close(c->fd);
    free(c->in);
    free(c->out);
    free(c);
}


/* one binary frame of push_size bytes to every open connection */

static void
server_push(uint8_t *tmp, size_t push_size)
{
    size_t   len;
    conn_t  *c, *next;
    uint8_t  payload[65536];

    memset(payload, 0x70, push_size);
    len = frame(tmp, 2, payload, push_size, 0);

    for (c = server_conns; c; c = next) {
        next = c->next;

        if (c->state != 1) {
            continue;
        }

        queue(c, tmp, len);

        if (flush(c) < 0) {
            server_close(c);
        }
    }
}


static int
server(int port, int sink, size_t push_size, double push_every)
{
    int                 lfd, ep, n, i, fd, one = 1, wait;
    conn_t             *c;
    ssize_t             r;
    uint8_t            *tmp;
    size_t              off, plen, flen, k;
    double              t, push_at;
    const uint8_t      *mask;
    struct epoll_event  ev, evs[256];
    struct sockaddr_in  sin;
    int                 op;

    lfd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    if (bind(lfd, (struct sockaddr *) &sin, sizeof(sin)) || listen(lfd, 4096))
    {
        perror("bind");
        return 1;
    }

    nonblock(lfd);
    ep = epoll_create1(0);
    ev.events = EPOLLIN;
    ev.data.ptr = NULL;
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);

    tmp = malloc(BUF_SIZE + 64);
    push_at = now() + push_every;

    printf("{\"event\":\"ready\",\"port\":%d}\n", port);
    fflush(stdout);

    for ( ;; ) {
        wait = -1;

        if (push_every > 0) {
            t = now();

            if (t >= push_at) {
                server_push(tmp, push_size);

                /* the same period however late this wake-up was */
                push_at += push_every;

                if (push_at <= t) {
                    push_at = t + push_every;
                }
            }

            wait = (push_at - t) * 1000 + 1;
        }

        n = epoll_wait(ep, evs, 256, wait);

        for (i = 0; i < n; i++) {
            c = evs[i].data.ptr;

            if (c == NULL) {
                while ((fd = accept(lfd, NULL, NULL)) >= 0) {
                    nonblock(fd);
                    c = calloc(1, sizeof(conn_t));
                    c->fd = fd;
                    c->in = malloc(BUF_SIZE + 64);
                    c->out = malloc(BUF_SIZE + 64);
                    c->next = server_conns;

                    if (server_conns) {
                        server_conns->prev = c;
                    }

                    server_conns = c;
                    ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
                    ev.data.ptr = c;
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
                }
                continue;
            }

            for ( ;; ) {
                r = recv(c->fd, c->in + c->in_len, BUF_SIZE + 64 - c->in_len,
                         0);

                if (r <= 0) {
                    if (r < 0 && errno == EAGAIN) {
                        break;
                    }
                    server_close(c);
                    c = NULL;
                    break;
                }

                c->in_len += r;

                if (c->state == 0) {
                    uint8_t  *e = memmem(c->in, c->in_len, "\r\n\r\n", 4);
                    static const char  resp[] =
                        "HTTP/1.1 101 Switching Protocols\r\n"
                        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
                        "\r\n\r\n";

                    if (e == NULL) {
                        continue;
                    }

                    k = e + 4 - c->in;
                    memmove(c->in, c->in + k, c->in_len - k);
                    c->in_len -= k;
                    queue(c, (const uint8_t *) resp, sizeof(resp) - 1);
                    c->state = 1;
                }

                k = 0;

                while ((flen = parse(c->in + k, c->in_len - k, &op, &off,
                                     &plen, &mask)))
                {
                    uint8_t  *p = c->in + k + off;
                    size_t    j;

                    if (mask) {
                        for (j = 0; j < plen; j++) {
                            p[j] ^= mask[j & 3];
                        }
                    }

                    if (op == 9) {
                        queue(c, tmp, frame(tmp, 10, p, plen, 0));

                    } else if (op == 8) {
                        queue(c, tmp, frame(tmp, 8, p, plen, 0));

                    } else if (op < 3 && !sink) {
                        queue(c, tmp, frame(tmp, op ? op : 2, p, plen, 0));
                    }

                    k += flen;
                }

                memmove(c->in, c->in + k, c->in_len - k);
                c->in_len -= k;
            }

            if (c && flush(c) < 0) {
                server_close(c);
            }
        }
    }

    return 0;
}


/* ------------------------------------------------------------------ */


static int
cmp(const void *a, const void *b)
{
    double  x = *(const double *) a, y = *(const double *) b;

    return x < y ? -1 : x > y;
}


static void
send_message(conn_t *c, size_t size, uint8_t *tmp, uint8_t *payload)
{
    uint64_t  seq;

    seq = c->seq++;
    memset(payload, (int) (seq & 0xff), size);

    if (size >= 8) {
        memcpy(payload, &seq, 8);
    }

    queue(c, tmp, frame(tmp, 2, payload, size, 1));
    c->sent_at = now();
    c->waiting = 1;
}


/* a nonblocking connection to sin, from src if not NULL, in epoll */

static int
dial(conn_t *c, int ep, struct sockaddr_in *sin, const char *src)
{
    struct sockaddr_in  from;
    struct epoll_event  ev;

    c->fd = socket(AF_INET, SOCK_STREAM, 0);

    if (src) {
#ifdef IP_BIND_ADDRESS_NO_PORT
        /* the port is chosen at connect(), per destination */
        int  one = 1;

        setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
                   sizeof(one));
#endif
        memset(&from, 0, sizeof(from));
        from.sin_family = AF_INET;
        inet_pton(AF_INET, src, &from.sin_addr);
        bind(c->fd, (struct sockaddr *) &from, sizeof(from));
    }

    if (connect(c->fd, (struct sockaddr *) sin, sizeof(*sin)) < 0) {
        return -1;
    }

    nonblock(c->fd);

    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = c;
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);

    return 0;
}


/* the latency per worker named in the 101 responses, as JSON */

static void
print_workers(void)
{
    size_t   i, j, n, m;
    long     ws[64];
    double  *v;

    n = 0;

    for (i = 0; i < nlat; i++) {
        for (j = 0; j < n && ws[j] != lat_worker[i]; j++) { /* void */ }

        if (j == n && n < 64 && lat_worker[i]) {
            ws[n++] = lat_worker[i];
        }
    }

    if (n == 0) {
        return;
    }

    v = malloc(nlat * sizeof(double));
    printf(",\"workers\":{");

    for (j = 0; j < n; j++) {
        m = 0;

        for (i = 0; i < nlat; i++) {
            if (lat_worker[i] == ws[j]) {
                v[m++] = lat[i];
            }
        }

        qsort(v, m, sizeof(double), cmp);
        printf("%s\"%ld\":{\"samples\":%zu,\"p50_us\":%.1f,"
               "\"p99_us\":%.1f}", j ? "," : "", ws[j], m,
               v[m / 2] * 1e6, v[(size_t) (m * 0.99)] * 1e6);
    }

    printf("}");
    free(v);
}


static int
client(int argc, char **argv)
{
    int                  i, n, k, ep, port, conns, mode, opt, op, nsrc;
    int                  wait, still_open, nwant;
    char                *host, *path, *srcs[16], *p, *xw;
    long                 wants[64];
    uint64_t             redials;
    double               duration, zombie_after, end, t, first_close, every;
    double               read_for, phase;
    conn_t              *cs, *c;
    size_t               size, off, plen, flen, j, kk;
    ssize_t              r;
    uint8_t             *tmp, *payload, *expect;
    uint64_t             messages, opened, closed_early, cycle, last_cycle;
    const uint8_t       *mask;
    struct pollfd        pfd;
    struct epoll_event  *evs;
    struct sockaddr_in   sin;
    char                 req[1024];
    int                  reqlen;

    port = 0;
    host = "127.0.0.1";
    path = "/";
    conns = 1;
    size = 64;
    duration = 5;
    messages = 0;
    mode = 0;
    nsrc = 0;
    zombie_after = 1;
    every = 0;
    read_for = 0.010;
    nwant = 0;
    redials = 0;

    while ((opt = getopt(argc, argv, "p:H:u:c:s:d:n:m:b:z:i:r:W:")) != -1) {
        switch (opt) {
        case 'p': port = atoi(optarg); break;
        case 'H': host = optarg; break;
        case 'u': path = optarg; break;
        case 'c': conns = atoi(optarg); break;
        case 's': size = strtoul(optarg, NULL, 10); break;
        case 'd': duration = atof(optarg); break;
        case 'n': messages = strtoull(optarg, NULL, 10); break;
        case 'z': zombie_after = atof(optarg); break;
        case 'i': every = atof(optarg) / 1000; break;
        case 'r': read_for = atof(optarg) / 1000; break;
        case 'm':
            mode = !strcmp(optarg, "echo") ? 0 : !strcmp(optarg, "stream") ? 1
                   : !strcmp(optarg, "idle") ? 2 : !strcmp(optarg, "zombie")
                   ? 3 : !strcmp(optarg, "slow") ? 4 : -1;

            if (mode < 0) {
                fprintf(stderr, "unknown mode %s\n", optarg);
                return 2;
            }

            break;
        case 'b':
            for (p = strtok(optarg, ","); p && nsrc < 16;
                 p = strtok(NULL, ","))
            {
                srcs[nsrc++] = p;
            }
            break;
        case 'W':
            for (p = strtok(optarg, ","); p && nwant < 64;
                 p = strtok(NULL, ","))
            {
                wants[nwant++] = atol(p);
            }
            break;
        default:
            return 2;
        }
    }

    if (size > BUF_SIZE - 16) {
        size = BUF_SIZE - 16;
    }

    if (mode == 4 && every <= 0) {
        every = 0.6;
    }

    cs = calloc(conns, sizeof(conn_t));
    tmp = malloc(BUF_SIZE + 64);
    payload = malloc(BUF_SIZE);
    expect = malloc(BUF_SIZE);
    lat_cap = 1 << 20;
    lat = malloc(lat_cap * sizeof(double));
    lat_worker = malloc(lat_cap * sizeof(long));
    evs = malloc((conns > 256 ? conns : 256) * sizeof(struct epoll_event));
    ep = epoll_create1(0);

    reqlen = snprintf(req, sizeof(req),
                      "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\n"
                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      "Sec-WebSocket-Version: 13\r\n\r\n", path, host);

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);

    opened = 0;

    for (i = 0; i < conns; i++) {
        c = &cs[i];
        c->want = nwant ? wants[i % nwant] : 0;

        if (dial(c, ep, &sin, nsrc ? srcs[i % nsrc] : NULL) < 0) {
            errors++;
            c->state = 2;
            continue;
        }

        c->in = malloc(mode >= 2 ? 4096 : BUF_SIZE + 64);
        c->out = malloc(mode >= 2 ? 4096 : BUF_SIZE + 64);
        queue(c, (uint8_t *) req, reqlen);
        flush(c);
    }

    start_time = now();
    end = start_time + duration;
    first_close = 0;
    closed_early = 0;
    last_cycle = 0;

    while ((t = now()) < end) {

        if (messages && round_trips >= messages) {
            break;
        }

        wait = every > 0 ? 1 : 50;

        if (mode == 4) {
            /* until the end of this reading time, or the next one */
            cycle = (t - start_time) / every;
            phase = t - start_time - cycle * every;
            wait = 1 + 1000 * (phase < read_for ? read_for - phase
                                                : every - phase);

            if (wait > 1 + 1000 * (end - t)) {
                wait = 1 + 1000 * (end - t);
            }
        }

        n = epoll_wait(ep, evs, 256, wait);

        if (mode == 4) {
            /*
             * A slow reader looks at every connection as its reading time
             * begins (the sockets are edge-triggered: their events came
             * while it was not reading), then takes events until it ends.
             */

            t = now();
            cycle = (t - start_time) / every;

            if (cycle != last_cycle) {
                last_cycle = cycle;

                for (n = 0; n < conns; n++) {
                    evs[n].events = EPOLLIN | EPOLLOUT;
                    evs[n].data.ptr = &cs[n];
                }

            } else if (t - start_time - cycle * every >= read_for) {
                n = 0;
            }
        }

        /* paced echoes: those whose time has come */

        for (i = 0; every > 0 && mode == 0 && i < conns; i++) {
            c = &cs[i];

            if (c->state == 1 && !c->waiting && t >= c->next_at) {
                send_message(c, size, tmp, payload);
                c->next_at = c->sent_at + every;

                if (flush(c) < 0) {
                    c->state = 2;
                    errors++;
                }
            }
        }

        for (i = 0; i < n; i++) {
            c = evs[i].data.ptr;

            if (c->state == 2) {
                continue;
            }

            if (mode == 3 && t - start_time >= zombie_after) {
                /* a zombie reads nothing; we only watch for the close */
                if (evs[i].events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
                    c->state = 2;
                    c->closed_at = now();
                }

                continue;
            }

            for ( ;; ) {
                size_t  cap = mode >= 2 ? 4096 : BUF_SIZE + 64;

                r = recv(c->fd, c->in + c->in_len, cap - c->in_len, 0);

                if (r <= 0) {
                    if (r < 0 && errno == EAGAIN) {
                        break;
                    }

                    c->state = 2;
                    c->closed_at = now();
                    closed_early++;
                    break;
                }

                c->in_len += r;

                if (c->state == 0) {
                    uint8_t  *e = memmem(c->in, c->in_len, "\r\n\r\n", 4);

                    if (e == NULL) {
                        continue;
                    }

                    if (memcmp(c->in, "HTTP/1.1 101", 12) != 0) {
                        errors++;
                        c->state = 2;
                        break;
                    }

                    *e = '\0';
                    xw = strstr((char *) c->in, "\r\nX-Worker: ");
                    c->worker = xw ? atol(xw + 12) : 0;

                    if (c->want && c->worker != c->want
                        && redials < 1000 * (uint64_t) conns)
                    {
                        /* another worker took it: dial again */
                        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                        close(c->fd);
                        c->in_len = 0;
                        c->out_len = 0;
                        c->out_sent = 0;
                        redials++;

                        if (dial(c, ep, &sin,
                                 nsrc ? srcs[(c - cs) % nsrc] : NULL) < 0)
                        {
                            errors++;
                            c->state = 2;
                            break;
                        }

                        queue(c, (uint8_t *) req, reqlen);
                        flush(c);
                        break;
                    }

                    kk = e + 4 - c->in;
                    memmove(c->in, c->in + kk, c->in_len - kk);
                    c->in_len -= kk;
                    c->state = 1;
                    opened++;

                    if (mode == 0) {
                        send_message(c, size, tmp, payload);
                    }
                }

                kk = 0;

                while ((flen = parse(c->in + kk, c->in_len - kk, &op, &off,
                                     &plen, &mask)))
                {
                    uint8_t  *pp = c->in + kk + off;

                    if (op < 3) {
                        frames_in++;
                    }

                    if (op == 9) {
                        queue(c, tmp, frame(tmp, 10, pp, plen, 1));

                    } else if (op == 2 && mode == 0 && c->waiting) {
                        uint64_t  seq = c->seq - 1;

                        memset(expect, (int) (seq & 0xff), plen);
                        if (plen >= 8) {
                            memcpy(expect, &seq, 8);
                        }

                        if (plen != size || memcmp(pp, expect, plen) != 0) {
                            mismatches++;
                        }

                        if (nlat < lat_cap) {
                            lat_worker[nlat] = c->worker;
                            lat[nlat++] = t - c->sent_at;
                        }

                        round_trips++;
                        bytes_moved += 2 * plen;
                        c->waiting = 0;

                        if (every > 0) {
                            /* the next one at its time, above */

                        } else if (!messages
                                   || round_trips + conns <= messages + 1)
                        {
                            send_message(c, size, tmp, payload);
                        }
                    }

                    kk += flen;
                }

                memmove(c->in, c->in + kk, c->in_len - kk);
                c->in_len -= kk;
            }

            if (c->state == 1 && mode == 1) {
                /*
                 * Keep the socket full: count a frame once it has all gone
                 * out, whichever event finished it, and queue the next one
                 * until send() would block (the sockets are edge-triggered:
                 * stopping earlier would wait for an unrelated event).
                 */

                for ( ;; ) {
                    if (c->out_len == 0) {
                        if (c->waiting) {
                            round_trips++;
                            bytes_moved += size;
                        }

                        memset(payload, 0x61, size);
                        queue(c, tmp, frame(tmp, 2, payload, size, 1));
                        c->waiting = 1;
                    }

                    if (flush(c) < 0) {
                        c->state = 2;
                        errors++;
                        break;
                    }

                    if (c->out_len != 0) {
                        break;
                    }
                }
            }

            if (c->state != 2 && flush(c) < 0) {
                c->state = 2;
                errors++;
            }
        }
    }

    /* closes not seen yet: a slow reader was not reading, or the last wait */

    still_open = 0;

    for (i = 0; i < conns; i++) {
        c = &cs[i];

        if (c->state != 1) {
            continue;
        }

        pfd.fd = c->fd;
        pfd.events = POLLRDHUP;
        pfd.revents = 0;

        if (poll(&pfd, 1, 0) == 1
            && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR)))
        {
            c->state = 2;

            if (mode == 3 && now() - start_time >= zombie_after) {
                c->closed_at = now();

            } else {
                closed_early++;
            }

            continue;
        }

        still_open++;
    }

    t = now() - start_time;

    printf("{\"redials\":%llu", (unsigned long long) redials);
    print_workers();

    if (nlat) {
        qsort(lat, nlat, sizeof(double), cmp);
    }

    printf(",\"mode\":\"%s\",\"conns\":%d,\"opened\":%llu,\"seconds\":%.3f,"
           "\"messages\":%llu,\"msgs_per_s\":%.1f,\"mb_per_s\":%.2f,"
           "\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,"
           "\"mismatches\":%llu,\"errors\":%llu,\"closed_early\":%llu,"
           "\"frames_in\":%llu,\"still_open\":%d",
           mode == 0 ? "echo" : mode == 1 ? "stream"
           : mode == 2 ? "idle" : mode == 3 ? "zombie" : "slow",
           conns, (unsigned long long) opened, t,
           (unsigned long long) round_trips, round_trips / t,
           bytes_moved / t / 1e6,
           nlat ? lat[nlat / 2] * 1e6 : 0,
           nlat ? lat[(size_t) (nlat * 0.99)] * 1e6 : 0,
           nlat ? lat[(size_t) (nlat * 0.999)] * 1e6 : 0,
           (unsigned long long) mismatches, (unsigned long long) errors,
           (unsigned long long) closed_early, (unsigned long long) frames_in,
           still_open);

    if (mode == 3) {
        /*
         * close times after the peer went silent, seconds; one still open
         * counts as closed at the end (a lower bound of its close time)
         */
        double  *ct = malloc(conns * sizeof(double));

        for (i = 0, k = 0; i < conns; i++) {
            if (cs[i].closed_at > 0) {
                ct[k++] = cs[i].closed_at - start_time - zombie_after;

            } else if (cs[i].state == 1) {
                ct[k++] = t - zombie_after;
            }
        }

        qsort(ct, k, sizeof(double), cmp);
        printf(",\"zombies_closed\":%d,\"zombies_open\":%d,"
               "\"close_p50_s\":%.3f,\"close_p99_s\":%.3f,"
               "\"close_max_s\":%.3f",
               k - still_open, still_open, k ? ct[k / 2] : 0,
               k ? ct[(size_t) (k * 0.99)] : 0, k ? ct[k - 1] : 0);
        (void) first_close;
    }

    printf("}\n");

    for (j = 0; j < (size_t) conns; j++) {
        if (cs[j].fd > 0) {
            close(cs[j].fd);
        }
    }

    return 0;
}


int
main(int argc, char **argv)
{
    int            i, sink;
    size_t         push_size;
    double         push_every;
    struct rlimit  rl;

    rl.rlim_cur = rl.rlim_max = 20000;
    setrlimit(RLIMIT_NOFILE, &rl);

    if (argc >= 3 && strcmp(argv[1], "server") == 0) {
        sink = 0;
        push_size = 0;
        push_every = 0;

        for (i = 3; i < argc; i++) {
            if (strcmp(argv[i], "sink") == 0) {
                sink = 1;

            } else if (strcmp(argv[i], "push") == 0 && i + 2 < argc) {
                push_size = strtoul(argv[i + 1], NULL, 10);
                push_every = atof(argv[i + 2]) / 1000;
                i += 2;

                if (push_size > 65536 || push_every <= 0) {
                    fprintf(stderr, "push: BYTES up to 65536, MS > 0\n");
                    return 2;
                }

            } else {
                fprintf(stderr, "server: unknown argument %s\n", argv[i]);
                return 2;
            }
        }

        return server(atoi(argv[2]), sink, push_size, push_every);
    }

    if (argc >= 2 && strcmp(argv[1], "client") == 0) {
        return client(argc - 1, argv + 1);
    }

    fprintf(stderr, "usage: wsbench server PORT [sink] [push BYTES MS]"
            " | wsbench client ...\n");
    return 2;
}
