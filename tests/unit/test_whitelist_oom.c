/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The whitelist when memory runs out. Linked with -Wl,--wrap=calloc,--wrap=realloc
 * (tests/unit/meson.build), so that the allocations of whitelist.c come here
 * and the N-th one can be made to fail.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "whitelist.h"

void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);

/* Allocations left before one fails; negative: none fails. */
static long fail_after = -1;
static unsigned long failures;

static bool fail_now(void)
{
	if (fail_after < 0)
		return false;
	if (fail_after-- > 0)
		return false;
	failures++;
	return true; /* only this one: fail_after is now -1 */
}

void *__wrap_calloc(size_t n, size_t size)
{
	return fail_now() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t size)
{
	return fail_now() ? NULL : __real_realloc(p, size);
}

static const uint64_t key[2] = {0x1234, 0x5678};

static mxa_addr nth(uint32_t i)
{
	uint8_t v4[4] = {10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};
	mxa_addr a;

	addr_from_v4(&a, v4);
	return a;
}

static int put(struct whitelist *wl, uint32_t i)
{
	struct wl_entry e = {.addr = nth(i), .deadline = 5000 + i, .reason = WL_REASON_FAKE_MX};

	return whitelist_put(wl, &e, NULL);
}

/* Every entry below @n is there with its deadline, none from @n to @n + 1000. */
static void check_contents(const struct whitelist *wl, uint32_t n)
{
	struct wl_entry got;

	assert_int_equal(whitelist_size(wl), n);
	for (uint32_t i = 0; i < n + 1000; i++) {
		mxa_addr a = nth(i);
		bool in = whitelist_lookup(wl, &a, 0, &got);

		assert_int_equal(in, i < n);
		if (in)
			assert_int_equal(got.deadline, 5000 + i);
	}
}

/*
 * The allocations through calloc() of a growth to @alloc slots: the index (4
 * bytes a cell, at least two cells a slot), slots (32 bytes), origins (16) and
 * heap (4), each unless it is of 2 MiB or more: then it is mapped (huge pages),
 * out of this wrapper's sight.
 */
static long callocs_of_growth(size_t alloc)
{
	static const size_t sizes[] = {4 * 2, 32, 16, 4};
	long n = 0;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		n += alloc * sizes[i] < ((size_t)2 << 20);
	return n;
}

/*
 * Each allocation of a growing put fails in turn: the put says -ENOMEM and the
 * whitelist is as before. Then the same whitelist grows further without
 * trouble: no lookup runs for ever in an index that grew only in part (the
 * fault this test was written for). The last growths fail after the mapped
 * arrays were made (they are unmapped again).
 */
static void test_failed_growth_leaves_whitelist_intact(void **state)
{
	struct whitelist *wl = whitelist_new(300000, key, 0);
	uint32_t n = 0;
	long k;

	(void)state;
	assert_non_null(wl);
	for (int round = 0; round < 11; round++) {
		/* Fill the slots allocated so far (64, doubling): the next put must grow. */
		while (n < 64u << round)
			assert_int_equal(put(wl, n++), WL_PUT_NEW);
		for (k = 0;; k++) {
			unsigned long before = failures;
			size_t mem = whitelist_memory(wl);
			int r;

			fail_after = k;
			r = put(wl, n);
			fail_after = -1;
			if (failures == before) { /* the k-th allocation was not reached */
				assert_int_equal(r, WL_PUT_NEW);
				n++;
				break;
			}
			assert_int_equal(r, -ENOMEM);
			assert_int_equal(whitelist_memory(wl), mem);
			check_contents(wl, n);
		}
		/* Index, slots, origins and heap each failed once (those from calloc()). */
		assert_int_equal(k, callocs_of_growth((size_t)128 << round));
	}
	for (; n < 140000; n++)
		assert_int_equal(put(wl, n), WL_PUT_NEW);
	check_contents(wl, n);
	whitelist_free(wl);
}

/* whitelist_new() gives NULL, not a half-made whitelist, whichever allocation fails. */
static void test_failed_new(void **state)
{
	struct whitelist *wl;

	(void)state;
	for (long k = 0;; k++) {
		unsigned long before = failures;

		fail_after = k;
		wl = whitelist_new(1000, key, 0);
		fail_after = -1;
		if (failures == before) {
			assert_non_null(wl);
			assert_int_equal(put(wl, 0), WL_PUT_NEW);
			check_contents(wl, 1);
			break;
		}
		assert_null(wl);
	}
	whitelist_free(wl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_failed_growth_leaves_whitelist_intact),
	    cmocka_unit_test(test_failed_new),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
