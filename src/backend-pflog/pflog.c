/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "pflog.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "capture.h"

struct pflog {
	struct capture *cap;
	struct table *table;
	pflog_observe_fn observe;
	void *ctx;
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
	pf->table = table_open(&p->table, err, errlen);
	if (!pf->table)
		return pflog_close(pf, false);
	pf->cap = capture_open_live(p->interface, p->filter, err, errlen);
	if (!pf->cap)
		return pflog_close(pf, false);
	snprintf(pf->describe, sizeof(pf->describe), "interface=%s link=%s table=%s", p->interface,
	         link_kind_name(capture_link(pf->cap)), table_describe(pf->table));
	return pf;
}

int pflog_fd(const struct pflog *pf)
{
	return capture_fd(pf->cap);
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
	const struct capture_stats *c = capture_stats(pf->cap);

	pf->stats.records = c->records;
	pf->stats.syns = c->syns;
	pf->stats.ignored = c->ignored;
	pf->stats.malformed = c->malformed;
}

int pflog_dispatch(struct pflog *pf, char *err, size_t errlen)
{
	int r;

	/*
	 * Everything libpcap has buffered: records left in its buffer would not
	 * make the descriptor readable again. The kernel buffer bounds the batch.
	 */
	r = capture_dispatch(pf->cap, 0, on_syn, pf, err, errlen);
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

int pflog_commit(struct pflog *pf, char *err, size_t errlen)
{
	int r = table_commit(pf->table, err, errlen);

	if (r >= 0 && pf->failed_ops) {
		snprintf(err, errlen, "table: %llu changes lost (out of memory)",
		         (unsigned long long)pf->failed_ops);
		r = -ENOMEM;
	}
	pf->failed_ops = 0;
	if (r < 0) {
		pf->stats.table_errors++;
		return r;
	}
	return 0;
}

const struct pflog_stats *pflog_stats(const struct pflog *pf)
{
	return &pf->stats;
}

const char *pflog_describe(const struct pflog *pf)
{
	return pf->describe;
}
