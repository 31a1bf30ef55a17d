/* result_export.c — the result's text outputs: the critical table as TSV, CSV or NDJSON (any columns, in any
 * order), the JSON of r:to_json and the heavy-hitter table, all spelling numbers through one formatter so that the
 * formats agree on every number. */
#include "tpp/result_export.h"
#include "tpp/result_summary.h"
#include "tpp/outfile.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

static const uint64_t POW10[20] = { 1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull, 10000000ull,
    100000000ull, 1000000000ull, 10000000000ull, 100000000000ull, 1000000000000ull, 10000000000000ull,
    100000000000000ull, 1000000000000000ull, 10000000000000000ull, 100000000000000000ull,
    1000000000000000000ull, 10000000000000000000ull };

/* "00" .. "99": the digits of a number are spelt two at a time. */
static const char DIGIT_PAIRS[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354"
    "555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899";

/* Decimal digits of v at p; returns the end.  (The tables have millions of rows: printf's parsing of a format for
 * every number was most of their cost.) */
static char *put_u64(char *p, uint64_t v)
{
    int n = 1;
    while (n < 20 && v >= POW10[n]) n++;
    char *end = p + n, *q = end;
    while (v >= 100) {
        q -= 2;
        memcpy(q, DIGIT_PAIRS + 2 * (v % 100), 2);
        v /= 100;
    }
    if (v >= 10) memcpy(q - 2, DIGIT_PAIRS + 2 * v, 2);
    else q[-1] = (char)('0' + v);
    return end;
}

/* ---- reals: the shortest "%.Ng" (N = 15, 16, 17) that reads back as the same double ---------------------------
 * As Python's repr does, and as the loop slow_real below spells it: printf at 15, 16 and 17 digits, each read
 * back with strtod.  That loop was most of the cost of a table (issue 19), so the common doubles take an exact
 * integer path of the same result: for 1e-5 <= |v| < 1e15, v = m / 2^s with m < 2^53 and 3 <= s <= 69, so
 * v * 10^p (p <= 22) is m * 10^p / 2^s, whose quotient and remainder fit 128 bits.  The quotient rounded half to
 * even is printf's digits; the remainder says exactly whether those digits read back as v (the decimal must lie
 * within half an ulp of v, ties going to the even mantissa, as strtod rounds).  Whole numbers below 1e15 are
 * their own shortest text. */
__extension__ typedef unsigned __int128 u128;

static u128 pow10_wide(int p) { return p < 20 ? POW10[p] : (u128)POW10[19] * POW10[p - 19]; }

/* The text of v by printf and strtod, for the doubles the integer path does not cover. */
static size_t slow_real(char *out, size_t len, double v)
{
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(out, len, "%.*g", prec, v);
        if (strtod(out, NULL) == v) break;
    }
    return (size_t)n;
}

/* "%.<prec>g" of the prec-digit integer q times 10^(x - prec + 1), negative when neg: printf's choice between
 * fixed and exponent notation, trailing zeros of the fraction dropped. */
static size_t g_text(char *out, int neg, uint64_t q, int prec, int x)
{
    char d[20];
    for (int i = prec - 1; i >= 0; i--, q /= 10) d[i] = (char)('0' + q % 10);
    int nd = prec;
    while (nd > 1 && d[nd - 1] == '0') nd--;
    char *p = out;
    if (neg) *p++ = '-';
    if (x < -4 || x >= prec) {
        *p++ = d[0];
        if (nd > 1) {
            *p++ = '.';
            memcpy(p, d + 1, (size_t)nd - 1);
            p += nd - 1;
        }
        int ax = x < 0 ? -x : x;
        *p++ = 'e';
        *p++ = x < 0 ? '-' : '+';
        if (ax >= 100) *p++ = (char)('0' + ax / 100);
        *p++ = (char)('0' + ax / 10 % 10);
        *p++ = (char)('0' + ax % 10);
    } else if (x >= 0) {
        memcpy(p, d, (size_t)x + 1);
        p += x + 1;
        if (nd > x + 1) {
            *p++ = '.';
            memcpy(p, d + x + 1, (size_t)(nd - x - 1));
            p += nd - x - 1;
        }
    } else {
        *p++ = '0';
        *p++ = '.';
        for (int i = 0; i < -x - 1; i++) *p++ = '0';
        memcpy(p, d, (size_t)nd);
        p += nd;
    }
    *p = '\0';
    return (size_t)(p - out);
}

