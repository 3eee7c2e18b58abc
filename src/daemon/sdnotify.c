/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The notification protocol is a stable interface of systemd (documented in
 * sd_notify(3) for reimplementation): a datagram of NEWLINE-separated
 * assignments (each ended by one, which systemd accepts) to the AF_UNIX socket in $NOTIFY_SOCKET
 * ('@' for the abstract namespace). A few lines here spare the BSD build a libsystemd dependency.
 */
#include "sdnotify.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static void notify(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t len;
	socklen_t salen;
	int fd;

	if (!path || (path[0] != '/' && path[0] != '@') || strlen(path) >= sizeof(sa.sun_path))
		return;
	len = strlen(path);
	memcpy(sa.sun_path, path, len);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = 0;
	salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	/* A datagram socket: never blocks the loop for long; a lost message is retried by the
	 * next tick (watchdog) or shows as a timeout in the service manager. */
	(void)sendto(fd, msg, strlen(msg), MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&sa,
	             salen);
	close(fd);
}

void sd_notify_ready(void)
{
	char msg[64];

	snprintf(msg, sizeof(msg), "READY=1\nMAINPID=%ld\n", (long)getpid());
	notify(msg);
}

void sd_notify_reloading(void)
{
	struct timespec ts;
	char msg[80];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%lld\n",
	         (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
	notify(msg);
}

void sd_notify_stopping(void)
{
	notify("STOPPING=1\n");
}

void sd_notify_watchdog(void)
{
	const char *usec = getenv("WATCHDOG_USEC");
	const char *pid = getenv("WATCHDOG_PID");

	if (!usec || !*usec)
		return;
	if (pid && *pid && strtol(pid, NULL, 10) != (long)getpid())
		return;
	notify("WATCHDOG=1\n");
}
