/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Built without hiredis (meson option redis): a configured `redis` is refused at start. */
#include <stdio.h>

#include "daemon.h"
#include "redis.h"

struct redis *redis_new(struct daemon *d, char *err, size_t errlen)
{
	(void)d;
	snprintf(err, errlen,
	         "redis: this mxallowd was built without Redis support (hiredis with its libevent "
	         "adapter, Debian libhiredis-dev; meson option redis)");
	return NULL;
}

struct redis *redis_free(struct redis *r)
{
	(void)r;
	return NULL;
}

void redis_changed(struct redis *r, const struct wl_entry *e, bool deleted)
{
	(void)r;
	(void)e;
	(void)deleted;
}

bool redis_applying(const struct redis *r)
{
	(void)r;
	return false;
}

int64_t redis_applying_lag_us(const struct redis *r)
{
	(void)r;
	return -1;
}

const struct redis_stats *redis_stats(const struct redis *r)
{
	static const struct redis_stats none;

	(void)r;
	return &none;
}

const char *redis_node(const struct redis *r)
{
	(void)r;
	return "";
}
