-- tpp.result: the Lua half of the result type — selections (r:slice, r:where), readable string forms of results,
-- interval records and top-port lists, completion names for the REPL, and tpp.open / tpp.type.
--
-- The C core (lresult.c) creates the metatables and exposes them as core._meta; this module, loaded by
-- `require "tpp"`, adds to them.  Methods implemented here are added to the same methods table as the C ones, so
-- r:slice sits beside r:column and the REPL completes both.

local core = require "tpp.core"
local column = require "tpp.column"

local meta = core._meta
local methods = meta.result_methods
local M = {}

---------------------------------------------------------------------------------------------------------------
-- Times
---------------------------------------------------------------------------------------------------------------

-- Epoch seconds as "YYYY-MM-DD HH:MM:SS" (UTC), with `decimals` digits of the second when asked.
function M.utc(t, decimals)
  decimals = decimals or 0
  local scale = 10 ^ decimals
  local units = math.floor(t * scale + 0.5)           -- rounded to the digits shown, carrying into the seconds
  local s, frac = units // scale, units % scale
  local text = os.date("!%Y-%m-%d %H:%M:%S", math.tointeger(s) or s)
  if decimals > 0 then text = text .. ("." .. "%0" .. decimals .. "d"):format(math.tointeger(frac) or 0) end
  return text
end

-- "2023-01-26 05:00:00–05:15:00 UTC", the end's date repeated only when it differs.
function M.span(t1, t2, decimals)
  local a, b = M.utc(t1, decimals), M.utc(t2, decimals)
  if a:sub(1, 10) == b:sub(1, 10) then b = b:sub(12) end
  return a .. "–" .. b .. " UTC"
end

-- A time argument: epoch seconds, or a UTC date "YYYY-MM-DD[ HH:MM[:SS[.frac]]]" (also with a "T").
function M.parse_time(t, argn, fname)
  if type(t) == "number" then return t end
  if type(t) == "string" then
    local y, mo, d, rest = t:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)(.*)$")
    local h, mi, s = 0, 0, 0
    if rest and rest ~= "" then
      h, mi, s = rest:match("^[ T](%d%d):(%d%d):?(%d*%.?%d*)Z?$")
      if s == "" then s = "0" end
    end
    if y and h and tonumber(s) then
      -- Days since the epoch by the proleptic Gregorian calendar (no time zone involved).
      y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
      if mo <= 2 then y = y - 1 end
      local era = y // 400
      local yoe = y - era * 400
      local doy = (153 * (mo + (mo > 2 and -3 or 9)) + 2) // 5 + d - 1
      local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
      local days = era * 146097 + doe - 719468
      return days * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(s)
    end
  end
  error(("bad argument #%d to '%s' (epoch seconds or a UTC date \"YYYY-MM-DD HH:MM:SS\" expected, got %s)")
        :format(argn, fname, type(t) == "string" and ("'" .. t .. "'") or type(t)), 3)
end

---------------------------------------------------------------------------------------------------------------
-- Selections
---------------------------------------------------------------------------------------------------------------

