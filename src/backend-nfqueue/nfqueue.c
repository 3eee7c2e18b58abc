/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * NFQUEUE backend on libmnl and libnetfilter_queue's nlmsg API, after
 * libnetfilter_queue's examples/nf-queue.c. No PF_(UN)BIND: kernels since
 * 3.8 ignore it, and one queue carries IPv4 and IPv6. NETLINK_NO_ENOBUFS is
 * deliberately not set: an overrun must be seen, counted and logged.
 *
 * Configuration messages ask for an ack and carry a sequence number; the
 * kernel answers them at once (within the sendto), so nfqueue_new() and
 * nfqueue_configure() read their answers before returning. Verdicts ask for
 * none: the kernel answers only the ones it refuses (an unknown packet id),
 * and those are counted, not fatal.
 */
#include "nfqueue.h"
#include "nfqueue-io.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

/*
 * Enough for the IPv6 header, common extension headers and the TCP header.
 * A SYN whose TCP header lies further is judged on its addresses (see
 * PACKET_TRUNCATED), so a larger copy would only cost socket buffer.
 */
#define COPY_RANGE       256
#define RCVBUF           (4 * 1024 * 1024)
#define SMTP_PORT        25
#define BATCH            64   /* packets read with one recvmmsg(), answered with one sendto() */
#define DISPATCH_BATCHES 16   /* then back to the event loop: signals and timers get their turn */
#define MSG_SIZE         4096 /* a packet message: headers, attributes, COPY_RANGE bytes */
#define VERDICT_MAX      64   /* room for one verdict message (32 bytes today) */
#define OUT_SIZE         8192 /* buffered verdicts, sent with one sendto() */
#define SEND_TRIES       5
#define SEND_WAIT_MS     20  /* for POLLOUT between tries */
#define ACK_WAIT_MS      500 /* for the answer to a configuration message */

#define MSG_TYPE(t) ((NFNL_SUBSYS_QUEUE << 8) | (t))

struct nfqueue {
	struct mnl_socket *nl; /* NULL with test I/O */
	struct nfqueue_io io;
	uint16_t queue_num;
	bool accept_unparsable;
	nfqueue_judge_fn judge;
	void *ctx;
	nfqueue_bool_judge_fn bool_judge; /* nfqueue_open()'s, behind bool_adapter() */
	void (*prefetch)(void *ctx, const mxa_addr *src, size_t n);
	void *prefetch_ctx;
	void *bool_ctx;
	uint32_t seq;       /* of the last configuration message */
	bool ack_waiting;   /* for the answer to configuration message seq */
	int ack_error;      /* that answer: 0 or -errno */
	int late_cfg_error; /* an error for a configuration message nobody waited for */
	int failed;         /* NFQUEUE_ESEND once verdicts could not be sent */
	struct nfqueue_stats stats;
	size_t out_len; /* verdicts waiting in out */
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	char bufs[BATCH][MSG_SIZE];
	char out[OUT_SIZE];
	char cfg[512]; /* configuration messages, apart from the verdicts in out */
};

static int sys_recv(void *ctx, struct mmsghdr *msgs, unsigned int n)
{
	struct nfqueue *q = ctx;

	return recvmmsg(mnl_socket_get_fd(q->nl), msgs, n, MSG_DONTWAIT, NULL);
}

static ssize_t sys_send(void *ctx, const void *buf, size_t len)
{
	struct nfqueue *q = ctx;

	return mnl_socket_sendto(q->nl, buf, len);
}

