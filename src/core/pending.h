/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * Held verdicts: packets whose verdict waits for an answer about their
 * client (its rDNS check today; a peer's entry or a manual one later), at
 * most until a deadline. Packets are grouped by client key (the whitelist
 * key: the address masked to the configured prefix), so that one answer,
 * or the client becoming whitelisted by any source, releases them all; a
 * retransmitted SYN joins its client's group. The backend only keeps packet
 * ids: here they are opaque tokens.
 *
 * Bounded: at most @max packets (a fixed array, allocated when the bound is
 * set); groups live in an open-addressing index of twice that size. The
 * clock is an argument, in milliseconds. Every packet that leaves the table
 * goes through the caller's callback: none can be forgotten.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

/* Upper bound of hold-max (config) and of pending_set(). */
#define PENDING_MAX 65535

struct pending_packet {
	uint64_t token; /* the backend's packet id */
	mxa_addr key;   /* group: the client's whitelist key */
	mxa_addr src;   /* the packet's addresses, for the verdict's log line */
	mxa_addr dst;
	uint64_t since;    /* ms: when it was held */
	uint64_t deadline; /* ms */
};

/* Called for every packet leaving the table, in the order they came. */
typedef void (*pending_fn)(void *ctx, const struct pending_packet *p);

enum pending_added {
	PENDING_NEW = 0,    /* the first packet of its client: start the check */
	PENDING_JOINED = 1, /* the client's check is under way: it waits with the others */
};

struct pending;

/**
 * pending_new() - an empty table for at most @max packets held @hold_ms each.
 * @max 0 holds nothing. Returns NULL on allocation failure or @max above
 * PENDING_MAX.
 */
struct pending *pending_new(size_t max, uint32_t hold_ms, const uint64_t key[2]);

/* Frees the table; call pending_flush() first, packets still held are lost. */
struct pending *pending_free(struct pending *p);

/**
 * pending_set() - a new bound and hold time. Packets above a smaller bound,
 * the oldest first, go to @fn; the deadlines of the rest become since +
 * @hold_ms. Returns 0 or -ENOMEM / -EINVAL (unchanged).
 */
int pending_set(struct pending *p, size_t max, uint32_t hold_ms, pending_fn fn, void *ctx);

/**
 * pending_add() - hold packet @token of client @key until now_ms + hold time.
 * Returns PENDING_NEW, PENDING_JOINED, or -ENOSPC when the table is full
 * (nothing changed: give the verdict at once).
 */
int pending_add(struct pending *p, const mxa_addr *key, uint64_t token, const mxa_addr *src,
                const mxa_addr *dst, uint64_t now_ms);

/* Packets of @key are held. */
bool pending_has(const struct pending *p, const mxa_addr *key);

/* Removes every packet of @key, each through @fn. Returns how many. */
size_t pending_release(struct pending *p, const mxa_addr *key, pending_fn fn, void *ctx);

/* Removes every packet whose deadline is <= @now_ms, each through @fn. Returns how many. */
size_t pending_expire(struct pending *p, uint64_t now_ms, pending_fn fn, void *ctx);

/* Removes every packet, each through @fn (shutdown). Returns how many. */
size_t pending_flush(struct pending *p, pending_fn fn, void *ctx);

/* Earliest deadline in ms, or -1 when nothing is held. */
int64_t pending_next_deadline(const struct pending *p);

size_t pending_count(const struct pending *p);
size_t pending_max(const struct pending *p);
uint32_t pending_hold_ms(const struct pending *p);
