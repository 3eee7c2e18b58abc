/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The state file: load at start, background saves by fork(), a last save at
 * exit (see state.h). The format itself is src/core/statefile.c.
 *
 * Why fork() and not a writer thread: a thread needs its own copy of the
 * whitelist (about 57 MiB at 1e6 entries) taken on the loop, or a whitelist
 * made safe to read while the loop writes it. fork() gives the child a
 * frozen copy for the price of copying page tables (the loop's only stall,
 * counted in state-fork-usec), and the pages the loop then writes are
 * copied one by one as it touches them. The child never returns into the
 * loop: it closes every descriptor of the daemon's, writes the file,
 * reports through a pipe and _exit()s.
 *
 * A file system that stops answering (a hung NFS server, a dead disk) must
 * not take the daemon with it: the child is killed after its deadline and
 * counted as a failed save, and the exit waits for the file system a
 * bounded time only (the last save at exit is a child too). A child stuck
 * in the kernel may outlive SIGKILL: it is left behind, holding nothing of
 * the daemon's.
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
#include "sandbox.h"
#include "statefile.h"

/* Last uses further back are moved up: whitelist times are 32-bit offsets. */
#define STATE_MAX_BACK ((mxa_time)1 << 30)
/* A file larger than this many records cannot be one that max-entries allows. */
#define STATE_MAX_RECORDS 100000000ULL
/*
 * How long a save may take: 60 s, and 10 s per million entries. A save takes
 * about 0.25 s per million entries; at nice 10 on a busy host it may take
 * several times that, but only a file system that stopped answering takes
 * this long. A background save gets save-interval if that is longer.
 */
#define STATE_DEADLINE_MIN       60
#define STATE_ENTRIES_PER_SECOND 100000
/* At exit: how long a save under way may go on. */
#define STATE_EXIT_WAIT_MS 10000
/* After SIGKILL: a child stuck in the kernel is left behind after this. */
#define STATE_KILL_WAIT_MS 1000

#if defined(__OpenBSD__) || defined(__FreeBSD__) ||                                                \
    (defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34)))
#define STATE_HAVE_CLOSEFROM 1
#else
#define STATE_HAVE_CLOSEFROM 0
#endif

struct state {
	char *path;
	char *tmp;     /* PATH.tmp */
	char *corrupt; /* PATH.corrupt */
	char *dir;
	uid_t user_uid; /* the configured user's, (uid_t)-1 when none */
	/* Loaded at start, on the core's clock, until state_restore(). */
	struct wl_entry *loaded;
	size_t n_loaded;
	mxa_time epoch;
	bool load_clean;
	/*
	 * Not loaded whole: the file went to PATH.corrupt (or was gone), and the
	 * entries that did load live in memory only: the first tick saves them.
	 */
	bool set_aside;
	/*
	 * Not loaded whole and still at PATH (it could not be moved aside, or
	 * belongs to another user): its entries exist nowhere else, so no save
	 * replaces the file while it is there.
	 */
	bool held;
	dev_t held_dev;
	ino_t held_ino;
	/* Saves. */
	bool armed;
	bool save_due; /* at the next tick, whatever save-interval says */
	pid_t child;
	int child_pipe;         /* read end: the child's report */
	uint64_t child_changes; /* the change count its snapshot holds */
	mxa_time child_started;
	mxa_time child_deadline;
	bool child_killed;      /* SIGKILL sent: already accounted for */
	bool child_final;       /* the save at exit: its success is logged */
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

/* Root, the daemon's user, or the one it switches to: anyone else could forge entries. */
static bool owner_ok(const struct state *s, uid_t uid)
{
	return uid == 0 || uid == geteuid() || uid == s->user_uid;
}

/*
 * Whoever may write the directory may plant PATH.tmp or a file of entries
 * at PATH. Others may only under the sticky bit: they cannot then remove or
 * rename the daemon's files, and a file of theirs is not loaded.
 */
static int check_dir(struct state *s, const struct config *c, const struct stat *st, char *err,
                     size_t errlen)
{
	char why[CONFIG_ERRLEN];
	uid_t uid;
	gid_t gid;

	if (c->user && geteuid() == 0 &&
	    sandbox_lookup(c->user, c->group, &uid, &gid, why, sizeof(why)) == 0)
		s->user_uid = uid; /* an unknown user: the switch refuses it with the reason */
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) && !(st->st_mode & S_ISVTX)) {
		snprintf(err, errlen,
		         "state-file %s: directory %s is writable by %s: let only its owner write "
		         "it (chmod go-w %s)",
		         s->path, s->dir, st->st_mode & S_IWOTH ? "everyone" : "its group", s->dir);
		return -EPERM;
	}
	if (!owner_ok(s, st->st_uid)) {
		snprintf(err, errlen,
		         "state-file %s: directory %s belongs to uid %lu, neither root nor the "
		         "daemon's user: give it to the daemon's user",
		         s->path, s->dir, (unsigned long)st->st_uid);
		return -EPERM;
	}
	return 0;
}

