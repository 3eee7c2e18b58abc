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

#include "allowfile.h"
#include "build-config.h"
#include "log.h"
#include "metrics.h"
#include "nfqueue.h"
#include "pflog.h"
#include "replay.h"
#include "capture.h"
#include "control.h"
#include "redis.h"
#include "redisurl.h"
#include "resolve.h"
#include "sandbox.h"
#include "sdnotify.h"
#include "state.h"

#define RDNS_MAX_INFLIGHT 256

static const int handled_signals[4] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1};
/* Held back from the top of main() until the loop handles them: their default action kills. */
static const int early_signals[2] = {SIGHUP, SIGUSR1};

mxa_time daemon_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (mxa_time)ts.tv_sec;
}

uint64_t daemon_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * Hybrid mode: fake-MX writes sent before their verdict, at most this many a
 * second (each is a netlink transaction); beyond, a flood's go with the batch.
 */
#define FAKE_COMMITS_PER_SECOND 200

/* A SYN the core holds (a stranger being checked) gets its verdict later, by packet id. */
static enum nfqueue_verdict judge(void *ctx, uint32_t id, const struct packet_info *pkt)
{
	struct daemon *d = ctx;

	switch (mx_syn_hold(d->mx, &pkt->src, &pkt->dst, id, daemon_now_ms())) {
	case MX_ALLOW:
		/*
		 * Hybrid mode: once this verdict goes out the sender hears the fake
		 * MX's refusal and tries the real MX, where the ruleset renews its
		 * element (renewal on use). The daemon's write of the entry must
		 * reach the kernel first, or it would cut that renewal back to
		 * whitelist-time: sent now rather than after the batch.
		 */
		if (d->table && !d->table_resyncing && mx_classify(d->mx, &pkt->dst) == MX_FAKE &&
		    ratelimit_allow(&d->fake_commits, daemon_now()))
			daemon_table_sync(d);
		return NFQUEUE_ACCEPT;
	case MX_PENDING:
		return NFQUEUE_PENDING;
	case MX_DROP:
		break;
	}
	return NFQUEUE_DROP;
}

