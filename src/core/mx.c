/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "mx.h"
#include "pending.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct mx {
	struct mx_params p; /* p.fake and p.real point into servers */
	mxa_addr *servers;
	struct whitelist *wl;
	struct whitelist *neg; /* rDNS negative cache: same keys, deadline = end of the wait */
	mxa_time evicted_at;   /* time of the last eviction */
	struct mx_sink sink;
	struct mx_stats stats;
	struct trust *trust;    /* trusted sending domains and their fake-MX members */
	struct pending *hold;   /* held verdicts of strangers */
	struct netset *statics; /* allow lists: accepted before the whitelist is asked */
	mxa_time ask_at;        /* the second of ask_left (sink->table_deadline questions) */
	uint32_t ask_left;
};

static int params_check(const struct mx_params *p)
{
	if (p->whitelist_time == 0 || p->v4_prefix > 32 || p->v6_prefix > 128)
		return -EINVAL;
	for (size_t i = 0; i < p->n_fake; i++)
		for (size_t j = 0; j < p->n_real; j++)
			if (addr_equal(&p->fake[i], &p->real[j]))
				return -EINVAL;
	return 0;
}

int mx_set_params(struct mx *mx, const struct mx_params *p)
{
	size_t n = p->n_fake + p->n_real;
	mxa_addr *servers;

	if (params_check(p) < 0)
		return -EINVAL;
	servers = malloc((n ? n : 1) * sizeof(*servers));
	if (!servers)
		return -ENOMEM;

	if (p->n_fake)
		memcpy(servers, p->fake, p->n_fake * sizeof(*servers));
	if (p->n_real)
		memcpy(servers + p->n_fake, p->real, p->n_real * sizeof(*servers));
	free(mx->servers);
	mx->servers = servers;
	mx->p = *p;
	mx->p.fake = servers;
	mx->p.real = servers + p->n_fake;
	return 0;
}

struct mx *mx_new(const struct mx_params *p, size_t capacity, const uint64_t key[2],
                  const struct mx_sink *sink, mxa_time now)
{
	struct mx *mx = calloc(1, sizeof(*mx));

	if (!mx)
		return NULL;
	if (sink)
		mx->sink = *sink;
	mx->evicted_at = INT64_MIN;
	mx->wl = whitelist_new(capacity, key, now);
	mx->neg = whitelist_new(MX_RDNS_NEG_MAX, key, now);
	mx->trust = trust_new(TRUST_MEMBERS_MAX, key);
	mx->hold = pending_new(0, 0, key);
	if (!mx->wl || !mx->neg || !mx->trust || !mx->hold || mx_set_params(mx, p) < 0)
		return mx_free(mx);
	return mx;
}

struct mx *mx_free(struct mx *mx)
{
	if (mx) {
		whitelist_free(mx->wl);
		whitelist_free(mx->neg);
		trust_free(mx->trust);
		pending_free(mx->hold);
		netset_free(mx->statics);
		free(mx->servers);
		free(mx);
	}
	return NULL;
}

enum mx_class mx_classify(const struct mx *mx, const mxa_addr *dst)
{
	for (size_t i = 0; i < mx->p.n_fake; i++)
		if (addr_equal(&mx->p.fake[i], dst))
			return MX_FAKE;
	for (size_t i = 0; i < mx->p.n_real; i++)
		if (addr_equal(&mx->p.real[i], dst))
			return MX_REAL;
	return MX_OTHER;
}

static void key_of(const struct mx *mx, mxa_addr *key, const mxa_addr *a)
{
	addr_mask(key, a, mx->p.v4_prefix, mx->p.v6_prefix);
}

static void count_end(struct mx *mx, const struct wl_entry *e, enum mx_removal why)
{
	if (why == MX_REMOVED_EXPIRED)
		mx->stats.expired++;
	else if (why == MX_REMOVED_EVICTED)
		mx->stats.evicted++;
	if (e->reason == WL_REASON_FAKE_MX && !e->used)
		mx->stats.fake_only++;
	if (mx->sink.removed)
		mx->sink.removed(mx->sink.ctx, e, why);
}

static int table_ask(struct mx *mx, const struct wl_entry *e, mxa_time now);

mxa_time mx_expire(struct mx *mx, mxa_time now)
{
	struct wl_entry e;
	size_t n = 0;

	/*
	 * Bounded work per call: entries past their deadline already count as absent in
	 * every lookup, so the rest can go at the next packet or tick.
	 */
	while (n < MX_EXPIRE_MAX && whitelist_pop_expired(mx->wl, now, &e)) {
		int r = table_ask(mx, &e, now);

		n++;
		if (r < 0) {
			/* No questions left this second: back in (its slot is free), still due. */
			(void)whitelist_put(mx->wl, &e, NULL);
			break;
		}
		if (r == 0)
			count_end(mx, &e, MX_REMOVED_EXPIRED);
	}
	for (n = 0; n < MX_EXPIRE_MAX && whitelist_pop_expired(mx->neg, now, NULL); n++)
		;
	return whitelist_next_deadline(mx->wl);
}

