
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 *
 * The shared memory zone: global counters and a fixed table of session
 * records, one per live proxied WebSocket session of any worker.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_ws_heartbeat_session.h"
#include "ngx_http_ws_heartbeat_keys.h"
#include "ngx_http_ws_heartbeat_table.h"


/* a host, URI and tags, as a names entry holds them */

typedef struct {
    ngx_str_t                       parts[3];   /* host, URI, tags */
    ngx_uint_t                      cut;
} ngx_http_ws_heartbeat_names_of_t;


static void ngx_http_ws_heartbeat_record_init(
    ngx_http_ws_heartbeat_record_t *rec, ngx_http_request_t *r,
    uint32_t worker_start, uint32_t counter);
static size_t ngx_http_ws_heartbeat_cut(u_char *s, size_t len, size_t max);
static void ngx_http_ws_heartbeat_publish_peer(
    ngx_http_ws_heartbeat_ctx_t *ctx, ngx_uint_t i,
    ngx_http_ws_heartbeat_record_t *rec,
    ngx_http_ws_heartbeat_totals_t *totals);
static ngx_http_ws_heartbeat_event_t *ngx_http_ws_heartbeat_zone_ring(
    ngx_shm_zone_t *shm_zone, ngx_http_ws_heartbeat_zone_t *zone,
    size_t *nev);
static ngx_http_ws_heartbeat_shctx_t *ngx_http_ws_heartbeat_zone_records(
    ngx_slab_pool_t *shpool, size_t n, size_t slot, size_t key);
static ngx_int_t ngx_http_ws_heartbeat_zone_reuse(ngx_shm_zone_t *shm_zone,
    ngx_http_ws_heartbeat_zone_t *zone);
static ngx_int_t ngx_http_ws_heartbeat_zone_counters(
    ngx_shm_zone_t *shm_zone, ngx_http_ws_heartbeat_zone_t *zone);
static ngx_int_t ngx_http_ws_heartbeat_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static size_t ngx_http_ws_heartbeat_tags(ngx_http_request_t *r,
    ngx_array_t *tags, u_char *out);
static size_t ngx_http_ws_heartbeat_tags_fit(u_char *tags, size_t len,
    size_t room);
static uint32_t ngx_http_ws_heartbeat_names_ref_locked(
    ngx_http_ws_heartbeat_zone_t *zone, uint32_t hash,
    ngx_http_ws_heartbeat_names_of_t *of);
static ngx_int_t ngx_http_ws_heartbeat_names_eq(void *entry, void *data);
static void ngx_http_ws_heartbeat_names_unref_locked(
    ngx_http_ws_heartbeat_zone_t *zone, ngx_http_ws_heartbeat_record_t *rec);
static void ngx_http_ws_heartbeat_names_table(
    ngx_http_ws_heartbeat_zone_t *zone, ngx_http_ws_heartbeat_table_t *t);
static void ngx_http_ws_heartbeat_text_locked(
    ngx_http_ws_heartbeat_zone_t *zone, ngx_http_ws_heartbeat_record_t *rec,
    ngx_http_ws_heartbeat_text_t *text);
static void ngx_http_ws_heartbeat_addr(ngx_http_ws_heartbeat_addr_t *a,
    struct sockaddr *sa);
static ngx_uint_t ngx_http_ws_heartbeat_reap_scan_locked(
    ngx_http_ws_heartbeat_zone_t *zone, ngx_pid_t which);
static void ngx_http_ws_heartbeat_owner_locked(
    ngx_http_ws_heartbeat_shctx_t *sh, ngx_pid_t pid, ngx_int_t records,
    ngx_int_t untracked);
static void ngx_http_ws_heartbeat_peer_count_locked(
    ngx_http_ws_heartbeat_zone_t *zone, ngx_http_ws_heartbeat_addr_t *addr,
    ngx_int_t delta);
static ngx_int_t ngx_http_ws_heartbeat_peer_eq(void *entry, void *data);


ngx_uint_t  ngx_http_ws_heartbeat_rtt_bounds[] = {
    1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000
};


/* a second, ten, a minute, five, half an hour, an hour, four, a day */
ngx_uint_t  ngx_http_ws_heartbeat_duration_bounds[] = {
    1, 10, 60, 300, 1800, 3600, 14400, 86400
};


