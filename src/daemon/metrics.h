/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * metrics-listen: the counters of the stats line (stats_collect()) in the
 * Prometheus text exposition format at GET /metrics, on the daemon's loop.
 *
 * Bounded like the control socket: METRICS_MAX_CLIENTS connections at a
 * time (more are closed at once), METRICS_MAX_REQUEST bytes of request line
 * and headers, one request per connection, and METRICS_DEADLINE seconds for
 * the whole exchange, however slowly a client sends or reads. libevent 2.1's
 * evhttp has neither the first nor the last bound built in (its timeouts
 * restart with every byte; evhttp_set_max_connections came in 2.2): both
 * could be added around it (a filter bufferevent from evhttp_set_bevcb() to
 * see each close, the listener disabled at the limit, a timer a connection
 * that shuts it down), which is more code than the few lines of HTTP/1.x
 * needed here, read directly on bufferevents.
 */
#include <stddef.h>

#include <event2/buffer.h>

struct daemon;
struct stat_item;

#define METRICS_MAX_CLIENTS 8
#define METRICS_MAX_REQUEST 8192
#define METRICS_DEADLINE    10

/**
 * metrics_open() - bind and listen on metrics-listen (nothing when unset),
 * before the daemon detaches: a bad address or a port in use reaches the
 * terminal. Returns 0, or a negative errno with one line in @err.
 */
int metrics_open(struct daemon *d, char *err, size_t errlen);

/* Serves the socket on d->base (after the loop exists). 0 or -ENOMEM with @err. */
int metrics_start(struct daemon *d, char *err, size_t errlen);

/* Closes the socket and every connection. */
void metrics_close(struct daemon *d);

/**
 * metrics_render() - @v as the exposition text: # HELP and # TYPE, then the
 * sample, for each item; names mxallowd_..., counters with _total.
 * Returns 0 or -ENOMEM.
 */
int metrics_render(struct evbuffer *out, const struct stat_item *v, size_t n);
