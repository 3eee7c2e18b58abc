/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The table.h API over the writer chosen at run time (table-writer): a
 * lookup by name in the writers of this build, then one indirect call per
 * operation. Writers not built here are fallbacks that refuse to open.
 */
#include "table-writer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef TABLE_DEFAULT_WRITER
#define TABLE_DEFAULT_WRITER "none"
#endif

struct table {
	const struct table_ops *ops;
	struct table_writer *w;
};

static const struct table_ops *const writers[] = {&table_ipset_ops, &table_nft_ops, &table_pf_ops};

const char *table_default_writer(void)
{
	return TABLE_DEFAULT_WRITER;
}

struct table *table_open(const struct table_params *p, char *err, size_t errlen)
{
	const char *name = p->writer ? p->writer : table_default_writer();
	const struct table_ops *ops = NULL;
	struct table *t;

	for (size_t i = 0; i < sizeof(writers) / sizeof(writers[0]); i++)
		if (strcmp(writers[i]->name, name) == 0)
			ops = writers[i];
	if (!ops) {
		snprintf(err, errlen,
		         "table: no kernel table writer '%s' (table-writer is ipset, nft or pf; "
		         "this build's default is %s)",
		         name, table_default_writer());
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(err, errlen, "table: out of memory");
		return NULL;
	}
	t->ops = ops;
	t->w = ops->open(p, err, errlen);
	if (!t->w) {
		free(t);
		return NULL;
	}
	return t;
}

struct table *table_close(struct table *t, bool clean_exit)
{
	if (t) {
		(void)t->ops->close(t->w, clean_exit);
		free(t);
	}
	return NULL;
}

int table_add(struct table *t, const mxa_addr *a, uint32_t timeout)
{
	return t->ops->add(t->w, a, timeout);
}

int table_del(struct table *t, const mxa_addr *a)
{
	return t->ops->del(t->w, a);
}

int table_commit(struct table *t, char *err, size_t errlen)
{
	return t->ops->commit(t->w, err, errlen);
}

int table_resync(struct table *t, table_entries_fn entries, void *ctx, char *err, size_t errlen)
{
	return t->ops->resync(t->w, entries, ctx, err, errlen);
}

bool table_resync_needed(const struct table *t)
{
	return t->ops->resync_needed(t->w);
}

const struct table_stats *table_stats(const struct table *t)
{
	return t->ops->stats(t->w);
}

const char *table_describe(const struct table *t)
{
	return t->ops->describe(t->w);
}

const char *table_writer_name(const struct table *t)
{
	return t->ops->name;
}

int table_set_static(struct table *t, const struct netset *s, char *err, size_t errlen)
{
	if (!t->ops->set_static) {
		snprintf(err, errlen,
		         "%s: this table writer cannot hold the allow lists (allow, allow-file) "
		         "in the kernel: use table-writer ipset, nft or pf",
		         t->ops->name);
		return -ENOTSUP;
	}
	return t->ops->set_static(t->w, s, err, errlen);
}

int table_time_left(struct table *t, const mxa_addr *a, uint32_t *left)
{
	return t->ops->time_left ? t->ops->time_left(t->w, a, left) : -EOPNOTSUPP;
}

int table_adopted_left(const struct table *t, const mxa_addr *a, uint32_t *left)
{
	return t->ops->adopted_left ? t->ops->adopted_left(t->w, a, left) : 0;
}

int table_learn(struct table *t)
{
	return t->ops->learn ? t->ops->learn(t->w) : 0;
}
