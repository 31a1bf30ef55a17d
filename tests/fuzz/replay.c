/* replay.c — a main() for the fuzz targets without libFuzzer: runs LLVMFuzzerTestOneInput once on each file
 * named on the command line (directories: each file in them).  Built with gcc and ASan/UBSan by `make test`
 * (test-fuzz-replay) to replay the regression inputs in tests/data/regress/<target>/ and the seeds.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); return -1; }
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    for (size_t got; buf && (got = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += got;
        if (n == cap) { uint8_t *p = realloc(buf, cap *= 2); if (!p) { free(buf); buf = NULL; } else buf = p; }
    }
    fclose(f);
    if (!buf) { fprintf(stderr, "%s: out of memory\n", path); return -1; }
    LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    int runs = 0, failed = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) continue; /* an absent directory has nothing to replay */
        if (!S_ISDIR(st.st_mode)) { failed |= run_file(argv[i]) != 0; runs++; continue; }
        DIR *d = opendir(argv[i]);
        for (struct dirent *e; d && (e = readdir(d));) {
            if (e->d_name[0] == '.') continue;
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
            failed |= run_file(path) != 0;
            runs++;
        }
        if (d) closedir(d);
    }
    printf("%s: %d inputs replayed\n", argv[0], runs);
    return failed;
}
