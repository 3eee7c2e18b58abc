/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * SYN generator for the benchmarks: TCP SYNs to port 25 in Ethernet frames
 * written to a packet socket (PACKET_QDISC_BYPASS, sendmmsg batches), with
 * source addresses taken from a benchmark prefix (198.18.0.0/15, or the IPv6
 * benchmarking prefix 2001:2::/48 when more than 2^17 distinct sources are
 * needed). Valid IP and TCP checksums, so that conntrack classifies every
 * packet as NEW. Paced to a given rate, or as fast as it can.
 *
 *   synflood -i IFACE -m DST_MAC -d DST_ADDR -p PREFIX/LEN -n COUNT
 *            [-r RATE_PPS] [-o FIRST] [-k SPAN] [-R] [-b BATCH]
 *
 *   sources: host number (FIRST + i) mod SPAN, or a random one of 0..SPAN-1 with -R
 *   (SPAN defaults to the prefix size, capped at 2^32)
 *
 * Refuses destinations and prefixes outside 198.18.0.0/15 and 2001:2::/48.
 * Prints "sent=N seconds=S rate=R" at the end.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_BATCH 256
#define FRAME_MAX 128

struct gen {
	bool v6;
	uint8_t prefix[16];
	unsigned prefix_len;
	uint8_t dst[16];
	uint8_t dst_mac[6], src_mac[6];
	uint64_t first, span;
	bool random;
	uint64_t rng;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng(struct gen *g)
{
	g->rng ^= g->rng << 13;
	g->rng ^= g->rng >> 7;
	g->rng ^= g->rng << 17;
	return g->rng;
}

static uint32_t sum16(const void *p, size_t len, uint32_t s)
{
	const uint8_t *b = p;

	for (size_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (len & 1)
		s += (uint32_t)(b[len - 1] << 8);
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static bool in_bench_range(bool v6, const uint8_t *a, unsigned len)
{
	if (!v6) /* 198.18.0.0/15 */
		return len >= 15 && a[0] == 198 && (a[1] & 0xfe) == 18;
	/* 2001:2::/48 (RFC 5180) */
	return len >= 48 && a[0] == 0x20 && a[1] == 0x01 && a[2] == 0 && a[3] == 2 && a[4] == 0 &&
	       a[5] == 0;
}

/* Source address number @h within the prefix (host bits from the right). */
static void make_src(const struct gen *g, uint8_t *out, uint64_t h)
{
	size_t n = g->v6 ? 16 : 4;

	memcpy(out, g->prefix, n);
	for (size_t i = n; i-- > 0 && h;) {
		out[i] |= (uint8_t)h;
		h >>= 8;
	}
}

/* Writes one frame; returns its length. */
static size_t make_frame(struct gen *g, uint8_t *f, uint64_t host)
{
	uint8_t *ip = f + 14, *tcp;
	uint16_t sport = (uint16_t)(1024 + rng(g) % 60000);
	uint32_t seq = (uint32_t)rng(g), s;
	uint8_t src[16];

	memcpy(f, g->dst_mac, 6);
	memcpy(f + 6, g->src_mac, 6);
	make_src(g, src, host);
	if (!g->v6) {
		f[12] = 0x08, f[13] = 0x00;
		memset(ip, 0, 20);
		ip[0] = 0x45;
		ip[3] = 40;
		ip[6] = 0x40; /* DF */
		ip[8] = 64;
		ip[9] = 6;
		memcpy(ip + 12, src, 4);
		memcpy(ip + 16, g->dst, 4);
		s = fold(sum16(ip, 20, 0));
		ip[10] = (uint8_t)(s >> 8), ip[11] = (uint8_t)s;
		tcp = ip + 20;
	} else {
		f[12] = 0x86, f[13] = 0xdd;
		memset(ip, 0, 40);
		ip[0] = 0x60;
		ip[5] = 20;
		ip[6] = 6;
		ip[7] = 64;
		memcpy(ip + 8, src, 16);
		memcpy(ip + 24, g->dst, 16);
		tcp = ip + 40;
	}
	memset(tcp, 0, 20);
	tcp[0] = (uint8_t)(sport >> 8), tcp[1] = (uint8_t)sport;
	tcp[3] = 25;
	tcp[4] = (uint8_t)(seq >> 24), tcp[5] = (uint8_t)(seq >> 16);
	tcp[6] = (uint8_t)(seq >> 8), tcp[7] = (uint8_t)seq;
	tcp[12] = 5 << 4;
	tcp[13] = 0x02; /* SYN */
	tcp[14] = 0xfa, tcp[15] = 0xf0;
	/* Pseudo-header: addresses, protocol, TCP length. */
	s = g->v6 ? sum16(ip + 8, 32, 0) : sum16(ip + 12, 8, 0);
	s += 6 + 20;
	s = fold(sum16(tcp, 20, s));
	tcp[16] = (uint8_t)(s >> 8), tcp[17] = (uint8_t)s;
	return 14 + (g->v6 ? 40 : 20) + 20;
}

static int parse_mac(uint8_t *mac, const char *s)
{
	unsigned v[6];

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
		return -1;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: synflood -i IFACE -m DST_MAC -d DST_ADDR -p PREFIX/LEN -n COUNT "
	                "[-r RATE] [-o FIRST] [-k SPAN] [-R] [-b BATCH]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static uint8_t frames[MAX_BATCH][FRAME_MAX];
	struct mmsghdr msgs[MAX_BATCH];
	struct iovec iov[MAX_BATCH];
	struct gen g = {.rng = 0x9e3779b97f4a7c15ull};
	struct sockaddr_ll sll = {0};
	struct ifreq ifr = {0};
	const char *ifname = NULL, *dst = NULL, *prefix = NULL, *mac = NULL;
	unsigned long long count = 0, sent = 0;
	double rate = 0, t0, t;
	unsigned batch = 64, host_bits;
	int c, fd, one = 1;
	char pbuf[64], *slash;

	while ((c = getopt(argc, argv, "i:m:d:p:n:r:o:k:Rb:s:")) != -1) {
		switch (c) {
		case 'i':
			ifname = optarg;
			break;
		case 'm':
			mac = optarg;
			break;
		case 'd':
			dst = optarg;
			break;
		case 'p':
			prefix = optarg;
			break;
		case 'n':
			count = strtoull(optarg, NULL, 10);
			break;
		case 'r':
			rate = strtod(optarg, NULL);
			break;
		case 'o':
			g.first = strtoull(optarg, NULL, 10);
			break;
		case 'k':
			g.span = strtoull(optarg, NULL, 10);
			break;
		case 'R':
			g.random = true;
			break;
		case 'b':
			batch = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 's':
			g.rng ^= strtoull(optarg, NULL, 10) * 0x2545f4914f6cdd1dull;
			break;
		default:
			usage();
		}
	}
	if (!ifname || !mac || !dst || !prefix || !count || batch == 0 || batch > MAX_BATCH)
		usage();
	snprintf(pbuf, sizeof(pbuf), "%s", prefix);
	slash = strchr(pbuf, '/');
	if (!slash)
		usage();
	*slash = 0;
	g.prefix_len = (unsigned)strtoul(slash + 1, NULL, 10);
	g.v6 = strchr(pbuf, ':') != NULL;
	if (inet_pton(g.v6 ? AF_INET6 : AF_INET, pbuf, g.prefix) != 1 ||
	    inet_pton(g.v6 ? AF_INET6 : AF_INET, dst, g.dst) != 1 || parse_mac(g.dst_mac, mac) < 0)
		usage();
	if (!in_bench_range(g.v6, g.prefix, g.prefix_len) ||
	    !in_bench_range(g.v6, g.dst, g.v6 ? 48 : 15)) {
		fprintf(stderr, "synflood: only 198.18.0.0/15 and 2001:2::/48 are allowed\n");
		return 2;
	}
	host_bits = (g.v6 ? 128 : 32) - g.prefix_len;
	if (host_bits < 64 && (g.span == 0 || g.span > (1ull << host_bits)))
		g.span = 1ull << host_bits;
	if (g.span == 0 || g.span > (1ull << 32))
		g.span = 1ull << 32;

	fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (fd < 0) {
		perror("synflood: socket");
		return 1;
	}
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0) {
		perror("synflood: interface");
		return 1;
	}
	sll.sll_family = AF_PACKET;
	sll.sll_ifindex = ifr.ifr_ifindex;
	sll.sll_protocol = 0; /* send only */
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
		perror("synflood: hwaddr");
		return 1;
	}
	memcpy(g.src_mac, ifr.ifr_hwaddr.sa_data, 6);
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		perror("synflood: bind");
		return 1;
	}
	(void)setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));

	memset(msgs, 0, sizeof(msgs));
	t0 = now_s();
	while (sent < count) {
		unsigned n = count - sent < batch ? (unsigned)(count - sent) : batch;
		int r;

		for (unsigned i = 0; i < n; i++) {
			uint64_t h = g.random ? rng(&g) % g.span : (g.first + sent + i) % g.span;

			iov[i].iov_base = frames[i];
			iov[i].iov_len = make_frame(&g, frames[i], h);
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
		}
		if (rate > 0) {
			double due = t0 + (double)sent / rate;

			while ((t = now_s()) < due)
				if (due - t > 200e-6) {
					struct timespec ts = {0, (long)((due - t - 100e-6) * 1e9)};

					nanosleep(&ts, NULL);
				}
		}
		r = sendmmsg(fd, msgs, n, 0);
		if (r < 0) {
			if (errno == ENOBUFS || errno == EAGAIN || errno == EINTR)
				continue;
			perror("synflood: sendmmsg");
			return 1;
		}
		sent += (unsigned)r;
	}
	t = now_s() - t0;
	printf("sent=%llu seconds=%.6f rate=%.0f\n", sent, t, (double)sent / t);
	close(fd);
	return 0;
}
