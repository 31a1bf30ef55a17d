/* lconfig.c — tpp.load_data(path): run a Lua file as data, such as a config file, without letting it do anything
 * else.
 *
 *   tpp.load_data(path) -> table | nil, "path:line: reason"
 *
 * The file runs in a Lua state of its own: an allocator that refuses more than DATA_MEMORY_LIMIT bytes, a count
 * hook that stops it after DATA_INSTRUCTION_LIMIT instructions (or at Ctrl-C, which raises tpp.INTERRUPTED in the
 * caller), text chunks only, an empty environment (no print, os, io, require, load, setmetatable...), and of the
 * string methods only those that cannot run long (no pattern matching: a pattern can backtrack for hours inside
 * one instruction; string.rep is bounded by the memory limit).  The table it returns is copied into the caller's
 * state; it may hold strings, numbers, booleans and tables of them, nested at most DATA_MAX_DEPTH deep (which a
 * cycle exceeds).  Every failure is returned as "path: reason", with the line when Lua knows it.
 */
#include "ltpp.h"
#include "linterrupt.h"
#include "lfail.h"
#include "tpp/interrupt.h"

#include <lauxlib.h>
#include <errno.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DATA_MEMORY_LIMIT ((size_t)64 << 20)
#define DATA_INSTRUCTION_LIMIT 100000000LL
#define DATA_HOOK_STEP 10000
#define DATA_MAX_DEPTH 16
#define DATA_FILE_LIMIT (16 << 20)   /* bytes of source read */

#define SANDBOX_MT "tpp.sandbox"

/* Lives in a userdata of the caller's state, so that an error there still closes the sandbox (its __gc). */
struct sandbox {
    lua_State *S;
    size_t used;             /* bytes the sandbox holds */
    long long steps;         /* instructions run, in DATA_HOOK_STEP units */
    int out_of_memory, too_long, interrupted;
    int line;                /* where it ran too long */
};

static void *limited_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    struct sandbox *sb = ud;
    if (ptr == NULL) osize = 0;    /* osize then tells the type of object, not a size */
    if (nsize == 0) {
        free(ptr);
        sb->used -= osize;
        return NULL;
    }
    if (nsize > osize && nsize - osize > DATA_MEMORY_LIMIT - sb->used) {
        sb->out_of_memory = 1;
        return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (p) sb->used = sb->used - osize + nsize;
    return p;
}

/* Every DATA_HOOK_STEP instructions: stop at the instruction limit or at Ctrl-C. */
static void count_hook(lua_State *S, lua_Debug *ar)
{
    struct sandbox *sb;
    lua_getallocf(S, (void **)&sb);
    sb->steps += DATA_HOOK_STEP;
    if (tpp_interrupt_requested()) {
        sb->interrupted = 1;
        luaL_error(S, "interrupted");
    }
    if (sb->steps > DATA_INSTRUCTION_LIMIT) {
        sb->too_long = 1;
        sb->line = lua_getinfo(S, "l", ar) ? ar->currentline : -1;
        luaL_error(S, "runs too long");
    }
}

static void close_sandbox(struct sandbox *sb)
{
    if (sb->S) lua_close(sb->S);
    sb->S = NULL;
}

static int sandbox_gc(lua_State *L)
{
    close_sandbox(luaL_checkudata(L, 1, SANDBOX_MT));
    return 0;
}

/* The string methods a data file may use: none of them runs long or builds more than memory allows. */
static void open_safe_strings(lua_State *S)
{
    static const char *const safe[] = { "byte", "char", "format", "len", "lower", "rep", "reverse", "sub", "upper", NULL };
    luaL_requiref(S, LUA_STRLIBNAME, luaopen_string, 0);    /* sets the metatable of strings */
    lua_newtable(S);
    for (int i = 0; safe[i]; i++) {
        lua_getfield(S, -2, safe[i]);
        lua_setfield(S, -2, safe[i]);
    }
    lua_pushliteral(S, "");
    lua_getmetatable(S, -1);
    lua_pushvalue(S, -3);
    lua_setfield(S, -2, "__index");
    lua_pop(S, 4);
}

