/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Stands in for table-pf.c where it cannot be built: table-writer pf says why. */
#include "table-writer.h"

#include <stdio.h>

static struct table_writer *open_unavailable(const struct table_params *p, char *err, size_t errlen)
{
	(void)p;
	snprintf(err, errlen, "%s",
	         "pf: the pf table writer exists on OpenBSD and FreeBSD only (on Linux: "
	         "table-writer ipset or nft)");
	return NULL;
}

const struct table_ops table_pf_ops = {.name = "pf", .open = open_unavailable};
