/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The state file: the format (src/core/statefile.c) with every truncation
 * of a small file, every flipped bit, wrong versions and impossible records;
 * the conversion of an entry to the daemon's clock; and the daemon's file
 * handling (src/daemon/state.c): save, load, the .corrupt evidence, the
 * background save, max-entries and expired entries, the longest lifetime,
 * what is planted at PATH.tmp, the directory and file owner checks; a load
 * in a memory-limited process of its own (this program run again with
 * --limited-load): its memory bounded by max-entries, and what running out
 * of memory leaves.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "build-config.h"
#include "config.h"
#include "log.h"
#include "mx.h"
#include "state.h"
#include "statefile.h"

/* ------------------------------------------------------------------ helpers */

/* This program, for the runs of --limited-load. */
static const char *self;

/*
 * The wall clock, with @skew seconds added in every process but @skew_parent:
 * a save's child that runs that much later than the daemon asked it to.
 */
static pid_t skew_parent;
static time_t skew;

time_t time(time_t *t)
{
	struct timespec ts;
	time_t v;

	clock_gettime(CLOCK_REALTIME, &ts);
	v = ts.tv_sec + (skew && getpid() != skew_parent ? skew : 0);
	if (t)
		*t = v;
	return v;
}

struct buf {
	uint8_t *p;
	size_t len, cap;
	int fail_after; /* >0: the nth write fails with -ENOSPC */
	int writes;
};

