/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

/*
 * The kernel table that enforces the whitelist in table mode. One header,
 * one implementation chosen by meson: table-ipset.c (Linux), table-pf.c
 * (OpenBSD, FreeBSD), table-fallback.c (elsewhere). Changes are queued and
 * sent in one batch by table_commit().
 */
struct table_params {
	const char *pf_table; /* pf: table name in the main ruleset */
	const char *ipset4;   /* ipset: set for IPv4 entries */
	const char *ipset6;   /* ipset: set for IPv6 entries */
	unsigned v4_prefix;   /* entries are networks of this length (32: hosts) */
	unsigned v6_prefix;
	uint32_t default_timeout; /* ipset: the timeout of sets created by us */
};

struct table;

/**
 * table_open() - check the table is usable (create the ipset sets when
 * missing) and empty it, so that it matches the empty whitelist of a fresh
 * start. Returns NULL with a one-line reason, naming what to fix, in @err.
 */
struct table *table_open(const struct table_params *p, char *err, size_t errlen);

/**
 * table_close() - release the table. @clean_exit: pf flushes the table (its
 * entries would never expire); ipset entries keep their own timeout.
 */
struct table *table_close(struct table *t, bool clean_exit);

/* Queues adding @a (already masked to the prefix) for @timeout seconds (pf ignores it). */
int table_add(struct table *t, const mxa_addr *a, uint32_t timeout);
/* Queues deleting @a; deleting what is absent is not an error. */
int table_del(struct table *t, const mxa_addr *a);

/**
 * table_commit() - send the queued changes. Returns the number of changes
 * sent, or a negative errno with a reason in @err (the queue is dropped).
 */
int table_commit(struct table *t, char *err, size_t errlen);

/* "pf table <mx-white>", "ipset mx-white/mx-white6": for the start-up line. */
const char *table_describe(const struct table *t);