static void hold_release(struct mx *mx, const mxa_addr *key, mxa_time now);

/* Inserts or updates @e; reports eviction and the addition. */
static int put(struct mx *mx, const struct wl_entry *e, bool renewed, const char *name,
               mxa_time now)
{
	struct wl_entry victim;
	int r = whitelist_put(mx->wl, e, &victim);

	if (r < 0)
		return r;
	if (r == WL_PUT_EVICTED) {
		mx->evicted_at = now;
		count_end(mx, &victim, MX_REMOVED_EVICTED);
	}
	if (mx->sink.added)
		mx->sink.added(mx->sink.ctx, e, renewed, name, now);
	hold_release(mx, &e->addr, now); /* whatever whitelisted it: its held packets go in */
	return r;
}

/* Asks the sink to look @client up, unless there is no point now. */
static void ask_resolve(struct mx *mx, const mxa_addr *client, const mxa_addr *key, bool again,
                        mxa_time now)
{
	if (whitelist_lookup(mx->neg, key, now, NULL)) {
		mx->stats.rdns_negcache_hits++;
		return;
	}
	/* Evictions mean a full table: most likely a flood, whose sources need no lookup. */
	if (mx->evicted_at >= now - 1) {
		mx->stats.rdns_skipped_evicting++;
		return;
	}
	if (again)
		mx->stats.rdns_reasked++;
	mx->sink.resolve(mx->sink.ctx, client);
}

static void fake_hit(struct mx *mx, const mxa_addr *src, const mxa_addr *dst, mxa_time now)
{
	struct wl_entry old, e = {0};
	bool existed, again;

	mx->stats.fake_hits++;
	key_of(mx, &e.addr, src);
	existed = whitelist_lookup(mx->wl, &e.addr, now, &old);
	again = existed && old.reason == WL_REASON_FAKE_MX;
	e.origin = *dst;
	e.deadline = now + mx->p.whitelist_time;
	e.reason = WL_REASON_FAKE_MX;
	/* A fake-MX hit never shortens an entry (one renewed on use, a manual one with its
	 * ttl, a peer's), and a manual entry stays the administrator's. */
	if (existed && old.deadline > e.deadline)
		e.deadline = old.deadline;
	if (existed && old.reason == WL_REASON_MANUAL) {
		e.reason = WL_REASON_MANUAL;
		e.origin = old.origin;
	}
	e.rdns_done = again && old.rdns_done;
	if (put(mx, &e, again, NULL, now) < 0)
		return;
	/* Once per fake-MX entry whose lookup ended, again on each hit while it has not. */
	if (mx->p.rdns && !e.rdns_done && mx->sink.resolve)
		ask_resolve(mx, src, &e.addr, again, now);
}

/* A renewal is reported when the deadline crosses a multiple of this (or of renew_time / 2). */
#define MX_RENEW_REPORT_STEP 3600

static int64_t report_step(const struct mx *mx)
{
	int64_t half = mx->p.renew_time / 2;

	return half < 1 ? 1 : half < MX_RENEW_REPORT_STEP ? half : MX_RENEW_REPORT_STEP;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b < 0);
}

/*
 * Whether a renewal from deadline @before to @after is reported. Each report
 * gives the sinks the deadline of the moment, and one goes out whenever the
 * deadline enters the next step: so the last reported deadline lies in the
 * same step as the real one, less than a step behind it, with no memory of
 * its own per entry (a slot has no room left: whitelist.c).
 */
static bool report_due(const struct mx *mx, mxa_time before, mxa_time after)
{
	int64_t step = report_step(mx);

	return floor_div(after, step) != floor_div(before, step);
}

/*
 * Renewal on use: an accepted real-MX connection of the live entry for @key
 * records the use (a used entry is evicted only after every unused one) and,
 * with renew_time, keeps the entry live at least renew_time from @now. The
 * sink hears of it (log line, kernel table, Redis) on the entry's first use
 * and then when the deadline crosses a step (report_due()): a busy sender's
 * stream of connections is not a stream of reports, and the sinks are never
 * a step behind. False when the entry is absent or expired.
 */
static bool renew_on_use(struct mx *mx, const mxa_addr *key, mxa_time now)
{
	uint32_t r = mx->p.renew_time;
	struct wl_entry before, e;
	int64_t moved;

	/* Looked up twice: the second lookup finds the cache lines the first one fetched. */
	if (!whitelist_lookup(mx->wl, key, now, &before))
		return false;
	/* A manual entry keeps the lifetime the administrator gave it: its use is recorded only. */
	moved = whitelist_use(mx->wl, key, now,
	                      r && before.reason != WL_REASON_MANUAL ? now + r : 0, &e);
	if (moved > 0 && (!before.used || report_due(mx, before.deadline, e.deadline)) &&
	    mx->sink.added)
		mx->sink.added(mx->sink.ctx, &e, true, NULL, now);
	return true;
}

