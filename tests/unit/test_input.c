/* test_input.c: the input layer: line framing across buffer boundaries,
 * oversized lines, CRLF and a last line without newline (through a real
 * pipe), and journal entries in JSON and export form (text and binary
 * fields, malformed and truncated entries). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "detect/journal_fmt.h"
#include "sources/reader.h"

/* ---- lines ---- */

struct collected {
	char lines[16][160];
	uint64_t offsets[16];
	size_t n;
};

static void collect(void *arg, const char *line, size_t len, uint64_t offset)
{
	struct collected *c = arg;
	if (c->n < 16 && len < 160) {
		memcpy(c->lines[c->n], line, len);
		c->lines[c->n][len] = '\0';
		c->offsets[c->n++] = offset;
	}
}

/* Writes data into a pipe in pieces of `step` bytes from a child process,
 * and reads it back through reader_run() in lines. */
static void read_through_pipe(const char *data, size_t len, size_t step, size_t max_line,
			      struct collected *c, struct reader_stats *st)
{
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		for (size_t at = 0; at < len; at += step)
			if (write(fds[1], data + at, len - at < step ? len - at : step) < 0)
				_exit(1);
		_exit(0);
	}
	close(fds[1]);
	struct reader_lines rl = {.fn = collect, .arg = c, .max_line = max_line, .stats = st};
	assert_int_equal(reader_run(fds[0], reader_lines, &rl, st), 0);
	close(fds[0]);
	waitpid(pid, NULL, 0);
}

static void test_lines_split_anywhere(void **state)
{
	(void)state;
	const char data[] = "first\nsecond\n\nlast without newline";
	for (size_t step = 1; step <= 7; step++) {
		struct collected c = {0};
		struct reader_stats st = {0};
		/* an LF stream, cut by the pipe at every possible place */
		read_through_pipe(data, sizeof(data) - 1, step, 100, &c, &st);
		assert_int_equal(c.n, 4);
		assert_string_equal(c.lines[0], "first");
		assert_string_equal(c.lines[1], "second");
		assert_string_equal(c.lines[2], "");
		assert_string_equal(c.lines[3], "last without newline");
		assert_int_equal(c.offsets[1], 6);
		assert_int_equal(c.offsets[3], 14);
		assert_int_equal(st.bytes, sizeof(data) - 1);
	}
}

/* sshd -E: records end in CR LF and a user name can hold a raw LF; the LF
 * stays inside its record, so it cannot start a line of its own. */
static void test_crlf_records_keep_inner_lf(void **state)
{
	(void)state;
	const char data[] = "one\r\nUnable to negotiate with 192.0.2.2 port 1: offer a\n"
			    "Unable to negotiate with 192.0.2.99 port 22: x\r\nlast";
	for (size_t step = 1; step <= 9; step += 4) {
		struct collected c = {0};
		struct reader_stats st = {0};
		read_through_pipe(data, sizeof(data) - 1, step, 200, &c, &st);
		assert_int_equal(c.n, 3);
		assert_string_equal(c.lines[0], "one");
		assert_string_equal(c.lines[1], "Unable to negotiate with 192.0.2.2 port 1: offer a\n"
				    "Unable to negotiate with 192.0.2.99 port 22: x");
		assert_string_equal(c.lines[2], "last");
	}
}

static void test_oversized_lines_dropped_whole(void **state)
{
	(void)state;
	/* One line longer than max_line, and one longer than the whole buffer. */
	size_t big = READER_BUFFER * 2 + 10;
	char *data = malloc(big + 64);
	size_t n = 0;
	n += (size_t)sprintf(data + n, "a\n%s\n", "0123456789012345678901234567890");
	memset(data + n, 'x', big);
	n += big;
	n += (size_t)sprintf(data + n, "\nb\n");
	struct collected c = {0};
	struct reader_stats st = {0};
	read_through_pipe(data, n, 65536, 20, &c, &st);
	assert_int_equal(c.n, 2);
	assert_string_equal(c.lines[0], "a");
	assert_string_equal(c.lines[1], "b");
	assert_int_equal(st.oversized, 2);
	free(data);
}

/* ---- journal JSON ---- */