char *
ngx_http_ws_heartbeat_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_ws_heartbeat_main_conf_t *wmcf = conf;

    u_char                        *p;
    ssize_t                        size;
    ngx_str_t                     *value, name, s;
    ngx_http_ws_heartbeat_zone_t  *zone;

    if (wmcf->zone) {
        return "is duplicate";
    }

    value = cf->args->elts;

    p = (u_char *) ngx_strchr(value[1].data, ':');

    if (p == NULL || p == value[1].data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone \"%V\" in \"%V\" directive, "
                           "expected name:size", &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    name.data = value[1].data;
    name.len = p - value[1].data;

    s.data = p + 1;
    s.len = value[1].data + value[1].len - s.data;

    size = ngx_parse_size(&s);

    if (size == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone size \"%V\" in \"%V\" directive",
                           &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (size < (ssize_t) (8 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is too small in \"%V\" directive, "
                           "at least %uzk", &value[1], &cmd->name,
                           8 * ngx_pagesize / 1024);
        return NGX_CONF_ERROR;
    }

    zone = ngx_pcalloc(cf->pool, sizeof(ngx_http_ws_heartbeat_zone_t));
    if (zone == NULL) {
        return NGX_CONF_ERROR;
    }

    /* the tag, the module, comes with the directive */

    zone->shm_zone = ngx_shared_memory_add(cf, &name, size, cmd->post);
    if (zone->shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (zone->shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" in \"%V\" directive is already used",
                           &name, &cmd->name);
        return NGX_CONF_ERROR;
    }

    zone->shm_zone->init = ngx_http_ws_heartbeat_init_zone;
    zone->shm_zone->data = zone;
    wmcf->zone = zone;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_ws_heartbeat_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_ws_heartbeat_zone_t  *ozone = data;

    size_t                          len, n, nev, nb, slot, key;
    uint32_t                       *names, *keys;
    ngx_slab_pool_t                *shpool;
    ngx_http_ws_heartbeat_event_t  *events;
    ngx_http_ws_heartbeat_zone_t   *zone;
    ngx_http_ws_heartbeat_shctx_t  *sh;

    zone = shm_zone->data;

    if (ozone) {
        /* reload: the table and the counters carry over */
        zone->sh = ozone->sh;
        zone->shpool = ozone->shpool;
        return ngx_http_ws_heartbeat_zone_reuse(shm_zone, zone);
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;
    zone->shpool = shpool;

    if (shm_zone->shm.exists) {
        zone->sh = shpool->data;
        return ngx_http_ws_heartbeat_zone_reuse(shm_zone, zone);
    }

    len = sizeof(" in ws_heartbeat zone \"\"") + shm_zone->shm.name.len;

    shpool->log_ctx = ngx_slab_alloc(shpool, len);
    if (shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(shpool->log_ctx, " in ws_heartbeat zone \"%V\"%Z",
                &shm_zone->shm.name);

    events = ngx_http_ws_heartbeat_zone_ring(shm_zone, zone, &nev);
    if (events == NULL) {
        return NGX_ERROR;
    }

    /*
     * As many records as the rest holds with, for each, an entry of names
     * with room for the longest host, URI and tags of the configuration
     * and, if it has a limit per key, an entry of a key with room for the
     * longest key: whatever clients send, every session that has a record
     * has its names and its key, and none can take another's.
     */

    slot = ngx_align(offsetof(ngx_http_ws_heartbeat_names_t, data)
                     + NGX_HTTP_WSHB_HOST_LEN + NGX_HTTP_WSHB_URI_LEN
                     + zone->tags_room, 8);
    key = zone->keyed ? sizeof(ngx_http_ws_heartbeat_key_t) : 0;

    len = nev * sizeof(ngx_http_ws_heartbeat_event_t)
          + offsetof(ngx_http_ws_heartbeat_shctx_t, records);

    n = (shm_zone->shm.size > len ? shm_zone->shm.size - len : 0)
        / (sizeof(ngx_http_ws_heartbeat_record_t) + slot + key);

    for (nb = 16; nb < n / 4; nb <<= 1) { /* void */ }

    names = ngx_slab_calloc(shpool, nb * sizeof(uint32_t));
    if (names == NULL) {
        return NGX_ERROR;
    }

    keys = ngx_slab_calloc(shpool, nb * sizeof(uint32_t));
    if (keys == NULL) {
        return NGX_ERROR;
    }

    sh = ngx_http_ws_heartbeat_zone_records(shpool, n, slot, key);
    if (sh == NULL) {
        return NGX_ERROR;
    }

    sh->tags_room = (uint32_t) (slot
                                - offsetof(ngx_http_ws_heartbeat_names_t, data)
                                - NGX_HTTP_WSHB_HOST_LEN
                                - NGX_HTTP_WSHB_URI_LEN);

    sh->created = ngx_time();
    sh->nevents = (uint32_t) nev;
    sh->events = events;
    sh->names = names;
    sh->names_mask = (uint32_t) (nb - 1);
    sh->keys = keys;
    sh->keys_mask = (uint32_t) (nb - 1);

    zone->sh = sh;
    shpool->data = sh;

    return ngx_http_ws_heartbeat_zone_counters(shm_zone, zone);
}


/*
 * The delta ring, allocated first: at most a quarter of the zone.  The
 * default size is what fits; a size the operator asked for and that does
 * not fit is told.
 */

static ngx_http_ws_heartbeat_event_t *
ngx_http_ws_heartbeat_zone_ring(ngx_shm_zone_t *shm_zone,
    ngx_http_ws_heartbeat_zone_t *zone, size_t *nev)
{
    ngx_http_ws_heartbeat_event_t  *events;

    *nev = ngx_min(zone->nevents, shm_zone->shm.size / 4
                                  / sizeof(ngx_http_ws_heartbeat_event_t));

    events = ngx_slab_alloc(zone->shpool,
                            *nev * sizeof(ngx_http_ws_heartbeat_event_t));
    if (events == NULL) {
        return NULL;
    }

    if (*nev < zone->nevents && zone->ring_set) {
        ngx_log_error(NGX_LOG_NOTICE, shm_zone->shm.log, 0,
                      "ws_heartbeat: zone \"%V\" holds a ring of %uz "
                      "deltas, not %ui", &shm_zone->shm.name, *nev,
                      zone->nevents);
    }

    return events;
}


/*
 * The table with up to n records, fewer if the slab has no room for as
 * many (other allocations take their share), all of them free, and after
 * them as many entries of names of slot bytes and, with key, of keys
 */

static ngx_http_ws_heartbeat_shctx_t *
ngx_http_ws_heartbeat_zone_records(ngx_slab_pool_t *shpool, size_t n,
    size_t slot, size_t key)
{
    u_char                         *p;
    size_t                          i, len;
    ngx_http_ws_heartbeat_shctx_t  *sh;

    shpool->log_nomem = 0;

    for ( ;; ) {
        len = offsetof(ngx_http_ws_heartbeat_shctx_t, records)
              + n * (sizeof(ngx_http_ws_heartbeat_record_t) + slot + key);

        sh = ngx_slab_calloc(shpool, len);
        if (sh) {
            break;
        }

        if (n < 16) {
            return NULL;
        }

        n -= n / 32 + 1;
    }

    sh->nrecords = (uint32_t) n;

    for (i = 0; i < n; i++) {
        sh->records[i].next = (i + 1 < n) ? (uint32_t) (i + 1)
                                          : NGX_HTTP_WSHB_NO_RECORD;
    }

    sh->free = 0;

    p = (u_char *) &sh->records[n];

    ngx_http_ws_heartbeat_table_entries((u_char *) shpool, p, n, slot,
                                        &sh->names_free);
    sh->names_slot = (uint32_t) slot;

    if (key) {
        ngx_http_ws_heartbeat_table_entries((u_char *) shpool, p + n * slot,
                                            n, key, &sh->keys_free);
        sh->nkeys = (uint32_t) n;
    }

    return sh;
}


/*
 * A zone that carries over a reload keeps its delta ring, whose size is
 * fixed when the zone is made: a changed ws_heartbeat_stream_ring is said
 * to wait for a new zone (a restart, or another zone size or name).
 */

static ngx_int_t
ngx_http_ws_heartbeat_zone_reuse(ngx_shm_zone_t *shm_zone,
    ngx_http_ws_heartbeat_zone_t *zone)
{
    size_t  nev;

    nev = ngx_min(zone->nevents, shm_zone->shm.size / 4
                                 / sizeof(ngx_http_ws_heartbeat_event_t));

    if (zone->ring_set && nev != zone->sh->nevents) {
        ngx_log_error(NGX_LOG_WARN, shm_zone->shm.log, 0,
                      "ws_heartbeat: \"ws_heartbeat_stream_ring %ui\" "
                      "waits for a new zone: zone \"%V\" keeps its ring "
                      "of %uD deltas until a restart", zone->nevents,
                      &shm_zone->shm.name, zone->sh->nevents);
    }

    /* the room of each session is fixed when the zone is made, too */

    if (zone->tags_room > zone->sh->tags_room) {
        ngx_log_error(NGX_LOG_WARN, shm_zone->shm.log, 0,
                      "ws_heartbeat: tags of %uz bytes wait for a new "
                      "zone: zone \"%V\" keeps room for %uD bytes of tags "
                      "a session until a restart, the rest are left out",
                      zone->tags_room, &shm_zone->shm.name,
                      zone->sh->tags_room);
    }

    if (zone->keyed && zone->sh->nkeys == 0) {
        ngx_log_error(NGX_LOG_WARN, shm_zone->shm.log, 0,
                      "ws_heartbeat: limits per key wait for a new zone: "
                      "zone \"%V\" was made without room for keys, their "
                      "sessions cannot be counted until a restart",
                      &shm_zone->shm.name);
    }

    return ngx_http_ws_heartbeat_zone_counters(shm_zone, zone);
}


/*
 * The session limits' counters: a limit whose id had one keeps it, with
 * its sessions (a reload keeps counts exact, whatever the order of the
 * directives); a new one takes one that no limit of this configuration
 * has and no session holds.  Only the master writes the ids, and workers
 * never read them.
 */

static ngx_int_t
ngx_http_ws_heartbeat_zone_counters(ngx_shm_zone_t *shm_zone,
    ngx_http_ws_heartbeat_zone_t *zone)
{
    u_char                           taken[NGX_HTTP_WSHB_MAX_LIMITS];
    ngx_uint_t                       i, k;
    ngx_http_ws_heartbeat_limit_t  **lp, *l;
    ngx_http_ws_heartbeat_shctx_t   *sh;

    sh = zone->sh;
    lp = zone->limits->elts;

    ngx_memzero(taken, sizeof(taken));

    for (i = 0; i < zone->limits->nelts; i++) {
        l = lp[i];
        l->index = NGX_HTTP_WSHB_MAX_LIMITS;

        for (k = 0; k < NGX_HTTP_WSHB_MAX_LIMITS; k++) {
            if (sh->limit_ids[k] == l->id) {
                l->index = k;
                taken[k] = 1;
                break;
            }
        }
    }

    for (i = 0; i < zone->limits->nelts; i++) {
        l = lp[i];

        if (l->index != NGX_HTTP_WSHB_MAX_LIMITS) {
            continue;
        }

        for (k = 0; k < NGX_HTTP_WSHB_MAX_LIMITS; k++) {
            if (!taken[k] && sh->limits[k] == 0) {
                break;
            }
        }

        if (k == NGX_HTTP_WSHB_MAX_LIMITS) {
            ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                          "ws_heartbeat: zone \"%V\" has no counter free "
                          "for a new \"ws_heartbeat_max_sessions\": "
                          "sessions of %d limits are open",
                          &shm_zone->shm.name, NGX_HTTP_WSHB_MAX_LIMITS);
            return NGX_ERROR;
        }

        sh->limit_ids[k] = l->id;
        sh->limit_rejected[k] = 0;
        sh->limit_evicted[k] = 0;
        taken[k] = 1;
        l->index = k;
    }

    return NGX_OK;
}


/*
 * The length of s[0..len) cut to at most max bytes, and not in the middle
 * of a UTF-8 sequence: a cut that would leave the start of one drops it
 */

static size_t
ngx_http_ws_heartbeat_cut(u_char *s, size_t len, size_t max)
{
    size_t  n;

    if (len <= max) {
        return len;
    }

    /* s[max] is the first byte left out: a continuation byte splits */

    for (n = max; n > 0 && n > max - 4 && (s[n] & 0xc0) == 0x80; n--) {
        /* void */
    }

    return (n > max - 4) ? n : max;
}


/*
 * A record for a new session, or NGX_HTTP_WSHB_NO_RECORD if the zone is
 * full.  The record is filled in first, so that the "created" delta
 * carries it whole.  A session of a limit per key joins its key's chain.
 */

uint32_t
ngx_http_ws_heartbeat_record_alloc(ngx_http_ws_heartbeat_zone_t *zone,
    ngx_http_request_t *r, ngx_array_t *tags, uint32_t counter,
    uint32_t ends, uint32_t end, uint32_t key)
{
    u_char                            buf[NGX_HTTP_WSHB_TAGS_LEN];
    size_t                            len;
    uint32_t                          i, hash;
    ngx_str_t                        *host, *uri, *tag;
    ngx_uint_t                        warn, cut;
    ngx_http_ws_heartbeat_shctx_t    *sh;
    ngx_http_ws_heartbeat_record_t   *rec, tmp;
    ngx_http_ws_heartbeat_names_of_t  of;

    sh = zone->sh;

    (void) ngx_atomic_fetch_add(&sh->totals.opened, 1);

    /* the record is filled in outside the mutex, and copied under it */

    ngx_http_ws_heartbeat_record_init(&tmp, r,
                                      (uint32_t)
                                          ngx_http_ws_heartbeat_worker.start,
                                      counter);
    tmp.ends = (u_char) ends;
    tmp.end = end;

    host = &of.parts[0];
    uri = &of.parts[1];
    tag = &of.parts[2];

    host->data = r->headers_in.server.data;
    host->len = ngx_http_ws_heartbeat_cut(host->data,
                                          r->headers_in.server.len,
                                          NGX_HTTP_WSHB_HOST_LEN);

    uri->data = r->unparsed_uri.data;
    uri->len = ngx_http_ws_heartbeat_cut(uri->data, r->unparsed_uri.len,
                                         NGX_HTTP_WSHB_URI_LEN);

    tag->data = buf;
    len = tags ? ngx_http_ws_heartbeat_tags(r, tags, buf) : 0;

    /* whole tags, as many as the room the zone was made with holds */

    tag->len = ngx_http_ws_heartbeat_tags_fit(buf, len, sh->tags_room);
    cut = (tag->len < len);
    of.cut = cut;

    hash = ngx_http_ws_heartbeat_table_hash(of.parts, 3);

    ngx_shmtx_lock(&zone->shpool->mutex);

    i = sh->free;

    if (i == NGX_HTTP_WSHB_NO_RECORD) {

        /* open, and no filter can judge it: counted until it ends */

        sh->untracked++;
        ngx_http_ws_heartbeat_owner_locked(sh, ngx_pid, 0, 1);

        if (sh->warned == 0
            || (ngx_msec_int_t) (ngx_current_msec - sh->warned) >= 60000)
        {
            sh->warned = ngx_current_msec ? ngx_current_msec : 1;
            ngx_shmtx_unlock(&zone->shpool->mutex);

            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "ws_heartbeat: zone \"%V\" is full, session "
                          "not tracked (%uD records)",
                          &zone->shm_zone->shm.name, sh->nrecords);

        } else {
            ngx_shmtx_unlock(&zone->shpool->mutex);
        }

        (void) ngx_atomic_fetch_add(&sh->totals.untracked, 1);

        return NGX_HTTP_WSHB_NO_RECORD;
    }

    rec = &sh->records[i];
    sh->free = rec->next;
    sh->used++;

    tmp.names = ngx_http_ws_heartbeat_names_ref_locked(zone, hash, &of);
    warn = 0;

    if (cut) {
        sh->unnamed++;
        sh->cut++;

        if (sh->names_warned == 0
            || (ngx_msec_int_t) (ngx_current_msec - sh->names_warned)
               >= 60000)
        {
            sh->names_warned = ngx_current_msec ? ngx_current_msec : 1;
            warn = 1;
        }
    }

    *rec = tmp;

    ngx_http_ws_heartbeat_owner_locked(sh, ngx_pid, 1, 0);
    ngx_http_ws_heartbeat_peer_count_locked(zone, &rec->upstream, 1);
    (void) ngx_atomic_fetch_add(&sh->states[rec->state], 1);

    if (key) {
        ngx_http_ws_heartbeat_key_link_locked(zone, key, i);
    }

    ngx_http_ws_heartbeat_emit_locked(zone, NGX_HTTP_WSHB_CREATED, NULL, rec);

    ngx_shmtx_unlock(&zone->shpool->mutex);

    if (warn) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "ws_heartbeat: tags of a session left out: zone "
                      "\"%V\" has room for %uD bytes of tags a session",
                      &zone->shm_zone->shm.name, sh->tags_room);
    }

    return i;
}


