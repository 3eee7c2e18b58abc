/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * metrics-listen: GET /metrics in the Prometheus text format (see metrics.h
 * for the bounds). Each connection: read the request line and headers, answer
 * once with Connection: close, close when the answer is sent.
 */
#include "metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "daemon.h"
#include "log.h"

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
/* The kernel's counters of our queue (Linux; absent elsewhere). */
#define NFQUEUE_PROC "/proc/net/netfilter/nfnetlink_queue"

struct metrics;

struct mclient {
	struct metrics *m;
	struct mclient *prev, *next;
	struct bufferevent *bev;
	struct event *deadline;
	bool answered;
};

struct metrics {
	struct daemon *d;
	int fd;
	char *where; /* metrics-listen, for messages */
	struct evconnlistener *listener;
	struct event *ev_resume; /* accept again after an error (EMFILE) */
	struct mclient *clients;
	size_t n_clients;
	uint64_t refused; /* connections closed at once: METRICS_MAX_CLIENTS were open */
};

static void client_free(struct mclient *c)
{
	struct metrics *m = c->m;

	if (c->prev)
		c->prev->next = c->next;
	else
		m->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	m->n_clients--;
	if (c->deadline)
		event_free(c->deadline);
	if (c->bev)
		bufferevent_free(c->bev);
	free(c);
	if (m->listener && !m->ev_resume)
		evconnlistener_enable(m->listener); /* it was off when all slots were taken */
}

/* Help text: backslashes and line ends escaped, as the format wants. */
static int add_help(struct evbuffer *out, const char *s)
{
	for (; *s; s++) {
		int r = *s == '\\'   ? evbuffer_add(out, "\\\\", 2)
		        : *s == '\n' ? evbuffer_add(out, "\\n", 2)
		                     : evbuffer_add(out, s, 1);

		if (r < 0)
			return -ENOMEM;
	}
	return evbuffer_add(out, "\n", 1) < 0 ? -ENOMEM : 0;
}

int metrics_render(struct evbuffer *out, const struct stat_item *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char name[96];
		const char *base = v[i].metric ? v[i].metric : v[i].name;
		size_t len = (size_t)snprintf(name, sizeof(name), "mxallowd_%s%s", base,
		                              v[i].gauge ? "" : "_total");
		int r;

		if (len >= sizeof(name))
			continue; /* cannot happen with the names in stats.c */
		for (char *p = name; *p; p++)
			if (*p == '-')
				*p = '_';
		if (evbuffer_add_printf(out, "# HELP %s ", name) < 0 ||
		    add_help(out, v[i].help ? v[i].help : v[i].name) < 0 ||
		    evbuffer_add_printf(out, "# TYPE %s %s\n", name,
		                        v[i].gauge ? "gauge" : "counter") < 0)
			return -ENOMEM;
		if (v[i].scale > 1)
			r = evbuffer_add_printf(out, "%s %" PRIu64 ".%06" PRIu64 "\n", name,
			                        v[i].value / v[i].scale,
			                        (v[i].value % v[i].scale) * 1000000 / v[i].scale);
		else
			r = evbuffer_add_printf(out, "%s %" PRIu64 "\n", name, v[i].value);
		if (r < 0)
			return -ENOMEM;
	}
	return 0;
}

/*
 * The kernel's drops for queue @num: queue_dropped (the queue was full; with
 * fail-open those are accepted instead and not counted) and user_dropped (our
 * socket's buffer was full: what mxallowd sees as ENOBUFS). False when the
 * file or the queue's line is missing.
 */
static bool queue_drops(uint32_t num, uint64_t *queue_dropped, uint64_t *user_dropped)
{
	FILE *f = fopen(NFQUEUE_PROC, "re");
	char line[256];
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned long long q, portid, total, mode, range, qd, ud;

		if (sscanf(line, "%llu %llu %llu %llu %llu %llu %llu", &q, &portid, &total, &mode,
		           &range, &qd, &ud) == 7 &&
		    q == num) {
			*queue_dropped = qd;
			*user_dropped = ud;
			found = true;
		}
	}
	fclose(f);
	return found;
}

