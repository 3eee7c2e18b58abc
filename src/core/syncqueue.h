/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The whitelist changes waiting to be written to the shared store: a FIFO of
 * distinct keys, bounded. A key changed again while it waits is coalesced
 * (its latest kind wins, it keeps its place and the time of its first
 * change); a new key that finds the queue full is dropped and counted. So a
 * flood of fake-MX hits costs at most @cap entries of memory, and the writer
 * decides how fast to drain it.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

enum syncq_kind {
	SYNCQ_PUT = 0, /* write the key's current entry (if it still lives then) */
	SYNCQ_DEL = 1, /* delete the key everywhere */
};

enum syncq_result {
	SYNCQ_QUEUED = 0,
	SYNCQ_MERGED = 1,
	SYNCQ_FULL = 2, /* dropped */
};

struct syncq_item {
	mxa_addr key;
	enum syncq_kind kind;
	uint64_t since_us; /* the first change while it waited */
};

struct syncq;

/* An empty queue for at most @cap keys (1..2^24); NULL on failure. */
struct syncq *syncq_new(size_t cap, const uint64_t hkey[2]);
struct syncq *syncq_free(struct syncq *q);

enum syncq_result syncq_push(struct syncq *q, const mxa_addr *key, enum syncq_kind kind,
                             uint64_t now_us);
/* The oldest item; false when empty. */
bool syncq_pop(struct syncq *q, struct syncq_item *out);
/* True when @key waits in the queue, with its kind in *@kind (may be NULL). */
bool syncq_find(const struct syncq *q, const mxa_addr *key, enum syncq_kind *kind);
/* Drops everything (counted as dropped: DEL items only, PUT items are re-sent anyway). */
void syncq_clear(struct syncq *q);

size_t syncq_len(const struct syncq *q);
size_t syncq_cap(const struct syncq *q);
/* Keys dropped because the queue was full, since creation. */
uint64_t syncq_dropped(const struct syncq *q);
