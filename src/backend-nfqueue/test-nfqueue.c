/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The NFQUEUE backend against a fake kernel (nfqueue-io.h): packets in,
 * verdicts and configuration messages out, acks, overruns and send failures
 * on demand. No socket, no privileges.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#include "nfqueue-io.h"

#define QNUM         23
#define MSG_TYPE(t)  ((NFNL_SUBSYS_QUEUE << 8) | (t))
#define INBOX        256
#define DGRAM        4096
#define PER_DISPATCH 1024 /* nfqueue.c: BATCH * DISPATCH_BATCHES */

struct sent_verdict {
	uint32_t id;
	uint32_t verdict;
	unsigned datagram; /* which sendto() carried it */
};

/* The fake kernel. */
struct fake {
	uint8_t in[INBOX][DGRAM];
	size_t in_len[INBOX];
	size_t in_head, in_tail;
	bool flood; /* an endless stream of SYNs behind the inbox */
	uint32_t flood_id;
	unsigned long received;
	int recv_errnos[4];
	size_t n_recv_errnos;

	int send_errnos[8]; /* the next sends fail with these */
	size_t n_send_errnos;
	unsigned sends, datagrams, waits_out;
	struct sent_verdict v[4096];
	size_t n_v;
	unsigned configs;
	unsigned config_datagram[8]; /* which datagram carried each configuration message */
	uint32_t config_seq[8];
	bool config_acked[8];
	int cfg_error; /* answer to the next configuration messages */
	bool cfg_silent;
};

static struct fake fk;

/* ------------------------------------------------------------ packets */

static size_t put_tcp(uint8_t *p, uint8_t flags)
{
	memset(p, 0, 20);
	p[0] = 40000 >> 8;
	p[1] = 40000 & 0xff;
	p[3] = 25;
	p[12] = 5 << 4;
	p[13] = flags;
	return 20;
}

/* IPv4 198.51.100.@host -> 192.0.2.20, TCP with @flags. */
static size_t ip4_syn(uint8_t *p, uint8_t host, uint8_t flags)
{
	memset(p, 0, 20);
	p[0] = 0x45;
	p[3] = 40;
	p[8] = 64;
	p[9] = 6;
	memcpy(p + 12, "\xc6\x33\x64", 3);
	p[15] = host;
	memcpy(p + 16, "\xc0\x00\x02\x14", 4);
	return 20 + put_tcp(p + 20, flags);
}

/*
 * IPv6 2001:db8:1::@host -> 2001:db8::20: a SYN behind a 256-byte
 * destination options header, cut at 256 bytes as the queue copies it.
 */
static size_t ip6_long_dstopts(uint8_t *p, uint8_t host)
{
	memset(p, 0, 40 + 256 + 20);
	p[0] = 0x60;
	p[4] = (256 + 20) >> 8;
	p[5] = (256 + 20) & 0xff;
	p[6] = 60;
	p[7] = 64;
	memcpy(p + 8, "\x20\x01\x0d\xb8\x00\x01", 6);
	p[23] = host;
	memcpy(p + 24, "\x20\x01\x0d\xb8", 4);
	p[39] = 0x20;
	p[40] = 6;
	p[41] = 256 / 8 - 1;
	p[42] = 0x1e;
	p[43] = 256 - 4;
	put_tcp(p + 40 + 256, TCP_FLAG_SYN);
	return 256;
}

static size_t put_packet(uint8_t *buf, uint32_t id, const uint8_t *payload, size_t len)
{
	struct nlmsghdr *nlh = nfq_nlmsg_put((char *)buf, NFQNL_MSG_PACKET, QNUM);
	struct nfqnl_msg_packet_hdr ph = {.packet_id = htonl(id), .hook = 1};

	mnl_attr_put(nlh, NFQA_PACKET_HDR, sizeof(ph), &ph);
	mnl_attr_put(nlh, NFQA_PAYLOAD, len, payload);
	return nlh->nlmsg_len;
}

