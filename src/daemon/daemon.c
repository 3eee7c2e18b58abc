/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The daemon: configuration, one libevent loop for the queue socket, the
 * resolver, the expiry timer and signals, and the core's sink (logging and
 * rDNS requests).
 */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "build-config.h"
#include "cli.h"
#include "config.h"
#include "log.h"
#include "mx.h"
#include "ratelimit.h"
#include "nfqueue.h"
#include "pflog.h"
#include "replay.h"
#include "resolve.h"

#define RDNS_MAX_INFLIGHT 256

struct daemon {
	struct cli cli;
	struct config cfg;
	struct config_servers servers;
	struct mx *mx;
	struct nfqueue *q; /* backend nfqueue: verdicts */
	struct pflog *pf;  /* backend pflog: log records in, kernel table changes out */
	struct rdns *rdns;
	struct event_base *base;
	struct event *ev_queue;
	struct event *ev_tick;
	struct event *ev_signals[4];
	struct ratelimit decisions; /* accept/drop log lines */
	uint64_t rdns_skipped;
	uint64_t enobufs_seen;
	int exit_status;
	bool pidfile_written;
};

static mxa_time now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (mxa_time)ts.tv_sec;
}

static void sink_added(void *ctx, const struct wl_entry *e, bool renewed, const char *name,
                       mxa_time now)
{
	struct daemon *d = ctx;
	char a[ADDR_STRLEN], o[ADDR_STRLEN];

	if (d->pf) /* sent by table_sync() or at the end of the dispatch */
		pflog_add(d->pf, &e->addr, (uint32_t)(e->deadline - now));
	if (!log_enabled(LOG_INFO))
		return; /* -q: do not format lines that would be thrown away */
	if (e->reason == WL_REASON_RDNS_SIBLING)
		log_msg(LOG_INFO,
		        "whitelist %s addr=%s reason=%s origin=%s name=%s expires-in=%" PRId64,
		        renewed ? "renew" : "add", addr_format(&e->addr, a),
		        whitelist_reason_name(e->reason), addr_format(&e->origin, o),
		        name ? name : "-", e->deadline - now);
	else
		log_msg(LOG_INFO, "whitelist %s addr=%s reason=%s dst=%s expires-in=%" PRId64,
		        renewed ? "renew" : "add", addr_format(&e->addr, a),
		        whitelist_reason_name(e->reason), addr_format(&e->origin, o),
		        e->deadline - now);
}

static void sink_removed(void *ctx, const struct wl_entry *e, enum mx_removal why)
{
	struct daemon *d = ctx;
	char a[ADDR_STRLEN];

	if (d->pf)
		pflog_del(d->pf, &e->addr);
	if (!log_enabled(LOG_INFO))
		return;
	log_msg(LOG_INFO, "whitelist del addr=%s reason=%s", addr_format(&e->addr, a),
	        why == MX_REMOVED_EXPIRED   ? "expired"
	        : why == MX_REMOVED_EVICTED ? "evicted"
	                                    : "deleted");
}

static void sink_resolve(void *ctx, const mxa_addr *client)
{
	struct daemon *d = ctx;
	char a[ADDR_STRLEN];
	int r;

	if (!d->rdns)
		return;
	r = rdns_lookup(d->rdns, client);
	if (r < 0) {
		/* Under a flood of fake-MX hits, skip lookups rather than queue without bound. */
		if (d->rdns_skipped++ % 1000 == 0)
			log_msg(LOG_WARNING, "rdns addr=%s error=%s (skipped so far: %" PRIu64 ")",
			        addr_format(client, a),
			        r == -EBUSY ? "too-many-lookups" : strerror(-r), d->rdns_skipped);
	}
}

