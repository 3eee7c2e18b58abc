/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Offline replay: captures written here from stated byte layouts, replayed
 * through the real core, compared line by line with golden files in
 * tests/unit/golden (MXA_UPDATE_GOLDEN=1 rewrites them). Bad files must give
 * an error, never a crash.
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

#include <cmocka.h>

#include "pflog-fixtures.h"
#include "replay.h"

#define T0 1700000000u /* 2023-11-14T22:13:20Z */

static mxa_addr fake[2], real[2];

static struct mx_params params(void)
{
	addr_parse(&fake[0], "192.0.2.10");
	addr_parse(&fake[1], "2001:db8::10");
	addr_parse(&real[0], "192.0.2.20");
	addr_parse(&real[1], "2001:db8::20");
	return (struct mx_params){
	    .fake = fake,
	    .n_fake = 2,
	    .real = real,
	    .n_real = 2,
	    .whitelist_time = 3600,
	    .rdns = true, /* replay turns it off: no DNS offline */
	    .rdns_max = 32,
	    .v4_prefix = 32,
	    .v6_prefix = 128,
	};
}

static char *tmp_path(void)
{
	char *path = strdup("/tmp/mxallowd-test-replay.XXXXXX");
	int fd;

	assert_non_null(path);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	return path;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = calloc(1, (size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return buf;
}

/* Replays @capture and compares the output with golden/@name. */
static void expect_golden(const char *capture, const char *name, size_t capacity)
{
	struct mx_params p = params();
	char golden[512], err[256];
	char *out = NULL, *want;
	size_t outlen = 0;
	FILE *mem = open_memstream(&out, &outlen);

	assert_non_null(mem);
	if (replay_file(capture, NULL, &p, capacity, mem, err, sizeof(err)) < 0)
		fail_msg("replay_file: %s", err);
	fclose(mem);
	snprintf(golden, sizeof(golden), "%s/%s", MXA_GOLDEN_DIR, name);
	if (getenv("MXA_UPDATE_GOLDEN")) {
		FILE *g = fopen(golden, "w");

		assert_non_null(g);
		fputs(out, g);
		fclose(g);
	}
	want = slurp(golden);
	if (!want)
		fail_msg("missing golden file %s (MXA_UPDATE_GOLDEN=1 writes it); output:\n%s",
		         golden, out);
	if (strcmp(out, want) != 0)
		fail_msg("replay output differs from %s\n--- got:\n%s--- want:\n%s", golden, out,
		         want);
	free(want);
	free(out);
}

/*
 * The pflog story (OpenBSD layout, times from T0):
 *   +0     198.51.100.1 -> fake 192.0.2.10, blocked (block return): whitelisted
 *   +1     198.51.100.1 -> real 192.0.2.20, passed by <mx-white>: accepted
 *   +2     198.51.100.3 -> real, blocked: dropped
 *   +2     198.51.100.1 -> real, ACK: ignored
 *   +3     a pflog record cut inside its header: malformed
 *   +4     2001:db8:1::1 -> fake 2001:db8::10, then +5 -> real 2001:db8::20, passed
 *   +1800  198.51.100.1 -> fake again: renewed (deadline +5400)
 *   +4000  2001:db8:1::1 expired at +3604; 2001:db8:1::1 -> real, blocked: dropped
 *   +6000  198.51.100.1 expired at +5400; -> real, logged as passed (a stale kernel
 *          table would show here as accept vs. "logged=pass" on a drop line)
 */
static void write_pflog_story(const char *path, enum fx_pflog layout)
{
	FILE *f = fx_pcap_open(path, FX_LINKTYPE_PFLOG);
	uint8_t p[256];
	size_t n;

	assert_non_null(f);
#define REC(dt, action, src, dst, flags)                                                           \
	do {                                                                                       \
		n = fx_pflog(p, layout, action, 1, src, dst, 40000, 25, flags);                    \
		fx_pcap_record(f, T0 + (dt), 0, p, n, n);                                          \
	} while (0)
	REC(0, 1, "198.51.100.1", "192.0.2.10", FX_SYN);
	REC(1, 0, "198.51.100.1", "192.0.2.20", FX_SYN);
	REC(2, 1, "198.51.100.3", "192.0.2.20", FX_SYN);
	REC(2, 0, "198.51.100.1", "192.0.2.20", FX_ACK);
	n = fx_pflog(p, layout, 0, 1, "198.51.100.1", "192.0.2.20", 40000, 25, FX_SYN);
	fx_pcap_record(f, T0 + 3, 0, p, 50, n); /* snapped inside the pf header */
	REC(4, 1, "2001:db8:1::1", "2001:db8::10", FX_SYN);
	REC(5, 0, "2001:db8:1::1", "2001:db8::20", FX_SYN);
	REC(1800, 1, "198.51.100.1", "192.0.2.10", FX_SYN);
	REC(4000, 1, "2001:db8:1::1", "2001:db8::20", FX_SYN);
	REC(6000, 0, "198.51.100.1", "192.0.2.20", FX_SYN);
#undef REC
	assert_int_equal(fclose(f), 0);
}

static void test_replay_pflog_openbsd(void **state)
{
	char *path = tmp_path();

	(void)state;
	write_pflog_story(path, FX_OPENBSD);
	expect_golden(path, "replay-pflog.txt", 1000);
	unlink(path);
	free(path);
}

/* The FreeBSD layout tells the same story: same golden file. */
static void test_replay_pflog_freebsd(void **state)
{
	char *path = tmp_path();

	(void)state;
	write_pflog_story(path, FX_FREEBSD);
	expect_golden(path, "replay-pflog.txt", 1000);
	unlink(path);
	free(path);
}

/*
 * NFLOG with prefixes, and a whitelist of 2 entries: the third fake-MX client
 * evicts the entry with the earliest deadline.
 */
static void test_replay_nflog_evict(void **state)
{
	char *path = tmp_path();
	FILE *f = fx_pcap_open(path, FX_LINKTYPE_NFLOG);
	uint8_t p[256];
	size_t n;

	(void)state;
	assert_non_null(f);
	n = fx_nflog(p, "mx fake", "198.51.100.1", "192.0.2.10", 40000, 25, FX_SYN);
	fx_pcap_record(f, T0, 0, p, n, n);
	n = fx_nflog(p, "mx fake", "198.51.100.2", "192.0.2.10", 40000, 25, FX_SYN);
	fx_pcap_record(f, T0 + 10, 0, p, n, n);
	n = fx_nflog(p, "mx fake", "2001:db8:1::4", "2001:db8::10", 40000, 25, FX_SYN);
	fx_pcap_record(f, T0 + 20, 0, p, n, n);
	n = fx_nflog(p, "mx block", "198.51.100.1", "192.0.2.20", 40000, 25, FX_SYN);
	fx_pcap_record(f, T0 + 30, 0, p, n, n);
	n = fx_nflog(p, "mx pass", "2001:db8:1::4", "2001:db8::20", 40000, 25, FX_SYN);
	fx_pcap_record(f, T0 + 31, 0, p, n, n);
	/* Out of order (merged captures): the clock does not step back. */
	n = fx_nflog(p, NULL, "198.51.100.2", "192.0.2.20", 40000, 25, FX_SYN);
	fx_pcap_record(f, T0 + 5, 0, p, n, n);
	assert_int_equal(fclose(f), 0);
	expect_golden(path, "replay-nflog-evict.txt", 2);
	unlink(path);
	free(path);
}

static void expect_replay_error(const char *path, const char *needle)
{
	struct mx_params p = params();
	char err[256] = "", *out = NULL;
	size_t outlen = 0;
	FILE *mem = open_memstream(&out, &outlen);

	assert_non_null(mem);
	assert_true(replay_file(path, NULL, &p, 100, mem, err, sizeof(err)) < 0);
	fclose(mem);
	if (!strstr(err, needle))
		fail_msg("error '%s' does not mention '%s'", err, needle);
	free(out);
}

static void test_replay_bad_files(void **state)
{
	char *path = tmp_path();
	uint8_t p[256];
	size_t n;
	FILE *f;

	(void)state;
	expect_replay_error("/nonexistent/capture.pcap", "/nonexistent/capture.pcap");

	/* Not a capture at all. */
	f = fopen(path, "w");
	fputs("this is not a pcap file, just some text long enough\n", f);
	fclose(f);
	expect_replay_error(path, path);

	/* A record cut short by the end of the file. */
	f = fx_pcap_open(path, FX_LINKTYPE_PFLOG);
	n = fx_pflog(p, FX_OPENBSD, 1, 1, "198.51.100.1", "192.0.2.10", 40000, 25, FX_SYN);
	fx_pcap_record(f, T0, 0, p, n, n);
	fx_pcap_record(f, T0 + 1, 0, p, n, n);
	fclose(f);
	assert_int_equal(truncate(path, 24 + 16 + (off_t)n + 16 + 30), 0);
	expect_replay_error(path, "truncated");

	/* A link type we do not read. */
	f = fx_pcap_open(path, 105 /* LINKTYPE_IEEE802_11 */);
	fclose(f);
	expect_replay_error(path, "not supported");

	/* A record claiming more bytes than the snapshot length allows. */
	f = fx_pcap_open(path, FX_LINKTYPE_RAW);
	n = fx_ip(p, "198.51.100.1", "192.0.2.10", 40000, 25, FX_SYN);
	fx_pcap_record(f, T0, 0, p, n, n);
	{
		uint32_t hdr[4] = {T0, 0, 0x7fffffff, 0x7fffffff};

		fwrite(hdr, sizeof(hdr), 1, f);
	}
	fclose(f);
	expect_replay_error(path, path);
	unlink(path);
	free(path);
}

/* pcapng blocks (draft-ietf-opsawg-pcapng): type, total length, body, total length again. */
static void png_block(FILE *f, uint32_t type, const void *body, size_t n)
{
	static const uint8_t pad[4];
	uint32_t len = (uint32_t)(12 + ((n + 3) & ~(size_t)3));

	fwrite(&type, 4, 1, f);
	fwrite(&len, 4, 1, f);
	fwrite(body, 1, n, f);
	fwrite(pad, 1, (4 - n % 4) % 4, f);
	fwrite(&len, 4, 1, f);
}

/* One Enhanced Packet Block: interface 0, microseconds (the default resolution). */
static void png_packet(FILE *f, uint64_t sec, const uint8_t *p, size_t n)
{
	uint8_t body[20 + 256];
	uint64_t us = sec * 1000000;
	uint32_t v[5] = {0, (uint32_t)(us >> 32), (uint32_t)us, (uint32_t)n, (uint32_t)n};

	memcpy(body, v, 20);
	memcpy(body + 20, p, n);
	png_block(f, 6, body, 20 + n);
}

/*
 * pcapng, as tcpdump/dumpcap write by default: libpcap 1.x (Linux, FreeBSD)
 * reads it; OpenBSD's libpcap reads classic pcap only and must give an error.
 */
static void test_replay_pcapng(void **state)
{
	/* Host byte order throughout, as the byte-order magic says. */
	const uint32_t magic = 0x1a2b3c4d, snaplen = 65535;
	const uint16_t version[2] = {1, 0}, linktype[2] = {FX_LINKTYPE_RAW, 0};
	const int64_t unknown_length = -1;
	uint8_t shb[16], idb[8];
	struct mx_params p = params();
	char *path = tmp_path(), err[256] = "", *out = NULL;
	uint8_t rec[256];
	size_t outlen = 0, n;
	FILE *f = fopen(path, "wb"), *mem;
	int r;

	(void)state;
	assert_non_null(f);
	memcpy(shb, &magic, 4);
	memcpy(shb + 4, version, 4);
	memcpy(shb + 8, &unknown_length, 8);
	memcpy(idb, linktype, 4); /* link type, reserved */
	memcpy(idb + 4, &snaplen, 4);
	png_block(f, 0x0a0d0d0a, shb, sizeof(shb));
	png_block(f, 1, idb, sizeof(idb));
	n = fx_ip(rec, "198.51.100.1", "192.0.2.10", 40000, 25, FX_SYN);
	png_packet(f, T0, rec, n);
	n = fx_ip(rec, "2001:db8:1::1", "2001:db8::20", 40000, 25, FX_SYN);
	png_packet(f, T0 + 1, rec, n);
	assert_int_equal(fclose(f), 0);

	mem = open_memstream(&out, &outlen);
	assert_non_null(mem);
	r = replay_file(path, NULL, &p, 100, mem, err, sizeof(err));
	fclose(mem);
#ifdef __OpenBSD__
	assert_true(r < 0);
	if (!strstr(err, path))
		fail_msg("error '%s' does not name the file", err);
#else
	if (r < 0)
		fail_msg("replay_file: %s", err);
	if (!strstr(out, "replay link=raw\n") ||
	    !strstr(out, "whitelist add addr=198.51.100.1 reason=fake-mx") ||
	    !strstr(out, "drop src=2001:db8:1::1 dst=2001:db8::20 reason=not-whitelisted\n") ||
	    !strstr(out, "stats records=2 syns=2 "))
		fail_msg("unexpected replay of a pcapng file:\n%s", out);
#endif
	free(out);
	unlink(path);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_replay_pflog_openbsd),
	    cmocka_unit_test(test_replay_pflog_freebsd),
	    cmocka_unit_test(test_replay_nflog_evict),
	    cmocka_unit_test(test_replay_bad_files),
	    cmocka_unit_test(test_replay_pcapng),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
