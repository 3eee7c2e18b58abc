/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The state file at 1e3 ... 1e6 entries, with the daemon's own code
 * (src/daemon/state.c): the save of a clean exit, the background save of
 * the running daemon, the load of a start, the file's size; and the packet
 * path during a background save. Prints CSV on stdout, one line per size:
 *
 *   file_bytes              the state file's size
 *   save_sync_ms            the save at exit, synchronous for the caller
 *                           (not for the work: a child writes it): fork(),
 *                           the child's write, fsync and rename, its reaping
 *   fork_stall_ms           how long fork() held the caller (the loop's
 *                           only stall for a background save)
 *   save_child_ms           from the background save's start until the loop
 *                           below saw the child reaped
 *   load_ms                 a start: read, check, whitelist built, entries
 *                           put back
 *   verdicts_during_save,   mx_syn() on whitelisted clients in a loop while
 *   max_gap_during_save_ms  the child writes: how many, and the longest time
 *                           between two (the copy-on-write faults after
 *                           fork() land there; at least fork_stall_ms)
 *   verdicts_no_save,       the same loop for 1 s without a save
 *   max_gap_no_save_ms
 *
 *   bench-state DIR [MAX_ENTRIES]     (DIR: where the state files go)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "mx.h"
#include "state.h"

static const uint64_t key[2] = {0x9e3779b97f4a7c15ULL, 0xbf58476d1ce4e5b9ULL};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Client @i: 2001:2::/64 host i (the IPv6 benchmarking range). */
static mxa_addr client(uint32_t i)
{
	mxa_addr a = {{0x20, 0x01, 0x00, 0x02}};

	a.b[12] = (uint8_t)(i >> 24);
	a.b[13] = (uint8_t)(i >> 16);
	a.b[14] = (uint8_t)(i >> 8);
	a.b[15] = (uint8_t)i;
	return a;
}

struct setup {
	mxa_addr fake, real;
	struct mx_params p;
	struct config cfg;
};

static struct mx *filled(struct setup *su, uint32_t n, mxa_time now)
{
	struct mx *mx = mx_new(&su->p, n, key, NULL, now);

	if (!mx)
		exit(1);
	for (uint32_t i = 0; i < n; i++) {
		mxa_addr c = client(i);

		mx_syn(mx, &c, &su->fake, now);
		if (i % 2) /* half of them used once: last uses in the file */
			mx_syn(mx, &c, &su->real, now);
	}
	return mx;
}

/*
 * Verdicts on whitelisted clients (real MX: a lookup and a write to the
 * entry) for @seconds or until a background save ended, whichever is
 * first when @until_saved; the longest time between two verdicts in ms.
 */
static double verdict_loop(struct mx *mx, struct setup *su, uint32_t n, struct state *s,
                           bool until_saved, double seconds, uint64_t saves_before,
                           uint64_t *verdicts)
{
	double t0 = now_s(), last = t0, worst = 0, t;
	uint64_t v = 0;
	uint32_t x = 12345;
	struct state_stats st;

	for (;;) {
		mxa_addr c;

		x = x * 1103515245u + 12345u;
		c = client((x >> 4) % n);
		mx_syn(mx, &c, &su->real, 1000);
		v++;
		t = now_s();
		if (t - last > worst)
			worst = t - last;
		last = t;
		if ((v & 1023) == 0) {
			if (until_saved) {
				state_tick(s, mx, &su->cfg, 1,
				           1000); /* reaps only: no change since */
				state_stats(s, 1000, &st);
				if (st.saves + st.save_errors > saves_before)
					break;
			}
			if (t - t0 > seconds)
				break;
		}
	}
	*verdicts = v;
	return worst * 1e3;
}

