/* labels.c — the anomaly list of a parse and its matching index (tpp/labels.h).
 *
 * The index files each filter under its key: the attributes it has (its shape) and their values.  A packet
 * matches a filter exactly when its own key of the filter's shape is the filter's, so a packet looks up one key
 * per shape in use (a bitmap answers "none" for most) and finds the filters it matches without checking any.
 * Within a key's group, time decides: the windows of anomalies whose filters cannot overlap cut time into
 * segments, and a packet counts into the one holding it (a filter's packets are, at the end, those of the
 * segments its window covers); the others are checked one by one among those that started at most the group's
 * longest window before the packet.  Matching is in two halves: a lookup that only reads the index and says what
 * a packet counts into (items) and which types it matches, which a parse runs on its reader thread ahead of the
 * aggregator; and the counting into tallies, on the aggregator's thread, in the order packets count (so that a
 * limit that stops the parse leaves out exactly the packets it drops).  Any order of time is handled, and nothing
 * is allocated once the index is built.
 */
#include "tpp/labels.h"

#include <stdlib.h>
#include <string.h>

const char *const tpp_label_type_names[TPP_LABEL_NTYPES] = { "anomalous", "suspicious", "notice" };

int tpp_label_type_find(const char *name)
{
    for (int t = 0; t < TPP_LABEL_NTYPES; t++)
        if (strcmp(tpp_label_type_names[t], name) == 0) return t;
    return -1;
}

struct tpp_labels *tpp_labels_new(void) { return calloc(1, sizeof(struct tpp_labels)); }

void tpp_labels_free(struct tpp_labels *l)
{
    if (!l) return;
    for (size_t k = 0; k < l->n; k++) {
        free(l->a[k].id);
        free(l->a[k].taxonomy);
        free(l->a[k].value);
    }
    free(l->a);
    free(l->filters);
    free(l);
}

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap) return 0;
    size_t n = *cap ? *cap * 2 : 16;
    while (n < need) n *= 2;
    void *q = realloc(*p, n * size);
    if (!q) return -1;
    *p = q;
    *cap = n;
    return 0;
}

int tpp_labels_add(struct tpp_labels *l, const char *id, int type, const char *taxonomy, const char *value,
                   int64_t from_ns, int64_t to_ns)
{
    if (grow((void **)&l->a, &l->cap, l->n + 1, sizeof *l->a) != 0) return -1;
    struct tpp_anomaly *a = &l->a[l->n];
    *a = (struct tpp_anomaly){ .type = type, .from_ns = from_ns, .to_ns = to_ns, .first_filter = l->nfilters };
    a->id = strdup(id ? id : "");
    a->taxonomy = strdup(taxonomy ? taxonomy : "");
    a->value = strdup(value ? value : "");
    if (!a->id || !a->taxonomy || !a->value) {
        free(a->id);
        free(a->taxonomy);
        free(a->value);
        return -1;
    }
    l->n++;
    return 0;
}

int tpp_labels_add_filter(struct tpp_labels *l, const struct tpp_label_filter *f)
{
    if (l->n == 0 || grow((void **)&l->filters, &l->filters_cap, l->nfilters + 1, sizeof *l->filters) != 0) return -1;
    l->filters[l->nfilters++] = *f;
    l->a[l->n - 1].nfilters++;
    return 0;
}

struct tpp_labels *tpp_labels_clone(const struct tpp_labels *l)
{
    struct tpp_labels *c = tpp_labels_new();
    if (!c) return NULL;
    for (size_t k = 0; k < l->n; k++) {
        const struct tpp_anomaly *a = &l->a[k];
        if (tpp_labels_add(c, a->id, a->type, a->taxonomy, a->value, a->from_ns, a->to_ns) != 0) goto oom;
        for (size_t f = 0; f < a->nfilters; f++)
            if (tpp_labels_add_filter(c, &l->filters[a->first_filter + f]) != 0) goto oom;
        c->a[k].packets = a->packets;
        c->a[k].first_ns = a->first_ns;
        c->a[k].last_ns = a->last_ns;
    }
    return c;
oom:
    tpp_labels_free(c);
    return NULL;
}

void tpp_labels_reset_counts(struct tpp_labels *l)
{
    for (size_t k = 0; k < l->n; k++) l->a[k].packets = 0, l->a[k].first_ns = l->a[k].last_ns = 0;
}

