/* lproc.c — child processes and a few facts about the running one, for scripts that run work in parallel
 * (the main job runs one worker process per capture):
 *
 *   tpp.spawn(argv)            -> proc | nil, "argv[1]: reason"   (argv[1] looked up in PATH)
 *   proc:read()                -> list of stdout lines, list of stderr lines (complete lines, never blocks)
 *   proc:eof()                 -> true once both pipes are closed and everything was read
 *   proc:wait()                -> true | nil, "exit" | "signal", code   (as os.execute; blocks)
 *   proc:kill([signo])         -> true | nil, reason                    (default SIGTERM)
 *   proc:pid()                 -> the child's process id
 *   tpp.poll(procs, timeout)   -> number of procs with output or end of file to read (0: timeout, interrupted)
 *   tpp.isatty(file)           -> whether a Lua file handle is a terminal [, its width in columns]
 *   tpp.cpus()                 -> number of processors this process may use (affinity, cgroup CPU quota)
 *   tpp.pid()                  -> this process's id
 *
 * A child's stdin is /dev/null; its stdout and stderr are pipes that the parent drains without blocking.  The
 * pipes are close-on-exec, so a child never holds another child's pipe open.  A proc that is collected (or whose
 * to-be-closed variable goes out of scope) before it was waited for is killed (SIGKILL) and reaped: no zombies.
 *
 * Each child leads a process group of its own, so that a Ctrl-C at the terminal reaches tpp alone: tpp's SIGINT
 * handler (linterrupt.c) forwards it to every child not yet reaped, from the registry below, exactly once.
 */
#include "lproc.h"
#include "ltpp.h"
#include "lfail.h"

#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define PROC_MT "tpp.proc"

extern char **environ;

struct stream {
    int fd;          /* read end, -1 once closed (end of file) */
    char *buf;       /* bytes read but not yet returned as lines */
    size_t len, cap;
};

typedef struct {
    pid_t pid;       /* 0 before the spawn succeeded */
    int reaped;      /* waitpid has returned its status */
    int status;      /* the wait status, once reaped */
    struct stream out[2];   /* stdout, stderr */
} Proc;

static Proc *check_proc(lua_State *L, int idx) { return luaL_checkudata(L, idx, PROC_MT); }

/* The children not yet reaped (0: a free slot), read by the SIGINT handler: a fixed array of atomically written
 * ids.  A child that finds no free slot is simply not forwarded signals. */
enum { MAX_CHILDREN = 1024 };
static volatile sig_atomic_t children[MAX_CHILDREN];

static void remember_child(pid_t pid)
{
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (children[i] == 0) { children[i] = pid; return; }
}

static void forget_child(pid_t pid)
{
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (children[i] == pid) children[i] = 0;
}

void tpp_lproc_signal_children(int sig)
{
    for (int i = 0; i < MAX_CHILDREN; i++) {
        pid_t pid = children[i];
        if (pid > 0 && kill(-pid, sig) != 0) kill(pid, sig);   /* its group, else (not yet its own) the child */
    }
}

/* Release the pipes and reap the child, killing it first when it still runs. Idempotent. */
static void proc_release(Proc *p)
{
    for (int s = 0; s < 2; s++) {
        if (p->out[s].fd >= 0) close(p->out[s].fd);
        p->out[s].fd = -1;
        free(p->out[s].buf);
        p->out[s].buf = NULL;
        p->out[s].len = p->out[s].cap = 0;
    }
    if (p->pid > 0 && !p->reaped) {
        if (waitpid(p->pid, &p->status, WNOHANG) == 0) {
            kill(p->pid, SIGKILL);
            while (waitpid(p->pid, &p->status, 0) < 0 && errno == EINTR) {}
        }
        p->reaped = 1;
        forget_child(p->pid);
    }
}

static int proc_gc(lua_State *L)
{
    proc_release(check_proc(L, 1));
    return 0;
}

/* Read what is available on one stream without blocking; closes it at end of file. Returns -1 on memory
 * exhaustion (the caller raises), 0 otherwise. */
static int stream_fill(struct stream *s)
{
    while (s->fd >= 0) {
        if (s->cap - s->len < 4096) {
            size_t cap = s->cap ? s->cap * 2 : 8192;
            char *b = realloc(s->buf, cap);
            if (!b) return -1;
            s->buf = b;
            s->cap = cap;
        }
        ssize_t n = read(s->fd, s->buf + s->len, s->cap - s->len);
        if (n > 0) { s->len += (size_t)n; continue; }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        close(s->fd);                          /* end of file, or an error that ends the stream */
        s->fd = -1;
    }
    return 0;
}

