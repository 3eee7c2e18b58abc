/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the core asks of the daemon: log lines for its decisions and
 * whitelist changes, rDNS lookups, and (table mode) kernel table changes.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "daemon.h"
#include "log.h"
#include "nfqueue.h"
#include "pflog.h"
#include "redis.h"
#include "syncwire.h"
#include "resolve.h"

/*
 * Per-packet and per-entry lines share one limit: a spoofed flood to either
 * MX must not turn into a flood of syslog writes on the packet path.
 */
static bool line_allowed(struct daemon *d, int level)
{
	if (!log_enabled(level))
		return false; /* -q: no formatting for nothing */
	return !d->lines.per_second || ratelimit_allow(&d->lines, daemon_now());
}

/*
 * The longest timeout an ipset entry holds (2^31 ms). An entry renewed on use
 * can live longer (renew-time): the kernel gets this much, and the periodic
 * table resync, which reads the kernel's timeouts, arms it again before it
 * runs out. pf ignores timeouts.
 */
#define TABLE_TIMEOUT_MAX 2147483

static uint32_t table_timeout(const struct wl_entry *e, mxa_time now)
{
	mxa_time left = e->deadline - now;

	return left < 1 ? 1 : left > TABLE_TIMEOUT_MAX ? TABLE_TIMEOUT_MAX : (uint32_t)left;
}

static void sink_added(void *ctx, const struct wl_entry *e, bool renewed, const char *name,
                       mxa_time now)
{
	struct daemon *d = ctx;
	char a[ADDR_STRLEN], o[ADDR_STRLEN];

	if (d->table) /* sent by daemon_table_sync() or at the end of the dispatch */
		pflog_add(d->table, &e->addr, table_timeout(e, now));
	d->wl_changes++; /* the state file is behind */
	if (d->redis)    /* peers' entries are not passed on (redis.c checks) */
		redis_changed(d->redis, e, false);
	if (d->restoring)
		return; /* the state file's entries: one line for all of them */
	if (!line_allowed(d, LOG_INFO))
		return;
	/* Renewal on use (mx.h, renew_time): the core reports it rarely, see there. */
	if (renewed && e->used && e->last_use == now)
		log_msg(LOG_INFO,
		        "whitelist renew addr=%s reason=%s use=accepted "
		        "expires-in=%" PRId64,
		        addr_format(&e->addr, a), whitelist_reason_name(e->reason),
		        e->deadline - now);
	else if (e->reason == WL_REASON_PEER)
		log_msg(LOG_INFO,
		        "whitelist %s addr=%s reason=peer origin=peer:%s expires-in=%" PRId64
		        " lag-us=%" PRId64,
		        renewed ? "renew" : "add", addr_format(&e->addr, a),
		        syncwire_origin_node(&e->origin, o), e->deadline - now,
		        redis_applying_lag_us(d->redis));
	else if (e->reason == WL_REASON_RDNS_SIBLING || e->reason == WL_REASON_RDNS_DOMAIN ||
	         e->reason == WL_REASON_TRUSTED)
		log_msg(LOG_INFO,
		        "whitelist %s addr=%s reason=%s origin=%s name=%s expires-in=%" PRId64,
		        renewed ? "renew" : "add", addr_format(&e->addr, a),
		        whitelist_reason_name(e->reason), addr_format(&e->origin, o),
		        name ? name : "-", e->deadline - now);
	else if (e->reason == WL_REASON_MANUAL) /* mxallowctl add: no origin */
		log_msg(LOG_INFO, "whitelist %s addr=%s reason=manual expires-in=%" PRId64,
		        renewed ? "renew" : "add", addr_format(&e->addr, a), e->deadline - now);
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

	if (d->table)
		pflog_del(d->table, &e->addr);
	if (why != MX_REMOVED_EXPIRED)
		d->wl_changes++; /* expired entries need no save: a load drops them */
	/* Expiry is Redis's own (TTL), an eviction this host's: only deletions are shared. */
	if (d->redis && why == MX_REMOVED_DELETED)
		redis_changed(d->redis, e, true);
	if (!line_allowed(d, LOG_INFO))
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
			        r == -EBUSY    ? "too-many-lookups"
			        : r == -EAGAIN ? "rate-limited"
			                       : strerror(-r),
			        d->rdns_skipped);
	}
}

static void sink_decided(void *ctx, const mxa_addr *src, const mxa_addr *dst, enum mx_verdict v)
{
	struct daemon *d = ctx;
	char s[ADDR_STRLEN], t[ADDR_STRLEN];

	if (v == MX_ALLOW)
		d->wl_changes++; /* a use: the entry's last use moved */
	if (!line_allowed(d, v == MX_ALLOW ? LOG_INFO : LOG_NOTICE))
		return;
	if (v == MX_ALLOW)
		log_msg(LOG_INFO, "accept src=%s dst=%s reason=whitelisted", addr_format(src, s),
		        addr_format(dst, t));
	else
		log_msg(LOG_NOTICE, "drop src=%s dst=%s reason=not-whitelisted",
		        addr_format(src, s), addr_format(dst, t));
}

