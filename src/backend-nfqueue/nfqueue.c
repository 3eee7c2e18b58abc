/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * NFQUEUE backend on libmnl and libnetfilter_queue's nlmsg API, after
 * libnetfilter_queue's examples/nf-queue.c. No PF_(UN)BIND: kernels since
 * 3.8 ignore it, and one queue carries IPv4 and IPv6. NETLINK_NO_ENOBUFS is
 * deliberately not set: an overrun must be seen, counted and logged.
 */
#include "nfqueue.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#define COPY_RANGE 256 /* IPv6 + extension headers + TCP header */
#define RCVBUF     (4 * 1024 * 1024)
#define SMTP_PORT  25
#define BATCH      64   /* packets read with one recvmmsg(), answered with one sendto() */
#define MSG_SIZE   4096 /* a packet message: headers, attributes, COPY_RANGE bytes */

struct nfqueue {
	struct mnl_socket *nl;
	uint32_t portid;
	uint16_t queue_num;
	nfqueue_judge_fn judge;
	void *ctx;
	struct nfqueue_stats stats;
	size_t out_len; /* verdicts waiting in out, sent with one sendto() */
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	char bufs[BATCH][MSG_SIZE];
	char out[BATCH * 64 + 8192];
};

static int send_config(struct nfqueue *q, struct nlmsghdr *nlh)
{
	return mnl_socket_sendto(q->nl, nlh, nlh->nlmsg_len) < 0 ? -errno : 0;
}

/* Sends the verdicts gathered so far; netlink takes many messages in one datagram. */
static void flush_verdicts(struct nfqueue *q)
{
	if (q->out_len && mnl_socket_sendto(q->nl, q->out, q->out_len) < 0)
		q->stats.send_errors++;
	q->out_len = 0;
}

int nfqueue_configure(struct nfqueue *q, uint32_t maxlen, bool fail_open)
{
	struct nlmsghdr *nlh = nfq_nlmsg_put(q->out, NFQNL_MSG_CONFIG, q->queue_num);

	nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, COPY_RANGE);
	nfq_nlmsg_cfg_put_qmaxlen(nlh, maxlen);
	mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(fail_open ? NFQA_CFG_F_FAIL_OPEN : 0));
	mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_FAIL_OPEN));
	return send_config(q, nlh);
}

struct nfqueue *nfqueue_open(const struct nfqueue_params *p, nfqueue_judge_fn judge, void *ctx,
                             char *err, size_t errlen)
{
	struct nfqueue *q = calloc(1, sizeof(*q));
	struct nlmsghdr *nlh;
	int one = 1, rcvbuf = RCVBUF, r;

	if (!q) {
		snprintf(err, errlen, "nfqueue: out of memory");
		return NULL;
	}
	q->queue_num = p->queue_num;
	q->judge = judge;
	q->ctx = ctx;
	q->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (!q->nl) {
		snprintf(err, errlen, "nfqueue: cannot open netlink socket: %s", strerror(errno));
		return nfqueue_close(q);
	}
	if (mnl_socket_bind(q->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		snprintf(err, errlen, "nfqueue: cannot bind netlink socket: %s", strerror(errno));
		return nfqueue_close(q);
	}
	q->portid = mnl_socket_get_portid(q->nl);
	/* A larger buffer absorbs bursts; FORCE needs CAP_NET_ADMIN, which we have. */
	if (setsockopt(mnl_socket_get_fd(q->nl), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf,
	               sizeof(rcvbuf)) < 0)
		(void)setsockopt(mnl_socket_get_fd(q->nl), SOL_SOCKET, SO_RCVBUF, &rcvbuf,
		                 sizeof(rcvbuf));
	/* Extended ACKs give precise errors on newer kernels; harmless elsewhere. */
	(void)mnl_socket_setsockopt(q->nl, NETLINK_EXT_ACK, &one, sizeof(one));

	nlh = nfq_nlmsg_put(q->out, NFQNL_MSG_CONFIG, q->queue_num);
	nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_BIND);
	r = send_config(q, nlh);
	if (r == 0)
		r = nfqueue_configure(q, p->maxlen, p->fail_open);
	if (r < 0) {
		snprintf(err, errlen, "nfqueue: cannot bind queue %u: %s%s", p->queue_num,
		         strerror(-r),
		         r == -EPERM   ? " (needs root or CAP_NET_ADMIN)"
		         : r == -EBUSY ? " (another program holds this queue)"
		                       : "");
		return nfqueue_close(q);
	}
	/* Errors from the bind come back as netlink acks: read them now. */
	r = nfqueue_dispatch(q);
	if (r < 0) {
		snprintf(err, errlen, "nfqueue: queue %u: %s%s", p->queue_num, strerror(-r),
		         r == -EPERM   ? " (needs root or CAP_NET_ADMIN)"
		         : r == -EBUSY ? " (another program holds this queue)"
		                       : "");
		return nfqueue_close(q);
	}
	return q;
}

