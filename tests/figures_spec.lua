-- Specs for the figures (lua/tpp/figures.lua, lua/tpp/gnuplot.lua, lua/tpp/plot.lua, scripts/plot.lua): all 18
-- figures of a small synthetic capture as PNG of the requested size and as SVG, the scripts' titles and series,
-- empty series and empty results, NaN values, a dump as the source, failing and missing gnuplot, the page, the CLI.
-- Needs gnuplot (Debian gnuplot-nox); without it only the specs that expect it to be missing run.

local HERE = debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./"
local H = dofile(HERE .. "helper.lua")
local tpp = require "tpp"
local lfs = require "lfs"
local figures = require "tpp.figures"
local plot = require "tpp.plot"
local synth = require "tpp.synth"

local HAVE_GNUPLOT = require("tpp.gnuplot").find() ~= nil
local it_gp = HAVE_GNUPLOT and it or pending

local function exists(path) return lfs.attributes(path, "mode") == "file" end

local list_dir = H.list_dir

-- Width and height from a PNG's IHDR chunk, or nil and why not.
local function png_size(path)
  local bytes = H.read_file(path)
  if bytes:sub(1, 8) ~= "\137PNG\r\n\26\n" then return nil, "no PNG signature" end
  if bytes:sub(13, 16) ~= "IHDR" then return nil, "no IHDR chunk first" end
  return string.unpack(">I4I4", bytes, 17)
end

-- An executable shell script in dir; returns its path.  It is run as gnuplot is: `PROG -c SCRIPT WORKDIR`.
local function script(dir, name, body)
  local path = dir .. "/" .. name
  H.write_file(path, "#!/bin/sh\n" .. body)
  os.execute("chmod +x " .. H.shell_quote(path))
  return path
end

-- The data file of `series` that a figure's script plots ("tcp_src_3.dat").
local function bars_file(work, figure, series)
  local gp = H.read_file(("%s/fig_%d.gp"):format(work, figure))
  return work .. "/" .. assert(gp:match("'(" .. series .. "_%d+%.dat)'"), "no bars of " .. series)
end

local function count_lines(path)
  local n = 0
  for _ in io.lines(path) do n = n + 1 end
  return n
end

