/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The daemon's parts, all sharing one struct daemon on one event loop:
 *   daemon.c  start-up, the loop's events, shutdown
 *   sink.c    what the core asks for (log lines, rDNS, kernel table changes)
 *   reload.c  SIGHUP: re-read, resolve server names asynchronously, swap in
 *   stats.c   the stats line
 *   control.c the control socket (mxallowctl)
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
struct state;
struct control;
struct reload_waiter;
struct redis;

/* Kernel table error lines (sink.c): the first at once, then one per interval with a count. */
struct table_errlog {
	mxa_time at;         /* when the last line was logged */
	uint64_t suppressed; /* errors since then that got no line */
	bool logged;         /* a line was logged since the table last worked */
};

struct daemon {
	struct cli cli;
	struct config cfg;
	struct config_servers servers;
	struct mx *mx;
	struct nfqueue *q; /* backend nfqueue: verdicts */
	struct pflog *pf;  /* backend pflog: log records in, kernel table changes out */
	/*
	 * The kernel table writer: d->pf in table mode; in hybrid mode (nfqueue
	 * with table-writer) a capture-less pflog of its own beside the queue;
	 * NULL: none. The sink and the table resyncs go through this one.
	 */
	struct pflog *table;
	struct rdns *rdns;
	struct reload *reload; /* a SIGHUP under way (names being resolved) */
	struct event_base *base;
	struct event *ev_queue;
	struct event *ev_tick;
	struct event *ev_hold;  /* the nearest deadline of a held SYN */
	bool verdicts_buffered; /* verdicts of held SYNs given outside a dispatch */
	struct event *ev_signals[4];
	struct ratelimit lines; /* accept/drop and whitelist add/del lines */
	uint64_t rdns_skipped;
	uint64_t enobufs_seen;
	uint64_t capture_drops; /* table mode: log records the kernel dropped, as last logged */
	int exit_status;
	bool pidfile_written;
	struct state *state;     /* state-file: NULL when none */
	uint64_t wl_changes;     /* whitelist changes so far: a save is due when it moved */
	bool restoring;          /* entries of the state file are put back: no log line each */
	struct control *control; /* control.c: control-socket, NULL for none */
	struct reload_waiter *reload_waiters; /* reload.c: reload_start_cb() callers */
	uint64_t reload_runs;                 /* reload.c: reloads started */
	struct redis *redis;                  /* redis.c: the shared whitelist, NULL for none */
	struct metrics *metrics;              /* metrics.c: metrics-listen, NULL for none */
	struct netset *statics; /* allow lists read at start, until the core takes them */
	struct table_errlog table_commit_errs; /* sink.c: failed table commits */
	struct table_errlog table_resync_errs; /* sink.c: failed table resyncs */
	/* Hybrid mode: fake-MX writes committed before their verdict (judge()), per second. */
	struct ratelimit fake_commits;
	bool table_resyncing; /* sink.c: a resync runs (no commit from inside it) */
};

/**
 * daemon_main() - parse the command line and the config file, open the
 * backend, detach, run the event loop until SIGTERM/SIGINT.
 * Returns the process exit status.
 */
int daemon_main(int argc, char **argv);

/* The clock of the core: CLOCK_MONOTONIC seconds. */
mxa_time daemon_now(void);
/* The same clock in milliseconds, for held verdicts (daemon_now() == daemon_now_ms() / 1000). */
uint64_t daemon_now_ms(void);

/* Held verdicts and trusted domains (daemon.c). */
/* trust-domain values that are no public suffix (PSL): 0, or -EINVAL with one line in @err. */
int daemon_check_hold(const struct config *c, char *err, size_t errlen);
/* Applies hold-time, hold-max and the trust keys of @c to the core. 0 or -ENOMEM. */
int daemon_apply_hold_trust(struct daemon *d, const struct config *c);
/* Sends the verdicts given outside a dispatch, then re-arms the hold timer. */
void daemon_hold_sync(struct daemon *d);

/* sink.c */
void daemon_sink(struct daemon *d, struct mx_sink *out);
void daemon_table_sync(struct daemon *d);
/* daemon_table_sync() from the 1 s tick: pf's whole-table replaces wait for it (pflog_tick()). */
void daemon_table_tick(struct daemon *d);
/* A failed table commit's line @err, rate-limited (a refusing table fails at every wake-up). */
void daemon_table_error(struct daemon *d, const char *err);
/* Table mode: reconcile the kernel table with the whitelist now. */
void daemon_table_resync(struct daemon *d);
/*
 * The allow lists @s (mx_static() at start, the new ones on a reload, before
 * the core takes them) into the kernel's static table, when there is a
 * kernel table; on failure the table keeps what it held. 0, or -errno with
 * @err (-ENOTSUP, -ENOENT: the writer or the ruleset has no such table).
 */
int daemon_table_static(struct daemon *d, const struct netset *s, char *err, size_t errlen);
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
/**
 * reload_start_cb() - reload_start(), and @done(@ctx, ok, text) once, with the
 * outcome of the reload that reads the configuration after this call: this
 * one, or the next when one is under way. It may come from inside this call
 * (a file that does not load). @text is the line that was logged: "reload ok"
 * (with the restart-only keys kept), or "reload failed: FILE:LINE: ...".
 * Returns 0, or -ENOMEM (then @done is never called).
 */
typedef void (*reload_done_fn)(void *ctx, bool ok, const char *text);
int reload_start_cb(struct daemon *d, reload_done_fn done, void *ctx);
/* Forgets the reload_start_cb() calls of @ctx (it goes away). */
void reload_forget_cb(struct daemon *d, void *ctx);

/* stats.c: every counter by name, in the order of the stats line. */
struct stat_item {
	const char *name; /* as in the stats line */
	uint64_t value;
	/* For the metrics (metrics.c, Prometheus text format): */
	const char *help;   /* what it counts, one sentence */
	bool gauge;         /* a level now; otherwise a count since start */
	const char *metric; /* NULL: the name, - as _ (a counter gets _total) */
	uint32_t scale;     /* 0: as is; N: value / N (microseconds as seconds: 1000000) */
};
#define STATS_MAX 96
size_t stats_collect(const struct daemon *d, struct stat_item *v, size_t max);
void stats_log(struct daemon *d);
