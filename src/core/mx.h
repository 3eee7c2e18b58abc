/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "mxtime.h"
#include "whitelist.h"

enum mx_class {
	MX_OTHER = 0, /* neither fake nor real MX: not ours to judge */
	MX_FAKE = 1,
	MX_REAL = 2,
};

enum mx_verdict {
	MX_ALLOW = 0,
	MX_DROP = 1,
};

enum mx_removal {
	MX_REMOVED_EXPIRED = 0,
	MX_REMOVED_EVICTED = 1,
	MX_REMOVED_DELETED = 2,
};

/* How the kernel treated a connection, for backends that only observe (table mode). */
enum mx_observed {
	MX_OBSERVED_PASS = 0,
	MX_OBSERVED_BLOCK = 1,
};

struct mx_stats {
	uint64_t dropped;       /* real-MX attempts from clients not whitelisted */
	uint64_t accepted;      /* real-MX connections from whitelisted clients */
	uint64_t fake_hits;     /* connections to a fake MX */
	uint64_t rdns_siblings; /* sibling entries added through forward-confirmed rDNS */
	uint64_t fake_only;     /* fake-MX clients whose entry ended without one real-MX use */
	uint64_t expired;
	uint64_t evicted;
	uint64_t rdns_unconfirmed;   /* PTR names that did not resolve back to the client */
	uint64_t rdns_reasked;       /* fake-MX hits that asked again: the lookup had not ended */
	uint64_t rdns_negcache_hits; /* lookups not asked: the client is in the negative cache */
	uint64_t rdns_skipped_evicting; /* lookups not asked: the whitelist evicted this second */
	uint64_t rdns_failed;           /* lookups that failed for now (timeout, SERVFAIL) */
	uint64_t rdns_no_name;          /* no usable PTR name (NXDOMAIN, invalid, unreadable) */
};

/*
 * Negative cache: a client whose PTR lookup ended without a usable name, or
 * whose name did not resolve back to it, is not looked up again for
 * MX_RDNS_NEG_TTL seconds. Keyed like the whitelist (the client's address
 * masked to ipv4-prefix / ipv6-prefix); at most MX_RDNS_NEG_MAX entries, the
 * oldest go first (about 64 bytes each, allocated as it fills).
 */
#define MX_RDNS_NEG_TTL 600
#define MX_RDNS_NEG_MAX 4096

/* How an rDNS lookup ended without forward-confirmation material (mx_rdns_failed()). */
enum mx_rdns_failure {
	MX_RDNS_TEMPORARY = 0, /* timeout, SERVFAIL, refused: the next fake-MX hit asks again */
	MX_RDNS_FINAL = 1,     /* no PTR (NXDOMAIN, NODATA), an invalid or unreadable name */
};

/*
 * What the core asks of its surroundings. Every callback is optional (NULL).
 * @name in added() is the rDNS name for siblings, NULL otherwise.
 */
struct mx_sink {
	void *ctx;
	void (*added)(void *ctx, const struct wl_entry *e, bool renewed, const char *name,
	              mxa_time now);
	void (*removed)(void *ctx, const struct wl_entry *e, enum mx_removal why);
	void (*resolve)(void *ctx, const mxa_addr *client);
	void (*decided)(void *ctx, const mxa_addr *src, const mxa_addr *dst, enum mx_verdict v);
	void (*unconfirmed)(void *ctx, const mxa_addr *client, const char *name);
};

struct mx_params {
	const mxa_addr *fake;
	size_t n_fake;
	const mxa_addr *real;
	size_t n_real;
	uint32_t whitelist_time; /* seconds, > 0 */
	bool rdns;               /* whitelist forward-confirmed rDNS siblings */
	uint32_t rdns_max;       /* siblings per client */
	unsigned v4_prefix;      /* 0..32: whitelist the client's network */
	unsigned v6_prefix;      /* 0..128 */
};

struct mx;

/**
 * mx_new() - the state machine with an empty whitelist of @capacity entries
 * Returns NULL on allocation failure or invalid parameters.
 */
struct mx *mx_new(const struct mx_params *p, size_t capacity, const uint64_t key[2],
                  const struct mx_sink *sink, mxa_time now);
struct mx *mx_free(struct mx *mx);

/* Replaces the parameters (server lists included); the whitelist stays. 0 or -errno. */
int mx_set_params(struct mx *mx, const struct mx_params *p);

enum mx_class mx_classify(const struct mx *mx, const mxa_addr *dst);

/**
 * mx_syn() - a new connection from @src to port 25 of @dst: decide and update.
 * A fake-MX hit whitelists @src (re-arming its deadline) and, when rDNS is on
 * and the entry's lookup has not ended yet (a new entry, or an earlier lookup
 * that failed or was never started), asks the sink to resolve it; unless the
 * client is in the negative cache or the whitelist evicted entries in this
 * second or the one before (a flood: lookups would be wasted on it).
 */
enum mx_verdict mx_syn(struct mx *mx, const mxa_addr *src, const mxa_addr *dst, mxa_time now);

/**
 * mx_observe() - like mx_syn(), for a connection the kernel already passed or
 * blocked by its own table: updates state and statistics from what happened.
 */
void mx_observe(struct mx *mx, const mxa_addr *src, const mxa_addr *dst, enum mx_observed what,
                mxa_time now);

/**
 * mx_resolved() - the forward lookup of @client's PTR name @name gave @addrs.
 * Siblings are added only when @client is among @addrs (forward-confirmed),
 * at most rdns_max of them, with the client's deadline. Either way the
 * client's lookup has ended; a name that does not confirm (@n may be 0: the
 * name has no address) puts the client into the negative cache.
 * Returns the number of siblings added or renewed.
 */
size_t mx_resolved(struct mx *mx, const mxa_addr *client, const char *name, const mxa_addr *addrs,
                   size_t n, mxa_time now);

/**
 * mx_rdns_failed() - @client's lookup ended without material. MX_RDNS_FINAL
 * ends the client's lookup and puts it into the negative cache;
 * MX_RDNS_TEMPORARY leaves it open, so that the next fake-MX hit asks again.
 */
void mx_rdns_failed(struct mx *mx, const mxa_addr *client, enum mx_rdns_failure why, mxa_time now);

/* Removes expired entries. Returns the next deadline, or -1 when empty. */
mxa_time mx_expire(struct mx *mx, mxa_time now);

const struct mx_stats *mx_stats(const struct mx *mx);
const struct whitelist *mx_whitelist(const struct mx *mx);
