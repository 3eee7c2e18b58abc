/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "mx.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct mx {
	struct mx_params p; /* p.fake and p.real point into servers */
	mxa_addr *servers;
	struct whitelist *wl;
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
	mx->wl = whitelist_new(capacity, key, now);
	if (!mx->wl || mx_set_params(mx, p) < 0)
		return mx_free(mx);
	return mx;
}

struct mx *mx_free(struct mx *mx)
{
	if (mx) {
		whitelist_free(mx->wl);
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
	if (r == WL_PUT_EVICTED)
		count_end(mx, &victim, MX_REMOVED_EVICTED);
	if (mx->sink.added)
		mx->sink.added(mx->sink.ctx, e, renewed, name, now);
	return r;
}

static void fake_hit(struct mx *mx, const mxa_addr *src, const mxa_addr *dst, mxa_time now)
{
	struct wl_entry old, e = {0};
	bool existed;

	mx->stats.fake_hits++;
	key_of(mx, &e.addr, src);
	existed = whitelist_lookup(mx->wl, &e.addr, now, &old);
	e.origin = *dst;
	e.deadline = now + mx->p.whitelist_time;
	e.reason = WL_REASON_FAKE_MX;
	if (put(mx, &e, existed && old.reason == WL_REASON_FAKE_MX, NULL, now) < 0)
		return;
	/* Resolve once per new fake-MX entry, not on every retry of the same client. */
	if (mx->p.rdns && (!existed || old.reason != WL_REASON_FAKE_MX) && mx->sink.resolve)
		mx->sink.resolve(mx->sink.ctx, src);
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

size_t mx_resolved(struct mx *mx, const mxa_addr *client, const char *name, const mxa_addr *addrs,
                   size_t n, mxa_time now)
{
	struct wl_entry ce, old, e = {0};
	mxa_addr ckey;
	bool confirmed = false;
	size_t added = 0;

	mx_expire(mx, now);
	key_of(mx, &ckey, client);
	if (!whitelist_lookup(mx->wl, &ckey, now, &ce))
		return 0; /* expired or evicted while we were resolving */
	for (size_t i = 0; i < n && !confirmed; i++)
		confirmed = addr_equal(&addrs[i], client);
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
