-- The scripting API for custom analyses: columns, interval records, ports, selections, outputs, tpp.open/type,
-- help, the REPL's Lua side, the example scripts and the examples of docs/lua-api.md.
local tpp = require "tpp"
local synth = require "tpp.synth"
local H = require "tests.helper"

local SERIES = { "tcp_src", "tcp_dst", "udp_src", "udp_dst" }
local NAN = 0 / 0
local q = H.shell_quote

-- The tpp binary under test as an absolute path (the doc examples run in another directory).
local function tpp_binary()
  local t = H.tpp_binary()
  return t:sub(1, 1) == "/" and t or (os.getenv("PWD") .. "/" .. t)
end

local sh = H.sh -- stdout, stderr, exit status of a shell command

-- The fixture of docs/lua-api.md: trace.pcap.gz and other.pcap.gz (a minute, two scans each), mem_dump/.
local fx = {}
local function fixture()
  if fx.dir then return fx end
  fx.dir = H.tmpdir()
  fx.trace = fx.dir .. "/trace.pcap.gz"
  fx.other = fx.dir .. "/other.pcap.gz"
  fx.summary = synth.generate(fx.trace, { packets = 20000, duration = 60, scans = 2 })
  synth.generate(fx.other, { packets = 15000, duration = 60, scans = 2, seed = 2 })
  os.execute("mkdir " .. q(fx.dir .. "/mem_dump"))
  fx.r = assert(tpp.open(fx.trace))
  fx.fine = assert(tpp.parse(fx.trace, { delta_t = 2 }))
  return fx
end

-- Every (interval, port, count) of a series as { [i] = { [port] = count } }.
local function histograms(r, series)
  local h = {}
  for i = 1, #r do h[i] = {} end
  for i, port, count in r:ports(series) do h[i][port] = count end
  return h
end

local function close(a, b, tol) return math.abs(a - b) <= (tol or 1e-12) * math.max(1, math.abs(a), math.abs(b)) end

