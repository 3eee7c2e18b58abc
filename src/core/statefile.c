/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The state file's format (see statefile.h and mxallowd.conf(5)). Pure:
 * bytes in through callbacks or memory, every length checked before it is
 * read.
 */
#include "statefile.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

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

/* CRC-32 (reflected 0xEDB88320), one byte at a time; the other slices are derived from it. */
static const uint32_t crc_table[256] = {
    0x00000000, 0x77073096, 0xee0e612c, 0x990951ba, 0x076dc419, 0x706af48f, 0xe963a535, 0x9e6495a3,
    0x0edb8832, 0x79dcb8a4, 0xe0d5e91e, 0x97d2d988, 0x09b64c2b, 0x7eb17cbd, 0xe7b82d07, 0x90bf1d91,
    0x1db71064, 0x6ab020f2, 0xf3b97148, 0x84be41de, 0x1adad47d, 0x6ddde4eb, 0xf4d4b551, 0x83d385c7,
    0x136c9856, 0x646ba8c0, 0xfd62f97a, 0x8a65c9ec, 0x14015c4f, 0x63066cd9, 0xfa0f3d63, 0x8d080df5,
    0x3b6e20c8, 0x4c69105e, 0xd56041e4, 0xa2677172, 0x3c03e4d1, 0x4b04d447, 0xd20d85fd, 0xa50ab56b,
    0x35b5a8fa, 0x42b2986c, 0xdbbbc9d6, 0xacbcf940, 0x32d86ce3, 0x45df5c75, 0xdcd60dcf, 0xabd13d59,
    0x26d930ac, 0x51de003a, 0xc8d75180, 0xbfd06116, 0x21b4f4b5, 0x56b3c423, 0xcfba9599, 0xb8bda50f,
    0x2802b89e, 0x5f058808, 0xc60cd9b2, 0xb10be924, 0x2f6f7c87, 0x58684c11, 0xc1611dab, 0xb6662d3d,
    0x76dc4190, 0x01db7106, 0x98d220bc, 0xefd5102a, 0x71b18589, 0x06b6b51f, 0x9fbfe4a5, 0xe8b8d433,
    0x7807c9a2, 0x0f00f934, 0x9609a88e, 0xe10e9818, 0x7f6a0dbb, 0x086d3d2d, 0x91646c97, 0xe6635c01,
    0x6b6b51f4, 0x1c6c6162, 0x856530d8, 0xf262004e, 0x6c0695ed, 0x1b01a57b, 0x8208f4c1, 0xf50fc457,
    0x65b0d9c6, 0x12b7e950, 0x8bbeb8ea, 0xfcb9887c, 0x62dd1ddf, 0x15da2d49, 0x8cd37cf3, 0xfbd44c65,
    0x4db26158, 0x3ab551ce, 0xa3bc0074, 0xd4bb30e2, 0x4adfa541, 0x3dd895d7, 0xa4d1c46d, 0xd3d6f4fb,
    0x4369e96a, 0x346ed9fc, 0xad678846, 0xda60b8d0, 0x44042d73, 0x33031de5, 0xaa0a4c5f, 0xdd0d7cc9,
    0x5005713c, 0x270241aa, 0xbe0b1010, 0xc90c2086, 0x5768b525, 0x206f85b3, 0xb966d409, 0xce61e49f,
    0x5edef90e, 0x29d9c998, 0xb0d09822, 0xc7d7a8b4, 0x59b33d17, 0x2eb40d81, 0xb7bd5c3b, 0xc0ba6cad,
    0xedb88320, 0x9abfb3b6, 0x03b6e20c, 0x74b1d29a, 0xead54739, 0x9dd277af, 0x04db2615, 0x73dc1683,
    0xe3630b12, 0x94643b84, 0x0d6d6a3e, 0x7a6a5aa8, 0xe40ecf0b, 0x9309ff9d, 0x0a00ae27, 0x7d079eb1,
    0xf00f9344, 0x8708a3d2, 0x1e01f268, 0x6906c2fe, 0xf762575d, 0x806567cb, 0x196c3671, 0x6e6b06e7,
    0xfed41b76, 0x89d32be0, 0x10da7a5a, 0x67dd4acc, 0xf9b9df6f, 0x8ebeeff9, 0x17b7be43, 0x60b08ed5,
    0xd6d6a3e8, 0xa1d1937e, 0x38d8c2c4, 0x4fdff252, 0xd1bb67f1, 0xa6bc5767, 0x3fb506dd, 0x48b2364b,
    0xd80d2bda, 0xaf0a1b4c, 0x36034af6, 0x41047a60, 0xdf60efc3, 0xa867df55, 0x316e8eef, 0x4669be79,
    0xcb61b38c, 0xbc66831a, 0x256fd2a0, 0x5268e236, 0xcc0c7795, 0xbb0b4703, 0x220216b9, 0x5505262f,
    0xc5ba3bbe, 0xb2bd0b28, 0x2bb45a92, 0x5cb36a04, 0xc2d7ffa7, 0xb5d0cf31, 0x2cd99e8b, 0x5bdeae1d,
    0x9b64c2b0, 0xec63f226, 0x756aa39c, 0x026d930a, 0x9c0906a9, 0xeb0e363f, 0x72076785, 0x05005713,
    0x95bf4a82, 0xe2b87a14, 0x7bb12bae, 0x0cb61b38, 0x92d28e9b, 0xe5d5be0d, 0x7cdcefb7, 0x0bdbdf21,
    0x86d3d2d4, 0xf1d4e242, 0x68ddb3f8, 0x1fda836e, 0x81be16cd, 0xf6b9265b, 0x6fb077e1, 0x18b74777,
    0x88085ae6, 0xff0f6a70, 0x66063bca, 0x11010b5c, 0x8f659eff, 0xf862ae69, 0x616bffd3, 0x166ccf45,
    0xa00ae278, 0xd70dd2ee, 0x4e048354, 0x3903b3c2, 0xa7672661, 0xd06016f7, 0x4969474d, 0x3e6e77db,
    0xaed16a4a, 0xd9d65adc, 0x40df0b66, 0x37d83bf0, 0xa9bcae53, 0xdebb9ec5, 0x47b2cf7f, 0x30b5ffe9,
    0xbdbdf21c, 0xcabac28a, 0x53b39330, 0x24b4a3a6, 0xbad03605, 0xcdd70693, 0x54de5729, 0x23d967bf,
    0xb3667a2e, 0xc4614ab8, 0x5d681b02, 0x2a6f2b94, 0xb40bbe37, 0xc30c8ea1, 0x5a05df1b, 0x2d02ef8d,
};

