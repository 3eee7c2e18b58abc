/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * table-pf.c through table.h against a fake /dev/pf: this file defines
 * open() and ioctl(), which the linker prefers to libc's for table-pf.c
 * (compiled into this test). The fake keeps one table and follows the
 * kernel's rules as pf_ioctl.c and pf_table.c have them: all-or-nothing
 * batches, DIOCRGETADDRS reporting the size it needs, FreeBSD's cap on the
 * addresses of one ioctl, errnos for a missing or const table; and, when
 * "pledged", OpenBSD's pledge("pf"), which allows only DIOCRCLRADDRS and
 * DIOCRSETADDRS of the address ioctls. On Linux table-pf.c is compiled
 * against tests/unit/fake-pf/net/pfvar.h; on the BSDs against the system's.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <net/if.h>
#include <netinet/in.h>
#include <net/pfvar.h>

#include <cmocka.h>

#include "table.h"
#if TEST_PFLOG
#include "pflog.h"
#endif

#define FAKE_MAX 70000

enum { CLR, ADD, DEL, SET, GET, NCMD };

static struct fake {
	int fd;          /* the descriptor open("/dev/pf") returned, -1 when closed */
	int open_errno;  /* open() fails with it */
	bool missing;    /* no such table: ESRCH */
	bool is_const;   /* a const table: EPERM on changes */
	bool pledged;    /* OpenBSD pledge("pf"): ADD, DEL, GET would kill the process */
	int maxcount;    /* FreeBSD net.pf.request_maxcount; 0: none */
	int limit;       /* table-entries limit; 0: none */
	uint8_t bad[16]; /* an address the kernel refuses with EINVAL (first byte non-zero) */
	struct pfr_addr e[FAKE_MAX];
	int n;
	int calls[NCMD];
	int biggest[NCMD]; /* most addresses in one call */
} k;

static int cmd_index(unsigned long cmd)
{
	if (cmd == DIOCRCLRADDRS)
		return CLR;
	if (cmd == DIOCRADDADDRS)
		return ADD;
	if (cmd == DIOCRDELADDRS)
		return DEL;
	if (cmd == DIOCRSETADDRS)
		return SET;
	if (cmd == DIOCRGETADDRS)
		return GET;
	return -1;
}

static bool same(const struct pfr_addr *a, const struct pfr_addr *b)
{
	size_t len = a->pfra_af == AF_INET ? 4 : 16;

	return a->pfra_af == b->pfra_af && a->pfra_net == b->pfra_net &&
	       memcmp(&a->pfra_u, &b->pfra_u, len) == 0;
}

static int find(const struct pfr_addr *a)
{
	for (int i = 0; i < k.n; i++)
		if (same(&k.e[i], a))
			return i;
	return -1;
}

static bool valid(const struct pfr_addr *a)
{
	if (k.bad[0] && memcmp(&a->pfra_u, k.bad, a->pfra_af == AF_INET ? 4 : 16) == 0)
		return false;
	if (a->pfra_af == AF_INET)
		return a->pfra_net <= 32;
	return a->pfra_af == AF_INET6 && a->pfra_net <= 128;
}

static void remove_at(int i)
{
	k.e[i] = k.e[--k.n];
}

static int fake_fail(int e)
{
	errno = e;
	return -1;
}

