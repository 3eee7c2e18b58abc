/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "pflog.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "capture.h"

#define RESYNC_INTERVAL 300 /* seconds, when pflog_params.resync_interval is 0 */

struct pflog {
	struct capture *cap;
	struct table *table;
	pflog_observe_fn observe;
	void *ctx;
	table_entries_fn entries;
	void *entries_ctx;
	/* Resync schedule, on the caller's clock (pflog_resync_due()). */
	int64_t interval;
	int64_t last_resync; /* the start of the clock, or the last good resync */
	int64_t retry_at;    /* after a failure: the next try */
	int64_t backoff;     /* seconds to wait after the next failed resync */
	bool clock_started;
	bool failed;   /* a commit or resync failed since the last good resync */
	bool draining; /* a resync reads the capture before the whitelist */
	bool replaced; /* pf replace_only: the table was replaced whole since the last tick */
	struct pflog_stats stats;
	uint64_t failed_ops; /* queueing failures (out of memory) since the last commit */
	char describe[256];
};

struct pflog *pflog_close(struct pflog *pf, bool clean_exit)
{
	if (pf) {
		capture_close(pf->cap);
		table_close(pf->table, clean_exit);
		free(pf);
	}
	return NULL;
}

struct pflog *pflog_open(const struct pflog_params *p, pflog_observe_fn observe, void *ctx,
                         char *err, size_t errlen)
{
	struct pflog *pf = calloc(1, sizeof(*pf));

	if (!pf) {
		snprintf(err, errlen, "pflog: out of memory");
		return NULL;
	}
	pf->observe = observe;
	pf->ctx = ctx;
	pf->entries = p->entries;
	pf->entries_ctx = p->entries_ctx;
	pf->interval = p->resync_interval ? p->resync_interval : RESYNC_INTERVAL;
	pf->backoff = 1;
	pf->table = table_open(&p->table, err, errlen);
	if (!pf->table)
		return pflog_close(pf, false);
	if (!p->interface) { /* hybrid mode: the table alone, beside the queue */
		snprintf(pf->describe, sizeof(pf->describe), "table=%s", table_describe(pf->table));
		return pf;
	}
	pf->cap = capture_open_live(p->interface, p->filter, err, errlen);
	if (!pf->cap)
		return pflog_close(pf, false);
	snprintf(pf->describe, sizeof(pf->describe), "interface=%s link=%s table=%s", p->interface,
	         link_kind_name(capture_link(pf->cap)), table_describe(pf->table));
	return pf;
}

int pflog_fd(const struct pflog *pf)
{
	return pf->cap ? capture_fd(pf->cap) : -1;
}

static void on_syn(void *ctx, const struct link_record *rec, int64_t sec, uint32_t usec)
{
	struct pflog *pf = ctx;

	(void)sec;
	(void)usec;
	pf->observe(pf->ctx, rec);
}

static void sync_stats(struct pflog *pf)
{
	const struct capture_stats *c;

	if (!pf->cap)
		return;
	c = capture_stats(pf->cap);

	pf->stats.records = c->records;
	pf->stats.syns = c->syns;
	pf->stats.ignored = c->ignored;
	pf->stats.malformed = c->malformed;
}

static void sync_table_stats(struct pflog *pf)
{
	const struct table_stats *t = table_stats(pf->table);

	pf->stats.table_refused = t->refused;
	pf->stats.table_resyncs = t->resyncs;
	pf->stats.table_healed = t->healed;
	pf->stats.table_adopted = t->adopted;
	pf->stats.kernel_accepted = t->kernel_accepted;
	pf->stats.has_kernel_accepted = t->has_kernel_accepted;
}

int pflog_dispatch(struct pflog *pf, char *err, size_t errlen)
{
	int r;

	/*
	 * Everything libpcap has buffered: records left in its buffer would not
	 * make the descriptor readable again. The kernel buffer bounds the batch.
	 */
	r = pf->cap ? capture_dispatch(pf->cap, 0, on_syn, pf, err, errlen) : 0;
	sync_stats(pf);
	if (r < 0)
		return -EIO;
	return pflog_commit(pf, err, errlen) < 0 ? -EAGAIN : 0;
}

void pflog_add(struct pflog *pf, const mxa_addr *a, uint32_t timeout)
{
	if (table_add(pf->table, a, timeout) < 0)
		pf->failed_ops++;
	else
		pf->stats.table_adds++;
}

void pflog_del(struct pflog *pf, const mxa_addr *a)
{
	if (table_del(pf->table, a) < 0)
		pf->failed_ops++;
	else
		pf->stats.table_dels++;
}

