/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "whitelist.h"

static const uint64_t key[2] = {0x1234, 0x5678};

static mxa_addr ip(const char *s)
{
	mxa_addr a;

	assert_int_equal(addr_parse(&a, s), 0);
	return a;
}

static mxa_addr nth(uint32_t i)
{
	uint8_t v4[4] = {198, (uint8_t)(18 + (i >> 16 & 1)), (uint8_t)(i >> 8), (uint8_t)i};
	mxa_addr a;

	addr_from_v4(&a, v4);
	return a;
}

static struct wl_entry entry(mxa_addr a, mxa_time deadline)
{
	struct wl_entry e = {.addr = a, .deadline = deadline, .reason = WL_REASON_FAKE_MX};

	return e;
}

static void test_put_lookup(void **state)
{
	struct whitelist *wl = whitelist_new(10, key, 1000);
	struct wl_entry e = entry(ip("192.0.2.1"), 1100), got;
	mxa_addr other = ip("192.0.2.2");

	(void)state;
	assert_non_null(wl);
	e.origin = ip("192.0.2.10");
	assert_int_equal(whitelist_put(wl, &e, NULL), WL_PUT_NEW);
	assert_true(whitelist_lookup(wl, &e.addr, 1000, &got));
	assert_true(addr_equal(&got.addr, &e.addr));
	assert_true(addr_equal(&got.origin, &e.origin));
	assert_int_equal(got.deadline, 1100);
	assert_int_equal(got.reason, WL_REASON_FAKE_MX);
	assert_false(got.used);
	assert_false(whitelist_lookup(wl, &other, 1000, NULL));
	/* At or after the deadline the entry no longer counts, even before expiry ran. */
	assert_true(whitelist_lookup(wl, &e.addr, 1099, NULL));
	assert_false(whitelist_lookup(wl, &e.addr, 1100, NULL));
	assert_int_equal(whitelist_size(wl), 1);
	whitelist_free(wl);
}

static void test_update_keeps_use(void **state)
{
	struct whitelist *wl = whitelist_new(10, key, 1000);
	struct wl_entry e = entry(ip("2001:db8::1"), 1100), got;

	(void)state;
	whitelist_put(wl, &e, NULL);
	assert_true(whitelist_touch(wl, &e.addr, 1050));
	e.deadline = 1500;
	assert_int_equal(whitelist_put(wl, &e, NULL), WL_PUT_UPDATED);
	assert_true(whitelist_lookup(wl, &e.addr, 1400, &got));
	assert_true(got.used);
	assert_int_equal(got.last_use, 1050);
	assert_int_equal(got.deadline, 1500);
	assert_int_equal(whitelist_size(wl), 1);
	whitelist_free(wl);
}

static void test_expiry_in_deadline_order(void **state)
{
	struct whitelist *wl = whitelist_new(100, key, 0);
	const mxa_time deadlines[] = {50, 10, 30, 20, 40};
	struct wl_entry e;
	mxa_time last = 0;
	size_t popped = 0;

	(void)state;
	for (uint32_t i = 0; i < 5; i++) {
		e = entry(nth(i), deadlines[i]);
		whitelist_put(wl, &e, NULL);
	}
	assert_int_equal(whitelist_next_deadline(wl), 10);
	assert_false(whitelist_pop_expired(wl, 9, &e));
	while (whitelist_pop_expired(wl, 35, &e)) {
		assert_true(e.deadline >= last);
		last = e.deadline;
		popped++;
	}
	assert_int_equal(popped, 3);
	assert_int_equal(whitelist_size(wl), 2);
	assert_int_equal(whitelist_next_deadline(wl), 40);
	/* Re-arming moves an entry in the expiry order. */
	e = entry(nth(4), 100);
	assert_int_equal(whitelist_put(wl, &e, NULL), WL_PUT_UPDATED);
	assert_int_equal(whitelist_next_deadline(wl), 50);
	whitelist_free(wl);
}

