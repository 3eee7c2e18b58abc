/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The state file: load at start, background saves by fork(), a synchronous
 * save at exit (see state.h). The format itself is src/core/statefile.c.
 *
 * Why fork() and not a writer thread: a thread needs its own copy of the
 * whitelist (about 57 MiB at 1e6 entries) taken on the loop, or a whitelist
 * made safe to read while the loop writes it. fork() gives the child a
 * frozen copy for the price of copying page tables (the loop's only stall,
 * counted in state-fork-usec), and the pages the loop then writes are
 * copied one by one as it touches them. The child never returns into the
 * loop: it writes the file, reports an error through a pipe and _exit()s.
 */
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "build-config.h"
#include "log.h"
#include "statefile.h"

/* Deadlines further ahead are shortened: the longest whitelist-time (an ipset timeout). */
#define STATE_MAX_AHEAD 2147483
/* Last uses further back are moved up: whitelist times are 32-bit offsets. */
#define STATE_MAX_BACK ((mxa_time)1 << 30)
/* A file larger than this many records cannot be one that max-entries allows. */
#define STATE_MAX_RECORDS 100000000ULL

struct state {
	char *path;
	char *tmp;     /* PATH.tmp */
	char *corrupt; /* PATH.corrupt */
	char *dir;
	/* Loaded at start, on the core's clock, until state_restore(). */
	struct wl_entry *loaded;
	size_t n_loaded;
	mxa_time epoch;
	bool load_clean;
	/* Saves. */
	bool armed;
	pid_t child;
	int child_pipe;         /* read end: the child's error line */
	uint64_t child_changes; /* the change count its snapshot holds */
	mxa_time child_started;
	uint64_t changes_saved; /* the change count the file holds */
	bool saved_valid;       /* changes_saved means something */
	mxa_time last_start;    /* of the last save (or the start) */
	mxa_time current_since; /* the file held the whitelist at this time */
	struct state_stats stats;
};

static int64_t wall_now(void)
{
	return (int64_t)time(NULL);
}

static char *concat(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *s = malloc(la + lb + 1);

	if (s) {
		memcpy(s, a, la);
		memcpy(s + la, b, lb + 1);
	}
	return s;
}

int state_new(const struct config *c, struct state **out, char *err, size_t errlen)
{
	const char *path = c->state_file, *slash;
	struct state *s;
	struct stat st;
	int e;

	*out = NULL;
	if (!path)
		return 0;
	slash = strrchr(path, '/');
	if (!slash || !slash[1] || strcmp(slash + 1, ".") == 0 || strcmp(slash + 1, "..") == 0) {
		snprintf(err, errlen, "state-file %s: not a file name", path);
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		goto oom;
	s->child = -1;
	s->child_pipe = -1;
	s->path = strdup(path);
	s->tmp = concat(path, ".tmp");
	s->corrupt = concat(path, ".corrupt");
	s->dir = strndup(path, slash == path ? 1 : (size_t)(slash - path));
	if (!s->path || !s->tmp || !s->corrupt || !s->dir)
		goto oom;
	e = stat(s->dir, &st) < 0 ? errno : !S_ISDIR(st.st_mode) ? ENOTDIR : 0;
	if (e == ENOENT && strcmp(path, DEFAULT_STATE_FILE) == 0) {
		log_msg(LOG_WARNING,
		        "state-file %s: directory %s does not exist: running without a state file "
		        "(create it, writable by the daemon's user, or set state-file none)",
		        path, s->dir);
		state_free(s);
		return 0;
	}
	if (e) {
		snprintf(err, errlen, "state-file %s: directory %s: %s", path, s->dir, strerror(e));
		state_free(s);
		return -e;
	}
	if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "state-file %s: is a directory", path);
		state_free(s);
		return -EISDIR;
	}
	*out = s;
	return 0;
oom:
	snprintf(err, errlen, "state-file %s: out of memory", path);
	state_free(s);
	return -ENOMEM;
}

static void reap(struct state *s, bool block, bool exiting);

struct state *state_free(struct state *s)
{
	if (!s)
		return NULL;
	if (s->child > 0)
		reap(s, true, true);
	free(s->loaded);
	free(s->path);
	free(s->tmp);
	free(s->corrupt);
	free(s->dir);
	free(s);
	return NULL;
}

const char *state_dir(const struct state *s)
{
	return s ? s->dir : NULL;
}

