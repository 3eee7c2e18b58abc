/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Allow lists: the allow-file format, the allow / allow-file / metrics-listen keys. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "allowfile.h"

/* Data-driven: a line, and what it gives ("-" for nothing, "error: ..." for an error). */
static void test_parse_line(void **state)
{
	static const struct {
		const char *line, *want;
	} cases[] = {
	    {"192.0.2.0/24\n", "192.0.2.0/24"},
	    {"  198.51.100.7  \n", "198.51.100.7/32"},
	    {"\t2001:db8::/32\r\n", "2001:db8::/32"},
	    {"192.0.2.0/24 # mail.example.org, added 2026-01-05\n", "192.0.2.0/24"},
	    {"192.0.2.0/24#no space before the comment", "192.0.2.0/24"},
	    {"# a whole-line comment\n", "-"},
	    {"   # indented comment\n", "-"},
	    {"\n", "-"},
	    {"   \t \n", "-"},
	    {"", "-"},
	    {"192.0.2.0/24 198.51.100.0/24\n",
	     "error: '192.0.2.0/24 198.51.100.0/24': one network a line (a comment starts with #)"},
	    {"ip4:192.0.2.0/24\n",
	     "error: 'ip4:192.0.2.0/24' is not an address or network (ADDR or ADDR/BITS)"},
	    {"0.0.0.0/0\n", "error: '0.0.0.0/0': a /0 would let every IPv4 client in"},
	    {"192.0.2.0/40\n",
	     "error: '192.0.2.0/40': the prefix length is not a number from 1 to 32"},
	};
	char buf[512], why[256], n[NETSET_STRLEN];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct netset_net net = {0};
		unsigned prefix = 0;
		int r;

		snprintf(buf, sizeof(buf), "%s", cases[i].line);
		r = allowfile_parse_line(buf, &net.addr, &prefix, why, sizeof(why));
		net.prefix = (uint8_t)prefix;
		if (r < 0)
			snprintf(buf, sizeof(buf), "error: %s", why);
		else if (r == 0)
			snprintf(buf, sizeof(buf), "-");
		else
			snprintf(buf, sizeof(buf), "%s", netset_format(&net, n));
		assert_string_equal(buf, cases[i].want);
	}
}

/* Reads @text as the allow-file @name; returns the finished set, or NULL with @err set. */
static struct netset *read_text(const char *text, const char *name, char *err, size_t errlen)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	struct netset *s = netset_new();
	int r;

	assert_non_null(f);
	assert_non_null(s);
	r = allowfile_read(s, f, name, err, errlen);
	fclose(f);
	if (r < 0)
		return netset_free(s);
	assert_int_equal(netset_finish(s), 0);
	return s;
}

static void test_read_names_file_and_line(void **state)
{
	char err[512];
	struct netset *s;
	const struct netset_net *n;
	mxa_addr a;

	(void)state;
	s = read_text("# providers\n192.0.2.0/24\n\n2001:db8::/32  # v6\n198.51.100.9\n",
	              "/etc/mxallowd/providers.allow", err, sizeof(err));
	assert_non_null(s);
	assert_int_equal(netset_count(s), 3);
	assert_int_equal(addr_parse(&a, "2001:db8::25"), 0);
	assert_true(netset_lookup(s, &a, &n));
	assert_string_equal(n->source, "/etc/mxallowd/providers.allow");
	assert_int_equal(n->line, 4);
	netset_free(s);

	s = read_text("192.0.2.0/24\n# ok so far\nmail.example.org\n192.0.2.1\n", "/x.allow", err,
	              sizeof(err));
	assert_null(s);
	assert_string_equal(
	    err, "/x.allow:3: 'mail.example.org' is not an address or network (ADDR or ADDR/BITS)");

	s = read_text("192.0.2.0/24\n::/0\n", "/x.allow", err, sizeof(err));
	assert_null(s);
	assert_string_equal(err, "/x.allow:2: '::/0': a /0 would let every client in");
}

