/* test_journal.c: the journal source on real journal files, written by
 * systemd-journal-remote from export format: wanted identifiers only, the
 * trust rule, resuming after a cursor (also when the cursor's entry was
 * removed meanwhile), reading from the end (only entries written after
 * start, each once, also when the journal is empty or none of its entries
 * is wanted), entries of a file that appears later, a MESSAGE too long
 * for the engine (counted as oversized, the next entries still read). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "detect/engine.h"
#include "sources/src_journal.h"

#define REMOTE "/lib/systemd/systemd-journal-remote"

static char dir[64];

struct got {
	char msgs[32][160];
	bool trusted[32];
	int64_t pid[32];
	size_t len[32];
	size_t n;
};

static void on_event(void *arg, struct log_event *ev, const char *line, size_t len)
{
	struct got *g = arg;
	(void)line;
	(void)len;
	if (g->n == 32)
		return;
	snprintf(g->msgs[g->n], sizeof(g->msgs[0]), "%.*s", (int)ev->msg_len, ev->msg);
	g->trusted[g->n] = ev->has_header;
	g->len[g->n] = ev->msg_len;
	g->pid[g->n++] = ev->pid;
}

/* Writes entries (IDENT, COMM, TRANSPORT, MESSAGE) into DIR/remote-NAME.journal. */
static void write_journal(const char *name, const char *const entries[][4], size_t n)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), REMOTE " -o %s/remote-%s.journal - 2>/dev/null", dir, name);
	FILE *p = popen(cmd, "w");
	assert_non_null(p);
	static unsigned long long seq = 1;
	for (size_t i = 0; i < n; i++, seq++)
		fprintf(p, "__CURSOR=s=0;i=%llu\n__REALTIME_TIMESTAMP=%llu\n__MONOTONIC_TIMESTAMP=%llu\n"
			"_BOOT_ID=0123456789abcdef0123456789abcdef\n_HOSTNAME=h\n_PID=%zu\nSYSLOG_IDENTIFIER=%s\n"
			"_COMM=%s\n_TRANSPORT=%s\nMESSAGE=%s\n\n",
			seq, 1795737600000000ULL + seq * 1000000, seq, 100 + i, entries[i][0], entries[i][1],
			entries[i][2], entries[i][3]);
	assert_int_equal(pclose(p), 0);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/pacto-journal-XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static const char *const ids[] = {"sshd", "sshd-session"};

