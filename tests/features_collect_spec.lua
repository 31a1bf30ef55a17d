-- The research feature columns as the one pass collects them (src/aggregate.c, src/flow_table.c,
-- src/seen_table.c, the decoder's TTL and fragment flags): flows and flows_new across intervals with the
-- flow_timeout edge, fanout_max, new_src/new_dst, synack/rst/frag (IPv4 and IPv6 fragments), ttl_mean, the
-- length percentiles, the groups switched off and the packet mode.  Known answers: small captures written here,
-- the expected values worked out by hand in the comments (or by plain Lua from the definitions in
-- docs/lua-api.md), never taken from tpp's output.  The merge state at the finish (seen addresses, the flows'
-- head and tail) is checked in C: tests/c/collect_state.c.

local HERE = debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./"
local H = dofile(HERE .. "helper.lua")
local K = dofile(HERE .. "parse_helper.lua")

local T0 = H.T0
local SEC, parse = K.SEC, K.parse

local NEW_COLUMNS = { "entropy_tcp_src", "entropy_tcp_dst", "entropy_udp_src", "entropy_udp_dst", "src_p24", "dst_p24",
    "src_p16", "dst_p16", "entropy_src_p24", "entropy_dst_p24", "flows", "flows_new", "fanout_max", "new_src",
    "new_dst", "synack", "rst", "frag", "ttl_mean", "len_p50", "len_p95" }
local GROUP_OF = { flows = "flows", flows_new = "flows", fanout_max = "flows", new_src = "novelty",
    new_dst = "novelty", synack = "headers", rst = "headers", frag = "headers", ttl_mean = "headers",
    len_p50 = "headers", len_p95 = "headers" }

local function is_nan(x) return x ~= x end

-- Interval i (1-based) of r has exactly these values (numbers compared with ==, "nan" for NaN).
local function expect(r, i, values)
    local row = r:interval(i)
    for k, v in pairs(values) do
        local what = string.format("interval %d (1-based) column %s", i, k)
        if v == "nan" then
            assert.is_true(is_nan(row[k]), what .. " is NaN, got " .. tostring(row[k]))
        else
            assert.are.equal(v, row[k], what)
        end
    end
end

local function tcp(t, src, dst, sport, dport, flags, ipopts)
    return { ts_ns = t, data = H.eth4_tcp(src, dst, sport, dport, flags or H.ACK, nil, ipopts) }
end
local function udp(t, src, dst, sport, dport, payload, ipopts)
    return { ts_ns = t, data = H.eth4_udp(src, dst, sport, dport, payload, ipopts) }
end
local function icmp(t, src, dst)
    return { ts_ns = t, data = H.eth4_icmp(src, dst, 8, 0, "\0\1\0\1") }
end

