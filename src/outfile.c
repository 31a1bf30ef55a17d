/* outfile.c — see tpp/outfile.h. */
#include "tpp/outfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void release(struct tpp_outfile *o)
{
    if (o->fd >= 0) close(o->fd);
    if (o->tmp) unlink(o->tmp);
    free(o->path);
    free(o->tmp);
    o->path = o->tmp = NULL;
    o->fd = -1;
}

int tpp_outfile_open(struct tpp_outfile *o, const char *path, char *err, size_t errlen)
{
    size_t n = strlen(path) + 16;
    o->fd = -1;
    o->path = strdup(path);
    o->tmp = malloc(n);
    if (!o->path || !o->tmp) {
        snprintf(err, errlen, "%s: out of memory", path);
        free(o->path); free(o->tmp); o->path = o->tmp = NULL;
        return -1;
    }
    snprintf(o->tmp, n, "%s.tmp-XXXXXX", path);
    o->fd = mkstemp(o->tmp);
    if (o->fd < 0) {
        snprintf(err, errlen, "%s: cannot create: %s", path, strerror(errno));
        free(o->tmp); o->tmp = NULL; /* nothing was created */
        release(o);
        return -1;
    }
    /* mkstemp makes 0600 files; give the output the permissions a plain creat() would. */
    mode_t mask = umask(0);
    umask(mask);
    fchmod(o->fd, 0666 & ~mask);
    return 0;
}

int tpp_outfile_commit(struct tpp_outfile *o, char *err, size_t errlen)
{
    int rc = 0;
    if (fsync(o->fd) != 0 || close(o->fd) != 0) rc = -1;
    o->fd = -1;
    if (rc == 0 && rename(o->tmp, o->path) != 0) rc = -1;
    if (rc != 0) {
        snprintf(err, errlen, "%s: cannot write: %s", o->path, strerror(errno));
        release(o);
        return -1;
    }
    free(o->tmp); o->tmp = NULL; /* renamed: nothing to remove */
    release(o);
    return 0;
}

void tpp_outfile_abort(struct tpp_outfile *o) { release(o); }