static int fake_ioctl(unsigned long cmd, struct pfioc_table *io)
{
	int c = cmd_index(cmd), size = io->pfrio_size, added = 0;
	struct pfr_addr *buf = io->pfrio_buffer;

	if (c < 0)
		return fake_fail(ENOTTY);
	k.calls[c]++;
	if (k.pledged && (c == ADD || c == DEL || c == GET))
		fail_msg("pledge(\"pf\") kills the process on this ioctl (%d)", c);
	if (k.missing || strcmp(io->pfrio_table.pfrt_name, "mx-white") != 0)
		return fake_fail(ESRCH);
	if (c == CLR) {
		if (k.is_const)
			return fake_fail(EPERM);
		io->pfrio_ndel = k.n;
		k.n = 0;
		return 0;
	}
	if (io->pfrio_esize != (int)sizeof(struct pfr_addr))
		return fake_fail(ENODEV);
	if (size < 0 || (k.maxcount && size > k.maxcount))
		return fake_fail(EINVAL);
	if (size > k.biggest[c])
		k.biggest[c] = size;
	if (c == GET) {
		if (k.n <= size)
			memcpy(buf, k.e, (size_t)k.n * sizeof(*buf));
		io->pfrio_size = k.n;
		return 0;
	}
	if (k.is_const)
		return fake_fail(EPERM);
	for (int i = 0; i < size; i++)
		if (!valid(&buf[i]))
			return fake_fail(EINVAL); /* nothing of the batch is applied */
	if (c == SET) {
		int ndel = 0, nadd = 0;

		for (int i = 0; i < k.n; i++) {
			bool kept = false;

			for (int j = 0; j < size && !kept; j++)
				kept = same(&k.e[i], &buf[j]);
			ndel += !kept;
		}
		for (int j = 0; j < size; j++)
			nadd += find(&buf[j]) < 0;
		if (k.limit && size > k.limit)
			return fake_fail(ENOMEM);
		memcpy(k.e, buf, (size_t)size * sizeof(*buf));
		k.n = size;
		io->pfrio_nadd = nadd;
		io->pfrio_ndel = ndel;
		io->pfrio_nchange = 0;
		return 0;
	}
	if (c == ADD) {
		for (int i = 0; i < size; i++)
			added += find(&buf[i]) < 0;
		if (k.limit && k.n + added > k.limit)
			return fake_fail(ENOMEM);
		for (int i = 0; i < size; i++)
			if (find(&buf[i]) < 0)
				k.e[k.n++] = buf[i];
		io->pfrio_nadd = added;
		return 0;
	}
	io->pfrio_ndel = 0;
	for (int i = 0; i < size; i++) {
		int at = find(&buf[i]);

		if (at >= 0) {
			remove_at(at);
			io->pfrio_ndel++;
		}
	}
	return 0;
}

int ioctl(int fd, unsigned long cmd, ...)
{
	struct pfioc_table *io;
	va_list ap;

	if (k.fd < 0 || fd != k.fd)
		return fake_fail(ENOTTY);
	va_start(ap, cmd);
	io = va_arg(ap, struct pfioc_table *);
	va_end(ap);
	return fake_ioctl(cmd, io);
}

/* Only table-pf.c calls open() in this program (libc's own opens do not come here). */
int open(const char *path, int flags, ...)
{
	(void)flags;
	if (strcmp(path, "/dev/pf") != 0)
		return fake_fail(ENOENT);
	if (k.open_errno)
		return fake_fail(k.open_errno);
	k.fd = dup(2);
	return k.fd;
}

static int reset(void **state)
{
	(void)state;
	memset(&k, 0, sizeof(k));
	k.fd = -1;
	return 0;
}

static mxa_addr nth(int i)
{
	uint8_t b4[4] = {10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};
	mxa_addr a;

	addr_from_v4(&a, b4);
	return a;
}

static mxa_addr ip(const char *s)
{
	mxa_addr a;

	assert_int_equal(addr_parse(&a, s), 0);
	return a;
}

static bool has(const mxa_addr *a)
{
	struct pfr_addr p;

	memset(&p, 0, sizeof(p));
	if (addr_is_v4(a)) {
		p.pfra_af = AF_INET;
		p.pfra_net = 32;
		memcpy(&p.pfra_ip4addr, addr_v4_bytes(a), 4);
	} else {
		p.pfra_af = AF_INET6;
		p.pfra_net = 128;
		memcpy(&p.pfra_ip6addr, a->b, 16);
	}
	return find(&p) >= 0;
}

