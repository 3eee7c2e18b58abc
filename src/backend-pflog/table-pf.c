/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * OpenBSD / FreeBSD table writer: the pf table (default <mx-white>) in the
 * main ruleset through /dev/pf, one host (or network) entry per address.
 *
 * Two ways to send changes:
 * - incremental (default): DIOCRADDADDRS / DIOCRDELADDRS, in runs that keep
 *   the queue's order and hold at most 4096 addresses each. pf entries never
 *   expire by themselves, so a tick that expires many entries deletes many;
 *   FreeBSD refuses a whole ioctl above sysctl net.pf.request_maxcount
 *   (default 65535) with EINVAL, so no run goes above it either. A run the
 *   kernel refuses for EINVAL/ENOMEM is retried address by address.
 *   pfw_resync() reads the table back (DIOCRGETADDRS) and sends the
 *   difference with the whitelist.
 * - replace_only: under OpenBSD's pledge("pf") the kernel allows, of the
 *   address ioctls, only DIOCRCLRADDRS and DIOCRSETADDRS (sys/kern/
 *   kern_pledge.c, pledge_ioctl(): neither DIOCRADDADDRS, DIOCRDELADDRS nor
 *   DIOCRGETADDRS). Changes then only mark the table out of step and
 *   pfw_resync() replaces its whole content with the whitelist in one
 *   DIOCRSETADDRS, as spamd does each scan; pflog.c calls it after each
 *   commit that had changes.
 *
 * Table ioctls work whether pf is enabled or not (pfctl -e/-d). Errors are
 * explained by table_util_pf_explain() (table-util.h, unit-tested on Linux).
 *
 * Written against the system headers, not copies of them: struct pfr_addr
 * differs (OpenBSD adds pfra_ifname, pfra_states, pfra_weight, pfra_type;
 * FreeBSD has only the address, pfra_af, pfra_net, pfra_not, pfra_fback), so
 * only the fields both have are set, after zeroing. Follows OpenBSD 7.x
 * sys/net/pfvar.h and FreeBSD 13.x/14.x sys/net/pfvar.h, where struct
 * pfioc_table and the ioctls have the same names and meaning. Compiled on
 * Linux only by tests/unit/test_table_pf.c, against a stand-in header and a
 * fake /dev/pf; on the BSDs not run (see docs/table-mode.md).
 */
#include "table-writer.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The order that works on both systems (as in pfctl, authpf and spamlogd). */
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <net/if.h>
#include <netinet/in.h>
#include <net/pfvar.h>
#ifdef __FreeBSD__
#include <sys/sysctl.h>
#endif

#include "table-util.h"

#define PF_DEVICE "/dev/pf"
#define PF_CHUNK  4096 /* addresses per ioctl: well under FreeBSD's default cap of 65535 */

#ifdef __FreeBSD__
#define PF_FREEBSD true
#else
#define PF_FREEBSD false
#endif

/*
 * The layout this file was reviewed against: the fields it sets, and the
 * size the kernel checks (pfrio_esize) and encodes in the ioctl numbers. A
 * release that changes them must be reviewed again before this compiles.
 */
