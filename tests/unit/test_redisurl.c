/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The `redis` key: every accepted form, every refusal with its reason, and no password shown. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "redisurl.h"

struct good {
	const char *url;
	bool unix_socket;
	const char *host_or_path;
	unsigned port;
	const char *user, *password;
	unsigned db;
	const char *where;
};

static const struct good goods[] = {
    {"redis://127.0.0.1", false, "127.0.0.1", 6379, "", "", 0, "127.0.0.1:6379"},
    {"redis://localhost:6380", false, "localhost", 6380, "", "", 0, "localhost:6380"},
    {"redis://redis.example.test/3", false, "redis.example.test", 6379, "", "", 3,
     "redis.example.test:6379"},
    {"redis://:s3cret@192.0.2.7:7000/15", false, "192.0.2.7", 7000, "", "s3cret", 15,
     "192.0.2.7:7000"},
    {"redis://mx:s3cret@192.0.2.7", false, "192.0.2.7", 6379, "mx", "s3cret", 0, "192.0.2.7:6379"},
    {"redis://[2001:db8::7]:6379/1", false, "2001:db8::7", 6379, "", "", 1, "[2001:db8::7]:6379"},
    {"redis://:p%40ss%3Aw%2Frd@[2001:db8::7]", false, "2001:db8::7", 6379, "", "p@ss:w/rd", 0,
     "[2001:db8::7]:6379"},
    /* an unescaped '@' in the password: the last '@' ends it */
    {"redis://:a@b@host", false, "host", 6379, "", "a@b", 0, "host:6379"},
    {"redis://host/", false, "host", 6379, "", "", 0, "host:6379"},
    {"unix:/run/redis/redis.sock", true, "/run/redis/redis.sock", 0, "", "", 0,
     "unix:/run/redis/redis.sock"},
    {"unix::pw@/run/redis.sock?db=2", true, "/run/redis.sock", 0, "", "pw", 2,
     "unix:/run/redis.sock"},
};

static void test_accepted(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(goods) / sizeof(goods[0]); i++) {
		const struct good *g = &goods[i];
		struct redis_url u;
		char why[256] = "", where[300];

		if (redisurl_parse(g->url, &u, why, sizeof(why)) != 0)
			fail_msg("%s: refused: %s", g->url, why);
		assert_int_equal(u.unix_socket, g->unix_socket);
		assert_string_equal(g->unix_socket ? u.path : u.host, g->host_or_path);
		if (!g->unix_socket)
			assert_int_equal(u.port, g->port);
		assert_string_equal(u.user, g->user);
		assert_string_equal(u.password, g->password);
		assert_int_equal(u.db, g->db);
		redisurl_where(&u, where, sizeof(where));
		assert_string_equal(where, g->where);
	}
}

struct bad {
	const char *url;
	const char *why; /* a part of the reason */
};

static const struct bad bads[] = {
    {"", "is not redis://"},
    {"http://host", "is not redis://"},
    {"redis:/host", "is not redis://"},
    {"redis://", "no host name or address"},
    {"redis://:6379", "no host name or address"},
    {"redis://host:0", "port is not a number from 1 to 65535"},
    {"redis://host:65536", "port is not a number from 1 to 65535"},
    {"redis://host:63x", "port is not a number"},
    {"redis://host:", "port is not a number"},
    {"redis://host/x", "database after '/'"},
    {"redis://host/1000001", "database after '/'"},
    {"redis://host/1/2", "database after '/'"},
    {"redis://ho st", "spaces and control characters"},
    {"redis://host\n", "spaces and control characters"},
    {"redis://[2001:db8::7", "must be written [ADDR]"},
    {"redis://[]", "must be written [ADDR]"},
    {"redis://[192.0.2.1]", "is not an IPv6 address"},
    {"redis://[2001:db8::zz]", "is not an IPv6 address"},
    {"redis://host?x", "unexpected '?'"},
    {"redis://secret@host", "after a ':'"},
    {"redis://:@host", "empty password"},
    {"redis://:%4@host", "bad %XX escape"},
    {"redis://:%00@host", "bad %XX escape"},
    {"unix:run/redis.sock", "must be absolute"},
    {"unix:/run/redis.sock?db=x", "only ?db=N"},
    {"unix:/run/redis.sock?password=x", "only ?db=N"},
    {"unix:/"
     "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567"
     "890123456789012345678901234567890",
     "longer than 107"},
};

static void test_refused(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		struct redis_url u;
		char why[256] = "";

		if (redisurl_parse(bads[i].url, &u, why, sizeof(why)) != -EINVAL)
			fail_msg("'%s' was accepted", bads[i].url);
		if (!strstr(why, bads[i].why))
			fail_msg("'%s': reason '%s' lacks '%s'", bads[i].url, why, bads[i].why);
	}
}

/* No reason and no masked form shows a password, whatever is wrong with the URL. */
static void test_password_never_shown(void **state)
{
	static const char *const urls[] = {
	    "redis://:hunter2@host",   "redis://:hunter2@host:99999",
	    "redis://:hunter2@host/x", "redis://u:hunter2@[::1",
	    "unix::hunter2@run.sock",  "unix::hunter2@/s?db=z",
	    "rediss://:hunter2@host",  "redis://hunter2@host",
	    "unix::hunter2@/run/s",    "redis://:hunter2@h@host:6379",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		struct redis_url u;
		char why[256] = "", m[256];

		(void)redisurl_parse(urls[i], &u, why, sizeof(why));
		redisurl_mask(urls[i], m, sizeof(m));
		if (strstr(why, "hunter2") || strstr(m, "hunter2"))
			fail_msg("'%s': shown as '%s' / '%s'", urls[i], why, m);
	}
}

static void test_mask(void **state)
{
	char m[256];

	(void)state;
	redisurl_mask("redis://:s3cret@192.0.2.7:7000/15", m, sizeof(m));
	assert_string_equal(m, "redis://:***@192.0.2.7:7000/15");
	redisurl_mask("redis://mx:s3cret@host", m, sizeof(m));
	assert_string_equal(m, "redis://mx:***@host");
	redisurl_mask("redis://host:6379", m, sizeof(m));
	assert_string_equal(m, "redis://host:6379");
	redisurl_mask("unix::pw@/run/redis.sock", m, sizeof(m));
	assert_string_equal(m, "unix::***@/run/redis.sock");
	redisurl_mask("redis://pw@host", m, sizeof(m));
	assert_string_equal(m, "redis://***@host");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_accepted),
	    cmocka_unit_test(test_refused),
	    cmocka_unit_test(test_password_never_shown),
	    cmocka_unit_test(test_mask),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
