/* result_export.c — the result's text outputs: the critical TSV, CSV and JSON, all spelling cells through one
 * formatter (tpp_format_cell) so that the three formats agree on every number; and the heavy-hitter table. */
#include "tpp/result_export.h"
#include "tpp/result_summary.h"
#include "tpp/outfile.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Shortest "%.Ng" that reads back as the same double (as Python's repr does); v is finite. */
static const char *format_real(char *buf, size_t len, double v)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    return buf;
}

/* NaN and infinities, which each format spells its own way. */
static const char *format_nonfinite(enum tpp_export_format format, double v)
{
    if (format == TPP_EXPORT_JSON) return "null";
    if (isnan(v)) return format == TPP_EXPORT_CSV ? "" : "nan";
    return v > 0 ? "inf" : "-inf";
}

/* Sign and magnitude, so that the text reads back as the time: -1.5 s is "-1.500000000", not "-2.500000000". */
const char *tpp_format_time(char *buf, size_t len, int64_t ns)
{
    uint64_t mag = ns < 0 ? 0 - (uint64_t)ns : (uint64_t)ns;
    snprintf(buf, len, "%s%llu.%09llu", ns < 0 ? "-" : "", (unsigned long long)(mag / 1000000000u),
             (unsigned long long)(mag % 1000000000u));
    return buf;
}

const char *tpp_format_cell(char *buf, size_t len, enum tpp_export_format format, const struct tpp_column *c,
                            const struct tpp_interval *iv, size_t index)
{
    const char *base = (const char *)iv + c->offset;
    switch (c->type) {
    case TPP_COL_INDEX: snprintf(buf, len, "%zu", index); break;
    case TPP_COL_TIME: tpp_format_time(buf, len, *(const int64_t *)base); break;
    case TPP_COL_COUNT: snprintf(buf, len, "%llu", (unsigned long long)*(const uint64_t *)base); break;
    case TPP_COL_REAL: {
        double v = *(const double *)base;
        return isfinite(v) ? format_real(buf, len, v) : format_nonfinite(format, v);
    }
    }
    return buf;
}

/* ---- TSV and CSV: a header of the column names, then one line per interval ---- */

static int write_header(FILE *f, const char *sep, const char *eol)
{
    for (size_t c = 0; c < tpp_ncolumns; c++)
        if (fputs(tpp_columns[c].name, f) == EOF || fputs(c + 1 < tpp_ncolumns ? sep : eol, f) == EOF) return -1;
    return 0;
}

static int write_lines(const struct tpp_result *r, enum tpp_export_format format, FILE *f, size_t first, size_t n)
{
    const char *sep = format == TPP_EXPORT_CSV ? "," : "\t", *eol = format == TPP_EXPORT_CSV ? "\r\n" : "\n";
    char buf[64];
    for (size_t i = first; i < first + n && i < r->nintervals; i++)
        for (size_t c = 0; c < tpp_ncolumns; c++) {
            const char *cell = tpp_format_cell(buf, sizeof buf, format, &tpp_columns[c], &r->iv[i], i);
            if (fputs(cell, f) == EOF || fputs(c + 1 < tpp_ncolumns ? sep : eol, f) == EOF) return -1;
        }
    return ferror(f) ? -1 : 0;
}

int tpp_result_write_rows(const struct tpp_result *r, FILE *f, size_t first, size_t n)
{
    return write_lines(r, TPP_EXPORT_TSV, f, first, n);
}

int tpp_result_write_tsv(const struct tpp_result *r, FILE *f)
{
    return tpp_result_export(r, TPP_EXPORT_TSV, f);
}

/* ---- JSON ---- */

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
    case TPP_VALUE_REAL: fputs(isfinite(v->d) ? format_real(buf, sizeof buf, v->d) : "null", f); break;
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
    const char *sep = format == TPP_EXPORT_CSV ? "," : "\t", *eol = format == TPP_EXPORT_CSV ? "\r\n" : "\n";
    if (write_header(f, sep, eol) != 0) return -1;
    return write_lines(r, format, f, 0, r->nintervals);
}

/* Write `r` into `path` through write(r, f, format), atomically: a temporary file beside the target is renamed
 * over it only when everything was written. */
static int write_file(const struct tpp_result *r, enum tpp_export_format format,
                      int (*write)(const struct tpp_result *, enum tpp_export_format, FILE *), const char *path,
                      char *err, size_t errlen)
{
    struct tpp_outfile out;
    if (tpp_outfile_open(&out, path, err, errlen) != 0) return -1;
    errno = 0;
    int fd = dup(out.fd);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    int rc = f ? write(r, format, f) : -1;
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
    return write_file(r, format, tpp_result_export, path, err, errlen);
}

