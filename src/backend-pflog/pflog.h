/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "linktype.h"
#include "table.h"

/*
 * Table mode: firewall log records in (pflog0 or nflog:N through libpcap),
 * kernel table changes out. Nothing here decides: the daemon hands each
 * record to the core and the core's sink calls pflog_add()/pflog_del().
 */
struct pflog_params {
	/* pflog0, nflog:5, ...; NULL: no capture, the table writer alone (hybrid mode) */
	const char *interface;
	const char *filter; /* NULL: the default SYN-to-port-25 filter */
	struct table_params table;
	/*
	 * The whitelist's live entries, for table resyncs (table_resync()).
	 * NULL: no resyncs (and table.replace_only cannot work).
	 */
	table_entries_fn entries;
	void *entries_ctx;
	uint32_t resync_interval; /* seconds between resyncs; 0: 300 */
};

struct pflog_stats {
	uint64_t records;   /* log records read */
	uint64_t syns;      /* SYNs to port 25 handed on */
	uint64_t ignored;   /* well-formed, something else */
	uint64_t malformed; /* truncated or malformed: skipped */
	uint64_t table_adds;
	uint64_t table_dels;
	uint64_t table_errors;    /* failed commits, resyncs and allow-list writes */
	uint64_t table_refused;   /* single changes the kernel refused (a full set, ...) */
	uint64_t table_resyncs;   /* reconciliations of the table with the whitelist */
	uint64_t table_healed;    /* entries a resync had to add back, remove or re-time */
	uint64_t table_adopted;   /* ipset, nft: live entries taken over at start */
	uint64_t kernel_accepted; /* nft: the ruleset's "kernel-accepted" counter */
	bool has_kernel_accepted;
};

typedef void (*pflog_observe_fn)(void *ctx, const struct link_record *rec);

struct pflog;

/**
 * pflog_open() - open the table first (see table_open()), then the capture
 * (none when @p->interface is NULL: the table writer alone, whose changes the
 * caller sends with pflog_commit() and reconciles with pflog_resync()).
 * Returns NULL with a one-line reason in @err.
 */
struct pflog *pflog_open(const struct pflog_params *p, pflog_observe_fn observe, void *ctx,
                         char *err, size_t errlen);
struct pflog *pflog_close(struct pflog *pf, bool clean_exit);

int pflog_fd(const struct pflog *pf);

/**
 * pflog_dispatch() - read the waiting records, hand each SYN to port 25 to
 * the observer, then commit the table changes this caused.
 * Returns 0, or a negative errno with a reason in @err: -EIO when the
 * capture failed for good, -EAGAIN when only the table update failed.
 */
int pflog_dispatch(struct pflog *pf, char *err, size_t errlen);

/* Queue table changes (sent by pflog_commit() or the next dispatch). */
void pflog_add(struct pflog *pf, const mxa_addr *a, uint32_t timeout);
void pflog_del(struct pflog *pf, const mxa_addr *a);
/*
 * 0, or a negative errno with a reason in @err. A failure makes
 * pflog_resync_due() true at the next call (then with a growing back-off).
 */
int pflog_commit(struct pflog *pf, char *err, size_t errlen);

/**
 * pflog_tick() - pflog_commit() from the caller's periodic tick (1 s). With
 * pf replace_only, where each commit with changes replaces the whole table,
 * only the first such commit between two ticks replaces it at once; the
 * later ones leave their changes for the tick's, so a flood costs at most
 * one replace a tick. Elsewhere the same as pflog_commit().
 */
int pflog_tick(struct pflog *pf, char *err, size_t errlen);

/**
 * pflog_resync_due() - true when pflog_resync() should run at @now (seconds,
 * any monotonic clock): resync_interval passed since the last one, or a
 * commit or resync failed (retried after 1 s, 2 s, 4 s ... up to the
 * interval). The first call only starts the clock. False without entries.
 */
bool pflog_resync_due(struct pflog *pf, int64_t now);

/**
 * pflog_resync() - reconcile the kernel table with the whitelist (see
 * table_resync()): first reads the log records waiting in the capture (so
 * clients the kernel rule has just added are whitelisted, not taken for
 * strays), then lists the whitelist through the entries callback. Returns
 * the number of entries corrected, or a negative errno with a reason in @err.
 */
int pflog_resync(struct pflog *pf, int64_t now, char *err, size_t errlen);

const struct pflog_stats *pflog_stats(const struct pflog *pf);

/* The allow lists into the kernel's static table (see table_set_static()). */
int pflog_set_static(struct pflog *pf, const struct netset *s, char *err, size_t errlen);

/* The remaining seconds of @a's kernel element (see table_time_left()). */
int pflog_time_left(struct pflog *pf, const mxa_addr *a, uint32_t *left);
/* The kernel's renewals made while the daemon was stopped (see table_learn()). */
int pflog_learn(struct pflog *pf);
/* An entry taken over at start and still kept (see table_adopted_left()). */
int pflog_adopted_left(const struct pflog *pf, const mxa_addr *a, uint32_t *left);

/**
 * pflog_capture_drops() - log records the kernel dropped before the capture
 * read them, in total since start (see capture_drops()).
 * Returns 0, or a negative errno with a reason in @err.
 */
int pflog_capture_drops(struct pflog *pf, uint64_t *drops, char *err, size_t errlen);
/* "interface=nflog:5 table=ipset:mx-white,mx-white6" */
const char *pflog_describe(const struct pflog *pf);
