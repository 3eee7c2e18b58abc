/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: the config file parser and the config model behind it. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64], err[CONFIG_ERRLEN];
	struct config c;
	int fd = memfd_create("mxallowd-fuzz.conf", MFD_CLOEXEC);

	if (fd < 0)
		return 0;
	if (write(fd, data, size) == (ssize_t)size) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		config_init(&c);
		(void)config_load_file(&c, path, true, err, sizeof(err));
		config_clear(&c);
	}
	close(fd);
	return 0;
}