/* Push a list of the stream's complete lines (without "\n"); at end of file the unterminated rest too. */
static void push_lines(lua_State *L, struct stream *s)
{
    lua_newtable(L);
    size_t start = 0, n = 0;
    for (size_t i = 0; i < s->len; i++) {
        if (s->buf[i] != '\n') continue;
        lua_pushlstring(L, s->buf + start, i - start);
        lua_rawseti(L, -2, (lua_Integer)++n);
        start = i + 1;
    }
    if (s->fd < 0 && start < s->len) {
        lua_pushlstring(L, s->buf + start, s->len - start);
        lua_rawseti(L, -2, (lua_Integer)++n);
        start = s->len;
    }
    memmove(s->buf, s->buf + start, s->len - start);
    s->len -= start;
}

/* proc:read() -> stdout lines, stderr lines: what has arrived since the last call, never blocking. */
static int proc_read(lua_State *L)
{
    Proc *p = check_proc(L, 1);
    for (int s = 0; s < 2; s++) {
        if (stream_fill(&p->out[s]) != 0) return luaL_error(L, "out of memory reading a child's output");
        push_lines(L, &p->out[s]);
    }
    return 2;
}

/* proc:eof() -> true when both pipes reached end of file and every byte was returned by read(). */
static int proc_eof(lua_State *L)
{
    Proc *p = check_proc(L, 1);
    lua_pushboolean(L, p->out[0].fd < 0 && p->out[1].fd < 0 && p->out[0].len == 0 && p->out[1].len == 0);
    return 1;
}

/* proc:wait() -> true | nil, "exit" | "signal", code.  Blocks until the child ends (once; then cached). */
static int proc_wait(lua_State *L)
{
    Proc *p = check_proc(L, 1);
    if (p->pid <= 0) return luaL_error(L, "attempt to wait for a process that was not started");
    if (!p->reaped) {
        while (waitpid(p->pid, &p->status, 0) < 0) {
            if (errno != EINTR) return luaL_error(L, "waitpid: %s", strerror(errno));
        }
        p->reaped = 1;
        forget_child(p->pid);
    }
    if (WIFEXITED(p->status)) {
        int code = WEXITSTATUS(p->status);
        if (code == 0) lua_pushboolean(L, 1); else luaL_pushfail(L);
        lua_pushliteral(L, "exit");
        lua_pushinteger(L, code);
    } else {
        luaL_pushfail(L);
        lua_pushliteral(L, "signal");
        lua_pushinteger(L, WIFSIGNALED(p->status) ? WTERMSIG(p->status) : 0);
    }
    return 3;
}

/* proc:kill([signo]) -> true | nil, reason.  Default SIGTERM; a reaped child is not signalled. */
static int proc_kill(lua_State *L)
{
    Proc *p = check_proc(L, 1);
    int sig = (int)luaL_optinteger(L, 2, SIGTERM);
    if (p->pid <= 0 || p->reaped)
        return tpp_push_fail(L, "process has ended");
    if (kill(p->pid, sig) != 0)
        return tpp_push_fail(L, "%s", strerror(errno));
    lua_pushboolean(L, 1);
    return 1;
}

static int proc_pid(lua_State *L)
{
    lua_pushinteger(L, check_proc(L, 1)->pid);
    return 1;
}

static int proc_tostring(lua_State *L)
{
    Proc *p = check_proc(L, 1);
    lua_pushfstring(L, "tpp.proc (pid %d%s)", (int)p->pid, p->reaped ? ", ended" : "");
    return 1;
}

