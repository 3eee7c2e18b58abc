/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "trust-psl.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <libpsl.h>

void *trust_psl_load(void)
{
	/* libpsl's built-in list, or the system's (publicsuffix package) when newer. */
	psl_ctx_t *psl = psl_latest(NULL);

	return psl ? (void *)psl : (void *)psl_builtin();
}

void trust_psl_release(void *psl)
{
	/* psl_free() leaves the built-in context alone. */
	psl_free(psl);
}

int trust_psl_registrable(const void *psl, const char *name, char *out, size_t len)
{
	const char *d;

	if (!psl)
		return -ENOTSUP;
	d = psl_registrable_domain(psl, name);
	if (!d)
		return -ENOENT;
	if (strlen(d) >= len)
		return -ENAMETOOLONG;
	memcpy(out, d, strlen(d) + 1);
	return 0;
}

int trust_psl_is_suffix(const void *psl, const char *name)
{
	if (!psl)
		return -ENOTSUP;
	/* Both sections (ICANN and private), and the "*" rule: as psl_registrable_domain(). */
	return psl_is_public_suffix(psl, name) ? 1 : 0;
}
