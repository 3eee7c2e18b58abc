/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mx.h"

/* A sink that records what the core asked for, as lines of text. */
struct rec {
	char lines[64][160];
	size_t n;
	mxa_addr resolve[16];
	size_t n_resolve;
};

/* Checked like printf: callers pass literals, so vsnprintf() below is not -Wformat-nonliteral. */
static void rec_add(struct rec *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void rec_add(struct rec *r, const char *fmt, ...)
{
	va_list ap;

	assert_true(r->n < 64);
	va_start(ap, fmt);
	vsnprintf(r->lines[r->n++], sizeof(r->lines[0]), fmt, ap);
	va_end(ap);
}

static void on_added(void *ctx, const struct wl_entry *e, bool renewed, const char *name,
                     mxa_time now)
{
	char a[ADDR_STRLEN], o[ADDR_STRLEN];

	rec_add(ctx, "%s %s reason=%d origin=%s name=%s ttl=%lld", renewed ? "renew" : "add",
	        addr_format(&e->addr, a), e->reason, addr_format(&e->origin, o), name ? name : "-",
	        (long long)(e->deadline - now));
}

static void on_removed(void *ctx, const struct wl_entry *e, enum mx_removal why)
{
	char a[ADDR_STRLEN];

	rec_add(ctx, "del %s why=%d", addr_format(&e->addr, a), why);
}

static void on_resolve(void *ctx, const mxa_addr *client)
{
	struct rec *r = ctx;

	assert_true(r->n_resolve < 16);
	r->resolve[r->n_resolve++] = *client;
}

static void on_decided(void *ctx, const mxa_addr *src, const mxa_addr *dst, enum mx_verdict v)
{
	char s[ADDR_STRLEN], d[ADDR_STRLEN];

	rec_add(ctx, "%s %s>%s", v == MX_ALLOW ? "accept" : "drop", addr_format(src, s),
	        addr_format(dst, d));
}

static void on_unconfirmed(void *ctx, const mxa_addr *client, const char *name)
{
	char a[ADDR_STRLEN];

	rec_add(ctx, "unconfirmed %s %s", addr_format(client, a), name);
}

static mxa_addr ip(const char *s)
{
	mxa_addr a;

	assert_int_equal(addr_parse(&a, s), 0);
	return a;
}

struct fixture {
	struct rec rec;
	mxa_addr fake[2], real[2];
	struct mx_params p;
	struct mx *mx;
};

static const uint64_t key[2] = {7, 9};

static struct mx *make(struct fixture *f, size_t capacity)
{
	const struct mx_sink sink = {
	    .ctx = &f->rec,
	    .added = on_added,
	    .removed = on_removed,
	    .resolve = on_resolve,
	    .decided = on_decided,
	    .unconfirmed = on_unconfirmed,
	};

	f->mx = mx_new(&f->p, capacity, key, &sink, 1000);
	assert_non_null(f->mx);
	return f->mx;
}

static int setup(void **state)
{
	static struct fixture f;

	memset(&f, 0, sizeof(f));
	f.fake[0] = ip("192.0.2.10");
	f.fake[1] = ip("2001:db8::10");
	f.real[0] = ip("192.0.2.20");
	f.real[1] = ip("2001:db8::20");
	f.p = (struct mx_params){.fake = f.fake,
	                         .n_fake = 2,
	                         .real = f.real,
	                         .n_real = 2,
	                         .whitelist_time = 3600,
	                         .rdns = true,
	                         .rdns_max = 32,
	                         .v4_prefix = 32,
	                         .v6_prefix = 128};
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	f->mx = mx_free(f->mx);
	return 0;
}

static enum mx_verdict syn(struct mx *mx, const char *src, const char *dst, mxa_time now)
{
	mxa_addr s = ip(src), d = ip(dst);

	return mx_syn(mx, &s, &d, now);
}

static void test_direct_to_real_is_dropped(void **state)
{
	struct fixture *f = *state;
	struct mx *mx = make(f, 100);

	assert_int_equal(syn(mx, "198.51.100.3", "192.0.2.20", 1000), MX_DROP);
	assert_int_equal(syn(mx, "198.51.100.3", "192.0.2.20", 1003), MX_DROP);
	assert_int_equal(mx_stats(mx)->dropped, 2);
	assert_int_equal(mx_stats(mx)->accepted, 0);
	assert_int_equal(f->rec.n, 2);
	assert_string_equal(f->rec.lines[0], "drop 198.51.100.3>192.0.2.20");
	assert_int_equal(whitelist_size(mx_whitelist(mx)), 0);
}

static void test_fake_then_real_is_accepted(void **state)
{
	struct fixture *f = *state;
	struct mx *mx = make(f, 100);

	assert_int_equal(syn(mx, "198.51.100.1", "192.0.2.10", 1000), MX_ALLOW);
	assert_int_equal(syn(mx, "198.51.100.1", "192.0.2.20", 1000), MX_ALLOW);
	assert_int_equal(syn(mx, "198.51.100.1", "192.0.2.20", 4599), MX_ALLOW);
	assert_string_equal(f->rec.lines[0],
	                    "add 198.51.100.1 reason=1 origin=192.0.2.10 name=- ttl=3600");
	assert_string_equal(f->rec.lines[1], "accept 198.51.100.1>192.0.2.20");
	assert_int_equal(mx_stats(mx)->fake_hits, 1);
	assert_int_equal(mx_stats(mx)->accepted, 2);
	assert_int_equal(mx_stats(mx)->dropped, 0);
	/* rDNS was asked for once, for the client itself. */
	assert_int_equal(f->rec.n_resolve, 1);
	assert_memory_equal(f->rec.resolve[0].b, ip("198.51.100.1").b, 16);
}

static void test_ipv6_works_alike(void **state)
{
	struct fixture *f = *state;
	struct mx *mx = make(f, 100);

	assert_int_equal(syn(mx, "2001:db8:1::3", "2001:db8::20", 1000), MX_DROP);
	assert_int_equal(syn(mx, "2001:db8:1::1", "2001:db8::10", 1000), MX_ALLOW);
	assert_int_equal(syn(mx, "2001:db8:1::1", "2001:db8::20", 1001), MX_ALLOW);
	/* A v4 entry does not open the door to IPv6 and vice versa. */
	assert_int_equal(syn(mx, "198.51.100.1", "192.0.2.20", 1001), MX_DROP);
}

static void test_expiry_after_whitelist_time(void **state)
{
	struct fixture *f = *state;
	struct mx *mx;

	f->p.whitelist_time = 60;
	mx = make(f, 100);
	syn(mx, "198.51.100.1", "192.0.2.10", 1000);
	assert_int_equal(syn(mx, "198.51.100.1", "192.0.2.20", 1059), MX_ALLOW);
	assert_int_equal(mx_expire(mx, 1059), 1060);
	assert_int_equal(mx_expire(mx, 1060), -1);
	assert_string_equal(f->rec.lines[2], "del 198.51.100.1 why=0");
	assert_int_equal(syn(mx, "198.51.100.1", "192.0.2.20", 1060), MX_DROP);
	assert_int_equal(mx_stats(mx)->expired, 1);
	assert_int_equal(mx_stats(mx)->fake_only, 0); /* it did use the real MX */
}

static void test_expiry_counts_from_last_fake_hit(void **state)
{
	struct fixture *f = *state;
	struct mx *mx;

	f->p.whitelist_time = 60;
	mx = make(f, 100);
	syn(mx, "198.51.100.1", "192.0.2.10", 1000);
	syn(mx, "198.51.100.1", "192.0.2.10", 1050); /* re-arms: deadline 1110 */
	assert_string_equal(f->rec.lines[1],
	                    "renew 198.51.100.1 reason=1 origin=192.0.2.10 name=- ttl=60");
	/* Real-MX use does not extend it (as in 1.9). */
	assert_int_equal(syn(mx, "198.51.100.1", "192.0.2.20", 1100), MX_ALLOW);
	assert_int_equal(syn(mx, "198.51.100.1", "192.0.2.20", 1109), MX_ALLOW);
	assert_int_equal(syn(mx, "198.51.100.1", "192.0.2.20", 1110), MX_DROP);
	/* No lookup result came in between: the second hit asks again (see test_rdns_*). */
	assert_int_equal(f->rec.n_resolve, 2);
	assert_int_equal(mx_stats(mx)->fake_hits, 2);
}

static void test_fake_only_clients_counted(void **state)
{
	struct fixture *f = *state;
	struct mx *mx;

	f->p.whitelist_time = 10;
	mx = make(f, 100);
	syn(mx, "198.51.100.7", "192.0.2.10", 1000);
	syn(mx, "198.51.100.8", "192.0.2.10", 1000);
	syn(mx, "198.51.100.8", "192.0.2.20", 1001);
	mx_expire(mx, 1010);
	assert_int_equal(mx_stats(mx)->expired, 2);
	assert_int_equal(mx_stats(mx)->fake_only, 1);
	assert_int_equal(whitelist_size(mx_whitelist(mx)), 0);
}

static void test_other_destinations_pass(void **state)
{
	struct fixture *f = *state;
	struct mx *mx = make(f, 100);

	assert_int_equal(syn(mx, "198.51.100.3", "192.0.2.99", 1000), MX_ALLOW);
	assert_int_equal(f->rec.n, 0);
	assert_int_equal(mx_stats(mx)->dropped + mx_stats(mx)->accepted, 0);
	assert_int_equal(mx_classify(mx, &f->fake[1]), MX_FAKE);
	assert_int_equal(mx_classify(mx, &f->real[1]), MX_REAL);
}

static void resolved(struct mx *mx, const char *client, const char *name, const char **addrs,
                     size_t n, mxa_time now, size_t want)
{
	mxa_addr c = ip(client), v[40];

	for (size_t i = 0; i < n; i++)
		v[i] = ip(addrs[i]);
	assert_int_equal(mx_resolved(mx, &c, name, v, n, now), want);
}

static void test_siblings_forward_confirmed(void **state)
{
	struct fixture *f = *state;
	struct mx *mx = make(f, 100);
	const char *addrs[] = {"198.51.100.1", "198.51.100.2", "2001:db8:1::2", "198.51.100.2"};

	syn(mx, "198.51.100.1", "192.0.2.10", 1000);
	resolved(mx, "198.51.100.1", "sender.example.org", addrs, 4, 1005, 2);
	assert_string_equal(
	    f->rec.lines[1],
	    "add 198.51.100.2 reason=2 origin=198.51.100.1 name=sender.example.org ttl=3595");
	assert_string_equal(
	    f->rec.lines[2],
	    "add 2001:db8:1::2 reason=2 origin=198.51.100.1 name=sender.example.org ttl=3595");
	assert_int_equal(f->rec.n, 3); /* the duplicate was not added twice */
	assert_int_equal(syn(mx, "198.51.100.2", "192.0.2.20", 1006), MX_ALLOW);
	assert_int_equal(syn(mx, "2001:db8:1::2", "2001:db8::20", 1006), MX_ALLOW);
	assert_int_equal(mx_stats(mx)->rdns_siblings, 2);
	/* Siblings share the client's deadline. */
	assert_int_equal(syn(mx, "198.51.100.2", "192.0.2.20", 4600), MX_DROP);
	/* A sibling that later hits the fake MX itself becomes a fake-MX entry and resolves. */
	syn(mx, "2001:db8:1::2", "2001:db8::10", 1010);
	assert_int_equal(f->rec.n_resolve, 2);
}

static void test_siblings_not_confirmed(void **state)
{
	struct fixture *f = *state;
	struct mx *mx = make(f, 100);
	const char *addrs[] = {"198.51.100.5", "198.51.100.6"};

	syn(mx, "198.51.100.4", "192.0.2.10", 1000);
	resolved(mx, "198.51.100.4", "liar.example.org", addrs, 2, 1001, 0);
	assert_string_equal(f->rec.lines[1], "unconfirmed 198.51.100.4 liar.example.org");
	assert_int_equal(syn(mx, "198.51.100.5", "192.0.2.20", 1002), MX_DROP);
	assert_int_equal(mx_stats(mx)->rdns_unconfirmed, 1);
	assert_int_equal(mx_stats(mx)->rdns_siblings, 0);
}

static void test_siblings_capped(void **state)
{
	struct fixture *f = *state;
	struct mx *mx;
	char buf[40][32];
	const char *addrs[40];

	f->p.rdns_max = 5;
	mx = make(f, 100);
	for (int i = 0; i < 40; i++) {
		snprintf(buf[i], sizeof(buf[i]), "198.51.100.%d", 100 + i);
		addrs[i] = buf[i];
	}
	syn(mx, "198.51.100.100", "192.0.2.10", 1000);
	resolved(mx, "198.51.100.100", "big.example.org", addrs, 40, 1001, 5);
	assert_int_equal(whitelist_size(mx_whitelist(mx)), 6);
	assert_int_equal(syn(mx, "198.51.100.105", "192.0.2.20", 1002), MX_ALLOW);
	assert_int_equal(syn(mx, "198.51.100.106", "192.0.2.20", 1002), MX_DROP);
}

static void test_resolved_after_expiry_adds_nothing(void **state)
{
	struct fixture *f = *state;
	struct mx *mx;
	const char *addrs[] = {"198.51.100.1", "198.51.100.2"};

	f->p.whitelist_time = 5;
	mx = make(f, 100);
	syn(mx, "198.51.100.1", "192.0.2.10", 1000);
	resolved(mx, "198.51.100.1", "sender.example.org", addrs, 2, 1005, 0);
	assert_int_equal(whitelist_size(mx_whitelist(mx)), 0);
}

static void test_rdns_off_asks_nothing(void **state)
{
	struct fixture *f = *state;
	struct mx *mx;

	f->p.rdns = false;
	mx = make(f, 100);
	syn(mx, "198.51.100.1", "192.0.2.10", 1000);
	assert_int_equal(f->rec.n_resolve, 0);
}

static void test_prefix_whitelists_network(void **state)
{
	struct fixture *f = *state;
	struct mx *mx;

	f->p.v4_prefix = 24;
	f->p.v6_prefix = 64;
	mx = make(f, 100);
	syn(mx, "198.51.100.1", "192.0.2.10", 1000);
	assert_string_equal(f->rec.lines[0],
	                    "add 198.51.100.0 reason=1 origin=192.0.2.10 name=- ttl=3600");
	assert_int_equal(syn(mx, "198.51.100.200", "192.0.2.20", 1001), MX_ALLOW);
	assert_int_equal(syn(mx, "198.51.101.1", "192.0.2.20", 1001), MX_DROP);
	syn(mx, "2001:db8:1::1", "2001:db8::10", 1000);
	assert_int_equal(syn(mx, "2001:db8:1::ffff", "2001:db8::20", 1001), MX_ALLOW);
	assert_int_equal(syn(mx, "2001:db8:2::1", "2001:db8::20", 1001), MX_DROP);
	/* rDNS still resolves the client's own address, not its network. */
	assert_memory_equal(f->rec.resolve[0].b, ip("198.51.100.1").b, 16);
}

static void test_capacity_evicts_and_reports(void **state)
{
	struct fixture *f = *state;
	struct mx *mx = make(f, 2);

	syn(mx, "198.51.100.1", "192.0.2.10", 1000);
	syn(mx, "198.51.100.2", "192.0.2.10", 1001);
	syn(mx, "198.51.100.3", "192.0.2.10", 1002);
	assert_string_equal(f->rec.lines[2], "del 198.51.100.1 why=1");
	assert_int_equal(mx_stats(mx)->evicted, 1);
	assert_int_equal(syn(mx, "198.51.100.1", "192.0.2.20", 1003), MX_DROP);
	assert_int_equal(syn(mx, "198.51.100.3", "192.0.2.20", 1003), MX_ALLOW);
	assert_int_equal(whitelist_size(mx_whitelist(mx)), 2);
}

static void test_set_params_keeps_whitelist(void **state)
{
	struct fixture *f = *state;
	struct mx *mx = make(f, 100);
	mxa_addr newreal = ip("192.0.2.30");
	struct mx_params p = f->p;

	syn(mx, "198.51.100.1", "192.0.2.10", 1000);
	p.real = &newreal;
	p.n_real = 1;
	assert_int_equal(mx_set_params(mx, &p), 0);
	assert_int_equal(syn(mx, "198.51.100.1", "192.0.2.30", 1001), MX_ALLOW);
	assert_int_equal(syn(mx, "198.51.100.3", "192.0.2.30", 1001), MX_DROP);
	/* The old real MX is no longer ours to judge. */
	assert_int_equal(syn(mx, "198.51.100.3", "192.0.2.20", 1001), MX_ALLOW);
	/* An address both fake and real is refused, and nothing changes. */
	p.real = &f->fake[0];
	assert_int_equal(mx_set_params(mx, &p), -22);
	assert_int_equal(syn(mx, "198.51.100.3", "192.0.2.30", 1002), MX_DROP);
}

static void test_observe_counts_kernel_decisions(void **state)
{
	struct fixture *f = *state;
	struct mx *mx = make(f, 100);
	mxa_addr c = ip("198.51.100.1"), s = ip("198.51.100.3"), fake = ip("192.0.2.10"),
	         real = ip("192.0.2.20");

	mx_observe(mx, &c, &fake, MX_OBSERVED_PASS, 1000);
	mx_observe(mx, &c, &real, MX_OBSERVED_PASS, 1001);
	mx_observe(mx, &s, &real, MX_OBSERVED_BLOCK, 1001);
	assert_int_equal(mx_stats(mx)->fake_hits, 1);
	assert_int_equal(mx_stats(mx)->accepted, 1);
	assert_int_equal(mx_stats(mx)->dropped, 1);
	assert_string_equal(f->rec.lines[0],
	                    "add 198.51.100.1 reason=1 origin=192.0.2.10 name=- ttl=3600");
	assert_string_equal(f->rec.lines[2], "drop 198.51.100.3>192.0.2.20");
}

/* A lookup that has not ended is asked again on the next hit; one that ended is not. */
static void test_rdns_retry_until_done(void **state)
{
	struct fixture *f = *state;
	struct mx *mx = make(f, 100);
	mxa_addr c = ip("198.51.100.1");
	const char *addrs[] = {"198.51.100.1", "198.51.100.2"};
	struct wl_entry e;

	syn(mx, "198.51.100.1", "192.0.2.10", 1000);
	assert_int_equal(f->rec.n_resolve, 1);
	/* Timeout or SERVFAIL: the entry stays, its lookup stays open. */
	mx_rdns_failed(mx, &c, MX_RDNS_TEMPORARY, 1006);
	assert_true(whitelist_lookup(mx_whitelist(mx), &c, 1006, &e));
	assert_false(e.rdns_done);
	syn(mx, "198.51.100.1", "192.0.2.10", 1010);
	assert_int_equal(f->rec.n_resolve, 2);
	assert_memory_equal(f->rec.resolve[1].b, c.b, 16);
	assert_int_equal(mx_stats(mx)->rdns_reasked, 1);
	assert_int_equal(mx_stats(mx)->rdns_failed, 1);
	/* The retry brings the siblings; from then on no more lookups for this entry. */
	resolved(mx, "198.51.100.1", "sender.example.org", addrs, 2, 1011, 1);
	assert_true(whitelist_lookup(mx_whitelist(mx), &c, 1011, &e));
	assert_true(e.rdns_done);
	syn(mx, "198.51.100.1", "192.0.2.10", 1020);
	syn(mx, "198.51.100.1", "192.0.2.10", 1030);
	assert_int_equal(f->rec.n_resolve, 2);
	assert_int_equal(syn(mx, "198.51.100.2", "192.0.2.20", 1031), MX_ALLOW);
	/* A renewal keeps the flag; the deadline moved with it. */
	assert_true(whitelist_lookup(mx_whitelist(mx), &c, 4629, &e));
	assert_true(e.rdns_done);
}

/* No PTR, or a name that does not confirm: not looked up again for MX_RDNS_NEG_TTL. */
static void test_rdns_negative_cache(void **state)
{
	struct fixture *f = *state;
	struct mx *mx;
	mxa_addr c = ip("198.51.100.3");
	const char *liar[] = {"198.51.100.5"};

	f->p.whitelist_time = 60;
	mx = make(f, 100);
	syn(mx, "198.51.100.3", "192.0.2.10", 1000);
	mx_rdns_failed(mx, &c, MX_RDNS_FINAL, 1001);
	assert_int_equal(mx_stats(mx)->rdns_no_name, 1);
	syn(mx, "198.51.100.3", "192.0.2.10", 1002); /* the entry's lookup has ended */
	assert_int_equal(f->rec.n_resolve, 1);
	assert_int_equal(mx_stats(mx)->rdns_negcache_hits, 0);
	/* The entry expires; the client comes back within the wait: no lookup. */
	mx_expire(mx, 1062);
	assert_int_equal(whitelist_size(mx_whitelist(mx)), 0);
	syn(mx, "198.51.100.3", "192.0.2.10", 1100);
	assert_int_equal(f->rec.n_resolve, 1);
	assert_int_equal(mx_stats(mx)->rdns_negcache_hits, 1);
	/* Still whitelisted: the negative cache concerns rDNS only. */
	assert_int_equal(syn(mx, "198.51.100.3", "192.0.2.20", 1101), MX_ALLOW);
	/* After the wait (from the failure at 1001) it is asked again. */
	syn(mx, "198.51.100.3", "192.0.2.10", 1001 + MX_RDNS_NEG_TTL - 1);
	assert_int_equal(f->rec.n_resolve, 1);
	syn(mx, "198.51.100.3", "192.0.2.10", 1001 + MX_RDNS_NEG_TTL);
	assert_int_equal(f->rec.n_resolve, 2);
	/* A name that does not resolve back to the client is cached the same way. */
	syn(mx, "198.51.100.4", "192.0.2.10", 2000);
	resolved(mx, "198.51.100.4", "liar.example.org", liar, 1, 2001, 0);
	mx_expire(mx, 2061);
	syn(mx, "198.51.100.4", "192.0.2.10", 2100);
	assert_int_equal(f->rec.n_resolve, 3);
	assert_int_equal(mx_stats(mx)->rdns_negcache_hits, 3);
	/* And one without any address (NODATA / NXDOMAIN on the forward lookups). */
	syn(mx, "198.51.100.6", "192.0.2.10", 2200);
	resolved(mx, "198.51.100.6", "noaddr.example.org", NULL, 0, 2201, 0);
	assert_string_equal(f->rec.lines[f->rec.n - 1],
	                    "unconfirmed 198.51.100.6 noaddr.example.org");
	mx_expire(mx, 2261);
	syn(mx, "198.51.100.6", "192.0.2.10", 2300);
	assert_int_equal(f->rec.n_resolve, 4);
	assert_int_equal(mx_stats(mx)->rdns_negcache_hits, 4);
}

/* The cache holds MX_RDNS_NEG_MAX clients: the oldest make room. */
static void test_rdns_negative_cache_bounded(void **state)
{
	struct fixture *f = *state;
	struct mx *mx = make(f, 100);
	mxa_addr c;

	for (uint32_t i = 0; i <= MX_RDNS_NEG_MAX; i++) {
		uint8_t v4[4] = {10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};

		addr_from_v4(&c, v4);
		mx_rdns_failed(mx, &c, MX_RDNS_FINAL, 1000 + i / 1000);
	}
	/* 10.0.0.0 was the first: gone; 10.0.0.1 is still there. */
	syn(mx, "10.0.0.0", "192.0.2.10", 1010);
	assert_int_equal(f->rec.n_resolve, 1);
	syn(mx, "10.0.0.1", "192.0.2.10", 1010);
	assert_int_equal(f->rec.n_resolve, 1);
	assert_int_equal(mx_stats(mx)->rdns_negcache_hits, 1);
}

/* A full whitelist under a flood: new clients are not looked up until it calms down. */
static void test_rdns_skipped_while_evicting(void **state)
{
	struct fixture *f = *state;
	struct mx *mx = make(f, 2);

	syn(mx, "198.51.100.1", "192.0.2.10", 1000);
	syn(mx, "198.51.100.2", "192.0.2.10", 1000);
	assert_int_equal(f->rec.n_resolve, 2);
	syn(mx, "198.51.100.3", "192.0.2.10", 1000); /* evicts .1 */
	syn(mx, "198.51.100.1", "192.0.2.10", 1001); /* evicts .2 */
	assert_int_equal(f->rec.n_resolve, 2);
	assert_int_equal(mx_stats(mx)->rdns_skipped_evicting, 2);
	assert_int_equal(mx_stats(mx)->evicted, 2);
	/* Two quiet seconds: the next hit of a skipped client asks. */
	syn(mx, "198.51.100.3", "192.0.2.10", 1003);
	assert_int_equal(f->rec.n_resolve, 3);
	assert_memory_equal(f->rec.resolve[2].b, ip("198.51.100.3").b, 16);
}

/* A sibling that hits the fake MX itself gets its own lookup, once it is a fake-MX entry. */
static void test_rdns_sibling_turned_client(void **state)
{
	struct fixture *f = *state;
	struct mx *mx = make(f, 100);
	const char *addrs[] = {"198.51.100.1", "198.51.100.2"};
	mxa_addr s = ip("198.51.100.2");
	struct wl_entry e;

	syn(mx, "198.51.100.1", "192.0.2.10", 1000);
	resolved(mx, "198.51.100.1", "sender.example.org", addrs, 2, 1001, 1);
	assert_true(whitelist_lookup(mx_whitelist(mx), &s, 1001, &e));
	assert_false(e.rdns_done);
	syn(mx, "198.51.100.2", "192.0.2.10", 1002);
	assert_int_equal(f->rec.n_resolve, 2);
	assert_int_equal(mx_stats(mx)->rdns_reasked, 0); /* its first lookup, not a retry */
}

/* The entry of @src as the whitelist holds it at @now; fails when it is not live. */
static struct wl_entry live_entry(struct mx *mx, const char *src, mxa_time now)
{
	mxa_addr a = ip(src);
	struct wl_entry e;

	assert_true(whitelist_lookup(mx_whitelist(mx), &a, now, &e));
	return e;
}

/*
 * An Exim-like sender: delivered once through the fake then the real MX, then
 * (remembering the fake MX's refusal) comes back straight to the real MX after
 * whitelist-time: renew-time keeps it in, at its first SYN.
 */
static void test_renew_on_use_exim_like(void **state)
{
	struct fixture *f = *state;
	struct mx *mx;
	struct wl_entry e;

	f->p.whitelist_time = 60;
	f->p.renew_time = 600;
	mx = make(f, 100);
	syn(mx, "198.51.100.1", "192.0.2.10", 1000);
	assert_int_equal(syn(mx, "198.51.100.1", "192.0.2.20", 1001), MX_ALLOW);
	/* The first use is reported: the reason and origin stay, the deadline is 600 s away. */
	assert_string_equal(f->rec.lines[1],
	                    "renew 198.51.100.1 reason=1 origin=192.0.2.10 name=- ttl=600");
	assert_string_equal(f->rec.lines[2], "accept 198.51.100.1>192.0.2.20");
	e = live_entry(mx, "198.51.100.1", 1001);
	assert_true(e.used);
	assert_int_equal(e.last_use, 1001);
	assert_int_equal(e.deadline, 1601);
	/* Well after whitelist-time: accepted, renewed again, but not reported (moved 99 s). */
	assert_int_equal(syn(mx, "198.51.100.1", "192.0.2.20", 1100), MX_ALLOW);
	assert_string_equal(f->rec.lines[3], "accept 198.51.100.1>192.0.2.20");
	assert_int_equal(f->rec.n, 4);
	assert_int_equal(live_entry(mx, "198.51.100.1", 1100).deadline, 1700);
	assert_int_equal(live_entry(mx, "198.51.100.1", 1100).reason, WL_REASON_FAKE_MX);
	/* After a pause of half renew-time (300 s) the renewal is reported again. */
	assert_int_equal(syn(mx, "198.51.100.1", "192.0.2.20", 1400), MX_ALLOW);
	assert_string_equal(f->rec.lines[4],
	                    "renew 198.51.100.1 reason=1 origin=192.0.2.10 name=- ttl=600");
	/* renew-time after its last use it is gone. */
	assert_int_equal(syn(mx, "198.51.100.1", "192.0.2.20", 1999), MX_ALLOW);
	assert_int_equal(syn(mx, "198.51.100.1", "192.0.2.20", 2598), MX_ALLOW);
	assert_int_equal(mx_expire(mx, 3197), 3198);
	assert_int_equal(syn(mx, "198.51.100.1", "192.0.2.20", 3198), MX_DROP);
	assert_int_equal(mx_stats(mx)->expired, 1);
	assert_int_equal(mx_stats(mx)->accepted, 5);
	assert_int_equal(mx_stats(mx)->dropped, 1);
	assert_int_equal(mx_stats(mx)->fake_hits, 1);
}

/* renew-time 0: mxallowd 1.9, the sender that skips the fake MX is dropped. */
static void test_renew_off_drops_returning_sender(void **state)
{
	struct fixture *f = *state;
	struct mx *mx;

	f->p.whitelist_time = 60;
	f->p.renew_time = 0;
	mx = make(f, 100);
	syn(mx, "198.51.100.1", "192.0.2.10", 1000);
	assert_int_equal(syn(mx, "198.51.100.1", "192.0.2.20", 1001), MX_ALLOW);
	assert_int_equal(f->rec.n, 2); /* add, accept: no renewal */
	assert_true(live_entry(mx, "198.51.100.1", 1001).used);
	assert_int_equal(live_entry(mx, "198.51.100.1", 1001).deadline, 1060);
	assert_int_equal(syn(mx, "198.51.100.1", "192.0.2.20", 1100), MX_DROP);
}

/* A Postfix-like sender tries the fake MX first every time: each delivery ends renewed. */
static void test_renew_on_use_postfix_like(void **state)
{
	struct fixture *f = *state;
	struct mx *mx;

	f->p.whitelist_time = 60;
	f->p.renew_time = 600;
	mx = make(f, 100);
	for (mxa_time t = 1000; t < 5000; t += 500) {
		syn(mx, "2001:db8:1::1", "2001:db8::10", t);
		assert_int_equal(syn(mx, "2001:db8:1::1", "2001:db8::20", t), MX_ALLOW);
		assert_int_equal(live_entry(mx, "2001:db8:1::1", t).deadline, t + 600);
	}
	/* Straight to the real MX 599 s after the last delivery: still in. */
	assert_int_equal(syn(mx, "2001:db8:1::1", "2001:db8::20", 4500 + 599), MX_ALLOW);
	assert_int_equal(mx_stats(mx)->dropped, 0);
}

/* A renewal never shortens an entry, and a short renew-time changes nothing then. */
static void test_renew_never_shortens(void **state)
{
	struct fixture *f = *state;
	struct mx *mx;

	f->p.whitelist_time = 3600;
	f->p.renew_time = 60;
	mx = make(f, 100);
	syn(mx, "198.51.100.1", "192.0.2.10", 1000);
	assert_int_equal(syn(mx, "198.51.100.1", "192.0.2.20", 1001), MX_ALLOW);
	assert_int_equal(live_entry(mx, "198.51.100.1", 1001).deadline, 4600);
	assert_int_equal(f->rec.n, 2); /* nothing moved: nothing reported */
	assert_int_equal(syn(mx, "198.51.100.1", "192.0.2.20", 4599), MX_ALLOW);
	assert_int_equal(live_entry(mx, "198.51.100.1", 4599).deadline, 4659);
}

/* Expiry does bounded work per call; what is left is absent for lookups all the same. */
static void test_expire_is_bounded(void **state)
{
	struct fixture *f = *state;
	struct mx *mx = mx_new(&f->p, MX_EXPIRE_MAX + 1000, key, NULL, 1000);
	mxa_addr fake = ip("192.0.2.10"), real = ip("192.0.2.20");

	assert_non_null(mx);
	for (uint32_t i = 0; i < MX_EXPIRE_MAX + 1000; i++) {
		mxa_addr a;
		uint8_t v4[4] = {10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};

		addr_from_v4(&a, v4);
		mx_syn(mx, &a, &fake, 1000);
	}
	assert_int_equal(whitelist_size(mx_whitelist(mx)), MX_EXPIRE_MAX + 1000);
	/* all due at once: one call removes MX_EXPIRE_MAX and says more are due */
	assert_true(mx_expire(mx, 1000 + f->p.whitelist_time) <= 1000 + f->p.whitelist_time);
	assert_int_equal(whitelist_size(mx_whitelist(mx)), 1000);
	/* the ones left are not let in */
	{
		mxa_addr last;
		uint8_t v4[4] = {10, 0, (uint8_t)((MX_EXPIRE_MAX + 999) >> 8),
		                 (uint8_t)(MX_EXPIRE_MAX + 999)};

		addr_from_v4(&last, v4);
		assert_false(
		    whitelist_lookup(mx_whitelist(mx), &last, 1000 + f->p.whitelist_time, NULL));
		assert_int_equal(mx_syn(mx, &last, &real, 1000 + f->p.whitelist_time), MX_DROP);
	}
	assert_int_equal(mx_expire(mx, 1000 + f->p.whitelist_time), -1);
	assert_int_equal(whitelist_size(mx_whitelist(mx)), 0);
	assert_int_equal(mx_stats(mx)->expired, MX_EXPIRE_MAX + 1000);
	mx_free(mx);
}

/* Siblings of a client renewed on use get whitelist-time, not the client's long renewal. */
static void test_siblings_of_a_renewed_client(void **state)
{
	struct fixture *f = *state;
	struct mx *mx;
	const char *addrs[] = {"198.51.100.1", "198.51.100.2"};

	f->p.whitelist_time = 60;
	f->p.renew_time = 600;
	mx = make(f, 100);
	syn(mx, "198.51.100.1", "192.0.2.10", 1000);
	assert_int_equal(syn(mx, "198.51.100.1", "192.0.2.20", 1001), MX_ALLOW);
	assert_int_equal(live_entry(mx, "198.51.100.1", 1002).deadline, 1601);
	resolved(mx, "198.51.100.1", "sender.example.org", addrs, 2, 1002, 1);
	assert_int_equal(live_entry(mx, "198.51.100.2", 1002).deadline, 1062);
	assert_int_equal(live_entry(mx, "198.51.100.2", 1002).reason, WL_REASON_RDNS_SIBLING);
}

/* A fake-MX hit of a sender renewed on use does not cut it back to whitelist-time. */
static void test_fake_hit_never_shortens(void **state)
{
	struct fixture *f = *state;
	struct mx *mx;

	f->p.whitelist_time = 60;
	f->p.renew_time = 600;
	mx = make(f, 100);
	syn(mx, "198.51.100.1", "192.0.2.10", 1000);
	assert_int_equal(syn(mx, "198.51.100.1", "192.0.2.20", 1001), MX_ALLOW);
	assert_int_equal(live_entry(mx, "198.51.100.1", 1001).deadline, 1601);
	syn(mx, "198.51.100.1", "192.0.2.10", 1100);
	assert_int_equal(live_entry(mx, "198.51.100.1", 1100).deadline, 1601);
	assert_int_equal(live_entry(mx, "198.51.100.1", 1100).reason, WL_REASON_FAKE_MX);
}

/* A manual entry keeps the administrator's ttl: not renewed on use, not taken over by a
 * fake-MX hit. */
static void test_manual_entry_keeps_its_ttl(void **state)
{
	struct fixture *f = *state;
	struct mx *mx;
	mxa_addr a = ip("198.51.100.1");
	struct wl_entry prev;

	f->p.whitelist_time = 60;
	f->p.renew_time = 600;
	mx = make(f, 100);
	assert_true(mx_manual_add(mx, &a, -1, 120, 1000, &prev) >= 0);
	assert_int_equal(syn(mx, "198.51.100.1", "192.0.2.20", 1001), MX_ALLOW);
	assert_int_equal(live_entry(mx, "198.51.100.1", 1001).deadline, 1120);
	assert_true(live_entry(mx, "198.51.100.1", 1001).used);
	syn(mx, "198.51.100.1", "192.0.2.10", 1002);
	assert_int_equal(live_entry(mx, "198.51.100.1", 1002).deadline, 1120);
	assert_int_equal(live_entry(mx, "198.51.100.1", 1002).reason, WL_REASON_MANUAL);
	assert_int_equal(syn(mx, "198.51.100.1", "192.0.2.20", 1120), MX_DROP);
}

/* Siblings and the other reasons are renewed alike; their reason stays. */
static void test_renew_on_use_sibling(void **state)
{
	struct fixture *f = *state;
	struct mx *mx;
	const char *addrs[] = {"198.51.100.1", "198.51.100.2"};

	f->p.whitelist_time = 60;
	f->p.renew_time = 600;
	mx = make(f, 100);
	syn(mx, "198.51.100.1", "192.0.2.10", 1000);
	resolved(mx, "198.51.100.1", "sender.example.org", addrs, 2, 1001, 1);
	assert_int_equal(syn(mx, "198.51.100.2", "192.0.2.20", 1002), MX_ALLOW);
	assert_string_equal(f->rec.lines[2],
	                    "renew 198.51.100.2 reason=2 origin=198.51.100.1 name=- ttl=600");
	assert_int_equal(syn(mx, "198.51.100.2", "192.0.2.20", 1500), MX_ALLOW);
	/* The client itself never used the real MX: it is gone, its sibling is not. */
	assert_int_equal(syn(mx, "198.51.100.1", "192.0.2.20", 1500), MX_DROP);
}

/* Table mode: the kernel's pass records renew like accepted SYNs; blocks change nothing. */
static void test_renew_on_observed_pass(void **state)
{
	struct fixture *f = *state;
	struct mx *mx;
	mxa_addr c = ip("198.51.100.1"), fake = ip("192.0.2.10"), real = ip("192.0.2.20");

	f->p.whitelist_time = 60;
	f->p.renew_time = 600;
	mx = make(f, 100);
	mx_observe(mx, &c, &fake, MX_OBSERVED_PASS, 1000);
	mx_observe(mx, &c, &real, MX_OBSERVED_PASS, 1001);
	assert_string_equal(f->rec.lines[1],
	                    "renew 198.51.100.1 reason=1 origin=192.0.2.10 name=- ttl=600");
	mx_observe(mx, &c, &real, MX_OBSERVED_PASS, 1200);
	assert_int_equal(live_entry(mx, "198.51.100.1", 1200).deadline, 1800);
	mx_observe(mx, &c, &real, MX_OBSERVED_BLOCK, 1300);
	assert_int_equal(live_entry(mx, "198.51.100.1", 1300).deadline, 1800);
	assert_int_equal(live_entry(mx, "198.51.100.1", 1300).last_use, 1200);
	assert_int_equal(mx_stats(mx)->accepted, 2);
	assert_int_equal(mx_stats(mx)->dropped, 1);
}

/*
 * A spoofed flood of fake-MX hits at a small capacity: the senders that used
 * the real MX stay, those that only touched the fake MX are evicted first --
 * even with renew-time 0, where the flood's entries outlive the proven ones.
 */
static void test_flood_keeps_used_entries(void **state)
{
	struct fixture *f = *state;
	struct mx *mx;
	char src[32];

	f->p.whitelist_time = 3600;
	f->p.renew_time = 0;
	f->p.rdns = false;
	mx = make(f, 10);
	for (int i = 1; i <= 3; i++) { /* proven senders */
		snprintf(src, sizeof(src), "198.51.100.%d", i);
		syn(mx, src, "192.0.2.10", 1000);
		assert_int_equal(syn(mx, src, "192.0.2.20", 1000), MX_ALLOW);
	}
	for (int i = 4; i <= 6; i++) { /* fake-MX only */
		snprintf(src, sizeof(src), "198.51.100.%d", i);
		syn(mx, src, "192.0.2.10", 1000);
	}
	f->rec.n = 0;
	for (int i = 0; i < 2000; i++) { /* the flood, later deadlines than everybody's */
		snprintf(src, sizeof(src), "10.%d.%d.1", i / 250, i % 250);
		syn(mx, src, "192.0.2.10", 1001 + i / 100);
		f->rec.n = 0;
	}
	assert_int_equal(mx_stats(mx)->evicted, 2000 - 4);
	for (int i = 1; i <= 3; i++) {
		snprintf(src, sizeof(src), "198.51.100.%d", i);
		assert_int_equal(syn(mx, src, "192.0.2.20", 1030), MX_ALLOW);
	}
	for (int i = 4; i <= 6; i++) {
		snprintf(src, sizeof(src), "198.51.100.%d", i);
		assert_int_equal(syn(mx, src, "192.0.2.20", 1030), MX_DROP);
	}
	assert_int_equal(whitelist_used_count(mx_whitelist(mx)), 3);
}

/* ------------------------------------------------------------------ held verdicts, trust */

/* What the core asked of a holding backend: verdicts by token, checks, refusals. */
struct hold_rec {
	uint64_t tokens[64];
	enum mx_verdict v[64];
	enum mx_hold_end why[64];
	size_t n_verdicts;
	mxa_addr checks[64];
	size_t n_checks;
	int check_result; /* what sink->check answers */
	char refused[16][96];
	size_t n_refused;
	char members[16][96];
	size_t n_members;
};

struct hctx {
	struct fixture *f;
	struct hold_rec h;
};

static void h_verdict(void *ctx, uint64_t token, const mxa_addr *src, const mxa_addr *dst,
                      enum mx_verdict v, enum mx_hold_end why, uint64_t since_ms)
{
	struct hold_rec *h = &((struct hctx *)ctx)->h;

	(void)src;
	(void)dst;
	(void)since_ms;
	assert_true(h->n_verdicts < 64);
	h->tokens[h->n_verdicts] = token;
	h->v[h->n_verdicts] = v;
	h->why[h->n_verdicts++] = why;
}

static int h_check(void *ctx, const mxa_addr *client)
{
	struct hold_rec *h = &((struct hctx *)ctx)->h;

	if (h->check_result == 0) {
		assert_true(h->n_checks < 64);
		h->checks[h->n_checks++] = *client;
	}
	return h->check_result;
}

static void h_refused(void *ctx, const mxa_addr *client, const char *name, enum mx_refusal why)
{
	struct hold_rec *h = &((struct hctx *)ctx)->h;
	char a[ADDR_STRLEN];

	assert_true(h->n_refused < 16);
	snprintf(h->refused[h->n_refused++], 96, "%s %s %s", addr_format(client, a),
	         name ? name : "-", mx_refusal_name(why));
}

static void h_member(void *ctx, const mxa_addr *client, const char *name, const char *domain,
                     enum trust_name why)
{
	struct hold_rec *h = &((struct hctx *)ctx)->h;
	char a[ADDR_STRLEN];

	assert_true(h->n_members < 16);
	snprintf(h->members[h->n_members++], 96, "%s %s %s", addr_format(client, a), name,
	         domain ? domain : trust_name_word(why));
}

static void h_resolve(void *ctx, const mxa_addr *client)
{
	on_resolve(&((struct hctx *)ctx)->f->rec, client);
}

static void h_added(void *ctx, const struct wl_entry *e, bool renewed, const char *name,
                    mxa_time now)
{
	on_added(&((struct hctx *)ctx)->f->rec, e, renewed, name, now);
}

static void h_decided(void *ctx, const mxa_addr *src, const mxa_addr *dst, enum mx_verdict v)
{
	on_decided(&((struct hctx *)ctx)->f->rec, src, dst, v);
}

/* A core that holds up to @max SYNs 800 ms, domain trust on, with @trusted domains. */
static struct mx *make_hold(struct fixture *f, struct hold_rec **hp, size_t max,
                            const char *const *trusted, size_t n_trusted)
{
	static struct hctx c;
	const struct mx_sink sink = {
	    .ctx = &c,
	    .added = h_added,
	    .resolve = h_resolve,
	    .decided = h_decided,
	    .check = h_check,
	    .verdict = h_verdict,
	    .refused = h_refused,
	    .member = h_member,
	};
	const char *const exclude[] = {"*.excluded.test"};
	struct trust_params tp = {true, trusted, n_trusted, exclude, 1};

	memset(&c, 0, sizeof(c));
	c.f = f;
	*hp = &c.h;
	f->mx = mx_new(&f->p, 100, key, &sink, 1000);
	assert_non_null(f->mx);
	assert_int_equal(mx_set_trust(f->mx, &tp), 0);
	assert_int_equal(mx_set_hold(f->mx, max, 800, 1000000), 0);
	return f->mx;
}

static enum mx_verdict hsyn(struct mx *mx, const char *src, const char *dst, uint64_t token,
                            uint64_t now_ms)
{
	mxa_addr s = ip(src), d = ip(dst);

	return mx_syn_hold(mx, &s, &d, token, now_ms);
}

/* .30 hits the fake MX; its forward-confirmed name makes bigmail.test a member domain. */
static void member_30(struct mx *mx, uint64_t now_ms)
{
	const char *a30[] = {"198.51.100.30"};

	assert_int_equal(hsyn(mx, "198.51.100.30", "192.0.2.10", 1, now_ms), MX_ALLOW);
	resolved(mx, "198.51.100.30", "mail-a.bigmail.test", a30, 1, (mxa_time)(now_ms / 1000), 0);
}

static bool psl(struct mx *mx)
{
	return trust_psl_available(mx_trust(mx));
}

/* A stranger of a member's domain is held, then accepted on the answer, with the member's
 * deadline; its retransmit joined the same check. */
static void test_hold_accept_on_answer(void **state)
{
	struct fixture *f = *state;
	struct hold_rec *h;
	struct mx *mx = make_hold(f, &h, 8, NULL, 0);
	const char *a31[] = {"198.51.100.31"};
	struct wl_entry e;

	if (!psl(mx))
		skip();
	member_30(mx, 1000000);
	assert_int_equal(h->n_members, 1);
	assert_string_equal(h->members[0], "198.51.100.30 mail-a.bigmail.test bigmail.test");
	assert_int_equal(hsyn(mx, "198.51.100.31", "192.0.2.20", 77, 1001000), MX_PENDING);
	assert_int_equal(h->n_checks, 1);
	assert_int_equal(mx_stats(mx)->held, 1);
	assert_int_equal(hsyn(mx, "198.51.100.31", "192.0.2.20", 78, 1001500), MX_PENDING);
	assert_int_equal(h->n_checks, 1); /* joined */
	assert_int_equal(mx_stats(mx)->held, 2);
	resolved(mx, "198.51.100.31", "mail-b.bigmail.test", a31, 1, 1001, 1);
	assert_int_equal(h->n_verdicts, 2);
	assert_int_equal(h->tokens[0], 77);
	assert_int_equal(h->tokens[1], 78);
	assert_int_equal(h->v[0], MX_ALLOW);
	assert_int_equal(h->why[1], MX_HOLD_RELEASED);
	e = live_entry(mx, "198.51.100.31", 1001);
	assert_int_equal(e.reason, WL_REASON_RDNS_DOMAIN);
	{
		mxa_addr m = ip("198.51.100.30");

		assert_true(addr_equal(&e.origin, &m));
	}
	assert_int_equal(e.deadline, live_entry(mx, "198.51.100.30", 1001).deadline);
	assert_int_equal(mx_stats(mx)->held, 0);
	assert_int_equal(mx_stats(mx)->held_peak, 2);
	assert_int_equal(mx_stats(mx)->rdns_domain, 1);
	assert_int_equal(mx_stats(mx)->hold_accepted, 2);
	/* whitelisted now: the next SYN passes at once */
	assert_int_equal(hsyn(mx, "198.51.100.31", "192.0.2.20", 79, 1002000), MX_ALLOW);
}

static void test_hold_drop_on_deadline(void **state)
{
	struct fixture *f = *state;
	struct hold_rec *h;
	struct mx *mx = make_hold(f, &h, 8, NULL, 0);

	if (!psl(mx))
		skip();
	member_30(mx, 1000000);
	assert_int_equal(hsyn(mx, "198.51.100.40", "192.0.2.20", 5, 1000100), MX_PENDING);
	assert_int_equal(mx_hold_next(mx), 1000900);
	assert_int_equal(mx_hold_expire(mx, 1000899), 1000900);
	assert_int_equal(h->n_verdicts, 0);
	assert_int_equal(mx_hold_expire(mx, 1000900), -1);
	assert_int_equal(h->n_verdicts, 1);
	assert_int_equal(h->v[0], MX_DROP);
	assert_int_equal(h->why[0], MX_HOLD_EXPIRED);
	assert_int_equal(mx_stats(mx)->hold_expired, 1);
	assert_int_equal(mx_stats(mx)->dropped, 1);
	/* a late answer that trusts it still whitelists it, for the retransmit */
	{
		const char *a40[] = {"198.51.100.40"};

		resolved(mx, "198.51.100.40", "mail-c.bigmail.test", a40, 1, 1001, 1);
	}
	assert_int_equal(hsyn(mx, "198.51.100.40", "192.0.2.20", 6, 1001100), MX_ALLOW);
}

static void test_hold_bound_and_no_check(void **state)
{
	struct fixture *f = *state;
	struct hold_rec *h;
	struct mx *mx = make_hold(f, &h, 2, NULL, 0);

	if (!psl(mx))
		skip();
	member_30(mx, 1000000);
	assert_int_equal(hsyn(mx, "198.18.0.1", "192.0.2.20", 1, 1000000), MX_PENDING);
	assert_int_equal(hsyn(mx, "198.18.0.2", "192.0.2.20", 2, 1000000), MX_PENDING);
	/* full: dropped at once; a new client's check still starts, for its retransmit */
	assert_int_equal(hsyn(mx, "198.18.0.3", "192.0.2.20", 3, 1000000), MX_DROP);
	assert_int_equal(h->n_checks, 3);
	/* a held client's check is under way already: none more */
	assert_int_equal(hsyn(mx, "198.18.0.1", "192.0.2.20", 4, 1000000), MX_DROP);
	assert_int_equal(h->n_checks, 3);
	assert_int_equal(mx_stats(mx)->stranger_checks, 3);
	assert_int_equal(mx_stats(mx)->hold_nocheck, 0);
	assert_int_equal(mx_stats(mx)->hold_full, 2);
	assert_int_equal(mx_stats(mx)->held, 2);
	/* whitelisted clients are not delayed by a full table */
	assert_int_equal(hsyn(mx, "198.51.100.30", "192.0.2.20", 5, 1000000), MX_ALLOW);
	/* the check cannot start (rate limit): dropped at once, nothing held */
	mx_hold_flush(mx, 1000000);
	h->check_result = -EAGAIN;
	assert_int_equal(hsyn(mx, "198.18.0.9", "192.0.2.20", 6, 1000000), MX_DROP);
	assert_int_equal(mx_stats(mx)->held, 0);
	assert_int_equal(mx_stats(mx)->hold_nocheck, 1);
}

/*
 * Holding for peers (a shared whitelist) while a flood of strangers fills the table: a trusted
 * stranger's SYN is dropped at once, but its check starts, so the answer whitelists it and its
 * retransmit a second later gets in. Over the rate limit, nothing is asked.
 */
static void test_hold_full_still_checks(void **state)
{
	struct fixture *f = *state;
	struct hold_rec *h;
	const char *const trusted[] = {"partner.test"};
	const char *a60[] = {"198.51.100.60"};
	struct mx *mx;

	f->p.hold_strangers = true;
	mx = make_hold(f, &h, 2, trusted, 1);
	f->p.hold_strangers = false;
	assert_int_equal(hsyn(mx, "198.18.0.1", "192.0.2.20", 1, 1000000), MX_PENDING);
	assert_int_equal(hsyn(mx, "198.18.0.2", "192.0.2.20", 2, 1000000), MX_PENDING);
	assert_int_equal(h->n_checks, 2);
	assert_int_equal(hsyn(mx, "198.51.100.60", "192.0.2.20", 3, 1000100), MX_DROP);
	assert_int_equal(mx_stats(mx)->hold_full, 1);
	assert_int_equal(h->n_checks, 3);
	{
		mxa_addr want = ip("198.51.100.60");

		assert_true(addr_equal(&h->checks[2], &want));
	}
	resolved(mx, "198.51.100.60", "mx.partner.test", a60, 1, 1000, 1);
	assert_int_equal(live_entry(mx, "198.51.100.60", 1000).reason, WL_REASON_TRUSTED);
	/* the table is still full: the retransmit gets in all the same */
	assert_int_equal(mx_stats(mx)->held, 2);
	assert_int_equal(hsyn(mx, "198.51.100.60", "192.0.2.20", 4, 1001100), MX_ALLOW);
	/* the check cannot start (rate limit): dropped, counted once, nothing else */
	h->check_result = -EAGAIN;
	assert_int_equal(hsyn(mx, "198.51.100.61", "192.0.2.20", 5, 1001100), MX_DROP);
	assert_int_equal(mx_stats(mx)->hold_full, 2);
	assert_int_equal(mx_stats(mx)->hold_nocheck, 0);
	assert_int_equal(mx_stats(mx)->stranger_checks, 3);
	assert_int_equal(mx_hold_flush(mx, 1001100), 2);
}

/* Without a member anywhere and without trust-domain, nothing could let a stranger in. */
static void test_hold_only_when_a_check_could_help(void **state)
{
	struct fixture *f = *state;
	struct hold_rec *h;
	struct mx *mx = make_hold(f, &h, 8, NULL, 0);

	assert_int_equal(hsyn(mx, "198.51.100.31", "192.0.2.20", 1, 1000000), MX_DROP);
	assert_int_equal(h->n_checks, 0);
	assert_int_equal(mx_stats(mx)->held, 0);
}

/*
 * With a shared whitelist (hold_strangers), a stranger is held even when no check of ours
 * could let it in: a peer's entry arriving within hold-time releases it; without one it is
 * dropped at the deadline.
 */
static void test_hold_for_peers(void **state)
{
	struct fixture *f = *state;
	struct hold_rec *h;
	struct mx *mx;
	mxa_addr a = ip("198.51.100.50"), origin = ip("0.0.0.7");

	f->p.hold_strangers = true;
	mx = make_hold(f, &h, 8, NULL, 0);
	f->p.hold_strangers = false;
	assert_int_equal(hsyn(mx, "198.51.100.50", "192.0.2.20", 1, 1000000), MX_PENDING);
	assert_int_equal(hsyn(mx, "198.51.100.51", "192.0.2.20", 2, 1000000), MX_PENDING);
	assert_int_equal(mx_stats(mx)->held, 2);
	assert_int_equal(h->n_verdicts, 0);
	/* the peer's entry for .50 arrives 300 ms later: its SYN goes in at once */
	assert_int_equal(mx_peer_add(mx, &a, &origin, 1000 + 3600, 1000), 1);
	assert_int_equal(h->n_verdicts, 1);
	assert_int_equal(h->tokens[0], 1);
	assert_int_equal(h->v[0], MX_ALLOW);
	assert_int_equal(live_entry(mx, "198.51.100.50", 1000).reason, WL_REASON_PEER);
	/* nothing comes for .51: dropped at the deadline */
	assert_int_equal(mx_hold_expire(mx, 1000800), -1);
	assert_int_equal(h->n_verdicts, 2);
	assert_int_equal(h->tokens[1], 2);
	assert_int_equal(h->v[1], MX_DROP);
	assert_int_equal(h->why[1], MX_HOLD_EXPIRED);
	assert_int_equal(mx_stats(mx)->held, 0);
}

/* Whatever whitelists a held client lets its packets in: here its own fake-MX hit. */
static void test_hold_released_by_any_source(void **state)
{
	struct fixture *f = *state;
	struct hold_rec *h;
	const char *const trusted[] = {"partner.test"};
	struct mx *mx = make_hold(f, &h, 8, trusted, 1);

	assert_int_equal(hsyn(mx, "198.51.100.50", "192.0.2.20", 9, 1000000), MX_PENDING);
	assert_int_equal(hsyn(mx, "198.51.100.50", "192.0.2.10", 10, 1000200), MX_ALLOW);
	assert_int_equal(h->n_verdicts, 1);
	assert_int_equal(h->tokens[0], 9);
	assert_int_equal(h->v[0], MX_ALLOW);
	assert_int_equal(mx_stats(mx)->held, 0);
}

/* Shutdown and a reload with packets held: every one gets a verdict. */
static void test_hold_flush_and_shrink(void **state)
{
	struct fixture *f = *state;
	struct hold_rec *h;
	const char *const trusted[] = {"partner.test"};
	struct mx *mx = make_hold(f, &h, 8, trusted, 1);
	char src[32];

	for (int i = 0; i < 6; i++) {
		snprintf(src, sizeof(src), "198.51.100.%d", 60 + i);
		assert_int_equal(hsyn(mx, src, "192.0.2.20", (uint64_t)i, 1000000), MX_PENDING);
	}
	assert_int_equal(mx_set_hold(mx, 4, 800, 1000100), 0); /* reload: hold-max 4 */
	assert_int_equal(h->n_verdicts, 2);
	assert_int_equal(h->why[0], MX_HOLD_FLUSHED);
	assert_int_equal(mx_stats(mx)->held, 4);
	assert_int_equal(mx_set_hold(mx, 4, 500, 1000100), 0); /* reload: hold-time 500 */
	assert_int_equal(mx_hold_next(mx), 1000500);
	assert_int_equal(mx_hold_flush(mx, 1000200), 4); /* shutdown */
	assert_int_equal(h->n_verdicts, 6);
	for (size_t i = 0; i < 6; i++)
		assert_int_equal(h->v[i], MX_DROP);
	assert_int_equal(mx_stats(mx)->held, 0);
	assert_int_equal(mx_hold_next(mx), -1);
}

/* trust-domain: a confirmed name under it gets in without any fake-MX visit; a mere suffix
 * match, an unconfirmed name and a generic one do not. */
static void test_trust_domain(void **state)
{
	struct fixture *f = *state;
	struct hold_rec *h;
	const char *const trusted[] = {"partner.test"};
	struct mx *mx = make_hold(f, &h, 8, trusted, 1);
	const char *a1[] = {"198.51.100.71"}, *a2[] = {"198.51.100.72"}, *other[] = {"192.0.2.99"};

	assert_int_equal(hsyn(mx, "198.51.100.71", "192.0.2.20", 1, 1000000), MX_PENDING);
	resolved(mx, "198.51.100.71", "mx.partner.test", a1, 1, 1000, 1);
	assert_int_equal(h->v[0], MX_ALLOW);
	assert_int_equal(live_entry(mx, "198.51.100.71", 1000).reason, WL_REASON_TRUSTED);
	assert_int_equal(live_entry(mx, "198.51.100.71", 1000).deadline, 1000 + 3600);
	assert_int_equal(hsyn(mx, "198.51.100.72", "192.0.2.20", 2, 1000000), MX_PENDING);
	resolved(mx, "198.51.100.72", "mx.evilpartner.test", a2, 1, 1000, 0);
	assert_int_equal(h->v[1], MX_DROP);
	assert_int_equal(h->why[1], MX_HOLD_REFUSED);
	assert_string_equal(h->refused[0], "198.51.100.72 mx.evilpartner.test no-member");
	assert_int_equal(hsyn(mx, "198.51.100.73", "192.0.2.20", 3, 1000000), MX_PENDING);
	resolved(mx, "198.51.100.73", "mx.partner.test", other, 1, 1000, 0);
	assert_string_equal(h->refused[1], "198.51.100.73 mx.partner.test not-confirmed");
	assert_int_equal(hsyn(mx, "198.51.100.74", "192.0.2.20", 4, 1000000), MX_PENDING);
	{
		const char *a4[] = {"198.51.100.74"};

		resolved(mx, "198.51.100.74", "198-51-100-74.partner.test", a4, 1, 1000, 0);
	}
	assert_string_equal(h->refused[2], "198.51.100.74 198-51-100-74.partner.test generic-name");
	/* no name at all: refused, dropped now */
	assert_int_equal(hsyn(mx, "198.51.100.75", "192.0.2.20", 5, 1000000), MX_PENDING);
	{
		mxa_addr c = ip("198.51.100.75");

		mx_rdns_failed(mx, &c, MX_RDNS_FINAL, 1000);
	}
	assert_string_equal(h->refused[3], "198.51.100.75 - no-name");
	assert_int_equal(h->n_verdicts, 5);
	assert_int_equal(mx_stats(mx)->held, 0);
	assert_int_equal(mx_stats(mx)->trusted, 1);
	/* the negative cache: no check again for .75, dropped at once */
	assert_int_equal(hsyn(mx, "198.51.100.75", "192.0.2.20", 6, 1001000), MX_DROP);
}

/* Generic names neither trust nor are trusted; neither do different registrable domains. */
static void test_domain_trust_refusals(void **state)
{
	struct fixture *f = *state;
	struct hold_rec *h;
	struct mx *mx = make_hold(f, &h, 8, NULL, 0);
	const char *g[] = {"198.51.100.40"}, *c1[] = {"198.51.100.41"}, *c2[] = {"198.51.100.42"},
	           *x[] = {"198.51.100.43"}, *s[] = {"198.51.100.44"};

	if (!psl(mx))
		skip();
	/* a generic member does not count */
	hsyn(mx, "198.51.100.40", "192.0.2.10", 1, 1000000);
	resolved(mx, "198.51.100.40", "198-51-100-40.dyn.bigisp.test", g, 1, 1000, 0);
	assert_string_equal(h->members[0],
	                    "198.51.100.40 198-51-100-40.dyn.bigisp.test generic-name");
	assert_int_equal(trust_member_count(mx_trust(mx)), 0);
	/* host1.cust-a.co.uk does not open cust-b.co.uk */
	hsyn(mx, "198.51.100.41", "192.0.2.10", 2, 1000000);
	resolved(mx, "198.51.100.41", "host1.cust-a.co.uk", c1, 1, 1000, 0);
	assert_int_equal(hsyn(mx, "198.51.100.42", "192.0.2.20", 3, 1000000), MX_PENDING);
	resolved(mx, "198.51.100.42", "host2.cust-b.co.uk", c2, 1, 1000, 0);
	assert_string_equal(h->refused[0], "198.51.100.42 host2.cust-b.co.uk no-member");
	/* an excluded stranger, and a generic one in a member's domain */
	assert_int_equal(hsyn(mx, "198.51.100.43", "192.0.2.20", 4, 1000000), MX_PENDING);
	resolved(mx, "198.51.100.43", "a.excluded.test", x, 1, 1000, 0);
	assert_string_equal(h->refused[1], "198.51.100.43 a.excluded.test excluded");
	assert_int_equal(hsyn(mx, "198.51.100.44", "192.0.2.20", 5, 1000000), MX_PENDING);
	resolved(mx, "198.51.100.44", "198-51-100-44.cust-a.co.uk", s, 1, 1000, 0);
	assert_string_equal(h->refused[2], "198.51.100.44 198-51-100-44.cust-a.co.uk generic-name");
	/* the member's entry gone: no member any more */
	assert_int_equal(hsyn(mx, "198.51.100.45", "192.0.2.20", 6, 1000000), MX_PENDING);
	{
		const char *a[] = {"198.51.100.45"};

		resolved(mx, "198.51.100.45", "other.cust-a.co.uk", a, 1, 1000 + 3600, 0);
	}
	assert_string_equal(h->refused[3], "198.51.100.45 other.cust-a.co.uk no-member");
	assert_int_equal(mx_stats(mx)->rdns_domain, 0);
	mx_hold_flush(mx, 1000000);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

/* ---- what the sinks hear of renewals, and renewals the kernel table made itself ---- */

/* A sink that keeps the deadline it last heard per test client, and answers for the kernel. */
struct heard {
	mxa_time deadline; /* last reported deadline of the client */
	unsigned reports;  /* renewals on use reported */
	unsigned removed;
	mxa_time kernel; /* what table_deadline answers */
	unsigned asked;
};

static void heard_added(void *ctx, const struct wl_entry *e, bool renewed, const char *name,
                        mxa_time now)
{
	struct heard *h = ctx;

	(void)name;
	h->deadline = e->deadline;
	if (renewed && e->used && e->last_use == now)
		h->reports++;
}

static void heard_removed(void *ctx, const struct wl_entry *e, enum mx_removal why)
{
	(void)e;
	(void)why;
	((struct heard *)ctx)->removed++;
}

static mxa_time heard_kernel(void *ctx, const struct wl_entry *e, mxa_time now)
{
	struct heard *h = ctx;

	(void)e;
	(void)now;
	h->asked++;
	return h->kernel;
}

static struct mx *make_heard(struct fixture *f, struct heard *h, size_t capacity, bool kernel)
{
	const struct mx_sink sink = {
	    .ctx = h,
	    .added = heard_added,
	    .removed = heard_removed,
	    .table_deadline = kernel ? heard_kernel : NULL,
	};

	f->mx = mx_new(&f->p, capacity, key, &sink, 1000);
	assert_non_null(f->mx);
	return f->mx;
}

/*
 * A sender that uses the real MX every 600 s for 10 h: each renewal moves its
 * deadline by 600 s only, yet the sinks (kernel table, Redis) hear of it often
 * enough that what they hold is never a report step (an hour) behind.
 */
static void test_renew_reports_keep_sinks_in_step(void **state)
{
	static const uint32_t renew[] = {3110400, 7200};
	struct fixture *f = *state;

	for (size_t k = 0; k < sizeof(renew) / sizeof(renew[0]); k++) {
		struct heard h = {0};
		struct mx *mx;
		mxa_time t;

		f->p.whitelist_time = 3600;
		f->p.renew_time = renew[k];
		mx = make_heard(f, &h, 100, false);
		syn(mx, "198.51.100.1", "192.0.2.10", 1000);
		for (t = 1001; t <= 1001 + 36000; t += 600) {
			mxa_time real;

			assert_int_equal(syn(mx, "198.51.100.1", "192.0.2.20", t), MX_ALLOW);
			real = live_entry(mx, "198.51.100.1", t).deadline;
			assert_int_equal(real, t + renew[k]);
			if (real - h.deadline >= 3600 || h.deadline > real)
				fail_msg("renew-time %u, use at %lld: the sinks heard %lld, the "
				         "deadline is "
				         "%lld",
				         renew[k], (long long)t, (long long)h.deadline,
				         (long long)real);
		}
		/* About one report per hour of deadline gained (10 h), not one per use (61). */
		assert_in_range(h.reports, 10, 12);
		f->mx = mx_free(mx);
	}
}

/*
 * Hybrid mode: the kernel accepts a set member by itself and its ruleset
 * renews the element; the daemon never sees the use. Before the entry
 * expires the core asks the table, and follows a later deadline as a use.
 */
static void test_table_renewal_learnt_before_expiry(void **state)
{
	struct fixture *f = *state;
	struct heard h = {0};
	struct mx *mx;
	struct wl_entry e;

	f->p.whitelist_time = 60;
	f->p.renew_time = 600;
	mx = make_heard(f, &h, 100, true);
	syn(mx, "198.51.100.1", "192.0.2.10", 1000);
	assert_int_equal(h.deadline, 1060);
	/* Used at 1030 in the kernel: its element now lives until 1630. */
	h.kernel = 1630;
	mx_expire(mx, 1060);
	assert_int_equal(h.asked, 1);
	e = live_entry(mx, "198.51.100.1", 1060);
	assert_int_equal(e.deadline, 1630);
	assert_true(e.used);
	assert_int_equal(e.last_use, 1060);
	assert_int_equal(e.reason, WL_REASON_FAKE_MX);
	/* Reported like a renewal on use: the sinks (Redis, state file) follow. */
	assert_int_equal(h.reports, 1);
	assert_int_equal(h.deadline, 1630);
	assert_int_equal(mx_stats(mx)->table_renewed, 1);
	assert_int_equal(mx_stats(mx)->expired, 0);
	assert_int_equal(syn(mx, "198.51.100.1", "192.0.2.20", 1200), MX_ALLOW);
	/* Not renewed again: it expires at its deadline, asked once more. */
	h.kernel = 0;
	assert_int_equal(mx_expire(mx, 1800), -1);
	assert_int_equal(h.asked, 2);
	assert_int_equal(mx_stats(mx)->expired, 1);
	assert_int_equal(h.removed, 1);
	/* A kernel deadline within the slack of the entry's own is the entry's own write. */
	syn(mx, "198.51.100.2", "192.0.2.10", 2000);
	h.kernel = 2060 + MX_TABLE_SLACK;
	mx_expire(mx, 2060);
	assert_int_equal(mx_stats(mx)->expired, 2);
	/* Never beyond renew-time from now, whatever the table says. */
	syn(mx, "198.51.100.3", "192.0.2.10", 3000);
	h.kernel = 100000;
	mx_expire(mx, 3060);
	assert_int_equal(live_entry(mx, "198.51.100.3", 3060).deadline, 3660);
}

/* Manual entries keep their ttl, renew-time 0 learns nothing, no table costs nothing. */
static void test_table_renewal_not_asked(void **state)
{
	struct fixture *f = *state;
	struct heard h = {.kernel = 5000};
	mxa_addr a = ip("198.51.100.1");
	struct mx *mx;

	f->p.whitelist_time = 60;
	f->p.renew_time = 600;
	mx = make_heard(f, &h, 100, true);
	assert_true(mx_manual_add(mx, &a, -1, 120, 1000, NULL) >= 0);
	mx_expire(mx, 1120);
	assert_int_equal(h.asked, 0);
	assert_int_equal(mx_stats(mx)->expired, 1);
	f->mx = mx_free(mx);
	f->p.renew_time = 0;
	mx = make_heard(f, &h, 100, true);
	syn(mx, "198.51.100.1", "192.0.2.10", 1000);
	mx_expire(mx, 1060);
	assert_int_equal(h.asked, 0);
	assert_int_equal(mx_stats(mx)->expired, 1);
	assert_int_equal(mx_table_renewed(mx, &a, 5000, 1000), 0);
}

/* At most MX_TABLE_ASK_MAX questions a second; the entries beyond wait, absent for lookups. */
static void test_table_questions_bounded(void **state)
{
	struct fixture *f = *state;
	struct heard h = {0};
	mxa_addr fake = ip("192.0.2.10"), real = ip("192.0.2.20"), last;
	struct mx *mx;

	f->p.whitelist_time = 60;
	f->p.renew_time = 600;
	f->p.rdns = false;
	mx = make_heard(f, &h, MX_TABLE_ASK_MAX + 10, true);
	for (uint32_t i = 0; i < MX_TABLE_ASK_MAX + 10; i++) {
		uint8_t v4[4] = {10, 0, (uint8_t)(i >> 8), (uint8_t)i};

		addr_from_v4(&last, v4);
		mx_syn(mx, &last, &fake, 1000);
	}
	assert_true(mx_expire(mx, 1060) <= 1060); /* more are due */
	assert_int_equal(h.asked, MX_TABLE_ASK_MAX);
	assert_int_equal(whitelist_size(mx_whitelist(mx)), 10);
	assert_int_equal(mx_syn(mx, &last, &real, 1060), MX_DROP);
	assert_int_equal(h.asked, MX_TABLE_ASK_MAX); /* that lookup asked nothing more */
	assert_int_equal(mx_expire(mx, 1061), -1);
	assert_int_equal(h.asked, MX_TABLE_ASK_MAX + 10);
	assert_int_equal(mx_stats(mx)->expired, MX_TABLE_ASK_MAX + 10);
}

/* A table resync finds kernel renewals (mx_table_renewed()). */
static void test_table_renewed_by_resync(void **state)
{
	struct fixture *f = *state;
	struct heard h = {0};
	mxa_addr a = ip("198.51.100.1"), b = ip("198.51.100.2"), m = ip("198.51.100.3");
	struct mx *mx;
	struct wl_entry e;

	f->p.whitelist_time = 60;
	f->p.renew_time = 7200;
	mx = make_heard(f, &h, 100, false);
	syn(mx, "198.51.100.1", "192.0.2.10", 1000);
	/* Live: follows as a use, reported (its first). */
	assert_int_equal(mx_table_renewed(mx, &a, 8000, 1010), 1);
	assert_int_equal(live_entry(mx, "198.51.100.1", 1010).deadline, 8000);
	assert_int_equal(h.reports, 1);
	/* Later again within the same report step: followed, not reported. */
	assert_int_equal(mx_table_renewed(mx, &a, 8100, 1110), 1);
	assert_int_equal(h.reports, 1);
	assert_int_equal(h.deadline, 8000);
	/* Not later: nothing. */
	assert_int_equal(mx_table_renewed(mx, &a, 8100, 1200), 0);
	/* Due but not removed yet (expiry is bounded): back, live, reported. */
	syn(mx, "198.51.100.2", "192.0.2.10", 1000);
	assert_false(whitelist_lookup(mx_whitelist(mx), &b, 1070, NULL));
	assert_int_equal(mx_table_renewed(mx, &b, 4000, 1070), 1);
	assert_true(whitelist_lookup(mx_whitelist(mx), &b, 1070, &e));
	assert_int_equal(e.deadline, 4000);
	assert_true(e.used);
	assert_int_equal(h.reports, 2);
	/* Absent, manual: nothing. */
	assert_int_equal(mx_table_renewed(mx, &m, 4000, 1070), 0);
	assert_true(mx_manual_add(mx, &m, -1, 120, 1070, NULL) >= 0);
	assert_int_equal(mx_table_renewed(mx, &m, 4000, 1080), 0);
	assert_int_equal(live_entry(mx, "198.51.100.3", 1080).deadline, 1190);
	assert_int_equal(mx_stats(mx)->table_renewed, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_direct_to_real_is_dropped),
	    T(test_fake_then_real_is_accepted),
	    T(test_ipv6_works_alike),
	    T(test_expiry_after_whitelist_time),
	    T(test_expiry_counts_from_last_fake_hit),
	    T(test_fake_only_clients_counted),
	    T(test_other_destinations_pass),
	    T(test_siblings_forward_confirmed),
	    T(test_siblings_not_confirmed),
	    T(test_siblings_capped),
	    T(test_resolved_after_expiry_adds_nothing),
	    T(test_rdns_off_asks_nothing),
	    T(test_prefix_whitelists_network),
	    T(test_capacity_evicts_and_reports),
	    T(test_set_params_keeps_whitelist),
	    T(test_observe_counts_kernel_decisions),
	    T(test_rdns_retry_until_done),
	    T(test_rdns_negative_cache),
	    T(test_rdns_negative_cache_bounded),
	    T(test_rdns_skipped_while_evicting),
	    T(test_rdns_sibling_turned_client),
	    T(test_renew_on_use_exim_like),
	    T(test_renew_off_drops_returning_sender),
	    T(test_renew_on_use_postfix_like),
	    T(test_renew_never_shortens),
	    T(test_renew_on_use_sibling),
	    T(test_renew_on_observed_pass),
	    T(test_flood_keeps_used_entries),
	    T(test_hold_accept_on_answer),
	    T(test_hold_drop_on_deadline),
	    T(test_hold_bound_and_no_check),
	    T(test_hold_full_still_checks),
	    T(test_hold_only_when_a_check_could_help),
	    T(test_hold_for_peers),
	    T(test_fake_hit_never_shortens),
	    T(test_expire_is_bounded),
	    T(test_siblings_of_a_renewed_client),
	    T(test_manual_entry_keeps_its_ttl),
	    T(test_hold_released_by_any_source),
	    T(test_hold_flush_and_shrink),
	    T(test_trust_domain),
	    T(test_domain_trust_refusals),
	    T(test_renew_reports_keep_sinks_in_step),
	    T(test_table_renewal_learnt_before_expiry),
	    T(test_table_renewal_not_asked),
	    T(test_table_questions_bounded),
	    T(test_table_renewed_by_resync),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
