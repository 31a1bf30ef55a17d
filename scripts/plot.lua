-- tpp scripts/plot.lua [options] DUMP|CAPTURE|DIR ...
-- Draws the 22 figures of each dump (mem_dump/<stem>.tpd, read with tpp.load) or capture (parsed with tpp.parse)
-- with gnuplot, and a page per trace showing them: OUT/<stem>_<n>.png and OUT/<stem>.html.  Directories are
-- walked as the main job walks them (tpp.walk); dumps are recognised by their signature, and a file that is
-- neither a capture nor a dump is skipped with one line.  Exit status: 0 all drawn, 1 an input or a figure
-- failed (or gnuplot is missing), 2 usage error, 130 interrupted.
local tpp = require "tpp"
local walk = require "tpp.walk"
local plot = require "tpp.plot"
local gnuplot = require "tpp.gnuplot"
local cli = require "tpp.cli"
local script_cli = require "tpp.script_cli"

local USAGE = "tpp scripts/plot.lua [options] DUMP|CAPTURE|DIR ..."

-- The options: { names, ARG (nil for a flag), help, default }.  The parser and the help text are made from this.
local OPTIONS = {
  { "-o --out", "DIR", "Output directory.", "plot" },
  { "-f --figures", "LIST", "Figures to draw: e.g. 1,2,12-18 | all | none.", "all" },
  { "--format", "FMT", "png or svg.", "png" },
  { "--width", "PX", "Width in pixels.", tostring(plot.WIDTH) },
  { "--height", "PX", "Height in pixels.", tostring(plot.HEIGHT) },
  { "--dpi", "N", "Dots per inch: fonts and lines scale with dpi / 100.", "100" },
  { "--alpha", "A", "Opacity of the 3D bars, 0..1.", "0.5" },
  { "--dynamic-alpha", nil, "Opacity of each 3D bar proportional to its height (floor 0.1)." },
  { "--log-ports", nil, "Log-scaled port axis in the 3D figures." },
  { "--heatmap", nil, "Also draw figures 12-15 as heatmaps of log-binned ports (OUT/<stem>_<n>_heatmap)." },
  { "--ports", "VIEW", "Port figures 12-18: auto | bars | heatmap (auto: heatmaps past 200 intervals or when bars would leave out more than 25 % of the packets).", "auto" },
  { "--min-share", "X", "Leave out 3D bars below this fraction of the highest bar.", "0.002" },
  { "--max-intervals", "N", "Draw (and parse) only the first N intervals (0 = all).", "0" },
  { "-j --jobs", "N", "gnuplot processes at once (default: the number of cores)." },
  { "--gnuplot", "PROG", "The gnuplot program (looked up in PATH).", "gnuplot" },
  { "-t --delta-t", "SEC", "Captures: interval length in seconds.", "10" },
  { "--boundary", "MODE", "Captures: aligned | packet.", "aligned" },
  { "--ip", "FAMILY", "Captures: any | v4 | v6.", "any" },
  { "--filter", "EXPR", "Captures: BPF filter." },
  { "--max-packets", "N", "Captures: stop after N packets (0 = all).", "0" },
  { "--compat", nil, "Captures: the original tool's semantics (--boundary packet --ip v4)." },
  { "-q --quiet", nil, "Only problems on stderr." },
  { "-h --help", nil, "Show this help and exit." },
}

local EPILOG = [[
Figures: 1 packet count, 2 distinct IPs, 3 F2, 4 average IAT, 5 average packet length, 6 protocol %,
7 SYN & FIN, 8 IAT mean ± std, 9 IAT skew, 10 IAT kurtosis, 11 normalized entropy, 12-15 3D port distribution
of TCP src, TCP dst, UDP src, UDP dst, 16 TCP src & dst, 17 UDP src & dst, 18 all four; tpp's own:
19 port entropy, 20 prefix cardinality (/24, /16), 21 flows and new flows, 22 heavy-hitter share of the top source.

Size: fonts and lines scale with --dpi / 100, so the default WxH at dpi 100 is a W/100 x H/100 in figure at
100 dpi; the original tool's 16 x 9 in at 600 dpi is --width 9600 --height 5400 --dpi 600.
3D bars below --min-share of the highest bar (one pixel of the z axis) are left out, and the figure says what
share of the packets they carried; when that passes 25 %, or past 200 intervals, the port figures are drawn as
heatmaps (port bins x intervals, log colour scale) instead (--ports bars keeps the bars); --heatmap also draws
figures 12-15 as heatmaps beside the bars.  Past about two intervals per pixel, the time series are drawn per
pixel column: the mean as a line, min to max as a band.
Needs gnuplot (Debian package gnuplot-nox).

Exit status: 0 when every figure of every input was drawn, 1 when an input could not be read, a figure
failed or gnuplot is missing, 2 on a usage error, 130 when interrupted.]]
EPILOG = EPILOG:gsub("WxH", ("%d x %d"):format(plot.WIDTH, plot.HEIGHT))
  :gsub("W/100 x H/100", ("%g x %g"):format(plot.WIDTH / 100, plot.HEIGHT / 100))

