/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "trust.h"
#include "trust-psl.h"

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

struct member {
	char *domain; /* NULL: empty cell */
	mxa_addr addr;
	mxa_time deadline;
};

struct trust {
	void *psl;
	bool domain_trust;
	char **trusted;
	size_t n_trusted;
	char **exclude;
	size_t n_exclude;
	uint64_t key[2];
	size_t max, n;
	struct member *cells; /* open addressing, linear probing, load <= 1/2 */
	size_t mask;
};

const char *trust_name_word(enum trust_name v)
{
	switch (v) {
	case TRUST_NAME_OK:
		return "ok";
	case TRUST_NAME_GENERIC:
		return "generic-name";
	case TRUST_NAME_EXCLUDED:
		return "excluded";
	case TRUST_NAME_NO_DOMAIN:
		return "no-registrable-domain";
	}
	return "unknown";
}

struct trust *trust_new(size_t max_members, const uint64_t key[2])
{
	struct trust *t;
	size_t cells = 2;

	if (max_members == 0 || max_members > (1u << 24))
		return NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	while (cells < 2 * max_members)
		cells <<= 1;
	t->cells = calloc(cells, sizeof(*t->cells));
	if (!t->cells) {
		free(t);
		return NULL;
	}
	t->mask = cells - 1;
	t->max = max_members;
	t->key[0] = key[0];
	t->key[1] = key[1];
	t->psl = trust_psl_load();
	return t;
}

static void strings_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

struct trust *trust_free(struct trust *t)
{
	if (t) {
		for (size_t i = 0; i <= t->mask; i++)
			free(t->cells[i].domain);
		free(t->cells);
		strings_free(t->trusted, t->n_trusted);
		strings_free(t->exclude, t->n_exclude);
		trust_psl_release(t->psl);
		free(t);
	}
	return NULL;
}

/* Lower case, without a trailing dot; NULL when out of memory. */
static char *normalized(const char *s)
{
	size_t n = strlen(s);
	char *c;

	if (n && s[n - 1] == '.')
		n--;
	c = malloc(n + 1);
	if (!c)
		return NULL;
	for (size_t i = 0; i < n; i++)
		c[i] = (char)tolower((unsigned char)s[i]);
	c[n] = 0;
	return c;
}

static int strings_copy(char ***out, const char *const *v, size_t n)
{
	char **c = calloc(n ? n : 1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (!(c[i] = normalized(v[i]))) {
			strings_free(c, i);
			return -ENOMEM;
		}
	*out = c;
	return 0;
}

int trust_set_params(struct trust *t, const struct trust_params *p)
{
	char **trusted, **exclude;

	if (strings_copy(&trusted, p->trusted, p->n_trusted) < 0)
		return -ENOMEM;
	if (strings_copy(&exclude, p->exclude, p->n_exclude) < 0) {
		strings_free(trusted, p->n_trusted);
		return -ENOMEM;
	}
	strings_free(t->trusted, t->n_trusted);
	strings_free(t->exclude, t->n_exclude);
	t->trusted = trusted;
	t->n_trusted = p->n_trusted;
	t->exclude = exclude;
	t->n_exclude = p->n_exclude;
	t->domain_trust = p->domain_trust;
	return 0;
}

bool trust_psl_available(const struct trust *t)
{
	return t->psl != NULL;
}

bool trust_domain_on(const struct trust *t)
{
	return t->domain_trust && t->psl;
}

bool trust_any(const struct trust *t)
{
	return trust_domain_on(t) || t->n_trusted > 0;
}

size_t trust_trusted_count(const struct trust *t)
{
	return t->n_trusted;
}

/* @name lower-cased without a trailing dot into @buf (TRUST_NAME_MAX + 1). */
static int lower(const char *name, char *buf)
{
	size_t n = strlen(name);

	if (n && name[n - 1] == '.')
		n--;
	if (n == 0 || n > TRUST_NAME_MAX)
		return -ENAMETOOLONG;
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)tolower((unsigned char)name[i]);
	buf[n] = 0;
	return 0;
}

int trust_registrable(const struct trust *t, const char *name, char *out, size_t len)
{
	char l[TRUST_NAME_MAX + 1];

	if (lower(name, l) < 0)
		return -ENAMETOOLONG;
	return trust_psl_registrable(t->psl, l, out, len);
}

/* ------------------------------------------------------------ generic names */

