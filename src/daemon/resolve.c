/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "resolve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/dns.h>
#include <event2/event.h>

#include "ratelimit.h"
#include "text.h"

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
	rdns_failed_fn failed;
	void *ctx;
	size_t inflight, max_inflight;
	bool shutting_down;
	struct tokenbucket bucket;
	struct rdns_stats stats;
	struct job *jobs; /* under way, so that rdns_free() can release them */
};

struct job {
	struct rdns *r;
	struct job *prev, *next;
	mxa_addr client;
	char name[TEXT_HOSTNAME_MAX + 2];
	mxa_addr addrs[RDNS_MAX_ADDRS];
	size_t n;
	int pending;
	bool forward;   /* the PTR step gave a name; the forward queries ran */
	int temp_error; /* a forward query failed for now: its DNS_ERR_*, or -1 (not started) */
	int bad_error;  /* a forward answer evdns could not read: its DNS_ERR_* */
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *rdns_failure_name(enum rdns_failure why)
{
	switch (why) {
	case RDNS_FAIL_TEMPORARY:
		return "temporary";
	case RDNS_FAIL_NO_NAME:
		return "no-name";
	case RDNS_FAIL_BAD_NAME:
		return "invalid-name";
	case RDNS_FAIL_UNREADABLE:
		return "unreadable";
	}
	return "unknown";
}

/*
 * DNS errors that may go away (a server down or overloaded) as against
 * answers that will stay what they are. DNS_ERR_UNKNOWN is what evdns 2.1
 * gives for an answer it cannot parse, such as a PTR name of 64 characters or
 * more (its buffer is HOST_NAME_MAX, 64 on glibc); DNS_ERR_TRUNCATED comes
 * for a name with too many addresses for 512 bytes (evdns sends no EDNS).
 */
static bool temporary(int result)
{
	switch (result) {
	case DNS_ERR_TIMEOUT:
	case DNS_ERR_SERVERFAILED:
	case DNS_ERR_REFUSED:
	case DNS_ERR_SHUTDOWN:
	case DNS_ERR_CANCEL:
		return true;
	default:
		return false;
	}
}

static void report(struct rdns *r, const mxa_addr *client, enum rdns_failure why, const char *what,
                   const char *name)
{
	char esc[TEXT_ESCAPED_SIZE(sizeof(((struct job *)0)->name))];
	char line[sizeof(esc) + 128];

	if (r->shutting_down)
		return;
	r->stats.failed[why]++;
	if (name)
		text_escape(esc, sizeof(esc), name, strlen(name));
	if (r->failed) {
		r->failed(r->ctx, client, why, what, name ? esc : NULL);
	} else if (r->error) {
		if (name) {
			snprintf(line, sizeof(line), "%s name=%s", what, esc);
			what = line;
		}
		r->error(r->ctx, client, what);
	}
}

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

static bool has_client(const struct job *j)
{
	for (size_t i = 0; i < j->n; i++)
		if (addr_equal(&j->addrs[i], &j->client))
			return true;
	return false;
}

/*
 * The end of the forward step. The client among the addresses confirms even
 * when the other query failed. Otherwise a failed query may have held it
 * (lookup failed: try again later); if none failed, the name does not resolve
 * back to the client, no address at all included (done: not confirmed).
 */
static void forward_end(struct job *j)
{
	struct rdns *r = j->r;
	char what[96];

	if (has_client(j) || (!j->temp_error && !j->bad_error)) {
		if (!r->shutting_down)
			r->done(r->ctx, &j->client, j->name, j->addrs, j->n);
	} else if (j->temp_error) {
		snprintf(what, sizeof(what), "forward lookup of the PTR name failed: %s",
		         j->temp_error < 0 ? "cannot start the query"
		                           : evdns_err_to_string(j->temp_error));
		report(r, &j->client, RDNS_FAIL_TEMPORARY, what, j->name);
	} else {
		snprintf(what, sizeof(what), "forward answer for the PTR name unreadable: %s",
		         evdns_err_to_string(j->bad_error));
		report(r, &j->client, RDNS_FAIL_UNREADABLE, what, j->name);
	}
}

static void job_finish(struct job *j)
{
	if (--j->pending > 0)
		return;
	if (j->forward)
		forward_end(j);
	job_unlink(j);
}

static void forward_cb(int result, char type, int count, int ttl, void *addresses, void *arg)
{
	struct job *j = arg;

	(void)ttl;
	if (result == DNS_ERR_NONE) {
		for (int i = 0; i < count && j->n < RDNS_MAX_ADDRS; i++) {
			if (type == DNS_IPv4_A)
				addr_from_v4(&j->addrs[j->n++], (uint8_t *)addresses + 4 * i);
			else if (type == DNS_IPv6_AAAA)
				addr_from_v6(&j->addrs[j->n++], (uint8_t *)addresses + 16 * i);
		}
	} else if (result == DNS_ERR_NOTEXIST || result == DNS_ERR_NODATA) {
		/* no address of this family (or none at all): an answer, not a failure */
	} else if (temporary(result)) {
		j->temp_error = result;
	} else {
		j->bad_error = result;
	}
	job_finish(j);
}

static void ptr_failed(struct job *j, int result)
{
	char what[128];

	if (result == DNS_ERR_NONE || result == DNS_ERR_NOTEXIST || result == DNS_ERR_NODATA) {
		snprintf(what, sizeof(what), "no PTR name: %s",
		         result == DNS_ERR_NONE ? "no PTR record" : evdns_err_to_string(result));
		report(j->r, &j->client, RDNS_FAIL_NO_NAME, what, NULL);
	} else if (temporary(result)) {
		snprintf(what, sizeof(what), "PTR lookup failed: %s", evdns_err_to_string(result));
		report(j->r, &j->client, RDNS_FAIL_TEMPORARY, what, NULL);
	} else {
		snprintf(what, sizeof(what),
		         "PTR answer unreadable (%s): a name of 64 characters or more, or a "
		         "malformed answer",
		         evdns_err_to_string(result));
		report(j->r, &j->client, RDNS_FAIL_UNREADABLE, what, NULL);
	}
}

static void ptr_cb(int result, char type, int count, int ttl, void *addresses, void *arg)
{
	struct job *j = arg;
	struct rdns *r = j->r;
	const char *name;
	size_t len;

	(void)ttl;
	if (result != DNS_ERR_NONE || type != DNS_PTR || count < 1) {
		ptr_failed(j, result);
		job_finish(j);
		return;
	}
	/* Checked before any use: the name goes into log lines and DNS queries. */
	name = ((char **)addresses)[0];
	if (!text_is_hostname(name)) {
		report(r, &j->client, RDNS_FAIL_BAD_NAME, "invalid PTR name", name);
		job_finish(j);
		return;
	}
	len = strlen(name);
	if (name[len - 1] == '.')
		len--;
	memcpy(j->name, name, len); /* at most TEXT_HOSTNAME_MAX */
	j->name[len] = 0;
	j->forward = true;
	/* Two forward queries; the PTR step's reference keeps the job alive meanwhile. */
	j->pending += 2;
	if (!evdns_base_resolve_ipv4(r->dns, j->name, DNS_QUERY_NO_SEARCH, forward_cb, j)) {
		j->temp_error = -1;
		job_finish(j);
	}
	if (!evdns_base_resolve_ipv6(r->dns, j->name, DNS_QUERY_NO_SEARCH, forward_cb, j)) {
		j->temp_error = -1;
		job_finish(j);
	}
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
	tokenbucket_init(&r->bucket, RDNS_DEFAULT_RATE, RDNS_DEFAULT_RATE, now_ms());
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

void rdns_set_failed(struct rdns *r, rdns_failed_fn failed)
{
	r->failed = failed;
}

void rdns_set_rate(struct rdns *r, uint32_t per_second)
{
	tokenbucket_set(&r->bucket, per_second, per_second);
}

size_t rdns_inflight(const struct rdns *r)
{
	return r->inflight;
}

const struct rdns_stats *rdns_stats(const struct rdns *r)
{
	return &r->stats;
}

struct evdns_base *rdns_evdns(const struct rdns *r)
{
	return r->dns;
}

int rdns_lookup(struct rdns *r, const mxa_addr *client)
{
	struct job *j;
	struct evdns_request *req;

	/* A client that hits the fake MX again while its lookup runs: one lookup. */
	for (j = r->jobs; j; j = j->next) {
		if (addr_equal(&j->client, client)) {
			r->stats.dup++;
			return 0;
		}
	}
	if (r->inflight >= r->max_inflight) {
		r->stats.skipped_busy++;
		return -EBUSY;
	}
	if (!tokenbucket_take(&r->bucket, now_ms())) {
		r->stats.skipped_rate++;
		return -EAGAIN;
	}
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
	r->stats.started++;
	return 0;
}
