-- tpp bench/flat_cost.lua CAPTURE [RUNS] [OUTDIR] — what the main job's work after the parse costs as the
-- intervals get shorter (issue 19): parse, critical table, dump, port counts and heavy hitters timed apart at
-- -t 1, 0.01 and 0.001 (medians of RUNS, default 3; wall and CPU time), with --features none and all, as Markdown
-- rows; then the whole main job (`-f none -j 1`) at -t 0.001 against -t 1, with every feature group (the default)
-- and with --features none, run alternately; then the parse and the outputs at -t 0.001 run at once in two
-- processes: the best that writing the outputs during the parse could do on this machine.
local tpp = require "tpp"
local outputs = require "tpp.outputs"

local capture = arg[1] or error("usage: flat_cost.lua CAPTURE [RUNS] [OUTDIR]")
local runs = math.tointeger(tonumber(arg[2] or "3")) or 3
local dir = arg[3] or os.getenv("TMPDIR") or "/tmp"
local scratch = dir .. "/tpp-flat-cost"

local median = require("bench.stats").median

local function sh_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

assert(outputs.mkdir(scratch))

-- wall time (and CPU time of every thread, os.clock) of fn
local function timed(fn)
  local t0, c0 = tpp.now(), os.clock()
  fn()
  return tpp.now() - t0, os.clock() - c0
end

local function cell(wall, cpu) return ("%.2f s (%.2f)"):format(median(wall), median(cpu)) end

for _, features in ipairs { "none", "all" } do
  print(("--features %s: wall time (CPU time, all threads)"):format(features))
  print()
  print("| delta_t | intervals | parse | critical TSV | dump | port counts | heavy hitters |")
  print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
  for _, dt in ipairs { 1, 0.01, 0.001 } do
    local parts = { "parse", "critical", "dump", "ports", "hh" }
    local wall, cpu = {}, {}
    for _, part in ipairs(parts) do wall[part], cpu[part] = {}, {} end
    local n
    for k = 1, runs do
      local r
      local steps = {
        parse = function() r = assert(tpp.parse(capture, { delta_t = dt, features = features })) end,
        critical = function() assert(r:write_critical(scratch .. "/critical.tsv")) end,
        dump = function() assert(r:dump(scratch .. "/dump.tpd")) end,
        ports = function() assert(r:write_port_count(scratch .. "/port_count.tsv")) end,
        hh = function() assert(r:write_heavy_hitters(scratch .. "/hh.tsv")) end,
      }
      for _, part in ipairs(parts) do wall[part][k], cpu[part][k] = timed(steps[part]) end
      n = #r
      r = nil
      collectgarbage()
    end
    print(("| %g s | %d | %s | %s | %s | %s | %s |"):format(dt, n, cell(wall.parse, cpu.parse),
      cell(wall.critical, cpu.critical), cell(wall.dump, cpu.dump), cell(wall.ports, cpu.ports), cell(wall.hh, cpu.hh)))
  end
  print()
end