/* a new session's record, as it starts: healthy, no RTT yet */

static void
ngx_http_ws_heartbeat_record_init(ngx_http_ws_heartbeat_record_t *rec,
    ngx_http_request_t *r, uint32_t worker_start, uint32_t counter)
{
    ngx_time_t           *tp;
    ngx_http_upstream_t  *u;

    ngx_memzero(rec, sizeof(ngx_http_ws_heartbeat_record_t));

    rec->next = NGX_HTTP_WSHB_NO_RECORD;
    rec->pid = ngx_pid;
    rec->worker_start = worker_start;
    rec->counter = counter;
    rec->state = NGX_HTTP_WSHB_STATE_HEALTHY;
    rec->rtt[0] = (uint32_t) -1;
    rec->rtt[1] = (uint32_t) -1;

    tp = ngx_timeofday();
    rec->start = (uint64_t) tp->sec * 1000 + tp->msec;

    ngx_http_ws_heartbeat_addr(&rec->client, r->connection->sockaddr);

    u = r->upstream;

    if (u && u->peer.sockaddr) {
        ngx_http_ws_heartbeat_addr(&rec->upstream, u->peer.sockaddr);
    }
}


/*
 * The session's tags (ws_heartbeat_tag), evaluated once, as it starts,
 * into out: see NGX_HTTP_WSHB_TAGS_LEN.  An empty value leaves its tag
 * out; a longer one is cut at NGX_HTTP_WSHB_TAG_VALUE_LEN bytes.
 */