/*
 * A renewal the kernel table made by itself (mx.h, MX_TABLE_ASK_MAX): the
 * deadline entry @e takes from the kernel's @k, or 0 when it does not follow.
 */
static mxa_time table_deadline_of(const struct mx *mx, const struct wl_entry *e, mxa_time k,
                                  mxa_time now)
{
	if (!mx->p.renew_time || e->reason == WL_REASON_MANUAL)
		return 0;
	if (k > now + mx->p.renew_time) /* no renewal rule gives more */
		k = now + mx->p.renew_time;
	return k > now && k > e->deadline + MX_TABLE_SLACK ? k : 0;
}

/*
 * @e follows the kernel's @deadline (table_deadline_of()) as after a use at
 * @now. @e is live in the whitelist, or (@taken_out) was taken out of it,
 * past its deadline, and goes back in. False when that failed.
 */
static bool table_follow(struct mx *mx, const struct wl_entry *e, mxa_time deadline, mxa_time now,
                         bool taken_out)
{
	struct wl_entry after;

	if (taken_out) {
		after = *e;
		after.deadline = deadline;
		after.used = true;
		after.last_use = now;
		/* Cannot fail nor evict: the slot it left is free. */
		if (whitelist_put(mx->wl, &after, NULL) < 0)
			return false;
	} else if (whitelist_use(mx->wl, &e->addr, now, deadline, &after) <= 0) {
		return false;
	}
	mx->stats.table_renewed++;
	/* Past its deadline, the sinks with expiry of their own (Redis) may have dropped it. */
	if ((!e->used || e->deadline <= now || report_due(mx, e->deadline, after.deadline)) &&
	    mx->sink.added)
		mx->sink.added(mx->sink.ctx, &after, true, NULL, now);
	hold_release(mx, &e->addr, now);
	return true;
}

/*
 * Before the due entry @e (taken out of the whitelist) expires: did the kernel
 * renew it? 1 when it follows the kernel (back in), 0 to expire it, -1 when
 * the questions of this second are used up (put it back and wait).
 */
static int table_ask(struct mx *mx, const struct wl_entry *e, mxa_time now)
{
	mxa_time k;

	if (!mx->sink.table_deadline || !mx->p.renew_time || e->reason == WL_REASON_MANUAL)
		return 0;
	if (mx->ask_at != now) {
		mx->ask_at = now;
		mx->ask_left = MX_TABLE_ASK_MAX;
	}
	if (!mx->ask_left)
		return -1;
	k = mx->sink.table_deadline(mx->sink.ctx, e, now);
	if (k < 0)
		return 0; /* no table to ask: nothing spent */
	mx->ask_left--;
	k = table_deadline_of(mx, e, k, now);
	return k && table_follow(mx, e, k, now, true) ? 1 : 0;
}

int mx_table_renewed(struct mx *mx, const mxa_addr *key, mxa_time deadline, mxa_time now)
{
	struct wl_entry e;
	bool due;

	if (!whitelist_get(mx->wl, key, &e))
		return 0;
	deadline = table_deadline_of(mx, &e, deadline, now);
	if (!deadline)
		return 0;
	/* Due but not removed yet (expiry is bounded): taken out and put back renewed. */
	due = e.deadline <= now;
	if (due)
		whitelist_del(mx->wl, key, NULL);
	return table_follow(mx, &e, deadline, now, due) ? 1 : 0;
}

/* Allow lists: a client of a static network is accepted at once (counted, reported). */
static bool static_accept(struct mx *mx, const mxa_addr *src, const mxa_addr *dst)
{
	const struct netset_net *net;

	if (!netset_lookup(mx->statics, src, &net))
		return false;
	mx->stats.accepted++;
	mx->stats.static_hits++;
	if (mx->sink.accepted_static)
		mx->sink.accepted_static(mx->sink.ctx, src, dst, net);
	else if (mx->sink.decided)
		mx->sink.decided(mx->sink.ctx, src, dst, MX_ALLOW);
	return true;
}

static enum mx_verdict real_attempt(struct mx *mx, const mxa_addr *src, const mxa_addr *dst,
                                    mxa_time now)
{
	mxa_addr key;
	enum mx_verdict v;

	if (static_accept(mx, src, dst))
		return MX_ALLOW;
	key_of(mx, &key, src);
	if (renew_on_use(mx, &key, now)) {
		mx->stats.accepted++;
		v = MX_ALLOW;
	} else {
		mx->stats.dropped++;
		v = MX_DROP;
	}
	if (mx->sink.decided)
		mx->sink.decided(mx->sink.ctx, src, dst, v);
	return v;
}

