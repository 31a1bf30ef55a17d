/* tpp/error.h — the core's one error convention.
 *
 * A function that can fail takes `char *err, size_t errlen` last, as snprintf does, and on failure writes a
 * message a user understands there (never printing anything itself).  Callers give it a buffer of
 * TPP_ERRBUF_SIZE bytes: room for a long path and its reason; a longer message is cut, never overflows.
 */
#ifndef TPP_ERROR_H
#define TPP_ERROR_H

#define TPP_ERRBUF_SIZE 1024

#endif
