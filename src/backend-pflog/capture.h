/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "linktype.h"

/* SYN without ACK to port 25; `tcp[13]` works on every link type libpcap can filter. */
#define CAPTURE_DEFAULT_FILTER "tcp dst port 25 and tcp[13] & 0x12 = 0x02"

struct capture_stats {
	uint64_t records;   /* records read */
	uint64_t syns;      /* TCP SYNs (no ACK, no RST) to port 25 handed on */
	uint64_t ignored;   /* well-formed, something else */
	uint64_t malformed; /* truncated or malformed: skipped */
};

/* One SYN to port 25; @sec is the record's timestamp (seconds since the epoch). */
typedef void (*capture_fn)(void *ctx, const struct link_record *rec, int64_t sec, uint32_t usec);

struct capture;

/**
 * capture_open_live() - capture from @ifname (pflog0, nflog:N, ...) in
 * immediate mode, non-blocking, with @filter (NULL: the default, except on
 * NFLOG, which libpcap cannot filter; "": none).
 * Only link types the parser knows are accepted.
 * Returns NULL with a one-line reason in @err.
 */
struct capture *capture_open_live(const char *ifname, const char *filter, char *err, size_t errlen);

/*
 * Reads a savefile (pcap or pcapng); @filter NULL means none (the C checks
 * suffice offline). Returns NULL with a one-line reason in @err.
 */
struct capture *capture_open_file(const char *path, const char *filter, char *err, size_t errlen);

struct capture *capture_close(struct capture *c);

/* The descriptor to poll for reading (live captures). */
int capture_fd(const struct capture *c);

enum link_kind capture_link(const struct capture *c);

/**
 * capture_dispatch() - read what is available (live) or up to @max records
 * (files; 0: all), calling @fn for each SYN to port 25.
 * Returns the number of records read (0 at the end of a file, or when
 * nothing was waiting), or a negative errno with a reason in @err.
 */
int capture_dispatch(struct capture *c, int max, capture_fn fn, void *ctx, char *err,
                     size_t errlen);

const struct capture_stats *capture_stats(const struct capture *c);
