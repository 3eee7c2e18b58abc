/* SPDX-License-Identifier: GPL-2.0-or-later */
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

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
