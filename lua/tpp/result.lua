-- tpp.result: the Lua half of the result type — selections (r:slice, r:where), readable string forms of results,
-- interval records and top-port lists, completion names for the REPL, and tpp.open / tpp.type.
--
-- The C half (lresult.c) creates the metatables, exposes them as core._meta and loads this module before it makes
-- its first result, so a result always has both halves, whether the script required "tpp" or only "tpp.core".
-- What lives here and why: the string forms (the type's only __tostring) need dates, number formatting and
-- column statistics, which are Lua; r:slice and r:where take times and predicates and only choose indices for
-- the C copy r:select; r:select, r:interval and r:index are wrapped here to remember which interval of the
-- original result a selection's interval is.  Everything that loops over packets, intervals or ports is C.
-- register() at the end is the one place that adds to the type.

local core = require "tpp.core"
local column = require "tpp.column"
local walk = require "tpp.walk"
local score = require "tpp.score"

local meta = core._meta
local methods = meta.result_methods
local M = {}

---------------------------------------------------------------------------------------------------------------
-- Times
---------------------------------------------------------------------------------------------------------------

-- Epoch seconds t split into whole seconds and `digits` decimal digits of the fraction, rounded to the digits
-- shown (carrying into the seconds).  t - floor(t) is exact, so the digits are as good as t itself.
local function split_seconds(t, digits)
  local s = math.floor(t)
  local scale = 10 ^ digits
  local units = math.floor((t - s) * scale + 0.5)
  if units >= scale then s, units = s + 1, 0 end
  return math.tointeger(s) or s, math.tointeger(units) or 0
end

-- os.date in UTC, with a clear error for the times it cannot represent, raised at `level` (1 is this function).
local function utc_date(fmt, s, level)
  local ok, text = pcall(os.date, "!" .. fmt, s)
  if ok and type(text) == "string" then return text end
  local spec = not ok and tostring(text):match("invalid conversion specifier '.-'")
  if spec then error(("bad argument #2 to 'utc' (%s)"):format(spec), level) end
  error(("bad argument #1 to 'utc' (%s seconds is not a time the C library can show)"):format(tostring(s)), level)
end

-- Epoch seconds as "YYYY-MM-DD HH:MM:SS" (UTC), with `decimals` digits of the second when asked; an error is
-- raised at `level` (default 2: the caller).
function M.utc(t, decimals, level)
  decimals = decimals or 0
  local s, frac = split_seconds(t, decimals)
  local text = utc_date("%Y-%m-%d %H:%M:%S", s, (level or 2) + 1)
  if decimals > 0 then text = text .. ("." .. "%0" .. decimals .. "d"):format(frac) end
  return text
end

-- tpp.utc(t [, fmt]) -> text: epoch seconds as a UTC date and time.  fmt is the number of digits of the second
-- (0 to 9, default 3: "2023-01-01 00:00:10.250"), or an os.date format (always UTC) in which "%f" is the fraction
-- of the second in microseconds (6 digits, as in Python's strftime) and "%1f" .. "%9f" that many digits.  The
-- time is rounded to the last digit shown.
function M.format_utc(t, fmt)
  if type(t) ~= "number" or t ~= t or t == math.huge or t == -math.huge then
    error(("bad argument #1 to 'utc' (epoch seconds expected, got %s)"):format(
          type(t) == "number" and tostring(t) or type(t)), 2)
  end
  if fmt == nil then fmt = 3 end
  if math.type(fmt) == "integer" then
    if fmt < 0 or fmt > 9 then error("bad argument #2 to 'utc' (digits of the second from 0 to 9 expected)", 2) end
    return M.utc(t, fmt, 3)
  end
  if type(fmt) ~= "string" then
    error(("bad argument #2 to 'utc' (a number of digits or a format string expected, got %s)"):format(type(fmt)), 2)
  end
  -- The digits the format shows: the largest %Nf (a format without one is rounded to whole seconds).
  local digits = 0
  for pct, d in fmt:gmatch("(%%+)(%d?)f") do
    if #pct % 2 == 1 then digits = math.max(digits, d == "" and 6 or tonumber(d)) end
  end
  local s, units = split_seconds(t, digits)
  local expanded = fmt:gsub("%%(%d?)(.)", function(d, c)
    if c == "f" then
      local n = d == "" and 6 or tonumber(d)
      if n == 0 then error("bad argument #2 to 'utc' (%0f: a fraction needs 1 to 9 digits)", 4) end
      return ("%0" .. n .. "d"):format(units // 10 ^ (digits - n) | 0)
    end
    if d ~= "" then error(("bad argument #2 to 'utc' (unknown conversion '%%%s%s')"):format(d, c), 4) end
    return nil                                        -- "%%" and os.date's own conversions stay as they are
  end)
  return utc_date(expanded, s, 3)
end

-- "2023-01-26 05:00:00–05:15:00 UTC", the end's date repeated only when it differs.
function M.span(t1, t2, decimals)
  local a, b = M.utc(t1, decimals), M.utc(t2, decimals)
  if a:sub(1, 10) == b:sub(1, 10) then b = b:sub(12) end
  return a .. "–" .. b .. " UTC"
end

local MONTHS = { "January", "February", "March", "April", "May", "June", "July", "August", "September",
                 "October", "November", "December" }

local function days_in_month(y, mo)
  if mo == 2 then return (y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0)) and 29 or 28 end
  return ({ 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 })[mo]
end

-- A time argument: epoch seconds, or a UTC date "YYYY-MM-DD[ HH:MM[:SS[.frac]]]" (also with a "T", and a final
-- "Z").  Anything else, and dates or times that do not exist ("2023-02-30", "25:00"), raise an error naming the
-- argument.
function M.parse_time(t, argn, fname)
  local function bad(why)
    error(("bad argument #%d to '%s' (%s)"):format(argn, fname, why), 4)
  end
  if type(t) == "number" then
    if t ~= t then bad("a time expected, got NaN") end
    return t
  end
  if type(t) == "string" then
    local y, mo, d, rest = t:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)(.*)$")
    local h, mi, s = "0", "0", "0"
    if rest and rest ~= "" then
      local tail
      h, mi, tail = rest:match("^[ T](%d%d):(%d%d)(.-)Z?$")
      if tail and tail ~= "" then s = tail:match("^:(%d%d%.?%d*)$") end
    end
    if y and h and s and tonumber(s) then
      y, mo, d, h, mi, s = tonumber(y), tonumber(mo), tonumber(d), tonumber(h), tonumber(mi), tonumber(s)
      if mo < 1 or mo > 12 then bad(("no such date '%s': months go from 01 to 12"):format(t)) end
      local ndays = days_in_month(y, mo)
      if d < 1 or d > ndays then
        bad(("no such date '%s': %s %d has %d days"):format(t, MONTHS[mo], y, ndays))
      end
      if h > 23 then bad(("no such time '%s': hours go from 00 to 23"):format(t)) end
      if mi > 59 then bad(("no such time '%s': minutes go from 00 to 59"):format(t)) end
      if s >= 60 then bad(("no such time '%s': seconds go from 00 to 59"):format(t)) end
      -- Days since the epoch by the proleptic Gregorian calendar (no time zone involved).
      if mo <= 2 then y = y - 1 end
      local era = y // 400
      local yoe = y - era * 400
      local doy = (153 * (mo + (mo > 2 and -3 or 9)) + 2) // 5 + d - 1
      local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
      local days = era * 146097 + doe - 719468
      return days * 86400 + h * 3600 + mi * 60 + s
    end
  end
  bad(("epoch seconds or a UTC date \"YYYY-MM-DD HH:MM:SS\" expected, got %s")
      :format(type(t) == "string" and ("'" .. t .. "'") or type(t)))
end

---------------------------------------------------------------------------------------------------------------
-- Selections
---------------------------------------------------------------------------------------------------------------

-- Where the intervals of a selection came from: origin[selection][k] is the index of its k-th interval in the
-- result that was parsed or loaded (selections of selections are resolved to it).  Weak keys: it goes with the
-- selection.  A parsed or loaded result has no entry (its own indices).
local origin = setmetatable({}, { __mode = "k" })

local function check_index(r, i, argn, fname)
  local n = type(i) == "number" and math.tointeger(i) -- 2.0 is 2, as for Lua's own functions and the C methods
  if not n or n < 1 or n > #r then
    error(("bad argument #%d to '%s' (an interval index from 1 to %d expected, got %s)")
          :format(argn, fname, #r, math.type(i) and tostring(i) or type(i)), 3)
  end
  return n
end

local c_select, c_interval = methods.select, methods.interval

-- r:select(indices) -> the intervals at the given 1-based indices (the C copy), remembering where they came from.
local function select_intervals(r, indices)
  local out = c_select(r, indices)
  local from, map = origin[r], {}
  for k = 1, #out do
    local i = math.tointeger(indices[k])
    map[k] = from and from[i] or i
  end
  origin[out] = map
  return out
end

-- r:index(i) -> the index of interval i in the result the selection was taken from (i itself for a parsed or
-- loaded result); r:index() -> a column of them all.
local function index_of(r, i)
  local from = origin[r]
  if i == nil then
    local out = {}
    for k = 1, #r do out[k] = from and from[k] or k end
    return column.new(out)
  end
  i = check_index(r, i, 1, "index")
  return from and from[i] or i
end

-- r:interval(i): the record of the C core, with `index`, the interval's index in the original result.
local function interval_record(r, i)
  i = check_index(r, i, 1, "interval")
  local iv = c_interval(r, i)
  local from = origin[r]
  iv.index = from and from[i] or i
  return iv
end

-- r:slice(t1, t2) -> result of the intervals whose start lies in [t1, t2); nil bounds are open.
local function slice(r, t1, t2)
  t1 = t1 ~= nil and M.parse_time(t1, 1, "slice") or -math.huge
  t2 = t2 ~= nil and M.parse_time(t2, 2, "slice") or math.huge
  if t2 < t1 then
    error(("bad arguments to 'slice' (the end, %s, is before the start, %s)")
          :format(M.utc(t2, 3), M.utc(t1, 3)), 2)
  end
  local chosen, starts = {}, r:column("start")
  for i = 1, #starts do
    if starts[i] >= t1 and starts[i] < t2 then chosen[#chosen + 1] = i end
  end
  return r:select(chosen)
end

-- r:where(fn) -> result of the intervals i for which fn(r:interval(i), i) is true.
local function where(r, fn)
  if type(fn) ~= "function" then error("bad argument #1 to 'where' (function expected)", 2) end
  local chosen = {}
  for i = 1, #r do
    if fn(r:interval(i), i) then chosen[#chosen + 1] = i end
  end
  return r:select(chosen)
end

-- r:port_series(series, port) -> column of the packets of one port per interval (0 where it was not seen).
local function port_series(r, series, port)
  if type(port) == "number" then port = math.tointeger(port) or port end -- 22.0 is port 22
  if math.type(port) ~= "integer" or port < 0 or port > 65535 then
    error(("bad argument #2 to 'port_series' (a port from 0 to 65535 expected, got %s)")
          :format(math.type(port) and tostring(port) or type(port)), 2)
  end
  local ok, iter, state, ctl = pcall(r.ports, r, series)
  if not ok then
    error(("bad argument #1 to 'port_series' (%s)"):format(tostring(iter):match("%((.*)%)$") or iter), 2)
  end
  local out = {}
  for i = 1, #r do out[i] = 0 end
  for i, p, count in iter, state, ctl do
    if p == port then out[i] = count end
  end
  return column.new(out)
end

-- r:write_port_count(path [, format]) -> true | nil, "path: reason": the port-count table (port_count/), atomically,
-- as "tsv" (default), "csv" or "ndjson" (tpp.tables).
local function write_port_count(r, path, format)
  if type(path) ~= "string" then error("bad argument #1 to 'write_port_count' (a path expected)", 2) end
  if format ~= nil and not require("tpp.tables").is_format(format) then
    error(("bad argument #2 to 'write_port_count' (tsv, csv or ndjson expected, got %s)"):format(tostring(format)), 2)
  end
  return core.write_atomic(path, require("tpp.outputs").port_count_text(r, format))  -- required late: it needs tpp
end

---------------------------------------------------------------------------------------------------------------
-- String forms
---------------------------------------------------------------------------------------------------------------

local fmt = column.format

-- One line: source (or how many pieces were merged), span, intervals, packets, rates and the range of the
-- source-address entropy.
local function result_tostring(r)
  local parts = { "tpp.result: " .. (r.pieces > 1 and ("merge of %d pieces"):format(r.pieces) or r.source) }
  local n, dt = #r, r.delta_t
  if r.packets > 0 then parts[#parts + 1] = M.span(r.first_ts, r.last_ts) end
  parts[#parts + 1] = ("%d interval%s of %s s"):format(n, n == 1 and "" or "s", fmt(dt))
  if r.segments > 1 then parts[#parts + 1] = ("%d segments (gaps over %s s)"):format(r.segments, fmt(r.max_gap)) end
  parts[#parts + 1] = ("%d packet%s (%d IP)"):format(r.packets, r.packets == 1 and "" or "s", r.ip_packets)
  if n > 0 then
    local pk = r:column("packets")
    parts[#parts + 1] = ("%s pkt/s (peak %s)"):format(fmt(pk:sum() / (n * dt)), fmt(pk:max() / dt))
    local h = r:column("entropy_src")
    if h:count() > 0 then parts[#parts + 1] = ("entropy_src %s–%s"):format(fmt(h:min()), fmt(h:max()))
    else parts[#parts + 1] = "entropy_src undefined" end -- NaN in every interval: no IP packet of the family
  end
  if not r.complete then parts[#parts + 1] = "incomplete: " .. tostring(r.error) end
  return walk.printable(table.concat(parts, ", "))   -- one line: a newline in the source's name is shown as \n
end

-- Several lines: the interval's number and time span, then every other column as name value.
local function interval_tostring(iv)
  local index, own = iv.index or iv.interval + 1, iv.interval + 1
  local head = ("interval %s (index %s)"):format(fmt(iv.interval), fmt(own))
  if index ~= own then head = head:sub(1, -2) .. ("; index %s in the original)"):format(fmt(index)) end
  local lines = { head .. "  " .. M.span(iv.start, iv["end"], 3) }
  local row = {}
  for _, name in ipairs(meta.columns) do
    if name ~= "interval" and name ~= "start" and name ~= "end" then
      row[#row + 1] = ("%-16s %-12s"):format(name, fmt(iv[name]))
      if #row == 3 then lines[#lines + 1] = "  " .. table.concat(row, "  "); row = {} end
    end
  end
  if #row > 0 then lines[#lines + 1] = "  " .. table.concat(row, "  ") end
  return (table.concat(lines, "\n"):gsub(" +\n", "\n"):gsub(" +$", ""))
end

-- "443 (1234), 80 (567), ..." ports with their counts, most frequent first.
local function ports_tostring(list)
  if #list == 0 then return "(no ports)" end
  local out = {}
  for i, e in ipairs(list) do out[i] = ("%d (%d)"):format(e.port, e.count) end
  return table.concat(out, ", ")
end

-- "10.0.0.1 (5 packets, 700 bytes, 38.46 %), ..." a heavy-hitter list, first rank first.
local function heavy_hitters_tostring(list)
  if #list == 0 then return "(no heavy hitters)" end
  local out = {}
  for i, e in ipairs(list) do
    out[i] = ("%s (%d packet%s, %d bytes, %s %%)"):format(walk.printable(tostring(e.key)), e.packets,
      e.packets == 1 and "" or "s", e.bytes, fmt(100 * e.share))
  end
  return table.concat(out, ", ")
end

---------------------------------------------------------------------------------------------------------------
-- Registration: the one place this module adds to the type lresult.c created
---------------------------------------------------------------------------------------------------------------

-- The methods above join the C ones in one methods table (r:slice beside r:column, both completed by the REPL);
-- the string forms are the type's only __tostring; __complete lists the names offered after `r.` and `r:`.
-- r:write_labels(path [, format]) -> true | nil, "path: reason": the per-anomaly table (tpp.labels.table_text),
-- atomically, in TSV (default), CSV or NDJSON (tpp.tables; from and to as seconds, the shortest text of the double);
-- an error when r has no labels.
local function write_labels(r, path, format)
  if type(path) ~= "string" then error("bad argument #1 to 'write_labels' (string expected, got " .. type(path) .. ")", 2) end
  if not r.labels then error("write_labels: the result has no labels (parse with the labels option)", 2) end
  local labels = require "tpp.labels"
  if format == nil or format == "tsv" then return core.write_atomic(path, labels.table_text(r)) end
  local tables = require "tpp.tables"
  if not tables.is_format(format) then error(("write_labels: no format %q (tsv, csv or ndjson)"):format(tostring(format)), 2) end
  local function seconds(ns)
    if ns == math.mininteger or ns == math.maxinteger then return ns < 0 and -math.huge or math.huge end
    return ns / 1e9
  end
  local rows = {}
  for k, a in ipairs(r.labels) do
    rows[k] = { id = a.id, type = a.type, taxonomy = a.taxonomy, from = seconds(a.from_ns), to = seconds(a.to_ns),
                packets = a.packets, first_interval = a.first_interval or 0 / 0, last_interval = a.last_interval or 0 / 0 }
  end
  return tables.write(path, labels.COLUMNS, rows, format)
end

local function register(meta)
  methods.score = score.compute         -- r:score{...}: anomaly scores over the series (tpp.score)
  methods.select, methods.index, methods.interval = select_intervals, index_of, interval_record
  methods.write_labels = write_labels
  methods.slice, methods.where, methods.port_series = slice, where, port_series
  methods.write_port_count = write_port_count
  meta.result.__tostring = result_tostring
  meta.interval.__tostring = interval_tostring
  meta.ports.__tostring = ports_tostring
  meta.heavy_hitters.__tostring = heavy_hitters_tostring
  local names = {}
  for _, field in ipairs(meta.fields) do names[field] = true end
  meta.result.__complete = setmetatable(names, { __index = methods })
end

register(meta)

---------------------------------------------------------------------------------------------------------------
-- tpp.open, tpp.type
---------------------------------------------------------------------------------------------------------------

-- "dump" when the file at path is a tpp dump, "capture" when it is a capture tpp reads (both told by tpp.kind, from
-- the first bytes), else nil and a reason.
function M.kind(path)
  local kind, why = core.kind(path)
  if kind == "dump" then return "dump" end
  if kind then return "capture" end
  return nil, (why:gsub("not a capture", "neither a capture nor a dump"))
end

-- tpp.open(path [, opts [, progress]]) -> result | nil, "path: reason": a dump is loaded (opts are then not
-- allowed), anything else parsed.
function M.open(path, opts, progress)
  if type(path) ~= "string" then error("bad argument #1 to 'open' (string expected, got " .. type(path) .. ")", 2) end
  if core.kind(path) == "dump" then
    if opts ~= nil or progress ~= nil then
      error("bad argument #2 to 'open' (" .. path .. " is a dump: its options are those it was made with)", 2)
    end
    return core.load(path)
  end
  return core.parse(path, opts, progress)
end

-- tpp.type(x) -> "result", "column", "interval", "ports", "heavy_hitters", "writer" (a tpp.pcap_writer), or nil for
-- anything else.
function M.type(x)
  local mt = getmetatable(x)
  if mt == nil then return nil end
  if mt == meta.result then return "result" end
  if mt == meta.column then return "column" end
  if mt == meta.interval then return "interval" end
  if mt == meta.ports then return "ports" end
  if mt == meta.heavy_hitters then return "heavy_hitters" end
  if type(x) == "userdata" and type(mt) == "table" and mt.__name == "tpp.pcap_writer" then return "writer" end
  return nil
end

return M