/* FNV-1a, 64 bits. */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

uint64_t tpp_labels_fingerprint(const struct tpp_labels *l)
{
    uint64_t h = 0xcbf29ce484222325ull;
    if (!l) return 0;
    for (size_t k = 0; k < l->n; k++) {
        const struct tpp_anomaly *a = &l->a[k];
        int64_t fields[3] = { a->type, a->from_ns, a->to_ns };
        h = fnv(h, fields, sizeof fields);
        h = fnv(h, a->id, strlen(a->id) + 1);
        h = fnv(h, a->taxonomy, strlen(a->taxonomy) + 1);
        h = fnv(h, a->value, strlen(a->value) + 1);
        for (size_t f = 0; f < a->nfilters; f++) {
            const struct tpp_label_filter *x = &l->filters[a->first_filter + f];
            uint8_t flat[37];
            memcpy(flat, x->src, 16);
            memcpy(flat + 16, x->dst, 16);
            flat[32] = (uint8_t)(x->sport >> 8), flat[33] = (uint8_t)x->sport;
            flat[34] = (uint8_t)(x->dport >> 8), flat[35] = (uint8_t)x->dport;
            flat[36] = x->has;
            h = fnv(h, flat, sizeof flat);
        }
        h = fnv(h, "|", 1); /* where one anomaly's filters end */
    }
    return h ? h : 1; /* 0 means "no labels" */
}

int tpp_labels_same(const struct tpp_labels *a, const struct tpp_labels *b)
{
    if (!a || !b) return a == b;
    return a->n == b->n && a->nfilters == b->nfilters && tpp_labels_fingerprint(a) == tpp_labels_fingerprint(b);
}

void tpp_labels_add_counts(struct tpp_labels *a, const struct tpp_labels *b)
{
    for (size_t k = 0; k < a->n && k < b->n; k++) {
        struct tpp_anomaly *x = &a->a[k];
        const struct tpp_anomaly *y = &b->a[k];
        if (!y->packets) continue;
        if (!x->packets || y->first_ns < x->first_ns) x->first_ns = y->first_ns;
        if (!x->packets || y->last_ns > x->last_ns) x->last_ns = y->last_ns;
        x->packets += y->packets;
    }
}

/* ---- the index ----------------------------------------------------------------------------------------------- */

/* A filter's key: the values of the attributes it has (the others zero), under its attribute set (the "shape",
 * TPP_LF_* bits).  A packet matches a filter exactly when the packet's key of the filter's shape is the filter's. */
struct key {
    uint8_t src[16], dst[16];
    uint32_t ports;            /* source port << 16 | destination port (one store: compared right after) */
};

enum { NSHAPES = 16 };

static void key_of_filter(const struct tpp_label_filter *f, struct key *k)
{
    memset(k, 0, sizeof *k);
    if (f->has & TPP_LF_SRC_IP) memcpy(k->src, f->src, 16);
    if (f->has & TPP_LF_DST_IP) memcpy(k->dst, f->dst, 16);
    k->ports = (f->has & TPP_LF_SRC_PORT ? (uint32_t)f->sport << 16 : 0) | (f->has & TPP_LF_DST_PORT ? f->dport : 0);
}

/* The packet's key of a shape (ports only of TCP and UDP packets: 0 when a shape with ports cannot match). */
static int key_of_packet(const struct tpp_packet *p, unsigned shape, int ports, struct key *k)
{
    if ((shape & (TPP_LF_SRC_PORT | TPP_LF_DST_PORT)) && !ports) return 0;
    memset(k, 0, sizeof *k);
    if (shape & TPP_LF_SRC_IP) memcpy(k->src, p->src, 16);
    if (shape & TPP_LF_DST_IP) memcpy(k->dst, p->dst, 16);
    k->ports = (shape & TPP_LF_SRC_PORT ? (uint32_t)p->sport << 16 : 0) | (shape & TPP_LF_DST_PORT ? p->dport : 0);
    return 1;
}

struct entry {
    int64_t from, to;
    uint32_t anomaly;
    uint8_t shape;
    uint8_t swept;             /* counted through the group's segments (below) */
    uint8_t type;              /* the anomaly's */
    struct key key;
};

