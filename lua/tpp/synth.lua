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
-- generate(path, opts) returns a summary: { path, format, snaplen, seed, packets, first_ts_ns, last_ts_ns,
--   start_ns, duration_ns, seconds (CPU),
--   counts = { ipv4, ipv6, arp, tcp, udp, icmp, icmpv6, gre, esp, vlan, fragments, first_fragments, syn, fin,
--              scan },
--   scans = { { kind = "ports" | "addresses", start_ns, end_ns, src, dst, dport, packets }, ... },
--   bursts = { { start_ns, end_ns, factor }, ... } }
-- counts.tcp / udp / ... count IPv4 and IPv6 packets, fragments and scan packets included; counts.icmp is ICMPv4
-- only; counts.fragments counts first and non-first fragments; counts.syn counts segments with SYN set.

local M = {}

---------------------------------------------------------------------------------------------------------------
-- Deterministic arithmetic (only + - * / and comparisons on floats)
---------------------------------------------------------------------------------------------------------------

local LN2 = 0.69314718055994530942
local PI = 3.14159265358979323846

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
-- PRNG: splitmix64 on Lua 5.4 integers (wrapping arithmetic, logical >>)
---------------------------------------------------------------------------------------------------------------

local GOLDEN = 0x9e3779b97f4a7c15

local function mix64(z)
    z = (z ~ (z >> 30)) * 0xbf58476d1ce4e5b9
    z = (z ~ (z >> 27)) * 0x94d049bb133111eb
    return z ~ (z >> 31)
end

-- A generator closure: rng() -> 64-bit integer; rng.float via helpers below.
local function new_rng(seed, stream)
    local s = mix64(seed * GOLDEN + stream * 0x632be59bd9b4e019 + 0x1234567)
    return function()
        s = s + GOLDEN
        return mix64(s)
    end
end

-- Uniform float in [0, 1) from 53 bits.
local function ufloat(rng) return (rng() >> 11) * (1.0 / 9007199254740992.0) end

-- Uniform integer in [lo, hi].
local function uint(rng, lo, hi) return lo + (rng() >> 1) % (hi - lo + 1) end

M._new_rng = new_rng

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

local CAT_TCP, CAT_UDP, CAT_ICMP, CAT_GRE, CAT_ESP, CAT_ARP = 1, 2, 3, 4, 5, 6
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

---------------------------------------------------------------------------------------------------------------
-- Setup helpers
---------------------------------------------------------------------------------------------------------------

local function ipv4_addresses(rng, n)
    local addr, sum = {}, {}
    for i = 1, n do
        local a
        repeat
            a = rng() >> 32
            local o = a >> 24
        until o >= 1 and o <= 223 and o ~= 10 and o ~= 127 and not (o == 192 and (a >> 16) & 0xff == 168)
        addr[i] = a
        sum[i] = (a >> 16) + (a & 0xffff)
    end
    return addr, sum
end

local V6_PREFIXES = { 0x2001, 0x2400, 0x2600, 0x2a00, 0x2a01, 0x2c0f, 0x2401, 0x2604 }
local function ipv6_addresses(rng, n)
    local addr = {}
    for i = 1, n do
        local r1, r2, r3 = rng(), rng(), rng()
        local pfx = V6_PREFIXES[(r1 & 7) + 1]
        -- a handful of /32s per prefix, EUI-64-ish or random interface identifiers
        addr[i] = string.pack(">I2I2I4I8", pfx, (r1 >> 8) & 0x0fff, r2 >> 32, r3)
    end
    return addr
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

local function rate_weights(rng, nbins, bin_s, duration_s, bursts_out)
    -- slow sinusoids
    local p1 = duration_s * (0.8 + 0.4 * ufloat(rng))
    local p2 = 17.0 + 6.0 * ufloat(rng)
    local ph1, ph2 = 2 * PI * ufloat(rng), 2 * PI * ufloat(rng)
    -- noise knots every second, linearly interpolated
    local nknots = math.floor(duration_s) + 2
    local knots = {}
    for i = 1, nknots do knots[i] = 2 * ufloat(rng) - 1 end
    -- bursts: ~one per 15 s, 0.05..1 s, ×1.5..×3.5
    local nb = math.max(1, math.floor(duration_s / 15 + 0.5))
    for i = 1, nb do
        local len = 0.05 + 0.95 * ufloat(rng)
        local st = ufloat(rng) * math.max(0, duration_s - len)
        bursts_out[i] = { start = st, len = len, mult = 1.5 + 2 * ufloat(rng) }
    end
    local w = {}
    for b = 1, nbins do
        local t = (b - 0.5) * bin_s
        local x = 1 + 0.25 * sin(2 * PI * t / p1 + ph1) + 0.08 * sin(2 * PI * t / p2 + ph2)
        local k = math.floor(t)
        local f = t - k
        x = x + 0.12 * (knots[k + 1] * (1 - f) + knots[k + 2] * f)
        x = x * (0.94 + 0.12 * ufloat(rng))
        for i = 1, nb do
            local bu = bursts_out[i]
            if t >= bu.start and t < bu.start + bu.len then x = x * bu.mult end
        end
        w[b] = x
    end
    return w
