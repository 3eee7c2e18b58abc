/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The command line. Every configuration key is an option of the same name
 * (and letter, where it has one), generated from the key table in
 * src/core/config.c; only the options that are not keys are listed here.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build-config.h"

/* Options that are not configuration keys. */
enum {
	OPT_CHECK_CONFIG = 1000,
	OPT_REPLAY,
	OPT_KEY = 2000, /* OPT_KEY + i: long-only key i */
};

static const struct {
	struct option opt;
	const char *metavar, *help;
} own_options[] = {
    {{"config", required_argument, NULL, 'c'},
     "FILE",
     "config file (default " CONFIG_DEFAULT_PATH ")"},
    {{"check-config", no_argument, NULL, OPT_CHECK_CONFIG},
     NULL,
     "validate, print the effective configuration, exit"},
    {{"replay", required_argument, NULL, OPT_REPLAY},
     "FILE",
     "print what mxallowd would decide for a capture"},
    {{"help", no_argument, NULL, 'h'}, NULL, "this text"},
    {{"version", no_argument, NULL, 'V'}, NULL, "version"},
};

#define N_OWN   (sizeof(own_options) / sizeof(own_options[0]))
#define MAX_OPT 96

/* getopt_long's tables, built from the key table. */
static int build_options(struct option *longs, size_t nlong, char *shorts, size_t nshort)
{
	size_t nl = 0, ns = 0;

	shorts[ns++] = ':';
	for (size_t i = 0; i < N_OWN; i++) {
		longs[nl++] = own_options[i].opt;
		if (own_options[i].opt.val < 256) {
			shorts[ns++] = (char)own_options[i].opt.val;
			if (own_options[i].opt.has_arg)
				shorts[ns++] = ':';
		}
	}
	for (size_t i = 0; i < config_key_count(); i++) {
		const struct config_key_info *k = config_key_info(i);
		int letters[2] = {k->short_opt, k->alt_short};

		if (nl + 1 >= nlong || ns + 5 >= nshort)
			return -ENOSPC;
		longs[nl++] =
		    (struct option){k->name, k->takes_value ? required_argument : no_argument, NULL,
		                    k->short_opt ? k->short_opt : OPT_KEY + (int)i};
		for (size_t j = 0; j < 2; j++) {
			if (!letters[j])
				continue;
			shorts[ns++] = (char)letters[j];
			if (k->takes_value)
				shorts[ns++] = ':';
		}
	}
	longs[nl] = (struct option){0};
	shorts[ns] = 0;
	return 0;
}

static void usage_line(FILE *f, int letter, int alt, const char *name, const char *metavar,
                       const char *help, const char *def)
{
	char left[64];
	int n = 0;

	if (letter && alt)
		n = snprintf(left, sizeof(left), "  -%c, -%c, --%s", letter, alt, name);
	else if (letter)
		n = snprintf(left, sizeof(left), "  -%c, --%s", letter, name);
	else
		n = snprintf(left, sizeof(left), "      --%s", name);
	if (metavar && n > 0 && (size_t)n < sizeof(left))
		snprintf(left + n, sizeof(left) - (size_t)n, " %s", metavar);
	fprintf(f, "%-36s %s", left, help);
	if (def)
		fprintf(f, " (default %s)", def);
	fputc('\n', f);
}

void cli_usage(FILE *f)
{
	fputs("Usage: mxallowd -f FAKE-MX -r REAL-MX [options]\n"
	      "Whitelists clients that tried the fake MX first (nolisting), for the real MX.\n"
	      "Every option is also a key of the config file (without the dashes).\n\n",
	      f);
	for (size_t i = 0; i < config_key_count(); i++) {
		const struct config_key_info *k = config_key_info(i);
		bool is_bool = !k->takes_value;

		usage_line(f, k->short_opt, k->alt_short, k->name, k->metavar, k->help,
		           is_bool ? NULL : k->def);
	}
	for (size_t i = 0; i < N_OWN; i++) {
		int v = own_options[i].opt.val;

		usage_line(f, v < 256 ? v : 0, 0, own_options[i].opt.name, own_options[i].metavar,
		           own_options[i].help, NULL);
	}
}

