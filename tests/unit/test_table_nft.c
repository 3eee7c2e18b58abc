/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * table-nft.c against the real kernel, in a network namespace of its own
 * (root and the nft command needed, else skipped): the documented errors for
 * a missing or wrong table or set, batched adds and deletes, take-over of
 * what is there at start (no flush), interval sets for prefixes, resyncs
 * that heal, the "kernel-accepted" counter.
 */
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "table.h"

static bool ready;

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return st == -1 ? -1 : WEXITSTATUS(st);
}

/* The ruleset of contrib/nftables-table.conf, reduced to its sets (plus @extra lines). */
static void ruleset(const char *flags4, const char *flags6, const char *extra)
{
	(void)sh("nft delete table inet mxallowd 2>/dev/null");
	assert_int_equal(sh("nft -f - <<'EOF'\n"
	                    "table inet mxallowd {\n"
	                    " set white4 { type ipv4_addr; flags %s; size 200000; }\n"
	                    " set white6 { type ipv6_addr; flags %s; size 200000; }\n"
	                    " %s\n"
	                    "}\nEOF",
	                    flags4, flags6, extra ? extra : ""),
	                 0);
}

static struct table *open_nft(unsigned p4, unsigned p6, uint32_t max_entries, char *err,
                              size_t errlen)
{
	struct table_params p = {
	    .writer = "nft",
	    .v4_prefix = p4,
	    .v6_prefix = p6,
	    .max_entries = max_entries,
	};

	err[0] = 0;
	return table_open(&p, err, errlen);
}

static bool in_set(const char *set, const char *addr)
{
	return sh("nft get element inet mxallowd %s '{ %s }' >/dev/null 2>&1", set, addr) == 0;
}

static int members(const char *set)
{
	char cmd[256];
	int n = 0, c;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "nft -j list set inet mxallowd %s", set);
	f = popen(cmd, "r");
	assert_non_null(f);
	/* Counts "elem" keys in the JSON listing. */
	const char *pat = "\"elem\"";
	size_t m = 0;
	while ((c = fgetc(f)) != EOF) {
		m = c == pat[m] ? m + 1 : c == pat[0] ? 1 : 0;
		if (m == strlen(pat)) {
			n++;
			m = 0;
		}
	}
	pclose(f);
	return n ? n - 1 : 0; /* the set's own "elem" list, then one per element with a timeout */
}

/* Remaining seconds of @addr ("192.0.2.0/24" for a range) in @set, -1 when absent. */
static long expires(const char *set, const char *addr)
{
	char cmd[512], line[256];
	long v = -1;
	FILE *f;

	snprintf(cmd, sizeof(cmd),
	         "nft list set inet mxallowd %s | tr ',{}' '\\n\\n\\n' | grep -F ' %s timeout' | "
	         "sed -n 's/.* expires \\([0-9dhms]*\\).*/\\1/p'",
	         set, addr);
	f = popen(cmd, "r");
	assert_non_null(f);
	if (fgets(line, sizeof(line), f)) {
		char *p = line;

		v = 0;
		while (*p >= '0' && *p <= '9') {
			long n = strtol(p, &p, 10);

			if (*p == 'd')
				v += n * 86400;
			else if (*p == 'h')
				v += n * 3600;
			else if (*p == 'm' && p[1] != 's')
				v += n * 60;
			else if (*p == 's')
				v += n;
			else if (*p == 'm') { /* ms */
				p++;
			}
			if (*p)
				p++;
		}
	}
	pclose(f);
	return v;
}

static mxa_addr ip(const char *s)
{
	mxa_addr a;

	assert_int_equal(addr_parse(&a, s), 0);
	return a;
}

static int group_setup(void **state)
{
	(void)state;
	if (geteuid() != 0 || unshare(CLONE_NEWNET) < 0) {
		fprintf(stderr, "test-table-nft: needs root for a network namespace: skipped\n");
		return 0;
	}
	if (sh("nft list ruleset >/dev/null 2>&1") != 0) {
		fprintf(stderr, "test-table-nft: no nft command or no nf_tables: skipped\n");
		return 0;
	}
	ready = true;
	return 0;
}

