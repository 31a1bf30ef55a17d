-- tpp bench/labels.lua CAPTURE N OUT.xml — N anomalies made up from CAPTURE's traffic, written as a MAWILab admd
-- file, for `make bench` to time a parse with them against one without (issue 17: at most 20 % slower with
-- 2,000).  The anomalies look like MAWILab's: windows of 1 s to 5 min around a packet of the capture, types in
-- MAWILab's proportions, one or two filters each, taken from a packet of a host pair chosen at random (and from
-- another): a host with or without one of its ports
-- (a source, a destination, a source with its source or destination port, a destination with its port, a host
-- pair), as MAWILab's rules name hosts; one anomaly in two hundred has a port alone, one in a thousand a filter
-- without attributes (all the traffic of its window, then 10 s long).  Reproducible: the generator is seeded.
local tpp = require "tpp"

local capture, n, out = arg[1], math.tointeger(tonumber(arg[2] or "")), arg[3]
if not capture or not n or n < 1 or not out then
  io.stderr:write("usage: tpp bench/labels.lua CAPTURE N OUT.xml\n")
  os.exit(2)
end

-- The first packet of each distinct (source, destination) pair, hosts heavy or light alike as an anomaly detector
-- finds them: the anomalies' addresses, ports and times.
local samples, pairs_seen = {}, {}
for p in tpp.packets(capture) do
  if p.ipv then
    local pair = p.src .. ">" .. p.dst
    if not pairs_seen[pair] then
      pairs_seen[pair] = true
      samples[#samples + 1] = p
    end
  end
end
assert(#samples > 0, "no IP packet in " .. capture)

math.randomseed(17)
local function pick(list) return list[math.random(#list)] end
local TYPES = { "anomalous", "anomalous", "suspicious", "suspicious", "notice" }
local HOSTS = {
  function(p) return { src_ip = p.src } end,
  function(p) return { dst_ip = p.dst } end,
  function(p) return { src_ip = p.src, dst_ip = p.dst } end,
}
local HOST_PORTS = {
  function(p) return { src_ip = p.src, dst_port = p.dport } end,
  function(p) return { src_ip = p.src, src_port = p.sport } end,
  function(p) return { dst_ip = p.dst, dst_port = p.dport } end,
}
local PORTS = {
  function(p) return { dst_port = p.dport } end,
  function(p) return { src_port = p.sport } end,
}

local lines = { '<?xml version="1.0" encoding="UTF-8"?>',
                '<admd:annotation xmlns:admd="http://www.fukuda-lab.org/mawilab/admd">' }
for k = 1, n do
  local p = pick(samples)
  local all = k % 1000 == 0
  local half = all and 5000000 or math.random(1, 300) * 500000   -- µs: windows of 1 s to 5 min
  local centre = p.ts_ns // 1000
  local from, to = centre - half, centre + half
  lines[#lines + 1] = ('  <anomaly type="%s" value="%d,0.5,3,bench_%d">'):format(pick(TYPES), k, k % 17)
  lines[#lines + 1] = "    <slice>"
  for f = 1, math.random(1, 2) do
    if f > 1 then p = pick(samples) end   -- another host of the same anomaly
    local forms = not p.dport and HOSTS or k % 200 == 50 and PORTS or math.random(2) == 1 and HOSTS or HOST_PORTS
    local f = all and {} or pick(forms)(p)
    local attrs = {}
    for _, key in ipairs { "src_ip", "dst_ip", "src_port", "dst_port" } do
      if f[key] then attrs[#attrs + 1] = ('%s="%s"'):format(key, f[key]) end
    end
    lines[#lines + 1] = "      <filter " .. table.concat(attrs, " ") .. "/>"
  end
  lines[#lines + 1] = "    </slice>"
  lines[#lines + 1] = ('    <from sec="%d" usec="%d"/>'):format(from // 1000000, from % 1000000)
  lines[#lines + 1] = ('    <to sec="%d" usec="%d"/>'):format(to // 1000000, to % 1000000)
  lines[#lines + 1] = "  </anomaly>"
end
lines[#lines + 1] = "</admd:annotation>"
assert(tpp.write_atomic(out, table.concat(lines, "\n") .. "\n"))