/* ------------------------------------------------------------------ load */

struct load_ctx {
	struct state *s;
	mxa_time now;
	int64_t wall;
	unsigned v4_prefix, v6_prefix;      /* now */
	const struct statefile_result *res; /* its header is valid before the first entry */
	size_t alloc;
	uint64_t expired, finer, shortened;
};

static int load_one(void *ctx, const struct wl_entry *fe)
{
	struct load_ctx *l = ctx;
	struct state *s = l->s;
	struct wl_entry e = *fe;
	bool v4 = addr_is_v4(&e.addr);

	if (fe->deadline <= l->wall) {
		l->expired++;
		return 0;
	}
	/* Entries keyed by a longer prefix than now are merged into their network. */
	if (v4 ? l->v4_prefix > l->res->header.v4_prefix
	       : l->v6_prefix > l->res->header.v6_prefix) {
		l->finer++;
		return 0;
	}
	addr_mask(&e.addr, &fe->addr, l->v4_prefix, l->v6_prefix);
	if (fe->deadline - l->wall > STATE_MAX_AHEAD) {
		e.deadline = l->now + STATE_MAX_AHEAD;
		l->shortened++;
	} else {
		e.deadline = l->now + (fe->deadline - l->wall);
	}
	if (e.used) {
		int64_t back = l->wall - fe->last_use;

		if (back < 0)
			back = 0; /* a last use in the future: now */
		if (back > STATE_MAX_BACK)
			back = STATE_MAX_BACK;
		e.last_use = l->now - back;
		if (e.last_use < s->epoch)
			s->epoch = e.last_use;
	} else {
		e.last_use = 0;
	}
	if (s->n_loaded == l->alloc) {
		size_t alloc = l->alloc ? l->alloc * 2 : 1024;
		struct wl_entry *v = realloc(s->loaded, alloc * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->loaded = v;
		l->alloc = alloc;
	}
	s->loaded[s->n_loaded++] = e;
	return 0;
}

static int later_first(const void *a, const void *b)
{
	const struct wl_entry *x = a, *y = b;

	return x->deadline < y->deadline ? 1 : x->deadline > y->deadline ? -1 : 0;
}

/* Reads all of @fd into a new buffer; 0 or a negative errno with the reason in @why. */
static int read_all(int fd, uint8_t **out, size_t *len, char *why, size_t whylen)
{
	struct stat st;
	uint8_t *buf;
	size_t size, got = 0;
	uint64_t max = STATEFILE_HEADER_SIZE + STATEFILE_END_SIZE +
	               (STATE_MAX_RECORDS / STATEFILE_BLOCK_RECORDS + 1) * STATEFILE_BLOCK_MAX;

	if (fstat(fd, &st) < 0) {
		snprintf(why, whylen, "cannot stat: %s", strerror(errno));
		return -errno;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "not a regular file");
		return -EINVAL;
	}
	if ((uint64_t)st.st_size > max || (uint64_t)st.st_size > SIZE_MAX - 1) {
		snprintf(why, whylen, "too large for a state file (%" PRIu64 " bytes)",
		         (uint64_t)st.st_size);
		return -EFBIG;
	}
	size = (size_t)st.st_size;
	buf = malloc(size ? size : 1);
	if (!buf) {
		snprintf(why, whylen, "out of memory for %zu bytes", size);
		return -ENOMEM;
	}
	while (got < size) {
		ssize_t n = read(fd, buf + got, size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			snprintf(why, whylen, "read error: %s", strerror(e));
			free(buf);
			return -e;
		}
		if (n == 0)
			break; /* shrank while read: the decoder sees a truncated file */
		got += (size_t)n;
	}
	*out = buf;
	*len = got;
	return 0;
}

/* Moves the file aside as evidence; returns the text for the log line. */
static const char *move_aside(const struct state *s, char *buf, size_t len)
{
	struct stat st;

	if (lstat(s->path, &st) == 0 && S_ISDIR(st.st_mode))
		snprintf(buf, len, "left in place (a directory)");
	else if (rename(s->path, s->corrupt) < 0)
		snprintf(buf, len, "could not be renamed to %s: %s", s->corrupt, strerror(errno));
	else
		snprintf(buf, len, "renamed to %s", s->corrupt);
	return buf;
}

