
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 *
 * A limit per key counts the sessions of each key in the zone, so that it
 * holds across workers and over a reload.  A key's entry is made by its
 * first session and freed with its last; the records of its sessions are
 * chained through their "next", in the order they started.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_ws_heartbeat_keys.h"
#include "ngx_http_ws_heartbeat_table.h"


/* a key of a limit, as its entry holds it */

typedef struct {
    ngx_uint_t                      limit;
    ngx_str_t                      *key;
} ngx_http_ws_heartbeat_key_of_t;


static uint32_t ngx_http_ws_heartbeat_key_hash(ngx_uint_t limit, u_char *data,
    size_t len);
static ngx_int_t ngx_http_ws_heartbeat_key_eq(void *entry, void *data);
static void ngx_http_ws_heartbeat_keys_table(
    ngx_http_ws_heartbeat_zone_t *zone, ngx_http_ws_heartbeat_table_t *t);
static ngx_http_ws_heartbeat_key_t *ngx_http_ws_heartbeat_key_find_locked(
    ngx_http_ws_heartbeat_zone_t *zone, ngx_uint_t limit, ngx_str_t *key,
    uint32_t hash, uint32_t *off);
static uint32_t ngx_http_ws_heartbeat_key_victim_locked(
    ngx_http_ws_heartbeat_zone_t *zone, ngx_http_ws_heartbeat_key_t *kp);
static void ngx_http_ws_heartbeat_key_free_locked(
    ngx_http_ws_heartbeat_zone_t *zone, ngx_http_ws_heartbeat_key_t *kp);


#define ngx_http_ws_heartbeat_key_at(zone, off)                               \
    ((ngx_http_ws_heartbeat_key_t *) ((u_char *) (zone)->shpool + (off)))


/*
 * A new session of a key: admitted below max; at max, refused or, with
 * evict, admitted with the key's oldest session marked to be closed (a
 * copy of its record in victim).  A key that finds no entry free (more
 * sessions of keys under way than the zone has records) cannot be
 * counted: the caller refuses it, or admits it with "uncounted=admit".
 * The key's entry in off, except for such a session.
 */

ngx_uint_t
ngx_http_ws_heartbeat_key_admit(ngx_http_ws_heartbeat_zone_t *zone,
    ngx_uint_t limit, ngx_uint_t max, ngx_uint_t evict, ngx_uint_t code,
    ngx_uint_t admit, ngx_str_t *key, ngx_log_t *log, uint32_t *off,
    ngx_http_ws_heartbeat_record_t *victim)
{
    uint32_t                         i, hash;
    ngx_uint_t                       rc, warn;
    ngx_http_ws_heartbeat_key_t     *kp;
    ngx_http_ws_heartbeat_shctx_t   *sh;
    ngx_http_ws_heartbeat_record_t  *rec;

    sh = zone->sh;
    hash = ngx_http_ws_heartbeat_key_hash(limit, key->data, key->len);

    ngx_shmtx_lock(&zone->shpool->mutex);

    kp = ngx_http_ws_heartbeat_key_find_locked(zone, limit, key, hash, off);

    if (kp == NULL) {
        warn = (sh->keys_warned == 0
                || (ngx_msec_int_t) (ngx_current_msec - sh->keys_warned)
                   >= 60000);

        if (warn) {
            sh->keys_warned = ngx_current_msec ? ngx_current_msec : 1;
        }

        ngx_shmtx_unlock(&zone->shpool->mutex);

        (void) ngx_atomic_fetch_add(&sh->totals.unkeyed, 1);

        if (!admit) {
            (void) ngx_atomic_fetch_add(&sh->limit_rejected[limit], 1);
            (void) ngx_atomic_fetch_add(&sh->totals.rejected, 1);
        }

        if (warn) {
            ngx_log_error(NGX_LOG_WARN, log, 0,
                          "ws_heartbeat: zone \"%V\" has no room for a new "
                          "key, its sessions are %s",
                          &zone->shm_zone->shm.name,
                          admit ? "admitted without the limit" : "refused");
        }

        return NGX_HTTP_WSHB_KEY_UNKEYED;
    }

    rc = NGX_HTTP_WSHB_KEY_ADMITTED;

    if (kp->sessions >= max) {
        i = evict ? ngx_http_ws_heartbeat_key_victim_locked(zone, kp)
                  : NGX_HTTP_WSHB_NO_RECORD;

        if (i == NGX_HTTP_WSHB_NO_RECORD) {
            ngx_shmtx_unlock(&zone->shpool->mutex);

            (void) ngx_atomic_fetch_add(&sh->limit_rejected[limit], 1);
            (void) ngx_atomic_fetch_add(&sh->totals.rejected, 1);

            return NGX_HTTP_WSHB_KEY_REFUSED;
        }

        rec = &sh->records[i];
        rec->command = (u_char) (NGX_HTTP_WSHB_EVICT | limit);
        sh->limit_code[limit] = (uint16_t) code;
        sh->commanded++;
        *victim = *rec;

        rc = NGX_HTTP_WSHB_KEY_EVICTED;
    }

    kp->sessions++;
    (void) ngx_atomic_fetch_add(&sh->limits[limit], 1);

    ngx_shmtx_unlock(&zone->shpool->mutex);

    if (rc == NGX_HTTP_WSHB_KEY_EVICTED) {
        (void) ngx_atomic_fetch_add(&sh->limit_evicted[limit], 1);
        (void) ngx_atomic_fetch_add(&sh->totals.evicted, 1);
    }

    return rc;
}


