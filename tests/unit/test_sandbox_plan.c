/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * OpenBSD's sandbox as data (src/daemon/sandbox-plan.c): the promise set and
 * the unveil list that the configuration needs. A missing promise kills the
 * daemon (SIGABRT) the first time it does that thing; a missing unveil makes
 * the file disappear (a reload that cannot read its allow-file).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "sandbox-plan.h"

/* True when @promise is one of the space-separated words of @set. */
static bool promised(const char *set, const char *promise)
{
	size_t n = strlen(promise);

	for (const char *p = set; (p = strstr(p, promise)) != NULL; p += n)
		if ((p == set || p[-1] == ' ') && (p[n] == ' ' || p[n] == 0))
			return true;
	return false;
}

/* The permissions @path is unveiled with, or NULL when it is not. */
static const char *unveiled(const struct sandbox_plan *plan, const char *path)
{
	for (size_t i = 0; i < plan->n_unveil; i++)
		if (strcmp(plan->unveil[i].path, path) == 0)
			return plan->unveil[i].perm;
	return NULL;
}

static void build(const struct sandbox_paths *p, struct sandbox_plan *plan)
{
	assert_int_equal(sandbox_plan_build(p, plan), 0);
	for (size_t i = 0; i < plan->n_unveil; i++)
		for (size_t j = i + 1; j < plan->n_unveil; j++)
			assert_string_not_equal(plan->unveil[i].path, plan->unveil[j].path);
}

/* Nothing but the config file: the base set, no file written, no UNIX socket. */
static void test_minimal(void **state)
{
	struct sandbox_paths p = {.config = "/etc/mxallowd.conf"};
	struct sandbox_plan plan;

	(void)state;
	build(&p, &plan);
	assert_string_equal(plan.promises, "stdio rpath inet bpf pf");
	assert_int_equal(plan.n_unveil, 3);
	assert_string_equal(unveiled(&plan, "/etc/mxallowd.conf"), "r");
	assert_string_equal(unveiled(&plan, "/etc/resolv.conf"), "r");
	assert_string_equal(unveiled(&plan, "/etc/hosts"), "r");
	sandbox_plan_clear(&plan);
}

/*
 * The defaults as config_init() sets them: a state file (saved by a forked
 * child that flock()s its tmp file: "proc" and "flock") and a control socket.
 */
static void test_defaults(void **state)
{
	struct config c;
	char dir[256], *slash;
	struct sandbox_plan plan;

	(void)state;
	config_init(&c);
	assert_non_null(c.state_file);
	assert_non_null(c.control_socket);
	snprintf(dir, sizeof(dir), "%s", c.state_file);
	slash = strrchr(dir, '/');
	assert_non_null(slash);
	*slash = 0;
	struct sandbox_paths p = {.config = "/etc/mxallowd.conf",
	                          .pidfile = c.pidfile,
	                          .state_dir = dir,
	                          .control_socket = c.control_socket,
	                          .allow_files = &c.allow_files};
	build(&p, &plan);
	for (const char *const *w =
	         (const char *const[]){"stdio", "rpath", "wpath", "cpath", "flock", "proc", "inet",
	                               "unix", "bpf", "pf", NULL};
	     *w; w++)
		assert_true(promised(plan.promises, *w));
	assert_false(promised(plan.promises, "exec"));
	assert_false(promised(plan.promises, "dns"));
	assert_string_equal(unveiled(&plan, dir), "rwc");
	assert_string_equal(unveiled(&plan, c.control_socket), "c");
	sandbox_plan_clear(&plan);
	config_clear(&c);
}

/* `state-file none`: no fork and no lock after start, so neither promise. */
static void test_no_state_file(void **state)
{
	struct sandbox_paths p = {.config = "/etc/mxallowd.conf",
	                          .pidfile = "/var/run/mxallowd.pid"};
	struct sandbox_plan plan;

	(void)state;
	build(&p, &plan);
	assert_true(promised(plan.promises, "cpath"));
	assert_false(promised(plan.promises, "proc"));
	assert_false(promised(plan.promises, "flock"));
	assert_false(promised(plan.promises, "wpath"));
	assert_false(promised(plan.promises, "unix"));
	assert_string_equal(unveiled(&plan, "/var/run/mxallowd.pid"), "c");
	sandbox_plan_clear(&plan);
}

/* Every allow-file stays readable for reloads; a path named twice is unveiled once. */
static void test_allow_files(void **state)
{
	struct config c;
	char err[CONFIG_ERRLEN];
	struct sandbox_plan plan;

	(void)state;
	config_init(&c);
	assert_int_equal(
	    config_set(&c, "allow-file", "/etc/mxallowd/partners", "test", err, sizeof(err)), 0);
	assert_int_equal(
	    config_set(&c, "allow-file", "/var/db/mxallowd/allow", "test", err, sizeof(err)), 0);
	struct sandbox_paths p = {.config = "/etc/mxallowd.conf",
	                          .state_dir = "/var/db/mxallowd",
	                          .allow_files = &c.allow_files};
	build(&p, &plan);
	assert_string_equal(unveiled(&plan, "/etc/mxallowd/partners"), "r");
	assert_string_equal(unveiled(&plan, "/var/db/mxallowd/allow"), "r");
	sandbox_plan_clear(&plan);

	p.config = "/etc/mxallowd/partners"; /* the same file as config and list: merged */
	p.pidfile = "/etc/mxallowd/partners";
	build(&p, &plan);
	assert_string_equal(unveiled(&plan, "/etc/mxallowd/partners"), "rc");
	sandbox_plan_clear(&plan);
	config_clear(&c);
}

/* A Redis unix:PATH socket: "unix", and "rw" on the path (connect needs "w"). */
static void test_redis_socket(void **state)
{
	struct sandbox_paths p = {.config = "/etc/mxallowd.conf",
	                          .redis_socket = "/var/run/redis/redis.sock"};
	struct sandbox_plan plan;

	(void)state;
	build(&p, &plan);
	assert_true(promised(plan.promises, "unix"));
	assert_false(promised(plan.promises, "cpath"));
	assert_string_equal(unveiled(&plan, "/var/run/redis/redis.sock"), "rw");
	sandbox_plan_clear(&plan);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_minimal),       cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_no_state_file), cmocka_unit_test(test_allow_files),
	    cmocka_unit_test(test_redis_socket),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
