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

/*
 * Words ISPs put in the names of their customers' lines, matched against a
 * whole label or a whole part of one between '-' or '_' (dyn, pool-1-2-3-4,
 * host34-12-dynamic), optionally followed by digits (hsd1, dip0, cust12);
 * "range" only with digits (range86-128). Not "ip", "host" (host1.cust-a.co.uk
 * is a company's server), "mail", "smtp", "out", "mx", "relay", "bulk",
 * "home", "user", "business" or "red": real mail servers' names use them,
 * or the address digits already give the pool away.
 */
static const struct {
	const char *word;
	bool need_digits;
} pool_words[] = {
    {"abo", false},    {"adsl", false},        {"bband", false},    {"broadband", false},
    {"cable", false},  {"catv", false},        {"client", false},   {"clients", false},
    {"cpe", false},    {"cust", false},        {"customer", false}, {"customers", false},
    {"dhcp", false},   {"dial", false},        {"dialup", false},   {"dip", false},
    {"dsl", false},    {"dyn", false},         {"dynamic", false},  {"dynamicip", false},
    {"dynip", false},  {"ftth", false},        {"fttc", false},     {"fttp", false},
    {"fttx", false},   {"fios", false},        {"gprs", false},     {"hsd", false},
    {"lte", false},    {"mobile", false},      {"pool", false},     {"pools", false},
    {"ppp", false},    {"pppoe", false},       {"range", true},     {"res", false},
    {"resi", false},   {"residential", false}, {"retail", false},   {"sdsl", false},
    {"static", false}, {"staticip", false},    {"subs", false},     {"subscriber", false},
    {"vdsl", false},   {"wireless", false},    {"xdsl", false},
};

/* p[0, n) is a pool word, with or without (or with the required) digits after it. */
static bool pool_part(const char *p, size_t n)
{
	size_t letters = n;

	while (letters > 0 && isdigit((unsigned char)p[letters - 1]))
		letters--;
	for (size_t i = 0; i < sizeof(pool_words) / sizeof(pool_words[0]); i++) {
		const char *w = pool_words[i].word;

		if (strlen(w) != letters || memcmp(w, p, letters) != 0)
			continue;
		if (pool_words[i].need_digits ? letters < n : true)
			return true;
	}
	return false;
}

/* A label of s[0, end) (the labels before the registrable domain) holds a pool word. */
static bool pool_named(const char *s, size_t end)
{
	size_t i = 0;

	while (i < end) {
		size_t len = strcspn(s + i, "-_.");

		if (len > 0 && i + len < end && pool_part(s + i, len))
			return true;
		i += len + 1;
	}
	return false;
}

/* Where the last two labels begin: the registrable domain when nothing better is known. */
static size_t last_two_labels(const char *s)
{
	size_t n = strlen(s), dots = 0;

	while (n > 0) {
		if (s[n - 1] == '.' && ++dots == 2)
			return n;
		n--;
	}
	return 0;
}

/* Digit runs of @s: value (saturated) and length. */
struct run {
	unsigned long long v;
	size_t len;
};

#define MAX_RUNS 128

static size_t digit_runs(const char *s, struct run *r, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; s[i] && n < max;) {
		if (!isdigit((unsigned char)s[i])) {
			i++;
			continue;
		}
		r[n] = (struct run){0, 0};
		while (isdigit((unsigned char)s[i])) {
			if (r[n].v < 1000000000000000ull)
				r[n].v = r[n].v * 10 + (unsigned)(s[i] - '0');
			r[n].len++;
			i++;
		}
		n++;
	}
	return n;
}

/* At least three of the four numbers of @o are digit runs of their own, in any order. */
static bool v4_three_octets(const struct run *r, size_t n, const uint8_t o[4])
{
	bool used[MAX_RUNS] = {false};
	int found = 0;

	for (size_t k = 0; k < 4; k++)
		for (size_t i = 0; i < n; i++)
			if (!used[i] && r[i].len <= 3 && r[i].v == o[k]) {
				used[i] = true;
				found++;
				break;
			}
	return found >= 3;
}

static int hex_value(char c)
{
	return c <= '9' ? c - '0' : c - 'a' + 10;
}

/* Four tokens of one or two hex digits, one separator apart, give @o in order or reversed. */
static bool v4_hex_tokens(const char *s, const uint8_t o[4])
{
	for (size_t i = 0; s[i]; i++) {
		int v[4];
		size_t k = 0, j = i;

		if (i > 0 && isalnum((unsigned char)s[i - 1]))
			continue;
		for (; k < 4; k++) {
			size_t d = 0;

			v[k] = 0;
			while (d < 3 && isxdigit((unsigned char)s[j + d]))
				v[k] = v[k] * 16 + hex_value(s[j + d++]);
			if (d == 0 || d > 2 || isalnum((unsigned char)s[j + d]))
				break;
			j += d;
			if (k < 3) {
				if (!s[j])
					break;
				j++;
			}
		}
		if (k == 4 && ((v[0] == o[0] && v[1] == o[1] && v[2] == o[2] && v[3] == o[3]) ||
		               (v[0] == o[3] && v[1] == o[2] && v[2] == o[1] && v[3] == o[0])))
			return true;
	}
	return false;
}

/* @s without its separators: the letters and digits in order. */
static void compacted(const char *s, char *out)
{
	size_t n = 0;

	for (; *s; s++)
		if (isalnum((unsigned char)*s))
			out[n++] = *s;
	out[n] = 0;
}