void statefile_crc_init(struct statefile_crc *c)
{
	memcpy(c->t[0], crc_table, sizeof(crc_table));
	for (int s = 1; s < 8; s++)
		for (int i = 0; i < 256; i++)
			c->t[s][i] = (c->t[s - 1][i] >> 8) ^ crc_table[c->t[s - 1][i] & 0xff];
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

/*
 * The reasons a file holds: static networks live in the allow lists, never
 * in the whitelist, so a record that claims one is refused.
 */
static bool reason_ok(unsigned r)
{
	return r >= WL_REASON_FAKE_MX && r <= WL_REASON_PEER && r != WL_REASON_STATIC;
}

static bool entry_ok(const struct wl_entry *e)
{
	return reason_ok(e->reason) && e->deadline > 0 && (e->used ? e->last_use > 0 : true);
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

/*
 * The decoder reads the file block by block through a callback: its memory
 * is one block, whatever the size of the file.
 */
struct decoder {
	statefile_read_fn read;
	void *rctx;
	struct statefile_result *res;
	struct statefile_crc crc;
	bool read_failed;
	uint8_t b[STATEFILE_BLOCK_MAX];
};

/* Records the first problem only; later ones change the counts, not the text. */
static void problem(struct decoder *d, enum statefile_problem p, uint64_t offset, const char *fmt,
                    ...) __attribute__((format(printf, 4, 5)));

static void problem(struct decoder *d, enum statefile_problem p, uint64_t offset, const char *fmt,
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

/*
 * Reads @len bytes of the file, from byte @off, to @to. Returns how many it
 * got: fewer at the end of the file, or after a read error (a problem).
 */
static size_t fill(struct decoder *d, uint8_t *to, size_t len, uint64_t off)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = d->read(d->rctx, to + got, len - got);

		if (n < 0) {
			problem(d, STATEFILE_READ_ERROR, off + got,
			        "read error at byte %" PRIu64 ": %s", off + got, strerror((int)-n));
			d->read_failed = true;
			break;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return got;
}

static int decode_header(struct decoder *d)
{
	const uint8_t *b = d->b;
	size_t len = fill(d, d->b, STATEFILE_HEADER_SIZE, 0);
	uint32_t version;

	if (d->read_failed)
		return -EBADMSG;
	if (len == 0) {
		problem(d, STATEFILE_EMPTY, 0, "empty file");
		return -EBADMSG;
	}
	if (len < sizeof(magic) || memcmp(b, magic, sizeof(magic)) != 0) {
		problem(d, STATEFILE_NOT_STATE, 0,
		        "not an mxallowd state file (no MXASTATE magic)");
		return -EBADMSG;
	}
	if (len < 12) {
		problem(d, STATEFILE_TRUNCATED, len, "truncated in the header at byte %zu", len);
		return -EBADMSG;
	}
	version = get32(b + 8);
	if (version != STATEFILE_VERSION) {
		problem(d, STATEFILE_BAD_VERSION, 8,
		        "format version %" PRIu32 ", this mxallowd reads version %d", version,
		        STATEFILE_VERSION);
		return -EBADMSG;
	}
	if (len < STATEFILE_HEADER_SIZE) {
		problem(d, STATEFILE_TRUNCATED, len, "truncated in the header at byte %zu", len);
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
	       reason_ok(p[R_REASON]) && e->deadline > 0 &&
	       (e->used ? e->last_use > 0 : e->last_use == 0);
}

/* Hands the records of the block in d->b, from byte @off, whose checksum held, to @fn. */
static int deliver(struct decoder *d, uint64_t off, uint32_t block, uint32_t n,
                   statefile_entry_fn fn, void *ctx)
{
	struct wl_entry e;
	int r;

	for (uint32_t i = 0; i < n; i++) {
		size_t at = 8 + (size_t)i * STATEFILE_RECORD_SIZE;

		if (!record_decode(d->b + at, &e)) {
			problem(d, STATEFILE_BAD_RECORD, off + at,
			        "block %" PRIu32 " record %" PRIu32 " at byte %" PRIu64
			        ": impossible values",
			        block, i, off + at);
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

/* After the end block at @off: counts what is left of the file. */
static void trailing(struct decoder *d, uint64_t off)
{
	uint64_t extra = 0;
	size_t got;

	do {
		got = fill(d, d->b, sizeof(d->b), off + extra);
		extra += got;
	} while (got == sizeof(d->b));
	if (extra && !d->read_failed)
		problem(d, STATEFILE_TRAILING, off, "%" PRIu64 " bytes after the end block", extra);
}

int statefile_decode_read(statefile_read_fn read, void *rctx, statefile_entry_fn fn, void *ctx,
                          struct statefile_result *res)
{
	struct decoder *d = malloc(sizeof(*d));
	uint64_t off = STATEFILE_HEADER_SIZE;
	uint64_t records = 0; /* as the block headers say */
	uint32_t block = 0, last_n = 0;
	int r = 0;

	memset(res, 0, sizeof(*res));
	if (!d)
		return -ENOMEM;
	d->read = read;
	d->rctx = rctx;
	d->res = res;
	d->read_failed = false;
	statefile_crc_init(&d->crc);
	if (decode_header(d) < 0)
		goto out;
	for (;;) {
		uint32_t number, n;
		size_t size, got;

		got = fill(d, d->b, 8, off);
		if (d->read_failed)
			goto out;
		if (got < 8) {
			problem(d, STATEFILE_TRUNCATED, off + got,
			        "truncated at byte %" PRIu64 " (in block %" PRIu32 "'s header)",
			        off + got, block);
			goto out;
		}
		number = get32(d->b);
		n = get32(d->b + 4);
		if (number != block || n > STATEFILE_BLOCK_RECORDS) {
			problem(d, STATEFILE_BAD_SEQUENCE, off,
			        "block %" PRIu32 " at byte %" PRIu64
			        ": bad block header (number %" PRIu32 ", %" PRIu32
			        " records); the rest of the file is unreadable",
			        block, off, number, n);
			goto out;
		}
		size = n ? 8 + (size_t)n * STATEFILE_RECORD_SIZE + 4 : STATEFILE_END_SIZE;
		got = 8 + fill(d, d->b + 8, size - 8, off + 8);
		if (got < size) {
			if (!d->read_failed)
				problem(d, STATEFILE_TRUNCATED, off + got,
				        "truncated at byte %" PRIu64 " (in block %" PRIu32
				        " from byte %" PRIu64 ")",
				        off + got, block, off);
			if (n)
				res->skipped += n;
			goto out;
		}
		if (get32(d->b + size - 4) != statefile_crc32(&d->crc, 0, d->b, size - 4)) {
			problem(d, STATEFILE_BAD_BLOCK, off,
			        "block %" PRIu32 " at byte %" PRIu64 ": checksum mismatch", block,
			        off);
			if (n == 0)
				goto out; /* the end block: its total cannot be trusted */
			res->skipped += n;
		} else if (n == 0) {
			uint64_t total = get64(d->b + 8);

			if (total != records)
				problem(d, STATEFILE_BAD_COUNT, off + 8,
				        "the end block counts %" PRIu64
				        " records, the blocks hold %" PRIu64,
				        total, records);
			trailing(d, off + size);
			goto out;
		} else {
			/* The encoder fills every block but the last: one file, one encoding. */
			if (block > 0 && last_n < STATEFILE_BLOCK_RECORDS)
				problem(d, STATEFILE_BAD_SEQUENCE, off,
				        "block %" PRIu32 " at byte %" PRIu64
				        " follows a block of %" PRIu32 " records",
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

struct mem_reader {
	const uint8_t *p;
	size_t left;
};

static ssize_t mem_read(void *ctx, void *buf, size_t len)
{
	struct mem_reader *m = ctx;

	if (len > m->left)
		len = m->left;
	if (len)
		memcpy(buf, m->p, len);
	m->p += len;
	m->left -= len;
	return (ssize_t)len;
}

int statefile_decode(const void *buf, size_t len, statefile_entry_fn fn, void *ctx,
                     struct statefile_result *res)
{
	struct mem_reader m = {.p = buf, .left = len};

	return statefile_decode_read(mem_read, &m, fn, ctx, res);
}

/* ------------------------------------------------------------------ clocks */

enum statefile_fit statefile_entry_to_clock(const struct wl_entry *fe, int64_t wall, mxa_time now,
                                            int64_t max_ahead, int64_t max_back,
                                            struct wl_entry *out)
{
	enum statefile_fit fit = STATEFILE_FIT_OK;
	int64_t ahead, back;

	/* Both are positive in a valid record: no difference below overflows. */
	if (fe->deadline <= wall)
		return STATEFILE_FIT_EXPIRED;
	*out = *fe;
	ahead = fe->deadline - wall;
	if (ahead > max_ahead) {
		ahead = max_ahead;
		fit = STATEFILE_FIT_SHORTENED;
	}
	out->deadline = now + ahead;
	if (!fe->used) {
		out->last_use = 0;
		return fit;
	}
	back = wall - fe->last_use;
	if (back < 0)
		back = 0;
	if (back > max_back)
		back = max_back;
	out->last_use = now - back;
	return fit;
}