static void test_capacity_evicts_earliest_deadline(void **state)
{
	struct whitelist *wl = whitelist_new(3, key, 0);
	struct wl_entry e, victim;

	(void)state;
	e = entry(nth(1), 300);
	whitelist_put(wl, &e, NULL);
	e = entry(nth(2), 100);
	whitelist_put(wl, &e, NULL);
	e = entry(nth(3), 200);
	whitelist_put(wl, &e, NULL);
	e = entry(nth(4), 400);
	assert_int_equal(whitelist_put(wl, &e, &victim), WL_PUT_EVICTED);
	e.addr = nth(2);
	assert_true(addr_equal(&victim.addr, &e.addr));
	assert_int_equal(victim.deadline, 100);
	assert_int_equal(whitelist_size(wl), 3);
	e.addr = nth(2);
	assert_false(whitelist_lookup(wl, &e.addr, 0, NULL));
	e.addr = nth(4);
	assert_true(whitelist_lookup(wl, &e.addr, 0, NULL));
	whitelist_free(wl);
}

/*
 * A manual entry (mxallowctl add) is in the protected class: a flood of
 * fake-MX entries never evicts it, even with the earliest deadline; an entry
 * made manual by an update moves class, and one made ordinary moves back.
 */
static void test_manual_evicted_after_unused(void **state)
{
	struct whitelist *wl = whitelist_new(4, key, 0);
	struct wl_entry e, victim, got;

	(void)state;
	e = entry(nth(1), 10);
	e.reason = WL_REASON_MANUAL;
	assert_int_equal(whitelist_put(wl, &e, NULL), WL_PUT_NEW);
	e = entry(nth(2), 20); /* made manual by an update below */
	assert_int_equal(whitelist_put(wl, &e, NULL), WL_PUT_NEW);
	e.reason = WL_REASON_MANUAL;
	assert_int_equal(whitelist_put(wl, &e, NULL), WL_PUT_UPDATED);
	assert_int_equal(whitelist_used_count(wl), 2);
	for (uint32_t i = 100; i < 200; i++) {
		e = entry(nth(i), 5000 + i);
		if (whitelist_put(wl, &e, &victim) == WL_PUT_EVICTED)
			assert_int_equal(victim.reason, WL_REASON_FAKE_MX);
	}
	e.addr = nth(1);
	assert_true(whitelist_lookup(wl, &e.addr, 0, &got));
	assert_int_equal(got.reason, WL_REASON_MANUAL);
	assert_false(got.used); /* protected, yet never used: the listing says so */
	e.addr = nth(2);
	assert_true(whitelist_lookup(wl, &e.addr, 0, NULL));
	assert_int_equal(whitelist_size(wl), 4);
	/* Made ordinary again (re-added by a fake-MX hit after a del): evictable first. */
	e = entry(nth(2), 20);
	assert_int_equal(whitelist_put(wl, &e, NULL), WL_PUT_UPDATED);
	assert_int_equal(whitelist_used_count(wl), 1);
	e = entry(nth(300), 9000);
	assert_int_equal(whitelist_put(wl, &e, &victim), WL_PUT_EVICTED);
	e.addr = nth(2);
	assert_true(addr_equal(&victim.addr, &e.addr));
	/* Expiry still goes by deadline alone. */
	assert_true(whitelist_pop_expired(wl, 11, &got));
	e.addr = nth(1);
	assert_true(addr_equal(&got.addr, &e.addr));
	assert_int_equal(whitelist_used_count(wl), 0);
	whitelist_free(wl);
}

static int count_entry(void *ctx, const struct wl_entry *e)
{
	(void)e;
	(*(size_t *)ctx)++;
	return 0;
}

/* A flood of entries with one deadline evicts the oldest, not the newest. */
static void test_eviction_ties_oldest_first(void **state)
{
	struct whitelist *wl = whitelist_new(3, key, 0);
	struct wl_entry e, victim;

	(void)state;
	for (uint32_t i = 1; i <= 3; i++) {
		e = entry(nth(i), 3600);
		assert_int_equal(whitelist_put(wl, &e, NULL), WL_PUT_NEW);
	}
	for (uint32_t i = 4; i <= 8; i++) {
		mxa_addr want = nth(i - 3);

		e = entry(nth(i), 3600);
		assert_int_equal(whitelist_put(wl, &e, &victim), WL_PUT_EVICTED);
		assert_true(addr_equal(&victim.addr, &want));
		/* The newest entry survives until it is the oldest. */
		assert_true(whitelist_lookup(wl, &e.addr, 0, NULL));
	}
	/* Renewing an entry makes it the youngest of its deadline. */
	e = entry(nth(6), 3600);
	assert_int_equal(whitelist_put(wl, &e, NULL), WL_PUT_UPDATED);
	e = entry(nth(9), 3600);
	assert_int_equal(whitelist_put(wl, &e, &victim), WL_PUT_EVICTED);
	e.addr = nth(7);
	assert_true(addr_equal(&victim.addr, &e.addr));
	whitelist_free(wl);
}

