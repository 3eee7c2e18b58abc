/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * SIGHUP: read the configuration again, resolve the server names without
 * blocking the loop (verdicts go on meanwhile), then swap the new values in,
 * all or nothing: a step that fails (the kernel refusing the new allow
 * lists, say) leaves the previous configuration in force everywhere.
 * Restart-only keys keep their running values, with a warning naming them.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/dns.h>
#include <event2/util.h>

#include "allowfile.h"
#include "daemon.h"
#include "log.h"
#include "nfqueue.h"
#include "resolve.h"
#include "sdnotify.h"

#define NAME_MAX_ADDRS 64

struct name {
	struct reload *r;
	const char *spec; /* points into r->next */
	struct evdns_getaddrinfo_request *req;
	mxa_addr addrs[NAME_MAX_ADDRS];
	int n; /* addresses, or a negative errno */
	char why[128];
	bool done;
};

struct reload {
	struct daemon *d;
	struct evdns_base *dns;
	struct config next;
	struct name *names;
	size_t n_names, pending;
	bool starting;   /* callbacks that come while requests are issued do not finish */
	bool again;      /* another SIGHUP came meanwhile */
	char notes[576]; /* for reload_start_cb() callers: restart-only keys kept */
};

/* A reload_start_cb() caller, answered once the run numbered @run (or a later one) ends. */
struct reload_waiter {
	reload_done_fn done;
	void *ctx;
	uint64_t run;
	struct reload_waiter *next;
};

