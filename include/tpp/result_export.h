/* tpp/result_export.h — a result as TSV, CSV or JSON, one cell formatter for the three (result_export.c).  Readers borrow the result; nothing here keeps it. */
#ifndef TPP_RESULT_EXPORT_H
#define TPP_RESULT_EXPORT_H

#include <stddef.h>
#include <stdio.h>

#include "tpp/result.h"

enum tpp_export_format { TPP_EXPORT_TSV, TPP_EXPORT_CSV, TPP_EXPORT_JSON };
/* One cell of the critical table as `format` spells it: times "seconds.nanoseconds", counts as integers, reals as
 * the shortest "%.Ng" that reads back as the same double (a time -1.5 s is "-1.500000000"); NaN "nan" (TSV), "" (CSV) or "null" (JSON), infinities
 * "inf"/"-inf" (TSV, CSV) or "null" (JSON).  Returns buf (64 bytes is enough) or a constant string. */
const char *tpp_format_cell(char *buf, size_t len, enum tpp_export_format format, const struct tpp_column *c,
                            const struct tpp_interval *iv, size_t index);
/* A time in nanoseconds as the table spells it, "seconds.nanoseconds" (32 bytes is enough); returns buf. */
const char *tpp_format_time(char *buf, size_t len, int64_t ns);
/* Write the whole result to an open stream: TSV (the critical table: header + one row per interval), CSV (RFC
 * 4180, CRLF line ends) or JSON (the summary fields, "columns" and "records", one record per line, as pandas'
 * orient="records").  0 on success, -1 on a write error. */
int tpp_result_export(const struct tpp_result *r, enum tpp_export_format format, FILE *f);
/* The same into the file `path`, atomically (tpp/outfile.h): 0 on success, -1 with "path: reason" in err, the
 * target untouched. */
int tpp_result_export_file(const struct tpp_result *r, enum tpp_export_format format, const char *path, char *err,
                           size_t errlen);
/* The critical TSV; rows writes rows first .. first + n - 1 only, without the header (the same format). */
int tpp_result_write_tsv(const struct tpp_result *r, FILE *f);
int tpp_result_write_rows(const struct tpp_result *r, FILE *f, size_t first, size_t n);

/* A heavy hitter's key as text: an address ("192.0.2.1", "2001:db8::1"), a prefix with its length when it is
 * shorter than the family's ("10.0.0.0/24", "2001:db8::/48"), or a port ("443").  64 bytes is enough; returns
 * buf. */
const char *tpp_hh_key_text(char *buf, size_t len, const struct tpp_hh *e);
/* The heavy-hitter table (hh/<name>_hh.tsv): a header "interval dim key packets bytes share", then one row per
 * heavy hitter, intervals ascending (0-based, as the critical table's interval column), dimensions in the order
 * of enum tpp_hh_dim, each in rank order; share as the critical table spells reals (NaN "nan").  0 on success,
 * -1 on a write error. */
int tpp_result_write_hh(const struct tpp_result *r, FILE *f);
/* The same into the file `path`, atomically, as tpp_result_export_file. */
int tpp_result_write_hh_file(const struct tpp_result *r, const char *path, char *err, size_t errlen);

#endif