/* a session of the key at off has ended */

void
ngx_http_ws_heartbeat_key_release(ngx_http_ws_heartbeat_zone_t *zone,
    uint32_t off)
{
    ngx_http_ws_heartbeat_key_t  *kp;

    kp = ngx_http_ws_heartbeat_key_at(zone, off);

    ngx_shmtx_lock(&zone->shpool->mutex);

    kp->sessions--;
    (void) ngx_atomic_fetch_add(&zone->sh->limits[kp->limit],
                                (ngx_atomic_int_t) -1);

    if (kp->sessions == 0 && kp->first == NGX_HTTP_WSHB_NO_RECORD) {
        ngx_http_ws_heartbeat_key_free_locked(zone, kp);
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);
}


/* a new record i of a session of the key at off, its newest */

void
ngx_http_ws_heartbeat_key_link_locked(ngx_http_ws_heartbeat_zone_t *zone,
    uint32_t off, uint32_t i)
{
    ngx_http_ws_heartbeat_key_t    *kp;
    ngx_http_ws_heartbeat_shctx_t  *sh;

    sh = zone->sh;
    kp = ngx_http_ws_heartbeat_key_at(zone, off);

    sh->records[i].key = off;
    sh->records[i].next = NGX_HTTP_WSHB_NO_RECORD;

    if (kp->last == NGX_HTTP_WSHB_NO_RECORD) {
        kp->first = i;

    } else {
        sh->records[kp->last].next = i;
    }

    kp->last = i;
}


/*
 * Record i leaves its key's chain, as it is freed.  With release (its
 * worker died, and never will), its session is no longer counted either.
 */

