-- tpp.tables: a table of rows made in Lua written as the C writers write the critical table, in any of the
-- three formats the main job offers (README.md, "Formats"), atomically.
--
--   local tables = require "tpp.tables"
--   assert(tables.write("scores.csv", { "interval", "score", "label" }, rows, "csv"))
--
-- rows is a list of rows, each a table keyed by column name (a list in the columns' order works too).  Values:
-- integers as integers; floats as tpp.format_real spells them (the shortest text that reads back as the same
-- double); NaN "nan" in TSV, an empty field in CSV, null in NDJSON; infinities "inf"/"-inf" (null in NDJSON);
-- booleans true/false; strings as data: quoted per RFC 4180 in CSV (and in TSV when they hold a tab, a line end
-- or a quote, as pandas and R read it), JSON strings in NDJSON (bytes that are not UTF-8 as U+FFFD); nil (a
-- missing value) an empty field, null in NDJSON.
local tpp = require "tpp.core"   -- format_real, write_atomic (not "tpp": tpp.result requires this module)

local tables = {}

-- The formats, each its separator and line end (NDJSON: one object per row, no header).
tables.FORMATS = { "tsv", "csv", "ndjson" }
local SHAPE = { tsv = { sep = "\t", eol = "\n" }, csv = { sep = ",", eol = "\r\n" }, ndjson = { eol = "\n" } }

-- Whether `format` is one of tables.FORMATS.
function tables.is_format(format) return SHAPE[format] ~= nil end

-- A string as a field of a delimited line: quoted (quotes doubled) when it holds the separator, a quote or a line
-- end, else as it is.
local function delimited(s, sep)
  if s:find('[\r\n"]') or s:find(sep, 1, true) then return '"' .. s:gsub('"', '""') .. '"' end
  return s
end

local ESCAPES = { ['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }

-- A string as a JSON string: valid UTF-8 kept, each invalid byte as U+FFFD, quotes, backslashes and control
-- characters escaped.
function tables.json_string(s)
  local parts, i = {}, 1
  while i <= #s do
    local n, bad = utf8.len(s, i)
    if n then
      parts[#parts + 1] = s:sub(i)
      break
    end
    parts[#parts + 1] = s:sub(i, bad - 1) .. "\u{fffd}"
    i = bad + 1
  end
  local text = table.concat(parts):gsub('[%c"\\]', function(c)
    return ESCAPES[c] or ("\\u%04x"):format(c:byte())
  end)
  return '"' .. text .. '"'
end

-- One value as `format` spells it.
local function cell(v, format)
  local t = math.type(v)
  if t == "integer" then return ("%d"):format(v) end
  if t == "float" then
    if v ~= v or v == math.huge or v == -math.huge then
      if format == "ndjson" then return "null" end
      if v ~= v and format == "csv" then return "" end
    end
    return tpp.format_real(v)
  end
  if v == nil then return format == "ndjson" and "null" or "" end
  if type(v) == "boolean" then return tostring(v) end
  if type(v) ~= "string" then
    error(("a table cell must be a number, a string, a boolean or nil, not a %s"):format(type(v)), 3)
  end
  if format == "ndjson" then return tables.json_string(v) end
  return delimited(v, SHAPE[format].sep)
end

-- The text of the table: a header of the column names and one line per row (TSV, CSV), or one JSON object per
-- row (NDJSON).
function tables.text(columns, rows, format)
  format = format or "tsv"
  if not SHAPE[format] then
    error(("unknown table format '%s' (tsv, csv or ndjson)"):format(tostring(format)), 2)
  end
  if type(columns) ~= "table" or #columns == 0 then error("the columns must be a non-empty list of names", 2) end
  for k, name in ipairs(columns) do
    if type(name) ~= "string" then error(("column %d: a name (a string) expected, got %s"):format(k, type(name)), 2) end
  end
  local shape, lines = SHAPE[format], {}
  if format == "ndjson" then
    local keys = {}
    for k, name in ipairs(columns) do keys[k] = tables.json_string(name) .. ":" end
    for i, row in ipairs(rows) do
      local out = {}
      for k, name in ipairs(columns) do
        local v = row[name]
        if v == nil then v = row[k] end
        out[k] = keys[k] .. cell(v, format)
      end
      lines[i] = "{" .. table.concat(out, ",") .. "}"
    end
  else
    local header = {}
    for k, name in ipairs(columns) do header[k] = delimited(name, shape.sep) end
    lines[1] = table.concat(header, shape.sep)
    for i, row in ipairs(rows) do
      local out = {}
      for k, name in ipairs(columns) do
        local v = row[name]
        if v == nil then v = row[k] end
        out[k] = cell(v, format)
      end
      lines[i + 1] = table.concat(out, shape.sep)
    end
  end
  return #lines == 0 and "" or table.concat(lines, shape.eol) .. shape.eol
end

-- Write the table to `path` atomically (a temporary file renamed over the target when complete): true, or nil,
-- "path: reason".  A bad format, column list or cell raises.
function tables.write(path, columns, rows, format)
  return tpp.write_atomic(path, tables.text(columns, rows, format))
end

return tables
