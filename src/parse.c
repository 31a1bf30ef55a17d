/* parse.c — the parse pipeline: capture → decode on a reader thread, aggregate on the caller's thread.
 *
 * Reading and decoding cost about as much as aggregating, so they run side by side: the reader fills batches of
 * decoded packets in a small ring, the caller counts them.  A gzip capture is different: its inflater thread is
 * the slowest stage and already keeps one core busy, so reading, decoding and counting share the caller's
 * thread.  The ring is allocated once; nothing is allocated per packet.  The caller's thread alone touches the
 * result and calls the hooks.  With labels the reader also looks each packet up in the label index
 * (tpp_label_lookup), so that the aggregator, the slower thread, only counts it into what was found.
 */
#include "tpp/parse.h"
#include "tpp/gzindex.h"
#include "tpp/capture.h"
#include "tpp/fingerprint.h"
#include "tpp/interrupt.h"
#include "tpp/aggregate.h"
#include "tpp/labels.h"
#include "tpp/packet.h"
#include "tpp/linktype_names.h"
#include "handoff.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 64 batches of 512 decoded packets (2 MB) let the reader run on while the aggregator closes an interval, which
 * takes a few milliseconds on a large trace; with a small ring the reader would stall each time. */
enum { BATCH = 512, NBATCH = 64, PREFETCH_AHEAD = 16 };

struct batch {
    struct tpp_packet pkt[BATCH];
    int n;
    int last;             /* the reader stopped after this batch (end or error) */
    uint64_t bytes_read;  /* capture bytes consumed when the batch was filled */
};

/* The label items the reader looked up for a batch's packets (tpp_label_lookup), when the parse has labels:
 * packet k's are item[at[k], at[k + 1]) for k below `upto`.  The aggregator looks the others up itself (this
 * list was full: a batch of packets of many anomalies' hosts). */
enum { LABEL_ROOM = 8 * BATCH };
struct batch_labels {
    int upto;
    uint16_t at[BATCH + 1];
    uint8_t types[BATCH];      /* the types packet k matches */
    uint32_t item[LABEL_ROOM];
};

/* Frames of link types tpp does not decode, by link type (a pcapng capture may have several). */
enum { MAX_UNDECODED = 8 };
struct undecoded {
    int linktype;
    uint64_t frames;
};

struct pipeline {
    struct handoff handoff;
    struct tpp_capture *cap;
    int linktype, supported;     /* of the last frame: the next is most likely of the same */
    enum tpp_decode_mode mode;
    struct undecoded undecoded[MAX_UNDECODED];
    int nundecoded;
    uint64_t undecoded_other;    /* frames of link types beyond the first MAX_UNDECODED */
    int failed;                  /* the capture broke; error says how */
    /* with labels and a reader thread: the index, and the items looked up for each batch of the ring (the
     * matching's lookup half, which would otherwise cost the aggregator, the slower thread) */
    const struct tpp_label_index *label_index;
    struct batch_labels *labels; /* [NBATCH], or NULL */
    char error[TPP_ERRBUF_SIZE];
    struct batch ring[NBATCH];
};

/* Count a frame of a link type tpp does not decode. */
static void count_undecoded(struct pipeline *pl, int linktype)
{
    for (int i = 0; i < pl->nundecoded; i++)
        if (pl->undecoded[i].linktype == linktype) { pl->undecoded[i].frames++; return; }
    if (pl->nundecoded == MAX_UNDECODED) { pl->undecoded_other++; return; }
    pl->undecoded[pl->nundecoded++] = (struct undecoded){ linktype, 1 };
}