static void fake_add(const char *s)
{
	mxa_addr a = ip(s);
	struct pfr_addr *p = &k.e[k.n++];

	memset(p, 0, sizeof(*p));
	p->pfra_af = AF_INET;
	p->pfra_net = 32;
	memcpy(&p->pfra_ip4addr, addr_v4_bytes(&a), 4);
}

static struct table *open_pf(bool replace_only, char *err, size_t errlen)
{
	struct table_params p = {
	    .writer = "pf",
	    .pf_table = "mx-white",
	    .v4_prefix = 32,
	    .v6_prefix = 128,
	    .max_entries = 100000,
	    .replace_only = replace_only,
	};

	err[0] = 0;
	return table_open(&p, err, errlen);
}

static void test_open_errors(void **state)
{
	char err[512];

	(void)state;
	k.open_errno = EACCES;
	assert_null(open_pf(false, err, sizeof(err)));
	assert_non_null(strstr(err, "opening /dev/pf"));
	assert_non_null(strstr(err, "root"));
	k.open_errno = ENOENT;
	assert_null(open_pf(false, err, sizeof(err)));
#ifdef __FreeBSD__
	assert_non_null(strstr(err, "kldload pf"));
#else
	assert_non_null(strstr(err, "MAKEDEV pf"));
#endif
	k.open_errno = 0;
	k.missing = true;
	assert_null(open_pf(false, err, sizeof(err)));
	assert_non_null(strstr(err, "table <mx-white> persist"));
	k.missing = false;
	k.is_const = true;
	assert_null(open_pf(false, err, sizeof(err)));
	assert_non_null(strstr(err, "<mx-white> is const"));
	assert_null(strstr(err, "root"));
}

static void test_open_flushes_and_close(void **state)
{
	char err[512];
	struct table *t;
	mxa_addr a = ip("192.0.2.1");

	(void)state;
	fake_add("203.0.113.1");
	t = open_pf(false, err, sizeof(err));
	assert_non_null(t);
	assert_string_equal(table_describe(t), "pf:<mx-white>");
	assert_int_equal(k.n, 0); /* in line with the empty whitelist */
	assert_int_equal(table_add(t, &a, 3600), 0);
	assert_int_equal(table_commit(t, err, sizeof(err)), 1);
	assert_true(has(&a));
	table_close(t, false); /* a crash-like exit leaves the table */
	assert_int_equal(k.n, 1);
	t = open_pf(false, err, sizeof(err));
	assert_non_null(t);
	assert_int_equal(table_add(t, &a, 3600), 0);
	assert_int_equal(table_commit(t, err, sizeof(err)), 1);
	table_close(t, true); /* pf entries never expire: a clean exit empties the table */
	assert_int_equal(k.n, 0);
}

static void test_chunks_and_order(void **state)
{
	char err[512];
	struct table *t;
	mxa_addr a;

	(void)state;
	t = open_pf(false, err, sizeof(err));
	assert_non_null(t);
	for (int i = 0; i < 10000; i++) {
		a = nth(i);
		assert_int_equal(table_add(t, &a, 3600), 0);
	}
	assert_int_equal(table_commit(t, err, sizeof(err)), 10000);
	assert_int_equal(k.n, 10000);
	assert_int_equal(k.calls[ADD], 3); /* 4096 + 4096 + 1808 */
	assert_true(k.biggest[ADD] <= 4096);
	/* A tick that expires most of them: deleted in chunks too. */
	for (int i = 0; i < 9000; i++) {
		a = nth(i);
		assert_int_equal(table_del(t, &a), 0);
	}
	/* Delete then re-add of one address in one commit: it stays. */
	a = nth(5);
	assert_int_equal(table_add(t, &a, 3600), 0);
	assert_int_equal(table_commit(t, err, sizeof(err)), 9001);
	assert_int_equal(k.n, 1001);
	assert_true(has(&a));
	assert_true(k.biggest[DEL] <= 4096);
	assert_int_equal(table_stats(t)->refused, 0);
	table_close(t, true);
}