/* The text of v (finite) into out (32 bytes), its length. */
static size_t real_text(char *out, size_t len, double v)
{
    double a = fabs(v);
    if (a < 1e15 && a == (double)(int64_t)a && !(a == 0 && signbit(v))) {
        uint64_t u = (uint64_t)a;
        char *p = out;
        if (v < 0) *p++ = '-';
        p = put_u64(p, u);
        *p = '\0';
        return (size_t)(p - out);
    }
    if (!(a >= 1e-5 && a < 1e15)) return slow_real(out, len, v);
    uint64_t bits;
    memcpy(&bits, &a, sizeof bits);
    uint64_t m = (bits & ((1ull << 52) - 1)) | (1ull << 52);
    int s = 1075 - (int)(bits >> 52);
    /* e: the decimal exponent of a.  2^(52-s) <= a < 2^(53-s), so floor((52-s)·log10 2) (1262611 / 2^22 is
     * log10 2 to 7 digits, exact enough for |52-s| < 100) is e or e - 1; the 17 digits it gives correct it.
     * (log10 itself was a quarter of the table's cost.) */
    int k = 52 - s;
    int e = k >= 0 ? (k * 1262611) >> 22 : -((-k * 1262611 + (1 << 22) - 1) >> 22);
    for (;;) {
        u128 t = ((u128)m * pow10_wide(16 - e)) >> s;
        if (t < POW10[16]) e--;
        else if (t >= POW10[17]) e++;
        else break;
    }
    for (int prec = 15; prec <= 17; prec++) {
        u128 p10 = pow10_wide(prec - 1 - e), n = (u128)m * p10;
        u128 q = n >> s, rem = n & (((u128)1 << s) - 1), half = (u128)1 << (s - 1);
        if (rem > half || (rem == half && (q & 1))) q++;
        u128 qs = q << s, dist = qs >= n ? qs - n : n - qs;
        /* below a power of two the next double down is half an ulp away: the interval is half as wide there */
        u128 twice = dist << (qs < n && m == (1ull << 52) ? 2 : 1);
        if (prec < 17 && !(twice < p10 || (twice == p10 && (m & 1) == 0))) continue;
        int x = e;
        if (q == POW10[prec]) { q /= 10; x++; }
        return g_text(out, v < 0, (uint64_t)q, prec, x);
    }
    return slow_real(out, len, v); /* not reached: 17 digits always read back */
}
/* ---- cells ---------------------------------------------------------------------------------------------------- */

/* NaN and infinities, which each format spells its own way. */
static const char *format_nonfinite(enum tpp_export_format format, double v)
{
    if (format == TPP_EXPORT_JSON || format == TPP_EXPORT_NDJSON) return "null";
    if (isnan(v)) return format == TPP_EXPORT_CSV ? "" : "nan";
    return v > 0 ? "inf" : "-inf";
}

const char *tpp_format_real(char *buf, size_t len, double v)
{
    if (isfinite(v)) real_text(buf, len, v);
    else snprintf(buf, len, "%s", format_nonfinite(TPP_EXPORT_TSV, v));
    return buf;
}

/* A time in ns as "seconds.nanoseconds", sign and magnitude, so that the text reads back as the time: -1.5 s is
 * "-1.500000000", not "-2.500000000".  Returns the end. */
static char *put_time(char *p, int64_t ns)
{
    uint64_t mag = ns < 0 ? 0 - (uint64_t)ns : (uint64_t)ns, frac = mag % 1000000000u;
    if (ns < 0) *p++ = '-';
    p = put_u64(p, mag / 1000000000u);
    *p++ = '.';
    for (int i = 8; i >= 0; i--, frac /= 10) p[i] = (char)('0' + frac % 10);
    return p + 9;
}

const char *tpp_format_time(char *buf, size_t len, int64_t ns)
{
    char text[32];
    *put_time(text, ns) = '\0';
    snprintf(buf, len, "%s", text);
    return buf;
}

/* The cell of column c in interval iv (row `index`) at p, as `format` spells it; returns the end (at most 40
 * bytes further). */
