/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Linux: the user switch keeps CAP_NET_ADMIN, because the kernel checks it on
 * every netlink message, not only when the socket is bound: each NFQUEUE
 * verdict and each ipset add/del needs it (and libipset opens a fresh socket
 * after an error). So the plain setresuid(2) of sandbox-user.c, which drops
 * every capability, would leave a daemon whose verdicts all fail. With
 * libcap-ng (-Dcapng) the switch keeps exactly CAP_NET_ADMIN in the effective
 * and permitted sets, clears the bounding set, the inheritable and ambient
 * sets and the supplementary groups, and sets no_new_privs; then it checks
 * all of that. Without libcap-ng a configured user is refused at start:
 * never root against the configuration, never a user without CAP_NET_ADMIN.
 *
 * Two ways to run as a user:
 *  - started as root with `user`: switch here (capng_change_id);
 *  - started as that user with CAP_NET_ADMIN already (systemd User= and
 *    AmbientCapabilities=CAP_NET_ADMIN): `user` names the current user, no
 *    switch; every other capability is dropped, the bounding set stays as
 *    the service manager set it (clearing it needs CAP_SETPCAP), and so do
 *    the supplementary groups (changing them needs CAP_SETGID).
 *
 * After the switch, sandbox_restrict() checks the files the running daemon
 * still needs as that user: SIGHUP re-reads the config file, and the pidfile
 * is removed at exit. A pidfile the user cannot remove would outlive the
 * daemon and, once its PID is reused, name an unrelated process to whoever
 * signals "the daemon": that is refused at start like an unreadable config.
 *
 * No seccomp filter. An allow-list would have to follow what glibc, libevent
 * (epoll, evdns sockets), libmnl, libpcap, libipset and syslog call on each
 * distribution and architecture (newfstatat or statx, clock_gettime64, rseq,
 * ...), and a missed system call kills a mail gate in production long after
 * its tests passed. systemd's SystemCallFilter=@system-service (in
 * contrib/mxallowd.service) is the same protection maintained with the libc;
 * what an intruder could do with this process is bounded by the user switch
 * and CAP_NET_ADMIN (which seccomp could not narrow: it cannot tell an
 * NFQUEUE verdict from any other netfilter message on the same socket).
 */
#include "sandbox.h"

#include "config.h"

#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#if SANDBOX_CAPNG
#include <cap-ng.h>
#endif

static bool ids_are(uid_t uid, gid_t gid)
{
	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid;

	return getresuid(&ruid, &euid, &suid) == 0 && getresgid(&rgid, &egid, &sgid) == 0 &&
	       ruid == uid && euid == uid && suid == uid && rgid == gid && egid == gid &&
	       sgid == gid;
}

#if SANDBOX_CAPNG
static const char *change_id_step(int r)
{
	switch (r) {
	case -3:
		return "cannot take the capabilities needed for the switch";
	case -4:
		return "setresgid failed";
	case -5:
		return "cannot drop the supplementary groups";
	case -6:
		return "setresuid failed";
	case -8:
		return "cannot clear the capability bounding set";
	case -9:
		return "cannot keep CAP_NET_ADMIN alone";
	default:
		return "libcap-ng failed";
	}
}

/* Exactly CAP_NET_ADMIN effective and permitted, nothing ambient, no_new_privs set. */
static bool caps_hold(bool bounding_clear)
{
	if (capng_get_caps_process() < 0 || prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		return false;
	for (unsigned int c = 0; c < 64; c++) {
		bool want = c == CAP_NET_ADMIN;

		if ((capng_have_capability(CAPNG_EFFECTIVE, c) != 0) != want ||
		    (capng_have_capability(CAPNG_PERMITTED, c) != 0) != want ||
		    capng_have_capability(CAPNG_INHERITABLE, c) ||
		    capng_have_capability(CAPNG_AMBIENT, c) ||
		    (bounding_clear && capng_have_capability(CAPNG_BOUNDING_SET, c)))
			return false;
	}
	return true;
}

/*
 * Keep CAP_NET_ADMIN alone; with @change also become @uid/@gid without
 * supplementary groups and with an empty bounding set.
 */
static int keep_net_admin(bool change, uid_t uid, gid_t gid, const char *user, char *err,
                          size_t errlen)
{
	int r, e;

	capng_clear(CAPNG_SELECT_BOTH);
	if (capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED, CAP_NET_ADMIN) < 0) {
		snprintf(err, errlen, "user %s: libcap-ng cannot describe CAP_NET_ADMIN", user);
		return -EINVAL;
	}
	errno = 0;
	if (change)
		r = capng_change_id((int)uid, (int)gid, CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_BOUNDING);
	else
		r = capng_apply(CAPNG_SELECT_CAPS);
	e = errno ? errno : EPERM;
	if (r < 0) {
		snprintf(err, errlen, "cannot switch to user %s keeping CAP_NET_ADMIN: %s: %s",
		         user, change ? change_id_step(r) : "capset failed", strerror(e));
		return -e;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		e = errno;
		snprintf(err, errlen, "user %s: cannot set no_new_privs: %s", user, strerror(e));
		return -e;
	}
	if (!caps_hold(change)) {
		snprintf(err, errlen,
		         "user %s: capabilities are not CAP_NET_ADMIN alone after the switch%s",
		         user, change ? " (or the bounding set is not empty)" : "");
		return -EPERM;
	}
	return 0;
}
#else
static int keep_net_admin(bool change, uid_t uid, gid_t gid, const char *user, char *err,
                          size_t errlen)
{
	(void)change;
	(void)uid;
	(void)gid;
	snprintf(err, errlen,
	         "user %s: this mxallowd was built without libcap-ng, which it needs on Linux to "
	         "run as a user and keep CAP_NET_ADMIN: rebuild with libcap-ng (-Dcapng=enabled) "
	         "or remove user",
	         user);
	return -ENOTSUP;
}
#endif

