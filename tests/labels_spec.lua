-- Ground-truth labels (issue 17, items 1 and 4): MAWILab's admd XML and CSV read by tpp.labels, the label columns
-- and the per-anomaly table of tpp.parse{labels = ...} on captures written here (known answers worked out in the
-- comments) and on a parity capture (the answer counted packet by packet through tpp.packets, in plain Lua), dumps,
-- merges, the main job's --labels, and what the figures and the page make of them.
local H = require "tests.helper"
local lfs = require "lfs"
local tpp = require "tpp"
local labels = require "tpp.labels"

local NS, T0 = H.NS, H.T0
local S0 = T0 // NS                       -- T0 in whole seconds, for <from sec=...>
local q = H.shell_quote
local NAN = 0 / 0

local function is_nan(x) return x ~= x end

local function xml_escape(text)
  return (tostring(text):gsub("[<>&\"]", { ["<"] = "&lt;", [">"] = "&gt;", ["&"] = "&amp;", ['"'] = "&quot;" }))
end

-- An admd file: anomalies = { { type =, value =, id =, filters = { { src_ip = ... } }, from = { sec, usec },
-- to = { sec, usec }, window_in_slice = bool } }; times relative to S0.
local function admd(anomalies)
  local out = { '<?xml version="1.0" encoding="UTF-8"?>',
                '<admd:annotation xmlns:admd="http://www.fukuda-lab.org/mawilab/admd">' }
  for _, a in ipairs(anomalies) do
    out[#out + 1] = ('  <anomaly type="%s" value="%s"%s>'):format(a.type, xml_escape(a.value or "x,y,z,tax"),
                                                                  a.id and (' id="' .. xml_escape(a.id) .. '"') or "")
    out[#out + 1] = "    <slice>"
    for _, f in ipairs(a.filters or {}) do
      local attrs = {}
      for _, k in ipairs { "src_ip", "dst_ip", "src_port", "dst_port" } do
        if f[k] then attrs[#attrs + 1] = ('%s="%s"'):format(k, f[k]) end
      end
      out[#out + 1] = "      <filter " .. table.concat(attrs, " ") .. "/>"
    end
    local window = ('<from sec="%d" usec="%d"/><to sec="%d" usec="%d"/>'):format(S0 + a.from[1], a.from[2],
                                                                              S0 + a.to[1], a.to[2])
    if a.window_in_slice then out[#out + 1] = "      " .. window end
    out[#out + 1] = "    </slice>"
    if not a.window_in_slice then out[#out + 1] = "    " .. window end
    out[#out + 1] = "  </anomaly>"
  end
  out[#out + 1] = "</admd:annotation>"
  return table.concat(out, "\n") .. "\n"
end

-- The column `name` of r as a plain list.
local function col(r, name) return r:column(name):totable() end

describe("tpp.labels", function()
  local dir
  lazy_setup(function() dir = H.tmpdir() end)
  lazy_teardown(function() H.rmtree(dir) end)

  describe("read (admd XML)", function()
    it("reads types, ids, taxonomies, windows to the nanosecond and filters with absent attributes", function()
      local path = dir .. "/day.xml"
      H.write_file(path, admd {
        { type = "anomalous", value = "123,0.5,2,network_scan_SYN", filters = { { src_ip = "192.0.2.1", dst_port = 80 } },
          from = { 5, 250000 }, to = { 14, 0 } },
        { type = "suspicious", id = "s7", filters = { { dst_ip = "2001:db8::1" }, { src_port = 53 } },
          from = { 1, 0 }, to = { 2, 999999 }, window_in_slice = true },
        { type = "notice", value = "only", filters = {}, from = { 0, 0 }, to = { 0, 1 } },
      })
      local list = assert(labels.read(path))
      assert.are.equal(3, #list)
      assert.are.same({ "1", "anomalous", "network_scan_SYN" }, { list[1].id, list[1].type, list[1].taxonomy })
      assert.are.equal(T0 + 5 * NS + 250000000, list[1].from_ns)
      assert.are.equal(T0 + 14 * NS, list[1].to_ns)
      assert.are.same({ { src_ip = "192.0.2.1", dst_port = 80 } }, list[1].filters)
      assert.are.same({ "s7", "suspicious" }, { list[2].id, list[2].type })
      assert.are.same({ { dst_ip = "2001:db8::1" }, { src_port = 53 } }, list[2].filters)
      assert.are.equal(T0 + 2 * NS + 999999000, list[2].to_ns)
      assert.are.same({ "3", "notice", "only", T0 + 1000 }, { list[3].id, list[3].type, list[3].taxonomy, list[3].to_ns })
      assert.are.equal(path, list[1].file)
    end)

    it("names the file and the line of a malformed document, and of a bad anomaly", function()
      local cases = {
        { "<admd:annotation>\n<anomaly type='anomalous'>\n<slice>\n</anomaly>\n</admd:annotation>\n", 4, "XML" },
        { "<admd:annotation>\n<anomaly type='anomalous'>\n  <filter src_ip='10.0.0'/>\n</anomaly></admd:annotation>",
          3, "src_ip '10.0.0' is not an IPv4 or IPv6 address" },
        { "<admd:annotation>\n\n<anomaly type='weird'/></admd:annotation>", 3, "anomaly type 'weird'" },
        { "<admd:annotation>\n<anomaly type='notice'>\n<filter dst_port='70000'/>\n</anomaly></admd:annotation>", 3,
          "dst_port '70000' is not a port" },
        { "<admd:annotation>\n<anomaly type='notice'>\n<from sec='1' usec='0'/>\n</anomaly>\n</admd:annotation>", 4,
          "without <from> and <to>" },
        { "<admd:annotation>\n<anomaly type='notice'>\n<from sec='9' usec='0'/><to sec='1' usec='0'/>\n</anomaly>"
          .. "</admd:annotation>", 4, "<to> is before its <from>" },
        { "<html>\n</html>", 1, "not an admd file" },
      }
      for k, case in ipairs(cases) do
        local path = ("%s/bad%d.xml"):format(dir, k)
        H.write_file(path, case[1])
        local list, err = labels.read(path)
        assert.is_nil(list, "case " .. k)
        assert.are.equal(("%s:%d:"):format(path, case[2]), err:match("^(.-:%d+:)"), "case " .. k .. ": " .. err)
        assert.truthy(err:find(case[3], 1, true), "case " .. k .. ": " .. err)
      end
      local none, err = labels.read(dir .. "/absent.xml")
      assert.is_nil(none)
      assert.truthy(err:find("absent.xml", 1, true))
    end)
  end)

  describe("read (MAWILab CSV)", function()
    it("makes one anomaly of the lines of one anomalyID; without time columns it spans all time", function()
      local path = dir .. "/day.csv"
      H.write_file(path, "anomalyID,srcIP,srcPort,dstIP,dstPort,taxonomy,heuristic,distance,nbDetectors,label\n"
        .. "0,192.0.2.1,,198.51.100.2,80,ptmp,20,0.5,3,anomalous\n"
        .. "0,192.0.2.9,,,,ptmp,20,0.5,3,anomalous\n"
        .. "1,,,,53,dns,1,0.1,1,suspicious\n")
      local list = assert(labels.read(path))
      assert.are.equal(2, #list)
      assert.are.same({ "0", "anomalous", "ptmp", "20,0.5,3,ptmp" }, { list[1].id, list[1].type, list[1].taxonomy, list[1].value })
      assert.are.same({ { src_ip = "192.0.2.1", dst_ip = "198.51.100.2", dst_port = 80 }, { src_ip = "192.0.2.9" } },
                      list[1].filters)
      assert.are.same({ math.mininteger, math.maxinteger }, { list[1].from_ns, list[1].to_ns })
      assert.are.same({ { dst_port = 53 } }, list[2].filters)
    end)

    it("takes from and to columns in seconds, and names the line of a bad row", function()
      local path = dir .. "/timed.csv"
      H.write_file(path, "anomalyID,srcIP,srcPort,dstIP,dstPort,taxonomy,label,from,to\n"
        .. ("7,,,,,t,notice,%d.5,%d\n"):format(S0 + 1, S0 + 3))
      local list = assert(labels.read(path))
      assert.are.same({ T0 + NS + NS // 2, T0 + 3 * NS }, { list[1].from_ns, list[1].to_ns })
      H.write_file(path, "anomalyID,srcIP,srcPort,dstIP,dstPort,taxonomy,label\n1,,,,,t,notice\n2,x,,,,t,notice\n")
      local none, err = labels.read(path)
      assert.is_nil(none)
      assert.truthy(err:find(path .. ":3: src_ip 'x'", 1, true), err)
      H.write_file(path, "a,b\n1,2\n")
      none, err = labels.read(path)
      assert.truthy(err:find(path .. ":1: not a MAWILab CSV file", 1, true), err)
    end)
  end)
end)

describe("tpp.parse with labels", function()
  local dir, capture
  -- Every second s = 0..29 (relative to T0, on the 10 s grid: intervals [0,10), [10,20), [20,30)):
  --   a TCP packet 10.0.0.1:1234 -> 10.0.0.2:80 at s,
  --   a UDP packet 10.0.0.3:53 -> 10.0.0.4:5353 at s + 0.1,
  --   an ICMP packet 10.0.0.5 -> 10.0.0.6 at s + 0.2,
  --   a TCP packet 2001:db8::1:443 -> 2001:db8::2:50000 at s + 0.3.
  lazy_setup(function()
    dir = H.tmpdir()
    local packets = {}
    for s = 0, 29 do
      local t = T0 + s * NS
      packets[#packets + 1] = { ts_ns = t, data = H.eth4_tcp("10.0.0.1", "10.0.0.2", 1234, 80, H.SYN) }
      packets[#packets + 1] = { ts_ns = t + NS // 10, data = H.eth4_udp("10.0.0.3", "10.0.0.4", 53, 5353, "q") }
      packets[#packets + 1] = { ts_ns = t + 2 * NS // 10, data = H.eth4_icmp("10.0.0.5", "10.0.0.6", 8, 0, "p") }
      packets[#packets + 1] = { ts_ns = t + 3 * NS // 10,
                                data = H.eth6_tcp("2001:db8::1", "2001:db8::2", 443, 50000, H.ACK) }
    end
    capture = H.write_capture(dir .. "/four.pcap", H.LINKTYPE.ETHERNET, packets, { nanosecond = true })
  end)
  lazy_teardown(function() H.rmtree(dir) end)

  local function anomaly(t, from_s, to_s, filters, id)
    return { type = t, from_ns = T0 + math.floor(from_s * NS + 0.5), to_ns = T0 + math.floor(to_s * NS + 0.5),
             filters = filters, id = id, taxonomy = "tax", value = "v" }
  end

  it("leaves the label columns NaN without labels, and r.labels nil", function()
    local r = assert(tpp.parse(capture))
    for _, name in ipairs { "anomalous_pkts", "suspicious_pkts", "notice_pkts", "anomalous_events",
                            "suspicious_events", "notice_events" } do
      for i, v in ipairs(col(r, name)) do assert.is_true(is_nan(v), name .. " " .. i) end
    end
    assert.is_nil(r.labels)
    assert.is_nil(r.labels_fingerprint)
  end)

  it("counts the IP packets of each type once, in windows with both ends included", function()
    local r = assert(tpp.parse(capture, { labels = {
      -- 10.0.0.1 -> port 80 from 5 to 14 inclusive: the TCP packets at 5..14, 5 in [0,10) and 5 in [10,20)
      anomaly("anomalous", 5, 14, { { src_ip = "10.0.0.1", dst_port = 80 } }, "a1"),
      -- 10.0.0.1's packets at 12 .. 22 (11, some of them a1's too), and 2001:db8::1:443's at 12.3 .. 21.3 (10)
      anomaly("anomalous", 12, 22, { { src_ip = "10.0.0.1" }, { src_ip = "2001:db8::1", src_port = 443 } }, "a2"),
      -- port 53 (UDP source): 20.1 .. 29.1 within [20, 40] -> 10 in [20,30); an ICMP packet has no port, so a filter
      -- with a port never matches it, and dst_port 53 matches nothing
      anomaly("suspicious", 20, 40, { { src_port = 53 }, { dst_port = 53 } }, "s1"),
      -- no attribute: every IP packet in [0.2, 0.3]: the ICMP one at 0.2 and the IPv6 one at 0.3
      anomaly("notice", 0.2, 0.3, { {} }, "n1"),
      -- a window with no packet of its filter: an event without packets
      anomaly("notice", 25, 26, { { dst_ip = "10.9.9.9" } }, "n2"),
    } }))
    assert.are.equal(3, #r)
    -- a2's IPv4 matches at 12..22 overlap a1's at 12..14: interval 2 has a1's 10..14 (5) and a2's 15..19 (5),
    -- plus a2's IPv6 at 12.3..19.3 (8); interval 3 has a2's IPv4 at 20, 21, 22 (3) and IPv6 at 20.3, 21.3 (2)
    assert.are.same({ 5, 18, 5 }, col(r, "anomalous_pkts"))
    assert.are.same({ 0, 0, 10 }, col(r, "suspicious_pkts"))
    assert.are.same({ 2, 0, 0 }, col(r, "notice_pkts"))
    -- events: a1 overlaps [0,10) and [10,20); a2 [10,20) and [20,30); s1 [20,30); n1 [0,10); n2 [20,30)
    assert.are.same({ 1, 2, 1 }, col(r, "anomalous_events"))
    assert.are.same({ 0, 0, 1 }, col(r, "suspicious_events"))
    assert.are.same({ 1, 0, 1 }, col(r, "notice_events"))

    local by_id = {}
    for _, a in ipairs(r.labels) do by_id[a.id] = a end
    -- a1: 10 packets, intervals 0..1; a2: IPv4 12..22 (11) + IPv6 12.3..21.3 (10) = 21, intervals 1..2
    assert.are.same({ 10, 0, 1 }, { by_id.a1.packets, by_id.a1.first_interval, by_id.a1.last_interval })
    assert.are.same({ 21, 1, 2 }, { by_id.a2.packets, by_id.a2.first_interval, by_id.a2.last_interval })
    assert.are.same({ 10, 2, 2 }, { by_id.s1.packets, by_id.s1.first_interval, by_id.s1.last_interval })
    assert.are.same({ 2, 0, 0 }, { by_id.n1.packets, by_id.n1.first_interval, by_id.n1.last_interval })
    assert.are.equal(0, by_id.n2.packets)
    assert.is_nil(by_id.n2.first_interval)
    assert.are.equal(T0 + 12 * NS, by_id.a2.first_ns)
    assert.are.same({ { src_ip = "10.0.0.1" }, { src_ip = "2001:db8::1", src_port = 443 } }, by_id.a2.filters)
    assert.are.equal(tpp.labels_fingerprint(r.labels), r.labels_fingerprint)
  end)

  it("counts the same whether anomalies are swept or checked, with timestamps going back in time", function()
    -- packets of four hosts at times that jump back and forth (a clock stepping back, interleaved streams); an
    -- anomaly with one filter is counted by the sweep, the same with a second filter of another shape that
    -- matches nothing (192.0.2.254 sends nothing) is checked packet by packet: they must agree, and agree with the
    -- count made here
    local order = { 0, 7, 3, 12, 1, 18, 5, 9, 2, 15, 11, 4, 19, 6, 14, 8, 13, 10, 17, 16 }
    local hosts = { "10.1.0.1", "10.1.0.2", "10.1.0.3", "10.1.0.4" }
    local packets, sent = {}, {}
    for k, s in ipairs(order) do
      local src = hosts[k % 4 + 1]
      local t = T0 + s * NS + k * 1000
      packets[#packets + 1] = { ts_ns = t, data = H.eth4_udp(src, "10.2.0.1", 1000 + k % 3, 53, "x") }
      sent[#sent + 1] = { src = src, ts = t, sport = 1000 + k % 3 }
    end
    local path = H.write_capture(dir .. "/shuffled.pcap", H.LINKTYPE.ETHERNET, packets, { nanosecond = true })
    local windows = { { "10.1.0.2", 2, 12 }, { "10.1.0.3", 0, 19.5 }, { "10.1.0.2", 9, 16 }, { "10.1.0.4", 5, 5.5 } }
    local swept, checked = {}, {}
    for k, w in ipairs(windows) do
      local t = ({ "anomalous", "suspicious", "notice", "anomalous" })[k]
      swept[k] = anomaly(t, w[2], w[3], { { src_ip = w[1] } }, "w" .. k)
      checked[k] = anomaly(t, w[2], w[3], { { src_ip = w[1] }, { src_ip = "192.0.2.254", src_port = 1 } }, "w" .. k)
    end
    -- and a port filter of two disjoint keys (swept as one anomaly): source ports 1000 and 1002 from 3 s to 14 s
    swept[#swept + 1] = anomaly("notice", 3, 14, { { src_port = 1000 }, { src_port = 1002 } }, "ports")
    checked[#checked + 1] = anomaly("notice", 3, 14, { { src_port = 1000 }, { src_port = 1002 }, { dst_port = 9 } }, "ports")
    local a = assert(tpp.parse(path, { labels = swept }))
    local b = assert(tpp.parse(path, { labels = checked }))
    for _, name in ipairs { "anomalous_pkts", "suspicious_pkts", "notice_pkts" } do
      assert.are.same(col(a, name), col(b, name), name)
    end
    for k, la in ipairs(a.labels) do
      local lb = b.labels[k]
      assert.are.same({ la.packets, la.first_ns, la.last_ns }, { lb.packets, lb.first_ns, lb.last_ns }, la.id)
      local n, first, last = 0, nil, nil
      for _, p in ipairs(sent) do
        local f = swept[k]
        local hit = p.ts >= f.from_ns and p.ts <= f.to_ns
        if hit and f.filters[1].src_ip then hit = p.src == f.filters[1].src_ip end
        if hit and f.filters[1].src_port then hit = p.sport == 1000 or p.sport == 1002 end
        if hit then
          n = n + 1
          first, last = math.min(first or p.ts, p.ts), math.max(last or p.ts, p.ts)
        end
      end
      assert.are.same({ n, first, last }, { la.packets, la.first_ns, la.last_ns }, la.id)
      assert.is_true(n > 0, la.id)
    end
  end)

  it("reads label files given by path, and returns nil and the file's line for a bad one", function()
    local good = dir .. "/good.xml"
    H.write_file(good, admd { { type = "suspicious", filters = { { dst_ip = "10.0.0.4", dst_port = 5353 } },
                               from = { 0, 0 }, to = { 9, 100000 } } })
    local r = assert(tpp.parse(capture, { labels = { good } }))
    assert.are.same({ 10, 0, 0 }, col(r, "suspicious_pkts"))   -- the UDP packets at 0.1 .. 9.1
    local bad = dir .. "/bad.xml"
    H.write_file(bad, "<admd:annotation>\n<anomaly type='notice'>\n</admd:annotation>\n")
    local none, err = tpp.parse(capture, { labels = { good, bad } })
    assert.is_nil(none)
    assert.truthy(err:find(bad .. ":3: not well-formed XML", 1, true), err)
  end)

  it("gives zero columns for labels of another day", function()
    local r = assert(tpp.parse(capture, { labels = { anomaly("anomalous", -86400, -86300, { {} }) } }))
    assert.are.same({ 0, 0, 0 }, col(r, "anomalous_pkts"))
    assert.are.same({ 0, 0, 0 }, col(r, "anomalous_events"))
    assert.is_false(labels.overlaps(r.labels, r.first_ns, r.last_ns))
  end)

  it("refuses a malformed anomaly list with a clear error", function()
    assert.has_error(function() tpp.parse(capture, { labels = { { type = "odd", from_ns = 0, to_ns = 1 } } }) end,
                     "labels: anomaly 1: type must be anomalous, suspicious or notice")
    assert.has_error(function() tpp.parse(capture, { labels = { anomaly("notice", 2, 1, {}) } }) end,
                     "labels: anomaly 1: its window ends before it starts")
  end)

  it("keeps the labels in a dump, and writes the per-anomaly table", function()
    local list = { anomaly("anomalous", 5, 14, { { src_ip = "10.0.0.1" } }, "a\t1"),
                   anomaly("notice", 100, 200, { {} }, "late") }
    local r = assert(tpp.parse(capture, { labels = list }))
    local dump = dir .. "/four.tpd"
    assert(r:dump(dump))
    local d = assert(tpp.load(dump))
    for _, name in ipairs { "anomalous_pkts", "notice_pkts", "anomalous_events", "notice_events" } do
      assert.are.same(col(r, name), col(d, name), name)
    end
    assert.are.same(r.labels, d.labels)
    assert.are.equal(r.labels_fingerprint, d.labels_fingerprint)
    local tsv = dir .. "/four_labels.tsv"
    assert(d:write_labels(tsv))
    local _, rows = H.read_tsv_rows(tsv)
    assert.are.equal(2, #rows)
    -- the tab of the id would cut the row: it is a space in the table
    assert.are.same({ "a 1", "anomalous", "tax", ("%d.000000000"):format(S0 + 5), ("%d.000000000"):format(S0 + 14),
                      "10", "0", "1" },
                    { rows[1].id, rows[1].type, rows[1].taxonomy, rows[1].from, rows[1].to, rows[1].packets,
                      rows[1].first_interval, rows[1].last_interval })
    assert.are.same({ "0", "nan", "nan" }, { rows[2].packets, rows[2].first_interval, rows[2].last_interval })
    local plain = assert(tpp.parse(capture))
    assert.has_error(function() plain:write_labels(tsv) end,
                     "write_labels: the result has no labels (parse with the labels option)")
  end)

  it("merges pieces parsed with the same labels as one pass over all their packets", function()
    local list = { anomaly("anomalous", 5, 25, { { src_ip = "10.0.0.1" } }, "a"),
                   anomaly("suspicious", 8, 12, { { src_port = 53 } }, "s") }
    -- the capture cut at 12.5 s, inside the middle interval
    local first, second = {}, {}
    for p in tpp.packets(capture, { bytes = true }) do
      local piece = p.ts_ns < T0 + 12 * NS + NS // 2 and first or second
      piece[#piece + 1] = { ts_ns = p.ts_ns, data = p.bytes }
    end
    local a = H.write_capture(dir .. "/part1.pcap", H.LINKTYPE.ETHERNET, first, { nanosecond = true })
    local b = H.write_capture(dir .. "/part2.pcap", H.LINKTYPE.ETHERNET, second, { nanosecond = true })
    local whole = assert(tpp.parse(capture, { labels = list }))
    local m = assert(tpp.merge { assert(tpp.parse(a, { labels = list })), assert(tpp.parse(b, { labels = list })) })
    for _, name in ipairs { "anomalous_pkts", "suspicious_pkts", "notice_pkts", "anomalous_events",
                            "suspicious_events", "notice_events" } do
      assert.are.same(col(whole, name), col(m, name), name)
    end
    assert.are.same(whole.labels, m.labels)
    local other = assert(tpp.parse(b, { labels = { list[1] } }))
    local none, err = tpp.merge { assert(tpp.parse(a, { labels = list })), other }
    assert.is_nil(none)
    assert.truthy(err:find("different labels", 1, true), err)
    none, err = tpp.merge { assert(tpp.parse(a, { labels = list })), assert(tpp.parse(b)) }
    assert.is_nil(none)
    assert.truthy(err:find("one with labels, the other without", 1, true), err)
  end)
end)

describe("labels on a parity capture", function()
  -- synth-a.pcap: the answer is counted here packet by packet (tpp.packets) with the rules of the issue, in Lua.
  local path = H.ROOT .. "/tests/data/parity/synth-a.pcap"

  it("match the packets the rules choose, per interval and per anomaly", function()
    local pkts, srcs, dports = {}, {}, {}
    for p in tpp.packets(path) do
      if p.ipv then
        pkts[#pkts + 1] = p
        srcs[p.src] = (srcs[p.src] or 0) + 1
        if p.dport and (p.proto == 6 or p.proto == 17) then dports[p.dport] = (dports[p.dport] or 0) + 1 end
      end
    end
    local function top(t)
      local best, n = nil, -1
      for k, v in pairs(t) do if v > n or (v == n and tostring(k) < tostring(best)) then best, n = k, v end end
      return best
    end
    local t_first, t_last = pkts[1].ts_ns, pkts[#pkts].ts_ns
    local span = t_last - t_first
    local src, dport = top(srcs), top(dports)
    local list = {
      { id = "src", type = "anomalous", from_ns = t_first + span // 4, to_ns = t_first + span // 2,
        filters = { { src_ip = src } } },
      { id = "port", type = "anomalous", from_ns = t_first + span // 3, to_ns = t_last, filters = { { dst_port = dport } } },
      { id = "both", type = "suspicious", from_ns = t_first, to_ns = t_first + span // 5,
        filters = { { src_ip = src, dst_port = dport }, { dst_ip = src } } },
      { id = "all", type = "notice", from_ns = t_first + span // 2, to_ns = t_first + span // 2 + span // 10,
        filters = { {} } },
    }
    local r = assert(tpp.parse(path, { delta_t = 5, labels = list }))

    local starts = col(r, "start")
    local function row_of(ts_ns) -- the last interval starting at or before ts (0-based)
      local row = 0
      for i, s in ipairs(starts) do if math.floor(s * 1e9 + 0.5) <= ts_ns then row = i - 1 end end
      return row
    end
    local function matches(f, p)
      local ports = p.dport ~= nil and (p.proto == 6 or p.proto == 17)
      return (not f.src_ip or f.src_ip == p.src) and (not f.dst_ip or f.dst_ip == p.dst)
        and (not f.src_port or (ports and f.src_port == p.sport)) and (not f.dst_port or (ports and f.dst_port == p.dport))
    end
    local want = { anomalous = {}, suspicious = {}, notice = {} }
    for _, t in pairs(want) do for i = 1, #r do t[i] = 0 end end
    local per = {}
    for _, p in ipairs(pkts) do
      local hit = {}
      for _, a in ipairs(list) do
        if p.ts_ns >= a.from_ns and p.ts_ns <= a.to_ns then
          for _, f in ipairs(a.filters) do
            if matches(f, p) then
              hit[a.type] = true
              per[a.id] = per[a.id] or { packets = 0 }
              local e = per[a.id]
              e.packets = e.packets + 1
              e.first = e.first or row_of(p.ts_ns)
              e.last = row_of(p.ts_ns)
              break
            end
          end
        end
      end
      for t in pairs(hit) do local i = row_of(p.ts_ns) + 1; want[t][i] = want[t][i] + 1 end
    end
    for t, counts in pairs(want) do assert.are.same(counts, col(r, t .. "_pkts"), t) end
    local total = 0
    for _, a in ipairs(r.labels) do
      local e = per[a.id]
      assert.is_table(e, a.id .. " matched packets")
      assert.are.same({ e.packets, e.first, e.last }, { a.packets, a.first_interval, a.last_interval }, a.id)
      total = total + a.packets
    end
    assert.is_true(total > 100)
    -- events: the intervals [start, end) that each window overlaps
    local ends = col(r, "end")
    for _, t in ipairs { "anomalous", "suspicious", "notice" } do
      local events = col(r, t .. "_events")
      for i = 1, #r do
        local n, lo, hi = 0, math.floor(starts[i] * 1e9 + 0.5), math.floor(ends[i] * 1e9 + 0.5)
        for _, a in ipairs(list) do
          if a.type == t and a.from_ns < hi and a.to_ns >= lo then n = n + 1 end
        end
        assert.are.equal(n, events[i], t .. " events, interval " .. i)
      end
    end
  end)
end)

describe("the main job with --labels", function()
  local dir
  lazy_setup(function()
    dir = H.tmpdir()
    local packets = {}
    for s = 0, 19 do
      packets[#packets + 1] = { ts_ns = T0 + s * NS, data = H.eth4_tcp("10.0.0.1", "10.0.0.2", 1234, 80, H.SYN) }
    end
    H.write_capture(dir .. "/day.pcap", H.LINKTYPE.ETHERNET, packets)
    H.write_file(dir .. "/day.xml", admd {
      { type = "anomalous", value = "a,b,<scan>", id = "<b>x</b>", filters = { { dst_port = 80 } },
        from = { 3, 0 }, to = { 12, 0 } } })
    H.write_file(dir .. "/other.xml", admd {
      { type = "notice", filters = { {} }, from = { -86400, 0 }, to = { -86000, 0 } } })
    H.write_file(dir .. "/broken.xml", "<admd:annotation>\n<anomaly type='notice'>\n<slice>\n</admd:annotation>\n")
  end)
  lazy_teardown(function() H.rmtree(dir) end)

  it("writes the label columns and labels/<name>_labels.tsv, and reuses the dump only with the same labels", function()
    local out, err, status = H.exec_in(dir, "-q -f none -o out --labels day.xml day.pcap")
    assert.are.equal(0, status, err .. out)
    local _, rows = H.read_tsv_rows(dir .. "/out/critical/day_critical.tsv")
    assert.are.same({ "7", "3" }, { rows[1].anomalous_pkts, rows[2].anomalous_pkts })   -- 3..9 and 10..12
    assert.are.same({ "1", "1" }, { rows[1].anomalous_events, rows[2].anomalous_events })
    assert.are.same({ "0", "0" }, { rows[1].notice_events, rows[2].notice_pkts })
    local _, lab = H.read_tsv_rows(dir .. "/out/labels/day_labels.tsv")
    assert.are.same({ "<b>x</b>", "anomalous", "<scan>", "10", "0", "1" },
                    { lab[1].id, lab[1].type, lab[1].taxonomy, lab[1].packets, lab[1].first_interval, lab[1].last_interval })
    out, err, status = H.exec_in(dir, "-f none -o out --labels day.xml day.pcap")
    assert.are.equal(0, status, err)
    assert.truthy(err:find("from its dump", 1, true), err)
    out, err, status = H.exec_in(dir, "-f none -o out --labels day.xml --labels other.xml day.pcap")
    assert.are.equal(0, status, err)
    assert.truthy(err:find("(parsed)", 1, true), err)
    -- a label file of another day: said, the run goes on
    assert.truthy(err:find("warning: no anomaly of other.xml falls within the capture's time span", 1, true), err)
    assert.are.equal(2, #select(2, H.read_tsv_rows(dir .. "/out/labels/day_labels.tsv")))
    -- without labels: NaN columns, and the table of the earlier run goes
    out, err, status = H.exec_in(dir, "-q -f none -o out day.pcap")
    assert.are.equal(0, status, err)
    assert.are.equal("nan", select(2, H.read_tsv_rows(dir .. "/out/critical/day_critical.tsv"))[1].anomalous_pkts)
    assert.is_nil(lfs.attributes(dir .. "/out/labels/day_labels.tsv"))
  end)

  it("gives a capture split in chunks the labels and columns of the whole", function()
    local packets = {}
    for k = 0, 119 do
      packets[#packets + 1] = { ts_ns = T0 + k * NS // 2,
                                data = H.eth4_tcp("10.0.0." .. (k % 5 + 1), "10.0.0.9", 2000 + k % 7, 80, H.SYN) }
    end
    H.write_capture(dir .. "/long.pcap", H.LINKTYPE.ETHERNET, packets)
    H.write_file(dir .. "/long.xml", admd {
      { type = "anomalous", filters = { { src_ip = "10.0.0.2" } }, from = { 7, 0 }, to = { 41, 500000 } },
      { type = "suspicious", filters = { { src_port = 2003 }, { src_ip = "10.0.0.5", dst_port = 80 } },
        from = { 0, 0 }, to = { 59, 0 } } })
    local _, err, status = H.exec_in(dir, "-q -f none -o whole --labels long.xml long.pcap")
    assert.are.equal(0, status, err)
    _, err, status = H.exec_in(dir, "-q -f none -o split -j 2 --split 3 --labels long.xml long.pcap")
    assert.are.equal(0, status, err)
    assert.are.equal(H.read_file(dir .. "/whole/labels/long_labels.tsv"), H.read_file(dir .. "/split/labels/long_labels.tsv"))
    assert.are.equal(H.read_file(dir .. "/whole/critical/long_critical.tsv"),
                     H.read_file(dir .. "/split/critical/long_critical.tsv"))
    local _, rows = H.read_tsv_rows(dir .. "/whole/labels/long_labels.tsv")
    -- 10.0.0.2 sends when k % 5 == 1, every 2.5 s from 0.5 s: in [7, 41.5] the packets at 8, 10.5, ..., 40.5 (14)
    assert.are.equal("14", rows[1].packets)
  end)

  it("stops before any work on a malformed label file, naming its line", function()
    local out, err, status = H.exec_in(dir, "-q -f none -o fresh --labels broken.xml day.pcap")
    assert.are_not.equal(0, status)
    assert.truthy(err:find("broken.xml:4: not well-formed XML", 1, true), err)
    assert.is_nil(lfs.attributes(dir .. "/fresh"))
    assert.are.equal("", out)
  end)

  it("shades the windows in the figures from data files and lists the anomalies, escaped, on the page", function()
    if not require("tpp.gnuplot").find() then pending("gnuplot is not installed") return end
    local work = dir .. "/work"
    local r = assert(tpp.parse(dir .. "/day.pcap", { labels = { dir .. "/day.xml" } }))
    local files = require("tpp.plot").draw(r, { dir = dir .. "/plot", stem = "day", figures = { 1 }, quiet = true,
                                                workdir = work })
    assert.are.equal(2, #files)
    local script = H.read_file(work .. "/fig_1.gp")
    assert.truthy(script:find("'labels_anomalous.dat' using 1:2:3:4:5:6 axes x1y2 with boxxyerror", 1, true), script)
    assert.is_nil(script:find("scan", 1, true))   -- nothing of the label file reaches the script
    local data = H.read_file(work .. "/labels_anomalous.dat")
    assert.truthy(data:find(("%d.000000 %d.000000 0 1"):format(S0 + 5, S0 + 12), 1, true), data) -- from clipped to the view
    local page = H.read_file(dir .. "/plot/day.html")
    assert.truthy(page:find("<td>&lt;b&gt;x&lt;/b&gt;</td><td>anomalous</td><td>&lt;scan&gt;</td>", 1, true))
    assert.is_nil(page:find("<b>x", 1, true))
  end)
end)