static void test_request_cap(void **state)
{
	char err[512];
	struct table *t;
	mxa_addr a;

	(void)state;
	/* An admin lowered net.pf.request_maxcount below our chunk: still all in, one by one. */
	t = open_pf(false, err, sizeof(err));
	assert_non_null(t);
	k.maxcount = 1000;
	for (int i = 0; i < 3000; i++) {
		a = nth(i);
		assert_int_equal(table_add(t, &a, 3600), 0);
	}
	assert_int_equal(table_commit(t, err, sizeof(err)), 3000);
	assert_int_equal(k.n, 3000);
	assert_int_equal(table_stats(t)->refused, 0);
	table_close(t, true);
}

static void test_refused_address(void **state)
{
	char err[512];
	struct table *t;
	mxa_addr a;
	int r;

	(void)state;
	t = open_pf(false, err, sizeof(err));
	assert_non_null(t);
	memcpy(k.bad, (const uint8_t[]){10, 0, 0, 3}, 4); /* nth(3) */
	for (int i = 1; i <= 5; i++) {
		a = nth(i);
		assert_int_equal(table_add(t, &a, 3600), 0);
	}
	r = table_commit(t, err, sizeof(err));
	assert_int_equal(r, -EINVAL);
	assert_non_null(strstr(err, "an address was refused"));
	assert_non_null(strstr(err, "(1 of 5 changes refused)"));
	assert_int_equal(k.n, 4); /* the other four went in one by one */
	assert_int_equal(table_stats(t)->refused, 1);
	/* The table's limit reached: ENOMEM says which pf.conf limit to raise. */
	k.bad[0] = 0;
	k.limit = 4;
	a = nth(3);
	assert_int_equal(table_add(t, &a, 3600), 0);
	assert_int_equal(table_commit(t, err, sizeof(err)), -ENOMEM);
	assert_non_null(strstr(err, "table-entries"));
	assert_int_equal(table_stats(t)->refused, 2);
	table_close(t, true);
}

struct live {
	int from, to; /* nth(from) .. nth(to - 1) */
	const char *extra;
	int fail;
};

static int live_entries(void *ctx, table_put_fn put, void *put_ctx)
{
	struct live *l = ctx;
	mxa_addr a;
	int r;

	if (l->fail)
		return l->fail;
	for (int i = l->from; i < l->to; i++) {
		a = nth(i);
		r = put(put_ctx, &a, 600);
		if (r)
			return r;
	}
	if (l->extra) {
		a = ip(l->extra);
		return put(put_ctx, &a, 600);
	}
	return 0;
}

