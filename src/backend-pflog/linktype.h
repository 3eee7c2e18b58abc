/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "packet.h"

/*
 * Link types of the records table mode reads, independent of the numbering
 * libpcap uses on each system (DLT_RAW is 12 on Linux, 14 on OpenBSD):
 * capture.c maps pcap_datalink() onto these.
 */
enum link_kind {
	LINK_PFLOG = 1,     /* pf log header, OpenBSD or FreeBSD layout, then IP */
	LINK_NFLOG = 2,     /* Linux NFLOG: family, version, resource id, TLVs */
	LINK_RAW = 3,       /* IP packet, no link header */
	LINK_EN10MB = 4,    /* Ethernet II, optionally 802.1Q/802.1ad tagged */
	LINK_LINUX_SLL = 5, /* Linux "cooked" capture, version 1 */
};

/* How the firewall treated the packet, when the record says so. */
enum link_action {
	LINK_ACTION_UNKNOWN = 0,
	LINK_ACTION_PASS = 1,
	LINK_ACTION_BLOCK = 2,
};

enum link_dir {
	LINK_DIR_UNKNOWN = 0,
	LINK_DIR_IN = 1,
	LINK_DIR_OUT = 2,
};

/* Which pf log header layout a record had. */
enum link_pflog_layout {
	LINK_PFLOG_NONE = 0,    /* not a pflog record */
	LINK_PFLOG_OPENBSD = 1, /* length 100 (OpenBSD >= 4.8) */
	LINK_PFLOG_FREEBSD = 2, /* length 69 (FreeBSD >= 13) */
	LINK_PFLOG_OTHER = 3,   /* another length: only the common fields are read */
};

struct link_record {
	struct packet_info pkt;
	enum link_action action;
	enum link_dir dir;
	enum link_pflog_layout layout;
	uint8_t pf_action; /* raw pf action code (PF_PASS 0, PF_DROP 1, ...) */
};

enum link_result {
	LINK_TCP = 0,  /* @rec->pkt holds a TCP header */
	LINK_SKIP = 1, /* well-formed, but not a TCP segment over IPv4/IPv6 */
};

/* Bytes of the pf log header in front of the IP packet for a header length byte. */
static inline size_t link_pflog_hdrlen(uint8_t length)
{
	return ((size_t)length + 3) & ~(size_t)3;
}

/**
 * link_parse() - read one captured record of link type @kind: the firewall's
 * action and direction where the link header carries them, then the IP and
 * TCP headers. The address family comes from the IP version nibble, never
 * from the link header (AF_INET6 differs between systems).
 * Returns a link_result, or -EBADMSG for a truncated or malformed record.
 */
int link_parse(enum link_kind kind, const uint8_t *p, size_t len, struct link_record *rec);

/**
 * link_prefix_action() - the action an NFLOG prefix names: a word "pass" or
 * "accept" means pass, "block", "drop" or "reject" means block (case does
 * not matter; words are separated by anything but letters and digits).
 */
enum link_action link_prefix_action(const char *prefix, size_t len);

const char *link_kind_name(enum link_kind kind);
const char *link_action_name(enum link_action a);
