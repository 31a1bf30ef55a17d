-- Two traces side by side: for each column, its mean, standard deviation, minimum and maximum in each trace, the
-- ratio of the means, and a sparkline of each trace's values over time.
--
--   tpp scripts/examples/compare.lua TRACE_A TRACE_B [--delta-t S] [--column NAME]...
--
-- A trace is a capture (parsed with --delta-t, default 10 s) or a dump.  Default columns: packets, src_ips,
-- dst_ips, entropy_src, entropy_dst, avg_len, tcp_frac, udp_frac, syn.
local tpp = require "tpp"

local USAGE = "usage: compare.lua TRACE_A TRACE_B [--delta-t S] [--column NAME]..."

local function fail(msg, status)   -- 2: a usage error; 1: a trace that cannot be read
  io.stderr:write("compare: ", msg, "\n")
  os.exit(status or 2)
end

local paths, delta_t, names = {}, nil, {}
local i = 1
while i <= #arg do
  local a = arg[i]
  local function value()
    i = i + 1
    return arg[i] or fail(a .. " needs a value\n" .. USAGE)
  end
  if a == "--delta-t" then delta_t = tonumber(value())
  elseif a == "--column" then names[#names + 1] = value()
  elseif a == "-h" or a == "--help" then print(USAGE); os.exit(0)
  elseif a:sub(1, 1) == "-" then fail("unexpected argument '" .. a .. "'\n" .. USAGE)
  else paths[#paths + 1] = a end
  i = i + 1
end
if #paths ~= 2 then fail(USAGE) end
if #names == 0 then
  names = { "packets", "src_ips", "dst_ips", "entropy_src", "entropy_dst", "avg_len", "tcp_frac", "udp_frac", "syn" }
end

local results = {}
for k, path in ipairs(paths) do
  local kind = require("tpp.result").kind(path)
  local r, err = tpp.open(path, kind ~= "dump" and { delta_t = delta_t or 10 } or nil)
  if not r then fail(err, 1) end
  results[k] = r
  print(("# %s: %s"):format(k == 1 and "A" or "B", tostring(r)))
end

local function num(v)
  if v == nil then return "-" end
  if math.type(v) == "integer" or v == math.floor(v) and math.abs(v) < 1e12 then return ("%d"):format(v) end
  return ("%.4g"):format(v)
end

print("column\tmean A\tmean B\tB/A\tstd A\tstd B\tmin A\tmin B\tmax A\tmax B\tA over time\tB over time")
for _, name in ipairs(names) do
  local ok, a = pcall(results[1].column, results[1], name)
  if not ok then fail(a) end
  local b = results[2]:column(name)
  local ma, mb = a:mean(), b:mean()
  local ratio = ma and mb and ma ~= 0 and ("%.3f"):format(mb / ma) or "-"
  print(table.concat({ name, num(ma), num(mb), ratio, num(a:std()), num(b:std()), num(a:min()), num(b:min()),
                       num(a:max()), num(b:max()), a:sparkline(24), b:sparkline(24) }, "\t"))
end
