/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Static allow-list lookups (src/core/netset.c) at 10, 1e3 and 1e5 networks.
 * Prints one CSV line per (distribution, size):
 *
 *   distribution,networks,lookups,ns_per_lookup,ratio_to_smallest,hit_share,bytes,build_ms,
 *   one_read_ns,linear_ns
 *
 * ratio_to_smallest is ns_per_lookup over that of the smallest size of the
 * same distribution, measured in the same run (sizes take turns, the median
 * of RUNS runs). one_read_ns is the floor set by the memory: the same loop
 * doing one read at a place chosen by the address in an array as big as the
 * part of the set a lookup reads, nothing else. linear_ns is what a scan of every network costs
 * a lookup (what the set replaces), for scale.
 *
 * Networks: 80% IPv4 (40% /24, 20% /32, the rest /16../31), 20% IPv6
 * (/36../64, a tenth /128), placed two ways:
 *   spf      inside 256 IPv4 /12 and 64 IPv6 /32 provider blocks, as the SPF
 *            ranges of the large mail providers lie (more networks: more detail);
 *   uniform  anywhere (IPv6 in 2000::/3): the worst case for the caches.
 * Lookups: QUERIES addresses, half inside a loaded network (any host part),
 * half any sender (80% IPv4), looked up round after round. Addresses are only
 * held in memory: nothing is sent anywhere. NETSET_FAMILY=4 (or 6) in the
 * environment keeps only the lookups of that family, to see where the time
 * goes. The networks and addresses depend on nothing but the seed, so two
 * builds of the set compare on the same ones.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "netset.h"

