/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "syncwire.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

bool syncwire_node_ok(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z') ||
		      (s[n] >= '0' && s[n] <= '9') || s[n] == '.' || s[n] == '-' || s[n] == '_'))
			return false;
	return n >= 1 && n <= SYNCWIRE_NODE_MAX;
}

static bool zero(const mxa_addr *a)
{
	static const mxa_addr z;

	return addr_equal(a, &z);
}

static unsigned max_bits(const mxa_addr *a)
{
	return addr_is_v4(a) ? 32 : 128;
}

static bool masked(const mxa_addr *a, unsigned bits)
{
	mxa_addr m;

	addr_mask(&m, a, bits > 32 ? 32 : bits, bits);
	return addr_equal(&m, a);
}

int syncwire_format(const struct syncwire_msg *m, char *buf, size_t len)
{
	static const char *const kinds[] = {"entry", "add", "del", "hello"};
	char a[ADDR_STRLEN], o[ADDR_STRLEN];
	int n;

	if ((unsigned)m->kind > SYNCWIRE_HELLO || !syncwire_node_ok(m->node))
		return -EINVAL;
	if (m->kind == SYNCWIRE_HELLO) {
		n = snprintf(buf, len, "v1 hello node=%s id=%016" PRIx64 " t=%" PRIu64, m->node,
		             m->id, m->t_us);
		return n < 0 || (size_t)n >= len ? -EINVAL : n;
	}
	if (m->bits > max_bits(&m->addr) || !masked(&m->addr, m->bits))
		return -EINVAL;
	addr_format(&m->addr, a);
	if (m->kind == SYNCWIRE_DEL)
		n = snprintf(buf, len, "v1 del node=%s addr=%s/%u t=%" PRIu64, m->node, a, m->bits,
		             m->t_us);
	else if (m->reason < WL_REASON_FAKE_MX || m->reason >= WL_REASON_PEER ||
	         m->reason == WL_REASON_STATIC || m->deadline <= 0 || m->last_use < 0)
		return -EINVAL;
	else
		n = snprintf(buf, len,
		             "v1 %s node=%s addr=%s/%u reason=%s origin=%s deadline=%" PRId64
		             " last-use=%" PRId64 " t=%" PRIu64,
		             kinds[m->kind], m->node, a, m->bits, whitelist_reason_name(m->reason),
		             zero(&m->origin) ? "-" : addr_format(&m->origin, o), m->deadline,
		             m->last_use, m->t_us);
	return n < 0 || (size_t)n >= len ? -EINVAL : n;
}

/* The parser's cursor over the fields of one line. */
struct cursor {
	const char *p, *end;
	char *why;
	size_t whylen;
};

static int bad(struct cursor *c, const char *what)
{
	snprintf(c->why, c->whylen, "%s", what);
	return -EINVAL;
}

/* The next space-separated word, which must be "NAME=VALUE": VALUE into @val. */
static int field(struct cursor *c, const char *name, char *val, size_t vlen)
{
	size_t nl = strlen(name), wl;
	const char *w = c->p, *sp;

	if (c->p >= c->end)
		return snprintf(c->why, c->whylen, "'%s' is missing", name), -EINVAL;
	sp = memchr(w, ' ', (size_t)(c->end - w));
	wl = sp ? (size_t)(sp - w) : (size_t)(c->end - w);
	if (wl <= nl || strncmp(w, name, nl) != 0 || w[nl] != '=')
		return snprintf(c->why, c->whylen, "expected '%s=' at '%.*s'", name,
		                (int)(wl > 24 ? 24 : wl), w),
		       -EINVAL;
	if (wl - nl - 1 >= vlen)
		return snprintf(c->why, c->whylen, "'%s' is too long", name), -EINVAL;
	memcpy(val, w + nl + 1, wl - nl - 1);
	val[wl - nl - 1] = 0;
	for (char *q = val; *q; q++)
		if ((unsigned char)*q < 0x21 || (unsigned char)*q > 0x7e)
			return snprintf(c->why, c->whylen, "'%s' has a non-printable byte", name),
			       -EINVAL;
	c->p = sp ? sp + 1 : c->end;
	return 0;
}

