/* repl.c — the interactive loop of the `tpp` host: readline input with history and Tab completion, statements
 * and expressions as in Lua 5.4's own REPL (an expression prints its values; an error prints its message, bare,
 * and the loop goes on).  The Lua side of the session (loading the files of `tpp -i FILE ...`, help, the way
 * values are printed) is lua/tpp/repl.lua. */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#include <lauxlib.h>
#include <lua.h>

#include "lrun.h"
#include "ltpp.h"
#include "linterrupt.h"
#include "repl.h"
#include "version.h"

#define HISTORY_FILE ".tpp_history"
#define HISTORY_MAX 1000
#define PROMPT "> "
#define PROMPT2 "... "            /* continuation of an incomplete statement (lua's is ">> ") */
#define EOF_MARK "<eof>"          /* ends the syntax error of an incomplete chunk */
#define EOF_MARK_LEN (sizeof(EOF_MARK) - 1)

/* Print the error message on the stack top and pop it: bare (no program name), and without the traceback
 * tpp_run_chunk appended — in a session the message is what matters. */
static void print_error(lua_State *L)
{
    const char *msg = tpp_is_interrupted(L, -1) ? "interrupted" : lua_tostring(L, -1);
    if (msg == NULL)
        msg = "(error object is not a string)";
    const char *tb = strstr(msg, "\nstack traceback:\n");
    fprintf(stderr, "%.*s\n", tb ? (int)(tb - msg) : (int)strlen(msg), msg);
    fflush(stderr);
    lua_pop(L, 1);
}

/* ---- REPL: completion ---------------------------------------------------------------------------- */

static lua_State *repl_L;        /* the state completion looks into */
static char completions_key;     /* its address keys the current candidate list in the registry */

/* Is s[0..len) a Lua name (usable after `.` or `:`)? */
static int is_name(const char *s, size_t len)
{
    if (len == 0 || isdigit((unsigned char)s[0]))
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
            return 0;
    return 1;
}

/* Run protected (it may call __index): given the word being completed as a light userdata C string,
 * e.g. "string.fo" or "s:re", stores in registry[&completions_key] a sequence of full candidates
 * ("string.format", ...), with [0] = "." when the only candidate is a table, "(" when it is a function.
 * The path before the last `.`/`:` is resolved from the globals; the names offered are the string keys
 * of the value (if a table) and, followed a few levels, of its metatable's __complete table when there
 * is one (the names of a value whose __index is a function, such as a tpp result), else of its
 * metatable's __index table; only functions after `:`. */
static int collect_completions(lua_State *L)
{
    const char *word = lua_touserdata(L, 1);
    lua_pushnil(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &completions_key);
    const char *last = NULL;
    for (const char *p = word; *p; p++)
        if (*p == '.' || *p == ':')
            last = p;
    const char *partial = last ? last + 1 : word;
    size_t plen = strlen(partial);

    lua_newtable(L);                                   /* 2: set name -> is a table */
    lua_pushglobaltable(L);                            /* 3: the value being walked */
    for (const char *seg = word; last && seg <= last; ) {
        const char *end = seg + strcspn(seg, ".:");
        lua_pushlstring(L, seg, (size_t)(end - seg));
        if (lua_type(L, 3) == LUA_TNIL || lua_gettable(L, 3) == LUA_TNIL)
            return 0;
        lua_replace(L, 3);
        seg = end + 1;
    }
    for (int depth = 0; depth < 8; depth++) {
        if (lua_type(L, 3) == LUA_TTABLE) {
            for (lua_pushnil(L); lua_next(L, 3); lua_pop(L, 1)) {
                size_t klen;
                const char *k;
                if (lua_type(L, -2) != LUA_TSTRING)
                    continue;
                if (last && *last == ':' && lua_type(L, -1) != LUA_TFUNCTION)
                    continue;
                k = lua_tolstring(L, -2, &klen);
                if (klen >= plen && memcmp(k, partial, plen) == 0 && is_name(k, klen)) {
                    lua_pushvalue(L, -2);
                    lua_pushinteger(L, lua_type(L, -2));
                    lua_rawset(L, 2);
                }
            }
        }
        if (!lua_getmetatable(L, 3))
            break;
        if (lua_getfield(L, -1, "__complete") != LUA_TTABLE) {
            lua_pop(L, 1);
            if (lua_getfield(L, -1, "__index") != LUA_TTABLE)
                break;
        }
        lua_replace(L, 3);
        lua_settop(L, 3);
    }
    lua_settop(L, 2);
    lua_newtable(L);                                   /* the result */
    int n = 0, type = LUA_TNIL;
    for (lua_pushnil(L); lua_next(L, 2); lua_pop(L, 1)) {
        type = (int)lua_tointeger(L, -1);
        lua_pushlstring(L, word, (size_t)(partial - word));
        lua_pushvalue(L, -3);
        lua_concat(L, 2);
        lua_rawseti(L, -4, ++n);
    }
    if (n == 1 && (type == LUA_TTABLE || type == LUA_TFUNCTION)) {
        lua_pushstring(L, type == LUA_TTABLE ? "." : "(");
        lua_rawseti(L, -2, 0);
    }
    lua_rawsetp(L, LUA_REGISTRYINDEX, &completions_key);
    return 0;
}