static void test_del_and_foreach(void **state)
{
	struct whitelist *wl = whitelist_new(100, key, 0);
	struct wl_entry e, got;
	mxa_addr a = nth(7);
	size_t seen = 0;

	(void)state;
	for (uint32_t i = 0; i < 20; i++) {
		e = entry(nth(i), 100 + i);
		whitelist_put(wl, &e, NULL);
	}
	assert_true(whitelist_del(wl, &a, &got));
	assert_int_equal(got.deadline, 107);
	assert_false(whitelist_del(wl, &a, NULL));
	assert_false(whitelist_lookup(wl, &a, 0, NULL));
	assert_int_equal(whitelist_size(wl), 19);
	for (uint32_t i = 0; i < 20; i++) {
		a = nth(i);
		assert_int_equal(whitelist_lookup(wl, &a, 0, NULL), i != 7);
	}
	assert_int_equal(whitelist_foreach(wl, count_entry, &seen), 0);
	assert_int_equal(seen, 19);
	whitelist_free(wl);
}

/* Random operations against a plain array model, through growth and eviction. */
static void test_random_against_model(void **state)
{
	enum { N = 3000, CAP = 1000 };
	static mxa_time model[N]; /* deadline per address, 0: absent */
	struct whitelist *wl = whitelist_new(CAP, key, 0);
	struct wl_entry e, victim;
	size_t present = 0;
	mxa_time now = 1;

	(void)state;
	srand(42);
	memset(model, 0, sizeof(model));
	for (int step = 0; step < 40000; step++) {
		uint32_t i = (uint32_t)rand() % N;
		int op = rand() % 10;
		mxa_addr a = nth(i);

		if (op < 6) {
			e = entry(a, now + 1 + rand() % 500);
			int r = whitelist_put(wl, &e, &victim);

			assert_true(r >= 0);
			if (r == WL_PUT_EVICTED) {
				uint32_t v = victim.addr.b[14] << 8 | victim.addr.b[15];

				v |= (uint32_t)(victim.addr.b[13] - 18) << 16;
				assert_int_equal(model[v], victim.deadline);
				/* The victim had the earliest deadline. */
				for (uint32_t k = 0; k < N; k++)
					if (model[k])
						assert_true(model[k] >= victim.deadline);
				model[v] = 0;
				present--;
			}
			if (!model[i])
				present++;
			model[i] = e.deadline;
		} else if (op < 8) {
			bool had = model[i] != 0;

			assert_int_equal(whitelist_del(wl, &a, NULL), had);
			if (had)
				present--;
			model[i] = 0;
		} else {
			now += rand() % 5;
			while (whitelist_pop_expired(wl, now, &e)) {
				uint32_t v = e.addr.b[14] << 8 | e.addr.b[15];

				v |= (uint32_t)(e.addr.b[13] - 18) << 16;
				assert_int_equal(model[v], e.deadline);
				assert_true(e.deadline <= now);
				model[v] = 0;
				present--;
			}
		}
		assert_int_equal(whitelist_size(wl), present);
		assert_true(present <= CAP);
	}
	for (uint32_t i = 0; i < N; i++) {
		mxa_addr a = nth(i);
		struct wl_entry got;
		bool in = whitelist_lookup(wl, &a, 0, &got);

		assert_int_equal(in, model[i] != 0);
		if (in)
			assert_int_equal(got.deadline, model[i]);
	}
	whitelist_free(wl);
}

