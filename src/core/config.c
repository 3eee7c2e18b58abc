/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include "build-config.h"
#include "netset.h"
#include "redisurl.h"
#include "syncwire.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* KEY_PATH_OR_NONE: an absolute path, or the word none (the field is then NULL). */
enum key_type {
	KEY_FAKE,
	KEY_REAL,
	KEY_UINT,
	KEY_BOOL,
	KEY_PATH,
	KEY_STR,
	KEY_NAME,
	KEY_BACKEND,
	KEY_PATH_OR_NONE,
	KEY_LIST, /* repeatable: each value checked by the key's check(), kept with its origin */
};

struct key {
	struct config_key_info info;
	enum key_type type;
	size_t offset;
	uint32_t min, max; /* numbers: bounds; strings: lengths */
	/* KEY_LIST, KEY_STR: 0, or -EINVAL with the reason in @why (without the place). */
	int (*check)(const char *value, char *why, size_t whylen);
	/* KEY_STR: how --check-config shows the value (a URL without its password); NULL: as is. */
	void (*show)(const char *value, char *buf, size_t len);
};

/* The redis URL: its reasons never repeat the value (it may hold a password). */
static int check_redis(const char *v, char *why, size_t whylen)
{
	struct redis_url u;

	if (strlen(v) > 1024) {
		snprintf(why, whylen, "longer than 1024 characters");
		return -EINVAL;
	}
	return redisurl_parse(v, &u, why, whylen);
}

static int check_node(const char *v, char *why, size_t whylen)
{
	if (syncwire_node_ok(v))
		return 0;
	snprintf(why, whylen, "'%s' is not 1 to %d letters, digits, '.', '-', '_'", v,
	         SYNCWIRE_NODE_MAX);
	return -EINVAL;
}

static int check_network(const char *v, char *why, size_t whylen)
{
	mxa_addr a;
	unsigned prefix;

	return netset_parse(v, &a, &prefix, why, whylen);
}

static int check_abs_path(const char *v, char *why, size_t whylen)
{
	if (v[0] == '/')
		return 0;
	snprintf(why, whylen, "'%s' is not an absolute path", v);
	return -EINVAL;
}

static int check_listen(const char *v, char *why, size_t whylen)
{
	mxa_addr a;
	uint16_t port;

	return config_parse_listen(v, &a, &port, why, whylen);
}

/* Above 900 ms a held SYN would meet its own retransmit (after 1 s). */
static int check_hold_time(const char *v, char *why, size_t whylen)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (v[0] >= '0' && v[0] <= '9' && !*end && !errno && n > 900) {
		snprintf(why, whylen,
		         "'%s' is above 900 milliseconds: a sender retransmits its SYN after 1 s, "
		         "so a longer hold would only lose it",
		         v);
		return -EINVAL;
	}
	return 0;
}

/* A domain name: letters, digits, '-', '_' and '.', labels of 1 to 63, at most 253. */
static int check_domain(const char *v, char *why, size_t whylen)
{
	size_t n = strlen(v), label = 0;

	if (n && v[n - 1] == '.')
		n--;
	for (size_t i = 0; i < n; i++) {
		char c = v[i];

		if (c == '.') {
			if (label == 0)
				break;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_') ||
		    ++label > 63)
			goto bad;
	}
	if (n > 0 && n <= 253 && label > 0)
		return 0;
bad:
	snprintf(why, whylen, "'%s' is not a domain name (such as example.com)", v);
	return -EINVAL;
}

/* A shell glob over host names: printable, no spaces, at most 253 characters. */
static int check_glob(const char *v, char *why, size_t whylen)
{
	size_t n = strlen(v);

	for (size_t i = 0; i < n; i++)
		if (v[i] <= ' ' || v[i] > '~')
			n = 0;
	if (n > 0 && n <= 253)
		return 0;
	snprintf(why, whylen,
	         "'%s' is not a name pattern (a shell glob such as '*.dyn.example.net')", v);
	return -EINVAL;
}

static int check_table_writer(const char *v, char *why, size_t whylen)
{
	static const char *const ok[] = {"auto", "ipset", "nft", "pf", "none"};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strcmp(v, ok[i]) == 0)
			return 0;
	snprintf(why, whylen, "'%s' is not auto, ipset, nft, pf or none", v);
	return -EINVAL;
}

