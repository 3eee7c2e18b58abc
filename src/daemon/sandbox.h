/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * Least privilege once everything privileged is open, in spamlogd's order:
 * open (capture, /dev/pf or netlink, pidfile, resolver), lock the capture
 * descriptor, switch user, then restrict what the process may still do.
 * One file per system, chosen in meson: sandbox-user.c with sandbox-openbsd.c
 * or sandbox-freebsd.c on the BSDs, sandbox-linux.c alone on Linux (libcap-ng),
 * sandbox-user.c with sandbox-fallback.c elsewhere.
 * Each function returns 0, or a negative errno with one line in @err.
 */

struct config_list;

/*
 * What the running daemon still needs from the file system (NULL: nothing).
 * sandbox_plan_build() (sandbox-plan.h) turns it into OpenBSD's unveil list
 * and promise set.
 */
struct sandbox_paths {
	const char *config;    /* read again on SIGHUP */
	const char *pidfile;   /* removed at exit */
	const char *state_dir; /* state-file saves: a forked child writes, locks, renames in it */
	const char *control_socket; /* listening UNIX socket: accepted on, removed at exit */
	const struct config_list *allow_files; /* allow-file: read again on SIGHUP */
	const char *redis_socket;              /* redis unix:PATH: connected to (reconnects) */
};

/*
 * sandbox_lookup() - the IDs of @user and of @group (NULL: the user's primary
 * group), with one line naming what is missing in @err.
 */
int sandbox_lookup(const char *user, const char *group, uid_t *uid, gid_t *gid, char *err,
                   size_t errlen);

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
 * every message: there the switch keeps that capability alone (libcap-ng:
 * effective and permitted; bounding, inheritable and ambient sets and the
 * supplementary groups cleared; no_new_privs), and a process started as
 * @user itself with CAP_NET_ADMIN (systemd AmbientCapabilities=) is not
 * switched, only trimmed to it. Built without libcap-ng, a set @user fails.
 */
int sandbox_drop_user(const char *user, const char *group, char *err, size_t errlen);

/*
 * True where sandbox_restrict() pledges "pf" (OpenBSD): the pf table may then
 * only be replaced whole (DIOCRSETADDRS), see table_params.replace_only.
 */
bool sandbox_pledges_pf(void);

/**
 * sandbox_restrict() - limit the process to what the running daemon does:
 * OpenBSD unveil(2) of @p and the resolver's files, then pledge(2). On Linux
 * it checks, as the user now running, that @p still works: the config file
 * can be opened (reloads), the pidfile's directory lets it remove the
 * pidfile at exit; no seccomp (see sandbox-linux.c). A no-op elsewhere (see
 * sandbox-freebsd.c for why not Capsicum). Call it last.
 */
int sandbox_restrict(const struct sandbox_paths *p, char *err, size_t errlen);