void state_load(struct state *s, const struct config *c, mxa_time now)
{
	struct load_ctx l = {
	    .s = s,
	    .now = now,
	    .wall = wall_now(),
	    .v4_prefix = c->ipv4_prefix,
	    .v6_prefix = c->ipv6_prefix,
	};
	struct statefile_result res;
	char why[256], aside[320];
	uint8_t *buf = NULL;
	size_t len = 0, over = 0;
	int fd, r;

	s->epoch = now;
	s->load_clean = false;
	fd = open(s->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		log_msg(LOG_NOTICE, "state: no file %s yet: starting with an empty whitelist",
		        s->path);
		s->load_clean = true;
		return;
	}
	if (fd < 0) {
		r = -errno;
		snprintf(why, sizeof(why), "cannot open: %s",
		         r == -ELOOP ? "a symbolic link" : strerror(-r));
	} else {
		r = read_all(fd, &buf, &len, why, sizeof(why));
		close(fd);
	}
	if (r < 0) {
		log_msg(LOG_ERR, "state: %s: %s; 0 entries loaded; the file is %s", s->path, why,
		        r == -ENOMEM ? "kept" : move_aside(s, aside, sizeof(aside)));
		return;
	}
	l.res = &res;
	r = statefile_decode(buf, len, load_one, &l, &res);
	free(buf);
	if (s->n_loaded > c->max_entries) {
		qsort(s->loaded, s->n_loaded, sizeof(*s->loaded), later_first);
		over = s->n_loaded - c->max_entries;
		s->n_loaded = c->max_entries;
	}
	s->stats.loaded = s->n_loaded;
	if (r == -ENOMEM) {
		log_msg(LOG_ERR,
		        "state: %s: out of memory after %zu entries; the rest is not loaded, the "
		        "file is kept",
		        s->path, s->n_loaded);
		return;
	}
	if (r < 0) {
		log_msg(LOG_ERR,
		        "state: %s: %s; %zu entries loaded, %" PRIu64 " unreadable; the file is %s",
		        s->path, res.what, s->n_loaded, res.skipped,
		        move_aside(s, aside, sizeof(aside)));
		return;
	}
	s->load_clean = true;
	log_msg(LOG_NOTICE,
	        "state: loaded %zu entries from %s (saved %" PRId64 " s ago; dropped: %" PRIu64
	        " expired, %zu over max-entries, %" PRIu64 " keyed by a shorter prefix than now)",
	        s->n_loaded, s->path, l.wall - res.header.saved_at, l.expired, over, l.finer);
}

mxa_time state_epoch(const struct state *s, mxa_time now)
{
	return s && s->epoch < now ? s->epoch : now;
}

size_t state_restore(struct state *s, struct mx *mx, mxa_time now)
{
	size_t n = 0;

	if (!s)
		return 0;
	for (size_t i = 0; i < s->n_loaded; i++) {
		int r = mx_restore(mx, &s->loaded[i], now);

		if (r < 0) {
			log_msg(LOG_ERR, "state: out of memory after restoring %zu entries", n);
			break;
		}
		n += r == 0;
	}
	free(s->loaded);
	s->loaded = NULL;
	s->n_loaded = 0;
	s->stats.loaded = n;
	return n;
}

void state_arm(struct state *s, uint64_t changes, mxa_time now)
{
	if (!s)
		return;
	s->armed = true;
	s->last_start = now;
	s->current_since = now;
	s->changes_saved = changes;
	s->saved_valid = s->load_clean;
}

/* ------------------------------------------------------------------ save */

/*
 * The child gives way to the loop: it leaves the loop's CPUs to it where it
 * can run elsewhere (a daemon pinned with taskset or CPUAffinity=; a feature
 * macro, not a system test), and runs at nice 10: where the two share a CPU
 * the loop waits for one short time slice of the child at most, and the
 * child gets about a tenth of a busy CPU. Not SCHED_IDLE nor nice 19: on a
 * busy host those put a save off for many seconds, or for ever.
 */
static void child_give_way(void)
{
#ifdef CPU_ZERO
	cpu_set_t mine, others;
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	bool any = false;

	if (sched_getaffinity(0, sizeof(mine), &mine) == 0) {
		CPU_ZERO(&others);
		for (long i = 0; i < n && i < CPU_SETSIZE; i++)
			if (!CPU_ISSET((int)i, &mine)) {
				CPU_SET((int)i, &others);
				any = true;
			}
		if (any)
			(void)sched_setaffinity(0, sizeof(others), &others);
	}
#endif
	(void)setpriority(PRIO_PROCESS, 0, 10);
}

