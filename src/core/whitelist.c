/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Whitelist: a dense array of slots, an open-addressing index (linear probing,
 * load <= 1/2, backward-shift deletion) of 32-bit slot numbers, and two binary
 * min-heaps of slot numbers ordered by deadline, one per eviction class:
 * entries never used (a fake-MX hit, a sibling) and entries used (an accepted
 * real-MX connection). Both heaps share one array, the unused one growing up
 * from its start, the used one down from its end. Lookup and insert are O(1),
 * expiry, eviction and a class change O(log n). About 60 bytes per entry.
 */
#include "whitelist.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct slot {
	mxa_addr addr;
	mxa_addr origin;
	uint32_t deadline;      /* offsets from wl->epoch, in seconds */
	uint32_t last_use;      /* 0: never */
	uint32_t seq;           /* order of the last put: ties of deadline evict the oldest first */
	uint32_t heap_pos : 28; /* in the heap of its class (see is_used()) */
	uint32_t reason : 3;
	uint32_t rdns_done : 1; /* "used" is last_use != 0 */
};

#define MAX_CAPACITY ((1u << 28) - 1)

struct whitelist {
	uint64_t key[2];
	mxa_time epoch;
	size_t capacity;
	size_t n;
	size_t alloc; /* slots and heap cells allocated */
	uint32_t seq;
	struct slot *slots;
	/*
	 * Heap of class c at position p: heap[p] for c = 0 (unused), heap[alloc - 1 - p]
	 * for c = 1 (used); heap_n[0] + heap_n[1] == n.
	 */
	uint32_t *heap;
	size_t heap_n[2];
	uint32_t *index; /* 0: empty, else slot number + 1 */
	size_t index_mask;
};

static uint32_t to_rel(const struct whitelist *wl, mxa_time t)
{
	if (t <= wl->epoch)
		return 0;
	if (t - wl->epoch >= UINT32_MAX)
		return UINT32_MAX;
	return (uint32_t)(t - wl->epoch);
}

static mxa_time from_rel(const struct whitelist *wl, uint32_t r)
{
	return wl->epoch + r;
}

static void slot_to_entry(const struct whitelist *wl, const struct slot *s, struct wl_entry *e)
{
	e->addr = s->addr;
	e->origin = s->origin;
	e->deadline = from_rel(wl, s->deadline);
	e->last_use = s->last_use ? from_rel(wl, s->last_use) : 0;
	e->reason = (enum wl_reason)s->reason;
	e->used = s->last_use != 0;
	e->rdns_done = s->rdns_done;
}

static size_t index_home(const struct whitelist *wl, const mxa_addr *a)
{
	return (size_t)addr_hash(a, wl->key) & wl->index_mask;
}

/* Position in the index of @a, or of the empty cell where it would go. */
static size_t index_find(const struct whitelist *wl, const mxa_addr *a)
{
	size_t i = index_home(wl, a);

	while (wl->index[i] && !addr_equal(&wl->slots[wl->index[i] - 1].addr, a))
		i = (i + 1) & wl->index_mask;
	return i;
}

static void index_remove_at(struct whitelist *wl, size_t i)
{
	size_t j = i;

	wl->index[i] = 0;
	for (;;) {
		size_t home;

		j = (j + 1) & wl->index_mask;
		if (!wl->index[j])
			return;
		home = index_home(wl, &wl->slots[wl->index[j] - 1].addr);
		/* Move j back to i unless its home lies cyclically in (i, j]. */
		if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
			wl->index[i] = wl->index[j];
			wl->index[j] = 0;
			i = j;
		}
	}
}

/* The eviction class of a slot: 1 once a real-MX connection used it. */
static int is_used(const struct slot *s)
{
	return s->last_use != 0;
}

static uint32_t *heap_cell(const struct whitelist *wl, int c, uint32_t pos)
{
	return c ? &wl->heap[wl->alloc - 1 - pos] : &wl->heap[pos];
}