static void sink_decided(void *ctx, const mxa_addr *src, const mxa_addr *dst, enum mx_verdict v)
{
	struct daemon *d = ctx;
	char s[ADDR_STRLEN], t[ADDR_STRLEN];

	if (!log_enabled(v == MX_ALLOW ? LOG_INFO : LOG_NOTICE))
		return; /* the packet path: no formatting for nothing */
	/* Under a flood, a few lines a second say enough; the rest are counted. */
	if (d->decisions.per_second && !ratelimit_allow(&d->decisions, now_mono()))
		return;
	if (v == MX_ALLOW)
		log_msg(LOG_INFO, "accept src=%s dst=%s reason=whitelisted", addr_format(src, s),
		        addr_format(dst, t));
	else
		log_msg(LOG_NOTICE, "drop src=%s dst=%s reason=not-whitelisted",
		        addr_format(src, s), addr_format(dst, t));
}

static void sink_unconfirmed(void *ctx, const mxa_addr *client, const char *name)
{
	char a[ADDR_STRLEN];

	(void)ctx;
	log_msg(LOG_INFO, "rdns addr=%s name=%s not-confirmed", addr_format(client, a), name);
}

/* Table mode: sends the table changes the core asked for outside a capture dispatch. */
static void table_sync(struct daemon *d)
{
	char err[CONFIG_ERRLEN];

	if (d->pf && pflog_commit(d->pf, err, sizeof(err)) < 0)
		log_msg(LOG_ERR, "%s", err);
}

static void rdns_done(void *ctx, const mxa_addr *client, const char *name, const mxa_addr *addrs,
                      size_t n)
{
	struct daemon *d = ctx;

	mx_resolved(d->mx, client, name, addrs, n, now_mono());
	table_sync(d);
}

static void rdns_error(void *ctx, const mxa_addr *client, const char *what)
{
	char a[ADDR_STRLEN];

	(void)ctx;
	log_msg(LOG_INFO, "rdns addr=%s error=%s", addr_format(client, a), what);
}

static void fill_params(struct mx_params *p, const struct config *c, const struct config_servers *s)
{
	p->fake = s->fake;
	p->n_fake = s->n_fake;
	p->real = s->real;
	p->n_real = s->n_real;
	p->whitelist_time = c->whitelist_time;
	p->rdns = !c->no_rdns;
	p->rdns_max = c->rdns_max;
	p->v4_prefix = c->ipv4_prefix;
	p->v6_prefix = c->ipv6_prefix;
}

static bool judge(void *ctx, const struct packet_info *pkt)
{
	struct daemon *d = ctx;

	return mx_syn(d->mx, &pkt->src, &pkt->dst, now_mono()) == MX_ALLOW;
}

/*
 * Table mode: the kernel already passed or blocked the connection by its
 * table; the core learns from it. A record that does not say (an NFLOG prefix
 * without pass/block) is judged by the whitelist, like a queued packet.
 */
static void observe(void *ctx, const struct link_record *rec)
{
	struct daemon *d = ctx;
	mxa_time now = now_mono();

	if (rec->dir == LINK_DIR_OUT)
		return; /* the server's own outgoing mail */
	if (rec->action == LINK_ACTION_UNKNOWN)
		mx_syn(d->mx, &rec->pkt.src, &rec->pkt.dst, now);
	else
		mx_observe(d->mx, &rec->pkt.src, &rec->pkt.dst,
		           rec->action == LINK_ACTION_PASS ? MX_OBSERVED_PASS : MX_OBSERVED_BLOCK,
		           now);
}

