/* main.c — the `tpp` host program: a Lua 5.4 stand-alone interpreter with the tpp core preloaded.
 *
 * It behaves like the standard `lua` command (same options, `arg` table, LUA_INIT handling, REPL) and
 * differs only in: package.preload["tpp.core"] is the C core, package.path starts with tpp's own Lua
 * library directory, and the REPL (repl.c) uses GNU readline with a persistent history and tab completion.
 *
 * Everything runs inside one protected call of run_main(); each chunk (script, -e, -l, REPL line) is
 * run through tpp_run_chunk() (lrun.c), whose message handler appends a traceback.
 */
#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "ltpp.h"
#include "linterrupt.h"
#include "lrun.h"
#include "repl.h"
#include "version.h"


/* Print `tpp: msg` on stderr. */
static void print_message(const char *msg)
{
    fprintf(stderr, "%s: %s\n", PROGNAME, msg);
    fflush(stderr);
}

static int interrupted;         /* an interrupt ended a chunk: the exit status is 130, as after SIGINT in a shell */
static int usage_error;         /* a bad option: the exit status is 2, as for the scripts' usage errors */

/* If status is an error, print the message on the stack top and pop it. Returns status.  An interrupt is one
 * line, "tpp: interrupted", without a traceback. */
static int report(lua_State *L, int status)
{
    if (status != LUA_OK) {
        if (tpp_is_interrupted(L, -1)) {
            interrupted = 1;
            print_message("interrupted");
        } else {
            const char *msg = lua_tostring(L, -1);
            print_message(msg ? msg : "(error object is not a string)");
        }
        lua_pop(L, 1);
    }
    return status;
}

/* ---- running chunks ------------------------------------------------------------------------------ */

/* Given the status of loading a chunk (the function or the error is on the stack), run it without
 * arguments and report any error. Returns the status. */
static int run_loaded(lua_State *L, int status)
{
    if (status == LUA_OK)
        status = tpp_run_chunk(L, 0, 0);
    return report(L, status);
}

static int do_string(lua_State *L, const char *s, const char *name)
{
    return run_loaded(L, luaL_loadbuffer(L, s, strlen(s), name));
}

/* path NULL: stdin. */
static int do_file(lua_State *L, const char *path)
{
    return run_loaded(L, luaL_loadfile(L, path));
}

/* -l spec: `mod` sets global mod = require "mod"; `g=mod` sets global g instead. Reports errors. */
static int do_library(lua_State *L, const char *spec)
{
    const char *eq = strchr(spec, '=');
    const char *modname = eq ? eq + 1 : spec;
    lua_getglobal(L, "require");
    lua_pushstring(L, modname);
    int status = tpp_run_chunk(L, 1, 1);
    if (status == LUA_OK) {
        lua_pushlstring(L, spec, eq ? (size_t)(eq - spec) : strlen(spec));
        lua_insert(L, -2);
        lua_setglobal(L, lua_tostring(L, -2));
        lua_pop(L, 1);
    }
    return report(L, status);
}

/* Load the script argv[script] ("-" is stdin unless written after "--") and call it with arg[1..#arg]
 * as its arguments. Reports errors; returns the status. */
static int do_script(lua_State *L, char **argv, int script)
{
    const char *fname = argv[script];
    if (strcmp(fname, "-") == 0 && strcmp(argv[script - 1], "--") != 0)
        fname = NULL;
    int status = luaL_loadfile(L, fname);
    if (status == LUA_OK) {
        if (lua_getglobal(L, "arg") != LUA_TTABLE)
            luaL_error(L, "'arg' is not a table");
        int n = (int)luaL_len(L, -1);
        luaL_checkstack(L, n + 3, "too many arguments to script");
        for (int i = 1; i <= n; i++)
            lua_rawgeti(L, -i, i);
        lua_remove(L, -n - 1);
        status = tpp_run_chunk(L, n, LUA_MULTRET);
    }
    return report(L, status);
}

