/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Stands in for table-ipset.c / table-pf.c where neither can be built. */
#include "table.h"

#include <errno.h>
#include <stdio.h>

struct table *table_open(const struct table_params *p, char *err, size_t errlen)
{
	(void)p;
	snprintf(err, errlen,
	         "table: this mxallowd was built without a kernel table writer (ipset on Linux, "
	         "pf on OpenBSD/FreeBSD)");
	return NULL;
}

struct table *table_close(struct table *t, bool clean_exit)
{
	(void)t;
	(void)clean_exit;
	return NULL;
}

int table_add(struct table *t, const mxa_addr *a, uint32_t timeout)
{
	(void)t;
	(void)a;
	(void)timeout;
	return -ENOTSUP;
}

int table_del(struct table *t, const mxa_addr *a)
{
	(void)t;
	(void)a;
	return -ENOTSUP;
}

int table_commit(struct table *t, char *err, size_t errlen)
{
	(void)t;
	snprintf(err, errlen, "table: not supported in this build");
	return -ENOTSUP;
}

int table_resync(struct table *t, table_entries_fn entries, void *ctx, char *err, size_t errlen)
{
	(void)t;
	(void)entries;
	(void)ctx;
	snprintf(err, errlen, "table: not supported in this build");
	return -ENOTSUP;
}

bool table_resync_needed(const struct table *t)
{
	(void)t;
	return false;
}

const struct table_stats *table_stats(const struct table *t)
{
	static const struct table_stats none;

	(void)t;
	return &none;
}

const char *table_describe(const struct table *t)
{
	(void)t;
	return "none";
}
