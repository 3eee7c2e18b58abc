/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The shared whitelist through Redis (see redis.h): hiredis's asynchronous
 * API on the daemon's libevent loop. Two connections: one for commands, one
 * subscribed to the events channel (a subscribed connection takes no other
 * command). Either failing takes both down; both come back together: first
 * the subscription, then the changes that waited (deletions), then the load,
 * so no event falls between them and the load never sees a key this host
 * deleted meanwhile.
 *
 * The load reads each key with GETRANGE (at most SYNCWIRE_LINE_MAX + 1
 * bytes: one huge value costs nothing) and PTTL (the key's own end, which
 * no clock can get wrong), pipelined, one SCAN batch at a time. Keys of this
 * node are this host's own: skipped. A full load is followed by the prune
 * (local peer entries whose key is gone from Redis were deleted while this
 * host was away: removed), then the push of this host's own entries.
 * A peer's entry never lives longer here than this host's longest own
 * lifetime (mx_lifetime_max()).
 */
#include "redis.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "daemon.h"
#include "log.h"
#include "ratelimit.h"
#include "redisurl.h"
#include "syncqueue.h"
#include "syncwire.h"

enum link_state {
	LINK_WAIT = 0,   /* backoff: ev_retry fires the next attempt */
	LINK_RESOLVING,  /* the host name is being resolved */
	LINK_CONNECTING, /* both connections started, not both ready yet */
	LINK_UP,         /* subscribed and loading or loaded */
};

struct load_batch;
struct prune_batch;

/* Distinct reasons of link failures logged since the last time in sync. */
#define REDIS_REASONS_LOGGED 8
/* A store whose marker is younger than this is being refilled: the prune waits. */
#define REDIS_REFILL_GRACE_S 10

struct redis {
	struct daemon *d;
	struct redis_url url;
	char where[REDISURL_HOST_MAX + 16];
	char prefix[80];
	char node[SYNCWIRE_NODE_MAX + 1];
	char channel[96];
	char match[96];
	struct evdns_base *dns;
	struct evdns_getaddrinfo_request *dns_req;
	char ip[ADDR_STRLEN]; /* the resolved host */
	enum link_state state;
	redisAsyncContext *cmd, *sub;
	bool cmd_ready, sub_ready; /* connected (AUTH and SELECT queued first) */
	bool subscribed;
	bool ever_up;
	struct event *ev_retry, *ev_flush, *ev_watch;
	uint32_t backoff_ms;
	uint64_t attempt_ms;                    /* when the current attempt started */
	uint32_t reasons[REDIS_REASONS_LOGGED]; /* hashes of the reasons logged */
	unsigned n_reasons;
	bool connect_logged; /* "connected" said since the last time in sync */
	bool synced;         /* this connection loaded, pruned and pushed */
	/* Commands sent on cmd and not answered yet, and since when the oldest waits. */
	uint32_t inflight;
	uint64_t waiting_since_ms;
	/* The load after a (re)connect: SCAN cursor, then GETRANGE + PTTL of each batch. */
	bool loading;
	char cursor[24];
	uint64_t loaded, load_rejected, load_own, load_foreign;
	struct load_batch *batch;
	/* The store's marker (PREFIX "store"): absent or young, Redis lost its data. */
	bool store_fresh;
	/* The prune after a full load: local peer entries whose key is gone. */
	bool pruning;
	struct wl_iter prune_it;
	struct prune_batch *pbatch;
	uint64_t pruned;
	/* Pushing the own live entries after a (re)connect: whitelist position. */
	bool pushing;
	struct wl_iter push_it;
	uint64_t pushed;
	/* This process among the daemons (hello): another one with our node name is an error. */
	uint64_t instance;
	uint64_t twin_logged;
	uint64_t hello_sent_ms;
	struct syncq *q;
	struct tokenbucket tb;
	struct ratelimit errlines; /* peers' garbage and error replies */
	uint64_t errlines_seen;
	uint64_t dropped_logged, dropped_log_ms;
	bool applying;
	int64_t applying_lag_us;
	struct redis_stats st;
};

static uint64_t mono_ms(void)
{
	return daemon_now_ms();
}

static uint64_t wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* A problem worth one line, at most a few a second (a peer sending garbage, error replies). */
static bool err_line_allowed(struct redis *r)
{
	if (ratelimit_allow(&r->errlines, daemon_now()))
		return true;
	r->errlines_seen++;
	return false;
}

/* ------------------------------------------------------------- link up and down */

static void link_start(struct redis *r);

