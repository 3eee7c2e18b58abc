/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>
#include <stdio.h>

#include "mx.h"

/**
 * replay_file() - read the capture @path (pflog, nflog, raw IP, ethernet or
 * linux-sll; pcap or pcapng) and drive a fresh core with @p, using the
 * records' timestamps as the clock. Changes no kernel state and makes no DNS
 * lookups (rDNS siblings are not replayed). Prints to @out one line per
 * decision and whitelist change, then a `stats` line. @filter as for
 * capture_open_file() (NULL: default).
 * Returns 0, or a negative errno with a one-line reason in @err (for a file
 * that is truncated midway, after printing what was read).
 */
int replay_file(const char *path, const char *filter, const struct mx_params *p, size_t capacity,
                FILE *out, char *err, size_t errlen);