/* tpp.spawn(argv) -> proc | nil, "program: reason".  argv is a list of strings, argv[1] the program. */
static int l_spawn(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_Integer argc = luaL_len(L, 1);
    luaL_argcheck(L, argc >= 1 && argc < 10000, 1, "argv must be a non-empty list of strings");
    /* The argv array lives in a userdata, so that an error below cannot leak it; its strings stay on the stack. */
    const char **argv = lua_newuserdatauv(L, sizeof(char *) * (size_t)(argc + 1), 0);
    luaL_checkstack(L, (int)argc + 4, "too many arguments");
    for (lua_Integer i = 1; i <= argc; i++) {
        lua_rawgeti(L, 1, i);
        if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER)
            return luaL_argerror(L, 1, "argv must be a list of strings");
        argv[i - 1] = lua_tostring(L, -1);
    }
    argv[argc] = NULL;

    Proc *p = lua_newuserdatauv(L, sizeof *p, 0);
    memset(p, 0, sizeof *p);
    p->out[0].fd = p->out[1].fd = -1;
    luaL_setmetatable(L, PROC_MT);          /* from here on, __gc releases whatever was acquired */

    int pipes[2][2] = { { -1, -1 }, { -1, -1 } };
    int err = 0;
    for (int s = 0; s < 2 && !err; s++)
        if (pipe2(pipes[s], O_CLOEXEC) != 0) err = errno;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    int fa_ok = 0, attr_ok = 0;
    if (!err) err = posix_spawnattr_init(&attr);
    if (!err) {
        attr_ok = 1;
        err = posix_spawnattr_setpgroup(&attr, 0);  /* a group of its own: see the top of the file */
        if (!err) err = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    }
    if (!err) err = posix_spawn_file_actions_init(&fa);
    if (!err) {
        fa_ok = 1;
        err = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        if (!err) err = posix_spawn_file_actions_adddup2(&fa, pipes[0][1], 1);
        if (!err) err = posix_spawn_file_actions_adddup2(&fa, pipes[1][1], 2);
    }
    pid_t pid = 0;
    if (!err) err = posix_spawnp(&pid, argv[0], &fa, &attr, (char *const *)argv, environ);
    if (fa_ok) posix_spawn_file_actions_destroy(&fa);
    if (attr_ok) posix_spawnattr_destroy(&attr);
    for (int s = 0; s < 2; s++) {
        if (pipes[s][1] >= 0) close(pipes[s][1]);  /* the child's ends */
        if (err && pipes[s][0] >= 0) close(pipes[s][0]);
    }
    if (err)
        return tpp_push_fail(L, "%s: %s", argv[0], strerror(err));
    p->pid = pid;
    remember_child(pid);
    for (int s = 0; s < 2; s++) {
        p->out[s].fd = pipes[s][0];
        fcntl(p->out[s].fd, F_SETFL, fcntl(p->out[s].fd, F_GETFL) | O_NONBLOCK);
    }
    return 1;
}

/* tpp.poll(procs, timeout_seconds) -> how many of the procs have output (or end of file) waiting.
 * Procs that already reached end of file on both pipes are ignored; with none left it returns 0 at once.
 * A signal (Ctrl-C) ends the wait early with 0. */
static int l_poll(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_Number timeout = luaL_optnumber(L, 2, -1);
    lua_Integer n = luaL_len(L, 1);
    luaL_argcheck(L, n >= 0 && n < 100000, 1, "too many processes");
    struct pollfd *fds = lua_newuserdatauv(L, sizeof *fds * (size_t)(2 * n + 1), 0);
    int *owner = lua_newuserdatauv(L, sizeof *owner * (size_t)(2 * n + 1), 0);
    nfds_t nfds = 0;
    int ready_buffered = 0;
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, 1, i);
        Proc *p = luaL_testudata(L, -1, PROC_MT);
        if (!p) return luaL_argerror(L, 1, "a list of processes from tpp.spawn expected");
        lua_pop(L, 1);
        for (int s = 0; s < 2; s++) {
            if (p->out[s].fd >= 0) {
                fds[nfds].fd = p->out[s].fd;
                fds[nfds].events = POLLIN;
                fds[nfds].revents = 0;
                owner[nfds++] = (int)i;
            } else if (p->out[s].len > 0) {
                ready_buffered = 1;             /* an unread rest after end of file: ready now */
            }
        }
    }
    int ms = ready_buffered ? 0 : timeout < 0 ? -1 : timeout > 86400 ? 86400000 : (int)(timeout * 1000 + 0.5);
    int rc = nfds ? poll(fds, nfds, ms) : 0;
    if (rc < 0 && errno != EINTR) return luaL_error(L, "poll: %s", strerror(errno));
    int count = 0, last = 0;
    for (nfds_t k = 0; rc > 0 && k < nfds; k++)
        if (fds[k].revents && owner[k] != last) { count++; last = owner[k]; }
    if (count == 0 && ready_buffered) count = 1;
    lua_pushinteger(L, count);
    return 1;
}

/* tpp.isatty(file) -> boolean [, columns]: whether a Lua file handle (io.stderr, ...) is a terminal, and then its
 * width in columns when the terminal tells it. */
