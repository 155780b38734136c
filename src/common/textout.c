/* textout.c: a text written whole to a stdio stream (see textout.h). */
#include "common/textout.h"

#include <errno.h>

/* The error of the call that has just failed; errno was cleared before it. */
static int failure(void)
{
	return errno ? errno : EIO;
}

int textout_write(FILE *f, const char *text, bool close_it)
{
	int err = 0;
	/* fputs may fail while it flushes a full buffer and still return
	 * success for what it buffered after: its error flag tells. */
	errno = 0;
	if (fputs(text, f) == EOF || ferror(f))
		err = failure();
	errno = 0;
	if (fflush(f) != 0 && !err)
		err = failure();
	errno = 0;
	if (close_it && fclose(f) != 0 && !err)
		err = failure();
	return err;
}
