-- tpp.parse's aggregation (src/aggregate.c, src/result.c): the columns of an interval, the IAT statistics, aligned
-- and packet boundaries, the ip option, the port series and the TSV of write_critical.
-- Known-answer specs: small captures written here with tpp.pcap_writer, results asserted against values worked out
-- by hand (or by plain Lua arithmetic from the issue's definitions, see helper.ref), never against tpp's own
-- output.  Shared helpers and conventions: tests/parse_helper.lua.

local HERE = debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./"
local H = dofile(HERE .. "helper.lua")
local K = dofile(HERE .. "parse_helper.lua")

local NS, T0 = H.NS, H.T0
local SEC, COLUMNS, NAN = K.SEC, K.COLUMNS, K.NAN
local check, empty_interval, parse = K.check, K.empty_interval, K.parse
local iat_expect, iat_expect_original = K.iat_expect, K.iat_expect_original

describe("tpp.parse", function()
    local tmp = K.scratch()

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
                local want = r:interval(1)[name]   -- NaN (the label columns without labels) is not equal to itself
                if want == want then assert.are.equal(want, col[1], name) else assert.is_true(col[1] ~= col[1], name) end
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

end)