end

local function ends_with(s, suffix) return s:sub(-#suffix) == suffix end

local function zeros(n) return string.rep("\0", n) end

---------------------------------------------------------------------------------------------------------------
-- generate
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

function M.generate(path, opts)
    assert(type(path) == "string", "synth.generate: path expected")
    local o = check_opts(opts)
    local tpp = require "tpp"
    local clock0 = os.clock()

    local N, seed = o.packets, o.seed
    local duration_ns = math.floor(o.duration * 1e9 + 0.5)
    local start_ns = o.start * 1000000000
    local snaplen = o.snaplen
    local setup = new_rng(seed, 1)

    ------------------------------------------------------------------------------------------------------
    -- Populations: Zipf alias tables joined with the addresses of their ranks
    ------------------------------------------------------------------------------------------------------
    -- IPv4: E1[c] = threshold << 32 | address of rank c, E2[c] = address of the alias of c (one memory access
    -- for most samples).  IPv6: T[c] threshold, X1[c] / X2[c] the 16-byte addresses.
    local function v4_population(z)
        local addr = ipv4_addresses(setup, z.n)
        local E1, E2 = {}, {}
        for c = 1, z.n do
            E1[c] = z.thr[c] << 32 | addr[c]
            E2[c] = addr[z.alias[c]]
        end
        return E1, E2, z.mask
    end
    local function v6_population(z)
        local addr = ipv6_addresses(setup, z.n)
        local X1, X2 = {}, {}
        for c = 1, z.n do X1[c], X2[c] = addr[c], addr[z.alias[c]] end
        return z.thr, X1, X2, z.mask
    end
    local S4E1, S4E2, S4M = v4_population(zipf(1 << 15, 1.1))        -- IPv4 servers
    local C4E1, C4E2, C4M = v4_population(zipf(1 << 17, 0.85))       -- IPv4 clients
    local S6T, S6X1, S6X2, S6M = v6_population(zipf(1 << 12, 1.1))   -- IPv6 servers
    local C6T, C6X1, C6X2, C6M = v6_population(zipf(1 << 14, 0.85))  -- IPv6 clients

    -- server ports: 2^16 quantised table; the high-port tail is a Zipf over 1024 random high ports
    local function port_table(list, weights, high_share)
        local v, w, tot = {}, {}, 0.0
        for i = 1, #list do tot = tot + weights[i] end
        for i = 1, #list do v[i], w[i] = list[i], weights[i] / tot * (1 - high_share) end
        local zt = 0.0
        for k = 1, 1024 do zt = zt + 1 / k end
        for k = 1, 1024 do
            v[#v + 1] = uint(setup, 1024, 65535)
            w[#w + 1] = high_share * (1 / k) / zt
        end
        return qtable(v, w, 16)
    end
    local TCP_SPORT = port_table(TCP_PORTS, TCP_PORT_W, HIGH_PORT_SHARE.tcp)
    local UDP_SPORT = port_table(UDP_PORTS, UDP_PORT_W, HIGH_PORT_SHARE.udp)

    -- the category of a frame (16 bits)
    local arp = o.arp
    local CAT = qtable({ CAT_TCP, CAT_UDP, CAT_ICMP, CAT_GRE, CAT_ESP, CAT_ARP },
        { IP_MIX.tcp * (1 - arp), IP_MIX.udp * (1 - arp), IP_MIX.icmp * (1 - arp), IP_MIX.gre * (1 - arp),
          IP_MIX.esp * (1 - arp), 100 * arp }, 16)
    local FLAGS = qtable(FLAG_VALUES, FLAG_WEIGHTS, 12)
    local LEN, ULEN
    do local v, w = general_lengths(); LEN = qtable(v, w, 16) end
    do local v, w = udp_lengths(); ULEN = qtable(v, w, 16) end
    local CTL_LEN = qtable({ 40, 44, 48, 52, 60, 64 }, { 30, 12, 6, 16, 30, 6 }, 10)
    local ICMP_LEN = qtable({ 28, 56, 84, 92, 100, 576, 1500 }, { 10, 22, 45, 8, 7, 5, 3 }, 10)
    local TTL = qtable({ 64, 63, 62, 61, 60, 59, 58, 57, 56, 55, 54, 52, 50, 48, 128, 127, 126, 125, 124, 123, 122,
        121, 120, 118, 116, 114, 255, 254, 253, 250, 248, 245, 240, 30, 32 },
        { 3, 5, 6, 7, 6, 6, 5, 4, 3, 3, 2, 2, 1, 1, 2, 3, 4, 4, 4, 3, 3, 2, 2, 2, 1, 1, 1, 2, 2, 1, 1, 1, 1, 0.5, 0.5 },
        8)
    local WIN = qtable({ 65535, 64240, 29200, 502, 501, 1026, 2048, 8192, 16384, 32768, 4096, 1024 },
        { 20, 15, 8, 15, 12, 8, 5, 5, 4, 4, 2, 2 }, 8)
    local ICMP_TC = qtable({ 0x0800, 0x0000, 0x0303, 0x0301, 0x0b00, 0x030d, 0x0302, 0x0500 },
        { 40, 30, 12, 6, 7, 3, 1, 1 }, 8)
    local ICMP6_TC = qtable({ 0x8000, 0x8100, 0x8700, 0x8800, 0x0104, 0x0300, 0x0200, 0x8600 },
        { 30, 28, 16, 14, 5, 4, 1, 2 }, 8)

    -- Ethernet prefixes: 8 MAC pairs × (untagged + 8 VLAN ids) × ethertype (IPv4, IPv6, ARP)
    local MACS = {}
    for i = 1, 16 do
        local r = setup()
        MACS[i] = string.pack(">I2I4", (r >> 48) & 0xfcff, r & 0xffffffff)   -- unicast, globally administered
    end
    local VLAN_IDS = { 10, 20, 30, 100, 200, 300, 1001, 2001 }
    local ETYPES = { 0x0800, 0x86dd, 0x0806 }
    local ETH = {}          -- ETH[((e - 1) * 9 + v) * 8 + p + 1]: v = 0 untagged, 1..8 tagged; p = 0..7
    for e = 1, 3 do
        for v = 0, 8 do
            for p = 0, 7 do
                local dst, src = MACS[2 * p + 1], MACS[2 * p + 2]
                ETH[((e - 1) * 9 + v) * 8 + p + 1] = v == 0 and dst .. src .. string.pack(">I2", ETYPES[e])
                    or dst .. src .. string.pack(">I2I2I2", 0x8100, VLAN_IDS[v], ETYPES[e])
            end
        end
    end
    local ETH6, ETH_ARP = 72, 144

    -- ARP: requests and replies among a few hosts (the 28-byte message; the Ethernet padding is not captured)
    local ARPS = {}
    for i = 1, 64 do
        local r = setup()
        local op = (r & 3) == 0 and 2 or 1
        ARPS[i] = string.pack(">I2I2BBI2", 1, 0x0800, 6, 4, op) .. MACS[(i & 15) + 1]
            .. string.pack(">I4", 0xc0a80000 | ((r >> 8) & 0xfff))
            .. (op == 2 and MACS[((i + 1) & 15) + 1] or zeros(6)) .. string.pack(">I4", 0xc0a80000 | ((r >> 20) & 0xfff))
    end

    -- TCP options of SYN / FIN / RST segments by their length (the data offset covers them; they are captured)
    local TS = "\8\10\0\0\1\44\0\0\0\0"
    local TCPOPT = { [0] = "", [4] = "\2\4\5\180", [8] = "\2\4\5\180\1\1\4\2", [12] = "\1\1" .. TS,
        [20] = "\2\4\5\180\4\2" .. TS .. "\1\3\3\7", [24] = "\2\4\5\180\1\3\3\8\1\1" .. TS .. "\1\1\4\2" }
    for n, v in pairs(TCPOPT) do assert(#v == n) end

    local EXPT = {}                                    -- -ln(u) at 2^16 quantiles: exponential gaps
    for i = 0, 65535 do EXPT[i] = -ln((i + 0.5) / 65536) end

    ------------------------------------------------------------------------------------------------------
    -- Time bins, rate and scans
    ------------------------------------------------------------------------------------------------------
    local bin_ns = math.max(10000000, (duration_ns + 199999999) // 200000000 * 1000)   -- <= 200000 bins, whole µs
    local nbins = (duration_ns + bin_ns - 1) // bin_ns
    local duration_s = duration_ns / 1e9
    local bursts = {}
    local W = rate_weights(setup, nbins, bin_ns / 1e9, duration_s, bursts)
    W[nbins] = W[nbins] * ((duration_ns - (nbins - 1) * bin_ns) / bin_ns)   -- a partial last bin

    -- scans: scan i lies in the i-th of `scans` equal segments of the trace, lasts 5..15 s (at most half the
    -- segment), and makes 30 % of the packets of its bins (the rate rises accordingly)
    local scans = {}
    local scan_bin = {}                                -- bin -> scan index
    local function dotted(a) return string.format("%d.%d.%d.%d", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255) end
    for i = 1, o.scans do
        local seg = duration_s / o.scans
        local len = math.min(5 + 10 * ufloat(setup), 0.5 * seg)
        local st = (i - 1) * seg + 0.1 * seg + ufloat(setup) * math.max(0, 0.9 * seg - len)
        local kind = (i % 2 == 1) and "ports" or "addresses"
        local srcip = 0x40000000 | ((setup() >> 34) & 0x3fffffff)      -- 64.0.0.0 .. 127.255.255.255
        if srcip >> 24 == 127 then srcip = srcip ~ 0x02000000 end
        local dstip = 0x80000000 | ((setup() >> 34) & 0x3fffffff)      -- 128.0.0.0 .. 191.255.255.255
        local dport = ({ 22, 23, 445, 3389, 80, 8080, 5900 })[uint(setup, 1, 7)]
        local sc = { kind = kind, start_ns = start_ns + math.floor(st * 1e9),
            end_ns = start_ns + math.floor((st + len) * 1e9), src = dotted(srcip),
            dst = kind == "ports" and dotted(dstip) or dotted(dstip & 0xffff0000) .. "/16",
            dport = kind == "addresses" and dport or nil, packets = 0,
            _ports = kind == "ports", _src = srcip, _dst = dstip, _dport = dport, _sport = uint(setup, 1024, 65535),
            _ttl = uint(setup, 40, 250), _stride = uint(setup, 1, 32767) * 2 + 1, _base = uint(setup, 0, 65535) }
        scans[i] = sc
        local b0 = (sc.start_ns - start_ns) // bin_ns + 1
        local b1 = (sc.end_ns - start_ns - 1) // bin_ns + 1
        for b = math.max(1, b0), math.min(nbins, b1) do
            scan_bin[b] = i
            W[b] = W[b] / 0.7
        end
    end

    -- packets per bin by cumulative rounding: exactly N in all
    local counts = {}
    do
        local tot = 0.0
        for b = 1, nbins do tot = tot + W[b] end
        local cum, prev = 0.0, 0
        for b = 1, nbins do
            cum = cum + W[b]
            local upto = b == nbins and N or math.floor(N * (cum / tot) + 0.5)
            if upto > N then upto = N end
            if upto < prev then upto = prev end
            counts[b] = upto - prev
            prev = upto
        end
    end

    ------------------------------------------------------------------------------------------------------
    -- The writer
    ------------------------------------------------------------------------------------------------------
    local format = o.format
    if format == nil then
        format = (ends_with(path, ".pcapng") or ends_with(path, ".pcapng.gz")) and "pcapng" or "pcap"
    end
    local wopts = { format = format, snaplen = snaplen, nanosecond = o.nanosecond and true or false }
    if o.gzip ~= nil then wopts.gzip = o.gzip end
    local w <close> = tpp.pcap_writer(path, "ethernet", wopts) -- an error or Ctrl-C part-way leaves no capture
    local write_ns = w.write_ns

    ------------------------------------------------------------------------------------------------------
    -- The hot loop
    ------------------------------------------------------------------------------------------------------
    -- Random bits of a packet (splitmix64, inlined):
    --   r1: category 0-15, IPv6 16-47, VLAN / scan share 48-63
    --   r2: server (alias column 0-16, threshold 33-63), direction 17, MAC pair 18-20, VLAN id 21-23, TTL 24-31
    --   r3: client (alias column 0-16, threshold 33-63), TCP flags / ICMP type 17-28, ESP SPI 56-63
    --   r4: server port 0-15, client port 16-31, length 32-47, IP id / flow label 48-63
    --   r5 = a multiplicative hash of r4 ~ r1 (noise fields): sequence 32-63, acknowledgement 0-31, window 24-31,
    --        fragment choice 8-23, fragment length 0-10
    -- Headers are packed as big-endian 64-bit words with the Ethernet prefix in the same string.pack.
    -- Capture is header-only: caplen = min(snaplen, headers); wirelen is the whole frame (>= 60).
    local s = mix64(seed * GOLDEN + 0x5bd1e9955bd1e995)    -- packet stream state
    local pack = string.pack
    local v6thr = math.floor(o.ipv6 * 4294967296)
    local vlanthr = math.floor(o.vlan * 65536)
    local FRAG_UDP, FRAG_TCP = math.floor(0.05 * 65536), math.floor(0.002 * 65536)  -- of big UDP / 1500-byte TCP
    local progress = o.progress
    local buf = {}
    -- timestamps in whole microseconds unless nanosecond stamps were asked for, so that pcap, pcapng and their
    -- gzip versions of the same options hold the same times
    local res = o.nanosecond and 1 or 1000

    local F4_TCP = { [14] = ">c14I8I8I8I8I8", [18] = ">c18I8I8I8I8I8" }
    local F4_UDP = { [14] = ">c14I8I8I8I2xx", [18] = ">c18I8I8I8I2xx" }
    local F4_ICMP = { [14] = ">c14I8I8I8I4", [18] = ">c18I8I8I8I4" }
    local F4_GRE = { [14] = ">c14I8I8I8I8I8I4", [18] = ">c18I8I8I8I8I8I4" }
    local F4_ESP = { [14] = ">c14I8I8I8I4", [18] = ">c18I8I8I8I4" }
    local F4_IP = { [14] = ">c14I8I8I4", [18] = ">c18I8I8I4" }
    local F6_TCP = { [14] = ">c14I8c16c16I8I8xxxx", [18] = ">c18I8c16c16I8I8xxxx" }
    local F6_8 = { [14] = ">c14I8c16c16I8", [18] = ">c18I8c16c16I8" }        -- UDP, ICMPv6, ESP
    local F6_GRE = { [14] = ">c14I8c16c16I4I8c16c16", [18] = ">c18I8c16c16I4I8c16c16" }
    local V4 = 0x4500 << 48

    local n_v4, n_v6, n_arp, n_tcp, n_udp, n_icmp, n_icmp6, n_gre, n_esp = 0, 0, 0, 0, 0, 0, 0, 0, 0
    local n_vlan, n_frag, n_ffrag, n_syn, n_fin, n_scan = 0, 0, 0, 0, 0, 0
    local first_ts, last_ts
    local done = 0
    local pend, pend_wire, pend_tcp = nil, 0, false   -- a pending non-first fragment: frame, wire length, TCP?

    for b = 1, nbins do
        local k = counts[b]
        if k > 0 then
            -- k uniform order statistics in [0, blen): cumulative exponential gaps (four per random number)
            local acc = 0.0
            for j = 1, k + 1, 4 do
                s = s + GOLDEN
                local z = s
                z = (z ~ (z >> 30)) * 0xbf58476d1ce4e5b9
                z = (z ~ (z >> 27)) * 0x94d049bb133111eb
                z = z ~ (z >> 31)
                acc = acc + EXPT[z & 0xffff]; buf[j] = acc
                acc = acc + EXPT[(z >> 16) & 0xffff]; buf[j + 1] = acc
                acc = acc + EXPT[(z >> 32) & 0xffff]; buf[j + 2] = acc
                acc = acc + EXPT[z >> 48]; buf[j + 3] = acc
            end
            acc = buf[k + 1]
            local bstart = (b - 1) * bin_ns
            local blen = bin_ns
            if bstart + blen > duration_ns then blen = duration_ns - bstart end
            local scale = blen / acc
            bstart = start_ns + bstart
            local sc = scans[scan_bin[b] or 0]
            for j = 1, k do
                local ts = bstart + ((buf[j] * scale) // res | 0) * res
                local frame, wire
                if pend then
                    frame, wire, pend = pend, pend_wire, nil
                    n_frag, n_v4 = n_frag + 1, n_v4 + 1
                    if pend_tcp then n_tcp = n_tcp + 1 else n_udp = n_udp + 1 end
                    if #frame > 34 then n_vlan = n_vlan + 1 end      -- tagged like its first fragment
                else
                    s = s + GOLDEN
                    local r1 = s
                    r1 = (r1 ~ (r1 >> 30)) * 0xbf58476d1ce4e5b9
                    r1 = (r1 ~ (r1 >> 27)) * 0x94d049bb133111eb
                    r1 = r1 ~ (r1 >> 31)
                    s = s + GOLDEN
                    local r2 = s
                    r2 = (r2 ~ (r2 >> 30)) * 0xbf58476d1ce4e5b9
                    r2 = (r2 ~ (r2 >> 27)) * 0x94d049bb133111eb
                    r2 = r2 ~ (r2 >> 31)
                    local ethi = (r2 >> 18) & 7                       -- MAC pair
                    local l2 = 14
                    if (r1 >> 48) < vlanthr then
                        ethi = ethi + (((r2 >> 21) & 7) + 1) * 8
                        l2 = 18
                        n_vlan = n_vlan + 1
                    end
                    local cat = CAT[(r1 & 0xffff) + 1]
                    if sc and (r1 >> 48) % 10 < 3 then cat = 0 end    -- a scan packet (30 % in the window)
                    if cat == CAT_ARP then
                        frame = ETH[ETH_ARP + ethi + 1] .. ARPS[(r2 >> 58) + 1]
                        wire = l2 == 14 and 60 or 64
                        n_arp = n_arp + 1
                    else
                        s = s + GOLDEN
                        local r3 = s
                        r3 = (r3 ~ (r3 >> 30)) * 0xbf58476d1ce4e5b9
                        r3 = (r3 ~ (r3 >> 27)) * 0x94d049bb133111eb
                        r3 = r3 ~ (r3 >> 31)
                        s = s + GOLDEN
                        local r4 = s
                        r4 = (r4 ~ (r4 >> 30)) * 0xbf58476d1ce4e5b9
                        r4 = (r4 ~ (r4 >> 27)) * 0x94d049bb133111eb
                        r4 = r4 ~ (r4 >> 31)
                        local r5 = (r4 ~ r1) * 0xd1342543de82ef95
                        local ttl = TTL[((r2 >> 24) & 0xff) + 1]
                        local cport = (r4 >> 16) & 0xffff
                        if cport < 1024 then cport = cport + 32768 end
                        local toserver = r2 & 0x20000 == 0
                        local flags = FLAGS[((r3 >> 17) & 0xfff) + 1]
                        if flags & 2 ~= 0 then toserver = flags == 2 end   -- SYN to the server, SYN|ACK back
                        local iplen
                        if cat == 0 then
                            ------------------------------------------------------------ scan SYN (IPv4)
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
                            local id = r4 >> 48
                            local sum = 0x4500 + 40 + id + ttlp + (src >> 16) + (src & 0xffff) + (dst >> 16)
                                + (dst & 0xffff)
                            sum = (sum & 0xffff) + (sum >> 16)
                            sum = (sum & 0xffff) + (sum >> 16)
                            iplen = 40
                            frame = pack(F4_TCP[l2], ETH[ethi + 1], V4 | 40 << 32 | id << 16,
                                ttlp << 48 | (~sum & 0xffff) << 32 | src, dst << 32 | sc._sport << 16 | dport,
                                r5 & 0xffffffff00000000, 0x5002 << 48 | 1024 << 32)
                            n_v4, n_tcp, n_syn, n_scan = n_v4 + 1, n_tcp + 1, n_syn + 1, n_scan + 1
                        elseif (r1 >> 16) & 0xffffffff >= v6thr then
                            ------------------------------------------------------------ IPv4
                            n_v4 = n_v4 + 1
                            local c = (r2 & S4M) + 1
                            local e = S4E1[c]
                            local src = (r2 >> 33) < (e >> 32) and e & 0xffffffff or S4E2[c]
                            c = (r3 & C4M) + 1
                            e = C4E1[c]
                            local dst = (r3 >> 33) < (e >> 32) and e & 0xffffffff or C4E2[c]
                            local asum = (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff)
                            if toserver then src, dst = dst, src end
                            local id = r4 >> 48
                            local eth = ETH[ethi + 1]
                            if cat == CAT_TCP then
                                n_tcp = n_tcp + 1
                                local sp, dp = TCP_SPORT[(r4 & 0xffff) + 1], cport
                                if toserver then sp, dp = dp, sp end
                                local offflags
                                if flags & 0x07 ~= 0 then                      -- SYN (with options), FIN, RST
                                    if flags & 2 ~= 0 then
                                        iplen = CTL_LEN[((r4 >> 32) & 0x3ff) + 1]
                                        n_syn = n_syn + 1
                                    else
                                        iplen = (r4 >> 32) & 3 == 0 and 52 or 40
                                        if flags & 1 ~= 0 then n_fin = n_fin + 1 end
                                    end
                                    offflags = (iplen - 20) << 10 | flags          -- options fill the segment
                                else
                                    iplen = LEN[((r4 >> 32) & 0xffff) + 1]
                                    if flags == 0x18 and iplen < 53 then iplen = iplen + 30 end
                                    offflags = 0x5000 | flags
                                end
                                local ttlp = ttl << 8 | 6
                                local frag = iplen > 576 and 0x4000 or 0
                                if iplen == 1500 and ((r5 >> 8) & 0xffff) < FRAG_TCP then frag = 0x2000 end
                                local sum = 0x4500 + iplen + id + frag + ttlp + asum
                                sum = (sum & 0xffff) + (sum >> 16)
                                sum = (sum & 0xffff) + (sum >> 16)
                                frame = pack(F4_TCP[l2], eth, V4 | iplen << 32 | id << 16 | frag,
                                    ttlp << 48 | (~sum & 0xffff) << 32 | src, dst << 32 | sp << 16 | dp,
                                    flags & 0x10 ~= 0 and r5 or r5 & 0xffffffff00000000,
                                    offflags << 48 | WIN[((r5 >> 24) & 0xff) + 1] << 32)
                                if offflags >= 0x6000 then frame = frame .. TCPOPT[(offflags >> 10) - 20] end
                                if frag == 0x2000 then
                                    n_ffrag = n_ffrag + 1
                                    local rest = 40 + (r5 & 0x3ff)
                                    local s2 = 0x4500 + rest + id + 185 + ttlp + asum
                                    s2 = (s2 & 0xffff) + (s2 >> 16)
                                    s2 = (s2 & 0xffff) + (s2 >> 16)
                                    pend = pack(F4_IP[l2], eth, V4 | rest << 32 | id << 16 | 185,
                                        ttlp << 48 | (~s2 & 0xffff) << 32 | src, dst)
                                    pend_wire, pend_tcp = l2 + rest < 60 and 60 or l2 + rest, true
                                end
                            elseif cat == CAT_UDP then
                                n_udp = n_udp + 1
                                local sp, dp = UDP_SPORT[(r4 & 0xffff) + 1], cport
                                if toserver then sp, dp = dp, sp end
                                iplen = ULEN[((r4 >> 32) & 0xffff) + 1]
                                local ttlp = ttl << 8 | 17
                                local frag, ulen, rest = 0, iplen - 20, 0
                                if iplen >= 1200 and ((r5 >> 8) & 0xffff) < FRAG_UDP then
                                    frag, iplen = 0x2000, 1500
                                    rest = 20 + 8 + (r5 & 0x7ff)
                                    if rest > 1500 then rest = 1500 end
                                    ulen = 1480 + rest - 20
                                end
                                local sum = 0x4500 + iplen + id + frag + ttlp + asum
                                sum = (sum & 0xffff) + (sum >> 16)
                                sum = (sum & 0xffff) + (sum >> 16)
                                frame = pack(F4_UDP[l2], eth, V4 | iplen << 32 | id << 16 | frag,
                                    ttlp << 48 | (~sum & 0xffff) << 32 | src, dst << 32 | sp << 16 | dp, ulen)
                                if frag == 0x2000 then
                                    n_ffrag = n_ffrag + 1
                                    local s2 = 0x4500 + rest + id + 185 + ttlp + asum
                                    s2 = (s2 & 0xffff) + (s2 >> 16)
                                    s2 = (s2 & 0xffff) + (s2 >> 16)
                                    pend = pack(F4_IP[l2], eth, V4 | rest << 32 | id << 16 | 185,
                                        ttlp << 48 | (~s2 & 0xffff) << 32 | src, dst)
                                    pend_wire, pend_tcp = l2 + rest < 60 and 60 or l2 + rest, false
                                end
                            else
                                local proto
                                if cat == CAT_ICMP then
                                    n_icmp = n_icmp + 1
                                    proto = 1
                                    iplen = ICMP_LEN[((r4 >> 32) & 0x3ff) + 1]
                                elseif cat == CAT_GRE then
                                    n_gre = n_gre + 1
                                    proto = 47
                                    iplen = LEN[((r4 >> 32) & 0xffff) + 1]
                                    if iplen < 64 then iplen = 64 end
                                else
                                    n_esp = n_esp + 1
                                    proto = 50
                                    iplen = LEN[((r4 >> 32) & 0xffff) + 1]
                                    if iplen < 72 then iplen = 72 + (iplen & 7) * 8 end
                                end
                                local ttlp = ttl << 8 | proto
                                local sum = 0x4500 + iplen + id + ttlp + asum
                                sum = (sum & 0xffff) + (sum >> 16)
                                sum = (sum & 0xffff) + (sum >> 16)
                                local w1, w2 = V4 | iplen << 32 | id << 16, ttlp << 48 | (~sum & 0xffff) << 32 | src
                                if proto == 1 then
                                    frame = pack(F4_ICMP[l2], eth, w1, w2,
                                        dst << 32 | ICMP_TC[((r3 >> 17) & 0xff) + 1] << 16, r5 & 0xffffffff)
                                elseif proto == 47 then    -- GRE carrying IPv4 (the inner header is captured)
                                    frame = pack(F4_GRE[l2], eth, w1, w2, dst << 32 | 0x0800,
                                        V4 | (iplen - 24) << 32 | (r5 & 0xffff) << 16, 0x4006 << 48 | src, dst)
                                else
                                    frame = pack(F4_ESP[l2], eth, w1, w2, dst << 32 | 0x1000 + (r3 >> 56),
                                        r5 & 0xffffff)
                                end
                            end
                        else
                            ------------------------------------------------------------ IPv6
                            n_v6 = n_v6 + 1
                            local c = (r2 & S6M) + 1
                            local src = (r2 >> 33) < S6T[c] and S6X1[c] or S6X2[c]
                            c = (r3 & C6M) + 1
                            local dst = (r3 >> 33) < C6T[c] and C6X1[c] or C6X2[c]
                            if toserver then src, dst = dst, src end
                            local vtf = (0x60000000 | ((r4 >> 44) & 0xfffff)) << 32 | ttl
                            local eth = ETH[ETH6 + ethi + 1]
                            if cat == CAT_TCP then
                                n_tcp = n_tcp + 1
                                local sp, dp = TCP_SPORT[(r4 & 0xffff) + 1], cport
                                if toserver then sp, dp = dp, sp end
                                local offflags
                                if flags & 0x07 ~= 0 then
                                    if flags & 2 ~= 0 then
                                        iplen = CTL_LEN[((r4 >> 32) & 0x3ff) + 1] + 20
                                        n_syn = n_syn + 1
                                    else
                                        iplen = (r4 >> 32) & 3 == 0 and 72 or 60
                                        if flags & 1 ~= 0 then n_fin = n_fin + 1 end
                                    end
                                    offflags = (iplen - 40) << 10 | flags
                                else
                                    iplen = LEN[((r4 >> 32) & 0xffff) + 1] + 20
                                    if flags == 0x18 and iplen < 73 then iplen = iplen + 30 end
                                    if iplen > 1500 then iplen = 1500 end
                                    offflags = 0x5000 | flags
                                end
                                frame = pack(F6_TCP[l2], eth, vtf | (iplen - 40) << 16 | 6 << 8, src, dst,
                                    sp << 48 | dp << 32 | r5 >> 32,
                                    (flags & 0x10 ~= 0 and r5 << 32 or 0) | offflags << 16 | WIN[((r5 >> 24) & 0xff) + 1])
                                if offflags >= 0x6000 then frame = frame .. TCPOPT[(offflags >> 10) - 20] end
                            elseif cat == CAT_UDP then
                                n_udp = n_udp + 1
                                local sp, dp = UDP_SPORT[(r4 & 0xffff) + 1], cport
                                if toserver then sp, dp = dp, sp end
                                iplen = ULEN[((r4 >> 32) & 0xffff) + 1] + 20
                                if iplen > 1500 then iplen = 1500 end
                                frame = pack(F6_8[l2], eth, vtf | (iplen - 40) << 16 | 17 << 8, src, dst,
                                    sp << 48 | dp << 32 | (iplen - 40) << 16)
                            elseif cat == CAT_ICMP then
                                n_icmp6 = n_icmp6 + 1
                                iplen = ICMP_LEN[((r4 >> 32) & 0x3ff) + 1] + 20
                                if iplen > 1500 then iplen = 1500 end
                                frame = pack(F6_8[l2], eth, vtf | (iplen - 40) << 16 | 58 << 8, src, dst,
                                    ICMP6_TC[((r3 >> 17) & 0xff) + 1] << 48 | (r5 & 0xffffffff))
                            elseif cat == CAT_GRE then   -- GRE carrying IPv6
                                n_gre = n_gre + 1
                                iplen = LEN[((r4 >> 32) & 0xffff) + 1] + 20
                                if iplen < 84 then iplen = 84 end
                                if iplen > 1500 then iplen = 1500 end
                                frame = pack(F6_GRE[l2], eth, vtf | (iplen - 40) << 16 | 47 << 8, src, dst, 0x86dd,
                                    0x6000000000000000 | (iplen - 84) << 16 | 6 << 8 | 64, src, dst)
                            else
                                n_esp = n_esp + 1
                                iplen = LEN[((r4 >> 32) & 0xffff) + 1] + 20
                                if iplen < 92 then iplen = 92 + (iplen & 7) * 8 end
                                if iplen > 1500 then iplen = 1500 end
                                frame = pack(F6_8[l2], eth, vtf | (iplen - 40) << 16 | 50 << 8, src, dst,
                                    (0x1000 + (r3 >> 56)) << 32 | (r5 & 0xffffff))
                            end
                        end
                        wire = l2 + iplen
                        if wire < 60 then wire = 60 end
                    end
                end
                write_ns(w, ts, frame, wire)
            end
            if not first_ts then first_ts = bstart + ((buf[1] * scale) // res | 0) * res end
            last_ts = bstart + ((buf[k] * scale) // res | 0) * res
            done = done + k
            if progress and (done >> 20) ~= ((done - k) >> 20) then progress(done, N) end
        end
    end
    w:close()

    local summary = {
        path = path, packets = done, format = format, snaplen = snaplen, seed = seed,
        first_ts_ns = first_ts, last_ts_ns = last_ts, start_ns = start_ns, duration_ns = duration_ns,
        seconds = os.clock() - clock0,
        counts = { ipv4 = n_v4, ipv6 = n_v6, arp = n_arp, tcp = n_tcp, udp = n_udp, icmp = n_icmp, icmpv6 = n_icmp6,
            gre = n_gre, esp = n_esp, vlan = n_vlan, fragments = n_frag + n_ffrag, first_fragments = n_ffrag,
            syn = n_syn, fin = n_fin, scan = n_scan },
        scans = {}, bursts = {},
    }
    for i, sc in ipairs(scans) do
        summary.scans[i] = { kind = sc.kind, start_ns = sc.start_ns, end_ns = sc.end_ns, src = sc.src, dst = sc.dst,
            dport = sc.dport, packets = sc.packets }
    end
    for i, bu in ipairs(bursts) do
        summary.bursts[i] = { start_ns = start_ns + math.floor(bu.start * 1e9),
            end_ns = start_ns + math.floor((bu.start + bu.len) * 1e9), factor = bu.mult }
    end
    return summary
end

return M