_Static_assert(sizeof(((struct pfr_addr *)0)->pfra_ip4addr) == 4, "pfra_ip4addr");
_Static_assert(sizeof(((struct pfr_addr *)0)->pfra_ip6addr) == 16, "pfra_ip6addr");
_Static_assert(offsetof(struct pfr_addr, pfra_u) == 0, "pfra_u first");
_Static_assert(sizeof(((struct pfr_addr *)0)->pfra_af) == 1, "pfra_af");
_Static_assert(sizeof(((struct pfr_addr *)0)->pfra_net) == 1, "pfra_net");
_Static_assert(sizeof(((struct pfr_table *)0)->pfrt_name) == PF_TABLE_NAME_SIZE, "pfrt_name");
_Static_assert(offsetof(struct pfioc_table, pfrio_table) == 0, "pfrio_table first");
_Static_assert(sizeof(((struct pfioc_table *)0)->pfrio_esize) == sizeof(int), "pfrio_esize");
_Static_assert(sizeof(((struct pfioc_table *)0)->pfrio_size) == sizeof(int), "pfrio_size");
#if defined(__OpenBSD__) && defined(__amd64__)
/* OpenBSD 7.x: address, pfra_ifname[16], states, weight, af, net, not, fback, type, pad[7]. */
_Static_assert(sizeof(struct pfr_addr) == 52, "OpenBSD struct pfr_addr");
_Static_assert(offsetof(struct pfr_addr, pfra_af) == 38, "OpenBSD pfra_af");
_Static_assert(sizeof(struct pfioc_table) == 1104, "OpenBSD struct pfioc_table");
_Static_assert(offsetof(struct pfioc_table, pfrio_buffer) == 1064, "OpenBSD pfrio_buffer");
#elif defined(__FreeBSD__) && defined(__amd64__)
/* FreeBSD 13/14: address, af, net, not, fback. */
_Static_assert(sizeof(struct pfr_addr) == 20, "FreeBSD struct pfr_addr");
_Static_assert(offsetof(struct pfr_addr, pfra_af) == 16, "FreeBSD pfra_af");
_Static_assert(sizeof(struct pfioc_table) == 1104, "FreeBSD struct pfioc_table");
_Static_assert(offsetof(struct pfioc_table, pfrio_buffer) == 1064, "FreeBSD pfrio_buffer");
#endif

struct table_writer {
	int fd;
	char name[PF_TABLE_NAME_SIZE];
	unsigned v4_prefix;
	unsigned v6_prefix;
	bool replace_only;
	size_t chunk;       /* addresses per ioctl */
	size_t max_request; /* FreeBSD: net.pf.request_maxcount; INT_MAX elsewhere */
	/* The queue: addrs[i] is added when add[i], deleted otherwise. */
	struct pfr_addr *addrs;
	bool *add;
	size_t n_ops;
	size_t cap_ops;
	size_t pending;    /* replace_only: changes since the last replace */
	size_t last_count; /* entries the table held at the last read: the next buffer's size */
	struct table_stats stats;
	char describe[PF_TABLE_NAME_SIZE + 16];
};

static int pfw_add(struct table_writer *t, const mxa_addr *a, uint32_t timeout);
static int pfw_del(struct table_writer *t, const mxa_addr *a);
static int pfw_commit(struct table_writer *t, char *err, size_t errlen);

static void io_init(const struct table_writer *t, struct pfioc_table *io)
{
	memset(io, 0, sizeof(*io));
	/* pfrt_anchor empty: the main ruleset. */
	snprintf(io->pfrio_table.pfrt_name, sizeof(io->pfrio_table.pfrt_name), "%s", t->name);
}

static void explain(const struct table_writer *t, enum table_util_pf_op op, int e, char *err,
                    size_t errlen)
{
	table_util_pf_explain(t->name, op, e, PF_FREEBSD, err, errlen);
}

/* One ioctl on @n addresses of @buf; 0 or a negative errno. */
static int addr_ioctl(struct table_writer *t, unsigned long cmd, struct pfr_addr *buf, size_t n,
                      struct pfioc_table *io)
{
	io_init(t, io);
	io->pfrio_buffer = buf;
	io->pfrio_esize = sizeof(struct pfr_addr);
	io->pfrio_size = (int)n;
	return ioctl(t->fd, cmd, io) < 0 ? -errno : 0;
}

static int clear(struct table_writer *t, char *err, size_t errlen)
{
	struct pfioc_table io;

	io_init(t, &io);
	if (ioctl(t->fd, DIOCRCLRADDRS, &io) < 0) {
		int e = errno;

		explain(t, TABLE_UTIL_PF_CLEAR, e, err, errlen);
		return -e;
	}
	return 0;
}

