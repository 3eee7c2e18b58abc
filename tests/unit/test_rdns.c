/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The rDNS resolver (src/daemon/resolve.c) against a DNS server in the same
 * process (libevent's evdns server on 127.0.0.1): what each kind of answer
 * becomes, and the limits on starting lookups.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/dns.h>
#include <event2/dns_struct.h>
#include <event2/event.h>
#include <event2/util.h>

#include "resolve.h"

#define LONG70 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example.org"
#define LONG63 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example.org"

enum action { ANSWER, NXDOMAIN, NODATA, SERVFAIL, DROP };

/* What the server does for a question; A/AAAA/PTR data as text. */
struct rule {
	int type;
	const char *name;
	enum action action;
	const char *data[3];
};

static const struct rule rules[] = {
    /* mail.example.org: forward-confirmed, with a sibling in each family */
    {EVDNS_TYPE_PTR, "1.100.51.198.in-addr.arpa", ANSWER, {"mail.example.org"}},
    {EVDNS_TYPE_A, "mail.example.org", ANSWER, {"198.51.100.1", "198.51.100.2"}},
    {EVDNS_TYPE_AAAA, "mail.example.org", ANSWER, {"2001:db8:1::2"}},
    {EVDNS_TYPE_PTR,
     "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
     ANSWER,
     {"mail.example.org"}},
    /* names that must not reach a log line or a query */
    {EVDNS_TYPE_PTR, "2.100.51.198.in-addr.arpa", ANSWER, {"evil name=x.example.org"}},
    {EVDNS_TYPE_PTR, "3.100.51.198.in-addr.arpa", ANSWER, {"a\nfake: line.example.org"}},
    {EVDNS_TYPE_A, "evil name=x.example.org", ANSWER, {"198.51.100.2"}},
    /* long names: evdns 2.1 reads PTR names of at most 63 characters */
    {EVDNS_TYPE_PTR, "4.100.51.198.in-addr.arpa", ANSWER, {LONG70}},
    {EVDNS_TYPE_PTR, "5.100.51.198.in-addr.arpa", ANSWER, {LONG63}},
    {EVDNS_TYPE_A, LONG63, ANSWER, {"198.51.100.5"}},
    {EVDNS_TYPE_AAAA, LONG63, NODATA, {NULL}},
    /* no PTR */
    {EVDNS_TYPE_PTR, "6.100.51.198.in-addr.arpa", NXDOMAIN, {NULL}},
    {EVDNS_TYPE_PTR, "7.100.51.198.in-addr.arpa", NODATA, {NULL}},
    /* a name without addresses: NODATA on both, or NXDOMAIN on both */
    {EVDNS_TYPE_PTR, "8.100.51.198.in-addr.arpa", ANSWER, {"noaddr.example.org"}},
    {EVDNS_TYPE_A, "noaddr.example.org", NODATA, {NULL}},
    {EVDNS_TYPE_AAAA, "noaddr.example.org", NODATA, {NULL}},
    {EVDNS_TYPE_PTR, "9.100.51.198.in-addr.arpa", ANSWER, {"gone.example.org"}},
    {EVDNS_TYPE_A, "gone.example.org", NXDOMAIN, {NULL}},
    {EVDNS_TYPE_AAAA, "gone.example.org", NXDOMAIN, {NULL}},
    /* forward lookups that fail: a timeout with nothing found is a failure */
    {EVDNS_TYPE_PTR, "10.100.51.198.in-addr.arpa", ANSWER, {"slow.example.org"}},
    {EVDNS_TYPE_A, "slow.example.org", DROP, {NULL}},
    {EVDNS_TYPE_AAAA, "slow.example.org", NODATA, {NULL}},
    /* ... but the client found in the other family confirms all the same */
    {EVDNS_TYPE_PTR, "11.100.51.198.in-addr.arpa", ANSWER, {"half.example.org"}},
    {EVDNS_TYPE_A, "half.example.org", ANSWER, {"198.51.100.11"}},
    {EVDNS_TYPE_AAAA, "half.example.org", SERVFAIL, {NULL}},
    /* PTR lookups that fail */
    {EVDNS_TYPE_PTR, "12.100.51.198.in-addr.arpa", DROP, {NULL}},
    {EVDNS_TYPE_PTR, "13.100.51.198.in-addr.arpa", SERVFAIL, {NULL}},
};

struct result {
	int calls;
	bool done;
	char name[300];
	mxa_addr addrs[RDNS_MAX_ADDRS];
	size_t n;
	enum rdns_failure why;
	char what[1200];
	char esc[1200];
	bool has_name;
};

struct fixture {
	struct event_base *base;
	struct evdns_server_port *port;
	evutil_socket_t fd;
	struct rdns *r;
	int asked[sizeof(rules) / sizeof(rules[0])];
	struct result res;
	int expect; /* callbacks still to come */
	bool timed_out;
};

static void server_cb(struct evdns_server_request *req, void *arg)
{
	struct fixture *f = arg;
	int rcode = 3; /* NXDOMAIN unless a rule says otherwise */

	for (int q = 0; q < req->nquestions; q++) {
		const struct evdns_server_question *qu = req->questions[q];

		for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
			const struct rule *ru = &rules[i];

			if (ru->type != qu->type || evutil_ascii_strcasecmp(ru->name, qu->name))
				continue;
			f->asked[i]++;
			switch (ru->action) {
			case DROP:
				evdns_server_request_drop(req);
				return;
			case NXDOMAIN:
				rcode = 3;
				break;
			case SERVFAIL:
				rcode = 2;
				break;
			case NODATA:
				rcode = 0;
				break;
			case ANSWER:
				rcode = 0;
				for (int k = 0; k < 3 && ru->data[k]; k++) {
					uint8_t b[16];

					if (ru->type == EVDNS_TYPE_PTR) {
						evdns_server_request_add_ptr_reply(
						    req, NULL, qu->name, ru->data[k], 60);
					} else if (ru->type == EVDNS_TYPE_A) {
						assert_int_equal(inet_pton(AF_INET, ru->data[k], b),
						                 1);
						evdns_server_request_add_a_reply(req, qu->name, 1,
						                                 b, 60);
					} else {
						assert_int_equal(
						    inet_pton(AF_INET6, ru->data[k], b), 1);
						evdns_server_request_add_aaaa_reply(req, qu->name,
						                                    1, b, 60);
					}
				}
				break;
			}
		}
	}
	evdns_server_request_respond(req, rcode);
}

