/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "packet.h"

/*
 * What nfqueue_dispatch(), nfqueue_verdict() and nfqueue_flush() return once
 * verdicts could not be sent (a portable errno: the daemon is built on the
 * BSDs too, where only the fallback is compiled).
 */
#define NFQUEUE_ESEND (-EPIPE)

struct nfqueue_params {
	uint16_t queue_num;
	uint32_t maxlen;        /* packets the kernel may hold for us */
	bool fail_open;         /* kernel accepts instead of dropping when the queue is full */
	bool accept_unparsable; /* verdict for a packet without readable addresses (else drop) */
	/*
	 * Optional: called once per batch read (up to 64 packets) with the
	 * source addresses of its packets, before the judge sees any of them,
	 * so that the judge's lookups find their memory in the cache
	 * (whitelist_prefetch()). NULL: none.
	 */
	void (*prefetch)(void *ctx, const mxa_addr *src, size_t n);
	void *prefetch_ctx;
};

struct nfqueue_stats {
	uint64_t packets;     /* verdicts given */
	uint64_t judged;      /* handed to the judge: SYNs to port 25 and truncated packets */
	uint64_t dropped;     /* NF_DROP verdicts */
	uint64_t ignored;     /* well-formed, not a SYN to port 25: accepted */
	uint64_t malformed;   /* no readable addresses or message: accept_unparsable decides */
	uint64_t truncated;   /* addresses read, TCP header not (beyond the copy): judged */
	uint64_t pending;     /* the judge answered NFQUEUE_PENDING */
	uint64_t enobufs;     /* the kernel could not deliver to our socket */
	uint64_t send_errors; /* failed sends of verdicts, retried ones included */
	uint64_t ack_errors;  /* error acks for verdicts (e.g. an unknown packet id) */
	int send_errno;       /* errno of the last failed send, 0 if none */
};

enum nfqueue_verdict {
	NFQUEUE_ACCEPT,
	NFQUEUE_DROP,
	NFQUEUE_PENDING, /* the judge gives the verdict later with nfqueue_verdict() */
};

/*
 * The judge of each queued SYN to port 25. The firewall rule queues only
 * those, so a truncated packet (its TCP header beyond the copy range, e.g.
 * behind long IPv6 extension headers) is judged too: then @pkt carries only
 * src and dst. @id names the packet for a later nfqueue_verdict(); the kernel
 * holds a PENDING packet, counted against maxlen, until it gets its verdict.
 */
typedef enum nfqueue_verdict (*nfqueue_judge_fn)(void *ctx, uint32_t id,
                                                 const struct packet_info *pkt);

struct nfqueue;

/**
 * nfqueue_new() - bind NFQUEUE @p->queue_num (IPv4 and IPv6 alike), copy
 * headers only, set queue length and fail-open flag, and wait for the
 * kernel's answer to each.
 * Returns NULL with a one-line reason in @err.
 */
struct nfqueue *nfqueue_new(const struct nfqueue_params *p, nfqueue_judge_fn judge, void *ctx,
                            char *err, size_t errlen);

/*
 * Deprecated: the judge before held verdicts (no packet id, no PENDING).
 * Goes once the daemon calls nfqueue_new().
 */
typedef bool (*nfqueue_bool_judge_fn)(void *ctx, const struct packet_info *pkt);
struct nfqueue *nfqueue_open(const struct nfqueue_params *p, nfqueue_bool_judge_fn judge, void *ctx,
                             char *err, size_t errlen);

/* Sends the verdicts still buffered (best effort) and closes; returns NULL. */
struct nfqueue *nfqueue_close(struct nfqueue *q);

/* The socket to poll for reading. */
int nfqueue_fd(const struct nfqueue *q);

/**
 * nfqueue_dispatch() - read and answer what is queued, at most 1024 packets
 * a call, so that the event loop keeps turning under a flood (it calls again
 * while the socket is readable). ENOBUFS and error acks for verdicts are
 * counted, not fatal.
 * Returns 0; NFQUEUE_ESEND when verdicts could not be sent, retries included (the
 * reason is in nfqueue_stats()->send_errno: exit, the kernel drops what was
 * queued when the socket closes); the error of a configuration message that
 * came late; or another negative errno when the socket failed for good.
 */
int nfqueue_dispatch(struct nfqueue *q);

/**
 * nfqueue_verdict() - buffer the verdict for packet @id, which the judge
 * answered NFQUEUE_PENDING. Sent at the end of the next nfqueue_dispatch(),
 * or by nfqueue_flush(): call it after verdicts given outside a dispatch.
 * Returns 0, or NFQUEUE_ESEND as nfqueue_dispatch().
 */
int nfqueue_verdict(struct nfqueue *q, uint32_t id, bool accept);

/* Sends the buffered verdicts. 0, or NFQUEUE_ESEND as nfqueue_dispatch(). */
int nfqueue_flush(struct nfqueue *q);

/**
 * nfqueue_configure() - re-send queue length and fail-open flag and wait
 * (briefly) for the kernel's answer; packets read meanwhile are judged.
 * Returns 0 or -errno (-ETIMEDOUT: no answer).
 */
int nfqueue_configure(struct nfqueue *q, uint32_t maxlen, bool fail_open);

const struct nfqueue_stats *nfqueue_stats(const struct nfqueue *q);
