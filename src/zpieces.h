/* zpieces.h — one zlib stream (RFC 1950) deflated in pieces of fixed raw size, on up to two threads.
 *
 * The raw bytes are cut every ZPIECE_RAW bytes, whatever the threads or the timing; each piece is deflated on its
 * own (no history shared with the one before) and all but the last end byte-aligned with a full flush, so the
 * pieces join into one deflate stream after one zlib header, and the Adler-32 of the whole payload is combined
 * from theirs (as pigz does).  The stream's bytes thus depend only on the payload and the deflate library, never
 * on how many threads made them.  The caller owns the sink; the pieces' buffers are the stream's own: a few pieces
 * in flight, never a copy of the whole payload.
 */
#ifndef TPP_ZPIECES_H
#define TPP_ZPIECES_H

#include <stddef.h>
#include <stdint.h>

#define ZPIECE_RAW (1u << 20) /* raw bytes a piece: part of the format's bytes, never derived from the machine */

/* Where the stream's bytes go, in order: `crc` is the CRC-32 of p[0..n) (computed on the deflating thread); returns
 * 0, or an errno value that stops the stream. */
typedef int (*tpp_zpieces_sink)(void *ctx, const uint8_t *p, size_t n, uint32_t crc);

struct tpp_zpieces;

/* A new stream; `threads` 2 deflates on a second thread beside the caller's, 1 on the caller's only (the bytes are
 * the same).  NULL when memory ran out. */
struct tpp_zpieces *tpp_zpieces_open(unsigned threads, tpp_zpieces_sink sink, void *ctx);

/* The next n bytes of the payload.  `stable`: the bytes stay unchanged until tpp_zpieces_sync or _close returns, so
 * whole pieces are deflated where they lie instead of copied.  Returns 0 or the stream's first error (errno). */
int tpp_zpieces_put(struct tpp_zpieces *z, const uint8_t *p, size_t n, int stable);

/* A mark: the pieces handed over so far (all the whole pieces of the bytes put so far, stable ones included). */
uint64_t tpp_zpieces_mark(const struct tpp_zpieces *z);

/* Wait until the pieces up to `mark` are in the sink: the caller may then change the stable bytes put before it.
 * Returns 0 or the stream's first error. */
int tpp_zpieces_wait(struct tpp_zpieces *z, uint64_t mark);

/* The end of the payload: the last piece, the Adler-32 trailer; the raw and stored lengths when wanted.  Frees z
 * (also after an error, whose errno it returns). */
int tpp_zpieces_close(struct tpp_zpieces *z, uint64_t *raw, uint64_t *stored);

#endif