/* A tally of packets: an anomaly's (what the parse finds of it, kept together: the labels' own fields are far
 * apart), or a segment's. */
struct tally {
    uint64_t stamp;            /* the serial of the last packet counted: a packet counts once into an anomaly */
    uint64_t packets;
    int64_t first, last;       /* the earliest and latest of their times, valid when packets > 0 */
};

/* The filters of one key, in two kinds.  The swept ones are of anomalies whose filters all have one shape and
 * differ (sweepable): a packet matches at most one of them, and every packet of the filter's group within the
 * window matches it.  Their windows' starts and ends (to + 1) cut time into segments, each a tally: a packet of
 * the group counts into the segment holding its time, whatever the order of time, and at the end a filter's
 * packets are those of the segments its window covers.  The checked ones are of the other anomalies (a packet
 * matching two of their filters counts once): a packet looks at those starting in [t - longest, t].  The group
 * only reads all this once the index is built, so a lookup may run on another thread than the counting. */
struct group {
    struct key key;
    uint8_t shape;
    uint32_t begin, end;       /* the checked entries e[begin, end), ascending by from */
    int64_t longest;           /* the longest window among them (to - from, saturated) */
    uint32_t seg, nseg;        /* its segments: segment s (seg <= s < seg + nseg) holds [cut[s], cut[s + 1]), the
                                  last one up to any time; their tallies are tallies[nanomalies + s] */
};
_Static_assert(sizeof(struct group) == 64, "a group is one cache line (aligned so in tpp_label_index_new)");

/* A checked filter, as the lookup reads it (its key is its group's). */
struct checked {
    int64_t from, to;
    uint32_t anomaly;
    uint8_t type;
};

/* A swept filter: its anomaly and the segments its window covers, [first, end). */
struct swept { uint32_t anomaly, first, end; };

/* A slot of the hash table: 32 bits of its key's hash, so that a probe rarely reads a group not its own. */
struct slot {
    uint32_t tag;
    uint32_t group;            /* 0: empty */
};

/* An item of a packet's lookup (tpp_label_lookup): the tally of a segment, or with ITEM_CHECKED the number of an
 * anomaly with a checked filter the packet matches (its window holds the packet), which it counts into once. */
#define ITEM_CHECKED (1u << 31)

struct tpp_label_index {
    struct tpp_labels *l;
    struct checked *e;         /* the checked entries */
    struct group *groups;      /* from 1 (0 marks an empty slot) */
    size_t ngroups;
    int64_t *cut;              /* the segments' starts */
    uint8_t *seg_types;        /* the types (bits) of the swept windows covering each segment */
    size_t nseg;
    struct swept *sw;
    size_t nswept;
    /* for the end, per segment: the packets of the segments before it, the first non-empty one from it on and the
     * last one up to it (a filter's count then costs the same whatever the number of segments it covers) */
    uint64_t *before;
    uint32_t *next_used, *prev_used;
    struct slot *slots;        /* open addressing on (shape, key) */
    size_t mask;
    uint16_t shapes;           /* bit s: some filter has shape s (but 0: the filters without attributes) */
    uint32_t all;              /* the group of the filters without attributes (every packet's), or 0 */
    /* one bit per 16-bit value of a key's hash (its top bits; the shape is in the hash): a packet's key whose bit
     * is clear has no group, which is what most keys of most packets find out without probing the table (8 KB:
     * they stay in the first-level cache) */
    uint64_t present[65536 / 64];
    /* per 12 bits of an address's hash, the shapes of the filters naming such an address as source (destination):
     * a packet looks up only the shapes its addresses may have */
    uint16_t src_shapes[4096], dst_shapes[4096];
    /* the source (destination) ports some filter names: a packet looks up the shapes with ports only when it has
     * such a port (most do not: a port alone is rare in anomalies) */
    uint64_t src_ports[65536 / 64], dst_ports[65536 / 64];
    /* the only state the counting changes: */
    uint64_t serial;           /* packets counted so far */
    struct tally *tallies;     /* per anomaly, then per segment */
    /* the windows by type, sorted: starts and ends, for the events of an interval */
    int64_t *from[TPP_LABEL_NTYPES], *to[TPP_LABEL_NTYPES];
    size_t ntype[TPP_LABEL_NTYPES];
};

