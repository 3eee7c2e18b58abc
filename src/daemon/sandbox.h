/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>

/*
 * Least privilege once everything privileged is open, in spamlogd's order:
 * open (capture, /dev/pf or netlink, pidfile, resolver), lock the capture
 * descriptor, switch user, then restrict what the process may still do.
 * One file per system, chosen in meson: sandbox-user.c everywhere,
 * sandbox-openbsd.c, sandbox-freebsd.c, or sandbox-fallback.c.
 * Each function returns 0, or a negative errno with one line in @err.
 */

/* What the running daemon still needs from the file system (NULL: nothing). */
struct sandbox_paths {
	const char *config;    /* read again on SIGHUP */
	const char *pidfile;   /* removed at exit */
	const char *state_dir; /* read, written, created in */
};

/**
 * sandbox_lock_capture() - lock the capture descriptor @fd (BIOCLOCK on the
 * BSDs: its filter, interface and buffer can no longer change). A no-op where
 * the capture is no BPF device (Linux). Call it before sandbox_drop_user().
 */
int sandbox_lock_capture(int fd, char *err, size_t errlen);

/**
 * sandbox_drop_user() - become @user (and @group, or the user's primary
 * group when NULL) for good: supplementary groups, real, effective and saved
 * IDs; checks that root cannot be regained. @user NULL: nothing to do.
 * Needs root. On Linux NFQUEUE verdicts and ipset need CAP_NET_ADMIN for
 * every message: there the switch must keep that capability (libcap-ng), so
 * do not call this in those modes.
 */
int sandbox_drop_user(const char *user, const char *group, char *err, size_t errlen);

/**
 * sandbox_restrict() - limit the process to what the running daemon does:
 * OpenBSD unveil(2) of @p and the resolver's files, then pledge(2). A no-op
 * elsewhere (see sandbox-freebsd.c for why not Capsicum). Call it last.
 */
int sandbox_restrict(const struct sandbox_paths *p, char *err, size_t errlen);
