/* tpp/result.h — the per-interval statistics of one capture, as produced by the aggregator (tpp/aggregate.h)
 * and, later, restored from a dump.
 *
 * A tpp_result owns all its memory; tpp_result_free() releases it.  Readers borrow pointers into it.
 */
#ifndef TPP_RESULT_H
#define TPP_RESULT_H

#include <stddef.h>
#include <stdint.h>

enum tpp_boundary { TPP_BOUNDARY_ALIGNED, TPP_BOUNDARY_PACKET };
enum tpp_ipmode { TPP_IP_ANY, TPP_IP_V4, TPP_IP_V6 };
/* Where aligned intervals start: at multiples of delta since the epoch (captures of one link share boundaries), or
 * at the first packet.  The packet boundary mode starts its intervals at packets and ignores this. */
enum tpp_anchor { TPP_ANCHOR_EPOCH, TPP_ANCHOR_FIRST };
/* Which intervals keep their per-address counts (what an exact merge needs): the first and last interval, where
 * consecutive pieces of a trace meet, or every interval, for pieces that overlap in time. */
enum tpp_keep_tables { TPP_TABLES_EDGES, TPP_TABLES_ALL };
/* Which IP header of a tunnelled packet (GRE, IP in IP, VXLAN, Geneve, GTP-U, Teredo) is analysed: the outermost,
 * as the link carries it, or the innermost.  The packet boundary mode with ip v4 (--compat) classifies as the
 * original tool did instead, whatever this says (tpp/packet.h). */
enum tpp_encap { TPP_ENCAP_OUTER, TPP_ENCAP_INNER };

struct tpp_options {
    int64_t delta_ns;          /* interval length, nanoseconds, > 0 */
    enum tpp_boundary boundary;
    enum tpp_ipmode ip;
    enum tpp_anchor anchor;
    uint64_t max_packets;      /* 0 = all */
    uint64_t max_intervals;    /* 0 = all */
    int64_t max_gap_ns;        /* a longer run of empty intervals ends a segment instead of being emitted */
    enum tpp_keep_tables keep_tables;
    enum tpp_encap encap;
    /* A chunk of a split capture (tpp/split.h): the records in bytes [range_from, range_to) of a classic pcap
     * (0, 0: the whole file; in a result, range_to 0 when the chunk ran to the end of the file), and the time of
     * the record before them, which gives the first one its inter-arrival time as one pass would (has_prev). */
    uint64_t range_from, range_to;
    int64_t prev_ns;
    int has_prev;
    char index[1024];          /* a gzip capture's chunk: the index to read it through (tpp/gzindex.h); "" none */
    /* The research features (the groups of enum tpp_feature): their columns are NaN and their state empty when
     * the group is off; pieces merge only with the same groups and parameters. */
    unsigned features;         /* TPP_FEAT_* bits; TPP_FEAT_ALL by default */
    int64_t flow_timeout_ns;   /* a flow's packet after a longer silence starts a new flow (flows_new); 60 s */
    uint32_t hh_k;             /* heavy hitters kept per interval and dimension; 10 */
    double hhh_phi;            /* hierarchical heavy hitters: residual share at least this; 0.05 */
    char filter[1024];         /* BPF expression, "" for none */
};

/* Feature groups (options.features).  Each group's columns and state are listed in docs/lua-api.md. */
enum tpp_feature {
    TPP_FEAT_PORTS = 1 << 0,    /* entropy_{tcp,udp}_{src,dst}: from the port histograms, always kept */
    TPP_FEAT_PREFIXES = 1 << 1, /* src_p24 .. entropy_dst_p24 */
    TPP_FEAT_FLOWS = 1 << 2,    /* flows, flows_new, fanout_max */
    TPP_FEAT_NOVELTY = 1 << 3,  /* new_src, new_dst */
    TPP_FEAT_HEADERS = 1 << 4,  /* synack, rst, frag, ttl_mean, len_p50, len_p95 */
    TPP_FEAT_HH = 1 << 5,       /* heavy hitters and hierarchical heavy hitters (r:heavy_hitters, hh/ files) */
    TPP_FEAT_ALL = (1 << 6) - 1,
};
extern const char *const tpp_feature_names[]; /* "ports", "prefixes", "flows", "novelty", "headers", "hh"; NULL */

void tpp_options_default(struct tpp_options *o);

/* t rounded down to a multiple of d (d > 0): the epoch grid's interval start of time t, also for negative t;
 * saturates at INT64_MIN. */