int state_new(const struct config *c, struct state **out, char *err, size_t errlen)
{
	const char *path = c->state_file, *slash;
	bool is_default;
	struct state *s;
	struct stat st;
	int e;

	*out = NULL;
	if (!path)
		return 0;
	is_default = strcmp(path, DEFAULT_STATE_FILE) == 0;
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
	s->user_uid = (uid_t)-1;
	s->path = strdup(path);
	s->tmp = concat(path, ".tmp");
	s->corrupt = concat(path, ".corrupt");
	s->dir = strndup(path, slash == path ? 1 : (size_t)(slash - path));
	if (!s->path || !s->tmp || !s->corrupt || !s->dir)
		goto oom;
	e = stat(s->dir, &st) < 0 ? errno : !S_ISDIR(st.st_mode) ? ENOTDIR : 0;
	if (e == ENOENT && is_default) {
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
	e = check_dir(s, c, &st, err, errlen);
	if (e < 0 && is_default) {
		/* As a missing one: a mail gate does not stay down for a default. */
		log_msg(LOG_WARNING, "%s; running without a state file", err);
		state_free(s);
		return 0;
	}
	if (e < 0) {
		state_free(s);
		return e;
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

static void child_finish(struct state *s);

struct state *state_free(struct state *s)
{
	if (!s)
		return NULL;
	if (s->child > 0 && !s->child_killed)
		child_finish(s);
	if (s->child_pipe >= 0)
		close(s->child_pipe); /* a killed child stuck in the kernel, left behind */
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
	int64_t max_ahead;
	unsigned v4_prefix, v6_prefix;      /* now */
	const struct statefile_result *res; /* its header is valid before the first entry */
	size_t max;                         /* max-entries */
	size_t alloc;
	uint64_t expired, finer, shortened, over;
};

/*
 * The longest lifetime the daemon gives an entry: mx_lifetime_max() of the
 * whitelist still to be made (renew-time's 36 days by default). Loaded
 * deadlines further ahead are shortened to it.
 */
static uint32_t lifetime_max(const struct config *c)
{
	uint32_t m = MX_MANUAL_TTL_MAX;

	if (c->whitelist_time > m)
		m = c->whitelist_time;
	if (c->renew_time > m)
		m = c->renew_time;
	return m;
}

/*
 * The loaded entries are a min-heap on the deadline, max-entries at most:
 * when full, an entry with a later deadline than the root replaces it. So
 * the memory of a load is bounded by max-entries, whatever the file holds,
 * and the entries that stay are those with the latest deadlines.
 */
static void heap_up(struct wl_entry *h, size_t i)
{
	struct wl_entry e = h[i];

	while (i > 0 && h[(i - 1) / 2].deadline > e.deadline) {
		h[i] = h[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h[i] = e;
}

static void heap_down(struct wl_entry *h, size_t n, size_t i)
{
	struct wl_entry e = h[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= n)
			break;
		if (c + 1 < n && h[c + 1].deadline < h[c].deadline)
			c++;
		if (h[c].deadline >= e.deadline)
			break;
		h[i] = h[c];
		i = c;
	}
	h[i] = e;
}

static int load_one(void *ctx, const struct wl_entry *fe)
{
	struct load_ctx *l = ctx;
	struct state *s = l->s;
	struct wl_entry e;
	bool v4 = addr_is_v4(&fe->addr);

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
	if (statefile_entry_to_clock(fe, l->wall, l->now, l->max_ahead, STATE_MAX_BACK, &e) ==
	    STATEFILE_FIT_SHORTENED)
		l->shortened++;
	addr_mask(&e.addr, &fe->addr, l->v4_prefix, l->v6_prefix);
	if (s->n_loaded == l->max) {
		l->over++;
		if (e.deadline > s->loaded[0].deadline) {
			s->loaded[0] = e;
			heap_down(s->loaded, s->n_loaded, 0);
		}
		return 0;
	}
	if (s->n_loaded == l->alloc) {
		size_t alloc = l->alloc ? l->alloc * 2 : 1024;
		struct wl_entry *v;

		if (alloc > l->max)
			alloc = l->max;
		if (alloc > SIZE_MAX / sizeof(*v))
			return -ENOMEM;
		v = realloc(s->loaded, alloc * sizeof(*v));
		if (!v)
			return -ENOMEM;
		s->loaded = v;
		l->alloc = alloc;
	}
	s->loaded[s->n_loaded++] = e;
	heap_up(s->loaded, s->n_loaded - 1);
	return 0;
}

/* The file at PATH, @st, stays there: see struct state, held. */
static void hold(struct state *s, const struct stat *st)
{
	s->held = true;
	s->held_dev = st->st_dev;
	s->held_ino = st->st_ino;
}

struct fd_reader {
	int fd;
};

static ssize_t read_fd(void *ctx, void *buf, size_t len)
{
	const struct fd_reader *rd = ctx;
	ssize_t n;

	do
		n = read(rd->fd, buf, len);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

/*
 * Moves the file aside as evidence; returns the text for the log line.
 * @seen: the file that was read (NULL when it could not be opened): only
 * that one is moved, not one put in its place meanwhile. What stays at PATH
 * is held: no save replaces it while it is there (write_snapshot()).
 */
static const char *move_aside(struct state *s, const struct stat *seen, char *buf, size_t len)
{
	char why[256];
	struct stat st;

	if (lstat(s->path, &st) < 0) {
		snprintf(buf, len, "gone (%s)", strerror(errno));
		s->set_aside = true;
		return buf;
	}
	if (S_ISDIR(st.st_mode))
		snprintf(why, sizeof(why), "a directory");
	else if (seen && (st.st_dev != seen->st_dev || st.st_ino != seen->st_ino))
		snprintf(why, sizeof(why), "replaced while it was read");
	else if (rename(s->path, s->corrupt) < 0)
		snprintf(why, sizeof(why), "cannot rename it to %s: %s", s->corrupt,
		         strerror(errno));
	else {
		snprintf(buf, len, "renamed to %s", s->corrupt);
		s->set_aside = true;
		return buf;
	}
	hold(s, &st);
	snprintf(buf, len, "left in place (%s); no save replaces it until it is moved away", why);
	return buf;
}

void state_load(struct state *s, const struct config *c, mxa_time now)
{
	struct load_ctx l = {
	    .s = s,
	    .now = now,
	    .wall = wall_now(),
	    .max_ahead = lifetime_max(c),
	    .v4_prefix = c->ipv4_prefix,
	    .v6_prefix = c->ipv6_prefix,
	    .max = c->max_entries,
	};
	uint64_t max = STATEFILE_HEADER_SIZE + STATEFILE_END_SIZE +
	               (STATE_MAX_RECORDS / STATEFILE_BLOCK_RECORDS + 1) * STATEFILE_BLOCK_MAX;
	struct statefile_result res;
	char why[256], aside[512];
	struct stat st, *seen = NULL;
	struct fd_reader rd;
	int fd, r = 0;

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
	} else if (fstat(fd, &st) < 0) {
		r = -errno;
		snprintf(why, sizeof(why), "cannot stat: %s", strerror(-r));
	} else {
		seen = &st;
		if (!S_ISREG(st.st_mode)) {
			r = -EINVAL;
			snprintf(why, sizeof(why), "not a regular file");
		} else if ((uint64_t)st.st_size > max) {
			/* Beyond what max-entries allows: no file this daemon wrote. */
			r = -EFBIG;
			snprintf(why, sizeof(why), "too large for a state file (%" PRIu64 " bytes)",
			         (uint64_t)st.st_size);
		}
	}
	if (r == 0 && !owner_ok(s, st.st_uid)) {
		/* Planted in a sticky directory, or left by another user: never trusted. */
		hold(s, &st);
		log_msg(
		    LOG_ERR,
		    "state: %s: belongs to uid %lu, neither root nor the daemon's user: 0 "
		    "entries loaded; the file is left in place (remove it); no save replaces it "
		    "until it is moved away",
		    s->path, (unsigned long)st.st_uid);
		close(fd);
		return;
	}
	if (r < 0) {
		if (fd >= 0)
			close(fd);
		log_msg(LOG_ERR, "state: %s: %s; 0 entries loaded; the file is %s", s->path, why,
		        move_aside(s, seen, aside, sizeof(aside)));
		return;
	}
	l.res = &res;
	rd.fd = fd;
	r = statefile_decode_read(read_fd, &rd, load_one, &l, &res);
	close(fd);
	/* The earliest last use the whitelist must hold, of the entries that stay. */
	for (size_t i = 0; i < s->n_loaded; i++)
		if (s->loaded[i].used && s->loaded[i].last_use < s->epoch)
			s->epoch = s->loaded[i].last_use;
	s->stats.loaded = s->n_loaded;
	if (r == -ENOMEM) {
		/* Not loaded whole: set aside as a damaged file is, never written over. */
		log_msg(LOG_ERR,
		        "state: %s: out of memory after %zu entries; the rest is not loaded; the "
		        "file is %s",
		        s->path, s->n_loaded, move_aside(s, seen, aside, sizeof(aside)));
		return;
	}
	if (r < 0) {
		log_msg(LOG_ERR,
		        "state: %s: %s; %zu entries loaded, %" PRIu64 " unreadable; the file is %s",
		        s->path, res.what, s->n_loaded, res.skipped,
		        move_aside(s, seen, aside, sizeof(aside)));
		return;
	}
	s->load_clean = true;
	log_msg(LOG_NOTICE,
	        "state: loaded %zu entries from %s (saved %" PRId64 " s ago; dropped: %" PRIu64
	        " expired, %" PRIu64 " over max-entries, %" PRIu64
	        " keyed by a shorter prefix than now; %" PRIu64
	        " deadlines shortened to the longest lifetime, %" PRId64 " s)",
	        s->n_loaded, s->path, l.wall - res.header.saved_at, l.expired, l.over, l.finer,
	        l.shortened, l.max_ahead);
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
	s->save_due = s->set_aside;
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

/* True when @path is still the file @st describes (not replaced, not a link to it). */
static bool still(const char *path, const struct stat *st)
{
	struct stat now;

	return lstat(path, &now) == 0 && now.st_dev == st->st_dev && now.st_ino == st->st_ino;
}

/*
 * Removes a PATH.tmp that no writer holds: left by a save that was killed or
 * by a run as another user, or planted (a link, a FIFO). -EBUSY when another
 * writer holds its lock.
 */
static int clear_stale_tmp(const struct state *s)
{
	struct stat lst, st;
	int fd = -1, r = 0;

	if (lstat(s->tmp, &lst) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (S_ISREG(lst.st_mode)) {
		/*
		 * O_NONBLOCK: a file swapped for a FIFO meanwhile is not waited on.
		 * EACCES: left by a run as another user, removed without a look.
		 */
		fd = open(s->tmp, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0 && errno != EACCES && errno != ELOOP && errno != ENOENT)
			return -errno;
		if (fd >= 0 &&
		    (fstat(fd, &st) < 0 || st.st_dev != lst.st_dev || st.st_ino != lst.st_ino ||
		     flock(fd, LOCK_EX | LOCK_NB) < 0 || !still(s->tmp, &st)))
			r = -EBUSY; /* locked, or swapped while looked at */
	}
	if (r == 0 && unlink(s->tmp) < 0 && errno != ENOENT)
		r = -errno;
	if (fd >= 0)
		close(fd); /* after the unlink: the lock kept a second cleaner off */
	return r;
}

/*
 * Creates PATH.tmp, new (O_EXCL: never a file or link planted there), mode
 * 0600, locked. Returns the descriptor and its @st, or a negative errno with
 * the reason in @err.
 */
static int open_tmp(const struct state *s, struct stat *st, char *err, size_t errlen)
{
	int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, fd, r;

	fd = open(s->tmp, flags, 0600);
	if (fd < 0 && errno == EEXIST) {
		r = clear_stale_tmp(s);
		if (r < 0) {
			if (r == -EBUSY)
				snprintf(err, errlen,
				         "cannot save %s: %s is locked by another writer", s->path,
				         s->tmp);
			else
				snprintf(err, errlen,
				         "cannot save %s: cannot remove the old %s: %s", s->path,
				         s->tmp, strerror(-r));
			return r;
		}
		fd = open(s->tmp, flags, 0600);
	}
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot save %s: create %s: %s", s->path, s->tmp,
		         r == -EEXIST ? "made again meanwhile by another writer" : strerror(-r));
		return r;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0 || fstat(fd, st) < 0 || !S_ISREG(st->st_mode) ||
	    st->st_nlink != 1) {
		snprintf(err, errlen, "cannot save %s: %s is taken by another writer", s->path,
		         s->tmp);
		close(fd);
		return -EBUSY;
	}
	return fd;
}

/*
 * Writes the whitelist as it is at @now on the daemon's clock, @wall on the
 * wall clock (both read by the daemon: a child that starts late must not
 * move the deadlines), to PATH atomically. Safe in a forked child: no
 * logging, no event loop; memory from malloc only. On success @msg says
 * how many entries went in.
 */
static int write_snapshot(const struct state *s, const struct whitelist *wl, const struct config *c,
                          mxa_time now, int64_t wall, char *msg, size_t msglen)
{
	struct statefile_header h = {
	    .saved_at = wall,
	    .v4_prefix = (uint8_t)c->ipv4_prefix,
	    .v6_prefix = (uint8_t)c->ipv6_prefix,
	};
	struct snapshot sn = {.now = now, .wall = wall};
	struct sink_fd w;
	const char *step = "encode";
	struct stat st;
	uint64_t count;
	int fd, dfd, r;

	if (s->held && lstat(s->path, &st) == 0 && st.st_dev == s->held_dev &&
	    st.st_ino == s->held_ino) {
		snprintf(msg, msglen,
		         "cannot save %s: it is still the file the start could not load whole "
		         "(move it away)",
		         s->path);
		return -EEXIST;
	}
	fd = open_tmp(s, &st, msg, msglen);
	if (fd < 0)
		return fd;
	w.fd = fd;
	sn.enc = statefile_enc_new(write_fd, &w);
	if (!sn.enc) {
		r = -ENOMEM;
		goto fail;
	}
	step = "write";
	if ((r = statefile_enc_header(sn.enc, &h)) < 0 ||
	    (r = whitelist_foreach(wl, snapshot_one, &sn)) < 0 ||
	    (r = statefile_enc_finish(sn.enc)) < 0)
		goto fail;
	step = "fsync";
	if (fsync(fd) < 0) {
		r = -errno;
		goto fail;
	}
	step = "rename";
	if (!still(s->tmp, &st)) {
		/* Another writer's cleaning: its file, not ours, would be renamed. */
		snprintf(msg, msglen, "cannot save %s: %s was replaced while written", s->path,
		         s->tmp);
		statefile_enc_free(sn.enc);
		close(fd);
		return -EBUSY;
	}
	if (rename(s->tmp, s->path) < 0) {
		r = -errno;
		goto fail;
	}
	count = statefile_enc_count(sn.enc);
	statefile_enc_free(sn.enc);
	close(fd);
	/* The rename itself is durable only once the directory is. */
	dfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) < 0) {
		r = -errno;
		snprintf(msg, msglen, "saved %s, but cannot fsync directory %s: %s", s->path,
		         s->dir, strerror(-r));
		if (dfd >= 0)
			close(dfd);
		return r;
	}
	close(dfd);
	snprintf(msg, msglen, "saved %" PRIu64 " entries to %s", count, s->path);
	return 0;
fail:
	snprintf(msg, msglen, "cannot save %s: %s %s: %s", s->path, step, s->tmp, strerror(-r));
	statefile_enc_free(sn.enc);
	if (still(s->tmp, &st))
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
	s->held = false; /* PATH is a save of ours now */
}

/*
 * In the child: 0-2 and @keep stay open, nothing else of the daemon's. The
 * queue's netlink socket above all: the kernel keeps a queue bound while any
 * process holds it, so a child stuck on a hung file system would keep
 * --queue-bypass from applying after the daemon is gone, and the next start
 * from binding the queue.
 */
static void child_close_fds(int keep)
{
	for (int fd = 3; fd < keep; fd++)
		(void)close(fd);
#if STATE_HAVE_CLOSEFROM
	(void)closefrom(keep + 1);
#else
	struct rlimit rl;
	long max = sysconf(_SC_OPEN_MAX);

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur > (rlim_t)max)
		max = rl.rlim_cur > INT_MAX ? INT_MAX : (long)rl.rlim_cur;
	if (max < 0)
		max = 1 << 20;
	for (long fd = keep + 1; fd < max; fd++)
		(void)close((int)fd);
#endif
}

/*
 * Forks the writer of the whitelist as it is @now; it is killed when still
 * running at @deadline. Returns 0, or a negative errno with the reason in
 * @err (nothing counted, nothing logged).
 */
static int spawn(struct state *s, const struct mx *mx, const struct config *c, uint64_t changes,
                 mxa_time now, mxa_time deadline, char *err, size_t errlen)
{
	struct timespec t0, t1;
	sigset_t all, old;
	int64_t wall;
	int p[2], e;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0) {
		e = errno;
		snprintf(err, errlen, "cannot save %s: pipe: %s", s->path, strerror(e));
		return -e;
	}
	/* No handler of the loop's may run in the child: signals wait until it reset them. */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	/* The wall clock of @now: the child may run much later (nice 10). */
	wall = wall_now();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = fork();
	if (pid == 0) {
		struct sigaction dfl = {.sa_handler = SIG_DFL};
		char msg[512];
		int r;

		for (int sig = 1; sig < NSIG; sig++)
			(void)sigaction(sig, &dfl, NULL);
		sigprocmask(SIG_SETMASK, &old, NULL);
		child_close_fds(p[1]);
		child_give_way();
		r = write_snapshot(s, mx_whitelist(mx), c, now, wall, msg, sizeof(msg));
		if (write(p[1], msg, strlen(msg)) < 0)
			_exit(2);
		_exit(r < 0 ? 1 : 0);
	}
	e = errno;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		snprintf(err, errlen, "cannot save %s: fork: %s", s->path, strerror(e));
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
	s->child_deadline = deadline;
	s->child_killed = false;
	s->child_final = false;
	return 0;
}

