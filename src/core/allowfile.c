/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "allowfile.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/*
 * One line into @buf (at most ALLOWFILE_LINE_MAX bytes and a NUL): 1, 0 at
 * the end of the file, -EINVAL for a line too long or with a NUL byte, -EIO
 * for a read error. Never more than the bound in memory, whatever the file.
 */
static int read_line(FILE *f, char *buf, size_t *len)
{
	size_t n = 0;
	int c;

	while ((c = getc(f)) != EOF && c != '\n') {
		if (c == 0)
			return -EILSEQ;
		if (n == ALLOWFILE_LINE_MAX)
			return -E2BIG;
		buf[n++] = (char)c;
	}
	buf[n] = 0;
	*len = n;
	if (c == EOF && ferror(f))
		return -EIO;
	return c == EOF && n == 0 ? 0 : 1;
}

int allowfile_read(struct netset *set, FILE *f, const char *name, char *err, size_t errlen)
{
	char line[ALLOWFILE_LINE_MAX + 1], why[CONFIG_ERRLEN / 2];
	size_t len;
	uint32_t lineno = 0;
	int r = 0;

	for (;;) {
		mxa_addr net;
		unsigned prefix;

		r = read_line(f, line, &len);
		if (r == 0)
			break;
		lineno++;
		if (r == -E2BIG) {
			snprintf(err, errlen, "%s:%u: line longer than %d bytes", name, lineno,
			         ALLOWFILE_LINE_MAX);
			r = -EINVAL;
			break;
		}
		if (r == -EILSEQ) {
			snprintf(err, errlen, "%s:%u: NUL byte: not a text file", name, lineno);
			r = -EINVAL;
			break;
		}
		if (r == -EIO) {
			snprintf(err, errlen, "%s:%u: read error: %s", name, lineno,
			         strerror(errno ? errno : EIO));
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
	return r < 0 ? r : 0;
}

/* One allow-file, named by the key at @origin. */
static int load(struct netset *set, const char *path, const char *origin, char *err, size_t errlen)
{
	/* Not blocking on a FIFO or a device: only a regular file is read. */
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY), r;
	struct stat st;
	FILE *f;

	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: allow-file %s: cannot open: %s", origin, path,
		         strerror(errno));
		return r;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: allow-file %s: not a regular file", origin, path);
		close(fd);
		return -EINVAL;
	}
	if (fcntl(fd, F_SETFL, 0) < 0 || !(f = fdopen(fd, "r"))) {
		r = -errno;
		snprintf(err, errlen, "%s: allow-file %s: cannot open: %s", origin, path,
		         strerror(errno));
		close(fd);
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
