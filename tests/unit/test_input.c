/* test_input.c: the input layer: line framing across buffer boundaries,
 * oversized lines, CRLF and a last line without newline (through a real
 * pipe); regular files read through a mapping (the same records as read(),
 * a file that shrinks before, behind and during a call, a mapping that
 * fails midway; windows kept past the call until the reader releases
 * them, read on another thread, also after a shrink); and journal entries
 * in JSON and export form (text and binary fields, malformed and
 * truncated entries). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "detect/journal_fmt.h"
#include "sources/reader.h"
#include "sources/reader_map.h"

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

/* An LF log whose first line ends in CR LF: it is taken as a CR LF stream,
 * then read as LF once no CR LF ends a record within max_line + 2 bytes
 * (else every line after it joined one record, dropped as too long); the
 * same lines wherever the reads cut it. */
static void test_crlf_start_then_lf_lines(void **state)
{
	(void)state;
	char data[256];
	size_t n = (size_t)sprintf(data, "one\r\na\nb\n");
	for (int i = 0; i < 10; i++)
		n += (size_t)sprintf(data + n, "line %d\n", i);
	for (size_t step = 1; step <= 9; step++) {
		struct collected c = {0};
		struct reader_stats st = {0};
		read_through_pipe(data, n, step, 20, &c, &st);
		assert_int_equal(c.n, 13);
		assert_string_equal(c.lines[0], "one");
		assert_string_equal(c.lines[1], "a");
		assert_string_equal(c.lines[2], "b");
		assert_string_equal(c.lines[12], "line 9");
		assert_int_equal(c.offsets[1], 5);
		assert_int_equal(st.eol_fallbacks, 1);
		assert_int_equal(st.oversized, 0);
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

/* ---- regular files through a mapping ---- */

/* Every line a read delivers, summed up: how many, a hash of their bytes,
 * lengths and offsets in order, and whether one held a NUL byte. */
struct digest {
	uint64_t n, hash;
	bool nul;
};

static void digest_line(void *arg, const char *line, size_t len, uint64_t offset)
{
	struct digest *d = arg;
	uint64_t h = d->hash ^ (len * 0x9e3779b97f4a7c15ULL) ^ offset;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)line[i]) * 0x100000001b3ULL;
	d->hash = h * 31 + len;
	d->n++;
	d->nul |= memchr(line, '\0', len) != NULL;
}

static int temp_file(const char *data, size_t len)
{
	char path[] = "/tmp/pacto-test-input.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	for (size_t at = 0; at < len;) {
		ssize_t n = write(fd, data + at, len - at);
		assert_true(n > 0);
		at += (size_t)n;
	}
	return fd;
}

/* Reads fd from its start with reader_run (mapped false) or
 * reader_run_file; returns its result. */
static int read_file_lines(int fd, bool mapped, size_t max_line, struct digest *d, struct reader_stats *st)
{
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	struct reader_lines rl = {.fn = digest_line, .arg = d, .max_line = max_line, .stats = st};
	return mapped ? reader_run_file(fd, reader_lines, &rl, st) : reader_run(fd, reader_lines, &rl, st);
}

static void expect_same_as_read(const char *data, size_t len, size_t max_line)
{
	int fd = temp_file(data, len);
	struct digest by_read = {0}, by_map = {0};
	struct reader_stats st_read = {0}, st_map = {0};
	assert_int_equal(read_file_lines(fd, false, max_line, &by_read, &st_read), 0);
	assert_int_equal(read_file_lines(fd, true, max_line, &by_map, &st_map), 0);
	assert_int_equal(by_map.n, by_read.n);
	assert_true(by_map.hash == by_read.hash);
	assert_int_equal(st_map.bytes, st_read.bytes);
	assert_int_equal(st_map.bytes, len);
	assert_int_equal(st_map.records, st_read.records);
	assert_int_equal(st_map.oversized, st_read.oversized);
	close(fd);
}

