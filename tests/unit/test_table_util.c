/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The pure parts of the table writers: set size, resync comparison, ioctl runs, pf errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "table-util.h"

static struct table_util_entry ent(const char *s, uint8_t prefix, uint32_t timeout)
{
	struct table_util_entry e = {.prefix = prefix, .timeout = timeout};

	assert_int_equal(addr_parse(&e.addr, s), 0);
	return e;
}

static void test_maxelem(void **state)
{
	(void)state;
	/* Room for the kernel rule's own adds: +25 %, at least +65536. */
	assert_int_equal(table_util_maxelem(0), 65536 + 65536);
	assert_int_equal(table_util_maxelem(65536), 131072);
	assert_int_equal(table_util_maxelem(1000), 1000 + 65536);
	assert_int_equal(table_util_maxelem(1000000), 1250000);
	assert_int_equal(table_util_maxelem(100000000), 125000000);
	assert_int_equal(table_util_maxelem(UINT32_MAX), UINT32_MAX);
	assert_true(table_util_maxelem(4000000000u) >= 4000000000u);
}

static void test_sort_unique(void **state)
{
	struct table_util_entry v[] = {
	    ent("192.0.2.2", 32, 10), ent("2001:db8::1", 128, 5), ent("192.0.2.1", 32, 7),
	    ent("192.0.2.2", 32, 30), ent("192.0.2.0", 24, 1),    ent("192.0.2.2", 32, 20),
	};
	struct table_util_entry e0 = ent("192.0.2.0", 24, 0), e1 = ent("192.0.2.1", 32, 0);
	struct table_util_entry e2 = ent("192.0.2.2", 32, 0);
	size_t n;

	(void)state;
	n = table_util_sort_unique(v, sizeof(v) / sizeof(v[0]));
	assert_int_equal(n, 4);
	/* IPv4 is v4-mapped: it sorts before 2001:db8::; a /24 and a /32 of one address differ. */
	assert_true(addr_equal(&v[0].addr, &e0.addr));
	assert_int_equal(v[0].prefix, 24);
	assert_true(addr_equal(&v[1].addr, &e1.addr));
	assert_true(addr_equal(&v[2].addr, &e2.addr));
	assert_int_equal(v[2].timeout, 30); /* the longest of the repeats */
	assert_int_equal(v[3].prefix, 128);
	assert_int_equal(table_util_sort_unique(v, 0), 0);
}

struct seen {
	char log[512];
	int calls;
	int fail_at; /* 1-based call that fails, 0: none */
};

static int record(void *ctx, enum table_util_change c, const struct table_util_entry *e)
{
	struct seen *s = ctx;
	char a[ADDR_STRLEN], line[96];

	if (++s->calls == s->fail_at)
		return -ENOMEM;
	snprintf(line, sizeof(line), "%s %s/%u %u;",
	         c == TABLE_UTIL_ADD   ? "add"
	         : c == TABLE_UTIL_DEL ? "del"
	                               : "retime",
	         addr_format(&e->addr, a), (unsigned)e->prefix, (unsigned)e->timeout);
	strncat(s->log, line, sizeof(s->log) - strlen(s->log) - 1);
	return 0;
}