-- r:slice(t1, t2) -> result of the intervals whose start lies in [t1, t2); nil bounds are open.
function methods.slice(r, t1, t2)
  t1 = t1 ~= nil and M.parse_time(t1, 1, "slice") or -math.huge
  t2 = t2 ~= nil and M.parse_time(t2, 2, "slice") or math.huge
  local chosen, starts = {}, r:column("start")
  for i = 1, #starts do
    if starts[i] >= t1 and starts[i] < t2 then chosen[#chosen + 1] = i end
  end
  return r:select(chosen)
end

-- r:where(fn) -> result of the intervals i for which fn(r:interval(i), i) is true.
function methods.where(r, fn)
  if type(fn) ~= "function" then error("bad argument #1 to 'where' (function expected)", 2) end
  local chosen = {}
  for i = 1, #r do
    if fn(r:interval(i), i) then chosen[#chosen + 1] = i end
  end
  return r:select(chosen)
end

---------------------------------------------------------------------------------------------------------------
-- String forms
---------------------------------------------------------------------------------------------------------------

local fmt = column.format

-- One line: source, span, intervals, packets, rates and the range of the source-address entropy.
function meta.result.__tostring(r)
  local parts = { "tpp.result: " .. r.source }
  local n, dt = #r, r.delta_t
  if r.packets > 0 then parts[#parts + 1] = M.span(r.first_ts, r.last_ts) end
  parts[#parts + 1] = ("%d interval%s of %s s"):format(n, n == 1 and "" or "s", fmt(dt))
  parts[#parts + 1] = ("%d packets (%d IP)"):format(r.packets, r.ip_packets)
  if n > 0 then
    local pk = r:column("packets")
    parts[#parts + 1] = ("%s pkt/s (peak %s)"):format(fmt(pk:sum() / (n * dt)), fmt(pk:max() / dt))
    local h = r:column("entropy_src")
    parts[#parts + 1] = ("entropy_src %s–%s"):format(fmt(h:min()), fmt(h:max()))
  end
  if not r.complete then parts[#parts + 1] = "incomplete: " .. tostring(r.error) end
  return table.concat(parts, ", ")
end

-- Several lines: the interval's number and time span, then every other column as name value.
function meta.interval.__tostring(iv)
  local lines = { ("interval %s (index %s)  %s"):format(fmt(iv.interval), fmt(iv.interval + 1),
                                                      M.span(iv.start, iv["end"], 3)) }
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
function meta.ports.__tostring(list)
  if #list == 0 then return "(no ports)" end
  local out = {}
  for i, e in ipairs(list) do out[i] = ("%d (%d)"):format(e.port, e.count) end
  return table.concat(out, ", ")
end

---------------------------------------------------------------------------------------------------------------
-- REPL completion: names offered after `r.` (fields and methods) and `r:` (methods).
---------------------------------------------------------------------------------------------------------------

do
  local names = {}
  for _, field in ipairs(meta.fields) do names[field] = true end
  meta.result.__complete = setmetatable(names, { __index = methods })
end

---------------------------------------------------------------------------------------------------------------
-- tpp.open, tpp.type
---------------------------------------------------------------------------------------------------------------

local DUMP_SIGNATURE = "\x89TPD"

-- "dump" when the file at path starts with a dump's signature, "capture" when it is a capture tpp reads, else nil
-- and a reason.
function M.kind(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local head = f:read(4) or ""
  f:close()
  if head == DUMP_SIGNATURE then return "dump" end
  local kind, why = require("tpp.walk").kind(path)
  if kind then return "capture" end
  return nil, (why:gsub("not a capture", "neither a capture nor a dump"))
end

-- tpp.open(path [, opts [, progress]]) -> result | nil, "path: reason": a dump is loaded (opts are then not
-- allowed), anything else parsed.
function M.open(path, opts, progress)
  if type(path) ~= "string" then error("bad argument #1 to 'open' (string expected, got " .. type(path) .. ")", 2) end
  local f = io.open(path, "rb")
  local head = f and f:read(4)
  if f then f:close() end
  if head == DUMP_SIGNATURE then
    if opts ~= nil or progress ~= nil then
      error("bad argument #2 to 'open' (" .. path .. " is a dump: its options are those it was made with)", 2)
    end
    return core.load(path)
  end
  return core.parse(path, opts, progress)
end

-- tpp.type(x) -> "result", "column", "interval", "ports", "writer" (a tpp.pcap_writer), or nil for anything else.
function M.type(x)
  local mt = getmetatable(x)
  if mt == nil then return nil end
  if mt == meta.result then return "result" end
  if mt == meta.column then return "column" end
  if mt == meta.interval then return "interval" end
  if mt == meta.ports then return "ports" end
  if type(x) == "userdata" and type(mt) == "table" and mt.__name == "tpp.pcap_writer" then return "writer" end
  return nil
end

return M