/* ---- command line -------------------------------------------------------------------------------- */

enum { OPT_E = 1, OPT_I = 2, OPT_V = 4, OPT_BIG_E = 8, OPT_ERROR = 16, OPT_HELP = 32 };

/* Scan the options in argv. Sets *script to the index of the script name (argc when there is none)
 * and, on error, *bad to the offending argument. Returns a mask of OPT_*. The -e/-l/-W options are
 * only validated here; run_options() executes them in order. */
static int scan_options(int argc, char **argv, int *script, const char **bad)
{
    int flags = 0, i;
    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        *bad = a;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            return flags | OPT_HELP;
        switch (a[1]) {
        case '\0':                          /* "-": the script is stdin */
            *script = i;
            return flags;
        case '-':                           /* "--": end of options */
            if (a[2] != '\0' && (flags & OPT_I)) {
                *script = i;                /* tpp -i --ip v4 ...: the REPL's parse options (tpp.repl) */
                return flags;
            }
            if (a[2] != '\0')
                return flags | OPT_ERROR;
            *script = i + 1;
            return flags;
        case 't':                           /* tpp -i -t SEC ... */
            if (!(flags & OPT_I))
                return flags | OPT_ERROR;
            *script = i;
            return flags;
        case 'E': case 'i': case 'v': case 'W':  /* flags without argument */
            if (a[2] != '\0')
                return flags | OPT_ERROR;
            if (a[1] == 'E')
                flags |= OPT_BIG_E;
            else if (a[1] == 'i')
                flags |= OPT_I | OPT_V;     /* -i implies -v */
            else if (a[1] == 'v')
                flags |= OPT_V;
            break;
        case 'e': case 'l':
            if (a[1] == 'e')
                flags |= OPT_E;
            if (a[2] == '\0' && (++i >= argc || argv[i][0] == '-'))
                return flags | OPT_ERROR;
            break;
        default:
            return flags | OPT_ERROR;
        }
    }
    *script = i;
    return flags;
}

static void print_synopsis(FILE *out)
{
    fprintf(out,
            "usage: %s [options] [script [args]]\n"
            "       %s -i [-t SEC] [--boundary B] [--anchor A] [--ip V] [--filter EXPR] [--max-packets N]\n"
            "              [--max-intervals N] [--max-gap SEC] [--keep-tables edges|all] [FILE|DIR ...]\n"
            "Available options are:\n"
            "  -e stat    execute string 'stat'\n"
            "  -i         enter interactive mode after executing 'script'; with capture or dump FILEs or DIRs\n"
            "             (and parse options), load each into a global named after it\n"
            "  -l mod     require library 'mod' into global 'mod'\n"
            "  -l g=mod   require library 'mod' into global 'g'\n"
            "  -v         show version information\n"
            "  -E         ignore environment variables\n"
            "  -W         turn warnings on\n"
            "  -h, --help show this help\n"
            "  --         stop handling options\n"
            "  -          stop handling options and execute stdin\n",
            PROGNAME, PROGNAME);
}

/* A usage error: what was wrong with the bad argument, then the synopsis, on stderr. */
static void print_usage(const char *bad)
{
    if (bad[1] == 'e' || bad[1] == 'l')
        fprintf(stderr, "%s: '%s' needs argument\n", PROGNAME, bad);
    else
        fprintf(stderr, "%s: unrecognized option '%s'\n", PROGNAME, bad);
    print_synopsis(stderr);
}

static char lua_dir[4096];        /* where add_lua_dir found tpp's Lua library ("" when it did not) */

