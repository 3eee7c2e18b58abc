/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * For the unit tests only: a queue whose netlink traffic goes through
 * functions of the test instead of a socket, so that it can be fed packets,
 * acks and failures.
 */
#pragma once

#include <sys/types.h>

#include "nfqueue.h"

struct mmsghdr;

struct nfqueue_io {
	/* As recvmmsg(fd, msgs, n, MSG_DONTWAIT, NULL). */
	int (*recv)(void *ctx, struct mmsghdr *msgs, unsigned int n);
	/* Sends one datagram: its length, or -1 with errno. */
	ssize_t (*send)(void *ctx, const void *buf, size_t len);
	/* As poll() on the socket for @events: > 0 ready, 0 timed out, -1 with errno. */
	int (*wait)(void *ctx, short events, int timeout_ms);
	void *ctx;
};

/* nfqueue_new() over @io: the same bind and configuration messages, no socket. */
struct nfqueue *nfqueue_new_io(const struct nfqueue_params *p, nfqueue_judge_fn judge, void *ctx,
                               const struct nfqueue_io *io, char *err, size_t errlen);
