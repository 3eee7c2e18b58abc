/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Stands in for nfqueue.c when mxallowd is built without libnetfilter_queue. */
#include "nfqueue.h"

#include <errno.h>
#include <stdio.h>

struct nfqueue *nfqueue_new(const struct nfqueue_params *p, nfqueue_judge_fn judge, void *ctx,
                            char *err, size_t errlen)
{
	(void)p;
	(void)judge;
	(void)ctx;
	snprintf(err, errlen, "nfqueue: this mxallowd was built without NFQUEUE support");
	return NULL;
}

struct nfqueue *nfqueue_open(const struct nfqueue_params *p, nfqueue_bool_judge_fn judge, void *ctx,
                             char *err, size_t errlen)
{
	(void)judge;
	return nfqueue_new(p, NULL, ctx, err, errlen);
}

struct nfqueue *nfqueue_close(struct nfqueue *q)
{
	(void)q;
	return NULL;
}

int nfqueue_fd(const struct nfqueue *q)
{
	(void)q;
	return -1;
}

int nfqueue_dispatch(struct nfqueue *q)
{
	(void)q;
	return -ENOTSUP;
}

int nfqueue_verdict(struct nfqueue *q, uint32_t id, bool accept)
{
	(void)q;
	(void)id;
	(void)accept;
	return -ENOTSUP;
}

int nfqueue_flush(struct nfqueue *q)
{
	(void)q;
	return -ENOTSUP;
}

int nfqueue_configure(struct nfqueue *q, uint32_t maxlen, bool fail_open)
{
	(void)q;
	(void)maxlen;
	(void)fail_open;
	return -ENOTSUP;
}

const struct nfqueue_stats *nfqueue_stats(const struct nfqueue *q)
{
	static const struct nfqueue_stats none;

	(void)q;
	return &none;
}
