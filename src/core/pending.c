/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Held packets live in a fixed array of slots, on one list in the order they
 * came (which is also their deadline order: every deadline is since + the
 * hold time) and on their group's list; groups live in an open-addressing
 * index (linear probing, load <= 1/2, backward-shift deletion) keyed like the
 * whitelist. Adding, joining and releasing are O(1) per packet.
 */
#include "pending.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define NIL UINT32_MAX

struct slot {
	struct pending_packet p;
	uint32_t prev, next; /* arrival order; next also links the free slots */
	uint32_t gnext;      /* next packet of the same group */
};

struct group {
	mxa_addr key;
	uint32_t head, tail; /* NIL head: empty cell */
};

struct pending {
	uint64_t key[2];
	uint32_t hold_ms;
	size_t max, n;
	struct slot *slots;
	uint32_t head, tail, free;
	struct group *groups;
	size_t gmask;
};

static int alloc_tables(struct pending *p, size_t max)
{
	size_t cells = 2;

	while (cells < 2 * max)
		cells <<= 1;
	p->slots = calloc(max ? max : 1, sizeof(*p->slots));
	p->groups = malloc(cells * sizeof(*p->groups));
	if (!p->slots || !p->groups) {
		free(p->slots);
		free(p->groups);
		return -ENOMEM;
	}
	for (size_t i = 0; i < cells; i++)
		p->groups[i].head = NIL;
	for (size_t i = 0; i < max; i++)
		p->slots[i].next = i + 1 < max ? (uint32_t)(i + 1) : NIL;
	p->free = max ? 0 : NIL;
	p->head = p->tail = NIL;
	p->gmask = cells - 1;
	p->max = max;
	p->n = 0;
	return 0;
}

struct pending *pending_new(size_t max, uint32_t hold_ms, const uint64_t key[2])
{
	struct pending *p;

	if (max > PENDING_MAX)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->key[0] = key[0];
	p->key[1] = key[1];
	p->hold_ms = hold_ms;
	if (alloc_tables(p, max) < 0) {
		free(p);
		return NULL;
	}
	return p;
}

struct pending *pending_free(struct pending *p)
{
	if (p) {
		free(p->slots);
		free(p->groups);
		free(p);
	}
	return NULL;
}

static struct group *group_find(const struct pending *p, const mxa_addr *key)
{
	for (size_t i = addr_hash(key, p->key) & p->gmask;; i = (i + 1) & p->gmask) {
		struct group *g = &p->groups[i];

		if (g->head == NIL)
			return NULL;
		if (addr_equal(&g->key, key))
			return g;
	}
}

static struct group *group_add(struct pending *p, const mxa_addr *key)
{
	for (size_t i = addr_hash(key, p->key) & p->gmask;; i = (i + 1) & p->gmask)
		if (p->groups[i].head == NIL) {
			p->groups[i].key = *key;
			return &p->groups[i];
		}
}

static void group_del(struct pending *p, struct group *g)
{
	size_t i = (size_t)(g - p->groups), j = i;

	g->head = NIL;
	for (;;) {
		size_t home;

		j = (j + 1) & p->gmask;
		if (p->groups[j].head == NIL)
			return;
		home = addr_hash(&p->groups[j].key, p->key) & p->gmask;
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			p->groups[i] = p->groups[j];
			p->groups[j].head = NIL;
			i = j;
		}
	}
}

static void arrival_unlink(struct pending *p, uint32_t s)
{
	struct slot *x = &p->slots[s];

	if (x->prev != NIL)
		p->slots[x->prev].next = x->next;
	else
		p->head = x->next;
	if (x->next != NIL)
		p->slots[x->next].prev = x->prev;
	else
		p->tail = x->prev;
}

/* Returns slot @s to the free list and hands a copy of its packet to @fn. */
static void slot_release(struct pending *p, uint32_t s, pending_fn fn, void *ctx)
{
	struct pending_packet copy = p->slots[s].p;

	p->slots[s].next = p->free;
	p->free = s;
	p->n--;
	if (fn)
		fn(ctx, &copy);
}

