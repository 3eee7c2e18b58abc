/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>

#include "addr.h"

struct event_base;

/*
 * Start-up resolution of server names (blocking getaddrinfo; never on the
 * packet path). Fits config_resolve_fn.
 */
int resolve_host(void *ctx, const char *name, mxa_addr *out, size_t max, char *err, size_t errlen);

/* Forward-confirmation material for @client: its PTR @name and that name's A/AAAA. */
typedef void (*rdns_done_fn)(void *ctx, const mxa_addr *client, const char *name,
                             const mxa_addr *addrs, size_t n);
/* A lookup failed: @what says which step and why. */
typedef void (*rdns_error_fn)(void *ctx, const mxa_addr *client, const char *what);

struct rdns;

/**
 * rdns_new() - asynchronous PTR, then A and AAAA lookups through libevent's
 * evdns, using /etc/resolv.conf. At most @max_inflight clients at a time.
 */
struct rdns *rdns_new(struct event_base *base, size_t max_inflight, rdns_done_fn done,
                      rdns_error_fn error, void *ctx, char *err, size_t errlen);
/* Cancels lookups under way (their callbacks are not called). */
struct rdns *rdns_free(struct rdns *r);

/* Starts the lookups for @client. 0, or -EBUSY when too many are under way. */
int rdns_lookup(struct rdns *r, const mxa_addr *client);

size_t rdns_inflight(const struct rdns *r);