#define F(field) offsetof(struct config, field)

/*
 * The one declaration of every key: {name, letter, 1.9 letter, takes a
 * value, restart-only, metavar, default, help}, type, field, bounds.
 * Restart-only: what the kernel or the process was set up with at start
 * (queue, table names, prefixes the table is keyed by, capacity, identity).
 */
static const struct key keys[] = {
    {{"fake-mailserver", 'f', 0, true, false, "ADDR|HOST", NULL, "fake MX (repeatable)"},
     KEY_FAKE,
     F(fake),
     0,
     0},
    {{"real-mailserver", 'r', 0, true, false, "ADDR|HOST", NULL, "real MX (repeatable)"},
     KEY_REAL,
     F(real),
     0,
     0},
    {{"backend", 0, 0, true, true, "nfqueue|pflog", DEFAULT_BACKEND,
      "decide in a queue, or fill a kernel table from firewall logs"},
     KEY_BACKEND,
     F(backend),
     0,
     0},
    {{"queue-num", 'n', 0, true, true, "N", "23", "NFQUEUE number"},
     KEY_UINT,
     F(queue_num),
     0,
     65535},
    {{"queue-maxlen", 0, 0, true, false, "N", "1024", "kernel queue length"},
     KEY_UINT,
     F(queue_maxlen),
     1,
     1048576},
    {{"fail-open", 0, 0, false, false, NULL, "no", "kernel accepts when the queue is full"},
     KEY_BOOL,
     F(fail_open),
     0,
     0},
    {{"accept-unparsable", 0, 0, false, true, NULL, "no",
      "accept queued packets whose addresses cannot be read (default: drop)"},
     KEY_BOOL,
     F(accept_unparsable),
     0,
     0},
    /* At most 2^31/1000 s: the longest timeout an ipset entry takes (24.8 days). */
    {{"whitelist-time", 't', 0, true, false, "SECONDS", "3600", "whitelist lifetime"},
     KEY_UINT,
     F(whitelist_time),
     1,
     2147483},
    {{"no-rdns-whitelist", 'b', 'd', false, false, NULL, "no",
      "do not whitelist reverse-DNS siblings"},
     KEY_BOOL,
     F(no_rdns),
     0,
     0},
    /* The resolver keeps at most 64 addresses of a name, the client's own among them. */
    {{"rdns-max", 0, 0, true, false, "N", "32", "rDNS siblings per client"},
     KEY_UINT,
     F(rdns_max),
     0,
     63},
    {{"rdns-rate", 0, 0, true, false, "N", "100", "rDNS lookups started per second"},
     KEY_UINT,
     F(rdns_rate),
     1,
     100000},
    {{"log-rate", 0, 0, true, false, "N", "100",
      "log lines a second for accept/drop and "
      "whitelist changes (0: all)"},
     KEY_UINT,
     F(log_rate),
     0,
     1000000},
    {{"max-entries", 0, 0, true, true, "N", "65536", "whitelist capacity"},
     KEY_UINT,
     F(max_entries),
     1,
     100000000},
    {{"ipv4-prefix", 0, 0, true, true, "BITS", "32", "whitelist the client's /BITS"},
     KEY_UINT,
     F(ipv4_prefix),
     1,
     32},
    {{"ipv6-prefix", 0, 0, true, true, "BITS", "128", "whitelist the client's /BITS"},
     KEY_UINT,
     F(ipv6_prefix),
     1,
     128},
    {{"pflog-interface", 'p', 0, true, true, "IF", DEFAULT_PFLOG_INTERFACE,
      "pflog backend: capture from IF"},
     KEY_NAME,
     F(pflog_interface),
     1,
     63},
    {{"pcap-filter", 'l', 0, true, true, "FILTER", NULL,
      "pflog backend: BPF filter (default: SYNs to port 25)"},
     KEY_STR,
     F(pcap_filter),
     0,
     1024},
    {{"table", 0, 0, true, true, "NAME", "mx-white", "pf table"}, KEY_NAME, F(table), 1, 31},
    {{"ipset", 0, 0, true, true, "NAME", "mx-white", "IPv4 ipset"}, KEY_NAME, F(ipset), 1, 31},
    {{"ipset6", 0, 0, true, true, "NAME", "mx-white6", "IPv6 ipset"}, KEY_NAME, F(ipset6), 1, 31},
    {{"user", 0, 0, true, true, "USER", NULL, "run as USER after start-up"},
     KEY_NAME,
     F(user),
     1,
     31},
    {{"group", 0, 0, true, true, "GROUP", NULL, "with GROUP (default: USER's group)"},
     KEY_NAME,
     F(group),
     1,
     31},
    {{"state-file", 0, 0, true, true, "PATH|none", DEFAULT_STATE_FILE,
      "keep the whitelist across restarts in PATH"},
     KEY_PATH_OR_NONE,
     F(state_file),
     0,
     0},
    {{"save-interval", 0, 0, true, false, "SECONDS", "60",
      "write the state file this often when the whitelist changed"},
     KEY_UINT,
     F(save_interval),
     1,
     86400},
    {{"allow", 0, 0, true, false, "NETWORK", NULL,
      "accept clients of NETWORK (ADDR or ADDR/BITS) at the real MX (repeatable)"},
     KEY_LIST,
     F(allow),
     0,
     0,
     check_network},
    {{"allow-file", 0, 0, true, false, "FILE", NULL,
      "accept the networks listed in FILE, one a line (repeatable)"},
     KEY_LIST,
     F(allow_files),
     0,
     0,
     check_abs_path},
    {{"metrics-listen", 0, 0, true, true, "ADDR:PORT", NULL,
      "serve Prometheus metrics at http://ADDR:PORT/metrics ([ADDR]:PORT for IPv6)"},
     KEY_STR,
     F(metrics_listen),
     1,
     64,
     check_listen},
    /* Held verdicts and trusted sending domains (docs/trust.md). */
    {{"hold-time", 0, 0, true, false, "MS", "800",
      "hold a stranger's SYN at most MS milliseconds while its rDNS is checked (0: no hold)"},
     KEY_UINT,
     F(hold_time),
     0,
     900,
     check_hold_time},
    {{"hold-max", 0, 0, true, false, "N", "256",
      "hold at most N SYNs at once (at most half of queue-maxlen; 0: no hold)"},
     KEY_UINT,
     F(hold_max),
     0,
     65535},
    {{"domain-trust", 0, 0, true, false, "yes|no", "yes",
      "accept forward-confirmed names of a registrable domain with a fake-MX member"},
     KEY_BOOL,
     F(domain_trust),
     0,
     0},
    {{"trust-domain", 0, 0, true, false, "DOMAIN", NULL,
      "accept forward-confirmed names at or under DOMAIN (repeatable)"},
     KEY_LIST,
     F(trust_domain),
     0,
     0,
     check_domain},
    {{"domain-trust-exclude", 0, 0, true, false, "GLOB", NULL,
      "names matching GLOB never count for domain trust (repeatable)"},
     KEY_LIST,
     F(domain_trust_exclude),
     0,
     0,
     check_glob},
    /*
     * Renewal on use. Default: spamd's whitelist lifetime (36 days). At most a
     * year: an address that sent nothing for longer may well have changed hands.
     */
    {{"renew-time", 0, 0, true, false, "SECONDS", "3110400",
      "a client's accepted real-MX connection keeps it whitelisted this long (0: off)"},
     KEY_UINT,
     F(renew_time),
     0,
     31536000},
    /* The control socket: made at start, before privileges are dropped (restart-only). */
    {{"control-socket", 0, 0, true, true, "PATH|none", DEFAULT_CONTROL_SOCKET,
      "UNIX socket for mxallowctl (none: no control socket)"},
     KEY_PATH_OR_NONE,
     F(control_socket),
     0,
     0},
    {{"control-group", 0, 0, true, true, "GROUP", NULL,
      "members of GROUP may use the control socket too (mode 0660)"},
     KEY_NAME,
     F(control_group),
     1,
     31},
    /* Kernel table writer, chosen at run time; with --backend nfqueue it makes hybrid mode. */
    {{"table-writer", 0, 0, true, true, "auto|ipset|nft|pf|none", "auto",
      "kernel table: auto (table mode: the system's; nfqueue: none), ipset, nft, pf, none; "
      "with --backend nfqueue a writer makes hybrid mode"},
     KEY_STR,
     F(table_writer),
     1,
     8,
     check_table_writer},
    {{"nft-table", 0, 0, true, true, "NAME", "mxallowd", "nft table (family inet)"},
     KEY_NAME,
     F(nft_table),
     1,
     63},
    {{"nft-set4", 0, 0, true, true, "NAME", "white4", "nft set for IPv4 (type ipv4_addr)"},
     KEY_NAME,
     F(nft_set4),
     1,
     63},
    {{"nft-set6", 0, 0, true, true, "NAME", "white6", "nft set for IPv6 (type ipv6_addr)"},
     KEY_NAME,
     F(nft_set6),
     1,
     63},
    {{"redis", 0, 0, true, true, "URL", NULL,
      "share the whitelist with other hosts through Redis at URL "
      "(redis://[:PASSWORD@]HOST[:PORT][/DB] or unix:/PATH)"},
     KEY_STR,
     F(redis),
     1,
     1024,
     check_redis,
     redisurl_mask},
    {{"redis-prefix", 0, 0, true, true, "PREFIX",
      "mxallowd:", "prefix of the shared whitelist's keys and channel"},
     KEY_NAME,
     F(redis_prefix),
     1,
     64},
    {{"node-name", 0, 0, true, true, "NAME", NULL,
      "this host's name among the hosts sharing the whitelist (default: the host name)"},
     KEY_NAME,
     F(node_name),
     1,
     SYNCWIRE_NODE_MAX,
     check_node},
    {{"stdout", 's', 0, false, true, NULL, "no", "log to stdout instead of syslog"},
     KEY_BOOL,
     F(log_stdout),
     0,
     0},
    {{"quiet", 'q', 0, false, false, NULL, "no", "log errors only"}, KEY_BOOL, F(quiet), 0, 0},
    {{"foreground", 'F', 0, false, true, NULL, "no", "do not detach"},
     KEY_BOOL,
     F(foreground),
     0,
     0},
    {{"pidfile", 0, 0, true, true, "FILE", NULL, "write the process id to FILE"},
     KEY_PATH,
     F(pidfile),
     0,
     0},
};