/* True the first time @why is seen since the last time in sync: one line per reason. */
static bool reason_new(struct redis *r, const char *why)
{
	uint32_t h = 2166136261u;

	for (const char *p = why; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	for (unsigned i = 0; i < r->n_reasons; i++)
		if (r->reasons[i] == h)
			return false;
	if (r->n_reasons == REDIS_REASONS_LOGGED)
		return false; /* enough said */
	r->reasons[r->n_reasons++] = h;
	return true;
}

/* An error reply's text, for a log line: at most 200 bytes. */
static const char *reply_text(const redisReply *rep, char *buf, size_t len)
{
	if (!rep)
		snprintf(buf, len, "no reply");
	else if (rep->type == REDIS_REPLY_ERROR || rep->type == REDIS_REPLY_STATUS ||
	         rep->type == REDIS_REPLY_STRING)
		snprintf(buf, len, "%.*s", (int)(rep->len > 200 ? 200 : rep->len), rep->str);
	else
		snprintf(buf, len, "a reply of type %d", rep->type);
	return buf;
}

static void free_conn(redisAsyncContext **ac)
{
	redisAsyncContext *c = *ac;

	*ac = NULL;
	if (c) {
		c->data = NULL; /* its callbacks, called from the free, see it is gone */
		redisAsyncFree(c);
	}
}

/*
 * Takes both connections down and schedules the next attempt. @why is logged
 * once per outage (and again if the reason changes: a wrong password after a
 * refused connection is news).
 */
static void link_down(struct redis *r, const char *why)
{
	bool was_up = r->state == LINK_UP;

	r->st.errors++;
	if (reason_new(r, why))
		log_msg(LOG_ERR,
		        "redis: %s: %s; deciding locally, retrying every %u ms at most "
		        "(entries learnt meanwhile are pushed when it is back)",
		        r->where, why, REDIS_BACKOFF_MAX_MS);
	if (r->dns_req) {
		struct evdns_getaddrinfo_request *req = r->dns_req;

		r->dns_req = NULL;
		evdns_getaddrinfo_cancel(req);
	}
	free_conn(&r->cmd);
	free_conn(&r->sub);
	r->cmd_ready = r->sub_ready = r->subscribed = false;
	r->inflight = 0;
	r->loading = r->pruning = r->pushing = false;
	r->batch = NULL; /* freed by their last callback, called from the free above */
	r->pbatch = NULL;
	r->st.connected = 0;
	/* Only deletions wait for the next connection: the push after it re-sends every entry. */
	{
		struct syncq_item it;
		size_t n = syncq_len(r->q);

		for (size_t i = 0; i < n && syncq_pop(r->q, &it); i++)
			if (it.kind == SYNCQ_DEL)
				(void)syncq_push(r->q, &it.key, SYNCQ_DEL, it.since_us);
	}
	r->state = LINK_WAIT;
	/* Back to the shortest wait only after a connection that got in sync: a load that
	 * fails every time (an ACL, a cluster) must not reconnect ten times a second. */
	if (was_up && r->synced)
		r->backoff_ms = REDIS_BACKOFF_MIN_MS;
	else if (r->backoff_ms < REDIS_BACKOFF_MAX_MS)
		r->backoff_ms = r->backoff_ms * 2 > REDIS_BACKOFF_MAX_MS ? REDIS_BACKOFF_MAX_MS
		                                                         : r->backoff_ms * 2;
	{
		struct timeval tv = {r->backoff_ms / 1000, (r->backoff_ms % 1000) * 1000};

		event_add(r->ev_retry, &tv);
	}
}

/* One more command sent on the command connection. */
static void sent(struct redis *r)
{
	if (r->inflight++ == 0)
		r->waiting_since_ms = mono_ms();
}

static void schedule_flush(struct redis *r)
{
	static const struct timeval zero = {0, 0};

	/* A timer, not event_active(): the queue's events are served between two batches. */
	if (r->state == LINK_UP && !evtimer_pending(r->ev_flush, NULL))
		evtimer_add(r->ev_flush, &zero);
}

/* ------------------------------------------------------------- replies */

/* A reply on the command connection: one fewer waiting. */
static struct redis *cmd_reply(redisAsyncContext *ac, void *reply)
{
	struct redis *r = ac->data;

	if (!r || ac != r->cmd)
		return NULL; /* an old connection being freed */
	if (r->inflight)
		r->inflight--;
	r->waiting_since_ms = mono_ms();
	if (!reply)
		return NULL;
	return r;
}

static void on_write_reply(redisAsyncContext *ac, void *reply, void *priv)
{
	struct redis *r = cmd_reply(ac, reply);
	redisReply *rep = reply;

	(void)priv;
	if (!r)
		return;
	if (rep->type == REDIS_REPLY_ERROR) {
		r->st.errors++;
		if (err_line_allowed(r))
			log_msg(LOG_ERR, "redis: %s: a write was refused: %.*s", r->where,
			        (int)(rep->len > 200 ? 200 : rep->len), rep->str);
	}
	if (r->inflight < REDIS_INFLIGHT_MAX / 2)
		schedule_flush(r);
}

/* AUTH and SELECT: their refusal is the clearest message the user gets. */
static void on_setup_reply(redisAsyncContext *ac, void *reply, void *priv)
{
	struct redis *r = ac->data;
	redisReply *rep = reply;
	const char *what = priv;
	char why[300];

	if (ac == (r ? r->cmd : NULL))
		cmd_reply(ac, reply);
	if (!r || !rep || (ac != r->cmd && ac != r->sub))
		return;
	if (rep->type != REDIS_REPLY_ERROR)
		return;
	if (strcmp(what, "AUTH") == 0)
		snprintf(why, sizeof(why), "the password was refused (AUTH: %.*s)",
		         (int)(rep->len > 200 ? 200 : rep->len), rep->str);
	else
		snprintf(why, sizeof(why), "%s refused: %.*s", what,
		         (int)(rep->len > 200 ? 200 : rep->len), rep->str);
	/* Not from inside hiredis's callback: its context is freed when the callback ends. */
	link_down(r, why);
}

/* ------------------------------------------------------------- applying peers' entries */

static void reject(struct redis *r, const char *where, const char *why)
{
	r->st.rejected++;
	if (err_line_allowed(r))
		log_msg(LOG_ERR, "redis: %s: %s ignored: %s", r->where, where, why);
}

/* The local key of a peer's addr/bits, when its prefix length is this host's. */
static bool peer_key_ok(struct redis *r, const struct syncwire_msg *m, const char *where)
{
	unsigned want = mx_key_prefix(r->d->mx, &m->addr);
	char why[160];

	if (m->bits == want)
		return true;
	snprintf(why, sizeof(why),
	         "node %s keys %s by /%u, this host by /%u: every host needs the same "
	         "ipv4-prefix and ipv6-prefix",
	         m->node, addr_is_v4(&m->addr) ? "IPv4" : "IPv6", m->bits, want);
	reject(r, where, why);
	return false;
}

/* A peer's clock (or its data) is off: counted, one line (rate-limited). */
static void skewed(struct redis *r, const struct syncwire_msg *m, const char *where,
                   const char *field, int64_t skew_s, const char *outcome)
{
	char a[ADDR_STRLEN];

	r->st.skewed++;
	if (err_line_allowed(r))
		log_msg(LOG_WARNING,
		        "redis: %s: %s of node %s for %s/%u: %s in the %s by %" PRId64
		        " s: clock skew? %s",
		        r->where, where, m->node, addr_format(&m->addr, a), m->bits, field,
		        skew_s < 0 ? "past" : "future", skew_s < 0 ? -skew_s : skew_s, outcome);
}

/*
 * A peer's add (@ttl_ms >= 0: a stored entry with its key's remaining TTL) or
 * delete, applied to the local whitelist; @lag_us -1 when unknown.
 */
static void apply(struct redis *r, const struct syncwire_msg *m, int64_t ttl_ms, int64_t lag_us,
                  const char *where)
{
	struct daemon *d = r->d;
	mxa_time now = daemon_now();
	int64_t max = (int64_t)mx_lifetime_max(d->mx), skew, left = 0;
	mxa_addr origin;
	char out[64];

	if (m->kind != SYNCWIRE_DEL) {
		left = syncwire_lifetime(m->deadline, (int64_t)(wall_us() / 1000000u), ttl_ms, max,
		                         &skew);
		if (skew) {
			if (left <= 0)
				snprintf(out, sizeof(out), "ignored");
			else
				snprintf(out, sizeof(out), "%s %" PRId64 " s here",
				         ttl_ms >= 0 && left < max ? "its key's TTL:"
				                                   : "limited to",
				         left);
			skewed(r, m, where, "deadline", skew, out);
		}
	}
	r->applying = true;
	r->applying_lag_us = lag_us;
	if (m->kind == SYNCWIRE_DEL) {
		if (mx_peer_del(d->mx, &m->addr, now) > 0)
			r->st.received++;
	} else if (left > 0) {
		syncwire_origin_from_node(&origin, m->node);
		if (mx_peer_add(d->mx, &m->addr, &origin, now + left, now) > 0)
			r->st.received++;
	}
	r->applying = false;
	if (lag_us >= 0) {
		r->st.lag_us = (uint64_t)lag_us;
		if ((uint64_t)lag_us > r->st.lag_max_us)
			r->st.lag_max_us = (uint64_t)lag_us;
	}
}

/* After applying: the kernel table learns the changes (table mode), held SYNs get verdicts. */
static void applied(struct redis *r)
{
	daemon_table_sync(r->d);
	daemon_hold_sync(r->d);
}

static void send_hello(struct redis *r);
static void load_forget(struct load_batch *b, const struct syncwire_msg *m);

/* Another daemon's hello: one with this host's node name is a configuration error. */
static void on_hello(struct redis *r, const struct syncwire_msg *m)
{
	if (strcmp(m->node, r->node) != 0 || m->id == r->instance)
		return;
	r->st.twins++;
	if (r->twin_logged != m->id) {
		log_msg(LOG_ERR,
		        "redis: %s: another mxallowd (instance %016" PRIx64
		        ") uses this host's node name '%s' (this one is %016" PRIx64
		        "): each host needs its own node-name; meanwhile each ignores the other's "
		        "changes as its own",
		        r->where, m->id, r->node, r->instance);
		r->twin_logged = m->id;
		send_hello(r); /* answered at once, so that the other one says it too */
	} else if (mono_ms() - r->hello_sent_ms >= 5000) {
		send_hello(r); /* and again at most every 5 s: no ping-pong */
	}
}

static void on_message(redisAsyncContext *ac, void *reply, void *priv)
{
	struct redis *r = ac->data;
	redisReply *rep = reply, *kind, *payload;
	struct syncwire_msg m;
	char why[160];
	int64_t lag;

	(void)priv;
	if (!r || ac != r->sub || !rep)
		return;
	if (rep->type == REDIS_REPLY_ERROR) {
		char w[300], t[210];

		snprintf(w, sizeof(w), "SUBSCRIBE refused: %s", reply_text(rep, t, sizeof(t)));
		link_down(r, w);
		return;
	}
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 3)
		return;
	kind = rep->element[0];
	payload = rep->element[2];
	if (kind->type != REDIS_REPLY_STRING)
		return;
	if (strcmp(kind->str, "subscribe") == 0) {
		r->subscribed = true;
		link_start(r); /* the load starts once the subscription is in place */
		return;
	}
	if (strcmp(kind->str, "message") != 0 || payload->type != REDIS_REPLY_STRING)
		return;
	if (payload->len > SYNCWIRE_LINE_MAX) {
		reject(r, "an event", "longer than 512 bytes");
		return;
	}
	if (syncwire_parse(payload->str, payload->len, &m, why, sizeof(why)) < 0 ||
	    m.kind == SYNCWIRE_ENTRY) {
		reject(r, "an event", m.kind == SYNCWIRE_ENTRY ? "an entry, not an event" : why);
		return;
	}
	if (m.kind == SYNCWIRE_HELLO) {
		on_hello(r, &m);
		return;
	}
	if (strcmp(m.node, r->node) == 0)
		return; /* our own announcement */
	if (!peer_key_ok(r, &m, "an event"))
		return;
	lag = syncwire_lag_us(m.t_us, wall_us(), (uint64_t)mx_lifetime_max(r->d->mx) * 1000000u);
	if (lag < 0) {
		int64_t off = (int64_t)(m.t_us / 1000000u) - (int64_t)(wall_us() / 1000000u);

		skewed(r, &m, "an event", "t", off, "its lag is unknown");
	}
	if (m.kind == SYNCWIRE_DEL && r->batch) /* a value read before it must not bring it back */
		load_forget(r->batch, &m);
	apply(r, &m, -1, lag, "an event");
	applied(r);
}

