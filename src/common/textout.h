/* textout.h: a whole text written to a stdio stream, and the stream
 * closed, with the error of the call that failed.
 * Why: stdio reports a failed write late and in several places (fputs
 * while it flushes its buffer, fflush, fclose), and errno read after the
 * last of them may belong to a later call that succeeded (a close may set
 * it and return 0), or to none: `pacto import-fail2ban --out` printed
 * whatever errno held at the end. Here it is taken where the failure is
 * seen. */
#ifndef PACTO_TEXTOUT_H
#define PACTO_TEXTOUT_H

#include <stdbool.h>
#include <stdio.h>

/* Writes text to f, flushes it, and with close_it closes it (whatever
 * happened before: f is gone then). Returns 0, or the errno of the first
 * call that failed (EIO when that call set none). */
int textout_write(FILE *f, const char *text, bool close_it) __attribute__((warn_unused_result));

#endif
