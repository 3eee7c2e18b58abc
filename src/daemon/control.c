/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The control socket: accepts mxallowctl's connections on the loop, checks
 * who is connecting, reads one request line at a time and answers it
 * (protocol: ctlproto.h). Every request goes through the core (mx.h), so a
 * manual entry reaches every sink: the log, the kernel table in table mode.
 *
 * A client is one bufferevent. Its input is bounded by a read watermark, its
 * output by OUT_HIGH: a list is produced as the client reads it (a bounded
 * slice of the whitelist per wake-up, continued from the write callback), and
 * a client that stops reading is dropped after CONTROL_WRITE_TIMEOUT. While
 * an answer is under way (list, reload) the client's reading is paused, so a
 * pipelined request waits for its turn.
 *
 * Work per wake-up is bounded: at most REQUESTS_PER_WAKEUP requests or one
 * list slice per client, then the client goes on from a zero-timeout timer
 * (later()). Such a timer fires only after the loop has polled again, so the
 * queue's verdicts are served between two slices; event_active() would run
 * the client again at once, before any I/O.
 */
#include "control.h"
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "build-config.h"
#include "ctlproto.h"
#include "daemon.h"
#include "log.h"
#include "peercred.h"
#include "pflog.h"

#define OUT_HIGH            (64 * 1024) /* produce no more output above this much unsent */
#define OUT_LOW             (16 * 1024) /* and go on below this */
#define IN_HIGH             (4 * CTL_MAX_REQUEST) /* read no more above this much unparsed */
#define LIST_BUDGET         4096                  /* whitelist slots looked at per wake-up */
#define REQUESTS_PER_WAKEUP 4                     /* requests of one client answered per wake-up */
#define MAX_MEMBERS         256

enum client_state {
	CL_IDLE = 0, /* waiting for a request */
	CL_LIST,     /* writing a list */
	CL_RELOAD,   /* waiting for a reload's result */
	CL_CLOSING,  /* closed once the output is sent */
};

struct control;

struct client {
	struct control *ctl;
	struct client *prev, *next;
	struct bufferevent *bev;
	struct event *ev_more; /* timer: the next slice of a list, pipelined requests, close */
	enum client_state state;
	struct wl_iter it;
	uint64_t listed;
	bool eof; /* the client closed its side: answer what it sent, then close */
	unsigned id;
	uid_t uid;
	pid_t pid;
};

struct control {
	struct daemon *d;
	char *path;
	int fd;
	bool bound; /* the socket file is ours: removed at exit if it still is */
	dev_t dev;
	ino_t ino;
	char *made_dir; /* the directory we created, removed at exit when empty */
	struct evconnlistener *listener;
	struct event *ev_resume; /* accept again after an error (EMFILE) */
	struct client *clients;
	size_t n_clients;
	unsigned next_id;
	bool have_group;
	gid_t group;
	uid_t members[MAX_MEMBERS]; /* listed members of control-group, read at start */
	size_t n_members;
};

const char *control_path(const struct daemon *d)
{
	return d->control ? d->control->path : NULL;
}

/* ---------------------------------------------------------------- the socket file */

static int fail(char *err, size_t errlen, int e, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return e > 0 ? -e : e ? e : -EINVAL;
}

static int read_group(struct control *ctl, const char *name, char *err, size_t errlen)
{
	const struct group *gr;

	if (!name)
		return 0;
	errno = 0;
	gr = getgrnam(name);
	if (!gr)
		return fail(err, errlen, ENOENT, "control-group %s does not exist%s%s", name,
		            errno ? ": " : "", errno ? strerror(errno) : "");
	ctl->have_group = true;
	ctl->group = gr->gr_gid;
	/* getpwnam() does not touch getgrnam()'s buffer: gr_mem stays valid. */
	for (char *const *m = gr->gr_mem; m && *m && ctl->n_members < MAX_MEMBERS; m++) {
		const struct passwd *pw = getpwnam(*m);

		if (pw)
			ctl->members[ctl->n_members++] = pw->pw_uid;
	}
	return 0;
}