/* FreeBSD caps the addresses of one ioctl; the others do not. */
static size_t max_request(void)
{
#ifdef __FreeBSD__
	u_long v = 0;
	size_t len = sizeof(v);

	if (sysctlbyname("net.pf.request_maxcount", &v, &len, NULL, 0) == 0 && len == sizeof(v) &&
	    v > 0)
		return v > INT_MAX ? INT_MAX : (size_t)v;
	return 65535; /* the default */
#else
	return INT_MAX; /* pfrio_size is an int */
#endif
}

static struct table_writer *pfw_close(struct table_writer *t, bool clean_exit)
{
	char err[256];

	if (t) {
		/* pf entries never expire by themselves: leave none behind. */
		if (clean_exit && t->fd >= 0)
			(void)clear(t, err, sizeof(err));
		if (t->fd >= 0)
			close(t->fd);
		free(t->addrs);
		free(t->add);
		free(t);
	}
	return NULL;
}

static struct table_writer *pfw_open(const struct table_params *p, char *err, size_t errlen)
{
	struct table_writer *t;

	if (!p->pf_table || !*p->pf_table || strlen(p->pf_table) >= PF_TABLE_NAME_SIZE) {
		snprintf(err, errlen, "pf: table names have 1 to %d characters",
		         PF_TABLE_NAME_SIZE - 1);
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(err, errlen, "pf: out of memory");
		return NULL;
	}
	snprintf(t->name, sizeof(t->name), "%s", p->pf_table);
	snprintf(t->describe, sizeof(t->describe), "pf:<%s>", t->name);
	t->v4_prefix = p->v4_prefix;
	t->v6_prefix = p->v6_prefix;
	t->replace_only = p->replace_only;
	t->max_request = max_request();
	t->chunk = PF_CHUNK < t->max_request ? PF_CHUNK : t->max_request;
	t->fd = open(PF_DEVICE, O_RDWR | O_CLOEXEC);
	if (t->fd < 0) {
		explain(t, TABLE_UTIL_PF_OPEN, errno, err, errlen);
		return pfw_close(t, false);
	}
	/* Start in line with the empty whitelist; this also proves the table exists. */
	if (clear(t, err, errlen) < 0)
		return pfw_close(t, false);
	return t;
}

static void to_pfr(const struct table_writer *t, const mxa_addr *a, struct pfr_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (addr_is_v4(a)) {
		out->pfra_af = AF_INET;
		out->pfra_net = (u_int8_t)t->v4_prefix;
		memcpy(&out->pfra_ip4addr, addr_v4_bytes(a), 4);
	} else {
		out->pfra_af = AF_INET6;
		out->pfra_net = (u_int8_t)t->v6_prefix;
		memcpy(&out->pfra_ip6addr, a->b, 16);
	}
}

/* The kernel's entry as mxallowd's; false for what mxallowd never writes (negations, others). */
static bool from_pfr(const struct pfr_addr *in, struct table_util_entry *out)
{
	memset(out, 0, sizeof(*out));
	if (in->pfra_not)
		return false;
	out->prefix = in->pfra_net;
	if (in->pfra_af == AF_INET) {
		addr_from_v4(&out->addr, &in->pfra_ip4addr);
		return in->pfra_net <= 32;
	}
	if (in->pfra_af == AF_INET6) {
		addr_from_v6(&out->addr, &in->pfra_ip6addr);
		return in->pfra_net <= 128;
	}
	return false;
}

static int queue(struct table_writer *t, const mxa_addr *a, bool add)
{
	if (t->replace_only) {
		t->pending++; /* sent as part of the next whole-table replace */
		return 0;
	}
	if (t->n_ops == t->cap_ops) {
		size_t cap = t->cap_ops ? 2 * t->cap_ops : 64;
		struct pfr_addr *v = realloc(t->addrs, cap * sizeof(*v));
		bool *k;

		if (!v)
			return -ENOMEM;
		t->addrs = v;
		k = realloc(t->add, cap * sizeof(*k));
		if (!k)
			return -ENOMEM;
		t->add = k;
		t->cap_ops = cap;
	}
	to_pfr(t, a, &t->addrs[t->n_ops]);
	t->add[t->n_ops++] = add;
	return 0;
}