static char *put_cell(char *p, enum tpp_export_format format, const struct tpp_column *c,
                      const struct tpp_interval *iv, size_t index)
{
    const char *base = (const char *)iv + c->offset;
    switch (c->type) {
    case TPP_COL_INDEX: return put_u64(p, index);
    case TPP_COL_TIME: return put_time(p, *(const int64_t *)base);
    case TPP_COL_COUNT: return put_u64(p, *(const uint64_t *)base);
    case TPP_COL_REAL: {
        double v = *(const double *)base;
        return isfinite(v) ? p + real_text(p, 40, v) : stpcpy(p, format_nonfinite(format, v));
    }
    }
    return p;
}

const char *tpp_format_cell(char *buf, size_t len, enum tpp_export_format format, const struct tpp_column *c,
                            const struct tpp_interval *iv, size_t index)
{
    char text[64];
    *put_cell(text, format, c, iv, index) = '\0';
    snprintf(buf, len, "%s", text);
    return buf;
}

/* ---- a buffered stream: rows are assembled in place, 1 MB at a time; from the first full buffer on, a thread of
 * the stream's own writes each buffer while the next is assembled (the kernel's copy of a GB of heavy hitters into
 * the page cache was a third of their cost, issue 19; 64 KB buffers woke it sixteen times as often, for a fifth of
 * the table's time).  The writer also starts the disk's writeback of what it wrote (sync_file_range), so that the
 * fsync before the output's rename finds little left to do.  A table that fits one buffer is written without it.
 * ---- */
#define SINK_SIZE ((size_t)1 << 20)

