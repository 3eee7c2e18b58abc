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

const char *table_describe(const struct table *t)
{
	(void)t;
	return "none";
}
