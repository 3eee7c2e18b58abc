/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The shared whitelist (key `redis`): several mxallowd hosts share their
 * whitelists through one Redis or Valkey, all of it asynchronous on the
 * daemon's loop; the packet path never waits for it.
 *
 * Out: every local change (not a peer's: no echo) is written as a key with
 * the entry's remaining lifetime as TTL and announced on PREFIX "events"
 * (syncwire.h). Changes wait in a bounded, coalescing queue, drained at most
 * REDIS_WRITE_RATE entries a second with at most REDIS_INFLIGHT_MAX commands
 * unanswered; a change that finds the queue full is dropped and counted
 * (redis-dropped): a spoofed flood costs bounded memory and bounded Redis
 * load. While Redis is away nothing is queued but deletions: after every
 * (re)connect the daemon loads the live keys (SCAN, batch by batch) and
 * pushes all its own live entries, so a Redis that restarted empty is filled
 * again.
 *
 * In: peers' announcements become entries with reason peer through
 * mx_peer_add()/mx_peer_del() (held SYNs of the client go in); the daemon's
 * own are ignored. Garbage is one error line (rate-limited) and a count.
 * A peer's entry lives here at most mx_lifetime_max() (the largest of
 * whitelist-time, renew-time and the longest mxallowctl add --ttl), and a
 * stored one as long as its key's TTL: a deadline off by more than
 * SYNCWIRE_SKEW_TOLERANCE_S is counted (peer-clock-skew) with a line. A
 * load removes local peer entries whose key is gone (a deletion missed while
 * away), unless the store was just refilled (its marker PREFIX "store" is
 * absent or younger than 10 s). Each daemon announces a random instance id
 * (hello): another daemon with the same node name is an error line.
 *
 * Faults: a Redis that is down, unreachable, slow (no reply for
 * REDIS_STALL_MS) or refuses the password is logged once per outage; the
 * daemon works locally and reconnects with a backoff capped at
 * REDIS_BACKOFF_MAX_MS, back to REDIS_BACKOFF_MIN_MS only after a connection
 * that got in sync; each distinct reason is logged once until then.
 */
#include <stdbool.h>
#include <stdint.h>

#include "whitelist.h"

struct daemon;
struct redis;

#define REDIS_BACKOFF_MIN_MS     100
#define REDIS_BACKOFF_MAX_MS     500 /* in step within a second of Redis coming back */
#define REDIS_CONNECT_TIMEOUT_MS 2000
#define REDIS_STALL_MS           5000
#define REDIS_QUEUE_MAX          8192 /* changes waiting to be written */
#define REDIS_WRITE_RATE         1000 /* entries written a second (2 commands each) */
#define REDIS_INFLIGHT_MAX       1024 /* commands sent and not answered */
#define REDIS_BATCH              256  /* entries loaded or pushed per loop wake-up */

struct redis_stats {
	uint64_t received;   /* peers' entries applied (events and loads) */
	uint64_t sent;       /* own entries written (adds and deletes) */
	uint64_t reconnects; /* connections made after the first */
	uint64_t dropped;    /* changes not written: the queue was full */
	uint64_t rejected;   /* peers' values or events refused (garbage, other prefix length) */
	uint64_t errors;     /* connection failures, error replies, stalls */
	uint64_t lag_us;     /* the last event's delay from its change on the peer to here */
	uint64_t lag_max_us; /* the longest since start */
	uint64_t connected;  /* 1 while connected and subscribed */
	uint64_t skewed;     /* peers' deadlines or times off by more than a clock can be */
	uint64_t twins;      /* hellos of another daemon with this host's node name */
};

/**
 * redis_new() - starts the shared whitelist of @d (d->cfg.redis set): checks
 * the URL and starts connecting; the first connection may come later (or
 * never): the daemon works locally meanwhile. Returns NULL with one line in
 * @err for a bad URL or node name, or when memory is short.
 */
struct redis *redis_new(struct daemon *d, char *err, size_t errlen);
struct redis *redis_free(struct redis *r);

/* The sink: a local change of @e (@deleted: an administrator's delete). */
void redis_changed(struct redis *r, const struct wl_entry *e, bool deleted);

/* True while a peer's change is being applied: the sink passes nothing on. */
bool redis_applying(const struct redis *r);
/* The delay of the peer's event being applied, in microseconds; -1 for a load. */
int64_t redis_applying_lag_us(const struct redis *r);

const struct redis_stats *redis_stats(const struct redis *r);

/* The node name in use (node-name, or the host name). */
const char *redis_node(const struct redis *r);