#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

static bool key_is_string(const struct key *k)
{
	return k->type == KEY_PATH || k->type == KEY_STR || k->type == KEY_NAME ||
	       k->type == KEY_BACKEND || k->type == KEY_PATH_OR_NONE;
}

static bool key_is_list(const struct key *k)
{
	return k->type == KEY_FAKE || k->type == KEY_REAL || k->type == KEY_LIST;
}

size_t config_key_count(void)
{
	return N_KEYS;
}

const struct config_key_info *config_key_info(size_t i)
{
	return i < N_KEYS ? &keys[i].info : NULL;
}

int config_key_by_short(int c)
{
	for (size_t i = 0; c && i < N_KEYS; i++)
		if (keys[i].info.short_opt == c || keys[i].info.alt_short == c)
			return (int)i;
	return -1;
}

void config_init(struct config *c)
{
	char err[CONFIG_ERRLEN];

	memset(c, 0, sizeof(*c));
	/* Every default is a valid value (a unit test checks it); only memory can fail. */
	for (size_t i = 0; i < N_KEYS; i++)
		if (keys[i].info.def)
			(void)config_set(c, keys[i].info.name, keys[i].info.def, "default", err,
			                 sizeof(err));
}

static void list_clear(struct config_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].spec);
		free(l->v[i].origin);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static char **string_field(struct config *c, const struct key *k)
{
	return (char **)((char *)c + k->offset);
}