static int64_t window(int64_t from, int64_t to)
{
    int64_t d;
    return __builtin_sub_overflow(to, from, &d) ? INT64_MAX : d < 0 ? 0 : d;
}

static uint64_t mix(uint64_t h, uint64_t v) { return (h ^ v) * 0x9e3779b97f4a7c15ull; }

/* A key's hash is made of its parts' hashes, so that a packet hashes its addresses once for all shapes. */
struct parts { uint64_t src, dst, ports; };

static uint64_t hash16(const uint8_t b[16])
{
    uint64_t w[2];
    memcpy(w, b, 16);
    return mix(mix(0x243f6a8885a308d3ull, w[0]), w[1]);
}

static uint64_t hash_parts(unsigned shape, const struct parts *q)
{
    uint64_t h = mix(shape + 1, shape & TPP_LF_SRC_IP ? q->src : 0);
    h = mix(h, shape & TPP_LF_DST_IP ? q->dst : 0);
    h = mix(h, q->ports & ((shape & TPP_LF_SRC_PORT ? 0xffff0000u : 0) | (shape & TPP_LF_DST_PORT ? 0xffffu : 0)));
    return h ^ (h >> 29);
}

static uint64_t hash_key(unsigned shape, const struct key *k)
{
    struct parts q = { hash16(k->src), hash16(k->dst), k->ports };
    return hash_parts(shape, &q);
}

static void parts_of_packet(const struct tpp_packet *p, struct parts *q)
{
    q->src = hash16(p->src);
    q->dst = hash16(p->dst);
    q->ports = (uint64_t)p->sport << 16 | p->dport;
}

static int entry_cmp(const void *x, const void *y)
{
    const struct entry *a = x, *b = y;
    if (a->shape != b->shape) return a->shape < b->shape ? -1 : 1;
    int c = memcmp(&a->key, &b->key, sizeof a->key);
    if (c) return c;
    return a->from < b->from ? -1 : a->from > b->from;
}

static int int64_cmp(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return a < b ? -1 : a > b;
}

void tpp_label_index_free(struct tpp_label_index *x)
{
    if (!x) return;
    free(x->e);
    free(x->groups);
    free(x->cut);
    free(x->seg_types);
    free(x->sw);
    free(x->before);
    free(x->next_used);
    free(x->prev_used);
    free(x->slots);
    free(x->tallies);
    for (int t = 0; t < TPP_LABEL_NTYPES; t++) free(x->from[t]), free(x->to[t]);
    free(x);
}

static int build_events(struct tpp_label_index *x)
{
    const struct tpp_labels *l = x->l;
    for (int t = 0; t < TPP_LABEL_NTYPES; t++) {
        x->from[t] = malloc((l->n + 1) * sizeof(int64_t));
        x->to[t] = malloc((l->n + 1) * sizeof(int64_t));
        if (!x->from[t] || !x->to[t]) return -1;
    }
    for (size_t k = 0; k < l->n; k++) {
        int t = l->a[k].type;
        x->from[t][x->ntype[t]] = l->a[k].from_ns;
        x->to[t][x->ntype[t]++] = l->a[k].to_ns;
    }
    for (int t = 0; t < TPP_LABEL_NTYPES; t++) {
        qsort(x->from[t], x->ntype[t], sizeof(int64_t), int64_cmp);
        qsort(x->to[t], x->ntype[t], sizeof(int64_t), int64_cmp);
    }
    return 0;
}

/* Whether anomaly a can be swept: all its filters of one shape, with keys that differ. */
static int sweepable(const struct tpp_labels *l, const struct tpp_anomaly *a)
{
    if (a->nfilters == 0 || a->nfilters > 64) return 0;
    const struct tpp_label_filter *f = &l->filters[a->first_filter];
    for (size_t i = 1; i < a->nfilters; i++) {
        if (f[i].has != f[0].has) return 0;
        struct key ki, kj;
        key_of_filter(&f[i], &ki);
        for (size_t j = 0; j < i; j++) {
            key_of_filter(&f[j], &kj);
            if (memcmp(&ki, &kj, sizeof ki) == 0) return 0;
        }
    }
    return 1;
}