static size_t
ngx_http_ws_heartbeat_tags(ngx_http_request_t *r, ngx_array_t *tags,
    u_char *out)
{
    u_char                       *p;
    size_t                        len;
    ngx_str_t                     value;
    ngx_uint_t                    i;
    ngx_http_ws_heartbeat_tag_t  *tag;

    p = out;
    tag = tags->elts;

    for (i = 0; i < tags->nelts; i++) {
        if (ngx_http_complex_value(r, &tag[i].value, &value) != NGX_OK) {
            continue;
        }

        len = ngx_http_ws_heartbeat_cut(value.data, value.len,
                                        NGX_HTTP_WSHB_TAG_VALUE_LEN);
        if (len == 0) {
            continue;
        }

        *p++ = (u_char) (tag[i].name.len
                         | (tag[i].metrics ? NGX_HTTP_WSHB_TAG_METRICS : 0));
        p = ngx_cpymem(p, tag[i].name.data, tag[i].name.len);
        *p++ = (u_char) len;
        p = ngx_cpymem(p, value.data, len);
    }

    return p - out;
}


/* the tag at p, and the next one's start; NULL at the end */

u_char *
ngx_http_ws_heartbeat_tag_next(u_char *p, u_char *end,
    ngx_http_ws_heartbeat_tag_value_t *tag)
{
    size_t  len;

    if (end - p < 2) {
        return NULL;
    }

    len = *p & ~NGX_HTTP_WSHB_TAG_METRICS;
    tag->metrics = (*p & NGX_HTTP_WSHB_TAG_METRICS) != 0;
    p++;

    if ((size_t) (end - p) < len + 1) {
        return NULL;
    }

    tag->name.data = p;
    tag->name.len = len;
    p += len;

    len = *p++;

    if ((size_t) (end - p) < len) {
        return NULL;
    }

    tag->value.data = p;
    tag->value.len = len;

    return p + len;
}


/* the length of the first whole tags of tags[0..len) that fit in room */

static size_t
ngx_http_ws_heartbeat_tags_fit(u_char *tags, size_t len, size_t room)
{
    u_char                             *p, *next, *end;
    ngx_http_ws_heartbeat_tag_value_t   tag;

    p = tags;
    end = tags + len;

    while ((next = ngx_http_ws_heartbeat_tag_next(p, end, &tag))
           && (size_t) (next - tags) <= room)
    {
        p = next;
    }

    return p - tags;
}


/*
 * The record of a session that ends is freed; a session without a record
 * (NGX_HTTP_WSHB_NO_RECORD) is no longer counted among those open
 */

