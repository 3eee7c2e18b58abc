/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "mxtime.h"

/*
 * At most @per_second events in each second of the caller's clock; the rest
 * are counted. Keeps per-packet log lines from flooding syslog under a SYN
 * flood while the totals stay known.
 */
struct ratelimit {
	uint32_t per_second;
	uint32_t used;
	mxa_time second;
	uint64_t suppressed; /* refused since the last ratelimit_flush() */
};

/* True when one more event fits into the second @now. */
bool ratelimit_allow(struct ratelimit *rl, mxa_time now);

/* The events refused since the last call; resets the count. */
uint64_t ratelimit_flush(struct ratelimit *rl);