static int sys_wait(void *ctx, short events, int timeout_ms)
{
	struct nfqueue *q = ctx;
	struct pollfd pfd = {.fd = mnl_socket_get_fd(q->nl), .events = events};

	return poll(&pfd, 1, timeout_ms);
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Sends one datagram. A full socket buffer or a signal is retried a few
 * times; a send that still fails loses what it carried.
 */
static int send_datagram(struct nfqueue *q, const void *buf, size_t len)
{
	int e = 0;

	for (int i = 0; i < SEND_TRIES; i++) {
		if (q->io.send(q->io.ctx, buf, len) >= 0)
			return 0;
		e = errno;
		q->stats.send_errors++;
		q->stats.send_errno = e;
		if (e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS || e == ENOMEM)
			(void)q->io.wait(q->io.ctx, POLLOUT, SEND_WAIT_MS);
		else if (e != EINTR)
			break;
	}
	return -e;
}

int nfqueue_flush(struct nfqueue *q)
{
	if (q->failed)
		return q->failed;
	if (q->out_len && send_datagram(q, q->out, q->out_len) < 0)
		q->failed = NFQUEUE_ESEND; /* the kernel would hold these packets for ever */
	q->out_len = 0;
	return q->failed;
}

int nfqueue_verdict(struct nfqueue *q, uint32_t id, bool accept)
{
	struct nlmsghdr *nlh;

	if (q->out_len + VERDICT_MAX > sizeof(q->out) && nfqueue_flush(q) < 0)
		return q->failed;
	if (q->failed)
		return q->failed;
	nlh = nfq_nlmsg_put(q->out + q->out_len, NFQNL_MSG_VERDICT, q->queue_num);
	nfq_nlmsg_verdict_put(nlh, (int)id, accept ? NF_ACCEPT : NF_DROP);
	q->out_len += MNL_ALIGN(nlh->nlmsg_len);
	q->stats.packets++;
	if (!accept)
		q->stats.dropped++;
	return 0;
}

static void on_packet(struct nfqueue *q, const struct nlmsghdr *nlh)
{
	struct nlattr *attr[NFQA_MAX + 1] = {0};
	struct nfqnl_msg_packet_hdr *ph;
	struct packet_info info;
	enum nfqueue_verdict v = NFQUEUE_ACCEPT;
	uint32_t id;
	int r = -EBADMSG;
	/*
	 * A failed parse stops at the first bad attribute: those before it are
	 * there. The kernel sends the packet header first, so a message with a
	 * bad attribute further on still has an id to answer: unparsable.
	 */
	bool parsed = nfq_nlmsg_parse(nlh, attr) >= 0;

	if (!attr[NFQA_PACKET_HDR] ||
	    mnl_attr_get_payload_len(attr[NFQA_PACKET_HDR]) < sizeof(*ph)) {
		q->stats.malformed++; /* nothing we could answer: counted, so that it shows */
		return;
	}
	ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
	id = ntohl(ph->packet_id);
	if (parsed && attr[NFQA_PAYLOAD])
		r = packet_parse_ip(mnl_attr_get_payload(attr[NFQA_PAYLOAD]),
		                    mnl_attr_get_payload_len(attr[NFQA_PAYLOAD]), &info);
	if (r < 0) {
		q->stats.malformed++;
		v = q->accept_unparsable ? NFQUEUE_ACCEPT : NFQUEUE_DROP;
	} else if (r == PACKET_TRUNCATED ||
	           (r == PACKET_TCP && info.dport == SMTP_PORT && packet_is_syn(&info))) {
		/* The rule queues only TCP SYNs to port 25: a truncated one is one of them. */
		if (r == PACKET_TRUNCATED)
			q->stats.truncated++;
		q->stats.judged++;
		v = q->judge(q->ctx, id, &info);
	} else {
		q->stats.ignored++;
	}
	if (v == NFQUEUE_PENDING)
		q->stats.pending++;
	else
		(void)nfqueue_verdict(q, id, v == NFQUEUE_ACCEPT);
}

static void on_ack(struct nfqueue *q, const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*e))
		return;
	if (e->msg.nlmsg_type == MSG_TYPE(NFQNL_MSG_CONFIG)) {
		if (q->ack_waiting && e->msg.nlmsg_seq == q->seq) {
			q->ack_waiting = false;
			q->ack_error = e->error;
		} else if (e->error) {
			q->late_cfg_error = e->error;
		}
	} else if (e->error) {
		q->stats.ack_errors++;
	}
}

static void on_datagram(struct nfqueue *q, const void *buf, size_t len)
{
	const struct nlmsghdr *nlh = buf;
	int left = (int)len;

	for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
		if (nlh->nlmsg_type == NLMSG_ERROR)
			on_ack(q, nlh);
		else if (nlh->nlmsg_type == MSG_TYPE(NFQNL_MSG_PACKET))
			on_packet(q, nlh);
	}
}

/*
 * The batch's source addresses, parsed ahead of the verdicts and handed to
 * the prefetch callback: the judge's lookups then overlap their cache misses
 * instead of paying them one after the other. Parsing twice costs far less.
 */
