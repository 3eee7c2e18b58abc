/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "netset.h"

/*
 * nft: a resync found @a's element living @timeout seconds, longer than the
 * whitelist wants: the ruleset's renewal rule refreshed it on use, out of the
 * daemon's sight (hybrid mode). Returns 1 when the whitelist now keeps it that
 * long (the element stays as it is), 0 to re-time or delete it as usual.
 */
typedef int (*table_later_fn)(void *ctx, const mxa_addr *a, uint32_t timeout);

/*
 * The kernel table that enforces the whitelist: in table mode, and beside
 * the queue in hybrid mode (the kernel accepts known senders by itself). One
 * header; the writer is chosen at run time (table-writer): ipset or nft sets
 * on Linux, a pf table on OpenBSD/FreeBSD (table-writer.h, table.c). Changes
 * are queued and sent in one batch by table_commit(); table_resync()
 * reconciles the whole table with the whitelist, so that a lost update does
 * not last for ever.
 */
struct table_params {
	const char *writer;    /* "ipset", "nft", "pf"; NULL: table_default_writer() */
	const char *nft_table; /* nft: table (family inet) holding the two sets */
	const char *nft_set4;  /* nft: set of type ipv4_addr */
	const char *nft_set6;  /* nft: set of type ipv6_addr */
	const char *pf_table;  /* pf: table name in the main ruleset */
	const char *ipset4;    /* ipset: set for IPv4 entries */
	const char *ipset6;    /* ipset: set for IPv6 entries */
	unsigned v4_prefix;    /* entries are networks of this length (32: hosts) */
	unsigned v6_prefix;
	uint32_t default_timeout; /* ipset: the timeout of sets created by us */
	/*
	 * The whitelist's capacity (max-entries; 0: 65536). ipset: sets are
	 * created with room for it plus the kernel rule's own adds, and an
	 * existing set that cannot hold it is refused at start.
	 */
	uint32_t max_entries;
	/*
	 * pf: never send single changes (DIOCRADDADDRS/DIOCRDELADDRS), only
	 * whole-table replaces (DIOCRSETADDRS) through table_resync(): what
	 * OpenBSD's pledge("pf") allows. Ignored by ipset.
	 */
	bool replace_only;
	/* nft: told of kernel renewals a resync finds (NULL: re-timed as drift). */
	table_later_fn later;
	void *later_ctx;
};

/* Counters since table_open(); failures here are also in table_commit()'s result. */
struct table_stats {
	uint64_t refused; /* single changes the kernel refused (full set, missing table, ...) */
	uint64_t resyncs; /* completed table_resync() runs */
	uint64_t healed;  /* entries a resync had to add back, remove or re-time */
	uint64_t adopted; /* ipset, nft: live entries found at start and kept (no flush) */
	/*
	 * nft: packets counted by the named counter "kernel-accepted" of the
	 * table (the hybrid ruleset's accept rule for set members), read at each
	 * commit; has_kernel_accepted is false when there is no such counter.
	 */
	uint64_t kernel_accepted;
	bool has_kernel_accepted;
};

struct table;

/**
 * table_open() - open the writer @p->writer and check the table is usable.
 * pf empties its table (its entries would never expire). ipset creates
 * missing sets; nft never creates (the ruleset owns its sets). Neither
 * flushes: both take over the live entries, so a restart leaves enforcement
 * as it was, until they expire or a resync finds them gone from the
 * whitelist after their time. Returns NULL with a
 * one-line reason, naming what to fix, in @err.
 */
struct table *table_open(const struct table_params *p, char *err, size_t errlen);

/**
 * table_close() - release the table. @clean_exit: pf flushes the table (its
 * entries would never expire); ipset entries keep their own timeout.
 */
struct table *table_close(struct table *t, bool clean_exit);

/* Queues adding @a (already masked to the prefix) for @timeout seconds (pf ignores it). */
int table_add(struct table *t, const mxa_addr *a, uint32_t timeout);
/* Queues deleting @a; deleting what is absent is not an error. */
int table_del(struct table *t, const mxa_addr *a);

