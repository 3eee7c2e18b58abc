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