static int pfw_add(struct table_writer *t, const mxa_addr *a, uint32_t timeout)
{
	(void)timeout; /* pf tables have no per-entry timeout: the daemon deletes on expiry */
	return queue(t, a, true);
}

static int pfw_del(struct table_writer *t, const mxa_addr *a)
{
	return queue(t, a, false);
}

/*
 * Sends queue entries [from, to), all of one kind, in one ioctl; when the
 * kernel refuses it for a reason that may concern only some addresses, one
 * by one. Returns how many were refused; the first error goes to @first.
 */
static size_t send_run(struct table_writer *t, size_t from, size_t to, int *first, char *err,
                       size_t errlen)
{
	struct pfioc_table io;
	bool add = t->add[from];
	unsigned long cmd = add ? DIOCRADDADDRS : DIOCRDELADDRS;
	enum table_util_pf_op op = add ? TABLE_UTIL_PF_ADD : TABLE_UTIL_PF_DEL;
	size_t refused = 0;
	int r = addr_ioctl(t, cmd, &t->addrs[from], to - from, &io);

	if (r == 0)
		return 0;
	if (to - from > 1 && table_util_pf_retry_singly(-r)) {
		for (size_t i = from; i < to; i++) {
			int e = addr_ioctl(t, cmd, &t->addrs[i], 1, &io);

			if (e == 0)
				continue;
			if (refused++ == 0 && !*first) {
				*first = e;
				explain(t, op, -e, err, errlen);
			}
		}
		return refused;
	}
	if (!*first) {
		*first = r;
		explain(t, op, -r, err, errlen);
	}
	return to - from;
}

static int pfw_commit(struct table_writer *t, char *err, size_t errlen)
{
	size_t n = t->n_ops, refused = 0;
	int first = 0;

	/*
	 * Runs of one kind, in order. A run that fails does not stop the next:
	 * each address ends as its last change says or, if that change was
	 * refused, is corrected by the next resync.
	 */
	for (size_t from = 0; from < n;) {
		size_t end = table_util_run_end(t->add, n, from, t->chunk);

		refused += send_run(t, from, end, &first, err, errlen);
		from = end;
	}
	t->n_ops = 0;
	if (refused) {
		char why[384];

		t->stats.refused += refused;
		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, errlen, "%s (%zu of %zu changes refused)", why, refused, n);
		return first;
	}
	return (int)n;
}

/* Reads the table into @have. -E2BIG when it is too big for one ioctl (FreeBSD). */
static int read_table(struct table_writer *t, size_t hint, struct table_util_vec *have, char *err,
                      size_t errlen)
{
	struct pfioc_table io;
	struct pfr_addr *buf = NULL;
	size_t cap = hint + 1024;
	int r = 0;

	for (int tries = 0; tries < 4; tries++) {
		struct pfr_addr *v;

		if (cap > t->max_request)
			cap = t->max_request;
		v = realloc(buf, cap * sizeof(*v));
		if (!v) {
			r = -ENOMEM;
			snprintf(err, errlen, "pf: out of memory");
			break;
		}
		buf = v;
		memset(buf, 0, cap * sizeof(*buf));
		r = addr_ioctl(t, DIOCRGETADDRS, buf, cap, &io);
		if (r < 0) {
			explain(t, TABLE_UTIL_PF_GET, -r, err, errlen);
			break;
		}
		if ((size_t)io.pfrio_size <= cap) {
			/* The count is what the kernel copied out. */
			for (int i = 0; i < io.pfrio_size && r == 0; i++) {
				struct table_util_entry e;

				if (from_pfr(&buf[i], &e))
					r = table_util_vec_push(have, &e.addr, e.prefix, 0);
			}
			if (r < 0)
				snprintf(err, errlen, "pf: out of memory");
			free(buf);
			return r;
		}
		/* It grew meanwhile (or the hint was low): ask again with room to spare. */
		if (cap == t->max_request) {
			r = -E2BIG;
			break;
		}
		cap = (size_t)io.pfrio_size + 1024;
	}
	free(buf);
	return r ? r : -EAGAIN;
}

