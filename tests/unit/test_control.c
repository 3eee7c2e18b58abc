/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The control socket's pure parts: the request parser (a table of lines and
 * what each must give, in the manner of sshguard's parser tests), entry
 * lines both ways, the whitelist walk a listing uses, and the core's manual
 * entries and explanations.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ctlproto.h"
#include "syncwire.h"
#include "mx.h"

/* ---------------------------------------------------------------- requests */

/* A request line and what it gives: "OK cmd addr prefix ttl", or "ERR" + part of the message. */
static const struct {
	const char *line;
	const char *want;
} request_cases[] = {
    {"list", "OK 0 - -1 0"},
    {"stats", "OK 4 - -1 0"},
    {"reload", "OK 5 - -1 0"},
    {"list\r", "OK 0 - -1 0"},
    {"show 198.51.100.7", "OK 1 198.51.100.7 -1 0"},
    {"show 2001:db8:1::7", "OK 1 2001:db8:1::7 -1 0"},
    {"show ::ffff:198.51.100.7", "OK 1 198.51.100.7 -1 0"},
    {"add 198.51.100.7", "OK 2 198.51.100.7 -1 0"},
    {"add 198.51.100.0/24 60", "OK 2 198.51.100.0 24 60"},
    {"add 2001:db8::/64 2147483", "OK 2 2001:db8:: 64 2147483"},
    {"add 198.51.100.7/32", "OK 2 198.51.100.7 32 0"},
    {"add 0.0.0.0/0", "OK 2 0.0.0.0 0 0"},
    {"del 198.51.100.7", "OK 3 198.51.100.7 -1 0"},
    {"del 2001:db8:1::7/128", "OK 3 2001:db8:1::7 128 0"},
    {"", "ERR empty request"},
    {"\r", "ERR empty request"},
    {"LIST", "ERR unknown command 'LIST'"},
    {"lis", "ERR unknown command"},
    {"list 198.51.100.7", "ERR usage: list"},
    {"stats now", "ERR usage: stats"},
    {"reload x", "ERR usage: reload"},
    {"show", "ERR usage: show ADDR"},
    {"show 198.51.100.7 198.51.100.8", "ERR usage: show ADDR"},
    {"show 198.51.100.0/24", "ERR usage: show ADDR (an address, without a prefix)"},
    {"show mx.example.test", "ERR 'mx.example.test' is not an address"},
    {"show 198.51.100.256", "ERR is not an address"},
    {"add", "ERR usage: add ADDR[/PREFIX] [TTL]"},
    {"add 198.51.100.7 60 70", "ERR usage: add"},
    {"del 198.51.100.7 60", "ERR usage: del ADDR[/PREFIX]"},
    {"add 198.51.100.0/33", "ERR is not an address or address/prefix"},
    {"add 2001:db8::/129", "ERR is not an address or address/prefix"},
    {"add 198.51.100.0/024", "ERR is not an address"},
    {"add 198.51.100.0/", "ERR is not an address"},
    {"add 198.51.100.0/+8", "ERR is not an address"},
    {"add /24", "ERR is not an address"},
    {"add 198.51.100.7 0", "ERR TTL '0' is not a whole number of seconds from 1 to 2147483"},
    {"add 198.51.100.7 2147484", "ERR TTL '2147484'"},
    {"add 198.51.100.7 060", "ERR TTL '060'"},
    {"add 198.51.100.7 -1", "ERR TTL '-1'"},
    {"add 198.51.100.7 1h", "ERR TTL '1h'"},
    {"add 198.51.100.7 99999999999999999999", "ERR TTL"},
    {" list", "ERR extra space at column 1"},
    {"list ", "ERR extra space at column 5"},
    {"show  198.51.100.7", "ERR extra space at column 6"},
    {"show\t198.51.100.7", "ERR byte 0x09 at column 5"},
    {"list\r\r", "ERR byte 0x0d at column 5"},
    {"sh\x01w", "ERR byte 0x01 at column 3"},
    {"show 198.51.100.7\xc3\xa9", "ERR byte 0xc3 at column 18"},
    {"a b c d e", "ERR too many words"},
};