describe("tpp.figures", function()
  it("describes 22 figures, numbered and named as the original tool's (and tpp's own 19-22)", function()
    assert.are.equal(22, figures.count)
    for n = 1, 22 do
      local f = figures.get(n)
      assert.are.equal(n, f.number)
      assert.are.equal(tostring(n), f.name)
      assert.is_string(f.title)
      assert.is_true(#f.series >= 1)
      assert.is_true(f.kind == "lines" or f.kind == "band" or f.kind == "ports")
    end
    assert.is_nil(figures.get(23))
    assert.are.equal("Packet Count over Time", figures.get(1).title)
    assert.are.equal("3D Total Port Distribution (TCP vs. UDP)", figures.get(18).title)
    assert.are.equal(4, #figures.get(18).series)
  end)

  it("names only columns a result has", function()
    local cols, dims = {}, {}
    for _, c in ipairs(tpp.column_names()) do cols[c] = true end
    for _, d in ipairs(tpp.hh_dims) do dims[d] = true end
    for n = 1, figures.count do
      for _, s in ipairs(figures.get(n).series) do
        if s.column then assert.is_true(cols[s.column], s.column) end
        if s.hh then assert.is_true(dims[s.hh] and math.type(s.rank) == "integer", s.hh) end
        if s.mean then assert.is_true(cols[s.mean] and cols[s.std]) end
        if s.ports then assert.is_string(figures.colors[s.ports]) end
      end
    end
  end)
end)

describe("tpp.plot.draw", function()
  local dir, capture, r

  setup(function()
    dir = H.tmpdir()
    capture = dir .. "/small.pcap"
    synth.generate(capture, { packets = 20000, duration = 60 })
    r = assert(tpp.parse(capture, { delta_t = 5 }))
  end)

  teardown(function()
    if dir then H.rmtree(dir) end
  end)

  describe("on a small capture", function()
    local out, work, files, failures, info

    setup(function()
      if not HAVE_GNUPLOT then return end
      out, work = dir .. "/png", dir .. "/work"
      files, failures, info = plot.draw(r, { dir = out, stem = "small", width = 1000, height = 560, jobs = 2,
                                             workdir = work, quiet = true, port_view = "bars" })
    end)

    it_gp("draws all 22 figures as PNG of the requested size", function()
      assert.are.same({}, failures)
      assert.are.equal(23, #files)
      for n = 1, 22 do
        local path = ("%s/small_%d.png"):format(out, n)
        assert.are.equal(path, files[n])
        assert.is_true(exists(path), path)
        local w, h = png_size(path)
        assert.are.equal(1000, w, path .. ": " .. tostring(h))
        assert.are.equal(560, h, path)
      end
      assert.are.equal(out .. "/small.html", files[23])
      assert.are.equal(files[23], info.html)
    end)

    it_gp("leaves no partial or temporary file beside the figures", function()
      for _, name in ipairs(list_dir(out)) do
        assert.is_nil(name:match("^%."), name)
        assert.is_truthy(name:match("^small_%d+%.png$") or name == "small.html", name)
      end
    end)

    it_gp("writes scripts with the original titles, the interval count and every series", function()
      for n = 1, figures.count do
        local fig = figures.get(n)
        local gp = H.read_file(("%s/fig_%d.gp"):format(work, n))
        assert.is_truthy(gp:find(("%s (interval: %d)"):format(fig.title, #r), 1, true), "figure " .. n)
        assert.is_truthy(gp:find("set terminal pngcairo size 1000,560", 1, true))
        for _, s in ipairs(fig.series) do
          -- a legend may go on (the busiest ports), or name two series drawn as one ("A = B")
          local t = s.title:gsub("'", "''")
          assert.is_truthy(gp:find("title '" .. t, 1, true) or gp:find(" = " .. t .. "'", 1, true), s.title)
        end
        if fig.kind == "ports" then
          assert.is_truthy(gp:find("splot", 1, true))
          assert.is_truthy(gp:find("with impulses", 1, true))
          assert.is_truthy(gp:find("keyentry", 1, true))
          for _, s in ipairs(fig.series) do assert.is_truthy(gp:find("'" .. s.ports .. "_%d+%.dat'")) end
          assert.is_nil(gp:find("using %(")) -- no expressions: every derived value is in the data file
        else
          assert.is_truthy(gp:find("set xdata time", 1, true))
          assert.is_truthy(gp:find("fig_" .. n .. ".dat", 1, true))
          assert.is_nil(gp:find("using %("))
        end
      end
    end)

    it_gp("precomputes values into the data files (percentages, band edges, shares)", function()
      local tcp = r:column("tcp_frac")
      local line = io.lines(work .. "/fig_6.dat")()
      local t, icmp, tcp1 = line:match("^(%S+) (%S+) (%S+)")
      H.assert_close(tonumber(t), r:column("end")[1], 1e-12, "time")
      H.assert_close(tonumber(tcp1), tcp[1] * 100, 1e-8, "TCP %")
      -- figure 8: a band from mean - std (clipped at 0) to mean + std, unless mean - std < 0 in more than a tenth
      -- of the intervals: then the mean and the std as lines on a log scale
      local means, stds = r:column("iat_mean"), r:column("iat_std")
      local mean, std = means[1], stds[1]
      local clipped, defined = 0, 0
      for i = 1, #r do
        if means[i] == means[i] then defined = defined + 1 end
        if means[i] - stds[i] < 0 then clipped = clipped + 1 end
      end
      local row = io.lines(work .. "/fig_8.dat")()
      local gp8 = H.read_file(work .. "/fig_8.gp")
      if clipped > 0.1 * defined then
        local _, m, sd, extra = row:match("^(%S+) (%S+) (%S+)(.*)$")
        assert.are.equal("", extra)
        H.assert_close(tonumber(m), mean, 1e-8, "mean")
        H.assert_close(tonumber(sd), std, 1e-8, "std")
        assert.is_truthy(gp8:find("set logscale y", 1, true))
        assert.is_truthy(gp8:find(("mean - std < 0 in %d intervals"):format(clipped), 1, true))
      else
        local _, m, lo, hi = row:match("^(%S+) (%S+) (%S+) (%S+)")
        H.assert_close(tonumber(m), mean, 1e-8, "mean")
        H.assert_close(tonumber(hi), mean + std, 1e-8, "mean + std")
        H.assert_close(tonumber(lo), math.max(0, mean - std), 1e-8, "mean - std, clipped at 0")
        assert.is_nil(gp8:find("set logscale y", 1, true))
      end
      -- the other protocols' share: what ICMP, TCP and UDP leave of 100 %
      local t6, i6, tc6, u6, o6 = line:match("^(%S+) (%S+) (%S+) (%S+) (%S+)")
      assert.is_truthy(t6)
      H.assert_close(tonumber(o6), 100 - tonumber(i6) - tonumber(tc6) - tonumber(u6), 1e-6, "other %")
      -- port shares: count / packets of the interval; offsets per overlay
      local packets = r:column("packets")
      local want = {}
      for i, port, count in r:ports("tcp_dst") do want[i .. ":" .. port] = count / packets[i] end
      local n = 0
      for l in io.lines(bars_file(work, 13, "tcp_dst")) do
        local x, x2, x4, port, share = l:match("^(%S+) (%S+) (%S+) (%S+) (%S+)")
        x = tonumber(x)
        H.assert_close(tonumber(x2), x + 0.15, 1e-9, "pair offset")
        H.assert_close(tonumber(x4), x - 0.1, 1e-9, "four-series offset")
        H.assert_close(tonumber(share), want[x .. ":" .. port], 1e-5, "share")
        n = n + 1
      end
      assert.is_true(n > 0)
    end)

    it_gp("leaves out bars below 0.2 % of the figure's highest one and says what share of the packets they carry",
      function()
      local packets = r:column("packets")
      -- figure 16 shows two series: one cut-off for both, from the higher of their highest bars
      local max = 0
      for _, series in ipairs({ "tcp_src", "tcp_dst" }) do
        for i, _, count in r:ports(series) do max = math.max(max, count / packets[i]) end
      end
      local total, kept, all_packets, kept_packets = 0, 0, 0, 0
      for _, series in ipairs({ "tcp_src", "tcp_dst" }) do
        local lines = 0
        for i, _, count in r:ports(series) do
          total, all_packets = total + 1, all_packets + count
          if count / packets[i] >= 0.002 * max then
            kept, kept_packets, lines = kept + 1, kept_packets + count, lines + 1
          end
        end
        assert.are.equal(lines, count_lines(bars_file(work, 16, series)), series)
      end
      assert.is_true(kept < total)
      local gp = H.read_file(work .. "/fig_16.gp")
      local dropped = tostring(total - kept):reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^,", "")
      local share = (("%.3f"):format(100 * (all_packets - kept_packets) / all_packets):gsub("0+$", ""):gsub("%.$", ""))
      assert.is_truthy(gp:find("not drawn: " .. dropped, 1, true), dropped)
      assert.is_truthy(gp:find("carrying " .. share .. " % of the packets", 1, true), share)
      assert.are.equal(all_packets - kept_packets, info.dropped[16].packets)
    end)

    it_gp("writes a page with the summary and every figure", function()
      local html = H.read_file(out .. "/small.html")
      assert.matches("<!DOCTYPE html>", html)
      assert.is_truthy(html:find(tostring(r.packets), 1, true))
      for n = 1, figures.count do
        assert.is_truthy(html:find(('src="small_%d.png"'):format(n), 1, true), "figure " .. n)
        assert.is_truthy(html:find(figures.get(n).title:gsub("&", "&amp;"), 1, true), "title " .. n)
      end
    end)
  end)

  it_gp("draws SVG", function()
    local out = dir .. "/svg"
    local files, failures = plot.draw(r, { dir = out, stem = "s", format = "svg", width = 800, height = 450,
                                           figures = { 1, 8, 16 }, quiet = true })
    assert.are.same({}, failures)
    assert.are.same({ out .. "/s_1.svg", out .. "/s_8.svg", out .. "/s_16.svg", out .. "/s.html" }, files)
    for i = 1, 3 do
      local svg = H.read_file(files[i])
      assert.is_truthy(svg:find("<svg", 1, true))
      assert.is_truthy(svg:find('width="800"', 1, true))
      assert.is_truthy(svg:find('height="450"', 1, true))
    end
  end)

  it_gp("limits the drawing to max_intervals and scales with dpi", function()
    local work = dir .. "/work-limit"
    local _, failures = plot.draw(r, { dir = dir .. "/limit", figures = { 2, 13 }, max_intervals = 3, dpi = 200,
                                       workdir = work, quiet = true, log_ports = true, dynamic_alpha = true,
                                       port_view = "bars" })
    assert.are.same({}, failures)
    local gp2 = H.read_file(work .. "/fig_2.gp")
    assert.is_truthy(gp2:find("(interval: 3)", 1, true))
    assert.is_truthy(gp2:find("font 'Sans,24' linewidth 2", 1, true))
    assert.are.equal(3, count_lines(work .. "/fig_2.dat"))
    local gp13 = H.read_file(work .. "/fig_13.gp")
    assert.is_truthy(gp13:find("set logscale y", 1, true))
    -- ports shifted by one for the log axis, at most interval 3, alpha varying with the bar
    local colours = {}
    for l in io.lines(bars_file(work, 13, "tcp_dst")) do
      local i, port, colour = l:match("^(%d+) %S+ %S+ (%d+) %S+ (%d+)$")
      assert.is_true(tonumber(i) <= 3)
      assert.is_true(tonumber(port) >= 1)
      colours[colour] = true
    end
    assert.is_true(next(colours, next(colours)) ~= nil, "dynamic alpha gives more than one colour")
  end)

  it_gp("draws heatmaps of log-binned ports", function()
    local files, failures = plot.draw(r, { dir = dir .. "/hm", stem = "h", figures = { 14, 18 }, heatmap = true,
                                           quiet = true })
    assert.are.same({}, failures)
    assert.are.same({ dir .. "/hm/h_14.png", dir .. "/hm/h_14_heatmap.png", dir .. "/hm/h_18.png",
                      dir .. "/hm/h.html" }, files)
    assert.is_truthy(png_size(files[2]))
  end)

  it_gp("draws from a dump exactly what it draws from the capture", function()
    local dump = dir .. "/small.tpd"
    assert(r:dump(dump))
    local loaded = assert(tpp.load(dump))
    local wa, wb = dir .. "/work-a", dir .. "/work-b"
    local fa = plot.draw(r, { dir = dir .. "/a", stem = "x", figures = { 3, 8, 18 }, workdir = wa, quiet = true })
    local fb, failures = plot.draw(loaded, { dir = dir .. "/b", stem = "x", figures = { 3, 8, 18 }, workdir = wb,
                                             quiet = true })
    assert.are.same({}, failures)
    assert.are.equal(#fa, #fb)
    local names = list_dir(wa)
    assert.are.same(names, list_dir(wb))
    for _, name in ipairs(names) do
      local a = H.read_file(wa .. "/" .. name):gsub("[^\n]*set output[^\n]*", "")
      local b = H.read_file(wb .. "/" .. name):gsub("[^\n]*set output[^\n]*", "")
      assert.are.equal(a, b, name)
    end
  end)

  describe("with nothing to show", function()
    it_gp("draws a figure of an empty series (no UDP) and says so", function()
      local path = dir .. "/tcp-only.pcap"
      local packets = {}
      for k = 0, 299 do
        packets[#packets + 1] = { ts_ns = H.T0 + k * H.NS // 10,
                                  data = H.eth4_tcp("10.0.0." .. (k % 7 + 1), "10.1.0.1", 40000 + k % 13, 443,
                                                    k % 50 == 0 and H.SYN or H.ACK) }
      end
      H.write_capture(path, "ethernet", packets)
      local tr = assert(tpp.parse(path, { delta_t = 5 }))
      local work = dir .. "/work-tcp"
      local files, failures = plot.draw(tr, { dir = dir .. "/tcp", figures = { 6, 9, 14, 15, 17, 18 },
                                              workdir = work, quiet = true, heatmap = true })
      assert.are.same({}, failures)
      assert.are.equal(6 + 2 + 1, #files)
      assert.is_truthy(H.read_file(work .. "/fig_14.gp"):find("no UDP source ports", 1, true))
      assert.is_truthy(H.read_file(work .. "/fig_17.gp"):find("no UDP source or UDP destination ports", 1, true))
      assert.are.equal(0, count_lines(bars_file(work, 14, "udp_src")))
    end)

    it_gp("draws NaN values as gaps and counts them in the figure", function()
      -- evenly spaced packets: inter-arrival times without spread, so skew and kurtosis are undefined (NaN)
      local path = dir .. "/even.pcap"
      local packets = {}
      for k = 0, 29 do
        packets[#packets + 1] = { ts_ns = H.T0 + k * H.NS, data = H.eth4_udp("10.0.0.1", "10.0.0.2", 53, 53) }
      end
      H.write_capture(path, "ethernet", packets)
      local er = assert(tpp.parse(path, { delta_t = 10 }))
      local skew = er:column("iat_skew")
      assert.is_true(skew[2] ~= skew[2], "the fixture should give NaN skew")
      local work = dir .. "/work-even"
      local files, failures = plot.draw(er, { dir = dir .. "/even", workdir = work, quiet = true })
      assert.are.same({}, failures)
      assert.are.equal(23, #files)
      local nan = 0
      for l in io.lines(work .. "/fig_9.dat") do
        local v = l:match("^%S+ (%S+)$")
        assert.is_truthy(v == "NaN" or tonumber(v), l)
        if v == "NaN" then nan = nan + 1 end
      end
      assert.is_true(nan > 0)
      local gp = H.read_file(work .. "/fig_9.gp")
      assert.is_truthy(gp:find(("%d undefined value"):format(nan), 1, true))
    end)

    it_gp("draws every figure of a result without intervals", function()
      local path = dir .. "/empty.pcap"
      H.write_capture(path, "ethernet", {})
      local er = assert(tpp.parse(path))
      assert.are.equal(0, #er)
      local files, failures = plot.draw(er, { dir = dir .. "/empty", quiet = true })
      assert.are.same({}, failures)
      assert.are.equal(23, #files)
    end)
  end)

  describe("when gnuplot fails", function()
    it_gp("reports each figure with gnuplot's message and leaves no partial file", function()
      -- gnuplot runs a batch script that loads the figures' scripts in turn: this one fails on the first it loads
      local fake = script(dir, "bad-gnuplot", [[
fig=$(sed -n "s/^load '\(.*\)'$/\1/p" "$2" | head -n 1)
out=$(sed -n "s/^set output '\(.*\)'$/\1/p" "$3/$fig")
cd "$3" && echo "half a picture" > "$out" || exit 9
echo "\"$fig\" line 7: something is wrong" >&2
exit 1
]])
      local out = dir .. "/fail"
      local files, failures = plot.draw(r, { dir = out, stem = "f", figures = { 1, 12 }, gnuplot = fake,
                                             quiet = true, jobs = 1 })
      assert.are.equal(2, #failures)
      table.sort(failures, function(a, b) return a.figure < b.figure end)
      assert.are.equal(1, failures[1].figure)
      assert.are.equal(12, failures[2].figure)
      for _, f in ipairs(failures) do
        assert.matches("exit status 1", f.reason)
        assert.matches('"fig_' .. f.figure .. '%.gp" line 7: something is wrong', f.reason)
      end
      assert.are.same({ out .. "/f.html" }, files)
      assert.are.same({ "f.html" }, list_dir(out))
      assert.matches("Not drawn: gnuplot failed", H.read_file(out .. "/f.html"))
    end)

    it_gp("keeps the good figures when one fails, drawing the rest of its batch in a new gnuplot", function()
      local count = dir .. "/half-runs"
      local fake = script(dir, "half-gnuplot", ([[
echo run >> '%s'
for f in "$3"/fig_*.gp; do grep -q "Distinct" "$f" && sed -i '1i no_such_command_here' "$f"; done
exec gnuplot "$@"
]]):format(count))
      local files, failures = plot.draw(r, { dir = dir .. "/half", stem = "h", figures = { 1, 2, 3 },
                                             gnuplot = fake, quiet = true, jobs = 1 })
      assert.are.equal(1, #failures)
      assert.are.equal(2, failures[1].figure)
      assert.matches('exit status 1.*"fig_2%.gp" line 1', failures[1].reason)
      assert.are.same({ dir .. "/half/h_1.png", dir .. "/half/h_3.png", dir .. "/half/h.html" }, files)
      assert.are.equal(2, count_lines(count))   -- the batch, then the rest of it after figure 2
    end)

    it_gp("draws a batch of figures in one gnuplot process per job", function()
      local count = dir .. "/batch-runs"
      local fake = script(dir, "counting-gnuplot", ("echo run >> '%s'\nexec gnuplot \"$@\"\n"):format(count))
      local files, failures = plot.draw(r, { dir = dir .. "/batch", stem = "b", figures = { 1, 2, 3, 4, 5, 6, 7 },
                                             gnuplot = fake, quiet = true, jobs = 2 })
      assert.are.same({}, failures)
      assert.are.equal(8, #files)
      assert.are.equal(2, count_lines(count))
    end)

    it("removes its temporary work directory when the drawing is interrupted", function()
      local slow = script(dir, "slow-gnuplot", [[
out=$(sed -n "s/^set output '\(.*\)'$/\1/p" "$2")
cd "$3" && echo "half a picture" > "$out"
sleep 1
]])
      local tmp = dir .. "/interrupt-tmp"
      assert(lfs.mkdir(tmp))
      local code = ("local plot = require 'tpp.plot' local r = assert(require 'tpp'.parse(%q)) "
        .. "plot.draw(r, { dir = %q, figures = { 1 }, gnuplot = %q, quiet = true })")
        :format(capture, dir .. "/interrupted", slow)
      local q = H.shell_quote
      -- SIGINT to tpp alone: the fake gnuplot runs on, and the interrupt is raised when the draw resumes
      local _, err, status = H.sh(("{ TMPDIR=%s %s -e %s & pid=$!; sleep 0.5; kill -INT $pid; wait $pid; }")
        :format(q(tmp), q(H.tpp_binary()), q(code)))
      assert.are.equal(130, status)
      assert.are.equal("tpp: interrupted\n", err)
      assert.are.same({}, list_dir(tmp))
      assert.are.same({}, list_dir(dir .. "/interrupted")) -- nor a half-written figure
    end)

    it("reports a gnuplot that exits 1 silently", function()
      local _, failures = plot.draw(r, { dir = dir .. "/false", figures = { 4 }, gnuplot = "false", quiet = true })
      assert.are.equal(1, #failures)
      assert.are.equal(4, failures[1].figure)
      assert.matches("exit status 1", failures[1].reason)
    end)

    it("says which package to install when gnuplot is missing, and still writes the page", function()
      local out = dir .. "/missing"
      local files, failures = plot.draw(r, { dir = out, stem = "m", gnuplot = dir .. "/no/such/gnuplot",
                                             quiet = true })
      assert.are.equal(1, #failures)        -- one failure for the drawing, not one per figure
      assert.are.equal("missing gnuplot", failures[1].kind)
      assert.are.equal("gnuplot not found: install the Debian package gnuplot-nox", failures[1].reason)
      assert.are.same({ 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22 },
                      failures[1].figures)
      assert.are.same({ out .. "/m.html" }, files)
    end)
  end)

  describe("misuse", function()
    it("raises for a wrong option", function()
      assert.has_error(function() plot.draw(r, { figure = { 1 } }) end, 'tpp.plot: unknown option "figure"')
      assert.has_error(function() plot.draw(r, { figures = { 23 } }) end,
        "tpp.plot: no figure 23 (figures are numbered 1 to 22)")
      assert.has_error(function() plot.draw(r, { format = "jpg" }) end)
      assert.has_error(function() plot.draw(r, { width = -5 }) end)
      assert.has_error(function() plot.draw(r, { stem = "a/b" }) end)
      assert.has_error(function() plot.draw({}, {}) end)
    end)
  end)
end)

describe("scripts/plot.lua", function()
  local dir, capture, dump
  local tpp_bin = H.tpp_binary()

  local function run(args)
    local err = os.tmpname()
    local out, ok = H.run(H.shell_quote(tpp_bin) .. " scripts/plot.lua " .. args .. " 2>" .. H.shell_quote(err))
    local stderr = H.read_file(err)
    os.remove(err)
    return ok, stderr, out
  end

  setup(function()
    dir = H.tmpdir()
    capture = dir .. "/cli.pcap"
    synth.generate(capture, { packets = 5000, duration = 30 })
    dump = dir .. "/mem_dump/cli-dump.tpd"
    lfs.mkdir(dir .. "/mem_dump")
    assert(assert(tpp.parse(capture, { delta_t = 5 })):dump(dump))
  end)

  teardown(function()
    if dir then H.rmtree(dir) end
  end)

  it_gp("draws from a capture and from a dump", function()
    local out = dir .. "/out"
    local ok, stderr = run(("-q -o %s -f 1,12,18 -t 5 %s %s"):format(H.shell_quote(out), H.shell_quote(capture),
      H.shell_quote(dump)))
    assert.is_true(ok, stderr)
    assert.are.equal("", stderr)
    for _, stem in ipairs({ "cli", "cli-dump" }) do
      for _, n in ipairs({ 1, 12, 18 }) do assert.is_true(exists(("%s/%s_%d.png"):format(out, stem, n))) end
      assert.is_true(exists(("%s/%s.html"):format(out, stem)))
      assert.is_false(exists(("%s/%s_2.png"):format(out, stem)))
    end
  end)

  it_gp("finds dumps in a directory and draws SVG", function()
    local out = dir .. "/out-svg"
    local ok, stderr = run(("-o %s -f 4 --format svg %s"):format(H.shell_quote(out), H.shell_quote(dir .. "/mem_dump")))
    assert.is_true(ok, stderr)
    assert.is_true(exists(out .. "/cli-dump_4.svg"))
    assert.matches("1 figure file", stderr)
  end)

  it("exits 1 and names the figure when gnuplot fails", function()
    local ok, stderr = run(("-q -o %s -f 5 --gnuplot false %s"):format(H.shell_quote(dir .. "/out-f"),
      H.shell_quote(dump)))
    assert.is_falsy(ok)
    assert.matches("figure 5: gnuplot failed %(exit status 1%)", stderr)
  end)

  it("rejects a wrong figure list", function()
    local ok, stderr = run("-f 1,30 " .. H.shell_quote(dump))
    assert.is_falsy(ok)
    assert.matches("figure list", stderr)
  end)

  it("exits 1 for an input that is neither a capture nor a dump", function()
    local junk = H.write_file(dir .. "/junk.tpd", "not a dump at all")
    local ok, stderr = run(("-q -o %s %s"):format(H.shell_quote(dir .. "/out-j"), H.shell_quote(junk)))
    assert.is_falsy(ok)
    assert.matches("junk.tpd", stderr)
  end)
end)
