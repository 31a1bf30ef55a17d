-- tpp scripts/plot.lua [options] DUMP|CAPTURE ...
-- Draws the 18 figures of each dump (mem_dump/<stem>.tpd, read with tpp.load) or capture (parsed with tpp.parse)
-- with gnuplot, and a page per trace showing them: OUT/<stem>_<n>.png and OUT/<stem>.html.  Directories are
-- searched for captures and dumps.  Exit status 1 when an input could not be read or a figure failed.
local tpp = require "tpp"
local walk = require "tpp.walk"
local plot = require "tpp.plot"
local cli = require "tpp.cli"
local argparse = require "argparse"

local parser = argparse("tpp scripts/plot.lua", "Draw the 18 figures of traces from their dumps or captures.")
  :epilog([[
Figures: 1 packet count, 2 distinct IPs, 3 F2, 4 average IAT, 5 average packet length, 6 protocol %,
7 SYN & FIN, 8 IAT mean ± std, 9 IAT skew, 10 IAT kurtosis, 11 normalized entropy, 12-15 3D port distribution
of TCP src, TCP dst, UDP src, UDP dst, 16 TCP src & dst, 17 UDP src & dst, 18 all four.

Size: fonts and lines scale with --dpi / 100, so the default 1600 x 900 at dpi 100 is a 16 x 9 in figure at
100 dpi; the original tool's 16 x 9 in at 600 dpi is --width 9600 --height 5400 --dpi 600.
3D bars below --min-share of the highest bar (one pixel of the z axis) are left out and counted in the figure;
--heatmap also draws figures 12-15 as heatmaps of log-binned ports, which show that tail.
Needs gnuplot (Debian package gnuplot-nox).]])
parser:argument("inputs", "Dumps (.tpd), captures, or directories holding them."):args("+")
parser:option("-o --out", "Output directory.", "plot")
parser:option("-f --figures", "Figures to draw: e.g. 1,2,12-18 | all | none.", "all")
parser:option("--format", "png or svg.", "png"):choices({ "png", "svg" })
parser:option("--width", "Width in pixels.", "1600"):convert(tonumber)
parser:option("--height", "Height in pixels.", "900"):convert(tonumber)
parser:option("--dpi", "Dots per inch: fonts and lines scale with dpi / 100.", "100"):convert(tonumber)
parser:option("--alpha", "Opacity of the 3D bars, 0..1.", "0.5"):convert(tonumber)
parser:flag("--dynamic-alpha", "Opacity of each 3D bar proportional to its height (floor 0.1).")
parser:flag("--log-ports", "Log-scaled port axis in the 3D figures.")
parser:flag("--heatmap", "Also draw figures 12-15 as heatmaps of log-binned ports (OUT/<stem>_<n>_heatmap).")
parser:option("--min-share", "Leave out 3D bars below this fraction of the highest bar.", "0.002"):convert(tonumber)
parser:option("--max-intervals", "Draw (and parse) only the first N intervals (0 = all).", "0"):convert(tonumber)
parser:option("-j --jobs", "gnuplot processes at once (default: the number of cores).")
  :convert(tonumber)
parser:option("--gnuplot", "The gnuplot command.", "gnuplot")
parser:option("-t --delta-t", "Captures: interval length in seconds.", "10"):convert(tonumber)
parser:option("--boundary", "Captures: aligned | packet.", "aligned"):choices({ "aligned", "packet" })
parser:option("--ip", "Captures: any | v4 | v6.", "any"):choices({ "any", "v4", "v6" })
parser:option("--filter", "Captures: BPF filter.")
parser:option("--max-packets", "Captures: stop after N packets (0 = all).", "0"):convert(tonumber)
parser:flag("--compat", "Captures: the original tool's semantics (--boundary packet --ip v4).")
parser:flag("-q --quiet", "No progress output.")

local args = parser:parse(arg)

local function die(msg)
  io.stderr:write("plot: ", msg, "\n")
  os.exit(2)
end

