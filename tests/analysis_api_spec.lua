-- The analysis API of issue 12, item 22 (and the slice part of item 20): selections that keep each interval's
-- original index, derived columns (diff, zscore, rolling, arithmetic), tpp.utc, tpp.packets with a time window,
-- r:port_series, and slice's errors for dates that do not exist and reversed ranges.
local tpp = require "tpp"
local H = require "tests.helper"

local NS = H.NS
local T0 = 1672531200 -- 2023-01-01 00:00:00 UTC, a multiple of every delta_t used here
local NAN = 0 / 0

local function isnan(v) return v ~= v end

-- A capture of 6 one-second intervals: interval k (0-based) holds k + 1 TCP packets to port 80 and, in the odd
-- intervals, k packets to port 443.  Packet j (1-based) of an interval lies j/16 s into it (exact in binary).
local dir, path
local function capture()
  if path then return path end
  dir = H.tmpdir()
  path = dir .. "/six.pcap"
  local packets = {}
  for k = 0, 5 do
    local n = 0
    local function add(dport)
      n = n + 1
      packets[#packets + 1] = { ts_ns = (T0 + k) * NS + n * NS // 16,
                                data = H.eth4_tcp("10.0.0." .. n, "10.0.1.1", 40000 + n, dport, H.ACK, "") }
    end
    for _ = 1, k + 1 do add(80) end
    if k % 2 == 1 then for _ = 1, k do add(443) end end
  end
  H.write_capture(path, "ethernet", packets)
  return path
end

local function parse() return assert(tpp.parse(capture(), { delta_t = 1 })) end