void
ngx_http_ws_heartbeat_key_unlink_locked(ngx_http_ws_heartbeat_zone_t *zone,
    uint32_t i, ngx_uint_t release)
{
    uint32_t                         j, prev;
    ngx_http_ws_heartbeat_key_t     *kp;
    ngx_http_ws_heartbeat_shctx_t   *sh;
    ngx_http_ws_heartbeat_record_t  *rec;

    sh = zone->sh;
    rec = &sh->records[i];

    if (rec->key == 0) {
        return;
    }

    kp = ngx_http_ws_heartbeat_key_at(zone, rec->key);
    rec->key = 0;

    prev = NGX_HTTP_WSHB_NO_RECORD;

    for (j = kp->first; j != i; j = sh->records[j].next) {
        if (j == NGX_HTTP_WSHB_NO_RECORD) {
            return;
        }

        prev = j;
    }

    if (prev == NGX_HTTP_WSHB_NO_RECORD) {
        kp->first = rec->next;

    } else {
        sh->records[prev].next = rec->next;
    }

    if (kp->last == i) {
        kp->last = prev;
    }

    rec->next = NGX_HTTP_WSHB_NO_RECORD;

    if (release && kp->sessions) {
        kp->sessions--;
        (void) ngx_atomic_fetch_add(&sh->limits[kp->limit],
                                    (ngx_atomic_int_t) -1);
    }

    if (kp->sessions == 0 && kp->first == NGX_HTTP_WSHB_NO_RECORD) {
        ngx_http_ws_heartbeat_key_free_locked(zone, kp);
    }
}


/*
 * The keys of a limit that hold most sessions, most first, at most
 * NGX_HTTP_WSHB_TOP_KEYS of them: how many are in top
 */

ngx_uint_t
ngx_http_ws_heartbeat_key_top_locked(ngx_http_ws_heartbeat_zone_t *zone,
    ngx_uint_t limit, ngx_http_ws_heartbeat_key_count_t *top)
{
    uint32_t                        b, off;
    ngx_uint_t                      n, k;
    ngx_http_ws_heartbeat_key_t    *kp;
    ngx_http_ws_heartbeat_shctx_t  *sh;

    sh = zone->sh;
    n = 0;

    for (b = 0; b <= sh->keys_mask && sh->limit_keys[limit]; b++) {
        for (off = sh->keys[b]; off; off = kp->next) {
            kp = ngx_http_ws_heartbeat_key_at(zone, off);

            if (kp->limit != limit) {
                continue;
            }

            /* where it goes among the most held so far, if anywhere */

            for (k = n; k > 0 && top[k - 1].sessions < kp->sessions; k--) {
                if (k < NGX_HTTP_WSHB_TOP_KEYS) {
                    top[k] = top[k - 1];
                }
            }

            if (k < NGX_HTTP_WSHB_TOP_KEYS) {
                ngx_memcpy(top[k].data, kp->data, kp->len);
                top[k].len = kp->len;
                top[k].sessions = kp->sessions;

                if (n < NGX_HTTP_WSHB_TOP_KEYS) {
                    n++;
                }
            }
        }
    }

    return n;
}


/* a key's hash: its limit's counter, then the key */

static uint32_t
ngx_http_ws_heartbeat_key_hash(ngx_uint_t limit, u_char *data, size_t len)
{
    u_char     k;
    ngx_str_t  parts[2];

    k = (u_char) limit;

    parts[0].data = &k;
    parts[0].len = 1;
    parts[1].data = data;
    parts[1].len = len;

    return ngx_http_ws_heartbeat_table_hash(parts, 2);
}


/*
 * The entry of a key of a limit, taken from the free ones if there is
 * none; NULL: none is free
 */

