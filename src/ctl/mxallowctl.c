/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mxallowctl: speaks to a running mxallowd over its control socket
 * (protocol: src/core/ctlproto.h, man/mxallowctl.8). One request per run;
 * the answer is printed as a table, JSON or text. Exit status 0 on success,
 * 1 for "no" (show: not let in; del: no such entry, or the allow list still
 * lets the address in), 2 for errors.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "build-config.h"
#include "config.h"
#include "ctlproto.h"

#define EXIT_NO    1
#define EXIT_ERROR 2
/* How long one read or write may wait: a reload resolves names (a few seconds at most). */
#define IO_TIMEOUT 60

struct conn {
	int fd;
	char buf[4096];
	size_t len, off;
	const char *path;
};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("mxallowctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EXIT_ERROR);
}

static void usage(FILE *f)
{
	fputs(
	    "Usage: mxallowctl [-s PATH] [-c FILE] COMMAND [ARGUMENTS]\n"
	    "Asks a running mxallowd over its control socket.\n\n"
	    "Commands:\n"
	    "  list [--json]                       every whitelist entry\n"
	    "  show ADDR                           is ADDR let in now, and by what (exit 1: no)\n"
	    "  add ADDR[/PREFIX] [--ttl SECONDS]   a manual entry (default: whitelist-time)\n"
	    "  del ADDR[/PREFIX]                   remove the entry (exit 1: there was none, or\n"
	    "                                      the allow list still lets ADDR in)\n"
	    "  stats                               the counters\n"
	    "  reload                              re-read the configuration, print the result\n\n"
	    "Options (before the command):\n"
	    "  -s, --socket PATH   the control socket (default: control-socket in the config\n"
	    "                      file, else " DEFAULT_CONTROL_SOCKET ")\n"
	    "  -c, --config FILE   the config file (default " CONFIG_DEFAULT_PATH ")\n"
	    "  -h, --help          this text\n"
	    "  -V, --version       version\n"
	    "Exit status: 0 success, 1 no, 2 error.\n",
	    f);
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

/*
 * A file that does not load as a whole (the error a reload would report):
 * only its control-socket lines, read as config_load_file() reads them (#
 * comments, `key value` or `key = value`, the last one counts).
 */
static void scan_control_socket(struct config *c, const char *path, const char *load_err)
{
	FILE *f = fopen(path, "re");
	char *line = NULL, origin[512], err[CONFIG_ERRLEN];
	size_t cap = 0;
	unsigned lineno = 0;

	if (!f)
		die("%s (give the socket with -s PATH)", load_err);
	while (getline(&line, &cap, f) != -1) {
		char *key, *p, *hash = strchr(line, '#');

		lineno++;
		if (hash)
			*hash = 0;
		key = trim(line);
		for (p = key; *p && !isspace((unsigned char)*p) && *p != '='; p++)
			;
		if ((size_t)(p - key) != strlen("control-socket") ||
		    strncmp(key, "control-socket", (size_t)(p - key)) != 0)
			continue;
		p = trim(p);
		if (*p == '=')
			p = trim(p + 1);
		snprintf(origin, sizeof(origin), "%s:%u", path, lineno);
		if (config_set(c, "control-socket", *p ? p : NULL, origin, err, sizeof(err)) < 0)
			die("%s (give the socket with -s PATH)", err);
	}
	free(line);
	fclose(f);
}

/* The socket named by control-socket in @path (the daemon's config file). */
static char *socket_from_config(const char *path, bool required)
{
	struct config c;
	char err[CONFIG_ERRLEN];
	char *s;

	config_init(&c);
	if (config_load_file(&c, path, required, err, sizeof(err)) < 0) {
		config_clear(&c);
		config_init(&c);
		scan_control_socket(&c, path, err);
	}
	if (!c.control_socket)
		die("%s: control-socket is none: mxallowd has no control socket", path);
	s = strdup(c.control_socket);
	config_clear(&c);
	if (!s)
		die("out of memory");
	return s;
}

static void conn_open(struct conn *c, const char *path, const char *config)
{
	struct timeval t = {IO_TIMEOUT, 0};
	struct sockaddr_un sun = {.sun_family = AF_UNIX};

	memset(c, 0, sizeof(*c));
	c->path = path;
	if (strlen(path) >= sizeof(sun.sun_path))
		die("%s: too long for a UNIX socket path", path);
	memcpy(sun.sun_path, path, strlen(path) + 1);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		die("socket: %s", strerror(errno));
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &t, sizeof(t));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &t, sizeof(t));
	if (connect(c->fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int e = errno;

		if (e == ENOENT || e == ECONNREFUSED)
			die("cannot connect to %s: %s (is mxallowd running?%s%s)", path,
			    strerror(e), config ? " the path is control-socket of " : "",
			    config ? config : "");
		if (e == EACCES || e == EPERM)
			die("cannot connect to %s: %s (root, mxallowd's user and control-group "
			    "only)",
			    path, strerror(e));
		die("cannot connect to %s: %s", path, strerror(e));
	}
}

