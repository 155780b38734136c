/* log.c: messages to stderr, with a level filter.
 * Why: one format-checked path for every message (see log.h).
 * Never: changes errno in a log_* call. */
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

static const char *log_progname = "pacto";
static enum log_level log_level = LOG_LEVEL_INFO;
static bool log_syslog;

void log_init(const char *progname, enum log_level level)
{
	log_progname = progname;
	log_level = level;
}

void log_to_syslog(const char *ident)
{
	openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	log_syslog = true;
}

void log_set_level(enum log_level level)
{
	log_level = level;
}

bool log_enabled(enum log_level level)
{
	return level <= log_level;
}

static void log_vprint(enum log_level level, int errnum, const char *fmt, va_list ap)
{
	if (!log_enabled(level))
		return;
	int saved = errno;
	char msg[2048];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_syslog) {
		static const int priority[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
		if (errnum)
			syslog(priority[level], "%s: %s", msg, strerror(errnum));
		else
			syslog(priority[level], "%s", msg);
	} else if (errnum)
		fprintf(stderr, "%s: %s: %s\n", log_progname, msg, strerror(errnum));
	else
		fprintf(stderr, "%s: %s\n", log_progname, msg);
	errno = saved;
}

#define LOG_BODY(level, errnum)            \
	do {                                   \
		va_list ap;                        \
		va_start(ap, fmt);                 \
		log_vprint(level, errnum, fmt, ap); \
		va_end(ap);                        \
	} while (0)

void log_warn(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_WARN, errno);
}

void log_warnx(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_WARN, 0);
}

void log_info(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_INFO, 0);
}

void log_debug(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_DEBUG, 0);
}

void fatal(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_ERROR, errno);
	exit(1);
}

void fatalx(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_ERROR, 0);
	exit(1);
}