/* Gives @text to the callers waiting for the run that just ended (d->reload_runs). */
static void reload_answer(struct daemon *d, bool ok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void reload_answer(struct daemon *d, bool ok, const char *fmt, ...)
{
	struct reload_waiter **p = &d->reload_waiters, *w, *ready = NULL;
	char text[CONFIG_ERRLEN + 640];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	while ((w = *p)) {
		if (w->run <= d->reload_runs) {
			*p = w->next;
			w->next = ready;
			ready = w;
		} else {
			p = &w->next;
		}
	}
	while ((w = ready)) {
		ready = w->next;
		w->done(w->ctx, ok, text);
		free(w);
	}
}

/* The end of a run that failed: logged, and answered to the callers waiting for it. */
static void reload_failed(struct daemon *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void reload_failed(struct daemon *d, const char *fmt, ...)
{
	char text[CONFIG_ERRLEN + 128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	log_msg(LOG_ERR, "%s", text);
	reload_answer(d, false, "%s", text);
}

static void reload_destroy(struct reload *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_names; i++)
		if (!r->names[i].done && r->names[i].req)
			evdns_getaddrinfo_cancel(r->names[i].req); /* its callback marks it done */
	if (r->dns)
		evdns_base_free(r->dns, 1); /* the cancelled requests are freed, not leaked */
	config_clear(&r->next);
	free(r->names);
	free(r);
}

void reload_free(struct daemon *d)
{
	reload_destroy(d->reload);
	d->reload = NULL;
	while (d->reload_waiters) {
		struct reload_waiter *w = d->reload_waiters;

		d->reload_waiters = w->next;
		free(w);
	}
}

/* The resolver config_resolve_servers() sees: the answers gathered above. */
static int cached(void *ctx, const char *spec, mxa_addr *out, size_t max, char *why, size_t len)
{
	struct reload *r = ctx;

	for (size_t i = 0; i < r->n_names; i++) {
		struct name *nm = &r->names[i];
		size_t n;

		if (strcmp(nm->spec, spec) != 0)
			continue;
		if (nm->n < 0) {
			snprintf(why, len, "%s", nm->why);
			return nm->n;
		}
		n = (size_t)nm->n < max ? (size_t)nm->n : max;
		memcpy(out, nm->addrs, n * sizeof(*out));
		return (int)n;
	}
	snprintf(why, len, "not resolved");
	return -ENOENT;
}

/*
 * The new allow lists into the kernel's static table, before anything else
 * changes. Table mode: any failure fails the reload (the kernel alone
 * admits). Hybrid mode: a writer or ruleset without such a table is no
 * failure, as at start (the queue admits them); a table that refused the new
 * list is, as it would go on admitting the old networks by itself.
 */
static int write_static(struct daemon *d, const struct netset *statics, char *err, size_t errlen)
{
	int r = daemon_table_static(d, statics, err, errlen);

	if (r < 0 && !d->pf && (r == -ENOTSUP || r == -ENOENT)) {
		log_msg(LOG_WARNING,
		        "reload: allow lists stay out of the kernel (the queue admits "
		        "them): %s",
		        err);
		return 0;
	}
	return r;
}

/* A step after write_static() failed: the kernel gets the running lists back. */
static void unwrite_static(struct daemon *d)
{
	char err[CONFIG_ERRLEN];

	if (write_static(d, mx_static(d->mx), err, sizeof(err)) < 0)
		log_msg(
		    LOG_ERR,
		    "reload: allow lists: cannot put the running lists back into the kernel: %s",
		    err);
}

/*
 * All or nothing: each step that can fail comes before the core takes the
 * new allow lists, and a failure puts back what the steps before it changed.
 */
static void apply(struct daemon *d, struct config *c, struct config_servers *s)
{
	struct mx_params p;
	char names[512], allow_err[CONFIG_ERRLEN];
	struct netset *statics;
	bool requeued = false;

	/* First keep what only a restart changes: the core must go on with the running prefixes. */
	if (config_restart_changes(&d->cfg, c, names, sizeof(names)) > 0)
		log_msg(LOG_WARNING, "reload: %s: take effect on restart; running values kept",
		        names);
	if (d->reload && names[0])
		snprintf(d->reload->notes, sizeof(d->reload->notes),
		         "; %s: take effect on restart, running values kept", names);
	if (config_keep_restart(c, &d->cfg) < 0) {
		reload_failed(d, "reload failed: out of memory; keeping previous configuration");
		config_servers_clear(s);
		return;
	}
	if (daemon_check_hold(c, names, sizeof(names)) < 0) {
		reload_failed(d, "reload failed: %s; keeping previous configuration", names);
		config_servers_clear(s);
		return;
	}
	/* The allow lists are read whole before anything changes: a bad line keeps the old ones. */
	if (allowfile_build(c, &statics, allow_err, sizeof(allow_err)) < 0) {
		reload_failed(d, "reload failed: %s; keeping previous configuration", allow_err);
		config_servers_clear(s);
		return;
	}
	if (write_static(d, statics, allow_err, sizeof(allow_err)) < 0) {
		reload_failed(d,
		              "reload failed: allow lists: %s; keeping previous configuration and "
		              "allow lists",
		              allow_err);
		config_servers_clear(s);
		netset_free(statics);
		return;
	}
	daemon_fill_params(&p, c, s);
	if (mx_set_params(d->mx, &p) < 0) {
		unwrite_static(d);
		reload_failed(d,
		              "reload failed: invalid parameters; keeping previous configuration");
		config_servers_clear(s);
		netset_free(statics);
		return;
	}
	/* The kernel queue first: what the hold may use depends on the length it really has. */
	if (d->q && (c->queue_maxlen != d->cfg.queue_maxlen || c->fail_open != d->cfg.fail_open)) {
		if (nfqueue_configure(d->q, c->queue_maxlen, c->fail_open) < 0) {
			log_msg(LOG_WARNING,
			        "reload: the kernel refused queue-maxlen %" PRIu32
			        " / fail-open %s; the running values stay",
			        c->queue_maxlen, c->fail_open ? "yes" : "no");
			c->queue_maxlen = d->cfg.queue_maxlen;
			c->fail_open = d->cfg.fail_open;
		} else {
			requeued = true;
		}
	}
	/* The held SYNs stay held (or get their verdict now if hold-max went down). */
	if (daemon_apply_hold_trust(d, c) < 0) {
		(void)daemon_apply_hold_trust(d, &d->cfg); /* the trust keys it took go back */
		if (requeued && nfqueue_configure(d->q, d->cfg.queue_maxlen, d->cfg.fail_open) < 0)
			log_msg(LOG_WARNING,
			        "reload: the kernel refused the running queue-maxlen / "
			        "fail-open back");
		daemon_fill_params(&p, &d->cfg, &d->servers);
		if (mx_set_params(d->mx, &p) < 0)
			log_msg(LOG_ERR, "reload: out of memory putting the running servers back");
		unwrite_static(d);
		reload_failed(d, "reload failed: cannot apply hold-max, hold-time and the trust "
		                 "keys: out of memory; keeping previous configuration");
		config_servers_clear(s);
		netset_free(statics);
		return;
	}
	if (netset_count(statics) != netset_count(mx_static(d->mx)))
		log_msg(LOG_NOTICE, "reload: allow lists: %zu networks (were %zu)",
		        netset_count(statics), netset_count(mx_static(d->mx)));
	mx_set_static(d->mx, statics);
	if (d->rdns)
		rdns_set_rate(d->rdns, c->rdns_rate);
	log_set_quiet(c->quiet);
	d->lines.per_second = c->log_rate;
	config_clear(&d->cfg);
	config_servers_clear(&d->servers);
	d->cfg = *c;
	d->servers = *s;
	memset(c, 0, sizeof(*c));
	log_msg(LOG_NOTICE, "reload ok");
	reload_answer(d, true, "reload ok%s", d->reload ? d->reload->notes : "");
	daemon_table_resync(d); /* a reload also heals the kernel table */
}

static void finish(struct reload *r)
{
	struct daemon *d = r->d;
	struct config_servers s;
	char err[CONFIG_ERRLEN];
	bool again = r->again;

	if (config_resolve_servers(&r->next, cached, r, &s, err, sizeof(err)) < 0)
		reload_failed(d, "reload failed: %s; keeping previous configuration", err);
	else
		apply(d, &r->next, &s);
	/* Whatever ended this run without an answer above: its callers are not left waiting. */
	reload_answer(d, false, "reload failed (see the log); keeping previous configuration");
	sd_notify_ready();
	d->reload = NULL;
	reload_destroy(r);
	if (again)
		reload_start(d);
}

static void finish_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	finish(arg);
}

/* Not from inside the resolver's callback: finish() frees that resolver. */
static void finish_later(struct reload *r)
{
	struct timeval now = {0, 0};

	if (event_base_once(r->d->base, -1, EV_TIMEOUT, finish_cb, r, &now) < 0)
		finish(r);
}

static void resolved(int result, struct evutil_addrinfo *res, void *arg)
{
	struct name *nm = arg;
	struct reload *r = nm->r;

	nm->done = true;
	nm->req = NULL;
	if (result == 0) {
		for (struct evutil_addrinfo *ai = res; ai && nm->n < NAME_MAX_ADDRS;
		     ai = ai->ai_next) {
			if (ai->ai_family == AF_INET)
				addr_from_v4(&nm->addrs[nm->n++],
				             &((struct sockaddr_in *)ai->ai_addr)->sin_addr);
			else if (ai->ai_family == AF_INET6)
				addr_from_v6(&nm->addrs[nm->n++],
				             &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr);
		}
		if (nm->n == 0) {
			nm->n = -ENOENT;
			snprintf(nm->why, sizeof(nm->why), "no address");
		}
	} else {
		nm->n = -ENOENT;
		snprintf(nm->why, sizeof(nm->why), "%s", evutil_gai_strerror(result));
	}
	if (res)
		evutil_freeaddrinfo(res);
	if (result == EVUTIL_EAI_CANCEL)
		return; /* reload_destroy() */
	if (--r->pending == 0 && !r->starting)
		finish_later(r);
}

static int add_names(struct reload *r, const struct config_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		mxa_addr a;
		struct name *v;

		if (addr_parse(&a, l->v[i].spec) == 0)
			continue; /* a literal: nothing to resolve */
		v = realloc(r->names, (r->n_names + 1) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		r->names = v;
		r->names[r->n_names++] = (struct name){.r = r, .spec = l->v[i].spec};
	}
	return 0;
}

void reload_start(struct daemon *d)
{
	struct evutil_addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC};
	char err[CONFIG_ERRLEN];
	struct reload *r;

	if (d->reload) {
		d->reload->again = true; /* the newest file wins, read once the names are in */
		return;
	}
	d->reload_runs++; /* reload_start_cb(): this run answers the callers waiting so far */
	r = calloc(1, sizeof(*r));
	if (!r) {
		reload_failed(d, "reload failed: out of memory; keeping previous configuration");
		return;
	}
	r->d = d;
	sd_notify_reloading();
	if (cli_build_config(&d->cli, &r->next, err, sizeof(err)) < 0) {
		reload_failed(d, "reload failed: %s; keeping previous configuration", err);
		free(r);
		sd_notify_ready();
		return;
	}
	if (add_names(r, &r->next.fake) < 0 || add_names(r, &r->next.real) < 0) {
		reload_failed(d, "reload failed: out of memory; keeping previous configuration");
		reload_destroy(r);
		sd_notify_ready();
		return;
	}
	d->reload = r;
	if (r->n_names == 0) {
		finish(r);
		return;
	}
	/* A fresh resolver: /etc/resolv.conf and /etc/hosts as they are now. */
	r->dns = evdns_base_new(d->base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
	if (!r->dns) {
		reload_failed(d, "reload failed: cannot set up the resolver from /etc/resolv.conf; "
		                 "keeping previous configuration");
		d->reload = NULL;
		reload_destroy(r);
		sd_notify_ready();
		return;
	}
	evdns_base_set_option(r->dns, "timeout:", "3");
	evdns_base_set_option(r->dns, "attempts:", "2");
	r->starting = true;
	r->pending = r->n_names;
	for (size_t i = 0; i < r->n_names; i++)
		r->names[i].req = evdns_getaddrinfo(r->dns, r->names[i].spec, NULL, &hints,
		                                    resolved, &r->names[i]);
	r->starting = false;
	if (r->pending == 0)
		finish_later(r);
}

int reload_start_cb(struct daemon *d, reload_done_fn done, void *ctx)
{
	struct reload_waiter *w = malloc(sizeof(*w));

	if (!w)
		return -ENOMEM;
	/* The next run to start reads the file after this call: the one now, or after the current.
	 */
	*w = (struct reload_waiter){done, ctx, d->reload_runs + 1, d->reload_waiters};
	d->reload_waiters = w;
	reload_start(d);
	return 0;
}

void reload_forget_cb(struct daemon *d, void *ctx)
{
	struct reload_waiter **p = &d->reload_waiters, *w;

	while ((w = *p)) {
		if (w->ctx == ctx) {
			*p = w->next;
			free(w);
		} else {
			p = &w->next;
		}
	}
}
