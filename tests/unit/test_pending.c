/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The held-verdict table on a fake millisecond clock: every packet leaves through the callback. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "pending.h"

static const uint64_t key[2] = {1, 2};

struct out {
	uint64_t tokens[1024];
	size_t n;
};

static void collect(void *ctx, const struct pending_packet *p)
{
	struct out *o = ctx;

	assert_true(o->n < 1024);
	o->tokens[o->n++] = p->token;
}

static mxa_addr ip(const char *s)
{
	mxa_addr a;

	assert_int_equal(addr_parse(&a, s), 0);
	return a;
}

static void add(struct pending *p, const char *src, uint64_t token, uint64_t now, int want)
{
	mxa_addr a = ip(src), d = ip("192.0.2.20");

	assert_int_equal(pending_add(p, &a, token, &a, &d, now), want);
}

static void test_release_gives_all_of_a_client(void **state)
{
	struct pending *p = pending_new(8, 800, key);
	struct out o = {0};
	mxa_addr a = ip("198.51.100.31");

	(void)state;
	add(p, "198.51.100.31", 10, 1000, PENDING_NEW);
	add(p, "198.51.100.32", 11, 1001, PENDING_NEW);
	/* the retransmit joins the pending check */
	add(p, "198.51.100.31", 12, 1500, PENDING_JOINED);
	assert_int_equal(pending_count(p), 3);
	assert_true(pending_has(p, &a));
	assert_int_equal(pending_release(p, &a, collect, &o), 2);
	assert_int_equal(o.n, 2);
	assert_int_equal(o.tokens[0], 10);
	assert_int_equal(o.tokens[1], 12);
	assert_false(pending_has(p, &a));
	assert_int_equal(pending_count(p), 1);
	assert_int_equal(pending_release(p, &a, collect, &o), 0);
	pending_flush(p, collect, &o);
	assert_int_equal(o.n, 3);
	pending_free(p);
}

static void test_deadline_drops_in_order(void **state)
{
	struct pending *p = pending_new(8, 800, key);
	struct out o = {0};

	(void)state;
	assert_int_equal(pending_next_deadline(p), -1);
	add(p, "198.51.100.1", 1, 1000, PENDING_NEW);
	add(p, "198.51.100.2", 2, 1100, PENDING_NEW);
	add(p, "198.51.100.1", 3, 1200, PENDING_JOINED);
	assert_int_equal(pending_next_deadline(p), 1800);
	assert_int_equal(pending_expire(p, 1799, collect, &o), 0);
	assert_int_equal(pending_expire(p, 1800, collect, &o), 1);
	assert_int_equal(o.tokens[0], 1);
	assert_int_equal(pending_next_deadline(p), 1900);
	assert_int_equal(pending_expire(p, 5000, collect, &o), 2);
	assert_int_equal(o.tokens[1], 2);
	assert_int_equal(o.tokens[2], 3);
	assert_int_equal(pending_count(p), 0);
	assert_int_equal(pending_next_deadline(p), -1);
	pending_free(p);
}

/* A group whose first packet expired keeps the later ones. */
static void test_expiry_keeps_group_rest(void **state)
{
	struct pending *p = pending_new(8, 800, key);
	struct out o = {0};
	mxa_addr a = ip("198.51.100.1");

	(void)state;
	add(p, "198.51.100.1", 1, 1000, PENDING_NEW);
	add(p, "198.51.100.1", 2, 1500, PENDING_JOINED);
	assert_int_equal(pending_expire(p, 1800, collect, &o), 1);
	assert_true(pending_has(p, &a));
	assert_int_equal(pending_release(p, &a, collect, &o), 1);
	assert_int_equal(o.tokens[1], 2);
	pending_free(p);
}

static void test_bound(void **state)
{
	struct pending *p = pending_new(4, 800, key);
	struct out o = {0};
	char src[32];

	(void)state;
	for (int i = 0; i < 4; i++) {
		snprintf(src, sizeof(src), "198.18.0.%d", i + 1);
		add(p, src, (uint64_t)i, 1000, PENDING_NEW);
	}
	/* full: neither a new client nor a retransmit is held; nothing changed */
	add(p, "198.18.0.9", 99, 1000, -ENOSPC);
	add(p, "198.18.0.1", 98, 1000, -ENOSPC);
	assert_int_equal(pending_count(p), 4);
	assert_int_equal(pending_flush(p, collect, &o), 4);
	/* and room again */
	add(p, "198.18.0.9", 100, 1000, PENDING_NEW);
	pending_flush(p, collect, &o);
	pending_free(p);

	/* zero: holds nothing */
	p = pending_new(0, 800, key);
	assert_non_null(p);
	add(p, "198.18.0.9", 1, 1000, -ENOSPC);
	pending_free(p);
	assert_null(pending_new(PENDING_MAX + 1, 800, key));
}

