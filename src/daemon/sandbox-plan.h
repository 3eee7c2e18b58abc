/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>

#include "sandbox.h"

/*
 * What OpenBSD's sandbox_restrict() unveils and pledges, derived from the
 * configuration alone: pure, so it is built and unit-tested on every system
 * (tests/unit/test_sandbox_plan.c) though only sandbox-openbsd.c applies it.
 */

struct sandbox_unveil {
	const char *path; /* borrowed from the sandbox_paths the plan was built from */
	char perm[5];     /* unveil(2) permissions: some of "rwxc" */
};

struct sandbox_plan {
	char promises[128]; /* the pledge(2) promise set, space-separated */
	struct sandbox_unveil *unveil;
	size_t n_unveil;
};

/**
 * sandbox_plan_build() - the unveil list and promise set for @p: every path
 * once (the permissions of a path named twice are merged), the resolver's
 * files, and a promise for each thing the running daemon still does (see
 * sandbox-openbsd.c for why each). Returns 0 or -ENOMEM; release the plan
 * with sandbox_plan_clear().
 */
int sandbox_plan_build(const struct sandbox_paths *p, struct sandbox_plan *plan);

void sandbox_plan_clear(struct sandbox_plan *plan);
