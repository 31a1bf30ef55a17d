/* capture_readers.c — tpp's own pcap reader gives exactly the frames libpcap gives (readers_agree.h).
 *
 * Usage: capture_readers FILE...  Each file is compared without and with a BPF filter.  Built with ASan, so the
 * own reader is also checked never to read outside its buffer.
 */
#include "readers_agree.h"

int main(int argc, char **argv)
{
    static const char *const filters[] = { "", "tcp or udp port 53" };
    long frames = 0;
    int differences = 0;
    for (int i = 1; i < argc; i++)
        for (int k = 0; k < 2; k++) {
            char why[2 * TPP_ERRBUF_SIZE + 64];
            if (readers_agree(argv[i], filters[k], &frames, why, sizeof why) != 0) {
                fprintf(stderr, "%s [%s]: %s\n", argv[i], filters[k], why);
                differences++;
            }
        }
    printf("capture_readers: %d files, %ld frames compared, %d differences\n", argc - 1, frames, differences);
    return differences != 0;
}
