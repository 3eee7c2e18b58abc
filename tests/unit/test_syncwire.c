/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The shared whitelist's core parts: the wire format (round trips, and a
 * table of garbage each refused with its reason), the bounded write queue,
 * and the core's peer entry point (mx_peer_add/mx_peer_del).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mx.h"
#include "syncqueue.h"
#include "syncwire.h"

static const uint64_t hkey[2] = {7, 9};

static mxa_addr ip(const char *s)
{
	mxa_addr a;

	assert_int_equal(addr_parse(&a, s), 0);
	return a;
}

static void roundtrip(const struct syncwire_msg *m, const char *want)
{
	char buf[SYNCWIRE_LINE_MAX], why[128] = "";
	struct syncwire_msg back;
	int n = syncwire_format(m, buf, sizeof(buf));

	assert_true(n > 0);
	assert_string_equal(buf, want);
	if (syncwire_parse(buf, (size_t)n, &back, why, sizeof(why)) != 0)
		fail_msg("'%s' refused: %s", buf, why);
	assert_int_equal(back.kind, m->kind);
	assert_string_equal(back.node, m->node);
	assert_true(addr_equal(&back.addr, &m->addr));
	assert_int_equal(back.bits, m->bits);
	assert_int_equal(back.t_us, m->t_us);
	if (m->kind != SYNCWIRE_DEL) {
		assert_int_equal(back.reason, m->reason);
		assert_true(addr_equal(&back.origin, &m->origin));
		assert_int_equal(back.deadline, m->deadline);
		assert_int_equal(back.last_use, m->last_use);
	}
}

static void test_roundtrip(void **state)
{
	struct syncwire_msg m = {
	    .kind = SYNCWIRE_ADD,
	    .node = "mx-a.example.test",
	    .addr = ip("198.51.100.1"),
	    .bits = 32,
	    .reason = WL_REASON_FAKE_MX,
	    .origin = ip("192.0.2.10"),
	    .deadline = 1767000000,
	    .last_use = 0,
	    .t_us = 1766996400123456,
	};

	(void)state;
	roundtrip(&m, "v1 add node=mx-a.example.test addr=198.51.100.1/32 reason=fake-mx "
	              "origin=192.0.2.10 deadline=1767000000 last-use=0 t=1766996400123456");
	m.kind = SYNCWIRE_ENTRY;
	m.addr = ip("2001:db8:1::");
	m.bits = 64;
	m.reason = WL_REASON_RDNS_SIBLING;
	m.origin = ip("2001:db8:1::1");
	m.last_use = 1766996500;
	roundtrip(&m, "v1 entry node=mx-a.example.test addr=2001:db8:1::/64 reason=rdns-sibling "
	              "origin=2001:db8:1::1 deadline=1767000000 last-use=1766996500 "
	              "t=1766996400123456");
	m.reason = WL_REASON_MANUAL;
	memset(&m.origin, 0, sizeof(m.origin));
	roundtrip(&m, "v1 entry node=mx-a.example.test addr=2001:db8:1::/64 reason=manual origin=- "
	              "deadline=1767000000 last-use=1766996500 t=1766996400123456");
	m.kind = SYNCWIRE_DEL;
	m.addr = ip("192.0.2.0");
	m.bits = 24;
	roundtrip(&m, "v1 del node=mx-a.example.test addr=192.0.2.0/24 t=1766996400123456");
}

static void test_format_refuses(void **state)
{
	struct syncwire_msg m = {.kind = SYNCWIRE_ADD,
	                         .node = "a",
	                         .addr = ip("198.51.100.1"),
	                         .bits = 32,
	                         .reason = WL_REASON_PEER,
	                         .deadline = 5};
	char buf[SYNCWIRE_LINE_MAX];

	(void)state;
	/* a peer's entry is never passed on (no echo between peers), nor a static one */
	assert_int_equal(syncwire_format(&m, buf, sizeof(buf)), -EINVAL);
	m.reason = WL_REASON_STATIC;
	assert_int_equal(syncwire_format(&m, buf, sizeof(buf)), -EINVAL);
	m.reason = WL_REASON_FAKE_MX;
	assert_true(syncwire_format(&m, buf, sizeof(buf)) > 0);
	m.bits = 24; /* host bits set past /24 */
	assert_int_equal(syncwire_format(&m, buf, sizeof(buf)), -EINVAL);
	m.bits = 33;
	assert_int_equal(syncwire_format(&m, buf, sizeof(buf)), -EINVAL);
	m.bits = 32;
	strcpy(m.node, "bad name");
	assert_int_equal(syncwire_format(&m, buf, sizeof(buf)), -EINVAL);
}