/* Lines of varied lengths up to `len` bytes: some long, some empty. */
static size_t fill_lines(char *buf, size_t len, unsigned seed)
{
	size_t n = 0;
	while (n < len) {
		seed = seed * 1103515245u + 12345u;
		size_t line = (seed >> 16) % 300;
		if (line % 97 == 0)
			line = 0;
		for (size_t i = 0; i < line && n < len; i++)
			buf[n++] = (char)('a' + (i + seed) % 26);
		if (n < len)
			buf[n++] = '\n';
	}
	return n;
}

/* The mapping hands framing the same records as read() would: across
 * window and mapping boundaries, with oversized lines (longer than
 * max_line, and longer than a whole window), CR LF records, a last line
 * without LF, and an empty file. */
static void test_mapped_file_reads_as_read_does(void **state)
{
	(void)state;
	size_t big = READER_MAP_SPAN * 2 + READER_BUFFER + 777;
	char *data = malloc(big);
	size_t n = fill_lines(data, big - 100, 7);
	memcpy(data + n, "last line without LF", 20);
	n += 20;
	expect_same_as_read(data, n, 200);
	/* A line longer than two windows that starts 1.5 windows before the
	 * first mapping's end: the mapping moves while it is being skipped. */
	memset(data + READER_MAP_SPAN - 3 * READER_BUFFER / 2, 'x', 2 * READER_BUFFER + 5000);
	expect_same_as_read(data, n, 200);
	/* CR LF records (sshd -E), with a bare LF inside one. */
	const char crlf[] = "one\r\ntwo\nstill two\r\nthree";
	expect_same_as_read(crlf, sizeof(crlf) - 1, 200);
	expect_same_as_read("", 0, 200);
	expect_same_as_read("\n", 1, 200);
	free(data);
}

/* The process's resident set, in bytes (/proc/self/statm). */
static long resident_bytes(void)
{
	long size = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%ld %ld", &size, &resident), 2);
	fclose(f);
	return resident * sysconf(_SC_PAGESIZE);
}

struct rss_probe {
	struct reader_lines rl;
	long peak;
};

static long frame_sampling_rss(void *arg, const char *buf, size_t len, bool at_eof, bool full)
{
	struct rss_probe *p = arg;
	long now = resident_bytes();
	p->peak = now > p->peak ? now : p->peak;
	return reader_lines(&p->rl, buf, len, at_eof, full);
}

/* Without threads to share them with, the pages of the file already framed
 * are given back as the read goes: the resident set grows by a MiB or
 * two, not by a whole READER_MAP_SPAN (pacto replay --threads 1 peaked
 * 13 MB above what it holds). */
static void test_mapped_file_gives_pages_back(void **state)
{
	(void)state;
	size_t big = READER_MAP_SPAN * 3;
	char *data = malloc(big);
	assert_non_null(data);
	size_t n = fill_lines(data, big, 11);
	int fd = temp_file(data, n);
	free(data);
	struct digest d = {0};
	struct reader_stats st = {0};
	struct rss_probe p = {.rl = {.fn = digest_line, .arg = &d, .max_line = 400, .stats = &st}};
	long before = resident_bytes();
	p.peak = before;
	assert_int_equal(reader_run_file(fd, frame_sampling_rss, &p, &st), 0);
	assert_int_equal(st.bytes, n);
	print_message("resident set grew by %ld KiB at most while %zu MiB were read\n", (p.peak - before) / 1024,
		      n >> 20);
	assert_true(p.peak - before < 4L << 20);
	close(fd);
}

/* A framing function that gives up on a full window (returns 0, wanting
 * more) instead of dropping it: reader_run() then meets a full buffer,
 * frames it once more as the input's end and stops there; so must the
 * mapping (no framing function of pacto does this, but the contract is
 * reader_run()'s). */
static long lines_or_stall(void *arg, const char *buf, size_t len, bool at_eof, bool full)
{
	struct reader_lines *rl = arg;
	const char *nl = memrchr(buf, '\n', len);
	if (nl || at_eof)
		return reader_lines(rl, buf, nl ? (size_t)(nl - buf) + 1 : len, at_eof && !nl, false);
	(void)full;
	return 0;
}

