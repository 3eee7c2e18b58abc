/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "resolve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/dns.h>
#include <event2/event.h>

#define RDNS_MAX_ADDRS 64

int resolve_host(void *ctx, const char *name, mxa_addr *out, size_t max, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res, *ai;
	size_t n = 0;
	int r;

	(void)ctx;
	r = getaddrinfo(name, NULL, &hints, &res);
	if (r != 0) {
		snprintf(err, errlen, "%s", gai_strerror(r));
		return -ENOENT;
	}
	for (ai = res; ai && n < max; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET)
			addr_from_v4(&out[n++], &((struct sockaddr_in *)ai->ai_addr)->sin_addr);
		else if (ai->ai_family == AF_INET6)
			addr_from_v6(&out[n++], &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr);
	}
	freeaddrinfo(res);
	return (int)n;
}

struct rdns {
	struct evdns_base *dns;
	rdns_done_fn done;
	rdns_error_fn error;
	void *ctx;
	size_t inflight, max_inflight;
	bool shutting_down;
	struct job *jobs; /* under way, so that rdns_free() can release them */
};

struct job {
	struct rdns *r;
	struct job *prev, *next;
	mxa_addr client;
	char name[256];
	mxa_addr addrs[RDNS_MAX_ADDRS];
	size_t n;
	int pending;
	bool answered; /* at least one forward query succeeded */
};

static void job_unlink(struct job *j)
{
	struct rdns *r = j->r;

	if (j->prev)
		j->prev->next = j->next;
	else
		r->jobs = j->next;
	if (j->next)
		j->next->prev = j->prev;
	r->inflight--;
	free(j);
}

static void job_finish(struct job *j)
{
	struct rdns *r = j->r;

	if (--j->pending > 0)
		return;
	if (!r->shutting_down) {
		if (j->answered)
			r->done(r->ctx, &j->client, j->name, j->addrs, j->n);
		else
			r->error(r->ctx, &j->client, "forward lookup of the PTR name failed");
	}
	job_unlink(j);
}

static void forward_cb(int result, char type, int count, int ttl, void *addresses, void *arg)
{
	struct job *j = arg;

	(void)ttl;
	if (result == DNS_ERR_NONE) {
		j->answered = true;
		for (int i = 0; i < count && j->n < RDNS_MAX_ADDRS; i++) {
			if (type == DNS_IPv4_A)
				addr_from_v4(&j->addrs[j->n++], (uint8_t *)addresses + 4 * i);
			else if (type == DNS_IPv6_AAAA)
				addr_from_v6(&j->addrs[j->n++], (uint8_t *)addresses + 16 * i);
		}
	} else if (result == DNS_ERR_NOTEXIST) {
		j->answered = true; /* a name with A but no AAAA, or the reverse */
	}
	job_finish(j);
}

static void ptr_cb(int result, char type, int count, int ttl, void *addresses, void *arg)
{
	struct job *j = arg;
	struct rdns *r = j->r;
	char what[320];

	(void)ttl;
	if (result != DNS_ERR_NONE || type != DNS_PTR || count < 1) {
		if (!r->shutting_down) {
			snprintf(what, sizeof(what), "PTR lookup failed: %s",
			         result != DNS_ERR_NONE ? evdns_err_to_string(result) : "no name");
			r->error(r->ctx, &j->client, what);
		}
		job_finish(j);
		return;
	}
	snprintf(j->name, sizeof(j->name), "%s", ((char **)addresses)[0]);
	/* Two forward queries; the guard reference keeps the job alive meanwhile. */
	j->pending += 2;
	if (!evdns_base_resolve_ipv4(r->dns, j->name, DNS_QUERY_NO_SEARCH, forward_cb, j))
		job_finish(j);
	if (!evdns_base_resolve_ipv6(r->dns, j->name, DNS_QUERY_NO_SEARCH, forward_cb, j))
		job_finish(j);
	job_finish(j); /* the PTR step's own reference */
}

struct rdns *rdns_new(struct event_base *base, size_t max_inflight, rdns_done_fn done,
                      rdns_error_fn error, void *ctx, char *err, size_t errlen)
{
	struct rdns *r = calloc(1, sizeof(*r));

	if (!r) {
		snprintf(err, errlen, "rdns: out of memory");
		return NULL;
	}
	r->done = done;
	r->error = error;
	r->ctx = ctx;
	r->max_inflight = max_inflight;
	r->dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
	if (!r->dns) {
		snprintf(err, errlen, "rdns: cannot set up the resolver from /etc/resolv.conf");
		free(r);
		return NULL;
	}
	evdns_base_set_option(r->dns, "timeout:", "3");
	evdns_base_set_option(r->dns, "attempts:", "2");
	return r;
}

struct rdns *rdns_free(struct rdns *r)
{
	if (r) {
		r->shutting_down = true;
		/* Pending requests are dropped without callbacks; free their jobs here. */
		evdns_base_free(r->dns, 0);
		while (r->jobs)
			job_unlink(r->jobs);
		free(r);
	}
	return NULL;
}

size_t rdns_inflight(const struct rdns *r)
{
	return r->inflight;
}

int rdns_lookup(struct rdns *r, const mxa_addr *client)
{
	struct job *j;
	struct evdns_request *req;

	if (r->inflight >= r->max_inflight)
		return -EBUSY;
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->r = r;
	j->client = *client;
	j->pending = 1;
	j->next = r->jobs;
	if (r->jobs)
		r->jobs->prev = j;
	r->jobs = j;
	r->inflight++;
	if (addr_is_v4(client)) {
		struct in_addr in4;

		memcpy(&in4, addr_v4_bytes(client), 4);
		req = evdns_base_resolve_reverse(r->dns, &in4, 0, ptr_cb, j);
	} else {
		struct in6_addr in6;

		memcpy(&in6, client->b, 16);
		req = evdns_base_resolve_reverse_ipv6(r->dns, &in6, 0, ptr_cb, j);
	}
	if (!req) {
		job_unlink(j);
		return -EIO;
	}
	return 0;
}