/* Many clients and releases in random order keep the index consistent. */
static void test_many_clients(void **state)
{
	enum { ROUNDS = 20, MAX = 512 };
	static struct out o;
	static uint8_t given[ROUNDS * MAX * 2];
	struct pending *p = pending_new(MAX, 800, key);
	char src[32];
	uint64_t seed = 42, token = 0;
	size_t added = 0, verdicts = 0;

	(void)state;
	memset(given, 0, sizeof(given));
	for (int round = 0; round < ROUNDS; round++) {
		for (int i = 0; i < MAX; i++) {
			mxa_addr a;
			int r;

			snprintf(src, sizeof(src), "198.18.%d.%d", (i * 7) % 256, i % 200);
			a = ip(src);
			/* every third client's retransmit joins its group */
			if (pending_has(p, &a) && i % 3)
				continue;
			r = pending_add(p, &a, token, &a, &a, 1000);
			if (r < 0) {
				assert_int_equal(pending_count(p), MAX);
				break;
			}
			token++;
			added++;
		}
		for (int i = 0; i < 300; i++) {
			mxa_addr a;
			size_t n;

			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			snprintf(src, sizeof(src), "198.18.%d.%d",
			         (int)((seed >> 33) % MAX * 7 % 256),
			         (int)((seed >> 33) % MAX % 200));
			a = ip(src);
			o.n = 0;
			n = pending_release(p, &a, collect, &o);
			assert_int_equal(n, o.n);
			for (size_t k = 0; k < o.n; k++) {
				assert_true(o.tokens[k] < token);
				assert_int_equal(given[o.tokens[k]]++, 0);
			}
			verdicts += n;
			assert_false(pending_has(p, &a));
		}
		/* nothing lost so far: held + given = added */
		assert_int_equal(pending_count(p) + verdicts, added);
	}
	o.n = 0;
	verdicts += pending_flush(p, collect, &o);
	for (size_t k = 0; k < o.n; k++)
		assert_int_equal(given[o.tokens[k]]++, 0);
	assert_int_equal(pending_count(p), 0);
	/* every packet added got exactly one verdict */
	assert_true(added > MAX);
	assert_int_equal(verdicts, added);
	for (uint64_t t = 0; t < token; t++)
		assert_int_equal(given[t], 1);
	pending_free(p);
}

/* A reload: a smaller bound gives the oldest their verdict, a new hold time moves deadlines. */
static void test_set_shrinks_and_moves(void **state)
{
	struct pending *p = pending_new(8, 800, key);
	struct out o = {0};
	mxa_addr a = ip("198.51.100.3");

	(void)state;
	add(p, "198.51.100.1", 1, 1000, PENDING_NEW);
	add(p, "198.51.100.2", 2, 1010, PENDING_NEW);
	add(p, "198.51.100.3", 3, 1020, PENDING_NEW);
	add(p, "198.51.100.3", 4, 1030, PENDING_JOINED);
	assert_int_equal(pending_set(p, 2, 500, collect, &o), 0);
	assert_int_equal(o.n, 2);
	assert_int_equal(o.tokens[0], 1);
	assert_int_equal(o.tokens[1], 2);
	assert_int_equal(pending_count(p), 2);
	assert_int_equal(pending_max(p), 2);
	assert_int_equal(pending_next_deadline(p), 1520);
	assert_int_equal(pending_release(p, &a, collect, &o), 2);
	assert_int_equal(o.tokens[2], 3);
	assert_int_equal(o.tokens[3], 4);
	/* same bound, longer hold */
	add(p, "198.51.100.1", 5, 2000, PENDING_NEW);
	assert_int_equal(pending_set(p, 2, 900, collect, &o), 0);
	assert_int_equal(pending_next_deadline(p), 2900);
	assert_int_equal(pending_hold_ms(p), 900);
	/* to zero: everything out */
	assert_int_equal(pending_set(p, 0, 900, collect, &o), 0);
	assert_int_equal(o.n, 5);
	assert_int_equal(pending_count(p), 0);
	pending_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_release_gives_all_of_a_client),
	    cmocka_unit_test(test_deadline_drops_in_order),
	    cmocka_unit_test(test_expiry_keeps_group_rest),
	    cmocka_unit_test(test_bound),
	    cmocka_unit_test(test_many_clients),
	    cmocka_unit_test(test_set_shrinks_and_moves),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
