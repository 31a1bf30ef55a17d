-- Issue 16, the research features under the exact merge: a capture parsed whole and its pieces (cut anywhere:
-- at random, between packets of one instant, at interval limits, between two packets of a flow exactly
-- flow_timeout apart and 1 ns more) parsed apart and merged give the same critical TSV, every column byte for byte
-- (but the IAT moments' last bits, as in merge_spec), and the same heavy-hitter table.  The merge state that the
-- dumps carry (full tables, addresses seen, flows' head and tail) is checked by merging in stages through dumps.
-- Overlapping pieces: flows_new is NaN where they interleave and flow_timeout after, every other column exact.
-- Also the refusals (features, flow_timeout, heavy_hitters, hhh_phi), the groups switched off, max_intervals, and
-- dumps of format 3 (no research features: NaN, not mergeable, parsed again by the main job).
local tpp = require "tpp"
local H = require "tests.helper"
local pieces = require "tests.pieces"

local PARITY = "tests/data/parity/"
local LOOSE = { iat_std = true, iat_skew = true, iat_kurt = true }          -- may differ in the last bits
local IAT = { iat_mean = true, iat_std = true, iat_skew = true, iat_kurt = true }

local function text_of(r, dir, what)
  local path = dir .. "/compare." .. what
  assert(what == "tsv" and r:write_critical(path) or r:write_heavy_hitters(path))
  local text = H.read_file(path)
  os.remove(path)
  return text
end

local function tsv_rows(text)
  local rows = {}
  for line in text:gmatch("[^\n]+") do
    local row = {}
    for cell in (line .. "\t"):gmatch("([^\t]*)\t") do row[#row + 1] = cell end
    rows[#rows + 1] = row
  end
  return rows
end

-- What differs between results `got` and `want`, at most 12 lines: every cell of the critical TSV (LOOSE columns
-- within relative 1e-12, opts.skip not compared) and every line of the heavy-hitter table.
local function differences(got, want, dir, opts)
  opts = opts or {}
  local out = {}
  local function say(fmt, ...) if #out < 12 then out[#out + 1] = fmt:format(...) end end
  local g, w = tsv_rows(text_of(got, dir, "tsv")), tsv_rows(text_of(want, dir, "tsv"))
  local header = w[1]
  if table.concat(g[1], " ") ~= table.concat(header, " ") then say("columns differ") return out end
  if #g ~= #w then say("intervals: got %d, want %d", #g - 1, #w - 1) end
  for i = 2, math.min(#g, #w) do
    for c, name in ipairs(header) do
      local a, b = g[i][c], w[i][c]
      if a ~= b and not (opts.skip and opts.skip[name])
         and not (LOOSE[name] and tonumber(a) and tonumber(b) and H.close(tonumber(a), tonumber(b), 1e-12)) then
        say("interval %s (start %s) %s: got %s, want %s", w[i][1], w[i][2], name, a, b)
      end
    end
  end
  if opts.hh ~= false then
    local gh, wh = text_of(got, dir, "hh"), text_of(want, dir, "hh")
    if gh ~= wh then
      local gl, wl = tsv_rows(gh), tsv_rows(wh)
      for i = 1, math.max(#gl, #wl) do
        local a, b = table.concat(gl[i] or {}, " "), table.concat(wl[i] or {}, " ")
        if a ~= b then say("heavy hitters line %d: got %s, want %s", i, a, b) end
      end
    end
  end
  return out
end

local function assert_same(got, want, dir, what, opts)
  local d = differences(got, want, dir, opts)
  assert.is_true(#d == 0, what .. ":\n  " .. table.concat(d, "\n  "))
end

local parse_each, merge = pieces.parse_each, pieces.merge


local function opts_text(opts)
  local keys, parts = {}, {}
  for k in pairs(opts) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do parts[#parts + 1] = ("%s=%s"):format(k, tostring(opts[k])) end
  return table.concat(parts, " ")
end

local function with(opts, more)
  local o = {}
  for k, v in pairs(opts) do o[k] = v end
  for k, v in pairs(more or {}) do o[k] = v end
  return o
end

---------------------------------------------------------------------------------------------------------------
-- A capture of many flows whose packets straddle any cut: 200 flows (IPv4 and IPv6; TCP with SYN+ACK and RST,
-- UDP, ICMP, first and later fragments; TTLs and lengths that vary), 4000 packets over 6 s, the busy flows more
-- often (heavy hitters), a few packets sharing an instant; and two flows whose second packet comes exactly
-- TIMEOUT, and TIMEOUT + 1 ns, after their first.
---------------------------------------------------------------------------------------------------------------
local TIMEOUT = 0.5
local TIMEOUT_NS = 500000000

local function flow_frame(k, rand)
  local kind = k % 7
  local pad = ("x"):rep((k * 7 + rand(40)) % 60)
  local ipopts = { ttl = 20 + k % 90 }
  local s4 = ("10.%d.%d.%d"):format(k % 3, k % 5, k % 13 + 1)
  local d4 = ("192.168.%d.%d"):format(k % 4, k % 11 + 1)
  local s6, d6 = ("2001:db8:%x::%x"):format(k % 3, k % 9 + 1), ("2001:db8:%x:1::%x"):format(k % 2, k % 5 + 1)
  if kind == 0 then
    local flags = ({ H.SYN, H.SYN | H.ACK, H.ACK, H.RST, H.FIN | H.ACK })[rand(5)]
    return H.eth4_tcp(s4, d4, 1024 + k, ({ 80, 443, 22 })[k % 3 + 1], flags, pad, ipopts)
  elseif kind == 1 then
    return H.eth4_udp(s4, d4, 2000 + k % 17, ({ 53, 123 })[k % 2 + 1], pad, ipopts)
  elseif kind == 2 then
    return H.eth6_udp(s6, d6, 3000 + k, 53, pad, { hop_limit = ipopts.ttl })
  elseif kind == 3 then
    return H.eth6_tcp(s6, d6, 4000 + k, 443, rand(2) == 1 and (H.SYN | H.ACK) or H.ACK, pad, { hop_limit = ipopts.ttl })
  elseif kind == 4 then
    return H.eth4_icmp(s4, d4, 8, 0, "\0\1\0" .. string.char(k % 256) .. pad, ipopts)
  elseif kind == 5 then   -- a first fragment (ports) or a later one (no ports)
    local first = rand(2) == 1
    return H.eth_ip(H.ipv4(s4, d4, H.PROTO_UDP, first and H.udp(5000 + k, 53, pad) or pad,
      { ttl = ipopts.ttl, more_fragments = first, frag_offset = first and 0 or 8, id = k }))
  end
  return H.eth_ip(H.ipv6(s6, d6, H.PROTO_UDP, H.udp(6000 + k, 53, pad),
    { hop_limit = ipopts.ttl, ext = { { type = H.PROTO_FRAGMENT, more = true, id = k } } }))
end

local function flows_capture(path)
  local rand = pieces.random(16)
  local packets, t = {}, H.T0 + 123456789
  for i = 1, 4000 do
    t = t + (rand(10) == 1 and 0 or rand(3000000))          -- ~1.5 ms apart, one in ten at the same instant
    local k = rand(rand(200))                                 -- low flow numbers more often
    packets[i] = { ts_ns = t, data = flow_frame(k, rand) }
  end
  -- two flows of their own, seen twice: TIMEOUT apart (not new again) and TIMEOUT + 1 ns apart (new again)
  local at = H.T0 + 123456789 + 2 * H.NS + 1000
  local function pair(src, gap)
    for _, dt in ipairs { 0, gap } do
      packets[#packets + 1] = { ts_ns = at + dt, data = H.eth4_udp(src, "172.16.0.1", 7777, 9999, "edge") }
    end
  end
  pair("172.16.9.1", TIMEOUT_NS)
  pair("172.16.9.2", TIMEOUT_NS + 1)
  for i, p in ipairs(packets) do p.i = i end
  table.sort(packets, function(a, b) if a.ts_ns ~= b.ts_ns then return a.ts_ns < b.ts_ns end return a.i < b.i end)
  -- the 1-based indices of the two flows' second packets
  local seconds = {}
  for i, p in ipairs(packets) do
    if p.data:find("edge", 1, true) and (p.ts_ns == at + TIMEOUT_NS or p.ts_ns == at + TIMEOUT_NS + 1) then
      seconds[#seconds + 1] = i
    end
  end
  H.write_capture(path, H.LINKTYPE.ETHERNET, packets, { nanosecond = true })
  return path, seconds
end

-- Places to cut a capture at (1-based index of the first packet of the next piece).
local function tie(cap)                     -- between two packets of one instant, past the first quarter
  local recs = cap.records
  for i = #recs // 4, #recs do if recs[i].ts_ns == recs[i - 1].ts_ns then return i end end
end
local function interval_edges(cap, delta_ns)  -- the first packets of two intervals and the last of a third
  local recs, out = cap.records, {}
  for i = #recs // 5, #recs do
    if recs[i].ts_ns // delta_ns ~= recs[i - 1].ts_ns // delta_ns then
      out[#out + 1] = #out == 2 and i - 1 or i
      if #out == 3 then break end
    end
  end
  table.sort(out)
  return out
end

describe("issue 16: the research features merge exactly", function()
  local dir, n = nil, 0
  local flows_path, edge_packets
  local loaded = {}

  lazy_setup(function()
    dir = H.tmpdir()
    flows_path, edge_packets = flows_capture(dir .. "/flows.pcap")
  end)
  lazy_teardown(function() if dir then H.rmtree(dir) end end)

  local function path_of(name) return name == "flows" and flows_path or PARITY .. name end
  local function capture(name)
    loaded[name] = loaded[name] or assert(pieces.load(path_of(name)))
    return loaded[name]
  end
  local function subdir()
    n = n + 1
    local d = ("%s/case%03d"):format(dir, n)
    assert(require("lfs").mkdir(d))
    return d
  end

  it("the flows capture has what the cuts need: flows across intervals, both timeout edges, heavy hitters", function()
    local r = assert(tpp.parse(flows_path, { delta_t = 0.25, flow_timeout = TIMEOUT }))
    assert.are.equal(2, #edge_packets)
    local flows, new, frag, synack, rst = 0, 0, 0, 0, 0
    for i = 1, #r do
      local iv = r:interval(i)
      flows, new, frag = flows + iv.flows, new + iv.flows_new, frag + iv.frag
      synack, rst = synack + iv.synack, rst + iv.rst
    end
    assert.is_true(new < flows and new > 200, ("flows %d, new %d"):format(flows, new))   -- flows come back after the timeout
    assert.is_true(frag > 0 and synack > 0 and rst > 0)
    assert.is_true(#r:heavy_hitters("src_hhh", 2) > 0)
    -- exactly TIMEOUT apart is the same flow, TIMEOUT + 1 ns a new one: with the second packets alone in a piece,
    -- the merge must say so too (checked below); here the whole parse's own counts
    local cap = capture("flows")
    local a, b = cap.records[edge_packets[1]], cap.records[edge_packets[2]]
    assert.are.equal(1, b.ts_ns - a.ts_ns)
  end)

  describe("consecutive pieces give the whole capture's columns and heavy hitters", function()
    local CASES = {
      { "flows", { delta_t = 0.25, flow_timeout = TIMEOUT } },
      { "flows", { delta_t = 0.1, flow_timeout = 0.05, heavy_hitters = 3, hhh_phi = 0.2 } },
      { "flows", { delta_t = 1, ip = "v6" } },
      { "flows", { delta_t = 0.25, flow_timeout = TIMEOUT, features = "flows,novelty" } },
      { "flows", { delta_t = 0.25, features = "none" } },
      { "afs.pcap", { delta_t = 10 } },
      { "afs.pcap", { delta_t = 1, flow_timeout = 2, max_gap = 5 } },
      { "modbusBig.pcap", { delta_t = 0.25, flow_timeout = 0.3 } },
      { "cwd-navigation.pcap", { delta_t = 7, flow_timeout = 10 } },
      { "synth-a.pcap", { delta_t = 1, flow_timeout = 0.7 } },
    }
    for _, case in ipairs(CASES) do
      local name, opts = case[1], case[2]
      local label = ("%s (%s)"):format(name, opts_text(opts))
      local cut_sets = {
        { "at random, seed 1", function(cap) return pieces.random_cuts(#cap.records, 6, 1) end },
        { "at random, seed 2", function(cap) return pieces.random_cuts(#cap.records, 11, 2) end },
        { "between two packets of one instant", function(cap) return { tie(cap) } end },
        { "at interval limits", function(cap) return interval_edges(cap, math.floor(opts.delta_t * 1e9 + 0.5)) end },
      }
      if name == "flows" then
        cut_sets[#cut_sets + 1] = { "before the second packets of the timeout-edge flows", function()
          return { edge_packets[1], edge_packets[2], edge_packets[2] + 1 }
        end }
      end
      for _, set in ipairs(cut_sets) do
        it(("%s cut %s"):format(label, set[1]), function()
          local cap = capture(name)
          local cuts = set[2](cap)
          if #cuts == 0 then return pending(name .. " has no such place to cut") end
          local list = assert(pieces.cut(cap, subdir(), cuts))
          local whole = assert(tpp.parse(path_of(name), opts))
          local parts = parse_each(list, opts)
          assert_same(merge(parts), whole, dir, label .. " cut at " .. table.concat(cuts, ","))
          local mg = tpp.merger()
          for _, r in ipairs(parts) do assert.is_truthy(mg:add(r)) end
          assert_same(mg:result(), whole, dir, label .. " (the streaming merger)")
        end)
      end
    end

    it("every cut of the flows capture's first 120 packets, alone and with the rest", function()
      local cap = capture("flows")
      local opts = { delta_t = 0.01, flow_timeout = 0.004 }
      local d = subdir()
      local head = assert(pieces.cut(cap, d, { 121 }))[1]
      local whole = assert(tpp.parse(head, opts))
      local small = assert(pieces.load(head))
      for c = 2, 120 do
        local list = assert(pieces.cut(small, subdir(), { c }))
        assert_same(merge(parse_each(list, opts)), whole, dir, "flows' first 120 packets cut at " .. c)
      end
    end)
  end)

  describe("the merge state", function()
    local OPTS = { delta_t = 0.25, flow_timeout = TIMEOUT }

    it("survives dumps and merges in stages: merges of merges, dumped, loaded and merged again", function()
      local cap = capture("flows")
      local list = assert(pieces.cut(cap, subdir(), pieces.random_cuts(#cap.records, 8, 5)))
      local whole = assert(tpp.parse(flows_path, OPTS))
      local parts = parse_each(list, OPTS)
      local back = {}
      for k, r in ipairs(parts) do
        assert(r:dump(("%s/p%d.tpd"):format(dir, k)))
        back[k] = assert(tpp.load(("%s/p%d.tpd"):format(dir, k)))
      end
      assert_same(merge(back), whole, dir, "pieces from dumps")
      local left = merge { back[1], back[2], back[3] }
      local right = merge { parts[4], parts[5] }
      assert(left:dump(dir .. "/left.tpd"))
      assert(right:dump(dir .. "/right.tpd"))
      local rest = merge { parts[6], parts[7], parts[8] }
      local m = merge { assert(tpp.load(dir .. "/left.tpd")), assert(tpp.load(dir .. "/right.tpd")), rest }
      assert_same(m, whole, dir, "merged in stages through dumps")
      -- the merged result's own dump holds the same state as the whole's: merging the last piece onto either gives
      -- the same result
      local last = assert(pieces.cut(assert(pieces.load(list[8])), subdir(), { 2 }))
      local ahead = merge { parts[1], parts[2], parts[3], parts[4], parts[5], parts[6], parts[7],
                            assert(tpp.parse(last[1], OPTS)) }
      assert(ahead:dump(dir .. "/ahead.tpd"))
      assert_same(merge { assert(tpp.load(dir .. "/ahead.tpd")), assert(tpp.parse(last[2], OPTS)) }, whole, dir,
                  "the last packets merged onto a dumped merge")
    end)

    -- The sections of a dump, by tag (header and payload as stored).
    local function sections(r, path)
      assert(r:dump(path))
      local bytes, pos, out = H.read_file(path), 25, {}
      while true do
        local tag, _, stored, _, at = string.unpack("<c4I4I8I8", bytes, pos)
        out[tag] = bytes:sub(pos, at + stored - 1)
        pos = at + stored
        if tag == "END " then return out end
      end
    end

    for _, case in ipairs {
      { "flows", OPTS, 8 },
      { "flows", { delta_t = 0.1, flow_timeout = 0.05, heavy_hitters = 3 }, 12 },
      { "flows", { delta_t = 0.25, flow_timeout = TIMEOUT, keep_tables = "all" }, 5 },
      { "modbusBig.pcap", { delta_t = 1, flow_timeout = 3 }, 6 },
    } do
      it(("is the whole's: the dumps' tables, heavy hitters, addresses seen and flow head and tail (%s, %s)")
        :format(case[1], opts_text(case[2])), function()
        local cap = capture(case[1])
        local list = assert(pieces.cut(cap, subdir(), pieces.random_cuts(#cap.records, case[3], 9)))
        local whole = sections(assert(tpp.parse(path_of(case[1]), case[2])), dir .. "/whole.tpd")
        local merged = sections(merge(parse_each(list, case[2])), dir .. "/merged.tpd")
        for _, tag in ipairs { "TABS", "HHIT", "NOVL", "FLOW" } do
          assert.is_true(whole[tag] == merged[tag], tag .. " differs")
          assert.is_true(#whole[tag] > 24, tag .. " is not empty")
        end
      end)
    end

    it("keeps the limits: max_intervals of the series cuts the merged state with its rows", function()
      local cap = capture("flows")
      local opts = with(OPTS, { max_intervals = 9 })
      local list = assert(pieces.cut(cap, subdir(), pieces.random_cuts(#cap.records, 5, 8)))
      local whole = assert(tpp.parse(flows_path, opts))
      local m = merge(parse_each(list, opts))
      assert.are.equal(9, #m)
      assert_same(m, whole, dir, "max_intervals 9")
      assert(m:dump(dir .. "/limited.tpd"))      -- the state of rows cut off is gone: the dump loads
      assert_same(assert(tpp.load(dir .. "/limited.tpd")), whole, dir, "max_intervals 9, dumped")
    end)
  end)

  describe("overlapping pieces (keep_tables = \"all\")", function()
    -- Rows with IP packets in [lost_from, lost_to + flow_timeout] have flows_new NaN, the others the whole's.
    local function check(list, opts, what)
      local whole = assert(tpp.parse(assert(pieces.union(list, dir .. "/union.pcap")), opts))
      local parts = parse_each(list, opts)
      local m = merge(parts)
      assert_same(m, whole, dir, what, { skip = { iat_mean = true, iat_std = true, iat_skew = true, iat_kurt = true,
                                                  flows_new = true } })
      local first = math.max(parts[1].first_ns, parts[2].first_ns)
      local last = math.min(parts[1].last_ns, parts[2].last_ns)
      local to = last + math.floor(opts.flow_timeout * 1e9 + 0.5)
      local nan, exact = 0, 0
      for i = 1, #m do
        local iv, w = m:interval(i), whole:interval(i)
        local start_ns, end_ns = m:column("start")[i], m:column("end")[i]
        local inside = H.text_to_ns(("%.9f"):format(end_ns)) > first and H.text_to_ns(("%.9f"):format(start_ns)) <= to
        if inside and iv.ip_packets > 0 then
          assert.is_true(iv.flows_new ~= iv.flows_new, ("%s: interval %d: flows_new %s inside the span")
            :format(what, i, tostring(iv.flows_new)))
          nan = nan + 1
        else
          assert.are.equal(w.flows_new, iv.flows_new, ("%s: interval %d flows_new"):format(what, i))
          exact = exact + (iv.ip_packets > 0 and 1 or 0)
        end
      end
      return nan, exact
    end

    it("a piece inside the span of another: flows_new NaN there and flow_timeout after, exact elsewhere", function()
      local cap = capture("flows")
      local total = #cap.records
      local list = assert(pieces.overlapping(cap, subdir(),
        function(_, i) return i < total // 3 or i > 2 * total // 3 end))
      local nan, exact = check(list, { delta_t = 0.25, flow_timeout = TIMEOUT, keep_tables = "all" }, "a hole filled")
      assert.is_true(nan > 0 and exact > 5, ("%d NaN, %d exact"):format(nan, exact))
    end)

    it("the two directions of modbusBig.pcap captured apart", function()
      local list = assert(pieces.overlapping(capture("modbusBig.pcap"), subdir(), "directions"))
      check(list, { delta_t = 1, flow_timeout = 0.5, keep_tables = "all" }, "modbusBig directions")
    end)
  end)

  describe("refuses pieces computed with other research options, naming the option", function()
    local list
    before_each(function()
      list = assert(pieces.cut(capture("afs.pcap"), subdir(), { 300 }))
    end)
    for _, case in ipairs {
      { { features = "flows" }, "features" },
      { { flow_timeout = 30 }, "flow_timeout" },
      { { heavy_hitters = 5 }, "heavy_hitters" },
      { { hhh_phi = 0.1 }, "hhh_phi" },
    } do
      it(case[2], function()
        local a = assert(tpp.parse(list[1], { delta_t = 10 }))
        local b = assert(tpp.parse(list[2], with({ delta_t = 10 }, case[1])))
        local m, err = tpp.merge { a, b }
        assert.is_nil(m)
        assert.matches(case[2], err)
        local mg = tpp.merger()
        assert.is_truthy(mg:add(a))
        local ok, err2 = mg:add(b)
        assert.is_nil(ok)
        assert.matches(case[2], err2)
      end)
    end
  end)

  describe("dumps of format 3", function()
    -- A current dump rewritten as format 3 wrote it: META without the research options and format 5's encap fields,
    -- COLS without the research columns, state.ttl_sum and state.encapsulated, TABS without tables (K = 0, as format 3 allows), no HHIT, NOVL, FLOW.
    local function as_format3(bytes)
      local pos, out = 25, { bytes:sub(1, 8), string.pack("<I4", 3), bytes:sub(13, 24) }
      local research = {}
      for _, c in ipairs { "entropy_tcp_src", "entropy_tcp_dst", "entropy_udp_src", "entropy_udp_dst", "src_p24",
                           "dst_p24", "src_p16", "dst_p16", "entropy_src_p24", "entropy_dst_p24", "flows", "flows_new",
                           "fanout_max", "new_src", "new_dst", "synack", "rst", "frag", "ttl_mean", "len_p50",
                           "len_p95", "state.ttl_sum", "state.encapsulated" } do research[c] = true end
      while true do
        local tag, flags, stored, raw, at = string.unpack("<c4I4I8I8", bytes, pos)
        local data, section = bytes:sub(at, at + stored - 1), bytes:sub(pos, at + stored - 1)
        pos = at + stored
        if tag == "META" or tag == "COLS" then assert.are.equal(0, flags, "a small dump: META and COLS plain") end
        if tag == "META" then  -- the 24 bytes of research options and 9 of encap sit before the interval count
          data = data:sub(1, -42) .. data:sub(-8)
        elseif tag == "COLS" then
          local ncols, q = string.unpack("<I4", data)
          local names, types = {}, {}
          for k = 1, ncols do names[k], types[k], q = string.unpack("<s4B", data, q) end
          local nrows = (#data - q + 1) // (8 * ncols)
          local head, body, kept = {}, {}, 0
          for k = 1, ncols do
            if not research[names[k]] then
              kept = kept + 1
              head[#head + 1] = string.pack("<s4B", names[k], types[k])
              body[#body + 1] = data:sub(q + (k - 1) * 8 * nrows, q + k * 8 * nrows - 1)
            end
          end
          data = string.pack("<I4", kept) .. table.concat(head) .. table.concat(body)
        elseif tag == "TABS" then
          data = string.pack("<I8", 0)
        end
        if tag == "META" or tag == "COLS" or tag == "TABS" then
          out[#out + 1] = string.pack("<c4I4I8I8", tag, 0, #data, #data) .. data
        elseif tag ~= "HHIT" and tag ~= "NOVL" and tag ~= "FLOW" and tag ~= "LABL" then
          out[#out + 1] = section                                   -- as it was (SEEN is compressed)
        end
        if tag == "END " then break end
      end
      local body = table.concat(out)
      return body .. string.pack("<I4", H.crc32(body))
    end

    local function old_dump(capture_path, out, opts)
      local r = assert(tpp.parse(capture_path, opts))
      assert(r:dump(out))
      H.write_file(out, as_format3(H.read_file(out)))
      return r
    end

    it("load with the research columns NaN and the others as they were, and are not mergeable", function()
      local d = subdir()
      local r = old_dump(PARITY .. "afs.pcap", d .. "/old.tpd", { delta_t = 30 })
      local old, err = tpp.load(d .. "/old.tpd")
      assert.is_truthy(old, err)
      assert.is_false(old.mergeable)
      assert.are.equal("none", old.features)
      for _, name in ipairs(r:columns()) do
        local a, b = r:column(name), old:column(name)
        for i = 1, #r do
          if name == "flows" or name:match("^entropy_[tu]") or name:match("_p%d%d$") or name:match("^new_")
             or name == "flows_new" or name == "fanout_max" or name == "synack" or name == "rst" or name == "frag"
             or name == "ttl_mean" or name == "entropy_src_p24" or name == "entropy_dst_p24" then
            assert.is_true(b[i] ~= b[i], name .. " is NaN in a format-3 dump")
          elseif a[i] == a[i] then
            assert.are.equal(a[i], b[i], name)
          end
        end
      end
      assert.are.same({}, old:heavy_hitters("src", 1))
      local m, merr = tpp.merge { old, assert(tpp.parse(PARITY .. "afs.pcap", { delta_t = 30 })) }
      assert.is_nil(m)
      assert.matches("merge state", merr)
    end)

    it("are parsed again by the main job, which replaces them", function()
      local d = subdir()
      local cap = d .. "/x.pcap"
      H.write_file(cap, H.read_file(PARITY .. "afs.pcap"))
      local out, err, status = H.exec_in(d, "-f none -t 30 x.pcap")
      assert.are.equal(0, status, err)
      local dump = d .. "/mem_dump/x.tpd"
      H.write_file(dump, as_format3(H.read_file(dump)))
      assert.is_false(assert(tpp.load(dump)).mergeable)
      out, err, status = H.exec_in(d, "-f none -t 30 x.pcap")
      assert.are.equal(0, status, err)
      assert.is_truthy((out .. err):find("(parsed)", 1, true), out .. err)
      local again = assert(tpp.load(dump))
      assert.is_true(again.mergeable)
      assert.are.equal("all", again.features)
      -- and a dump of this format is reused when the options match, not when a research option differs
      out, err = H.exec_in(d, "-f none -t 30 x.pcap")
      assert.is_truthy((out .. err):find("(from its dump)", 1, true), out .. err)
      out, err = H.exec_in(d, "-f none -t 30 --flow-timeout 5 x.pcap")
      assert.is_truthy((out .. err):find("(parsed)", 1, true), out .. err)
    end)
  end)
end)