void
ngx_http_ws_heartbeat_record_free(ngx_http_ws_heartbeat_zone_t *zone,
    uint32_t i)
{
    ngx_http_ws_heartbeat_shctx_t  *sh;

    sh = zone->sh;

    ngx_shmtx_lock(&zone->shpool->mutex);

    if (i == NGX_HTTP_WSHB_NO_RECORD) {
        if (sh->untracked) {
            sh->untracked--;
        }

        ngx_http_ws_heartbeat_owner_locked(sh, ngx_pid, 0, -1);
        ngx_shmtx_unlock(&zone->shpool->mutex);
        return;
    }

    ngx_http_ws_heartbeat_emit_locked(zone, NGX_HTTP_WSHB_DELETED,
                                      &sh->records[i], NULL);

    ngx_http_ws_heartbeat_names_unref_locked(zone, &sh->records[i]);
    ngx_http_ws_heartbeat_key_unlink_locked(zone, i, 0);
    ngx_http_ws_heartbeat_owner_locked(sh, sh->records[i].pid, -1, 0);
    ngx_http_ws_heartbeat_peer_count_locked(zone, &sh->records[i].upstream,
                                            -1);
    (void) ngx_atomic_fetch_add(&sh->states[sh->records[i].state],
                                (ngx_atomic_int_t) -1);

    sh->records[i].state = NGX_HTTP_WSHB_STATE_FREE;
    sh->records[i].next = sh->free;
    sh->free = i;
    sh->used--;

    ngx_shmtx_unlock(&zone->shpool->mutex);
}


/*
 * How many open sessions the filters of q cannot judge, none of which a
 * DELETE can close: those the zone had no record for, and, for a filter
 * by tag, those with tags left out.  Called with the mutex held.
 */

ngx_uint_t
ngx_http_ws_heartbeat_unjudged_locked(ngx_http_ws_heartbeat_zone_t *zone,
    ngx_http_ws_heartbeat_query_t *q)
{
    ngx_http_ws_heartbeat_shctx_t  *sh;

    sh = zone->sh;

    return sh->untracked + ((q && q->ntags) ? sh->cut : 0);
}


/*
 * Appends a delta to the ring, overwriting the oldest.  Readers poll
 * sh->seq without the lock and copy deltas under it.
 */

void
ngx_http_ws_heartbeat_emit_locked(ngx_http_ws_heartbeat_zone_t *zone,
    ngx_uint_t type, ngx_http_ws_heartbeat_record_t *before,
    ngx_http_ws_heartbeat_record_t *after)
{
    uint64_t                        seq;
    ngx_time_t                     *tp;
    ngx_http_ws_heartbeat_event_t  *ev;
    ngx_http_ws_heartbeat_shctx_t  *sh;

    sh = zone->sh;

    if (sh->nevents == 0) {
        return;
    }

    seq = (uint64_t) sh->seq + 1;
    ev = &sh->events[seq % sh->nevents];

    tp = ngx_timeofday();

    ev->seq = seq;
    ev->time = (uint64_t) tp->sec * 1000 + tp->msec;
    ev->type = type;

    if (before) {
        ev->before = *before;

    } else {
        ev->before.state = NGX_HTTP_WSHB_STATE_FREE;
    }

    if (after) {
        ev->after = *after;

    } else {
        ev->after.state = NGX_HTTP_WSHB_STATE_FREE;
    }

    ngx_http_ws_heartbeat_text_locked(zone, after ? after : before,
                                      &ev->text);

    ngx_memory_barrier();

    sh->seq = (ngx_atomic_uint_t) seq;
}


/*
 * A host, URI and tags for a new record: a reference to the entry that
 * holds them, made if there is none.  There is an entry for every record,
 * each with room for the longest: a record always finds one.
 */

static uint32_t
ngx_http_ws_heartbeat_names_ref_locked(ngx_http_ws_heartbeat_zone_t *zone,
    uint32_t hash, ngx_http_ws_heartbeat_names_of_t *of)
{
    u_char                         *p;
    uint32_t                        off;
    ngx_uint_t                      i;
    ngx_http_ws_heartbeat_names_t  *nm;
    ngx_http_ws_heartbeat_shctx_t  *sh;
    ngx_http_ws_heartbeat_table_t   t;

    sh = zone->sh;
    ngx_http_ws_heartbeat_names_table(zone, &t);

    off = ngx_http_ws_heartbeat_table_find(&t, hash,
                                           ngx_http_ws_heartbeat_names_eq,
                                           of);
    if (off) {
        nm = (ngx_http_ws_heartbeat_names_t *) (t.base + off);
        nm->refs++;
        return off;
    }

    off = ngx_http_ws_heartbeat_table_take(t.base, &sh->names_free);

    if (off == 0) {
        /* not reached: the records are as many as the entries */
        return 0;
    }

    nm = (ngx_http_ws_heartbeat_names_t *) (t.base + off);

    nm->refs = 1;
    nm->cut = (u_char) of->cut;
    nm->host_len = (u_char) of->parts[0].len;
    nm->uri_len = (u_char) of->parts[1].len;
    nm->tags_len = (uint16_t) of->parts[2].len;

    p = nm->data;

    for (i = 0; i < 3; i++) {
        p = ngx_cpymem(p, of->parts[i].data, of->parts[i].len);
    }

    ngx_http_ws_heartbeat_table_link(&t, hash, off);

    sh->nnames++;

    return off;
}


static ngx_int_t
ngx_http_ws_heartbeat_names_eq(void *entry, void *data)
{
    ngx_http_ws_heartbeat_names_t     *nm = entry;
    ngx_http_ws_heartbeat_names_of_t  *of = data;

    u_char      *p;
    ngx_uint_t   i;

    if (nm->host_len != of->parts[0].len
        || nm->uri_len != of->parts[1].len
        || nm->tags_len != of->parts[2].len
        || nm->cut != of->cut)
    {
        return 0;
    }

    p = nm->data;

    for (i = 0; i < 3; i++) {
        if (ngx_memcmp(p, of->parts[i].data, of->parts[i].len) != 0) {
            return 0;
        }

        p += of->parts[i].len;
    }

    return 1;
}


