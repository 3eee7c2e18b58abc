/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target: the link-layer parsers of table mode (pflog in both
 * layouts, NFLOG TLVs, raw IP, Ethernet with VLAN tags, Linux cooked). The
 * first input byte picks the link type, the rest is the record.
 */
#include <stddef.h>
#include <stdint.h>

#include "linktype.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct link_record rec;

	if (size < 1)
		return 0;
	(void)link_parse((enum link_kind)(1 + data[0] % 5), data + 1, size - 1, &rec);
	(void)link_prefix_action((const char *)data, size);
	return 0;
}
