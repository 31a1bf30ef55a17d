/* tpp/labels.h — ground-truth labels (MAWILab's anomalies) put on the per-interval series.
 *
 * A tpp_labels is the list of anomalies given to a parse, with what the parse found of each (matched packets, the
 * time of the first and last one).  A result owns its labels (result->labels, NULL without labels) and frees them
 * with itself.  A tpp_label_index is built from labels for matching packets; it borrows the labels, which must
 * outlive it, and allocates nothing per packet.
 */
#ifndef TPP_LABELS_H
#define TPP_LABELS_H

#include <stddef.h>
#include <stdint.h>

#include "tpp/packet.h"

enum tpp_label_type { TPP_LABEL_ANOMALOUS, TPP_LABEL_SUSPICIOUS, TPP_LABEL_NOTICE, TPP_LABEL_NTYPES };
extern const char *const tpp_label_type_names[TPP_LABEL_NTYPES]; /* "anomalous", "suspicious", "notice" */
int tpp_label_type_find(const char *name); /* -1 when unknown */

/* Which attributes a filter has (tpp_label_filter.has); an absent one matches anything. */
enum { TPP_LF_SRC_IP = 1, TPP_LF_DST_IP = 2, TPP_LF_SRC_PORT = 4, TPP_LF_DST_PORT = 8 };

struct tpp_label_filter {
    uint8_t src[16], dst[16];  /* as in tpp_packet: IPv4 as IPv4-mapped IPv6 */
    uint16_t sport, dport;
    uint8_t has;               /* TPP_LF_* */
};

struct tpp_anomaly {
    char *id, *taxonomy, *value; /* owned */
    int type;                  /* enum tpp_label_type */
    int64_t from_ns, to_ns;    /* the window, both ends included */
    size_t first_filter, nfilters; /* into tpp_labels.filters */
    /* what the parse found */
    uint64_t packets;          /* IP packets matching the anomaly */
    int64_t first_ns, last_ns; /* the first and last of them (valid when packets > 0) */
};

struct tpp_labels {
    struct tpp_anomaly *a;
    size_t n, cap;
    struct tpp_label_filter *filters;
    size_t nfilters, filters_cap;
};

struct tpp_labels *tpp_labels_new(void);
void tpp_labels_free(struct tpp_labels *l);
/* A copy (with what was found so far); NULL when out of memory. */
struct tpp_labels *tpp_labels_clone(const struct tpp_labels *l);
/* Append an anomaly (strings copied) without filters, then its filters; 0 on success, -1 out of memory. */
int tpp_labels_add(struct tpp_labels *l, const char *id, int type, const char *taxonomy, const char *value,
                   int64_t from_ns, int64_t to_ns);
int tpp_labels_add_filter(struct tpp_labels *l, const struct tpp_label_filter *f); /* to the last anomaly */
/* Forget what was found (packets, first and last). */
void tpp_labels_reset_counts(struct tpp_labels *l);
/* A 64-bit fingerprint of the anomalies (not of what was found): two label sets are the same when theirs are. */
uint64_t tpp_labels_fingerprint(const struct tpp_labels *l);
/* Whether two label sets hold the same anomalies (NULL is none). */
int tpp_labels_same(const struct tpp_labels *a, const struct tpp_labels *b);
/* Add b's findings to a's (same anomalies): packets summed, first and last the earliest and latest. */
void tpp_labels_add_counts(struct tpp_labels *a, const struct tpp_labels *b);

struct tpp_label_index;
struct tpp_label_index *tpp_label_index_new(struct tpp_labels *l);
void tpp_label_index_free(struct tpp_label_index *x);
/* Match one IP packet: counts it into each anomaly it matches (l->a[k].packets, first_ns, last_ns) and returns
 * the bits (1 << type) of the types it matched.  Packets are matched on one thread, in the order they count. */
unsigned tpp_label_match(struct tpp_label_index *x, const struct tpp_packet *p);
/* tpp_label_match in two halves.  The lookup finds what packet p counts into, as items (at most room, into
 * items; returns their number, or -1 when more), and the bits of the types it matches (*types).  It only reads the
 * index, so another thread may look packets up ahead of the one counting them.  tpp_label_count then counts p
 * into its items, in the order the packets count; tpp_label_prefetch hints that it will soon. */
int tpp_label_lookup(const struct tpp_label_index *x, const struct tpp_packet *p, uint32_t *items, unsigned room,
                     unsigned *types);
void tpp_label_count(struct tpp_label_index *x, const struct tpp_packet *p, const uint32_t *items, unsigned n);
void tpp_label_prefetch(const struct tpp_label_index *x, const uint32_t *items, unsigned n);
/* After the last packet: the counts of the anomalies still open go into the labels (once). */
void tpp_label_index_finish(struct tpp_label_index *x);
/* The anomalies of each type whose window overlaps the interval [start, end). */
void tpp_label_events(const struct tpp_label_index *x, int64_t start_ns, int64_t end_ns, double out[TPP_LABEL_NTYPES]);

#endif
