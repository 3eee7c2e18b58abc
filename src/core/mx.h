/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "mxtime.h"
#include "netset.h"
#include "trust.h"
#include "whitelist.h"

enum mx_class {
	MX_OTHER = 0, /* neither fake nor real MX: not ours to judge */
	MX_FAKE = 1,
	MX_REAL = 2,
};

enum mx_verdict {
	MX_ALLOW = 0,
	MX_DROP = 1,
	MX_PENDING = 2, /* mx_syn_hold() only: the verdict comes later through sink->verdict */
};

/* Why a held packet got its verdict (sink->verdict). */
enum mx_hold_end {
	MX_HOLD_RELEASED = 0, /* its client was whitelisted, by whatever source: accept */
	MX_HOLD_REFUSED = 1,  /* its client's check ended without trust: drop */
	MX_HOLD_EXPIRED = 2,  /* hold-time passed first: drop */
	MX_HOLD_FLUSHED = 3,  /* shutdown, or a reload lowered hold-max: drop */
};

/* Why a stranger's check ended without trust (sink->refused). */
enum mx_refusal {
	MX_REFUSED_NO_NAME = 0,     /* no usable PTR name */
	MX_REFUSED_FAILED = 1,      /* the lookup failed for now (timeout, SERVFAIL) */
	MX_REFUSED_UNCONFIRMED = 2, /* the name does not resolve back to the client */
	MX_REFUSED_GENERIC = 3,     /* the name embeds the address (an ISP pool name) */
	MX_REFUSED_EXCLUDED = 4,    /* the name matches domain-trust-exclude */
	MX_REFUSED_NO_DOMAIN = 5,   /* the name has no registrable domain (or no PSL) */
	MX_REFUSED_NO_MEMBER = 6,   /* no live fake-MX member in its domain */
};

/* "no-name", "lookup-failed", "not-confirmed", ...: one word for log lines. */
const char *mx_refusal_name(enum mx_refusal why);

enum mx_removal {
	MX_REMOVED_EXPIRED = 0,
	MX_REMOVED_EVICTED = 1,
	MX_REMOVED_DELETED = 2,
};

/* How the kernel treated a connection, for backends that only observe (table mode). */
enum mx_observed {
	MX_OBSERVED_PASS = 0,
	MX_OBSERVED_BLOCK = 1,
};

struct mx_stats {
	uint64_t dropped;       /* real-MX attempts from clients not whitelisted */
	uint64_t accepted;      /* real-MX connections from whitelisted clients */
	uint64_t fake_hits;     /* connections to a fake MX */
	uint64_t rdns_siblings; /* sibling entries added through forward-confirmed rDNS */
	uint64_t fake_only;     /* fake-MX clients whose entry ended without one real-MX use */
	uint64_t expired;
	uint64_t evicted;
	uint64_t rdns_unconfirmed;   /* PTR names that did not resolve back to the client */
	uint64_t rdns_reasked;       /* fake-MX hits that asked again: the lookup had not ended */
	uint64_t rdns_negcache_hits; /* lookups not asked: the client is in the negative cache */
	uint64_t rdns_skipped_evicting; /* lookups not asked: the whitelist evicted this second */
	uint64_t rdns_failed;           /* lookups that failed for now (timeout, SERVFAIL) */
	uint64_t rdns_no_name;          /* no usable PTR name (NXDOMAIN, invalid, unreadable) */
	/* Held verdicts (mx_syn_hold()) and trusted sending domains. */
	uint64_t held;            /* packets held now */
	uint64_t held_peak;       /* most held at once since start */
	uint64_t hold_expired;    /* dropped at the deadline */
	uint64_t hold_accepted;   /* accepted after a hold */
	uint64_t hold_refused;    /* dropped when the check ended without trust */
	uint64_t hold_full;       /* dropped at once: hold-max packets were held */
	uint64_t hold_nocheck;    /* dropped at once: the check could not start (rate, busy) */
	uint64_t stranger_checks; /* lookups asked for strangers */
	uint64_t rdns_domain;     /* strangers whitelisted through a fake-MX member's domain */
	uint64_t trusted;         /* strangers whitelisted through trust-domain */
	uint64_t trust_refused;   /* strangers' checks that ended without trust */
	uint64_t trust_members;   /* registrable domains with a fake-MX member now */
	uint64_t member_generic;  /* fake-MX clients whose names cannot vouch (generic, excluded) */
	uint64_t static_hits;     /* real-MX connections accepted by a static network (allow) */
	/* Renewals on use the kernel table made by itself (its renewal rule), learnt from it. */
	uint64_t table_renewed;
};