/**
 * table_commit() - send the queued changes. Returns the number of changes
 * sent, or a negative errno with a reason in @err. A batch the kernel
 * refuses is retried change by change, so one bad change (a full set) does
 * not take the others with it; the refused ones are counted in
 * table_stats()->refused and the queue is empty afterwards either way.
 * After a failure, call table_resync() (soon, not in a loop).
 */
int table_commit(struct table *t, char *err, size_t errlen);

/* table_entries_fn hands each live entry to @put; a non-zero return of @put stops it. */
typedef int (*table_put_fn)(void *put_ctx, const mxa_addr *a, uint32_t timeout);
/*
 * Calls @put once for every live whitelist entry: its address (masked, as for
 * table_add()) and remaining seconds (> 0). Returns 0, or what @put returned
 * when it stopped early. Fits whitelist_foreach() with a small adapter.
 */
typedef int (*table_entries_fn)(void *ctx, table_put_fn put, void *put_ctx);

/**
 * table_resync() - make the kernel table hold exactly the live entries that
 * @entries lists: add what is missing, delete what is not listed, re-arm
 * (ipset) timeouts that drifted. ipset: lists the sets, compares, sends the
 * difference (and re-creates a set that was destroyed); pf: reads the table
 * back (DIOCRGETADDRS) and sends the difference, or replaces it whole
 * (DIOCRSETADDRS) with replace_only. @entries is called after the kernel's
 * table was read, so entries that arrive meanwhile are not taken for strays.
 * Queued changes are sent too. Returns the number of entries corrected, or
 * a negative errno with a reason in @err.
 */
int table_resync(struct table *t, table_entries_fn entries, void *ctx, char *err, size_t errlen);

/*
 * True when queued changes can only reach the kernel through table_resync()
 * (pf with replace_only); table_commit() leaves them pending then.
 */
bool table_resync_needed(const struct table *t);

const struct table_stats *table_stats(const struct table *t);

/**
 * table_set_static() - make the writer's static tables hold exactly the
 * networks of @s (the allow lists; NULL or empty: none), without a timeout:
 * nft sets allow4/allow6 (flags interval) in the same table, ipset sets
 * mx-static/mx-static6 (hash:net, created when missing), pf table
 * <mx-static>. The ruleset accepts their members before it drops strangers.
 * Called at start and after each reload. The contents are replaced at once:
 * nft in one transaction, pf in one DIOCRSETADDRS, ipset by filling new sets
 * sized for @s and swapping them in; on failure the tables keep what they
 * held. Returns the number of networks written, or a negative errno with a
 * reason naming the fix in @err; -ENOTSUP when the writer has no static
 * table, -ENOENT (nft) when the ruleset has none.
 */
int table_set_static(struct table *t, const struct netset *s, char *err, size_t errlen);

/**
 * table_time_left() - the remaining seconds of @a's element in the kernel (@a
 * masked as for table_add()), read now: how a daemon learns of the renewals
 * the ruleset made by itself. Returns 1 with *@left, 0 when there is no such
 * element or it has no timeout (the administrator's), -EOPNOTSUPP when the
 * writer cannot tell (ipset, pf, nft interval sets), or another -errno.
 */
int table_time_left(struct table *t, const mxa_addr *a, uint32_t *left);

/**
 * table_learn() - ipset, nft: offer the entries taken over at start (table_open())
 * to table_params.later, as a resync would: a daemon that restored its
 * whitelist from a file follows the renewals the kernel made while it was
 * stopped, before its own writes of the restored deadlines are committed
 * (they would cut those renewals back). pf: nothing. Returns how many the
 * whitelist followed.
 */
int table_learn(struct table *t);

/**
 * table_adopted_left() - whether @a (masked as for table_add()) is an entry
 * taken over at start (table_open()) and still kept: 1 with its remaining
 * seconds in *@left, else 0. What the kernel lets in although the whitelist
 * may hold nothing for it (mxallowctl show and del ask).
 */
int table_adopted_left(const struct table *t, const mxa_addr *a, uint32_t *left);

/* "pf table <mx-white>", "ipset mx-white/mx-white6": for the start-up line. */
const char *table_describe(const struct table *t);

/* "ipset", "nft", "pf": the writer in use. */
const char *table_writer_name(const struct table *t);

/* The writer of this build's table mode when table-writer is not given: "ipset", "pf", ... */
const char *table_default_writer(void);