struct sink {
    FILE *f;
    size_t n;
    int failed, write_errno;   /* the first failed write's errno, for the message */
    char *buf;                 /* the buffer being filled, one of bufs */
    char bufs[2][SINK_SIZE];
    int started;               /* the writer thread: 0 not yet, 1 running, -1 could not start (writes here) */
    int stop;
    const char *out;           /* what the writer is to write: `pending` bytes at out */
    size_t pending;
    int fd;                    /* the stream's file for the early writeback, -1 when it is not a file */
    off_t written, synced;     /* the file's offset after the writer's last write; writeback started below synced */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

static void sink_init(struct sink *s, FILE *f)
{
    s->f = f;
    s->n = 0;
    s->failed = s->write_errno = s->started = s->stop = 0;
    s->buf = s->bufs[0];
    s->pending = 0;
    s->fd = -1;
}

static void sink_write_now(struct sink *s, const char *p, size_t n)
{
    if (n && fwrite(p, 1, n, s->f) != n && !s->failed) s->failed = 1, s->write_errno = errno;
}

/* The writer's part: write, then start the writeback of the whole pages written so far (the stream's buffer
 * flushed first, so that they are in the file; the page being filled is left alone: a page under writeback would
 * make the next write to it wait). */
static void sink_write_back(struct sink *s, const char *p, size_t n)
{
    sink_write_now(s, p, n);
    if (s->fd < 0 || s->failed) return;
    if (fflush(s->f) != 0) {
        s->failed = 1, s->write_errno = errno;
        return;
    }
    s->written += (off_t)n;
    off_t end = s->written & ~(off_t)4095;
    if (end > s->synced && sync_file_range(s->fd, s->synced, end - s->synced, SYNC_FILE_RANGE_WRITE) == 0)
        s->synced = end;
}

static void *sink_writer(void *arg)
{
    struct sink *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->pending && !s->stop) pthread_cond_wait(&s->cv, &s->mu);
        if (!s->pending) break;
        pthread_mutex_unlock(&s->mu);
        sink_write_back(s, s->out, s->pending); /* failed, write_errno: read by the other thread after join */
        pthread_mutex_lock(&s->mu);
        s->pending = 0;
        pthread_cond_broadcast(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* Until the writer has written what it was given (nothing to wait for without a writer). */
static void sink_wait_idle(struct sink *s)
{
    if (s->started <= 0) return;
    pthread_mutex_lock(&s->mu);
    while (s->pending) pthread_cond_wait(&s->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
}

/* The filled buffer to the writer (started here the first time), and the other one to fill. */
static void sink_flush(struct sink *s)
{
    if (!s->n) return;
    if (s->started == 0) {
        /* a regular file: where the writes start, for the writeback's ranges */
        struct stat st;
        int fd = fileno(s->f);
        if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && fflush(s->f) == 0) {
            s->written = s->synced = lseek(fd, 0, SEEK_CUR);
            if (s->written >= 0) s->fd = fd;
        }
        pthread_mutex_init(&s->mu, NULL);
        pthread_cond_init(&s->cv, NULL);
        s->started = pthread_create(&s->thread, NULL, sink_writer, s) == 0 ? 1 : -1;
        if (s->started < 0) pthread_cond_destroy(&s->cv), pthread_mutex_destroy(&s->mu);
    }
    if (s->started < 0) {
        sink_write_now(s, s->buf, s->n);
        s->n = 0;
        return;
    }
    pthread_mutex_lock(&s->mu);
    while (s->pending) pthread_cond_wait(&s->cv, &s->mu);
    s->out = s->buf;
    s->pending = s->n;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    s->buf = s->buf == s->bufs[0] ? s->bufs[1] : s->bufs[0];
    s->n = 0;
}

/* Where the next `need` bytes go (need <= SINK_SIZE); sink_end says where they ended. */
static char *sink_room(struct sink *s, size_t need)
{
    if (s->n + need > SINK_SIZE) sink_flush(s);
    return s->buf + s->n;
}

static void sink_end(struct sink *s, const char *end) { s->n = (size_t)(end - s->buf); }

static void sink_put(struct sink *s, const char *text)
{
    size_t len = strlen(text);
    if (len > SINK_SIZE) { /* not one of ours: names and cells are short */
        sink_flush(s);
        sink_wait_idle(s);
        sink_write_now(s, text, len);
        return;
    }
    char *p = sink_room(s, len);
    memcpy(p, text, len);
    sink_end(s, p + len);
}

/* Write what is left, end the writer; 0, or -1 with errno the first failure's. */
static int sink_close(struct sink *s)
{
    if (s->started > 0) {
        sink_flush(s);
        pthread_mutex_lock(&s->mu);
        while (s->pending) pthread_cond_wait(&s->cv, &s->mu);
        s->stop = 1;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->thread, NULL);
        pthread_cond_destroy(&s->cv);
        pthread_mutex_destroy(&s->mu);
    } else {
        sink_write_now(s, s->buf, s->n); /* one buffer's worth at most: no thread for it */
        s->n = 0;
    }
    if (s->failed) {
        if (s->write_errno) errno = s->write_errno;
        return -1;
    }
    return ferror(s->f) ? -1 : 0;
}

static const char *separator(enum tpp_export_format format) { return format == TPP_EXPORT_CSV ? "," : "\t"; }
static const char *line_end(enum tpp_export_format format) { return format == TPP_EXPORT_CSV ? "\r\n" : "\n"; }

/* ---- the critical table: TSV, CSV (a header of the column names, then one line per interval) or NDJSON (one
 * object per interval) ---- */

struct table_spec {
    enum tpp_export_format format;
    const size_t *cols; /* indices into tpp_columns; NULL: all of them */
    size_t ncols;
    size_t first, n;    /* the rows written */
    int header;
};

static const struct tpp_column *spec_column(const struct table_spec *t, size_t k)
{
    return &tpp_columns[t->cols ? t->cols[k] : k];
}

/* What comes before each cell of a row (a separator, or the cell's JSON key) and the row's end, spelt once for the
 * table: at[k], n[k] for column k, at[ncols], n[ncols] for the end, in text, which has 32 bytes to spare at its end
 * (a short one is copied as 32 bytes). */
struct leads {
    char *text;
    size_t *at, *n;
};

static int leads_init(struct leads *l, const struct table_spec *t)
{
    int json = t->format == TPP_EXPORT_NDJSON;
    const char *sep = separator(t->format), *eol = line_end(t->format);
    size_t len = 32 + 8;
    for (size_t k = 0; k < t->ncols; k++) len += strlen(spec_column(t, k)->name) + 4;
    l->text = malloc(len);
    l->at = malloc((t->ncols + 1) * sizeof *l->at);
    l->n = malloc((t->ncols + 1) * sizeof *l->n);
    if (!l->text || !l->at || !l->n) {
        free(l->text), free(l->at), free(l->n);
        return -1;
    }
    memset(l->text, 0, len);
    char *p = l->text;
    for (size_t k = 0; k <= t->ncols; k++) {
        char *start = p;
        if (k == t->ncols) p = stpcpy(p, !json ? eol : t->ncols ? "}\n" : "{}\n");
        else if (json) p += sprintf(p, "%s\"%s\":", k ? "," : "{", spec_column(t, k)->name);
        else if (k) p = stpcpy(p, sep);
        l->at[k] = (size_t)(start - l->text);
        l->n[k] = (size_t)(p - start);
    }
    return 0;
}

/* lead k of l at p; returns the end. */
static char *put_lead(char *p, const struct leads *l, size_t k)
{
    if (l->n[k] <= 32) memcpy(p, l->text + l->at[k], 32);
    else memcpy(p, l->text + l->at[k], l->n[k]);
    return p + l->n[k];
}

static int write_table(const struct tpp_result *r, const void *spec, FILE *f)
{
    const struct table_spec *t = spec;
    size_t row_max = 4 + 32; /* a row is assembled in the sink's buffer: it must fit (32: a lead's overshoot) */
    for (size_t k = 0; k < t->ncols; k++) row_max += strlen(spec_column(t, k)->name) + 48;
    struct leads leads;
    if (row_max > SINK_SIZE || leads_init(&leads, t) != 0) return -1;
    struct sink *s = malloc(sizeof *s);
    if (!s) {
        free(leads.text), free(leads.at), free(leads.n);
        return -1;
    }
    sink_init(s, f);
    const char *sep = separator(t->format), *eol = line_end(t->format);
    if (t->header && t->format != TPP_EXPORT_NDJSON)
        for (size_t k = 0; k < t->ncols; k++) {
            sink_put(s, spec_column(t, k)->name);
            sink_put(s, k + 1 < t->ncols ? sep : eol);
        }
    for (size_t i = t->first; i < t->first + t->n && i < r->nintervals; i++) {
        char *p = sink_room(s, row_max);
        for (size_t k = 0; k < t->ncols; k++)
            p = put_cell(put_lead(p, &leads, k), t->format, spec_column(t, k), &r->iv[i], i);
        sink_end(s, put_lead(p, &leads, t->ncols));
    }
    int rc = sink_close(s);
    free(s);
    free(leads.text), free(leads.at), free(leads.n);
    return rc;
}

int tpp_result_write_table(const struct tpp_result *r, enum tpp_export_format format, const size_t *cols,
                           size_t ncols, FILE *f)
{
    struct table_spec t = { format, cols, cols ? ncols : tpp_ncolumns, 0, r->nintervals, 1 };
    return write_table(r, &t, f);
}

int tpp_result_write_rows(const struct tpp_result *r, FILE *f, size_t first, size_t n)
{
    struct table_spec t = { TPP_EXPORT_TSV, NULL, tpp_ncolumns, first, n, 0 };
    return write_table(r, &t, f);
}

int tpp_result_write_tsv(const struct tpp_result *r, FILE *f)
{
    return tpp_result_write_table(r, TPP_EXPORT_TSV, NULL, 0, f);
}

/* ---- JSON (r:to_json): the summary fields and the records in one object ---- */

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 when there is none: JSON text is UTF-8. */
static size_t utf8_sequence(const unsigned char *s, size_t n)
{
    size_t len = s[0] < 0x80 ? 1 : s[0] >= 0xc2 && s[0] <= 0xdf ? 2 : s[0] >= 0xe0 && s[0] <= 0xef ? 3 :
                 s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : 0;
    if (len == 0 || len > n) return 0;
    for (size_t k = 1; k < len; k++)
        if ((s[k] & 0xc0) != 0x80) return 0;
    /* overlong forms, UTF-16 surrogates and code points above U+10FFFF */
    if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0) || (s[0] == 0xf0 && s[1] < 0x90) ||
        (s[0] == 0xf4 && s[1] >= 0x90))
        return 0;
    return len;
}

