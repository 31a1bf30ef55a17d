-- tests/fuzz/make_seeds.lua — writes the seed corpora of the fuzz targets (tests/fuzz/seeds/<target>/).
--
--   ./tpp tests/fuzz/make_seeds.lua          (rerunning it rewrites the same files; the dumps differ in the
--                                         source mtime they record)
--
-- Seeds are small and varied rather than many: every link type tpp decodes, IPv4/IPv6 with options, extension
-- headers and fragments; pcap in both byte orders and resolutions, pcapng with several blocks and options,
-- gzip (one and two members); dumps with plain and compressed sections.  The fuzzer's own corpus grows in
-- build/fuzz/corpus/.
local tpp = require "tpp"
local H = require "tests.helper"

local ROOT = "tests/fuzz/seeds/"
local function put(target, name, bytes)
  os.execute("mkdir -p " .. ROOT .. target)
  H.write_file(ROOT .. target .. "/" .. name, bytes)
end

-- Frames -------------------------------------------------------------------------------------------------
local A4, B4, A6, B6 = "10.0.0.1", "192.168.7.9", "2001:db8::1", "2001:db8:0:1::2"
local tcp = H.tcp(40000, 443, H.SYN | H.ACK, "hello")
local ip4_tcp = H.ipv4(A4, B4, H.PROTO_TCP, tcp, { options = "\1\1\1\0" })
local ip4_udp = H.ipv4(A4, B4, H.PROTO_UDP, H.udp(5353, 53, "q"))
local ip4_frag = H.ipv4(A4, B4, H.PROTO_UDP, "fragment body", { frag_offset = 10 })
local ip4_icmp = H.ipv4(B4, A4, H.PROTO_ICMP, H.icmp(8, 0, "\0\1\0\1ping"))
local ip6_udp = H.ipv6(A6, B6, H.PROTO_UDP, H.udp(546, 547, "dhcp"),
  { ext = { { type = H.PROTO_HOPOPT }, { type = H.PROTO_ROUTING }, { type = H.PROTO_DSTOPTS, len = 16 } } })
local ip6_frag = H.ipv6(A6, B6, H.PROTO_TCP, tcp, { ext = { { type = H.PROTO_FRAGMENT, more = true } } })
local ip6_tcp = H.ipv6(B6, A6, H.PROTO_TCP, H.tcp(80, 51000, H.FIN))

-- fuzz_decode: byte 0 indexes fuzz_decode.c's table (NULL, ETHERNET, RAW, LOOP, SLL, IPV4, IPV6, SLL2, 12, 14).
-- The tun_* seeds (tunnels, framing, cut inner headers) are frames of the captures tests/reference/encap.py writes.
local LT = { null = 0, ethernet = 1, raw = 2, loop = 3, sll = 4, ipv4 = 5, ipv6 = 6, sll2 = 7, raw12 = 8 }
local frames = {
  eth4_tcp = { LT.ethernet, H.eth_ip(ip4_tcp) },
  eth_vlan6 = { LT.ethernet, H.ethernet_vlan(7, H.ETH_IPV6, ip6_udp) },
  eth_qinq4 = { LT.ethernet, H.ethernet_qinq(1, 2, H.ETH_IPV4, ip4_udp) },
  eth_arp = { LT.ethernet, H.ethernet(nil, nil, H.ETH_ARP, H.arp()) },
  raw4_frag = { LT.raw, ip4_frag },
  raw6_frag = { LT.raw, ip6_frag },
  raw12_icmp = { LT.raw12, ip4_icmp },
  null6 = { LT.null, H.null(24, ip6_tcp) },
  loop4 = { LT.loop, H.loop(H.AF_INET, ip4_udp) },
  sll4 = { LT.sll, H.sll(H.ETH_IPV4, ip4_tcp) },
  sll2_6 = { LT.sll2, H.sll2(H.ETH_IPV6, ip6_tcp) },
  ipv4 = { LT.ipv4, ip4_icmp },
  ipv6 = { LT.ipv6, ip6_udp },
  other_linktype = { 0xf0, "\105" .. H.eth_ip(ip4_tcp) },   -- link type 105, not decoded
}
for name, f in pairs(frames) do put("decode", name, string.char(f[1]) .. f[2]) end

