/* fingerprint.c — see tpp/fingerprint.h. */
#include "tpp/fingerprint.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

static uint64_t fnv1a(uint64_t h, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * FNV_PRIME;
    return h;
}

static uint64_t fnv1a_u64(uint64_t h, uint64_t v)
{
    uint8_t le[8];
    for (int i = 0; i < 8; i++) le[i] = (uint8_t)(v >> (8 * i));
    return fnv1a(h, le, sizeof le);
}

/* Hash `len` bytes of the file from `off`; 0, or -1 when the file ended early or could not be read. */
static int hash_span(int fd, uint64_t off, uint64_t len, uint64_t *h)
{
    uint8_t buf[16384];
    while (len > 0) {
        size_t want = len < sizeof buf ? (size_t)len : sizeof buf;
        ssize_t n = pread(fd, buf, want, (off_t)off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -1;
        if (n == 0) { errno = EIO; return -1; } /* shrank since fstat: not the file we were told about */
        *h = fnv1a(*h, buf, (size_t)n);
        off += (uint64_t)n;
        len -= (uint64_t)n;
    }
    return 0;
}

/* The fingerprint of the regular file open at `fd` (read with pread), of the size and mtime fstat gave; 0, or -1
 * with errno set on a read error. */
static int fingerprint_fd(int fd, uint64_t size, int64_t mtime_ns, uint64_t *out)
{
    uint64_t h = fnv1a_u64(fnv1a_u64(FNV_OFFSET, size), (uint64_t)mtime_ns);
    uint64_t head = size < TPP_FINGERPRINT_SPAN ? size : TPP_FINGERPRINT_SPAN;
    if (hash_span(fd, 0, head, &h) != 0) return -1;
    /* The tail, without the bytes the head already covered (a small file is hashed once). */
    uint64_t tail_start = size - head > TPP_FINGERPRINT_SPAN ? size - TPP_FINGERPRINT_SPAN : head;
    if (hash_span(fd, tail_start, size - tail_start, &h) != 0) return -1;
    *out = h;
    return 0;
}

int tpp_fingerprint_path(const char *path, struct tpp_source_id *out, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC); /* a FIFO without a writer must not block */
    if (fd < 0) { snprintf(err, errlen, "%s", strerror(errno)); return -1; }
    struct stat st;
    int rc = -1;
    if (fstat(fd, &st) != 0) snprintf(err, errlen, "%s", strerror(errno));
    else if (!S_ISREG(st.st_mode)) snprintf(err, errlen, "not a regular file (a stream has no fingerprint)");
    else {
        out->size = (uint64_t)st.st_size;
        out->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
        if (fingerprint_fd(fd, out->size, out->mtime_ns, &out->fingerprint) != 0)
            snprintf(err, errlen, "read error: %s", strerror(errno));
        else rc = 0;
    }
    close(fd);
    return rc;
}

void tpp_fingerprint_hex(uint64_t fp, char hex[17])
{
    snprintf(hex, 17, "%016llx", (unsigned long long)fp);
}
