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

/* [offset, offset + len) of the file at base; base NULL: none. */
struct mapping {
	char *base;
	uint64_t offset;
	size_t len;
};

struct file_map {
	int fd;
	uint64_t size;       /* where the read ends: the size when it began, or less */
	bool smaller;        /* the file was found smaller than that between two calls */
	struct mapping cur;
	/* With a share, the mapping before cur stays until the bytes handed
	 * from it are released, at the next move: the sharer's threads read
	 * on meanwhile, where releasing at each move stopped them (3.5% of
	 * the wall time of a replay on two CPUs). */
	struct mapping retired;
	struct reader_share *share;   /* NULL: bytes used only during a call */
	size_t dropped;               /* without a share: cur's bytes given back (release_behind) */
};

/* Without a share, what the framing has used of the mapping is given back
 * to the page cache every RELEASE_STEP bytes: its pages counted in the
 * process's RSS up to a whole READER_MAP_SPAN (8 MiB), which made `pacto
 * replay` look 7 MB bigger than it is. */
#define RELEASE_STEP (1u << 20)

/* ---- a file that shrinks under its mapping ---- */

/* What the SIGBUS handler may replace: the current mapping, and the
 * retired one (a share's). Written only on the thread that reads the
 * file; a fault is delivered to the thread that meets it, the sharer's
 * included, while the range it lies in is guarded. */
enum { GUARD_CUR, GUARD_RETIRED, GUARDS };
static _Atomic uintptr_t guarded_base[GUARDS];   /* lock-free: read in the handler */
static _Atomic size_t guarded_len[GUARDS];
static volatile sig_atomic_t shrank;
static size_t page_size;
static struct sigaction previous_sigbus;

static bool guarded(uintptr_t at)
{
	for (int i = 0; i < GUARDS; i++)
		if (guarded_base[i] && at - guarded_base[i] < guarded_len[i])
			return true;
	return false;
}

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
	if (info->si_code > 0 && guarded(at)) {
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

static void guard(int which, const struct mapping *mp)
{
	guarded_len[which] = mp->len;
	guarded_base[which] = (uintptr_t)mp->base;
}

static void guard_stop(void)
{
	guard(GUARD_CUR, &(struct mapping){0});
	guard(GUARD_RETIRED, &(struct mapping){0});
	sigaction(SIGBUS, &previous_sigbus, NULL);
}

/* The file's size now, or UINT64_MAX when it cannot be known. */
static uint64_t size_now(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 ? (uint64_t)st.st_size : UINT64_MAX;
}

/* ---- the moving mapping ---- */

static void share_mapped(struct file_map *m, bool mapped)
{
	if (m->share)
		m->share->mapped = mapped;
}

static void unmap(struct mapping *mp, int which)
{
	struct mapping gone = *mp;
	if (!gone.base)
		return;
	*mp = (struct mapping){0};
	guard(which, mp);
	munmap(gone.base, gone.len);
}

/* The retired mapping goes, once the sharer is done with its bytes (a
 * fault it meets meanwhile is still handled); cur's bytes become the
 * retired ones. */
static void retire(struct file_map *m)
{
	m->share->release(m->share->arg);
	unmap(&m->retired, GUARD_RETIRED);
	m->share->retire(m->share->arg);
	m->retired = m->cur;
	guard(GUARD_RETIRED, &m->retired);
	m->cur = (struct mapping){0};
	guard(GUARD_CUR, &m->cur);
}

/* Every mapping goes; nothing reads them afterwards. */
static void unmap_all(struct file_map *m)
{
	if (m->share && m->cur.base)
		retire(m);
	if (m->share && m->retired.base)
		retire(m);
	unmap(&m->cur, GUARD_CUR);
}

/* [start, start + len) of the file, mapping what is needed; NULL with
 * errno set when the mapping fails. */
static const char *window(struct file_map *m, uint64_t start, size_t len)
{
	struct mapping *cur = &m->cur;
	if (cur->base && start >= cur->offset && start + len <= cur->offset + cur->len)
		return cur->base + (start - cur->offset);
	if (m->share && cur->base)
		retire(m);
	unmap(cur, GUARD_CUR);
	uint64_t from = start & ~(uint64_t)(page_size - 1);
	uint64_t left = m->size - from;
	size_t want = left < READER_MAP_SPAN ? (size_t)left : READER_MAP_SPAN;
	void *p = mmap(NULL, want, PROT_READ, MAP_PRIVATE, m->fd, (off_t)from);
	if (p == MAP_FAILED)
		return NULL;
	madvise(p, want, MADV_SEQUENTIAL);
	*cur = (struct mapping){.base = p, .offset = from, .len = want};
	m->dropped = 0;
	guard(GUARD_CUR, cur);
	return cur->base + (start - from);
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
	unmap_all(m);
	share_mapped(m, false);
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

/* Gives back the whole pages of cur before start (see RELEASE_STEP). Read
 * again, such a page would only be mapped again from the page cache. */
static void release_behind(struct file_map *m, uint64_t start)
{
	const struct mapping *cur = &m->cur;
	if (m->share || !cur->base || start <= cur->offset)
		return;
	uint64_t used = start - cur->offset;
	size_t upto = (size_t)((used < cur->len ? used : cur->len) & ~(uint64_t)(page_size - 1));
	if (upto < m->dropped + RELEASE_STEP)
		return;
	madvise(cur->base + m->dropped, upto - m->dropped, MADV_DONTNEED);
	m->dropped = upto;
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
		if (shrank)   /* met by another thread before the window moved */
			return sigbus_result(m);
		if (!buf)
			return read_rest(m, start, frame, arg, stats);
		long n = frame(arg, buf, len, at_eof, len == READER_BUFFER);
		if (shrank)
			return sigbus_result(m);
		if (n != 0) {
			size_t take = (size_t)(n > 0 ? n : -n);
			start += take < len ? take : len;
			stats->bytes += take < len ? take : len;
			release_behind(m, start);
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

int reader_run_file_shared(int fd, reader_frame_fn frame, void *arg, struct reader_stats *stats,
			   struct reader_share *share)
{
	struct file_map m = {.fd = fd, .share = share};
	share_mapped(&m, false);
	if (!mappable(fd, &m.size))
		return reader_run(fd, frame, arg, stats);
	guard_start();
	/* A file that cannot be mapped (some special files look regular):
	 * read it instead, nothing having been framed yet. */
	if (!window(&m, 0, 1)) {
		guard_stop();
		return reader_run(fd, frame, arg, stats);
	}
	share_mapped(&m, true);
	int rc = run_mapped(&m, frame, arg, stats);
	int saved = errno;
	unmap_all(&m);
	share_mapped(&m, false);
	/* A fault met by another thread after the last call, while it released. */
	if (rc == 0 && shrank)
		rc = sigbus_result(&m);
	else
		errno = saved;
	guard_stop();
	return rc;
}

int reader_run_file(int fd, reader_frame_fn frame, void *arg, struct reader_stats *stats)
{
	return reader_run_file_shared(fd, frame, arg, stats, NULL);
}