int daemon_check_hold(const struct config *c, char *err, size_t errlen)
{
	/* hold-max is lowered to half of queue-maxlen when applied (daemon_apply_hold_trust()). */
	static const uint64_t no_key[2];
	struct trust *t;
	int r = 0;

	if (c->trust_domain.n == 0)
		return 0;
	/* The config layer knows no PSL: a public suffix would trust every domain under it. */
	t = trust_new(1, no_key);
	if (!t) {
		snprintf(err, errlen, "trust-domain: out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < c->trust_domain.n && r == 0; i++)
		if (trust_is_public_suffix(t, c->trust_domain.v[i].spec)) {
			snprintf(err, errlen,
			         "%s: trust-domain: '%s' is a public suffix: it would trust every "
			         "domain under it; name a registered domain (such as example.%s)",
			         c->trust_domain.v[i].origin, c->trust_domain.v[i].spec,
			         c->trust_domain.v[i].spec);
			r = -EINVAL;
		}
	trust_free(t);
	return r;
}

/* Held SYNs take at most half the kernel queue: whitelisted clients keep the other half. */
static uint32_t hold_max_of(const struct config *c)
{
	return c->hold_max <= c->queue_maxlen / 2 ? c->hold_max : c->queue_maxlen / 2;
}

int daemon_apply_hold_trust(struct daemon *d, const struct config *c)
{
	const char **trusted = calloc(c->trust_domain.n + 1, sizeof(*trusted));
	const char **exclude = calloc(c->domain_trust_exclude.n + 1, sizeof(*exclude));
	struct trust_params tp = {
	    .domain_trust = c->domain_trust,
	    .trusted = trusted,
	    .n_trusted = c->trust_domain.n,
	    .exclude = exclude,
	    .n_exclude = c->domain_trust_exclude.n,
	};
	int r = -ENOMEM;

	if (trusted && exclude) {
		for (size_t i = 0; i < c->trust_domain.n; i++)
			trusted[i] = c->trust_domain.v[i].spec;
		for (size_t i = 0; i < c->domain_trust_exclude.n; i++)
			exclude[i] = c->domain_trust_exclude.v[i].spec;
		r = mx_set_trust(d->mx, &tp);
	}
	free(trusted);
	free(exclude);
	/* Only a queue can hold a packet; table mode checks strangers without holding. */
	if (r == 0 && d->q) {
		if (hold_max_of(c) != c->hold_max)
			log_msg(LOG_WARNING,
			        "hold-max %" PRIu32 " is above half of queue-maxlen %" PRIu32
			        ": at most %" PRIu32 " SYNs are held, so that held SYNs never fill "
			        "the kernel queue",
			        c->hold_max, c->queue_maxlen, hold_max_of(c));
		r = mx_set_hold(d->mx, hold_max_of(c), c->hold_time, daemon_now_ms());
	}
	if (r == 0 && c->domain_trust && !trust_psl_available(mx_trust(d->mx)))
		log_msg(LOG_WARNING, "domain-trust: this build has no libpsl (meson option psl): "
		                     "domain trust is off; trust-domain still works");
	daemon_hold_sync(d);
	return r;
}

void daemon_hold_sync(struct daemon *d)
{
	int64_t next;

	if (d->q && d->verdicts_buffered) {
		d->verdicts_buffered = false;
		if (nfqueue_flush(d->q) < 0) {
			log_msg(LOG_ERR, "nfqueue: cannot send verdicts (%s); exiting",
			        strerror(nfqueue_stats(d->q)->send_errno));
			d->exit_status = 1;
			if (d->base)
				event_base_loopbreak(d->base);
		}
	}
	if (!d->ev_hold)
		return;
	next = mx_hold_next(d->mx);
	if (next < 0) {
		event_del(d->ev_hold);
	} else {
		uint64_t now = daemon_now_ms(),
		         wait = (uint64_t)next > now ? (uint64_t)next - now : 0;
		struct timeval tv = {(time_t)(wait / 1000), (suseconds_t)(wait % 1000) * 1000};

		event_add(d->ev_hold, &tv);
	}
}

static void on_hold(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;

	(void)fd;
	(void)what;
	mx_hold_expire(d->mx, daemon_now_ms());
	daemon_hold_sync(d);
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
	bool blocked = false;

	if (rec->dir == LINK_DIR_OUT)
		return; /* the server's own outgoing mail */
	if (rec->action == LINK_ACTION_UNKNOWN)
		blocked = mx_syn(d->mx, &rec->pkt.src, &rec->pkt.dst, now) == MX_DROP;
	else
		mx_observe(d->mx, &rec->pkt.src, &rec->pkt.dst,
		           rec->action == LINK_ACTION_PASS ? MX_OBSERVED_PASS : MX_OBSERVED_BLOCK,
		           now);
	/* No packet to hold here: a trusted stranger enters the table for its retransmit. */
	if ((blocked || rec->action == LINK_ACTION_BLOCK) &&
	    mx_classify(d->mx, &rec->pkt.dst) == MX_REAL)
		mx_stranger_blocked(d->mx, &rec->pkt.src, now);
}

static void on_queue(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	int r;

	(void)fd;
	(void)what;
	r = nfqueue_dispatch(d->q);
	if (d->table) /* hybrid: the next SYN of a sender just whitelisted stays in the kernel */
		daemon_table_sync(d);
	d->verdicts_buffered = false; /* the dispatch sent them */
	daemon_hold_sync(d);
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
	if (r == NFQUEUE_ESEND) {
		log_msg(
		    LOG_ERR,
		    "nfqueue: cannot send verdicts (%s) after retries; exiting: the kernel drops "
		    "the queued packets, the service manager restarts mxallowd",
		    strerror(nfqueue_stats(d->q)->send_errno));
		d->exit_status = 1;
		event_base_loopbreak(d->base);
	} else if (r < 0) {
		log_msg(
		    LOG_ERR,
		    "nfqueue: %s (the queue socket failed, or the kernel refused a configuration "
		    "change late); exiting",
		    strerror(-r));
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
		daemon_table_error(d, err); /* rate-limited: this runs at every capture wake-up */
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
	daemon_table_tick(d); /* also the pf replace that commits since the last tick left */
	state_tick(d->state, d->mx, &d->cfg, d->wl_changes, daemon_now());
	if (d->table && pflog_resync_due(d->table, daemon_now()))
		daemon_table_resync(d);
	if (d->pf) {
		if (pflog_capture_drops(d->pf, &drops, err, sizeof(err)) == 0 &&
		    drops != d->capture_drops) {
			log_msg(LOG_WARNING,
			        "pflog: %" PRIu64
			        " log records dropped before mxallowd read them (%" PRIu64
			        " so far): their connections were not seen",
			        drops - d->capture_drops, drops);
			d->capture_drops = drops;
		}
	}
	sd_notify_watchdog();
	unlogged = ratelimit_flush(&d->lines);
	if (unlogged)
		log_msg(LOG_NOTICE,
		        "log-rate: %" PRIu64
		        " accept/drop/whitelist lines not logged (at most %" PRIu32 " a second)",
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
	d->ev_hold = evtimer_new(d->base, on_hold, d);
	if (!d->ev_hold) {
		snprintf(err, errlen, "cannot register events");
		return -ENOMEM;
	}
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
	for (size_t i = 0; i < 2; i++)
		sigaddset(&set, early_signals[i]);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	return 0;
}

static void teardown(struct daemon *d)
{
	control_close(d);
	metrics_close(d);
	d->redis = redis_free(d->redis);
	for (size_t i = 0; i < 4; i++)
		if (d->ev_signals[i])
			event_free(d->ev_signals[i]);
	if (d->ev_queue)
		event_free(d->ev_queue);
	if (d->ev_tick)
		event_free(d->ev_tick);
	if (d->ev_hold)
		event_free(d->ev_hold);
	d->ev_hold = NULL;
	reload_free(d);
	d->rdns = rdns_free(d->rdns);
	/* Every held SYN gets its verdict before the queue closes. */
	if (d->mx && d->q) {
		size_t n = mx_hold_flush(d->mx, daemon_now_ms());

		if (n)
			log_msg(LOG_NOTICE, "shutdown: %zu held SYNs dropped (hold-flushed)", n);
	}
	if (d->q) /* also what an earlier release left buffered */
		(void)nfqueue_flush(d->q);
	d->q = nfqueue_close(d->q);
	if (d->table != d->pf) /* hybrid: the kernel keeps accepting known senders */
		(void)pflog_close(d->table, true);
	d->table = NULL;
	d->pf = pflog_close(d->pf, true); /* pf: flush, entries would not expire on their own */
	/* After the queue closed: the synchronous save holds no packet. */
	if (d->state && d->mx)
		(void)state_save_final(d->state, d->mx, &d->cfg, d->wl_changes, daemon_now());
	d->state = state_free(d->state);
	d->mx = mx_free(d->mx);
	d->statics = netset_free(d->statics);
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
	r = daemon_check_hold(&d->cfg, err, errlen);
	if (r < 0) {
		config_clear(&d->cfg);
		return r;
	}
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
	if (d->cfg.redis && !d->cfg.node_name) {
		char host[256] = "";

		(void)gethostname(host, sizeof(host) - 1);
		fprintf(f, "# node-name (default: the host name) %s\n", host);
	}
}

/*
 * Least privilege once everything privileged is open (spamlogd's order):
 * lock the capture, switch user, restrict. See sandbox.h.
 */
static int drop_privileges(struct daemon *d, char *err, size_t errlen)
{
	struct sandbox_paths paths = {.config = d->cli.config_path,
	                              .pidfile = d->cfg.pidfile,
	                              .state_dir = state_dir(d->state),
	                              .control_socket = control_path(d),
	                              .allow_files = &d->cfg.allow_files};
	struct redis_url ru;
	char why[128];
	int r = 0;

	if (d->cfg.redis && redisurl_parse(d->cfg.redis, &ru, why, sizeof(why)) == 0 &&
	    ru.unix_socket)
		paths.redis_socket = ru.path;
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
	for (size_t i = 0; i < 2; i++)
		sigaddset(&set, early_signals[i]);
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

	return e->deadline <= f->now
	           ? 0
	           : f->put(f->put_ctx, &e->addr, (uint32_t)(e->deadline - f->now));
}

static int table_entries(void *ctx, table_put_fn put, void *put_ctx)
{
	struct daemon *d = ctx;
	struct table_feed f = {put, put_ctx, daemon_now()};

	/*
	 * Hybrid mode: the ruleset adds a fake-MX client to the set and queues
	 * its SYN at once; judging what waits in the queue first puts such
	 * clients in the whitelist, so the resync does not take them for strays.
	 */
	if (d->q && d->table)
		(void)nfqueue_dispatch(d->q); /* a failure shows at the next on_queue() */
	return whitelist_foreach(mx_whitelist(d->mx), feed_one, &f);
}

/* A resync found a kernel renewal (the ruleset's, on use): the whitelist follows it. */
static int table_later(void *ctx, const mxa_addr *a, uint32_t timeout)
{
	struct daemon *d = ctx;
	mxa_time now = daemon_now();

	return mx_table_renewed(d->mx, a, now + timeout, now);
}

/* A batch of queued SYNs: their whitelist lookups, prefetched before the judge runs. */
static void prefetch(void *ctx, const mxa_addr *src, size_t n)
{
	struct daemon *d = ctx;
	mxa_addr keys[64];

	if (n > 64)
		n = 64;
	for (size_t i = 0; i < n; i++) /* keyed like the whitelist */
		addr_mask(&keys[i], &src[i], d->cfg.ipv4_prefix, d->cfg.ipv6_prefix);
	whitelist_prefetch(mx_whitelist(d->mx), keys, n);
}

/* table-writer: NULL for the build's default (table mode), "none" for no table. */
static const char *table_writer(const struct daemon *d, bool table_mode)
{
	const char *w = d->cfg.table_writer;

	if (!w || strcmp(w, "auto") == 0)
		return table_mode ? NULL : "none";
	return w;
}

/* The kernel table's parameters, for table mode (with a capture) and hybrid mode (without). */
static struct pflog_params table_params(struct daemon *d, const char *writer)
{
	return (struct pflog_params){
	    .table =
	        {
	            .writer = writer,
	            .nft_table = d->cfg.nft_table,
	            .nft_set4 = d->cfg.nft_set4,
	            .nft_set6 = d->cfg.nft_set6,
	            .pf_table = d->cfg.table,
	            .ipset4 = d->cfg.ipset,
	            .ipset6 = d->cfg.ipset6,
	            .v4_prefix = d->cfg.ipv4_prefix,
	            .v6_prefix = d->cfg.ipv6_prefix,
	            .default_timeout = d->cfg.whitelist_time,
	            .max_entries = d->cfg.max_entries,
	            /* OpenBSD's pledge("pf") allows whole-table replaces only. */
	            .replace_only = sandbox_pledges_pf(),
	            .later = table_later,
	            .later_ctx = d,
	        },
	    .entries = table_entries,
	    .entries_ctx = d,
	};
}

static int open_backend(struct daemon *d, char *err, size_t errlen)
{
	bool table_mode = strcmp(d->cfg.backend, "pflog") == 0;
	const char *writer = table_writer(d, table_mode);

	if (writer && strcmp(writer, "none") == 0 && table_mode) {
		snprintf(err, errlen,
		         "table-writer none: table mode needs a kernel table (table-writer auto, "
		         "ipset, nft or pf)");
		return -EINVAL;
	}
	if (!table_mode && !(writer && strcmp(writer, "none") == 0)) {
		/* Hybrid mode: the table writer without a capture, beside the queue. */
		struct pflog_params tp = table_params(d, writer);

		d->table = pflog_open(&tp, observe, d, err, errlen);
		if (!d->table)
			return -EIO;
		d->fake_commits.per_second = FAKE_COMMITS_PER_SECOND;
	}
	if (table_mode) {
		struct pflog_params pp = table_params(d, writer);

		pp.interface = d->cfg.pflog_interface;
		pp.filter = d->cfg.pcap_filter;
		d->pf = pflog_open(&pp, observe, d, err, errlen);
		d->table = d->pf;
		return d->pf ? 0 : -EIO;
	}
	struct nfqueue_params qp = {
	    .prefetch = prefetch,
	    .prefetch_ctx = d,
	    .queue_num = (uint16_t)d->cfg.queue_num,
	    .maxlen = d->cfg.queue_maxlen,
	    .fail_open = d->cfg.fail_open,
	    .accept_unparsable = d->cfg.accept_unparsable,
	};

	d->q = nfqueue_new(&qp, judge, d, err, errlen);
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
	if (allowfile_build(&d.cfg, &d.statics, err, sizeof(err)) < 0) {
		fprintf(stderr, "mxallowd: %s\n", err);
		teardown(&d);
		return 1;
	}
	if (config_warnings(&d.cfg, warn, sizeof(warn)) &&
	    (d.cli.check_config || d.cli.replay_path))
		fprintf(stderr, "mxallowd: warning: %s\n", warn);
	if (d.cli.check_config) {
		print_config(stdout, &d);
		printf("# allow lists: %zu networks\n", netset_count(d.statics));
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
	/*
	 * First of all the parts that touch shared things: a second instance learns
	 * here that another mxallowd answers on the socket, before it reads or moves
	 * the state file or writes a kernel table. Before detaching, so that the
	 * refusal reaches the terminal.
	 */
	if (control_open(&d, err, sizeof(err)) < 0) {
		fprintf(stderr, "mxallowd: %s\n", err);
		teardown(&d);
		return 1;
	}
	if (state_new(&d.cfg, &d.state, err, sizeof(err)) < 0) {
		fprintf(stderr, "mxallowd: %s\n", err);
		teardown(&d);
		return 1;
	}
	if (d.state)
		state_load(d.state, &d.cfg, daemon_now());
	daemon_fill_params(&p, &d.cfg, &d.servers);
	daemon_sink(&d, &sink);
	/* Created early enough to hold the last uses of the loaded entries. */
	d.mx = mx_new(&p, d.cfg.max_entries, key, &sink, state_epoch(d.state, daemon_now()));
	if (!d.mx) {
		fprintf(stderr, "mxallowd: cannot create the whitelist (max-entries %" PRIu32 ")\n",
		        d.cfg.max_entries);
		teardown(&d);
		return 1;
	}
	mx_set_static(d.mx, d.statics);
	d.statics = NULL;
	if (open_backend(&d, err, sizeof(err)) < 0) {
		fprintf(stderr, "mxallowd: %s\n", err);
		teardown(&d);
		return 1;
	}
	/* Table mode: the kernel alone admits, so an allow list it lacks would drop silently. */
	if (daemon_table_static(&d, mx_static(d.mx), err, sizeof(err)) < 0) {
		if (d.pf) {
			fprintf(stderr, "mxallowd: allow lists in table mode: %s\n", err);
			teardown(&d);
			return 1;
		}
		log_msg(LOG_WARNING,
		        "allow lists stay out of the kernel (the queue admits them): %s", err);
	}
	/* With the backend open: in table mode the kernel table learns the loaded entries. */
	d.restoring = true;
	state_restore(d.state, d.mx, daemon_now());
	d.restoring = false;
	/* ipset, nft: renewals the kernel made while we were stopped win over the saved deadlines.
	 */
	if (d.table)
		(void)pflog_learn(d.table);
	daemon_table_sync(&d);
	if (metrics_open(&d, err, sizeof(err)) < 0) {
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
	if (setup_loop(&d, err, sizeof(err)) < 0 || control_start(&d, err, sizeof(err)) < 0 ||
	    (d.cfg.redis && !(d.redis = redis_new(&d, err, sizeof(err)))) ||
	    metrics_start(&d, err, sizeof(err)) < 0 || drop_privileges(&d, err, sizeof(err)) < 0) {
		log_msg(LOG_ERR, "%s", err);
		teardown(&d);
		return 1;
	}
	if (daemon_apply_hold_trust(&d, &d.cfg) < 0) {
		log_msg(LOG_ERR, "cannot set up held verdicts and trusted domains: out of memory");
		teardown(&d);
		return 1;
	}
	if (d.pf)
		snprintf(qdesc, sizeof(qdesc), "pflog %s", pflog_describe(d.pf));
	else if (d.table) /* hybrid: the kernel accepts the set's members itself */
		snprintf(qdesc, sizeof(qdesc), "nfqueue queue=%" PRIu32 " hybrid %s",
		         d.cfg.queue_num, pflog_describe(d.table));
	else
		snprintf(qdesc, sizeof(qdesc), "nfqueue queue=%" PRIu32, d.cfg.queue_num);
	log_msg(LOG_NOTICE,
	        "started version=%s backend=%s fake=%s real=%s "
	        "whitelist-time=%" PRIu32 " rdns=%s",
	        MXALLOWD_VERSION, qdesc,
	        join_addrs(buf1, sizeof(buf1), d.servers.fake, d.servers.n_fake),
	        join_addrs(buf2, sizeof(buf2), d.servers.real, d.servers.n_real),
	        d.cfg.whitelist_time, d.cfg.no_rdns ? "off" : "on");
	if (mx_static(d.mx))
		log_msg(LOG_NOTICE, "allow lists: %zu networks", netset_count(mx_static(d.mx)));
	state_arm(d.state, d.wl_changes, daemon_now());
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