static int body(struct metrics *m, struct evbuffer *out)
{
	struct stat_item v[STATS_MAX + 2];
	size_t n = stats_collect(m->d, v, STATS_MAX);
	uint64_t qd, ud;

	if (m->d->q && queue_drops(m->d->cfg.queue_num, &qd, &ud)) {
		v[n++] = (struct stat_item){
		    "queue-kernel-dropped", qd,
		    "SYNs the kernel dropped because the queue was full (queue-maxlen)."};
		v[n++] = (struct stat_item){
		    "queue-user-dropped", ud,
		    "SYNs the kernel could not hand to mxallowd: its socket buffer was full."};
	}
	return metrics_render(out, v, n);
}

static void respond(struct mclient *c, int code, const char *reason, bool head,
                    struct evbuffer *content, const char *text)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	size_t len = content ? evbuffer_get_length(content) : strlen(text);

	c->answered = true;
	bufferevent_disable(c->bev, EV_READ);
	evbuffer_add_printf(out,
	                    "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
	                    "Connection: close\r\n\r\n",
	                    code, reason, content ? CONTENT_TYPE : "text/plain; charset=utf-8", len,
	                    code == 405 ? "Allow: GET, HEAD\r\n" : "");
	if (!head && content)
		evbuffer_add_buffer(out, content);
	else if (!head)
		evbuffer_add(out, text, len);
}

/* The request line: METHOD SP TARGET SP HTTP/1.x; headers are not needed. */
static void answer(struct mclient *c, char *line)
{
	char *method = line, *target, *version, *q;
	struct evbuffer *content;
	bool head;

	target = strchr(method, ' ');
	version = target ? strchr(target + 1, ' ') : NULL;
	if (!target || !version || strncmp(version + 1, "HTTP/1.", 7) != 0) {
		respond(c, 400, "Bad Request", false, NULL, "bad request line\n");
		return;
	}
	*target++ = 0;
	*version = 0;
	head = strcmp(method, "HEAD") == 0;
	if (strcmp(method, "GET") != 0 && !head) {
		respond(c, 405, "Method Not Allowed", false, NULL, "only GET and HEAD\n");
		return;
	}
	if ((q = strchr(target, '?')))
		*q = 0; /* a scraper's parameters change nothing */
	if (strcmp(target, "/metrics") != 0) {
		respond(c, 404, "Not Found", head, NULL, "not found: try /metrics\n");
		return;
	}
	content = evbuffer_new();
	if (!content || body(c->m, content) < 0) {
		respond(c, 500, "Internal Server Error", head, NULL, "out of memory\n");
	} else {
		respond(c, 200, "OK", head, content, "");
	}
	if (content)
		evbuffer_free(content);
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct mclient *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
	struct evbuffer_ptr eol;
	char line[1024];
	size_t n;

	if (c->answered)
		return;
	if (end.pos < 0)
		end = evbuffer_search(in, "\n\n", 2, NULL);
	if (end.pos < 0) {
		if (evbuffer_get_length(in) >= METRICS_MAX_REQUEST)
			respond(c, 431, "Request Header Fields Too Large", false, NULL,
			        "request too large\n");
		return;
	}
	eol = evbuffer_search_eol(in, NULL, NULL, EVBUFFER_EOL_CRLF);
	n = eol.pos < 0 ? 0 : (size_t)eol.pos;
	if (n == 0 || n >= sizeof(line)) {
		respond(c, 400, "Bad Request", false, NULL, "bad request line\n");
		return;
	}
	evbuffer_copyout(in, line, n);
	line[n] = 0;
	evbuffer_drain(in, evbuffer_get_length(in));
	answer(c, line);
}