struct sink_fd {
	int fd;
};

static int write_fd(void *ctx, const void *buf, size_t len)
{
	const struct sink_fd *w = ctx;
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = write(w->fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

struct snapshot {
	struct statefile_enc *enc;
	mxa_time now;
	int64_t wall;
};

static int snapshot_one(void *ctx, const struct wl_entry *e)
{
	struct snapshot *sn = ctx;
	struct wl_entry fe = *e;

	if (e->deadline <= sn->now)
		return 0; /* expired, not removed yet */
	fe.deadline = sn->wall + (e->deadline - sn->now);
	if (e->used) {
		fe.last_use = sn->wall + (e->last_use - sn->now);
		if (fe.last_use <= 0)
			fe.last_use = 1;
	} else {
		fe.last_use = 0;
	}
	return statefile_enc_entry(sn->enc, &fe);
}

/*
 * Writes the whitelist to PATH atomically. Safe in a forked child: no
 * logging, no event loop; memory from malloc only.
 */
static int write_snapshot(const struct state *s, const struct whitelist *wl, const struct config *c,
                          mxa_time now, uint64_t *count, char *err, size_t errlen)
{
	struct statefile_header h = {
	    .saved_at = wall_now(),
	    .v4_prefix = (uint8_t)c->ipv4_prefix,
	    .v6_prefix = (uint8_t)c->ipv6_prefix,
	};
	struct snapshot sn = {.now = now, .wall = h.saved_at};
	struct sink_fd w;
	const char *step = "open";
	int fd, dfd, r;

	fd = open(s->tmp, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EACCES && unlink(s->tmp) == 0) /* left by a run as another user */
		fd = open(s->tmp, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot save %s: open %s: %s", s->path, s->tmp, strerror(-r));
		return r;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot save %s: %s is locked by another writer", s->path,
		         s->tmp);
		close(fd);
		return r == -EWOULDBLOCK ? -EBUSY : r;
	}
	w.fd = fd;
	sn.enc = statefile_enc_new(write_fd, &w);
	if (!sn.enc) {
		r = -ENOMEM;
		step = "encode";
		goto fail;
	}
	step = "write";
	if ((r = ftruncate(fd, 0) < 0 ? -errno : 0) < 0 ||
	    (r = statefile_enc_header(sn.enc, &h)) < 0 ||
	    (r = whitelist_foreach(wl, snapshot_one, &sn)) < 0 ||
	    (r = statefile_enc_finish(sn.enc)) < 0)
		goto fail;
	step = "fsync";
	if (fsync(fd) < 0) {
		r = -errno;
		goto fail;
	}
	step = "rename";
	if (rename(s->tmp, s->path) < 0) {
		r = -errno;
		goto fail;
	}
	*count = statefile_enc_count(sn.enc);
	statefile_enc_free(sn.enc);
	close(fd);
	/* The rename itself is durable only once the directory is. */
	dfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) < 0) {
		r = -errno;
		snprintf(err, errlen, "saved %s, but cannot fsync directory %s: %s", s->path,
		         s->dir, strerror(-r));
		if (dfd >= 0)
			close(dfd);
		return r;
	}
	close(dfd);
	return 0;
fail:
	snprintf(err, errlen, "cannot save %s: %s %s: %s", s->path, step, s->tmp, strerror(-r));
	statefile_enc_free(sn.enc);
	unlink(s->tmp); /* ours: we hold its lock */
	close(fd);
	return r;
}

static void save_done(struct state *s, uint64_t changes, mxa_time snapshot_at)
{
	s->stats.saves++;
	s->changes_saved = changes;
	s->saved_valid = true;
	s->current_since = snapshot_at;
}