/* The warning that names the link types whose frames were counted as non-IP. */
static void warn_undecoded(const struct pipeline *pl, struct tpp_result *r)
{
    size_t len = sizeof r->warning, at = 0;
    char name[96];
    uint64_t total = pl->undecoded_other;
    for (int i = 0; i < pl->nundecoded; i++) total += pl->undecoded[i].frames;
    if (pl->nundecoded == 1 && !pl->undecoded_other) {
        tpp_linktype_describe(pl->undecoded[0].linktype, name, sizeof name);
        snprintf(r->warning, len, "link type %s is not decoded: its %llu packet%s count%s as non-IP", name,
                 (unsigned long long)total, total == 1 ? "" : "s", total == 1 ? "s" : "");
        return;
    }
    at += (size_t)snprintf(r->warning, len, "link types not decoded, their packets counted as non-IP:");
    for (int i = 0; i < pl->nundecoded && at < len; i++) {
        tpp_linktype_describe(pl->undecoded[i].linktype, name, sizeof name);
        at += (size_t)snprintf(r->warning + at, len - at, "%s %s: %llu", i ? "," : "", name,
                               (unsigned long long)pl->undecoded[i].frames);
    }
    if (pl->undecoded_other && at < len)
        snprintf(r->warning + at, len - at, ", others: %llu", (unsigned long long)pl->undecoded_other);
}

/* The decoding of a parse: the innermost header when asked; else the original tool's classification in its own
 * semantics (the packet boundary with IPv4 only: --compat); else the outermost header. */
enum tpp_decode_mode tpp_decode_mode_of(const struct tpp_options *o)
{
    if (o->encap == TPP_ENCAP_INNER) return TPP_DECODE_INNER;
    if (o->boundary == TPP_BOUNDARY_PACKET && o->ip == TPP_IP_V4) return TPP_DECODE_COMPAT;
    return TPP_DECODE_OUTER;
}

/* Look packet k of a batch up in the label index, while the batch's list has room for all its items. */
static void look_up_labels(const struct tpp_label_index *x, const struct tpp_packet *p, struct batch_labels *bl, int k)
{
    unsigned at = bl->at[k];
    int n = 0;
    unsigned types = 0;
    if (bl->upto != k || (p->ipv && (n = tpp_label_lookup(x, p, &bl->item[at], LABEL_ROOM - at, &types)) < 0))
        return;
    bl->types[k] = (uint8_t)types;
    bl->at[k + 1] = (uint16_t)(at + (unsigned)n);
    bl->upto = k + 1;
}

/* Fill one batch from the capture; returns (and sets b->last) 1 when reading is over. */
static int fill_batch(struct pipeline *pl, struct batch *b)
{
    struct tpp_frame f;
    int rc = 1;
    struct batch_labels *bl = pl->labels ? &pl->labels[b - pl->ring] : NULL;
    if (bl) bl->upto = 0, bl->at[0] = 0;
    b->n = 0;
    while (b->n < BATCH && !tpp_interrupt_requested() && (rc = tpp_capture_next(pl->cap, &f)) == 1) {
        struct tpp_packet *p = &b->pkt[b->n++];
        if (f.linktype != pl->linktype) {
            pl->linktype = f.linktype;
            pl->supported = tpp_linktype_supported(f.linktype);
        }
        if (!pl->supported) {
            memset(p, 0, sizeof *p);
            count_undecoded(pl, f.linktype);
        } else if (pl->mode == TPP_DECODE_OUTER) { /* the common case, on tpp_decode's own straight path */
            tpp_decode(f.linktype, f.data, f.caplen, f.wirelen, p);
        } else {
            tpp_decode_as(pl->mode, f.linktype, f.data, f.caplen, f.wirelen, p);
        }
        p->ts_ns = f.ts_ns;
        if (bl) look_up_labels(pl->label_index, p, bl, b->n - 1);
    }
    if (rc < 0) {
        pl->failed = 1;
        snprintf(pl->error, sizeof pl->error, "%s (near byte %llu)", tpp_capture_error(pl->cap),
                 (unsigned long long)tpp_capture_bytes_read(pl->cap));
    }
    b->bytes_read = tpp_capture_bytes_read(pl->cap);
    return b->last = rc != 1;
}

static void *reader_main(void *arg)
{
    struct pipeline *pl = arg;
    for (int last = 0, slot; !last && (slot = handoff_next_free(&pl->handoff)) >= 0;) {
        last = fill_batch(pl, &pl->ring[slot]);
        handoff_publish(&pl->handoff, last);
    }
    return NULL;
}

