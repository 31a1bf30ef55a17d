-- Issue 14, exact merge: a trace cut into pieces (at random packets, inside intervals, at equal timestamps, into
-- one-packet pieces, across gaps longer than max_gap), each piece parsed apart and tpp.merge'd in any order, gives
-- the whole trace parsed at once: the critical TSV byte for byte but iat_std/iat_skew/iat_kurt (relative 1e-12),
-- the port histograms, the whole-trace port sets and the summary.  Then the streaming merger, dumps, merges of
-- merges, overlapping pieces, the refusals and the limits.  The pieces are cut with tests/pieces.lua.
local tpp = require "tpp"
local synth = require "tpp.synth"
local H = require "tests.helper"
local pieces = require "tests.pieces"

local PARITY = "tests/data/parity/"
local LOOSE = { iat_std = true, iat_skew = true, iat_kurt = true }          -- may differ in the last bits
local IAT = { iat_mean = true, iat_std = true, iat_skew = true, iat_kurt = true }
-- where overlapping pieces interleave, and flow_timeout after, flows_new is NaN too (tests/merge_features_spec.lua)
local OVERLAP = { iat_mean = true, iat_std = true, iat_skew = true, iat_kurt = true, flows_new = true }
local SUMMARY = { "packets", "ip_packets", "non_ip_packets", "malformed_packets", "truncated_packets",
                  "backwards_packets", "first_ns", "last_ns", "intervals", "segments", "complete", "stopped_by_limit" }

---------------------------------------------------------------------------------------------------------------
-- Comparing results
---------------------------------------------------------------------------------------------------------------

-- The critical TSV of r: header and rows of text cells, as a user reads them.
local function critical(r, dir)
  local path = dir .. "/compare.tsv"
  assert(r:write_critical(path))
  local header, rows = H.read_tsv(path)
  os.remove(path)
  return header, rows
end

local function critical_text(r, dir)
  local path = dir .. "/compare.tsv"
  assert(r:write_critical(path))
  local text = H.read_file(path)
  os.remove(path)
  return text
end

local function close_text(got, want)
  local x, y = tonumber(got), tonumber(want)
  return x ~= nil and y ~= nil and H.close(x, y, 1e-12)
end