int state_save_start(struct state *s, const struct mx *mx, const struct config *c, uint64_t changes,
                     mxa_time now)
{
	struct timespec t0, t1;
	sigset_t all, old;
	int p[2], e;
	pid_t pid;

	if (s->child > 0)
		return -EBUSY;
	s->last_start = now;
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0) {
		e = errno;
		s->stats.save_errors++;
		log_msg(LOG_ERR, "state: cannot save %s: pipe: %s", s->path, strerror(e));
		return -e;
	}
	/* No handler of the loop's may run in the child: signals wait until it reset them. */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = fork();
	if (pid == 0) {
		struct sigaction dfl = {.sa_handler = SIG_DFL};
		char err[512];
		uint64_t count;
		int r;

		for (int sig = 1; sig < NSIG; sig++)
			(void)sigaction(sig, &dfl, NULL);
		sigprocmask(SIG_SETMASK, &old, NULL);
		close(p[0]);
		child_give_way();
		r = write_snapshot(s, mx_whitelist(mx), c, now, &count, err, sizeof(err));
		if (r < 0 && write(p[1], err, strlen(err)) < 0)
			_exit(2);
		_exit(r < 0 ? 1 : 0);
	}
	e = errno;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		s->stats.save_errors++;
		log_msg(LOG_ERR, "state: cannot save %s: fork: %s", s->path, strerror(e));
		return -e;
	}
	s->stats.fork_usec =
	    (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000);
	if (s->stats.fork_usec > s->stats.fork_usec_max)
		s->stats.fork_usec_max = s->stats.fork_usec;
	s->child = pid;
	s->child_pipe = p[0];
	s->child_changes = changes;
	s->child_started = now;
	return 0;
}

/*
 * Accounts for a finished child (or waits for it with @block). @exiting: a
 * child ended by SIGTERM or SIGINT is expected (a service manager signals
 * the whole group at a stop), and the synchronous save follows.
 */
static void reap(struct state *s, bool block, bool exiting)
{
	char msg[512];
	int status = 0;
	ssize_t n;
	pid_t r;

	do
		r = waitpid(s->child, &status, block ? 0 : WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return; /* still writing */
	n = read(s->child_pipe, msg, sizeof(msg) - 1);
	close(s->child_pipe);
	s->child_pipe = -1;
	s->child = -1;
	if (r > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		save_done(s, s->child_changes, s->child_started);
		return;
	}
	if (exiting && r > 0 && WIFSIGNALED(status) &&
	    (WTERMSIG(status) == SIGTERM || WTERMSIG(status) == SIGINT))
		return;
	s->stats.save_errors++;
	if (n > 0) {
		msg[n] = 0;
		log_msg(LOG_ERR, "state: %s", msg);
	} else if (r > 0 && WIFSIGNALED(status)) {
		log_msg(LOG_ERR, "state: cannot save %s: the writing process died of signal %d",
		        s->path, WTERMSIG(status));
	} else {
		log_msg(LOG_ERR, "state: cannot save %s: the writing process failed", s->path);
	}
}

int state_save_wait(struct state *s, mxa_time now)
{
	uint64_t errors = s->stats.save_errors;

	(void)now;
	if (s->child > 0)
		reap(s, true, false);
	return s->stats.save_errors == errors ? 0 : -EIO;
}

void state_tick(struct state *s, const struct mx *mx, const struct config *c, uint64_t changes,
                mxa_time now)
{
	if (!s || !s->armed)
		return;
	if (s->child > 0)
		reap(s, false, false);
	if (s->child > 0)
		return;
	if (s->saved_valid && changes == s->changes_saved) {
		s->current_since = now; /* nothing to write: the file is current */
		return;
	}
	if (now - s->last_start < (mxa_time)c->save_interval)
		return;
	(void)state_save_start(s, mx, c, changes, now);
}

int state_save_final(struct state *s, const struct mx *mx, const struct config *c, uint64_t changes,
                     mxa_time now)
{
	char err[512];
	uint64_t count = 0;
	int r;

	if (!s || !s->armed)
		return 0;
	if (s->child > 0)
		reap(s, true, true);
	if (s->saved_valid && changes == s->changes_saved)
		return 0;
	r = write_snapshot(s, mx_whitelist(mx), c, now, &count, err, sizeof(err));
	if (r < 0) {
		s->stats.save_errors++;
		log_msg(LOG_ERR, "state: %s", err);
		return r;
	}
	save_done(s, changes, now);
	log_msg(LOG_NOTICE, "state: saved %" PRIu64 " entries to %s", count, s->path);
	return 0;
}

void state_stats(const struct state *s, mxa_time now, struct state_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!s)
		return;
	*out = s->stats;
	out->age = s->armed && now > s->current_since ? (uint64_t)(now - s->current_since) : 0;
}