/* Push candidate i of the current completion (nil when there is none). Cannot raise: no allocation. */
static int push_candidate(lua_State *L, lua_Integer i)
{
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &completions_key) != LUA_TTABLE)
        return LUA_TNIL;
    int type = lua_rawgeti(L, -1, i);
    lua_remove(L, -2);
    return type;
}

/* Run protected: inside a string literal, given the line before its opening quote and the quote's text
 * so far (light userdata C strings), stores in registry[&completions_key] the candidates
 * require("tpp.repl").complete_string(before, text) offers (column names after `:column(`, ...), with
 * [0] = the quote when there is one only.  Leaves nothing stored when it offers none (nil): the caller
 * then completes file names. */
static int collect_string_completions(lua_State *L)
{
    const char *before = lua_touserdata(L, 1), *text = lua_touserdata(L, 2);
    char quote[2] = { before[strlen(before) - 1], '\0' };
    lua_pushnil(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &completions_key);
    lua_getglobal(L, "require");
    lua_pushliteral(L, "tpp.repl");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "complete_string");
    lua_pushlstring(L, before, strlen(before) - 1);
    lua_pushstring(L, text);
    lua_call(L, 2, 1);
    if (lua_type(L, -1) != LUA_TTABLE)
        return 0;
    if (luaL_len(L, -1) == 1) {
        lua_pushstring(L, quote);
        lua_rawseti(L, -2, 0);
    }
    lua_rawsetp(L, LUA_REGISTRYINDEX, &completions_key);
    return 0;
}

static const char *string_before; /* the line up to an opening quote when completing inside a string */

/* readline generator: on state 0 computes the candidates for text; returns them one per call as
 * malloc'd strings (readline frees them), then NULL. All Lua work that may raise is protected. */
static char *completion_generator(const char *text, int state)
{
    static lua_Integer next;
    lua_State *L = repl_L;
    int top = lua_gettop(L);
    char *result = NULL;
    if (state == 0) {
        if (string_before) {
            lua_pushcfunction(L, collect_string_completions);
            lua_pushlightuserdata(L, (void *)string_before);
            lua_pushlightuserdata(L, (void *)text);
            lua_pcall(L, 2, 0, 0);      /* on error there are simply no candidates */
        } else {
            lua_pushcfunction(L, collect_completions);
            lua_pushlightuserdata(L, (void *)text);
            lua_pcall(L, 1, 0, 0);
        }
        next = 1;
    }
    if (push_candidate(L, next++) == LUA_TSTRING)
        result = strdup(lua_tostring(L, -1));
    lua_settop(L, top);
    return result;
}

#define WORD_BREAKS " \t\n\"'`@$><=;|&{}()[]+-*/%^~#,"

/* The index of the opening quote of the string literal that line[0..end) ends inside, or -1 (also after a
 * comment's "--"). */
static int open_quote(const char *line, int end)
{
    int quote = -1;
    for (int i = 0; i < end; i++) {
        char c = line[i];
        if (quote >= 0) {
            if (c == '\\')
                i++;
            else if (c == line[quote])
                quote = -1;
        } else if (c == '"' || c == '\'') {
            quote = i;
        } else if (c == '-' && i + 1 < end && line[i + 1] == '-') {
            return -1;
        }
    }
    return quote;
}

/* rl_completion_word_break_hook: inside a string the word is everything after the opening quote, so that a
 * path ("data/sa) is completed whole; elsewhere Lua's operators and brackets break words. */
