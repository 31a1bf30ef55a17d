/* tpp/writer.h — writing pcap / pcapng captures (plain or gzip), for tests, generators and tools.
 *
 * The writer owns its stream; tpp_writer_close() flushes, closes and frees it, reporting any write error.
 */
#ifndef TPP_WRITER_H
#define TPP_WRITER_H

#include <stdint.h>
#include <stddef.h>

enum tpp_writer_format { TPP_WRITE_PCAP, TPP_WRITE_PCAPNG };

struct tpp_writer_options {
    enum tpp_writer_format format;
    int nanosecond;     /* pcap: nanosecond magic (a1b23c4d) instead of microseconds */
    int gzip;           /* gzip-compress the output */
    uint32_t snaplen;   /* header snap length; records longer than this are cut to it */
};

struct tpp_writer;

struct tpp_writer *tpp_writer_open(const char *path, int linktype, const struct tpp_writer_options *opts,
                                   char *err, size_t errlen);
/* Write one record: `caplen` bytes of `data` (cut to snaplen), original length `wirelen` (>= caplen). */
int tpp_writer_write(struct tpp_writer *w, int64_t ts_ns, const uint8_t *data, uint32_t caplen, uint32_t wirelen);
/* Finish the capture and put it in place: 0 on success, -1 with err filled when anything failed to be written
 * (then nothing is left at the path).  Frees the writer. */
int tpp_writer_close(struct tpp_writer *w, char *err, size_t errlen);
/* Give up: remove what was written (the target is left as it was before tpp_writer_open).  Frees the writer. */
void tpp_writer_abort(struct tpp_writer *w);

#endif
