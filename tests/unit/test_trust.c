/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Registrable domains (libpsl), generic names, exclusions, trust-domain and the member index. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "trust.h"

static const uint64_t key[2] = {3, 4};

static mxa_addr ip(const char *s)
{
	mxa_addr a;

	assert_int_equal(addr_parse(&a, s), 0);
	return a;
}

static struct trust *make(const char *const *trusted, size_t nt, const char *const *exclude,
                          size_t ne)
{
	struct trust *t = trust_new(8, key);
	struct trust_params p = {true, trusted, nt, exclude, ne};

	assert_non_null(t);
	assert_int_equal(trust_set_params(t, &p), 0);
	return t;
}

static void registrable(struct trust *t, const char *name, const char *want)
{
	char out[TRUST_NAME_MAX + 1];
	int r = trust_registrable(t, name, out, sizeof(out));

	if (!want) {
		if (r == 0)
			fail_msg("%s: expected no registrable domain, got %s", name, out);
		return;
	}
	if (r != 0)
		fail_msg("%s: expected %s, got error %d", name, want, r);
	assert_string_equal(out, want);
}

static void test_registrable_domain(void **state)
{
	struct trust *t = make(NULL, 0, NULL, 0);

	(void)state;
	if (!trust_psl_available(t)) {
		trust_free(t);
		skip();
	}
	registrable(t, "mail-a.bigmail.example", "bigmail.example");
	registrable(t, "MAIL-A.BigMail.Example.", "bigmail.example");
	registrable(t, "host1.cust-a.co.uk", "cust-a.co.uk");
	registrable(t, "host2.cust-b.co.uk", "cust-b.co.uk");
	registrable(t, "a.b.c.example.com", "example.com");
	/* a name that is itself a public suffix has none */
	registrable(t, "co.uk", NULL);
	registrable(t, "uk", NULL);
	/* .test is no listed suffix: the PSL's default rule makes its second label registrable */
	registrable(t, "mail-a.bigmail.test", "bigmail.test");
	assert_true(trust_domain_on(t));
	trust_free(t);
}

static void generic(const char *name, const char *addr, bool want)
{
	mxa_addr a = ip(addr);

	if (trust_is_generic(name, &a) != want)
		fail_msg("%s for %s: expected %s", name, addr, want ? "generic" : "not generic");
}

static void test_generic_names(void **state)
{
	(void)state;
	generic("192-0-2-34.dyn.isp.example", "192.0.2.34", true);
	generic("192.0.2.34.static.isp.example", "192.0.2.34", true);
	generic("34.2.0.192.pool.isp.example", "192.0.2.34", true);
	generic("c0000222.cable.isp.example", "192.0.2.34", true);
	generic("C0000222.Cable.ISP.example", "192.0.2.34", true);
	generic("ip-192-0-2-34.isp.example", "192.0.2.34", true);
	generic("host192_000_002_034.isp.example", "192.0.2.34", true);
	generic("192000002034.isp.example", "192.0.2.34", true);
	generic("3221226018.isp.example", "192.0.2.34", true);
	generic("192-0-2-40.dyn.bigisp.test", "192.0.2.40", true);
	/* another address's name, and plain names */
	generic("192-0-2-35.dyn.isp.example", "192.0.2.34", false);
	generic("mail-a.bigmail.example", "192.0.2.34", false);
	generic("mx34.example.org", "192.0.2.34", false);
	generic("a192.0.2.b34.example", "192.0.2.34", false);
	/* IPv6: dashed and nibble forms */
	generic("2001-db8-1--31.dyn.isp.example", "2001:db8:1::31", true);
	generic("ip6-2001-db8-1-0-0-0-0-31.isp.example", "2001:db8:1::31", true);
	generic("1.3.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.rev.isp.example",
	        "2001:db8:1::31", true);
	generic("20010db8000100000000000000000031.isp.example", "2001:db8:1::31", true);
	generic("mail-b.bigmail.example", "2001:db8:1::31", false);
	generic("2001-db8-1--32.dyn.isp.example", "2001:db8:1::31", false);
}

