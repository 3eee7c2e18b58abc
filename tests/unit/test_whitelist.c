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
	    cmocka_unit_test(test_use_extends_deadline),
	    cmocka_unit_test(test_random_with_use_against_model),
	    cmocka_unit_test(test_put_restores_use),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
