/* flow_table.c — see flow_table.h.  Open addressing with linear probing; a sweep places the
 * live entries again, so that it leaves no tombstones. */
#include "flow_table.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define INITIAL4 (1u << 12)
#define INITIAL6 (1u << 10)
/* Generations 1 .. FLOW_GENERATIONS number the intervals of one cycle; OLD marks every entry of an earlier cycle
 * (set when a cycle ends), so that a generation never stands for two intervals. */
#define FLOW_GENERATIONS ((1u << 24) - 2)
#define OLD ((1u << 24) - 1)
#define KEY_BITS 0xffffffffffull   /* rest without the generation */

static uint64_t gen_of(uint64_t rest) { return rest >> 40; }

static uint64_t load64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static uint32_t load32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

static uint64_t mix(uint64_t h)
{
    h ^= h >> 32;
    h *= 0xD6E8FEB86659FD93ull;
    h ^= h >> 32;
    return h;
}

static uint64_t hash4(uint64_t addrs, uint64_t rest)
{
    return mix(addrs * 0x9E3779B97F4A7C15ull ^ (rest & KEY_BITS) * 0xC2B2AE3D27D4EB4Full);
}

static uint64_t hash6(const uint64_t src[2], const uint64_t dst[2], uint64_t rest)
{
    uint64_t h = (src[0] ^ dst[1] * 0xC2B2AE3D27D4EB4Full) * 0x9E3779B97F4A7C15ull;
    h = (h ^ (src[1] + dst[0] * 0x165667B19E3779F9ull)) * 0xD6E8FEB86659FD93ull;
    return mix(h ^ (rest & KEY_BITS) * 0x27D4EB2F165667C5ull);
}

static uint64_t rest_of(const struct tpp_packet *p)
{
    return (uint64_t)p->sport | (uint64_t)p->dport << 16 | (uint64_t)p->proto << 32;
}

static uint64_t addrs_of(const struct tpp_packet *p)
{
    return (uint64_t)load32(p->src + 12) | (uint64_t)load32(p->dst + 12) << 32;
}

/* Zeroed slots.  A large table is its own mapping on 2 MB boundaries, marked for huge pages: every packet probes
 * it at random, and with 4 KB pages nearly every probe would also miss the TLB. */