static void expect_error(unsigned p4, uint32_t max_entries, const char *part)
{
	char err[512];
	struct table *t = open_nft(p4, 128, max_entries, err, sizeof(err));

	if (t || !strstr(err, part))
		fail_msg("expected an error with \"%s\", got: %s", part, t ? "(opened)" : err);
}

static void test_errors(void **state)
{
	struct table_params p = {.writer = "nosuch", .v4_prefix = 32, .v6_prefix = 128};
	char err[512];

	(void)state;
	if (!ready)
		skip();
	assert_null(table_open(&p, err, sizeof(err)));
	assert_non_null(strstr(err, "no kernel table writer 'nosuch'"));
	(void)sh("nft delete table inet mxallowd 2>/dev/null");
	expect_error(32, 1000, "no table inet mxallowd: load the ruleset that declares it");
	assert_int_equal(sh("nft add table inet mxallowd"), 0);
	expect_error(32, 1000,
	             "table inet mxallowd has no set white4: declare it in the ruleset (nft add "
	             "set inet mxallowd white4 '{ type ipv4_addr; flags timeout; size 66536; }')");
	/* The fix in the message works as it stands. */
	assert_int_equal(
	    sh("nft add set inet mxallowd white4 '{ type ipv4_addr; flags timeout; size 66536; }'"),
	    0);
	assert_int_equal(
	    sh("nft add set inet mxallowd white6 '{ type ipv4_addr; flags timeout; }'"), 0);
	expect_error(32, 1000, "set inet mxallowd white6 has the wrong type");
	ruleset("interval", "timeout", NULL);
	expect_error(32, 1000, "set inet mxallowd white4 has no timeout flag");
	ruleset("timeout", "timeout", NULL);
	expect_error(32, 1000000,
	             "white4 holds at most 200000 elements (size), fewer than "
	             "max-entries 1000000");
	(void)sh("nft delete table inet mxallowd");
	assert_int_equal(sh("nft -f - <<'EOF'\ntable inet mxallowd {\n map white4 { type ipv4_addr "
	                    ": verdict; flags timeout; }\n set white6 { type ipv6_addr; flags "
	                    "timeout; }\n}\nEOF"),
	                 0);
	expect_error(32, 1000, "white4 is a map");
}

static void test_add_del(void **state)
{
	char err[512];
	struct table *t;
	mxa_addr x;
	long e;

	(void)state;
	if (!ready)
		skip();
	ruleset("timeout", "timeout", NULL);
	t = open_nft(32, 128, 1000, err, sizeof(err));
	assert_non_null(t);
	assert_string_equal(table_describe(t), "nft:inet/mxallowd:white4,white6");
	assert_string_equal(table_writer_name(t), "nft");
	assert_int_equal(members("white4"), 0); /* the start-up probe left nothing */
	x = ip("192.0.2.1");
	assert_int_equal(table_add(t, &x, 600), 0);
	x = ip("192.0.2.2");
	assert_int_equal(table_add(t, &x, 300), 0);
	x = ip("2001:db8::1");
	assert_int_equal(table_add(t, &x, 600), 0);
	assert_int_equal(table_commit(t, err, sizeof(err)), 3);
	assert_true(in_set("white4", "192.0.2.1"));
	assert_true(in_set("white6", "2001:db8::1"));
	e = expires("white4", "192.0.2.2");
	assert_true(e > 290 && e <= 300);
	/* A deletion and a deletion of what is not there, in one commit. */
	x = ip("192.0.2.1");
	assert_int_equal(table_del(t, &x), 0);
	x = ip("198.51.100.9");
	assert_int_equal(table_del(t, &x), 0);
	assert_int_equal(table_commit(t, err, sizeof(err)), 2);
	assert_false(in_set("white4", "192.0.2.1"));
	assert_true(in_set("white4", "192.0.2.2"));
	assert_int_equal(table_stats(t)->refused, 0);
	table_close(t, true);
	/* Closing leaves the elements: they expire by their own timeout. */
	assert_true(in_set("white4", "192.0.2.2"));
}

struct live {
	const char *addr[8];
	uint32_t timeout[8];
	int fail;
};

