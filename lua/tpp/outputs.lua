-- tpp.outputs: where the main job's files go and how its own text files are written (atomically).
--
--   DIR/mem_dump/<name>.tpd                     the dump (r:dump)
--   DIR/critical/<name>_critical.tsv            per-interval features (r:write_critical)
--   DIR/critical/<name>_critical.tsv.incomplete the reason, when the capture broke part-way (else absent)
--   DIR/port_count/<name>_port_count.tsv        distinct ports per series over the trace, and their total
--                                               (r:write_port_count)
--   DIR/hh/<name>_hh.tsv                        heavy hitters per interval (r:write_heavy_hitters), when the
--                                               result has the feature group hh (outputs.has_hh)
-- The tables' extension is their format's (--format: .tsv, .csv or .ndjson).
--   DIR/labels/<name>_labels.<ext>              one row per anomaly of the labels (r:write_labels), when the
--                                               run has labels (--labels)
--   DIR/plot/                                   figures (tpp.plot)
--   DIR/plot/index.html                         the run's index: every capture, its numbers and status
local lfs = require "lfs"
local tpp = require "tpp"

local outputs = {}

outputs.SERIES = tpp.series

-- The output paths of the capture named `name` under the output root `out`, the tables in `format` ("tsv", the
-- default, "csv" or "ndjson").
function outputs.paths(out, name, format)
  local ext = "." .. (format or "tsv")
  out = out:gsub("/+$", "")
  if out == "" then out = "/" end
  local function at(sub, file) return (out == "/" and "" or out) .. "/" .. sub .. (file and ("/" .. file) or "") end
  return {
    dump = at("mem_dump", name .. ".tpd"),
    critical = at("critical", name .. "_critical" .. ext),
    incomplete = at("critical", name .. "_critical" .. ext .. ".incomplete"),
    port_count = at("port_count", name .. "_port_count" .. ext),
    hh = at("hh", name .. "_hh" .. ext),
    labels = at("labels", name .. "_labels" .. ext),
    plot = at("plot"),
  }
end

-- The run's index page under the output root `out`: plot/index.html.
function outputs.index_path(out)
  return outputs.paths(out, "index").plot .. "/index.html"
end

-- The first output path of the capture named `name` (its tables in `format`) that is the same file as one of
-- `inputs` (compared by device and inode, so links and other spellings count), and that input; nil when there is
-- none.  Outputs replace their targets, and an input must never be replaced.
function outputs.collision(out, name, inputs, format)
  local ids = {}
  for _, path in ipairs(inputs) do
    local a = lfs.attributes(path)
    if a then ids[a.dev .. ":" .. a.ino] = path end
  end
  local p = outputs.paths(out, name, format)
  for _, key in ipairs { "dump", "critical", "incomplete", "port_count", "hh", "labels" } do
    local a = lfs.attributes(p[key])
    if a and ids[a.dev .. ":" .. a.ino] then return p[key], ids[a.dev .. ":" .. a.ino] end
  end
  return nil
end

-- The system's reason from an lfs message ("cannot obtain information from file 'x': Not a directory" ->
-- "not a directory").
local function reason(err)
  local text = tostring(err):match(": ([^:]+)$") or tostring(err)
  return text:sub(1, 1):lower() .. text:sub(2)
end

local ENOENT = 2

