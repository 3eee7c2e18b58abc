/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "text.h"

#include <string.h>

static bool needs_escape(unsigned char c)
{
	return c < 0x21 || c > 0x7e || c == '=' || c == '"' || c == '\\';
}

size_t text_escape(char *out, size_t outlen, const char *in, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t need = 0, o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];
		size_t w = needs_escape(c) ? 4 : 1;

		/* Whole escapes only: a cut one would read as something else. */
		if (o == need && o + w < outlen) {
			if (w == 1) {
				out[o++] = (char)c;
			} else {
				out[o++] = '\\';
				out[o++] = 'x';
				out[o++] = hex[c >> 4];
				out[o++] = hex[c & 15];
			}
		}
		need += w;
	}
	if (outlen)
		out[o] = 0;
	return need;
}

bool text_is_hostname(const char *name)
{
	size_t len = strlen(name), label = 0;

	if (len > 0 && name[len - 1] == '.')
		len--; /* the root: "host.example." */
	if (len == 0 || len > TEXT_HOSTNAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (c == '.') {
			if (label == 0)
				return false; /* empty label: ".x", "x..y" */
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0;
}
