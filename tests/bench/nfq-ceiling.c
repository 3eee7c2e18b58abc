/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The ceiling: a minimal accept-all NFQUEUE verdict loop on libmnl and
 * libnetfilter_queue's nlmsg API, configured exactly like the daemon's
 * backend (copy 256 bytes, 4 MiB receive buffer, same queue length, up to
 * 64 packets read with one recvmmsg() and answered with one sendto()), minus
 * everything else: no parsing, no whitelist, no event loop, blocking recv.
 *
 *   nfq-ceiling QUEUE_NUM [MAXLEN]
 *
 * Prints "ready" once bound; on SIGTERM/SIGINT prints
 * "verdicts=N enobufs=N" and exits 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#define COPY_RANGE 256
#define RCVBUF     (4 * 1024 * 1024)
#define BATCH      64
#define MSG_SIZE   4096

static volatile sig_atomic_t stop;

struct ceiling {
	struct mnl_socket *nl;
	uint16_t queue_num;
	unsigned long long verdicts, enobufs;
	size_t out_len;
	char out[BATCH * 64 + 8192];
};

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int queue_cb(const struct nlmsghdr *nlh, void *data)
{
	struct ceiling *c = data;
	struct nlattr *attr[NFQA_MAX + 1] = {0};
	struct nfqnl_msg_packet_hdr *ph;
	struct nlmsghdr *v;

	if (nfq_nlmsg_parse(nlh, attr) < 0 || !attr[NFQA_PACKET_HDR])
		return MNL_CB_OK;
	ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
	v = nfq_nlmsg_put(c->out + c->out_len, NFQNL_MSG_VERDICT, c->queue_num);
	nfq_nlmsg_verdict_put(v, (int)ntohl(ph->packet_id), NF_ACCEPT);
	c->out_len += MNL_ALIGN(v->nlmsg_len);
	c->verdicts++;
	return MNL_CB_OK;
}

int main(int argc, char **argv)
{
	static char bufs[BATCH][MSG_SIZE];
	static struct mmsghdr msgs[BATCH];
	static struct iovec iov[BATCH];
	struct ceiling c = {0};
	struct sigaction sa = {.sa_handler = on_signal};
	struct nlmsghdr *nlh;
	uint32_t maxlen = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) : 1024;
	unsigned portid;
	int rcvbuf = RCVBUF;

	if (argc < 2) {
		fprintf(stderr, "usage: nfq-ceiling QUEUE_NUM [MAXLEN]\n");
		return 2;
	}
	c.queue_num = (uint16_t)strtoul(argv[1], NULL, 10);
	sigaction(SIGTERM, &sa, NULL); /* no SA_RESTART: recv returns EINTR */
	sigaction(SIGINT, &sa, NULL);
	c.nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!c.nl || mnl_socket_bind(c.nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		perror("nfq-ceiling: netlink");
		return 1;
	}
	portid = mnl_socket_get_portid(c.nl);
	if (setsockopt(mnl_socket_get_fd(c.nl), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf,
	               sizeof(rcvbuf)) < 0)
		(void)setsockopt(mnl_socket_get_fd(c.nl), SOL_SOCKET, SO_RCVBUF, &rcvbuf,
		                 sizeof(rcvbuf));
	nlh = nfq_nlmsg_put(c.out, NFQNL_MSG_CONFIG, c.queue_num);
	nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_BIND);
	if (mnl_socket_sendto(c.nl, nlh, nlh->nlmsg_len) < 0) {
		perror("nfq-ceiling: bind");
		return 1;
	}
	nlh = nfq_nlmsg_put(c.out, NFQNL_MSG_CONFIG, c.queue_num);
	nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, COPY_RANGE);
	nfq_nlmsg_cfg_put_qmaxlen(nlh, maxlen);
	mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(0));
	mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_FAIL_OPEN));
	if (mnl_socket_sendto(c.nl, nlh, nlh->nlmsg_len) < 0) {
		perror("nfq-ceiling: config");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	while (!stop) {
		int n;

		for (int i = 0; i < BATCH; i++) {
			iov[i] = (struct iovec){bufs[i], MSG_SIZE};
			msgs[i].msg_hdr = (struct msghdr){.msg_iov = &iov[i], .msg_iovlen = 1};
		}
		n = recvmmsg(mnl_socket_get_fd(c.nl), msgs, BATCH, MSG_WAITFORONE, NULL);
		if (n < 0) {
			if (errno == ENOBUFS) {
				c.enobufs++;
				continue;
			}
			if (errno == EINTR)
				continue;
			perror("nfq-ceiling: recv");
			return 1;
		}
		for (int i = 0; i < n; i++)
			if (mnl_cb_run(bufs[i], msgs[i].msg_len, 0, portid, queue_cb, &c) < 0 &&
			    (errno == EPERM || errno == EBUSY)) {
				perror("nfq-ceiling: queue");
				return 1;
			}
		if (c.out_len && mnl_socket_sendto(c.nl, c.out, c.out_len) < 0)
			perror("nfq-ceiling: verdicts");
		c.out_len = 0;
	}
	printf("verdicts=%llu enobufs=%llu\n", c.verdicts, c.enobufs);
	return 0;
}
