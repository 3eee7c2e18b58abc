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
	uint32_t renew_time; /* seconds an accepted real-MX connection keeps its entry; 0: off */
	bool no_rdns;
	uint32_t rdns_max;
	uint32_t rdns_rate; /* PTR lookups started per second */
	uint32_t log_rate;  /* accept/drop lines per second, 0: all */
	bool log_stdout;
	bool quiet;
	bool foreground;
	bool fail_open;
	bool accept_unparsable; /* queued packets without readable addresses */
	char *pidfile;
	char *user;  /* switch to this user after opening what needs root; NULL: stay */
	char *group; /* NULL: the user's primary group */
	uint32_t max_entries;
	uint32_t ipv4_prefix;
	uint32_t ipv6_prefix;
	/* Table mode. Every string has its default set by config_init(). */
	char *backend;         /* "nfqueue" or "pflog"; default: the build's (by system) */
	char *pflog_interface; /* pflog0, nflog:N */
	char *pcap_filter;     /* NULL: the default SYN-to-port-25 filter; "" for none */
	char *table;           /* pf table */
	char *ipset;           /* ipset set for IPv4 */
	char *ipset6;          /* ipset set for IPv6 */
	char *
	    table_writer; /* "auto", "ipset", "nft", "pf", "none" (hybrid: a writer with nfqueue) */
	char *nft_table;  /* nft table of family inet holding the sets */
	char *nft_set4;   /* nft set of type ipv4_addr */
	char *nft_set6;   /* nft set of type ipv6_addr */
	char *state_file; /* whitelist kept across restarts; NULL: none */
	uint32_t save_interval;         /* seconds between writes of the state file */
	struct config_list allow;       /* allow: networks accepted at the real MX */
	struct config_list allow_files; /* allow-file: files of such networks */
	char *metrics_listen;           /* ADDR:PORT or [ADDR]:PORT; NULL: no metrics */
	/* Held verdicts and trusted sending domains. */
	uint32_t hold_time;                      /* ms a stranger's SYN may wait, 0..900 */
	uint32_t hold_max;                       /* SYNs held at once */
	bool domain_trust;                       /* fake-MX members vouch for their domain */
	struct config_list trust_domain;         /* trust-domain: domains trusted outright */
	struct config_list domain_trust_exclude; /* globs of names that never count */
	/* The control socket (mxallowctl). */
	char *control_socket; /* UNIX socket path; NULL: none */
	char *control_group;  /* group also let in (socket mode 0660); NULL: none */
	/* The shared whitelist (Redis or Valkey). */
	char *redis;        /* URL (may hold a password: shown masked); NULL: not shared */
	char *redis_prefix; /* key and channel prefix */
	char *node_name;    /* this host among the peers; NULL: the host name */
};

/* Prefixes shorter than these are allowed, with a warning (see config_warnings()). */
#define CONFIG_WARN_V4_PREFIX 16
#define CONFIG_WARN_V6_PREFIX 32

/* Sets every key to its declared default. */
void config_init(struct config *c);
/* Releases what @c holds and zeroes it: config_init() before using it again. */
void config_clear(struct config *c);

/*
 * Every configuration key is declared once, in config.c: its name, option
 * letters, type and bounds, default, whether only a restart changes it, and
 * its help text. The command line, --help, --check-config, the reload policy
 * and the man-page check are all derived from that table.
 */
struct config_key_info {
	const char *name;
	int short_opt;       /* option letter, 0 for none */
	int alt_short;       /* a second letter kept from mxallowd 1.9 ('d'), or 0 */
	bool takes_value;    /* false: a boolean (on the command line: a flag) */
	bool restart;        /* a reload keeps the running value */
	const char *metavar; /* "SECONDS", "ADDR|HOST" */
	const char *def;     /* default as text, NULL for none */
	const char *help;
};

size_t config_key_count(void);
const struct config_key_info *config_key_info(size_t i);
/* Index of the key with option letter @c (or its 1.9 alias), -1 when none. */
int config_key_by_short(int c);

/**
 * config_key_format() - the value of key @i in @c as text (for lists: the
 * @item-th element, with its origin in @origin). Returns false when the key
 * has no value (an unset string, or @item past the end of a list).
 */
bool config_key_format(const struct config *c, size_t i, size_t item, char *buf, size_t len,
                       const char **origin);

/**
 * config_restart_changes() - names of the restart-only keys whose values
 * differ between @running and @next, comma-separated in @buf.
 * Returns how many differ.
 */
size_t config_restart_changes(const struct config *running, const struct config *next, char *buf,
                              size_t len);

/**
 * config_keep_restart() - copy the running value of every restart-only key
 * into @next, so a reload changes only what a reload can change.
 * Returns 0 or -ENOMEM (then @next is unchanged for the keys not yet copied).
 */
int config_keep_restart(struct config *next, const struct config *running);

/*
 * Warnings about a valid but risky configuration (very short prefixes), one
 * line each, separated by newlines in @buf. Returns how many.
 */
size_t config_warnings(const struct config *c, char *buf, size_t len);

/**
 * config_set() - apply one `key value` pair. Lists (fake-mailserver,
 * real-mailserver, allow, allow-file, ...) grow; everything else is replaced. @value may be NULL
 * for a boolean key (meaning true). On error @err gets one line naming @origin, the key and the
 * value, and @c is unchanged. Returns 0, -ENOENT for an unknown key, -EINVAL for a bad value,
 * -ENOMEM.
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

/**
 * config_parse_listen() - "ADDR:PORT" (IPv4) or "[ADDR]:PORT" (IPv6), literal
 * addresses only, port 1..65535. Returns 0, or -EINVAL with the reason in @why.
 */
int config_parse_listen(const char *s, mxa_addr *addr, uint16_t *port, char *why, size_t whylen);

/* Copies @src into @dst (deep). 0 or -ENOMEM. */
int config_copy(struct config *dst, const struct config *src);

/**
 * config_load_file() - apply the `key value` lines of @path to @c. A missing
 * file is fine unless @required. Returns 0 or a negative errno with one line
 * in @err naming FILE:LINE.
 */
int config_load_file(struct config *c, const char *path, bool required, char *err, size_t errlen);