static void test_mapped_file_stalled_framer(void **state)
{
	(void)state;
	size_t len = 3 * READER_BUFFER;
	char *data = malloc(len);
	size_t n = fill_lines(data, READER_BUFFER / 2, 13);
	memset(data + n, 'y', READER_BUFFER + 10);          /* a line longer than a window */
	n += READER_BUFFER + 10;
	n += fill_lines(data + n, len - n, 17);
	int fd = temp_file(data, n);
	struct digest d[2] = {{0}, {0}};
	struct reader_stats st[2] = {{0}, {0}};
	for (int mapped = 0; mapped < 2; mapped++) {
		struct reader_lines rl = {.fn = digest_line, .arg = &d[mapped], .max_line = 2 * READER_BUFFER,
					  .stats = &st[mapped]};
		assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
		int rc = mapped ? reader_run_file(fd, lines_or_stall, &rl, &st[mapped])
				: reader_run(fd, lines_or_stall, &rl, &st[mapped]);
		assert_int_equal(rc, 0);
	}
	assert_int_equal(d[1].n, d[0].n);
	assert_true(d[1].hash == d[0].hash);
	assert_int_equal(st[1].records, st[0].records);
	close(fd);
	free(data);
}

/* A pipe is not mapped: reader_run_file() reads it as reader_run() does. */
static void test_mapped_file_pipe_falls_back(void **state)
{
	(void)state;
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], "a\nb\nc", 5), 5);
	close(fds[1]);
	struct digest d = {0};
	struct reader_stats st = {0};
	struct reader_lines rl = {.fn = digest_line, .arg = &d, .max_line = 100, .stats = &st};
	assert_int_equal(reader_run_file(fds[0], reader_lines, &rl, &st), 0);
	assert_int_equal(d.n, 3);
	assert_int_equal(st.bytes, 5);
	close(fds[0]);
}

/* A framing function that truncates the file on its call number `at_call`
 * (as logrotate's copytruncate would in the middle of a replay): before
 * framing that call's window, or after. */
struct shrinking {
	struct reader_lines rl;
	int fd;
	off_t to;
	unsigned calls, at_call;
	bool after;
};

static long frame_and_shrink(void *arg, const char *buf, size_t len, bool at_eof, bool full)
{
	struct shrinking *s = arg;
	bool now = ++s->calls == s->at_call;
	if (now && !s->after)
		assert_int_equal(ftruncate(s->fd, s->to), 0);
	long n = reader_lines(&s->rl, buf, len, at_eof, full);
	if (now && s->after)
		assert_int_equal(ftruncate(s->fd, s->to), 0);
	return n;
}

/* A file of short lines, and its descriptor. */
static int lines_file(char **data, size_t *n, unsigned seed)
{
	size_t len = 3 * READER_BUFFER + 4096;
	*data = malloc(len);
	*n = fill_lines(*data, len, seed);
	return temp_file(*data, *n);
}

/* Runs reader_run_file on fd with s's truncation; the SIGBUS handler in
 * place before is in place after. */
static int read_shrinking(int fd, struct shrinking *s, struct digest *got, struct reader_stats *st)
{
	struct sigaction before, after;
	assert_int_equal(sigaction(SIGBUS, NULL, &before), 0);
	s->rl = (struct reader_lines){.fn = digest_line, .arg = got, .max_line = 1000, .stats = st};
	s->fd = fd;
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	int rc = reader_run_file(fd, frame_and_shrink, s, st);
	assert_int_equal(sigaction(SIGBUS, NULL, &after), 0);
	assert_true(after.sa_sigaction == before.sa_sigaction && after.sa_flags == before.sa_flags);
	return rc;
}

/* Found smaller between two calls, past the read position: the read ends
 * at the new end exactly as read() of the cut file does (its cut last line
 * included), and says the file shrank. */