/* Allow lists: no whitelist entry involved (nothing to save), only the line. */
static void sink_accepted_static(void *ctx, const mxa_addr *src, const mxa_addr *dst,
                                 const struct netset_net *net)
{
	struct daemon *d = ctx;
	char s[ADDR_STRLEN], t[ADDR_STRLEN], n[NETSET_STRLEN];

	if (!line_allowed(d, LOG_INFO))
		return;
	log_msg(LOG_INFO, "accept src=%s dst=%s reason=static net=%s", addr_format(src, s),
	        addr_format(dst, t), netset_format(net, n));
}

static void sink_unconfirmed(void *ctx, const mxa_addr *client, const char *name)
{
	char a[ADDR_STRLEN];

	(void)ctx;
	log_msg(LOG_INFO, "rdns addr=%s name=%s not-confirmed", addr_format(client, a), name);
}

/* A stranger's check: the same lookup as a fake-MX client's, under the same rate limit. */
static int sink_check(void *ctx, const mxa_addr *client)
{
	struct daemon *d = ctx;
	int r;

	if (!d->rdns)
		return -ENOSYS;
	r = rdns_lookup(d->rdns, client);
	if (r < 0)
		d->rdns_skipped++;
	return r;
}

static const char *hold_end_word(enum mx_hold_end why)
{
	switch (why) {
	case MX_HOLD_RELEASED:
		return "whitelisted";
	case MX_HOLD_REFUSED:
		return "not-trusted";
	case MX_HOLD_EXPIRED:
		return "hold-expired";
	case MX_HOLD_FLUSHED:
		return "hold-flushed";
	}
	return "unknown";
}

/* The verdict of a held SYN: sent with the next flush (daemon_hold_sync() or the dispatch). */
static void sink_verdict(void *ctx, uint64_t token, const mxa_addr *src, const mxa_addr *dst,
                         enum mx_verdict v, enum mx_hold_end why, uint64_t since_ms)
{
	struct daemon *d = ctx;
	char s[ADDR_STRLEN], t[ADDR_STRLEN];
	uint64_t now = daemon_now_ms();

	if (d->q) {
		(void)nfqueue_verdict(d->q, (uint32_t)token, v == MX_ALLOW);
		d->verdicts_buffered = true;
	}
	if (!line_allowed(d, v == MX_ALLOW ? LOG_INFO : LOG_NOTICE))
		return;
	log_msg(v == MX_ALLOW ? LOG_INFO : LOG_NOTICE,
	        "%s src=%s dst=%s reason=%s held-ms=%" PRIu64, v == MX_ALLOW ? "accept" : "drop",
	        addr_format(src, s), addr_format(dst, t), hold_end_word(why),
	        now > since_ms ? now - since_ms : 0);
}

/* @name comes from rdns, checked there (text_is_hostname()): safe in a log line. */
static void sink_refused(void *ctx, const mxa_addr *client, const char *name, enum mx_refusal why)
{
	struct daemon *d = ctx;
	char a[ADDR_STRLEN];

	if (!line_allowed(d, LOG_INFO))
		return;
	log_msg(LOG_INFO, "trust refuse addr=%s name=%s reason=%s", addr_format(client, a),
	        name ? name : "-", mx_refusal_name(why));
}

static void sink_member(void *ctx, const mxa_addr *client, const char *name, const char *domain,
                        enum trust_name why)
{
	struct daemon *d = ctx;
	char a[ADDR_STRLEN];

	if (!line_allowed(d, LOG_INFO))
		return;
	if (domain)
		log_msg(LOG_INFO, "trust member addr=%s name=%s domain=%s", addr_format(client, a),
		        name, domain);
	else
		log_msg(LOG_INFO, "trust member-refused addr=%s name=%s reason=%s",
		        addr_format(client, a), name, trust_name_word(why));
}

/*
 * Before an entry expires: the kernel element's deadline, which the ruleset's
 * renewal rule may have moved on use (hybrid mode: the kernel accepts set
 * members without the daemon). One netlink question (nft); -1 without I/O
 * when the table cannot tell (no table, ipset, pf). A failed question counts
 * as no element: the entry expires as it would have.
 */
static mxa_time sink_table_deadline(void *ctx, const struct wl_entry *e, mxa_time now)
{
	struct daemon *d = ctx;
	uint32_t left;
	int r;

	if (!d->table)
		return -1;
	r = pflog_time_left(d->table, &e->addr, &left);
	if (r == -EOPNOTSUPP)
		return -1;
	return r > 0 ? now + left : 0;
}

void daemon_sink(struct daemon *d, struct mx_sink *out)
{
	*out = (struct mx_sink){
	    .ctx = d,
	    .added = sink_added,
	    .removed = sink_removed,
	    .resolve = sink_resolve,
	    .decided = sink_decided,
	    .unconfirmed = sink_unconfirmed,
	    .check = sink_check,
	    .verdict = sink_verdict,
	    .refused = sink_refused,
	    .member = sink_member,
	    .accepted_static = sink_accepted_static,
	    .table_deadline = sink_table_deadline,
	};
}