static struct slot *heap_slot(const struct whitelist *wl, int c, uint32_t pos)
{
	return &wl->slots[*heap_cell(wl, c, pos)];
}

static bool heap_less(const struct whitelist *wl, int c, uint32_t a, uint32_t b)
{
	const struct slot *x = heap_slot(wl, c, a), *y = heap_slot(wl, c, b);

	if (x->deadline != y->deadline)
		return x->deadline < y->deadline;
	return (int32_t)(x->seq - y->seq) < 0; /* wraps safely: ties are put close in time */
}

static void heap_swap(struct whitelist *wl, int c, uint32_t a, uint32_t b)
{
	uint32_t *x = heap_cell(wl, c, a), *y = heap_cell(wl, c, b), t = *x;

	*x = *y;
	*y = t;
	wl->slots[*x].heap_pos = a;
	wl->slots[*y].heap_pos = b;
}

static void heap_fix(struct whitelist *wl, int c, uint32_t pos)
{
	while (pos > 0 && heap_less(wl, c, pos, (pos - 1) / 2)) {
		heap_swap(wl, c, pos, (pos - 1) / 2);
		pos = (pos - 1) / 2;
	}
	for (;;) {
		uint32_t l = 2 * pos + 1, r = l + 1, m = pos;

		if (l < wl->heap_n[c] && heap_less(wl, c, l, m))
			m = l;
		if (r < wl->heap_n[c] && heap_less(wl, c, r, m))
			m = r;
		if (m == pos)
			return;
		heap_swap(wl, c, pos, m);
		pos = m;
	}
}

/* Puts slot number @s into the heap of class @c (room is there: heap_n[0] + heap_n[1] < alloc). */
static void heap_insert(struct whitelist *wl, int c, uint32_t s)
{
	uint32_t pos = (uint32_t)wl->heap_n[c]++;

	*heap_cell(wl, c, pos) = s;
	wl->slots[s].heap_pos = pos;
	heap_fix(wl, c, pos);
}

/* Takes the slot at @pos out of the heap of class @c. */
static void heap_remove(struct whitelist *wl, int c, uint32_t pos)
{
	uint32_t last = (uint32_t)wl->heap_n[c] - 1;

	if (pos != last)
		heap_swap(wl, c, pos, last);
	wl->heap_n[c]--;
	if (pos < wl->heap_n[c])
		heap_fix(wl, c, pos);
}

/* The slot number that leaves first when the whitelist is full: unused entries go first. */
static uint32_t eviction_victim(const struct whitelist *wl)
{
	return *heap_cell(wl, wl->heap_n[0] ? 0 : 1, 0);
}

/* The slot number with the earliest deadline (of both classes); the whitelist is not empty. */
static uint32_t earliest(const struct whitelist *wl)
{
	if (!wl->heap_n[0])
		return *heap_cell(wl, 1, 0);
	if (!wl->heap_n[1])
		return *heap_cell(wl, 0, 0);
	return wl->slots[*heap_cell(wl, 1, 0)].deadline < wl->slots[*heap_cell(wl, 0, 0)].deadline
	           ? *heap_cell(wl, 1, 0)
	           : *heap_cell(wl, 0, 0);
}

/* Takes over @index (zeroed, @cells a power of two) and fills it from the slots. */
static void rebuild_index(struct whitelist *wl, uint32_t *index, size_t cells)
{
	free(wl->index);
	wl->index = index;
	wl->index_mask = cells - 1;
	for (size_t s = 0; s < wl->n; s++)
		wl->index[index_find(wl, &wl->slots[s].addr)] = (uint32_t)s + 1;
}

/*
 * Room for more slots. Everything is allocated before anything changes: on
 * failure the whitelist stays as it was (a larger slot or heap array that
 * realloc() already gave is kept, unused), so the index never holds more than
 * half of its cells and a probe always ends at an empty one.
 */
