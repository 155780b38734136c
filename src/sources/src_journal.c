/* src_journal.c: reading sshd's entries with sd-journal (see src_journal.h).
 * A field is copied into a bounded buffer; a MESSAGE longer than the
 * engine takes (ENGINE_MAX_LINE) is skipped whole and counted, as a file's
 * line that long is: never cut (a piece could end in text an attacker
 * chose). */
#include "sources/src_journal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include "common/xalloc.h"
#include "detect/engine.h"
#include "detect/journal_fmt.h"

struct journal_source {
	sd_journal *j;
	journal_event_fn on_event;
	void *arg;
	char *cursor;              /* of the last delivered entry */
	uint64_t entries, oversized;
	char msg[ENGINE_MAX_LINE + 1];
	char prog[256];
	char host[256];
	char line[ENGINE_MAX_LINE + 300];
};

static int fail(char *err, size_t errlen, const char *what, int r)
{
	snprintf(err, errlen, "journal: %s: %s", what, strerror(-r));
	return -1;
}

/* Field NAME's value (after "NAME="), or NULL when absent. */
static const char *field(sd_journal *j, const char *name, size_t *len)
{
	const void *data;
	size_t n, prefix = strlen(name) + 1;
	if (sd_journal_get_data(j, name, &data, &n) < 0 || n < prefix)
		return NULL;
	*len = n - prefix;
	return (const char *)data + prefix;
}

enum copied { FIELD_ABSENT, FIELD_TOO_LONG, FIELD_COPIED };

/* Copies field NAME into dst (cap bytes, its NUL included); *len is its length. */
static enum copied copy_field(sd_journal *j, const char *name, char *dst, size_t cap, size_t *len)
{
	*len = 0;
	size_t n = 0;
	const char *v = field(j, name, &n);
	if (!v)
		return FIELD_ABSENT;
	if (n >= cap)
		return FIELD_TOO_LONG;
	memcpy(dst, v, n);
	dst[n] = '\0';
	*len = n;
	return FIELD_COPIED;
}

static int64_t number_field(sd_journal *j, const char *name)
{
	size_t len;
	const char *v = field(j, name, &len);
	return v ? journal_decimal(v, len) : -1;
}

static bool entry_trusted(sd_journal *j, const char *prog, size_t prog_len)
{
	size_t tlen = 0, clen = 0;
	const char *transport = field(j, "_TRANSPORT", &tlen);
	const char *comm = field(j, "_COMM", &clen);
	return journal_identity_trusted(transport, tlen, comm, clen, prog, prog_len);
}

/* The current entry as an event; false when it has no usable MESSAGE (one
 * too long is counted). An identifier or host name too long for its
 * buffer is taken as absent. */
static bool entry_event(struct journal_source *js, struct log_event *ev)
{
	size_t msg_len, prog_len, host_len;
	enum copied msg = copy_field(js->j, "MESSAGE", js->msg, sizeof(js->msg), &msg_len);
	bool has_prog = copy_field(js->j, "SYSLOG_IDENTIFIER", js->prog, sizeof(js->prog), &prog_len) == FIELD_COPIED;
	copy_field(js->j, "_HOSTNAME", js->host, sizeof(js->host), &host_len);
	uint64_t usec;
	js->oversized += msg == FIELD_TOO_LONG;
	if (msg != FIELD_COPIED)
		return false;
	memset(ev, 0, sizeof(*ev));
	ev->msg = js->msg;
	ev->msg_len = msg_len;
	ev->prog = js->prog;
	ev->prog_len = prog_len;
	ev->host = js->host;
	ev->host_len = host_len;
	ev->pid = number_field(js->j, "_PID");
	ev->ts_format = TS_EPOCH_US;
	ev->time_us = sd_journal_get_realtime_usec(js->j, &usec) == 0 && usec < 100000000000000000ULL
			      ? (int64_t)usec : LOG_TIME_UNSET;
	ev->has_header = has_prog && prog_len > 0 && entry_trusted(js->j, js->prog, prog_len);
	return true;
}

static void remember_cursor(struct journal_source *js)
{
	char *c = NULL;
	if (sd_journal_get_cursor(js->j, &c) >= 0) {
		free(js->cursor);
		js->cursor = c;
	}
}

int journal_source_process(struct journal_source *js, char *err, size_t errlen)
{
	int r = sd_journal_process(js->j);
	if (r < 0)
		return fail(err, errlen, "process", r);
	while ((r = sd_journal_next(js->j)) > 0) {
		struct log_event ev;
		remember_cursor(js);
		js->entries++;
		if (!entry_event(js, &ev))
			continue;
		int n = snprintf(js->line, sizeof(js->line), "%.*s[%lld]: %.*s", (int)ev.prog_len, ev.prog,
				 (long long)ev.pid, (int)ev.msg_len, ev.msg);
		js->on_event(js->arg, &ev, js->line, n > 0 && (size_t)n < sizeof(js->line) ? (size_t)n : 0);
	}
	return r < 0 ? fail(err, errlen, "next", r) : 0;
}

