/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The administrator's static allow lists: `allow NETWORK` keys and
 * `allow-file PATH` files of one network per line, read into one netset.
 */
#include <stdio.h>

#include "config.h"
#include "netset.h"

/* Longest line of an allow-file. */
#define ALLOWFILE_LINE_MAX 4096

/**
 * allowfile_parse_line() - one line of an allow-file, modified in place: a
 * network (ADDR or ADDR/BITS), or nothing (blank, or a `#` comment, which may
 * also follow the network). Returns 1 with the network in @net and @prefix, 0
 * for nothing, or -EINVAL with the reason in @why (no place).
 */
int allowfile_parse_line(char *line, mxa_addr *net, unsigned *prefix, char *why, size_t whylen);

/**
 * allowfile_read() - add the networks of the stream @f, named @name in
 * errors and as the networks' source, to @set. Returns 0, or a negative
 * errno with one line "NAME:LINE: ..." in @err (the set then holds part of
 * the file: throw it away).
 */
int allowfile_read(struct netset *set, FILE *f, const char *name, char *err, size_t errlen);

/**
 * allowfile_build() - a finished set from the `allow` networks and the
 * `allow-file` files of @c (NULL in *@out when there are none). Nothing is
 * kept unless everything parsed. Returns 0, or a negative errno with one line
 * in @err naming the file and line (or the place of the key that named a file
 * that cannot be read).
 */
int allowfile_build(const struct config *c, struct netset **out, char *err, size_t errlen);
