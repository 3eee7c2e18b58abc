/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The user and group named in the configuration, looked up the same way on every system. */
#include "sandbox.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>

int sandbox_lookup(const char *user, const char *group, uid_t *uid, gid_t *gid, char *err,
                   size_t errlen)
{
	const struct passwd *pw;
	const struct group *gr;

	errno = 0;
	pw = getpwnam(user);
	if (!pw) {
		/* Not found leaves errno alone, or sets ENOENT/ESRCH (glibc). */
		if (errno && errno != ENOENT && errno != ESRCH) {
			snprintf(err, errlen, "user %s: %s", user, strerror(errno));
			return -errno;
		}
		snprintf(err, errlen,
		         "user %s does not exist: create it as a system user without a login "
		         "shell",
		         user);
		return -ENOENT;
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	if (!group)
		return 0;
	errno = 0;
	gr = getgrnam(group);
	if (!gr) {
		if (errno && errno != ENOENT && errno != ESRCH) {
			snprintf(err, errlen, "group %s: %s", group, strerror(errno));
			return -errno;
		}
		snprintf(err, errlen, "group %s does not exist", group);
		return -ENOENT;
	}
	*gid = gr->gr_gid;
	return 0;
}
