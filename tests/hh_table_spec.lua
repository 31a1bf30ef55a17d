-- The heavy-hitter table's text (r:write_heavy_hitters in TSV, CSV and NDJSON), every byte of it, against a
-- formatting done here from the packets written: addresses as inet_ntop spells them (RFC 5952, and the dotted tail
-- of IPv4-compatible and IPv4-mapped IPv6 addresses), prefixes with their length, ports, counts, and the share as
-- the shortest "%.15g"/"%.16g"/"%.17g" text that reads back as the same double.  The C writer spells all of these
-- by hand for speed (issue 19); this catches any byte it gets wrong.
local H = require "tests.helper"
local tpp = require "tpp"

local T0 = 1700000000
local GAP = 11 -- seconds between the flows' intervals: interval numbers of one to three digits

-- IPv6 addresses as their eight groups: runs of zero groups (first of two equal, the longer of two, a single one
-- not compressed, all zero, leading, trailing), the dotted forms, hex groups of every width.
local V6 = {
  { 0x2001, 0xdb8, 0, 0, 0, 0, 0, 1 }, { 0x2001, 0xdb8, 0, 0, 1, 0, 0, 1 }, { 0x2001, 0, 0, 1, 0, 0, 0, 1 },
  { 0x2001, 0xdb8, 0, 1, 1, 1, 1, 1 }, { 0, 0, 0, 0, 0, 0, 0, 0 }, { 0, 0, 0, 0, 0, 0, 0, 1 },
  { 1, 0, 0, 0, 0, 0, 0, 0 }, { 0, 0, 0, 0, 0, 0xffff, 0xc000, 0x0201 }, { 0, 0, 0, 0, 0, 0, 0xc000, 0x0201 },
  { 0, 0, 0, 0, 0, 0, 0, 2 }, { 0, 0, 0, 0, 0, 1, 0, 0 }, { 0xfe80, 0, 0, 0, 0xabcd, 0xef01, 0x2345, 0x6789 },
  { 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff }, { 0, 1, 2, 3, 4, 5, 6, 7 },
  { 1, 0, 0, 2, 3, 4, 5, 6 }, { 0x2001, 0xdb8, 0xa, 0xbc, 0xdef, 0x1000, 0x100, 0x10 },
  { 0, 0, 0, 0, 0, 0xffff, 0, 0 }, { 0, 0, 0, 0, 0, 0xfffe, 0xc000, 0x0201 }, { 0, 0, 0, 0, 0, 0, 1, 0 },
  { 0x2001, 0xdb8, 0, 0, 0, 0, 0xc000, 0x201 }, { 0, 0, 0, 0, 0, 0xffff, 0x0a00, 0x0009 },
}
-- IPv4 addresses as their bytes: one-, two- and three-digit bytes, zeros.
local V4 = { { 0, 0, 0, 0 }, { 255, 255, 255, 255 }, { 10, 0, 0, 1 }, { 192, 0, 2, 99 }, { 100, 9, 10, 200 },
             { 1, 2, 3, 4 }, { 172, 16, 254, 17 } }
-- The second flow of each interval, in prefixes none of the above shares.
local OTHER = { [4] = { { 203, 0, 113, 7 }, { 198, 51, 100, 9 } },
                [6] = { { 0x2001, 0xdb8, 0xffff, 0, 0, 0, 0, 0xc }, { 0x2001, 0xdb8, 0xfffe, 0, 0, 0, 0, 0xd } } }

local function bytes_of(family, a)
  if family == 4 then return string.char(table.unpack(a)) end
  return string.pack(">I2I2I2I2I2I2I2I2", table.unpack(a))
end

-- RFC 5952: groups in lowercase hex without leading zeros, the first longest run of two or more zero groups as
-- "::"; as inet_ntop, the last 32 bits dotted after six zero groups or five and ffff.
local function v6_text(w)
  local best, best_len, run = nil, 0, 0
  for i = 1, 8 do
    run = w[i] == 0 and run + 1 or 0
    if run > best_len then best, best_len = i - run + 1, run end
  end
  if best == 1 and (best_len == 6 or (best_len == 5 and w[6] == 0xffff)) then
    return (best_len == 6 and "::" or "::ffff:") .. ("%d.%d.%d.%d"):format(w[7] >> 8, w[7] & 255, w[8] >> 8, w[8] & 255)
  end
  local hex = {}
  for i = 1, 8 do hex[i] = ("%x"):format(w[i]) end
  if best_len < 2 then return table.concat(hex, ":") end
  return table.concat(hex, ":", 1, best - 1) .. "::" .. table.concat(hex, ":", best + best_len, 8)
end

local function address_text(family, a)
  return family == 4 and table.concat(a, ".") or v6_text(a)
end

-- The /24 (IPv4) or /48 (IPv6) prefix of an address, as text.
local function prefix_text(family, a)
  if family == 4 then return ("%d.%d.%d.0/24"):format(a[1], a[2], a[3]) end
  return v6_text { a[1], a[2], a[3], 0, 0, 0, 0, 0 } .. "/48"
end

-- The shortest of "%.15g", "%.16g", "%.17g" that reads back as x.
local function real_text(x)
  for prec = 15, 17 do
    local s = ("%." .. prec .. "g"):format(x)
    if tonumber(s) == x or prec == 17 then return s end
  end
end

