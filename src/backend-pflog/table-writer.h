/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once
/*
 * What each kernel table writer provides to table.c, which dispatches the
 * public table.h API through it. One ops table per writer, each in its own
 * file: table-ipset.c, table-nft.c, table-pf.c; a writer that cannot be built
 * here is a *-fallback.c whose open() explains why (chosen in meson).
 * struct table_writer is each writer's own state, defined in its file.
 */
#include "table.h"

struct table_writer;

struct table_ops {
	const char *name; /* "ipset", "nft", "pf": the value of table-writer */
	struct table_writer *(*open)(const struct table_params *p, char *err, size_t errlen);
	struct table_writer *(*close)(struct table_writer *w, bool clean_exit); /* NULL */
	int (*add)(struct table_writer *w, const mxa_addr *a, uint32_t timeout);
	int (*del)(struct table_writer *w, const mxa_addr *a);
	int (*commit)(struct table_writer *w, char *err, size_t errlen);
	int (*resync)(struct table_writer *w, table_entries_fn entries, void *ctx, char *err,
	              size_t errlen);
	bool (*resync_needed)(const struct table_writer *w);
	const struct table_stats *(*stats)(const struct table_writer *w);
	const char *(*describe)(const struct table_writer *w);
	/* table_set_static(); NULL: the writer has no static table (refused). */
	int (*set_static)(struct table_writer *w, const struct netset *s, char *err, size_t errlen);
	/* table_time_left(); NULL: the writer cannot tell (-EOPNOTSUPP). */
	int (*time_left)(struct table_writer *w, const mxa_addr *a, uint32_t *left);
	int (*learn)(struct table_writer *w); /* table_learn(); NULL: nothing to learn */
	/* table_adopted_left(); NULL: the writer takes nothing over (0). */
	int (*adopted_left)(const struct table_writer *w, const mxa_addr *a, uint32_t *left);
};

extern const struct table_ops table_ipset_ops;
extern const struct table_ops table_nft_ops;
extern const struct table_ops table_pf_ops;
