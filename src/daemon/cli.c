/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "build-config.h"

enum {
	OPT_PIDFILE = 256,
	OPT_CHECK_CONFIG,
	OPT_MAX_ENTRIES,
	OPT_FAIL_OPEN,
	OPT_QUEUE_MAXLEN,
	OPT_IPV4_PREFIX,
	OPT_IPV6_PREFIX,
	OPT_RDNS_MAX,
	OPT_LOG_RATE,
	OPT_BACKEND,
	OPT_TABLE,
	OPT_IPSET,
	OPT_IPSET6,
	OPT_REPLAY,
};

static const struct option long_options[] = {
    {"fake-mailserver", required_argument, NULL, 'f'},
    {"real-mailserver", required_argument, NULL, 'r'},
    {"queue-num", required_argument, NULL, 'n'},
    {"whitelist-time", required_argument, NULL, 't'},
    {"no-rdns-whitelist", no_argument, NULL, 'b'},
    {"config", required_argument, NULL, 'c'},
    {"stdout", no_argument, NULL, 's'},
    {"quiet", no_argument, NULL, 'q'},
    {"foreground", no_argument, NULL, 'F'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {"pidfile", required_argument, NULL, OPT_PIDFILE},
    {"check-config", no_argument, NULL, OPT_CHECK_CONFIG},
    {"max-entries", required_argument, NULL, OPT_MAX_ENTRIES},
    {"fail-open", no_argument, NULL, OPT_FAIL_OPEN},
    {"queue-maxlen", required_argument, NULL, OPT_QUEUE_MAXLEN},
    {"ipv4-prefix", required_argument, NULL, OPT_IPV4_PREFIX},
    {"ipv6-prefix", required_argument, NULL, OPT_IPV6_PREFIX},
    {"rdns-max", required_argument, NULL, OPT_RDNS_MAX},
    {"log-rate", required_argument, NULL, OPT_LOG_RATE},
    {"backend", required_argument, NULL, OPT_BACKEND},
    {"pflog-interface", required_argument, NULL, 'p'},
    {"pcap-filter", required_argument, NULL, 'l'},
    {"table", required_argument, NULL, OPT_TABLE},
    {"ipset", required_argument, NULL, OPT_IPSET},
    {"ipset6", required_argument, NULL, OPT_IPSET6},
    {"replay", required_argument, NULL, OPT_REPLAY},
    {0},
};

static const char short_options[] = ":f:r:n:t:bdc:sqFhVp:l:";

/* The config key an option stands for; NULL for options that are not keys. */
static const char *option_key(int c)
{
	switch (c) {
	case 'f':
		return "fake-mailserver";
	case 'r':
		return "real-mailserver";
	case 'n':
		return "queue-num";
	case 't':
		return "whitelist-time";
	case 'b':
	case 'd': /* 1.9 accepted -d for this too */
		return "no-rdns-whitelist";
	case 's':
		return "stdout";
	case 'q':
		return "quiet";
	case 'F':
		return "foreground";
	case OPT_PIDFILE:
		return "pidfile";
	case OPT_MAX_ENTRIES:
		return "max-entries";
	case OPT_FAIL_OPEN:
		return "fail-open";
	case OPT_QUEUE_MAXLEN:
		return "queue-maxlen";
	case OPT_IPV4_PREFIX:
		return "ipv4-prefix";
	case OPT_IPV6_PREFIX:
		return "ipv6-prefix";
	case OPT_RDNS_MAX:
		return "rdns-max";
	case OPT_LOG_RATE:
		return "log-rate";
	case OPT_BACKEND:
		return "backend";
	case 'p':
		return "pflog-interface";
	case 'l':
		return "pcap-filter";
	case OPT_TABLE:
		return "table";
	case OPT_IPSET:
		return "ipset";
	case OPT_IPSET6:
		return "ipset6";
	default:
		return NULL;
	}
}

void cli_usage(FILE *f)
{
	fputs("Usage: mxallowd -f FAKE-MX -r REAL-MX [options]\n"
	      "Whitelists clients that tried the fake MX first (nolisting), for the real MX.\n"
	      "\n"
	      "  -f, --fake-mailserver ADDR|HOST  fake MX (repeatable)\n"
	      "  -r, --real-mailserver ADDR|HOST  real MX (repeatable)\n"
	      "  -n, --queue-num N                NFQUEUE number, 0-65535 (default 23)\n"
	      "  -t, --whitelist-time SECONDS     whitelist lifetime (default 3600)\n"
	      "  -b, -d, --no-rdns-whitelist      do not whitelist reverse-DNS siblings\n"
	      "  -c, --config FILE                config file (default " CONFIG_DEFAULT_PATH ")\n"
	      "  -s, --stdout                     log to stdout instead of syslog\n"
	      "  -q, --quiet                      log errors only\n"
	      "  -F, --foreground                 do not detach\n"
	      "      --pidfile FILE               write the process id to FILE\n"
	      "      --check-config               validate, print the configuration, exit\n"
	      "      --max-entries N              whitelist capacity (default 65536)\n"
	      "      --fail-open                  kernel accepts when the queue is full\n"
	      "      --queue-maxlen N             kernel queue length (default 1024)\n"
	      "      --ipv4-prefix N              whitelist the client's /N (default 32)\n"
	      "      --ipv6-prefix N              whitelist the client's /N (default 128)\n"
	      "      --rdns-max N                 rDNS siblings per client (default 32)\n"
	      "      --log-rate N                 accept/drop lines per second (default 100, 0: "
	      "all)\n"
	      "      --backend nfqueue|pflog      decide in a queue, or fill a kernel table from\n"
	      "                                   firewall logs (default: " DEFAULT_BACKEND ")\n"
	      "  -p, --pflog-interface IF         pflog backend: capture from IF\n"
	      "                                   (default " DEFAULT_PFLOG_INTERFACE ")\n"
	      "  -l, --pcap-filter FILTER         pflog backend: BPF filter (default: SYNs to 25)\n"
	      "      --table NAME                 pf table (default " CONFIG_DEFAULT_TABLE ")\n"
	      "      --ipset NAME                 IPv4 ipset (default " CONFIG_DEFAULT_IPSET ")\n"
	      "      --ipset6 NAME                IPv6 ipset (default " CONFIG_DEFAULT_IPSET6 ")\n"
	      "      --replay FILE                print what mxallowd would decide for a capture\n"
	      "  -h, --help                       this text\n"
	      "  -V, --version                    version\n",
	      f);
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

int cli_parse(struct cli *cli, int argc, char **argv, char *err, size_t errlen)
{
	int c, idx;

	memset(cli, 0, sizeof(*cli));
	cli->config_path = CONFIG_DEFAULT_PATH;
	opterr = 0;
	optind = 0; /* full reset, so tests can parse repeatedly */
	while ((c = getopt_long(argc, argv, short_options, long_options, &idx)) != -1) {
		const char *key = option_key(c);

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
		if (!key || cli_add(cli, key, optarg) < 0) {
			snprintf(err, errlen, "command line: out of memory");
			goto fail;
		}
	}
	if (optind < argc) {
		snprintf(err, errlen, "command line: unexpected argument '%s'", argv[optind]);
		goto fail;
	}
	return 0;
fail:
	cli_clear(cli);
	return -EINVAL;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

int conffile_load(struct config *c, const char *path, bool required, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char *line = NULL, origin[512];
	size_t cap = 0;
	unsigned lineno = 0;
	int r = 0;

	if (!f) {
		if (errno == ENOENT && !required)
			return 0;
		r = -errno;
		snprintf(err, errlen, "%s: cannot open config file: %s", path, strerror(errno));
		return r;
	}
	while (getline(&line, &cap, f) != -1) {
		char *key, *value, *hash, *p;

		lineno++;
		snprintf(origin, sizeof(origin), "%s:%u", path, lineno);
		if (strlen(line) > 4096) {
			snprintf(err, errlen, "%s: line too long", origin);
			r = -EINVAL;
			break;
		}
		hash = strchr(line, '#');
		if (hash)
			*hash = 0;
		key = trim(line);
		if (!*key)
			continue;
		/* `key value`, and as a courtesy `key = value` or `key=value`. */
		for (p = key; *p && !isspace((unsigned char)*p) && *p != '='; p++)
			;
		value = NULL;
		if (*p) {
			*p++ = 0;
			value = trim(p);
			if (*value == '=')
				value = trim(value + 1);
			if (!*value)
				value = NULL;
		}
		if (!value && config_key_exists(key) && !config_key_is_bool(key)) {
			snprintf(err, errlen, "%s: %s needs a value", origin, key);
			r = -EINVAL;
			break;
		}
		r = config_set(c, key, value, origin, err, errlen);
		if (r < 0)
			break;
	}
	if (r == 0 && ferror(f)) {
		r = -EIO;
		snprintf(err, errlen, "%s: read error", path);
	}
	free(line);
	fclose(f);
	return r;
}

int cli_build_config(const struct cli *cli, struct config *c, char *err, size_t errlen)
{
	int r;

	config_init(c);
	r = conffile_load(c, cli->config_path, cli->config_given, err, errlen);
	for (size_t i = 0; r == 0 && i < cli->n_args; i++)
		r = config_set(c, cli->args[i].key, cli->args[i].value, "command line", err,
		               errlen);
	if (r < 0)
		config_clear(c);
	return r;
}
