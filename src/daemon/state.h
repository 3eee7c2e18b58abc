/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The state file (state-file, save-interval): the whitelist loaded at start
 * and saved while running and at exit, in the format of src/core/statefile.h.
 *
 * Saves never stop the packet path: a forked child writes the snapshot that
 * fork() froze (copy-on-write) and _exit()s; the loop only pays for fork()
 * itself and reaps the child on its 1 s tick. The child holds none of the
 * daemon's descriptors, and one still writing after its deadline (60 s and
 * 10 s per million entries, or save-interval if longer) is killed and
 * counted as a failed save (a hung file system). At exit the last save is a
 * child too, with the same deadline but save-interval. Every write is atomic:
 * PATH.tmp created new in the same directory (O_EXCL, mode 0600, locked, so
 * two writers never share it), fsync, rename to PATH, fsync of the directory.
 *
 * Loading never fails the start: a file that is damaged, truncated, of
 * another version or unreadable, or that memory ran out for, is logged in
 * one line, renamed to PATH.corrupt, and whatever validated is loaded and
 * saved at the first tick. A file that was not loaded whole is never
 * written over: one that stays at PATH (it could not be renamed, or belongs
 * to another user) makes every save fail until it is moved away.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "mx.h"

struct state;

struct state_stats {
	uint64_t saves;         /* good saves since start */
	uint64_t save_errors;   /* failed saves (fork, write, fsync, rename, past the deadline) */
	uint64_t age;           /* seconds the file has been behind the whitelist; 0: up to date */
	uint64_t loaded;        /* entries loaded at start */
	uint64_t fork_usec;     /* how long the last fork() held the loop, in microseconds */
	uint64_t fork_usec_max; /* the longest since start */
};

/**
 * state_new() - the state file configured in @c. *@out is NULL when there is
 * none: state-file none, or the default path whose directory does not exist
 * or is refused (a warning). A directory that others than its owner may
 * write (without the sticky bit) or that belongs to a user who is neither
 * root nor the daemon's is refused: an error for a path that is not the
 * default, as a missing directory, or a path that is a directory.
 * Returns 0, or a negative errno with one line in @err.
 */
int state_new(const struct config *c, struct state **out, char *err, size_t errlen);

/* Waits for a save under way a bounded time (then kills it), frees. Returns NULL. */
struct state *state_free(struct state *s);

/* The directory the daemon writes into (for the sandbox), NULL when none. */
const char *state_dir(const struct state *s);

/**
 * state_load() - read the file at start, before the whitelist exists: keeps
 * the live entries (deadline after @now), at most @c->max_entries (those
 * with the latest deadlines; the memory is bounded by max-entries however
 * large the file), on the core's clock, deadlines no further ahead than the
 * longest lifetime @c gives. A file owned by another user than root or the
 * daemon's is not loaded. Logs one line either way.
 */
void state_load(struct state *s, const struct config *c, mxa_time now);

/* The earliest time the whitelist must be able to hold (last uses of loaded entries). */
mxa_time state_epoch(const struct state *s, mxa_time now);

/**
 * state_restore() - put the loaded entries into @mx (through its sink, so a
 * kernel table learns them) and free them. Returns how many went in.
 */
size_t state_restore(struct state *s, struct mx *mx, mxa_time now);

/**
 * state_arm() - from now on, @changes (a count the caller increases on every
 * whitelist change) tells when a save is due; the file counts as holding
 * what is in the whitelist now when it loaded without a problem. After a
 * load that set the file aside the first tick saves.
 */
void state_arm(struct state *s, uint64_t changes, mxa_time now);

/*
 * The loop's tick: reaps a finished save, kills one past its deadline,
 * starts one when due and something changed. Never waits.
 */
void state_tick(struct state *s, const struct mx *mx, const struct config *c, uint64_t changes,
                mxa_time now);

/**
 * state_save_final() - at exit: waits for a save under way (10 s at most,
 * then kills it), then writes the whitelist unless the file already holds
 * it, through a child waited for 60 s at most (10 s per million entries for
 * a larger whitelist; the daemon itself writes when it cannot fork).
 * Returns 0 or a negative errno (logged).
 */
int state_save_final(struct state *s, const struct mx *mx, const struct config *c, uint64_t changes,
                     mxa_time now);

/**
 * state_save_start() - start a background save now (fork). Returns 0, -EBUSY
 * when one is under way, or a negative errno (logged). For the tick and the
 * benchmarks.
 */
int state_save_start(struct state *s, const struct mx *mx, const struct config *c, uint64_t changes,
                     mxa_time now);

/*
 * Waits for a background save under way until its deadline (then kills it)
 * and accounts for it. Returns 0 or -EIO.
 */
int state_save_wait(struct state *s, mxa_time now);

void state_stats(const struct state *s, mxa_time now, struct state_stats *out);