static int live_entries(void *ctx, table_put_fn put, void *put_ctx)
{
	struct live *l = ctx;
	mxa_addr a;
	int r;

	if (l->fail)
		return l->fail;
	for (int i = 0; i < 8 && l->addr[i]; i++) {
		a = ip(l->addr[i]);
		r = put(put_ctx, &a, l->timeout[i]);
		if (r)
			return r;
	}
	return 0;
}

static void test_takeover(void **state)
{
	struct live none = {{NULL}, {0}, 0};
	char err[512];
	struct table *t;
	mxa_addr x;

	(void)state;
	if (!ready)
		skip();
	ruleset("timeout", "timeout", NULL);
	/* What a daemon before this one left, and an administrator's permanent element. */
	assert_int_equal(sh("nft add element inet mxallowd white4 '{ 192.0.2.10 timeout 600s, "
	                    "192.0.2.11 timeout 600s, 192.0.2.99 }'"),
	                 0);
	assert_int_equal(sh("nft add element inet mxallowd white6 '{ 2001:db8::10 timeout 600s }'"),
	                 0);
	t = open_nft(32, 128, 1000, err, sizeof(err));
	assert_non_null(t);
	assert_int_equal(table_stats(t)->adopted, 3);
	/* No flush: enforcement stays as it was. */
	assert_true(in_set("white4", "192.0.2.10"));
	assert_true(in_set("white6", "2001:db8::10"));
	/* A resync with an empty whitelist keeps them for their lifetime... */
	assert_int_equal(table_resync(t, live_entries, &none, err, sizeof(err)), 0);
	assert_true(in_set("white4", "192.0.2.10"));
	assert_true(in_set("white4", "192.0.2.99"));
	/* ...unless the whitelist deletes one. */
	x = ip("192.0.2.11");
	assert_int_equal(table_del(t, &x), 0);
	assert_int_equal(table_commit(t, err, sizeof(err)), 1);
	assert_int_equal(table_resync(t, live_entries, &none, err, sizeof(err)), 0);
	assert_false(in_set("white4", "192.0.2.11"));
	assert_true(in_set("white4", "192.0.2.10"));
	/* The permanent element is the administrator's: never touched. */
	assert_true(in_set("white4", "192.0.2.99"));
	table_close(t, true);
}

static void test_resync_heals(void **state)
{
	struct live l = {.addr = {"192.0.2.1", "192.0.2.2", "2001:db8::1"},
	                 .timeout = {600, 600, 600}};
	char err[512];
	struct table *t;
	long e;

	(void)state;
	if (!ready)
		skip();
	ruleset("timeout", "timeout", NULL);
	t = open_nft(32, 128, 1000, err, sizeof(err));
	assert_non_null(t);
	assert_int_equal(table_resync(t, live_entries, &l, err, sizeof(err)), 3);
	assert_int_equal(table_resync(t, live_entries, &l, err, sizeof(err)), 0);
	/* Behind the writer's back: a lost element, a stray one, a drifted timeout. */
	assert_int_equal(sh("nft delete element inet mxallowd white4 '{ 192.0.2.1 }'"), 0);
	assert_int_equal(sh("nft add element inet mxallowd white4 '{ 203.0.113.9 timeout 600s }'"),
	                 0);
	assert_int_equal(sh("nft delete element inet mxallowd white4 '{ 192.0.2.2 }' && nft add "
	                    "element inet mxallowd white4 '{ 192.0.2.2 timeout 100s }'"),
	                 0);
	assert_int_equal(table_resync(t, live_entries, &l, err, sizeof(err)), 3);
	assert_true(in_set("white4", "192.0.2.1"));
	assert_false(in_set("white4", "203.0.113.9"));
	e = expires("white4", "192.0.2.2");
	assert_true(e > 590 && e <= 600);
	assert_int_equal(table_stats(t)->healed, 6);
	/* A whitelist that cannot be read: an error, and nothing deleted. */
	l.fail = -ENOMEM;
	assert_int_equal(table_resync(t, live_entries, &l, err, sizeof(err)), -ENOMEM);
	assert_true(in_set("white4", "192.0.2.2"));
	/* A set removed behind our back: the documented error. */
	l.fail = 0;
	(void)sh("nft delete table inet mxallowd");
	assert_true(table_resync(t, live_entries, &l, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "no table inet mxallowd"));
	table_close(t, true);
}

