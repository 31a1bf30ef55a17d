/* labels.c — the anomaly list of a parse and its matching index (tpp/labels.h).
 *
 * The index files each filter under one key, its most selective attribute (source address, else destination
 * address, else source port, else destination port; a filter with none goes to a "match all" group).  A group is
 * a run of entries sorted by the start of their anomaly's window, with the longest window of the run: a packet
 * at time t looks in the groups of its own source, destination and ports, and in each only at the entries that
 * start in [t - longest, t].  So a packet checks the anomalies whose key it has and whose window can hold it, in
 * any order of time, and nothing is allocated once the index is built.
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

enum { KEY_SRC, KEY_DST, KEY_SPORT, KEY_DPORT, NKEYS };

struct entry {
    uint8_t kind, key[16];     /* the filter's key (ports in key[0..2), big-endian) */
    int64_t from, to;
    uint32_t anomaly, filter;
};

struct group {
    size_t begin, end;         /* entries[begin, end), ascending by from */
    int64_t longest;           /* the longest window among them (to - from, saturated) */
};

struct tpp_label_index {
    struct tpp_labels *l;
    struct entry *e;
    size_t ne;
    struct group *groups;      /* groups[0]: the filters without attributes */
    size_t ngroups;
    uint32_t *slots;           /* open addressing: group index, 0 for empty (group 0 is never hashed) */
    size_t mask;
    unsigned kinds;            /* bit k: some filter is keyed by kind k */
    uint64_t serial;           /* packets matched so far: an anomaly counts a packet once */
    uint64_t *stamp;           /* per anomaly, the serial of the last packet counted */
    /* the windows by type, sorted: starts and ends, for the events of an interval */
    int64_t *from[TPP_LABEL_NTYPES], *to[TPP_LABEL_NTYPES];
    size_t ntype[TPP_LABEL_NTYPES];
};

static int64_t window(int64_t from, int64_t to)
{
    int64_t d;
    return __builtin_sub_overflow(to, from, &d) ? INT64_MAX : d < 0 ? 0 : d;
}

static uint64_t hash_key(unsigned kind, const uint8_t key[16])
{
    uint64_t a, b;
    memcpy(&a, key, 8);
    memcpy(&b, key + 8, 8);
    uint64_t h = (a ^ (b * 0x9e3779b97f4a7c15ull) ^ kind) * 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 31);
}

static int entry_cmp(const void *x, const void *y)
{
    const struct entry *a = x, *b = y;
    if (a->kind != b->kind) return a->kind < b->kind ? -1 : 1;
    int c = memcmp(a->key, b->key, 16);
    if (c) return c;
    return a->from < b->from ? -1 : a->from > b->from;
}

static int int64_cmp(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return a < b ? -1 : a > b;
}

/* The filter's kind and key; NKEYS for a filter without attributes. */
static unsigned key_of(const struct tpp_label_filter *f, uint8_t key[16])
{
    memset(key, 0, 16);
    if (f->has & TPP_LF_SRC_IP) { memcpy(key, f->src, 16); return KEY_SRC; }
    if (f->has & TPP_LF_DST_IP) { memcpy(key, f->dst, 16); return KEY_DST; }
    uint16_t port = f->has & TPP_LF_SRC_PORT ? f->sport : f->dport;
    key[0] = (uint8_t)(port >> 8), key[1] = (uint8_t)port;
    return f->has & TPP_LF_SRC_PORT ? KEY_SPORT : f->has & TPP_LF_DST_PORT ? KEY_DPORT : NKEYS;
}

