/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Link-layer headers of the records table mode reads. Everything is checked
 * against the captured length: records come from the kernel or from files
 * of unknown origin and are never trusted.
 */
#include "linktype.h"

#if defined(__OpenBSD__) || defined(__FreeBSD__)
/* The system's own struct pfloghdr and pf enums, only to check the constants below. */
#include <sys/types.h>
#include <sys/socket.h>
#include <net/if.h>
#include <netinet/in.h>
#include <net/pfvar.h>
#include <net/if_pflog.h>
#endif

#include <ctype.h>
#include <stdbool.h>
#include <stddef.h>
#include <errno.h>
#include <string.h>

/*
 * struct pfloghdr, the fields both systems share (OpenBSD sys/net/if_pflog.h
 * 1.27, FreeBSD sys/net/if_pflog.h of 13.x/14.x): length 0, af 1, action 2,
 * reason 3, ifname 4..19, ruleset 20..35, rulenr, subrulenr, uid, pid,
 * rule_uid, rule_pid 36..59, dir 60. OpenBSD's header then has rewritten,
 * naf, pad, saddr, daddr, sport, dport (length 100); FreeBSD's has pad[3],
 * ridentifier, reserve (length 69, padded to 72). The packet follows the
 * header rounded up to 4 bytes on both.
 */
#define PFLOG_OFF_AF       1
#define PFLOG_OFF_ACTION   2
#define PFLOG_OFF_RULENR   36
#define PFLOG_OFF_DIR      60
#define PFLOG_MIN_LENGTH   61
#define PFLOG_LEN_OPENBSD  100
#define PFLOG_LEN_FREEBSD  69
#define PF_ACTION_PASS     0
#define PF_ACTION_DROP     1
#define PF_ACTION_SYNPROXY 10 /* PF_SYNPROXY_DROP on both systems */
#define PF_DIR_IN          1
#define PF_DIR_OUT         2

/* The parser reads the direction byte, so the header must reach it; the packet is 4-aligned. */
_Static_assert(PFLOG_MIN_LENGTH == PFLOG_OFF_DIR + 1, "pflog: minimum length ends at dir");
_Static_assert(((PFLOG_LEN_OPENBSD + 3) & ~3) == 100, "pflog: OpenBSD packet offset");
_Static_assert(((PFLOG_LEN_FREEBSD + 3) & ~3) == 72, "pflog: FreeBSD packet offset");

/*
 * Built on a BSD, the numbers above must be the system's own: a layout change
 * in a new release stops the build instead of misreading records. (On Linux
 * there is no struct pfloghdr; the constants stand alone.)
 */
#if defined(__OpenBSD__) || defined(__FreeBSD__)
_Static_assert(offsetof(struct pfloghdr, length) == 0, "pfloghdr.length offset");
_Static_assert(offsetof(struct pfloghdr, af) == PFLOG_OFF_AF, "pfloghdr.af offset");
_Static_assert(offsetof(struct pfloghdr, action) == PFLOG_OFF_ACTION, "pfloghdr.action offset");
_Static_assert(offsetof(struct pfloghdr, rulenr) == PFLOG_OFF_RULENR, "pfloghdr.rulenr offset");
_Static_assert(offsetof(struct pfloghdr, dir) == PFLOG_OFF_DIR, "pfloghdr.dir offset");
_Static_assert(PF_PASS == PF_ACTION_PASS && PF_DROP == PF_ACTION_DROP, "pf action codes");
_Static_assert(PF_SYNPROXY_DROP == PF_ACTION_SYNPROXY, "pf action code PF_SYNPROXY_DROP");
_Static_assert(PF_IN == PF_DIR_IN && PF_OUT == PF_DIR_OUT, "pf direction codes");
#endif
#if defined(__OpenBSD__)
_Static_assert(PFLOG_HDRLEN == PFLOG_LEN_OPENBSD, "OpenBSD pfloghdr length");
#elif defined(__FreeBSD__)
/* The length byte says 69 (PFLOG_REAL_HDRLEN); the packet starts at PFLOG_HDRLEN. */
_Static_assert(PFLOG_REAL_HDRLEN == PFLOG_LEN_FREEBSD, "FreeBSD pfloghdr length");
_Static_assert(PFLOG_HDRLEN == ((PFLOG_LEN_FREEBSD + 3) & ~3), "FreeBSD pfloghdr padded length");
#endif