#define QUERIES 65536
#define RUNS    9
#define ROUNDS  100
#define BLOCKS4 256
#define BLOCKS6 64

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static uint64_t rng_state = 0x243f6a8885a308d3ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static mxa_addr random_addr(bool v4)
{
	mxa_addr a;
	uint64_t r = rng(), r2 = rng();

	if (v4) {
		uint32_t v = (uint32_t)r;

		addr_from_v4(&a, &v);
		return a;
	}
	memcpy(a.b, &r, 8);
	memcpy(a.b + 8, &r2, 8);
	a.b[0] = (uint8_t)(0x20 | (a.b[0] & 0x1f)); /* 2000::/3, as allocated */
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

struct nets {
	mxa_addr *addr;
	unsigned *prefix;
	size_t n;
};

static mxa_addr blocks4[BLOCKS4], blocks6[BLOCKS6];

static void make_nets(struct nets *v, size_t n, bool spf)
{
	v->addr = malloc(n * sizeof(*v->addr));
	v->prefix = malloc(n * sizeof(*v->prefix));
	if (!v->addr || !v->prefix)
		exit(1);
	for (size_t i = 0; i < n; i++) {
		bool v4 = rng() % 5 != 0;
		unsigned d = (unsigned)(rng() % 10), p;
		mxa_addr a = random_addr(v4);

		if (v4)
			p = d < 4 ? 24 : d < 6 ? 32 : 16 + (unsigned)(rng() % 16);
		else
			p = d == 0 ? 128 : 36 + (unsigned)(rng() % 29);
		if (spf && v4)
			a = graft(a, &blocks4[rng() % BLOCKS4], 96 + 12);
		else if (spf)
			a = graft(a, &blocks6[rng() % BLOCKS6], 32);
		addr_mask(&v->addr[i], &a, p, p);
		v->prefix[i] = p;
	}
	v->n = n;
}

/* An address inside network i: its prefix, then random bits. */
static mxa_addr inside(const struct nets *v, size_t i)
{
	const mxa_addr *n = &v->addr[i];

	return graft(random_addr(addr_is_v4(n)), n,
	             addr_is_v4(n) ? 96 + v->prefix[i] : v->prefix[i]);
}

static size_t sink;

static double time_lookups(const struct netset *s, const mxa_addr *q)
{
	const struct netset_net *n;
	double t0 = now_ns();
	size_t found = 0;

	for (size_t r = 0; r < ROUNDS; r++)
		for (size_t i = 0; i < QUERIES; i++)
			if (netset_lookup(s, &q[i], &n))
				found += (size_t)n; /* the lookup's result, not a read of it */
	sink += found;
	return (now_ns() - t0) / (double)(ROUNDS * QUERIES);
}

/* One read per address, at a place the address picks, in @words words. */
static double time_one_read(const uint32_t *mem, size_t words, const mxa_addr *q)
{
	double t0 = now_ns();
	size_t found = 0;

	for (size_t r = 0; r < ROUNDS; r++)
		for (size_t i = 0; i < QUERIES; i++) {
			uint64_t h;

			memcpy(&h, q[i].b + 8, 8);
			h *= 0x9e3779b97f4a7c15ull;
			found += mem[(h >> 32) % words];
		}
	sink += found;
	return (now_ns() - t0) / (double)(ROUNDS * QUERIES);
}

/* The anti-pattern: every network checked in turn. */
static double time_linear(const struct nets *v, const mxa_addr *q, size_t count)
{
	double t0 = now_ns();
	size_t found = 0;

	for (size_t i = 0; i < count; i++) {
		for (size_t j = 0; j < v->n; j++) {
			mxa_addr m;
			unsigned p = v->prefix[j];

			addr_mask(&m, &q[i], p, p);
			if (addr_equal(&m, &v->addr[j])) {
				found++;
				break;
			}
		}
	}
	sink += found;
	return (now_ns() - t0) / (double)count;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct size_run {
	size_t n;
	struct nets v;
	struct netset *s;
	mxa_addr *q;
	double build_ms, runs[RUNS], reads[RUNS];
	uint32_t *mem; /* as big as the set, for time_one_read() */
	size_t words;
	size_t hits;
};

static int setup(struct size_run *r, size_t n, bool spf, int family)
{
	size_t redraws = 0;
	double t0;

	r->n = n;
	r->s = netset_new();
	r->q = malloc(QUERIES * sizeof(*r->q));
	if (!r->s || !r->q || n == 0)
		return -1;
	make_nets(&r->v, n, spf);
	t0 = now_ns();
	for (size_t i = 0; i < n; i++)
		if (netset_add(r->s, &r->v.addr[i], r->v.prefix[i], "bench", (uint32_t)i + 1) < 0)
			return -1;
	if (netset_finish(r->s) < 0)
		return -1;
	r->build_ms = (now_ns() - t0) / 1e6;
	r->words = netset_lookup_memory(r->s) / sizeof(uint32_t);
	r->mem = malloc(r->words * sizeof(uint32_t));
	if (!r->mem)
		return -1;
	/* Not from rng(): what comes next must not depend on the size of the set in memory. */
	for (size_t i = 0; i < r->words; i++)
		r->mem[i] = (uint32_t)(i * 0x9e3779b97f4a7c15ull >> 32);
	for (size_t i = 0; i < QUERIES; i++) {
		r->q[i] = i % 2 ? inside(&r->v, rng() % n) : random_addr(rng() % 5 != 0);
		if (family && addr_is_v4(&r->q[i]) != (family == 4)) {
			if (++redraws > 100 * QUERIES)
				return -1; /* no network of that family */
			i--;
			continue;
		}
		r->hits += netset_lookup(r->s, &r->q[i], NULL);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const size_t def_sizes[] = {10, 1000, 100000};
	static const char *const dist[] = {"spf", "uniform"};
	size_t n_sizes = argc > 1 ? (size_t)argc - 1 : 3;
	struct size_run *sr = calloc(2 * n_sizes, sizeof(*sr));
	const char *fam = getenv("NETSET_FAMILY");
	int family = fam ? atoi(fam) : 0;

	if (!sr)
		return 1;
	for (size_t i = 0; i < BLOCKS4; i++)
		blocks4[i] = random_addr(true);
	for (size_t i = 0; i < BLOCKS6; i++)
		blocks6[i] = random_addr(false);
	for (size_t k = 0; k < 2 * n_sizes; k++) {
		size_t j = k % n_sizes;

		if (setup(&sr[k], argc > 1 ? strtoul(argv[j + 1], NULL, 10) : def_sizes[j],
		          k < n_sizes, family) < 0)
			return 1;
	}
	/* Sizes take turns, so that a busy moment of the machine does not fall on one size. */
	for (int run = 0; run < RUNS; run++)
		for (size_t k = 0; k < 2 * n_sizes; k++) {
			sr[k].runs[run] = time_lookups(sr[k].s, sr[k].q);
			sr[k].reads[run] = time_one_read(sr[k].mem, sr[k].words, sr[k].q);
		}
	for (size_t k = 0; k < 2 * n_sizes; k++) {
		qsort(sr[k].runs, RUNS, sizeof(sr[k].runs[0]), cmp_double);
		qsort(sr[k].reads, RUNS, sizeof(sr[k].reads[0]), cmp_double);
	}
	printf("distribution,networks,lookups,ns_per_lookup,ratio_to_smallest,hit_share,bytes,"
	       "build_ms,one_read_ns,linear_ns\n");
	for (size_t k = 0; k < 2 * n_sizes; k++) {
		struct size_run *r = &sr[k];
		double base = sr[k - k % n_sizes].runs[RUNS / 2];

		printf("%s,%zu,%d,%.2f,%.2f,%.2f,%zu,%.2f,%.2f,%.1f\n", dist[k / n_sizes],
		       netset_count(r->s), RUNS * ROUNDS * QUERIES, r->runs[RUNS / 2],
		       r->runs[RUNS / 2] / base, (double)r->hits / QUERIES, netset_memory(r->s),
		       r->build_ms, r->reads[RUNS / 2],
		       time_linear(&r->v, r->q, r->n <= 1000 ? QUERIES : 1000));
	}
	for (size_t k = 0; k < 2 * n_sizes; k++) {
		netset_free(sr[k].s);
		free(sr[k].mem);
		free(sr[k].v.addr);
		free(sr[k].v.prefix);
		free(sr[k].q);
	}
	free(sr);
	return sink == 42 ? 2 : 0;
}
