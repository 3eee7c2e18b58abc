/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Linux table writer for nftables: two sets (ipv4_addr, ipv6_addr) in one
 * table of family inet, through the nf_tables netlink API (libnftnl builds
 * the messages, libmnl carries them). All changes of a commit go in one
 * netlink batch, which the kernel applies as one transaction.
 *
 * The ruleset owns the table and its sets: mxallowd never creates, flushes
 * nor deletes them, it only checks them (type, timeout flag, size) and
 * explains what to change. With prefixes, elements are masked network
 * addresses in plain sets (the ruleset masks the source before the lookup). At start the
 * elements already there are taken over: kept until their own timeout,
 * so a restart leaves enforcement as it was. Elements without a timeout
 * belong to the administrator and are never touched.
 *
 * A deletion of an element that is already gone (the kernel expires them
 * by the same deadline) is harmless: NFT_MSG_DESTROYSETELEM (Linux 6.3+)
 * ignores it; on older kernels a refused batch is retried change by change,
 * where a missing element is fine. Whether re-adding an element refreshes
 * its timeout depends on the kernel: the resync re-arms the ones that drifted.
 */
#include "table-writer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/object.h>
#include <libnftnl/set.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include "table-util.h"

#ifndef NFT_MSG_DESTROYSETELEM
#define NFT_MSG_DESTROYSETELEM 30 /* Linux 6.3; older headers lack it */
#endif

#define NAME_MAX_LEN  256     /* NFT_NAME_MAXLEN of the kernel */
#define TYPE_IPV4     7       /* nft's datatype ids: ipv4_addr */
#define TYPE_IPV6     8       /* ipv6_addr */
#define MAX_TIMEOUT_S 2147483 /* what the other writers allow; whitelist-time's bound */
#define RETIME_SLACK  5       /* seconds a kernel timeout may drift before a resync re-arms it */
#define ELEMS_PER_MSG 512     /* set elements in one NEWSETELEM/DELSETELEM message */
#define BATCH_LIMIT   (96 * 1024) /* bytes of one netlink batch, below the socket's send buffer */
#define COUNTER_NAME  "kernel-accepted"

struct nft_change {
	mxa_addr addr;
	uint32_t timeout;
	bool add;
};

struct table_writer {
	struct mnl_socket *nl;
	uint32_t portid;
	uint32_t seq;
	char table[NAME_MAX_LEN];
	char set[2][NAME_MAX_LEN]; /* [0] IPv4, [1] IPv6 */
	bool interval[2];          /* the set holds ranges (flags interval) */
	unsigned prefix[2];
	uint32_t max_entries;
	bool destroy;            /* the kernel knows NFT_MSG_DESTROYSETELEM */
	int64_t counter_read_at; /* the "kernel-accepted" counter: read at most once a second */
	struct nft_change *ops;
	size_t n_ops;
	size_t cap_ops;
	/* Elements found at start: kept until their deadline (monotonic seconds), sorted. */
	struct table_util_vec adopted;
	table_later_fn later; /* kernel renewals a resync finds (table_params.later) */
	void *later_ctx;
	struct table_stats stats;
	char *buf; /* 2 * BATCH_LIMIT: a batch under construction (libmnl's rule) */
	char describe[2 * NAME_MAX_LEN + 32];
};

static int fam(const mxa_addr *a)
{
	return addr_is_v4(a) ? 0 : 1;
}

static unsigned fam_bits(int f)
{
	return f ? 128 : 32;
}

static const char *fam_type(int f)
{
	return f ? "ipv6_addr" : "ipv4_addr";
}

/* The key bytes of @a in family @f (network order) into @out; returns their length. */
static size_t key_bytes(const mxa_addr *a, int f, uint8_t out[16])
{
	if (f == 0) {
		memcpy(out, addr_v4_bytes(a), 4);
		return 4;
	}
	memcpy(out, a->b, 16);
	return 16;
}

/*
 * @k (len bytes, big-endian) + 2^(bits - prefix): the first address after the
 * network. Returns false on overflow (the network ends the address space).
 */
static bool range_end(uint8_t *k, size_t len, unsigned prefix)
{
	unsigned host = (unsigned)len * 8 - prefix;
	size_t byte;
	unsigned carry;

	if (host == len * 8)
		return false;
	byte = len - 1 - host / 8;
	carry = 1u << (host % 8);
	for (size_t i = byte + 1; i-- > 0;) {
		unsigned v = k[i] + carry;

		k[i] = (uint8_t)v;
		carry = v >> 8;
		if (!carry)
			return true;
	}
	return false;
}

/* ---- netlink ---- */

/*
 * Starts a request in @buf (@len bytes), zeroed first: libmnl leaves the
 * padding after an attribute as it finds it, and a request must not carry
 * stale stack bytes to the kernel.
 */
static struct nlmsghdr *request(char *buf, size_t len, uint16_t type, uint16_t flags, uint32_t seq)
{
	memset(buf, 0, len);
	return nftnl_nlmsg_build_hdr(buf, type, NFPROTO_INET, flags, seq);
}

/* Sends @len bytes at @buf. 0 or -errno. */
static int nl_send(struct table_writer *w, const void *buf, size_t len)
{
	return mnl_socket_sendto(w->nl, buf, len) < 0 ? -errno : 0;
}

typedef int (*nl_data_fn)(const struct nlmsghdr *nlh, void *data);

/*
 * Reads answers until the end of a dump (NLMSG_DONE), or until @acks acks
 * arrived, or (batch: @acks 0 and @nowait) until nothing is left. Data
 * messages go to @fn. Returns 0 or the first error an ack carried (-errno).
 */
static int nl_recv(struct table_writer *w, size_t acks, bool dump, bool nowait, nl_data_fn fn,
                   void *data)
{
	char buf[MNL_SOCKET_BUFFER_SIZE * 4];
	int first = 0;
	size_t seen = 0;

	for (;;) {
		ssize_t n =
		    recv(mnl_socket_get_fd(w->nl), buf, sizeof(buf), nowait ? MSG_DONTWAIT : 0);
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
		int left;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (nowait && (errno == EAGAIN || errno == EWOULDBLOCK))
				return first;
			return first ? first : -errno;
		}
		left = (int)n;
		for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
			if (nlh->nlmsg_type == NLMSG_DONE)
				return first;
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

				if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(*e) && e->error &&
				    !first)
					first = e->error;
				seen++;
				if (dump || (!nowait && seen >= acks))
					return first;
				continue;
			}
			if (fn && fn(nlh, data) < 0 && !first)
				first = -ENOMEM;
		}
	}
}

