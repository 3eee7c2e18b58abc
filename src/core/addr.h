/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * One binary address type for IPv4 and IPv6: IPv4 is stored v4-mapped
 * (::ffff:a.b.c.d), so every address is 16 bytes and compares with memcmp.
 */
typedef struct mxa_addr {
	uint8_t b[16];
} mxa_addr;

/* Long enough for any formatted address, including the NUL. */
#define ADDR_STRLEN 46

void addr_from_v4(mxa_addr *a, const void *in4);
void addr_from_v6(mxa_addr *a, const void *in6);
bool addr_is_v4(const mxa_addr *a);
/* Pointer to the 4 IPv4 bytes of a v4-mapped address. */
const uint8_t *addr_v4_bytes(const mxa_addr *a);

/**
 * addr_parse() - parse a literal IPv4 or IPv6 address (no names, no prefix)
 * Returns 0, or -EINVAL when @s is not an address.
 */
int addr_parse(mxa_addr *a, const char *s);

/* Formats @a into @buf (ADDR_STRLEN bytes) and returns @buf. */
const char *addr_format(const mxa_addr *a, char *buf);

static inline bool addr_equal(const mxa_addr *a, const mxa_addr *b)
{
	for (size_t i = 0; i < sizeof(a->b); i++)
		if (a->b[i] != b->b[i])
			return false;
	return true;
}

/**
 * addr_mask() - the network of @in: keep @v4_prefix bits of an IPv4 address
 * (0..32) or @v6_prefix bits of an IPv6 address (0..128), zero the rest.
 */
void addr_mask(mxa_addr *out, const mxa_addr *in, unsigned v4_prefix, unsigned v6_prefix);

/* Keyed hash (SipHash-2-4) so that spoofed sources cannot pick collisions. */
uint64_t addr_hash(const mxa_addr *a, const uint64_t key[2]);
