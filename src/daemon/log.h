/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <syslog.h>

/* Logs to syslog (facility daemon) or, with @to_stdout, one line per message on stdout. */
void log_open(bool to_stdout, bool quiet);
void log_set_quiet(bool quiet);
void log_close(void);

/* Or-ed into a level: log even with -q (answers to an explicit request, like SIGUSR1). */
#define LOG_FORCE 0x1000

/* Whether a message of @level would be written: lets hot paths skip formatting. */
bool log_enabled(int level);

/* @level is a syslog priority (LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO). */
__attribute__((format(printf, 2, 3))) void log_msg(int level, const char *fmt, ...);