static int grow(struct whitelist *wl)
{
	size_t alloc = wl->alloc ? wl->alloc * 2 : 64;
	size_t cells = wl->index_mask + 1;
	uint32_t *index = NULL, *heap;
	struct slot *slots;

	if (alloc > wl->capacity)
		alloc = wl->capacity;
	while (cells < alloc * 2)
		cells *= 2;
	if (cells != wl->index_mask + 1) {
		index = calloc(cells, sizeof(*index));
		if (!index)
			return -ENOMEM;
	}
	slots = realloc(wl->slots, alloc * sizeof(*slots));
	if (!slots)
		goto fail;
	wl->slots = slots;
	heap = realloc(wl->heap, alloc * sizeof(*heap));
	if (!heap)
		goto fail;
	/* The used heap sits at the end of the array: it moves to the new end. */
	if (wl->heap_n[1])
		memmove(heap + alloc - wl->heap_n[1], heap + wl->alloc - wl->heap_n[1],
		        wl->heap_n[1] * sizeof(*heap));
	wl->heap = heap;
	wl->alloc = alloc;
	if (index)
		rebuild_index(wl, index, cells);
	return 0;
fail:
	free(index);
	return -ENOMEM;
}

const char *whitelist_reason_name(enum wl_reason r)
{
	switch (r) {
	case WL_REASON_FAKE_MX:
		return "fake-mx";
	case WL_REASON_RDNS_SIBLING:
		return "rdns-sibling";
	case WL_REASON_STATIC:
		return "static";
	case WL_REASON_MANUAL:
		return "manual";
	case WL_REASON_RDNS_DOMAIN:
		return "rdns-domain";
	case WL_REASON_TRUSTED:
		return "trusted-domain";
	case WL_REASON_PEER:
		return "peer";
	}
	return "unknown";
}

struct whitelist *whitelist_new(size_t capacity, const uint64_t key[2], mxa_time now)
{
	struct whitelist *wl;

	if (capacity == 0 || capacity > MAX_CAPACITY)
		return NULL;
	wl = calloc(1, sizeof(*wl));
	if (!wl)
		return NULL;
	wl->key[0] = key[0];
	wl->key[1] = key[1];
	wl->epoch = now - 1;
	wl->capacity = capacity;
	wl->index = calloc(128, sizeof(*wl->index));
	if (!wl->index)
		return whitelist_free(wl);
	wl->index_mask = 127;
	if (grow(wl) < 0)
		return whitelist_free(wl);
	return wl;
}

struct whitelist *whitelist_free(struct whitelist *wl)
{
	if (wl) {
		free(wl->slots);
		free(wl->heap);
		free(wl->index);
		free(wl);
	}
	return NULL;
}

size_t whitelist_size(const struct whitelist *wl)
{
	return wl->n;
}

size_t whitelist_capacity(const struct whitelist *wl)
{
	return wl->capacity;
}

size_t whitelist_memory(const struct whitelist *wl)
{
	return sizeof(*wl) + wl->alloc * (sizeof(struct slot) + sizeof(uint32_t)) +
	       (wl->index_mask + 1) * sizeof(uint32_t);
}

static struct slot *find_slot(const struct whitelist *wl, const mxa_addr *a)
{
	uint32_t v = wl->index[index_find(wl, a)];

	return v ? &wl->slots[v - 1] : NULL;
}

bool whitelist_lookup(const struct whitelist *wl, const mxa_addr *a, mxa_time now,
                      struct wl_entry *out)
{
	const struct slot *s = find_slot(wl, a);

	if (!s || s->deadline <= to_rel(wl, now))
		return false;
	if (out)
		slot_to_entry(wl, s, out);
	return true;
}

bool whitelist_get(const struct whitelist *wl, const mxa_addr *a, struct wl_entry *out)
{
	const struct slot *s = find_slot(wl, a);

	if (!s)
		return false;
	slot_to_entry(wl, s, out);
	return true;
}