static void test_requests(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(request_cases) / sizeof(request_cases[0]); i++) {
		struct ctl_request req;
		char err[256], got[300], a[ADDR_STRLEN];
		const char *line = request_cases[i].line;
		int r = ctl_parse_request(line, strlen(line), &req, err, sizeof(err));

		if (r == 0)
			snprintf(got, sizeof(got), "OK %d %s %d %u", (int)req.cmd,
			         req.cmd == CTL_SHOW || req.cmd == CTL_ADD || req.cmd == CTL_DEL
			             ? addr_format(&req.addr, a)
			             : "-",
			         req.prefix, (unsigned)req.ttl);
		else
			snprintf(got, sizeof(got), "ERR %s", err);
		if (strncmp(request_cases[i].want, "OK", 2) == 0
		        ? strcmp(got, request_cases[i].want) != 0
		        : !strstr(got, request_cases[i].want + 4) || r != -EINVAL) {
			print_error("request '%s': got '%s', want '%s'\n", line, got,
			            request_cases[i].want);
			fail();
		}
	}
}

static void test_request_length(void **state)
{
	char line[CTL_MAX_REQUEST + 8], err[256];
	struct ctl_request req;

	(void)state;
	/* The longest request: CTL_MAX_REQUEST - 1 bytes and its LF. Nothing valid is that long. */
	memset(line, 'a', sizeof(line));
	assert_int_equal(ctl_parse_request(line, CTL_MAX_REQUEST - 1, &req, err, sizeof(err)),
	                 -EINVAL);
	assert_non_null(strstr(err, "unknown command"));
	assert_int_equal(ctl_parse_request(line, CTL_MAX_REQUEST, &req, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "request longer than 1023 bytes");
	/* A NUL inside the line is a byte like any other control byte. */
	assert_int_equal(ctl_parse_request("list\0x", 6, &req, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "byte 0x00 at column 5: requests are printable ASCII");
	/* An overlong word is cut in the message. */
	snprintf(line, sizeof(line), "show %0200d", 7);
	assert_int_equal(ctl_parse_request(line, strlen(line), &req, err, sizeof(err)), -EINVAL);
	assert_true(strlen(err) < 100);
	assert_non_null(strstr(err, "...' is not an address"));
}

/* ---------------------------------------------------------------- entry lines */

static mxa_addr A(const char *s)
{
	mxa_addr a;

	assert_int_equal(addr_parse(&a, s), 0);
	return a;
}

static void test_entry_lines(void **state)
{
	struct wl_entry e = {0};
	struct ctl_entry p;
	char line[CTL_MAX_REPLY];

	(void)state;
	e.addr = A("198.51.100.7");
	e.origin = A("192.0.2.10");
	e.deadline = 1000 + 3581;
	e.reason = WL_REASON_FAKE_MX;
	ctl_format_entry(line, sizeof(line), &e, 32, 1000);
	assert_string_equal(line, "entry addr=198.51.100.7 reason=fake-mx origin=192.0.2.10 "
	                          "expires-in=3581 last-use=-");
	assert_int_equal(ctl_parse_entry(line, &p), 0);
	assert_string_equal(p.addr, "198.51.100.7");
	assert_int_equal(p.prefix, 32);
	assert_string_equal(p.reason, "fake-mx");
	assert_string_equal(p.origin, "192.0.2.10");
	assert_int_equal(p.expires_in, 3581);
	assert_int_equal(p.last_use, -1);

	/* A network key, a use 12 s ago; manual entries have no origin. */
	e.addr = A("2001:db8:1::");
	e.reason = WL_REASON_MANUAL;
	e.used = true;
	e.last_use = 988;
	ctl_format_entry(line, sizeof(line), &e, 64, 1000);
	assert_string_equal(line, "entry addr=2001:db8:1::/64 reason=manual origin=- "
	                          "expires-in=3581 last-use=12");
	assert_int_equal(ctl_parse_entry(line, &p), 0);
	assert_string_equal(p.addr, "2001:db8:1::");
	assert_int_equal(p.prefix, 64);
	assert_string_equal(p.origin, "");
	assert_int_equal(p.last_use, 12);

	/* A peer's entry (shared whitelist) names the peer's node, as log lines do. */
	e.addr = A("198.51.100.8");
	e.reason = WL_REASON_PEER;
	e.used = false;
	syncwire_origin_from_node(&e.origin, "mx-b");
	ctl_format_entry(line, sizeof(line), &e, 32, 1000);
	assert_string_equal(line, "entry addr=198.51.100.8 reason=peer origin=peer:mx-b "
	                          "expires-in=3581 last-use=-");
	assert_int_equal(ctl_parse_entry(line, &p), 0);
	assert_string_equal(p.origin, "peer:mx-b");

	/* A later server may add fields: skipped. Missing or broken ones are errors. */
	assert_int_equal(ctl_parse_entry("entry addr=198.51.100.7 reason=peer origin=- "
	                                 "expires-in=5 last-use=- name=x.example.org",
	                                 &p),
	                 0);
	assert_int_equal(ctl_parse_entry("entry addr=198.51.100.7 reason=peer origin=- "
	                                 "expires-in=5",
	                                 &p),
	                 -EINVAL);
	assert_int_equal(ctl_parse_entry("entry addr=198.51.100.300 reason=peer origin=- "
	                                 "expires-in=5 last-use=-",
	                                 &p),
	                 -EINVAL);
	assert_int_equal(ctl_parse_entry("entry addr=198.51.100.7 reason=peer origin=- "
	                                 "expires-in=-5 last-use=-",
	                                 &p),
	                 -EINVAL);
	assert_int_equal(ctl_parse_entry("stat dropped 5", &p), -EINVAL);
}

static void test_line_kinds(void **state)
{
	const char *t;

	(void)state;
	assert_int_equal(ctl_line_kind("ok", &t), CTL_LINE_OK);
	assert_string_equal(t, "");
	assert_int_equal(ctl_line_kind("ok 3 entries", &t), CTL_LINE_OK);
	assert_string_equal(t, "3 entries");
	assert_int_equal(ctl_line_kind("no 198.51.100.3 is not let in", &t), CTL_LINE_NO);
	assert_int_equal(ctl_line_kind("error busy", &t), CTL_LINE_ERROR);
	assert_string_equal(t, "busy");
	assert_int_equal(ctl_line_kind("okay", &t), CTL_LINE_DATA);
	assert_int_equal(ctl_line_kind("entry addr=198.51.100.7", &t), CTL_LINE_DATA);
	assert_int_equal(ctl_line_kind("errors", &t), CTL_LINE_DATA);
}

/* ---------------------------------------------------------------- the walk of a listing */

static const uint64_t key[2] = {1, 2};

static mxa_addr nth(unsigned i)
{
	char s[ADDR_STRLEN];

	snprintf(s, sizeof(s), "2001:db8:2::%x", i);
	return A(s);
}

static unsigned index_of(const mxa_addr *a)
{
	return (unsigned)a->b[14] << 8 | a->b[15];
}

static void put_n(struct whitelist *wl, unsigned n, mxa_time deadline)
{
	for (unsigned i = 0; i < n; i++) {
		struct wl_entry e = {
		    .addr = nth(i), .deadline = deadline, .reason = WL_REASON_MANUAL};

		assert_true(whitelist_put(wl, &e, NULL) >= 0);
	}
}

static void test_walk(void **state)
{
	struct whitelist *wl = whitelist_new(1000, key, 100);
	struct wl_iter it = {0};
	struct wl_entry e;
	unsigned seen[500] = {0}, n = 0;
	size_t budget;
	int r;

	(void)state;
	put_n(wl, 500, 200);
	/* Entries 0..99 expire at 150: skipped without being removed. */
	for (unsigned i = 0; i < 100; i++) {
		struct wl_entry x = {.addr = nth(i), .deadline = 150, .reason = WL_REASON_MANUAL};

		assert_int_equal(whitelist_put(wl, &x, NULL), WL_PUT_UPDATED);
	}
	budget = SIZE_MAX;
	while ((r = whitelist_iter(wl, &it, 160, &budget, &e)) == 1) {
		assert_true(index_of(&e.addr) >= 100);
		seen[index_of(&e.addr)]++;
		n++;
	}
	assert_int_equal(r, 0);
	assert_int_equal(n, 400);
	for (unsigned i = 100; i < 500; i++)
		assert_int_equal(seen[i], 1);

	/* The budget bounds the slots looked at per call. */
	it = (struct wl_iter){0};
	budget = 50;
	n = 0;
	while ((r = whitelist_iter(wl, &it, 100, &budget, &e)) == 1)
		n++;
	assert_int_equal(r, -EAGAIN);
	assert_int_equal(n, 50);
	assert_int_equal(budget, 0);
	whitelist_free(wl);
}

/*
 * A walk over many wake-ups while entries go (the last slot fills the hole)
 * and come: each entry present throughout comes at least once; nothing that
 * was never there comes.
 */
static void test_walk_changing(void **state)
{
	struct whitelist *wl = whitelist_new(1000, key, 100);
	struct wl_iter it = {0};
	struct wl_entry e;
	unsigned seen[700] = {0}, step = 0;
	bool removed[700] = {false};
	size_t budget;
	int r;

	(void)state;
	put_n(wl, 500, 1000);
	for (;;) {
		budget = 7;
		while ((r = whitelist_iter(wl, &it, 100, &budget, &e)) == 1)
			seen[index_of(&e.addr)]++;
		if (r == 0)
			break;
		/* Between wake-ups: remove two entries, add one. */
		for (unsigned k = 0; k < 2; k++) {
			unsigned v = (step * 37 + k * 101) % 500;
			mxa_addr va = nth(v);

			if (!removed[v] && whitelist_del(wl, &va, NULL))
				removed[v] = true;
		}
		if (500 + step < 700) {
			struct wl_entry x = {
			    .addr = nth(500 + step), .deadline = 1000, .reason = WL_REASON_MANUAL};

			assert_true(whitelist_put(wl, &x, NULL) >= 0);
		}
		step++;
	}
	assert_true(step > 50);
	for (unsigned i = 0; i < 500; i++) {
		if (!removed[i] && seen[i] == 0) {
			print_error("entry %u present throughout, not listed\n", i);
			fail();
		}
		assert_true(seen[i] <= 2);
	}
	whitelist_free(wl);
}

/* ---------------------------------------------------------------- manual entries */

struct rec {
	char lines[16][128];
	size_t n;
};

static void on_added(void *ctx, const struct wl_entry *e, bool renewed, const char *name,
                     mxa_time now)
{
	struct rec *r = ctx;
	char a[ADDR_STRLEN];

	(void)name;
	assert_true(r->n < 16);
	snprintf(r->lines[r->n++], sizeof(r->lines[0]), "%s %s %s ttl=%lld",
	         renewed ? "renew" : "add", addr_format(&e->addr, a),
	         whitelist_reason_name(e->reason), (long long)(e->deadline - now));
}

static void on_removed(void *ctx, const struct wl_entry *e, enum mx_removal why)
{
	struct rec *r = ctx;
	char a[ADDR_STRLEN];

	assert_true(r->n < 16);
	snprintf(r->lines[r->n++], sizeof(r->lines[0]), "del %s %s why=%d",
	         addr_format(&e->addr, a), whitelist_reason_name(e->reason), why);
}

static struct mx *new_mx(struct rec *r, unsigned v4_prefix)
{
	static mxa_addr fake, real;
	struct mx_sink sink = {.ctx = r, .added = on_added, .removed = on_removed};
	struct mx_params p = {
	    .fake = &fake,
	    .n_fake = 1,
	    .real = &real,
	    .n_real = 1,
	    .whitelist_time = 3600,
	    .v4_prefix = v4_prefix,
	    .v6_prefix = 64,
	};

	fake = A("192.0.2.10");
	real = A("192.0.2.20");
	return mx_new(&p, 1000, key, &sink, 100);
}

static void test_manual(void **state)
{
	struct rec r = {0};
	struct mx *mx = new_mx(&r, 32);
	mxa_addr a = A("198.51.100.7"), fake = A("192.0.2.10"), real = A("192.0.2.20");
	struct wl_entry prev, out;
	struct mx_explanation ex;

	(void)state;
	assert_false(mx_explain(mx, &a, 100, &ex));
	assert_int_equal(ex.source, MX_EXPLAIN_NONE);
	assert_int_equal(mx_syn(mx, &a, &real, 100), MX_DROP);

	assert_int_equal(mx_manual_add(mx, &a, -1, 600, 100, &prev), MX_MANUAL_ADDED);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.lines[0], "add 198.51.100.7 manual ttl=600");
	assert_true(mx_explain(mx, &a, 100, &ex));
	assert_int_equal(ex.source, MX_EXPLAIN_ENTRY);
	assert_int_equal(ex.entry.reason, WL_REASON_MANUAL);
	assert_int_equal(ex.prefix, 32);
	assert_int_equal(mx_syn(mx, &a, &real, 101), MX_ALLOW);

	/* The same key again: replaced, its last use kept. */
	assert_int_equal(mx_manual_add(mx, &a, 32, 60, 102, &prev), MX_MANUAL_REPLACED);
	assert_int_equal(prev.reason, WL_REASON_MANUAL);
	assert_string_equal(r.lines[1], "renew 198.51.100.7 manual ttl=60");
	assert_true(mx_explain(mx, &a, 102, &ex));
	assert_true(ex.entry.used);

	/* Expiry as for any entry. */
	assert_false(mx_explain(mx, &a, 162, &ex));
	mx_expire(mx, 162);
	assert_string_equal(r.lines[2], "del 198.51.100.7 manual why=0");

	/* A fake-MX entry can be deleted too; the sink hears "deleted". */
	mx_syn(mx, &a, &fake, 170);
	r.n = 0;
	assert_int_equal(mx_manual_del(mx, &a, -1, 171, &out), 1);
	assert_int_equal(out.reason, WL_REASON_FAKE_MX);
	assert_string_equal(r.lines[0], "del 198.51.100.7 fake-mx why=2");
	assert_int_equal(mx_manual_del(mx, &a, -1, 171, &out), 0);
	assert_int_equal(mx_syn(mx, &a, &real, 172), MX_DROP);

	/* Bounds: a lifetime of 0 or above the limit; prefixes other than the key's. */
	assert_int_equal(mx_manual_add(mx, &a, -1, 0, 180, NULL), -ERANGE);
	assert_int_equal(mx_manual_add(mx, &a, -1, MX_MANUAL_TTL_MAX + 1, 180, NULL), -ERANGE);
	assert_int_equal(mx_manual_add(mx, &a, -1, MX_MANUAL_TTL_MAX, 180, NULL), MX_MANUAL_ADDED);
	r.n = 0;
	assert_int_equal(mx_manual_add(mx, &a, 24, 60, 180, NULL), -EINVAL);
	assert_int_equal(mx_manual_del(mx, &a, 31, 180, NULL), -EINVAL);
	assert_int_equal(r.n, 0);
	mx_free(mx);
}

static void test_manual_networks(void **state)
{
	struct rec r = {0};
	struct mx *mx = new_mx(&r, 24);
	mxa_addr host = A("198.51.100.7"), net = A("198.51.100.0"), real = A("192.0.2.20");
	mxa_addr other = A("198.51.100.200"), v6 = A("2001:db8:1::7");
	struct mx_explanation ex;
	mxa_addr key24;

	(void)state;
	/* An address stands for its /24; a network must be given as exactly that. */
	assert_int_equal(mx_manual_add(mx, &host, 24, 60, 100, NULL), -EINVAL); /* host bits */
	assert_int_equal(mx_manual_add(mx, &net, 16, 60, 100, NULL), -EINVAL);
	assert_int_equal(mx_manual_add(mx, &net, 32, 60, 100, NULL), -EINVAL);
	assert_int_equal(r.n, 0);
	assert_int_equal(mx_manual_add(mx, &host, -1, 60, 100, NULL), MX_MANUAL_ADDED);
	assert_string_equal(r.lines[0], "add 198.51.100.0 manual ttl=60");
	assert_int_equal(mx_manual_add(mx, &net, 24, 60, 100, NULL), MX_MANUAL_REPLACED);
	assert_int_equal(mx_syn(mx, &other, &real, 101), MX_ALLOW);
	assert_true(mx_explain(mx, &other, 101, &ex));
	mx_key(mx, &key24, &other);
	assert_true(addr_equal(&ex.key, &key24));
	assert_true(addr_equal(&ex.key, &net));
	assert_int_equal(ex.prefix, 24);
	assert_int_equal(mx_key_prefix(mx, &v6), 64);
	assert_int_equal(mx_manual_del(mx, &other, -1, 102, NULL), 1);
	assert_int_equal(mx_syn(mx, &host, &real, 103), MX_DROP);

	/* A static network (allow lists) comes first, as in the verdicts; the entry is still shown.
	 */
	{
		struct netset *set = netset_new();
		mxa_addr n26;
		unsigned p26;
		char why[64];

		assert_non_null(set);
		assert_int_equal(netset_parse("198.51.100.0/26", &n26, &p26, why, sizeof(why)), 0);
		assert_int_equal(netset_add(set, &n26, p26, "allow.txt", 3), 0);
		assert_int_equal(netset_finish(set), 0);
		mx_set_static(mx, set);
		assert_int_equal(mx_manual_add(mx, &host, -1, 60, 103, NULL), MX_MANUAL_ADDED);
		assert_true(mx_explain(mx, &host, 103, &ex));
		assert_int_equal(ex.source, MX_EXPLAIN_STATIC);
		assert_int_equal(ex.static_net->prefix, 26);
		assert_int_equal(ex.static_net->line, 3);
		assert_true(ex.has_entry);
		assert_int_equal(ex.entry.reason, WL_REASON_MANUAL);
		assert_int_equal(mx_manual_del(mx, &host, -1, 103, NULL), 1);
		assert_true(mx_explain(mx, &host, 103, &ex));
		assert_false(ex.has_entry);
		assert_false(mx_explain(mx, &other, 103, &ex)); /* .200 is outside the /26 */
		mx_set_static(mx, NULL);
	}

	/* The rDNS negative cache shows in the explanation. */
	mx_rdns_failed(mx, &host, MX_RDNS_FINAL, 104);
	assert_false(mx_explain(mx, &host, 105, &ex));
	assert_true(ex.negative);
	assert_int_equal(ex.negative_until, 104 + MX_RDNS_NEG_TTL);
	mx_free(mx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_requests),    cmocka_unit_test(test_request_length),
	    cmocka_unit_test(test_entry_lines), cmocka_unit_test(test_line_kinds),
	    cmocka_unit_test(test_walk),        cmocka_unit_test(test_walk_changing),
	    cmocka_unit_test(test_manual),      cmocka_unit_test(test_manual_networks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
