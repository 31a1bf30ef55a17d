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
 *   tpp.cpus()                 -> number of processors this process may run on (as nproc)
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

/* tpp.cpus() -> the number of processors this process may run on (its affinity mask, as nproc counts). */
static int l_cpus(lua_State *L)
{
    long n = 0;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) n = CPU_COUNT(&set);
    if (n < 1) n = sysconf(_SC_NPROCESSORS_ONLN);
    lua_pushinteger(L, n < 1 ? 1 : n);
    return 1;
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
