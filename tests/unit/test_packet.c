/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "packet.h"

/* TCP header: sport 40000, dport 25, data offset 5, flags as given. */
static size_t put_tcp(uint8_t *p, uint8_t flags)
{
	memset(p, 0, 20);
	p[0] = 40000 >> 8;
	p[1] = 40000 & 0xff;
	p[3] = 25;
	p[12] = 5 << 4;
	p[13] = flags;
	return 20;
}

/* IPv4 198.51.100.1 -> 192.0.2.20 with @optlen bytes of options. */
static size_t put_v4(uint8_t *p, size_t optlen, uint8_t proto, size_t payload)
{
	size_t ihl = 20 + optlen, total = ihl + payload;

	memset(p, 0, ihl);
	p[0] = (uint8_t)(0x40 | (ihl / 4));
	p[2] = (uint8_t)(total >> 8);
	p[3] = (uint8_t)total;
	p[8] = 64;
	p[9] = proto;
	memcpy(p + 12, "\xc6\x33\x64\x01", 4);
	memcpy(p + 16, "\xc0\x00\x02\x14", 4);
	if (optlen)
		memset(p + 20, 1, optlen); /* NOPs */
	return ihl;
}

/* IPv6 2001:db8:1::1 -> 2001:db8::20, first next header @next. */
static size_t put_v6(uint8_t *p, uint8_t next, size_t payload)
{
	memset(p, 0, 40);
	p[0] = 0x60;
	p[4] = (uint8_t)(payload >> 8);
	p[5] = (uint8_t)payload;
	p[6] = next;
	p[7] = 64;
	memcpy(p + 8, "\x20\x01\x0d\xb8\x00\x01\0\0\0\0\0\0\0\0\0\x01", 16);
	memcpy(p + 24, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x20", 16);
	return 40;
}

static void expect_syn(const uint8_t *p, size_t len, const char *src, const char *dst)
{
	struct packet_info info;
	char a[ADDR_STRLEN];

	assert_int_equal(packet_parse_ip(p, len, &info), PACKET_TCP);
	assert_string_equal(addr_format(&info.src, a), src);
	assert_string_equal(addr_format(&info.dst, a), dst);
	assert_int_equal(info.sport, 40000);
	assert_int_equal(info.dport, 25);
	assert_true(packet_is_syn(&info));
}

static void test_ipv4_plain_and_options(void **state)
{
	uint8_t p[128];
	size_t n;

	(void)state;
	for (size_t opt = 0; opt <= 40; opt += 4) {
		n = put_v4(p, opt, 6, 20);
		n += put_tcp(p + n, TCP_FLAG_SYN);
		expect_syn(p, n, "198.51.100.1", "192.0.2.20");
	}
}

static void test_ipv4_not_syn_and_not_tcp(void **state)
{
	struct packet_info info;
	uint8_t p[128];
	size_t n;

	(void)state;
	n = put_v4(p, 0, 6, 20);
	n += put_tcp(p + n, TCP_FLAG_SYN | TCP_FLAG_ACK);
	assert_int_equal(packet_parse_ip(p, n, &info), PACKET_TCP);
	assert_false(packet_is_syn(&info));
	n = put_v4(p, 0, 17, 8);
	memset(p + n, 0, 8);
	assert_int_equal(packet_parse_ip(p, n + 8, &info), PACKET_NOT_TCP);
}

static void test_ipv4_fragment(void **state)
{
	struct packet_info info;
	uint8_t p[128];
	size_t n = put_v4(p, 0, 6, 20);

	(void)state;
	put_tcp(p + n, TCP_FLAG_SYN);
	p[6] = 0x00;
	p[7] = 0x10; /* offset 128 bytes: no TCP header here */
	assert_int_equal(packet_parse_ip(p, n + 20, &info), PACKET_FRAGMENT);
}

/* Addresses read, nothing more: what a capture cut short inside the headers gives. */
static void expect_truncated(const uint8_t *p, size_t len, const char *src, const char *dst)
{
	struct packet_info info;
	char a[ADDR_STRLEN];
	uint8_t *copy = malloc(len); /* a private copy: ASan/valgrind see reads past @len */

	assert_non_null(copy);
	memcpy(copy, p, len);
	assert_int_equal(packet_parse_ip(copy, len, &info), PACKET_TRUNCATED);
	free(copy);
	assert_string_equal(addr_format(&info.src, a), src);
	assert_string_equal(addr_format(&info.dst, a), dst);
	assert_int_equal(info.dport, 0);
	assert_int_equal(info.tcp_flags, 0);
}

static void test_ipv4_truncated_and_malformed(void **state)
{
	struct packet_info info;
	uint8_t p[128];
	size_t n = put_v4(p, 8, 6, 20);

	(void)state;
	n += put_tcp(p + n, TCP_FLAG_SYN);
	/* Every cut is refused or truncated, never a read past the end. */
	for (size_t len = 0; len < 20; len++) {
		uint8_t *copy = malloc(len ? len : 1);

		memcpy(copy, p, len);
		assert_int_equal(packet_parse_ip(copy, len, &info), -EBADMSG);
		free(copy);
	}
	/* From 20 bytes on the addresses are there: inside the options, inside TCP. */
	for (size_t len = 20; len < n; len++)
		expect_truncated(p, len, "198.51.100.1", "192.0.2.20");
	/* Wholly captured, but its total length leaves no room for the TCP header. */
	p[3] = 28 + 19;
	assert_int_equal(packet_parse_ip(p, n, &info), -EBADMSG);
	p[3] = 48;
	p[28 + 12] = 4 << 4; /* TCP data offset 16 bytes < 20 */
	assert_int_equal(packet_parse_ip(p, n, &info), -EBADMSG);
	p[28 + 12] = 5 << 4;
	p[0] = 0x44; /* IHL 16 bytes < 20 */
	assert_int_equal(packet_parse_ip(p, n, &info), -EBADMSG);
	p[0] = 0x4f; /* IHL 60 > what the total length holds */
	p[2] = 0;
	p[3] = 40;
	assert_int_equal(packet_parse_ip(p, n, &info), -EBADMSG);
	p[0] = 0x55; /* version 5 */
	assert_int_equal(packet_parse_ip(p, n, &info), -EBADMSG);
	assert_int_equal(packet_parse_ip(NULL, 0, &info), -EBADMSG);
}

static void test_ipv6_plain(void **state)
{
	uint8_t p[256];
	size_t n = put_v6(p, 6, 20);

	(void)state;
	n += put_tcp(p + n, TCP_FLAG_SYN);
	expect_syn(p, n, "2001:db8:1::1", "2001:db8::20");
}

static void test_ipv6_extension_headers(void **state)
{
	uint8_t p[256];
	size_t n = put_v6(p, 0, 0);

	(void)state;
	/* Hop-by-hop (8 bytes) -> destination options (16) -> fragment (first) -> AH (12) -> TCP */
	memset(p + n, 0, 8);
	p[n] = 60;
	p[n + 1] = 0;
	n += 8;
	memset(p + n, 0, 16);
	p[n] = 44;
	p[n + 1] = 1;
	n += 16;
	memset(p + n, 0, 8);
	p[n] = 51;
	p[n + 3] = 1; /* offset 0, more fragments */
	n += 8;
	memset(p + n, 0, 12);
	p[n] = 6;
	p[n + 1] = 1; /* (1 + 2) * 4 = 12 bytes */
	n += 12;
	n += put_tcp(p + n, TCP_FLAG_SYN);
	expect_syn(p, n, "2001:db8:1::1", "2001:db8::20");
}

static void test_ipv6_non_first_fragment_and_others(void **state)
{
	struct packet_info info;
	uint8_t p[256];
	size_t n = put_v6(p, 44, 0);

	(void)state;
	memset(p + n, 0, 8);
	p[n] = 6;
	p[n + 2] = 0x01; /* offset 32 */
	assert_int_equal(packet_parse_ip(p, n + 8, &info), PACKET_FRAGMENT);
	n = put_v6(p, 58, 8); /* ICMPv6 */
	assert_int_equal(packet_parse_ip(p, n + 8, &info), PACKET_NOT_TCP);
	n = put_v6(p, 59, 0); /* no next header */
	assert_int_equal(packet_parse_ip(p, n, &info), PACKET_NOT_TCP);
}

static void test_ipv6_hostile_chains(void **state)
{
	struct packet_info info;
	uint8_t p[2048];
	size_t n = put_v6(p, 60, 40 * 8 + 20);

	(void)state;
	/* A long chain of destination options: not walked forever; judged on its addresses. */
	for (int i = 0; i < 40; i++) {
		memset(p + n, 0, 8);
		p[n] = i < 39 ? 60 : 6;
		n += 8;
	}
	n += put_tcp(p + n, TCP_FLAG_SYN);
	expect_truncated(p, n, "2001:db8:1::1", "2001:db8::20");
	/* An extension header claiming more bytes than were captured. */
	n = put_v6(p, 0, 1608);
	p[n] = 6;
	p[n + 1] = 200;
	expect_truncated(p, n + 8, "2001:db8:1::1", "2001:db8::20");
	/* ... or more than the payload length says the whole packet has: malformed. */
	n = put_v6(p, 0, 8);
	assert_int_equal(packet_parse_ip(p, n + 8, &info), -EBADMSG);
	/* TCP header cut short by the capture, and by the payload length. */
	n = put_v6(p, 6, 20);
	put_tcp(p + n, TCP_FLAG_SYN);
	expect_truncated(p, n + 13, "2001:db8:1::1", "2001:db8::20");
	n = put_v6(p, 6, 13);
	assert_int_equal(packet_parse_ip(p, n + 13, &info), -EBADMSG);
	/* Payload length 0 (a jumbogram, or a lie) with the TCP header cut: truncated. */
	n = put_v6(p, 6, 0);
	expect_truncated(p, n + 13, "2001:db8:1::1", "2001:db8::20");
	/* Shorter than the fixed header: no addresses at all. */
	for (size_t len = 0; len < 40; len++)
		assert_int_equal(packet_parse_ip(p, len, &info), -EBADMSG);
}

/*
 * The attack of the hardening issue: a SYN to the real MX behind one
 * 256-byte destination options header (an unknown option, type 0x1e, that
 * receivers skip), captured with NFQUEUE's copy range of 256 bytes. The TCP
 * header lies beyond the copy; the addresses do not.
 */
static void test_ipv6_syn_behind_long_dstopts(void **state)
{
	uint8_t p[512];
	size_t n = put_v6(p, 60, 256 + 20);

	(void)state;
	memset(p + n, 0, 256);
	p[n] = 6; /* next header: TCP */
	p[n + 1] = 256 / 8 - 1;
	p[n + 2] = 0x1e;    /* option type: unknown, "skip over this option" */
	p[n + 3] = 256 - 4; /* option data length: the rest of the header */
	n += 256;
	n += put_tcp(p + n, TCP_FLAG_SYN);
	assert_int_equal(n, 40 + 256 + 20);
	expect_syn(p, n, "2001:db8:1::1", "2001:db8::20");
	expect_truncated(p, 256, "2001:db8:1::1", "2001:db8::20");
	/* Every cut that keeps the fixed header keeps the addresses. */
	for (size_t len = 40; len < n; len++)
		expect_truncated(p, len, "2001:db8:1::1", "2001:db8::20");
}

static void test_garbage_never_crashes(void **state)
{
	struct packet_info info;
	uint8_t p[96];

	(void)state;
	srand(1);
	for (int i = 0; i < 200000; i++) {
		size_t len = (size_t)rand() % sizeof(p);

		for (size_t j = 0; j < len; j++)
			p[j] = (uint8_t)rand();
		if (len)
			p[0] = (uint8_t)((rand() & 1 ? 0x40 : 0x60) | (p[0] & 0x0f));
		int r = packet_parse_ip(p, len, &info);

		assert_true(r == -EBADMSG || r == PACKET_TCP || r == PACKET_NOT_TCP ||
		            r == PACKET_FRAGMENT || r == PACKET_TRUNCATED);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ipv4_plain_and_options),
	    cmocka_unit_test(test_ipv4_not_syn_and_not_tcp),
	    cmocka_unit_test(test_ipv4_fragment),
	    cmocka_unit_test(test_ipv4_truncated_and_malformed),
	    cmocka_unit_test(test_ipv6_plain),
	    cmocka_unit_test(test_ipv6_extension_headers),
	    cmocka_unit_test(test_ipv6_non_first_fragment_and_others),
	    cmocka_unit_test(test_ipv6_hostile_chains),
	    cmocka_unit_test(test_ipv6_syn_behind_long_dstopts),
	    cmocka_unit_test(test_garbage_never_crashes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
