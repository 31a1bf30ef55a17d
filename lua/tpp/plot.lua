-- tpp.plot: draws the figures of a result (from tpp.parse or tpp.load) with gnuplot — the original tool's 18 and
-- tpp's own 19-22 (tpp.figures) — and a page that shows them with the trace's summary.
--
--   local plot = require "tpp.plot"
--   local files, failures = plot.draw(r, { dir = "out/plot", stem = "2023", figures = { 1, 2, 12 } })
--   for _, f in ipairs(failures) do io.stderr:write("figure ", f.figure, ": ", f.reason, "\n") end
--
-- draw(r, opts) writes dir/<stem>_<n>.<format> for each figure n, and dir/<stem>.html (the interactive page of
-- tpp.page: the summary, every column as a chart, and all figures).  Returns
--   files     every path written: the figures (and heatmaps) in figure order, then the page
--   failures  a list of { figure = n, kind = "figure", reason = text } (figure = "html", kind = "page" for the
--             page); empty when all went well.  When gnuplot is missing it holds a single failure
--             { kind = "missing gnuplot", reason = "gnuplot not found: install the Debian package gnuplot-nox",
--             figures = the figures not drawn } (no `figure`), and the page is still written.
--   info      { html = page path, warnings = { { figure = n, text = gnuplot's stderr of a good run } ... },
--               seconds = wall time, dropped = { [figure] = { bars = n, packets = n } not drawn of a 3D port figure },
--               missing_gnuplot = reason or nil }
-- A figure that fails never stops the others.  Names from outside (dir, stem, the result's source) never reach
-- gnuplot: it runs in a private work directory and writes fig_<n>.png there, which is moved to its real name only
-- when the run succeeded (tpp.gnuplot); the page escapes every such string.  An error or an interrupt while
-- drawing kills the gnuplot processes, removes the work directory and any half-written file, and is raised again.
-- A wrong option raises an error (misuse); failures of the world come back in `failures`.
--
-- opts (all optional):
--   dir ("plot")  stem (the capture's name without its extensions)  figures (list of numbers 1..22; default all)
--   format ("png" | "svg")  width (1280)  height (720)  dpi (100: fonts and lines scale with dpi / 100; the
--     original's 16 x 9 in at 600 dpi is width 9600, height 5400, dpi 600)
--   alpha (0.5, of the 3D bars)  dynamic_alpha (false: alpha proportional to the bar's height, floor 0.1)
--   log_ports (false: log-scaled port axis)  max_intervals (0 = all: draw only the first N intervals)
--   min_share (0.002: 3D bars below this fraction of the figure's highest bar are left out and counted in the figure)
--   heatmap (false: also dir/<stem>_<n>_heatmap.<format> for figures 12-15, ports binned on a log scale)
--   port_view ("auto": the port figures 12-18 as 3D bars, or as heatmaps when there are more than 200 intervals or
--     the bars would leave out more than 25 % of the packets, saying so in the title; "bars"; "heatmap")
--   jobs (tpp.cpus(): gnuplot processes run at once)  quiet (false: a line per failure or gnuplot
--     warning and a summary line on stderr)
--   gnuplot ("gnuplot": the program, looked up in $PATH unless it holds a '/')
--   workdir (where scripts, data files and the figures being drawn go; kept when given, otherwise a new directory
--     under $TMPDIR that is removed afterwards)
local lfs = require "lfs"
local tpp = require "tpp"
local figures = require "tpp.figures"
local gnuplot = require "tpp.gnuplot"
local walk = require "tpp.walk"

local plot = {}

-- The default size of a figure, in pixels: HD, and a PNG of it costs gnuplot about 18 ms to encode (1600 x 900,
-- 29 ms), which is most of a small capture's drawing.  The one place it is defined (scripts/plot.lua's help too).
plot.WIDTH, plot.HEIGHT = 1280, 720

-- The name figures are called after: the capture's stem as the main job names it (tpp.walk), a dump's without .tpd,
-- cut as the main job cuts a long one so that "<stem>_12_heatmap.png" still fits in a file name.
local function stem_of(path)
  local name = walk.stem(tostring(path or "trace")):gsub("%.tpd$", "")
  return (name ~= "" and not name:find("/", 1, true)) and walk.fit_name(name) or "trace"
end
plot.stem = stem_of

local KNOWN = { dir = true, stem = true, figures = true, format = true, width = true, height = true, dpi = true,
                alpha = true, dynamic_alpha = true, log_ports = true, max_intervals = true, jobs = true,
                quiet = true, gnuplot = true, workdir = true, min_share = true, heatmap = true,
                bar_width = true, port_view = true }

local function check_number(o, name, default, lo, hi, integer)
  local v = o[name]
  if v == nil then return default end
  if type(v) ~= "number" or v ~= v or v < lo or (hi and v > hi) or (integer and math.floor(v) ~= v) then
    error(("tpp.plot: option %s must be %s %s%s, got %s"):format(name, integer and "an integer" or "a number",
      hi and ("from " .. lo .. " to " .. hi) or (">= " .. lo), "", tostring(v)), 3)
  end
  return integer and math.tointeger(v) or v
end

-- The options with their defaults; raises on a misspelt or out-of-range option.
local function check_options(r, opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("tpp.plot: options must be a table", 3) end
  for k in pairs(opts) do
    if not KNOWN[k] then error(("tpp.plot: unknown option %q"):format(tostring(k)), 3) end
  end
  local o = {}
  o.dir = opts.dir or "plot"
  o.stem = opts.stem or stem_of(r.source)
  if type(o.dir) ~= "string" or o.dir == "" or o.dir:find("%z") then
    error("tpp.plot: option dir must be a directory name", 3)
  end
  if type(o.stem) ~= "string" or o.stem == "" or o.stem:find("[/%z]") then
    error("tpp.plot: option stem must be a file-name prefix without '/' or NUL", 3)
  end
  o.format = opts.format or "png"
  if o.format ~= "png" and o.format ~= "svg" then
    error(("tpp.plot: option format must be \"png\" or \"svg\", got %q"):format(tostring(o.format)), 3)
  end
  o.width = check_number(opts, "width", plot.WIDTH, 64, 30000, true)
  o.height = check_number(opts, "height", plot.HEIGHT, 64, 30000, true)
  o.dpi = check_number(opts, "dpi", 100, 10, 2400)
  o.alpha = check_number(opts, "alpha", 0.5, 0.01, 1)
  o.min_share = check_number(opts, "min_share", 0.002, 0, 1)
  o.max_intervals = check_number(opts, "max_intervals", 0, 0, nil, true)
  o.jobs = check_number(opts, "jobs", nil, 1, 256, true) or tpp.cpus()
  o.bar_width = check_number(opts, "bar_width", 2, 0.1, 100) * o.dpi / 100
  o.dynamic_alpha = opts.dynamic_alpha and true or false
  o.log_ports = opts.log_ports and true or false
  o.heatmap = opts.heatmap and true or false
  o.port_view = opts.port_view or "auto"
  if o.port_view ~= "auto" and o.port_view ~= "bars" and o.port_view ~= "heatmap" then
    error(("tpp.plot: option port_view must be \"auto\", \"bars\" or \"heatmap\", got %q"):format(tostring(o.port_view)), 3)
  end
  o.quiet = opts.quiet and true or false
  o.gnuplot = opts.gnuplot or "gnuplot"
  if type(o.gnuplot) ~= "string" then error("tpp.plot: option gnuplot must be a command name or path", 3) end
  o.workdir = opts.workdir
  local list = opts.figures
  if list == nil then
    list = {}
    for i = 1, figures.count do list[i] = i end
  end
  if type(list) ~= "table" then error("tpp.plot: option figures must be a list of figure numbers", 3) end
  local seen, sorted = {}, {}
  for _, n in ipairs(list) do
    if math.type(n) ~= "integer" and not (type(n) == "number" and n == math.floor(n)) or not figures.get(n) then
      error(("tpp.plot: no figure %s (figures are numbered 1 to %d)"):format(tostring(n), figures.count), 3)
    end
    n = math.tointeger(n)
    if not seen[n] then seen[n] = true; sorted[#sorted + 1] = n end
  end
  table.sort(sorted)
  o.figures = sorted
  local n = #r
  if o.max_intervals > 0 and o.max_intervals < n then n = o.max_intervals end
  o.n = n
  return o
end

-- mkdir -p; returns true or nil and "dir: reason" in the system's words ("x: not a directory").
local function mkdir_p(dir)
  return require("tpp.outputs").mkdir(dir)
end

-- A new directory of this process under `base`, with a name nobody can have prepared (mkdir fails on an existing
-- one, so a taken name is simply skipped).  Returns its path or nil and the last reason.
local function new_dir(base, prefix)
  local err
  for _ = 1, 20 do
    local name = ("%s/%s%d-%08x"):format(base, prefix, tpp.pid(), math.random(0, 0x7fffffff))
    local ok
    ok, err = lfs.mkdir(name)
    if ok then return name end
  end
  return nil, err
end

-- The work directory of one drawing: under $TMPDIR (or /tmp), else hidden beside the outputs.
local function make_workdir(dir)
  local base = os.getenv("TMPDIR")
  if not base or base == "" then base = "/tmp" end
  local name = new_dir(base, "tpp-plot-")
  if name then return name end
  local err
  name, err = new_dir(dir, ".tpp-plot-")
  if not name then return nil, "cannot create a temporary directory: " .. tostring(err) end
  return name
end

-- Removes the files of a work directory that draw created, then the directory.
local function remove_workdir(dir)
  for name in lfs.dir(dir) do
    if name ~= "." and name ~= ".." then os.remove(dir .. "/" .. name) end
  end
  lfs.rmdir(dir)
end

-- Text for HTML content and attribute values: every character that could start markup or end a quoted attribute.
local HTML = { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&#39;" }
local function html_escape(s)
  return (tostring(s):gsub("[&<>\"']", HTML))
end
plot.html_escape = html_escape

-- A file name as a relative URL: everything but unreserved characters percent-encoded (a ':' could otherwise
-- make it a scheme, a '?' or '#' end the path).
local function url_escape(s)
  return (s:gsub("[^%w%-%._~]", function(c) return ("%%%02X"):format(c:byte()) end))
end
plot.url_escape = url_escape

-- The page (tpp.page): the summary, the charts and every figure of this drawing (a failed one with its reason).
local function write_html(path, r, o, jobs, failures_by, missing_gnuplot)
  local figs = {}
  for _, job in ipairs(jobs) do
    figs[#figs + 1] = { number = job.figure, title = figures.get(job.figure).title, heatmap = job.heatmap,
                        file = job.ok and job.output:match("([^/]+)$") or nil, own = true,
                        reason = job.reason or "unknown reason", width = o.width, height = o.height }
  end
  for _, n in ipairs(o.figures) do
    if failures_by[n] and not failures_by[n].listed then
      figs[#figs + 1] = { number = n, title = figures.get(n).title, reason = failures_by[n].reason }
    end
  end
  local html, err = require("tpp.page").html(r, { name = o.stem, figures = figs,
    note = missing_gnuplot and ("No figure drawn: " .. missing_gnuplot) or nil })
  if not html then return nil, err end
  -- atomic, as every output of tpp (tpp.write_atomic: an unnamed temporary beside the page, fsync'ed and renamed
  -- over it; nothing is left behind by a failure or a kill, and a stale temporary of a dead writer is removed)
  return tpp.write_atomic(path, html)
end

-- A name for a message line: control characters (a newline in a file name) shown as escapes.
local printable = walk.printable

-- draw(r, opts) -> files, failures, info   (see the top of this file)
function plot.draw(r, opts)
  local rt = type(r)
  if (rt ~= "userdata" and rt ~= "table") or not pcall(function() return r.column end) or not r.column then
    error("tpp.plot.draw: expected a result of tpp.parse or tpp.load, got " .. rt, 2)
  end
  local o = check_options(r, opts)
  local started = tpp.now()
  local files, failures, info = {}, {}, { warnings = {}, dropped = {} }
  local failures_by = {}
  local function fail(n, reason, kind)
    failures[#failures + 1] = { figure = n, reason = reason, kind = kind or (n == "html" and "page" or "figure") }
    if n then failures_by[n] = failures_by[n] or failures[#failures] end
    if not o.quiet then
      local what = n == "html" and "page: " or n and ("figure " .. tostring(n) .. ": ") or ""
      io.stderr:write(("plot: %s: %s%s\n"):format(printable(o.stem), what, printable(reason)))
    end
  end
  local ext = o.format
  local html = o.dir .. "/" .. o.stem .. ".html"
  info.html = html

  local dir_ok, dir_err = mkdir_p(o.dir)
  if not dir_ok then
    -- every figure and the page fail alike: each is in `failures`, but it is said once
    local quiet = o.quiet
    o.quiet = true
    for _, n in ipairs(o.figures) do fail(n, "cannot create the output directory: " .. dir_err) end
    o.quiet = quiet
    fail("html", "cannot create the output directory: " .. dir_err)
    return files, failures, info
  end

  local jobs = {}
  local exe, missing = gnuplot.find(o.gnuplot)
  local workdir, own_workdir
  if exe and #o.figures > 0 then
    if o.workdir then
      local ok, err = mkdir_p(o.workdir)
      if not ok then error("tpp.plot: option workdir: " .. err, 2) end
      workdir = o.workdir
    else
      local err
      workdir, err = make_workdir(o.dir)
      if not workdir then
        for _, n in ipairs(o.figures) do fail(n, err) end
        exe = nil
      end
      own_workdir = workdir ~= nil
    end
  elseif not exe and #o.figures > 0 then
    -- one failure for the drawing, not one per figure: the caller says it once
    fail(nil, missing, "missing gnuplot")
    failures[#failures].figures = o.figures
    info.missing_gnuplot = missing
  end

  if exe and #o.figures > 0 then
    o.workdir = workdir
    local ok_prep, prep_err = pcall(function()
      local ctx = gnuplot.context(r, o)
      local function add(fig, heatmap)
        local base = o.stem .. "_" .. fig.name .. (heatmap and "_heatmap" or "") .. "." .. ext
        local ok, job = pcall(gnuplot.prepare, fig, ctx, { output = o.dir .. "/" .. base, heatmap = heatmap })
        if ok then jobs[#jobs + 1] = job
        elseif tpp.interrupted(job) then error(job, 0)   -- Ctrl-C is not a figure's failure
        else fail(fig.number, (heatmap and "heatmap: " or "") .. "cannot write its gnuplot input: " .. tostring(job)) end
      end
      for _, n in ipairs(o.figures) do
        local fig = figures.get(n)
        add(fig, false)
        if o.heatmap and fig.kind == "ports" and #fig.series == 1 then add(fig, true) end
      end
      for _, job in ipairs(jobs) do
        if job.dropped_bars then
          info.dropped[job.figure] = { bars = job.dropped_bars, packets = job.dropped_packets }
        end
      end
    end)
    local function on_done(job)
      if not job.ok then
        fail(job.figure, (job.heatmap and "heatmap: " or "") .. job.reason)
        failures_by[job.figure].listed = true
      end
      if job.warning then
        info.warnings[#info.warnings + 1] = { figure = job.figure, text = job.warning }
        if not o.quiet then
          io.stderr:write(("plot: %s: figure %d: gnuplot: %s\n"):format(printable(o.stem), job.figure, job.warning))
        end
      end
    end
    -- an error or an interrupt while drawing still removes the work directory and any half-written figure
    local drawn, draw_err = ok_prep, prep_err
    if drawn then
      drawn, draw_err = pcall(gnuplot.run, jobs, { gnuplot = exe, jobs = o.jobs, dir = workdir, on_done = on_done })
    end
    if own_workdir then remove_workdir(workdir) end
    if not drawn then error(draw_err, 0) end
    for _, job in ipairs(jobs) do
      if job.ok then files[#files + 1] = job.output end
    end
  end

  local ok, err = write_html(html, r, o, jobs, failures_by, info.missing_gnuplot)
  if ok then files[#files + 1] = html else fail("html", "cannot write the page: " .. tostring(err)) end
  info.seconds = tpp.now() - started
  if not o.quiet then
    local total = math.max(#jobs, #o.figures)
    io.stderr:write(("plot: %s: %d of %d figure%s in %.1f s -> %s\n"):format(printable(o.stem), #files - (ok and 1 or 0),
      total, total == 1 and "" or "s", info.seconds, printable(ok and html or o.dir)))
  end
  return files, failures, info
end

return plot
