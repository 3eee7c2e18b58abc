/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Byte layouts for the table-mode tests (test_pflog.c, test_replay.c): IP/TCP
 * packets, the link headers in front of them, and a pcap savefile writer.
 * Every layout is spelled out here so a reader can check it against the
 * system headers named in each comment.
 */
#pragma once

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define FX_SYN 0x02
#define FX_ACK 0x10

/* TCP header, 20 bytes: ports, data offset 5, flags. */
static inline size_t fx_tcp(uint8_t *p, uint16_t sport, uint16_t dport, uint8_t flags)
{
	memset(p, 0, 20);
	p[0] = (uint8_t)(sport >> 8);
	p[1] = (uint8_t)sport;
	p[2] = (uint8_t)(dport >> 8);
	p[3] = (uint8_t)dport;
	p[12] = 5 << 4;
	p[13] = flags;
	p[14] = 0xfa; /* window */
	return 20;
}

/* IPv4 (20 bytes, protocol 6, TTL 64) + TCP; @src/@dst as text. */
static inline size_t fx_ip4(uint8_t *p, const char *src, const char *dst, uint16_t sport,
                            uint16_t dport, uint8_t flags)
{
	uint32_t sum = 0;

	memset(p, 0, 20);
	p[0] = 0x45;
	p[3] = 40; /* total length */
	p[8] = 64;
	p[9] = 6;
	inet_pton(AF_INET, src, p + 12);
	inet_pton(AF_INET, dst, p + 16);
	for (int i = 0; i < 20; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	p[10] = (uint8_t)(~sum >> 8);
	p[11] = (uint8_t)~sum;
	return 20 + fx_tcp(p + 20, sport, dport, flags);
}

/* IPv6 (40 bytes, next header 6, hop limit 64) + TCP. */
static inline size_t fx_ip6(uint8_t *p, const char *src, const char *dst, uint16_t sport,
                            uint16_t dport, uint8_t flags)
{
	memset(p, 0, 40);
	p[0] = 0x60;
	p[5] = 20; /* payload length */
	p[6] = 6;
	p[7] = 64;
	inet_pton(AF_INET6, src, p + 8);
	inet_pton(AF_INET6, dst, p + 24);
	return 40 + fx_tcp(p + 40, sport, dport, flags);
}

static inline size_t fx_ip(uint8_t *p, const char *src, const char *dst, uint16_t sport,
                           uint16_t dport, uint8_t flags)
{
	return strchr(src, ':') ? fx_ip6(p, src, dst, sport, dport, flags)
	                        : fx_ip4(p, src, dst, sport, dport, flags);
}

enum fx_pflog { FX_OPENBSD, FX_FREEBSD };

/* The header's af byte below is the writing system's AF_INET6. */
#if defined(__OpenBSD__)
_Static_assert(AF_INET6 == 24, "OpenBSD AF_INET6");
#elif defined(__FreeBSD__)
_Static_assert(AF_INET6 == 28, "FreeBSD AF_INET6");
#endif

/*
 * struct pfloghdr. OpenBSD (sys/net/if_pflog.h 1.27): length 100, af at 1
 * (AF_INET 2, AF_INET6 24), action 2, reason 3, ifname 4..19, ruleset
 * 20..35, rulenr 36, subrulenr 40, uid 44, pid 48, rule_uid 52, rule_pid 56,
 * dir 60, rewritten 61, naf 62, pad 63, saddr 64..79, daddr 80..95, sport 96,
 * dport 98; the packet at 100. FreeBSD (13.x/14.x): the same up to dir 60,
 * pad 61..63, ridentifier 64, reserve 68; length 69, the packet at 72
 * (AF_INET6 28). Multi-byte fields in host order, as the kernel writes them.
 */
static inline size_t fx_pflog(uint8_t *p, enum fx_pflog layout, uint8_t action, uint8_t dir,
                              const char *src, const char *dst, uint16_t sport, uint16_t dport,
                              uint8_t flags)
{
	bool v6 = strchr(src, ':') != NULL;
	size_t hdr = layout == FX_OPENBSD ? 100 : 72;
	uint32_t rulenr = 3, minus1 = 0xffffffff;

	memset(p, 0, hdr);
	p[0] = layout == FX_OPENBSD ? 100 : 69;
	p[1] = v6 ? (layout == FX_OPENBSD ? 24 : 28) : 2;
	p[2] = action;
	memcpy(p + 4, "em0", 3);
	memcpy(p + 36, &rulenr, 4);
	memcpy(p + 40, &minus1, 4); /* subrulenr: none */
	p[60] = dir;
	if (layout == FX_OPENBSD) {
		/* OpenBSD repeats addresses and ports (network order) in the header. */
		inet_pton(v6 ? AF_INET6 : AF_INET, src, p + 64);
		inet_pton(v6 ? AF_INET6 : AF_INET, dst, p + 80);
		p[96] = (uint8_t)(sport >> 8);
		p[97] = (uint8_t)sport;
		p[98] = (uint8_t)(dport >> 8);
		p[99] = (uint8_t)dport;
		p[62] = p[1]; /* naf */
	}
	return hdr + fx_ip(p + hdr, src, dst, sport, dport, flags);
}

/*
 * DLT_NFLOG (libpcap pcap/nflog.h): nflog_hdr {u8 family (AF_INET 2,
 * AF_INET6 10), u8 version 0, be16 resource id}, then TLVs {u16 length
 * (header included), u16 type} in host order, each padded to 4 bytes:
 * NFULA_PACKET_HDR 1 (be16 hw_protocol, u8 hook, pad), NFULA_PREFIX 10
 * (NUL-terminated), NFULA_PAYLOAD 9 (the IP packet).
 */
static inline size_t fx_tlv(uint8_t *p, uint16_t type, const void *v, size_t n)
{
	uint16_t len = (uint16_t)(4 + n);

	memcpy(p, &len, 2);
	memcpy(p + 2, &type, 2);
	memcpy(p + 4, v, n);
	while (n % 4)
		p[4 + n++] = 0;
	return 4 + n;
}

static inline size_t fx_nflog(uint8_t *p, const char *prefix, const char *src, const char *dst,
                              uint16_t sport, uint16_t dport, uint8_t flags)
{
	bool v6 = strchr(src, ':') != NULL;
	uint8_t ip[80], phdr[4] = {0x08, 0x00, 1 /* NF_INET_LOCAL_IN */, 0};
	size_t off = 4, n;

	p[0] = v6 ? 10 : 2;
	p[1] = 0;
	p[2] = 0;
	p[3] = 5; /* group 5 */
	if (v6)
		phdr[0] = 0x86, phdr[1] = 0xdd;
	off += fx_tlv(p + off, 1, phdr, 4);
	if (prefix)
		off += fx_tlv(p + off, 10, prefix, strlen(prefix) + 1);
	n = fx_ip(ip, src, dst, sport, dport, flags);
	off += fx_tlv(p + off, 9, ip, n);
	return off;
}

/* Ethernet II: dst, src MAC, ethertype (0x0800 / 0x86dd). */
static inline size_t fx_ether(uint8_t *p, const char *src, const char *dst, uint16_t sport,
                              uint16_t dport, uint8_t flags)
{
	bool v6 = strchr(src, ':') != NULL;

	memcpy(p, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01", 12);
	p[12] = v6 ? 0x86 : 0x08;
	p[13] = v6 ? 0xdd : 0x00;
	return 14 + fx_ip(p + 14, src, dst, sport, dport, flags);
}

/* Linux cooked v1: packet type 0 (to us), ARPHRD_ETHER 1, address length 6, address, protocol. */
static inline size_t fx_sll(uint8_t *p, const char *src, const char *dst, uint16_t sport,
                            uint16_t dport, uint8_t flags)
{
	bool v6 = strchr(src, ':') != NULL;

	memset(p, 0, 16);
	p[3] = 1;
	p[5] = 6;
	memcpy(p + 6, "\x02\x00\x00\x00\x00\x01", 6);
	p[14] = v6 ? 0x86 : 0x08;
	p[15] = v6 ? 0xdd : 0x00;
	return 16 + fx_ip(p + 16, src, dst, sport, dport, flags);
}

/* pcap savefile: magic a1b2c3d4 (host order), version 2.4, snaplen 65535, LINKTYPE_*. */
#define FX_LINKTYPE_EN10MB    1
#define FX_LINKTYPE_RAW       101
#define FX_LINKTYPE_LINUX_SLL 113
#define FX_LINKTYPE_PFLOG     117
#define FX_LINKTYPE_NFLOG     239

static inline FILE *fx_pcap_open(const char *path, uint32_t linktype)
{
	uint32_t magic = 0xa1b2c3d4, zero = 0, snaplen = 65535;
	uint16_t major = 2, minor = 4;
	FILE *f = fopen(path, "wb");

	if (!f)
		return NULL;
	fwrite(&magic, 4, 1, f);
	fwrite(&major, 2, 1, f);
	fwrite(&minor, 2, 1, f);
	fwrite(&zero, 4, 1, f);
	fwrite(&zero, 4, 1, f);
	fwrite(&snaplen, 4, 1, f);
	fwrite(&linktype, 4, 1, f);
	return f;
}

/* One record: seconds, microseconds, captured length, original length, bytes. */
static inline void fx_pcap_record(FILE *f, uint32_t sec, uint32_t usec, const uint8_t *p,
                                  size_t caplen, size_t origlen)
{
	uint32_t c = (uint32_t)caplen, o = (uint32_t)origlen;

	fwrite(&sec, 4, 1, f);
	fwrite(&usec, 4, 1, f);
	fwrite(&c, 4, 1, f);
	fwrite(&o, 4, 1, f);
	fwrite(p, 1, caplen, f);
}