static void log_stats(struct daemon *d)
{
	const struct mx_stats *s = mx_stats(d->mx);
	struct nfqueue_stats none = {0};
	const struct nfqueue_stats *q = d->q ? nfqueue_stats(d->q) : &none;

	uint64_t table_errors = 0;

	if (d->pf) {
		none.malformed = pflog_stats(d->pf)->malformed;
		none.ignored = pflog_stats(d->pf)->ignored;
		table_errors = pflog_stats(d->pf)->table_errors;
	}

	log_msg(LOG_NOTICE | LOG_FORCE,
	        "stats dropped=%" PRIu64 " accepted=%" PRIu64 " fake-hits=%" PRIu64
	        " rdns-siblings=%" PRIu64 " fake-only=%" PRIu64 " entries=%zu malformed=%" PRIu64
	        " enobufs=%" PRIu64 " expired=%" PRIu64 " evicted=%" PRIu64
	        " rdns-unconfirmed=%" PRIu64 " rdns-skipped=%" PRIu64 " ignored=%" PRIu64
	        " table-errors=%" PRIu64,
	        s->dropped, s->accepted, s->fake_hits, s->rdns_siblings, s->fake_only,
	        whitelist_size(mx_whitelist(d->mx)), q->malformed, q->enobufs, s->expired,
	        s->evicted, s->rdns_unconfirmed, d->rdns_skipped, q->ignored, table_errors);
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
		        " so far: the kernel dropped queued packets; consider --queue-maxlen, "
		        "--fail-open or --queue-bypass",
		        n);
		d->enobufs_seen = n;
	}
	if (r < 0) {
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

	uint64_t unlogged;

	(void)fd;
	(void)what;
	mx_expire(d->mx, now_mono());
	table_sync(d);
	unlogged = ratelimit_flush(&d->decisions);
	if (unlogged)
		log_msg(LOG_NOTICE,
		        "log-rate: %" PRIu64 " accept/drop lines not logged (at most %" PRIu32
		        " a second)",
		        unlogged, d->decisions.per_second);
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

static int load_config(struct daemon *d, struct config *c, struct config_servers *s, char *err,
                       size_t errlen)
{
	int r = cli_build_config(&d->cli, c, err, errlen);

	if (r < 0)
		return r;
	r = config_resolve_servers(c, resolve_host, NULL, s, err, errlen);
	if (r < 0)
		config_clear(c);
	return r;
}

static bool same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Moves the running value of a restart-only setting into the new configuration. */
static void keep_running(char **next, char **running)
{
	free(*next);
	*next = *running;
	*running = NULL;
}

static void reload(struct daemon *d)
{
	struct config c;
	struct config_servers s;
	struct mx_params p;
	char err[CONFIG_ERRLEN];

	if (load_config(d, &c, &s, err, sizeof(err)) < 0) {
		log_msg(LOG_ERR, "reload failed: %s; keeping previous configuration", err);
		return;
	}
	fill_params(&p, &c, &s);
	if (mx_set_params(d->mx, &p) < 0) {
		log_msg(LOG_ERR,
		        "reload failed: invalid parameters; keeping previous configuration");
		config_clear(&c);
		config_servers_clear(&s);
		return;
	}
	if (c.queue_num != d->cfg.queue_num || c.max_entries != d->cfg.max_entries ||
	    !same_str(c.backend, d->cfg.backend) ||
	    !same_str(c.pflog_interface, d->cfg.pflog_interface) ||
	    !same_str(c.pcap_filter, d->cfg.pcap_filter) || !same_str(c.table, d->cfg.table) ||
	    !same_str(c.ipset, d->cfg.ipset) || !same_str(c.ipset6, d->cfg.ipset6))
		log_msg(LOG_WARNING, "reload: queue-num, max-entries, backend, pflog-interface, "
		                     "pcap-filter, table and ipset names take effect on restart");
	if (d->q && (c.queue_maxlen != d->cfg.queue_maxlen || c.fail_open != d->cfg.fail_open))
		if (nfqueue_configure(d->q, c.queue_maxlen, c.fail_open) < 0)
			log_msg(LOG_WARNING, "reload: cannot change queue-maxlen/fail-open");
	log_set_quiet(c.quiet);
	d->decisions.per_second = c.log_rate;
	/* Keep what only a restart can change, so the next reload compares right. */
	c.queue_num = d->cfg.queue_num;
	c.max_entries = d->cfg.max_entries;
	c.log_stdout = d->cfg.log_stdout;
	keep_running(&c.pidfile, &d->cfg.pidfile); /* the one written is the one removed */
	keep_running(&c.backend, &d->cfg.backend);
	keep_running(&c.pflog_interface, &d->cfg.pflog_interface);
	keep_running(&c.pcap_filter, &d->cfg.pcap_filter);
	keep_running(&c.table, &d->cfg.table);
	keep_running(&c.ipset, &d->cfg.ipset);
	keep_running(&c.ipset6, &d->cfg.ipset6);
	config_clear(&d->cfg);
	config_servers_clear(&d->servers);
	d->cfg = c;
	d->servers = s;
	log_msg(LOG_NOTICE, "reload ok");
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;

	(void)what;
	switch (sig) {
	case SIGHUP:
		reload(d);
		break;
	case SIGUSR1:
		log_stats(d);
		break;
	default:
		log_msg(LOG_NOTICE, "exiting on signal %d", (int)sig);
		event_base_loopbreak(d->base);
		break;
	}
}

static void print_config(FILE *f, const struct config *c, const struct config_servers *s)
{
	char buf[4096];

	fprintf(f, "# mxallowd %s: effective configuration\n", MXALLOWD_VERSION);
	for (size_t i = 0; i < c->fake.n; i++)
		fprintf(f, "fake-mailserver %s # %s\n", c->fake.v[i].spec, c->fake.v[i].origin);
	for (size_t i = 0; i < c->real.n; i++)
		fprintf(f, "real-mailserver %s # %s\n", c->real.v[i].spec, c->real.v[i].origin);
	fprintf(f, "# fake addresses: %s\n", join_addrs(buf, sizeof(buf), s->fake, s->n_fake));
	fprintf(f, "# real addresses: %s\n", join_addrs(buf, sizeof(buf), s->real, s->n_real));
	fprintf(f,
	        "queue-num %" PRIu32 "\nqueue-maxlen %" PRIu32 "\nwhitelist-time %" PRIu32
	        "\nno-rdns-whitelist %s\nrdns-max %" PRIu32 "\nlog-rate %" PRIu32
	        "\nmax-entries %" PRIu32 "\nipv4-prefix %" PRIu32 "\nipv6-prefix %" PRIu32
	        "\nfail-open %s\nstdout %s\n"
	        "quiet %s\nforeground %s\n",
	        c->queue_num, c->queue_maxlen, c->whitelist_time, c->no_rdns ? "yes" : "no",
	        c->rdns_max, c->log_rate, c->max_entries, c->ipv4_prefix, c->ipv6_prefix,
	        c->fail_open ? "yes" : "no", c->log_stdout ? "yes" : "no", c->quiet ? "yes" : "no",
	        c->foreground ? "yes" : "no");
	if (c->pidfile)
		fprintf(f, "pidfile %s\n", c->pidfile);
	fprintf(f, "backend %s\npflog-interface %s\ntable %s\nipset %s\nipset6 %s\n",
	        c->backend ? c->backend : DEFAULT_BACKEND,
	        c->pflog_interface ? c->pflog_interface : DEFAULT_PFLOG_INTERFACE,
	        c->table ? c->table : CONFIG_DEFAULT_TABLE,
	        c->ipset ? c->ipset : CONFIG_DEFAULT_IPSET,
	        c->ipset6 ? c->ipset6 : CONFIG_DEFAULT_IPSET6);
	if (c->pcap_filter)
		fprintf(f, "pcap-filter %s\n", c->pcap_filter);
}

static int write_pidfile(const char *path)
{
	char buf[32];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int n, r = 0;

	if (fd < 0)
		return -errno;
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (write(fd, buf, (size_t)n) != n)
		r = -EIO;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	return r;
}

static int setup_loop(struct daemon *d, char *err, size_t errlen)
{
	static const int signals[4] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1};
	struct timeval one_second = {1, 0};

	d->base = event_base_new();
	if (!d->base) {
		snprintf(err, errlen, "cannot create the event loop");
		return -ENOMEM;
	}
	d->rdns = rdns_new(d->base, RDNS_MAX_INFLIGHT, rdns_done, rdns_error, d, err, errlen);
	if (!d->rdns)
		return -EIO;
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
		d->ev_signals[i] = evsignal_new(d->base, signals[i], on_signal, d);
		if (!d->ev_signals[i] || event_add(d->ev_signals[i], NULL) < 0) {
			snprintf(err, errlen, "cannot register signal %d", signals[i]);
			return -ENOMEM;
		}
	}
	signal(SIGPIPE, SIG_IGN);
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

