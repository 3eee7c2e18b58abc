/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The default capture filter, compiled by this system's libpcap for every
 * link type the daemon captures live with a filter, and run over IPv4 and
 * IPv6 SYNs: a filter that drops IPv6 SYNs loses every IPv6 client without a
 * trace (the filter before this one did so on pflog0). NFLOG takes no
 * filter: the code must refuse one.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pcap.h>

#include <cmocka.h>

#include "capture.h"
#include "pflog-fixtures.h"

typedef size_t (*fx_writer)(uint8_t *p, const char *src, const char *dst, uint16_t dport,
                            uint8_t flags);

static size_t w_pflog_openbsd(uint8_t *p, const char *src, const char *dst, uint16_t dport,
                              uint8_t flags)
{
	return fx_pflog(p, FX_OPENBSD, 1, 1, src, dst, 40000, dport, flags);
}

static size_t w_pflog_freebsd(uint8_t *p, const char *src, const char *dst, uint16_t dport,
                              uint8_t flags)
{
	return fx_pflog(p, FX_FREEBSD, 1, 1, src, dst, 40000, dport, flags);
}

/*
 * pflog0 writes its own system's address family numbers: an IPv6 record's af
 * byte is this host's AF_INET6, the one libpcap's `ip6` compares with. This
 * runs the IPv6 cases on every system, Linux included.
 */
static size_t w_pflog_host(uint8_t *p, const char *src, const char *dst, uint16_t dport,
                           uint8_t flags)
{
	size_t n = fx_pflog(p, FX_OPENBSD, 1, 1, src, dst, 40000, dport, flags);

	if (strchr(src, ':'))
		p[1] = p[62] = AF_INET6; /* af and naf */
	return n;
}

static size_t w_ether(uint8_t *p, const char *src, const char *dst, uint16_t dport, uint8_t flags)
{
	return fx_ether(p, src, dst, 40000, dport, flags);
}

static size_t w_raw(uint8_t *p, const char *src, const char *dst, uint16_t dport, uint8_t flags)
{
	return fx_ip(p, src, dst, 40000, dport, flags);
}

#ifdef DLT_LINUX_SLL
static size_t w_sll(uint8_t *p, const char *src, const char *dst, uint16_t dport, uint8_t flags)
{
	return fx_sll(p, src, dst, 40000, dport, flags);
}
#endif

struct link_case {
	const char *name;
	int dlt;
	enum link_kind kind;
	fx_writer write;
	bool v4, v6;   /* families the link type carries */
	int pflog_af6; /* pflog: the header's af byte for IPv6 (0: not pflog) */
	bool foreign;  /* a layout this libpcap cannot filter at all */
};

/*
 * OpenBSD's libpcap puts the packet at sizeof(its struct pfloghdr), 100: it
 * cannot filter FreeBSD's 72-byte layout, which pflog0 there never carries.
 * libpcap 1.x (Linux, FreeBSD) reads the header's length byte.
 */
#ifdef __OpenBSD__
#define FREEBSD_LAYOUT_FOREIGN true
#else
#define FREEBSD_LAYOUT_FOREIGN false
#endif

/*
 * Live link types with a filter: pflog0 (both layouts), Ethernet, raw IP,
 * Linux cooked. Those this libpcap does not define cannot be captured live
 * here either (the daemon still reads them from files).
 */
static const struct link_case cases[] = {
    {"pflog (OpenBSD layout)", DLT_PFLOG, LINK_PFLOG, w_pflog_openbsd, true, true, 24, false},
    {"pflog (FreeBSD layout)", DLT_PFLOG, LINK_PFLOG, w_pflog_freebsd, true, true, 28,
     FREEBSD_LAYOUT_FOREIGN},
    {"pflog (this system's af numbers)", DLT_PFLOG, LINK_PFLOG, w_pflog_host, true, true, AF_INET6,
     false},
    {"ethernet", DLT_EN10MB, LINK_EN10MB, w_ether, true, true, 0},
    {"raw", DLT_RAW, LINK_RAW, w_raw, true, true, 0},
#ifdef DLT_IPV4
    {"ipv4", DLT_IPV4, LINK_RAW, w_raw, true, false, 0},
    {"ipv6", DLT_IPV6, LINK_RAW, w_raw, false, true, 0},
#endif
#ifdef DLT_LINUX_SLL
    {"linux-sll", DLT_LINUX_SLL, LINK_LINUX_SLL, w_sll, true, true, 0},
#endif
};