static void test_mapped_file_shrinks_ahead(void **state)
{
	(void)state;
	char *data;
	size_t n;
	int fd = lines_file(&data, &n, 3);
	off_t to = READER_BUFFER + 12345;
	struct digest want = {0}, got = {0};
	struct reader_stats st_want = {0}, st_got = {0};
	int cut = temp_file(data, (size_t)to);
	assert_int_equal(read_file_lines(cut, false, 1000, &want, &st_want), 0);
	struct shrinking s = {.to = to, .at_call = 1};
	assert_int_equal(read_shrinking(fd, &s, &got, &st_got), READER_SHRANK);
	assert_false(got.nul);
	assert_int_equal(got.n, want.n);
	assert_true(got.hash == want.hash);
	assert_int_equal(st_got.records, st_want.records);
	assert_int_equal(st_got.oversized, 0);
	assert_int_equal(st_got.bytes, (uint64_t)to);
	close(fd);
	close(cut);
	free(data);
}

/* The lines that `calls` framing calls of reader_lines take from data:
 * each takes every whole line of the window after the last one's. */
static size_t lines_in_windows(const char *data, unsigned calls)
{
	size_t start = 0, lines = 0;
	for (unsigned c = 0; c < calls; c++) {
		const char *end = memrchr(data + start, '\n', READER_BUFFER);
		for (const char *p = data + start; p <= end; p++)
			lines += *p == '\n';
		start = (size_t)(end - data) + 1;
	}
	return lines;
}

/* Cut below what was already read, between two calls: nothing more is
 * framed (no record of zeros, no oversized line), and what the first two
 * calls framed stands. */
static void test_mapped_file_shrinks_behind(void **state)
{
	(void)state;
	char *data;
	size_t n;
	int fd = lines_file(&data, &n, 5);
	struct digest got = {0};
	struct reader_stats st = {0};
	struct shrinking s = {.to = 100, .at_call = 2, .after = true};
	assert_int_equal(read_shrinking(fd, &s, &got, &st), READER_SHRANK);
	size_t lines = lines_in_windows(data, 2);
	assert_int_equal(got.n, lines);
	assert_int_equal(st.records, lines);
	assert_int_equal(st.oversized, 0);
	assert_false(got.nul);
	close(fd);
	free(data);
}

/* Cut during a call, below its window: the pages past the new end would
 * raise SIGBUS; they read as zeros, the read stops after the call, and at
 * most one record of zeros is counted (oversized: the window holds no
 * LF), never fed as a line. */
static void test_mapped_file_shrinks_during_a_call(void **state)
{
	(void)state;
	char *data;
	size_t n;
	int fd = lines_file(&data, &n, 7);
	struct digest got = {0};
	struct reader_stats st = {0};
	struct shrinking s = {.to = 100, .at_call = 2};
	assert_int_equal(read_shrinking(fd, &s, &got, &st), READER_SHRANK);
	size_t lines = lines_in_windows(data, 1);
	assert_int_equal(got.n, lines);
	assert_false(got.nul);
	assert_true(st.records <= lines + 1 && st.oversized <= 1);
	close(fd);
	free(data);
}

/* The mapping fails midway (the address space is cut after the first
 * call, in a child): the rest is read with read() from the first unused
 * byte, and the lines are those read() alone gives. Not under
 * AddressSanitizer, whose shadow memory an address-space limit breaks. */
struct limited {
	struct reader_lines rl;
	unsigned calls;
};

static long frame_then_limit(void *arg, const char *buf, size_t len, bool at_eof, bool full)
{
	struct limited *l = arg;
	if (++l->calls == 1) {
		/* Room for read()'s buffer, not for another mapping of the span. */
		long pages = 0;
		FILE *f = fopen("/proc/self/statm", "r");
		if (!f || fscanf(f, "%ld", &pages) != 1)
			_exit(3);
		fclose(f);
		rlim_t now = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE);
		struct rlimit r = {.rlim_cur = now - READER_MAP_SPAN + 4 * READER_BUFFER, .rlim_max = RLIM_INFINITY};
		if (setrlimit(RLIMIT_AS, &r) != 0)
			_exit(4);
	}
	return reader_lines(&l->rl, buf, len, at_eof, full);
}

