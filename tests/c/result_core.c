/* result_core.c — the result core without Lua: one cell formatter for the three text formats, port statistics,
 * selections and the summary-field table, on a small result built by hand. */
#include "tpp/result.h"
#include "tpp/result_export.h"
#include "tpp/result_ports.h"
#include "tpp/result_summary.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int failures;
#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

static const char *cell(enum tpp_export_format fmt, const char *column, const struct tpp_interval *iv)
{
    static char buf[64];
    return tpp_format_cell(buf, sizeof buf, fmt, tpp_column_find(column), iv, 0);
}

static const struct tpp_summary_field *field(const char *name)
{
    for (size_t k = 0; k < tpp_nsummary_fields; k++)
        if (strcmp(tpp_summary_fields[k].name, name) == 0) return &tpp_summary_fields[k];
    return NULL;
}

int main(void)
{
    struct tpp_interval iv = { .start_ns = -1500000000, .packets = 7, .f2_src = NAN, .f2_dst = INFINITY,
                               .iat_mean = -INFINITY, .avg_len = 0.1 };
    /* NaN: nan / empty / null; infinities: inf / inf / null; the rest the same in every format. */
    CHECK(strcmp(cell(TPP_EXPORT_TSV, "f2_src", &iv), "nan") == 0);
    CHECK(strcmp(cell(TPP_EXPORT_CSV, "f2_src", &iv), "") == 0);
    CHECK(strcmp(cell(TPP_EXPORT_JSON, "f2_src", &iv), "null") == 0);
    CHECK(strcmp(cell(TPP_EXPORT_TSV, "f2_dst", &iv), "inf") == 0);
    CHECK(strcmp(cell(TPP_EXPORT_CSV, "iat_mean", &iv), "-inf") == 0);
    CHECK(strcmp(cell(TPP_EXPORT_JSON, "f2_dst", &iv), "null") == 0);
    for (int fmt = TPP_EXPORT_TSV; fmt <= TPP_EXPORT_JSON; fmt++) {
        CHECK(strcmp(cell(fmt, "start", &iv), "-1.500000000") == 0);
        CHECK(strcmp(cell(fmt, "packets", &iv), "7") == 0);
        CHECK(strcmp(cell(fmt, "avg_len", &iv), "0.1") == 0);
    }

    /* Three intervals of tcp_dst: {80:5, 443:5, 22:1}, {}, {80:2, 8080:9}. */
    struct tpp_options o;
    tpp_options_default(&o);
    o.filter[0] = '\0';
    struct tpp_result *r = tpp_result_new(&o, "trace.pcap");
    CHECK(r != NULL);
    if (!r) return 1;
    static const uint32_t ports[][2] = { { 22, 1 }, { 80, 5 }, { 443, 5 } }, later[][2] = { { 80, 2 }, { 8080, 9 } };
    for (size_t k = 0; k < 3; k++) CHECK(tpp_result_push_port(r, TPP_TCP_DST, ports[k][0], ports[k][1]) == 0);
    struct tpp_interval row = { .start_ns = 0, .end_ns = 10, .packets = 11, .ip_packets = 11 };
    CHECK(tpp_result_push_interval(r, &row) == 0);
    row = (struct tpp_interval){ .start_ns = 10, .end_ns = 20 };
    CHECK(tpp_result_push_interval(r, &row) == 0);
    for (size_t k = 0; k < 2; k++) CHECK(tpp_result_push_port(r, TPP_TCP_DST, later[k][0], later[k][1]) == 0);
    row = (struct tpp_interval){ .start_ns = 20, .end_ns = 30, .packets = 11, .ip_packets = 10 };
    CHECK(tpp_result_push_interval(r, &row) == 0);

    struct tpp_port_total top[3];
    CHECK(tpp_result_top_ports(r, TPP_TCP_DST, TPP_ALL_INTERVALS, top, 3) == 3);
    CHECK(top[0].port == 8080 && top[0].count == 9 && top[1].port == 80 && top[1].count == 7 && top[2].port == 443);
    CHECK(tpp_result_top_ports(r, TPP_TCP_DST, 0, top, 2) == 2);
    CHECK(top[0].port == 80 && top[1].port == 443); /* ties by port ascending */
    CHECK(tpp_result_top_ports(r, TPP_TCP_DST, 1, top, 3) == 0);

    double h = (log2(11) - 2 * 5 * log2(5) / 11) / log2(3);
    CHECK(fabs(tpp_result_port_entropy(r, TPP_TCP_DST, 0) - h) < 1e-12);
    CHECK(isnan(tpp_result_port_entropy(r, TPP_TCP_DST, 1))); /* no packet, aligned: undefined */

    size_t idx[] = { 0, 2 };
    struct tpp_result *s = tpp_result_select(r, idx, 2);
    CHECK(s != NULL);
    if (s) {
        CHECK(s->nintervals == 2 && s->packets == 22 && s->ip_packets == 21 && s->first_ns == 0 && s->last_ns == 30);
        CHECK(tpp_result_distinct_ports(s, TPP_TCP_DST) == 4);
        CHECK(tpp_result_top_ports(s, TPP_TCP_DST, 1, top, 1) == 1 && top[0].port == 8080);

        struct tpp_value v;
        field("packets")->get(s, &v);
        CHECK(v.type == TPP_VALUE_INT && v.i == 22);
        field("filter")->get(s, &v);
        CHECK(v.type == TPP_VALUE_NIL);
        field("source")->get(s, &v);
        CHECK(v.type == TPP_VALUE_STRING && strcmp(v.s, "trace.pcap") == 0);
        field("last_ts")->get(s, &v);
        CHECK(v.type == TPP_VALUE_REAL && v.d == 30e-9);
        field("complete")->get(s, &v);
        CHECK(v.type == TPP_VALUE_BOOL && v.i == 1);
        tpp_result_free(s);
    }
    /* Exported to a file atomically, or an error naming the path. */
    char err[4352], path[] = "/tmp/tpp-result-core-XXXXXX";
    CHECK(mkdtemp(path) != NULL);
    char good[64], bad[64];
    snprintf(good, sizeof good, "%s/r.csv", path);
    snprintf(bad, sizeof bad, "%s/no/r.csv", path);
    CHECK(tpp_result_export_file(r, TPP_EXPORT_CSV, good, err, sizeof err) == 0);
    FILE *f = fopen(good, "r");
    char line[2048] = ""; /* the header grows with the columns */
    CHECK(f && fgets(line, sizeof line, f) && strncmp(line, "interval,start,end,", 19) == 0);
    CHECK(f && fgets(line, sizeof line, f) && strncmp(line, "0,0.000000000,0.000000010,11,11,", 32) == 0);
    if (f) fclose(f);
    CHECK(tpp_result_export_file(r, TPP_EXPORT_JSON, bad, err, sizeof err) == -1);
    CHECK(strncmp(err, bad, strlen(bad)) == 0);
    remove(good);
    rmdir(path);
    tpp_result_free(r);
    if (failures) fprintf(stderr, "result_core: %d failure(s)\n", failures);
    return failures != 0;
}