static int l_isatty(lua_State *L)
{
    luaL_Stream *s = luaL_checkudata(L, 1, LUA_FILEHANDLE);
    int fd = s->closef != NULL && s->f != NULL ? fileno(s->f) : -1;
    if (fd < 0 || !isatty(fd)) {
        lua_pushboolean(L, 0);
        return 1;
    }
    lua_pushboolean(L, 1);
    struct winsize ws;
    if (ioctl(fd, TIOCGWINSZ, &ws) != 0 || ws.ws_col == 0) return 1;
    lua_pushinteger(L, ws.ws_col);
    return 2;
}

/* ---- CPU limits of the process's cgroup (containers, Slurm's task/cgroup, Kubernetes limits) ----
 * A cgroup may give a process a CPU time quota per period instead of (or besides) fewer CPUs: cgroup v2's
 * cpu.max ("QUOTA PERIOD" or "max PERIOD"), v1's cpu.cfs_quota_us (-1: none) and cpu.cfs_period_us.  Every
 * ancestor's limit applies too, so the smallest along the path to the hierarchy's root counts.  The cgroup is
 * found as the kernel shows it: /proc/self/cgroup names the path, /proc/self/mountinfo where it is mounted. */

enum { CG_PATH = 4096 };

/* Read a small file whole (NUL-terminated); 0, or -1 when it cannot be read. */
static int read_small(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "re");
    if (!f) return -1;
    size_t n = fread(buf, 1, size - 1, f);
    fclose(f);
    buf[n] = '\0';
    return 0;
}

/* Whether the comma-separated list `list` (of length len) holds `word`. */
static int has_word(const char *list, size_t len, const char *word)
{
    size_t w = strlen(word);
    for (size_t i = 0; i < len;) {
        size_t j = i;
        while (j < len && list[j] != ',') j++;
        if (j - i == w && memcmp(list + i, word, w) == 0) return 1;
        i = j + 1;
    }
    return 0;
}

/* mountinfo writes a space, tab, newline or backslash in a path as \ooo (octal): decode in place. */
static void unescape_octal(char *s)
{
    char *o = s;
    for (; *s; s++) {
        if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
            *o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
            s += 3;
        } else {
            *o++ = *s;
        }
    }
    *o = '\0';
}

/* The limit in whole CPUs (rounded up) set by the files in `dir`, 0 for none. */
static long dir_limit(const char *dir, int v2)
{
    char path[CG_PATH + 32], text[128];
    long long quota = -1, period = 0;
    if (v2) {
        snprintf(path, sizeof path, "%s/cpu.max", dir);
        if (read_small(path, text, sizeof text) != 0 || sscanf(text, "%lld %lld", &quota, &period) != 2) return 0;
    } else {
        snprintf(path, sizeof path, "%s/cpu.cfs_quota_us", dir);
        if (read_small(path, text, sizeof text) != 0 || sscanf(text, "%lld", &quota) != 1) return 0;
        snprintf(path, sizeof path, "%s/cpu.cfs_period_us", dir);
        if (read_small(path, text, sizeof text) != 0 || sscanf(text, "%lld", &period) != 1) return 0;
    }
    if (quota <= 0 || period <= 0) return 0;            /* "max" (v2 scans no number) or -1: no limit */
    return (long)((quota + period - 1) / period);
}

/* The smallest limit from `cgpath` (the cgroup as /proc/self/cgroup names it) up to the root of the hierarchy
 * mounted at `mnt` whose own root is `mnt_root` (a container sees its cgroup as the mount's root); 0 for none. */
static long path_limit(const char *root, const char *mnt, const char *mnt_root, const char *cgpath, int v2)
{
    size_t rl = strlen(mnt_root);
    const char *rel = cgpath;
    if (strcmp(mnt_root, "/") != 0) {
        if (strncmp(cgpath, mnt_root, rl) == 0 && (cgpath[rl] == '/' || cgpath[rl] == '\0')) rel = cgpath + rl;
        else rel = "";                                   /* outside the mount's view: the mount's root is ours */
    }
    char top[CG_PATH], dir[CG_PATH];
    if ((size_t)snprintf(top, sizeof top, "%s%s", root, mnt) >= sizeof top) return 0;
    if ((size_t)snprintf(dir, sizeof dir, "%s%s", top, rel) >= sizeof dir) return 0;
    size_t tl = strlen(top);
    while (tl > 1 && top[tl - 1] == '/') top[--tl] = '\0';
    long best = 0;
    for (;;) {
        size_t dl = strlen(dir);
        while (dl > 1 && dir[dl - 1] == '/') dir[--dl] = '\0';
        long n = dir_limit(dir, v2);
        if (n > 0 && (best == 0 || n < best)) best = n;
        if (dl <= tl) break;
        char *slash = strrchr(dir, '/');
        if (!slash || (size_t)(slash - dir) < tl) break;
        *slash = '\0';
    }
    return best;
}

