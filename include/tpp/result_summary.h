/* tpp/result_summary.h — the summary fields of a result (r.packets, r.source, ...) as a table (result_summary.c).  Readers borrow the result; nothing here keeps it. */
#ifndef TPP_RESULT_SUMMARY_H
#define TPP_RESULT_SUMMARY_H

#include <stddef.h>
#include <stdint.h>

#include "tpp/result.h"

/* A summary field's value, typed as the API shows it: strings are borrowed from the result or held in buf. */
enum tpp_value_type { TPP_VALUE_NIL, TPP_VALUE_BOOL, TPP_VALUE_INT, TPP_VALUE_REAL, TPP_VALUE_STRING };
struct tpp_value {
    enum tpp_value_type type;
    int64_t i;                 /* TPP_VALUE_INT, TPP_VALUE_BOOL */
    double d;                  /* TPP_VALUE_REAL */
    const char *s;             /* TPP_VALUE_STRING */
    char buf[48];              /* a fingerprint's hex digits, the feature groups' names */
};
/* The summary fields (r.packets, r.source, ...), in the order of r:fields() and of the JSON export. */
struct tpp_summary_field {
    const char *name;
    void (*get)(const struct tpp_result *r, struct tpp_value *v);
};
extern const struct tpp_summary_field tpp_summary_fields[];
extern const size_t tpp_nsummary_fields;

#endif
