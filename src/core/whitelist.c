/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Whitelist: a dense array of slots, an open-addressing index (linear probing,
 * load <= 1/2, backward-shift deletion) of 32-bit slot numbers, and a binary
 * min-heap of slot numbers ordered by deadline. Lookup and insert are O(1),
 * expiry and eviction O(log n). About 60 bytes per entry.
 */
#include "whitelist.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct slot {
	mxa_addr addr;
	mxa_addr origin;
	uint32_t deadline; /* offsets from wl->epoch, in seconds */
	uint32_t last_use; /* 0: never */
	uint32_t seq;      /* order of the last put: ties of deadline evict the oldest first */
	uint32_t heap_pos : 28;
	uint32_t reason : 3;
	uint32_t rdns_done : 1; /* "used" is last_use != 0 */
};

#define MAX_CAPACITY ((1u << 28) - 1)

struct whitelist {
	uint64_t key[2];
	mxa_time epoch;
	size_t capacity;
	size_t n;
	size_t alloc; /* slots and heap allocated */
	uint32_t seq;
	struct slot *slots;
	uint32_t *heap;
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

static bool heap_less(const struct whitelist *wl, uint32_t a, uint32_t b)
{
	const struct slot *x = &wl->slots[wl->heap[a]], *y = &wl->slots[wl->heap[b]];

	if (x->deadline != y->deadline)
		return x->deadline < y->deadline;
	return (int32_t)(x->seq - y->seq) < 0; /* wraps safely: ties are put close in time */
}

static void heap_swap(struct whitelist *wl, uint32_t a, uint32_t b)
{
	uint32_t t = wl->heap[a];

	wl->heap[a] = wl->heap[b];
	wl->heap[b] = t;
	wl->slots[wl->heap[a]].heap_pos = a;
	wl->slots[wl->heap[b]].heap_pos = b;
}

static void heap_fix(struct whitelist *wl, uint32_t pos)
{
	while (pos > 0 && heap_less(wl, pos, (pos - 1) / 2)) {
		heap_swap(wl, pos, (pos - 1) / 2);
		pos = (pos - 1) / 2;
	}
	for (;;) {
		uint32_t l = 2 * pos + 1, r = l + 1, m = pos;

		if (l < wl->n && heap_less(wl, l, m))
			m = l;
		if (r < wl->n && heap_less(wl, r, m))
			m = r;
		if (m == pos)
			return;
		heap_swap(wl, pos, m);
		pos = m;
	}
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

/* Removes slot number @s, moving the last slot into its place. */
static void remove_slot(struct whitelist *wl, uint32_t s)
{
	uint32_t last = (uint32_t)wl->n - 1;
	uint32_t pos = wl->slots[s].heap_pos;

	index_remove_at(wl, index_find(wl, &wl->slots[s].addr));
	if (pos != last)
		heap_swap(wl, pos, last);
	wl->n--;
	if (pos < wl->n)
		heap_fix(wl, pos);
	if (s != last) {
		wl->slots[s] = wl->slots[last];
		wl->index[index_find(wl, &wl->slots[s].addr)] = s + 1;
		wl->heap[wl->slots[s].heap_pos] = s;
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
		heap_fix(wl, s->heap_pos);
		return WL_PUT_UPDATED;
	}
	if (wl->n == wl->capacity) {
		if (evicted)
			slot_to_entry(wl, &wl->slots[wl->heap[0]], evicted);
		remove_slot(wl, wl->heap[0]);
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
	s->seq = wl->seq++;
	s->heap_pos = (uint32_t)wl->n;
	wl->heap[wl->n] = (uint32_t)wl->n;
	wl->index[i] = (uint32_t)wl->n + 1;
	wl->n++;
	heap_fix(wl, s->heap_pos);
	return result;
}

bool whitelist_touch(struct whitelist *wl, const mxa_addr *a, mxa_time now)
{
	struct slot *s = find_slot(wl, a);
	uint32_t rel = to_rel(wl, now);

	if (!s || s->deadline <= rel)
		return false;
	s->last_use = rel ? rel : 1;
	return true;
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
	if (wl->n == 0 || wl->slots[wl->heap[0]].deadline > to_rel(wl, now))
		return false;
	if (out)
		slot_to_entry(wl, &wl->slots[wl->heap[0]], out);
	remove_slot(wl, wl->heap[0]);
	return true;
}

mxa_time whitelist_next_deadline(const struct whitelist *wl)
{
	return wl->n ? from_rel(wl, wl->slots[wl->heap[0]].deadline) : -1;
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