/* The CPU limit of this process's cgroups (v1 and v2 alike), 0 for none.  `root` stands for / ("" normally; a
 * directory holding proc/self/{cgroup,mountinfo} and the cgroup files in the specs). */
static long cgroup_cpu_limit(const char *root)
{
    char path[CG_PATH], v1_path[CG_PATH] = "", v2_path[CG_PATH] = "";
    int have_v1 = 0, have_v2 = 0;
    snprintf(path, sizeof path, "%s/proc/self/cgroup", root);
    FILE *f = fopen(path, "re");
    if (!f) return 0;
    char line[CG_PATH + 256];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2) continue;
        const char *controllers = c1 + 1;
        size_t clen = (size_t)(c2 - controllers);
        if (clen == 0 && strncmp(line, "0:", 2) == 0) {
            snprintf(v2_path, sizeof v2_path, "%s", c2 + 1);
            have_v2 = 1;
        } else if (has_word(controllers, clen, "cpu")) {
            snprintf(v1_path, sizeof v1_path, "%s", c2 + 1);
            have_v1 = 1;
        }
    }
    fclose(f);
    if (!have_v1 && !have_v2) return 0;

    snprintf(path, sizeof path, "%s/proc/self/mountinfo", root);
    f = fopen(path, "re");
    if (!f) return 0;
    long best = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        /* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS */
        char *sep = strstr(line, " - ");
        if (!sep) continue;
        *sep = '\0';
        char *fields[5], *save = NULL, *tok = strtok_r(line, " ", &save);
        int nf = 0;
        for (; tok && nf < 5; tok = strtok_r(NULL, " ", &save)) fields[nf++] = tok;
        if (nf < 5) continue;
        char *save2 = NULL;
        char *fstype = strtok_r(sep + 3, " ", &save2);
        char *source = fstype ? strtok_r(NULL, " ", &save2) : NULL;
        char *superopts = source ? strtok_r(NULL, " ", &save2) : NULL;
        if (!fstype) continue;
        int v2 = strcmp(fstype, "cgroup2") == 0;
        int v1 = strcmp(fstype, "cgroup") == 0 && superopts && has_word(superopts, strlen(superopts), "cpu");
        if (!(v2 && have_v2) && !(v1 && have_v1)) continue;
        unescape_octal(fields[3]);
        unescape_octal(fields[4]);
        long n = path_limit(root, fields[4], fields[3], v2 ? v2_path : v1_path, v2);
        if (n > 0 && (best == 0 || n < best)) best = n;
    }
    fclose(f);
    return best;
}

/* tpp.cpus([root]) -> the number of processors this process may use: its affinity mask (as nproc counts), or
 * fewer when a cgroup CPU quota allows less (rounded up) [, that quota's CPUs when there is one].  `root` is for
 * the specs: a directory standing for / where the cgroup files are looked up. */
static int l_cpus(lua_State *L)
{
    const char *root = luaL_optstring(L, 1, "");
    long n = 0;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) n = CPU_COUNT(&set);
    if (n < 1) n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) n = 1;
    long limit = cgroup_cpu_limit(root);
    lua_pushinteger(L, limit > 0 && limit < n ? limit : n);
    if (limit <= 0) return 1;
    lua_pushinteger(L, limit);
    return 2;
}

static int l_pid(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)getpid());
    return 1;
}

void tpp_lproc_register(lua_State *L)
{
    static const luaL_Reg methods[] = {
        { "read", proc_read }, { "eof", proc_eof }, { "wait", proc_wait }, { "kill", proc_kill },
        { "pid", proc_pid }, { NULL, NULL },
    };
    static const luaL_Reg meta[] = {
        { "__gc", proc_gc }, { "__close", proc_gc }, { "__tostring", proc_tostring }, { NULL, NULL },
    };
    luaL_newmetatable(L, PROC_MT);
    luaL_setfuncs(L, meta, 0);
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);

    static const luaL_Reg funcs[] = {
        { "spawn", l_spawn }, { "poll", l_poll }, { "isatty", l_isatty }, { "cpus", l_cpus }, { "pid", l_pid }, { NULL, NULL },
    };
    luaL_setfuncs(L, funcs, 0);
}
