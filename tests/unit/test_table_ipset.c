/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * table-ipset.c against the real kernel, in a network namespace of its own
 * (needs root and the ipset command; skipped otherwise): set size, a set too
 * small, a full set, a libipset session that cannot be re-created for a
 * while, and resyncs that heal what was changed behind the writer's back.
 * Built with -Wl,--wrap=ipset_session_init so a test can make it fail.
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
#include <unistd.h>
#include <sys/wait.h>

#include <cmocka.h>

#include <libipset/session.h>

#include "table.h"

struct ipset_session *__real_ipset_session_init(ipset_print_outfn outfn, void *p);
struct ipset_session *__wrap_ipset_session_init(ipset_print_outfn outfn, void *p);

static int fail_inits; /* the next this many session creations fail */
static bool ready;     /* in a namespace of our own, with the ipset command */

struct ipset_session *__wrap_ipset_session_init(ipset_print_outfn outfn, void *p)
{
	if (fail_inits > 0) {
		fail_inits--;
		return NULL;
	}
	return __real_ipset_session_init(outfn, p);
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return st == -1 ? -1 : WEXITSTATUS(st);
}

static bool in_set(const char *set, const char *addr)
{
	return sh("ipset test %s %s >/dev/null 2>&1", set, addr) == 0;
}

/* "maxelem N" of the set's header, or of its entry @addr "timeout N"; -1 when absent. */
static long list_number(const char *set, const char *addr, const char *key)
{
	char cmd[256], line[512];
	long v = -1;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "ipset list %s 2>/dev/null", set);
	f = popen(cmd, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, key);
		size_t n = addr ? strlen(addr) : 0;

		if (!p || (addr && (strncmp(line, addr, n) != 0 || line[n] != ' ')) ||
		    (!addr && strncmp(line, "Header:", 7) != 0))
			continue;
		v = strtol(p + strlen(key), NULL, 10);
	}
	pclose(f);
	return v;
}

static long members(const char *set)
{
	char cmd[256];
	long n = -1;
	FILE *f;

	snprintf(cmd, sizeof(cmd),
	         "ipset list %s 2>/dev/null | sed -n '/^Members:/,$p' | grep -c timeout", set);
	f = popen(cmd, "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%ld", &n), 1);
	pclose(f);
	return n;
}

static mxa_addr ip(const char *s)
{
	mxa_addr a;

	assert_int_equal(addr_parse(&a, s), 0);
	return a;
}

static struct table *open_sets(const char *s4, const char *s6, uint32_t max_entries, char *err,
                               size_t errlen)
{
	struct table_params p = {
	    .writer = "ipset",
	    .ipset4 = s4,
	    .ipset6 = s6,
	    .v4_prefix = 32,
	    .v6_prefix = 128,
	    .default_timeout = 600,
	    .max_entries = max_entries,
	};

	err[0] = 0;
	return table_open(&p, err, errlen);
}

static int group_setup(void **state)
{
	(void)state;
	if (geteuid() != 0 || unshare(CLONE_NEWNET) < 0) {
		fprintf(stderr, "test-table-ipset: needs root for a network namespace: skipped\n");
		return 0;
	}
	if (sh("ipset version >/dev/null 2>&1") != 0) {
		fprintf(stderr, "test-table-ipset: no ipset command: skipped\n");
		return 0;
	}
	ready = true;
	return 0;
}

static void test_create_maxelem(void **state)
{
	char err[512];
	struct table *t;

	(void)state;
	if (!ready)
		skip();
	t = open_sets("c4", "c6", 1000, err, sizeof(err));
	assert_non_null(t);
	assert_string_equal(table_describe(t), "ipset:c4,c6");
	/* max-entries plus room for the kernel rule's own adds (+25 %, at least +65536). */
	assert_int_equal(list_number("c4", NULL, " maxelem "), 1000 + 65536);
	assert_int_equal(list_number("c6", NULL, " maxelem "), 1000 + 65536);
	assert_int_equal(list_number("c4", NULL, " timeout "), 600);
	assert_int_equal(members("c4"), 0); /* the start-up probes left nothing */
	assert_int_equal(table_stats(t)->refused, 0);
	table_close(t, true);
	t = open_sets("d4", "d6", 1000000, err, sizeof(err));
	assert_non_null(t);
	assert_int_equal(list_number("d4", NULL, " maxelem "), 1250000);
	table_close(t, true);
}