static void
ngx_http_ws_heartbeat_names_unref_locked(ngx_http_ws_heartbeat_zone_t *zone,
    ngx_http_ws_heartbeat_record_t *rec)
{
    uint32_t                        off;
    ngx_str_t                       parts[3];
    ngx_http_ws_heartbeat_names_t  *nm;
    ngx_http_ws_heartbeat_shctx_t  *sh;
    ngx_http_ws_heartbeat_table_t   t;

    if (rec->names == 0) {
        return;
    }

    sh = zone->sh;
    ngx_http_ws_heartbeat_names_table(zone, &t);

    off = rec->names;
    nm = (ngx_http_ws_heartbeat_names_t *) (t.base + off);

    rec->names = 0;

    if (nm->cut && sh->cut) {
        sh->cut--;
    }

    if (--nm->refs) {
        return;
    }

    parts[0].data = nm->data;
    parts[0].len = nm->host_len;
    parts[1].data = parts[0].data + parts[0].len;
    parts[1].len = nm->uri_len;
    parts[2].data = parts[1].data + parts[1].len;
    parts[2].len = nm->tags_len;

    ngx_http_ws_heartbeat_table_unlink(&t,
                                       ngx_http_ws_heartbeat_table_hash(parts,
                                                                        3),
                                       off);
    sh->nnames--;

    ngx_http_ws_heartbeat_table_give(t.base, &sh->names_free, off);
}


static void
ngx_http_ws_heartbeat_names_table(ngx_http_ws_heartbeat_zone_t *zone,
    ngx_http_ws_heartbeat_table_t *t)
{
    t->base = (u_char *) zone->shpool;
    t->buckets = zone->sh->names;
    t->mask = zone->sh->names_mask;
}


/* a copy of a record with its host and URI, made under the mutex */

void
ngx_http_ws_heartbeat_view_locked(ngx_http_ws_heartbeat_zone_t *zone,
    ngx_http_ws_heartbeat_record_t *rec, ngx_http_ws_heartbeat_view_t *view)
{
    view->rec = *rec;
    ngx_http_ws_heartbeat_text_locked(zone, rec, &view->text);
}


/* the names entry of a record, NULL if it has none */

ngx_http_ws_heartbeat_names_t *
ngx_http_ws_heartbeat_names_locked(ngx_http_ws_heartbeat_zone_t *zone,
    ngx_http_ws_heartbeat_record_t *rec)
{
    if (rec->names == 0) {
        return NULL;
    }

    return (ngx_http_ws_heartbeat_names_t *) ((u_char *) zone->shpool
                                              + rec->names);
}


/* the host, URI and tags of a record, for a copy made under the mutex */

static void
ngx_http_ws_heartbeat_text_locked(ngx_http_ws_heartbeat_zone_t *zone,
    ngx_http_ws_heartbeat_record_t *rec, ngx_http_ws_heartbeat_text_t *text)
{
    u_char                         *p;
    ngx_http_ws_heartbeat_names_t  *nm;

    nm = ngx_http_ws_heartbeat_names_locked(zone, rec);

    if (nm == NULL) {
        text->host_len = 0;
        text->uri_len = 0;
        text->tags_len = 0;
        return;
    }

    text->host_len = nm->host_len;
    text->uri_len = nm->uri_len;
    text->tags_len = nm->tags_len;

    p = nm->data;
    ngx_memcpy(text->host, p, nm->host_len);
    p += nm->host_len;
    ngx_memcpy(text->uri, p, nm->uri_len);
    p += nm->uri_len;
    ngx_memcpy(text->tags, p, nm->tags_len);
}


/*
 * Records of workers that died without cleaning up (SIGKILL, a crash) are
 * freed, so that counts stay exact.  The workers that have records are
 * known (sh->owners): only a dead one's are looked for, among all the
 * records; with more owners than the table holds, every record is looked
 * at.  Called with the mutex held.
 */

ngx_uint_t
ngx_http_ws_heartbeat_zone_reap_locked(ngx_http_ws_heartbeat_zone_t *zone)
{
    ngx_uint_t                      k, n;
    ngx_http_ws_heartbeat_owner_t  *o;
    ngx_http_ws_heartbeat_shctx_t  *sh;

    sh = zone->sh;

    if (sh->used == 0 && sh->untracked == 0) {
        return 0;
    }

    if (sh->owners_full) {
        return ngx_http_ws_heartbeat_reap_scan_locked(zone, 0);
    }

    n = 0;

    for (k = 0; k < NGX_HTTP_WSHB_OWNERS; k++) {
        o = &sh->owners[k];

        if ((o->records == 0 && o->untracked == 0) || o->pid == ngx_pid
            || kill(o->pid, 0) == 0 || ngx_errno != NGX_ESRCH)
        {
            continue;
        }

        if (o->records) {
            n += ngx_http_ws_heartbeat_reap_scan_locked(zone, o->pid);
        }

        /* its sessions without a record ended with it */

        sh->untracked -= ngx_min(sh->untracked, o->untracked);
        o->records = 0;
        o->untracked = 0;
    }

    return n;
}


/* the records of that dead worker, or (0) of any dead worker, freed */

static ngx_uint_t
ngx_http_ws_heartbeat_reap_scan_locked(ngx_http_ws_heartbeat_zone_t *zone,
    ngx_pid_t which)
{
    uint32_t                         i;
    uint64_t                         now;
    ngx_pid_t                        pids[16], dead;
    ngx_uint_t                       n, k, npids;
    ngx_time_t                      *tp;
    ngx_http_ws_heartbeat_shctx_t   *sh;
    ngx_http_ws_heartbeat_record_t  *rec;

    sh = zone->sh;

    tp = ngx_timeofday();
    now = (uint64_t) tp->sec * 1000 + tp->msec;

    /* a few live workers serve all records: ask the kernel once each */

    pids[0] = ngx_pid;
    npids = 1;
    dead = which;
    n = 0;

    for (i = 0; i < sh->nrecords && sh->used; i++) {
        rec = &sh->records[i];

        if (rec->state == NGX_HTTP_WSHB_STATE_FREE
            || (which && rec->pid != which))
        {
            continue;
        }

        if (rec->pid != dead) {
            for (k = 0; k < npids; k++) {
                if (pids[k] == rec->pid) {
                    break;
                }
            }

            if (k < npids) {
                continue;
            }

            if (kill(rec->pid, 0) == 0 || ngx_errno != NGX_ESRCH) {
                pids[npids < 16 ? npids++ : 15] = rec->pid;
                continue;
            }

            dead = rec->pid;
        }

        (void) ngx_atomic_fetch_add(&sh->states[rec->state],
                                    (ngx_atomic_int_t) -1);

        ngx_http_ws_heartbeat_duration(zone, NGX_HTTP_WSHB_WORKER_LOST,
                                       now > rec->start ? now - rec->start
                                                        : 0);

        rec->state = NGX_HTTP_WSHB_STATE_CLOSING;
        rec->reason = NGX_HTTP_WSHB_WORKER_LOST;
        ngx_http_ws_heartbeat_emit_locked(zone, NGX_HTTP_WSHB_DELETED, rec,
                                          NULL);

        ngx_http_ws_heartbeat_names_unref_locked(zone, rec);
        ngx_http_ws_heartbeat_peer_count_locked(zone, &rec->upstream, -1);

        /* its worker never ends the session: it no longer holds its key */

        ngx_http_ws_heartbeat_key_unlink_locked(zone, i, 1);

        rec->state = NGX_HTTP_WSHB_STATE_FREE;
        rec->next = sh->free;
        sh->free = i;
        sh->used--;
        n++;
    }

    if (n) {
        (void) ngx_atomic_fetch_add(&sh->totals.reaped, n);
        (void) ngx_atomic_fetch_add(
                      &sh->totals.closed[NGX_HTTP_WSHB_WORKER_LOST], n);
    }

    return n;
}