static void test_interval(void **state)
{
	struct live l = {.addr = {"192.0.2.0", "2001:db8:1::"}, .timeout = {600, 600}};
	char err[512];
	struct table *t;
	mxa_addr x;

	(void)state;
	if (!ready)
		skip();
	ruleset("interval,timeout", "interval,timeout", NULL);
	t = open_nft(24, 48, 1000, err, sizeof(err));
	assert_non_null(t);
	x = ip("192.0.2.0");
	assert_int_equal(table_add(t, &x, 600), 0);
	x = ip("2001:db8:1::");
	assert_int_equal(table_add(t, &x, 600), 0);
	x = ip("255.255.255.0"); /* a network that ends the address space: no end element */
	assert_int_equal(table_add(t, &x, 600), 0);
	assert_int_equal(table_commit(t, err, sizeof(err)), 3);
	assert_true(in_set("white4", "192.0.2.77"));
	assert_false(in_set("white4", "192.0.3.1"));
	assert_true(in_set("white6", "2001:db8:1:0:ffff::1"));
	assert_false(in_set("white6", "2001:db8:2::1"));
	/* Read back as networks of the prefix: only the stray one at the top goes. */
	assert_int_equal(table_resync(t, live_entries, &l, err, sizeof(err)), 1);
	assert_false(in_set("white4", "255.255.255.7"));
	assert_int_equal(table_resync(t, live_entries, &l, err, sizeof(err)), 0);
	x = ip("192.0.2.0");
	assert_int_equal(table_del(t, &x), 0);
	assert_int_equal(table_commit(t, err, sizeof(err)), 1);
	assert_false(in_set("white4", "192.0.2.77"));
	table_close(t, true);
}

static int many_entries(void *ctx, table_put_fn put, void *put_ctx)
{
	int n = *(int *)ctx, r;
	mxa_addr a;
	uint8_t b[4] = {10, 0, 0, 0};

	for (int i = 0; i < n; i++) {
		b[2] = (uint8_t)(i / 250);
		b[3] = (uint8_t)(i % 250 + 1);
		addr_from_v4(&a, b);
		r = put(put_ctx, &a, 600);
		if (r)
			return r;
	}
	return 0;
}

static void test_resync_many(void **state)
{
	char err[512];
	struct table *t;
	int n = 5000, r;

	(void)state;
	if (!ready)
		skip();
	ruleset("timeout", "timeout", NULL);
	t = open_nft(32, 128, 10000, err, sizeof(err));
	assert_non_null(t);
	/* More than one message and one batch each way. */
	r = table_resync(t, many_entries, &n, err, sizeof(err));
	assert_int_equal(r, 5000);
	assert_int_equal(members("white4"), 5000);
	n = 1;
	r = table_resync(t, many_entries, &n, err, sizeof(err));
	assert_int_equal(r, 4999);
	assert_int_equal(members("white4"), 1);
	assert_true(in_set("white4", "10.0.0.1"));
	table_close(t, true);
}

static void test_kernel_counter(void **state)
{
	char err[512];
	struct table *t;

	(void)state;
	if (!ready)
		skip();
	ruleset("timeout", "timeout", NULL);
	t = open_nft(32, 128, 1000, err, sizeof(err));
	assert_non_null(t);
	assert_int_equal(table_commit(t, err, sizeof(err)), 0);
	assert_false(table_stats(t)->has_kernel_accepted);
	table_close(t, true);
	ruleset("timeout", "timeout", "counter kernel-accepted { packets 42 bytes 2520 }");
	t = open_nft(32, 128, 1000, err, sizeof(err));
	assert_non_null(t);
	assert_int_equal(table_commit(t, err, sizeof(err)), 0);
	assert_true(table_stats(t)->has_kernel_accepted);
	assert_int_equal(table_stats(t)->kernel_accepted, 42);
	table_close(t, true);
}

/* A daemon's answer to kernel renewals: follows the listed addresses, records every call. */
struct follower {
	const char *follow[4];
	char seen[8][64];
	uint32_t seen_timeout[8];
	int n;
};

