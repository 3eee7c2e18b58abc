/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The service manager's notification protocol (sd_notify(3)): one datagram
 * to $NOTIFY_SOCKET. Without that variable every call does nothing, so the
 * daemon runs the same under systemd, rc.d or a shell.
 */
void sd_notify_ready(void);
void sd_notify_reloading(void);
void sd_notify_stopping(void);
/* Once a tick: a heartbeat while $WATCHDOG_USEC asks for one (a wedged loop stops it). */
void sd_notify_watchdog(void);
