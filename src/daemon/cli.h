/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "config.h"

/* One `--key value` from the command line, applied after the config file. */
struct cli_arg {
	const char *key;
	const char *value; /* NULL for a boolean */
};

struct cli {
	struct cli_arg *args;
	size_t n_args;
	const char *config_path; /* absolute (made so at parse time: daemon() changes to /) */
	char config_abs[4096];
	bool config_given; /* -c was used: a missing file is an error */
	bool help;
	bool version;
	bool check_config;
	const char *replay_path; /* --replay: read a capture, print decisions, exit */
};

/**
 * cli_parse() - read the command line (1.9's short options and the long
 * ones) without applying it. Returns 0, or -EINVAL with one line in @err.
 */
int cli_parse(struct cli *cli, int argc, char **argv, char *err, size_t errlen);
void cli_clear(struct cli *cli);

/**
 * cli_build_config() - defaults, then the config file, then the command line.
 * Used at start and again on SIGHUP. Returns 0 or a negative errno.
 */
int cli_build_config(const struct cli *cli, struct config *c, char *err, size_t errlen);

void cli_usage(FILE *f);

/* Every key with a value, one `key value` line each (lists: a line per element). */
void cli_print_config(FILE *f, const struct config *c);
