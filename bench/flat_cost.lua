-- tpp bench/flat_cost.lua CAPTURE [RUNS] [OUTDIR] — what the main job's work after the parse costs as the
-- intervals get shorter (issue 19): parse, critical table, dump, port counts and heavy hitters timed apart at
-- -t 1, 0.01 and 0.001 (medians of RUNS, default 3), as Markdown rows; then the whole main job (`-f none -j 1`)
-- at -t 0.001 against -t 1, with every feature group (the default) and with --features none, run alternately.
local tpp = require "tpp"
local outputs = require "tpp.outputs"

local capture = arg[1] or error("usage: flat_cost.lua CAPTURE [RUNS] [OUTDIR]")
local runs = math.tointeger(tonumber(arg[2] or "3")) or 3
local dir = arg[3] or os.getenv("TMPDIR") or "/tmp"
local scratch = dir .. "/tpp-flat-cost"

local function median(xs)
  table.sort(xs)
  local n = #xs
  return n % 2 == 1 and xs[(n + 1) // 2] or (xs[n // 2] + xs[n // 2 + 1]) / 2
end

local function timed(fn)
  local t0 = tpp.now()
  fn()
  return tpp.now() - t0
end

local function sh_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

assert(outputs.mkdir(scratch))

print("| delta_t | intervals | parse | critical TSV | dump | port counts | heavy hitters |")
print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for _, dt in ipairs { 1, 0.01, 0.001 } do
  local t = { parse = {}, critical = {}, dump = {}, ports = {}, hh = {} }
  local n
  for k = 1, runs do
    local r
    t.parse[k] = timed(function() r = assert(tpp.parse(capture, { delta_t = dt })) end)
    n = #r
    t.critical[k] = timed(function() assert(r:write_critical(scratch .. "/critical.tsv")) end)
    t.dump[k] = timed(function() assert(r:dump(scratch .. "/dump.tpd")) end)
    t.ports[k] = timed(function() assert(r:write_port_count(scratch .. "/port_count.tsv")) end)
    t.hh[k] = timed(function() assert(r:write_heavy_hitters(scratch .. "/hh.tsv")) end)
    r = nil
    collectgarbage()
  end
  print(("| %g s | %d | %.2f s | %.2f s | %.2f s | %.3f s | %.2f s |"):format(dt, n, median(t.parse),
    median(t.critical), median(t.dump), median(t.ports), median(t.hh)))
end
print()

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