static int add_matches(sd_journal *j, const struct journal_config *cfg, char *err, size_t errlen)
{
	for (size_t i = 0; i < cfg->nidentifiers; i++) {
		char m[300];
		snprintf(m, sizeof(m), "SYSLOG_IDENTIFIER=%s", cfg->identifiers[i]);
		int r = sd_journal_add_match(j, m, 0);
		if (r < 0)
			return fail(err, errlen, "add match", r);
	}
	return 0;
}

/* Where reading starts: after the cursor, else the start or the end. */
static int position(struct journal_source *js, const struct journal_config *cfg, char *err, size_t errlen)
{
	int r;
	if (cfg->cursor && *cfg->cursor) {
		if ((r = sd_journal_seek_cursor(js->j, cfg->cursor)) < 0)
			return fail(err, errlen, "seek to cursor", r);
		/* The first entry at or after the cursor's place: the cursor's own
		 * entry while it exists, else (its file deleted while pactod was
		 * down) the first entry after it, not delivered yet. */
		if ((r = sd_journal_next(js->j)) < 0)
			return fail(err, errlen, "step to the cursor", r);
		/* None: the position stays the cursor's place, and entries written
		 * later, after it, are read when they come. */
		if (r == 0)
			return 0;
		/* An error here says nothing about which entry this is: guessing
		 * would skip one entry or repeat another, so it is reported, as a
		 * cursor that cannot be sought is. */
		if ((r = sd_journal_test_cursor(js->j, cfg->cursor)) < 0)
			return fail(err, errlen, "test the cursor", r);
		/* The cursor's own entry was delivered before: the next read steps
		 * over it. */
		if (r > 0)
			return 0;
		/* A later entry: step back so that the next read returns it. */
		if ((r = sd_journal_previous(js->j)) < 0)
			return fail(err, errlen, "step back from the cursor", r);
		/* Nothing older: previous() then leaves the position on that entry,
		 * and the next read would skip it (the first new entry was lost).
		 * It is the first entry that matches, so reading from the head
		 * returns it first. */
		if (r == 0 && (r = sd_journal_seek_head(js->j)) < 0)
			return fail(err, errlen, "seek head", r);
		return 0;
	}
	if (cfg->from_start)
		return (r = sd_journal_seek_head(js->j)) < 0 ? fail(err, errlen, "seek head", r) : 0;
	if ((r = sd_journal_seek_tail(js->j)) < 0)
		return fail(err, errlen, "seek tail", r);
	/* seek_tail leaves the position after the last entry only once stepped
	 * back onto it: the next read returns the entry after it. */
	if ((r = sd_journal_previous(js->j)) < 0)
		return fail(err, errlen, "step back from the tail", r);
	/* No entry to step back onto (the journal empty, or none of its entries
	 * matches): the position stays "tail", and a read from "tail" returns
	 * the LAST matching entry, so of several entries written before the
	 * first read only the last was delivered. No entry that matches exists
	 * now, so any that the head finds later is new: reading from the head
	 * delivers each, the first first. */
	if (r == 0 && (r = sd_journal_seek_head(js->j)) < 0)
		return fail(err, errlen, "seek head", r);
	return 0;
}

int journal_source_open(const struct journal_config *cfg, struct journal_source **out, char *err, size_t errlen)
{
	struct journal_source *js = xcalloc(1, sizeof(*js));
	js->on_event = cfg->on_event;
	js->arg = cfg->arg;
	int r = cfg->directory ? sd_journal_open_directory(&js->j, cfg->directory, 0)
			       : sd_journal_open(&js->j, SD_JOURNAL_LOCAL_ONLY | SD_JOURNAL_SYSTEM);
	if (r < 0) {
		free(js);
		return fail(err, errlen, cfg->directory ? cfg->directory : "open", r);
	}
	if (add_matches(js->j, cfg, err, errlen) != 0 || position(js, cfg, err, errlen) != 0 ||
	    sd_journal_get_fd(js->j) < 0) {
		if (!*err)
			snprintf(err, errlen, "journal: no descriptor to watch");
		journal_source_close(js);
		return -1;
	}
	*out = js;
	return 0;
}

void journal_source_close(struct journal_source *js)
{
	if (!js)
		return;
	sd_journal_close(js->j);
	free(js->cursor);
	free(js);
}

int journal_source_fd(struct journal_source *js)
{
	return sd_journal_get_fd(js->j);
}

bool journal_source_cursor(struct journal_source *js, char *buf, size_t len)
{
	if (!js->cursor || strlen(js->cursor) >= len)
		return false;
	strcpy(buf, js->cursor);
	return true;
}

uint64_t journal_source_entries(const struct journal_source *js)
{
	return js->entries;
}

uint64_t journal_source_oversized(const struct journal_source *js)
{
	return js->oversized;
}

bool journal_source_available(void)
{
	return access("/run/systemd/journal", F_OK) == 0 || access("/var/log/journal", F_OK) == 0;
}
