-- Dumps: r:dump(path) and tpp.load(path) round-trip every number; damaged files give clear errors.
local tpp = require "tpp"
local synth = require "tpp.synth"
local H = require "tests.helper"

local PARITY = "tests/data/parity/"
local SERIES = { "tcp_src", "tcp_dst", "udp_src", "udp_dst" }

-- Everything a result says, as plain Lua data: columns (NaN as a string), histograms, summary fields.
local function snapshot(r)
  local s = { n = #r, columns = {}, ports = {}, fields = {}, distinct = {} }
  for _, name in ipairs(r:columns()) do
    local col = r:column(name)
    for i, v in ipairs(col) do if v ~= v then col[i] = "nan" end end
    s.columns[name] = col
  end
  for _, series in ipairs(SERIES) do
    local list = {}
    for i, port, count in r:ports(series) do list[#list + 1] = { i, port, count } end
    s.ports[series] = list
    s.distinct[series] = r:distinct_ports(series)
  end
  for _, f in ipairs(r:fields()) do s.fields[f] = r[f] end
  return s
end

local function round_trip(r, dir)
  local path = dir .. "/r.tpd"
  assert(r:dump(path))
  return assert(tpp.load(path)), path
end

local function assert_same_result(r, loaded, dir)
  assert.are.same(snapshot(r), snapshot(loaded))
  assert(r:write_critical(dir .. "/live.tsv"))
  assert(loaded:write_critical(dir .. "/loaded.tsv"))
  assert.are.equal(H.read_file(dir .. "/live.tsv"), H.read_file(dir .. "/loaded.tsv"))
end

local crc32 = H.crc32
local function with_crc(body) return body .. string.pack("<I4", crc32(body)) end

describe("dumps", function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rmtree(dir) end)

  describe("round trip", function()
    local captures = { "synth-a.pcap", "synth-b.pcap.gz", "afs.pcap", "modbusBig.pcap", "cwd-navigation.pcap" }
    for _, cap in ipairs(captures) do
      for _, opts in ipairs { { boundary = "aligned", delta_t = 1 }, { boundary = "packet", ip = "v4", delta_t = 5 } } do
        it(("restores every column, histogram and field of %s (%s)"):format(cap, opts.boundary), function()
          local r = assert(tpp.parse(PARITY .. cap, opts))
          local loaded = round_trip(r, dir)
          assert_same_result(r, loaded, dir)
          assert.are.equal(opts.boundary, loaded.boundary)
          assert.are.equal(opts.delta_t, loaded.delta_t)
        end)
      end
    end

    it("keeps the filter, limits, source size and modification time", function()
      local r = assert(tpp.parse(PARITY .. "synth-a.pcap",
        { delta_t = 0.25, filter = "tcp port 80 or udp", max_packets = 5000, max_intervals = 3, ip = "v6" }))
      local loaded = round_trip(r, dir)
      assert_same_result(r, loaded, dir)
      assert.are.equal("tcp port 80 or udp", loaded.filter)
      assert.are.equal(5000, loaded.max_packets)
      assert.are.equal(3, loaded.max_intervals)
      assert.are.equal("v6", loaded.ip)
      assert.are.equal(250000000, loaded.delta_ns)
      assert.are.equal(4142628, loaded.source_size)
      assert.are.equal(r.source_mtime, loaded.source_mtime)
    end)

    it("works for pcapng, gzip and IPv6-only captures", function()
      for _, name in ipairs { "t.pcapng", "t.pcap.gz", "v6.pcap" } do
        local path = dir .. "/" .. name
        synth.generate(path, { packets = 3000, duration = 20, seed = 3, ipv6 = name == "v6.pcap" and 1 or 0.2 })
        local r = assert(tpp.parse(path, { delta_t = 2, ip = name == "v6.pcap" and "v6" or "any" }))
        assert.is_true(#r > 0)
        assert_same_result(r, (round_trip(r, dir)), dir)
      end
    end)

    it("works for an empty capture with zero intervals", function()
      local path = H.write_capture(dir .. "/empty.pcap", "ethernet", {})
      local r = assert(tpp.parse(path))
      assert.are.equal(0, #r)
      local loaded = round_trip(r, dir)
      assert.are.equal(0, #loaded)
      assert_same_result(r, loaded, dir)
    end)

    it("keeps an incomplete result's error", function()
      local data = H.read_file(PARITY .. "afs.pcap")
      local cut = H.write_file(dir .. "/cut.pcap", data:sub(1, #data // 2))
      local r = assert(tpp.parse(cut))
      assert.is_false(r.complete)
      local loaded = round_trip(r, dir)
      assert.is_false(loaded.complete)
      assert.are.equal(r.error, loaded.error)
    end)

    it("replaces an existing dump and leaves no temporary file", function()
      local r1 = assert(tpp.parse(PARITY .. "afs.pcap"))
      local r2 = assert(tpp.parse(PARITY .. "modbusBig.pcap"))
      assert(r1:dump(dir .. "/x.tpd"))
      assert(r2:dump(dir .. "/x.tpd"))
      assert.are.equal(r2.source, tpp.load(dir .. "/x.tpd").source)
      assert.are.equal("x.tpd\n", (H.run("ls -A " .. H.shell_quote(dir))))
    end)
  end)

  describe("format, read as docs/dump-format.md describes it", function()
    -- An independent reader of the documented layout, for a small dump whose META, COLS and PORT sections are
    -- stored uncompressed.
    local function read_documented(bytes)
      assert.are.equal("\x89TPD\r\n\x1a\n", bytes:sub(1, 8))
      local version, endian, fcheck = string.unpack("<I4I4d", bytes, 9)
      assert.are.same({ 5, 0x01020304, 370.5 }, { version, endian, fcheck })
      assert.are.equal(crc32(bytes:sub(1, -5)), string.unpack("<I4", bytes, #bytes - 3))
      local pos, sections = 25, {}
      while true do
        local tag, flags, stored, raw, next_pos = string.unpack("<c4I4I8I8", bytes, pos)
        sections[#sections + 1] = { tag = tag, flags = flags, raw = raw, data = bytes:sub(next_pos, next_pos + stored - 1) }
        pos = next_pos + stored
        if tag == "END " then break end
      end
      assert.are.equal(#bytes - 3, pos)
      return sections
    end

    it("matches the document field by field", function()
      local r = assert(tpp.parse(PARITY .. "afs.pcap", { delta_t = 30, boundary = "packet", filter = "udp" }))
      assert(r:dump(dir .. "/afs.tpd"))
      local s = read_documented(H.read_file(dir .. "/afs.tpd"))
      assert.are.same({ "META", "COLS", "PORT", "SEEN", "TABS", "HHIT", "NOVL", "FLOW", "LABL", "END " },
        { s[1].tag, s[2].tag, s[3].tag, s[4].tag, s[5].tag, s[6].tag, s[7].tag, s[8].tag, s[9].tag, s[10].tag })
      assert.are.equal("\0", s[9].data)   -- no labels
      assert.are.same({ 0, 0, 0 }, { s[1].flags, s[2].flags, s[3].flags })

      local m, p = s[1].data, 1
      local version, source, size, mtime, fingerprint, linktype, delta, boundary, ip, anchor, maxp, maxi, filter
      version, source, size, mtime, fingerprint, linktype, delta, boundary, ip, anchor, maxp, maxi, filter, p =
        string.unpack("<s4s4I8i8I8I4i8BBBI8I8s4", m, p)
      assert.are.same({ tpp.version, r.source, r.source_size, r.source_fingerprint, 1, 30000000000, 1, 0, 0, "udp" },
        { version, source, size, ("%016x"):format(fingerprint), linktype, delta, boundary, ip, anchor, filter })
      assert.are.equal(r.source_mtime, mtime / 1e9)
      local packets, ip_packets, _, _, _, _, first, last, complete, _, err, warn, max_gap, keep, _, pieces,
        mergeable, range_from, range_to, _, has_prev, features, flow_timeout, hh_k, hhh_phi, encap, encapsulated, n,
        meta_end = string.unpack("<I8I8I8I8I8I8i8i8BBs4s4i8BBI8BI8I8i8BI4i8I4dBI8I8", m, p)
      assert.are.same({ r.packets, r.ip_packets, r.first_ns, r.last_ns, 1, "", "", 3600e9, 0, 1, 1, 0, 0, 0, 63, 60e9,
                        10, 0.05, 0, 0, #r },
        { packets, ip_packets, first, last, complete, err, warn, max_gap, keep, pieces, mergeable, range_from,
          range_to, has_prev, features, flow_timeout, hh_k, hhh_phi, encap, encapsulated, n })
      assert.are.equal(#m + 1, meta_end)

      local c, q = s[2].data, 1
      local ncols
      ncols, q = string.unpack("<I4", c, q)
      local names, types = {}, {}
      for k = 1, ncols do names[k], types[k], q = string.unpack("<s4B", c, q) end
      local state = 0
      for k = 1, ncols do
        local merge_state = names[k]:match("^state%.")
        state = state + (merge_state and 1 or 0)
        local want = merge_state and {} or r:column(names[k])
        for i = 1, n do
          local fmt = types[k] == 0x54 and "<i8" or types[k] == 0x43 and "<I8" or "<d"
          local v
          v, q = string.unpack(fmt, c, q)
          if types[k] == 0x54 then v = v / 1e9 end
          if merge_state then -- not columns: checked by the merge specs
          elseif v == v then assert.are.equal(want[i], v, names[k]) else assert.is_true(want[i] ~= want[i]) end
        end
      end
      assert.are.equal(#c + 1, q)
      assert.are.same({ #tpp.column_names() - 1, 18 }, { ncols - state, state })

      local function varint(data, at)
        local v, shift = 0, 0
        repeat
          local b = data:byte(at)
          v, shift, at = v | ((b & 0x7f) << shift), shift + 7, at + 1
        until b < 0x80
        return v, at
      end
      local d, at, got = s[3].data, 1, {}
      for _, series in ipairs(SERIES) do
        for i = 1, n do
          local count
          count, at = varint(d, at)
          local port = -1
          for _ = 1, count do
            local gap, cnt
            gap, at = varint(d, at)
            cnt, at = varint(d, at)
            port = port + 1 + gap
            got[#got + 1] = ("%s %d %d %d"):format(series, i, port, cnt)
          end
        end
      end
      assert.are.equal(#d + 1, at)
      local want = {}
      for _, series in ipairs(SERIES) do
        for i, port, count in r:ports(series) do want[#want + 1] = ("%s %d %d %d"):format(series, i, port, count) end
      end
      assert.are.same(want, got)
      assert.are.equal(32768, s[4].raw)
      assert.are.equal(string.pack("<I8", 0), s[5].data) -- the packet mode keeps no address tables
      -- heavy hitters: per interval a count, then its entries (checked against r:heavy_hitters in
      -- merge_features_spec through whole and merged dumps); the addresses seen and the flow marks
      local hh_at, hh_rows = 1, 0
      for i = 1, n do
        local count
        count, hh_at = varint(s[6].data, hh_at)
        assert.are.equal(#r:heavy_hitters("src", i) + #r:heavy_hitters("dst", i) + #r:heavy_hitters("src_p24", i)
          + #r:heavy_hitters("dst_p24", i) + #r:heavy_hitters("tcp_dport", i) + #r:heavy_hitters("udp_dport", i)
          + #r:heavy_hitters("src_hhh", i) + #r:heavy_hitters("dst_hhh", i), count)
        hh_rows = hh_rows + count
        for _ = 1, count do
          local dim = s[6].data:byte(hh_at)
          hh_at = hh_at + 1
          if dim == 4 or dim == 5 then
            _, hh_at = varint(s[6].data, hh_at)
          else
            local ipv, plen = s[6].data:byte(hh_at, hh_at + 1)
            assert.is_true(ipv == 4 or ipv == 6)
            hh_at = hh_at + 2 + plen // 8
          end
          _, hh_at = varint(s[6].data, hh_at)
          _, hh_at = varint(s[6].data, hh_at)
        end
      end
      assert.is_true(hh_rows > 0)
      assert.are.equal(#s[6].data + 1, hh_at)
      assert.is_true(#s[7].data > 0 and #s[8].data > 0)
      assert.are.equal(0, s[10].raw)
    end)
  end)

  describe("damaged files", function()
    local good
    setup(function()
      local d = H.tmpdir()
      local r = assert(tpp.parse(PARITY .. "afs.pcap", { delta_t = 2 }))
      assert(r:dump(d .. "/good.tpd"))
      good = H.read_file(d .. "/good.tpd")
      H.rmtree(d)
    end)

    local function load_bytes(bytes)
      local path = H.write_file(dir .. "/bad.tpd", bytes)
      local r, err = tpp.load(path)
      assert.is_nil(r)
      assert.is_string(err)
      assert.truthy(err:find(path, 1, true), "the message names the file: " .. err)
      return err
    end

    it("rejects a truncation at every offset", function()
      for len = 0, #good - 1 do
        local err = load_bytes(good:sub(1, len))
        if len >= 8 then assert.truthy(err:match("truncated") or err:match("checksum"), err) end
      end
    end)

    it("rejects a flipped bit at many offsets", function()
      local step = math.max(1, #good // 400)
      for off = 1, #good, step do
        local byte = good:byte(off)
        for _, bit in ipairs { 0, 3, 7 } do
          load_bytes(good:sub(1, off - 1) .. string.char(byte ~ (1 << bit)) .. good:sub(off + 1))
        end
      end
    end)

    it("says a file that is not a dump is not one", function()
      assert.truthy(load_bytes(H.read_file(PARITY .. "afs.pcap")):match("not a tpp dump"))
      assert.truthy(load_bytes(""):match("empty file"))
    end)

    it("says a newer format version needs a newer tpp", function()
      local future = good:sub(1, 8) .. string.pack("<I4", 99) .. good:sub(13)
      assert.truthy(load_bytes(future):match("newer tpp %(dump format 99"))
    end)

    it("recognises damage by a text-mode transfer", function()
      assert.truthy(load_bytes((good:gsub("\r\n", "\n"))):match("text%-mode"))
    end)

    it("refuses counts that do not fit the file, even with a valid checksum", function()
      -- META is uncompressed and ends with the interval count; claim 2^40 intervals.
      local body = good:sub(1, -5)
      local meta_len = string.unpack("<I8", body, 24 + 8 + 1)
      local count_at = 24 + 24 + meta_len - 8
      local forged = body:sub(1, count_at) .. string.pack("<I8", 1 << 40) .. body:sub(count_at + 9)
      assert.truthy(load_bytes(with_crc(forged)):match("too short for 1099511627776 intervals"))
    end)

    it("refuses a section that claims more bytes than the file has", function()
      local body = good:sub(1, -5)
      local forged = body:sub(1, 24 + 8) .. string.pack("<I8", 1 << 50) .. body:sub(24 + 17)
      assert.truthy(load_bytes(with_crc(forged)):match("claims"))
    end)
  end)

  describe("writing", function()
    it("returns nil and a message when the directory does not exist", function()
      local r = assert(tpp.parse(PARITY .. "afs.pcap"))
      local ok, err = r:dump(dir .. "/missing/x.tpd")
      assert.is_nil(ok)
      assert.truthy(err:find(dir .. "/missing/x.tpd", 1, true))
    end)

    it("leaves what stood at the path when the write fails", function()
      local r = assert(tpp.parse(PARITY .. "afs.pcap"))
      os.execute("mkdir " .. H.shell_quote(dir .. "/taken.tpd"))
      H.write_file(dir .. "/taken.tpd/inside", "kept")
      local ok, err = r:dump(dir .. "/taken.tpd")
      assert.is_nil(ok)
      assert.is_string(err)
      assert.are.equal("kept", H.read_file(dir .. "/taken.tpd/inside"))
      assert.are.equal("taken.tpd\n", (H.run("ls -A " .. H.shell_quote(dir))))
    end)

    it("leaves the previous dump whole when the writer is killed mid-way", function()
      local cap = dir .. "/big.pcap"
      synth.generate(cap, { packets = 200000, duration = 100, seed = 5 })
      local target = dir .. "/d.tpd"
      assert(assert(tpp.parse(cap, { delta_t = 1 })):dump(target))
      local code = ("local r = require('tpp').parse(%q, { delta_t = 1 }) while true do assert(r:dump(%q)) end")
        :format(cap, target)
      for attempt = 1, 6 do
        local pid = H.run(H.tpp_binary() .. " -e " .. H.shell_quote(code) .. " >/dev/null 2>&1 & echo $!")
        os.execute(("sleep 0.%d; kill -9 %s; sleep 0.05"):format(3 + attempt, pid:match("%d+")))
        local r, err = tpp.load(target)
        assert.is_not_nil(r, err)
        assert.are.equal(100, #r)
      end
      -- a writer killed between naming its temporary file and the rename leaves it; the next writer removes it
      assert(assert(tpp.load(target)):dump(target))
      assert.are.equal("big.pcap\nd.tpd\n", (H.run("ls -A " .. H.shell_quote(dir))))
    end)
  end)
end)
