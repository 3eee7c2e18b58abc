/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The user switch, the same on every system: setresuid(2) and friends exist
 * on OpenBSD, FreeBSD and Linux. spamlogd does the same, in the same order.
 */
#include "sandbox.h"

#include <sys/types.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int sandbox_drop_user(const char *user, const char *group, char *err, size_t errlen)
{
	uid_t uid, ruid, euid, suid;
	gid_t gid, rgid, egid, sgid;
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
	if (geteuid() != 0) {
		snprintf(err, errlen, "cannot switch to user %s: not started as root", user);
		return -EPERM;
	}
	/* Groups first: once the user ID is not root, they cannot change any more. */
	if (setgroups(1, &gid) < 0 || setresgid(gid, gid, gid) < 0 ||
	    setresuid(uid, uid, uid) < 0) {
		int e = errno;

		snprintf(err, errlen, "cannot switch to user %s: %s", user, strerror(e));
		return -e;
	}
	if (getresgid(&rgid, &egid, &sgid) < 0 || getresuid(&ruid, &euid, &suid) < 0 ||
	    rgid != gid || egid != gid || sgid != gid || ruid != uid || euid != uid ||
	    suid != uid || setuid(0) == 0 || seteuid(0) == 0) {
		snprintf(err, errlen, "switch to user %s did not hold (IDs differ or root is back)",
		         user);
		return -EPERM;
	}
	return 0;
}
