-- tpp.parse's pipeline (src/parse.c, src/capture.c): capture formats and compression, nanosecond timestamps, BPF
-- filters, limits, and bad input.
-- Known-answer specs: small captures written here with tpp.pcap_writer, results asserted against values worked out
-- by hand (or by plain Lua arithmetic from the issue's definitions, see helper.ref), never against tpp's own
-- output.  Shared helpers and conventions: tests/parse_helper.lua.

local HERE = debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./"
local H = dofile(HERE .. "helper.lua")
local K = dofile(HERE .. "parse_helper.lua")
local tpp = require "tpp"

local T0 = H.T0
local SEC, COLUMNS, NAN = K.SEC, K.COLUMNS, K.NAN
local check, iat_expect, parse, packets_of, column_sum = K.check, K.iat_expect, K.parse, K.packets_of, K.column_sum

describe("tpp.parse", function()
    local tmp = K.scratch()

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