static int later_cb(void *ctx, const mxa_addr *a, uint32_t timeout)
{
	struct follower *f = ctx;
	char s[ADDR_STRLEN];

	addr_format(a, s);
	assert_true(f->n < 8);
	snprintf(f->seen[f->n], sizeof(f->seen[0]), "%s", s);
	f->seen_timeout[f->n++] = timeout;
	for (int i = 0; i < 4 && f->follow[i]; i++)
		if (strcmp(f->follow[i], s) == 0)
			return 1;
	return 0;
}

/* One element's remaining time: what the daemon asks before it expires an entry. */
static void test_time_left(void **state)
{
	char err[512];
	struct table *t;
	mxa_addr a;
	uint32_t left = 0;

	(void)state;
	if (!ready)
		skip();
	ruleset("timeout", "timeout", NULL);
	assert_int_equal(sh("nft add element inet mxallowd white4 '{ 192.0.2.1 timeout 600s, "
	                    "192.0.2.99 }'"),
	                 0);
	assert_int_equal(sh("nft add element inet mxallowd white6 '{ 2001:db8::1 timeout 24d }'"),
	                 0);
	t = open_nft(32, 128, 1000, err, sizeof(err));
	assert_non_null(t);
	a = ip("192.0.2.1");
	assert_int_equal(table_time_left(t, &a, &left), 1);
	assert_true(left > 595 && left <= 600);
	a = ip("2001:db8::1");
	assert_int_equal(table_time_left(t, &a, &left), 1);
	assert_true(left > 2073595 && left <= 2073600);
	/* Absent, or the administrator's (no timeout): no element of ours. */
	a = ip("192.0.2.2");
	assert_int_equal(table_time_left(t, &a, &left), 0);
	a = ip("192.0.2.99");
	assert_int_equal(table_time_left(t, &a, &left), 0);
	table_close(t, true);
}

/*
 * A resync meets kernel renewals (the ruleset's `update @white4 { ... }`):
 * the elements the whitelist follows stay as the kernel has them, the others
 * are re-timed or deleted as before; an adopted element keeps its renewal.
 */
static void test_resync_follows_kernel_renewals(void **state)
{
	struct live l = {.addr = {"192.0.2.1", "192.0.2.2", "192.0.2.3"},
	                 .timeout = {100, 100, 100}};
	struct follower fo = {.follow = {"192.0.2.1", "192.0.2.5"}};
	struct table_params p = {.writer = "nft",
	                         .v4_prefix = 32,
	                         .v6_prefix = 128,
	                         .max_entries = 1000,
	                         .later = later_cb,
	                         .later_ctx = &fo};
	char err[512];
	struct table *t;
	long e;

	(void)state;
	if (!ready)
		skip();
	ruleset("timeout", "timeout", NULL);
	assert_int_equal(sh("nft add element inet mxallowd white4 '{ 192.0.2.9 timeout 300s }'"),
	                 0);
	t = table_open(&p, err, sizeof(err));
	assert_non_null(t);
	assert_int_equal(table_stats(t)->adopted, 1);
	assert_int_equal(table_resync(t, live_entries, &l, err, sizeof(err)), 3);
	assert_int_equal(fo.n, 0); /* nothing longer in the kernel yet */
	/* The kernel renews .1, .2 and the adopted .9 on use; .5 is one the whitelist has due. */
	assert_int_equal(sh("nft add element inet mxallowd white4 '{ 192.0.2.1 timeout 3000s, "
	                    "192.0.2.2 timeout 3000s, 192.0.2.5 timeout 3000s, 192.0.2.9 timeout "
	                    "3000s }'"),
	                 0);
	assert_int_equal(table_resync(t, live_entries, &l, err, sizeof(err)), 1);
	assert_int_equal(fo.n, 3);
	assert_string_equal(fo.seen[0], "192.0.2.1");
	assert_true(fo.seen_timeout[0] > 2990 && fo.seen_timeout[0] <= 3000);
	assert_string_equal(fo.seen[1], "192.0.2.2");
	assert_string_equal(fo.seen[2], "192.0.2.5");
	/* Followed: left as the kernel has it. Not followed (.2): re-timed to the whitelist's. */
	e = expires("white4", "192.0.2.1");
	assert_true(e > 2990 && e <= 3000);
	e = expires("white4", "192.0.2.2");
	assert_true(e > 90 && e <= 100);
	e = expires("white4", "192.0.2.5");
	assert_true(e > 2990 && e <= 3000);
	/* The adopted element keeps its renewal, now and at the next resync. */
	e = expires("white4", "192.0.2.9");
	assert_true(e > 2990 && e <= 3000);
	fo.n = 0;
	fo.follow[1] = NULL; /* .5 is gone from the whitelist: a stray now */
	assert_int_equal(table_resync(t, live_entries, &l, err, sizeof(err)), 1);
	assert_false(in_set("white4", "192.0.2.5"));
	assert_true(in_set("white4", "192.0.2.9"));
	table_close(t, true);
}

