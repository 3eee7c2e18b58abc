/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The daemon's parts, all sharing one struct daemon on one event loop:
 *   daemon.c  start-up, the loop's events, shutdown
 *   sink.c    what the core asks for (log lines, rDNS, kernel table changes)
 *   reload.c  SIGHUP: re-read, resolve server names asynchronously, swap in
 *   stats.c   the stats line
 */
#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>

#include "cli.h"
#include "config.h"
#include "mx.h"
#include "ratelimit.h"

struct nfqueue;
struct pflog;
struct rdns;
struct reload;

struct daemon {
	struct cli cli;
	struct config cfg;
	struct config_servers servers;
	struct mx *mx;
	struct nfqueue *q; /* backend nfqueue: verdicts */
	struct pflog *pf;  /* backend pflog: log records in, kernel table changes out */
	struct rdns *rdns;
	struct reload *reload; /* a SIGHUP under way (names being resolved) */
	struct event_base *base;
	struct event *ev_queue;
	struct event *ev_tick;
	struct event *ev_signals[4];
	struct ratelimit lines; /* accept/drop and whitelist add/del lines */
	uint64_t rdns_skipped;
	uint64_t enobufs_seen;
	uint64_t capture_drops; /* table mode: log records the kernel dropped, as last logged */
	int exit_status;
	bool pidfile_written;
};

/**
 * daemon_main() - parse the command line and the config file, open the
 * backend, detach, run the event loop until SIGTERM/SIGINT.
 * Returns the process exit status.
 */
int daemon_main(int argc, char **argv);

/* The clock of the core: CLOCK_MONOTONIC seconds. */
mxa_time daemon_now(void);

/* sink.c */
void daemon_sink(struct daemon *d, struct mx_sink *out);
void daemon_table_sync(struct daemon *d);
/* Table mode: reconcile the kernel table with the whitelist now. */
void daemon_table_resync(struct daemon *d);
/* rDNS results, handed to the core. */
void daemon_rdns_done(void *ctx, const mxa_addr *client, const char *name, const mxa_addr *addrs,
                      size_t n);
void daemon_rdns_error(void *ctx, const mxa_addr *client, const char *what);
enum rdns_failure;
void daemon_rdns_failed(void *ctx, const mxa_addr *client, enum rdns_failure why, const char *what,
                        const char *name);

/* Fills the core's parameters from a configuration and its resolved servers. */
void daemon_fill_params(struct mx_params *p, const struct config *c,
                        const struct config_servers *s);

/* reload.c: start a reload (SIGHUP); a second one while names resolve runs after it. */
void reload_start(struct daemon *d);
void reload_free(struct daemon *d);

/* stats.c: every counter by name, in the order of the stats line. */
struct stat_item {
	const char *name;
	uint64_t value;
};
#define STATS_MAX 64
size_t stats_collect(const struct daemon *d, struct stat_item *v, size_t max);
void stats_log(struct daemon *d);