/* Table mode: sends the table changes the core asked for outside a capture dispatch. */
/*
 * A table that refuses changes (a set swapped for one without timeout
 * support, a full set) fails at every commit, and commits follow each
 * capture wake-up: one line at once, then at most one per interval, saying
 * how many were not logged. Resyncs back off (1 s, 2 s, 4 s ...) and have a
 * limit of their own, so that their line, which names the fix, is not
 * crowded out by the commits' lines.
 */
#define TABLE_ERROR_INTERVAL 60 /* seconds */

static void table_error(struct table_errlog *l, const char *err)
{
	mxa_time now = daemon_now();

	if (l->logged && now - l->at < TABLE_ERROR_INTERVAL) {
		l->suppressed++;
		return;
	}
	if (l->suppressed)
		log_msg(LOG_ERR, "%s (%" PRIu64 " more in the last %" PRId64 " s not logged)", err,
		        l->suppressed, (int64_t)(now - l->at));
	else
		log_msg(LOG_ERR, "%s", err);
	*l = (struct table_errlog){.at = now, .logged = true};
}

void daemon_table_error(struct daemon *d, const char *err)
{
	table_error(&d->table_commit_errs, err);
}

void daemon_table_sync(struct daemon *d)
{
	char err[CONFIG_ERRLEN];

	if (d->table && pflog_commit(d->table, err, sizeof(err)) < 0)
		daemon_table_error(d, err);
}

int daemon_table_static(struct daemon *d, const struct netset *s, char *err, size_t errlen)
{
	int r;

	if (!d->table)
		return 0;
	r = pflog_set_static(d->table, s, err, errlen);
	return r < 0 ? r : 0;
}

void daemon_table_tick(struct daemon *d)
{
	char err[CONFIG_ERRLEN];

	if (d->table && pflog_tick(d->table, err, sizeof(err)) < 0)
		daemon_table_error(d, err);
}

void daemon_table_resync(struct daemon *d)
{
	const struct pflog_stats *s;
	uint64_t healed;
	char err[CONFIG_ERRLEN];
	int r;

	if (!d->table)
		return;
	s = pflog_stats(d->table);
	healed = s->table_healed;
	d->table_resyncing = true;
	r = pflog_resync(d->table, daemon_now(), err, sizeof(err));
	d->table_resyncing = false;
	if (r < 0) {
		table_error(&d->table_resync_errs, err);
		return;
	}
	if (d->table_commit_errs.logged || d->table_resync_errs.logged) {
		log_msg(LOG_NOTICE,
		        "table resync: the kernel table takes changes again (%" PRIu64
		        " error lines were not logged)",
		        d->table_commit_errs.suppressed + d->table_resync_errs.suppressed);
		d->table_commit_errs = (struct table_errlog){0};
		d->table_resync_errs = (struct table_errlog){0};
	}
	if (s->table_healed != healed)
		log_msg(LOG_WARNING, "table resync corrected=%" PRIu64, s->table_healed - healed);
}

void daemon_rdns_done(void *ctx, const mxa_addr *client, const char *name, const mxa_addr *addrs,
                      size_t n)
{
	struct daemon *d = ctx;

	mx_resolved(d->mx, client, name, addrs, n, daemon_now());
	daemon_table_sync(d);
	daemon_hold_sync(d);
}

void daemon_rdns_error(void *ctx, const mxa_addr *client, const char *what)
{
	char a[ADDR_STRLEN];

	(void)ctx;
	log_msg(LOG_INFO, "rdns addr=%s error=%s", addr_format(client, a), what);
}

/* @name arrives escaped (text_escape()): safe in a log line. */
void daemon_rdns_failed(void *ctx, const mxa_addr *client, enum rdns_failure why, const char *what,
                        const char *name)
{
	struct daemon *d = ctx;
	char a[ADDR_STRLEN];

	mx_rdns_failed(d->mx, client,
	               why == RDNS_FAIL_TEMPORARY ? MX_RDNS_TEMPORARY : MX_RDNS_FINAL,
	               daemon_now());
	daemon_table_sync(d);
	daemon_hold_sync(d);
	if (name)
		log_msg(LOG_INFO, "rdns addr=%s error=%s name=%s", addr_format(client, a), what,
		        name);
	else
		log_msg(LOG_INFO, "rdns addr=%s error=%s", addr_format(client, a), what);
}

void daemon_fill_params(struct mx_params *p, const struct config *c, const struct config_servers *s)
{
	p->fake = s->fake;
	p->n_fake = s->n_fake;
	p->real = s->real;
	p->n_real = s->n_real;
	p->whitelist_time = c->whitelist_time;
	p->renew_time = c->renew_time;
	p->rdns = !c->no_rdns;
	p->hold_strangers = c->redis != NULL; /* a peer's entry may come within hold-time */
	p->rdns_max = c->rdns_max;
	p->v4_prefix = c->ipv4_prefix;
	p->v6_prefix = c->ipv6_prefix;
}
