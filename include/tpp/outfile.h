/* tpp/outfile.h — atomic output files: write a temporary file beside the target, then fsync and rename it.
 *
 * Until tpp_outfile_commit() succeeds the target is untouched; a failed commit or tpp_outfile_abort() removes
 * the temporary file.  The caller writes through `fd` (or a stream made from a dup of it).  tpp_outfile_open()
 * refuses a target that is a directory, not a regular file (a device such as /dev/null, a FIFO), or read-only.
 */
#ifndef TPP_OUTFILE_H
#define TPP_OUTFILE_H

#include <stddef.h>

struct tpp_outfile {
    char *path, *tmp;
    int fd;
};

int tpp_outfile_open(struct tpp_outfile *o, const char *path, char *err, size_t errlen);
int tpp_outfile_commit(struct tpp_outfile *o, char *err, size_t errlen);
void tpp_outfile_abort(struct tpp_outfile *o);

#endif
