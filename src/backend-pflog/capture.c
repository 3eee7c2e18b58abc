/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libpcap capture of firewall log records (pflog0 on BSD, nflog:N on Linux)
 * and savefile reading for replay. The BPF filter only saves work: every
 * record is parsed and checked again in C.
 */
#include "capture.h"

#include <errno.h>
#include <pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Link header (100 for pflog, NFLOG's attributes before the payload), IP with options, TCP. */
#define SNAPLEN 1024

/*
 * Link types an older libpcap (OpenBSD's own) does not define. It returns a
 * savefile's link type number as the file has it, so these are the LINKTYPE_
 * numbers of the pcap format, which equal the DLT_ numbers of libpcap 1.x.
 */
#ifndef DLT_LINUX_SLL
#define DLT_LINUX_SLL 113
#endif
#ifndef DLT_IPV4
#define DLT_IPV4 228
#endif
#ifndef DLT_IPV6
#define DLT_IPV6 229
#endif
#ifndef DLT_NFLOG
#define DLT_NFLOG 239
#endif
/* Raw IP in a savefile; libpcap 1.x maps it to DLT_RAW (12; 14 on OpenBSD). */
#define LINKTYPE_RAW 101

struct capture {
	pcap_t *pcap;
	enum link_kind kind;
	bool live;
	struct capture_stats stats;
	uint64_t drops;                  /* capture_drops() */
	unsigned last_drop, last_ifdrop; /* libpcap's counters at the last call */
	capture_fn fn;
	void *ctx;
};

struct capture *capture_close(struct capture *c)
{
	if (c) {
		if (c->pcap)
			pcap_close(c->pcap);
		free(c);
	}
	return NULL;
}

int capture_link_of_dlt(int dlt, enum link_kind *kind)
{
	switch (dlt) {
	case DLT_PFLOG:
		*kind = LINK_PFLOG;
		return 0;
	case DLT_RAW:
	case LINKTYPE_RAW:
	case DLT_IPV4:
	case DLT_IPV6:
		*kind = LINK_RAW;
		return 0;
	case DLT_EN10MB:
		*kind = LINK_EN10MB;
		return 0;
	case DLT_NFLOG:
		*kind = LINK_NFLOG;
		return 0;
	case DLT_LINUX_SLL:
		*kind = LINK_LINUX_SLL;
		return 0;
	default:
		return -EPROTONOSUPPORT;
	}
}

/*
 * @default_filter: whether a NULL @filter means the SYN filter (live) or none
 * (files: libpcap on Linux does not match `ip6` or `tcp` in OpenBSD-layout
 * IPv6 pflog records, whose family byte differs from Linux's AF_INET6).
 */
static int setup(struct capture *c, const char *what, const char *filter, bool default_filter,
                 char *err, size_t errlen)
{
	struct bpf_program prog;
	int dlt = pcap_datalink(c->pcap);

	if (capture_link_of_dlt(dlt, &c->kind) < 0) {
		const char *name = pcap_datalink_val_to_name(dlt);

		snprintf(err, errlen,
		         "%s: link type %s (%d) is not supported (pflog, nflog, raw IP, ethernet, "
		         "linux-sll are)",
		         what, name ? name : "?", dlt);
		return -EPROTONOSUPPORT;
	}
	/* libpcap cannot filter NFLOG: the NFLOG rules select the packets instead. */
	if (c->kind == LINK_NFLOG) {
		if (filter && *filter) {
			snprintf(err, errlen,
			         "%s: pcap-filter cannot apply to NFLOG (libpcap does not filter "
			         "it); select packets in the NFLOG rules",
			         what);
			return -EINVAL;
		}
		return 0;
	}
	if (!filter)
		filter = default_filter ? CAPTURE_DEFAULT_FILTER : "";
	if (!*filter)
		return 0;
	if (pcap_compile(c->pcap, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) < 0) {
		snprintf(err, errlen, "%s: bad pcap filter '%s': %s", what, filter,
		         pcap_geterr(c->pcap));
		return -EINVAL;
	}
	if (pcap_setfilter(c->pcap, &prog) < 0) {
		snprintf(err, errlen, "%s: cannot set pcap filter: %s", what, pcap_geterr(c->pcap));
		pcap_freecode(&prog);
		return -EINVAL;
	}
	pcap_freecode(&prog);
	return 0;
}