/* Hand the rows closed since the last call to the rows hook; non-zero when it asks to stop. */
static int report_rows(const struct tpp_parse_hooks *hooks, struct tpp_result *r, size_t *reported)
{
    if (!hooks->rows || r->nintervals == *reported) return 0;
    size_t first = *reported;
    *reported = r->nintervals;
    return hooks->rows(hooks->ud, r, first, r->nintervals - first);
}

/* Count one batch; then report.  0 to go on, else the aggregator's failure (-1) or a stop (1). */
static int count_batch(struct pipeline *pl, const struct batch *b, struct tpp_agg *a, struct tpp_result *r,
                       const struct tpp_parse_hooks *hooks, size_t *reported, uint64_t *next_report)
{
    const struct batch_labels *bl = pl->labels ? &pl->labels[b - pl->ring] : NULL;
    for (int k = 0; k < b->n; k++) {
        int ahead = k + PREFETCH_AHEAD;
        if (ahead < b->n) tpp_agg_prefetch(a, &b->pkt[ahead]);
        int agg;
        if (bl && k < bl->upto) {
            if (ahead < bl->upto)
                tpp_label_prefetch(pl->label_index, &bl->item[bl->at[ahead]], bl->at[ahead + 1] - bl->at[ahead]);
            agg = tpp_agg_add_looked_up(a, &b->pkt[k], &bl->item[bl->at[k]], bl->at[k + 1] - bl->at[k],
                                        bl->types[k]);
        } else {
            agg = tpp_agg_add(a, &b->pkt[k]);
        }
        if (agg != 0) return agg;
    }
    if (b->last) return 0;
    int stop = tpp_interrupt_requested() || report_rows(hooks, r, reported); /* Ctrl-C: seen within a batch */
    if (!stop && hooks->progress && r->packets >= *next_report) {
        *next_report = r->packets + (1u << 16);
        stop = hooks->progress(hooks->ud, b->bytes_read, tpp_capture_file_size(pl->cap), r->packets);
    }
    if (!stop) return 0;
    snprintf(r->error, sizeof r->error, "interrupted");
    return 1;
}

/* Count the reader thread's batches until it is done or the aggregator stops; the aggregator's last status. */
static int consume(struct pipeline *pl, struct tpp_agg *a, struct tpp_result *r, const struct tpp_parse_hooks *hooks,
                   size_t *reported)
{
    uint64_t next_report = 1u << 16;
    for (;;) {
        const struct batch *b = &pl->ring[handoff_next_filled(&pl->handoff)];
        int rc = count_batch(pl, b, a, r, hooks, reported, &next_report);
        int last = b->last;
        handoff_release(&pl->handoff);
        if (rc != 0 || last) return rc;
    }
}

/* Read and count on this thread alone, one batch at a time. */
static int read_and_count(struct pipeline *pl, struct tpp_agg *a, struct tpp_result *r,
                          const struct tpp_parse_hooks *hooks, size_t *reported)
{
    uint64_t next_report = 1u << 16;
    struct batch *b = &pl->ring[0];
    for (;;) {
        fill_batch(pl, b);
        int rc = count_batch(pl, b, a, r, hooks, reported, &next_report);
        if (rc != 0 || b->last) return rc;
    }
}

/* Size, modification time and content fingerprint of the capture file (tpp/fingerprint.h), which let a dump be
 * matched to it later; none for standard input, a FIFO or a device (a stream cannot be read again). */
static void describe_source(const char *path, struct tpp_result *r)
{
    struct tpp_source_id id;
    char err[TPP_ERRBUF_SIZE];
    if (strcmp(path, "-") == 0 || tpp_fingerprint_path(path, &id, err, sizeof err) != 0) return;
    r->source_size = id.size;
    r->source_mtime_ns = id.mtime_ns;
    r->source_fingerprint = id.fingerprint;
}

struct tpp_result *tpp_parse(const char *path, const struct tpp_options *opts, const struct tpp_parse_hooks *hooks,
                             char *err, size_t errlen)
{
    return tpp_parse_labelled(path, opts, NULL, hooks, err, errlen);
}

