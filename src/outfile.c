/* outfile.c — see tpp/outfile.h.
 *
 * Where the file system allows, the data goes to an unnamed file (O_TMPFILE) in the target's directory: a
 * process killed while writing leaves nothing behind.  At commit the file is linked to the target's name when
 * there is no target yet (no window at all); otherwise it is given a temporary name and renamed over the target.
 * Elsewhere a named temporary file (mkstemp) is used, removed on every failure we survive.
 *
 * Temporary names are short, hidden and carry the writer's PID (".tpp-tmp-PID-X"): short so that a target whose
 * name is as long as NAME_MAX allows still works; with the PID so that one left by a writer killed between link
 * and rename (SIGKILL cannot be caught) is recognised and removed by the next writer in that directory.
 */
#include "tpp/outfile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void release(struct tpp_outfile *o)
{
    if (o->fd >= 0) close(o->fd);
    if (o->tmp && o->tmp[0]) unlink(o->tmp);
    free(o->path);
    free(o->tmp);
    o->path = o->tmp = NULL;
    o->fd = -1;
}

/* The directory part of `path` ("." when there is none), in buf. */
static const char *dir_of(const char *path, char *buf, size_t len)
{
    const char *slash = strrchr(path, '/');
    if (!slash) return ".";
    if (slash == path) return "/";
    snprintf(buf, len, "%.*s", (int)(slash - path), path);
    return buf;
}

/* Is there something at `path` that an output must not replace?  A directory; a device, FIFO or socket (renaming
 * over /dev/null would put a regular file in its place); a read-only file (no write permission for us, or, for
 * root, no write bit at all: inputs are often kept read-only, and tpp never overwrites an input).  0 when the
 * path is free or holds a writable regular file; -1 with the reason in err. */
static int refuse_target(const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) != 0) return 0;
    if (S_ISDIR(st.st_mode)) snprintf(err, errlen, "%s: cannot write: is a directory", path);
    else if (!S_ISREG(st.st_mode)) snprintf(err, errlen, "%s: cannot write: not a regular file", path);
    else if (access(path, W_OK) != 0 && errno != EACCES)
        snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno)); /* e.g. a read-only file system */
    else if (!(st.st_mode & 0222) || access(path, W_OK) != 0)
        snprintf(err, errlen, "%s: cannot write: the file is read-only (tpp does not replace it)", path);
    else return 0;
    return -1;
}

#define TMP_PREFIX ".tpp-tmp-"

/* Whether process pid may still write: it exists and is not a zombie (a killed writer that its parent has not
 * reaped yet still answers kill(pid, 0), but will never rename its file).  A process we may not signal counts
 * as alive: not ours to judge. */
static int writer_alive(long pid)
{
    if (kill((pid_t)pid, 0) != 0) return errno != ESRCH;
    char path[64], stat[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return 1;
    size_t n = fread(stat, 1, sizeof stat - 1, f);
    fclose(f);
    stat[n] = 0;
    const char *state = strrchr(stat, ')'); /* "pid (comm) S ...": comm may hold anything but ends at the last ')' */
    return !(state && state[1] == ' ' && state[2] == 'Z');
}

/* Remove the temporary files in `dir` whose writer is gone: "TMP_PREFIX<pid>-..." with no such process. */
static void remove_stale_temporaries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    char stale[4096 + 256];
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (strncmp(e->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) != 0) continue;
        char *end;
        long pid = strtol(e->d_name + strlen(TMP_PREFIX), &end, 10);
        if (pid <= 0 || *end != '-' || pid == (long)getpid()) continue;
        if (writer_alive(pid)) continue;
        snprintf(stale, sizeof stale, "%s/%s", dir, e->d_name);
        unlink(stale);
    }
    closedir(d);
}

/* "DIR/.tpp-tmp-PID-" followed by `suffix`, in o->tmp (sized by tpp_outfile_open). */
static void tmp_name(struct tpp_outfile *o, const char *suffix)
{
    char dir[4096];
    snprintf(o->tmp, strlen(o->path) + 64, "%s/" TMP_PREFIX "%ld-%s", dir_of(o->path, dir, sizeof dir),
             (long)getpid(), suffix);
}

int tpp_outfile_open(struct tpp_outfile *o, const char *path, char *err, size_t errlen)
{
    size_t n = strlen(path) + 64;
    o->fd = -1;
    o->path = o->tmp = NULL;
    if (refuse_target(path, err, errlen) != 0) return -1;
    o->path = strdup(path);
    o->tmp = malloc(n);
    if (!o->path || !o->tmp) {
        snprintf(err, errlen, "%s: out of memory", path);
        free(o->path); free(o->tmp); o->path = o->tmp = NULL;
        return -1;
    }
    char dir[4096];
    remove_stale_temporaries(dir_of(path, dir, sizeof dir));
    o->tmp[0] = 0; /* no name yet: an O_TMPFILE file gets one at commit */
    o->fd = open(dir_of(path, dir, sizeof dir), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
    if (o->fd >= 0) return 0;
    if (errno == ENOENT || errno == ENOTDIR || errno == EACCES || errno == EROFS) {
        snprintf(err, errlen, "%s: cannot create: %s", path, strerror(errno));
        release(o);
        return -1;
    }
    tmp_name(o, "XXXXXX"); /* O_TMPFILE unsupported here */
    o->fd = mkstemp(o->tmp);
    if (o->fd < 0) {
        snprintf(err, errlen, "%s: cannot create: %s", path, strerror(errno));
        o->tmp[0] = 0; /* nothing was created */
        release(o);
        return -1;
    }
    /* mkstemp makes 0600 files; give the output the permissions a plain creat() would. */
    mode_t mask = umask(0);
    umask(mask);
    fchmod(o->fd, 0666 & ~mask);
    return 0;
}

/* Give the unnamed file a name: the target's when there is none yet (then 1: done, nothing to rename), else a
 * temporary name beside it (0).  -1 on failure. */
static int name_tmpfile(struct tpp_outfile *o)
{
    char proc[64], suffix[16];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", o->fd);
    if (linkat(AT_FDCWD, proc, AT_FDCWD, o->path, AT_SYMLINK_FOLLOW) == 0) return 1;
    if (errno != EEXIST) return -1;
    for (int attempt = 0; attempt < 100; attempt++) {
        snprintf(suffix, sizeof suffix, "%d", attempt);
        tmp_name(o, suffix);
        if (linkat(AT_FDCWD, proc, AT_FDCWD, o->tmp, AT_SYMLINK_FOLLOW) == 0) return 0;
        if (errno != EEXIST) break;
    }
    o->tmp[0] = 0;
    return -1;
}

int tpp_outfile_commit(struct tpp_outfile *o, char *err, size_t errlen)
{
    int rc = fsync(o->fd);
    int linked = 0;
    if (rc == 0 && !o->tmp[0]) {
        rc = name_tmpfile(o);
        linked = rc == 1;
        if (linked) rc = 0;
    }
    if (close(o->fd) != 0 && !linked) rc = -1;
    o->fd = -1;
    if (rc == 0 && !linked && rename(o->tmp, o->path) != 0) rc = -1;
    if (rc != 0) {
        snprintf(err, errlen, "%s: cannot write: %s", o->path, strerror(errno));
        release(o);
        return -1;
    }
    o->tmp[0] = 0; /* renamed: nothing to remove */
    release(o);
    return 0;
}

void tpp_outfile_abort(struct tpp_outfile *o) { release(o); }
