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
	uint64_t size;       /* when the read began */
	char *base;          /* [offset, offset + len) of the file; NULL: none */
	uint64_t offset;
	size_t len;
};

/* ---- a file that shrinks under its mapping ---- */

/* What the SIGBUS handler may replace: the current mapping. Written only
 * on the thread that reads it, where the signal is delivered. */
static volatile uintptr_t guarded_base;
static volatile size_t guarded_len;
static volatile sig_atomic_t shrank;
static size_t page_size;
static struct sigaction previous_sigbus;

/* A read past the file's end: a zero page goes where the data was, the
 * read resumes, and the loop stops at its next check. A SIGBUS anywhere
 * else goes to the handler that was there before. */
static void on_sigbus(int sig, siginfo_t *info, void *context)
{
	(void)context;
	uintptr_t at = (uintptr_t)info->si_addr;
	if (guarded_base && at - guarded_base < guarded_len) {
		void *page = (void *)(at & ~(uintptr_t)(page_size - 1));
		if (mmap(page, page_size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED) {
			shrank = 1;
			return;
		}
	}
	/* Not ours (or no page to put there): the fault repeats under the
	 * previous handler, or the default action. */
	sigaction(sig, &previous_sigbus, NULL);
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

/* reader_run()'s loop over the mapping: the framing function gets at most
 * READER_BUFFER bytes from the first unused one; when it wants more and
 * none can come (the file's end, or a full window it cannot use) it is
 * called once more per remaining record with at_eof, and the read ends. */
static int run_mapped(struct file_map *m, reader_frame_fn frame, void *arg, struct reader_stats *stats)
{
	uint64_t start = 0, counted = 0;
	bool at_eof = false;
	while (start < m->size) {
		uint64_t left = m->size - start;
		size_t len = left < READER_BUFFER ? (size_t)left : READER_BUFFER;
		const char *buf = window(m, start, len);
		if (!buf)
			return -1;
		if (start + len > counted) {
			stats->bytes += start + len - counted;
			counted = start + len;
		}
		long n = frame(arg, buf, len, at_eof, len == READER_BUFFER);
		if (shrank)
			return READER_SHRANK;
		if (n != 0) {
			size_t take = (size_t)(n > 0 ? n : -n);
			start += take < len ? take : len;
		} else if (at_eof) {
			break;
		} else {
			at_eof = true;
		}
	}
	return 0;
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
