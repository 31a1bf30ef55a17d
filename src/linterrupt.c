/* linterrupt.c — Ctrl-C as one recognisable Lua value:
 *
 *   tpp.INTERRUPTED        the error object every interrupt raises (tostring gives "interrupted")
 *   tpp.interrupted(err)   -> whether err is that object
 *
 * The host arms SIGINT around each chunk it runs (tpp_interrupt_arm).  The handler records the request for the C
 * core's loops (tpp/interrupt.h), forwards SIGINT to the child processes tpp.spawn started (each runs in a process
 * group of its own, so this is how a Ctrl-C reaches them, exactly once), and sets a Lua hook that raises
 * tpp.INTERRUPTED at the next instruction; it then restores the default action, so that a second Ctrl-C ends the
 * process at once, as in lua.  Raising the object (tpp_raise_interrupted) consumes the request: the code that
 * cleans up after it runs undisturbed.  os.execute is replaced by one that keeps the handler while the command
 * runs (system() would ignore SIGINT and lose it).
 *
 * C code that cannot see the request (a read blocked on a pipe that stays silent, a long load) is not waited for:
 * when the object has not been raised a second after the Ctrl-C, a watchdog (SIGALRM) prints the same one line
 * and ends the process with status 130.  Such code writes nothing half-way: outputs are unnamed temporary files
 * until they are committed.  Once raised, the chunk has GRACE_SECONDS more to unwind and clean up (a pcall that
 * swallowed the interrupt would otherwise carry on); the end of the chunk (tpp_interrupt_disarm: the REPL's next
 * prompt) stops the watchdog.
 */
#include "linterrupt.h"
#include "lproc.h"
#include "ltpp.h"
#include "tpp/interrupt.h"

#include <errno.h>
#include <lauxlib.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define INTERRUPTED_MT "tpp.interrupted"
#define GRACE_SECONDS 2

static char interrupted_key;          /* registry[&interrupted_key]: the object */
static struct sigaction before_arm;     /* SIGINT's handler before tpp_interrupt_arm, put back by disarm */
static lua_State *volatile armed_L;   /* the state a SIGINT interrupts; NULL when disarmed */
static int raised;                    /* the current chunk was interrupted (tpp_interrupt_raised) */

static int interrupted_tostring(lua_State *L)
{
    lua_pushliteral(L, "interrupted");
    return 1;
}

/* Push the interrupt object of L's state, creating it the first time. */
void tpp_push_interrupted(lua_State *L)
{
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &interrupted_key) != LUA_TNIL) return;
    lua_pop(L, 1);
    lua_newuserdatauv(L, 0, 0);
    if (luaL_newmetatable(L, INTERRUPTED_MT)) {
        lua_pushcfunction(L, interrupted_tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &interrupted_key);
}

int tpp_is_interrupted(lua_State *L, int idx)
{
    if (lua_type(L, idx) != LUA_TUSERDATA) return 0;
    idx = lua_absindex(L, idx);
    tpp_push_interrupted(L);
    int same = lua_rawequal(L, idx, -1);
    lua_pop(L, 1);
    return same;
}

static void interrupt_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    tpp_raise_interrupted(L);
}

int tpp_raise_interrupted(lua_State *L)
{
    if (armed_L) alarm(GRACE_SECONDS);            /* it reached Lua: time to clean up, not to carry on */
    lua_State *armed = armed_L;
    if (armed && lua_gethook(armed) == interrupt_hook) lua_sethook(armed, NULL, 0, 0);
    if (lua_gethook(L) == interrupt_hook) lua_sethook(L, NULL, 0, 0);
    tpp_interrupt_clear();
    raised = 1;
    tpp_push_interrupted(L);
    return lua_error(L);
}

int tpp_interrupt_raised(void) { return raised; }

/* SIGINT while a chunk runs.  Only async-signal-safe work: a flag, kill(), lua_sethook (which lua.c relies on
 * being safe here too) and sigaction. */
static void on_watchdog(int sig)
{
    static const char msg[] = "tpp: interrupted\n";
    (void)sig;
    ssize_t n = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)n;
    _exit(128 + SIGINT);
}

static void on_sigint(int sig)
{
    struct sigaction wd;
    memset(&wd, 0, sizeof wd);
    wd.sa_handler = on_watchdog;
    sigaction(SIGALRM, &wd, NULL);
    alarm(1);
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(sig, &dfl, NULL);
    tpp_interrupt_request();
    tpp_lproc_signal_children(SIGINT);
    lua_State *L = armed_L;
    if (L) lua_sethook(L, interrupt_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT, 1);
}

void tpp_interrupt_arm(lua_State *L)
{
    tpp_push_interrupted(L);   /* created now, so that raising it later needs no memory */
    lua_pop(L, 1);
    tpp_interrupt_clear();
    raised = 0;
    armed_L = L;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sa.sa_flags = SA_RESTART;   /* as lua.c: an interrupted read goes on (io.popen pipes stay whole); the watchdog bounds it */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &before_arm);
}

void tpp_interrupt_disarm(void)
{
    alarm(0);
    sigaction(SIGINT, &before_arm, NULL);   /* the default, or the REPL's prompt handler: never a gap between them */
    armed_L = NULL;
}

extern char **environ;

/* os.execute([command]) as Lua's, except that tpp keeps its SIGINT handler while the command runs: system()
 * ignores SIGINT in the caller, so a Ctrl-C that came then (one forwarded to a worker, say) would be lost. */
static int l_execute(lua_State *L)
{
    const char *cmd = luaL_optstring(L, 1, NULL);
    if (cmd == NULL) {
        lua_pushboolean(L, access("/bin/sh", X_OK) == 0);
        return 1;
    }
    char *argv[] = { "sh", "-c", (char *)cmd, NULL };
    pid_t pid;
    int err = posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, environ);
    if (err != 0) {
        errno = err;
        return luaL_execresult(L, -1);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) return luaL_execresult(L, -1);
    }
    errno = 0;                                    /* luaL_execresult reads a non-zero errno as a failure */
    return luaL_execresult(L, status);
}

void tpp_interrupt_open_execute(lua_State *L)
{
    if (lua_getglobal(L, "os") == LUA_TTABLE) {
        lua_pushcfunction(L, l_execute);
        lua_setfield(L, -2, "execute");
    }
    lua_pop(L, 1);
}

/* tpp.interrupted(err) -> whether err is tpp.INTERRUPTED. */
static int l_interrupted(lua_State *L)
{
    luaL_checkany(L, 1);
    lua_pushboolean(L, tpp_is_interrupted(L, 1));
    return 1;
}

void tpp_linterrupt_register(lua_State *L)
{
    tpp_push_interrupted(L);
    lua_setfield(L, -2, "INTERRUPTED");
    lua_pushcfunction(L, l_interrupted);
    lua_setfield(L, -2, "interrupted");
}
