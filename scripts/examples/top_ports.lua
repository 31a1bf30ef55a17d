-- The busiest ports of every interval: for each interval, its start (UTC), its packets, the port entropy of the
-- series and its K most frequent ports with their packet counts; then the busiest ports of the whole trace.
--
--   tpp scripts/examples/top_ports.lua TRACE [--series tcp_dst] [-k 5] [--delta-t S]
--
-- TRACE is a capture (parsed with --delta-t, default 10 s) or a dump.  Series: tcp_src, tcp_dst, udp_src, udp_dst.
local tpp = require "tpp"

local USAGE = "usage: top_ports.lua TRACE [--series tcp_src|tcp_dst|udp_src|udp_dst] [-k K] [--delta-t S]"

local function fail(msg, status)   -- 2: a usage error; 1: a trace that cannot be read
  io.stderr:write("top_ports: ", msg, "\n")
  os.exit(status or 2)
end

local path, series, k, delta_t = nil, "tcp_dst", 5, nil
local i = 1
while i <= #arg do
  local a = arg[i]
  local function value()
    i = i + 1
    return arg[i] or fail(a .. " needs a value\n" .. USAGE)
  end
  if a == "--series" then series = value()
  elseif a == "-k" then k = math.tointeger(tonumber(value()))
  elseif a == "--delta-t" then delta_t = tonumber(value())
  elseif a == "-h" or a == "--help" then print(USAGE); os.exit(0)
  elseif a:sub(1, 1) == "-" or path then fail("unexpected argument '" .. a .. "'\n" .. USAGE)
  else path = a end
  i = i + 1
end
if not path then fail(USAGE) end
if not k or k < 1 then fail("-k must be a positive integer") end

local kind = require("tpp.result").kind(path)
local r, err = tpp.open(path, kind ~= "dump" and { delta_t = delta_t or 10 } or nil)
if not r then fail(err, 1) end
local ok, entropy = pcall(r.port_entropy, r, series)
if not ok then fail(entropy) end

local source = require("tpp.walk").printable(r.source)   -- one line, whatever the capture's name holds
print(("# %s: the %d busiest %s ports of each of %d intervals of %g s"):format(source, k, series, #r, r.delta_t))
print("interval\tstart (UTC)\tpackets\tport entropy\tports (packets)")
local starts, packets = r:column("start"), r:column("packets")
for j = 1, #r do
  print(("%d\t%s\t%d\t%.3f\t%s"):format(j - 1, os.date("!%Y-%m-%d %H:%M:%S", math.floor(starts[j])), packets[j],
                                        entropy[j], tostring(r:top_ports(series, j, k))))
end
print(("# whole trace: %s"):format(tostring(r:top_ports(series, nil, k))))