static char *word_breaks(void)
{
    static char lua_breaks[] = WORD_BREAKS, string_breaks[] = "\"'";
    return open_quote(rl_line_buffer, rl_point) >= 0 ? string_breaks : lua_breaks;
}

/* The text of a Lua string literal's body as typed (escapes undone: "a\\"b" -> a"b), to look files up with. */
static char *lua_unescape(const char *s)
{
    char *out = malloc(strlen(s) + 1), *o = out;
    if (!out) return NULL;
    while (*s) {
        if (*s != '\\' || !s[1]) { *o++ = *s++; continue; }
        s++;
        if (isdigit((unsigned char)*s)) {
            int v = 0;
            for (int k = 0; k < 3 && isdigit((unsigned char)*s); k++) v = v * 10 + (*s++ - '0');
            *o++ = (char)v;
            continue;
        }
        const char *from = "ntr", *to = "\n\t\r";
        const char *at = strchr(from, *s);
        *o++ = at ? to[at - from] : *s;
        s++;
    }
    *o = '\0';
    return out;
}

/* A file name as the body of a Lua string literal closed by `quote`: backslashes, that quote and control
 * characters escaped, so that a completed name is always data, never code ("x\"..os.execute'...'.." stays
 * inside the string). */
static char *lua_escape(const char *s, char quote)
{
    char *out = malloc(4 * strlen(s) + 1), *o = out;
    if (!out) return NULL;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\\' || c == (unsigned char)quote) {
            *o++ = '\\';
            *o++ = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            o += sprintf(o, "\\%03d", c);
        } else {
            *o++ = (char)c;
        }
    }
    *o = '\0';
    return out;
}

/* readline completion entry.  Outside strings: Lua names, a unique match followed by "." when it is a
 * table, by "(" when it is a function.  Inside a string: what tpp.repl.complete_string offers for the
 * call it is an argument of (column names, port series...; a unique match closed by the quote), else
 * file names. */
static char **complete(const char *text, int start, int end)
{
    (void)end;
    rl_attempted_completion_over = 1;
    rl_completion_append_character = '\0';
    char *before = NULL;
    if (start > 0 && (rl_line_buffer[start - 1] == '"' || rl_line_buffer[start - 1] == '\''))
        before = strndup(rl_line_buffer, (size_t)start);
    string_before = before;
    char **matches = rl_completion_matches(text, completion_generator);
    int top = lua_gettop(repl_L);
    if (before && !matches && lua_rawgetp(repl_L, LUA_REGISTRYINDEX, &completions_key) != LUA_TTABLE) {
        char quote = before[start - 1];
        string_before = NULL;
        free(before);
        lua_settop(repl_L, top);
        /* a file: the path inside the string; a unique regular file closes the string (directories get "/") */
        char *typed = lua_unescape(text);
        matches = typed ? rl_completion_matches(typed, rl_filename_completion_function) : NULL;
        free(typed);
        struct stat st;
        if (matches && matches[1] == NULL && stat(matches[0], &st) == 0 && !S_ISDIR(st.st_mode))
            rl_completion_append_character = quote;
        for (int i = 0; matches && matches[i]; i++) {   /* inserted into the string: escaped as its text */
            char *escaped = lua_escape(matches[i], quote);
            if (escaped) {
                free(matches[i]);
                matches[i] = escaped;
            }
        }
        return matches;
    }
    if (matches && matches[1] == NULL && push_candidate(repl_L, 0) == LUA_TSTRING)
        rl_completion_append_character = lua_tostring(repl_L, -1)[0];
    lua_settop(repl_L, top);
    string_before = NULL;
    free(before);
    return matches;
}

/* ---- REPL: input --------------------------------------------------------------------------------- */

static char history_path[4096];  /* empty: no persistent history */

/* Ctrl-C at the prompt discards what is being typed (the whole statement, at a continuation prompt) and shows
 * a new prompt; only end of input (Ctrl-D) leaves, as in Python.  Readline's own signal handling is off: this
 * handler, installed without SA_RESTART while readline() waits, sets a flag, and read_key() ends the line. */
static volatile sig_atomic_t prompt_interrupted;

static void on_prompt_sigint(int sig)
{
    (void)sig;
    prompt_interrupted = 1;
}

/* rl_getc_function: one byte of input.  On a Ctrl-C it shows "^C", empties the line and ends readline as at
 * end of input (the caller knows better from the flag); readline's other signals (a resized terminal) are
 * handled as readline's own getc would. */
