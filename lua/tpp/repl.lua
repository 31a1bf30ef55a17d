-- tpp.repl: the Lua side of the interactive session (src/repl.c runs the loop, readline and completion).
--
--   tpp -i trace.pcap.gz mem_dump/other.tpd
--   trace = tpp.result: trace.pcap.gz, 2023-01-26 05:00:00–05:15:00 UTC, 90 intervals of 10 s, ...
--   other = tpp.result: ...
--   > help()
--
--   tpp -i -t 1 --ip v4 data/          (parse options for the captures; a directory loads every capture and dump)
--
-- repl.start(args) is called by the host before the first prompt: it sets the globals `tpp` and `help`, reads
-- the parse options among args (repl.parse_args), loads each file (a dump with tpp.load, a capture with
-- tpp.parse and the options; a directory: every capture and dump under it, walked as the main job walks) into a
-- global named after it (repl.global_name), prints a summary line for each, and returns repl.show, the function
-- the loop prints values with.  repl.is_data(path) tells the host whether `tpp -i PATH ...` names data to load
-- rather than a script to run.

local lfs = require "lfs"
local tpp = require "tpp"
local walk = require "tpp.walk"
local result = require "tpp.result"

local repl = {}

local KEYWORDS = {}
for word in ([[and break do else elseif end false for function goto if in local nil not or repeat return then
               true until while]]):gmatch("%a+") do KEYWORDS[word] = true end

-- Is `path` a capture or a dump (by its first bytes), or named like one (.pcap, .pcapng, .cap, .gz, .zst, .xz, .tpd) — so
-- that a missing or damaged data file is reported as such rather than run as a Lua script?
function repl.is_data(path)
  if result.kind(path) or lfs.attributes(path, "mode") == "directory" then return true end
  local name = path:lower()
  for _, ext in ipairs { "%.pcap$", "%.pcapng$", "%.cap$", "%.gz$", "%.zst$", "%.xz$", "%.tpd$" } do
    if name:find(ext) then return true end
  end
  return false
end

-- The global a file is loaded into: its stem (walk.stem, without a .tpd extension) with every character that
-- cannot be in a Lua name replaced by "_", "_" before a leading digit, "_" after a keyword; "_2", "_3"... appended
-- while the name is taken (a global that is not nil, or a name in `used`).
function repl.global_name(path, used)
  local name = walk.stem(path):gsub("%.tpd$", ""):gsub("[^%w_]", "_")
  if name == "" then name = "_" end
  if name:find("^%d") then name = "_" .. name end
  if KEYWORDS[name] then name = name .. "_" end
  used = used or {}
  local base, k = name, 1
  while rawget(_G, name) ~= nil or used[name] do
    k = k + 1
    name = base .. "_" .. k
  end
  used[name] = true
  return name
end

