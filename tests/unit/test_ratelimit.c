/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ratelimit.h"

static void test_budget_per_second(void **state)
{
	struct ratelimit rl = {.per_second = 3};
	int allowed = 0;

	(void)state;
	for (int i = 0; i < 10; i++)
		allowed += ratelimit_allow(&rl, 100);
	assert_int_equal(allowed, 3);
	assert_int_equal(ratelimit_flush(&rl), 7);
	assert_int_equal(ratelimit_flush(&rl), 0);
	/* A new second brings a new budget. */
	assert_true(ratelimit_allow(&rl, 101));
	assert_true(ratelimit_allow(&rl, 101));
	assert_true(ratelimit_allow(&rl, 101));
	assert_false(ratelimit_allow(&rl, 101));
	assert_true(ratelimit_allow(&rl, 102));
	assert_int_equal(ratelimit_flush(&rl), 1);
}

static void test_suppressed_add_up_across_seconds(void **state)
{
	struct ratelimit rl = {.per_second = 1};

	(void)state;
	for (mxa_time t = 0; t < 5; t++)
		for (int i = 0; i < 4; i++)
			ratelimit_allow(&rl, t);
	assert_int_equal(ratelimit_flush(&rl), 15);
}

static void test_zero_budget_refuses_all(void **state)
{
	struct ratelimit rl = {.per_second = 0};

	(void)state;
	assert_false(ratelimit_allow(&rl, 1));
	assert_int_equal(ratelimit_flush(&rl), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_budget_per_second),
	    cmocka_unit_test(test_suppressed_add_up_across_seconds),
	    cmocka_unit_test(test_zero_budget_refuses_all),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