/* The user the daemon switches to (or runs as): owner of the socket and of a directory we make. */
static void owner_of(const struct daemon *d, uid_t *uid, gid_t *gid)
{
	char err[CONFIG_ERRLEN];
	uid_t u;
	gid_t g;

	*uid = (uid_t)-1;
	*gid = (gid_t)-1;
	/* The same user and group the switch will take (the group key included). */
	if (!d->cfg.user || geteuid() != 0 ||
	    sandbox_lookup(d->cfg.user, d->cfg.group, &u, &g, err, sizeof(err)) < 0)
		return; /* no switch, or sandbox_drop_user() will refuse it with the reason */
	*uid = u;
	*gid = g;
}

/*
 * The socket's directory: made (one level) when missing, given to the
 * daemon's user only once the socket in it is set up (own_dir()). One that
 * everybody may write to is refused: someone could swap the socket file for
 * a link between bind() and chown().
 */
static int prepare_dir(struct control *ctl, char *err, size_t errlen)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;
	struct stat st;

	snprintf(dir, sizeof(dir), "%s", ctl->path);
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = 0; /* in / */
	else
		*slash = 0;
	if (stat(dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			return fail(err, errlen, ENOTDIR,
			            "control-socket %s: %s is not a directory", ctl->path, dir);
		if (st.st_mode & S_IWOTH)
			return fail(
			    err, errlen, EPERM,
			    "control-socket %s: directory %s is writable by everyone: choose "
			    "one that only root or mxallowd's user can write",
			    ctl->path, dir);
		return 0;
	}
	if (errno != ENOENT)
		return fail(err, errlen, errno, "control-socket %s: %s: %s", ctl->path, dir,
		            strerror(errno));
	if (mkdir(dir, 0755) < 0)
		return fail(err, errlen, errno,
		            "control-socket %s: cannot create directory %s: %s (systemd: "
		            "RuntimeDirectory=mxallowd; or set control-socket none)",
		            ctl->path, dir, strerror(errno));
	ctl->made_dir = strdup(dir);
	if (!ctl->made_dir)
		return fail(err, errlen, ENOMEM, "control-socket: out of memory");
	return 0;
}

/* The daemon's user removes its socket at exit: a directory we made is its own. */
static int own_dir(struct control *ctl, char *err, size_t errlen)
{
	uid_t uid;
	gid_t gid;

	owner_of(ctl->d, &uid, &gid);
	if (!ctl->made_dir || uid == (uid_t)-1)
		return 0;
	if (fchownat(AT_FDCWD, ctl->made_dir, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
		return fail(err, errlen, errno, "control-socket %s: cannot give %s to user %s: %s",
		            ctl->path, ctl->made_dir, ctl->d->cfg.user, strerror(errno));
	return 0;
}

static void socket_address(const char *path, struct sockaddr_un *sun)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, path, strlen(path) + 1); /* checked to fit in control_open() */
}

