/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Core scaling benchmark: the whitelist (and the state machine's per-SYN
 * path) at 1e3..1e6 entries. Prints one CSV line per (entries, operation):
 *
 *   entries,op,ops,ns_per_op,mops_per_s,bytes_per_entry_malloc,bytes_per_entry_rss,bytes_per_entry_self
 *
 * Bytes per entry are measured: the growth of malloc's in-use bytes
 * (mallinfo2: arena + mmapped chunks) and of the resident set, from before
 * whitelist_new() to after the N-th insert, divided by N; "self" is what
 * whitelist_memory() claims, for comparison. On Linux the whitelist maps its
 * arrays of 2 MiB or more itself (huge pages), out of malloc's sight: from
 * 1e5 entries the malloc column counts only the smaller arrays.
 *
 * Keys are v4-mapped addresses from a bijective scramble of 0..2^32-1 (only
 * ever held in memory: this program sends nothing).
 */
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "mx.h"
#include "whitelist.h"

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* A bijection on 32 bits (odd multiplier, xor-shift): distinct inputs, distinct keys. */
static uint32_t scramble(uint32_t x)
{
	x *= 0x9e3779b1u;
	x ^= x >> 15;
	x *= 0x85ebca77u;
	x ^= x >> 13;
	return x;
}

static void key_addr(mxa_addr *a, uint32_t i)
{
	uint32_t v = scramble(i);

	addr_from_v4(a, &v);
}

static uint64_t rng_state = 0x243f6a8885a308d3ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static size_t malloc_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

static size_t rss_bytes(void)
{
	unsigned long size = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%lu %lu", &size, &resident) != 2)
			resident = 0;
		fclose(f);
	}
	return resident * (size_t)sysconf(_SC_PAGESIZE);
}

struct row {
	size_t n;
	double b_malloc, b_rss, b_self;
};

static void emit(const struct row *r, const char *op, size_t ops, double ns)
{
	double per = ns / (double)ops;

	printf("%zu,%s,%zu,%.2f,%.2f,%.2f,%.2f,%.2f\n", r->n, op, ops, per, 1e3 / per, r->b_malloc,
	       r->b_rss, r->b_self);
	fflush(stdout);
}

/* Lookups over a shuffled order of @keys (the order array is read sequentially). */
static size_t run_lookups(const struct whitelist *wl, const mxa_addr *keys, const uint32_t *order,
                          size_t n_order, size_t ops, mxa_time now, double *ns)
{
	size_t found = 0;
	double t0 = now_ns();

	for (size_t i = 0; i < ops; i++)
		found += whitelist_lookup(wl, &keys[order[i % n_order]], now, NULL);
	*ns = now_ns() - t0;
	return found;
}

/*
 * Lookups as the NFQUEUE loop sees them: batches of 64 source addresses (one
 * recvmmsg), gathered into an array, then either looked up together
 * (whitelist_lookup_batch) or prefetched and looked up one by one, as the
 * judge does per packet (whitelist_prefetch + whitelist_lookup). The gather
 * reads @keys at random (for hits): at 1e6 entries a cache and TLB miss of
 * the benchmark's own per address.
 */
#define QUEUE_BATCH 64

static size_t run_batches(const struct whitelist *wl, const mxa_addr *keys, const uint32_t *order,
                          size_t n_order, size_t ops, mxa_time now, bool prefetch_only, double *ns)
{
	mxa_addr batch[QUEUE_BATCH];
	bool live[QUEUE_BATCH];
	size_t found = 0;
	double t0 = now_ns();

	for (size_t i = 0; i < ops; i += QUEUE_BATCH) {
		size_t m = ops - i < QUEUE_BATCH ? ops - i : QUEUE_BATCH;

		for (size_t j = 0; j < m; j++)
			batch[j] = keys[order[(i + j) % n_order]];
		if (prefetch_only) {
			whitelist_prefetch(wl, batch, m);
			for (size_t j = 0; j < m; j++)
				found += whitelist_lookup(wl, &batch[j], now, NULL);
		} else {
			found += whitelist_lookup_batch(wl, batch, m, now, live);
		}
	}
	*ns = now_ns() - t0;
	return found;
}

/*
 * Batches read in place from @stream, the addresses in the order they come:
 * what the NFQUEUE loop hands over (the sources sit in the packet buffers it
 * has just read), without the gather of run_batches().
 */
