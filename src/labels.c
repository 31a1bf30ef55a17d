/* labels.c — the anomaly list of a parse and its matching index (tpp/labels.h).
 *
 * The index files each filter under its key: the attributes it has (its shape) and their values.  A packet
 * matches a filter exactly when its own key of the filter's shape is the filter's, so a packet looks up one key
 * per shape in use (a bitmap answers "none" for most) and finds the filters it matches without checking any.
 * Within a key's group, time decides: the filters of anomalies whose filters cannot overlap are counted by a
 * sweep over the windows (a step per packet, whatever their number), the others are checked one by one among
 * those that started at most the group's longest window before the packet.  Any order of time is handled, and
 * nothing is allocated once the index is built.
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
    uint8_t swept;             /* counted by the sweep (below) */
    uint8_t type;              /* the anomaly's */
    struct key key;
};

/* What the parse finds of one anomaly, kept together (the labels' own fields are far apart). */
struct found {
    uint64_t stamp;            /* the serial of the last packet counted: a packet counts once */
    uint64_t packets;
    int64_t first, last;       /* valid when seen */
    uint8_t seen;
};

/* A filter of an anomaly whose filters all have one shape and differ (sweepable): a packet matches at most one of
 * them, and every packet of the filter's group within the window matches it, so its packets are the group's count
 * when its window ends minus the count when it began (the anomaly's, the sum of its filters').  Packets in time
 * order cost one step of the sweep whatever the number of such anomalies; one that goes back in time is checked
 * against each of them and corrects their counts (adjust). */
struct sweep {
    int64_t from, to;
    uint32_t anomaly;
    uint8_t state;             /* 0 not begun, 1 counting, 2 ended */
    uint64_t base;             /* the group's count when it began */
    int64_t adjust;
};

/* The filters of one key.  The checked ones are those of anomalies whose filters may overlap (a packet matching
 * two of them counts once): a packet looks at those starting in [t - longest, t].  What matching changes fits one
 * cache line; the key, which the lookup reads (maybe on another thread), is apart (struct group_key). */
struct group {
    int64_t longest;           /* the longest window among the checked entries (to - from, saturated) */
    uint64_t count;            /* the group's packets so far */
    int64_t latest;            /* the latest of their times */
    uint32_t begin, end;       /* the checked entries e[begin, end), ascending by from */
    uint32_t pbegin, pend;     /* the swept ones p[pbegin, pend), ascending by from; ends[pbegin, pend) by to */
    uint32_t next_start, next_end;
    uint32_t active[TPP_LABEL_NTYPES]; /* swept anomalies of each type counting now */
} __attribute__((aligned(64)));

_Static_assert(sizeof(struct group) == 64, "a group's matching state is one cache line");

/* What the lookup reads of a group: its key, and where its checked entries are (as in struct group).  Read only
 * once the index is built. */
struct group_key {
    struct key key;
    uint8_t shape;
    uint8_t swept;             /* it has swept entries */
    uint32_t begin, end;
    int64_t longest;
};

/* A slot of the hash table: 32 bits of its key's hash, so that a probe rarely reads a group not its own. */
struct slot {
    uint32_t tag;
    uint32_t group;            /* 0: empty */
};

/* An item of a packet's lookup (tpp_label_lookup): the number of a group with swept filters, which the matching
 * visits; or, with ITEM_CHECKED, the number of an anomaly with a checked filter the packet matches (its window
 * holds the packet), its type above it: the matching only counts the packet into it, once. */
#define ITEM_CHECKED (1u << 31)
#define ITEM_TYPE_SHIFT 29
#define ANOMALY_MASK ((1u << ITEM_TYPE_SHIFT) - 1)