static void test_read_refuses_binary_and_long_lines(void **state)
{
	static const char nul[] = "192.0.2.0/24\n192.0.2.1\0/32\n";
	char err[512], *big = malloc(ALLOWFILE_LINE_MAX + 64);
	FILE *f = fmemopen((void *)nul, sizeof(nul) - 1, "r");
	struct netset *s = netset_new();

	(void)state;
	assert_non_null(f);
	assert_int_equal(allowfile_read(s, f, "/bin.allow", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "/bin.allow:2: NUL byte: not a text file");
	fclose(f);
	netset_free(s);

	assert_non_null(big);
	memset(big, ' ', ALLOWFILE_LINE_MAX + 10);
	strcpy(big + ALLOWFILE_LINE_MAX + 10, "192.0.2.1\n");
	assert_null(read_text(big, "/long.allow", err, sizeof(err)));
	assert_string_equal(err, "/long.allow:1: line longer than 4096 bytes");
	free(big);
}

static char tmpdir[64];

static int make_tmpdir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/mxa-allow.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_build_from_keys_and_files(void **state)
{
	struct config c;
	struct netset *s = NULL;
	char err[512], path[128], path2[128];
	const struct netset_net *n;
	mxa_addr a;

	(void)state;
	snprintf(path, sizeof(path), "%s/a.allow", tmpdir);
	snprintf(path2, sizeof(path2), "%s/b.allow", tmpdir);
	write_file(path, "198.51.100.0/24\n");
	write_file(path2, "# second file\n2001:db8:1::/48\n");
	config_init(&c);

	/* Nothing configured: no set at all. */
	assert_int_equal(allowfile_build(&c, &s, err, sizeof(err)), 0);
	assert_null(s);

	assert_int_equal(
	    config_set(&c, "allow", "192.0.2.128/25", "mxallowd.conf:4", err, sizeof(err)), 0);
	assert_int_equal(config_set(&c, "allow-file", path, "mxallowd.conf:5", err, sizeof(err)),
	                 0);
	assert_int_equal(config_set(&c, "allow-file", path2, "mxallowd.conf:6", err, sizeof(err)),
	                 0);
	assert_int_equal(allowfile_build(&c, &s, err, sizeof(err)), 0);
	assert_non_null(s);
	assert_int_equal(netset_count(s), 3);
	assert_int_equal(addr_parse(&a, "192.0.2.200"), 0);
	assert_true(netset_lookup(s, &a, &n));
	assert_string_equal(n->source, "mxallowd.conf:4"); /* an allow key: its place */
	assert_int_equal(n->line, 0);
	assert_int_equal(addr_parse(&a, "2001:db8:1::25"), 0);
	assert_true(netset_lookup(s, &a, &n));
	assert_string_equal(n->source, path2);
	assert_int_equal(n->line, 2);
	netset_free(s);

	/* A broken second file: no set, the error names that file and line. */
	write_file(path2, "2001:db8:1::/48\n2001:db8:1::/200\n");
	s = (struct netset *)&c; /* must be reset */
	assert_int_equal(allowfile_build(&c, &s, err, sizeof(err)), -EINVAL);
	assert_null(s);
	assert_true(strncmp(err, path2, strlen(path2)) == 0);
	assert_string_equal(err + strlen(path2),
	                    ":2: '2001:db8:1::/200': the prefix length is not a number from 1 "
	                    "to 128");

	/* A missing file: the error names the key's place and the file. */
	unlink(path2);
	assert_int_equal(allowfile_build(&c, &s, err, sizeof(err)), -ENOENT);
	assert_null(s);
	assert_non_null(strstr(err, "mxallowd.conf:6: allow-file "));
	assert_non_null(strstr(err, "b.allow: cannot open: No such file or directory"));

	/* A FIFO nobody writes to: refused at once, not waited on. */
	assert_int_equal(mkfifo(path2, 0600), 0);
	assert_int_equal(allowfile_build(&c, &s, err, sizeof(err)), -EINVAL);
	assert_null(s);
	assert_non_null(strstr(err, "mxallowd.conf:6: allow-file "));
	assert_non_null(strstr(err, "b.allow: not a regular file"));
	config_clear(&c);

	/* A device that never ends: refused, nothing read. */
	config_init(&c);
	assert_int_equal(
	    config_set(&c, "allow-file", "/dev/zero", "mxallowd.conf:9", err, sizeof(err)), 0);
	assert_int_equal(allowfile_build(&c, &s, err, sizeof(err)), -EINVAL);
	assert_null(s);
	assert_string_equal(err, "mxallowd.conf:9: allow-file /dev/zero: not a regular file");
	config_clear(&c);
}

/* A line is never read whole before it is judged: a file of one endless line is refused. */
static void test_read_bounded_line(void **state)
{
	size_t n = 1u << 24;
	char err[512], *huge = malloc(n);
	FILE *f;
	struct netset *s = netset_new();

	(void)state;
	assert_non_null(huge);
	memset(huge, '1', n);
	f = fmemopen(huge, n, "r");
	assert_non_null(f);
	assert_int_equal(allowfile_read(s, f, "/huge.allow", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "/huge.allow:1: line longer than 4096 bytes");
	/* Stopped at the bound: the rest of the line is still unread. */
	assert_true(ftell(f) <= ALLOWFILE_LINE_MAX + 1);
	fclose(f);
	free(huge);
	netset_free(s);
}

static void test_keys(void **state)
{
	struct config c, copy;
	char err[512], buf[128];
	const char *origin;
	size_t allow_i = SIZE_MAX;

	(void)state;
	config_init(&c);
	assert_int_equal(config_set(&c, "allow", "192.0.2.0/33", "f.conf:2", err, sizeof(err)),
	                 -EINVAL);
	assert_string_equal(
	    err, "f.conf:2: allow: '192.0.2.0/33': the prefix length is not a number from 1 to 32");
	assert_int_equal(config_set(&c, "allow", "0.0.0.0/0", "f.conf:3", err, sizeof(err)),
	                 -EINVAL);
	assert_string_equal(err,
	                    "f.conf:3: allow: '0.0.0.0/0': a /0 would let every IPv4 client in");
	assert_int_equal(config_set(&c, "allow", NULL, "f.conf:4", err, sizeof(err)), -EINVAL);
	assert_int_equal(
	    config_set(&c, "allow-file", "lists/a.allow", "f.conf:5", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "f.conf:5: allow-file: 'lists/a.allow' is not an absolute path");
	assert_int_equal(c.allow.n, 0);
	assert_int_equal(c.allow_files.n, 0);

	assert_int_equal(config_set(&c, "allow", "192.0.2.0/24", "f.conf:6", err, sizeof(err)), 0);
	assert_int_equal(config_set(&c, "allow", "2001:db8::/32", "command line", err, sizeof(err)),
	                 0);
	assert_int_equal(c.allow.n, 2);
	/* Lists print one value a line with their places; copies are deep. */
	for (size_t i = 0; i < config_key_count(); i++)
		if (strcmp(config_key_info(i)->name, "allow") == 0)
			allow_i = i;
	assert_true(allow_i != SIZE_MAX);
	assert_true(config_key_format(&c, allow_i, 1, buf, sizeof(buf), &origin));
	assert_string_equal(buf, "2001:db8::/32");
	assert_string_equal(origin, "command line");
	assert_false(config_key_format(&c, allow_i, 2, buf, sizeof(buf), &origin));
	assert_int_equal(config_copy(&copy, &c), 0);
	assert_int_equal(copy.allow.n, 2);
	assert_true(copy.allow.v != c.allow.v);
	assert_string_equal(copy.allow.v[0].spec, "192.0.2.0/24");
	/* Not restart-only: a reload takes new lists. */
	assert_int_equal(config_set(&copy, "allow", "198.51.100.0/24", "x", err, sizeof(err)), 0);
	assert_int_equal(config_restart_changes(&c, &copy, buf, sizeof(buf)), 0);
	config_clear(&copy);
	config_clear(&c);
}

static void test_metrics_listen(void **state)
{
	static const struct {
		const char *in, *err; /* err NULL: valid */
	} cases[] = {
	    {"127.0.0.1:9425", NULL},
	    {"192.0.2.20:9425", NULL},
	    {"[::1]:9425", NULL},
	    {"[2001:db8::20]:65535", NULL},
	    {"127.0.0.1", "'127.0.0.1' is not ADDR:PORT (IPv4) or [ADDR]:PORT (IPv6)"},
	    {"::1:9425", "'::1:9425' is not ADDR:PORT (IPv4) or [ADDR]:PORT (IPv6)"},
	    {"[127.0.0.1]:9425",
	     "'[127.0.0.1]:9425' is not ADDR:PORT (IPv4) or [ADDR]:PORT (IPv6)"},
	    {"localhost:9425", "'localhost:9425' is not ADDR:PORT (IPv4) or [ADDR]:PORT (IPv6)"},
	    {"[::1]9425", "'[::1]9425' is not ADDR:PORT (IPv4) or [ADDR]:PORT (IPv6)"},
	    {"127.0.0.1:0", "'127.0.0.1:0': the port is not a number from 1 to 65535"},
	    {"127.0.0.1:65536", "'127.0.0.1:65536': the port is not a number from 1 to 65535"},
	    {"127.0.0.1:", "'127.0.0.1:': the port is not a number from 1 to 65535"},
	    {"127.0.0.1:94x", "'127.0.0.1:94x': the port is not a number from 1 to 65535"},
	    {"127.0.0.1:99999999999999", "'127.0.0.1:99999999999999': the port is not a number "
	                                 "from 1 to 65535"},
	};
	char why[256], err[512], want[512];
	mxa_addr a;
	uint16_t port;
	struct config c;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = config_parse_listen(cases[i].in, &a, &port, why, sizeof(why));

		if (!cases[i].err) {
			assert_int_equal(r, 0);
			continue;
		}
		assert_int_equal(r, -EINVAL);
		assert_string_equal(why, cases[i].err);
	}
	assert_int_equal(config_parse_listen("[2001:db8::20]:9425", &a, &port, why, sizeof(why)),
	                 0);
	assert_int_equal(port, 9425);
	assert_false(addr_is_v4(&a));
	config_init(&c);
	assert_null(c.metrics_listen); /* off by default */
	assert_int_equal(
	    config_set(&c, "metrics-listen", "127.0.0.1:0", "f.conf:9", err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "f.conf:9: metrics-listen: %s", cases[9].err);
	assert_string_equal(err, want);
	assert_int_equal(
	    config_set(&c, "metrics-listen", "[::1]:9425", "f.conf:9", err, sizeof(err)), 0);
	assert_string_equal(c.metrics_listen, "[::1]:9425");
	config_clear(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_line),
	    cmocka_unit_test(test_read_names_file_and_line),
	    cmocka_unit_test(test_read_refuses_binary_and_long_lines),
	    cmocka_unit_test(test_read_bounded_line),
	    cmocka_unit_test_setup_teardown(test_build_from_keys_and_files, make_tmpdir,
	                                    remove_tmpdir),
	    cmocka_unit_test(test_keys),
	    cmocka_unit_test(test_metrics_listen),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
