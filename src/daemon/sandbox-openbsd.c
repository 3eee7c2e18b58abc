/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * OpenBSD: BIOCLOCK on the pflog0 descriptor, then unveil(2) and pledge(2),
 * as spamlogd does after opening pflog0 and dropping privileges.
 *
 * What the running daemon still does, and the promise each needs:
 *   stdio  the event loop (kqueue), reading pflog0, logging (sendsyslog(2)),
 *          getentropy(2), time
 *   rpath  SIGHUP reads the config file again, and the fresh resolver of a
 *          reload reads /etc/resolv.conf and /etc/hosts
 *   inet   libevent's evdns (rDNS siblings, the names of a reload) opens its
 *          own UDP/TCP sockets to the name servers; it does not use the libc
 *          resolver, so "dns" is not enough and not needed (getaddrinfo(3)
 *          runs only at start, before this)
 *   bpf    BIOCGSTATS on pflog0: pcap_stats() for the capture-drops counter
 *   pf     the pf table ioctls on the /dev/pf descriptor opened at start.
 *          pledge allows DIOCRSETADDRS and DIOCRCLRADDRS (replace or clear a
 *          table) but not DIOCRADDADDRS/DIOCRDELADDRS: a table writer that
 *          sends those is killed with SIGABRT, so table-pf.c must write the
 *          whole table with DIOCRSETADDRS under this promise set
 *   cpath  only with a pidfile or state directory: the pidfile is removed at
 *          exit (unveil "c"; as an unprivileged user the directory must also
 *          allow it, or the pidfile stays)
 *   wpath  only with a state directory
 *   unix   only with a control socket: accept(2) on it (mxallowctl); and
 *          cpath with unveil "c" on its path, to remove it at exit
 * Not promised otherwise: unix (syslog goes through sendsyslog(2); sd_notify
 * is systemd's), dns, proc/exec (no fork after start), id (the user switch
 * comes before), tmppath, fattr.
 */
#include "sandbox.h"

#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/time.h>
#include <net/bpf.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int sandbox_lock_capture(int fd, char *err, size_t errlen)
{
	/* After this the descriptor's filter and interface cannot change, even by us. */
	if (ioctl(fd, BIOCLOCK) < 0) {
		int e = errno;

		snprintf(err, errlen, "capture: cannot lock the bpf descriptor (BIOCLOCK): %s",
		         strerror(e));
		return -e;
	}
	return 0;
}

static int reveal(const char *path, const char *perm, char *err, size_t errlen)
{
	int e;

	if (!path || unveil(path, perm) == 0)
		return 0;
	e = errno;
	snprintf(err, errlen, "unveil %s \"%s\": %s", path, perm, strerror(e));
	return -e;
}

int sandbox_restrict(const struct sandbox_paths *p, char *err, size_t errlen)
{
	char promises[64];
	int r, e;

	if ((r = reveal(p->config, "r", err, errlen)) < 0 ||
	    (r = reveal(p->pidfile, "c", err, errlen)) < 0 ||
	    (r = reveal(p->state_dir, "rwc", err, errlen)) < 0 ||
	    (r = reveal(p->control_socket, "c", err, errlen)) < 0 ||
	    (r = reveal("/etc/resolv.conf", "r", err, errlen)) < 0 ||
	    (r = reveal("/etc/hosts", "r", err, errlen)) < 0)
		return r;
	if (unveil(NULL, NULL) < 0) {
		e = errno;
		snprintf(err, errlen, "unveil: cannot lock: %s", strerror(e));
		return -e;
	}
	snprintf(promises, sizeof(promises), "stdio rpath inet bpf pf%s%s%s",
	         p->pidfile || p->state_dir || p->control_socket ? " cpath" : "",
	         p->state_dir ? " wpath" : "", p->control_socket ? " unix" : "");
	if (pledge(promises, NULL) < 0) {
		e = errno;
		snprintf(err, errlen, "pledge \"%s\": %s", promises, strerror(e));
		return -e;
	}
	return 0;
}

bool sandbox_pledges_pf(void)
{
	return true;
}
