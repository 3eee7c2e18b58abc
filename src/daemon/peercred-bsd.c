/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "peercred.h"

#include <errno.h>
#include <sys/types.h>
#include <sys/socket.h> /* OpenBSD declares getpeereid(2) here */
#include <unistd.h>     /* FreeBSD here */

int peercred_get(int fd, uid_t *uid, gid_t *gid, pid_t *pid)
{
	if (getpeereid(fd, uid, gid) < 0)
		return -errno;
	*pid = -1;
	return 0;
}
