/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The shared whitelist through Redis (see redis.h): hiredis's asynchronous
 * API on the daemon's libevent loop. Two connections: one for commands, one
 * subscribed to the events channel (a subscribed connection takes no other
 * command). Either failing takes both down; both come back together: first
 * the subscription, then the load, so no event falls between them.
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
	uint64_t attempt_ms; /* when the current attempt started */
	bool outage_logged;  /* one line per outage */
	char last_error[160];
	/* Commands sent on cmd and not answered yet, and since when the oldest waits. */
	uint32_t inflight;
	uint64_t waiting_since_ms;
	/* The load after a (re)connect: SCAN cursor, then MGET of each batch. */
	bool loading;
	char cursor[24];
	uint64_t loaded, load_rejected;
	/* Pushing the own live entries after a (re)connect: whitelist position. */
	bool pushing;
	size_t push_pos;
	uint64_t pushed;
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
	if (!r->outage_logged || strncmp(r->last_error, why, sizeof(r->last_error) - 1) != 0) {
		log_msg(LOG_ERR,
		        "redis: %s: %s; deciding locally, retrying every %u ms at most "
		        "(entries learnt meanwhile are pushed when it is back)",
		        r->where, why, REDIS_BACKOFF_MAX_MS);
		r->outage_logged = true;
		snprintf(r->last_error, sizeof(r->last_error), "%s", why);
	}
	if (r->dns_req) {
		struct evdns_getaddrinfo_request *req = r->dns_req;

		r->dns_req = NULL;
		evdns_getaddrinfo_cancel(req);
	}
	free_conn(&r->cmd);
	free_conn(&r->sub);
	r->cmd_ready = r->sub_ready = r->subscribed = false;
	r->inflight = 0;
	r->loading = r->pushing = false;
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
	if (was_up)
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

