-- Red-team findings on numbers and formats (issue 12, items 4-10, 18, 21, 22): each block below is a defect that
-- the merged fixes still had, on inputs built byte by byte (tests/helper.lua) so that nothing depends on tpp's
-- own writer.
local tpp = require "tpp"
local H = require "tests.helper"

local SEC = H.NS
local radiotap = ("\0\0\8\0\0\0\0\0") .. ("w"):rep(30)

describe("hardening: numbers and formats", function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rmtree(dir) end)

  local function file(name, bytes) return H.write_file(dir .. "/" .. name, bytes) end

  -- Item 8: a pcap of a link type tpp does not decode is read by libpcap, which takes a native-order file's
  -- seconds as signed: 2038 came out as 1901.  Its packets still count, so their times must be right.
  it("reads pcap seconds at and after 2038 as unsigned for link types libpcap reads", function()
    for _, big in ipairs({ false, true }) do
      local recs = { { 2147483648, 5, radiotap }, { 4294967295, 0, radiotap } }
      local path = file("radiotap2038.pcap", H.pcap_bytes(recs, { big = big, linktype = 127 }))
      local r = assert(tpp.parse(path, { delta_t = 86400 }))
      assert.are.equal(2147483648 * SEC + 5000, r.first_ns)
      assert.are.equal(4294967295 * SEC, r.last_ns)
      assert.are.equal(2, r.packets)
      local ts = {}
      for p in tpp.packets(path) do ts[#ts + 1] = p.ts_ns end
      assert.are.same({ 2147483648 * SEC + 5000, 4294967295 * SEC }, ts)
    end
  end)
  -- Item 9: the IP header's length says where the datagram ends.  A minimum-size Ethernet frame pads a short
  -- datagram; the padding is not a transport header (it used to give a TCP packet ports and a SYN).
  it("decodes no transport header past the end of the IP datagram", function()
    local syn_like = H.tcp(4444, 80, H.SYN)
    local frames = {
      -- an IPv4 header of protocol TCP with no TCP header (total length 20), padded with a SYN's bytes
      H.eth_ip(H.ipv4("10.0.0.1", "10.0.0.2", H.PROTO_TCP, syn_like, { total_length = 20 })),
      -- a UDP datagram whose IPv4 length stops after 2 bytes of the UDP header
      H.eth_ip(H.ipv4("10.0.0.1", "10.0.0.2", H.PROTO_UDP, H.udp(53, 53, "xx"), { total_length = 22 })),
      -- IPv6 with a payload length of 4: half a TCP header, then padding that reads like the rest of a SYN
      H.eth_ip(H.ipv6("2001:db8::1", "2001:db8::2", H.PROTO_TCP, syn_like, { payload_length = 4 })),
      -- a whole TCP SYN, for contrast
      H.eth4_tcp("10.0.0.1", "10.0.0.2", 5555, 443, H.SYN),
    }
    local recs = {}
    for k, f in ipairs(frames) do recs[k] = { 1700000000, k, f } end
    local path = file("padded.pcap", H.pcap_bytes(recs))
    local r = assert(tpp.parse(path, { delta_t = 10 }))
    local iv = r:interval(1)
    assert.are.equal(4, iv.ip_packets)
    assert.are.same({ 20 + 0, 22, 44, 40 }, (function()
      local lens = {}
      for p in tpp.packets(path) do lens[#lens + 1] = p.ip_len end
      return lens
    end)())
    assert.are.equal(1, iv.syn)                -- only the real SYN
    assert.are.equal(2, iv.tcp_port_packets)   -- the real SYN and the IPv6 packet's ports (inside its 4 bytes)
    assert.are.equal(0, iv.udp_port_packets)
    assert.are.equal(0, r.truncated_packets)   -- cut by its own length, not by the capture
    local ports = {}
    for p in tpp.packets(path) do ports[#ports + 1] = { p.sport, p.dport, p.flags } end
    assert.are.same({ {}, {}, { 4444, 80 }, { 5555, 443, H.SYN } }, ports)
  end)

  -- Item 9: an IPv6 jumbogram has a payload length of 0; its length is in the hop-by-hop header's Jumbo Payload
  -- option (RFC 2675), clamped like any other to the wire length.  It used to count as 40 bytes.
  it("takes a jumbogram's length from its Jumbo Payload option", function()
    local hbh = string.char(H.PROTO_UDP, 0) .. string.char(0xc2, 4) .. string.pack(">I4", 70008)
    local ip = H.ipv6("2001:db8::1", "2001:db8::2", H.PROTO_HOPOPT, hbh .. H.udp(1, 2, "jumbo"),
                      { payload_length = 0 })
    local frame = H.eth_ip(ip)
    local path = file("jumbo.pcap", H.pcap_bytes({ { 1700000000, 0, frame, 14 + 40 + 70008 },
                                                    { 1700000000, 1, frame, 14 + 40 + 100 } }))
    local lens, ports = {}, {}
    for p in tpp.packets(path) do lens[#lens + 1] = p.ip_len; ports[#ports + 1] = p.dport end
    assert.are.same({ 40 + 70008, 40 + 100 }, lens)   -- the option's length, then the wire's (a snapped copy)
    assert.are.same({ 2, 2 }, ports)
    local r = assert(tpp.parse(path, { delta_t = 10 }))
    assert.are.equal(40 + 70008 + 40 + 100, r:interval(1).ip_bytes)
    -- a jumbo length near 2^32 is cut to the frame too (40 + it must not wrap around to a small length)
    local huge = H.eth_ip(H.ipv6("2001:db8::1", "2001:db8::2", H.PROTO_HOPOPT,
      string.char(H.PROTO_UDP, 0, 0xc2, 4) .. string.pack(">I4", 0xffffffff) .. H.udp(1, 2, "big"), { payload_length = 0 }))
    local hp = file("huge.pcap", H.pcap_bytes({ { 1700000000, 0, huge } }))
    for p in tpp.packets(hp) do
      assert.are.equal(#huge - 14, p.ip_len)
      assert.are.equal(2, p.dport)
    end
  end)
  -- Item 10: a zstd file may start with a skippable frame (pzstd, from the zstd package, writes one before each
  -- frame; libzstd steps over them).  Such a file was "not a pcap or pcapng capture", and the main job skipped it.
  it("reads zstd data that starts with a skippable frame, as pzstd writes it", function()
    local recs = {}
    for i = 1, 50 do recs[i] = { 1700000000 + i // 10, i, H.eth4_udp("10.0.0.1", "10.0.0.2", 1000 + i, 53, "q") } end
    local plain = file("p.pcap", H.pcap_bytes(recs))
    local out, err, status = H.sh("zstd -q -c " .. H.shell_quote(plain))
    assert(status == 0, err)
    local skippable = string.pack("<I4I4", 0x184D2A50, 4) .. string.pack("<I4", #out)
    local path = file("pz.pcap.zst", skippable .. out .. string.pack("<I4I4", 0x184D2A5F, 3) .. "end")
    assert.are.equal("zstd", require("tpp.walk").kind(path))
    local r = assert(tpp.parse(path, { delta_t = 1 }))
    assert.is_true(r.complete, r.error)
    assert.are.equal(50, r.packets)
    local o, e, st = H.sh(("%s -e %s < %s"):format(H.shell_quote(H.tpp_binary()),
      H.shell_quote('local r = assert(require("tpp").parse("-")); io.write(r.packets)'), H.shell_quote(path)))
    assert.are.equal(0, st, e)
    assert.are.equal("50", o)
  end)
  -- Item 18/20: libpcap reads the modified pcap format (magic 0xa1b2cd34, 24-byte records) and so does
  -- tpp.parse, but the walk called such a file "not a capture" and the main job skipped it.
  it("walks to a capture in the modified pcap format that libpcap reads", function()
    local frame = H.eth4_udp("10.0.0.1", "10.0.0.2", 1000, 53, "m")
    local rec = string.pack("<I4I4I4I4", 1700000000, 5, #frame, #frame) .. string.pack("<I4I2BB", 0, 0, 0, 0) .. frame
    local sub = dir .. "/in"
    assert(require("lfs").mkdir(sub))
    local path = H.write_file(sub .. "/kuz.pcap", string.pack("<I4I2I2i4I4I4I4", 0xa1b2cd34, 2, 4, 0, 0, 65535, 1)
      .. rec .. rec)
    assert.are.equal("pcap", require("tpp.walk").kind(path))
    local r = assert(tpp.parse(path))
    assert.are.equal(2, r.ip_packets)
    local _, err, status = H.sh(("%s scripts/exec.lua -q -f none -j 1 -o %s %s"):format(
      H.shell_quote(H.tpp_binary()), H.shell_quote(dir .. "/out"), H.shell_quote(sub)))
    assert.are.equal(0, status, err)
    local _, rows = H.read_tsv(dir .. "/out/critical/kuz_critical.tsv")
    assert.are.equal(1, #rows)
  end)
  -- Item 22: a rolling window whose values are all NaN (intervals without IP packets) has no sum: it read 0, as
  -- if the window had been quiet, while the documentation says NaN.
  it("gives NaN for a rolling sum over a window without values, and a count of 0", function()
    local c = tpp.column({ 1, 0 / 0, 0 / 0, 4 })
    local function show(col)
      local out = {}
      for i, v in ipairs(col) do out[i] = v ~= v and "nan" or v end
      return out
    end
    assert.are.same({ 1, "nan", "nan", 4 }, show(c:rolling(1, "sum")))
    assert.are.same({ "nan", 1, "nan", 4 }, show(c:rolling(2, "sum")))
    assert.are.same({ "nan", 1, 0, 1 }, show(c:rolling(2, "count")))
    assert.are.same({ "nan", 1, "nan", 4 }, show(c:rolling(2, "max")))
  end)
  -- Item 9: Linux BIG TCP writes an IPv4 total length of 0 above 64 KiB (tcpdump's corpus has such captures,
  -- bigtcp-ipv4*.pcap); tcpdump and Wireshark take the frame's length then.  tpp counted them as malformed,
  -- non-IP.  A length of 1 to 19 is still impossible.
  it("takes an IPv4 total length of 0 as the frame's (segmentation offload), and 1 to 19 as malformed", function()
    local seg = H.eth_ip(H.ipv4("10.0.0.1", "10.0.0.2", H.PROTO_TCP, H.tcp(40000, 443, H.ACK, ("d"):rep(100)),
                                { total_length = 0 }))
    local bad = H.eth_ip(H.ipv4("10.0.0.1", "10.0.0.2", H.PROTO_TCP, H.tcp(40000, 443, H.ACK), { total_length = 19 }))
    local path = file("bigtcp.pcap", H.pcap_bytes({ { 1700000000, 0, seg }, { 1700000000, 1, seg:sub(1, 60), 80066 },
                                                     { 1700000000, 2, bad } }))
    local r = assert(tpp.parse(path, { delta_t = 10 }))
    assert.are.equal(2, r.ip_packets)
    assert.are.equal(1, r.malformed_packets)
    local iv = r:interval(1)
    assert.are.equal((20 + 20 + 100) + (80066 - 14), iv.ip_bytes)
    assert.are.equal(2, iv.tcp_port_packets)
  end)
  -- Item 18: link types outside tpp's short list of names (Apple's PKTAP, Juniper's, DSA tags: all in tcpdump's
  -- corpus) were named by their number alone ("link type 258 is not decoded").
  it("names rarer link types it does not decode, by libpcap's description", function()
    for linktype, name in pairs({ [258] = "Apple DLT_PKTAP (258)", [178] = "Juniper Ethernet (178)" }) do
      local path = file("lt.pcap", H.pcap_bytes({ { 1700000000, 0, ("\0"):rep(40) } }, { linktype = linktype }))
      local r = assert(tpp.parse(path))
      assert.are.equal("link type " .. name .. " is not decoded: its 1 packet counts as non-IP", r.warning)
    end
  end)
  -- Item 4 (the JSON writer): JSON text is UTF-8.  A capture named in Latin-1 put its raw bytes in "source", and
  -- Python's json (so pandas) refused the whole file.
  it("writes JSON that is valid UTF-8 whatever the capture's name", function()
    local recs = { { 1700000000, 0, H.eth4_udp("10.0.0.1", "10.0.0.2", 1, 2, "x") } }
    local path = file("caf\xe9 d\xc3\xa9j\xc3\xa0 \xed\xa0\x80.pcap", H.pcap_bytes(recs))
    local r = assert(tpp.parse(path))
    assert(r:to_json(dir .. "/out.json"))
    local text = H.read_file(dir .. "/out.json")
    assert.is_truthy(utf8.len(text), "not UTF-8")
    -- bad bytes become U+FFFD, good sequences stay
    assert.is_truthy(text:find('caf\\ufffd d\xc3\xa9j\xc3\xa0 \\ufffd\\ufffd\\ufffd.pcap"', 1, true), text:sub(1, 200))
  end)
  -- Items 5 and 21: `tpp -i` takes --anchor like the other parse options, but neither usage text listed it.
  it("lists --anchor in tpp -i's usage and in tpp --help", function()
    local tppq = H.shell_quote(H.tpp_binary())
    local _, err, status = H.sh(tppq .. " -i --no-such-option")
    assert.are.equal(2, status)
    assert.is_truthy(err:find("--anchor epoch|first", 1, true), err)
    local out = H.sh(tppq .. " --help")
    assert.is_truthy(out:find("--anchor A", 1, true), out)
  end)
  -- Item 4 (r:port_entropy): an interval without a TCP packet has no port distribution.  Its port entropy was 0,
  -- "everything on one port", which a z-score over the column flags as the strongest anomaly of an idle trace.
  it("gives NaN port entropy for an interval without packets of the series (aligned mode)", function()
    local recs = {
      { 1700000000, 0, H.eth4_tcp("10.0.0.1", "10.0.0.2", 1000, 80, H.ACK) },
      { 1700000000, 1, H.eth4_tcp("10.0.0.1", "10.0.0.2", 1000, 443, H.ACK) },
      { 1700000012, 0, H.eth4_udp("10.0.0.1", "10.0.0.2", 1000, 53, "q") },
      { 1700000025, 0, H.eth4_tcp("10.0.0.1", "10.0.0.2", 1000, 22, H.ACK) },
    }
    local r = assert(tpp.parse(file("pe.pcap", H.pcap_bytes(recs)), { delta_t = 10 }))
    local e = r:port_entropy("tcp_dst")
    assert.are.equal(3, #e)
    assert.are.equal(1, e[1])
    assert.is_true(e[2] ~= e[2])   -- only UDP in the second interval
    assert.are.equal(0, e[3])      -- one port
  end)
  -- Item 5 (and 20): 0.5 ns rounded up to a 1 ns grid instead of being refused as below one nanosecond; and a
  -- grid far finer than the gaps between packets was blamed on "the capture's clock" alone ("jumps forward by 0 s").
  it("refuses delta_t under one nanosecond, and keeps every packet when the grid is too fine for the gaps", function()
    assert.has_error(function() tpp.parse("x.pcap", { delta_t = 5e-10 }) end, "option delta_t is below one nanosecond")
    local _, err, status = H.sh(("%s scripts/exec.lua -t 5e-10 -o %s x.pcap"):format(
      H.shell_quote(H.tpp_binary()), H.shell_quote(dir .. "/out")))
    assert.are.equal(2, status)
    assert.is_truthy(err:find("at least one nanosecond", 1, true), err)
    local recs = { { 1700000000, 0, H.eth4_udp("10.0.0.1", "10.0.0.2", 1, 2, "a") },
                   { 1700000000, 500000, H.eth4_udp("10.0.0.1", "10.0.0.2", 1, 2, "b") } }
    -- Since issue 14 such a gap ends a segment (more than 100,000 empty intervals), and no packet is lost.
    local r = assert(tpp.parse(file("fine.pcap", H.pcap_bytes(recs)), { delta_t = 1e-9 }))
    assert.is_true(r.complete)
    assert.are.same({ 2, 2, 2 }, { r.packets, #r, r.segments })
  end)
  -- Item 22: arithmetic gives floats (`#r / 2` is 6.0).  r:top_ports and r:select took 2.0 for 2, as Lua's own
  -- functions do, but r:interval, r:index, r:port_series, c:rolling, c:diff and c:std refused it.
  it("takes a float with an integral value wherever an index, a port or a count is expected", function()
    local recs = {}
    for i = 0, 39 do recs[#recs + 1] = { 1700000000 + i, 0, H.eth4_tcp("10.0.0.1", "10.0.0.2", 1000, 22, H.SYN) } end
    local r = assert(tpp.parse(file("f.pcap", H.pcap_bytes(recs)), { delta_t = 10 }))
    local half = #r / 2                                    -- 2.0
    assert.are.equal(r:interval(2).start, r:interval(half).start)
    assert.are.equal(2, r:interval(half).index)
    assert.are.equal(2, r:index(half))
    assert.is_true(math.type(r:index(half)) == "integer")
    local sel = r:where(function(_, i) return i > 1 end)
    assert.are.equal(3, sel:index(half))
    assert.are.same(r:port_series("tcp_dst", 22), r:port_series("tcp_dst", 22.0))
    local c = r:column("packets")
    assert.are.same({ table.unpack(c:diff(1), 2) }, { table.unpack(c:diff(1.0), 2) })
    assert.are.equal(c:std(1), c:std(1.0))
    assert.are.equal(10, c:rolling(2.0, "mean")[2])
    assert.has_error(function() r:interval(1.5) end)
    assert.has_error(function() c:rolling(1.5, "mean") end)
  end)
  -- Items 4 and 19: a result whose intervals have no IP packet printed "entropy_src nil–nil" (the range of a
  -- column of NaN), and one packet was "1 packets".
  it("prints a result without IP packets, or with one packet, in words", function()
    local arp = H.ethernet(nil, nil, H.ETH_ARP, H.arp())
    local one = assert(tpp.parse(file("one.pcap", H.pcap_bytes({ { 1700000000, 0, arp } }))))
    local text = tostring(one)
    assert.is_truthy(text:find("1 packet (0 IP)", 1, true), text)
    assert.is_truthy(text:find("entropy_src undefined", 1, true), text)
    assert.is_falsy(text:find("nil", 1, true), text)
  end)
end)