-- mkdir -p: returns true or nil, "dir: reason" (the reason in the system's words: "not a directory", "too many
-- levels of symbolic links", "read-only file system", "permission denied").  The directories it creates are
-- appended to the list `created` when one is given.
function outputs.mkdir(dir, created)
  local sofar = dir:sub(1, 1) == "/" and "/" or ""
  for part in dir:gmatch("[^/]+") do
    sofar = sofar .. part
    local a, err, code = lfs.attributes(sofar)
    if not a then
      if code ~= ENOENT then return nil, sofar .. ": " .. reason(err) end
      if lfs.symlinkattributes(sofar, "mode") == "link" then
        return nil, sofar .. ": dangling symbolic link (its target does not exist)"
      end
      local ok, merr = lfs.mkdir(sofar)
      -- another process may have created it in the meantime
      if not ok and lfs.attributes(sofar, "mode") ~= "directory" then
        return nil, sofar .. ": cannot create: " .. reason(merr)
      end
      if ok and created then created[#created + 1] = sofar end
    elseif a.mode ~= "directory" then
      return nil, sofar .. ": not a directory"
    end
    sofar = sofar .. "/"
  end
  return true
end

-- Create the output directories under `out` (plot/ only when `with_plot`; mem_dump/ alone when `dumps_only`;
-- labels/ when `with_labels`).  true and the list of directories it created (for outputs.remove_empty), or nil,
-- message.
function outputs.prepare(out, with_plot, dumps_only, with_labels)
  local p, created = outputs.paths(out, "x"), {}
  local dirs = dumps_only and { p.dump } or { p.dump, p.critical, p.port_count, p.hh, with_labels and p.labels or nil }
  for _, dir in ipairs(dirs) do
    local ok, err = outputs.mkdir(dir:match("^(.*)/[^/]*$"), created)
    if not ok then return nil, err end
  end
  if with_plot then
    local ok, err = outputs.mkdir(p.plot, created)
    if not ok then return nil, err end
  end
  return true, created
end

-- Remove the directories of `created` (outputs.prepare's list) that nothing was written to, deepest first: a run
-- that wrote nothing (every capture failed, Ctrl-C before the first output) leaves no empty folders behind.
function outputs.remove_empty(created)
  for i = #(created or {}), 1, -1 do lfs.rmdir(created[i]) end   -- fails, as it should, on a directory in use
end

-- Write `text` to `path` atomically, as tpp's other outputs are (tpp.write_atomic: an unnamed temporary file in
-- the target's directory, renamed over the target when complete; nothing is left behind on failure, even when the
-- process is killed).  Returns true or nil, "path: reason".
function outputs.write_atomic(path, text)
  return tpp.write_atomic(path, text)
end

-- The port-count table of a result as text (r:write_port_count writes it): a header (series, distinct_ports),
-- one row per series with the number of distinct ports it used over the whole trace, and their total.
function outputs.port_count_text(r, format)
  local rows, total = {}, 0
  for _, series in ipairs(outputs.SERIES) do
    local n = r:distinct_ports(series)
    total = total + n
    rows[#rows + 1] = { series = series, distinct_ports = n }
  end
  rows[#rows + 1] = { series = "total", distinct_ports = total }
  return require("tpp.tables").text({ "series", "distinct_ports" }, rows, format)
end

-- Whether the result `r` was computed with the feature group hh (its heavy-hitter table is an output then).
function outputs.has_hh(r)
  local f = r.features
  return f == "all" or ("," .. tostring(f) .. ","):find(",hh,", 1, true) ~= nil
end

-- The directories of the output root `out` that hold outputs only (a walk of the root skips them).
function outputs.own_dirs(out)
  local p = outputs.paths(out, "x")
  return { p.dump:match("^(.*)/"), p.critical:match("^(.*)/"), p.port_count:match("^(.*)/"), p.hh:match("^(.*)/"),
           p.labels:match("^(.*)/"), p.plot }
end

-- Write the incomplete-marker beside a critical table (reason = why reading stopped), or remove a stale one
-- (reason = nil).  true or nil, message.
function outputs.mark_incomplete(path, reason)
  if reason then return outputs.write_atomic(path, reason .. "\n") end
  if lfs.attributes(path, "mode") then
    local ok, err = os.remove(path)
    if not ok then return nil, err end
  end
  return true
end

-- The run's index page, plot/index.html: one row per capture (and one for the series), sorted by capture path,
-- each its output name (linked to its page when that was drawn), the capture, packets, intervals and status.
-- `captures` and `series` (or nil) are { name, path (absolute; "-" for standard input), packets, intervals,
-- first_ns, last_ns (the first and last packet, or nil), status = "ok" | "incomplete" | "failed", reason,
-- page = whether plot/<name>.html was written }, series with
-- `pieces`, its number of captures.  Every outside string is escaped, and nothing depends on the moment or the
-- machine (no date, no timing, no version): a run split into tasks and a run on one machine write the same bytes.
function outputs.index_html(captures, series)
  local plot = require "tpp.plot"
  local walk = require "tpp.walk"
  local function text(s) return plot.html_escape(walk.printable(s)) end
  local rows = {}
  for i, c in ipairs(captures) do rows[i] = c end
  table.sort(rows, function(a, b) return a.path < b.path end)
  local counts = { ok = 0, incomplete = 0, failed = 0 }
  local packets, intervals = 0, 0
  for _, c in ipairs(rows) do
    counts[c.status] = (counts[c.status] or 0) + 1
    packets, intervals = packets + (c.packets or 0), intervals + (c.intervals or 0)
  end
  local out = {}
  local function w(...) for i = 1, select("#", ...) do out[#out + 1] = select(i, ...) end end
  local function count(n, word) return ("%d %s%s"):format(n, word, n == 1 and "" or "s") end
  local function name_cell(c)
    if c.page then return ("<a href=\"%s\">%s</a>"):format(plot.url_escape(c.name .. ".html"), text(c.name)) end
    return text(c.name)
  end
  local function status_cell(c)
    local words = { ok = "complete", incomplete = "incomplete", failed = "failed" }
    return ("<td class=\"%s\">%s%s</td>"):format(c.status, words[c.status] or text(c.status),
                                                 c.reason and (": " .. text(c.reason)) or "")
  end
  local function number(v) return v and ("%d"):format(v) or "-" end
  -- the span from the first packet to the last, and the mean packet rate over it
  local function span_cells(c)
    if not (c.first_ns and c.last_ns) then return "<td>-</td><td class=\"n\">-</td>" end
    local seconds = (c.last_ns - c.first_ns) / 1e9
    return ("<td>%s UTC, %s</td><td class=\"n\">%s</td>"):format(
      os.date("!%Y-%m-%d %H:%M:%S", c.first_ns // 1000000000), text(require("tpp.page").duration(seconds)),
      seconds > 0 and c.packets and ("%.1f"):format(c.packets / seconds) or "-")
  end
  local title = count(#rows, "capture")
  w("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>tpp: ", title, "</title>\n",
    "<style>body{font-family:sans-serif;margin:1em 2em}table{border-collapse:collapse}",
    "td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}td.n{text-align:right}",
    ".incomplete{color:#a60}.failed{color:#b00}</style>\n</head>\n<body>\n")
  w("<h1>tpp: ", title, "</h1>\n<p>", counts.ok, " complete, ", counts.incomplete, " incomplete, ", counts.failed,
    " failed; ", count(packets, "packet"), ", ", count(intervals, "interval"), ".</p>\n")
  if series then
    w("<h2>Series</h2>\n<table>\n<tr><th>name</th><th>captures</th><th>packets</th><th>intervals</th>",
      "<th>span (first to last packet)</th><th>packets/s</th><th>status</th></tr>\n<tr><td>", name_cell(series),
      "</td><td class=\"n\">", number(series.pieces), "</td><td class=\"n\">", number(series.packets),
      "</td><td class=\"n\">", number(series.intervals), "</td>", span_cells(series), status_cell(series),
      "</tr>\n</table>\n<h2>Captures</h2>\n")
  end
  w("<table>\n<tr><th>name</th><th>capture</th><th>packets</th><th>intervals</th>",
    "<th>span (first to last packet)</th><th>packets/s</th><th>status</th></tr>\n")
  for _, c in ipairs(rows) do
    w("<tr><td>", name_cell(c), "</td><td>", c.path == "-" and "standard input" or text(c.path),
      "</td><td class=\"n\">", number(c.packets), "</td><td class=\"n\">", number(c.intervals), "</td>",
      span_cells(c), status_cell(c), "</tr>\n")
  end
  w("</table>\n</body>\n</html>\n")
  return table.concat(out)
end

return outputs