/* ---- heavy hitters ---- */

/* Decimal digits of v at p; returns the end.  (The table has millions of rows: printf's parsing of a format for
 * every number was most of its cost.) */
static char *put_u64(char *p, uint64_t v)
{
    char tmp[20];
    int n = 0;
    do tmp[n++] = (char)('0' + v % 10); while (v /= 10);
    while (n) *p++ = tmp[--n];
    return p;
}

const char *tpp_hh_key_text(char *buf, size_t len, const struct tpp_hh *e)
{
    char text[INET6_ADDRSTRLEN + 8], *p = text;
    if (e->ipv == 4) {
        for (int k = 12; k < 16; k++) {
            p = put_u64(p, e->key[k]);
            *p++ = k < 15 ? '.' : '\0';
        }
        p--;
    } else if (e->ipv == 6) {
        if (!inet_ntop(AF_INET6, e->key, text, INET6_ADDRSTRLEN)) text[0] = '\0';
        p = text + strlen(text);
    } else {
        p = put_u64(p, e->port);
    }
    if ((e->ipv == 4 && e->plen != 32) || (e->ipv == 6 && e->plen != 128)) {
        *p++ = '/';
        p = put_u64(p, e->plen);
    }
    *p = '\0';
    snprintf(buf, len, "%s", text);
    return buf;
}

/* The shortest text of packets / total, remembered: in one interval most heavy hitters share a few values (1/n
 * over and over on a backbone trace), and finding the shortest spelling takes up to three printf and strtod. */
struct share_cache {
    struct { uint64_t packets, total; char text[32]; } e[64];
};

static const char *share_text(struct share_cache *c, const struct tpp_hh *e, const struct tpp_interval *iv)
{
    double s = tpp_hh_share(e, iv);
    if (!isfinite(s)) return format_nonfinite(TPP_EXPORT_TSV, s);
    uint64_t total = e->dim == TPP_HH_TCP_DPORT ? iv->tcp_port_packets
                   : e->dim == TPP_HH_UDP_DPORT ? iv->udp_port_packets : iv->ip_packets;
    size_t slot = (size_t)((e->packets * 0x9e3779b97f4a7c15ull) ^ total) % 64;
    if (c->e[slot].total != total || c->e[slot].packets != e->packets || !c->e[slot].text[0]) {
        c->e[slot].packets = e->packets;
        c->e[slot].total = total;
        format_real(c->e[slot].text, sizeof c->e[slot].text, s);
    }
    return c->e[slot].text;
}

static int write_hh(const struct tpp_result *r, enum tpp_export_format format, FILE *f)
{
    (void)format;
    struct share_cache cache;
    memset(&cache, 0, sizeof cache);
    char line[256];
    if (fputs("interval\tdim\tkey\tpackets\tbytes\tshare\n", f) == EOF) return -1;
    for (size_t i = 0; r->nhh && i < r->nintervals; i++) { /* none: maybe no offsets per row (an older dump) */
        size_t n;
        const struct tpp_hh *hh = tpp_result_hh(r, i, &n);
        for (int d = 0; d < TPP_HH_NDIMS; d++) /* the dimensions' order whatever the order they were stored in */
            for (size_t j = 0; j < n; j++) {
                if (hh[j].dim != d) continue;
                /* interval, dim, key, packets, bytes, share: each field well under its share of the line */
                char *p = put_u64(line, i);
                *p++ = '\t';
                p = stpcpy(p, tpp_hh_dim_names[d]);
                *p++ = '\t';
                tpp_hh_key_text(p, 64, &hh[j]);
                p += strlen(p);
                *p++ = '\t';
                p = put_u64(p, hh[j].packets);
                *p++ = '\t';
                p = put_u64(p, hh[j].bytes);
                *p++ = '\t';
                p = stpcpy(p, share_text(&cache, &hh[j], &r->iv[i]));
                *p++ = '\n';
                if (fwrite(line, 1, (size_t)(p - line), f) != (size_t)(p - line)) return -1;
            }
    }
    return ferror(f) ? -1 : 0;
}

int tpp_result_write_hh(const struct tpp_result *r, FILE *f)
{
    return write_hh(r, TPP_EXPORT_TSV, f);
}

int tpp_result_write_hh_file(const struct tpp_result *r, const char *path, char *err, size_t errlen)
{
    return write_file(r, TPP_EXPORT_TSV, write_hh, path, err, errlen);
}