/*
 * Prefixes in plain sets: the ruleset masks the source (`ip saddr & MASK`),
 * the kernel's own `add @set` works (it is refused on interval sets), and the
 * writer writes, reads back and takes over the masked network addresses.
 */
static void test_prefix_plain(void **state)
{
	struct live l = {.addr = {"10.0.1.0", "2001:db8:0:1::"}, .timeout = {600, 600}};
	char err[512];
	struct table *t;
	mxa_addr x;

	(void)state;
	if (!ready)
		skip();
	ruleset("dynamic,timeout", "dynamic,timeout",
	        "chain input { type filter hook input priority 0; "
	        "ip saddr & 255.255.255.0 @white4 accept; "
	        "add @white4 { ip saddr & 255.255.255.0 timeout 1h }; "
	        "add @white6 { ip6 saddr & ffff:ffff:ffff:ffff:: timeout 1h }; }");
	t = open_nft(24, 64, 1000, err, sizeof(err));
	if (!t)
		fail_msg("open with ipv4-prefix 24 on a plain set: %s", err);
	/* Written by someone else, with host bits: not mxallowd's, left alone. */
	assert_int_equal(sh("nft add element inet mxallowd white4 '{ 10.9.9.5 timeout 600s }'"), 0);
	x = ip("10.0.1.0");
	assert_int_equal(table_add(t, &x, 600), 0);
	x = ip("2001:db8:0:1::");
	assert_int_equal(table_add(t, &x, 600), 0);
	assert_int_equal(table_commit(t, err, sizeof(err)), 2);
	assert_int_equal(table_resync(t, live_entries, &l, err, sizeof(err)), 0);
	assert_true(in_set("white4", "10.9.9.5"));
	table_close(t, true);
	t = open_nft(24, 64, 1000, err, sizeof(err));
	assert_non_null(t);
	assert_int_equal(table_stats(t)->adopted, 2);
	table_close(t, true);
}

/* A full set: the kernel says ENFILE ("Too many open files in system"); the error says "full". */
static void test_full_set(void **state)
{
	char err[512];
	struct table *t;
	mxa_addr x;

	(void)state;
	if (!ready)
		skip();
	(void)sh("nft delete table inet mxallowd 2>/dev/null");
	assert_int_equal(
	    sh("nft -f - <<'EOF'\ntable inet mxallowd {\n set white4 { type ipv4_addr; "
	       "flags timeout; size 5; }\n set white6 { type ipv6_addr; flags timeout; "
	       "}\n}\nEOF"),
	    0);
	t = open_nft(32, 128, 2, err, sizeof(err));
	assert_non_null(t);
	for (int i = 1; i <= 8; i++) {
		char a[32];

		snprintf(a, sizeof(a), "198.51.100.%d", i);
		x = ip(a);
		assert_int_equal(table_add(t, &x, 600), 0);
	}
	assert_true(table_commit(t, err, sizeof(err)) < 0);
	if (!strstr(err, "set white4 or white6 is full: raise its size in the ruleset"))
		fail_msg("got: %s", err);
	assert_int_equal(table_stats(t)->refused, 3);
	table_close(t, true);
}