/* The rDNS flag: set in place (no renewal), replaced by a put, dropped with the entry. */
static void test_rdns_done_flag(void **state)
{
	struct whitelist *wl = whitelist_new(3, key, 1000);
	struct wl_entry e = entry(ip("192.0.2.1"), 1100), got, victim;
	mxa_addr absent = ip("192.0.2.2");

	(void)state;
	assert_int_equal(whitelist_put(wl, &e, NULL), WL_PUT_NEW);
	assert_true(whitelist_lookup(wl, &e.addr, 1000, &got));
	assert_false(got.rdns_done);
	assert_true(whitelist_set_rdns_done(wl, &e.addr, 1000));
	assert_false(whitelist_set_rdns_done(wl, &absent, 1000));
	assert_true(whitelist_lookup(wl, &e.addr, 1000, &got));
	assert_true(got.rdns_done);
	assert_int_equal(got.deadline, 1100);
	assert_false(got.used); /* the flag is not "used" */
	assert_true(whitelist_touch(wl, &e.addr, 1001));
	assert_true(whitelist_lookup(wl, &e.addr, 1001, &got));
	assert_true(got.used && got.rdns_done);
	/* A put carries the caller's flag (mx.c keeps it on renewal). */
	e.deadline = 1200;
	assert_int_equal(whitelist_put(wl, &e, NULL), WL_PUT_UPDATED);
	assert_true(whitelist_lookup(wl, &e.addr, 1001, &got));
	assert_false(got.rdns_done);
	assert_true(got.used);
	e.rdns_done = true;
	assert_int_equal(whitelist_put(wl, &e, NULL), WL_PUT_UPDATED);
	assert_true(whitelist_lookup(wl, &e.addr, 1001, &got));
	assert_true(got.rdns_done);
	/* Not on an expired entry. */
	assert_false(whitelist_set_rdns_done(wl, &e.addr, 1200));
	/*
	 * Evicted entries report it; a new entry in the same slot starts without it.
	 * (The newcomers are used too: a used entry goes only when no unused one is left.)
	 */
	for (uint32_t i = 0; i < 3; i++) {
		struct wl_entry n = entry(nth(i), 1300 + i);

		whitelist_put(wl, &n, &victim);
		whitelist_touch(wl, &n.addr, 1001);
	}
	assert_true(addr_equal(&victim.addr, &e.addr));
	assert_true(victim.rdns_done);
	for (uint32_t i = 0; i < 3; i++) {
		mxa_addr a = nth(i);

		assert_true(whitelist_lookup(wl, &a, 1001, &got));
		assert_false(got.rdns_done);
	}
	whitelist_free(wl);
}

static void test_rejects_zero_capacity(void **state)
{
	(void)state;
	assert_null(whitelist_new(0, key, 0));
	assert_null(whitelist_new((size_t)1 << 29, key, 0));
}

/* Proven senders under a flood: unused entries are evicted first, whatever their deadline. */
static void test_used_evicted_after_unused(void **state)
{
	struct whitelist *wl = whitelist_new(3, key, 0);
	struct wl_entry e, victim;
	mxa_addr a = nth(1), want;

	(void)state;
	e = entry(a, 100); /* the earliest deadline of all, but used */
	whitelist_put(wl, &e, NULL);
	assert_int_equal(whitelist_use(wl, &a, 10, 0, NULL), 0);
	e = entry(nth(2), 200);
	whitelist_put(wl, &e, NULL);
	e = entry(nth(3), 300);
	whitelist_put(wl, &e, NULL);
	assert_int_equal(whitelist_used_count(wl), 1);
	/* The unused entry with the earliest deadline goes, not a. */
	e = entry(nth(4), 3600);
	assert_int_equal(whitelist_put(wl, &e, &victim), WL_PUT_EVICTED);
	want = nth(2);
	assert_true(addr_equal(&victim.addr, &want));
	/* A flood of fake-MX hits: each newcomer pushes out an unused entry, never a. */
	for (uint32_t i = 5; i < 50; i++) {
		e = entry(nth(i), 3600);
		assert_int_equal(whitelist_put(wl, &e, &victim), WL_PUT_EVICTED);
		assert_false(victim.used);
		assert_false(addr_equal(&victim.addr, &a));
		assert_true(whitelist_lookup(wl, &a, 10, NULL));
	}
	/* A renewal by put keeps the class. */
	e = entry(a, 150);
	assert_int_equal(whitelist_put(wl, &e, NULL), WL_PUT_UPDATED);
	assert_int_equal(whitelist_used_count(wl), 1);
	/* Once every entry is used, the used one with the earliest deadline goes. */
	for (uint32_t i = 48; i < 50; i++) {
		mxa_addr u = nth(i);

		assert_true(whitelist_touch(wl, &u, 20));
	}
	assert_int_equal(whitelist_used_count(wl), 3);
	e = entry(nth(70), 3600);
	assert_int_equal(whitelist_put(wl, &e, &victim), WL_PUT_EVICTED);
	assert_true(victim.used);
	assert_true(addr_equal(&victim.addr, &a));
	assert_int_equal(victim.last_use, 10);
	assert_int_equal(victim.deadline, 150);
	assert_int_equal(whitelist_used_count(wl), 2);
	whitelist_free(wl);
}