static void test_journal_json(void **state)
{
	(void)state;
	struct journal_store *st = malloc(sizeof(*st));
	struct log_event ev;
	const char *ok = "{\"__REALTIME_TIMESTAMP\":\"1795737601000000\",\"_PID\":\"42\",\"SYSLOG_IDENTIFIER\":\"sshd\","
			 "\"_HOSTNAME\":\"h\",\"MESSAGE\":\"Failed password\"}";
	assert_int_equal(journal_json_parse(ok, strlen(ok), st, &ev), 0);
	assert_int_equal(ev.pid, 42);
	assert_int_equal(ev.time_us, 1795737601000000LL);
	assert_int_equal(ev.msg_len, 15);
	assert_memory_equal(ev.prog, "sshd", 4);
	/* MESSAGE as bytes, for text that is not UTF-8 */
	const char *bytes = "{\"MESSAGE\":[72,105,255],\"SYSLOG_IDENTIFIER\":\"sshd\"}";
	assert_int_equal(journal_json_parse(bytes, strlen(bytes), st, &ev), 0);
	assert_int_equal(ev.msg_len, 3);
	assert_int_equal((unsigned char)ev.msg[2], 255);
	static const char *const bad[] = {
		"{", "[]", "{\"_PID\":\"1\"}", "{\"MESSAGE\":5}", "{\"MESSAGE\":[300]}",
		"{\"MESSAGE\":\"a\",\"MESSAGE\":\"b\"}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_int_equal(journal_json_parse(bad[i], strlen(bad[i]), st, &ev), -1);
	/* Identities the kernel does not vouch for name no program. */
	static const char *const untrusted[] = {
		"{\"MESSAGE\":\"x\",\"SYSLOG_IDENTIFIER\":\"sshd\",\"_TRANSPORT\":\"stdout\",\"_COMM\":\"sshd\"}",
		"{\"MESSAGE\":\"x\",\"SYSLOG_IDENTIFIER\":\"sshd\",\"_TRANSPORT\":\"syslog\",\"_COMM\":\"logger\"}",
	};
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(journal_json_parse(untrusted[i], strlen(untrusted[i]), st, &ev), 0);
		assert_false(ev.has_header);
	}
	const char *trusted = "{\"MESSAGE\":\"x\",\"SYSLOG_IDENTIFIER\":\"sshd-session\",\"_TRANSPORT\":\"syslog\",\"_COMM\":\"sshd-session\"}";
	assert_int_equal(journal_json_parse(trusted, strlen(trusted), st, &ev), 0);
	assert_true(ev.has_header);
	const char *huge = "{\"MESSAGE\":\"x\",\"__REALTIME_TIMESTAMP\":\"9223372036854775807\"}";
	assert_int_equal(journal_json_parse(huge, strlen(huge), st, &ev), 0);
	assert_true(ev.time_us == LOG_TIME_UNSET);
	/* A _PID that is not a number is no pid, not a guess. */
	const char *badpid = "{\"MESSAGE\":\"x\",\"_PID\":\"12a\"}";
	assert_int_equal(journal_json_parse(badpid, strlen(badpid), st, &ev), 0);
	assert_int_equal(ev.pid, -1);
	free(st);
}

/* ---- journal export ---- */

static size_t binary_field(char *out, const char *name, const char *data, size_t len)
{
	size_t n = (size_t)sprintf(out, "%s\n", name);
	for (int i = 0; i < 8; i++)
		out[n++] = (char)((uint64_t)len >> (8 * i));
	memcpy(out + n, data, len);
	n += len;
	out[n++] = '\n';
	return n;
}

static void test_journal_export(void **state)
{
	(void)state;
	struct journal_store *st = malloc(sizeof(*st));
	struct log_event ev;
	bool has;
	char buf[1024];
	size_t n = (size_t)sprintf(buf, "__CURSOR=s=1\n__REALTIME_TIMESTAMP=1795737601000000\n_PID=9\n"
				   "SYSLOG_IDENTIFIER=sshd\n");
	/* a binary MESSAGE holding a newline byte, and a binary length containing 0x0a */
	const char msg[] = "Failed password\nfor x";
	n += binary_field(buf + n, "MESSAGE", msg, sizeof(msg) - 1);
	char ten[10] = "0123456789";
	n += binary_field(buf + n, "OTHER", ten, 10);
	buf[n++] = '\n';
	size_t first = n;
	n += (size_t)sprintf(buf + n, "_PID=10\nMESSAGE=second\n\n");
	assert_true(journal_export_detect(buf, n));
	assert_int_equal(journal_export_parse(buf, n, false, st, &ev, &has), (long)first);
	assert_true(has);
	assert_int_equal(ev.msg_len, sizeof(msg) - 1);
	assert_memory_equal(ev.msg, msg, sizeof(msg) - 1);
	assert_int_equal(ev.pid, 9);
	assert_int_equal(ev.time_us, 1795737601000000LL);
	assert_int_equal(journal_export_parse(buf + first, n - first, false, st, &ev, &has), (long)(n - first));
	assert_int_equal(ev.pid, 10);
	/* incomplete: needs more input; at the end of input: refused whole */
	assert_int_equal(journal_export_parse(buf, first - 5, false, st, &ev, &has), 0);
	assert_true(journal_export_parse(buf, first - 5, true, st, &ev, &has) < 0);
	/* a malformed field name: skipped up to the next entry */
	const char *bad = "__CURSOR=x\nbad name=1\nMESSAGE=m\n\nMESSAGE=next\n\n";
	long r = journal_export_parse(bad, strlen(bad), false, st, &ev, &has);
	assert_int_equal(r, -(long)strlen("__CURSOR=x\nbad name=1\nMESSAGE=m\n\n"));
	/* a binary size past any sane bound is refused, not allocated */
	n = (size_t)sprintf(buf, "MESSAGE\n");
	memset(buf + n, 0x7f, 8);
	n += 8;
	buf[n++] = '\n';
	buf[n++] = '\n';
	assert_true(journal_export_parse(buf, n, true, st, &ev, &has) < 0);
	/* an entry without MESSAGE is fine and feeds nothing */
	const char *none = "_PID=1\n\n";
	assert_int_equal(journal_export_parse(none, strlen(none), false, st, &ev, &has), (long)strlen(none));
	assert_false(has);
	assert_false(journal_export_detect("Nov 27 00:00:00 h sshd[1]: x", 28));
	free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines_split_anywhere), cmocka_unit_test(test_crlf_records_keep_inner_lf),
		cmocka_unit_test(test_oversized_lines_dropped_whole),
		cmocka_unit_test(test_journal_json), cmocka_unit_test(test_journal_export),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
