/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The state file's format (see statefile.h and mxallowd.conf(5)). Pure:
 * memory in, memory out, every length checked before it is read.
 */
#include "statefile.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t magic[8] = {'M', 'X', 'A', 'S', 'T', 'A', 'T', 'E'};

/* Record layout. */
#define R_ADDR     0
#define R_ORIGIN   16
#define R_DEADLINE 32
#define R_LAST_USE 40
#define R_REASON   48
#define R_FLAGS    49
#define R_PAD      50

#define FLAG_RDNS_DONE 0x01
#define FLAG_USED      0x02

void statefile_crc_init(struct statefile_crc *c)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t v = i;

		for (int k = 0; k < 8; k++)
			v = (v >> 1) ^ (0xEDB88320u & (0u - (v & 1)));
		c->t[0][i] = v;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int s = 1; s < 8; s++)
			c->t[s][i] = (c->t[s - 1][i] >> 8) ^ c->t[0][c->t[s - 1][i] & 0xff];
}

uint32_t statefile_crc32(const struct statefile_crc *c, uint32_t crc, const void *p, size_t len)
{
	const uint8_t *b = p;

	crc = ~crc;
	while (len >= 8) {
		uint32_t lo = crc ^ ((uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
		                     (uint32_t)b[3] << 24);
		uint32_t hi = (uint32_t)b[4] | (uint32_t)b[5] << 8 | (uint32_t)b[6] << 16 |
		              (uint32_t)b[7] << 24;

		crc = c->t[7][lo & 0xff] ^ c->t[6][(lo >> 8) & 0xff] ^ c->t[5][(lo >> 16) & 0xff] ^
		      c->t[4][lo >> 24] ^ c->t[3][hi & 0xff] ^ c->t[2][(hi >> 8) & 0xff] ^
		      c->t[1][(hi >> 16) & 0xff] ^ c->t[0][hi >> 24];
		b += 8;
		len -= 8;
	}
	while (len--)
		crc = (crc >> 8) ^ c->t[0][(crc ^ *b++) & 0xff];
	return ~crc;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* ------------------------------------------------------------------ encoder */

struct statefile_enc {
	statefile_write_fn write;
	void *ctx;
	int error;      /* sticky: the first failure */
	int stage;      /* 0: header next, 1: entries, 2: finished */
	uint32_t block; /* number of the block being filled */
	uint32_t n;     /* records in it */
	uint64_t total;
	struct statefile_crc crc;
	uint8_t buf[STATEFILE_BLOCK_MAX];
};

struct statefile_enc *statefile_enc_new(statefile_write_fn write, void *ctx)
{
	struct statefile_enc *enc = malloc(sizeof(*enc));

	if (!enc)
		return NULL;
	enc->write = write;
	enc->ctx = ctx;
	enc->error = 0;
	enc->stage = 0;
	enc->block = 0;
	enc->n = 0;
	enc->total = 0;
	statefile_crc_init(&enc->crc);
	return enc;
}

struct statefile_enc *statefile_enc_free(struct statefile_enc *enc)
{
	free(enc);
	return NULL;
}

uint64_t statefile_enc_count(const struct statefile_enc *enc)
{
	return enc->total;
}

static int emit(struct statefile_enc *enc, const uint8_t *p, size_t len)
{
	int r = enc->write(enc->ctx, p, len);

	if (r < 0)
		enc->error = r;
	return r;
}

int statefile_enc_header(struct statefile_enc *enc, const struct statefile_header *h)
{
	uint8_t b[STATEFILE_HEADER_SIZE] = {0};

	if (enc->error)
		return enc->error;
	if (enc->stage != 0 || h->v4_prefix > 32 || h->v6_prefix > 128)
		return -EINVAL;
	memcpy(b, magic, sizeof(magic));
	put32(b + 8, STATEFILE_VERSION);
	put32(b + 12, STATEFILE_RECORD_SIZE);
	put64(b + 16, (uint64_t)h->saved_at);
	b[24] = h->v4_prefix;
	b[25] = h->v6_prefix;
	put32(b + 28, statefile_crc32(&enc->crc, 0, b, 28));
	enc->stage = 1;
	return emit(enc, b, sizeof(b));
}

static int flush_block(struct statefile_enc *enc)
{
	size_t len = 8 + (size_t)enc->n * STATEFILE_RECORD_SIZE;
	int r;

	if (enc->n == 0)
		return 0;
	put32(enc->buf, enc->block);
	put32(enc->buf + 4, enc->n);
	put32(enc->buf + len, statefile_crc32(&enc->crc, 0, enc->buf, len));
	r = emit(enc, enc->buf, len + 4);
	enc->block++;
	enc->n = 0;
	return r;
}

static bool entry_ok(const struct wl_entry *e)
{
	return e->reason >= WL_REASON_FAKE_MX && e->reason <= WL_REASON_PEER && e->deadline > 0 &&
	       (e->used ? e->last_use > 0 : true);
}

int statefile_enc_entry(struct statefile_enc *enc, const struct wl_entry *e)
{
	uint8_t *p;

	if (enc->error)
		return enc->error;
	if (enc->stage != 1 || !entry_ok(e))
		return -EINVAL;
	p = enc->buf + 8 + (size_t)enc->n * STATEFILE_RECORD_SIZE;
	memcpy(p + R_ADDR, e->addr.b, 16);
	memcpy(p + R_ORIGIN, e->origin.b, 16);
	put64(p + R_DEADLINE, (uint64_t)e->deadline);
	put64(p + R_LAST_USE, e->used ? (uint64_t)e->last_use : 0);
	p[R_REASON] = (uint8_t)e->reason;
	p[R_FLAGS] = (uint8_t)((e->rdns_done ? FLAG_RDNS_DONE : 0) | (e->used ? FLAG_USED : 0));
	p[R_PAD] = 0;
	p[R_PAD + 1] = 0;
	enc->n++;
	enc->total++;
	if (enc->n == STATEFILE_BLOCK_RECORDS)
		return flush_block(enc);
	return 0;
}

int statefile_enc_finish(struct statefile_enc *enc)
{
	uint8_t b[STATEFILE_END_SIZE];
	int r;

	if (enc->error)
		return enc->error;
	if (enc->stage != 1)
		return -EINVAL;
	r = flush_block(enc);
	if (r < 0)
		return r;
	put32(b, enc->block);
	put32(b + 4, 0);
	put64(b + 8, enc->total);
	put32(b + 16, statefile_crc32(&enc->crc, 0, b, 16));
	enc->stage = 2;
	return emit(enc, b, sizeof(b));
}

/* ------------------------------------------------------------------ decoder */

struct decoder {
	const uint8_t *b;
	size_t len;
	struct statefile_result *res;
	struct statefile_crc crc;
};

/* Records the first problem only; later ones change the counts, not the text. */
static void problem(struct decoder *d, enum statefile_problem p, size_t offset, const char *fmt,
                    ...) __attribute__((format(printf, 4, 5)));

static void problem(struct decoder *d, enum statefile_problem p, size_t offset, const char *fmt,
                    ...)
{
	va_list ap;

	if (d->res->problem != STATEFILE_OK)
		return;
	d->res->problem = p;
	d->res->offset = offset;
	va_start(ap, fmt);
	vsnprintf(d->res->what, sizeof(d->res->what), fmt, ap);
	va_end(ap);
}

static int decode_header(struct decoder *d)
{
	const uint8_t *b = d->b;
	uint32_t version;

	if (d->len == 0) {
		problem(d, STATEFILE_EMPTY, 0, "empty file");
		return -EBADMSG;
	}
	if (d->len < sizeof(magic) || memcmp(b, magic, sizeof(magic)) != 0) {
		problem(d, STATEFILE_NOT_STATE, 0,
		        "not an mxallowd state file (no MXASTATE magic)");
		return -EBADMSG;
	}
	if (d->len < 12) {
		problem(d, STATEFILE_TRUNCATED, d->len, "truncated in the header at byte %zu",
		        d->len);
		return -EBADMSG;
	}
	version = get32(b + 8);
	if (version != STATEFILE_VERSION) {
		problem(d, STATEFILE_BAD_VERSION, 8,
		        "format version %" PRIu32 ", this mxallowd reads version %d", version,
		        STATEFILE_VERSION);
		return -EBADMSG;
	}
	if (d->len < STATEFILE_HEADER_SIZE) {
		problem(d, STATEFILE_TRUNCATED, d->len, "truncated in the header at byte %zu",
		        d->len);
		return -EBADMSG;
	}
	if (get32(b + 28) != statefile_crc32(&d->crc, 0, b, 28)) {
		problem(d, STATEFILE_BAD_HEADER, 28, "header checksum mismatch");
		return -EBADMSG;
	}
	if (get32(b + 12) != STATEFILE_RECORD_SIZE || b[24] > 32 || b[25] > 128 || b[26] || b[27]) {
		problem(d, STATEFILE_BAD_HEADER, 12, "header fields out of range");
		return -EBADMSG;
	}
	d->res->header.saved_at = (int64_t)get64(b + 16);
	d->res->header.v4_prefix = b[24];
	d->res->header.v6_prefix = b[25];
	d->res->header_ok = true;
	return 0;
}

static bool record_decode(const uint8_t *p, struct wl_entry *e)
{
	uint8_t flags = p[R_FLAGS];

	memcpy(e->addr.b, p + R_ADDR, 16);
	memcpy(e->origin.b, p + R_ORIGIN, 16);
	e->deadline = (mxa_time)get64(p + R_DEADLINE);
	e->last_use = (mxa_time)get64(p + R_LAST_USE);
	e->reason = (enum wl_reason)p[R_REASON];
	e->used = flags & FLAG_USED;
	e->rdns_done = flags & FLAG_RDNS_DONE;
	return !(flags & ~(FLAG_USED | FLAG_RDNS_DONE)) && !p[R_PAD] && !p[R_PAD + 1] &&
	       p[R_REASON] >= WL_REASON_FAKE_MX && p[R_REASON] <= WL_REASON_PEER &&
	       e->deadline > 0 && (e->used ? e->last_use > 0 : e->last_use == 0);
}

/* Hands the records of a block whose checksum held to @fn. */
static int deliver(struct decoder *d, size_t off, uint32_t block, uint32_t n, statefile_entry_fn fn,
                   void *ctx)
{
	struct wl_entry e;
	int r;

	for (uint32_t i = 0; i < n; i++) {
		size_t at = off + 8 + (size_t)i * STATEFILE_RECORD_SIZE;

		if (!record_decode(d->b + at, &e)) {
			problem(d, STATEFILE_BAD_RECORD, at,
			        "block %" PRIu32 " record %" PRIu32
			        " at byte %zu: impossible values",
			        block, i, at);
			d->res->skipped++;
			continue;
		}
		r = fn(ctx, &e);
		if (r)
			return r;
		d->res->entries++;
	}
	return 0;
}

int statefile_decode(const void *buf, size_t len, statefile_entry_fn fn, void *ctx,
                     struct statefile_result *res)
{
	struct decoder *d = malloc(sizeof(*d));
	size_t off = STATEFILE_HEADER_SIZE;
	uint64_t records = 0; /* as the block headers say */
	uint32_t block = 0, last_n = 0;
	int r = 0;

	memset(res, 0, sizeof(*res));
	if (!d)
		return -ENOMEM;
	d->b = buf;
	d->len = len;
	d->res = res;
	statefile_crc_init(&d->crc);
	if (decode_header(d) < 0)
		goto out;
	for (;;) {
		uint32_t number, n;
		size_t size;

		if (len - off < 8) {
			problem(d, STATEFILE_TRUNCATED, len,
			        "truncated at byte %zu (in block %" PRIu32 "'s header)", len,
			        block);
			goto out;
		}
		number = get32(d->b + off);
		n = get32(d->b + off + 4);
		if (number != block || n > STATEFILE_BLOCK_RECORDS) {
			problem(d, STATEFILE_BAD_SEQUENCE, off,
			        "block %" PRIu32 " at byte %zu: bad block header (number %" PRIu32
			        ", %" PRIu32 " records); the rest of the file is unreadable",
			        block, off, number, n);
			goto out;
		}
		size = n ? 8 + (size_t)n * STATEFILE_RECORD_SIZE + 4 : STATEFILE_END_SIZE;
		if (len - off < size) {
			problem(d, STATEFILE_TRUNCATED, len,
			        "truncated at byte %zu (in block %" PRIu32 " from byte %zu)", len,
			        block, off);
			if (n)
				res->skipped += n;
			goto out;
		}
		if (get32(d->b + off + size - 4) !=
		    statefile_crc32(&d->crc, 0, d->b + off, size - 4)) {
			problem(d, STATEFILE_BAD_BLOCK, off,
			        "block %" PRIu32 " at byte %zu: checksum mismatch", block, off);
			if (n == 0)
				goto out; /* the end block: its total cannot be trusted */
			res->skipped += n;
		} else if (n == 0) {
			uint64_t total = get64(d->b + off + 8);

			if (total != records)
				problem(d, STATEFILE_BAD_COUNT, off + 8,
				        "the end block counts %" PRIu64
				        " records, the blocks hold %" PRIu64,
				        total, records);
			off += size;
			if (off != len)
				problem(d, STATEFILE_TRAILING, off, "%zu bytes after the end block",
				        len - off);
			goto out;
		} else {
			/* The encoder fills every block but the last: one file, one encoding. */
			if (block > 0 && last_n < STATEFILE_BLOCK_RECORDS)
				problem(d, STATEFILE_BAD_SEQUENCE, off,
				        "block %" PRIu32 " at byte %zu follows a block of %" PRIu32
				        " records",
				        block, off, last_n);
			r = deliver(d, off, block, n, fn, ctx);
			if (r)
				goto out;
		}
		last_n = n;
		records += n;
		off += size;
		block++;
	}
out:
	free(d);
	if (r)
		return r;
	return res->problem == STATEFILE_OK ? 0 : -EBADMSG;
}