/* how long a session lasted, ms, by why it ended */

void
ngx_http_ws_heartbeat_duration(ngx_http_ws_heartbeat_zone_t *zone,
    ngx_uint_t reason, uint64_t ms)
{
    ngx_uint_t                       b;
    ngx_http_ws_heartbeat_totals_t  *t;

    t = &zone->sh->totals;

    for (b = 0; b < NGX_HTTP_WSHB_DURATION_BUCKETS; b++) {
        if (ms <= (uint64_t) ngx_http_ws_heartbeat_duration_bounds[b] * 1000) {
            break;
        }
    }

    (void) ngx_atomic_fetch_add(&t->duration_bucket[reason][b], 1);
    (void) ngx_atomic_fetch_add(&t->duration_sum[reason],
                                (ngx_atomic_int_t) ms);
}


/*
 * One record, or one session without a record, more (1) or fewer (-1) of
 * a worker
 */

static void
ngx_http_ws_heartbeat_owner_locked(ngx_http_ws_heartbeat_shctx_t *sh,
    ngx_pid_t pid, ngx_int_t records, ngx_int_t untracked)
{
    ngx_uint_t                      k;
    ngx_http_ws_heartbeat_owner_t  *o, *free;

    free = NULL;

    for (k = 0; k < NGX_HTTP_WSHB_OWNERS; k++) {
        o = &sh->owners[k];

        if ((o->records || o->untracked) && o->pid == pid) {
            o->records += records;

            if (untracked > 0 || o->untracked) {
                o->untracked += untracked;
            }

            return;
        }

        if (o->records == 0 && o->untracked == 0 && free == NULL) {
            free = o;
        }
    }

    if (records > 0 || untracked > 0) {
        if (free) {
            free->pid = pid;
            free->records = (records > 0);
            free->untracked = (untracked > 0);

        } else {
            sh->owners_full = 1;
        }
    }
}


/*
 * One session more (1) or fewer (-1) of an upstream peer.  A peer the
 * zone has no room for makes its counts come from a look at every record
 * from then on.
 */

static void
ngx_http_ws_heartbeat_peer_count_locked(ngx_http_ws_heartbeat_zone_t *zone,
    ngx_http_ws_heartbeat_addr_t *addr, ngx_int_t delta)
{
    uint32_t                             off, hash;
    ngx_str_t                            part;
    ngx_http_ws_heartbeat_shctx_t       *sh;
    ngx_http_ws_heartbeat_table_t        t;
    ngx_http_ws_heartbeat_peer_count_t  *pc;

    sh = zone->sh;

    t.base = (u_char *) zone->shpool;
    t.buckets = sh->peers;
    t.mask = NGX_HTTP_WSHB_PEER_BUCKETS - 1;

    part.data = (u_char *) addr;
    part.len = sizeof(ngx_http_ws_heartbeat_addr_t);

    hash = ngx_http_ws_heartbeat_table_hash(&part, 1);
    off = ngx_http_ws_heartbeat_table_find(&t, hash,
                                           ngx_http_ws_heartbeat_peer_eq,
                                           addr);

    if (off == 0) {
        if (delta < 0) {
            return;
        }

        pc = ngx_slab_alloc_locked(zone->shpool,
                                   sizeof(ngx_http_ws_heartbeat_peer_count_t));
        if (pc == NULL) {
            sh->peers_lost = 1;
            return;
        }

        pc->sessions = 0;
        pc->addr = *addr;

        off = (uint32_t) ((u_char *) pc - t.base);
        ngx_http_ws_heartbeat_table_link(&t, hash, off);
        sh->npeers++;
    }

    pc = (ngx_http_ws_heartbeat_peer_count_t *) (t.base + off);
    pc->sessions += delta;

    if (pc->sessions == 0) {
        ngx_http_ws_heartbeat_table_unlink(&t, hash, off);
        sh->npeers--;
        ngx_slab_free_locked(zone->shpool, pc);
    }
}


static ngx_int_t
ngx_http_ws_heartbeat_peer_eq(void *entry, void *data)
{
    ngx_http_ws_heartbeat_peer_count_t  *pc = entry;

    return ngx_memcmp(&pc->addr, data, sizeof(ngx_http_ws_heartbeat_addr_t))
           == 0;
}


static void
ngx_http_ws_heartbeat_addr(ngx_http_ws_heartbeat_addr_t *a,
    struct sockaddr *sa)
{
    struct sockaddr_in   *sin;
#if (NGX_HAVE_INET6)
    struct sockaddr_in6  *sin6;
#endif

    switch (sa->sa_family) {

    case AF_INET:
        sin = (struct sockaddr_in *) sa;
        a->family = AF_INET;
        ngx_memcpy(a->addr, &sin->sin_addr, 4);
        a->port = ntohs(sin->sin_port);
        break;

#if (NGX_HAVE_INET6)
    case AF_INET6:
        sin6 = (struct sockaddr_in6 *) sa;
        a->family = AF_INET6;
        ngx_memcpy(a->addr, &sin6->sin6_addr, 16);
        a->port = ntohs(sin6->sin6_port);
        break;
#endif

    default:
        a->family = (u_char) sa->sa_family;
    }
}


/*
 * "127.0.0.1:8080", "[::1]:8080", "unix:"; without the port, "127.0.0.1"
 * and "::1".  Needs NGX_SOCKADDR_STRLEN bytes.
 */