static void test_mapped_file_mapping_fails_midway(void **state)
{
	(void)state;
#if defined(__SANITIZE_ADDRESS__)
	skip();
#endif
	size_t len = READER_MAP_SPAN * 2 + 777;
	char *data = malloc(len);
	size_t n = fill_lines(data, len, 11);
	int fd = temp_file(data, n);
	struct digest want = {0};
	struct reader_stats st_want = {0};
	assert_int_equal(read_file_lines(fd, false, 1000, &want, &st_want), 0);
	int pipefd[2];
	assert_int_equal(pipe(pipefd), 0);
	pid_t pid = fork();
	if (pid == 0) {
		struct digest got = {0};
		struct reader_stats st = {0};
		struct limited l = {.rl = {.fn = digest_line, .arg = &got, .max_line = 1000, .stats = &st}};
		if (lseek(fd, 0, SEEK_SET) != 0)   /* no cmocka assert in the child: it would go on with the tests */
			_exit(7);
		int rc = reader_run_file(fd, frame_then_limit, &l, &st);
		/* A second mapping must have failed for the test to mean anything. */
		void *probe = mmap(NULL, READER_MAP_SPAN, PROT_READ, MAP_PRIVATE, fd, 0);
		struct digest out[2] = {got, {.n = st.records, .hash = st.bytes}};
		if (write(pipefd[1], out, sizeof(out)) != (ssize_t)sizeof(out))
			_exit(5);
		_exit(rc == 0 && probe == MAP_FAILED ? 0 : 6);
	}
	struct digest out[2];
	assert_int_equal(read(pipefd[0], out, sizeof(out)), (ssize_t)sizeof(out));
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(out[0].n, want.n);
	assert_true(out[0].hash == want.hash);
	assert_int_equal(out[1].n, st_want.records);
	assert_int_equal(out[1].hash, n);
	close(pipefd[0]);
	close(pipefd[1]);
	close(fd);
	free(data);
}

/* ---- bytes kept past the call (reader_run_file_shared) ---- */

/* A framing function that keeps each window it is handed, unread, as
 * scan_pool_feed_block_shared() does, and reads them only when the reader
 * releases them, on another thread as the scanners would: they must still
 * hold the file's bytes then, or zeros past a shrink. */
#define MAX_KEPT 64
struct kept {
	const char *p;
	size_t len;
	uint64_t offset;
};

struct sharer {
	struct reader_share share;
	const char *data;            /* the file's bytes */
	int fd;
	struct kept kept[MAX_KEPT];
	size_t nkept, nretired;      /* kept[0, nretired): from the retired mapping */
	uint64_t handed;             /* offset of the next byte handed */
	uint64_t same, zeros, wrong; /* bytes found when released */
	unsigned retires, releases, calls_unmapped;
	off_t shrink_to;             /* > 0: truncated at the first retire */
};

static long keep_window(void *arg, const char *buf, size_t len, bool at_eof, bool full)
{
	struct sharer *s = arg;
	(void)at_eof, (void)full;
	if (!s->share.mapped) {
		s->calls_unmapped++;
		return (long)len;
	}
	assert_true(s->nkept < MAX_KEPT);
	s->kept[s->nkept++] = (struct kept){buf, len, s->handed};
	s->handed += len;
	return (long)len;
}

/* Reads the retired windows: each byte the file's, or zero past a shrink. */
static void *read_retired(void *arg)
{
	struct sharer *s = arg;
	for (size_t k = 0; k < s->nretired; k++) {
		const struct kept *w = &s->kept[k];
		for (size_t i = 0; i < w->len; i++) {
			char c = w->p[i];
			if (c == s->data[w->offset + i])
				s->same++;
			else if (c == '\0' && s->shrink_to > 0 && w->offset + i >= (uint64_t)s->shrink_to)
				s->zeros++;
			else
				s->wrong++;
		}
	}
	return NULL;
}

static void release_kept(void *arg)
{
	struct sharer *s = arg;
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, read_retired, s), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	memmove(s->kept, s->kept + s->nretired, (s->nkept - s->nretired) * sizeof(s->kept[0]));
	s->nkept -= s->nretired;
	s->nretired = 0;
	s->releases++;
}

static void retire_kept(void *arg)
{
	struct sharer *s = arg;
	s->nretired = s->nkept;
	if (s->shrink_to > 0 && s->retires == 0)
		assert_int_equal(ftruncate(s->fd, s->shrink_to), 0);
	s->retires++;
}