static bool num(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t n = strlen(s);

	if (n == 0 || n > 20 || (n > 1 && s[0] == '0'))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

/* Exactly 16 lower-case hexadecimal digits. */
static bool hex16(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	size_t n = 0;

	for (; s[n]; n++) {
		char ch = s[n];

		if (n == 16 || !((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
			return false;
		v = v << 4 | (uint64_t)(ch <= '9' ? ch - '0' : ch - 'a' + 10);
	}
	*out = v;
	return n == 16;
}

/* A canonical address: formatting it again gives the same text. */
static bool canonical_addr(const char *s, mxa_addr *a)
{
	char back[ADDR_STRLEN];

	return addr_parse(a, s) == 0 && strcmp(addr_format(a, back), s) == 0;
}

static int parse_net(struct cursor *c, struct syncwire_msg *m)
{
	char v[ADDR_STRLEN + 8], *slash;
	uint64_t bits;

	if (field(c, "addr", v, sizeof(v)) < 0)
		return -EINVAL;
	slash = strchr(v, '/');
	if (!slash)
		return bad(c, "addr has no /BITS");
	*slash = 0;
	if (!canonical_addr(v, &m->addr))
		return bad(c, "addr is not an address in canonical form");
	if (!num(slash + 1, max_bits(&m->addr), &bits))
		return bad(c, "addr's /BITS is out of range for its family");
	m->bits = (unsigned)bits;
	if (!masked(&m->addr, m->bits))
		return bad(c, "addr has bits set beyond its /BITS");
	return 0;
}

static int parse_reason(struct cursor *c, struct syncwire_msg *m)
{
	char v[32];

	if (field(c, "reason", v, sizeof(v)) < 0)
		return -EINVAL;
	for (int r = WL_REASON_FAKE_MX; r < WL_REASON_PEER; r++)
		if (r != WL_REASON_STATIC &&
		    strcmp(v, whitelist_reason_name((enum wl_reason)r)) == 0) {
			m->reason = (enum wl_reason)r;
			return 0;
		}
	return bad(c, "unknown or unshared reason");
}

int syncwire_parse(const char *s, size_t len, struct syncwire_msg *m, char *why, size_t whylen)
{
	struct cursor c = {s, s + len, why, whylen};
	char v[SYNCWIRE_NODE_MAX + 2];
	uint64_t n;

	memset(m, 0, sizeof(*m));
	if (len > SYNCWIRE_LINE_MAX)
		return bad(&c, "longer than 512 bytes");
	if (len < 3 || memcmp(s, "v1 ", 3) != 0)
		return bad(&c,
		           "does not start with 'v1 ' (not an mxallowd entry, or a newer format)");
	c.p += 3;
	if (c.end - c.p >= 6 && memcmp(c.p, "entry ", 6) == 0)
		m->kind = SYNCWIRE_ENTRY, c.p += 6;
	else if (c.end - c.p >= 4 && memcmp(c.p, "add ", 4) == 0)
		m->kind = SYNCWIRE_ADD, c.p += 4;
	else if (c.end - c.p >= 4 && memcmp(c.p, "del ", 4) == 0)
		m->kind = SYNCWIRE_DEL, c.p += 4;
	else if (c.end - c.p >= 6 && memcmp(c.p, "hello ", 6) == 0)
		m->kind = SYNCWIRE_HELLO, c.p += 6;
	else
		return bad(&c, "neither entry, add, del nor hello");
	if (field(&c, "node", v, sizeof(v)) < 0)
		return -EINVAL;
	if (!syncwire_node_ok(v))
		return bad(&c, "node is not 1 to 63 letters, digits, '.', '-', '_'");
	memcpy(m->node, v, strlen(v) + 1);
	if (m->kind == SYNCWIRE_HELLO) {
		if (field(&c, "id", v, sizeof(v)) < 0)
			return -EINVAL;
		if (!hex16(v, &m->id))
			return bad(&c, "id is not 16 hexadecimal digits");
	} else if (parse_net(&c, m) < 0)
		return -EINVAL;
	if (m->kind == SYNCWIRE_ENTRY || m->kind == SYNCWIRE_ADD) {
		char o[ADDR_STRLEN + 1];

		if (parse_reason(&c, m) < 0 || field(&c, "origin", o, sizeof(o)) < 0)
			return -EINVAL;
		if (strcmp(o, "-") != 0 && !canonical_addr(o, &m->origin))
			return bad(&c, "origin is neither '-' nor an address in canonical form");
		if (field(&c, "deadline", v, sizeof(v)) < 0)
			return -EINVAL;
		if (!num(v, INT64_MAX, &n) || n == 0)
			return bad(&c, "deadline is not a positive number");
		m->deadline = (int64_t)n;
		if (field(&c, "last-use", v, sizeof(v)) < 0)
			return -EINVAL;
		if (!num(v, INT64_MAX, &n))
			return bad(&c, "last-use is not a number");
		m->last_use = (int64_t)n;
	}
	if (field(&c, "t", v, sizeof(v)) < 0)
		return -EINVAL;
	if (!num(v, UINT64_MAX, &m->t_us))
		return bad(&c, "t is not a number");
	if (c.p != c.end || (len && s[len - 1] == ' '))
		return bad(&c, "unexpected text after the last field");
	return 0;
}

int syncwire_key(const char *prefix, const mxa_addr *addr, unsigned bits, char *buf, size_t len)
{
	char a[ADDR_STRLEN];
	int n;

	if (bits > max_bits(addr))
		return -EINVAL;
	n = snprintf(buf, len, "%se:%s/%u", prefix, addr_format(addr, a), bits);
	return n < 0 || (size_t)n >= len ? -EINVAL : n;
}

int syncwire_key_parse(const char *prefix, const char *key, size_t len, mxa_addr *addr,
                       unsigned *bits)
{
	size_t pl = strlen(prefix);
	char rest[ADDR_STRLEN + 8], *slash;
	uint64_t b;

	if (len < pl + 2 || memcmp(key, prefix, pl) != 0 || memcmp(key + pl, "e:", 2) != 0)
		return -EINVAL;
	key += pl + 2;
	len -= pl + 2;
	if (len >= sizeof(rest) || memchr(key, 0, len))
		return -EINVAL;
	memcpy(rest, key, len);
	rest[len] = 0;
	slash = strchr(rest, '/');
	if (!slash)
		return -EINVAL;
	*slash = 0;
	if (!canonical_addr(rest, addr) || !num(slash + 1, max_bits(addr), &b) ||
	    !masked(addr, (unsigned)b))
		return -EINVAL;
	*bits = (unsigned)b;
	return 0;
}

int64_t syncwire_lifetime(int64_t deadline, int64_t now, int64_t ttl_ms, int64_t max,
                          int64_t *skew_s)
{
	int64_t left = deadline - now, life;

	*skew_s = 0;
	if (ttl_ms >= 0) {
		life = ttl_ms / 1000 + (ttl_ms % 1000 ? 1 : 0); /* the key's own end */
		if (left - life > SYNCWIRE_SKEW_TOLERANCE_S ||
		    life - left > SYNCWIRE_SKEW_TOLERANCE_S)
			*skew_s = left - life;
	} else {
		life = left;
		if (left < -SYNCWIRE_SKEW_TOLERANCE_S)
			*skew_s = left;
	}
	if (life > max) {
		if (ttl_ms < 0 || *skew_s == 0)
			*skew_s = life - max;
		life = max;
	}
	return life > 0 ? life : 0;
}

int64_t syncwire_lag_us(uint64_t t_us, uint64_t now_us, uint64_t max_us)
{
	if (t_us > now_us)
		return t_us - now_us > 1000000u ? -1 : 0;
	return now_us - t_us > max_us ? -1 : (int64_t)(now_us - t_us);
}

void syncwire_origin_from_node(mxa_addr *origin, const char *node)
{
	size_t n = strlen(node);

	memset(origin, 0, sizeof(*origin));
	memcpy(origin->b, node, n < sizeof(origin->b) ? n : sizeof(origin->b));
}

const char *syncwire_origin_node(const mxa_addr *origin, char *buf)
{
	size_t n = 0;

	while (n < sizeof(origin->b) && origin->b[n]) {
		unsigned char ch = origin->b[n];

		buf[n] = (char)(ch > 0x20 && ch < 0x7f ? ch : '?');
		n++;
	}
	buf[n] = 0;
	return buf;
}
