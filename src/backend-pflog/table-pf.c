/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * OpenBSD / FreeBSD table writer: the pf table (default <mx-white>) in the
 * main ruleset through /dev/pf, DIOCRADDADDRS / DIOCRDELADDRS with one host
 * (or network) entry per address, batched per commit.
 *
 * Written against the system headers, not copies of them: struct pfr_addr
 * differs (OpenBSD adds pfra_ifname, pfra_states, pfra_weight, pfra_type;
 * FreeBSD has only the address, pfra_af, pfra_net, pfra_not, pfra_fback), so
 * only the fields both have are set, after zeroing. Follows OpenBSD 7.x
 * sys/net/pfvar.h and FreeBSD 13.x/14.x sys/net/pfvar.h, where struct
 * pfioc_table and the three ioctls have the same names and meaning.
 * NOT COMPILED OR RUN ON LINUX: reviewed only (see docs/table-mode.md).
 */
#include "table.h"

#include <errno.h>
#include <fcntl.h>
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

#define PF_DEVICE "/dev/pf"

struct table_op {
	struct pfr_addr a;
	bool add;
};

struct table {
	int fd;
	char name[PF_TABLE_NAME_SIZE];
	unsigned v4_prefix;
	unsigned v6_prefix;
	struct table_op *ops;
	size_t n_ops;
	size_t cap_ops;
	struct pfr_addr *batch;
	size_t cap_batch;
	char describe[PF_TABLE_NAME_SIZE + 16];
};

static void io_init(const struct table *t, struct pfioc_table *io)
{
	memset(io, 0, sizeof(*io));
	/* pfrt_anchor empty: the main ruleset. */
	snprintf(io->pfrio_table.pfrt_name, sizeof(io->pfrio_table.pfrt_name), "%s", t->name);
}

/* One line an admin can act on, for the errors pf gives. */
static void explain(const struct table *t, const char *what, int e, char *err, size_t errlen)
{
	switch (e) {
	case ESRCH:
		snprintf(err, errlen,
		         "pf: %s: no table <%s> in the main ruleset: declare `table <%s> persist` "
		         "in pf.conf and reload it (pfctl -f /etc/pf.conf)",
		         what, t->name, t->name);
		break;
	case EPERM:
	case EACCES:
		snprintf(err, errlen,
		         "pf: %s: %s: permission denied (needs root, and /dev/pf writable)", what,
		         PF_DEVICE);
		break;
	case EINVAL:
		snprintf(err, errlen,
		         "pf: %s: invalid argument: the table name '%s' or an address was refused "
		         "(is <%s> a const table?)",
		         what, t->name, t->name);
		break;
	case ENODEV:
	case ENOENT:
	case ENXIO:
		snprintf(err, errlen, "pf: %s: %s: %s (is pf enabled? pfctl -e)", what, PF_DEVICE,
		         strerror(e));
		break;
	default:
		snprintf(err, errlen, "pf: %s: %s", what, strerror(e));
		break;
	}
}

static int clear(struct table *t, char *err, size_t errlen)
{
	struct pfioc_table io;

	io_init(t, &io);
	if (ioctl(t->fd, DIOCRCLRADDRS, &io) < 0) {
		int e = errno;

		explain(t, "flushing the table", e, err, errlen);
		return -e;
	}
	return 0;
}

struct table *table_close(struct table *t, bool clean_exit)
{
	char err[256];

	if (t) {
		/* pf entries never expire by themselves: leave none behind. */
		if (clean_exit && t->fd >= 0)
			(void)clear(t, err, sizeof(err));
		if (t->fd >= 0)
			close(t->fd);
		free(t->ops);
		free(t->batch);
		free(t);
	}
	return NULL;
}

struct table *table_open(const struct table_params *p, char *err, size_t errlen)
{
	struct table *t;

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
	t->fd = open(PF_DEVICE, O_RDWR | O_CLOEXEC);
	if (t->fd < 0) {
		explain(t, "opening " PF_DEVICE, errno, err, errlen);
		return table_close(t, false);
	}
	/* Start in line with the empty whitelist; this also proves the table exists. */
	if (clear(t, err, errlen) < 0)
		return table_close(t, false);
	return t;
}

static int queue(struct table *t, const mxa_addr *a, bool add)
{
	struct table_op *op;

	if (t->n_ops == t->cap_ops) {
		size_t cap = t->cap_ops ? 2 * t->cap_ops : 64;
		struct table_op *v = realloc(t->ops, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		t->ops = v;
		t->cap_ops = cap;
	}
	op = &t->ops[t->n_ops++];
	memset(op, 0, sizeof(*op));
	op->add = add;
	if (addr_is_v4(a)) {
		op->a.pfra_af = AF_INET;
		op->a.pfra_net = (u_int8_t)t->v4_prefix;
		memcpy(&op->a.pfra_ip4addr, addr_v4_bytes(a), 4);
	} else {
		op->a.pfra_af = AF_INET6;
		op->a.pfra_net = (u_int8_t)t->v6_prefix;
		memcpy(&op->a.pfra_ip6addr, a->b, 16);
	}
	return 0;
}

int table_add(struct table *t, const mxa_addr *a, uint32_t timeout)
{
	(void)timeout; /* pf tables have no per-entry timeout: the daemon deletes on expiry */
	return queue(t, a, true);
}

int table_del(struct table *t, const mxa_addr *a)
{
	return queue(t, a, false);
}

/* Sends ops[from, to), all of one kind, in one ioctl. */
static int send_run(struct table *t, size_t from, size_t to, char *err, size_t errlen)
{
	struct pfioc_table io;
	size_t n = to - from;
	bool add = t->ops[from].add;

	if (n > t->cap_batch) {
		struct pfr_addr *v = realloc(t->batch, n * sizeof(*v));

		if (!v) {
			snprintf(err, errlen, "pf: out of memory");
			return -ENOMEM;
		}
		t->batch = v;
		t->cap_batch = n;
	}
	for (size_t i = 0; i < n; i++)
		t->batch[i] = t->ops[from + i].a;
	io_init(t, &io);
	io.pfrio_buffer = t->batch;
	io.pfrio_esize = sizeof(struct pfr_addr);
	io.pfrio_size = (int)n;
	if (ioctl(t->fd, add ? DIOCRADDADDRS : DIOCRDELADDRS, &io) < 0) {
		int e = errno;

		explain(t, add ? "adding addresses" : "deleting addresses", e, err, errlen);
		return -e;
	}
	return 0;
}

int table_commit(struct table *t, char *err, size_t errlen)
{
	size_t n = t->n_ops, from = 0;
	int r = 0;

	/* Runs of the same kind, in order: a delete then a re-add of one address must stay so. */
	for (size_t i = 1; i <= n && r == 0; i++)
		if (i == n || t->ops[i].add != t->ops[from].add) {
			r = send_run(t, from, i, err, errlen);
			from = i;
		}
	t->n_ops = 0;
	return r < 0 ? r : (int)n;
}

const char *table_describe(const struct table *t)
{
	return t->describe;
}