/* The next line (without LF) into @line; false at the end of the connection. */
static bool conn_line(struct conn *c, char *line, size_t size)
{
	size_t n = 0;

	for (;;) {
		while (c->off < c->len) {
			char ch = c->buf[c->off++];

			if (ch == '\n') {
				line[n] = 0;
				return true;
			}
			if (n + 1 >= size || n + 1 >= CTL_MAX_REPLY)
				die("%s: a line of the answer is longer than %d bytes", c->path,
				    CTL_MAX_REPLY - 1);
			line[n++] = ch;
		}
		ssize_t r = read(c->fd, c->buf, sizeof(c->buf));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			die("%s: no answer within %d s", c->path, IO_TIMEOUT);
		if (r < 0)
			die("%s: read: %s", c->path, strerror(errno));
		if (r == 0) {
			if (n > 0)
				die("%s: the answer ends in the middle of a line", c->path);
			return false;
		}
		c->off = 0;
		c->len = (size_t)r;
	}
}

static void conn_send(struct conn *c, const char *req)
{
	size_t len = strlen(req), off = 0;

	while (off < len) {
		ssize_t r = send(c->fd, req + off, len - off, MSG_NOSIGNAL);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die("%s: cannot send the request: %s", c->path, strerror(errno));
		off += (size_t)r;
	}
	shutdown(c->fd, SHUT_WR); /* one request: the daemon answers it, then closes */
}

/* Reads the banner: this protocol, this version. */
static void conn_hello(struct conn *c)
{
	char line[CTL_MAX_REPLY];
	const char *text;

	if (!conn_line(c, line, sizeof(line)))
		die("%s: the daemon closed the connection without a word", c->path);
	if (ctl_line_kind(line, &text) == CTL_LINE_ERROR)
		die("%s", text);
	if (strcmp(line, CTL_BANNER) == 0)
		return;
	if (strncmp(line, CTL_PROTO_NAME " ", sizeof(CTL_PROTO_NAME)) == 0)
		die("%s: the daemon speaks control protocol %s, this mxallowctl speaks %d", c->path,
		    line + sizeof(CTL_PROTO_NAME), CTL_PROTO_VERSION);
	die("%s: not an mxallowd control socket (it said '%.60s')", c->path, line);
}

/* The final line of an answer; data lines go to @data (may be NULL: they are skipped). */
static enum ctl_line conn_answer(struct conn *c, char *line, size_t size, const char **text,
                                 void (*data)(void *ctx, const char *line), void *ctx)
{
	enum ctl_line k;

	for (;;) {
		if (!conn_line(c, line, size))
			die("%s: the daemon closed the connection before the end of the answer",
			    c->path);
		k = ctl_line_kind(line, text);
		if (k != CTL_LINE_DATA)
			return k;
		if (data)
			data(ctx, line);
	}
}

static const char *duration(char *buf, size_t len, int64_t s)
{
	if (s < 60)
		snprintf(buf, len, "%" PRId64 "s", s);
	else if (s < 3600)
		snprintf(buf, len, "%" PRId64 "m%02" PRId64 "s", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%" PRId64 "h%02" PRId64 "m%02" PRId64 "s", s / 3600,
		         s / 60 % 60, s % 60);
	else
		snprintf(buf, len, "%" PRId64 "d%02" PRId64 "h%02" PRId64 "m", s / 86400,
		         s / 3600 % 24, s / 60 % 60);
	return buf;
}

static const char *net_text(char *buf, size_t len, const struct ctl_entry *e)
{
	if (e->prefix == (strchr(e->addr, ':') ? 128u : 32u))
		snprintf(buf, len, "%s", e->addr);
	else
		snprintf(buf, len, "%s/%u", e->addr, e->prefix);
	return buf;
}

/* JSON string: quotes, backslashes and control characters escaped. */
static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20 || ch == 0x7f)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

struct lister {
	const char *path;
	bool json;
	uint64_t n;
};

#define COLUMNS "%-24s %-14s %-24s %-11s %s\n"

