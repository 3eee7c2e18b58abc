/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ratelimit.h"

static int take_n(struct tokenbucket *tb, int n, int64_t now_ms)
{
	int got = 0;

	for (int i = 0; i < n; i++)
		got += tokenbucket_take(tb, now_ms);
	return got;
}

/* rdns-rate 100: a burst of 100, then one every 10 ms, never more than 100 a second. */
static void test_rate_and_burst(void **state)
{
	struct tokenbucket tb;
	int got = 0;

	(void)state;
	tokenbucket_init(&tb, 100, 100, 5000);
	assert_int_equal(take_n(&tb, 1000, 5000), 100);
	assert_int_equal(tb.refused, 900);
	assert_false(tokenbucket_take(&tb, 5009));
	assert_true(tokenbucket_take(&tb, 5010));
	assert_false(tokenbucket_take(&tb, 5010));
	/* A steady flood over 10 s gets rate x time, no more. */
	for (int64_t t = 5011; t <= 15010; t++)
		got += take_n(&tb, 5, t);
	assert_int_equal(got, 1000);
	/* A quiet time saves no more than the burst. */
	assert_int_equal(take_n(&tb, 1000, 3600 * 1000), 100);
}

static void test_set_and_unlimited(void **state)
{
	struct tokenbucket tb;

	(void)state;
	tokenbucket_init(&tb, 100, 100, 0);
	/* A lower rate on reload: the saved tokens shrink to the new burst. */
	tokenbucket_set(&tb, 2, 2);
	assert_int_equal(take_n(&tb, 10, 0), 2);
	assert_int_equal(take_n(&tb, 10, 499), 0);
	assert_int_equal(take_n(&tb, 10, 500), 1);
	/* 0: no limit. */
	tokenbucket_set(&tb, 0, 0);
	assert_int_equal(take_n(&tb, 100000, 500), 100000);
	/* A clock that goes back refills nothing and breaks nothing. */
	tokenbucket_init(&tb, 10, 1, 1000);
	assert_true(tokenbucket_take(&tb, 1000));
	assert_false(tokenbucket_take(&tb, 900));
	assert_false(tokenbucket_take(&tb, 999));
	assert_true(tokenbucket_take(&tb, 1000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rate_and_burst),
	    cmocka_unit_test(test_set_and_unlimited),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
