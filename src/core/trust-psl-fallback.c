/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Built without libpsl: no registrable domains, so domain trust is off. */
#include "trust-psl.h"

#include <errno.h>

void *trust_psl_load(void)
{
	return NULL;
}

void trust_psl_release(void *psl)
{
	(void)psl;
}

int trust_psl_registrable(const void *psl, const char *name, char *out, size_t len)
{
	(void)psl;
	(void)name;
	(void)out;
	(void)len;
	return -ENOTSUP;
}

int trust_psl_is_suffix(const void *psl, const char *name)
{
	(void)psl;
	(void)name;
	return -ENOTSUP;
}