static const char *string_value(const struct config *c, const struct key *k)
{
	return *(char *const *)((const char *)c + k->offset);
}

void config_clear(struct config *c)
{
	for (size_t i = 0; i < N_KEYS; i++)
		if (key_is_list(&keys[i]))
			list_clear((struct config_list *)((char *)c + keys[i].offset));
	for (size_t i = 0; i < N_KEYS; i++)
		if (key_is_string(&keys[i]))
			free(*string_field(c, &keys[i]));
	memset(c, 0, sizeof(*c));
}

static const struct key *key_find(const char *name)
{
	for (size_t i = 0; i < N_KEYS; i++)
		if (strcmp(keys[i].info.name, name) == 0)
			return &keys[i];
	return NULL;
}

bool config_key_exists(const char *key)
{
	return key_find(key) != NULL;
}

bool config_key_is_bool(const char *key)
{
	const struct key *k = key_find(key);

	return k && k->type == KEY_BOOL;
}

static int list_add(struct config_list *l, const char *spec, const char *origin)
{
	struct config_server *v = realloc(l->v, (l->n + 1) * sizeof(*v));
	char *s, *o;

	if (!v)
		return -ENOMEM;
	l->v = v;
	s = strdup(spec);
	o = strdup(origin);
	if (!s || !o) {
		free(s);
		free(o);
		return -ENOMEM;
	}
	l->v[l->n].spec = s;
	l->v[l->n].origin = o;
	l->n++;
	return 0;
}