/* One GET request (not a dump) with an ack: the object goes to @fn. 0 or -errno. */
static int nl_get(struct table_writer *w, struct nlmsghdr *nlh, nl_data_fn fn, void *data)
{
	int r;

	nlh->nlmsg_flags |= NLM_F_ACK;
	r = nl_send(w, nlh, nlh->nlmsg_len);
	return r < 0 ? r : nl_recv(w, 1, false, false, fn, data);
}

/* ---- batches of element changes ---- */

struct batch {
	struct mnl_nlmsg_batch *b;
	struct nftnl_set *s; /* the message being filled */
	int s_fam;
	uint16_t s_type;
	size_t s_elems;
	size_t messages;
};

static void batch_start(struct table_writer *w, struct batch *bt)
{
	*bt = (struct batch){.b = mnl_nlmsg_batch_start(w->buf, BATCH_LIMIT), .s_fam = -1};
	nftnl_batch_begin(mnl_nlmsg_batch_current(bt->b), w->seq++);
	mnl_nlmsg_batch_next(bt->b);
}

/* Closes the message being filled. False when the batch is full (the message is kept). */
static bool batch_flush_msg(struct table_writer *w, struct batch *bt)
{
	struct nlmsghdr *nlh;
	uint16_t flags = NLM_F_ACK;
	bool room;

	if (!bt->s)
		return true;
	if (bt->s_type == NFT_MSG_NEWSETELEM)
		flags |= NLM_F_CREATE;
	nlh = nftnl_nlmsg_build_hdr(mnl_nlmsg_batch_current(bt->b), bt->s_type, NFPROTO_INET, flags,
	                            w->seq++);
	nftnl_set_elems_nlmsg_build_payload(nlh, bt->s);
	nftnl_set_free(bt->s);
	bt->s = NULL;
	bt->messages++;
	/* Never false: batch_put() starts a message only with room for a full one. */
	room = mnl_nlmsg_batch_next(bt->b);
	return room;
}

/*
 * Adds the elements of change @c to the batch: a start and, for an interval
 * set, the end of its range. False when the batch is full: send it first.
 */
static bool batch_put(struct table_writer *w, struct batch *bt, const struct nft_change *c)
{
	int f = fam(&c->addr);
	uint16_t type = c->add       ? NFT_MSG_NEWSETELEM
	                : w->destroy ? (uint16_t)NFT_MSG_DESTROYSETELEM
	                             : NFT_MSG_DELSETELEM;
	uint8_t k[16];
	size_t len = key_bytes(&c->addr, f, k);
	struct nftnl_set_elem *e;

	if (bt->s && (bt->s_fam != f || bt->s_type != type || bt->s_elems >= ELEMS_PER_MSG)) {
		if (!batch_flush_msg(w, bt))
			return false;
	}
	if (mnl_nlmsg_batch_size(bt->b) + 2 * ELEMS_PER_MSG * 64 > BATCH_LIMIT && !bt->s)
		return false; /* no room for another full message */
	if (!bt->s) {
		bt->s = nftnl_set_alloc();
		if (!bt->s)
			return false;
		nftnl_set_set_str(bt->s, NFTNL_SET_TABLE, w->table);
		nftnl_set_set_str(bt->s, NFTNL_SET_NAME, w->set[f]);
		bt->s_fam = f;
		bt->s_type = type;
		bt->s_elems = 0;
	}
	e = nftnl_set_elem_alloc();
	if (!e)
		return false;
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, k, (uint32_t)len);
	if (c->add)
		nftnl_set_elem_set_u64(e, NFTNL_SET_ELEM_TIMEOUT, (uint64_t)c->timeout * 1000);
	nftnl_set_elem_add(bt->s, e);
	bt->s_elems++;
	if (w->interval[f] && range_end(k, len, w->prefix[f])) {
		e = nftnl_set_elem_alloc();
		if (!e)
			return false;
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, k, (uint32_t)len);
		nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_FLAGS, NFT_SET_ELEM_INTERVAL_END);
		nftnl_set_elem_add(bt->s, e);
		bt->s_elems++;
	}
	return true;
}

/* Ends and sends the batch: one transaction. 0 or the kernel's first error (-errno). */
static int batch_send(struct table_writer *w, struct batch *bt)
{
	int r;

	batch_flush_msg(w, bt);
	nftnl_batch_end(mnl_nlmsg_batch_current(bt->b), w->seq++);
	mnl_nlmsg_batch_next(bt->b);
	r = nl_send(w, mnl_nlmsg_batch_head(bt->b), mnl_nlmsg_batch_size(bt->b));
	mnl_nlmsg_batch_stop(bt->b);
	bt->b = NULL;
	if (r < 0)
		return r;
	/* The kernel handles the batch within sendto(): every answer is queued already. */
	return nl_recv(w, 0, false, true, NULL, NULL);
}

static void batch_abandon(struct batch *bt)
{
	if (bt->s)
		nftnl_set_free(bt->s);
	if (bt->b)
		mnl_nlmsg_batch_stop(bt->b);
	bt->s = NULL;
	bt->b = NULL;
}

/*
 * Sends changes [from, to) of @v in as many transactions as their size needs
 * (one for a commit of ordinary size). Returns the index of the first change
 * of the failed transaction and its error in @error, or @to.
 */
static size_t send_changes(struct table_writer *w, const struct nft_change *v, size_t from,
                           size_t to, int *error)
{
	struct batch bt;
	size_t start = from, i = from;

	*error = 0;
	while (i < to) {
		batch_start(w, &bt);
		start = i;
		while (i < to && batch_put(w, &bt, &v[i]))
			i++;
		if (i == start) {
			batch_abandon(&bt);
			*error = -ENOMEM;
			return start;
		}
		*error = batch_send(w, &bt);
		if (*error)
			return start;
	}
	return to;
}

/* ---- what the kernel says, for an administrator ---- */