static void on_write(struct bufferevent *bev, void *arg)
{
	struct mclient *c = arg;

	if (c->answered && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		client_free(c);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct mclient *c = arg;

	/* A client that closed its side after the request still gets the answer. */
	if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR) && c->answered &&
	    evbuffer_get_length(bufferevent_get_output(bev)) > 0)
		return;
	client_free(c);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	client_free(arg);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
                      void *arg)
{
	struct metrics *m = arg;
	struct timeval deadline = {METRICS_DEADLINE, 0};
	struct mclient *c;

	(void)sa;
	(void)salen;
	if (m->n_clients >= METRICS_MAX_CLIENTS) {
		m->refused++;
		close(fd);
		evconnlistener_disable(l); /* the rest wait in the backlog until one ends */
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->m = m;
	c->next = m->clients;
	if (c->next)
		c->next->prev = c;
	m->clients = c;
	m->n_clients++;
	c->bev = bufferevent_socket_new(m->d->base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->deadline = evtimer_new(m->d->base, on_deadline, c);
	if (!c->bev || !c->deadline || evtimer_add(c->deadline, &deadline) < 0) {
		if (!c->bev)
			close(fd);
		client_free(c);
		return;
	}
	bufferevent_setwatermark(c->bev, EV_READ, 0, METRICS_MAX_REQUEST);
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	bufferevent_enable(c->bev, EV_READ);
	if (m->n_clients >= METRICS_MAX_CLIENTS)
		evconnlistener_disable(l);
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct metrics *m = arg;

	(void)fd;
	(void)what;
	event_free(m->ev_resume);
	m->ev_resume = NULL;
	if (m->n_clients < METRICS_MAX_CLIENTS)
		evconnlistener_enable(m->listener);
}

/* accept() failed (EMFILE, ENOBUFS): pause a second instead of spinning on the error. */
static void on_accept_error(struct evconnlistener *l, void *arg)
{
	struct metrics *m = arg;
	struct timeval one = {1, 0};
	int e = EVUTIL_SOCKET_ERROR();

	log_msg(LOG_WARNING, "metrics %s: accept failed: %s", m->where,
	        evutil_socket_error_to_string(e));
	evconnlistener_disable(l);
	if (!m->ev_resume) {
		m->ev_resume = evtimer_new(m->d->base, on_resume, m);
		if (m->ev_resume)
			evtimer_add(m->ev_resume, &one);
	}
}

int metrics_open(struct daemon *d, char *err, size_t errlen)
{
	const char *where = d->cfg.metrics_listen;
	struct sockaddr_in6 s6 = {0};
	struct sockaddr_in s4 = {0};
	struct metrics *m;
	char why[256];
	mxa_addr a;
	uint16_t port;
	int fd, one = 1, e;
	bool v4;

	if (!where)
		return 0;
	if (config_parse_listen(where, &a, &port, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "metrics-listen: %s", why);
		return -EINVAL;
	}
	v4 = addr_is_v4(&a);
	fd = socket(v4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		e = errno;
		snprintf(err, errlen, "metrics-listen %s: cannot create a socket: %s", where,
		         strerror(e));
		return -e;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (v4) {
		s4.sin_family = AF_INET;
		s4.sin_port = htons(port);
		memcpy(&s4.sin_addr, addr_v4_bytes(&a), 4);
	} else {
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		s6.sin6_family = AF_INET6;
		s6.sin6_port = htons(port);
		memcpy(&s6.sin6_addr, a.b, 16);
	}
	if ((v4 ? bind(fd, (struct sockaddr *)&s4, sizeof(s4))
	        : bind(fd, (struct sockaddr *)&s6, sizeof(s6))) < 0 ||
	    listen(fd, METRICS_MAX_CLIENTS) < 0) {
		e = errno;
		snprintf(err, errlen, "metrics-listen %s: cannot listen: %s", where, strerror(e));
		close(fd);
		return -e;
	}
	m = calloc(1, sizeof(*m));
	if (!m || !(m->where = strdup(where))) {
		free(m);
		close(fd);
		snprintf(err, errlen, "metrics-listen %s: out of memory", where);
		return -ENOMEM;
	}
	m->d = d;
	m->fd = fd;
	d->metrics = m;
	return 0;
}

int metrics_start(struct daemon *d, char *err, size_t errlen)
{
	struct metrics *m = d->metrics;

	if (!m)
		return 0;
	/* Already listening: -1 leaves the backlog as it is. */
	m->listener = evconnlistener_new(d->base, on_accept, m, LEV_OPT_CLOSE_ON_FREE, -1, m->fd);
	if (!m->listener) {
		snprintf(err, errlen, "metrics-listen %s: cannot serve on the loop", m->where);
		return -ENOMEM;
	}
	m->fd = -1; /* the listener's now */
	evconnlistener_set_error_cb(m->listener, on_accept_error);
	log_msg(LOG_NOTICE, "metrics at http://%s/metrics", m->where);
	return 0;
}

void metrics_close(struct daemon *d)
{
	struct metrics *m = d->metrics;

	if (!m)
		return;
	while (m->clients)
		client_free(m->clients);
	if (m->listener)
		evconnlistener_free(m->listener);
	m->listener = NULL;
	if (m->ev_resume)
		event_free(m->ev_resume);
	if (m->fd >= 0)
		close(m->fd);
	free(m->where);
	free(m);
	d->metrics = NULL;
}