/* How long a save of @mx's whitelist may take, in seconds. */
static mxa_time save_budget(const struct mx *mx)
{
	mxa_time t = (mxa_time)(whitelist_size(mx_whitelist(mx)) / STATE_ENTRIES_PER_SECOND);

	return t > STATE_DEADLINE_MIN ? t : STATE_DEADLINE_MIN;
}

int state_save_start(struct state *s, const struct mx *mx, const struct config *c, uint64_t changes,
                     mxa_time now)
{
	char err[512];
	int r;

	if (s->child > 0)
		return -EBUSY;
	s->last_start = now;
	s->save_due = false;
	r = spawn(s, mx, c, changes, now,
	          now + (c->save_interval > save_budget(mx) ? (mxa_time)c->save_interval
	                                                    : save_budget(mx)),
	          err, sizeof(err));
	if (r < 0) {
		s->stats.save_errors++;
		log_msg(LOG_ERR, "state: %s", err);
	}
	return r;
}

/*
 * Accounts for the child that ended (@r and @status from waitpid()).
 * @exiting: a child ended by SIGTERM or SIGINT is expected (a service
 * manager signals the whole group at a stop), and the last save follows.
 */
static void child_ended(struct state *s, pid_t r, int status, bool exiting)
{
	char msg[512];
	ssize_t n;

	n = read(s->child_pipe, msg, sizeof(msg) - 1);
	msg[n > 0 ? n : 0] = 0;
	close(s->child_pipe);
	s->child_pipe = -1;
	s->child = -1;
	if (r > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		save_done(s, s->child_changes, s->child_started);
		if (s->child_final)
			log_msg(LOG_NOTICE, "state: %s", msg);
		return;
	}
	if (s->child_killed)
		return; /* counted and logged when it was killed */
	if (exiting && r > 0 && WIFSIGNALED(status) &&
	    (WTERMSIG(status) == SIGTERM || WTERMSIG(status) == SIGINT))
		return;
	s->stats.save_errors++;
	if (msg[0])
		log_msg(LOG_ERR, "state: %s", msg);
	else if (r > 0 && WIFSIGNALED(status))
		log_msg(LOG_ERR, "state: cannot save %s: the writing process died of signal %d",
		        s->path, WTERMSIG(status));
	else
		log_msg(LOG_ERR, "state: cannot save %s: the writing process failed", s->path);
}

