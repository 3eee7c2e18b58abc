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
 * Eviction rule when full: the entry with the earliest deadline goes; among
 * entries with the same deadline, the one put (added or renewed) longest ago.
 * Returns NULL on allocation failure, a zero capacity or one above 2^28 - 1.
 */
struct whitelist *whitelist_new(size_t capacity, const uint64_t key[2], mxa_time now);
struct whitelist *whitelist_free(struct whitelist *wl);

size_t whitelist_size(const struct whitelist *wl);
size_t whitelist_capacity(const struct whitelist *wl);
/* Bytes currently allocated by the whitelist. */
size_t whitelist_memory(const struct whitelist *wl);

/* Lookup; an entry whose deadline is <= @now counts as absent. @out may be NULL. */
bool whitelist_lookup(const struct whitelist *wl, const mxa_addr *a, mxa_time now,
                      struct wl_entry *out);

/**
 * whitelist_put() - insert @e, or replace the fields of the entry for e->addr
 * (keeping its last use). @evicted receives the victim for WL_PUT_EVICTED.
 * Returns a wl_put_result, or -ENOMEM (the whitelist is unchanged and usable).
 */
int whitelist_put(struct whitelist *wl, const struct wl_entry *e, struct wl_entry *evicted);

/* Records an accepted connection of a live entry; false when absent or expired. */
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
