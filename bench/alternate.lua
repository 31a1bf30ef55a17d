-- tpp bench/alternate.lua RUNS NAME=COMMAND ...
-- Time several commands by alternating them run after run (so that drift in the machine's speed hits all of
-- them alike), then print each one's median wall time and its ratio to the first command's.
local tpp = require "tpp"

local runs = math.tointeger(tonumber(arg[1])) or error("usage: alternate.lua RUNS NAME=COMMAND ...")
local cmds = {}
for i = 2, #arg do
  local name, cmd = arg[i]:match("^([^=]+)=(.+)$")
  if not name then error("expected NAME=COMMAND, got: " .. arg[i]) end
  cmds[#cmds + 1] = { name = name, cmd = cmd, times = {} }
end

local median = require("bench.stats").median

for run = 0, runs do                  -- run 0 warms the page cache and is not counted
  for _, c in ipairs(cmds) do
    local t0 = tpp.now()
    local ok = os.execute(c.cmd .. " >/dev/null")
    local dt = tpp.now() - t0
    if not ok then error(c.name .. " failed: " .. c.cmd) end
    if run > 0 then c.times[#c.times + 1] = dt end
  end
end

local base = median(cmds[1].times)
print(("| command | median of %d (s) | ratio to %s |"):format(runs, cmds[1].name))
print("| --- | ---: | ---: |")
for _, c in ipairs(cmds) do
  local m = median(c.times)
  print(("| %s | %.3f | %.2f |"):format(c.name, m, m / base))
end