/* ------------------------------------------------------------- writing */

/* Writes @e (live, own) as key and event. False when it cannot be sent. */
static bool write_entry(struct redis *r, const struct wl_entry *e, uint64_t since_us)
{
	mxa_time now = daemon_now();
	uint64_t wall_s = wall_us() / 1000000u;
	struct syncwire_msg m = {
	    .kind = SYNCWIRE_ENTRY,
	    .addr = e->addr,
	    .bits = mx_key_prefix(r->d->mx, &e->addr),
	    .reason = e->reason,
	    .origin = e->origin,
	    .deadline = (int64_t)wall_s + (e->deadline - now),
	    .last_use = e->used ? (int64_t)wall_s - (now - e->last_use) : 0,
	    .t_us = since_us,
	};
	char key[SYNCWIRE_KEY_MAX], val[SYNCWIRE_LINE_MAX], ev[SYNCWIRE_LINE_MAX], ttl[24];
	int vn, en;

	memcpy(m.node, r->node, sizeof(m.node));
	if (e->deadline <= now || syncwire_key(r->prefix, &m.addr, m.bits, key, sizeof(key)) < 0)
		return false;
	if (m.last_use < 0)
		m.last_use = 0;
	vn = syncwire_format(&m, val, sizeof(val));
	m.kind = SYNCWIRE_ADD;
	en = syncwire_format(&m, ev, sizeof(ev));
	if (vn < 0 || en < 0)
		return false;
	snprintf(ttl, sizeof(ttl), "%" PRId64, e->deadline - now);
	if (redisAsyncCommand(r->cmd, on_write_reply, NULL, "SET %s %b EX %s", key, val, (size_t)vn,
	                      ttl) == REDIS_OK)
		sent(r);
	if (redisAsyncCommand(r->cmd, on_write_reply, NULL, "PUBLISH %s %b", r->channel, ev,
	                      (size_t)en) == REDIS_OK)
		sent(r);
	r->st.sent++;
	return true;
}