struct capture *capture_open_live(const char *ifname, const char *filter, char *err, size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	struct capture *c = calloc(1, sizeof(*c));
	int r;

	if (!c) {
		snprintf(err, errlen, "%s: out of memory", ifname);
		return NULL;
	}
	c->pcap = pcap_create(ifname, ebuf);
	if (!c->pcap) {
		snprintf(err, errlen, "%s: %s", ifname, ebuf);
		return capture_close(c);
	}
	/*
	 * A large buffer rides out bursts (a SYN flood logs every SYN) while the
	 * loop is busy; what is lost anyway shows in capture_drops().
	 */
	if (pcap_set_snaplen(c->pcap, SNAPLEN) < 0 || pcap_set_immediate_mode(c->pcap, 1) < 0 ||
	    pcap_set_timeout(c->pcap, 100) < 0 ||
	    pcap_set_buffer_size(c->pcap, CAPTURE_BUFFER_SIZE) < 0) {
		snprintf(err, errlen, "%s: cannot set capture options", ifname);
		return capture_close(c);
	}
	r = pcap_activate(c->pcap);
	if (r < 0) {
		snprintf(err, errlen, "%s: cannot capture: %s%s", ifname,
		         r == PCAP_ERROR_PERM_DENIED ? "permission denied (run as root) "
		         : r == PCAP_ERROR_NO_SUCH_DEVICE
		             ? "no such interface (is pflog0 up / the NFLOG group right?) "
		             : "",
		         pcap_geterr(c->pcap));
		return capture_close(c);
	}
	c->live = true;
	if (setup(c, ifname, filter, true, err, errlen) < 0)
		return capture_close(c);
	if (pcap_setnonblock(c->pcap, 1, ebuf) < 0) {
		snprintf(err, errlen, "%s: %s", ifname, ebuf);
		return capture_close(c);
	}
	if (pcap_get_selectable_fd(c->pcap) < 0) {
		snprintf(err, errlen, "%s: no selectable descriptor", ifname);
		return capture_close(c);
	}
	return c;
}

struct capture *capture_open_file(const char *path, const char *filter, char *err, size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	struct capture *c = calloc(1, sizeof(*c));

	if (!c) {
		snprintf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	c->pcap = pcap_open_offline(path, ebuf);
	if (!c->pcap) {
		/* libpcap names the file itself when it cannot open it. */
		if (strncmp(ebuf, path, strlen(path)) == 0)
			snprintf(err, errlen, "%s", ebuf);
		else
			snprintf(err, errlen, "%s: %s", path, ebuf);
		return capture_close(c);
	}
	if (setup(c, path, filter, false, err, errlen) < 0)
		return capture_close(c);
	return c;
}

int capture_fd(const struct capture *c)
{
	return pcap_get_selectable_fd(c->pcap);
}

enum link_kind capture_link(const struct capture *c)
{
	return c->kind;
}

static void on_record(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
	struct capture *c = (struct capture *)user;
	struct link_record rec;
	int r;

	c->stats.records++;
	r = link_parse(c->kind, bytes, h->caplen, &rec);
	if (r < 0) {
		c->stats.malformed++;
		return;
	}
	if (r != LINK_TCP || rec.pkt.dport != 25 || !packet_is_syn(&rec.pkt)) {
		c->stats.ignored++;
		return;
	}
	c->stats.syns++;
	c->fn(c->ctx, &rec, (int64_t)h->ts.tv_sec, (uint32_t)h->ts.tv_usec);
}

const struct capture_stats *capture_stats(const struct capture *c)
{
	return &c->stats;
}

int capture_dispatch(struct capture *c, int max, capture_fn fn, void *ctx, char *err, size_t errlen)
{
	int n;

	c->fn = fn;
	c->ctx = ctx;
	errno = 0;
	n = pcap_dispatch(c->pcap, max > 0 ? max : -1, on_record, (u_char *)c);
	if (n == PCAP_ERROR) {
		/*
		 * libpcap's BPF reader returns 0 for EWOULDBLOCK, its NFLOG reader
		 * an error ("Can't receive packet: Resource temporarily
		 * unavailable"): a wake-up with nothing to read is no failure.
		 */
		if (c->live && (errno == EAGAIN || errno == EWOULDBLOCK ||
		                strstr(pcap_geterr(c->pcap), strerror(EAGAIN))))
			return 0;
		snprintf(err, errlen, "%s", pcap_geterr(c->pcap));
		return -EIO;
	}
	return n < 0 ? 0 : n;
}

int capture_drops(struct capture *c, uint64_t *drops, char *err, size_t errlen)
{
	struct pcap_stat ps;

	if (pcap_stats(c->pcap, &ps) < 0) {
		snprintf(err, errlen, "capture statistics: %s", pcap_geterr(c->pcap));
		return -ENOTSUP;
	}
	/* Unsigned differences stay right across a wrap of the 32-bit counters. */
	c->drops += (unsigned)(ps.ps_drop - c->last_drop);
	c->drops += (unsigned)(ps.ps_ifdrop - c->last_ifdrop);
	c->last_drop = ps.ps_drop;
	c->last_ifdrop = ps.ps_ifdrop;
	*drops = c->drops;
	return 0;
}
