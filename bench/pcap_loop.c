/* pcap_loop.c — the baseline for `make bench`: a bare libpcap pcap_next_ex loop that touches each packet's
 * header and first byte, so the comparison is tpp against "just reading the file with libpcap". */
#include <pcap/pcap.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc != 2) { fprintf(stderr, "usage: pcap_loop FILE\n"); return 2; }
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline_with_tstamp_precision(argv[1], PCAP_TSTAMP_PRECISION_NANO, err);
    if (!p) { fprintf(stderr, "pcap_loop: %s\n", err); return 1; }
    struct pcap_pkthdr *h;
    const u_char *data;
    unsigned long long n = 0, bytes = 0, sum = 0;
    int rc;
    while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
        n++;
        bytes += h->caplen;
        sum += h->caplen ? data[0] : 0;
    }
    printf("%llu packets, %llu bytes captured (checksum %llu)\n", n, bytes, sum);
    pcap_close(p);
    return rc == PCAP_ERROR ? 1 : 0;
}
