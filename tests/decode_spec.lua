-- Packet decoding (src/packet.c) as tpp.parse and tpp.packets see it: IPv6 extension headers, link layers,
-- fragments, truncated packets, and the fields tpp.packets gives.
-- Known-answer specs: small captures written here with tpp.pcap_writer, results asserted against values worked out
-- by hand (or by plain Lua arithmetic from the issue's definitions, see helper.ref), never against tpp's own
-- output.  Shared helpers and conventions: tests/parse_helper.lua.

local HERE = debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./"
local H = dofile(HERE .. "helper.lua")
local K = dofile(HERE .. "parse_helper.lua")
local tpp = require "tpp"

local T0 = H.T0
local SEC, check, empty_interval, parse, packets_of = K.SEC, K.check, K.empty_interval, K.parse, K.packets_of

describe("tpp.parse", function()
    local tmp = K.scratch()

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

end)

describe("tpp.packets", function()
    local tmp = K.scratch()
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
