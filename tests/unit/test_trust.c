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

	if (trust_is_generic(NULL, name, &a) != want)
		fail_msg("%s for %s: expected %s", name, addr, want ? "generic" : "not generic");
}

/* Each form of the heuristic on its own: no pool word in these names. */
static void test_generic_names(void **state)
{
	(void)state;
	generic("192-0-2-34.isp.example", "192.0.2.34", true);
	generic("192.0.2.34.isp.example", "192.0.2.34", true);
	generic("34.2.0.192.isp.example", "192.0.2.34", true);
	generic("c0000222.isp.example", "192.0.2.34", true);
	generic("C0000222.ISP.example", "192.0.2.34", true);
	generic("ip-192-0-2-34.isp.example", "192.0.2.34", true);
	generic("h192_000_002_034.isp.example", "192.0.2.34", true);
	generic("192000002034.isp.example", "192.0.2.34", true);
	generic("3221226018.isp.example", "192.0.2.34", true);
	generic("a192.0.2.b34.isp.example", "192.0.2.34", true);
	/* three of the four numbers, any order, anywhere */
	generic("h-0-2-34.isp.example", "192.0.2.34", true);
	generic("34.x-192-0.isp.example", "192.0.2.34", true);
	generic("n34-2.r0-q.isp.example", "192.0.2.34", true);
	generic("10-1-1.isp.example", "10.1.1.3", true); /* a number twice counts twice */
	generic("10-1-3.isp.example", "10.1.1.3", true);
	generic("10-1.isp.example", "10.1.1.3", false);
	generic("2-34.isp.example", "192.0.2.34", false);
	generic("a1234-2-34.isp.example", "192.0.2.34", false);
	/* hex: without the leading zero, reversed, with separators */
	generic("p50a1f22.isp.example", "5.10.31.34", true);
	generic("p050A1F22.isp.example", "5.10.31.34", true);
	generic("220200c0.isp.example", "192.0.2.34", true);
	generic("c0-00-02-22.isp.example", "192.0.2.34", true);
	generic("c0-0-2-22.isp.example", "192.0.2.34", true);
	generic("22.2.0.c0.isp.example", "192.0.2.34", true);
	generic("c0-00-02-23.isp.example", "192.0.2.34", false);
	/* another address's name, and plain names */
	generic("198-51-0-7.isp.example", "192.0.2.34", false);
	generic("mail-a.bigmail.example", "192.0.2.34", false);
	generic("mx34.example.org", "192.0.2.34", false);
	/* IPv6: dashed and nibble forms, the address or its /64, with a prefix or a suffix */
	generic("2001-db8-1--31.isp.example", "2001:db8:1::31", true);
	generic("ip6-2001-db8-1-0-0-0-0-31.isp.example", "2001:db8:1::31", true);
	generic("1.3.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.rev.isp.example",
	        "2001:db8:1::31", true);
	generic("20010db8000100000000000000000031.isp.example", "2001:db8:1::31", true);
	generic("2001-db8--31-x.isp.example", "2001:db8::31", true);
	generic("x2001-db8--31.isp.example", "2001:db8::31", true);
	generic("2001-DB8-0--31.isp.example", "2001:db8::31", true);
	generic("2001.db8.0.0.0.0.0.31.isp.example", "2001:db8::31", true);
	generic("2a02-8108-1c0-1234.isp.example", "2a02:8108:1c0:1234:a1b2:c3d4:e5f6:789", true);
	generic("cpe-2001-db8-abcd-12.isp.example", "2001:db8:abcd:12::1", true);
	generic("2a01cb0012345600.isp.example", "2a01:cb00:1234:5600:1:2:3:4", true);
	generic("0.0.6.5.4.3.2.1.0.0.b.c.1.0.a.2.isp.example", "2a01:cb00:1234:5600:1:2:3:4", true);
	generic("192-0-2-34.isp.example", "64:ff9b::c000:222", true);
	generic("mail-b.bigmail.example", "2001:db8:1::31", false);
	generic("2001-db8-1--32.isp.example", "2001:db8:1::31", false);
	generic("2a02-8108-1c0-1235.isp.example", "2a02:8108:1c0:1234::1", false);
	generic("2001-db8-1.isp.example", "2001:db8:1::31", false);
	/* pool words: a label or a part of one, digits after it allowed, not in the domain */
	generic("x.dyn.isp.example", "192.0.2.34", true);
	generic("a-b.dynamicip.isp.example", "192.0.2.34", true);
	generic("q.hsd1.isp.example", "192.0.2.34", true);
	generic("q.dip0.isp.example", "192.0.2.34", true);
	generic("q.range86.isp.example", "192.0.2.34", true);
	generic("range.isp.example", "192.0.2.34", false);
	generic("host34.isp.example", "192.0.2.34", false);
	generic("q_pool.isp.example", "192.0.2.34", true);
	generic("host.isp.example", "192.0.2.34", false);
	generic("hostmaster.isp.example", "192.0.2.34", false);
	generic("dynamo.isp.example", "192.0.2.34", false);
	generic("mail.dyn.example", "192.0.2.34", false);
	generic("mail.pool.example", "192.0.2.34", false);
}