static struct journal_source *open_source(struct got *g, const char *cursor, bool from_start)
{
	struct journal_config cfg = {.directory = dir, .identifiers = ids, .nidentifiers = 2, .cursor = cursor,
				     .from_start = from_start, .on_event = on_event, .arg = g};
	struct journal_source *js;
	char err[256];
	if (journal_source_open(&cfg, &js, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	return js;
}

static void test_entries_and_trust(void **state)
{
	(void)state;
	static const char *const e[][4] = {
		{"sshd", "sshd", "syslog", "Failed password for root from 192.0.2.7 port 1 ssh2"},
		{"cron", "cron", "syslog", "session opened"},
		{"sshd", "logger", "syslog", "Failed password for root from 192.0.2.99 port 1 ssh2"},
		{"sshd", "sshd", "stdout", "Failed password for root from 192.0.2.98 port 1 ssh2"},
		{"sshd-session", "sshd-session", "journal", "Invalid user x from 192.0.2.7 port 2"},
	};
	write_journal("a", e, 5);
	struct got g = {0};
	struct journal_source *js = open_source(&g, NULL, true);
	char err[256];
	assert_int_equal(journal_source_process(js, err, sizeof(err)), 0);
	assert_int_equal(g.n, 4);                     /* cron is not matched */
	assert_true(g.trusted[0]);
	assert_false(g.trusted[1]);                   /* _COMM=logger: logger -t sshd */
	assert_false(g.trusted[2]);                   /* _TRANSPORT=stdout */
	assert_true(g.trusted[3]);
	assert_string_equal(g.msgs[3], "Invalid user x from 192.0.2.7 port 2");
	assert_int_equal(g.pid[0], 100);
	journal_source_close(js);
}

static void test_cursor_and_new_files(void **state)
{
	(void)state;
	static const char *const first[][4] = {
		{"sshd", "sshd", "syslog", "one"}, {"sshd", "sshd", "syslog", "two"},
	};
	static const char *const later[][4] = {{"sshd", "sshd", "syslog", "three"}};
	write_journal("a", first, 2);
	struct got g = {0};
	struct journal_source *js = open_source(&g, NULL, true);
	char err[256], cursor[512];
	assert_int_equal(journal_source_process(js, err, sizeof(err)), 0);
	assert_int_equal(g.n, 2);
	assert_true(journal_source_cursor(js, cursor, sizeof(cursor)));
	journal_source_close(js);
	/* Resuming after the cursor delivers nothing twice, and new entries once. */
	write_journal("b", later, 1);
	struct got g2 = {0};
	js = open_source(&g2, cursor, false);
	assert_int_equal(journal_source_process(js, err, sizeof(err)), 0);
	assert_int_equal(g2.n, 1);
	assert_string_equal(g2.msgs[0], "three");
	journal_source_close(js);
	/* Without a cursor and from the end: nothing old. */
	struct got g3 = {0};
	js = open_source(&g3, NULL, false);
	assert_int_equal(journal_source_process(js, err, sizeof(err)), 0);
	assert_int_equal(g3.n, 0);
	journal_source_close(js);
}

/* Reads everything from the start; returns the cursor of the last entry. */
static void read_all_cursor(size_t expect, char *cursor, size_t len)
{
	struct got g = {0};
	struct journal_source *js = open_source(&g, NULL, true);
	char err[256];
	assert_int_equal(journal_source_process(js, err, sizeof(err)), 0);
	assert_int_equal(g.n, expect);
	assert_true(journal_source_cursor(js, cursor, len));
	journal_source_close(js);
}

static void remove_journal(const char *name)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/remote-%s.journal", dir, name);
	assert_int_equal(unlink(path), 0);
}

/* The saved cursor's entry was removed while pactod was down (its file
 * deleted, as vacuuming does): every entry after the cursor's place is still
 * read, the first one too. Stepping back from the first later entry found
 * nothing older, and that entry was then skipped as if it were the cursor's. */
static void test_cursor_of_removed_entry(void **state)
{
	(void)state;
	static const char *const first[][4] = {
		{"sshd", "sshd", "syslog", "one"}, {"sshd", "sshd", "syslog", "two"},
	};
	static const char *const later[][4] = {
		{"sshd", "sshd", "syslog", "three"}, {"sshd", "sshd", "syslog", "four"},
		{"sshd", "sshd", "syslog", "five"},
	};
	char err[256], cursor[512];
	write_journal("a", first, 2);
	read_all_cursor(2, cursor, sizeof(cursor));
	remove_journal("a");
	write_journal("b", later, 3);
	struct got g = {0};
	struct journal_source *js = open_source(&g, cursor, false);
	assert_int_equal(journal_source_process(js, err, sizeof(err)), 0);
	assert_int_equal(g.n, 3);
	assert_string_equal(g.msgs[0], "three");
	assert_string_equal(g.msgs[2], "five");
	journal_source_close(js);
}

/* The same with an older entry left in another file: stepping back lands
 * on it, and reading starts after it, at the first entry past the cursor. */
static void test_cursor_removed_older_kept(void **state)
{
	(void)state;
	static const char *const old[][4] = {{"sshd", "sshd", "syslog", "zero"}};
	static const char *const first[][4] = {{"sshd", "sshd", "syslog", "one"}};
	static const char *const later[][4] = {
		{"sshd", "sshd", "syslog", "two"}, {"sshd", "sshd", "syslog", "three"},
	};
	char err[256], cursor[512];
	write_journal("a", old, 1);
	write_journal("b", first, 1);
	read_all_cursor(2, cursor, sizeof(cursor));
	remove_journal("b");
	write_journal("c", later, 2);
	struct got g = {0};
	struct journal_source *js = open_source(&g, cursor, false);
	assert_int_equal(journal_source_process(js, err, sizeof(err)), 0);
	assert_int_equal(g.n, 2);
	assert_string_equal(g.msgs[0], "two");
	assert_string_equal(g.msgs[1], "three");
	journal_source_close(js);
}

/* Nothing at or after the cursor's place (its entry removed, none newer):
 * nothing is read at start, and entries written afterwards, in a new file,
 * are read when they come, none of them lost. */
static void test_cursor_past_every_entry(void **state)
{
	(void)state;
	static const char *const first[][4] = {
		{"sshd", "sshd", "syslog", "one"}, {"sshd", "sshd", "syslog", "two"},
	};
	static const char *const later[][4] = {
		{"sshd", "sshd", "syslog", "three"}, {"sshd", "sshd", "syslog", "four"},
	};
	char err[256], cursor[512];
	write_journal("a", first, 2);
	read_all_cursor(2, cursor, sizeof(cursor));
	remove_journal("a");
	struct got g = {0};
	struct journal_source *js = open_source(&g, cursor, false);
	assert_int_equal(journal_source_process(js, err, sizeof(err)), 0);
	assert_int_equal(g.n, 0);
	write_journal("b", later, 2);
	assert_int_equal(journal_source_process(js, err, sizeof(err)), 0);
	assert_int_equal(g.n, 2);
	assert_string_equal(g.msgs[0], "three");
	assert_string_equal(g.msgs[1], "four");
	journal_source_close(js);
}

/* Delivers what is new and checks it is exactly WANT, in order. */
static void expect_new(struct journal_source *js, struct got *g, const char *const *want, size_t n)
{
	char err[256];
	g->n = 0;
	assert_int_equal(journal_source_process(js, err, sizeof(err)), 0);
	assert_int_equal(g->n, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(g->msgs[i], want[i]);
}

/* Without a cursor and not from the start, the journal directory empty:
 * an entry written later is read, then later ones once each. */
static void test_tail_empty_then_one(void **state)
{
	(void)state;
	static const char *const one[][4] = {{"sshd", "sshd", "syslog", "one"}};
	static const char *const more[][4] = {
		{"sshd", "sshd", "syslog", "two"}, {"sshd", "sshd", "syslog", "three"},
	};
	struct got g = {0};
	struct journal_source *js = open_source(&g, NULL, false);
	expect_new(js, &g, NULL, 0);
	write_journal("a", one, 1);
	expect_new(js, &g, (const char *const[]){"one"}, 1);
	write_journal("a", more, 2);
	expect_new(js, &g, (const char *const[]){"two", "three"}, 2);
	expect_new(js, &g, NULL, 0);
	journal_source_close(js);
}

/* The same with several entries written before the first read: every one
 * is read, the first first. Nothing before the tail left the position at
 * the tail, and the first read then returned only the last entry. */
static void test_tail_empty_then_several(void **state)
{
	(void)state;
	static const char *const e[][4] = {
		{"sshd", "sshd", "syslog", "one"}, {"sshd", "sshd", "syslog", "two"},
		{"sshd", "sshd", "syslog", "three"},
	};
	struct got g = {0};
	struct journal_source *js = open_source(&g, NULL, false);
	write_journal("a", e, 3);
	expect_new(js, &g, (const char *const[]){"one", "two", "three"}, 3);
	expect_new(js, &g, NULL, 0);
	journal_source_close(js);
}

/* Entries at start: none of them is read, the last one neither; entries
 * appended to the same file afterwards are read once each. */
static void test_tail_existing_entries(void **state)
{
	(void)state;
	static const char *const old[][4] = {
		{"sshd", "sshd", "syslog", "old1"}, {"sshd", "sshd", "syslog", "old2"},
	};
	static const char *const new1[][4] = {{"sshd", "sshd", "syslog", "new1"}};
	static const char *const new2[][4] = {
		{"sshd", "sshd", "syslog", "new2"}, {"sshd", "sshd", "syslog", "new3"},
	};
	write_journal("a", old, 2);
	struct got g = {0};
	struct journal_source *js = open_source(&g, NULL, false);
	expect_new(js, &g, NULL, 0);
	write_journal("a", new1, 1);
	expect_new(js, &g, (const char *const[]){"new1"}, 1);
	write_journal("a", new2, 2);
	expect_new(js, &g, (const char *const[]){"new2", "new3"}, 2);
	journal_source_close(js);
}

/* The last entries at start are not wanted (other programs): the position
 * is after the last wanted one, and only wanted entries written afterwards
 * are read. */
static void test_tail_last_entries_unmatched(void **state)
{
	(void)state;
	static const char *const old[][4] = {
		{"sshd", "sshd", "syslog", "old1"}, {"cron", "cron", "syslog", "x"},
		{"cron", "cron", "syslog", "y"},
	};
	static const char *const later[][4] = {
		{"sshd", "sshd", "syslog", "new1"}, {"cron", "cron", "syslog", "z"},
		{"sshd-session", "sshd-session", "syslog", "new2"},
	};
	write_journal("a", old, 3);
	struct got g = {0};
	struct journal_source *js = open_source(&g, NULL, false);
	expect_new(js, &g, NULL, 0);
	write_journal("a", later, 3);
	expect_new(js, &g, (const char *const[]){"new1", "new2"}, 2);
	journal_source_close(js);
}

/* No entry at start is wanted at all: as with an empty journal, every
 * wanted entry written afterwards is read, the first first. */
static void test_tail_no_entry_matched(void **state)
{
	(void)state;
	static const char *const old[][4] = {
		{"cron", "cron", "syslog", "x"}, {"cron", "cron", "syslog", "y"},
	};
	static const char *const later[][4] = {
		{"sshd", "sshd", "syslog", "new1"}, {"cron", "cron", "syslog", "z"},
		{"sshd", "sshd", "syslog", "new2"}, {"sshd", "sshd", "syslog", "new3"},
	};
	write_journal("a", old, 2);
	struct got g = {0};
	struct journal_source *js = open_source(&g, NULL, false);
	expect_new(js, &g, NULL, 0);
	write_journal("a", later, 4);
	expect_new(js, &g, (const char *const[]){"new1", "new2", "new3"}, 3);
	journal_source_close(js);
}

/* A journal file that appears after start (rotation): its entries are read,
 * the old file's are not. */
static void test_tail_new_file(void **state)
{
	(void)state;
	static const char *const old[][4] = {
		{"sshd", "sshd", "syslog", "old1"}, {"sshd", "sshd", "syslog", "old2"},
	};
	static const char *const b[][4] = {
		{"sshd", "sshd", "syslog", "new1"}, {"sshd", "sshd", "syslog", "new2"},
	};
	static const char *const c[][4] = {{"sshd", "sshd", "syslog", "new3"}};
	write_journal("a", old, 2);
	struct got g = {0};
	struct journal_source *js = open_source(&g, NULL, false);
	expect_new(js, &g, NULL, 0);
	write_journal("b", b, 2);
	expect_new(js, &g, (const char *const[]){"new1", "new2"}, 2);
	write_journal("c", c, 1);
	expect_new(js, &g, (const char *const[]){"new3"}, 1);
	journal_source_close(js);
}

/* A MESSAGE longer than the engine takes (ENGINE_MAX_LINE, as a file's
 * line): skipped, as before, but counted as oversized as a file's line
 * is (it was skipped without a trace); the entries after it are read. One
 * of exactly ENGINE_MAX_LINE bytes is delivered whole. */
static void test_oversized_message_counted(void **state)
{
	(void)state;
	char *longest = malloc(ENGINE_MAX_LINE + 1), *over = malloc(ENGINE_MAX_LINE + 2);
	assert_non_null(longest);
	assert_non_null(over);
	memset(longest, 'x', ENGINE_MAX_LINE);
	longest[ENGINE_MAX_LINE] = '\0';
	memset(over, 'y', ENGINE_MAX_LINE + 1);
	over[ENGINE_MAX_LINE + 1] = '\0';
	const char *const e[][4] = {
		{"sshd", "sshd", "syslog", "before"}, {"sshd", "sshd", "syslog", longest},
		{"sshd", "sshd", "syslog", over}, {"sshd", "sshd", "syslog", "after"},
	};
	write_journal("a", e, 4);
	struct got g = {0};
	struct journal_source *js = open_source(&g, NULL, true);
	char err[256];
	assert_int_equal(journal_source_process(js, err, sizeof(err)), 0);
	assert_int_equal(g.n, 3);
	assert_string_equal(g.msgs[0], "before");
	assert_int_equal(g.len[1], ENGINE_MAX_LINE);
	assert_string_equal(g.msgs[2], "after");
	assert_int_equal(journal_source_entries(js), 4);
	assert_int_equal(journal_source_oversized(js), 1);
	journal_source_close(js);
	free(longest);
	free(over);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_entries_and_trust, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cursor_and_new_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cursor_of_removed_entry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cursor_removed_older_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cursor_past_every_entry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tail_empty_then_one, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tail_empty_then_several, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tail_existing_entries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tail_last_entries_unmatched, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tail_no_entry_matched, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tail_new_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversized_message_counted, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