static void on_done(void *ctx, const mxa_addr *client, const char *name, const mxa_addr *addrs,
                    size_t n)
{
	struct fixture *f = ctx;

	(void)client;
	f->res.calls++;
	f->res.done = true;
	snprintf(f->res.name, sizeof(f->res.name), "%s", name);
	memcpy(f->res.addrs, addrs, n * sizeof(*addrs));
	f->res.n = n;
	f->expect--;
}

static void on_failed(void *ctx, const mxa_addr *client, enum rdns_failure why, const char *what,
                      const char *name)
{
	struct fixture *f = ctx;

	(void)client;
	f->res.calls++;
	f->res.why = why;
	snprintf(f->res.what, sizeof(f->res.what), "%s", what);
	f->res.has_name = name != NULL;
	snprintf(f->res.esc, sizeof(f->res.esc), "%s", name ? name : "");
	f->expect--;
}

static void on_error(void *ctx, const mxa_addr *client, const char *what)
{
	struct fixture *f = ctx;

	(void)client;
	f->res.calls++;
	snprintf(f->res.what, sizeof(f->res.what), "%s", what);
	f->expect--;
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct fixture *f = arg;

	(void)fd;
	(void)what;
	f->timed_out = true;
	event_base_loopbreak(f->base);
}

/* Runs the loop until the expected callbacks came, at most 5 seconds. */
static void run(struct fixture *f)
{
	struct timeval five = {5, 0};
	struct event *deadline = evtimer_new(f->base, on_deadline, f);

	evtimer_add(deadline, &five);
	while (f->expect > 0 && !f->timed_out)
		event_base_loop(f->base, EVLOOP_ONCE);
	event_free(deadline);
	assert_false(f->timed_out);
}