-- The flows: interval k (at GAP * k s) has flow A (TCP, k + 2 packets, to port 80 + 7k) and flow B (UDP, one
-- packet, to port 53 + k) of one family.
local function flows()
  local list = {}
  for _, family in ipairs { 6, 4 } do
    local addrs = family == 6 and V6 or V4
    for i, a in ipairs(addrs) do
      local k = #list
      list[#list + 1] = {
        family = family, k = k,
        a = { src = a, dst = addrs[i % #addrs + 1], packets = k + 2, dport = 80 + 7 * k, payload = 100 + 37 * k },
        b = { src = OTHER[family][1], dst = OTHER[family][2], packets = 1, dport = 53 + k, payload = 3 * k },
      }
    end
  end
  return list
end

local function ip_packet(family, f, proto)
  local l4 = proto == "tcp" and H.tcp(40000, f.dport, H.ACK, ("x"):rep(f.payload)) or H.udp(40001, f.dport, ("y"):rep(f.payload))
  local pn = proto == "tcp" and H.PROTO_TCP or H.PROTO_UDP
  local src, dst = bytes_of(family, f.src), bytes_of(family, f.dst)
  return family == 6 and H.ipv6(src, dst, pn, l4) or H.ipv4(src, dst, pn, l4)
end

local function write_capture(path, list)
  local packets = {}
  for _, iv in ipairs(list) do
    local n = 0
    for _, side in ipairs { { iv.a, "tcp" }, { iv.b, "udp" } } do
      local data = ip_packet(iv.family, side[1], side[2])
      side[1].len = #data
      for _ = 1, side[1].packets do
        n = n + 1
        packets[#packets + 1] = { ts_ns = (T0 + GAP * iv.k) * 1000000000 + n * 1000000, data = data }
      end
    end
  end
  return H.write_capture(path, "raw", packets, { nanosecond = true })
end

-- The expected rows: { interval, dim, key, packets, bytes, share } as text, intervals ascending, the dimensions in
-- the documented order, each by packets (A has more than B).
local function expected_rows(list)
  local rows = {}
  for _, iv in ipairs(list) do
    local fam, a, b = iv.family, iv.a, iv.b
    local total = a.packets + b.packets
    local function row(dim, key, f, of)
      rows[#rows + 1] = { tostring(GAP * iv.k), dim, key, tostring(f.packets), tostring(f.packets * f.len),
                          real_text(f.packets / of) }
    end
    for _, side in ipairs { "src", "dst" } do
      row(side, address_text(fam, a[side]), a, total)
      row(side, address_text(fam, b[side]), b, total)
    end
    for _, side in ipairs { "src", "dst" } do
      row(side .. "_p24", prefix_text(fam, a[side]), a, total)
      row(side .. "_p24", prefix_text(fam, b[side]), b, total)
    end
    row("tcp_dport", tostring(a.dport), a, a.packets)
    row("udp_dport", tostring(b.dport), b, b.packets)
    for _, side in ipairs { "src", "dst" } do
      row(side .. "_hhh", address_text(fam, a[side]), a, total)
      row(side .. "_hhh", address_text(fam, b[side]), b, total)
    end
  end
  return rows
end

local COLUMNS = { "interval", "dim", "key", "packets", "bytes", "share" }

local function expected_lines(rows, format)
  local lines = {}
  if format == "ndjson" then
    for n, r in ipairs(rows) do
      lines[n] = ('{"interval":%s,"dim":"%s","key":"%s","packets":%s,"bytes":%s,"share":%s}'):format(table.unpack(r))
    end
    return lines
  end
  local sep = format == "csv" and "," or "\t"
  lines[1] = table.concat(COLUMNS, sep)
  for n, r in ipairs(rows) do lines[n + 1] = table.concat(r, sep) end
  return lines
end

describe("the heavy-hitter table's text", function()
  local dir, list, r

  setup(function()
    dir = H.tmpdir()
    list = flows()
    r = assert(tpp.parse(write_capture(dir .. "/hh.pcap", list), { delta_t = 1, features = "hh", hhh_phi = 0.01 }))
  end)
  teardown(function() H.rmtree(dir) end)

  it("has the intervals the flows were written in", function()
    assert.are.equal(GAP * (#list - 1) + 1, #r)
  end)

  for _, format in ipairs { "tsv", "csv", "ndjson" } do
    it("spells every row in " .. format .. " as formatted here from the packets", function()
      local path = dir .. "/hh." .. format
      assert.is_true(r:write_heavy_hitters(path, format))
      local text = H.read_file(path)
      local eol = format == "csv" and "\r\n" or "\n"
      assert.are.equal(eol, text:sub(-#eol))
      local got = {}
      for line in (text):gmatch("(.-)" .. eol) do got[#got + 1] = line end
      local want = expected_lines(expected_rows(list), format)
      for n = 1, math.max(#want, #got) do assert.are.equal(want[n], got[n], ("%s line %d"):format(format, n)) end
      assert.are.equal(table.concat(want, eol) .. eol, text)
    end)
  end

  it("keys r:heavy_hitters with the same text", function()
    for _, iv in ipairs(list) do
      local src = r:heavy_hitters("src", GAP * iv.k + 1)
      assert.are.equal(address_text(iv.family, iv.a.src), src[1].key)
      assert.are.equal(prefix_text(iv.family, iv.b.dst), r:heavy_hitters("dst_p24", GAP * iv.k + 1)[2].key)
    end
  end)
end)
