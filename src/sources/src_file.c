/* src_file.c: one log file followed through rotation (see src_file.h).
 * How: one inotify watch on the file's directory (it reports changes to
 * the files inside it too, and their renames and deletions). Every wake-up
 * does a full check instead of trusting event details, so a lost or
 * overflowed event costs nothing but a delay:
 *   1. before reading it, look at the followed file's head (src_file.h):
 *      one that no longer starts as it did was truncated (copytruncate),
 *      maybe written again past where it was read: read from its start;
 *      one shorter than what was read, its head intact, was cut inside
 *      what was read: read on from its new end;
 *   2. read what is new in the file being followed, and in the previous
 *      one if a rotation happened lately (rsyslog writes to the renamed
 *      file until it is told to reopen);
 *   3. stat the path: another inode means rotation (rename or delete and
 *      recreate): the current file becomes the previous one and the new
 *      one is read from its start, unless it starts as the current one
 *      and holds all that was read of it (the same lines written anew:
 *      read on from there).
 * Invariant: each open file has its own partial-line buffer, and its
 * cursor offset always sits just after a newline. */
#include "sources/src_file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/regfile.h"
#include "common/xalloc.h"

#define FOLLOW_BUFFER (256 * 1024)
/* How long a rotated-away file is still read: rsyslog keeps writing to it
 * until logrotate's postrotate makes it reopen, which takes moments. */
#define PREVIOUS_GRACE_S 30

struct open_file {
	int fd;                  /* -1: none */
	uint64_t inode;
	struct file_head head;   /* grows with the file up to FILE_HEAD_BYTES */
	uint64_t read_offset;    /* bytes read from fd so far */
	char *buf;
	size_t len;              /* unframed bytes in buf */
	struct reader_lines lines;
	uint64_t boundary;       /* offset just past the last newline consumed */
	time_t idle_since;
};

struct follower {
	char *path, *rotated_path;
	int inotify_fd;
	struct open_file cur, prev;
	struct reader_stats rstats;
	struct follower_stats stats;
	size_t max_line;
	reader_line_fn on_line;
	void *arg;
	/* Why the path could not be opened the last time it was tried (NULL:
	 * it could, or it does not exist), and the reason last reported: each
	 * new reason is logged once (follower_process), not at every tick. */
	const char *open_failure, *open_reported;
	int read_errno_reported;      /* the read error last reported, 0: none */
	uint64_t eol_fallbacks_reported;
};

static void set_err(char *err, size_t errlen, const char *path, const char *what)
{
	snprintf(err, errlen, "%s: %s: %s", path, what, strerror(errno));
}

/* Whole seconds of CLOCK_MONOTONIC. */
static time_t monotonic_now(void)
{
	return (time_t)(clock_monotonic_ms() / 1000);
}

/* ---- heads ---- */

/* FNV-1a: no security asked of it, only that different first lines differ. */
static uint64_t head_hash(const char *bytes, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)bytes[i]) * 0x100000001b3ull;
	return h;
}

/* The head of the file open at fd, as it is now. */
static struct file_head read_head(int fd)
{
	char bytes[FILE_HEAD_BYTES];
	ssize_t n = pread(fd, bytes, sizeof(bytes), 0);
	if (n <= 0)
		return (struct file_head){0};
	return (struct file_head){.len = (uint32_t)n, .hash = head_hash(bytes, (size_t)n)};
}

/* Whether the file at fd still starts as known: its first known.len bytes
 * are the same (an unknown head matches anything). */
static bool head_matches(int fd, struct file_head known)
{
	if (known.len == 0)
		return true;
	char bytes[FILE_HEAD_BYTES];
	ssize_t n = pread(fd, bytes, known.len, 0);
	return n == (ssize_t)known.len && head_hash(bytes, known.len) == known.hash;
}

/* Learns more of the head while the file is shorter than FILE_HEAD_BYTES. */
static void grow_head(struct open_file *of)
{
	if (of->fd >= 0 && of->head.len < FILE_HEAD_BYTES && of->read_offset > of->head.len)
		of->head = read_head(of->fd);
}

/* ---- one open file ---- */