static uint8_t *inbox_slot(size_t len)
{
	assert_true(fk.in_tail < INBOX);
	fk.in_len[fk.in_tail] = len;
	return fk.in[fk.in_tail++];
}

/*
 * A packet message as a kernel could send it: the packet header (@ph_len
 * bytes of it; 0: none), then an NFQA_MARK of @mark_len bytes (0: none; a
 * mark is 4 bytes, any other length fails nfq_nlmsg_parse() there), then
 * the payload (NULL: none).
 */
static void queue_odd_packet(uint32_t id, size_t ph_len, size_t mark_len, const uint8_t *payload,
                             size_t len)
{
	uint8_t buf[DGRAM] = {0};
	struct nlmsghdr *nlh = nfq_nlmsg_put((char *)buf, NFQNL_MSG_PACKET, QNUM);
	struct nfqnl_msg_packet_hdr ph = {.packet_id = htonl(id), .hook = 1};
	uint8_t mark[8] = {0};

	if (ph_len)
		mnl_attr_put(nlh, NFQA_PACKET_HDR, ph_len, &ph);
	if (mark_len)
		mnl_attr_put(nlh, NFQA_MARK, mark_len, mark);
	if (payload)
		mnl_attr_put(nlh, NFQA_PAYLOAD, len, payload);
	memcpy(inbox_slot(nlh->nlmsg_len), buf, nlh->nlmsg_len);
}

static void queue_packet(uint32_t id, const uint8_t *payload, size_t len)
{
	uint8_t buf[DGRAM];
	size_t n = put_packet(buf, id, payload, len);

	memcpy(inbox_slot(n), buf, n);
}

static void queue_ack(const struct nlmsghdr *orig, int error)
{
	uint8_t buf[DGRAM] = {0};
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nlmsgerr *e = mnl_nlmsg_put_extra_header(nlh, sizeof(*e));

	nlh->nlmsg_type = NLMSG_ERROR;
	e->error = error;
	e->msg = *orig;
	memcpy(inbox_slot(nlh->nlmsg_len), buf, nlh->nlmsg_len);
}

/* ------------------------------------------------------------ fake I/O */

static int fake_recv(void *ctx, struct mmsghdr *msgs, unsigned int n)
{
	unsigned i = 0;

	(void)ctx;
	if (fk.n_recv_errnos) {
		errno = fk.recv_errnos[0];
		memmove(fk.recv_errnos, fk.recv_errnos + 1,
		        --fk.n_recv_errnos * sizeof(fk.recv_errnos[0]));
		return -1;
	}
	for (; i < n && (fk.in_head < fk.in_tail || fk.flood); i++) {
		struct iovec *iov = msgs[i].msg_hdr.msg_iov;

		if (fk.in_head < fk.in_tail) {
			memcpy(iov->iov_base, fk.in[fk.in_head], fk.in_len[fk.in_head]);
			msgs[i].msg_len = (unsigned)fk.in_len[fk.in_head++];
		} else {
			uint8_t p[64];
			size_t len = ip4_syn(p, 3, TCP_FLAG_SYN);

			msgs[i].msg_len =
			    (unsigned)put_packet(iov->iov_base, ++fk.flood_id, p, len);
		}
		fk.received++;
	}
	if (i == 0) {
		errno = EAGAIN;
		return -1;
	}
	return (int)i;
}

static void record(const struct nlmsghdr *nlh)
{
	const struct nlattr *attr;

	if (nlh->nlmsg_type == MSG_TYPE(NFQNL_MSG_VERDICT)) {
		mnl_attr_for_each(attr, nlh, sizeof(struct nfgenmsg))
		{
			const struct nfqnl_msg_verdict_hdr *vh;

			if (mnl_attr_get_type(attr) != NFQA_VERDICT_HDR)
				continue;
			vh = mnl_attr_get_payload(attr);
			assert_true(fk.n_v < sizeof(fk.v) / sizeof(fk.v[0]));
			fk.v[fk.n_v++] =
			    (struct sent_verdict){ntohl(vh->id), ntohl(vh->verdict), fk.datagrams};
		}
	} else if (nlh->nlmsg_type == MSG_TYPE(NFQNL_MSG_CONFIG)) {
		assert_true(fk.configs < 8);
		fk.config_datagram[fk.configs] = fk.datagrams;
		fk.config_seq[fk.configs] = nlh->nlmsg_seq;
		fk.config_acked[fk.configs] = nlh->nlmsg_flags & NLM_F_ACK;
		fk.configs++;
		/* The kernel answers within the sendto, behind what is already queued. */
		if ((nlh->nlmsg_flags & NLM_F_ACK) && !fk.cfg_silent)
			queue_ack(nlh, fk.cfg_error);
	} else {
		fail_msg("unexpected message type %#x", nlh->nlmsg_type);
	}
}