struct tpp_label_index {
    struct tpp_labels *l;
    struct entry *e;
    struct sweep *p;
    uint32_t *ends;
    struct group *groups;      /* from 1 (0 marks an empty slot) */
    struct group_key *keys;    /* the groups' keys, alike */
    size_t ngroups;
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
    uint64_t serial;           /* packets matched so far */
    struct found *found;       /* per anomaly */
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
    free(x->p);
    free(x->ends);
    free(x->groups);
    free(x->keys);
    free(x->slots);
    free(x->found);
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

/* ends[g->pbegin, g->pend): the swept entries' indices by their ends. */
struct end_ref { int64_t to; uint32_t i; };
static int end_cmp(const void *x, const void *y)
{
    const struct end_ref *a = x, *b = y;
    return a->to < b->to ? -1 : a->to > b->to ? 1 : (a->i > b->i) - (a->i < b->i);
}

static int sort_ends(struct tpp_label_index *x, const struct group *g)
{
    size_t n = g->pend - g->pbegin;
    if (n == 0) return 0;
    struct end_ref *r = malloc(n * sizeof *r);
    if (!r) return -1;
    for (size_t i = 0; i < n; i++) r[i] = (struct end_ref){ x->p[g->pbegin + i].to, (uint32_t)(g->pbegin + i) };
    qsort(r, n, sizeof *r, end_cmp);
    for (size_t i = 0; i < n; i++) x->ends[g->pbegin + i] = r[i].i;
    free(r);
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

/* One run of entries of the same key, all[i, j), into group g: the swept ones to p, the others to e. */
static void fill_group(struct tpp_label_index *x, const struct entry *all, size_t i, size_t j, struct group *g,
                       size_t *ne, size_t *np)
{
    *g = (struct group){ .begin = (uint32_t)*ne, .pbegin = (uint32_t)*np };
    for (size_t k = i; k < j; k++) {
        if (all[k].swept) {
            x->p[(*np)++] = (struct sweep){ all[k].from, all[k].to, all[k].anomaly, 0, 0, 0 };
        } else {
            x->e[(*ne)++] = all[k];
            if (window(all[k].from, all[k].to) > g->longest) g->longest = window(all[k].from, all[k].to);
        }
    }
    g->end = (uint32_t)*ne;
    g->pend = (uint32_t)*np;
    g->next_start = g->next_end = g->pbegin;
}

struct tpp_label_index *tpp_label_index_new(struct tpp_labels *l)
{
    struct tpp_label_index *x = calloc(1, sizeof *x);
    struct entry *all = NULL;
    if (!x) return NULL;
    x->l = l;
    size_t nf = l->nfilters + 1;
    if (nf > UINT32_MAX / 2 || l->n > ANOMALY_MASK) goto oom; /* numbered in 32 bits, anomalies in items' */
    all = malloc(nf * sizeof *all);
    x->e = malloc(nf * sizeof *x->e);
    x->p = malloc(nf * sizeof *x->p);
    x->ends = malloc(nf * sizeof *x->ends);
    x->found = calloc(l->n + 1, sizeof *x->found);
    x->groups = aligned_alloc(_Alignof(struct group), (nf + 1) * sizeof *x->groups);
    x->keys = malloc((nf + 1) * sizeof *x->keys);
    if (!all || !x->e || !x->p || !x->ends || !x->found || !x->groups || !x->keys || build_events(x) != 0) goto oom;
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
    size_t ne = 0, np = 0, cap = 16;
    x->ngroups = 1;
    while (cap < 2 * (n + 1)) cap *= 2;
    x->slots = calloc(cap, sizeof *x->slots);
    if (!x->slots) goto oom;
    x->mask = cap - 1;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && all[j].shape == all[i].shape && memcmp(&all[j].key, &all[i].key, sizeof all[i].key) == 0) j++;
        uint32_t g = (uint32_t)x->ngroups++;
        fill_group(x, all, i, j, &x->groups[g], &ne, &np);
        const struct group *made = &x->groups[g];
        x->keys[g] = (struct group_key){ .key = all[i].key, .shape = all[i].shape, .swept = made->pend > made->pbegin,
                                         .begin = made->begin, .end = made->end, .longest = made->longest };
        if (sort_ends(x, &x->groups[g]) != 0) goto oom;
        uint64_t h = hash_key(all[i].shape, &all[i].key);
        x->present[h >> 54] |= 1ull << (h >> 48 & 63);
        uint64_t hs = hash16(all[i].key.src), hd = hash16(all[i].key.dst);
        if (all[i].shape & TPP_LF_SRC_IP) x->src_shapes[hs >> 52] |= (uint16_t)(1u << all[i].shape);
        if (all[i].shape & TPP_LF_DST_IP) x->dst_shapes[hd >> 52] |= (uint16_t)(1u << all[i].shape);
        size_t at = h & x->mask;
        while (x->slots[at].group) at = (at + 1) & x->mask;
        x->slots[at] = (struct slot){ (uint32_t)(h >> 16), g };
        if (all[i].shape == 0) x->all = g; /* reached directly, not through the table */
        i = j;
    }
    free(all);
    x->shapes &= (uint16_t)~1u;
    return x;
oom:
    free(all);
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
        const struct group_key *g = &x->keys[x->slots[s].group];
        if (g->shape == shape && memcmp(&g->key, &k, sizeof k) == 0) return x->slots[s].group;
    }
    return 0;
}

