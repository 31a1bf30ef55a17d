/* tpp/result_export.h — a result as text: the critical table (TSV, CSV or NDJSON, any of its columns), the JSON of
 * r:to_json and the heavy-hitter table, one number formatter for all (result_export.c).  Readers borrow the
 * result; nothing here keeps it. */
#ifndef TPP_RESULT_EXPORT_H
#define TPP_RESULT_EXPORT_H

#include <stddef.h>
#include <stdio.h>

#include "tpp/result.h"

/* TSV: tab-separated, "\n", NaN "nan"; CSV: RFC 4180, "\r\n", NaN an empty field; JSON: r:to_json's one object;
 * NDJSON: one JSON object per row, keys the column names, NaN null.  Every format has infinities as "inf"/"-inf"
 * but the JSON ones, which have null. */
enum tpp_export_format { TPP_EXPORT_TSV, TPP_EXPORT_CSV, TPP_EXPORT_JSON, TPP_EXPORT_NDJSON };
/* A double as every table spells it: the shortest of "%.15g", "%.16g" and "%.17g" that reads back as the same
 * double (so a value read back is the value written); NaN "nan", infinities "inf"/"-inf".  len >= 32; returns
 * buf. */
const char *tpp_format_real(char *buf, size_t len, double v);
/* One cell of the critical table as `format` spells it: times "seconds.nanoseconds" (-1.5 s is "-1.500000000"),
 * counts as integers, reals as tpp_format_real, NaN "nan" (TSV), "" (CSV) or "null" (JSON, NDJSON).  len >= 64;
 * returns buf. */
const char *tpp_format_cell(char *buf, size_t len, enum tpp_export_format format, const struct tpp_column *c,
                            const struct tpp_interval *iv, size_t index);
/* A time in nanoseconds as the table spells it, "seconds.nanoseconds" (32 bytes is enough); returns buf. */
const char *tpp_format_time(char *buf, size_t len, int64_t ns);
/* The critical table of the columns cols[0..ncols-1] (indices into tpp_columns, in that order; cols NULL: all of
 * them) to an open stream: TSV and CSV a header of the names and one line per interval, NDJSON one object per
 * interval.  0 on success, -1 on a write error. */
int tpp_result_write_table(const struct tpp_result *r, enum tpp_export_format format, const size_t *cols,
                           size_t ncols, FILE *f);
/* The same into the file `path`, atomically (tpp/outfile.h): 0 on success, -1 with "path: reason" in err, the
 * target untouched. */
int tpp_result_write_table_file(const struct tpp_result *r, enum tpp_export_format format, const size_t *cols,
                                size_t ncols, const char *path, char *err, size_t errlen);
/* The whole result to an open stream: the critical table with every column in TSV, CSV or NDJSON, or JSON (the
 * summary fields, "columns" and "records", one record per line, as pandas' orient="records").  0 on success, -1
 * on a write error. */
int tpp_result_export(const struct tpp_result *r, enum tpp_export_format format, FILE *f);
int tpp_result_export_file(const struct tpp_result *r, enum tpp_export_format format, const char *path, char *err,
                           size_t errlen);
/* The critical TSV; rows writes rows first .. first + n - 1 only, without the header (the same format). */
int tpp_result_write_tsv(const struct tpp_result *r, FILE *f);
int tpp_result_write_rows(const struct tpp_result *r, FILE *f, size_t first, size_t n);

/* A heavy hitter's key as text: an address ("192.0.2.1", "2001:db8::1"), a prefix with its length when it is
 * shorter than the family's ("10.0.0.0/24", "2001:db8::/48"), or a port ("443").  64 bytes is enough; returns
 * buf. */
const char *tpp_hh_key_text(char *buf, size_t len, const struct tpp_hh *e);
/* The heavy-hitter table (hh/<name>_hh.tsv): columns "interval dim key packets bytes share" (a header row in TSV
 * and CSV; NDJSON objects with those keys, the key always a string), one row per heavy hitter, intervals ascending
 * (0-based, as the critical table's interval column), dimensions in the order of enum tpp_hh_dim, each in rank
 * order; share as the critical table spells reals.  0 on success, -1 on a write error. */
int tpp_result_write_hh(const struct tpp_result *r, enum tpp_export_format format, FILE *f);
/* The same into the file `path`, atomically, as tpp_result_export_file. */
int tpp_result_write_hh_file(const struct tpp_result *r, enum tpp_export_format format, const char *path, char *err,
                             size_t errlen);

#endif
