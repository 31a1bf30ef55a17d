-- tpp.synth — a deterministic generator of synthetic backbone-like traces (Ethernet link type).
--
--   local synth = require "tpp.synth"
--   local s = synth.generate("out.pcap.gz", { packets = 100000, duration = 60, seed = 1 })
--   print(s.packets, s.first_ts_ns, s.last_ts_ns, s.counts.tcp)
--
-- What it writes:
--   * Zipf-distributed addresses: IPv4 servers (2^15, s = 1.1) and clients (2^17, s = 0.85), IPv6 the same with
--     2^12 / 2^14; a packet's direction decides which one is the source; opts.ipv6 of the (non-scan) IP packets
--     are IPv6;
--   * ports: the server side from a weighted list of well-known ports (443, 80, 53, ...) with a Zipf tail of random
--     high ports, the client side ephemeral;
--   * a protocol mix of the IP packets: TCP 74 %, UDP 20 %, ICMP / ICMPv6 3.5 %, GRE 1.2 %, ESP 1.3 % (M.mix), and
--     ARP frames (non-IP, opts.arp of all frames); 802.1Q tags on opts.vlan of the frames;
--   * IPv4 fragments (some big UDP datagrams, a few 1500-byte TCP segments): the first fragment (MF, offset 0, with
--     its transport header) immediately followed by the non-first one (offset 1480);
--   * IP total length 28/40..1500, bimodal (many 40/52-byte ACKs, many 1500-byte segments, QUIC around 1250);
--   * TCP flags: ACK 52 %, PSH|ACK 29 %, SYN 6 %, SYN|ACK 4.5 %, FIN|ACK 4 %, RST|ACK 2 %, RST 1.5 %,
--     FIN|PSH|ACK 1 % (SYN/FIN/RST segments carry real-looking options);
--   * header-only capture: the frame holds the headers (Ethernet, IP, transport; cut at opts.snaplen, default 96)
--     and wirelen is the whole frame (at least 60), as in MAWI traces;
--   * the rate varies slowly (two sinusoids), with noise and short bursts (×1.5..×3.5 for 0.05..1 s, about one per
--     15 s); exactly opts.packets packets fall in [start, start + duration), Poisson-like within 10 ms bins;
--   * opts.scans scan events of 5..15 s, one in each equal segment of the trace, alternating a port scan (one
--     source, one target, TCP ports in a permuted order) and an address sweep (one source, a /16 of targets, one
--     port); they are SYNs, 30 % of the packets of their time (the rate rises by 1/0.7).
--
-- Deterministic: the same options give a byte-identical file on every machine.  The generator uses splitmix64 on
-- Lua integers and only + - * / on floats (its own sin/ln/exp), never math.random or libm.  Timestamps are whole
-- microseconds unless opts.nanosecond, so .pcap, .pcapng and .gz outputs of the same options hold the same times.
--
-- opts (all optional):
--   packets (100000)  duration (60, seconds)  start (1674709200, epoch seconds, integer)  seed (1, integer)
--   ipv6 (0.1)  snaplen (96)  nanosecond (false: µs timestamps, pcap with µs magic; true: ns stamps and ns magic)
--   scans (2)  vlan (0.15)  arp (0.005)
--   format ("pcap" / "pcapng"; default from the name: .pcapng and .pcapng.gz give pcapng)
--   gzip (default: the name ends in .gz)  progress (function(done, total), called about every 2^20 packets)
--
-- generate(path, opts) returns a summary (or nil, "path: reason" when the capture cannot be written; bad options
-- raise): { path, format, snaplen, seed, packets, first_ts_ns, last_ts_ns,
--   start_ns, duration_ns, seconds (CPU),
--   counts = { ipv4, ipv6, arp, tcp, udp, icmp, icmpv6, gre, esp, vlan, fragments, first_fragments, syn, fin,
--              scan },
--   scans = { { kind = "ports" | "addresses", start_ns, end_ns, src, dst, dport, packets }, ... },
--   bursts = { { start_ns, end_ns, factor }, ... } }
-- counts.tcp / udp / ... count IPv4 and IPv6 packets, fragments and scan packets included; counts.icmp is ICMPv4
-- only; counts.fragments counts first and non-first fragments; counts.syn counts segments with SYN set.
--
-- The file reads top-down as the generator runs: deterministic arithmetic, the random stream (splitmix64), the
-- samplers, the traffic model, the setup (populations of addresses, ports and header tables; the time plan of
-- rate, bursts and scans), the frame builders, the emitting loop, and generate() that joins them.

local M = {}

---------------------------------------------------------------------------------------------------------------
-- Deterministic arithmetic (only + - * / and comparisons on floats)
---------------------------------------------------------------------------------------------------------------

local LN2 <const> = 0.69314718055994530942
local PI <const> = 3.14159265358979323846

-- Natural logarithm, x > 0.
local function ln(x)
  assert(x > 0, "ln of a non-positive number")
  local k = 0
  while x >= 65536 do x = x / 65536; k = k + 16 end          -- powers of two: exact
  while x < 1 / 65536 do x = x * 65536; k = k - 16 end
  while x >= 2 do x = x / 2; k = k + 1 end
  while x < 1 do x = x * 2; k = k - 1 end
  if x > 1.4142135623730951 then x = x / 2; k = k + 1 end   -- x in [0.707, 1.414]
  local y = (x - 1) / (x + 1)                                 -- |y| < 0.172
  local y2, term, sum = y * y, y, 0.0
  for i = 1, 25, 2 do
    sum = sum + term / i
    term = term * y2
  end
  return 2 * sum + k * LN2
end

local function exp(x)
  local k = x / LN2
  k = k >= 0 and math.floor(k + 0.5) or -math.floor(-k + 0.5)
  local r = x - k * LN2
  local sum, term = 1.0, 1.0
  for i = 1, 17 do
    term = term * r / i
    sum = sum + term
  end
  while k >= 16 do sum = sum * 65536; k = k - 16 end
  while k <= -16 do sum = sum / 65536; k = k + 16 end
  if k >= 0 then for _ = 1, k do sum = sum * 2 end
  else for _ = 1, -k do sum = sum / 2 end end
  return sum
end

local function sin(x)
  local twopi = 2 * PI
  x = x - math.floor(x / twopi) * twopi          -- [0, 2π)
  if x > PI then x = x - twopi end                -- (-π, π]
  local x2, term, sum = x * x, x, x
  for i = 3, 33, 2 do
    term = -term * x2 / ((i - 1) * i)
    sum = sum + term
  end
  return sum
end

M._ln, M._exp, M._sin = ln, exp, sin   -- for tests

---------------------------------------------------------------------------------------------------------------
-- The random stream: splitmix64 on Lua 5.4 integers (wrapping arithmetic, logical >>)
---------------------------------------------------------------------------------------------------------------

local GOLDEN <const> = 0x9e3779b97f4a7c15