-- A progress callback for tpp.parse that redraws "parsing NAME: 42 %" on stderr when it is a terminal.
local function progress_for(path)
  local isatty = tpp.isatty
  if not (isatty and isatty(io.stderr)) then return nil end
  local shown = false
  return function(done, size, packets)
    local pct = size > 0 and ("%3d %%"):format(100 * done // size) or ""
    io.stderr:write(("\rparsing %s: %s  %d packets "):format(walk.printable(path), pct, packets))
    shown = true
  end, function()
    if shown then io.stderr:write("\r\27[K") end
  end
end

-- The parse options `tpp -i` takes, by their command-line names (those of scripts/exec.lua), and the usage line.
local OPTIONS = {
  ["-t"] = "delta_t", ["--delta-t"] = "delta_t", ["--boundary"] = "boundary", ["--ip"] = "ip",
  ["--filter"] = "filter", ["--max-packets"] = "max_packets", ["--max-intervals"] = "max_intervals",
  ["--anchor"] = "anchor", ["--max-gap"] = "max_gap", ["--keep-tables"] = "keep_tables",
  ["--features"] = "features", ["--flow-timeout"] = "flow_timeout", ["--heavy-hitters"] = "heavy_hitters",
  ["--hhh-phi"] = "hhh_phi", ["--encap"] = "encap",
}
local NUMBERS = { delta_t = true, max_packets = true, max_intervals = true, max_gap = true, flow_timeout = true,
                  heavy_hitters = true, hhh_phi = true }
repl.USAGE = "usage: tpp -i [-t SEC] [--boundary aligned|packet] [--anchor epoch|first] [--ip any|v4|v6] "
  .. "[--filter EXPR] [--max-packets N] [--max-intervals N] [--max-gap SEC] [--keep-tables edges|all] "
  .. "[--features LIST] [--flow-timeout SEC] [--heavy-hitters K] [--hhh-phi F] [--encap outer|inner] [FILE|DIR ...]"

-- Split the arguments of `tpp -i` into the paths to load and the options of tpp.parse (nil when none); "--" ends
-- the options, "--name=value" is accepted.  Returns paths, opts, or nil and what is wrong.
function repl.parse_args(args)
  local paths, opts, i = {}, {}, 1
  while i <= #args do
    local a = args[i]
    local name, value = a:match("^(%-%-[%w-]+)=(.*)$")
    name = name or a
    if a == "--" then
      table.move(args, i + 1, #args, #paths + 1, paths)
      break
    elseif OPTIONS[name] then
      if not value then
        i = i + 1
        value = args[i]
        if value == nil then return nil, ("option %s needs a value"):format(name) end
      end
      local key = OPTIONS[name]
      if NUMBERS[key] then
        local n = tonumber(value)
        if not n then return nil, ("option %s must be a number, got '%s'"):format(name, value) end
        value = math.tointeger(n) or n
      end
      opts[key] = value
    elseif a:match("^%-.") then
      return nil, ("unknown option '%s'"):format(a)
    else
      paths[#paths + 1] = a
    end
    i = i + 1
  end
  if next(opts) == nil then return paths, nil end
  -- a bad filter would fail every file alike: a usage error, said once (as in the main job)
  if opts.filter and opts.filter ~= "" then
    local good, why = tpp.check_filter(opts.filter)
    if not good then return nil, why end
  end
  -- tpp.parse checks its options before it opens anything: a bad value raises here, once, with its reason
  local ok, err = pcall(tpp.parse, "", opts)
  if not ok then return nil, (tostring(err):gsub("^[^:]*:%d+: ", "")) end
  return paths, opts
end

-- The files to load for `paths`: files as given; for a directory, every capture and dump under it in name order.
local function expand(paths)
  local files = {}
  for _, path in ipairs(paths) do
    if lfs.attributes(path, "mode") == "directory" then
      local found, skipped = walk.captures { path }
      for _, s in ipairs(skipped) do
        if s.missing then          -- unreadable, a dangling link...: said, as a file named alone would be
          io.stderr:write("tpp: ", walk.printable(s.reason), "\n")
        elseif not s.stream and result.kind(s.path) == "dump" then
          found[#found + 1] = s.path
        end
      end
      table.sort(found)
      table.move(found, 1, #found, #files + 1, files)
      if #found == 0 then io.stderr:write("tpp: ", walk.printable(path), ": no capture or dump in this directory\n") end
    else
      files[#files + 1] = path
    end
  end
  return files
end

-- Load every file into its global, printing "name = summary" (or "tpp: path: reason").  opts: tpp.parse's
-- options for the captures (a dump keeps those it was made with).  Returns the names of the globals set.
function repl.load_files(files, opts)
  local used, loaded = {}, {}
  for _, path in ipairs(files) do
    local name = repl.global_name(path, used)
    local progress, clear = nil, nil
    local dump = result.kind(path) == "dump"
    if not dump then progress, clear = progress_for(path) end
    local ok, r, err = pcall(tpp.open, path, not dump and opts or nil, progress)
    if clear then clear() end
    if not ok and tpp.interrupted(r) then error(r, 0) end -- Ctrl-C: the session starts with what is loaded
    if not ok then r, err = nil, tostring(r) end
    if r then
      rawset(_G, name, r)
      loaded[#loaded + 1] = name
      io.stdout:write(name, " = ", tostring(r), "\n")
    else
      used[name] = nil
      io.stderr:write("tpp: ", walk.printable(err), "\n")
    end
  end
  io.stdout:flush()
  io.stderr:flush()
  return loaded
end

-- The line that offers tpp.merge when several results are loaded (nil otherwise): pieces of one trace, or days
-- of one link, are one series once merged.
function repl.merge_hint(names)
  if #names < 2 then return nil end
  local list = #names <= 6 and table.concat(names, ", ")
    or (table.concat(names, ", ", 1, 3) .. ", --[[ " .. (#names - 4) .. " more ]] " .. names[#names])
  return ("series = tpp.merge{%s} merges them into one series (in any order; help(\"merge\") says when it can)")
    :format(list)
end

function repl.start(args)
  local paths, opts = repl.parse_args(args or {})
  if not paths then
    io.stderr:write("tpp: ", opts, "\n", repl.USAGE, "\n")
    os.exit(2)
  end
  rawset(_G, "tpp", tpp)
  rawset(_G, "help", require("tpp.help").print)
  local hint = repl.merge_hint(repl.load_files(expand(paths), opts))
  if hint then io.stdout:write(hint, "\n") end
  io.stdout:write("help() lists what is loaded and what you can do with it.\n")
  io.stdout:flush()
  return repl.show
end

---------------------------------------------------------------------------------------------------------------
-- Completion inside strings
---------------------------------------------------------------------------------------------------------------

-- What the string argument of a method or function names.
local function columns() return require("tpp.core")._meta.columns end
local function series()
  local names = require("tpp.core").series   -- C's list; a copy, as completion may reorder what it gets
  return table.move(names, 1, #names, 1, {})
end
local function help_names()
  local names, docs = {}, require("tpp.help").docs
  for _, list in pairs(docs) do
    for _, e in ipairs(list) do if e[1]:find("^[%a_]") then names[#names + 1] = e[1] end end
  end
  return names
end
local function hh_dims() return table.move(require("tpp.core").hh_dims, 1, #require("tpp.core").hh_dims, 1, {}) end
local STRING_ARGS = {
  column = columns, top_ports = series, port_entropy = series, ports = series, distinct_ports = series,
  port_series = series, heavy_hitters = hh_dims, help = help_names,
}

-- Candidates for a string being typed: `before` is the line up to (not including) its opening quote, `text` what
-- follows the quote.  Returns the names that start with text when the string is the first argument of a call that
-- takes a name (r:column, r:top_ports, r:port_entropy, r:ports, r:distinct_ports, r:port_series,
-- r:heavy_hitters, help), else nil (the REPL then completes file names).
function repl.complete_string(before, text)
  local fn = before:match("([%a_][%w_]*)%s*%(%s*$")
  local names = fn and STRING_ARGS[fn]
  if not names then return nil end
  local seen, out = {}, {}
  for _, name in ipairs(names()) do
    if name:sub(1, #text) == text and not seen[name] then seen[name] = true; out[#out + 1] = name end
  end
  table.sort(out)
  return out
end

---------------------------------------------------------------------------------------------------------------
-- Printing values
---------------------------------------------------------------------------------------------------------------

local MAX_ITEMS = 30     -- elements of a table shown before "..."

local function is_identifier(s)
  return type(s) == "string" and s:find("^[%a_][%w_]*$") ~= nil and not KEYWORDS[s]
end

-- A value as the REPL shows it: tpp objects and values with __tostring by tostring, plain tables as constructors
-- ({ 1, 2, 3 }, { name = value }) down to `depth` levels, strings quoted inside tables.
function repl.repr(v, depth, inside)
  local t = type(v)
  if t == "string" then return inside and (("%q"):format(v):gsub("\\\n", "\\n")) or v end
  if t ~= "table" then return tostring(v) end
  local mt = getmetatable(v)
  if mt and (mt.__tostring or mt.__name) then return tostring(v) end
  depth = depth or 2
  if depth == 0 then return "{...}" end
  local parts, n = {}, #v
  for i = 1, math.min(n, MAX_ITEMS) do parts[#parts + 1] = repl.repr(v[i], depth - 1, true) end
  local keys = {}
  for k in pairs(v) do
    if not (math.type(k) == "integer" and k >= 1 and k <= n) then keys[#keys + 1] = k end
  end
  table.sort(keys, function(a, b)
    if type(a) == type(b) and (type(a) == "string" or type(a) == "number") then return a < b end
    return type(a) < type(b)
  end)
  for i = 1, math.min(#keys, MAX_ITEMS - #parts) do
    local k = keys[i]
    local key = is_identifier(k) and k or ("[" .. repl.repr(k, 0, true) .. "]")
    parts[#parts + 1] = key .. " = " .. repl.repr(v[k], depth - 1, true)
  end
  local more = n + #keys - #parts
  if more > 0 then parts[#parts + 1] = ("... (%d more)"):format(more) end
  if #parts == 0 then return "{}" end
  return "{ " .. table.concat(parts, ", ") .. " }"
end

-- Print the results of an expression: tab-separated, or one per line when one of them spans several lines.
function repl.show(...)
  local n = select("#", ...)
  local texts, multiline = {}, false
  for i = 1, n do
    texts[i] = repl.repr((select(i, ...)))
    multiline = multiline or texts[i]:find("\n", 1, true) ~= nil
  end
  io.stdout:write(table.concat(texts, multiline and "\n" or "\t"), "\n")
  io.stdout:flush()
end

return repl