-- A small strict JSON reader (objects, arrays, strings, numbers, true/false/null -> json_null).
local json_null = setmetatable({}, { __name = "null" })
local function json_decode(s)
  local pos = 1
  local function ws() pos = s:find("[^ \t\r\n]", pos) or #s + 1 end
  local value
  local function str()
    local out = {}
    pos = pos + 1
    while true do
      local c = s:sub(pos, pos)
      if c == '"' then pos = pos + 1; return table.concat(out) end
      if c == "\\" then
        local e = s:sub(pos + 1, pos + 1)
        if e == "u" then out[#out + 1] = utf8.char(tonumber(s:sub(pos + 2, pos + 5), 16)); pos = pos + 6
        else out[#out + 1] = ({ n = "\n", t = "\t", r = "\r", b = "\b", f = "\f" })[e] or e; pos = pos + 2 end
      else
        assert(c ~= "" and c:byte() >= 0x20, "bad string in JSON")
        out[#out + 1] = c
        pos = pos + 1
      end
    end
  end
  function value()
    ws()
    local c = s:sub(pos, pos)
    if c == "{" then
      local t = {}
      pos = pos + 1; ws()
      if s:sub(pos, pos) == "}" then pos = pos + 1; return t end
      repeat
        ws()
        assert(s:sub(pos, pos) == '"', "object key expected at " .. pos)
        local k = str()
        assert(t[k] == nil, "duplicate key " .. k)
        ws(); assert(s:sub(pos, pos) == ":", "':' expected at " .. pos); pos = pos + 1
        t[k] = value()
        ws()
        local sep = s:sub(pos, pos); pos = pos + 1
      until sep == "}" or assert(sep == ",", "',' or '}' expected") == nil
      return t
    elseif c == "[" then
      local t = {}
      pos = pos + 1; ws()
      if s:sub(pos, pos) == "]" then pos = pos + 1; return t end
      repeat
        t[#t + 1] = value()
        ws()
        local sep = s:sub(pos, pos); pos = pos + 1
      until sep == "]" or assert(sep == ",", "',' or ']' expected") == nil
      return t
    elseif c == '"' then return str()
    elseif s:find("^true", pos) then pos = pos + 4; return true
    elseif s:find("^false", pos) then pos = pos + 5; return false
    elseif s:find("^null", pos) then pos = pos + 4; return json_null
    else
      local num = s:match("^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
      assert(num and num ~= "", "bad JSON value at " .. pos)
      pos = pos + #num
      return math.tointeger(tonumber(num)) or tonumber(num)
    end
  end
  local v = value()
  ws()
  assert(pos > #s, "trailing data in JSON")
  return v
end

describe("the scripting API", function()
  lazy_setup(fixture)
  lazy_teardown(function() if fx.dir then H.rmtree(fx.dir) end end)

  ---------------------------------------------------------------------------------------------------------------
  describe("columns", function()
    it("are plain sequences with the column metatable", function()
      local r = fx.r
      local c = r:column("packets")
      assert.are.equal("column", tpp.type(c))
      assert.are.equal("table", type(c))
      assert.are.equal(#r, #c)
      local n = 0
      for i, v in ipairs(c) do
        n = n + 1
        assert.are.equal(r:interval(i).packets, v)
        assert.are.equal("integer", math.type(v))
      end
      assert.are.equal(#r, n)
      assert.are.same(c:totable(), c)                -- assert.same sees the same elements
      assert.is_nil(getmetatable(c:totable()))
      assert.are.equal("tpp.column", getmetatable(c).__name)
    end)

    it("compute min, max, mean, std, quantiles, sums and arg extremes", function()
      local c = tpp.column({ 4, 1, 3, 1, 6 })
      assert.are.equal(1, c:min())
      assert.are.equal(6, c:max())
      assert.are.equal(3, c:mean())
      assert.are.equal(15, c:sum())
      assert.are.equal(5, c:count())
      assert.is_true(close(math.sqrt(18 / 5), c:std()))          -- deviations² 1 + 4 + 0 + 4 + 9
      assert.is_true(close(math.sqrt(18 / 4), c:std(1)))
      assert.are.equal(3, c:median())
      assert.are.equal(1, c:quantile(0))
      assert.are.equal(6, c:quantile(1))
      assert.is_true(close(2, c:quantile(0.375)))               -- sorted 1 1 3 4 6: h = 2.5 -> 1 + 0.5 * (3 - 1)
      assert.is_true(close(5.2, c:quantile(0.9)))               -- h = 4.6 -> 4 + 0.6 * (6 - 4)
      local i, v = c:argmin()
      assert.are.same({ 2, 1 }, { i, v })                       -- the first of equal values
      i, v = c:argmax()
      assert.are.same({ 5, 6 }, { i, v })
    end)

    it("skip NaN values, and return nil when none is left", function()
      local c = tpp.column({ NAN, 2, NAN, 4 })
      assert.are.equal(2, c:count())
      assert.are.equal(3, c:mean())
      assert.are.equal(2, c:min())
      assert.are.equal(4, c:max())
      assert.are.equal(6, c:sum())
      assert.are.equal(1, c:std())
      assert.are.equal(3, c:median())
      assert.are.same({ 4, 4 }, { c:argmax() })
      for _, empty in ipairs { tpp.column({}), tpp.column({ NAN, NAN }) } do
        assert.is_nil(empty:min())
        assert.is_nil(empty:max())
        assert.is_nil(empty:mean())
        assert.is_nil(empty:std())
        assert.is_nil(empty:quantile(0.5))
        assert.is_nil(empty:argmax())
        assert.are.equal(0, empty:sum())
        assert.are.equal(0, empty:count())
      end
      assert.is_nil(tpp.column({ 5 }):std(1))
      assert.are.equal(0, tpp.column({ 5 }):std())
    end)

    it("agree with a reference computation on a real column", function()
      local c = fx.fine:column("entropy_src")
      local xs, s = {}, 0
      for _, v in ipairs(c) do xs[#xs + 1] = v; s = s + v end
      local mean = s / #xs
      local ss = 0
      for _, v in ipairs(xs) do ss = ss + (v - mean) ^ 2 end
      table.sort(xs)
      assert.is_true(close(mean, c:mean(), 1e-12))
      assert.is_true(close(math.sqrt(ss / #xs), c:std(), 1e-9))
      assert.are.equal(xs[1], c:min())
      assert.are.equal(xs[#xs], c:max())
      assert.is_true(close(xs[(#xs + 1) // 2] / 2 + xs[#xs // 2 + 1] / 2, c:median(), 1e-12))
    end)

    it("map, and make columns of any sequence with tpp.column", function()
      local t = { 1, 2, 3 }
      assert.are.equal(t, tpp.column(t))
      local m = t:map(function(v, i) return v * 10 + i end)
      assert.are.equal("column", tpp.type(m))
      assert.are.same({ 11, 22, 33 }, m:totable())
      assert.has_error(function() tpp.column(5) end)
      assert.has_error(function() t:map(5) end)
    end)

    it("reject bad arguments", function()
      local c = tpp.column({ 1, 2 })
      assert.has_error(function() c:quantile(1.5) end, "bad argument #1 to 'quantile' (number between 0 and 1 expected)")
      assert.has_error(function() c:quantile() end)
      assert.has_error(function() c:std(-1) end)
      assert.has_error(function() c:sparkline(0) end)
      assert.has_error(function() c.mean({}) end)
    end)

    it("draw sparklines and print min, mean and max", function()
      assert.are.equal("▁▂▃▄▅▆▇█", tpp.column({ 0, 1, 2, 3, 4, 5, 6, 7 }):sparkline())
      assert.are.equal("▁ █", tpp.column({ 0, NAN, 1 }):sparkline())
      assert.are.equal("▁▁▁", tpp.column({ 2, 2, 2 }):sparkline())
      local long = {}
      for i = 1, 1000 do long[i] = i end
      assert.are.equal(40, utf8.len(tpp.column(long):sparkline()))
      assert.are.equal(10, utf8.len(tpp.column(long):sparkline(10)))
      assert.are.equal("column of 3: min 1, mean 2, max 3  ▁▅█", tostring(tpp.column({ 1, 2, 3 })))
      assert.are.equal("column of 0 values", tostring(tpp.column({})))
      assert.are.equal("column of 1: all NaN", tostring(tpp.column({ NAN })))
      local text = tostring(fx.r:column("entropy_src"))
      assert.truthy(text:match("^column of 6: min 0%.%d+, mean 0%.%d+, max 0%.%d+  [▁▂▃▄▅▆▇█]+$"), text)
    end)
  end)

  ---------------------------------------------------------------------------------------------------------------
  describe("interval records", function()
    it("hold every column and print a readable summary", function()
      local r = fx.r
      local iv = r:interval(2)
      assert.are.equal("interval", tpp.type(iv))
      for _, name in ipairs(r:columns()) do -- NaN (the label columns without labels) is not equal to itself
        local want = r:column(name)[2]
        if want == want then assert.are.equal(want, iv[name], name) else assert.is_true(iv[name] ~= iv[name], name) end
      end
      local text = tostring(iv)
      assert.truthy(text:match("^interval 1 %(index 2%)  2023%-01%-26 05:00:10%.%d%d%d–05:00:20%.%d%d%d UTC\n"), text)
      for _, name in ipairs { "packets", "entropy_src", "udp_port_packets" } do
        assert.truthy(text:find("\n  .*" .. name), name)
      end
    end)
  end)

  ---------------------------------------------------------------------------------------------------------------
  describe("r:top_ports", function()
    it("lists an interval's busiest ports, count descending then port ascending", function()
      local r = fx.fine
      for _, series in ipairs(SERIES) do
        local h = histograms(r, series)
        for i = 1, #r do
          local want = {}
          for port, count in pairs(h[i]) do want[#want + 1] = { port = port, count = count } end
          table.sort(want, function(a, b) return a.count > b.count or a.count == b.count and a.port < b.port end)
          local top = r:top_ports(series, i, 5)
          assert.are.equal("ports", tpp.type(top))
          assert.are.equal(math.min(5, #want), #top)
          for k = 1, #top do assert.are.same(want[k], top[k]) end
        end
      end
    end)

    it("gives 10 ports by default, and sums the whole trace when i is nil", function()
      local r = fx.r
      assert.are.equal(10, #r:top_ports("tcp_dst", 1))
      local sum = {}
      for _, port, count in r:ports("udp_dst") do sum[port] = (sum[port] or 0) + count end
      local top = r:top_ports("udp_dst", nil, 65536)
      local n = 0
      for _ in pairs(sum) do n = n + 1 end
      assert.are.equal(n, #top)
      assert.are.equal(r:distinct_ports("udp_dst"), #top)
      for k, e in ipairs(top) do
        assert.are.equal(sum[e.port], e.count)
        if k > 1 then assert.is_true(top[k - 1].count >= e.count) end
      end
      assert.are.same(r:top_ports("udp_dst", nil, 3), r:top_ports("udp_dst", nil, 3))
      assert.are.equal(3, #r:top_ports("udp_dst", nil, 3))
    end)

    it("prints as port (count) pairs", function()
      local top = fx.r:top_ports("tcp_dst", 1, 2)
      assert.are.equal(("%d (%d), %d (%d)"):format(top[1].port, top[1].count, top[2].port, top[2].count), tostring(top))
    end)

    it("rejects unknown series, indices out of range and k < 1", function()
      local r = fx.r
      assert.has_error(function() r:top_ports("tcp", 1) end)
      assert.has_error(function() r:top_ports("tcp_dst", 0) end)
      assert.has_error(function() r:top_ports("tcp_dst", #r + 1) end)
      assert.has_error(function() r:top_ports("tcp_dst", 1, 0) end)
    end)
  end)

  ---------------------------------------------------------------------------------------------------------------
  describe("r:port_entropy", function()
    it("is the normalised entropy of each interval's port distribution", function()
      local r = fx.fine
      for _, series in ipairs(SERIES) do
        local e = r:port_entropy(series)
        assert.are.equal("column", tpp.type(e))
        assert.are.equal(#r, #e)
        for i, counts in ipairs(histograms(r, series)) do
          local n, d, s = 0, 0, 0
          for _, c in pairs(counts) do n, d = n + c, d + 1 end
          for _, c in pairs(counts) do s = s - c / n * math.log(c / n, 2) end
          local want = d > 1 and s / math.log(d, 2) or 0
          assert.is_true(close(want, e[i], 1e-9), ("%s interval %d: %s vs %s"):format(series, i, want, e[i]))
          assert.is_true(e[i] >= 0 and e[i] <= 1 + 1e-12)
        end
      end
    end)

    it("is 1 for an even spread, 0 for one port, NaN for none (0 in the packet mode)", function()
      local dir = H.tmpdir()
      local pk = {}
      local function add(t, dport) pk[#pk + 1] = { ts_ns = H.T0 + t * H.NS, data = H.eth4_tcp("10.0.0.1", "10.0.0.2", 1000, dport, H.ACK) } end
      add(0, 80); add(1, 443); add(2, 80); add(3, 443)        -- interval 0: two ports, twice each
      add(10, 22); add(11, 22)                                -- interval 1: one port
      add(30, 22)                                             -- interval 3 (interval 2 is empty)
      local path = H.write_capture(dir .. "/e.pcap", "ethernet", pk)
      local r = assert(tpp.parse(path, { delta_t = 10 }))
      local packet_mode = assert(tpp.parse(path, { delta_t = 10, boundary = "packet" }))
      H.rmtree(dir)
      local function show(c)
        local out = {}
        for i, v in ipairs(c) do out[i] = v ~= v and "nan" or v end
        return out
      end
      assert.are.same({ 1.0, 0.0, "nan", 0.0 }, show(r:port_entropy("tcp_dst")))
      assert.are.same({ 0.0, 0.0, "nan", 0.0 }, show(r:port_entropy("tcp_src")))
      assert.are.same({ "nan", "nan", "nan", "nan" }, show(r:port_entropy("udp_dst")))
      assert.are.same({ 0.0, 0.0 }, show(packet_mode:port_entropy("udp_dst")))   -- no UDP packet: 0 there
      assert.are.same({ { port = 80, count = 2 }, { port = 443, count = 2 } }, r:top_ports("tcp_dst", 1))
      assert.are.same({}, r:top_ports("tcp_dst", 3))
      assert.are.equal("(no ports)", tostring(r:top_ports("udp_dst", 1)))
    end)
  end)

  ---------------------------------------------------------------------------------------------------------------
  describe("selections", function()
    -- r:select(list) holds exactly those intervals: rows (but the renumbered interval column) and histograms.
    local function assert_selection(r, s, list)
      assert.are.equal("result", tpp.type(s))
      assert.are.equal(#list, #s)
      for k, i in ipairs(list) do
        local a, b = r:interval(i), s:interval(k)
        for _, name in ipairs(r:columns()) do
          if name == "interval" then assert.are.equal(k - 1, b.interval)
          elseif a[name] == a[name] then assert.are.equal(a[name], b[name], name)
          else assert.is_true(b[name] ~= b[name], name) end
        end
      end
      for _, series in ipairs(SERIES) do
        local h, hs = histograms(r, series), histograms(s, series)
        for k, i in ipairs(list) do assert.are.same(h[i], hs[k]) end
      end
    end

    it("r:select copies the chosen intervals and recomputes what has a per-interval breakdown", function()
      local r = fx.fine
      local list = { 1, 4, 5, 20, #r }
      local s = r:select(list)
      assert_selection(r, s, list)
      local packets, ip = 0, 0
      for _, i in ipairs(list) do packets, ip = packets + r:interval(i).packets, ip + r:interval(i).ip_packets end
      assert.are.equal(packets, s.packets)
      assert.are.equal(ip, s.ip_packets)
      assert.are.equal(#list, s.intervals)
      assert.are.equal(r:interval(1).start, s.first_ts)
      assert.are.equal(r:interval(#r)["end"], s.last_ts)
      for _, f in ipairs { "source", "delta_t", "boundary", "ip", "linktype", "non_ip_packets", "complete", "source_size" } do
        assert.are.equal(r[f], s[f], f)
      end
      for _, series in ipairs(SERIES) do
        local seen, n = {}, 0
        for _, port in s:ports(series) do if not seen[port] then seen[port], n = true, n + 1 end end
        assert.are.equal(n, s:distinct_ports(series))
      end
      assert.are.equal(0, #r:select({}))
      assert.are.equal(0, r:select({}).packets)
    end)

    it("r:select rejects indices out of range or not strictly ascending", function()
      local r = fx.r
      assert.has_error(function() r:select({ 0 }) end)
      assert.has_error(function() r:select({ #r + 1 }) end)
      assert.has_error(function() r:select({ 2, 2 }) end)
      assert.has_error(function() r:select({ 3, 1 }) end)
      assert.has_error(function() r:select({ 1.5 }) end)
      assert.has_error(function() r:select(3) end)
    end)

    it("r:slice keeps the intervals starting in [t1, t2), by epoch seconds or UTC dates", function()
      local r = fx.fine
      local starts = r:column("start")
      local t1, t2 = starts[5], starts[12]
      local s = r:slice(t1, t2)
      assert_selection(r, s, { 5, 6, 7, 8, 9, 10, 11 })
      assert.are.equal(#r - 4, #r:slice(t1))
      assert.are.equal(11, #r:slice(nil, t2))
      assert.are.equal(#r, #r:slice())
      assert.has_error(function() r:slice(t2, t1) end)          -- a reversed range is an error (issue 12, item 20)
      -- starts are 05:00:00.005 + 2k s: [05:00:10, 05:00:20) holds k = 5..9
      local d = r:slice("2023-01-26 05:00:10", "2023-01-26T05:00:20Z")
      assert.are.equal(5, #d)
      assert.are.equal(starts[6], d:interval(1).start)
      assert.are.equal(#r, #r:slice("2023-01-26"))
      assert.are.equal(0, #r:slice("2023-01-27"))
      assert.are.equal(1674709210.5, require("tpp.result").parse_time("2023-01-26 05:00:10.5"))
      assert.has_error(function() r:slice("yesterday") end)
      assert.has_error(function() r:slice({}) end)
    end)

    it("r:where keeps the intervals for which the function is true, given the record and its index", function()
      local r = fx.fine
      local seen = {}
      local s = r:where(function(iv, i)
        seen[#seen + 1] = i
        assert.are.equal("interval", tpp.type(iv))
        assert.are.equal(i - 1, iv.interval)
        return iv.syn > 100
      end)
      assert.are.equal(#r, #seen)
      local want = {}
      for i, v in ipairs(r:column("syn")) do if v > 100 then want[#want + 1] = i end end
      assert.is_true(#want > 0 and #want < #r)
      assert_selection(r, s, want)
      assert.has_error(function() r:where("syn > 100") end)
    end)

    it("are results: selections of selections, outputs and dumps work on them", function()
      local r = fx.fine
      local s = r:where(function(iv) return iv.interval % 2 == 0 end):slice(r:column("start")[10])
      assert_selection(r, s, (function()
        local t = {}
        for i = 11, #r, 2 do t[#t + 1] = i end
        return t
      end)())
      local dir = H.tmpdir()
      assert(s:dump(dir .. "/s.tpd"))
      local back = assert(tpp.load(dir .. "/s.tpd"))
      assert(s:write_critical(dir .. "/s.tsv"))
      assert(back:write_critical(dir .. "/back.tsv"))
      assert.are.equal(H.read_file(dir .. "/s.tsv"), H.read_file(dir .. "/back.tsv"))
      assert.are.equal(s.packets, back.packets)
      assert(s:to_csv(dir .. "/s.csv"))
      H.rmtree(dir)
      assert.truthy(tostring(s):match("^tpp%.result: "))
    end)
  end)

  ---------------------------------------------------------------------------------------------------------------
  describe("outputs", function()
    local dir
    before_each(function() dir = H.tmpdir() end)
    after_each(function() H.rmtree(dir) end)

    it("r:to_csv writes RFC 4180 CSV with the TSV's numbers and NaN as an empty field", function()
      local r = fx.fine
      assert.is_true(r:to_csv(dir .. "/r.csv"))
      assert(r:write_critical(dir .. "/r.tsv"))
      local header, rows = H.read_tsv(dir .. "/r.tsv")
      local text = H.read_file(dir .. "/r.csv")
      assert.are.equal("\r\n", text:sub(-2))
      local lines = {}
      for line in text:gmatch("(.-)\r\n") do lines[#lines + 1] = line end
      assert.are.equal(#rows + 1, #lines)
      assert.are.equal(table.concat(header, ","), lines[1])
      local nans = 0
      for k, row in ipairs(rows) do
        for c, cell in ipairs(row) do
          if cell == "nan" then row[c] = ""; nans = nans + 1 end
        end
        assert.are.equal(table.concat(row, ","), lines[k + 1])
      end
      assert.is_false(text:find("nan", 1, true) ~= nil)
      assert.is_false(text:find('"', 1, true) ~= nil)
    end)

    it("writes NaN as an empty CSV field and null in JSON", function()
      local pk = {}
      for _ = 1, 3 do
        pk[#pk + 1] = { ts_ns = H.T0, data = H.eth4_udp("10.0.0.1", "10.0.0.2", 53, 53, "x") }
      end
      local r = assert(tpp.parse(H.write_capture(dir .. "/n.pcap", "ethernet", pk), { delta_t = 10 }))
      assert.is_true(r:interval(1).iat_skew ~= r:interval(1).iat_skew)       -- equal gaps: no skewness
      assert(r:to_csv(dir .. "/n.csv"))
      assert(r:to_json(dir .. "/n.json"))
      local lines = {}
      for line in H.read_file(dir .. "/n.csv"):gmatch("(.-)\r\n") do lines[#lines + 1] = line end
      local cols, cells = {}, {}
      for f in (lines[1] .. ","):gmatch("([^,]*),") do cols[#cols + 1] = f end
      for f in (lines[2] .. ","):gmatch("([^,]*),") do cells[#cells + 1] = f end
      assert.are.equal(#cols, #cells)
      for k, name in ipairs(cols) do
        if name == "iat_skew" or name == "iat_kurt" then assert.are.equal("", cells[k]) end
      end
      local j = json_decode(H.read_file(dir .. "/n.json"))
      assert.are.equal(json_null, j.records[1].iat_skew)
      assert.are.equal(json_null, j.records[1].iat_kurt)
      assert.are.equal(3, j.records[1].packets)
    end)

    it("r:to_json writes the summary fields, the column names and one record per interval", function()
      local r = fx.fine
      assert.is_true(r:to_json(dir .. "/r.json"))
      local j = json_decode(H.read_file(dir .. "/r.json"))
      for _, f in ipairs(r:fields()) do
        local v = r[f]
        if v == nil then assert.are.equal(json_null, j[f], f)
        elseif math.type(v) == "float" then assert.is_true(close(v, j[f], 1e-15), f)
        else assert.are.equal(v, j[f], f) end
      end
      assert.are.same(r:columns(), j.columns)
      assert.are.equal(#r, #j.records)
      for i, rec in ipairs(j.records) do
        local iv = r:interval(i)
        for _, name in ipairs(r:columns()) do
          local v = iv[name]
          if v ~= v then assert.are.equal(json_null, rec[name])
          elseif name == "start" or name == "end" then assert.is_true(close(v, rec[name], 1e-15))
          else assert.are.equal(v, rec[name], name) end
        end
      end
    end)

    it("escapes strings in JSON", function()
      local path = dir .. '/we"ird\\name.pcap'
      H.write_capture(path, "ethernet", { { ts_ns = H.T0, data = H.eth4_udp("10.0.0.1", "10.0.0.2", 1, 2, "") } })
      local r = assert(tpp.parse(path, { filter = "udp" }))
      assert(r:to_json(dir .. "/w.json"))
      local j = json_decode(H.read_file(dir .. "/w.json"))
      assert.are.equal(path, j.source)
      assert.are.equal("udp", j.filter)
    end)

    it("are atomic: a failed write leaves the target alone and no temporary file", function()
      local r = fx.r
      for _, method in ipairs { "to_csv", "to_json", "write_critical" } do
        local ok, err = r[method](r, dir .. "/missing/x.out")
        assert.is_nil(ok)
        assert.truthy(err:find(dir .. "/missing/x.out", 1, true), err)
        local target = dir .. "/" .. method .. ".out"
        H.write_file(target, "old")
        assert.is_true(r[method](r, target))
        assert.are_not.equal("old", H.read_file(target))
      end
      local out = sh("ls -A " .. q(dir))
      assert.are.equal("to_csv.out\nto_json.out\nwrite_critical.out\n", out)
    end)
  end)

  ---------------------------------------------------------------------------------------------------------------
  describe("results", function()
    it("print source, UTC span, intervals, packets, rates and the entropy range on one line", function()
      local text = tostring(fx.r)
      assert.are.equal(("tpp.result: %s, 2023-01-26 05:00:00–05:01:00 UTC, 6 intervals of 10 s, 20000 packets "
                        .. "(%d IP), %s pkt/s (peak %s), entropy_src %s–%s")
                       :format(fx.trace, fx.r.ip_packets, "333.3", ("%.4g"):format(fx.r:column("packets"):max() / 10),
                               ("%.4g"):format(fx.r:column("entropy_src"):min()),
                               ("%.4g"):format(fx.r:column("entropy_src"):max())), text)
    end)

    it("complete their fields and methods in the REPL through __complete", function()
      local mt = getmetatable(fx.r)
      local names = mt.__complete
      for _, f in ipairs(fx.r:fields()) do assert.is_true(names[f], f) end
      for _, m in ipairs { "column", "top_ports", "slice", "where", "to_json" } do
        assert.are.equal("function", type(names[m]), m)
      end
    end)
  end)

  ---------------------------------------------------------------------------------------------------------------
  describe("tpp.open and tpp.type", function()
    it("loads dumps and parses captures", function()
      local path = fx.dir .. "/mem_dump/open.tpd"
      assert(fx.r:dump(path))
      local d = assert(tpp.open(path))
      assert.are.equal(fx.r.packets, d.packets)
      local c = assert(tpp.open(fx.trace, { delta_t = 30 }))
      assert.are.equal(2, #c)
      assert.has_error(function() tpp.open(path, { delta_t = 1 }) end)
      local none, err = tpp.open(fx.dir .. "/none.pcap")
      assert.is_nil(none)
      assert.truthy(err:find("none.pcap", 1, true))
      assert.has_error(function() tpp.open() end)
      assert.are.equal("dump", require("tpp.result").kind(path))
      assert.are.equal("capture", require("tpp.result").kind(fx.trace))
      assert.is_nil(require("tpp.result").kind("tests/api_spec.lua"))
    end)

    it("names the type of tpp objects", function()
      local dir = H.tmpdir()
      local w = tpp.pcap_writer(dir .. "/w.pcap", "ethernet")
      assert.are.equal("writer", tpp.type(w))
      w:close()
      H.rmtree(dir)
      assert.are.equal("result", tpp.type(fx.r))
      assert.are.equal("column", tpp.type(fx.r:column("syn")))
      assert.are.equal("interval", tpp.type(fx.r:interval(1)))
      assert.are.equal("ports", tpp.type(fx.r:top_ports("tcp_dst", 1)))
      for _, v in ipairs { {}, 1, "s", print, io.stdout, setmetatable({}, {}) } do assert.is_nil(tpp.type(v)) end
      assert.is_nil(tpp.type(nil))
    end)
  end)

  ---------------------------------------------------------------------------------------------------------------
  describe("help", function()
    local help = require "tpp.help"

    it("documents every method of results and columns, and every function of the module", function()
      local meta = require("tpp.core")._meta
      local function names(list)
        local t = {}
        for _, e in ipairs(list) do t[e[1]] = true end
        return t
      end
      local documented = names(help.docs.result)
      for name in pairs(meta.result_methods) do assert.is_true(documented[name], "r:" .. name) end
      for name in pairs(documented) do assert.is_function(meta.result_methods[name], name) end
      documented = names(help.docs.column)
      for name in pairs(meta.column.__index) do assert.is_true(documented[name], "c:" .. name) end
      documented = names(help.docs.fields)
      for _, name in ipairs(fx.r:fields()) do assert.is_true(documented[name], "r." .. name) end
      documented = names(help.docs.columns)
      for _, name in ipairs(fx.r:columns()) do assert.is_true(documented[name], name) end
      documented = names(help.docs.tpp)
      for _, name in ipairs { "open", "parse", "load", "dump_path", "packets", "pcap_writer", "column", "type", "now",
                              "version" } do
        assert.is_true(documented[name], "tpp." .. name)
      end
      -- Functions added to the module without an entry are still listed, by name.
      local text = help.text(tpp)
      for name in pairs(tpp) do
        if not documented[name] then assert.truthy(text:find("also: .*tpp%." .. name), name) end
      end
    end)

    it("describes results, columns, intervals, port lists, the module, functions and names", function()
      local r = fx.r
      local text = help.text(r)
      assert.truthy(text:find(tostring(r), 1, true))
      for _, e in ipairs(help.docs.result) do assert.truthy(text:find(e[2], 1, true), e[1]) end
      text = help.text(r:column("syn"))
      for _, e in ipairs(help.docs.column) do assert.truthy(text:find(e[2], 1, true), e[1]) end
      assert.truthy(help.text(r:interval(1)):find("entropy_src%s+source%-address entropy"))
      assert.truthy(help.text(r:top_ports("tcp_dst", 1)):find("busiest ports"))
      assert.truthy(help.text(tpp):find("tpp%.parse%(path"))
      assert.are.equal(help.docs.tpp[2][2], help.text(tpp.parse))
      assert.truthy(help.text(r.top_ports):find("^r:top_ports%(series"))
      assert.truthy(help.text(r:column("syn").quantile):find("^c:quantile%(q%)"))
      assert.truthy(help.text("entropy_src"):find("^column entropy_src — source%-address entropy"))
      assert.truthy(help.text("r:slice"):find("^r:slice%(t1, t2%)"))
      assert.truthy(help.text("nothing_like_this"):find("nothing named"))
      assert.truthy(help.text(42):find("no help for a number value"))
      assert.truthy(help.text(print):find("no entry"))
    end)

    it("lists the loaded objects and the module's functions", function()
      rawset(_G, "spec_loaded_result", fx.r)
      local text = help.text()
      rawset(_G, "spec_loaded_result", nil)
      assert.truthy(text:find("Loaded:\n", 1, true))
      assert.truthy(text:find("spec_loaded_result  tpp.result: ", 1, true))
      assert.truthy(text:find("tpp.parse", 1, true))
      assert.truthy(text:find("argmax()", 1, true))
    end)
  end)

  ---------------------------------------------------------------------------------------------------------------
  describe("the REPL's Lua side", function()
    local repl = require "tpp.repl"

    it("names globals after the files' stems", function()
      local used = {}
      assert.are.equal("trace", repl.global_name("x/trace.pcap.gz", used))
      assert.are.equal("trace_2", repl.global_name("y/trace.pcap", used))
      assert.are.equal("mawi_2023_01_01", repl.global_name("mawi-2023.01.01.pcap.gz", used))
      assert.are.equal("_201901011400", repl.global_name("201901011400.pcap.gz", used))
      assert.are.equal("day", repl.global_name("mem_dump/day.tpd", used))
      assert.are.equal("end_", repl.global_name("end.pcap", used))
      assert.are.equal("table_2", repl.global_name("table.pcap", used))   -- the table library is taken
      assert.are.equal("_pcap", repl.global_name(".pcap", used))     -- walk.stem keeps a bare extension
    end)

    it("tells data files from scripts", function()
      assert.is_true(repl.is_data(fx.trace))
      assert.is_true(repl.is_data("missing.pcap.gz"))
      assert.is_true(repl.is_data("missing.tpd"))
      assert.is_false(repl.is_data("tests/api_spec.lua"))
      assert.is_false(repl.is_data("missing.lua"))
    end)

    it("shows values: tables as constructors, tpp objects by tostring", function()
      assert.are.equal('{ 1, "a", { 2, x = true }, k = "v" }', repl.repr({ 1, "a", { 2, x = true }, k = "v" }))
      assert.are.equal("{ [1.5] = 1, [\"a b\"] = 2 }", repl.repr({ [1.5] = 1, ["a b"] = 2 }))
      assert.are.equal("{ { {...} } }", repl.repr({ { { 1 } } }))
      assert.are.equal("{}", repl.repr({}))
      assert.are.equal("text", repl.repr("text"))
      assert.are.equal(tostring(fx.r), repl.repr(fx.r))
      local big = {}
      for i = 1, 50 do big[i] = i end
      assert.truthy(repl.repr(big):find("... (20 more) }", 1, true))
    end)

    it("completes column names, port series and help names inside strings", function()
      assert.are.same({ "entropy_dst", "entropy_dst_p24" }, repl.complete_string('r:column(', "entropy_d"))
      assert.are.same({ "tcp_dst", "tcp_src" }, repl.complete_string('x:top_ports( ', "tcp"))
      assert.are.same({ "udp_dst" }, repl.complete_string('r:port_entropy(', "udp_d"))
      assert.are.same({ "top_ports" }, repl.complete_string('help(', "top_"))
      assert.is_nil(repl.complete_string('tpp.open(', "tr"))
    end)
  end)

  ---------------------------------------------------------------------------------------------------------------
  describe("example scripts", function()
    local TPP = tpp_binary()

    it("entropy_anomalies.lua flags the scans", function()
      local out, err, status = sh(TPP .. " scripts/examples/entropy_anomalies.lua " .. q(fx.trace) .. " --delta-t 2")
      assert.are.equal(0, status, err)
      local starts = {}
      for line in out:gmatch("[^\n]+") do
        local k = line:match("^(%d+)\t")
        if k then starts[#starts + 1] = 1674709200 + 2 * tonumber(k) end
      end
      assert.is_true(#starts > 0, out)
      for _, scan in ipairs(fx.summary.scans) do
        local hit = false
        for _, t in ipairs(starts) do
          hit = hit or (t * H.NS < scan.end_ns and (t + 2) * H.NS > scan.start_ns)
        end
        assert.is_true(hit, ("a %s scan at %d s is flagged\n%s"):format(scan.kind, scan.start_ns // H.NS, out))
      end
      assert.truthy(out:match("\n# %d+ flags?\n$"))
      local _, err2, status2 = sh(TPP .. " scripts/examples/entropy_anomalies.lua")
      assert.are.equal(2, status2)
      assert.truthy(err2:find("usage"))
    end)

    it("top_ports.lua lists each interval's busiest ports", function()
      local path = fx.dir .. "/mem_dump/top.tpd"
      assert(fx.r:dump(path))
      local out, err, status = sh(TPP .. " scripts/examples/top_ports.lua " .. q(path) .. " -k 3 --series udp_dst")
      assert.are.equal(0, status, err)
      local rows = 0
      for line in out:gmatch("[^\n]+") do
        local k, ports = line:match("^(%d+)\t[^\t]+\t%d+\t[%d.]+\t(.*)$")
        if k then
          rows = rows + 1
          assert.are.equal(tostring(fx.r:top_ports("udp_dst", tonumber(k) + 1, 3)), ports)
        end
      end
      assert.are.equal(#fx.r, rows)
      assert.truthy(out:find("# whole trace: " .. tostring(fx.r:top_ports("udp_dst", nil, 3)), 1, true))
    end)

    it("compare.lua puts two traces side by side", function()
      local out, err, status = sh(TPP .. " scripts/examples/compare.lua " .. q(fx.trace) .. " " .. q(fx.other)
                                  .. " --column packets --column entropy_src")
      assert.are.equal(0, status, err)
      local lines = {}
      for line in out:gmatch("[^\n]+") do lines[#lines + 1] = line end
      assert.are.equal(5, #lines)
      assert.truthy(lines[1]:find("^# A: tpp%.result: "))
      assert.truthy(lines[2]:find("^# B: tpp%.result: "))
      local cells = {}
      for f in (lines[4] .. "\t"):gmatch("([^\t]*)\t") do cells[#cells + 1] = f end
      assert.are.equal("packets", cells[1])
      local other = assert(tpp.open(fx.other))
      local function num(v) return v == math.floor(v) and ("%d"):format(v) or ("%.4g"):format(v) end
      assert.are.equal(num(fx.r:column("packets"):mean()), cells[2])
      assert.are.equal(num(other:column("packets"):mean()), cells[3])
      assert.are.equal(("%.3f"):format(other.packets / fx.r.packets), cells[4])
      assert.truthy(lines[5]:find("^entropy_src\t"))
    end)
  end)

  ---------------------------------------------------------------------------------------------------------------
  describe("docs/lua-api.md", function()
    it("runs every lua example", function()
      local doc = H.read_file("docs/lua-api.md")
      local blocks = {}
      for code in doc:gmatch("\n```lua\n(.-)\n```") do blocks[#blocks + 1] = code end
      assert.is_true(#blocks >= 10, "examples found: " .. #blocks)
      local prelude = 'tpp = require "tpp"; r = assert(tpp.open("trace.pcap.gz"))'
      for k, code in ipairs(blocks) do
        local file = fx.dir .. "/example" .. k .. ".lua"
        H.write_file(file, code .. "\n")
        local _, err, status = sh("cd " .. q(fx.dir) .. " && " .. q(tpp_binary()) .. " -e " .. q(prelude) .. " "
                                  .. q(file) .. " >/dev/null")
        assert.are.equal(0, status, ("example %d failed:\n%s\n%s"):format(k, code, err))
      end
    end)
  end)
end)
