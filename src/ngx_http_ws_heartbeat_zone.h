
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 */


#ifndef _NGX_HTTP_WS_HEARTBEAT_ZONE_H_INCLUDED_
#define _NGX_HTTP_WS_HEARTBEAT_ZONE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_ws_heartbeat.h"
#include "ngx_http_ws_heartbeat_frame.h"
#include "ngx_http_ws_heartbeat_query.h"


/*
 * A session's id: its worker's start time (8), the worker's pid (6) and
 * a counter of the worker (8), in hex
 */
#define NGX_HTTP_WSHB_ID_FMT          "%08xD%06xP%08xD"

/* the arguments of NGX_HTTP_WSHB_ID_FMT for a record */
#define NGX_HTTP_WSHB_RECORD_ID(rec)                                          \
    (rec)->worker_start, (rec)->pid, (rec)->counter

#define NGX_HTTP_WSHB_HOST_LEN        32
#define NGX_HTTP_WSHB_URI_LEN         64

/*
 * A session's tags, one after the other: a byte with the name's length
 * (NGX_HTTP_WSHB_TAG_METRICS added for a tag counted in Prometheus), the
 * name, a byte with the value's length, the value
 */
#define NGX_HTTP_WSHB_TAG_METRICS     0x80
#define NGX_HTTP_WSHB_TAGS_LEN                                               \
    (NGX_HTTP_WSHB_MAX_TAGS                                                   \
     * (2 + NGX_HTTP_WSHB_TAG_NAME_LEN + NGX_HTTP_WSHB_TAG_VALUE_LEN))

/*
 * close frames asked for by DELETEs, kept in the zone for the owners: a
 * slot is held while a live record is marked with it
 */
#define NGX_HTTP_WSHB_COMMANDS        8

/* a record's command that evicts it: this, plus its limit's counter */
#define NGX_HTTP_WSHB_EVICT           0x80

/*
 * The longest key of a limit per key (ws_heartbeat_max_sessions key=):
 * every entry of a key has room for one so long
 */
#define NGX_HTTP_WSHB_LIMIT_KEY_LEN   64

/* RTT histogram bounds, ms; one more bucket for +Inf */
#define NGX_HTTP_WSHB_RTT_BUCKETS     12

/* session duration histogram bounds, s; one more bucket for +Inf */
#define NGX_HTTP_WSHB_DURATION_BUCKETS  8

#define NGX_HTTP_WSHB_NO_RECORD       ((uint32_t) -1)

/* session deltas kept in the zone's ring for subscribers */
#define NGX_HTTP_WSHB_CREATED         1
#define NGX_HTTP_WSHB_UPDATED         2
#define NGX_HTTP_WSHB_DELETED         3



typedef struct {
    u_char                        family;       /* 0: unknown */
    u_char                        addr[16];
    uint16_t                      port;
} ngx_http_ws_heartbeat_addr_t;


/*
 * One live session, 152 bytes.  Allocated and freed under the zone mutex;
 * afterwards only the owning worker writes it, without the mutex, from
 * state changes and timers; readers copy it under the mutex.  Its host,
 * URI and tags are in a names entry that sessions with the same ones
 * share.  A DELETE or an eviction sets "command" under the mutex, and the
 * owner reads it: the close frame it is to send.  "key" and "next" (the
 * same key's next session, oldest first) change under the mutex only.
 */

typedef struct {
    uint32_t                      next;         /* free list, or its key's */
    ngx_pid_t                     pid;
    uint32_t                      worker_start;
    uint32_t                      counter;      /* with the two above: id */

    uint64_t                      start;        /* unix time, ms */

    ngx_http_ws_heartbeat_addr_t  client;
    ngx_http_ws_heartbeat_addr_t  upstream;

    u_char                        state;
    u_char                        reason;
    u_char                        command;      /* 1 + its slot; 0: none */
    u_char                        ends;         /* max age, expiry: why */

    uint32_t                      names;        /* offset in the zone; 0 */

    /* per peer: 0 the client, 1 the upstream; times are ms after start */

    uint32_t                      last_rx[2];
    uint32_t                      last_pong[2];
    uint32_t                      rtt[2];
    uint32_t                      pings[2];
    uint32_t                      pongs[2];
    uint32_t                      end;          /* when it is closed: 0 */
    uint32_t                      key;          /* offset in the zone; 0 */
    uint64_t                      frames[2];    /* frames from the peer */
    uint64_t                      bytes[2];     /* bytes from the peer */
} ngx_http_ws_heartbeat_record_t;


