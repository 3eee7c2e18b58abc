/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Stands in for table-nft.c where it cannot be built: table-writer nft says why. */
#include "table-writer.h"

#include <stdio.h>

static struct table_writer *open_unavailable(const struct table_params *p, char *err, size_t errlen)
{
	(void)p;
	snprintf(err, errlen, "%s",
	         "nft: this mxallowd was built without libnftnl (install libnftnl-dev and "
	         "libmnl-dev, rebuild with -Dnft=enabled; or use table-writer ipset)");
	return NULL;
}

const struct table_ops table_nft_ops = {.name = "nft", .open = open_unavailable};
