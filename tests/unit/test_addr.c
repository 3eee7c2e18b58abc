/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "addr.h"

static const char *roundtrip(const char *s, char *buf)
{
	mxa_addr a;

	assert_int_equal(addr_parse(&a, s), 0);
	return addr_format(&a, buf);
}

static void test_parse_format(void **state)
{
	char buf[ADDR_STRLEN];
	mxa_addr a;

	(void)state;
	assert_string_equal(roundtrip("192.0.2.1", buf), "192.0.2.1");
	assert_string_equal(roundtrip("2001:db8::1", buf), "2001:db8::1");
	assert_string_equal(roundtrip("2001:DB8:0:0::10", buf), "2001:db8::10");
	assert_int_equal(addr_parse(&a, "192.0.2.1"), 0);
	assert_true(addr_is_v4(&a));
	assert_memory_equal(addr_v4_bytes(&a), "\xc0\x00\x02\x01", 4);
	assert_int_equal(addr_parse(&a, "2001:db8::1"), 0);
	assert_false(addr_is_v4(&a));
}

static void test_parse_rejects(void **state)
{
	static const char *const bad[] = {
	    "",           "192.0.2", "192.0.2.256", "192.0.2.1/24", "example.org", "2001:db8:::1",
	    " 192.0.2.1", "1.2.3.4 "};
	mxa_addr a;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(addr_parse(&a, bad[i]), -22);
}

static void test_v4_and_v6_differ(void **state)
{
	mxa_addr a, b;

	(void)state;
	addr_parse(&a, "192.0.2.1");
	addr_parse(&b, "2001:db8::c000:201");
	assert_false(addr_equal(&a, &b));
	addr_parse(&b, "::ffff:192.0.2.1"); /* the v4-mapped form is the same host */
	assert_true(addr_equal(&a, &b));
}

static void check_mask(const char *in, unsigned p4, unsigned p6, const char *want)
{
	char buf[ADDR_STRLEN];
	mxa_addr a, m;

	assert_int_equal(addr_parse(&a, in), 0);
	addr_mask(&m, &a, p4, p6);
	assert_string_equal(addr_format(&m, buf), want);
}

static void test_mask(void **state)
{
	(void)state;
	check_mask("198.51.100.77", 32, 128, "198.51.100.77");
	check_mask("198.51.100.77", 24, 128, "198.51.100.0");
	check_mask("198.51.100.77", 25, 128, "198.51.100.0");
	check_mask("198.51.100.200", 25, 128, "198.51.100.128");
	check_mask("198.51.100.77", 0, 128, "0.0.0.0");
	check_mask("2001:db8:1:2:3:4:5:6", 24, 64, "2001:db8:1:2::");
	check_mask("2001:db8:1:2:3:4:5:7", 32, 127, "2001:db8:1:2:3:4:5:6");
	check_mask("2001:db8::1", 32, 128, "2001:db8::1");
}

static void test_hash_keyed(void **state)
{
	const uint64_t k1[2] = {1, 2}, k2[2] = {3, 4};
	mxa_addr a, b;

	(void)state;
	addr_parse(&a, "192.0.2.1");
	addr_parse(&b, "192.0.2.2");
	assert_int_equal(addr_hash(&a, k1), addr_hash(&a, k1));
	assert_int_not_equal(addr_hash(&a, k1), addr_hash(&b, k1));
	assert_int_not_equal(addr_hash(&a, k1), addr_hash(&a, k2));
}

/* The SipHash-2-4 reference vector for a 16-byte message 00..0f, key 00..0f. */
static void test_hash_is_siphash(void **state)
{
	const uint64_t key[2] = {0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL};
	mxa_addr a;

	(void)state;
	for (int i = 0; i < 16; i++)
		a.b[i] = (uint8_t)i;
	assert_int_equal(addr_hash(&a, key), 0x3f2acc7f57c29bdbULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_format),     cmocka_unit_test(test_parse_rejects),
	    cmocka_unit_test(test_v4_and_v6_differ), cmocka_unit_test(test_mask),
	    cmocka_unit_test(test_hash_keyed),       cmocka_unit_test(test_hash_is_siphash),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