/* Digit runs of @s: value (saturated), length and the character after each. */
struct run {
	unsigned long long v;
	size_t len;
	size_t start, end; /* [start, end) in the name */
};

#define MAX_RUNS 64

static size_t digit_runs(const char *s, struct run *r, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; s[i] && n < max;) {
		if (!isdigit((unsigned char)s[i])) {
			i++;
			continue;
		}
		r[n] = (struct run){0, 0, i, i};
		while (isdigit((unsigned char)s[i])) {
			if (r[n].v < 1000000000000000ull)
				r[n].v = r[n].v * 10 + (unsigned)(s[i] - '0');
			r[n].len++;
			i++;
		}
		r[n].end = i;
		n++;
	}
	return n;
}

static bool v4_generic(const char *s, const uint8_t o[4])
{
	struct run r[MAX_RUNS];
	size_t n = digit_runs(s, r, MAX_RUNS);
	unsigned long long whole =
	    (unsigned long long)o[0] << 24 | (unsigned)o[1] << 16 | (unsigned)o[2] << 8 | o[3];
	char hex[9], pad[13], rpad[13];

	for (size_t i = 0; i < n; i++) {
		/* Four numbers, one separator between each, in order or reversed. */
		if (i + 3 < n) {
			bool fwd = true, rev = true, tight = true;

			for (size_t k = 0; k < 4; k++) {
				if (r[i + k].len > 3)
					fwd = rev = false;
				if (r[i + k].v != o[k])
					fwd = false;
				if (r[i + k].v != o[3 - k])
					rev = false;
				if (k < 3 && r[i + k + 1].start != r[i + k].end + 1)
					tight = false;
			}
			if ((fwd || rev) && tight)
				return true;
		}
		if (r[i].len <= 10 && r[i].v == whole && whole > 0xffffff)
			return true; /* the address as one number */
	}
	snprintf(pad, sizeof(pad), "%03u%03u%03u%03u", o[0], o[1], o[2], o[3]);
	snprintf(rpad, sizeof(rpad), "%03u%03u%03u%03u", o[3], o[2], o[1], o[0]);
	snprintf(hex, sizeof(hex), "%02x%02x%02x%02x", o[0], o[1], o[2], o[3]);
	return strstr(s, pad) || strstr(s, rpad) || strstr(s, hex);
}

static bool v6_generic(const char *s, const mxa_addr *a)
{
	static const char digits[] = "0123456789abcdef";
	char fwd[33], rev[33], compact[TRUST_NAME_MAX + 1], label[64 + 1];
	size_t n = 0;

	for (size_t i = 0; i < 16; i++) {
		fwd[2 * i] = digits[a->b[i] >> 4];
		fwd[2 * i + 1] = digits[a->b[i] & 15];
	}
	fwd[32] = 0;
	for (size_t i = 0; i < 32; i++)
		rev[i] = fwd[31 - i];
	rev[32] = 0;
	/* Nibbles, whatever separates them. */
	for (const char *p = s; *p; p++)
		if (isalnum((unsigned char)*p))
			compact[n++] = *p;
	compact[n] = 0;
	if (strstr(compact, fwd) || strstr(compact, rev))
		return true;
	/* A label whose dashes read as colons, also after a prefix (ip6-2001-db8--34). */
	for (const char *p = s; *p;) {
		size_t len = strcspn(p, ".");

		if (len < sizeof(label)) {
			memcpy(label, p, len);
			label[len] = 0;
			for (char *q = label; *q; q++)
				if (*q == '-')
					*q = ':';
			for (size_t q = 0; q < len; q++) {
				struct in6_addr in6;

				if (q > 0 && label[q - 1] != ':' &&
				    !(label[q] == ':' && label[q + 1] == ':'))
					continue;
				if (inet_pton(AF_INET6, label + q, &in6) == 1 &&
				    memcmp(&in6, a->b, 16) == 0)
					return true;
			}
		}
		p += len;
		if (*p)
			p++;
	}
	return false;
}

bool trust_is_generic(const char *name, const mxa_addr *a)
{
	char l[TRUST_NAME_MAX + 1];

	if (lower(name, l) < 0)
		return false;
	return addr_is_v4(a) ? v4_generic(l, addr_v4_bytes(a)) : v6_generic(l, a);
}

