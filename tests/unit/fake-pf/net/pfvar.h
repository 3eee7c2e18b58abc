/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A stand-in for the BSDs' <net/pfvar.h>, so that table-pf.c compiles and
 * runs on Linux in tests/unit/test_table_pf.c against a fake /dev/pf. It
 * declares only what table-pf.c uses, with the names and types of the pf
 * table API (FreeBSD's shorter struct pfr_addr); the ioctl numbers use the
 * same ('D', n) in Linux's encoding. The BSD builds use the real header:
 * tests/unit/meson.build adds this folder to the include path on Linux only.
 */
#pragma once

#include <limits.h>
#include <sys/types.h>
#include <sys/ioctl.h>
#include <netinet/in.h>

#define PF_TABLE_NAME_SIZE 32

struct pfr_table {
	char pfrt_anchor[PATH_MAX];
	char pfrt_name[PF_TABLE_NAME_SIZE];
	u_int32_t pfrt_flags;
	u_int8_t pfrt_fback;
};

struct pfr_addr {
	union {
		struct in_addr _pfra_ip4addr;
		struct in6_addr _pfra_ip6addr;
	} pfra_u;
	u_int8_t pfra_af;
	u_int8_t pfra_net;
	u_int8_t pfra_not;
	u_int8_t pfra_fback;
};
#define pfra_ip4addr pfra_u._pfra_ip4addr
#define pfra_ip6addr pfra_u._pfra_ip6addr

struct pfioc_table {
	struct pfr_table pfrio_table;
	void *pfrio_buffer;
	int pfrio_esize;
	int pfrio_size;
	int pfrio_size2;
	int pfrio_nadd;
	int pfrio_ndel;
	int pfrio_nchange;
	int pfrio_flags;
	u_int32_t pfrio_ticket;
};

#define DIOCRCLRADDRS _IOWR('D', 66, struct pfioc_table)
#define DIOCRADDADDRS _IOWR('D', 67, struct pfioc_table)
#define DIOCRDELADDRS _IOWR('D', 68, struct pfioc_table)
#define DIOCRSETADDRS _IOWR('D', 69, struct pfioc_table)
#define DIOCRGETADDRS _IOWR('D', 70, struct pfioc_table)