void cli_clear(struct cli *cli)
{
	free(cli->args);
	memset(cli, 0, sizeof(*cli));
}

static int cli_add(struct cli *cli, const char *key, const char *value)
{
	struct cli_arg *a = realloc(cli->args, (cli->n_args + 1) * sizeof(*a));

	if (!a)
		return -ENOMEM;
	cli->args = a;
	cli->args[cli->n_args].key = key;
	cli->args[cli->n_args].value = value;
	cli->n_args++;
	return 0;
}

/* The key an option stands for; NULL for options that are not keys. */
static const char *option_key(int c)
{
	int i = c >= OPT_KEY ? c - OPT_KEY : config_key_by_short(c);

	return i >= 0 && (size_t)i < config_key_count() ? config_key_info((size_t)i)->name : NULL;
}

int cli_parse(struct cli *cli, int argc, char **argv, char *err, size_t errlen)
{
	struct option longs[MAX_OPT];
	char shorts[2 * MAX_OPT + 2];
	int c, idx;

	memset(cli, 0, sizeof(*cli));
	cli->config_path = CONFIG_DEFAULT_PATH;
	if (build_options(longs, MAX_OPT, shorts, sizeof(shorts)) < 0) {
		snprintf(err, errlen, "command line: too many options (MAX_OPT)");
		return -EINVAL;
	}
	opterr = 0;
	optind = 0; /* full reset, so tests can parse repeatedly */
	while ((c = getopt_long(argc, argv, shorts, longs, &idx)) != -1) {
		const char *key;

		switch (c) {
		case 'c':
			cli->config_path = optarg;
			cli->config_given = true;
			continue;
		case 'h':
			cli->help = true;
			continue;
		case 'V':
			cli->version = true;
			continue;
		case OPT_CHECK_CONFIG:
			cli->check_config = true;
			continue;
		case OPT_REPLAY:
			cli->replay_path = optarg;
			continue;
		case ':':
			snprintf(err, errlen, "command line: option '%s' needs a value",
			         argv[optind - 1]);
			goto fail;
		case '?':
			if (optopt)
				snprintf(err, errlen, "command line: unknown option '-%c'", optopt);
			else
				snprintf(err, errlen, "command line: unknown option '%s'",
				         argv[optind - 1]);
			goto fail;
		default:
			break;
		}
		key = option_key(c);
		if (!key || cli_add(cli, key, optarg) < 0) {
			snprintf(err, errlen, "command line: out of memory");
			goto fail;
		}
	}
	if (optind < argc) {
		snprintf(err, errlen, "command line: unexpected argument '%s'", argv[optind]);
		goto fail;
	}
	/* Reloads happen after daemon() changed to /: keep the file the user meant. */
	if (cli->config_path[0] != '/') {
		char cwd[4096];

		if (!getcwd(cwd, sizeof(cwd)) ||
		    (size_t)snprintf(cli->config_abs, sizeof(cli->config_abs), "%s/%s", cwd,
		                     cli->config_path) >= sizeof(cli->config_abs)) {
			snprintf(err, errlen, "command line: -c %s: cannot make the path absolute",
			         cli->config_path);
			goto fail;
		}
		cli->config_path = cli->config_abs;
	}
	return 0;
fail:
	cli_clear(cli);
	return -EINVAL;
}

int cli_build_config(const struct cli *cli, struct config *c, char *err, size_t errlen)
{
	int r;

	config_init(c);
	r = config_load_file(c, cli->config_path, cli->config_given, err, errlen);
	for (size_t i = 0; r == 0 && i < cli->n_args; i++)
		r = config_set(c, cli->args[i].key, cli->args[i].value, "command line", err,
		               errlen);
	if (r < 0)
		config_clear(c);
	return r;
}

void cli_print_config(FILE *f, const struct config *c)
{
	char buf[1100];

	for (size_t i = 0; i < config_key_count(); i++) {
		const struct config_key_info *k = config_key_info(i);
		const char *origin;

		for (size_t item = 0; config_key_format(c, i, item, buf, sizeof(buf), &origin);
		     item++) {
			if (origin)
				fprintf(f, "%s %s # %s\n", k->name, buf, origin);
			else
				fprintf(f, "%s %s\n", k->name, buf);
		}
	}
}