/* Accounts for the child if it has ended; true when it has (or is no longer ours). */
static bool child_poll(struct state *s, bool exiting)
{
	int status = 0;
	pid_t r;

	do
		r = waitpid(s->child, &status, WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return false;
	child_ended(s, r, status, exiting);
	return true;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits at most @ms for the child to end; true when it did. Off the loop's path only. */
static bool child_wait(struct state *s, int64_t ms, bool exiting)
{
	struct timespec step = {.tv_nsec = 1000 * 1000};
	int64_t end = mono_ms() + ms;

	for (;;) {
		if (child_poll(s, exiting))
			return true;
		if (mono_ms() >= end)
			return false;
		(void)nanosleep(&step, NULL);
		if (step.tv_nsec < 32 * 1000 * 1000)
			step.tv_nsec *= 2; /* 1 ms at first: a small save ends at once */
	}
}

/* SIGKILL; the child is then reaped when it ends, its outcome already accounted for. */
static void child_kill(struct state *s)
{
	(void)kill(s->child, SIGKILL);
	s->child_killed = true;
}

/* A background save past its deadline: one error, one line, and the child killed. */
static void child_overdue(struct state *s)
{
	s->stats.save_errors++;
	log_msg(LOG_ERR,
	        "state: cannot save %s: the writing process did not finish within %" PRId64
	        " s (a hung file system?): killed; the file keeps the previous save",
	        s->path, s->child_deadline - s->child_started);
	child_kill(s);
}

/*
 * At exit (and when freed): a save under way gets STATE_EXIT_WAIT_MS to
 * finish, then it is killed; a killed one is waited for STATE_KILL_WAIT_MS,
 * then left behind (stuck in the kernel).
 */
static void child_finish(struct state *s)
{
	if (!s->child_killed) {
		if (child_wait(s, STATE_EXIT_WAIT_MS, true))
			return;
		log_msg(LOG_NOTICE,
		        "state: the save under way did not finish within %d s of the exit: killed",
		        STATE_EXIT_WAIT_MS / 1000);
		child_kill(s);
	}
	if (!child_wait(s, STATE_KILL_WAIT_MS, true))
		log_msg(
		    LOG_WARNING,
		    "state: the writing process %ld does not end (stuck in the kernel on a hung "
		    "file system?): left behind",
		    (long)s->child);
}

int state_save_wait(struct state *s, mxa_time now)
{
	uint64_t errors = s->stats.save_errors;

	if (s->child > 0 && !s->child_killed &&
	    !child_wait(s, s->child_deadline > now ? (s->child_deadline - now) * 1000 : 0, false))
		child_overdue(s);
	if (s->child > 0 && s->child_killed)
		(void)child_wait(s, STATE_KILL_WAIT_MS, false);
	return s->stats.save_errors == errors && s->child <= 0 ? 0 : -EIO;
}

void state_tick(struct state *s, const struct mx *mx, const struct config *c, uint64_t changes,
                mxa_time now)
{
	if (!s || !s->armed)
		return;
	if (s->child > 0 && !child_poll(s, false)) {
		/* No wait here: the loop goes on, the killed child is reaped on a later tick. */
		if (!s->child_killed && now >= s->child_deadline)
			child_overdue(s);
		return;
	}
	if (s->saved_valid && changes == s->changes_saved) {
		s->current_since = now; /* nothing to write: the file is current */
		return;
	}
	if (!s->save_due && now - s->last_start < (mxa_time)c->save_interval)
		return;
	(void)state_save_start(s, mx, c, changes, now);
}

int state_save_final(struct state *s, const struct mx *mx, const struct config *c, uint64_t changes,
                     mxa_time now)
{
	char msg[512];
	int r;

	if (!s || !s->armed)
		return 0;
	if (s->child > 0)
		child_finish(s);
	if (s->saved_valid && changes == s->changes_saved)
		return 0;
	if (s->child > 0) {
		/* It holds PATH.tmp locked: no second writer can save. */
		s->stats.save_errors++;
		log_msg(LOG_ERR,
		        "state: cannot save %s: the writing process %ld is stuck with %s; the file "
		        "keeps the previous save",
		        s->path, (long)s->child, s->tmp);
		return -EBUSY;
	}
	/* A child as while running: a hung file system holds up the exit a bounded time only. */
	r = spawn(s, mx, c, changes, now, now + save_budget(mx), msg, sizeof(msg));
	if (r == 0) {
		s->child_final = true;
		if (!child_wait(s, save_budget(mx) * 1000, true)) {
			child_overdue(s);
			child_finish(s);
		}
		return s->saved_valid && changes == s->changes_saved ? 0 : -EIO;
	}
	/* No process for it (out of memory, a process limit): the daemon writes it itself. */
	r = write_snapshot(s, mx_whitelist(mx), c, now, wall_now(), msg, sizeof(msg));
	if (r < 0) {
		s->stats.save_errors++;
		log_msg(LOG_ERR, "state: %s", msg);
		return r;
	}
	save_done(s, changes, now);
	log_msg(LOG_NOTICE, "state: %s", msg);
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
