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
 *   2. read what is new in the rotated-away files still open, oldest
 *      first (rsyslog writes to the renamed file until it is told to
 *      reopen), then in the file being followed;
 *   3. stat the path: another inode means rotation (rename or delete and
 *      recreate): the current file joins the rotated-away ones and the new
 *      one is read from its start, unless it starts as the current one
 *      and holds all that was read of it (the same lines written anew:
 *      read on from there). The followed file is looked for under
 *      PATH.1 ... : found under PATH.k (k rotations since the last
 *      wake-up), PATH.k-1 ... PATH.1 came in between and join too, read
 *      from their start;
 *   4. leave a rotated-away file once its writer has moved on: the new
 *      file was written to, and the old one has not grown for the grace.
 * Invariant: each open file has its own partial-line buffer, and its
 * cursor offset always sits just after a newline. The rotated-away files
 * are kept oldest first, so their lines are delivered in the order they
 * were written as far as the files tell. */
#include "sources/src_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
/* How long a rotated-away file is still read after it last grew, once the
 * new file was written to: rsyslog keeps writing to it until logrotate's
 * postrotate makes it reopen, which takes moments. */
#define OLD_GRACE_S 30
/* Rotated-away files open at once: FOLLOW_MAX_OLD after each wake-up; in
 * between, a rotation adds the followed file and those rotated after it,
 * FOLLOW_MAX_ROTATED at most, and so does a start (with the cursor's
 * FOLLOW_MAX_OLD), so no file is left unread before a wake-up reads it. */
#define OLD_SLOTS (FOLLOW_MAX_OLD + FOLLOW_MAX_ROTATED)

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
	char *path;
	/* The names of the followed file's rotated copies, newest first
	 * (list_rotated): rotated[0..nrotated); the last one is room for the
	 * name being looked at. */
	char *rotated[FOLLOW_MAX_ROTATED + 1];
	unsigned nrotated;
	int inotify_fd;
	struct open_file cur;
	/* The rotated-away files still read, oldest first: old[0..nold);
	 * old[nold..] are closed, without a buffer. */
	struct open_file old[OLD_SLOTS];
	size_t nold;
	/* The current file grew since it took over from the rotated-away
	 * ones: their writer has reopened the path. Until then they are kept,
	 * however quiet: a writer that never reopens writes there for good. */
	bool cur_written;
	time_t grace_s;
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

/* A file's buffer is allocated at its first read (file_drain) and freed
 * when the file is left: rotated-away files come and go. */
