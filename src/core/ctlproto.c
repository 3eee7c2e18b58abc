/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "ctlproto.h"
#include "syncwire.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WORDS 4

static const struct {
	const char *name;
	enum ctl_cmd cmd;
	size_t min_args, max_args;
	const char *usage;
} commands[] = {
    {"list", CTL_LIST, 0, 0, "list"},
    {"show", CTL_SHOW, 1, 1, "show ADDR"},
    {"add", CTL_ADD, 1, 2, "add ADDR[/PREFIX] [TTL]"},
    {"del", CTL_DEL, 1, 1, "del ADDR[/PREFIX]"},
    {"stats", CTL_STATS, 0, 0, "stats"},
    {"reload", CTL_RELOAD, 0, 0, "reload"},
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

/* Decimal without sign or leading zeros, at most @max. */
static int parse_decimal(const char *s, size_t len, uint32_t max, uint32_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > 10 || (len > 1 && s[0] == '0'))
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > max)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

int ctl_parse_net(const char *s, mxa_addr *addr, int *prefix)
{
	const char *slash = strchr(s, '/');
	char buf[64];
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	uint32_t p;

	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = 0;
	if (addr_parse(addr, buf) < 0)
		return -EINVAL;
	*prefix = -1;
	if (!slash)
		return 0;
	if (parse_decimal(slash + 1, strlen(slash + 1), addr_is_v4(addr) ? 32 : 128, &p) < 0)
		return -EINVAL;
	*prefix = (int)p;
	return 0;
}

const char *ctl_format_net(const mxa_addr *a, unsigned prefix, char *buf, size_t len)
{
	char text[ADDR_STRLEN];

	addr_format(a, text);
	if (prefix >= (addr_is_v4(a) ? 32u : 128u))
		snprintf(buf, len, "%s", text);
	else
		snprintf(buf, len, "%s/%u", text, prefix);
	return buf;
}

/* A word of the request, for messages: at most 40 bytes of it. */
static void quote_word(char *buf, size_t len, const char *w, size_t n)
{
	snprintf(buf, len, "'%.*s%s'", (int)(n > 40 ? 40 : n), w, n > 40 ? "..." : "");
}

int ctl_parse_request(const char *line, size_t len, struct ctl_request *req, char *err,
                      size_t errlen)
{
	const char *w[MAX_WORDS];
	size_t wl[MAX_WORDS], n = 0, cmd;
	char word[64], q[64];
	uint32_t ttl;

	memset(req, 0, sizeof(*req));
	req->prefix = -1;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len == 0) {
		snprintf(err, errlen, "empty request");
		return -EINVAL;
	}
	if (len >= CTL_MAX_REQUEST) {
		snprintf(err, errlen, "request longer than %d bytes", CTL_MAX_REQUEST - 1);
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];

		if (c < 0x20 || c > 0x7e) {
			snprintf(err, errlen,
			         "byte 0x%02x at column %zu: requests are printable ASCII", c,
			         i + 1);
			return -EINVAL;
		}
		if (c == ' ' && (i == 0 || i + 1 == len || line[i + 1] == ' ')) {
			snprintf(err, errlen,
			         "extra space at column %zu: words are separated by one space",
			         i + (i == 0 || i + 1 == len ? 1 : 2));
			return -EINVAL;
		}
	}
	for (size_t i = 0; i < len;) {
		size_t j = i;

		while (j < len && line[j] != ' ')
			j++;
		if (n == MAX_WORDS) {
			snprintf(err, errlen, "too many words");
			return -EINVAL;
		}
		w[n] = line + i;
		wl[n++] = j - i;
		i = j + 1;
	}
	for (cmd = 0; cmd < N_COMMANDS; cmd++)
		if (strlen(commands[cmd].name) == wl[0] &&
		    memcmp(commands[cmd].name, w[0], wl[0]) == 0)
			break;
	if (cmd == N_COMMANDS) {
		quote_word(q, sizeof(q), w[0], wl[0]);
		snprintf(err, errlen,
		         "unknown command %s (commands: list, show, add, del, stats, reload)", q);
		return -EINVAL;
	}
	req->cmd = commands[cmd].cmd;
	if (n - 1 < commands[cmd].min_args || n - 1 > commands[cmd].max_args) {
		snprintf(err, errlen, "usage: %s", commands[cmd].usage);
		return -EINVAL;
	}
	if (n == 1)
		return 0;
	if (wl[1] >= sizeof(word)) {
		quote_word(q, sizeof(q), w[1], wl[1]);
		snprintf(err, errlen, "%s is not an address", q);
		return -EINVAL;
	}
	memcpy(word, w[1], wl[1]);
	word[wl[1]] = 0;
	if (ctl_parse_net(word, &req->addr, &req->prefix) < 0) {
		quote_word(q, sizeof(q), w[1], wl[1]);
		snprintf(err, errlen, "%s is not an address%s", q,
		         req->cmd == CTL_SHOW ? "" : " or address/prefix");
		return -EINVAL;
	}
	if (req->cmd == CTL_SHOW && req->prefix >= 0) {
		snprintf(err, errlen, "usage: show ADDR (an address, without a prefix)");
		return -EINVAL;
	}
	if (n == 3) {
		if (parse_decimal(w[2], wl[2], CTL_TTL_MAX, &ttl) < 0 || ttl == 0) {
			quote_word(q, sizeof(q), w[2], wl[2]);
			snprintf(err, errlen,
			         "TTL %s is not a whole number of seconds from 1 to %d", q,
			         CTL_TTL_MAX);
			return -EINVAL;
		}
		req->ttl = ttl;
	}
	return 0;
}

