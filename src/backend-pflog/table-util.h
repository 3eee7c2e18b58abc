/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once
/*
 * Pure helpers of the kernel table writers (table-ipset.c, table-nft.c,
 * table-pf.c): the set size for max-entries, the comparison a resync makes,
 * the entries taken over at start, the split of a batch into ioctl-sized
 * runs, and what a pf errno means. No kernel header, no I/O (the clock is an
 * argument; table_util_now() reads it): tests/unit/test_table_util.c checks
 * them on any system, the pf parts included. Header-only (static inline) so
 * that the writers need no extra source in the build.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr.h"

#define TABLE_UTIL_DEFAULT_ENTRIES 65536u

/*
 * ipset: the maxelem of a set mxallowd creates for @max_entries whitelist
 * entries. The set holds more than the whitelist: the kernel rule (`-j SET
 * --add-set`) adds every fake-MX client at once, also the ones the daemon
 * has not read yet or will evict at once when its whitelist is full, and
 * those stay until the daemon deletes them or a resync removes them. So:
 * max-entries + 25 %, and at least + 65536 (a burst of log records that
 * queue in the NFLOG socket while the daemon is busy). A full set costs only
 * memory that is never used otherwise; a full set refuses new clients.
 */
static inline uint32_t table_util_maxelem(uint32_t max_entries)
{
	uint64_t m = max_entries ? max_entries : TABLE_UTIL_DEFAULT_ENTRIES;
	uint64_t room = m / 4 > 65536 ? m / 4 : 65536;

	return m + room > UINT32_MAX ? UINT32_MAX : (uint32_t)(m + room);
}

/* One table entry: a network (address + prefix length) and, ipset only, its remaining seconds. */
struct table_util_entry {
	mxa_addr addr;
	uint32_t timeout;
	uint8_t prefix;
};

struct table_util_vec {
	struct table_util_entry *v;
	size_t n;
	size_t cap;
};

static inline int table_util_vec_push(struct table_util_vec *vec, const mxa_addr *a, uint8_t prefix,
                                      uint32_t timeout)
{
	if (vec->n == vec->cap) {
		size_t cap = vec->cap ? 2 * vec->cap : 256;
		struct table_util_entry *v = realloc(vec->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		vec->v = v;
		vec->cap = cap;
	}
	vec->v[vec->n++] =
	    (struct table_util_entry){.addr = *a, .timeout = timeout, .prefix = prefix};
	return 0;
}

static inline void table_util_vec_free(struct table_util_vec *vec)
{
	free(vec->v);
	*vec = (struct table_util_vec){0};
}

/* Orders by network: address bytes, then prefix length. */
static inline int table_util_entry_cmp(const void *a, const void *b)
{
	const struct table_util_entry *x = a, *y = b;
	int c = memcmp(x->addr.b, y->addr.b, sizeof(x->addr.b));

	if (c)
		return c;
	return (x->prefix > y->prefix) - (x->prefix < y->prefix);
}

/* Sorts @v and drops repeated networks, keeping the longest timeout. Returns the new length. */
static inline size_t table_util_sort_unique(struct table_util_entry *v, size_t n)
{
	size_t out = 0;

	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), table_util_entry_cmp);
	for (size_t i = 1; i < n; i++) {
		if (table_util_entry_cmp(&v[out], &v[i]) == 0) {
			if (v[i].timeout > v[out].timeout)
				v[out].timeout = v[i].timeout;
			continue;
		}
		v[++out] = v[i];
	}
	return out + 1;
}

enum table_util_change {
	TABLE_UTIL_ADD = 1,    /* wanted, absent from the kernel */
	TABLE_UTIL_DEL = 2,    /* in the kernel, not wanted */
	TABLE_UTIL_RETIME = 3, /* in both, the kernel's timeout is off by more than the slack */
};

typedef int (*table_util_change_fn)(void *ctx, enum table_util_change c,
                                    const struct table_util_entry *e);

/*
 * The longest timeout the kernel sets hold (ipset, nft: 2^31 ms). An entry
 * that lives longer (renew-time) is written with this and re-armed by a
 * resync once the kernel's timeout has run down by TABLE_UTIL_CLAMP_SLACK:
 * not at every resync, and long before it would lapse.
 */