static inline int64_t tpp_floor_multiple(int64_t t, int64_t d)
{
    int64_t q = t / d, m;
    if (t % d < 0) q--;
    return __builtin_mul_overflow(q, d, &m) ? INT64_MIN : m;
}

/* A run of more empty intervals than this ends a segment whatever max_gap says: silence at a fine delta_t would
 * otherwise cost ~300 bytes a row, millions of rows per gap. */
#define TPP_MAX_EMPTY_RUN 100000
/* Whether `empty` empty intervals between two rows with packets end the segment (the aggregator's and the merge's
 * one rule). */
static inline int tpp_gap_ends_segment(int64_t empty, const struct tpp_options *o)
{
    return empty > TPP_MAX_EMPTY_RUN || empty > o->max_gap_ns / o->delta_ns;
}

/* Streaming central moments of inter-arrival times in nanoseconds (Pébay's update; merged with his pairwise
 * formulas), with the exact integer sum that gives the mean. */
struct tpp_moments {
    uint64_t n;
    int64_t sum;               /* saturating */
    double mean, m2, m3, m4;
};

/* One row of the critical table, and the state that lets two partial rows of the same interval be merged. */
struct tpp_interval {
    int64_t start_ns, end_ns;
    uint64_t packets, ip_packets, ip_bytes, src_ips, dst_ips;
    double f2_src, f2_dst;
    double iat_mean, iat_std, iat_skew, iat_kurt;
    double entropy_src, entropy_dst;
    double avg_len, icmp_frac, tcp_frac, udp_frac;
    uint64_t syn, fin, tcp_port_packets, udp_port_packets;
    uint64_t segment;          /* 0-based: segments are separated by gaps longer than max_gap */
    int64_t covered_ns;        /* the part of the interval between its segment's first and last packet */
    /* The research features, all doubles so that undefined (or a group switched off) is NaN; counts are whole
     * numbers.  Formulas: docs/lua-api.md. */
    double entropy_tcp_src, entropy_tcp_dst, entropy_udp_src, entropy_udp_dst;
    double src_p24, dst_p24, src_p16, dst_p16, entropy_src_p24, entropy_dst_p24;
    double flows, flows_new, fanout_max, new_src, new_dst;
    double synack, rst, frag, ttl_mean, len_p50, len_p95;
    /* Ground truth (tpp/labels.h): IP packets matching an anomaly of each type, and the anomalies of each type
     * whose window overlaps the interval; NaN when the parse had no labels. */
    double anomalous_pkts, suspicious_pkts, notice_pkts, anomalous_events, suspicious_events, notice_events;
    /* merge state, not columns */
    int64_t first_ns, last_ns; /* earliest and latest packet timestamp in the interval; 0 when it has none */
    uint64_t icmp, tcp, udp;   /* IP packets of each protocol (the shares' numerators) */
    struct tpp_moments iat;
    uint64_t iat_lost;         /* 1 when interleaved streams were merged here: the IAT moments cannot be known */
    uint64_t non_ip, malformed, truncated, backwards; /* the summary's counters, per interval */
    uint64_t encapsulated;     /* packets that had a tunnel (the summary's encapsulated_packets), per interval */
    uint64_t ttl_sum;          /* Σ TTL / hop limit of the IP packets (ttl_mean's numerator) */
};

/* Column descriptions: the same table serves "all columns" (the TSV) and "one column" (Lua's r:column). */
enum tpp_coltype { TPP_COL_INDEX, TPP_COL_TIME, TPP_COL_COUNT, TPP_COL_REAL }; /* TIME: int64 ns */
struct tpp_column {
    const char *name;
    enum tpp_coltype type;
    size_t offset;             /* into struct tpp_interval; unused for TPP_COL_INDEX */
};
extern const struct tpp_column tpp_columns[];
extern const size_t tpp_ncolumns;
const struct tpp_column *tpp_column_find(const char *name);
/* Value of a column for one interval, as a double (times in seconds). */
double tpp_column_value(const struct tpp_column *c, const struct tpp_interval *iv, size_t index);
/* The per-interval merge state in the same form (saved in dumps beside the columns). */
extern const struct tpp_column tpp_state_fields[];
extern const size_t tpp_nstate_fields;

/* The covered part of interval iv when its segment's packets span [seg_first, seg_last] (ns). */
int64_t tpp_covered_ns(const struct tpp_interval *iv, int64_t seg_first, int64_t seg_last);

/* The four port series. */
enum { TPP_TCP_SRC, TPP_TCP_DST, TPP_UDP_SRC, TPP_UDP_DST, TPP_NSERIES };
extern const char *const tpp_series_names[TPP_NSERIES];
int tpp_series_find(const char *name); /* -1 when unknown */

