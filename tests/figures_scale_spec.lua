-- Specs for figures that scale with what is drawn (lua/tpp/gnuplot.lua): time series of more intervals than pixel
-- columns drawn as per-column envelopes, port figures drawn as heatmaps past 200 intervals or when 3D bars would
-- hide too many packets, partial intervals ringed, a series drawn under an equal one named once, y ranges.
-- Every expected value is computed here from the result's columns and histograms, not read from tpp's drawing.

local HERE = debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./"
local H = dofile(HERE .. "helper.lua")
local tpp = require "tpp"
local plot = require "tpp.plot"
local gnuplot = require "tpp.gnuplot"

local it_gp = gnuplot.find() and it or pending

local function rows(path)
  local out = {}
  for line in io.lines(path) do
    if line ~= "" then
      local row = {}
      for v in line:gmatch("%S+") do row[#row + 1] = tonumber(v) or (v == "NaN" and 0 / 0) end
      out[#out + 1] = row
    end
  end
  return out
end

local function draw(r, dir, opts)
  opts.dir, opts.workdir, opts.quiet = dir .. "/out", dir .. "/work", true
  local files, failures = plot.draw(r, opts)
  assert.are.same({}, failures)
  return files, dir .. "/work"
end

describe("figures at scale", function()
  local dir, r
  local delta, n = 0.01, 6000

  setup(function()
    dir = H.tmpdir()
    -- one packet per 10 ms interval for 60 s, to ports 80 and 443, and a burst of 50 more in interval 3001
    local packets = {}
    for k = 0, n - 1 do
      packets[#packets + 1] = { ts_ns = H.T0 + k * 10000000 + 5000000,
                                data = H.eth4_tcp("10.0.0.1", "10.0.0.2", 40000, k % 2 == 0 and 80 or 443, H.ACK) }
      if k == 3000 then
        for j = 1, 50 do
          packets[#packets + 1] = { ts_ns = H.T0 + k * 10000000 + 5000000 + j * 1000,
                                    data = H.eth4_tcp("10.0.0.9", "10.0.0.2", 1000 + j, 22, H.ACK) }
        end
      end
    end
    local path = dir .. "/many.pcap"
    H.write_capture(path, "ethernet", packets)
    r = assert(tpp.parse(path, { delta_t = delta }))
    assert.are.equal(n, #r)
  end)

  teardown(function() if dir then H.rmtree(dir) end end)

  it_gp("draws a time series of more intervals than pixel columns as envelopes that keep every spike", function()
    local _, work = draw(r, dir .. "/env", { figures = { 1 }, width = 800 })
    local ncol = math.floor(800 * 0.85)
    local ends, packets = r:column("end"), r:column("packets")
    -- the reference: intervals grouped by the time of their point into ncol equal spans of the x range
    local x0, x1 = ends[1] - delta / 2, ends[n] + delta / 2
    local width = (x1 - x0) / ncol
    local want = {}
    for i = 1, n do
      local b = math.min(ncol - 1, math.floor((ends[i] - x0) / width))
      local w = want[b] or { sum = 0, count = 0, min = math.huge, max = -math.huge }
      want[b] = w
      w.sum, w.count = w.sum + packets[i], w.count + 1
      w.min, w.max = math.min(w.min, packets[i]), math.max(w.max, packets[i])
    end
    local got = rows(work .. "/fig_1.dat")
    local k = 0
    for b = 0, ncol - 1 do
      local w = want[b]
      if w then
        k = k + 1
        local row = got[k]
        H.assert_close(row[1], x0 + (b + 0.5) * width, 1e-6, "column middle")
        H.assert_close(row[2], w.sum / w.count, 1e-9, "mean")
        assert.are.equal(w.min, row[3])
        assert.are.equal(w.max, row[4])
      end
    end
    assert.are.equal(k, #got)
    local top = 0
    for _, row in ipairs(got) do top = math.max(top, row[4]) end
    assert.are.equal(51, top)                     -- the burst's interval survives the reduction
    local gp = H.read_file(work .. "/fig_1.gp")
    assert.is_truthy(gp:find(("6,000 intervals drawn as %d pixel columns"):format(ncol), 1, true))
    assert.is_truthy(gp:find("filledcurves", 1, true))
  end)

  it_gp("draws the port figures as heatmaps past 200 intervals, a column per pixel", function()
    local _, work = draw(r, dir .. "/hm", { figures = { 13 }, width = 800 })
    local gp = H.read_file(work .. "/fig_13.gp")
    assert.is_truthy(gp:find("heatmap, 6,000 intervals are too many for 3D bars", 1, true))
    assert.is_truthy(gp:find("with image", 1, true))
    assert.is_nil(gp:find("splot", 1, true))
    assert.is_truthy(gp:find("busiest 80 (49.6 %), 443 (49.6 %), 22 (0.826 %)", 1, true))
    local data = assert(gp:match("'(tcp_dst_grid_%d+%.dat)'"))
    local ncol = math.floor(800 * 0.85)
    local per = n / ncol
    -- the column of the burst (interval 3001): port 22's bin holds 50 of the column's packets
    local packets, c = r:column("packets"), math.floor((3001 - 1) / per) + 1
    local total = 0
    for i = 1, n do
      if math.floor((i - 1) / per) + 1 == c then total = total + packets[i] end
    end
    local x = (c - 0.5) * per + 0.5
    local found
    for _, row in ipairs(rows(work .. "/" .. data)) do
      if math.abs(row[1] - x) < 1e-6 and row[3] == row[3] and math.abs(row[3] - 50 / total) < 1e-6 then found = row end
    end
    assert.is_truthy(found, "the burst's cell")
  end)

  it_gp("keeps 3D bars up to 200 intervals when they show most packets, and says which ports are busiest", function()
    local _, work = draw(r, dir .. "/bars", { figures = { 13 }, max_intervals = 150 })
    local gp = H.read_file(work .. "/fig_13.gp")
    assert.is_truthy(gp:find("splot", 1, true))
    assert.is_truthy(gp:find("busiest 80 (50 %), 443 (50 %)", 1, true))
  end)
end)

describe("figures of a few intervals", function()
  local dir
  setup(function() dir = H.tmpdir() end)
  teardown(function() if dir then H.rmtree(dir) end end)

  it_gp("draws port figures as heatmaps when 3D bars would leave out more than 25 % of the packets", function()
    -- per 1 s interval: 1,000 packets to port 80 and 600 to ports of one packet each: each of these is
    -- 1/1600 of the interval, under 0.2 % of port 80's 1000/1600, so the bars would leave out 37.5 %
    local packets = {}
    for s = 0, 2 do
      for k = 0, 1599 do
        packets[#packets + 1] = { ts_ns = H.T0 + s * H.NS + k * 500000,
                                  data = H.eth4_udp("10.0.0.1", "10.0.0.2", 5000, k < 1000 and 80 or 2000 + k) }
      end
    end
    local path = dir .. "/tail.pcap"
    H.write_capture(path, "ethernet", packets)
    local r = assert(tpp.parse(path, { delta_t = 1 }))
    local _, work = draw(r, dir .. "/tail", { figures = { 15, 14 } })
    assert.is_truthy(H.read_file(work .. "/fig_15.gp"):find("3D bars would leave out 37.5 % of the packets", 1, true))
    -- the UDP source ports (all 5000) are one bar per interval: bars
    assert.is_truthy(H.read_file(work .. "/fig_14.gp"):find("splot", 1, true))
    local forced = select(2, draw(r, dir .. "/forced", { figures = { 15 }, port_view = "bars" }))
    assert.is_truthy(H.read_file(forced .. "/fig_15.gp"):find("carrying 37.5 % of the packets", 1, true))
  end)

  it_gp("rings partial intervals, names a series drawn under an equal one, and pads or fixes y ranges", function()
    -- 2 s intervals; packets from 0.5 s to 9.5 s: the first and last intervals are partly covered; all IP, no SYN
    local packets = {}
    for k = 0, 18 do
      packets[#packets + 1] = { ts_ns = H.T0 + 500000000 + k * 500000000,
                                data = H.eth4_tcp("10.0.0.1", "10.0.0.2", 40000, 80, H.ACK) }
    end
    local path = dir .. "/partial.pcap"
    H.write_capture(path, "ethernet", packets)
    local r = assert(tpp.parse(path, { delta_t = 2 }))
    local _, work = draw(r, dir .. "/partial", { figures = { 1, 7 } })
    local covered, ends, want = r:column("covered"), r:column("end"), {}
    for i = 1, #r do
      if covered[i] < 2 then want[#want + 1] = ends[i] end
    end
    assert.is_true(#want >= 1)
    local got = rows(work .. "/fig_1_partial.dat")
    assert.are.equal(#want, #got)
    for k, row in ipairs(got) do H.assert_close(row[1], want[k], 1e-6, "partial interval") end
    local gp1 = H.read_file(work .. "/fig_1.gp")
    assert.is_truthy(gp1:find("title 'Packet Count = IP Packet Count'", 1, true))
    assert.is_nil(gp1:find("using 1:3 with linespoints", 1, true))   -- IP packets: not drawn a second time
    -- 4 % of padding around the packet counts; SYN and FIN all zero: a 0..1 axis, never a negative count
    local counts = r:column("packets")
    local lo, hi = counts:min(), counts:max()
    assert.is_truthy(gp1:find(("set yrange [%.10g:%.10g]"):format(lo - (hi - lo) * 0.04, hi + (hi - lo) * 0.04), 1, true))
    assert.is_truthy(H.read_file(work .. "/fig_7.gp"):find("set yrange [0:1]", 1, true))
  end)

  it_gp("draws a series spanning orders of magnitude on a log scale", function()
    local packets = {}
    for s, count in ipairs({ 1, 10, 100, 1000, 3000 }) do
      for k = 1, count do
        packets[#packets + 1] = { ts_ns = H.T0 + s * H.NS + k * 1000,
                                  data = H.eth4_udp("10.0.0.1", "10.0.0.2", 53, 53) }
      end
    end
    local path = dir .. "/decades.pcap"
    H.write_capture(path, "ethernet", packets)
    local r = assert(tpp.parse(path, { delta_t = 1 }))
    local _, work = draw(r, dir .. "/decades", { figures = { 1, 5 } })
    assert.is_truthy(H.read_file(work .. "/fig_1.gp"):find("set logscale y", 1, true))
    assert.is_nil(H.read_file(work .. "/fig_5.gp"):find("set logscale y", 1, true))
  end)
end)