static void test_small_set_refused(void **state)
{
	char err[512], fix[512];
	const char *from, *to;
	struct table *t;

	(void)state;
	if (!ready)
		skip();
	assert_int_equal(sh("ipset create s4 hash:net family inet timeout 60 maxelem 100"), 0);
	t = open_sets("s4", "s6", 1000, err, sizeof(err));
	assert_null(t);
	assert_non_null(strstr(err, "set s4 holds at most 100 entries (maxelem), fewer than "
	                            "max-entries 1000"));
	from = strstr(err, "ipset create s4.new hash:net family inet timeout 600 maxelem 66536 "
	                   "&& ipset swap s4.new s4 && ipset destroy s4.new");
	assert_non_null(from);
	/* The fix in the message works as it stands (and keeps rules that use the set). */
	to = strstr(from, " (or lower");
	assert_non_null(to);
	snprintf(fix, sizeof(fix), "%.*s", (int)(to - from), from);
	assert_int_equal(sh("%s", fix), 0);
	assert_int_equal(list_number("s4", NULL, " maxelem "), 66536);
	t = open_sets("s4", "s6", 1000, err, sizeof(err));
	assert_non_null(t);
	table_close(t, true);
	/* A set as big as the whitelist is enough. */
	assert_int_equal(sh("ipset create e4 hash:net family inet timeout 60 maxelem 1000"), 0);
	t = open_sets("e4", "e6", 1000, err, sizeof(err));
	assert_non_null(t);
	table_close(t, true);
}

static void test_full_set(void **state)
{
	char err[512], a[32];
	struct table *t;
	mxa_addr x;
	int r;

	(void)state;
	if (!ready)
		skip();
	assert_int_equal(sh("ipset create f4 hash:net family inet timeout 600 maxelem 8"), 0);
	t = open_sets("f4", "f6", 8, err, sizeof(err));
	assert_non_null(t);
	/* One batch of 10 adds into a set of 8: the kernel stops at the 9th line. */
	for (int i = 1; i <= 10; i++) {
		snprintf(a, sizeof(a), "198.51.100.%d", i);
		x = ip(a);
		assert_int_equal(table_add(t, &x, 600), 0);
	}
	r = table_commit(t, err, sizeof(err));
	assert_true(r < 0);
	assert_non_null(strstr(err, "2 of 10 changes to f4/f6 refused"));
	assert_non_null(strstr(err, "full"));
	assert_int_equal(table_stats(t)->refused, 2);
	/* Retried one by one: every change that fits got in, not only those before the bad line. */
	assert_int_equal(members("f4"), 8);
	assert_true(in_set("f4", "198.51.100.8"));
	assert_false(in_set("f4", "198.51.100.9"));
	/* The writer keeps working: make room, then add. */
	x = ip("198.51.100.1");
	assert_int_equal(table_del(t, &x), 0);
	x = ip("198.51.100.9");
	assert_int_equal(table_add(t, &x, 600), 0);
	assert_int_equal(table_commit(t, err, sizeof(err)), 2);
	assert_true(in_set("f4", "198.51.100.9"));
	assert_false(in_set("f4", "198.51.100.1"));
	assert_int_equal(table_stats(t)->refused, 2);
	table_close(t, true);
}

static void test_session_recovers(void **state)
{
	char err[512];
	struct table *t;
	mxa_addr x;

	(void)state;
	if (!ready)
		skip();
	t = open_sets("r4", "r6", 100, err, sizeof(err));
	assert_non_null(t);
	x = ip("192.0.2.1");
	assert_int_equal(table_add(t, &x, 600), 0);
	assert_int_equal(table_commit(t, err, sizeof(err)), 1);
	/* The set goes away and libipset cannot make a new session for a while. */
	assert_int_equal(sh("ipset destroy r4"), 0);
	fail_inits = 1000;
	x = ip("192.0.2.2");
	assert_int_equal(table_add(t, &x, 600), 0);
	assert_true(table_commit(t, err, sizeof(err)) < 0);
	x = ip("192.0.2.3");
	assert_int_equal(table_add(t, &x, 600), 0);
	assert_true(table_commit(t, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "no libipset session"));
	/* Both conditions pass: the next commit works again, on a new session. */
	fail_inits = 0;
	assert_int_equal(sh("ipset create r4 hash:net family inet timeout 600"), 0);
	x = ip("192.0.2.4");
	assert_int_equal(table_add(t, &x, 600), 0);
	assert_int_equal(table_commit(t, err, sizeof(err)), 1);
	assert_true(in_set("r4", "192.0.2.4"));
	table_close(t, true);
}

