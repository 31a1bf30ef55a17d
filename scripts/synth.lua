-- tpp scripts/synth.lua [options] OUT
-- Write a synthetic backbone-like trace (see lua/tpp/synth.lua for the traffic model).  The format follows the
-- name: .pcap, .pcapng, and either of them with .gz (gzip); any other name gets pcap.
local argparse = require "argparse"
local synth = require "tpp.synth"

local D = synth.defaults

local parser = argparse("tpp scripts/synth.lua", "Write a deterministic synthetic backbone-like trace.")
    :epilog("Same options and seed, same bytes (on every machine).  Output by name: .pcap, .pcapng, "
        .. ".pcap.gz / .gz, .pcapng.gz.")
parser:argument("out", "Output capture (.pcap, .pcapng, .pcap.gz, .pcapng.gz).")
parser:option("--packets", "Number of packets.", tostring(D.packets)):convert(math.tointeger)
parser:option("--duration", "Seconds the trace spans.", tostring(D.duration)):convert(tonumber)
parser:option("--start", "Epoch seconds of the start.", tostring(D.start)):convert(math.tointeger)
parser:option("--seed", "Random seed (integer).", tostring(D.seed)):convert(math.tointeger)
parser:option("--ipv6", "Fraction of IP packets that are IPv6.", tostring(D.ipv6)):convert(tonumber)
parser:option("--snaplen", "Snap length (bytes captured per frame at most; headers only).", tostring(D.snaplen))
    :convert(math.tointeger)
parser:option("--scans", "Number of scan events.", tostring(D.scans)):convert(math.tointeger)
parser:option("--vlan", "Fraction of frames with an 802.1Q tag.", tostring(D.vlan)):convert(tonumber)
parser:flag("--nanosecond", "pcap with nanosecond timestamps (pcapng always has them).")
parser:flag("-q --quiet", "No summary on stderr.")

-- A usage error: the usage and what is wrong on stderr, exit status 2 (argparse's own error() exits 1).
local function usage_error(msg)
  io.stderr:write(parser:get_usage(), "\n\nError: ", tostring(msg), "\n")
  os.exit(2)
end

local parsed, args = parser:pparse(arg)
if not parsed then usage_error(args) end

local function check(cond, msg) if not cond then usage_error(msg) end end
check(args.packets and args.packets >= 0, "--packets must be a non-negative integer")
check(args.duration and args.duration > 0, "--duration must be a number of seconds > 0")
check(args.start and args.start >= 0, "--start must be a non-negative integer")
check(args.seed, "--seed must be an integer")
check(args.ipv6 and args.ipv6 >= 0 and args.ipv6 <= 1, "--ipv6 must be a fraction in [0, 1]")
check(args.snaplen and args.snaplen > 0, "--snaplen must be a positive integer")
check(args.scans and args.scans >= 0, "--scans must be a non-negative integer")
check(args.vlan and args.vlan >= 0 and args.vlan <= 1, "--vlan must be a fraction in [0, 1]")

local quiet = args.quiet
local clock0 = os.clock()
local opts = {
    packets = args.packets, duration = args.duration, start = args.start, seed = args.seed, ipv6 = args.ipv6,
    snaplen = args.snaplen, scans = args.scans, vlan = args.vlan, nanosecond = args.nanosecond,
}
if not quiet and args.packets >= 4 * 1048576 then
    opts.progress = function(done, total)
        io.stderr:write(string.format("\r%d / %d packets", done, total))
        io.stderr:flush()
    end
end

local ok, s, err = pcall(synth.generate, args.out, opts)
if not ok and require("tpp").interrupted(s) then error(s, 0) end -- Ctrl-C: "tpp: interrupted", status 130
if not ok or not s then
    io.stderr:write("synth: ", tostring(ok and err or s), "\n")
    os.exit(1)
end

if not quiet then
    if opts.progress then io.stderr:write("\n") end
    local cpu = os.clock() - clock0
    local f = io.open(args.out, "rb")
    local size = f and f:seek("end") or 0
    if f then f:close() end
    local c = s.counts
    local ip = c.ipv4 + c.ipv6
    local function pct(n, d) return d > 0 and 100 * n / d or 0 end
    io.stderr:write(string.format("%s: %d packets, %.3f s .. %.3f s (%s), %d bytes, %.2f s CPU (%.0f packets/s)\n",
        args.out, s.packets, s.first_ts_ns and s.first_ts_ns / 1e9 or 0, s.last_ts_ns and s.last_ts_ns / 1e9 or 0,
        s.format, size, cpu, cpu > 0 and s.packets / cpu or 0))
    io.stderr:write(string.format("  IP %d (IPv6 %.1f %%), ARP %d; TCP %.1f %%, UDP %.1f %%, ICMP %.1f %%, "
        .. "GRE %.1f %%, ESP %.1f %% of IP; VLAN %d, fragments %d, SYN %d, FIN %d\n",
        ip, pct(c.ipv6, ip), c.arp, pct(c.tcp, ip), pct(c.udp, ip), pct(c.icmp + c.icmpv6, ip), pct(c.gre, ip),
        pct(c.esp, ip), c.vlan, c.fragments, c.syn, c.fin))
    for i, sc in ipairs(s.scans) do
        io.stderr:write(string.format("  scan %d: %s from %s to %s%s, %.3f s .. %.3f s, %d packets\n", i, sc.kind,
            sc.src, sc.dst, sc.dport and (" port " .. sc.dport) or " (port scan)", sc.start_ns / 1e9,
            sc.end_ns / 1e9, sc.packets))
    end
end