struct garbage {
	const char *line;
	const char *why;
};

#define OKTAIL "reason=fake-mx origin=192.0.2.10 deadline=1767000000 last-use=0 t=1"

static const struct garbage garbage[] = {
    {"", "does not start with 'v1 '"},
    {"hello", "does not start with 'v1 '"},
    {"v2 add node=a addr=198.51.100.1/32 " OKTAIL, "does not start with 'v1 '"},
    {"v1 put node=a", "neither entry, add, del nor hello"},
    {"v1 add", "neither entry, add, del nor hello"},
    {"v1 add node=a", "'addr' is missing"},
    {"v1 add node= addr=198.51.100.1/32 " OKTAIL, "node is not"},
    {"v1 add node=a$b addr=198.51.100.1/32 " OKTAIL, "node is not"},
    {"v1 add node=0123456789012345678901234567890123456789012345678901234567890123 "
     "addr=198.51.100.1/32 " OKTAIL,
     "node is not"},
    {"v1 add addr=198.51.100.1/32 node=a " OKTAIL, "expected 'node='"},
    {"v1 add node=a addr=198.51.100.1 " OKTAIL, "no /BITS"},
    {"v1 add node=a addr=198.51.100.256/32 " OKTAIL, "not an address in canonical form"},
    {"v1 add node=a addr=::ffff:198.51.100.1/32 " OKTAIL, "canonical form"},
    {"v1 add node=a addr=2001:DB8::1/128 " OKTAIL, "canonical form"},
    {"v1 add node=a addr=198.51.100.1/33 " OKTAIL, "out of range"},
    {"v1 add node=a addr=198.51.100.1/-1 " OKTAIL, "out of range"},
    {"v1 add node=a addr=198.51.100.1/032 " OKTAIL, "out of range"},
    {"v1 add node=a addr=198.51.100.1/24 " OKTAIL, "bits set beyond"},
    {"v1 add node=a addr=198.51.100.1/32 reason=peer origin=- deadline=1 last-use=0 t=1",
     "unknown or unshared reason"},
    {"v1 add node=a addr=198.51.100.1/32 reason=static origin=- deadline=1 last-use=0 t=1",
     "unknown or unshared reason"},
    {"v1 add node=a addr=198.51.100.1/32 reason=fake-mx origin=x deadline=1 last-use=0 t=1",
     "origin is neither"},
    {"v1 add node=a addr=198.51.100.1/32 reason=fake-mx origin=- deadline=0 last-use=0 t=1",
     "deadline is not a positive number"},
    {"v1 add node=a addr=198.51.100.1/32 reason=fake-mx origin=- deadline=99999999999999999999 "
     "last-use=0 t=1",
     "deadline is not a positive number"},
    {"v1 add node=a addr=198.51.100.1/32 reason=fake-mx origin=- deadline=1 last-use=-3 t=1",
     "last-use is not a number"},
    {"v1 add node=a addr=198.51.100.1/32 reason=fake-mx origin=- deadline=1 last-use=0",
     "'t' is missing"},
    {"v1 add node=a addr=198.51.100.1/32 reason=fake-mx origin=- deadline=1 last-use=0 t=1 x=2",
     "unexpected text"},
    {"v1 add node=a addr=198.51.100.1/32 reason=fake-mx origin=- deadline=1 last-use=0 t=1 ",
     "unexpected text"},
    {"v1 add node=a  addr=198.51.100.1/32 " OKTAIL, "expected 'addr='"},
    {"v1 del node=a addr=198.51.100.1/32", "'t' is missing"},
    {"v1 del node=a addr=198.51.100.1/32 t=x", "t is not a number"},
    {"v1 del node=a addr=198.51.100.1/32 t=1 reason=fake-mx", "unexpected text"},
    {"v1 del node=a addr=198.51.100.1/32 t=1\r", "non-printable"},
};

