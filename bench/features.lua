-- tpp bench/features.lua CAPTURE [RUNS] — what each research feature group costs: tpp.parse of CAPTURE (dt 10 s)
-- with features = "none", each group alone and "all", every configuration in a fresh process (its peak memory is
-- its own), the configurations run alternately RUNS times (default 5) after a warm-up round, as a Markdown table of
-- median parse times, their cost over "none" and the peak resident memory.
--
-- tpp bench/features.lua --one CAPTURE FEATURES is one such process: it prints the parse's wall time and the peak
-- resident memory in KB.
local tpp = require "tpp"

-- The groups of the features option (docs/lua-api.md), each timed alone.
local GROUPS = { "ports", "prefixes", "flows", "novelty", "headers", "hh" }

local function peak_kb()
  local f = io.open("/proc/self/status")
  if not f then return 0 end
  local kb = 0
  for line in f:lines() do kb = tonumber(line:match("^VmHWM:%s*(%d+)")) or kb end
  f:close()
  return kb
end

if arg[1] == "--one" then
  local capture, features = arg[2], arg[3]
  local t0 = tpp.now()
  local r = assert(tpp.parse(capture, { delta_t = 10, features = features }))
  local dt = tpp.now() - t0
  assert(r.complete, r.error)
  print(("%.6f %d"):format(dt, peak_kb()))
  return
end

local capture, runs = arg[1], math.tointeger(tonumber(arg[2] or "5"))
if not capture or not runs or runs < 1 then
  io.stderr:write("usage: tpp bench/features.lua CAPTURE [RUNS]\n")
  os.exit(2)
end
local f = io.open(capture, "rb")
if not f then
  io.stderr:write("bench/features.lua: ", capture, ": cannot open\n")
  os.exit(1)
end
f:close()

-- One parse in a child process: its time (s) and peak memory (KB).
local function measure(features)
  local p = assert(tpp.spawn { arg[-1], arg[0], "--one", capture, features })
  local out, err = {}, {}
  repeat
    tpp.poll({ p }, 1)
    local o, e = p:read()
    for _, l in ipairs(o) do out[#out + 1] = l end
    for _, l in ipairs(e) do err[#err + 1] = l end
  until p:eof()
  local ok = p:wait()
  local dt, kb = (out[#out] or ""):match("^(%S+) (%d+)$")
  if not ok or not dt then
    error(("features = %q: the parse failed: %s"):format(features, table.concat(err, "\n")), 0)
  end
  return tonumber(dt), tonumber(kb)
end

local median = require("bench.stats").median

local configs = { { name = "none" } }
for _, g in ipairs(GROUPS) do configs[#configs + 1] = { name = g } end
configs[#configs + 1] = { name = "all" }
for _, c in ipairs(configs) do c.times, c.kb = {}, 0 end

for run = 0, runs do                  -- run 0 warms the page cache and is not counted
  for _, c in ipairs(configs) do
    local dt, kb = measure(c.name)
    if run > 0 then c.times[#c.times + 1] = dt end
    c.kb = math.max(c.kb, kb)
  end
end

local base = median(configs[1].times)
print(("| features | median of %d (s) | cost over none (s) | ratio to none | peak RSS (MB) |"):format(runs))
print("| --- | ---: | ---: | ---: | ---: |")
for _, c in ipairs(configs) do
  local m = median(c.times)
  print(("| %s | %.3f | %+.3f | %.2f | %d |"):format(c.name, m, m - base, m / base, c.kb // 1024))
end
