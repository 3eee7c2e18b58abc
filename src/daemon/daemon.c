/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Start-up, the loop's events (queue or capture, the 1 s tick, signals) and
 * shutdown. The core's sink is in sink.c, SIGHUP in reload.c.
 */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "build-config.h"
#include "log.h"
#include "nfqueue.h"
#include "pflog.h"
#include "replay.h"
#include "capture.h"
#include "resolve.h"
#include "sandbox.h"
#include "sdnotify.h"

#define RDNS_MAX_INFLIGHT 256

static const int handled_signals[4] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1};

mxa_time daemon_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (mxa_time)ts.tv_sec;
}

static bool judge(void *ctx, const struct packet_info *pkt)
{
	struct daemon *d = ctx;

	return mx_syn(d->mx, &pkt->src, &pkt->dst, daemon_now()) == MX_ALLOW;
}

/*
 * Table mode: the kernel already passed or blocked the connection by its
 * table; the core learns from it. A record that does not say (an NFLOG prefix
 * without pass/block) is judged by the whitelist, like a queued packet.
 */
static void observe(void *ctx, const struct link_record *rec)
{
	struct daemon *d = ctx;
	mxa_time now = daemon_now();

	if (rec->dir == LINK_DIR_OUT)
		return; /* the server's own outgoing mail */
	if (rec->action == LINK_ACTION_UNKNOWN)
		mx_syn(d->mx, &rec->pkt.src, &rec->pkt.dst, now);
	else
		mx_observe(d->mx, &rec->pkt.src, &rec->pkt.dst,
		           rec->action == LINK_ACTION_PASS ? MX_OBSERVED_PASS : MX_OBSERVED_BLOCK,
		           now);
}

static void on_queue(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	int r;

	(void)fd;
	(void)what;
	r = nfqueue_dispatch(d->q);
	if (nfqueue_stats(d->q)->enobufs != d->enobufs_seen) {
		uint64_t n = nfqueue_stats(d->q)->enobufs;

		log_msg(LOG_WARNING,
		        "nfqueue: receive buffer overrun (ENOBUFS), %" PRIu64
		        " so far: the kernel could not hand packets to mxallowd and dropped them "
		        "(with --fail-open it accepts them instead); the host is not keeping up "
		        "with the SYN rate: a lower --queue-maxlen lets the queue limit act before "
		        "the socket buffer",
		        n);
		d->enobufs_seen = n;
	}
	if (r == -ECOMM) {
		log_msg(LOG_ERR,
		        "nfqueue: cannot send verdicts (%s) after retries; exiting: the kernel drops "
		        "the queued packets, the service manager restarts mxallowd",
		        strerror(nfqueue_stats(d->q)->send_errno));
		d->exit_status = 1;
		event_base_loopbreak(d->base);
	} else if (r < 0) {
		log_msg(LOG_ERR, "nfqueue: receive failed: %s; exiting", strerror(-r));
		d->exit_status = 1;
		event_base_loopbreak(d->base);
	}
}

static void on_capture(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	char err[CONFIG_ERRLEN];
	int r;

	(void)fd;
	(void)what;
	r = pflog_dispatch(d->pf, err, sizeof(err));
	if (r == -EAGAIN) {
		log_msg(LOG_ERR, "%s", err);
	} else if (r < 0) {
		log_msg(LOG_ERR, "pflog: capture failed: %s; exiting", err);
		d->exit_status = 1;
		event_base_loopbreak(d->base);
	}
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;

	uint64_t unlogged, drops;
	char err[CONFIG_ERRLEN];

	(void)fd;
	(void)what;
	mx_expire(d->mx, daemon_now());
	daemon_table_sync(d);
	if (d->pf) {
		if (pflog_resync_due(d->pf, daemon_now()))
			daemon_table_resync(d);
		if (pflog_capture_drops(d->pf, &drops, err, sizeof(err)) == 0 &&
		    drops != d->capture_drops) {
			log_msg(LOG_WARNING,
			        "pflog: %" PRIu64 " log records dropped before mxallowd read them (%" PRIu64
			        " so far): their connections were not seen",
			        drops - d->capture_drops, drops);
			d->capture_drops = drops;
		}
	}
	sd_notify_watchdog();
	unlogged = ratelimit_flush(&d->lines);
	if (unlogged)
		log_msg(LOG_NOTICE,
		        "log-rate: %" PRIu64 " accept/drop/whitelist lines not logged (at most %" PRIu32
		        " a second)",
		        unlogged, d->lines.per_second);
}