struct named {
	const char *name, *addr;
};

/* Pool names as big ISPs give them (formats seen in the field; each with its own address). */
static const struct named isp_names[] = {
    {"34.red-88-12-5.dynamicip.rima-tde.net", "88.12.5.34"},
    {"7.red-88-12-99.dynamicip.rima-tde.net", "88.12.99.7"},
    {"34.red-2-139-12.staticip.rima-tde.net", "2.139.12.34"},
    {"host34-12-dynamic.152-88-r.retail.telecomitalia.it", "88.152.12.34"},
    {"host9-7-dynamic.40-93-r.retail.telecomitalia.it", "93.40.7.9"},
    {"host-79-12-34-56.business.telecomitalia.it", "79.12.34.56"},
    {"lfbn-lil-1-1234-56.w86-243.abo.wanadoo.fr", "86.243.12.34"},
    {"amontpellier-652-1-205-134.w90-12.abo.wanadoo.fr", "90.12.31.34"},
    {"2a01cb0012345600.ipv6.abo.wanadoo.fr", "2a01:cb00:1234:5600:1:2:3:4"},
    {"82-64-12-34.subs.proxad.net", "82.64.12.34"},
    {"p5B0A1F22.dip0.t-ipconnect.de", "91.10.31.34"},
    {"p50A1F22.dip0.t-ipconnect.de", "5.10.31.34"},
    {"pd9e1f022.dip0.t-ipconnect.de", "217.225.240.34"},
    {"p200300c1234567000000000000000001.dip0.t-ipconnect.de", "2003:c1:2345:6700::1"},
    {"dslb-005-010-031-034.005.010.pools.vodafone-ip.de", "5.10.31.34"},
    {"dynamic-078-012-034-056.78.12.pool.telefonica.de", "78.12.34.56"},
    {"x4d0c2238.dyn.telefonica.de", "77.12.34.56"},
    {"i5E8C2206.versanet.de", "94.140.34.6"},
    {"ip5f5a1f22.dynamic.kabel-deutschland.de", "95.90.31.34"},
    {"ip-88-152-12-34.hsi16.unitymediagroup.de", "88.152.12.34"},
    {"static.88-198-12-34.clients.your-server.de", "88.198.12.34"},
    {"c-73-12-34-56.hsd1.ma.comcast.net", "73.12.34.56"},
    {"c-98-210-12-34.hsd1.ca.comcast.net", "98.210.12.34"},
    {"pool-71-12-34-56.nycmny.fios.verizon.net", "71.12.34.56"},
    {"pool-100-12-34-56.bstnma.fios.verizon.net", "100.12.34.56"},
    {"host86-128-12-34.range86-128.btcentralplus.com", "86.128.12.34"},
    {"host109-150-12-34.range109-150.cust.bt.com", "109.150.12.34"},
    {"cpc123456-bagu17-2-0-cust123.1-3.cable.virginm.net", "86.12.34.56"},
    {"cpe-74-72-12-34.nyc.res.rr.com", "74.72.12.34"},
    {"12-34-56-78.dhcp.stls.mo.charter.com", "12.34.56.78"},
    {"ip68-12-34-56.oc.oc.cox.net", "68.12.34.56"},
    {"adsl-76-12-34-56.dsl.pltn13.sbcglobal.net", "76.12.34.56"},
    {"108-12-34-56.lightspeed.sntcca.sbcglobal.net", "108.12.34.56"},
    {"bras-base-toroon1234w-grc-12-74-12-34-56.dsl.bell.ca", "74.12.34.56"},
    {"ec2-54-12-34-56.compute-1.amazonaws.com", "54.12.34.56"},
    {"ppp-94-12-34-56.home.otenet.gr", "94.12.34.56"},
    {"bzq-79-12-34-56.red.bezeqint.net", "79.12.34.56"},
    {"customer-187-12-34-56.uninet-ide.com.mx", "187.12.34.56"},
    {"201-12-34-56.dsl.telesp.net.br", "201.12.34.56"},
    {"softbank126012034056.bbtec.net", "126.12.34.56"},
    {"KD111012034056.au-net.ne.jp", "111.12.34.56"},
    {"a89-152-12-34.cpe.netcabo.pt", "89.152.12.34"},
    {"cable-178-12-34-56.zeelandnet.nl", "178.12.34.56"},
    {"dsl-hkibng12-50dc12-34.dhcp.inet.fi", "80.220.12.34"},
    {"mob-5-90-12-34.net.vodafone.it", "5.90.12.34"},
    {"5-10-31-34.ftth.cust.kwaoo.net", "5.10.31.34"},
    {"2a02-8108-1c0-1234.dyn.kabel.example", "2a02:8108:1c0:1234:a1b2:c3d4:e5f6:789"},
    {"2001-db8--31-dyn.isp.example", "2001:db8::31"},
};

