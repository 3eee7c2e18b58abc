/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Stands in for table-ipset.c where it cannot be built: table-writer ipset says why. */
#include "table-writer.h"

#include <stdio.h>

static struct table_writer *open_unavailable(const struct table_params *p, char *err, size_t errlen)
{
	(void)p;
	snprintf(err, errlen, "%s",
	         "ipset: this mxallowd was built without libipset (install libipset-dev and "
	         "rebuild; or use table-writer nft)");
	return NULL;
}

const struct table_ops table_ipset_ops = {.name = "ipset", .open = open_unavailable};
