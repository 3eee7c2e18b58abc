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

/*
 * Token bucket: on average @rate events a second, in bursts of at most @burst,
 * on the caller's millisecond clock. Spreads rDNS lookups over the second
 * instead of letting a whole second's budget go at once. @rate 0: no limit.
 */
struct tokenbucket {
	uint32_t rate;
	uint32_t burst;
	uint64_t milli; /* saved tokens, in thousandths */
	int64_t last_ms;
	uint64_t refused; /* events refused, in total */
};

/* A full bucket. */
void tokenbucket_init(struct tokenbucket *tb, uint32_t rate, uint32_t burst, int64_t now_ms);

/* New rate and burst (a reload); the saved tokens stay, up to the new burst. */
void tokenbucket_set(struct tokenbucket *tb, uint32_t rate, uint32_t burst);

/* True when a token was there (and is taken); false counts a refusal. */
bool tokenbucket_take(struct tokenbucket *tb, int64_t now_ms);