/* Renewal on use: the deadline moves later, never earlier; expiry still sees both classes. */
static void test_use_extends_deadline(void **state)
{
	struct whitelist *wl = whitelist_new(10, key, 1000);
	struct wl_entry e = entry(ip("192.0.2.1"), 1060), got;
	mxa_addr other = ip("192.0.2.2"), third = ip("192.0.2.3");

	(void)state;
	whitelist_put(wl, &e, NULL);
	e = entry(other, 1100);
	whitelist_put(wl, &e, NULL);
	e = entry(third, 1200);
	whitelist_put(wl, &e, NULL);
	e.addr = ip("192.0.2.1");
	/* Moved by 1030 - 1060 < 0: stays, but the use is recorded. */
	assert_int_equal(whitelist_use(wl, &e.addr, 1010, 1030, &got), 0);
	assert_int_equal(got.deadline, 1060);
	assert_true(got.used);
	assert_int_equal(got.last_use, 1010);
	/* Moved to 1010 + 600. */
	assert_int_equal(whitelist_use(wl, &e.addr, 1010, 1610, &got), 550);
	assert_int_equal(got.deadline, 1610);
	assert_int_equal(whitelist_use(wl, &e.addr, 1020, 1620, &got), 10);
	assert_int_equal(got.last_use, 1020);
	assert_true(whitelist_lookup(wl, &e.addr, 1619, NULL));
	assert_false(whitelist_lookup(wl, &e.addr, 1620, NULL));
	/* Absent or expired: nothing changes. */
	assert_int_equal(whitelist_use(wl, &(mxa_addr){0}, 1020, 5000, NULL), -1);
	assert_int_equal(whitelist_use(wl, &other, 1100, 5000, NULL), -1);
	assert_true(whitelist_lookup(wl, &other, 1099, &got));
	assert_false(got.used);
	assert_int_equal(got.deadline, 1100);
	/* Expiry in deadline order across both classes. */
	assert_int_equal(whitelist_use(wl, &third, 1030, 0, NULL), 0);
	assert_int_equal(whitelist_next_deadline(wl), 1100);
	assert_true(whitelist_pop_expired(wl, 5000, &got));
	assert_true(addr_equal(&got.addr, &other));
	assert_true(whitelist_pop_expired(wl, 5000, &got));
	assert_true(addr_equal(&got.addr, &third));
	assert_int_equal(whitelist_next_deadline(wl), 1620);
	assert_true(whitelist_pop_expired(wl, 5000, &got));
	assert_int_equal(got.deadline, 1620);
	assert_false(whitelist_pop_expired(wl, 5000, &got));
	assert_int_equal(whitelist_next_deadline(wl), -1);
	assert_int_equal(whitelist_used_count(wl), 0);
	whitelist_free(wl);
}

/*
 * Random puts, uses, deletions and expiries against a model, through growth
 * (the used heap moves to the end of a larger array) and eviction: the victim
 * is an unused entry with the earliest deadline of its class while there is
 * one, else a used one with the earliest deadline.
 */