static void list_entry(void *ctx, const char *line)
{
	struct lister *l = ctx;
	struct ctl_entry e;
	char net[ADDR_STRLEN + 4], exp[32], last[40];

	if (strncmp(line, "entry ", 6) != 0)
		return; /* a kind of data line this version does not know */
	if (ctl_parse_entry(line, &e) < 0)
		die("%s: unreadable entry line '%.80s'", l->path, line);
	if (l->json) {
		printf("%s{\"address\":", l->n ? ",\n" : "");
		json_string(stdout, e.addr);
		printf(",\"prefix\":%u,\"reason\":", e.prefix);
		json_string(stdout, e.reason);
		fputs(",\"origin\":", stdout);
		if (e.origin[0])
			json_string(stdout, e.origin);
		else
			fputs("null", stdout);
		printf(",\"expires_in\":%" PRId64 ",\"last_use\":", e.expires_in);
		if (e.last_use >= 0)
			printf("%" PRId64 "}", e.last_use);
		else
			fputs("null}", stdout);
	} else {
		if (e.last_use >= 0)
			snprintf(last, sizeof(last), "%s ago",
			         duration(exp, sizeof(exp), e.last_use));
		else
			snprintf(last, sizeof(last), "never");
		printf(COLUMNS, net_text(net, sizeof(net), &e), e.reason,
		       e.origin[0] ? e.origin : "-", duration(exp, sizeof(exp), e.expires_in),
		       last);
	}
	l->n++;
}

static int cmd_list(struct conn *c, bool json)
{
	struct lister l = {.path = c->path, .json = json};
	char line[CTL_MAX_REPLY];
	const char *text;
	enum ctl_line k;

	conn_send(c, "list\n");
	if (json)
		fputs("{\"entries\":[\n", stdout);
	else
		printf(COLUMNS, "ADDRESS", "REASON", "ORIGIN", "EXPIRES IN", "LAST USE");
	k = conn_answer(c, line, sizeof(line), &text, list_entry, &l);
	if (k != CTL_LINE_OK)
		die("%s", text);
	if (json)
		printf("%s],\"count\":%" PRIu64 "}\n", l.n ? "\n" : "", l.n);
	else
		printf("%" PRIu64 " entr%s\n", l.n, l.n == 1 ? "y" : "ies");
	return 0;
}

static void show_data(void *ctx, const char *line)
{
	struct ctl_entry e;
	char net[ADDR_STRLEN + 4], exp[32], last[32];

	(void)ctx;
	if (strncmp(line, "info ", 5) == 0) {
		printf("  %s\n", line + 5);
	} else if (ctl_parse_entry(line, &e) == 0) {
		printf("  entry %s: reason %s, origin %s, expires in %s, last use %s%s\n",
		       net_text(net, sizeof(net), &e), e.reason, e.origin[0] ? e.origin : "-",
		       duration(exp, sizeof(exp), e.expires_in),
		       e.last_use >= 0 ? duration(last, sizeof(last), e.last_use) : "never",
		       e.last_use >= 0 ? " ago" : "");
	}
}

/* add, del, reload: prints the final line of the answer. Returns the exit status. */
static int simple(struct conn *c, const char *req)
{
	char line[CTL_MAX_REPLY];
	const char *text;
	enum ctl_line k;
	int status = 0;

	conn_send(c, req);
	k = conn_answer(c, line, sizeof(line), &text, NULL, NULL);
	switch (k) {
	case CTL_LINE_OK:
		if (*text)
			printf("%s\n", text);
		break;
	case CTL_LINE_NO:
		printf("%s\n", text);
		status = EXIT_NO;
		break;
	default:
		die("%s", text);
	}
	return status;
}

/* show: the details (data lines) come before the verdict; printed after it. */
static int cmd_show(struct conn *c, const char *req)
{
	char line[CTL_MAX_REPLY], details[8][CTL_MAX_REPLY];
	size_t n = 0;
	const char *text;
	enum ctl_line k;

	conn_send(c, req);
	for (;;) {
		if (!conn_line(c, line, sizeof(line)))
			die("%s: the daemon closed the connection before the end of the answer",
			    c->path);
		k = ctl_line_kind(line, &text);
		if (k != CTL_LINE_DATA)
			break;
		if (n < 8)
			snprintf(details[n++], sizeof(details[0]), "%s", line);
	}
	if (k == CTL_LINE_ERROR)
		die("%s", text);
	printf("%s\n", text);
	for (size_t i = 0; i < n; i++)
		show_data(NULL, details[i]);
	return k == CTL_LINE_NO ? EXIT_NO : 0;
}