describe("the one pass's research features", function()
    local tmp = K.scratch()

    -------------------------------------------------------------------------------------------------------------
    describe("flows, flows_new, fanout_max, new_src and new_dst over three intervals", function()
        -- delta_t 10 s (epoch grid: T0 is a multiple of 10 s), flow_timeout 5 s.  Flows:
        --   A 10.0.0.1:1000 -> 10.0.0.2:80 TCP    B 10.0.0.1:53 -> 10.0.0.3:53 UDP    C 10.0.0.1 -> 10.0.0.4 ICMP
        --   D 10.0.0.6:7 -> 10.0.0.7:9 UDP        F 10.0.0.5:2000 -> 10.0.0.2:80 TCP  G 10.0.0.7:9 -> 10.0.0.1:7 UDP
        -- interval 0 [0, 10): A@0 B@1 C@2 A@8 B@8 F@9
        --   flows A B C F = 4, all new = 4; fanout 10.0.0.1 -> .2 .3 .4 = 3; new_src .1 .5 = 2; new_dst .2 .3 .4 = 3
        -- interval 1 [10, 20): F@11 A@13 B@13+1ns A@14 D@15 F@19
        --   flows F A B D = 4; new: F no (2 s after F@9), A no (exactly 5 s after A@8), B yes (5 s + 1 ns),
        --   D yes (never seen); F@19 comes 8 s after F@11 but is not F's first packet in the interval: = 2
        --   fanout: .1 -> .2 .3 = 2; new_src .6 = 1 (.5 .1 seen); new_dst .7 = 1
        -- interval 2 [20, 30): C@21 A@22 G@23
        --   flows C A G = 3, new: C (19 s), A (8 s after A@14), G = 3; fanout .1 -> .4 .2 = 2;
        --   new_src .7 (a destination before, never a source) = 1; new_dst .1 (a source before) = 1
        local r
        lazy_setup(function()
            local A = function(t) return tcp(t, "10.0.0.1", "10.0.0.2", 1000, 80) end
            local B = function(t) return udp(t, "10.0.0.1", "10.0.0.3", 53, 53) end
            local F = function(t) return tcp(t, "10.0.0.5", "10.0.0.2", 2000, 80) end
            local path = tmp.capture("flows.pcap", "ethernet", {
                A(T0), B(T0 + SEC(1)), icmp(T0 + SEC(2), "10.0.0.1", "10.0.0.4"), A(T0 + SEC(8)), B(T0 + SEC(8)),
                F(T0 + SEC(9)),
                F(T0 + SEC(11)), A(T0 + SEC(13)), B(T0 + SEC(13) + 1), A(T0 + SEC(14)),
                udp(T0 + SEC(15), "10.0.0.6", "10.0.0.7", 7, 9), F(T0 + SEC(19)),
                icmp(T0 + SEC(21), "10.0.0.1", "10.0.0.4"), A(T0 + SEC(22)), udp(T0 + SEC(23), "10.0.0.7", "10.0.0.1", 9, 7),
            }, { nanosecond = true })
            r = parse(path, { delta_t = 10, flow_timeout = 5 })
            assert.are.equal(T0 + SEC(13) + 1, K.packets_of(path)[9].ts_ns, "a nanosecond capture")
        end)

        it("counts them per interval", function()
            assert.are.equal(3, #r)
            expect(r, 1, { flows = 4, flows_new = 4, fanout_max = 3, new_src = 2, new_dst = 3 })
            expect(r, 2, { flows = 4, flows_new = 2, fanout_max = 2, new_src = 1, new_dst = 1 })
            expect(r, 3, { flows = 3, flows_new = 3, fanout_max = 2, new_src = 1, new_dst = 1 })
        end)

        it("takes the timeout from the option: at 60 s no flow comes back new", function()
            local r60 = parse(r.source, { delta_t = 10 })
            expect(r60, 2, { flows_new = 1 }) -- D
            expect(r60, 3, { flows_new = 1 }) -- G
        end)
    end)

    -------------------------------------------------------------------------------------------------------------
    describe("across a gap, an empty interval and a new segment", function()
        -- flow A at 0 s, then nothing until 25 s (intervals 1 empty), A again at 25 s: 25 s > timeout 20 s: new.
        -- The empty interval counts no flow: flows 0, flows_new 0, new addresses 0, ttl_mean and lengths NaN.
        -- With max_gap 5 s the silence ends the segment instead (no empty row); the flow state carries over.
        it("keeps the flow table across them", function()
            local path = tmp.capture("gap.pcap", "ethernet", {
                tcp(T0, "10.0.0.1", "10.0.0.2", 1000, 80), tcp(T0 + SEC(25), "10.0.0.1", "10.0.0.2", 1000, 80),
                tcp(T0 + SEC(26), "10.0.0.9", "10.0.0.2", 1000, 80),
            })
            local r = parse(path, { delta_t = 10, flow_timeout = 20 })
            assert.are.equal(3, #r)
            expect(r, 2, { ip_packets = 0, flows = 0, flows_new = 0, new_src = 0, new_dst = 0, synack = 0, frag = 0,
                ttl_mean = "nan", len_p50 = "nan", len_p95 = "nan", fanout_max = "nan" })
            expect(r, 3, { flows = 2, flows_new = 2, new_src = 1, new_dst = 0 })
            local long = parse(path, { delta_t = 10, flow_timeout = 30 })
            expect(long, 3, { flows = 2, flows_new = 1 }) -- 25 s <= 30 s: A is not new
            local cut = parse(path, { delta_t = 10, flow_timeout = 30, max_gap = 5 })
            assert.are.equal(2, #cut)
            expect(cut, 2, { segment = 1, flows = 2, flows_new = 1, new_src = 1 })
        end)
    end)

    -------------------------------------------------------------------------------------------------------------
    describe("many flows, so that the flow table sweeps and grows", function()
        -- 20 000 flows (10.1.x.y -> 10.2.0.1, one port each), each sending a packet at t and t + 3 s, t rising by
        -- 1 ms: with flow_timeout 2 s every second packet is new again (3 s > 2 s), with 4 s none is.  The table
        -- starts at 4096 slots, so it sweeps and grows many times on the way.
        it("gives the same answer as a count by hand", function()
            local packets, n = {}, 20000
            for k = 0, n - 1 do
                local t = T0 + k * 1000000
                local src = string.format("10.1.%d.%d", k // 256, k % 256)
                packets[#packets + 1] = udp(t, src, "10.2.0.1", 1024 + k % 50000, 53)
                packets[#packets + 1] = udp(t + SEC(3), src, "10.2.0.1", 1024 + k % 50000, 53)
            end
            table.sort(packets, function(a, b) return a.ts_ns < b.ts_ns end)
            local path = tmp.capture("many.pcap", "ethernet", packets)
            -- delta_t 100 s: one interval holds everything; both packets of a flow fall in it
            local r = parse(path, { delta_t = 100, flow_timeout = 2 })
            expect(r, 1, { flows = n, flows_new = n, new_src = n, new_dst = 1, fanout_max = 1 })
            -- delta_t 1 s: a flow's two packets lie in different intervals
            local fine = parse(path, { delta_t = 1, flow_timeout = 2 })
            local fine4 = parse(path, { delta_t = 1, flow_timeout = 4 })
            local flows, new2, new4 = 0, 0, 0
            for i = 1, #fine do
                flows = flows + fine:interval(i).flows
                new2 = new2 + fine:interval(i).flows_new
                new4 = new4 + fine4:interval(i).flows_new
            end
            assert.are.equal(2 * n, flows)
            assert.are.equal(2 * n, new2)
            assert.are.equal(n, new4)
        end)
    end)

    -------------------------------------------------------------------------------------------------------------
    describe("the header columns", function()
        -- One interval.  TCP flags: SYN|ACK, SYN|ACK|ECE, RST, RST|ACK, SYN, RST|SYN|ACK -> synack 3, rst 3.
        -- Fragments (frag 6): IPv4 first (MF, offset 0) and middle (MF, offset 185) and last (offset 370) of one
        -- UDP datagram, an IPv4 DF-only packet (not a fragment), IPv6 first (offset 0, M), later (offset 100) and
        -- atomic (offset 0, no M) fragments.  TTLs and hop limits as given; IP lengths from the frames.
        -- The first fragment carries the ports, the later ones have none: flows = distinct (proto, addresses,
        -- ports), counted by hand below.
        local packets, lens, ttls = {}, {}, {}
        local function add(t, ip, ttl)
            packets[#packets + 1] = { ts_ns = T0 + SEC(t), data = H.eth_ip(ip) }
            lens[#lens + 1] = #ip
            ttls[#ttls + 1] = ttl
        end
        local function tcp4(flags, ttl, payload)
            return H.ipv4("10.0.0.1", "10.0.0.2", H.PROTO_TCP, H.tcp(1000, 80, flags, payload), { ttl = ttl })
        end
        local r
        lazy_setup(function()
            add(0.1, tcp4(H.SYN | H.ACK, 64), 64)
            add(0.2, tcp4(H.SYN | H.ACK | 0x40, 63), 63)
            add(0.3, tcp4(H.RST, 128, "x"), 128)
            add(0.4, tcp4(H.RST | H.ACK, 255, string.rep("y", 100)), 255)
            add(0.5, tcp4(H.SYN, 1, string.rep("z", 7)), 1)
            add(0.6, tcp4(H.RST | H.SYN | H.ACK, 30), 30)
            local udp_head = H.udp(5000, 6000, string.rep("u", 1472))
            add(1.0, H.ipv4("10.0.0.9", "10.0.0.10", H.PROTO_UDP, udp_head:sub(1, 1480),
                { more_fragments = true, ttl = 50, id = 7 }), 50)
            add(1.1, H.ipv4("10.0.0.9", "10.0.0.10", H.PROTO_UDP, string.rep("u", 1480),
                { more_fragments = true, frag_offset = 185, ttl = 50, id = 7 }), 50)
            add(1.2, H.ipv4("10.0.0.9", "10.0.0.10", H.PROTO_UDP, string.rep("u", 20),
                { frag_offset = 370, ttl = 50, id = 7 }), 50)
            add(1.3, H.ipv4("10.0.0.9", "10.0.0.10", H.PROTO_UDP, H.udp(5000, 6000, "df"),
                { dont_fragment = true, ttl = 51 }), 51)
            local F = H.PROTO_FRAGMENT
            add(2.0, H.ipv6("2001:db8::1", "2001:db8::2", H.PROTO_UDP, H.udp(53, 5353, string.rep("v", 40)),
                { ext = { { type = F, offset = 0, more = true } }, hop_limit = 200 }), 200)
            add(2.1, H.ipv6("2001:db8::1", "2001:db8::2", H.PROTO_UDP, string.rep("v", 24),
                { ext = { { type = F, offset = 100 } }, hop_limit = 201 }), 201)
            add(2.2, H.ipv6("2001:db8::1", "2001:db8::2", H.PROTO_UDP, H.udp(53, 5353, "a"),
                { ext = { { type = F, offset = 0 } }, hop_limit = 2 }), 2)
            add(2.3, H.ipv6("2001:db8::1", "2001:db8::3", H.PROTO_TCP, H.tcp(80, 1000, H.RST), { hop_limit = 9 }), 9)
            packets[#packets + 1] = { ts_ns = T0 + SEC(3), data = H.ethernet(nil, nil, H.ETH_ARP, H.arp()) }
            r = parse(tmp.capture("headers.pcap", "ethernet", packets), { delta_t = 10 })
        end)

        it("counts SYN+ACK, RST and fragments", function()
            -- the IPv6 RST at 2.3 makes rst 4
            expect(r, 1, { synack = 3, rst = 4, frag = 6 })
        end)

        it("averages the TTL and hop limit over the IP packets", function()
            local sum = 0
            for _, t in ipairs(ttls) do sum = sum + t end
            assert.are.equal(#ttls, r:interval(1).ip_packets)
            H.assert_close(r:interval(1).ttl_mean, sum / #ttls, 1e-12, "ttl_mean")
        end)

        -- nearest rank: the smallest length L with #(len <= L) >= ceil(p * n)
        local function percentile(list, p)
            local sorted = { table.unpack(list) }
            table.sort(sorted)
            return sorted[math.ceil(p * #sorted)]
        end

        it("takes the nearest-rank percentiles of the IP lengths", function()
            expect(r, 1, { len_p50 = percentile(lens, 0.5), len_p95 = percentile(lens, 0.95) })
        end)

        it("gives first and later fragments flows of their own (later ones without ports)", function()
            -- TCP 10.0.0.1:1000 -> .2:80 (1); UDP .9:5000 -> .10:6000 (first fragment and the DF packet: 1);
            -- UDP .9 -> .10 without ports (the two later fragments: 1); IPv6 UDP 53 -> 5353 (first and atomic: 1);
            -- IPv6 UDP without ports (1); IPv6 TCP 80 -> 1000 (1)
            expect(r, 1, { flows = 6 })
        end)

        it("counts IPv6 only with ip = v6, IPv4 only with v4", function()
            local v6 = parse(r.source, { delta_t = 10, ip = "v6" })
            local v6lens = { table.unpack(lens, 11, 14) }
            expect(v6, 1, { synack = 0, rst = 1, frag = 3, flows = 3, len_p50 = percentile(v6lens, 0.5),
                len_p95 = percentile(v6lens, 0.95) })
            H.assert_close(v6:interval(1).ttl_mean, (200 + 201 + 2 + 9) / 4, 1e-12, "ttl_mean")
            local v4 = parse(r.source, { delta_t = 10, ip = "v4" })
            expect(v4, 1, { synack = 3, rst = 3, frag = 3, flows = 3 })
        end)
    end)

    -------------------------------------------------------------------------------------------------------------
    describe("feature groups", function()
        local path
        lazy_setup(function()
            path = tmp.capture("groups.pcap", "ethernet", {
                tcp(T0, "10.0.0.1", "10.0.0.2", 1000, 80, H.SYN | H.ACK), udp(T0 + SEC(1), "10.0.0.3", "10.0.0.2", 5, 53),
                tcp(T0 + SEC(12), "10.0.0.1", "10.0.0.2", 1000, 80, H.RST),
            })
        end)

        it("switched off give NaN columns, the others their values", function()
            local none = parse(path, { delta_t = 10, features = "none" })
            for _, c in ipairs(NEW_COLUMNS) do
                assert.is_true(is_nan(none:interval(1)[c]), c .. " is NaN with features none")
            end
            for _, only in ipairs { "flows", "novelty", "headers" } do
                local one = parse(path, { delta_t = 10, features = only })
                for c, group in pairs(GROUP_OF) do
                    local v = one:interval(1)[c]
                    if group == only then
                        assert.is_false(is_nan(v), c .. " has a value with features " .. only)
                    else
                        assert.is_true(is_nan(v), c .. " is NaN with features " .. only)
                    end
                end
            end
            local all = parse(path, { delta_t = 10 })
            expect(all, 1, { flows = 2, flows_new = 2, fanout_max = 1, new_src = 2, new_dst = 1, synack = 1, rst = 0,
                frag = 0, ttl_mean = 64 })
            expect(all, 2, { flows = 1, flows_new = 0, new_src = 0, new_dst = 0, synack = 0, rst = 1 })
            -- a group's values do not depend on the other groups being on
            local some = parse(path, { delta_t = 10, features = { "flows", "headers" } })
            expect(some, 2, { flows = 1, flows_new = 0, rst = 1 })
        end)

        it("in the packet mode are counted too, 0 where undefined", function()
            -- --compat: intervals close on the packet 10 s after the first; the last partial one is dropped.
            local path2 = tmp.capture("compat.pcap", "ethernet", {
                tcp(T0, "10.0.0.1", "10.0.0.2", 1000, 80, H.SYN | H.ACK),
                { ts_ns = T0 + SEC(1), data = H.ethernet(nil, nil, H.ETH_ARP, H.arp()) },
                tcp(T0 + SEC(10), "10.0.0.1", "10.0.0.2", 1000, 80),
                { ts_ns = T0 + SEC(11), data = H.ethernet(nil, nil, H.ETH_ARP, H.arp()) },
                { ts_ns = T0 + SEC(21), data = H.ethernet(nil, nil, H.ETH_ARP, H.arp()) },
                tcp(T0 + SEC(40), "10.0.0.1", "10.0.0.2", 1000, 80),
            })
            -- [0 .. 10]: the packets at 0, 1 and 10 (the one that closes it); [10 .. 21]: ARP only; [21 .. 40]
            local r = parse(path2, { delta_t = 10, boundary = "packet", ip = "v4" })
            assert.are.equal(3, #r)
            expect(r, 1, { flows = 1, flows_new = 1, synack = 1, new_src = 1, ttl_mean = 64 })
            expect(r, 2, { ip_packets = 0, flows = 0, flows_new = 0, ttl_mean = 0, len_p50 = 0, len_p95 = 0,
                fanout_max = 0 })
            expect(r, 3, { flows = 1, flows_new = 0, new_src = 0 }) -- 30 s after the last: within 60 s
        end)
    end)
end)