enum mx_verdict mx_syn(struct mx *mx, const mxa_addr *src, const mxa_addr *dst, mxa_time now)
{
	mx_expire(mx, now);
	switch (mx_classify(mx, dst)) {
	case MX_FAKE:
		fake_hit(mx, src, dst, now);
		return MX_ALLOW;
	case MX_REAL:
		return real_attempt(mx, src, dst, now);
	case MX_OTHER:
		break;
	}
	return MX_ALLOW;
}

void mx_observe(struct mx *mx, const mxa_addr *src, const mxa_addr *dst, enum mx_observed what,
                mxa_time now)
{
	mxa_addr key;
	enum mx_verdict v = what == MX_OBSERVED_PASS ? MX_ALLOW : MX_DROP;

	mx_expire(mx, now);
	switch (mx_classify(mx, dst)) {
	case MX_FAKE:
		fake_hit(mx, src, dst, now);
		break;
	case MX_REAL:
		if (v == MX_ALLOW && static_accept(mx, src, dst))
			break; /* the kernel's static set let it in */
		key_of(mx, &key, src);
		if (v == MX_ALLOW) {
			mx->stats.accepted++;
			renew_on_use(mx, &key, now); /* the kernel's own rule renewed it too */
		} else {
			mx->stats.dropped++;
		}
		if (mx->sink.decided)
			mx->sink.decided(mx->sink.ctx, src, dst, v);
		break;
	case MX_OTHER:
		break;
	}
}

static void remember_negative(struct mx *mx, const mxa_addr *key, mxa_time now);
static size_t stranger_resolved(struct mx *mx, const mxa_addr *client, const mxa_addr *key,
                                const char *name, bool confirmed, mxa_time now);
static void stranger_refused(struct mx *mx, const mxa_addr *client, const mxa_addr *key,
                             const char *name, enum mx_refusal why, mxa_time now);
static void member_learn(struct mx *mx, const mxa_addr *client, const mxa_addr *key,
                         const char *name, mxa_time deadline, mxa_time now);

static void remember_negative(struct mx *mx, const mxa_addr *key, mxa_time now)
{
	struct wl_entry e = {
	    .addr = *key, .deadline = now + MX_RDNS_NEG_TTL, .reason = WL_REASON_FAKE_MX};

	/* When full, the entry nearest its end goes; failing to allocate only loses a hint. */
	whitelist_put(mx->neg, &e, NULL);
}

void mx_rdns_failed(struct mx *mx, const mxa_addr *client, enum mx_rdns_failure why, mxa_time now)
{
	mxa_addr key;

	key_of(mx, &key, client);
	if (why == MX_RDNS_TEMPORARY) {
		/* The entry's lookup stays open: the next fake-MX hit asks again. */
		mx->stats.rdns_failed++;
		stranger_refused(mx, client, &key, NULL, MX_REFUSED_FAILED, now);
		return;
	}
	mx->stats.rdns_no_name++;
	remember_negative(mx, &key, now);
	whitelist_set_rdns_done(mx->wl, &key, now);
	stranger_refused(mx, client, &key, NULL, MX_REFUSED_NO_NAME, now);
}

size_t mx_resolved(struct mx *mx, const mxa_addr *client, const char *name, const mxa_addr *addrs,
                   size_t n, mxa_time now)
{
	struct wl_entry ce, old, e = {0};
	mxa_addr ckey;
	bool confirmed = false;
	size_t added = 0;
	mxa_time sdeadline;

	mx_expire(mx, now);
	key_of(mx, &ckey, client);
	for (size_t i = 0; i < n && !confirmed; i++)
		confirmed = addr_equal(&addrs[i], client);
	if (!confirmed)
		remember_negative(mx, &ckey, now);
	if (!whitelist_lookup(mx->wl, &ckey, now, &ce))
		/* A stranger (or an entry that ended while we were resolving). */
		return stranger_resolved(mx, client, &ckey, name, confirmed, now);
	whitelist_set_rdns_done(mx->wl, &ckey, now);
	if (!confirmed) {
		mx->stats.rdns_unconfirmed++;
		if (mx->sink.unconfirmed)
			mx->sink.unconfirmed(mx->sink.ctx, client, name);
		return 0;
	}
	if (ce.reason == WL_REASON_FAKE_MX)
		member_learn(mx, client, &ckey, name, ce.deadline, now);
	/*
	 * Siblings take the client's deadline, but at most whitelist-time: a client renewed on
	 * use earned its lifetime by its own connections, its siblings have not yet.
	 */
	sdeadline =
	    ce.deadline < now + mx->p.whitelist_time ? ce.deadline : now + mx->p.whitelist_time;
	for (size_t i = 0; i < n && added < mx->p.rdns_max; i++) {
		bool existed;

		key_of(mx, &e.addr, &addrs[i]);
		if (addr_equal(&e.addr, &ckey))
			continue;
		existed = whitelist_lookup(mx->wl, &e.addr, now, &old);
		if (existed && (old.reason != WL_REASON_RDNS_SIBLING || old.deadline >= sdeadline))
			continue; /* whitelisted in its own right, or already as long */
		e.origin = *client;
		e.deadline = sdeadline;
		e.reason = WL_REASON_RDNS_SIBLING;
		if (put(mx, &e, existed, name, now) < 0)
			break;
		if (!existed)
			mx->stats.rdns_siblings++;
		added++;
	}
	return added;
}