/* --help on stdout: what tpp is, the synopsis, where the main job is, the exit statuses. */
static void print_help(void)
{
    char exec[sizeof lua_dir + 32] = "scripts/exec.lua";
    char *slash = strrchr(lua_dir, '/');
    if (slash) {
        snprintf(exec, sizeof exec, "%.*s/scripts/exec.lua", (int)(slash - lua_dir), lua_dir);
        if (access(exec, R_OK) != 0)
            snprintf(exec, sizeof exec, "scripts/exec.lua");
    }
    printf("%s — traffic-trace analyser: a Lua 5.4 interpreter with the tpp module built in (require \"tpp\").\n\n",
           PROGNAME);
    print_synopsis(stdout);
    printf("\nThe main job (captures -> interval features, dumps, figures):\n"
           "  %s %s [options] [PATH ...]\n"
           "  %s %s --help     lists its options\n"
           "\nExit status: 0 success; 1 a script failed (an error, a traceback on stderr); 2 a usage error;\n"
           "130 interrupted (Ctrl-C: one line, \"tpp: interrupted\").\n",
           PROGNAME, exec, PROGNAME, exec);
    fflush(stdout);
}

/* Execute the -e, -l and -W options before argv[script], in command-line order. Returns 0 on the
 * first failing one (already reported), 1 otherwise. */
static int run_options(lua_State *L, char **argv, int script)
{
    for (int i = 1; i < script; i++) {
        const char *a = argv[i];
        int opt = a[1];
        if (opt == 'W') {
            lua_warning(L, "@on", 0);
        } else if (opt == 'e' || opt == 'l') {
            const char *val = a[2] != '\0' ? a + 2 : argv[++i];
            int status = opt == 'e' ? do_string(L, val, "=(command line)") : do_library(L, val);
            if (status != LUA_OK)
                return 0;
        }
    }
    return 1;
}

/* Global `arg` as lua builds it: arg[0] is the script (or the program when there is no script),
 * negative indices the interpreter and its options, positive ones the script's arguments. */
static void create_arg_table(lua_State *L, int argc, char **argv, int script)
{
    if (script == argc)
        script = 0;
    lua_createtable(L, argc - script - 1, script + 1);
    for (int i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - script);
    }
    lua_setglobal(L, "arg");
}

/* LUA_INIT_5_4, else LUA_INIT: "@file" runs the file, anything else runs as code. Returns a status. */
static int run_lua_init(lua_State *L)
{
    const char *name = "=LUA_INIT_5_4";
    const char *init = getenv(name + 1);
    if (init == NULL) {
        name = "=LUA_INIT";
        init = getenv(name + 1);
    }
    if (init == NULL)
        return LUA_OK;
    return init[0] == '@' ? do_file(L, init + 1) : do_string(L, init, name);
}

/* ---- module path --------------------------------------------------------------------------------- */

/* Scripts must find `require "tpp"` without LUA_PATH, from the build tree as well as after
 * `make install`, so the Lua library is located relative to the real executable. Candidates, first
 * existing wins: $TPP_LUA_DIR; <exe_dir>/lua (./tpp in the repo); <exe_dir>/../lua (build/tpp-asan);
 * <exe_dir>/../share/tpp/lua (PREFIX/bin/tpp). The winner is prepended to package.path; when none
 * is found package.path is left alone. */
static void add_lua_dir(lua_State *L)
{
    static const char *const rel[] = { "/lua", "/../lua", "/../share/tpp/lua" };
    char exe[4096], cand[4200];
    const char *dir = getenv("TPP_LUA_DIR");
    if (dir == NULL || dir[0] == '\0') {
        dir = NULL;
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        char *slash = n > 0 ? memrchr(exe, '/', (size_t)n) : NULL;
        if (slash == NULL)
            return;
        *slash = '\0';
        for (size_t i = 0; i < sizeof rel / sizeof rel[0] && dir == NULL; i++) {
            snprintf(cand, sizeof cand, "%s%s/tpp/init.lua", exe, rel[i]);
            if (access(cand, R_OK) == 0) {
                snprintf(cand, sizeof cand, "%s%s", exe, rel[i]);
                dir = realpath(cand, exe) ? exe : cand;   /* drop the "bin/.." for readable messages */
            }
        }
        if (dir == NULL)
            return;
    }
    if (strlen(dir) < sizeof lua_dir)
        strcpy(lua_dir, dir);
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "path");
    lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;%s", dir, dir, lua_tostring(L, -1));
    lua_setfield(L, -3, "path");
    lua_pop(L, 2);
}