/*
 * Negative cache: a client whose PTR lookup ended without a usable name, or
 * whose name did not resolve back to it, is not looked up again for
 * MX_RDNS_NEG_TTL seconds. Keyed like the whitelist (the client's address
 * masked to ipv4-prefix / ipv6-prefix); at most MX_RDNS_NEG_MAX entries, the
 * oldest go first (about 64 bytes each, allocated as it fills).
 */
#define MX_RDNS_NEG_TTL 600
#define MX_RDNS_NEG_MAX 4096

/* How an rDNS lookup ended without forward-confirmation material (mx_rdns_failed()). */
enum mx_rdns_failure {
	MX_RDNS_TEMPORARY = 0, /* timeout, SERVFAIL, refused: the next fake-MX hit asks again */
	MX_RDNS_FINAL = 1,     /* no PTR (NXDOMAIN, NODATA), an invalid or unreadable name */
};

/*
 * What the core asks of its surroundings. Every callback is optional (NULL).
 * @name in added() is the rDNS name for siblings, NULL otherwise.
 */
struct mx_sink {
	void *ctx;
	void (*added)(void *ctx, const struct wl_entry *e, bool renewed, const char *name,
	              mxa_time now);
	void (*removed)(void *ctx, const struct wl_entry *e, enum mx_removal why);
	void (*resolve)(void *ctx, const mxa_addr *client);
	void (*decided)(void *ctx, const mxa_addr *src, const mxa_addr *dst, enum mx_verdict v);
	void (*unconfirmed)(void *ctx, const mxa_addr *client, const char *name);
	/*
	 * A stranger's check: look @client up like a fake-MX client (PTR, then
	 * forward). 0 when started or already under way; negative when it cannot
	 * start now (rate limit, resolver busy): the packet is dropped at once.
	 */
	int (*check)(void *ctx, const mxa_addr *client);
	/* The verdict of a held packet (@token from mx_syn_hold()), after @held_ms. */
	void (*verdict)(void *ctx, uint64_t token, const mxa_addr *src, const mxa_addr *dst,
	                enum mx_verdict v, enum mx_hold_end why, uint64_t held_ms);
	/* A stranger's check ended without trust; @name NULL when there was none. */
	void (*refused)(void *ctx, const mxa_addr *client, const char *name, enum mx_refusal why);
	/*
	 * A fake-MX client's confirmed @name: @domain is the registrable domain it
	 * now vouches for, or NULL when the name cannot vouch (@why says why).
	 */
	void (*member)(void *ctx, const mxa_addr *client, const char *name, const char *domain,
	               enum trust_name why);
	/* A real-MX connection accepted because @src is in the static network @net (when NULL:
	 * decided() hears of it as MX_ALLOW). */
	void (*accepted_static)(void *ctx, const mxa_addr *src, const mxa_addr *dst,
	                        const struct netset_net *net);
	/*
	 * The kernel table's deadline for @e's element, asked before @e expires
	 * (with renew_time on; not for manual entries): a kernel that accepts
	 * set members by itself (hybrid mode) renews them by its own rule, out of
	 * the core's sight. Returns that deadline, 0 when the element is absent
	 * or not the daemon's, or -1 when there is no table to ask (no I/O was
	 * done). At most MX_TABLE_ASK_MAX questions a second.
	 */
	mxa_time (*table_deadline)(void *ctx, const struct wl_entry *e, mxa_time now);
};

struct mx_params {
	const mxa_addr *fake;
	size_t n_fake;
	const mxa_addr *real;
	size_t n_real;
	uint32_t whitelist_time; /* seconds, > 0 */
	/*
	 * Renewal on use, seconds; 0: off (mxallowd 1.9). Each accepted real-MX
	 * connection keeps its entry live at least this long from then (never
	 * shorter than it was). Reported through sink.added(renewed = true) with
	 * e->used set and e->last_use == now, on the entry's first use and then
	 * whenever the deadline crosses a multiple of the report step (an hour or
	 * renew_time / 2, whichever is less, counted on the core's clock): the
	 * deadline the sinks last heard (kernel table, Redis) is always less than
	 * one step behind the real one, however often the sender comes.
	 */
	uint32_t renew_time;
	/*
	 * Hold every stranger's SYN to a real MX up to hold-time, even when no
	 * check of ours could let it in: a peer's entry may (shared whitelist).
	 */
	bool hold_strangers;
	bool rdns;          /* whitelist forward-confirmed rDNS siblings */
	uint32_t rdns_max;  /* siblings per client */
	unsigned v4_prefix; /* 0..32: whitelist the client's network */
	unsigned v6_prefix; /* 0..128 */
};

