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
#include "pflog.h"
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

static void sink_added(void *ctx, const struct wl_entry *e, bool renewed, const char *name,
                       mxa_time now)
{
	struct daemon *d = ctx;
	char a[ADDR_STRLEN], o[ADDR_STRLEN];

	if (d->pf) /* sent by daemon_table_sync() or at the end of the dispatch */
		pflog_add(d->pf, &e->addr, (uint32_t)(e->deadline - now));
	if (!line_allowed(d, LOG_INFO))
		return;
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

	if (!line_allowed(d, v == MX_ALLOW ? LOG_INFO : LOG_NOTICE))
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

void daemon_sink(struct daemon *d, struct mx_sink *out)
{
	*out = (struct mx_sink){
	    .ctx = d,
	    .added = sink_added,
	    .removed = sink_removed,
	    .resolve = sink_resolve,
	    .decided = sink_decided,
	    .unconfirmed = sink_unconfirmed,
	};
}

/* Table mode: sends the table changes the core asked for outside a capture dispatch. */
void daemon_table_sync(struct daemon *d)
{
	char err[CONFIG_ERRLEN];

	if (d->pf && pflog_commit(d->pf, err, sizeof(err)) < 0)
		log_msg(LOG_ERR, "%s", err);
}

void daemon_table_resync(struct daemon *d)
{
	const struct pflog_stats *s;
	uint64_t healed;
	char err[CONFIG_ERRLEN];

	if (!d->pf)
		return;
	s = pflog_stats(d->pf);
	healed = s->table_healed;
	if (pflog_resync(d->pf, daemon_now(), err, sizeof(err)) < 0)
		log_msg(LOG_ERR, "%s", err);
	else if (s->table_healed != healed)
		log_msg(LOG_WARNING, "table resync corrected=%" PRIu64, s->table_healed - healed);
}

void daemon_rdns_done(void *ctx, const mxa_addr *client, const char *name, const mxa_addr *addrs,
                      size_t n)
{
	struct daemon *d = ctx;

	mx_resolved(d->mx, client, name, addrs, n, daemon_now());
	daemon_table_sync(d);
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

	mx_rdns_failed(d->mx, client, why == RDNS_FAIL_TEMPORARY ? MX_RDNS_TEMPORARY : MX_RDNS_FINAL,
	               daemon_now());
	if (name)
		log_msg(LOG_INFO, "rdns addr=%s error=%s name=%s", addr_format(client, a), what,
		        name);
	else
		log_msg(LOG_INFO, "rdns addr=%s error=%s", addr_format(client, a), what);
}

void daemon_fill_params(struct mx_params *p, const struct config *c,
                        const struct config_servers *s)
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