static int buf_write(void *ctx, const void *p, size_t len)
{
	struct buf *b = ctx;

	if (b->fail_after && ++b->writes >= b->fail_after)
		return -ENOSPC;
	if (b->len + len > b->cap) {
		b->cap = (b->len + len) * 2;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	memcpy(b->p + b->len, p, len);
	b->len += len;
	return 0;
}

/* The reasons a file holds: static networks live in the allow lists, never in the file. */
static const enum wl_reason reasons[] = {WL_REASON_FAKE_MX, WL_REASON_RDNS_SIBLING,
                                         WL_REASON_MANUAL,  WL_REASON_RDNS_DOMAIN,
                                         WL_REASON_TRUSTED, WL_REASON_PEER};

static struct wl_entry sample(uint32_t i)
{
	struct wl_entry e = {0};
	uint8_t v4[4] = {198, 51, (uint8_t)(i >> 8), (uint8_t)i};
	uint8_t o4[4] = {192, 0, 2, 10};

	if (i % 3 == 2) {
		memset(e.addr.b, 0, 16);
		e.addr.b[0] = 0x20;
		e.addr.b[1] = 0x01;
		e.addr.b[2] = 0x0d;
		e.addr.b[3] = 0xb8;
		e.addr.b[12] = (uint8_t)(i >> 24);
		e.addr.b[13] = (uint8_t)(i >> 16);
		e.addr.b[14] = (uint8_t)(i >> 8);
		e.addr.b[15] = (uint8_t)i;
	} else {
		addr_from_v4(&e.addr, v4);
	}
	addr_from_v4(&e.origin, o4);
	e.deadline = 1700000000 + (mxa_time)i;
	e.reason = reasons[i % 6];
	e.used = i % 2;
	e.last_use = e.used ? 1699990000 + (mxa_time)i : 0;
	e.rdns_done = i % 4 == 1;
	return e;
}

static bool same_entry(const struct wl_entry *a, const struct wl_entry *b)
{
	return addr_equal(&a->addr, &b->addr) && addr_equal(&a->origin, &b->origin) &&
	       a->deadline == b->deadline && a->last_use == b->last_use && a->reason == b->reason &&
	       a->used == b->used && a->rdns_done == b->rdns_done;
}

/* A file of @n sample entries. */
static struct buf encode(size_t n)
{
	struct buf b = {0};
	struct statefile_enc *enc = statefile_enc_new(buf_write, &b);
	struct statefile_header h = {.saved_at = 1699999999, .v4_prefix = 32, .v6_prefix = 64};

	assert_non_null(enc);
	assert_int_equal(statefile_enc_header(enc, &h), 0);
	for (size_t i = 0; i < n; i++) {
		struct wl_entry e = sample((uint32_t)i);

		assert_int_equal(statefile_enc_entry(enc, &e), 0);
	}
	assert_int_equal(statefile_enc_finish(enc), 0);
	assert_int_equal(statefile_enc_count(enc), n);
	statefile_enc_free(enc);
	return b;
}

/* What a decode delivered. */
struct got {
	struct wl_entry v[4096];
	size_t n;
	int stop_at; /* >0: return -ENOMEM at this entry */
};

static int collect(void *ctx, const struct wl_entry *e)
{
	struct got *g = ctx;

	if (g->stop_at && (int)g->n + 1 == g->stop_at)
		return -ENOMEM;
	assert_true(g->n < 4096);
	g->v[g->n++] = *e;
	return 0;
}

/* Every delivered entry is one that was written, each at most once. */
static void assert_only_written(const struct got *g, size_t written)
{
	for (size_t i = 0; i < g->n; i++) {
		bool found = false;

		for (size_t j = 0; j < written && !found; j++) {
			struct wl_entry e = sample((uint32_t)j);

			found = same_entry(&g->v[i], &e);
		}
		assert_true(found);
		for (size_t k = i + 1; k < g->n; k++)
			assert_false(same_entry(&g->v[i], &g->v[k]));
	}
}

static size_t file_size(size_t n)
{
	size_t blocks = (n + STATEFILE_BLOCK_RECORDS - 1) / STATEFILE_BLOCK_RECORDS;

	return STATEFILE_HEADER_SIZE + blocks * 12 + n * STATEFILE_RECORD_SIZE + STATEFILE_END_SIZE;
}

static void put32le(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Recomputes the CRC of the @len bytes at @p, stored right after them. */
static void recrc(uint8_t *p, size_t len)
{
	struct statefile_crc c;

	statefile_crc_init(&c);
	put32le(p + len, statefile_crc32(&c, 0, p, len));
}

/* ------------------------------------------------------------------ format */

static void test_crc32_known_answer(void **state)
{
	struct statefile_crc c;

	(void)state;
	statefile_crc_init(&c);
	/* The CRC-32 check value (zlib's crc32(), IEEE 802.3). */
	assert_int_equal(statefile_crc32(&c, 0, "123456789", 9), 0xCBF43926u);
	assert_int_equal(statefile_crc32(&c, statefile_crc32(&c, 0, "1234", 4), "56789", 5),
	                 0xCBF43926u);
	assert_int_equal(statefile_crc32(&c, 0, "", 0), 0);
}

static void test_layout(void **state)
{
	struct buf b = encode(1);
	const uint8_t *r = b.p + STATEFILE_HEADER_SIZE + 8;

	(void)state;
	assert_int_equal(b.len, file_size(1));
	assert_memory_equal(b.p, "MXASTATE", 8);
	assert_int_equal(b.p[8], 1); /* version, little-endian */
	assert_int_equal(b.p[12], STATEFILE_RECORD_SIZE);
	assert_int_equal(b.p[16], 1699999999 & 0xff);
	assert_int_equal(b.p[24], 32);
	assert_int_equal(b.p[25], 64);
	/* Block 0 with one record; the record's address is v4-mapped 198.51.0.0. */
	assert_int_equal(b.p[STATEFILE_HEADER_SIZE], 0);
	assert_int_equal(b.p[STATEFILE_HEADER_SIZE + 4], 1);
	assert_int_equal(r[10], 0xff);
	assert_int_equal(r[12], 198);
	assert_int_equal(r[48], 1); /* reason fake-mx */
	/* The end block: number 1, no records, total 1. */
	assert_int_equal(b.p[b.len - 20], 1);
	assert_int_equal(b.p[b.len - 16], 0);
	assert_int_equal(b.p[b.len - 12], 1);
	free(b.p);
}

static void roundtrip(size_t n)
{
	struct buf b = encode(n);
	struct got *g = calloc(1, sizeof(*g));
	struct statefile_result res;

	assert_non_null(g);
	assert_int_equal(b.len, file_size(n));
	assert_int_equal(statefile_decode(b.p, b.len, collect, g, &res), 0);
	assert_int_equal(res.problem, STATEFILE_OK);
	assert_true(res.header_ok);
	assert_int_equal(res.header.saved_at, 1699999999);
	assert_int_equal(res.header.v4_prefix, 32);
	assert_int_equal(res.header.v6_prefix, 64);
	assert_int_equal(res.entries, n);
	assert_int_equal(res.skipped, 0);
	assert_int_equal(g->n, n);
	for (size_t i = 0; i < n; i++) {
		struct wl_entry e = sample((uint32_t)i);

		assert_true(same_entry(&g->v[i], &e));
	}
	free(g);
	free(b.p);
}

static void test_roundtrip(void **state)
{
	(void)state;
	roundtrip(0);
	roundtrip(1);
	roundtrip(STATEFILE_BLOCK_RECORDS - 1);
	roundtrip(STATEFILE_BLOCK_RECORDS);
	roundtrip(STATEFILE_BLOCK_RECORDS + 1);
	roundtrip(3 * STATEFILE_BLOCK_RECORDS + 7);
}

/* Every length of a 3-entry file short of the whole: an error, never a wrong entry. */
static void test_every_truncation(void **state)
{
	struct buf b = encode(3);
	struct got *g = calloc(1, sizeof(*g));
	struct statefile_result res;

	(void)state;
	assert_non_null(g);
	for (size_t len = 0; len < b.len; len++) {
		uint8_t *copy = malloc(len ? len : 1); /* exactly @len: ASan sees any overread */

		memcpy(copy, b.p, len);
		g->n = 0;
		assert_int_equal(statefile_decode(copy, len, collect, g, &res), -EBADMSG);
		assert_int_equal(res.problem, len == 0  ? STATEFILE_EMPTY
		                              : len < 8 ? STATEFILE_NOT_STATE
		                                        : STATEFILE_TRUNCATED);
		/* The block is whole only once its checksum is: all 3 entries, or none. */
		assert_int_equal(g->n, len >= b.len - STATEFILE_END_SIZE ? 3 : 0);
		assert_only_written(g, 3);
		assert_true(res.what[0] != 0);
		free(copy);
	}
	free(g);
	free(b.p);
}

/* A file of two blocks cut anywhere keeps the first block once that is whole. */
static void test_truncation_keeps_whole_blocks(void **state)
{
	size_t n = STATEFILE_BLOCK_RECORDS + 5, first_end;
	struct buf b = encode(n);
	struct got *g = calloc(1, sizeof(*g));
	struct statefile_result res;

	(void)state;
	assert_non_null(g);
	first_end = STATEFILE_HEADER_SIZE + 12 + STATEFILE_BLOCK_RECORDS * STATEFILE_RECORD_SIZE;
	for (size_t len = 0; len < b.len; len += len < 64 || b.len - len < 80 ? 1 : 997) {
		g->n = 0;
		assert_int_equal(statefile_decode(b.p, len, collect, g, &res), -EBADMSG);
		assert_int_equal(g->n, len >= b.len - STATEFILE_END_SIZE ? n
		                       : len >= first_end                ? STATEFILE_BLOCK_RECORDS
		                                                         : 0);
		assert_only_written(g, n);
	}
	/* Cut right after the first block: exactly its entries, and "truncated". */
	g->n = 0;
	assert_int_equal(statefile_decode(b.p, first_end, collect, g, &res), -EBADMSG);
	assert_int_equal(res.problem, STATEFILE_TRUNCATED);
	assert_int_equal(g->n, STATEFILE_BLOCK_RECORDS);
	assert_int_equal(res.entries, STATEFILE_BLOCK_RECORDS);
	free(g);
	free(b.p);
}

/* Every single bit flipped anywhere in a small file is found; no changed entry gets out. */
static void test_every_bit_flip(void **state)
{
	struct buf b = encode(3);
	struct got *g = calloc(1, sizeof(*g));
	struct statefile_result res;
	uint8_t *copy = malloc(b.len);

	(void)state;
	assert_non_null(g);
	for (size_t i = 0; i < b.len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			memcpy(copy, b.p, b.len);
			copy[i] ^= (uint8_t)(1u << bit);
			g->n = 0;
			assert_int_equal(statefile_decode(copy, b.len, collect, g, &res), -EBADMSG);
			assert_int_not_equal(res.problem, STATEFILE_OK);
			assert_only_written(g, 3);
			/* A damaged end block costs nothing that was already read. */
			assert_int_equal(g->n, i >= b.len - STATEFILE_END_SIZE ? 3 : 0);
		}
	}
	free(copy);
	free(g);
	free(b.p);
}

/* A damaged block costs its own records: the blocks after it still load. */
static void test_damaged_block_skipped(void **state)
{
	size_t n = 2 * STATEFILE_BLOCK_RECORDS + 10;
	struct buf b = encode(n);
	struct got *g = calloc(1, sizeof(*g));
	struct statefile_result res;

	(void)state;
	assert_non_null(g);
	/* A byte inside the first record of block 1. */
	b.p[file_size(STATEFILE_BLOCK_RECORDS) - STATEFILE_END_SIZE + 8 + 20] ^= 0x40;
	assert_int_equal(statefile_decode(b.p, b.len, collect, g, &res), -EBADMSG);
	assert_int_equal(res.problem, STATEFILE_BAD_BLOCK);
	assert_int_equal(g->n, STATEFILE_BLOCK_RECORDS + 10);
	assert_int_equal(res.skipped, STATEFILE_BLOCK_RECORDS);
	assert_non_null(strstr(res.what, "block 1"));
	assert_only_written(g, n);
	free(g);
	free(b.p);
}

static void test_wrong_version(void **state)
{
	struct buf b = encode(2);
	struct got *g = calloc(1, sizeof(*g));
	struct statefile_result res;

	(void)state;
	assert_non_null(g);
	/* A future version with a checksum that holds: refused by its version, not loaded. */
	put32le(b.p + 8, 2);
	recrc(b.p, 28);
	assert_int_equal(statefile_decode(b.p, b.len, collect, g, &res), -EBADMSG);
	assert_int_equal(res.problem, STATEFILE_BAD_VERSION);
	assert_int_equal(g->n, 0);
	assert_non_null(strstr(res.what, "version 2"));
	/* Version 0 too. */
	put32le(b.p + 8, 0);
	recrc(b.p, 28);
	assert_int_equal(statefile_decode(b.p, b.len, collect, g, &res), -EBADMSG);
	assert_int_equal(res.problem, STATEFILE_BAD_VERSION);
	free(g);
	free(b.p);
}

static void test_foreign_and_empty(void **state)
{
	const char text[] = "fake-mailserver 192.0.2.10\n";
	struct got *g = calloc(1, sizeof(*g));
	struct statefile_result res;

	(void)state;
	assert_non_null(g);
	assert_int_equal(statefile_decode(text, sizeof(text) - 1, collect, g, &res), -EBADMSG);
	assert_int_equal(res.problem, STATEFILE_NOT_STATE);
	assert_int_equal(statefile_decode(text, 0, collect, g, &res), -EBADMSG);
	assert_int_equal(res.problem, STATEFILE_EMPTY);
	assert_int_equal(g->n, 0);
	free(g);
}

static void test_header_fields(void **state)
{
	struct buf b = encode(1);
	struct got *g = calloc(1, sizeof(*g));
	struct statefile_result res;

	(void)state;
	assert_non_null(g);
	b.p[24] = 33; /* an IPv4 prefix of 33 bits, checksum fixed */
	recrc(b.p, 28);
	assert_int_equal(statefile_decode(b.p, b.len, collect, g, &res), -EBADMSG);
	assert_int_equal(res.problem, STATEFILE_BAD_HEADER);
	assert_int_equal(g->n, 0);
	free(g);
	free(b.p);
}

static void test_impossible_record(void **state)
{
	struct buf b = encode(3);
	struct got *g = calloc(1, sizeof(*g));
	struct statefile_result res;
	size_t block = STATEFILE_HEADER_SIZE, rec = block + 8 + STATEFILE_RECORD_SIZE;

	(void)state;
	assert_non_null(g);
	b.p[rec + 48] = 9; /* reason 9 does not exist; the block's checksum made to hold */
	recrc(b.p + block, 8 + 3 * STATEFILE_RECORD_SIZE);
	assert_int_equal(statefile_decode(b.p, b.len, collect, g, &res), -EBADMSG);
	assert_int_equal(res.problem, STATEFILE_BAD_RECORD);
	assert_int_equal(g->n, 2);
	assert_int_equal(res.skipped, 1);
	assert_only_written(g, 3);
	free(g);
	free(b.p);
}

/* Static networks live in the allow lists: a record that claims one is refused. */
static void test_static_record_refused(void **state)
{
	struct buf b = encode(3), o = {0};
	struct got *g = calloc(1, sizeof(*g));
	struct statefile_enc *enc = statefile_enc_new(buf_write, &o);
	struct statefile_header h = {.saved_at = 1, .v4_prefix = 32, .v6_prefix = 128};
	struct statefile_result res;
	struct wl_entry e = sample(0);
	size_t block = STATEFILE_HEADER_SIZE, rec = block + 8 + STATEFILE_RECORD_SIZE;

	(void)state;
	assert_non_null(g);
	assert_non_null(enc);
	assert_int_equal(statefile_enc_header(enc, &h), 0);
	e.reason = WL_REASON_STATIC;
	assert_int_equal(statefile_enc_entry(enc, &e), -EINVAL); /* never written */
	statefile_enc_free(enc);
	free(o.p);
	/* One in a file whose checksums hold: skipped as impossible, the others delivered. */
	b.p[rec + 48] = WL_REASON_STATIC;
	recrc(b.p + block, 8 + 3 * STATEFILE_RECORD_SIZE);
	assert_int_equal(statefile_decode(b.p, b.len, collect, g, &res), -EBADMSG);
	assert_int_equal(res.problem, STATEFILE_BAD_RECORD);
	assert_int_equal(res.skipped, 1);
	assert_int_equal(g->n, 2);
	for (size_t i = 0; i < g->n; i++)
		assert_int_not_equal(g->v[i].reason, WL_REASON_STATIC);
	assert_only_written(g, 3);
	free(g);
	free(b.p);
}

/* Hands out a file @step bytes at a time; from byte @fail_at on, -EIO. */
struct chunks {
	const uint8_t *p;
	size_t len, at, step, fail_at;
};

static ssize_t chunk_read(void *ctx, void *buf, size_t len)
{
	struct chunks *c = ctx;
	size_t n = c->len - c->at;

	if (c->fail_at && c->at >= c->fail_at)
		return -EIO;
	if (n > len)
		n = len;
	if (n > c->step)
		n = c->step;
	if (c->fail_at && c->at + n > c->fail_at)
		n = c->fail_at - c->at;
	memcpy(buf, c->p + c->at, n);
	c->at += n;
	return (ssize_t)n;
}

/* The decoder reads the file in pieces of any size; a read error keeps what came before. */
static void test_decode_read(void **state)
{
	static const size_t steps[] = {1, 7, 52, 4096, 1 << 20};
	size_t n = 2 * STATEFILE_BLOCK_RECORDS + 10, fail_at = file_size(STATEFILE_BLOCK_RECORDS);
	struct buf b = encode(n);
	struct got *g = calloc(1, sizeof(*g));
	struct statefile_result res;
	struct chunks c;

	(void)state;
	assert_non_null(g);
	for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
		c = (struct chunks){.p = b.p, .len = b.len, .step = steps[k]};
		g->n = 0;
		assert_int_equal(statefile_decode_read(chunk_read, &c, collect, g, &res), 0);
		assert_int_equal(res.entries, n);
		assert_int_equal(g->n, n);
		for (size_t i = 0; i < n; i++) {
			struct wl_entry e = sample((uint32_t)i);

			assert_true(same_entry(&g->v[i], &e));
		}
	}
	/* Failing in the middle of block 1 (the end block's bytes count from here). */
	fail_at = fail_at - STATEFILE_END_SIZE + 100;
	c = (struct chunks){.p = b.p, .len = b.len, .step = 4096, .fail_at = fail_at};
	g->n = 0;
	assert_int_equal(statefile_decode_read(chunk_read, &c, collect, g, &res), -EBADMSG);
	assert_int_equal(res.problem, STATEFILE_READ_ERROR);
	assert_int_equal(res.offset, fail_at);
	assert_int_equal(g->n, STATEFILE_BLOCK_RECORDS);
	assert_non_null(strstr(res.what, "read error at byte"));
	assert_only_written(g, n);
	free(g);
	free(b.p);
}