int sandbox_lock_capture(int fd, char *err, size_t errlen)
{
	/* NFLOG through libpcap is a netlink socket, no BPF device to lock. */
	(void)fd;
	(void)err;
	(void)errlen;
	return 0;
}

int sandbox_drop_user(const char *user, const char *group, char *err, size_t errlen)
{
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	int r;

	if (!user) {
		if (group) {
			snprintf(err, errlen, "group %s is set without user: set user too", group);
			return -EINVAL;
		}
		return 0;
	}
	r = sandbox_lookup(user, group, &uid, &gid, err, errlen);
	if (r < 0)
		return r;
	if (uid == 0) {
		snprintf(err, errlen, "user %s is root: name an unprivileged user", user);
		return -EINVAL;
	}
	if (getuid() == uid && geteuid() == uid) {
		/* Started as the user (systemd User=, AmbientCapabilities=CAP_NET_ADMIN). */
		if (!ids_are(uid, gid)) {
			snprintf(err, errlen,
			         "started as user %s but with group %u, not %s: without root the "
			         "group cannot change (systemd: Group=)",
			         user, (unsigned)getegid(), group ? group : "the user's group");
			return -EPERM;
		}
		return keep_net_admin(false, uid, gid, user, err, errlen);
	}
	if (geteuid() != 0) {
		snprintf(
		    err, errlen,
		    "cannot switch to user %s: started as uid %u, neither root nor %s (systemd: "
		    "User=%s with AmbientCapabilities=CAP_NET_ADMIN)",
		    user, (unsigned)geteuid(), user, user);
		return -EPERM;
	}
	r = keep_net_admin(true, uid, gid, user, err, errlen);
	if (r < 0)
		return r;
	if (!ids_are(uid, gid) || getgroups(0, NULL) != 0 || setuid(0) == 0 || seteuid(0) == 0) {
		snprintf(err, errlen,
		         "switch to user %s did not hold (IDs differ, groups left or root is back)",
		         user);
		return -EPERM;
	}
	return 0;
}

static const char *whoami(char *buf, size_t len)
{
	const struct passwd *pw = getpwuid(geteuid());

	if (pw)
		return pw->pw_name;
	snprintf(buf, len, "uid %u", (unsigned)geteuid());
	return buf;
}

/* The pidfile goes at exit: the directory must let this user unlink it (sticky bit too). */
static int check_pidfile(const char *path, const char *who, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	struct stat ds, fs;

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else if ((size_t)(slash - path) < sizeof(dir))
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	else
		return 0;
	if (access(dir, W_OK | X_OK) == 0 &&
	    (stat(dir, &ds) < 0 || !(ds.st_mode & S_ISVTX) || ds.st_uid == geteuid() ||
	     (stat(path, &fs) == 0 && fs.st_uid == geteuid())))
		return 0;
	snprintf(err, errlen,
	         "pidfile %s could not be removed at exit by user %s (directory %s): put it in a "
	         "directory the user owns (systemd: RuntimeDirectory=) or leave pidfile unset",
	         path, who, dir);
	return -EACCES;
}

int sandbox_restrict(const struct sandbox_paths *p, char *err, size_t errlen)
{
	char buf[32];
	const char *who;
	int fd, e;

	if (geteuid() == 0)
		return 0; /* still root: nothing below can be refused */
	who = whoami(buf, sizeof(buf));
	if (p->config) {
		fd = open(p->config, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
		if (fd >= 0) {
			close(fd);
		} else if (errno != ENOENT) { /* a missing default file is no error at reload */
			e = errno;
			snprintf(
			    err, errlen,
			    "config file %s is not readable by user %s: reloads would fail (%s)",
			    p->config, who, strerror(e));
			return -e;
		}
	}
	/* The allow files are read again at every reload, as the config file is. */
	for (size_t i = 0; p->allow_files && i < p->allow_files->n; i++) {
		const char *f = p->allow_files->v[i].spec;

		fd = open(f, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
		if (fd < 0) {
			e = errno;
			snprintf(
			    err, errlen,
			    "allow-file %s is not readable by user %s: reloads would fail (%s)", f,
			    who, strerror(e));
			return -e;
		}
		close(fd);
	}
	if (p->pidfile && check_pidfile(p->pidfile, who, err, errlen) < 0)
		return -EACCES;
	if (p->state_dir && access(p->state_dir, R_OK | W_OK | X_OK) < 0) {
		e = errno;
		snprintf(err, errlen, "state directory %s is not writable by user %s: %s",
		         p->state_dir, who, strerror(e));
		return -e;
	}
	return 0;
}

bool sandbox_pledges_pf(void)
{
	return false;
}
