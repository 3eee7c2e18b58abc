/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "packet.h"

struct nfqueue_params {
	uint16_t queue_num;
	uint32_t maxlen; /* packets the kernel may hold for us */
	bool fail_open;  /* kernel accepts instead of dropping when the queue is full */
};

struct nfqueue_stats {
	uint64_t packets;   /* verdicts given */
	uint64_t judged;    /* TCP SYNs to port 25 handed to the judge */
	uint64_t dropped;   /* NF_DROP verdicts */
	uint64_t ignored;   /* well-formed, not a SYN to port 25: accepted */
	uint64_t malformed; /* unparsable or truncated: accepted */
	uint64_t enobufs;   /* the kernel could not deliver to our socket */
	uint64_t send_errors;
};

/* Returns true to accept the connection attempt, false to drop it. */
typedef bool (*nfqueue_judge_fn)(void *ctx, const struct packet_info *pkt);

struct nfqueue;

/**
 * nfqueue_open() - bind NFQUEUE @p->queue_num (IPv4 and IPv6 alike), copy
 * headers only, set queue length and fail-open flag.
 * Returns NULL with a one-line reason in @err.
 */
struct nfqueue *nfqueue_open(const struct nfqueue_params *p, nfqueue_judge_fn judge, void *ctx,
                             char *err, size_t errlen);
struct nfqueue *nfqueue_close(struct nfqueue *q);

/* The socket to poll for reading. */
int nfqueue_fd(const struct nfqueue *q);

/**
 * nfqueue_dispatch() - read and answer every queued packet until the socket
 * would block. ENOBUFS is counted, not fatal.
 * Returns 0, or a negative errno when the socket failed for good.
 */
int nfqueue_dispatch(struct nfqueue *q);

/* Re-sends queue length and fail-open flag. 0 or -errno. */
int nfqueue_configure(struct nfqueue *q, uint32_t maxlen, bool fail_open);

const struct nfqueue_stats *nfqueue_stats(const struct nfqueue *q);