void tpp_label_index_free(struct tpp_label_index *x)
{
    if (!x) return;
    free(x->e);
    free(x->groups);
    free(x->slots);
    free(x->stamp);
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

struct tpp_label_index *tpp_label_index_new(struct tpp_labels *l)
{
    struct tpp_label_index *x = calloc(1, sizeof *x);
    if (!x) return NULL;
    x->l = l;
    x->e = malloc((l->nfilters + 1) * sizeof *x->e);
    x->stamp = calloc(l->n + 1, sizeof *x->stamp);
    x->groups = malloc((l->nfilters + 1) * sizeof *x->groups);
    if (!x->e || !x->stamp || !x->groups || build_events(x) != 0) goto oom;
    /* the filters without attributes first (kind NKEYS sorts last: they are moved to group 0 below) */
    for (size_t k = 0; k < l->n; k++) {
        const struct tpp_anomaly *a = &l->a[k];
        for (size_t f = 0; f < a->nfilters; f++) {
            struct entry *e = &x->e[x->ne++];
            e->kind = (uint8_t)key_of(&l->filters[a->first_filter + f], e->key);
            e->from = a->from_ns;
            e->to = a->to_ns;
            e->anomaly = (uint32_t)k;
            e->filter = (uint32_t)(a->first_filter + f);
        }
    }
    qsort(x->e, x->ne, sizeof *x->e, entry_cmp);
    size_t keyed = 0;
    while (keyed < x->ne && x->e[keyed].kind != NKEYS) keyed++;
    x->groups[0] = (struct group){ keyed, x->ne, 0 };
    for (size_t i = keyed; i < x->ne; i++)
        if (window(x->e[i].from, x->e[i].to) > x->groups[0].longest) x->groups[0].longest = window(x->e[i].from, x->e[i].to);
    x->ngroups = 1;
    for (size_t i = 0; i < keyed;) {
        size_t j = i;
        int64_t longest = 0;
        while (j < keyed && x->e[j].kind == x->e[i].kind && memcmp(x->e[j].key, x->e[i].key, 16) == 0) {
            if (window(x->e[j].from, x->e[j].to) > longest) longest = window(x->e[j].from, x->e[j].to);
            j++;
        }
        x->groups[x->ngroups++] = (struct group){ i, j, longest };
        x->kinds |= 1u << x->e[i].kind;
        i = j;
    }
    size_t cap = 16;
    while (cap < 2 * x->ngroups) cap *= 2;
    x->slots = calloc(cap, sizeof *x->slots);
    if (!x->slots) goto oom;
    x->mask = cap - 1;
    for (uint32_t g = 1; g < x->ngroups; g++) {
        const struct entry *e = &x->e[x->groups[g].begin];
        size_t s = hash_key(e->kind, e->key) & x->mask;
        while (x->slots[s]) s = (s + 1) & x->mask;
        x->slots[s] = g;
    }
    return x;
oom:
    tpp_label_index_free(x);
    return NULL;
}

static const struct group *find_group(const struct tpp_label_index *x, unsigned kind, const uint8_t key[16])
{
    for (size_t s = hash_key(kind, key) & x->mask; x->slots[s]; s = (s + 1) & x->mask) {
        const struct entry *e = &x->e[x->groups[x->slots[s]].begin];
        if (e->kind == kind && memcmp(e->key, key, 16) == 0) return &x->groups[x->slots[s]];
    }
    return NULL;
}

static int filter_matches(const struct tpp_label_filter *f, const struct tpp_packet *p, int ports)
{
    if ((f->has & TPP_LF_SRC_IP) && memcmp(f->src, p->src, 16) != 0) return 0;
    if ((f->has & TPP_LF_DST_IP) && memcmp(f->dst, p->dst, 16) != 0) return 0;
    if ((f->has & TPP_LF_SRC_PORT) && (!ports || f->sport != p->sport)) return 0;
    if ((f->has & TPP_LF_DST_PORT) && (!ports || f->dport != p->dport)) return 0;
    return 1;
}

/* The entries of group g that may hold time ts: those starting in [ts - longest, ts]. */
static unsigned scan_group(struct tpp_label_index *x, const struct group *g, const struct tpp_packet *p, int ports)
{
    int64_t ts = p->ts_ns;
    size_t lo = g->begin, hi = g->end;
    while (lo < hi) { /* the first entry starting after ts */
        size_t mid = lo + (hi - lo) / 2;
        if (x->e[mid].from <= ts) lo = mid + 1;
        else hi = mid;
    }
    unsigned types = 0;
    for (size_t i = lo; i-- > g->begin;) {
        const struct entry *e = &x->e[i];
        if (window(e->from, ts) > g->longest) break;
        if (e->to < ts || !filter_matches(&x->l->filters[e->filter], p, ports)) continue;
        struct tpp_anomaly *a = &x->l->a[e->anomaly];
        types |= 1u << a->type;
        if (x->stamp[e->anomaly] == x->serial) continue;
        x->stamp[e->anomaly] = x->serial;
        if (!a->packets || ts < a->first_ns) a->first_ns = ts;
        if (!a->packets || ts > a->last_ns) a->last_ns = ts;
        a->packets++;
    }
    return types;
}

unsigned tpp_label_match(struct tpp_label_index *x, const struct tpp_packet *p)
{
    x->serial++;
    unsigned types = 0;
    int ports = (p->flags & TPP_PKT_L4) && (p->proto == 6 || p->proto == 17);
    if (x->groups[0].end > x->groups[0].begin) types |= scan_group(x, &x->groups[0], p, ports);
    const struct group *g;
    if ((x->kinds & (1u << KEY_SRC)) && (g = find_group(x, KEY_SRC, p->src))) types |= scan_group(x, g, p, ports);
    if ((x->kinds & (1u << KEY_DST)) && (g = find_group(x, KEY_DST, p->dst))) types |= scan_group(x, g, p, ports);
    if (ports && (x->kinds & (1u << KEY_SPORT | 1u << KEY_DPORT))) {
        uint8_t key[16] = { 0 };
        key[0] = (uint8_t)(p->sport >> 8), key[1] = (uint8_t)p->sport;
        if ((x->kinds & (1u << KEY_SPORT)) && (g = find_group(x, KEY_SPORT, key))) types |= scan_group(x, g, p, ports);
        key[0] = (uint8_t)(p->dport >> 8), key[1] = (uint8_t)p->dport;
        if ((x->kinds & (1u << KEY_DPORT)) && (g = find_group(x, KEY_DPORT, key))) types |= scan_group(x, g, p, ports);
    }
    return types;
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