#define TABLE_UTIL_MAX_TIMEOUT 2147483
#define TABLE_UTIL_CLAMP_SLACK 86400

/**
 * table_util_diff() - walk @have (the kernel's) and @want (the whitelist's),
 * both sorted and unique (table_util_sort_unique()), and call @fn for each
 * difference: ADD and RETIME with the wanted entry, DEL with the kernel's.
 * @slack: RETIME when the timeouts differ by more; UINT32_MAX never (pf).
 * Returns the number of differences, or the first negative value of @fn.
 */
static inline long table_util_diff(const struct table_util_entry *have, size_t nh,
                                   const struct table_util_entry *want, size_t nw, uint32_t slack,
                                   table_util_change_fn fn, void *ctx)
{
	size_t i = 0, j = 0;
	long count = 0;
	int r;

	while (i < nh || j < nw) {
		int c = i == nh ? 1 : j == nw ? -1 : table_util_entry_cmp(&have[i], &want[j]);
		enum table_util_change what = 0;
		const struct table_util_entry *e = NULL;

		if (c < 0) {
			what = TABLE_UTIL_DEL, e = &have[i++];
		} else if (c > 0) {
			what = TABLE_UTIL_ADD, e = &want[j++];
		} else {
			uint32_t a = have[i].timeout, b = want[j].timeout;

			if (slack == UINT32_MAX)
				; /* pf: no timeouts */
			else if (b >= TABLE_UTIL_MAX_TIMEOUT ? a + TABLE_UTIL_CLAMP_SLACK < b
			                                     : (a > b ? a - b : b - a) > slack)
				what = TABLE_UTIL_RETIME, e = &want[j];
			i++, j++;
		}
		if (!e)
			continue;
		r = fn(ctx, what, e);
		if (r < 0)
			return r;
		count++;
	}
	return count;
}

/*
 * Adoption (ipset, nft): the live entries a writer finds in its sets at
 * start are taken over, not flushed, so that a restart leaves the kernel's
 * enforcement as it was. They are kept until their own deadline: a resync
 * wants them (table_util_adopted_want()) unless the daemon deleted that
 * network (table_util_unadopt()). An adopted vector is sorted and unique,
 * with .timeout holding the deadline on the writer's monotonic clock
 * (table_util_now()) instead of the remaining seconds.
 */

/* Seconds of CLOCK_MONOTONIC: adopted deadlines, unmoved by changes of the wall clock. */
static inline int64_t table_util_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

/**
 * table_util_adopt() - turn @v, the entries a writer listed at start (their
 * remaining seconds in .timeout), into an adopted vector at @now: only
 * entries with a timeout (one without belongs to the administrator) and of
 * the configured prefix for their family (@v4_prefix, @v6_prefix) stay.
 * Returns how many were adopted.
 */
static inline size_t table_util_adopt(struct table_util_vec *v, unsigned v4_prefix,
                                      unsigned v6_prefix, int64_t now)
{
	size_t out = 0;

	for (size_t i = 0; i < v->n; i++) {
		struct table_util_entry e = v->v[i];

		if (e.timeout == 0 || e.prefix != (addr_is_v4(&e.addr) ? v4_prefix : v6_prefix))
			continue;
		e.timeout = (uint32_t)(now + e.timeout); /* remaining seconds -> deadline */
		v->v[out++] = e;
	}
	v->n = table_util_sort_unique(v->v, out);
	return v->n;
}

/*
 * Pushes the adopted entries still before their deadline at @now onto @want
 * (with their remaining seconds), and forgets the others. 0 or -ENOMEM.
 */
static inline int table_util_adopted_want(struct table_util_vec *adopted,
                                          struct table_util_vec *want, int64_t now)
{
	size_t out = 0;

	for (size_t i = 0; i < adopted->n; i++) {
		struct table_util_entry *e = &adopted->v[i];

		if ((int64_t)e->timeout <= now)
			continue;
		adopted->v[out++] = *e;
		if (table_util_vec_push(want, &e->addr, e->prefix,
		                        (uint32_t)((int64_t)e->timeout - now)) < 0)
			return -ENOMEM;
	}
	adopted->n = out;
	return 0;
}