static bool v4_generic(const char *s, const uint8_t o[4])
{
	struct run r[MAX_RUNS];
	size_t n = digit_runs(s, r, MAX_RUNS);
	unsigned long long whole =
	    (unsigned long long)o[0] << 24 | (unsigned)o[1] << 16 | (unsigned)o[2] << 8 | o[3];
	char c[TRUST_NAME_MAX + 1], hex[9], rhex[9], pad[13], rpad[13];

	if (v4_three_octets(r, n, o))
		return true;
	for (size_t i = 0; i < n; i++)
		if (r[i].len <= 10 && r[i].v == whole && whole > 0xffffff)
			return true; /* the address as one number */
	snprintf(pad, sizeof(pad), "%03u%03u%03u%03u", o[0], o[1], o[2], o[3]);
	snprintf(rpad, sizeof(rpad), "%03u%03u%03u%03u", o[3], o[2], o[1], o[0]);
	if (strstr(s, pad) || strstr(s, rpad))
		return true;
	/* Hex, whatever separates the bytes, also without the leading zero (p50a1f22). */
	compacted(s, c);
	snprintf(hex, sizeof(hex), "%02x%02x%02x%02x", o[0], o[1], o[2], o[3]);
	snprintf(rhex, sizeof(rhex), "%02x%02x%02x%02x", o[3], o[2], o[1], o[0]);
	if (strstr(c, hex + (o[0] < 16)) || strstr(c, rhex + (o[3] < 16)))
		return true;
	return v4_hex_tokens(s, o);
}

/*
 * Hex groups from @s on, one '-' or '.' apart, "--" once for zeros
 * (2001-db8--31, 2a02-8108-1c0-1234): they spell the whole address @g, or
 * its first four groups (its /64) without "--".
 */
static bool v6_groups_at(const char *s, const uint16_t g[8])
{
	unsigned v[8];
	size_t n = 0, gap = 9;

	while (n < 8) {
		size_t d = 0;

		v[n] = 0;
		while (d < 5 && isxdigit((unsigned char)s[d]))
			v[n] = v[n] * 16 + (unsigned)hex_value(s[d++]);
		if (d == 0 || d > 4)
			return false;
		s += d;
		n++;
		if (gap > 8) {
			bool same = true;

			for (size_t k = 0; k < n; k++)
				same = same && v[k] == g[k];
			if (same && (n == 4 || n == 8))
				return true;
		} else if (n < 8) {
			/* v[0, gap) + zeros + v[gap, n) */
			bool same = true;
			size_t tail = n - gap;

			for (size_t k = 0; k < gap; k++)
				same = same && v[k] == g[k];
			for (size_t k = gap; k < 8 - tail; k++)
				same = same && g[k] == 0;
			for (size_t k = 0; k < tail; k++)
				same = same && v[gap + k] == g[8 - tail + k];
			if (same)
				return true;
		}
		if (s[0] == '-' && s[1] == '-' && gap > 8) {
			gap = n;
			s += 2;
		} else if (s[0] == '-' || s[0] == '.') {
			s++;
		} else {
			return false;
		}
	}
	return false;
}

static bool v6_generic(const char *s, const mxa_addr *a)
{
	static const char digits[] = "0123456789abcdef";
	char fwd[33], rev[33], c[TRUST_NAME_MAX + 1];
	uint16_t g[8];

	for (size_t i = 0; i < 16; i++) {
		fwd[2 * i] = digits[a->b[i] >> 4];
		fwd[2 * i + 1] = digits[a->b[i] & 15];
	}
	fwd[32] = 0;
	for (size_t i = 0; i < 32; i++)
		rev[i] = fwd[31 - i];
	rev[32] = 0;
	/* Nibbles, whatever separates them: the address, or its /64 (the last 16 reversed). */
	compacted(s, c);
	if (strstr(c, fwd) || strstr(c, rev + 16))
		return true;
	fwd[16] = 0;
	if (strstr(c, fwd))
		return true;
	/* Groups, dashes for colons, anywhere in the name (ip6-2001-db8--34, 2001-db8--34-dyn). */
	for (size_t i = 0; i < 8; i++)
		g[i] = (uint16_t)(a->b[2 * i] << 8 | a->b[2 * i + 1]);
	for (size_t i = 0; s[i]; i++)
		if (isxdigit((unsigned char)s[i]) && v6_groups_at(s + i, g))
			return true;
	/* NAT64 (64:ff9b::/96): the IPv4 address inside. */
	if (g[0] == 0x64 && g[1] == 0xff9b && !g[2] && !g[3] && !g[4] && !g[5])
		return v4_generic(s, a->b + 12);
	return false;
}

/* @l: lower case, no trailing dot; pool words count only in labels before @words_end. */
static bool generic(const char *l, const mxa_addr *a, size_t words_end)
{
	if (pool_named(l, words_end))
		return true;
	return addr_is_v4(a) ? v4_generic(l, addr_v4_bytes(a)) : v6_generic(l, a);
}

/* Where the registrable domain of @l begins (its labels are the owner's, not a pool's). */
static size_t registrable_start(const struct trust *t, const char *l)
{
	char d[TRUST_NAME_MAX + 1];

	if (t && trust_psl_registrable(t->psl, l, d, sizeof(d)) == 0)
		return strlen(l) - strlen(d);
	return last_two_labels(l);
}

bool trust_is_generic(const struct trust *t, const char *name, const mxa_addr *a)
{
	char l[TRUST_NAME_MAX + 1];

	if (lower(name, l) < 0)
		return false;
	return generic(l, a, registrable_start(t, l));
}

bool trust_is_public_suffix(const struct trust *t, const char *domain)
{
	char l[TRUST_NAME_MAX + 1];
	int r;

	if (lower(domain, l) < 0)
		return false;
	r = trust_psl_is_suffix(t->psl, l);
	return r < 0 ? strchr(l, '.') == NULL : r == 1;
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
	if (trust_is_generic(t, name, a))
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