static ssize_t fake_send(void *ctx, const void *buf, size_t len)
{
	const struct nlmsghdr *nlh = buf;
	int left = (int)len;

	(void)ctx;
	fk.sends++;
	if (fk.n_send_errnos) {
		errno = fk.send_errnos[0];
		memmove(fk.send_errnos, fk.send_errnos + 1,
		        --fk.n_send_errnos * sizeof(fk.send_errnos[0]));
		return -1;
	}
	for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left))
		record(nlh);
	assert_int_equal(left, 0);
	fk.datagrams++;
	return (ssize_t)len;
}

static int fake_wait(void *ctx, short events, int timeout_ms)
{
	(void)ctx;
	(void)timeout_ms;
	if (events & POLLOUT) {
		fk.waits_out++;
		return 1;
	}
	return fk.in_head < fk.in_tail || fk.flood ? 1 : 0; /* nothing comes while we wait */
}

static const struct nfqueue_io fake_io = {fake_recv, fake_send, fake_wait, NULL};

/* ------------------------------------------------------------ the judge */

struct judge_log {
	unsigned calls;
	uint32_t last_id;
	struct packet_info last;
};

/* Whitelisted: host 1 (IPv4 and IPv6). Held: host 9. Everything else: dropped. */
static enum nfqueue_verdict judge(void *ctx, uint32_t id, const struct packet_info *pkt)
{
	struct judge_log *log = ctx;
	uint8_t host = pkt->src.b[15];

	log->calls++;
	log->last_id = id;
	log->last = *pkt;
	if (host == 1)
		return NFQUEUE_ACCEPT;
	if (host == 9)
		return NFQUEUE_PENDING;
	return NFQUEUE_DROP;
}

static struct judge_log jl;

static struct nfqueue *open_fake(bool accept_unparsable)
{
	struct nfqueue_params p = {
	    .queue_num = QNUM, .maxlen = 1024, .accept_unparsable = accept_unparsable};
	char err[256] = "";
	struct nfqueue *q;

	q = nfqueue_new_io(&p, judge, &jl, &fake_io, err, sizeof(err));
	if (!q)
		fail_msg("nfqueue_new_io: %s", err);
	return q;
}

static int setup(void **state)
{
	(void)state;
	memset(&fk, 0, sizeof(fk));
	memset(&jl, 0, sizeof(jl));
	return 0;
}

static const struct sent_verdict *verdict_of(uint32_t id)
{
	for (size_t i = 0; i < fk.n_v; i++)
		if (fk.v[i].id == id)
			return &fk.v[i];
	return NULL;
}

static void expect_verdict(uint32_t id, uint32_t verdict)
{
	const struct sent_verdict *v = verdict_of(id);

	if (!v)
		fail_msg("no verdict sent for packet %u", id);
	assert_int_equal(v->verdict, verdict);
}

/* ------------------------------------------------------------ tests */

static void test_open_binds_and_waits_for_answers(void **state)
{
	struct nfqueue *q;

	(void)state;
	q = open_fake(false);
	/* Bind, then copy range + maxlen + fail-open: each asks for an ack, each got one. */
	assert_int_equal(fk.configs, 2);
	assert_true(fk.config_acked[0] && fk.config_acked[1]);
	assert_int_not_equal(fk.config_seq[0], fk.config_seq[1]);
	assert_int_equal(fk.in_head, fk.in_tail); /* both acks read */
	assert_int_equal(fk.n_v, 0);
	nfqueue_close(q);
}