static size_t run_stream(const struct whitelist *wl, const mxa_addr *stream, size_t n_stream,
                         size_t ops, mxa_time now, double *ns)
{
	bool live[QUEUE_BATCH];
	size_t found = 0;
	double t0 = now_ns();

	/* @n_stream is a multiple of QUEUE_BATCH: no batch runs past the end. */
	for (size_t i = 0; i < ops; i += QUEUE_BATCH)
		found += whitelist_lookup_batch(wl, stream + i % n_stream,
		                                ops - i < QUEUE_BATCH ? ops - i : QUEUE_BATCH, now,
		                                live);
	*ns = now_ns() - t0;
	return found;
}

static int bench(size_t n, size_t lookups)
{
	const uint64_t key[2] = {0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull};
	const mxa_time t0 = 1000000;
	size_t n_order = n < (1u << 20) ? n : (1u << 20);
	mxa_addr *hits = malloc(n * sizeof(*hits));
	mxa_addr *misses = malloc(n_order * sizeof(*misses));
	uint32_t *order = malloc(n_order * sizeof(*order));
	size_t n_stream = n_order - n_order % QUEUE_BATCH;
	mxa_addr *stream = malloc(n_stream * sizeof(*stream));
	struct whitelist *wl;
	struct wl_entry e = {0}, out;
	struct row r = {.n = n};
	size_t m0, rss0, found;
	double t, ns;

	if (!hits || !misses || !order || !stream || n_stream == 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		key_addr(&hits[i], (uint32_t)i);
	for (size_t i = 0; i < n_order; i++)
		key_addr(&misses[i], (uint32_t)(0x80000000u + i));
	for (size_t i = 0; i < n_order; i++)
		order[i] = (uint32_t)(rng() % n);
	for (size_t i = 0; i < n_stream; i++)
		stream[i] = hits[order[i]];

	/* Touch the arrays so that their pages are not counted as the whitelist's. */
	malloc_trim(0);
	m0 = malloc_in_use();
	rss0 = rss_bytes();
	wl = whitelist_new(n, key, t0);
	if (!wl)
		return -1;
	e.reason = WL_REASON_FAKE_MX;
	t = now_ns();
	for (size_t i = 0; i < n; i++) {
		e.addr = hits[i];
		/* Deadlines spread over an hour, as real traffic gives them. */
		e.deadline = t0 + 1 + (mxa_time)(rng() % 3600);
		if (whitelist_put(wl, &e, NULL) != WL_PUT_NEW)
			return -1;
	}
	ns = now_ns() - t;
	r.b_malloc = (double)(malloc_in_use() - m0) / (double)n;
	r.b_rss = (double)(rss_bytes() - rss0) / (double)n;
	r.b_self = (double)whitelist_memory(wl) / (double)n;
	emit(&r, "insert", n, ns);

	/* Warm-up pass, then the measured ones. */
	run_lookups(wl, hits, order, n_order, n_order, t0, &ns);
	found = run_lookups(wl, hits, order, n_order, lookups, t0, &ns);
	if (found != lookups) {
		fprintf(stderr, "bench-core: %zu of %zu hits found\n", found, lookups);
		return -1;
	}
	emit(&r, "lookup-hit", lookups, ns);
	found = run_batches(wl, hits, order, n_order, lookups, t0, false, &ns);
	if (found != lookups) {
		fprintf(stderr, "bench-core: batch: %zu of %zu hits found\n", found, lookups);
		return -1;
	}
	emit(&r, "lookup-hit-batch64", lookups, ns);
	found = run_batches(wl, hits, order, n_order, lookups, t0, true, &ns);
	if (found != lookups) {
		fprintf(stderr, "bench-core: prefetch: %zu of %zu hits found\n", found, lookups);
		return -1;
	}
	emit(&r, "lookup-hit-prefetch64", lookups, ns);
	found = run_stream(wl, stream, n_stream, lookups, t0, &ns);
	if (found != lookups) {
		fprintf(stderr, "bench-core: stream: %zu of %zu hits found\n", found, lookups);
		return -1;
	}
	emit(&r, "lookup-hit-batch64-stream", lookups, ns);
	for (size_t i = 0; i < n_order; i++)
		order[i] = (uint32_t)i;
	found = run_lookups(wl, misses, order, n_order, lookups, t0, &ns);
	if (found != 0) {
		fprintf(stderr, "bench-core: %zu misses found\n", found);
		return -1;
	}
	emit(&r, "lookup-miss", lookups, ns);
	found = run_batches(wl, misses, order, n_order, lookups, t0, false, &ns);
	if (found != 0) {
		fprintf(stderr, "bench-core: batch: %zu misses found\n", found);
		return -1;
	}
	emit(&r, "lookup-miss-batch64", lookups, ns);

	/* Re-arm (the fake-MX retry of a known client): update in place, heap fix-up. */
	t = now_ns();
	for (size_t i = 0; i < n_order; i++) {
		e.addr = hits[rng() % n];
		e.deadline = t0 + 3601 + (mxa_time)i;
		whitelist_put(wl, &e, NULL);
	}
	emit(&r, "renew", n_order, now_ns() - t);

	/* Expiry: everything is due; pop them all. */
	t = now_ns();
	found = 0;
	while (whitelist_pop_expired(wl, t0 + 100000000, &out))
		found++;
	ns = now_ns() - t;
	if (found != n) {
		fprintf(stderr, "bench-core: expired %zu of %zu\n", found, n);
		return -1;
	}
	emit(&r, "expire", n, ns);

	/* Eviction: a full table taking new clients (each insert evicts the earliest deadline). */
	for (size_t i = 0; i < n; i++) {
		e.addr = hits[i];
		e.deadline = t0 + 1 + (mxa_time)(rng() % 3600);
		whitelist_put(wl, &e, NULL);
	}
	t = now_ns();
	for (size_t i = 0; i < n_order; i++) {
		e.addr = misses[i];
		e.deadline = t0 + 3601 + (mxa_time)(rng() % 3600);
		if (whitelist_put(wl, &e, &out) != WL_PUT_EVICTED)
			return -1;
	}
	emit(&r, "insert-evict", n_order, now_ns() - t);
	whitelist_free(wl);

	/* The whole per-SYN path of the core for a real-MX connection: mx_syn(). */
	{
		mxa_addr fake, real;
		struct mx_params p = {.fake = &fake,
		                      .n_fake = 1,
		                      .real = &real,
		                      .n_real = 1,
		                      .whitelist_time = 3600,
		                      .rdns = false,
		                      .rdns_max = 32,
		                      .v4_prefix = 32,
		                      .v6_prefix = 128};
		struct mx *mx;
		size_t ops = lookups, allowed = 0;

		addr_parse(&fake, "198.19.255.10");
		addr_parse(&real, "198.19.255.20");
		mx = mx_new(&p, n, key, NULL, t0);
		if (!mx)
			return -1;
		for (size_t i = 0; i < n; i++)
			mx_syn(mx, &hits[i], &fake, t0);
		for (size_t i = 0; i < n_order; i++)
			order[i] = (uint32_t)(rng() % n);
		t = now_ns();
		for (size_t i = 0; i < ops; i++)
			allowed += mx_syn(mx, &hits[order[i % n_order]], &real, t0 + 1) == MX_ALLOW;
		ns = now_ns() - t;
		if (allowed != ops)
			return -1;
		emit(&r, "mx-syn-real-hit", ops, ns);
		t = now_ns();
		for (size_t i = 0; i < ops; i++)
			allowed += mx_syn(mx, &misses[i % n_order], &real, t0 + 1) == MX_ALLOW;
		emit(&r, "mx-syn-real-miss", ops, now_ns() - t);
		mx_free(mx);
	}
	free(hits);
	free(misses);
	free(order);
	free(stream);
	return 0;
}

int main(int argc, char **argv)
{
	size_t lookups = argc > 1 ? strtoul(argv[1], NULL, 10) : 4000000;
	static const size_t sizes[] = {1000, 10000, 100000, 1000000};

	printf("entries,op,ops,ns_per_op,mops_per_s,bytes_per_entry_malloc,bytes_per_entry_rss,"
	       "bytes_per_entry_self\n");
	for (size_t i = 2; i < (size_t)argc; i++) {
		size_t n = strtoul(argv[i], NULL, 10);

		if (bench(n, lookups) < 0)
			return 1;
	}
	if (argc <= 2)
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
			if (bench(sizes[i], lookups) < 0)
				return 1;
	return 0;
}