static void test_trailing_and_count(void **state)
{
	struct buf b = encode(3);
	struct got *g = calloc(1, sizeof(*g));
	struct statefile_result res;
	uint8_t *longer = malloc(b.len + 1);

	(void)state;
	assert_non_null(g);
	memcpy(longer, b.p, b.len);
	longer[b.len] = 0;
	assert_int_equal(statefile_decode(longer, b.len + 1, collect, g, &res), -EBADMSG);
	assert_int_equal(res.problem, STATEFILE_TRAILING);
	assert_int_equal(g->n, 3);
	/* An end block counting 4 with its checksum made to hold. */
	b.p[b.len - 12] = 4;
	recrc(b.p + b.len - STATEFILE_END_SIZE, 16);
	g->n = 0;
	assert_int_equal(statefile_decode(b.p, b.len, collect, g, &res), -EBADMSG);
	assert_int_equal(res.problem, STATEFILE_BAD_COUNT);
	assert_int_equal(g->n, 3);
	free(longer);
	free(g);
	free(b.p);
}

static void test_callback_stops(void **state)
{
	struct buf b = encode(10);
	struct got *g = calloc(1, sizeof(*g));
	struct statefile_result res;

	(void)state;
	assert_non_null(g);
	g->stop_at = 4;
	assert_int_equal(statefile_decode(b.p, b.len, collect, g, &res), -ENOMEM);
	assert_int_equal(g->n, 3);
	free(g);
	free(b.p);
}

static void test_encoder_refuses(void **state)
{
	struct buf b = {0};
	struct statefile_enc *enc = statefile_enc_new(buf_write, &b);
	struct statefile_header h = {.saved_at = 1, .v4_prefix = 32, .v6_prefix = 128};
	struct wl_entry e = sample(0);

	(void)state;
	assert_non_null(enc);
	assert_int_equal(statefile_enc_entry(enc, &e), -EINVAL); /* before the header */
	assert_int_equal(statefile_enc_header(enc, &h), 0);
	assert_int_equal(statefile_enc_header(enc, &h), -EINVAL);
	e.reason = (enum wl_reason)0;
	assert_int_equal(statefile_enc_entry(enc, &e), -EINVAL);
	e = sample(0);
	e.deadline = 0;
	assert_int_equal(statefile_enc_entry(enc, &e), -EINVAL);
	e = sample(1);
	e.last_use = 0; /* used without a time */
	assert_int_equal(statefile_enc_entry(enc, &e), -EINVAL);
	assert_int_equal(statefile_enc_count(enc), 0);
	statefile_enc_free(enc);
	free(b.p);
	/* A failed write stays failed. */
	b = (struct buf){.fail_after = 2};
	enc = statefile_enc_new(buf_write, &b);
	assert_int_equal(statefile_enc_header(enc, &h), 0);
	for (uint32_t i = 0; i < STATEFILE_BLOCK_RECORDS - 1; i++) {
		e = sample(i);
		assert_int_equal(statefile_enc_entry(enc, &e), 0);
	}
	e = sample(5);
	assert_int_equal(statefile_enc_entry(enc, &e), -ENOSPC);
	assert_int_equal(statefile_enc_finish(enc), -ENOSPC);
	statefile_enc_free(enc);
	free(b.p);
}

