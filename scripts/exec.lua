-- tpp scripts/exec.lua [-o DIR] [-t SEC] [PATH ...]
-- The main job (minimal for now): parse every capture under PATH (default data/) and write
-- DIR/critical/<stem>_critical.tsv for each.  Exit status 1 when any capture failed or was incomplete.
local tpp = require "tpp"
local walk = require "tpp.walk"
local lfs = require "lfs"

local out, opts, paths = ".", { delta_t = 10 }, {}
local i = 1
while i <= #arg do
  local a = arg[i]
  if a == "-o" or a == "--out" then out = arg[i + 1]; i = i + 1
  elseif a == "-t" or a == "--delta-t" then opts.delta_t = tonumber(arg[i + 1]); i = i + 1
  elseif a == "-h" or a == "--help" then
    print("usage: tpp scripts/exec.lua [-o DIR] [-t SECONDS] [PATH ...]")
    os.exit(0)
  else paths[#paths + 1] = a end
  i = i + 1
end
if #paths == 0 then paths = { "data" } end

local function mkdir_p(dir)
  local sofar = dir:sub(1, 1) == "/" and "/" or ""
  for part in dir:gmatch("[^/]+") do
    sofar = sofar .. part .. "/"
    if not lfs.attributes(sofar) then assert(lfs.mkdir(sofar)) end
  end
end

local critical = out .. "/critical"
mkdir_p(critical)
local captures, skipped = walk.captures(paths)
for _, s in ipairs(skipped) do io.stderr:write("skipped ", s.reason, "\n") end

local failed = 0
for _, path in ipairs(captures) do
  local r, err = tpp.parse(path, opts)
  if not r then
    io.stderr:write("tpp: ", err, "\n")
    failed = failed + 1
  else
    if r.warning then io.stderr:write("tpp: ", path, ": ", r.warning, "\n") end
    if not r.complete then
      io.stderr:write("tpp: ", path, ": incomplete: ", r.error, "\n")
      failed = failed + 1
    end
    local target = critical .. "/" .. walk.stem(path) .. "_critical.tsv"
    local ok, werr = r:write_critical(target)
    if not ok then io.stderr:write("tpp: ", werr, "\n"); failed = failed + 1
    else io.stderr:write(tostring(r), " -> ", target, "\n") end
  end
end
os.exit(failed == 0 and 0 or 1)