struct mx;

/**
 * mx_new() - the state machine with an empty whitelist of @capacity entries
 * Returns NULL on allocation failure or invalid parameters.
 */
struct mx *mx_new(const struct mx_params *p, size_t capacity, const uint64_t key[2],
                  const struct mx_sink *sink, mxa_time now);
struct mx *mx_free(struct mx *mx);

/* Replaces the parameters (server lists included); the whitelist stays. 0 or -errno. */
int mx_set_params(struct mx *mx, const struct mx_params *p);

enum mx_class mx_classify(const struct mx *mx, const mxa_addr *dst);

/**
 * mx_syn() - a new connection from @src to port 25 of @dst: decide and update.
 * A fake-MX hit whitelists @src (re-arming its deadline) and, when rDNS is on
 * and the entry's lookup has not ended yet (a new entry, or an earlier lookup
 * that failed or was never started), asks the sink to resolve it; unless the
 * client is in the negative cache or the whitelist evicted entries in this
 * second or the one before (a flood: lookups would be wasted on it).
 */
enum mx_verdict mx_syn(struct mx *mx, const mxa_addr *src, const mxa_addr *dst, mxa_time now);

/**
 * mx_observe() - like mx_syn(), for a connection the kernel already passed or
 * blocked by its own table: updates state and statistics from what happened.
 */
void mx_observe(struct mx *mx, const mxa_addr *src, const mxa_addr *dst, enum mx_observed what,
                mxa_time now);

/**
 * mx_resolved() - the forward lookup of @client's PTR name @name gave @addrs.
 * Siblings are added only when @client is among @addrs (forward-confirmed),
 * at most rdns_max of them, with the client's deadline. Either way the
 * client's lookup has ended; a name that does not confirm (@n may be 0: the
 * name has no address) puts the client into the negative cache.
 * Returns the number of siblings added or renewed.
 */
size_t mx_resolved(struct mx *mx, const mxa_addr *client, const char *name, const mxa_addr *addrs,
                   size_t n, mxa_time now);

/**
 * mx_rdns_failed() - @client's lookup ended without material. MX_RDNS_FINAL
 * ends the client's lookup and puts it into the negative cache;
 * MX_RDNS_TEMPORARY leaves it open, so that the next fake-MX hit asks again.
 */
void mx_rdns_failed(struct mx *mx, const mxa_addr *client, enum mx_rdns_failure why, mxa_time now);

/*
 * Removes expired entries, at most MX_EXPIRE_MAX a call (expired ones count as
 * absent anyway). Returns the next deadline (<= @now while more are due), or
 * -1 when empty.
 */
#define MX_EXPIRE_MAX 4096
mxa_time mx_expire(struct mx *mx, mxa_time now);

/*
 * Renewals the kernel table made itself. A ruleset that accepts set members
 * in the kernel (hybrid mode) renews them there on use (nft `update @set {
 * ip saddr timeout N }`); the core learns of it by asking sink->table_deadline
 * before an entry expires (at most MX_TABLE_ASK_MAX a second: due entries
 * beyond that wait, absent for lookups, for the next second) and from table
 * resyncs (mx_table_renewed()). A kernel deadline more than MX_TABLE_SLACK
 * seconds later than the entry's counts as a use at @now: the entry joins the
 * used class and takes that deadline (at most renew_time from now), reported
 * as a renewal on use. Manual entries keep their ttl; with renew_time 0
 * nothing is learnt.
 */
#define MX_TABLE_ASK_MAX 512
#define MX_TABLE_SLACK   2

/**
 * mx_table_renewed() - the kernel table holds @key's element until @deadline
 * (a table resync read it). An entry that is live, or past its deadline but not
 * removed yet, follows it as said above. Returns 1 when the entry now lives
 * until @deadline (or renew_time from @now), 0 when nothing changed (no entry,
 * a manual one, renewal off, a deadline not later).
 */