static void file_init(struct follower *f, struct open_file *of)
{
	memset(of, 0, sizeof(*of));
	of->fd = -1;
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

static void file_free(struct open_file *of)
{
	file_close(of);
	free(of->buf);
	of->buf = NULL;
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
	if (of->len == 0)
		return;
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
	if (!of->buf && !(of->buf = malloc(FOLLOW_BUFFER)))
		return -1;   /* ENOMEM */
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

/* ---- rotated-away files ---- */

/* Room for a name in PATH's directory. */
static size_t rotated_room(const char *path)
{
	return strlen(path) + NAME_MAX + 2;
}

/* Today's date plus one day (time zones), as YYYYMMDD. */
static long newest_date(void)
{
	time_t t = time(NULL) + 86400;
	struct tm tm;
	gmtime_r(&t, &tm);
	return (tm.tm_year + 1900L) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday;
}

/* logrotate's dateext suffix: digits and separators only (so compressed
 * copies, .gz or .xz, are left out) whose first eight digits are a date
 * not after newest (YYYYMMDD): its default -%Y%m%d, or a dateformat that
 * starts with the date (-%Y-%m-%d, -%Y%m%d%H, -%Y%m%d-%s). Anything else
 * (another log named PATH-8080, a copy named PATH-3, a date to come) is
 * not a rotated copy: the file in between would be read whole. */
static bool dated_suffix(const char *s, long newest)
{
	long ymd = 0;
	int digits = 0;
	for (; *s; s++) {
		if (*s >= '0' && *s <= '9') {
			if (digits++ < 8)
				ymd = ymd * 10 + (*s - '0');
		} else if (*s != '-' && *s != '_' && *s != '.') {
			return false;
		}
	}
	int month = (int)(ymd / 100 % 100), day = (int)(ymd % 100);
	return digits >= 8 && ymd >= 19700101 && ymd <= newest && month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

/* Keeps name among the FOLLOW_MAX_ROTATED greatest of f->rotated, which
 * stays sorted, greatest first (the newest date). */
static void keep_dated(struct follower *f, const char *dir, const char *name)
{
	unsigned at = f->nrotated;
	char *full = f->rotated[FOLLOW_MAX_ROTATED];   /* the spare room */
	snprintf(full, rotated_room(f->path), "%s/%s", dir, name);
	while (at > 0 && strcmp(f->rotated[at - 1], full) < 0)
		at--;
	if (at == FOLLOW_MAX_ROTATED)
		return;   /* older than all those kept */
	/* The names from at on move down one; the last one's room is spare. */
	memmove(&f->rotated[at + 1], &f->rotated[at], (FOLLOW_MAX_ROTATED - at) * sizeof(f->rotated[0]));
	f->rotated[at] = full;
	if (f->nrotated < FOLLOW_MAX_ROTATED)
		f->nrotated++;
}

/* PATH-DATE files in PATH's directory, the newest FOLLOW_MAX_ROTATED. */
static void list_dated(struct follower *f)
{
	char *dir = xstrdup(f->path);
	char *slash = strrchr(dir, '/');
	const char *base = slash ? slash + 1 : f->path;
	size_t base_len = strlen(base);
	if (slash)
		*slash = '\0';
	long newest = newest_date();
	f->nrotated = 0;
	DIR *d = opendir(slash ? (*dir ? dir : "/") : ".");
	for (struct dirent *e; d && (e = readdir(d));)
		if (strncmp(e->d_name, base, base_len) == 0 && e->d_name[base_len] == '-' &&
		    dated_suffix(e->d_name + base_len + 1, newest))
			keep_dated(f, slash ? (*dir ? dir : "") : ".", e->d_name);
	if (d)
		closedir(d);
	free(dir);
}

/* The two ways logrotate names rotated copies: PATH.1 ... (its default)
 * and PATH-DATE (dateext). Both are searched, numbered first: a switch to
 * dateext leaves the old PATH.N behind for good. */
enum rotated_scheme { ROTATED_NUMBERED, ROTATED_DATED, ROTATED_SCHEMES };

/* Lists the names the followed file's rotated copies have under scheme,
 * newest first: PATH.1 ... PATH.FOLLOW_MAX_ROTATED, or the newest
 * PATH-DATE. Listed anew before each search, since rotation renames them. */
static void list_rotated(struct follower *f, enum rotated_scheme scheme)
{
	if (scheme == ROTATED_DATED) {
		list_dated(f);
		return;
	}
	for (unsigned k = 1; k <= FOLLOW_MAX_ROTATED; k++)
		snprintf(f->rotated[k - 1], rotated_room(f->path), "%s.%u", f->path, k);
	f->nrotated = FOLLOW_MAX_ROTATED;
}

/* The k-th newest rotated name (1 ... f->nrotated) of the last listing. */
static const char *rotated_name(struct follower *f, unsigned k)
{
	return f->rotated[k - 1];
}

/* Whether the file with this inode is already read (current or old). */
static bool is_open(const struct follower *f, uint64_t inode)
{
	if (f->cur.fd >= 0 && f->cur.inode == inode)
		return true;
	for (size_t i = 0; i < f->nold; i++)
		if (f->old[i].inode == inode)
			return true;
	return false;
}

/* Leaves old[i]; finish: its unterminated last line is final now (not
 * after a read error: the rest of it may be unread). Its slot moves past
 * the open ones. */
static void leave_old(struct follower *f, size_t i, bool finish)
{
	struct open_file left = f->old[i];
	if (finish)
		file_frame(&left, true);
	file_free(&left);
	memmove(&f->old[i], &f->old[i + 1], (f->nold - i - 1) * sizeof(f->old[0]));
	f->old[--f->nold] = left;
}

/* A closed slot at the end of the rotated-away files. There is always
 * one (OLD_SLOTS); were there not, the oldest would be read to its end and
 * left first. */
static struct open_file *new_old(struct follower *f)
{
	if (f->nold == OLD_SLOTS) {
		(void)file_drain(&f->old[0]);   /* an error: what was read is all there is */
		leave_old(f, 0, true);
	}
	return &f->old[f->nold++];
}

/* Opens path as a rotated-away file read from offset, after the others. */
static void add_old(struct follower *f, int fd, uint64_t inode, uint64_t offset)
{
	file_start(new_old(f), fd, inode, offset);
}

/* The current file joins the rotated-away ones; cur is left closed. */
static void demote_current(struct follower *f)
{
	struct open_file *slot = new_old(f);
	struct open_file closed = *slot;
	*slot = f->cur;
	f->cur = closed;
}

/* Under which rotated name (k, 1 ... f->nrotated of the listing left in
 * f) the open file with this inode is now; 0: none (deleted, compressed,
 * another name). The inode is enough: it cannot be reused while the file
 * is open. */
static unsigned rotated_index(struct follower *f, uint64_t inode)
{
	struct stat st;
	for (int scheme = 0; scheme < ROTATED_SCHEMES; scheme++) {
		list_rotated(f, (enum rotated_scheme)scheme);
		for (unsigned k = 1; k <= f->nrotated; k++)
			if (lstat(rotated_name(f, k), &st) == 0 && (uint64_t)st.st_ino == inode)
				return k;
	}
	return 0;
}

/* The files rotated after the one now under the k-th rotated name (of the
 * last listing) and before the path's current one (not_inode): the k-1th
 * ... 1st (PATH.k-1 ... PATH.1), oldest first, each read from its start
 * unless already read. Returns how many were added. */
static unsigned add_between(struct follower *f, unsigned k, uint64_t not_inode)
{
	unsigned added = 0;
	while (k-- > 1) {
		uint64_t inode, size;
		const char *why;
		int fd = open_path(rotated_name(f, k), &inode, &size, &why);
		if (fd < 0)
			continue;
		if (inode == not_inode || is_open(f, inode)) {
			close(fd);
			continue;
		}
		add_old(f, fd, inode, 0);
		added++;
	}
	return added;
}

/* The followed file moved away: it is read on with the rotated-away ones
 * (its writer may not have reopened the path yet), after any file rotated
 * in between, and the new one (fd) is read from its start. */
static void rotate(struct follower *f, int fd, uint64_t inode)
{
	unsigned k = rotated_index(f, f->cur.inode);
	demote_current(f);
	f->stats.rotations += 1 + (k > 1 ? add_between(f, k, inode) : 0);
	file_start(&f->cur, fd, inode, 0);
	f->cur_written = false;
}

/* Reads what is new in each rotated-away file, oldest first. One that
 * cannot be read is left with what was read of it. */
static void drain_old(struct follower *f)
{
	for (size_t i = 0; i < f->nold;) {
		if (file_drain(&f->old[i]) < 0)
			leave_old(f, i, false);
		else
			i++;
	}
}

/* Leaves the rotated-away files whose writer has moved on: the current
 * file was written to since, and they have not grown for the grace. Then,
 * past FOLLOW_MAX_OLD, the oldest (just read to their end). */
static void expire_old(struct follower *f)
{
	time_t now = monotonic_now();
	for (size_t i = 0; i < f->nold;) {
		if (f->cur_written && now - f->old[i].idle_since >= f->grace_s)
			leave_old(f, i, true);
		else
			i++;
	}
	while (f->nold > FOLLOW_MAX_OLD)
		leave_old(f, 0, true);
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
	long n = file_drain(&f->cur);
	if (n >= 0) {
		f->cur_written |= n > 0;
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
	drain_old(f);
	check_truncation(f);
	int rc = drain_current(f, err, errlen);
	check_path(f);
	drain_old(f);   /* files rotated in between come before the new one */
	if (rc == 0)
		rc = drain_current(f, err, errlen);
	expire_old(f);
	return report(f, rc, err, errlen);
}

/* Whether the file at fd is the one mark was saved on: the same inode and
 * head, or (copies: when copied and truncated while we were down) the same
 * head under another inode, holding all that was read. */
static bool mark_names(const struct file_mark *m, int fd, uint64_t inode, uint64_t size, bool copies)
{
	if (!head_matches(fd, m->head))
		return false;
	return inode == m->inode || (copies && m->head.len > 0 && size >= m->offset);
}

/* Opens the first rotated name of scheme that mark names and that holds
 * all that was read of it, the same inode first, then (copies) a copy; *k
 * says which. Files already read, and the path's own (not_inode), are not
 * taken. Returns its descriptor, or -1. */
static int find_rotated_as(struct follower *f, enum rotated_scheme scheme, const struct file_mark *m, bool copies,
			   uint64_t not_inode, unsigned *k, uint64_t *inode)
{
	list_rotated(f, scheme);
	for (int pass = 0; pass < (copies ? 2 : 1); pass++) {
		for (*k = 1; *k <= f->nrotated; (*k)++) {
			uint64_t size;
			const char *why;
			int fd = open_path(rotated_name(f, *k), inode, &size, &why);
			if (fd < 0)
				continue;
			if (size >= m->offset && *inode != not_inode && !is_open(f, *inode) &&
			    mark_names(m, fd, *inode, size, pass == 1))
				return fd;
			close(fd);
		}
	}
	return -1;
}

/* find_rotated_as() under PATH.1 ..., then under the dated names; the
 * listing where it was found is left in f (add_between). */
static int find_rotated(struct follower *f, const struct file_mark *m, bool copies, uint64_t not_inode,
			unsigned *k, uint64_t *inode)
{
	int fd = -1;
	for (int scheme = 0; fd < 0 && scheme < ROTATED_SCHEMES; scheme++)
		fd = find_rotated_as(f, (enum rotated_scheme)scheme, m, copies, not_inode, k, inode);
	return fd;
}

/* The rotated-away files the cursor says were still read: found under
 * PATH.1 ... by inode and head, read on from where they were left. One
 * not found (deleted, compressed) is lost. */
static void resume_old(struct follower *f, const struct file_cursor *c, uint64_t not_inode)
{
	for (size_t i = 0; i < c->nold && i < FOLLOW_MAX_OLD; i++) {
		unsigned k;
		uint64_t inode;
		int fd = find_rotated(f, &c->old[i], false, not_inode, &k, &inode);
		if (fd >= 0)
			add_old(f, fd, inode, c->old[i].offset);
	}
}

/* The cursor's file rotated while we were down: found under PATH.k (the
 * same inode, or a copy), it is read on from the cursor, then the files
 * rotated after it, PATH.k-1 ... PATH.1, from their start. */
static void resume_rotated(struct follower *f, const struct file_cursor *c, uint64_t not_inode)
{
	struct file_mark m = {.inode = c->inode, .offset = c->offset, .head = c->head};
	unsigned k;
	uint64_t inode;
	int fd = find_rotated(f, &m, true, not_inode, &k, &inode);
	if (fd < 0)
		return;
	add_old(f, fd, inode, c->offset);
	add_between(f, k, not_inode);
}

/* Where reading starts: the cursor if it names this file (or PATH.k, the
 * file it was rotated or copied to while we were down: read from the
 * cursor first, then the files rotated after it), else the end, or the
 * start. The rotated-away files the cursor names are read on first. */
static void open_initial(struct follower *f, const struct follower_config *cfg)
{
	uint64_t inode = 0, size = 0;
	const char *why;
	int fd = open_path(f->path, &inode, &size, &why);
	note_open(f, fd < 0 ? why : NULL);
	const struct file_cursor *c = &cfg->cursor;
	uint64_t not_inode = fd >= 0 ? inode : 0;
	if (c->valid)
		resume_old(f, c, not_inode);
	struct file_mark m = {.inode = c->inode, .offset = c->offset, .head = c->head};
	if (c->valid && fd >= 0 && mark_names(&m, fd, inode, size, true)) {
		/* Cut inside what was read while we were down, its head intact:
		 * nothing new up to its end. */
		file_start(&f->cur, fd, inode, c->offset <= size ? c->offset : size);
		return;
	}
	if (c->valid)
		resume_rotated(f, c, not_inode);
	if (fd >= 0)
		file_start(&f->cur, fd, inode, c->valid || cfg->from_start ? 0 : size);
}

int follower_open(const struct follower_config *cfg, struct follower **out, char *err, size_t errlen)
{
	struct follower *f = xcalloc(1, sizeof(*f));
	f->path = xstrdup(cfg->path);
	for (unsigned k = 0; k <= FOLLOW_MAX_ROTATED; k++)
		f->rotated[k] = xmalloc(rotated_room(cfg->path));
	f->grace_s = cfg->grace_s ? (time_t)cfg->grace_s : OLD_GRACE_S;
	f->max_line = cfg->max_line;
	f->on_line = cfg->on_line;
	f->arg = cfg->arg;
	file_init(f, &f->cur);
	for (size_t i = 0; i < OLD_SLOTS; i++)
		file_init(f, &f->old[i]);
	char *dir_copy = xstrdup(cfg->path);
	const char *dir = dirname(dir_copy);
	f->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	int wd = f->inotify_fd < 0 ? -1 :
		 inotify_add_watch(f->inotify_fd, dir, IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM |
						   IN_DELETE | IN_ATTRIB | IN_CLOSE_WRITE);
	if (wd < 0) {
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
	file_free(&f->cur);
	for (size_t i = 0; i < OLD_SLOTS; i++)
		file_free(&f->old[i]);
	if (f->inotify_fd >= 0)
		close(f->inotify_fd);
	free(f->path);
	for (unsigned k = 0; k <= FOLLOW_MAX_ROTATED; k++)
		free(f->rotated[k]);
	free(f);
}

int follower_fd(const struct follower *f)
{
	return f->inotify_fd;
}

struct file_cursor follower_cursor(const struct follower *f)
{
	struct file_cursor c = {.valid = f->cur.fd >= 0};
	if (!c.valid)
		return c;
	c.inode = f->cur.inode;
	c.offset = f->cur.boundary;
	c.head = f->cur.head;
	/* Past FOLLOW_MAX_OLD only before the first wake-up after a start: the
	 * newest are kept. */
	for (size_t i = f->nold > FOLLOW_MAX_OLD ? f->nold - FOLLOW_MAX_OLD : 0; i < f->nold; i++)
		c.old[c.nold++] = (struct file_mark){.inode = f->old[i].inode, .offset = f->old[i].boundary,
						     .head = f->old[i].head};
	return c;
}

void follower_get_stats(const struct follower *f, struct follower_stats *out)
{
	*out = f->stats;
	out->lines = f->rstats.records - f->rstats.oversized;
	out->bytes = f->cur.read_offset;
	out->oversized = f->rstats.oversized;
}

/* ---- the cursor as text ---- */

static size_t format_mark(char *buf, size_t len, uint64_t inode, uint64_t offset, struct file_head head)
{
	int n = snprintf(buf, len, "%llu:%llu:%u:%016llx", (unsigned long long)inode, (unsigned long long)offset,
			 (unsigned)head.len, (unsigned long long)head.hash);
	return n > 0 && (size_t)n < len ? (size_t)n : len;
}

void follower_cursor_format(const struct file_cursor *c, char buf[FILE_CURSOR_TEXT])
{
	size_t used = format_mark(buf, FILE_CURSOR_TEXT, c->inode, c->offset, c->head);
	for (size_t i = 0; i < c->nold && i < FOLLOW_MAX_OLD && used + 1 < FILE_CURSOR_TEXT; i++) {
		buf[used++] = ',';
		used += format_mark(buf + used, FILE_CURSOR_TEXT - used, c->old[i].inode, c->old[i].offset,
				    c->old[i].head);
	}
}

/* An unsigned number in base 10 or 16 at *p, digits only (strtoull would
 * take a sign or spaces); *p moves past it. */
static bool parse_number(const char **p, int base, unsigned max_digits, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;
	unsigned n = 0;
	for (;; s++, n++) {
		int d = *s >= '0' && *s <= '9' ? *s - '0' : base == 16 && *s >= 'a' && *s <= 'f' ? *s - 'a' + 10 : -1;
		if (d < 0)
			break;
		if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
			return false;
		v = v * (uint64_t)base + (uint64_t)d;
	}
	*p = s;
	*out = v;
	return n > 0 && n <= max_digits;
}

/* "INODE:OFFSET:HEADLEN:HEADHASH" at *p, or (short_ok) "INODE:OFFSET". */
static bool parse_mark(const char **p, bool short_ok, struct file_mark *m)
{
	uint64_t len, hash;
	if (!parse_number(p, 10, 20, &m->inode) || *(*p)++ != ':' || !parse_number(p, 10, 20, &m->offset))
		return false;
	m->head = (struct file_head){0};
	if (short_ok && **p == '\0')
		return true;
	if (*(*p)++ != ':' || !parse_number(p, 10, 2, &len) || len > FILE_HEAD_BYTES || *(*p)++ != ':' ||
	    !parse_number(p, 16, 16, &hash))
		return false;
	m->head = (struct file_head){.len = (uint32_t)len, .hash = hash};
	return true;
}

struct file_cursor follower_cursor_parse(const char *text)
{
	struct file_cursor c = {0};
	struct file_mark m;
	if (!parse_mark(&text, true, &m))
		return (struct file_cursor){0};
	c.inode = m.inode;
	c.offset = m.offset;
	c.head = m.head;
	while (*text == ',') {
		text++;
		if (c.nold == FOLLOW_MAX_OLD || !parse_mark(&text, false, &c.old[c.nold++]))
			return (struct file_cursor){0};
	}
	c.valid = *text == '\0';
	return c.valid ? c : (struct file_cursor){0};
}