/* Sparse histograms of one series, packed: interval i's entries are the bytes [offsets[i], offsets[i+1]) of
 * `bytes`, ports ascending, each entry a varint gap (the port minus the previous port minus 1; for the first
 * entry, the port itself) and a varint count (LEB128, as in the dump format).  That is 2 to 3 bytes an entry
 * instead of 8: on a long trace the histograms are most of a result's memory.  Read them with a cursor. */
struct tpp_port_series {
    uint8_t *bytes;
    size_t nbytes, cap;
    uint64_t *offsets;         /* nintervals + 1 byte offsets */
    uint64_t nitems;           /* entries in all intervals */
    int32_t last;              /* the interval being filled: its last port so far, -1 before the first */
};

struct tpp_port_cursor {
    const uint8_t *p, *end;
    int64_t port;
};

/* Position a cursor on the entries of one series in one interval; tpp_ports_next() then yields them in port
 * order, returning 1 per entry and 0 at the end. */
struct tpp_result;
void tpp_ports_open(const struct tpp_result *r, int series, size_t interval, struct tpp_port_cursor *c);
int tpp_ports_next(struct tpp_port_cursor *c, uint32_t *port, uint32_t *count);

/* The per-address packet counts of one interval, sorted by (family, address): the canonical order makes the
 * tables of two pieces merge by one sorted pass.  entries[0..nsrc) are sources, then ndst destinations. */
struct tpp_addr_count {
    uint8_t addr[16];          /* IPv4: the last 4 bytes */
    uint64_t ipv;              /* 4 or 6 */
    uint64_t count;
    uint64_t bytes;            /* Σ IP length of those packets (heavy hitters); 0 when TPP_FEAT_HH is off */
};
/* A 5-tuple: addresses as in tpp_packet (IPv4-mapped), ports 0 for protocols other than TCP and UDP or when the
 * ports were not captured.  Ordered by memcmp of the whole struct (no padding: 38 bytes). */
struct tpp_flow_key {
    uint8_t src[16], dst[16];
    uint8_t sport[2], dport[2]; /* big-endian, so that memcmp orders by port */
    uint8_t proto, ipv;
};
/* A sparse histogram entry: IP length -> packets, or port -> bytes. */
struct tpp_value_count {
    uint64_t value, count;
};
/* One interval's full tables (all arrays owned by the result, each sorted ascending: addresses by (ipv, addr) as
 * before, flows by memcmp, histograms by value): what a merge needs to recompute a joined interval exactly. */
struct tpp_addr_counts {
    uint64_t interval;         /* 0-based index into the result's rows */
    uint32_t nsrc, ndst;
    struct tpp_addr_count *e;
    uint32_t nflows;           /* TPP_FEAT_FLOWS: the interval's distinct 5-tuples */
    struct tpp_flow_key *flows;
    uint32_t nlens;            /* TPP_FEAT_HEADERS: IP length -> packets */
    struct tpp_value_count *lens;
    uint32_t nport_bytes[2];   /* TPP_FEAT_HH: TCP and UDP destination port -> bytes */
    struct tpp_value_count *port_bytes[2];
};
void tpp_addr_counts_free(struct tpp_addr_counts *t); /* frees the arrays, not t */

/* Whole-piece state of the features that look back in time (result.seen, result.flow_head/flow_tail). */
struct tpp_seen {              /* TPP_FEAT_NOVELTY: an address and the interval it was first seen in */
    uint8_t addr[16];
    uint32_t ipv;
    uint32_t first;            /* 0-based interval index */
};
struct tpp_flow_mark {         /* TPP_FEAT_FLOWS: a flow and the time and interval of one of its packets */
    struct tpp_flow_key key;
    uint32_t interval;
    int64_t ns;
};

/* Heavy hitters of one interval (TPP_FEAT_HH). */
enum tpp_hh_dim {
    TPP_HH_SRC, TPP_HH_DST, TPP_HH_SRC_P24, TPP_HH_DST_P24, TPP_HH_TCP_DPORT, TPP_HH_UDP_DPORT,
    TPP_HH_SRC_HHH, TPP_HH_DST_HHH, TPP_HH_NDIMS
};
extern const char *const tpp_hh_dim_names[TPP_HH_NDIMS]; /* "src", "dst", "src_p24", "dst_p24", "tcp_dport",
                                                           * "udp_dport", "src_hhh", "dst_hhh" */