-- fuzz_capture: whole files --------------------------------------------------------------------------------
local dir = H.tmpdir()
local function packets(n, make)
  local list = {}
  for i = 0, n - 1 do list[#list + 1] = { ts_ns = H.T0 + i * 700000 + (i % 3) * 13, data = make(i) } end
  return list
end
local mixed = packets(12, function(i)
  local choice = { H.eth_ip(ip4_tcp), H.eth_ip(ip6_udp), H.eth_ip(ip4_frag), H.eth_ip(ip6_frag),
                   H.ethernet_vlan(3, H.ETH_IPV4, ip4_udp), H.eth_ip(ip4_icmp) }
  return choice[i % #choice + 1]
end)
mixed[8].ts_ns = mixed[6].ts_ns - 5   -- one timestamp going backwards
local function capture(name, linktype, list, opts)
  local path = dir .. "/" .. name
  H.write_capture(path, linktype, list, opts)
  put("capture", name, H.read_file(path))
end
capture("eth.pcap", "ethernet", mixed)
capture("eth-ns.pcap", "ethernet", mixed, { nanosecond = true })
capture("eth.pcapng", "ethernet", mixed, { format = "pcapng" })
capture("eth.pcap.gz", "ethernet", mixed, { gzip = true })
capture("eth.pcapng.gz", "ethernet", mixed, { format = "pcapng", gzip = true })
capture("sll.pcap", "sll", packets(4, function(i) return H.sll(i % 2 == 0 and H.ETH_IPV4 or H.ETH_IPV6, i % 2 == 0 and ip4_udp or ip6_tcp) end))
capture("sll2.pcapng", "sll2", packets(3, function() return H.sll2(H.ETH_IPV4, ip4_tcp) end), { format = "pcapng" })
capture("raw.pcap", "raw", packets(4, function(i) return i % 2 == 0 and ip4_tcp or ip6_udp end))
capture("null.pcap", "null", packets(3, function() return H.null(2, ip4_udp) end))
capture("user0.pcap", H.LINKTYPE.USER0, packets(3, function() return "opaque" end))
capture("snap64.pcap", "ethernet", mixed, { snaplen = 64 })

-- Two gzip members: a pcap whose second half is a separate member (as `cat a.gz b.gz` makes).
do
  local whole = H.read_file(ROOT .. "capture/eth.pcap")
  H.write_file(dir .. "/a", whole:sub(1, 200)); H.write_file(dir .. "/b", whole:sub(201))
  assert(os.execute("gzip -n -c " .. dir .. "/a > " .. dir .. "/ab.gz && gzip -n -c " .. dir .. "/b >> " .. dir .. "/ab.gz"))
  put("capture", "two-members.pcap.gz", H.read_file(dir .. "/ab.gz"))
end

-- A big-endian pcap (swapped magic) with microsecond stamps.
do
  local out = { string.pack(">I4I2I2i4I4I4I4", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1) }
  for i, p in ipairs(mixed) do
    if i > 4 then break end
    out[#out + 1] = string.pack(">I4I4I4I4", p.ts_ns // H.NS, p.ts_ns % H.NS // 1000, #p.data, #p.data) .. p.data
  end
  put("capture", "big-endian.pcap", table.concat(out))
end

-- pcapng by hand: a big-endian section with options, two interfaces (us and 2^-10 s resolution), an enhanced
-- packet block with options, a simple packet block, a name resolution block and an unknown block type.
do
  local E = ">"
  local function pad4(s) return s .. ("\0"):rep((4 - #s % 4) % 4) end
  local function opt(code, val) return string.pack(E .. "I2I2", code, #val) .. pad4(val) end
  local endopt = opt(0, "")
  local function block(t, body) body = pad4(body); return string.pack(E .. "I4I4", t, 12 + #body) .. body .. string.pack(E .. "I4", 12 + #body) end
  local shb = block(0x0A0D0D0A, string.pack(E .. "I4I2I2i8", 0x1A2B3C4D, 1, 0, -1) .. opt(4, "tpp seeds") .. endopt)
  local idb0 = block(1, string.pack(E .. "I2I2I4", 1, 0, 65535) .. opt(2, "eth0") .. opt(9, "\6") .. endopt)
  local function idb1(linktype)
    return block(1, string.pack(E .. "I2I2I4", linktype, 0, 65535) .. opt(9, "\138") .. opt(14, string.pack(E .. "i8", 10)) .. endopt)
  end
  local function epb(iface, ts, data, opts)
    return block(6, string.pack(E .. "I4I4I4I4I4", iface, ts >> 32, ts & 0xffffffff, #data, #data + 4) .. pad4(data) .. (opts or ""))
  end
  local spb = block(3, string.pack(E .. "I4", #mixed[2].data) .. mixed[2].data)
  local nrb = block(4, string.pack(E .. "I2I2", 1, 8) .. H.ip4(A4) .. "a.b\0" .. string.pack(E .. "I2I2", 0, 0))
  local unknown = block(0x0BAD, "whatever")
  local us = H.T0 // 1000
  local function file(linktype1, data1)
    return shb .. idb0 .. idb1(linktype1) .. epb(0, us, mixed[1].data, opt(2, string.pack(E .. "I4", 1)) .. endopt)
      .. nrb .. epb(1, 1700000000 * 1024, data1) .. unknown .. spb .. epb(0, us + 5, mixed[3].data)
  end
  put("capture", "handmade-be.pcapng", file(1, mixed[2].data))
  put("capture", "mixed-linktypes.pcapng", file(101, ip6_udp))   -- libpcap refuses a second link type
end
-- A truncated pcap (cut inside a record) and a pcapng cut inside a block.
put("capture", "cut.pcap", H.read_file(ROOT .. "capture/eth.pcap"):sub(1, 300))
put("capture", "cut.pcapng", H.read_file(ROOT .. "capture/eth.pcapng"):sub(1, 333))

-- pcapng sections of both byte orders (interfaces numbered afresh), an obsolete packet block, picosecond and
-- 2^-40 s resolutions; a pcap after 2038 in this machine's byte order; zstd and xz of the Ethernet pcap.
do
  local NG = H.pcapng
  local us = H.T0 // 1000
  put("capture", "sections.pcapng", NG.shb() .. NG.idb(1, { tsresol = 12, tsoffset = 1700000000 })
    .. NG.epb(0, 5 * 1000000000000 + 7, mixed[1].data) .. NG.shb { big = true } .. NG.idb(101, { big = true })
    .. NG.idb(1, { big = true, tsresol = 0x80 | 40, tsoffset = 1700000000 }) .. NG.epb(0, us, ip4_tcp, { big = true })
    .. NG.pb(1, 3 << 39, mixed[2].data, { big = true }) .. NG.spb(ip6_udp, nil, { big = true }))
  put("capture", "after-2038.pcap", H.pcap_bytes({ { 2147483648, 5, mixed[1].data }, { 2147483650, 999999, mixed[2].data } }))
  for _, c in ipairs { { "zstd", "zst" }, { "xz", "xz" } } do
    assert(os.execute(c[1] .. " -q -c " .. ROOT .. "capture/eth.pcap > " .. dir .. "/e." .. c[2]))
    put("capture", "eth.pcap." .. c[2], H.read_file(dir .. "/e." .. c[2]))
  end
end

-- fuzz_dump: byte 0 = 1 (fix the CRC) or 0, then a dump ---------------------------------------------------
local function dump(name, capture_name, opts)
  local r = assert(tpp.parse(ROOT .. "capture/" .. capture_name, opts))
  assert(r:dump(dir .. "/d.tpd"))
  local bytes = H.read_file(dir .. "/d.tpd")
  put("dump", name, "\1" .. bytes)
  return bytes
end
dump("aligned.tpd", "eth.pcap", { delta_t = 0.001 })
dump("packet-v4.tpd", "eth.pcapng", { delta_t = 0.002, boundary = "packet", ip = "v4", filter = "tcp or udp" })
dump("empty.tpd", "user0.pcap", { delta_t = 1 })
local plain = dump("incomplete.tpd", "cut.pcap", { delta_t = 0.0001, max_packets = 9 })
put("dump", "incomplete-raw-crc.tpd", "\0" .. plain)
-- Enough intervals for a compressed COLS section (payload >= 4096 bytes).
dump("compressed-cols.tpd", "eth.pcap", { delta_t = 0.00002 })
-- Some feature groups only (format 4 writes the state of the groups that are on).
dump("features-some.tpd", "eth.pcap", { delta_t = 0.001, features = "flows,headers", flow_timeout = 0.0005 })
-- Full tables of every interval (TABS, with flows, lengths and port bytes in format 4), and a dump of a merge.
dump("tables-all.tpd", "eth.pcap", { delta_t = 0.001, keep_tables = "all" })
do
  local path = ROOT .. "capture/eth.pcap"
  local plan = tpp.split_plan(path, { delta_t = 0.001, chunks = 2 })
  if plan and #plan == 2 then
    local parts = {}
    for k, c in ipairs(plan) do
      parts[k] = assert(tpp.parse(path, { delta_t = 0.001, range = { c.from, c.to }, prev_ns = c.prev_ns }))
    end
    assert(parts[1]:dump(dir .. "/chunk.tpd"))
    put("dump", "chunk.tpd", "\1" .. H.read_file(dir .. "/chunk.tpd"))

  end
end

-- A merge of two pieces of a capture (its merge state rebuilt by tpp.merge).
do
  local list = {}
  for k, range in ipairs { { 1, 6 }, { 7, 12 } } do
    list[k] = dir .. "/part" .. k .. ".pcap"
    H.write_capture(list[k], "ethernet", { table.unpack(mixed, range[1], range[2]) })
  end
  local parts = { assert(tpp.parse(list[1], { delta_t = 0.001 })), assert(tpp.parse(list[2], { delta_t = 0.001 })) }
  assert(assert(tpp.merge(parts)):dump(dir .. "/merged.tpd"))
  put("dump", "merged.tpd", "\1" .. H.read_file(dir .. "/merged.tpd"))
end

H.rmtree(dir)