/* The shapes (bit s: shape s) without a source address, without a destination, without ports. */
enum { NO_SRC = 0x5555, NO_DST = 0x3333, NO_PORTS = 0x000f };

/* The shapes a packet may match: those of the filters that may name its addresses, and not those with ports when
 * it has none (as TCP or UDP). */
static unsigned shapes_of(const struct tpp_label_index *x, const struct parts *q, int ports)
{
    return x->shapes & (x->src_shapes[q->src >> 52] | NO_SRC) & (x->dst_shapes[q->dst >> 52] | NO_DST) &
           (ports ? 0xffffu : NO_PORTS);
}

/* A packet at ts is one of an anomaly's: its first and last packet. */
static void note_time(struct found *a, int64_t ts)
{
    if (!a->seen) {
        a->seen = 1;
        a->first = a->last = ts;
        return;
    }
    if (ts < a->first) a->first = ts;
    if (ts > a->last) a->last = ts;
}

/* The first of the checked entries e[begin, end) (ascending by from) starting after ts. */
static size_t first_after(const struct entry *e, size_t begin, size_t end, int64_t ts)
{
    while (begin < end) {
        size_t mid = begin + (end - begin) / 2;
        if (e[mid].from <= ts) begin = mid + 1;
        else end = mid;
    }
    return begin;
}

/* The current packet, at ts, matches a checked filter of anomaly k: it counts once. */
static void count_checked(struct tpp_label_index *x, uint32_t k, int64_t ts)
{
    struct found *a = &x->found[k];
    if (a->stamp == x->serial) return;
    a->stamp = x->serial;
    a->packets++;
    note_time(a, ts);
}

/* The checked entries of group g that hold time ts (among those starting in [ts - longest, ts]). */
static unsigned scan_group(struct tpp_label_index *x, const struct group *g, int64_t ts)
{
    unsigned types = 0;
    for (size_t i = first_after(x->e, g->begin, g->end, ts); i-- > g->begin;) {
        const struct entry *e = &x->e[i];
        if (window(e->from, ts) > g->longest) break;
        if (e->to < ts) continue;
        types |= 1u << e->type;
        count_checked(x, e->anomaly, ts);
    }
    return types;
}

/* A swept filter ends: the group's packets since it began are its packets. */
static void end_sweep(struct tpp_label_index *x, struct group *g, struct sweep *w)
{
    w->state = 2;
    g->active[x->l->a[w->anomaly].type]--;
    uint64_t n = g->count - w->base;
    x->found[w->anomaly].packets += n;
    if (n) note_time(&x->found[w->anomaly], g->latest);
}

/* The swept filters of group g at a packet of the group at time ts (see struct sweep). */
static unsigned sweep_group(struct tpp_label_index *x, struct group *g, int64_t ts)
{
    unsigned types = 0;
    if (g->count && ts < g->latest) { /* back in time: the sweep has passed ts */
        for (size_t i = g->pbegin; i < g->pend; i++) {
            struct sweep *w = &x->p[i];
            int wanted = w->from <= ts && ts <= w->to;
            w->adjust += wanted - (w->state == 1); /* those counting count it with the group */
            if (!wanted) continue;
            types |= 1u << x->l->a[w->anomaly].type;
            note_time(&x->found[w->anomaly], ts);
        }
        g->count++;
        return types;
    }
    while (g->next_start < g->pend && x->p[g->next_start].from <= ts) {
        struct sweep *w = &x->p[g->next_start++];
        w->state = 1;
        w->base = g->count;
        g->active[x->l->a[w->anomaly].type]++;
        if (ts <= w->to) note_time(&x->found[w->anomaly], ts); /* this packet is its first */
    }
    while (g->next_end < g->pend && x->p[x->ends[g->next_end]].to < ts) end_sweep(x, g, &x->p[x->ends[g->next_end++]]);
    g->count++;
    g->latest = ts;
    for (int t = 0; t < TPP_LABEL_NTYPES; t++) types |= (unsigned)(g->active[t] != 0) << t;
    return types;
}

/* The filters of group g at a packet of the group at time ts. */
static unsigned visit(struct tpp_label_index *x, struct group *g, int64_t ts)
{
    unsigned types = 0;
    if (g->pend > g->pbegin) types |= sweep_group(x, g, ts);
    if (g->end > g->begin) types |= scan_group(x, g, ts);
    return types;
}

