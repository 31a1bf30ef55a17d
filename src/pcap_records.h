/* pcap_records.h — the classic pcap file format, as tpp reads it itself (capture.c).
 *
 * Only the format libpcap writes today is read here: version 2.4, microsecond or nanosecond magic, either byte
 * order, no link-type extension bits.  Anything else is left to libpcap.  The rules follow libpcap's own
 * reader, so that both give the same frames: timestamps are unsigned 32-bit seconds and fractions (libpcap
 * reads them as signed in a file of this machine's byte order: the one difference), a snapshot length of 0 or
 * above the maximum means the maximum, a record longer than the maximum is an error, and one longer than the
 * snapshot length is cut to it.
 */
#ifndef TPP_PCAP_RECORDS_H
#define TPP_PCAP_RECORDS_H

#include "tpp/capture.h"

#include <stddef.h>
#include <stdint.h>

enum {
    PCAP_FILE_HEADER_SIZE = 24,
    PCAP_RECORD_HEADER_SIZE = 16,
    PCAP_MAX_SNAPLEN = 262144, /* libpcap's limit for the link types tpp decodes */
};

/* The magic numbers that open a classic pcap file, in the byte order of the machine that wrote it. */
enum {
    PCAP_MAGIC_MICRO = 0xa1b2c3d4,
    PCAP_MAGIC_NANO = 0xa1b23c4d,
    PCAP_MAGIC_MODIFIED = 0xa1b2cd34, /* Kuznetzov's patched pcap: libpcap reads it, tpp leaves it to libpcap */
};

struct pcap_records {
    int swapped;          /* written in the other byte order */
    int64_t frac_ns;      /* nanoseconds per unit of the timestamp's fraction: 1000 or 1 */
    uint32_t snapshot;
    int linktype;
};

/* Recognise a file header: 0 when tpp reads the file itself, -1 when libpcap should. */
int pcap_records_open(struct pcap_records *r, const uint8_t header[PCAP_FILE_HEADER_SIZE]);

/* Read a record header into f (all but f->data) and *stored, the bytes of packet data that follow it;
 * *unlike_libpcap tells whether libpcap reads this timestamp differently.  0, or -1 with a message in err when
 * the record cannot be right. */
int pcap_records_header(const struct pcap_records *r, const uint8_t header[PCAP_RECORD_HEADER_SIZE],
                        struct tpp_frame *f, uint32_t *stored, int *unlike_libpcap, char *err, size_t errlen);

#endif