const struct mx_stats *mx_stats(const struct mx *mx)
{
	return &mx->stats;
}

const struct whitelist *mx_whitelist(const struct mx *mx)
{
	return mx->wl;
}

void mx_set_static(struct mx *mx, struct netset *set)
{
	netset_free(mx->statics);
	mx->statics = set;
}

const struct netset *mx_static(const struct mx *mx)
{
	return mx->statics;
}

/* ------------------------------------------------------------------ held verdicts */

const char *mx_refusal_name(enum mx_refusal why)
{
	switch (why) {
	case MX_REFUSED_NO_NAME:
		return "no-name";
	case MX_REFUSED_FAILED:
		return "lookup-failed";
	case MX_REFUSED_UNCONFIRMED:
		return "not-confirmed";
	case MX_REFUSED_GENERIC:
		return "generic-name";
	case MX_REFUSED_EXCLUDED:
		return "excluded";
	case MX_REFUSED_NO_DOMAIN:
		return "no-registrable-domain";
	case MX_REFUSED_NO_MEMBER:
		return "no-member";
	}
	return "unknown";
}

struct hold_out {
	struct mx *mx;
	enum mx_verdict v;
	enum mx_hold_end why;
	mxa_time now;
};

/* A packet leaves the table: count it and hand its verdict to the sink. */
static void hold_out(void *ctx, const struct pending_packet *p)
{
	struct hold_out *h = ctx;
	struct mx *mx = h->mx;

	if (h->v == MX_ALLOW) {
		mx->stats.accepted++;
		mx->stats.hold_accepted++;
		renew_on_use(mx, &p->key, h->now); /* an accepted connection like any other */
	} else {
		mx->stats.dropped++;
		if (h->why == MX_HOLD_EXPIRED)
			mx->stats.hold_expired++;
		else if (h->why == MX_HOLD_REFUSED)
			mx->stats.hold_refused++;
	}
	if (mx->sink.verdict)
		mx->sink.verdict(mx->sink.ctx, p->token, &p->src, &p->dst, h->v, h->why, p->since);
}

static void hold_sync(struct mx *mx)
{
	mx->stats.held = pending_count(mx->hold);
	if (mx->stats.held > mx->stats.held_peak)
		mx->stats.held_peak = mx->stats.held;
}

static void hold_release(struct mx *mx, const mxa_addr *key, mxa_time now)
{
	struct hold_out h = {mx, MX_ALLOW, MX_HOLD_RELEASED, now};

	if (pending_release(mx->hold, key, hold_out, &h))
		hold_sync(mx);
}

static void hold_refuse(struct mx *mx, const mxa_addr *key, mxa_time now)
{
	struct hold_out h = {mx, MX_DROP, MX_HOLD_REFUSED, now};

	if (pending_release(mx->hold, key, hold_out, &h))
		hold_sync(mx);
}

int mx_set_hold(struct mx *mx, size_t max, uint32_t hold_ms, uint64_t now_ms)
{
	struct hold_out h = {mx, MX_DROP, MX_HOLD_FLUSHED, (mxa_time)(now_ms / 1000)};
	int r;

	if (hold_ms == 0)
		max = 0;
	r = pending_set(mx->hold, max, hold_ms, hold_out, &h);
	hold_sync(mx);
	return r;
}

int64_t mx_hold_expire(struct mx *mx, uint64_t now_ms)
{
	struct hold_out h = {mx, MX_DROP, MX_HOLD_EXPIRED, (mxa_time)(now_ms / 1000)};

	if (pending_expire(mx->hold, now_ms, hold_out, &h))
		hold_sync(mx);
	return pending_next_deadline(mx->hold);
}

int64_t mx_hold_next(const struct mx *mx)
{
	return pending_next_deadline(mx->hold);
}

size_t mx_hold_flush(struct mx *mx, uint64_t now_ms)
{
	struct hold_out h = {mx, MX_DROP, MX_HOLD_FLUSHED, (mxa_time)(now_ms / 1000)};
	size_t n = pending_flush(mx->hold, hold_out, &h);

	hold_sync(mx);
	return n;
}

int mx_set_trust(struct mx *mx, const struct trust_params *tp)
{
	int r = trust_set_params(mx->trust, tp);

	mx->stats.trust_members = trust_member_count(mx->trust);
	return r;
}

const struct trust *mx_trust(const struct mx *mx)
{
	return mx->trust;
}

/* ------------------------------------------------------------------ strangers */