static void test_open_reports_kernel_refusal(void **state)
{
	struct nfqueue_params p = {.queue_num = QNUM, .maxlen = 1024};
	char err[256] = "";

	(void)state;
	fk.cfg_error = -EBUSY;
	assert_null(nfqueue_new_io(&p, judge, &jl, &fake_io, err, sizeof(err)));
	assert_non_null(strstr(err, "cannot bind queue 23"));
	assert_non_null(strstr(err, "another program holds this queue"));

	setup(NULL);
	fk.cfg_silent = true;
	assert_null(nfqueue_new_io(&p, judge, &jl, &fake_io, err, sizeof(err)));
	assert_non_null(strstr(err, strerror(ETIMEDOUT)));
}

static void test_verdicts(void **state)
{
	uint8_t p[512], garbage[10];
	struct nfqueue *q;
	char a[ADDR_STRLEN];
	size_t n;

	(void)state;
	q = open_fake(false);
	n = ip4_syn(p, 1, TCP_FLAG_SYN);
	queue_packet(1, p, n); /* whitelisted */
	n = ip4_syn(p, 3, TCP_FLAG_SYN);
	queue_packet(2, p, n); /* not whitelisted */
	n = ip6_long_dstopts(p, 3);
	queue_packet(3, p, n); /* the IPv6 attack: TCP header beyond the copy */
	n = ip6_long_dstopts(p, 1);
	queue_packet(4, p, n); /* the same from a whitelisted client */
	memset(garbage, 0xff, sizeof(garbage));
	queue_packet(5, garbage, sizeof(garbage)); /* no addresses */
	n = ip4_syn(p, 3, TCP_FLAG_SYN | TCP_FLAG_ACK);
	queue_packet(6, p, n); /* not a connection attempt */

	assert_int_equal(nfqueue_dispatch(q), 0);
	expect_verdict(1, NF_ACCEPT);
	expect_verdict(2, NF_DROP);
	expect_verdict(3, NF_DROP);
	expect_verdict(4, NF_ACCEPT);
	expect_verdict(5, NF_DROP);
	expect_verdict(6, NF_ACCEPT);
	assert_int_equal(fk.n_v, 6);
	assert_int_equal(fk.datagrams - fk.config_datagram[1], 2); /* all six in one sendto */
	/* The truncated packet reached the judge with its addresses. */
	assert_int_equal(jl.calls, 4);
	assert_string_equal(addr_format(&jl.last.src, a), "2001:db8:1::1");
	assert_string_equal(addr_format(&jl.last.dst, a), "2001:db8::20");

	const struct nfqueue_stats *s = nfqueue_stats(q);
	assert_int_equal(s->packets, 6);
	assert_int_equal(s->judged, 4);
	assert_int_equal(s->truncated, 2);
	assert_int_equal(s->malformed, 1);
	assert_int_equal(s->ignored, 1);
	assert_int_equal(s->dropped, 3);
	assert_int_equal(s->send_errors, 0);
	nfqueue_close(q);
}

static void test_accept_unparsable(void **state)
{
	uint8_t garbage[10];
	struct nfqueue *q;

	(void)state;
	q = open_fake(true);
	memset(garbage, 0x60, sizeof(garbage)); /* IPv6, shorter than its header */
	queue_packet(5, garbage, sizeof(garbage));
	assert_int_equal(nfqueue_dispatch(q), 0);
	expect_verdict(5, NF_ACCEPT);
	assert_int_equal(nfqueue_stats(q)->malformed, 1);
	assert_int_equal(jl.calls, 0);
	nfqueue_close(q);
}

