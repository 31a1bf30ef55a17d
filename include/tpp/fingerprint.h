/* tpp/fingerprint.h — a content fingerprint of a capture file, to tell whether a dump belongs to it.
 *
 * Two files with the same size and modification time (cp -p, rsync -a, tar) are told apart by their bytes: the
 * fingerprint hashes the first and the last 64 KiB of the file with its size and mtime (FNV-1a, 64 bits).  It is
 * cheap on any file size and changes whenever a capture is appended to, cut, replaced or touched.  It is not a
 * cryptographic hash: it guards against accidents, not against someone forging a capture.
 */
#ifndef TPP_FINGERPRINT_H
#define TPP_FINGERPRINT_H

#include <stddef.h>
#include <stdint.h>

#define TPP_FINGERPRINT_SPAN (64 * 1024) /* bytes hashed at each end of the file */

/* The file at `path` as a dump records it: its size, its mtime (ns since the epoch) and its fingerprint.  0 on
 * success; -1 with "reason" in err (not a regular file: a stream has none; unreadable). */
struct tpp_source_id { uint64_t size; int64_t mtime_ns; uint64_t fingerprint; };
int tpp_fingerprint_path(const char *path, struct tpp_source_id *out, char *err, size_t errlen);

/* 16 lowercase hex digits and a NUL. */
void tpp_fingerprint_hex(uint64_t fp, char hex[17]);

#endif
