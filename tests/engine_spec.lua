-- Known-answer specs for the engine: small captures written here with tpp.pcap_writer, results asserted against
-- values worked out by hand (or by plain Lua arithmetic from the issue's definitions, see helper.ref), never
-- against tpp's own output.
--
-- Conventions: timestamps are integer nanoseconds (H.T0 is an epoch base, H.NS one second); counts are compared
-- exactly, floats with a relative tolerance of 1e-9 (iat_std/skew/kurt 1e-7), NaN as NaN.

local HERE = debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./"
local H = dofile(HERE .. "helper.lua")
local tpp = require "tpp"

local NS, T0 = H.NS, H.T0
local SEC = function(s) return math.floor(s * NS + 0.5) end   -- seconds (exact in binary or decimal ms) -> ns

local COLUMNS = { "interval", "start", "end", "packets", "ip_packets", "ip_bytes", "src_ips", "dst_ips", "f2_src",
    "f2_dst", "iat_mean", "iat_std", "iat_skew", "iat_kurt", "entropy_src", "entropy_dst", "avg_len", "icmp_frac",
    "tcp_frac", "udp_frac", "syn", "fin", "tcp_port_packets", "udp_port_packets" }

local COUNT = { interval = true, packets = true, ip_packets = true, ip_bytes = true, src_ips = true, dst_ips = true,
    syn = true, fin = true, tcp_port_packets = true, udp_port_packets = true }
local LOOSE = { iat_std = true, iat_skew = true, iat_kurt = true }

-- Compare interval i (1-based) of r with `expected` (column -> value; start/end as integer ns).
local function check(r, i, expected)
    local iv = r:interval(i)
    assert.is_table(iv, "interval " .. i .. " exists")
    for k, v in pairs(expected) do
        local what = string.format("interval %d (1-based) column %s", i, k)
        if k == "start" or k == "end" then
            H.assert_time(iv[k], v, what)
        elseif COUNT[k] then
            assert.are.equal(v, iv[k], what)
        else
            H.assert_close(iv[k], v, LOOSE[k] and 1e-7 or 1e-9, what)
        end
    end
end

local NAN = 0 / 0

-- Every column of an interval with no packets (times given): counts 0, statistics undefined (NaN).
local function empty_interval(index, start_ns, end_ns)
    local e = { interval = index, start = start_ns, ["end"] = end_ns }
    for _, c in ipairs(COLUMNS) do
        if e[c] == nil then e[c] = COUNT[c] and 0 or NAN end
    end
    return e
end

-- The IAT moments of tpp's own (aligned) mode: H.ref.moments' definitions, NaN where undefined (the mean of no IAT,
-- the std, skewness and kurtosis of fewer than two).
local function iat_expect(e, iats)
    if #iats <= 1 then
        e.iat_mean, e.iat_std, e.iat_skew, e.iat_kurt = iats[1] or NAN, NAN, NAN, NAN
    else
        e.iat_mean, e.iat_std, e.iat_skew, e.iat_kurt = H.ref.moments(iats)
    end
    return e
end

-- The packet (original tool's) mode keeps its conventions: all four 0 up to one IAT.
local function iat_expect_original(e, iats)
    e.iat_mean, e.iat_std, e.iat_skew, e.iat_kurt = H.ref.moments(iats)
    if #iats == 1 then e.iat_mean = iats[1] end
    return e
end

local function parse(path, opts)
    local r, err = tpp.parse(path, opts)
    assert.is_not_nil(r, "tpp.parse failed: " .. tostring(err))
    return r
end

local function packets_of(path, opts)
    local list = {}
    for p in tpp.packets(path, opts) do list[#list + 1] = p end
    return list
end

local function column_sum(r, name)
    local s = 0
    for _, v in ipairs(r:column(name)) do s = s + v end
    return s
end

-- A scratch directory for one describe block.
local function scratch()
    local area = {}
    lazy_setup(function() area.dir = H.tmpdir() end)
    lazy_teardown(function() if area.dir then H.rmtree(area.dir) end end)
    function area.path(name) return area.dir .. "/" .. name end
    function area.capture(name, linktype, pkts, opts)
        return H.write_capture(area.path(name), linktype, pkts, opts)
    end
    return area
end

describe("tpp.parse", function()
    local tmp = scratch()

    -------------------------------------------------------------------------------------------------------------
    describe("on a hand-computed trace of six packets in one interval", function()
        -- delta_t = 10 s, aligned.  One ARP frame among five IPv4 packets:
        --   #  t(s)  what                                                    ip_len  IAT
        --   1  0     10.0.0.1 -> 10.0.0.2  TCP 1000->80  SYN                 40      none (the capture's first)
        --   2  1     10.0.0.2 -> 10.0.0.1  TCP 80->1000  SYN|ACK             40      1
        --   3  3     10.0.0.1 -> 10.0.0.3  UDP 5000->53  32 bytes payload    60      2
        --   4  5     ARP (not IP)                                            -       -
        --   5  6     10.0.0.1 -> 10.0.0.2  ICMP echo, 8 bytes after hdr      32      1 (after the ARP frame)
        --   6  8     10.0.0.2 -> 10.0.0.1  TCP 80->1000  FIN|ACK, 100 bytes  140     2
        local path, r
        lazy_setup(function()
            path = tmp.capture("six.pcap", "ethernet", {
                { ts_ns = T0 + SEC(0), data = H.eth4_tcp("10.0.0.1", "10.0.0.2", 1000, 80, H.SYN) },
                { ts_ns = T0 + SEC(1), data = H.eth4_tcp("10.0.0.2", "10.0.0.1", 80, 1000, H.SYN | H.ACK) },
                { ts_ns = T0 + SEC(3), data = H.eth4_udp("10.0.0.1", "10.0.0.3", 5000, 53, string.rep("q", 32)) },
                { ts_ns = T0 + SEC(5), data = H.ethernet(nil, nil, H.ETH_ARP, H.arp()) },
                { ts_ns = T0 + SEC(6), data = H.eth4_icmp("10.0.0.1", "10.0.0.2", 8, 0, "\0\1\0\1abcd") },
                { ts_ns = T0 + SEC(8), data = H.eth4_tcp("10.0.0.2", "10.0.0.1", 80, 1000, H.FIN | H.ACK,
                    string.rep("d", 100)) },
            })
            r = parse(path, { delta_t = 10 })
        end)

        it("emits exactly one interval, on the epoch grid (T0 is a multiple of delta_t)", function()
            assert.are.equal(1, #r)
            check(r, 1, { interval = 0, start = T0, ["end"] = T0 + SEC(10) })
        end)

        it("counts all packets, the IP packets and their IP total lengths", function()
            check(r, 1, { packets = 6, ip_packets = 5, ip_bytes = 40 + 40 + 60 + 32 + 140, avg_len = 312 / 5 })
        end)

        it("counts distinct addresses and computes f2 as the sum of squared counts over ip_packets squared", function()
            -- sources: 10.0.0.1 x3, 10.0.0.2 x2; destinations: 10.0.0.2 x2, 10.0.0.1 x2, 10.0.0.3 x1
            check(r, 1, { src_ips = 2, dst_ips = 3, f2_src = (3 * 3 + 2 * 2) / 25, f2_dst = (2 * 2 + 2 * 2 + 1) / 25 })
        end)

        it("computes the normalised Shannon entropy of the address counts", function()
            local function lg(x) return math.log(x, 2) end
            local h_src = -(0.6 * lg(0.6) + 0.4 * lg(0.4))               -- / log2(2) = 1
            local h_dst = -(0.4 * lg(0.4) + 0.4 * lg(0.4) + 0.2 * lg(0.2)) / lg(3)
            check(r, 1, { entropy_src = h_src, entropy_dst = h_dst })
        end)

        it("computes the IAT moments over the IP packets, the IAT running from the previous packet of any kind", function()
            -- IATs of the IP packets: 1, 2, 1, 2 (seconds; the first packet has none); mean 1.5; deviations
            -- -0.5 0.5 -0.5 0.5: sum of squares 1, m2 = 0.25, m3 = 0, m4 = 0.0625
            check(r, 1, { iat_mean = 1.5, iat_std = math.sqrt(1 / 3), iat_skew = 0, iat_kurt = 0.0625 / 0.0625 - 3 })
        end)

        it("gives the protocol shares of the IP packets and the SYN/FIN and port-header counts", function()
            check(r, 1, { icmp_frac = 1 / 5, tcp_frac = 3 / 5, udp_frac = 1 / 5, syn = 2, fin = 1,
                          tcp_port_packets = 3, udp_port_packets = 1 })
        end)

        it("fills the summary fields", function()
            assert.are.equal(path, r.source)
            assert.are.equal(10, r.delta_t)
            assert.are.equal("aligned", r.boundary)
            assert.are.equal("any", r.ip)
            assert.are.equal(0, r.max_packets)
            assert.are.equal(0, r.max_intervals)
            assert.are.equal(6, r.packets)
            assert.are.equal(5, r.ip_packets)
            assert.are.equal(1, r.non_ip_packets)
            assert.are.equal(0, r.truncated_packets)
            assert.are.equal(0, r.backwards_packets)
            assert.are.equal(1, r.intervals)
            assert.are.equal(T0, r.first_ns)
            assert.are.equal(T0 + SEC(8), r.last_ns)
            H.assert_time(r.first_ts, T0, "first_ts")
            H.assert_time(r.last_ts, T0 + SEC(8), "last_ts")
            assert.are.equal(1, r.linktype)
            assert.is_true(r.complete)
            assert.is_nil(r.error)
            assert.is_nil(r.warning)
        end)

        it("has a one-line summary as its string form", function()
            local s = tostring(r)
            assert.is_string(s)
            assert.is_true(#s > 0)
            assert.is_nil(s:find("\n", 1, true))
            assert.is_nil(s:match("^userdata: "), "not the default userdata string: " .. s)
        end)

        it("lists the documented columns in TSV order", function()
            local cols = r:columns()
            local pos = {}
            for i, name in ipairs(cols) do pos[name] = i end
            local last = 0
            for _, name in ipairs(COLUMNS) do
                assert.is_not_nil(pos[name], "column " .. name .. " is listed")
                assert.is_true(pos[name] > last, "column " .. name .. " comes after the one before it")
                last = pos[name]
            end
        end)

        it("gives the same values through r:column(name) as through r:interval(i)", function()
            for _, name in ipairs(r:columns()) do
                local col = r:column(name)
                assert.are.equal(#r, #col, name)
                assert.are.equal(r:interval(1)[name], col[1], name)
            end
        end)
    end)

    -------------------------------------------------------------------------------------------------------------
    describe("inter-arrival time statistics", function()
        it("are all NaN in an interval whose only IP packet is the capture's first (it has no IAT)", function()
            local path = tmp.capture("iat1.pcap", 1, {
                { ts_ns = T0, data = H.eth4_udp("10.0.0.1", "10.0.0.2", 1, 2, "x") },
                { ts_ns = T0 + SEC(8), data = H.ethernet(nil, nil, H.ETH_ARP, H.arp()) },
            })
            local r = parse(path, { delta_t = 10 })
            assert.are.equal(1, #r)
            check(r, 1, { packets = 2, ip_packets = 1, iat_mean = NAN, iat_std = NAN, iat_skew = NAN, iat_kurt = NAN })
        end)

        it("give skewness 0 and excess kurtosis -2 for two IATs", function()
            local path = tmp.capture("iat2.pcap", 1, {
                { ts_ns = T0, data = H.eth4_udp("10.0.0.1", "10.0.0.2", 1, 2, "x") },
                { ts_ns = T0 + SEC(3), data = H.eth4_udp("10.0.0.1", "10.0.0.2", 1, 2, "x") },
                { ts_ns = T0 + SEC(6.5), data = H.eth4_udp("10.0.0.1", "10.0.0.2", 1, 2, "x") },
            })
            local r = parse(path, { delta_t = 10 })
            -- IATs 3 and 3.5: mean 3.25, sample variance (0.25² + 0.25²)/1 = 0.125
            check(r, 1, { iat_mean = 3.25, iat_std = math.sqrt(0.125), iat_skew = 0, iat_kurt = -2 })
        end)

        it("give NaN std, skewness and kurtosis when all IATs of an interval are equal (a zero variance)", function()
            -- interval 0: the first IP packet and an ARP frame at 8 s; interval 1: IP packets at 10, 12, 14 s,
            -- whose IATs are all 2 s (the first one measured from the ARP frame in the interval before).
            local path = tmp.capture("iatc.pcap", 1, {
                { ts_ns = T0, data = H.eth4_udp("10.0.0.1", "10.0.0.2", 1, 2, "x") },
                { ts_ns = T0 + SEC(8), data = H.ethernet(nil, nil, H.ETH_ARP, H.arp()) },
                { ts_ns = T0 + SEC(10), data = H.eth4_udp("10.0.0.1", "10.0.0.2", 1, 2, "x") },
                { ts_ns = T0 + SEC(12), data = H.eth4_udp("10.0.0.1", "10.0.0.2", 1, 2, "x") },
                { ts_ns = T0 + SEC(14), data = H.eth4_udp("10.0.0.1", "10.0.0.2", 1, 2, "x") },
            })
            local r = parse(path, { delta_t = 10 })
            assert.are.equal(2, #r)
            check(r, 1, { packets = 2, ip_packets = 1, iat_mean = NAN, iat_std = NAN, iat_skew = NAN, iat_kurt = NAN })
            local iv = r:interval(2)
            assert.are.equal(3, iv.ip_packets)
            H.assert_close(iv.iat_mean, 2, 1e-9, "iat_mean")
            assert.is_true(iv.iat_std ~= iv.iat_std, "iat_std is NaN, got " .. tostring(iv.iat_std))
            assert.is_true(iv.iat_skew ~= iv.iat_skew, "iat_skew is NaN, got " .. tostring(iv.iat_skew))
            assert.is_true(iv.iat_kurt ~= iv.iat_kurt, "iat_kurt is NaN, got " .. tostring(iv.iat_kurt))
        end)

        it("measure sub-microsecond gaps in nanoseconds", function()
            local path = tmp.capture("iatns.pcap", 1, {
                { ts_ns = T0, data = H.eth4_udp("10.0.0.1", "10.0.0.2", 1, 2, "x") },
                { ts_ns = T0 + 250, data = H.eth4_udp("10.0.0.1", "10.0.0.2", 1, 2, "x") },
                { ts_ns = T0 + 1000, data = H.eth4_udp("10.0.0.1", "10.0.0.2", 1, 2, "x") },
            }, { nanosecond = true })
            local r = parse(path, { delta_t = 1 })
            check(r, 1, iat_expect({ ip_packets = 3 }, { 250e-9, 750e-9 }))
        end)
    end)

    -------------------------------------------------------------------------------------------------------------
    describe("with aligned boundaries anchored at the first packet", function()
        -- t0 is not on a whole second, to show that with anchor = "first" windows are aligned to the first packet,
        -- not to the epoch (statistics_spec.lua covers the default epoch grid).
        local T1 = T0 + 123456789
        --   t - t0 (s)   interval
        --   0            0
        --   9.999999999  0   (the last nanosecond of interval 0)
        --   10           1   (exactly on the boundary: the interval is half-open)
        --   (nothing in [20, 30): interval 2 is empty)
        --   35, 36       3
        --   41           4   (the trailing partial interval)
        local r
        lazy_setup(function()
            local path = tmp.capture("aligned.pcap", 1, {
                { ts_ns = T1, data = H.eth4_tcp("10.0.0.1", "10.0.0.2", 1000, 80, H.SYN) },
                { ts_ns = T1 + 10 * NS - 1, data = H.eth4_tcp("10.0.0.2", "10.0.0.1", 80, 1000, H.ACK) },
                { ts_ns = T1 + SEC(10), data = H.eth4_udp("10.0.0.3", "10.0.0.4", 7, 7, "abcd") },
                { ts_ns = T1 + SEC(35), data = H.eth4_udp("10.0.0.5", "10.0.0.6", 9, 9, "") },
                { ts_ns = T1 + SEC(36), data = H.eth4_udp("10.0.0.5", "10.0.0.6", 9, 9, "") },
                { ts_ns = T1 + SEC(41), data = H.eth4_icmp("10.0.0.7", "10.0.0.8", 8, 0, "\0\0\0\0") },
            }, { nanosecond = true })
            r = parse(path, { delta_t = 10, boundary = "aligned", anchor = "first" })
        end)

        it("emits every interval from t0 to the last packet, including the trailing partial one", function()
            assert.are.equal(5, #r)
            assert.are.equal(5, r.intervals)
            for k = 0, 4 do
                check(r, k + 1, { interval = k, start = T1 + k * 10 * NS, ["end"] = T1 + (k + 1) * 10 * NS })
            end
        end)

        it("puts a packet on a boundary into the interval that starts there", function()
            assert.are.same({ 2, 1, 0, 2, 1 }, r:column("packets"))
        end)

        it("emits an empty interval in a gap with every count 0 and every statistic NaN", function()
            check(r, 3, empty_interval(2, T1 + SEC(20), T1 + SEC(30)))
        end)

        it("measures the IAT after a gap from the last packet before it", function()
            -- interval 3: IATs 35 - 10 = 25 and 1: mean 13, sample std sqrt(12²+12²) = sqrt(288), skew 0, kurt -2
            check(r, 4, { ip_packets = 2, iat_mean = 13, iat_std = math.sqrt(288), iat_skew = 0, iat_kurt = -2 })
            -- interval 0: the IAT 9.999999999 (the first packet has none)
            check(r, 1, iat_expect({ ip_packets = 2 }, { 9.999999999 }))
        end)

        it("computes the statistics of the trailing interval", function()
            check(r, 5, { packets = 1, ip_packets = 1, ip_bytes = 20 + 8, icmp_frac = 1, tcp_frac = 0, udp_frac = 0,
                          src_ips = 1, dst_ips = 1, f2_src = 1, f2_dst = 1, entropy_src = 0, entropy_dst = 0,
                          avg_len = 28 })
        end)

        it("keeps a fractional delta_t as exact integer nanoseconds", function()
            local path = tmp.capture("dt01.pcap", 1, {
                { ts_ns = T1, data = H.eth4_udp("10.0.0.1", "10.0.0.2", 1, 2, "") },
                { ts_ns = T1 + 100000000 - 1, data = H.eth4_udp("10.0.0.1", "10.0.0.2", 1, 2, "") },
                { ts_ns = T1 + 100000000, data = H.eth4_udp("10.0.0.1", "10.0.0.2", 1, 2, "") },
                { ts_ns = T1 + 300000000, data = H.eth4_udp("10.0.0.1", "10.0.0.2", 1, 2, "") },
            }, { nanosecond = true })
            local r2 = parse(path, { delta_t = 0.1, anchor = "first" })
            assert.are.same({ 2, 1, 0, 1 }, r2:column("packets"))
            check(r2, 4, { start = T1 + 300000000, ["end"] = T1 + 400000000 })
        end)
    end)

    -------------------------------------------------------------------------------------------------------------
    describe("with packet boundaries", function()
        local T1 = T0 + 500000000
        --   t - t0 (s)  what happens                                                interval
        --   0   A       opens interval 0 at A
        --   4   B                                                                   0
        --   10  C       10 - 0 >= 10: closes interval 0, belongs to it; end = C       0
        --   15  D       next interval started at C (10)                              1
        --   19.5 E      9.5 < 10                                                     1
        --   20  F       20 - 10 >= 10: closes interval 1; end = F                      1
        --   45  G       45 - 20 >= 10: closes interval 2 on its own (no empty ones)     2
        --   50  H       trailing partial interval: dropped
        local r
        lazy_setup(function()
            local function pkt(s, src) return { ts_ns = T1 + SEC(s), data = H.eth4_udp(src, "10.0.0.9", 1, 2, "") } end
            local path = tmp.capture("packetmode.pcap", 1, {
                pkt(0, "10.0.0.1"), pkt(4, "10.0.0.2"), pkt(10, "10.0.0.1"), pkt(15, "10.0.0.3"),
                pkt(19.5, "10.0.0.3"), pkt(20, "10.0.0.4"), pkt(45, "10.0.0.5"), pkt(50, "10.0.0.6"),
            })
            r = parse(path, { delta_t = 10, boundary = "packet" })
        end)

        it("records the mode", function()
            assert.are.equal("packet", r.boundary)
        end)

        it("closes an interval at the first packet at least delta_t after its start and drops the trailing one", function()
            assert.are.equal(3, #r)
            assert.are.same({ 3, 3, 1 }, r:column("packets"))
            assert.are.equal(8, r.packets)
        end)

        it("starts the next interval at the closing packet's time and ends each one there", function()
            check(r, 1, { interval = 0, start = T1, ["end"] = T1 + SEC(10) })
            check(r, 2, { interval = 1, start = T1 + SEC(10), ["end"] = T1 + SEC(20) })
            check(r, 3, { interval = 2, start = T1 + SEC(20), ["end"] = T1 + SEC(45) })
        end)

        it("counts the closing packet's addresses and IAT in the interval it closes", function()
            -- the original tool's conventions: the capture's first packet counts an IAT of 0
            check(r, 1, iat_expect_original({ ip_packets = 3, src_ips = 2, f2_src = (4 + 1) / 9 }, { 0, 4, 6 }))
            check(r, 2, iat_expect_original({ ip_packets = 3, src_ips = 2, f2_src = (4 + 1) / 9 }, { 5, 4.5, 0.5 }))
            check(r, 3, { ip_packets = 1, src_ips = 1, iat_std = 0, iat_skew = 0, iat_kurt = 0 })
        end)
    end)

    -------------------------------------------------------------------------------------------------------------
    describe("with the ip option", function()
        --   t(s) what                                                         ip_len
        --   0    v4 TCP 10.0.0.1 -> 10.0.0.2 1000->80 SYN                     40
        --   1    v6 UDP 2001:db8::1 -> 2001:db8::2 5353->53, 10 bytes         58
        --   3    v4 UDP 10.0.0.1 -> 10.0.0.3 5000->123, 4 bytes               32
        --   4    v6 ICMPv6 echo 2001:db8::2 -> 2001:db8::1, 4 bytes after hdr 48
        --   5.5  ARP
        --   7    v6 TCP 2001:db8::1 -> 2001:db8::3 443->40000 FIN|ACK          60
        local path
        lazy_setup(function()
            path = tmp.capture("mixed.pcap", 1, {
                { ts_ns = T0 + SEC(0), data = H.eth4_tcp("10.0.0.1", "10.0.0.2", 1000, 80, H.SYN) },
                { ts_ns = T0 + SEC(1), data = H.eth6_udp("2001:db8::1", "2001:db8::2", 5353, 53, string.rep("u", 10)) },
                { ts_ns = T0 + SEC(3), data = H.eth4_udp("10.0.0.1", "10.0.0.3", 5000, 123, "abcd") },
                { ts_ns = T0 + SEC(4), data = H.eth_ip(H.ipv6("2001:db8::2", "2001:db8::1", H.PROTO_ICMPV6,
                    H.icmpv6(128, 0, "\0\1\0\1"))) },
                { ts_ns = T0 + SEC(5.5), data = H.ethernet(nil, nil, H.ETH_ARP, H.arp()) },
                { ts_ns = T0 + SEC(7), data = H.eth6_tcp("2001:db8::1", "2001:db8::3", 443, 40000, H.FIN | H.ACK) },
            })
        end)

        it("analyses IPv4 and IPv6 together by default, counting ICMPv6 as ICMP", function()
            local r = parse(path, { delta_t = 10 })
            assert.are.equal("any", r.ip)
            check(r, 1, iat_expect({ packets = 6, ip_packets = 5, ip_bytes = 238, avg_len = 238 / 5,
                src_ips = 3, dst_ips = 5, f2_src = (4 + 4 + 1) / 25, f2_dst = 5 / 25,
                icmp_frac = 1 / 5, tcp_frac = 2 / 5, udp_frac = 2 / 5, syn = 1, fin = 1,
                tcp_port_packets = 2, udp_port_packets = 2 }, { 1, 2, 1, 1.5 }))
            assert.are.same({ { 1, 53, 1 }, { 1, 123, 1 } }, H.ports_list(r, "udp_dst"))
        end)

        it("analyses only IPv4 with ip = v4, while other packets still count as seen", function()
            local r = parse(path, { delta_t = 10, ip = "v4" })
            assert.are.equal("v4", r.ip)
            -- the IAT of the UDP packet at 3 s runs from the IPv6 packet at 1 s; the first packet has none
            check(r, 1, iat_expect({ packets = 6, ip_packets = 2, ip_bytes = 72, avg_len = 36, src_ips = 1,
                dst_ips = 2, f2_src = 1, f2_dst = 0.5, entropy_src = 0, entropy_dst = 1, icmp_frac = 0,
                tcp_frac = 0.5, udp_frac = 0.5, syn = 1, fin = 0, tcp_port_packets = 1, udp_port_packets = 1 },
                { 2 }))
            assert.are.same({ { 1, 123, 1 } }, H.ports_list(r, "udp_dst"))
            assert.are.same({ { 1, 80, 1 } }, H.ports_list(r, "tcp_dst"))
        end)

        it("analyses only IPv6 with ip = v6", function()
            local r = parse(path, { delta_t = 10, ip = "v6" })
            assert.are.equal("v6", r.ip)
            local _, _, e_src = H.ref.addr_stats({ a = 2, b = 1 })
            check(r, 1, iat_expect({ packets = 6, ip_packets = 3, ip_bytes = 166, avg_len = 166 / 3, src_ips = 2,
                dst_ips = 3, f2_src = 5 / 9, f2_dst = 3 / 9, entropy_src = e_src, entropy_dst = 1,
                icmp_frac = 1 / 3, tcp_frac = 1 / 3, udp_frac = 1 / 3, syn = 0, fin = 1, tcp_port_packets = 1,
                udp_port_packets = 1 }, { 1, 1, 1.5 }))
            assert.are.same({ { 1, 53, 1 } }, H.ports_list(r, "udp_dst"))
            assert.are.same({ { 1, 40000, 1 } }, H.ports_list(r, "tcp_dst"))
        end)
    end)

    -------------------------------------------------------------------------------------------------------------
    describe("with IPv6 extension headers", function()
        local r, pk
        lazy_setup(function()
            local a, b = "2001:db8::a", "2001:db8::b"
            local path = tmp.capture("ext6.pcap", 1, {
                -- TCP behind hop-by-hop (8) + routing (24) + destination options (16): ip_len 40 + 48 + 20 = 108
                { ts_ns = T0, data = H.eth_ip(H.ipv6(a, b, H.PROTO_TCP, H.tcp(1234, 443, H.SYN),
                    { ext = { { type = 0 }, { type = 43 }, { type = 60, len = 16 } } })) },
                -- UDP behind a 24-byte destination options header: 40 + 24 + 8 + 3 = 75
                { ts_ns = T0 + SEC(1), data = H.eth_ip(H.ipv6(a, b, H.PROTO_UDP, H.udp(5353, 5353, "abc"),
                    { ext = { { type = 60, len = 24 } } })) },
                -- ICMPv6 behind hop-by-hop: 40 + 8 + 8 = 56
                { ts_ns = T0 + SEC(2), data = H.eth_ip(H.ipv6(b, a, H.PROTO_ICMPV6, H.icmpv6(129, 0, "\0\1\0\1"),
                    { ext = { { type = 0 } } })) },
                -- the first fragment (offset 0, more fragments) of a UDP datagram: its header is there
                -- 40 + 8 + 8 + 4 = 60
                { ts_ns = T0 + SEC(3), data = H.eth_ip(H.ipv6(a, b, H.PROTO_UDP, H.udp(4000, 4001, "wxyz"),
                    { ext = { { type = 44, offset = 0, more = true } } })) },
            })
            r = parse(path, { delta_t = 10 })
            pk = packets_of(path)
        end)

        it("finds the transport header behind hop-by-hop, routing and destination options headers", function()
            assert.are.equal(6, pk[1].ipv)
            assert.are.equal(H.PROTO_TCP, pk[1].proto)
            assert.are.equal(1234, pk[1].sport)
            assert.are.equal(443, pk[1].dport)
            assert.is_true(pk[1].syn)
            assert.are.equal(108, pk[1].ip_len)
            assert.are.equal(H.PROTO_UDP, pk[2].proto)
            assert.are.equal(5353, pk[2].dport)
            assert.are.equal(H.PROTO_ICMPV6, pk[3].proto)
            assert.are.equal(4000, pk[4].sport)
            assert.are.equal(4001, pk[4].dport)
            assert.is_falsy(pk[4].fragment)
        end)

        it("counts those packets' protocols, flags, ports and IPv6 lengths in the interval", function()
            check(r, 1, { packets = 4, ip_packets = 4, ip_bytes = 108 + 75 + 56 + 60, icmp_frac = 0.25,
                          tcp_frac = 0.25, udp_frac = 0.5, syn = 1, fin = 0, tcp_port_packets = 1,
                          udp_port_packets = 2, src_ips = 2, dst_ips = 2 })
            assert.are.same({ { 1, 443, 1 } }, H.ports_list(r, "tcp_dst"))
            assert.are.same({ { 1, 4001, 1 }, { 1, 5353, 1 } }, H.ports_list(r, "udp_dst"))
        end)
    end)

    -------------------------------------------------------------------------------------------------------------
    describe("on link layers", function()
        local function ip4_udp(sport, dport) return H.ipv4("10.1.0.1", "10.1.0.2", H.PROTO_UDP, H.udp(sport, dport, "pp")) end
        local function ip6_tcp(sport, dport, flags)
            return H.ipv6("2001:db8::1", "2001:db8::2", H.PROTO_TCP, H.tcp(sport, dport, flags))
        end
        -- ip4_udp: ip_len 20 + 8 + 2 = 30; ip6_tcp: 40 + 20 = 60

        -- Writes the frames one second apart and returns the parse and the decoded packets.
        local function run(name, linktype, frames, wopts)
            local pkts = {}
            for i, f in ipairs(frames) do pkts[i] = { ts_ns = T0 + SEC(i - 1), data = f } end
            local path = tmp.capture(name, linktype, pkts, wopts)
            return parse(path, { delta_t = 60 }), packets_of(path)
        end

        it("decodes 802.1Q-tagged Ethernet frames", function()
            local r = run("vlan.pcap", 1, {
                H.ethernet_vlan(10, H.ETH_IPV4, ip4_udp(1111, 53)),
                H.ethernet_vlan(4094, H.ETH_IPV6, ip6_tcp(2222, 80, H.SYN)),
                H.ethernet_vlan(10, H.ETH_ARP, H.arp()),
            })
            check(r, 1, { packets = 3, ip_packets = 2, ip_bytes = 90, udp_port_packets = 1, tcp_port_packets = 1,
                          syn = 1 })
            assert.are.same({ { 1, 53, 1 } }, H.ports_list(r, "udp_dst"))
            assert.are.same({ { 1, 80, 1 } }, H.ports_list(r, "tcp_dst"))
        end)

        it("decodes QinQ (802.1ad outside 802.1Q) Ethernet frames", function()
            local r = run("qinq.pcap", 1, {
                H.ethernet_qinq(100, 10, H.ETH_IPV4, ip4_udp(1111, 53)),
                H.ethernet_qinq(200, 20, H.ETH_IPV6, ip6_tcp(2222, 80, H.FIN)),
            })
            check(r, 1, { packets = 2, ip_packets = 2, ip_bytes = 90, udp_port_packets = 1, tcp_port_packets = 1,
                          fin = 1 })
            assert.are.same({ { 1, 1111, 1 } }, H.ports_list(r, "udp_src"))
            assert.are.same({ { 1, 2222, 1 } }, H.ports_list(r, "tcp_src"))
        end)

        it("decodes Linux cooked (SLL) frames", function()
            local r, pk = run("sll.pcap", "sll", {
                H.sll(H.ETH_IPV4, ip4_udp(1111, 53)),
                H.sll(H.ETH_IPV6, ip6_tcp(2222, 80, H.SYN), { pkttype = 4 }),
                H.sll(H.ETH_ARP, H.arp()),
            })
            assert.are.equal(113, r.linktype)
            check(r, 1, { packets = 3, ip_packets = 2, ip_bytes = 90, udp_port_packets = 1, tcp_port_packets = 1,
                          syn = 1 })
            assert.are.equal("10.1.0.1", pk[1].src)
            assert.are.equal("2001:db8::2", pk[2].dst)
            assert.is_nil(pk[3].ipv)
        end)

        it("decodes Linux cooked v2 (SLL2) frames", function()
            local r, pk = run("sll2.pcap", "sll2", {
                H.sll2(H.ETH_IPV4, ip4_udp(1111, 53)),
                H.sll2(H.ETH_IPV6, ip6_tcp(2222, 80, H.SYN)),
                H.sll2(H.ETH_ARP, H.arp()),
            })
            assert.are.equal(276, r.linktype)
            check(r, 1, { packets = 3, ip_packets = 2, ip_bytes = 90, udp_port_packets = 1, tcp_port_packets = 1,
                          syn = 1 })
            assert.are.equal(53, pk[1].dport)
            assert.are.equal(2222, pk[2].sport)
            assert.is_nil(pk[3].ipv)
        end)

        it("decodes raw IP (linktype 101) holding both IPv4 and IPv6", function()
            local r, pk = run("raw.pcap", 101, { ip4_udp(1111, 53), ip6_tcp(2222, 80, H.SYN) })
            check(r, 1, { packets = 2, ip_packets = 2, ip_bytes = 90, udp_frac = 0.5, tcp_frac = 0.5,
                          udp_port_packets = 1, tcp_port_packets = 1 })
            assert.are.equal(4, pk[1].ipv)
            assert.are.equal(6, pk[2].ipv)
            assert.are.equal(101, r.linktype)
        end)

        it("maps the writer's name \"raw\" to linktype 101", function()
            local r = run("rawname.pcap", "raw", { ip4_udp(1111, 53) })
            check(r, 1, { ip_packets = 1 })
            assert.are.equal(101, r.linktype)
        end)

        it("decodes LINKTYPE_IPV4 (228)", function()
            local r = run("ipv4.pcap", "ipv4", { ip4_udp(1111, 53), ip4_udp(1112, 54) })
            assert.are.equal(228, r.linktype)
            check(r, 1, { packets = 2, ip_packets = 2, ip_bytes = 60, udp_port_packets = 2 })
        end)

        it("decodes LINKTYPE_IPV6 (229)", function()
            local r = run("ipv6.pcap", 229, { ip6_tcp(2222, 80, H.SYN), ip6_tcp(2223, 80, H.ACK) })
            assert.are.equal(229, r.linktype)
            check(r, 1, { packets = 2, ip_packets = 2, ip_bytes = 120, tcp_port_packets = 2, syn = 1 })
        end)

        it("decodes BSD null/loopback frames with AF_INET and each BSD value of AF_INET6 (24, 28, 30)", function()
            local r, pk = run("null.pcap", "null", {
                H.null(H.AF_INET, ip4_udp(1111, 53)),
                H.null(24, ip6_tcp(2222, 80, H.SYN)),
                H.null(28, ip6_tcp(2222, 81, H.SYN)),
                H.null(30, ip6_tcp(2222, 82, H.SYN)),
                H.null(1, "not an IP packet at all"),              -- AF_UNIX / AF_LOCAL
            })
            assert.are.equal(0, r.linktype)
            check(r, 1, { packets = 5, ip_packets = 4, ip_bytes = 30 + 3 * 60, syn = 3, tcp_port_packets = 3,
                          udp_port_packets = 1 })
            assert.are.same({ 4, 6, 6, 6 }, { pk[1].ipv, pk[2].ipv, pk[3].ipv, pk[4].ipv })
            assert.is_nil(pk[5].ipv)
            assert.are.same({ { 1, 80, 1 }, { 1, 81, 1 }, { 1, 82, 1 } }, H.ports_list(r, "tcp_dst"))
        end)

        it("decodes OpenBSD loopback (linktype 108) with the family in network byte order", function()
            local r = run("loop.pcap", "loop", {
                H.loop(H.AF_INET, ip4_udp(1111, 53)),
                H.loop(24, ip6_tcp(2222, 80, H.SYN)),
            })
            assert.are.equal(108, r.linktype)
            check(r, 1, { packets = 2, ip_packets = 2, ip_bytes = 90 })
        end)

        it("counts every packet of an unsupported link type as non-IP, with a warning", function()
            local r = run("user0.pcap", 147, { ip4_udp(1111, 53), ip4_udp(1111, 53), ip6_tcp(1, 2, H.SYN) })
            assert.are.equal(147, r.linktype)
            assert.are.equal(3, r.packets)
            assert.are.equal(0, r.ip_packets)
            assert.are.equal(3, r.non_ip_packets)
            assert.is_string(r.warning)
            assert.is_true(#r.warning > 0)
            assert.are.equal(1, #r)
            local e = empty_interval(0, T0 - SEC(20), T0 + SEC(40)) -- the epoch grid: T0 is 20 s past a minute
            e.packets = 3
            check(r, 1, e)
            assert.are.same({}, H.ports_list(r, "udp_dst"))
        end)
    end)

    -------------------------------------------------------------------------------------------------------------
    describe("on fragments", function()
        local r, pk
        lazy_setup(function()
            local path = tmp.capture("frag.pcap", 1, {
                -- first fragment (offset 0, MF): TCP header present, SYN; ip_len 20 + 20 + 16 = 56
                { ts_ns = T0, data = H.eth4_tcp("10.0.0.1", "10.0.0.2", 1000, 80, H.SYN, string.rep("a", 16),
                    { id = 7, more_fragments = true }) },
                -- a later fragment of the same datagram whose data happen to look like a TCP header with
                -- ports 9999 -> 8888 and SYN|FIN; ip_len 20 + 20 = 40
                { ts_ns = T0 + SEC(1), data = H.eth_ip(H.ipv4("10.0.0.1", "10.0.0.2", H.PROTO_TCP,
                    H.tcp(9999, 8888, H.SYN | H.FIN), { id = 7, frag_offset = 5 })) },
                -- a middle fragment of a UDP datagram: ip_len 20 + 16 = 36
                { ts_ns = T0 + SEC(2), data = H.eth_ip(H.ipv4("10.0.0.3", "10.0.0.2", H.PROTO_UDP,
                    H.udp(7777, 6666, "12345678"), { id = 9, frag_offset = 100, more_fragments = true })) },
                -- an IPv6 non-first fragment of a UDP datagram: 40 + 8 + 16 = 64
                { ts_ns = T0 + SEC(3), data = H.eth_ip(H.ipv6("2001:db8::1", "2001:db8::2", H.PROTO_UDP,
                    H.udp(5555, 4444, "12345678"), { ext = { { type = 44, offset = 3, more = false } } })) },
            })
            r = parse(path, { delta_t = 10 })
            pk = packets_of(path)
        end)

        it("counts non-first fragments as IP packets of their protocol", function()
            check(r, 1, { packets = 4, ip_packets = 4, ip_bytes = 56 + 40 + 36 + 64, tcp_frac = 0.5, udp_frac = 0.5,
                          icmp_frac = 0 })
        end)

        it("decodes no transport header in a non-first fragment", function()
            check(r, 1, { tcp_port_packets = 1, udp_port_packets = 0, syn = 1, fin = 0 })
            assert.are.same({ { 1, 80, 1 } }, H.ports_list(r, "tcp_dst"))
            assert.are.same({ { 1, 1000, 1 } }, H.ports_list(r, "tcp_src"))
            assert.are.same({}, H.ports_list(r, "udp_dst"))
            assert.are.same({}, H.ports_list(r, "udp_src"))
        end)

        it("marks only non-first fragments as fragments in tpp.packets", function()
            assert.is_falsy(pk[1].fragment)
            assert.are.equal(80, pk[1].dport)
            for k = 2, 4 do
                assert.is_true(pk[k].fragment, "packet " .. k)
                assert.is_nil(pk[k].sport, "packet " .. k)
                assert.is_nil(pk[k].dport, "packet " .. k)
                assert.is_nil(pk[k].flags, "packet " .. k)
            end
            assert.are.same({ 6, 6, 17, 17 }, { pk[1].proto, pk[2].proto, pk[3].proto, pk[4].proto })
        end)
    end)

    -------------------------------------------------------------------------------------------------------------
    describe("on truncated packets", function()
        local r, pk
        lazy_setup(function()
            -- TCP SYN with 200 bytes of payload, captured only up to 8 bytes into the TCP header (ports and the
            -- sequence number, not the flags): 14 + 20 + 8 = 42 of 14 + 240 bytes
            local tcp_full = H.eth4_tcp("10.0.0.1", "10.0.0.2", 1000, 80, H.SYN, string.rep("t", 200))
            -- UDP with 50 bytes of payload, captured 2 bytes into the UDP header (no destination port)
            local udp_full = H.eth4_udp("10.0.0.3", "10.0.0.4", 5000, 53, string.rep("u", 50))
            local path = tmp.capture("trunc.pcap", 1, {
                { ts_ns = T0, data = tcp_full:sub(1, 42), wirelen = #tcp_full },
                { ts_ns = T0 + SEC(1), data = udp_full:sub(1, 36), wirelen = #udp_full },
            })
            r = parse(path, { delta_t = 10 })
            pk = packets_of(path)
        end)

        it("counts them as IP packets with the length from the IP header", function()
            check(r, 1, { packets = 2, ip_packets = 2, ip_bytes = 240 + 78, tcp_frac = 0.5, udp_frac = 0.5 })
            assert.are.equal(2, r.truncated_packets)
        end)

        it("counts ports that were captured and no flag that was not", function()
            check(r, 1, { tcp_port_packets = 1, udp_port_packets = 0, syn = 0, fin = 0 })
            assert.are.same({ { 1, 1000, 1 } }, H.ports_list(r, "tcp_src"))
            assert.are.same({ { 1, 80, 1 } }, H.ports_list(r, "tcp_dst"))
            assert.are.same({}, H.ports_list(r, "udp_dst"))
        end)

        it("reports them in tpp.packets with their captured and wire lengths", function()
            assert.are.equal(42, pk[1].caplen)
            assert.are.equal(254, pk[1].wirelen)
            assert.are.equal(240, pk[1].ip_len)
            assert.is_true(pk[1].truncated)
            assert.are.equal(1000, pk[1].sport)
            assert.are.equal(80, pk[1].dport)
            assert.is_nil(pk[1].flags)
            assert.is_true(pk[2].truncated)
            assert.is_nil(pk[2].dport)
            assert.are.equal(H.PROTO_UDP, pk[2].proto)
        end)

        it("decodes the headers of packets cut by the writer's snaplen inside their payload", function()
            local full = H.eth4_tcp("10.0.0.1", "10.0.0.2", 1000, 80, H.FIN | H.ACK, string.rep("p", 100))
            local path = tmp.capture("snap.pcap", 1, { { ts_ns = T0, data = full } }, { snaplen = 60 })
            local p = packets_of(path)[1]
            assert.are.equal(60, p.caplen)
            assert.are.equal(#full, p.wirelen)
            assert.are.equal(140, p.ip_len)
            assert.is_true(p.fin)
            local r2 = parse(path, { delta_t = 10 })
            check(r2, 1, { ip_packets = 1, ip_bytes = 140, fin = 1, tcp_port_packets = 1 })
        end)
    end)

    -------------------------------------------------------------------------------------------------------------
    describe("on compressed and other capture formats", function()
        -- Three packets at 0, 0.5 and 2 s (microsecond-exact): TCP SYN (40), UDP (8+20+6 = 34), ICMP (32)
        local function frames()
            return {
                { ts_ns = T0 + 250000000, data = H.eth4_tcp("10.0.0.1", "10.0.0.2", 1000, 80, H.SYN) },
                { ts_ns = T0 + 750000000, data = H.eth4_udp("10.0.0.2", "10.0.0.1", 53, 1000, "abcdef") },
                { ts_ns = T0 + 2250000000, data = H.eth4_icmp("10.0.0.1", "10.0.0.3", 8, 0, "\0\1\0\1abcd") },
            }
        end
        local function check_known(r, what)
            assert.are.equal(3, r.packets, what)
            assert.are.equal(T0 + 250000000, r.first_ns, what)
            assert.are.equal(T0 + 2250000000, r.last_ns, what)
            assert.are.equal(3, #r, what)
            assert.are.same({ 2, 0, 1 }, r:column("packets"), what)
            check(r, 1, { ip_packets = 2, ip_bytes = 74, syn = 1, tcp_port_packets = 1, udp_port_packets = 1,
                          iat_mean = 0.5, iat_std = NAN }) -- one IAT: the first packet has none
            check(r, 3, { ip_packets = 1, ip_bytes = 32, icmp_frac = 1 })
        end

        it("reads a plain microsecond pcap", function()
            local path = tmp.capture("plain.pcap", 1, frames())
            check_known(parse(path, { delta_t = 1 }), "plain")
        end)

        it("reads a gzip-compressed pcap written under a .gz name", function()
            local path = tmp.capture("w.pcap.gz", 1, frames())
            assert.are.equal("\31\139", H.read_file(path):sub(1, 2), "the writer compressed it")
            check_known(parse(path, { delta_t = 1 }), "gz")
        end)

        it("detects gzip by its magic bytes, not by the file name", function()
            local plain = tmp.capture("forgz.pcap", 1, frames())
            local gz = tmp.path("gzipped-without-suffix.pcap")
            local _, ok = H.run("gzip -c " .. H.shell_quote(plain) .. " > " .. H.shell_quote(gz))
            assert.is_true(ok, "gzip ran")
            assert.are.equal("\31\139", H.read_file(gz):sub(1, 2))
            check_known(parse(gz, { delta_t = 1 }), "gzip command")
        end)

        it("reads an uncompressed file whose name ends in .gz", function()
            local path = tmp.capture("notreally.pcap.gz", 1, frames(), { gzip = false })
            assert.are_not.equal("\31\139", H.read_file(path):sub(1, 2))
            check_known(parse(path, { delta_t = 1 }), "plain .gz name")
        end)

        it("reads pcapng", function()
            local path = tmp.capture("w.pcapng", 1, frames(), { format = "pcapng" })
            assert.are.equal("\10\13\13\10", H.read_file(path):sub(1, 4), "a section header block")
            local r = parse(path, { delta_t = 1 })
            check_known(r, "pcapng")
            assert.are.equal(1, r.linktype)
        end)

        it("reads gzip-compressed pcapng", function()
            local path = tmp.capture("w.pcapng.gz", 1, frames(), { format = "pcapng" })
            check_known(parse(path, { delta_t = 1 }), "pcapng.gz")
        end)
    end)

    -------------------------------------------------------------------------------------------------------------
    describe("on a nanosecond pcap", function()
        local path, r
        local A = T0 + 123456789
        local B = T0 + 1123456790          -- 1.000000001 s after A
        lazy_setup(function()
            path = tmp.capture("ns.pcap", 1, {
                { ts_ns = A, data = H.eth4_udp("10.0.0.1", "10.0.0.2", 1, 2, "") },
                { ts_ns = B, data = H.eth4_udp("10.0.0.1", "10.0.0.2", 1, 2, "") },
            }, { nanosecond = true })
            r = parse(path, { delta_t = 0.5, anchor = "first" })
        end)

        it("keeps the sub-microsecond part of the timestamps", function()
            assert.are.equal(A, r.first_ns)
            assert.are.equal(B, r.last_ns)
            local pk = packets_of(path)
            assert.are.equal(A, pk[1].ts_ns)
            assert.are.equal(B, pk[2].ts_ns)
            H.assert_time(pk[2].ts, B, "ts")
        end)

        it("places windows at exact nanosecond offsets from the first packet", function()
            -- [A, A+0.5), [A+0.5, A+1), [A+1, A+1.5): B is 1 ns into the third window
            assert.are.same({ 1, 0, 1 }, r:column("packets"))
        end)

        it("writes start and end to the TSV to the nanosecond", function()
            local out = tmp.path("ns.tsv")
            assert.is_true(r:write_critical(out))
            local header, rows = H.read_tsv(out)
            local si, ei
            for k, name in ipairs(header) do
                if name == "start" then si = k elseif name == "end" then ei = k end
            end
            assert.are.equal(A, H.text_to_ns(rows[1][si]))
            assert.are.equal(A + 500000000, H.text_to_ns(rows[1][ei]))
            assert.are.equal(A + 1000000000, H.text_to_ns(rows[3][si]))
        end)
    end)

    -------------------------------------------------------------------------------------------------------------
    describe("with a BPF filter", function()
        local path
        lazy_setup(function()
            path = tmp.capture("filter.pcap", 1, {
                { ts_ns = T0 + SEC(0), data = H.eth4_tcp("10.0.0.1", "10.0.0.2", 1000, 80, H.SYN) },
                { ts_ns = T0 + SEC(1), data = H.eth4_udp("10.0.0.1", "10.0.0.3", 5000, 53, "abcd") },
                { ts_ns = T0 + SEC(2), data = H.eth4_icmp("10.0.0.1", "10.0.0.2", 8, 0, "\0\1\0\1") },
                { ts_ns = T0 + SEC(4), data = H.eth4_tcp("10.0.0.2", "10.0.0.1", 80, 1000, H.SYN | H.ACK) },
                { ts_ns = T0 + SEC(5), data = H.ethernet(nil, nil, H.ETH_ARP, H.arp()) },
                { ts_ns = T0 + SEC(7), data = H.eth6_tcp("2001:db8::1", "2001:db8::2", 1234, 443, H.FIN) },
            })
        end)

        it("keeps only the packets that match, as if the others had never been seen", function()
            local r = parse(path, { delta_t = 10, filter = "tcp" })
            assert.are.equal("tcp", r.filter)
            assert.are.equal(3, r.packets)
            -- the TCP packets at 0, 4 and 7 s: IATs 4, 3 (measured between matching packets only)
            check(r, 1, iat_expect({ packets = 3, ip_packets = 3, tcp_frac = 1, udp_frac = 0, icmp_frac = 0,
                syn = 2, fin = 1, tcp_port_packets = 3, udp_port_packets = 0, ip_bytes = 40 + 40 + 60 }, { 4, 3 }))
        end)

        it("accepts any libpcap expression", function()
            local r = parse(path, { delta_t = 10, filter = "udp port 53 or arp" })
            check(r, 1, { packets = 2, ip_packets = 1, udp_frac = 1, udp_port_packets = 1 })
        end)

        it("sets t0 from the first packet that matches", function()
            local r = parse(path, { delta_t = 10, filter = "icmp", anchor = "first" })
            assert.are.equal(T0 + SEC(2), r.first_ns)
            check(r, 1, { start = T0 + SEC(2), packets = 1 })
        end)

        it("applies to tpp.packets too", function()
            local pk = packets_of(path, { filter = "udp" })
            assert.are.equal(1, #pk)
            assert.are.equal(53, pk[1].dport)
        end)

        it("returns nil and a message for a filter that does not compile", function()
            local r, err = tpp.parse(path, { filter = "tcp and and" })
            assert.is_nil(r)
            assert.is_string(err)
            assert.is_true(#err > 0)
        end)
    end)

    -------------------------------------------------------------------------------------------------------------
    describe("with limits", function()
        -- ten UDP packets, one per second from T3, a multiple of 3 s; delta_t = 3 gives windows of 3, 3, 3, 1 packets
        local T3 = T0 + SEC(1)
        local path
        lazy_setup(function()
            local pkts = {}
            for k = 0, 9 do
                pkts[#pkts + 1] = { ts_ns = T3 + SEC(k),
                    data = H.eth4_udp("10.0.0." .. (k + 1), "10.0.0.100", 1000 + k, 53, "") }
            end
            path = tmp.capture("ten.pcap", 1, pkts)
        end)

        it("reads everything without limits", function()
            local r = parse(path, { delta_t = 3 })
            assert.are.equal(10, r.packets)
            assert.are.same({ 3, 3, 3, 1 }, r:column("packets"))
        end)

        it("stops after exactly max_packets packets", function()
            local r = parse(path, { delta_t = 3, max_packets = 4 })
            assert.are.equal(4, r.max_packets)
            assert.are.equal(4, r.packets)
            assert.are.equal(4, column_sum(r, "packets"))
            assert.are.same({ 3, 1 }, r:column("packets"))
            assert.are.equal(T3 + SEC(3), r.last_ns)
        end)

        it("reads the whole file when max_packets exceeds its length", function()
            local r = parse(path, { delta_t = 3, max_packets = 1000 })
            assert.are.equal(10, r.packets)
        end)

        it("stops tpp.packets after exactly max_packets packets", function()
            local pk = packets_of(path, { max_packets = 7 })
            assert.are.equal(7, #pk)
            assert.are.equal(T3 + SEC(6), pk[7].ts_ns)
        end)

        it("stops after max_intervals intervals, which equal the first ones of an unlimited parse", function()
            local full = parse(path, { delta_t = 3 })
            local r = parse(path, { delta_t = 3, max_intervals = 2 })
            assert.are.equal(2, r.max_intervals)
            assert.are.equal(2, #r)
            for i = 1, 2 do
                for _, c in ipairs(COLUMNS) do
                    local a, b = full:interval(i)[c], r:interval(i)[c]
                    assert.is_true(a == b or (a ~= a and b ~= b), "interval " .. i .. " column " .. c)
                end
            end
        end)

        it("applies max_intervals in packet mode", function()
            local r = parse(path, { delta_t = 3, boundary = "packet", max_intervals = 1 })
            assert.are.equal(1, #r)
            -- packets at 0, 1, 2, 3: the one at 3 closes the first interval
            check(r, 1, { packets = 4, start = T3, ["end"] = T3 + SEC(3) })
        end)
    end)

    -------------------------------------------------------------------------------------------------------------
    describe("port histograms", function()
        local r
        lazy_setup(function()
            local function at(s, data) return { ts_ns = T0 + SEC(s), data = data } end
            local path = tmp.capture("ports.pcap", 1, {
                -- interval 1 (1-based)
                at(0, H.eth4_tcp("10.0.0.1", "10.0.0.2", 1000, 80, H.SYN)),
                at(1, H.eth4_tcp("10.0.0.1", "10.0.0.2", 1000, 80, H.ACK)),
                at(2, H.eth4_tcp("10.0.0.1", "10.0.0.2", 1001, 80, H.ACK)),
                at(3, H.eth4_tcp("10.0.0.1", "10.0.0.2", 1000, 443, H.ACK)),
                at(4, H.eth4_tcp("10.0.0.1", "10.0.0.2", 65535, 0, H.RST)),
                at(5, H.eth4_udp("10.0.0.1", "10.0.0.3", 5000, 53, "q")),
                at(6, H.eth6_udp("2001:db8::1", "2001:db8::3", 5001, 53, "q")),
                at(7, H.eth4_icmp("10.0.0.1", "10.0.0.2", 8, 0, "\0\1\0\1")),
                -- interval 2 is empty; interval 3:
                at(25, H.eth4_tcp("10.0.0.4", "10.0.0.2", 2000, 22, H.SYN)),
                at(26, H.eth4_udp("10.0.0.4", "10.0.0.5", 5000, 123, "")),
                at(27, H.eth4_udp("10.0.0.4", "10.0.0.5", 5000, 123, "")),
            })
            r = parse(path, { delta_t = 10 })
        end)

        it("lists the TCP source ports per interval, ascending", function()
            assert.are.same({ { 1, 1000, 3 }, { 1, 1001, 1 }, { 1, 65535, 1 }, { 3, 2000, 1 } },
                H.ports_list(r, "tcp_src"))
        end)

        it("lists the TCP destination ports per interval, port 0 included", function()
            assert.are.same({ { 1, 0, 1 }, { 1, 80, 3 }, { 1, 443, 1 }, { 3, 22, 1 } }, H.ports_list(r, "tcp_dst"))
        end)

        it("lists the UDP ports of IPv4 and IPv6 packets", function()
            assert.are.same({ { 1, 5000, 1 }, { 1, 5001, 1 }, { 3, 5000, 2 } }, H.ports_list(r, "udp_src"))
            assert.are.same({ { 1, 53, 2 }, { 3, 123, 2 } }, H.ports_list(r, "udp_dst"))
        end)

        it("agrees with the per-interval port-packet counts", function()
            assert.are.same({ 5, 0, 1 }, r:column("tcp_port_packets"))
            assert.are.same({ 2, 0, 2 }, r:column("udp_port_packets"))
        end)

        it("counts distinct ports per series over the whole trace", function()
            assert.are.equal(4, r:distinct_ports("tcp_src"))   -- 1000, 1001, 65535, 2000
            assert.are.equal(4, r:distinct_ports("tcp_dst"))   -- 0, 80, 443, 22
            assert.are.equal(2, r:distinct_ports("udp_src"))   -- 5000, 5001
            assert.are.equal(2, r:distinct_ports("udp_dst"))   -- 53, 123
        end)

        it("rejects an unknown series name", function()
            assert.has_error(function() for _ in r:ports("icmp_type") do end end)
        end)
    end)

    -------------------------------------------------------------------------------------------------------------
    describe("write_critical", function()
        local r, out
        lazy_setup(function()
            local path = tmp.capture("tsv.pcap", 1, {
                { ts_ns = T0, data = H.eth4_tcp("10.0.0.1", "10.0.0.2", 1000, 80, H.SYN) },
                { ts_ns = T0 + SEC(1), data = H.eth4_udp("10.0.0.3", "10.0.0.2", 5000, 53, "abc") },
                { ts_ns = T0 + SEC(2), data = H.eth4_udp("10.0.0.3", "10.0.0.2", 5000, 53, "abc") },
                { ts_ns = T0 + SEC(3), data = H.eth4_udp("10.0.0.3", "10.0.0.2", 5000, 53, "abc") },
                { ts_ns = T0 + SEC(25), data = H.eth4_udp("10.0.0.1", "10.0.0.2", 5000, 53, "") },
            })
            r = parse(path, { delta_t = 10 })
            out = tmp.path("critical.tsv")
        end)

        it("writes a header row of the column names, in order, and one row per interval", function()
            assert.is_true(r:write_critical(out))
            local header, rows = H.read_tsv(out)
            assert.are.same(r:columns(), header)
            assert.are.equal(3, #rows)
            for _, row in ipairs(rows) do assert.are.equal(#header, #row) end
        end)

        it("writes the values that the result holds", function()
            assert.is_true(r:write_critical(out))
            local header, rows = H.read_tsv(out)
            local idx = {}
            for k, name in ipairs(header) do idx[name] = k end
            assert.are.same({ "0", "1", "2" }, { rows[1][idx.interval], rows[2][idx.interval], rows[3][idx.interval] })
            -- known answers: interval 0 holds 4 IP packets, sources 10.0.0.1 x1 and 10.0.0.3 x3
            assert.are.equal(4, tonumber(rows[1][idx.packets]))
            assert.are.equal(40 + 3 * 31, tonumber(rows[1][idx.ip_bytes]))
            H.assert_close(tonumber(rows[1][idx.f2_src]), (1 + 9) / 16, 1e-9, "f2_src")
            H.assert_close(tonumber(rows[1][idx.udp_frac]), 0.75, 1e-9, "udp_frac")
            assert.are.equal(0, tonumber(rows[2][idx.packets]))
            assert.are.equal(T0 + SEC(20), H.text_to_ns(rows[3][idx.start]))
            -- every numeric field round-trips to what r:column gives
            for name, k in pairs(idx) do
                local col = r:column(name)
                for i, row in ipairs(rows) do
                    local v = tonumber(row[k])
                    if col[i] ~= col[i] then
                        assert.is_truthy(row[k]:lower():match("^[-+]?nan$"), name .. " NaN is written as nan")
                    elseif name == "start" or name == "end" then
                        H.assert_time(v, math.floor(col[i] * 1e9 + 0.5), name)
                    else
                        H.assert_close(v, col[i], 1e-9, string.format("row %d %s", i, name))
                    end
                end
            end
        end)

        it("writes NaN where the result holds NaN", function()
            -- an ARP frame, then two IP packets 1 s apart: the IP packets' IATs are 1 and 1
            local path = tmp.capture("tsvnan.pcap", 1, {
                { ts_ns = T0, data = H.ethernet(nil, nil, H.ETH_ARP, H.arp()) },
                { ts_ns = T0 + SEC(1), data = H.eth4_udp("10.0.0.1", "10.0.0.2", 1, 2, "") },
                { ts_ns = T0 + SEC(2), data = H.eth4_udp("10.0.0.1", "10.0.0.2", 1, 2, "") },
            })
            local r2 = parse(path, { delta_t = 10 })
            local f = tmp.path("nan.tsv")
            assert.is_true(r2:write_critical(f))
            local header, rows = H.read_tsv(f)
            for k, name in ipairs(header) do
                if name == "iat_skew" or name == "iat_kurt" then
                    assert.is_truthy(rows[1][k]:lower():match("^[-+]?nan$"), name .. " is nan, got " .. rows[1][k])
                end
            end
        end)

        it("returns nil and a message when the file cannot be written", function()
            local ok, err = r:write_critical(tmp.path("no/such/dir/critical.tsv"))
            assert.is_nil(ok)
            assert.is_string(err)
        end)
    end)

    -------------------------------------------------------------------------------------------------------------
    describe("on bad input", function()
        it("returns nil and a message naming the path for a missing file", function()
            local missing = tmp.path("does-not-exist.pcap")
            local r, err = tpp.parse(missing)
            assert.is_nil(r)
            assert.is_string(err)
            assert.is_truthy(err:find(missing, 1, true), "message names the path: " .. err)
        end)

        it("returns nil and a message for a file that is not a capture", function()
            local path = H.write_file(tmp.path("text.pcap"), string.rep("this is not a capture file\n", 20))
            local r, err = tpp.parse(path)
            assert.is_nil(r)
            assert.is_string(err)
            assert.is_true(#err > 0)
        end)

        it("returns nil and a message for gzip data that is not a capture", function()
            local txt = H.write_file(tmp.path("text.txt"), string.rep("still not a capture\n", 20))
            local gz = tmp.path("text.pcap.gz")
            local _, ok = H.run("gzip -c " .. H.shell_quote(txt) .. " > " .. H.shell_quote(gz))
            assert.is_true(ok)
            local r, err = tpp.parse(gz)
            assert.is_nil(r)
            assert.is_string(err)
        end)

        it("returns what it read and complete = false for a capture cut off in the middle of a record", function()
            local path = tmp.capture("cut.pcap", 1, {
                { ts_ns = T0, data = H.eth4_udp("10.0.0.1", "10.0.0.2", 1, 2, "") },
                { ts_ns = T0 + SEC(1), data = H.eth4_udp("10.0.0.1", "10.0.0.2", 1, 2, "") },
                { ts_ns = T0 + SEC(2), data = H.eth4_udp("10.0.0.1", "10.0.0.2", 1, 2, string.rep("z", 40)) },
            })
            local bytes = H.read_file(path)
            H.write_file(path, bytes:sub(1, #bytes - 20))
            local r = parse(path, { delta_t = 10 })
            assert.is_false(r.complete)
            assert.is_string(r.error)
            assert.are.equal(2, r.packets)
            assert.are.equal(1, #r)
            check(r, 1, { packets = 2, ip_packets = 2 })
        end)

        it("returns no intervals for a capture without packets", function()
            local path = tmp.capture("empty.pcap", 1, {})
            local r = parse(path)
            assert.are.equal(0, #r)
            assert.are.equal(0, r.packets)
            assert.is_true(r.complete)
        end)

        it("counts packets whose timestamps go backwards", function()
            local function at(ns) return { ts_ns = ns, data = H.eth4_udp("10.0.0.1", "10.0.0.2", 1, 2, "") } end
            local path = tmp.capture("backwards.pcap", 1, { at(T0), at(T0 + SEC(5)), at(T0 + SEC(3)), at(T0 + SEC(6)) })
            local r = parse(path, { delta_t = 10 })
            assert.are.equal(4, r.packets)
            assert.are.equal(1, r.backwards_packets)
        end)

        it("raises an error for an unknown option or a bad option value", function()
            local path = tmp.capture("opts.pcap", 1, { { ts_ns = T0, data = H.eth4_udp("10.0.0.1", "10.0.0.2", 1, 2) } })
            assert.has_error(function() tpp.parse(path, { delta = 10 }) end)
            assert.has_error(function() tpp.parse(path, { boundary = "sliding" }) end)
            assert.has_error(function() tpp.parse(path, { ip = "v5" }) end)
            assert.has_error(function() tpp.parse(path, { delta_t = 0 }) end)
            assert.has_error(function() tpp.parse(path, { delta_t = -1 }) end)
            assert.has_error(function() tpp.parse(path, { max_packets = -1 }) end)
        end)
    end)
end)

describe("tpp.packets", function()
    local tmp = scratch()
    local pk
    lazy_setup(function()
        local path = tmp.capture("fields.pcap", 1, {
            { ts_ns = T0 + 1500000, data = H.eth4_tcp("192.0.2.1", "198.51.100.7", 40000, 443, H.SYN | H.ACK,
                string.rep("x", 10)) },
            { ts_ns = T0 + SEC(2), data = H.eth6_udp("2001:db8::1", "2001:db8:0:0:1:0:0:1", 53, 5353, "abcd") },
            { ts_ns = T0 + SEC(3), data = H.ethernet(nil, nil, H.ETH_ARP, H.arp()) },
            { ts_ns = T0 + SEC(4), data = H.eth4_tcp("192.0.2.1", "198.51.100.7", 40000, 443, H.FIN | H.PSH | H.ACK) },
        })
        pk = packets_of(path)
    end)

    it("yields one table per packet, in file order", function()
        assert.are.equal(4, #pk)
        assert.are.same({ T0 + 1500000, T0 + SEC(2), T0 + SEC(3), T0 + SEC(4) },
            { pk[1].ts_ns, pk[2].ts_ns, pk[3].ts_ns, pk[4].ts_ns })
    end)

    it("gives the timestamp in seconds, lengths and the link type", function()
        local p = pk[1]
        H.assert_time(p.ts, T0 + 1500000, "ts")
        assert.are.equal(14 + 20 + 20 + 10, p.caplen)
        assert.are.equal(14 + 20 + 20 + 10, p.wirelen)
        assert.are.equal(1, p.linktype)
        assert.are.equal(50, p.ip_len)
    end)

    it("decodes an IPv4 TCP packet", function()
        local p = pk[1]
        assert.are.equal(4, p.ipv)
        assert.are.equal("192.0.2.1", p.src)
        assert.are.equal("198.51.100.7", p.dst)
        assert.are.equal(H.PROTO_TCP, p.proto)
        assert.are.equal(40000, p.sport)
        assert.are.equal(443, p.dport)
        assert.are.equal(0x12, p.flags)
        assert.is_true(p.syn)
        assert.is_false(p.fin)
        assert.is_falsy(p.fragment)
        assert.is_falsy(p.truncated)
        assert.are.equal(0x19, pk[4].flags)
        assert.is_false(pk[4].syn)
        assert.is_true(pk[4].fin)
    end)

    it("decodes an IPv6 UDP packet and writes addresses in RFC 5952 form", function()
        local p = pk[2]
        assert.are.equal(6, p.ipv)
        assert.are.equal("2001:db8::1", p.src)
        assert.are.equal("2001:db8::1:0:0:1", p.dst)
        assert.are.equal(H.PROTO_UDP, p.proto)
        assert.are.equal(53, p.sport)
        assert.are.equal(5353, p.dport)
        assert.are.equal(40 + 8 + 4, p.ip_len)
        assert.is_nil(p.flags)
    end)

    it("gives syn and fin as booleans, false where no TCP flags were decoded", function()
        local full = H.eth4_tcp("10.0.0.1", "10.0.0.2", 1000, 80, H.SYN | H.FIN, string.rep("t", 20))
        local path = tmp.capture("booleans.pcap", 1, {
            { ts_ns = T0, data = H.eth4_udp("10.0.0.1", "10.0.0.2", 1, 2, "") },
            -- a non-first TCP fragment whose data look like a TCP header with SYN|FIN
            { ts_ns = T0 + 1000, data = H.eth_ip(H.ipv4("10.0.0.1", "10.0.0.2", H.PROTO_TCP,
                H.tcp(1, 2, H.SYN | H.FIN), { frag_offset = 10 })) },
            -- TCP SYN|FIN captured only up to its sequence number
            { ts_ns = T0 + 2000, data = full:sub(1, 14 + 20 + 8), wirelen = #full },
        })
        local list = packets_of(path)
        for k, p in ipairs(list) do
            assert.are.equal(false, p.syn, "packet " .. k .. " syn")
            assert.are.equal(false, p.fin, "packet " .. k .. " fin")
        end
        assert.are.same({ true, true }, { pk[1].syn, pk[4].fin })
    end)

    it("leaves the IP fields of a non-IP packet nil", function()
        local p = pk[3]
        assert.is_nil(p.ipv)
        assert.is_nil(p.src)
        assert.is_nil(p.dst)
        assert.is_nil(p.proto)
        assert.is_nil(p.sport)
        assert.is_nil(p.dport)
        assert.are.equal(14 + 28, p.caplen)
    end)

    it("raises an error naming the file when the capture cannot be read", function()
        local missing = tmp.path("missing.pcap")
        local ok, err = pcall(function() for _ in tpp.packets(missing) do end end)
        assert.is_false(ok)
        assert.is_truthy(tostring(err):find(missing, 1, true), "error names the file: " .. tostring(err))
    end)
end)