/* Real mail servers' names (big senders' pools among them): never generic. */
static const struct named mta_names[] = {
    {"mail-a.bigmail.example", "192.0.2.30"},
    {"mx1.example.com", "192.0.2.1"},
    {"smtp-out-12.provider.example", "198.51.100.12"},
    {"o1.email.example", "198.51.100.1"},
    {"mail-sor-f41.google.com", "209.85.220.41"},
    {"mail-ej1-f41.google.com", "209.85.218.41"},
    {"mail-yw1-f173.google.com", "209.85.128.173"},
    {"mail-pj1-x102e.google.com", "2607:f8b0:4864:20::102e"},
    {"a8-30.smtp-out.amazonses.com", "54.240.8.30"},
    {"a27-12.smtp-out.us-west-2.amazonses.com", "54.240.27.12"},
    {"mail-db8eur05on2091.outbound.protection.outlook.com", "40.107.8.91"},
    {"mail-bn8nam12on2041.outbound.protection.outlook.com", "40.107.237.41"},
    {"mail-eopbgr80130.outbound.protection.outlook.com", "40.107.8.130"},
    {"sonic301-20.consmr.mail.ne1.yahoo.com", "98.137.64.83"},
    {"mail181.suw21.mcdlv.net", "198.2.181.21"},
    {"o1678.ptr9183.sendgrid.example", "149.72.1.78"},
    {"mx0a-001b2d01.pphosted.com", "148.163.156.1"},
    {"out1-smtp.messagingengine.com", "66.111.4.25"},
    {"mout.gmx.net", "212.227.15.15"},
    {"mailout01.t-online.de", "194.25.134.20"},
    {"smtp.wanadoo.fr", "80.12.242.10"},
    {"mta-12-34.provider.example", "198.51.100.34"},
    {"mail1.host-europe.example", "192.0.2.40"},
    {"smtp.dynamics-corp.example", "192.0.2.41"},
    {"mx.cablelabs.example", "192.0.2.42"},
    {"relay.mobile.de", "192.0.2.43"},
    {"mail.dyn.com", "192.0.2.44"},
    {"mx2.mail.example", "2001:db8::25"},
    {"mail-b.bigmail.test", "2001:db8:1::31"},
};

