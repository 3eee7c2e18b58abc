/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Systems without a sandbox of their own here (neither Linux nor the BSDs): the capture is no BPF
 * device to lock, and restricting is left to the service manager (systemd's
 * NoNewPrivileges, ProtectSystem, ...) and to capabilities.
 */
#include "sandbox.h"

int sandbox_lock_capture(int fd, char *err, size_t errlen)
{
	(void)fd;
	(void)err;
	(void)errlen;
	return 0;
}

int sandbox_restrict(const struct sandbox_paths *p, char *err, size_t errlen)
{
	(void)p;
	(void)err;
	(void)errlen;
	return 0;
}

bool sandbox_pledges_pf(void)
{
	return false;
}
