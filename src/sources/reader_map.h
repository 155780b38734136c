/* reader_map.h: reads a regular file through a read-only mapping instead
 * of read(), handing the framing function the same windows reader_run()
 * would: at most READER_BUFFER bytes from the first byte not yet used,
 * with the same at_eof and full flags, so framing sees the same records.
 * Why: read() copies every byte out of the page cache; on a replay of a
 * 1M-line log on one CPU that copy was ~6% of the time and the mapping
 * saved ~4% of the wall time (docs/performance.md, "Session 6").
 * Guarantees: at most READER_MAP_SPAN bytes are mapped at a time (the
 * mapping moves along the file; twice that with a reader_share, below),
 * so a replay's resident memory does not grow with the file; without a
 * share, what was framed is given back to the page cache every MiB, so
 * at most ~1 MiB of the file counts in the resident set. The file is read up to the size it had when the
 * call began; bytes appended later are not read. A file that shrinks
 * (truncated, or rotated by copying) cannot crash the process:
 *  - found smaller before a framing call (the size is checked before
 *    each), the read ends at the new end as read() would end there, and
 *    the call returns READER_SHRANK;
 *  - shrinking during a call, the pages past the new end read as zeros (a
 *    SIGBUS handler maps zero pages there while the call runs) and the
 *    read stops after that call with READER_SHRANK; what that call framed
 *    past the new end was zeros: at most one more record counted as
 *    oversized, or one last line holding NUL bytes, which no anchored
 *    pattern matches.
 * A shrink followed by new writes past the read position before they are
 * read is not seen: those bytes are read as they are then. Not for
 * anything but regular files; other descriptors go to reader_run(), and a
 * file that cannot be mapped is read with it (from where the mapping
 * failed, if it fails midway).
 * Threads: the mapping is read on the calling thread, inside the
 * framing function; bytes handed to it are valid only during the call,
 * as with reader_run(), unless a reader_share says otherwise (below).
 * One call at a time per process (the SIGBUS handler knows one call's
 * mappings; a fault inside them on any thread is handled alike). */
#ifndef PACTO_READER_MAP_H
#define PACTO_READER_MAP_H

#include "sources/reader.h"

/* Bytes mapped at a time: above one window (READER_BUFFER) plus a page,
 * so a window always lies inside one mapping. */
#define READER_MAP_SPAN (8u * 1024 * 1024)

/* The file shrank while it was read: what followed its new end was not read. */
#define READER_SHRANK (-2)

/* Reads fd to its end: through a mapping when it is a non-empty regular
 * file that can be mapped, else through reader_run(). Returns 0, -1 with
 * errno set on a read error (EIO for a SIGBUS in a file that did not
 * shrink: the disk failed), or READER_SHRANK. */
int reader_run_file(int fd, reader_frame_fn frame, void *arg, struct reader_stats *stats)
	__attribute__((warn_unused_result));

/* For a framing function whose bytes are read after its call returns, on
 * other threads (scan_pool_feed_block_shared: no copy). While mapped is
 * true, the bytes handed to it stay readable and unchanged until they are
 * released: when the mapping moves, the reader calls retire(arg) (the
 * bytes handed so far are from the old mapping), and at the next move,
 * or at the end, release(arg) first, which must return only once nothing
 * reads the bytes handed before the last retire(); then the old mapping
 * goes. So the sharer's threads need not stop at each move, and at most
 * two mappings are kept. A shrink met by those threads is seen at the
 * next call or release: pages past the new end read as zeros there too,
 * so each batch of bytes in flight may end in one record of NULs
 * (counted as oversized, or a line no anchored pattern matches), and the
 * read ends with READER_SHRANK. The bytes are read more than once (the
 * scan pool matches a line, then reads its time and host when it applies
 * it): lines in flight when the file shrinks, or is written over in
 * place, may be applied with their time gone (counted as bad times, read
 * at the latest time), though what they matched, address included, is
 * what the file held when they were scanned. mapped is false when the bytes come from
 * read() (a pipe, a file that cannot be mapped, or the rest of one whose
 * mapping failed): valid only during the call. */
struct reader_share {
	void (*retire)(void *arg);
	void (*release)(void *arg);
	void *arg;
	bool mapped;   /* set by the reader */
};

/* reader_run_file(), telling share (NULL: none) when its bytes outlive a call. */
int reader_run_file_shared(int fd, reader_frame_fn frame, void *arg, struct reader_stats *stats,
			   struct reader_share *share) __attribute__((warn_unused_result));

#endif