int pending_add(struct pending *p, const mxa_addr *key, uint64_t token, const mxa_addr *src,
                const mxa_addr *dst, uint64_t now_ms)
{
	struct group *g;
	struct slot *x;
	uint32_t s;
	int r;

	if (p->free == NIL)
		return -ENOSPC;
	g = group_find(p, key);
	r = g ? PENDING_JOINED : PENDING_NEW;
	if (!g)
		g = group_add(p, key);
	s = p->free;
	x = &p->slots[s];
	p->free = x->next;
	x->p = (struct pending_packet){.token = token,
	                               .key = *key,
	                               .src = *src,
	                               .dst = *dst,
	                               .since = now_ms,
	                               .deadline = now_ms + p->hold_ms};
	x->gnext = NIL;
	x->next = NIL;
	x->prev = p->tail;
	if (p->tail != NIL)
		p->slots[p->tail].next = s;
	else
		p->head = s;
	p->tail = s;
	if (r == PENDING_NEW)
		g->head = s;
	else
		p->slots[g->tail].gnext = s;
	g->tail = s;
	p->n++;
	return r;
}

bool pending_has(const struct pending *p, const mxa_addr *key)
{
	return p->n > 0 && group_find(p, key) != NULL;
}

size_t pending_release(struct pending *p, const mxa_addr *key, pending_fn fn, void *ctx)
{
	struct group *g = p->n ? group_find(p, key) : NULL;
	uint32_t s;
	size_t n = 0;

	if (!g)
		return 0;
	s = g->head;
	group_del(p, g); /* first: @fn may add packets */
	while (s != NIL) {
		uint32_t next = p->slots[s].gnext;

		arrival_unlink(p, s);
		slot_release(p, s, fn, ctx);
		n++;
		s = next;
	}
	return n;
}

/* Removes the oldest packet, which is the first of its group. */
static void pop_oldest(struct pending *p, pending_fn fn, void *ctx)
{
	uint32_t s = p->head;
	struct group *g = group_find(p, &p->slots[s].p.key);

	arrival_unlink(p, s);
	if (g) {
		g->head = p->slots[s].gnext;
		if (g->head == NIL)
			group_del(p, g);
	}
	slot_release(p, s, fn, ctx);
}

size_t pending_expire(struct pending *p, uint64_t now_ms, pending_fn fn, void *ctx)
{
	size_t n = 0;

	while (p->head != NIL && p->slots[p->head].p.deadline <= now_ms) {
		pop_oldest(p, fn, ctx);
		n++;
	}
	return n;
}

size_t pending_flush(struct pending *p, pending_fn fn, void *ctx)
{
	size_t n = 0;

	while (p->head != NIL) {
		pop_oldest(p, fn, ctx);
		n++;
	}
	return n;
}

int pending_set(struct pending *p, size_t max, uint32_t hold_ms, pending_fn fn, void *ctx)
{
	struct pending next = {.key = {p->key[0], p->key[1]}, .hold_ms = hold_ms};
	uint32_t s;

	if (max > PENDING_MAX)
		return -EINVAL;
	if (max == p->max) {
		p->hold_ms = hold_ms;
		for (s = p->head; s != NIL; s = p->slots[s].next)
			p->slots[s].p.deadline = p->slots[s].p.since + hold_ms;
		return 0;
	}
	if (alloc_tables(&next, max) < 0)
		return -ENOMEM;
	/* The oldest beyond the new bound get their verdict; the others move, in order. */
	while (p->n > max)
		pop_oldest(p, fn, ctx);
	for (s = p->head; s != NIL; s = p->slots[s].next) {
		const struct pending_packet *x = &p->slots[s].p;

		(void)pending_add(&next, &x->key, x->token, &x->src, &x->dst, x->since);
	}
	free(p->slots);
	free(p->groups);
	*p = next;
	return 0;
}

int64_t pending_next_deadline(const struct pending *p)
{
	return p->head == NIL ? -1 : (int64_t)p->slots[p->head].p.deadline;
}

size_t pending_count(const struct pending *p)
{
	return p->n;
}

size_t pending_max(const struct pending *p)
{
	return p->max;
}

uint32_t pending_hold_ms(const struct pending *p)
{
	return p->hold_ms;
}
