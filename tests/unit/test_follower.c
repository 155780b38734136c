/* test_follower.c: following a log file through each rotation style with
 * real files: rename-and-create (with the old file still written after the
 * rename), copytruncate, delete-and-recreate; partial lines; start at the
 * end or the start; resume from a cursor, also from FILE.1; a first line
 * ending in CR LF, a read error, a path that cannot be opened; a file known
 * by its head: rewritten past where it was read, cut inside what was read,
 * the same lines under a new inode, and each of those while pactod was
 * down; a restart while the rotated file is still written; several
 * rotations between two wake-ups (and while pactod was down), also under
 * logrotate's dated names (dateext); a writer
 * that never reopens the path; the cursor's text. Each line must arrive
 * exactly once, in order. */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "sources/src_file.h"

struct got {
	char text[8192];    /* every line delivered, each followed by '|' */
	size_t n;
};

static void on_line(void *arg, const char *line, size_t len, uint64_t offset)
{
	(void)offset;
	struct got *g = arg;
	int w = snprintf(g->text + strlen(g->text), sizeof(g->text) - strlen(g->text), "%.*s|", (int)len, line);
	(void)w;
	g->n++;
}

struct fixture {
	char dir[64];
	char path[128];
	char rotated[140];
	unsigned grace_s;   /* 0: the follower's own */
	struct got got;
	struct follower *f;
};

