/* tpp/interval.h — compatibility only: src/lresult.c still includes this name.  The aggregator is
 * tpp/aggregate.h and the pipeline tpp/parse.h; remove this file once lresult.c includes those. */
#ifndef TPP_INTERVAL_H
#define TPP_INTERVAL_H

#include "tpp/aggregate.h"
#include "tpp/parse.h"

#endif