static void file_init(struct follower *f, struct open_file *of)
{
	memset(of, 0, sizeof(*of));
	of->fd = -1;
	of->buf = xmalloc(FOLLOW_BUFFER);
	of->lines = (struct reader_lines){.fn = f->on_line, .arg = f->arg, .max_line = f->max_line,
					  .stats = &f->rstats};
}

static void file_close(struct open_file *of)
{
	if (of->fd >= 0)
		close(of->fd);
	of->fd = -1;
	of->len = 0;
}

/* Starts reading fd at offset. When offset is not at the start of a line,
 * the partial line there is skipped: its head was never seen. */
static void file_start(struct open_file *of, int fd, uint64_t inode, uint64_t offset)
{
	of->fd = fd;
	of->inode = inode;
	of->read_offset = offset;
	of->len = 0;
	of->lines.offset = offset;
	of->lines.skipping = false;
	/* Each file decides its own line ends (reader.h): a rotation starts a
	 * new file, which inherits nothing from the last one. */
	of->lines.eol = EOL_UNDECIDED;
	of->boundary = offset;
	of->idle_since = monotonic_now();
	of->head = read_head(fd);
	char before;
	if (offset > 0 && pread(fd, &before, 1, (off_t)offset - 1) == 1 && before != '\n')
		of->lines.skipping = true;
	lseek(fd, (off_t)offset, SEEK_SET);
}

/* Frames the buffered bytes into lines; keeps a partial line for later. */
static void file_frame(struct open_file *of, bool final)
{
	size_t used = 0;
	while (used < of->len) {
		size_t rest = of->len - used;
		long n = reader_lines(&of->lines, of->buf + used, rest, final, rest == FOLLOW_BUFFER);
		if (n == 0)
			break;
		used += (size_t)(n > 0 ? n : -n);
		if (!of->lines.skipping)
			of->boundary = of->lines.offset;
	}
	memmove(of->buf, of->buf + used, of->len - used);
	of->len -= used;
}