static int read_key(FILE *in)
{
    for (;;) {
        if (prompt_interrupted) {
            rl_point = rl_end;             /* "^C" after what was typed, then an empty line ends readline */
            rl_redisplay();
            fputs("^C", rl_outstream);    /* readline adds the newline of end of input */
            rl_end = rl_point = 0;
            rl_line_buffer[0] = '\0';
            return EOF;
        }
        unsigned char c;
        ssize_t n = read(fileno(in), &c, 1);
        if (n == 1)
            return c;
        if (n == 0 || errno != EINTR)
            return EOF;
        rl_check_signals();
    }
}

/* readline() with Ctrl-C handled as above: returns the line (malloc'd), NULL at end of input, and sets
 * *interrupted when a Ctrl-C discarded the line. */
static char *read_line(const char *prompt, int *interrupted)
{
    prompt_interrupted = 0;   /* a Ctrl-C between two prompts (the handler stays for the session) is dropped */
    char *line = readline(prompt);
    *interrupted = prompt_interrupted;
    prompt_interrupted = 0;
    return line;
}

/* Set up readline: completion, and, when stdin is a terminal, history loaded from
 * $HOME/.tpp_history (created if missing). History problems are silently ignored. */
static void repl_init(lua_State *L)
{
    repl_L = L;
    rl_readline_name = PROGNAME;
    rl_completer_word_break_characters = WORD_BREAKS;
    rl_completion_word_break_hook = word_breaks;
    rl_attempted_completion_function = complete;
    rl_catch_signals = 0;
    rl_getc_function = read_key;
    /* Ctrl-C at the prompt discards the line; while a chunk runs, tpp_interrupt_arm replaces this handler and
     * tpp_interrupt_disarm puts it back, so that no Ctrl-C in between ends the session. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_prompt_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    stifle_history(HISTORY_MAX);
    const char *home = getenv("HOME");
    int n = home && home[0] ? snprintf(history_path, sizeof history_path, "%s/%s", home, HISTORY_FILE) : -1;
    if (!isatty(STDIN_FILENO) || n < 0 || n >= (int)sizeof history_path) {
        history_path[0] = '\0';
        return;
    }
    if (read_history(history_path) != 0)
        write_history(history_path);
}

/* Trim the history file to its last HISTORY_MAX lines. */
static void repl_finish(void)
{
    if (history_path[0])
        history_truncate_file(history_path, HISTORY_MAX);
}

enum { LINE_EOF = 0, LINE_READ = 1, LINE_INTERRUPTED = 2 };

/* Read one line with the prompt _PROMPT (first) or _PROMPT2 (continuation) when that global is a
 * string or number, else PROMPT / PROMPT2; globals are read raw so that a hostile _G cannot raise
 * outside a protected call. Non-empty lines go to the history, appended to the file at once so that
 * os.exit loses nothing. Pushes the line and returns LINE_READ, or returns LINE_EOF at end of input,
 * LINE_INTERRUPTED (nothing pushed) when Ctrl-C discarded the line. */
static int repl_readline(lua_State *L, int first)
{
    int top = lua_gettop(L);
    lua_pushglobaltable(L);
    lua_pushstring(L, first ? "_PROMPT" : "_PROMPT2");
    lua_rawget(L, -2);
    const char *prompt = lua_isstring(L, -1) ? lua_tostring(L, -1) : first ? PROMPT : PROMPT2;
    int interrupted;
    char *line = read_line(prompt, &interrupted);
    lua_settop(L, top);
    if (interrupted) {
        free(line);
        return LINE_INTERRUPTED;
    }
    if (line == NULL)
        return LINE_EOF;
    if (line[0] != '\0') {
        add_history(line);
        if (history_path[0])
            append_history(1, history_path);
    }
    lua_pushstring(L, line);
    free(line);
    return LINE_READ;
}

/* Is the load status/message on the stack top a syntax error only because the chunk is unfinished? */
static int incomplete(lua_State *L, int status)
{
    size_t len;
    const char *msg = lua_tolstring(L, -1, &len);
    return status == LUA_ERRSYNTAX && len >= EOF_MARK_LEN
           && strcmp(msg + len - EOF_MARK_LEN, EOF_MARK) == 0;
}

#define LOAD_EOF (-1)
#define LOAD_INTERRUPTED (-2)

/* Read and compile one statement: first as "return <line>" so expressions print their values, else
 * as a statement, reading continuation lines while it is incomplete. Returns LOAD_EOF at end of input,
 * LOAD_INTERRUPTED when Ctrl-C discarded the statement (the stack as it was), else the load status with
 * the function (or error message) pushed. */
static int repl_load(lua_State *L)
{
    int top = lua_gettop(L);
    int got = repl_readline(L, 1);
    if (got != LINE_READ)
        return got == LINE_EOF ? LOAD_EOF : LOAD_INTERRUPTED;
    const char *line = lua_tostring(L, -1);
    const char *ret = lua_pushfstring(L, "return %s", line);
    int status = luaL_loadbuffer(L, ret, strlen(ret), "=stdin");
    if (status == LUA_OK) {
        lua_remove(L, -2);                  /* the "return" string */
        lua_remove(L, -2);                  /* the line */
        return status;
    }
    lua_pop(L, 2);
    for (;;) {                              /* the source so far is on the top */
        size_t len;
        const char *code = lua_tolstring(L, -1, &len);
        status = luaL_loadbuffer(L, code, len, "=stdin");
        if (!incomplete(L, status))
            break;
        got = repl_readline(L, 0);
        if (got == LINE_INTERRUPTED) {
            lua_settop(L, top);
            return LOAD_INTERRUPTED;
        }
        if (got == LINE_EOF)
            break;
        lua_remove(L, -2);                  /* the error message */
        lua_pushliteral(L, "\n");
        lua_insert(L, -2);
        lua_concat(L, 3);
    }
    lua_remove(L, -2);                      /* the source */
    return status;
}

static char printer_key;         /* registry[&printer_key]: the function values are printed with */

/* Print the values on the stack with the session's printer (tpp.repl.show), else with the global print
 * (read raw); an error doing so is reported. */
static void repl_print(lua_State *L)
{
    int n = lua_gettop(L);
    if (n == 0)
        return;
    luaL_checkstack(L, LUA_MINSTACK, "too many results to print");
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &printer_key) != LUA_TFUNCTION) {
        lua_pop(L, 1);
        lua_pushglobaltable(L);
        lua_pushliteral(L, "print");
        lua_rawget(L, -2);
        lua_remove(L, -2);
    }
    lua_insert(L, 1);
    if (lua_pcall(L, n, 0, 0) != LUA_OK)
        fprintf(stderr, "error calling 'print' (%s)\n", lua_tostring(L, -1));
}

