/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The OpenBSD sandbox as data: which paths stay visible and which promises
 * stay, from what the configuration turns on. sandbox-openbsd.c explains
 * each promise; this file only decides which apply.
 */
#include "sandbox-plan.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

/* Read again by a reload's fresh resolver (libevent's evdns). */
static const char *const resolver_files[] = {"/etc/resolv.conf", "/etc/hosts"};

/* Adds @path with @perm, or merges @perm into an entry of the same path. */
static void add(struct sandbox_plan *plan, const char *path, const char *perm)
{
	static const char order[] = "rwxc";
	struct sandbox_unveil *u = NULL;
	char merged[sizeof(u->perm)];
	size_t n = 0;

	if (!path || !*path)
		return;
	for (size_t i = 0; i < plan->n_unveil && !u; i++)
		if (strcmp(plan->unveil[i].path, path) == 0)
			u = &plan->unveil[i];
	if (!u) {
		u = &plan->unveil[plan->n_unveil++];
		u->path = path;
		u->perm[0] = 0;
	}
	for (const char *o = order; *o; o++)
		if (strchr(u->perm, *o) || strchr(perm, *o))
			merged[n++] = *o;
	merged[n] = 0;
	memcpy(u->perm, merged, n + 1);
}

int sandbox_plan_build(const struct sandbox_paths *p, struct sandbox_plan *plan)
{
	size_t n_allow = p->allow_files ? p->allow_files->n : 0;
	size_t cap = 5 + n_allow + sizeof(resolver_files) / sizeof(resolver_files[0]);
	bool saves = p->state_dir != NULL;
	bool cpath = p->pidfile || saves || p->control_socket;
	bool unix_sockets = p->control_socket || p->redis_socket;

	memset(plan, 0, sizeof(*plan));
	plan->unveil = calloc(cap, sizeof(*plan->unveil));
	if (!plan->unveil)
		return -ENOMEM;
	add(plan, p->config, "r");
	for (size_t i = 0; i < n_allow; i++)
		add(plan, p->allow_files->v[i].spec, "r");
	add(plan, p->pidfile, "c");
	/* The tmp file is made, locked, written, renamed over the file; the directory fsynced. */
	add(plan, p->state_dir, "rwc");
	add(plan, p->control_socket, "c");
	/* connect(2) on a UNIX socket needs "w" on its path. */
	add(plan, p->redis_socket, "rw");
	for (size_t i = 0; i < sizeof(resolver_files) / sizeof(resolver_files[0]); i++)
		add(plan, resolver_files[i], "r");
	snprintf(plan->promises, sizeof(plan->promises), "stdio rpath%s%s%s inet%s%s bpf pf",
	         saves ? " wpath" : "", cpath ? " cpath" : "", saves ? " flock" : "",
	         unix_sockets ? " unix" : "", saves ? " proc" : "");
	return 0;
}

void sandbox_plan_clear(struct sandbox_plan *plan)
{
	free(plan->unveil);
	memset(plan, 0, sizeof(*plan));
}
