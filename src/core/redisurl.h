/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The `redis` key: where the shared whitelist lives (Redis or Valkey).
 *
 *   redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]    HOST: a name, an IPv4 address or [IPv6]
 *   unix:[[USER]:PASSWORD@]/PATH[?db=DB]          a local socket
 *
 * PASSWORD and USER may carry %XX escapes (for ':', '@', '/'). The password
 * never appears in a message: redisurl_mask() is what logs and
 * --check-config show.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REDISURL_DEFAULT_PORT 6379
#define REDISURL_HOST_MAX     255
#define REDISURL_PATH_MAX     107 /* sun_path, without the NUL */
#define REDISURL_SECRET_MAX   255
#define REDISURL_DB_MAX       1000000

struct redis_url {
	bool unix_socket;
	char host[REDISURL_HOST_MAX + 1]; /* TCP: without brackets */
	char path[REDISURL_PATH_MAX + 1]; /* unix: the socket */
	uint16_t port;
	char user[REDISURL_SECRET_MAX + 1];     /* "" for none (AUTH PASSWORD) */
	char password[REDISURL_SECRET_MAX + 1]; /* "" for none (no AUTH) */
	uint32_t db;
};

/**
 * redisurl_parse() - @s into @out. Returns 0, or -EINVAL with the reason in
 * @why (one phrase without the password, fit for "FILE:LINE: redis: WHY").
 */
int redisurl_parse(const char *s, struct redis_url *out, char *why, size_t whylen);

/*
 * @s with its password replaced by "***", for messages; a URL that does not
 * parse is shown up to its '@' (if any) only.
 */
void redisurl_mask(const char *s, char *buf, size_t len);

/* "HOST:PORT", "[V6]:PORT" or the socket path: where, for log lines. */
void redisurl_where(const struct redis_url *u, char *buf, size_t len);