static void test_pending_verdicts_later_and_out_of_order(void **state)
{
	uint8_t p[64];
	struct nfqueue *q;
	size_t n = ip4_syn(p, 9, TCP_FLAG_SYN);

	(void)state;
	q = open_fake(false);
	queue_packet(10, p, n);
	queue_packet(11, p, n);
	queue_packet(12, p, n);
	assert_int_equal(nfqueue_dispatch(q), 0);
	assert_int_equal(fk.n_v, 0);
	assert_int_equal(jl.last_id, 12);
	assert_int_equal(nfqueue_stats(q)->pending, 3);
	assert_int_equal(nfqueue_stats(q)->packets, 0);

	assert_int_equal(nfqueue_verdict(q, 12, true), 0);
	assert_int_equal(nfqueue_verdict(q, 10, false), 0);
	assert_int_equal(fk.n_v, 0); /* buffered until a flush */
	assert_int_equal(nfqueue_flush(q), 0);
	assert_int_equal(fk.n_v, 2);
	assert_int_equal(fk.v[0].id, 12);
	assert_int_equal(fk.v[0].verdict, NF_ACCEPT);
	assert_int_equal(fk.v[1].id, 10);
	assert_int_equal(fk.v[1].verdict, NF_DROP);
	assert_int_equal(fk.v[0].datagram, fk.v[1].datagram);
	/* The last one goes out with the next dispatch. */
	assert_int_equal(nfqueue_verdict(q, 11, true), 0);
	assert_int_equal(nfqueue_dispatch(q), 0);
	expect_verdict(11, NF_ACCEPT);
	assert_int_equal(nfqueue_stats(q)->packets, 3);
	nfqueue_close(q);
}

/* Many verdicts given outside a dispatch: the buffer is sent when full, none is lost. */
static void test_many_later_verdicts(void **state)
{
	struct nfqueue *q;

	(void)state;
	q = open_fake(false);
	for (uint32_t id = 1; id <= 1000; id++)
		assert_int_equal(nfqueue_verdict(q, id, id & 1), 0);
	assert_int_equal(nfqueue_flush(q), 0);
	assert_int_equal(fk.n_v, 1000);
	for (uint32_t id = 1; id <= 1000; id++)
		assert_int_equal(fk.v[id - 1].id, id);
	assert_true(fk.datagrams - fk.config_datagram[1] - 1 > 1);
	nfqueue_close(q);
}

static void test_dispatch_is_bounded_under_flood(void **state)
{
	struct nfqueue *q;

	(void)state;
	q = open_fake(false);
	fk.flood = true;
	fk.received = 0;
	assert_int_equal(nfqueue_dispatch(q), 0);
	/* It came back although more was queued, every packet read was answered. */
	assert_int_equal(fk.received, PER_DISPATCH);
	assert_int_equal(fk.n_v, PER_DISPATCH);
	assert_int_equal(nfqueue_stats(q)->dropped, PER_DISPATCH);
	assert_int_equal(nfqueue_dispatch(q), 0);
	assert_int_equal(fk.received, 2 * PER_DISPATCH);
	assert_int_equal(fk.n_v, 2 * PER_DISPATCH);
	nfqueue_close(q);
}

static void test_send_retried(void **state)
{
	uint8_t p[64];
	struct nfqueue *q;
	size_t n = ip4_syn(p, 1, TCP_FLAG_SYN);

	(void)state;
	q = open_fake(false);
	queue_packet(1, p, n);
	fk.send_errnos[0] = ENOBUFS;
	fk.send_errnos[1] = EINTR;
	fk.send_errnos[2] = EAGAIN;
	fk.n_send_errnos = 3;
	assert_int_equal(nfqueue_dispatch(q), 0);
	expect_verdict(1, NF_ACCEPT);
	assert_int_equal(nfqueue_stats(q)->send_errors, 3);
	assert_int_equal(nfqueue_stats(q)->send_errno, EAGAIN);
	assert_int_equal(fk.waits_out, 2); /* waited for room after ENOBUFS and EAGAIN */
	nfqueue_close(q);
}