static void write_del(struct redis *r, const mxa_addr *key_addr, uint64_t since_us)
{
	struct syncwire_msg m = {
	    .kind = SYNCWIRE_DEL,
	    .addr = *key_addr,
	    .bits = mx_key_prefix(r->d->mx, key_addr),
	    .t_us = since_us,
	};
	char key[SYNCWIRE_KEY_MAX], ev[SYNCWIRE_LINE_MAX];
	int en;

	memcpy(m.node, r->node, sizeof(m.node));
	en = syncwire_format(&m, ev, sizeof(ev));
	if (en < 0 || syncwire_key(r->prefix, &m.addr, m.bits, key, sizeof(key)) < 0)
		return;
	if (redisAsyncCommand(r->cmd, on_write_reply, NULL, "DEL %s", key) == REDIS_OK)
		sent(r);
	if (redisAsyncCommand(r->cmd, on_write_reply, NULL, "PUBLISH %s %b", r->channel, ev,
	                      (size_t)en) == REDIS_OK)
		sent(r);
	r->st.sent++;
}

static void send_hello(struct redis *r)
{
	struct syncwire_msg m = {.kind = SYNCWIRE_HELLO, .id = r->instance, .t_us = wall_us()};
	char ev[SYNCWIRE_LINE_MAX];
	int en;

	memcpy(m.node, r->node, sizeof(m.node));
	en = syncwire_format(&m, ev, sizeof(ev));
	if (en < 0 || !r->cmd || r->state != LINK_UP)
		return;
	if (redisAsyncCommand(r->cmd, on_write_reply, NULL, "PUBLISH %s %b", r->channel, ev,
	                      (size_t)en) == REDIS_OK)
		sent(r);
	r->hello_sent_ms = mono_ms();
}

static bool shared_reason(enum wl_reason why)
{
	return why != WL_REASON_PEER && why != WL_REASON_STATIC;
}

/* One queued change written (a deletion, or the key's current entry if it still lives). */
static void write_item(struct redis *r, const struct syncq_item *it)
{
	struct wl_entry e;

	if (it->kind == SYNCQ_DEL)
		write_del(r, &it->key, it->since_us);
	else if (whitelist_lookup(mx_whitelist(r->d->mx), &it->key, daemon_now(), &e) &&
	         shared_reason(e.reason))
		write_entry(r, &e, it->since_us);
}

/* ------------------------------------------------------------- the load (SCAN, GETRANGE + PTTL) */

/* One key of a SCAN batch: what its key names, and the replies about it. */
struct load_key {
	struct load_batch *b;
	mxa_addr addr;
	unsigned bits;
	char key[SYNCWIRE_KEY_MAX];
	size_t keylen;
	int vtype; /* the GETRANGE reply's type, 0 before it came */
	char val[SYNCWIRE_LINE_MAX + 2];
	size_t vlen;
	int64_t ttl_ms; /* PTTL: -1 no TTL, -2 gone */
	bool deleted;   /* a peer's deletion came meanwhile: the value read is stale */
};

struct load_batch {
	size_t n, pending;
	bool aborted;                   /* a reply missing: the connection is going */
	char err[240];                  /* an error reply that is not about one key */
	struct load_key k[REDIS_BATCH]; /* SCAN's COUNT is a hint: more are not asked for */
};

static void load_forget(struct load_batch *b, const struct syncwire_msg *m)
{
	for (size_t i = 0; i < b->n; i++)
		if (b->k[i].bits == m->bits && addr_equal(&b->k[i].addr, &m->addr))
			b->k[i].deleted = true;
}

static void load_next(struct redis *r);
static void prune_next(struct redis *r);
static void push_start(struct redis *r);

static void load_done(struct redis *r)
{
	r->loading = false;
	log_msg(LOG_NOTICE,
	        "redis: %s: loaded %" PRIu64 " live entries of peers (%" PRIu64 " refused, %" PRIu64
	        " of this node skipped)%s",
	        r->where, r->loaded, r->load_rejected, r->load_own,
	        r->store_fresh ? "; the store was (re)filled just now: no prune"
	                       : "; removing peers' entries deleted meanwhile");
	if (r->load_foreign)
		log_msg(LOG_INFO,
		        "redis: %s: %" PRIu64 " keys under %se: are not of this prefix (another "
		        "deployment's?): not read",
		        r->where, r->load_foreign, r->prefix);
	if (r->store_fresh) {
		push_start(r);
		return;
	}
	r->pruning = true;
	r->pruned = 0;
	memset(&r->prune_it, 0, sizeof(r->prune_it));
	prune_next(r);
}

/* One stored entry of the batch, its replies in. */
static void load_one(struct redis *r, struct load_key *k)
{
	struct syncwire_msg m;
	char why[200] = "", a[ADDR_STRLEN];
	enum syncq_kind qk;

	if (k->vtype == REDIS_REPLY_NIL || k->ttl_ms == -2 || k->deleted)
		return; /* expired or deleted since SCAN */
	if (k->vtype == REDIS_REPLY_ERROR) {
		r->load_rejected++;
		reject(r, "a stored entry", "not a string (WRONGTYPE)");
		return;
	}
	if (k->vtype != REDIS_REPLY_STRING)
		return;
	if (syncwire_parse(k->val, k->vlen, &m, why, sizeof(why)) < 0 || m.kind != SYNCWIRE_ENTRY) {
		r->load_rejected++;
		reject(r, "a stored entry",
		       m.kind != SYNCWIRE_ENTRY && why[0] == 0 ? "not an entry" : why);
		return;
	}
	if (!addr_equal(&m.addr, &k->addr) || m.bits != k->bits) {
		r->load_rejected++;
		snprintf(why, sizeof(why), "the key %.*s holds the entry of %s/%u",
		         (int)(k->keylen > 90 ? 90 : k->keylen), k->key, addr_format(&m.addr, a),
		         m.bits);
		reject(r, "a stored entry", why);
		return;
	}
	if (strcmp(m.node, r->node) == 0) {
		r->load_own++; /* this host's own: the push refreshes it, a deletion removes it */
		return;
	}
	if (syncq_find(r->q, &m.addr, &qk) && qk == SYNCQ_DEL)
		return; /* deleted here meanwhile: the deletion is written after the load */
	if (!peer_key_ok(r, &m, "a stored entry")) {
		r->load_rejected++;
		return;
	}
	apply(r, &m, k->ttl_ms >= 0 ? k->ttl_ms : -1, -1, "a stored entry");
	r->loaded++;
}

