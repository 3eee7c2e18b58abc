/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * Trusted sending domains: which forward-confirmed rDNS names may vouch for
 * other addresses of the same sender.
 *
 *  - The registrable domain of a name (the name minus its public suffix plus
 *    one label) comes from the Public Suffix List through libpsl; built
 *    without libpsl (meson option psl) there is none and domain trust is off.
 *  - Generic names (ones that embed the address, as ISPs give their pools)
 *    and names matching a domain-trust-exclude glob never count.
 *  - The member index: registrable domain -> one live fake-MX member (its
 *    address and deadline), bounded; the caller checks against its whitelist
 *    that the member is still there.
 *  - trust-domain: names under a configured domain are trusted outright.
 *
 * Pure: no clock (deadlines are arguments), no I/O after trust_new() (which
 * loads the newest PSL data, libpsl's built-in or the publicsuffix package's).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "mxtime.h"

/* Registrable domains remembered with a fake-MX member, at most (about 300 bytes each). */
#define TRUST_MEMBERS_MAX 4096

/* Longest name or domain handled (RFC 1035), without the trailing dot; buffers add one. */
#define TRUST_NAME_MAX 253

struct trust_params {
	bool domain_trust;          /* domain-trust: members vouch for their registrable domain */
	const char *const *trusted; /* trust-domain values */
	size_t n_trusted;
	const char *const *exclude; /* domain-trust-exclude globs */
	size_t n_exclude;
};

/* What a forward-confirmed name may do (trust_name_check()). */
enum trust_name {
	TRUST_NAME_OK = 0,        /* plain name; its registrable domain was written out */
	TRUST_NAME_GENERIC = 1,   /* embeds the address: an ISP pool name */
	TRUST_NAME_EXCLUDED = 2,  /* matches a domain-trust-exclude glob */
	TRUST_NAME_NO_DOMAIN = 3, /* a public suffix itself, or no PSL: no registrable domain */
};

/* "ok", "generic-name", "excluded", "no-registrable-domain": one word for log lines. */
const char *trust_name_word(enum trust_name v);

struct trust;

/**
 * trust_new() - empty member index of at most @max_members domains, no
 * trust-domain, domain trust off until trust_set_params().
 * Returns NULL on allocation failure or @max_members 0.
 */
struct trust *trust_new(size_t max_members, const uint64_t key[2]);
struct trust *trust_free(struct trust *t);

/* Copies @p (strings lower-cased). The member index stays. 0 or -ENOMEM (unchanged). */
int trust_set_params(struct trust *t, const struct trust_params *p);

/* libpsl is built in and its data loaded. */
bool trust_psl_available(const struct trust *t);
/* Domain trust asked for and possible (PSL data present). */
bool trust_domain_on(const struct trust *t);
/* Anything a stranger's lookup could end in: domain trust on, or a trust-domain given. */
bool trust_any(const struct trust *t);
/* trust-domain values given. */
size_t trust_trusted_count(const struct trust *t);

/**
 * trust_registrable() - the registrable domain of @name (lower case, no
 * trailing dot) into @out. Returns 0; -ENOENT for a public suffix or a name
 * without one; -ENOTSUP without libpsl; -ENAMETOOLONG.
 */
int trust_registrable(const struct trust *t, const char *name, char *out, size_t len);

/**
 * trust_is_generic() - @name looks like an ISP's name for a customer line of
 * @a (case-insensitive; docs/trust.md lists the forms):
 *  - IPv4: three of the four numbers as digit runs of their own, anywhere and
 *    in any order (34.red-88-12-5, host-0-2-34); twelve zero-padded digits;
 *    one decimal number; eight hex digits, also without the leading zero and
 *    whatever separates the bytes (p50a1f22, c0-00-02-22);
 *  - IPv6: the 32 nibbles in order or reversed, the 16 of its /64, or hex
 *    groups with dashes for colons giving the address or its /64 anywhere in
 *    the name (x2001-db8--31, 2001-db8--31-dyn, 2a02-8108-1c0-1234);
 *    NAT64 addresses (64:ff9b::/96) as their IPv4 address;
 *  - a pool word (dyn, pool, dsl, cust, hsd1, host34 ...) as a label or a
 *    part of one between dashes, in the labels before the registrable domain
 *    (from @t's PSL; with @t NULL or no PSL, before the last two labels).
 */
bool trust_is_generic(const struct trust *t, const char *name, const mxa_addr *a);

/*
 * @domain is a public suffix (com, co.uk, and the PSL's private entries such
 * as blogspot.com): as a trust-domain it would trust every domain under it.
 * Without PSL data only a single label (a top-level domain) is one.
 */
bool trust_is_public_suffix(const struct trust *t, const char *domain);

/* @name matches one of the domain-trust-exclude globs (fnmatch, case-insensitive). */
bool trust_is_excluded(const struct trust *t, const char *name);

/* @name is @domain or below it ("a.b.test" under "b.test"; "xb.test" is not). */
bool trust_under(const char *name, const char *domain);

/* The trust-domain that covers @name, or NULL. */
const char *trust_trusted_domain(const struct trust *t, const char *name);

/**
 * trust_name_check() - may the forward-confirmed @name of @a count for domain
 * trust? On TRUST_NAME_OK its registrable domain is in @domain (at least
 * TRUST_NAME_MAX + 1 bytes).
 */
enum trust_name trust_name_check(const struct trust *t, const char *name, const mxa_addr *a,
                                 char *domain, size_t len);

/**
 * trust_member_put() - @member (a fake-MX client, whitelisted until
 * @deadline) vouches for @domain. A domain keeps one member: the one with the
 * later deadline. When the index is full, an expired entry or else the one
 * nearest its end goes. Returns 0 or -ENOMEM (index unchanged).
 */
int trust_member_put(struct trust *t, const char *domain, const mxa_addr *member, mxa_time deadline,
                     mxa_time now);

/*
 * The member of @domain into @member/@deadline (may be NULL). The deadline is
 * the one last put: the caller checks in its whitelist that the member is
 * still there (its entry may have been renewed or removed since).
 */
bool trust_member_get(const struct trust *t, const char *domain, mxa_addr *member,
                      mxa_time *deadline);

/* Forgets @domain (its member left the whitelist). */
bool trust_member_del(struct trust *t, const char *domain);

size_t trust_member_count(const struct trust *t);
