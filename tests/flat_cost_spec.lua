-- Issue 19, flat cost: what makes the outputs of a result of many intervals cheaper must not change them.  A
-- large dump's sections (more than 4 MB) are deflated as they are handed over, its columns as they are made; the
-- main job writes the dump on a thread of its own (r:dump_start) while it writes the tables; the parse fills the
-- whole-trace port sets in the pass that flushes each interval's histograms.
local tpp = require "tpp"
local synth = require "tpp.synth"
local H = require "tests.helper"

local SERIES = { "tcp_src", "tcp_dst", "udp_src", "udp_dst" }

local work -- { dir, capture, r (features all), none (features none) }, made once
local function setup()
  if work then return work end
  local dir = H.tmpdir()
  local capture = dir .. "/fine.pcap"
  assert(synth.generate(capture, { packets = 20000, duration = 12, start = 1674709200, seed = 19 }))
  work = { dir = dir, capture = capture,
           r = assert(tpp.parse(capture, { delta_t = 0.001 })),
           none = assert(tpp.parse(capture, { delta_t = 0.001, features = "none" })) }
  return work
end

-- Every (interval, port, count) of a result, per series.
local function port_lists(r)
  local all = {}
  for _, series in ipairs(SERIES) do
    local list = {}
    for i, port, count in r:ports(series) do list[#list + 1] = ("%d %d %d"):format(i, port, count) end
    all[series] = list
  end
  return all
end

-- The COLS section's header in a dump file: flags, stored and raw length (docs/dump-format.md: a 24-byte file
-- header, then sections of tag[4], u32 flags, u64 stored, u64 raw, the stored bytes).
local function cols_header(bytes)
  local pos = 25
  while pos + 24 <= #bytes do
    local tag, flags, stored, raw = string.unpack("<c4 I4 I8 I8", bytes, pos)
    if tag == "COLS" then return flags, stored, raw end
    pos = pos + 24 + stored
  end
end