u_char *
ngx_http_ws_heartbeat_addr_text(u_char *p, ngx_http_ws_heartbeat_addr_t *a,
    ngx_uint_t port)
{
    switch (a->family) {

    case AF_INET:
        p = ngx_sprintf(p, "%ud.%ud.%ud.%ud", a->addr[0], a->addr[1],
                        a->addr[2], a->addr[3]);
        return port ? ngx_sprintf(p, ":%ud", (ngx_uint_t) a->port) : p;

#if (NGX_HAVE_INET6)
    case AF_INET6:
        if (!port) {
            return p + ngx_inet6_ntop(a->addr, p, NGX_INET6_ADDRSTRLEN);
        }

        *p++ = '[';
        p += ngx_inet6_ntop(a->addr, p, NGX_INET6_ADDRSTRLEN);
        return ngx_sprintf(p, "]:%ud", (ngx_uint_t) a->port);
#endif

    case AF_UNIX:
        return ngx_cpymem(p, "unix:", 5);

    default:
        return ngx_cpymem(p, "-", 1);
    }
}


/*
 * Copies the session's counters to its record and adds what changed to
 * the zone's totals: from state changes and timers, never per frame.
 */

void
ngx_http_ws_heartbeat_publish(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_uint_t state)
{
    ngx_uint_t                       i, emit;
    ngx_http_ws_heartbeat_peer_t    *peer;
    ngx_http_ws_heartbeat_zone_t    *zone;
    ngx_http_ws_heartbeat_shctx_t   *sh;
    ngx_http_ws_heartbeat_totals_t  *totals;
    ngx_http_ws_heartbeat_record_t  *rec, before;

    zone = ngx_http_ws_heartbeat_worker.zone;

    if (zone == NULL) {
        return;
    }

    totals = &zone->sh->totals;

    if (ctx->record == NGX_HTTP_WSHB_NO_RECORD) {

        /* without a record to mark what was added: all of it at the end */

        if (ctx->ending) {
            for (i = 0; i < 2; i++) {
                peer = &ctx->peer[i];

                (void) ngx_atomic_fetch_add(&totals->frames[i],
                                 ngx_http_ws_heartbeat_frames(&peer->parser));
                (void) ngx_atomic_fetch_add(&totals->bytes[i],
                                            peer->rx_bytes);
            }
        }

        return;
    }

    rec = &zone->sh->records[ctx->record];

    /* a change of state is a delta for subscribers: keep the old record */

    emit = (state && state != rec->state && !ctx->ending);

    if (emit) {
        before = *rec;
    }

    for (i = 0; i < 2; i++) {
        ngx_http_ws_heartbeat_publish_peer(ctx, i, rec, totals);
    }

    rec->reason = (u_char) ctx->reason;

    if (state && state != rec->state) {
        (void) ngx_atomic_fetch_add(&zone->sh->states[rec->state],
                                    (ngx_atomic_int_t) -1);
        (void) ngx_atomic_fetch_add(&zone->sh->states[state], 1);
        rec->state = (u_char) state;
    }

    if (!emit) {
        return;
    }

    /*
     * The routine ping cycle (healthy <-> awaiting_pong) is only recorded
     * while somebody subscribes: with 20 000 sessions pinged every second
     * it is 40 000 deltas a second.  When it is not recorded, resumes from
     * before this point get a snapshot instead.  The record is written
     * before the subscribers are counted, so a subscriber that arrives
     * meanwhile has it in its snapshot.
     */

    if ((state == NGX_HTTP_WSHB_STATE_HEALTHY
         || state == NGX_HTTP_WSHB_STATE_AWAITING)
        && (before.state == NGX_HTTP_WSHB_STATE_HEALTHY
            || before.state == NGX_HTTP_WSHB_STATE_AWAITING))
    {
        ngx_memory_barrier();

        if (totals->subscribers[0] + totals->subscribers[1] == 0) {
            sh = zone->sh;

            /* written only when it moves: the line stays shared */

            if (sh->unrecorded != sh->seq + 1) {
                sh->unrecorded = sh->seq + 1;
            }

            return;
        }
    }

    ngx_shmtx_lock(&zone->shpool->mutex);
    ngx_http_ws_heartbeat_emit_locked(zone, NGX_HTTP_WSHB_UPDATED,
                                      &before, rec);
    ngx_shmtx_unlock(&zone->shpool->mutex);
}


/*
 * Peer i's times and counters into the record, and what its frames and
 * bytes grew by since into the zone's totals: the record has what the
 * totals got so far
 */

static void
ngx_http_ws_heartbeat_publish_peer(ngx_http_ws_heartbeat_ctx_t *ctx,
    ngx_uint_t i, ngx_http_ws_heartbeat_record_t *rec,
    ngx_http_ws_heartbeat_totals_t *totals)
{
    uint64_t                       frames;
    ngx_http_ws_heartbeat_msec_t   last;
    ngx_http_ws_heartbeat_peer_t  *peer;

    peer = &ctx->peer[i];

    last = ngx_http_ws_heartbeat_last_rx(peer);
    rec->last_rx[i] = last ? last - ctx->start : 0;
    rec->last_pong[i] = peer->last_pong ? peer->last_pong - ctx->start : 0;
    rec->rtt[i] = peer->rtt_set ? peer->rtt : (uint32_t) -1;
    rec->pings[i] = peer->pings;
    rec->pongs[i] = peer->parser.pongs;

    frames = ngx_http_ws_heartbeat_frames(&peer->parser);

    if (frames != rec->frames[i]) {
        (void) ngx_atomic_fetch_add(&totals->frames[i],
                                    frames - rec->frames[i]);
        rec->frames[i] = frames;
    }

    if (peer->rx_bytes != rec->bytes[i]) {
        (void) ngx_atomic_fetch_add(&totals->bytes[i],
                                    peer->rx_bytes - rec->bytes[i]);
        rec->bytes[i] = peer->rx_bytes;
    }
}


/*
 * Whether the watch is to look for silent sessions this second: while a
 * limit of all sessions is near its number, or any limit per key is
 * configured (its keys come near theirs one by one).  Otherwise nothing
 * walks the sessions of the worker every second.
 */

ngx_uint_t
ngx_http_ws_heartbeat_limits_pressed(ngx_http_ws_heartbeat_zone_t *zone)
{
    ngx_uint_t                       i;
    ngx_http_ws_heartbeat_limit_t  **lp;

    if (zone == NULL) {
        return 0;
    }

    lp = zone->limits->elts;

    for (i = 0; i < zone->limits->nelts; i++) {
        if (lp[i]->key
            || ngx_http_ws_heartbeat_under_pressure(zone, lp[i]->index,
                                                    lp[i]->max))
        {
            return 1;
        }
    }

    return 0;
}