struct tpp_result *tpp_parse_labelled(const char *path, const struct tpp_options *opts, const struct tpp_labels *labels,
                                      const struct tpp_parse_hooks *hooks, char *err, size_t errlen)
{
    static const struct tpp_parse_hooks no_hooks = { NULL, NULL, NULL };
    if (!hooks) hooks = &no_hooks;
    char cerr[TPP_ERRBUF_SIZE];
    struct tpp_gzindex *index = NULL;
    if (opts->index[0] && !(index = tpp_gzindex_load(opts->index, path, cerr, sizeof cerr))) {
        snprintf(err, errlen, "%s: %s", path, cerr);
        return NULL;
    }
    struct tpp_capture *cap = tpp_capture_open_range(path, opts->filter, opts->range_from, opts->range_to, index,
                                                     cerr, sizeof cerr);
    tpp_gzindex_free(index); /* the reader keeps what it needs */
    if (!cap) { snprintf(err, errlen, "%s: %s", path, cerr); return NULL; }
    struct tpp_result *r = tpp_result_new(opts, path);
    if (r && labels && !(r->labels = tpp_labels_clone(labels))) {
        tpp_result_free(r);
        r = NULL;
    }
    if (r && r->labels) tpp_labels_reset_counts(r->labels);
    struct tpp_agg *a = r ? tpp_agg_new(r) : NULL;
    struct pipeline *pl = a ? calloc(1, sizeof *pl) : NULL;
    if (!pl) {
        snprintf(err, errlen, "%s: out of memory", path);
        tpp_agg_free(a);
        tpp_result_free(r);
        tpp_capture_close(cap);
        return NULL;
    }
    r->linktype = tpp_capture_linktype(cap);
    describe_source(path, r);
    pl->cap = cap;
    pl->linktype = r->linktype;
    pl->supported = tpp_linktype_supported(r->linktype);
    pl->mode = tpp_decode_mode_of(opts);

    handoff_init(&pl->handoff, NBATCH);
    pthread_t reader;
    int agg;
    size_t reported = 0;
    /* without room for the lookups (out of memory), the aggregator looks packets up itself */
    if (!tpp_capture_inflates(cap) && (pl->label_index = tpp_agg_label_index(a)))
        pl->labels = malloc(NBATCH * sizeof *pl->labels);
    if (tpp_capture_inflates(cap)) {
        agg = read_and_count(pl, a, r, hooks, &reported);
    } else if (pthread_create(&reader, NULL, reader_main, pl) == 0) {
        agg = consume(pl, a, r, hooks, &reported);
        handoff_close(&pl->handoff);
        pthread_join(reader, NULL);
    } else {
        agg = -1;
        snprintf(r->error, sizeof r->error, "cannot start the reader thread");
    }

    if (pl->nundecoded) warn_undecoded(pl, r);
    else if (!pl->supported && r->packets == 0) {
        char name[96];
        tpp_linktype_describe(r->linktype, name, sizeof name);
        snprintf(r->warning, sizeof r->warning, "link type %s is not decoded", name);
    }
    if (pl->failed && !r->error[0]) snprintf(r->error, sizeof r->error, "%s", pl->error);
    else if (agg < 0 && !r->error[0]) snprintf(r->error, sizeof r->error, "out of memory");
    if (tpp_agg_finish(a) != 0 && !r->error[0]) snprintf(r->error, sizeof r->error, "out of memory");
    /* A chunk that ends where the file's records end says "to the end" (0): a merge of chunks can tell that it has
     * them all, compressed or not. */
    if (opts->range_to && opts->range_to == tpp_capture_file_size(cap)) r->opts.range_to = 0;
    r->complete = r->error[0] == 0;
    report_rows(hooks, r, &reported); /* the rows closed by the end (a stop request changes nothing now) */

    handoff_destroy(&pl->handoff);
    free(pl->labels);
    free(pl);
    tpp_agg_free(a);
    tpp_capture_close(cap);
    return r;
}