static void stat_line(void *ctx, const char *line)
{
	char name[64];
	unsigned long long v;

	(void)ctx;
	if (sscanf(line, "stat %63s %llu", name, &v) == 2)
		printf("%-24s %llu\n", name, v);
}

static int cmd_stats(struct conn *c)
{
	char line[CTL_MAX_REPLY];
	const char *text;

	conn_send(c, "stats\n");
	if (conn_answer(c, line, sizeof(line), &text, stat_line, NULL) != CTL_LINE_OK)
		die("%s", text);
	return 0;
}

/* A word that goes into the request line: no spaces or control characters. */
static const char *word(const char *s)
{
	if (!*s)
		die("empty argument");
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
			die("argument '%.60s': spaces and control characters are not allowed", s);
	return s;
}

static const char *ttl_arg(const char *s)
{
	if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 10)
		die("--ttl '%.60s': not a whole number of seconds", s);
	return s;
}

int main(int argc, char **argv)
{
	static const struct option longs[] = {
	    {"socket", required_argument, NULL, 's'},
	    {"config", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	const char *socket_path = NULL, *config = CONFIG_DEFAULT_PATH, *cmd;
	bool config_given = false;
	char req[CTL_MAX_REQUEST + 64], *from_config = NULL;
	struct conn c;
	int opt, r, nargs;
	char **args;

	while ((opt = getopt_long(argc, argv, "+s:c:hV", longs, NULL)) != -1) {
		switch (opt) {
		case 's':
			socket_path = optarg;
			break;
		case 'c':
			config = optarg;
			config_given = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("mxallowctl %s (control protocol %d)\n", MXALLOWD_VERSION,
			       CTL_PROTO_VERSION);
			return 0;
		default:
			usage(stderr);
			return EXIT_ERROR;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_ERROR;
	}
	cmd = argv[optind];
	args = argv + optind + 1;
	nargs = argc - optind - 1;

	/* The request, checked before connecting. */
	if (strcmp(cmd, "list") == 0) {
		if (nargs > 1 || (nargs == 1 && strcmp(args[0], "--json") != 0))
			die("usage: mxallowctl list [--json]");
	} else if (strcmp(cmd, "show") == 0 || strcmp(cmd, "del") == 0) {
		if (nargs != 1)
			die("usage: mxallowctl %s",
			    strcmp(cmd, "show") == 0 ? "show ADDR" : "del ADDR[/PREFIX]");
		snprintf(req, sizeof(req), "%s %s\n", cmd, word(args[0]));
	} else if (strcmp(cmd, "add") == 0) {
		const char *addr = NULL, *ttl = NULL;

		for (int i = 0; i < nargs; i++) {
			if (strcmp(args[i], "--ttl") == 0 && i + 1 < nargs)
				ttl = ttl_arg(args[++i]);
			else if (strncmp(args[i], "--ttl=", 6) == 0)
				ttl = ttl_arg(args[i] + 6);
			else if (!addr && args[i][0] != '-')
				addr = word(args[i]);
			else
				die("usage: mxallowctl add ADDR[/PREFIX] [--ttl SECONDS]");
		}
		if (!addr)
			die("usage: mxallowctl add ADDR[/PREFIX] [--ttl SECONDS]");
		snprintf(req, sizeof(req), "add %s%s%s\n", addr, ttl ? " " : "", ttl ? ttl : "");
	} else if (strcmp(cmd, "stats") == 0 || strcmp(cmd, "reload") == 0) {
		if (nargs != 0)
			die("usage: mxallowctl %s", cmd);
		snprintf(req, sizeof(req), "%s\n", cmd);
	} else {
		die("unknown command '%.40s' (list, show, add, del, stats, reload; -h for help)",
		    cmd);
	}
	if (strlen(req) > CTL_MAX_REQUEST && strcmp(cmd, "list") != 0)
		die("the request is longer than %d bytes", CTL_MAX_REQUEST);

	if (!socket_path)
		socket_path = from_config = socket_from_config(config, config_given);
	conn_open(&c, socket_path, socket_path == from_config ? config : NULL);
	conn_hello(&c);
	if (strcmp(cmd, "list") == 0)
		r = cmd_list(&c, nargs == 1);
	else if (strcmp(cmd, "show") == 0)
		r = cmd_show(&c, req);
	else if (strcmp(cmd, "stats") == 0)
		r = cmd_stats(&c);
	else
		r = simple(&c, req);
	close(c.fd);
	free(from_config);
	if (fflush(stdout) != 0 || ferror(stdout))
		die("cannot write the output: %s", strerror(errno));
	return r;
}
