/* zstd_xz.h — zstd and xz decompression for the inflater (inflate.c), one interface for both.
 *
 * A decoder takes compressed input as it comes and writes decompressed bytes into the caller's buffer.  Both
 * formats may hold several concatenated frames (zstd) or streams (xz); they are read in turn, as the `zstd` and
 * `xz` tools read them.  At the end of the input the decoder tells a complete stream from a truncated one.
 */
#ifndef TPP_ZSTD_XZ_H
#define TPP_ZSTD_XZ_H

#include <stddef.h>
#include <stdint.h>

enum stream_format { STREAM_ZSTD, STREAM_XZ };

struct stream_decoder;

/* NULL with a message in err when out of memory. */
struct stream_decoder *stream_decoder_new(enum stream_format format, char *err, size_t errlen);

/* Decode from *in (advancing it and *in_len) into out; *produced bytes were written.  `at_eof`: no input will
 * follow.  *ended is set when the data ended cleanly at a frame or stream boundary with nothing left to write.
 * 0, or -1 with a message (corrupt data; truncated data once at_eof and nothing more comes out). */
int stream_decoder_run(struct stream_decoder *d, const uint8_t **in, size_t *in_len, uint8_t *out, size_t out_len,
                       int at_eof, size_t *produced, int *ended, char *err, size_t errlen);

void stream_decoder_free(struct stream_decoder *d);

#endif