/* ---- main ---------------------------------------------------------------------------------------- */

static void print_version(void)
{
    printf("%s %s (%s)\n", PROGNAME, TPP_VERSION, LUA_RELEASE);
    fflush(stdout);
}

/* Body of the protected call, with arguments argc (integer) and argv (light userdata). Sets up the
 * state, runs what the command line asks for, and returns true iff everything succeeded (errors are
 * reported on the way). */
static int run_main(lua_State *L)
{
    int argc = (int)lua_tointeger(L, 1);
    char **argv = lua_touserdata(L, 2);
    int script = argc;
    const char *bad = NULL;
    int flags = scan_options(argc, argv, &script, &bad);

    luaL_checkversion(L);
    if (flags & OPT_ERROR) {
        print_usage(bad);
        usage_error = 1;
        return 0;
    }
    if (flags & OPT_BIG_E) {                /* tells package to ignore LUA_PATH/LUA_CPATH */
        lua_pushboolean(L, 1);
        lua_setfield(L, LUA_REGISTRYINDEX, "LUA_NOENV");
    }
    luaL_openlibs(L);
    tpp_interrupt_open_execute(L);          /* a Ctrl-C during os.execute is not lost (linterrupt.c) */
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, luaopen_tpp_core);
    lua_setfield(L, -2, "tpp.core");
    lua_pop(L, 1);
    add_lua_dir(L);
    if (flags & OPT_HELP) {
        print_help();
        lua_pushboolean(L, 1);
        return 1;
    }
    create_arg_table(L, argc, argv, script);
    lua_gc(L, LUA_GCGEN, 0, 0);             /* lua's default mode for the stand-alone interpreter */

    if (flags & OPT_V)
        print_version();
    if (!(flags & OPT_BIG_E) && run_lua_init(L) != LUA_OK)
        return 0;
    if (!run_options(L, argv, script))
        return 0;
    /* tpp -i [parse options] FILE|DIR ...: when the first argument is a parse option, a capture, a dump or a
     * directory, every argument is for the REPL to load; otherwise, as with lua -i, it is a script run before the
     * REPL. */
    int repl_args = (flags & OPT_I) && script < argc
                    && ((argv[script][0] == '-' && argv[script][1] != '\0' && strcmp(argv[script - 1], "--") != 0)
                        || tpp_repl_is_data(L, argv[script]));
    int nfiles = repl_args ? argc - script : 0;
    if (script < argc && nfiles == 0 && do_script(L, argv, script) != LUA_OK)
        return 0;
    if (flags & OPT_I) {
        if (nfiles > 0 && strcmp(argv[script - 1], "--") == 0)
            tpp_repl(L, argv + script - 1, nfiles + 1);   /* the REPL sees the "--": "-x.pcap" is a file */
        else
            tpp_repl(L, argv + script, nfiles);
    } else if (script == argc && !(flags & (OPT_E | OPT_V))) {
        if (isatty(STDIN_FILENO)) {
            print_version();
            tpp_repl(L, NULL, 0);
        } else if (do_file(L, NULL) != LUA_OK) {
            return 0;
        }
    }
    lua_pushboolean(L, 1);
    return 1;
}

int main(int argc, char **argv)
{
    lua_State *L = luaL_newstate();
    if (L == NULL) {
        print_message("cannot create state: not enough memory");
        return EXIT_FAILURE;
    }
    lua_pushcfunction(L, run_main);
    lua_pushinteger(L, argc);
    lua_pushlightuserdata(L, argv);
    int status = lua_pcall(L, 2, 1, 0);
    int ok = status == LUA_OK && lua_toboolean(L, -1);
    report(L, status);
    lua_close(L);
    return interrupted ? 128 + SIGINT : usage_error ? 2 : ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
