/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Offline replay: what mxallowd would have decided for a capture. The core
 * runs on the records' clock; expiries are printed at their deadline, not at
 * the next record.
 */
#include "replay.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "capture.h"

struct replay {
	struct mx *mx;
	FILE *out;
	mxa_time now;
	bool started;
	enum link_action logged; /* of the record being handled */
};

static const char *stamp(mxa_time t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, len, "%" PRId64, t);
	return buf;
}

static void on_added(void *ctx, const struct wl_entry *e, bool renewed, const char *name,
                     mxa_time now)
{
	struct replay *rp = ctx;
	char t[32], a[ADDR_STRLEN], o[ADDR_STRLEN];

	(void)name;
	fprintf(rp->out, "%s whitelist %s addr=%s reason=%s dst=%s expires-in=%" PRId64 "\n",
	        stamp(rp->now, t, sizeof(t)), renewed ? "renew" : "add", addr_format(&e->addr, a),
	        whitelist_reason_name(e->reason), addr_format(&e->origin, o), e->deadline - now);
}

static void on_removed(void *ctx, const struct wl_entry *e, enum mx_removal why)
{
	struct replay *rp = ctx;
	char t[32], a[ADDR_STRLEN];

	fprintf(rp->out, "%s whitelist del addr=%s reason=%s\n", stamp(rp->now, t, sizeof(t)),
	        addr_format(&e->addr, a),
	        why == MX_REMOVED_EXPIRED   ? "expired"
	        : why == MX_REMOVED_EVICTED ? "evicted"
	                                    : "deleted");
}

static void on_decided(void *ctx, const mxa_addr *src, const mxa_addr *dst, enum mx_verdict v)
{
	struct replay *rp = ctx;
	char t[32], s[ADDR_STRLEN], d[ADDR_STRLEN];

	fprintf(rp->out, "%s %s src=%s dst=%s reason=%s", stamp(rp->now, t, sizeof(t)),
	        v == MX_ALLOW ? "accept" : "drop", addr_format(src, s), addr_format(dst, d),
	        v == MX_ALLOW ? "whitelisted" : "not-whitelisted");
	/* What the firewall did, when the record says: a difference is worth seeing. */
	if (rp->logged != LINK_ACTION_UNKNOWN)
		fprintf(rp->out, " logged=%s", link_action_name(rp->logged));
	fputc('\n', rp->out);
}

/* Runs the expiries due up to @t, each at its own deadline. */
static void advance(struct replay *rp, mxa_time t)
{
	mxa_time next;

	while ((next = whitelist_next_deadline(mx_whitelist(rp->mx))) >= 0 && next <= t) {
		rp->now = next;
		mx_expire(rp->mx, next);
	}
	rp->now = t;
}

static void on_syn(void *ctx, const struct link_record *rec, int64_t sec, uint32_t usec)
{
	struct replay *rp = ctx;

	(void)usec;
	if (rec->dir == LINK_DIR_OUT)
		return; /* the server's own outgoing mail, skipped by the daemon too */
	/* Captures can step back in time (merged files): the core's clock does not. */
	if (!rp->started || sec > rp->now) {
		advance(rp, sec);
		rp->started = true;
	}
	rp->logged = rec->action;
	mx_syn(rp->mx, &rec->pkt.src, &rec->pkt.dst, rp->now);
}

int replay_file(const char *path, const char *filter, const struct mx_params *p, size_t capacity,
                FILE *out, char *err, size_t errlen)
{
	static const uint64_t key[2] = {0x6d78616c6c6f7764, 0x7265706c61790000};
	struct replay rp = {.out = out};
	const struct mx_sink sink = {
	    .ctx = &rp,
	    .added = on_added,
	    .removed = on_removed,
	    .decided = on_decided,
	};
	struct mx_params q = *p;
	struct capture *cap;
	const struct capture_stats *cs;
	const struct mx_stats *s;
	int r;

	q.rdns = false; /* offline: no DNS */
	cap = capture_open_file(path, filter, err, errlen);
	if (!cap)
		return -EINVAL;
	rp.mx = mx_new(&q, capacity, key, &sink, 0);
	if (!rp.mx) {
		snprintf(err, errlen, "%s: cannot create the whitelist", path);
		capture_close(cap);
		return -ENOMEM;
	}
	fprintf(out, "replay link=%s\n", link_kind_name(capture_link(cap)));
	do
		r = capture_dispatch(cap, 1000, on_syn, &rp, err, errlen);
	while (r > 0);
	cs = capture_stats(cap);
	s = mx_stats(rp.mx);
	fprintf(out,
	        "stats records=%" PRIu64 " syns=%" PRIu64 " ignored=%" PRIu64 " malformed=%" PRIu64
	        " dropped=%" PRIu64 " accepted=%" PRIu64 " fake-hits=%" PRIu64 " fake-only=%" PRIu64
	        " expired=%" PRIu64 " evicted=%" PRIu64 " entries=%zu\n",
	        cs->records, cs->syns, cs->ignored, cs->malformed, s->dropped, s->accepted,
	        s->fake_hits, s->fake_only, s->expired, s->evicted,
	        whitelist_size(mx_whitelist(rp.mx)));
	if (r < 0) {
		/* capture_dispatch() left libpcap's reason in @err. */
		char why[256];

		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, errlen, "%s: %s", path, why);
	}
	mx_free(rp.mx);
	capture_close(cap);
	return r < 0 ? r : 0;
}
