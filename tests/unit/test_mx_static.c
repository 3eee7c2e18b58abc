/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The core with static allow lists: accepted at once at a real MX, never held, no entry. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mx.h"

static const uint64_t key[2] = {1, 2};

struct rec {
	char last[160];
	unsigned statics, decided, checks, added;
};

static void on_static(void *ctx, const mxa_addr *src, const mxa_addr *dst,
                      const struct netset_net *net)
{
	struct rec *r = ctx;
	char s[ADDR_STRLEN], d[ADDR_STRLEN], n[NETSET_STRLEN];

	snprintf(r->last, sizeof(r->last), "static %s>%s net=%s", addr_format(src, s),
	         addr_format(dst, d), netset_format(net, n));
	r->statics++;
}

static void on_decided(void *ctx, const mxa_addr *src, const mxa_addr *dst, enum mx_verdict v)
{
	struct rec *r = ctx;
	char s[ADDR_STRLEN], d[ADDR_STRLEN];

	snprintf(r->last, sizeof(r->last), "%s %s>%s", v == MX_ALLOW ? "accept" : "drop",
	         addr_format(src, s), addr_format(dst, d));
	r->decided++;
}

static int on_check(void *ctx, const mxa_addr *client)
{
	struct rec *r = ctx;

	(void)client;
	r->checks++;
	return 0;
}

static void on_added(void *ctx, const struct wl_entry *e, bool renewed, const char *name,
                     mxa_time now)
{
	struct rec *r = ctx;

	(void)e;
	(void)renewed;
	(void)name;
	(void)now;
	r->added++;
}

static mxa_addr ip(const char *s)
{
	mxa_addr a;

	assert_int_equal(addr_parse(&a, s), 0);
	return a;
}

static struct mx *mx_with(struct rec *r, bool static_sink)
{
	static mxa_addr fake, real;
	struct mx_sink sink = {.ctx = r,
	                       .decided = on_decided,
	                       .added = on_added,
	                       .check = on_check,
	                       .accepted_static = static_sink ? on_static : NULL};
	struct mx_params p = {.fake = &fake,
	                      .n_fake = 1,
	                      .real = &real,
	                      .n_real = 1,
	                      .whitelist_time = 3600,
	                      .rdns = true,
	                      .rdns_max = 8,
	                      .v4_prefix = 32,
	                      .v6_prefix = 128};
	static const char *const nets[] = {"198.51.100.0/28", "2001:db8:1::/64"};
	struct netset *s = netset_new();
	struct mx *mx;

	fake = ip("192.0.2.10");
	real = ip("192.0.2.20");
	mx = mx_new(&p, 64, key, &sink, 1000);
	assert_non_null(mx);
	assert_non_null(s);
	for (size_t i = 0; i < 2; i++) {
		mxa_addr a;
		unsigned prefix;
		char why[128];

		assert_int_equal(netset_parse(nets[i], &a, &prefix, why, sizeof(why)), 0);
		assert_int_equal(netset_add(s, &a, prefix, "test", (uint32_t)i + 1), 0);
	}
	assert_int_equal(netset_finish(s), 0);
	mx_set_static(mx, s);
	return mx;
}

static void test_static_client_accepted_without_fake_visit(void **state)
{
	struct rec r = {0};
	struct mx *mx = mx_with(&r, true);
	mxa_addr real = ip("192.0.2.20"), in = ip("198.51.100.15"), out = ip("198.51.100.16");
	const struct netset_net *n;

	(void)state;
	assert_int_equal(mx_syn(mx, &in, &real, 1000), MX_ALLOW);
	assert_string_equal(r.last, "static 198.51.100.15>192.0.2.20 net=198.51.100.0/28");
	assert_int_equal(mx_syn(mx, &out, &real, 1000), MX_DROP);
	assert_string_equal(r.last, "drop 198.51.100.16>192.0.2.20");
	assert_int_equal(mx_stats(mx)->static_hits, 1);
	assert_int_equal(mx_stats(mx)->accepted, 1);
	assert_int_equal(mx_stats(mx)->dropped, 1);
	assert_int_equal(whitelist_size(mx_whitelist(mx)), 0); /* nothing to expire or evict */
	assert_int_equal(r.added, 0);
	/* The lookup mxallowctl show uses. */
	assert_true(netset_lookup(mx_static(mx), &in, &n));
	assert_int_equal(n->prefix, 28);
	assert_int_equal(n->line, 1);
	/* Replaced by a reload: NULL means none. */
	mx_set_static(mx, NULL);
	assert_int_equal(mx_syn(mx, &in, &real, 1001), MX_DROP);
	mx_free(mx);
}

static void test_without_static_sink_decided_hears_it(void **state)
{
	struct rec r = {0};
	struct mx *mx = mx_with(&r, false);
	mxa_addr real = ip("192.0.2.20"), in = ip("198.51.100.1");

	(void)state;
	assert_int_equal(mx_syn(mx, &in, &real, 1000), MX_ALLOW);
	assert_string_equal(r.last, "accept 198.51.100.1>192.0.2.20");
	assert_int_equal(r.decided, 1);
	mx_free(mx);
}

/* Table mode: the kernel's static set passed it; the core counts it as static. */
static void test_observed_pass(void **state)
{
	struct rec r = {0};
	struct mx *mx = mx_with(&r, true);
	mxa_addr real = ip("192.0.2.20"), in = ip("198.51.100.2"), out = ip("198.51.100.200");

	(void)state;
	mx_observe(mx, &in, &real, MX_OBSERVED_PASS, 1000);
	assert_string_equal(r.last, "static 198.51.100.2>192.0.2.20 net=198.51.100.0/28");
	mx_observe(mx, &out, &real, MX_OBSERVED_BLOCK, 1000);
	assert_int_equal(mx_stats(mx)->static_hits, 1);
	assert_int_equal(mx_stats(mx)->accepted, 1);
	assert_int_equal(mx_stats(mx)->dropped, 1);
	mx_free(mx);
}

/* With trust-domain set, strangers are held for a check; a static client never is. */
static void test_never_held(void **state)
{
	struct rec r = {0};
	struct mx *mx = mx_with(&r, true);
	static const char *const trusted[] = {"example.org"};
	struct trust_params tp = {.trusted = trusted, .n_trusted = 1};
	mxa_addr real = ip("192.0.2.20"), in = ip("2001:db8:1::25"), out = ip("2001:db8:2::25");

	(void)state;
	assert_int_equal(mx_set_trust(mx, &tp), 0);
	assert_int_equal(mx_set_hold(mx, 16, 3000, 1000000), 0);
	assert_int_equal(mx_syn_hold(mx, &in, &real, 1, 1000000), MX_ALLOW);
	assert_string_equal(r.last, "static 2001:db8:1::25>192.0.2.20 net=2001:db8:1::/64");
	assert_int_equal(r.checks, 0);
	/* A stranger outside the lists is held for its check (the control). */
	assert_int_equal(mx_syn_hold(mx, &out, &real, 2, 1000000), MX_PENDING);
	assert_int_equal(r.checks, 1);
	mx_hold_flush(mx, 1000001);
	mx_free(mx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_static_client_accepted_without_fake_visit),
	    cmocka_unit_test(test_without_static_sink_decided_hears_it),
	    cmocka_unit_test(test_observed_pass),
	    cmocka_unit_test(test_never_held),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