local parser = script_cli.parser {
  prog = "tpp scripts/plot.lua", usage = USAGE, options = OPTIONS, epilog = EPILOG,
  summary = "Draw the 22 figures of traces (dumps or captures) with gnuplot, and a page per trace.",
  argument = { "DUMP|CAPTURE|DIR", "Dumps (.tpd), captures, or directories holding them (walked recursively)." },
}

local function die(msg) script_cli.usage_error("plot", USAGE, msg) end

-- A name for a message line: control characters (a newline in a file name) shown as escapes.
local printable = walk.printable

local ok_args, args = parser:pparse(arg)
if not ok_args then die(args) end
if #args.inputs == 0 then die("no input: name dumps, captures or directories") end

local list, ferr = cli.parse_figures(args.figures)
if not list then die(ferr) end

-- Numeric options: a number in range, else a usage error.
local function number(name, lo, hi, integer)
  local flag = "--" .. name:gsub("_", "-")
  local v = tonumber(args[name])
  if v == nil then die(("%s needs a number, got '%s'"):format(flag, tostring(args[name]))) end
  if v ~= v or v < lo or (hi and v > hi) or (integer and math.floor(v) ~= v) then
    die(("%s must be %s %s, got '%s'"):format(flag, integer and "an integer" or "a number",
      hi and ("from " .. lo .. " to " .. hi) or (">= " .. lo), tostring(args[name])))
  end
  return integer and math.tointeger(v) or v
end
local width, height = number("width", 64, 30000, true), number("height", 64, 30000, true)
local dpi, alpha, min_share = number("dpi", 10, 2400), number("alpha", 0.01, 1), number("min_share", 0, 1)
local max_intervals, max_packets = number("max_intervals", 0, nil, true), number("max_packets", 0, nil, true)
local delta_t = number("delta_t", 1e-9, 1e9)
local jobs = args.jobs and number("jobs", 1, 256, true)
local function one_of(name, ...)
  for _, v in ipairs({ ... }) do if args[name] == v then return v end end
  die(("--%s must be one of %s, got '%s'"):format(name, table.concat({ ... }, ", "), tostring(args[name])))
end
local format = one_of("format", "png", "svg")
local port_view = one_of("ports", "auto", "bars", "heatmap")
local parse_opts = { delta_t = delta_t, boundary = one_of("boundary", "aligned", "packet"),
                     ip = one_of("ip", "any", "v4", "v6"), filter = args.filter, max_packets = max_packets,
                     max_intervals = max_intervals }
if args.compat then parse_opts.boundary, parse_opts.ip = "packet", "v4" end
-- A bad filter would fail every capture alike: a usage error, said once before any work (as the main job does).
if args.filter and args.filter ~= "" then
  local good, why = tpp.check_filter(args.filter)
  if not good then die(why) end
end

local function say(text) io.stderr:write("plot: ", text, "\n") end

-- Whether the file at `path` is a dump (tpp.kind knows its signature); or nil and why it cannot be read.
local function is_dump(path)
  local kind, err, unreadable = tpp.kind(path)
  if unreadable then return nil, err end
  return kind == "dump"
end

-- Why a file the walk skipped is not drawn: the walk's own reason when it says more (an empty file, a FIFO, a
-- compressor to undo first), else that it is neither a capture nor a dump.
local function why_not(s)
  if s.reason and not s.reason:find("unknown magic bytes", 1, true) then return s.reason end
  return s.path .. ": neither a capture nor a dump"
end