static void test_send_failure_is_fatal(void **state)
{
	uint8_t p[64];
	struct nfqueue *q;
	size_t n = ip4_syn(p, 1, TCP_FLAG_SYN);
	unsigned sends;

	(void)state;
	q = open_fake(false);
	queue_packet(1, p, n);
	for (size_t i = 0; i < 8; i++)
		fk.send_errnos[i] = ENOBUFS;
	fk.n_send_errnos = 8;
	sends = fk.sends;
	assert_int_equal(nfqueue_dispatch(q), NFQUEUE_ESEND);
	assert_int_equal(fk.sends - sends, 5); /* a few tries, then it gives up */
	assert_int_equal(nfqueue_stats(q)->send_errors, 5);
	assert_int_equal(nfqueue_stats(q)->send_errno, ENOBUFS);
	assert_null(verdict_of(1));
	/* It stays failed: the daemon must exit, so that the kernel drops what is queued. */
	fk.n_send_errnos = 0;
	queue_packet(2, p, n);
	assert_int_equal(nfqueue_dispatch(q), NFQUEUE_ESEND);
	assert_int_equal(nfqueue_verdict(q, 3, true), NFQUEUE_ESEND);
	assert_int_equal(nfqueue_flush(q), NFQUEUE_ESEND);
	nfqueue_close(q);

	/* An error that waiting does not cure is not retried. */
	setup(NULL);
	q = open_fake(false);
	queue_packet(1, p, n);
	fk.send_errnos[0] = EPERM;
	fk.n_send_errnos = 1;
	sends = fk.sends;
	assert_int_equal(nfqueue_dispatch(q), NFQUEUE_ESEND);
	assert_int_equal(fk.sends - sends, 1);
	assert_int_equal(nfqueue_stats(q)->send_errno, EPERM);
	nfqueue_close(q);
}

static void test_error_acks(void **state)
{
	struct nlmsghdr verdict = {.nlmsg_type = MSG_TYPE(NFQNL_MSG_VERDICT)};
	struct nlmsghdr config = {.nlmsg_type = MSG_TYPE(NFQNL_MSG_CONFIG), .nlmsg_seq = 999};
	struct nfqueue *q;
	uint8_t p[64];
	size_t n = ip4_syn(p, 1, TCP_FLAG_SYN);

	(void)state;
	q = open_fake(false);
	/* A verdict for a packet the kernel no longer holds: counted, not fatal. */
	queue_ack(&verdict, -ENOENT);
	queue_packet(1, p, n);
	assert_int_equal(nfqueue_dispatch(q), 0);
	expect_verdict(1, NF_ACCEPT);
	assert_int_equal(nfqueue_stats(q)->ack_errors, 1);
	/* A refused configuration message of ours: fatal. */
	queue_ack(&config, -EINVAL);
	assert_int_equal(nfqueue_dispatch(q), -EINVAL);
	nfqueue_close(q);
}

static void test_recv_errors(void **state)
{
	uint8_t p[64];
	struct nfqueue *q;
	size_t n = ip4_syn(p, 1, TCP_FLAG_SYN);

	(void)state;
	q = open_fake(false);
	fk.recv_errnos[0] = ENOBUFS;
	fk.recv_errnos[1] = EINTR;
	fk.n_recv_errnos = 2;
	queue_packet(1, p, n);
	assert_int_equal(nfqueue_dispatch(q), 0);
	expect_verdict(1, NF_ACCEPT);
	assert_int_equal(nfqueue_stats(q)->enobufs, 1);
	fk.recv_errnos[0] = EBADF;
	fk.n_recv_errnos = 1;
	assert_int_equal(nfqueue_dispatch(q), -EBADF);
	nfqueue_close(q);
}

