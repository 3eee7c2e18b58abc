/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Network sets (allow lists): parsing, and lookups checked against a scan of every network. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "netset.h"

static mxa_addr ip(const char *s)
{
	mxa_addr a;

	assert_int_equal(addr_parse(&a, s), 0);
	return a;
}

/* The network of @s as "ADDR/BITS" text, or the error. */
static const char *parsed(const char *s, char *buf, size_t len)
{
	mxa_addr a;
	unsigned prefix;
	char why[256], n[NETSET_STRLEN];
	struct netset_net net;

	if (netset_parse(s, &a, &prefix, why, sizeof(why)) < 0) {
		snprintf(buf, len, "error: %s", why);
		return buf;
	}
	net.addr = a;
	net.prefix = (uint8_t)prefix;
	snprintf(buf, len, "%s", netset_format(&net, n));
	return buf;
}

static void test_parse(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"192.0.2.0/24", "192.0.2.0/24"},
	    {"192.0.2.77", "192.0.2.77/32"},
	    {"192.0.2.77/24", "192.0.2.0/24"}, /* host bits cleared, as ipset and pf do */
	    {"198.51.100.128/25", "198.51.100.128/25"},
	    {"10.0.0.0/1", "0.0.0.0/1"},
	    {"2001:db8::/32", "2001:db8::/32"},
	    {"2001:db8::1", "2001:db8::1/128"},
	    {"2001:db8:1:2::/48", "2001:db8:1::/48"},
	    {"::ffff:192.0.2.0/120", "192.0.2.0/24"}, /* IPv4 written as IPv6 */
	    {"::ffff:192.0.2.1", "192.0.2.1/32"},
	    {"::/8", "error: '::/8' holds ::ffff:0:0/96, every IPv4 client: write IPv4 networks "
	             "in IPv4 form"},
	    {"100::/8", "100::/8"},
	    {"192.0.2.0/08", "192.0.0.0/8"},
	    {"0.0.0.0/0", "error: '0.0.0.0/0': a /0 would let every IPv4 client in"},
	    {"192.0.2.0/0", "error: '192.0.2.0/0': a /0 would let every IPv4 client in"},
	    {"::/0", "error: '::/0': a /0 would let every client in"},
	    {"::ffff:0.0.0.0/96",
	     "error: '::ffff:0.0.0.0/96': a /0 would let every IPv4 client in"},
	    {"192.0.2.0/33",
	     "error: '192.0.2.0/33': the prefix length is not a number from 1 to 32"},
	    {"2001:db8::/129",
	     "error: '2001:db8::/129': the prefix length is not a number from 1 to 128"},
	    {"192.0.2.0/", "error: '192.0.2.0/': the prefix length is not a number from 1 to 32"},
	    {"192.0.2.0/-1",
	     "error: '192.0.2.0/-1': the prefix length is not a number from 1 to 32"},
	    {"192.0.2.0/2x",
	     "error: '192.0.2.0/2x': the prefix length is not a number from 1 to 32"},
	    {"192.0.2.0/0024",
	     "error: '192.0.2.0/0024': the prefix length is not a number from 1 to 32"},
	    {"192.0.2.0/24/8",
	     "error: '192.0.2.0/24/8': the prefix length is not a number from 1 to 32"},
	    {"192.0.2/24", "error: '192.0.2/24' is not an address or network (ADDR or ADDR/BITS)"},
	    {"mail.example.org",
	     "error: 'mail.example.org' is not an address or network (ADDR or ADDR/BITS)"},
	    {"", "error: '' is not an address or network (ADDR or ADDR/BITS)"},
	    {"/24", "error: '/24' is not an address or network (ADDR or ADDR/BITS)"},
	    {" 192.0.2.0/24",
	     "error: ' 192.0.2.0/24' is not an address or network (ADDR or ADDR/BITS)"},
	};
	char buf[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_string_equal(parsed(cases[i].in, buf, sizeof(buf)), cases[i].out);
}

static struct netset *set_of(const char *const *nets, size_t n)
{
	struct netset *s = netset_new();

