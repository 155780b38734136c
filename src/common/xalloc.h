/* xalloc.h: allocation that cannot fail (ends the process instead).
 * Why: at startup and for bounded tables sized from configuration, running
 * out of memory leaves nothing sensible to do; callers stay simple. */
#ifndef PACTO_XALLOC_H
#define PACTO_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
void *xreallocarray(void *ptr, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#endif