static void prefetch_batch(struct nfqueue *q, int n)
{
	mxa_addr src[BATCH];
	size_t m = 0;

	for (int i = 0; i < n && m < BATCH; i++) {
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)q->bufs[i];
		int left = (int)q->msgs[i].msg_len;

		for (; mnl_nlmsg_ok(nlh, left) && m < BATCH; nlh = mnl_nlmsg_next(nlh, &left)) {
			struct nlattr *attr[NFQA_MAX + 1] = {0};
			struct packet_info info;

			if (nlh->nlmsg_type != MSG_TYPE(NFQNL_MSG_PACKET) ||
			    nfq_nlmsg_parse(nlh, attr) < 0 || !attr[NFQA_PAYLOAD])
				continue;
			if (packet_parse_ip(mnl_attr_get_payload(attr[NFQA_PAYLOAD]),
			                    mnl_attr_get_payload_len(attr[NFQA_PAYLOAD]),
			                    &info) < 0)
				continue;
			src[m++] = info.src;
		}
	}
	if (m)
		q->prefetch(q->prefetch_ctx, src, m);
}

/* Reads and handles one batch. Returns the number of datagrams (0: none queued) or -errno. */
static int read_batch(struct nfqueue *q)
{
	int n;

	for (;;) {
		for (int i = 0; i < BATCH; i++) {
			q->iov[i] = (struct iovec){q->bufs[i], MSG_SIZE};
			q->msgs[i].msg_hdr =
			    (struct msghdr){.msg_iov = &q->iov[i], .msg_iovlen = 1};
			q->msgs[i].msg_len = 0;
		}
		n = q->io.recv(q->io.ctx, q->msgs, BATCH);
		if (n >= 0)
			break;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		if (errno == ENOBUFS) /* reported once per overrun; the data behind it is fine */
			q->stats.enobufs++;
		else if (errno != EINTR)
			return -errno;
	}
	if (q->prefetch)
		prefetch_batch(q, n);
	for (int i = 0; i < n; i++)
		on_datagram(q, q->bufs[i], q->msgs[i].msg_len);
	return n;
}

int nfqueue_dispatch(struct nfqueue *q)
{
	int r = 0;

	for (int b = 0; b < DISPATCH_BATCHES; b++) {
		r = read_batch(q);
		if (nfqueue_flush(q) < 0)
			return q->failed;
		if (r < BATCH)
			break;
	}
	if (q->late_cfg_error)
		return q->late_cfg_error;
	return r < 0 ? r : 0;
}

/*
 * Sends configuration message @nlh and reads until its answer, judging the
 * packets that come before it.
 */
static int send_config(struct nfqueue *q, struct nlmsghdr *nlh)
{
	long deadline = now_ms() + ACK_WAIT_MS;
	int r;

	if (++q->seq == 0)
		q->seq = 1;
	nlh->nlmsg_flags |= NLM_F_ACK;
	nlh->nlmsg_seq = q->seq;
	r = send_datagram(q, nlh, nlh->nlmsg_len);
	if (r < 0)
		return r;
	q->ack_waiting = true;
	while (q->ack_waiting) {
		long left;
		int w;

		r = read_batch(q);
		if (r < 0 || nfqueue_flush(q) < 0 || !q->ack_waiting)
			break;
		/* Bounded even under a flood, should the answer have been lost in an overrun. */
		left = deadline - now_ms();
		if (left <= 0) {
			r = -ETIMEDOUT;
			break;
		}
		if (r > 0)
			continue;
		w = q->io.wait(q->io.ctx, POLLIN, (int)left);
		if (w == 0 || (w < 0 && errno != EINTR)) {
			r = w == 0 ? -ETIMEDOUT : -errno;
			break;
		}
	}
	if (q->ack_waiting) {
		q->ack_waiting = false;
		return q->failed ? q->failed : r;
	}
	if (nfqueue_flush(q) < 0)
		return q->failed;
	return q->ack_error;
}

int nfqueue_configure(struct nfqueue *q, uint32_t maxlen, bool fail_open)
{
	struct nlmsghdr *nlh = nfq_nlmsg_put(q->cfg, NFQNL_MSG_CONFIG, q->queue_num);

	nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, COPY_RANGE);
	nfq_nlmsg_cfg_put_qmaxlen(nlh, maxlen);
	mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(fail_open ? NFQA_CFG_F_FAIL_OPEN : 0));
	mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_FAIL_OPEN));
	return send_config(q, nlh);
}

static struct nfqueue *queue_alloc(const struct nfqueue_params *p, nfqueue_judge_fn judge,
                                   void *ctx, char *err, size_t errlen)
{
	struct nfqueue *q = calloc(1, sizeof(*q));

	if (!q) {
		snprintf(err, errlen, "nfqueue: out of memory");
		return NULL;
	}
	q->queue_num = p->queue_num;
	q->accept_unparsable = p->accept_unparsable;
	q->judge = judge;
	q->ctx = ctx;
	q->prefetch = p->prefetch;
	q->prefetch_ctx = p->prefetch_ctx;
	return q;
}