struct resync {
	struct table_writer *t;
	struct table_util_vec want;
	int error;
};

static int resync_put(void *ctx, const mxa_addr *a, uint32_t timeout)
{
	struct resync *rs = ctx;
	bool is4 = addr_is_v4(a);

	if (table_util_vec_push(&rs->want, a, (uint8_t)(is4 ? rs->t->v4_prefix : rs->t->v6_prefix),
	                        timeout) < 0) {
		rs->error = -ENOMEM;
		return -ENOMEM;
	}
	return 0;
}

static int resync_change(void *ctx, enum table_util_change c, const struct table_util_entry *e)
{
	struct resync *rs = ctx;

	return queue(rs->t, &e->addr, c != TABLE_UTIL_DEL);
}

/* replace_only: the whole table in one DIOCRSETADDRS (it cannot be cut in runs). */
static long replace(struct table_writer *t, const struct table_util_vec *want, char *err,
                    size_t errlen)
{
	struct pfioc_table io;
	struct pfr_addr *buf;
	long changed;
	int r;

	if (want->n == 0) {
		/* Nothing to replace with: the flush says the same without an empty buffer. */
		io_init(t, &io);
		if (ioctl(t->fd, DIOCRCLRADDRS, &io) < 0) {
			r = errno;
			explain(t, TABLE_UTIL_PF_CLEAR, r, err, errlen);
			return -r;
		}
		changed = io.pfrio_ndel > (int)t->pending ? io.pfrio_ndel - (long)t->pending : 0;
		t->pending = 0;
		return changed;
	}
	if (want->n > t->max_request) {
		explain(t, TABLE_UTIL_PF_SET, EINVAL, err, errlen);
		return -EINVAL;
	}
	buf = calloc(want->n, sizeof(*buf));
	if (!buf) {
		snprintf(err, errlen, "pf: out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < want->n; i++)
		to_pfr(t, &want->v[i].addr, &buf[i]);
	r = addr_ioctl(t, DIOCRSETADDRS, buf, want->n, &io);
	free(buf);
	if (r < 0) {
		explain(t, TABLE_UTIL_PF_SET, -r, err, errlen);
		return r;
	}
	/* Of what the kernel changed, the changes queued since the last replace were expected. */
	changed = (long)io.pfrio_nadd + io.pfrio_ndel + io.pfrio_nchange;
	changed = changed > (long)t->pending ? changed - (long)t->pending : 0;
	t->pending = 0;
	return changed;
}

static int pfw_resync(struct table_writer *t, table_entries_fn entries, void *ctx, char *err,
                      size_t errlen)
{
	struct table_util_vec have = {0};
	struct resync rs = {.t = t};
	bool read_ok = false;
	long fixes = 0;
	int r = 0;

	if (!t->replace_only) {
		/* What is queued first, so that the table read back is current (refusals are
		 * corrected below). */
		if (t->n_ops)
			(void)pfw_commit(t, err, errlen);
		r = read_table(t, t->last_count, &have, err, errlen);
		if (r == 0)
			read_ok = true;
		else if (r == -E2BIG)
			r = 0; /* above FreeBSD's cap: add what is missing, strays stay */
		t->last_count = have.n;
	}
	if (r == 0) {
		r = entries(ctx, resync_put, &rs);
		if (rs.error)
			r = rs.error;
		if (r) {
			r = r < 0 ? r : -EIO;
			snprintf(err, errlen, "pf: resync: reading the whitelist failed: %s",
			         strerror(-r));
		}
	}
	if (r == 0) {
		rs.want.n = table_util_sort_unique(rs.want.v, rs.want.n);
		if (t->replace_only) {
			fixes = replace(t, &rs.want, err, errlen);
		} else if (read_ok) {
			have.n = table_util_sort_unique(have.v, have.n);
			fixes = table_util_diff(have.v, have.n, rs.want.v, rs.want.n, UINT32_MAX,
			                        resync_change, &rs);
		} else {
			for (size_t i = 0; i < rs.want.n && fixes >= 0; i++)
				fixes = queue(t, &rs.want.v[i].addr, true) < 0 ? -ENOMEM : 0;
		}
		if (fixes < 0) {
			if (fixes == -ENOMEM)
				snprintf(err, errlen, "pf: out of memory");
			r = (int)fixes;
		}
	}
	table_util_vec_free(&have);
	table_util_vec_free(&rs.want);
	if (r == 0 && t->n_ops) {
		int c = pfw_commit(t, err, errlen);

		if (c < 0)
			r = c;
	}
	t->n_ops = 0;
	if (r < 0)
		return r;
	t->stats.resyncs++;
	t->stats.healed += (uint64_t)fixes;
	return (int)fixes;
}

/* ---- the allow lists: table <mx-static> ---- */

#define STATIC_TABLE "mx-static"

/* The whole table <mx-static> replaced by the networks of @ns in one DIOCRSETADDRS. */
static int pfw_set_static(struct table_writer *t, const struct netset *ns, char *err, size_t errlen)
{
	size_t count = netset_count(ns);
	struct pfioc_table io;
	struct pfr_addr *buf = NULL;
	int r = 0;

	memset(&io, 0, sizeof(io));
	snprintf(io.pfrio_table.pfrt_name, sizeof(io.pfrio_table.pfrt_name), "%s", STATIC_TABLE);
	if (count == 0) {
		if (ioctl(t->fd, DIOCRCLRADDRS, &io) < 0 && errno != ESRCH)
			r = -errno;
	} else if (count > t->max_request) {
		r = -EINVAL;
	} else {
		buf = calloc(count, sizeof(*buf));
		if (!buf) {
			snprintf(err, errlen, "pf: allow lists: out of memory");
			return -ENOMEM;
		}
		for (size_t i = 0; i < count; i++) {
			const struct netset_net *n = netset_get(ns, i);

			buf[i].pfra_net = n->prefix;
			if (addr_is_v4(&n->addr)) {
				buf[i].pfra_af = AF_INET;
				memcpy(&buf[i].pfra_ip4addr, addr_v4_bytes(&n->addr), 4);
			} else {
				buf[i].pfra_af = AF_INET6;
				memcpy(&buf[i].pfra_ip6addr, n->addr.b, 16);
			}
		}
		io.pfrio_buffer = buf;
		io.pfrio_esize = sizeof(struct pfr_addr);
		io.pfrio_size = (int)count;
		if (ioctl(t->fd, DIOCRSETADDRS, &io) < 0)
			r = -errno;
		free(buf);
	}
	if (r < 0) {
		table_util_pf_explain(STATIC_TABLE, TABLE_UTIL_PF_SET, -r, PF_FREEBSD, err, errlen);
		return r;
	}
	return (int)count;
}

static bool pfw_resync_needed(const struct table_writer *t)
{
	return t->replace_only && t->pending > 0;
}

static const struct table_stats *pfw_stats(const struct table_writer *t)
{
	return &t->stats;
}

static const char *pfw_describe(const struct table_writer *t)
{
	return t->describe;
}

const struct table_ops table_pf_ops = {
    .name = "pf",
    .open = pfw_open,
    .close = pfw_close,
    .add = pfw_add,
    .del = pfw_del,
    .commit = pfw_commit,
    .resync = pfw_resync,
    .resync_needed = pfw_resync_needed,
    .stats = pfw_stats,
    .describe = pfw_describe,
    .set_static = pfw_set_static,
};