/*
 * Kernel renewals (the ruleset's renewal rule, on use): an adopted entry that
 * @have, the kernel's listing at @now (any order), holds longer than its
 * deadline plus @slack keeps the kernel's deadline.
 */
static inline void table_util_adopted_follow(struct table_util_vec *adopted,
                                             const struct table_util_vec *have, int64_t now,
                                             uint32_t slack)
{
	for (size_t i = 0; adopted->n && i < have->n; i++) {
		struct table_util_entry *e = bsearch(&have->v[i], adopted->v, adopted->n,
		                                     sizeof(have->v[i]), table_util_entry_cmp);

		if (e && e->timeout &&
		    now + have->v[i].timeout > (int64_t)e->timeout + (int64_t)slack)
			e->timeout = (uint32_t)(now + have->v[i].timeout);
	}
}

/* Whether network @a/@prefix is adopted and still kept at @now: 1 with *@left, else 0. */
static inline int table_util_adopted_left(const struct table_util_vec *adopted, const mxa_addr *a,
                                          uint8_t prefix, int64_t now, uint32_t *left)
{
	struct table_util_entry key = {.addr = *a, .prefix = prefix};
	const struct table_util_entry *e;

	if (!adopted->n)
		return 0;
	e = bsearch(&key, adopted->v, adopted->n, sizeof(key), table_util_entry_cmp);
	if (!e || (int64_t)e->timeout <= now)
		return 0;
	*left = (uint32_t)((int64_t)e->timeout - now);
	return 1;
}

struct table_writer;

/*
 * table_learn() for a writer that adopts: each adopted entry still live at
 * @now goes to @later (table_params.later); one the whitelist follows is
 * added again through the writer's @add with the kernel's remaining time,
 * after the restored deadlines already queued, so that the commit does not
 * cut the kernel's renewal back. Returns how many the whitelist followed.
 */
static inline int table_util_adopted_learn(
    const struct table_util_vec *adopted, int64_t now,
    int (*later)(void *ctx, const mxa_addr *a, uint32_t timeout), void *later_ctx,
    int (*add)(struct table_writer *w, const mxa_addr *a, uint32_t timeout), struct table_writer *w)
{
	int n = 0;

	for (size_t i = 0; later && i < adopted->n; i++) {
		const struct table_util_entry *e = &adopted->v[i];
		uint32_t left = (uint32_t)((int64_t)e->timeout - now);

		if ((int64_t)e->timeout <= now || later(later_ctx, &e->addr, left) <= 0)
			continue;
		if (add(w, &e->addr, left) < 0)
			break;
		n++;
	}
	return n;
}

/* The daemon deleted network @a/@prefix: no longer kept for its adopted lifetime either. */
static inline void table_util_unadopt(struct table_util_vec *adopted, const mxa_addr *a,
                                      uint8_t prefix)
{
	struct table_util_entry key = {.addr = *a, .prefix = prefix};
	struct table_util_entry *e;

	if (!adopted->n)
		return;
	e = bsearch(&key, adopted->v, adopted->n, sizeof(key), table_util_entry_cmp);
	if (e)
		e->timeout = 0; /* deadline in the past: dropped at the next resync */
}

/*
 * End (exclusive) of the run that starts at @from in a queue whose kinds are
 * @add[0..n): changes of the same kind as @add[from], at most @max of them.
 * Runs keep the queue's order, so a delete then a re-add of one address
 * stays so; @max keeps each ioctl under the kernel's limit.
 */
static inline size_t table_util_run_end(const bool *add, size_t n, size_t from, size_t max)
{
	size_t end = from + 1;

	if (from >= n)
		return n;
	while (end < n && end - from < max && add[end] == add[from])
		end++;
	return end;
}

/* What a pf ioctl (or the open of /dev/pf) was doing, for table_util_pf_explain(). */
enum table_util_pf_op {
	TABLE_UTIL_PF_OPEN,
	TABLE_UTIL_PF_CLEAR,
	TABLE_UTIL_PF_ADD,
	TABLE_UTIL_PF_DEL,
	TABLE_UTIL_PF_GET,
	TABLE_UTIL_PF_SET,
};