/* How many of v[0..n) (ascending) are at most t. */
static size_t at_most(const int64_t *v, size_t n, int64_t t)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] <= t) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* The segments of group g from its swept entries all[i, j) (g->seg set): their starts, the windows' starts and
 * ends, distinct and sorted; the types covering each (counted up at a window's start and down at its end); each
 * swept filter's covered segments. */
static void cut_segments(struct tpp_label_index *x, const struct entry *all, size_t i, size_t j, struct group *g,
                         int32_t (*depth)[TPP_LABEL_NTYPES])
{
    int64_t *cut = &x->cut[g->seg];
    size_t n = 0;
    for (size_t k = i; k < j; k++) {
        if (!all[k].swept || all[k].to < all[k].from) continue; /* an empty window covers no segment */
        cut[n++] = all[k].from;
        if (all[k].to != INT64_MAX) cut[n++] = all[k].to + 1;
    }
    qsort(cut, n, sizeof *cut, int64_cmp);
    size_t m = 0;
    for (size_t k = 0; k < n; k++)
        if (m == 0 || cut[k] != cut[m - 1]) cut[m++] = cut[k];
    g->nseg = (uint32_t)m;
    memset(depth, 0, (m + 1) * sizeof *depth);
    for (size_t k = i; k < j; k++) {
        if (!all[k].swept || all[k].to < all[k].from) continue;
        size_t first = at_most(cut, m, all[k].from) - 1;
        size_t end = all[k].to == INT64_MAX ? m : at_most(cut, m, all[k].to + 1) - 1;
        depth[first][all[k].type]++;
        depth[end][all[k].type]--;
        x->sw[x->nswept++] = (struct swept){ all[k].anomaly, (uint32_t)(g->seg + first), (uint32_t)(g->seg + end) };
    }
    int32_t open[TPP_LABEL_NTYPES] = { 0 };
    for (size_t s = 0; s < m; s++) {
        uint8_t types = 0;
        for (int t = 0; t < TPP_LABEL_NTYPES; t++) {
            open[t] += depth[s][t];
            types |= (uint8_t)((open[t] > 0) << t);
        }
        x->seg_types[g->seg + s] = types;
    }
}

/* One run of entries of the same key, all[i, j), into group g: the checked ones to e, the swept ones cut into
 * segments. */
static void fill_group(struct tpp_label_index *x, const struct entry *all, size_t i, size_t j, struct group *g,
                       size_t *ne, int32_t (*depth)[TPP_LABEL_NTYPES])
{
    *g = (struct group){ .key = all[i].key, .shape = all[i].shape, .begin = (uint32_t)*ne, .seg = (uint32_t)x->nseg };
    for (size_t k = i; k < j; k++) {
        if (all[k].swept) continue;
        x->e[(*ne)++] = (struct checked){ all[k].from, all[k].to, all[k].anomaly, all[k].type };
        if (window(all[k].from, all[k].to) > g->longest) g->longest = window(all[k].from, all[k].to);
    }
    g->end = (uint32_t)*ne;
    cut_segments(x, all, i, j, g, depth);
    x->nseg += g->nseg;
}

struct tpp_label_index *tpp_label_index_new(struct tpp_labels *l)
{
    struct tpp_label_index *x = calloc(1, sizeof *x);
    struct entry *all = NULL;
    int32_t (*depth)[TPP_LABEL_NTYPES] = NULL;
    if (!x) return NULL;
    x->l = l;
    size_t nf = l->nfilters + 1;
    if (nf > (1u << 28) || l->n > (1u << 28)) goto oom; /* tallies are numbered in 31 bits (items) */
    all = malloc(nf * sizeof *all);
    depth = malloc(2 * nf * sizeof *depth);
    x->e = malloc(nf * sizeof *x->e);
    x->cut = malloc(2 * nf * sizeof *x->cut);
    x->seg_types = malloc(2 * nf);
    x->sw = malloc(nf * sizeof *x->sw);
    x->groups = aligned_alloc(64, (nf + 1) * sizeof *x->groups); /* a group in one cache line */
    if (!all || !depth || !x->e || !x->cut || !x->seg_types || !x->sw || !x->groups || build_events(x) != 0) goto oom;
    size_t n = 0;
    for (size_t k = 0; k < l->n; k++) {
        const struct tpp_anomaly *a = &l->a[k];
        int swept = sweepable(l, a);
        for (size_t f = 0; f < a->nfilters; f++) {
            const struct tpp_label_filter *flt = &l->filters[a->first_filter + f];
            struct entry *e = &all[n++];
            key_of_filter(flt, &e->key);
            e->shape = flt->has & (NSHAPES - 1);
            e->swept = (uint8_t)swept;
            e->from = a->from_ns;
            e->to = a->to_ns;
            e->anomaly = (uint32_t)k;
            e->type = (uint8_t)a->type;
            x->shapes |= (uint16_t)(1u << e->shape);
        }
    }
    qsort(all, n, sizeof *all, entry_cmp);
    size_t ne = 0, cap = 16;
    x->ngroups = 1;
    while (cap < 2 * (n + 1)) cap *= 2;
    x->slots = calloc(cap, sizeof *x->slots);
    if (!x->slots) goto oom;
    x->mask = cap - 1;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && all[j].shape == all[i].shape && memcmp(&all[j].key, &all[i].key, sizeof all[i].key) == 0) j++;
        uint32_t g = (uint32_t)x->ngroups++;
        fill_group(x, all, i, j, &x->groups[g], &ne, depth);
        uint64_t h = hash_key(all[i].shape, &all[i].key);
        x->present[h >> 54] |= 1ull << (h >> 48 & 63);
        uint64_t hs = hash16(all[i].key.src), hd = hash16(all[i].key.dst);
        if (all[i].shape & TPP_LF_SRC_IP) x->src_shapes[hs >> 52] |= (uint16_t)(1u << all[i].shape);
        uint32_t sport = all[i].key.ports >> 16, dport = all[i].key.ports & 0xffff;
        if (all[i].shape & TPP_LF_SRC_PORT) x->src_ports[sport >> 6] |= 1ull << (sport & 63);
        if (all[i].shape & TPP_LF_DST_PORT) x->dst_ports[dport >> 6] |= 1ull << (dport & 63);
        if (all[i].shape & TPP_LF_DST_IP) x->dst_shapes[hd >> 52] |= (uint16_t)(1u << all[i].shape);
        size_t at = h & x->mask;
        while (x->slots[at].group) at = (at + 1) & x->mask;
        x->slots[at] = (struct slot){ (uint32_t)(h >> 16), g };
        if (all[i].shape == 0) x->all = g; /* reached directly, not through the table */
        i = j;
    }
    x->tallies = calloc(l->n + x->nseg + 1, sizeof *x->tallies);
    x->before = malloc((x->nseg + 1) * sizeof *x->before);
    x->next_used = malloc((x->nseg + 1) * sizeof *x->next_used);
    x->prev_used = malloc((x->nseg + 1) * sizeof *x->prev_used);
    if (!x->tallies || !x->before || !x->next_used || !x->prev_used) goto oom;
    free(all);
    free(depth);
    x->shapes &= (uint16_t)~1u;
    return x;