static bool passes(const struct bpf_program *prog, const struct link_case *c, const char *src,
                   const char *dst, uint16_t dport, uint8_t flags)
{
	uint8_t p[256];
	struct pcap_pkthdr h = {0};
	size_t n = c->write(p, src, dst, dport, flags);

	h.caplen = h.len = (uint32_t)n;
	return pcap_offline_filter(prog, &h, p) != 0;
}

static void test_default_filter(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct link_case *c = &cases[i];
		struct bpf_program prog;
		enum link_kind kind;
		pcap_t *p;

		/* The daemon reads this link type with the expected parser. */
		assert_int_equal(capture_link_of_dlt(c->dlt, &kind), 0);
		assert_int_equal(kind, c->kind);

		if (c->foreign) {
			print_message("%s: this libpcap cannot filter it (not this system's "
			              "layout)\n",
			              c->name);
			continue;
		}
		p = pcap_open_dead(c->dlt, 1024);
		assert_non_null(p);
		if (pcap_compile(p, &prog, capture_default_filter(), 1, PCAP_NETMASK_UNKNOWN) < 0)
			fail_msg("%s: libpcap cannot compile the default filter '%s': %s", c->name,
			         capture_default_filter(), pcap_geterr(p));
		if (c->v4) {
			if (!passes(&prog, c, "198.51.100.1", "192.0.2.10", 25, FX_SYN))
				fail_msg("%s: the default filter drops an IPv4 SYN to port 25",
				         c->name);
			assert_false(passes(&prog, c, "198.51.100.1", "192.0.2.10", 587, FX_SYN));
			assert_false(
			    passes(&prog, c, "198.51.100.1", "192.0.2.10", 25, FX_SYN | FX_ACK));
			assert_false(passes(&prog, c, "198.51.100.1", "192.0.2.10", 25, FX_ACK));
		}
		if (c->v6 && c->pflog_af6 && c->pflog_af6 != AF_INET6) {
			/*
			 * libpcap compiles pflog's `ip6` as "af byte == this system's
			 * AF_INET6": it cannot match the other system's IPv6 records
			 * (TESTING-NOTES "pflog"). pflog0 only carries records of its
			 * own system, where the af byte is AF_INET6: that case is
			 * asserted when this test runs there.
			 */
			print_message("%s: IPv6 not testable here (af %d, this system's "
			              "AF_INET6 is %d)\n",
			              c->name, c->pflog_af6, AF_INET6);
		} else if (c->v6) {
			if (!passes(&prog, c, "2001:db8:1::1", "2001:db8::10", 25, FX_SYN))
				fail_msg("%s: the default filter drops an IPv6 SYN to port 25",
				         c->name);
			assert_false(
			    passes(&prog, c, "2001:db8:1::1", "2001:db8::10", 587, FX_SYN));
			/* tcp[13] is IPv4-only in libpcap: IPv6 needs the C check (below). */
			assert_true(
			    passes(&prog, c, "2001:db8:1::1", "2001:db8::10", 25, FX_SYN | FX_ACK));
		}
		pcap_freecode(&prog);
		pcap_close(p);
	}
}

/*
 * The filter of mxallowd before this one, `tcp dst port 25 and tcp[13] &
 * 0x12 = 0x02`: libpcap compiles tcp[13] for IPv4 only, so on pflog0 it let
 * no IPv6 SYN through and every IPv6 client went unseen, without a trace.
 * The default filter must let the same record through.
 */
#define OLD_FILTER "tcp dst port 25 and tcp[13] & 0x12 = 0x02"

