/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * OpenBSD: BIOCLOCK on the pflog0 descriptor, then unveil(2) and pledge(2),
 * as spamlogd does after opening pflog0 and dropping privileges.
 *
 * What the running daemon still does, and the promise each needs; the set and
 * the unveil list follow the configuration (sandbox-plan.c, unit-tested):
 *   stdio  the event loop (kqueue), reading pflog0, logging (sendsyslog(2)),
 *          getentropy(2), time; pipe2(2) and waitpid(2) of a state-file save
 *   rpath  SIGHUP reads the config file and the allow-file lists again (each
 *          unveiled "r"), the fresh resolver of a reload reads
 *          /etc/resolv.conf and /etc/hosts; a state-file save opens its
 *          directory to fsync it
 *   inet   libevent's evdns (rDNS siblings, the names of a reload, a Redis
 *          host name) opens its own UDP/TCP sockets to the name servers; it
 *          does not use the libc resolver, so "dns" is not enough and not
 *          needed (getaddrinfo(3) runs only at start, before this, or on
 *          literal addresses); the metrics listener; a Redis TCP connection
 *   bpf    BIOCGSTATS on pflog0: pcap_stats() for the capture-drops counter
 *   pf     the pf table ioctls on the /dev/pf descriptor opened at start.
 *          pledge allows DIOCRSETADDRS and DIOCRCLRADDRS (replace or clear a
 *          table) but not DIOCRADDADDRS/DIOCRDELADDRS: a table writer that
 *          sends those is killed with SIGABRT, so table-pf.c must write the
 *          whole table with DIOCRSETADDRS under this promise set
 *   wpath, cpath, flock, proc
 *          only with a state file: each save fork(2)s a child (state.c: the
 *          child writes a frozen copy of the whitelist while the loop runs
 *          on, and lowers its priority with setpriority(2)), which creates
 *          PATH.tmp, locks it with flock(2) against a second writer,
 *          writes, renames it over PATH or unlinks it; the directory is
 *          unveiled "rwc". The save at exit is such a child too; only when
 *          fork fails does the daemon write the file itself, the same way
 *   cpath  also with a pidfile or a control socket: each is removed at exit
 *          (unveil "c" on its path; as an unprivileged user the directory
 *          must also allow it, or the file stays)
 *   unix   with a control socket: accept(2) on it (mxallowctl); with a Redis
 *          unix:PATH URL: connect(2) to it at start and at each reconnect
 *          (unveil "rw": connect needs "w")
 * Not promised: dns, exec (nothing is executed), id (the user switch comes
 * before), tmppath, fattr, sendfd/recvfd. Syslog goes through sendsyslog(2),
 * not a UNIX socket.
 * Paths are unveiled once, here: an allow-file added by a later reload is
 * not visible (its read fails and the reload reports it); adding one needs a
 * restart. A path whose directory does not exist yet is left out (ENOENT):
 * it stays as invisible as it is now.
 */
#include "sandbox.h"
#include "sandbox-plan.h"

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

int sandbox_restrict(const struct sandbox_paths *p, char *err, size_t errlen)
{
	struct sandbox_plan plan;
	int r = 0, e;

	if (sandbox_plan_build(p, &plan) < 0) {
		snprintf(err, errlen, "sandbox: out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; r == 0 && i < plan.n_unveil; i++) {
		const struct sandbox_unveil *u = &plan.unveil[i];

		if (unveil(u->path, u->perm) == 0 || errno == ENOENT)
			continue;
		e = errno;
		snprintf(err, errlen, "unveil %s \"%s\": %s", u->path, u->perm, strerror(e));
		r = -e;
	}
	if (r == 0 && unveil(NULL, NULL) < 0) {
		e = errno;
		snprintf(err, errlen, "unveil: cannot lock: %s", strerror(e));
		r = -e;
	}
	if (r == 0 && pledge(plan.promises, NULL) < 0) {
		e = errno;
		snprintf(err, errlen, "pledge \"%s\": %s", plan.promises, strerror(e));
		r = -e;
	}
	sandbox_plan_clear(&plan);
	return r;
}

bool sandbox_pledges_pf(void)
{
	return true;
}