static void explain(const struct table_writer *w, int f, const char *what, int e, char *err,
                    size_t errlen)
{
	const char *set = f >= 0 ? w->set[f] : "";

	switch (e) {
	case -EPERM:
	case -EACCES:
		snprintf(err, errlen,
		         "nft: %s: %s: changing nftables sets needs root or CAP_NET_ADMIN", what,
		         strerror(-e));
		break;
	case -ENOENT:
		if (f < 0)
			snprintf(err, errlen,
			         "nft: %s: no table inet %s: load the ruleset that declares it "
			         "(contrib/nftables-table.conf, nftables-hybrid.conf or "
			         "nftables-hybrid-xt.conf: nft -f FILE) "
			         "or name yours with nft-table",
			         what, w->table);
		else
			snprintf(
			    err, errlen,
			    "nft: %s: table inet %s has no set %s: declare it in the ruleset "
			    "(nft add set inet %s %s '{ type %s; flags %stimeout; size %u; }') "
			    "or name yours with nft-set%s",
			    what, w->table, set, w->table, set, fam_type(f),
			    w->interval[f] ? "interval," : "",
			    (unsigned)table_util_maxelem(w->max_entries), f ? "6" : "4");
		break;
	case -ENOSPC:
	case -ENFILE: /* what the kernel answers for a full set, as "Too many open files" */
		snprintf(err, errlen,
		         "nft: %s: set %s%s%s is full: raise its size in the ruleset (at least %u) "
		         "or lower max-entries",
		         what, f >= 0 ? set : w->set[0], f >= 0 ? "" : " or ",
		         f >= 0 ? "" : w->set[1], (unsigned)table_util_maxelem(w->max_entries));
		break;
	case -EOPNOTSUPP:
	case -EAFNOSUPPORT:
	case -EPROTONOSUPPORT:
		snprintf(err, errlen,
		         "nft: %s: %s: this kernel lacks nf_tables (modprobe nf_tables)", what,
		         strerror(-e));
		break;
	default:
		snprintf(err, errlen, "nft: %s: %s", what, strerror(-e));
		break;
	}
}

/* ---- checks at start ---- */

struct set_info {
	bool found;
	uint32_t key_type, key_len, flags, size;
};

static int set_info_cb(const struct nlmsghdr *nlh, void *data)
{
	struct set_info *si = data;
	struct nftnl_set *s = nftnl_set_alloc();

	if (!s)
		return -1;
	if (nftnl_set_nlmsg_parse(nlh, s) == 0) {
		si->found = true;
		si->key_type = nftnl_set_get_u32(s, NFTNL_SET_KEY_TYPE);
		si->key_len = nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN);
		si->flags = nftnl_set_get_u32(s, NFTNL_SET_FLAGS);
		si->size = nftnl_set_is_set(s, NFTNL_SET_DESC_SIZE)
		               ? nftnl_set_get_u32(s, NFTNL_SET_DESC_SIZE)
		               : 0;
	}
	nftnl_set_free(s);
	return 0;
}

static int table_exists(struct table_writer *w)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = request(buf, sizeof(buf), NFT_MSG_GETTABLE, 0, w->seq++);

	mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, w->table);
	return nl_get(w, nlh, NULL, NULL);
}

static int check_set(struct table_writer *w, int f, char *err, size_t errlen)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nftnl_set *s = nftnl_set_alloc();
	struct set_info si = {0};
	struct nlmsghdr *nlh;
	uint32_t want_type = f ? TYPE_IPV6 : TYPE_IPV4;
	const char *set = w->set[f];
	int r;

	if (!s) {
		snprintf(err, errlen, "nft: out of memory");
		return -ENOMEM;
	}
	nlh = request(buf, sizeof(buf), NFT_MSG_GETSET, 0, w->seq++);
	nftnl_set_set_str(s, NFTNL_SET_TABLE, w->table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, set);
	nftnl_set_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	r = nl_get(w, nlh, set_info_cb, &si);
	if (r < 0 || !si.found) {
		explain(w, f, "reading the set", r < 0 ? r : -ENOENT, err, errlen);
		return r < 0 ? r : -ENOENT;
	}
	if (si.flags & NFT_SET_MAP) {
		snprintf(err, errlen,
		         "nft: set inet %s %s is a map: mxallowd needs a plain set of type %s "
		         "(flags timeout)",
		         w->table, set, fam_type(f));
		return -EINVAL;
	}
	if (si.key_type != want_type || si.key_len != (f ? 16u : 4u)) {
		snprintf(
		    err, errlen,
		    "nft: set inet %s %s has the wrong type (key type %u, %u bytes): it must "
		    "be %s: declare it `type %s; flags %stimeout;` in the ruleset and reload it",
		    w->table, set, (unsigned)si.key_type, (unsigned)si.key_len, fam_type(f),
		    fam_type(f), "");
		return -EINVAL;
	}
	if (!(si.flags & NFT_SET_TIMEOUT)) {
		snprintf(err, errlen,
		         "nft: set inet %s %s has no timeout flag: whitelist entries expire in the "
		         "kernel: declare it with `flags %stimeout;` in the ruleset and reload it",
		         w->table, set, "");
		return -EINVAL;
	}
	/*
	 * With ipv4-prefix/ipv6-prefix below the full length, a plain set holds
	 * the masked network address (the ruleset looks up `ip saddr & MASK`):
	 * the kernel refuses a packet-path `add @set` on an interval set. An
	 * interval set still works for mxallowd's own writes (start and end).
	 */
	w->interval[f] = (si.flags & NFT_SET_INTERVAL) != 0;
	if (si.size && si.size < w->max_entries) {
		snprintf(err, errlen,
		         "nft: set inet %s %s holds at most %u elements (size), fewer than "
		         "max-entries %u: declare it with `size %u;` in the ruleset and reload it "
		         "(or lower max-entries)",
		         w->table, set, (unsigned)si.size, (unsigned)w->max_entries,
		         (unsigned)table_util_maxelem(w->max_entries));
		return -ENOSPC;
	}
	return 0;
}

/* Does this kernel know NFT_MSG_DESTROYSETELEM? Try it on an address no client has. */
static void probe_destroy(struct table_writer *w)
{
	static const uint8_t probe4[4] = {255, 255, 255, 255};
	struct nft_change c = {0};
	int e;

	addr_from_v4(&c.addr, probe4);
	addr_mask(&c.addr, &c.addr, w->prefix[0], w->prefix[1]);
	w->destroy = true;
	(void)send_changes(w, &c, 0, 1, &e);
	w->destroy = e == 0;
}

/* ---- listing a set ---- */

struct raw_elem {
	uint8_t key[16];
	uint64_t expires_ms; /* 0: no timeout */
	bool end;
};