static int parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};

	if (!v) {
		*out = true;
		return 0;
	}
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

static int parse_uint(const char *v, uint32_t min, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long long n;

	if (!v || *v < '0' || *v > '9')
		return -EINVAL;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno || *end || n < min || n > max)
		return -EINVAL;
	*out = (uint32_t)n;
	return 0;
}

/* A server name: an address literal or a plausible host name. */
static bool server_spec_ok(const char *v)
{
	mxa_addr a;

	if (!v || !*v || strlen(v) > 253)
		return false;
	if (addr_parse(&a, v) == 0)
		return true;
	for (const char *p = v; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_'))
			return false;
	return true;
}

static bool string_ok(const struct key *k, const char *v)
{
	size_t n;

	if (!v)
		return false;
	n = strlen(v);
	if (k->type == KEY_BACKEND)
		return strcmp(v, "nfqueue") == 0 || strcmp(v, "pflog") == 0;
	if (n < k->min || n > k->max)
		return false;
	for (const char *p = v; k->type == KEY_NAME && *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' || *p == ':'))
			return false;
	return true;
}

/* Replaces the string in @field by a copy of @value; @field keeps its value on failure. */
static int set_string(char **field, const char *value, const char *origin, const char *key,
                      char *err, size_t errlen)
{
	char *s = strdup(value);

	if (!s) {
		snprintf(err, errlen, "%s: %s: out of memory", origin, key);
		return -ENOMEM;
	}
	free(*field);
	*field = s;
	return 0;
}

int config_set(struct config *c, const char *key, const char *value, const char *origin, char *err,
               size_t errlen)
{
	const struct key *k = key_find(key);
	void *field;
	bool b;
	uint32_t u;
	char why[CONFIG_ERRLEN / 2];

	if (!k) {
		snprintf(err, errlen, "%s: unknown key '%s'", origin, key);
		return -ENOENT;
	}
	if (k->check && value && k->check(value, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "%s: %s: %s", origin, key, why);
		return -EINVAL;
	}
	field = (char *)c + k->offset;
	switch (k->type) {
	case KEY_LIST:
		if (!value) {
			snprintf(err, errlen, "%s: %s needs a value", origin, key);
			return -EINVAL;
		}
		if (list_add(field, value, origin) < 0) {
			snprintf(err, errlen, "%s: %s: out of memory", origin, key);
			return -ENOMEM;
		}
		return 0;
	case KEY_FAKE:
	case KEY_REAL:
		if (!server_spec_ok(value)) {
			snprintf(err, errlen, "%s: %s: '%s' is not an address or host name", origin,
			         key, value ? value : "");
			return -EINVAL;
		}
		if (list_add(field, value, origin) < 0) {
			snprintf(err, errlen, "%s: %s: out of memory", origin, key);
			return -ENOMEM;
		}
		return 0;
	case KEY_UINT:
		if (parse_uint(value, k->min, k->max, &u) < 0) {
			snprintf(err, errlen,
			         "%s: %s: '%s' is not a whole number from %" PRIu32 " to %" PRIu32,
			         origin, key, value ? value : "", k->min, k->max);
			return -EINVAL;
		}
		*(uint32_t *)field = u;
		return 0;
	case KEY_BOOL:
		if (parse_bool(value, &b) < 0) {
			snprintf(err, errlen, "%s: %s: '%s' is not yes or no", origin, key, value);
			return -EINVAL;
		}
		*(bool *)field = b;
		return 0;
	case KEY_PATH:
		if (!value || value[0] != '/') {
			snprintf(err, errlen, "%s: %s: '%s' is not an absolute path", origin, key,
			         value ? value : "");
			return -EINVAL;
		}
		return set_string(field, value, origin, key, err, errlen);
	case KEY_PATH_OR_NONE:
		if (value && strcmp(value, "none") == 0) {
			free(*(char **)field);
			*(char **)field = NULL;
			return 0;
		}
		if (!value || value[0] != '/') {
			snprintf(err, errlen, "%s: %s: '%s' is not an absolute path or none",
			         origin, key, value ? value : "");
			return -EINVAL;
		}
		return set_string(field, value, origin, key, err, errlen);
	case KEY_STR:
	case KEY_NAME:
	case KEY_BACKEND:
		if (!string_ok(k, value) && k->type == KEY_NAME) {
			snprintf(err, errlen,
			         "%s: %s: '%s' is not a name of %" PRIu32 " to %" PRIu32
			         " letters, digits, - _ . :",
			         origin, key, value ? value : "", k->min, k->max);
			return -EINVAL;
		}
		if (!string_ok(k, value)) {
			snprintf(err, errlen, "%s: %s: '%s' is not %s", origin, key,
			         value ? value : "",
			         k->type == KEY_BACKEND ? "nfqueue or pflog" : "a valid value");
			return -EINVAL;
		}
		return set_string(field, value, origin, key, err, errlen);
	}
	return -EINVAL;
}

bool config_key_format(const struct config *c, size_t i, size_t item, char *buf, size_t len,
                       const char **origin)
{
	const struct key *k = i < N_KEYS ? &keys[i] : NULL;
	const void *field;
	const struct config_list *l;

	if (origin)
		*origin = NULL;
	if (!k || (!key_is_list(k) && item > 0))
		return false;
	field = (const char *)c + k->offset;
	switch (k->type) {
	case KEY_FAKE:
	case KEY_REAL:
	case KEY_LIST:
		l = field;
		if (item >= l->n)
			return false;
		snprintf(buf, len, "%s", l->v[item].spec);
		if (origin)
			*origin = l->v[item].origin;
		return true;
	case KEY_UINT:
		snprintf(buf, len, "%" PRIu32, *(const uint32_t *)field);
		return true;
	case KEY_BOOL:
		snprintf(buf, len, "%s", *(const bool *)field ? "yes" : "no");
		return true;
	case KEY_PATH:
	case KEY_STR:
	case KEY_NAME:
	case KEY_BACKEND:
		if (!string_value(c, k))
			return false;
		if (k->show)
			k->show(string_value(c, k), buf, len);
		else
			snprintf(buf, len, "%s", string_value(c, k));
		return true;
	case KEY_PATH_OR_NONE:
		snprintf(buf, len, "%s", string_value(c, k) ? string_value(c, k) : "none");
		return true;
	}
	return false;
}

static bool same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool key_same(const struct key *k, const struct config *a, const struct config *b)
{
	const void *fa = (const char *)a + k->offset, *fb = (const char *)b + k->offset;
	const struct config_list *la = fa, *lb = fb;

	switch (k->type) {
	case KEY_FAKE:
	case KEY_REAL:
	case KEY_LIST:
		if (la->n != lb->n)
			return false;
		for (size_t i = 0; i < la->n; i++)
			if (strcmp(la->v[i].spec, lb->v[i].spec) != 0)
				return false;
		return true;
	case KEY_UINT:
		return *(const uint32_t *)fa == *(const uint32_t *)fb;
	case KEY_BOOL:
		return *(const bool *)fa == *(const bool *)fb;
	default:
		return same_str(string_value(a, k), string_value(b, k));
	}
}

size_t config_restart_changes(const struct config *running, const struct config *next, char *buf,
                              size_t len)
{
	size_t n = 0, off = 0;

	if (len)
		buf[0] = 0;
	for (size_t i = 0; i < N_KEYS; i++) {
		if (!keys[i].info.restart || key_same(&keys[i], running, next))
			continue;
		if (off < len)
			off += (size_t)snprintf(buf + off, len - off, "%s%s", n ? ", " : "",
			                        keys[i].info.name);
		n++;
	}
	return n;
}

int config_keep_restart(struct config *next, const struct config *running)
{
	for (size_t i = 0; i < N_KEYS; i++) {
		const struct key *k = &keys[i];
		char *s = NULL;

		if (!k->info.restart)
			continue;
		switch (k->type) {
		case KEY_UINT:
			*(uint32_t *)((char *)next + k->offset) =
			    *(const uint32_t *)((const char *)running + k->offset);
			break;
		case KEY_BOOL:
			*(bool *)((char *)next + k->offset) =
			    *(const bool *)((const char *)running + k->offset);
			break;
		case KEY_FAKE:
		case KEY_REAL:
		case KEY_LIST:
			return -EINVAL; /* lists are never restart-only */
		default:
			if (string_value(running, k) && !(s = strdup(string_value(running, k))))
				return -ENOMEM;
			free(*string_field(next, k));
			*string_field(next, k) = s;
			break;
		}
	}
	return 0;
}

size_t config_warnings(const struct config *c, char *buf, size_t len)
{
	size_t n = 0, off = 0;

	if (len)
		buf[0] = 0;
	if (c->ipv4_prefix < CONFIG_WARN_V4_PREFIX) {
		off += (size_t)snprintf(buf + off, off < len ? len - off : 0,
		                        "ipv4-prefix %" PRIu32 ": one fake-MX hit lets in %" PRIu64
		                        " addresses\n",
		                        c->ipv4_prefix, (uint64_t)1 << (32 - c->ipv4_prefix));
		n++;
	}
	if (c->ipv6_prefix < CONFIG_WARN_V6_PREFIX && off < len) {
		off += (size_t)snprintf(buf + off, len - off,
		                        "ipv6-prefix %" PRIu32
		                        ": one fake-MX hit lets in a /%" PRIu32 " network\n",
		                        c->ipv6_prefix, c->ipv6_prefix);
		n++;
	}
	if (off > 0 && off <= len)
		buf[off - 1] = 0; /* no trailing newline */
	return n;
}

static int list_copy(struct config_list *dst, const struct config_list *src)
{
	for (size_t i = 0; i < src->n; i++)
		if (list_add(dst, src->v[i].spec, src->v[i].origin) < 0)
			return -ENOMEM;
	return 0;
}

int config_copy(struct config *dst, const struct config *src)
{
	*dst = *src;
	for (size_t i = 0; i < N_KEYS; i++)
		if (key_is_list(&keys[i]))
			*(struct config_list *)((char *)dst + keys[i].offset) =
			    (struct config_list){0};
	for (size_t i = 0; i < N_KEYS; i++)
		if (key_is_string(&keys[i]))
			*string_field(dst, &keys[i]) = NULL;
	for (size_t i = 0; i < N_KEYS; i++)
		if (key_is_list(&keys[i]) &&
		    list_copy((struct config_list *)((char *)dst + keys[i].offset),
		              (const struct config_list *)((const char *)src + keys[i].offset)) < 0)
			goto oom;
	for (size_t i = 0; i < N_KEYS; i++) {
		const char *v;

		if (!key_is_string(&keys[i]))
			continue; /* only string fields may be read as pointers */
		v = string_value(src, &keys[i]);
		if (v && !(*string_field(dst, &keys[i]) = strdup(v)))
			goto oom;
	}
	return 0;
oom:
	config_clear(dst);
	return -ENOMEM;
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

int config_load_file(struct config *c, const char *path, bool required, char *err, size_t errlen)
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

#define MAX_ADDRS_PER_NAME 64

struct resolved {
	mxa_addr *v;
	size_t n;
	const char **origin; /* parallel to v */
};

static int resolved_add(struct resolved *r, const mxa_addr *a, const char *origin)
{
	mxa_addr *v;
	const char **o;

	for (size_t i = 0; i < r->n; i++)
		if (addr_equal(&r->v[i], a))
			return 0;
	v = realloc(r->v, (r->n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	r->v = v;
	o = realloc(r->origin, (r->n + 1) * sizeof(*o));
	if (!o)
		return -ENOMEM;
	r->origin = o;
	r->v[r->n] = *a;
	r->origin[r->n] = origin;
	r->n++;
	return 0;
}

static int resolve_list(const struct config_list *l, const char *key, config_resolve_fn resolve,
                        void *ctx, struct resolved *out, char *err, size_t errlen)
{
	mxa_addr addrs[MAX_ADDRS_PER_NAME];
	char why[256];
	int n;

	for (size_t i = 0; i < l->n; i++) {
		const struct config_server *s = &l->v[i];

		if (addr_parse(&addrs[0], s->spec) == 0) {
			n = 1;
		} else {
			why[0] = 0;
			n = resolve
			        ? resolve(ctx, s->spec, addrs, MAX_ADDRS_PER_NAME, why, sizeof(why))
			        : -ENOSYS;
			if (n <= 0) {
				snprintf(err, errlen, "%s: %s: cannot resolve '%s'%s%s", s->origin,
				         key, s->spec, why[0] ? ": " : "", why);
				return n < 0 ? n : -ENOENT;
			}
		}
		for (int j = 0; j < n; j++)
			if (resolved_add(out, &addrs[j], s->origin) < 0) {
				snprintf(err, errlen, "%s: out of memory", s->origin);
				return -ENOMEM;
			}
	}
	return 0;
}

int config_resolve_servers(const struct config *c, config_resolve_fn resolve, void *ctx,
                           struct config_servers *out, char *err, size_t errlen)
{
	struct resolved fake = {0}, real = {0};
	char buf[ADDR_STRLEN];
	int r;

	memset(out, 0, sizeof(*out));
	if (c->fake.n == 0) {
		snprintf(err, errlen, "no fake-mailserver given (use -f or 'fake-mailserver')");
		return -EINVAL;
	}
	if (c->real.n == 0) {
		snprintf(err, errlen, "no real-mailserver given (use -r or 'real-mailserver')");
		return -EINVAL;
	}
	r = resolve_list(&c->fake, "fake-mailserver", resolve, ctx, &fake, err, errlen);
	if (r == 0)
		r = resolve_list(&c->real, "real-mailserver", resolve, ctx, &real, err, errlen);
	for (size_t i = 0; r == 0 && i < fake.n; i++)
		for (size_t j = 0; j < real.n; j++)
			if (addr_equal(&fake.v[i], &real.v[j])) {
				snprintf(err, errlen,
				         "%s: real-mailserver %s is also a fake-mailserver (%s)",
				         real.origin[j], addr_format(&real.v[j], buf),
				         fake.origin[i]);
				r = -EINVAL;
				break;
			}
	free(fake.origin);
	free(real.origin);
	if (r < 0) {
		free(fake.v);
		free(real.v);
		return r;
	}
	out->fake = fake.v;
	out->n_fake = fake.n;
	out->real = real.v;
	out->n_real = real.n;
	return 0;
}

void config_servers_clear(struct config_servers *s)
{
	free(s->fake);
	free(s->real);
	memset(s, 0, sizeof(*s));
}

int config_parse_listen(const char *s, mxa_addr *addr, uint16_t *port, char *why, size_t whylen)
{
	char host[ADDR_STRLEN];
	const char *start = s, *end, *p;
	bool v6 = s[0] == '[';
	uint32_t n = 0;

	if (v6) {
		start = s + 1;
		end = strchr(start, ']');
		p = end && end[1] == ':' ? end + 2 : NULL;
	} else {
		end = strchr(s, ':');
		p = end ? end + 1 : NULL;
	}
	/* The brackets tell the families apart: an IPv6 address inside, an IPv4 one without. */
	if (!p || end == start || (size_t)(end - start) >= sizeof(host))
		goto bad;
	memcpy(host, start, (size_t)(end - start));
	host[end - start] = 0;
	if (addr_parse(addr, host) < 0 || (strchr(host, ':') != NULL) != v6)
		goto bad;
	for (const char *q = p; *q; q++)
		if (*q < '0' || *q > '9' || (n = n * 10 + (uint32_t)(*q - '0')) > 65535)
			n = 65536;
	if (!*p || n == 0 || n > 65535) {
		snprintf(why, whylen, "'%s': the port is not a number from 1 to 65535", s);
		return -EINVAL;
	}
	*port = (uint16_t)n;
	return 0;
bad:
	snprintf(why, whylen, "'%s' is not ADDR:PORT (IPv4) or [ADDR]:PORT (IPv6)", s);
	return -EINVAL;
}
