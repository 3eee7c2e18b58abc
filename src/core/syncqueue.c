/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A ring of items and an open-addressing index (linear probing, load <= 1/2,
 * backward-shift deletion) of ring positions, keyed like the whitelist.
 */
#include "syncqueue.h"

#include <stdlib.h>

struct syncq {
	struct syncq_item *ring;
	size_t cap, head, n;
	uint32_t *index; /* 0: empty, else ring position + 1 */
	size_t mask;
	uint64_t hkey[2];
	uint64_t dropped;
};

struct syncq *syncq_new(size_t cap, const uint64_t hkey[2])
{
	struct syncq *q;
	size_t cells = 2;

	if (cap == 0 || cap > ((size_t)1 << 24))
		return NULL;
	while (cells < 2 * cap)
		cells *= 2;
	q = calloc(1, sizeof(*q));
	if (!q)
		return NULL;
	q->ring = calloc(cap, sizeof(*q->ring));
	q->index = calloc(cells, sizeof(*q->index));
	if (!q->ring || !q->index)
		return syncq_free(q);
	q->cap = cap;
	q->mask = cells - 1;
	q->hkey[0] = hkey[0];
	q->hkey[1] = hkey[1];
	return q;
}

struct syncq *syncq_free(struct syncq *q)
{
	if (q) {
		free(q->ring);
		free(q->index);
		free(q);
	}
	return NULL;
}

/* The index cell holding @key, or the empty cell where it would go. */
static size_t find(const struct syncq *q, const mxa_addr *key)
{
	size_t i = (size_t)addr_hash(key, q->hkey) & q->mask;

	while (q->index[i] && !addr_equal(&q->ring[q->index[i] - 1].key, key))
		i = (i + 1) & q->mask;
	return i;
}

static void index_remove(struct syncq *q, size_t i)
{
	size_t j = i;

	q->index[i] = 0;
	for (;;) {
		size_t home;

		j = (j + 1) & q->mask;
		if (!q->index[j])
			return;
		home = (size_t)addr_hash(&q->ring[q->index[j] - 1].key, q->hkey) & q->mask;
		/* Move j back to i unless its home lies cyclically in (i, j]. */
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			q->index[i] = q->index[j];
			q->index[j] = 0;
			i = j;
		}
	}
}

enum syncq_result syncq_push(struct syncq *q, const mxa_addr *key, enum syncq_kind kind,
                             uint64_t now_us)
{
	size_t i = find(q, key), pos;

	if (q->index[i]) {
		q->ring[q->index[i] - 1].kind = kind;
		return SYNCQ_MERGED;
	}
	if (q->n == q->cap) {
		q->dropped++;
		return SYNCQ_FULL;
	}
	pos = (q->head + q->n) % q->cap;
	q->ring[pos] = (struct syncq_item){.key = *key, .kind = kind, .since_us = now_us};
	q->index[i] = (uint32_t)pos + 1;
	q->n++;
	return SYNCQ_QUEUED;
}

bool syncq_pop(struct syncq *q, struct syncq_item *out)
{
	if (!q->n)
		return false;
	*out = q->ring[q->head];
	index_remove(q, find(q, &out->key));
	q->head = (q->head + 1) % q->cap;
	q->n--;
	return true;
}

bool syncq_find(const struct syncq *q, const mxa_addr *key, enum syncq_kind *kind)
{
	size_t i = find(q, key);

	if (!q->index[i])
		return false;
	if (kind)
		*kind = q->ring[q->index[i] - 1].kind;
	return true;
}

void syncq_clear(struct syncq *q)
{
	struct syncq_item it;

	while (syncq_pop(q, &it))
		if (it.kind == SYNCQ_DEL)
			q->dropped++;
}

size_t syncq_len(const struct syncq *q)
{
	return q->n;
}

size_t syncq_cap(const struct syncq *q)
{
	return q->cap;
}

uint64_t syncq_dropped(const struct syncq *q)
{
	return q->dropped;
}