local function main()
  -- one line per run, not one per figure and trace
  if #list > 0 and not gnuplot.find(args.gnuplot) then
    say(gnuplot.MISSING)
    return 1
  end

  -- Inputs: captures (by their magic bytes) and dumps (by their signature); directories walked.
  local named = {}
  for _, p in ipairs(args.inputs) do named[p] = true end
  -- the output directory holds this script's figures and pages, never its inputs: a walk over it skips it
  local captures, skipped = walk.captures(args.inputs, { skip = { args.out } })
  local inputs, failed = {}, 0
  for _, path in ipairs(captures) do inputs[#inputs + 1] = { path = path, kind = "capture" } end
  for _, s in ipairs(skipped) do
    local dump, err = false, nil
    if not s.missing and not s.stream then dump, err = is_dump(s.path) end
    if dump then
      inputs[#inputs + 1] = { path = s.path, kind = "dump" }
    elseif s.missing or named[s.path] or err then
      say(printable(err or s.missing and s.reason or why_not(s)))
      failed = failed + 1
    elseif not args.quiet then
      say("skipping " .. printable(why_not(s)))
    end
  end
  table.sort(inputs, function(a, b) return a.path < b.path end)
  if #inputs == 0 then
    say("nothing to draw: no capture or dump in " .. printable(table.concat(args.inputs, ", ")))
    return 1
  end

  -- an output directory that cannot be made fails every figure alike: one line, in the system's words
  local made, merr = require("tpp.outputs").mkdir(args.out)
  if not made then
    say(printable(merr))
    return 1
  end

  local used = {}
  local started = tpp.now()
  local drawn = 0
  for _, input in ipairs(inputs) do
    local r, err
    if input.kind == "dump" then
      r, err = tpp.load(input.path, { state = false })   -- drawing needs none of the merge state
    else
      r, err = tpp.parse(input.path, parse_opts)
    end
    if not r then
      say(printable(err))
      failed = failed + 1
    else
      if r.complete == false then
        say(("%s: incomplete (%s); drawing what was read"):format(printable(input.path), printable(r.error)))
      end
      -- a capture is named as the main job names it: its stem, "stdin" for "-", "fd63" for <(...)
      local stem = input.kind == "dump" and plot.stem(input.path) or walk.names({ input.path })[1]
      if used[stem] then
        local k = 2
        while used[stem .. "-" .. k] do k = k + 1 end
        say(("%s: another input is also called %s; its files are called %s-%d")
          :format(printable(input.path), printable(stem), printable(stem), k))
        stem = stem .. "-" .. k
      end
      used[stem] = true
      local t0 = tpp.now()
      local files, failures = plot.draw(r, {
        dir = args.out, stem = stem, figures = list, format = format, width = width, height = height, dpi = dpi,
        alpha = alpha, dynamic_alpha = args.dynamic_alpha, log_ports = args.log_ports, heatmap = args.heatmap,
        port_view = port_view,
        min_share = min_share, max_intervals = max_intervals, jobs = jobs, gnuplot = args.gnuplot, quiet = true })
      for _, f in ipairs(failures) do
        say(("%s: %s%s"):format(printable(input.path), f.figure and ("figure " .. tostring(f.figure) .. ": ") or "",
          printable(f.reason)))
      end
      if #failures > 0 then failed = failed + 1 end
      local n = 0
      for _, f in ipairs(files) do if not f:match("%.html$") then n = n + 1 end end
      drawn = drawn + n
      if not args.quiet then
        say(("%s: %d figure file%s in %.1f s -> %s/%s.html"):format(printable(input.path), n, n == 1 and "" or "s",
          tpp.now() - t0, printable(args.out), printable(stem)))
      end
    end
  end
  if not args.quiet then
    say(("%d input%s, %d figure%s in %.1f s%s"):format(#inputs, #inputs == 1 and "" or "s", drawn,
      drawn == 1 and "" or "s", tpp.now() - started, failed > 0 and (", " .. failed .. " with failures") or ""))
  end
  return failed == 0 and 0 or 1
end

-- An interrupt (tpp.INTERRUPTED) goes on to the host, which prints "tpp: interrupted" and exits with 130.
local ok, status = xpcall(main, function(e)
  if tpp.interrupted(e) then return e end
  return debug.traceback(e, 2)
end)
if not ok then error(status, 0) end
os.exit(status)
