/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The control protocol between mxallowd and mxallowctl, documented in
 * mxallowctl(8). Lines of printable ASCII ending in LF. On connecting the
 * server sends the banner "mxallowd-control 1" (or one "error ..." line and
 * closes); then each request is one line, and each answer is zero or more
 * data lines ("entry ...", "stat ...", "info ...") and one final line: "ok",
 * "ok TEXT", "no TEXT" or "error TEXT". A bad request gets one error line and
 * changes nothing. Pure: no I/O, so the unit tests and both programs share it.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "mxtime.h"
#include "whitelist.h"

#define CTL_PROTO_NAME    "mxallowd-control"
#define CTL_PROTO_VERSION 1
#define CTL_BANNER        "mxallowd-control 1"
/* A request line, its LF included; longer ones get an error and the connection is closed. */
#define CTL_MAX_REQUEST 1024
/* Any line the server sends, its LF included (mxallowctl refuses longer ones). */
#define CTL_MAX_REPLY 1024
/* add: the longest lifetime (the longest timeout an ipset entry takes, as whitelist-time). */
#define CTL_TTL_MAX 2147483

enum ctl_cmd {
	CTL_LIST = 0,
	CTL_SHOW = 1,
	CTL_ADD = 2,
	CTL_DEL = 3,
	CTL_STATS = 4,
	CTL_RELOAD = 5,
};

struct ctl_request {
	enum ctl_cmd cmd;
	mxa_addr addr; /* show, add, del */
	int prefix;    /* add, del: the /PREFIX given, -1 when none */
	uint32_t ttl;  /* add: seconds, 0 when not given */
};

/**
 * ctl_parse_request() - one request line of @len bytes (its LF removed; a
 * CR before it is allowed): words separated by single spaces,
 *   list | show ADDR | add ADDR[/PREFIX] [TTL] | del ADDR[/PREFIX] | stats | reload
 * Returns 0, or -EINVAL with one line in @err naming the problem.
 */
int ctl_parse_request(const char *line, size_t len, struct ctl_request *req, char *err,
                      size_t errlen);

/**
 * ctl_parse_net() - "ADDR" or "ADDR/PREFIX" (decimal, at most 32 for IPv4 and
 * 128 for IPv6). @prefix gets -1 when none is given. Returns 0 or -EINVAL.
 */
int ctl_parse_net(const char *s, mxa_addr *addr, int *prefix);

/* "198.51.100.7", or "198.51.100.0/24" when @prefix is shorter than the family's length. */
const char *ctl_format_net(const mxa_addr *a, unsigned prefix, char *buf, size_t len);

/**
 * ctl_format_entry() - the data line for whitelist entry @e (its key is a
 * network of @prefix bits) at time @now, without the LF:
 *   entry addr=NET reason=REASON origin=ADDR|- expires-in=SECONDS last-use=SECONDS|-
 * last-use is how long ago; origin is - for manual and static entries.
 * Returns the length written (truncated like snprintf()).
 */
size_t ctl_format_entry(char *buf, size_t len, const struct wl_entry *e, unsigned prefix,
                        mxa_time now);

/* An entry line as mxallowctl reads it. */
struct ctl_entry {
	char addr[ADDR_STRLEN]; /* the address, without the prefix */
	unsigned prefix;
	char reason[24];
	char origin[ADDR_STRLEN]; /* "" when none */
	int64_t expires_in;
	int64_t last_use; /* seconds ago, -1 when never */
};

/**
 * ctl_parse_entry() - read an "entry ..." line (without its LF). Fields it
 * does not know are skipped, so that a server may add some. Returns 0 or
 * -EINVAL.
 */
int ctl_parse_entry(const char *line, struct ctl_entry *out);

enum ctl_line {
	CTL_LINE_DATA = 0,  /* entry, stat, info */
	CTL_LINE_OK = 1,    /* ok [TEXT] */
	CTL_LINE_NO = 2,    /* no TEXT */
	CTL_LINE_ERROR = 3, /* error TEXT */
};

/* What an answer line is; @text gets what follows the first word ("" when nothing). */
enum ctl_line ctl_line_kind(const char *line, const char **text);