oom:
    free(all);
    free(depth);
    tpp_label_index_free(x);
    return NULL;
}

/* The group of packet p's key of a shape (its hash h), or 0. */
static uint32_t find_group(const struct tpp_label_index *x, unsigned shape, uint64_t h, const struct tpp_packet *p,
                           int ports)
{
    if (!(x->present[h >> 54] & 1ull << (h >> 48 & 63))) return 0;
    struct key k;
    if (!key_of_packet(p, shape, ports, &k)) return 0;
    for (size_t s = h & x->mask; x->slots[s].group; s = (s + 1) & x->mask) {
        if (x->slots[s].tag != (uint32_t)(h >> 16)) continue;
        const struct group *g = &x->groups[x->slots[s].group];
        if (g->shape == shape && memcmp(&g->key, &k, sizeof k) == 0) return x->slots[s].group;
    }
    return 0;
}

/* The shapes (bit s: shape s) without a source address, without a destination, without ports. */
enum { NO_SRC = 0x5555, NO_DST = 0x3333, NO_SRC_PORT = 0x0f0f, NO_DST_PORT = 0x00ff, NO_PORTS = 0x000f };

/* The shapes a packet may match: those of the filters that may name its addresses and its ports, and not those
 * with ports when it has none (as TCP or UDP). */