static const char *bind_hint(int r)
{
	return r == -EPERM   ? " (needs root or CAP_NET_ADMIN)"
	       : r == -EBUSY ? " (another program holds this queue)"
	                     : "";
}

/* Binds the queue and configures it, waiting for the kernel's answers. */
static struct nfqueue *queue_bind(struct nfqueue *q, const struct nfqueue_params *p, char *err,
                                  size_t errlen)
{
	struct nlmsghdr *nlh = nfq_nlmsg_put(q->cfg, NFQNL_MSG_CONFIG, q->queue_num);
	int r;

	nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_BIND);
	r = send_config(q, nlh);
	if (r < 0) {
		snprintf(err, errlen, "nfqueue: cannot bind queue %u: %s%s", p->queue_num,
		         strerror(-r), bind_hint(r));
		return nfqueue_close(q);
	}
	r = nfqueue_configure(q, p->maxlen, p->fail_open);
	if (r < 0) {
		snprintf(err, errlen, "nfqueue: cannot configure queue %u: %s%s", p->queue_num,
		         strerror(-r), bind_hint(r));
		return nfqueue_close(q);
	}
	return q;
}

static struct nfqueue *queue_open(struct nfqueue *q, const struct nfqueue_params *p, char *err,
                                  size_t errlen)
{
	int one = 1, rcvbuf = RCVBUF;

	q->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (!q->nl) {
		snprintf(err, errlen, "nfqueue: cannot open netlink socket: %s", strerror(errno));
		return nfqueue_close(q);
	}
	if (mnl_socket_bind(q->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		snprintf(err, errlen, "nfqueue: cannot bind netlink socket: %s", strerror(errno));
		return nfqueue_close(q);
	}
	q->io = (struct nfqueue_io){sys_recv, sys_send, sys_wait, q};
	/* A larger buffer absorbs bursts; FORCE needs CAP_NET_ADMIN, which we have. */
	if (setsockopt(mnl_socket_get_fd(q->nl), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf,
	               sizeof(rcvbuf)) < 0)
		(void)setsockopt(mnl_socket_get_fd(q->nl), SOL_SOCKET, SO_RCVBUF, &rcvbuf,
		                 sizeof(rcvbuf));
	/* Extended ACKs give precise errors on newer kernels; harmless elsewhere. */
	(void)mnl_socket_setsockopt(q->nl, NETLINK_EXT_ACK, &one, sizeof(one));
	return queue_bind(q, p, err, errlen);
}

struct nfqueue *nfqueue_new(const struct nfqueue_params *p, nfqueue_judge_fn judge, void *ctx,
                            char *err, size_t errlen)
{
	struct nfqueue *q = queue_alloc(p, judge, ctx, err, errlen);

	return q ? queue_open(q, p, err, errlen) : NULL;
}

static enum nfqueue_verdict bool_adapter(void *ctx, uint32_t id, const struct packet_info *pkt)
{
	struct nfqueue *q = ctx;

	(void)id;
	return q->bool_judge(q->bool_ctx, pkt) ? NFQUEUE_ACCEPT : NFQUEUE_DROP;
}

struct nfqueue *nfqueue_open(const struct nfqueue_params *p, nfqueue_bool_judge_fn judge, void *ctx,
                             char *err, size_t errlen)
{
	struct nfqueue *q = queue_alloc(p, bool_adapter, NULL, err, errlen);

	if (!q)
		return NULL;
	q->ctx = q;
	q->bool_judge = judge;
	q->bool_ctx = ctx;
	return queue_open(q, p, err, errlen);
}

struct nfqueue *nfqueue_new_io(const struct nfqueue_params *p, nfqueue_judge_fn judge, void *ctx,
                               const struct nfqueue_io *io, char *err, size_t errlen)
{
	struct nfqueue *q = queue_alloc(p, judge, ctx, err, errlen);

	if (!q)
		return NULL;
	q->io = *io;
	return queue_bind(q, p, err, errlen);
}

struct nfqueue *nfqueue_close(struct nfqueue *q)
{
	if (q) {
		if (q->io.send)
			(void)nfqueue_flush(q);
		if (q->nl)
			mnl_socket_close(q->nl);
		free(q);
	}
	return NULL;
}

int nfqueue_fd(const struct nfqueue *q)
{
	return q->nl ? mnl_socket_get_fd(q->nl) : -1;
}

const struct nfqueue_stats *nfqueue_stats(const struct nfqueue *q)
{
	return &q->stats;
}
