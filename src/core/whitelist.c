/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Whitelist: a dense array of slots, an open-addressing index (linear probing,
 * load <= 1/2, backward-shift deletion) of 32-bit cells, and two binary
 * min-heaps of slot numbers ordered by deadline, one per eviction class:
 * entries never used (a fake-MX hit, a sibling) and entries used (an accepted
 * real-MX connection). Both heaps share one array, the unused one growing up
 * from its start, the used one down from its end. Lookup and insert are O(1),
 * expiry, eviction and a class change O(log n). About 60 bytes per entry.
 *
 * Laid out for lookups at a million entries, where each memory access is a
 * cache miss: an index cell holds 4 bits of the key's hash beside the slot
 * number, so that probing past other keys (and most misses) never reads a
 * slot; a slot keeps what a lookup reads (address, deadline) in 32 aligned
 * bytes, one cache line, the origin apart; large arrays sit on transparent
 * huge pages where the system has them (a TLB miss costs a page walk, two
 * levels of them in a virtual machine).
 */
#include "whitelist.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

struct slot {
	mxa_addr addr;
	uint32_t deadline;      /* offsets from wl->epoch, in seconds */
	uint32_t last_use;      /* 0: never */
	uint32_t seq;           /* order of the last put: ties of deadline evict the oldest first */
	uint32_t heap_pos : 28; /* in the heap of its class (see is_used()) */
	uint32_t reason : 3;
	uint32_t rdns_done : 1; /* "used" is last_use != 0 */
};

/* Half a cache line: slots never straddle two lines (the arrays are 32-byte aligned or more). */
_Static_assert(sizeof(struct slot) == 32, "struct slot is 32 bytes");

#define MAX_CAPACITY ((1u << 28) - 1)

/*
 * An index cell: 0 when empty, else a tag (1..15, from the key's hash) in the
 * top 4 bits and the slot number below. A tag that differs proves the key
 * differs without reading the slot; an equal one proves nothing (a lookup
 * still compares the whole address).
 */
#define CELL_SLOT_BITS 28
#define CELL_SLOT      ((1u << CELL_SLOT_BITS) - 1)

struct whitelist {
	uint64_t key[2];
	mxa_time epoch;
	size_t capacity;
	size_t n;
	size_t alloc; /* slots and heap cells allocated */
	uint32_t seq;
	struct slot *slots;
	mxa_addr *origins; /* of the slot of the same number: a lookup does not read them */
	/*
	 * Heap of class c at position p: heap[p] for c = 0 (unused), heap[alloc - 1 - p]
	 * for c = 1 (used); heap_n[0] + heap_n[1] == n.
	 */
	uint32_t *heap;
	size_t heap_n[2];
	uint32_t *index; /* cells (CELL_SLOT_BITS) */
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
	e->origin = wl->origins[s - wl->slots];
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

/* The tag of a key with hash @h, in place: from bits above those of any home (at most 29). */
static uint32_t cell_tag(uint64_t h)
{
	return (1 + (uint32_t)(((h >> 32) * 15) >> 32)) << CELL_SLOT_BITS;
}

static uint32_t cell_slot(uint32_t c)
{
	return c & CELL_SLOT;
}

/* Position in the index of @a (hash @h), or of the empty cell where it would go. */
static size_t index_find_hashed(const struct whitelist *wl, const mxa_addr *a, uint64_t h)
{
	size_t i = (size_t)h & wl->index_mask;
	uint32_t tag = cell_tag(h), c;

	while ((c = wl->index[i]) &&
	       ((c & ~CELL_SLOT) != tag || !addr_equal(&wl->slots[cell_slot(c)].addr, a)))
		i = (i + 1) & wl->index_mask;
	return i;
}

static size_t index_find(const struct whitelist *wl, const mxa_addr *a)
{
	return index_find_hashed(wl, a, addr_hash(a, wl->key));
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
		home = index_home(wl, &wl->slots[cell_slot(wl->index[j])].addr);
		/* Move j back to i unless its home lies cyclically in (i, j]. */
		if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
			wl->index[i] = wl->index[j];
			wl->index[j] = 0;
			i = j;
		}
	}
}