/* Linux NFLOG (include/uapi/linux/netfilter/nfnetlink_log.h, libpcap's DLT_NFLOG). */
#define NFLOG_HDRLEN     4
#define NFLOG_TLV_HDRLEN 4
#define NFULA_PAYLOAD    9
#define NFULA_PREFIX     10
#define NFLOG_MAX_TLVS   64 /* more attributes than this: hostile */

#define ETH_HDRLEN    14
#define ETH_P_IP      0x0800
#define ETH_P_IPV6    0x86dd
#define ETH_P_8021Q   0x8100
#define ETH_P_8021AD  0x88a8
#define ETH_MAX_TAGS  2
#define SLL_HDRLEN    16
#define SLL_OFF_PROTO 14

static uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* NFLOG TLV headers are in the byte order of the capturing host (libpcap swaps savefiles). */
static uint16_t get_host16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static int parse_ip(const uint8_t *p, size_t len, struct link_record *rec)
{
	int r = packet_parse_ip(p, len, &rec->pkt);

	if (r < 0)
		return r;
	/* A record cut before its TCP header: the kernel already decided by address; count it
	 * as malformed rather than guess whether it was a SYN to port 25. */
	if (r == PACKET_TRUNCATED)
		return -EBADMSG;
	return r == PACKET_TCP ? LINK_TCP : LINK_SKIP;
}

static int parse_pflog(const uint8_t *p, size_t len, struct link_record *rec)
{
	size_t hdrlen;

	if (len < 1 || p[0] < PFLOG_MIN_LENGTH)
		return -EBADMSG;
	hdrlen = link_pflog_hdrlen(p[0]);
	if (len < hdrlen)
		return -EBADMSG;
	rec->layout = p[0] == PFLOG_LEN_OPENBSD   ? LINK_PFLOG_OPENBSD
	              : p[0] == PFLOG_LEN_FREEBSD ? LINK_PFLOG_FREEBSD
	                                          : LINK_PFLOG_OTHER;
	rec->pf_action = p[PFLOG_OFF_ACTION];
	switch (rec->pf_action) {
	case PF_ACTION_PASS:
		rec->action = LINK_ACTION_PASS;
		break;
	case PF_ACTION_DROP:
	case PF_ACTION_SYNPROXY:
		rec->action = LINK_ACTION_BLOCK;
		break;
	default: /* match, scrub, nat, ...: not a verdict */
		rec->action = LINK_ACTION_UNKNOWN;
		break;
	}
	rec->dir = p[PFLOG_OFF_DIR] == PF_DIR_IN    ? LINK_DIR_IN
	           : p[PFLOG_OFF_DIR] == PF_DIR_OUT ? LINK_DIR_OUT
	                                            : LINK_DIR_UNKNOWN;
	return parse_ip(p + hdrlen, len - hdrlen, rec);
}

static bool word_is(const char *w, size_t n, const char *name)
{
	size_t m = strlen(name);

	if (n != m)
		return false;
	for (size_t i = 0; i < n; i++)
		if (tolower((unsigned char)w[i]) != name[i])
			return false;
	return true;
}

enum link_action link_prefix_action(const char *prefix, size_t len)
{
	static const char *const pass[] = {"pass", "accept"};
	static const char *const block[] = {"block", "drop", "reject"};
	size_t i = 0;

	while (i < len && prefix[i]) {
		size_t start;

		while (i < len && prefix[i] && !isalnum((unsigned char)prefix[i]))
			i++;
		start = i;
		while (i < len && isalnum((unsigned char)prefix[i]))
			i++;
		for (size_t k = 0; k < sizeof(block) / sizeof(block[0]); k++)
			if (word_is(prefix + start, i - start, block[k]))
				return LINK_ACTION_BLOCK;
		for (size_t k = 0; k < sizeof(pass) / sizeof(pass[0]); k++)
			if (word_is(prefix + start, i - start, pass[k]))
				return LINK_ACTION_PASS;
	}
	return LINK_ACTION_UNKNOWN;
}

