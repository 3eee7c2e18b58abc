/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: the IPv4/IPv6 + TCP parser of the NFQUEUE path and table mode. */
#include <stddef.h>
#include <stdint.h>

#include "packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct packet_info info;

	(void)packet_parse_ip(data, size, &info);
	return 0;
}