/*
 * A host, URI and tags that live sessions share, found through a hash
 * table.  The zone has one entry for each record, each with room for the
 * longest host, URI and tags of the configuration that made the zone
 * (sh->names_slot bytes), so that no session can take another's.  A free
 * entry is on the free list through "next".  Changed under the zone mutex
 * only.
 */

typedef struct {
    uint32_t                      next;         /* hash chain; 0: end */
    uint32_t                      refs;         /* records that use it */
    u_char                        host_len;
    u_char                        uri_len;
    uint16_t                      tags_len;
    u_char                        cut;          /* tags left out: no room */
    u_char                        data[3];      /* host, URI, tags */
} ngx_http_ws_heartbeat_names_t;


/*
 * A key of a limit per key, with the sessions it holds: one of as many
 * entries as the zone has records, found through a hash table, freed with
 * its last session.  Changed under the zone mutex only; "sessions" is also
 * read without it.
 */

typedef struct {
    uint32_t                      next;         /* hash chain, free list */
    uint32_t                      sessions;     /* admitted, not yet ended */
    uint32_t                      first;        /* its records, oldest */
    uint32_t                      last;         /* first; or NO_RECORD */
    u_char                        limit;        /* its limit's counter */
    u_char                        len;
    u_char                        data[NGX_HTTP_WSHB_LIMIT_KEY_LEN];
} ngx_http_ws_heartbeat_key_t;


/*
 * An upstream peer with its sessions, so that counts need no look at
 * every record: in a 32-byte slab chunk, found through a hash table
 */

typedef struct {
    uint32_t                      next;         /* hash chain; 0: end */
    uint32_t                      sessions;
    ngx_http_ws_heartbeat_addr_t  addr;
} ngx_http_ws_heartbeat_peer_count_t;


/* a worker with records: a dead one's are reaped */

typedef struct {
    ngx_pid_t                     pid;
    uint32_t                      records;
    uint32_t                      untracked;    /* open, without a record */
} ngx_http_ws_heartbeat_owner_t;


#define NGX_HTTP_WSHB_OWNERS          32
#define NGX_HTTP_WSHB_PEER_BUCKETS    64


typedef struct {
    u_char                        host_len;
    u_char                        uri_len;
    uint16_t                      tags_len;
    u_char                        host[NGX_HTTP_WSHB_HOST_LEN];
    u_char                        uri[NGX_HTTP_WSHB_URI_LEN];
    u_char                        tags[NGX_HTTP_WSHB_TAGS_LEN];
} ngx_http_ws_heartbeat_text_t;


/* one tag of a session, as ngx_http_ws_heartbeat_tag_next() finds it */

typedef struct {
    ngx_str_t                     name;
    ngx_str_t                     value;
    ngx_uint_t                    metrics;
} ngx_http_ws_heartbeat_tag_value_t;


typedef struct {
    uint16_t                      code;
    u_char                        len;
    u_char                        text[NGX_HTTP_WSHB_REASON_MAX];
} ngx_http_ws_heartbeat_command_t;


/* a record with its host and URI, as readers copy it */

typedef struct {
    ngx_http_ws_heartbeat_record_t  rec;
    ngx_http_ws_heartbeat_text_t    text;
} ngx_http_ws_heartbeat_view_t;