/* A JSON string: quotes, backslashes and control characters escaped; a byte that is not part of valid UTF-8 (a
 * file name in Latin-1, say) as U+FFFD, so that the file stays JSON that every reader accepts. */
static void json_string(FILE *f, const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t len = strlen(s);
    fputc('"', f);
    for (size_t i = 0; i < len;) {
        unsigned char ch = u[i];
        size_t seq = utf8_sequence(u + i, len - i);
        if (seq == 0) { fputs("\\ufffd", f); i++; continue; }
        if (seq > 1) { fwrite(u + i, 1, seq, f); i += seq; continue; }
        if (ch == '"' || ch == '\\') fprintf(f, "\\%c", ch);
        else if (ch == '\n') fputs("\\n", f);
        else if (ch == '\t') fputs("\\t", f);
        else if (ch < 0x20 || ch == 0x7f) fprintf(f, "\\u%04x", ch);
        else fputc(ch, f);
        i++;
    }
    fputc('"', f);
}

static void json_value(FILE *f, const struct tpp_value *v)
{
    char buf[64];
    switch (v->type) {
    case TPP_VALUE_NIL: fputs("null", f); break;
    case TPP_VALUE_BOOL: fputs(v->i ? "true" : "false", f); break;
    case TPP_VALUE_INT: fprintf(f, "%lld", (long long)v->i); break;
    case TPP_VALUE_REAL: fputs(isfinite(v->d) ? tpp_format_real(buf, sizeof buf, v->d) : "null", f); break;
    case TPP_VALUE_STRING: json_string(f, v->s); break;
    }
}