struct raw_list {
	struct raw_elem *v;
	size_t n, cap;
	size_t len; /* key length of the set */
	int error;
};

static int elem_cb(struct nftnl_set_elem *e, void *data)
{
	struct raw_list *l = data;
	uint32_t klen = 0;
	const void *key = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &klen);
	struct raw_elem *r;

	if (!key || klen != l->len)
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 256;
		struct raw_elem *v = realloc(l->v, cap * sizeof(*v));

		if (!v) {
			l->error = -ENOMEM;
			return -1;
		}
		l->v = v;
		l->cap = cap;
	}
	r = &l->v[l->n++];
	memset(r, 0, sizeof(*r));
	memcpy(r->key, key, klen);
	r->end = nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_FLAGS) &&
	         (nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_FLAGS) & NFT_SET_ELEM_INTERVAL_END);
	if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_EXPIRATION))
		r->expires_ms = nftnl_set_elem_get_u64(e, NFTNL_SET_ELEM_EXPIRATION);
	else if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_TIMEOUT))
		r->expires_ms = nftnl_set_elem_get_u64(e, NFTNL_SET_ELEM_TIMEOUT);
	if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_TIMEOUT) && r->expires_ms == 0)
		r->expires_ms = 1; /* about to expire: still ours */
	return 0;
}

static int elems_msg_cb(const struct nlmsghdr *nlh, void *data)
{
	struct raw_list *l = data;
	struct nftnl_set *s = nftnl_set_alloc();
	int r = 0;

	if (!s)
		return -1;
	if (nftnl_set_elems_nlmsg_parse(nlh, s) == 0)
		r = nftnl_set_elem_foreach(s, elem_cb, l);
	nftnl_set_free(s);
	return r < 0 ? -1 : 0;
}

static int raw_cmp(const void *a, const void *b)
{
	const struct raw_elem *x = a, *y = b;
	int c = memcmp(x->key, y->key, sizeof(x->key));

	/* At one key, the end of the range before sorts before the start of the next. */
	return c ? c : (int)y->end - (int)x->end;
}

/*
 * The prefix length of the range [@start, @end) (@end NULL: to the end of the
 * space) when it is one network, else -1 (a range mxallowd did not write).
 */
static int range_prefix(const uint8_t *start, const uint8_t *end, size_t len)
{
	uint8_t diff[16];
	int borrow = 0, bit = -1;
	unsigned bits = (unsigned)len * 8;

	if (!end) { /* 2^bits - start */
		for (size_t i = len; i-- > 0;) {
			int v = 0 - start[i] - borrow;

			borrow = v < 0;
			diff[i] = (uint8_t)v;
		}
		if (!borrow) /* start 0: the whole space */
			return 0;
	} else {
		for (size_t i = len; i-- > 0;) {
			int v = end[i] - start[i] - borrow;

			borrow = v < 0;
			diff[i] = (uint8_t)v;
		}
		if (borrow)
			return -1;
	}
	for (size_t i = 0; i < len; i++) {
		if (!diff[i])
			continue;
		if (bit >= 0 || (diff[i] & (diff[i] - 1)))
			return -1; /* not a power of two */
		bit = (int)((len - 1 - i) * 8);
		for (unsigned v = diff[i]; v > 1; v >>= 1)
			bit++;
	}
	if (bit < 0)
		return -1;
	/* Aligned: the host bits of start are zero. */
	for (unsigned b = 0; b < (unsigned)bit; b++)
		if (start[len - 1 - b / 8] & (1u << (b % 8)))
			return -1;
	return (int)(bits - (unsigned)bit);
}

static int to_entry(const uint8_t *key, size_t len, mxa_addr *a)
{
	if (len == 4)
		addr_from_v4(a, key);
	else
		addr_from_v6(a, key);
	return 0;
}

/*
 * Lists set @f into @have: mxallowd's kind of elements (a timeout; networks
 * of the configured prefix), timeouts in seconds rounded up. Elements without
 * a timeout and ranges of another size are left out: not ours.
 */
static int list_set(struct table_writer *w, int f, struct table_util_vec *have)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nftnl_set *s = nftnl_set_alloc();
	struct raw_list l = {.len = f ? 16 : 4};
	struct nlmsghdr *nlh;
	int r;

	if (!s)
		return -ENOMEM;
	nlh = request(buf, sizeof(buf), NFT_MSG_GETSETELEM, NLM_F_DUMP, w->seq++);
	nftnl_set_set_str(s, NFTNL_SET_TABLE, w->table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, w->set[f]);
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	r = nl_send(w, nlh, nlh->nlmsg_len);
	if (r == 0)
		r = nl_recv(w, 0, true, false, elems_msg_cb, &l);
	if (r == 0 && l.error)
		r = l.error;
	if (r == 0 && w->interval[f] && l.n > 1) /* l.v is NULL when the set is empty */
		qsort(l.v, l.n, sizeof(*l.v), raw_cmp);
	for (size_t i = 0; r == 0 && i < l.n; i++) {
		const struct raw_elem *e = &l.v[i];
		int prefix = (int)fam_bits(f);
		mxa_addr a;

		if (e->end)
			continue;
		to_entry(e->key, l.len, &a);
		if (w->interval[f]) {
			const uint8_t *end = i + 1 < l.n && l.v[i + 1].end ? l.v[i + 1].key : NULL;

			prefix = range_prefix(e->key, end, l.len);
		} else if (w->prefix[f] < fam_bits(f)) {
			mxa_addr m;

			/* A plain set holds masked addresses: one with host bits is not ours. */
			addr_mask(&m, &a, w->prefix[0], w->prefix[1]);
			if (addr_equal(&m, &a))
				prefix = (int)w->prefix[f];
		}
		if (e->expires_ms == 0 || prefix != (int)w->prefix[f])
			continue;
		if (table_util_vec_push(have, &a, (uint8_t)prefix,
		                        (uint32_t)((e->expires_ms + 999) / 1000)) < 0)
			r = -ENOMEM;
	}
	free(l.v);
	return r;
}

/* ---- the writer ---- */

static struct table_writer *nftw_close(struct table_writer *w, bool clean_exit)
{
	(void)clean_exit; /* elements expire by their own timeout */
	if (w) {
		if (w->nl)
			mnl_socket_close(w->nl);
		free(w->ops);
		free(w->buf);
		table_util_vec_free(&w->adopted);
		free(w);
	}
	return NULL;
}