/* A file entry on the daemon's clock: deadlines kept, shortened past the limit, or expired. */
static void test_entry_to_clock(void **state)
{
	const int64_t wall = 1700000000;
	struct wl_entry fe = sample(1), e; /* used */

	(void)state;
	/* 35 days ahead, used 60 s ago, on a clock that reads 500 now. */
	fe.deadline = wall + 35 * 86400;
	fe.last_use = wall - 60;
	fe.used = true;
	memset(&e, 0xa5, sizeof(e));
	assert_int_equal(statefile_entry_to_clock(&fe, wall, 500, 3110400, 1 << 30, &e),
	                 STATEFILE_FIT_OK);
	assert_int_equal(e.deadline, 500 + 35 * 86400);
	assert_int_equal(e.last_use, 440);
	assert_true(addr_equal(&e.addr, &fe.addr));
	assert_true(addr_equal(&e.origin, &fe.origin));
	assert_int_equal(e.reason, fe.reason);
	assert_true(e.used);
	assert_int_equal(e.rdns_done, fe.rdns_done);
	/* The same entry where the longest lifetime is 24.8 days: shortened to it. */
	assert_int_equal(statefile_entry_to_clock(&fe, wall, 500, 2147483, 1 << 30, &e),
	                 STATEFILE_FIT_SHORTENED);
	assert_int_equal(e.deadline, 500 + 2147483);
	/* Exactly at the limit is not shortened. */
	fe.deadline = wall + 2147483;
	assert_int_equal(statefile_entry_to_clock(&fe, wall, 500, 2147483, 1 << 30, &e),
	                 STATEFILE_FIT_OK);
	assert_int_equal(e.deadline, 500 + 2147483);
	/* A last use in the future is now; one too far back is moved up. */
	fe.last_use = wall + 100;
	assert_int_equal(statefile_entry_to_clock(&fe, wall, 500, 2147483, 1 << 30, &e),
	                 STATEFILE_FIT_OK);
	assert_int_equal(e.last_use, 500);
	fe.last_use = 1;
	assert_int_equal(statefile_entry_to_clock(&fe, wall, 500, 2147483, 1000, &e),
	                 STATEFILE_FIT_OK);
	assert_int_equal(e.last_use, -500);
	/* Never used: no last use, whatever the field held. */
	fe.used = false;
	fe.last_use = 0;
	assert_int_equal(statefile_entry_to_clock(&fe, wall, 500, 2147483, 1 << 30, &e),
	                 STATEFILE_FIT_OK);
	assert_int_equal(e.last_use, 0);
	assert_false(e.used);
	/* A deadline now or before: expired, *out untouched. */
	memset(&e, 0, sizeof(e));
	fe.deadline = wall;
	assert_int_equal(statefile_entry_to_clock(&fe, wall, 500, 2147483, 1 << 30, &e),
	                 STATEFILE_FIT_EXPIRED);
	fe.deadline = 1;
	assert_int_equal(statefile_entry_to_clock(&fe, wall, 500, 2147483, 1 << 30, &e),
	                 STATEFILE_FIT_EXPIRED);
	assert_int_equal(e.deadline, 0);
	/* The largest deadline a valid record holds does not overflow. */
	fe.deadline = INT64_MAX;
	assert_int_equal(statefile_entry_to_clock(&fe, wall, 500, 31536000, 1 << 30, &e),
	                 STATEFILE_FIT_SHORTENED);
	assert_int_equal(e.deadline, 500 + 31536000);
}

/* ------------------------------------------------------------------ the daemon's file */

static const uint64_t key[2] = {1, 2};

struct fixture {
	char dir[64];
	char path[96];
	char corrupt[112];
	struct config cfg;
	mxa_addr fake, real;
	struct mx_params p;
	int added; /* sink: entries put through added() */
};

static void fx_added(void *ctx, const struct wl_entry *e, bool renewed, const char *name,
                     mxa_time now)
{
	struct fixture *f = ctx;

	(void)e;
	(void)renewed;
	(void)name;
	(void)now;
	f->added++;
}