	assert_non_null(s);
	for (size_t i = 0; i < n; i++) {
		mxa_addr a;
		unsigned prefix;
		char why[256];

		assert_int_equal(netset_parse(nets[i], &a, &prefix, why, sizeof(why)), 0);
		assert_int_equal(netset_add(s, &a, prefix, "test.allow", (uint32_t)i + 1), 0);
	}
	assert_int_equal(netset_finish(s), 0);
	return s;
}

/* The network that holds @addr as text ("-" for none). */
static const char *match(const struct netset *s, const char *addr, char *buf)
{
	const struct netset_net *n = NULL;
	mxa_addr a = ip(addr);

	if (!netset_lookup(s, &a, &n))
		return "-";
	return netset_format(n, buf);
}

static void test_most_specific_wins(void **state)
{
	static const char *const nets[] = {
	    "198.51.100.0/24", "198.51.100.128/25", "198.51.100.200", "192.0.2.0/24",
	    "2001:db8::/32",   "2001:db8:1::/48",   "2001:db8:1::9",
	};
	struct netset *s = set_of(nets, 7);
	char buf[NETSET_STRLEN];

	(void)state;
	assert_int_equal(netset_count(s), 7);
	assert_string_equal(match(s, "198.51.100.1", buf), "198.51.100.0/24");
	assert_string_equal(match(s, "198.51.100.127", buf), "198.51.100.0/24");
	assert_string_equal(match(s, "198.51.100.128", buf), "198.51.100.128/25");
	assert_string_equal(match(s, "198.51.100.199", buf), "198.51.100.128/25");
	assert_string_equal(match(s, "198.51.100.200", buf), "198.51.100.200/32");
	assert_string_equal(match(s, "198.51.100.201", buf), "198.51.100.128/25");
	assert_string_equal(match(s, "198.51.100.255", buf), "198.51.100.128/25");
	assert_string_equal(match(s, "198.51.101.0", buf), "-");
	assert_string_equal(match(s, "198.51.99.255", buf), "-");
	assert_string_equal(match(s, "192.0.2.255", buf), "192.0.2.0/24");
	assert_string_equal(match(s, "192.0.3.0", buf), "-");
	assert_string_equal(match(s, "2001:db8::1", buf), "2001:db8::/32");
	assert_string_equal(match(s, "2001:db8:1::8", buf), "2001:db8:1::/48");
	assert_string_equal(match(s, "2001:db8:1::9", buf), "2001:db8:1::9/128");
	assert_string_equal(match(s, "2001:db8:2::9", buf), "2001:db8::/32");
	assert_string_equal(match(s, "2001:db9::", buf), "-");
	/* The IPv4 networks do not leak into IPv6 and back. */
	assert_string_equal(match(s, "::c633:6401", buf), "-");
	assert_string_equal(match(s, "2001:db8::c633:6401", buf), "2001:db8::/32");
	netset_free(s);
}