int mx_table_renewed(struct mx *mx, const mxa_addr *key, mxa_time deadline, mxa_time now);

const struct mx_stats *mx_stats(const struct mx *mx);
const struct whitelist *mx_whitelist(const struct mx *mx);

/**
 * mx_set_static() - the static networks (allow lists), a finished set or
 * NULL: their clients are accepted at a real MX at once, before the
 * whitelist is asked (no fake-MX visit, never held; nothing to expire or
 * evict). Takes @set over and frees the previous one.
 */
void mx_set_static(struct mx *mx, struct netset *set);
/* The static networks, NULL when none: netset_lookup(mx_static(mx), addr, &net). */
const struct netset *mx_static(const struct mx *mx);

/*
 * Held verdicts (NFQUEUE). A SYN to a real MX from a client that is not
 * whitelisted, while a check could let it in (domain trust with a member, or
 * a trust-domain), is held: its client is looked up through sink->check and
 * the packet gets its verdict through sink->verdict when the answer is known
 * or at the deadline. The hold is a general mechanism: whatever whitelists a
 * held client (its check, a fake-MX hit, a sibling, any later source) lets
 * its held packets in at once.
 */

/**
 * mx_set_hold() - hold at most @max packets, each at most @hold_ms (0 for
 * either: hold nothing; strangers are still checked, for their retransmit).
 * Packets above a smaller @max get their verdict (drop) now.
 * Returns 0, -EINVAL or -ENOMEM (unchanged).
 */
int mx_set_hold(struct mx *mx, size_t max, uint32_t hold_ms, uint64_t now_ms);

/**
 * mx_syn_hold() - mx_syn() for a backend that can hold packet @token: on the
 * clock @now_ms (milliseconds; the core's seconds are @now_ms / 1000).
 * Returns MX_ALLOW, MX_DROP, or MX_PENDING: the verdict comes through
 * sink->verdict (it may have come already, from inside this call).
 */
enum mx_verdict mx_syn_hold(struct mx *mx, const mxa_addr *src, const mxa_addr *dst, uint64_t token,
                            uint64_t now_ms);

/* Drops the held packets whose deadline passed. Returns the next deadline (ms), or -1. */
int64_t mx_hold_expire(struct mx *mx, uint64_t now_ms);

/* Earliest deadline of a held packet (ms), or -1. */
int64_t mx_hold_next(const struct mx *mx);

/* Gives every held packet its verdict (drop): before the backend closes. Returns how many. */
size_t mx_hold_flush(struct mx *mx, uint64_t now_ms);

/**
 * mx_stranger_blocked() - table mode: the kernel blocked @src's SYN to a real
 * MX (no packet to hold). Starts its check when one could let it in, so that
 * a trusted stranger is in the table for its retransmit.
 */
void mx_stranger_blocked(struct mx *mx, const mxa_addr *src, mxa_time now);

/* Trusted sending domains (copied; the member index stays). 0 or -ENOMEM (unchanged). */
int mx_set_trust(struct mx *mx, const struct trust_params *tp);

/* The trust state: PSL availability, members (read-only). */
const struct trust *mx_trust(const struct mx *mx);

/*
 * Manual entries and questions from the control socket (mxallowctl). They go
 * through the same path as every other source: the sink sees them (kernel
 * tables, logs, state file) and held packets of the client go in.
 */

/* The whitelist's key for @a: @a masked to ipv4-prefix or ipv6-prefix. */
void mx_key(const struct mx *mx, mxa_addr *key, const mxa_addr *a);
/* That prefix for @a's family (IPv4: 0..32, IPv6: 0..128). */
unsigned mx_key_prefix(const struct mx *mx, const mxa_addr *a);

/* Longest lifetime of a manual entry (that of whitelist-time: an ipset timeout's limit). */
#define MX_MANUAL_TTL_MAX 2147483

enum mx_manual_result {
	MX_MANUAL_ADDED = 0,    /* a new entry */
	MX_MANUAL_REPLACED = 1, /* the key had a live entry (any reason): it is manual now */
};