static int write_json(const struct tpp_result *r, FILE *f)
{
    char buf[64];
    fputs("{\n", f);
    for (size_t k = 0; k < tpp_nsummary_fields; k++) {
        struct tpp_value v;
        tpp_summary_fields[k].get(r, &v);
        fprintf(f, "  \"%s\": ", tpp_summary_fields[k].name);
        json_value(f, &v);
        fputs(",\n", f);
    }
    fputs("  \"columns\": [", f);
    for (size_t c = 0; c < tpp_ncolumns; c++) fprintf(f, "%s\"%s\"", c ? ", " : "", tpp_columns[c].name);
    fputs("],\n  \"records\": [", f);
    for (size_t i = 0; i < r->nintervals; i++) {
        fputs(i ? ",\n    {" : "\n    {", f);
        for (size_t c = 0; c < tpp_ncolumns; c++) {
            const char *cell = tpp_format_cell(buf, sizeof buf, TPP_EXPORT_JSON, &tpp_columns[c], &r->iv[i], i);
            if (fprintf(f, "%s\"%s\": %s", c ? ", " : "", tpp_columns[c].name, cell) < 0) return -1;
        }
        fputc('}', f);
    }
    fputs(r->nintervals ? "\n  ]\n}\n" : "]\n}\n", f);
    return ferror(f) ? -1 : 0;
}

int tpp_result_export(const struct tpp_result *r, enum tpp_export_format format, FILE *f)
{
    if (format == TPP_EXPORT_JSON) return write_json(r, f);
    return tpp_result_write_table(r, format, NULL, 0, f);
}

static int write_export(const struct tpp_result *r, const void *spec, FILE *f)
{
    return tpp_result_export(r, *(const enum tpp_export_format *)spec, f);
}

/* Write `r` into `path` through write(r, spec, f), atomically: a temporary file beside the target is renamed over
 * it only when everything was written. */
static int write_file(const struct tpp_result *r, int (*write)(const struct tpp_result *, const void *, FILE *),
                      const void *spec, const char *path, char *err, size_t errlen)
{
    struct tpp_outfile out;
    if (tpp_outfile_open(&out, path, err, errlen) != 0) return -1;
    errno = 0;
    int fd = dup(out.fd);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    int rc = f ? write(r, spec, f) : -1;
    int write_errno = errno; /* the first failure's reason (fclose may set another) */
    if (f && fclose(f) != 0) {
        if (rc == 0) write_errno = errno;
        rc = -1;
    } else if (!f && fd >= 0) close(fd);
    if (rc != 0) {
        tpp_outfile_abort(&out);
        snprintf(err, errlen, "%s: write failed: %s", path, write_errno ? strerror(write_errno) : "unknown error");
        return -1;
    }
    return tpp_outfile_commit(&out, err, errlen);
}

int tpp_result_export_file(const struct tpp_result *r, enum tpp_export_format format, const char *path, char *err,
                           size_t errlen)
{
    return write_file(r, write_export, &format, path, err, errlen);
}

int tpp_result_write_table_file(const struct tpp_result *r, enum tpp_export_format format, const size_t *cols,
                                size_t ncols, const char *path, char *err, size_t errlen)
{
    struct table_spec t = { format, cols, cols ? ncols : tpp_ncolumns, 0, r->nintervals, 1 };
    return write_file(r, write_table, &t, path, err, errlen);
}

/* ---- heavy hitters ---- */

/* An IPv4 address (4 bytes) in dotted decimal at p; returns the end.  A leading zero digit is written and then
 * written over (no branch to mispredict on the address). */