static void test_garbage(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
		struct syncwire_msg m;
		char why[128] = "";

		if (syncwire_parse(garbage[i].line, strlen(garbage[i].line), &m, why,
		                   sizeof(why)) != -EINVAL)
			fail_msg("accepted: '%s'", garbage[i].line);
		if (!strstr(why, garbage[i].why))
			fail_msg("'%s': reason '%s' lacks '%s'", garbage[i].line, why,
			         garbage[i].why);
	}
}

/* Binary junk of every length: refused, never read past its end. */
static void test_binary_junk(void **state)
{
	char buf[600], why[128];
	struct syncwire_msg m;
	uint32_t x = 1;

	(void)state;
	for (size_t len = 0; len < sizeof(buf); len++) {
		for (size_t i = 0; i < len; i++) {
			x = x * 1103515245 + 12345;
			buf[i] = (char)(x >> 16);
		}
		if (len >= 3)
			memcpy(buf, "v1 ", 3);
		assert_int_equal(syncwire_parse(buf, len, &m, why, sizeof(why)), -EINVAL);
	}
}

static void test_key_and_origin(void **state)
{
	char buf[SYNCWIRE_KEY_MAX], name[17];
	mxa_addr a = ip("2001:db8:1::"), o;

	(void)state;
	assert_true(syncwire_key("mxallowd:", &a, 64, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "mxallowd:e:2001:db8:1::/64");
	assert_int_equal(syncwire_key("p:", &a, 129, buf, sizeof(buf)), -EINVAL);
	syncwire_origin_from_node(&o, "mx-b");
	assert_string_equal(syncwire_origin_node(&o, name), "mx-b");
	syncwire_origin_from_node(&o, "a-very-long-node-name.example.test");
	assert_string_equal(syncwire_origin_node(&o, name), "a-very-long-node");
	assert_true(syncwire_node_ok("mx-b.example_1"));
	assert_false(syncwire_node_ok(""));
	assert_false(syncwire_node_ok("mx b"));
}

/* Keys: exactly what syncwire_key() makes under this prefix, nothing under a longer one. */
static void test_key_parse(void **state)
{
	static const char *const refused[] = {
	    "mxallowd:e:e:198.51.100.11/32", /* a deployment with prefix "mxallowd:e:" */
	    "mxallowd:e:198.51.100.1",       /* no /BITS */
	    "mxallowd:e:198.51.100.1/33",    /* out of range */
	    "mxallowd:e:198.51.100.1/24",    /* bits beyond /24 */
	    "mxallowd:e:198.51.100.01/32",   /* not canonical */
	    "mxallowd:e:2001:DB8::/32",      /* not canonical */
	    "mxallowd:e:198.51.100.1/032",   /* not canonical */
	    "mxallowd:e:198.51.100.1/32 ",   /* trailing text */
	    "mxallowd:x:198.51.100.1/32",    /* not an entry key */
	    "other:e:198.51.100.1/32",       /* another prefix */
	    "mxallowd:e:",
	    "mxallowd:",
	    "mxallowd:e:big/32xx",
	};
	char buf[SYNCWIRE_KEY_MAX], nul[] = "mxallowd:e:198.51.100.1/32\0x";
	mxa_addr a = ip("2001:db8:1::"), back;
	unsigned bits;

	(void)state;
	assert_true(syncwire_key("mxallowd:", &a, 64, buf, sizeof(buf)) > 0);
	assert_int_equal(syncwire_key_parse("mxallowd:", buf, strlen(buf), &back, &bits), 0);
	assert_true(addr_equal(&back, &a));
	assert_int_equal(bits, 64);
	assert_int_equal(
	    syncwire_key_parse("mxallowd:", "mxallowd:e:198.51.100.0/24", 26, &back, &bits), 0);
	assert_true(addr_equal(&back, &(mxa_addr){0}) == false);
	assert_int_equal(bits, 24);
	/* the longer prefix reads its own keys, and not the shorter one's */
	assert_int_equal(
	    syncwire_key_parse("mxallowd:e:", refused[0], strlen(refused[0]), &back, &bits), 0);
	assert_int_equal(syncwire_key_parse("mxallowd:e:", buf, strlen(buf), &back, &bits),
	                 -EINVAL);
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		if (syncwire_key_parse("mxallowd:", refused[i], strlen(refused[i]), &back, &bits) !=
		    -EINVAL)
			fail_msg("key '%s' accepted", refused[i]);
	assert_int_equal(syncwire_key_parse("mxallowd:", nul, sizeof(nul) - 1, &back, &bits),
	                 -EINVAL);
}

/* A peer's lifetime here: its key's TTL when stored, never beyond this host's longest. */
static void test_lifetime(void **state)
{
	const int64_t now = 1700000000, max = 3110400;
	int64_t skew;

	(void)state;
	/* an event: deadline - now */
	assert_int_equal(syncwire_lifetime(now + 3600, now, -1, max, &skew), 3600);
	assert_int_equal(skew, 0);
	/* a deadline far ahead (a clock jumped, or a lie): limited, and said */
	assert_int_equal(syncwire_lifetime(99999999999, now, -1, max, &skew), max);
	assert_int_equal(skew, 99999999999 - now - max);
	/* in the past: nothing, and said; just expired (within the tolerance): nothing, quietly */
	assert_int_equal(syncwire_lifetime(now - 10, now, -1, max, &skew), 0);
	assert_int_equal(skew, -10);
	assert_int_equal(syncwire_lifetime(now - 1, now, -1, max, &skew), 0);
	assert_int_equal(skew, 0);
	/* a stored entry: the TTL wins (rounded up), the deadline only tells of skew */
	assert_int_equal(syncwire_lifetime(now + 3600, now, 3599500, max, &skew), 3600);
	assert_int_equal(skew, 0);
	assert_int_equal(syncwire_lifetime(now + 600, now, 3600000, max, &skew), 3600);
	assert_int_equal(skew, -3000);
	assert_int_equal(syncwire_lifetime(99999999999, now, 60000, max, &skew), 60);
	assert_true(skew > 0);
	assert_int_equal(syncwire_lifetime(now - 500, now, 60000, max, &skew), 60);
	assert_int_equal(skew, -560);
	/* a TTL beyond the longest lifetime (a peer configured longer): limited */
	assert_int_equal(syncwire_lifetime(now + 2 * max, now, 2 * max * 1000, max, &skew), max);
	assert_int_equal(skew, max);
	/* a key without TTL (-1): the deadline, limited */
	assert_int_equal(syncwire_lifetime(now + 10, now, -1, max, &skew), 10);
}

static void test_lag(void **state)
{
	const uint64_t now = 1700000000000000u, max = 3110400u * 1000000u;

	(void)state;
	assert_int_equal(syncwire_lag_us(now - 1500, now, max), 1500);
	assert_int_equal(syncwire_lag_us(now + 500000, now, max), 0); /* a clock a bit ahead */
	assert_int_equal(syncwire_lag_us(now + 2000000, now, max), -1);
	assert_int_equal(syncwire_lag_us(1, now, max), -1); /* t=1: not 1.7e15 us of lag */
	assert_int_equal(syncwire_lag_us(0, now, max), -1);
	assert_int_equal(syncwire_lag_us(now - max, now, max), (int64_t)max);
}

static void test_hello(void **state)
{
	struct syncwire_msg m = {.kind = SYNCWIRE_HELLO,
	                         .node = "mx-a",
	                         .id = 0x0123456789abcdefu,
	                         .t_us = 42},
	                    back;
	static const char *const bad[] = {
	    "v1 hello node=mx-a id=0123456789ABCDEF t=42",
	    "v1 hello node=mx-a id=0123456789abcde t=42",
	    "v1 hello node=mx-a id=0123456789abcdef0 t=42",
	    "v1 hello node=mx-a t=42",
	    "v1 hello node=mx-a id=0123456789abcdef",
	    "v1 hello node=mx-a id=0123456789abcdeg t=42",
	};
	char buf[SYNCWIRE_LINE_MAX], why[128];
	int n = syncwire_format(&m, buf, sizeof(buf));

	(void)state;
	assert_true(n > 0);
	assert_string_equal(buf, "v1 hello node=mx-a id=0123456789abcdef t=42");
	assert_int_equal(syncwire_parse(buf, (size_t)n, &back, why, sizeof(why)), 0);
	assert_int_equal(back.kind, SYNCWIRE_HELLO);
	assert_string_equal(back.node, "mx-a");
	assert_true(back.id == m.id);
	assert_int_equal(back.t_us, 42);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (syncwire_parse(bad[i], strlen(bad[i]), &back, why, sizeof(why)) != -EINVAL)
			fail_msg("'%s' accepted", bad[i]);
}

/* ---- the write queue ---- */

static void test_queue_coalesces_in_order(void **state)
{
	struct syncq *q = syncq_new(4, hkey);
	struct syncq_item it;
	mxa_addr a = ip("198.51.100.1"), b = ip("198.51.100.2"), c = ip("2001:db8:1::1");

	(void)state;
	assert_int_equal(syncq_push(q, &a, SYNCQ_PUT, 10), SYNCQ_QUEUED);
	assert_int_equal(syncq_push(q, &b, SYNCQ_PUT, 11), SYNCQ_QUEUED);
	assert_int_equal(syncq_push(q, &a, SYNCQ_DEL, 12), SYNCQ_MERGED);
	assert_int_equal(syncq_push(q, &c, SYNCQ_PUT, 13), SYNCQ_QUEUED);
	assert_int_equal(syncq_len(q), 3);
	assert_true(syncq_pop(q, &it));
	assert_true(addr_equal(&it.key, &a));
	assert_int_equal(it.kind, SYNCQ_DEL); /* the latest kind, the first time */
	assert_int_equal(it.since_us, 10);
	/* popped: the same key queues anew, behind the others */
	assert_int_equal(syncq_push(q, &a, SYNCQ_PUT, 14), SYNCQ_QUEUED);
	assert_true(syncq_pop(q, &it) && addr_equal(&it.key, &b));
	assert_true(syncq_pop(q, &it) && addr_equal(&it.key, &c));
	assert_true(syncq_pop(q, &it) && addr_equal(&it.key, &a) && it.since_us == 14);
	assert_false(syncq_pop(q, &it));
	syncq_free(q);
}

/* A flood of distinct keys: memory stays at the bound, the rest is counted as dropped. */
static void test_queue_bounded_under_flood(void **state)
{
	struct syncq *q = syncq_new(1000, hkey);
	struct syncq_item it;
	size_t popped = 0;

	(void)state;
	for (uint32_t i = 0; i < 100000; i++) {
		mxa_addr a = ip("198.18.0.0");

		a.b[13] = (uint8_t)(i >> 16);
		a.b[14] = (uint8_t)(i >> 8);
		a.b[15] = (uint8_t)i;
		(void)syncq_push(q, &a, SYNCQ_PUT, i);
		if (i % 10 == 0 && syncq_pop(q, &it)) /* a writer draining 1 in 10 */
			popped++;
		assert_true(syncq_len(q) <= 1000);
	}
	assert_int_equal(syncq_len(q) + popped + syncq_dropped(q), 100000);
	assert_true(syncq_dropped(q) > 80000);
	/* every key still queued is found and leaves once */
	while (syncq_pop(q, &it))
		popped++;
	assert_int_equal(popped + syncq_dropped(q), 100000);
	syncq_free(q);
}

/* Index deletions keep every remaining key reachable (wrap-around of the ring and the index). */
static void test_queue_churn(void **state)
{
	struct syncq *q = syncq_new(7, hkey);
	struct syncq_item it;

	(void)state;
	for (uint32_t i = 0; i < 5000; i++) {
		mxa_addr a = ip("2001:db8::");

		a.b[15] = (uint8_t)(i % 13);
		(void)syncq_push(q, &a, SYNCQ_PUT, i);
		if (i % 3 == 0)
			assert_true(syncq_pop(q, &it));
		/* pushing a queued key again merges: no duplicates in the queue */
		assert_true(syncq_len(q) <= 7);
	}
	/* what is left: distinct keys, each once */
	{
		bool seen[13] = {0};

		while (syncq_pop(q, &it)) {
			assert_false(seen[it.key.b[15]]);
			seen[it.key.b[15]] = true;
		}
	}
	syncq_free(q);
}

/* ---- the core's entry point for peers ---- */

struct seen {
	int added, removed;
	struct wl_entry last;
	enum mx_removal why;
	int verdicts;
	enum mx_verdict v;
};

static void on_added(void *ctx, const struct wl_entry *e, bool renewed, const char *name,
                     mxa_time now)
{
	struct seen *s = ctx;

	(void)renewed;
	(void)name;
	(void)now;
	s->added++;
	s->last = *e;
}

static void on_removed(void *ctx, const struct wl_entry *e, enum mx_removal why)
{
	struct seen *s = ctx;

	s->removed++;
	s->last = *e;
	s->why = why;
}

static struct mx *new_mx(struct seen *s, unsigned v4_prefix)
{
	static mxa_addr fake, real;
	struct mx_params p = {0};
	struct mx_sink sink = {.ctx = s, .added = on_added, .removed = on_removed};

	fake = ip("192.0.2.10");
	real = ip("192.0.2.20");
	p.fake = &fake;
	p.n_fake = 1;
	p.real = &real;
	p.n_real = 1;
	p.whitelist_time = 3600;
	p.v4_prefix = v4_prefix;
	p.v6_prefix = 128;
	return mx_new(&p, 16, hkey, &sink, 1000);
}

static void test_peer_add_and_del(void **state)
{
	struct seen s = {0};
	struct mx *mx = new_mx(&s, 32);
	mxa_addr c = ip("198.51.100.1"), fake = ip("192.0.2.10"), real = ip("192.0.2.20"), o;
	struct wl_entry e;
	char name[17];

	(void)state;
	syncwire_origin_from_node(&o, "mx-a");
	/* a stranger is dropped; a peer's entry lets it in */
	assert_int_equal(mx_syn(mx, &c, &real, 1000), MX_DROP);
	assert_int_equal(mx_peer_add(mx, &c, &o, 4600, 1001), 1);
	assert_int_equal(s.added, 1);
	assert_int_equal(s.last.reason, WL_REASON_PEER);
	assert_string_equal(syncwire_origin_node(&s.last.origin, name), "mx-a");
	assert_int_equal(mx_syn(mx, &c, &real, 1002), MX_ALLOW);
	/* the same or an earlier deadline again: nothing changes, the sink hears nothing */
	assert_int_equal(mx_peer_add(mx, &c, &o, 4600, 1003), 0);
	assert_int_equal(mx_peer_add(mx, &c, &o, 2000, 1003), 0);
	assert_int_equal(s.added, 1);
	/* an expired one is ignored */
	assert_int_equal(mx_peer_add(mx, &(mxa_addr){0}, &o, 1003, 1003), 0);
	/* a later deadline extends it */
	assert_int_equal(mx_peer_add(mx, &c, &o, 5000, 1004), 1);
	assert_true(whitelist_lookup(mx_whitelist(mx), &c, 1004, &e));
	assert_int_equal(e.deadline, 5000);
	/* a local fake-MX hit makes it this host's own entry again, never shorter */
	assert_int_equal(mx_syn(mx, &c, &fake, 1005), MX_ALLOW);
	assert_true(whitelist_lookup(mx_whitelist(mx), &c, 1005, &e));
	assert_int_equal(e.reason, WL_REASON_FAKE_MX);
	assert_int_equal(e.deadline, 5000);
	/* a peer's del removes it, whatever its reason */
	assert_int_equal(mx_peer_del(mx, &c, 1006), 1);
	assert_int_equal(s.why, MX_REMOVED_DELETED);
	assert_int_equal(mx_peer_del(mx, &c, 1006), 0);
	assert_int_equal(mx_syn(mx, &c, &real, 1007), MX_DROP);
	mx_free(mx);
}

/* The key is masked to this host's prefix: a peer's /32 becomes this /24's entry. */
static void test_peer_key_masked(void **state)
{
	struct seen s = {0};
	struct mx *mx = new_mx(&s, 24);
	mxa_addr c = ip("198.51.100.77"), net = ip("198.51.100.0"), real = ip("192.0.2.20");
	mxa_addr other = ip("198.51.100.1"), o = {0};

	(void)state;
	assert_int_equal(mx_peer_add(mx, &c, &o, 4600, 1000), 1);
	assert_true(addr_equal(&s.last.addr, &net));
	assert_int_equal(mx_syn(mx, &other, &real, 1001), MX_ALLOW);
	mx_free(mx);
}

static void test_queue_find(void **state)
{
	struct syncq *q = syncq_new(4, hkey);
	mxa_addr a = ip("198.51.100.1"), b = ip("198.51.100.2");
	enum syncq_kind k;
	struct syncq_item it;

	(void)state;
	assert_false(syncq_find(q, &a, &k));
	syncq_push(q, &a, SYNCQ_PUT, 1);
	syncq_push(q, &b, SYNCQ_DEL, 2);
	assert_true(syncq_find(q, &a, &k));
	assert_int_equal(k, SYNCQ_PUT);
	assert_true(syncq_find(q, &b, NULL));
	syncq_push(q, &a, SYNCQ_DEL, 3);
	assert_true(syncq_find(q, &a, &k));
	assert_int_equal(k, SYNCQ_DEL);
	assert_true(syncq_pop(q, &it));
	assert_false(syncq_find(q, &a, &k));
	assert_true(syncq_find(q, &b, &k));
	syncq_free(q);
}

/* A peer's deadline never reaches beyond this host's longest own lifetime. */
static void test_peer_lifetime_limited(void **state)
{
	struct seen s = {0};
	struct mx *mx = new_mx(&s, 32);
	mxa_addr c = ip("198.51.100.1"), o = {0};
	struct wl_entry e;

	(void)state;
	assert_int_equal(mx_lifetime_max(mx), MX_MANUAL_TTL_MAX);
	assert_int_equal(mx_peer_add(mx, &c, &o, INT64_MAX / 2, 1000), 1);
	assert_true(whitelist_lookup(mx_whitelist(mx), &c, 1000, &e));
	assert_int_equal(e.deadline, 1000 + MX_MANUAL_TTL_MAX);
	/* the same again: as long already, nothing changes */
	assert_int_equal(mx_peer_add(mx, &c, &o, 99999999999, 1000), 0);
	mx_free(mx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip),
	    cmocka_unit_test(test_format_refuses),
	    cmocka_unit_test(test_garbage),
	    cmocka_unit_test(test_binary_junk),
	    cmocka_unit_test(test_key_and_origin),
	    cmocka_unit_test(test_queue_coalesces_in_order),
	    cmocka_unit_test(test_queue_bounded_under_flood),
	    cmocka_unit_test(test_queue_churn),
	    cmocka_unit_test(test_peer_add_and_del),
	    cmocka_unit_test(test_peer_key_masked),
	    cmocka_unit_test(test_key_parse),
	    cmocka_unit_test(test_lifetime),
	    cmocka_unit_test(test_lag),
	    cmocka_unit_test(test_hello),
	    cmocka_unit_test(test_queue_find),
	    cmocka_unit_test(test_peer_lifetime_limited),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
