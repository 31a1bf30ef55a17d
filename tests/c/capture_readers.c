/* capture_readers.c — tpp's own pcap and pcapng readers give exactly the frames libpcap gives, but for the
 * differences readers_agree.h lists.
 *
 * Usage: capture_readers FILE...  Each file is compared without and with a BPF filter.  Built with ASan, so the
 * own readers are also checked never to read outside their buffer.
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