local list, ferr = cli.parse_figures(args.figures)
if not list then die(ferr) end
for _, name in ipairs({ "width", "height", "dpi", "alpha", "min_share", "max_intervals", "delta_t",
                        "max_packets" }) do
  if args[name] == nil then die("--" .. name:gsub("_", "-") .. " needs a number") end
end

local parse_opts = { delta_t = args.delta_t, boundary = args.boundary, ip = args.ip, filter = args.filter,
                     max_packets = math.tointeger(args.max_packets) or args.max_packets,
                     max_intervals = math.tointeger(args.max_intervals) or args.max_intervals }
if args.compat then parse_opts.boundary, parse_opts.ip = "packet", "v4" end

-- Inputs: captures (by their magic bytes) and dumps (whatever tpp.load accepts), directories searched.
local captures, skipped = walk.captures(args.inputs)
local inputs, failed = {}, 0
for _, path in ipairs(captures) do inputs[#inputs + 1] = { path = path, kind = "capture" } end
for _, s in ipairs(skipped) do
  if not s.missing and tpp.load and (s.path:match("%.tpd$") or s.reason:find("magic")) then
    inputs[#inputs + 1] = { path = s.path, kind = "dump", why = s.reason }
  else
    io.stderr:write("plot: skipped ", s.reason, "\n")
    if s.missing then failed = failed + 1 end
  end
end
table.sort(inputs, function(a, b) return a.path < b.path end)
if #inputs == 0 then die("nothing to draw: no capture or dump among the inputs") end

local used = {}
local started = tpp.now()
local drawn = 0
for _, input in ipairs(inputs) do
  local r, err
  if input.kind == "dump" then
    r, err = tpp.load(input.path)
    if not r and not input.path:match("%.tpd$") then
      -- neither a capture nor a dump: say both
      err = input.why .. "; as a dump: " .. tostring(err)
    end
  else
    r, err = tpp.parse(input.path, parse_opts)
  end
  if not r then
    io.stderr:write("plot: ", tostring(err), "\n")
    failed = failed + 1
  else
    if r.complete == false then
      io.stderr:write("plot: ", input.path, ": incomplete (", tostring(r.error), "); drawing what was read\n")
    end
    local stem = input.kind == "dump" and plot.stem(input.path) or walk.stem(input.path)
    if used[stem] then
      local k = 2
      while used[stem .. "-" .. k] do k = k + 1 end
      io.stderr:write(("plot: %s: another input is also called %s; its files are called %s-%d\n")
        :format(input.path, stem, stem, k))
      stem = stem .. "-" .. k
    end
    used[stem] = true
    local t0 = tpp.now()
    local files, failures = plot.draw(r, {
      dir = args.out, stem = stem, figures = list, format = args.format,
      width = math.tointeger(args.width) or args.width, height = math.tointeger(args.height) or args.height,
      dpi = args.dpi, alpha = args.alpha, dynamic_alpha = args.dynamic_alpha, log_ports = args.log_ports,
      heatmap = args.heatmap, min_share = args.min_share,
      max_intervals = math.tointeger(args.max_intervals) or args.max_intervals,
      jobs = args.jobs and (math.tointeger(args.jobs) or args.jobs), gnuplot = args.gnuplot, quiet = true })
    for _, f in ipairs(failures) do
      io.stderr:write(("plot: %s: figure %s: %s\n"):format(input.path, tostring(f.figure), f.reason))
    end
    if #failures > 0 then failed = failed + 1 end
    local n = 0
    for _, f in ipairs(files) do if not f:match("%.html$") then n = n + 1 end end
    drawn = drawn + n
    if not args.quiet then
      io.stderr:write(("plot: %s: %d figure file%s in %.1f s -> %s/%s.html\n"):format(input.path,
        n, n == 1 and "" or "s", tpp.now() - t0, args.out, stem))
    end
  end
end
if not args.quiet then
  io.stderr:write(("plot: %d input%s, %d figures in %.1f s%s\n"):format(#inputs, #inputs == 1 and "" or "s", drawn,
    tpp.now() - started, failed > 0 and (", " .. failed .. " with failures") or ""))
end
os.exit(failed == 0 and 0 or 1)