static void test_configure(void **state)
{
	uint8_t p[64];
	struct nfqueue *q;
	size_t n = ip4_syn(p, 3, TCP_FLAG_SYN);
	unsigned cfg;

	(void)state;
	q = open_fake(false);
	/* A verdict given later, still buffered, and two packets queued before the answer. */
	assert_int_equal(nfqueue_verdict(q, 77, true), 0);
	queue_packet(20, p, n);
	queue_packet(21, p, n);
	assert_int_equal(nfqueue_configure(q, 2048, true), 0);
	cfg = fk.configs - 1;
	assert_int_equal(cfg, 2);
	assert_true(fk.config_acked[cfg]);
	assert_int_equal(fk.in_head, fk.in_tail); /* its answer was read before returning */
	/* The configuration message went alone: the buffered verdict was not overwritten. */
	expect_verdict(77, NF_ACCEPT);
	assert_true(verdict_of(77)->datagram > fk.config_datagram[cfg]);
	/* The packets read while waiting were judged and answered. */
	expect_verdict(20, NF_DROP);
	expect_verdict(21, NF_DROP);

	fk.cfg_error = -EINVAL;
	assert_int_equal(nfqueue_configure(q, 0, false), -EINVAL);
	fk.cfg_error = 0;
	fk.cfg_silent = true;
	assert_int_equal(nfqueue_configure(q, 4096, false), -ETIMEDOUT);
	fk.cfg_silent = false;
	/* Its answer, should it come late, is no error of a later dispatch. */
	queue_ack(&(struct nlmsghdr){.nlmsg_type = MSG_TYPE(NFQNL_MSG_CONFIG),
	                             .nlmsg_seq = fk.config_seq[fk.configs - 1]},
	          0);
	assert_int_equal(nfqueue_dispatch(q), 0);
	assert_int_equal(fk.in_head, fk.in_tail);
	assert_int_equal(nfqueue_configure(q, 4096, false), 0);
	nfqueue_close(q);
}

/*
 * Messages that do not parse whole: a bad attribute after the packet header
 * (nfq_nlmsg_parse() fails), no payload at all. Each has an id: each gets
 * the unparsable verdict (drop, or accept with accept-unparsable) and is
 * counted as malformed; never judged, never left in the kernel's queue. A
 * message without a readable id cannot be answered, but is counted.
 */
static void test_unparsable_messages(void **state)
{
	uint8_t p[64];
	size_t n = ip4_syn(p, 1, TCP_FLAG_SYN); /* a whitelisted client: only a parse says so */
	struct nfqueue *q;

	(void)state;
	for (int accept = 0; accept <= 1; accept++) {
		setup(NULL);
		q = open_fake(accept);
		queue_odd_packet(11, sizeof(struct nfqnl_msg_packet_hdr), 2, p, n); /* bad mark */
		queue_odd_packet(12, sizeof(struct nfqnl_msg_packet_hdr), 0, NULL, 0); /* no data */
		queue_odd_packet(13, 2, 0, p, n); /* packet header too short: no id */
		queue_packet(14, p, n);           /* and a good one after them */
		assert_int_equal(nfqueue_dispatch(q), 0);
		expect_verdict(11, accept ? NF_ACCEPT : NF_DROP);
		expect_verdict(12, accept ? NF_ACCEPT : NF_DROP);
		assert_null(verdict_of(13));
		expect_verdict(14, NF_ACCEPT);
		assert_int_equal(fk.n_v, 3);
		assert_int_equal(jl.calls, 1);
		assert_int_equal(nfqueue_stats(q)->malformed, 3);
		assert_int_equal(nfqueue_stats(q)->judged, 1);
		nfqueue_close(q);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_open_binds_and_waits_for_answers, setup),
	    cmocka_unit_test_setup(test_open_reports_kernel_refusal, setup),
	    cmocka_unit_test_setup(test_verdicts, setup),
	    cmocka_unit_test_setup(test_accept_unparsable, setup),
	    cmocka_unit_test_setup(test_unparsable_messages, setup),
	    cmocka_unit_test_setup(test_pending_verdicts_later_and_out_of_order, setup),
	    cmocka_unit_test_setup(test_many_later_verdicts, setup),
	    cmocka_unit_test_setup(test_dispatch_is_bounded_under_flood, setup),
	    cmocka_unit_test_setup(test_send_retried, setup),
	    cmocka_unit_test_setup(test_send_failure_is_fatal, setup),
	    cmocka_unit_test_setup(test_error_acks, setup),
	    cmocka_unit_test_setup(test_recv_errors, setup),
	    cmocka_unit_test_setup(test_configure, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
