/* tpp/capture.h — reading pcap and pcapng captures, plain or compressed (gzip, zstd, xz), from a file or stdin.
 *
 * A capture is opened by path ("-" is stdin); compression is recognised by its magic bytes and undone while
 * reading, never to disk or into memory whole.  The capture owns its packet buffer: the data pointer returned by
 * tpp_capture_next() is valid until the next call.  Errors go to the caller's buffer; nothing is printed.
 * A pcapng capture may hold interfaces of different link types: each frame carries its own.
 */
#ifndef TPP_CAPTURE_H
#define TPP_CAPTURE_H

#include <stdint.h>
#include <stddef.h>

#include "tpp/error.h"

struct tpp_capture;

struct tpp_frame {
    int64_t ts_ns;
    uint32_t caplen;
    uint32_t wirelen;
    int linktype;         /* LINKTYPE_ number of the frame's interface */
    const uint8_t *data;
};

/* Open `path` with an optional BPF `filter` (NULL or "" for none).  Returns NULL and fills `err` (errlen bytes,
 * TPP_ERRBUF_SIZE is enough) on failure; the message does not repeat the path. */
struct tpp_capture *tpp_capture_open(const char *path, const char *filter, char *err, size_t errlen);

/* The records in bytes [from, to) of a classic pcap file (a chunk: tpp/split.h), or the whole file when both are
 * 0; for a gzip-compressed one, offsets in its uncompressed bytes, read through its index (tpp/gzindex.h).  Reading
 * fails when a record crosses `to` or the file ends before it: the limits were not record boundaries. */
struct tpp_gzindex;
struct tpp_capture *tpp_capture_open_range(const char *path, const char *filter, uint64_t from, uint64_t to,
                                           const struct tpp_gzindex *index, char *err, size_t errlen);

/* Who parses the file: tpp reads pcapng and classic pcap itself and leaves old or patched pcap variants to
 * libpcap (AUTO), or libpcap reads everything (LIBPCAP, for the tests that check that both give the same
 * frames). */
enum tpp_capture_reader { TPP_CAPTURE_AUTO, TPP_CAPTURE_LIBPCAP };
struct tpp_capture *tpp_capture_open_with(const char *path, const char *filter, enum tpp_capture_reader reader,
                                          char *err, size_t errlen);

/* Next frame: 1 read, 0 end of capture, -1 error (tpp_capture_error() says what; a truncated file is one). */
int tpp_capture_next(struct tpp_capture *cap, struct tpp_frame *frame);

/* The link type of the capture (pcapng: of its first interface). */
int tpp_capture_linktype(const struct tpp_capture *cap);
/* Is the capture compressed, decompressed on a thread of its own? */
int tpp_capture_inflates(const struct tpp_capture *cap);
/* Does the last frame's timestamp knowingly differ from libpcap 1.10's, for the reader-agreement test?  libpcap
 * reads the 32-bit fields of a pcap file in this machine's byte order as signed (a time at or after 2038 comes
 * out negative), its arithmetic for power-of-2 pcapng resolutions finer than 2^-34 s overflows, and it dates a
 * pcapng simple packet block to 1970 (tpp gives it the time of the packet before it). */
int tpp_capture_ts_unlike_libpcap(const struct tpp_capture *cap);
const char *tpp_capture_error(const struct tpp_capture *cap);
/* Bytes consumed from the file so far (compressed bytes when compressed) and the file's size (0 when unknown). */
uint64_t tpp_capture_bytes_read(const struct tpp_capture *cap);
uint64_t tpp_capture_file_size(const struct tpp_capture *cap);

void tpp_capture_close(struct tpp_capture *cap);

/* What a file is by its first bytes head[0..n) (TPP_CAPTURE_KIND_BYTES are enough): "pcap", "pcapng", or the
 * compressor tpp reads it through ("gzip", "zstd", "xz"); or NULL with the reason in err (an empty file, a
 * compressor tpp does not read: "bzip2-compressed: decompress it first", unknown magic bytes). */
enum { TPP_CAPTURE_KIND_BYTES = 8 };
const char *tpp_capture_kind(const uint8_t *head, size_t n, char *err, size_t errlen);

#endif