/* A GETRANGE or PTTL reply of a batch; the last one applies the batch. */
static void load_reply(redisAsyncContext *ac, redisReply *rep, struct load_key *k, bool ttl)
{
	struct load_batch *b = k->b;
	struct redis *r = cmd_reply(ac, rep);
	char t[210];

	if (!r)
		b->aborted = true;
	else if (rep->type == REDIS_REPLY_ERROR &&
	         !(!ttl && strncmp(rep->str, "WRONGTYPE", 9) == 0))
		snprintf(b->err, sizeof(b->err), "%s refused: %s", ttl ? "PTTL" : "GETRANGE",
		         reply_text(rep, t, sizeof(t)));
	else if (ttl)
		k->ttl_ms = rep->type == REDIS_REPLY_INTEGER ? (int64_t)rep->integer : -1;
	else {
		k->vtype = rep->type;
		if (rep->type == REDIS_REPLY_STRING) {
			k->vlen = rep->len < sizeof(k->val) ? rep->len : sizeof(k->val);
			memcpy(k->val, rep->str, k->vlen);
		}
	}
	if (--b->pending)
		return;
	if (b->aborted || !r || r->batch != b) {
		free(b); /* the connection is going: link_down() forgot it */
		return;
	}
	r->batch = NULL;
	if (b->err[0]) {
		char why[260];

		snprintf(why, sizeof(why), "%s", b->err);
		free(b);
		link_down(r, why);
		return;
	}
	for (size_t i = 0; i < b->n; i++)
		load_one(r, &b->k[i]);
	free(b);
	applied(r);
	load_next(r);
}

static void on_getrange(redisAsyncContext *ac, void *reply, void *priv)
{
	load_reply(ac, reply, priv, false);
}

static void on_pttl(redisAsyncContext *ac, void *reply, void *priv)
{
	load_reply(ac, reply, priv, true);
}

static void on_scan(redisAsyncContext *ac, void *reply, void *priv)
{
	struct redis *r = cmd_reply(ac, reply);
	redisReply *rep = reply, *cur, *keys;
	struct load_batch *b;

	(void)priv;
	if (!r)
		return;
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
	    rep->element[0]->type != REDIS_REPLY_STRING ||
	    rep->element[1]->type != REDIS_REPLY_ARRAY ||
	    rep->element[0]->len >= sizeof(r->cursor)) {
		char why[260], t[210];

		if (rep->type == REDIS_REPLY_ERROR)
			snprintf(why, sizeof(why), "SCAN refused: %s",
			         reply_text(rep, t, sizeof(t)));
		else
			snprintf(why, sizeof(why), "SCAN answered garbage");
		link_down(r, why);
		return;
	}
	cur = rep->element[0];
	keys = rep->element[1];
	memcpy(r->cursor, cur->str, cur->len);
	r->cursor[cur->len] = 0;
	b = calloc(1, sizeof(*b));
	if (!b) {
		link_down(r, "out of memory while loading");
		return;
	}
	for (size_t i = 0; i < keys->elements && b->n < REDIS_BATCH; i++) {
		redisReply *kr = keys->element[i];
		struct load_key *k = &b->k[b->n];

		/* Only the keys this prefix makes: not those of a deployment under PREFIXe:... */
		if (kr->type != REDIS_REPLY_STRING || kr->len >= sizeof(k->key) ||
		    syncwire_key_parse(r->prefix, kr->str, kr->len, &k->addr, &k->bits) < 0) {
			r->load_foreign++;
			continue;
		}
		memcpy(k->key, kr->str, kr->len);
		k->keylen = kr->len;
		k->b = b;
		k->ttl_ms = -1;
		b->n++;
	}
	if (b->n == 0) {
		free(b);
		load_next(r);
		return;
	}
	/* Pipelined: at most SYNCWIRE_LINE_MAX + 1 bytes of each value are read. */
	r->batch = b;
	b->pending = 2 * b->n;
	for (size_t i = 0; i < b->n; i++) {
		struct load_key *k = &b->k[i];
		char hi[16];

		snprintf(hi, sizeof(hi), "%d", SYNCWIRE_LINE_MAX);
		if (redisAsyncCommand(r->cmd, on_getrange, k, "GETRANGE %b 0 %s", k->key, k->keylen,
		                      hi) == REDIS_OK)
			sent(r);
		else
			b->pending--, b->aborted = true;
		if (redisAsyncCommand(r->cmd, on_pttl, k, "PTTL %b", k->key, k->keylen) == REDIS_OK)
			sent(r);
		else
			b->pending--, b->aborted = true;
	}
	if (b->pending == 0) { /* nothing could be sent: the context is gone */
		r->batch = NULL;
		free(b);
	}
}

/* The next SCAN batch, or the end of the load when the cursor came back to 0. */
static void load_next(struct redis *r)
{
	char count[16];

	if (strcmp(r->cursor, "0") == 0) {
		load_done(r);
		return;
	}
	snprintf(count, sizeof(count), "%d", REDIS_BATCH);
	if (redisAsyncCommand(r->cmd, on_scan, NULL, "SCAN %s MATCH %s COUNT %s", r->cursor,
	                      r->match, count) == REDIS_OK)
		sent(r);
}

/* The store's marker: absent, or set less than REDIS_REFILL_GRACE_S ago, means a Redis that
 * lost its data (peers are pushing theirs again): what is missing was not deleted. */
static void on_marker(redisAsyncContext *ac, void *reply, void *priv)
{
	struct redis *r = cmd_reply(ac, reply);
	redisReply *rep = reply;
	uint64_t since = 0;

	(void)priv;
	if (!r)
		return;
	if (rep->type == REDIS_REPLY_STRING) {
		char v[24];

		snprintf(v, sizeof(v), "%.*s", (int)(rep->len < 23 ? rep->len : 23), rep->str);
		since = strtoull(v, NULL, 10);
	}
	r->store_fresh =
	    rep->type != REDIS_REPLY_STRING || since + REDIS_REFILL_GRACE_S > wall_us() / 1000000u;
}

/* ------------------------------------------------------------- the prune */

/* Local peer entries whose key is asked about (EXISTS). */
struct prune_key {
	struct prune_batch *b;
	struct wl_entry e;
	int exists; /* -1 before the reply */
};

struct prune_batch {
	size_t n, pending;
	bool aborted;
	struct prune_key k[REDIS_BATCH];
};

