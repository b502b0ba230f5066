
/*
 * Unit tests of the timer heap (src/ngx_http_ws_heartbeat_heap.c): random
 * adds, moves and deletes checked against a plain scan, with keys that
 * wrap around 2^32, and timers inside larger structures, as the
 * sessions' are.  Prints TAP.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_http_ws_heartbeat_heap.h"


#define N  1000


static int  tests, failed;


static void
ok(int cond, const char *name)
{
    tests++;

    if (!cond) {
        failed++;
        printf("not ");
    }

    printf("ok %d - %s\n", tests, name);
}


/* the heap's owners: a timer between other members */

typedef struct {
    uint64_t                         before;
    ngx_http_ws_heartbeat_timer_t    timer;
    uint32_t                         after[3];
} owner_t;


static owner_t   own[N];

#define T(i)     (&own[i].timer)


/* the key each timer was last given, kept here apart from the heap */
static uint32_t  keys[N];


/*
 * Every parent fires no later than its children, every index is right,
 * and every node has the key its timer was given
 */

static int
valid(ngx_http_ws_heartbeat_heap_t *h)
{
    size_t  i;

    for (i = 0; i < h->n; i++) {
        if (h->nodes[i].id >= N
            || ngx_http_ws_heartbeat_heap_timer(h, h->nodes[i].id)->index != i
            || h->nodes[i].key != keys[h->nodes[i].id])
        {
            return 0;
        }

        if (i && (int32_t) (h->nodes[i].key - h->nodes[(i - 1) / 2].key)
                 < 0)
        {
            return 0;
        }
    }

    return 1;
}


/* the earliest key of the timers that are set, by a scan; 1 if any */

static int
earliest(uint32_t *key)
{
    int     found;
    size_t  i;

    found = 0;

    for (i = 0; i < N; i++) {
        if (ngx_http_ws_heartbeat_timer_set(T(i))
            && (!found || (int32_t) (keys[i] - *key) < 0))
        {
            *key = keys[i];
            found = 1;
        }
    }

    return found;
}


/* adds (or moves) timer i, and keeps its key */

static void
add(ngx_http_ws_heartbeat_heap_t *h, size_t i, uint32_t key)
{
    keys[i] = key;
    ngx_http_ws_heartbeat_heap_add(h, T(i), key);
}


int
main(void)
{
    int                                 round, good, order;
    size_t                              i, set;
    uint32_t                            now, last, key;
    ngx_http_ws_heartbeat_heap_t        h;
    ngx_http_ws_heartbeat_timer_t      *min;
    ngx_http_ws_heartbeat_heap_node_t   nodes[N];

    srand(6455);

    h.nodes = nodes;
    h.n = 0;
    h.base = (unsigned char *) T(0);
    h.stride = sizeof(owner_t);

    for (i = 0; i < N; i++) {
        T(i)->index = NGX_HTTP_WSHB_NO_TIMER;
    }

    ok(ngx_http_ws_heartbeat_heap_min(&h) == NULL, "an empty heap has no min");

    /* times near the wrap of 32 bits, as ngx_current_msec cut to them */

    now = 0xffffffffu - 50000;
    good = 1;

    for (round = 0; round < 200000; round++) {
        i = (size_t) rand() % N;
        now += (uint32_t) (rand() % 3);

        switch (rand() % 4) {
        case 0:
            ngx_http_ws_heartbeat_heap_del(&h, T(i));
            break;
        default:
            add(&h, i, now + (uint32_t) (rand() % 60000));
        }

        if (round % 97 == 0) {
            good &= valid(&h);
            good &= (ngx_http_ws_heartbeat_heap_min(&h) == NULL
                     ? !earliest(&key)
                     : earliest(&key)
                       && ngx_http_ws_heartbeat_heap_min_key(&h) == key);
        }
    }

    ok(good, "200000 random adds, moves and deletes keep the heap ordered");
    ok(now < 0x80000000u, "and the keys wrapped around 2^32");

    set = 0;
    for (i = 0; i < N; i++) {
        set += ngx_http_ws_heartbeat_timer_set(T(i));
    }

    ok(set == h.n, "the heap holds exactly the timers that are set");

    /* taken out in order, they come in order */

    order = 1;
    last = 0;

    for (i = 0; (min = ngx_http_ws_heartbeat_heap_min(&h)); i++) {
        key = ngx_http_ws_heartbeat_heap_min_key(&h);

        if (i && (int32_t) (key - last) < 0) {
            order = 0;
        }

        last = key;
        ngx_http_ws_heartbeat_heap_del(&h, min);
        order &= valid(&h);
    }

    ok(order && i == set, "taking the min each time gives them in order");
    ok(!ngx_http_ws_heartbeat_timer_set(T(0)), "and none is left set");

    /* deleting a timer that is not set, and moving one to its own key */

    ngx_http_ws_heartbeat_heap_del(&h, T(0));
    ok(h.n == 0, "deleting a timer not set changes nothing");

    add(&h, 0, 10);
    add(&h, 1, 20);
    add(&h, 1, 20);
    add(&h, 1, 5);
    ok(h.n == 2 && ngx_http_ws_heartbeat_heap_min(&h) == T(1)
       && ngx_http_ws_heartbeat_heap_key(&h, T(0)) == 10,
       "a timer moved earlier comes first; one added twice is there once");

    printf("1..%d\n", tests);

    return failed ? 1 : 0;
}