int tpp_hh_dim_find(const char *name); /* -1 when unknown */
struct tpp_hh {
    uint8_t key[16];           /* address or prefix (host bits zero; IPv4 in the last 4 bytes); zero for ports */
    uint8_t dim, ipv, plen;    /* ipv 4/6, plen the prefix length in the family's bits (32/128 for an address);
                                * ipv 0 and plen 0 for a port */
    uint8_t pad;
    uint32_t port;             /* port dimensions */
    uint64_t packets, bytes;   /* hierarchical heavy hitters: the residual (not under a longer heavy prefix) */
};

struct tpp_result {
    struct tpp_options opts;
    char *source;              /* path of the capture, owned */
    int linktype;
    uint64_t source_size;      /* bytes, 0 when unknown (stdin) */
    int64_t source_mtime_ns;
    uint64_t source_fingerprint; /* tpp/fingerprint.h of the capture file; 0 when none (stdin, a FIFO) */

    struct tpp_interval *iv;   /* nintervals rows */
    size_t nintervals, cap;
    struct tpp_port_series ports[TPP_NSERIES];
    uint64_t seen_ports[TPP_NSERIES][65536 / 64]; /* whole-trace port sets: bit p%64 of word p/64 */

    uint64_t packets;          /* packets read (after the filter) */
    uint64_t ip_packets;       /* packets of the selected IP family */
    uint64_t non_ip_packets;   /* packets not counted as IP: neither IPv4 nor IPv6, or a malformed IP header */
    uint64_t malformed_packets; /* IPv4 headers that cannot be (IHL < 5, total length < header length) */
    uint64_t truncated_packets;
    uint64_t backwards_packets; /* timestamps earlier than the previous packet's */
    uint64_t encapsulated_packets; /* packets with a tunnel that had an IP packet inside (tpp/packet.h) */
    int64_t first_ns, last_ns; /* timestamps of the first and last packet read; 0 when none */
    int first_is_ip;           /* the first packet counts in the IAT statistics: merged after another piece, the
                                * time since that piece's last packet joins its interval's moments */
    uint64_t pieces;           /* parses merged into this result: 1 for a parse */
    int mergeable;             /* carries the merge state (0 for a dump of format 2, or a selection) */
    int state_dropped;         /* loaded without its merge state (tpp/dump.h TPP_DUMP_NO_STATE): not mergeable, and
                                * refused by a merge and by the dump writer, whose output would silently lack it */
    struct tpp_addr_counts *tables; /* ascending by interval: the edges, or every interval with IP packets */
    size_t ntables, tables_cap;
    /* Heavy hitters, kept as the dump's HHIT section encodes them (docs/dump-format.md; 10 bytes an entry where a
     * struct tpp_hh takes 40): interval i's bytes are hh[hh_offsets[i] .. hh_offsets[i+1]), its varint count then
     * its entries, by dimension, then rank (packets descending, then bytes descending, then key ascending); no
     * bytes at all (count 0) in a dump loaded without the hh group.  Read them with tpp_result_hh_open. */
    uint8_t *hh;
    size_t hh_nbytes, hh_cap;
    uint64_t nhh;              /* entries of all intervals */
    size_t hh_pending;         /* entries pushed for the interval not pushed yet (after a placeholder count byte) */
    uint64_t *hh_offsets;      /* nintervals + 1 entries once a row was pushed */
    /* Merge state of the looking-back features (mergeable results): */
    struct tpp_seen *seen[2];  /* TPP_FEAT_NOVELTY: every source [0] / destination [1] address, sorted by (ipv,
                                * addr), with the interval it was first seen in */
    size_t nseen[2];
    struct tpp_flow_mark *flow_head; /* TPP_FEAT_FLOWS: each flow whose first packet in the result is within
                                      * flow_timeout of first_ns or in interval 0, at that packet; sorted by key */
    size_t nflow_head;
    struct tpp_flow_mark *flow_tail; /* each flow whose last packet is within flow_timeout of last_ns or in the
                                      * last interval, at that packet; sorted by key */
    size_t nflow_tail;
    struct tpp_labels *labels; /* the anomalies given to the parse and what it found of them; NULL without (owned) */
    int complete;              /* 0 when reading stopped at an error; error says why */
    int stopped_by_limit;      /* 1 when max_packets or max_intervals ended the parse */
    char error[1024];
    char warning[512];         /* e.g. an unsupported link type */
};

struct tpp_result *tpp_result_new(const struct tpp_options *opts, const char *source);
/* The label columns of row iv: `pkts` and `events` (TPP_LABEL_NTYPES each, by type) in, or NaN when r has no labels. */
struct tpp_labels;
void tpp_interval_set_labels(struct tpp_interval *iv, const double *pkts, const double *events);
/* The row holding time ns (the last one starting at or before it; 0 when none does), for an anomaly's first and
 * last packet. */