describe("flat cost (issue 19)", function()
  teardown(function() if work then H.rmtree(work.dir) end end)

  describe("r:dump of a result of many intervals", function()
    for _, which in ipairs { "r", "none" } do
      it("deflates its columns as they are made and loads back the same result (features " ..
         (which == "r" and "all" or "none") .. ")", function()
        local w = setup()
        local r = w[which]
        assert.is_true(#r >= 12000)
        local path = w.dir .. "/" .. which .. ".tpd"
        assert(r:dump(path))
        local flags, stored, raw = cols_header(H.read_file(path))
        assert.are.equal(1, flags)                 -- deflated
        assert.is_true(raw >= 4 * 1024 * 1024)     -- large enough to be streamed
        assert.is_true(stored < raw)
        local loaded = assert(tpp.load(path))      -- the CRC, the sizes and the inflated length are checked
        assert.are.equal(r:critical_text(), loaded:critical_text())
        assert.are.same(port_lists(r), port_lists(loaded))
        if which == "r" then -- the heavy hitters (HHIT, also a large section) too
          assert(r:write_heavy_hitters(w.dir .. "/live_hh.tsv"))
          assert(loaded:write_heavy_hitters(w.dir .. "/loaded_hh.tsv"))
          local live = H.read_file(w.dir .. "/live_hh.tsv")
          assert.is_true(#live > 4 * 1024 * 1024)
          assert.are.equal(live, H.read_file(w.dir .. "/loaded_hh.tsv"))
        end
        for _, f in ipairs(r:fields()) do
          local a, b = r[f], loaded[f]
          if a == a then assert.are.same(a, b, f) else assert.are_not.equal(b, b, f) end
        end
      end)
    end
  end)

  describe("the whole-trace port sets", function()
    it("hold every port of every interval's histogram, and no other", function()
      local r = setup().r
      for _, series in ipairs(SERIES) do
        local seen, n = {}, 0
        for _, port in r:ports(series) do
          if not seen[port] then seen[port], n = true, n + 1 end
        end
        assert.is_true(n > 10, series)
        assert.are.equal(n, r:distinct_ports(series), series)
      end
    end)
  end)

  describe("r:dump_start(path)", function()
    it("writes on another thread the very bytes r:dump writes", function()
      local w = setup()
      local a, b = w.dir .. "/sync.tpd", w.dir .. "/async.tpd"
      assert(w.r:dump(a))
      local job = w.r:dump_start(b)
      assert.is_true(job:wait())
      assert.is_true(job:wait()) -- waiting again gives the same outcome
      assert.are.equal(H.read_file(a), H.read_file(b))
    end)

    it("keeps its result alive while it writes", function()
      local w = setup()
      local path = w.dir .. "/orphan.tpd"
      local job = (function()
        local r = assert(tpp.parse(w.capture, { delta_t = 0.001, features = "none" }))
        return r:dump_start(path)
      end)()
      collectgarbage()
      collectgarbage()
      assert.is_true(job:wait())
      assert.are.equal(w.none:critical_text(), assert(tpp.load(path)):critical_text())
    end)

    it("refuses a second dump of the same result while the first is being written", function()
      local w = setup()
      local job = w.none:dump_start(w.dir .. "/first.tpd")
      local ok, err = pcall(w.none.dump_start, w.none, w.dir .. "/second.tpd")
      assert.is_false(ok)
      assert.matches("still being written", err)
      assert.is_true(job:wait())
      assert.is_nil(io.open(w.dir .. "/second.tpd"))
    end)

    it("reports a failure of the world as nil and a message naming the file", function()
      local w = setup()
      local path = w.dir .. "/no/such/dir/x.tpd"
      local ok, err = w.none:dump_start(path):wait()
      assert.is_nil(ok)
      assert.matches(path, err, 1, true)
    end)

    it("is waited for when closed or collected unwaited", function()
      local w = setup()
      local path = w.dir .. "/closed.tpd"
      do
        local job <close> = w.none:dump_start(path)
      end
      assert(tpp.load(path)) -- written whole and renamed before the block ended
    end)
  end)

  describe("tables larger than a buffer (written by a thread of their own while the next rows are made)", function()
    it("hold every row once, in order, each cell the text of its value", function()
      local w = setup()
      local path = w.dir .. "/big.tsv"
      assert(w.r:write_critical(path))
      local text = H.read_file(path)
      assert.is_true(#text > 1024 * 1024)
      local lines = {}
      for line in text:gmatch("([^\n]*)\n") do lines[#lines + 1] = line end
      assert.are.equal(#w.r + 1, #lines)
      local names = tpp.column_names()
      local packets, mean = w.r:column("packets"), w.r:column("iat_mean")
      local col_packets, col_mean
      for k, name in ipairs(names) do
        if name == "packets" then col_packets = k elseif name == "iat_mean" then col_mean = k end
      end
      for i = 1, #w.r do
        local cells = {}
        for cell in (lines[i + 1] .. "\t"):gmatch("([^\t]*)\t") do cells[#cells + 1] = cell end
        assert.are.equal(#names, #cells)
        assert.are.equal(tostring(i - 1), cells[1])
        assert.are.equal(tostring(packets[i]), cells[col_packets])
        assert.are.equal(tpp.format_real(mean[i]), cells[col_mean])
      end
    end)

    it("say which file could not be written, nothing left behind", function()
      local w = setup()
      local path = w.dir .. "/missing/big.tsv"
      local ok, err = w.r:write_heavy_hitters(path)
      assert.is_nil(ok)
      assert.matches(path, err, 1, true)
    end)
  end)

  describe("the main job at a fine delta_t", function()
    it("writes the critical table and the dump (written beside it) of the same result", function()
      local w = setup()
      local out = w.dir .. "/job"
      local _, err, status = H.sh(("%s scripts/exec.lua -q -f none -j 1 -t 0.001 -o %s %s"):format(
        H.shell_quote(H.tpp_binary()), H.shell_quote(out), H.shell_quote(w.capture)))
      assert.are.equal(0, status, err)
      local loaded = assert(tpp.load(out .. "/mem_dump/fine.tpd"))
      assert.are.equal(w.r:critical_text(), loaded:critical_text())
      assert.are.equal(w.r:critical_text(), H.read_file(out .. "/critical/fine_critical.tsv"))
    end)
  end)
end)