/* Reads fd to its current end. Returns bytes read, or -1. */
static long file_drain(struct open_file *of)
{
	long total = 0;
	for (;;) {
		ssize_t n = read(of->fd, of->buf + of->len, FOLLOW_BUFFER - of->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? total : -1;
		if (n == 0)
			break;
		of->len += (size_t)n;
		of->read_offset += (uint64_t)n;
		total += n;
		file_frame(of, false);
	}
	if (total > 0)
		of->idle_since = monotonic_now();
	grow_head(of);
	return total;
}

/* ---- the path ---- */

/* Opens the log at path: a regular file, never through a symbolic link.
 * On failure, *why says why, or is NULL when there is no file there (it
 * may appear later: nothing to report). */
static int open_path(const char *path, uint64_t *inode, uint64_t *size, const char **why)
{
	struct stat st;
	int fd = regfile_open(path, REGFILE_NOFOLLOW, &st, why);
	if (fd < 0) {
		if (errno == ENOENT)
			*why = NULL;
		else if (errno == ELOOP)
			*why = "a symbolic link, which is not followed";
		return -1;
	}
	*inode = (uint64_t)st.st_ino;
	*size = (uint64_t)st.st_size;
	return fd;
}

/* Notes why the path could not be opened (NULL: it could, or is absent). */
static void note_open(struct follower *f, const char *why)
{
	f->open_failure = why;
	if (!why)
		f->open_reported = NULL;   /* a later failure is news again */
}

/* The followed file moved away: it becomes the previous file, read for a
 * grace period, and the new one is read from its start. */
static void rotate(struct follower *f, int fd, uint64_t inode)
{
	if (f->prev.fd >= 0) {
		file_frame(&f->prev, true);
		file_close(&f->prev);
	}
	struct open_file old = f->prev;
	f->prev = f->cur;
	f->cur = old;
	file_start(&f->cur, fd, inode, 0);
	f->stats.rotations++;
}

/* The followed file, looked at before it is read: one that no longer
 * starts as it did was truncated (copytruncate) and maybe written again,
 * past where it was read too: read from its start (the rest of a partial
 * line went to the copy). One cut inside what was read, its head intact
 * (truncate -s), holds nothing new up to its new end. */
static void check_truncation(struct follower *f)
{
	struct stat st;
	if (f->cur.fd < 0 || fstat(f->cur.fd, &st) != 0)
		return;
	uint64_t size = (uint64_t)st.st_size;
	bool known = f->cur.head.len > 0, same = known && head_matches(f->cur.fd, f->cur.head);
	if (size >= f->cur.read_offset && (same || !known))
		return;   /* grown, or not yet anything to know it by */
	file_start(&f->cur, f->cur.fd, f->cur.inode, same ? size : 0);
	f->stats.truncations++;
}

/* A new inode at the path that starts as the followed file does, and holds
 * all that was read of it: the same lines written anew (sed -i, cp and
 * mv), read on from where the old one was left, not again. */
static bool same_lines(const struct open_file *cur, int fd, uint64_t size)
{
	return cur->head.len > 0 && size >= cur->boundary && head_matches(fd, cur->head);
}

static void check_path(struct follower *f)
{
	uint64_t inode, size;
	struct stat st;
	if (stat(f->path, &st) != 0)
		return;   /* gone for now: keep reading the old file until one appears */
	if (f->cur.fd >= 0 && (uint64_t)st.st_ino == f->cur.inode)
		return;   /* checked before it was read (check_truncation) */
	const char *why;
	int fd = open_path(f->path, &inode, &size, &why);
	note_open(f, fd < 0 ? why : NULL);
	if (fd < 0)
		return;
	if (f->cur.fd < 0) {
		file_start(&f->cur, fd, inode, 0);   /* appeared after we started */
	} else if (same_lines(&f->cur, fd, size)) {
		uint64_t at = f->cur.boundary;
		file_close(&f->cur);
		file_start(&f->cur, fd, inode, at);
		f->stats.rotations++;
	} else {
		rotate(f, fd, inode);
	}
}

static void expire_previous(struct follower *f)
{
	if (f->prev.fd < 0 || monotonic_now() - f->prev.idle_since < PREVIOUS_GRACE_S)
		return;
	file_frame(&f->prev, true);   /* its unterminated last line is final now */
	file_close(&f->prev);
}

/* ---- public ---- */

static void drain_events(int fd)
{
	char events[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	while (read(fd, events, sizeof(events)) > 0)
		;
}

/* Reads what is new in the current file. A read error keeps the file
 * open where it stood (the next call reads on from there: closing it
 * would make the same file look new, read again from its start); each new
 * error is reported once. Returns -1 with err filled on one to report. */
static int drain_current(struct follower *f, char *err, size_t errlen)
{
	if (f->cur.fd < 0)
		return 0;
	if (file_drain(&f->cur) >= 0) {
		f->read_errno_reported = 0;
		return 0;
	}
	if (errno == f->read_errno_reported)
		return 0;
	f->read_errno_reported = errno;
	set_err(err, errlen, f->path, "read (retried at each wake-up)");
	return -1;
}

/* What is worth one line in the log: a path that cannot be opened (lines
 * written there are lost until it can), a read error, a file whose line
 * ends were misjudged. Returns -1 with err filled, or 0. */
static int report(struct follower *f, int read_rc, char *err, size_t errlen)
{
	if (read_rc < 0)
		return -1;
	if (f->open_failure && f->open_failure != f->open_reported) {
		f->open_reported = f->open_failure;
		snprintf(err, errlen, "%s: cannot be opened: %s; its lines are not read until it can be", f->path,
			 f->open_failure);
		return -1;
	}
	if (f->rstats.eol_fallbacks != f->eol_fallbacks_reported) {
		f->eol_fallbacks_reported = f->rstats.eol_fallbacks;
		snprintf(err, errlen, "%s: lines end in LF after all (a line ending in CR LF came first): "
			 "read as LF lines from here", f->path);
		return -1;
	}
	return 0;
}

int follower_process(struct follower *f, char *err, size_t errlen)
{
	drain_events(f->inotify_fd);
	if (f->prev.fd >= 0 && file_drain(&f->prev) < 0)
		file_close(&f->prev);
	check_truncation(f);
	int rc = drain_current(f, err, errlen);
	check_path(f);
	if (rc == 0)
		rc = drain_current(f, err, errlen);
	expire_previous(f);
	return report(f, rc, err, errlen);
}

/* Whether the file at fd is the one the cursor was saved on: the same
 * inode and head, or (when rotated while we were down) the same head
 * under another inode, holding all that was read. */
static bool cursor_names(const struct file_cursor *c, int fd, uint64_t inode, uint64_t size)
{
	if (!head_matches(fd, c->head))
		return false;
	return inode == c->inode || (c->head.len > 0 && size >= c->offset);
}

/* Where reading starts: the cursor if it names this file (or PATH.1, the
 * file it was rotated or copied to while we were down: read from the
 * cursor first), else the end, or the start. */
static void open_initial(struct follower *f, const struct follower_config *cfg)
{
	uint64_t inode, size, rinode, rsize;
	const char *why, *rwhy;
	int fd = open_path(f->path, &inode, &size, &why);
	note_open(f, fd < 0 ? why : NULL);
	const struct file_cursor *c = &cfg->cursor;
	if (c->valid && fd >= 0 && cursor_names(c, fd, inode, size)) {
		/* Cut inside what was read while we were down, its head intact:
		 * nothing new up to its end. */
		file_start(&f->cur, fd, inode, c->offset <= size ? c->offset : size);
		return;
	}
	int rfd = c->valid ? open_path(f->rotated_path, &rinode, &rsize, &rwhy) : -1;
	if (rfd >= 0 && c->offset <= rsize && cursor_names(c, rfd, rinode, rsize)) {
		file_start(&f->prev, rfd, rinode, c->offset);   /* finish it first */
		f->prev.idle_since = 0;                         /* nobody writes there any more */
	} else if (rfd >= 0) {
		close(rfd);
	}
	if (fd >= 0)
		file_start(&f->cur, fd, inode, c->valid || cfg->from_start ? 0 : size);
}

int follower_open(const struct follower_config *cfg, struct follower **out, char *err, size_t errlen)
{
	struct follower *f = xcalloc(1, sizeof(*f));
	f->path = xstrdup(cfg->path);
	if (asprintf(&f->rotated_path, "%s.1", cfg->path) < 0)
		f->rotated_path = NULL;
	f->max_line = cfg->max_line;
	f->on_line = cfg->on_line;
	f->arg = cfg->arg;
	file_init(f, &f->cur);
	file_init(f, &f->prev);
	char *dir_copy = xstrdup(cfg->path);
	const char *dir = dirname(dir_copy);
	f->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	int wd = f->inotify_fd < 0 ? -1 :
		 inotify_add_watch(f->inotify_fd, dir, IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM |
						   IN_DELETE | IN_ATTRIB | IN_CLOSE_WRITE);
	if (wd < 0 || !f->rotated_path) {
		set_err(err, errlen, dir, "inotify");
		free(dir_copy);
		follower_close(f);
		return -1;
	}
	free(dir_copy);
	open_initial(f, cfg);
	*out = f;
	return 0;
}

void follower_close(struct follower *f)
{
	if (!f)
		return;
	file_close(&f->cur);
	file_close(&f->prev);
	free(f->cur.buf);
	free(f->prev.buf);
	if (f->inotify_fd >= 0)
		close(f->inotify_fd);
	free(f->path);
	free(f->rotated_path);
	free(f);
}

int follower_fd(const struct follower *f)
{
	return f->inotify_fd;
}

struct file_cursor follower_cursor(const struct follower *f)
{
	struct file_cursor c = {.valid = f->cur.fd >= 0};
	if (c.valid) {
		c.inode = f->cur.inode;
		c.offset = f->cur.boundary;
		c.head = f->cur.head;
	}
	return c;
}

void follower_get_stats(const struct follower *f, struct follower_stats *out)
{
	*out = f->stats;
	out->lines = f->rstats.records - f->rstats.oversized;
	out->bytes = f->cur.read_offset;
	out->oversized = f->rstats.oversized;
}
