/* test_textout.c: textout_write reports the error of the call that
 * failed, not whatever errno holds at the end. The streams are
 * fopencookie()'s, so that a write, a flush and a close fail (or succeed
 * and touch errno) exactly as each test needs: a disk that fills, a close
 * that succeeds after changing errno, a failure that sets no errno. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <cmocka.h>

#include "common/textout.h"

/* What a test stream does; what it received. */
struct sink {
	int write_errno;      /* writes fail with it (-1: fail, errno left 0) */
	int close_errno;      /* close fails with it */
	int close_leaves;     /* close succeeds but leaves this in errno */
	char got[1 << 16];
	size_t n;
	bool closed;
};

static ssize_t sink_write(void *cookie, const char *buf, size_t len)
{
	struct sink *s = cookie;
	if (s->write_errno) {
		errno = s->write_errno > 0 ? s->write_errno : 0;
		return -1;
	}
	size_t room = sizeof(s->got) - s->n;
	len = len < room ? len : room;
	memcpy(s->got + s->n, buf, len);
	s->n += len;
	return (ssize_t)len;
}

static int sink_close(void *cookie)
{
	struct sink *s = cookie;
	s->closed = true;
	if (s->close_errno) {
		errno = s->close_errno;
		return -1;
	}
	if (s->close_leaves)
		errno = s->close_leaves;
	return 0;
}

static FILE *sink_open(struct sink *s)
{
	cookie_io_functions_t io = {.write = sink_write, .close = sink_close};
	FILE *f = fopencookie(s, "w", io);
	assert_non_null(f);
	return f;
}

static void test_written(void **state)
{
	(void)state;
	struct sink s = {0};
	assert_int_equal(textout_write(sink_open(&s), "scenario: x\n", true), 0);
	assert_true(s.closed);
	assert_int_equal(s.n, 12);
	assert_memory_equal(s.got, "scenario: x\n", 12);
}

/* The disk is full at the flush; the close then succeeds but changes
 * errno (as a close may): the error is the write's. */
static void test_failed_write_then_close_touching_errno(void **state)
{
	(void)state;
	struct sink s = {.write_errno = ENOSPC, .close_leaves = EBADF};
	assert_int_equal(textout_write(sink_open(&s), "scenario: x\n", true), ENOSPC);
	assert_true(s.closed);
}

/* A text larger than stdio's buffer: the write fails inside fputs. */
static void test_failed_inside_fputs(void **state)
{
	(void)state;
	static char big[3 * BUFSIZ];
	memset(big, 'x', sizeof(big) - 1);
	struct sink s = {.write_errno = EDQUOT, .close_leaves = EINVAL};
	assert_int_equal(textout_write(sink_open(&s), big, true), EDQUOT);
}

static void test_failed_close(void **state)
{
	(void)state;
	struct sink s = {.close_errno = EIO};
	assert_int_equal(textout_write(sink_open(&s), "x", true), EIO);
	s = (struct sink){.close_errno = ENOSPC};   /* a file system that writes at close (NFS) */
	assert_int_equal(textout_write(sink_open(&s), "x", true), ENOSPC);
}

/* A failure that sets no errno is still one: EIO, never 0 or a stale value. */
static void test_failure_without_errno(void **state)
{
	(void)state;
	struct sink s = {.write_errno = -1};
	errno = ENOENT;   /* left by something earlier */
	assert_int_equal(textout_write(sink_open(&s), "x", true), EIO);
}

/* Without close_it the stream stays open, flushed. */
static void test_left_open(void **state)
{
	(void)state;
	struct sink s = {0};
	FILE *f = sink_open(&s);
	assert_int_equal(textout_write(f, "abc", false), 0);
	assert_false(s.closed);
	assert_int_equal(s.n, 3);
	assert_int_equal(fclose(f), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_written),
		cmocka_unit_test(test_failed_write_then_close_touching_errno),
		cmocka_unit_test(test_failed_inside_fputs),
		cmocka_unit_test(test_failed_close),
		cmocka_unit_test(test_failure_without_errno),
		cmocka_unit_test(test_left_open),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
