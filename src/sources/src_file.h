/* src_file.h: follows one log file live, through rotation.
 * Why: pactod reads auth.log as sshd writes it; logrotate renames and
 * recreates it, or copies and truncates it, or an admin deletes and
 * recreates it, and no line may be lost or counted twice across any of that.
 * Guarantees: lines are delivered once, in order, complete (a line without
 * its newline waits for it; the last line of a rotated-away file is
 * delivered when the file is left). Memory is one fixed buffer; a line
 * longer than max_line is dropped whole and counted. The cursor (inode and
 * offset just past the last delivered line) lets a restart resume exactly,
 * also from PATH.1 when the file was rotated while pactod was down, and
 * (with the head) from PATH.1 when it was copied there and truncated.
 * Limits: copytruncate itself loses what is written between the copy and
 * the truncation (logrotate documents this); nothing here can recover it.
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

struct file_cursor {
	uint64_t inode;
	uint64_t offset;
	struct file_head head;
	bool valid;
};

struct follower_config {
	const char *path;
	bool from_start;            /* a new file is read from its start, not its end */
	struct file_cursor cursor;  /* where a previous run stopped, if valid */
	size_t max_line;
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