/* Removes slot number @s, moving the last slot into its place. */
static void remove_slot(struct whitelist *wl, uint32_t s)
{
	uint32_t last = (uint32_t)wl->n - 1;

	index_remove_at(wl, index_find(wl, &wl->slots[s].addr));
	heap_remove(wl, is_used(&wl->slots[s]), wl->slots[s].heap_pos);
	wl->n--;
	if (s != last) {
		wl->slots[s] = wl->slots[last];
		wl->index[index_find(wl, &wl->slots[s].addr)] = s + 1;
		*heap_cell(wl, is_used(&wl->slots[s]), wl->slots[s].heap_pos) = s;
	}
}

int whitelist_put(struct whitelist *wl, const struct wl_entry *e, struct wl_entry *evicted)
{
	size_t i = index_find(wl, &e->addr);
	int result = WL_PUT_NEW;
	struct slot *s;

	if (wl->index[i]) {
		s = &wl->slots[wl->index[i] - 1];
		s->origin = e->origin;
		s->deadline = to_rel(wl, e->deadline);
		s->reason = (uint8_t)e->reason;
		s->rdns_done = e->rdns_done;
		s->seq = wl->seq++;
		heap_fix(wl, is_used(s), s->heap_pos);
		return WL_PUT_UPDATED;
	}
	if (wl->n == wl->capacity) {
		uint32_t v = eviction_victim(wl);

		if (evicted)
			slot_to_entry(wl, &wl->slots[v], evicted);
		remove_slot(wl, v);
		result = WL_PUT_EVICTED;
	} else if (wl->n == wl->alloc) {
		if (grow(wl) < 0)
			return -ENOMEM;
	}
	i = index_find(wl, &e->addr);
	s = &wl->slots[wl->n];
	memset(s, 0, sizeof(*s));
	s->addr = e->addr;
	s->origin = e->origin;
	s->deadline = to_rel(wl, e->deadline);
	s->reason = (uint8_t)e->reason;
	s->rdns_done = e->rdns_done;
	if (e->used) { /* restored (state file): it stays in the used class */
		s->last_use = to_rel(wl, e->last_use);
		if (!s->last_use)
			s->last_use = 1;
	}
	s->seq = wl->seq++;
	wl->index[i] = (uint32_t)wl->n + 1;
	wl->n++;
	heap_insert(wl, is_used(s), (uint32_t)wl->n - 1);
	return result;
}

int64_t whitelist_use(struct whitelist *wl, const mxa_addr *a, mxa_time now, mxa_time deadline,
                      struct wl_entry *out)
{
	struct slot *s = find_slot(wl, a);
	uint32_t rel = to_rel(wl, now), want;
	int64_t moved = 0;

	if (!s || s->deadline <= rel)
		return -1;
	if (!is_used(s)) {
		/* Into the used class: evicted only after every unused entry. */
		heap_remove(wl, 0, s->heap_pos);
		heap_insert(wl, 1, (uint32_t)(s - wl->slots));
	}
	s->last_use = rel ? rel : 1;
	want = deadline > now ? to_rel(wl, deadline) : 0;
	if (want > s->deadline) {
		moved = (int64_t)want - s->deadline;
		s->deadline = want;
		s->seq = wl->seq++;
		heap_fix(wl, 1, s->heap_pos);
	}
	if (out)
		slot_to_entry(wl, s, out);
	return moved;
}

bool whitelist_touch(struct whitelist *wl, const mxa_addr *a, mxa_time now)
{
	return whitelist_use(wl, a, now, 0, NULL) >= 0;
}

bool whitelist_set_rdns_done(struct whitelist *wl, const mxa_addr *a, mxa_time now)
{
	struct slot *s = find_slot(wl, a);

	if (!s || s->deadline <= to_rel(wl, now))
		return false;
	s->rdns_done = 1;
	return true;
}

bool whitelist_del(struct whitelist *wl, const mxa_addr *a, struct wl_entry *out)
{
	struct slot *s = find_slot(wl, a);

	if (!s)
		return false;
	if (out)
		slot_to_entry(wl, s, out);
	remove_slot(wl, (uint32_t)(s - wl->slots));
	return true;
}

