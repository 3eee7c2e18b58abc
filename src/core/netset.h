/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * A set of networks (the administrator's allow lists), built once per load
 * and then only read. Lookups take O(log n) with a small constant: every
 * address family is cut into disjoint intervals, each labelled with the most
 * specific network covering it, and a direct index on the top bits of the
 * address (about one bucket per interval) narrows the binary search to one
 * or two intervals.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

/* At most this many networks in one set: bounds the memory and the build time of a load. */
#define NETSET_MAX 1000000

/* "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff/128" and a NUL. */
#define NETSET_STRLEN (ADDR_STRLEN + 4)

struct netset_net {
	mxa_addr addr;      /* the network, host bits zero; IPv4 v4-mapped as in addr.h */
	uint8_t prefix;     /* 1..32 for IPv4, 1..128 for IPv6 */
	uint32_t line;      /* line in @source, 0 when the source is itself a place */
	const char *source; /* a file name, or "FILE:LINE" of an `allow` key; owned by the set */
};

struct netset;

/**
 * netset_parse() - read "ADDR" or "ADDR/BITS" (IPv4 or IPv6) into a network.
 * Host bits are cleared (192.0.2.1/24 is 192.0.2.0/24, as ipset and pf read
 * it). A /0 is refused: it would let every client in. IPv4 in IPv6 notation
 * (::ffff:192.0.2.0/120) is an IPv4 network. On error @why gets the reason
 * (without the place). Returns 0 or -EINVAL.
 */
int netset_parse(const char *s, mxa_addr *net, unsigned *prefix, char *why, size_t whylen);

/* An empty set, ready for netset_add(). NULL when out of memory. */
struct netset *netset_new(void);
struct netset *netset_free(struct netset *s);

/**
 * netset_add() - add a parsed network before netset_finish(). @source and
 * @line say where it was written (for logs and mxallowctl show); @source is
 * copied once per run of equal sources. A network given twice is kept once
 * (with its first place). Returns 0, -ENOSPC past NETSET_MAX networks,
 * -EINVAL for a prefix out of range or a finished set, or -ENOMEM.
 */
int netset_add(struct netset *s, const mxa_addr *net, unsigned prefix, const char *source,
               uint32_t line);

/* Builds the lookup structure; no netset_add() afterwards. Returns 0 or -ENOMEM. */
int netset_finish(struct netset *s);

/**
 * netset_lookup() - the most specific network of the finished set @s that
 * holds @a. @net (may be NULL) receives it. False when none does (or when @s
 * is NULL or not finished).
 */
bool netset_lookup(const struct netset *s, const mxa_addr *a, const struct netset_net **net);

/* Networks in the set (after duplicates were merged), and the i-th in address order. */
size_t netset_count(const struct netset *s);
const struct netset_net *netset_get(const struct netset *s, size_t i);

/* Bytes allocated by the set, and of those the ones a lookup reads (intervals and index). */
size_t netset_memory(const struct netset *s);
size_t netset_lookup_memory(const struct netset *s);

/* "192.0.2.0/24" into @buf (NETSET_STRLEN bytes); returns @buf. */
const char *netset_format(const struct netset_net *n, char *buf);
