-- The heavy hitters as a result keeps them (issue 19: in the dump's HHIT encoding, tpp/result.h): every entry of
-- every flat dimension, IPv4 and IPv6 addresses, prefixes and ports, compared with a recount of the packets
-- written, in a parse, a loaded dump, a selection and merges; intervals with 128 entries or more (a count of two
-- bytes), an empty one and one without packets; and a dump whose entries are not as tpp writes them.
local H = require "tests.helper"
local tpp = require "tpp"

local T0 = 1700000000 -- a multiple of 1 s: interval k is [T0 + k, T0 + k + 1)

local function is_v6(a) return a:find(":", 1, true) ~= nil end

-- The flows { src, dst, proto, sport, dport, count, payload } of interval k: 140 IPv4 sources over three /24s
-- to 20 destinations (TCP, one port each), 40 IPv6 sources over three /48s to 9 (UDP); packet counts and sizes
-- vary so that every rank rule is used (ties on packets broken by bytes, on both by the key).  Interval 1 is
-- empty, interval 2 has two packets (the IPv4 one the larger), interval 3 the pattern shifted.
local function flows(k)
  local list = {}
  if k == 1 then return list end
  if k == 2 then
    return { { "198.51.100.7", "203.0.113.9", "udp", 7, 9, 1, 100 }, { "2001:db8:5::1", "2001:db8:6::2", "tcp", 1, 22, 1, 0 } }
  end
  local shift = k == 3 and 1 or 0
  for i = 1, 140 do
    list[#list + 1] = { ("10.0.%d.%d"):format(i // 50, i % 50 + 1), ("192.0.2.%d"):format((i + shift) % 20 + 1), "tcp",
                        1024 + i, 1000 + i, (i + shift) % 7 + 1, (i % 3) * 10 }
  end
  for i = 1, 40 do
    list[#list + 1] = { ("2001:db8:%x::%x"):format(i % 3 + 1, i), ("2001:db8:ff::%x"):format((i + shift) % 9 + 1), "udp",
                        5000, 2000 + i, (i + shift) % 5 + 1, (i % 4) * 8 }
  end
  return list
end
local LAST = 3

local function packet(f)
  local src, dst, proto, sport, dport, payload = f[1], f[2], f[3], f[4], f[5], ("x"):rep(f[7])
  local l4 = proto == "tcp" and H.tcp(sport, dport, 0x10, payload) or H.udp(sport, dport, payload)
  local pn = proto == "tcp" and 6 or 17
  return is_v6(src) and H.ipv6(src, dst, pn, l4) or H.ipv4(src, dst, pn, l4)
end

-- The packets of intervals from..to, each interval's spread over its first half second.
local function packets(from, to)
  local out = {}
  for k = from, to do
    local n = 0
    for _, f in ipairs(flows(k)) do
      local ip = packet(f)
      for _ = 1, f[6] do
        n = n + 1
        out[#out + 1] = { ts_ns = (T0 + k) * 1000000000 + n * 100000, data = ip }
      end
    end
  end
  return out
end

local function write(path, list) return H.write_capture(path, "raw", list, { nanosecond = true }) end

-- The reference: each flat dimension's keys in interval k, ranked as docs/lua-api.md says (packets descending,
-- bytes descending, key ascending: IPv4 before IPv6, then the address bytes; ports by number), at most `keep`.
local function prefix_text(a)
  if is_v6(a) then return a:match("^(2001:db8:%x+)::") .. "::/48" end
  return a:match("^(%d+%.%d+%.%d+)%.") .. ".0/24"
end

local function order_key(text)                 -- bytes that sort as tpp ranks the keys
  local addr = text:match("^[^/]+")
  if is_v6(addr) then return "6" .. H.ip6(addr) end
  return "4" .. H.ip4(addr)
end

local FLAT = { "src", "dst", "src_p24", "dst_p24", "tcp_dport", "udp_dport" }

local function reference(k, keep)
  local dims, totals = {}, { ip = 0, tcp = 0, udp = 0 }
  for _, d in ipairs(FLAT) do dims[d] = {} end
  local function add(dim, key, order, n, bytes)
    local e = dims[dim][key]
    if not e then e = { key = key, order = order, packets = 0, bytes = 0 }; dims[dim][key] = e end
    e.packets, e.bytes = e.packets + n, e.bytes + bytes
  end
  for _, f in ipairs(flows(k)) do
    local n, bytes = f[6], f[6] * #packet(f)
    totals.ip, totals[f[3]] = totals.ip + n, totals[f[3]] + n
    add("src", f[1], order_key(f[1]), n, bytes)
    add("dst", f[2], order_key(f[2]), n, bytes)
    add("src_p24", prefix_text(f[1]), order_key(prefix_text(f[1])), n, bytes)
    add("dst_p24", prefix_text(f[2]), order_key(prefix_text(f[2])), n, bytes)
    add(f[3] .. "_dport", f[5], ("%05d"):format(f[5]), n, bytes)
  end
  return H.ref.ranked_hh(dims, totals, keep)
end

-- Row i of r is interval k of the capture: every flat dimension as the reference has it.
local function check_row(r, i, k, keep, what)
  local want = reference(k, keep)
  local n = 0
  for _, dim in ipairs(FLAT) do
    assert.are.same(want[dim], r:heavy_hitters(dim, i), ("%s: interval %d, %s"):format(what, k, dim))
    n = n + #want[dim]
  end
  return n
end

local function all_rows(r, keep, what)
  assert.are.equal(LAST + 1, #r, what)
  local most = 0
  for k = 0, LAST do most = math.max(most, check_row(r, k + 1, k, keep, what)) end
  return most
end

-- Every dimension's list of every row, the hierarchical ones too, for comparing two results.
local function lists(r)
  local out = {}
  for i = 1, #r do
    for _, dim in ipairs(tpp.hh_dims) do out[#out + 1] = r:heavy_hitters(dim, i) end
  end
  return out
end

-- The payload of a dump's section (stored as is: a small dump is not compressed).
local function section(bytes, want)
  local pos = 25
  while true do
    local tag, flags, stored, raw, at = string.unpack("<c4I4I8I8", bytes, pos)
    if tag == want then return at, stored, raw, flags end
    assert(tag ~= "END ", want .. " not found")
    pos = at + stored
  end
end


describe("heavy hitters kept in the dump's encoding", function()
  local dir, whole_path, r, r_all
  local KEEP = 200 -- more than any dimension has: every key

  setup(function()
    dir = H.tmpdir()
    whole_path = write(dir .. "/whole.pcap", packets(0, LAST))
    r = assert(tpp.parse(whole_path, { delta_t = 1 }))
    r_all = assert(tpp.parse(whole_path, { delta_t = 1, heavy_hitters = KEEP }))
  end)
  teardown(function() H.rmtree(dir) end)

  it("are every key of every flat dimension, IPv4 and IPv6, as counted from the packets", function()
    assert.are.equal(10 + 10 + 6 + 2 + 10 + 10, check_row(r, 1, 0, 10, "top 10")) -- 3 + 3 sources' prefixes
    all_rows(r, 10, "top 10")
    local most = all_rows(r_all, KEEP, "every key")
    assert.is_true(most >= 128, "an interval with a count of two bytes") -- 180 + 29 + 6 + 2 + 140 + 40
    for _, dim in ipairs(tpp.hh_dims) do assert.are.same({}, r_all:heavy_hitters(dim, 2)) end
  end)

  it("load from a dump as they were, and the dump of the loaded result is the same bytes", function()
    for _, x in ipairs { { r, 10 }, { r_all, KEEP } } do
      local path = dir .. "/r.tpd"
      assert(x[1]:dump(path))
      local loaded = assert(tpp.load(path))
      all_rows(loaded, x[2], "loaded")
      assert.are.same(lists(x[1]), lists(loaded))
      assert(loaded:dump(dir .. "/again.tpd"))
      assert.is_true(H.read_file(path) == H.read_file(dir .. "/again.tpd"), "the dump of the loaded result")
      local tsv1, tsv2 = dir .. "/a.tsv", dir .. "/b.tsv"
      assert(x[1]:write_heavy_hitters(tsv1))
      assert(loaded:write_heavy_hitters(tsv2))
      assert.are.equal(H.read_file(tsv1), H.read_file(tsv2))
    end
  end)

  it("follow their rows into a selection, and through its dump", function()
    local sel = r_all:select { 1, 3, 4 }
    for n, k in ipairs { 0, 2, 3 } do check_row(sel, n, k, KEEP, "selection") end
    assert(sel:dump(dir .. "/sel.tpd"))
    local loaded = assert(tpp.load(dir .. "/sel.tpd"))
    for n, k in ipairs { 0, 2, 3 } do check_row(loaded, n, k, KEEP, "selection loaded") end
  end)

  it("merge from pieces cut between intervals and inside one, as the whole capture's", function()
    local all = packets(0, LAST)
    local inside = 0 -- the first packet at or after T0 + 0.01 s: a cut inside interval 0
    for n, p in ipairs(all) do
      if p.ts_ns >= T0 * 1000000000 + 10000000 and inside == 0 then inside = n end
    end
    local between = #packets(0, 1) + 1 -- the first packet of interval 2
    for _, cut in ipairs { between, inside } do
      local a = write(dir .. "/a.pcap", table.move(all, 1, cut - 1, 1, {}))
      local b = write(dir .. "/b.pcap", table.move(all, cut, #all, 1, {}))
      for _, keep in ipairs { 10, KEEP } do
        local pa = assert(tpp.parse(a, { delta_t = 1, heavy_hitters = keep }))
        local pb = assert(tpp.parse(b, { delta_t = 1, heavy_hitters = keep }))
        assert(pa:dump(dir .. "/a.tpd"))
        local m = assert(tpp.merge { assert(tpp.load(dir .. "/a.tpd")), pb })
        all_rows(m, keep, ("merged, cut before packet %d"):format(cut))
        local whole = keep == 10 and r or r_all
        assert.are.same(lists(whole), lists(m))
        assert(m:dump(dir .. "/m.tpd"))
        assert(whole:dump(dir .. "/w.tpd"))
        local mb, wb = H.read_file(dir .. "/m.tpd"), H.read_file(dir .. "/w.tpd")
        local ma, ms = section(mb, "HHIT")
        local wa, ws = section(wb, "HHIT")
        assert.is_true(mb:sub(ma, ma + ms - 1) == wb:sub(wa, wa + ws - 1), "HHIT as the whole's")
      end
    end
  end)

  it("refuse a dump whose entry is not as tpp writes it (a varint one byte too long), naming the file", function()
    local small = assert(tpp.parse(write(dir .. "/small.pcap", packets(2, 2)), { delta_t = 1 }))
    assert(small:dump(dir .. "/small.tpd"))
    local bytes = H.read_file(dir .. "/small.tpd")
    local at, stored, raw, flags = section(bytes, "HHIT")
    assert.are.equal(0, flags)
    assert.are.equal(stored, raw)
    -- the payload: count, then the first entry: dim 0 (src), family 4, length 32, 4 address bytes, packets 1
    local payload = bytes:sub(at, at + stored - 1)
    assert.are.equal("\0\4\32", payload:sub(2, 4))
    assert.are.equal(1, payload:byte(9))
    local function forged(entry_packets)
      local p = payload:sub(1, 8) .. entry_packets .. payload:sub(10)
      local head = at - 24
      local body = bytes:sub(1, head - 1) .. string.pack("<c4I4I8I8", "HHIT", 0, #p, #p) .. p
                   .. bytes:sub(at + stored, -5)
      local path = H.write_file(dir .. "/forged.tpd", body .. string.pack("<I4", H.crc32(body)))
      return path, tpp.load(path)
    end
    local path, ok = forged("\1") -- the forging itself changes nothing
    assert.is_truthy(ok, "the unchanged entry loads")
    local r2, err
    path, r2, err = forged("\129\0")
    assert.is_nil(r2)
    assert.truthy(err:find(path, 1, true), err)
    assert.truthy(err:find("bad heavy hitter 0 of interval 0", 1, true), err)
  end)
end)