static int setup(void **state)
{
	static struct fixture f;
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	char err[128], ns[64];
	struct evdns_base *dns;

	memset(&f, 0, sizeof(f));
	f.base = event_base_new();
	assert_non_null(f.base);
	f.fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(f.fd >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(f.fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(f.fd, (struct sockaddr *)&sin, &len), 0);
	evutil_make_socket_nonblocking(f.fd);
	f.port = evdns_add_server_port_with_base(f.base, f.fd, 0, server_cb, &f);
	assert_non_null(f.port);

	f.r = rdns_new(f.base, 4, on_done, on_error, &f, err, sizeof(err));
	assert_non_null(f.r);
	rdns_set_failed(f.r, on_failed);
	dns = rdns_evdns(f.r);
	snprintf(ns, sizeof(ns), "127.0.0.1:%u", (unsigned)ntohs(sin.sin_port));
	assert_int_equal(evdns_base_clear_nameservers_and_suspend(dns), 0);
	assert_int_equal(evdns_base_nameserver_ip_add(dns, ns), 0);
	assert_int_equal(evdns_base_resume(dns), 0);
	/* Short timeouts, and a server that drops questions is never given up on. */
	evdns_base_set_option(dns, "timeout:", "0.2");
	evdns_base_set_option(dns, "attempts:", "1");
	evdns_base_set_option(dns, "max-timeouts:", "255");
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	f->r = rdns_free(f->r);
	evdns_close_server_port(f->port);
	close(f->fd);
	event_base_free(f->base);
	return 0;
}

static mxa_addr ip(const char *s)
{
	mxa_addr a;

	assert_int_equal(addr_parse(&a, s), 0);
	return a;
}

static void lookup(struct fixture *f, const char *client)
{
	mxa_addr c = ip(client);

	memset(&f->res, 0, sizeof(f->res));
	f->res.why = (enum rdns_failure) - 1;
	assert_int_equal(rdns_lookup(f->r, &c), 0);
	f->expect = 1;
	run(f);
	assert_int_equal(f->res.calls, 1);
}

static bool has(const struct result *res, const char *a)
{
	mxa_addr x = ip(a);

	for (size_t i = 0; i < res->n; i++)
		if (addr_equal(&res->addrs[i], &x))
			return true;
	return false;
}

static int asked(const struct fixture *f, int type, const char *name)
{
	int n = 0;

	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		if (rules[i].type == type && strcmp(rules[i].name, name) == 0)
			n += f->asked[i];
	return n;
}

static void test_confirmed(void **state)
{
	struct fixture *f = *state;

	lookup(f, "198.51.100.1");
	assert_true(f->res.done);
	assert_string_equal(f->res.name, "mail.example.org");
	assert_int_equal(f->res.n, 3);
	assert_true(has(&f->res, "198.51.100.1") && has(&f->res, "198.51.100.2") &&
	            has(&f->res, "2001:db8:1::2"));
	lookup(f, "2001:db8:1::1");
	assert_true(f->res.done);
	assert_string_equal(f->res.name, "mail.example.org");
	assert_int_equal(rdns_stats(f->r)->started, 2);
}

/* A PTR name with a space and '=', or a newline: refused, escaped, never looked up. */
static void test_invalid_ptr_name(void **state)
{
	struct fixture *f = *state;

	lookup(f, "198.51.100.2");
	assert_false(f->res.done);
	assert_int_equal(f->res.why, RDNS_FAIL_BAD_NAME);
	assert_string_equal(f->res.what, "invalid PTR name");
	assert_true(f->res.has_name);
	assert_string_equal(f->res.esc, "evil\\x20name\\x3dx.example.org");
	assert_int_equal(asked(f, EVDNS_TYPE_A, "evil name=x.example.org"), 0);
	lookup(f, "198.51.100.3");
	assert_int_equal(f->res.why, RDNS_FAIL_BAD_NAME);
	assert_string_equal(f->res.esc, "a\\x0afake:\\x20line.example.org");
	/* Through the plain error callback: one log-safe text. */
	rdns_set_failed(f->r, NULL);
	lookup(f, "198.51.100.2");
	assert_string_equal(f->res.what, "invalid PTR name name=evil\\x20name\\x3dx.example.org");
	assert_int_equal(rdns_stats(f->r)->failed[RDNS_FAIL_BAD_NAME], 3);
}

/* evdns 2.1 fails PTR names of 64 characters or more: reported for what it is, not retried. */
static void test_long_ptr_name(void **state)
{
	struct fixture *f = *state;

	lookup(f, "198.51.100.4");
	assert_false(f->res.done);
	assert_int_equal(f->res.why, RDNS_FAIL_UNREADABLE);
	assert_non_null(strstr(f->res.what, "64 characters"));
	assert_false(f->res.has_name);
	lookup(f, "198.51.100.5"); /* 63: the longest that works */
	assert_true(f->res.done);
	assert_string_equal(f->res.name, LONG63);
	assert_int_equal(f->res.n, 1);
}

static void test_no_ptr(void **state)
{
	struct fixture *f = *state;

	lookup(f, "198.51.100.6");
	assert_int_equal(f->res.why, RDNS_FAIL_NO_NAME);
	assert_string_equal(f->res.what, "no PTR name: name does not exist");
	lookup(f, "198.51.100.7");
	assert_int_equal(f->res.why, RDNS_FAIL_NO_NAME);
	assert_string_equal(rdns_failure_name(f->res.why), "no-name");
}

/* A name without addresses (NODATA or NXDOMAIN forward) is an answer: done, 0 addresses. */
static void test_name_without_addresses(void **state)
{
	struct fixture *f = *state;

	lookup(f, "198.51.100.8");
	assert_true(f->res.done);
	assert_string_equal(f->res.name, "noaddr.example.org");
	assert_int_equal(f->res.n, 0);
	lookup(f, "198.51.100.9");
	assert_true(f->res.done);
	assert_int_equal(f->res.n, 0);
}

/* A forward query that timed out may have held the client: failed, to be tried again. */
static void test_forward_failure(void **state)
{
	struct fixture *f = *state;

	lookup(f, "198.51.100.10");
	assert_false(f->res.done);
	assert_int_equal(f->res.why, RDNS_FAIL_TEMPORARY);
	assert_string_equal(f->res.what,
	                    "forward lookup of the PTR name failed: request timed out");
	assert_string_equal(f->res.esc, "slow.example.org");
	/* The client in the A answer confirms though the AAAA query failed. */
	lookup(f, "198.51.100.11");
	assert_true(f->res.done);
	assert_int_equal(f->res.n, 1);
}

static void test_ptr_failure(void **state)
{
	struct fixture *f = *state;

	lookup(f, "198.51.100.12");
	assert_int_equal(f->res.why, RDNS_FAIL_TEMPORARY);
	assert_string_equal(f->res.what, "PTR lookup failed: request timed out");
	/* evdns 2.1 lets a SERVFAIL time out (it may be the server's trouble, not the name's). */
	lookup(f, "198.51.100.13");
	assert_int_equal(f->res.why, RDNS_FAIL_TEMPORARY);
	assert_string_equal(f->res.what, "PTR lookup failed: request timed out");
}

/* One lookup per client at a time; max_inflight; the rate. */
static void test_limits(void **state)
{
	struct fixture *f = *state;
	mxa_addr c[6];

	for (int i = 0; i < 6; i++) {
		char a[32];

		snprintf(a, sizeof(a), "198.51.100.%d", 20 + i);
		c[i] = ip(a);
	}
	memset(&f->res, 0, sizeof(f->res));
	assert_int_equal(rdns_lookup(f->r, &c[0]), 0);
	assert_int_equal(rdns_lookup(f->r, &c[0]), 0); /* the same client: one lookup */
	assert_int_equal(rdns_stats(f->r)->dup, 1);
	assert_int_equal(rdns_lookup(f->r, &c[1]), 0);
	assert_int_equal(rdns_lookup(f->r, &c[2]), 0);
	assert_int_equal(rdns_lookup(f->r, &c[3]), 0);
	assert_int_equal(rdns_lookup(f->r, &c[4]), -EBUSY); /* 4 under way */
	assert_int_equal(rdns_stats(f->r)->skipped_busy, 1);
	assert_int_equal(rdns_inflight(f->r), 4);
	f->expect = 4;
	run(f);
	assert_int_equal(f->res.calls, 4);
	assert_int_equal(rdns_inflight(f->r), 0);
	/* 1 a second: the first goes, the next waits for its token. */
	rdns_set_rate(f->r, 1);
	assert_int_equal(rdns_lookup(f->r, &c[4]), 0);
	assert_int_equal(rdns_lookup(f->r, &c[5]), -EAGAIN);
	assert_int_equal(rdns_stats(f->r)->skipped_rate, 1);
	f->expect = 1;
	run(f);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_confirmed),
	    T(test_invalid_ptr_name),
	    T(test_long_ptr_name),
	    T(test_no_ptr),
	    T(test_name_without_addresses),
	    T(test_forward_failure),
	    T(test_ptr_failure),
	    T(test_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
