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

-- CRC-32 (IEEE, as zlib's crc32), to forge dumps whose checksum is right but whose contents are not.
local CRC = {}
for i = 0, 255 do
  local c = i
  for _ = 1, 8 do c = (c & 1 == 1) and (0xEDB88320 ~ (c >> 1)) or (c >> 1) end
  CRC[i] = c
end
local function crc32(s)
  local c = 0xFFFFFFFF
  for i = 1, #s do c = CRC[(c ~ s:byte(i)) & 0xFF] ~ (c >> 8) end
  return c ~ 0xFFFFFFFF
end
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
      assert.are.equal("big.pcap\nd.tpd\n", (H.run("ls -A " .. H.shell_quote(dir))))
    end)
  end)
end)