static int read_shared(int fd, struct sharer *s, struct reader_stats *st)
{
	s->fd = fd;
	s->share = (struct reader_share){.retire = retire_kept, .release = release_kept, .arg = s};
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	return reader_run_file_shared(fd, keep_window, s, st, &s->share);
}

/* Windows kept across several moves of the mapping stay readable and
 * unchanged until released, each released once, all by the end. */
static void test_shared_windows_kept_until_released(void **state)
{
	(void)state;
	size_t len = 3 * READER_MAP_SPAN + 5555;
	char *data = malloc(len);
	size_t n = fill_lines(data, len, 13);
	int fd = temp_file(data, n);
	struct sharer s = {.data = data};
	struct reader_stats st = {0};
	assert_int_equal(read_shared(fd, &s, &st), 0);
	assert_int_equal(s.same, n);
	assert_int_equal(s.wrong + s.zeros, 0);
	assert_int_equal(s.nkept, 0);
	assert_true(s.retires >= 3);
	assert_int_equal(s.releases, s.retires);
	assert_int_equal(s.calls_unmapped, 0);
	assert_false(s.share.mapped);
	close(fd);
	free(data);
}

/* Truncated while windows are kept: read on another thread after the
 * shrink, the bytes past the new end are zeros (no crash), the bytes
 * before it the file's, and the read says the file shrank. */
static void test_shared_windows_after_a_shrink(void **state)
{
	(void)state;
	size_t len = 3 * READER_MAP_SPAN + 5555;
	char *data = malloc(len);
	size_t n = fill_lines(data, len, 17);
	int fd = temp_file(data, n);
	struct sharer s = {.data = data, .shrink_to = READER_MAP_SPAN / 2 + 99};
	struct reader_stats st = {0};
	struct sigaction before, after;
	assert_int_equal(sigaction(SIGBUS, NULL, &before), 0);
	assert_int_equal(read_shared(fd, &s, &st), READER_SHRANK);
	assert_int_equal(sigaction(SIGBUS, NULL, &after), 0);
	assert_true(after.sa_sigaction == before.sa_sigaction);
	assert_int_equal(s.wrong, 0);
	assert_true(s.same >= (uint64_t)s.shrink_to);
	assert_true(s.zeros > 0);
	assert_int_equal(s.nkept, 0);
	close(fd);
	free(data);
}

/* A pipe is not mapped: its bytes are never said to outlive a call. */
static void test_shared_pipe_not_mapped(void **state)
{
	(void)state;
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], "one\ntwo\n", 8), 8);
	close(fds[1]);
	struct sharer s = {.data = "one\ntwo\n"};
	s.share = (struct reader_share){.retire = retire_kept, .release = release_kept, .arg = &s, .mapped = true};
	struct reader_stats st = {0};
	assert_int_equal(reader_run_file_shared(fds[0], keep_window, &s, &st, &s.share), 0);
	assert_int_equal(s.calls_unmapped, 1);
	assert_int_equal(s.retires + s.releases, 0);
	close(fds[0]);
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
		cmocka_unit_test(test_crlf_start_then_lf_lines),
		cmocka_unit_test(test_oversized_lines_dropped_whole),
		cmocka_unit_test(test_mapped_file_reads_as_read_does), cmocka_unit_test(test_mapped_file_pipe_falls_back),
		cmocka_unit_test(test_mapped_file_stalled_framer), cmocka_unit_test(test_mapped_file_gives_pages_back),
		cmocka_unit_test(test_mapped_file_shrinks_ahead), cmocka_unit_test(test_mapped_file_shrinks_behind),
		cmocka_unit_test(test_mapped_file_shrinks_during_a_call),
		cmocka_unit_test(test_mapped_file_mapping_fails_midway),
		cmocka_unit_test(test_shared_windows_kept_until_released),
		cmocka_unit_test(test_shared_windows_after_a_shrink), cmocka_unit_test(test_shared_pipe_not_mapped),
		cmocka_unit_test(test_journal_json), cmocka_unit_test(test_journal_export),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