static void test_resync_reads_back(void **state)
{
	struct live l = {.from = 0, .to = 3000, .extra = "2001:db8::1"};
	char err[512];
	struct table *t;
	mxa_addr a;

	(void)state;
	t = open_pf(false, err, sizeof(err));
	assert_non_null(t);
	/* Behind our back: 2000 strays, so the first read must grow its buffer. */
	for (int i = 0; i < 2000; i++) {
		struct pfr_addr *p = &k.e[k.n++];

		memset(p, 0, sizeof(*p));
		p->pfra_af = AF_INET;
		p->pfra_net = 32;
		memcpy(&p->pfra_ip4addr, (const uint8_t[]){172, 16, (uint8_t)(i >> 8), (uint8_t)i},
		       4);
	}
	assert_int_equal(table_resync(t, live_entries, &l, err, sizeof(err)), 2000 + 3001);
	assert_int_equal(k.n, 3001);
	a = ip("2001:db8::1");
	assert_true(has(&a));
	assert_true(k.calls[GET] >= 2);
	assert_true(k.biggest[ADD] <= 4096 && k.biggest[DEL] <= 4096);
	/* In step: nothing to correct. A lost delete and a lost add are healed. */
	assert_int_equal(table_resync(t, live_entries, &l, err, sizeof(err)), 0);
	a = nth(42);
	assert_true(has(&a));
	for (int i = 0; i < k.n; i++)
		if (k.e[i].pfra_af == AF_INET &&
		    memcmp(&k.e[i].pfra_ip4addr, addr_v4_bytes(&a), 4) == 0)
			remove_at(i);
	assert_false(has(&a));
	fake_add("198.51.100.77");
	assert_int_equal(table_resync(t, live_entries, &l, err, sizeof(err)), 2);
	assert_int_equal(k.n, 3001);
	assert_true(has(&a));
	assert_int_equal(table_stats(t)->resyncs, 3);
	assert_int_equal(table_stats(t)->healed, 5003);
	/* A whitelist that cannot be read: an error, nothing deleted. */
	l.fail = -ENOMEM;
	assert_int_equal(table_resync(t, live_entries, &l, err, sizeof(err)), -ENOMEM);
	assert_int_equal(k.n, 3001);
	/* The table gone (pf.conf reloaded without it): the error says how to declare it. */
	l.fail = 0;
	k.missing = true;
	assert_true(table_resync(t, live_entries, &l, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "persist"));
	k.missing = false;
	table_close(t, true);
}

static void test_replace_only(void **state)
{
	struct live l = {.from = 0, .to = 3};
	char err[512];
	struct table *t;
	mxa_addr a;

	(void)state;
	k.pledged = true; /* any DIOCRADDADDRS, DIOCRDELADDRS or DIOCRGETADDRS fails the test */
	t = open_pf(true, err, sizeof(err));
	assert_non_null(t);
	assert_false(table_resync_needed(t));
	for (int i = 0; i < 3; i++) {
		a = nth(i);
		assert_int_equal(table_add(t, &a, 3600), 0);
	}
	assert_true(table_resync_needed(t));
	assert_int_equal(table_commit(t, err, sizeof(err)), 0); /* nothing it may send */
	assert_int_equal(k.calls[SET], 0);
	assert_int_equal(table_resync(t, live_entries, &l, err, sizeof(err)), 0);
	assert_false(table_resync_needed(t));
	assert_int_equal(k.calls[SET], 1);
	assert_int_equal(k.n, 3);
	/* An expiry is a replace without the entry. */
	a = nth(2);
	assert_int_equal(table_del(t, &a), 0);
	assert_true(table_resync_needed(t));
	l.to = 2;
	assert_int_equal(table_resync(t, live_entries, &l, err, sizeof(err)), 0);
	assert_int_equal(k.n, 2);
	assert_false(has(&a));
	/* A stray added behind our back is what a periodic replace heals. */
	fake_add("198.51.100.9");
	assert_int_equal(table_resync(t, live_entries, &l, err, sizeof(err)), 1);
	assert_int_equal(k.n, 2);
	assert_int_equal(table_stats(t)->healed, 1);
	/* Every entry expired: a flush (DIOCRCLRADDRS, allowed under pledge too). */
	for (int i = 0; i < 2; i++) {
		a = nth(i);
		assert_int_equal(table_del(t, &a), 0);
	}
	l.to = 0;
	int clr = k.calls[CLR];
	assert_int_equal(table_resync(t, live_entries, &l, err, sizeof(err)), 0);
	assert_int_equal(k.n, 0);
	assert_int_equal(k.calls[CLR], clr + 1);
	assert_int_equal(table_stats(t)->healed, 1);
	/* A refused replace is an error with the reason. */
	l.to = 2;
	k.is_const = true;
	a = nth(7);
	assert_int_equal(table_add(t, &a, 3600), 0);
	assert_int_equal(table_resync(t, live_entries, &l, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "replacing the table's contents"));
	assert_non_null(strstr(err, "const"));
	assert_true(table_resync_needed(t)); /* still out of step */
	k.is_const = false;
	table_close(t, true); /* DIOCRCLRADDRS: allowed under pledge("pf") */
	assert_int_equal(k.n, 0);
}

