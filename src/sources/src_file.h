/* src_file.h: follows one log file live, through rotation.
 * Why: pactod reads auth.log as sshd writes it; logrotate renames and
 * recreates it, or copies and truncates it, or an admin deletes and
 * recreates it, and no line may be lost or counted twice across any of that.
 * Guarantees: lines are delivered once, in order, complete (a line without
 * its newline waits for it; the last line of a rotated-away file is
 * delivered when the file is left). Memory is one fixed buffer per file
 * being read (the current one, and the rotated-away ones: FOLLOW_MAX_OLD
 * after each wake-up), taken at its first read and given back when it is
 * left; a line longer than max_line is dropped whole and counted. A rotated-away
 * file is read on while its writer may still append to it: until 30 s
 * after it last grew, and never before the new file was written to (a
 * writer that has not reopened the path still writes to the old one). When
 * the path names another file, the followed one is looked for under
 * PATH.1 ... PATH.FOLLOW_MAX_ROTATED (logrotate's default), then under
 * logrotate's dated names (dateext: PATH- then digits and separators,
 * starting with a date not after tomorrow), the FOLLOW_MAX_ROTATED
 * newest: found under the
 * k-th newest (PATH.k), the files under the k-1th ... 1st newest names
 * (PATH.k-1 ... PATH.1) were rotated in between, and are read whole,
 * oldest first, before the new one. The cursor (inode and offset just past the
 * last delivered line, of the current file and of each rotated-away file
 * still read) lets a restart resume exactly, also from PATH.1 ... (or the
 * dated names) when the
 * file was rotated while pactod was down, and (with the head) from a copy
 * there when it was copied and truncated.
 * Limits: copytruncate itself loses what is written between the copy and
 * the truncation (logrotate documents this); nothing here can recover it.
 * A followed file rotated to another name (compressed at once, or a
 * dateformat with letters or not starting with the date) is still finished through its descriptor, but
 * files rotated in between are then not found.
 * Never: follows a symlink swapped in for the file (O_NOFOLLOW). */
#ifndef PACTO_SRC_FILE_H
#define PACTO_SRC_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sources/reader.h"

/* A file is known by its inode and by its head: a hash of its first
 * FILE_HEAD_BYTES bytes (fewer while it is shorter), as fail2ban knows a
 * log by its first line. The head tells a file rewritten in place (cut and
 * written again past where it was read, or while pactod was down) from the
 * same file, and the same lines under a new inode (sed -i, cp and mv) from
 * a new file. A log's first bytes hold its first line's time stamp, so two
 * different files do not share them. */
#define FILE_HEAD_BYTES 64

struct file_head {
	uint32_t len;      /* 0: unknown (an empty file, or a cursor saved before heads) */
	uint64_t hash;
};

/* Rotated-away files read on after a wake-up besides the current one (and
 * named in the cursor); past them, the oldest are read to their end and
 * left. */
#define FOLLOW_MAX_OLD 3
/* How far the followed file is looked for after a rotation: PATH.1 ...,
 * or the newest dated names. */
#define FOLLOW_MAX_ROTATED 9

/* Where reading stood in one file: offset just past its last delivered line. */
struct file_mark {
	uint64_t inode;
	uint64_t offset;
	struct file_head head;
};

struct file_cursor {
	uint64_t inode;
	uint64_t offset;
	struct file_head head;
	bool valid;
	/* The rotated-away files still read when it was taken (their writer
	 * may still append to them), oldest first. */
	struct file_mark old[FOLLOW_MAX_OLD];
	size_t nold;
};

/* The cursor as text, for the ledger: "INODE:OFFSET:HEADLEN:HEADHASH"
 * (decimal, decimal, decimal, 16 hex digits), then ",INODE:OFFSET:HEADLEN:HEADHASH"
 * for each rotated-away file still read, oldest first. */
#define FILE_CURSOR_TEXT ((FOLLOW_MAX_OLD + 1) * 64)
void follower_cursor_format(const struct file_cursor *c, char buf[FILE_CURSOR_TEXT]);

/* Parses follower_cursor_format's text; also the older forms: without the
 * rotated-away files, and "INODE:OFFSET" (saved before heads: head
 * unknown). Anything else (a sign, a space, a head longer than
 * FILE_HEAD_BYTES, more than FOLLOW_MAX_OLD rotated files, trailing bytes)
 * gives a cursor that is not valid. */
struct file_cursor follower_cursor_parse(const char *text);

struct follower_config {
	const char *path;
	bool from_start;            /* a new file is read from its start, not its end */
	struct file_cursor cursor;  /* where a previous run stopped, if valid */
	size_t max_line;
	unsigned grace_s;           /* how long a rotated-away file is read after it last grew; 0: 30 */
	reader_line_fn on_line;
	void *arg;
};

struct follower_stats {
	uint64_t lines, bytes, oversized, rotations, truncations;
};

struct follower;

/* Starts following. The file may not exist yet (it is picked up when it
 * appears); its directory must. Returns 0 or -1 with err filled. */
int follower_open(const struct follower_config *cfg, struct follower **out, char *err, size_t errlen)
	__attribute__((warn_unused_result));
void follower_close(struct follower *f);  /* accepts NULL */

/* The inotify descriptor to poll for readability. */
int follower_fd(const struct follower *f);

/* Reads whatever is new, handling rotation; call when follower_fd() is
 * readable (and from time to time: inotify can overflow). Returns 0, or -1
 * with err filled on something to log, each once until it changes: the
 * path cannot be opened (a permission, a symbolic link, not a regular
 * file: tried again at each call), a read error (the file stays open where
 * it stood and is read on at the next call), or a file taken as CR LF
 * whose lines end in LF (reader.h). */
int follower_process(struct follower *f, char *err, size_t errlen) __attribute__((warn_unused_result));

struct file_cursor follower_cursor(const struct follower *f);
void follower_get_stats(const struct follower *f, struct follower_stats *out);

#endif
