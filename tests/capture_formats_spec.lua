-- Capture formats (issue 12, items 7, 8, 10 and the capture messages of 18 and 20): tpp's own pcapng reader
-- (interfaces of different link types, sections, timestamp resolutions and offsets, every packet block, malformed
-- blocks), timestamps at and after 2038, zstd and xz captures, other compressors named, and clear messages for
-- empty and cut-short files.  Captures are built byte by byte (tests/helper.lua, H.pcapng) so that nothing here
-- depends on tpp's own writer.
local tpp = require "tpp"
local walk = require "tpp.walk"
local H = require "tests.helper"

local NG = H.pcapng
local q = H.shell_quote
local TPP = H.tpp_binary()
local SEC = H.NS
local T0S = 1700000000 -- a plausible time in seconds

local eth_udp = H.eth4_udp("10.0.0.1", "10.0.0.2", 1000, 53, "hello")
local eth_tcp = H.eth4_tcp("10.0.0.3", "10.0.0.4", 40000, 80, H.SYN)
local raw_udp = H.ipv4("10.1.0.1", "10.1.0.2", H.PROTO_UDP, H.udp(2000, 53, "raw"))
local raw6_tcp = H.ipv6("2001:db8::1", "2001:db8::2", H.PROTO_TCP, H.tcp(1234, 443, H.SYN))
local radiotap = ("\0\0\8\0\0\0\0\0") .. ("w"):rep(30)

