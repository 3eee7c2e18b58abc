/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The Public Suffix List behind trust.c: trust-psl.c with libpsl, or
 * trust-psl-fallback.c without it (meson option psl), chosen in meson.
 */
#include <stddef.h>

/* The newest PSL data (libpsl's built-in or the system's file), or NULL without libpsl. */
void *trust_psl_load(void);
void trust_psl_release(void *psl);

/*
 * Registrable domain of @name (lower case, no trailing dot) into @out.
 * 0, -ENOENT (a public suffix, or no registrable domain), -ENAMETOOLONG,
 * -ENOTSUP (@psl NULL).
 */
int trust_psl_registrable(const void *psl, const char *name, char *out, size_t len);

/* @name (lower case, no trailing dot) is a public suffix: 1, 0, or -ENOTSUP (@psl NULL). */
int trust_psl_is_suffix(const void *psl, const char *name);
