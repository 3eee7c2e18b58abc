/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Metrics: the exposition text, and every counter of the stats line described for it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon.h"
#include "metrics.h"

static char *render(const struct stat_item *v, size_t n)
{
	struct evbuffer *b = evbuffer_new();
	size_t len;
	char *s;

	assert_non_null(b);
	assert_int_equal(metrics_render(b, v, n), 0);
	len = evbuffer_get_length(b);
	s = malloc(len + 1);
	assert_non_null(s);
	evbuffer_remove(b, s, len);
	s[len] = 0;
	evbuffer_free(b);
	return s;
}

static void test_render(void **state)
{
	const struct stat_item v[] = {
	    {"fake-hits", 7, "Connections to a fake MX."},
	    {"entries", 3, "Whitelist entries now.", true, "whitelist_entries"},
	    {"sync-lag-us", 1234567, "Delay.", true, "sync_lag_seconds", 1000000},
	    {"odd", 1, "A back\\slash\nand a line end."},
	};
	char *s = render(v, 4);

	(void)state;
	assert_string_equal(s, "# HELP mxallowd_fake_hits_total Connections to a fake MX.\n"
	                       "# TYPE mxallowd_fake_hits_total counter\n"
	                       "mxallowd_fake_hits_total 7\n"
	                       "# HELP mxallowd_whitelist_entries Whitelist entries now.\n"
	                       "# TYPE mxallowd_whitelist_entries gauge\n"
	                       "mxallowd_whitelist_entries 3\n"
	                       "# HELP mxallowd_sync_lag_seconds Delay.\n"
	                       "# TYPE mxallowd_sync_lag_seconds gauge\n"
	                       "mxallowd_sync_lag_seconds 1.234567\n"
	                       "# HELP mxallowd_odd_total A back\\\\slash\\nand a line end.\n"
	                       "# TYPE mxallowd_odd_total counter\n"
	                       "mxallowd_odd_total 1\n");
	free(s);
}

static bool name_ok(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' ||
		      *s == '-'))
			return false;
	return true;
}

/* A daemon with a core only, as right after start: every counter must be described. */
static void test_every_counter_is_described(void **state)
{
	static const uint64_t key[2] = {1, 2};
	static mxa_addr fake, real;
	struct mx_params p = {.fake = &fake,
	                      .n_fake = 1,
	                      .real = &real,
	                      .n_real = 1,
	                      .whitelist_time = 60,
	                      .v4_prefix = 32,
	                      .v6_prefix = 128};
	struct daemon d = {0};
	struct stat_item v[STATS_MAX];
	size_t n;
	char names[STATS_MAX][96];

	(void)state;
	assert_int_equal(addr_parse(&fake, "192.0.2.10"), 0);
	assert_int_equal(addr_parse(&real, "192.0.2.20"), 0);
	d.mx = mx_new(&p, 16, key, NULL, 1);
	assert_non_null(d.mx);
	n = stats_collect(&d, v, STATS_MAX);
	assert_true(n > 20 && n < STATS_MAX); /* room left: none was cut off */
	for (size_t i = 0; i < n; i++) {
		const char *m = v[i].metric ? v[i].metric : v[i].name;
		size_t len = strlen(m);

		if (!v[i].help || !*v[i].help)
			fail_msg("stats item %s has no help text for the metrics", v[i].name);
		assert_true(name_ok(m));
		/* Counters get _total; a gauge must not look like one. */
		assert_false(len > 6 && strcmp(m + len - 6, "_total") == 0);
		snprintf(names[i], sizeof(names[i]), "%s%s", m, v[i].gauge ? "" : "_total");
		for (char *c = names[i]; *c; c++)
			*c = *c == '-' ? '_' : *c;
		for (size_t j = 0; j < i; j++)
			if (strcmp(names[i], names[j]) == 0)
				fail_msg("metric %s twice", names[i]);
	}
	/* The ones operators look for first. */
	for (size_t k = 0; k < 5; k++) {
		static const char *const want[] = {"dropped_total", "whitelist_entries",
		                                   "whitelist_capacity", "static_networks",
		                                   "rdns_inflight"};
		bool found = false;

		for (size_t i = 0; i < n; i++)
			found = found || strcmp(names[i], want[k]) == 0;
		if (!found)
			fail_msg("no metric mxallowd_%s", want[k]);
	}
	mx_free(d.mx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_render),
	    cmocka_unit_test(test_every_counter_is_described),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