static void test_diff(void **state)
{
	/* Kernel: a stray, a drifted timeout, a good one, one with another prefix. */
	struct table_util_entry have[] = {
	    ent("192.0.2.1", 32, 100),
	    ent("192.0.2.2", 32, 3000),
	    ent("192.0.2.3", 32, 598),
	    ent("2001:db8::1", 64, 50),
	};
	struct table_util_entry want[] = {
	    ent("192.0.2.2", 32, 600),
	    ent("192.0.2.3", 32, 600),
	    ent("192.0.2.4", 32, 600),
	    ent("2001:db8::1", 128, 50),
	};
	struct seen s = {{0}};
	long r;

	(void)state;
	r = table_util_diff(have, 4, want, 4, 5, record, &s);
	assert_int_equal(r, 5);
	assert_string_equal(s.log,
	                    "del 192.0.2.1/32 100;retime 192.0.2.2/32 600;add 192.0.2.4/32 600;"
	                    "del 2001:db8::1/64 50;add 2001:db8::1/128 50;");
	/* pf: no timeouts, so no re-timing. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(table_util_diff(have, 4, want, 4, UINT32_MAX, record, &s), 4);
	assert_null(strstr(s.log, "retime"));
	/* Empty sides: everything is added, or everything deleted. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(table_util_diff(NULL, 0, want, 4, 5, record, &s), 4);
	memset(&s, 0, sizeof(s));
	assert_int_equal(table_util_diff(have, 4, NULL, 0, 5, record, &s), 4);
	assert_int_equal(table_util_diff(have, 4, have, 4, 5, record, &s), 0);
	/* A timeout clamped to the kernel's ceiling (an entry renewed for longer) is re-armed
	 * only once the kernel's has run down by a day, not at every resync. */
	{
		struct table_util_entry k1[] = {ent("192.0.2.9", 32, TABLE_UTIL_MAX_TIMEOUT - 300)};
		struct table_util_entry k2[] = {
		    ent("192.0.2.9", 32, TABLE_UTIL_MAX_TIMEOUT - TABLE_UTIL_CLAMP_SLACK - 1)};
		struct table_util_entry w[] = {ent("192.0.2.9", 32, TABLE_UTIL_MAX_TIMEOUT)};

		memset(&s, 0, sizeof(s));
		assert_int_equal(table_util_diff(k1, 1, w, 1, 5, record, &s), 0);
		assert_int_equal(table_util_diff(k2, 1, w, 1, 5, record, &s), 1);
		assert_non_null(strstr(s.log, "retime 192.0.2.9/32"));
	}
	/* The callback's failure stops the walk and is returned. */
	memset(&s, 0, sizeof(s));
	s.fail_at = 2;
	assert_int_equal(table_util_diff(have, 4, want, 4, 5, record, &s), -ENOMEM);
	assert_int_equal(s.calls, 2);
}

static void test_vec(void **state)
{
	struct table_util_vec v = {0};
	mxa_addr a = ent("198.51.100.1", 32, 0).addr;

	(void)state;
	for (int i = 0; i < 1000; i++)
		assert_int_equal(table_util_vec_push(&v, &a, 32, (uint32_t)i), 0);
	assert_int_equal(v.n, 1000);
	assert_int_equal(v.v[999].timeout, 999);
	assert_int_equal(table_util_sort_unique(v.v, v.n), 1);
	table_util_vec_free(&v);
	assert_null(v.v);
	assert_int_equal(v.n, 0);
}

/* Cuts @add[0..n) into runs of at most @max and writes them as "+3 -1 ...". */
static void runs(const bool *add, size_t n, size_t max, char *out, size_t outlen)
{
	out[0] = 0;
	for (size_t from = 0; from < n;) {
		size_t end = table_util_run_end(add, n, from, max);
		char part[32];

		assert_true(end > from);
		assert_true(end - from <= max);
		snprintf(part, sizeof(part), "%s%c%zu", *out ? " " : "", add[from] ? '+' : '-',
		         end - from);
		strncat(out, part, outlen - strlen(out) - 1);
		from = end;
	}
}

static void test_runs(void **state)
{
	bool add[10000];
	char out[256];

	(void)state;
	/* Order kept: a delete then a re-add of one address stays so. */
	bool mixed[] = {true, true, false, true, true, true, false, false};
	runs(mixed, 8, 4096, out, sizeof(out));
	assert_string_equal(out, "+2 -1 +3 -2");
	runs(mixed, 8, 2, out, sizeof(out));
	assert_string_equal(out, "+2 -1 +2 +1 -2");
	/* A tick that expires many entries: FreeBSD-sized chunks, none above the cap. */
	for (size_t i = 0; i < 10000; i++)
		add[i] = false;
	runs(add, 10000, 4096, out, sizeof(out));
	assert_string_equal(out, "-4096 -4096 -1808");
	runs(add, 1, 4096, out, sizeof(out));
	assert_string_equal(out, "-1");
	assert_int_equal(table_util_run_end(add, 5, 5, 4096), 5);
}

static void explain(enum table_util_pf_op op, int e, bool freebsd, char *out, size_t len)
{
	table_util_pf_explain("mx-white", op, e, freebsd, out, len);
}