static void test_random_with_use_against_model(void **state)
{
	enum { N = 3000, CAP = 1000 };
	static mxa_time model[N]; /* deadline per address, 0: absent */
	static bool used[N];
	struct whitelist *wl = whitelist_new(CAP, key, 0);
	struct wl_entry e, victim;
	size_t present = 0, n_used = 0;
	mxa_time now = 1;

	(void)state;
	srand(7);
	memset(model, 0, sizeof(model));
	memset(used, 0, sizeof(used));
	for (int step = 0; step < 60000; step++) {
		uint32_t i = (uint32_t)rand() % N;
		int op = rand() % 12;
		mxa_addr a = nth(i);

		if (op < 6) {
			e = entry(a, now + 1 + rand() % 500);
			int r = whitelist_put(wl, &e, &victim);

			assert_true(r >= 0);
			if (r == WL_PUT_EVICTED) {
				uint32_t v = victim.addr.b[14] << 8 | victim.addr.b[15];
				bool any_unused = present > n_used;

				v |= (uint32_t)(victim.addr.b[13] - 18) << 16;
				assert_int_equal(model[v], victim.deadline);
				assert_int_equal(used[v], victim.used);
				assert_int_equal(victim.used, !any_unused);
				for (uint32_t k = 0; k < N; k++)
					if (model[k] && used[k] == victim.used)
						assert_true(model[k] >= victim.deadline);
				model[v] = 0;
				n_used -= used[v];
				used[v] = false;
				present--;
			}
			if (!model[i])
				present++;
			model[i] = e.deadline;
		} else if (op < 8) {
			mxa_time want = rand() % 2 ? now + rand() % 800 : 0;
			int64_t moved = whitelist_use(wl, &a, now, want, &e);

			if (!model[i] || model[i] <= now) {
				assert_int_equal(moved, -1);
				continue;
			}
			assert_int_equal(moved, want > model[i] ? want - model[i] : 0);
			if (want > model[i])
				model[i] = want;
			assert_int_equal(e.deadline, model[i]);
			if (!used[i])
				n_used++;
			used[i] = true;
		} else if (op < 10) {
			bool had = model[i] != 0;

			assert_int_equal(whitelist_del(wl, &a, NULL), had);
			if (had) {
				present--;
				n_used -= used[i];
			}
			model[i] = 0;
			used[i] = false;
		} else {
			mxa_time last = 0;

			now += rand() % 5;
			while (whitelist_pop_expired(wl, now, &e)) {
				uint32_t v = e.addr.b[14] << 8 | e.addr.b[15];

				v |= (uint32_t)(e.addr.b[13] - 18) << 16;
				assert_int_equal(model[v], e.deadline);
				assert_true(e.deadline <= now);
				assert_true(e.deadline >= last);
				last = e.deadline;
				model[v] = 0;
				n_used -= used[v];
				used[v] = false;
				present--;
			}
		}
		assert_int_equal(whitelist_size(wl), present);
		assert_int_equal(whitelist_used_count(wl), n_used);
		assert_true(present <= CAP);
	}
	for (uint32_t i = 0; i < N; i++) {
		mxa_addr a = nth(i);
		struct wl_entry got;
		bool in = whitelist_lookup(wl, &a, 0, &got);

		assert_int_equal(in, model[i] != 0);
		if (in) {
			assert_int_equal(got.deadline, model[i]);
			assert_int_equal(got.used, used[i]);
		}
	}
	whitelist_free(wl);
}

/* An entry restored with its last use (state file) keeps the used class. */
static void test_put_restores_use(void **state)
{
	struct whitelist *wl = whitelist_new(2, key, 1000);
	mxa_addr restored = ip("192.0.2.1");
	struct wl_entry e = entry(restored, 1100), got, victim;

	(void)state;
	e.used = true;
	e.last_use = 1000;
	assert_int_equal(whitelist_put(wl, &e, NULL), WL_PUT_NEW);
	assert_true(whitelist_lookup(wl, &restored, 1000, &got));
	assert_true(got.used);
	assert_int_equal(got.last_use, 1000);
	assert_int_equal(whitelist_used_count(wl), 1);
	/* Before the whitelist's creation: the earliest time it can hold. */
	e = entry(ip("192.0.2.2"), 1200);
	e.used = true;
	e.last_use = 5;
	assert_int_equal(whitelist_put(wl, &e, NULL), WL_PUT_NEW);
	assert_true(whitelist_lookup(wl, &e.addr, 1000, &got));
	assert_true(got.used);
	assert_int_equal(got.last_use, 1000);
	assert_true(whitelist_del(wl, &e.addr, NULL));
	/* Unused newcomers evict each other, not the restored entry (deadline 1100 < 2000). */
	for (uint32_t i = 0; i < 5; i++) {
		e = entry(nth(i), 2000);
		whitelist_put(wl, &e, &victim);
	}
	assert_false(victim.used);
	assert_true(whitelist_lookup(wl, &restored, 1000, NULL));
	whitelist_free(wl);
}

/* Address @i of the pools below: IPv4 (odd @i) and IPv6 (even), @i < 2^25; pool_index() inverts. */
static mxa_addr pool_addr(uint32_t i)
{
	mxa_addr a;

	if (i & 1) {
		uint8_t v4[4] = {10, (uint8_t)(i >> 17), (uint8_t)(i >> 9), (uint8_t)(i >> 1)};

		addr_from_v4(&a, v4);
	} else {
		uint8_t v6[16] = {0x20,
		                  0x01,
		                  0x0d,
		                  0xb8,
		                  [12] = (uint8_t)(i >> 24),
		                  (uint8_t)(i >> 16),
		                  (uint8_t)(i >> 8),
		                  (uint8_t)i};

		addr_from_v6(&a, v6);
	}
	return a;
}