bool whitelist_pop_expired(struct whitelist *wl, mxa_time now, struct wl_entry *out)
{
	uint32_t s;

	if (wl->n == 0)
		return false;
	s = earliest(wl);
	if (wl->slots[s].deadline > to_rel(wl, now))
		return false;
	if (out)
		slot_to_entry(wl, &wl->slots[s], out);
	remove_slot(wl, s);
	return true;
}

mxa_time whitelist_next_deadline(const struct whitelist *wl)
{
	return wl->n ? from_rel(wl, wl->slots[earliest(wl)].deadline) : -1;
}

size_t whitelist_used_count(const struct whitelist *wl)
{
	return wl->heap_n[1];
}

int whitelist_foreach(const struct whitelist *wl, int (*fn)(void *ctx, const struct wl_entry *e),
                      void *ctx)
{
	struct wl_entry e;
	int r;

	for (size_t s = 0; s < wl->n; s++) {
		slot_to_entry(wl, &wl->slots[s], &e);
		r = fn(ctx, &e);
		if (r)
			return r;
	}
	return 0;
}

/*
 * Downwards through the dense slots: a removal moves the last slot into the
 * hole, so an entry can only move to a lower slot. Walking down, an entry not
 * yet seen stays below the position (seen at least once); one already seen
 * may move below it again (seen twice). Walking up would miss entries instead.
 */
int whitelist_iter(const struct whitelist *wl, struct wl_iter *it, mxa_time now, size_t *budget,
                   struct wl_entry *out)
{
	uint32_t rel = to_rel(wl, now);

	if (!it->started) {
		it->started = true;
		it->next = wl->n;
	}
	if (it->next > wl->n)
		it->next = wl->n;
	while (it->next > 0) {
		const struct slot *s;

		if (*budget == 0)
			return -EAGAIN;
		(*budget)--;
		s = &wl->slots[--it->next];
		if (s->deadline > rel) {
			slot_to_entry(wl, s, out);
			return 1;
		}
	}
	return 0;
}

/*
 * Batched lookups: a lookup costs two dependent cache misses at 1e6 entries
 * (the index cell, then the slot). Across a batch they overlap: hash all and
 * prefetch their index cells, then read the cells and prefetch their slots,
 * then compare, in groups of BATCH_GROUP so that the prefetched lines are
 * still in the cache when they are used.
 */
#define BATCH_GROUP 16

static void prefetch_group(const struct whitelist *wl, const mxa_addr *a, size_t n, size_t *home)
{
	for (size_t i = 0; i < n; i++) {
		home[i] = index_home(wl, &a[i]);
		__builtin_prefetch(&wl->index[home[i]]);
	}
	for (size_t i = 0; i < n; i++) {
		uint32_t v = wl->index[home[i]];

		if (v)
			__builtin_prefetch(&wl->slots[v - 1]);
	}
}

void whitelist_prefetch(const struct whitelist *wl, const mxa_addr *a, size_t n)
{
	size_t home[BATCH_GROUP];

	for (size_t g = 0; g < n; g += BATCH_GROUP)
		prefetch_group(wl, a + g, n - g < BATCH_GROUP ? n - g : BATCH_GROUP, home);
}

size_t whitelist_lookup_batch(const struct whitelist *wl, const mxa_addr *a, size_t n, mxa_time now,
                              bool *live)
{
	uint32_t rel = to_rel(wl, now);
	size_t home[BATCH_GROUP], found = 0;

	for (size_t g = 0; g < n; g += BATCH_GROUP) {
		size_t m = n - g < BATCH_GROUP ? n - g : BATCH_GROUP;

		prefetch_group(wl, a + g, m, home);
		for (size_t i = 0; i < m; i++) {
			size_t c = home[i];
			const struct slot *s = NULL;

			while (wl->index[c]) {
				if (addr_equal(&wl->slots[wl->index[c] - 1].addr, &a[g + i])) {
					s = &wl->slots[wl->index[c] - 1];
					break;
				}
				c = (c + 1) & wl->index_mask;
			}
			live[g + i] = s && s->deadline > rel;
			found += live[g + i];
		}
	}
	return found;
}
