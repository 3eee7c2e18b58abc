/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Linux table writer: two ipset sets (IPv4, IPv6) through libipset's data
 * API, one netlink batch per commit (the restore-mode aggregation that
 * `ipset restore` uses). Entries carry their remaining lifetime as timeout,
 * so the kernel expires them even when the daemon is gone. At start the
 * entries already in the sets are taken over, not flushed: each is kept until
 * its own timeout (unless the daemon deletes it), so a restart leaves the
 * kernel's enforcement as it was.
 *
 * Failures do not stick: a batch the kernel refuses (the kernel stops at the
 * first bad line and drops the rest) is retried change by change on a fresh
 * libipset session, the refused changes are counted, and a session that
 * could not be re-created is tried again at the next commit. ipsetw_resync()
 * lists both sets (libipset's plain list output, parsed) and corrects the
 * difference with the whitelist. It also checks each set again (family,
 * timeout support, maxelem), as `ipset swap` can replace a set under the
 * running daemon: an unusable set is named once with the commands that
 * replace it, and the caller's resyncs retry (with back-off) until it is.
 */
#include "table-writer.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libipset/data.h>
#include <libipset/parse.h>
#include <libipset/session.h>
#include <libipset/types.h>

#include "table-util.h"

#define IPSET_MAX_TIMEOUT 2147483 /* the kernel's limit, (UINT_MAX >> 1) / MSEC_PER_SEC */
#define SET_TYPE          "hash:net"
/* A resync re-arms an entry whose kernel timeout is off by more than this. */
#define RETIME_SLACK 5

struct table_op {
	mxa_addr addr;
	uint32_t timeout;
	bool add;
};

/* Why a set that exists cannot take mxallowd's entries (found by a resync). */
enum unusable {
	USABLE,
	NO_TIMEOUT,   /* created without `timeout`: every add is refused */
	WRONG_FAMILY, /* inet where inet6 is needed, or the reverse */
	TOO_SMALL,    /* maxelem below max-entries: refuses clients once full */
};

/* What a list of one set gave: its header and, unless header-only, its members. */
struct listing {
	bool active;
	bool in_members;
	bool header_seen;
	bool overlong; /* the current line did not fit: skipped */
	uint32_t maxelem;
	uint8_t family;
	bool timeout; /* the set takes entries with a timeout */
	char line[512];
	size_t len;
	struct table_util_vec *members; /* NULL: header only */
	int error;
};

struct table_writer {
	struct ipset_session *s; /* NULL after a failed re-creation: retried by session_get() */
	char set4[IPSET_MAXNAMELEN];
	char set6[IPSET_MAXNAMELEN];
	unsigned v4_prefix;
	unsigned v6_prefix;
	uint32_t timeout; /* of the sets we create */
	uint32_t maxelem; /* of the sets we create */
	uint32_t max_entries;
	struct table_op *ops;
	size_t n_ops;
	size_t cap_ops;
	/* Entries found at start: kept until their deadline (table_util_now() seconds), sorted. */
	struct table_util_vec adopted;
	bool follow; /* adopted entries follow the kernel's renewals (table_params.later set) */
	table_later_fn later; /* the whitelist follows an adopted entry's renewal (table_learn()) */
	void *later_ctx;
	struct listing list;
	enum unusable said[2]; /* per set (IPv4, IPv6): the reason a resync last reported */
	struct table_stats stats;
	char describe[2 * IPSET_MAXNAMELEN + 16];
	char report[512];
};

static int ipsetw_add(struct table_writer *t, const mxa_addr *a, uint32_t timeout);
static int ipsetw_del(struct table_writer *t, const mxa_addr *a);
static int ipsetw_commit(struct table_writer *t, char *err, size_t errlen);

static const char *family_name(uint8_t family)
{
	return family == NFPROTO_IPV4 ? "inet" : "inet6";
}

static void list_line(struct listing *l, const char *line)
{
	char word[64], *end;
	const char *p;
	mxa_addr a;
	unsigned long n;
	uint8_t prefix;
	uint32_t timeout = 0;

	if (strncmp(line, "Header:", 7) == 0) {
		l->header_seen = true;
		p = strstr(line, " maxelem ");
		if (p) {
			n = strtoul(p + 9, &end, 10);
			l->maxelem = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
		}
		l->family = strstr(line, "family inet6") ? NFPROTO_IPV6 : NFPROTO_IPV4;
		l->timeout = strstr(line, " timeout ") != NULL;
		return;
	}
	if (strcmp(line, "Members:") == 0) {
		l->in_members = true;
		return;
	}
	if (!l->in_members || !l->members || !*line)
		return;
	/* "192.0.2.1 timeout 3599", "2001:db8::/64 timeout 12" (no /N for a full-length prefix) */
	n = strcspn(line, " ");
	if (n == 0 || n >= sizeof(word))
		return;
	memcpy(word, line, n);
	word[n] = 0;
	p = strstr(line + n, " timeout ");
	if (p) {
		unsigned long v = strtoul(p + 9, &end, 10);

		timeout = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
	}
	end = strchr(word, '/');
	if (end)
		*end++ = 0;
	if (addr_parse(&a, word) < 0)
		return; /* not an address: nothing mxallowd put there */
	prefix = addr_is_v4(&a) ? 32 : 128;
	if (end) {
		n = strtoul(end, NULL, 10);
		if (n < prefix)
			prefix = (uint8_t)n;
	}
	if (table_util_vec_push(l->members, &a, prefix, timeout) < 0)
		l->error = -ENOMEM;
}

/* Receives libipset's output, which only list commands produce, in chunks that may split lines. */
static int on_output(struct ipset_session *s, void *p, const char *fmt, ...)
{
	struct table_writer *t = p;
	struct listing *l = &t->list;
	const char *text;
	va_list ap;

	(void)s;
	if (!l->active || strcmp(fmt, "%s") != 0) /* libipset prints its buffer with "%s" */
		return 0;
	va_start(ap, fmt);
	text = va_arg(ap, const char *);
	va_end(ap);
	for (; text && *text; text++) {
		if (*text != '\n') {
			if (l->len < sizeof(l->line) - 1)
				l->line[l->len++] = *text;
			else
				l->overlong = true;
			continue;
		}
		l->line[l->len] = 0;
		if (!l->overlong)
			list_line(l, l->line);
		l->len = 0;
		l->overlong = false;
	}
	return 0;
}

/* libipset's last message, on one line (it may end in a newline or hold several lines). */
static const char *report(struct table_writer *t)
{
	const char *m = t->s ? ipset_session_report_msg(t->s) : NULL;
	size_t n = 0;

	if (!t->s)
		return "no libipset session (out of memory)";
	if (!m || !*m)
		return "unknown libipset error";
	for (const char *p = m; *p && n < sizeof(t->report) - 1; p++)
		t->report[n++] = *p == '\n' ? ' ' : *p;
	while (n && t->report[n - 1] == ' ')
		n--;
	t->report[n] = 0;
	return t->report;
}

static void report_reset(struct table_writer *t)
{
	if (t->s)
		ipset_session_report_reset(t->s);
}

/* The session, re-created when an earlier failure left none; NULL when that fails again. */
static struct ipset_session *session_get(struct table_writer *t)
{
	if (!t->s) {
		t->s = ipset_session_init(on_output, t);
		if (t->s) {
			/* Adding what is there renews its timeout; deleting what expired is fine.
			 */
			ipset_envopt_set(t->s, IPSET_ENV_EXIST);
			ipset_session_output(t->s, IPSET_LIST_PLAIN);
		}
	}
	return t->s;
}

/* Drops whatever is left half-built in the session after a failure; the next use re-creates it. */
static void session_reset(struct table_writer *t)
{
	if (t->s)
		ipset_session_fini(t->s);
	t->s = NULL;
	session_get(t);
}

/* Lists set @name (its header only when @members is NULL) into t->list. */
static int list_set(struct table_writer *t, const char *name, struct table_util_vec *members)
{
	struct ipset_data *d;
	int r;

	if (!session_get(t))
		return -ENOMEM;
	d = ipset_session_data(t->s);
	t->list = (struct listing){.active = true, .members = members};
	if (!members)
		ipset_envopt_set(t->s, IPSET_ENV_LIST_HEADER);
	report_reset(t);
	ipset_data_reset(d);
	ipset_data_set(d, IPSET_SETNAME, name);
	r = ipset_cmd(t->s, IPSET_CMD_LIST, 0);
	ipset_envopt_unset(t->s, IPSET_ENV_LIST_HEADER);
	if (t->list.len) { /* output without a final newline */
		t->list.line[t->list.len] = 0;
		list_line(&t->list, t->list.line);
	}
	t->list.active = false;
	if (r < 0)
		return -EIO;
	return t->list.error ? t->list.error : t->list.header_seen ? 0 : -EIO;
}

/* Creates @name (hash:net, @family, with timeout support and maxelem) unless it exists. */
static int set_ensure(struct table_writer *t, const char *name, uint8_t family, bool *created,
                      char *err, size_t errlen)
{
	struct ipset_data *d;

	*created = false;
	if (!session_get(t)) {
		snprintf(err, errlen, "ipset: cannot open a libipset session (out of memory)");
		return -ENOMEM;
	}
	d = ipset_session_data(t->s);
	/* libipset caches what it knows of a set, also after someone else destroyed it: ask. */
	(void)ipset_cache_del(name);
	report_reset(t);
	ipset_data_reset(d);
	ipset_data_set(d, IPSET_SETNAME, name);
	if (ipset_type_get(t->s, IPSET_CMD_ADD)) {
		if (ipset_data_family(d) != family) {
			snprintf(err, errlen, "ipset: set %s exists with family %s, expected %s",
			         name, family_name(ipset_data_family(d)), family_name(family));
			return -EAFNOSUPPORT;
		}
		report_reset(t);
		return 0;
	}
	/* Missing (or unreadable): create it the way the documentation says. */
	report_reset(t);
	ipset_data_reset(d);
	ipset_data_set(d, IPSET_SETNAME, name);
	if (ipset_parse_typename(t->s, IPSET_OPT_TYPENAME, SET_TYPE) < 0 ||
	    ipset_data_set(d, IPSET_OPT_FAMILY, &family) < 0 ||
	    !ipset_type_get(t->s, IPSET_CMD_CREATE) ||
	    ipset_data_set(d, IPSET_OPT_TIMEOUT, &t->timeout) < 0 ||
	    ipset_data_set(d, IPSET_OPT_MAXELEM, &t->maxelem) < 0 ||
	    ipset_cmd(t->s, IPSET_CMD_CREATE, 0) < 0) {
		snprintf(err, errlen, "ipset: cannot create set %s (%s family %s maxelem %u): %s",
		         name, SET_TYPE, family_name(family), (unsigned)t->maxelem, report(t));
		session_reset(t);
		return -EIO;
	}
	report_reset(t);
	*created = true;
	return 0;
}

/*
 * A set smaller than the whitelist refuses clients once it fills, batch
 * after batch: refuse it at start, with the commands that replace it by a
 * bigger one while the rules that use it stay loaded (swap keeps them).
 */
static int check_maxelem(struct table_writer *t, const char *name, uint8_t family, char *err,
                         size_t errlen)
{
	if (list_set(t, name, NULL) < 0) {
		snprintf(err, errlen, "ipset: cannot read the header of set %s: %s", name,
		         report(t));
		return -EIO;
	}
	if (t->list.maxelem == 0 || t->list.maxelem >= t->max_entries)
		return 0;
	snprintf(err, errlen,
	         "ipset: set %s holds at most %u entries (maxelem), fewer than max-entries %u: "
	         "replace it by a bigger one: ipset create %s.new %s family %s timeout %u "
	         "maxelem %u && ipset swap %s.new %s && ipset destroy %s.new (or lower "
	         "max-entries)",
	         name, (unsigned)t->list.maxelem, (unsigned)t->max_entries, name, SET_TYPE,
	         family_name(family), (unsigned)t->timeout, (unsigned)t->maxelem, name, name, name);
	return -ENOSPC;
}

/* Creates the set when missing, checks an existing one's size; its entries stay (adopt()). */
static int set_prepare(struct table_writer *t, const char *name, uint8_t family, char *err,
                       size_t errlen)
{
	bool created;
	int r = set_ensure(t, name, family, &created, err, errlen);

	if (r == 0 && !created)
		r = check_maxelem(t, name, family, err, errlen);
	return r;
}

/*
 * The live entries of both sets at start (those with a timeout, of the
 * configured prefix), kept until their own deadline: see ipsetw_resync().
 */
static int adopt(struct table_writer *t, char *err, size_t errlen)
{
	for (int v6 = 0; v6 <= 1; v6++) {
		const char *name = v6 ? t->set6 : t->set4;

		if (list_set(t, name, &t->adopted) < 0) {
			snprintf(err, errlen, "ipset: cannot list set %s: %s", name, report(t));
			return -EIO;
		}
	}
	t->stats.adopted =
	    table_util_adopt(&t->adopted, t->v4_prefix, t->v6_prefix, table_util_now());
	return 0;
}

static struct table_writer *ipsetw_close(struct table_writer *t, bool clean_exit)
{
	(void)clean_exit; /* entries expire by their own timeout */
	if (t) {
		if (t->s)
			ipset_session_fini(t->s);
		free(t->ops);
		table_util_vec_free(&t->adopted);
		free(t);
	}
	return NULL;
}

static bool name_ok(const char *name)
{
	return name && *name && strlen(name) < IPSET_MAXNAMELEN;
}

/*
 * Every add carries a timeout, which a set created without timeout support
 * refuses: try one add and delete per set, with an address no client has, so
 * that such a set is an error at start rather than a silent failure later.
 */
static int check_timeouts(struct table_writer *t, char *err, size_t errlen)
{
	static const uint8_t probe4[4] = {255, 255, 255, 255};
	static const uint8_t probe6[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	                                   0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	mxa_addr a;
	char why[256];

	for (int v6 = 0; v6 <= 1; v6++) {
		const char *set = v6 ? t->set6 : t->set4;

		if (v6)
			addr_from_v6(&a, probe6);
		else
			addr_from_v4(&a, probe4);
		addr_mask(&a, &a, t->v4_prefix, t->v6_prefix);
		if (ipsetw_add(t, &a, 1) < 0 || ipsetw_commit(t, why, sizeof(why)) < 0) {
			snprintf(err, errlen,
			         "ipset: set %s refuses entries with a timeout (%s); recreate it: "
			         "ipset create %s %s family %s timeout %u maxelem %u",
			         set, why, set, SET_TYPE, v6 ? "inet6" : "inet",
			         (unsigned)t->timeout, (unsigned)t->maxelem);
			return -EINVAL;
		}
		if (ipsetw_del(t, &a) < 0 || ipsetw_commit(t, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "ipset: set %s: %s", set, why);
			return -EIO;
		}
	}
	return 0;
}

static struct table_writer *ipsetw_open(const struct table_params *p, char *err, size_t errlen)
{
	struct table_writer *t;

	if (p->v4_prefix == 0 || p->v6_prefix == 0) {
		snprintf(err, errlen,
		         "ipset: a hash:net set cannot hold a /0: use ipv4-prefix and "
		         "ipv6-prefix of 1 or more");
		return NULL;
	}
	if (!name_ok(p->ipset4) || !name_ok(p->ipset6)) {
		snprintf(err, errlen, "ipset: set names must have 1 to %d characters",
		         IPSET_MAXNAMELEN - 1);
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(err, errlen, "ipset: out of memory");
		return NULL;
	}
	snprintf(t->set4, sizeof(t->set4), "%s", p->ipset4);
	snprintf(t->set6, sizeof(t->set6), "%s", p->ipset6);
	snprintf(t->describe, sizeof(t->describe), "ipset:%s,%s", t->set4, t->set6);
	t->v4_prefix = p->v4_prefix;
	t->v6_prefix = p->v6_prefix;
	t->timeout = p->default_timeout;
	if (t->timeout == 0 || t->timeout > IPSET_MAX_TIMEOUT)
		t->timeout = IPSET_MAX_TIMEOUT;
	t->max_entries = p->max_entries ? p->max_entries : TABLE_UTIL_DEFAULT_ENTRIES;
	t->maxelem = table_util_maxelem(t->max_entries);
	t->follow = p->later != NULL;
	t->later = p->later;
	t->later_ctx = p->later_ctx;
	ipset_load_types();
	if (!session_get(t)) {
		snprintf(err, errlen, "ipset: cannot open a libipset session");
		return ipsetw_close(t, false);
	}
	if (set_prepare(t, t->set4, NFPROTO_IPV4, err, errlen) < 0 ||
	    set_prepare(t, t->set6, NFPROTO_IPV6, err, errlen) < 0 ||
	    check_timeouts(t, err, errlen) < 0)
		return ipsetw_close(t, false);
	t->stats = (struct table_stats){0}; /* the probes are not the daemon's */
	if (adopt(t, err, errlen) < 0)
		return ipsetw_close(t, false);
	return t;
}

static int queue(struct table_writer *t, const mxa_addr *a, uint32_t timeout, bool add)
{
	if (t->n_ops == t->cap_ops) {
		size_t cap = t->cap_ops ? 2 * t->cap_ops : 64;
		struct table_op *v = realloc(t->ops, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		t->ops = v;
		t->cap_ops = cap;
	}
	t->ops[t->n_ops++] = (struct table_op){.addr = *a, .timeout = timeout, .add = add};
	return 0;
}

static int ipsetw_add(struct table_writer *t, const mxa_addr *a, uint32_t timeout)
{
	if (timeout == 0)
		timeout = 1; /* 0 would mean "never expires" */
	if (timeout > IPSET_MAX_TIMEOUT)
		timeout = IPSET_MAX_TIMEOUT;
	return queue(t, a, timeout, true);
}

static int ipsetw_del(struct table_writer *t, const mxa_addr *a)
{
	/* A deleted entry is no longer kept for its adopted lifetime either. */
	table_util_unadopt(&t->adopted, a, (uint8_t)(addr_is_v4(a) ? t->v4_prefix : t->v6_prefix));
	return queue(t, a, 0, false);
}

/* Builds one change; @lineno != 0 makes libipset aggregate it, 0 sends it at once. */
static int one_op(struct table_writer *t, const struct table_op *op, uint32_t lineno)
{
	struct ipset_data *d = ipset_session_data(t->s);
	union nf_inet_addr ip = {0};
	bool v4 = addr_is_v4(&op->addr);
	uint8_t cidr = (uint8_t)(v4 ? t->v4_prefix : t->v6_prefix);
	enum ipset_cmd cmd = op->add ? IPSET_CMD_ADD : IPSET_CMD_DEL;

	ipset_data_reset(d);
	if (ipset_data_set(d, IPSET_SETNAME, v4 ? t->set4 : t->set6) < 0 ||
	    !ipset_type_get(t->s, cmd))
		return -EIO;
	if (v4)
		memcpy(&ip.in, addr_v4_bytes(&op->addr), 4);
	else
		memcpy(&ip.in6, op->addr.b, 16);
	if (ipset_data_set(d, IPSET_OPT_IP, &ip) < 0)
		return -EIO;
	if (cidr < (v4 ? 32 : 128) && ipset_data_set(d, IPSET_OPT_CIDR, &cidr) < 0)
		return -EIO;
	if (op->add && ipset_data_set(d, IPSET_OPT_TIMEOUT, &op->timeout) < 0)
		return -EIO;
	return ipset_cmd(t->s, cmd, lineno) < 0 ? -EIO : 0;
}

/* All queued changes in one aggregated netlink batch. */
static int send_batch(struct table_writer *t)
{
	int r = 0;

	for (size_t i = 0; i < t->n_ops && r == 0; i++)
		r = one_op(t, &t->ops[i], (uint32_t)(i + 1));
	if (r == 0 && ipset_commit(t->s) < 0)
		r = -EIO;
	return r;
}

/*
 * After a refused batch: each change on its own, so that the good ones get
 * in (the kernel dropped everything after the bad line). Returns how many
 * were refused; @why receives the first reason.
 */
static size_t send_singly(struct table_writer *t, char *why, size_t whylen)
{
	size_t refused = 0;

	for (size_t i = 0; i < t->n_ops; i++) {
		if (!session_get(t)) {
			if (!refused)
				snprintf(why, whylen, "%s", report(t));
			refused += t->n_ops - i;
			break;
		}
		report_reset(t);
		if (one_op(t, &t->ops[i], 0) == 0)
			continue;
		/* A command sent at once leaves the session clean (libipset resets it). */
		if (!refused++)
			snprintf(why, whylen, "%s", report(t));
	}
	report_reset(t);
	return refused;
}

static int ipsetw_commit(struct table_writer *t, char *err, size_t errlen)
{
	size_t n = t->n_ops, refused;
	char why[512]; /* what report() returns, whole */

	if (n == 0)
		return 0;
	if (session_get(t)) {
		report_reset(t);
		if (send_batch(t) == 0) {
			report_reset(t);
			t->n_ops = 0;
			return (int)n;
		}
		snprintf(why, sizeof(why), "%s", report(t));
		session_reset(t);
	}
	refused = send_singly(t, why, sizeof(why));
	t->n_ops = 0;
	if (refused == 0)
		return (int)n; /* the batch failed for a reason that did not last */
	t->stats.refused += refused;
	snprintf(err, errlen, "ipset: %zu of %zu changes to %s/%s refused: %s", refused, n, t->set4,
	         t->set6, why);
	return -EIO;
}

struct resync {
	struct table_writer *t;
	struct table_util_vec want;
	int error;
};

static int resync_put(void *ctx, const mxa_addr *a, uint32_t timeout)
{
	struct resync *rs = ctx;
	bool v4 = addr_is_v4(a);

	if (timeout > IPSET_MAX_TIMEOUT)
		timeout = IPSET_MAX_TIMEOUT;
	if (table_util_vec_push(&rs->want, a, (uint8_t)(v4 ? rs->t->v4_prefix : rs->t->v6_prefix),
	                        timeout ? timeout : 1) < 0) {
		rs->error = -ENOMEM;
		return -ENOMEM;
	}
	return 0;
}

static int resync_change(void *ctx, enum table_util_change c, const struct table_util_entry *e)
{
	struct resync *rs = ctx;

	if (c == TABLE_UTIL_DEL)
		return ipsetw_del(rs->t, &e->addr);
	return ipsetw_add(rs->t, &e->addr, e->timeout);
}

/*
 * Set @i (0: IPv4, 1: IPv6) cannot take the entries, for reason @why: the
 * reason and the commands that replace the set while the rules that use it
 * stay loaded, the first time; a one-line reminder while it stays so. The
 * caller retries (pflog_resync_due() backs off). Returns -EINVAL.
 */
static int unusable(struct table_writer *t, int i, enum unusable why, char *err, size_t errlen)
{
	const char *name = i ? t->set6 : t->set4;
	const char *fam = family_name(i ? NFPROTO_IPV6 : NFPROTO_IPV4);
	char reason[160];

	switch (why) {
	case NO_TIMEOUT:
		snprintf(reason, sizeof(reason),
		         "it has no timeout support, so it refuses every entry mxallowd adds");
		break;
	case WRONG_FAMILY:
		snprintf(reason, sizeof(reason), "it is not of family %s", fam);
		break;
	default:
		snprintf(reason, sizeof(reason),
		         "it holds at most %u entries (maxelem), fewer than max-entries %u",
		         (unsigned)t->list.maxelem, (unsigned)t->max_entries);
		break;
	}
	if (t->said[i] == why) {
		snprintf(err, errlen, "ipset: set %s still cannot be used: %s; retrying", name,
		         reason);
		return -EINVAL;
	}
	t->said[i] = why;
	if (why == WRONG_FAMILY)
		snprintf(err, errlen,
		         "ipset: set %s cannot be used: %s; mxallowd retries until it is replaced: "
		         "remove the rules that use it, ipset destroy %s, then ipset create %s %s "
		         "family %s timeout %u maxelem %u",
		         name, reason, name, name, SET_TYPE, fam, (unsigned)t->timeout,
		         (unsigned)t->maxelem);
	else
		snprintf(err, errlen,
		         "ipset: set %s cannot be used: %s; mxallowd retries until it is replaced: "
		         "ipset create %s.new %s family %s timeout %u maxelem %u && ipset swap "
		         "%s.new %s && ipset destroy %s.new",
		         name, reason, name, SET_TYPE, fam, (unsigned)t->timeout,
		         (unsigned)t->maxelem, name, name, name);
	return -EINVAL;
}

static int ipsetw_resync(struct table_writer *t, table_entries_fn entries, void *ctx, char *err,
                         size_t errlen)
{
	static const uint8_t families[2] = {NFPROTO_IPV4, NFPROTO_IPV6};
	struct table_util_vec have = {0};
	struct resync rs = {.t = t};
	long fixes = 0;
	int r = 0;

	for (int i = 0; i < 2 && r == 0; i++) {
		const char *name = i ? t->set6 : t->set4;
		bool created;

		/* A set destroyed behind our back (rules removed, then the set) comes back. */
		r = set_ensure(t, name, families[i], &created, err, errlen);
		if (r == -EAFNOSUPPORT)
			r = unusable(t, i, WRONG_FAMILY, err, errlen);
		if (r == 0 && list_set(t, name, &have) < 0) {
			snprintf(err, errlen, "ipset: resync: cannot list set %s: %s", name,
			         report(t));
			r = -EIO;
		}
		/* Swapped for another set since the start (ipset swap): check it again. */
		if (r == 0 && !t->list.timeout)
			r = unusable(t, i, NO_TIMEOUT, err, errlen);
		else if (r == 0 && t->list.maxelem && t->list.maxelem < t->max_entries)
			r = unusable(t, i, TOO_SMALL, err, errlen);
		else if (r == 0)
			t->said[i] = USABLE;
	}
	if (r == 0) {
		/* Adopted entries the kernel's renewal rule renewed since start keep that. */
		if (t->follow)
			table_util_adopted_follow(&t->adopted, &have, table_util_now(),
			                          RETIME_SLACK);
		r = entries(ctx, resync_put, &rs);
		if (rs.error)
			r = rs.error;
		/* Adopted entries still in their lifetime are wanted too. */
		if (r == 0)
			r = table_util_adopted_want(&t->adopted, &rs.want, table_util_now());
		if (r) {
			r = r < 0 ? r : -EIO;
			snprintf(err, errlen, "ipset: resync: reading the whitelist failed: %s",
			         strerror(-r));
		}
	}
	if (r == 0) {
		have.n = table_util_sort_unique(have.v, have.n);
		rs.want.n = table_util_sort_unique(rs.want.v, rs.want.n);
		fixes = table_util_diff(have.v, have.n, rs.want.v, rs.want.n, RETIME_SLACK,
		                        resync_change, &rs);
		if (fixes < 0) {
			snprintf(err, errlen, "ipset: resync: out of memory");
			r = (int)fixes;
		}
	}
	table_util_vec_free(&have);
	table_util_vec_free(&rs.want);
	if (r == 0)
		r = ipsetw_commit(t, err, errlen);
	if (r < 0) {
		t->n_ops = 0; /* the next resync starts over */
		return r;
	}
	t->stats.resyncs++;
	t->stats.healed += (uint64_t)fixes;
	return (int)fixes;
}

/* ---- the allow lists: sets mx-static/mx-static6 (hash:net, no timeout) ---- */

#define STATIC_SET4 "mx-static"
#define STATIC_SET6 "mx-static6"
/* The new contents are built in these, then swapped in whole (see ipsetw_set_static()). */
#define STATIC_TMP4 "mx-static.tmp"
#define STATIC_TMP6 "mx-static6.tmp"

/*
 * Creates live static set @name (hash:net, @family, room for @maxelem) unless
 * it exists; an existing one must have the family and type that `ipset swap`
 * accepts for the new contents.
 */
static int static_ensure(struct table_writer *t, const char *name, uint8_t family, uint32_t maxelem,
                         char *err, size_t errlen)
{
	struct ipset_data *d = ipset_session_data(t->s);
	const struct ipset_type *type;

	(void)ipset_cache_del(name);
	report_reset(t);
	ipset_data_reset(d);
	ipset_data_set(d, IPSET_SETNAME, name);
	type = ipset_type_get(t->s, IPSET_CMD_ADD);
	if (type) {
		if (ipset_data_family(d) != family || strcmp(type->name, SET_TYPE) != 0) {
			snprintf(err, errlen,
			         "ipset: set %s (allow lists) is %s family %s, not %s family %s: "
			         "remove the rules that use it, ipset destroy %s, and load the "
			         "rules again (mxallowd creates and fills it)",
			         name, type->name, family_name(ipset_data_family(d)), SET_TYPE,
			         family_name(family), name);
			report_reset(t);
			return -EINVAL;
		}
		report_reset(t);
		return 0;
	}
	report_reset(t);
	ipset_data_reset(d);
	ipset_data_set(d, IPSET_SETNAME, name);
	if (ipset_parse_typename(t->s, IPSET_OPT_TYPENAME, SET_TYPE) < 0 ||
	    ipset_data_set(d, IPSET_OPT_FAMILY, &family) < 0 ||
	    !ipset_type_get(t->s, IPSET_CMD_CREATE) ||
	    ipset_data_set(d, IPSET_OPT_MAXELEM, &maxelem) < 0 ||
	    ipset_cmd(t->s, IPSET_CMD_CREATE, 0) < 0) {
		snprintf(err, errlen, "ipset: cannot create set %s (%s family %s maxelem %u): %s",
		         name, SET_TYPE, family_name(family), (unsigned)maxelem, report(t));
		session_reset(t);
		return -EIO;
	}
	report_reset(t);
	return 0;
}

/* Destroys set @name; 0, or -EIO (also when there is no such set). */
static int static_destroy(struct table_writer *t, const char *name)
{
	struct ipset_data *d;
	int r;

	if (!session_get(t))
		return -ENOMEM;
	d = ipset_session_data(t->s);
	report_reset(t);
	ipset_data_reset(d);
	ipset_data_set(d, IPSET_SETNAME, name);
	r = ipset_cmd(t->s, IPSET_CMD_DESTROY, 0);
	report_reset(t);
	return r < 0 ? -EIO : 0;
}

/*
 * A new, empty set @name for the next contents of @live (one left over by an
 * interrupted run goes first).
 */
static int static_create(struct table_writer *t, const char *name, const char *live, uint8_t family,
                         uint32_t maxelem, char *err, size_t errlen)
{
	struct ipset_data *d;
	int r = 0;

	(void)static_destroy(t, name);
	if (!session_get(t)) {
		snprintf(err, errlen, "ipset: cannot open a libipset session (out of memory)");
		return -ENOMEM;
	}
	d = ipset_session_data(t->s);
	report_reset(t);
	ipset_data_reset(d);
	ipset_data_set(d, IPSET_SETNAME, name);
	/* Not -exist: a set of that name that could not be destroyed must not be filled. */
	ipset_envopt_unset(t->s, IPSET_ENV_EXIST);
	if (ipset_parse_typename(t->s, IPSET_OPT_TYPENAME, SET_TYPE) < 0 ||
	    ipset_data_set(d, IPSET_OPT_FAMILY, &family) < 0 ||
	    !ipset_type_get(t->s, IPSET_CMD_CREATE) ||
	    ipset_data_set(d, IPSET_OPT_MAXELEM, &maxelem) < 0 ||
	    ipset_cmd(t->s, IPSET_CMD_CREATE, 0) < 0)
		r = -EIO;
	ipset_envopt_set(t->s, IPSET_ENV_EXIST);
	if (r < 0) {
		snprintf(err, errlen,
		         "ipset: cannot create set %s (%s family %s maxelem %u), where the new "
		         "allow lists are built before they replace %s: %s; a set of that name "
		         "must not be in use (ipset destroy %s once no rule names it)",
		         name, SET_TYPE, family_name(family), (unsigned)maxelem, live, report(t),
		         name);
		session_reset(t);
		return r;
	}
	report_reset(t);
	return 0;
}

/* Queues adding network @n to set @name (an aggregated batch: @lineno > 0). */
static int static_add(struct table_writer *t, const char *name, const struct netset_net *n,
                      uint32_t lineno)
{
	struct ipset_data *d = ipset_session_data(t->s);
	union nf_inet_addr ip = {0};
	bool v4 = addr_is_v4(&n->addr);
	uint8_t cidr = n->prefix;

	ipset_data_reset(d);
	if (ipset_data_set(d, IPSET_SETNAME, name) < 0 || !ipset_type_get(t->s, IPSET_CMD_ADD))
		return -EIO;
	if (v4)
		memcpy(&ip.in, addr_v4_bytes(&n->addr), 4);
	else
		memcpy(&ip.in6, n->addr.b, 16);
	if (ipset_data_set(d, IPSET_OPT_IP, &ip) < 0)
		return -EIO;
	if (cidr < (v4 ? 32 : 128) && ipset_data_set(d, IPSET_OPT_CIDR, &cidr) < 0)
		return -EIO;
	return ipset_cmd(t->s, IPSET_CMD_ADD, lineno) < 0 ? -EIO : 0;
}

/* Exchanges the names (and the rules' references) of sets @a and @b. */
static int static_swap(struct table_writer *t, const char *a, const char *b)
{
	struct ipset_data *d;

	if (!session_get(t))
		return -ENOMEM;
	d = ipset_session_data(t->s);
	report_reset(t);
	ipset_data_reset(d);
	ipset_data_set(d, IPSET_SETNAME, a);
	ipset_data_set(d, IPSET_OPT_SETNAME2, b);
	return ipset_cmd(t->s, IPSET_CMD_SWAP, 0) < 0 ? -EIO : 0;
}

/*
 * The new contents go into fresh sets sized for them (maxelem is fixed when
 * a set is created, so a live set is never refilled past it), which `ipset
 * swap` then puts in place of the live ones, keeping the rules' references:
 * a network in both the old and the new lists is never missing, and on any
 * failure the live sets keep their old contents whole.
 */
static int ipsetw_set_static(struct table_writer *t, const struct netset *ns, char *err,
                             size_t errlen)
{
	static const char *const live[2] = {STATIC_SET4, STATIC_SET6};
	static const char *const tmp[2] = {STATIC_TMP4, STATIC_TMP6};
	static const uint8_t family[2] = {NFPROTO_IPV4, NFPROTO_IPV6};
	size_t count = netset_count(ns);
	uint32_t maxelem = 65536;
	int r = 0, swapped = 0;

	if (count > maxelem / 2)
		maxelem = count < UINT32_MAX / 2 ? (uint32_t)(count * 2) : UINT32_MAX;

	if (!session_get(t)) {
		snprintf(err, errlen, "ipset: cannot open a libipset session (out of memory)");
		return -ENOMEM;
	}
	for (int f = 0; f < 2 && r == 0; f++)
		r = static_ensure(t, live[f], family[f], maxelem, err, errlen);
	for (int f = 0; f < 2 && r == 0; f++)
		r = static_create(t, tmp[f], live[f], family[f], maxelem, err, errlen);
	if (r == 0) {
		for (size_t i = 0; i < count && r == 0; i++) {
			const struct netset_net *n = netset_get(ns, i);

			r = static_add(t, tmp[addr_is_v4(&n->addr) ? 0 : 1], n, (uint32_t)(i + 1));
		}
		if (r == 0 && count && ipset_commit(t->s) < 0)
			r = -EIO;
		if (r < 0) {
			snprintf(err, errlen, "ipset: writing %zu allow-list networks to %s/%s: %s",
			         count, tmp[0], tmp[1], report(t));
			session_reset(t);
		}
	}
	for (int f = 0; f < 2 && r == 0; f++) {
		r = static_swap(t, tmp[f], live[f]);
		if (r == 0) {
			swapped++;
			continue;
		}
		snprintf(err, errlen, "ipset: cannot swap set %s with its new contents %s: %s",
		         live[f], tmp[f], report(t));
		session_reset(t);
	}
	/* IPv6 refused after IPv4 went in: IPv4 gets its old contents back, all or nothing. */
	if (r < 0 && swapped && static_swap(t, tmp[0], live[0]) < 0) {
		size_t n = strlen(err);

		snprintf(err + n, errlen - n, " (and %s could not get its old contents back: %s)",
		         live[0], report(t));
		session_reset(t);
		(void)static_destroy(t, tmp[1]);
		return r; /* tmp[0] holds the old IPv4 contents: kept for the administrator */
	}
	/* The old contents after a swap, the unused new ones after a failure. */
	(void)static_destroy(t, tmp[0]);
	(void)static_destroy(t, tmp[1]);
	if (r < 0)
		return r;
	report_reset(t);
	return (int)count;
}

static bool ipsetw_resync_needed(const struct table_writer *t)
{
	(void)t;
	return false;
}

/*
 * The entries taken over at start, offered to the whitelist as nft does
 * (nftw_learn()): one the ruleset renewed while the daemon was stopped keeps
 * the kernel's longer lifetime, written after the restored deadlines so that
 * the commit does not cut it back.
 */
static int ipsetw_adopted_left(const struct table_writer *t, const mxa_addr *a, uint32_t *left)
{
	return table_util_adopted_left(&t->adopted, a,
	                               (uint8_t)(addr_is_v4(a) ? t->v4_prefix : t->v6_prefix),
	                               table_util_now(), left);
}

static int ipsetw_learn(struct table_writer *t)
{
	return table_util_adopted_learn(&t->adopted, table_util_now(), t->later, t->later_ctx,
	                                ipsetw_add, t);
}

static const struct table_stats *ipsetw_stats(const struct table_writer *t)
{
	return &t->stats;
}

static const char *ipsetw_describe(const struct table_writer *t)
{
	return t->describe;
}

const struct table_ops table_ipset_ops = {
    .name = "ipset",
    .open = ipsetw_open,
    .close = ipsetw_close,
    .add = ipsetw_add,
    .del = ipsetw_del,
    .commit = ipsetw_commit,
    .resync = ipsetw_resync,
    .resync_needed = ipsetw_resync_needed,
    .stats = ipsetw_stats,
    .describe = ipsetw_describe,
    .set_static = ipsetw_set_static,
    .learn = ipsetw_learn,
    .adopted_left = ipsetw_adopted_left,
};