static ngx_http_ws_heartbeat_key_t *
ngx_http_ws_heartbeat_key_find_locked(ngx_http_ws_heartbeat_zone_t *zone,
    ngx_uint_t limit, ngx_str_t *key, uint32_t hash, uint32_t *off)
{
    ngx_http_ws_heartbeat_key_t     *kp;
    ngx_http_ws_heartbeat_shctx_t   *sh;
    ngx_http_ws_heartbeat_table_t    t;
    ngx_http_ws_heartbeat_key_of_t   of;

    sh = zone->sh;
    ngx_http_ws_heartbeat_keys_table(zone, &t);

    of.limit = limit;
    of.key = key;

    *off = ngx_http_ws_heartbeat_table_find(&t, hash,
                                            ngx_http_ws_heartbeat_key_eq,
                                            &of);
    if (*off) {
        return ngx_http_ws_heartbeat_key_at(zone, *off);
    }

    *off = ngx_http_ws_heartbeat_table_take(t.base, &sh->keys_free);

    if (*off == 0) {
        return NULL;
    }

    kp = ngx_http_ws_heartbeat_key_at(zone, *off);

    kp->sessions = 0;
    kp->first = NGX_HTTP_WSHB_NO_RECORD;
    kp->last = NGX_HTTP_WSHB_NO_RECORD;
    kp->limit = (u_char) limit;
    kp->len = (u_char) key->len;
    ngx_memcpy(kp->data, key->data, key->len);

    ngx_http_ws_heartbeat_table_link(&t, hash, *off);

    sh->limit_keys[limit]++;

    return kp;
}


static ngx_int_t
ngx_http_ws_heartbeat_key_eq(void *entry, void *data)
{
    ngx_http_ws_heartbeat_key_t     *kp = entry;
    ngx_http_ws_heartbeat_key_of_t  *of = data;

    return kp->limit == of->limit && kp->len == of->key->len
           && ngx_memcmp(kp->data, of->key->data, of->key->len) == 0;
}


static void
ngx_http_ws_heartbeat_keys_table(ngx_http_ws_heartbeat_zone_t *zone,
    ngx_http_ws_heartbeat_table_t *t)
{
    t->base = (u_char *) zone->shpool;
    t->buckets = zone->sh->keys;
    t->mask = zone->sh->keys_mask;
}


/*
 * The oldest session of a key that nothing is closing yet, or
 * NGX_HTTP_WSHB_NO_RECORD: sessions the zone has no record for are not
 * seen, and cannot be evicted
 */

static uint32_t
ngx_http_ws_heartbeat_key_victim_locked(ngx_http_ws_heartbeat_zone_t *zone,
    ngx_http_ws_heartbeat_key_t *kp)
{
    uint32_t                         i;
    ngx_http_ws_heartbeat_record_t  *rec;

    for (i = kp->first; i != NGX_HTTP_WSHB_NO_RECORD; i = rec->next) {
        rec = &zone->sh->records[i];

        if (rec->command == 0 && rec->state != NGX_HTTP_WSHB_STATE_CLOSING) {
            return i;
        }
    }

    return NGX_HTTP_WSHB_NO_RECORD;
}


static void
ngx_http_ws_heartbeat_key_free_locked(ngx_http_ws_heartbeat_zone_t *zone,
    ngx_http_ws_heartbeat_key_t *kp)
{
    uint32_t                        off;
    ngx_http_ws_heartbeat_shctx_t  *sh;
    ngx_http_ws_heartbeat_table_t   t;

    sh = zone->sh;
    ngx_http_ws_heartbeat_keys_table(zone, &t);

    off = (uint32_t) ((u_char *) kp - t.base);

    ngx_http_ws_heartbeat_table_unlink(&t,
                                       ngx_http_ws_heartbeat_key_hash(
                                           kp->limit, kp->data, kp->len),
                                       off);

    sh->limit_keys[kp->limit]--;

    ngx_http_ws_heartbeat_table_give(t.base, &sh->keys_free, off);
}


/* the key of the request's limit per key, if it holds one; 0 if not */

uint32_t
ngx_http_ws_heartbeat_key_of(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t                   *cln;
    ngx_http_ws_heartbeat_key_cleanup_t  *kc;

    for (cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_ws_heartbeat_key_cleanup) {
            kc = cln->data;
            return kc->key;
        }
    }

    return 0;
}


/* the pool cleanup of a request that holds a key */

void
ngx_http_ws_heartbeat_key_cleanup(void *data)
{
    ngx_http_ws_heartbeat_key_cleanup_t  *kc = data;

    ngx_http_ws_heartbeat_key_release(kc->zone, kc->key);
}
