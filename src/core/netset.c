/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "netset.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Label of an interval no network covers. */
#define NONE UINT32_MAX

/* In idx[b]: no network touches bucket b (the usual answer for a stranger): one read decides. */
#define EMPTY ((uint32_t)1 << 31)
/* In idx[b]: bucket b is crowded and has a node (see struct index). */
#define NODE ((uint32_t)1 << 30)
#define POS  (NODE - 1)

/*
 * About one bucket per interval, up to 2^INDEX_MAX_BITS (1 MiB of index for
 * each family): a lookup then reads the index and one or two intervals.
 */
#ifndef INDEX_MAX_BITS
#define INDEX_MAX_BITS 18
#endif

/* A bucket with more intervals than this, that the index cannot split, gets a node. */
#define CROWDED 32

struct k128 {
	uint64_t hi, lo;
};

/* A network as an inclusive range of keys, during the build. */
struct span {
	struct k128 start, end;
	unsigned bits;  /* prefix length in the 128-bit space: breaks ties between nested ranges */
	uint32_t label; /* index into nets */
};

/*
 * One family: the key space cut into intervals; interval i runs from its
 * start to the next one's minus one (the last one to the end of the space)
 * and carries the index of the most specific network covering it, or NONE.
 * The first starts at 0. Start and label side by side: the search reads
 * both from one cache line.
 */
struct iv4 {
	uint32_t start, label;
};

struct iv6 {
	uint64_t hi, lo;
	uint32_t label;
};

/*
 * The direct index of one family, on a 64-bit word of the key (an IPv4
 * address in the top half, or the first half of an IPv6 key). The IPv6
 * interval starts past the first share their top bits (2000::/3 at least):
 * the index covers [low, top] only, words below and above counting in the
 * first and last bucket (IPv4: all of it). idx[b] is the last interval
 * starting at or before the first key of bucket b, with EMPTY when no
 * network touches the bucket; idx has 2^bits + 1 entries.
 *
 * A crowded bucket (a provider's /32 full of networks falls in one, however
 * large the index) has a node in nodes[node_at[b]]: its intervals share
 * their first c bits, and the next bits pick a slice, as the index picks a
 * bucket. A node is low (two words), c, shift, then the first interval of
 * each slice and the bucket's last one.
 */
struct index {
	uint32_t *idx;
	uint32_t *node_at; /* NULL when no bucket is crowded */
	uint32_t *nodes;
	size_t n_nodes, cap_nodes;
	uint64_t low, top;
	unsigned bits, shift;
};

struct part4 {
	struct iv4 *iv;
	size_t n;
	struct index ix;
};

struct part6 {
	struct iv6 *iv;
	size_t n;
	struct index ix;
};

struct netset {
	struct netset_net *nets;
	size_t n, cap;
	char **sources;
	size_t n_sources;
	bool finished;
	struct part4 v4;
	struct part6 v6;
	size_t memory; /* of the lookup structure */
};

static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static uint64_t be64(const uint8_t *b)
{
	return (uint64_t)b[0] << 56 | (uint64_t)b[1] << 48 | (uint64_t)b[2] << 40 |
	       (uint64_t)b[3] << 32 | (uint64_t)b[4] << 24 | (uint64_t)b[5] << 16 |
	       (uint64_t)b[6] << 8 | b[7];
}

static struct k128 key_of(const mxa_addr *a)
{
	return (struct k128){be64(a->b), be64(a->b + 8)};
}