struct live {
	const char *addr[8];
	uint32_t timeout[8];
	int fail; /* non-zero: stop after the first entry with this */
};

static int live_entries(void *ctx, table_put_fn put, void *put_ctx)
{
	struct live *l = ctx;
	int r;

	for (int i = 0; i < 8 && l->addr[i]; i++) {
		mxa_addr a = ip(l->addr[i]);

		r = put(put_ctx, &a, l->timeout[i]);
		if (r)
			return r;
		if (l->fail)
			return l->fail;
	}
	return 0;
}

static void test_resync_heals(void **state)
{
	struct live l = {
	    .addr = {"192.0.2.1", "192.0.2.2", "2001:db8::1"},
	    .timeout = {600, 600, 600},
	};
	char err[512];
	struct table *t;
	mxa_addr x;
	long tmo;
	int r;

	(void)state;
	if (!ready)
		skip();
	t = open_sets("y4", "y6", 100, err, sizeof(err));
	assert_non_null(t);
	for (int i = 0; i < 3; i++) {
		x = ip(l.addr[i]);
		assert_int_equal(table_add(t, &x, 600), 0);
	}
	assert_int_equal(table_commit(t, err, sizeof(err)), 3);
	assert_int_equal(table_resync(t, live_entries, &l, err, sizeof(err)), 0);
	/* Behind the writer's back: a lost entry, a stray one, a drifted timeout. */
	assert_int_equal(sh("ipset del y4 192.0.2.1"), 0);
	assert_int_equal(sh("ipset add y4 203.0.113.9 timeout 600"), 0);
	assert_int_equal(sh("ipset add y4 192.0.2.2 timeout 100 -exist"), 0);
	assert_int_equal(sh("ipset del y6 2001:db8::1"), 0);
	assert_int_equal(table_resync(t, live_entries, &l, err, sizeof(err)), 4);
	assert_true(in_set("y4", "192.0.2.1"));
	assert_false(in_set("y4", "203.0.113.9"));
	assert_true(in_set("y6", "2001:db8::1"));
	tmo = list_number("y4", "192.0.2.2", " timeout ");
	assert_true(tmo > 590 && tmo <= 600);
	assert_int_equal(table_stats(t)->resyncs, 2);
	assert_int_equal(table_stats(t)->healed, 4);
	/* In step now: nothing to do. */
	assert_int_equal(table_resync(t, live_entries, &l, err, sizeof(err)), 0);
	/* A set destroyed behind our back (no rule used it) comes back, filled. */
	assert_int_equal(sh("ipset destroy y6"), 0);
	r = table_resync(t, live_entries, &l, err, sizeof(err));
	assert_int_equal(r, 1);
	assert_true(in_set("y6", "2001:db8::1"));
	assert_int_equal(list_number("y6", NULL, " maxelem "), 100 + 65536);
	/* A whitelist that cannot be read: an error, and nothing deleted. */
	l.fail = -ENOMEM;
	assert_int_equal(table_resync(t, live_entries, &l, err, sizeof(err)), -ENOMEM);
	assert_non_null(strstr(err, "resync"));
	assert_true(in_set("y4", "192.0.2.2"));
	/* An empty whitelist empties the sets. */
	l = (struct live){{NULL}, {0}, 0};
	assert_int_equal(table_resync(t, live_entries, &l, err, sizeof(err)), 3);
	assert_int_equal(members("y4"), 0);
	assert_int_equal(members("y6"), 0);
	table_close(t, true);
}