-- Every packet of tpp.packets(path) as a list.
local function packets(path, opts)
  local list = {}
  for p in tpp.packets(path, opts) do list[#list + 1] = p end
  return list
end

describe("capture formats", function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rmtree(dir) end)

  local function file(name, bytes) return H.write_file(dir .. "/" .. name, bytes) end

  describe("pcapng with interfaces of different link types", function()
    -- What Wireshark writes when it captures on several interfaces at once: libpcap refuses such a file after
    -- its first packets, and tpp used to keep nothing of it.
    local function mixed()
      return NG.shb()
        .. NG.idb(H.LINKTYPE.ETHERNET, { tsresol = 9 })           -- 0: Ethernet, nanoseconds
        .. NG.idb(H.LINKTYPE.RAW, { tsresol = 6 })                -- 1: raw IP, microseconds
        .. NG.idb(127, { tsresol = 3, tsoffset = T0S })          -- 2: 802.11 radiotap, ms after T0S
        .. NG.epb(0, T0S * SEC, eth_udp)
        .. NG.epb(1, (T0S + 1) * 1000000 + 250000, raw_udp)
        .. NG.epb(2, 1500, radiotap)
        .. NG.epb(0, (T0S + 2) * SEC + 7, eth_tcp)
        .. NG.epb(1, (T0S + 2) * 1000000 + 900000, raw6_tcp)
        .. NG.epb(2, 2999, radiotap)
    end

    it("counts every packet of every interface, each decoded with its own link type", function()
      local path = file("mixed.pcapng", mixed())
      local r = assert(tpp.parse(path, { delta_t = 1 }))
      assert.is_true(r.complete, r.error)
      assert.are.same({ 6, 4, 2 }, { r.packets, r.ip_packets, r.non_ip_packets })
      assert.are.equal(1, r.linktype) -- the first interface's
      assert.are.equal("link type 802.11 radiotap (127) is not decoded: its 2 packets count as non-IP", r.warning)
      assert.are.same({ 1, 2, 3 }, r:column("packets"))
      assert.are.same({ 1, 1, 2 }, r:column("ip_packets"))
      assert.are.same({ { 1, 53, 1 }, { 2, 53, 1 } }, H.ports_list(r, "udp_dst"))
      assert.are.same({ { 3, 80, 1 }, { 3, 443, 1 } }, H.ports_list(r, "tcp_dst"))
    end)

    it("gives each packet its link type and exact timestamp in tpp.packets", function()
      local list = packets(file("mixed.pcapng", mixed()))
      local got = {}
      for i, p in ipairs(list) do got[i] = { p.linktype, p.ts_ns, p.src or "-" } end
      assert.are.same({
        { 1, T0S * SEC, "10.0.0.1" },
        { 101, (T0S + 1) * SEC + 250000000, "10.1.0.1" },
        { 127, (T0S + 1) * SEC + 500000000, "-" },
        { 1, (T0S + 2) * SEC + 7, "10.0.0.3" },
        { 101, (T0S + 2) * SEC + 900000000, "2001:db8::1" },
        { 127, (T0S + 2) * SEC + 999000000, "-" },
      }, got)
    end)

    it("names several undecoded link types in one warning", function()
      local path = file("two.pcapng", NG.shb() .. NG.idb(127) .. NG.idb(147) .. NG.idb(1)
        .. NG.epb(0, T0S * 1000000, radiotap) .. NG.epb(1, T0S * 1000000, "x") .. NG.epb(1, T0S * 1000000, "y")
        .. NG.epb(2, T0S * 1000000, eth_udp))
      local r = assert(tpp.parse(path))
      assert.are.same({ 4, 1, 3 }, { r.packets, r.ip_packets, r.non_ip_packets })
      assert.are.equal("link types not decoded, their packets counted as non-IP: 802.11 radiotap (127): 1, "
        .. "user 0 (147): 2", r.warning)
    end)

    it("applies a BPF filter to each link type with its own program", function()
      local path = file("mixed.pcapng", mixed())
      local r = assert(tpp.parse(path, { delta_t = 1, filter = "udp" }))
      assert.is_true(r.complete, r.error)
      -- the Ethernet and the raw-IP UDP packet pass; radiotap frames cannot match an IP filter
      assert.are.same({ 2, 2 }, { r.packets, r.ip_packets })
      local srcs = {}
      for _, p in ipairs(packets(path, { filter = "tcp" })) do srcs[#srcs + 1] = p.src end
      assert.are.same({ "10.0.0.3", "2001:db8::1" }, srcs)
    end)

    it("refuses a filter that compiles for none of its first link type, once, at open", function()
      local r, err = tpp.parse(file("mixed.pcapng", mixed()), { filter = "tcp and" })
      assert.is_nil(r)
      assert.truthy(err:find("bad filter", 1, true), err)
    end)
  end)

  describe("pcapng sections", function()
    it("reads several sections of both byte orders, each numbering its interfaces afresh", function()
      local bytes = NG.shb() .. NG.idb(1) .. NG.epb(0, T0S * 1000000, eth_udp)
        .. NG.shb { big = true } .. NG.idb(101, { big = true, tsresol = 9 }) .. NG.idb(1, { big = true })
        .. NG.epb(0, (T0S + 1) * SEC, raw_udp, { big = true })
        .. NG.epb(1, (T0S + 2) * 1000000, eth_tcp, { big = true })
        .. NG.shb() .. NG.idb(229) .. NG.epb(0, (T0S + 3) * 1000000, raw6_tcp)
      local path = file("sections.pcapng", bytes)
      local r = assert(tpp.parse(path, { delta_t = 1 }))
      assert.is_true(r.complete, r.error)
      assert.are.same({ 4, 4 }, { r.packets, r.ip_packets })
      local got = {}
      for _, p in ipairs(packets(path)) do got[#got + 1] = { p.linktype, p.ts_ns, p.src } end
      assert.are.same({
        { 1, T0S * SEC, "10.0.0.1" }, { 101, (T0S + 1) * SEC, "10.1.0.1" }, { 1, (T0S + 2) * SEC, "10.0.0.3" },
        { 229, (T0S + 3) * SEC, "2001:db8::1" },
      }, got)
    end)

    it("skips name resolution, statistics, decryption secrets and custom blocks", function()
      local bytes = NG.shb() .. NG.idb(1) .. NG.block(4, "\0\0\0\0") .. NG.epb(0, T0S * 1000000, eth_udp)
        .. NG.block(5, ("\0"):rep(12)) .. NG.block(0x0A, ("s"):rep(16)) .. NG.block(0x00000BAD, "custom")
        .. NG.block(0x40000BAD, "custom, not to copy") .. NG.epb(0, (T0S + 1) * 1000000, eth_tcp)
      local r = assert(tpp.parse(file("skip.pcapng", bytes)))
      assert.is_true(r.complete, r.error)
      assert.are.same({ 2, 2 }, { r.packets, r.ip_packets })
    end)
  end)

  describe("pcapng timestamps", function()
    it("follow if_tsresol (powers of 10 and of 2) and if_tsoffset exactly", function()
      local bytes = NG.shb()
        .. NG.idb(1, { tsresol = 0x80 | 20 })                    -- 2^-20 s
        .. NG.idb(101, { tsresol = 0, tsoffset = T0S })          -- whole seconds after T0S
        .. NG.idb(1, { tsresol = 0x80 | 40, tsoffset = T0S })    -- 2^-40 s: beyond 64-bit arithmetic
        .. NG.idb(1, { tsresol = 12, tsoffset = T0S - 10 })      -- picoseconds, 10 s early
        .. NG.epb(0, T0S * (1 << 20) + (1 << 19) + 1, eth_udp)  -- T0S + 0.5 s + 2^-20 s
        .. NG.epb(1, 3, raw_udp)
        .. NG.epb(2, 4 * (1 << 40) + (3 << 38), eth_tcp)        -- + 4.75 s
        .. NG.epb(3, 15 * 1000000000000 + 123456789999, eth_udp)
      local got = {}
      for _, p in ipairs(packets(file("res.pcapng", bytes))) do got[#got + 1] = p.ts_ns end
      assert.are.same({ T0S * SEC + 500000000 + 953, (T0S + 3) * SEC, (T0S + 4) * SEC + 750000000,
                        (T0S + 5) * SEC + 123456789 }, got)
    end)

    it("give a simple packet block the time of the packet before it and interface 0's snapshot length", function()
      local bytes = NG.shb() .. NG.idb(1, { snaplen = 40 }) .. NG.idb(101)
        .. NG.epb(1, (T0S + 7) * 1000000, raw_udp)
        .. NG.spb(eth_udp:sub(1, 40), #eth_udp)
        .. NG.pb(0, (T0S + 8) * 1000000, eth_tcp:sub(1, 40), { wirelen = #eth_tcp })
      local list = packets(file("spb.pcapng", bytes))
      assert.are.equal(3, #list)
      assert.are.same({ 1, (T0S + 7) * SEC, 40, #eth_udp, "10.0.0.1", 53 },
        { list[2].linktype, list[2].ts_ns, list[2].caplen, list[2].wirelen, list[2].src, list[2].dport })
      assert.are.same({ 1, (T0S + 8) * SEC, 40, "10.0.0.3", 80 },
        { list[3].linktype, list[3].ts_ns, list[3].caplen, list[3].src, list[3].dport })
      local r = assert(tpp.parse(file("spb.pcapng", bytes), { delta_t = 1 }))
      assert.are.same({ 0, 3, 3 }, { r.backwards_packets, r.packets, r.ip_packets })
    end)
  end)

  describe("malformed pcapng", function()
    local head = NG.shb() .. NG.idb(1)
    local good = NG.epb(0, T0S * 1000000, eth_udp)
    local at = #head + #good -- where the bad block starts

    local cases = {
      { "a packet of an interface the section does not have", NG.epb(3, (T0S + 1) * 1000000, eth_tcp),
        "a packet of interface 3, but its section has 1 interface" },
      { "a timestamp beyond what 64-bit nanoseconds hold", NG.epb(0, 0xffffffffffffffff, eth_tcp),
        "timestamp out of range" },
      { "a block length not a multiple of 4", NG.epb(0, T0S * 1000000, eth_tcp, { len = 70 }),
        "has a length of 70, not a multiple of 4" },
      { "a trailing length that differs", NG.epb(0, T0S * 1000000, eth_tcp, { trail = 80 }),
        "but a trailing length of 80" },
      { "a captured length beyond the block", NG.epb(0, T0S * 1000000, eth_tcp, { caplen = 500 }),
        "captured length 500 goes past the block's" },
      { "a captured length beyond the snapshot length", NG.epb(0, T0S * 1000000, eth_tcp, { caplen = 70000 }),
        "invalid packet capture length 70000, bigger than the snapshot length 65535 of interface 0" },
      { "a second section header of a bad byte order", NG.shb():sub(1, 8) .. "XXXX" .. NG.shb():sub(13),
        "section header block with a bad byte-order magic" },
      { "an unsupported version", NG.shb { major = 2 }, "unsupported pcapng version 2.0" },
      { "an interface block with a broken option", NG.block(1, string.pack("<I2I2I4", 1, 0, 0)
        .. NG.option(9, "\1\2")), "if_tsresol not 1 byte long" },
    }
    for _, case in ipairs(cases) do
      it(("stops at %s, with the byte offset, keeping the packets before it"):format(case[1]), function()
        local r = assert(tpp.parse(file("bad.pcapng", head .. good .. case[2] .. good), { delta_t = 1 }))
        assert.is_false(r.complete)
        assert.truthy(r.error:find(case[3], 1, true), r.error)
        assert.are.equal(("(near byte %d)"):format(at), r.error:match("%(near byte %d+%)$"), r.error)
        assert.are.same({ 1, 1 }, { r.packets, #r })
      end)
    end

    it("says a block cut short is truncated, with its size", function()
      local bytes = head .. good .. NG.epb(0, (T0S + 1) * 1000000, eth_tcp)
      local r = assert(tpp.parse(file("cut.pcapng", bytes:sub(1, #bytes - 10)), { delta_t = 1 }))
      assert.is_false(r.complete)
      assert.are.equal(("truncated capture: the last block has %d of its %d bytes (near byte %d)")
        :format(#bytes - 10 - at, #bytes - at, at), r.error)
      assert.are.equal(1, r.packets)
      local list = {}
      local ok, err = pcall(function()
        for p in tpp.packets(dir .. "/cut.pcapng") do list[#list + 1] = p end
      end)
      assert.is_false(ok)
      assert.truthy(tostring(err):find("truncated capture", 1, true))
      assert.are.equal(1, #list)
    end)

    it("stops at more than 65536 interfaces in one section (memory), keeping the packets before", function()
      local t = { head, good }
      for _ = 2, 65537 do t[#t + 1] = NG.idb(1) end
      local r = assert(tpp.parse(file("many.pcapng", table.concat(t))))
      assert.is_false(r.complete)
      assert.are.equal(("more than 65536 interfaces in one section (near byte %d)"):format(at + 65535 * 20), r.error)
      assert.are.equal(1, r.packets)
    end)

    it("refuses a file whose first packet comes before any interface", function()
      local path = file("noidb.pcapng", NG.shb() .. good)
      local r, err = tpp.parse(path)
      assert.is_nil(r)
      assert.are.equal(path .. ": a packet block before any Interface Description Block of its section", err)
    end)
  end)

  describe("timestamps at and after 2038", function()
    -- 2^31 s is 2038-01-19 03:14:08 UTC; pcap's 32-bit seconds are unsigned and reach 2106.
    local secs = { 2147483647, 2147483648, 2147483649 + 3600, 4294967295 }
    for _, order in ipairs { "little-endian (this machine's order)", "big-endian" } do
      it(("read as unsigned seconds in a %s pcap"):format(order), function()
        local big = order == "big-endian"
        local recs = {}
        for i, s in ipairs(secs) do recs[i] = { s, 250000 * i, eth_udp } end
        local path = file("2038.pcap", H.pcap_bytes(recs, { big = big }))
        local got = {}
        for i, p in ipairs(packets(path)) do got[i] = p.ts_ns end
        assert.are.same({ secs[1] * SEC + 250000000, secs[2] * SEC + 500000000, secs[3] * SEC + 750000000,
                          secs[4] * SEC + 1000000000 }, got)
        local r = assert(tpp.parse(path, { delta_t = 3600, boundary = "packet" }))
        assert.are.same({ 0, secs[1] * SEC + 250000000 }, { r.backwards_packets, r.first_ns })
      end)
    end

    it("read as unsigned in a nanosecond pcap too", function()
      local path = file("2038ns.pcap", H.pcap_bytes({ { 3000000000, 999999999, eth_udp } }, { nano = true }))
      assert.are.equal(3000000000 * SEC + 999999999, packets(path)[1].ts_ns)
    end)
  end)

  describe("compressed captures", function()
    local plain_packets = {}
    for i = 0, 199 do
      plain_packets[#plain_packets + 1] = { (T0S + i // 10), (i % 10) * 100000,
        H.eth4_udp("10.0." .. i % 7 .. ".1", "10.9.9." .. i % 13, 1000 + i, 53, ("p"):rep(i % 50)) }
    end
    local plain = H.pcap_bytes(plain_packets)

    local function compress(tool, src, dst)
      local _, err, status = H.sh(("%s -q -c %s > %s"):format(tool, q(src), q(dst)))
      assert(status == 0, tool .. ": " .. tostring(err))
      return dst
    end

    local function same_result(a, b)
      assert.are.same({ a.packets, a.ip_packets, #a }, { b.packets, b.ip_packets, #b })
      assert.are.same(a:column("entropy_src"), b:column("entropy_src"))
      assert.are.same(H.ports_list(a, "udp_src"), H.ports_list(b, "udp_src"))
    end

    for _, c in ipairs { { "zstd", ".zst" }, { "xz", ".xz" } } do
      local tool, ext = c[1], c[2]
      it(("reads %s like the plain capture, several frames or streams in a row too"):format(tool), function()
        local src = file("t.pcap", plain)
        local full = assert(tpp.parse(src, { delta_t = 1 }))
        local z = compress(tool, src, dir .. "/t.pcap" .. ext)
        assert.are.equal(tool, walk.kind(z))
        local r = assert(tpp.parse(z, { delta_t = 1 }))
        assert.is_true(r.complete, r.error)
        same_result(full, r)
        -- two halves compressed apart and concatenated (decompressed, the halves join up again)
        local cut = #plain // 2
        local a, b = file("a.bin", plain:sub(1, cut)), file("b.bin", plain:sub(cut + 1))
        local joined = file("j.pcap" .. ext, H.read_file(compress(tool, a, dir .. "/a" .. ext))
          .. H.read_file(compress(tool, b, dir .. "/b" .. ext)))
        local j = assert(tpp.parse(joined, { delta_t = 1 }))
        assert.is_true(j.complete, j.error)
        same_result(full, j)
      end)

      it(("reads %s from standard input"):format(tool), function()
        local z = compress(tool, file("t.pcap", plain), dir .. "/t.pcap" .. ext)
        local out, err, status = H.sh(("%s -e %s < %s"):format(q(TPP),
          q('local r = assert(require("tpp").parse("-")); io.write(r.packets, " ", tostring(r.complete))'), q(z)))
        assert.are.equal(0, status, err)
        assert.are.equal("200 true", out)
      end)

      it(("keeps the packets before a cut in %s data and says it is truncated"):format(tool), function()
        -- large enough for several zstd blocks (128 KiB each) before the cut
        local big = {}
        for i = 0, 5999 do big[#big + 1] = { T0S + i // 100, i % 100 * 1000, plain_packets[i % 200 + 1][3] } end
        local z = H.read_file(compress(tool, file("t.pcap", H.pcap_bytes(big)), dir .. "/t.pcap" .. ext))
        local path = file("cut.pcap" .. ext, z:sub(1, #z * 2 // 3))
        local r = assert(tpp.parse(path, { delta_t = 1 }))
        assert.is_false(r.complete)
        assert.truthy(r.error:find(tool .. ": unexpected end of file: the " .. tool .. " data is truncated", 1, true),
          r.error)
        assert.truthy(r.error:find("near byte %d+"), r.error)
        assert.is_true(r.packets > 1000 and r.packets < 6000, tostring(r.packets))
      end)

      it(("reports corrupt %s data"):format(tool), function()
        local z = H.read_file(compress(tool, file("t.pcap", plain), dir .. "/t.pcap" .. ext))
        local mid = #z // 2
        local path = file("bad.pcap" .. ext, z:sub(1, mid) .. ("\0"):rep(64) .. z:sub(mid + 65))
        local r, err = tpp.parse(path, { delta_t = 1 })
        local msg = r and r.error or err
        assert.truthy(msg and msg:find(tool .. ": corrupt data", 1, true), tostring(msg))
        if r then assert.is_false(r.complete) end
      end)
    end

    for _, c in ipairs {
      { "bzip2", "BZh91AY&SY" .. ("\0"):rep(40) }, { "lz4", "\x04\x22\x4d\x18" .. ("\0"):rep(40) },
      { "lzip", "LZIP\1" .. ("\0"):rep(40) },
    } do
      it(("names %s and asks for it to be decompressed first"):format(c[1]), function()
        local path = file("x.pcap." .. c[1], c[2])
        local r, err = tpp.parse(path)
        assert.is_nil(r)
        assert.are.equal(path .. ": " .. c[1] .. "-compressed: decompress it first", err)
        local kind, why = walk.kind(path)
        assert.is_nil(kind)
        assert.are.equal(path .. ": " .. c[1] .. "-compressed: decompress it first", why)
        local _, serr, status = H.sh(("%s -e %s < %s"):format(q(TPP),
          q('local r, e = require("tpp").parse("-"); io.stderr:write(e); os.exit(r and 0 or 3)'), q(path)))
        assert.are.equal(3, status)
        assert.are.equal("-: " .. c[1] .. "-compressed: decompress it first", serr)
      end)
    end

    it("names .zst and .xz captures by their stem", function()
      assert.are.same({ "x", "y", "z" }, { walk.stem("a/x.pcap.zst"), walk.stem("y.pcapng.xz"), walk.stem("z.xz") })
    end)
  end)

  describe("messages", function()
    it("calls an empty file, or empty standard input, an empty file", function()
      local path = file("empty.pcap", "")
      local r, err = tpp.parse(path)
      assert.is_nil(r)
      assert.are.equal(path .. ": empty file (0 bytes), not a capture", err)
      local _, serr, status = H.sh(("%s -e %s < /dev/null"):format(q(TPP),
        q('local r, e = require("tpp").parse("-"); io.stderr:write(e); os.exit(r and 0 or 3)')))
      assert.are.equal(3, status)
      assert.are.equal("-: empty file (0 bytes), not a capture", serr)
    end)

    it("says how much of a cut-short file header there is", function()
      local full_pcap = H.pcap_bytes({})
      local full_ng = NG.shb()
      for _, c in ipairs {
        { "h.pcap", full_pcap:sub(1, 4), "truncated capture: the file header has 4 of 24 bytes" },
        { "h.pcap", full_pcap:sub(1, 23), "truncated capture: the file header has 23 of 24 bytes" },
        { "h2.pcap", full_pcap:sub(1, 2), "truncated capture: the file header has 2 of 24 bytes" },
        { "h.pcapng", full_ng:sub(1, 10), "truncated capture: the file header has 10 of 28 bytes" },
        { "h.pcapng", full_ng:sub(1, 20), "truncated capture: the file header has 20 of 28 bytes" },
        { "h.pcapng", full_ng, "no Interface Description Block: the capture has no interfaces" },
        { "x.bin", "ab", "not a pcap or pcapng capture (2 bytes)" },
      } do
        local path = file(c[1], c[2])
        local r, err = tpp.parse(path)
        assert.is_nil(r)
        assert.are.equal(path .. ": " .. c[3], err)
      end
    end)

    it("names an unsupported link type of a classic pcap in the warning", function()
      local path = file("radiotap.pcap", H.pcap_bytes({ { T0S, 0, radiotap }, { T0S + 1, 0, radiotap } },
        { linktype = 127 }))
      local r = assert(tpp.parse(path))
      assert.are.same({ 2, 2, 127 }, { r.packets, r.non_ip_packets, r.linktype })
      assert.are.equal("link type 802.11 radiotap (127) is not decoded: its 2 packets count as non-IP", r.warning)
      local one = assert(tpp.parse(file("one.pcap", H.pcap_bytes({ { T0S, 0, "x" } }, { linktype = 300 }))))
      assert.are.equal("link type 300 is not decoded: its 1 packet counts as non-IP", one.warning)
    end)
  end)
end)
