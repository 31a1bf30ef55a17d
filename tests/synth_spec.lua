-- Specs for the synthetic trace generator (lua/tpp/synth.lua, scripts/synth.lua): determinism, exact packet
-- count and time span, the traffic mix as tpp measures it, IPv6 / VLAN / fragments / ARP, formats, scans.
-- Captures are written to os.tmpname() names (with the suffix that picks the format) and removed afterwards.

local HERE = debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./"
local H = dofile(HERE .. "helper.lua")
local tpp = require "tpp"
local synth = require "tpp.synth"

local NS = H.NS

-- Temporary capture names: os.tmpname() creates the base file; both are removed by cleanup().
local temps = {}
local function tmp(suffix)
    local base = os.tmpname()
    temps[#temps + 1] = base
    local path = base .. (suffix or "")
    if suffix then temps[#temps + 1] = path end
    return path
end
local function cleanup()
    for _, p in ipairs(temps) do os.remove(p) end
    temps = {}
end

local function parse(path, opts)
    local r, err = tpp.parse(path, opts)
    assert.is_not_nil(r, "tpp.parse failed: " .. tostring(err))
    assert.is_true(r.complete, tostring(r.error))
    return r
end

-- 64-bit FNV-1a of a string (Lua integers wrap).
local function fnv1a(s)
    local h = -3750763034362895579          -- 0xcbf29ce484222325
    for i = 1, #s do
        h = (h ~ s:byte(i)) * 0x100000001b3
    end
    return string.format("%016x", h)
end

-- The records of an uncompressed pcap (host byte order, as tpp.pcap_writer writes): list of
-- { sec, frac, caplen, wirelen, data }.
local function pcap_records(path)
    local bytes = H.read_file(path)
    local magic = string.unpack("=I4", bytes, 1)
    assert(magic == 0xa1b2c3d4 or magic == 0xa1b23c4d, "not a host-order pcap")
    local recs, pos = {}, 25
    while pos <= #bytes do
        local sec, frac, caplen, wirelen = string.unpack("=I4I4I4I4", bytes, pos)
        recs[#recs + 1] = { sec = sec, frac = frac, caplen = caplen, wirelen = wirelen,
                            data = bytes:sub(pos + 16, pos + 15 + caplen) }
        pos = pos + 16 + caplen
    end
    return recs, string.unpack("=I4", bytes, 17), magic
end

local function sum_column(r, name, weight)
    local col, w, total = r:column(name), weight and r:column(weight), 0
    for i = 1, #col do total = total + col[i] * (w and w[i] or 1) end
    return total
end

local function median(xs)
    local t = {}
    for i, x in ipairs(xs) do t[i] = x end
    table.sort(t)
    if #t == 0 then return 0 end
    if #t % 2 == 1 then return t[(#t + 1) // 2] end
    return (t[#t // 2] + t[#t // 2 + 1]) / 2
end

local function same_number(a, b) return a == b or (a ~= a and b ~= b) end

describe("tpp.synth", function()
    lazy_teardown(cleanup)

    describe("determinism", function()
        local a, b, c, sa
        lazy_setup(function()
            a, b, c = tmp(".pcap"), tmp(".pcap"), tmp(".pcap")
            sa = synth.generate(a, { packets = 20000, seed = 11 })
            synth.generate(b, { packets = 20000, seed = 11 })
            synth.generate(c, { packets = 20000, seed = 12 })
        end)

        it("gives byte-identical files for the same seed", function()
            local x, y = H.read_file(a), H.read_file(b)
            assert.is_true(#x > 24 + 20000 * 16)
            assert.is_true(x == y, "same seed, different bytes")
        end)

        it("gives different files for different seeds", function()
            assert.is_false(H.read_file(a) == H.read_file(c))
        end)

        it("does not depend on math.random", function()
            math.randomseed(12345)
            local d = tmp(".pcap")
            synth.generate(d, { packets = 20000, seed = 11 })
            assert.is_true(H.read_file(a) == H.read_file(d))
        end)

        -- A known answer: the same bytes on every machine.  Update the digest when the traffic model changes on
        -- purpose (and say so in the commit).
        it("matches the known digest of a small trace", function()
            local p = tmp(".pcap")
            synth.generate(p, { packets = 3000, duration = 10, seed = 42 })
            assert.are.equal("3074f27e40ade86a", fnv1a(H.read_file(p)))
        end)

        it("reports what it wrote", function()
            assert.are.equal(20000, sa.packets)
            local c = sa.counts
            assert.are.equal(sa.packets, c.ipv4 + c.ipv6 + c.arp)
            assert.are.equal(c.ipv4 + c.ipv6, c.tcp + c.udp + c.icmp + c.icmpv6 + c.gre + c.esp)
        end)
    end)

    describe("a default trace", function()
        local path, s, r
        lazy_setup(function()
            path = tmp(".pcap")
            s = synth.generate(path, { packets = 60000, seed = 1 })
            r = parse(path, { delta_t = 1 })
        end)

        it("holds exactly N packets, none going backwards, within [start, start + duration)", function()
            assert.are.equal(60000, r.packets)
            assert.are.equal(0, r.backwards_packets)
            assert.are.equal(0, r.truncated_packets)
            local start = synth.defaults.start * NS
            assert.is_true(r.first_ns >= start and r.first_ns < start + NS)
            assert.is_true(r.last_ns < start + 60 * NS and r.last_ns >= start + 59 * NS)
            assert.are.equal(s.first_ts_ns, r.first_ns)
            assert.are.equal(s.last_ts_ns, r.last_ns)
            assert.are.equal(60, #r)
        end)

        it("has non-decreasing timestamps in whole microseconds", function()
            local prev, n = -1, 0
            for p in tpp.packets(path) do
                assert.is_true(p.ts_ns >= prev)
                assert.are.equal(0, p.ts_ns % 1000)
                prev, n = p.ts_ns, n + 1
            end
            assert.are.equal(60000, n)
        end)

        it("agrees with the summary on IP, non-IP and protocol counts", function()
            local c = s.counts
            assert.are.equal(c.ipv4 + c.ipv6, r.ip_packets)
            assert.are.equal(c.arp, r.non_ip_packets)
            assert.is_true(math.abs(sum_column(r, "tcp_frac", "ip_packets") - c.tcp) < 0.01)
            assert.is_true(math.abs(sum_column(r, "udp_frac", "ip_packets") - c.udp) < 0.01)
            assert.is_true(math.abs(sum_column(r, "icmp_frac", "ip_packets") - (c.icmp + c.icmpv6)) < 0.01)
            assert.are.equal(c.syn, sum_column(r, "syn"))
            assert.are.equal(c.fin, sum_column(r, "fin"))
        end)

        it("varies its rate over time", function()
            local pk = r:column("packets")
            local lo, hi = math.huge, 0
            for i = 1, #pk do lo, hi = math.min(lo, pk[i]), math.max(hi, pk[i]) end
            assert.is_true(lo > 0)
            assert.is_true(hi / lo > 1.4, string.format("max/min packets per second %d/%d", hi, lo))
        end)

        it("has a port scan that raises the distinct TCP destination ports and lowers the source entropy", function()
            local sc
            for _, x in ipairs(s.scans) do if x.kind == "ports" then sc = x end end
            assert.is_table(sc, "a port scan")
            assert.is_true(sc.packets > 1000)
            local distinct = {}
            for i = 1, #r do distinct[i] = 0 end
            for i in r:ports("tcp_dst") do distinct[i] = distinct[i] + 1 end
            local starts, ends, ent = r:column("start"), r:column("end"), r:column("entropy_src")
            local inside, outside, ent_in, ent_out = {}, {}, {}, {}
            for i = 1, #r do
                local a, b = math.floor(starts[i] * 1e9 + 0.5), math.floor(ends[i] * 1e9 + 0.5)
                local overlaps = false
                for _, x in ipairs(s.scans) do
                    if a < x.end_ns and b > x.start_ns then overlaps = true end
                end
                if a >= sc.start_ns and b <= sc.end_ns then
                    inside[#inside + 1], ent_in[#ent_in + 1] = distinct[i], ent[i]
                elseif not overlaps then
                    outside[#outside + 1], ent_out[#ent_out + 1] = distinct[i], ent[i]
                end
            end
            assert.is_true(#inside >= 3 and #outside >= 10)
            assert.is_true(median(inside) > 1.5 * median(outside),
                string.format("distinct tcp_dst ports: %g inside the scan, %g outside", median(inside), median(outside)))
            assert.is_true(median(ent_in) < median(ent_out) - 0.05,
                string.format("entropy_src: %g inside the scan, %g outside", median(ent_in), median(ent_out)))
        end)

        it("has an address sweep that raises the distinct destination addresses", function()
            local sc
            for _, x in ipairs(s.scans) do if x.kind == "addresses" then sc = x end end
            assert.is_table(sc, "an address sweep")
            local starts, ends, dst, ip = r:column("start"), r:column("end"), r:column("dst_ips"), r:column("ip_packets")
            local inside, outside = {}, {}
            for i = 1, #r do
                local a, b = math.floor(starts[i] * 1e9 + 0.5), math.floor(ends[i] * 1e9 + 0.5)
                local overlaps = false
                for _, x in ipairs(s.scans) do
                    if a < x.end_ns and b > x.start_ns then overlaps = true end
                end
                -- distinct destinations per IP packet, so that the rate does not decide
                if a >= sc.start_ns and b <= sc.end_ns then inside[#inside + 1] = dst[i] / ip[i]
                elseif not overlaps then outside[#outside + 1] = dst[i] / ip[i] end
            end
            assert.is_true(#inside >= 3)
            assert.is_true(median(inside) > median(outside) + 0.05,
                string.format("dst_ips per packet: %g inside the sweep, %g outside", median(inside), median(outside)))
        end)
    end)

    describe("the traffic mix (no scans)", function()
        local path, s, r, r6
        local n = 50000
        lazy_setup(function()
            path = tmp(".pcap")
            s = synth.generate(path, { packets = n, seed = 3, scans = 0 })
            r = parse(path, { delta_t = 1 })
            r6 = parse(path, { delta_t = 1, ip = "v6" })
        end)

        it("has the configured protocol shares", function()
            local ip = r.ip_packets
            local tcp = sum_column(r, "tcp_frac", "ip_packets") / ip
            local udp = sum_column(r, "udp_frac", "ip_packets") / ip
            local icmp = sum_column(r, "icmp_frac", "ip_packets") / ip
            assert.is_true(tcp > 0.71 and tcp < 0.77, "tcp share " .. tcp)
            assert.is_true(udp > 0.18 and udp < 0.22, "udp share " .. udp)
            assert.is_true(icmp > 0.025 and icmp < 0.045, "icmp share " .. icmp)
            local other = 1 - tcp - udp - icmp            -- GRE and ESP
            assert.is_true(other > 0.015 and other < 0.035, "GRE + ESP share " .. other)
            local arp = r.non_ip_packets / r.packets
            assert.is_true(arp > 0.002 and arp < 0.009, "ARP share " .. arp)
        end)

        it("has GRE, ESP, ICMP and ICMPv6 packets", function()
            local seen = {}
            for p in tpp.packets(path) do
                if p.ipv and p.proto then seen[p.ipv * 1000 + p.proto] = (seen[p.ipv * 1000 + p.proto] or 0) + 1 end
            end
            for _, key in ipairs({ 4006, 4017, 4001, 4047, 4050, 6006, 6017, 6058, 6047, 6050 }) do
                assert.is_true((seen[key] or 0) > 0, "IPv" .. key // 1000 .. " protocol " .. key % 1000)
            end
            assert.is_nil(seen[6001])
            assert.is_nil(seen[4058])
        end)

        it("has an IPv6 share near --ipv6", function()
            local share = r6.ip_packets / r.ip_packets
            assert.is_true(share > 0.085 and share < 0.115, "IPv6 share " .. share)
            assert.are.equal(s.counts.ipv6, r6.ip_packets)
        end)

        it("has SYN and FIN shares of a backbone", function()
            local tcp = sum_column(r, "tcp_frac", "ip_packets")
            local syn, fin = sum_column(r, "syn") / tcp, sum_column(r, "fin") / tcp
            assert.is_true(syn > 0.07 and syn < 0.14, "SYN share " .. syn)
            assert.is_true(fin > 0.03 and fin < 0.08, "FIN share " .. fin)
        end)

        it("has fragments, first and non-first", function()
            local nonfirst, first, prev = 0, 0, nil
            for p in tpp.packets(path) do
                if p.fragment then
                    nonfirst = nonfirst + 1
                    -- the non-first fragment follows its first fragment: same addresses and protocol
                    assert.is_table(prev)
                    assert.are.equal(prev.src, p.src)
                    assert.are.equal(prev.dst, p.dst)
                    assert.are.equal(prev.proto, p.proto)
                    assert.is_nil(p.sport)
                    first = first + 1
                end
                prev = p
            end
            assert.is_true(nonfirst > 20, "non-first fragments: " .. nonfirst)
            assert.is_true(nonfirst < n * 0.02)
            assert.are.equal(s.counts.fragments, first + nonfirst)
        end)

        it("tags a share of the frames with 802.1Q", function()
            local recs = pcap_records(path)
            local tagged = 0
            for _, rec in ipairs(recs) do
                if rec.data:byte(13) == 0x81 and rec.data:byte(14) == 0x00 then tagged = tagged + 1 end
            end
            assert.are.equal(n, #recs)
            assert.are.equal(s.counts.vlan, tagged)
            local share = tagged / n
            assert.is_true(share > 0.12 and share < 0.18, "VLAN share " .. share)
        end)

        it("captures headers only: caplen <= snaplen, wirelen the whole frame", function()
            local recs, snaplen = pcap_records(path)
            assert.are.equal(96, snaplen)
            for _, rec in ipairs(recs) do
                assert.is_true(rec.caplen <= 96 and rec.caplen >= 34)      -- 34: Ethernet + a fragment's IP header
                assert.is_true(rec.wirelen >= 60 and rec.wirelen <= 1518 and rec.wirelen >= rec.caplen)
            end
            local small, big, total = 0, 0, 0
            for p in tpp.packets(path) do
                if p.ipv then
                    local l2 = p.wirelen - p.ip_len
                    assert.is_true(p.wirelen == 60 and l2 >= 14 or l2 == 14 or l2 == 18, "frame vs IP length")
                    assert.is_true(p.ip_len >= 28 and p.ip_len <= 1500, "IP length " .. p.ip_len)
                    total = total + 1
                    if p.ip_len <= 100 then small = small + 1 end
                    if p.ip_len >= 1400 then big = big + 1 end
                end
            end
            -- bimodal: many small and many full-size packets
            assert.is_true(small / total > 0.3, "small share " .. small / total)
            assert.is_true(big / total > 0.2, "big share " .. big / total)
        end)

        it("has Zipf-like addresses: a few heavy hitters, a long tail", function()
            local counts, total = {}, 0
            for p in tpp.packets(path) do
                if p.ipv == 4 then counts[p.src] = (counts[p.src] or 0) + 1; total = total + 1 end
            end
            local list = {}
            for _, c in pairs(counts) do list[#list + 1] = c end
            table.sort(list, function(x, y) return x > y end)
            assert.is_true(list[1] / total > 0.02, "top source share " .. list[1] / total)
            assert.is_true(#list > total / 10, "distinct sources " .. #list)
            local ones = 0
            for _, c in ipairs(list) do if c == 1 then ones = ones + 1 end end
            assert.is_true(ones > #list / 3, "sources seen once " .. ones)
        end)
    end)

    describe("without IPv6", function()
        it("has no IPv6 packets", function()
            local path = tmp(".pcap")
            local s = synth.generate(path, { packets = 10000, seed = 5, ipv6 = 0 })
            assert.are.equal(0, s.counts.ipv6)
            local r6 = parse(path, { delta_t = 1, ip = "v6" })
            assert.are.equal(10000, r6.packets)
            assert.are.equal(0, r6.ip_packets)
            assert.is_true(parse(path, { delta_t = 1, ip = "v4" }).ip_packets > 9000)
        end)
    end)

    describe("formats", function()
        local base, columns
        lazy_setup(function()
            base = tmp(".pcap")
            synth.generate(base, { packets = 20000, seed = 4 })
            columns = parse(base, { delta_t = 1 })
        end)

        local function same_as_pcap(path, opts)
            local s = synth.generate(path, opts or { packets = 20000, seed = 4 })
            assert.are.equal(20000, s.packets)
            local r = parse(path, { delta_t = 1 })
            assert.are.equal(columns.packets, r.packets)
            assert.are.equal(#columns, #r)
            assert.are.equal(columns.first_ns, r.first_ns)
            assert.are.equal(columns.last_ns, r.last_ns)
            for _, name in ipairs(columns:columns()) do
                local x, y = columns:column(name), r:column(name)
                for i = 1, #x do
                    assert.is_true(same_number(x[i], y[i]), string.format("%s: column %s, interval %d: %s vs %s",
                        path, name, i - 1, tostring(x[i]), tostring(y[i])))
                end
            end
            for _, series in ipairs({ "tcp_dst", "udp_src" }) do
                assert.are.same(H.ports_list(columns, series), H.ports_list(r, series))
            end
            return r
        end

        it(".pcap.gz is gzip and parses like the .pcap", function()
            local p = tmp(".pcap.gz")
            same_as_pcap(p)
            assert.are.equal("\31\139", H.read_file(p):sub(1, 2))
        end)

        it(".gz is gzip'd pcap", function()
            local p = tmp(".gz")
            same_as_pcap(p)
            assert.are.equal("\31\139", H.read_file(p):sub(1, 2))
        end)

        it(".pcapng is pcapng and parses like the .pcap", function()
            local p = tmp(".pcapng")
            same_as_pcap(p)
            assert.are.equal("\10\13\13\10", H.read_file(p):sub(1, 4))
        end)

        it(".pcapng.gz parses like the .pcap", function()
            same_as_pcap(tmp(".pcapng.gz"))
        end)

        it("nanosecond pcap keeps nanosecond stamps", function()
            local p = tmp(".pcap")
            synth.generate(p, { packets = 2000, seed = 4, nanosecond = true })
            local _, _, magic = pcap_records(p)
            assert.are.equal(0xa1b23c4d, magic)
            local sub = 0
            for q in tpp.packets(p) do if q.ts_ns % 1000 ~= 0 then sub = sub + 1 end end
            assert.is_true(sub > 1000)
        end)

        it("honours a smaller snap length", function()
            local p = tmp(".pcap")
            synth.generate(p, { packets = 2000, seed = 4, snaplen = 54 })
            local recs, snaplen = pcap_records(p)
            assert.are.equal(54, snaplen)
            for _, rec in ipairs(recs) do assert.is_true(rec.caplen <= 54) end
            assert.are.equal(2000, parse(p, { delta_t = 1 }).packets)
        end)
    end)

    describe("options", function()
        it("spreads exactly N packets over a short or long duration", function()
            for _, case in ipairs({ { 1000, 0.5 }, { 5000, 3600 }, { 1, 1 }, { 0, 10 } }) do
                local p = tmp(".pcap")
                local s = synth.generate(p, { packets = case[1], duration = case[2], start = 1700000000 })
                assert.are.equal(case[1], s.packets)
                local n, prev = 0, -1
                for q in tpp.packets(p) do
                    n = n + 1
                    assert.is_true(q.ts_ns >= prev)
                    assert.is_true(q.ts_ns >= 1700000000 * NS and q.ts_ns < 1700000000 * NS + case[2] * 1e9)
                    prev = q.ts_ns
                end
                assert.are.equal(case[1], n)
            end
        end)

        it("rejects bad options", function()
            assert.has_error(function() synth.generate(tmp(".pcap"), { packets = -1 }) end)
            assert.has_error(function() synth.generate(tmp(".pcap"), { ipv6 = 2 }) end)
            assert.has_error(function() synth.generate(tmp(".pcap"), { duration = 0 }) end)
            assert.has_error(function() synth.generate(tmp(".pcap"), { pakets = 10 }) end)
        end)
    end)

    describe("scripts/synth.lua", function()
        local script = HERE .. "../scripts/synth.lua"

        it("writes the same bytes as synth.generate with the same options", function()
            local a, b = tmp(".pcap"), tmp(".pcap")
            local cmd = string.format("%s %s -q --packets 3000 --duration 20 --seed 9 --ipv6 0.2 --scans 1 %s 2>&1",
                H.shell_quote(H.tpp_binary()), H.shell_quote(script), H.shell_quote(a))
            local out, ok = H.run(cmd)
            assert.is_true(ok, out)
            assert.are.equal("", out)
            synth.generate(b, { packets = 3000, duration = 20, seed = 9, ipv6 = 0.2, scans = 1 })
            assert.is_true(H.read_file(a) == H.read_file(b))
        end)

        it("prints a summary unless -q, and fails on a bad option", function()
            local a = tmp(".pcapng")
            local out, ok = H.run(string.format("%s %s --packets 500 %s 2>&1", H.shell_quote(H.tpp_binary()),
                H.shell_quote(script), H.shell_quote(a)))
            assert.is_true(ok, out)
            assert.is_truthy(out:find("500 packets", 1, true))
            assert.is_truthy(out:find("pcapng", 1, true))
            local _, bad = H.run(string.format("%s %s --packets many %s 2>&1", H.shell_quote(H.tpp_binary()),
                H.shell_quote(script), H.shell_quote(tmp(".pcap"))))
            assert.is_falsy(bad)
        end)
    end)
end)