static int fx_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[CONFIG_ERRLEN];

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/mxa-state.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/whitelist.state", f->dir);
	snprintf(f->corrupt, sizeof(f->corrupt), "%s.corrupt", f->path);
	config_init(&f->cfg);
	assert_int_equal(config_set(&f->cfg, "state-file", f->path, "test", err, sizeof(err)), 0);
	assert_int_equal(addr_parse(&f->fake, "192.0.2.10"), 0);
	assert_int_equal(addr_parse(&f->real, "192.0.2.20"), 0);
	f->p = (struct mx_params){.fake = &f->fake,
	                          .n_fake = 1,
	                          .real = &f->real,
	                          .n_real = 1,
	                          .whitelist_time = 3600,
	                          .v4_prefix = 32,
	                          .v6_prefix = 128};
	log_open(true, true); /* errors on stdout */
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	config_clear(&f->cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static struct mx *fx_mx(struct fixture *f, mxa_time now)
{
	struct mx_sink sink = {.ctx = f, .added = fx_added};
	struct mx *mx = mx_new(&f->p, f->cfg.max_entries, key, &sink, now);

	assert_non_null(mx);
	return mx;
}

static mxa_addr client(uint32_t i)
{
	uint8_t v4[4] = {198, 51, (uint8_t)(100 + (i >> 8)), (uint8_t)i};
	mxa_addr a;

	addr_from_v4(&a, v4);
	return a;
}

/* A running daemon's whitelist of @n fake-MX clients, the odd ones used once. */
static struct mx *fx_filled(struct fixture *f, uint32_t n, mxa_time now)
{
	struct mx *mx = fx_mx(f, now);

	for (uint32_t i = 0; i < n; i++) {
		mxa_addr c = client(i);

		mx_syn(mx, &c, &f->fake, now + i % 5);
		if (i % 2)
			assert_int_equal(mx_syn(mx, &c, &f->real, now + 5), MX_ALLOW);
	}
	return mx;
}

/* Start-up as the daemon does it: a state, its load, a whitelist, the restore. */
static struct mx *fx_start(struct fixture *f, struct state **s, mxa_time now)
{
	char err[CONFIG_ERRLEN];
	struct mx *mx;

	assert_int_equal(state_new(&f->cfg, s, err, sizeof(err)), 0);
	assert_non_null(*s);
	state_load(*s, &f->cfg, now);
	f->added = 0;
	mx = fx_mx(f, state_epoch(*s, now));
	state_restore(*s, mx, now);
	state_arm(*s, 0, now);
	return mx;
}

static bool exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static void write_file(const char *path, const void *p, size_t len)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(p, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static struct buf read_whole(const char *path)
{
	struct buf b = {0};
	struct stat st;
	FILE *fp = fopen(path, "rb");

	assert_non_null(fp);
	assert_int_equal(fstat(fileno(fp), &st), 0);
	b.len = b.cap = (size_t)st.st_size;
	b.p = malloc(b.len ? b.len : 1);
	assert_non_null(b.p);
	assert_int_equal(fread(b.p, 1, b.len, fp), b.len);
	fclose(fp);
	return b;
}

static off_t size_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

static void test_save_and_load(void **state)
{
	struct fixture *f = *state;
	struct mx *mx = fx_filled(f, 300, 1000), *mx2;
	struct state *s, *s2;
	struct state_stats st;
	struct wl_entry a, b;
	mxa_addr c;

	assert_int_equal(state_new(&f->cfg, &s, (char[CONFIG_ERRLEN]){0}, CONFIG_ERRLEN), 0);
	state_load(s, &f->cfg, 1000); /* no file yet */
	state_arm(s, 0, 1000);
	assert_int_equal(state_save_final(s, mx, &f->cfg, 1, 1010), 0);
	assert_true(exists(f->path));
	state_stats(s, 1010, &st);
	assert_int_equal(st.saves, 1);
	s = state_free(s);

	/* A restart 5 s later on a monotonic clock that began again: same absolute deadlines. */
	mx2 = fx_start(f, &s2, 50);
	assert_int_equal(f->added, 300);
	state_stats(s2, 50, &st);
	assert_int_equal(st.loaded, 300);
	assert_false(exists(f->corrupt));
	for (uint32_t i = 0; i < 300; i++) {
		c = client(i);
		assert_true(whitelist_lookup(mx_whitelist(mx), &c, 1010, &a));
		assert_true(whitelist_lookup(mx_whitelist(mx2), &c, 50, &b));
		/* Whole seconds on two clocks taken one after the other: within a second. */
		assert_true(llabs((a.deadline - 1010) - (b.deadline - 50)) <= 1);
		assert_int_equal(a.reason, b.reason);
		assert_true(addr_equal(&a.origin, &b.origin));
		assert_int_equal(a.used, b.used);
		assert_int_equal(a.rdns_done, b.rdns_done);
		if (a.used)
			assert_true(llabs((a.last_use - 1010) - (b.last_use - 50)) <= 1);
	}
	/* Nothing changed since the load: the exit does not write. */
	assert_int_equal(state_save_final(s2, mx2, &f->cfg, 0, 60), 0);
	state_stats(s2, 60, &st);
	assert_int_equal(st.saves, 0);
	state_free(s2);
	mx_free(mx2);
	mx_free(mx);
}

static void test_background_save(void **state)
{
	struct fixture *f = *state;
	struct mx *mx = fx_filled(f, 2000, 1000), *mx2;
	struct state *s, *s2;
	struct state_stats st;

	assert_int_equal(state_new(&f->cfg, &s, (char[CONFIG_ERRLEN]){0}, CONFIG_ERRLEN), 0);
	state_load(s, &f->cfg, 1000);
	state_arm(s, 0, 1000);
	f->cfg.save_interval = 10;
	state_tick(s, mx, &f->cfg, 7, 1005); /* changed, but not due yet */
	state_stats(s, 1005, &st);
	assert_int_equal(st.saves + st.save_errors, 0);
	assert_int_equal(st.age, 5);
	assert_false(exists(f->path));
	state_tick(s, mx, &f->cfg, 7, 1010); /* due: a child writes */
	assert_int_equal(state_save_start(s, mx, &f->cfg, 7, 1010), -EBUSY);
	assert_int_equal(state_save_wait(s, 1011), 0);
	state_stats(s, 1011, &st);
	assert_int_equal(st.saves, 1);
	assert_int_equal(st.save_errors, 0);
	assert_int_equal(st.age, 1);         /* the file holds the whitelist of 1010 */
	state_tick(s, mx, &f->cfg, 7, 1030); /* nothing changed since: no save, age 0 */
	state_stats(s, 1030, &st);
	assert_int_equal(st.saves, 1);
	assert_int_equal(st.age, 0);
	state_free(s);
	mx2 = fx_start(f, &s2, 1030);
	assert_int_equal(whitelist_size(mx_whitelist(mx2)), 2000);
	state_free(s2);
	mx_free(mx2);
	mx_free(mx);
}

/* A damaged file: one line, the evidence kept as .corrupt, the valid part loaded. */
static void test_corrupt_file_renamed(void **state)
{
	struct fixture *f = *state;
	struct mx *mx = fx_filled(f, 1500, 1000), *mx2;
	struct state *s;
	struct stat st;
	FILE *fp;
	uint8_t *data;

	assert_int_equal(state_new(&f->cfg, &s, (char[CONFIG_ERRLEN]){0}, CONFIG_ERRLEN), 0);
	state_arm(s, 0, 1000);
	assert_int_equal(state_save_final(s, mx, &f->cfg, 1, 1000), 0);
	state_free(s);
	/* Cut inside the second block: the first block's 1024 entries still load. */
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(truncate(f->path, st.st_size - 100), 0);
	mx2 = fx_start(f, &s, 1000);
	assert_int_equal(whitelist_size(mx_whitelist(mx2)), STATEFILE_BLOCK_RECORDS);
	assert_true(exists(f->corrupt));
	assert_false(exists(f->path));
	state_free(s);
	mx_free(mx2);
	/* Garbage: nothing loads, the daemon starts empty; the older evidence is replaced. */
	write_file(f->path, "garbage", 7);
	mx2 = fx_start(f, &s, 1000);
	assert_int_equal(whitelist_size(mx_whitelist(mx2)), 0);
	assert_false(exists(f->path));
	fp = fopen(f->corrupt, "rb");
	assert_non_null(fp);
	data = calloc(1, 16);
	assert_int_equal(fread(data, 1, 16, fp), 7);
	fclose(fp);
	free(data);
	state_free(s);
	mx_free(mx2);
	/* Unreadable (a directory is not renamed; a FIFO is no regular file). */
	assert_int_equal(mkfifo(f->path, 0600), 0);
	mx2 = fx_start(f, &s, 1000);
	assert_int_equal(whitelist_size(mx_whitelist(mx2)), 0);
	assert_false(exists(f->path));
	state_free(s);
	mx_free(mx2);
	mx_free(mx);
}

/* Client @i of up to 2^24: 10.0.0.0/8. */
static mxa_addr big_client(uint32_t i)
{
	uint8_t v4[4] = {10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};
	mxa_addr a;

	addr_from_v4(&a, v4);
	return a;
}

/*
 * Writes a state file of @n entries for clients @addr(0..n-1) (client()
 * when NULL) with the deadlines @deadline gives.
 */
static void write_state_of(const char *path, int64_t saved_at, uint8_t v4_prefix, uint8_t v6_prefix,
                           uint32_t n, int64_t (*deadline)(uint32_t i, int64_t wall), int64_t wall,
                           mxa_addr (*addr)(uint32_t i))
{
	struct buf b = {0};
	struct statefile_enc *enc = statefile_enc_new(buf_write, &b);
	struct statefile_header h = {
	    .saved_at = saved_at, .v4_prefix = v4_prefix, .v6_prefix = v6_prefix};

	assert_non_null(enc);
	assert_int_equal(statefile_enc_header(enc, &h), 0);
	for (uint32_t i = 0; i < n; i++) {
		struct wl_entry e = {.addr = addr ? addr(i) : client(i),
		                     .deadline = deadline(i, wall),
		                     .reason = WL_REASON_FAKE_MX};

		assert_int_equal(addr_parse(&e.origin, "192.0.2.10"), 0);
		assert_int_equal(statefile_enc_entry(enc, &e), 0);
	}
	assert_int_equal(statefile_enc_finish(enc), 0);
	statefile_enc_free(enc);
	write_file(path, b.p, b.len);
	free(b.p);
}

static void write_state(const char *path, int64_t saved_at, uint8_t v4_prefix, uint8_t v6_prefix,
                        uint32_t n, int64_t (*deadline)(uint32_t i, int64_t wall), int64_t wall)
{
	write_state_of(path, saved_at, v4_prefix, v6_prefix, n, deadline, wall, NULL);
}

/* 20 expired entries, then 80 live ones with distinct deadlines. */
static int64_t mixed_deadline(uint32_t i, int64_t wall)
{
	return i < 20 ? wall - 1 - i : wall + 100 + i;
}

/* Expired entries are dropped; above max-entries the earliest deadlines go. */
static void test_expired_and_max_entries(void **state)
{
	struct fixture *f = *state;
	int64_t wall = time(NULL);
	char err[CONFIG_ERRLEN];
	struct state_stats st;
	struct state *s;
	struct wl_entry e;
	struct mx *mx;

	write_state(f->path, wall - 5, 32, 128, 100, mixed_deadline, wall);
	assert_int_equal(config_set(&f->cfg, "max-entries", "30", "test", err, sizeof(err)), 0);
	mx = fx_start(f, &s, 500);
	assert_int_equal(whitelist_size(mx_whitelist(mx)), 30);
	state_stats(s, 500, &st);
	assert_int_equal(st.loaded, 30);
	for (uint32_t i = 0; i < 100; i++) {
		mxa_addr c = client(i);

		assert_int_equal(whitelist_lookup(mx_whitelist(mx), &c, 500, &e), i >= 70);
		if (i >= 70) /* the absolute deadline, on the new clock (within a second) */
			assert_true(llabs(e.deadline - (500 + 100 + i)) <= 1);
	}
	assert_true(exists(f->path)); /* a good file stays */
	assert_false(exists(f->corrupt));
	state_free(s);
	mx_free(mx);
}

static int64_t later_deadline(uint32_t i, int64_t wall)
{
	return wall + 1000 + i;
}

/* ipv4-prefix shortened since the save: entries merge into their network, latest deadline. */
static void test_prefix_change(void **state)
{
	struct fixture *f = *state;
	int64_t wall = time(NULL);
	char err[CONFIG_ERRLEN];
	struct state *s;
	struct wl_entry e;
	struct mx *mx;
	mxa_addr net;

	write_state(f->path, wall, 32, 128, 100, later_deadline, wall);
	assert_int_equal(config_set(&f->cfg, "ipv4-prefix", "24", "test", err, sizeof(err)), 0);
	f->p.v4_prefix = 24;
	mx = fx_start(f, &s, 500);
	assert_int_equal(whitelist_size(mx_whitelist(mx)), 1);
	assert_int_equal(addr_parse(&net, "198.51.100.0"), 0);
	assert_true(whitelist_lookup(mx_whitelist(mx), &net, 500, &e));
	assert_true(llabs(e.deadline - (500 + 1000 + 99)) <= 1);
	state_free(s);
	mx_free(mx);
	/* Saved with /24 keys, loaded with /32: they cannot be split, they are dropped. */
	write_state(f->path, wall, 24, 128, 10, later_deadline, wall);
	assert_int_equal(config_set(&f->cfg, "ipv4-prefix", "32", "test", err, sizeof(err)), 0);
	f->p.v4_prefix = 32;
	mx = fx_start(f, &s, 500);
	assert_int_equal(whitelist_size(mx_whitelist(mx)), 0);
	assert_false(exists(f->corrupt)); /* a valid file */
	state_free(s);
	mx_free(mx);
}

static int64_t days35(uint32_t i, int64_t wall)
{
	(void)i;
	return wall + 35 * 86400;
}

/* Deadlines up to the longest lifetime (renew-time's 36 days) survive a load; longer ones not. */
static void test_lifetime_cap(void **state)
{
	struct fixture *f = *state;
	int64_t wall = time(NULL);
	char err[CONFIG_ERRLEN];
	struct state *s;
	struct wl_entry e;
	struct mx *mx;

	write_state(f->path, wall, 32, 128, 3, days35, wall);
	assert_int_equal(config_set(&f->cfg, "renew-time", "3110400", "test", err, sizeof(err)), 0);
	f->p.renew_time = 3110400;
	mx = fx_start(f, &s, 500);
	assert_int_equal(whitelist_size(mx_whitelist(mx)), 3);
	for (uint32_t i = 0; i < 3; i++) {
		mxa_addr c = client(i);

		assert_true(whitelist_lookup(mx_whitelist(mx), &c, 500, &e));
		assert_true(llabs(e.deadline - (500 + 35 * 86400)) <= 1);
	}
	state_free(s);
	mx_free(mx);
	/* renew-time off: the whitelist's own longest lifetime, mx_lifetime_max(). */
	assert_int_equal(config_set(&f->cfg, "renew-time", "0", "test", err, sizeof(err)), 0);
	f->p.renew_time = 0;
	mx = fx_start(f, &s, 500);
	assert_int_equal(whitelist_size(mx_whitelist(mx)), 3);
	for (uint32_t i = 0; i < 3; i++) {
		mxa_addr c = client(i);

		assert_true(whitelist_lookup(mx_whitelist(mx), &c, 500, &e));
		assert_int_equal(e.deadline, 500 + (mxa_time)mx_lifetime_max(mx));
	}
	assert_true(exists(f->path)); /* a good file, only shortened */
	assert_false(exists(f->corrupt));
	state_free(s);
	mx_free(mx);
}

static void assert_file_is(const char *path, const char *text)
{
	char got[64] = {0};
	FILE *fp = fopen(path, "rb");

	assert_non_null(fp);
	assert_int_equal(fread(got, 1, sizeof(got) - 1, fp), strlen(text));
	fclose(fp);
	assert_string_equal(got, text);
}

/* A link, a symbolic link or a FIFO at PATH.tmp: never written through nor waited on. */
static void test_planted_tmp(void **state)
{
	struct fixture *f = *state;
	struct mx *mx = fx_filled(f, 10, 1000);
	char tmp[128], victim[128];
	struct state_stats st;
	struct state *s;
	struct stat sb;
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp", f->path);
	snprintf(victim, sizeof(victim), "%s/victim", f->dir);
	write_file(victim, "precious", 8);
	assert_int_equal(chmod(victim, 0644), 0);
	assert_int_equal(state_new(&f->cfg, &s, (char[CONFIG_ERRLEN]){0}, CONFIG_ERRLEN), 0);
	state_arm(s, 0, 1000);

	assert_int_equal(link(victim, tmp), 0);
	assert_int_equal(state_save_final(s, mx, &f->cfg, 1, 1000), 0);
	assert_file_is(victim, "precious");
	assert_int_equal(stat(victim, &sb), 0);
	assert_int_equal(sb.st_nlink, 1); /* the link at PATH.tmp is gone */
	assert_int_equal(stat(f->path, &sb), 0);
	assert_true(S_ISREG(sb.st_mode));
	assert_int_equal(sb.st_mode & 07777, 0600);
	assert_int_equal(sb.st_nlink, 1);

	assert_int_equal(symlink(victim, tmp), 0);
	assert_int_equal(state_save_final(s, mx, &f->cfg, 2, 1001), 0);
	assert_file_is(victim, "precious");
	assert_false(exists(tmp));

	assert_int_equal(mkfifo(tmp, 0600), 0);
	assert_int_equal(state_save_final(s, mx, &f->cfg, 3, 1002), 0);
	assert_false(exists(tmp));
	state_stats(s, 1002, &st);
	assert_int_equal(st.saves, 3);
	assert_int_equal(st.save_errors, 0);

	/* Another writer's, locked: left alone, the save fails and is counted. */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	assert_int_equal(state_save_final(s, mx, &f->cfg, 4, 1003), -EIO);
	state_stats(s, 1003, &st);
	assert_int_equal(st.save_errors, 1);
	assert_true(exists(tmp));
	close(fd);
	/* Once that writer is gone its file is stale: replaced. */
	assert_int_equal(state_save_final(s, mx, &f->cfg, 5, 1004), 0);
	assert_false(exists(tmp));
	state_free(s);
	mx_free(mx);
}

/* Who may write the directory, and whose file is loaded. */
static void test_directory_checks(void **state)
{
	struct fixture *f = *state;
	char err[CONFIG_ERRLEN];
	struct passwd *pw;
	struct state *s;
	struct stat sb;
	struct mx *mx;

	assert_int_equal(chmod(f->dir, 0777), 0);
	assert_int_equal(state_new(&f->cfg, &s, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "is writable by everyone"));
	assert_non_null(strstr(err, f->dir));
	assert_int_equal(chmod(f->dir, 0770), 0);
	assert_int_equal(state_new(&f->cfg, &s, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "is writable by its group"));
	/* Sticky: others may create files, but not replace ours. */
	assert_int_equal(chmod(f->dir, 01777), 0);
	assert_int_equal(state_new(&f->cfg, &s, err, sizeof(err)), 0);
	assert_non_null(s);
	state_free(s);
	pw = getpwnam("nobody");
	if (geteuid() != 0 || !pw)
		return; /* the rest gives files away */
	/* A file another user put there is not loaded, and left in place. */
	write_state(f->path, time(NULL), 32, 128, 5, later_deadline, time(NULL));
	assert_int_equal(chown(f->path, pw->pw_uid, (gid_t)-1), 0);
	mx = fx_start(f, &s, 500);
	assert_int_equal(whitelist_size(mx_whitelist(mx)), 0);
	assert_true(exists(f->path));
	assert_false(exists(f->corrupt));
	/* Nor replaced by a save while it is there: the operator was told to look at it. */
	assert_int_equal(state_save_final(s, mx, &f->cfg, 1, 501), -EIO);
	assert_int_equal(stat(f->path, &sb), 0);
	assert_int_equal(sb.st_uid, pw->pw_uid);
	state_free(s);
	mx_free(mx);
	/* A directory of another user is refused, unless it is the daemon's user. */
	assert_int_equal(chmod(f->dir, 0700), 0);
	assert_int_equal(chown(f->dir, pw->pw_uid, (gid_t)-1), 0);
	assert_int_equal(state_new(&f->cfg, &s, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "neither root nor the daemon's user"));
	assert_int_equal(config_set(&f->cfg, "user", "nobody", "test", err, sizeof(err)), 0);
	assert_int_equal(state_new(&f->cfg, &s, err, sizeof(err)), 0);
	assert_non_null(s);
	state_free(s);
}

/* The default path whose directory is missing: a warning, no state file; elsewhere an error. */
static void test_missing_directory(void **state)
{
	struct fixture *f = *state;
	struct state *s = (struct state *)1;
	char err[CONFIG_ERRLEN], path[160];
	struct config c;

	config_init(&c);
	snprintf(path, sizeof(path), "%s", DEFAULT_STATE_FILE);
	*strrchr(path, '/') = 0;
	if (!exists(path)) {
		assert_int_equal(state_new(&c, &s, err, sizeof(err)), 0);
		assert_null(s);
	}
	snprintf(path, sizeof(path), "%s/missing/whitelist.state", f->dir);
	assert_int_equal(config_set(&c, "state-file", path, "test", err, sizeof(err)), 0);
	assert_int_equal(state_new(&c, &s, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "/missing"));
	assert_int_equal(config_set(&c, "state-file", f->dir, "test", err, sizeof(err)), 0);
	assert_int_equal(state_new(&c, &s, err, sizeof(err)), -EISDIR);
	assert_int_equal(config_set(&c, "state-file", "none", "test", err, sizeof(err)), 0);
	assert_int_equal(state_new(&c, &s, err, sizeof(err)), 0);
	assert_null(s);
	config_clear(&c);
}

/* After a load that set the file aside, the first tick saves what loaded. */
static void test_partial_load_saved_at_once(void **state)
{
	struct fixture *f = *state;
	struct mx *mx = fx_filled(f, 1500, 1000), *mx2;
	struct state_stats st;
	struct state *s;
	off_t size;

	assert_int_equal(state_new(&f->cfg, &s, (char[CONFIG_ERRLEN]){0}, CONFIG_ERRLEN), 0);
	state_arm(s, 0, 1000);
	assert_int_equal(state_save_final(s, mx, &f->cfg, 1, 1000), 0);
	state_free(s);
	size = size_of(f->path) - 100;
	assert_int_equal(truncate(f->path, size), 0);
	mx2 = fx_start(f, &s, 1000);
	assert_int_equal(whitelist_size(mx_whitelist(mx2)), STATEFILE_BLOCK_RECORDS);
	assert_false(exists(f->path));
	/* Nothing changed since the load and save-interval is an hour: saved all the same. */
	f->cfg.save_interval = 3600;
	state_tick(s, mx2, &f->cfg, 0, 1001);
	assert_int_equal(state_save_wait(s, 1002), 0);
	state_stats(s, 1002, &st);
	assert_int_equal(st.saves, 1);
	assert_int_equal(st.age, 1);
	state_tick(s, mx2, &f->cfg, 0, 1003); /* and then by save-interval again */
	state_stats(s, 1003, &st);
	assert_int_equal(st.saves + st.save_errors, 1);
	state_free(s);
	mx_free(mx2);
	assert_int_equal(size_of(f->corrupt), size); /* the evidence, untouched */
	mx2 = fx_start(f, &s, 1003);
	assert_int_equal(whitelist_size(mx_whitelist(mx2)), STATEFILE_BLOCK_RECORDS);
	assert_int_equal(size_of(f->corrupt), size);
	state_free(s);
	mx_free(mx2);
	mx_free(mx);
}

/* A damaged file that cannot be set aside stays: no save replaces it until it is moved away. */
static void test_unmovable_file_held(void **state)
{
	struct fixture *f = *state;
	char away[128], inside[160];
	struct state_stats st;
	struct state *s;
	struct mx *mx;
	mxa_addr c = client(1);

	snprintf(away, sizeof(away), "%s.away", f->path);
	snprintf(inside, sizeof(inside), "%s/x", f->corrupt);
	write_file(f->path, "garbage", 7);
	assert_int_equal(mkdir(f->corrupt, 0700), 0); /* rename(2) onto it fails */
	write_file(inside, "x", 1);
	mx = fx_start(f, &s, 1000);
	assert_int_equal(whitelist_size(mx_whitelist(mx)), 0);
	assert_file_is(f->path, "garbage");
	mx_syn(mx, &c, &f->fake, 1001);
	assert_int_equal(state_save_final(s, mx, &f->cfg, 1, 1002), -EIO);
	assert_file_is(f->path, "garbage");
	state_stats(s, 1002, &st);
	assert_int_equal(st.save_errors, 1);
	/* Moved away by the operator: the next save goes through. */
	assert_int_equal(rename(f->path, away), 0);
	assert_int_equal(state_save_final(s, mx, &f->cfg, 2, 1003), 0);
	assert_int_equal(size_of(f->path), 32 + 12 + STATEFILE_RECORD_SIZE + 20);
	assert_file_is(away, "garbage");
	state_free(s);
	mx_free(mx);
}

/* A record of a static network is not restored; the file counts as damaged. */
static void test_static_record_not_restored(void **state)
{
	struct fixture *f = *state;
	int64_t wall = time(NULL);
	struct state_stats st;
	struct state *s;
	struct buf b;
	struct mx *mx;

	write_state(f->path, wall, 32, 128, 5, later_deadline, wall);
	b = read_whole(f->path);
	b.p[STATEFILE_HEADER_SIZE + 8 + 2 * STATEFILE_RECORD_SIZE + 48] = WL_REASON_STATIC;
	recrc(b.p + STATEFILE_HEADER_SIZE, 8 + 5 * STATEFILE_RECORD_SIZE);
	write_file(f->path, b.p, b.len);
	free(b.p);
	mx = fx_start(f, &s, 500);
	assert_int_equal(whitelist_size(mx_whitelist(mx)), 4);
	for (uint32_t i = 0; i < 5; i++) {
		mxa_addr c = client(i);

		assert_int_equal(whitelist_lookup(mx_whitelist(mx), &c, 500, NULL), i != 2);
	}
	state_stats(s, 500, &st);
	assert_int_equal(st.loaded, 4);
	assert_true(exists(f->corrupt));
	state_free(s);
	mx_free(mx);
}

/* The file's times are the daemon's at the save's start, however late its child runs. */
static void test_saved_at_from_the_daemon(void **state)
{
	struct fixture *f = *state;
	struct mx *mx = fx_filled(f, 10, 1000);
	struct got *g = calloc(1, sizeof(*g));
	struct statefile_result res;
	struct state *s;
	struct wl_entry e;
	mxa_addr c = client(0);
	time_t before, after;
	struct buf b;

	assert_non_null(g);
	assert_int_equal(state_new(&f->cfg, &s, (char[CONFIG_ERRLEN]){0}, CONFIG_ERRLEN), 0);
	state_arm(s, 0, 1000);
	/* The child's wall clock reads 100 s later: a child that ran 100 s late. */
	skew_parent = getpid();
	skew = 100;
	before = time(NULL);
	assert_int_equal(state_save_start(s, mx, &f->cfg, 1, 1000), 0);
	assert_int_equal(state_save_wait(s, 1000), 0);
	skew = 0;
	after = time(NULL);
	b = read_whole(f->path);
	assert_int_equal(statefile_decode(b.p, b.len, collect, g, &res), 0);
	assert_true(res.header.saved_at >= before && res.header.saved_at <= after);
	assert_true(whitelist_lookup(mx_whitelist(mx), &c, 1000, &e));
	for (size_t i = 0; i < g->n; i++)
		if (addr_equal(&g->v[i].addr, &c))
			assert_int_equal(g->v[i].deadline,
			                 res.header.saved_at + (e.deadline - 1000));
	assert_int_equal(g->n, 10);
	free(b.p);
	free(g);
	state_free(s);
	mx_free(mx);
}

/* VmData of this process in kB, -1 when unknown. */
static long data_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *fp = fopen("/proc/self/status", "r");

	if (!fp)
		return -1;
	while (fgets(line, sizeof(line), fp))
		if (sscanf(line, "VmData: %ld kB", &kb) == 1)
			break;
	fclose(fp);
	return kb;
}

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

/*
 * --limited-load PATH MAX_ENTRIES EXTRA_KB: a start's load in this fresh
 * process with at most EXTRA_KB of data memory more than it holds, then the
 * whitelist (the limit lifted), the restore and the first tick. Prints
 * "result loaded=N saves=N". Exit 77: memory cannot be measured here.
 */
static int limited_load(const char *path, const char *max, const char *extra_kb)
{
	mxa_addr fake, real;
	struct mx_params p = {.fake = &fake,
	                      .n_fake = 1,
	                      .real = &real,
	                      .n_real = 1,
	                      .whitelist_time = 3600,
	                      .v4_prefix = 32,
	                      .v6_prefix = 128};
	char err[CONFIG_ERRLEN];
	struct state_stats st;
	struct rlimit old, rl;
	struct state *s;
	struct config c;
	struct mx *mx;
	long kb = data_kb();

#ifdef UNDER_ASAN
	kb = -1; /* its allocator maps memory of its own */
#endif
	if (kb < 0 || getrlimit(RLIMIT_DATA, &old) < 0)
		return 77;
	log_open(true, true);
	config_init(&c);
	if (config_set(&c, "state-file", path, "test", err, sizeof(err)) < 0 ||
	    config_set(&c, "max-entries", max, "test", err, sizeof(err)) < 0 ||
	    addr_parse(&fake, "192.0.2.10") < 0 || addr_parse(&real, "192.0.2.20") < 0 ||
	    state_new(&c, &s, err, sizeof(err)) < 0 || !s)
		return 2;
	rl = old;
	rl.rlim_cur = (rlim_t)(kb + atol(extra_kb)) * 1024;
	if (setrlimit(RLIMIT_DATA, &rl) < 0)
		return 77;
	state_load(s, &c, 1000);
	if (setrlimit(RLIMIT_DATA, &old) < 0)
		return 2;
	mx = mx_new(&p, c.max_entries, key, NULL, state_epoch(s, 1000));
	if (!mx)
		return 2;
	state_restore(s, mx, 1000);
	state_arm(s, 0, 1000);
	state_tick(s, mx, &c, 0, 1001);
	if (state_save_wait(s, 1001) < 0)
		return 2;
	state_stats(s, 1001, &st);
	printf("result loaded=%" PRIu64 " saves=%" PRIu64 "\n", st.loaded, st.saves);
	state_free(s);
	mx_free(mx);
	config_clear(&c);
	return 0;
}

/* Runs --limited-load in a new process (a fresh heap); false when it cannot measure. */
static bool run_limited_load(const char *path, uint32_t max, long extra_kb, uint64_t *loaded,
                             uint64_t *saves)
{
	char out[8192], smax[16], skb[24];
	const char *r;
	size_t len = 0;
	int p[2], status;
	ssize_t n;
	pid_t pid;

	snprintf(smax, sizeof(smax), "%" PRIu32, max);
	snprintf(skb, sizeof(skb), "%ld", extra_kb);
	assert_int_equal(pipe(p), 0);
	fflush(stdout);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		execl(self, self, "--limited-load", path, smax, skb, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	while (len < sizeof(out) - 1 && (n = read(p[0], out + len, sizeof(out) - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = 0;
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	fputs(out, stdout); /* its load line */
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		return false;
	assert_int_equal(WEXITSTATUS(status), 0);
	r = strstr(out, "result ");
	assert_non_null(r);
	assert_int_equal(sscanf(r, "result loaded=%" SCNu64 " saves=%" SCNu64, loaded, saves), 2);
	return true;
}

#define BIG_N   200000
#define BIG_MAX 1000

/* Deadlines in a shuffled order: 7919 is prime to BIG_N. */
static int64_t shuffled_deadline(uint32_t i, int64_t wall)
{
	return wall + 1000 + (int64_t)((uint64_t)i * 7919 % BIG_N);
}

/* A file of 200000 entries and max-entries 1000: the latest deadlines load, in bounded memory. */
static void test_load_memory_bounded(void **state)
{
	struct fixture *f = *state;
	int64_t wall = time(NULL);
	char err[CONFIG_ERRLEN];
	uint64_t loaded, saves;
	struct state *s;
	struct wl_entry e;
	struct mx *mx;

	write_state_of(f->path, wall, 32, 128, BIG_N, shuffled_deadline, wall, big_client);
	/* 2 MiB to spare for a file of 10 MiB (and 11 MiB of entries). */
	if (!run_limited_load(f->path, BIG_MAX, 2048, &loaded, &saves))
		skip();
	assert_int_equal(loaded, BIG_MAX);
	assert_int_equal(saves, 0); /* a good file: nothing to save */
	assert_false(exists(f->corrupt));
	/* Which ones: those with the latest deadlines. */
	assert_int_equal(config_set(&f->cfg, "max-entries", "1000", "test", err, sizeof(err)), 0);
	mx = fx_start(f, &s, 500);
	assert_int_equal(whitelist_size(mx_whitelist(mx)), BIG_MAX);
	for (uint32_t i = 0; i < BIG_N; i++) {
		int64_t ahead = shuffled_deadline(i, 0);
		mxa_addr c = big_client(i);
		bool in = whitelist_lookup(mx_whitelist(mx), &c, 500, &e);

		assert_int_equal(in, ahead >= 1000 + BIG_N - BIG_MAX);
		if (in)
			assert_true(llabs(e.deadline - (500 + ahead)) <= 1);
	}
	state_free(s);
	mx_free(mx);
}

/* Out of memory in the load: what loaded is saved at once, the whole file kept aside. */
static void test_load_out_of_memory(void **state)
{
	struct fixture *f = *state;
	const uint32_t n = 100000;
	int64_t wall = time(NULL);
	char err[CONFIG_ERRLEN];
	uint64_t loaded, saves;
	struct state *s;
	struct mx *mx;
	off_t size;

	write_state_of(f->path, wall, 32, 128, n, later_deadline, wall, big_client);
	size = size_of(f->path);
	/* 2 MiB to spare: the entries (5.3 MiB) do not fit. */
	if (!run_limited_load(f->path, n, 2048, &loaded, &saves))
		skip();
	assert_true(loaded > 0 && loaded < n);
	assert_int_equal(saves, 1); /* at the first tick */
	assert_int_equal(size_of(f->corrupt), size);
	assert_int_equal(config_set(&f->cfg, "max-entries", "100000", "test", err, sizeof(err)), 0);
	mx = fx_start(f, &s, 500);
	assert_int_equal(whitelist_size(mx_whitelist(mx)), loaded);
	assert_int_equal(size_of(f->corrupt), size);
	state_free(s);
	mx_free(mx);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_crc32_known_answer),
	    cmocka_unit_test(test_layout),
	    cmocka_unit_test(test_roundtrip),
	    cmocka_unit_test(test_every_truncation),
	    cmocka_unit_test(test_truncation_keeps_whole_blocks),
	    cmocka_unit_test(test_every_bit_flip),
	    cmocka_unit_test(test_damaged_block_skipped),
	    cmocka_unit_test(test_wrong_version),
	    cmocka_unit_test(test_foreign_and_empty),
	    cmocka_unit_test(test_header_fields),
	    cmocka_unit_test(test_impossible_record),
	    cmocka_unit_test(test_static_record_refused),
	    cmocka_unit_test(test_decode_read),
	    cmocka_unit_test(test_trailing_and_count),
	    cmocka_unit_test(test_callback_stops),
	    cmocka_unit_test(test_encoder_refuses),
	    cmocka_unit_test(test_entry_to_clock),
	    cmocka_unit_test_setup_teardown(test_save_and_load, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_background_save, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_corrupt_file_renamed, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_expired_and_max_entries, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_prefix_change, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_missing_directory, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_lifetime_cap, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_planted_tmp, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_directory_checks, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_partial_load_saved_at_once, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_unmovable_file_held, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_static_record_not_restored, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_saved_at_from_the_daemon, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_load_memory_bounded, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_load_out_of_memory, fx_setup, fx_teardown),
	};

	self = argv[0];
	if (argc == 5 && strcmp(argv[1], "--limited-load") == 0)
		return limited_load(argv[2], argv[3], argv[4]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