static void test_generic_real_world(void **state)
{
	struct trust *t = make(NULL, 0, NULL, 0);

	(void)state;
	for (size_t i = 0; i < sizeof(isp_names) / sizeof(isp_names[0]); i++) {
		mxa_addr a = ip(isp_names[i].addr);

		if (!trust_is_generic(t, isp_names[i].name, &a) ||
		    !trust_is_generic(NULL, isp_names[i].name, &a))
			fail_msg("%s (%s): expected generic", isp_names[i].name, isp_names[i].addr);
	}
	for (size_t i = 0; i < sizeof(mta_names) / sizeof(mta_names[0]); i++) {
		mxa_addr a = ip(mta_names[i].addr);

		if (trust_is_generic(t, mta_names[i].name, &a) ||
		    trust_is_generic(NULL, mta_names[i].name, &a))
			fail_msg("%s (%s): expected not generic", mta_names[i].name,
			         mta_names[i].addr);
	}
	assert_true(sizeof(isp_names) / sizeof(isp_names[0]) >= 40);
	assert_true(sizeof(mta_names) / sizeof(mta_names[0]) >= 20);
	trust_free(t);
}

/* Pool words never count in the registrable domain itself, as the PSL draws it. */
static void test_generic_words_and_psl(void **state)
{
	struct trust *t = make(NULL, 0, NULL, 0);
	mxa_addr a = ip("198.51.100.32");

	(void)state;
	if (!trust_psl_available(t)) {
		trust_free(t);
		skip();
	}
	assert_false(trust_is_generic(t, "host1.cust-a.co.uk", &a));
	assert_false(trust_is_generic(t, "host2.cust-b.co.uk", &a));
	assert_false(trust_is_generic(t, "mail.dsl.co.uk", &a));
	assert_true(trust_is_generic(t, "h1.dsl.isp.co.uk", &a));
	/* without the PSL only the last two labels are spared */
	assert_true(trust_is_generic(NULL, "host1.cust-a.co.uk", &a));
	trust_free(t);
}

/* trust-domain values the daemon refuses at start and reload (daemon_check_hold()). */
static void test_public_suffix(void **state)
{
	struct trust *t = make(NULL, 0, NULL, 0);

	(void)state;
	assert_true(trust_is_public_suffix(t, "com"));
	assert_true(trust_is_public_suffix(t, "COM."));
	if (trust_psl_available(t)) {
		assert_true(trust_is_public_suffix(t, "co.uk"));
		assert_true(trust_is_public_suffix(t, "Co.UK"));
		assert_true(trust_is_public_suffix(t, "blogspot.com"));
		assert_true(trust_is_public_suffix(t, "test"));
		assert_false(trust_is_public_suffix(t, "cust-a.co.uk"));
		assert_false(trust_is_public_suffix(t, "partner.test"));
		assert_false(trust_is_public_suffix(t, "example.com"));
		assert_false(trust_is_public_suffix(t, "mail.example.com"));
	} else {
		assert_false(trust_is_public_suffix(t, "co.uk")); /* cannot tell: one label only */
	}
	trust_free(t);
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
	const char *const exclude[] = {"*.bulk.example.net"};
	struct trust *t = make(NULL, 0, exclude, 1);
	mxa_addr a = ip("198.51.100.30");
	char d[TRUST_NAME_MAX + 1];

	(void)state;
	assert_int_equal(trust_name_check(t, "198-51-100-30.dyn.bigisp.test", &a, d, sizeof(d)),
	                 TRUST_NAME_GENERIC);
	assert_int_equal(trust_name_check(t, "h1.bulk.example.net", &a, d, sizeof(d)),
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
	    cmocka_unit_test(test_registrable_domain), cmocka_unit_test(test_generic_names),
	    cmocka_unit_test(test_generic_real_world), cmocka_unit_test(test_generic_words_and_psl),
	    cmocka_unit_test(test_public_suffix),      cmocka_unit_test(test_excluded_and_trusted),
	    cmocka_unit_test(test_name_check),         cmocka_unit_test(test_member_index),
	    cmocka_unit_test(test_domain_trust_off),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