static bool name_ok(const char *n)
{
	return n && *n && strlen(n) < NAME_MAX_LEN;
}

/* The live elements at start, kept until their own deadline (see nftw_resync()). */
static int adopt(struct table_writer *w, char *err, size_t errlen)
{
	int64_t now = table_util_now();
	int r;

	for (int f = 0; f < 2; f++) {
		r = list_set(w, f, &w->adopted);
		if (r < 0) {
			explain(w, f, "listing the set", r, err, errlen);
			return r;
		}
	}
	w->stats.adopted = table_util_adopt(&w->adopted, w->prefix[0], w->prefix[1], now);
	return 0;
}

static struct table_writer *nftw_open(const struct table_params *p, char *err, size_t errlen)
{
	const char *table = p->nft_table ? p->nft_table : "mxallowd";
	const char *s4 = p->nft_set4 ? p->nft_set4 : "white4";
	const char *s6 = p->nft_set6 ? p->nft_set6 : "white6";
	struct table_writer *w;
	int one = 1, r;

	if (p->v4_prefix == 0 || p->v6_prefix == 0 || p->v4_prefix > 32 || p->v6_prefix > 128) {
		snprintf(err, errlen, "nft: ipv4-prefix and ipv6-prefix must be 1 or more");
		return NULL;
	}
	if (!name_ok(table) || !name_ok(s4) || !name_ok(s6)) {
		snprintf(err, errlen, "nft: table and set names must have 1 to %d characters",
		         NAME_MAX_LEN - 1);
		return NULL;
	}
	w = calloc(1, sizeof(*w));
	if (!w || !(w->buf = calloc(1, 2 * BATCH_LIMIT))) {
		snprintf(err, errlen, "nft: out of memory");
		return nftw_close(w, false);
	}
	snprintf(w->table, sizeof(w->table), "%s", table);
	snprintf(w->set[0], sizeof(w->set[0]), "%s", s4);
	snprintf(w->set[1], sizeof(w->set[1]), "%s", s6);
	snprintf(w->describe, sizeof(w->describe), "nft:inet/%s:%s,%s", table, s4, s6);
	w->prefix[0] = p->v4_prefix;
	w->prefix[1] = p->v6_prefix;
	w->max_entries = p->max_entries ? p->max_entries : TABLE_UTIL_DEFAULT_ENTRIES;
	w->later = p->later;
	w->later_ctx = p->later_ctx;
	w->seq = (uint32_t)time(NULL);
	w->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!w->nl || mnl_socket_bind(w->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		explain(w, -1, "opening a netlink socket", -errno, err, errlen);
		return nftw_close(w, false);
	}
	w->portid = mnl_socket_get_portid(w->nl);
	/* Errors without a copy of the (large) message they answer. */
	(void)mnl_socket_setsockopt(w->nl, NETLINK_CAP_ACK, &one, sizeof(one));
	r = table_exists(w);
	if (r < 0) {
		explain(w, -1, "reading the table", r, err, errlen);
		return nftw_close(w, false);
	}
	if (check_set(w, 0, err, errlen) < 0 || check_set(w, 1, err, errlen) < 0)
		return nftw_close(w, false);
	probe_destroy(w);
	if (adopt(w, err, errlen) < 0)
		return nftw_close(w, false);
	return w;
}

static int queue_change(struct table_writer *w, const mxa_addr *a, uint32_t timeout, bool add)
{
	if (w->n_ops == w->cap_ops) {
		size_t cap = w->cap_ops ? 2 * w->cap_ops : 64;
		struct nft_change *v = realloc(w->ops, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		w->ops = v;
		w->cap_ops = cap;
	}
	w->ops[w->n_ops++] = (struct nft_change){.addr = *a, .timeout = timeout, .add = add};
	return 0;
}

static int nftw_add(struct table_writer *w, const mxa_addr *a, uint32_t timeout)
{
	if (timeout == 0)
		timeout = 1; /* 0 would mean "never expires" */
	if (timeout > MAX_TIMEOUT_S)
		timeout = MAX_TIMEOUT_S;
	return queue_change(w, a, timeout, true);
}

static int nftw_del(struct table_writer *w, const mxa_addr *a)
{
	/* A deleted entry is no longer kept for its adopted lifetime either. */
	table_util_unadopt(&w->adopted, a, (uint8_t)w->prefix[fam(a)]);
	return queue_change(w, a, 0, false);
}

/* Reads the named counter "kernel-accepted" of the table, when the ruleset has one. */
static int counter_cb(const struct nlmsghdr *nlh, void *data)
{
	struct table_writer *w = data;
	struct nftnl_obj *o = nftnl_obj_alloc();

	if (!o)
		return -1;
	if (nftnl_obj_nlmsg_parse(nlh, o) == 0) {
		w->stats.kernel_accepted = nftnl_obj_get_u64(o, NFTNL_OBJ_CTR_PKTS);
		w->stats.has_kernel_accepted = true;
	}
	nftnl_obj_free(o);
	return 0;
}

static void read_counter(struct table_writer *w)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nftnl_obj *o;
	struct nlmsghdr *nlh;
	int64_t now = table_util_now();

	if (now == w->counter_read_at)
		return;
	w->counter_read_at = now;
	o = nftnl_obj_alloc();
	if (!o)
		return;
	nlh = request(buf, sizeof(buf), NFT_MSG_GETOBJ, 0, w->seq++);
	nftnl_obj_set_str(o, NFTNL_OBJ_TABLE, w->table);
	nftnl_obj_set_str(o, NFTNL_OBJ_NAME, COUNTER_NAME);
	nftnl_obj_set_u32(o, NFTNL_OBJ_TYPE, NFT_OBJECT_COUNTER);
	nftnl_obj_nlmsg_build_payload(nlh, o);
	nftnl_obj_free(o);
	if (nl_get(w, nlh, counter_cb, w) < 0)
		w->stats.has_kernel_accepted = false;
}

/*
 * After a refused transaction: each change in a transaction of its own, so
 * that one bad change (a full set) does not keep the others out. A deletion
 * of what is gone is fine. Returns how many were refused, the first error in
 * @first.
 */
static size_t send_singly(struct table_writer *w, size_t from, int *first)
{
	size_t refused = 0;
	int e;

	for (size_t i = from; i < w->n_ops; i++) {
		(void)send_changes(w, w->ops, i, i + 1, &e);
		if (e == 0 || (e == -ENOENT && !w->ops[i].add))
			continue;
		if (!refused++)
			*first = e;
	}
	return refused;
}