static void append(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void start(struct fixture *fx, bool from_start, struct file_cursor cursor)
{
	struct follower_config cfg = {.path = fx->path, .from_start = from_start, .cursor = cursor,
				      .max_line = 100, .grace_s = fx->grace_s, .on_line = on_line, .arg = &fx->got};
	char err[256];
	assert_int_equal(follower_open(&cfg, &fx->f, err, sizeof(err)), 0);
}

static void process(struct fixture *fx)
{
	char err[256];
	assert_int_equal(follower_process(fx->f, err, sizeof(err)), 0);
}

/* follower_process() when it has something to report: -1, and err holds want. */
static void process_reports(struct fixture *fx, const char *want)
{
	char err[256] = "";
	assert_int_equal(follower_process(fx->f, err, sizeof(err)), -1);
	if (!strstr(err, want))
		fail_msg("'%s' does not say '%s'", err, want);
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/pacto-follow-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->path, sizeof(fx->path), "%s/auth.log", fx->dir);
	snprintf(fx->rotated, sizeof(fx->rotated), "%s.1", fx->path);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	follower_close(fx->f);
	DIR *d = opendir(fx->dir);
	for (struct dirent *e; d && (e = readdir(d));) {
		char name[400];
		snprintf(name, sizeof(name), "%s/%s", fx->dir, e->d_name);
		if (e->d_name[0] != '.')
			unlink(name);
	}
	if (d)
		closedir(d);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

static void test_from_end_then_new_lines(void **state)
{
	struct fixture *fx = *state;
	append(fx->path, "old 1\nold 2\nhalf of an old li");
	start(fx, false, (struct file_cursor){0});
	process(fx);
	assert_int_equal(fx->got.n, 0);
	append(fx->path, "ne\nnew 1\nnew ");
	process(fx);
	assert_string_equal(fx->got.text, "new 1|");   /* the old line's tail is not a line */
	append(fx->path, "2\n");
	process(fx);
	assert_string_equal(fx->got.text, "new 1|new 2|");
}

static void test_from_start(void **state)
{
	struct fixture *fx = *state;
	append(fx->path, "a\nb\n");
	start(fx, true, (struct file_cursor){0});
	process(fx);
	assert_string_equal(fx->got.text, "a|b|");
}

static void test_wakes_up_on_write(void **state)
{
	struct fixture *fx = *state;
	append(fx->path, "");
	start(fx, false, (struct file_cursor){0});
	append(fx->path, "x\n");
	struct pollfd p = {.fd = follower_fd(fx->f), .events = POLLIN};
	assert_int_equal(poll(&p, 1, 2000), 1);
	process(fx);
	assert_string_equal(fx->got.text, "x|");
}

static void test_rename_and_create(void **state)
{
	struct fixture *fx = *state;
	append(fx->path, "");
	start(fx, false, (struct file_cursor){0});
	append(fx->path, "1\n2\n");
	process(fx);
	assert_int_equal(rename(fx->path, fx->rotated), 0);
	append(fx->rotated, "3 written after the rename, before the reopen\n4 unfinished");
	process(fx);
	append(fx->path, "5 in the new file\n");
	process(fx);
	append(fx->rotated, " and finished\n");
	append(fx->path, "6\n");
	process(fx);
	assert_string_equal(fx->got.text, "1|2|3 written after the rename, before the reopen|5 in the new file|"
					  "4 unfinished and finished|6|");
	struct follower_stats st;
	follower_get_stats(fx->f, &st);
	assert_int_equal(st.rotations, 1);
}

static void test_copytruncate(void **state)
{
	struct fixture *fx = *state;
	append(fx->path, "");
	start(fx, false, (struct file_cursor){0});
	append(fx->path, "1\n2\n");
	process(fx);
	assert_int_equal(truncate(fx->path, 0), 0);
	append(fx->path, "3\n");
	process(fx);
	assert_string_equal(fx->got.text, "1|2|3|");
	struct follower_stats st;
	follower_get_stats(fx->f, &st);
	assert_int_equal(st.truncations, 1);
}

static void test_delete_and_recreate(void **state)
{
	struct fixture *fx = *state;
	append(fx->path, "");
	start(fx, false, (struct file_cursor){0});
	append(fx->path, "1\n");
	process(fx);
	assert_int_equal(unlink(fx->path), 0);
	process(fx);   /* gone: nothing to do, no error */
	append(fx->path, "2\n");
	process(fx);
	assert_string_equal(fx->got.text, "1|2|");
}

static void test_resume_from_cursor(void **state)
{
	struct fixture *fx = *state;
	append(fx->path, "");
	start(fx, false, (struct file_cursor){0});
	append(fx->path, "1\n2\npart");
	process(fx);
	struct file_cursor c = follower_cursor(fx->f);
	assert_true(c.valid);
	assert_int_equal(c.offset, 4);   /* just past "2\n": the partial line is not consumed */
	follower_close(fx->f);
	fx->f = NULL;
	append(fx->path, "ial\n3\n");
	start(fx, false, c);
	process(fx);
	assert_string_equal(fx->got.text, "1|2|partial|3|");
}

/* pactod reads the line "1" of a new file, then stops: its cursor. */
static struct file_cursor read_one_then_stop(struct fixture *fx)
{
	append(fx->path, "");
	start(fx, false, (struct file_cursor){0});
	append(fx->path, "1\n");
	process(fx);
	struct file_cursor c = follower_cursor(fx->f);
	follower_close(fx->f);
	fx->f = NULL;
	return c;
}

static void test_resume_after_rotation_while_down(void **state)
{
	struct fixture *fx = *state;
	struct file_cursor c = read_one_then_stop(fx);
	append(fx->path, "2 before the rotation\n");
	assert_int_equal(rename(fx->path, fx->rotated), 0);
	append(fx->path, "3 after\n");
	start(fx, false, c);
	process(fx);
	assert_string_equal(fx->got.text, "1|2 before the rotation|3 after|");
}

static void test_long_line_dropped_whole(void **state)
{
	struct fixture *fx = *state;
	append(fx->path, "");
	start(fx, false, (struct file_cursor){0});
	char big[400];
	memset(big, 'x', sizeof(big) - 2);
	big[sizeof(big) - 2] = '\n';
	big[sizeof(big) - 1] = '\0';
	append(fx->path, "a\n");
	append(fx->path, big);
	append(fx->path, "b\n");
	process(fx);
	assert_string_equal(fx->got.text, "a|b|");
	struct follower_stats st;
	follower_get_stats(fx->f, &st);
	assert_int_equal(st.oversized, 1);
}

static void test_symlink_refused(void **state)
{
	struct fixture *fx = *state;
	char target[160];
	snprintf(target, sizeof(target), "%s/other", fx->dir);
	append(target, "secret\n");
	assert_int_equal(symlink(target, fx->path), 0);
	start(fx, true, (struct file_cursor){0});
	process_reports(fx, "a symbolic link, which is not followed");
	process(fx);   /* said once */
	assert_int_equal(fx->got.n, 0);
	unlink(target);
}

/* One line ending in CR LF first made the file a CR LF stream for good:
 * every LF line after it waited for a CR LF that never came, and was
 * dropped with the rest as one line too long. */
static void test_crlf_first_then_lf_lines(void **state)
{
	struct fixture *fx = *state;
	append(fx->path, "");
	start(fx, false, (struct file_cursor){0});
	append(fx->path, "first\r\n");
	process(fx);
	assert_string_equal(fx->got.text, "first|");
	append(fx->path, "a\nb\n");   /* a CR LF stream could still end a record later */
	process(fx);
	assert_string_equal(fx->got.text, "first|");
	for (int i = 0; i < 20; i++) {   /* past max_line (100) + CR LF without a CR LF */
		char line[32];
		snprintf(line, sizeof(line), "line %02d\n", i);
		append(fx->path, line);
	}
	process_reports(fx, "lines end in LF after all");
	process(fx);
	assert_int_equal(fx->got.n, 23);
	assert_string_equal(fx->got.text + strlen("first|a|b|"),
			    "line 00|line 01|line 02|line 03|line 04|line 05|line 06|line 07|line 08|line 09|"
			    "line 10|line 11|line 12|line 13|line 14|line 15|line 16|line 17|line 18|line 19|");
	struct follower_stats st;
	follower_get_stats(fx->f, &st);
	assert_int_equal(st.oversized, 0);
}

/* A new file decides its own line ends: the last one's CR LF is not its rule. */
static void test_rotation_decides_line_ends_anew(void **state)
{
	struct fixture *fx = *state;
	append(fx->path, "");
	start(fx, false, (struct file_cursor){0});
	append(fx->path, "crlf\r\n");
	process(fx);
	assert_int_equal(rename(fx->path, fx->rotated), 0);
	append(fx->path, "x\ny\n");
	process(fx);
	assert_string_equal(fx->got.text, "crlf|x|y|");
}

/* Truncated and written again past where it was read before the follower
 * looked: only the size was compared, so reading went on from the old
 * offset, in the middle of the new text. */
static void test_rewritten_past_offset(void **state)
{
	struct fixture *fx = *state;
	append(fx->path, "");
	start(fx, false, (struct file_cursor){0});
	append(fx->path, "aaa\nbbb\n");
	process(fx);
	assert_int_equal(truncate(fx->path, 0), 0);
	append(fx->path, "ccc\nddd\neee\n");
	process(fx);
	assert_string_equal(fx->got.text, "aaa|bbb|ccc|ddd|eee|");
	struct follower_stats st;
	follower_get_stats(fx->f, &st);
	assert_int_equal(st.truncations, 1);
}

/* Cut inside what was read, its head intact (truncate -s): the lines kept
 * were read already; it was read again from its start. A file cut inside
 * its known head cannot be told from one emptied and written again: it is
 * read again (the lines counted twice rather than lost). */
static void test_cut_inside_what_was_read(void **state)
{
	struct fixture *fx = *state;
	char first[80];
	memset(first, 'h', 70);   /* a first line longer than the head */
	memcpy(first + 70, "\n", 2);
	append(fx->path, "");
	start(fx, false, (struct file_cursor){0});
	append(fx->path, first);
	append(fx->path, "2\n3\n");
	process(fx);
	assert_int_equal(truncate(fx->path, 73), 0);   /* the first line and "2\n" */
	process(fx);
	append(fx->path, "4\n");
	process(fx);
	assert_string_equal(fx->got.text + 71, "2|3|4|");
	assert_int_equal(fx->got.n, 4);
	assert_int_equal(truncate(fx->path, 10), 0);   /* inside the head */
	append(fx->path, "5\n");
	process(fx);
	assert_int_equal(fx->got.n, 5);
	assert_string_equal(fx->got.text + 71 + strlen("2|3|4|"), "hhhhhhhhhh5|");
}

/* The same lines under a new inode (sed -i, cp and mv): read on from where
 * they were left, not again as a new file. */
static void test_same_lines_new_inode(void **state)
{
	struct fixture *fx = *state;
	append(fx->path, "");
	start(fx, false, (struct file_cursor){0});
	append(fx->path, "1\n2\n");
	process(fx);
	char copy[160];
	snprintf(copy, sizeof(copy), "%s/copy", fx->dir);
	append(copy, "1\n2\n");
	assert_int_equal(rename(copy, fx->path), 0);
	process(fx);
	append(fx->path, "3\n");
	process(fx);
	assert_string_equal(fx->got.text, "1|2|3|");
}

/* Emptied and written again past the cursor while pactod was down: the
 * same inode, so reading resumed at the old offset, inside new text. */
static void test_resume_rewritten_while_down(void **state)
{
	struct fixture *fx = *state;
	append(fx->path, "");
	start(fx, false, (struct file_cursor){0});
	append(fx->path, "1\n2\n3\n");
	process(fx);
	struct file_cursor c = follower_cursor(fx->f);
	assert_int_equal(c.head.len, 6);
	follower_close(fx->f);
	fx->f = NULL;
	assert_int_equal(truncate(fx->path, 0), 0);
	append(fx->path, "x new first\ny\n");
	start(fx, false, c);
	process(fx);
	assert_string_equal(fx->got.text, "1|2|3|x new first|y|");
}

/* copytruncate while pactod was down: what followed the cursor is in the
 * copy, PATH.1 (a new inode, the same head): read from there first. */
static void test_resume_copytruncate_while_down(void **state)
{
	struct fixture *fx = *state;
	struct file_cursor c = read_one_then_stop(fx);
	append(fx->path, "2\n3\n");
	append(fx->rotated, "1\n2\n3\n");   /* the copy */
	assert_int_equal(truncate(fx->path, 0), 0);
	append(fx->path, "4\n");
	start(fx, false, c);
	process(fx);
	assert_string_equal(fx->got.text, "1|2|3|4|");
}

/* The descriptor the follower holds on path (found in /proc/self/fd). */
static int follower_descriptor(const char *path)
{
	DIR *d = opendir("/proc/self/fd");
	assert_non_null(d);
	int found = -1;
	for (struct dirent *e; found < 0 && (e = readdir(d));) {
		char link[300], target[PATH_MAX];
		snprintf(link, sizeof(link), "/proc/self/fd/%s", e->d_name);
		ssize_t n = readlink(link, target, sizeof(target) - 1);
		if (n > 0 && (target[n] = '\0', strcmp(target, path) == 0))
			found = atoi(e->d_name);
	}
	closedir(d);
	assert_true(found >= 0);
	return found;
}

/* A read error closed the file; the next wake-up then found "a new file"
 * at the same path and read it again from its start. Provoked by putting
 * a directory (read() fails with EISDIR) behind the follower's descriptor,
 * then the file again, at the offset it had. */
static void test_read_error_keeps_position(void **state)
{
	struct fixture *fx = *state;
	append(fx->path, "");
	start(fx, false, (struct file_cursor){0});
	append(fx->path, "a\nb\n");
	process(fx);
	int fd = follower_descriptor(fx->path);
	int saved = dup(fd), dir = open(fx->dir, O_RDONLY | O_DIRECTORY);
	assert_true(saved >= 0 && dir >= 0);
	assert_int_equal(dup2(dir, fd), fd);
	close(dir);
	append(fx->path, "c\n");
	process_reports(fx, "read (retried at each wake-up): Is a directory");
	process(fx);   /* the same error is said once */
	assert_int_equal(dup2(saved, fd), fd);
	close(saved);
	process(fx);
	assert_string_equal(fx->got.text, "a|b|c|");
}

/* Rotated to a file that cannot be opened (here a FIFO): nothing was read
 * and nothing said so. */
static void test_unopenable_file_reported(void **state)
{
	struct fixture *fx = *state;
	append(fx->path, "");
	start(fx, false, (struct file_cursor){0});
	assert_int_equal(rename(fx->path, fx->rotated), 0);
	assert_int_equal(mkfifo(fx->path, 0600), 0);
	process_reports(fx, "cannot be opened: not a regular file (a FIFO); its lines are not read until it can be");
	process(fx);   /* said once */
	assert_int_equal(unlink(fx->path), 0);
	append(fx->path, "z\n");
	process(fx);
	assert_string_equal(fx->got.text, "z|");
}

/* PATH.k */
static const char *numbered(const struct fixture *fx, int k, char *buf, size_t len)
{
	snprintf(buf, len, "%s.%d", fx->path, k);
	return buf;
}

/* logrotate's rename rotation, keeping `keep` files: PATH.k -> PATH.k+1
 * from the oldest, PATH -> PATH.1, then first_line written to a new PATH. */
static void rotate_numbered(const struct fixture *fx, int keep, const char *first_line)
{
	char from[160], to[160];
	for (int k = keep - 1; k >= 1; k--)
		if (access(numbered(fx, k, from, sizeof(from)), F_OK) == 0)
			assert_int_equal(rename(from, numbered(fx, k + 1, to, sizeof(to))), 0);
	assert_int_equal(rename(fx->path, fx->rotated), 0);
	append(fx->path, first_line);
}

/* Restarted within the grace after a rename: the cursor named only the
 * new file, so what the writer appended to PATH.1 after it was saved was
 * never read. */
static void test_resume_rotated_still_written(void **state)
{
	struct fixture *fx = *state;
	append(fx->path, "");
	start(fx, false, (struct file_cursor){0});
	append(fx->path, "1\n");
	process(fx);
	assert_int_equal(rename(fx->path, fx->rotated), 0);
	append(fx->rotated, "2 after the rename\n");
	append(fx->path, "3 in the new file\n");
	process(fx);
	struct file_cursor c = follower_cursor(fx->f);
	assert_int_equal(c.nold, 1);
	follower_close(fx->f);
	fx->f = NULL;
	append(fx->rotated, "4 to the old file, pactod down\n");
	append(fx->path, "5\n");
	start(fx, false, c);
	process(fx);
	assert_string_equal(fx->got.text, "1|2 after the rename|3 in the new file|4 to the old file, pactod down|5|");
	append(fx->rotated, "6 to the old file, pactod up again\n");
	process(fx);
	assert_string_equal(fx->got.text + strlen("1|2 after the rename|3 in the new file|4 to the old file, pactod down|5|"),
			    "6 to the old file, pactod up again|");
}

/* Two rotations (rotate(fx, 1, ...), then 2) between two wake-ups (a
 * stopped pactod), a line appended to the followed file afterwards under
 * its rotated name `first`: the followed file is finished, then the one
 * in between, then the new one. */
typedef void rotate_fn(const struct fixture *fx, int nth, const char *first_line);

static void two_rotations_between_wakeups(struct fixture *fx, rotate_fn *rotate, const char *first)
{
	append(fx->path, "");
	start(fx, false, (struct file_cursor){0});
	append(fx->path, "1\n");
	process(fx);
	rotate(fx, 1, "2 in the middle file\n");
	rotate(fx, 2, "3 in the newest\n");
	append(first, "1b late to the first\n");
	process(fx);
	assert_string_equal(fx->got.text, "1|1b late to the first|2 in the middle file|3 in the newest|");
	struct follower_stats st;
	follower_get_stats(fx->f, &st);
	assert_int_equal(st.rotations, 2);
	append(fx->path, "4\n");
	process(fx);
	assert_int_equal(fx->got.n, 5);
}

/* Two rotations while pactod was down: the cursor's file is found under
 * its rotated name and read on, then the one rotated after it, then the
 * new one. */
static void resume_two_rotations_while_down(struct fixture *fx, rotate_fn *rotate)
{
	struct file_cursor c = read_one_then_stop(fx);
	append(fx->path, "1b\n");
	rotate(fx, 1, "2\n");
	rotate(fx, 2, "3\n");
	start(fx, false, c);
	process(fx);
	assert_string_equal(fx->got.text, "1|1b|2|3|");
}

static void rotate_numbered_4(const struct fixture *fx, int nth, const char *first_line)
{
	(void)nth;
	rotate_numbered(fx, 4, first_line);
}

/* PATH -> PATH.1 while PATH.1 -> PATH.2, twice between two wake-ups: the
 * one in between, now PATH.1, was never read. */
static void test_two_rotations_between_wakeups(void **state)
{
	struct fixture *fx = *state;
	char p2[160];
	two_rotations_between_wakeups(fx, rotate_numbered_4, numbered(fx, 2, p2, sizeof(p2)));
}

/* More rotations between two wake-ups than rotated files are read at once
 * (FOLLOW_MAX_OLD): the oldest are read to their end as they are retired. */
static void test_many_rotations_between_wakeups(void **state)
{
	struct fixture *fx = *state;
	append(fx->path, "");
	start(fx, false, (struct file_cursor){0});
	append(fx->path, "a\n");
	process(fx);
	const char *firsts[] = {"b\n", "c\n", "d\n", "e\n", "f\n", "g\n"};
	for (size_t i = 0; i < 6; i++)
		rotate_numbered(fx, 9, firsts[i]);
	process(fx);
	assert_string_equal(fx->got.text, "a|b|c|d|e|f|g|");
	struct follower_stats st;
	follower_get_stats(fx->f, &st);
	assert_int_equal(st.rotations, 6);
}

/* Two rotations while pactod was down: the cursor's file is PATH.2 now;
 * only PATH.1 was looked at, so the rest of it and all of PATH.1 were lost. */
static void test_resume_two_rotations_while_down(void **state)
{
	resume_two_rotations_while_down(*state, rotate_numbered_4);
}

/* PATH-suffix */
static const char *dated(const struct fixture *fx, const char *suffix, char *buf, size_t len)
{
	snprintf(buf, len, "%s-%s", fx->path, suffix);
	return buf;
}

/* logrotate's dateext rotation: PATH -> PATH-DATE, then first_line
 * written to a new PATH. */
static void rotate_dated(const struct fixture *fx, const char *date, const char *first_line)
{
	char to[160];
	assert_int_equal(rename(fx->path, dated(fx, date, to, sizeof(to))), 0);
	append(fx->path, first_line);
}

/* Files that look rotated but are not the followed file's newer copies:
 * an older dated one, compressed ones, a name with letters, names of
 * digits that are no date (another log's PATH-8080, a copy PATH-3, a
 * month 99) or a date to come, all sorting above the real ones. None may
 * be read. */
static void dated_decoys(const struct fixture *fx)
{
	char name[160];
	static const char *const decoys[] = {"20261129.gz", "20261130.xz", "backup", "8080", "3", "99999999",
					     "20991231"};
	append(dated(fx, "20261101", name, sizeof(name)), "old 1\nold 2\n");
	for (size_t i = 0; i < sizeof(decoys) / sizeof(decoys[0]); i++)
		append(dated(fx, decoys[i], name, sizeof(name)), "decoy\n");
}

/* dateext's daily names, and (another dateformat) with an hour. */
static void rotate_daily(const struct fixture *fx, int nth, const char *first_line)
{
	rotate_dated(fx, nth == 1 ? "20261127" : "20261128", first_line);
}

static void rotate_hourly(const struct fixture *fx, int nth, const char *first_line)
{
	rotate_dated(fx, nth == 1 ? "2026112723" : "2026112800", first_line);
}

/* logrotate's dateext (PATH-YYYYMMDD): the file in between is found by
 * name, newest date first; the decoys are left. */
static void test_two_dated_rotations_between_wakeups(void **state)
{
	struct fixture *fx = *state;
	dated_decoys(fx);
	char first[160];
	two_rotations_between_wakeups(fx, rotate_daily, dated(fx, "20261127", first, sizeof(first)));
}

/* A PATH.1 left from before logrotate used dateext: the dated names are
 * still searched. */
static void test_dated_rotations_beside_a_stale_numbered_file(void **state)
{
	struct fixture *fx = *state;
	append(fx->rotated, "stale\n");
	char first[160];
	two_rotations_between_wakeups(fx, rotate_daily, dated(fx, "20261127", first, sizeof(first)));
}

static void test_resume_two_dated_rotations_while_down(void **state)
{
	struct fixture *fx = *state;
	dated_decoys(fx);
	resume_two_rotations_while_down(fx, rotate_hourly);
}

/* Whether this process holds a descriptor on path. */
static bool holds(const char *path)
{
	DIR *d = opendir("/proc/self/fd");
	assert_non_null(d);
	bool found = false;
	for (struct dirent *e; !found && (e = readdir(d));) {
		char link[300], target[PATH_MAX];
		snprintf(link, sizeof(link), "/proc/self/fd/%s", e->d_name);
		ssize_t n = readlink(link, target, sizeof(target) - 1);
		found = n > 0 && (target[n] = '\0', strcmp(target, path) == 0);
	}
	closedir(d);
	return found;
}

/* A writer that never reopens the path after the rename (logrotate's
 * create, no postrotate) writes to PATH.1 for good: the old file was left
 * after the grace, however quiet, and every later line was lost. It is
 * kept while the new file stays unwritten; once written (the writer
 * reopened), it is left after the grace. */
static void test_writer_never_reopens(void **state)
{
	struct fixture *fx = *state;
	fx->grace_s = 1;
	append(fx->path, "");
	start(fx, false, (struct file_cursor){0});
	append(fx->path, "1\n");
	process(fx);
	assert_int_equal(rename(fx->path, fx->rotated), 0);
	append(fx->path, "");   /* created, never written */
	process(fx);
	sleep(2);
	process(fx);
	append(fx->rotated, "2 past the grace\n");
	process(fx);
	assert_string_equal(fx->got.text, "1|2 past the grace|");
	assert_true(holds(fx->rotated));
	append(fx->path, "3 the writer reopened\n");
	process(fx);
	sleep(2);
	process(fx);
	assert_false(holds(fx->rotated));
	assert_string_equal(fx->got.text, "1|2 past the grace|3 the writer reopened|");
}

static void test_cursor_text(void **state)
{
	(void)state;
	struct file_cursor c = {.inode = 12, .offset = 345, .head = {.len = 64, .hash = 0xab}, .valid = true,
				.old = {{.inode = 7, .offset = 9, .head = {.len = 3, .hash = 0xffffffffffffffffull}},
					{.inode = 8, .offset = 0}},
				.nold = 2};
	char text[FILE_CURSOR_TEXT];
	follower_cursor_format(&c, text);
	assert_string_equal(text, "12:345:64:00000000000000ab,7:9:3:ffffffffffffffff,8:0:0:0000000000000000");
	struct file_cursor p = follower_cursor_parse(text);
	assert_true(p.valid);
	assert_int_equal(p.inode, 12);
	assert_int_equal(p.offset, 345);
	assert_int_equal(p.head.len, 64);
	assert_int_equal(p.head.hash, 0xab);
	assert_int_equal(p.nold, 2);
	assert_int_equal(p.old[0].inode, 7);
	assert_int_equal(p.old[0].offset, 9);
	assert_int_equal(p.old[0].head.len, 3);
	assert_true(p.old[0].head.hash == 0xffffffffffffffffull);
	assert_int_equal(p.old[1].inode, 8);
	p = follower_cursor_parse("12:345:64:00000000000000ab");   /* without rotated files */
	assert_true(p.valid && p.inode == 12 && p.offset == 345 && p.head.len == 64 && p.nold == 0);
	p = follower_cursor_parse("12:345");                        /* before heads */
	assert_true(p.valid && p.inode == 12 && p.offset == 345 && p.head.len == 0 && p.nold == 0);
	const char *bad[] = {"", "12", "12:", "12:-3", " 12:3", "12:3:65:0", "12:3:64:0x1", "12:3:64:1 ",
			     "12:3:64:1,", "12:3:64:1,7:9", "12:3:64:1,1:1:1:1,2:2:2:2,3:3:3:3,4:4:4:4",
			     "99999999999999999999999:1", "12:3:64:11111111111111111"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (follower_cursor_parse(bad[i]).valid)
			fail_msg("'%s' taken as a cursor", bad[i]);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_from_end_then_new_lines), T(test_from_start), T(test_wakes_up_on_write),
		T(test_rename_and_create), T(test_copytruncate), T(test_delete_and_recreate),
		T(test_resume_from_cursor), T(test_resume_after_rotation_while_down),
		T(test_long_line_dropped_whole), T(test_symlink_refused), T(test_crlf_first_then_lf_lines),
		T(test_rotation_decides_line_ends_anew), T(test_read_error_keeps_position),
		T(test_unopenable_file_reported), T(test_rewritten_past_offset), T(test_cut_inside_what_was_read),
		T(test_same_lines_new_inode), T(test_resume_rewritten_while_down),
		T(test_resume_copytruncate_while_down), T(test_resume_rotated_still_written),
		T(test_two_rotations_between_wakeups), T(test_many_rotations_between_wakeups),
		T(test_resume_two_rotations_while_down),
		T(test_two_dated_rotations_between_wakeups), T(test_resume_two_dated_rotations_while_down),
		T(test_dated_rotations_beside_a_stale_numbered_file), T(test_writer_never_reopens), T(test_cursor_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
