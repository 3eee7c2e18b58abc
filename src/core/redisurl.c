/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "redisurl.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes @n bytes of @s (%XX escapes) into @out (@max bytes with the NUL); false when bad. */
static bool decode(const char *s, size_t n, char *out, size_t max)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];

		if (c == '%') {
			if (i + 2 >= n || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0)
				return false;
			c = hexval(s[i + 1]) * 16 + hexval(s[i + 2]);
			i += 2;
			if (c == 0)
				return false;
		}
		if (o + 1 >= max)
			return false;
		out[o++] = (char)c;
	}
	out[o] = 0;
	return true;
}

static bool parse_num(const char *s, size_t n, uint32_t max, uint32_t *out)
{
	uint64_t v = 0;

	if (n == 0 || n > 10)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > max)
		return false;
	*out = (uint32_t)v;
	return true;
}

static bool host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_';
}

/* USER:PASSWORD in @s (@n bytes). */
static int parse_userinfo(const char *s, size_t n, struct redis_url *u, char *why, size_t whylen)
{
	const char *colon = memchr(s, ':', n);

	if (!colon) {
		snprintf(why, whylen, "the password goes after a ':' (redis://:PASSWORD@HOST)");
		return -EINVAL;
	}
	if (!decode(s, (size_t)(colon - s), u->user, sizeof(u->user))) {
		snprintf(why, whylen, "the user name is too long or has a bad %%XX escape");
		return -EINVAL;
	}
	if (!decode(colon + 1, n - (size_t)(colon - s) - 1, u->password, sizeof(u->password))) {
		snprintf(why, whylen, "the password is too long or has a bad %%XX escape");
		return -EINVAL;
	}
	if (!u->password[0]) {
		snprintf(why, whylen, "empty password (leave out ':PASSWORD@' for none)");
		return -EINVAL;
	}
	return 0;
}

static int parse_tcp(const char *s, struct redis_url *u, char *why, size_t whylen)
{
	const char *at = strrchr(s, '@'), *h, *end, *p;
	size_t hn;
	uint32_t v;

	if (at && parse_userinfo(s, (size_t)(at - s), u, why, whylen) < 0)
		return -EINVAL;
	h = at ? at + 1 : s;
	if (*h == '[') {
		mxa_addr a;

		end = strchr(h, ']');
		if (!end || (size_t)(end - h - 1) > REDISURL_HOST_MAX || end == h + 1) {
			snprintf(why, whylen, "an IPv6 host must be written [ADDR]");
			return -EINVAL;
		}
		memcpy(u->host, h + 1, (size_t)(end - h - 1));
		u->host[end - h - 1] = 0;
		if (!strchr(u->host, ':') || addr_parse(&a, u->host) < 0) {
			snprintf(why, whylen, "'[%s]' is not an IPv6 address", u->host);
			return -EINVAL;
		}
		p = end + 1;
	} else {
		for (p = h; host_char(*p); p++)
			;
		hn = (size_t)(p - h);
		if (hn == 0 || hn > REDISURL_HOST_MAX) {
			snprintf(why, whylen, "no host name or address after redis://");
			return -EINVAL;
		}
		memcpy(u->host, h, hn);
		u->host[hn] = 0;
	}
	if (*p == ':') {
		end = p + 1 + strcspn(p + 1, "/");
		if (!parse_num(p + 1, (size_t)(end - p - 1), 65535, &v) || v == 0) {
			snprintf(why, whylen, "the port is not a number from 1 to 65535");
			return -EINVAL;
		}
		u->port = (uint16_t)v;
		p = end;
	}
	if (*p == '/') {
		p++;
		if (*p && !parse_num(p, strlen(p), REDISURL_DB_MAX, &u->db)) {
			snprintf(why, whylen, "the database after '/' is not a number from 0 to %d",
			         REDISURL_DB_MAX);
			return -EINVAL;
		}
		p += strlen(p);
	}
	if (*p) {
		snprintf(why, whylen, "unexpected '%c' after the host", *p);
		return -EINVAL;
	}
	return 0;
}

static int parse_unix(const char *s, struct redis_url *u, char *why, size_t whylen)
{
	const char *at = strrchr(s, '@'), *p, *q;
	size_t n;

	if (at && parse_userinfo(s, (size_t)(at - s), u, why, whylen) < 0)
		return -EINVAL;
	p = at ? at + 1 : s;
	if (*p != '/') {
		snprintf(why, whylen, "the socket path after unix: must be absolute");
		return -EINVAL;
	}
	q = strchr(p, '?');
	n = q ? (size_t)(q - p) : strlen(p);
	if (n > REDISURL_PATH_MAX) {
		snprintf(why, whylen, "the socket path is longer than %d bytes", REDISURL_PATH_MAX);
		return -EINVAL;
	}
	memcpy(u->path, p, n);
	u->path[n] = 0;
	if (q && (strncmp(q, "?db=", 4) != 0 ||
	          !parse_num(q + 4, strlen(q + 4), REDISURL_DB_MAX, &u->db))) {
		snprintf(why, whylen, "after the socket path only ?db=N (0 to %d) may follow",
		         REDISURL_DB_MAX);
		return -EINVAL;
	}
	return 0;
}

int redisurl_parse(const char *s, struct redis_url *out, char *why, size_t whylen)
{
	struct redis_url u;
	int r;

	memset(&u, 0, sizeof(u));
	u.port = REDISURL_DEFAULT_PORT;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f) {
			snprintf(why, whylen, "spaces and control characters are not allowed");
			return -EINVAL;
		}
	if (strncmp(s, "redis://", 8) == 0) {
		r = parse_tcp(s + 8, &u, why, whylen);
	} else if (strncmp(s, "unix:", 5) == 0) {
		u.unix_socket = true;
		r = parse_unix(s + 5, &u, why, whylen);
	} else {
		char m[64];

		redisurl_mask(s, m, sizeof(m));
		snprintf(why, whylen,
		         "'%s' is not redis://[:PASSWORD@]HOST[:PORT][/DB] or unix:/PATH", m);
		return -EINVAL;
	}
	if (r < 0)
		return r;
	*out = u;
	return 0;
}

void redisurl_mask(const char *s, char *buf, size_t len)
{
	const char *at = strrchr(s, '@'), *start = s, *colon;

	if (!len)
		return;
	if (strncmp(s, "redis://", 8) == 0)
		start = s + 8;
	else if (strncmp(s, "unix:", 5) == 0)
		start = s + 5;
	else {
		/* Not a URL we know: what may hold a secret is not shown. */
		if (at)
			snprintf(buf, len, "(not a redis URL)");
		else
			snprintf(buf, len, "%.40s", s);
		return;
	}
	if (!at || at < start) {
		snprintf(buf, len, "%s", s);
		return;
	}
	colon = memchr(start, ':', (size_t)(at - start));
	if (!colon) /* USER only, or a password written without ':': hide it all */
		snprintf(buf, len, "%.*s***%s", (int)(start - s), s, at);
	else
		snprintf(buf, len, "%.*s***%s", (int)(colon + 1 - s), s, at);
}

void redisurl_where(const struct redis_url *u, char *buf, size_t len)
{
	if (u->unix_socket)
		snprintf(buf, len, "unix:%s", u->path);
	else if (strchr(u->host, ':'))
		snprintf(buf, len, "[%s]:%u", u->host, (unsigned)u->port);
	else
		snprintf(buf, len, "%s:%u", u->host, (unsigned)u->port);
}