typedef struct {
    ngx_atomic_t                  opened;
    ngx_atomic_t                  closed[NGX_HTTP_WSHB_NREASONS];
    ngx_atomic_t                  rejected;
    ngx_atomic_t                  evicted;
    ngx_atomic_t                  unkeyed;      /* no room for their key */
    ngx_atomic_t                  untracked;
    ngx_atomic_t                  reaped;
    ngx_atomic_t                  skipped[NGX_HTTP_WSHB_NSKIPS]; /* by cause */
    ngx_atomic_t                  pings[2];
    ngx_atomic_t                  pongs[2];
    ngx_atomic_t                  frames[2];
    ngx_atomic_t                  bytes[2];
    ngx_atomic_t                  rtt_bucket[2][NGX_HTTP_WSHB_RTT_BUCKETS + 1];
    ngx_atomic_t                  rtt_sum[2];   /* ms */
    ngx_atomic_t                  rtt_count[2];
    ngx_atomic_t                  duration_bucket[NGX_HTTP_WSHB_NREASONS]
                                      [NGX_HTTP_WSHB_DURATION_BUCKETS + 1];
    ngx_atomic_t                  duration_sum[NGX_HTTP_WSHB_NREASONS]; /* ms */
    ngx_atomic_t                  subscribers[2];   /* open: WebSocket, SSE */
    ngx_atomic_t                  subscribed;       /* ever */
    ngx_atomic_t                  unsubscribed[NGX_HTTP_WSHB_SUB_NREASONS];
    ngx_atomic_t                  resyncs;   /* resumes that got a snapshot */
} ngx_http_ws_heartbeat_totals_t;


/*
 * One session delta: a record before and after the change, and the host,
 * URI and tags they share, 744 bytes.
 */

typedef struct {
    uint64_t                        seq;
    uint64_t                        time;       /* unix time, ms */
    uint64_t                        type;
    ngx_http_ws_heartbeat_record_t  before;     /* unset for created */
    ngx_http_ws_heartbeat_record_t  after;      /* unset for deleted */
    ngx_http_ws_heartbeat_text_t    text;
} ngx_http_ws_heartbeat_event_t;


typedef struct {
    ngx_http_ws_heartbeat_totals_t  totals;
    time_t                        created;
    ngx_msec_t                    warned;       /* last "zone full" warning */
    ngx_msec_t                    names_warned; /* last "no room" warning */
    uint32_t                      nrecords;
    uint32_t                      used;
    uint32_t                      free;         /* head of the free list */

    /*
     * By limit of ws_heartbeat_max_sessions: whose counter (its id, or
     * 0), its sessions, rejections, evictions, keys with sessions, and
     * the close code of its evictions
     */
    uint32_t                      limit_ids[NGX_HTTP_WSHB_MAX_LIMITS];
    ngx_atomic_t                  limits[NGX_HTTP_WSHB_MAX_LIMITS];
    ngx_atomic_t                  limit_rejected[NGX_HTTP_WSHB_MAX_LIMITS];
    ngx_atomic_t                  limit_evicted[NGX_HTTP_WSHB_MAX_LIMITS];
    uint32_t                      limit_keys[NGX_HTTP_WSHB_MAX_LIMITS];
    uint16_t                      limit_code[NGX_HTTP_WSHB_MAX_LIMITS];

    ngx_atomic_t                  seq;          /* of the last delta */
    ngx_atomic_t                  unrecorded;   /* resumes need since >= */
    uint32_t                      nevents;      /* ring size */
    ngx_http_ws_heartbeat_event_t  *events;
    uint32_t                     *names;        /* hash table of names */
    uint32_t                      names_mask;
    uint32_t                      nnames;       /* entries used */
    uint32_t                      names_free;   /* an entry's offset; 0 */
    uint32_t                      names_slot;   /* bytes an entry has */
    uint32_t                      tags_room;    /* of them for tags */
    ngx_atomic_t                  unnamed;      /* tags left out */
    uint32_t                      cut;          /* live, with tags left out */
    uint32_t                      untracked;    /* live, without a record */
    ngx_atomic_t                  states[NGX_HTTP_WSHB_NSTATES]; /* records */
    ngx_http_ws_heartbeat_owner_t  owners[NGX_HTTP_WSHB_OWNERS];
    ngx_uint_t                    owners_full;  /* reaping looks at all */
    uint32_t                      peers[NGX_HTTP_WSHB_PEER_BUCKETS];
    uint32_t                      npeers;
    ngx_uint_t                    peers_lost;   /* counts need a look */
    uint32_t                     *keys;         /* hash table of keys */
    uint32_t                      keys_mask;
    uint32_t                      keys_free;    /* an entry's offset; 0 */
    uint32_t                      nkeys;        /* entries: 0 or nrecords */
    ngx_msec_t                    keys_warned;  /* last "no room" warning */
    ngx_atomic_t                  commanded;    /* DELETEs that matched */
    ngx_http_ws_heartbeat_command_t  commands[NGX_HTTP_WSHB_COMMANDS];
    ngx_http_ws_heartbeat_record_t  records[1];
} ngx_http_ws_heartbeat_shctx_t;