size_t ctl_format_entry(char *buf, size_t len, const struct wl_entry *e, unsigned prefix,
                        mxa_time now)
{
	static const mxa_addr none = {{0}};
	char net[ADDR_STRLEN + 4], origin[ADDR_STRLEN], node[24], last[24];
	bool no_origin = e->reason == WL_REASON_MANUAL || e->reason == WL_REASON_STATIC ||
	                 addr_equal(&e->origin, &none);
	int n;

	if (e->used && e->last_use > 0)
		snprintf(last, sizeof(last), "%" PRId64, now > e->last_use ? now - e->last_use : 0);
	else
		snprintf(last, sizeof(last), "-");
	n = snprintf(
	    buf, len, "entry addr=%s reason=%s origin=%s expires-in=%" PRId64 " last-use=%s",
	    ctl_format_net(&e->addr, prefix, net, sizeof(net)), whitelist_reason_name(e->reason),
	    no_origin                     ? "-"
	    : e->reason == WL_REASON_PEER ? (snprintf(origin, sizeof(origin), "peer:%s",
	                                              syncwire_origin_node(&e->origin, node)),
	                                     origin)
	                                  : addr_format(&e->origin, origin),
	    e->deadline > now ? e->deadline - now : 0, last);
	return n < 0 ? 0 : (size_t)n;
}

static int parse_i64(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

int ctl_parse_entry(const char *line, struct ctl_entry *out)
{
	char buf[CTL_MAX_REPLY], *save = NULL, *tok;
	unsigned seen = 0;
	mxa_addr a;
	int prefix;

	memset(out, 0, sizeof(*out));
	if (strlen(line) >= sizeof(buf) || strncmp(line, "entry ", 6) != 0)
		return -EINVAL;
	strcpy(buf, line + 6);
	for (tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(tok, '=');
		const char *v;

		if (!eq)
			return -EINVAL;
		*eq = 0;
		v = eq + 1;
		if (strcmp(tok, "addr") == 0) {
			if (ctl_parse_net(v, &a, &prefix) < 0)
				return -EINVAL;
			addr_format(&a, out->addr);
			out->prefix = prefix >= 0 ? (unsigned)prefix : addr_is_v4(&a) ? 32 : 128;
			seen |= 1;
		} else if (strcmp(tok, "reason") == 0) {
			if (!*v || strlen(v) >= sizeof(out->reason))
				return -EINVAL;
			strcpy(out->reason, v);
			seen |= 2;
		} else if (strcmp(tok, "origin") == 0) {
			if (strncmp(v, "peer:", 5) == 0) {
				/* a peer's node name (shared whitelist) */
				if (strlen(v) >= sizeof(out->origin))
					return -EINVAL;
				strcpy(out->origin, v);
			} else if (strcmp(v, "-") != 0) {
				if (addr_parse(&a, v) < 0)
					return -EINVAL;
				addr_format(&a, out->origin);
			}
			seen |= 4;
		} else if (strcmp(tok, "expires-in") == 0) {
			if (parse_i64(v, &out->expires_in) < 0)
				return -EINVAL;
			seen |= 8;
		} else if (strcmp(tok, "last-use") == 0) {
			if (strcmp(v, "-") == 0)
				out->last_use = -1;
			else if (parse_i64(v, &out->last_use) < 0)
				return -EINVAL;
			seen |= 16;
		}
	}
	return seen == 31 ? 0 : -EINVAL;
}

enum ctl_line ctl_line_kind(const char *line, const char **text)
{
	static const struct {
		const char *word;
		enum ctl_line kind;
	} finals[] = {{"ok", CTL_LINE_OK}, {"no", CTL_LINE_NO}, {"error", CTL_LINE_ERROR}};

	for (size_t i = 0; i < 3; i++) {
		size_t n = strlen(finals[i].word);

		if (strncmp(line, finals[i].word, n) == 0 && (line[n] == 0 || line[n] == ' ')) {
			*text = line[n] ? line + n + 1 : "";
			return finals[i].kind;
		}
	}
	*text = line;
	return CTL_LINE_DATA;
}