-- The most that writing the outputs during the parse could give: at -t 0.001, --features none, the parse and
-- the main job's outputs (dump on its thread, critical table, port counts, as job.write_outputs writes them) of
-- the same result, loaded from a dump beforehand, run at once in two processes that start together.
local function overlap_floor()
  local stored = scratch .. "/overlap.tpd"
  assert(assert(tpp.parse(capture, { delta_t = 0.001, features = "none" })):dump(stored))
  local child = scratch .. "/overlap_child.lua"
  local f = assert(io.open(child, "w"))
  f:write([[
local tpp = require "tpp"
local what, start, capture, stored, dir = arg[1], tonumber(arg[2]), arg[3], arg[4], arg[5]
local r = what == "outputs" and assert(tpp.load(stored)) or nil
while tpp.now() < start do end
if what == "parse" then
  assert(tpp.parse(capture, { delta_t = 0.001, features = "none" }))
else
  local job = r:dump_start(dir .. "/o.tpd")
  assert(r:write_critical(dir .. "/o_critical.tsv"))
  assert(r:write_port_count(dir .. "/o_port_count.tsv"))
  assert(job:wait())
end
io.write(string.format("%.6f", tpp.now() - start))
]])
  f:close()
  local alone = { parse = {}, outputs = {}, both = {} }
  local function run(what, start, into)
    return ("./tpp %s %s %.6f %s %s %s > %s"):format(sh_quote(child), what, start, sh_quote(capture),
      sh_quote(stored), sh_quote(scratch), sh_quote(into))
  end
  local function took(file)
    local h = assert(io.open(file))
    local t = h:read("n")
    h:close()
    return t
  end
  for _ = 1, runs do
    for _, what in ipairs { "parse", "outputs" } do
      assert(os.execute(run(what, tpp.now() + 0.8, scratch .. "/t1")))
      alone[what][#alone[what] + 1] = took(scratch .. "/t1")
    end
    local start = tpp.now() + 1.5
    assert(os.execute(("sh -c %s"):format(sh_quote(run("parse", start, scratch .. "/t1") .. " & "
      .. run("outputs", start, scratch .. "/t2") .. "; wait"))))
    alone.both[#alone.both + 1] = math.max(took(scratch .. "/t1"), took(scratch .. "/t2"))
  end
  return median(alone.parse), median(alone.outputs), median(alone.both)
end
local floor_parse, floor_outputs, floor_both = overlap_floor()

-- The whole main job, fresh outputs each run (removed before the clock starts), the four commands alternately
-- (run 0 warms the page cache); wall time and CPU time (user + system, by /usr/bin/time).
local jobs, sizes = {}, {}
local out, timefile = scratch .. "/job", scratch .. "/time"
for _, features in ipairs { "all", "none" } do
  for _, dt in ipairs { "1", "0.001" } do
    jobs[#jobs + 1] = { features = features, dt = dt, wall = {}, cpu = {},
      cmd = ("/usr/bin/time -f '%%e %%U %%S' -o %s ./tpp scripts/exec.lua -q -f none -j 1 --features %s -t %s -o %s %s")
        :format(sh_quote(timefile), features, dt, sh_quote(out), sh_quote(capture)) }
  end
end
for run = 0, runs do
  for _, j in ipairs(jobs) do
    os.execute("rm -rf " .. sh_quote(out))
    assert(os.execute(j.cmd .. " >/dev/null"), j.cmd)
    local f = assert(io.open(timefile))
    local wall, user, sys = f:read("n", "n", "n")
    f:close()
    if run > 0 then j.wall[#j.wall + 1], j.cpu[#j.cpu + 1] = wall, user + sys end
    if j.features == "all" and j.dt == "0.001" then -- what it wrote
      for k, sub in ipairs { "critical", "hh", "mem_dump" } do
        local p = io.popen("du -sm " .. sh_quote(out .. "/" .. sub) .. " 2>/dev/null")
        sizes[k] = ("%s/ %s MB"):format(sub, (p:read("l") or "?"):match("^(%d+)") or "?")
        p:close()
      end
    end
  end
end
os.execute("rm -rf " .. sh_quote(scratch))
print("| main job (`-f none -j 1`) | -t 1: wall | CPU | -t 0.001: wall | CPU | ratio wall | ratio CPU |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
for k = 1, #jobs, 2 do
  local a, b = jobs[k], jobs[k + 1]
  local aw, ac, bw, bc = median(a.wall), median(a.cpu), median(b.wall), median(b.cpu)
  print(("| --features %s | %.2f s | %.2f s | %.2f s | %.2f s | %.2f | %.2f |"):format(a.features, aw, ac, bw, bc,
    bw / aw, bc / ac))
end
print()
print(("What the main job writes at -t 0.001 with every feature group: %s."):format(table.concat(sizes, ", ")))
print()
print("At -t 0.001, --features none, in two processes started together (the outputs from the same result, loaded"
  .. " from a dump first): the most that writing the outputs during the parse could give.")
print()
print("| parse alone | outputs alone (dump, critical table, port counts) | both at once |")
print("| ---: | ---: | ---: |")
print(("| %.2f s | %.2f s | %.2f s |"):format(floor_parse, floor_outputs, floor_both))
