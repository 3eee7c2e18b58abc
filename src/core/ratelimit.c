/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "ratelimit.h"

bool ratelimit_allow(struct ratelimit *rl, mxa_time now)
{
	if (now != rl->second) {
		rl->second = now;
		rl->used = 0;
	}
	if (rl->used < rl->per_second) {
		rl->used++;
		return true;
	}
	rl->suppressed++;
	return false;
}

uint64_t ratelimit_flush(struct ratelimit *rl)
{
	uint64_t n = rl->suppressed;

	rl->suppressed = 0;
	return n;
}

void tokenbucket_init(struct tokenbucket *tb, uint32_t rate, uint32_t burst, int64_t now_ms)
{
	tb->rate = rate;
	tb->burst = burst ? burst : 1;
	tb->milli = (uint64_t)tb->burst * 1000;
	tb->last_ms = now_ms;
	tb->refused = 0;
}

void tokenbucket_set(struct tokenbucket *tb, uint32_t rate, uint32_t burst)
{
	tb->rate = rate;
	tb->burst = burst ? burst : 1;
	if (tb->milli > (uint64_t)tb->burst * 1000)
		tb->milli = (uint64_t)tb->burst * 1000;
}

bool tokenbucket_take(struct tokenbucket *tb, int64_t now_ms)
{
	uint64_t full = (uint64_t)tb->burst * 1000;

	if (tb->rate == 0)
		return true;
	if (now_ms > tb->last_ms) {
		/* rate tokens a second = rate thousandths a millisecond; capped against overflow */
		uint64_t elapsed = (uint64_t)(now_ms - tb->last_ms);

		if (elapsed > 10000000)
			elapsed = 10000000;
		tb->milli += elapsed * tb->rate;
		if (tb->milli > full)
			tb->milli = full;
	}
	/* A clock going back (it should not) just refills nothing. */
	tb->last_ms = now_ms;
	if (tb->milli >= 1000) {
		tb->milli -= 1000;
		return true;
	}
	tb->refused++;
	return false;
}
