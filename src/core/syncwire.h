/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The shared whitelist's wire format (Redis or Valkey), one line of text:
 *
 *   key   PREFIX "e:" ADDR "/" BITS           the whitelist key (client masked to BITS)
 *   value v1 entry node=NODE addr=ADDR/BITS reason=REASON origin=ADDR|- deadline=UNIX
 *               last-use=UNIX|0 t=USEC
 *   event v1 add node=... (the same fields)    on channel PREFIX "events"
 *         v1 del node=NODE addr=ADDR/BITS t=USEC
 *         v1 hello node=NODE id=HEX16 t=USEC     a daemon's instance (16 hex digits, random
 *                                                 at start): two daemons with one node name
 *                                                 see each other's hello
 *
 * deadline and last-use are wall-clock seconds (the key's TTL is the remaining
 * lifetime, so the server expires it by itself); t is when the change was
 * made on NODE, in wall-clock microseconds: the receiver's sync lag. The
 * fields come in this order, each once; anything else is refused with a
 * reason: a peer's garbage is one error line, never an entry.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "whitelist.h"

#define SYNCWIRE_NODE_MAX 63  /* node-name: 1..63 of [A-Za-z0-9._-] */
#define SYNCWIRE_LINE_MAX 512 /* longest value or event */
#define SYNCWIRE_KEY_MAX  (64 + 2 + ADDR_STRLEN + 4)

enum syncwire_kind {
	SYNCWIRE_ENTRY = 0, /* a stored value */
	SYNCWIRE_ADD = 1,
	SYNCWIRE_DEL = 2,
	SYNCWIRE_HELLO = 3,
};

/* How far a peer's deadline may disagree with this clock (or with its key's TTL) unnoticed. */
#define SYNCWIRE_SKEW_TOLERANCE_S 2

struct syncwire_msg {
	enum syncwire_kind kind;
	char node[SYNCWIRE_NODE_MAX + 1];
	mxa_addr addr; /* the network, masked to bits */
	unsigned bits; /* 0..32 for IPv4, 0..128 for IPv6 */
	/* ENTRY and ADD only: */
	enum wl_reason reason; /* never WL_REASON_PEER or WL_REASON_STATIC */
	mxa_addr origin;       /* all zero: none ("-") */
	int64_t deadline;      /* wall clock, > 0 */
	int64_t last_use;      /* wall clock, 0: never */
	uint64_t id;           /* HELLO only: the instance */
	uint64_t t_us;
};

/* A valid node name (1..63 of letters, digits, '.', '-', '_'). */
bool syncwire_node_ok(const char *s);

/**
 * syncwire_format() - @m as one line into @buf (SYNCWIRE_LINE_MAX bytes).
 * Returns its length, or -EINVAL when @m cannot be sent (a bad node name,
 * bits, or a reason that is never shared).
 */
int syncwire_format(const struct syncwire_msg *m, char *buf, size_t len);

/**
 * syncwire_parse() - one value or event of @len bytes (not NUL-terminated).
 * Returns 0, or -EINVAL with the reason in @why (printable, without the
 * input).
 */
int syncwire_parse(const char *s, size_t len, struct syncwire_msg *m, char *why, size_t whylen);

/* The key of @addr/@bits under @prefix: "PREFIXe:ADDR/BITS". Returns its length or -EINVAL. */
int syncwire_key(const char *prefix, const mxa_addr *addr, unsigned bits, char *buf, size_t len);

/**
 * syncwire_key_parse() - the address and prefix length named by the key
 * @key (@len bytes, not NUL-terminated) under @prefix: exactly what
 * syncwire_key() makes, nothing else (a key of a deployment whose prefix
 * is longer, say "PREFIXe:", is refused). Returns 0 or -EINVAL.
 */
int syncwire_key_parse(const char *prefix, const char *key, size_t len, mxa_addr *addr,
                       unsigned *bits);

/**
 * syncwire_lifetime() - the local lifetime in seconds of a peer's entry
 * whose wall-clock deadline is @deadline, at wall-clock second @now: the
 * key's remaining TTL when it is known (@ttl_ms >= 0: a stored entry), else
 * deadline - now (an event); never more than @max (this host's longest own
 * lifetime), 0 when expired.
 * *@skew_s is how far the deadline is off, 0 when within
 * SYNCWIRE_SKEW_TOLERANCE_S: < 0 in the past (or before the TTL's end),
 * > 0 beyond now + @max (or after the TTL's end): a clock that is wrong on
 * one of the hosts.
 */
int64_t syncwire_lifetime(int64_t deadline, int64_t now, int64_t ttl_ms, int64_t max,
                          int64_t *skew_s);

/*
 * The sync lag of a change made at @t_us (the peer's clock) and seen at
 * @now_us: -1 when it cannot be true (more than a second in the future, or
 * older than @max_us): a clock that is wrong, the lag is unknown.
 */
int64_t syncwire_lag_us(uint64_t t_us, uint64_t now_us, uint64_t max_us);

/*
 * A peer's entry keeps its node name in the entry's origin (16 bytes: the
 * first 16 characters of the name): for log lines and listings, "peer:NODE".
 */
void syncwire_origin_from_node(mxa_addr *origin, const char *node);
/* The node name kept in @origin, into @buf (at least 17 bytes). */
const char *syncwire_origin_node(const mxa_addr *origin, char *buf);