static void test_resync_many(void **state)
{
	struct table *t;
	char err[512];
	mxa_addr x;
	int r;

	(void)state;
	if (!ready)
		skip();
	/* Enough members that libipset's listing comes in many chunks. */
	t = open_sets("m4", "m6", 5000, err, sizeof(err));
	assert_non_null(t);
	assert_int_equal(sh("for i in $(seq 0 19); do for j in $(seq 1 200); do "
	                    "echo \"add m4 10.0.$i.$j timeout 600\"; done; done | ipset restore"),
	                 0);
	assert_int_equal(members("m4"), 4000);
	/* The whitelist holds one of them: 3999 strays go. */
	struct live l = {.addr = {"10.0.7.7"}, .timeout = {600}};
	r = table_resync(t, live_entries, &l, err, sizeof(err));
	assert_int_equal(r, 3999);
	assert_int_equal(members("m4"), 1);
	assert_true(in_set("m4", "10.0.7.7"));
	x = ip("10.0.7.7");
	assert_int_equal(table_del(t, &x), 0);
	assert_int_equal(table_commit(t, err, sizeof(err)), 1);
	table_close(t, true);
}

/*
 * A set swapped (ipset swap) for one without timeout support while the writer
 * runs: every add is refused; the resync finds why and says so with the fix
 * once, a reminder after; once a proper set is swapped back it heals.
 */
static void test_resync_rechecks(void **state)
{
	struct live l = {.addr = {"192.0.2.1", "192.0.2.2"}, .timeout = {600, 600}};
	char err[512];
	struct table *t;
	mxa_addr x;

	(void)state;
	if (!ready)
		skip();
	t = open_sets("w4", "w6", 100, err, sizeof(err));
	assert_non_null(t);
	x = ip("192.0.2.1");
	assert_int_equal(table_add(t, &x, 600), 0);
	assert_int_equal(table_commit(t, err, sizeof(err)), 1);
	assert_int_equal(sh("ipset create w4.bad hash:net family inet maxelem 65636 && "
	                    "ipset swap w4.bad w4"),
	                 0);
	x = ip("192.0.2.2");
	assert_int_equal(table_add(t, &x, 600), 0);
	assert_true(table_commit(t, err, sizeof(err)) < 0);
	assert_int_equal(table_resync(t, live_entries, &l, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "set w4 cannot be used: it has no timeout support"));
	assert_non_null(strstr(err, "ipset create w4.new hash:net family inet timeout 600 maxelem "
	                            "65636 && ipset swap w4.new w4 && ipset destroy w4.new"));
	/* Said once: a short reminder while it stays so. */
	assert_int_equal(table_resync(t, live_entries, &l, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "set w4 still cannot be used: it has no timeout support"));
	assert_null(strstr(err, "ipset create"));
	assert_int_equal(table_stats(t)->resyncs, 0);
	/* The fix as printed, and the next resync heals. */
	assert_int_equal(sh("ipset create w4.new hash:net family inet timeout 600 maxelem 65636 && "
	                    "ipset swap w4.new w4 && ipset destroy w4.new && ipset destroy w4.bad"),
	                 0);
	assert_int_equal(table_resync(t, live_entries, &l, err, sizeof(err)), 2);
	assert_true(in_set("w4", "192.0.2.1"));
	assert_true(in_set("w4", "192.0.2.2"));
	assert_int_equal(table_stats(t)->resyncs, 1);
	/* A set too small for max-entries swapped in: named with its fix too. */
	assert_int_equal(sh("ipset create w4.small hash:net family inet timeout 600 maxelem 10 && "
	                    "ipset swap w4.small w4"),
	                 0);
	assert_int_equal(table_resync(t, live_entries, &l, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "holds at most 10 entries (maxelem), fewer than max-entries"));
	assert_int_equal(sh("ipset swap w4.small w4 && ipset destroy w4.small"), 0);
	assert_int_equal(table_resync(t, live_entries, &l, err, sizeof(err)), 0);
	table_close(t, true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_create_maxelem),  cmocka_unit_test(test_small_set_refused),
	    cmocka_unit_test(test_full_set),        cmocka_unit_test(test_session_recovers),
	    cmocka_unit_test(test_resync_heals),    cmocka_unit_test(test_resync_many),
	    cmocka_unit_test(test_resync_rechecks),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
