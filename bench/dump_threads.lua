-- tpp bench/dump_threads.lua RUNS RESULT.tpd NAME=TPP ... — r:dump of one result by several tpp binaries (or one
-- binary run as `taskset -c 0 ./tpp`, on one processor), run after run in turn so that drift in the machine's speed
-- hits them alike: each run loads RESULT.tpd in a fresh process and times one dump of it (wall and CPU time of
-- every thread); prints each one's medians and its wall time's ratio to the first's, as a Markdown table.
--   tpp bench/dump_threads.lua 5 x.tpd "one=taskset -c 0 ./tpp" "two=./tpp"
-- (Internally a run is `TPP bench/dump_threads.lua --once RESULT.tpd OUT.tpd`, which prints "wall cpu".)
local tpp = require "tpp"

if arg[1] == "--once" then
  local r = assert(tpp.load(arg[2]))
  local t0, c0 = tpp.now(), os.clock()
  assert(r:dump(arg[3]))
  print(("%.4f %.4f"):format(tpp.now() - t0, os.clock() - c0))
  return
end

local runs, result = math.tointeger(tonumber(arg[1])), arg[2]
if not runs or not result then error("usage: dump_threads.lua RUNS RESULT.tpd NAME=TPP ...") end
local function sh_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end
local out = os.tmpname()
local cmds = {}
for i = 3, #arg do
  local name, cmd = arg[i]:match("^([^=]+)=(.+)$")
  if not name then error("expected NAME=TPP, got: " .. arg[i]) end
  cmds[#cmds + 1] = { name = name, cmd = cmd, wall = {}, cpu = {} }
end

local median = require("bench.stats").median

for _ = 1, runs do
  for _, c in ipairs(cmds) do
    local p = assert(io.popen(("%s bench/dump_threads.lua --once %s %s"):format(c.cmd, sh_quote(result), sh_quote(out))))
    local wall, cpu = p:read("n", "n")
    if not (p:close() and wall and cpu) then error(c.name .. " failed: " .. c.cmd) end
    c.wall[#c.wall + 1], c.cpu[#c.cpu + 1] = wall, cpu
  end
end
os.remove(out)

local base = median(cmds[1].wall)
print(("| tpp | dump wall, median of %d (s) | CPU (s) | ratio to %s |"):format(runs, cmds[1].name))
print("| --- | ---: | ---: | ---: |")
for _, c in ipairs(cmds) do
  local m = median(c.wall)
  print(("| %s | %.3f | %.3f | %.2f |"):format(c.name, m, median(c.cpu), m / base))
end
