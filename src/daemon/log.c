/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>

/* Set once at start-up (and by SIGHUP for quiet); read by every log call. */
static struct {
	bool to_stdout;
	bool quiet;
	bool open;
} log_state;

void log_open(bool to_stdout, bool quiet)
{
	log_state.to_stdout = to_stdout;
	log_state.quiet = quiet;
	if (!to_stdout && !log_state.open) {
		openlog("mxallowd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
		log_state.open = true;
	}
}

void log_set_quiet(bool quiet)
{
	log_state.quiet = quiet;
}

void log_close(void)
{
	if (log_state.open)
		closelog();
	log_state.open = false;
}

static const char *level_name(int level)
{
	switch (level) {
	case LOG_EMERG:
	case LOG_ALERT:
	case LOG_CRIT:
	case LOG_ERR:
		return "error";
	case LOG_WARNING:
		return "warning";
	case LOG_NOTICE:
		return "notice";
	case LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

bool log_enabled(int level)
{
	return !log_state.quiet || (level & LOG_FORCE) || level <= LOG_ERR;
}

void log_msg(int level, const char *fmt, ...)
{
	va_list ap;

	if (!log_enabled(level))
		return;
	level &= ~LOG_FORCE;
	va_start(ap, fmt);
	if (log_state.to_stdout) {
		printf("mxallowd: %s: ", level_name(level));
		vprintf(fmt, ap);
		putchar('\n');
		fflush(stdout);
	} else {
		vsyslog(level, fmt, ap);
	}
	va_end(ap);
}
