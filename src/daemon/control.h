/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The control socket (key control-socket): a UNIX stream socket on the
 * daemon's one loop, spoken to by mxallowctl (protocol: src/core/ctlproto.h,
 * mxallowctl(8)). Only root, the daemon's own user and control-group get in.
 * Bounded so that no client can stall verdicts: CONTROL_MAX_CLIENTS clients,
 * CTL_MAX_REQUEST bytes a request, about 64 KiB of unsent output per client
 * (a list is produced as the client reads it, a bounded slice per wake-up),
 * an idle and a write timeout; the sockets never block.
 */
#include <stddef.h>

struct daemon;

#define CONTROL_MAX_CLIENTS   16
#define CONTROL_IDLE_TIMEOUT  30 /* seconds a client may wait before its next request */
#define CONTROL_WRITE_TIMEOUT 15 /* seconds an answer may wait for the client to read */

/**
 * control_open() - create the socket of control-socket (nothing for none):
 * its directory when missing (one level), a stale socket nobody listens on
 * removed, refused when another daemon answers on it; mode 0600, or 0660
 * with group control-group; owned by `user` when the daemon switches to it.
 * Call it as root, before detaching and dropping privileges.
 * Returns 0 or a negative errno with one line in @err.
 */
int control_open(struct daemon *d, char *err, size_t errlen);

/* Accept clients on d->base (after control_open() and the loop's set-up). */
int control_start(struct daemon *d, char *err, size_t errlen);

/* Closes the clients and the socket, and removes the socket file while it is still ours. */
void control_close(struct daemon *d);

/* The socket's path, NULL when there is none (for the sandbox). */
const char *control_path(const struct daemon *d);
