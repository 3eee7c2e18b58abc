/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * Who is at the other end of a connected UNIX socket, as the kernel says:
 * SO_PEERCRED on Linux (peercred-linux.c), getpeereid(2) on the BSDs and
 * elsewhere (peercred-bsd.c); chosen in meson.
 */
#include <sys/types.h>

/* @pid gets -1 where the system does not tell. Returns 0 or a negative errno. */
int peercred_get(int fd, uid_t *uid, gid_t *gid, pid_t *pid);