#if TEST_PFLOG
static void observe_nothing(void *ctx, const struct link_record *rec)
{
	(void)ctx;
	(void)rec;
}

/*
 * pflog over a replace-only table (OpenBSD's pledge): every commit with
 * changes would rebuild and replace the whole table, O(max-entries) per
 * capture wake-up. The first replace after start (or after a quiet tick)
 * goes at once; a flood between two ticks waits for the tick's one replace.
 */
static void test_pflog_replaces_per_tick(void **state)
{
	struct live l = {.from = 0, .to = 0};
	struct pflog_params p = {
	    .table = {.writer = "pf",
	              .pf_table = "mx-white",
	              .v4_prefix = 32,
	              .v6_prefix = 128,
	              .max_entries = 100000,
	              .replace_only = true},
	    .entries = live_entries,
	    .entries_ctx = &l,
	};
	char err[512];
	struct pflog *pf;
	mxa_addr a;

	(void)state;
	k.pledged = true; /* any DIOCRADDADDRS, DIOCRDELADDRS or DIOCRGETADDRS fails the test */
	pf = pflog_open(&p, observe_nothing, NULL, err, sizeof(err));
	assert_non_null(pf);
	/* The first client after start: in the table at once. */
	a = nth(0);
	l.to = 1;
	pflog_add(pf, &a, 600);
	assert_int_equal(pflog_commit(pf, err, sizeof(err)), 0);
	assert_int_equal(k.calls[SET], 1);
	assert_true(has(&a));
	/* A flood: 50 wake-ups with a new client each before the next tick, no replace. */
	for (int i = 1; i <= 50; i++) {
		a = nth(i);
		l.to = i + 1;
		pflog_add(pf, &a, 600);
		assert_int_equal(pflog_commit(pf, err, sizeof(err)), 0);
	}
	assert_int_equal(k.calls[SET], 1);
	/* The tick: one replace with all of them. */
	assert_int_equal(pflog_tick(pf, err, sizeof(err)), 0);
	assert_int_equal(k.calls[SET], 2);
	assert_int_equal(k.n, 51);
	/* A client right after it waits for the next tick; a quiet tick replaces nothing. */
	a = nth(51);
	l.to = 52;
	pflog_add(pf, &a, 600);
	assert_int_equal(pflog_commit(pf, err, sizeof(err)), 0);
	assert_int_equal(k.calls[SET], 2);
	assert_int_equal(pflog_tick(pf, err, sizeof(err)), 0);
	assert_int_equal(k.calls[SET], 3);
	assert_true(has(&a));
	assert_int_equal(pflog_tick(pf, err, sizeof(err)), 0);
	assert_int_equal(k.calls[SET], 3);
	/* After a quiet tick a lone client is in the table at once again. */
	a = nth(52);
	l.to = 53;
	pflog_add(pf, &a, 600);
	assert_int_equal(pflog_commit(pf, err, sizeof(err)), 0);
	assert_int_equal(k.calls[SET], 4);
	assert_true(has(&a));
	pflog_close(pf, true);
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_open_errors, reset),
		cmocka_unit_test_setup(test_open_flushes_and_close, reset),
		cmocka_unit_test_setup(test_chunks_and_order, reset),
		cmocka_unit_test_setup(test_request_cap, reset),
		cmocka_unit_test_setup(test_refused_address, reset),
		cmocka_unit_test_setup(test_resync_reads_back, reset),
		cmocka_unit_test_setup(test_replace_only, reset),
#if TEST_PFLOG
		cmocka_unit_test_setup(test_pflog_replaces_per_tick, reset),
#endif
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
