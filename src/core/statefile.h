/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The state file's format: the whitelist as a file, encoded to and decoded
 * from memory with every length checked. No I/O here: the encoder hands
 * finished pieces to a write callback, the decoder takes the file from a
 * read callback one block at a time (or from one buffer) and hands each
 * valid entry to a callback. The layout is described in
 * mxallowd.conf(5), section STATE FILE; all integers are little-endian.
 *
 *   header  32 bytes   magic "MXASTATE", version, record size, saved-at,
 *                      the prefixes the entries are keyed by, CRC-32
 *   block   8 + 52 n + 4 bytes, 1 <= n <= 1024: block number, n,
 *                      n records, CRC-32 of the block; every block but the
 *                      last holds 1024 records
 *   end     20 bytes   block number, 0, total records (64 bits), CRC-32
 *
 * A damaged block costs its own records only: the decoder skips it by its
 * length and goes on while the block numbers still follow each other.
 *
 * Times in the file and in the entries of this interface are wall-clock
 * seconds since 1970 (the daemon converts from and to its monotonic clock).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "whitelist.h"

#define STATEFILE_VERSION       1
#define STATEFILE_HEADER_SIZE   32
#define STATEFILE_RECORD_SIZE   52
#define STATEFILE_BLOCK_RECORDS 1024
#define STATEFILE_BLOCK_MAX     (8 + STATEFILE_BLOCK_RECORDS * STATEFILE_RECORD_SIZE + 4)
#define STATEFILE_END_SIZE      20

struct statefile_header {
	int64_t saved_at;  /* wall clock */
	uint8_t v4_prefix; /* the prefixes the addresses were masked with */
	uint8_t v6_prefix;
};

/* CRC-32 (IEEE 802.3, as zlib's crc32()), eight table slices. */
struct statefile_crc {
	uint32_t t[8][256];
};

void statefile_crc_init(struct statefile_crc *c);
/* Continues @crc (0 to start) over @len bytes of @p. */
uint32_t statefile_crc32(const struct statefile_crc *c, uint32_t crc, const void *p, size_t len);

/* Receives the encoded bytes; returns 0 or a negative errno. */
typedef int (*statefile_write_fn)(void *ctx, const void *buf, size_t len);

struct statefile_enc;

/* An encoder writing through @write. NULL on allocation failure. */
struct statefile_enc *statefile_enc_new(statefile_write_fn write, void *ctx);
struct statefile_enc *statefile_enc_free(struct statefile_enc *enc);

/*
 * The header first, then every entry, then statefile_enc_finish(). Each
 * returns 0, the first negative errno of @write (then the encoder stays
 * failed), or -EINVAL for a call out of order or an entry the decoder would
 * refuse (reason out of range or static: the allow lists hold those, never
 * the file; a deadline <= 0, a used entry without its time, a prefix too
 * long).
 */
int statefile_enc_header(struct statefile_enc *enc, const struct statefile_header *h);
int statefile_enc_entry(struct statefile_enc *enc, const struct wl_entry *e);
int statefile_enc_finish(struct statefile_enc *enc);
/* Entries encoded so far. */
uint64_t statefile_enc_count(const struct statefile_enc *enc);

/* What the decoder found wrong first; STATEFILE_OK when nothing. */
enum statefile_problem {
	STATEFILE_OK = 0,
	STATEFILE_EMPTY,        /* no byte at all */
	STATEFILE_NOT_STATE,    /* no magic: not a state file */
	STATEFILE_BAD_VERSION,  /* a version this mxallowd does not read */
	STATEFILE_BAD_HEADER,   /* header checksum or fields */
	STATEFILE_TRUNCATED,    /* ends before the end block */
	STATEFILE_BAD_BLOCK,    /* a block's checksum: its records skipped */
	STATEFILE_BAD_RECORD,   /* a record with impossible values: skipped */
	STATEFILE_BAD_SEQUENCE, /* a block out of place (number, size, after a short one) */
	STATEFILE_BAD_COUNT,    /* the end block's total differs from the records */
	STATEFILE_TRAILING,     /* bytes after the end block */
	STATEFILE_READ_ERROR,   /* the read callback failed: the rest is unread */
};

struct statefile_result {
	struct statefile_header header; /* valid when header_ok */
	bool header_ok;
	uint64_t entries; /* handed to the callback */
	uint64_t skipped; /* records in damaged blocks and impossible records */
	enum statefile_problem problem;
	uint64_t offset; /* byte where the first problem was found */
	char what[192]; /* the first problem as text: "block 3 at byte 106552: checksum mismatch" */
};

/*
 * Receives one valid entry (wall-clock times); non-zero stops the decoding.
 * The result's header is filled in before the first call.
 */
typedef int (*statefile_entry_fn)(void *ctx, const struct wl_entry *e);

/*
 * Reads up to @len bytes of the file, in order, into @buf. Returns how many
 * (0 at the end of the file) or a negative errno.
 */
typedef ssize_t (*statefile_read_fn)(void *ctx, void *buf, size_t len);

/**
 * statefile_decode_read() - read the state file through @read, one block at
 * a time (the decoder holds one block, whatever the file's size): every
 * record that validates goes to @fn, in file order, also when other parts
 * are damaged. @res describes the file and its first problem (a failed read
 * is one: STATEFILE_READ_ERROR, the rest unread).
 * Returns 0 for a file without problems, -EBADMSG when something was wrong
 * (the entries before and around it may have been delivered), -ENOMEM, or
 * what @fn returned when it stopped the decoding.
 */
int statefile_decode_read(statefile_read_fn read, void *rctx, statefile_entry_fn fn, void *ctx,
                          struct statefile_result *res);

/* statefile_decode_read() of the @len bytes at @buf. */
int statefile_decode(const void *buf, size_t len, statefile_entry_fn fn, void *ctx,
                     struct statefile_result *res);

/* What statefile_entry_to_clock() did to an entry. */
enum statefile_fit {
	STATEFILE_FIT_OK = 0,
	STATEFILE_FIT_EXPIRED,   /* its deadline has passed: drop it */
	STATEFILE_FIT_SHORTENED, /* its deadline was further ahead than allowed */
};

/**
 * statefile_entry_to_clock() - @fe, an entry of the file (wall-clock times),
 * as *@out on the daemon's clock: @wall is the time now on the wall clock,
 * @now on the daemon's. A deadline more than @max_ahead seconds away is
 * shortened to that (the longest lifetime the daemon gives); a last use
 * more than @max_back seconds ago is moved up, one in the future becomes
 * @now. *@out is not written for STATEFILE_FIT_EXPIRED.
 */
enum statefile_fit statefile_entry_to_clock(const struct wl_entry *fe, int64_t wall, mxa_time now,
                                            int64_t max_ahead, int64_t max_back,
                                            struct wl_entry *out);
