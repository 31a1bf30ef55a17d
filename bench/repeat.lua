-- tpp bench/repeat.lua IN.pcap K OUT.pcap — every packet of IN written K times, copy k one microsecond after
-- copy k-1: K times the packets with the same addresses and ports in each interval.  The memory benchmark
-- compares tpp on IN and on OUT to show that memory follows the distinct addresses and ports of an interval,
-- not the number of packets.  IN must be a little-endian microsecond pcap (what scripts/synth.lua writes).
local input, k, output = arg[1], math.tointeger(tonumber(arg[2] or "")), arg[3]
assert(input and k and k >= 1 and output, "usage: tpp bench/repeat.lua IN.pcap K OUT.pcap")
local fin = assert(io.open(input, "rb"))
local header = fin:read(24)
assert(header and string.unpack("<I4", header) == 0xa1b2c3d4, input .. ": not a little-endian microsecond pcap")
local tmp = output .. ".part"
local fout = assert(io.open(tmp, "wb"))
fout:setvbuf("full", 1 << 20)
fout:write(header)
while true do
  local rec = fin:read(16)
  if not rec then break end
  local sec, usec, caplen, len = string.unpack("<I4I4I4I4", rec)
  local data = assert(fin:read(caplen), input .. ": truncated")
  for copy = 0, k - 1 do
    local u = usec + copy
    fout:write(string.pack("<I4I4I4I4", sec + u // 1000000, u % 1000000, caplen, len), data)
  end
end
fin:close()
assert(fout:close())
assert(os.rename(tmp, output))
