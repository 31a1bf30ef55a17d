-- Issue 14, segments: a silence longer than max_gap ends a segment instead of a flood of empty intervals, and no
-- packet is ever thrown away for a long gap.  Every result here is checked against a reference computed from the
-- packets' times alone (which intervals exist, their segment, their `covered` seconds), written from the issue's
-- definitions, not from tpp's code.
local tpp = require "tpp"
local H = require "tests.helper"
local pieces = require "tests.pieces"

local NS = H.NS
local SERIES = "tests/data/series/"
local PARITY = "tests/data/parity/"

-- tpp's other rule (include/tpp/result.h, TPP_MAX_EMPTY_RUN): a run of more empty intervals than this ends a
-- segment whatever max_gap says, so that a silence at a fine delta_t does not cost millions of rows.
local MAX_EMPTY_RUN = 100000

local function ns_of(seconds) return math.floor(seconds * 1e9 + 0.5) end
local function ns_text(ns) return ("%d.%09d"):format(ns // NS, ns % NS) end

-- The times (integer ns) of the packets of a capture, as tpp.packets reads them.
local function times(path)
  local out = {}
  for p in tpp.packets(path) do out[#out + 1] = p.ts_ns end
  return out
end

-- The reference: the aligned intervals (epoch anchor) that a capture's packets make with delta_ns and max_gap_ns,
-- as a list of { start = ns, segment = 0-based, covered = ns, packets = n }.  A run of e empty intervals with
-- e * delta > max_gap (or e > MAX_EMPTY_RUN) ends the segment at its last interval with packets; the next one
-- starts at the interval of the next packet.  covered = the part of the interval between the first and the last
-- packet of its segment.
local function reference(ts, delta_ns, max_gap_ns)
  local counts, keys = {}, {}
  for _, t in ipairs(ts) do
    local k = t // delta_ns
    if not counts[k] then keys[#keys + 1] = k end
    counts[k] = (counts[k] or 0) + 1
  end
  table.sort(keys)
  local sorted = table.move(ts, 1, #ts, 1, {})
  table.sort(sorted)
  -- segments as ranges of keys
  local segs = {}
  for _, k in ipairs(keys) do
    local last = segs[#segs]
    local empty = last and k - last.last - 1
    if last and empty * delta_ns <= max_gap_ns and empty <= MAX_EMPTY_RUN then last.last = k
    else segs[#segs + 1] = { first = k, last = k } end
  end
  local rows, j = {}, 1
  for s, seg in ipairs(segs) do
    -- first and last packet of the segment
    while sorted[j] // delta_ns < seg.first do j = j + 1 end
    local first_ns = sorted[j]
    while j < #sorted and sorted[j + 1] // delta_ns <= seg.last do j = j + 1 end
    local last_ns = sorted[j]
    seg.first_ns, seg.last_ns = first_ns, last_ns
    for k = seg.first, seg.last do
      local lo, hi = math.max(k * delta_ns, first_ns), math.min((k + 1) * delta_ns, last_ns)
      rows[#rows + 1] = { start = k * delta_ns, segment = s - 1, covered = math.max(hi - lo, 0),
                          packets = counts[k] or 0 }
    end
  end
  return rows, segs
end

-- The critical TSV of r as rows keyed by column name: every column, or only those named (one match per line:
-- a result at 1 ms has hundreds of thousands of rows).
local function tsv_rows(r, dir, names)
  local path = dir .. "/segments.tsv"
  assert(r:write_critical(path))
  local lines = io.lines(path)
  local header = {}
  for name in (lines() .. "\t"):gmatch("([^\t]*)\t") do header[#header + 1] = name end
  local wanted, parts, captured = {}, {}, {}
  for _, name in ipairs(names or header) do wanted[name] = true end
  for c, name in ipairs(header) do
    parts[c] = wanted[name] and "([^\t]*)" or "[^\t]*"
    if wanted[name] then captured[#captured + 1] = name end
  end
  local pattern = "^" .. table.concat(parts, "\t") .. "$"
  local rows = {}
  for line in lines do
    local values
    if #captured > 32 then -- more than a Lua pattern captures: split the line
      values = {}
      local c = 0
      for v in (line .. "\t"):gmatch("([^\t]*)\t") do
        c = c + 1
        if wanted[header[c]] then values[#values + 1] = v end
      end
    else
      values = { line:match(pattern) }
    end
    assert(#values == #captured, "not a row of " .. #header .. " columns: " .. line)
    local row = {}
    for j, name in ipairs(captured) do row[name] = values[j] end
    rows[#rows + 1] = row
  end
  os.remove(path)
  return rows, header
end

-- r against the reference of the packets in `path`: every interval's start, segment, covered and packets; the
-- segments; nothing lost.
local function check(r, path, dir, max_gap)
  local ts = times(path)
  local want, segs = reference(ts, r.delta_ns, ns_of(max_gap or 3600))
  local got = tsv_rows(r, dir, { "start", "packets", "segment", "covered" })
  assert.are.equal(#ts, r.packets, "every packet counted")
  assert.is_true(r.complete, tostring(r.error))
  assert.are.equal(#want, #got, "intervals")
  local total = 0
  for i, w in ipairs(want) do
    local g, expected = got[i], { start = ns_text(w.start), segment = tostring(w.segment),
                                  covered = ns_text(w.covered), packets = tostring(w.packets) }
    for name, text in pairs(expected) do
      if g[name] ~= text then   -- luassert only on a difference: there may be 200,000 rows
        assert.are.equal(text, g[name], ("interval %d (start %s): %s"):format(i, expected.start, name))
      end
    end
    total = total + tonumber(g.packets)
  end
  assert.are.equal(#ts, total, "the packets column adds up to every packet")
  assert.are.equal(#segs, r.segments)
  local first = 1
  for k, seg in ipairs(segs) do
    local last = first + (seg.last - seg.first)
    local s = r:segment(k)
    assert.are.equal(first, s.first, "segment " .. k .. " first interval")
    assert.are.equal(last, s.last, "segment " .. k .. " last interval")
    assert.are.equal(seg.first_ns, s.first_ns)
    assert.are.equal(seg.last_ns, s.last_ns)
    H.assert_time(s.first_packet, seg.first_ns, "first_packet")
    H.assert_time(s.last_packet, seg.last_ns, "last_packet")
    first = last + 1
  end
  return want, segs
end

local function seconds_ns(seconds)
  local out = {}
  for i, s in ipairs(seconds) do out[i] = H.T0 + ns_of(s) end
  return out
end

-- A capture of one UDP packet per time (seconds after H.T0), written with tpp.pcap_writer.
local function udp_capture(path, seconds, sport, dport, payload)
  local list = {}
  for i, s in ipairs(seconds) do
    list[i] = { ts_ns = H.T0 + ns_of(s), data = H.eth4_udp("10.0.0." .. (i % 7 + 1), "10.0.1.1", sport or 40000 + i,
                                                           dport or 9, payload or "x") }
  end
  return H.write_capture(path, H.LINKTYPE.ETHERNET, list, { nanosecond = true })
end

-- A few DNS packets hours apart, as Zeek's dns/dynamic-update.pcap: a dynamic update (opcode 5) and its answer in
-- each of four exchanges, 1.5, 2.5 and 3.25 hours apart, with one retry 40 ms later.
local function dns_updates(path)
  local update = string.pack(">I2I2I2I2I2I2", 0x2b1a, 0x2800, 1, 0, 1, 0) .. "\7example\3com\0\0\6\0\1"
  local answer = string.pack(">I2I2I2I2I2I2", 0x2b1a, 0xa800, 1, 0, 0, 0) .. "\7example\3com\0\0\6\0\1"
  local list, at = {}, 0
  for _, gap in ipairs { 0, 5400, 9000, 11700 } do
    at = at + gap
    for _, p in ipairs { { 0, update, "192.168.1.10", "192.168.1.1", 53001, 53 },
                         { 0.000731, answer, "192.168.1.1", "192.168.1.10", 53, 53001 },
                         { 0.040250, update, "192.168.1.10", "192.168.1.1", 53002, 53 },
                         { 0.041107, answer, "192.168.1.1", "192.168.1.10", 53, 53002 } } do
      list[#list + 1] = { ts_ns = H.T0 + ns_of(at + p[1]) + 123456, data = H.eth4_udp(p[3], p[4], p[5], p[6], p[2]) }
    end
  end
  return H.write_capture(path, H.LINKTYPE.ETHERNET, list, { nanosecond = true })
end

describe("issue 14: segments", function()
  local dir
  lazy_setup(function() dir = H.tmpdir() end)
  lazy_teardown(function() if dir then H.rmtree(dir) end end)

  -- Packets at 0.25, 1.5, 2.75 | 7 empty seconds | 10.5, 11.25 | 18 empty seconds | 30.125 (after H.T0, a
  -- multiple of every delta_t used here).
  local STEPS = { 0.25, 1.5, 2.75, 10.5, 11.25, 30.125 }

  describe("max_gap", function()
    it("adds the columns segment and covered after the original tool's (issue 16's research features follow)", function()
      local names = tpp.column_names()
      assert.are.equal("udp_port_packets", names[24])
      assert.are.equal("segment", names[25])
      assert.are.equal("covered", names[26])
    end)

    it("defaults to an hour: short silences stay empty intervals of one segment", function()
      local path = udp_capture(dir .. "/steps.pcap", STEPS)
      local r = assert(tpp.parse(path, { delta_t = 1 }))
      assert.are.equal(3600, r.max_gap)
      assert.are.equal(31, #r)
      check(r, path, dir)
      assert.are.equal(1, r.segments)
      -- inside the segment every interval is covered whole, the empty ones too; the edges partly
      local covered = r:column("covered")
      assert.are.equal(0.75, covered[1])
      for i = 2, 30 do assert.are.equal(1, covered[i]) end
      assert.are.equal(0.125, covered[31])
    end)

    it("ends a segment at a silence longer than max_gap, not at one as long", function()
      local path = udp_capture(dir .. "/steps.pcap", STEPS)
      -- 7 empty intervals of 1 s: 7 s is not longer than max_gap 7; the 18 empty ones are
      local r = assert(tpp.parse(path, { delta_t = 1, max_gap = 7 }))
      check(r, path, dir, 7)
      assert.are.equal(2, r.segments)
      assert.are.equal(13, #r)
      assert.are.same({ 1, 12 }, { r:segment(1).first, r:segment(1).last })
      assert.are.same({ 13, 13 }, { r:segment(2).first, r:segment(2).last })
      for _, max_gap in ipairs { 6.5, 0 } do
        r = assert(tpp.parse(path, { delta_t = 1, max_gap = max_gap }))
        check(r, path, dir, max_gap)
        assert.are.equal(3, r.segments)
        assert.are.equal(6, #r)
        assert.are.same({ "0", "0", "0", "1", "1", "2" }, r:column("segment"):map(tostring):totable())
        -- covered: 0.75, 1, 0.75 | 0.5, 0.25 | 0 (a segment of one packet covers nothing)
        local got = {}
        for i, row in ipairs(tsv_rows(r, dir)) do got[i] = row.covered end
        assert.are.same({ "0.750000000", "1.000000000", "0.750000000", "0.500000000", "0.250000000",
                          "0.000000000" }, got)
      end
    end)

    it("gives each segment's first and last interval and packet", function()
      local path = udp_capture(dir .. "/steps.pcap", STEPS)
      local r = assert(tpp.parse(path, { delta_t = 1, max_gap = 5 }))
      local s = r:segment(2)
      assert.are.same({ first = 4, last = 5, first_ns = H.T0 + ns_of(10.5), last_ns = H.T0 + ns_of(11.25) },
                      { first = s.first, last = s.last, first_ns = s.first_ns, last_ns = s.last_ns })
      assert.are.equal("integer", math.type(s.first_ns))
      H.assert_time(s.first_packet, H.T0 + ns_of(10.5), "first_packet")
      assert.has_error(function() r:segment(0) end)
      assert.has_error(function() r:segment(4) end)
      assert.has_error(function() r:segment("x") end)
    end)

    it("checks its value", function()
      local path = udp_capture(dir .. "/steps.pcap", STEPS)
      assert.are.equal(10, assert(tpp.parse(path, { max_gap = 10 })).max_gap)
      assert.are.equal(0.5, assert(tpp.parse(path, { max_gap = 0.5 })).max_gap)
      for _, bad in ipairs { -1, "1h", 0 / 0, true } do
        local ok, err = pcall(tpp.parse, path, { max_gap = bad })
        assert.is_false(ok)
        assert.matches("max_gap", err)
      end
    end)

    it("keeps the segments in a dump", function()
      local path = udp_capture(dir .. "/steps.pcap", STEPS)
      local r = assert(tpp.parse(path, { delta_t = 0.5, max_gap = 2 }))
      assert(r:dump(dir .. "/steps.tpd"))
      local back = assert(tpp.load(dir .. "/steps.tpd"))
      assert.are.equal(2, back.max_gap)
      assert.are.equal(r.segments, back.segments)
      for k = 1, r.segments do assert.are.same(r:segment(k), back:segment(k)) end
      assert.are.same(tsv_rows(r, dir), tsv_rows(back, dir))
      check(back, path, dir, 2)
    end)

    it("a capture without packets has no segment", function()
      local path = H.write_capture(dir .. "/empty.pcap", H.LINKTYPE.ETHERNET, {})
      local r = assert(tpp.parse(path))
      assert.are.equal(0, #r)
      assert.are.equal(0, r.segments)
      assert.has_error(function() r:segment(1) end)
    end)

    it("ends a segment after more than 100,000 empty intervals, whatever max_gap says", function()
      -- at 1 ms: 100 s of silence (99,999 empty intervals) stays inside the segment, 100.001 s (100,000) too,
      -- 100.002 s (100,001) does not, nor do 2,900 s, although max_gap is an hour
      local path = udp_capture(dir .. "/long.pcap", { 0, 100, 200.001, 300.003, 3200.003 })
      local r = assert(tpp.parse(path, { delta_t = 0.001 }))
      check(r, path, dir)
      assert.are.equal(3, r.segments)
      assert.are.equal(200002, r:segment(1).last)
    end)

    it("is one segment in packet mode", function()
      local path = udp_capture(dir .. "/steps.pcap", STEPS)
      local r = assert(tpp.parse(path, { delta_t = 1, boundary = "packet", max_gap = 0 }))
      assert.are.equal(1, r.segments)
      for _, v in ipairs(r:column("segment")) do assert.are.equal(0, v) end
    end)
  end)

  describe("random captures", function()
    -- 60 small captures whose silences span 1 µs to two hours, each parsed with several delta_t and max_gap,
    -- checked interval by interval against the reference
    it("have the segments and covered seconds of the reference", function()
      local rand = pieces.random(2026)
      local SILENCE = { 1e-6, 1e-3, 0.04, 0.7, 3, 9.5, 61, 3599, 3601, 7200 }
      local checked, skipped = 0, 0
      for c = 1, 60 do
        local seconds, t = {}, rand(1000) / 997
        for i = 1, rand(25) do
          t = t + SILENCE[rand(#SILENCE)] * rand(100) / 50
          seconds[i] = t
        end
        local path = udp_capture(("%s/random%d.pcap"):format(dir, c), seconds)
        for _ = 1, 3 do
          local delta_t = ({ 0.001, 0.25, 1, 7, 60 })[rand(5)]
          local max_gap = ({ 0, delta_t, 2.5 * delta_t, 10, 3600 })[rand(5)]
          if #reference(seconds_ns(seconds), ns_of(delta_t), ns_of(max_gap)) > 5000 then
            skipped = skipped + 1                 -- too many rows to check quickly
          else
            check(assert(tpp.parse(path, { delta_t = delta_t, max_gap = max_gap })), path, dir, max_gap)
            checked = checked + 1
          end
        end
      end
      assert.is_true(checked >= 120, ("%d checked, %d skipped"):format(checked, skipped))
    end)
  end)

  describe("no packet is lost to a long gap", function()
    it("tcpdump's icmpv6.pcap at the default delta_t keeps its 5 packets (280 days apart)", function()
      local path = SERIES .. "icmpv6.pcap"
      local r = assert(tpp.parse(path))
      assert.is_nil(r.error)
      local want, segs = check(r, path, dir)
      assert.are.equal(5, r.packets)
      assert.are.equal(5, r.ip_packets)
      assert.are.equal(2, #segs)
      assert.are.equal(6, #want)
    end)

    it("tcpdump's icmpv6.pcap at 1 ms keeps its 5 packets", function()
      local path = SERIES .. "icmpv6.pcap"
      check(assert(tpp.parse(path, { delta_t = 0.001 })), path, dir)
    end)

    it("DNS updates hours apart at delta_t 0.001 keep every packet (as Zeek's dns/dynamic-update.pcap)", function()
      local path = dns_updates(dir .. "/dynamic-update.pcap")
      local r = assert(tpp.parse(path, { delta_t = 0.001 }))
      local _, segs = check(r, path, dir)
      assert.are.equal(16, r.packets)
      assert.are.equal(4, #segs)
      assert.is_true(#r < 200, "no flood of empty intervals: " .. #r)
      -- the 40 ms between an exchange and its retry: empty intervals inside a segment, covered whole
      local rows = tsv_rows(r, dir)
      assert.are.equal("0.001000000", rows[10].covered)
      assert.are.equal("0", rows[10].packets)
    end)

    it("the silences of a real trace at 1 ms keep every packet", function()
      -- afs.pcap: 601 packets over 129 s with silences of up to 9.7 s; max_gap 10 ms at 1 ms
      local path = PARITY .. "afs.pcap"
      local r = assert(tpp.parse(path, { delta_t = 0.001, max_gap = 0.01 }))
      local _, segs = check(r, path, dir, 0.01)
      assert.is_true(#segs > 10)
    end)
  end)

  describe("covered", function()
    it("equals delta_t inside a segment and is partial at its edges", function()
      local path = PARITY .. "modbusBig.pcap"
      local r = assert(tpp.parse(path, { delta_t = 0.75 }))
      local want = check(r, path, dir)
      local rows = tsv_rows(r, dir)
      assert.is_true(tonumber(rows[1].covered) < 0.75 and tonumber(rows[#rows].covered) < 0.75)
      for i = 2, #rows - 1 do assert.are.equal("0.750000000", rows[i].covered) end
      assert.are.equal(#want, #rows)
    end)

    it("of a trace cut into pieces and merged is the whole trace's", function()
      for _, case in ipairs { { PARITY .. "modbusBig.pcap", { delta_t = 0.75 } },
                              { PARITY .. "afs.pcap", { delta_t = 1, max_gap = 3 } } } do
        local path, opts = case[1], case[2]
        local cap = assert(pieces.load(path))
        local sub = dir .. "/cut-" .. require("tpp.walk").stem(path)
        assert(require("lfs").mkdir(sub))
        local list = assert(pieces.cut(cap, sub, pieces.random_cuts(#cap.records, 6, 14)))
        local parts = {}
        for k, p in ipairs(list) do parts[k] = assert(tpp.parse(p, opts)) end
        -- each piece alone covers only its own packets: partial where it was cut
        local first = tsv_rows(parts[1], dir)
        assert.are_not.equal(("%.9f"):format(opts.delta_t), first[#first].covered)
        local m, err = tpp.merge(parts)
        assert.is_truthy(m, err)
        local whole = assert(tpp.parse(path, opts))
        local got, want = {}, {}
        for i, row in ipairs(tsv_rows(m, dir)) do got[i] = row.segment .. " " .. row.covered end
        for i, row in ipairs(tsv_rows(whole, dir)) do want[i] = row.segment .. " " .. row.covered end
        assert.are.same(want, got)
        check(m, path, dir, opts.max_gap)
      end
    end)
  end)
end)
