/* regfile.c: a file to read whole, opened without blocking (see regfile.h). */
#include "common/regfile.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* Why st is refused, or NULL when it will do. */
static const char *refusal(const struct stat *st, unsigned flags)
{
	if (S_ISREG(st->st_mode) || (S_ISCHR(st->st_mode) && (flags & REGFILE_OR_DEVICE)))
		return NULL;
	if (S_ISFIFO(st->st_mode))
		return "not a regular file (a FIFO)";
	if (S_ISSOCK(st->st_mode))
		return "not a regular file (a socket)";
	if (S_ISDIR(st->st_mode))
		return "not a regular file (a directory)";
	return "not a regular file (a device)";
}

int regfile_open(const char *path, unsigned flags, struct stat *st, const char **why)
{
	struct stat own;
	st = st ? st : &own;
	/* O_NONBLOCK: opening a FIFO would wait for a writer. */
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | (flags & REGFILE_NOFOLLOW ? O_NOFOLLOW : 0));
	if (fd < 0) {
		*why = strerror(errno);
		return -1;
	}
	*why = fstat(fd, st) != 0 ? strerror(errno) : refusal(st, flags);
	if (*why) {
		close(fd);
		return -1;
	}
	return fd;
}