static void apply(struct redis *r, const struct syncwire_msg *m, int64_t lag_us)
{
	struct daemon *d = r->d;
	mxa_time now = daemon_now();
	int64_t left = m->deadline - (int64_t)(wall_us() / 1000000u);
	mxa_addr origin;

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

static void on_message(redisAsyncContext *ac, void *reply, void *priv)
{
	struct redis *r = ac->data;
	redisReply *rep = reply, *kind, *payload;
	struct syncwire_msg m;
	char why[160];
	uint64_t now_us;

	(void)priv;
	if (!r || ac != r->sub || !rep)
		return;
	if (rep->type == REDIS_REPLY_ERROR) {
		char w[300];

		snprintf(w, sizeof(w), "SUBSCRIBE refused: %.*s",
		         (int)(rep->len > 200 ? 200 : rep->len), rep->str);
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
	if (syncwire_parse(payload->str, payload->len, &m, why, sizeof(why)) < 0 ||
	    m.kind == SYNCWIRE_ENTRY) {
		reject(r, "an event", m.kind == SYNCWIRE_ENTRY ? "an entry, not an event" : why);
		return;
	}
	if (strcmp(m.node, r->node) == 0)
		return; /* our own announcement */
	if (!peer_key_ok(r, &m, "an event"))
		return;
	now_us = wall_us();
	apply(r, &m, now_us > m.t_us ? (int64_t)(now_us - m.t_us) : 0);
	applied(r);
}

/* ------------------------------------------------------------- the load (SCAN + MGET) */

static void load_next(struct redis *r);

static void load_done(struct redis *r)
{
	r->loading = false;
	log_msg(LOG_NOTICE,
	        "redis: %s: loaded %" PRIu64 " live entries of peers (%" PRIu64
	        " refused); pushing this host's own",
	        r->where, r->loaded, r->load_rejected);
	r->pushing = true;
	r->push_pos = 0;
	r->pushed = 0;
	schedule_flush(r);
}

static void on_mget(redisAsyncContext *ac, void *reply, void *priv)
{
	struct redis *r = cmd_reply(ac, reply);
	redisReply *rep = reply;

	(void)priv;
	if (!r)
		return;
	if (rep->type != REDIS_REPLY_ARRAY) {
		link_down(r, "MGET did not answer an array");
		return;
	}
	for (size_t i = 0; i < rep->elements; i++) {
		redisReply *v = rep->element[i];
		struct syncwire_msg m;
		char why[160] = "";

		if (v->type != REDIS_REPLY_STRING)
			continue; /* expired between SCAN and MGET */
		if (syncwire_parse(v->str, v->len, &m, why, sizeof(why)) < 0 ||
		    m.kind != SYNCWIRE_ENTRY) {
			r->load_rejected++;
			reject(r, "a stored entry",
			       m.kind != SYNCWIRE_ENTRY && why[0] == 0 ? "an event, not an entry"
			                                               : why);
			continue;
		}
		if (!peer_key_ok(r, &m, "a stored entry")) {
			r->load_rejected++;
			continue;
		}
		apply(r, &m, -1);
		r->loaded++;
	}
	applied(r);
	load_next(r);
}

static void on_scan(redisAsyncContext *ac, void *reply, void *priv)
{
	struct redis *r = cmd_reply(ac, reply);
	redisReply *rep = reply, *cur, *keys;
	const char **argv;
	size_t *argl;

	(void)priv;
	if (!r)
		return;
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
	    rep->element[0]->type != REDIS_REPLY_STRING ||
	    rep->element[1]->type != REDIS_REPLY_ARRAY ||
	    rep->element[0]->len >= sizeof(r->cursor)) {
		link_down(r, rep->type == REDIS_REPLY_ERROR ? "SCAN refused"
		                                            : "SCAN answered garbage");
		return;
	}
	cur = rep->element[0];
	keys = rep->element[1];
	memcpy(r->cursor, cur->str, cur->len);
	r->cursor[cur->len] = 0;
	if (keys->elements == 0) {
		load_next(r);
		return;
	}
	argv = malloc((keys->elements + 1) * sizeof(*argv));
	argl = malloc((keys->elements + 1) * sizeof(*argl));
	if (!argv || !argl) {
		free(argv);
		free(argl);
		link_down(r, "out of memory while loading");
		return;
	}
	argv[0] = "MGET";
	argl[0] = 4;
	for (size_t i = 0; i < keys->elements; i++) {
		argv[i + 1] = keys->element[i]->str;
		argl[i + 1] = keys->element[i]->len;
	}
	if (redisAsyncCommandArgv(r->cmd, on_mget, NULL, (int)keys->elements + 1, argv, argl) ==
	    REDIS_OK)
		sent(r);
	free(argv);
	free(argl);
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

static bool shared_reason(enum wl_reason why)
{
	return why != WL_REASON_PEER && why != WL_REASON_STATIC;
}

/* One batch of the push after a (re)connect: own live entries from whitelist position @pos. */
struct push {
	struct redis *r;
	size_t pos, skip, sent;
	mxa_time now;
	uint64_t t_us;
};

static int push_one(void *ctx, const struct wl_entry *e)
{
	struct push *p = ctx;

	if (p->pos++ < p->skip)
		return 0;
	if (e->deadline > p->now && shared_reason(e->reason) && write_entry(p->r, e, p->t_us))
		p->r->pushed++;
	return ++p->sent >= REDIS_BATCH ? 1 : 0;
}

static void push_batch(struct redis *r)
{
	struct push p = {r, 0, r->push_pos, 0, daemon_now(), wall_us()};
	int stopped = whitelist_foreach(mx_whitelist(r->d->mx), push_one, &p);

	r->push_pos += p.sent;
	if (!stopped) {
		r->pushing = false;
		r->backoff_ms = REDIS_BACKOFF_MIN_MS;
		log_msg(LOG_NOTICE, "redis: %s: in sync: pushed %" PRIu64 " own entries", r->where,
		        r->pushed);
	}
}

/* The writer: the push after a connect, then the queue, within the rate and the window. */
static void on_flush(evutil_socket_t fd, short what, void *arg)
{
	struct redis *r = arg;
	struct syncq_item it;
	struct wl_entry e;
	size_t n = 0;

	(void)fd;
	(void)what;
	if (r->state != LINK_UP || !r->cmd || r->loading)
		return;
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
		if (it.kind == SYNCQ_DEL)
			write_del(r, &it.key, it.since_us);
		else if (whitelist_lookup(mx_whitelist(r->d->mx), &it.key, daemon_now(), &e) &&
		         shared_reason(e.reason))
			write_entry(r, &e, it.since_us);
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
 * Both connected and subscribed: the link is up. The load (SCAN) starts now;
 * after it the push; the writer runs after both.
 */
static void link_start(struct redis *r)
{
	if (r->state != LINK_CONNECTING || !r->cmd_ready || !r->sub_ready || !r->subscribed)
		return;
	r->state = LINK_UP;
	r->st.connected = 1;
	if (r->ever_up)
		r->st.reconnects++;
	log_msg(LOG_NOTICE, "redis: %s: connected%s (node %s, prefix %s); loading the live entries",
	        r->where, r->ever_up ? " again" : "", r->node, r->prefix);
	r->ever_up = true;
	r->outage_logged = false;
	r->last_error[0] = 0;
	r->loading = true;
	r->loaded = r->load_rejected = 0;
	snprintf(r->cursor, sizeof(r->cursor), "start");
	r->waiting_since_ms = mono_ms();
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
