/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "mxtime.h"

enum wl_reason {
	WL_REASON_FAKE_MX = 1,      /* the client itself tried a fake MX */
	WL_REASON_RDNS_SIBLING = 2, /* another address of a forward-confirmed rDNS name */
	WL_REASON_STATIC = 3,       /* configured by the administrator (allow lists) */
	WL_REASON_MANUAL = 4,       /* added by the administrator at run time (mxallowctl) */
	WL_REASON_RDNS_DOMAIN = 5,  /* forward-confirmed name in a domain with a fake-MX member */
	WL_REASON_TRUSTED = 6,      /* forward-confirmed name under a trust-domain */
	WL_REASON_PEER = 7,         /* learnt from another mxallowd (shared whitelist) */
};

/* One entry as callers see it; stored more compactly inside. */
struct wl_entry {
	mxa_addr addr;
	/* FAKE_MX: the fake MX that was hit; RDNS_SIBLING: the client it came from. */
	mxa_addr origin;
	mxa_time deadline;
	mxa_time last_use; /* last accepted real-MX connection, 0 when never */
	enum wl_reason reason;
	bool used;
	/* The client's rDNS lookup came to an end (siblings, not confirmed, no name): not asked
	 * again. */
	bool rdns_done;
};

/* "fake-mx", "rdns-sibling", "static": as in log lines. */
const char *whitelist_reason_name(enum wl_reason r);

enum wl_put_result {
	WL_PUT_NEW = 0,     /* inserted */
	WL_PUT_UPDATED = 1, /* existed, fields replaced (last use kept) */
	WL_PUT_EVICTED = 2, /* inserted after evicting the entry returned in *evicted */
};

struct whitelist;

/**
 * whitelist_new() - an empty whitelist holding at most @capacity entries
 * @key: hash key (random in the daemon, fixed in tests)
 * @now: current time; times are stored as 32-bit offsets from it
 *
 * Eviction rule when full: entries never used (no accepted real-MX
 * connection) go before every used one and every manual one, so that a
 * flood of fake-MX hits cannot push out proven senders nor an
 * administrator's entries. Within a class the entry with the earliest
 * deadline goes; among entries with the same deadline, the one put (added or
 * renewed) longest ago. Expiry goes by deadline alone.
 * Returns NULL on allocation failure, a zero capacity or one above 2^28 - 1.
 */
struct whitelist *whitelist_new(size_t capacity, const uint64_t key[2], mxa_time now);
struct whitelist *whitelist_free(struct whitelist *wl);

size_t whitelist_size(const struct whitelist *wl);
size_t whitelist_capacity(const struct whitelist *wl);
/* Entries in the used class (an accepted real-MX connection each, or manual). */
size_t whitelist_used_count(const struct whitelist *wl);
/* Bytes currently allocated by the whitelist. */
size_t whitelist_memory(const struct whitelist *wl);

/* Lookup; an entry whose deadline is <= @now counts as absent. @out may be NULL. */
bool whitelist_lookup(const struct whitelist *wl, const mxa_addr *a, mxa_time now,
                      struct wl_entry *out);

/* The entry for @a, live or past its deadline but not removed yet; false when absent. */
bool whitelist_get(const struct whitelist *wl, const mxa_addr *a, struct wl_entry *out);

/**
 * whitelist_put() - insert @e, or replace the fields of the entry for e->addr
 * (keeping its last use). A new entry with e->used set keeps e->last_use (at
 * the earliest the whitelist's creation) and its used class: an entry
 * restored from a state file. @evicted receives the victim for WL_PUT_EVICTED.
 * Returns a wl_put_result, or -ENOMEM (the whitelist is unchanged and usable).
 */
int whitelist_put(struct whitelist *wl, const struct wl_entry *e, struct wl_entry *evicted);

/**
 * whitelist_use() - an accepted connection of the live entry for @a at @now:
 * its last use becomes @now, it joins the used class (see whitelist_new())
 * and its deadline becomes @deadline when that is later (never earlier).
 * @out (may be NULL) receives the entry as it is afterwards.
 * Returns how many seconds the deadline moved (0: it stayed), or -1 when the
 * entry is absent or expired (nothing changes then).
 */
int64_t whitelist_use(struct whitelist *wl, const mxa_addr *a, mxa_time now, mxa_time deadline,
                      struct wl_entry *out);

/* whitelist_use() without a deadline: true when the entry was live. */
bool whitelist_touch(struct whitelist *wl, const mxa_addr *a, mxa_time now);

/* Sets rdns_done of a live entry (no renewal); false when absent or expired. */
bool whitelist_set_rdns_done(struct whitelist *wl, const mxa_addr *a, mxa_time now);

/* Removes the entry for @a; false when absent. @out may be NULL. */
bool whitelist_del(struct whitelist *wl, const mxa_addr *a, struct wl_entry *out);

/* Removes one entry whose deadline is <= @now into @out; false when none is due. */
bool whitelist_pop_expired(struct whitelist *wl, mxa_time now, struct wl_entry *out);

/* Earliest deadline, or -1 when empty. */
mxa_time whitelist_next_deadline(const struct whitelist *wl);

/* Calls @fn for every entry, in no particular order; stops when @fn returns non-zero. */
int whitelist_foreach(const struct whitelist *wl, int (*fn)(void *ctx, const struct wl_entry *e),
                      void *ctx);

/* A position of whitelist_iter(); zero it to start a walk. */
struct wl_iter {
	size_t next; /* slots not yet looked at lie below it */
	bool started;
};

/**
 * whitelist_iter() - the next live entry of a walk that may span many calls,
 * with the whitelist changing in between (a listing written as its reader
 * reads). An entry present for the whole walk comes at least once; one moved
 * meanwhile (a removal fills its slot with the last one) may come twice;
 * entries added during the walk may or may not come. Each slot looked at
 * takes one from *@budget, which bounds the work of a wake-up.
 * Returns 1 with the entry in @out, 0 at the end, -EAGAIN when *@budget ran
 * out first (call again with more).
 */
int whitelist_iter(const struct whitelist *wl, struct wl_iter *it, mxa_time now, size_t *budget,
                   struct wl_entry *out);

/**
 * whitelist_lookup_batch() - whitelist_lookup() of @n addresses at once, with
 * the memory accesses of the batch overlapped (software-pipelined
 * prefetching): @live[i] is true when @a[i] has a live entry at @now.
 * Returns how many are live.
 */
size_t whitelist_lookup_batch(const struct whitelist *wl, const mxa_addr *a, size_t n, mxa_time now,
                              bool *live);

/*
 * Prefetches what looking up @a[0..n) will read (index cells, then slots and
 * origins), so that the lookups that follow soon (one per packet of a batch,
 * with their entries) hit the cache.
 */
void whitelist_prefetch(const struct whitelist *wl, const mxa_addr *a, size_t n);