/**
 * mx_manual_add() - an administrator's entry (reason manual, no origin, no
 * rDNS lookup) for @addr's key, live for @ttl seconds from @now; the entry's
 * last use is kept. @prefix is -1 (the key's prefix) or must equal
 * mx_key_prefix() with no bits of @addr set past it: the whitelist holds one
 * network of that size per entry, so a wider or narrower network cannot be
 * one entry. When the whitelist is full the entry leaving first goes, as for
 * any addition. @prev (may be NULL) gets the replaced entry.
 * Returns an mx_manual_result, -EINVAL (prefix), -ERANGE (@ttl 0 or above
 * MX_MANUAL_TTL_MAX) or -ENOMEM (nothing changed).
 */
int mx_manual_add(struct mx *mx, const mxa_addr *addr, int prefix, uint32_t ttl, mxa_time now,
                  struct wl_entry *prev);

/**
 * mx_manual_del() - remove the live entry of @addr's key, whatever its
 * reason, reported to the sink as MX_REMOVED_DELETED; @prefix as for
 * mx_manual_add(). @out (may be NULL) gets the entry.
 * Returns 1 when removed, 0 when there was none, -EINVAL (prefix).
 */
int mx_manual_del(struct mx *mx, const mxa_addr *addr, int prefix, mxa_time now,
                  struct wl_entry *out);

enum mx_explain_source {
	MX_EXPLAIN_NONE = 0,   /* not let in */
	MX_EXPLAIN_ENTRY = 1,  /* a live whitelist entry (see entry.reason) */
	MX_EXPLAIN_STATIC = 2, /* a static network (allow / allow-file): see static_net */
};

struct mx_explanation {
	bool allowed;
	enum mx_explain_source source;
	mxa_addr key;          /* the whitelist key of the address */
	unsigned prefix;       /* its prefix */
	bool has_entry;        /* a live whitelist entry (also when a static network let it in) */
	struct wl_entry entry; /* that entry */
	/* MX_EXPLAIN_STATIC: the network; valid until mx_set_static() replaces the set. */
	const struct netset_net *static_net;
	/* In the rDNS negative cache: no sibling lookup for it until @negative_until. */
	bool negative;
	mxa_time negative_until;
};

/**
 * mx_explain() - would a connection from @addr to a real MX be let in at
 * @now, and by what: a static network first, as the verdicts go, then the
 * whitelist (read-only: no expiry, no use recorded).
 * Returns out->allowed.
 */
bool mx_explain(const struct mx *mx, const mxa_addr *addr, mxa_time now,
                struct mx_explanation *out);

/**
 * mx_restore() - put a saved entry @e back (the state file at start), with
 * its deadline, reason, origin and last use: the sink hears of it as of a
 * new entry (so a kernel table learns it), no statistic moves. An expired
 * entry, or one whose key already has a later deadline, is skipped.
 * Returns 0 when put, 1 when skipped, -ENOMEM.
 */
int mx_restore(struct mx *mx, const struct wl_entry *e, mxa_time now);

/*
 * Peers: entries learnt from another mxallowd through the shared whitelist
 * (Redis). They go through the same path as every other source: the sink
 * sees them, held packets of the client go in.
 */

/*
 * The longest lifetime this host gives an entry of its own: the largest of
 * whitelist-time, renew-time and MX_MANUAL_TTL_MAX (mxallowctl add --ttl).
 * A peer's entry never lives longer here: a peer with a wrong clock, or one
 * that lies, cannot whitelist an address for ever.
 */
uint32_t mx_lifetime_max(const struct mx *mx);

/**
 * mx_peer_add() - a peer whitelisted @addr's key until @deadline (this
 * clock, limited to now + mx_lifetime_max()): an entry with reason peer and
 * @origin (the peer's name, see syncwire_origin_from_node()). A key already
 * live at least as long is left as it is; a shorter one becomes the peer's
 * entry.
 * Returns 1 when put (new or extended), 0 when nothing changed (expired or
 * already as long), -ENOMEM.
 */
int mx_peer_add(struct mx *mx, const mxa_addr *addr, const mxa_addr *origin, mxa_time deadline,
                mxa_time now);

/**
 * mx_peer_del() - a peer deleted @addr's key (an administrator's del there):
 * the live entry goes whatever its reason, reported as MX_REMOVED_DELETED.
 * Returns 1 when removed, 0 when there was none.
 */
int mx_peer_del(struct mx *mx, const mxa_addr *addr, mxa_time now);