describe("the analysis API", function()
  teardown(function() if dir then H.rmtree(dir) end end)

  describe("selections keep the original index", function()
    it("r:index, r:interval(i).index and the record's text give where each interval came from", function()
      local r = parse()
      assert.are.equal(6, #r)
      for i = 1, #r do
        assert.are.equal(i, r:index(i))
        assert.are.equal(i, r:interval(i).index)
      end
      -- intervals 1, 3, 5 (0-based) have port 443 traffic: indices 2, 4, 6
      local odd = r:where(function(iv) return iv.packets > iv.interval + 1 end)
      assert.are.same({ 2, 4, 6 }, { odd:index(1), odd:index(2), odd:index(3) })
      assert.are.same({ 2, 4, 6 }, odd:index():totable())
      assert.are.equal("column", tpp.type(odd:index()))
      for k = 1, #odd do
        local iv = odd:interval(k)
        assert.are.equal(odd:index(k), iv.index)
        assert.are.equal(k - 1, iv.interval)                       -- the interval column numbers this table's rows
        assert.are.equal(r:interval(iv.index).start, iv.start)
        assert.are.equal(r:interval(iv.index).packets, iv.packets)
      end
      assert.truthy(tostring(odd:interval(2)):find("^interval 1 %(index 2; index 4 in the original%)"))
      assert.truthy(tostring(r:interval(4)):find("^interval 3 %(index 4%)  "))
      -- selections of selections lead back to the parsed result
      local last = odd:select({ 3.0 })
      assert.are.equal(6, last:index(1))
      assert.are.equal("integer", math.type(last:index(1)))
      local late = odd:slice(T0 + 3)
      assert.are.same({ 4, 6 }, late:index():totable())
      local busy = late:where(function(iv) return iv.packets > 10 end)
      assert.are.equal(6, busy:index(1))
      assert.are.equal(0, #r:select({}):index())
    end)

    it("r:index and r:interval reject indices out of range", function()
      local r = parse()
      local s = r:select({ 2, 5 })
      local ok, err = pcall(s.index, s, 3)
      assert.is_false(ok)
      assert.truthy(err:find("bad argument #1 to 'index' %(an interval index from 1 to 2 expected, got 3%)"), err)
      ok, err = pcall(s.interval, s, 0)
      assert.truthy(err:find("bad argument #1 to 'interval'"), err)
      assert.has_error(function() s:interval(1.5) end)
    end)
  end)

  describe("columns", function()
    it("c:diff gives the differences with NaN where there is no predecessor", function()
      local c = tpp.column({ 1, 4, 9, NAN, 25 })
      local d = c:diff()
      assert.are.equal("column", tpp.type(d))
      assert.are.equal(5, #d)
      assert.is_true(isnan(d[1]))
      assert.are.same({ 3, 5 }, { d[2], d[3] })
      assert.is_true(isnan(d[4]) and isnan(d[5]))
      local d2 = c:diff(2)
      assert.is_true(isnan(d2[1]) and isnan(d2[2]))
      assert.are.equal(8, d2[3])
      assert.are.equal(16, d2[5])
      assert.are.equal(math.type(1), math.type(parse():column("packets"):diff()[2]))  -- counts stay integers
      assert.has_error(function() c:diff(0) end)
    end)

    it("c:zscore standardises, skipping NaN, and is NaN when the deviation is 0", function()
      local z = tpp.column({ 2, 4, NAN, 4, 4, 5, 5, 7, 9 }):zscore()   -- mean 5, population std 2
      assert.are.same({ -1.5, -0.5 }, { z[1], z[2] })
      assert.is_true(isnan(z[3]))
      assert.are.equal(2, z[9])
      local s = tpp.column({ 1, 2, 3 }):zscore(1)                        -- sample std 1
      assert.are.same({ -1, 0, 1 }, s:totable())
      local flat = tpp.column({ 3, 3, 3 }):zscore()
      assert.is_true(isnan(flat[1]) and isnan(flat[3]))
    end)

    it("c:rolling applies a statistic to the trailing window, NaN-aware", function()
      local c = tpp.column({ 1, 2, 3, NAN, 5, 6 })
      local m = c:rolling(3, "mean")
      assert.is_true(isnan(m[1]) and isnan(m[2]))                         -- incomplete windows
      assert.are.equal(2, m[3])                                           -- 1, 2, 3
      assert.are.equal(2.5, m[4])                                         -- 2, 3, NaN: NaN skipped
      assert.are.equal(4, m[5])                                           -- 3, NaN, 5
      assert.are.equal(5.5, m[6])
      assert.are.same({ 3, 3, 5, 6 }, { table.unpack(c:rolling(3, "max"):totable(), 3) })
      assert.are.equal(1, c:rolling(1, "count")[1])
      local all_nan = tpp.column({ NAN, NAN, 1 }):rolling(2, "sum")
      assert.is_true(isnan(all_nan[2]))                                   -- no value: NaN, not a sum of 0
      assert.is_true(isnan(tpp.column({ NAN, NAN, 1 }):rolling(2, "mean")[2]))  -- no value: NaN
      local std = c:rolling(2, "std")
      assert.are.equal(0.5, std[2])
      -- a function gets the window as a column, NaN included; nil means NaN
      local spans = c:rolling(2, function(w) return w:count() == 2 and w[2] - w[1] or nil end)
      assert.are.equal(1, spans[2])
      assert.is_true(isnan(spans[4]) and isnan(spans[5]))
      assert.are.equal(1, spans[6])
      assert.has_error(function() c:rolling(0, "mean") end)
      assert.has_error(function() c:rolling(2, "variance") end, "bad argument #2 to 'rolling' (a function or one of "
        .. "'count', 'max', 'mean', 'median', 'min', 'std', 'sum' expected, got 'variance')")
      assert.has_error(function() c:rolling(2, function() return "x" end) end)
    end)

    it("columns add, subtract, multiply, divide and negate with columns and numbers", function()
      local r = parse()
      local p, tcp = r:column("packets"), r:column("tcp_port_packets")
      assert.are.same({ 1, 3, 3, 7, 5, 11 }, p:totable())
      assert.are.same({ 0, 0, 0, 0, 0, 0 }, (p - tcp):totable())
      assert.are.same({ 2, 6, 6, 14, 10, 22 }, (p + p):totable())
      assert.are.same({ 3, 5, 5, 9, 7, 13 }, (2 + p):totable())
      assert.are.same({ 0, 2, 2, 6, 4, 10 }, (p - 1):totable())
      assert.are.same({ 9, 7, 7, 3, 5, -1 }, (10 - p):totable())
      assert.are.same({ 3, 9, 9, 21, 15, 33 }, (p * 3):totable())
      assert.are.same({ 0.5, 1.5, 1.5, 3.5, 2.5, 5.5 }, (p / 2):totable())
      assert.are.same({ -1, -3, -3, -7, -5, -11 }, (-p):totable())
      local share = r:port_series("tcp_dst", 443) / p
      assert.are.same({ 0, 1 / 3, 0, 3 / 7, 0, 5 / 11 }, share:totable())
      assert.are.equal("column", tpp.type(share))
      assert.are.equal("column", tpp.type(-p))
      local ok, err = pcall(function() return p + tpp.column({ 1, 2 }) end)
      assert.is_false(ok)
      assert.truthy(err:find("attempt to add columns of different lengths %(6 and 2 values%)"), err)
      ok, err = pcall(function() return p * "2" end)
      assert.truthy(err:find("attempt to multiply a column and a string"), err)
      assert.has_error(function() return p / {} end)
    end)
  end)

  describe("tpp.utc", function()
    it("formats epoch seconds as UTC with fractions of a second", function()
      assert.are.equal("2023-01-01 00:00:10.250", tpp.utc(T0 + 10.25))
      assert.are.equal("2023-01-01 00:00:10", tpp.utc(T0 + 10.25, 0))
      assert.are.equal("2023-01-01 00:00:10.250000000", tpp.utc(T0 + 10.25, 9))
      assert.are.equal("2023-01-01 00:00:10.100", tpp.utc(T0 + 10.1))        -- not 10.099 from the float
      assert.are.equal("2023-01-01 00:01:00.000", tpp.utc(T0 + 59.9996))      -- rounding carries
      assert.are.equal("1970-01-01 00:00:00.000", tpp.utc(0))
      assert.are.equal("1969-12-31 23:59:59.500", tpp.utc(-0.5))
      assert.are.equal("01/01/2023 00:00:10.250 %f 250000", tpp.utc(T0 + 10.25, "%d/%m/%Y %H:%M:%S.%3f %%f %f"))
      assert.are.equal("2023-01-01T00:00:10Z", tpp.utc(T0 + 10.25, "%Y-%m-%dT%H:%M:%SZ"))
      assert.are.equal(require("tpp.result").utc(T0 + 10.25, 3), tpp.utc(T0 + 10.25))
    end)

    it("rejects what is not a time or a format", function()
      assert.has_error(function() tpp.utc("2023") end, "bad argument #1 to 'utc' (epoch seconds expected, got string)")
      assert.has_error(function() tpp.utc(NAN) end)
      assert.has_error(function() tpp.utc(math.huge) end)
      assert.has_error(function() tpp.utc(0, 10) end)
      assert.has_error(function() tpp.utc(0, "%0f") end)
      assert.has_error(function() tpp.utc(0, {}) end)
      assert.has_error(function() tpp.utc(0, "%Y %Q") end,
                       "bad argument #2 to 'utc' (invalid conversion specifier '%Q')")
      local ok, err = pcall(function() return tpp.utc(1e17) end)
      assert.is_false(ok)
      assert.truthy(err:find("analysis_api_spec.lua:%d+: bad argument #1 to 'utc' %(100000000000000000 seconds"), err)
    end)
  end)

  describe("tpp.packets with a time window", function()
    local function times(opts)
      local out = {}
      for p in tpp.packets(capture(), opts) do out[#out + 1] = p.ts_ns - T0 * NS end
      return out
    end

    it("yields the packets of [from, to) only", function()
      local all = times()
      assert.are.equal(30, #all)
      local S = NS // 16
      -- interval 1 holds 2 + 1 packets at 17/16, 18/16, 19/16 s; [18/16, 33/16) takes the last two, not 33/16
      assert.are.same({ 18 * S, 19 * S }, times({ from = T0 + 18 / 16, to = T0 + 33 / 16 }))
      assert.are.same({ 18 * S, 19 * S, 33 * S }, times({ from = T0 + 18 / 16, to = T0 + 33 / 16 + 1e-6 }))
      assert.are.equal(#all - 1, #times({ from = T0 + 1 / 16 + 1e-6 }))                      -- the first is out
      assert.are.same({ S }, times({ to = T0 + 17 / 16 }))                                    -- only the first
      assert.are.equal(0, #times({ from = T0 + 3, to = T0 + 3 }))
      assert.are.same({ 49 * S, 50 * S }, times({ from = T0 + 3, to = T0 + 4, max_packets = 2 }))
      local ports = {}
      for p in tpp.packets(capture(), { from = T0 + 3, to = T0 + 4, filter = "tcp dst port 443" }) do
        ports[#ports + 1] = p.dport
      end
      assert.are.same({ 443, 443, 443 }, ports)
      assert.are.equal(#all, #times({ from = T0, to = math.huge }))
      assert.are.equal(#all, #times({ from = T0 }))                                          -- integer seconds
    end)

    it("keeps reading past packets that went back in time", function()
      local p = dir .. "/backwards.pcap"
      local ts = { 5, 1, 6, 2, 7 }
      local packets = {}
      for k, s in ipairs(ts) do
        packets[k] = { ts_ns = (T0 + s) * NS, data = H.eth4_udp("10.0.0.1", "10.0.0.2", 1, 2, "") }
      end
      H.write_capture(p, "ethernet", packets)
      local got = {}
      for pk in tpp.packets(p, { from = T0 + 1, to = T0 + 6 }) do got[#got + 1] = pk.ts_ns // NS - T0 end
      assert.are.same({ 5, 1, 2 }, got)
    end)

    -- Issue 14: with bytes = true each packet carries its frame, so scripts can cut a capture with tpp alone.
    it("yields each frame's bytes with bytes = true, and only then", function()
      for p in tpp.packets(capture(), { max_packets = 1 }) do assert.is_nil(p.bytes) end
      local copy = dir .. "/copy.pcap"
      local w = assert(tpp.pcap_writer(copy, "ethernet", { nanosecond = true }))
      local n = 0
      for p in tpp.packets(capture(), { bytes = true, from = T0 + 2 }) do
        assert.are.equal(p.caplen, #p.bytes)
        w:write_ns(p.ts_ns, p.bytes, p.wirelen)
        n = n + 1
      end
      assert(w:close())
      assert.are.equal(26, n)                                    -- intervals 2..5: 3 + (4 + 3) + 5 + (6 + 5)
      local want, got = {}, {}
      for p in tpp.packets(capture(), { from = T0 + 2 }) do want[#want + 1] = { p.ts_ns, p.src, p.dport } end
      for p in tpp.packets(copy) do got[#got + 1] = { p.ts_ns, p.src, p.dport } end
      assert.are.same(want, got)
    end)

    it("rejects windows that are not epoch seconds or run backwards", function()
      assert.has_error(function() tpp.packets(capture(), { from = T0 + 2, to = T0 + 1 }) end)
      assert.has_error(function() tpp.packets(capture(), { from = "2023-01-01" }) end)
      assert.has_error(function() tpp.packets(capture(), { from = NAN }) end)
      assert.has_error(function() tpp.packets(capture(), { form = T0 }) end)
    end)
  end)

  describe("r:port_series", function()
    it("gives one port's packets per interval as a column", function()
      local r = parse()
      assert.are.same({ 1, 2, 3, 4, 5, 6 }, r:port_series("tcp_dst", 80):totable())
      assert.are.same({ 0, 1, 0, 3, 0, 5 }, r:port_series("tcp_dst", 443):totable())
      assert.are.same({ 0, 0, 0, 0, 0, 0 }, r:port_series("udp_dst", 80):totable())
      assert.are.same({ 0, 0, 0, 0, 0, 0 }, r:port_series("tcp_dst", 22):totable())
      assert.are.same({ 1, 1, 1, 1, 1, 1 }, r:port_series("tcp_src", 40001):totable())
      assert.are.equal("column", tpp.type(r:port_series("tcp_dst", 80)))
      local odd = r:select({ 2, 4 })
      assert.are.same({ 1, 3 }, odd:port_series("tcp_dst", 443):totable())
      -- the same as counting with r:ports
      local want = {}
      for i = 1, #r do want[i] = 0 end
      for i, port, count in r:ports("tcp_dst") do if port == 443 then want[i] = count end end
      assert.are.same(want, r:port_series("tcp_dst", 443):totable())
    end)

    it("rejects unknown series and ports that are not ports", function()
      local r = parse()
      assert.has_error(function() r:port_series("tcp", 80) end,
                       "bad argument #1 to 'port_series' (no port series 'tcp' (tcp_src, tcp_dst, udp_src, udp_dst))")
      assert.has_error(function() r:port_series("tcp_dst", 65536) end)
      assert.has_error(function() r:port_series("tcp_dst", -1) end)
      assert.has_error(function() r:port_series("tcp_dst", "80") end)
      assert.has_error(function() r:port_series("tcp_dst", 80.5) end)
    end)
  end)

  describe("r:slice", function()
    local function slice_error(...)
      local r = parse()
      local ok, err = pcall(r.slice, r, ...)
      assert.is_false(ok, "slice should fail")
      return err
    end

    it("refuses dates and times that do not exist", function()
      assert.truthy(slice_error("2023-02-30"):find("no such date '2023%-02%-30': February 2023 has 28 days"))
      assert.truthy(slice_error("2024-02-30"):find("February 2024 has 29 days"))
      assert.truthy(slice_error("2023-13-01"):find("no such date '2023%-13%-01': months go from 01 to 12"))
      assert.truthy(slice_error("2023-04-31 00:00"):find("April 2023 has 30 days"))
      assert.truthy(slice_error("2023-01-01 25:00"):find("no such time '2023%-01%-01 25:00': hours go from 00 to 23"))
      assert.truthy(slice_error(nil, "2023-01-01 10:60"):find("^bad argument #2 to 'slice' %(no such time"))
      assert.truthy(slice_error("2023-01-01 10:00:61"):find("seconds go from 00 to 59"))
      assert.truthy(slice_error("25:00"):find("bad argument #1 to 'slice' %(epoch seconds or a UTC date"))
      assert.truthy(slice_error("2023-01-01 10:0"):find("bad argument #1 to 'slice'"))
      assert.truthy(slice_error(NAN):find("bad argument #1 to 'slice'"))
      -- the dates that do exist still work
      local r = parse()
      assert.are.equal(6, #r:slice("2023-01-01", "2024-02-29 23:59:59.5"))
      assert.are.equal(2, #r:slice("2023-01-01 00:00:01", "2023-01-01T00:00:03Z"))
    end)

    it("refuses a range whose end is before its start", function()
      local err = slice_error("2023-01-01 00:00:04", "2023-01-01 00:00:02")
      assert.truthy(err:find("bad arguments to 'slice' %(the end, 2023%-01%-01 00:00:02%.000, is before the start, "
                             .. "2023%-01%-01 00:00:04%.000%)"), err)
      assert.truthy(slice_error(T0 + 3, T0 + 1):find("is before the start"))
      assert.are.equal(0, #parse():slice(T0 + 3, T0 + 3))                  -- empty, not reversed
    end)
  end)
end)