static void on_exists(redisAsyncContext *ac, void *reply, void *priv)
{
	struct prune_key *k = priv;
	struct prune_batch *b = k->b;
	struct redis *r = cmd_reply(ac, reply);
	redisReply *rep = reply;

	if (!r)
		b->aborted = true;
	else
		k->exists = rep->type == REDIS_REPLY_INTEGER ? (rep->integer > 0) : 1;
	if (--b->pending)
		return;
	if (b->aborted || !r || r->pbatch != b) {
		free(b);
		return;
	}
	r->pbatch = NULL;
	r->applying = true;
	r->applying_lag_us = -1;
	for (size_t i = 0; i < b->n; i++) {
		struct wl_entry now_e;

		/* Gone from Redis, and unchanged here since it was asked about. */
		if (b->k[i].exists == 0 &&
		    whitelist_lookup(mx_whitelist(r->d->mx), &b->k[i].e.addr, daemon_now(),
		                     &now_e) &&
		    now_e.reason == WL_REASON_PEER && now_e.deadline == b->k[i].e.deadline &&
		    mx_peer_del(r->d->mx, &now_e.addr, daemon_now()) > 0)
			r->pruned++;
	}
	r->applying = false;
	free(b);
	applied(r);
	prune_next(r);
}

/* The next batch of local peer entries to check, or the push when all were. */
static void prune_next(struct redis *r)
{
	struct prune_batch *b = calloc(1, sizeof(*b));
	size_t budget = 8 * REDIS_BATCH;
	mxa_time now = daemon_now();
	struct wl_entry e;
	int rc = 1;

	if (!b) {
		link_down(r, "out of memory while loading");
		return;
	}
	while (b->n < REDIS_BATCH &&
	       (rc = whitelist_iter(mx_whitelist(r->d->mx), &r->prune_it, now, &budget, &e)) == 1)
		if (e.reason == WL_REASON_PEER)
			b->k[b->n++] = (struct prune_key){.b = b, .e = e, .exists = -1};
	if (b->n == 0) {
		free(b);
		if (rc == -EAGAIN) { /* a whitelist of many local entries: the rest later */
			schedule_flush(r);
			return;
		}
		r->pruning = false;
		if (r->pruned)
			log_msg(LOG_NOTICE,
			        "redis: %s: removed %" PRIu64
			        " entries of peers that were deleted while this host was away",
			        r->where, r->pruned);
		push_start(r);
		return;
	}
	r->pbatch = b;
	b->pending = b->n;
	for (size_t i = 0; i < b->n; i++) {
		char key[SYNCWIRE_KEY_MAX];

		if (syncwire_key(r->prefix, &b->k[i].e.addr,
		                 mx_key_prefix(r->d->mx, &b->k[i].e.addr), key, sizeof(key)) >= 0 &&
		    redisAsyncCommand(r->cmd, on_exists, &b->k[i], "EXISTS %s", key) == REDIS_OK)
			sent(r);
		else
			b->pending--, b->k[i].exists = 1;
	}
	if (b->pending == 0) {
		r->pbatch = NULL;
		free(b);
		schedule_flush(r);
	}
}

/* ------------------------------------------------------------- the push */

static void push_start(struct redis *r)
{
	r->pushing = true;
	memset(&r->push_it, 0, sizeof(r->push_it));
	r->pushed = 0;
	schedule_flush(r);
}

/* One batch of the push after a (re)connect: own live entries, a cursor walk that stays
 * right while entries come and go between batches (whitelist_iter()). */
static void push_batch(struct redis *r)
{
	size_t budget = 8 * REDIS_BATCH, n = 0;
	mxa_time now = daemon_now();
	uint64_t t_us = wall_us();
	struct wl_entry e;
	int rc = 1;

	while (n < REDIS_BATCH &&
	       (rc = whitelist_iter(mx_whitelist(r->d->mx), &r->push_it, now, &budget, &e)) == 1)
		if (shared_reason(e.reason) && write_entry(r, &e, t_us)) {
			r->pushed++;
			n++;
		}
	if (rc == 0) {
		r->pushing = false;
		r->synced = true;
		r->backoff_ms = REDIS_BACKOFF_MIN_MS;
		r->n_reasons = 0; /* a new outage is news again */
		r->connect_logged = false;
		log_msg(LOG_NOTICE, "redis: %s: in sync: pushed %" PRIu64 " own entries", r->where,
		        r->pushed);
	}
}

/* The writer: the prune and push after a connect, then the queue, within the rate and the
 * window. */
static void on_flush(evutil_socket_t fd, short what, void *arg)
{
	struct redis *r = arg;
	struct syncq_item it;
	size_t n = 0;

	(void)fd;
	(void)what;
	if (r->state != LINK_UP || !r->cmd || r->loading)
		return;
	if (r->pruning) {
		if (!r->pbatch)
			prune_next(r);
		if (r->pruning)
			return; /* the next batch after this one's replies */
	}
	if (r->pushing) {
		if (r->inflight < REDIS_INFLIGHT_MAX / 2)
			push_batch(r);
		if (r->pushing) {
			/* The next batch: after this one's replies, or at once when it sent
			 * nothing. */
			if (r->inflight < REDIS_INFLIGHT_MAX / 2)
				schedule_flush(r);
			return;
		}
	}
	while (n < REDIS_BATCH && r->inflight + 2 <= REDIS_INFLIGHT_MAX && syncq_len(r->q)) {
		if (!tokenbucket_take(&r->tb, (int64_t)mono_ms()))
			break; /* the 1 s watch calls again */
		syncq_pop(r->q, &it);
		n++;
		write_item(r, &it);
	}
	if (syncq_len(r->q) && n == REDIS_BATCH && r->inflight < REDIS_INFLIGHT_MAX / 2)
		schedule_flush(r);
}

void redis_changed(struct redis *r, const struct wl_entry *e, bool deleted)
{
	if (r->applying || (!deleted && !shared_reason(e->reason)))
		return;
	/* While away, additions are not queued: the push after the connection sends them all. */
	if (!deleted && r->state != LINK_UP)
		return;
	if (syncq_push(r->q, &e->addr, deleted ? SYNCQ_DEL : SYNCQ_PUT, wall_us()) == SYNCQ_FULL)
		r->st.dropped = syncq_dropped(r->q);
	schedule_flush(r);
}

/* ------------------------------------------------------------- connecting */

static void on_connect(const redisAsyncContext *cac, int status)
{
	redisAsyncContext *ac = (redisAsyncContext *)cac;
	struct redis *r = ac->data;
	char why[200];

	if (!r)
		return;
	if (status != REDIS_OK) {
		/* hiredis frees the context after this callback */
		if (ac == r->cmd)
			r->cmd = NULL;
		else if (ac == r->sub)
			r->sub = NULL;
		ac->data = NULL;
		snprintf(why, sizeof(why), "cannot connect: %s",
		         ac->errstr[0] ? ac->errstr : "error");
		link_down(r, why);
		return;
	}
	if (ac == r->cmd)
		r->cmd_ready = true;
	else if (ac == r->sub)
		r->sub_ready = true;
	link_start(r);
}

