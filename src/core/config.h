/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define CONFIG_DEFAULT_PATH "/etc/mxallowd.conf"
#define CONFIG_ERRLEN       512

/* A fake or real MX as written by the administrator, and where. */
struct config_server {
	char *spec;   /* address or hostname */
	char *origin; /* "FILE:LINE" or "command line" */
};

struct config_list {
	struct config_server *v;
	size_t n;
};

/*
 * The configuration model, independent of where values came from. Keys are
 * the long option names; the command line and the file share config_set().
 */
struct config {
	struct config_list fake;
	struct config_list real;
	uint32_t queue_num;
	uint32_t queue_maxlen;
	uint32_t whitelist_time;
	bool no_rdns;
	uint32_t rdns_max;
	uint32_t log_rate; /* accept/drop lines per second, 0: all */
	bool log_stdout;
	bool quiet;
	bool foreground;
	bool fail_open;
	char *pidfile;
	uint32_t max_entries;
	uint32_t ipv4_prefix;
	uint32_t ipv6_prefix;
	/* Table mode. NULL everywhere means the default. */
	char *backend;         /* "nfqueue" or "pflog"; default: the build's (by system) */
	char *pflog_interface; /* pflog0, nflog:N */
	char *pcap_filter;     /* "" for none; default: SYN to port 25 */
	char *table;           /* pf table, default mx-white */
	char *ipset;           /* ipset set for IPv4, default mx-white */
	char *ipset6;          /* ipset set for IPv6, default mx-white6 */
};

/* Defaults of the table names (the others depend on the build: see the daemon). */
#define CONFIG_DEFAULT_TABLE  "mx-white"
#define CONFIG_DEFAULT_IPSET  "mx-white"
#define CONFIG_DEFAULT_IPSET6 "mx-white6"

void config_init(struct config *c);
void config_clear(struct config *c);

/**
 * config_set() - apply one `key value` pair. Lists (fake-mailserver,
 * real-mailserver) grow; everything else is replaced. @value may be NULL for
 * a boolean key (meaning true). On error @err gets one line naming @origin,
 * the key and the value, and @c is unchanged.
 * Returns 0, -ENOENT for an unknown key, -EINVAL for a bad value, -ENOMEM.
 */
int config_set(struct config *c, const char *key, const char *value, const char *origin, char *err,
               size_t errlen);

bool config_key_exists(const char *key);
/* True when @key names a boolean (it may stand alone in a file). */
bool config_key_is_bool(const char *key);

/*
 * Resolves a server name to at most @max addresses; returns the count (0 or
 * more) or a negative errno with a reason in @err.
 */
typedef int (*config_resolve_fn)(void *ctx, const char *name, mxa_addr *out, size_t max, char *err,
                                 size_t errlen);

struct config_servers {
	mxa_addr *fake;
	size_t n_fake;
	mxa_addr *real;
	size_t n_real;
};

/**
 * config_resolve_servers() - turn the server lists into addresses: literals
 * directly, names through @resolve. Checks that both lists are non-empty and
 * that no address is both fake and real. Duplicates are merged.
 * Returns 0 or a negative errno with one line in @err.
 */
int config_resolve_servers(const struct config *c, config_resolve_fn resolve, void *ctx,
                           struct config_servers *out, char *err, size_t errlen);
void config_servers_clear(struct config_servers *s);

/* Copies @src into @dst (deep). 0 or -ENOMEM. */
int config_copy(struct config *dst, const struct config *src);