int main(int argc, char **argv)
{
	static const uint32_t sizes[] = {1000, 10000, 100000, 1000000, 10000000};
	uint32_t max = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) : 1000000;
	char err[CONFIG_ERRLEN], path[512];
	struct setup su;

	if (argc < 2) {
		fprintf(stderr, "usage: bench-state DIR [MAX_ENTRIES]\n");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/bench.state", argv[1]);
	addr_parse(&su.fake, "2001:2:0:ffff::10");
	addr_parse(&su.real, "2001:2:0:ffff::20");
	su.p = (struct mx_params){.fake = &su.fake,
	                          .n_fake = 1,
	                          .real = &su.real,
	                          .n_real = 1,
	                          .whitelist_time = 3600,
	                          .v4_prefix = 32,
	                          .v6_prefix = 128};
	config_init(&su.cfg);
	if (config_set(&su.cfg, "state-file", path, "bench", err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	log_open(true, true);
	printf("entries,file_bytes,save_sync_ms,fork_stall_ms,save_child_ms,load_ms,"
	       "verdicts_during_save,max_gap_during_save_ms,verdicts_no_save,max_gap_no_save_ms\n");
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]) && sizes[k] <= max; k++) {
		uint32_t n = sizes[k];
		struct mx *mx = filled(&su, n, 1000), *mx2;
		struct state *s, *s2;
		struct state_stats st;
		uint64_t v_save, v_idle;
		double t0, sync_ms, child_ms, load_ms, gap_save, gap_idle;
		struct stat sb;
		char su_err[CONFIG_ERRLEN];

		snprintf(su_err, sizeof(su_err), "%u", n);
		config_set(&su.cfg, "max-entries", su_err, "bench", err, sizeof(err));
		unlink(path);
		if (state_new(&su.cfg, &s, err, sizeof(err)) < 0 || !s) {
			fprintf(stderr, "%s\n", err);
			return 1;
		}
		state_arm(s, 0, 1000);
		/* A clean exit: the daemon forks the writer and waits for it. */
		t0 = now_s();
		if (state_save_final(s, mx, &su.cfg, 1, 1000) < 0)
			return 1;
		sync_ms = (now_s() - t0) * 1e3;
		stat(path, &sb);
		/* Baseline: the same verdict loop with no save running. */
		gap_idle = verdict_loop(mx, &su, n, s, false, 1.0, 0, &v_idle);
		/* The running daemon's save: the caller pays for fork(), the child writes. */
		state_stats(s, 1000, &st);
		t0 = now_s();
		if (state_save_start(s, mx, &su.cfg, 2, 1000) < 0)
			return 1;
		gap_save = verdict_loop(mx, &su, n, s, true, 60.0, st.saves, &v_save);
		child_ms = (now_s() - t0) * 1e3;
		state_stats(s, 1000, &st);
		if (st.save_errors)
			return 1;
		/* A start: read, check, build the whitelist, put the entries back. */
		t0 = now_s();
		if (state_new(&su.cfg, &s2, err, sizeof(err)) < 0 || !s2)
			return 1;
		state_load(s2, &su.cfg, 2000);
		mx2 = mx_new(&su.p, n, key, NULL, state_epoch(s2, 2000));
		if (!mx2 || state_restore(s2, mx2, 2000) != n) {
			fprintf(stderr, "load gave %zu of %u entries\n",
			        mx2 ? whitelist_size(mx_whitelist(mx2)) : 0, n);
			return 1;
		}
		load_ms = (now_s() - t0) * 1e3;
		printf("%u,%lld,%.1f,%.3f,%.1f,%.1f,%llu,%.3f,%llu,%.3f\n", n,
		       (long long)sb.st_size, sync_ms, (double)st.fork_usec / 1e3, child_ms,
		       load_ms, (unsigned long long)v_save,
		       gap_save > st.fork_usec / 1e3 ? gap_save : st.fork_usec / 1e3,
		       (unsigned long long)v_idle, gap_idle);
		fflush(stdout);
		state_free(s2);
		state_free(s);
		mx_free(mx2);
		mx_free(mx);
	}
	unlink(path);
	config_clear(&su.cfg);
	return 0;
}
