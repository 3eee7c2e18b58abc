/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdint.h>

/* Seconds on a clock chosen by the caller; the core never reads a clock. */
typedef int64_t mxa_time;
