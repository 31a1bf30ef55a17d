/* flow_floor.c — how much an exact flow count costs at the least, for `make bench`: the bare pcap_next_ex loop of
 * pcap_loop.c plus one insert of each IPv4/IPv6 packet's 5-tuple into an open-addressing table emptied every 10 s
 * (Ethernet, one optional VLAN tag).  That counts the distinct 5-tuples of each interval: the `flows` column only,
 * without flows_new's memory across intervals, the flow lists a merge needs, or any other feature.  Its time over
 * the bare loop is a floor for the flows group alone. */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct slot { uint64_t a, b, c, gen; }; /* gen != the current interval's: empty; the key in three words */

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

static struct slot *table;
static uint64_t mask = (1u << 16) - 1, used, gen = 1;

static int insert(uint64_t a, uint64_t b, uint64_t c);

static uint64_t hash(uint64_t a, uint64_t b, uint64_t c) { return mix(a ^ mix(b ^ mix(c))); }

/* Keys wait in a batch whose slots are prefetched, so the cache misses of a batch overlap (as tpp does). */
enum { BATCH = 16 };
static struct slot batch[BATCH];
static int nbatch;

static int flush(void)
{
    for (int i = 0; i < nbatch; i++)
        if (insert(batch[i].a, batch[i].b, batch[i].c) != 0) return -1;
    nbatch = 0;
    return 0;
}

static int grow(void)
{
    struct slot *old = table;
    uint64_t oldn = mask + 1;
    mask = mask * 2 + 1;
    if (!(table = calloc(mask + 1, sizeof *table))) return -1;
    used = 0;
    for (uint64_t i = 0; i < oldn; i++)
        if (old[i].gen == gen) insert(old[i].a, old[i].b, old[i].c);
    free(old);
    return 0;
}

static int insert(uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t h = hash(a, b, c) & mask;
    while (table[h].gen == gen) {
        if (table[h].a == a && table[h].b == b && table[h].c == c) return 0;
        h = (h + 1) & mask;
    }
    table[h] = (struct slot){ a, b, c, gen };
    if (++used * 2 > mask) return grow();
    return 0;
}

static uint64_t load64(const u_char *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static uint32_t load32(const u_char *p) { uint32_t v; memcpy(&v, p, 4); return v; }

int main(int argc, char **argv)
{
    if (argc != 2) { fprintf(stderr, "usage: flow_floor FILE\n"); return 2; }
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline_with_tstamp_precision(argv[1], PCAP_TSTAMP_PRECISION_NANO, err);
    if (!p) { fprintf(stderr, "flow_floor: %s\n", err); return 1; }
    if (pcap_datalink(p) != DLT_EN10MB) { fprintf(stderr, "flow_floor: %s: not Ethernet\n", argv[1]); return 1; }
    if (!(table = calloc(mask + 1, sizeof *table))) return 1;
    struct pcap_pkthdr *h;
    const u_char *d;
    unsigned long long n = 0, flows = 0;
    long long interval_end = 0;
    int rc;
    while ((rc = pcap_next_ex(p, &h, &d)) == 1) {
        n++;
        long long t = (long long)h->ts.tv_sec * 1000000000 + h->ts.tv_usec;
        if (t >= interval_end) { /* a new 10 s interval: every slot becomes empty */
            if (flush() != 0) break;
            flows += used;
            used = 0;
            gen++;
            interval_end = (t / 10000000000LL + 1) * 10000000000LL;
        }
        uint32_t len = h->caplen, off = 14;
        if (len < 14) continue;
        unsigned type = d[12] << 8 | d[13];
        if (type == 0x8100 && len >= 18) type = d[16] << 8 | d[17], off = 18;
        uint64_t a, b, c;
        unsigned proto, ihl;
        if (type == 0x0800 && len >= off + 20) {
            ihl = (d[off] & 15u) * 4;
            proto = d[off + 9];
            a = load64(d + off + 12);
            b = 0;
            off += ihl;
        } else if (type == 0x86dd && len >= off + 40) {
            proto = d[off + 6];
            a = load64(d + off + 8) ^ load64(d + off + 16);
            b = load64(d + off + 24) ^ mix(load64(d + off + 32));
            off += 40;
        } else {
            continue;
        }
        c = proto;
        if ((proto == 6 || proto == 17) && len >= off + 4) c |= (uint64_t)load32(d + off) << 8;
        __builtin_prefetch(&table[hash(a, b, c) & mask]);
        batch[nbatch++] = (struct slot){ a, b, c, 0 };
        if (nbatch == BATCH && flush() != 0) break;
    }
    if (flush() != 0 || rc == 1) { fprintf(stderr, "flow_floor: out of memory\n"); return 1; }
    printf("%llu packets, %llu flows summed over 10 s intervals, table %llu MB\n", n, flows + used,
           (unsigned long long)((mask + 1) * sizeof *table >> 20));
    pcap_close(p);
    return rc == PCAP_ERROR ? 1 : 0;
}
