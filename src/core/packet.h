/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define TCP_FLAG_FIN 0x01
#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_RST 0x04
#define TCP_FLAG_ACK 0x10

struct packet_info {
	mxa_addr src;
	mxa_addr dst;
	uint16_t sport;
	uint16_t dport;
	uint8_t tcp_flags;
};

enum packet_result {
	PACKET_TCP = 0,      /* @info is filled */
	PACKET_NOT_TCP = 1,  /* a well-formed IP packet carrying something else */
	PACKET_FRAGMENT = 2, /* a non-first fragment: no TCP header to read */
	/*
	 * Source and destination are filled, the transport is unknown: the
	 * packet goes on beyond @len (its headers were cut by the capture), or
	 * its IPv6 extension headers are more than we walk. A firewall rule
	 * that matched TCP port 25 saw the whole packet; we did not.
	 */
	PACKET_TRUNCATED = 3,
};

/**
 * packet_parse_ip() - read addresses, ports and flags of an IPv4 or IPv6
 * packet starting at @p. @len is what was captured; only headers are needed.
 * IPv4 options and IPv6 extension headers are skipped.
 * Returns a packet_result, or -EBADMSG when no addresses can be read, or the
 * packet, wholly captured, contradicts its own lengths.
 */
int packet_parse_ip(const uint8_t *p, size_t len, struct packet_info *info);

/* True for a connection attempt: SYN without ACK (nor RST). */
static inline int packet_is_syn(const struct packet_info *info)
{
	return (info->tcp_flags & (TCP_FLAG_SYN | TCP_FLAG_ACK | TCP_FLAG_RST)) == TCP_FLAG_SYN;
}