struct op_pos {
	mxa_addr addr;
	size_t i;
};

static int op_pos_cmp(const void *a, const void *b)
{
	const struct op_pos *x = a, *y = b;
	int c = memcmp(x->addr.b, y->addr.b, sizeof(x->addr.b));

	return c ? c : (x->i > y->i) - (x->i < y->i);
}

/*
 * Several adds of one element in one commit (a fake-MX hit's write, then its
 * renewal on use): the kernel keeps the first of duplicates in a message, so
 * the later timeout would be lost. Only the last add of an address stays,
 * unless a delete of it comes in between (a re-time: delete, then add); the
 * order of the rest is kept. Best effort: without memory nothing is dropped.
 */
static void coalesce_adds(struct table_writer *w)
{
	size_t n = w->n_ops, out = 0;
	struct op_pos *p;
	bool *drop;

	if (n < 2)
		return;
	p = malloc(n * sizeof(*p));
	drop = calloc(n, sizeof(*drop));
	if (p && drop) {
		for (size_t i = 0; i < n; i++)
			p[i] = (struct op_pos){w->ops[i].addr, i};
		qsort(p, n, sizeof(*p), op_pos_cmp);
		for (size_t k = 0; k + 1 < n; k++)
			if (addr_equal(&p[k].addr, &p[k + 1].addr) && w->ops[p[k].i].add &&
			    w->ops[p[k + 1].i].add)
				drop[p[k].i] = true;
		for (size_t i = 0; i < n; i++)
			if (!drop[i])
				w->ops[out++] = w->ops[i];
		w->n_ops = out;
	}
	free(p);
	free(drop);
}

static int nftw_commit(struct table_writer *w, char *err, size_t errlen)
{
	size_t n = w->n_ops, done, refused;
	int e = 0, first = 0;
	char what[64];

	read_counter(w);
	if (n == 0)
		return 0;
	coalesce_adds(w);
	n = w->n_ops;
	done = send_changes(w, w->ops, 0, n, &e);
	if (done == n) {
		w->n_ops = 0;
		return (int)n;
	}
	first = e;
	refused = send_singly(w, done, &first);
	w->n_ops = 0;
	if (refused == 0)
		return (int)n;
	w->stats.refused += refused;
	snprintf(what, sizeof(what), "%zu of %zu changes refused", refused, n);
	explain(w, -1, what, first, err, errlen);
	if (first == -ENOENT) /* a set or the table went away */
		snprintf(err, errlen,
		         "nft: %s: table inet %s or its set %s/%s is gone: reload the ruleset "
		         "that declares them",
		         what, w->table, w->set[0], w->set[1]);
	return -EIO;
}

struct resync {
	struct table_writer *w;
	struct table_util_vec want;
	int error;
};

static int resync_put(void *ctx, const mxa_addr *a, uint32_t timeout)
{
	struct resync *rs = ctx;

	if (timeout > MAX_TIMEOUT_S)
		timeout = MAX_TIMEOUT_S;
	if (table_util_vec_push(&rs->want, a, (uint8_t)rs->w->prefix[fam(a)],
	                        timeout ? timeout : 1) < 0) {
		rs->error = -ENOMEM;
		return -ENOMEM;
	}
	return 0;
}

static int resync_change(void *ctx, enum table_util_change c, const struct table_util_entry *e)
{
	struct resync *rs = ctx;

	if (c == TABLE_UTIL_DEL)
		return queue_change(rs->w, &e->addr, 0, false);
	if (c == TABLE_UTIL_RETIME) /* re-add after a delete: every kernel re-arms it so */
		if (queue_change(rs->w, &e->addr, 0, false) < 0)
			return -ENOMEM;
	return queue_change(rs->w, &e->addr, e->timeout, true);
}

/*
 * Before the diff: elements the kernel keeps longer than the whitelist wants
 * (or keeps while the whitelist has them due) are offered to w->later; those
 * the whitelist now follows are wanted as the kernel has them, not re-timed
 * down nor deleted. Both vectors sorted and unique. Returns 0 or -ENOMEM.
 */
static int later_pass(struct table_writer *w, const struct table_util_vec *have,
                      struct table_util_vec *want)
{
	size_t i = 0, j = 0, n = want->n;

	if (!w->later)
		return 0;
	while (i < have->n) {
		const struct table_util_entry *h = &have->v[i];
		int c = j == n ? -1 : table_util_entry_cmp(h, &want->v[j]);

		if (c > 0) {
			j++;
			continue;
		}
		i++;
		if (c == 0) {
			struct table_util_entry *e = &want->v[j++];

			if (e->timeout < TABLE_UTIL_MAX_TIMEOUT &&
			    h->timeout > e->timeout + RETIME_SLACK &&
			    w->later(w->later_ctx, &h->addr, h->timeout) > 0)
				e->timeout = h->timeout;
		} else if (h->timeout > RETIME_SLACK &&
		           w->later(w->later_ctx, &h->addr, h->timeout) > 0 &&
		           table_util_vec_push(want, &h->addr, h->prefix, h->timeout) < 0) {
			return -ENOMEM;
		}
	}
	if (want->n != n) /* kept strays: in order again */
		want->n = table_util_sort_unique(want->v, want->n);
	return 0;
}

