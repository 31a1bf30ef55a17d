-- Specs for what looking at every figure at 3, 90, 3,000 and 30,000 intervals in 1280 x 720 found (issue 18,
-- docs/figures.md "Looked at"): notes a line each, no series hidden under a close later one, port tics that do
-- not overlap, the colour note of figure 18 on a title line of its own, a time axis padded so that no point sits
-- on the frame, the 3D key under the notes. They read the generated gnuplot scripts.

local HERE = debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./"
local H = dofile(HERE .. "helper.lua")
local tpp = require "tpp"
local plot = require "tpp.plot"
local gnuplot = require "tpp.gnuplot"

local it_gp = gnuplot.find() and it or pending

local function draw(r, dir, opts)
  opts.dir, opts.workdir, opts.quiet = dir .. "/out", dir .. "/work", true
  local files, failures = plot.draw(r, opts)
  assert.are.same({}, failures)
  return files, dir .. "/work"
end

-- The port tics of a heatmap script: the labels of its "set ytics (...)" line.
local function tic_labels(gp)
  local list = assert(gp:match("set ytics %((.-)%)\n"), "a ytics line")
  local out = {}
  for label in list:gmatch("'(%d+)' %d+") do out[label] = true end
  return out
end

describe("figures as looked at", function()
  local dir, r
  local delta, n = 0.01, 2000

  setup(function()
    dir = H.tmpdir()
    -- 2,000 intervals of 10 ms: one TCP packet each, and every 100th interval a burst of 1,500 UDP packets, so
    -- that the packet counts span three decades (log scale) and more intervals than 800 px has columns
    local packets = {}
    for k = 0, n - 1 do
      local t = H.T0 + k * 10000000 + 1000000
      packets[#packets + 1] = { ts_ns = t, data = H.eth4_tcp("10.0.0.1", "10.0.0.2", 40000, 80, H.ACK) }
      if k % 100 == 50 then
        for j = 1, 1500 do
          packets[#packets + 1] = { ts_ns = t + j * 1000, data = H.eth4_udp("10.0.0.3", "10.0.0.4", 5000, 53) }
        end
      end
    end
    local path = dir .. "/look.pcap"
    H.write_capture(path, "ethernet", packets)
    r = assert(tpp.parse(path, { delta_t = delta }))
    assert.are.equal(n, #r)
  end)

  teardown(function() if dir then H.rmtree(dir) end end)

  it_gp("writes each note under the title on a line of its own, with room above the frame for all", function()
    local _, work = draw(r, dir .. "/notes", { figures = { 1 }, width = 800 })
    local gp = H.read_file(work .. "/fig_1.gp")
    local ncol = math.floor(800 * 0.85)
    local label = assert(gp:match("set label 11 (.-) at graph"), "the notes label")
    -- two notes joined as two lines, never as one long line
    assert.are.equal(("'log scale: the values span orders of magnitude'.\"\\n\".'2,000 intervals drawn as %d "
      .. "pixel columns: line = mean, band = min to max of each column'"):format(ncol), label)
    assert.is_truthy(gp:find("set tmargin 6.5\n", 1, true))
  end)

  it_gp("draws an earlier series wider than the later ones, so that one close to it does not hide it", function()
    -- figure 6: ICMP (always 0) and Other (always 0) are drawn once; ICMP, TCP and UDP widest first, in steps of 1.5 for three series
    local _, work = draw(r, dir .. "/widths", { figures = { 6 }, max_intervals = 60 })
    local gp = H.read_file(work .. "/fig_6.gp")
    assert.is_truthy(gp:find("using 1:2 with linespoints lw 5 ", 1, true))
    assert.is_truthy(gp:find("using 1:3 with linespoints lw 3.5 ", 1, true))
    assert.is_truthy(gp:find("using 1:4 with linespoints lw 2 ", 1, true))
    assert.is_nil(gp:find("using 1:5 with", 1, true))
    -- two series (flows, new flows: the repeated flows are not new) in a step of 2
    local _, pair = draw(r, dir .. "/widths_pair", { figures = { 21 }, max_intervals = 60 })
    local gp21 = H.read_file(pair .. "/fig_21.gp")
    assert.is_truthy(gp21:find("using 1:2 with linespoints lw 4 ", 1, true))
    assert.is_truthy(gp21:find("using 1:3 with linespoints lw 2 ", 1, true))
    -- reduced (figure 21 at 2,000 intervals): both bands before the lines, the same widths for the column means
    local _, red21 = draw(r, dir .. "/widths_reduced21", { figures = { 21 }, width = 800 })
    local gp21r = H.read_file(red21 .. "/fig_21.gp")
    local band2 = assert(gp21r:find("using 1:6:7 with filledcurves", 1, true))
    local line1 = assert(gp21r:find("using 1:2 with lines lw 4 ", 1, true))
    assert.is_true(band2 < line1)
    assert.is_truthy(gp21r:find("using 1:5 with lines lw 2 ", 1, true))
    local _, reduced = draw(r, dir .. "/widths_reduced", { figures = { 1 }, width = 800 })
    local gp1 = H.read_file(reduced .. "/fig_1.gp")
    -- all packets are IP: one series named twice, drawn at the width of a single series
    assert.is_truthy(gp1:find("using 1:2 with lines lw 2 ", 1, true))
  end)

  it_gp("pads the time axis by at least 1 % of the span each side, so that no point sits on the frame", function()
    local _, work = draw(r, dir .. "/pad", { figures = { 5 }, max_intervals = 60 })
    local from, to = H.read_file(work .. "/fig_5.gp"):match("set xrange %[([%d.]+):([%d.]+)%]")
    local ends = r:column("end")
    local span = ends[60] - ends[1] + delta         -- 0.6 s: 1 % of it (6 ms) is more than half an interval
    H.assert_close(tonumber(from), ends[1] - 0.01 * span, 1e-6, "left end")
    H.assert_close(tonumber(to), ends[60] + 0.01 * span, 1e-6, "right end")
    -- fewer intervals: half of one is already more than 1 % of the span
    local _, few = draw(r, dir .. "/pad_few", { figures = { 5 }, max_intervals = 20 })
    local from20 = H.read_file(few .. "/fig_5.gp"):match("set xrange %[([%d.]+):")
    H.assert_close(tonumber(from20), ends[1] - delta / 2, 1e-6, "half an interval")
  end)

  it_gp("puts the 3D key under the notes, which it covered at the top right, and the z label on the canvas", function()
    -- UDP only: figure 16 (TCP source and destination) says it has no ports; bars forced
    local packets = {}
    for k = 0, 4 do
      packets[#packets + 1] = { ts_ns = H.T0 + k * H.NS + 1000, data = H.eth4_udp("10.0.0.1", "10.0.0.2", 5000, 53) }
    end
    local path = dir .. "/udp.pcap"
    H.write_capture(path, "ethernet", packets)
    local u = assert(tpp.parse(path, { delta_t = 1 }))
    local _, work = draw(u, dir .. "/key", { figures = { 16, 17 }, port_view = "bars", height = 720 })
    local gp = H.read_file(work .. "/fig_16.gp")
    assert.is_truthy(gp:find("no TCP source or TCP destination ports in these intervals", 1, true))
    -- one note line (16 px at dpi 100) centred at 0.92 of 720 px: the key's top 8 + 4 px under 0.92
    local y = tonumber(gp:match("set key at screen 0.98, screen ([%d.]+) right top"))
    H.assert_close(y, 0.92 - 12 / 720, 1e-4, "key top")
    assert.is_truthy(gp:find("rotate parallel offset 0,0", 1, true))
    -- no notes (UDP ports drawn): the key stays at the top right
    local gp17 = H.read_file(work .. "/fig_17.gp")
    assert.is_nil(gp17:find("set label 11", 1, true))
    assert.is_nil(gp17:find("set key at screen", 1, true))
  end)

  it_gp("labels a linear y axis with six significant digits, so that close ticks do not share a label", function()
    -- figure 5 (average length, 40 to 60 bytes: linear) and figure 1 at 60 intervals (1 to 1,501 packets, under
    -- 1e5: not the "k"/"M" format); gnuplot's default "% h" printed 7.5e-05 and 7e-05 both as 0.00007
    local _, work = draw(r, dir .. "/format", { figures = { 5 }, max_intervals = 60 })
    assert.is_truthy(H.read_file(work .. "/fig_5.gp"):find("set format y '%.6g'", 1, true))
  end)

  it_gp("labels port bins with tics that do not overlap: no 1 on 0, powers of 16 in the four panels of 18", function()
    local _, work = draw(r, dir .. "/tics", { figures = { 13, 18 }, width = 800 })
    local one = tic_labels(H.read_file(work .. "/fig_13.gp"))
    assert.is_true(one["0"] and one["4"] and one["16"] and one["64"] and one["1024"] or false)
    assert.is_nil(one["1"])
    local gp18 = H.read_file(work .. "/fig_18.gp")
    local four = tic_labels(gp18)
    assert.is_true(four["0"] and four["16"] and four["256"] and four["4096"] or false)
    assert.is_nil(four["1"]); assert.is_nil(four["4"]); assert.is_nil(four["64"]); assert.is_nil(four["1024"])
    -- shares from 0.002 to 1 (more than two decades) in panels of 80 px: a colour tic every second decade
    assert.is_truthy(gp18:find("set cbtics 100", 1, true))
    assert.is_nil(H.read_file(work .. "/fig_13.gp"):find("set cbtics", 1, true))
    -- the heading and the colour note: two lines of the multiplot title
    assert.is_truthy(gp18:find("(interval: 2000)'.\"\\n\".'colour: share of the packets (log scale)' font", 1, true))
  end)
end)