/* Adjacent networks in an interval set: each end pairs with its own start. */
static void test_interval_adjacent(void **state)
{
	struct live l = {.addr = {"10.0.0.0", "10.0.1.0", "2001:db8:0:1::", "2001:db8:0:2::"},
	                 .timeout = {600, 600, 600, 600}};
	char err[512];
	struct table *t;
	mxa_addr x;

	(void)state;
	if (!ready)
		skip();
	ruleset("interval,timeout", "interval,timeout", NULL);
	t = open_nft(24, 64, 1000, err, sizeof(err));
	assert_non_null(t);
	for (int i = 0; i < 4; i++) {
		x = ip(l.addr[i]);
		assert_int_equal(table_add(t, &x, 600), 0);
	}
	assert_int_equal(table_commit(t, err, sizeof(err)), 4);
	assert_int_equal(table_resync(t, live_entries, &l, err, sizeof(err)), 0);
	table_close(t, true);
	t = open_nft(24, 64, 1000, err, sizeof(err));
	assert_non_null(t);
	assert_int_equal(table_stats(t)->adopted, 4);
	table_close(t, true);
}

static struct netset *nets(const char *const *v, size_t n)
{
	struct netset *s = netset_new();

	assert_non_null(s);
	for (size_t i = 0; i < n; i++) {
		mxa_addr a;
		unsigned p;
		char why[128];

		assert_int_equal(netset_parse(v[i], &a, &p, why, sizeof(why)), 0);
		assert_int_equal(netset_add(s, &a, p, "test", (uint32_t)i + 1), 0);
	}
	assert_int_equal(netset_finish(s), 0);
	return s;
}

/* The allow lists: nested, adjacent and open-ended networks; replaced whole; emptied. */
static void test_static(void **state)
{
	static const char *const v[] = {"10.0.0.0/8",       "10.1.0.0/16", "11.0.0.0/8",
	                                "255.255.255.0/24", "192.0.2.7",   "2001:db8::/32",
	                                "2001:db8:5::/48",  "ffff::/16"};
	struct netset *s = nets(v, sizeof(v) / sizeof(v[0]));
	char err[512];
	struct table *t;

	(void)state;
	if (!ready)
		skip();
	ruleset("timeout", "timeout", NULL);
	t = open_nft(32, 128, 1000, err, sizeof(err));
	assert_non_null(t);
	/* No allow lists and no sets for them: nothing to do. */
	assert_int_equal(table_set_static(t, NULL, err, sizeof(err)), 0);
	/* Allow lists without the sets: refused, with the declaration to add. */
	assert_true(table_set_static(t, s, err, sizeof(err)) < 0);
	if (!strstr(err, "has no set allow4 for the allow lists (allow, allow-file): declare it "
	                 "`set allow4 { type ipv4_addr; flags interval; }`"))
		fail_msg("got: %s", err);
	assert_int_equal(sh("nft add set inet mxallowd allow4 '{ type ipv4_addr; flags interval; "
	                    "}'; nft add set inet mxallowd allow6 '{ type ipv6_addr; }'"),
	                 0);
	assert_true(table_set_static(t, s, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "allow6 must be `type ipv6_addr; flags interval;`"));
	assert_int_equal(sh("nft delete set inet mxallowd allow6; nft add set inet mxallowd "
	                    "allow6 '{ type ipv6_addr; flags interval; }'"),
	                 0);
	assert_int_equal(table_set_static(t, s, err, sizeof(err)), 8);
	assert_true(in_set("allow4", "10.1.2.3"));
	assert_true(in_set("allow4", "11.200.0.1"));
	assert_true(in_set("allow4", "255.255.255.255"));
	assert_true(in_set("allow4", "192.0.2.7"));
	assert_false(in_set("allow4", "192.0.2.8"));
	assert_false(in_set("allow4", "12.0.0.1"));
	assert_true(in_set("allow6", "2001:db8:5::1"));
	assert_true(in_set("allow6", "ffff:1::1"));
	assert_false(in_set("allow6", "2001:db9::1"));
	/* Again: flushed and filled in one transaction. */
	assert_int_equal(table_set_static(t, s, err, sizeof(err)), 8);
	assert_true(in_set("allow4", "10.1.2.3"));
	netset_free(s);
	s = nets((const char *const[]){"198.51.100.0/24"}, 1);
	assert_int_equal(table_set_static(t, s, err, sizeof(err)), 1);
	assert_false(in_set("allow4", "10.1.2.3"));
	assert_true(in_set("allow4", "198.51.100.9"));
	assert_false(in_set("allow6", "2001:db8:5::1"));
	assert_int_equal(table_set_static(t, NULL, err, sizeof(err)), 0);
	assert_false(in_set("allow4", "198.51.100.9"));
	netset_free(s);
	table_close(t, true);
}