static const char *join_addrs(char *buf, size_t len, const mxa_addr *v, size_t n)
{
	char a[ADDR_STRLEN];
	size_t off = 0;

	buf[0] = 0;
	for (size_t i = 0; i < n && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? "," : "",
		                        addr_format(&v[i], a));
	return buf;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;

	(void)what;
	switch (sig) {
	case SIGHUP:
		reload_start(d);
		break;
	case SIGUSR1:
		stats_log(d);
		break;
	default:
		log_msg(LOG_NOTICE, "exiting on signal %d", (int)sig);
		event_base_loopbreak(d->base);
		break;
	}
}

/* Not through a symbolic link, and only into a regular file: truncated once that is known. */
static int write_pidfile(const char *path)
{
	char buf[32];
	int fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	struct stat st;
	int n, r = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || ftruncate(fd, 0) < 0) {
		close(fd);
		return -EINVAL;
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (write(fd, buf, (size_t)n) != n)
		r = -EIO;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	return r;
}

static int setup_loop(struct daemon *d, char *err, size_t errlen)
{
	struct timeval one_second = {1, 0};
	sigset_t set;

	d->base = event_base_new();
	if (!d->base) {
		snprintf(err, errlen, "cannot create the event loop");
		return -ENOMEM;
	}
	d->rdns = rdns_new(d->base, RDNS_MAX_INFLIGHT, daemon_rdns_done, daemon_rdns_error, d, err,
	                   errlen);
	if (!d->rdns)
		return -EIO;
	rdns_set_failed(d->rdns, daemon_rdns_failed);
	rdns_set_rate(d->rdns, d->cfg.rdns_rate);
	if (d->pf)
		d->ev_queue =
		    event_new(d->base, pflog_fd(d->pf), EV_READ | EV_PERSIST, on_capture, d);
	else
		d->ev_queue =
		    event_new(d->base, nfqueue_fd(d->q), EV_READ | EV_PERSIST, on_queue, d);
	d->ev_tick = event_new(d->base, -1, EV_PERSIST, on_tick, d);
	if (!d->ev_queue || !d->ev_tick || event_add(d->ev_queue, NULL) < 0 ||
	    event_add(d->ev_tick, &one_second) < 0) {
		snprintf(err, errlen, "cannot register events");
		return -ENOMEM;
	}
	for (size_t i = 0; i < 4; i++) {
		d->ev_signals[i] = evsignal_new(d->base, handled_signals[i], on_signal, d);
		if (!d->ev_signals[i] || event_add(d->ev_signals[i], NULL) < 0) {
			snprintf(err, errlen, "cannot register signal %d", handled_signals[i]);
			return -ENOMEM;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	/* Blocked since the top of main(): what came meanwhile is handled now, not fatal. */
	sigemptyset(&set);
	for (size_t i = 0; i < 4; i++)
		sigaddset(&set, handled_signals[i]);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	return 0;
}

static void teardown(struct daemon *d)
{
	for (size_t i = 0; i < 4; i++)
		if (d->ev_signals[i])
			event_free(d->ev_signals[i]);
	if (d->ev_queue)
		event_free(d->ev_queue);
	if (d->ev_tick)
		event_free(d->ev_tick);
	reload_free(d);
	d->rdns = rdns_free(d->rdns);
	d->q = nfqueue_close(d->q);
	d->pf = pflog_close(d->pf, true); /* pf: flush, entries would not expire on their own */
	d->mx = mx_free(d->mx);
	if (d->base)
		event_base_free(d->base);
	if (d->pidfile_written)
		unlink(d->cfg.pidfile);
	config_clear(&d->cfg);
	config_servers_clear(&d->servers);
	cli_clear(&d->cli);
	log_close();
}

static int load_config(struct daemon *d, char *err, size_t errlen)
{
	int r = cli_build_config(&d->cli, &d->cfg, err, errlen);

	if (r < 0)
		return r;
	/* At start the loop does not run yet: resolving here blocks nothing. */
	r = config_resolve_servers(&d->cfg, resolve_host, NULL, &d->servers, err, errlen);
	if (r < 0)
		config_clear(&d->cfg);
	return r;
}

static void print_config(FILE *f, const struct daemon *d)
{
	char buf[4096];

	fprintf(f, "# mxallowd %s: effective configuration\n", MXALLOWD_VERSION);
	cli_print_config(f, &d->cfg);
	fprintf(f, "# fake addresses: %s\n",
	        join_addrs(buf, sizeof(buf), d->servers.fake, d->servers.n_fake));
	fprintf(f, "# real addresses: %s\n",
	        join_addrs(buf, sizeof(buf), d->servers.real, d->servers.n_real));
	if (!d->cfg.pcap_filter)
		fprintf(f, "# pcap-filter (default for a live capture) %s\n",
		        capture_default_filter());
}

/*
 * Least privilege once everything privileged is open (spamlogd's order):
 * lock the capture, switch user, restrict. See sandbox.h.
 */
static int drop_privileges(struct daemon *d, char *err, size_t errlen)
{
	struct sandbox_paths paths = {.config = d->cli.config_path, .pidfile = d->cfg.pidfile};
	int r = 0;

	if (d->pf)
		r = sandbox_lock_capture(pflog_fd(d->pf), err, errlen);
	if (r == 0 && d->cfg.user)
		r = sandbox_drop_user(d->cfg.user, d->cfg.group, err, errlen);
	if (r == 0)
		r = sandbox_restrict(&paths, err, errlen);
	return r;
}

static void block_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	for (size_t i = 0; i < 4; i++)
		sigaddset(&set, handled_signals[i]);
	sigprocmask(SIG_BLOCK, &set, NULL);
}

/* The whitelist's live entries for a table resync, with their remaining lifetimes. */
struct table_feed {
	table_put_fn put;
	void *put_ctx;
	mxa_time now;
};

static int feed_one(void *ctx, const struct wl_entry *e)
{
	struct table_feed *f = ctx;

	return e->deadline <= f->now ? 0
	                             : f->put(f->put_ctx, &e->addr, (uint32_t)(e->deadline - f->now));
}

static int table_entries(void *ctx, table_put_fn put, void *put_ctx)
{
	struct daemon *d = ctx;
	struct table_feed f = {put, put_ctx, daemon_now()};

	return whitelist_foreach(mx_whitelist(d->mx), feed_one, &f);
}

static int open_backend(struct daemon *d, char *err, size_t errlen)
{
	if (strcmp(d->cfg.backend, "pflog") == 0) {
		struct pflog_params pp = {
		    .interface = d->cfg.pflog_interface,
		    .filter = d->cfg.pcap_filter,
		    .table =
		        {
		            .pf_table = d->cfg.table,
		            .ipset4 = d->cfg.ipset,
		            .ipset6 = d->cfg.ipset6,
		            .v4_prefix = d->cfg.ipv4_prefix,
		            .v6_prefix = d->cfg.ipv6_prefix,
		            .default_timeout = d->cfg.whitelist_time,
		            .max_entries = d->cfg.max_entries,
		            /* OpenBSD's pledge("pf") allows whole-table replaces only. */
		            .replace_only = sandbox_pledges_pf(),
		        },
		    .entries = table_entries,
		    .entries_ctx = d,
		};

		d->pf = pflog_open(&pp, observe, d, err, errlen);
		return d->pf ? 0 : -EIO;
	}
	struct nfqueue_params qp = {
	    .queue_num = (uint16_t)d->cfg.queue_num,
	    .maxlen = d->cfg.queue_maxlen,
	    .fail_open = d->cfg.fail_open,
	    .accept_unparsable = d->cfg.accept_unparsable,
	};

	d->q = nfqueue_open(&qp, judge, d, err, errlen);
	return d->q ? 0 : -EIO;
}

int daemon_main(int argc, char **argv)
{
	struct daemon d = {0};
	struct mx_sink sink;
	struct mx_params p;
	char err[CONFIG_ERRLEN], buf1[1024], buf2[1024], qdesc[320], warn[512];
	uint64_t key[2];
	int r;

	/* A SIGHUP or SIGUSR1 before the loop handles them must not kill the daemon. */
	block_signals();
	if (cli_parse(&d.cli, argc, argv, err, sizeof(err)) < 0) {
		fprintf(stderr, "mxallowd: %s\n", err);
		return 1;
	}
	if (d.cli.help || d.cli.version) {
		if (d.cli.help)
			cli_usage(stdout);
		else
			printf("mxallowd %s\n", MXALLOWD_VERSION);
		cli_clear(&d.cli);
		return 0;
	}
	if (load_config(&d, err, sizeof(err)) < 0) {
		fprintf(stderr, "mxallowd: %s\n", err);
		cli_clear(&d.cli);
		return 1;
	}
	if (config_warnings(&d.cfg, warn, sizeof(warn)) && (d.cli.check_config || d.cli.replay_path))
		fprintf(stderr, "mxallowd: warning: %s\n", warn);
	if (d.cli.check_config) {
		print_config(stdout, &d);
		teardown(&d);
		return 0;
	}
	if (d.cli.replay_path) {
		daemon_fill_params(&p, &d.cfg, &d.servers);
		r = replay_file(d.cli.replay_path, d.cfg.pcap_filter, &p, d.cfg.max_entries, stdout,
		                err, sizeof(err));
		fflush(stdout);
		if (r < 0)
			fprintf(stderr, "mxallowd: replay: %s\n", err);
		teardown(&d);
		return r < 0 ? 1 : 0;
	}
	log_open(d.cfg.log_stdout, d.cfg.quiet);
	d.lines.per_second = d.cfg.log_rate;
	if (config_warnings(&d.cfg, warn, sizeof(warn)))
		log_msg(LOG_WARNING, "%s", warn);

	if (getentropy(key, sizeof(key)) < 0)
		key[0] = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32), key[1] = ~key[0];
	daemon_fill_params(&p, &d.cfg, &d.servers);
	daemon_sink(&d, &sink);
	d.mx = mx_new(&p, d.cfg.max_entries, key, &sink, daemon_now());
	if (!d.mx) {
		fprintf(stderr, "mxallowd: cannot create the whitelist (max-entries %" PRIu32 ")\n",
		        d.cfg.max_entries);
		teardown(&d);
		return 1;
	}
	if (open_backend(&d, err, sizeof(err)) < 0) {
		fprintf(stderr, "mxallowd: %s\n", err);
		teardown(&d);
		return 1;
	}
	if (!d.cfg.foreground && daemon(0, d.cfg.log_stdout) < 0) {
		fprintf(stderr, "mxallowd: cannot detach: %s\n", strerror(errno));
		teardown(&d);
		return 1;
	}
	if (d.cfg.pidfile) {
		r = write_pidfile(d.cfg.pidfile);
		if (r < 0) {
			log_msg(LOG_ERR, "cannot write pidfile %s: %s", d.cfg.pidfile,
			        r == -EINVAL ? "not a regular file" : strerror(-r));
			teardown(&d);
			return 1;
		}
		d.pidfile_written = true;
	}
	if (setup_loop(&d, err, sizeof(err)) < 0 || drop_privileges(&d, err, sizeof(err)) < 0) {
		log_msg(LOG_ERR, "%s", err);
		teardown(&d);
		return 1;
	}
	if (d.pf)
		snprintf(qdesc, sizeof(qdesc), "pflog %s", pflog_describe(d.pf));
	else
		snprintf(qdesc, sizeof(qdesc), "nfqueue queue=%" PRIu32, d.cfg.queue_num);
	log_msg(LOG_NOTICE,
	        "started version=%s backend=%s fake=%s real=%s "
	        "whitelist-time=%" PRIu32 " rdns=%s",
	        MXALLOWD_VERSION, qdesc,
	        join_addrs(buf1, sizeof(buf1), d.servers.fake, d.servers.n_fake),
	        join_addrs(buf2, sizeof(buf2), d.servers.real, d.servers.n_real),
	        d.cfg.whitelist_time, d.cfg.no_rdns ? "off" : "on");
	sd_notify_ready();
	if (event_base_dispatch(d.base) < 0) {
		log_msg(LOG_ERR, "event loop failed");
		d.exit_status = 1;
	}
	sd_notify_stopping();
	r = d.exit_status;
	teardown(&d);
	return r;
}