static int nftw_resync(struct table_writer *w, table_entries_fn entries, void *ctx, char *err,
                       size_t errlen)
{
	struct table_util_vec have = {0};
	struct resync rs = {.w = w};
	long fixes = 0;
	int r = 0;

	for (int f = 0; f < 2 && r == 0; f++) {
		r = list_set(w, f, &have);
		if (r < 0) /* a missing table also says ENOENT: name what is missing */
			explain(w, r == -ENOENT && table_exists(w) == -ENOENT ? -1 : f,
			        "resync: listing the set", r, err, errlen);
	}
	if (r == 0) {
		/* Adopted elements the ruleset renewed since start (`update @set`) keep that. */
		if (w->later)
			table_util_adopted_follow(&w->adopted, &have, table_util_now(),
			                          RETIME_SLACK);
		r = entries(ctx, resync_put, &rs);
		if (rs.error)
			r = rs.error;
		/* Adopted elements still in their lifetime are wanted too. */
		if (r == 0)
			r = table_util_adopted_want(&w->adopted, &rs.want, table_util_now());
		if (r) {
			r = r < 0 ? r : -EIO;
			snprintf(err, errlen, "nft: resync: reading the whitelist failed: %s",
			         strerror(-r));
		}
	}
	if (r == 0) {
		have.n = table_util_sort_unique(have.v, have.n);
		rs.want.n = table_util_sort_unique(rs.want.v, rs.want.n);
		fixes = later_pass(w, &have, &rs.want);
		if (fixes == 0)
			fixes = table_util_diff(have.v, have.n, rs.want.v, rs.want.n, RETIME_SLACK,
			                        resync_change, &rs);
		if (fixes < 0) {
			snprintf(err, errlen, "nft: resync: out of memory");
			r = (int)fixes;
		}
	}
	table_util_vec_free(&have);
	table_util_vec_free(&rs.want);
	if (r == 0)
		r = nftw_commit(w, err, errlen);
	if (r < 0) {
		w->n_ops = 0; /* the next resync starts over */
		return r;
	}
	w->stats.resyncs++;
	w->stats.healed += (uint64_t)fixes;
	return (int)fixes;
}

/* ---- the allow lists: sets allow4/allow6 (flags interval, no timeout) ---- */

#define STATIC_SET4 "allow4"
#define STATIC_SET6 "allow6"

/* The first address after @n (in @end) as a key of family @f; false: the space's end. */
static bool net_range(const struct netset_net *n, int f, uint8_t start[16], uint8_t end[16])
{
	size_t len = key_bytes(&n->addr, f, start);

	memcpy(end, start, len);
	return range_end(end, len, n->prefix);
}

/* Checks static set @name of family @f: 0, -ENOENT when missing, or -errno with @err. */
static int check_static_set(struct table_writer *w, int f, const char *name, char *err,
                            size_t errlen)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nftnl_set *s = nftnl_set_alloc();
	struct set_info si = {0};
	struct nlmsghdr *nlh;
	int r;

	if (!s)
		return -ENOMEM;
	nlh = request(buf, sizeof(buf), NFT_MSG_GETSET, 0, w->seq++);
	nftnl_set_set_str(s, NFTNL_SET_TABLE, w->table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	nftnl_set_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	r = nl_get(w, nlh, set_info_cb, &si);
	if (r == -ENOENT || (r == 0 && !si.found)) {
		snprintf(
		    err, errlen,
		    "nft: table inet %s has no set %s for the allow lists (allow, allow-file): "
		    "declare it `set %s { type %s; flags interval; }` as "
		    "contrib/nftables-table.conf does, with `ip%s saddr @%s accept` before the "
		    "real MX's drop, and reload the ruleset",
		    w->table, name, name, fam_type(f), f ? "6" : "", name);
		return -ENOENT;
	}
	if (r < 0) {
		explain(w, f, "reading the allow-list set", r, err, errlen);
		return r;
	}
	if ((si.flags & NFT_SET_MAP) || !(si.flags & NFT_SET_INTERVAL) ||
	    si.key_type != (f ? TYPE_IPV6 : TYPE_IPV4)) {
		snprintf(err, errlen,
		         "nft: set inet %s %s must be `type %s; flags interval;` (it holds the "
		         "allow lists' networks): declare it so in the ruleset and reload it",
		         w->table, name, fam_type(f));
		return -EINVAL;
	}
	return 0;
}

/* A DELSETELEM without elements: empties set @name within the transaction. */
static void put_flush(struct table_writer *w, struct mnl_nlmsg_batch *b, const char *name)
{
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(mnl_nlmsg_batch_current(b), NFT_MSG_DELSETELEM,
	                                             NFPROTO_INET, NLM_F_ACK, w->seq++);

	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, w->table);
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, name);
	mnl_nlmsg_batch_next(b);
}

static bool put_elem(struct nftnl_set *s, const uint8_t *k, size_t len, bool end)
{
	struct nftnl_set_elem *e = nftnl_set_elem_alloc();

	if (!e)
		return false;
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, k, (uint32_t)len);
	if (end)
		nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_FLAGS, NFT_SET_ELEM_INTERVAL_END);
	nftnl_set_elem_add(s, e);
	return true;
}

/* Closes message @s (if any) into the batch. */
static void put_elems_msg(struct table_writer *w, struct mnl_nlmsg_batch *b, struct nftnl_set **s)
{
	struct nlmsghdr *nlh;

	if (!*s)
		return;
	nlh = nftnl_nlmsg_build_hdr(mnl_nlmsg_batch_current(b), NFT_MSG_NEWSETELEM, NFPROTO_INET,
	                            NLM_F_ACK | NLM_F_CREATE, w->seq++);
	nftnl_set_elems_nlmsg_build_payload(nlh, *s);
	nftnl_set_free(*s);
	*s = NULL;
	mnl_nlmsg_batch_next(b);
}

/*
 * The networks of family @f as disjoint ranges (an interval set refuses
 * overlaps): nested and adjacent networks are merged. @n are in address order.
 */
static int put_static(struct table_writer *w, struct mnl_nlmsg_batch *b, const struct netset *ns,
                      int f, const char *name)
{
	uint8_t cs[16], ce[16], s0[16], e0[16];
	size_t len = f ? 16 : 4, elems = 0, count = netset_count(ns);
	bool have = false, open_end = false;
	struct nftnl_set *s = NULL;

	put_flush(w, b, name);
	for (size_t i = 0; i <= count; i++) {
		const struct netset_net *n = i < count ? netset_get(ns, i) : NULL;
		bool bounded = false;

		if (n && fam(&n->addr) != f)
			continue;
		if (n) {
			bounded = net_range(n, f, s0, e0);
			if (have &&
			    (open_end || memcmp(s0, ce, len) <= 0)) { /* overlaps or touches */
				if (!open_end && (!bounded || memcmp(e0, ce, len) > 0)) {
					open_end = !bounded;
					memcpy(ce, e0, len);
				}
				continue;
			}
		}
		if (have) { /* emit the range [cs, ce) */
			if (!s || elems + 2 > ELEMS_PER_MSG) {
				put_elems_msg(w, b, &s);
				s = nftnl_set_alloc();
				if (!s)
					return -ENOMEM;
				nftnl_set_set_str(s, NFTNL_SET_TABLE, w->table);
				nftnl_set_set_str(s, NFTNL_SET_NAME, name);
				elems = 0;
			}
			if (!put_elem(s, cs, len, false) ||
			    (!open_end && !put_elem(s, ce, len, true))) {
				nftnl_set_free(s);
				return -ENOMEM;
			}
			elems += 2;
		}
		if (!n)
			break;
		memcpy(cs, s0, len);
		memcpy(ce, e0, len);
		open_end = !bounded;
		have = true;
	}
	put_elems_msg(w, b, &s);
	return 0;
}