/*
 * Could a lookup of a stranger let it in? With domain trust: when some
 * domain has a fake-MX member (members come from the fake-MX clients'
 * lookups, which no-rdns-whitelist turns off); with a trust-domain: always.
 * Not for a client in the negative cache.
 */
static bool stranger_checkable(struct mx *mx, const mxa_addr *key, mxa_time now)
{
	bool domain = trust_domain_on(mx->trust) && mx->p.rdns && trust_member_count(mx->trust);

	if (!mx->sink.check || (!domain && !trust_trusted_count(mx->trust)))
		return false;
	if (whitelist_lookup(mx->neg, key, now, NULL)) {
		mx->stats.rdns_negcache_hits++;
		return false;
	}
	return true;
}

static int stranger_check(struct mx *mx, const mxa_addr *client)
{
	int r = mx->sink.check(mx->sink.ctx, client);

	if (r < 0)
		mx->stats.hold_nocheck++;
	else
		mx->stats.stranger_checks++;
	return r;
}

/* A SYN to a real MX from @src, not whitelisted, which a check could let in. */
static enum mx_verdict stranger_hold(struct mx *mx, const mxa_addr *src, const mxa_addr *dst,
                                     const mxa_addr *key, uint64_t token, uint64_t now_ms,
                                     mxa_time now)
{
	int r;

	if (pending_max(mx->hold) == 0) {
		/* No holding: the check still runs, for the retransmit a second later. */
		(void)stranger_check(mx, src);
		return real_attempt(mx, src, dst, now);
	}
	r = pending_add(mx->hold, key, token, src, dst, now_ms);
	if (r < 0) {
		/*
		 * Full: dropped at once, but the check (under its rate limit) still runs
		 * unless one is under way, so that a trusted stranger's retransmit gets
		 * in while a flood fills the table (counted in hold-full, not hold-nocheck).
		 */
		mx->stats.hold_full++;
		if (!pending_has(mx->hold, key) && stranger_checkable(mx, key, now) &&
		    mx->sink.check(mx->sink.ctx, src) >= 0)
			mx->stats.stranger_checks++;
		return real_attempt(mx, src, dst, now);
	}
	/* Held for a peer only: no lookup of ours, the peer's entry or the deadline decides. */
	if (r == PENDING_NEW && stranger_checkable(mx, key, now_ms / 1000) &&
	    stranger_check(mx, src) < 0 && !mx->p.hold_strangers) {
		/* This packet alone: taken back, dropped at once. */
		pending_release(mx->hold, key, NULL, NULL);
		hold_sync(mx);
		return real_attempt(mx, src, dst, now);
	}
	hold_sync(mx);
	return MX_PENDING;
}

enum mx_verdict mx_syn_hold(struct mx *mx, const mxa_addr *src, const mxa_addr *dst, uint64_t token,
                            uint64_t now_ms)
{
	mxa_time now = (mxa_time)(now_ms / 1000);
	mxa_addr key;

	mx_expire(mx, now);
	switch (mx_classify(mx, dst)) {
	case MX_FAKE:
		fake_hit(mx, src, dst, now);
		return MX_ALLOW;
	case MX_OTHER:
		return MX_ALLOW;
	case MX_REAL:
		break;
	}
	if (netset_lookup(mx->statics, src, NULL))
		return real_attempt(mx, src, dst, now); /* static: accepted at once, never held */
	/* Held clients join their group; otherwise only when a check could let them in. */
	if (trust_any(mx->trust) || pending_count(mx->hold) || mx->p.hold_strangers) {
		key_of(mx, &key, src);
		if (!whitelist_lookup(mx->wl, &key, now, NULL) &&
		    (pending_has(mx->hold, &key) ||
		     (mx->p.hold_strangers && pending_max(mx->hold)) ||
		     stranger_checkable(mx, &key, now)))
			return stranger_hold(mx, src, dst, &key, token, now_ms, now);
	}
	return real_attempt(mx, src, dst, now);
}

void mx_stranger_blocked(struct mx *mx, const mxa_addr *src, mxa_time now)
{
	mxa_addr key;

	if (!trust_any(mx->trust))
		return;
	key_of(mx, &key, src);
	if (!whitelist_lookup(mx->wl, &key, now, NULL) && stranger_checkable(mx, &key, now))
		(void)stranger_check(mx, src);
}

/* A fake-MX member of the registrable domain @domain, still whitelisted as one. */
static bool member_live(struct mx *mx, const char *domain, mxa_time now, struct wl_entry *out)
{
	mxa_addr member;

	if (!trust_member_get(mx->trust, domain, &member, NULL))
		return false;
	if (!whitelist_lookup(mx->wl, &member, now, out) || out->reason != WL_REASON_FAKE_MX) {
		trust_member_del(mx->trust, domain);
		mx->stats.trust_members = trust_member_count(mx->trust);
		return false;
	}
	/* Its entry may have been renewed since: keep the index's order right. */
	(void)trust_member_put(mx->trust, domain, &member, out->deadline, now);
	return true;
}

