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

/* The direct index has at most 2^INDEX_MAX_BITS buckets (256 KiB for each family). */
#ifndef INDEX_MAX_BITS
#define INDEX_MAX_BITS 16
#endif

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
 * One family: the key space cut into intervals; interval i runs from
 * start[i] to start[i + 1] - 1 (the last one to the end of the space) and
 * carries the index of the most specific network covering it, or NONE.
 * start[0] is 0. idx[b] is the last interval starting at or before the first
 * key of bucket b (the top @bits bits of a key), with EMPTY when no network
 * touches the bucket; idx has 2^bits + 1 entries.
 */
struct iv4 {
	uint32_t start, label; /* side by side: the search reads both from one cache line */
};

struct part4 {
	struct iv4 *iv;
	size_t n;
	uint32_t *idx;
	unsigned bits;
};

struct part6 {
	struct k128 *start;
	uint32_t *label;
	size_t n;
	uint32_t *idx;
	unsigned bits;
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

static struct k128 key_of(const mxa_addr *a)
{
	struct k128 k = {0, 0};

	for (int i = 0; i < 8; i++) {
		k.hi = k.hi << 8 | a->b[i];
		k.lo = k.lo << 8 | a->b[8 + i];
	}
	return k;
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
	*prefix = addr_is_v4(net) ? bits - 96 : bits;
	return 0;
}

struct netset *netset_new(void)
{
	return calloc(1, sizeof(struct netset));
}

static void parts_free(struct netset *s)
{
	free(s->v4.iv);
	free(s->v4.idx);
	free(s->v6.start);
	free(s->v6.label);
	free(s->v6.idx);
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

static unsigned index_bits(size_t n)
{
	unsigned bits = 1;

	while (bits < INDEX_MAX_BITS && ((size_t)1 << bits) < n)
		bits++;
	return bits;
}

static int build4(struct netset *s, const struct span *v, size_t n, struct cuts *c)
{
	struct part4 *p = &s->v4;
	size_t buckets, i = 0;

	sweep(v, n, (struct k128){0, UINT32_MAX}, c);
	p->n = c->n;
	p->bits = index_bits(c->n);
	buckets = (size_t)1 << p->bits;
	p->iv = malloc(c->n * sizeof(*p->iv));
	p->idx = malloc((buckets + 1) * sizeof(*p->idx));
	if (!p->iv || !p->idx)
		return -ENOMEM;
	for (size_t j = 0; j < c->n; j++)
		p->iv[j] = (struct iv4){(uint32_t)c->start[j].lo, c->label[j]};
	for (size_t b = 0; b < buckets; b++) {
		uint32_t first = (uint32_t)(b << (32 - p->bits));

		while (i + 1 < p->n && p->iv[i + 1].start <= first)
			i++;
		p->idx[b] = (uint32_t)i;
	}
	p->idx[buckets] = (uint32_t)(p->n - 1);
	/* Ascending: idx[b + 1] is still a plain index when bucket b is looked at. */
	for (size_t b = 0; b < buckets; b++) {
		uint32_t first = p->idx[b], next = p->idx[b + 1];
		uint64_t end = (uint64_t)(b + 1) << (32 - p->bits);

		if ((next == first || (next == first + 1 && p->iv[next].start == end)) &&
		    p->iv[first].label == NONE)
			p->idx[b] |= EMPTY;
	}
	s->memory += c->n * sizeof(*p->iv) + (buckets + 1) * sizeof(*p->idx);
	return 0;
}

static int build6(struct netset *s, const struct span *v, size_t n, struct cuts *c)
{
	struct part6 *p = &s->v6;
	size_t buckets, i = 0;

	sweep(v, n, (struct k128){UINT64_MAX, UINT64_MAX}, c);
	p->n = c->n;
	p->bits = index_bits(c->n);
	buckets = (size_t)1 << p->bits;
	p->start = malloc(c->n * sizeof(*p->start));
	p->label = malloc(c->n * sizeof(*p->label));
	p->idx = malloc((buckets + 1) * sizeof(*p->idx));
	if (!p->start || !p->label || !p->idx)
		return -ENOMEM;
	memcpy(p->start, c->start, c->n * sizeof(*p->start));
	memcpy(p->label, c->label, c->n * sizeof(*p->label));
	for (size_t b = 0; b < buckets; b++) {
		uint64_t first = (uint64_t)b << (64 - p->bits);

		while (i + 1 < p->n && p->start[i + 1].hi <= first &&
		       (p->start[i + 1].hi < first || p->start[i + 1].lo == 0))
			i++;
		p->idx[b] = (uint32_t)i;
	}
	p->idx[buckets] = (uint32_t)(p->n - 1);
	for (size_t b = 0; b < buckets; b++) {
		uint32_t first = p->idx[b], next = p->idx[b + 1];
		uint64_t end = b + 1 < buckets ? (uint64_t)(b + 1) << (64 - p->bits) : 0;

		if ((next == first || (next == first + 1 && end && p->start[next].hi == end &&
		                       p->start[next].lo == 0)) &&
		    p->label[first] == NONE)
			p->idx[b] |= EMPTY;
	}
	s->memory +=
	    c->n * (sizeof(*p->start) + sizeof(*p->label)) + (buckets + 1) * sizeof(*p->idx);
	return 0;
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

bool netset_lookup(const struct netset *s, const mxa_addr *a, const struct netset_net **net)
{
	size_t base, len;
	uint32_t label;

	if (!s || !s->finished)
		return false;
	if (memcmp(a->b, v4_mapped, sizeof(v4_mapped)) == 0) {
		const struct part4 *p = &s->v4;
		uint32_t x = key4_of(a), b = x >> (32 - p->bits);

		base = p->idx[b];
		if (base & EMPTY)
			return false;
		len = (p->idx[b + 1] & ~EMPTY) - base + 1;
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
		uint64_t b = x.hi >> (64 - p->bits);

		base = p->idx[b];
		if (base & EMPTY)
			return false;
		len = (p->idx[b + 1] & ~EMPTY) - base + 1;
		while (len > 1) {
			size_t half = len / 2;

			base = k_le(p->start[base + half], x) ? base + half : base;
			len -= half;
		}
		label = p->label[base];
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