/* Append group gi's items at time ts to items[*n, room) (see ITEM_CHECKED); -1 when they do not fit. */
static int add_items(const struct tpp_label_index *x, uint32_t gi, int64_t ts, uint32_t *items, unsigned room,
                     unsigned *n)
{
    const struct group_key *g = &x->keys[gi];
    if (g->swept) {
        if (*n == room) return -1;
        items[(*n)++] = gi;
    }
    for (size_t i = first_after(x->e, g->begin, g->end, ts); i-- > g->begin;) {
        const struct entry *e = &x->e[i];
        if (window(e->from, ts) > g->longest) break;
        if (e->to < ts) continue;
        if (*n == room) return -1;
        items[(*n)++] = ITEM_CHECKED | (uint32_t)e->type << ITEM_TYPE_SHIFT | e->anomaly;
    }
    return 0;
}

int tpp_label_lookup(const struct tpp_label_index *x, const struct tpp_packet *p, uint32_t *items, unsigned room)
{
    unsigned n = 0;
    int64_t ts = p->ts_ns;
    if (x->all && add_items(x, x->all, ts, items, room, &n) != 0) return -1;
    int ports = (p->flags & TPP_PKT_L4) && (p->proto == 6 || p->proto == 17);
    struct parts q;
    parts_of_packet(p, &q);
    for (unsigned left = shapes_of(x, &q, ports); left; left &= left - 1) {
        unsigned shape = (unsigned)__builtin_ctz(left);
        uint32_t g = find_group(x, shape, hash_parts(shape, &q), p, ports);
        if (g && add_items(x, g, ts, items, room, &n) != 0) return -1;
    }
    return (int)n;
}

void tpp_label_prefetch(const struct tpp_label_index *x, const uint32_t *items, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        if (items[i] & ITEM_CHECKED) __builtin_prefetch(&x->found[items[i] & ANOMALY_MASK], 1);
        else __builtin_prefetch(&x->groups[items[i]], 1);
    }
}

unsigned tpp_label_match_items(struct tpp_label_index *x, const struct tpp_packet *p, const uint32_t *items,
                               unsigned n)
{
    x->serial++;
    unsigned types = 0;
    for (unsigned i = 0; i < n; i++) {
        uint32_t it = items[i];
        if (it & ITEM_CHECKED) {
            types |= 1u << (it >> ITEM_TYPE_SHIFT & 3);
            count_checked(x, it & ANOMALY_MASK, p->ts_ns);
        } else {
            types |= sweep_group(x, &x->groups[it], p->ts_ns);
        }
    }
    return types;
}

unsigned tpp_label_match(struct tpp_label_index *x, const struct tpp_packet *p)
{
    x->serial++;
    unsigned types = 0;
    int ports = (p->flags & TPP_PKT_L4) && (p->proto == 6 || p->proto == 17);
    if (x->all) types |= visit(x, &x->groups[x->all], p->ts_ns);
    struct parts q;
    parts_of_packet(p, &q);
    for (unsigned left = shapes_of(x, &q, ports); left; left &= left - 1) {
        unsigned shape = (unsigned)__builtin_ctz(left);
        uint32_t g = find_group(x, shape, hash_parts(shape, &q), p, ports);
        if (g) types |= visit(x, &x->groups[g], p->ts_ns);
    }
    return types;
}

void tpp_label_index_finish(struct tpp_label_index *x)
{
    for (size_t gi = 1; gi < x->ngroups; gi++) {
        struct group *g = &x->groups[gi];
        for (size_t i = g->pbegin; i < g->pend; i++) {
            struct sweep *w = &x->p[i];
            if (w->state == 1) end_sweep(x, g, w);
            x->found[w->anomaly].packets += (uint64_t)w->adjust; /* the total is never below 0 */
            w->adjust = 0;
        }
        g->next_start = g->next_end = g->pend;
    }
    for (size_t k = 0; k < x->l->n; k++) {
        struct tpp_anomaly *a = &x->l->a[k];
        struct found *f = &x->found[k];
        if (f->seen && f->packets) {
            if (!a->packets || f->first < a->first_ns) a->first_ns = f->first;
            if (!a->packets || f->last > a->last_ns) a->last_ns = f->last;
        }
        a->packets += f->packets;
        *f = (struct found){ 0 };
    }
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
