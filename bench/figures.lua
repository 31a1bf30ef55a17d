-- tpp bench/figures.lua CAPTURE [RUNS] — what drawing costs: all 22 figures (tpp.plot.draw from a dump: the parse
-- is not timed) of CAPTURE at three sizes — 30,000 intervals (dt = span / 30,000), 90 intervals, and a one-interval
-- capture of two packets — each drawing in a fresh process, the three run alternately RUNS times (default 3) after a
-- warm-up round.  Prints a Markdown table of median wall times and the peak memory of tpp and its gnuplot processes
-- together (their resident sizes summed, sampled every 20 ms), and how much of it is the loaded result (the dump
-- of a parse with every feature group on: the heavy hitters of 30,000 intervals are most of it).
--
-- tpp bench/figures.lua --one DUMP DIR draws one dump's figures into DIR.
local tpp = require "tpp"
local lfs = require "lfs"

if arg[1] == "--one" then
  local plot = require "tpp.plot"
  local r = assert(tpp.load(arg[2], { state = false }))   -- as scripts/plot.lua loads a dump to draw it
  local kb = 0
  for line in io.lines("/proc/self/status") do kb = tonumber(line:match("^VmRSS:%s*(%d+)")) or kb end
  local _, failures = plot.draw(r, { dir = arg[3], quiet = true })
  if #failures > 0 then error(failures[1].reason, 0) end
  print(kb)   -- the loaded result's share of the peak
  return
end

local capture, runs = arg[1], math.tointeger(tonumber(arg[2] or "3"))
if not capture or not runs or runs < 1 then
  io.stderr:write("usage: tpp bench/figures.lua CAPTURE [RUNS]\n")
  os.exit(2)
end

-- The first number after `key` in /proc file `path`, or nil.
local function proc_number(path, key)
  local f = io.open(path)
  if not f then return nil end
  local text = f:read("a")
  f:close()
  return tonumber(text:match(key .. "%s*(%d+)"))
end

local function cmdline(pid)
  local f = io.open("/proc/" .. pid .. "/cmdline")
  local text = f and f:read("a")
  if f then f:close() end
  return text
end

-- Resident KB of process `pid` and of every process descending from it, found through the children lists of its
-- threads (/proc/PID/task/TID/children) rather than a scan of all of /proc: the sampler runs every 20 ms beside
-- the drawing on a machine of two cores and must not take the CPU it measures.  A child caught between
-- posix_spawn's clone and its exec still shares its parent's memory (CLONE_VM: the same pages, the same command
-- line) and is not counted twice.
local function tree_kb(pid, parent_cmdline)
  local own = cmdline(pid)
  if parent_cmdline and own == parent_cmdline then return 0 end
  local total = proc_number("/proc/" .. pid .. "/status", "VmRSS:") or 0
  local ok, iter, state = pcall(lfs.dir, "/proc/" .. pid .. "/task")
  if not ok then return total end
  for tid in iter, state do
    if tid:match("^%d+$") then
      local f = io.open(("/proc/%d/task/%s/children"):format(pid, tid))
      local list = f and f:read("a") or ""
      if f then f:close() end
      for child in list:gmatch("%d+") do total = total + tree_kb(tonumber(child), own) end
    end
  end
  return total
end

local tmp = os.tmpname()
os.remove(tmp)
assert(lfs.mkdir(tmp))

-- The three dumps to draw.
local r = assert(tpp.parse(capture, { delta_t = 10, features = "none" }))
local span = r.last_ts - r.first_ts
local dumps = {}
for _, size in ipairs({ 30000, 90 }) do
  local d = tmp .. "/n" .. size .. ".tpd"
  local rr = assert(tpp.parse(capture, { delta_t = span / size, anchor = "first" }))
  assert(rr:dump(d))
  dumps[#dumps + 1] = { name = ("%s intervals"):format(#rr), path = d }
end
do
  local synth = require "tpp.synth"
  local c = tmp .. "/one.pcap"
  synth.generate(c, { packets = 2, duration = 0.5 })
  local one = assert(tpp.parse(c))
  assert(one:dump(tmp .. "/one.tpd"))
  dumps[#dumps + 1] = { name = ("%d interval, %d packets"):format(#one, one.packets), path = tmp .. "/one.tpd" }
end

local function measure(d, k)
  local out = ("%s/out-%d"):format(tmp, k)
  local t0 = tpp.now()
  local p = assert(tpp.spawn { arg[-1], arg[0], "--one", d.path, out })
  local peak, err, loaded = 0, {}, 0
  repeat
    peak = math.max(peak, tree_kb(p:pid()))
    tpp.poll({ p }, 0.02)
    local o, e = p:read()
    for _, l in ipairs(e) do err[#err + 1] = l end
    for _, l in ipairs(o) do loaded = tonumber(l) or loaded end
  until p:eof()
  local ok = p:wait()
  local dt = tpp.now() - t0
  if not ok then error(d.name .. ": the drawing failed: " .. table.concat(err, "\n"), 0) end
  os.execute("rm -rf '" .. out .. "'")
  return dt, peak, loaded
end

local times, peaks, loads = {}, {}, {}
for round = 0, runs do
  for k, d in ipairs(dumps) do
    local dt, kb, loaded = measure(d, k)
    if round > 0 then
      times[k] = times[k] or {}
      times[k][#times[k] + 1] = dt
      peaks[k] = math.max(peaks[k] or 0, kb)
      loads[k] = math.max(loads[k] or 0, loaded)
    end
  end
end
os.execute("rm -rf '" .. tmp .. "'")

local plot = require "tpp.plot"
print(("| drawing (all 22 figures, %d x %d PNG) | median time (s) | peak memory, tpp + gnuplot (MB) |"
  .. " of which the loaded result (MB) |"):format(plot.WIDTH, plot.HEIGHT))
print("| --- | ---: | ---: | ---: |")
for k, d in ipairs(dumps) do
  table.sort(times[k])
  print(("| %s | %.2f | %d | %d |"):format(d.name, times[k][(#times[k] + 1) // 2], peaks[k] // 1024, loads[k] // 1024))
end
