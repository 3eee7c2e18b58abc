/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Longest host name in text form (RFC 1035: 255 bytes on the wire), without a trailing dot. */
#define TEXT_HOSTNAME_MAX 253

/* Buffer size that holds text_escape() of @n bytes in full, the NUL included. */
#define TEXT_ESCAPED_SIZE(n) (4 * (n) + 1)

/**
 * text_escape() - @in (@n bytes, NULs allowed) made safe for one key=value log field
 * Bytes outside printable ASCII (0x21..0x7e) and '=', '"' and '\' become \xNN,
 * so a value can neither start a new field nor a new line. Writes at most
 * @outlen bytes, always NUL-terminated (when @outlen > 0), never cutting an
 * escape in half. Returns the length the full escaped text needs (as snprintf).
 */
size_t text_escape(char *out, size_t outlen, const char *in, size_t n);

/**
 * text_is_hostname() - @name is a plain host name: letters, digits, '-', '_'
 * and '.' only, at most TEXT_HOSTNAME_MAX characters, labels of 1 to 63
 * characters (a single trailing dot allowed). What rDNS accepts from a PTR.
 */
bool text_is_hostname(const char *name);
