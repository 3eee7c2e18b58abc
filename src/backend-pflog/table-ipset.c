/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Linux table writer: two ipset sets (IPv4, IPv6) through libipset's data
 * API, one netlink batch per commit (the restore-mode aggregation that
 * `ipset restore` uses). Entries carry their remaining lifetime as timeout,
 * so the kernel expires them even when the daemon is gone.
 */
#include "table.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libipset/data.h>
#include <libipset/parse.h>
#include <libipset/session.h>
#include <libipset/types.h>

#define IPSET_MAX_TIMEOUT 2147483 /* the kernel's limit, (UINT_MAX >> 1) / MSEC_PER_SEC */
#define SET_TYPE          "hash:net"

struct table_op {
	mxa_addr addr;
	uint32_t timeout;
	bool add;
};

struct table {
	struct ipset_session *s;
	char set4[IPSET_MAXNAMELEN];
	char set6[IPSET_MAXNAMELEN];
	unsigned v4_prefix;
	unsigned v6_prefix;
	struct table_op *ops;
	size_t n_ops;
	size_t cap_ops;
	char describe[2 * IPSET_MAXNAMELEN + 16];
	char report[512];
};

/* libipset prints only for list/save commands, which we never issue. */
static int quiet_out(struct ipset_session *s, void *p, const char *fmt, ...)
{
	(void)s;
	(void)p;
	(void)fmt;
	return 0;
}

/* libipset's last message, on one line (it may end in a newline or hold several lines). */
static const char *report(struct table *t)
{
	const char *m = ipset_session_report_msg(t->s);
	size_t n = 0;

	if (!m || !*m)
		return "unknown libipset error";
	for (const char *p = m; *p && n < sizeof(t->report) - 1; p++)
		t->report[n++] = *p == '\n' ? ' ' : *p;
	while (n && t->report[n - 1] == ' ')
		n--;
	t->report[n] = 0;
	return t->report;
}

static void report_reset(struct table *t)
{
	ipset_session_report_reset(t->s);
}

/* Creates @name (hash:net, @family, with timeout support) unless it exists; then flushes it. */
static int set_prepare(struct table *t, const char *name, uint8_t family, uint32_t timeout,
                       char *err, size_t errlen)
{
	struct ipset_data *d = ipset_session_data(t->s);
	int r;

	ipset_data_reset(d);
	ipset_data_set(d, IPSET_SETNAME, name);
	if (!ipset_type_get(t->s, IPSET_CMD_ADD)) {
		/* Missing (or unreadable): create it the way the documentation says. */
		report_reset(t);
		ipset_data_reset(d);
		ipset_data_set(d, IPSET_SETNAME, name);
		if (ipset_parse_typename(t->s, IPSET_OPT_TYPENAME, SET_TYPE) < 0 ||
		    ipset_data_set(d, IPSET_OPT_FAMILY, &family) < 0 ||
		    !ipset_type_get(t->s, IPSET_CMD_CREATE) ||
		    ipset_data_set(d, IPSET_OPT_TIMEOUT, &timeout) < 0 ||
		    ipset_cmd(t->s, IPSET_CMD_CREATE, 0) < 0) {
			snprintf(err, errlen, "ipset: cannot create set %s (%s family %s): %s",
			         name, SET_TYPE, family == NFPROTO_IPV4 ? "inet" : "inet6",
			         report(t));
			return -EIO;
		}
	} else if (ipset_data_family(d) != family) {
		snprintf(err, errlen, "ipset: set %s exists with family %s, expected %s", name,
		         ipset_data_family(d) == NFPROTO_IPV4 ? "inet" : "inet6",
		         family == NFPROTO_IPV4 ? "inet" : "inet6");
		return -EINVAL;
	}
	report_reset(t);
	ipset_data_reset(d);
	ipset_data_set(d, IPSET_SETNAME, name);
	r = ipset_cmd(t->s, IPSET_CMD_FLUSH, 0);
	if (r < 0) {
		snprintf(err, errlen, "ipset: cannot flush set %s: %s", name, report(t));
		return -EIO;
	}
	report_reset(t);
	return 0;
}

