-- tpp.page: the interactive page of one result, plot/<name>.html — one self-contained HTML string that works
-- offline: the summary at a glance, every column as a zoomable time series (dygraphs, inlined from the Debian
-- package libjs-dygraphs when the page is written) with one cursor, one zoom and a range selector for all charts,
-- the heavy hitters of the interval under the cursor, the busiest ports, labelled windows, and the static figures.
--
--   local page = require "tpp.page"
--   local html = page.html(r, { name = "2023", figures = { { number = 1, title = "...", file = "2023_1.png" } } })
--
-- The page is a list of sections (page.sections, in order): each { id, title, render = function(ctx) -> HTML or
-- nil (section left out) }; ctx = { r, name, opts, data (what the script reads), esc (HTML escape) }.  Add one
-- with table.insert(page.sections, position, { ... }).
--
-- Its data (one JSON object in <script type="application/json">) hold the critical table exactly as the TSV
-- spells it (r:write_critical): per column its cells joined by ",", or { same = cell } for a column of one value, or
-- { ns0, step, fix } for times in steps of whole nanoseconds (start, end).  Heavy hitters and port counts are
-- bounded (HH_BUDGET, PORTS_TOP) so that a 30,000-interval page stays a few megabytes over the table itself.
-- Every string from outside (names, paths, warnings, keys, labels) is escaped for HTML and, in the data, for
-- JSON inside <script> ("</" and U+2028/2029); the CSP forbids any network request.
--
-- opts (all optional): name (the page's title), figures (list of { number, title, file (relative), heatmap, ok,
-- reason }), note (a line said above the figures, e.g. why none was drawn), dygraphs (directory of dygraph.min.js
-- and dygraph.min.css; default /usr/share/javascript/dygraphs, TPP_DYGRAPHS overrides; false: no charts).
local tpp = require "tpp"
local walk = require "tpp.walk"

local page = {}

page.DYGRAPHS = "/usr/share/javascript/dygraphs"
page.HH_BUDGET = 250000   -- heavy hitters embedded at most (entries over all intervals and dimensions)
page.HH_TOP = 5           -- per interval and dimension
page.PORTS_TOP = 5        -- ports charted per port series (the others summed as "other")

---------------------------------------------------------------------------------------------------------------
-- Escaping
---------------------------------------------------------------------------------------------------------------