static void member_learn(struct mx *mx, const mxa_addr *client, const mxa_addr *key,
                         const char *name, mxa_time deadline, mxa_time now)
{
	char domain[TRUST_NAME_MAX + 1];
	enum trust_name v;

	if (!trust_domain_on(mx->trust))
		return;
	v = trust_name_check(mx->trust, name, client, domain, sizeof(domain));
	if (v != TRUST_NAME_OK) {
		mx->stats.member_generic++;
		if (mx->sink.member)
			mx->sink.member(mx->sink.ctx, client, name, NULL, v);
		return;
	}
	if (trust_member_put(mx->trust, domain, key, deadline, now) < 0)
		return;
	mx->stats.trust_members = trust_member_count(mx->trust);
	if (mx->sink.member)
		mx->sink.member(mx->sink.ctx, client, name, domain, v);
}

static void stranger_refused(struct mx *mx, const mxa_addr *client, const mxa_addr *key,
                             const char *name, enum mx_refusal why, mxa_time now)
{
	if (whitelist_lookup(mx->wl, key, now, NULL))
		return; /* not a stranger: a fake-MX client's own lookup */
	if (!pending_has(mx->hold, key) && !trust_any(mx->trust))
		return;
	mx->stats.trust_refused++;
	if (mx->sink.refused)
		mx->sink.refused(mx->sink.ctx, client, name, why);
	hold_refuse(mx, key, now);
}

static enum mx_refusal refusal_of(enum trust_name v)
{
	return v == TRUST_NAME_GENERIC    ? MX_REFUSED_GENERIC
	       : v == TRUST_NAME_EXCLUDED ? MX_REFUSED_EXCLUDED
	                                  : MX_REFUSED_NO_DOMAIN;
}

/*
 * The answer for a client that is not whitelisted. Forward-confirmed, not
 * generic nor excluded, and under a trust-domain or in a registrable domain
 * with a live fake-MX member: whitelisted (which lets its held packets in).
 */
static size_t stranger_resolved(struct mx *mx, const mxa_addr *client, const mxa_addr *key,
                                const char *name, bool confirmed, mxa_time now)
{
	char domain[TRUST_NAME_MAX + 1];
	struct wl_entry member, e = {0};
	enum trust_name v;

	if (!pending_has(mx->hold, key) && !trust_any(mx->trust))
		return 0;
	if (!confirmed) {
		stranger_refused(mx, client, key, name, MX_REFUSED_UNCONFIRMED, now);
		return 0;
	}
	v = trust_name_check(mx->trust, name, client, domain, sizeof(domain));
	if (v == TRUST_NAME_GENERIC || v == TRUST_NAME_EXCLUDED) {
		/* Such a name stays what it is: no lookup again for a while. */
		remember_negative(mx, key, now);
		stranger_refused(mx, client, key, name, refusal_of(v), now);
		return 0;
	}
	e.addr = *key;
	e.rdns_done = true;
	if (trust_trusted_domain(mx->trust, name)) {
		e.origin = *client;
		e.deadline = now + mx->p.whitelist_time;
		e.reason = WL_REASON_TRUSTED;
		if (put(mx, &e, false, name, now) < 0)
			return 0;
		mx->stats.trusted++;
		return 1;
	}
	/* Without domain trust the registrable domain plays no part: no trusted membership. */
	if (!trust_domain_on(mx->trust)) {
		stranger_refused(mx, client, key, name, MX_REFUSED_NO_MEMBER, now);
		return 0;
	}
	if (v != TRUST_NAME_OK) {
		stranger_refused(mx, client, key, name, refusal_of(v), now);
		return 0;
	}
	if (!member_live(mx, domain, now, &member)) {
		stranger_refused(mx, client, key, name, MX_REFUSED_NO_MEMBER, now);
		return 0;
	}
	e.origin = member.addr;
	e.deadline = member.deadline;
	e.reason = WL_REASON_RDNS_DOMAIN;
	if (put(mx, &e, false, name, now) < 0)
		return 0;
	mx->stats.rdns_domain++;
	return 1;
}

/* ---- manual entries and explanations (control socket) ---- */

void mx_key(const struct mx *mx, mxa_addr *key, const mxa_addr *a)
{
	key_of(mx, key, a);
}

unsigned mx_key_prefix(const struct mx *mx, const mxa_addr *a)
{
	return addr_is_v4(a) ? mx->p.v4_prefix : mx->p.v6_prefix;
}

/* @addr's key, when @prefix is -1 or exactly that key (prefix and no host bits). */
static int manual_key(const struct mx *mx, const mxa_addr *addr, int prefix, mxa_addr *key)
{
	key_of(mx, key, addr);
	if (prefix < 0)
		return 0;
	if ((unsigned)prefix != mx_key_prefix(mx, addr) || !addr_equal(key, addr))
		return -EINVAL;
	return 0;
}

