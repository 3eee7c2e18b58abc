/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "addr.h"

struct event_base;
struct evdns_base;

/*
 * Start-up resolution of server names (blocking getaddrinfo; never on the
 * packet path). Fits config_resolve_fn.
 */
int resolve_host(void *ctx, const char *name, mxa_addr *out, size_t max, char *err, size_t errlen);

/*
 * evdns (libevent 2.1) keeps at most 32 A and 32 AAAA addresses of a name: a
 * client's name yields at most RDNS_MAX_ADDRS addresses, the client's own
 * among them, so rdns-max above RDNS_MAX_ADDRS - 1 cannot be reached.
 */
#define RDNS_MAX_ADDRS 64

/* Lookups started per second when rdns_set_rate() was not called. */
#define RDNS_DEFAULT_RATE 100

/* Forward-confirmation material for @client: its PTR @name and that name's A/AAAA. */
typedef void (*rdns_done_fn)(void *ctx, const mxa_addr *client, const char *name,
                             const mxa_addr *addrs, size_t n);
/* A lookup failed: @what says which step and why (safe to log: names in it are escaped). */
typedef void (*rdns_error_fn)(void *ctx, const mxa_addr *client, const char *what);

/* How a lookup ended without forward-confirmation material. */
enum rdns_failure {
	RDNS_FAIL_TEMPORARY = 0,  /* timeout, SERVFAIL, refused: worth asking again later */
	RDNS_FAIL_NO_NAME = 1,    /* NXDOMAIN or no PTR record */
	RDNS_FAIL_BAD_NAME = 2,   /* the PTR name is not a host name: refused, never used */
	RDNS_FAIL_UNREADABLE = 3, /* an answer evdns cannot read (PTR names of 64+ characters) */
};

/*
 * The failure with its kind. @what: fixed text without the name; @name: the
 * PTR name escaped with text_escape() (safe to log), or NULL when none came.
 */
typedef void (*rdns_failed_fn)(void *ctx, const mxa_addr *client, enum rdns_failure why,
                               const char *what, const char *name);

/* "temporary", "no-name", "invalid-name", "unreadable": one word for log lines. */
const char *rdns_failure_name(enum rdns_failure why);

struct rdns_stats {
	uint64_t started;      /* lookups started */
	uint64_t dup;          /* not started: the same client's lookup was under way */
	uint64_t skipped_busy; /* not started: max_inflight under way (-EBUSY) */
	uint64_t skipped_rate; /* not started: over the rate (-EAGAIN) */
	uint64_t failed[4];    /* lookups ended by enum rdns_failure */
};

struct rdns;

/**
 * rdns_new() - asynchronous PTR, then A and AAAA lookups through libevent's
 * evdns, using /etc/resolv.conf. At most @max_inflight clients at a time, at
 * most RDNS_DEFAULT_RATE started a second. A PTR name that is not a host name
 * (text_is_hostname()) is refused before any use: @error gets "invalid PTR
 * name name=ESCAPED".
 */
struct rdns *rdns_new(struct event_base *base, size_t max_inflight, rdns_done_fn done,
                      rdns_error_fn error, void *ctx, char *err, size_t errlen);
/* Cancels lookups under way (their callbacks are not called). */
struct rdns *rdns_free(struct rdns *r);

/* Reports failures to @failed instead of the @error of rdns_new(). */
void rdns_set_failed(struct rdns *r, rdns_failed_fn failed);

/* At most @per_second lookups started a second, in bursts of as many (0: no limit). */
void rdns_set_rate(struct rdns *r, uint32_t per_second);

/**
 * rdns_lookup() - start the lookups for @client
 * Returns 0 (also when @client's lookup is already under way), -EBUSY when
 * max_inflight are under way, -EAGAIN when over the rate, -ENOMEM or -EIO.
 */
int rdns_lookup(struct rdns *r, const mxa_addr *client);

size_t rdns_inflight(const struct rdns *r);
const struct rdns_stats *rdns_stats(const struct rdns *r);

/* The evdns resolver, to point it at other servers or change its options (tests). */
struct evdns_base *rdns_evdns(const struct rdns *r);