static void on_disconnect(const redisAsyncContext *cac, int status)
{
	redisAsyncContext *ac = (redisAsyncContext *)cac;
	struct redis *r = ac->data;
	char why[200];

	(void)status;
	if (!r)
		return;
	/* hiredis frees the context after this callback */
	if (ac == r->cmd)
		r->cmd = NULL;
	else if (ac == r->sub)
		r->sub = NULL;
	ac->data = NULL;
	snprintf(why, sizeof(why), "connection lost: %s",
	         ac->err && ac->errstr[0] ? ac->errstr : "closed by the server");
	link_down(r, why);
}

/* AUTH and SELECT first on a new connection: queued before anything else. */
static void conn_setup(struct redis *r, redisAsyncContext *ac)
{
	if (r->url.password[0]) {
		if (r->url.user[0])
			redisAsyncCommand(ac, on_setup_reply, "AUTH", "AUTH %s %s", r->url.user,
			                  r->url.password);
		else
			redisAsyncCommand(ac, on_setup_reply, "AUTH", "AUTH %s", r->url.password);
		if (ac == r->cmd)
			sent(r);
	}
	if (r->url.db) {
		redisAsyncCommand(ac, on_setup_reply, "SELECT", "SELECT %u", (unsigned)r->url.db);
		if (ac == r->cmd)
			sent(r);
	}
}

static redisAsyncContext *conn_open(struct redis *r, char *why, size_t whylen)
{
	redisAsyncContext *ac = r->url.unix_socket ? redisAsyncConnectUnix(r->url.path)
	                                           : redisAsyncConnect(r->ip, r->url.port);

	if (!ac) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	if (ac->err) {
		snprintf(why, whylen, "cannot connect: %s", ac->errstr);
		redisAsyncFree(ac);
		return NULL;
	}
	ac->data = r;
	if (redisLibeventAttach(ac, r->d->base) != REDIS_OK) {
		snprintf(why, whylen, "cannot attach to the event loop");
		ac->data = NULL;
		redisAsyncFree(ac);
		return NULL;
	}
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	return ac;
}

static void connect_both(struct redis *r)
{
	char why[200];

	r->state = LINK_CONNECTING;
	r->attempt_ms = mono_ms();
	r->inflight = 0;
	r->cmd = conn_open(r, why, sizeof(why));
	if (r->cmd)
		r->sub = conn_open(r, why, sizeof(why));
	if (!r->cmd || !r->sub) {
		link_down(r, why);
		return;
	}
	redisEnableKeepAlive(&r->cmd->c);
	redisEnableKeepAlive(&r->sub->c);
	conn_setup(r, r->cmd);
	conn_setup(r, r->sub);
	if (redisAsyncCommand(r->sub, on_message, NULL, "SUBSCRIBE %s", r->channel) != REDIS_OK)
		link_down(r, "cannot send SUBSCRIBE");
}

/*
 * Both connected and subscribed: the link is up. First the changes that
 * waited (deletions made while away: written before the load reads the keys,
 * on the same connection, so Redis has them first), the hello and the store's
 * marker; then the load (SCAN), the prune, the push; the writer runs after.
 */
static void link_start(struct redis *r)
{
	struct syncq_item it;
	char now_s[24];

	if (r->state != LINK_CONNECTING || !r->cmd_ready || !r->sub_ready || !r->subscribed)
		return;
	r->state = LINK_UP;
	r->st.connected = 1;
	r->synced = false;
	if (r->ever_up)
		r->st.reconnects++;
	/* Once per outage: a load that fails every time says so once, not at every attempt. */
	log_msg(r->connect_logged ? LOG_DEBUG : LOG_NOTICE,
	        "redis: %s: connected%s (node %s, prefix %s); loading the live entries", r->where,
	        r->ever_up ? " again" : "", r->node, r->prefix);
	r->connect_logged = true;
	r->ever_up = true;
	r->waiting_since_ms = mono_ms();
	while (syncq_pop(r->q, &it)) /* bounded by the queue, once per connection */
		write_item(r, &it);
	send_hello(r);
	r->store_fresh = true;
	if (redisAsyncCommand(r->cmd, on_marker, NULL, "GET %sstore", r->prefix) == REDIS_OK)
		sent(r);
	snprintf(now_s, sizeof(now_s), "%" PRIu64, wall_us() / 1000000u);
	if (redisAsyncCommand(r->cmd, on_write_reply, NULL, "SET %sstore %s NX", r->prefix,
	                      now_s) == REDIS_OK)
		sent(r);
	r->loading = true;
	r->loaded = r->load_rejected = r->load_own = r->load_foreign = 0;
	snprintf(r->cursor, sizeof(r->cursor), "start");
	{
		char count[16];

		snprintf(count, sizeof(count), "%d", REDIS_BATCH);
		if (redisAsyncCommand(r->cmd, on_scan, NULL, "SCAN 0 MATCH %s COUNT %s", r->match,
		                      count) == REDIS_OK)
			sent(r);
	}
}

static void on_resolved(int result, struct evutil_addrinfo *res, void *arg)
{
	struct redis *r = arg;
	char why[300];

	if (result == EVUTIL_EAI_CANCEL)
		return;
	r->dns_req = NULL;
	if (result != 0 || !res) {
		snprintf(why, sizeof(why), "cannot resolve %s: %s", r->url.host,
		         evutil_gai_strerror(result));
		if (res)
			evutil_freeaddrinfo(res);
		link_down(r, why);
		return;
	}
	if (evutil_inet_ntop(res->ai_family,
	                     res->ai_family == AF_INET
	                         ? (const void *)&((struct sockaddr_in *)res->ai_addr)->sin_addr
	                         : (const void *)&((struct sockaddr_in6 *)res->ai_addr)->sin6_addr,
	                     r->ip, sizeof(r->ip)) == NULL) {
		evutil_freeaddrinfo(res);
		link_down(r, "cannot read the resolved address");
		return;
	}
	evutil_freeaddrinfo(res);
	connect_both(r);
}

static void attempt(struct redis *r)
{
	mxa_addr a;

	r->attempt_ms = mono_ms();
	if (r->url.unix_socket || addr_parse(&a, r->url.host) == 0) {
		if (!r->url.unix_socket)
			snprintf(r->ip, sizeof(r->ip), "%.*s", (int)sizeof(r->ip) - 1, r->url.host);
		connect_both(r);
		return;
	}
	/* A host name: resolved on the loop, never with a blocking getaddrinfo(). */
	{
		struct evutil_addrinfo hints = {.ai_family = AF_UNSPEC,
		                                .ai_socktype = SOCK_STREAM,
		                                .ai_flags = EVUTIL_AI_ADDRCONFIG};
		struct evdns_getaddrinfo_request *req;

		r->state = LINK_RESOLVING;
		req = evdns_getaddrinfo(r->dns, r->url.host, NULL, &hints, on_resolved, r);
		if (r->state == LINK_RESOLVING && !r->cmd)
			r->dns_req = req; /* NULL when it answered at once (hosts file) */
	}
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	attempt(arg);
}

