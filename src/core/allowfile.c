/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "allowfile.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

int allowfile_parse_line(char *line, mxa_addr *net, unsigned *prefix, char *why, size_t whylen)
{
	char *hash = strchr(line, '#'), *s, *e;

	if (hash)
		*hash = 0;
	for (s = line; isspace((unsigned char)*s); s++)
		;
	for (e = s + strlen(s); e > s && isspace((unsigned char)e[-1]); e--)
		;
	*e = 0;
	if (!*s)
		return 0;
	for (char *p = s; *p; p++)
		if (isspace((unsigned char)*p)) {
			snprintf(why, whylen, "'%s': one network a line (a comment starts with #)",
			         s);
			return -EINVAL;
		}
	return netset_parse(s, net, prefix, why, whylen) < 0 ? -EINVAL : 1;
}

static int too_many(const char *place, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: more than %d networks in the allow lists", place, NETSET_MAX);
	return -ENOSPC;
}

int allowfile_read(struct netset *set, FILE *f, const char *name, char *err, size_t errlen)
{
	char *line = NULL, why[CONFIG_ERRLEN / 2];
	size_t cap = 0;
	ssize_t got;
	uint32_t lineno = 0;
	int r = 0;

	while ((got = getline(&line, &cap, f)) != -1) {
		mxa_addr net;
		unsigned prefix;

		lineno++;
		if (got > ALLOWFILE_LINE_MAX) {
			snprintf(err, errlen, "%s:%u: line longer than %d bytes", name, lineno,
			         ALLOWFILE_LINE_MAX);
			r = -EINVAL;
			break;
		}
		if (strlen(line) != (size_t)got) {
			snprintf(err, errlen, "%s:%u: NUL byte: not a text file", name, lineno);
			r = -EINVAL;
			break;
		}
		r = allowfile_parse_line(line, &net, &prefix, why, sizeof(why));
		if (r < 0) {
			snprintf(err, errlen, "%s:%u: %s", name, lineno, why);
			break;
		}
		if (r == 0)
			continue;
		r = netset_add(set, &net, prefix, name, lineno);
		if (r == -ENOSPC) {
			char place[CONFIG_ERRLEN / 2];

			snprintf(place, sizeof(place), "%s:%u", name, lineno);
			r = too_many(place, err, errlen);
			break;
		}
		if (r < 0) {
			snprintf(err, errlen, "%s:%u: out of memory", name, lineno);
			break;
		}
	}
	if (r >= 0 && ferror(f)) {
		snprintf(err, errlen, "%s: read error after line %u", name, lineno);
		r = -EIO;
	}
	free(line);
	return r < 0 ? r : 0;
}

/* One allow-file, named by the key at @origin. */
static int load(struct netset *set, const char *path, const char *origin, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	int r;

	if (!f) {
		r = -errno;
		snprintf(err, errlen, "%s: allow-file %s: cannot open: %s", origin, path,
		         strerror(errno));
		return r;
	}
	r = allowfile_read(set, f, path, err, errlen);
	fclose(f);
	return r;
}

int allowfile_build(const struct config *c, struct netset **out, char *err, size_t errlen)
{
	struct netset *set;
	char why[CONFIG_ERRLEN / 2];
	int r = 0;

	*out = NULL;
	if (c->allow.n == 0 && c->allow_files.n == 0)
		return 0;
	set = netset_new();
	if (!set) {
		snprintf(err, errlen, "allow lists: out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; r == 0 && i < c->allow.n; i++) {
		const struct config_server *a = &c->allow.v[i];
		mxa_addr net;
		unsigned prefix;

		/* Checked by config_set() already; checked again for a config built otherwise. */
		r = netset_parse(a->spec, &net, &prefix, why, sizeof(why));
		if (r < 0)
			snprintf(err, errlen, "%s: allow: %s", a->origin, why);
		else if ((r = netset_add(set, &net, prefix, a->origin, 0)) == -ENOSPC)
			r = too_many(a->origin, err, errlen);
		else if (r < 0)
			snprintf(err, errlen, "%s: allow: out of memory", a->origin);
	}
	for (size_t i = 0; r == 0 && i < c->allow_files.n; i++)
		r = load(set, c->allow_files.v[i].spec, c->allow_files.v[i].origin, err, errlen);
	if (r == 0 && netset_finish(set) < 0) {
		snprintf(err, errlen, "allow lists: out of memory");
		r = -ENOMEM;
	}
	if (r < 0) {
		netset_free(set);
		return r;
	}
	*out = set;
	return 0;
}
