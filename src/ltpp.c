/* ltpp.c — `require "tpp.core"`: the module table, its version, a clock, and the small functions that belong to
 * no type. */
#include "ltpp.h"
#include "lfail.h"
#include "inflate.h"
#include "version.h"
#include "tpp/error.h"
#include "tpp/fingerprint.h"
#include "tpp/outfile.h"
#include "tpp/capture.h"
#include "tpp/dump.h"
#include "tpp/result.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <pcap/pcap.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* tpp.now() -> seconds on a monotonic clock (for rates and durations; os.clock counts CPU time instead). */
static int l_now(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
    return 1;
}

/* tpp.fingerprint(path) -> 16 hex digits (tpp/fingerprint.h) | nil, "path: reason" (a stream has none). */
static int l_fingerprint(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    char err[TPP_ERRBUF_SIZE], hex[17];
    struct tpp_source_id id;
    if (tpp_fingerprint_path(path, &id, err, sizeof err) != 0)
        return tpp_push_fail(L, "%s: %s", path, err);
    tpp_fingerprint_hex(id.fingerprint, hex);
    lua_pushstring(L, hex);
    return 1;
}

/* tpp.check_filter(expr) -> true | nil, "bad filter ...": compile the BPF expression for Ethernet without any
 * capture, so that a typo is reported once, before any work, instead of once per capture. */
static int l_check_filter(lua_State *L)
{
    const char *expr = luaL_checkstring(L, 1);
    pcap_t *p = pcap_open_dead(DLT_EN10MB, 262144);
    if (!p) return luaL_error(L, "not enough memory");
    struct bpf_program prog;
    if (pcap_compile(p, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) != 0) {
        tpp_push_fail(L, "bad filter \"%s\": %s", expr, pcap_geterr(p));
        pcap_close(p);
        return 2;
    }
    pcap_freecode(&prog);
    pcap_close(p);
    lua_pushboolean(L, 1);
    return 1;
}

/* tpp.write_atomic(path, text) -> true | nil, "path: reason": a text output written as tpp's other outputs are
 * (tpp/outfile.h: an unnamed temporary file, fsync, renamed over the target), for the Lua side's own files. */
static int l_write_atomic(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    size_t len;
    const char *text = luaL_checklstring(L, 2, &len);
    char err[TPP_ERRBUF_SIZE];
    struct tpp_outfile out;
    if (tpp_outfile_open(&out, path, err, sizeof err) != 0)
        return tpp_push_fail(L, "%s", err);
    for (size_t done = 0; done < len;) {
        ssize_t n = write(out.fd, text + done, len - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            tpp_push_fail(L, "%s: cannot write: %s", path, n < 0 ? strerror(errno) : "no space left");
            tpp_outfile_abort(&out);
            return 2;
        }
        done += (size_t)n;
    }
    if (tpp_outfile_commit(&out, err, sizeof err) != 0)
        return tpp_push_fail(L, "%s", err);
    lua_pushboolean(L, 1);
    return 1;
}

/* tpp.kind(path) -> "pcap" | "pcapng" | "gzip" | "zstd" | "xz" | "dump", by the file's first bytes; or nil,
 * "path: reason" and, when the file cannot be read at all, "unreadable" (it may well be a capture). */
static int l_kind(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    uint8_t head[TPP_CAPTURE_KIND_BYTES];
    size_t n = 0;
    ssize_t got = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        while (n < sizeof head && ((got = read(fd, head + n, sizeof head - n)) > 0 || (got < 0 && errno == EINTR)))
            if (got > 0) n += (size_t)got;
        int saved = errno;
        close(fd);
        errno = saved;
    }
    if (fd < 0 || got < 0) {
        char reason[TPP_ERRBUF_SIZE];
        snprintf(reason, sizeof reason, "%s", strerror(errno));
        reason[0] = (char)tolower((unsigned char)reason[0]); /* "no such file or directory", as a reason reads */
        tpp_push_fail(L, "%s: %s", path, reason);
        lua_pushliteral(L, "unreadable");
        return 3;
    }
    if (tpp_dump_signed(head, n)) {
        lua_pushliteral(L, "dump");
        return 1;
    }
    char err[TPP_ERRBUF_SIZE];
    const char *kind = tpp_capture_kind(head, n, err, sizeof err);
    if (!kind) return tpp_push_fail(L, "%s: %s", path, err);
    lua_pushstring(L, kind);
    return 1;
}

int luaopen_tpp_core(lua_State *L)
{
    lua_newtable(L);
    lua_pushcfunction(L, l_now);
    lua_setfield(L, -2, "now");
    lua_pushcfunction(L, l_fingerprint);
    lua_setfield(L, -2, "fingerprint");
    lua_pushcfunction(L, l_check_filter);
    lua_setfield(L, -2, "check_filter");
    lua_pushcfunction(L, l_kind);
    lua_setfield(L, -2, "kind");
    lua_pushcfunction(L, l_write_atomic);
    lua_setfield(L, -2, "write_atomic");
    lua_pushliteral(L, TPP_VERSION);
    lua_setfield(L, -2, "version");
    lua_pushstring(L, inflater_backend());
    lua_setfield(L, -2, "gzip_backend");
    /* tpp.series: the port series' names, in C's order, so Lua never spells the list out itself */
    lua_createtable(L, TPP_NSERIES, 0);
    for (int s = 0; s < TPP_NSERIES; s++) {
        lua_pushstring(L, tpp_series_names[s]);
        lua_rawseti(L, -2, s + 1);
    }
    lua_setfield(L, -2, "series");
    tpp_lresult_register(L);
    tpp_lpackets_register(L);
    tpp_lwriter_register(L);
    tpp_lproc_register(L);
    tpp_linterrupt_register(L);
    tpp_lconfig_register(L);
    tpp_lmerge_register(L);
    tpp_lsplit_register(L);
    tpp_llabels_register(L);
    return 1;
}