/* Every second: a connection that takes too long, a Redis that stopped answering, logs. */
static void on_watch(evutil_socket_t fd, short what, void *arg)
{
	struct redis *r = arg;
	uint64_t now = mono_ms();

	(void)fd;
	(void)what;
	if ((r->state == LINK_CONNECTING || r->state == LINK_RESOLVING) &&
	    now - r->attempt_ms > REDIS_CONNECT_TIMEOUT_MS)
		link_down(
		    r, r->state == LINK_RESOLVING ? "the host name did not resolve within 2 s"
		       : r->cmd_ready && r->sub_ready
		           ? "connected, but no answer to AUTH or SUBSCRIBE within 2 s (not Redis?)"
		           : "no connection within 2 s (unreachable, or not answering)");
	else if (r->inflight && now - r->waiting_since_ms > REDIS_STALL_MS)
		link_down(r, "no reply for 5 s (too slow or stuck): reconnecting");
	if (r->state == LINK_UP)
		schedule_flush(r);
	r->st.dropped = syncq_dropped(r->q);
	if (r->st.dropped != r->dropped_logged && now - r->dropped_log_ms >= 10000) {
		log_msg(LOG_WARNING,
		        "redis: %" PRIu64 " whitelist changes not written (%" PRIu64
		        " so far): %d were waiting, at most %d are written a second; peers learn "
		        "these entries only from their own traffic",
		        r->st.dropped - r->dropped_logged, r->st.dropped, REDIS_QUEUE_MAX,
		        REDIS_WRITE_RATE);
		r->dropped_logged = r->st.dropped;
		r->dropped_log_ms = now;
	}
	if (r->errlines_seen) {
		log_msg(LOG_ERR,
		        "redis: %s: %" PRIu64 " more errors not logged (rejected so far: %" PRIu64
		        ")",
		        r->where, r->errlines_seen, r->st.rejected);
		r->errlines_seen = 0;
	}
}

/* ------------------------------------------------------------- life */

static void default_node(char *buf, size_t len)
{
	char host[256];
	size_t n = 0;

	if (gethostname(host, sizeof(host)) < 0)
		host[0] = 0;
	host[sizeof(host) - 1] = 0;
	for (const char *p = host; *p && n + 1 < len && n < SYNCWIRE_NODE_MAX; p++) {
		char c = *p;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '.' || c == '-' || c == '_')
			buf[n++] = c;
	}
	buf[n] = 0;
	if (!n)
		snprintf(buf, len, "mxallowd-%ld", (long)getpid());
}

struct redis *redis_new(struct daemon *d, char *err, size_t errlen)
{
	struct redis *r = calloc(1, sizeof(*r));
	char why[CONFIG_ERRLEN / 2];
	uint64_t hkey[2];

	if (!r) {
		snprintf(err, errlen, "redis: out of memory");
		return NULL;
	}
	r->d = d;
	if (redisurl_parse(d->cfg.redis, &r->url, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "redis: %s", why);
		free(r);
		return NULL;
	}
	redisurl_where(&r->url, r->where, sizeof(r->where));
	snprintf(r->prefix, sizeof(r->prefix), "%s", d->cfg.redis_prefix);
	if (d->cfg.node_name)
		snprintf(r->node, sizeof(r->node), "%s", d->cfg.node_name);
	else
		default_node(r->node, sizeof(r->node));
	snprintf(r->channel, sizeof(r->channel), "%sevents", r->prefix);
	snprintf(r->match, sizeof(r->match), "%se:*", r->prefix);
	if (getentropy(hkey, sizeof(hkey)) < 0)
		hkey[0] = (uint64_t)time(NULL), hkey[1] = ~hkey[0];
	if (getentropy(&r->instance, sizeof(r->instance)) < 0)
		r->instance = wall_us() ^ ((uint64_t)getpid() << 40);
	r->q = syncq_new(REDIS_QUEUE_MAX, hkey);
	tokenbucket_init(&r->tb, REDIS_WRITE_RATE, REDIS_WRITE_RATE, (int64_t)mono_ms());
	r->errlines.per_second = 5;
	r->backoff_ms = REDIS_BACKOFF_MIN_MS / 2;
	r->ev_retry = evtimer_new(d->base, on_retry, r);
	r->ev_flush = evtimer_new(d->base, on_flush, r);
	r->ev_watch = event_new(d->base, -1, EV_PERSIST, on_watch, r);
	if (!r->url.unix_socket && addr_parse(&(mxa_addr){0}, r->url.host) < 0)
		r->dns = evdns_base_new(d->base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
		                                     EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (!r->q || !r->ev_retry || !r->ev_flush || !r->ev_watch ||
	    (!r->dns && !r->url.unix_socket && addr_parse(&(mxa_addr){0}, r->url.host) < 0)) {
		snprintf(err, errlen, "redis: cannot set up (out of memory, or no resolver)");
		return redis_free(r);
	}
	{
		struct timeval one = {1, 0};

		event_add(r->ev_watch, &one);
	}
	attempt(r);
	return r;
}

struct redis *redis_free(struct redis *r)
{
	if (!r)
		return NULL;
	if (r->dns_req) {
		struct evdns_getaddrinfo_request *req = r->dns_req;

		r->dns_req = NULL;
		evdns_getaddrinfo_cancel(req);
	}
	free_conn(&r->cmd);
	free_conn(&r->sub);
	if (r->ev_retry)
		event_free(r->ev_retry);
	if (r->ev_flush)
		event_free(r->ev_flush);
	if (r->ev_watch)
		event_free(r->ev_watch);
	if (r->dns)
		evdns_base_free(r->dns, 0);
	syncq_free(r->q);
	free(r);
	return NULL;
}

bool redis_applying(const struct redis *r)
{
	return r && r->applying;
}

int64_t redis_applying_lag_us(const struct redis *r)
{
	return r && r->applying ? r->applying_lag_us : -1;
}

const struct redis_stats *redis_stats(const struct redis *r)
{
	return &r->st;
}

const char *redis_node(const struct redis *r)
{
	return r->node;
}