static int nftw_set_static(struct table_writer *w, const struct netset *ns, char *err,
                           size_t errlen)
{
	static const char *const names[2] = {STATIC_SET4, STATIC_SET6};
	size_t count = netset_count(ns), limit;
	struct mnl_nlmsg_batch *b;
	char *buf;
	int r;

	for (int f = 0; f < 2; f++) {
		r = check_static_set(w, f, names[f], err, errlen);
		if (r == -ENOENT && count == 0)
			return 0; /* no allow lists and a ruleset without the sets: nothing to do */
		if (r < 0)
			return r;
	}
	/* One transaction for both sets: at most two elements of ~64 bytes per network. */
	limit = (2 * count + 64) * 64 + 2 * MNL_SOCKET_BUFFER_SIZE;
	buf = calloc(1, 2 * limit);
	if (!buf) {
		snprintf(err, errlen, "nft: allow lists: out of memory");
		return -ENOMEM;
	}
	if (limit > BATCH_LIMIT) { /* a send buffer for the whole batch (root may force it) */
		int sz = limit > INT32_MAX / 2 ? INT32_MAX / 2 : (int)limit;

		if (setsockopt(mnl_socket_get_fd(w->nl), SOL_SOCKET, SO_SNDBUFFORCE, &sz,
		               sizeof(sz)) < 0)
			(void)setsockopt(mnl_socket_get_fd(w->nl), SOL_SOCKET, SO_SNDBUF, &sz,
			                 sizeof(sz));
	}
	b = mnl_nlmsg_batch_start(buf, limit);
	nftnl_batch_begin(mnl_nlmsg_batch_current(b), w->seq++);
	mnl_nlmsg_batch_next(b);
	r = put_static(w, b, ns, 0, names[0]);
	if (r == 0)
		r = put_static(w, b, ns, 1, names[1]);
	if (r == 0) {
		nftnl_batch_end(mnl_nlmsg_batch_current(b), w->seq++);
		mnl_nlmsg_batch_next(b);
		r = nl_send(w, mnl_nlmsg_batch_head(b), mnl_nlmsg_batch_size(b));
		if (r == 0)
			r = nl_recv(w, 0, false, true, NULL, NULL);
	}
	mnl_nlmsg_batch_stop(b);
	free(buf);
	if (r < 0) {
		char what[96];

		snprintf(what, sizeof(what), "writing %zu allow-list networks to %s/%s", count,
		         names[0], names[1]);
		/* The transaction is all or nothing: the sets keep what they held. */
		if (r == -ENOSPC || r == -ENFILE)
			snprintf(
			    err, errlen,
			    "nft: %s: set %s or %s is full: raise its size in the ruleset (to the "
			    "number of networks, %zu, or more) or leave the size out",
			    what, names[0], names[1], count);
		else if (r == -ENOENT)
			snprintf(err, errlen,
			         "nft: %s: table inet %s lost set %s or %s meanwhile: load the "
			         "ruleset that declares them (contrib/nftables-table.conf)",
			         what, w->table, names[0], names[1]);
		else
			explain(w, -1, what, r, err, errlen);
		return r;
	}
	return (int)count;
}

static int nftw_adopted_left(const struct table_writer *w, const mxa_addr *a, uint32_t *left)
{
	return table_util_adopted_left(&w->adopted, a, (uint8_t)w->prefix[fam(a)], table_util_now(),
	                               left);
}

static int nftw_learn(struct table_writer *w)
{
	return table_util_adopted_learn(&w->adopted, table_util_now(), w->later, w->later_ctx,
	                                nftw_add, w);
}

/* One element's remaining time: a GETSETELEM of its key (not a dump). */
static int nftw_time_left(struct table_writer *w, const mxa_addr *a, uint32_t *left)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	int f = fam(a);
	struct raw_list l = {.len = f ? 16 : 4};
	struct nftnl_set_elem *e;
	struct nftnl_set *s;
	struct nlmsghdr *nlh;
	uint8_t k[16];
	size_t len = key_bytes(a, f, k);
	int r;

	if (w->interval[f])
		return -EOPNOTSUPP; /* a range: no renewal rule can refresh it */
	s = nftnl_set_alloc();
	e = nftnl_set_elem_alloc();
	if (!s || !e) {
		if (s)
			nftnl_set_free(s);
		if (e)
			nftnl_set_elem_free(e);
		return -ENOMEM;
	}
	nlh = request(buf, sizeof(buf), NFT_MSG_GETSETELEM, 0, w->seq++);
	nftnl_set_set_str(s, NFTNL_SET_TABLE, w->table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, w->set[f]);
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, k, (uint32_t)len);
	nftnl_set_elem_add(s, e);
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	r = nl_get(w, nlh, elems_msg_cb, &l);
	if (r == 0 && l.error)
		r = l.error;
	if (r == -ENOENT)
		r = 0; /* no such element */
	else if (r == 0 && l.n && !l.v[0].end && memcmp(l.v[0].key, k, len) == 0 &&
	         l.v[0].expires_ms) {
		*left = (uint32_t)((l.v[0].expires_ms + 999) / 1000);
		r = 1;
	}
	free(l.v);
	return r;
}

static bool nftw_resync_needed(const struct table_writer *w)
{
	(void)w;
	return false;
}

static const struct table_stats *nftw_stats(const struct table_writer *w)
{
	return &w->stats;
}

static const char *nftw_describe(const struct table_writer *w)
{
	return w->describe;
}

const struct table_ops table_nft_ops = {
    .name = "nft",
    .open = nftw_open,
    .close = nftw_close,
    .add = nftw_add,
    .del = nftw_del,
    .commit = nftw_commit,
    .resync = nftw_resync,
    .resync_needed = nftw_resync_needed,
    .stats = nftw_stats,
    .describe = nftw_describe,
    .set_static = nftw_set_static,
    .time_left = nftw_time_left,
    .learn = nftw_learn,
    .adopted_left = nftw_adopted_left,
};