static unsigned shapes_of(const struct tpp_label_index *x, const struct parts *q, int ports)
{
    unsigned shapes = x->shapes & (x->src_shapes[q->src >> 52] | NO_SRC) & (x->dst_shapes[q->dst >> 52] | NO_DST);
    if (!ports) return shapes & NO_PORTS;
    uint32_t sport = (uint32_t)(q->ports >> 16), dport = (uint32_t)(q->ports & 0xffff);
    return shapes & (x->src_ports[sport >> 6] >> (sport & 63) & 1 ? 0xffffu : NO_SRC_PORT) &
           (x->dst_ports[dport >> 6] >> (dport & 63) & 1 ? 0xffffu : NO_DST_PORT);
}

/* The first of the checked entries e[begin, end) (ascending by from) starting after ts. */
static size_t first_after(const struct checked *e, size_t begin, size_t end, int64_t ts)
{
    while (begin < end) {
        size_t mid = begin + (end - begin) / 2;
        if (e[mid].from <= ts) begin = mid + 1;
        else end = mid;
    }
    return begin;
}

/* Append group gi's items at time ts to items[*n, room): the tally of the segment holding ts, if a swept window
 * covers it, and the anomalies of the checked entries holding ts; -1 when they do not fit.  *types gets the types
 * of the windows holding ts. */
static int add_items(const struct tpp_label_index *x, uint32_t gi, int64_t ts, uint32_t *items, unsigned room,
                     unsigned *n, unsigned *types)
{
    const struct group *g = &x->groups[gi];
    size_t s = at_most(&x->cut[g->seg], g->nseg, ts);
    if (s && x->seg_types[g->seg + s - 1]) {
        if (*n == room) return -1;
        *types |= x->seg_types[g->seg + s - 1];
        items[(*n)++] = (uint32_t)(x->l->n + g->seg + s - 1);
    }
    for (size_t i = first_after(x->e, g->begin, g->end, ts); i-- > g->begin;) {
        const struct checked *e = &x->e[i];
        if (window(e->from, ts) > g->longest) break;
        if (e->to < ts) continue;
        if (*n == room) return -1;
        *types |= 1u << e->type;
        items[(*n)++] = ITEM_CHECKED | e->anomaly;
    }
    return 0;
}

/* The groups packet p belongs to: the group of the filters without attributes, then one per shape in use
 * whose key the packet has (at most NSHAPES: shape 0 is only ever the first). */
static unsigned groups_of_packet(const struct tpp_label_index *x, const struct tpp_packet *p, uint32_t groups[NSHAPES])
{
    unsigned ng = 0;
    if (x->all) groups[ng++] = x->all;
    int ports = (p->flags & TPP_PKT_L4) && (p->proto == 6 || p->proto == 17);
    struct parts q;
    parts_of_packet(p, &q);
    for (unsigned left = shapes_of(x, &q, ports); left; left &= left - 1) {
        unsigned shape = (unsigned)__builtin_ctz(left);
        uint32_t g = find_group(x, shape, hash_parts(shape, &q), p, ports);
        if (g) groups[ng++] = g;
    }
    return ng;
}

int tpp_label_lookup(const struct tpp_label_index *x, const struct tpp_packet *p, uint32_t *items, unsigned room,
                     unsigned *types)
{
    unsigned n = 0;
    int64_t ts = p->ts_ns;
    *types = 0;
    uint32_t groups[NSHAPES];
    unsigned ng = groups_of_packet(x, p, groups);
    for (unsigned k = 0; k < ng; k++)
        if (add_items(x, groups[k], ts, items, room, &n, types) != 0) return -1;
    return (int)n;
}

static uint32_t tally_of(uint32_t item) { return item & ~ITEM_CHECKED; }

void tpp_label_prefetch(const struct tpp_label_index *x, const uint32_t *items, unsigned n)
{
    for (unsigned i = 0; i < n; i++) __builtin_prefetch(&x->tallies[tally_of(items[i])], 1);
}

/* A packet at ts counts into tally t. */
static void count(struct tally *t, int64_t ts)
{
    if (t->packets == 0 || ts < t->first) t->first = ts;
    if (t->packets == 0 || ts > t->last) t->last = ts;
    t->packets++;
}

void tpp_label_count(struct tpp_label_index *x, const struct tpp_packet *p, const uint32_t *items, unsigned n)
{
    x->serial++;
    for (unsigned i = 0; i < n; i++) {
        struct tally *t = &x->tallies[tally_of(items[i])];
        if (items[i] & ITEM_CHECKED) {
            if (t->stamp == x->serial) continue; /* a packet matching two filters of an anomaly */
            t->stamp = x->serial;
        }
        count(t, p->ts_ns);
    }
}

