/* zpieces.h — zlib streams (RFC 1950) deflated in pieces of fixed raw size, by the caller and at most one helper.
 *
 * A stream's raw bytes are cut every ZPIECE_RAW bytes, whatever the threads or the timing; each piece is deflated
 * on its own (no history shared with the one before) and all but the last end byte-aligned with a full flush, so
 * the pieces join into one deflate stream after one zlib header, and the Adler-32 of the whole payload is
 * combined from theirs (as pigz does).  A stream's bytes thus depend only on its payload and the deflate library,
 * never on the threads that made them.
 *
 * One `struct tpp_zpieces` is a crew: the caller's thread and, when the process may use two processors, a helper
 * thread, kept for several streams one after the other, and able to run one other task (half of a payload's making,
 * say) before the pieces.  Only the caller's thread calls the sink.  The crew owns the pieces' buffers: a few pieces
 * in flight, never a copy of a whole payload.
 */
#ifndef TPP_ZPIECES_H
#define TPP_ZPIECES_H

#include <stddef.h>
#include <stdint.h>

#define ZPIECE_RAW (1u << 20) /* raw bytes a piece: it shapes the stream's bytes, so never derived from the machine */

/* Where a stream's bytes go, in order: `crc` is the CRC-32 of p[0..n) (computed on the deflating thread); returns
 * 0, or an errno value that stops the stream. */
typedef int (*tpp_zpieces_sink)(void *ctx, const uint8_t *p, size_t n, uint32_t crc);

struct tpp_zpieces;

/* A crew of `threads` (at most 2; 1 when the process may use only one processor: the bytes are the same).  NULL
 * when memory ran out. */
struct tpp_zpieces *tpp_zpieces_open(unsigned threads);

/* Start a stream (its zlib header goes to the sink).  Returns 0 or an errno value. */
int tpp_zpieces_begin(struct tpp_zpieces *z, tpp_zpieces_sink sink, void *ctx);

/* The next n bytes of the stream's payload.  `stable`: the bytes stay unchanged until tpp_zpieces_wait for a mark
 * after them or tpp_zpieces_end returns, so whole pieces are deflated where they lie instead of copied.  Returns 0
 * or the stream's first error (errno). */
int tpp_zpieces_put(struct tpp_zpieces *z, const uint8_t *p, size_t n, int stable);

/* A mark: the pieces handed over so far (all the whole pieces of the bytes put so far). */
uint64_t tpp_zpieces_mark(const struct tpp_zpieces *z);

/* Wait until the pieces up to `mark` are in the sink: the caller may then change the stable bytes put before it.
 * Returns 0 or the stream's first error. */
int tpp_zpieces_wait(struct tpp_zpieces *z, uint64_t mark);

/* End the stream: its last piece, its Adler-32 trailer; its raw and stored lengths.  Returns 0 or its first error;
 * the crew is ready for another stream either way. */
int tpp_zpieces_end(struct tpp_zpieces *z, uint64_t *raw, uint64_t *stored);

/* Run fn(arg) on the helper, before the pieces it has not taken yet (on the caller's thread, now, without a helper);
 * one task at a time: tpp_zpieces_task_wait before the next. */
void tpp_zpieces_task(struct tpp_zpieces *z, void (*fn)(void *), void *arg);

/* Wait until the task is done (at once when there is none). */
void tpp_zpieces_task_wait(struct tpp_zpieces *z);

/* Stop the helper and free the crew (NULL is fine); a stream not ended is dropped, a task is waited for. */
void tpp_zpieces_close(struct tpp_zpieces *z);

#endif