/*
 * Two writes of one element in one commit (a fake-MX hit's entry, then its
 * renewal on use): the later timeout is what the kernel keeps.
 */
static void test_last_write_wins(void **state)
{
	char err[512];
	struct table *t;
	mxa_addr a = ip("192.0.2.1"), b = ip("192.0.2.2");
	long e;

	(void)state;
	if (!ready)
		skip();
	ruleset("timeout", "timeout", NULL);
	t = open_nft(32, 128, 1000, err, sizeof(err));
	assert_non_null(t);
	assert_int_equal(table_add(t, &a, 100), 0);
	assert_int_equal(table_add(t, &b, 100), 0);
	assert_int_equal(table_add(t, &a, 600), 0);
	assert_int_equal(table_commit(t, err, sizeof(err)), 2);
	e = expires("white4", "192.0.2.1");
	assert_true(e > 590 && e <= 600);
	/* Again, now that the element exists. */
	assert_int_equal(table_add(t, &a, 100), 0);
	assert_int_equal(table_add(t, &a, 900), 0);
	assert_int_equal(table_commit(t, err, sizeof(err)), 1);
	e = expires("white4", "192.0.2.1");
	assert_true(e > 890 && e <= 900);
	/* A delete in between stays: delete, then add. */
	assert_int_equal(table_add(t, &b, 700), 0);
	assert_int_equal(table_del(t, &b), 0);
	assert_int_equal(table_add(t, &b, 300), 0);
	assert_int_equal(table_commit(t, err, sizeof(err)), 3);
	e = expires("white4", "192.0.2.2");
	assert_true(e > 290 && e <= 300);
	table_close(t, true);
}

/*
 * A restart with a state file: the elements the kernel renewed while the
 * daemon was stopped are offered at once (table_learn()), and the restored
 * deadline the daemon queued does not cut them back.
 */
static void test_learn_at_start(void **state)
{
	struct follower fo = {.follow = {"192.0.2.1"}};
	struct table_params p = {.writer = "nft",
	                         .v4_prefix = 32,
	                         .v6_prefix = 128,
	                         .max_entries = 1000,
	                         .later = later_cb,
	                         .later_ctx = &fo};
	char err[512];
	struct table *t;
	mxa_addr a = ip("192.0.2.1"), b = ip("192.0.2.2");
	long e;

	(void)state;
	if (!ready)
		skip();
	ruleset("timeout", "timeout", NULL);
	assert_int_equal(sh("nft add element inet mxallowd white4 '{ 192.0.2.1 timeout 3000s, "
	                    "192.0.2.2 timeout 3000s }'"),
	                 0);
	t = table_open(&p, err, sizeof(err));
	assert_non_null(t);
	/* The state file's deadlines, written back as the daemon restores them. */
	assert_int_equal(table_add(t, &a, 100), 0);
	assert_int_equal(table_add(t, &b, 100), 0);
	assert_int_equal(table_learn(t), 1);
	assert_int_equal(fo.n, 2);
	assert_int_equal(table_commit(t, err, sizeof(err)), 2); /* .1's first write superseded */
	e = expires("white4", "192.0.2.1");
	assert_true(e > 2990 && e <= 3000);
	/* Not followed: the daemon's own deadline stands (this kernel re-arms on re-add). */
	e = expires("white4", "192.0.2.2");
	assert_true(e <= 100 || e > 2990);
	table_close(t, true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_add_del),
	    cmocka_unit_test(test_takeover),
	    cmocka_unit_test(test_resync_heals),
	    cmocka_unit_test(test_interval),
	    cmocka_unit_test(test_interval_adjacent),
	    cmocka_unit_test(test_full_set),
	    cmocka_unit_test(test_prefix_plain),
	    cmocka_unit_test(test_static),
	    cmocka_unit_test(test_resync_many),
	    cmocka_unit_test(test_kernel_counter),
	    cmocka_unit_test(test_time_left),
	    cmocka_unit_test(test_resync_follows_kernel_renewals),
	    cmocka_unit_test(test_last_write_wins),
	    cmocka_unit_test(test_learn_at_start),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