static char *put_ipv4(char *p, const uint8_t *a)
{
    for (int k = 0; k < 4; k++) {
        unsigned v = a[k];
        *p = (char)('0' + v / 100);
        p += v >= 100;
        *p = (char)('0' + v / 10 % 10);
        p += v >= 10;
        *p++ = (char)('0' + v % 10);
        *p++ = '.';
    }
    return p - 1;
}

/* An IPv6 address as inet_ntop (glibc) spells it, without its printf: groups in lowercase hex without leading
 * zeros, the first longest run of two or more zero groups as "::", and the last 32 bits in dotted decimal after
 * six zero groups ("::192.0.2.1") or five and ffff ("::ffff:192.0.2.1").  At most 45 bytes at p; returns the
 * end. */
static char *put_ipv6(char *p, const uint8_t *a)
{
    static const char HEX[] = "0123456789abcdef";
    unsigned w[8];
    int best = -1, best_len = 0, run = 0;
    for (int i = 0; i < 8; i++) {
        w[i] = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
        run = w[i] ? 0 : run + 1;
        if (run > best_len) best = i - run + 1, best_len = run;
    }
    if (best_len < 2) best = -1;
    for (int i = 0; i < 8; i++) {
        if (best >= 0 && i >= best && i < best + best_len) {
            if (i == best) *p++ = ':';
            continue;
        }
        if (i) *p++ = ':';
        if (i == 6 && best == 0 && (best_len == 6 || (best_len == 5 && w[5] == 0xffff)))
            return put_ipv4(p, a + 12);
        unsigned v = w[i];
        if (v >= 0x1000) *p++ = HEX[v >> 12];
        if (v >= 0x100) *p++ = HEX[v >> 8 & 15];
        if (v >= 0x10) *p++ = HEX[v >> 4 & 15];
        *p++ = HEX[v & 15];
    }
    if (best >= 0 && best + best_len == 8) *p++ = ':';
    return p;
}

/* A heavy hitter's key at p (at most INET6_ADDRSTRLEN + 4 bytes); returns the end. */
static char *put_hh_key(char *p, const struct tpp_hh *e)
{
    if (e->ipv == 4) p = put_ipv4(p, e->key + 12);
    else if (e->ipv == 6) p = put_ipv6(p, e->key);
    else p = put_u64(p, e->port);
    if ((e->ipv == 4 && e->plen != 32) || (e->ipv == 6 && e->plen != 128)) {
        *p++ = '/';
        p = put_u64(p, e->plen);
    }
    return p;
}

const char *tpp_hh_key_text(char *buf, size_t len, const struct tpp_hh *e)
{
    char text[INET6_ADDRSTRLEN + 8];
    *put_hh_key(text, e) = '\0';
    snprintf(buf, len, "%s", text);
    return buf;
}

/* A short constant of the row (a separator, a JSON key, a line end), padded so that it is copied as 16 bytes. */
struct piece {
    char s[16];
    size_t n;
};

static void piece_set(struct piece *c, const char *s)
{
    memset(c->s, 0, sizeof c->s);
    c->n = strlen(s);
    memcpy(c->s, s, c->n);
}

/* The shortest text of packets / total, remembered: in one interval most heavy hitters share a few values (1/n
 * over and over on a backbone trace).  Copied as 32 bytes, as pieces are. */
struct share_cache {
    struct { uint64_t packets, total; size_t n; char text[32]; } e[64];
};

/* The share's text of heavy hitter e in interval iv at p; returns the end. */
static char *put_share(char *p, struct share_cache *c, const struct tpp_hh *e, const struct tpp_interval *iv,
                       enum tpp_export_format format)
{
    uint64_t total = e->dim == TPP_HH_TCP_DPORT ? iv->tcp_port_packets
                   : e->dim == TPP_HH_UDP_DPORT ? iv->udp_port_packets : iv->ip_packets;
    if (!total) return stpcpy(p, format_nonfinite(format, NAN)); /* tpp_hh_share's NaN */
    size_t slot = (size_t)((e->packets * 0x9e3779b97f4a7c15ull) ^ total) % 64;
    if (c->e[slot].total != total || c->e[slot].packets != e->packets) { /* total 0: an empty slot */
        c->e[slot].packets = e->packets;
        c->e[slot].total = total;
        c->e[slot].n = real_text(c->e[slot].text, sizeof c->e[slot].text, tpp_hh_share(e, iv));
    }
    memcpy(p, c->e[slot].text, sizeof c->e[slot].text);
    return p + c->e[slot].n;
}