local HTML = { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&#39;" }
local function esc(s)
  return (walk.printable(tostring(s)):gsub("[&<>\"']", HTML))
end
page.html_escape = esc

-- A JSON string literal safe inside <script>: control characters, '"' and '\' escaped as JSON says, '<' as \u003c
-- (no "</script" or "<!--" can form), U+2028/2029 as escapes.  Text that is not UTF-8 is made printable first.
local JSON_ESC = { ['"'] = '\\"', ["\\"] = "\\\\", ["<"] = "\\u003c", [">"] = "\\u003e", ["&"] = "\\u0026" }
local function json_string(s)
  s = tostring(s)
  if not s:find('[%c"\\<>&\128-\255]') then return '"' .. s .. '"' end   -- the cells of a column: nothing to do
  if not utf8.len(s) then s = walk.printable(s) end
  s = s:gsub('[%c"\\<>&]', function(c) return JSON_ESC[c] or ("\\u%04x"):format(c:byte()) end)
  s = s:gsub("\226\128\168", "\\u2028"):gsub("\226\128\169", "\\u2029")
  return '"' .. s .. '"'
end
page.json_string = json_string

-- JSON of Lua values: tables with [1] (or the empty table given as page.EMPTY_LIST) as arrays, else objects
-- with sorted keys; NaN and infinities as null.
page.EMPTY_LIST = setmetatable({}, { __name = "empty list" })
local function json(v, out)
  local t = type(v)
  if t == "string" then out[#out + 1] = json_string(v)
  elseif t == "number" then
    if v ~= v or v == math.huge or v == -math.huge then out[#out + 1] = "null"
    elseif math.type(v) == "integer" then out[#out + 1] = tostring(v)
    else out[#out + 1] = ("%.17g"):format(v) end
  elseif t == "boolean" then out[#out + 1] = tostring(v)
  elseif t == "table" then
    if v[1] ~= nil or v == page.EMPTY_LIST then
      out[#out + 1] = "["
      for i = 1, #v do
        if i > 1 then out[#out + 1] = "," end
        json(v[i], out)
      end
      out[#out + 1] = "]"
    else
      local keys = {}
      for k in pairs(v) do keys[#keys + 1] = tostring(k) end
      table.sort(keys)
      out[#out + 1] = "{"
      for i, k in ipairs(keys) do
        if i > 1 then out[#out + 1] = "," end
        out[#out + 1] = json_string(k)
        out[#out + 1] = ":"
        local x = v[k]
        if x == nil then x = v[tonumber(k)] end
        json(x, out)
      end
      out[#out + 1] = "}"
    end
  else out[#out + 1] = "null" end
  return out
end
function page.json(v) return table.concat(json(v, {})) end

---------------------------------------------------------------------------------------------------------------
-- The data: the critical table as the TSV spells it
---------------------------------------------------------------------------------------------------------------

-- "seconds.nanoseconds" (maybe negative) <-> integer nanoseconds: the TSV's spelling of times.
local function time_ns(cell)
  local sign, s, ns = cell:match("^(%-?)(%d+)%.(%d%d%d%d%d%d%d%d%d)$")
  if not s or #s > 11 then return nil end
  local v = math.tointeger(tonumber(s)) * 1000000000 + math.tointeger(tonumber(ns))
  return sign == "-" and -v or v
end
local function time_cell(v)
  local a = v < 0 and -v or v
  return ("%s%d.%09d"):format(v < 0 and "-" or "", a // 1000000000, a % 1000000000)
end
page.time_cell = time_cell

-- One column's cells in the page's form: { same = c } for one value, { ns0, step, fix } for times in whole steps
-- (a few cells off the step in fix, by 0-based row), else the cells joined by ",".
local function encode_column(cells)
  local n = #cells
  local same = true
  for i = 2, n do if cells[i] ~= cells[1] then same = false break end end
  if same and n > 0 then return { same = cells[1] } end
  if n >= 3 then
    local t0, t1 = time_ns(cells[1]), time_ns(cells[2])
    if t0 and t1 then
      local step, fix, nfix = t1 - t0, {}, 0
      for i = 3, n do
        local want = t0 + (i - 1) * step
        if time_ns(cells[i]) ~= want or time_cell(want) ~= cells[i] then
          fix[tostring(i - 1)] = cells[i]
          nfix = nfix + 1
          if nfix > n // 8 then fix = nil break end
        end
      end
      if fix and time_cell(t0) == cells[1] and time_cell(t1) == cells[2] then
        return { ns0 = tostring(t0), step = tostring(step), fix = fix }
      end
    end
  end
  return table.concat(cells, ",")
end

-- The columns of the TSV text, encoded (encode_column): names in header order, encoded columns by name, and the
-- number of rows.  One column's cells are alive at a time (a cursor per line: its offset in the text, which is
-- not split into lines), not the whole table's: a 30,000-interval table is 1.4 million cells and 20 MB of text.
local function tsv_columns(text)
  local header = text:match("^([^\n]*)\n")
  if not header then return {}, {}, 0 end
  local names = {}
  for name in header:gmatch("[^\t]+") do names[#names + 1] = name end
  local pos = {}
  for at in text:gmatch("\n()[^\n]") do pos[#pos + 1] = at end
  local rows, find, sub, stop_at = #pos, string.find, string.sub, #text + 1
  local encoded = {}
  for k, name in ipairs(names) do
    local cells, sep = {}, k < #names and "\t" or "\n"
    for i = 1, rows do
      local p = pos[i]
      local stop = find(text, sep, p, true) or stop_at
      cells[i] = sub(text, p, stop - 1)
      pos[i] = stop + 1
    end
    encoded[name] = encode_column(cells)
  end
  return names, encoded, rows
end

---------------------------------------------------------------------------------------------------------------
-- What the page shows
---------------------------------------------------------------------------------------------------------------

-- The charts: related columns share one (a column in none of them gets its own); units say what the axis counts.
page.CHARTS = {
  { title = "Packets per interval", columns = { "packets", "ip_packets" }, unit = "packets" },
  { title = "IP bytes per interval", columns = { "ip_bytes" }, unit = "bytes" },
  { title = "Distinct addresses", columns = { "src_ips", "dst_ips" }, unit = "addresses" },
  { title = "Address entropy (normalised)", columns = { "entropy_src", "entropy_dst" }, unit = "0..1" },
  { title = "Address concentration F2", columns = { "f2_src", "f2_dst" }, unit = "Σ share²" },
  { title = "Inter-arrival time", columns = { "iat_mean", "iat_std" }, unit = "seconds" },
  { title = "Inter-arrival time shape", columns = { "iat_skew", "iat_kurt" }, unit = "skewness, excess kurtosis" },
  { title = "IP packet length", columns = { "avg_len", "len_p50", "len_p95" }, unit = "bytes" },
  { title = "Protocol shares", columns = { "tcp_frac", "udp_frac", "icmp_frac" }, unit = "share of IP packets" },
  { title = "TCP flags", columns = { "syn", "synack", "fin", "rst" }, unit = "packets" },
  { title = "Packets with ports", columns = { "tcp_port_packets", "udp_port_packets" }, unit = "packets" },
  { title = "Port entropy (normalised)", columns = { "entropy_tcp_src", "entropy_tcp_dst", "entropy_udp_src",
                                                     "entropy_udp_dst" }, unit = "0..1" },
  { title = "Distinct prefixes", columns = { "src_p24", "dst_p24", "src_p16", "dst_p16" }, unit = "prefixes" },
  { title = "Prefix entropy (/24, normalised)", columns = { "entropy_src_p24", "entropy_dst_p24" }, unit = "0..1" },
  { title = "Flows", columns = { "flows", "flows_new" }, unit = "5-tuples" },
  { title = "Largest fan-out", columns = { "fanout_max" }, unit = "destinations of one source" },
  { title = "Addresses never seen before", columns = { "new_src", "new_dst" }, unit = "addresses" },
  { title = "Fragments", columns = { "frag" }, unit = "packets" },
  { title = "Mean TTL / hop limit", columns = { "ttl_mean" }, unit = "hops" },
  { title = "Time covered by packets", columns = { "covered" }, unit = "seconds" },
  { title = "Segment", columns = { "segment" }, unit = "segment number" },
}
local NOT_CHARTED = { interval = true, start = true, ["end"] = true }

-- The charts of a result: page.CHARTS' columns that exist, then each other column alone; a column of NaN only
-- (its feature group off) is left out and named in `off`.
local function chart_list(names, encoded)
  local have, all_nan = {}, {}
  for _, name in ipairs(names) do
    have[name] = true
    all_nan[name] = type(encoded[name]) == "table" and encoded[name].same == "nan"
  end
  local charts, used, off = {}, {}, {}
  local function add(title, columns, unit)
    local keep = {}
    for _, c in ipairs(columns) do
      if have[c] and not used[c] then
        used[c] = true
        if all_nan[c] then off[#off + 1] = c else keep[#keep + 1] = c end
      end
    end
    if #keep > 0 then charts[#charts + 1] = { title = title, columns = keep, unit = unit } end
  end
  for _, c in ipairs(page.CHARTS) do add(c.title, c.columns, c.unit) end
  for _, name in ipairs(names) do
    if not NOT_CHARTED[name] and not used[name] then add(name, { name }, "") end
  end
  return charts, off
end

-- The heavy hitters embedded: per dimension, the keys once (`keys`) and per interval "key index:packets" pairs
-- (`top`: intervals joined by ";", pairs by ","), for every interval or, past the budget, the busiest ones
-- (`rows`, 0-based).  nil when the result has none.
local DENOMINATOR = { src = "ip_packets", dst = "ip_packets", src_p24 = "ip_packets", dst_p24 = "ip_packets",
                      src_hhh = "ip_packets", dst_hhh = "ip_packets", tcp_dport = "tcp_port_packets",
                      udp_dport = "udp_port_packets" }
local function heavy_hitters(r, n)
  local f = tostring(r.features)
  if not (f == "all" or ("," .. f .. ","):find(",hh,", 1, true)) or n == 0 or not r.heavy_hitters then return nil end
  local dims = tpp.hh_dims or {}
  if #dims == 0 then return nil end
  local k = math.min(page.HH_TOP, math.max(1, page.HH_BUDGET // (n * #dims)))
  local rows
  if n * #dims * k > page.HH_BUDGET then   -- only the busiest intervals
    local packets = r:column("packets")
    local order = {}
    for i = 1, n do order[i] = i end
    table.sort(order, function(a, b) if packets[a] ~= packets[b] then return packets[a] > packets[b] end return a < b end)
    rows = {}
    for i = 1, page.HH_BUDGET // #dims do rows[i] = order[i] end
    table.sort(rows)
  end
  local hh = { k = k, dims = dims, keys = {}, top = {}, denominator = {} }
  if rows then
    hh.rows = {}
    for i, row in ipairs(rows) do hh.rows[i] = row - 1 end
  end
  for _, dim in ipairs(dims) do
    local index, keys, parts = {}, {}, {}
    local function each(i)
      local list = r:heavy_hitters(dim, i, k)
      local line = ""
      for e = 1, #list do
        local h = list[e]
        local key = h.key
        local x = index[key]
        if not x then keys[#keys + 1] = tostring(key); x = #keys - 1; index[key] = x end
        line = e == 1 and (x .. ":" .. h.packets) or (line .. "," .. x .. ":" .. h.packets)
      end
      parts[#parts + 1] = line
    end
    if rows then for _, i in ipairs(rows) do each(i) end else for i = 1, n do each(i) end end
    hh.keys[dim] = #keys > 0 and keys or page.EMPTY_LIST
    hh.top[dim] = table.concat(parts, ";")
    hh.denominator[dim] = DENOMINATOR[dim] or "ip_packets"
  end
  return hh
end

-- The busiest ports of each port series, per interval: the PORTS_TOP ports of the whole trace, and the others.
local PORT_SERIES = { "tcp_src", "tcp_dst", "udp_src", "udp_dst" }
local PORT_TOTAL = { tcp_src = "tcp_port_packets", tcp_dst = "tcp_port_packets", udp_src = "udp_port_packets",
                     udp_dst = "udp_port_packets" }
local function port_charts(r, n)
  if n == 0 or not r.top_ports then return nil end
  local out = {}
  for _, series in ipairs(PORT_SERIES) do
    local ok, top = pcall(r.top_ports, r, series, nil, page.PORTS_TOP)
    if ok and #top > 0 then
      local total = r:column(PORT_TOTAL[series])
      local rest = {}
      for i = 1, n do rest[i] = total[i] end
      local ports, cols, which = {}, {}, {}
      for j, p in ipairs(top) do
        ports[j], which[p.port] = p.port, j
        local col = {}
        for i = 1, n do col[i] = 0 end
        cols[j] = col
      end
      for i, port, count in r:ports(series) do   -- one pass over the series for all its top ports
        local j = which[port]
        if j then cols[j][i] = count; rest[i] = rest[i] - count end
      end
      local counts = {}
      for j = 1, #cols do counts[j] = table.concat(cols[j], ",") end
      for i = 1, n do rest[i] = ("%d"):format(rest[i]) end
      out[#out + 1] = { series = series, ports = ports, counts = counts, other = table.concat(rest, ",") }
    end
  end
  return #out > 0 and out or nil
end

-- dygraphs' script and style, read from the package (nil and why when it is missing).
local function read_dygraphs(dir)
  if dir == false then return nil, "charts switched off" end
  dir = dir or os.getenv("TPP_DYGRAPHS") or page.DYGRAPHS
  local function read(name)
    local f = io.open(dir .. "/" .. name, "rb")
    if not f then return nil end
    local s = f:read("a")
    f:close()
    return s
  end
  local js, css = read("dygraph.min.js"), read("dygraph.min.css")
  if not js or not css then
    return nil, ("dygraphs not found in %s (install the Debian package libjs-dygraphs)"):format(dir)
  end
  if js:find("</script", 1, true) or css:find("</style", 1, true) then
    return nil, "dygraphs in " .. dir .. " cannot be inlined (it holds a closing tag)"
  end
  return { js = js, css = css }
end

---------------------------------------------------------------------------------------------------------------
-- Words for humans
---------------------------------------------------------------------------------------------------------------

local function plural(n, word) return ("%s %s%s"):format(n, word, n == 1 and "" or "s") end

-- A time of integer nanoseconds as UTC text to the millisecond, with its date or without.
local function utc(ns, with_date)
  local ms = (ns % 1000000000) // 1000000
  return os.date(with_date and "!%Y-%m-%d %H:%M:%S" or "!%H:%M:%S", ns // 1000000000) .. ("." .. ("%03d"):format(ms))
end

local function duration(seconds)
  if seconds ~= seconds then return "?" end
  if seconds < 1 then return ("%.3g ms"):format(seconds * 1000) end
  if seconds < 120 then return ("%.3f s"):format(seconds):gsub("%.?0+ s$", " s") end
  local whole = math.floor(seconds + 0.5)
  local h, m, s = whole // 3600, whole % 3600 // 60, whole % 60
  if h > 0 then return ("%d h %02d min %02d s"):format(h, m, s) end
  return ("%d min %02d s"):format(m, s)
end
page.duration = duration

local function rate(v, unit)
  if v ~= v then return "undefined" end
  local units = { "", " k", " M", " G" }
  local u = 1
  while v >= 1000 and u < #units do v = v / 1000; u = u + 1 end
  return ("%.4g%s%s"):format(v, units[u], unit)
end

-- The summary at a glance: a list of { what, text } (text already HTML).
local function glance(r, n)
  local rows = {}
  local function row(what, text) rows[#rows + 1] = { what, text } end
  row("capture", esc(r.source or "?") .. (r.source_size and r.source_size > 0
    and (" (" .. rate(r.source_size, "B") .. ")") or ""))
  if n > 0 and r.first_ns and r.last_ns then
    local same_day = r.first_ns // (86400 * 1000000000) == r.last_ns // (86400 * 1000000000)
    row("span", ("%s to %s UTC: %s from the first packet to the last"):format(esc(utc(r.first_ns, true)),
      esc(utc(r.last_ns, not same_day)), esc(duration((r.last_ns - r.first_ns) / 1e9))))
  end
  row("intervals", ("%s of %s (%s boundaries%s)%s"):format(plural(n, "interval"), esc(duration(r.delta_t or 0 / 0)),
    esc(r.boundary or "?"), r.anchor and (", anchored at " .. esc(r.anchor)) or "",
    (r.segments or 1) > 1 and ("; " .. plural(r.segments, "segment") .. " (a silence over " ..
      esc(duration(r.max_gap or 0 / 0)) .. " starts a new one)") or ""))
  local packets = ("%d packets: %d IP (%s), %d other"):format(r.packets or 0, r.ip_packets or 0,
    esc(r.ip or "any"), r.non_ip_packets or 0)
  local odd = {}
  for _, f in ipairs({ { "malformed_packets", "malformed" }, { "truncated_packets", "truncated" },
                       { "backwards_packets", "out of time order" } }) do
    if (r[f[1]] or 0) > 0 then odd[#odd + 1] = ("%d %s"):format(r[f[1]], f[2]) end
  end
  if #odd > 0 then packets = packets .. "; " .. table.concat(odd, ", ") end
  row("packets", packets)
  if n > 0 and (r.delta_t or 0) > 0 then
    local pk, bytes = r:column("packets"), r:column("ip_bytes")
    local peak, at, total_bytes = -1, 1, 0
    for i = 1, n do
      if pk[i] > peak then peak, at = pk[i], i end
      if bytes[i] == bytes[i] then total_bytes = total_bytes + bytes[i] end
    end
    local span = (r.last_ns - r.first_ns) / 1e9
    local start = r:column("start")[at]
    row("rates", ("mean %s, %s over the span; peak %s at %s"):format(
      esc(rate(span > 0 and (r.packets or 0) / span or 0 / 0, " packets/s")),
      esc(rate(span > 0 and 8 * total_bytes / span or 0 / 0, "bit/s of IP")),
      esc(rate(peak / r.delta_t, " packets/s")), esc(utc(math.floor(start * 1e9 + 0.5), false))))
  end
  local how = {}
  if r.filter then how[#how + 1] = "filter " .. esc(r.filter) end
  if (r.max_packets or 0) > 0 then how[#how + 1] = "at most " .. plural(r.max_packets, "packet") end
  if (r.max_intervals or 0) > 0 then how[#how + 1] = "at most " .. plural(r.max_intervals, "interval") end
  how[#how + 1] = "features " .. esc(r.features or "?")
  if (r.pieces or 1) > 1 then how[#how + 1] = "merged from " .. plural(r.pieces, "capture") end
  row("computed with", table.concat(how, "; "))
  local state = {}
  if r.complete == false then state[#state + 1] = "<b>incomplete</b>: " .. esc(r.error or "reading stopped") end
  if r.stopped_by_limit then state[#state + 1] = "<b>stopped by a limit</b> (max_packets or max_intervals)" end
  if r.warning then state[#state + 1] = "<b>warning</b>: " .. esc(r.warning) end
  if n > 0 then
    local covered = r:column("covered")
    local last = covered[n]
    if r.delta_t and last == last and last < 0.5 * r.delta_t then
      state[#state + 1] = ("the last interval holds packets for %s of its %s"):format(esc(duration(last)),
        esc(duration(r.delta_t)))
    end
  end
  row("status", #state > 0 and table.concat(state, "; ") or "complete: every packet read")
  return rows
end

---------------------------------------------------------------------------------------------------------------
-- Sections
---------------------------------------------------------------------------------------------------------------

-- The static figures: a list of links, then each figure (or why it was not drawn).  opts.figures entries:
-- { number, title, heatmap, file (drawn: its name beside the page), reason (not drawn), own (a failed drawing
-- that gets its place on the page like a drawn one), width, height }.
local function figure_list(ctx)
  local out = {}
  local function w(...) for i = 1, select("#", ...) do out[#out + 1] = select(i, ...) end end
  local figs = ctx.opts.figures or {}
  if ctx.opts.note then w("<p class=\"fail\">", esc(ctx.opts.note), "</p>\n") end
  if #figs == 0 then
    if not ctx.opts.note then w("<p>No figure was drawn for this page.</p>\n") end
    return table.concat(out)
  end
  local function id(f) return "fig" .. f.number .. (f.heatmap and "h" or "") end
  local function name(f) return f.number .. (f.heatmap and " (heatmap)" or "") end
  w("<ul>\n")
  for _, f in ipairs(figs) do
    if f.file or f.own then
      w("<li><a href=\"#", id(f), "\">", name(f), ". ", esc(f.title), "</a>",
        f.file and "" or " <span class=\"fail\">(failed)</span>", "</li>\n")
    else
      w("<li class=\"fail\">", f.number, ". ", esc(f.title), ": ", esc(f.reason or "not drawn"), "</li>\n")
    end
  end
  w("</ul>\n")
  for _, f in ipairs(figs) do
    if f.file or f.own then
      w("<figure id=\"", id(f), "\">\n")
      if f.file then
        local url = f.file:gsub("[^%w%-%._~]", function(c) return ("%%%02X"):format(c:byte()) end)
        w("<a href=\"", url, "\"><img src=\"", url, "\" alt=\"figure ", f.number, ": ", esc(f.title), "\"",
          f.width and (" width=\"" .. f.width .. "\" height=\"" .. f.height .. "\"") or "", " loading=\"lazy\"></a>\n")
      else
        w("<p class=\"fail\">Not drawn: ", esc(f.reason or "unknown reason"), "</p>\n")
      end
      w("<figcaption>Figure ", name(f), ": ", esc(f.title), "</figcaption>\n</figure>\n")
    end
  end
  return table.concat(out)
end

page.sections = {
  { id = "glance", title = "At a glance", render = function(ctx)
      local out = { "<table class=\"glance\">\n" }
      for _, row in ipairs(glance(ctx.r, ctx.n)) do
        out[#out + 1] = ("<tr><th>%s</th><td>%s</td></tr>\n"):format(esc(row[1]), row[2])
      end
      out[#out + 1] = "</table>\n"
      return table.concat(out)
    end },
  { id = "series", title = "Time series", render = function(ctx)
      if ctx.n == 0 then return "<p>No interval: nothing to chart.</p>\n" end
      local out = {}
      if not ctx.dygraphs then
        out[#out + 1] = "<p class=\"fail\">No charts on this page: " .. esc(ctx.dygraphs_missing) ..
          ". The figures below show the same series.</p>\n"
      else
        out[#out + 1] = "<p class=\"hint\">Drag to zoom (all charts follow), double-click to zoom out, use the " ..
          "range selector under the first chart to pan; the cursor selects the interval whose heavy hitters are " ..
          "shown below. Times are UTC; <span id=\"tpp-day\"></span></p>\n" ..
          "<div id=\"tpp-cursor\" class=\"cursor\"></div>\n<div id=\"tpp-charts\"></div>\n"
      end
      if #ctx.data.off > 0 then
        out[#out + 1] = "<p>Not computed (feature group off): " .. esc(table.concat(ctx.data.off, ", ")) .. ".</p>\n"
      end
      return table.concat(out)
    end },
  { id = "hh", title = "Heavy hitters at the cursor", render = function(ctx)
      local hh = ctx.data.hh
      if not hh then return nil end
      local note = ("The top %d per dimension of the interval under the cursor"):format(hh.k)
      if hh.rows then
        note = note .. (", embedded for the %d busiest intervals of %d (all of them in the heavy-hitter table, " ..
          "hh/%s_hh.tsv)"):format(#hh.rows, ctx.n, esc(ctx.name))
      end
      return "<p class=\"hint\">" .. note .. ".</p>\n<div id=\"tpp-hh\" class=\"hh\"></div>\n"
    end },
  { id = "ports", title = "Busiest ports", render = function(ctx)
      local r = ctx.r
      if ctx.n == 0 or not r.top_ports then return nil end
      local out = { "<table>\n<tr><th>series</th><th>distinct ports</th><th>top ports of the whole trace " ..
                    "(packets)</th></tr>\n" }
      for _, series in ipairs(PORT_SERIES) do
        local ok, top = pcall(r.top_ports, r, series, nil, 10)
        local ok2, distinct = pcall(r.distinct_ports, r, series)
        if ok then
          out[#out + 1] = ("<tr><th>%s</th><td class=\"n\">%s</td><td>%s</td></tr>\n"):format(esc(series),
            ok2 and tostring(distinct) or "?", #top > 0 and esc(tostring(top)) or "none")
        end
      end
      out[#out + 1] = "</table>\n"
      if ctx.dygraphs and ctx.data.ports then
        out[#out + 1] = "<p class=\"hint\">Per interval, packets of the " .. page.PORTS_TOP ..
          " busiest ports of each series and of all the others.</p>\n<div id=\"tpp-ports\"></div>\n"
      end
      return table.concat(out)
    end },
  { id = "labels", title = "Labelled windows", render = function(ctx)
      local labels = ctx.r.labels
      if type(labels) ~= "table" or #labels == 0 then return nil end
      local out = { "<table>\n<tr><th>id</th><th>type</th><th>taxonomy</th><th>from (UTC)</th><th>to</th></tr>\n" }
      for _, l in ipairs(labels) do
        local from, to = math.tointeger(l.from_ns), math.tointeger(l.to_ns)
        out[#out + 1] = ("<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n"):format(
          esc(l.id or ""), esc(l.type or ""), esc(l.taxonomy or ""), from and esc(utc(from, true)) or "?",
          to and esc(utc(to, true)) or "?")
      end
      out[#out + 1] = "</table>\n<p class=\"hint\">Shaded in the charts above.</p>\n"
      return table.concat(out)
    end },
  { id = "alarms", title = "Alarms", render = function(ctx)   -- the anomaly scores' alarms (issue 17)
      return require("tpp.score_report").alarms_body(ctx.r, esc)
    end },
  { id = "figures", title = "Figures", render = figure_list },
}

---------------------------------------------------------------------------------------------------------------
-- The page
---------------------------------------------------------------------------------------------------------------

local STYLE = [[
body{font-family:system-ui,sans-serif;margin:1em 2em;color:#222}h1{margin-bottom:.2em}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;text-align:left;vertical-align:top}
td.n{text-align:right}table.glance th{background:#f4f4f4;white-space:nowrap}
nav a{margin-right:1em}.hint{color:#555;font-size:90%}.fail{color:#b00}
.chart{margin:.6em 0 1.2em}.chart h3{font-size:95%;margin:0 0 .2em}.chart .g{width:100%;height:180px}
.chart .leg{font-size:80%;min-height:1.3em;color:#333}.chart.first .g{height:240px}
.cursor{position:sticky;top:0;background:#fffbe6;border:1px solid #eed;padding:3px 8px;z-index:10;font-size:90%}
.hh{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start}.hh table{font-size:85%}.hh caption{font-weight:bold;text-align:left}
figure{margin:2em 0}img{max-width:100%;height:auto;border:1px solid #eee}
]]

-- The page's script: decodes the data, checks itself (#selftest writes the table back as TSV), draws the charts
-- when dygraphs is there, and fills the heavy-hitter tables for the interval under the cursor.  Nothing it reads
-- is ever run or parsed as markup: text goes in through textContent only.
local SCRIPT = [==[
(function () {
  "use strict";
  var status = document.getElementById("tpp-status");
  var D = JSON.parse(document.getElementById("tpp-data").textContent);
  var n = D.n;
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }
  // a column's cells as the TSV spells them
  function cells(enc) {
    var out, i;
    if (typeof enc === "string") return n === 0 ? [] : enc.split(",");
    out = new Array(n);
    if (enc.same !== undefined) { for (i = 0; i < n; i++) out[i] = enc.same; return out; }
    var t0 = BigInt(enc.ns0), step = BigInt(enc.step), G = 1000000000n;
    for (i = 0; i < n; i++) {
      var fix = enc.fix[String(i)];
      if (fix !== undefined) { out[i] = fix; continue; }
      var v = t0 + BigInt(i) * step, neg = v < 0n, a = neg ? -v : v;
      out[i] = (neg ? "-" : "") + (a / G).toString() + "." + (a % G).toString().padStart(9, "0");
    }
    return out;
  }
  function num(c) { return c === "nan" ? null : c === "inf" ? Infinity : c === "-inf" ? -Infinity : Number(c); }
  var text = {}, values = {};
  D.columns.forEach(function (name) { text[name] = cells(D.data[name]); values[name] = text[name].map(num); });
  var times = values.start.map(function (s) { return new Date(s * 1000); });

  // self-check: the table as TSV, its FNV-1a hash always, the text itself on #selftest
  var lines = [D.columns.join("\t")];
  for (var i = 0; i < n; i++) lines.push(D.columns.map(function (c) { return text[c][i]; }).join("\t"));
  var tsv = lines.join("\n") + "\n", h = 0x811c9dc5;
  for (i = 0; i < tsv.length; i++) { h ^= tsv.charCodeAt(i); h = Math.imul(h, 0x01000193) >>> 0; }
  status.setAttribute("data-rows", String(n));
  status.setAttribute("data-fnv", ("00000000" + h.toString(16)).slice(-8));
  if (location.hash === "#selftest") {
    var pre = el("pre", tsv); pre.id = "tpp-selftest"; pre.hidden = true; document.body.appendChild(pre);
  }

  var pad = function (x, k) { return String(x).padStart(k || 2, "0"); };
  function clock(ms) {
    var d = new Date(ms);
    return pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()) + ":" + pad(d.getUTCSeconds()) + "." +
      pad(d.getUTCMilliseconds(), 3);
  }
  function day(ms) { return new Date(ms).toISOString().slice(0, 10); }
  function fmt(v) {
    if (v === null || v === undefined || Number.isNaN(v)) return "–";
    if (Number.isInteger(v)) return v.toLocaleString("en-US");
    var a = Math.abs(v);
    return a !== 0 && (a < 1e-3 || a >= 1e6) ? v.toExponential(4) : String(Number(v.toPrecision(5)));
  }

  // the interval under the cursor: its time and its heavy hitters
  var cursorBox = document.getElementById("tpp-cursor"), hhBox = document.getElementById("tpp-hh");
  var hhRows = null, hhCache = {};
  if (D.hh && D.hh.rows) { hhRows = {}; D.hh.rows.forEach(function (r, k) { hhRows[r] = k; }); }
  function hhOf(dim, row) {
    var k = hhRows ? hhRows[row] : row;
    if (k === undefined) return null;
    if (!hhCache[dim]) hhCache[dim] = D.hh.top[dim].split(";");
    var part = hhCache[dim][k];
    if (!part) return [];
    return part.split(",").map(function (p) { var a = p.split(":"); return [D.hh.keys[dim][+a[0]], +a[1]]; });
  }
  function showRow(row) {
    if (row === null || row < 0 || row >= n) return;
    if (cursorBox) {
      // the top heavy hitter of each dimension on the sticky line too, in sight while the pointer is on a chart
      var tops = !D.hh ? [] : D.hh.dims.map(function (dim) {
        var l = hhOf(dim, row), denom = values[D.hh.denominator[dim]][row];
        return l && l.length ? dim + " " + l[0][0] + (denom ? " (" + (100 * l[0][1] / denom).toFixed(1) + " %)" : "")
          : null;
      }).filter(function (x) { return x; });
      cursorBox.textContent = "interval " + text.interval[row] + ": " + day(times[row].getTime()) + " " +
        clock(times[row].getTime()) + " UTC, " + fmt(values.packets[row]) + " packets" +
        (tops.length ? "; top: " + tops.join(", ") : "");
    }
    if (!hhBox || !D.hh) return;
    hhBox.textContent = "";
    D.hh.dims.forEach(function (dim) {
      var t = el("table"), list = hhOf(dim, row), denom = values[D.hh.denominator[dim]][row];
      t.appendChild(el("caption", dim));
      var head = el("tr"); head.appendChild(el("th", "key")); head.appendChild(el("th", "packets"));
      head.appendChild(el("th", "share")); t.appendChild(head);
      if (list === null) {
        var tr0 = el("tr"), td0 = el("td", "not embedded (not among the busiest intervals)");
        td0.colSpan = 3; tr0.appendChild(td0); t.appendChild(tr0);
      } else {
        list.forEach(function (e) {
          var tr = el("tr");
          tr.appendChild(el("td", e[0])); tr.appendChild(el("td", fmt(e[1]), "n"));
          tr.appendChild(el("td", denom ? (100 * e[1] / denom).toFixed(2) + " %" : "–", "n"));
          t.appendChild(tr);
        });
        if (list.length === 0) { var tr1 = el("tr"); tr1.appendChild(el("td", "none")); t.appendChild(tr1); }
      }
      hhBox.appendChild(t);
    });
  }
  var busiest = 0;
  for (i = 1; i < n; i++) if (values.packets[i] > values.packets[busiest]) busiest = i;
  showRow(n > 0 ? busiest : null);

  var charts = [];
  if (typeof Dygraph !== "undefined" && n > 0 && document.getElementById("tpp-charts")) {
    var dayEl = document.getElementById("tpp-day");
    if (dayEl) {
      var d0 = day(times[0].getTime()), d1 = day(times[n - 1].getTime());
      dayEl.textContent = d0 === d1 ? "all on " + d0 + "." : "from " + d0 + " to " + d1 + ".";
    }
    var syncing = false;
    var labelsNs = (D.labels || []).map(function (l) { return [Number(BigInt(l.from_ns) / 1000000n),
      Number(BigInt(l.to_ns) / 1000000n)]; });
    var shade = labelsNs.length === 0 ? null : function (ctx, area, g) {
      ctx.fillStyle = "rgba(255, 140, 0, 0.18)";
      labelsNs.forEach(function (w) {
        var x0 = g.toDomXCoord(w[0]), x1 = g.toDomXCoord(w[1]);
        ctx.fillRect(x0, area.y, Math.max(1, x1 - x0), area.h);
      });
    };
    // charts far below the window are drawn when they come near it (a 30,000-interval page opens in about a
    // second); the self-test draws them all at once
    var shownWindow = null, boxes = 0, lazy = new Map(), observer = null;
    if (typeof IntersectionObserver !== "undefined" && location.hash !== "#selftest") {
      observer = new IntersectionObserver(function (entries) {
        entries.forEach(function (e) {
          var build = lazy.get(e.target);
          if (!e.isIntersecting || !build) return;
          lazy.delete(e.target);
          observer.unobserve(e.target);
          build();
        });
      }, { rootMargin: "800px 0px" });
    }
    var make = function (parent, title, unit, names, series, first) {
      var box = el("div", null, "chart" + (first ? " first" : ""));
      box.appendChild(el("h3", title + (unit ? " (" + unit + ")" : "")));
      var g = el("div", null, "g"), leg = el("div", null, "leg");
      box.appendChild(g); box.appendChild(leg); parent.appendChild(box);
      boxes++;
      if (observer && boxes > 3) { lazy.set(box, function () { build(g, leg, names, series, first); });
                                   observer.observe(box); }
      else build(g, leg, names, series, first);
    };
    var build = function (g, leg, names, series, first) {
      var rows = new Array(n);
      for (var r = 0; r < n; r++) {
        var row = [times[r]];
        for (var s = 0; s < series.length; s++) row.push(series[s][r]);
        rows[r] = row;
      }
      var chart = new Dygraph(g, rows, {
        labels: ["time"].concat(names), labelsUTC: true, labelsDiv: leg, legend: "always",
        labelsSeparateLines: false, labelsKMB: true, showRangeSelector: !!first, rangeSelectorHeight: 30, connectSeparatedPoints: false,
        drawPoints: n <= 200, strokeWidth: 1.2, highlightSeriesOpts: null, underlayCallback: shade,
        axes: { x: { valueFormatter: function (ms) { return day(ms) + " " + clock(ms) + " UTC"; },
                     pixelsPerLabel: 90, axisLabelWidth: 80 },
                y: { valueFormatter: fmt, axisLabelWidth: 70 } },
        highlightCallback: function (e, x, pts, row) {
          if (syncing) return;
          syncing = true;
          charts.forEach(function (c) { if (c !== chart) c.setSelection(row); });
          syncing = false;
          showRow(row);
        },
        unhighlightCallback: function () {
          if (syncing) return;
          syncing = true;
          charts.forEach(function (c) { if (c !== chart) c.clearSelection(); });
          syncing = false;
        },
        drawCallback: function (me, initial) {
          if (syncing || initial) return;
          syncing = true;
          var range = me.xAxisRange();
          shownWindow = range;
          charts.forEach(function (c) {
            if (c === me) return;
            var o = c.xAxisRange();
            if (o[0] !== range[0] || o[1] !== range[1]) c.updateOptions({ dateWindow: range });
          });
          syncing = false;
        }
      });
      charts.push(chart);
      if (shownWindow) {   // a chart drawn late shows the window the others show
        syncing = true;
        chart.updateOptions({ dateWindow: shownWindow });
        syncing = false;
      }
    };
    var parent = document.getElementById("tpp-charts");
    D.charts.forEach(function (c, k) {
      make(parent, c.title, c.unit, c.columns, c.columns.map(function (name) { return values[name]; }), k === 0);
    });
    var portBox = document.getElementById("tpp-ports");
    if (portBox && D.ports) {
      D.ports.forEach(function (p) {
        // "other" first, so that the named ports are drawn over it
        var names = ["other"].concat(p.ports.map(function (x) { return "port " + x; }));
        var series = [p.other.split(",").map(Number)].concat(p.counts.map(function (c) {
          return c.split(",").map(Number); }));
        make(portBox, p.series, "packets", names, series, false);
      });
    }
  }
  status.setAttribute("data-charts", String(typeof boxes === "number" ? boxes : 0));
  if (location.hash === "#selftest" && charts.length > 1 && n > 3) {
    // a zoom of the first chart reaches every other one
    var want = [times[1].getTime(), times[n - 2].getTime()];
    charts[0].updateOptions({ dateWindow: want });
    status.setAttribute("data-synced", charts.every(function (c) {
      var got = c.xAxisRange();
      return got[0] === want[0] && got[1] === want[1];
    }) ? "1" : "0");
  }
  if (!status.hasAttribute("data-error")) status.setAttribute("data-ok", "1");
})();
]==]
page.SCRIPT = SCRIPT

-- The first script of the page, before anything can fail or fetch: a script error anywhere (dygraphs' too) and
-- every request the CSP blocks are written into the status element, which the specs read.
local GUARD = [==[
(function () {
  "use strict";
  var status = document.getElementById("tpp-status");
  window.onerror = function (msg, src, line) {
    status.setAttribute("data-ok", "0");
    status.setAttribute("data-error", String(msg) + " (line " + line + ")");
  };
  document.addEventListener("securitypolicyviolation", function (e) {
    status.setAttribute("data-blocked", (status.getAttribute("data-blocked") || "") + e.blockedURI + " ");
  });
})();
]==]

-- html(r, opts) -> the page's text, or nil and a message (the critical table does not match the result).
function page.html(r, opts)
  opts = opts or {}
  local n = #r
  local text = r:critical_text()   -- the critical TSV, as r:write_critical writes it
  local names, encoded, rows = tsv_columns(text)
  text = nil   -- the collector may have the table's text now
  if rows ~= n then return nil, ("the critical table has %d rows for %d intervals"):format(rows, n) end
  local data = { n = n, columns = names, data = encoded, name = opts.name or "" }
  data.charts, data.off = chart_list(names, encoded)
  if #data.off == 0 then data.off = page.EMPTY_LIST end
  data.hh = heavy_hitters(r, n)
  data.ports = port_charts(r, n)
  if type(r.labels) == "table" then
    data.labels = {}
    for _, l in ipairs(r.labels) do
      local from, to = math.tointeger(l.from_ns), math.tointeger(l.to_ns)
      if from and to then data.labels[#data.labels + 1] = { from_ns = tostring(from), to_ns = tostring(to) } end
    end
    if #data.labels == 0 then data.labels = nil end
  end
  local dy, missing = read_dygraphs(opts.dygraphs)
  local ctx = { r = r, n = n, name = opts.name or "trace", opts = opts, data = data, esc = esc, dygraphs = dy,
                dygraphs_missing = missing }

  local out = {}
  local function w(...) for i = 1, select("#", ...) do out[#out + 1] = select(i, ...) end end
  local title = esc(ctx.name)
  w("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n",
    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src 'unsafe-inline'; ",
    "style-src 'unsafe-inline'; img-src 'self' file: data:\">\n",
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n",
    "<title>tpp: ", title, "</title>\n<style>\n", STYLE, dy and dy.css or "", "\n</style>\n</head>\n<body>\n",
    "<div id=\"tpp-status\" hidden></div>\n<script id=\"tpp-guard\">", GUARD, "</script>\n<h1>", title,
    "</h1>\n<nav>")
  local bodies = {}
  for _, s in ipairs(page.sections) do
    local body = s.render(ctx)
    if body then
      bodies[#bodies + 1] = { s, body }
      w("<a href=\"#", s.id, "\">", esc(s.title), "</a>")
    end
  end
  w("</nav>\n")
  for _, b in ipairs(bodies) do
    w("<section id=\"", b[1].id, "\">\n<h2>", esc(b[1].title), "</h2>\n", b[2], "</section>\n")
  end
  w("<p><small>Written by tpp ", esc(tpp.version or ""), dy and " with dygraphs" or "", ".</small></p>\n",
    "<script type=\"application/json\" id=\"tpp-data\">")
  json(data, out)   -- into the page's pieces: one copy of the data fewer than page.json(data)
  w("</script>\n")
  if dy then w("<script id=\"tpp-dygraphs\">", dy.js, "\n</script>\n") end
  w("<script id=\"tpp-page\">", SCRIPT, "</script>\n</body>\n</html>\n")
  return table.concat(out)
end

return page
