/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * FreeBSD: BIOCLOCK on the pflog0 descriptor; no Capsicum capability mode.
 *
 * cap_enter(2) would forbid every later use of a global namespace, and the
 * running daemon needs several: libevent's evdns connects UDP/TCP sockets to
 * the name servers for each rDNS lookup (connect(2)/sendto(2) to an address
 * are refused in capability mode), and SIGHUP re-reads the config file and
 * builds a fresh resolver from /etc/resolv.conf and /etc/hosts by path. Doing
 * that would need a resolver outside the sandbox (libcasper's cap_dns, which
 * evdns cannot use) and a reload by re-exec: not worth it for this daemon.
 * Limiting the rights of single descriptors (cap_rights_limit(2)) outside
 * capability mode protects little, since the process can still open new
 * ones, and libpcap's use of the bpf descriptor is not something this
 * project can test here: BIOCLOCK already stops its filter and interface
 * from changing. The user switch (sandbox-user.c) is the real reduction.
 */
#include "sandbox.h"

#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/time.h>
#include <net/bpf.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

int sandbox_lock_capture(int fd, char *err, size_t errlen)
{
	if (ioctl(fd, BIOCLOCK) < 0) {
		int e = errno;

		snprintf(err, errlen, "capture: cannot lock the bpf descriptor (BIOCLOCK): %s",
		         strerror(e));
		return -e;
	}
	return 0;
}

int sandbox_restrict(const struct sandbox_paths *p, char *err, size_t errlen)
{
	(void)p;
	(void)err;
	(void)errlen;
	return 0;
}

bool sandbox_pledges_pf(void)
{
	return false;
}