/*
 * Called by table_resync() once it has read the kernel's table. The kernel
 * rule whitelists a fake-MX client itself and logs it at the same moment:
 * reading those log records first puts such clients in the whitelist before
 * it is listed, so the resync does not delete them as strays.
 */
static int feed_entries(void *ctx, table_put_fn put, void *put_ctx)
{
	struct pflog *pf = ctx;
	char err[256];

	if (pf->draining && pf->cap) {
		/* A failing capture is reported by the next pflog_dispatch(). */
		(void)capture_dispatch(pf->cap, 0, on_syn, pf, err, sizeof(err));
		sync_stats(pf);
	}
	return pf->entries(pf->entries_ctx, put, put_ctx);
}

static int resync(struct pflog *pf, bool drain, char *err, size_t errlen)
{
	int r;

	if (!pf->entries) {
		snprintf(err, errlen,
		         "table: a resync needs the whitelist (pflog_params.entries is not set)");
		return -EINVAL;
	}
	pf->draining = drain;
	r = table_resync(pf->table, feed_entries, pf, err, errlen);
	pf->draining = false;
	sync_table_stats(pf);
	return r;
}

int pflog_commit(struct pflog *pf, char *err, size_t errlen)
{
	int r = table_commit(pf->table, err, errlen);

	/*
	 * pf with replace_only: changes reach the kernel only as a whole table,
	 * O(max-entries) per replace. The first replace since the last tick goes
	 * at once (a lone client is not kept waiting); the changes after it wait
	 * for pflog_tick(), so a flood costs one replace a tick, not one a wake-up.
	 */
	if (r >= 0 && table_resync_needed(pf->table) && !pf->replaced) {
		pf->replaced = true;
		r = resync(pf, false, err, errlen);
	}
	if (r >= 0 && pf->failed_ops) {
		snprintf(err, errlen, "table: %llu changes lost (out of memory)",
		         (unsigned long long)pf->failed_ops);
		r = -ENOMEM;
	}
	pf->failed_ops = 0;
	sync_table_stats(pf);
	if (r < 0) {
		pf->stats.table_errors++;
		pf->failed = true; /* the table may have lost updates: resync soon */
		return r;
	}
	return 0;
}

static void clock_start(struct pflog *pf, int64_t now)
{
	if (!pf->clock_started) {
		pf->clock_started = true;
		pf->last_resync = now;
		pf->retry_at = now;
	}
}

int pflog_tick(struct pflog *pf, char *err, size_t errlen)
{
	pf->replaced = false;
	return pflog_commit(pf, err, errlen);
}

bool pflog_resync_due(struct pflog *pf, int64_t now)
{
	if (!pf->entries)
		return false;
	clock_start(pf, now);
	if (pf->failed)
		return now >= pf->retry_at;
	return now - pf->last_resync >= pf->interval;
}

int pflog_resync(struct pflog *pf, int64_t now, char *err, size_t errlen)
{
	int r = resync(pf, true, err, errlen);

	pf->replaced = true; /* replace_only: this was the replace of this tick */
	clock_start(pf, now);
	if (r < 0) {
		/* Not in a loop when the kernel keeps refusing: 1 s, 2 s, 4 s ... the interval. */
		pf->stats.table_errors++;
		pf->failed = true;
		pf->retry_at = now + pf->backoff;
		pf->backoff = pf->backoff * 2 < pf->interval ? pf->backoff * 2 : pf->interval;
		return r;
	}
	pf->failed = false;
	pf->backoff = 1;
	pf->last_resync = now;
	pf->retry_at = now;
	return r;
}

const struct pflog_stats *pflog_stats(const struct pflog *pf)
{
	return &pf->stats;
}

const char *pflog_describe(const struct pflog *pf)
{
	return pf->describe;
}

int pflog_capture_drops(struct pflog *pf, uint64_t *drops, char *err, size_t errlen)
{
	*drops = 0;
	return pf->cap ? capture_drops(pf->cap, drops, err, errlen) : 0;
}

int pflog_set_static(struct pflog *pf, const struct netset *s, char *err, size_t errlen)
{
	int r = table_set_static(pf->table, s, err, errlen);

	/* Without a capture (hybrid mode) a ruleset without allow sets is allowed: the queue
	 * admits those networks, and the daemon only warns. */
	if (r < 0 && !(!pf->cap && (r == -ENOTSUP || r == -ENOENT)))
		pf->stats.table_errors++;
	return r;
}

int pflog_time_left(struct pflog *pf, const mxa_addr *a, uint32_t *left)
{
	return table_time_left(pf->table, a, left);
}

int pflog_adopted_left(const struct pflog *pf, const mxa_addr *a, uint32_t *left)
{
	return table_adopted_left(pf->table, a, left);
}

int pflog_learn(struct pflog *pf)
{
	return table_learn(pf->table);
}
