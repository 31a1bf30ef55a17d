-- Label matching split across threads (issue 17, the 2,000-anomaly parse): on a .pcap the reader thread looks
-- packets up in the label index ahead of the aggregator, which only counts them; on a .pcap.gz one thread does
-- both, and a packet with more items than a lookup has room for is counted group by group.  Every way must give
-- the per-anomaly table and the label columns that a count made here packet by packet gives, also when a limit
-- stops the parse and when time goes back.
local H = require "tests.helper"
local tpp = require "tpp"

local NS, T0 = H.NS, H.T0

-- Hosts 10.7.0.1 .. 10.7.0.6 send UDP to 10.8.0.1 (source ports 2000 + k % 5) and ICMP (no ports), over 40 s,
-- with a clock that steps back by 3 s every 700 packets: 3,000 packets, several batches of the reader.
local function make_packets()
  local list, t = {}, T0
  for k = 1, 3000 do
    t = t + 13 * NS // 1000 + k % 7
    if k % 700 == 0 then t = t - 3 * NS end
    local src = ("10.7.0.%d"):format(k % 6 + 1)
    local icmp = k % 11 == 0
    local data = icmp and H.eth4_icmp(src, "10.8.0.1", 8, 0, "p") or H.eth4_udp(src, "10.8.0.1", 2000 + k % 5, 53, "x")
    list[k] = { ts_ns = t, data = data, src = src, sport = not icmp and 2000 + k % 5 or nil }
  end
  return list
end

local function window(t, from_s, to_s, filters, id)
  return { type = t, from_ns = T0 + math.floor(from_s * NS), to_ns = T0 + math.floor(to_s * NS), filters = filters,
           id = id, taxonomy = "tax", value = "v" }
end

-- Swept anomalies (filters of one shape), checked ones (shapes mixed, a packet may match two filters of one), one
-- without attributes, one of all time, and 80 overlapping checked windows on 10.7.0.3: each of its packets has over 80 items, more
-- than a lookup's room on one thread and enough to fill a batch's list on the reader.
local function make_anomalies()
  local types = { "anomalous", "suspicious", "notice" }
  local list = {}
  for k = 1, 30 do
    local host = ("10.7.0.%d"):format(k % 6 + 1)
    local from = (k * 7) % 35
    local t = types[k % 3 + 1]
    if k % 3 == 0 then
      list[#list + 1] = window(t, from, from + 4 + k % 9, { { src_ip = host }, { src_ip = "10.7.0.9" } }, "s" .. k)
    elseif k % 3 == 1 then
      list[#list + 1] = window(t, from, from + 6, { { src_ip = host }, { src_port = 2000 + k % 5 } }, "c" .. k)
    else
      list[#list + 1] = window(t, from, from + 12, { { src_ip = host, src_port = 2001 }, { src_port = 2001 } },
                               "d" .. k)
    end
  end
  list[#list + 1] = window("notice", 8, 9.5, { {} }, "all")
  -- all time, as MAWILab's CSV gives it
  list[#list + 1] = { type = "suspicious", from_ns = math.mininteger, to_ns = math.maxinteger,
                      filters = { { src_ip = "10.7.0.2" } }, id = "always", taxonomy = "tax", value = "v" }
  for k = 1, 80 do
    list[#list + 1] = window(types[k % 3 + 1], k % 10, 25 + k % 10, { { src_ip = "10.7.0.3" }, { dst_port = 53 } },
                             "many" .. k)
  end
  return list
end

-- Whether packet p matches filter f (absent attributes match anything; ports only of UDP here).
local function matches(p, f)
  if f.src_ip and f.src_ip ~= p.src then return false end
  if f.dst_ip and f.dst_ip ~= "10.8.0.1" then return false end
  if f.src_port and f.src_port ~= p.sport then return false end
  if f.dst_port and (not p.sport or f.dst_port ~= 53) then return false end
  return true
end

-- The per-anomaly table and the sum of each label column, counted over packets[1..n].
local function expected(packets, n, anomalies)
  local per, sums = {}, { anomalous = 0, suspicious = 0, notice = 0 }
  for i, a in ipairs(anomalies) do per[i] = { packets = 0 } end
  for k = 1, n do
    local p = packets[k]
    local types = {}
    for i, a in ipairs(anomalies) do
      local hit = false
      if p.ts_ns >= a.from_ns and p.ts_ns <= a.to_ns then
        for _, f in ipairs(a.filters) do hit = hit or matches(p, f) end
      end
      if hit then
        local e = per[i]
        e.packets = e.packets + 1
        e.first_ns = math.min(e.first_ns or p.ts_ns, p.ts_ns)
        e.last_ns = math.max(e.last_ns or p.ts_ns, p.ts_ns)
        types[a.type] = true
      end
    end
    for t in pairs(types) do sums[t] = sums[t] + 1 end
  end
  return per, sums
end

local function found(r)
  local per, sums = {}, {}
  for i, a in ipairs(r.labels) do per[i] = { packets = a.packets, first_ns = a.first_ns, last_ns = a.last_ns } end
  for _, t in ipairs { "anomalous", "suspicious", "notice" } do sums[t] = r:column(t .. "_pkts"):sum() end
  return per, sums
end

describe("label matching on the reader thread and on one thread", function()
  local dir, packets, anomalies, pcap, gz
  lazy_setup(function()
    dir = H.tmpdir()
    packets = make_packets()
    anomalies = make_anomalies()
    pcap = H.write_capture(dir .. "/ahead.pcap", H.LINKTYPE.ETHERNET, packets, { nanosecond = true })
    gz = H.write_capture(dir .. "/ahead.pcap.gz", H.LINKTYPE.ETHERNET, packets, { nanosecond = true, gzip = true })
  end)
  lazy_teardown(function() H.rmtree(dir) end)

  it("counts every anomaly and type as packet by packet, with time going back and crowded packets", function()
    local per, sums = expected(packets, #packets, anomalies)
    local busy = 0
    for i, a in ipairs(anomalies) do if a.id:match("^many") and per[i].packets > 0 then busy = busy + 1 end end
    assert.are.equal(80, busy) -- the crowded host's windows all count packets
    for _, path in ipairs { pcap, gz } do
      local r = assert(tpp.parse(path, { labels = anomalies }))
      assert.are.equal(#packets, r.packets)
      assert.is_true(r.backwards_packets > 0, path)
      local got_per, got_sums = found(r)
      assert.are.same(per, got_per, path)
      assert.are.same(sums, got_sums, path)
    end
    local a = assert(tpp.parse(pcap, { labels = anomalies }))
    local b = assert(tpp.parse(gz, { labels = anomalies }))
    for _, name in ipairs { "anomalous_pkts", "suspicious_pkts", "notice_pkts" } do
      assert.are.same(a:column(name):totable(), b:column(name):totable(), name)
    end
  end)

  it("counts only the packets a limit lets through, though the reader looked further", function()
    for _, n in ipairs { 1, 777, 2049 } do
      local per, sums = expected(packets, n, anomalies)
      for _, path in ipairs { pcap, gz } do
        local r = assert(tpp.parse(path, { labels = anomalies, max_packets = n }))
        assert.are.equal(n, r.packets)
        local got_per, got_sums = found(r)
        assert.are.same(per, got_per, path .. " " .. n)
        assert.are.same(sums, got_sums, path .. " " .. n)
      end
    end
  end)
end)