int mx_manual_add(struct mx *mx, const mxa_addr *addr, int prefix, uint32_t ttl, mxa_time now,
                  struct wl_entry *prev)
{
	struct wl_entry old, e = {0};
	bool existed;
	int r;

	if (manual_key(mx, addr, prefix, &e.addr) < 0)
		return -EINVAL;
	if (ttl == 0 || ttl > MX_MANUAL_TTL_MAX)
		return -ERANGE;
	mx_expire(mx, now);
	existed = whitelist_lookup(mx->wl, &e.addr, now, &old);
	e.deadline = now + ttl;
	e.reason = WL_REASON_MANUAL;
	e.rdns_done = true;
	r = put(mx, &e, existed, NULL, now);
	if (r < 0)
		return r;
	if (existed && prev)
		*prev = old;
	return existed ? MX_MANUAL_REPLACED : MX_MANUAL_ADDED;
}

int mx_manual_del(struct mx *mx, const mxa_addr *addr, int prefix, mxa_time now,
                  struct wl_entry *out)
{
	struct wl_entry e;
	mxa_addr key;

	if (manual_key(mx, addr, prefix, &key) < 0)
		return -EINVAL;
	mx_expire(mx, now);
	if (!whitelist_del(mx->wl, &key, &e))
		return 0;
	count_end(mx, &e, MX_REMOVED_DELETED);
	if (out)
		*out = e;
	return 1;
}

bool mx_explain(const struct mx *mx, const mxa_addr *addr, mxa_time now, struct mx_explanation *out)
{
	struct wl_entry neg;

	memset(out, 0, sizeof(*out));
	key_of(mx, &out->key, addr);
	out->prefix = mx_key_prefix(mx, addr);
	out->has_entry = whitelist_lookup(mx->wl, &out->key, now, &out->entry);
	/* In the order of real_attempt(): the allow lists, then the whitelist. */
	if (netset_lookup(mx->statics, addr, &out->static_net)) {
		out->allowed = true;
		out->source = MX_EXPLAIN_STATIC;
	} else if (out->has_entry) {
		out->allowed = true;
		out->source = MX_EXPLAIN_ENTRY;
	}
	if (whitelist_lookup(mx->neg, &out->key, now, &neg)) {
		out->negative = true;
		out->negative_until = neg.deadline;
	}
	return out->allowed;
}

/* ---- the state file ---- */

int mx_restore(struct mx *mx, const struct wl_entry *e, mxa_time now)
{
	struct wl_entry old;
	bool existed;
	int r;

	if (e->deadline <= now)
		return 1;
	existed = whitelist_lookup(mx->wl, &e->addr, now, &old);
	if (existed && old.deadline >= e->deadline)
		return 1;
	/* A new entry takes its last use from @e (whitelist_put()); a merged one keeps the later.
	 */
	r = put(mx, e, false, NULL, now);
	if (r < 0)
		return r;
	if (existed && e->used && (!old.used || old.last_use < e->last_use))
		(void)whitelist_use(mx->wl, &e->addr, e->last_use, 0, NULL);
	return 0;
}

/* ---- peers (shared whitelist: another mxallowd's entries) ---- */

uint32_t mx_lifetime_max(const struct mx *mx)
{
	uint32_t m = MX_MANUAL_TTL_MAX;

	if (mx->p.whitelist_time > m)
		m = mx->p.whitelist_time;
	if (mx->p.renew_time > m)
		m = mx->p.renew_time;
	return m;
}

int mx_peer_add(struct mx *mx, const mxa_addr *addr, const mxa_addr *origin, mxa_time deadline,
                mxa_time now)
{
	struct wl_entry old, e = {0};
	bool existed;
	int r;

	if (deadline <= now)
		return 0;
	if (deadline - now > (mxa_time)mx_lifetime_max(mx))
		deadline = now + (mxa_time)mx_lifetime_max(mx);
	key_of(mx, &e.addr, addr);
	mx_expire(mx, now);
	existed = whitelist_lookup(mx->wl, &e.addr, now, &old);
	if (existed && old.deadline >= deadline)
		return 0; /* live at least as long already: nothing to learn */
	e.origin = *origin;
	e.deadline = deadline;
	e.reason = WL_REASON_PEER;
	e.rdns_done = true; /* the peer that saw the client did its lookup */
	r = put(mx, &e, existed, NULL, now);
	return r < 0 ? r : 1;
}

int mx_peer_del(struct mx *mx, const mxa_addr *addr, mxa_time now)
{
	struct wl_entry e;
	mxa_addr key;

	key_of(mx, &key, addr);
	mx_expire(mx, now);
	if (!whitelist_del(mx->wl, &key, &e))
		return 0;
	count_end(mx, &e, MX_REMOVED_DELETED);
	return 1;
}