/*
 * The eviction class of a slot: 1 once a real-MX connection used it, and for
 * an administrator's manual entry, which a flood of fake-MX hits must not
 * push out either.
 */
static int is_used(const struct slot *s)
{
	return s->last_use != 0 || s->reason == WL_REASON_MANUAL;
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

/*
 * Arrays of HUGE_PAGE bytes or more are mapped 2 MiB-aligned and marked for
 * transparent huge pages (Linux with THP in "madvise" mode): lookups at a
 * million entries touch random lines of tens of MiB, and with 4 KiB pages
 * nearly each would also miss the TLB. Elsewhere they come from calloc()
 * (FreeBSD promotes large mappings to superpages by itself).
 */
#if defined(MADV_HUGEPAGE) && defined(MAP_ANONYMOUS)
#define HUGE_PAGE ((size_t)2 << 20)

/* @bytes rounded up to whole huge pages: what array_new() maps. */
static size_t huge_span(size_t bytes)
{
	return (bytes + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
}
#endif

/* A zeroed array of @bytes; NULL when out of memory. */
static void *array_new(size_t bytes)
{
#ifdef HUGE_PAGE
	if (bytes >= HUGE_PAGE) {
		size_t span = huge_span(bytes), head;
		char *m = mmap(NULL, span + HUGE_PAGE, PROT_READ | PROT_WRITE,
		               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (m == MAP_FAILED)
			return NULL;
		head = (HUGE_PAGE - (uintptr_t)m % HUGE_PAGE) % HUGE_PAGE;
		if (head)
			(void)munmap(m, head);
		(void)munmap(m + head + span, HUGE_PAGE - head);
		/*
		 * A hint (without it, small pages). Pages past @bytes are never
		 * touched: the last, partial 2 MiB stays on small pages.
		 */
		(void)madvise(m + head, bytes, MADV_HUGEPAGE);
		return m + head;
	}
#endif
	return calloc(1, bytes);
}

static void array_free(void *p, size_t bytes)
{
#ifdef HUGE_PAGE
	if (bytes >= HUGE_PAGE) {
		if (p)
			(void)munmap(p, huge_span(bytes));
		return;
	}
#else
	(void)bytes;
#endif
	free(p);
}

/* Frees the arrays of slot numbering (not the index). */
static void free_arrays(struct whitelist *wl)
{
	array_free(wl->slots, wl->alloc * sizeof(*wl->slots));
	array_free(wl->origins, wl->alloc * sizeof(*wl->origins));
	array_free(wl->heap, wl->alloc * sizeof(*wl->heap));
}

/* Takes over @index (zeroed, @cells a power of two) and fills it from the slots. */
static void rebuild_index(struct whitelist *wl, uint32_t *index, size_t cells)
{
	array_free(wl->index, (wl->index_mask + 1) * sizeof(*wl->index));
	wl->index = index;
	wl->index_mask = cells - 1;
	for (size_t s = 0; s < wl->n; s++) {
		uint64_t h = addr_hash(&wl->slots[s].addr, wl->key);
		size_t i = (size_t)h & wl->index_mask;

		while (wl->index[i]) /* the keys are distinct: the first empty cell is theirs */
			i = (i + 1) & wl->index_mask;
		wl->index[i] = cell_tag(h) | (uint32_t)s;
	}
}

/*
 * Room for more slots. Everything is allocated before anything changes: on
 * failure the whitelist stays as it was, so the index never holds more than
 * half of its cells and a probe always ends at an empty one.
 */
static int grow(struct whitelist *wl)
{
	size_t alloc = wl->alloc ? wl->alloc * 2 : 64;
	size_t cells = wl->index_mask + 1;
	uint32_t *index = NULL, *heap = NULL;
	struct slot *slots = NULL;
	mxa_addr *origins = NULL;

	if (alloc > wl->capacity)
		alloc = wl->capacity;
	while (cells < alloc * 2)
		cells *= 2;
	if (alloc > SIZE_MAX / sizeof(*slots) || cells > SIZE_MAX / sizeof(*index))
		return -ENOMEM;
	if (cells != wl->index_mask + 1 && !(index = array_new(cells * sizeof(*index))))
		goto fail;
	if (!(slots = array_new(alloc * sizeof(*slots))) ||
	    !(origins = array_new(alloc * sizeof(*origins))) ||
	    !(heap = array_new(alloc * sizeof(*heap))))
		goto fail;
	if (wl->alloc) {
		memcpy(slots, wl->slots, wl->n * sizeof(*slots));
		memcpy(origins, wl->origins, wl->n * sizeof(*origins));
		/* The used heap sits at the end of the array: it moves to the new end. */
		memcpy(heap, wl->heap, wl->heap_n[0] * sizeof(*heap));
		memcpy(heap + alloc - wl->heap_n[1], wl->heap + wl->alloc - wl->heap_n[1],
		       wl->heap_n[1] * sizeof(*heap));
		free_arrays(wl);
	}
	wl->slots = slots;
	wl->origins = origins;
	wl->heap = heap;
	wl->alloc = alloc;
	if (index)
		rebuild_index(wl, index, cells);
	return 0;
fail:
	array_free(index, cells * sizeof(*index));
	array_free(slots, alloc * sizeof(*slots));
	array_free(origins, alloc * sizeof(*origins));
	array_free(heap, alloc * sizeof(*heap));
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
		free_arrays(wl);
		array_free(wl->index, (wl->index_mask + 1) * sizeof(*wl->index));
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
	return sizeof(*wl) +
	       wl->alloc * (sizeof(struct slot) + sizeof(mxa_addr) + sizeof(uint32_t)) +
	       (wl->index_mask + 1) * sizeof(uint32_t);
}

static struct slot *find_slot(const struct whitelist *wl, const mxa_addr *a)
{
	uint32_t c = wl->index[index_find(wl, a)];

	return c ? &wl->slots[cell_slot(c)] : NULL;
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
		size_t i;

		wl->slots[s] = wl->slots[last];
		wl->origins[s] = wl->origins[last];
		i = index_find(wl, &wl->slots[s].addr);
		wl->index[i] = (wl->index[i] & ~CELL_SLOT) | s;
		*heap_cell(wl, is_used(&wl->slots[s]), wl->slots[s].heap_pos) = s;
	}
}

int whitelist_put(struct whitelist *wl, const struct wl_entry *e, struct wl_entry *evicted)
{
	uint64_t h = addr_hash(&e->addr, wl->key);
	size_t i = index_find_hashed(wl, &e->addr, h);
	int result = WL_PUT_NEW;
	struct slot *s;

	if (wl->index[i]) {
		int was;

		s = &wl->slots[cell_slot(wl->index[i])];
		was = is_used(s);
		if (was != (s->last_use != 0 || e->reason == WL_REASON_MANUAL))
			heap_remove(wl, was, s->heap_pos); /* a class change: manual or not */
		wl->origins[cell_slot(wl->index[i])] = e->origin;
		s->deadline = to_rel(wl, e->deadline);
		s->reason = (uint8_t)e->reason;
		s->rdns_done = e->rdns_done;
		s->seq = wl->seq++;
		if (was != is_used(s))
			heap_insert(wl, is_used(s), cell_slot(wl->index[i]));
		else
			heap_fix(wl, was, s->heap_pos);
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
	i = index_find_hashed(wl, &e->addr, h); /* the index may have grown or lost the victim */
	s = &wl->slots[wl->n];
	memset(s, 0, sizeof(*s));
	s->addr = e->addr;
	wl->origins[wl->n] = e->origin;
	s->deadline = to_rel(wl, e->deadline);
	s->reason = (uint8_t)e->reason;
	s->rdns_done = e->rdns_done;
	if (e->used) { /* restored (state file): it stays in the used class */
		s->last_use = to_rel(wl, e->last_use);
		if (!s->last_use)
			s->last_use = 1;
	}
	s->seq = wl->seq++;
	wl->index[i] = cell_tag(h) | (uint32_t)wl->n;
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
 * Batched lookups, software-pipelined across the whole batch: while lookup i
 * is hashed and its home cell prefetched (stage 1), lookup i - PIPE_DIST reads
 * its cells and prefetches its slot (stage 2), and lookup i - 2 * PIPE_DIST
 * compares (stage 3). Each of the two dependent cache misses of a lookup has
 * the work of PIPE_DIST lookups (mostly their SipHash) to hide behind.
 */
#define PIPE_DIST 8
#define PIPE_RING (2 * PIPE_DIST)

struct probe {
	size_t cell; /* stage 1: the home; stage 2: the first cell of the tag, or an empty one */
	uint32_t tag;
};

static void probe_start(const struct whitelist *wl, const mxa_addr *a, struct probe *p)
{
	uint64_t h = addr_hash(a, wl->key);

	p->cell = (size_t)h & wl->index_mask;
	p->tag = cell_tag(h);
	__builtin_prefetch(&wl->index[p->cell]);
}

/* Skips the cells of other tags; prefetches the slot, and its origin with @origin. */
static void probe_cells(const struct whitelist *wl, struct probe *p, bool origin)
{
	uint32_t c;

	while ((c = wl->index[p->cell]) && (c & ~CELL_SLOT) != p->tag)
		p->cell = (p->cell + 1) & wl->index_mask;
	if (c) {
		__builtin_prefetch(&wl->slots[cell_slot(c)]);
		if (origin)
			__builtin_prefetch(&wl->origins[cell_slot(c)]);
	}
}

static const struct slot *probe_end(const struct whitelist *wl, const mxa_addr *a,
                                    const struct probe *p)
{
	uint32_t c;

	for (size_t i = p->cell; (c = wl->index[i]); i = (i + 1) & wl->index_mask)
		if ((c & ~CELL_SLOT) == p->tag && addr_equal(&wl->slots[cell_slot(c)].addr, a))
			return &wl->slots[cell_slot(c)];
	return NULL;
}

/* The daemon reads whole entries after this (whitelist_lookup() with @out): origins too. */
void whitelist_prefetch(const struct whitelist *wl, const mxa_addr *a, size_t n)
{
	struct probe ring[PIPE_RING];

	for (size_t i = 0; i < n + PIPE_DIST; i++) {
		if (i >= PIPE_DIST)
			probe_cells(wl, &ring[(i - PIPE_DIST) % PIPE_RING], true);
		if (i < n)
			probe_start(wl, &a[i], &ring[i % PIPE_RING]);
	}
}

size_t whitelist_lookup_batch(const struct whitelist *wl, const mxa_addr *a, size_t n, mxa_time now,
                              bool *live)
{
	uint32_t rel = to_rel(wl, now);
	struct probe ring[PIPE_RING];
	size_t found = 0;

	/* Stage 3 runs first: stage 1 of lookup i reuses the ring entry of lookup i - PIPE_RING. */
	for (size_t i = 0; i < n + 2 * PIPE_DIST; i++) {
		if (i >= 2 * PIPE_DIST) {
			size_t k = i - 2 * PIPE_DIST;
			const struct slot *s = probe_end(wl, &a[k], &ring[k % PIPE_RING]);

			live[k] = s && s->deadline > rel;
			found += live[k];
		}
		if (i >= PIPE_DIST && i - PIPE_DIST < n)
			probe_cells(wl, &ring[(i - PIPE_DIST) % PIPE_RING], false);
		if (i < n)
			probe_start(wl, &a[i], &ring[i % PIPE_RING]);
	}
	return found;
}
