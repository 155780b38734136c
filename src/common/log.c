/* log.c: messages to stderr, with a level filter.
 * Why: one format-checked path for every message (see log.h).
 * Never: changes errno in a log_* call. */
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "common/utf8.h"

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

/* A C1 control (U+0080-U+009F): some terminals act on them as on ESC [. */
static bool c1_control(const unsigned char *p, size_t n)
{
	return n == 2 && p[0] == 0xc2 && p[1] < 0xa0;
}

void put_printable(FILE *f, const char *s)
{
	put_printable_n(f, s, strlen(s));
}

void put_printable_n(FILE *f, const char *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		const unsigned char *p = (const unsigned char *)s + i;
		size_t n = utf8_len(p, len - i);
		if (n == 0 || *p < 0x20 || *p == 0x7f || c1_control(p, n)) {
			for (size_t k = 0; k < (n ? n : 1); k++)
				fprintf(f, "\\x%02x", p[k]);
			i += n ? n : 1;
			continue;
		}
		fwrite(p, 1, n, f);
		i += n;
	}
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
	} else {
		flockfile(stderr);   /* one message, one line, whatever other threads write */
		fprintf(stderr, "%s: ", log_progname);
		put_printable(stderr, msg);
		if (errnum)
			fprintf(stderr, ": %s", strerror(errnum));
		fputc('\n', stderr);
		funlockfile(stderr);
	}
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