static const char *const HH_COLUMNS[] = { "interval", "dim", "key", "packets", "bytes", "share" };
#define HH_NCOLUMNS (sizeof HH_COLUMNS / sizeof *HH_COLUMNS)
#define HH_ROW_MAX 320 /* a row, with the 16- and 32-byte copies' overshoot: each field well under its share */

/* The rows of interval i, as they are stored: dimension after dimension, in rank order within each (tpp/result.h),
 * as the table lists them. */
static void put_hh_rows(struct sink *s, const struct tpp_result *r, size_t i,
                        const struct piece names[HH_NCOLUMNS + 1], const struct piece dims[TPP_HH_NDIMS],
                        struct share_cache *cache, enum tpp_export_format format)
{
    const struct tpp_interval *iv = &r->iv[i];
    char head[64 + 16] = { 0 }; /* "interval<sep>dim<sep>" of the dimension being written, copied as 64 bytes */
    size_t head_n = 0;
    unsigned last = TPP_HH_NDIMS;
    struct tpp_hh_cursor c;
    struct tpp_hh e;
    for (tpp_result_hh_open(r, i, &c); tpp_hh_next(&c, &e);) {
        if (e.dim != last) {
            last = e.dim;
            char *h = head;
            memcpy(h, names[0].s, 16);
            h = put_u64(h + names[0].n, i);
            memcpy(h, names[1].s, 16);
            h += names[1].n;
            memcpy(h, dims[last].s, 16);
            h += dims[last].n;
            memcpy(h, names[2].s, 16);
            head_n = (size_t)(h + names[2].n - head);
        }
        char *p = sink_room(s, HH_ROW_MAX);
        memcpy(p, head, 64);
        p = put_hh_key(p + head_n, &e);
        memcpy(p, names[3].s, 16);
        p = put_u64(p + names[3].n, e.packets);
        memcpy(p, names[4].s, 16);
        p = put_u64(p + names[4].n, e.bytes);
        memcpy(p, names[5].s, 16);
        p = put_share(p + names[5].n, cache, &e, iv, format);
        memcpy(p, names[6].s, 16);
        sink_end(s, p + names[6].n);
    }
}

static int write_hh(const struct tpp_result *r, const void *spec, FILE *f)
{
    enum tpp_export_format format = *(const enum tpp_export_format *)spec;
    int json = format == TPP_EXPORT_NDJSON;
    const char *sep = separator(format), *eol = line_end(format);
    struct share_cache cache;
    memset(&cache, 0, sizeof cache);
    struct sink *s = malloc(sizeof *s);
    if (!s) return -1;
    sink_init(s, f);
    for (size_t k = 0; !json && k < HH_NCOLUMNS; k++) {
        sink_put(s, HH_COLUMNS[k]);
        sink_put(s, k + 1 < HH_NCOLUMNS ? sep : eol);
    }
    /* What comes before each field, and the row's end.  In NDJSON the key is always a string (a port too), so
     * that the column has one type. */
    static const char *const JSON_NAMES[HH_NCOLUMNS + 1] = { "{\"interval\":", ",\"dim\":\"", "\",\"key\":\"",
                                                             "\",\"packets\":", ",\"bytes\":", ",\"share\":", "}\n" };
    struct piece names[HH_NCOLUMNS + 1], dims[TPP_HH_NDIMS];
    for (size_t k = 0; k <= HH_NCOLUMNS; k++)
        piece_set(&names[k], json ? JSON_NAMES[k] : k == 0 ? "" : k == HH_NCOLUMNS ? eol : sep);
    for (int d = 0; d < TPP_HH_NDIMS; d++) piece_set(&dims[d], tpp_hh_dim_names[d]);
    for (size_t i = 0; r->nhh && i < r->nintervals; i++) put_hh_rows(s, r, i, names, dims, &cache, format);
    int rc = sink_close(s);
    free(s);
    return rc;
}

int tpp_result_write_hh(const struct tpp_result *r, enum tpp_export_format format, FILE *f)
{
    return write_hh(r, &format, f);
}

int tpp_result_write_hh_file(const struct tpp_result *r, enum tpp_export_format format, const char *path, char *err,
                             size_t errlen)
{
    return write_file(r, write_hh, &format, path, err, errlen);
}