/* Reads the file for lua_load, at most DATA_FILE_LIMIT bytes: the parser runs no hook, so an endless file (a FIFO,
 * <(yes), a device) would otherwise be read for ever inside one "instruction". */
struct limited_file {
    FILE *f;
    size_t total;
    int too_big, started, skipping;
    char buf[4096];
};

/* As luaL_loadfilex: a UTF-8 byte-order mark and a first line starting with '#' (#!/usr/bin/env tpp) are skipped,
 * the line's newline kept so that line numbers stay right. */
static const char *read_limited(lua_State *S, void *ud, size_t *size)
{
    (void)S;
    struct limited_file *lf = ud;
    *size = 0;
    for (;;) {
        if (lf->too_big || feof(lf->f) || ferror(lf->f)) return NULL;
        size_t n = fread(lf->buf, 1, sizeof lf->buf, lf->f);
        lf->total += n;
        if (lf->total > DATA_FILE_LIMIT) {
            lf->too_big = 1;
            return NULL;
        }
        if (n == 0) return NULL;
        const char *p = lf->buf;
        if (!lf->started) {
            lf->started = 1;
            if (n >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) p += 3, n -= 3;
            lf->skipping = n > 0 && *p == '#';
        }
        if (lf->skipping) {
            const char *nl = memchr(p, '\n', n);
            if (!nl) continue;
            n -= (size_t)(nl - p);
            p = nl;
            lf->skipping = 0;
        }
        if (n == 0) continue;
        *size = n;
        return p;
    }
}

/* Run in the sandbox (protected): load the file named by the string at 1, with an empty environment, and call it. */
static int run_file(lua_State *S)
{
    const char *path = lua_tostring(S, 1);
    open_safe_strings(S);
    struct limited_file *lf = lua_newuserdatauv(S, sizeof *lf, 0);   /* collected with the sandbox */
    memset(lf, 0, sizeof *lf);
    lf->f = fopen(path, "r");
    if (!lf->f) return luaL_error(S, "cannot open %s: %s", path, strerror(errno));
    lua_pushfstring(S, "@%s", path);
    int status = lua_load(S, read_limited, lf, lua_tostring(S, -1), "t");
    int read_error = ferror(lf->f) ? errno : 0;
    fclose(lf->f);
    if (lf->too_big)
        return luaL_error(S, "larger than %d MB, which no data file needs (is it endless?)", DATA_FILE_LIMIT >> 20);
    if (read_error) return luaL_error(S, "cannot read %s: %s", path, strerror(read_error));
    if (status != LUA_OK) return lua_error(S);
    lua_newtable(S);
    lua_setupvalue(S, -2, 1);                               /* _ENV */
    lua_call(S, 0, 1);
    return 1;
}

/* Copy the plain value at S's index idx onto L's stack.  Returns NULL, or what is wrong with it. */
static const char *copy_value(lua_State *S, int idx, lua_State *L, int depth)
{
    switch (lua_type(S, idx)) {
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(S, idx, &len);
        lua_pushlstring(L, s, len);
        return NULL;
    }
    case LUA_TNUMBER:
        if (lua_isinteger(S, idx)) lua_pushinteger(L, lua_tointeger(S, idx));
        else lua_pushnumber(L, lua_tonumber(S, idx));
        return NULL;
    case LUA_TBOOLEAN:
        lua_pushboolean(L, lua_toboolean(S, idx));
        return NULL;
    case LUA_TTABLE:
        break;
    default:
        return lua_pushfstring(L, "holds a %s, but data is only strings, numbers, booleans and tables of them",
                               luaL_typename(S, idx));
    }
    if (depth >= DATA_MAX_DEPTH)
        return lua_pushfstring(L, "holds tables nested more than %d deep (or a table that holds itself)", DATA_MAX_DEPTH);
    if (!lua_checkstack(S, 3)) return "is too deep to copy";
    luaL_checkstack(L, 4, "data too deep to copy");
    idx = lua_absindex(S, idx);
    lua_newtable(L);
    for (lua_pushnil(S); lua_next(S, idx); lua_pop(S, 1)) {
        int kt = lua_type(S, -2);
        if (kt != LUA_TSTRING && kt != LUA_TNUMBER && kt != LUA_TBOOLEAN)
            return lua_pushfstring(L, "has a key that is a %s", luaL_typename(S, -2));
        const char *why = copy_value(S, -2, L, depth + 1);
        if (!why) why = copy_value(S, -1, L, depth + 1);
        if (why) return why;
        lua_rawset(L, -3);
    }
    return NULL;
}

