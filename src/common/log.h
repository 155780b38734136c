/* log.h: the one logging interface of pacto.
 * Why: every message goes through one place, format-checked, so that the
 * level is checked before formatting and errno survives a log call.
 * Guarantees: log_* never change errno; fatal*() do not return. */
#ifndef PACTO_LOG_H
#define PACTO_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

/* Sets the program name shown before each message and the lowest level shown. */
void log_init(const char *progname, enum log_level level);
void log_set_level(enum log_level level);

/* Sends messages to syslog (the journal) instead of stderr: a daemon that
 * left its terminal. */
void log_to_syslog(const char *ident);
bool log_enabled(enum log_level level);

#define LOG_PRINTF(f, a) __attribute__((format(printf, f, a)))

void log_warn(const char *fmt, ...) LOG_PRINTF(1, 2);   /* adds ": strerror(errno)" */
void log_warnx(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_info(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_debug(const char *fmt, ...) LOG_PRINTF(1, 2);
_Noreturn void fatal(const char *fmt, ...) LOG_PRINTF(1, 2);  /* adds strerror */
_Noreturn void fatalx(const char *fmt, ...) LOG_PRINTF(1, 2);

/* Writes s to f as text a terminal only shows: control characters (C0,
 * DEL, C1) and bytes that are not UTF-8 are written as \xHH. Why: messages
 * quote rule files, treaties, log lines and names from the network; an
 * escape sequence in one must not repaint or rewrite the user's terminal.
 * Messages to stderr go through it (syslog escapes on its own). */
void put_printable(FILE *f, const char *s);
void put_printable_n(FILE *f, const char *s, size_t len);   /* the same for len bytes */

/* An internal contract: reports file:line and ends the process. */
#define PACTO_ASSERT(cond) \
	((cond) ? (void)0 : fatalx("assertion failed at %s:%d: %s", __FILE__, __LINE__, #cond))

#endif