static void test_pf_errors(void **state)
{
	char m[512];

	(void)state;
	/* EPERM from a table ioctl is a const table, not a missing root. */
	explain(TABLE_UTIL_PF_ADD, EPERM, false, m, sizeof(m));
	assert_non_null(strstr(m, "adding addresses"));
	assert_non_null(strstr(m, "<mx-white> is const"));
	assert_null(strstr(m, "root"));
	/* No write access is EACCES from the ioctl, or open() failing. */
	explain(TABLE_UTIL_PF_DEL, EACCES, false, m, sizeof(m));
	assert_non_null(strstr(m, "not open for writing"));
	assert_non_null(strstr(m, "root"));
	explain(TABLE_UTIL_PF_OPEN, EACCES, false, m, sizeof(m));
	assert_non_null(strstr(m, "opening /dev/pf"));
	assert_non_null(strstr(m, "root"));
	explain(TABLE_UTIL_PF_OPEN, EPERM, true, m, sizeof(m));
	assert_non_null(strstr(m, "root"));
	/* EINVAL: a bad name or address; on FreeBSD also a batch above the cap. */
	explain(TABLE_UTIL_PF_ADD, EINVAL, false, m, sizeof(m));
	assert_non_null(strstr(m, "table name 'mx-white' or an address"));
	assert_null(strstr(m, "request_maxcount"));
	assert_null(strstr(m, "const"));
	explain(TABLE_UTIL_PF_ADD, EINVAL, true, m, sizeof(m));
	assert_non_null(strstr(m, "net.pf.request_maxcount"));
	/* ENOENT on FreeBSD: pf.ko is not loaded, whatever the step. */
	explain(TABLE_UTIL_PF_OPEN, ENOENT, true, m, sizeof(m));
	assert_non_null(strstr(m, "kldload pf"));
	explain(TABLE_UTIL_PF_CLEAR, ENOENT, true, m, sizeof(m));
	assert_non_null(strstr(m, "pf.ko is not loaded"));
	explain(TABLE_UTIL_PF_OPEN, ENOENT, false, m, sizeof(m));
	assert_non_null(strstr(m, "MAKEDEV pf"));
	/* A missing table says how to declare it. */
	explain(TABLE_UTIL_PF_CLEAR, ESRCH, false, m, sizeof(m));
	assert_non_null(strstr(m, "table <mx-white> persist"));
	assert_non_null(strstr(m, "flushing the table"));
	/* Table ioctls work with pf disabled: no message may send the admin to pfctl -e. */
	int all[] = {ESRCH, EPERM, EACCES, EINVAL, ENOMEM, ENODEV, ENOTTY, ENXIO, ENOENT, EIO};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		for (int op = TABLE_UTIL_PF_OPEN; op <= TABLE_UTIL_PF_SET; op++)
			for (int fb = 0; fb <= 1; fb++) {
				explain((enum table_util_pf_op)op, all[i], fb, m, sizeof(m));
				assert_null(strstr(m, "pfctl -e"));
				assert_null(strstr(m, "enabled"));
				assert_true(strncmp(m, "pf: ", 4) == 0);
			}
	explain(TABLE_UTIL_PF_SET, ENOMEM, false, m, sizeof(m));
	assert_non_null(strstr(m, "table-entries"));
	explain(TABLE_UTIL_PF_GET, ENODEV, false, m, sizeof(m));
	assert_non_null(strstr(m, "rebuild"));
	/* A short buffer still gets a terminated line (the size hidden from the compiler). */
	volatile size_t small = 16;
	explain(TABLE_UTIL_PF_ADD, EPERM, false, m, small);
	assert_int_equal(strlen(m), 15);
	/* Only errors that may concern some addresses of a batch are retried one by one. */
	assert_true(table_util_pf_retry_singly(EINVAL));
	assert_true(table_util_pf_retry_singly(ENOMEM));
	assert_false(table_util_pf_retry_singly(ESRCH));
	assert_false(table_util_pf_retry_singly(EPERM));
	assert_false(table_util_pf_retry_singly(EACCES));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_maxelem), cmocka_unit_test(test_sort_unique),
	    cmocka_unit_test(test_diff),    cmocka_unit_test(test_vec),
	    cmocka_unit_test(test_runs),    cmocka_unit_test(test_pf_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
