/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Stands in for pflog.c and replay.c when mxallowd is built without libpcap. */
#include "pflog.h"
#include "replay.h"

#include <errno.h>
#include <stdio.h>

struct pflog *pflog_open(const struct pflog_params *p, pflog_observe_fn observe, void *ctx,
                         char *err, size_t errlen)
{
	(void)p;
	(void)observe;
	(void)ctx;
	snprintf(err, errlen, "pflog: this mxallowd was built without libpcap (table mode)");
	return NULL;
}

struct pflog *pflog_close(struct pflog *pf, bool clean_exit)
{
	(void)pf;
	(void)clean_exit;
	return NULL;
}

int pflog_fd(const struct pflog *pf)
{
	(void)pf;
	return -1;
}

int pflog_dispatch(struct pflog *pf, char *err, size_t errlen)
{
	(void)pf;
	snprintf(err, errlen, "pflog: not supported in this build");
	return -ENOTSUP;
}

void pflog_add(struct pflog *pf, const mxa_addr *a, uint32_t timeout)
{
	(void)pf;
	(void)a;
	(void)timeout;
}

void pflog_del(struct pflog *pf, const mxa_addr *a)
{
	(void)pf;
	(void)a;
}

int pflog_commit(struct pflog *pf, char *err, size_t errlen)
{
	(void)pf;
	(void)err;
	(void)errlen;
	return 0;
}

int pflog_tick(struct pflog *pf, char *err, size_t errlen)
{
	return pflog_commit(pf, err, errlen);
}

bool pflog_resync_due(struct pflog *pf, int64_t now)
{
	(void)pf;
	(void)now;
	return false;
}

int pflog_resync(struct pflog *pf, int64_t now, char *err, size_t errlen)
{
	(void)pf;
	(void)now;
	snprintf(err, errlen, "pflog: not supported in this build");
	return -ENOTSUP;
}

const struct pflog_stats *pflog_stats(const struct pflog *pf)
{
	static const struct pflog_stats none;

	(void)pf;
	return &none;
}

const char *pflog_describe(const struct pflog *pf)
{
	(void)pf;
	return "none";
}

int replay_file(const char *path, const char *filter, const struct mx_params *p, size_t capacity,
                FILE *out, char *err, size_t errlen)
{
	(void)filter;
	(void)p;
	(void)capacity;
	(void)out;
	snprintf(err, errlen, "%s: replay needs libpcap, and this mxallowd was built without it",
	         path);
	return -ENOTSUP;
}

int pflog_capture_drops(struct pflog *pf, uint64_t *drops, char *err, size_t errlen)
{
	(void)pf;
	*drops = 0;
	snprintf(err, errlen, "pflog: not built in");
	return -ENOTSUP;
}

int pflog_set_static(struct pflog *pf, const struct netset *s, char *err, size_t errlen)
{
	(void)pf;
	(void)s;
	snprintf(err, errlen, "pflog: not supported in this build");
	return -ENOTSUP;
}

int pflog_time_left(struct pflog *pf, const mxa_addr *a, uint32_t *left)
{
	(void)pf;
	(void)a;
	(void)left;
	return -EOPNOTSUPP;
}

int pflog_learn(struct pflog *pf)
{
	(void)pf;
	return 0;
}

int pflog_adopted_left(const struct pflog *pf, const mxa_addr *a, uint32_t *left)
{
	(void)pf;
	(void)a;
	(void)left;
	return 0;
}