-- A stream from a 64-bit state.  Value i of the stream is a function of state + i * GOLDEN alone, so the stream can
-- be read in blocks and moved back over what a block drew and nobody used:
--   fill(t, n)    t[1..n] = the next n values (the packet loop reads a bin's values from t, not by a call each)
--   skip(n)       moves the stream n values on, or back when n < 0
--   next()        the next value
--   float()       a uniform float in [0, 1) from 53 bits
--   int(lo, hi)   a uniform integer in [lo, hi]
local function splitmix64(state)
  local rng = {}
  function rng.fill(t, n)
    local s = state
    for i = 1, n do
      s = s + GOLDEN
      local z = s
      z = (z ~ (z >> 30)) * 0xbf58476d1ce4e5b9
      z = (z ~ (z >> 27)) * 0x94d049bb133111eb
      t[i] = z ~ (z >> 31)
    end
    state = s
  end
  function rng.skip(n) state = state + n * GOLDEN end
  local one = {}
  function rng.next()
    rng.fill(one, 1)
    return one[1]
  end
  function rng.float() return (rng.next() >> 11) * (1.0 / 9007199254740992.0) end
  function rng.int(lo, hi) return lo + (rng.next() >> 1) % (hi - lo + 1) end
  return rng
end

-- splitmix64's mixing function: the first value of the stream that starts one step before z.
local function mix64(z) return splitmix64(z - GOLDEN).next() end

-- The two streams of a seed: the setup's (populations, rate, scans) and the packets'.
local function setup_stream(seed) return splitmix64(mix64(seed * GOLDEN + 0x632be59bd9b4e019 + 0x1234567)) end
local function packet_stream(seed) return splitmix64(mix64(seed * GOLDEN + 0x5bd1e9955bd1e995)) end

M._splitmix64 = splitmix64   -- for tests

---------------------------------------------------------------------------------------------------------------
-- Samplers
---------------------------------------------------------------------------------------------------------------

-- Quantised table: T[1..2^bits] holds values in proportion to their weights (largest-remainder by cumulative
-- rounding); sample with T[(r & (2^bits - 1)) + 1].
local function qtable(values, weights, bits)
  local size = 1 << bits
  local total = 0.0
  for i = 1, #weights do total = total + weights[i] end
  local t, cum, prev, pos = {}, 0.0, 0, 0
  for i = 1, #values do
    cum = cum + weights[i]
    local upto = math.floor(size * (cum / total) + 0.5)
    if i == #values then upto = size end
    for _ = prev + 1, upto do pos = pos + 1; t[pos] = values[i] end
    prev = math.max(prev, upto)
  end
  assert(pos == size)
  return t
end

-- Walker/Vose alias table over n = 2^bits columns for probabilities p[1..n] (sum 1): returns thr, alias where a
-- sample is: c = (r & (n-1)) + 1; if (r >> 33) < thr[c] then c else alias[c].
local function alias_table(p, n)
  local scaled, small, large, ns, nl = {}, {}, {}, 0, 0
  for i = 1, n do
    local q = p[i] * n
    scaled[i] = q
    if q < 1 then ns = ns + 1; small[ns] = i else nl = nl + 1; large[nl] = i end
  end
  local thr, alias = {}, {}
  local ONE = 2147483648                            -- thresholds out of 2^31
  while ns > 0 and nl > 0 do
    local s = small[ns]; ns = ns - 1
    local l = large[nl]
    thr[s] = math.floor(scaled[s] * ONE)
    alias[s] = l
    scaled[l] = (scaled[l] + scaled[s]) - 1
    if scaled[l] < 1 then
      nl = nl - 1
      ns = ns + 1; small[ns] = l
    end
  end
  for i = 1, nl do thr[large[i]] = ONE; alias[large[i]] = large[i] end
  for i = 1, ns do thr[small[i]] = ONE; alias[small[i]] = small[i] end
  return thr, alias
end

-- Zipf(s) over n ranks as an alias table (cached: it depends on n and s only).
local zipf_cache = {}
local function zipf(n, s)
  local key = n .. ":" .. s
  local z = zipf_cache[key]
  if z then return z end
  -- k^-s: exp/ln for primes, products for composites (w[k] = w[p] * w[k / p], p its smallest prime factor)
  local p, spf = { 1.0 }, {}
  for k = 2, n do
    local f = spf[k]
    if f then
      p[k] = p[f] * p[k // f]
    else
      p[k] = exp(-s * ln(k))
      for m = k * k, n, k do if not spf[m] then spf[m] = k end end
    end
  end
  local total = 0.0
  for k = 1, n do total = total + p[k] end
  for k = 1, n do p[k] = p[k] / total end
  local thr, alias = alias_table(p, n)
  z = { n = n, mask = n - 1, thr = thr, alias = alias }
  zipf_cache[key] = z
  return z
end

---------------------------------------------------------------------------------------------------------------
-- Traffic model constants
---------------------------------------------------------------------------------------------------------------

-- Frame categories; CAT_SCAN replaces the category of a frame that a scan takes.
-- (<const>: compile-time constants, compared and added without a variable access in the packet loop)
local CAT_TCP <const>, CAT_UDP <const>, CAT_ICMP <const>, CAT_GRE <const>, CAT_ESP <const> = 1, 2, 3, 4, 5
local CAT_ARP <const>, CAT_SCAN <const> = 6, 7
local IP_MIX = { tcp = 74.0, udp = 20.0, icmp = 3.5, gre = 1.2, esp = 1.3 }
M.mix = IP_MIX

-- TCP flags: ACK, PSH|ACK, SYN, SYN|ACK, FIN|ACK, RST, RST|ACK, FIN|PSH|ACK
local FLAG_VALUES = { 0x10, 0x18, 0x02, 0x12, 0x11, 0x04, 0x14, 0x19 }
local FLAG_WEIGHTS = { 52.0, 29.0, 6.0, 4.5, 4.0, 1.5, 2.0, 1.0 }

local TCP_PORTS = { 443, 80, 22, 25, 8080, 8443, 993, 3389, 445, 21, 110, 143, 1935, 5222, 587, 465, 995, 179,
  23, 3306, 5228, 8000, 6881, 1723 }
local TCP_PORT_W = { 42.0, 22.0, 2.0, 1.5, 1.5, 0.8, 0.5, 0.5, 0.5, 0.3, 0.2, 0.2, 0.3, 0.2, 0.3, 0.2, 0.2, 0.1,
  0.3, 0.2, 0.3, 0.3, 0.4, 0.1 }
local UDP_PORTS = { 443, 53, 123, 4500, 500, 1900, 5353, 3478, 19302, 161, 137, 51820, 1194, 11211, 389, 6881,
  27015, 5060 }
local UDP_PORT_W = { 34.0, 28.0, 4.0, 1.5, 0.5, 0.5, 0.5, 1.0, 0.8, 0.3, 0.3, 0.5, 0.4, 0.1, 0.2, 1.0, 0.4, 0.5 }
local HIGH_PORT_SHARE = { tcp = 0.12, udp = 0.25 }   -- the rest of the server ports: Zipf over random high ports

local V6_PREFIXES = { 0x2001, 0x2400, 0x2600, 0x2a00, 0x2a01, 0x2c0f, 0x2401, 0x2604 }
local VLAN_IDS = { 10, 20, 30, 100, 200, 300, 1001, 2001 }
local ETYPES = { 0x0800, 0x86dd, 0x0806 }             -- IPv4, IPv6, ARP
local SCAN_PORTS = { 22, 23, 445, 3389, 80, 8080, 5900 }   -- the port of an address sweep

-- Shares of the fragmented datagrams out of 2^16: of the big UDP ones (5 %), of the 1500-byte TCP ones (0.2 %).
local FRAG_UDP <const>, FRAG_TCP <const> = 3276, 131   -- floor(0.05 * 65536), floor(0.002 * 65536)

---------------------------------------------------------------------------------------------------------------
-- Options
---------------------------------------------------------------------------------------------------------------

local DEFAULTS = { packets = 100000, duration = 60, start = 1674709200, seed = 1, ipv6 = 0.1, snaplen = 96,
  nanosecond = false, scans = 2, vlan = 0.15, arp = 0.005 }
M.defaults = DEFAULTS

local KNOWN = { packets = true, duration = true, start = true, seed = true, ipv6 = true, snaplen = true,
  nanosecond = true, scans = true, vlan = true, arp = true, format = true, gzip = true, progress = true }

local function check_opts(opts)
  local o = {}
  for k, v in pairs(opts or {}) do
    if not KNOWN[k] then error("synth.generate: unknown option '" .. tostring(k) .. "'", 3) end
    o[k] = v
  end
  for k, v in pairs(DEFAULTS) do if o[k] == nil then o[k] = v end end
  local function int(name, min)
    local v = math.tointeger(o[name])
    if not v or v < min then error(string.format("synth.generate: %s must be an integer >= %d", name, min), 4) end
    o[name] = v
  end
  int("packets", 0); int("start", 0); int("seed", -math.maxinteger); int("snaplen", 1); int("scans", 0)
  if type(o.duration) ~= "number" or not (o.duration > 0) or o.duration > 1e7 then
    error("synth.generate: duration must be a number of seconds > 0", 3)
  end
  for _, name in ipairs({ "ipv6", "vlan", "arp" }) do
    local v = o[name]
    if type(v) ~= "number" or not (v >= 0 and v <= 1) then
      error("synth.generate: " .. name .. " must be a fraction in [0, 1]", 3)
    end
  end
  if o.arp >= 1 then error("synth.generate: arp must be < 1", 3) end
  return o
end

---------------------------------------------------------------------------------------------------------------
-- Setup: populations of addresses, ports and header fields (drawn from the setup stream in a fixed order)
---------------------------------------------------------------------------------------------------------------

local function ipv4_addresses(rng, n)
  local addr = {}
  for i = 1, n do
    local a
    repeat
      a = rng.next() >> 32
      local o = a >> 24
    until o >= 1 and o <= 223 and o ~= 10 and o ~= 127 and not (o == 192 and (a >> 16) & 0xff == 168)
    addr[i] = a
  end
  return addr
end

local function ipv6_addresses(rng, n)
  local addr = {}
  for i = 1, n do
    local r1, r2, r3 = rng.next(), rng.next(), rng.next()
    local pfx = V6_PREFIXES[(r1 & 7) + 1]
    -- a handful of /32s per prefix, EUI-64-ish or random interface identifiers
    addr[i] = string.pack(">I2I2I4I8", pfx, (r1 >> 8) & 0x0fff, r2 >> 32, r3)
  end
  return addr
end

-- Zipf alias tables joined with the addresses of their ranks.  IPv4: e1[c] = threshold << 32 | address of rank c,
-- e2[c] = address of the alias of c (one memory access for most samples).  IPv6: thr[c] the threshold, x1[c] / x2[c]
-- the 16-byte addresses.
local function ipv4_population(rng, z)
  local addr = ipv4_addresses(rng, z.n)
  local e1, e2 = {}, {}
  for c = 1, z.n do
    e1[c] = z.thr[c] << 32 | addr[c]
    e2[c] = addr[z.alias[c]]
  end
  return { e1 = e1, e2 = e2, mask = z.mask }
end

local function ipv6_population(rng, z)
  local addr = ipv6_addresses(rng, z.n)
  local x1, x2 = {}, {}
  for c = 1, z.n do x1[c], x2[c] = addr[c], addr[z.alias[c]] end
  return { thr = z.thr, x1 = x1, x2 = x2, mask = z.mask }
end

-- Server ports: a 2^16 quantised table; the high-port tail is a Zipf over 1024 random high ports.
local function port_table(rng, list, weights, high_share)
  local v, w, tot = {}, {}, 0.0
  for i = 1, #list do tot = tot + weights[i] end
  for i = 1, #list do v[i], w[i] = list[i], weights[i] / tot * (1 - high_share) end
  local zt = 0.0
  for k = 1, 1024 do zt = zt + 1 / k end
  for k = 1, 1024 do
    v[#v + 1] = rng.int(1024, 65535)
    w[#w + 1] = high_share * (1 / k) / zt
  end
  return qtable(v, w, 16)
end

-- Length weights over 40..1500 (IPv4 total length) for data-carrying packets: bimodal.
local function general_lengths()
  local v, w = {}, {}
  for len = 40, 1500 do
    local x
    if len == 40 then x = 24.0
    elseif len == 52 then x = 9.0
    elseif len == 1500 then x = 30.0
    elseif len == 1492 or len == 1480 or len == 1420 or len == 1440 then x = 1.0
    elseif len <= 100 then x = 8.0 / 59
    elseif len <= 576 then x = 12.0 / 476
    elseif len < 1400 then x = 7.0 / 823
    else x = 5.0 / 100 end
    v[#v + 1], w[#w + 1] = len, x
  end
  return v, w
end

local function udp_lengths()
  local v, w = {}, {}
  for len = 28, 1500 do
    local x
    if len <= 60 then x = 6.0 / 33
    elseif len <= 300 then x = 34.0 / 240                                -- DNS and friends
    elseif len == 1228 or len == 1280 or len == 1350 or len == 1252 then x = 7.0  -- QUIC
    elseif len >= 1200 and len <= 1400 then x = 8.0 / 197
    elseif len == 1500 then x = 3.0
    else x = 14.0 / 1100 end
    v[#v + 1], w[#w + 1] = len, x
  end
  return v, w
end

-- The sampling tables of header fields (no randomness: they depend on opts.arp only).
local function field_tables(arp)
  local t = {}
  -- the category of a frame (16 bits)
  t.cat = qtable({ CAT_TCP, CAT_UDP, CAT_ICMP, CAT_GRE, CAT_ESP, CAT_ARP },
    { IP_MIX.tcp * (1 - arp), IP_MIX.udp * (1 - arp), IP_MIX.icmp * (1 - arp), IP_MIX.gre * (1 - arp),
      IP_MIX.esp * (1 - arp), 100 * arp }, 16)
  t.flags = qtable(FLAG_VALUES, FLAG_WEIGHTS, 12)
  do local v, w = general_lengths(); t.len = qtable(v, w, 16) end
  do local v, w = udp_lengths(); t.ulen = qtable(v, w, 16) end
  t.ctl_len = qtable({ 40, 44, 48, 52, 60, 64 }, { 30, 12, 6, 16, 30, 6 }, 10)
  t.icmp_len = qtable({ 28, 56, 84, 92, 100, 576, 1500 }, { 10, 22, 45, 8, 7, 5, 3 }, 10)
  t.ttl = qtable({ 64, 63, 62, 61, 60, 59, 58, 57, 56, 55, 54, 52, 50, 48, 128, 127, 126, 125, 124, 123, 122,
    121, 120, 118, 116, 114, 255, 254, 253, 250, 248, 245, 240, 30, 32 },
    { 3, 5, 6, 7, 6, 6, 5, 4, 3, 3, 2, 2, 1, 1, 2, 3, 4, 4, 4, 3, 3, 2, 2, 2, 1, 1, 1, 2, 2, 1, 1, 1, 1, 0.5, 0.5 },
    8)
  t.win = qtable({ 65535, 64240, 29200, 502, 501, 1026, 2048, 8192, 16384, 32768, 4096, 1024 },
    { 20, 15, 8, 15, 12, 8, 5, 5, 4, 4, 2, 2 }, 8)
  t.icmp_tc = qtable({ 0x0800, 0x0000, 0x0303, 0x0301, 0x0b00, 0x030d, 0x0302, 0x0500 },
    { 40, 30, 12, 6, 7, 3, 1, 1 }, 8)
  t.icmp6_tc = qtable({ 0x8000, 0x8100, 0x8700, 0x8800, 0x0104, 0x0300, 0x0200, 0x8600 },
    { 30, 28, 16, 14, 5, 4, 1, 2 }, 8)
  -- TCP options of SYN / FIN / RST segments by their length (the data offset covers them; they are captured)
  local ts = "\8\10\0\0\1\44\0\0\0\0"
  t.tcpopt = { [0] = "", [4] = "\2\4\5\180", [8] = "\2\4\5\180\1\1\4\2", [12] = "\1\1" .. ts,
    [20] = "\2\4\5\180\4\2" .. ts .. "\1\3\3\7", [24] = "\2\4\5\180\1\3\3\8\1\1" .. ts .. "\1\1\4\2" }
  for n, v in pairs(t.tcpopt) do assert(#v == n) end
  -- -ln(u) at 2^16 quantiles: exponential gaps
  t.expt = {}
  for i = 0, 65535 do t.expt[i] = -ln((i + 0.5) / 65536) end
  return t
end

-- 16 MAC addresses: 8 pairs (destination, source), unicast and globally administered.
local function mac_addresses(rng)
  local macs = {}
  for i = 1, 16 do
    local r = rng.next()
    macs[i] = string.pack(">I2I4", (r >> 48) & 0xfcff, r & 0xffffffff)
  end
  return macs
end

-- Ethernet prefixes: 8 MAC pairs × (untagged + 8 VLAN ids) × ethertype (IPv4, IPv6, ARP).
-- eth[((e - 1) * 9 + v) * 8 + p + 1]: e the ethertype, v = 0 untagged, 1..8 tagged; p = 0..7 the MAC pair.
local ETH6 <const>, ETH_ARP <const> = 72, 144                         -- offsets of the IPv6 and ARP prefixes
local function ethernet_prefixes(macs)
  local eth = {}
  for e = 1, 3 do
    for v = 0, 8 do
      for p = 0, 7 do
        local dst, src = macs[2 * p + 1], macs[2 * p + 2]
        eth[((e - 1) * 9 + v) * 8 + p + 1] = v == 0 and dst .. src .. string.pack(">I2", ETYPES[e])
          or dst .. src .. string.pack(">I2I2I2", 0x8100, VLAN_IDS[v], ETYPES[e])
      end
    end
  end
  return eth
end

-- ARP: requests and replies among a few hosts (the 28-byte message; the Ethernet padding is not captured).
local function arp_messages(rng, macs)
  local arps = {}
  for i = 1, 64 do
    local r = rng.next()
    local op = (r & 3) == 0 and 2 or 1
    arps[i] = string.pack(">I2I2BBI2", 1, 0x0800, 6, 4, op) .. macs[(i & 15) + 1]
      .. string.pack(">I4", 0xc0a80000 | ((r >> 8) & 0xfff))
      .. (op == 2 and macs[((i + 1) & 15) + 1] or string.rep("\0", 6))
      .. string.pack(">I4", 0xc0a80000 | ((r >> 20) & 0xfff))
  end
  return arps
end

-- Everything the frame builders sample from, the setup stream drawn in this order.
local function populations(rng, arp)
  local p = field_tables(arp)
  p.s4 = ipv4_population(rng, zipf(1 << 15, 1.1))        -- IPv4 servers
  p.c4 = ipv4_population(rng, zipf(1 << 17, 0.85))       -- IPv4 clients
  p.s6 = ipv6_population(rng, zipf(1 << 12, 1.1))        -- IPv6 servers
  p.c6 = ipv6_population(rng, zipf(1 << 14, 0.85))       -- IPv6 clients
  p.tcp_sport = port_table(rng, TCP_PORTS, TCP_PORT_W, HIGH_PORT_SHARE.tcp)
  p.udp_sport = port_table(rng, UDP_PORTS, UDP_PORT_W, HIGH_PORT_SHARE.udp)
  local macs = mac_addresses(rng)
  p.eth = ethernet_prefixes(macs)
  p.arps = arp_messages(rng, macs)
  return p
end

---------------------------------------------------------------------------------------------------------------
-- Setup: the time plan (rate, bursts, scans, packets per bin), drawn from the setup stream after the populations
---------------------------------------------------------------------------------------------------------------

-- Relative rate of each bin: slow sinusoids, noise, bursts (appended to bursts_out).
local function rate_weights(rng, nbins, bin_s, duration_s, bursts_out)
  -- slow sinusoids
  local p1 = duration_s * (0.8 + 0.4 * rng.float())
  local p2 = 17.0 + 6.0 * rng.float()
  local ph1, ph2 = 2 * PI * rng.float(), 2 * PI * rng.float()
  -- noise knots every second, linearly interpolated
  local nknots = math.floor(duration_s) + 2
  local knots = {}
  for i = 1, nknots do knots[i] = 2 * rng.float() - 1 end
  -- bursts: ~one per 15 s, 0.05..1 s, ×1.5..×3.5
  local nb = math.max(1, math.floor(duration_s / 15 + 0.5))
  for i = 1, nb do
    local len = 0.05 + 0.95 * rng.float()
    local st = rng.float() * math.max(0, duration_s - len)
    bursts_out[i] = { start = st, len = len, mult = 1.5 + 2 * rng.float() }
  end
  local w = {}
  for b = 1, nbins do
    local t = (b - 0.5) * bin_s
    local x = 1 + 0.25 * sin(2 * PI * t / p1 + ph1) + 0.08 * sin(2 * PI * t / p2 + ph2)
    local k = math.floor(t)
    local f = t - k
    x = x + 0.12 * (knots[k + 1] * (1 - f) + knots[k + 2] * f)
    x = x * (0.94 + 0.12 * rng.float())
    for i = 1, nb do
      local bu = bursts_out[i]
      if t >= bu.start and t < bu.start + bu.len then x = x * bu.mult end
    end
    w[b] = x
  end
  return w
end

local function dotted(a) return string.format("%d.%d.%d.%d", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255) end

-- Scans: scan i lies in the i-th of n equal segments of the trace, lasts 5..15 s (at most half the segment), and
-- makes 30 % of the packets of its bins (their weights rise by 1/0.7).  Returns the scans and bin -> scan index.
local function plan_scans(rng, n, plan, W)
  local scans, scan_bin = {}, {}
  local start_ns, duration_s, bin_ns = plan.start_ns, plan.duration_ns / 1e9, plan.bin_ns
  for i = 1, n do
    local seg = duration_s / n
    local len = math.min(5 + 10 * rng.float(), 0.5 * seg)
    local st = (i - 1) * seg + 0.1 * seg + rng.float() * math.max(0, 0.9 * seg - len)
    local kind = (i % 2 == 1) and "ports" or "addresses"
    local srcip = 0x40000000 | ((rng.next() >> 34) & 0x3fffffff)      -- 64.0.0.0 .. 127.255.255.255
    if srcip >> 24 == 127 then srcip = srcip ~ 0x02000000 end
    local dstip = 0x80000000 | ((rng.next() >> 34) & 0x3fffffff)      -- 128.0.0.0 .. 191.255.255.255
    local dport = SCAN_PORTS[rng.int(1, 7)]
    local sport = rng.int(1024, 65535)
    local ttl = rng.int(40, 250)
    local stride = rng.int(1, 32767) * 2 + 1          -- odd: the sequence visits every port / address
    local base = rng.int(0, 65535)
    local sc = { kind = kind, start_ns = start_ns + math.floor(st * 1e9),
      end_ns = start_ns + math.floor((st + len) * 1e9), src = dotted(srcip),
      dst = kind == "ports" and dotted(dstip) or dotted(dstip & 0xffff0000) .. "/16",
      dport = kind == "addresses" and dport or nil, packets = 0,
      _ports = kind == "ports", _src = srcip, _dst = dstip, _dport = dport, _sport = sport, _ttl = ttl,
      _stride = stride, _base = base }
    scans[i] = sc
    local b0 = (sc.start_ns - start_ns) // bin_ns + 1
    local b1 = (sc.end_ns - start_ns - 1) // bin_ns + 1
    for b = math.max(1, b0), math.min(plan.nbins, b1) do
      scan_bin[b] = i
      W[b] = W[b] / 0.7
    end
  end
  return scans, scan_bin
end

-- Packets per bin by cumulative rounding of the weights: exactly n in all.
local function packets_per_bin(W, nbins, n)
  local counts = {}
  local tot = 0.0
  for b = 1, nbins do tot = tot + W[b] end
  local cum, prev = 0.0, 0
  for b = 1, nbins do
    cum = cum + W[b]
    local upto = b == nbins and n or math.floor(n * (cum / tot) + 0.5)
    if upto > n then upto = n end
    if upto < prev then upto = prev end
    counts[b] = upto - prev
    prev = upto
  end
  return counts
end

-- The time plan: { start_ns, duration_ns, bin_ns, nbins, counts[b], bursts, scans, scan_bin[b] }.
local function time_plan(rng, o)
  local plan = { start_ns = o.start * 1000000000, duration_ns = math.floor(o.duration * 1e9 + 0.5) }
  local duration_ns = plan.duration_ns
  plan.bin_ns = math.max(10000000, (duration_ns + 199999999) // 200000000 * 1000)   -- <= 200000 bins, whole µs
  plan.nbins = (duration_ns + plan.bin_ns - 1) // plan.bin_ns
  local nbins, bin_ns = plan.nbins, plan.bin_ns
  plan.bursts = {}
  local W = rate_weights(rng, nbins, bin_ns / 1e9, duration_ns / 1e9, plan.bursts)
  W[nbins] = W[nbins] * ((duration_ns - (nbins - 1) * bin_ns) / bin_ns)   -- a partial last bin
  plan.scans, plan.scan_bin = plan_scans(rng, o.scans, plan, W)
  plan.counts = packets_per_bin(W, nbins, o.packets)
  return plan
end

---------------------------------------------------------------------------------------------------------------
-- Frame builders
---------------------------------------------------------------------------------------------------------------
-- Headers are packed as big-endian 64-bit words with the Ethernet prefix in the same string.pack; the formats are
-- indexed by the Ethernet header's length (14, or 18 with an 802.1Q tag).  A builder returns the captured frame
-- (headers only) and the IP total length; the loop makes the wire length of it.

local F4_TCP = { [14] = ">c14I8I8I8I8I8", [18] = ">c18I8I8I8I8I8" }
local F4_UDP = { [14] = ">c14I8I8I8I2xx", [18] = ">c18I8I8I8I2xx" }
local F4_ICMP = { [14] = ">c14I8I8I8I4", [18] = ">c18I8I8I8I4" }
local F4_GRE = { [14] = ">c14I8I8I8I8I8I4", [18] = ">c18I8I8I8I8I8I4" }
local F4_ESP = { [14] = ">c14I8I8I8I4", [18] = ">c18I8I8I8I4" }
local F4_IP = { [14] = ">c14I8I8I4", [18] = ">c18I8I8I4" }
local F6_TCP = { [14] = ">c14I8c16c16I8I8xxxx", [18] = ">c18I8c16c16I8I8xxxx" }
local F6_8 = { [14] = ">c14I8c16c16I8", [18] = ">c18I8c16c16I8" }        -- UDP, ICMPv6, ESP
local F6_GRE = { [14] = ">c14I8c16c16I4I8c16c16", [18] = ">c18I8c16c16I4I8c16c16" }
local V4 <const> = 0x4500 << 48                     -- version 4, header length 5, TOS 0

-- The first two words of an IPv4 header (version .. fragment field, TTL .. source address) with its checksum;
-- asum is the 16-bit sum of the two addresses, ttlp = TTL << 8 | protocol.
local function ipv4_words(len, id, frag, ttlp, asum, src)
  local sum = 0x4500 + len + id + frag + ttlp + asum
  sum = (sum & 0xffff) + (sum >> 16)
  sum = (sum & 0xffff) + (sum >> 16)
  return V4 | len << 32 | id << 16 | frag, ttlp << 48 | (~sum & 0xffff) << 32 | src
end

-- The builders over the populations p.  ipv4 and ipv6 pack a packet of any IP category but a scan's from what the
-- loop sampled: its category, Ethernet prefix index and header length, random words r2..r5, TCP flags, TTL, client
-- port, direction, and for TCP the IPv4 total length and data offset | flags.  They return the captured frame
-- (headers only) and the IP total length, and ipv4 also the second fragment of a fragmented datagram and its wire
-- length (the loop writes it next).  One call a packet and none inside: in the interpreter a call costs about as
-- much as a dozen other operations, and the loop runs millions of times.
local function frame_builders(p)
  local pack = string.pack
  local ETH, ARPS, TCPOPT = p.eth, p.arps, p.tcpopt
  local LEN, ULEN, ICMP_LEN, WIN = p.len, p.ulen, p.icmp_len, p.win
  local ICMP_TC, ICMP6_TC, TCP_SPORT, UDP_SPORT = p.icmp_tc, p.icmp6_tc, p.tcp_sport, p.udp_sport
  local S4E1, S4E2, S4M, C4E1, C4E2, C4M = p.s4.e1, p.s4.e2, p.s4.mask, p.c4.e1, p.c4.e2, p.c4.mask
  local S6T, S6X1, S6X2, S6M = p.s6.thr, p.s6.x1, p.s6.x2, p.s6.mask
  local C6T, C6X1, C6X2, C6M = p.c6.thr, p.c6.x1, p.c6.x2, p.c6.mask

  local function ipv4(cat, ethi, l2, r2, r3, r4, r5, flags, ttl, cport, toserver, seg, offflags)
    -- server (from r2) and client (from r3), and the sum of their 16-bit halves for the checksums
    local c = (r2 & S4M) + 1
    local e = S4E1[c]
    local src = (r2 >> 33) < (e >> 32) and e & 0xffffffff or S4E2[c]
    c = (r3 & C4M) + 1
    e = C4E1[c]
    local dst = (r3 >> 33) < (e >> 32) and e & 0xffffffff or C4E2[c]
    local asum = (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff)
    if toserver then src, dst = dst, src end
    local eth, id = ETH[ethi + 1], r4 >> 48
    -- the IP header: total length, protocol, fragment field; `rest`, the second fragment's length, if any
    local iplen, proto, frag, rest, ulen = nil, nil, 0, nil, nil
    if cat == CAT_TCP then
      proto, iplen = 6, seg
      if iplen > 576 then frag = 0x4000 end                      -- DF on big segments
      if iplen == 1500 and ((r5 >> 8) & 0xffff) < FRAG_TCP then frag, rest = 0x2000, 40 + (r5 & 0x3ff) end
    elseif cat == CAT_UDP then
      proto = 17
      iplen = ULEN[((r4 >> 32) & 0xffff) + 1]
      ulen = iplen - 20
      if iplen >= 1200 and ((r5 >> 8) & 0xffff) < FRAG_UDP then  -- a 1500-byte first fragment and the rest
        frag, iplen = 0x2000, 1500
        rest = 20 + 8 + (r5 & 0x7ff)
        if rest > 1500 then rest = 1500 end
        ulen = 1480 + rest - 20
      end
    elseif cat == CAT_ICMP then
      proto, iplen = 1, ICMP_LEN[((r4 >> 32) & 0x3ff) + 1]
    elseif cat == CAT_GRE then
      proto, iplen = 47, LEN[((r4 >> 32) & 0xffff) + 1]
      if iplen < 64 then iplen = 64 end
    else
      proto, iplen = 50, LEN[((r4 >> 32) & 0xffff) + 1]
      if iplen < 72 then iplen = 72 + (iplen & 7) * 8 end
    end
    local ttlp = ttl << 8 | proto
    local sum = 0x4500 + iplen + id + frag + ttlp + asum         -- ipv4_words, inlined on the hot path
    sum = (sum & 0xffff) + (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16)
    local w1, w2 = V4 | iplen << 32 | id << 16 | frag, ttlp << 48 | (~sum & 0xffff) << 32 | src
    -- the transport header
    local frame
    if cat == CAT_TCP then
      local sp, dp = TCP_SPORT[(r4 & 0xffff) + 1], cport
      if toserver then sp, dp = dp, sp end
      frame = pack(F4_TCP[l2], eth, w1, w2, dst << 32 | sp << 16 | dp,
        flags & 0x10 ~= 0 and r5 or r5 & 0xffffffff00000000, offflags << 48 | WIN[((r5 >> 24) & 0xff) + 1] << 32)
      if offflags >= 0x6000 then frame = frame .. TCPOPT[(offflags >> 10) - 20] end
    elseif cat == CAT_UDP then
      local sp, dp = UDP_SPORT[(r4 & 0xffff) + 1], cport
      if toserver then sp, dp = dp, sp end
      frame = pack(F4_UDP[l2], eth, w1, w2, dst << 32 | sp << 16 | dp, ulen)
    elseif cat == CAT_ICMP then
      frame = pack(F4_ICMP[l2], eth, w1, w2, dst << 32 | ICMP_TC[((r3 >> 17) & 0xff) + 1] << 16, r5 & 0xffffffff)
    elseif cat == CAT_GRE then                                   -- carrying IPv4 (the inner header is captured)
      frame = pack(F4_GRE[l2], eth, w1, w2, dst << 32 | 0x0800, V4 | (iplen - 24) << 32 | (r5 & 0xffff) << 16,
        0x4006 << 48 | src, dst)
    else
      frame = pack(F4_ESP[l2], eth, w1, w2, dst << 32 | 0x1000 + (r3 >> 56), r5 & 0xffffff)
    end
    if not rest then return frame, iplen end
    -- the second (last) fragment: offset 1480 / 8, `rest` bytes on the wire
    w1, w2 = ipv4_words(rest, id, 185, ttlp, asum, src)
    return frame, iplen, pack(F4_IP[l2], eth, w1, w2, dst), l2 + rest < 60 and 60 or l2 + rest
  end

  local function ipv6(cat, ethi, l2, r2, r3, r4, r5, flags, ttl, cport, toserver, seg, offflags)
    local c = (r2 & S6M) + 1
    local src = (r2 >> 33) < S6T[c] and S6X1[c] or S6X2[c]
    c = (r3 & C6M) + 1
    local dst = (r3 >> 33) < C6T[c] and C6X1[c] or C6X2[c]
    if toserver then src, dst = dst, src end
    local eth = ETH[ETH6 + ethi + 1]
    local vtf = (0x60000000 | ((r4 >> 44) & 0xfffff)) << 32 | ttl   -- version, flow label, hop limit
    local iplen
    if cat == CAT_TCP then
      iplen = seg + 20
      if iplen > 1500 then iplen = 1500 end
      local sp, dp = TCP_SPORT[(r4 & 0xffff) + 1], cport
      if toserver then sp, dp = dp, sp end
      local frame = pack(F6_TCP[l2], eth, vtf | (iplen - 40) << 16 | 6 << 8, src, dst, sp << 48 | dp << 32 | r5 >> 32,
        (flags & 0x10 ~= 0 and r5 << 32 or 0) | offflags << 16 | WIN[((r5 >> 24) & 0xff) + 1])
      if offflags >= 0x6000 then frame = frame .. TCPOPT[(offflags >> 10) - 20] end
      return frame, iplen
    elseif cat == CAT_UDP then
      local sp, dp = UDP_SPORT[(r4 & 0xffff) + 1], cport
      if toserver then sp, dp = dp, sp end
      iplen = ULEN[((r4 >> 32) & 0xffff) + 1] + 20
      if iplen > 1500 then iplen = 1500 end
      return pack(F6_8[l2], eth, vtf | (iplen - 40) << 16 | 17 << 8, src, dst,
        sp << 48 | dp << 32 | (iplen - 40) << 16), iplen
    elseif cat == CAT_ICMP then
      iplen = ICMP_LEN[((r4 >> 32) & 0x3ff) + 1] + 20
      if iplen > 1500 then iplen = 1500 end
      return pack(F6_8[l2], eth, vtf | (iplen - 40) << 16 | 58 << 8, src, dst,
        ICMP6_TC[((r3 >> 17) & 0xff) + 1] << 48 | (r5 & 0xffffffff)), iplen
    elseif cat == CAT_GRE then                                   -- carrying IPv6 (the inner header is captured)
      iplen = LEN[((r4 >> 32) & 0xffff) + 1] + 20
      if iplen < 84 then iplen = 84 end
      if iplen > 1500 then iplen = 1500 end
      return pack(F6_GRE[l2], eth, vtf | (iplen - 40) << 16 | 47 << 8, src, dst, 0x86dd,
        0x6000000000000000 | (iplen - 84) << 16 | 6 << 8 | 64, src, dst), iplen
    end
    iplen = LEN[((r4 >> 32) & 0xffff) + 1] + 20                  -- ESP
    if iplen < 92 then iplen = 92 + (iplen & 7) * 8 end
    if iplen > 1500 then iplen = 1500 end
    return pack(F6_8[l2], eth, vtf | (iplen - 40) << 16 | 50 << 8, src, dst,
      (0x1000 + (r3 >> 56)) << 32 | (r5 & 0xffffff)), iplen
  end

  -- A scan's i-th SYN (IPv4): a port scan walks the target's ports, an address sweep its /16, by an odd stride.
  local function scan_syn(sc, ethi, l2, r4, r5)
    local dst, dport
    local i = sc.packets
    sc.packets = i + 1
    if sc._ports then
      dst = sc._dst
      dport = (sc._base + i * sc._stride) & 0xffff
      if dport == 0 then dport = sc._base | 1 end
    else
      dst = (sc._dst & 0xffff0000) | ((sc._base + i * sc._stride) & 0xffff)
      dport = sc._dport
    end
    local src = sc._src
    local ttlp = (sc._ttl << 8) | 6
    local w1, w2 = ipv4_words(40, r4 >> 48, 0, ttlp, (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff), src)
    return pack(F4_TCP[l2], ETH[ethi + 1], w1, w2, dst << 32 | sc._sport << 16 | dport, r5 & 0xffffffff00000000,
      0x5002 << 48 | 1024 << 32), 40
  end

  local function arp(ethi, r2) return ETH[ETH_ARP + ethi + 1] .. ARPS[(r2 >> 58) + 1] end

  return { ipv4 = ipv4, ipv6 = ipv6, scan_syn = scan_syn, arp = arp }
end

---------------------------------------------------------------------------------------------------------------
-- The emitting loop
---------------------------------------------------------------------------------------------------------------
-- Random bits of a packet, from the packet stream:
--   r1: category 0-15, IPv6 16-47, VLAN / scan share 48-63
--   r2: server (alias column 0-16, threshold 33-63), direction 17, MAC pair 18-20, VLAN id 21-23, TTL 24-31,
--       ARP message 58-63
--   r3: client (alias column 0-16, threshold 33-63), TCP flags / ICMP type 17-28, ESP SPI 56-63
--   r4: server port 0-15, client port 16-31, length 32-47, IP id / flow label 48-63
--   r5 = a multiplicative hash of r4 ~ r1 (noise fields): sequence 32-63, acknowledgement 0-31, window 24-31,
--        fragment choice 8-23, fragment length 0-10
-- ARP frames use r1 and r2 only.  Capture is header-only: caplen = min(snaplen, headers); wirelen is the whole
-- frame (>= 60).  Returns the counts of the summary, the first and last timestamps and the packets written.

local function emit(w, rng, plan, p, build, o)
  local write_ns, fill, skip = w.write_ns, rng.fill, rng.skip
  local CAT, FLAGS, TTL, EXPT, LEN, CTL_LEN = p.cat, p.flags, p.ttl, p.expt, p.len, p.ctl_len
  local ipv4, ipv6, scan_syn, arp = build.ipv4, build.ipv6, build.scan_syn, build.arp
  local start_ns, duration_ns, bin_ns, counts = plan.start_ns, plan.duration_ns, plan.bin_ns, plan.counts
  local scans, scan_bin = plan.scans, plan.scan_bin
  local v6thr = math.floor(o.ipv6 * 4294967296)
  local vlanthr = math.floor(o.vlan * 65536)
  local progress, total = o.progress, o.packets
  -- timestamps in whole microseconds unless nanosecond stamps were asked for, so that pcap, pcapng and their
  -- gzip versions of the same options hold the same times
  local res = o.nanosecond and 1 or 1000
  local gaps, R = {}, {}                          -- the gaps of a bin, its random words

  local n4, n6 = { 0, 0, 0, 0, 0, [CAT_SCAN] = 0 }, { 0, 0, 0, 0, 0 }   -- IPv4 / IPv6 packets by category
  local n_arp, n_vlan, n_frag, n_ffrag, n_syn, n_fin = 0, 0, 0, 0, 0, 0
  local first_ts, last_ts
  local done = 0
  local pend, pend_wire, pend_cat = nil, 0, 0     -- a pending second fragment: frame, wire length, category

  for b = 1, plan.nbins do
    local k = counts[b]
    if k > 0 then
      -- k uniform order statistics in [0, blen): cumulative exponential gaps (four per random number)
      local need = (k + 4) // 4 + 4 * k                -- the most the bin can draw: gaps, then <= 4 a packet
      fill(R, need)
      local ri = 0
      local acc = 0.0
      for j = 1, k + 1, 4 do
        ri = ri + 1
        local z = R[ri]
        acc = acc + EXPT[z & 0xffff]; gaps[j] = acc
        acc = acc + EXPT[(z >> 16) & 0xffff]; gaps[j + 1] = acc
        acc = acc + EXPT[(z >> 32) & 0xffff]; gaps[j + 2] = acc
        acc = acc + EXPT[z >> 48]; gaps[j + 3] = acc
      end
      acc = gaps[k + 1]
      local bstart = (b - 1) * bin_ns
      local blen = bin_ns
      if bstart + blen > duration_ns then blen = duration_ns - bstart end
      local scale = blen / acc
      bstart = start_ns + bstart
      local sc = scans[scan_bin[b] or 0]
      for j = 1, k do
        local ts = bstart + ((gaps[j] * scale) // res | 0) * res
        local frame, wire
        if pend then
          frame, wire, pend = pend, pend_wire, nil
          n_frag = n_frag + 1
          n4[pend_cat] = n4[pend_cat] + 1
          if #frame > 34 then n_vlan = n_vlan + 1 end      -- tagged like its first fragment
        else
          local r1, r2 = R[ri + 1], R[ri + 2]
          ri = ri + 2
          local ethi, l2 = (r2 >> 18) & 7, 14               -- MAC pair, untagged
          if (r1 >> 48) < vlanthr then
            ethi = ethi + (((r2 >> 21) & 7) + 1) * 8
            l2 = 18
            n_vlan = n_vlan + 1
          end
          local cat = CAT[(r1 & 0xffff) + 1]
          if sc and (r1 >> 48) % 10 < 3 then cat = CAT_SCAN end   -- 30 % of the packets in the scan's window
          if cat == CAT_ARP then
            frame, wire = arp(ethi, r2), l2 == 14 and 60 or 64
            n_arp = n_arp + 1
          else
            local r3, r4 = R[ri + 1], R[ri + 2]
            ri = ri + 2
            local r5 = (r4 ~ r1) * 0xd1342543de82ef95
            local iplen
            if cat == CAT_SCAN then
              frame, iplen = scan_syn(sc, ethi, l2, r4, r5)
              n4[cat] = n4[cat] + 1
            else
              local ttl = TTL[((r2 >> 24) & 0xff) + 1]
              local cport = (r4 >> 16) & 0xffff
              if cport < 1024 then cport = cport + 32768 end
              local toserver = r2 & 0x20000 == 0
              local flags = FLAGS[((r3 >> 17) & 0xfff) + 1]
              if flags & 2 ~= 0 then toserver = flags == 2 end   -- SYN to the server, SYN|ACK back
              local seg, offflags                   -- TCP: the IPv4 total length, data offset | flags
              if cat == CAT_TCP then
                if flags & 0x07 ~= 0 then           -- SYN (with options), FIN, RST: options fill the segment
                  if flags & 2 ~= 0 then
                    n_syn, seg = n_syn + 1, CTL_LEN[((r4 >> 32) & 0x3ff) + 1]
                  else
                    if flags & 1 ~= 0 then n_fin = n_fin + 1 end
                    seg = (r4 >> 32) & 3 == 0 and 52 or 40
                  end
                  offflags = (seg - 20) << 10 | flags
                else
                  seg = LEN[((r4 >> 32) & 0xffff) + 1]
                  if flags == 0x18 and seg < 53 then seg = seg + 30 end
                  offflags = 0x5000 | flags
                end
              end
              if (r1 >> 16) & 0xffffffff >= v6thr then
                frame, iplen, pend, pend_wire = ipv4(cat, ethi, l2, r2, r3, r4, r5, flags, ttl, cport, toserver, seg,
                  offflags)
                n4[cat] = n4[cat] + 1
                if pend then n_ffrag, pend_cat = n_ffrag + 1, cat end
              else
                frame, iplen = ipv6(cat, ethi, l2, r2, r3, r4, r5, flags, ttl, cport, toserver, seg, offflags)
                n6[cat] = n6[cat] + 1
              end
            end
            wire = l2 + iplen
            if wire < 60 then wire = 60 end
          end
        end
        write_ns(w, ts, frame, wire)
      end
      skip(ri - need)                                   -- give back what the bin did not use
      if not first_ts then first_ts = bstart + ((gaps[1] * scale) // res | 0) * res end
      last_ts = bstart + ((gaps[k] * scale) // res | 0) * res
      done = done + k
      if progress and (done >> 20) ~= ((done - k) >> 20) then progress(done, total) end
    end
  end

  local ipv4_count, ipv6_count = 0, 0
  for _, n in pairs(n4) do ipv4_count = ipv4_count + n end
  for _, n in pairs(n6) do ipv6_count = ipv6_count + n end
  local n_scan = n4[CAT_SCAN]
  return {
    ipv4 = ipv4_count, ipv6 = ipv6_count, arp = n_arp, tcp = n4[CAT_TCP] + n6[CAT_TCP] + n_scan,
    udp = n4[CAT_UDP] + n6[CAT_UDP], icmp = n4[CAT_ICMP], icmpv6 = n6[CAT_ICMP], gre = n4[CAT_GRE] + n6[CAT_GRE],
    esp = n4[CAT_ESP] + n6[CAT_ESP], vlan = n_vlan, fragments = n_frag + n_ffrag, first_fragments = n_ffrag,
    syn = n_syn + n_scan, fin = n_fin, scan = n_scan,
  }, first_ts, last_ts, done
end

---------------------------------------------------------------------------------------------------------------
-- generate
---------------------------------------------------------------------------------------------------------------

local function ends_with(s, suffix) return s:sub(-#suffix) == suffix end

function M.generate(path, opts)
  assert(type(path) == "string", "synth.generate: path expected")
  local o = check_opts(opts)
  local tpp = require "tpp"
  local clock0 = os.clock()

  local setup = setup_stream(o.seed)
  local p = populations(setup, o.arp)
  local plan = time_plan(setup, o)
  local build = frame_builders(p)

  local format = o.format
  if format == nil then
    format = (ends_with(path, ".pcapng") or ends_with(path, ".pcapng.gz")) and "pcapng" or "pcap"
  end
  local wopts = { format = format, snaplen = o.snaplen, nanosecond = o.nanosecond and true or false }
  if o.gzip ~= nil then wopts.gzip = o.gzip end
  local w <close>, open_err = tpp.pcap_writer(path, "ethernet", wopts) -- an error or Ctrl-C part-way leaves no capture
  if not w then return nil, open_err end
  local counts, first_ts, last_ts, done = emit(w, packet_stream(o.seed), plan, p, build, o)
  local closed, close_err = w:close()
  if not closed then return nil, close_err end

  local summary = {
    path = path, packets = done, format = format, snaplen = o.snaplen, seed = o.seed,
    first_ts_ns = first_ts, last_ts_ns = last_ts, start_ns = plan.start_ns, duration_ns = plan.duration_ns,
    seconds = os.clock() - clock0, counts = counts, scans = {}, bursts = {},
  }
  for i, sc in ipairs(plan.scans) do
    summary.scans[i] = { kind = sc.kind, start_ns = sc.start_ns, end_ns = sc.end_ns, src = sc.src, dst = sc.dst,
      dport = sc.dport, packets = sc.packets }
  end
  for i, bu in ipairs(plan.bursts) do
    summary.bursts[i] = { start_ns = plan.start_ns + math.floor(bu.start * 1e9),
      end_ns = plan.start_ns + math.floor((bu.start + bu.len) * 1e9), factor = bu.mult }
  end
  return summary
end

return M
