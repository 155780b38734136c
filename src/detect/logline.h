/* logline.h: one log line split into header fields and message, and its time.
 * Why: every source (file, stdin, journal) ends up as a struct log_event, so
 * the matcher sees only a program name, a pid and sshd's own message text.
 * Guarantees: splitting never fails and never allocates; the event points
 * into the caller's buffer and lives as long as it. Times are parsed lazily,
 * only for lines that matter.
 * Never: does I/O or reads the clock (the reference time is passed in). */
#ifndef PACTO_LOGLINE_H
#define PACTO_LOGLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOG_TIME_UNSET INT64_MIN

enum ts_format {
	TS_NONE,      /* bare message (sshd -E, journalctl -o cat) */
	TS_SYSLOG,    /* "Nov 26 23:01:40[.frac]", local time, no year */
	TS_RFC3339,   /* "2026-11-27T00:13:10[.frac](Z|+hh:mm|+hhmm)" */
	TS_EPOCH_US,  /* already parsed (journal) */
};

struct log_event {
	int64_t time_us;        /* LOG_TIME_UNSET until logline_time() */
	const char *ts;
	size_t ts_len;
	enum ts_format ts_format;
	bool has_header;        /* a timestamp and "host prog[pid]:" were found */
	const char *host;
	size_t host_len;
	const char *prog;
	size_t prog_len;
	int64_t pid;            /* -1 when the line names none */
	const char *msg;
	size_t msg_len;
};

/* Splits line[0..len) (no newline) into ev. A line without a recognised
 * timestamp is a bare message; one with a timestamp but no "prog[pid]: "
 * part has has_header false and an empty program. */
void logline_split(const char *line, size_t len, struct log_event *ev);

/* The same in two steps, so that lines of programs nobody reads cost only
 * the first: logline_split_program() finds time, host and program
 * (has_header says whether it did; msg is then what follows the program),
 * and logline_split_rest() reads "[pid]: " and leaves msg on the message.
 * It returns false when the line is malformed there. */
void logline_split_program(const char *line, size_t len, struct log_event *ev);

/* logline_split_program() up to the program name: the time, the host, and
 * prog and msg where the name starts, msg_len to the line's end (prog
 * NULL when there is no host; has_header false). Whoever reads the name
 * from there must end it where logline_ends_program() says, as
 * dispatch_split_program() does. */
void logline_split_host(const char *line, size_t len, struct log_event *ev);

/* Whether byte c ends a program name in a header ('[', ':' or ' '). */
bool logline_ends_program(unsigned char c);
bool logline_split_rest(struct log_event *ev) __attribute__((warn_unused_result));

/* Turns classic syslog times (no year) into absolute ones: the first line
 * takes the year that puts it at most a day after the reference time, and
 * a jump of six months or more back (Dec -> Jan) moves to the next year. */
struct year_guess {
	int64_t reference_us;
	int year;
	int last_month;   /* 0 until the first line */
	/* The last minute parsed: lines of one minute share everything up to
	 * the seconds (measured: half the cost of replay's time parsing). */
	char minute[32];
	size_t minute_len;
	int64_t minute_us;
	/* Local times in the hour repeated when clocks go back (classic
	 * syslog): the first pass until time has moved past it, then the
	 * second; this is the last time parsed, to tell which. */
	int64_t last_us;
	bool last_ambiguous;   /* the last time parsed was in such an hour */
};

void year_guess_init(struct year_guess *yg, int64_t reference_us);

/* Parses ev->ts into ev->time_us. Returns 0, or -1 when the text is not a
 * valid time (ev->time_us stays LOG_TIME_UNSET). */
int logline_time(struct log_event *ev, struct year_guess *yg) __attribute__((warn_unused_result));

/* Parses a time that a server writes inside its own log lines (captured by
 * a rule's (?<time>...) group), into *out_us. latest_us is the latest time
 * known (or LOG_TIME_UNSET): in the hour repeated when clocks go back, a
 * local time is that hour's first pass unless latest_us is more than 30
 * minutes past it (as for classic syslog times). Three shapes:
 *   "27/Nov/2026:10:00:00 +0000"       the access-log time of nginx and Apache (%t)
 *   "Fri Nov 27 10:00:00[.frac] 2026"  ctime style, local time (vsftpd's log,
 *                                      Apache's error log); the day may be " 6"
 *   "2026-11-27 10:00:00"              local time (OpenVPN's --log file)
 * Returns 0, or -1 when the text is none of them (then *out_us is untouched). */
int logline_text_time(const char *s, size_t len, int64_t latest_us, int64_t *out_us)
	__attribute__((warn_unused_result));

/* Days since 1970-01-01 of a proleptic Gregorian date (month 1..12). */
int64_t days_from_civil(int64_t y, unsigned m, unsigned d);

/* Writes "2026-11-27T00:13:10Z" (UTC, whole seconds) into buf (>= 32 bytes). */
char *format_time_utc(int64_t time_us, char *buf, size_t len);

#endif