/* Push "path: reason" for a run of the sandbox that ended with `status` and its error message on S's top. */
static void push_failure(lua_State *L, const char *path, const struct sandbox *sb, int status)
{
    if (status == LUA_ERRMEM || sb->out_of_memory) {
        lua_pushfstring(L, "%s: uses too much memory (the limit is %d MB)", path, (int)(DATA_MEMORY_LIMIT >> 20));
        return;
    }
    if (sb->too_long) {
        lua_pushfstring(L, "%s:%d: runs too long (stopped after %d million Lua instructions)", path, sb->line,
                        (int)(DATA_INSTRUCTION_LIMIT / 1000000));
        return;
    }
    const char *msg = lua_tostring(sb->S, -1);
    if (!msg) msg = "raised an error that is not a string";
    size_t plen = strlen(path);
    if (strncmp(msg, "cannot open ", 12) == 0 || strncmp(msg, "cannot read ", 12) == 0) {
        const char *rest = msg + 12;                  /* "cannot open PATH: reason" -> "PATH: cannot open: reason" */
        if (strncmp(rest, path, plen) == 0) rest += plen;
        if (strncmp(rest, ": ", 2) == 0) rest += 2;
        lua_pushfstring(L, "%s: cannot %s: %s", path, msg[7] == 'o' ? "open" : "read", rest);
    } else if (strncmp(msg, path, plen) == 0 && msg[plen] == ':') {
        lua_pushstring(L, msg);                       /* already "path:line: message" */
    } else {
        lua_pushfstring(L, "%s: %s", path, msg);
    }
}

/* tpp.load_data(path) -> table | nil, "path: reason" */
static int l_load_data(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    struct sandbox *sb = lua_newuserdatauv(L, sizeof *sb, 0);
    memset(sb, 0, sizeof *sb);
    luaL_setmetatable(L, SANDBOX_MT);
    lua_State *S = sb->S = lua_newstate(limited_alloc, sb);
    if (!S) return luaL_error(L, "tpp.load_data: not enough memory");
    lua_sethook(S, count_hook, LUA_MASKCOUNT, DATA_HOOK_STEP);
    lua_pushcfunction(S, run_file);
    lua_pushstring(S, path);
    int status = lua_pcall(S, 1, 1, 0);
    if (sb->interrupted) {
        close_sandbox(sb);
        return tpp_raise_interrupted(L);
    }
    if (status != LUA_OK) {
        push_failure(L, path, sb, status);
    } else if (!lua_istable(S, -1)) {
        lua_pushfstring(L, "%s: must return a table, returned %s", path, luaL_typename(S, -1));
    } else {
        const char *bad = copy_value(S, -1, L, 0);
        if (!bad) {
            close_sandbox(sb);
            return 1;                                 /* the copy */
        }
        lua_pushfstring(L, "%s: the returned table %s", path, bad);
    }
    close_sandbox(sb);                                /* the message on the stack top is L's own copy */
    return tpp_push_fail(L, "%s", lua_tostring(L, -1));
}

void tpp_lconfig_register(lua_State *L)
{
    luaL_newmetatable(L, SANDBOX_MT);
    lua_pushcfunction(L, sandbox_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
    lua_pushcfunction(L, l_load_data);
    lua_setfield(L, -2, "load_data");
}