static void test_edges_of_the_space(void **state)
{
	static const char *const nets[] = {
	    "0.0.0.0/1",  "128.0.0.0/1", "255.255.255.255",
	    "0.0.0.0/32", "::/97", /* ::/1 would hold the IPv4-mapped range: refused */
	    "4000::/2",   "8000::/1",    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	};
	struct netset *s = set_of(nets, 8);
	char buf[NETSET_STRLEN];

	(void)state;
	assert_string_equal(match(s, "0.0.0.0", buf), "0.0.0.0/32");
	assert_string_equal(match(s, "0.0.0.1", buf), "0.0.0.0/1");
	assert_string_equal(match(s, "127.255.255.255", buf), "0.0.0.0/1");
	assert_string_equal(match(s, "128.0.0.0", buf), "128.0.0.0/1");
	assert_string_equal(match(s, "255.255.255.254", buf), "128.0.0.0/1");
	assert_string_equal(match(s, "255.255.255.255", buf), "255.255.255.255/32");
	assert_string_equal(match(s, "::1", buf), "::/97");
	assert_string_equal(match(s, "::7fff:ffff", buf), "::/97");
	assert_string_equal(match(s, "::8000:0", buf), "-");
	assert_string_equal(match(s, "3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", buf), "-");
	assert_string_equal(match(s, "4000::", buf), "4000::/2");
	assert_string_equal(match(s, "7fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", buf), "4000::/2");
	assert_string_equal(match(s, "8000::", buf), "8000::/1");
	assert_string_equal(match(s, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", buf), "8000::/1");
	assert_string_equal(match(s, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", buf),
	                    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128");
	netset_free(s);
}

/* A short IPv6 prefix holds ::ffff:0:0/96, so IPv4 clients too (a more specific net wins). */
/*
 * An IPv6 network that holds ::ffff:0:0/96 would let every IPv4 client in
 * here while a kernel's IPv6 set never matches IPv4: refused, with the
 * reason. Networks beside it, and IPv4 written in mapped form, are fine.
 */
static void test_ipv6_prefix_holding_ipv4(void **state)
{
	static const char *const refused[] = {"::/8", "::/64", "::fffe:0:0/95", "::ffff:0:0/80"};
	static const char *const nets[] = {"::/97", "100::/8", "::ffff:192.0.2.0/120",
	                                   "0:0:0:1::/64"};
	struct netset *s;
	char buf[NETSET_STRLEN], why[256];
	mxa_addr a;
	unsigned prefix;

	(void)state;
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		assert_int_equal(netset_parse(refused[i], &a, &prefix, why, sizeof(why)), -EINVAL);
		assert_non_null(strstr(why, "holds ::ffff:0:0/96, every IPv4 client"));
	}
	assert_int_equal(netset_parse("::/8", &a, &prefix, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "'::/8' holds ::ffff:0:0/96, every IPv4 client: write IPv4 "
	                         "networks in IPv4 form");
	s = set_of(nets, 4);
	assert_string_equal(match(s, "198.51.100.1", buf), "-");
	assert_string_equal(match(s, "192.0.2.1", buf), "192.0.2.0/24");
	assert_string_equal(match(s, "::2", buf), "::/97");
	assert_string_equal(match(s, "100::", buf), "100::/8");
	assert_string_equal(match(s, "0:0:0:1::5", buf), "0:0:0:1::/64");
	netset_free(s);
}

static void test_duplicates_keep_the_first_place(void **state)
{
	static const char *const nets[] = {"192.0.2.0/24", "192.0.2.9/24", "192.0.2.0/24",
	                                   "192.0.2.0/25"};
	struct netset *s = set_of(nets, 4);
	const struct netset_net *n;
	mxa_addr a = ip("192.0.2.200");

	(void)state;
	assert_int_equal(netset_count(s), 2);
	assert_true(netset_lookup(s, &a, &n));
	assert_int_equal(n->prefix, 24);
	assert_string_equal(n->source, "test.allow");
	assert_int_equal(n->line, 1);
	/* Address order: the /24 before the /25 of the same address. */
	assert_int_equal(netset_get(s, 0)->prefix, 24);
	assert_int_equal(netset_get(s, 1)->prefix, 25);
	assert_null(netset_get(s, 2));
	netset_free(s);
}

static void test_empty_and_misuse(void **state)
{
	struct netset *s = netset_new();
	mxa_addr a = ip("192.0.2.1"), b = ip("2001:db8::1");

	(void)state;
	assert_false(netset_lookup(s, &a, NULL)); /* not finished */
	assert_int_equal(netset_add(s, &a, 0, "x", 1), -EINVAL);
	assert_int_equal(netset_add(s, &a, 33, "x", 1), -EINVAL);
	assert_int_equal(netset_add(s, &b, 129, "x", 1), -EINVAL);
	assert_int_equal(netset_finish(s), 0);
	assert_false(netset_lookup(s, &a, NULL));
	assert_false(netset_lookup(s, &b, NULL));
	assert_int_equal(netset_add(s, &a, 32, "x", 1), -EINVAL); /* finished */
	assert_false(netset_lookup(NULL, &a, NULL));
	assert_int_equal(netset_count(NULL), 0);
	assert_true(netset_memory(s) > 0);
	netset_free(s);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* @a masked to @bits bits of the 128-bit space. */
static mxa_addr masked(mxa_addr a, unsigned bits)
{
	for (unsigned i = 0; i < 16; i++) {
		unsigned keep = i * 8 < bits ? bits - i * 8 : 0;

		a.b[i] &= (uint8_t)(keep >= 8 ? 0xff : keep ? 0xff << (8 - keep) : 0);
	}
	return a;
}

static unsigned bits128(const mxa_addr *a, unsigned prefix)
{
	return addr_is_v4(a) ? 96 + prefix : prefix;
}

/* The scan the set replaces: the longest network holding @a, or NULL. */
static const mxa_addr *brute(const mxa_addr *nets, const unsigned *prefix, size_t n,
                             const mxa_addr *a, unsigned *best_prefix)
{
	const mxa_addr *best = NULL;
	unsigned best_bits = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned bits = bits128(&nets[i], prefix[i]);
		mxa_addr m = masked(*a, bits);

		if (addr_equal(&m, &nets[i]) && (!best || bits > best_bits)) {
			best = &nets[i];
			best_bits = bits;
			*best_prefix = prefix[i];
		}
	}
	return best;
}

/* Random addresses in a few clusters, so that networks nest and overlap often. */
static mxa_addr random_addr(bool v4)
{
	mxa_addr a;
	uint64_t r = rng(), r2 = rng();

	if (v4) {
		uint8_t b[4] = {(uint8_t)(192 + (r & 3)), (uint8_t)(r >> 8 & 7), (uint8_t)(r >> 16),
		                (uint8_t)(r >> 24)};

		addr_from_v4(&a, b);
		return a;
	}
	memset(&a, 0, sizeof(a));
	a.b[0] = (r & 7) == 0 ? 0 : 0x20; /* sometimes near ::, which holds ::ffff:0:0/96 */
	a.b[1] = (uint8_t)(r >> 8 & 3);
	for (int i = 2; i < 16; i++)
		a.b[i] = (uint8_t)((i < 8 ? r : r2) >> ((i % 8) * 8));
	return a;
}

static void test_random_against_brute_force(void **state)
{
	enum { ROUNDS = 60, MAX_NETS = 400, QUERIES = 3000 };
	mxa_addr *nets = malloc(MAX_NETS * sizeof(*nets));
	unsigned *prefix = malloc(MAX_NETS * sizeof(*prefix));
	size_t checked = 0, hits = 0;

	(void)state;
	assert_non_null(nets);
	assert_non_null(prefix);
	for (int round = 0; round < ROUNDS; round++) {
		size_t n = 1 + rng() % MAX_NETS;
		struct netset *s = netset_new();

		assert_non_null(s);
		for (size_t i = 0; i < n; i++) {
			bool v4 = rng() % 3 != 0;
			unsigned p = v4 ? 12 + rng() % 21 : 20 + rng() % 109;

			if (!v4 && round % 4 == 0 && rng() % 16 == 0)
				p = 1 + rng() % 100; /* short ones, some holding the IPv4 space */
			nets[i] = masked(random_addr(v4), v4 ? 96 + p : p);
			prefix[i] = p;
			if (!v4 && addr_is_v4(&nets[i])) {
				i--; /* an IPv6 network inside ::ffff:0:0/96 is an IPv4 one: draw
				        again */
				continue;
			}
			assert_int_equal(netset_add(s, &nets[i], prefix[i], "random", (uint32_t)i),
			                 0);
		}
		assert_int_equal(netset_finish(s), 0);
		for (int q = 0; q < QUERIES; q++) {
			mxa_addr a;
			const mxa_addr *want;
			const struct netset_net *got = NULL;
			unsigned want_prefix = 0;
			bool found;

			if (q % 3 == 0) {
				/* Next to a network's edges: its first and last address, and
				 * beyond. */
				size_t i = rng() % n;
				unsigned bits = bits128(&nets[i], prefix[i]);

				a = nets[i];
				if (q % 2)
					for (unsigned b = bits; b < 128; b++)
						a.b[b / 8] |= (uint8_t)(0x80 >> (b % 8));
				if (rng() % 2) {
					int step = q % 2 ? 1 : -1;

					for (int j = 15; j >= 0; j--) {
						int v = a.b[j] + step;

						a.b[j] = (uint8_t)v;
						if (v >= 0 && v <= 255)
							break;
					}
				}
			} else {
				a = random_addr(rng() % 3 != 0);
			}
			want = brute(nets, prefix, n, &a, &want_prefix);
			found = netset_lookup(s, &a, &got);
			assert_int_equal(found, want != NULL);
			if (want) {
				assert_true(addr_equal(&got->addr, want));
				assert_int_equal(got->prefix, want_prefix);
				hits++;
			}
			checked++;
		}
		netset_free(s);
	}
	/* Both outcomes were exercised often. */
	printf("%zu lookups, %zu in a network\n", checked, hits);
	assert_true(hits > checked / 10);
	assert_true(hits < checked - checked / 10);
	free(nets);
	free(prefix);
}

/* A network as the range of 128-bit keys it holds, for the linear scan of large sets. */
struct range {
	uint64_t first[2], last[2];
	unsigned bits; /* prefix length in the 128-bit space */
	mxa_addr addr;
	unsigned prefix;
};

static void key128(const mxa_addr *a, uint64_t k[2])
{
	k[0] = k[1] = 0;
	for (int i = 0; i < 8; i++) {
		k[0] = k[0] << 8 | a->b[i];
		k[1] = k[1] << 8 | a->b[8 + i];
	}
}

static bool le128(const uint64_t a[2], const uint64_t b[2])
{
	return a[0] < b[0] || (a[0] == b[0] && a[1] <= b[1]);
}

/* The most specific network of @r holding @a, found by looking at every one; NULL when none. */
static const struct range *scan(const struct range *r, size_t n, const mxa_addr *a)
{
	const struct range *best = NULL;
	uint64_t k[2];

	key128(a, k);
	for (size_t i = 0; i < n; i++)
		if (le128(r[i].first, k) && le128(k, r[i].last) &&
		    (!best || r[i].bits > best->bits))
			best = &r[i];
	return best;
}

/* The last address of the /@bits network of @a (bits of the 128-bit space). */
static mxa_addr last_of(mxa_addr a, unsigned bits)
{
	a = masked(a, bits);
	for (unsigned b = bits; b < 128; b++)
		a.b[b / 8] |= (uint8_t)(0x80 >> (b % 8));
	return a;
}

struct big {
	struct range *r;
	size_t n, cap;
	struct netset *s;
};

static void big_add(struct big *g, mxa_addr a, unsigned prefix)
{
	bool v4 = addr_is_v4(&a);
	unsigned bits = v4 ? 96 + prefix : prefix;
	struct range *e;
	mxa_addr last;

	a = masked(a, bits);
	if (!v4 && addr_is_v4(&a))
		return; /* an IPv6 network inside ::ffff:0:0/96 is an IPv4 one: leave it out */
	if (g->n == g->cap) {
		g->cap = g->cap ? 2 * g->cap : 1024;
		g->r = realloc(g->r, g->cap * sizeof(*g->r));
		assert_non_null(g->r);
	}
	e = &g->r[g->n++];
	last = last_of(a, bits);
	key128(&a, e->first);
	key128(&last, e->last);
	e->bits = bits;
	e->addr = a;
	e->prefix = prefix;
	assert_int_equal(netset_add(g->s, &a, prefix, "big", (uint32_t)g->n), 0);
}

static mxa_addr v4_any(void)
{
	uint32_t x = (uint32_t)rng();
	uint8_t b[4] = {(uint8_t)(x >> 24), (uint8_t)(x >> 16), (uint8_t)(x >> 8), (uint8_t)x};
	mxa_addr a;

	addr_from_v4(&a, b);
	return a;
}

static mxa_addr v6_any(void)
{
	mxa_addr a;
	uint64_t r = rng(), r2 = rng();

	for (int i = 0; i < 8; i++) {
		a.b[i] = (uint8_t)(r >> (8 * i));
		a.b[8 + i] = (uint8_t)(r2 >> (8 * i));
	}
	return a;
}

/* @a with its first @bits bits (of the 128) from @from. */
static mxa_addr graft(mxa_addr a, const mxa_addr *from, unsigned bits)
{
	for (unsigned b = 0; b < bits; b++) {
		uint8_t m = (uint8_t)(0x80 >> (b % 8));

		a.b[b / 8] = (uint8_t)((a.b[b / 8] & ~m) | (from->b[b / 8] & m));
	}
	return a;
}

/* @a plus @step (+1 or -1) in the 128-bit space, wrapping at the ends. */
static mxa_addr step(mxa_addr a, int by)
{
	for (int j = 15; j >= 0; j--) {
		int v = a.b[j] + by;

		a.b[j] = (uint8_t)v;
		if (v >= 0 && v <= 255)
			break;
	}
	return a;
}

/*
 * Sets large enough for every size of index (up to 70 000 networks), with
 * providers' blocks crowded with networks (nested, adjacent, /32 and /128
 * hosts, many hosts in one /64), the edges of both spaces and IPv6 prefixes
 * that hold IPv4 clients; looked up at the edges of networks, at the edges
 * of every power-of-two block (where buckets and slices start) and
 * anywhere, against a scan of every network.
 */
static void test_large_sets_against_linear_scan(void **state)
{
	static const struct {
		size_t v4, v6, clusters;
		bool edges;    /* networks at the edges of both spaces */
		bool holds_v4; /* a short IPv6 prefix that holds every IPv4 client */
	} rounds[] = {{76000, 2000, 4, true, false},
	              {12000, 12000, 40, false, false},
	              {3000, 3000, 12, true, true}};
	size_t checked = 0, hits = 0;

	(void)state;
	for (size_t round = 0; round < sizeof(rounds) / sizeof(rounds[0]); round++) {
		struct big g = {.s = netset_new()};
		mxa_addr a, block;

		assert_non_null(g.s);
		for (size_t i = 0; i < rounds[round].v4; i++) {
			unsigned d = (unsigned)(rng() % 10);

			big_add(&g, v4_any(), d < 4 ? 24 : d < 6 ? 32 : 8 + (unsigned)(rng() % 25));
		}
		for (size_t i = 0; i < rounds[round].v6; i++) {
			a = v6_any();
			a.b[0] = (uint8_t)(0x20 | (a.b[0] & 0x1f)); /* 2000::/3, as allocated */
			big_add(&g, a, rng() % 10 == 0 ? 128 : 16 + (unsigned)(rng() % 49));
		}
		for (size_t k = 0; k < rounds[round].clusters; k++) {
			/* A provider: an IPv4 /20 and an IPv6 /32, full of networks. */
			block = v4_any();
			for (int i = 0; i < 300; i++) {
				unsigned p = 21 + (unsigned)(rng() % 12);

				a = graft(v4_any(), &block, 96 + 20);
				big_add(&g, a, p);
				if (i % 10 == 0) /* its neighbour, adjacent */
					big_add(&g, step(last_of(a, 96 + p), 1), p);
			}
			block = v6_any();
			block.b[0] = (uint8_t)(0x20 | (block.b[0] & 0x1f));
			for (int i = 0; i < 400; i++) {
				unsigned d = (unsigned)(rng() % 10);

				a = graft(v6_any(), &block, 32);
				big_add(&g, a, d == 0 ? 128 : 33 + (unsigned)(rng() % 32));
			}
			/* Many hosts in one /64: the index cannot tell them apart. */
			a = graft(v6_any(), &block, 64);
			big_add(&g, a, 64);
			for (int i = 0; i < 60; i++)
				big_add(&g, graft(v6_any(), &a, 64), 120 + (unsigned)(rng() % 9));
		}
		/* The edges of both spaces (without them, IPv6 networks all lie in 2000::/3). */
		if (rounds[round].edges) {
			big_add(&g, ip("255.255.255.255"), 32);
			big_add(&g, ip("255.255.255.0"), 31);
			big_add(&g, ip("0.0.0.0"), 32);
			big_add(&g, ip("0.0.0.2"), 31);
			big_add(&g, ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), 128);
			big_add(&g, ip("ffff::"), 16);
			big_add(&g, ip("::"), 128);
			big_add(&g, ip("::1"), 128);
			big_add(&g, ip("::c000:201"), 128); /* IPv4-compatible: an IPv6 address */
			big_add(&g, ip("0:0:0:0:1::"), 80);
		}
		if (rounds[round].holds_v4) {
			big_add(&g, ip("::"), 8);
			big_add(&g, ip("::fffe:0:0"), 95); /* ::fffe:0:0 to ::ffff:ffff:ffff */
		}
		assert_int_equal(netset_finish(g.s), 0);
		/* Bounded: the two indexes (1 MiB each at most) and 64 bytes a network. */
		assert_true(netset_lookup_memory(g.s) <= 64 * netset_count(g.s) + (4u << 20));
		for (int q = 0; q < 3000; q++) {
			const struct range *want;
			const struct netset_net *got = NULL;
			bool found;

			switch (q % 5) {
			case 0: /* the first or last address of a network, or the one next to it */
			case 1: {
				const struct range *r = &g.r[rng() % g.n];

				a = q % 2 ? last_of(r->addr, r->bits) : r->addr;
				if (rng() % 2)
					a = step(a, q % 2 ? 1 : -1);
				break;
			}
			case 2: { /* a block of any size starts here, or ends just before */
				unsigned k = (unsigned)(rng() % 128);

				a = rng() % 2 ? v4_any() : v6_any();
				if (addr_is_v4(&a))
					k = 96 + k % 32;
				a = masked(a, k);
				if (rng() % 2)
					a = step(a, -1);
				break;
			}
			case 3: /* inside a provider's block */
				a = graft(rng() % 2 ? v4_any() : v6_any(), &g.r[rng() % g.n].addr,
				          64 + (unsigned)(rng() % 48));
				break;
			default:
				a = rng() % 3 ? v4_any() : v6_any();
				if (!addr_is_v4(&a) && rng() % 2)
					a.b[0] = (uint8_t)(0x20 | (a.b[0] & 0x1f));
				break;
			}
			want = scan(g.r, g.n, &a);
			found = netset_lookup(g.s, &a, &got);
			if (found != (want != NULL) ||
			    (want && (!addr_equal(&got->addr, &want->addr) ||
			              got->prefix != want->prefix))) {
				char t[ADDR_STRLEN], u[NETSET_STRLEN];

				fail_msg("%s: netset says %s, the scan %s/%u", addr_format(&a, t),
				         found ? netset_format(got, u) : "-",
				         want ? addr_format(&want->addr, t) : "-",
				         want ? want->prefix : 0);
			}
			hits += found;
			checked++;
		}
		/* The extremes, always. */
		static const char *const extremes[] = {"0.0.0.0",
		                                       "0.0.0.1",
		                                       "255.255.255.255",
		                                       "255.255.255.254",
		                                       "::",
		                                       "::1",
		                                       "::2",
		                                       "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
		                                       "::fffe:ffff:ffff",
		                                       "::1:0:0:0",
		                                       "::c000:201",
		                                       "7fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
		                                       "8000::"};
		for (size_t i = 0; i < sizeof(extremes) / sizeof(extremes[0]); i++) {
			const struct range *want;
			const struct netset_net *got = NULL;

			a = ip(extremes[i]);
			want = scan(g.r, g.n, &a);
			assert_int_equal(netset_lookup(g.s, &a, &got), want != NULL);
			if (want)
				assert_int_equal(got->prefix, want->prefix);
		}
		netset_free(g.s);
		free(g.r);
	}
	printf("%zu lookups in large sets, %zu in a network\n", checked, hits);
	assert_true(hits > checked / 10);
	assert_true(hits < checked - checked / 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_most_specific_wins),
	    cmocka_unit_test(test_edges_of_the_space),
	    cmocka_unit_test(test_ipv6_prefix_holding_ipv4),
	    cmocka_unit_test(test_duplicates_keep_the_first_place),
	    cmocka_unit_test(test_empty_and_misuse),
	    cmocka_unit_test(test_random_against_brute_force),
	    cmocka_unit_test(test_large_sets_against_linear_scan),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