struct nfqueue *nfqueue_close(struct nfqueue *q)
{
	if (q) {
		if (q->nl)
			mnl_socket_close(q->nl);
		free(q);
	}
	return NULL;
}

int nfqueue_fd(const struct nfqueue *q)
{
	return mnl_socket_get_fd(q->nl);
}

const struct nfqueue_stats *nfqueue_stats(const struct nfqueue *q)
{
	return &q->stats;
}

static void send_verdict(struct nfqueue *q, uint32_t id, int verdict)
{
	struct nlmsghdr *nlh;

	if (q->out_len + 64 > sizeof(q->out))
		flush_verdicts(q);
	nlh = nfq_nlmsg_put(q->out + q->out_len, NFQNL_MSG_VERDICT, q->queue_num);
	nfq_nlmsg_verdict_put(nlh, (int)id, verdict);
	q->out_len += MNL_ALIGN(nlh->nlmsg_len);
	q->stats.packets++;
	if (verdict == NF_DROP)
		q->stats.dropped++;
}

static int queue_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nfqueue *q = data;
	struct nlattr *attr[NFQA_MAX + 1] = {0};
	struct nfqnl_msg_packet_hdr *ph;
	struct packet_info info;
	int verdict = NF_ACCEPT;
	int r;

	if (nfq_nlmsg_parse(nlh, attr) < 0 || !attr[NFQA_PACKET_HDR])
		return MNL_CB_OK; /* nothing we could answer */
	ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
	if (!attr[NFQA_PAYLOAD]) {
		q->stats.malformed++;
	} else {
		r = packet_parse_ip(mnl_attr_get_payload(attr[NFQA_PAYLOAD]),
		                    mnl_attr_get_payload_len(attr[NFQA_PAYLOAD]), &info);
		if (r < 0) {
			q->stats.malformed++;
		} else if (r != PACKET_TCP || info.dport != SMTP_PORT || !packet_is_syn(&info)) {
			q->stats.ignored++;
		} else {
			q->stats.judged++;
			if (!q->judge(q->ctx, &info))
				verdict = NF_DROP;
		}
	}
	send_verdict(q, ntohl(ph->packet_id), verdict);
	return MNL_CB_OK;
}

int nfqueue_dispatch(struct nfqueue *q)
{
	int fd = mnl_socket_get_fd(q->nl);

	for (;;) {
		int n, r, err = 0;

		for (int i = 0; i < BATCH; i++) {
			q->iov[i] = (struct iovec){q->bufs[i], MSG_SIZE};
			q->msgs[i].msg_hdr =
			    (struct msghdr){.msg_iov = &q->iov[i], .msg_iovlen = 1};
		}
		n = recvmmsg(fd, q->msgs, BATCH, MSG_DONTWAIT, NULL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS) {
				q->stats.enobufs++;
				continue;
			}
			return -errno;
		}
		for (int i = 0; i < n; i++) {
			r = mnl_cb_run(q->bufs[i], q->msgs[i].msg_len, 0, q->portid, queue_cb, q);
			if (r < 0 && errno != EINTR && errno != ENOENT && !err)
				err = -errno;
		}
		flush_verdicts(q);
		if (err)
			return err;
		if (n < BATCH)
			return 0;
	}
}
