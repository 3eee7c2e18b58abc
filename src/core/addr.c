/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "addr.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <string.h>

static const uint8_t v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

void addr_from_v4(mxa_addr *a, const void *in4)
{
	memcpy(a->b, v4_mapped_prefix, 12);
	memcpy(a->b + 12, in4, 4);
}

void addr_from_v6(mxa_addr *a, const void *in6)
{
	memcpy(a->b, in6, 16);
}

bool addr_is_v4(const mxa_addr *a)
{
	return memcmp(a->b, v4_mapped_prefix, 12) == 0;
}

const uint8_t *addr_v4_bytes(const mxa_addr *a)
{
	return a->b + 12;
}

int addr_parse(mxa_addr *a, const char *s)
{
	struct in_addr in4;
	struct in6_addr in6;

	if (inet_pton(AF_INET, s, &in4) == 1) {
		addr_from_v4(a, &in4);
		return 0;
	}
	if (inet_pton(AF_INET6, s, &in6) == 1) {
		addr_from_v6(a, &in6);
		return 0;
	}
	return -EINVAL;
}

const char *addr_format(const mxa_addr *a, char *buf)
{
	if (addr_is_v4(a))
		inet_ntop(AF_INET, a->b + 12, buf, ADDR_STRLEN);
	else
		inet_ntop(AF_INET6, a->b, buf, ADDR_STRLEN);
	return buf;
}

void addr_mask(mxa_addr *out, const mxa_addr *in, unsigned v4_prefix, unsigned v6_prefix)
{
	unsigned keep;

	*out = *in;
	if (addr_is_v4(in))
		keep = 96 + (v4_prefix > 32 ? 32 : v4_prefix);
	else
		keep = v6_prefix > 128 ? 128 : v6_prefix;
	for (unsigned i = keep / 8; i < 16; i++) {
		unsigned bits = i * 8 < keep ? keep - i * 8 : 0;
		out->b[i] &= (uint8_t)(bits ? 0xff << (8 - bits) : 0);
	}
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                   \
	do {                                                                                       \
		v0 += v1;                                                                          \
		v1 = ROTL(v1, 13);                                                                 \
		v1 ^= v0;                                                                          \
		v0 = ROTL(v0, 32);                                                                 \
		v2 += v3;                                                                          \
		v3 = ROTL(v3, 16);                                                                 \
		v3 ^= v2;                                                                          \
		v0 += v3;                                                                          \
		v3 = ROTL(v3, 21);                                                                 \
		v3 ^= v0;                                                                          \
		v2 += v1;                                                                          \
		v1 = ROTL(v1, 17);                                                                 \
		v1 ^= v2;                                                                          \
		v2 = ROTL(v2, 32);                                                                 \
	} while (0)

static uint64_t load64_le(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

uint64_t addr_hash(const mxa_addr *a, const uint64_t key[2])
{
	uint64_t v0 = 0x736f6d6570736575ULL ^ key[0];
	uint64_t v1 = 0x646f72616e646f6dULL ^ key[1];
	uint64_t v2 = 0x6c7967656e657261ULL ^ key[0];
	uint64_t v3 = 0x7465646279746573ULL ^ key[1];
	uint64_t m;

	for (int i = 0; i < 16; i += 8) {
		m = load64_le(a->b + i);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	m = (uint64_t)16 << 56;
	v3 ^= m;
	SIPROUND;
	SIPROUND;
	v0 ^= m;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}