/*
 * A failed batch is worth retrying address by address when the error may
 * concern only some of its addresses: EINVAL (one address refused; FreeBSD:
 * the batch was above net.pf.request_maxcount) and ENOMEM (the table-entries
 * limit was reached midway). Other errors concern the table or the device.
 */
static inline bool table_util_pf_retry_singly(int e)
{
	return e == EINVAL || e == ENOMEM;
}

/**
 * table_util_pf_explain() - one line an admin can act on for errno @e from
 * @op on pf table @table. @freebsd: the FreeBSD meanings (ENOENT: pf.ko not
 * loaded; EINVAL also for a batch above net.pf.request_maxcount). Table
 * ioctls work with pf disabled (pfctl -d), so no message blames that.
 */
static inline void table_util_pf_explain(const char *table, enum table_util_pf_op op, int e,
                                         bool freebsd, char *err, size_t errlen)
{
	static const char *const what[] = {
	    [TABLE_UTIL_PF_OPEN] = "opening /dev/pf",
	    [TABLE_UTIL_PF_CLEAR] = "flushing the table",
	    [TABLE_UTIL_PF_ADD] = "adding addresses",
	    [TABLE_UTIL_PF_DEL] = "deleting addresses",
	    [TABLE_UTIL_PF_GET] = "reading the table",
	    [TABLE_UTIL_PF_SET] = "replacing the table's contents",
	};
	const char *w = what[op];

	if (e == ENOENT && freebsd) {
		snprintf(err, errlen,
		         "pf: %s: %s: pf.ko is not loaded: kldload pf (pf_enable=\"YES\" in "
		         "/etc/rc.conf loads it at boot)",
		         w, strerror(e));
		return;
	}
	if (op == TABLE_UTIL_PF_OPEN) {
		switch (e) {
		case EACCES:
		case EPERM:
			snprintf(err, errlen,
			         "pf: %s: %s: /dev/pf needs root (read-write access to the device)",
			         w, strerror(e));
			break;
		case ENOENT:
			snprintf(err, errlen,
			         "pf: %s: %s: create the device: cd /dev && sh MAKEDEV pf", w,
			         strerror(e));
			break;
		case ENXIO:
		case ENODEV:
			snprintf(err, errlen, "pf: %s: %s: this kernel has no pf device%s", w,
			         strerror(e), freebsd ? " (kldload pf)" : "");
			break;
		default:
			snprintf(err, errlen, "pf: %s: %s", w, strerror(e));
			break;
		}
		return;
	}
	switch (e) {
	case ESRCH:
		snprintf(err, errlen,
		         "pf: %s: no table <%s> in the main ruleset: declare `table <%s> persist` "
		         "in pf.conf and reload it (pfctl -f /etc/pf.conf)",
		         w, table, table);
		break;
	case EPERM:
		snprintf(err, errlen,
		         "pf: %s: table <%s> is const: declare it without const (`table <%s> "
		         "persist`) and reload pf.conf",
		         w, table, table);
		break;
	case EACCES:
		snprintf(err, errlen,
		         "pf: %s: /dev/pf is not open for writing: run mxallowd as root", w);
		break;
	case EINVAL:
		snprintf(
		    err, errlen,
		    "pf: %s: invalid argument: the table name '%s' or an address was refused%s", w,
		    table,
		    freebsd ? ", or the batch was above sysctl net.pf.request_maxcount" : "");
		break;
	case ENOMEM:
		snprintf(err, errlen,
		         "pf: %s: out of table entries: raise `set limit table-entries` in pf.conf "
		         "(pfctl -sm shows it) or lower max-entries",
		         w);
		break;
	case ENODEV:
	case ENOTTY:
		snprintf(err, errlen,
		         "pf: %s: %s: the kernel's pf structures differ from the ones mxallowd was "
		         "built with: rebuild it on this system release",
		         w, strerror(e));
		break;
	default:
		snprintf(err, errlen, "pf: %s: %s", w, strerror(e));
		break;
	}
}
