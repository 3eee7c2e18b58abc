/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target: the state file's decoder and the daemon's loader.
 *
 * The first byte chooses what the rest is: odd, a file as it is; even, edits
 * (offset, byte pairs, and a length) of a valid file of a few entries, so
 * that most inputs get past the magic, the version and the checksums to the
 * records. Bit 1 makes every checksum hold after the edits. Each file is
 * decoded, and one that decodes without a problem must encode back to the
 * same bytes. Then the loader reads it from a file, as at start, and puts
 * what it kept into a whitelist (expired and over-capacity entries, prefix
 * changes, the rename of a damaged file to .corrupt).
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "mx.h"
#include "state.h"
#include "statefile.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64], path[96];
static struct config cfg;
static struct statefile_crc crc;
static uint8_t *base; /* a valid file of BASE_ENTRIES entries */
static size_t base_len;
#define BASE_ENTRIES 3

/* The files of the last input and the folder, at the end of a run. */
static void remove_dir(void)
{
	char p[128];

	unlink(path);
	snprintf(p, sizeof(p), "%s.corrupt", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s.tmp", path);
	unlink(p);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[CONFIG_ERRLEN];

	(void)argc;
	(void)argv;
	/* A file system in memory when there is one: a file is written and renamed per input. */
	snprintf(dir, sizeof(dir), "%s/mxa-fuzz-state.XXXXXX",
	         getenv("TMPDIR")                ? getenv("TMPDIR")
	         : access("/dev/shm", W_OK) == 0 ? "/dev/shm"
	                                         : "/tmp");
	if (!mkdtemp(dir))
		abort();
	atexit(remove_dir);
	snprintf(path, sizeof(path), "%s/whitelist.state", dir);
	config_init(&cfg);
	if (config_set(&cfg, "state-file", path, "fuzz", err, sizeof(err)) < 0 ||
	    config_set(&cfg, "max-entries", "50", "fuzz", err, sizeof(err)) < 0 ||
	    config_set(&cfg, "ipv6-prefix", "64", "fuzz", err, sizeof(err)) < 0)
		abort();
	statefile_crc_init(&crc);
	/* The loader's one line per damaged file would drown libFuzzer's output (stderr). */
	if (!freopen("/dev/null", "w", stdout))
		abort();
	log_open(true, true);
	return 0;
}

struct collected {
	struct wl_entry *v;
	size_t n, cap;
};

static int collect(void *ctx, const struct wl_entry *e)
{
	struct collected *c = ctx;

	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		struct wl_entry *v = realloc(c->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		c->v = v;
		c->cap = cap;
	}
	c->v[c->n++] = *e;
	return 0;
}

struct out {
	uint8_t *p;
	size_t len, cap;
};

static int out_write(void *ctx, const void *p, size_t len)
{
	struct out *o = ctx;

	if (o->len + len > o->cap) {
		size_t cap = (o->len + len) * 2;
		uint8_t *q = realloc(o->p, cap);

		if (!q)
			return -ENOMEM;
		o->p = q;
		o->cap = cap;
	}
	memcpy(o->p + o->len, p, len);
	o->len += len;
	return 0;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_crc(uint8_t *p, size_t len)
{
	uint32_t v = statefile_crc32(&crc, 0, p, len);

	for (int i = 0; i < 4; i++)
		p[len + i] = (uint8_t)(v >> (8 * i));
}

/* Makes the header's and each block's checksum hold, as far as the layout can be followed. */
static void fix_checksums(uint8_t *b, size_t len)
{
	size_t off = STATEFILE_HEADER_SIZE;

	if (len < STATEFILE_HEADER_SIZE)
		return;
	put_crc(b, 28);
	while (len - off >= 8) {
		uint32_t n = get32(b + off + 4);
		size_t size = n ? 8 + (size_t)n * STATEFILE_RECORD_SIZE + 4 : STATEFILE_END_SIZE;

		if (n > STATEFILE_BLOCK_RECORDS || len - off < size)
			return;
		put_crc(b + off, size - 4);
		off += size;
		if (n == 0)
			return;
	}
}

/* A clean decode encodes back to the same bytes. */
static void decode_check(const uint8_t *b, size_t len)
{
	struct collected c = {0};
	struct statefile_result res;
	struct statefile_enc *enc;
	struct out o = {0};
	int r = statefile_decode(b, len, collect, &c, &res);

	if (r == 0) {
		enc = statefile_enc_new(out_write, &o);
		if (!enc || statefile_enc_header(enc, &res.header) < 0)
			abort();
		for (size_t i = 0; i < c.n; i++)
			if (statefile_enc_entry(enc, &c.v[i]) < 0)
				abort();
		if (statefile_enc_finish(enc) < 0 || o.len != len || memcmp(o.p, b, len) != 0)
			abort();
		statefile_enc_free(enc);
	} else if (r == -EBADMSG && (res.problem == STATEFILE_OK || !res.what[0])) {
		abort(); /* a problem without its description */
	}
	free(o.p);
	free(c.v);
}

static void load(const uint8_t *data, size_t size)
{
	static const uint64_t key[2] = {1, 2};
	mxa_addr fake = {{0}}, real = {{0}};
	struct mx_params p = {.fake = &fake,
	                      .n_fake = 1,
	                      .real = &real,
	                      .n_real = 1,
	                      .whitelist_time = 3600,
	                      .v4_prefix = 32,
	                      .v6_prefix = 64};
	char err[CONFIG_ERRLEN];
	struct state *s = NULL;
	struct state_stats st;
	struct mx *mx;
	FILE *f = fopen(path, "wb");

	real.b[15] = 1;
	if (!f)
		abort();
	if (size && fwrite(data, 1, size, f) != size)
		abort();
	fclose(f);
	if (state_new(&cfg, &s, err, sizeof(err)) < 0 || !s)
		abort();
	state_load(s, &cfg, 1000);
	state_stats(s, 1000, &st);
	if (st.loaded == 0) {
		state_free(s);
		return; /* nothing to put back */
	}
	mx = mx_new(&p, cfg.max_entries, key, NULL, state_epoch(s, 1000));
	if (!mx)
		abort();
	state_restore(s, mx, 1000);
	if (whitelist_size(mx_whitelist(mx)) > cfg.max_entries)
		abort();
	mx_free(mx);
	state_free(s);
}

/* Entries of every kind: both families, used or not, deadlines past and future. */
static void build_base(void)
{
	struct statefile_header h = {.saved_at = 1700000000, .v4_prefix = 32, .v6_prefix = 64};
	struct out o = {0};
	struct statefile_enc *enc = statefile_enc_new(out_write, &o);

	if (!enc || statefile_enc_header(enc, &h) < 0)
		abort();
	for (int i = 0; i < BASE_ENTRIES; i++) {
		struct wl_entry e = {.reason = (enum wl_reason)(i == 2 ? WL_REASON_MANUAL : 1 + i),
		                     .rdns_done = i == 1};

		e.addr.b[i == 0 ? 10 : 0] = 0xff;
		e.addr.b[i == 0 ? 11 : 1] = 0xff;
		e.addr.b[15] = (uint8_t)i;
		e.origin.b[15] = 9;
		e.deadline = i == 2 ? 1000 : (int64_t)time(NULL) + 3600 * (i + 1);
		e.used = i != 0;
		e.last_use = e.used ? 1600000000 : 0;
		if (statefile_enc_entry(enc, &e) < 0)
			abort();
	}
	if (statefile_enc_finish(enc) < 0)
		abort();
	statefile_enc_free(enc);
	base = o.p;
	base_len = o.len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;
	size_t len;

	if (size == 0)
		return 0;
	if (!base)
		build_base();
	if (data[0] & 1) {
		len = size - 1;
		copy = malloc(len ? len : 1);
		if (!copy)
			return 0;
		memcpy(copy, data + 1, len);
	} else {
		/* data[1]: the length (0 .. the whole and a little more); then offset, byte pairs.
		 */
		len = size > 1 ? data[1] * (base_len + 8) / 255 : base_len;
		copy = calloc(1, len ? len : 1);
		if (!copy)
			return 0;
		memcpy(copy, base, len < base_len ? len : base_len);
		for (size_t i = 2; i + 1 < size && len; i += 2)
			copy[data[i] % len] = data[i + 1];
	}
	if (data[0] & 2)
		fix_checksums(copy, len);
	decode_check(copy, len);
	/* The loader's file handling is the same for any bad start: the magic, or short ones. */
	if (len < 8 || memcmp(copy, "MXASTATE", 8) == 0)
		load(copy, len);
	free(copy);
	return 0;
}