static int parse_nflog(const uint8_t *p, size_t len, struct link_record *rec)
{
	const uint8_t *payload = NULL;
	size_t payload_len = 0, off = NFLOG_HDRLEN;
	int n = 0;

	if (len < NFLOG_HDRLEN || p[1] != 0) /* version 0 is the only one */
		return -EBADMSG;
	while (len - off >= NFLOG_TLV_HDRLEN) {
		size_t tlen = get_host16(p + off);
		uint16_t type = get_host16(p + off + 2) & 0x7fff; /* without NLA_F_NESTED */

		if (++n > NFLOG_MAX_TLVS || tlen < NFLOG_TLV_HDRLEN)
			return -EBADMSG;
		if (tlen > len - off) {
			/* The snapshot length may cut the payload; its headers can still be whole.
			 */
			if (type != NFULA_PAYLOAD)
				return -EBADMSG;
			tlen = len - off;
		}
		if (type == NFULA_PAYLOAD) {
			payload = p + off + NFLOG_TLV_HDRLEN;
			payload_len = tlen - NFLOG_TLV_HDRLEN;
		} else if (type == NFULA_PREFIX) {
			rec->action = link_prefix_action((const char *)p + off + NFLOG_TLV_HDRLEN,
			                                 tlen - NFLOG_TLV_HDRLEN);
		}
		tlen = (tlen + 3) & ~(size_t)3;
		if (tlen >= len - off)
			break;
		off += tlen;
	}
	if (!payload)
		return -EBADMSG;
	/* NFLOG on INPUT logs what arrives: an inbound record. */
	rec->dir = LINK_DIR_IN;
	return parse_ip(payload, payload_len, rec);
}

static int parse_ether(const uint8_t *p, size_t len, struct link_record *rec)
{
	size_t off = ETH_HDRLEN - 2;
	uint16_t type;

	for (int tags = 0;; tags++) {
		if (len < off + 2)
			return -EBADMSG;
		type = get_be16(p + off);
		off += 2;
		if (type != ETH_P_8021Q && type != ETH_P_8021AD)
			break;
		if (tags == ETH_MAX_TAGS)
			return LINK_SKIP;
		off += 2; /* the tag's control information; its type field follows */
	}
	if (type != ETH_P_IP && type != ETH_P_IPV6)
		return LINK_SKIP;
	return parse_ip(p + off, len - off, rec);
}

static int parse_sll(const uint8_t *p, size_t len, struct link_record *rec)
{
	uint16_t type;

	if (len < SLL_HDRLEN)
		return -EBADMSG;
	type = get_be16(p + SLL_OFF_PROTO);
	if (type != ETH_P_IP && type != ETH_P_IPV6)
		return LINK_SKIP;
	return parse_ip(p + SLL_HDRLEN, len - SLL_HDRLEN, rec);
}

int link_parse(enum link_kind kind, const uint8_t *p, size_t len, struct link_record *rec)
{
	memset(rec, 0, sizeof(*rec));
	if (!p)
		return -EBADMSG;
	switch (kind) {
	case LINK_PFLOG:
		return parse_pflog(p, len, rec);
	case LINK_NFLOG:
		return parse_nflog(p, len, rec);
	case LINK_RAW:
		return parse_ip(p, len, rec);
	case LINK_EN10MB:
		return parse_ether(p, len, rec);
	case LINK_LINUX_SLL:
		return parse_sll(p, len, rec);
	}
	return -EINVAL;
}

const char *link_kind_name(enum link_kind kind)
{
	switch (kind) {
	case LINK_PFLOG:
		return "pflog";
	case LINK_NFLOG:
		return "nflog";
	case LINK_RAW:
		return "raw";
	case LINK_EN10MB:
		return "ethernet";
	case LINK_LINUX_SLL:
		return "linux-sll";
	}
	return "unknown";
}

const char *link_action_name(enum link_action a)
{
	switch (a) {
	case LINK_ACTION_PASS:
		return "pass";
	case LINK_ACTION_BLOCK:
		return "block";
	case LINK_ACTION_UNKNOWN:
		break;
	}
	return "unknown";
}