struct table *table_close(struct table *t, bool clean_exit)
{
	(void)clean_exit; /* entries expire by their own timeout */
	if (t) {
		if (t->s)
			ipset_session_fini(t->s);
		free(t->ops);
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
static int check_timeouts(struct table *t, uint32_t timeout, char *err, size_t errlen)
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
		if (table_add(t, &a, 1) < 0 || table_commit(t, why, sizeof(why)) < 0) {
			snprintf(err, errlen,
			         "ipset: set %s refuses entries with a timeout (%s); recreate it: "
			         "ipset create %s %s family %s timeout %u",
			         set, why, set, SET_TYPE, v6 ? "inet6" : "inet", (unsigned)timeout);
			return -EINVAL;
		}
		if (table_del(t, &a) < 0 || table_commit(t, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "ipset: set %s: %s", set, why);
			return -EIO;
		}
	}
	return 0;
}

struct table *table_open(const struct table_params *p, char *err, size_t errlen)
{
	struct table *t;
	uint32_t timeout = p->default_timeout;

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
	if (timeout == 0 || timeout > IPSET_MAX_TIMEOUT)
		timeout = IPSET_MAX_TIMEOUT;
	ipset_load_types();
	t->s = ipset_session_init(quiet_out, NULL);
	if (!t->s) {
		snprintf(err, errlen, "ipset: cannot open a libipset session");
		return table_close(t, false);
	}
	/* Adding what is there renews its timeout; deleting what expired is fine. */
	ipset_envopt_set(t->s, IPSET_ENV_EXIST);
	if (set_prepare(t, t->set4, NFPROTO_IPV4, timeout, err, errlen) < 0 ||
	    set_prepare(t, t->set6, NFPROTO_IPV6, timeout, err, errlen) < 0 ||
	    check_timeouts(t, timeout, err, errlen) < 0)
		return table_close(t, false);
	return t;
}

static int queue(struct table *t, const mxa_addr *a, uint32_t timeout, bool add)
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

int table_add(struct table *t, const mxa_addr *a, uint32_t timeout)
{
	if (timeout == 0)
		timeout = 1; /* 0 would mean "never expires" */
	if (timeout > IPSET_MAX_TIMEOUT)
		timeout = IPSET_MAX_TIMEOUT;
	return queue(t, a, timeout, true);
}

int table_del(struct table *t, const mxa_addr *a)
{
	return queue(t, a, 0, false);
}

static int one_op(struct table *t, const struct table_op *op, uint32_t lineno)
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

int table_commit(struct table *t, char *err, size_t errlen)
{
	size_t n = t->n_ops;
	int r = 0;

	if (n == 0)
		return 0;
	if (!t->s) {
		t->n_ops = 0;
		snprintf(err, errlen, "ipset: no libipset session");
		return -ENOMEM;
	}
	/* A non-zero line number makes libipset aggregate into one netlink message. */
	for (size_t i = 0; i < n && r == 0; i++)
		r = one_op(t, &t->ops[i], (uint32_t)(i + 1));
	if (r == 0 && ipset_commit(t->s) < 0)
		r = -EIO;
	t->n_ops = 0;
	if (r < 0) {
		snprintf(err, errlen, "ipset: updating %s/%s failed: %s", t->set4, t->set6,
		         report(t));
		report_reset(t);
		/* Drop whatever is left half-built in the session. */
		ipset_session_fini(t->s);
		t->s = ipset_session_init(quiet_out, NULL);
		if (t->s)
			ipset_envopt_set(t->s, IPSET_ENV_EXIST);
		return r;
	}
	report_reset(t);
	return (int)n;
}

const char *table_describe(const struct table *t)
{
	return t->describe;
}
