/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "packet.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#define IPPROTO_TCP_NUM 6
#define IP6_HOPOPTS     0
#define IP6_ROUTING     43
#define IP6_FRAGMENT    44
#define IP6_AH          51
#define IP6_NONE        59
#define IP6_DSTOPTS     60
#define IP6_MAX_EXT     16 /* more extension headers than this: transport unknown */

/*
 * A header that does not fit in the bytes at hand: the capture cut the
 * packet (@whole false) or the packet contradicts its own length field.
 */
static int short_of(bool whole)
{
	return whole ? -EBADMSG : PACKET_TRUNCATED;
}

static int parse_tcp(const uint8_t *p, size_t len, bool whole, struct packet_info *info)
{
	if (len < 20)
		return short_of(whole);
	if ((p[12] >> 4) < 5)
		return -EBADMSG;
	info->sport = (uint16_t)(p[0] << 8 | p[1]);
	info->dport = (uint16_t)(p[2] << 8 | p[3]);
	info->tcp_flags = p[13];
	return PACKET_TCP;
}

static int parse_v4(const uint8_t *p, size_t len, struct packet_info *info)
{
	size_t ihl, total;
	bool whole;

	if (len < 20)
		return -EBADMSG;
	ihl = (size_t)(p[0] & 0x0f) * 4;
	total = (size_t)(p[2] << 8 | p[3]);
	if (ihl < 20 || total < ihl)
		return -EBADMSG;
	addr_from_v4(&info->src, p + 12);
	addr_from_v4(&info->dst, p + 16);
	if (((p[6] & 0x1f) << 8 | p[7]) != 0)
		return PACKET_FRAGMENT;
	if (p[9] != IPPROTO_TCP_NUM)
		return PACKET_NOT_TCP;
	whole = total <= len;
	if (whole)
		len = total; /* ignore link padding */
	if (ihl > len)
		return short_of(whole);
	return parse_tcp(p + ihl, len - ihl, whole, info);
}

static int parse_v6(const uint8_t *p, size_t len, struct packet_info *info)
{
	size_t off = 40, plen;
	uint8_t next;
	bool whole;

	if (len < 40)
		return -EBADMSG;
	addr_from_v6(&info->src, p + 8);
	addr_from_v6(&info->dst, p + 24);
	/* Payload length 0 is a jumbogram (or a lie): never taken as whole. */
	plen = (size_t)(p[4] << 8 | p[5]);
	whole = plen && 40 + plen <= len;
	if (whole)
		len = 40 + plen;
	next = p[6];
	for (int i = 0; i <= IP6_MAX_EXT; i++) {
		size_t hlen;

		switch (next) {
		case IPPROTO_TCP_NUM:
			return parse_tcp(p + off, len - off, whole, info);
		case IP6_HOPOPTS:
		case IP6_ROUTING:
		case IP6_DSTOPTS:
			if (len - off < 8)
				return short_of(whole);
			hlen = ((size_t)p[off + 1] + 1) * 8;
			break;
		case IP6_AH:
			if (len - off < 8)
				return short_of(whole);
			hlen = ((size_t)p[off + 1] + 2) * 4;
			break;
		case IP6_FRAGMENT:
			if (len - off < 8)
				return short_of(whole);
			if (((p[off + 2] << 8 | p[off + 3]) & 0xfff8) != 0)
				return PACKET_FRAGMENT;
			hlen = 8;
			break;
		default: /* IP6_NONE, UDP, ICMPv6, ESP, ...: no TCP header we can reach */
			return PACKET_NOT_TCP;
		}
		if (hlen > len - off)
			return short_of(whole);
		next = p[off];
		off += hlen;
	}
	/* The kernel walks on; so could an attacker's SYN. Judge it on its addresses. */
	return PACKET_TRUNCATED;
}

int packet_parse_ip(const uint8_t *p, size_t len, struct packet_info *info)
{
	memset(info, 0, sizeof(*info));
	if (!p || len < 1)
		return -EBADMSG;
	switch (p[0] >> 4) {
	case 4:
		return parse_v4(p, len, info);
	case 6:
		return parse_v6(p, len, info);
	default:
		return -EBADMSG;
	}
}
