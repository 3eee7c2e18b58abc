/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum key_type { KEY_FAKE, KEY_REAL, KEY_UINT, KEY_BOOL, KEY_PATH, KEY_STR, KEY_NAME, KEY_BACKEND };

struct key {
	const char *name;
	enum key_type type;
	size_t offset;
	uint32_t min, max;
};

#define U(name, field, lo, hi)                                                                     \
	{                                                                                          \
		name, KEY_UINT, offsetof(struct config, field), lo, hi                             \
	}
#define B(name, field)                                                                             \
	{                                                                                          \
		name, KEY_BOOL, offsetof(struct config, field), 0, 0                               \
	}

static const struct key keys[] = {
    {"fake-mailserver", KEY_FAKE, offsetof(struct config, fake), 0, 0},
    {"real-mailserver", KEY_REAL, offsetof(struct config, real), 0, 0},
    U("queue-num", queue_num, 0, 65535),
    U("queue-maxlen", queue_maxlen, 1, 1048576),
    U("whitelist-time", whitelist_time, 1, 31536000),
    B("no-rdns-whitelist", no_rdns),
    U("rdns-max", rdns_max, 0, 1024),
    U("log-rate", log_rate, 0, 1000000),
    B("stdout", log_stdout),
    B("quiet", quiet),
    B("foreground", foreground),
    B("fail-open", fail_open),
    {"pidfile", KEY_PATH, offsetof(struct config, pidfile), 0, 0},
    U("max-entries", max_entries, 1, 100000000),
    U("ipv4-prefix", ipv4_prefix, 0, 32),
    U("ipv6-prefix", ipv6_prefix, 0, 128),
    /* Strings: min and max are lengths. A name is a pf table or an ipset set name. */
    {"backend", KEY_BACKEND, offsetof(struct config, backend), 0, 0},
    {"pflog-interface", KEY_NAME, offsetof(struct config, pflog_interface), 1, 63},
    {"pcap-filter", KEY_STR, offsetof(struct config, pcap_filter), 0, 1024},
    {"table", KEY_NAME, offsetof(struct config, table), 1, 31},
    {"ipset", KEY_NAME, offsetof(struct config, ipset), 1, 31},
    {"ipset6", KEY_NAME, offsetof(struct config, ipset6), 1, 31},
};

static bool key_is_string(const struct key *k)
{
	return k->type == KEY_PATH || k->type == KEY_STR || k->type == KEY_NAME ||
	       k->type == KEY_BACKEND;
}

void config_init(struct config *c)
{
	memset(c, 0, sizeof(*c));
	c->queue_num = 23;
	c->queue_maxlen = 1024;
	c->whitelist_time = 3600;
	c->rdns_max = 32;
	c->log_rate = 100;
	c->max_entries = 65536;
	c->ipv4_prefix = 32;
	c->ipv6_prefix = 128;
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

void config_clear(struct config *c)
{
	list_clear(&c->fake);
	list_clear(&c->real);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (key_is_string(&keys[i]))
			free(*(char **)((char *)c + keys[i].offset));
	config_init(c);
}

static const struct key *key_find(const char *name)
{
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(keys[i].name, name) == 0)
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

	if (!k) {
		snprintf(err, errlen, "%s: unknown key '%s'", origin, key);
		return -ENOENT;
	}
	field = (char *)c + k->offset;
	switch (k->type) {
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
	dst->fake = (struct config_list){0};
	dst->real = (struct config_list){0};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (key_is_string(&keys[i]))
			*(char **)((char *)dst + keys[i].offset) = NULL;
	if (list_copy(&dst->fake, &src->fake) < 0 || list_copy(&dst->real, &src->real) < 0)
		goto oom;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *v;

		if (!key_is_string(&keys[i]))
			continue; /* only string fields may be read as pointers */
		v = *(char *const *)((const char *)src + keys[i].offset);
		if (v && !(*(char **)((char *)dst + keys[i].offset) = strdup(v)))
			goto oom;
	}
	return 0;
oom:
	config_clear(dst);
	return -ENOMEM;
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