-- What differs between `got` and the reference `want`, as at most 12 lines: every cell of the critical TSV (text
-- for text; LOOSE columns within relative 1e-12; opts.skip columns not compared), the port histograms and port
-- sets, and the summary fields (unless opts.summary == false).
local function differences(got, want, dir, opts)
  opts = opts or {}
  local out = {}
  local function say(fmt, ...) if #out < 12 then out[#out + 1] = fmt:format(...) end end
  local gh, grows = critical(got, dir)
  local wh, wrows = critical(want, dir)
  if table.concat(gh, " ") ~= table.concat(wh, " ") then
    say("columns: got %s; want %s", table.concat(gh, " "), table.concat(wh, " "))
    return out
  end
  if #grows ~= #wrows then say("intervals: got %d, want %d", #grows, #wrows) end
  for i = 1, math.min(#grows, #wrows) do
    for c, name in ipairs(wh) do
      local g, w = grows[i][c], wrows[i][c]
      if g ~= w and not (opts.skip and opts.skip[name]) and not (LOOSE[name] and close_text(g, w)) then
        say("interval %d (start %s) %s: got %s, want %s", i, wrows[i][2], name, g, w)
      end
    end
  end
  for _, series in ipairs(tpp.series) do
    local gp, wp = H.ports_list(got, series), H.ports_list(want, series)
    for j = 1, math.max(#gp, #wp) do
      local a, b = gp[j] or {}, wp[j] or {}
      if a[1] ~= b[1] or a[2] ~= b[2] or a[3] ~= b[3] then
        say("%s histogram entry %d: got interval %s port %s count %s, want interval %s port %s count %s", series, j,
            tostring(a[1]), tostring(a[2]), tostring(a[3]), tostring(b[1]), tostring(b[2]), tostring(b[3]))
        break
      end
    end
    if got:distinct_ports(series) ~= want:distinct_ports(series) then
      say("distinct_ports(%s): got %d, want %d", series, got:distinct_ports(series), want:distinct_ports(series))
    end
  end
  if opts.summary ~= false then
    for _, f in ipairs(SUMMARY) do
      if got[f] ~= want[f] then say("%s: got %s, want %s", f, tostring(got[f]), tostring(want[f])) end
    end
  end
  for k = 1, math.min(got.segments, want.segments) do
    local g, w = got:segment(k), want:segment(k)
    for _, f in ipairs { "first", "last", "first_ns", "last_ns" } do
      if g[f] ~= w[f] then say("segment %d %s: got %s, want %s", k, f, tostring(g[f]), tostring(w[f])) end
    end
  end
  return out
end

local function assert_same(got, want, dir, what, opts)
  local d = differences(got, want, dir, opts)
  assert.is_true(#d == 0, what .. ":\n  " .. table.concat(d, "\n  "))
end

---------------------------------------------------------------------------------------------------------------
-- Pieces and merging
---------------------------------------------------------------------------------------------------------------

local parse_each, merge = pieces.parse_each, pieces.merge

local function reversed(list)
  local out = {}
  for i = #list, 1, -1 do out[#out + 1] = list[i] end
  return out
end

-- A copy of list in an order given by seed (Fisher-Yates on pieces' generator), never beginning with list[1]:
-- the pieces are never given in time order.
local function shuffled(list, seed)
  local rand, out = pieces.random(seed), table.move(list, 1, #list, 1, {})
  for i = #out, 2, -1 do
    local j = rand(i)
    out[i], out[j] = out[j], out[i]
  end
  if #out > 1 and out[1] == list[1] then out = reversed(out) end
  return out
end

-- tpp.merge that must succeed.

-- shuffled, but pieces that begin and end at the same instants keep their order: nothing in them tells which
-- came first (two pieces of one packet each, stamped alike), so tpp.merge takes them in the order given.
local function shuffled_but_ties(list, seed)
  local out = shuffled(list, seed)
  local groups, slots = {}, {}
  for pos, r in ipairs(out) do
    local key = r.first_ns .. ":" .. r.last_ns
    slots[key] = slots[key] or {}
    table.insert(slots[key], pos)
  end
  for _, r in ipairs(list) do
    local key = r.first_ns .. ":" .. r.last_ns
    groups[key] = (groups[key] or 0) + 1
    out[slots[key][groups[key]]] = r
  end
  return out
end

local function by_first_packet(results)
  local out = table.move(results, 1, #results, 1, {})
  table.sort(out, function(a, b) return a.first_ns < b.first_ns end)
  return out
end

local function describe_cuts(cuts)
  return #cuts == 0 and "no cut" or table.concat(cuts, ",")
end

-- Places worth cutting a capture at (1-based index of the first packet of the next piece), from its times.
local function tie(cap)            -- a packet stamped like the one before it
  local recs = cap.records
  for i = 2, #recs do if recs[i].ts_ns == recs[i - 1].ts_ns then return i end end
end
local function interval_start(cap, delta_ns)   -- the first packet of an interval, past the first third
  local recs = cap.records
  for i = #recs // 3, #recs do if recs[i].ts_ns // delta_ns ~= recs[i - 1].ts_ns // delta_ns then return i end end
end
local function other_family(cap, ip)   -- past the middle, a frame that is not an IP packet counted with `ip`
  local want = ({ v4 = 4, v6 = 6 })[ip or "any"]
  local recs = cap.records
  for i = #recs // 2, #recs - 1 do
    local v = recs[i].p.ipv
    if not v or (want and v ~= want) then return i end
  end
end
local function longest_gap(cap)   -- the packet after the longest silence
  local recs, best, at = cap.records, -1, nil
  for i = 2, #recs do
    local g = recs[i].ts_ns - recs[i - 1].ts_ns
    if g > best then best, at = g, i end
  end
  return at, best
end

---------------------------------------------------------------------------------------------------------------
-- The traces
---------------------------------------------------------------------------------------------------------------

-- Synthetic traces, made in the spec's directory, with nanosecond stamps: 30 s of traffic; two bursts of 20 s
-- 2.5 h apart.
local SYNTH = {
  ["synth-ns"] = function(dir)
    local path = dir .. "/synth-ns.pcap"
    assert(synth.generate(path, { packets = 20000, duration = 30, seed = 5, nanosecond = true }))
    return path
  end,
  ["synth-gap"] = function(dir)
    local a, b = dir .. "/gap-a.pcap", dir .. "/gap-b.pcap"
    assert(synth.generate(a, { packets = 8000, duration = 20, seed = 6, nanosecond = true, start = 1674709200 }))
    assert(synth.generate(b, { packets = 8000, duration = 20, seed = 7, nanosecond = true, start = 1674718200 }))
    return assert(pieces.union({ a, b }, dir .. "/synth-gap.pcap"))
  end,
}

-- trace, parse options, what they exercise; ties: some packets share a time; mixed: frames that are not IP (ARP)
-- or not of the family analysed.
local CASES = {
  { "afs.pcap", { delta_t = 10 } },
  { "afs.pcap", { delta_t = 1, max_gap = 0 } },                  -- every empty interval ends a segment
  { "afs.pcap", { delta_t = 0.5, max_gap = 5 } },                -- silences of up to 9.7 s: several segments
  { "modbusBig.pcap", { delta_t = 5 } },
  { "modbusBig.pcap", { delta_t = 0.25, ip = "v4" } },
  { "modbusBig.pcap", { delta_t = 1, keep_tables = "all" } },    -- every interval's tables kept: the same result
  { "cwd-navigation.pcap", { delta_t = 7 } },                    -- 7 s does not divide a minute
  { "synth-a.pcap", { delta_t = 1 }, ties = true, mixed = true }, -- microsecond stamps, some equal; ARP frames
  { "synth-ns", { delta_t = 0.1 }, mixed = true },
  { "synth-ns", { delta_t = 0.003, anchor = "epoch", ip = "v6" }, mixed = true },
  { "synth-ns", { delta_t = 0.5, filter = "tcp or arp" }, mixed = true },
  { "synth-gap", { delta_t = 1 }, mixed = true },                  -- 2.5 h > max_gap: two segments
  { "synth-gap", { delta_t = 5, max_gap = 20000 }, mixed = true }, -- the gap kept as empty intervals
}

local function opts_text(opts)
  local keys, parts = {}, {}
  for k in pairs(opts) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do parts[#parts + 1] = ("%s=%s"):format(k, tostring(opts[k])) end
  return table.concat(parts, " ")
end

describe("issue 14: merging pieces of a trace", function()
  local dir, paths, loaded, n = nil, {}, {}, 0

  lazy_setup(function()
    dir = H.tmpdir()
    for name, make in pairs(SYNTH) do paths[name] = make(dir) end
  end)
  lazy_teardown(function() if dir then H.rmtree(dir) end end)

  local function path_of(name) return paths[name] or PARITY .. name end
  local function capture(name)
    loaded[name] = loaded[name] or assert(pieces.load(path_of(name)))
    return loaded[name]
  end
  -- A fresh directory for one case's pieces.
  local function subdir()
    n = n + 1
    local d = ("%s/case%03d"):format(dir, n)
    assert(require("lfs").mkdir(d))
    return d
  end

  -- A small capture to cut and deal every possible way: 8 packets (seconds after H.T0) 0.25 1.5 2.75 | 7 s empty |
  -- 10.5 10.5 11.25 | 18 s empty | 30.125 30.5, the second 10.5 an ARP frame; with the settings below, silences
  -- shorter than, as long as and longer than max_gap, and intervals that hold several pieces.
  local TIMES = { 0.25, 1.5, 2.75, 10.5, 10.5, 11.25, 30.125, 30.5 }
  local SMALL_OPTS = { { delta_t = 1, max_gap = 7 }, { delta_t = 1, max_gap = 6.5 }, { delta_t = 0.5, max_gap = 0 },
                       { delta_t = 3 }, { delta_t = 2, max_gap = 4 } }
  local function small()
    local packets = {}
    for i, t in ipairs(TIMES) do
      packets[i] = { ts_ns = H.T0 + math.floor(t * 1e9 + 0.5),
                     data = i == 5 and H.ethernet(nil, nil, H.ETH_ARP, H.arp())
                            or H.eth4_tcp("10.0.0." .. i, "10.0.1." .. (i % 3), 1000 + i, 80 + i % 2, H.SYN) }
    end
    return H.write_capture(dir .. "/small.pcap", H.LINKTYPE.ETHERNET, packets, { nanosecond = true })
  end

  describe("tests/pieces.lua (with today's tpp)", function()
    -- Every field tpp.packets gives, packet by packet, as lines.
    local function packet_lines(list)
      local lines = {}
      for _, path in ipairs(list) do
        for p in tpp.packets(path) do
          local keys, parts = {}, {}
          for k in pairs(p) do keys[#keys + 1] = k end
          table.sort(keys)
          for _, k in ipairs(keys) do parts[#parts + 1] = k .. "=" .. tostring(p[k]) end
          lines[#lines + 1] = table.concat(parts, " ")
        end
      end
      return lines
    end
    local function assert_same_packets(got, want, what)
      assert.are.equal(#want, #got, what .. ": packet count")
      for i = 1, #want do
        if got[i] ~= want[i] then assert.are.equal(want[i], got[i], ("%s: packet %d"):format(what, i)) end
      end
    end

    for _, name in ipairs { "afs.pcap", "modbusBig.pcap", "synth-ns" } do
      it("cuts " .. name .. " into pieces whose packets, one after the other, are the capture's", function()
        local cap, d = capture(name), subdir()
        local cuts = pieces.random_cuts(#cap.records, 7, 11)
        local list = assert(pieces.cut(cap, d, cuts))
        assert.are.equal(7, #list)
        local whole = packet_lines({ path_of(name) })
        assert_same_packets(packet_lines(list), whole, "pieces")
        -- piece k starts at cut k-1: its first packet is that packet of the capture
        local first = 1
        for k, path in ipairs(list) do
          local h, recs = assert(pieces.read(path))
          assert.are.equal(cap.header.linktype, h.linktype)
          assert.are.equal(cap.records[first].ts_ns, recs[1].ts_ns)
          assert.are.equal(cap.records[first].data, recs[1].data)
          first = cuts[k] or #cap.records + 1
          assert.are.equal(first - 1, (cuts[k - 1] or 1) - 1 + #recs)
        end
        assert_same_packets(packet_lines({ assert(pieces.concat(list, d .. "/joined.pcap")) }), whole, "joined")
      end)
    end

    it("keeps nanosecond timestamps", function()
      local cap = capture("synth-ns")
      local odd = 0
      for _, r in ipairs(cap.records) do if r.ts_ns % 1000 ~= 0 then odd = odd + 1 end end
      assert.is_true(odd > #cap.records / 2, "the synthetic capture has nanosecond stamps")
      local list = assert(pieces.cut(cap, subdir(), { 2, 1000, 19999 }))
      local i = 0
      for _, path in ipairs(list) do
        for p in tpp.packets(path) do
          i = i + 1
          assert.are.equal(cap.records[i].ts_ns, p.ts_ns)
        end
      end
      assert.are.equal(#cap.records, i)
    end)

    it("draws the same cuts for the same seed, distinct and inside the capture", function()
      local a, b, c = pieces.random_cuts(500, 10, 3), pieces.random_cuts(500, 10, 3), pieces.random_cuts(500, 10, 4)
      assert.are.same(a, b)
      assert.are_not.same(a, c)
      assert.are.equal(9, #a)
      for k, cut in ipairs(a) do
        assert.is_true(cut >= 2 and cut <= 500 and (k == 1 or cut > a[k - 1]))
      end
      assert.are.same({ 2 }, pieces.random_cuts(2, 2, 9))
      assert.are.same({}, pieces.random_cuts(5, 1, 9))
    end)

    it("splits by direction into two overlapping pieces whose union is the capture", function()
      local cap, d = capture("modbusBig.pcap"), subdir()
      local list = assert(pieces.overlapping(cap, d, "directions"))
      local _, ra = assert(pieces.read(list[1]))
      local _, b = assert(pieces.read(list[2]))
      assert.is_true(#ra > 0 and #b > 0)
      assert.are.equal(#cap.records, #ra + #b)
      -- they overlap in time: each starts before the other ends
      assert.is_true(ra[1].ts_ns < b[#b].ts_ns and b[1].ts_ns < ra[#ra].ts_ns)
      assert_same_packets(packet_lines({ assert(pieces.union(list, d .. "/union.pcap")) }),
                          packet_lines({ path_of("modbusBig.pcap") }), "union")
      local twice = assert(pieces.overlapping(cap, d, "twice"))
      assert.are.equal(2, #twice)
      assert.are_not.equal(twice[1], twice[2])
      assert_same_packets(packet_lines({ twice[2] }), packet_lines({ twice[1] }), "copy")
    end)

    it("refuses what it cannot cut: nil and a message for the world, an error for misuse", function()
      local d = subdir()
      local none, err = pieces.cut(PARITY .. "synth-b.pcap.gz", d, {})
      assert.is_nil(none)
      assert.matches("synth%-b%.pcap%.gz: .*uncompressed pcap", err)
      none, err = pieces.cut(d .. "/missing.pcap", d, {})
      assert.is_nil(none)
      assert.matches("missing%.pcap", err)
      local cap = capture("afs.pcap")
      assert.has_error(function() pieces.cut(cap, d, { 1 }) end)
      assert.has_error(function() pieces.cut(cap, d, { 5, 5 }) end)
      assert.has_error(function() pieces.cut(cap, d, { #cap.records + 1 }) end)
      assert.has_error(function() pieces.random_cuts(3, 4, 1) end)
    end)
  end)

  describe("consecutive pieces equal the whole trace", function()
    for _, case in ipairs(CASES) do
      local name, opts = case[1], case[2]
      local label = ("%s (%s)"):format(name, opts_text(opts))
      -- cut sets: name, function(cap) -> cuts
      local cut_sets = {}
      for seed = 1, 3 do
        cut_sets[#cut_sets + 1] = { ("random cuts, seed %d"):format(seed), function(cap)
          local k = pieces.random(seed * 1000 + #name)(9) + 1       -- 2..10 pieces
          return pieces.random_cuts(#cap.records, k, seed)
        end }
      end
      cut_sets[#cut_sets + 1] = { "a one-packet piece in the middle", function(cap)
        local m = #cap.records // 2
        return { m, m + 1 }
      end }
      cut_sets[#cut_sets + 1] = { "one-packet first and last pieces", function(cap) return { 2, #cap.records } end }
      cut_sets[#cut_sets + 1] = { "at the first packet of an interval", function(cap)
        return { interval_start(cap, math.floor(opts.delta_t * 1e9 + 0.5)) }
      end }
      if case.ties then
        cut_sets[#cut_sets + 1] = { "between two packets of the same time", function(cap) return { tie(cap) } end }
      end
      cut_sets[#cut_sets + 1] = { "at the longest silence", function(cap) return { (longest_gap(cap)) } end }
      if case.mixed then
        cut_sets[#cut_sets + 1] = { "around a one-frame piece not of the analysed family", function(cap)
          local i = assert(other_family(cap, opts.ip))
          return { i, i + 1 }
        end }
      end

      for _, set in ipairs(cut_sets) do
        it(("%s cut %s, merged in a shuffled order"):format(label, set[1]), function()
          local cap = capture(name)
          local cuts = set[2](cap)
          if #cuts == 0 then return pending(name .. " has no such place to cut") end
          local list = assert(pieces.cut(cap, subdir(), cuts))
          local whole = assert(tpp.parse(path_of(name), opts))
          local parts = parse_each(list, opts)
          local m = merge(shuffled_but_ties(parts, #cuts))
          assert_same(m, whole, dir, ("%s cut at %s"):format(label, describe_cuts(cuts)))
          assert.are.equal(#list, m.pieces)
          assert.are.equal(whole.segments, m.segments)
        end)
      end
    end

    it("pieces separated by a silence longer than max_gap stay two segments, each equal to the whole's", function()
      local cap = capture("synth-gap")
      local at, gap = longest_gap(cap)
      assert.is_true(gap > 3600e9)
      local list = assert(pieces.cut(cap, subdir(), { at }))
      local whole = assert(tpp.parse(path_of("synth-gap"), { delta_t = 1 }))
      local m = merge(reversed(parse_each(list, { delta_t = 1 })))
      assert_same(m, whole, dir, "synth-gap cut at the gap")
      assert.are.equal(2, m.segments)
      for k = 1, 2 do assert.are.same(whole:segment(k), m:segment(k)) end
    end)

    it("pieces separated by more than 100,000 empty intervals (less than max_gap) as one pass", function()
      -- at 1 ms: 100.001 s of silence (100,000 empty intervals) stays in the segment, 100.002 s does not
      local packets = {}
      for i, t in ipairs { 0, 0.0005, 100.0015, 200.004, 200.0041 } do
        packets[i] = { ts_ns = H.T0 + math.floor(t * 1e9 + 0.5), data = H.eth4_udp("10.0.0.1", "10.0.0." .. i, 53, 53) }
      end
      local path = H.write_capture(dir .. "/long.pcap", H.LINKTYPE.ETHERNET, packets, { nanosecond = true })
      local opts = { delta_t = 0.001 }
      local whole = assert(tpp.parse(path, opts))
      assert.are.equal(2, whole.segments)
      local text = critical_text(whole, dir)
      for _, cuts in ipairs { { 3 }, { 4 }, { 2, 3, 4, 5 } } do
        local list = assert(pieces.cut(assert(pieces.load(path)), subdir(), cuts))
        local m = merge(reversed(parse_each(list, opts)))
        if critical_text(m, dir) ~= text then    -- the rows are many: compare the text first, then say why
          assert_same(m, whole, dir, "long silences cut at " .. describe_cuts(cuts))
        end
        assert.are.equal(2, m.segments)
      end
    end)
  end)

  describe("the ways to merge agree", function()
    local OPTS = { delta_t = 0.5 }
    local list, whole, parts
    before_each(function()
      local cap = capture("modbusBig.pcap")
      list = assert(pieces.cut(cap, subdir(), pieces.random_cuts(#cap.records, 5, 21)))
      whole = assert(tpp.parse(path_of("modbusBig.pcap"), OPTS))
      parts = parse_each(list, OPTS)
    end)

    it("in any order, leaving the pieces as they were", function()
      local before = {}
      for k, r in ipairs(parts) do before[k] = critical_text(r, dir) end
      for _, order in ipairs { parts, reversed(parts), shuffled(parts, 5), shuffled(parts, 6) } do
        local m = merge(order)
        assert_same(m, whole, dir, "merged")
        assert.are.equal(5, m.pieces)
        assert.are.equal("", m.source)
        assert.is_true(m.mergeable)
      end
      for k, r in ipairs(parts) do
        assert.are.equal(before[k], critical_text(r, dir))
        assert.are.equal(1, r.pieces)
      end
    end)

    it("as the streaming merger, fed in order of first packet", function()
      local mg = tpp.merger()
      for k, r in ipairs(by_first_packet(parts)) do
        local ok, err = mg:add(r)
        assert.is_truthy(ok, err)
        assert.are.equal(k, mg.pieces)
      end
      local m = mg:result()
      assert_same(m, whole, dir, "merger")
      assert_same(m, merge(parts), dir, "merger against tpp.merge")
      assert.are.equal(5, m.pieces)
    end)

    it("the streaming merger refuses a piece out of order", function()
      local sorted = by_first_packet(parts)
      local mg = tpp.merger()
      assert.is_truthy(mg:add(sorted[2]))
      local ok, err = mg:add(sorted[1])
      assert.is_nil(ok)
      assert.is_string(err)
    end)

    it("from dumps: each piece dumped and loaded", function()
      local back = {}
      for k, r in ipairs(parts) do
        local path = ("%s/piece%d.tpd"):format(dir, k)
        assert(r:dump(path))
        back[k] = assert(tpp.load(path))
        assert.is_true(back[k].mergeable)
      end
      assert_same(merge(shuffled(back, 9)), whole, dir, "merged from dumps")
      local mg = tpp.merger()
      for _, r in ipairs(by_first_packet(back)) do assert.is_truthy(mg:add(r)) end
      assert_same(mg:result(), whole, dir, "merger from dumps")
    end)

    it("in stages: merges of merges, and a merged result dumped, loaded and merged again", function()
      local left, right = merge { parts[1], parts[2] }, merge { parts[4], parts[5] }
      local m = merge { right, parts[3], left }
      assert_same(m, whole, dir, "merge of merges")
      assert.are.equal(5, m.pieces)
      local path = dir .. "/left.tpd"
      assert(left:dump(path))
      local again = assert(tpp.load(path))
      assert.are.equal(2, again.pieces)
      assert.is_true(again.mergeable)
      assert_same(merge { parts[5], again, parts[3], parts[4] }, whole, dir, "a loaded merge merged again")
      local all = merge(parts)
      assert(all:dump(path))
      assert_same(assert(tpp.load(path)), whole, dir, "a merged result dumped and loaded")
    end)

    it("with a piece that holds no packet", function()
      local empty = assert(tpp.parse(H.write_capture(dir .. "/empty.pcap", H.LINKTYPE.ETHERNET, {}), OPTS))
      assert_same(merge { parts[3], empty, parts[1], parts[5], parts[2], parts[4] }, whole, dir, "with an empty piece")
      assert_same(merge { empty, parts[3], parts[1], parts[5], parts[2], parts[4] }, whole, dir, "an empty piece first")
      local mg = tpp.merger()
      assert.is_truthy(mg:add(empty))
      for _, r in ipairs(parts) do assert.is_truthy(mg:add(r)) end
      assert_same(mg:result(), whole, dir, "merger with an empty piece")
    end)

    it("of one piece gives that piece", function()
      local r = assert(tpp.parse(path_of("modbusBig.pcap"), OPTS))
      assert_same(merge { r }, whole, dir, "one piece")
    end)

    it("reports its options as summary fields", function()
      local m = merge(parts)
      assert.are.equal(3600, m.max_gap)
      assert.are.equal("edges", m.keep_tables)
      assert.are.equal(0.5, m.delta_t)
      assert.are.equal(3600, whole.max_gap)
      assert.are.equal("edges", whole.keep_tables)
      assert.are.equal(1, whole.pieces)
    end)
  end)

  describe("overlapping pieces with keep_tables = \"all\"", function()
    -- Per piece, the first and last packet time of each interval key (ts_ns // delta_ns).
    local function spans(path, delta_ns)
      local out = {}
      for p in tpp.packets(path) do
        local key = p.ts_ns // delta_ns
        local s = out[key]
        if s then s[2] = p.ts_ns else out[key] = { p.ts_ns, p.ts_ns } end
      end
      return out
    end

    -- The merge of overlapping `list` equals the parse of everything they hold, but for the IAT moments, which
    -- are NaN where the pieces' packets interleave.
    -- Do two of the pieces' packets interleave in interval `key`: does each have a packet strictly before the
    -- other's last?  (Pieces that only touch, one's last packet at the other's first instant, are consecutive.)
    local function interleave(per_piece, key)
      for x = 1, #per_piece do
        for y = x + 1, #per_piece do
          local a, b = per_piece[x][key], per_piece[y][key]
          if a and b and math.max(a[1], b[1]) < math.min(a[2], b[2]) then return true end
        end
      end
      return false
    end

    local function check_overlap(list, opts, what, interleaving)
      local whole = assert(tpp.parse(assert(pieces.union(list, dir .. "/union.pcap")), opts))
      local parts = parse_each(list, opts)
      local m = merge(shuffled(parts, 3))
      assert_same(m, whole, dir, what, { skip = OVERLAP })
      local mg = tpp.merger()
      for _, r in ipairs(by_first_packet(parts)) do assert.is_truthy(mg:add(r)) end
      assert_same(mg:result(), whole, dir, what .. " (merger)", { skip = OVERLAP })
      local delta_ns = m.delta_ns
      local per_piece = {}
      for k, path in ipairs(list) do per_piece[k] = spans(path, delta_ns) end
      local _, rows = critical(m, dir)
      local interleaved = 0
      for i = 1, #m do
        local key = H.text_to_ns(rows[i][2]) // delta_ns    -- the start column, exact
        if interleave(per_piece, key) then
          interleaved = interleaved + 1
          local iv = m:interval(i)
          for name in pairs(IAT) do
            assert.is_true(iv[name] ~= iv[name], ("%s: interval %d: %s = %s where the pieces interleave")
              :format(what, i, name, tostring(iv[name])))
          end
        end
        if interleaved > 50 then break end   -- enough to know
      end
      if interleaving ~= false then assert.is_true(interleaved > 0, what .. ": the pieces interleave somewhere") end
    end

    for _, case in ipairs {
      { "modbusBig.pcap", { delta_t = 1 } },
      { "afs.pcap", { delta_t = 10 } },
      { "synth-ns", { delta_t = 0.1 } },
      { "synth-a.pcap", { delta_t = 2, ip = "v4" } },
    } do
      local name, opts = case[1], case[2]
      local all = { keep_tables = "all" }
      for k, v in pairs(opts) do all[k] = v end
      it(("the two directions of %s (%s) captured apart"):format(name, opts_text(opts)), function()
        check_overlap(assert(pieces.overlapping(capture(name), subdir(), "directions")), all, name .. " directions")
      end)
    end

    it("from dumps", function()
      local list = assert(pieces.overlapping(capture("afs.pcap"), subdir(), "directions"))
      local opts = { delta_t = 10, keep_tables = "all" }
      local back = {}
      for k, r in ipairs(parse_each(list, opts)) do
        local path = ("%s/side%d.tpd"):format(dir, k)
        assert(r:dump(path))
        back[k] = assert(tpp.load(path))
        assert.are.equal("all", back[k].keep_tables)
      end
      local whole = assert(tpp.parse(assert(pieces.union(list, dir .. "/union.pcap")), opts))
      assert_same(merge(reversed(back)), whole, dir, "afs directions from dumps", { skip = OVERLAP })
    end)

    it("with the tables on one side only, is refused", function()
      local list = assert(pieces.overlapping(capture("afs.pcap"), subdir(), "directions"))
      local m, err = tpp.merge { assert(tpp.parse(list[1], { delta_t = 10, keep_tables = "all" })),
                                 assert(tpp.parse(list[2], { delta_t = 10 })) }
      assert.is_nil(m)
      assert.matches("keep_tables", err)
    end)

    it("a piece inside the span of another", function()
      local cap = capture("modbusBig.pcap")
      local n = #cap.records
      check_overlap(assert(pieces.overlapping(cap, subdir(), function(_, i) return i < n // 3 or i > 2 * n // 3 end)),
                    { delta_t = 0.5, keep_tables = "all" }, "modbusBig with a hole and the piece in it", false)
    end)

    it("three streams dealt packet by packet", function()
      local d = subdir()
      local a, rest = assert(pieces.split(capture("synth-ns"), d, function(_, i) return i % 3 == 0 end))
      local d2 = d .. "/rest"
      assert(require("lfs").mkdir(d2))
      local b, c = assert(pieces.split(rest, d2, function(_, i) return i % 2 == 0 end))
      local opts = { delta_t = 0.25, keep_tables = "all" }
      check_overlap({ a, b, c }, opts, "synth-ns in three")
      -- in stages, through a dump: the merge of two keeps every table, so the third still merges exactly
      local ab = merge(parse_each({ a, b }, opts))
      assert.are.equal("all", ab.keep_tables)
      assert(ab:dump(d .. "/ab.tpd"))
      local whole = assert(tpp.parse(assert(pieces.union({ a, b, c }, d .. "/union.pcap")), opts))
      assert_same(merge { assert(tpp.parse(c, opts)), assert(tpp.load(d .. "/ab.tpd")) }, whole, dir,
                  "synth-ns in three, in stages", { skip = OVERLAP })
    end)

    it("a burst inside another piece's silence longer than max_gap, joining its first segment", function()
      -- synth-gap: 20 s at S and 20 s at S + 9000; the other piece: 200 packets at S + 1800, 1780 s after the
      -- first burst (less than max_gap) and 7200 s before the second (more): the series has two segments, the
      -- first one 1800 s long
      local d = subdir()
      local burst = d .. "/burst.pcap"
      assert(synth.generate(burst, { packets = 200, duration = 2, seed = 8, nanosecond = true,
                                     start = 1674709200 + 1800 }))
      local list = { path_of("synth-gap"), burst }
      local opts = { delta_t = 1, keep_tables = "all" }
      check_overlap(list, opts, "a burst in a silence", false)
      local m = merge(parse_each(list, opts))
      assert.are.equal(2, m.segments)
      assert.is_true(#m > 1800)
    end)

    it("every way of dealing a small capture's packets to two pieces", function()
      local path = small()
      local cap = assert(pieces.load(path))
      for mask = 1, (1 << #TIMES) - 2, 2 do   -- the first packet in piece a (the others are the same pieces swapped)
        local a, b = assert(pieces.split(cap, subdir(), function(_, i) return mask & (1 << (i - 1)) ~= 0 end))
        local sides = {}
        for i = 1, #TIMES do sides[i] = (mask >> (i - 1)) & 1 end
        for j = 1, #SMALL_OPTS, 2 do
          local opts = { keep_tables = "all" }
          local small_opts = SMALL_OPTS[j]
          for k, v in pairs(small_opts) do opts[k] = v end
          check_overlap({ a, b }, opts, ("dealt %s (%s)"):format(table.concat(sides), opts_text(opts)),
                        false)
        end
      end
    end)

    it("a file given twice", function()
      check_overlap(assert(pieces.overlapping(capture("afs.pcap"), subdir(), "twice")),
                    { delta_t = 10, keep_tables = "all" }, "afs.pcap twice")
    end)

    it("a piece of a series given twice", function()
      local cap = capture("modbusBig.pcap")
      local list = assert(pieces.cut(cap, subdir(), { 4000, 9000 }))
      local opts = { delta_t = 1, keep_tables = "all" }
      local whole = assert(tpp.parse(assert(pieces.union({ list[1], list[2], list[2], list[3] },
                                                         dir .. "/union.pcap")), opts))
      local parts = parse_each(list, opts)
      local m = merge { parts[3], parts[2], parts[1], assert(tpp.parse(list[2], opts)) }
      assert_same(m, whole, dir, "a piece twice", { skip = OVERLAP })
    end)

    it("without the tables, is refused with a message naming keep_tables", function()
      local list = assert(pieces.overlapping(capture("modbusBig.pcap"), subdir(), "directions"))
      local m, err = tpp.merge(parse_each(list, { delta_t = 1 }))
      assert.is_nil(m)
      assert.matches("overlap", err)
      assert.matches("keep_tables", err)
      local mg = tpp.merger()
      local parts = by_first_packet(parse_each(list, { delta_t = 1 }))
      assert.is_truthy(mg:add(parts[1]))
      local ok, err2 = mg:add(parts[2])
      assert.is_nil(ok)
      assert.matches("keep_tables", err2)
    end)
  end)

  describe("refuses pieces that cannot be merged, with the reason", function()
    local list
    before_each(function()
      local cap = capture("modbusBig.pcap")
      list = assert(pieces.cut(cap, subdir(), { 5000 }))
    end)

    local function refused(opts1, opts2, pattern)
      local a, b = assert(tpp.parse(list[1], opts1)), assert(tpp.parse(list[2], opts2))
      local m, err = tpp.merge { a, b }
      assert.is_nil(m)
      assert.is_string(err)
      assert.matches(pattern, err:lower())
      m, err = tpp.merge { b, a }
      assert.is_nil(m)
      assert.matches(pattern, err:lower())
      local mg = tpp.merger()
      assert.is_truthy(mg:add(a))
      local ok, err2 = mg:add(b)
      assert.is_nil(ok)
      assert.matches(pattern, err2:lower())
    end

    it("different delta_t", function() refused({ delta_t = 1 }, { delta_t = 2 }, "delta_t") end)
    it("different ip", function() refused({ delta_t = 1 }, { delta_t = 1, ip = "v4" }, "%f[%a]ip%f[%A]") end)
    it("different filter", function() refused({ delta_t = 1 }, { delta_t = 1, filter = "tcp" }, "filter") end)
    it("different max_gap", function() refused({ delta_t = 1 }, { delta_t = 1, max_gap = 60 }, "max_gap") end)
    it("the packet boundary mode", function()
      refused({ delta_t = 1, boundary = "packet" }, { delta_t = 1, boundary = "packet" }, "packet")
    end)
    it("a selection of intervals", function()
      local a, b = assert(tpp.parse(list[1], { delta_t = 1 })), assert(tpp.parse(list[2], { delta_t = 1 }))
      local part = a:select { 1, 2, 3 }
      assert.is_false(part.mergeable)
      local m, err = tpp.merge { part, b }
      assert.is_nil(m)
      assert.is_string(err)
    end)

    it("grids that do not coincide (anchor first)", function()
      local a = assert(tpp.parse(list[1], { delta_t = 1, anchor = "first" }))
      local b = assert(tpp.parse(list[2], { delta_t = 1, anchor = "first" }))
      assert.is_true((b.first_ns - a.first_ns) % 1000000000 ~= 0, "the pieces' first packets are off the grid")
      local m, err = tpp.merge { a, b }
      assert.is_nil(m)
      assert.is_string(err)
    end)

    it("misuse raises", function()
      local a = assert(tpp.parse(list[1], { delta_t = 1 }))
      assert.is_function(tpp.merge)
      assert.is_function(tpp.merger)
      assert.is_truthy(tpp.merge { a })
      assert.has_error(function() tpp.merge() end)
      assert.has_error(function() tpp.merge("x") end)
      assert.has_error(function() tpp.merge { a, "x" } end)
      assert.has_error(function() tpp.merge { a, 1 } end)
      assert.has_error(function() tpp.merger():add("x") end)
    end)
  end)

  describe("every way of cutting a small capture", function()
    it("gives the whole capture's result", function()
      local path = small()
      local cap = assert(pieces.load(path))
      local cases = 0
      for mask = 1, (1 << 7) - 1 do
        local cuts = {}
        for b = 0, 6 do if mask & (1 << b) ~= 0 then cuts[#cuts + 1] = b + 2 end end
        local list = assert(pieces.cut(cap, subdir(), cuts))
        for _, opts in ipairs(SMALL_OPTS) do
          local whole = assert(tpp.parse(path, opts))
          local m = merge(shuffled_but_ties(parse_each(list, opts), mask))
          assert_same(m, whole, dir, ("cut at %s (%s)"):format(describe_cuts(cuts), opts_text(opts)))
          cases = cases + 1
        end
      end
      assert.are.equal(127 * 5, cases)
    end)

    it("takes pieces within one same instant in the order given", function()
      local path = small()
      local list = assert(pieces.cut(assert(pieces.load(path)), subdir(), { 4, 5, 6 }))
      local opts = { delta_t = 1, max_gap = 7 }
      local parts = parse_each(list, opts)                 -- [3 packets] [IP at 10.5] [ARP at 10.5] [3 packets]
      assert.are.equal(parts[2].first_ns, parts[3].last_ns)
      assert_same(merge { parts[4], parts[2], parts[3], parts[1] }, assert(tpp.parse(path, opts)),
                  dir, "IP piece before ARP piece")
      local swapped = assert(pieces.concat({ list[1], list[3], list[2], list[4] }, dir .. "/swapped.pcap"))
      local m = merge { parts[4], parts[3], parts[2], parts[1] }
      assert_same(m, assert(tpp.parse(swapped, opts)), dir, "ARP piece before IP piece")
      assert.are.equal(0, m:interval(11).iat_mean)         -- the IP packet comes 0 s after the ARP frame
    end)
  end)

  describe("limits apply to the merged series", function()
    local function limited(name, cuts, max_intervals)
      local list = assert(pieces.cut(capture(name), subdir(), cuts))
      local opts = { delta_t = 1, max_intervals = max_intervals }
      local parts = parse_each(list, opts)
      local m = merge(shuffled_but_ties(parts, 2))
      assert.are.equal(max_intervals, #m)
      local whole = assert(tpp.parse(path_of(name), opts))
      assert.are.equal(max_intervals, #whole)
      assert_same(m, whole, dir, ("%s, max_intervals %d"):format(name, max_intervals))
      assert.is_true(m.stopped_by_limit)
      return parts
    end

    it("max_intervals of the pieces truncates the series as a whole", function()
      -- synth-a (34 intervals of 1 s, ARP frames among them) in three pieces of 12 intervals or so
      local parts = limited("synth-a.pcap", { 20000, 40000 }, 20)
      for _, r in ipairs(parts) do assert.is_false(r.stopped_by_limit) end
    end)

    it("max_intervals also when a piece stopped at it", function()
      -- modbusBig (58 intervals of 1 s) in pieces of 7, 8, 26 and 21 intervals: the third stops at 20
      local parts = limited("modbusBig.pcap", { 1500, 3000, 9000 }, 20)
      assert.is_true(parts[3].stopped_by_limit)
    end)
  end)
end)
