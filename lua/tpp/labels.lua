-- tpp.labels: ground-truth label files (MAWILab's admd XML, or its CSV form) read into anomaly lists, and the
-- per-anomaly table of a result.
--
--   local anomalies, err = labels.read(path)         -- nil, "path:line: reason" when the file is not valid
--   local all, err = labels.read_all({ path, ... })  -- the anomalies of every file, in order
--   labels.overlaps(anomalies, first_ns, last_ns)    -- whether any window meets [first_ns, last_ns]
--   labels.table_text(r)                             -- r's labels as the TSV labels/<name>_labels.tsv
--
-- An anomaly: { id, type = "anomalous" | "suspicious" | "notice", taxonomy, value, from_ns, to_ns (integers, both
-- ends included), filters = { { src_ip =, dst_ip =, src_port =, dst_port = }, ... }, file = path }; an attribute
-- absent from a filter is absent from its table (it matches anything).
--
-- XML is read with LuaExpat (lxp), never with patterns.  The admd format: an <annotation> (any namespace prefix)
-- holding <anomaly type= value=> elements, each with <slice> elements of <filter> elements and <from sec= usec=>
-- / <to sec= usec=> bounds (inside the slice or the anomaly: the anomaly's window is from the earliest to the
-- latest); the taxonomy is the last comma-separated field of value, the id the anomaly's id attribute or its
-- 1-based position in the file.
--
-- The CSV form: a header line naming the columns (case does not matter) anomalyID, srcIP, srcPort, dstIP, dstPort,
-- taxonomy, label (anomalous, suspicious or notice), and optionally heuristic, distance, nbDetectors (kept in value)
-- and from, to (seconds since the epoch, decimals allowed); each line is one filter, lines of the same anomalyID make
-- one anomaly, an empty field is an absent attribute.  MAWILab's CSV has no time columns: an anomaly without them
-- spans all time (its labels cover the whole trace of the day).
local core = require "tpp.core"

local labels = {}

labels.TYPES = { anomalous = true, suspicious = true, notice = true }
local TYPE_ORDER = { "anomalous", "suspicious", "notice" }

local function read_file(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, tostring(err) end
  local text, rerr = f:read("a")
  f:close()
  if not text then return nil, ("%s: cannot read: %s"):format(path, tostring(rerr)) end
  return text
end

-- A port attribute: an integer 0..65535, else nil and why.
local function port_of(text)
  local n = tonumber(text)
  if not n or math.type(n) ~= "integer" and n ~= math.floor(n) or n < 0 or n > 65535 then
    return nil, ("'%s' is not a port"):format(tostring(text))
  end
  return math.tointeger(n)
end

-- A filter from its attributes (XML or CSV columns), else nil and why.
local function filter_of(src_ip, dst_ip, src_port, dst_port)
  local f = {}
  for key, v in pairs { src_ip = src_ip, dst_ip = dst_ip } do
    if v and v ~= "" then
      if not core.label_address(v) then return nil, ("%s '%s' is not an IPv4 or IPv6 address"):format(key, v) end
      f[key] = v
    end
  end
  for key, v in pairs { src_port = src_port, dst_port = dst_port } do
    if v and v ~= "" then
      local port, why = port_of(v)
      if not port then return nil, key .. " " .. why end
      f[key] = port
    end
  end
  return f
end

local function local_name(name) return name:match("([^:]+)$") end

-- <from sec= usec=>: integer nanoseconds, else nil and why.
local function time_of(attrs, what)
  local sec, usec = tonumber(attrs.sec), tonumber(attrs.usec or 0)
  if not sec or math.type(sec) ~= "integer" or not usec or math.type(usec) ~= "integer" or usec < 0 or usec >= 1000000 then
    return nil, ("<%s> needs integer sec and usec (0 <= usec < 1000000) attributes"):format(what)
  end
  if sec > (math.maxinteger - usec * 1000) // 1000000000 or sec < math.mininteger // 1000000000 + 1 then
    return nil, ("<%s> is out of range"):format(what)
  end
  return sec * 1000000000 + usec * 1000
end

local function read_xml(path, text)
  local lxp = require "lxp"
  local out, current, root, failure = {}, nil, nil, nil
  local parser
  local function fail(why)
    if not failure then
      local line = parser:pos()
      failure = ("%s:%d: %s"):format(path, line or 0, why)
    end
  end
  local callbacks = {
    StartElement = function(_, name, attrs)
      if failure then return end
      name = local_name(name)
      if not root then
        root = name
        if name ~= "annotation" then fail(("not an admd file: the root element is <%s>, not <annotation>"):format(name)) end
        return
      end
      if name == "anomaly" then
        if current then return fail("an <anomaly> inside another") end
        local t = attrs.type
        if not labels.TYPES[t or ""] then
          return fail(("anomaly type '%s' is not anomalous, suspicious or notice"):format(tostring(t)))
        end
        local value = attrs.value or ""
        current = { id = attrs.id or tostring(#out + 1), type = t, value = value, taxonomy = value:match("([^,]*)$"),
                    filters = {}, file = path, line = parser:pos() }
      elseif name == "filter" then
        if not current then return fail("a <filter> outside an <anomaly>") end
        local f, why = filter_of(attrs.src_ip, attrs.dst_ip, attrs.src_port, attrs.dst_port)
        if not f then return fail(why) end
        current.filters[#current.filters + 1] = f
      elseif name == "from" or name == "to" then
        if not current then return fail(("a <%s> outside an <anomaly>"):format(name)) end
        local ns, why = time_of(attrs, name)
        if not ns then return fail(why) end
        if name == "from" then current.from_ns = math.min(current.from_ns or ns, ns)
        else current.to_ns = math.max(current.to_ns or ns, ns) end
      end
    end,
    EndElement = function(_, name)
      if failure or local_name(name) ~= "anomaly" or not current then return end
      if not current.from_ns or not current.to_ns then return fail("an <anomaly> without <from> and <to>") end
      if current.to_ns < current.from_ns then return fail("an <anomaly> whose <to> is before its <from>") end
      current.line = nil
      out[#out + 1], current = current, nil
    end,
  }
  parser = lxp.new(callbacks)
  local ok, msg, line = parser:parse(text)
  if ok then ok, msg, line = parser:parse() end
  pcall(parser.close, parser) -- an unfinished document makes close raise: the message is parse's
  if failure then return nil, failure end
  if not ok then return nil, ("%s:%d: not well-formed XML: %s"):format(path, line or 0, tostring(msg)) end
  if not root then return nil, path .. ":1: no XML element" end
  return out
end

-- "12.5" seconds -> integer nanoseconds (exact: the digits are read, not a float).
local function seconds_ns(text)
  local sign, whole, frac = tostring(text):match("^%s*([-]?)(%d+)%.?(%d*)%s*$")
  if not whole or #frac > 9 or #whole > 10 then return nil end
  local ns = tonumber(whole) * 1000000000 + (tonumber((frac .. "000000000"):sub(1, 9)))
  return sign == "-" and -ns or ns
end

local function split_csv(line)
  local fields = {}
  for field in (line .. ","):gmatch("([^,]*),") do
    fields[#fields + 1] = field:match("^%s*\"?(.-)\"?%s*$")
  end
  return fields
end

local function read_csv(path, text)
  local out, by_id, col = {}, {}, nil
  local n = 0
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    n = n + 1
    line = line:gsub("\r$", "")
    if line:match("%S") then
      local fields = split_csv(line)
      if not col then
        col = {}
        for i, name in ipairs(fields) do col[name:lower()] = i end
        for _, need in ipairs { "anomalyid", "srcip", "srcport", "dstip", "dstport", "taxonomy", "label" } do
          if not col[need] then
            return nil, ("%s:%d: not a MAWILab CSV file: no column %s in the header"):format(path, n, need)
          end
        end
      else
        local function get(name) return col[name] and fields[col[name]] or nil end
        local id, t = get("anomalyid"), (get("label") or ""):lower()
        if not labels.TYPES[t] then
          return nil, ("%s:%d: label '%s' is not anomalous, suspicious or notice"):format(path, n, get("label") or "")
        end
        local f, why = filter_of(get("srcip"), get("dstip"), get("srcport"), get("dstport"))
        if not f then return nil, ("%s:%d: %s"):format(path, n, why) end
        local from, to = math.mininteger, math.maxinteger
        if get("from") and get("from") ~= "" then from = seconds_ns(get("from")) end
        if get("to") and get("to") ~= "" then to = seconds_ns(get("to")) end
        if not from or not to then return nil, ("%s:%d: from and to must be seconds since the epoch"):format(path, n) end
        if to < from then return nil, ("%s:%d: to is before from"):format(path, n) end
        local a = by_id[id]
        if not a then
          local value = {}
          for _, name in ipairs { "heuristic", "distance", "nbdetectors", "taxonomy" } do
            if get(name) then value[#value + 1] = get(name) end
          end
          a = { id = id, type = t, taxonomy = get("taxonomy"), value = table.concat(value, ","), from_ns = from,
                to_ns = to, filters = {}, file = path }
          by_id[id] = a
          out[#out + 1] = a
        elseif a.type ~= t then
          return nil, ("%s:%d: anomaly %s is labelled both %s and %s"):format(path, n, id, a.type, t)
        else
          a.from_ns, a.to_ns = math.min(a.from_ns, from), math.max(a.to_ns, to)
        end
        a.filters[#a.filters + 1] = f
      end
    end
  end
  if not col then return nil, path .. ":1: empty label file" end
  return out
end

-- The anomalies of one label file: admd XML when it starts with '<' (after white space and a byte-order mark),
-- else MAWILab's CSV form.
function labels.read(path)
  local text, err = read_file(path)
  if not text then return nil, err end
  local start = text:gsub("^\239\187\191", ""):match("^%s*(.)")
  if start == "<" then return read_xml(path, text) end
  return read_csv(path, text)
end

function labels.read_all(paths)
  local all = {}
  for _, path in ipairs(paths) do
    local list, err = labels.read(path)
    if not list then return nil, err end
    table.move(list, 1, #list, #all + 1, all)
  end
  return all
end

-- Whether any anomaly's window meets the time span [first_ns, last_ns] of a capture.
function labels.overlaps(anomalies, first_ns, last_ns)
  for _, a in ipairs(anomalies) do
    if a.from_ns <= last_ns and a.to_ns >= first_ns then return true end
  end
  return false
end

-- Integer nanoseconds as seconds with 9 decimals ("nan" at the ends of time: a window without bounds).
local function seconds_text(ns)
  if ns == math.mininteger or ns == math.maxinteger then return ns < 0 and "-inf" or "inf" end
  local s, f = ns // 1000000000, ns % 1000000000
  return ("%d.%09d"):format(s, f)
end

-- A field of the TSV: tabs and line breaks would cut the row, so they become spaces.
local function cell(v) return (tostring(v):gsub("[\t\r\n]", " ")) end

labels.COLUMNS = { "id", "type", "taxonomy", "from", "to", "packets", "first_interval", "last_interval" }

-- The per-anomaly table of a result with labels: one row per anomaly, its matched IP packets and the first and
-- last interval holding one of them (0-based as the critical table's interval column; nan when none).
function labels.table_text(r)
  local lines = { table.concat(labels.COLUMNS, "\t") }
  for _, a in ipairs(r.labels or {}) do
    lines[#lines + 1] = table.concat({ cell(a.id), a.type, cell(a.taxonomy), seconds_text(a.from_ns),
      seconds_text(a.to_ns), a.packets, a.first_interval or "nan", a.last_interval or "nan" }, "\t")
  end
  return table.concat(lines, "\n") .. "\n"
end

-- The anomalies of r by type, in the order anomalous, suspicious, notice (for figures and pages).
function labels.by_type(r)
  local groups = {}
  for _, t in ipairs(TYPE_ORDER) do groups[#groups + 1] = { type = t, anomalies = {} } end
  for _, a in ipairs(r.labels or {}) do
    for _, g in ipairs(groups) do
      if g.type == a.type then g.anomalies[#g.anomalies + 1] = a end
    end
  end
  return groups
end

return labels