struct ngx_http_ws_heartbeat_zone_s {
    ngx_http_ws_heartbeat_shctx_t  *sh;
    ngx_slab_pool_t              *shpool;
    ngx_shm_zone_t               *shm_zone;
    ngx_uint_t                    nevents;      /* ws_heartbeat_stream_ring */
    ngx_uint_t                    ring_set;     /* by the configuration */
    ngx_array_t                  *limits;       /* of ..._limit_t * */
    size_t                        tags_room;    /* the longest tags */
    ngx_uint_t                    keyed;        /* has a limit per key */
};


void ngx_http_ws_heartbeat_emit_locked(ngx_http_ws_heartbeat_zone_t *zone,
    ngx_uint_t type, ngx_http_ws_heartbeat_record_t *before,
    ngx_http_ws_heartbeat_record_t *after);
uint32_t ngx_http_ws_heartbeat_record_alloc(ngx_http_ws_heartbeat_zone_t *zone,
    ngx_http_request_t *r, ngx_array_t *tags, uint32_t counter,
    uint32_t ends, uint32_t end, uint32_t key);
void ngx_http_ws_heartbeat_record_free(ngx_http_ws_heartbeat_zone_t *zone,
    uint32_t i);
ngx_uint_t ngx_http_ws_heartbeat_unjudged_locked(
    ngx_http_ws_heartbeat_zone_t *zone, ngx_http_ws_heartbeat_query_t *q);
ngx_uint_t ngx_http_ws_heartbeat_zone_reap_locked(
    ngx_http_ws_heartbeat_zone_t *zone);
void ngx_http_ws_heartbeat_view_locked(ngx_http_ws_heartbeat_zone_t *zone,
    ngx_http_ws_heartbeat_record_t *rec, ngx_http_ws_heartbeat_view_t *view);
u_char *ngx_http_ws_heartbeat_addr_text(u_char *p,
    ngx_http_ws_heartbeat_addr_t *a, ngx_uint_t port);
ngx_http_ws_heartbeat_names_t *ngx_http_ws_heartbeat_names_locked(
    ngx_http_ws_heartbeat_zone_t *zone, ngx_http_ws_heartbeat_record_t *rec);
u_char *ngx_http_ws_heartbeat_tag_next(u_char *p, u_char *end,
    ngx_http_ws_heartbeat_tag_value_t *tag);
void ngx_http_ws_heartbeat_duration(ngx_http_ws_heartbeat_zone_t *zone,
    ngx_uint_t reason, uint64_t ms);
ngx_uint_t ngx_http_ws_heartbeat_limits_pressed(
    ngx_http_ws_heartbeat_zone_t *zone);
char *ngx_http_ws_heartbeat_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


/* ngx_http_ws_heartbeat_under_pressure(): at or above 90 % of a limit */
#define ngx_http_ws_heartbeat_under_pressure(zone, index, max)                \
    ((zone)->sh->limits[index] * 10 >= (max) * 9)


extern ngx_uint_t  ngx_http_ws_heartbeat_rtt_bounds[];
extern ngx_uint_t  ngx_http_ws_heartbeat_duration_bounds[];


#endif /* _NGX_HTTP_WS_HEARTBEAT_ZONE_H_INCLUDED_ */
