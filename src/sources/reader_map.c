/* reader_map.c: a regular file read through a mapping that moves along it
 * (see reader_map.h). */
#include "sources/reader_map.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct file_map {
	int fd;
	uint64_t size;       /* where the read ends: the size when it began, or less */
	bool smaller;        /* the file was found smaller than that between two calls */
	char *base;          /* [offset, offset + len) of the file; NULL: none */
	uint64_t offset;
	size_t len;
};

/* ---- a file that shrinks under its mapping ---- */

/* What the SIGBUS handler may replace: the current mapping. Written only
 * on the thread that reads it, where the fault is delivered. */
static volatile uintptr_t guarded_base;
static volatile size_t guarded_len;
static volatile sig_atomic_t shrank;
static size_t page_size;
static struct sigaction previous_sigbus;

/* A read past the file's end inside the mapping: a zero page goes where
 * the data was, the read resumes, and the loop stops after this call.
 * (mmap() is not on POSIX's list of functions safe in a handler; on Linux
 * it is the bare system call, which is.) Any other SIGBUS goes to the
 * handler that was there before: a fault repeats under it when this
 * returns; a signal sent by kill() is raised again. */
static void on_sigbus(int sig, siginfo_t *info, void *context)
{
	(void)context;
	uintptr_t at = (uintptr_t)info->si_addr;
	if (info->si_code > 0 && guarded_base && at - guarded_base < guarded_len) {
		void *page = (void *)(at & ~(uintptr_t)(page_size - 1));
		if (mmap(page, page_size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED) {
			shrank = 1;
			return;
		}
	}
	sigaction(sig, &previous_sigbus, NULL);
	if (info->si_code <= 0)
		raise(sig);
}

static void guard_start(void)
{
	struct sigaction sa = {.sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO};
	sigemptyset(&sa.sa_mask);
	page_size = (size_t)sysconf(_SC_PAGESIZE);
	shrank = 0;
	sigaction(SIGBUS, &sa, &previous_sigbus);
}

static void guard_stop(void)
{
	guarded_base = 0;
	guarded_len = 0;
	sigaction(SIGBUS, &previous_sigbus, NULL);
}

/* The file's size now, or UINT64_MAX when it cannot be known. */
static uint64_t size_now(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 ? (uint64_t)st.st_size : UINT64_MAX;
}

/* ---- the moving mapping ---- */

static void unmap(struct file_map *m)
{
	if (!m->base)
		return;
	guarded_base = 0;
	guarded_len = 0;
	munmap(m->base, m->len);
	m->base = NULL;
}

/* [start, start + len) of the file, mapping what is needed; NULL with
 * errno set when the mapping fails. */
static const char *window(struct file_map *m, uint64_t start, size_t len)
{
	if (m->base && start >= m->offset && start + len <= m->offset + m->len)
		return m->base + (start - m->offset);
	unmap(m);
	uint64_t from = start & ~(uint64_t)(page_size - 1);
	uint64_t left = m->size - from;
	size_t want = left < READER_MAP_SPAN ? (size_t)left : READER_MAP_SPAN;
	void *p = mmap(NULL, want, PROT_READ, MAP_PRIVATE, m->fd, (off_t)from);
	if (p == MAP_FAILED)
		return NULL;
	madvise(p, want, MADV_SEQUENTIAL);
	m->base = p;
	m->offset = from;
	m->len = want;
	guarded_len = want;
	guarded_base = (uintptr_t)p;
	return m->base + (start - from);
}

/* A file found smaller before a call ends the read there, as read() would
 * meet its end there: what lies before the new end is still framed. */
static void notice_shrink(struct file_map *m)
{
	uint64_t now = size_now(m->fd);
	if (now < m->size) {
		m->size = now;
		m->smaller = true;
	}
}

/* The mapping failed after records were framed: the rest through read(),
 * from the first unused byte, so the framing's state carries on. */
static int read_rest(struct file_map *m, uint64_t start, reader_frame_fn frame, void *arg,
		     struct reader_stats *stats)
{
	if (lseek(m->fd, (off_t)start, SEEK_SET) < 0)
		return -1;
	return reader_run(m->fd, frame, arg, stats);
}

/* What ended a read that a SIGBUS interrupted: the file shrank, or the
 * disk failed under a file that did not (then -1 with EIO). */
static int sigbus_result(const struct file_map *m)
{
	if (size_now(m->fd) >= m->size) {
		errno = EIO;
		return -1;
	}
	return READER_SHRANK;
}

/* reader_run()'s loop over the mapping: the framing function gets at most
 * READER_BUFFER bytes from the first unused one; when it wants more and
 * none can come (the file's end, or a full window it cannot use), the
 * window it has is framed with at_eof until it is used up, and the read
 * ends there. */
static int run_mapped(struct file_map *m, reader_frame_fn frame, void *arg, struct reader_stats *stats)
{
	uint64_t start = 0;
	bool at_eof = false;
	for (;;) {
		notice_shrink(m);
		if (start >= m->size)
			break;
		uint64_t left = m->size - start;
		size_t len = left < READER_BUFFER ? (size_t)left : READER_BUFFER;
		const char *buf = window(m, start, len);
		if (!buf)
			return read_rest(m, start, frame, arg, stats);
		long n = frame(arg, buf, len, at_eof, len == READER_BUFFER);
		if (shrank)
			return sigbus_result(m);
		if (n != 0) {
			size_t take = (size_t)(n > 0 ? n : -n);
			start += take < len ? take : len;
			stats->bytes += take < len ? take : len;
		} else if (at_eof) {
			break;
		} else {
			at_eof = true;
			m->size = start + len;   /* reader_run() reads nothing more */
		}
	}
	return m->smaller ? READER_SHRANK : 0;
}

static bool mappable(int fd, uint64_t *size)
{
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0)
		return false;
	*size = (uint64_t)st.st_size;
	return true;
}

int reader_run_file(int fd, reader_frame_fn frame, void *arg, struct reader_stats *stats)
{
	struct file_map m = {.fd = fd};
	if (!mappable(fd, &m.size))
		return reader_run(fd, frame, arg, stats);
	guard_start();
	/* A file that cannot be mapped (some special files look regular):
	 * read it instead, nothing having been framed yet. */
	if (!window(&m, 0, 1)) {
		guard_stop();
		return reader_run(fd, frame, arg, stats);
	}
	int rc = run_mapped(&m, frame, arg, stats);
	int saved = errno;
	unmap(&m);
	guard_stop();
	errno = saved;
	return rc;
}
