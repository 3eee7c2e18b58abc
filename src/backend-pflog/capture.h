/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "linktype.h"

/*
 * TCP to port 25; for IPv4 only SYN without ACK. libpcap applies `tcp[13]`
 * (the TCP flags) to IPv4 alone: on IPv6 it never matches, so IPv6 segments
 * to port 25 pass the filter and the C code keeps only the SYNs.
 */
#define CAPTURE_DEFAULT_FILTER "tcp dst port 25 and (ip6 or tcp[13] & 0x12 = 0x02)"

/* The filter a live capture gets when none is configured (for --check-config). */
static inline const char *capture_default_filter(void)
{
	return CAPTURE_DEFAULT_FILTER;
}

/* The capture buffer asked for (the kernel may cap it: sysctl net.bpf.maxbufsize, rmem_max). */
#define CAPTURE_BUFFER_SIZE (4 * 1024 * 1024)

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

/**
 * capture_link_of_dlt() - the parser for libpcap link type @dlt (pflog, nflog,
 * raw IP, ethernet, linux-sll; also the savefile numbers an old libpcap
 * returns unmapped). Returns 0, or -EPROTONOSUPPORT.
 */
int capture_link_of_dlt(int dlt, enum link_kind *kind);

/* The descriptor to poll for reading (live captures). */
int capture_fd(const struct capture *c);

enum link_kind capture_link(const struct capture *c);

/**
 * capture_dispatch() - read what is available (live) or up to @max records
 * (files; 0: all), calling @fn for each SYN to port 25.
 * Returns the number of records read (0 at the end of a file, or when
 * nothing was waiting: a wake-up without data is no error), or a negative
 * errno with a reason in @err.
 */
int capture_dispatch(struct capture *c, int max, capture_fn fn, void *ctx, char *err,
                     size_t errlen);

const struct capture_stats *capture_stats(const struct capture *c);

/**
 * capture_drops() - records the kernel dropped before this capture read them
 * (libpcap's ps_drop + ps_ifdrop: buffer full, NFLOG ENOBUFS), in total since
 * the capture was opened; libpcap's 32-bit counters are followed across
 * wrap-around. Call it at least once per 2^32 drops.
 * Returns 0, or a negative errno with a reason in @err (savefiles have no
 * such counters).
 */
int capture_drops(struct capture *c, uint64_t *drops, char *err, size_t errlen);