size_t tpp_result_row_at(const struct tpp_result *r, int64_t ns);
void tpp_result_free(struct tpp_result *r);

/* Append a table (taking ownership of t->e; freed on failure); 0 on success.  Intervals must ascend. */
int tpp_result_push_table(struct tpp_result *r, struct tpp_addr_counts *t);
/* The table of interval i, or NULL when it has none. */
const struct tpp_addr_counts *tpp_result_table(const struct tpp_result *r, size_t i);
/* Drop the tables of every interval but the first and the last (keep_tables = edges). */
void tpp_result_prune_tables(struct tpp_result *r);
/* Forget intervals n.. (rows, port entries and tables); the whole-trace sets keep what they saw. */
void tpp_result_truncate(struct tpp_result *r, size_t n);
/* The earliest and latest packet of segment k (0 when it has none). */
int tpp_result_segment_extent(const struct tpp_result *r, size_t k, int64_t *first_ns, int64_t *last_ns);
/* Recompute the covered column of segment k from its packet times (the aggregator computes it as it goes). */
void tpp_result_cover_segment(struct tpp_result *r, size_t k);
/* Number of segments, and segment k's first and last interval (0-based, inclusive). */
size_t tpp_result_nsegments(const struct tpp_result *r);
void tpp_result_segment(const struct tpp_result *r, size_t k, size_t *first, size_t *last);

/* Append a row / a port series entry / a heavy hitter; 0 on success, -1 on allocation failure.  The entries of
 * an interval are pushed before its row, ports in ascending order, heavy hitters in their order (above). */
int tpp_result_push_interval(struct tpp_result *r, const struct tpp_interval *iv);
int tpp_result_push_port(struct tpp_result *r, int series, uint32_t port, uint32_t count);
int tpp_result_push_hh(struct tpp_result *r, const struct tpp_hh *e);
/* Append the heavy hitters of src's interval i as they are (no decoding); 0 on success, -1 on allocation failure. */
int tpp_result_push_hh_of(struct tpp_result *r, const struct tpp_result *src, size_t i);

/* The heavy hitters of interval i (all dimensions): tpp_result_hh_open positions c on them and returns their
 * number; tpp_hh_next then decodes them in their order into *e, returning 1 per entry and 0 at the end. */
struct tpp_hh_cursor {
    const uint8_t *p, *end;
};
size_t tpp_result_hh_open(const struct tpp_result *r, size_t i, struct tpp_hh_cursor *c);
int tpp_hh_next(struct tpp_hh_cursor *c, struct tpp_hh *e);

/* One entry in the HHIT encoding, the only coder of it (result.c): u8 dim; a port dimension's varint port, or an
 * address dimension's u8 family, u8 prefix length and the prefix's first (length + 7) / 8 bytes; varint packets,
 * varint bytes.  tpp_hh_encode writes e at p (at most TPP_HH_ENTRY_MAX bytes) and returns the length.
 * tpp_hh_decode reads one entry of p[0 .. end - p) into *e (the fields it has no bytes for zero) and returns where
 * the entry ends, or NULL when the bytes are not one: cut short, an unknown dimension or family, a port above
 * 65535, a prefix longer than its family, a varint that is not as tpp_hh_encode writes it (overlong, beyond 64
 * bits).  Whether the prefix length suits the dimension and the order of entries are the dump reader's checks. */
#define TPP_HH_ENTRY_MAX (3 + 16 + 10 + 10)
size_t tpp_hh_encode(uint8_t *p, const struct tpp_hh *e);
const uint8_t *tpp_hh_decode(const uint8_t *p, const uint8_t *end, struct tpp_hh *e);

/* The share of a heavy hitter in interval iv: packets over ip_packets (tcp_port_packets, udp_port_packets for the
 * port dimensions); NaN when that is 0. */
double tpp_hh_share(const struct tpp_hh *e, const struct tpp_interval *iv);

size_t tpp_result_distinct_ports(const struct tpp_result *r, int series);

/* A new result holding the intervals idx[0..n) (0-based, strictly ascending, < r->nintervals) of r with their port
 * histograms.  Counters with a per-interval breakdown are recomputed (packets, ip_packets; first_ns/last_ns become
 * the first chosen start and the last chosen end; the whole-trace port sets the union of the chosen histograms);
 * the others are r's.  NULL when out of memory.  (result.c) */
struct tpp_result *tpp_result_select(const struct tpp_result *r, const size_t *idx, size_t n);

#endif