/* A socket file left behind: removed when nothing listens on it, refused when a daemon does. */
static int clear_stale(struct control *ctl, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	struct stat st;
	int fd, r, e;

	if (lstat(ctl->path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		return fail(err, errlen, errno, "control-socket %s: %s", ctl->path,
		            strerror(errno));
	}
	if (!S_ISSOCK(st.st_mode))
		return fail(err, errlen, EEXIST,
		            "control-socket %s: exists and is not a socket: remove it or choose "
		            "another control-socket",
		            ctl->path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return fail(err, errlen, errno, "control-socket: socket: %s", strerror(errno));
	socket_address(ctl->path, &sun);
	r = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	e = errno;
	close(fd);
	if (r == 0 || e == EAGAIN || e == EINPROGRESS)
		return fail(err, errlen, EADDRINUSE,
		            "control-socket %s: another mxallowd answers on it: stop that one "
		            "first, or give this one another control-socket",
		            ctl->path);
	if (e != ECONNREFUSED && e != ENOENT)
		return fail(err, errlen, e,
		            "control-socket %s: cannot tell whether it is in use: %s", ctl->path,
		            strerror(e));
	if (unlink(ctl->path) < 0 && errno != ENOENT)
		return fail(err, errlen, errno,
		            "control-socket %s: cannot remove the stale socket: %s", ctl->path,
		            strerror(errno));
	log_msg(LOG_NOTICE, "control-socket %s: removed a stale socket (nothing listened on it)",
	        ctl->path);
	return 0;
}

static int bind_socket(struct control *ctl, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	struct stat st;
	mode_t old;
	uid_t uid;
	gid_t gid;
	int r, e;

	ctl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (ctl->fd < 0)
		return fail(err, errlen, errno, "control-socket: socket: %s", strerror(errno));
	socket_address(ctl->path, &sun);
	/*
	 * Born with its final mode, 0600 or 0660 with control-group: nothing
	 * changes a mode by path afterwards (a path that may meanwhile be a
	 * link). Nobody connects before listen() below.
	 */
	old = umask(ctl->have_group ? 0117 : 0177);
	r = bind(ctl->fd, (struct sockaddr *)&sun, sizeof(sun));
	e = errno;
	umask(old);
	if (r < 0)
		return fail(err, errlen, e, "control-socket %s: cannot bind: %s", ctl->path,
		            strerror(e));
	if (lstat(ctl->path, &st) < 0)
		return fail(err, errlen, errno, "control-socket %s: %s", ctl->path,
		            strerror(errno));
	/* Still the socket just made: not a link, nor a socket of someone else. */
	if (!S_ISSOCK(st.st_mode) || st.st_nlink != 1 || st.st_uid != geteuid())
		return fail(err, errlen, EEXIST,
		            "control-socket %s: replaced by another file while being created: "
		            "check who else writes to its directory",
		            ctl->path);
	ctl->bound = true;
	ctl->dev = st.st_dev;
	ctl->ino = st.st_ino;
	owner_of(ctl->d, &uid, &gid);
	if (ctl->have_group)
		gid = ctl->group;
	else
		gid = (gid_t)-1;
	/* As lchown(): a link put in its place meanwhile is changed, never what it points to. */
	if ((uid != (uid_t)-1 || gid != (gid_t)-1) &&
	    fchownat(AT_FDCWD, ctl->path, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
		return fail(err, errlen, errno, "control-socket %s: cannot set its owner: %s",
		            ctl->path, strerror(errno));
	if (listen(ctl->fd, CONTROL_MAX_CLIENTS) < 0)
		return fail(err, errlen, errno, "control-socket %s: listen: %s", ctl->path,
		            strerror(errno));
	return 0;
}

int control_open(struct daemon *d, char *err, size_t errlen)
{
	struct control *ctl;
	int r;

	if (!d->cfg.control_socket)
		return 0; /* control-socket none */
	ctl = calloc(1, sizeof(*ctl));
	if (!ctl || !(ctl->path = strdup(d->cfg.control_socket))) {
		free(ctl);
		return fail(err, errlen, ENOMEM, "control-socket: out of memory");
	}
	ctl->d = d;
	ctl->fd = -1;
	d->control = ctl; /* control_close() cleans up after a failure too */
	if (strlen(ctl->path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return fail(err, errlen, ENAMETOOLONG,
		            "control-socket %s: longer than %zu bytes, the limit of a UNIX socket "
		            "path",
		            ctl->path, sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
	if ((r = read_group(ctl, d->cfg.control_group, err, errlen)) < 0)
		return r; /* a mistake in the configuration, whatever the path */
	if ((r = prepare_dir(ctl, err, errlen)) < 0 || (r = clear_stale(ctl, err, errlen)) < 0 ||
	    (r = bind_socket(ctl, err, errlen)) < 0 || (r = own_dir(ctl, err, errlen)) < 0) {
		/*
		 * As for the default state-file: a mail gate does not stay down for a
		 * default nobody set up (no RuntimeDirectory=); a path the
		 * administrator chose stops the start, and so does another mxallowd
		 * answering on the socket, whatever its path.
		 */
		if (strcmp(ctl->path, DEFAULT_CONTROL_SOCKET) != 0 || r == -EADDRINUSE)
			return r; /* a second instance never starts: it would fight over the tables
			           */
		log_msg(LOG_WARNING, "%s: running without a control socket", err);
		control_close(d);
	}
	return 0;
}

/* ---------------------------------------------------------------- clients */

static void out_line(struct client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void out_line(struct client *c, const char *fmt, ...)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	char line[CTL_MAX_REPLY];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	/* Every line the daemon writes fits; cut rather than overflow if one ever did not. */
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	evbuffer_add(out, line, (size_t)n);
}

static void client_free(struct client *c)
{
	struct control *ctl = c->ctl;

	if (c->state == CL_RELOAD)
		reload_forget_cb(ctl->d, c);
	if (c->prev)
		c->prev->next = c->next;
	else
		ctl->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	ctl->n_clients--;
	if (c->ev_more)
		event_free(c->ev_more);
	if (c->bev)
		bufferevent_free(c->bev);
	free(c);
}

/*
 * Runs the client's next step from the loop (never from inside a caller that
 * still uses it), after the loop's next poll: see the top of the file.
 */
static void later(struct client *c)
{
	static const struct timeval now = {0, 0};

	evtimer_add(c->ev_more, &now);
}

/* A later() step is due: the I/O callbacks leave the work to it (one slice per wake-up). */
static bool pending(const struct client *c)
{
	return evtimer_pending(c->ev_more, NULL) != 0;
}

static void close_after_output(struct client *c)
{
	c->state = CL_CLOSING;
	bufferevent_disable(c->bev, EV_READ);
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		later(c);
}

static void list_more(struct client *c)
{
	struct daemon *d = c->ctl->d;
	struct evbuffer *out = bufferevent_get_output(c->bev);
	const struct whitelist *wl = mx_whitelist(d->mx);
	mxa_time now = daemon_now();
	size_t budget = LIST_BUDGET;
	char line[CTL_MAX_REPLY];
	struct wl_entry e;
	int r;

	while (evbuffer_get_length(out) < OUT_HIGH) {
		r = whitelist_iter(wl, &c->it, now, &budget, &e);
		if (r == -EAGAIN) {
			later(c); /* the rest in a later wake-up */
			return;
		}
		if (r == 0) {
			out_line(c, "ok %" PRIu64 " entries", c->listed);
			c->state = CL_IDLE;
			later(c);
			return;
		}
		ctl_format_entry(line, sizeof(line), &e, mx_key_prefix(d->mx, &e.addr), now);
		out_line(c, "%s", line);
		c->listed++;
	}
	/* The output is full: on_write() goes on once the client has read some. */
}

static void on_reload_done(void *ctx, bool ok, const char *text)
{
	struct client *c = ctx;

	out_line(c, "%s %s", ok ? "ok" : "error", text);
	c->state = CL_IDLE;
	later(c);
}

/*
 * The prefix of a manual add/del: none, or the whitelist's own with no bits
 * set past it. Answers the error itself; false then.
 */
static bool manual_prefix_ok(struct client *c, const struct ctl_request *req)
{
	const struct mx *mx = c->ctl->d->mx;
	unsigned kp = mx_key_prefix(mx, &req->addr);
	char a[ADDR_STRLEN], net[ADDR_STRLEN + 4];
	mxa_addr key;

	if (req->prefix < 0)
		return true;
	addr_format(&req->addr, a);
	if ((unsigned)req->prefix != kp) {
		out_line(c,
		         "error %s/%d: the whitelist holds one /%u network per entry (%s %u): a "
		         "manual entry is one of them, not a /%d",
		         a, req->prefix, kp, addr_is_v4(&req->addr) ? "ipv4-prefix" : "ipv6-prefix",
		         kp, req->prefix);
		return false;
	}
	mx_key(mx, &key, &req->addr);
	if (!addr_equal(&key, &req->addr)) {
		out_line(c, "error %s/%d: bits set past the prefix: the network is %s", a,
		         req->prefix, ctl_format_net(&key, kp, net, sizeof(net)));
		return false;
	}
	return true;
}

/* "198.51.100.0/24 (/etc/mxallowd.conf:12)": a static network and where it was set. */
static void format_static(const struct netset_net *n, char *buf, size_t len)
{
	char net[NETSET_STRLEN];

	if (n->line)
		snprintf(buf, len, "%s (%s:%" PRIu32 ")", netset_format(n, net), n->source,
		         n->line);
	else
		snprintf(buf, len, "%s (%s)", netset_format(n, net), n->source);
}

static void do_show(struct client *c, const struct ctl_request *req)
{
	struct daemon *d = c->ctl->d;
	struct mx_explanation ex;
	mxa_time now = daemon_now();
	char a[ADDR_STRLEN], net[ADDR_STRLEN + 4], line[CTL_MAX_REPLY];
	uint32_t left;

	mx_explain(d->mx, &req->addr, now, &ex);
	addr_format(&req->addr, a);
	ctl_format_net(&ex.key, ex.prefix, net, sizeof(net));
	if (ex.negative)
		out_line(c, "info %s is in the rDNS negative cache for %" PRId64 " s more", net,
		         ex.negative_until - now);
	if (ex.has_entry) {
		ctl_format_entry(line, sizeof(line), &ex.entry, ex.prefix, now);
		out_line(c, "%s", line);
	}
	if (ex.source == MX_EXPLAIN_STATIC) {
		char where[CTL_MAX_REPLY];

		format_static(ex.static_net, where, sizeof(where));
		out_line(c, "ok %s is let in by the allow list: %s", a, where);
	} else if (ex.allowed) {
		out_line(c, "ok %s is let in by whitelist entry %s (%s)", a, net,
		         whitelist_reason_name(ex.entry.reason));
	} else if (d->table && pflog_adopted_left(d->table, &ex.key, &left) > 0) {
		/* The kernel admits it by an entry found there at start (no whitelist entry). */
		out_line(c,
		         "ok %s is let in by the kernel table: %s was there at start and is kept "
		         "until its own timeout (%" PRIu32 " s)",
		         a, net, left);
	} else {
		out_line(c,
		         "no %s is not let in: no live whitelist entry for %s (no fake-MX attempt, "
		         "sibling or manual entry within its lifetime)",
		         a, net);
	}
}

static void do_add(struct client *c, const struct ctl_request *req)
{
	struct daemon *d = c->ctl->d;
	uint32_t ttl = req->ttl ? req->ttl : d->cfg.whitelist_time;
	char net[ADDR_STRLEN + 4], was[64] = "";
	struct wl_entry prev;
	mxa_addr key;
	int r;

	if (!manual_prefix_ok(c, req))
		return;
	r = mx_manual_add(d->mx, &req->addr, req->prefix, ttl, daemon_now(), &prev);
	daemon_table_sync(d);
	daemon_hold_sync(d); /* held SYNs of a client just let in go now */
	if (r < 0) {
		out_line(c, "error %s: nothing added",
		         r == -ENOMEM ? "out of memory" : strerror(-r));
		return;
	}
	mx_key(d->mx, &key, &req->addr);
	ctl_format_net(&key, mx_key_prefix(d->mx, &key), net, sizeof(net));
	if (r == MX_MANUAL_REPLACED)
		snprintf(was, sizeof(was), " (was %s)", whitelist_reason_name(prev.reason));
	log_msg(LOG_NOTICE, "control uid=%u add %s expires-in=%" PRIu32 ": %s%s", (unsigned)c->uid,
	        net, ttl, r == MX_MANUAL_REPLACED ? "replaced" : "added", was);
	out_line(c, "ok %s %s reason=manual expires-in=%" PRIu32 "%s",
	         r == MX_MANUAL_REPLACED ? "replaced" : "added", net, ttl, was);
}

/*
 * Removes the entry. "ok" only when the address is no longer let in: one
 * that the allow list still lets in gets "no" with the network, whether it had
 * an entry (deleted all the same) or not; the allow list is the configuration's.
 */
static void do_del(struct client *c, const struct ctl_request *req)
{
	struct daemon *d = c->ctl->d;
	const struct netset_net *sn;
	char net[ADDR_STRLEN + 4], a[ADDR_STRLEN], where[CTL_MAX_REPLY], was[ADDR_STRLEN + 64] = "";
	struct wl_entry e;
	mxa_addr key;
	uint32_t left;
	int r;

	if (!manual_prefix_ok(c, req))
		return;
	mx_key(d->mx, &key, &req->addr);
	ctl_format_net(&key, mx_key_prefix(d->mx, &key), net, sizeof(net));
	r = mx_manual_del(d->mx, &req->addr, req->prefix, daemon_now(), &e);
	/* Only in the kernel table (there at start, no whitelist entry): out of it too. */
	if (r <= 0 && d->table && pflog_adopted_left(d->table, &key, &left) > 0) {
		pflog_del(d->table, &key);
		log_msg(LOG_NOTICE,
		        "control uid=%u del %s: deleted from the kernel table (there at start, no "
		        "whitelist entry)",
		        (unsigned)c->uid, net);
		snprintf(was, sizeof(was), "deleted %s from the kernel table (there at start)",
		         net);
		r = 1;
	} else if (r > 0) {
		log_msg(LOG_NOTICE, "control uid=%u del %s: deleted (was %s)", (unsigned)c->uid,
		        net, whitelist_reason_name(e.reason));
		snprintf(was, sizeof(was), "deleted %s (was %s)", net,
		         whitelist_reason_name(e.reason));
	}
	daemon_table_sync(d);
	daemon_hold_sync(d); /* verdicts buffered meanwhile go now */
	if (netset_lookup(mx_static(d->mx), &req->addr, &sn)) {
		addr_format(&req->addr, a);
		format_static(sn, where, sizeof(where));
		out_line(c, "no %s is still let in by the allow list: %s; %s", a, where,
		         r > 0 ? was : "it has no whitelist entry");
	} else if (r > 0) {
		out_line(c, "ok %s", was);
	} else {
		out_line(c, "no %s has no whitelist entry", net);
	}
}

static void do_stats(struct client *c)
{
	struct stat_item v[STATS_MAX];
	size_t n = stats_collect(c->ctl->d, v, STATS_MAX);

	for (size_t i = 0; i < n; i++)
		out_line(c, "stat %s %" PRIu64, v[i].name, v[i].value);
	out_line(c, "ok");
}

static void handle(struct client *c, const char *line, size_t len)
{
	struct ctl_request req;
	char err[256];

	if (ctl_parse_request(line, len, &req, err, sizeof(err)) < 0) {
		out_line(c, "error %s", err);
		return;
	}
	switch (req.cmd) {
	case CTL_LIST:
		c->state = CL_LIST;
		c->it = (struct wl_iter){0};
		c->listed = 0;
		bufferevent_disable(c->bev, EV_READ);
		list_more(c);
		break;
	case CTL_SHOW:
		do_show(c, &req);
		break;
	case CTL_ADD:
		do_add(c, &req);
		break;
	case CTL_DEL:
		do_del(c, &req);
		break;
	case CTL_STATS:
		do_stats(c);
		break;
	case CTL_RELOAD:
		/* Before the call: the answer may come from inside it (a file that does not load).
		 */
		c->state = CL_RELOAD;
		bufferevent_disable(c->bev, EV_READ);
		log_msg(LOG_NOTICE, "control uid=%u reload", (unsigned)c->uid);
		if (reload_start_cb(c->ctl->d, on_reload_done, c) < 0) {
			out_line(c, "error reload: out of memory");
			c->state = CL_IDLE;
		}
		break;
	}
}

/* Answers the complete request lines read so far, one at a time. */
static void process_input(struct client *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct evbuffer *out = bufferevent_get_output(c->bev);
	char line[CTL_MAX_REQUEST + 1];

	for (unsigned n = 0; c->state == CL_IDLE; n++) {
		struct evbuffer_ptr eol;
		size_t eol_len = 0;

		if (evbuffer_get_length(out) >= OUT_HIGH) {
			/* It sends without reading: on_write() resumes once it has read. */
			bufferevent_disable(c->bev, EV_READ);
			return;
		}
		if (n == REQUESTS_PER_WAKEUP) {
			later(c);
			return;
		}
		eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_LF);
		if (eol.pos < 0 && evbuffer_get_length(in) < CTL_MAX_REQUEST) {
			if (c->eof) {
				if (evbuffer_get_length(in) > 0)
					out_line(c, "error request without a newline at the end");
				close_after_output(c);
			} else {
				bufferevent_enable(c->bev, EV_READ);
			}
			return;
		}
		if (eol.pos < 0 || (size_t)eol.pos >= CTL_MAX_REQUEST) {
			out_line(c, "error request longer than %d bytes: closing",
			         CTL_MAX_REQUEST - 1);
			close_after_output(c);
			return;
		}
		evbuffer_remove(in, line, (size_t)eol.pos);
		evbuffer_drain(in, eol_len);
		line[eol.pos] = 0;
		handle(c, line, (size_t)eol.pos);
	}
}

static void on_read(struct bufferevent *bev, void *ctx)
{
	struct client *c = ctx;

	(void)bev;
	if (c->state == CL_IDLE && !pending(c))
		process_input(c);
}

static void on_write(struct bufferevent *bev, void *ctx)
{
	struct client *c = ctx;

	if (pending(c) && c->state != CL_CLOSING)
		return;
	switch (c->state) {
	case CL_LIST:
		list_more(c);
		break;
	case CL_IDLE:
		process_input(c); /* requests that waited for the output to drain */
		break;
	case CL_CLOSING:
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			client_free(c);
		break;
	case CL_RELOAD:
		break;
	}
}

static void on_event(struct bufferevent *bev, short what, void *ctx)
{
	struct client *c = ctx;

	(void)bev;
	if (what & BEV_EVENT_EOF) {
		c->eof = true;
		if (c->state == CL_IDLE && !pending(c))
			process_input(c);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT)
		log_msg(LOG_WARNING, "control client=%u uid=%u: %s for %d s: closed", c->id,
		        (unsigned)c->uid, what & BEV_EVENT_WRITING ? "not reading" : "idle",
		        what & BEV_EVENT_WRITING ? CONTROL_WRITE_TIMEOUT : CONTROL_IDLE_TIMEOUT);
	client_free(c); /* a timeout, or an error (the client went away) */
}

static void on_more(evutil_socket_t fd, short what, void *ctx)
{
	struct client *c = ctx;

	(void)fd;
	(void)what;
	switch (c->state) {
	case CL_LIST:
		list_more(c);
		break;
	case CL_IDLE:
		process_input(c);
		break;
	case CL_CLOSING:
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
			client_free(c);
		break;
	case CL_RELOAD:
		break;
	}
}

static bool peer_allowed(const struct control *ctl, uid_t uid, gid_t gid)
{
	if (uid == 0 || uid == geteuid())
		return true;
	if (!ctl->have_group)
		return false;
	if (gid == ctl->group)
		return true;
	for (size_t i = 0; i < ctl->n_members; i++)
		if (ctl->members[i] == uid)
			return true;
	return false;
}

/* One line to a connection that is not served, without waiting: the socket is new and empty. */
static void refuse(evutil_socket_t fd, const char *line)
{
	ssize_t r = send(fd, line, strlen(line), MSG_DONTWAIT | MSG_NOSIGNAL);

	(void)r;
	evutil_closesocket(fd);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                      int socklen, void *ctx)
{
	struct control *ctl = ctx;
	const struct timeval idle = {CONTROL_IDLE_TIMEOUT, 0}, wr = {CONTROL_WRITE_TIMEOUT, 0};
	struct client *c;
	uid_t uid;
	gid_t gid;
	pid_t pid;
	int r;

	(void)l;
	(void)sa;
	(void)socklen;
	r = peercred_get(fd, &uid, &gid, &pid);
	if (r < 0) {
		log_msg(LOG_WARNING, "control: cannot tell who connected: %s; closed",
		        strerror(-r));
		refuse(fd, "error cannot tell who you are\n");
		return;
	}
	if (!peer_allowed(ctl, uid, gid)) {
		log_msg(LOG_WARNING,
		        "control: uid=%u gid=%u pid=%ld refused: not root, mxallowd's user or in "
		        "control-group",
		        (unsigned)uid, (unsigned)gid, (long)pid);
		refuse(fd, "error permission denied: only root, mxallowd's user and control-group "
		           "may use this socket\n");
		return;
	}
	if (ctl->n_clients >= CONTROL_MAX_CLIENTS) {
		log_msg(LOG_WARNING, "control: uid=%u pid=%ld refused: %d clients connected",
		        (unsigned)uid, (long)pid, CONTROL_MAX_CLIENTS);
		refuse(fd, "error busy: too many control clients, try again later\n");
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		refuse(fd, "error out of memory\n");
		return;
	}
	c->ctl = ctl;
	c->uid = uid;
	c->pid = pid;
	c->id = ++ctl->next_id;
	c->bev = bufferevent_socket_new(ctl->d->base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->ev_more = evtimer_new(ctl->d->base, on_more, c);
	if (!c->bev || !c->ev_more) {
		if (c->ev_more)
			event_free(c->ev_more);
		if (c->bev)
			bufferevent_free(c->bev);
		else
			refuse(fd, "error out of memory\n");
		free(c);
		return;
	}
	c->next = ctl->clients;
	if (c->next)
		c->next->prev = c;
	ctl->clients = c;
	ctl->n_clients++;
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, IN_HIGH);
	bufferevent_setwatermark(c->bev, EV_WRITE, OUT_LOW, 0);
	bufferevent_set_timeouts(c->bev, &idle, &wr);
	out_line(c, "%s", CTL_BANNER);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static void on_resume(evutil_socket_t fd, short what, void *ctx)
{
	struct control *ctl = ctx;

	(void)fd;
	(void)what;
	evconnlistener_enable(ctl->listener);
}

/* accept() failed (out of descriptors): pause a second instead of spinning on the loop. */
static void on_accept_error(struct evconnlistener *l, void *ctx)
{
	struct control *ctl = ctx;
	const struct timeval one = {1, 0};
	int e = EVUTIL_SOCKET_ERROR();

	log_msg(LOG_WARNING, "control: accept failed: %s; paused for a second",
	        evutil_socket_error_to_string(e));
	evconnlistener_disable(l);
	event_add(ctl->ev_resume, &one);
}

int control_start(struct daemon *d, char *err, size_t errlen)
{
	struct control *ctl = d->control;

	if (!ctl)
		return 0;
	ctl->ev_resume = evtimer_new(d->base, on_resume, ctl);
	ctl->listener = evconnlistener_new(
	    d->base, on_accept, ctl, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, ctl->fd);
	if (!ctl->ev_resume || !ctl->listener)
		return fail(err, errlen, ENOMEM,
		            "control-socket %s: cannot register it on the loop", ctl->path);
	ctl->fd = -1; /* the listener's now */
	evconnlistener_set_error_cb(ctl->listener, on_accept_error);
	return 0;
}

void control_close(struct daemon *d)
{
	struct control *ctl = d->control;
	struct stat st;

	if (!ctl)
		return;
	while (ctl->clients)
		client_free(ctl->clients);
	if (ctl->listener)
		evconnlistener_free(ctl->listener);
	if (ctl->ev_resume)
		event_free(ctl->ev_resume);
	if (ctl->fd >= 0)
		close(ctl->fd);
	/* Only the file we made: another daemon may have replaced it meanwhile. */
	if (ctl->bound && lstat(ctl->path, &st) == 0 && S_ISSOCK(st.st_mode) &&
	    st.st_dev == ctl->dev && st.st_ino == ctl->ino)
		(void)unlink(
		    ctl->path); /* as an unprivileged user it may stay: the next start clears it */
	if (ctl->made_dir)
		(void)rmdir(ctl->made_dir);
	free(ctl->made_dir);
	free(ctl->path);
	free(ctl);
	d->control = NULL;
}
