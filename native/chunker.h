/* Content-defined chunker compatible with casync and desync.
 *
 * Rolling buzhash over a 48-byte window, casync's 256-entry table, boundary where
 * hash % discriminator == discriminator - 1, discriminator derived from the average size as
 * casync does. The hash restarts at every chunk start, so a chunk's length depends only on the
 * bytes from its start: callers keep the unconsumed tail of a buffer and call again.
 */
#ifndef ARIA_CHUNKER_H
#define ARIA_CHUNKER_H

#include <stddef.h>
#include <stdint.h>

#define ARIA_CHUNKER_WINDOW 48

uint32_t aria_chunker_discriminator(uint64_t avg);

/* Length of the chunk starting at buf[0], or 0 when more input is needed
 * (len < max and eof == 0). */
size_t aria_chunker_next(const uint8_t *buf, size_t len, size_t min, size_t max,
                         uint32_t discriminator, int eof);

/* Cuts as many whole chunks as `buf` holds, writing each chunk's end offset (relative to buf)
 * to ends[]; stops at `cap` chunks or when the rest needs more input. Returns the count. */
size_t aria_chunker_cut(const uint8_t *buf, size_t len, size_t min, size_t max,
                        uint32_t discriminator, int eof, uint64_t *ends, size_t cap);

#endif