unsigned tpp_label_match(struct tpp_label_index *x, const struct tpp_packet *p)
{
    uint32_t items[64];
    unsigned types;
    int n = tpp_label_lookup(x, p, items, 64, &types);
    if (n >= 0) {
        tpp_label_count(x, p, items, (unsigned)n);
        return types;
    }
    /* more items than that (many checked windows hold the packet): counted group by group */
    uint64_t serial = ++x->serial;
    types = 0;
    uint32_t groups[NSHAPES];
    unsigned ng = groups_of_packet(x, p, groups);
    for (unsigned k = 0; k < ng; k++) {
        const struct group *g = &x->groups[groups[k]];
        size_t s = at_most(&x->cut[g->seg], g->nseg, p->ts_ns);
        if (s && x->seg_types[g->seg + s - 1]) {
            types |= x->seg_types[g->seg + s - 1];
            count(&x->tallies[x->l->n + g->seg + s - 1], p->ts_ns);
        }
        for (size_t i = first_after(x->e, g->begin, g->end, p->ts_ns); i-- > g->begin;) {
            const struct checked *e = &x->e[i];
            if (window(e->from, p->ts_ns) > g->longest) break;
            if (e->to < p->ts_ns) continue;
            types |= 1u << e->type;
            struct tally *t = &x->tallies[e->anomaly];
            if (t->stamp == serial) continue;
            t->stamp = serial;
            count(t, p->ts_ns);
        }
    }
    return types;
}

/* Tally b into a: packets summed, first and last the earliest and latest. */
static void merge_tally(struct tally *a, const struct tally *b)
{
    if (!b->packets) return;
    if (!a->packets || b->first < a->first) a->first = b->first;
    if (!a->packets || b->last > a->last) a->last = b->last;
    a->packets += b->packets;
}

void tpp_label_index_finish(struct tpp_label_index *x)
{
    const struct tpp_labels *l = x->l;
    const struct tally *seg = &x->tallies[l->n];
    /* a swept filter's packets are those of the segments its window covers, [first, end) */
    x->before[0] = 0;
    for (size_t s = 0; s < x->nseg; s++) x->before[s + 1] = x->before[s] + seg[s].packets;
    x->next_used[x->nseg] = (uint32_t)x->nseg;
    for (size_t s = x->nseg; s-- > 0;) x->next_used[s] = seg[s].packets ? (uint32_t)s : x->next_used[s + 1];
    for (size_t s = 0; s < x->nseg; s++)
        x->prev_used[s] = seg[s].packets ? (uint32_t)s : s ? x->prev_used[s - 1] : UINT32_MAX;
    for (size_t i = 0; i < x->nswept; i++) {
        const struct swept *w = &x->sw[i];
        if (w->first == w->end || x->next_used[w->first] >= w->end) continue;
        struct tally t = { .packets = x->before[w->end] - x->before[w->first],
                           .first = seg[x->next_used[w->first]].first, .last = seg[x->prev_used[w->end - 1]].last };
        merge_tally(&x->tallies[w->anomaly], &t);
    }
    for (size_t k = 0; k < l->n; k++) {
        struct tpp_anomaly *a = &x->l->a[k];
        const struct tally *t = &x->tallies[k];
        if (t->packets) {
            if (!a->packets || t->first < a->first_ns) a->first_ns = t->first;
            if (!a->packets || t->last > a->last_ns) a->last_ns = t->last;
        }
        a->packets += t->packets;
    }
    memset(x->tallies, 0, (l->n + x->nseg) * sizeof *x->tallies);
    x->serial = 0;
}

/* How many of v[0..n) (ascending) are below t. */
static size_t below(const int64_t *v, size_t n, int64_t t)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] < t) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

void tpp_label_events(const struct tpp_label_index *x, int64_t start_ns, int64_t end_ns, double out[TPP_LABEL_NTYPES])
{
    /* overlapping [start, end): from < end and to >= start; those with to < start all have from < end */
    for (int t = 0; t < TPP_LABEL_NTYPES; t++)
        out[t] = (double)(below(x->from[t], x->ntype[t], end_ns) - below(x->to[t], x->ntype[t], start_ns));
}