bool trust_is_excluded(const struct trust *t, const char *name)
{
	char l[TRUST_NAME_MAX + 1];

	if (lower(name, l) < 0)
		return false;
	for (size_t i = 0; i < t->n_exclude; i++)
		if (fnmatch(t->exclude[i], l, 0) == 0)
			return true;
	return false;
}

bool trust_under(const char *name, const char *domain)
{
	size_t n = strlen(name), d = strlen(domain);

	if (n && name[n - 1] == '.')
		n--;
	if (d && domain[d - 1] == '.')
		d--;
	if (d == 0 || n < d || strncasecmp(name + n - d, domain, d) != 0)
		return false;
	return n == d || name[n - d - 1] == '.';
}

const char *trust_trusted_domain(const struct trust *t, const char *name)
{
	for (size_t i = 0; i < t->n_trusted; i++)
		if (trust_under(name, t->trusted[i]))
			return t->trusted[i];
	return NULL;
}

enum trust_name trust_name_check(const struct trust *t, const char *name, const mxa_addr *a,
                                 char *domain, size_t len)
{
	if (trust_is_generic(name, a))
		return TRUST_NAME_GENERIC;
	if (trust_is_excluded(t, name))
		return TRUST_NAME_EXCLUDED;
	if (trust_registrable(t, name, domain, len) < 0)
		return TRUST_NAME_NO_DOMAIN;
	return TRUST_NAME_OK;
}

/* ------------------------------------------------------------ member index */

/* FNV-1a over the key and the name: names come from DNS answers; the key is random. */
static size_t cell_of(const struct trust *t, const char *domain)
{
	uint64_t h = 0xcbf29ce484222325ull ^ t->key[0];

	for (const unsigned char *p = (const unsigned char *)domain; *p; p++)
		h = (h ^ *p) * 0x100000001b3ull;
	h ^= t->key[1];
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return (size_t)h & t->mask;
}

static struct member *find(const struct trust *t, const char *domain)
{
	for (size_t i = cell_of(t, domain);; i = (i + 1) & t->mask) {
		struct member *m = &t->cells[i];

		if (!m->domain)
			return NULL;
		if (strcmp(m->domain, domain) == 0)
			return m;
	}
}

/* Backward-shift deletion: no tombstones, lookups stop at the first empty cell. */
static void remove_cell(struct trust *t, struct member *m)
{
	size_t i = (size_t)(m - t->cells), j = i;

	free(m->domain);
	m->domain = NULL;
	t->n--;
	for (;;) {
		size_t home;

		j = (j + 1) & t->mask;
		if (!t->cells[j].domain)
			return;
		home = cell_of(t, t->cells[j].domain);
		/* Move j into the hole i unless its home lies cyclically in (i, j]. */
		if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
			t->cells[i] = t->cells[j];
			t->cells[j].domain = NULL;
			i = j;
		}
	}
}

int trust_member_put(struct trust *t, const char *domain, const mxa_addr *member, mxa_time deadline,
                     mxa_time now)
{
	struct member *m = find(t, domain), *victim = NULL;
	char *copy;

	if (m) {
		if (m->deadline <= now || deadline >= m->deadline) {
			m->addr = *member;
			m->deadline = deadline;
		}
		return 0;
	}
	copy = normalized(domain);
	if (!copy)
		return -ENOMEM;
	if (t->n >= t->max) {
		/* Full: the entry nearest its end (expired ones first) makes room. */
		for (size_t i = 0; i <= t->mask; i++)
			if (t->cells[i].domain &&
			    (!victim || t->cells[i].deadline < victim->deadline))
				victim = &t->cells[i];
		remove_cell(t, victim);
	}
	for (size_t i = cell_of(t, copy);; i = (i + 1) & t->mask) {
		if (!t->cells[i].domain) {
			t->cells[i] = (struct member){copy, *member, deadline};
			t->n++;
			return 0;
		}
	}
}

bool trust_member_get(const struct trust *t, const char *domain, mxa_addr *member,
                      mxa_time *deadline)
{
	const struct member *m = find(t, domain);

	if (!m)
		return false;
	if (member)
		*member = m->addr;
	if (deadline)
		*deadline = m->deadline;
	return true;
}

bool trust_member_del(struct trust *t, const char *domain)
{
	struct member *m = find(t, domain);

	if (!m)
		return false;
	remove_cell(t, m);
	return true;
}

size_t trust_member_count(const struct trust *t)
{
	return t->n;
}