#define HUGE_PAGE (2u << 20)
static void *slots_alloc(size_t bytes)
{
    if (bytes < 2 * HUGE_PAGE) return calloc(1, bytes);
    uint8_t *m = mmap(NULL, bytes + HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return NULL;
    size_t lead = (HUGE_PAGE - (uintptr_t)m % HUGE_PAGE) % HUGE_PAGE;
    if (lead) munmap(m, lead);
    munmap(m + lead + bytes, HUGE_PAGE - lead);
#ifdef MADV_HUGEPAGE
    madvise(m + lead, bytes, MADV_HUGEPAGE);
#endif
    return m + lead;
}

static void slots_free(void *p, size_t bytes)
{
    if (!p) return;
    if (bytes < 2 * HUGE_PAGE) free(p);
    else munmap(p, bytes);
}

int flow_table_init(struct flow_table *t, int64_t timeout_ns)
{
    memset(t, 0, sizeof *t);
    t->v4 = slots_alloc(INITIAL4 * sizeof *t->v4);
    t->v6 = slots_alloc(INITIAL6 * sizeof *t->v6);
    t->mask4 = INITIAL4 - 1;
    t->mask6 = INITIAL6 - 1;
    t->gen = 1;
    t->timeout = timeout_ns;
    if (!t->v4 || !t->v6) { flow_table_free(t); return -1; }
    return 0;
}

void flow_table_free(struct flow_table *t)
{
    slots_free(t->v4, (t->mask4 + 1) * sizeof *t->v4);
    slots_free(t->v6, (t->mask6 + 1) * sizeof *t->v6);
    memset(t, 0, sizeof *t);
}

/* Probing, one function per family so that the IPv4 loop stays small. */
static uint64_t find4(const struct flow_slot4 *s, uint64_t mask, uint64_t addrs, uint64_t rest)
{
    uint64_t i = hash4(addrs, rest) & mask;
    while (s[i].rest && (s[i].addrs != addrs || (s[i].rest & KEY_BITS) != rest)) i = (i + 1) & mask;
    return i;
}

static int same6(const struct flow_slot6 *s, const uint64_t src[2], const uint64_t dst[2], uint64_t rest)
{
    return s->src[0] == src[0] && s->src[1] == src[1] && s->dst[0] == dst[0] && s->dst[1] == dst[1] &&
           (s->rest & KEY_BITS) == rest;
}

static uint64_t find6(const struct flow_slot6 *s, uint64_t mask, const uint64_t src[2], const uint64_t dst[2],
                      uint64_t rest)
{
    uint64_t i = hash6(src, dst, rest) & mask;
    while (s[i].rest && !same6(&s[i], src, dst, rest)) i = (i + 1) & mask;
    return i;
}

static uint64_t home4(const struct flow_slot4 *s, uint64_t mask) { return hash4(s->addrs, s->rest) & mask; }
static uint64_t home6(const struct flow_slot6 *s, uint64_t mask) { return hash6(s->src, s->dst, s->rest) & mask; }

/* Is an entry expired: its last packet more than timeout before `now`, and not of the current interval (whose
 * entries say which flows the interval already listed). */
static int expired(uint64_t rest, int64_t last_ns, int64_t cutoff, uint64_t gen)
{
    return last_ns < cutoff && gen_of(rest) != gen;
}

/* Sweep and grow, one function per family through a macro: the same steps on two slot types.
 *
 * Sweep: one pass in slot order, starting after an empty slot so that no run of occupied slots wraps past the
 * start: an expired entry is emptied, a live one is placed again at the first free slot from its home (or stays).
 * The slots between a live entry's home and its place were all visited before it, so it never lands behind a
 * hole, and every later move only fills a hole or leaves one after the entries already placed. */
#define DEFINE_SWEEP_GROW(FAM, SLOT, HOME, FIND_ARGS)                                                              \
    static void sweep##FAM(struct flow_table *t, int64_t cutoff)                                                    \
    {                                                                                                               \
        struct SLOT *s = t->v##FAM;                                                                                 \
        uint64_t mask = t->mask##FAM, start = 0;                                                                    \
        int holes = 0;             /* a slot of the current run was emptied: the entries after it may move */       \
        while (s[start].rest) start++;                                                                              \
        for (uint64_t k = 1; k <= mask; k++) {                                                                      \
            uint64_t i = (start + k) & mask;                                                                        \
            if (!s[i].rest) { holes = 0; continue; }                                                                \
            if (expired(s[i].rest, s[i].last_ns, cutoff, t->gen)) {                                                 \
                s[i].rest = 0;                                                                                      \
                t->n##FAM--;                                                                                        \
                holes = 1;                                                                                          \
                continue;                                                                                           \
            }                                                                                                       \
            if (!holes) continue;  /* every slot from its home to here is still taken */                            \
            uint64_t j = HOME(&s[i], mask);                                                                         \
            while (j != i && s[j].rest) j = (j + 1) & mask;                                                         \
            if (j != i) {                                                                                           \
                s[j] = s[i];                                                                                        \
                s[i].rest = 0;                                                                                      \
            }                                                                                                       \
        }                                                                                                           \
    }                                                                                                               \
    static int grow##FAM(struct flow_table *t)                                                                      \
    {                                                                                                               \
        uint64_t cap = (t->mask##FAM + 1) * 2;                                                                      \
        struct SLOT *s = slots_alloc(cap * sizeof *s);                                                              \
        if (!s) return -1;                                                                                          \
        for (uint64_t i = 0; i <= t->mask##FAM; i++) {                                                              \
            const struct SLOT *old = &t->v##FAM[i];                                                                 \
            if (old->rest) s[find##FAM(s, cap - 1, FIND_ARGS(old))] = *old;                                         \
        }                                                                                                           \
        slots_free(t->v##FAM, (t->mask##FAM + 1) * sizeof *s);                                                      \
        t->v##FAM = s;                                                                                              \
        t->mask##FAM = cap - 1;                                                                                     \
        return 0;                                                                                                   \
    }                                                                                                               \
    /* Room for one more entry: at three quarters full, sweep; grow when that left more than 60 %: the next sweep  \
     * is then at least 15 % of the slots away, and a table holds up to 60 % live flows (memory matters: on a       \
     * backbone trace nearly every packet is a flow of its own). */                                                 \
    static int make_room##FAM(struct flow_table *t, int64_t now)                                                    \
    {                                                                                                               \
        uint64_t cap = t->mask##FAM + 1;                                                                            \
        if (t->n##FAM + 1 <= cap / 4 * 3) return 0;                                                                 \
        int64_t cutoff;                                                                                             \
        if (__builtin_sub_overflow(now, t->timeout, &cutoff)) cutoff = INT64_MIN;                                   \
        sweep##FAM(t, cutoff);                                                                                      \
        return t->n##FAM + 1 > cap / 10 * 6 ? grow##FAM(t) : 0;                                                     \
    }

#define ARGS4(o) (o)->addrs, (o)->rest & KEY_BITS
#define ARGS6(o) (o)->src, (o)->dst, (o)->rest & KEY_BITS
DEFINE_SWEEP_GROW(4, flow_slot4, home4, ARGS4)
DEFINE_SWEEP_GROW(6, flow_slot6, home6, ARGS6)

/* The outcome for an entry found at `rest`/`last`, now touched by a packet at ts. */
static enum flow_seen touch_entry(uint64_t *rest, int64_t *last, int64_t ts, uint64_t gen, int64_t *prev_ns)
{
    uint64_t was = gen_of(*rest);
    *prev_ns = *last;
    *last = ts;
    if (was == gen) return FLOW_AGAIN;
    *rest = (*rest & KEY_BITS) | gen << 40;
    return FLOW_FIRST_IN_INTERVAL;
}

enum flow_seen flow_table_touch(struct flow_table *t, const struct tpp_packet *p, int64_t *prev_ns)
{
    uint64_t rest = rest_of(p);
    if (p->ipv == 4) {
        uint64_t addrs = addrs_of(p);
        uint64_t i = find4(t->v4, t->mask4, addrs, rest);
        struct flow_slot4 *s = &t->v4[i];
        if (s->rest) return touch_entry(&s->rest, &s->last_ns, p->ts_ns, t->gen, prev_ns);
        if (t->n4 + 1 > (t->mask4 + 1) / 4 * 3) {
            if (make_room4(t, p->ts_ns) != 0) return FLOW_NO_MEMORY;
            s = &t->v4[find4(t->v4, t->mask4, addrs, rest)];
        }
        *s = (struct flow_slot4){ addrs, rest | t->gen << 40, p->ts_ns };
        t->n4++;
        return FLOW_UNKNOWN;
    }
    uint64_t src[2] = { load64(p->src), load64(p->src + 8) }, dst[2] = { load64(p->dst), load64(p->dst + 8) };
    uint64_t i = find6(t->v6, t->mask6, src, dst, rest);
    struct flow_slot6 *s = &t->v6[i];
    if (s->rest) return touch_entry(&s->rest, &s->last_ns, p->ts_ns, t->gen, prev_ns);
    if (t->n6 + 1 > (t->mask6 + 1) / 4 * 3) {
        if (make_room6(t, p->ts_ns) != 0) return FLOW_NO_MEMORY;
        s = &t->v6[find6(t->v6, t->mask6, src, dst, rest)];
    }
    *s = (struct flow_slot6){ { src[0], src[1] }, { dst[0], dst[1] }, rest | t->gen << 40, p->ts_ns };
    t->n6++;
    return FLOW_UNKNOWN;
}

void flow_table_prefetch(const struct flow_table *t, const struct tpp_packet *p)
{
    uint64_t rest = rest_of(p);
    if (p->ipv == 4) {
        const struct flow_slot4 *s = &t->v4[hash4(addrs_of(p), rest) & t->mask4];
        __builtin_prefetch(s, 1);
        __builtin_prefetch((const char *)s + 64, 1); /* a probe at 60-75 % load runs on over a few slots */
        return;
    }
    uint64_t src[2] = { load64(p->src), load64(p->src + 8) }, dst[2] = { load64(p->dst), load64(p->dst + 8) };
    __builtin_prefetch(&t->v6[hash6(src, dst, rest) & t->mask6], 1);
}

void flow_table_next_interval(struct flow_table *t)
{
    if (t->gen < FLOW_GENERATIONS) { t->gen++; return; }
    /* A cycle ends: every entry becomes "an earlier cycle", then generations start again. */
    for (uint64_t i = 0; i <= t->mask4; i++)
        if (t->v4[i].rest) t->v4[i].rest = (t->v4[i].rest & KEY_BITS) | (uint64_t)OLD << 40;
    for (uint64_t i = 0; i <= t->mask6; i++)
        if (t->v6[i].rest) t->v6[i].rest = (t->v6[i].rest & KEY_BITS) | (uint64_t)OLD << 40;
    t->base += FLOW_GENERATIONS;
    t->gen = 1;
}

static void key_rest(uint64_t rest, struct tpp_flow_key *k)
{
    uint16_t sport = (uint16_t)rest, dport = (uint16_t)(rest >> 16);
    k->sport[0] = (uint8_t)(sport >> 8);
    k->sport[1] = (uint8_t)sport;
    k->dport[0] = (uint8_t)(dport >> 8);
    k->dport[1] = (uint8_t)dport;
    k->proto = (uint8_t)(rest >> 32);
}

void flow_key_of_packet(const struct tpp_packet *p, struct tpp_flow_key *k)
{
    memcpy(k->src, p->src, 16);
    memcpy(k->dst, p->dst, 16);
    key_rest(rest_of(p), k);
    k->ipv = p->ipv;
}

static uint32_t interval_of(const struct flow_table *t, uint64_t rest)
{
    uint64_t g = gen_of(rest);
    return g == OLD ? UINT32_MAX : (uint32_t)(t->base + g - 1);
}

/* The walk of flow_table_each, also giving the table's memory back as it goes: a large table is its own mapping,
 * and the part already read is unmapped 2 MB at a time (at the end the caller may hold a million flows that the
 * walk copied out, while the table held them too). */
struct release { uint8_t *base; size_t bytes, done; };

static void release_upto(struct release *r, size_t upto)
{
    if (r->bytes < 2 * HUGE_PAGE) return;         /* calloc'ed: freed whole at the end */
    while (upto - r->done >= HUGE_PAGE) {
        munmap(r->base + r->done, HUGE_PAGE);
        r->done += HUGE_PAGE;
    }
}

static void walk(struct flow_table *t, int drain,
                 void (*fn)(const struct tpp_flow_key *k, int64_t last_ns, uint32_t interval, void *ud), void *ud)
{
    struct tpp_flow_key k;
    static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    memcpy(k.src, mapped, 12);
    memcpy(k.dst, mapped, 12);
    k.ipv = 4;
    struct release r = { (uint8_t *)t->v4, (t->mask4 + 1) * sizeof *t->v4, 0 };
    for (uint64_t i = 0; i <= t->mask4; i++) {
        const struct flow_slot4 *s = &t->v4[i];
        if (s->rest) {
            uint32_t src = (uint32_t)s->addrs, dst = (uint32_t)(s->addrs >> 32);
            memcpy(k.src + 12, &src, 4);
            memcpy(k.dst + 12, &dst, 4);
            key_rest(s->rest, &k);
            fn(&k, s->last_ns, interval_of(t, s->rest), ud);
        }
        if (drain) release_upto(&r, (i + 1) * sizeof *s);
    }
    if (drain && r.bytes >= 2 * HUGE_PAGE) {
        if (r.bytes > r.done) munmap(r.base + r.done, r.bytes - r.done);
        t->v4 = NULL;
    }
    k.ipv = 6;
    r = (struct release){ (uint8_t *)t->v6, (t->mask6 + 1) * sizeof *t->v6, 0 };
    for (uint64_t i = 0; i <= t->mask6; i++) {
        const struct flow_slot6 *s = &t->v6[i];
        if (s->rest) {
            memcpy(k.src, s->src, 16);
            memcpy(k.dst, s->dst, 16);
            key_rest(s->rest, &k);
            fn(&k, s->last_ns, interval_of(t, s->rest), ud);
        }
        if (drain) release_upto(&r, (i + 1) * sizeof *s);
    }
    if (drain && r.bytes >= 2 * HUGE_PAGE) {
        if (r.bytes > r.done) munmap(r.base + r.done, r.bytes - r.done);
        t->v6 = NULL;
    }
    if (drain) flow_table_free(t);
}

void flow_table_each(const struct flow_table *t,
                     void (*fn)(const struct tpp_flow_key *k, int64_t last_ns, uint32_t interval, void *ud), void *ud)
{
    walk((struct flow_table *)t, 0, fn, ud);
}

void flow_table_drain(struct flow_table *t,
                      void (*fn)(const struct tpp_flow_key *k, int64_t last_ns, uint32_t interval, void *ud), void *ud)
{
    walk(t, 1, fn, ud);
}