/* Start the Lua side of the session: require("tpp.repl").start(files) sets the globals tpp and help, loads
 * the files and returns the printer.  An error is reported and the session goes on without it. */
static void repl_start(lua_State *L, char **files, int nfiles)
{
    static const char code[] = "return require('tpp.repl').start({...})";
    int status = luaL_loadbuffer(L, code, sizeof code - 1, "=tpp.repl");
    if (status == LUA_OK) {
        luaL_checkstack(L, nfiles, "too many files");
        for (int i = 0; i < nfiles; i++)
            lua_pushstring(L, files[i]);
        status = tpp_run_chunk(L, nfiles, 1);
    }
    if (status != LUA_OK) {
        print_error(L);
        return;
    }
    lua_rawsetp(L, LUA_REGISTRYINDEX, &printer_key);
}

/* The interactive loop, until end of input. Errors are printed without the program name. */
void tpp_repl(lua_State *L, char **files, int nfiles)
{
    repl_init(L);
    int status;
    lua_settop(L, 0);
    repl_start(L, files, nfiles);
    lua_settop(L, 0);
    while ((status = repl_load(L)) != LOAD_EOF) {
        if (status == LOAD_INTERRUPTED)
            continue;
        if (status == LUA_OK)
            status = tpp_run_chunk(L, 0, LUA_MULTRET);
        if (status == LUA_OK)
            repl_print(L);
        else
            print_error(L);
        lua_settop(L, 0);
    }
    repl_finish();
    fputs("\n", stdout);
    fflush(stdout);
}


int tpp_repl_is_data(lua_State *L, const char *path)
{
    static const char code[] = "return require('tpp.repl').is_data(...)";
    int top = lua_gettop(L);
    int yes = 0;
    if (luaL_loadbuffer(L, code, sizeof code - 1, "=tpp.repl") == LUA_OK) {
        lua_pushstring(L, path);
        if (lua_pcall(L, 1, 1, 0) == LUA_OK)
            yes = lua_toboolean(L, -1);
    }
    lua_settop(L, top);
    return yes;
}
