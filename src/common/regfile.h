/* regfile.h: opening a file that is read whole (a configuration, rule
 * files, a fail2ban filter, a treaty, a key) without blocking, refusing
 * anything that is not a regular file.
 * Why: open() of a FIFO waits for a writer, forever (`pacto rules check
 * --rules FIFO` hung); O_NONBLOCK returns at once, and fstat then tells a
 * regular file from a FIFO, a socket, a directory or a device. The readers
 * keep their own checks after it (owner, permissions, size). */
#ifndef PACTO_REGFILE_H
#define PACTO_REGFILE_H

#include <sys/stat.h>

enum regfile_flags {
	REGFILE_NOFOLLOW = 1,   /* a symbolic link is refused (O_NOFOLLOW) */
	REGFILE_OR_DEVICE = 2,  /* a character device will do: /dev/null read as an empty file */
};

/* Opens path read-only (O_CLOEXEC; O_NONBLOCK stays set, which changes
 * nothing for a regular file) and returns its descriptor, with *why NULL
 * and *st filled when st is not NULL. Otherwise -1, and *why says what is
 * wrong: open's or fstat's error, or "not a regular file (a FIFO)", "(a
 * socket)", "(a directory)", "(a device)"; a constant or strerror()'s
 * text. */
int regfile_open(const char *path, unsigned flags, struct stat *st, const char **why)
	__attribute__((warn_unused_result));

#endif