static void test_old_filter_lost_pflog_ipv6(void **state)
{
	const struct link_case c = {"pflog", DLT_PFLOG, LINK_PFLOG, w_pflog_host,
	                            true,    true,      AF_INET6,   false};
	struct bpf_program old, def;
	pcap_t *p;

	(void)state;
	p = pcap_open_dead(DLT_PFLOG, 1024);
	assert_non_null(p);
	assert_int_equal(pcap_compile(p, &old, OLD_FILTER, 1, PCAP_NETMASK_UNKNOWN), 0);
	assert_int_equal(pcap_compile(p, &def, capture_default_filter(), 1, PCAP_NETMASK_UNKNOWN),
	                 0);
	assert_true(passes(&old, &c, "198.51.100.1", "192.0.2.10", 25, FX_SYN));
	assert_false(passes(&old, &c, "2001:db8:1::1", "2001:db8::10", 25, FX_SYN));
	assert_true(passes(&def, &c, "198.51.100.1", "192.0.2.10", 25, FX_SYN));
	assert_true(passes(&def, &c, "2001:db8:1::1", "2001:db8::10", 25, FX_SYN));
	pcap_freecode(&old);
	pcap_freecode(&def);
	pcap_close(p);
}

static char *tmp_path(void)
{
	char *path = strdup("/tmp/mxallowd-test-filter.XXXXXX");
	int fd;

	assert_non_null(path);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	return path;
}

static void count_syn(void *ctx, const struct link_record *rec, int64_t sec, uint32_t usec)
{
	(void)rec;
	(void)sec;
	(void)usec;
	(*(int *)ctx)++;
}

/* Through capture.c with the default filter: what the filter lets by, the C check sorts. */
static void test_default_filter_capture(void **state)
{
	char *path = tmp_path(), err[256];
	uint8_t p[256];
	struct capture *cap;
	FILE *f;
	int syns = 0;
	size_t n;

	(void)state;
	f = fx_pcap_open(path, FX_LINKTYPE_EN10MB);
	assert_non_null(f);
#define REC(src, dst, dport, flags)                                                                \
	do {                                                                                       \
		n = fx_ether(p, src, dst, 40000, dport, flags);                                    \
		fx_pcap_record(f, 1700000000, 0, p, n, n);                                         \
	} while (0)
	REC("198.51.100.1", "192.0.2.10", 25, FX_SYN);
	REC("2001:db8:1::1", "2001:db8::10", 25, FX_SYN);
	REC("198.51.100.1", "192.0.2.10", 587, FX_SYN);
	REC("2001:db8:1::1", "2001:db8::10", 587, FX_SYN);
	REC("198.51.100.1", "192.0.2.10", 25, FX_SYN | FX_ACK);
	REC("2001:db8:1::1", "2001:db8::10", 25, FX_SYN | FX_ACK);
#undef REC
	assert_int_equal(fclose(f), 0);

	cap = capture_open_file(path, capture_default_filter(), err, sizeof(err));
	if (!cap)
		fail_msg("capture_open_file: %s", err);
	assert_int_equal(capture_dispatch(cap, 0, count_syn, &syns, err, sizeof(err)), 3);
	assert_int_equal(syns, 2);                        /* both SYNs to port 25 */
	assert_int_equal(capture_stats(cap)->records, 3); /* + the IPv6 SYN-ACK */
	assert_int_equal(capture_stats(cap)->ignored, 1); /* ... which C drops */
	capture_close(cap);
	unlink(path);
	free(path);
}

/* libpcap cannot filter NFLOG: a configured filter is an error naming the fix. */
static void test_nflog_refuses_filter(void **state)
{
	char *path = tmp_path(), err[256] = "";
	uint8_t p[256];
	struct capture *cap;
	FILE *f;
	size_t n;

	(void)state;
	f = fx_pcap_open(path, FX_LINKTYPE_NFLOG);
	assert_non_null(f);
	n = fx_nflog(p, "mx block", "198.51.100.1", "192.0.2.10", 40000, 25, FX_SYN);
	fx_pcap_record(f, 1700000000, 0, p, n, n);
	assert_int_equal(fclose(f), 0);

	assert_null(capture_open_file(path, capture_default_filter(), err, sizeof(err)));
	if (!strstr(err, "NFLOG") || !strstr(err, "NFLOG rules"))
		fail_msg("unexpected error: %s", err);
	cap = capture_open_file(path, "", err, sizeof(err));
	if (!cap)
		fail_msg("capture_open_file without a filter: %s", err);
	assert_int_equal(capture_link(cap), LINK_NFLOG);
	capture_close(cap);
	unlink(path);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_default_filter),
	    cmocka_unit_test(test_old_filter_lost_pflog_ipv6),
	    cmocka_unit_test(test_default_filter_capture),
	    cmocka_unit_test(test_nflog_refuses_filter),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
