/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "mx.h"

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
	if (!mx->wl || !mx->neg || mx_set_params(mx, p) < 0)
		return mx_free(mx);
	return mx;
}

struct mx *mx_free(struct mx *mx)
{
	if (mx) {
		whitelist_free(mx->wl);
		whitelist_free(mx->neg);
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

mxa_time mx_expire(struct mx *mx, mxa_time now)
{
	struct wl_entry e;

	while (whitelist_pop_expired(mx->wl, now, &e))
		count_end(mx, &e, MX_REMOVED_EXPIRED);
	while (whitelist_pop_expired(mx->neg, now, NULL))
		;
	return whitelist_next_deadline(mx->wl);
}

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
	bool again;

	mx->stats.fake_hits++;
	key_of(mx, &e.addr, src);
	again = whitelist_lookup(mx->wl, &e.addr, now, &old) && old.reason == WL_REASON_FAKE_MX;
	e.origin = *dst;
	e.deadline = now + mx->p.whitelist_time;
	e.reason = WL_REASON_FAKE_MX;
	e.rdns_done = again && old.rdns_done;
	if (put(mx, &e, again, NULL, now) < 0)
		return;
	/* Once per fake-MX entry whose lookup ended, again on each hit while it has not. */
	if (mx->p.rdns && !e.rdns_done && mx->sink.resolve)
		ask_resolve(mx, src, &e.addr, again, now);
}

static enum mx_verdict real_attempt(struct mx *mx, const mxa_addr *src, const mxa_addr *dst,
                                    mxa_time now)
{
	mxa_addr key;
	enum mx_verdict v;

	key_of(mx, &key, src);
	if (whitelist_touch(mx->wl, &key, now)) {
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
		key_of(mx, &key, src);
		if (v == MX_ALLOW) {
			mx->stats.accepted++;
			whitelist_touch(mx->wl, &key, now);
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
		return;
	}
	mx->stats.rdns_no_name++;
	remember_negative(mx, &key, now);
	whitelist_set_rdns_done(mx->wl, &key, now);
}

size_t mx_resolved(struct mx *mx, const mxa_addr *client, const char *name, const mxa_addr *addrs,
                   size_t n, mxa_time now)
{
	struct wl_entry ce, old, e = {0};
	mxa_addr ckey;
	bool confirmed = false;
	size_t added = 0;

	mx_expire(mx, now);
	key_of(mx, &ckey, client);
	for (size_t i = 0; i < n && !confirmed; i++)
		confirmed = addr_equal(&addrs[i], client);
	if (!confirmed)
		remember_negative(mx, &ckey, now);
	if (!whitelist_lookup(mx->wl, &ckey, now, &ce))
		return 0; /* expired or evicted while we were resolving */
	whitelist_set_rdns_done(mx->wl, &ckey, now);
	if (!confirmed) {
		mx->stats.rdns_unconfirmed++;
		if (mx->sink.unconfirmed)
			mx->sink.unconfirmed(mx->sink.ctx, client, name);
		return 0;
	}
	for (size_t i = 0; i < n && added < mx->p.rdns_max; i++) {
		bool existed;

		key_of(mx, &e.addr, &addrs[i]);
		if (addr_equal(&e.addr, &ckey))
			continue;
		existed = whitelist_lookup(mx->wl, &e.addr, now, &old);
		if (existed &&
		    (old.reason != WL_REASON_RDNS_SIBLING || old.deadline >= ce.deadline))
			continue; /* whitelisted in its own right, or already as long */
		e.origin = *client;
		e.deadline = ce.deadline;
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