static uint32_t key4_of(const mxa_addr *a)
{
	const uint8_t *b = a->b + 12;

	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static bool k_le(struct k128 a, struct k128 b)
{
	return a.hi < b.hi || (a.hi == b.hi && a.lo <= b.lo);
}

static bool k_eq(struct k128 a, struct k128 b)
{
	return a.hi == b.hi && a.lo == b.lo;
}

/* The host part of a /bits network in the 128-bit space. */
static struct k128 host_mask(unsigned bits)
{
	struct k128 m;

	m.hi = bits >= 64 ? 0 : bits == 0 ? UINT64_MAX : UINT64_MAX >> bits;
	m.lo = bits >= 128 ? 0 : bits <= 64 ? UINT64_MAX : UINT64_MAX >> (bits - 64);
	return m;
}

static void mask_addr(mxa_addr *a, unsigned bits)
{
	for (unsigned i = bits / 8; i < 16; i++) {
		unsigned keep = i * 8 < bits ? bits - i * 8 : 0;

		a->b[i] &= (uint8_t)(keep ? 0xff << (8 - keep) : 0);
	}
}

int netset_parse(const char *s, mxa_addr *net, unsigned *prefix, char *why, size_t whylen)
{
	char text[ADDR_STRLEN];
	const char *slash = strchr(s, '/');
	size_t len = slash ? (size_t)(slash - s) : strlen(s);
	bool v6 = memchr(s, ':', len) != NULL;
	unsigned max = v6 ? 128 : 32, bits = max;

	if (len == 0 || len >= sizeof(text)) {
		snprintf(why, whylen, "'%s' is not an address or network (ADDR or ADDR/BITS)", s);
		return -EINVAL;
	}
	memcpy(text, s, len);
	text[len] = 0;
	if (addr_parse(net, text) < 0) {
		snprintf(why, whylen, "'%s' is not an address or network (ADDR or ADDR/BITS)", s);
		return -EINVAL;
	}
	if (slash) {
		const char *p = slash + 1;

		bits = 0;
		if (!*p || strlen(p) > 3)
			bits = max + 1;
		for (; *p && bits <= max; p++)
			bits = *p >= '0' && *p <= '9' ? bits * 10 + (unsigned)(*p - '0') : max + 1;
		if (bits > max) {
			snprintf(why, whylen,
			         "'%s': the prefix length is not a number from 1 to %u", s, max);
			return -EINVAL;
		}
	}
	if (!v6)
		bits += 96;
	mask_addr(net, bits);
	/* ::ffff:192.0.2.0/120 is 192.0.2.0/24; ::ffff:0:0/96 is every IPv4 address. */
	if (bits == 0 || (bits == 96 && addr_is_v4(net))) {
		snprintf(why, whylen, "'%s': a /0 would let every%s client in", s,
		         bits == 0 ? "" : " IPv4");
		return -EINVAL;
	}
	/*
	 * ::/8, ::fffe:0:0/95 ... hold ::ffff:0:0/96, every IPv4 client (IPv4 is
	 * kept as mapped addresses), while a kernel's IPv6 set never matches IPv4:
	 * refused rather than read two ways.
	 */
	if (bits < 96) {
		mxa_addr mapped = {{0}};

		mapped.b[10] = mapped.b[11] = 0xff;
		mask_addr(&mapped, bits);
		if (addr_equal(&mapped, net)) {
			snprintf(why, whylen,
			         "'%s' holds ::ffff:0:0/96, every IPv4 client: write IPv4 "
			         "networks in IPv4 form",
			         s);
			return -EINVAL;
		}
	}
	*prefix = addr_is_v4(net) ? bits - 96 : bits;
	return 0;
}

struct netset *netset_new(void)
{
	return calloc(1, sizeof(struct netset));
}

static void index_free(struct index *ix)
{
	free(ix->idx);
	free(ix->node_at);
	free(ix->nodes);
}

static void parts_free(struct netset *s)
{
	free(s->v4.iv);
	index_free(&s->v4.ix);
	free(s->v6.iv);
	index_free(&s->v6.ix);
	memset(&s->v4, 0, sizeof(s->v4));
	memset(&s->v6, 0, sizeof(s->v6));
	s->memory = 0;
}

struct netset *netset_free(struct netset *s)
{
	if (!s)
		return NULL;
	parts_free(s);
	for (size_t i = 0; i < s->n_sources; i++)
		free(s->sources[i]);
	free(s->sources);
	free(s->nets);
	free(s);
	return NULL;
}

/* The source string, shared with the previous network when it is the same. */
static const char *intern(struct netset *s, const char *source)
{
	char **v, *c;

	if (s->n_sources && strcmp(s->sources[s->n_sources - 1], source) == 0)
		return s->sources[s->n_sources - 1];
	v = realloc(s->sources, (s->n_sources + 1) * sizeof(*v));
	if (!v)
		return NULL;
	s->sources = v;
	c = strdup(source);
	if (!c)
		return NULL;
	s->sources[s->n_sources++] = c;
	return c;
}

int netset_add(struct netset *s, const mxa_addr *net, unsigned prefix, const char *source,
               uint32_t line)
{
	struct netset_net *e;
	bool v4 = addr_is_v4(net);

	if (s->finished || prefix == 0 || prefix > (v4 ? 32u : 128u))
		return -EINVAL;
	if (s->n >= NETSET_MAX)
		return -ENOSPC;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;

		if (cap > NETSET_MAX)
			cap = NETSET_MAX;
		e = realloc(s->nets, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		s->nets = e;
		s->cap = cap;
	}
	e = &s->nets[s->n];
	e->addr = *net;
	mask_addr(&e->addr, v4 ? 96 + prefix : prefix);
	e->prefix = (uint8_t)prefix;
	e->line = line;
	e->source = intern(s, source ? source : "");
	if (!e->source)
		return -ENOMEM;
	s->n++;
	return 0;
}

static unsigned bits_of(const struct netset_net *n)
{
	return addr_is_v4(&n->addr) ? 96u + n->prefix : n->prefix;
}

/* Address order, then the shorter prefix first; equal networks keep the order they came in. */
struct sortable {
	struct netset_net net;
	size_t seq;
};

static int cmp_nets(const void *a, const void *b)
{
	const struct sortable *x = a, *y = b;
	int c = memcmp(x->net.addr.b, y->net.addr.b, 16);

	if (c)
		return c;
	if (x->net.prefix != y->net.prefix)
		return x->net.prefix < y->net.prefix ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int cmp_spans(const void *a, const void *b)
{
	const struct span *x = a, *y = b;

	if (!k_eq(x->start, y->start))
		return k_le(x->start, y->start) ? -1 : 1;
	if (x->bits != y->bits)
		return x->bits < y->bits ? -1 : 1;
	return x->label < y->label ? -1 : x->label > y->label;
}

/* The partition being written by sweep(). */
struct cuts {
	struct k128 *start;
	uint32_t *label;
	size_t n;
};

static void cut(struct cuts *c, struct k128 at, uint32_t label)
{
	if (c->n && k_eq(c->start[c->n - 1], at)) {
		c->label[c->n - 1] = label; /* a more specific network starts right here */
		if (c->n > 1 && c->label[c->n - 2] == label)
			c->n--;
		return;
	}
	if (c->n && c->label[c->n - 1] == label)
		return;
	c->start[c->n] = at;
	c->label[c->n] = label;
	c->n++;
}

/*
 * Networks are nested or disjoint. In (start, prefix) order, a stack of the
 * networks that hold the current position gives the most specific one on
 * top; a network's end hands the position back to the one below it.
 * @top is the last key of the family's space.
 */
static void sweep(const struct span *v, size_t n, struct k128 top, struct cuts *c)
{
	const struct span *stack[130];
	size_t depth = 0;
	const struct k128 zero = {0, 0};

	c->n = 0;
	cut(c, zero, NONE);
	for (size_t i = 0; i <= n; i++) {
		while (depth && (i == n || !k_le(v[i].start, stack[depth - 1]->end))) {
			struct k128 after = stack[--depth]->end;

			if (k_eq(after, top))
				continue;
			after.lo++;
			after.hi += after.lo == 0;
			cut(c, after, depth ? stack[depth - 1]->label : NONE);
		}
		if (i == n)
			break;
		cut(c, v[i].start, v[i].label);
		stack[depth++] = &v[i];
	}
}

static unsigned log2_ceil(size_t v)
{
	unsigned l = 0;

	while (((size_t)1 << l) < v)
		l++;
	return l;
}

static unsigned clz64(uint64_t v)
{
	unsigned n = 0;

	for (; n < 64 && !(v >> 63); n++)
		v <<= 1;
	return n;
}

/* The last interval, from @i on, that starts at or before the key (@w, 0). */
static size_t last_at(const struct k128 *start, size_t n, size_t i, uint64_t w)
{
	while (i + 1 < n && (start[i + 1].hi < w || (start[i + 1].hi == w && start[i + 1].lo == 0)))
		i++;
	return i;
}

/* A node for the crowded (IPv6) bucket of intervals first..last. */
static int node_add(struct index *ix, const struct k128 *start, size_t n, size_t first, size_t last,
                    uint32_t *at)
{
	unsigned c = clz64(start[first + 1].hi ^ start[last].hi), sb = log2_ceil(last - first);
	uint64_t low = start[first + 1].hi & ~(UINT64_MAX >> c);
	size_t words, i = first;
	uint32_t *nd;

	if (sb > 64 - c)
		sb = 64 - c;
	if (sb > 16)
		sb = 16;
	words = 4 + ((size_t)1 << sb) + 1;
	if (ix->n_nodes + words > ix->cap_nodes) {
		size_t cap = ix->cap_nodes ? ix->cap_nodes * 2 : 1024;

		while (cap < ix->n_nodes + words)
			cap *= 2;
		nd = realloc(ix->nodes, cap * sizeof(*nd));
		if (!nd)
			return -ENOMEM;
		ix->nodes = nd;
		ix->cap_nodes = cap;
	}
	*at = (uint32_t)ix->n_nodes;
	nd = ix->nodes + ix->n_nodes;
	ix->n_nodes += words;
	nd[0] = (uint32_t)(low >> 32);
	nd[1] = (uint32_t)low;
	nd[2] = c;
	nd[3] = 64 - c - sb;
	for (size_t j = 0; j < ((size_t)1 << sb); j++) {
		/* Slice 0 also answers below the shared bits: it starts at @first. */
		if (j)
			i = last_at(start, n, i, low + ((uint64_t)j << nd[3]));
		nd[4 + j] = (uint32_t)i;
	}
	nd[4 + ((size_t)1 << sb)] = (uint32_t)last;
	return 0;
}

/*
 * The index of the @n intervals of a family, whose starts are given as keys
 * with the word in .hi. IPv4 words (32 bits) fill the index without help;
 * IPv6 ones cluster, so the index skips their shared bits and crowded
 * buckets get a node.
 */
static int index_build(struct index *ix, const struct k128 *start, const uint32_t *label, size_t n,
                       bool v6, size_t *memory)
{
	unsigned width = v6 ? 64 : 32;
	unsigned c0 = v6 && n > 2 ? clz64(start[1].hi ^ start[n - 1].hi) : 0;
	size_t buckets, i = 0;

	if (c0 > width - 1)
		c0 = width - 1;
	ix->bits = log2_ceil(n);
	if (ix->bits < 1)
		ix->bits = 1;
	if (ix->bits > INDEX_MAX_BITS)
		ix->bits = INDEX_MAX_BITS;
	if (ix->bits > width - c0)
		ix->bits = width - c0;
	ix->low = n > 1 ? start[1].hi & ~(UINT64_MAX >> c0) : 0;
	ix->top = ix->low + (UINT64_MAX >> c0);
	ix->shift = 64 - c0 - ix->bits;
	buckets = (size_t)1 << ix->bits;
	ix->idx = malloc((buckets + 1) * sizeof(*ix->idx));
	if (!ix->idx)
		return -ENOMEM;
	for (size_t b = 0; b < buckets; b++) {
		/* Bucket 0 also answers below low: it starts at interval 0. */
		if (b)
			i = last_at(start, n, i, ix->low + ((uint64_t)b << ix->shift));
		ix->idx[b] = (uint32_t)i;
	}
	ix->idx[buckets] = (uint32_t)(n - 1);
	/* Ascending: idx[b + 1] is still a plain index when bucket b is looked at. */
	for (size_t b = 0; b < buckets; b++) {
		size_t first = ix->idx[b], last = ix->idx[b + 1];

		if (b + 1 < buckets && last > first &&
		    start[last].hi == ix->low + ((uint64_t)(b + 1) << ix->shift) &&
		    start[last].lo == 0)
			last--; /* it starts the next bucket */
		if (last == first && label[first] == NONE) {
			ix->idx[b] |= EMPTY;
		} else if (v6 && last - first + 1 > CROWDED &&
		           start[first + 1].hi != start[last].hi) {
			if (!ix->node_at) {
				ix->node_at = calloc(buckets, sizeof(*ix->node_at));
				if (!ix->node_at)
					return -ENOMEM;
			}
			if (node_add(ix, start, n, first, last, &ix->node_at[b]) < 0)
				return -ENOMEM;
			ix->idx[b] |= NODE;
		}
	}
	if (ix->nodes) {
		uint32_t *nd = realloc(ix->nodes, ix->n_nodes * sizeof(*nd));

		if (nd)
			ix->nodes = nd;
	}
	*memory += (buckets + 1) * sizeof(*ix->idx) + ix->n_nodes * sizeof(*ix->nodes) +
	           (ix->node_at ? buckets * sizeof(*ix->node_at) : 0);
	return 0;
}

static int build4(struct netset *s, const struct span *v, size_t n, struct cuts *c)
{
	struct part4 *p = &s->v4;

	sweep(v, n, (struct k128){0, UINT32_MAX}, c);
	p->n = c->n;
	p->iv = malloc(c->n * sizeof(*p->iv));
	if (!p->iv)
		return -ENOMEM;
	for (size_t j = 0; j < c->n; j++) {
		p->iv[j] = (struct iv4){(uint32_t)c->start[j].lo, c->label[j]};
		c->start[j] = (struct k128){c->start[j].lo << 32, 0}; /* the word of the index */
	}
	s->memory += c->n * sizeof(*p->iv);
	return index_build(&p->ix, c->start, c->label, c->n, false, &s->memory);
}

static int build6(struct netset *s, const struct span *v, size_t n, struct cuts *c)
{
	struct part6 *p = &s->v6;

	sweep(v, n, (struct k128){UINT64_MAX, UINT64_MAX}, c);
	p->n = c->n;
	p->iv = malloc(c->n * sizeof(*p->iv));
	if (!p->iv)
		return -ENOMEM;
	for (size_t j = 0; j < c->n; j++)
		p->iv[j] = (struct iv6){c->start[j].hi, c->start[j].lo, c->label[j]};
	s->memory += c->n * sizeof(*p->iv);
	return index_build(&p->ix, c->start, c->label, c->n, true, &s->memory);
}

/* Sorts and merges the networks; nets keeps the first place of each. */
static int sort_nets(struct netset *s)
{
	struct sortable *t;
	size_t m = 0;

	if (s->n == 0)
		return 0;
	t = malloc(s->n * sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i < s->n; i++)
		t[i] = (struct sortable){s->nets[i], i};
	qsort(t, s->n, sizeof(*t), cmp_nets);
	for (size_t i = 0; i < s->n; i++)
		if (m == 0 || !addr_equal(&t[i].net.addr, &s->nets[m - 1].addr) ||
		    t[i].net.prefix != s->nets[m - 1].prefix)
			s->nets[m++] = t[i].net;
	free(t);
	s->n = m;
	return 0;
}

int netset_finish(struct netset *s)
{
	const struct k128 mapped = {0, (uint64_t)0xffff << 32};
	struct span *v4 = NULL, *v6 = NULL;
	struct cuts c = {0};
	size_t n4 = 0, n6 = 0;
	int r = -ENOMEM;

	if (s->finished)
		return 0;
	parts_free(s);
	if (sort_nets(s) < 0)
		return -ENOMEM;
	v4 = malloc((s->n + 1) * sizeof(*v4));
	v6 = malloc((s->n + 1) * sizeof(*v6));
	c.start = malloc((2 * s->n + 1) * sizeof(*c.start));
	c.label = malloc((2 * s->n + 1) * sizeof(*c.label));
	if (!v4 || !v6 || !c.start || !c.label)
		goto out;
	for (size_t i = 0; i < s->n; i++) {
		const struct netset_net *e = &s->nets[i];
		struct span sp = {.bits = bits_of(e), .label = (uint32_t)i};
		struct k128 m = host_mask(sp.bits);

		sp.start = key_of(&e->addr);
		sp.end = (struct k128){sp.start.hi | m.hi, sp.start.lo | m.lo};
		if (addr_is_v4(&e->addr)) {
			sp.start = (struct k128){0, sp.start.lo & UINT32_MAX};
			sp.end = (struct k128){0, sp.end.lo & UINT32_MAX};
			v4[n4++] = sp;
			continue;
		}
		v6[n6++] = sp;
		/* A short IPv6 prefix (::/8) holds ::ffff:0:0/96: every IPv4 client too. */
		if (k_le(sp.start, mapped) && k_le(mapped, sp.end)) {
			sp.start = (struct k128){0, 0};
			sp.end = (struct k128){0, UINT32_MAX};
			v4[n4++] = sp;
		}
	}
	qsort(v4, n4, sizeof(*v4), cmp_spans);
	qsort(v6, n6, sizeof(*v6), cmp_spans);
	if (build4(s, v4, n4, &c) < 0 || build6(s, v6, n6, &c) < 0)
		goto out;
	s->finished = true;
	r = 0;
out:
	if (r < 0)
		parts_free(s);
	free(v4);
	free(v6);
	free(c.start);
	free(c.label);
	return r;
}

/*
 * Where the answer for an IPv6 key whose first half is @w lies: the @len
 * intervals from @base. False when no network touches its bucket.
 */
static inline bool find6(const struct index *ix, uint64_t w, size_t *base, size_t *len)
{
	uint64_t y = w < ix->low ? ix->low : w > ix->top ? ix->top : w;
	size_t b = (size_t)((y - ix->low) >> ix->shift);
	uint32_t e = ix->idx[b];

	if (e & EMPTY)
		return false;
	if (e & NODE) {
		const uint32_t *nd = ix->nodes + ix->node_at[b];
		uint64_t low = (uint64_t)nd[0] << 32 | nd[1];
		uint64_t top = low + ((UINT64_MAX >> 1) >> (nd[2] - 1));

		y = w < low ? low : w > top ? top : w;
		nd += 4 + ((y - low) >> nd[3]);
		*base = nd[0];
		*len = nd[1] - nd[0] + 1;
		return true;
	}
	*base = e;
	*len = (ix->idx[b + 1] & POS) - e + 1;
	return true;
}

/*
 * All ones when interval @iv starts at or before @x, else 0. Arithmetic, not
 * a comparison of halves: compilers turn that one into branches, and a
 * branch on a random address is mispredicted every other time.
 */
static inline size_t starts_by(const struct iv6 *iv, struct k128 x)
{
	uint64_t borrow = x.lo < iv->lo;
	uint64_t after = (uint64_t)(x.hi < iv->hi) | (uint64_t)(x.hi - iv->hi < borrow);

	return (size_t)after - 1;
}

bool netset_lookup(const struct netset *s, const mxa_addr *a, const struct netset_net **net)
{
	size_t base, len;
	uint32_t label;

	if (!s || !s->finished)
		return false;
	if (memcmp(a->b, v4_mapped, sizeof(v4_mapped)) == 0) {
		const struct part4 *p = &s->v4;
		uint32_t x = key4_of(a), b = x >> (32 - p->ix.bits);

		base = p->ix.idx[b];
		if (base & EMPTY)
			return false;
		len = (p->ix.idx[b + 1] & POS) - base + 1;
		/* The last interval starting at or before x; branch-free halving. */
		while (len > 1) {
			size_t half = len / 2;

			base = p->iv[base + half].start <= x ? base + half : base;
			len -= half;
		}
		label = p->iv[base].label;
	} else {
		const struct part6 *p = &s->v6;
		struct k128 x = key_of(a);

		if (!find6(&p->ix, x.hi, &base, &len))
			return false;
		while (len > 1) {
			size_t half = len / 2;

			base += half & starts_by(&p->iv[base + half], x);
			len -= half;
		}
		label = p->iv[base].label;
	}
	if (label == NONE)
		return false;
	if (net)
		*net = &s->nets[label];
	return true;
}

size_t netset_count(const struct netset *s)
{
	return s ? s->n : 0;
}

const struct netset_net *netset_get(const struct netset *s, size_t i)
{
	return s && i < s->n ? &s->nets[i] : NULL;
}

size_t netset_memory(const struct netset *s)
{
	size_t m;

	if (!s)
		return 0;
	m = sizeof(*s) + s->memory + s->cap * sizeof(*s->nets) + s->n_sources * sizeof(char *);
	for (size_t i = 0; i < s->n_sources; i++)
		m += strlen(s->sources[i]) + 1;
	return m;
}

size_t netset_lookup_memory(const struct netset *s)
{
	return s ? s->memory : 0;
}

const char *netset_format(const struct netset_net *n, char *buf)
{
	char a[ADDR_STRLEN];

	snprintf(buf, NETSET_STRLEN, "%s/%u", addr_format(&n->addr, a), n->prefix);
	return buf;
}