int daemon_main(int argc, char **argv)
{
	struct daemon d = {0};
	const struct mx_sink sink = {
	    .ctx = &d,
	    .added = sink_added,
	    .removed = sink_removed,
	    .resolve = sink_resolve,
	    .decided = sink_decided,
	    .unconfirmed = sink_unconfirmed,
	};
	struct nfqueue_params qp;
	struct pflog_params pp;
	const char *backend;
	struct mx_params p;
	char err[CONFIG_ERRLEN], buf1[1024], buf2[1024], qdesc[320];
	uint64_t key[2];
	int r;

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
	if (load_config(&d, &d.cfg, &d.servers, err, sizeof(err)) < 0) {
		fprintf(stderr, "mxallowd: %s\n", err);
		cli_clear(&d.cli);
		return 1;
	}
	if (d.cli.check_config) {
		print_config(stdout, &d.cfg, &d.servers);
		teardown(&d);
		return 0;
	}
	if (d.cli.replay_path) {
		fill_params(&p, &d.cfg, &d.servers);
		r = replay_file(d.cli.replay_path, d.cfg.pcap_filter, &p, d.cfg.max_entries, stdout,
		                err, sizeof(err));
		fflush(stdout);
		if (r < 0)
			fprintf(stderr, "mxallowd: replay: %s\n", err);
		teardown(&d);
		return r < 0 ? 1 : 0;
	}
	log_open(d.cfg.log_stdout, d.cfg.quiet);
	d.decisions.per_second = d.cfg.log_rate;

	if (getrandom(key, sizeof(key), 0) != sizeof(key))
		key[0] = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32), key[1] = ~key[0];
	fill_params(&p, &d.cfg, &d.servers);
	d.mx = mx_new(&p, d.cfg.max_entries, key, &sink, now_mono());
	if (!d.mx) {
		fprintf(stderr, "mxallowd: cannot create the whitelist (max-entries %" PRIu32 ")\n",
		        d.cfg.max_entries);
		teardown(&d);
		return 1;
	}
	backend = d.cfg.backend ? d.cfg.backend : DEFAULT_BACKEND;
	if (strcmp(backend, "pflog") == 0) {
		pp = (struct pflog_params){
		    .interface =
		        d.cfg.pflog_interface ? d.cfg.pflog_interface : DEFAULT_PFLOG_INTERFACE,
		    .filter = d.cfg.pcap_filter,
		    .table =
		        {
		            .pf_table = d.cfg.table ? d.cfg.table : CONFIG_DEFAULT_TABLE,
		            .ipset4 = d.cfg.ipset ? d.cfg.ipset : CONFIG_DEFAULT_IPSET,
		            .ipset6 = d.cfg.ipset6 ? d.cfg.ipset6 : CONFIG_DEFAULT_IPSET6,
		            .v4_prefix = d.cfg.ipv4_prefix,
		            .v6_prefix = d.cfg.ipv6_prefix,
		            .default_timeout = d.cfg.whitelist_time,
		        },
		};
		d.pf = pflog_open(&pp, observe, &d, err, sizeof(err));
	} else {
		qp = (struct nfqueue_params){
		    .queue_num = (uint16_t)d.cfg.queue_num,
		    .maxlen = d.cfg.queue_maxlen,
		    .fail_open = d.cfg.fail_open,
		};
		d.q = nfqueue_open(&qp, judge, &d, err, sizeof(err));
	}
	if (!d.q && !d.pf) {
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
			        strerror(-r));
			teardown(&d);
			return 1;
		}
		d.pidfile_written = true;
	}
	if (setup_loop(&d, err, sizeof(err)) < 0) {
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
	if (event_base_dispatch(d.base) < 0) {
		log_msg(LOG_ERR, "event loop failed");
		d.exit_status = 1;
	}
	r = d.exit_status;
	teardown(&d);
	return r;
}
