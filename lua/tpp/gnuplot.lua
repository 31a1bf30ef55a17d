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
-- `gnuplot -c fig_12.gp WORKDIR` (an argv, no shell), the script's first line changes to the work directory given
-- as its argument (a string value, never parsed), and every name in the script (data files, the output
-- fig_12.png) is one this module made up.  A finished figure is then moved to its real name by Lua.  Every text
-- in a script is tpp's own and goes through M.quote, which refuses control characters.
--
-- The 3D port figures draw one impulse per (interval, port) with count > 0 whose share (count / packets of its
-- interval) is at least min_share (default 0.002) of the series' highest share: a thinner bar is below what one
-- pixel of the z axis shows.  The figure says how many bars were left out; the optional heatmap (kind
-- "heatmap") shows the whole distribution, ports binned on a log scale.
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
  local sec = delta < 0.1 and "%.3S" or (delta % 1 ~= 0 and "%.1S" or "%S")
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
  ctx.time = time_axis(r, ctx.n, ctx.delta)
  if opts.heatmap then ctx.bin_edges, ctx.bin = log_bins() end
  return ctx
end

---------------------------------------------------------------------------------------------------------------
-- Scripts
---------------------------------------------------------------------------------------------------------------

-- The terminal lines: pngcairo or svg at width x height; fonts, lines and points scale with dpi / 100 (a
-- 16 x 9 in figure at 100 dpi is the default 1600 x 900; the original's 600 dpi is 9600 x 5400 at dpi 600).
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
    local pad = lo == 0 and 1 or math.abs(lo) * 0.1
    return ("[%s:%s]"):format(num(lo - pad), num(hi + pad))
  end
  return nil
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
  lines[#lines + 1] = ("set xrange [%.6f:%.6f]"):format(ax.min, ax.max)
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
  local out = {}
  for i = 1, n do
    local e = r:heavy_hitters(s.hh, i, s.rank)[s.rank]
    out[i] = e and e.share or 0 / 0
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

-- A 2D figure ("lines" or "band"): its data file (time, then one column per drawn value) and its script.
local function prepare_2d(fig, ctx, job)
  local r, n = ctx.r, ctx.n
  local name = "fig_" .. fig.name .. ".dat"      -- scripts name data files relative to the work directory
  local data = ctx.workdir .. "/" .. name
  local cols, undefined = {}, 0
  if fig.kind == "band" then
    local s = fig.series[1]
    local mean, std = r:column(s.mean), r:column(s.std)
    local m, lo, hi = {}, {}, {}
    local clipped = false
    for i = 1, n do
      local a, d = mean[i], std[i]
      m[i], hi[i] = a, a + d
      lo[i] = a - d
      if finite(lo[i]) and lo[i] < 0 then lo[i] = 0; clipped = true end   -- an inter-arrival time is >= 0
      if not finite(a) then undefined = undefined + 1 end
    end
    cols = { m, lo, hi }
    job.clipped = clipped
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
  local lo, hi = huge, -huge
  local f = open_data(data)
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
  close_data(f, data)

  local L = terminal(ctx.opts, job.product_name)
  L[#L + 1] = title(fig.title, ctx)
  x_axis_2d(ctx, L)
  L[#L + 1] = "set ylabel " .. gq(fig.ylabel)
  local yr = y_range(lo, hi)
  if yr then L[#L + 1] = "set yrange " .. yr end
  if n > 0 and lo == huge then
    L[#L + 1] = "set label 10 " .. gq("no defined values in these intervals") .. " at graph 0.5, 0.5 center"
  end
  local notes = {}
  if undefined > 0 then
    notes[#notes + 1] = ("%d undefined value%s (NaN) not drawn"):format(undefined, undefined == 1 and "" or "s")
  end
  if job.clipped then notes[#notes + 1] = "band clipped at 0 below" end
  if #notes > 0 then
    L[#L + 1] = "set label 11 " .. gq(table.concat(notes, "; ")) .. " at screen 0.01, 0.97 left"
  end
  L[#L + 1] = "set grid"
  L[#L + 1] = "set rmargin 6"
  L[#L + 1] = "set key below horizontal width 2 height 1"
  local lw = 2
  local plots = {}
  local src = gq(name)
  if n == 0 then
    plots[1] = "NaN notitle"
    for k, s in ipairs(fig.series) do
      plots[#plots + 1] = ("keyentry with linespoints lw %g pt %d lc rgb %s title %s")
        :format(lw, POINT_TYPES[k], gq(figures.palette[k]), gq(s.title))
    end
  end
  local shaded = n > 0 and label_windows(ctx) or {}
  if #shaded > 0 then -- behind the lines: drawn first, on a y axis of their own so that the data's range stands
    L[#L + 1] = "set y2range [0:1]"
    L[#L + 1] = "unset y2tics"
    for _, w in ipairs(shaded) do
      plots[#plots + 1] = ("%s using 1:2:3:4:5:6 axes x1y2 with boxxyerror fc rgb %s fs transparent solid 0.18 "
        .. "noborder title %s"):format(gq(w.name), gq(M.LABEL_COLORS[w.type]), gq(w.type .. " (labels)"))
    end
  end
  if n == 0 then
    -- nothing more
  elseif fig.kind == "band" then
    local s = fig.series[1]
    plots[#plots + 1] = ("%s using 1:3:4 with filledcurves fc rgb %s fs transparent solid 0.25 noborder title %s")
      :format(src, gq(figures.palette[1]), gq(s.band))
    plots[#plots + 1] = ("%s using 1:2 with linespoints lw %g pt 7 lc rgb %s title %s")
      :format(src, lw, gq(figures.palette[1]), gq(s.title))
  else
    for k, s in ipairs(fig.series) do
      plots[#plots + 1] = ("%s using 1:%d with linespoints lw %g pt %d lc rgb %s title %s")
        :format(src, k + 1, lw, POINT_TYPES[k], gq(figures.palette[k]), gq(s.title))
    end
  end
  L[#L + 1] = "plot " .. table.concat(plots, ", \\\n     ")
  local files = { data }
  for _, w in ipairs(shaded) do files[#files + 1] = ctx.workdir .. "/" .. w.name end
  return L, files
end

-- The x offsets of a port series in the overlay columns: pairs (figures 16, 17) and the four of figure 18.
local PAIR = { tcp_src = -0.15, tcp_dst = 0.15, udp_src = -0.15, udp_dst = 0.15 }
local QUAD = { tcp_src = -0.3, tcp_dst = -0.1, udp_src = 0.1, udp_dst = 0.3 }

-- Writes the data file of one port series (once per drawing; the figures that show it share it):
-- columns x, x with the pair offset, x with the four-series offset, port (port + 1 on a log port axis), share,
-- colour as 0xAARRGGBB (AA = transparency).  Returns { path, max, total, kept } and, with ctx.opts.heatmap, the
-- heatmap file.
local function port_data(ctx, series)
  if ctx.cache[series] then return ctx.cache[series] end
  local r, n, packets, opts = ctx.r, ctx.n, ctx.packets, ctx.opts
  local max, total = 0, 0
  local hm, bin, nbins = nil, ctx.bin, ctx.bin_edges and #ctx.bin_edges
  if opts.heatmap then hm = {} end
  for i, port, count in r:ports(series) do
    if i > n then break end
    local p = packets[i]
    if p > 0 then
      local s = count / p
      total = total + 1
      if s > max then max = s end
      if hm then
        local k = (i - 1) * nbins + bin[port]
        hm[k] = (hm[k] or 0) + s
      end
    end
  end
  local threshold = max * opts.min_share
  local name = series .. ".dat"
  local path = ctx.workdir .. "/" .. name
  local f = open_data(path)
  local rgb = tonumber(figures.colors[series]:sub(2), 16)
  local alpha, dynamic = opts.alpha, opts.dynamic_alpha
  local static_colour = (floor((1 - alpha) * 255 + 0.5) << 24) | rgb
  local dp, dq = PAIR[series], QUAD[series]
  local yoff = opts.log_ports and 1 or 0
  local kept = 0
  local fmt = "%d %.2f %.2f %d %.6g %d\n"
  if total > 0 then
    for i, port, count in r:ports(series) do
      if i > n then break end
      local s = count / packets[i]
      if s >= threshold then
        local colour = static_colour
        if dynamic then
          local a = s / max * alpha
          if a < M.MIN_ALPHA then a = M.MIN_ALPHA end
          colour = (floor((1 - a) * 255 + 0.5) << 24) | rgb
        end
        f:write(fmt:format(i, i + dp, i + dq, port + yoff, s, colour))
        kept = kept + 1
      end
    end
  end
  close_data(f, path)
  local info = { name = name, path = path, max = max, total = total, kept = kept }
  if hm then
    info.heatmap_name = series .. "_heatmap.dat"
    info.heatmap = ctx.workdir .. "/" .. info.heatmap_name
    local h = open_data(info.heatmap)
    local lo, hi = huge, 0
    for i = 1, n do
      for b = 0, nbins - 1 do
        local v = hm[(i - 1) * nbins + b]
        if v then
          if v < lo then lo = v end
          if v > hi then hi = v end
        end
        h:write(i, " ", b, " ", v and ("%.6g"):format(v) or "NaN", "\n")
      end
    end
    close_data(h, info.heatmap)
    info.hm_lo, info.hm_hi = lo, hi
  end
  ctx.cache[series] = info
  return info
end

local function pct(x)
  return (("%.3f"):format(x * 100):gsub("0+$", ""):gsub("%.$", ""))
end

-- A 3D port figure: impulses from the shared series files, legends through keyentry.
local function prepare_ports(fig, ctx, job)
  local opts, n = ctx.opts, ctx.n
  local infos, zmax, total, kept, empty = {}, 0, 0, 0, {}
  for k, s in ipairs(fig.series) do
    local info = port_data(ctx, s.ports)
    infos[k] = info
    if info.max > zmax then zmax = info.max end
    total, kept = total + info.total, kept + info.kept
    if info.total == 0 then empty[#empty + 1] = figures.port_series_names[s.ports] end
  end
  local L = terminal(opts, job.product_name)
  L[#L + 1] = title(fig.title, ctx)
  L[#L + 1] = "set xlabel " .. gq(fig.xlabel) .. " offset 0,-1"
  L[#L + 1] = "set zlabel " .. gq(fig.zlabel) .. " rotate parallel offset -2,0"
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
  if kept < total then
    notes[#notes + 1] = ("not drawn: %s of %s bars, each below %s %% of the highest bar (one pixel)%s")
      :format(thousands(total - kept), thousands(total), pct(opts.min_share),
        not opts.heatmap and "" or (#fig.series == 1 and "; the heatmap shows them"
          or "; the heatmaps of figures 12-15 show them"))
  end
  if #empty > 0 and n > 0 then
    notes[#notes + 1] = "no " .. table.concat(empty, " or ") .. " ports in these intervals"
  end
  if n == 0 then notes[#notes + 1] = "no intervals to draw" end
  if #notes > 0 then
    L[#L + 1] = "set label 11 " .. gq(table.concat(notes, "; ")) .. " at screen 0.01, 0.9 left"
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
      :format(gq(figures.colors[s.ports]), gq(s.title))
  end
  for _, k in ipairs(keys) do plots[#plots + 1] = k end
  L[#L + 1] = "splot " .. table.concat(plots, ", \\\n      ")
  return L, files
end

-- The heatmap of one port series: intervals across, log-binned port ranges up, colour = share of the
-- interval's packets in that range (log scale), blank where there were none.
local function prepare_heatmap(fig, ctx, job)
  local opts, n = ctx.opts, ctx.n
  local s = fig.series[1]
  local info = port_data(ctx, s.ports)
  local edges = ctx.bin_edges
  local L = terminal(opts, job.product_name)
  L[#L + 1] = title(fig.title:gsub("^3D ", "") .. ", ports binned on a log scale", ctx)
  L[#L + 1] = "set xlabel 'Interval'"
  L[#L + 1] = "set ylabel " .. gq("Port (4 bins per octave; white: no packets)")
  L[#L + 1] = "set cblabel " .. gq("Share of the interval's packets (log scale)")
  L[#L + 1] = ("set xrange [0.5:%s]"):format(num(math.max(n, 1) + 0.5))
  L[#L + 1] = ("set yrange [-0.5:%s]"):format(num(#edges - 0.5))
  local tics = {}
  for b = 0, #edges - 1 do
    local lo = edges[b + 1]
    if lo == 0 or (lo & (lo - 1)) == 0 then tics[#tics + 1] = ("%s %d"):format(gq(tostring(lo)), b) end
  end
  L[#L + 1] = "set ytics (" .. table.concat(tics, ", ") .. ")"
  L[#L + 1] = "set logscale cb"
  L[#L + 1] = "set format cb '%g'"
  local lo, hi = info.hm_lo, info.hm_hi
  if info.total == 0 then lo, hi = 1e-6, 1 elseif lo >= hi then lo, hi = lo / 10, hi * 10 end
  L[#L + 1] = ("set cbrange [%s:%s]"):format(num(lo), num(hi))
  L[#L + 1] = "set palette defined (0 '#440154', 1 '#3b528b', 2 '#21918c', 3 '#5ec962', 4 '#fde725')"
  if n <= 20 then L[#L + 1] = "set xtics 1" end
  if info.total == 0 or n == 0 then
    L[#L + 1] = "set label 11 " .. gq(n == 0 and "no intervals to draw"
      or ("no " .. figures.port_series_names[s.ports] .. " ports in these intervals"))
      .. " at screen 0.01, 0.015 left"
    L[#L + 1] = "plot NaN notitle"
  else
    L[#L + 1] = "plot " .. gq(info.heatmap_name) .. " using 1:2:3 with image notitle"
  end
  return L, { info.heatmap }
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
  elseif fig.kind == "ports" then
    lines, data = prepare_ports(fig, ctx, job)
  else
    lines, data = prepare_2d(fig, ctx, job)
  end
  -- run as `gnuplot -c script WORKDIR`: the directory arrives as a string value, never as script text
  table.insert(lines, 1, "if (ARGC > 0) cd ARG1")
  lines[#lines + 1] = "unset output"
  job.script = ctx.workdir .. "/" .. base .. ".gp"
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

-- Runs gnuplot on each job's script, up to opts.jobs processes at a time (spawned with an argv, watched with
-- tpp.poll), and checks each: exit status 0, nothing fatal on stderr, a non-empty figure, which is then moved to
-- job.output.  opts: gnuplot (the program, as M.find returns it), jobs, dir (the work directory holding the
-- scripts), on_done(job) called as each job finishes (in completion order).  Sets on each job: ok, reason (when
-- not ok), warning (stderr of a successful run, if any).  Returns the jobs.
-- An error or an interrupt kills and reaps the running gnuplot processes, removes what they wrote, and is raised
-- again.
function M.run(jobs, opts)
  local dir = opts.dir
  local ok, err = pcall(pool.run, jobs, opts.jobs, {
    start = function(job)
      job.stderr = {}
      local proc, serr = tpp.spawn { opts.gnuplot, "-c", argv_path(job.script), argv_path(dir) }
      if not proc then
        job.ok, job.reason = false, "cannot run gnuplot: " .. tostring(serr)
        if opts.on_done then opts.on_done(job) end
      end
      return proc
    end,
    stderr = function(job, line) job.stderr[#job.stderr + 1] = line end,
    done = function(job, how, code)
      conclude(job, how, code, dir)
      if opts.on_done then opts.on_done(job) end
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