static uint32_t pool_index(const mxa_addr *a)
{
	if (addr_is_v4(a)) {
		const uint8_t *b = addr_v4_bytes(a);

		return ((uint32_t)b[1] << 17 | (uint32_t)b[2] << 9 | (uint32_t)b[3] << 1) | 1;
	}
	return (uint32_t)a->b[12] << 24 | (uint32_t)a->b[13] << 16 | (uint32_t)a->b[14] << 8 |
	       a->b[15];
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

enum { CHECK_MAX = 200 };

/*
 * Looks @a[0..n) up at @now three ways: whitelist_lookup_batch(),
 * whitelist_prefetch() then whitelist_lookup(), and whitelist_lookup() alone.
 * All agree, and with the model: @dl[k] is @a[k]'s deadline, 0 when absent.
 */
static void check_three_ways(const struct whitelist *wl, const mxa_addr *a, const mxa_time *dl,
                             size_t n, mxa_time now)
{
	bool live[CHECK_MAX];
	size_t found, count = 0;

	assert_true(n <= CHECK_MAX);
	for (size_t k = 0; k < n; k++)
		live[k] = dl[k] <= now; /* the wrong answer: must be overwritten */
	found = whitelist_lookup_batch(wl, a, n, now, live);
	whitelist_prefetch(wl, a, n);
	for (size_t k = 0; k < n; k++) {
		struct wl_entry got;
		bool single = whitelist_lookup(wl, &a[k], now, &got);

		assert_int_equal(single, dl[k] > now);
		assert_int_equal(live[k], single);
		if (single) {
			assert_true(addr_equal(&got.addr, &a[k]));
			assert_int_equal(got.deadline, dl[k]);
		}
		count += single;
	}
	assert_int_equal(found, count);
}

/*
 * Random pool addresses (a fifth of them never put: @model has @pool of them)
 * in batches of sizes around the pipeline's stages.
 */
static void check_random_batches(const struct whitelist *wl, mxa_time now, const mxa_time *model,
                                 uint32_t pool, uint64_t *rs, size_t queries)
{
	static const size_t sizes[] = {1, 2, 3, 7, 8, 15, 16, 17, 31, 33, 63, 64, 65, 127, 200};
	mxa_addr a[CHECK_MAX];
	mxa_time dl[CHECK_MAX];

	for (size_t done = 0, z = 0; done < queries; z++) {
		size_t n = sizes[z % (sizeof(sizes) / sizeof(sizes[0]))];

		for (size_t k = 0; k < n; k++) {
			uint32_t i = (uint32_t)(xorshift(rs) % (pool + pool / 4));

			a[k] = pool_addr(i);
			dl[k] = i < pool ? model[i] : 0;
		}
		check_three_ways(wl, a, dl, n, now);
		done += n;
	}
	check_three_ways(wl, a, dl, 0, now);
}

/*
 * Batched and prefetched lookups against single ones and a model, on a table
 * that grows past 100000 entries (and its large arrays onto huge pages where
 * there are any), with deletions (backward shifts through long clusters),
 * expiry, and entries past their deadline not removed yet.
 */
static void test_batch_matches_single(void **state)
{
	enum { POOL = 200000, GROWTH = 300000, STEPS = 500000 };
	mxa_time *model = calloc(POOL, sizeof(*model)); /* deadline per address, 0: absent */
	struct whitelist *wl = whitelist_new(POOL, key, 1);
	size_t present = 0, peak = 0;
	uint64_t rs = 0x9e3779b97f4a7c15ull;
	mxa_time now = 1;
	struct wl_entry e;

	(void)state;
	assert_non_null(model);
	assert_non_null(wl);
	for (int step = 1; step <= STEPS; step++) {
		uint32_t i = (uint32_t)(xorshift(&rs) % POOL);
		unsigned op = (unsigned)(xorshift(&rs) % 100);
		bool growing = step <= GROWTH; /* then churn: half the steps remove, expire, wait */
		mxa_addr a = pool_addr(i);

		if (op < (growing ? 90u : 50u)) {
			e = entry(a, now + 1 + (mxa_time)(xorshift(&rs) % 100000));
			assert_int_equal(whitelist_put(wl, &e, NULL),
			                 model[i] ? WL_PUT_UPDATED : WL_PUT_NEW);
			present += !model[i];
			model[i] = e.deadline;
		} else if (op < (growing ? 100u : 80u)) {
			assert_int_equal(whitelist_del(wl, &a, NULL), model[i] != 0);
			present -= model[i] != 0;
			model[i] = 0;
		} else if (op < 95) {
			now += (mxa_time)(xorshift(&rs) % 40);
		} else { /* expiry runs late: entries past their deadline stay a while */
			for (int k = 0; k < 100 && whitelist_pop_expired(wl, now, &e); k++) {
				uint32_t v = pool_index(&e.addr);

				assert_true(v < POOL);
				assert_int_equal(model[v], e.deadline);
				assert_true(e.deadline <= now);
				model[v] = 0;
				present--;
			}
		}
		assert_int_equal(whitelist_size(wl), present);
		if (present > peak)
			peak = present;
		if (step % 25000 == 0)
			check_random_batches(wl, now, model, POOL, &rs, 3000);
	}
	assert_true(peak > 100000);
	/* Most entries past their deadline, none removed: lookups must not count them. */
	now += 60000;
	check_random_batches(wl, now, model, POOL, &rs, 20000);
	while (whitelist_pop_expired(wl, now, &e))
		model[pool_index(&e.addr)] = 0;
	check_random_batches(wl, now, model, POOL, &rs, 20000);
	whitelist_free(wl);
	free(model);
}

/*
 * One long cluster: keys of the same home cell (in the 128-cell index of a
 * small whitelist, as built today), so that many share their hash tag too.
 * Put, renewed, expired and deleted in random order (backward shifts inside
 * the cluster); after every change each key, and keys of the same home never
 * put, are looked up all three ways.
 */
static void test_batch_one_cluster(void **state)
{
	enum { KEYS = 40, PUT = 20 }; /* the first PUT are put, the others only looked up */
	struct whitelist *wl = whitelist_new(60, key, 1);
	mxa_addr a[KEYS];
	mxa_time model[KEYS] = {0};
	uint64_t rs = 7;
	mxa_time now = 10;
	size_t n = 0;

	(void)state;
	assert_non_null(wl);
	for (uint32_t i = 1; n < KEYS; i++) {
		a[n] = pool_addr(i);
		if ((addr_hash(&a[n], key) & 127) == 5)
			n++;
	}
	for (int round = 0; round < 400; round++) {
		uint32_t i = (uint32_t)(xorshift(&rs) % PUT);
		struct wl_entry e = entry(a[i], now + 1 + (mxa_time)(xorshift(&rs) % 50));

		switch (xorshift(&rs) % 4) {
		case 0:
		case 1:
			assert_true(whitelist_put(wl, &e, NULL) >= 0);
			model[i] = e.deadline;
			break;
		case 2:
			assert_int_equal(whitelist_del(wl, &a[i], NULL), model[i] != 0);
			model[i] = 0;
			break;
		default:
			now += (mxa_time)(xorshift(&rs) % 10);
			while (whitelist_pop_expired(wl, now, &e)) {
				size_t k = 0;

				while (k < PUT && !addr_equal(&a[k], &e.addr))
					k++;
				assert_true(k < PUT);
				assert_int_equal(model[k], e.deadline);
				model[k] = 0;
			}
			break;
		}
		check_three_ways(wl, a, model, KEYS, now);
		/* In another order: the pipeline's stages see other neighbours. */
		check_three_ways(wl, a + 1, model + 1, KEYS - 1, now);
	}
	whitelist_free(wl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_put_lookup),
	    cmocka_unit_test(test_update_keeps_use),
	    cmocka_unit_test(test_expiry_in_deadline_order),
	    cmocka_unit_test(test_capacity_evicts_earliest_deadline),
	    cmocka_unit_test(test_eviction_ties_oldest_first),
	    cmocka_unit_test(test_del_and_foreach),
	    cmocka_unit_test(test_random_against_model),
	    cmocka_unit_test(test_rdns_done_flag),
	    cmocka_unit_test(test_rejects_zero_capacity),
	    cmocka_unit_test(test_used_evicted_after_unused),
	    cmocka_unit_test(test_manual_evicted_after_unused),
	    cmocka_unit_test(test_use_extends_deadline),
	    cmocka_unit_test(test_random_with_use_against_model),
	    cmocka_unit_test(test_put_restores_use),
	    cmocka_unit_test(test_batch_matches_single),
	    cmocka_unit_test(test_batch_one_cluster),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
