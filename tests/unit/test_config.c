/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Config model, config file and command line: every error names its place. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli.h"
#include "config.h"

static char err[CONFIG_ERRLEN];

/* Writes @text to a fresh temporary file and returns its path (static buffer). */
static const char *conf(const char *text)
{
	static char path[64];
	int fd;

	strcpy(path, "/tmp/mxallowd-test-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void test_defaults(void **state)
{
	struct config c;

	(void)state;
	config_init(&c);
	assert_int_equal(c.queue_num, 23);
	assert_int_equal(c.whitelist_time, 3600);
	assert_int_equal(c.rdns_max, 32);
	assert_int_equal(c.ipv4_prefix, 32);
	assert_int_equal(c.ipv6_prefix, 128);
	assert_false(c.no_rdns);
	config_clear(&c);
}

static void test_set_values_and_errors(void **state)
{
	static const struct {
		const char *key, *value, *want_err;
	} bad[] = {
	    {"queue-num", "65536",
	     "here: queue-num: '65536' is not a whole number from 0 to 65535"},
	    {"queue-num", "-1", "here: queue-num: '-1' is not a whole number from 0 to 65535"},
	    {"whitelist-time", "0",
	     "here: whitelist-time: '0' is not a whole number from 1 to "
	     "2147483"},
	    {"whitelist-time", "10s",
	     "here: whitelist-time: '10s' is not a whole number from 1 "
	     "to 2147483"},
	    /* Beyond what an ipset entry can hold: refused, not clamped by the kernel. */
	    {"whitelist-time", "2147484",
	     "here: whitelist-time: '2147484' is not a whole number from 1 to 2147483"},
	    /* A /0 would let the whole address family in after one fake-MX hit. */
	    {"ipv4-prefix", "0", "here: ipv4-prefix: '0' is not a whole number from 1 to 32"},
	    {"ipv6-prefix", "0", "here: ipv6-prefix: '0' is not a whole number from 1 to 128"},
	    {"rdns-max", "64", "here: rdns-max: '64' is not a whole number from 0 to 63"},
	    {"ipv4-prefix", "33", "here: ipv4-prefix: '33' is not a whole number from 1 to 32"},
	    {"ipv6-prefix", "129", "here: ipv6-prefix: '129' is not a whole number from 1 to 128"},
	    {"stdout", "maybe", "here: stdout: 'maybe' is not yes or no"},
	    {"pidfile", "run/x.pid", "here: pidfile: 'run/x.pid' is not an absolute path"},
	    {"fake-mailserver", "mx 1",
	     "here: fake-mailserver: 'mx 1' is not an address or host "
	     "name"},
	    {"real-mailserver", "", "here: real-mailserver: '' is not an address or host name"},
	    {"no-such-key", "1", "here: unknown key 'no-such-key'"},
	};
	struct config c;

	(void)state;
	config_init(&c);
	assert_int_equal(config_set(&c, "queue-num", "0", "here", err, sizeof(err)), 0);
	assert_int_equal(c.queue_num, 0);
	assert_int_equal(config_set(&c, "no-rdns-whitelist", NULL, "here", err, sizeof(err)), 0);
	assert_true(c.no_rdns);
	assert_int_equal(config_set(&c, "no-rdns-whitelist", "off", "here", err, sizeof(err)), 0);
	assert_false(c.no_rdns);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_true(config_set(&c, bad[i].key, bad[i].value, "here", err, sizeof(err)) < 0);
		assert_string_equal(err, bad[i].want_err);
	}
	/* Nothing was corrupted by the failures. */
	assert_int_equal(c.queue_num, 0);
	assert_int_equal(c.whitelist_time, 3600);
	assert_int_equal(c.fake.n + c.real.n, 0);
	assert_null(c.pidfile);
	config_clear(&c);
}

static void test_file_format(void **state)
{
	const char *path = conf("# mxallowd.conf\n"
	                        "\n"
	                        "fake-mailserver 192.0.2.10   # the fake one\n"
	                        "  fake-mailserver\t2001:db8::10\n"
	                        "real-mailserver = 192.0.2.20\n"
	                        "real-mailserver=mx2.example.test\n"
	                        "whitelist-time 120\n"
	                        "no-rdns-whitelist\n"
	                        "stdout yes\n"
	                        "pidfile /run/mxallowd.pid\n");
	struct config c;

	(void)state;
	config_init(&c);
	assert_int_equal(config_load_file(&c, path, true, err, sizeof(err)), 0);
	assert_int_equal(c.fake.n, 2);
	assert_string_equal(c.fake.v[1].spec, "2001:db8::10");
	assert_int_equal(c.real.n, 2);
	assert_string_equal(c.real.v[1].spec, "mx2.example.test");
	assert_int_equal(c.whitelist_time, 120);
	assert_true(c.no_rdns);
	assert_true(c.log_stdout);
	assert_string_equal(c.pidfile, "/run/mxallowd.pid");
	/* Origins name file and line. */
	assert_true(strstr(c.fake.v[1].origin, ":4") != NULL);
	assert_int_equal(strncmp(c.fake.v[1].origin, path, strlen(path)), 0);
	config_clear(&c);
	unlink(path);
}

static void expect_file_error(const char *text, int line, const char *what)
{
	const char *path = conf(text);
	char want[512];
	struct config c;

	config_init(&c);
	assert_true(config_load_file(&c, path, true, err, sizeof(err)) < 0);
	snprintf(want, sizeof(want), "%s:%d: %s", path, line, what);
	assert_string_equal(err, want);
	config_clear(&c);
	unlink(path);
}

static void test_file_errors(void **state)
{
	(void)state;
	expect_file_error("fake-mailserver 192.0.2.10\nbogus 1\n", 2, "unknown key 'bogus'");
	expect_file_error("# c\n\nwhitelist-time\n", 3, "whitelist-time needs a value");
	expect_file_error("queue-num 99999\n", 1,
	                  "queue-num: '99999' is not a whole number from 0 to 65535");
	expect_file_error("real-mailserver a,b\n", 1,
	                  "real-mailserver: 'a,b' is not an address or host name");
}

static void test_missing_file(void **state)
{
	struct config c;

	(void)state;
	config_init(&c);
	assert_int_equal(
	    config_load_file(&c, "/nonexistent/mxallowd.conf", false, err, sizeof(err)), 0);
	assert_int_equal(config_load_file(&c, "/nonexistent/mxallowd.conf", true, err, sizeof(err)),
	                 -ENOENT);
	assert_string_equal(err,
	                    "/nonexistent/mxallowd.conf: cannot open config file: No such file or "
	                    "directory");
	config_clear(&c);
}

static int parse(struct cli *cli, const char *const *args)
{
	char *argv[32];
	int argc = 0;

	argv[argc++] = (char *)"mxallowd";
	for (; *args; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	return cli_parse(cli, argc, argv, err, sizeof(err));
}

static void test_cli_1_9_options(void **state)
{
	const char *args[] = {
	    "-f", "192.0.2.10", "-r", "192.0.2.20",        "-n", "7", "-t", "60", "-d", "-s",
	    "-q", "-F",         "-c", "/nonexistent.conf", NULL};
	struct cli cli;
	struct config c;

	(void)state;
	assert_int_equal(parse(&cli, args), 0);
	assert_true(cli.config_given);
	assert_string_equal(cli.config_path, "/nonexistent.conf");
	/* -c names a missing file: that is an error. */
	assert_true(cli_build_config(&cli, &c, err, sizeof(err)) < 0);
	assert_string_equal(
	    err, "/nonexistent.conf: cannot open config file: No such file or directory");
	cli.config_given = false;
	assert_int_equal(cli_build_config(&cli, &c, err, sizeof(err)), 0);
	assert_int_equal(c.queue_num, 7);
	assert_int_equal(c.whitelist_time, 60);
	assert_true(c.no_rdns && c.log_stdout && c.quiet && c.foreground);
	assert_string_equal(c.fake.v[0].spec, "192.0.2.10");
	assert_string_equal(c.fake.v[0].origin, "command line");
	config_clear(&c);
	cli_clear(&cli);
}

static void test_cli_errors(void **state)
{
	static const struct {
		const char *args[4];
		const char *want;
	} cases[] = {
	    {{"--bogus", NULL}, "command line: unknown option '--bogus'"},
	    {{"-x", NULL}, "command line: unknown option '-x'"},
	    {{"-f", NULL}, "command line: option '-f' needs a value"},
	    {{"--whitelist-time", NULL}, "command line: option '--whitelist-time' needs a value"},
	    {{"-f", "192.0.2.1", "extra", NULL}, "command line: unexpected argument 'extra'"},
	};
	struct cli cli;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(parse(&cli, cases[i].args), -EINVAL);
		assert_string_equal(err, cases[i].want);
	}
}

static void test_cli_bad_values(void **state)
{
	const char *args[] = {"-f", "192.0.2.10", "-r", "192.0.2.20", "-t", "abc", NULL};
	const char *args2[] = {"--ipv6-prefix", "200", NULL};
	struct cli cli;
	struct config c;

	(void)state;
	assert_int_equal(parse(&cli, args), 0);
	cli.config_path = "/nonexistent.conf";
	assert_true(cli_build_config(&cli, &c, err, sizeof(err)) < 0);
	assert_string_equal(err,
	                    "command line: whitelist-time: 'abc' is not a whole number from 1 to "
	                    "2147483");
	cli_clear(&cli);
	assert_int_equal(parse(&cli, args2), 0);
	cli.config_path = "/nonexistent.conf";
	assert_true(cli_build_config(&cli, &c, err, sizeof(err)) < 0);
	assert_string_equal(err,
	                    "command line: ipv6-prefix: '200' is not a whole number from 1 to 128");
	cli_clear(&cli);
}

static void test_cli_extends_and_overrides_file(void **state)
{
	const char *path = conf("fake-mailserver 192.0.2.10\nreal-mailserver 192.0.2.20\n"
	                        "whitelist-time 100\nqueue-num 5\n");
	const char *args[] = {"-c", path, "-r", "2001:db8::20", "-t", "200", NULL};
	struct cli cli;
	struct config c;

	(void)state;
	assert_int_equal(parse(&cli, args), 0);
	assert_int_equal(cli_build_config(&cli, &c, err, sizeof(err)), 0);
	assert_int_equal(c.real.n, 2);
	assert_string_equal(c.real.v[0].spec, "192.0.2.20");
	assert_string_equal(c.real.v[1].spec, "2001:db8::20");
	assert_int_equal(c.whitelist_time, 200);
	assert_int_equal(c.queue_num, 5);
	config_clear(&c);
	cli_clear(&cli);
	unlink(path);
}

static int fake_resolver(void *ctx, const char *name, mxa_addr *out, size_t max, char *why,
                         size_t whylen)
{
	(void)ctx;
	assert_true(max >= 2);
	if (strcmp(name, "mx2.example.test") == 0) {
		addr_parse(&out[0], "192.0.2.20");
		addr_parse(&out[1], "2001:db8::20");
		return 2;
	}
	if (strcmp(name, "mx1.example.test") == 0) {
		addr_parse(&out[0], "192.0.2.10");
		return 1;
	}
	snprintf(why, whylen, "Name or service not known");
	return -ENOENT;
}

static void test_resolve_servers(void **state)
{
	struct config c;
	struct config_servers s;
	char a[ADDR_STRLEN];

	(void)state;
	config_init(&c);
	assert_true(config_resolve_servers(&c, fake_resolver, NULL, &s, err, sizeof(err)) < 0);
	assert_string_equal(err, "no fake-mailserver given (use -f or 'fake-mailserver')");
	config_set(&c, "fake-mailserver", "mx1.example.test", "f.conf:1", err, sizeof(err));
	assert_true(config_resolve_servers(&c, fake_resolver, NULL, &s, err, sizeof(err)) < 0);
	assert_string_equal(err, "no real-mailserver given (use -r or 'real-mailserver')");
	config_set(&c, "real-mailserver", "mx2.example.test", "f.conf:2", err, sizeof(err));
	config_set(&c, "real-mailserver", "192.0.2.20", "command line", err, sizeof(err));
	assert_int_equal(config_resolve_servers(&c, fake_resolver, NULL, &s, err, sizeof(err)), 0);
	assert_int_equal(s.n_fake, 1);
	assert_int_equal(s.n_real, 2); /* the duplicate 192.0.2.20 is merged */
	assert_string_equal(addr_format(&s.real[1], a), "2001:db8::20");
	config_servers_clear(&s);

	config_set(&c, "fake-mailserver", "nx.example.test", "f.conf:3", err, sizeof(err));
	assert_true(config_resolve_servers(&c, fake_resolver, NULL, &s, err, sizeof(err)) < 0);
	assert_string_equal(err, "f.conf:3: fake-mailserver: cannot resolve 'nx.example.test': "
	                         "Name or service not known");
	config_clear(&c);

	config_set(&c, "fake-mailserver", "192.0.2.10", "f.conf:1", err, sizeof(err));
	config_set(&c, "real-mailserver", "mx1.example.test", "f.conf:7", err, sizeof(err));
	assert_true(config_resolve_servers(&c, fake_resolver, NULL, &s, err, sizeof(err)) < 0);
	assert_string_equal(err, "f.conf:7: real-mailserver 192.0.2.10 is also a fake-mailserver "
	                         "(f.conf:1)");
	config_clear(&c);
}

static void test_copy(void **state)
{
	struct config a, b;

	(void)state;
	config_init(&a);
	config_set(&a, "fake-mailserver", "192.0.2.10", "x", err, sizeof(err));
	config_set(&a, "pidfile", "/run/m.pid", "x", err, sizeof(err));
	assert_int_equal(config_copy(&b, &a), 0);
	config_clear(&a);
	assert_string_equal(b.fake.v[0].spec, "192.0.2.10");
	assert_string_equal(b.pidfile, "/run/m.pid");
	config_clear(&b);
}

/* Every declared default is a valid value of its key. */
static void test_defaults_are_valid(void **state)
{
	struct config c;

	(void)state;
	config_init(&c);
	for (size_t i = 0; i < config_key_count(); i++) {
		const struct config_key_info *k = config_key_info(i);

		if (!k->def)
			continue;
		if (config_set(&c, k->name, k->def, "default", err, sizeof(err)) != 0)
			fail_msg("default of %s: %s", k->name, err);
	}
	assert_string_equal(c.backend, "nfqueue");
	assert_string_equal(c.ipset6, "mx-white6");
	assert_null(c.pcap_filter);
	assert_int_equal(c.rdns_rate, 100);
	config_clear(&c);
}

/* Every key is an option of the same name; letters map to their keys (1.9's -d too). */
static void test_every_key_is_an_option(void **state)
{
	char *argv[4];
	struct cli cli;
	struct config c;
	char opt[80];

	(void)state;
	for (size_t i = 0; i < config_key_count(); i++) {
		const struct config_key_info *k = config_key_info(i);

		snprintf(opt, sizeof(opt), "--%s", k->name);
		argv[0] = (char *)"mxallowd";
		argv[1] = opt;
		argv[2] = (char *)(k->def                            ? k->def
		                   : strcmp(k->name, "pidfile") == 0 ? "/run/x.pid"
		                                                     : "x");
		argv[3] = NULL;
		if (strstr(k->name, "mailserver"))
			argv[2] = (char *)"192.0.2.1";
		if (cli_parse(&cli, k->takes_value ? 3 : 2, argv, err, sizeof(err)) != 0)
			fail_msg("--%s: %s", k->name, err);
		assert_int_equal(cli.n_args, 1);
		assert_string_equal(cli.args[0].key, k->name);
		cli_clear(&cli);
	}
	assert_int_equal(config_key_by_short('d'), config_key_by_short('b'));
	assert_string_equal(config_key_info((size_t)config_key_by_short('t'))->name,
	                    "whitelist-time");
	assert_int_equal(config_key_by_short('z'), -1);
	/* a relative -c is made absolute at once: daemon() changes to / before any reload */
	argv[0] = (char *)"mxallowd";
	argv[1] = (char *)"-c";
	argv[2] = (char *)"rel/mxallowd.conf";
	argv[3] = NULL;
	assert_int_equal(cli_parse(&cli, 3, argv, err, sizeof(err)), 0);
	assert_true(cli.config_path[0] == '/');
	assert_non_null(strstr(cli.config_path, "/rel/mxallowd.conf"));
	assert_true(cli_build_config(&cli, &c, err, sizeof(err)) < 0);
	cli_clear(&cli);
}

/* --help names every key; the man pages document every key. */
static void test_help_and_man_pages_document_every_key(void **state)
{
	static const struct {
		const char *file, *before;
	} pages[] = {
	    {MXA_MAN_DIR "/mxallowd.conf.5", ".It Ic "},
	    {MXA_MAN_DIR "/mxallowd.8", "Fl Fl "},
	};
	char *help = NULL, *page, want[128];
	size_t len = 0;
	FILE *f = open_memstream(&help, &len);

	(void)state;
	assert_non_null(f);
	cli_usage(f);
	fclose(f);
	for (size_t p = 0; p < 2; p++) {
		FILE *m = fopen(pages[p].file, "r");
		long n;

		assert_non_null(m);
		fseek(m, 0, SEEK_END);
		n = ftell(m);
		rewind(m);
		page = calloc(1, (size_t)n + 1);
		assert_non_null(page);
		assert_int_equal(fread(page, 1, (size_t)n, m), (size_t)n);
		fclose(m);
		for (size_t i = 0; i < config_key_count(); i++) {
			const char *name = config_key_info(i)->name;

			snprintf(want, sizeof(want), "--%s", name);
			if (p == 0 && !strstr(help, want))
				fail_msg("--help does not mention %s", want);
			/* the name as a whole word: followed by a space or the end of the line */
			snprintf(want, sizeof(want), "%s%s ", pages[p].before, name);
			if (!strstr(page, want) &&
			    !(snprintf(want, sizeof(want), "%s%s\n", pages[p].before, name),
			      strstr(page, want)))
				fail_msg("%s does not document %s", pages[p].file, name);
		}
		free(page);
	}
	free(help);
}

/* Reload policy: restart-only keys are named and keep their running values. */
static void test_restart_only_keys(void **state)
{
	struct config run, next;
	char names[256];

	(void)state;
	config_init(&run);
	config_init(&next);
	assert_int_equal(config_restart_changes(&run, &next, names, sizeof(names)), 0);
	config_set(&next, "ipv4-prefix", "24", "x", err, sizeof(err));
	config_set(&next, "ipset", "other", "x", err, sizeof(err));
	config_set(&next, "whitelist-time", "60", "x", err, sizeof(err)); /* reloadable */
	assert_int_equal(config_restart_changes(&run, &next, names, sizeof(names)), 2);
	assert_string_equal(names, "ipv4-prefix, ipset");
	assert_int_equal(config_keep_restart(&next, &run), 0);
	assert_int_equal(next.ipv4_prefix, 32);
	assert_string_equal(next.ipset, "mx-white");
	assert_int_equal(next.whitelist_time, 60);
	assert_int_equal(config_restart_changes(&run, &next, names, sizeof(names)), 0);
	config_clear(&run);
	config_clear(&next);
}

static void test_warnings(void **state)
{
	struct config c;
	char w[256];

	(void)state;
	config_init(&c);
	assert_int_equal(config_warnings(&c, w, sizeof(w)), 0);
	config_set(&c, "ipv4-prefix", "8", "x", err, sizeof(err));
	config_set(&c, "ipv6-prefix", "16", "x", err, sizeof(err));
	assert_int_equal(config_warnings(&c, w, sizeof(w)), 2);
	assert_string_equal(w, "ipv4-prefix 8: one fake-MX hit lets in 16777216 addresses\n"
	                       "ipv6-prefix 16: one fake-MX hit lets in a /16 network");
	config_clear(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_set_values_and_errors),
	    cmocka_unit_test(test_file_format),
	    cmocka_unit_test(test_file_errors),
	    cmocka_unit_test(test_missing_file),
	    cmocka_unit_test(test_cli_1_9_options),
	    cmocka_unit_test(test_cli_errors),
	    cmocka_unit_test(test_cli_bad_values),
	    cmocka_unit_test(test_cli_extends_and_overrides_file),
	    cmocka_unit_test(test_resolve_servers),
	    cmocka_unit_test(test_copy),
	    cmocka_unit_test(test_defaults_are_valid),
	    cmocka_unit_test(test_every_key_is_an_option),
	    cmocka_unit_test(test_help_and_man_pages_document_every_key),
	    cmocka_unit_test(test_restart_only_keys),
	    cmocka_unit_test(test_warnings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
