-- tpp.gnuplot: turns a figure description (tpp.figures) and a result into a gnuplot script with its data files,
-- and runs gnuplot on such scripts, up to N at a time.  tpp.plot is the entry point; this module is its engine.
--
-- Data goes to files (gnuplot reads a file about 50x faster than piped data) and every derived value (scaled
-- percentages, band edges, bar offsets, shares, per-bar colours with alpha) is computed here and written into the
-- file, so that the scripts only select columns (`using 1:4:5:6`) and never compute.
--
--   local gp = require "tpp.gnuplot"
--   local exe, why = gp.find("gnuplot")                  -- nil, "gnuplot not found: install ..." when missing
--   local ctx = gp.context(r, opts)                        -- what every figure of one drawing shares
--   local job = gp.prepare(figures.get(12), ctx, { output = "plot/x_12.png" })
--   local results = gp.run({ job, ... }, { gnuplot = exe, jobs = 2, dir = ctx.workdir })
--
-- No string from outside (a file or directory name, capture metadata) is ever part of a script: gnuplot runs as
-- `gnuplot -c batch_1.gp WORKDIR` (an argv, no shell; a batch script loads the figures' scripts in turn), whose
-- first line changes to the work directory given as its argument (a string value, never parsed), and every name in
-- a script (data files, the output
-- fig_12.png) is one this module made up.  A finished figure is then moved to its real name by Lua.  Every text
-- in a script is tpp's own and goes through M.quote, which refuses control characters.
--
-- The cost follows what is drawn, not the result's size: past two intervals per pixel column a time series is
-- written as per-column envelopes (mean, min, max), and past MAX_BAR_INTERVALS intervals, or when bars would leave
-- out more than MAX_HIDDEN_SHARE of the packets, a port figure is a heatmap with at most one column per pixel.
-- Otherwise the 3D port figures draw one impulse per (interval, port) whose share (count / packets of its
-- interval) is at least min_share (default 0.002) of the figure's highest share: a thinner bar is below what one
-- pixel of the z axis shows.  The figure says how many bars, and what share of the packets, were left out.
local lfs = require "lfs"
local tpp = require "tpp"
local pool = require "tpp.pool"
local figures = require "tpp.figures"

local M = {}

M.MISSING = "gnuplot not found: install the Debian package gnuplot-nox"
M.MIN_ALPHA = 0.1           -- the floor of dynamic alpha, as the original's min_alpha

local floor, huge = math.floor, math.huge

-- A gnuplot string literal: single quotes take everything literally except '' for a quote.  A control character
-- (a newline would end the command) is refused: only tpp's own text is ever quoted, so one is a bug.
local function gq(s)
  s = tostring(s)
  if s:find("%c") then error(("tpp.gnuplot: control character in script text %q"):format(s), 2) end
  return "'" .. s:gsub("'", "''") .. "'"
end
M.quote = gq

local function finite(v) return v == v and v ~= huge and v ~= -huge end

-- A number as data-file text: NaN and infinities become NaN, which gnuplot treats as an undefined point.
local function num(v)
  if not finite(v) then return "NaN" end
  if math.type(v) == "integer" then return tostring(v) end
  if v == floor(v) and v > -2^53 and v < 2^53 then return ("%d"):format(v) end
  return ("%.10g"):format(v)
end
M.num = num

-- "1234567" -> "1,234,567"
local function thousands(n)
  local s = tostring(floor(n))
  return (s:reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^,", ""))
end

local function executable(path)
  local a = lfs.attributes(path)
  return a ~= nil and a.mode == "file" and a.permissions:find("x", 1, true) ~= nil
end

-- The program to run for `exe` (default "gnuplot"): a name is looked up in the directories of $PATH, as a shell
-- would; a name with a '/' is taken as a path.  Returns the path, or nil and M.MISSING.
function M.find(exe)
  exe = exe or "gnuplot"
  if exe == "" then return nil, M.MISSING end
  if exe:find("/", 1, true) then
    if executable(exe) then return exe end
    return nil, M.MISSING
  end
  for dir in (os.getenv("PATH") or "/usr/local/bin:/usr/bin:/bin"):gmatch("[^:]*") do
    local path = (dir == "" and "." or dir) .. "/" .. exe
    if executable(path) then return path end
  end
  return nil, M.MISSING
end

---------------------------------------------------------------------------------------------------------------
-- The drawing context
---------------------------------------------------------------------------------------------------------------

-- Above this many intervals a 3D port figure is drawn as a heatmap (port x interval): its bars, a few pixels
-- apart at most, could no longer be told apart.
M.MAX_BAR_INTERVALS = 200
-- A 3D port figure whose bars would leave out more than this share of its packets (bars below one pixel) is drawn
-- as a heatmap too: the bars would misstate the distribution.
M.MAX_HIDDEN_SHARE = 0.25

-- Port bins of the heatmap: port 0 alone, then four bins per octave (bin edges floor(2^(k/4)), duplicates
-- dropped).  Returns the lower edges (edges[b + 1] is the first port of bin b) and a port -> bin table.
local function log_bins()
  local edges, last = { 0 }, 0
  for k = 0, 63 do
    local e = floor(2 ^ (k / 4))
    if e > last then edges[#edges + 1] = e; last = e end
  end
  local bin, b = {}, 0
  for port = 0, 65535 do
    while edges[b + 2] and port >= edges[b + 2] do b = b + 1 end
    bin[port] = b
  end
  return edges, bin
end

-- The time axis of the 2D figures: a point per interval at the interval's end (as the original plotted each
-- interval at the time it closed), UTC, with the date in the tick labels when the span passes a day.
local function time_axis(r, n, delta)
  local ends = r:column("end")
  local xs = {}
  for i = 1, n do xs[i] = ends[i] end
  -- the segments of a series (issue 14): a line must not run across the gap between two of them
  local ax = { xs = xs, segment = r:column("segment") }
  if n == 0 then return ax end
  local first, last = xs[1], xs[n]
  ax.min, ax.max = first - delta / 2, last + delta / 2
  local d1, d2 = os.date("!%Y-%m-%d", floor(first - delta)), os.date("!%Y-%m-%d", floor(last))
  -- seconds with the decimals that the tick spacing (about a tenth of the span) needs, not the interval's
  local span = last - first + delta
  local sec = span < 2 and "%.3S" or span < 20 and "%.1S" or "%S"
  if d1 ~= d2 then
    ax.format = "%Y-%m-%d %H:%M"
    if last - first < 3 * 86400 then ax.format = delta >= 60 and "%m-%d %H:%M" or ("%m-%d %H:%M:" .. sec) end
    ax.label = ("Time (UTC, %s to %s; each point at the end of its interval)"):format(d1, d2)
    ax.rotate = true
  else
    ax.format = "%H:%M:" .. sec
    ax.label = ("Time (UTC, %s; each point at the end of its interval)"):format(d1)
  end
  return ax
end

-- What every figure of one drawing shares.  opts: the checked options of tpp.plot.draw (n, width, height, dpi,
-- format, alpha, dynamic_alpha, log_ports, min_share, heatmap) and workdir (where data files and scripts go).
function M.context(r, opts)
  local ctx = { r = r, opts = opts, workdir = opts.workdir, n = opts.n, cache = {} }
  ctx.delta = r.delta_t or 1
  ctx.packets = r:column("packets")
  ctx.covered = r:column("covered")
  ctx.time = time_axis(r, ctx.n, ctx.delta)
  -- 3D bars cannot be told apart: the port figures are heatmaps (port_view "auto"), or as asked
  local view = opts.port_view or "auto"
  ctx.port_heatmaps = view == "heatmap" or (view == "auto" and ctx.n > M.MAX_BAR_INTERVALS)
  ctx.port_bars = view == "bars"
  ctx.bin_edges, ctx.bin = log_bins()
  return ctx
end

---------------------------------------------------------------------------------------------------------------
-- Scripts
---------------------------------------------------------------------------------------------------------------

-- The terminal lines: pngcairo or svg at width x height; fonts, lines and points scale with dpi / 100 (a
-- 12.8 x 7.2 in figure at 100 dpi is the default 1280 x 720; the original's 16 x 9 in at 600 dpi is 9600 x 5400).
local function terminal(opts, output)
  local s = opts.dpi / 100
  local t
  if opts.format == "svg" then
    t = ("set terminal svg size %d,%d noenhanced font 'Sans,%g' linewidth %g background rgb 'white'")
      :format(opts.width, opts.height, 12 * s, s)
  else
    t = ("set terminal pngcairo size %d,%d noenhanced font 'Sans,%g' linewidth %g background rgb 'white'")
      :format(opts.width, opts.height, 12 * s, s)
  end
  return { t, "set encoding utf8", "set pointsize " .. num(s), "set output " .. gq(output) }
end

-- Lines of text as one gnuplot string expression: 'a'."\n".'b' (a quoted string cannot hold a line break).
local function gq_lines(lines)
  local q = {}
  for i, l in ipairs(lines) do q[i] = gq(l) end
  return table.concat(q, '."\\n".')
end
M.quote_lines = gq_lines

-- What a figure says about itself besides its title (values left out, reductions), under the title: a line per
-- note, so that two notes do not run past the figure's edges at 1280 px.
local function notes_label(L, notes, ctx, three_d)
  if #notes == 0 then return end
  if three_d then
    L[#L + 1] = ("set label 11 %s at screen 0.5, screen 0.92 center font ',%g'")
      :format(gq_lines(notes), 11 * ctx.opts.dpi / 100)
  else
    -- the label's lines are centred on its position: room above the frame for all of them and the title
    L[#L + 1] = ("set tmargin %g"):format(4.5 + #notes)
    L[#L + 1] = ("set title offset 0,%g"):format(0.6 + 0.5 * (#notes - 1))
    L[#L + 1] = ("set label 11 %s at graph 0.5, graph 1 center offset 0,%g font ',%g'")
      :format(gq_lines(notes), 1 + 0.5 * (#notes - 1), 11 * ctx.opts.dpi / 100)
  end
end

local function title(text, ctx)
  return ("set title %s font ',%g'"):format(gq(("%s (interval: %d)"):format(text, ctx.n)), 15 * ctx.opts.dpi / 100)
end

local function write_file(path, text)
  local f, err = io.open(path, "w")
  if not f then error(err, 0) end
  local ok, werr = f:write(text)
  if ok then ok, werr = f:close() else f:close() end
  if not ok then error(path .. ": " .. tostring(werr), 0) end
end

-- Opens a data file for writing with a large buffer; raises with the reason when it cannot.
local function open_data(path)
  local f, err = io.open(path, "w")
  if not f then error(err, 0) end
  f:setvbuf("full", 1 << 16)
  return f
end

local function close_data(f, path)
  local ok, err = f:close()
  if not ok then error(path .. ": " .. tostring(err), 0) end
end

-- The y range of a 2D figure from the values it draws: nil (autoscale) when they vary, a fixed range around a
-- constant, [0:1] when nothing is defined (gnuplot refuses to autoscale an empty or flat range).
local function y_range(lo, hi)
  if lo == huge then return "[0:1]" end
  if lo == hi then
    if lo == 0 then return "[0:1]" end     -- an all-zero series: no negative counts on the axis
    local pad = math.abs(lo) * 0.1
    local from = lo - pad
    if lo > 0 and from < 0 then from = 0 end
    return ("[%s:%s]"):format(num(from), num(hi + pad))
  end
  -- a margin of 4 % on each side: the extreme points (and the 0 % and 100 % lines) are not drawn on the frame
  local pad = (hi - lo) * 0.04
  return ("[%.10g:%.10g]"):format(lo - pad, hi + pad)
end

local function x_axis_2d(ctx, lines)
  local ax = ctx.time
  if ctx.n == 0 then
    lines[#lines + 1] = "set xrange [0:1]"
    lines[#lines + 1] = "set xlabel " .. gq("Time (UTC)")
    lines[#lines + 1] = "set label 10 " .. gq("no intervals to draw") .. " at graph 0.5, 0.5 center"
    return
  end
  lines[#lines + 1] = "set xdata time"
  lines[#lines + 1] = "set timefmt '%s'"
  lines[#lines + 1] = "set format x " .. gq(ax.format)
  -- half an interval each side, and at least 1 % of the span: with 90 intervals half of one was 6 px, and the
  -- ring of a partial first or last interval sat on the frame
  local pad = math.max(0, 0.01 * (ax.max - ax.min) - ctx.delta / 2)
  lines[#lines + 1] = ("set xrange [%.6f:%.6f]"):format(ax.min - pad, ax.max + pad)
  lines[#lines + 1] = "set xlabel " .. gq(ax.label)
  if ax.rotate then
    lines[#lines + 1] = "set xtics rotate by 30 right"
    lines[#lines + 1] = "set lmargin 14"
  end
end

local POINT_TYPES = { 7, 5, 9, 11, 13 }

-- The values of one series of a "lines" figure for the first n intervals: a column, or the share of the heavy
-- hitter of rank s.rank in dimension s.hh (NaN where the interval has none).  Only numbers come out: the keys
-- (addresses from the capture) never reach a script.
local function series_values(r, s, n)
  if s.column then return r:column(s.column) end
  if s.rest_of then   -- 1 minus the sum of the columns: the share the others leave
    local out, parts = {}, {}
    for k, c in ipairs(s.rest_of) do parts[k] = r:column(c) end
    for i = 1, n do
      local v = 1
      for _, c in ipairs(parts) do v = v - c[i] end
      out[i] = v < 1e-12 and v > -1e-12 and 0 or v    -- rounding of shares that add up to 1
    end
    return out
  end
  local out = {}
  for i = 1, n do
    local e = r:heavy_hitters(s.hh, i, s.rank)[s.rank]
    out[i] = e and e.share or 0 / 0
  end
  return out
end

-- The plot area's width in pixels, about: a time series with more than twice as many intervals is drawn reduced,
-- one point per pixel column.
function M.pixel_columns(opts)
  return math.max(100, floor(opts.width * 0.85))
end

-- Writes the per-pixel-column envelopes of the columns `cols` (each a list of n values) to f: the intervals are
-- grouped by time into `ncol` equal spans of the x range; a row per span that holds intervals: the span's middle,
-- then for each column its mean, min and max over the span's defined values (NaN when it has none).  A span without
-- intervals (a gap between segments) breaks the lines.  Returns the smallest and largest value written.
local function write_envelopes(f, ctx, cols, ncol)
  local xs, n = ctx.time.xs, ctx.n
  local x0, x1 = ctx.time.min, ctx.time.max
  local width = (x1 - x0) / ncol
  local lo, hi = huge, -huge
  local i, broke = 1, false
  for b = 0, ncol - 1 do
    local upto = b == ncol - 1 and huge or x0 + (b + 1) * width
    local first = i
    while i <= n and xs[i] < upto do i = i + 1 end
    if i == first then
      if not broke and first > 1 then f:write("\n"); broke = true end
    else
      broke = false
      f:write(("%.6f"):format(x0 + (b + 0.5) * width))
      for _, c in ipairs(cols) do
        local sum, cnt, mn, mx = 0, 0, huge, -huge
        for k = first, i - 1 do
          local v = c[k]
          if finite(v) then
            sum, cnt = sum + v, cnt + 1
            if v < mn then mn = v end
            if v > mx then mx = v end
          end
        end
        if cnt == 0 then
          f:write(" NaN NaN NaN")
        else
          if mn < lo then lo = mn end
          if mx > hi then hi = mx end
          f:write(" ", num(sum / cnt), " ", num(mn), " ", num(mx))
        end
      end
      f:write("\n")
    end
  end
  return lo, hi
end

-- Tics of a log axis from `from` to `to`: the decades, and 2 and 5 times them when there are few decades (a range
-- within one decade would otherwise get a single tic or none).
local function log_tics(from, to)
  local steps = math.log(to / from, 10) < 3 and { 1, 2, 5 } or { 1 }
  local out = {}
  for e = floor(math.log(from, 10)) - 1, floor(math.log(to, 10)) + 1 do
    for _, m in ipairs(steps) do
      local v = m * 10.0 ^ e
      if v >= from and v <= to then out[#out + 1] = ("'%s' %s"):format(("%g"):format(v), ("%.17g"):format(v)) end
    end
  end
  return out
end

-- The labelled windows (r.labels, issue 17) of each type, shaded behind the 2D figures: one data file per type
-- (written once per drawing), each row a window as boxxyerror takes it (x, y, x from, x to, y from, y to; epoch
-- seconds clipped to the drawn span, y in [0, 1] on the second y axis).  Returns the list of { type, name } with
-- at least one window in view (empty without labels).
M.LABEL_COLORS = { anomalous = "#e41a1c", suspicious = "#ff9f1c", notice = "#8c8c8c" }
local function label_windows(ctx)
  if ctx.labels then return ctx.labels end
  local out, ax = {}, ctx.time
  ctx.labels = out
  if ctx.n == 0 or not ctx.r.labels_fingerprint then return out end
  for _, group in ipairs(require("tpp.labels").by_type(ctx.r)) do
    local rows = {}
    for _, a in ipairs(group.anomalies) do
      local from, to = math.max(a.from_ns / 1e9, ax.min), math.min(a.to_ns / 1e9, ax.max)
      if from <= to then rows[#rows + 1] = ("%.6f 0.5 %.6f %.6f 0 1\n"):format((from + to) / 2, from, to) end
    end
    if #rows > 0 then
      local name = "labels_" .. group.type .. ".dat"
      write_file(ctx.workdir .. "/" .. name, table.concat(rows))
      out[#out + 1] = { type = group.type, name = name, count = #rows }
    end
  end
  return out
end

-- Whether two columns hold the same first n values (NaN equal to NaN).
local function same_values(a, b, n)
  for i = 1, n do
    local x, y = a[i], b[i]
    if x ~= y and (x == x or y == y) then return false end
  end
  return n > 0
end

-- A 2D figure ("lines" or "band"): its data file (time, then one column per drawn value) and its script.
local function prepare_2d(fig, ctx, job)
  local r, n = ctx.r, ctx.n
  local name = "fig_" .. fig.name .. ".dat"      -- scripts name data files relative to the work directory
  local data = ctx.workdir .. "/" .. name
  local cols, undefined = {}, 0
  if fig.kind == "band" then
    local s = fig.series[1]
    local mean, std = r:column(s.mean), r:column(s.std)
    local m, lo, hi, sd = {}, {}, {}, {}
    local clipped, defined = 0, 0
    for i = 1, n do
      local a, d = mean[i], std[i]
      m[i], hi[i], sd[i] = a, a + d, d
      lo[i] = a - d
      if finite(lo[i]) and lo[i] < 0 then lo[i] = 0; clipped = clipped + 1 end   -- an inter-arrival time is >= 0
      if not finite(a) then undefined = undefined + 1 else defined = defined + 1 end
    end
    if clipped > 0.1 * defined then
      -- bursty traffic: the std passes the mean, and a band cut at 0 says nothing; mean and std as lines on a
      -- log scale show both
      job.band_as_lines, job.log_y = true, true
      cols = { m, sd }
      job.clipped_count = clipped
    else
      cols = { m, lo, hi }
      job.clipped = clipped > 0
    end
  else
    for k, s in ipairs(fig.series) do
      local v, scale = series_values(r, s, n), s.scale or 1
      local c = {}
      for i = 1, n do
        c[i] = v[i] * scale
        if not finite(c[i]) then undefined = undefined + 1 end
      end
      cols[k] = c
    end
  end
  -- a series equal to an earlier one all along would be drawn under it, invisible yet in the legend: it is drawn
  -- once, with both names
  local titles, hidden = {}, {}
  if fig.kind ~= "band" then
    for k, s in ipairs(fig.series) do
      titles[k] = s.title
      for j = 1, k - 1 do
        if not hidden[j] and same_values(cols[j], cols[k], n) then
          hidden[k] = true
          titles[j] = titles[j] .. " = " .. s.title
          break
        end
      end
    end
  end
  local lo, hi = huge, -huge
  local columns = M.pixel_columns(ctx.opts)
  job.reduced = n > 2 * columns and columns or nil
  local f = open_data(data)
  if job.reduced then
    lo, hi = write_envelopes(f, ctx, cols, columns)
  else
    local segment = ctx.time.segment
    for i = 1, n do
      -- an empty line ends a data block: gnuplot breaks lines, points joined and filled bands there
      if i > 1 and segment[i] ~= segment[i - 1] then f:write("\n") end
      f:write(("%.6f"):format(ctx.time.xs[i]))
      for _, c in ipairs(cols) do
        local v = c[i]
        if finite(v) then
          if v < lo then lo = v end
          if v > hi then hi = v end
        end
        f:write(" ", num(v))
      end
      f:write("\n")
    end
  end
  close_data(f, data)
  local files = { data }
  -- intervals that their segment covers only in part (the capture's last one, say): a spike or a cliff there is
  -- the cut, not the traffic, so they are ringed
  local partial_name
  if not job.reduced and n > 0 then
    local covered, delta, rows = ctx.covered, ctx.delta, {}
    for i = 1, n do
      if covered[i] == covered[i] and covered[i] < delta * (1 - 1e-9) then rows[#rows + 1] = i end
    end
    if #rows > 0 then
      partial_name = "fig_" .. fig.name .. "_partial.dat"
      local path = ctx.workdir .. "/" .. partial_name
      local pf = open_data(path)
      for _, i in ipairs(rows) do
        pf:write(("%.6f"):format(ctx.time.xs[i]))
        for _, c in ipairs(cols) do pf:write(" ", num(c[i])) end
        pf:write("\n")
      end
      close_data(pf, path)
      files[#files + 1] = path
      job.partial = #rows
    end
  end

  local L = terminal(ctx.opts, job.product_name)
  L[#L + 1] = title(fig.title, ctx)
  x_axis_2d(ctx, L)
  L[#L + 1] = "set ylabel " .. gq(fig.ylabel)
  -- a series spanning orders of magnitude reads on a log scale (where every drawn value is positive)
  if not job.log_y and fig.kind ~= "band" and lo > 0 and hi / lo >= 1000 then job.log_y = true end
  if job.log_y then
    L[#L + 1] = "set logscale y"
    L[#L + 1] = "set format y '%g'"
    if lo > 0 and lo < huge then
      local from, to = lo / 1.5, hi * 1.5
      L[#L + 1] = ("set yrange [%s:%s]"):format(num(from), num(to))
      L[#L + 1] = "set ytics (" .. table.concat(log_tics(from, to), ", ") .. ")"
    end
  else
    local yr = y_range(lo, hi)
    if yr then L[#L + 1] = "set yrange " .. yr end
    -- large counts as "1.5 M", not "1.5e+06"
    if lo >= 0 and hi >= 1e5 and hi < huge then
      L[#L + 1] = "set format y '%.1s %c'"
    else
      -- gnuplot's default "% h" rounded 7.5e-05 s and 7e-05 s both to 0.00007: two ticks with one label
      L[#L + 1] = "set format y '%.6g'"
    end
  end
  if n > 0 and lo == huge then
    L[#L + 1] = "set label 10 " .. gq("no defined values in these intervals") .. " at graph 0.5, 0.5 center"
  end
  local notes = {}
  if undefined > 0 then
    notes[#notes + 1] = ("%d undefined value%s (NaN) not drawn"):format(undefined, undefined == 1 and "" or "s")
  end
  if job.clipped then notes[#notes + 1] = "band clipped at 0 below" end
  if job.band_as_lines then
    notes[#notes + 1] = ("mean - std < 0 in %s intervals: mean and std drawn as lines on a log scale")
      :format(thousands(job.clipped_count))
  elseif job.log_y then
    notes[#notes + 1] = "log scale: the values span orders of magnitude"
  end
  if job.reduced then
    notes[#notes + 1] = ("%s intervals drawn as %d pixel columns: line = mean, band = min to max of each column")
      :format(thousands(n), job.reduced)
  end
  notes_label(L, notes, ctx)
  L[#L + 1] = "set grid"
  L[#L + 1] = "set rmargin 6"
  L[#L + 1] = "set key below horizontal width 2 height 1"
  local lw = 2
  -- a series close to a later one (all packets and IP packets, flows and new flows) vanishes under it: the
  -- earlier series are drawn wider, so that an edge of each shows under the ones drawn after it
  local widths, visible = {}, 0
  for k in ipairs(fig.series) do if not hidden[k] then visible = visible + 1 end end
  local step = visible > 2 and 1.5 or 2   -- 2 px of edge for a pair; thinner steps keep four series light
  for k in ipairs(fig.series) do
    if not hidden[k] then
      visible = visible - 1
      widths[k] = lw + step * visible
    end
  end
  local plots = {}
  local src = gq(name)
  local shaded = n > 0 and label_windows(ctx) or {}
  if #shaded > 0 then -- behind the lines: drawn first, on a y axis of their own so that the data's range stands
    L[#L + 1] = "set y2range [0:1]"
    L[#L + 1] = "unset y2tics"
    for _, w in ipairs(shaded) do
      plots[#plots + 1] = ("%s using 1:2:3:4:5:6 axes x1y2 with boxxyerror fc rgb %s fs transparent solid 0.18 "
        .. "noborder title %s"):format(gq(w.name), gq(M.LABEL_COLORS[w.type]), gq(w.type .. " (labels)"))
      files[#files + 1] = ctx.workdir .. "/" .. w.name
    end
  end
  if n == 0 then
    plots[#plots + 1] = "NaN notitle"
    for k, s in ipairs(fig.series) do
      plots[#plots + 1] = ("keyentry with linespoints lw %g pt %d lc rgb %s title %s")
        :format(lw, POINT_TYPES[k], gq(figures.palette[k]), gq(s.title))
    end
  elseif job.band_as_lines then
    local s = fig.series[1]
    local c0 = job.reduced and { 2, 5 } or { 2, 3 }
    plots[#plots + 1] = ("%s using 1:%d with lines lw %g lc rgb %s title %s")
      :format(src, c0[1], lw, gq(figures.palette[1]), gq(s.title))
    plots[#plots + 1] = ("%s using 1:%d with lines lw %g dt 2 lc rgb %s title %s")
      :format(src, c0[2], lw, gq(figures.palette[2]), gq("Std IAT"))
  elseif job.reduced and fig.kind == "band" then
    -- per pixel column: mean − std to mean + std averaged, the mean's range, the mean of the means
    local s, colour = fig.series[1], gq(figures.palette[1])
    plots[#plots + 1] = ("%s using 1:5:8 with filledcurves fc rgb %s fs transparent solid 0.15 noborder title %s")
      :format(src, colour, gq(s.band))
    plots[#plots + 1] = ("%s using 1:3:4 with filledcurves fc rgb %s fs transparent solid 0.35 noborder title %s")
      :format(src, colour, gq(s.title .. ": min to max"))
    plots[#plots + 1] = ("%s using 1:2 with lines lw %g lc rgb %s title %s"):format(src, lw, colour, gq(s.title .. ": mean"))
  elseif job.reduced then
    -- per pixel column: the mean as a line, min to max as a band of the same colour (a spike stays visible)
    -- every band first, then the lines: a later series' band laid over an earlier line greyed it
    for k in ipairs(fig.series) do
      if not hidden[k] then
        plots[#plots + 1] = ("%s using 1:%d:%d with filledcurves fc rgb %s fs transparent solid 0.3 noborder notitle")
          :format(src, 3 * k, 3 * k + 1, gq(figures.palette[k]))
      end
    end
    for k in ipairs(fig.series) do
      if not hidden[k] then
        plots[#plots + 1] = ("%s using 1:%d with lines lw %g lc rgb %s title %s")
          :format(src, 3 * k - 1, widths[k], gq(figures.palette[k]), gq(titles[k]))
      end
    end
  elseif fig.kind == "band" then
    local s = fig.series[1]
    plots[#plots + 1] = ("%s using 1:3:4 with filledcurves fc rgb %s fs transparent solid 0.25 noborder title %s")
      :format(src, gq(figures.palette[1]), gq(s.band))
    plots[#plots + 1] = ("%s using 1:2 with linespoints lw %g pt 7 lc rgb %s title %s")
      :format(src, lw, gq(figures.palette[1]), gq(s.title))
  else
    for k in ipairs(fig.series) do
      if not hidden[k] then
        plots[#plots + 1] = ("%s using 1:%d with linespoints lw %g pt %d lc rgb %s title %s")
          :format(src, k + 1, widths[k], POINT_TYPES[k], gq(figures.palette[k]), gq(titles[k]))
      end
    end
  end
  if partial_name then
    local ring = ("%s using 1:%%d with points pt 6 ps 2.5 lc rgb '#555555' notitle"):format(gq(partial_name))
    if fig.kind == "band" then
      plots[#plots + 1] = ring:format(2)
    else
      for k in ipairs(fig.series) do
        if not hidden[k] then plots[#plots + 1] = ring:format(k + 1) end
      end
    end
    plots[#plots + 1] = ("keyentry with points pt 6 ps 2.5 lc rgb '#555555' title %s")
      :format(gq(job.partial == 1 and "partial interval (covered < interval)" or "partial intervals (covered < interval)"))
  end
  L[#L + 1] = "plot " .. table.concat(plots, ", \\\n     ")
  return L, files
end

-- The x offsets of a port series in the overlay columns: pairs (figures 16, 17) and the four of figure 18.
local PAIR = { tcp_src = -0.15, tcp_dst = 0.15, udp_src = -0.15, udp_dst = 0.15 }
local QUAD = { tcp_src = -0.3, tcp_dst = -0.1, udp_src = 0.1, udp_dst = 0.3 }

-- What the figures showing one port series need to know first, in one pass over its histograms (once per
-- drawing): the highest share of a bar (count / packets of its interval), the number of bars and their packets.
-- The heatmap's columns (once per drawing): at most one per pixel column of the plot area, `per` intervals each
-- (the last maybe fewer); base[i] is where interval i's column starts among the cells (column - 1) * nbins, and
-- denom[c] the packets of column c.
local function grid_columns(ctx)
  if ctx.cache.grid_columns then return ctx.cache.grid_columns end
  local n, packets, nbins = ctx.n, ctx.packets, #ctx.bin_edges
  local ncol = math.min(n, M.pixel_columns(ctx.opts))
  local per = ncol > 0 and n / ncol or 1
  local base, denom = {}, {}
  for i = 1, n do
    local c = math.min(ncol, floor((i - 1) / per) + 1)
    base[i] = (c - 1) * nbins
    denom[c] = (denom[c] or 0) + packets[i]
  end
  ctx.cache.grid_columns = { ncol = ncol, per = per, base = base, denom = denom }
  return ctx.cache.grid_columns
end

-- One pass over a series' histograms (once per drawing; it is the cost of a port figure): its highest share, its
-- bars and their packets, its histogram entries, and the packets of each heatmap cell (sums[(column - 1) * nbins
-- + bin]), so that a figure drawn as a heatmap after its bars were weighed does not read the histograms again.
local function port_stats(ctx, series)
  local key = "stats " .. series
  if ctx.cache[key] then return ctx.cache[key] end
  local n, packets, r = ctx.n, ctx.packets, ctx.r
  local base, bin = grid_columns(ctx).base, ctx.bin
  local max, bars, counted, sums, entries = 0, 0, 0, {}, 0
  for i, port, count in r:ports(series) do
    if i > n then break end
    local k = base[i] + bin[port]
    sums[k] = (sums[k] or 0) + count
    entries = entries + 1
    local p = packets[i]
    if p > 0 then
      local s = count / p
      bars, counted = bars + 1, counted + count
      if s > max then max = s end
    end
  end
  ctx.cache[key] = { max = max, bars = bars, packets = counted, sums = sums, entries = entries }
  return ctx.cache[key]
end

-- The bars of a series that a 3D figure could draw (its cut-off is at least this series' highest share times
-- min_share), as flat lists i, port, count, share (once per drawing, and only for figures drawn as bars).
local function port_candidates(ctx, series)
  local key = "candidates " .. series
  if ctx.cache[key] then return ctx.cache[key] end
  local n, packets = ctx.n, ctx.packets
  local floor_share = port_stats(ctx, series).max * ctx.opts.min_share
  local xi, xport, xcount, xshare = {}, {}, {}, {}
  for i, port, count in ctx.r:ports(series) do
    if i > n then break end
    local p = packets[i]
    local s = p > 0 and count / p or 0
    if p > 0 and s >= floor_share then
      local k = #xi + 1
      xi[k], xport[k], xcount[k], xshare[k] = i, port, count, s
    end
  end
  ctx.cache[key] = { i = xi, port = xport, count = xcount, share = xshare }
  return ctx.cache[key]
end

-- Writes the data file of the bars of one port series whose share is at least `threshold` (the figure's cut-off:
-- a thinner bar is below one pixel of its z axis), shared by the figures with the same cut-off: columns x, x with
-- the pair offset, x with the four-series offset, port (port + 1 on a log port axis), share, colour as 0xAARRGGBB
-- (AA = transparency).  Returns { name, path, kept = bars written, kept_packets = their packets }.
local function port_data(ctx, series, threshold)
  local key = ("bars %s %.17g"):format(series, threshold)
  if ctx.cache[key] then return ctx.cache[key] end
  local opts, st = ctx.opts, port_candidates(ctx, series)
  ctx.files = (ctx.files or 0) + 1
  local name = ("%s_%d.dat"):format(series, ctx.files)
  local path = ctx.workdir .. "/" .. name
  local f = open_data(path)
  local rgb = tonumber(figures.colors[series]:sub(2), 16)
  local alpha, dynamic, max = opts.alpha, opts.dynamic_alpha, port_stats(ctx, series).max
  local static_colour = (floor((1 - alpha) * 255 + 0.5) << 24) | rgb
  local dp, dq = PAIR[series], QUAD[series]
  local yoff = opts.log_ports and 1 or 0
  local kept, kept_packets = 0, 0
  local fmt = "%d %.2f %.2f %d %.6g %d\n"
  for k = 1, #st.i do
    local i, s = st.i[k], st.share[k]
    if s >= threshold then
      local colour = static_colour
      if dynamic then
        local a = s / max * alpha
        if a < M.MIN_ALPHA then a = M.MIN_ALPHA end
        colour = (floor((1 - a) * 255 + 0.5) << 24) | rgb
      end
      f:write(fmt:format(i, i + dp, i + dq, st.port[k] + yoff, s, colour))
      kept, kept_packets = kept + 1, kept_packets + st.count[k]
    end
  end
  close_data(f, path)
  ctx.cache[key] = { name = name, path = path, kept = kept, kept_packets = kept_packets }
  return ctx.cache[key]
end

-- The heatmap grid of one port series (once per drawing): the intervals grouped into at most one column per pixel
-- (`cols` columns of `per` intervals, the last maybe fewer), ports into the log bins of the context; a cell is the
-- share of the column's packets that went to ports of its bin.  Writes "x bin share" rows (NaN: none) with x the
-- middle of the column in interval numbers.  Returns { name, path, lo, hi, total = bars seen, cols }.
local function port_grid(ctx, series)
  local key = "grid " .. series
  if ctx.cache[key] then return ctx.cache[key] end
  local nbins, cols = #ctx.bin_edges, grid_columns(ctx)
  local ncol, per, denom = cols.ncol, cols.per, cols.denom
  local stats = port_stats(ctx, series)
  local sums = stats.sums
  ctx.files = (ctx.files or 0) + 1
  local name = ("%s_grid_%d.dat"):format(series, ctx.files)
  local path = ctx.workdir .. "/" .. name
  local h = open_data(path)
  local lo, hi = huge, 0
  for c = 1, ncol do
    local x, d = (c - 0.5) * per + 0.5, denom[c]
    for b = 0, nbins - 1 do
      local v = sums[(c - 1) * nbins + b]
      if v and d > 0 then
        v = v / d
        if v < lo then lo = v end
        if v > hi then hi = v end
        h:write(("%.6f %d %.6g\n"):format(x, b, v))
      else
        h:write(("%.6f %d NaN\n"):format(x, b))
      end
    end
  end
  close_data(h, path)
  ctx.cache[key] = { name = name, path = path, lo = lo, hi = hi, total = stats.entries, cols = ncol, per = per }
  return ctx.cache[key]
end

local function pct(x)
  return (("%.3f"):format(x * 100):gsub("0+$", ""):gsub("%.$", ""))
end

-- The top ports of a series over the drawn intervals, as "443 (35 %)" labels: which lines of a figure are which.
local function top_port_labels(ctx, series, k)
  local key = "top " .. series
  if not ctx.cache[key] then
    -- every packet of a series is counted once in its protocol's port packets
    local per_interval = ctx.r:column(series:match("^tcp") and "tcp_port_packets" or "udp_port_packets")
    local total, list = 0, nil
    for i = 1, ctx.n do total = total + per_interval[i] end
    if ctx.n == #ctx.r then
      list = ctx.r:top_ports(series, nil, 5)        -- the whole trace: counted in C
    else
      local by_port = {}
      for i, port, count in ctx.r:ports(series) do
        if i > ctx.n then break end
        by_port[port] = (by_port[port] or 0) + count
      end
      list = {}
      for port, c in pairs(by_port) do list[#list + 1] = { port = port, count = c } end
      table.sort(list, function(x, y) return x.count > y.count or (x.count == y.count and x.port < y.port) end)
    end
    local out = {}
    for i = 1, math.min(5, #list) do out[i] = { port = list[i].port, share = list[i].count / total } end
    ctx.cache[key] = out
  end
  return table.move(ctx.cache[key], 1, k, 1, {})
end

-- ": busiest 443 (23.7 %), 80 (12 %)": the busiest ports of a series, for its legend or panel title, so that
-- the ports of lines drawn close together can be told apart.
local function top_ports_text(ctx, series, k)
  local parts = {}
  for i, t in ipairs(top_port_labels(ctx, series, k)) do
    parts[i] = ("%d (%s %%)"):format(t.port, ("%.3g"):format(100 * t.share))
  end
  return #parts > 0 and (": busiest " .. table.concat(parts, ", ")) or ""
end

-- The share of a 3D port figure's packets that its bars would leave out (its cut-off: min_share of its highest bar).
local function hidden_share(fig, ctx)
  local zmax, packets, kept = 0, 0, 0
  for _, s in ipairs(fig.series) do zmax = math.max(zmax, port_stats(ctx, s.ports).max) end
  for _, s in ipairs(fig.series) do
    local st = port_candidates(ctx, s.ports)
    packets = packets + port_stats(ctx, s.ports).packets
    for k = 1, #st.share do
      if st.share[k] >= zmax * ctx.opts.min_share then kept = kept + st.count[k] end
    end
  end
  return packets > 0 and (packets - kept) / packets or 0
end

-- A 3D port figure: impulses from the series files, legends through keyentry.  One cut-off for the figure: bars
-- below min_share of its highest bar are left out, and the figure says what share of the packets they carried.
local function prepare_ports(fig, ctx, job)
  local opts, n = ctx.opts, ctx.n
  local stats, zmax, empty = {}, 0, {}
  for k, s in ipairs(fig.series) do
    stats[k] = port_stats(ctx, s.ports)
    if stats[k].max > zmax then zmax = stats[k].max end
    if stats[k].bars == 0 then empty[#empty + 1] = figures.port_series_names[s.ports] end
  end
  local threshold = zmax * opts.min_share
  local infos, bars, kept, packets, kept_packets = {}, 0, 0, 0, 0
  for k, s in ipairs(fig.series) do
    infos[k] = port_data(ctx, s.ports, threshold)
    bars, kept = bars + stats[k].bars, kept + infos[k].kept
    packets, kept_packets = packets + stats[k].packets, kept_packets + infos[k].kept_packets
  end
  job.dropped_bars, job.dropped_packets = bars - kept, packets - kept_packets
  local L = terminal(opts, job.product_name)
  L[#L + 1] = title(fig.title, ctx)
  L[#L + 1] = "set xlabel " .. gq(fig.xlabel) .. " offset 0,-1"
  -- beside its axis: at 1280 x 720 an offset of -2 put the label past the figure's left edge
  L[#L + 1] = "set zlabel " .. gq(fig.zlabel) .. " rotate parallel offset 0,0"
  L[#L + 1] = ("set xrange [0.5:%s]"):format(num(math.max(n, 1) + 0.5))
  if opts.log_ports then
    L[#L + 1] = "set ylabel " .. gq(fig.ylabel .. " + 1 (log scale)") .. " offset 2,-1"
    L[#L + 1] = "set logscale y"
    L[#L + 1] = "set yrange [1:65536]"
    L[#L + 1] = "set ytics ('1' 1, '10' 10, '100' 100, '1000' 1000, '10000' 10000, '65536' 65536)"
  else
    L[#L + 1] = "set ylabel " .. gq(fig.ylabel) .. " offset 2,-1"
    L[#L + 1] = "set yrange [0:65535]"
    L[#L + 1] = "set ytics 0, 10000, 60000"
  end
  L[#L + 1] = ("set zrange [0:%s]"):format(zmax > 0 and num(zmax * 1.05) or "1")
  L[#L + 1] = "set xyplane at 0"
  L[#L + 1] = "set view 60, 30, 1.15, 1.1"
  L[#L + 1] = "set grid x y z vertical"
  L[#L + 1] = "set key top right opaque box width 1"
  if n <= 20 then L[#L + 1] = "set xtics 1" end
  local notes = {}
  if kept < bars then
    notes[#notes + 1] = ("not drawn: %s of %s bars, below %s %% of the highest (one pixel), carrying %s %% of the packets")
      :format(thousands(bars - kept), thousands(bars), pct(opts.min_share), pct(job.dropped_packets / packets))
  end
  if #empty > 0 and n > 0 then
    notes[#notes + 1] = "no " .. table.concat(empty, " or ") .. " ports in these intervals"
  end
  if n == 0 then notes[#notes + 1] = "no intervals to draw" end
  notes_label(L, notes, ctx, true)
  if #notes > 0 then
    -- the key's box, opaque at the top right, covered the notes centred at 0.92: it starts under their last line
    -- (a line of the 11 pt notes font is about 16 px at dpi 100)
    local line = 16 * opts.dpi / 100
    L[#L + 1] = ("set key at screen 0.98, screen %.4f right top"):format(0.92 - (#notes * line / 2 + 4) / opts.height)
  end
  local lw = opts.bar_width
  local plots, keys = {}, {}
  local files = {}
  for k, s in ipairs(fig.series) do
    local info = infos[k]
    files[#files + 1] = info.path
    plots[k] = ("%s using %d:4:5:6 with impulses lw %g lc rgb variable notitle")
      :format(gq(info.name), fig.overlay, lw)
    keys[k] = ("keyentry with impulses lw 4 lc rgb %s title %s")
      :format(gq(figures.colors[s.ports]), gq(s.title .. top_ports_text(ctx, s.ports, #fig.series == 1 and 5 or 3)))
  end
  for _, k in ipairs(keys) do plots[#plots + 1] = k end
  L[#L + 1] = "splot " .. table.concat(plots, ", \\\n      ")
  return L, files
end

-- The heatmap form of a port figure: per series a panel with intervals across (grouped per pixel column when
-- there are more), log-binned port ranges up, colour = share of the packets in that range (log scale), blank where
-- there were none; the busiest ports named on the right.  `auto`: drawn instead of the 3D bars, which could not be
-- told apart (the title says so).
local function prepare_heatmap(fig, ctx, job, auto)
  local opts, n = ctx.opts, ctx.n
  local edges = ctx.bin_edges
  local grids, lo, hi = {}, huge, 0
  for k, s in ipairs(fig.series) do
    grids[k] = port_grid(ctx, s.ports)
    if grids[k].total > 0 then
      lo, hi = math.min(lo, grids[k].lo), math.max(hi, grids[k].hi)
    end
  end
  if lo == huge then lo, hi = 1e-6, 1 elseif lo >= hi then lo, hi = lo / 10, hi * 10 end
  local L = terminal(opts, job.product_name)
  local name = fig.title:gsub("^3D ", "")
  local heading = auto == "intervals" and ("%s: heatmap, %s intervals are too many for 3D bars"):format(name, thousands(n))
    or auto == "hidden" and ("%s: heatmap, 3D bars would leave out %s %% of the packets"):format(name,
      ("%.3g"):format(100 * hidden_share(fig, ctx)))
    or auto == "asked" and (name .. ": heatmap")
    or (name .. ", ports binned on a log scale")
  -- the colour note on a line of its own: on one line with the heading it ran past both edges at 1280 px
  local heading_lines = { ("%s (interval: %d)"):format(heading, n) }
  if #fig.series > 1 then heading_lines[2] = "colour: share of the packets (log scale)" end
  local panels = #fig.series
  local tics = {}
  for b = 0, #edges - 1 do
    local e = edges[b + 1]
    -- 0, then powers of 4 from 4 (1 sat on 0: the bins of the lowest ports are a pixel or two high); in the
    -- four short panels of figure 18 powers of 16, the powers of 4 overlapped there
    local step = panels > 2 and 0x11111111 or 0x55555555
    if e == 0 or e >= 4 and (e & (e - 1)) == 0 and (e & step) ~= 0 then
      tics[#tics + 1] = ("%s %d"):format(gq(tostring(e)), b)
    end
  end
  L[#L + 1] = ("set multiplot layout %d,1 title %s font ',%g'"):format(panels,
    gq_lines(heading_lines), 15 * opts.dpi / 100)
  L[#L + 1] = "set ylabel " .. gq("Port (log bins)")
  if panels == 1 then L[#L + 1] = "set cblabel " .. gq("Share of the packets (log scale)") end
  L[#L + 1] = ("set xrange [0.5:%s]"):format(num(math.max(n, 1) + 0.5))
  L[#L + 1] = ("set yrange [-0.5:%s]"):format(num(#edges - 0.5))
  L[#L + 1] = "set ytics (" .. table.concat(tics, ", ") .. ")"
  L[#L + 1] = "set logscale cb"
  L[#L + 1] = "set format cb '%g'"
  -- the colour bars of figure 18's four short panels: six decades a decade apart overlapped; past two decades a
  -- tic every other one
  if panels > 2 and hi / lo > 100 then L[#L + 1] = "set cbtics 100" end
  L[#L + 1] = ("set cbrange [%s:%s]"):format(num(lo), num(hi))
  L[#L + 1] = "set palette defined (0 '#440154', 1 '#3b528b', 2 '#21918c', 3 '#5ec962', 4 '#fde725')"
  if n <= 20 then L[#L + 1] = "set xtics 1" end
  local files = {}
  for k, s in ipairs(fig.series) do
    local g = grids[k]
    files[#files + 1] = g.path
    L[#L + 1] = "unset label"
    local sub = figures.port_series_names[s.ports]
    if g.cols < n then sub = sub .. (" (%s intervals per column)"):format(num(floor(g.per * 10 + 0.5) / 10)) end
    sub = sub .. top_ports_text(ctx, s.ports, panels > 2 and 3 or 5)
    L[#L + 1] = "set title " .. gq(sub)
    L[#L + 1] = "set xlabel " .. gq(k == panels and "Interval" or "")
    if g.total == 0 or n == 0 then
      L[#L + 1] = "set label 11 " .. gq(n == 0 and "no intervals to draw"
        or ("no " .. figures.port_series_names[s.ports] .. " ports in these intervals")) .. " at graph 0.5, 0.5 center"
      L[#L + 1] = "plot NaN notitle"
    else
      L[#L + 1] = "plot " .. gq(g.name) .. " using 1:2:3 with image notitle"
    end
  end
  L[#L + 1] = "unset multiplot"
  return L, files
end

-- Writes the data files and the script of one figure.  fig: a description from tpp.figures (kind "heatmap" for
-- the heatmap of a single-series port figure); out: { output = the figure's final path, heatmap = boolean }.
-- gnuplot writes the figure as `product_name` (fig_12.png) in the work directory; run() moves it to `output`.
-- Returns the job: { figure, heatmap, script, output, product, product_name, data }.  Raises with a message when
-- a file cannot be written.
function M.prepare(fig, ctx, out)
  local base = "fig_" .. fig.name .. (out.heatmap and "_heatmap" or "")
  local job = { figure = fig.number, heatmap = out.heatmap or false, output = out.output,
                product_name = base .. "." .. ctx.opts.format }
  job.product = ctx.workdir .. "/" .. job.product_name
  local lines, data
  if out.heatmap then
    lines, data = prepare_heatmap(fig, ctx, job)
  elseif fig.kind == "ports" and not ctx.port_bars
      and (ctx.port_heatmaps or hidden_share(fig, ctx) > M.MAX_HIDDEN_SHARE) then
    job.auto_heatmap = true
    local why = ctx.opts.port_view == "heatmap" and "asked" or ctx.port_heatmaps and "intervals" or "hidden"
    lines, data = prepare_heatmap(fig, ctx, job, why)
  elseif fig.kind == "ports" then
    lines, data = prepare_ports(fig, ctx, job)
  else
    lines, data = prepare_2d(fig, ctx, job)
  end
  -- loaded by a batch script (M.run) run as `gnuplot -c batch WORKDIR`, which changes to the work directory given
  -- as a string value, never as script text
  lines[#lines + 1] = "unset output"
  job.script_name = base .. ".gp"
  job.script = ctx.workdir .. "/" .. job.script_name
  job.data = data
  write_file(job.script, table.concat(lines, "\n") .. "\n")
  return job
end

---------------------------------------------------------------------------------------------------------------
-- Running
---------------------------------------------------------------------------------------------------------------

-- The line of gnuplot's stderr that says what went wrong (the one naming the script line), else the last one.
-- `dir/` is taken off the script's name: the reason reads `"fig_12.gp" line 14: ...`.
local function gnuplot_reason(lines, dir)
  local last, located
  for _, line in ipairs(lines) do
    line = line:gsub("%s+$", "")
    local at = line:find(dir .. "/", 1, true)
    if at then line = line:sub(1, at - 1) .. line:sub(at + #dir + 1) end
    if line:match("^%s*\"[^\"]*\" line %d+:") then located = line:gsub("^%s+", "") end
    if line:match("%S") and not line:match("^%s*%^%s*$") then last = line:gsub("^%s+", "") end
  end
  return located or last
end

local EXDEV = 18   -- rename across file systems (Linux)

-- Moves a finished file to its final path, atomically: a rename, or across file systems (the work directory is
-- under $TMPDIR) its bytes written as every output is (tpp.write_atomic: an unnamed temporary beside the target,
-- so that even a kill part-way leaves nothing), then the original removed.  Returns true or nil and a reason.
function M.move(from, to)
  local ok, err, code = os.rename(from, to)
  if ok then return true end
  if code ~= EXDEV then return nil, err end
  local f, oerr = io.open(from, "rb")
  if not f then return nil, oerr end
  local bytes, rerr = f:read("a")
  f:close()
  if not bytes then return nil, from .. ": " .. tostring(rerr) end
  ok, err = tpp.write_atomic(to, bytes)
  if not ok then return nil, err end
  os.remove(from)
  return true
end

-- A path that cannot be taken for an option by gnuplot.
local function argv_path(path)
  return path:sub(1, 1) == "-" and "./" .. path or path
end

-- What a finished gnuplot process came to: sets job.ok, job.reason (when not ok), job.warning (stderr of a good
-- run), and moves a good figure to job.output.
local function conclude(job, how, code, dir)
  local err = job.stderr
  local why = gnuplot_reason(err, dir)
  if how == "exit" and code == 0 then
    local size = lfs.attributes(job.product, "size")
    if not size or size == 0 then
      job.ok, job.reason = false, "gnuplot exited normally but wrote no output" .. (why and (": " .. why) or "")
    else
      local ok, merr = M.move(job.product, job.output)
      if ok then
        job.ok, job.warning = true, why
      else
        job.ok, job.reason = false, "cannot write the figure: " .. tostring(merr)
      end
    end
  else
    job.ok = false
    if how == "signal" then
      job.reason = ("gnuplot was killed by signal %d"):format(code)
    else
      job.reason = ("gnuplot failed (exit status %d)"):format(code)
    end
    if why then job.reason = job.reason .. ": " .. why end
  end
  if not job.ok then os.remove(job.product) end
end

-- A batch: one gnuplot process drawing several figures in turn from a script of its own (batch_<k>.gp) that loads
-- each figure's script and then prints a mark on stderr, so that a figure costs its drawing, not a process.  gnuplot
-- stops at a script's first error: the figure being drawn failed, and the rest of the batch goes on in a new
-- process.
local function batch_script(dir, jobs, number)
  local name = ("batch_%d.gp"):format(number)
  local L = { "if (ARGC > 0) cd ARG1" }
  for k, job in ipairs(jobs) do
    L[#L + 1] = "reset"
    L[#L + 1] = "load " .. gq(job.script_name)
    L[#L + 1] = "print " .. gq(("tpp-figure-done %d"):format(k))
  end
  write_file(dir .. "/" .. name, table.concat(L, "\n") .. "\n")
  return dir .. "/" .. name
end

-- Runs the jobs' scripts in at most opts.jobs gnuplot processes at a time (each drawing a batch of figures; spawned
-- with an argv, watched with tpp.poll), and checks each figure: drawn without an error, a non-empty file, which is
-- then moved to job.output.  opts: gnuplot (the program, as M.find returns it), jobs, dir (the work directory holding
-- the scripts), on_done(job) called as each job finishes (in completion order).  Sets on each job: ok, reason (when
-- not ok), warning (what gnuplot said on stderr while drawing a good figure, if anything).  Returns the jobs.
-- An error or an interrupt kills and reaps the running gnuplot processes, removes what they wrote, and is raised
-- again.
function M.run(jobs, opts)
  local dir = opts.dir
  local tasks = {}
  local nproc = math.max(1, math.min(opts.jobs or 1, #jobs))
  for k = 1, nproc do tasks[k] = { jobs = {} } end
  for i, job in ipairs(jobs) do
    local t = tasks[(i - 1) % nproc + 1].jobs
    t[#t + 1] = job
  end
  local batches = 0
  local function finish(job, how, code)
    conclude(job, how, code, dir)
    if opts.on_done then opts.on_done(job) end
  end
  local ok, err = pcall(pool.run, tasks, nproc, {
    start = function(task)
      task.done, task.lines = 0, {}
      batches = batches + 1
      local script = batch_script(dir, task.jobs, batches)
      local proc, serr = tpp.spawn { opts.gnuplot, "-c", argv_path(script), argv_path(dir) }
      if not proc then
        for _, job in ipairs(task.jobs) do
          job.stderr = {}
          job.ok, job.reason = false, "cannot run gnuplot: " .. tostring(serr)
          if opts.on_done then opts.on_done(job) end
        end
      end
      return proc
    end,
    stderr = function(task, line)
      local k = tonumber(line:match("^tpp%-figure%-done (%d+)%s*$"))
      if k and k == task.done + 1 then
        local job = task.jobs[k]
        job.stderr, task.lines = task.lines, {}
        task.done = k
        finish(job, "exit", 0)
      else
        task.lines[#task.lines + 1] = line
      end
    end,
    done = function(task, how, code)
      if task.done >= #task.jobs then return end
      -- the figure being drawn when gnuplot stopped failed; the ones after it go on in a new process
      local job = task.jobs[task.done + 1]
      job.stderr = task.lines
      if how == "exit" and code == 0 then how, code = "exit", 1 end  -- ended early without a word: a failure
      finish(job, how, code)
      if task.done + 2 <= #task.jobs then
        tasks[#tasks + 1] = { jobs = table.move(task.jobs, task.done + 2, #task.jobs, 1, {}) }
      end
    end,
    tick = 1,
  })
  if not ok then
    for _, job in ipairs(jobs) do os.remove(job.product) end
    error(err, 0)
  end
  return jobs
end

return M