static void test_excluded_and_trusted(void **state)
{
	const char *const trusted[] = {"partner.test", "Big.Example."};
	const char *const exclude[] = {"*.dyn.*", "MX?.bad.example"};
	struct trust *t = make(trusted, 2, exclude, 2);

	(void)state;
	assert_true(trust_is_excluded(t, "host.DYN.isp.example"));
	assert_true(trust_is_excluded(t, "mx1.bad.example"));
	assert_false(trust_is_excluded(t, "mx10.bad.example"));
	assert_false(trust_is_excluded(t, "mail.isp.example"));
	assert_string_equal(trust_trusted_domain(t, "mail.partner.test"), "partner.test");
	assert_string_equal(trust_trusted_domain(t, "PARTNER.test."), "partner.test");
	assert_string_equal(trust_trusted_domain(t, "a.b.big.example"), "big.example");
	/* never a mere suffix match */
	assert_null(trust_trusted_domain(t, "evilpartner.test"));
	assert_null(trust_trusted_domain(t, "partner.test.evil.example"));
	assert_true(trust_any(t));
	assert_int_equal(trust_trusted_count(t), 2);
	trust_free(t);
}

static void test_name_check(void **state)
{
	const char *const exclude[] = {"*.pool.example.net"};
	struct trust *t = make(NULL, 0, exclude, 1);
	mxa_addr a = ip("198.51.100.30");
	char d[TRUST_NAME_MAX + 1];

	(void)state;
	assert_int_equal(trust_name_check(t, "198-51-100-30.dyn.bigisp.test", &a, d, sizeof(d)),
	                 TRUST_NAME_GENERIC);
	assert_int_equal(trust_name_check(t, "h1.pool.example.net", &a, d, sizeof(d)),
	                 TRUST_NAME_EXCLUDED);
	if (trust_psl_available(t)) {
		assert_int_equal(trust_name_check(t, "co.uk", &a, d, sizeof(d)),
		                 TRUST_NAME_NO_DOMAIN);
		assert_int_equal(trust_name_check(t, "mail-a.bigmail.test", &a, d, sizeof(d)),
		                 TRUST_NAME_OK);
		assert_string_equal(d, "bigmail.test");
	}
	trust_free(t);
}

static void test_member_index(void **state)
{
	struct trust *t = make(NULL, 0, NULL, 0);
	mxa_addr a = ip("198.51.100.30"), b = ip("198.51.100.31"), m;
	mxa_time dl;
	char dom[32];

	(void)state;
	assert_int_equal(trust_member_put(t, "bigmail.test", &a, 2000, 1000), 0);
	assert_true(trust_member_get(t, "bigmail.test", &m, &dl));
	assert_true(addr_equal(&m, &a));
	assert_int_equal(dl, 2000);
	/* a member with a later deadline takes over; an earlier one does not */
	trust_member_put(t, "bigmail.test", &b, 3000, 1000);
	trust_member_put(t, "bigmail.test", &a, 2500, 1000);
	assert_true(trust_member_get(t, "bigmail.test", &m, &dl));
	assert_true(addr_equal(&m, &b));
	assert_int_equal(dl, 3000);
	assert_false(trust_member_get(t, "cust-b.co.uk", NULL, NULL));
	/* bounded: 8 domains; the one nearest its end goes first */
	for (int i = 0; i < 20; i++) {
		snprintf(dom, sizeof(dom), "d%d.example", i);
		assert_int_equal(trust_member_put(t, dom, &a, 4000 + i, 1000), 0);
		assert_true(trust_member_count(t) <= 8);
	}
	assert_int_equal(trust_member_count(t), 8);
	assert_false(trust_member_get(t, "bigmail.test", NULL, NULL));
	assert_false(trust_member_get(t, "d11.example", NULL, NULL));
	for (int i = 12; i < 20; i++) {
		snprintf(dom, sizeof(dom), "d%d.example", i);
		assert_true(trust_member_get(t, dom, NULL, NULL));
	}
	assert_true(trust_member_del(t, "d15.example"));
	assert_false(trust_member_del(t, "d15.example"));
	for (int i = 12; i < 20; i++) {
		snprintf(dom, sizeof(dom), "d%d.example", i);
		assert_int_equal(trust_member_get(t, dom, NULL, NULL), i != 15);
	}
	trust_free(t);
}

/* Without libpsl (or with domain-trust no), domain trust is off; trust-domain still works. */
static void test_domain_trust_off(void **state)
{
	const char *const trusted[] = {"partner.test"};
	struct trust *t = trust_new(8, key);
	struct trust_params p = {false, trusted, 1, NULL, 0};

	(void)state;
	assert_false(trust_any(t));
	assert_int_equal(trust_set_params(t, &p), 0);
	assert_false(trust_domain_on(t));
	assert_true(trust_any(t));
	trust_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_registrable_domain),   cmocka_unit_test(test_generic_names),
	    cmocka_unit_test(test_excluded_and_trusted), cmocka_unit_test(test_name_check),
	    cmocka_unit_test(test_member_index),         cmocka_unit_test(test_domain_trust_off),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
