-- Series from the command line (issue 14): `tpp scripts/exec.lua --series NAME` over the pieces of a trace,
-- `tpp scripts/merge.lua` over their dumps, the options --max-gap and --keep-tables, the figures' breaks between
-- segments, and the REPL's offer of tpp.merge.  Pieces are cut from real captures at random packets (records
-- copied as they are), so that "the series of the pieces" can be checked against "the whole trace at once".
local H = require "tests.helper"
local lfs = require "lfs"
local tpp = require "tpp"
local synth = require "tpp.synth"
local cli = require "tpp.cli"

local q = H.shell_quote
local exec = H.exec_in

-- Run `tpp scripts/merge.lua ARGS` in dir: stdout, stderr, exit status.
local function merge(dir, args)
  return H.sh(("cd %s && %s %s %s"):format(q(dir), q(H.tpp_absolute()), q(H.ROOT .. "/scripts/merge.lua"), args))
end

local function exists(path) return lfs.attributes(path, "mode") ~= nil end

-- The records of a pcap file (either byte order, µs or ns magic) as { ts_ns, data, wirelen } and its link type.
local function records(path)
  local bytes = H.read_file(path)
  local magic = string.unpack("<I4", bytes)
  local e = (magic == 0xa1b2c3d4 or magic == 0xa1b23c4d) and "<" or ">"
  magic = string.unpack(e .. "I4", bytes)
  local scale = magic == 0xa1b23c4d and 1 or 1000
  local linktype = string.unpack(e .. "I4", bytes, 21)
  local out, pos = {}, 25
  while pos <= #bytes do
    local sec, frac, caplen, wirelen = string.unpack(e .. "I4I4I4I4", bytes, pos)
    out[#out + 1] = { ts_ns = sec * 1000000000 + frac * scale, data = bytes:sub(pos + 16, pos + 15 + caplen),
                      wirelen = wirelen }
    pos = pos + 16 + caplen
  end
  return out, linktype
end

-- Write records[first..last] with tpp.pcap_writer (gzip when the name ends in .gz).
local function write_piece(path, linktype, recs, first, last)
  local w = assert(tpp.pcap_writer(path, linktype))
  for i = first, last do w:write_ns(recs[i].ts_ns, recs[i].data, recs[i].wirelen) end
  assert(w:close())
  return path
end

-- Cut the capture at `path` into `k` consecutive pieces at random packets (`seed`), written into `dir` under
-- names whose order is NOT their time order (the last piece sorts first), one of them gzip-compressed.
-- Returns the paths in time order.
local function cut(path, dir, k, seed)
  local recs, linktype = records(path)
  math.randomseed(seed)
  local cuts, seen = {}, {}
  while #cuts < k - 1 do
    local c = math.random(2, #recs)      -- piece j+1 starts at record c
    if not seen[c] then seen[c] = true; cuts[#cuts + 1] = c end
  end
  table.sort(cuts)
  lfs.mkdir(dir)
  local paths, first = {}, 1
  for j = 1, k do
    local last = j < k and cuts[j] - 1 or #recs
    local name = ("%s/%c-piece%s"):format(dir, string.byte("z") - j, j == 2 and ".pcap.gz" or ".pcap")
    paths[j] = write_piece(name, linktype, recs, first, last)
    first = last + 1
  end
  return paths
end

-- The critical TSVs `a` and `b` (paths) hold the same table: every column byte for byte, except iat_std,
-- iat_skew and iat_kurt, equal within relative 1e-12 (the issue's criterion for a merge).
local LAST_BITS = { iat_std = true, iat_skew = true, iat_kurt = true }
local function assert_same_table(a, b)
  local ha, ra = H.read_tsv(a)
  local hb, rb = H.read_tsv(b)
  assert.are.same(ha, hb)
  assert.are.equal(#ra, #rb, "rows")
  for i = 1, #ra do
    for c, name in ipairs(ha) do
      local x, y = ra[i][c], rb[i][c]
      if LAST_BITS[name] and x ~= y then
        local u, v = tonumber(x), tonumber(y)
        assert(u and v and math.abs(u - v) <= 1e-12 * math.max(math.abs(u), math.abs(v)),
          ("row %d, %s: %s vs %s"):format(i, name, x, y))
      else
        assert(x == y, ("row %d, %s: %s vs %s"):format(i, name, x, y))
      end
    end
  end
  return #ra
end

-- One column of a critical TSV as a list of strings.
local function column(path, name)
  local header, rows = H.read_tsv(path)
  local c
  for k, n in ipairs(header) do if n == name then c = k end end
  assert(c, "no column " .. name)
  local out = {}
  for i, row in ipairs(rows) do out[i] = row[c] end
  return out
end

local function distinct(list)
  local seen, out = {}, {}
  for _, v in ipairs(list) do if not seen[v] then seen[v] = true; out[#out + 1] = v end end
  return out
end

-- A UDP packet at `ts_ns`.
local function udp(ts_ns, sport)
  return { ts_ns = ts_ns, data = H.eth4_udp("10.0.0.1", "10.0.0.2", sport or 1000, 53, "q") }
end

-- Two bursts of 10 s (a packet every 0.5 s), 200 s apart, each in a capture of its own, and both in one.
local function two_bursts(dir)
  local first, second, both = {}, {}, {}
  for k = 0, 19 do
    first[#first + 1] = udp(H.T0 + k * H.NS // 2, 1000 + k)
    second[#second + 1] = udp(H.T0 + 200 * H.NS + k * H.NS // 2, 2000 + k)
  end
  for _, p in ipairs(first) do both[#both + 1] = p end
  for _, p in ipairs(second) do both[#both + 1] = p end
  lfs.mkdir(dir .. "/bursts")
  H.write_capture(dir .. "/bursts/b-second.pcap", "ethernet", second)   -- sorts before the first in name order
  H.write_capture(dir .. "/bursts/c-first.pcap", "ethernet", first)
  H.write_capture(dir .. "/both.pcap", "ethernet", both)
end

describe("tpp.stitch", function()
  local stitch = require "tpp.stitch"

  it("orders pieces by their first packet, ties as they came, pieces without one last", function()
    local pieces = stitch.order { { id = 1, first_ns = 30 }, { id = 2 }, { id = 3, first_ns = 10 },
                                  { id = 4, first_ns = 30 }, { id = 5, first_ns = -5 } }
    local ids = {}
    for i, p in ipairs(pieces) do ids[i] = p.id end
    assert.are.same({ 5, 3, 1, 4, 2 }, ids)
  end)

  it("reads a capture's first packet: its time, false when it has none, nil and why when it cannot", function()
    local dir = H.tmpdir()
    local path = H.write_capture(dir .. "/a.pcap", "ethernet", { udp(H.T0 + 7000, 1000), udp(H.T0 + 3000, 1001) })
    assert.are.equal(H.T0 + 7000, stitch.first_packet(path))   -- the first in the file, not the earliest
    assert.are.equal(H.T0 + 3000, stitch.first_packet(path, "udp and src port 1001"))
    assert.is_false(stitch.first_packet(H.write_capture(dir .. "/empty.pcap", "ethernet", {})))
    local none, err = stitch.first_packet(H.write_file(dir .. "/text.pcap", "not a capture"))
    assert.is_nil(none)
    assert.is_truthy(err:find("text.pcap", 1, true), err)
    H.rmtree(dir)
  end)

  it("spends a series' packets piece by piece", function()
    local b = stitch.budget { delta_t = 1, max_packets = 100 }
    assert.is_true(b.limited)
    assert.are.equal(100, b:opts().max_packets)
    assert.are.equal(1, b:opts().delta_t)
    b:add { packets = 60 }
    assert.are.equal(40, b:opts().max_packets)
    assert.is_false(b:spent())
    b:add { packets = 40 }
    assert.is_true(b:spent())
    assert.is_false(stitch.budget({ delta_t = 1 }).limited)
  end)

  it("counts a series' intervals as tpp.merge joins segments: across gaps up to max_gap, not beyond", function()
    local s = H.NS
    local function count(max_gap, pieces)
      local b = stitch.budget { delta_t = 1, max_gap = max_gap, max_intervals = 1000 }
      for _, segments in ipairs(pieces) do b:add { packets = 1, segments = segments } end
      return b.count, b
    end
    local first, second = { { H.T0, H.T0 + 9 * s + s // 2 } }, { { H.T0 + 200 * s, H.T0 + 209 * s + s // 2 } }
    assert.are.equal(20, count(50, { first, second }))      -- 190 empty seconds > 50: two segments of 10
    assert.are.equal(210, count(3600, { first, second }))   -- the gap's empty intervals belong to the series
    assert.are.equal(190, count(190, { first, second }) - 20)
    -- more than 100,000 empty intervals end a segment whatever max_gap says (as in C)
    local fine = stitch.budget { delta_t = 0.001, max_gap = 3600, max_intervals = 10 ^ 9 }
    fine:add { packets = 2, segments = { { H.T0, H.T0 } } }
    fine:add { packets = 2, segments = { { H.T0 + 101 * s, H.T0 + 101 * s } } }
    assert.are.equal(2, fine.count)
    fine:add { packets = 2, segments = { { H.T0 + 151 * s, H.T0 + 151 * s } } }
    assert.are.equal(2 + 49999 + 1, fine.count)
    -- a piece inside intervals already counted adds none; one that shares its first interval adds the rest
    assert.are.equal(10, count(50, { first, { { H.T0 + 2 * s, H.T0 + 5 * s } } }))
    assert.are.equal(15, count(50, { first, { { H.T0 + 9 * s + s * 3 // 4, H.T0 + 14 * s } } }))
    local _, b = count(50, { first })
    assert.is_false(b:spent())
    -- ten intervals reached: the next piece may still add to the tenth; one packet past it, the series is full
    local full = stitch.budget { delta_t = 1, max_intervals = 10 }
    full:add { packets = 20, segments = first }
    assert.is_false(full:spent())
    full:add { packets = 1, segments = { { H.T0 + 10 * s, H.T0 + 10 * s } } }
    assert.is_true(full:spent())
  end)
end)

describe("series from the command line", function()
  local dir, whole

  lazy_setup(function()
    dir = H.tmpdir()
    whole = dir .. "/whole.pcap"
    assert(synth.generate(whole, { packets = 4000, duration = 60, seed = 7, scans = 1 }))
    cut(whole, dir .. "/pieces", 4, 14)
    -- the whole trace, parsed at once, as the reference
    local _, err, status = exec(dir, "-q -t 1 -f none -o ref whole.pcap")
    assert.are.equal(0, status, err)
  end)
  lazy_teardown(function() H.rmtree(dir) end)

  describe("exec.lua --series NAME", function()
    it("gives the whole trace's critical table and port counts from a directory of its pieces", function()
      local _, err, status = exec(dir, "-t 1 -f none -o out --series all pieces")
      assert.are.equal(0, status, err)
      local rows = assert_same_table(dir .. "/ref/critical/whole_critical.tsv", dir .. "/out/critical/all_critical.tsv")
      assert.is_true(rows > 50)
      assert.are.equal(H.read_file(dir .. "/ref/port_count/whole_port_count.tsv"),
                       H.read_file(dir .. "/out/port_count/all_port_count.tsv"))
      -- outputs once, for the series; each capture dumped (for reuse and merge.lua), the series too
      assert.are.same({ "all_critical.tsv" }, H.list_dir(dir .. "/out/critical"))
      assert.are.same({ "all_port_count.tsv" }, H.list_dir(dir .. "/out/port_count"))
      assert.are.same({ "all.tpd", "v-piece.tpd", "w-piece.tpd", "x-piece.tpd", "y-piece.tpd" },
                      H.list_dir(dir .. "/out/mem_dump"))
      local r = assert(tpp.load(dir .. "/out/mem_dump/all.tpd"))
      assert.are.equal(4, r.pieces)
      assert.are.equal(4000, r.packets)
      assert.is_truthy(err:find("series all -> all: 1 segment of 4 captures", 1, true), err)
    end)

    it("parses each capture once: a second run reuses their dumps and writes the same table", function()
      local _, err, status = exec(dir, "-t 1 -f none -o again -j 2 --series all pieces")
      assert.are.equal(0, status, err)
      local first = H.read_file(dir .. "/again/critical/all_critical.tsv")
      _, err, status = exec(dir, "-t 1 -f none -o again -j 1 --series all pieces")
      assert.are.equal(0, status, err)
      local _, reused = err:gsub("%(from its dump%)", "")
      assert.are.equal(4, reused, err)
      assert.are.equal(first, H.read_file(dir .. "/again/critical/all_critical.tsv"))
      assert_same_table(dir .. "/ref/critical/whole_critical.tsv", dir .. "/again/critical/all_critical.tsv")
    end)

    it("prints the series' rows under its name with --print-critical", function()
      local out, err, status = exec(dir, "-q -t 1 -f none -o printed --print-critical --series all pieces")
      assert.are.equal(0, status, err)
      local lines = {}
      for line in out:gmatch("[^\n]+") do lines[#lines + 1] = line end
      assert.are.equal("capture\t" .. table.concat(tpp.column_names(), "\t"), lines[1])
      local _, rows = H.read_tsv(dir .. "/ref/critical/whole_critical.tsv")
      assert.are.equal(#rows + 1, #lines)
      for i = 2, #lines do assert.are.equal("all\t", lines[i]:sub(1, 4)) end
    end)

    it("applies --max-packets and --max-intervals to the series as a whole", function()
      -- limits that end inside the second piece (in time order), and one inside the first
      local first = assert(tpp.parse(dir .. "/pieces/y-piece.pcap", { delta_t = 1 }))
      local second = assert(tpp.parse(dir .. "/pieces/x-piece.pcap.gz", { delta_t = 1 }))
      local function check(option, n, name)
        local _, err, status = exec(dir, ("-q -t 1 -f none -o ref%s %s %d whole.pcap"):format(name, option, n))
        assert.are.equal(0, status, err)
        _, err, status = exec(dir, ("-t 1 -f none -o %s %s %d --series all pieces"):format(name, option, n))
        assert.are.equal(0, status, err)
        local rows = assert_same_table(("%s/ref%s/critical/whole_critical.tsv"):format(dir, name),
                                       ("%s/%s/critical/all_critical.tsv"):format(dir, name))
        -- the pieces after the limit are not read at all
        assert.is_truthy(err:find("pieces/v-piece.pcap: not read: the limit of series all was reached", 1, true), err)
        return rows, assert(tpp.load(("%s/%s/mem_dump/all.tpd"):format(dir, name)))
      end
      local _, r = check("--max-packets", first.packets + second.packets // 2, "p2")
      assert.are.equal(first.packets + second.packets // 2, r.packets)
      assert.are.equal(2, r.pieces)
      local rows
      rows, r = check("--max-intervals", #first + 3, "i2")
      assert.are.equal(#first + 3, rows)
      assert.are.equal(2, r.pieces)
      rows, r = check("--max-intervals", #first - 3, "i1")
      assert.are.equal(#first - 3, rows)
      assert.are.equal(1, r.pieces)
      _, r = check("--max-packets", first.packets // 2, "p1")
      assert.are.equal(first.packets // 2, r.packets)
    end)

    it("refuses overlapping captures without address tables, naming them and the option, and keeps their dumps",
      function()
        lfs.mkdir(dir .. "/overlap")
        H.write_file(dir .. "/overlap/a-whole.pcap", H.read_file(whole))
        H.write_file(dir .. "/overlap/b-piece.pcap", H.read_file(dir .. "/pieces/w-piece.pcap"))
        local _, err, status = exec(dir, "-t 1 -f none -o ov --series both overlap")
        assert.are.equal(1, status, err)
        assert.is_truthy(err:find("series both: not written: cannot merge overlap/", 1, true), err)
        assert.is_truthy(err:find("--keep-tables all", 1, true), err)
        assert.is_false(exists(dir .. "/ov/critical/both_critical.tsv"))
        assert.is_false(exists(dir .. "/ov/mem_dump/both.tpd"))
        assert.are.same({ "a-whole.tpd", "b-piece.tpd" }, H.list_dir(dir .. "/ov/mem_dump"))

        -- with the tables, the overlap merges: counts add up
        _, err, status = exec(dir, "-t 1 -f none -o ov --keep-tables all --series both overlap")
        assert.are.equal(0, status, err)
        local r = assert(tpp.load(dir .. "/ov/mem_dump/both.tpd"))
        local piece = assert(tpp.parse(dir .. "/overlap/b-piece.pcap"))
        assert.are.equal(4000 + piece.packets, r.packets)
        assert.are.equal("all", r.keep_tables)
      end)

    it("writes what it has when a capture is cut short or unreadable, marks the series incomplete, exit 1",
      function()
        lfs.mkdir(dir .. "/faulty")
        local bytes = H.read_file(dir .. "/pieces/w-piece.pcap")
        H.write_file(dir .. "/faulty/a.pcap", H.read_file(dir .. "/pieces/y-piece.pcap"))
        H.write_file(dir .. "/faulty/b.pcap", bytes:sub(1, #bytes - 7))        -- its last record cut short
        H.write_file(dir .. "/faulty/c.pcap", bytes:sub(1, 10))                -- not even a file header
        local _, err, status = exec(dir, "-t 1 -f none -o faulty --series f faulty")
        assert.are.equal(1, status, err)
        local marker = H.read_file(dir .. "/faulty/critical/f_critical.tsv.incomplete")
        assert.is_truthy(marker:find("faulty/b.pcap: incomplete: truncated capture", 1, true), marker)
        assert.is_truthy(marker:find("faulty/c.pcap: ", 1, true), marker)
        assert.is_truthy(err:find("series f: incomplete: ", 1, true), err)
        local r = assert(tpp.load(dir .. "/faulty/mem_dump/f.tpd"))
        local a, b = assert(tpp.parse(dir .. "/faulty/a.pcap")), assert(tpp.parse(dir .. "/faulty/b.pcap"))
        assert.are.equal(a.packets + b.packets, r.packets)
        assert.are.equal(2, r.pieces)
        -- complete again: the marker goes
        os.remove(dir .. "/faulty/b.pcap")
        os.remove(dir .. "/faulty/c.pcap")
        _, err, status = exec(dir, "-t 1 -f none -o faulty --series f faulty")
        assert.are.equal(0, status, err)
        assert.is_false(exists(dir .. "/faulty/critical/f_critical.tsv.incomplete"))
      end)

    it("refuses a series name that is also a capture's (exit 1), packet mode and a bad name (usage errors)", function()
      local _, err, status = exec(dir, "-t 1 -f none -o clash --series y-piece pieces")
      assert.are.equal(1, status, err)
      assert.is_truthy(err:find("is also called y-piece", 1, true), err)
      assert.is_false(exists(dir .. "/clash/critical"))
      _, err, status = exec(dir, "-f none -o compat --compat --series all pieces")
      assert.are.equal(2, status, err)
      assert.is_truthy(err:find("packet mode", 1, true), err)
      _, err, status = exec(dir, "-f none --series a/b pieces")
      assert.are.equal(2, status, err)
    end)
  end)

  describe("--max-gap and segments", function()
    it("ends a segment at a longer gap, in a series as in one capture; a reused dump must have the same max_gap",
      function()
        two_bursts(dir)
        local _, err, status = exec(dir, "-t 1 -f none -o gap --max-gap 50 --series g bursts")
        assert.are.equal(0, status, err)
        local seg = column(dir .. "/gap/critical/g_critical.tsv", "segment")
        assert.are.equal(20, #seg)                       -- 10 intervals of each burst, none of the gap
        assert.are.same({ "0", "1" }, distinct(seg))
        assert.are.equal("1", seg[11])
        local r = assert(tpp.load(dir .. "/gap/mem_dump/g.tpd"))
        assert.are.equal(2, r.segments)
        assert.are.equal(50, r.max_gap)
        _, err, status = exec(dir, "-q -t 1 -f none -o gapref --max-gap 50 both.pcap")
        assert.are.equal(0, status, err)
        assert_same_table(dir .. "/gapref/critical/both_critical.tsv", dir .. "/gap/critical/g_critical.tsv")

        -- the default (an hour): one segment, the empty intervals of the gap written
        _, err, status = exec(dir, "-t 1 -f none -o gap --series g bursts")
        assert.are.equal(0, status, err)
        local _, reused = err:gsub("%(from its dump%)", "")
        assert.are.equal(0, reused, err)                  -- dumps of another max_gap are not reused
        seg = column(dir .. "/gap/critical/g_critical.tsv", "segment")
        assert.are.equal(210, #seg)
        assert.are.same({ "0" }, distinct(seg))
      end)

    it("takes max_gap, keep_tables and series from a config file too", function()
      local path = H.write_file(dir .. "/job.lua", 'return { max_gap = 50, keep_tables = "all", series = "g" }\n')
      local s = assert(cli.resolve { "--config", path })
      assert.are.equal(50, s.parse.max_gap)
      assert.are.equal("all", s.parse.keep_tables)
      assert.are.equal("g", s.series)
      H.write_file(path, 'return { keep_tables = "some" }\n')
      local none, err = cli.resolve { "--config", path }
      assert.is_nil(none)
      assert.is_truthy(err:find("keep_tables must be one of edges, all", 1, true), err)
    end)
  end)

  describe("figures of a series", function()
    it("break the lines between segments", function()
      two_bursts(dir)
      local _, err, status = exec(dir, "-t 1 -f 1 -o fig --max-gap 50 --series g bursts")
      assert.are.equal(0, status, err)
      assert.is_true(exists(dir .. "/fig/plot/g_1.png"))
      assert.are.same({ "g.html", "g_1.png", "index.html" }, H.list_dir(dir .. "/fig/plot"))   -- none per capture
      local plot = require "tpp.plot"
      local function data_lines(dump, workdir)
        local r = assert(tpp.load(dump))
        local _, failures = plot.draw(r, { dir = dir .. "/drawn", figures = { 1 }, workdir = workdir, quiet = true })
        assert.are.same({}, failures)
        local lines = {}
        for line in io.lines(workdir .. "/fig_1.dat") do lines[#lines + 1] = line end
        return lines
      end
      local lines = data_lines(dir .. "/fig/mem_dump/g.tpd", dir .. "/work2")
      assert.are.equal(21, #lines)                        -- 10 points, the break, 10 points
      assert.are.equal("", lines[11])
      for i, line in ipairs(lines) do if i ~= 11 then assert.are_not.equal("", line) end end
      -- one segment: no break
      _, err, status = exec(dir, "-q -t 1 -f none -o fig1 --series g bursts")
      assert.are.equal(0, status, err)
      lines = data_lines(dir .. "/fig1/mem_dump/g.tpd", dir .. "/work1")
      assert.are.equal(210, #lines)
      for _, line in ipairs(lines) do assert.are_not.equal("", line) end
    end)
  end)

  describe("scripts/merge.lua", function()
    local dumps

    lazy_setup(function()
      local _, err, status = exec(dir, "-q -t 1 -f none -o pd --series all pieces")
      assert.are.equal(0, status, err)
      dumps = {}
      for _, name in ipairs(H.list_dir(dir .. "/pd/mem_dump")) do
        if name ~= "all.tpd" then dumps[#dumps + 1] = q("pd/mem_dump/" .. name) end
      end
      assert.are.equal(4, #dumps)
    end)

    it("merges dumps given in any order into the main job's outputs, the same as the whole trace's", function()
      local reversed = {}
      for i = #dumps, 1, -1 do reversed[#reversed + 1] = dumps[i] end
      local _, err, status = merge(dir, "-o m1 --name day -f none " .. table.concat(reversed, " "))
      assert.are.equal(0, status, err)
      assert_same_table(dir .. "/ref/critical/whole_critical.tsv", dir .. "/m1/critical/day_critical.tsv")
      assert.are.equal(H.read_file(dir .. "/pd/critical/all_critical.tsv"), H.read_file(dir .. "/m1/critical/day_critical.tsv"))
      assert.are.equal(H.read_file(dir .. "/ref/port_count/whole_port_count.tsv"),
                       H.read_file(dir .. "/m1/port_count/day_port_count.tsv"))
      assert.are.equal(4, assert(tpp.load(dir .. "/m1/mem_dump/day.tpd")).pieces)
      assert.is_truthy(err:find("day: 4 dumps -> 1 segment", 1, true), err)
    end)

    it("walks a directory for dumps, passing over other files, and can merge a merge again", function()
      lfs.mkdir(dir .. "/dumps")
      lfs.mkdir(dir .. "/dumps/sub")
      for i, d in ipairs(dumps) do
        local from = d:sub(2, -2)
        H.write_file(dir .. "/dumps/" .. (i % 2 == 0 and "sub/" or "") .. from:match("[^/]+$"), H.read_file(dir .. "/" .. from))
      end
      H.write_file(dir .. "/dumps/notes.txt", "not a dump\n")
      H.write_file(dir .. "/dumps/whole.pcap", H.read_file(whole))
      local _, err, status = merge(dir, "-o m2 --name day -f none dumps")
      assert.are.equal(0, status, err)
      assert.is_truthy(err:find("skipping dumps/whole.pcap: a capture, not a dump", 1, true), err)
      assert_same_table(dir .. "/ref/critical/whole_critical.tsv", dir .. "/m2/critical/day_critical.tsv")
      -- the merged dump is a piece like any other; the output's own dump, inside a walked directory, is not
      _, err, status = merge(dir, "-o m2 --name day -f none m2/mem_dump")
      assert.are.equal(1, status, err)
      assert.is_truthy(err:find("it is this merge's own output", 1, true), err)
      assert.is_truthy(err:find("no dump in m2/mem_dump", 1, true), err)
      _, err, status = merge(dir, "-o m3 --name again -f none m2/mem_dump")
      assert.are.equal(0, status, err)
      assert.are.equal(H.read_file(dir .. "/m2/critical/day_critical.tsv"),
                       H.read_file(dir .. "/m3/critical/again_critical.tsv"))
    end)

    it("refuses a bad dump, naming it, and writes nothing", function()
      H.write_file(dir .. "/broken.tpd", "hello, not a dump at all\n")
      local _, err, status = merge(dir, "-o bad --name day -f none broken.tpd " .. table.concat(dumps, " "))
      assert.are.equal(1, status, err)
      assert.is_truthy(err:find("merge: broken.tpd: not a tpp dump", 1, true), err)
      assert.is_false(exists(dir .. "/bad"))
      -- a damaged dump: its signature is right, its bytes are not
      local bytes = H.read_file(dir .. "/" .. dumps[1]:sub(2, -2))
      H.write_file(dir .. "/cut.tpd", bytes:sub(1, #bytes // 2))
      _, err, status = merge(dir, "-o bad --name day -f none cut.tpd " .. dumps[2])
      assert.are.equal(1, status, err)
      assert.is_truthy(err:find("merge: cut.tpd: ", 1, true), err)
      assert.is_truthy(err:find("nothing written", 1, true), err)
      assert.is_false(exists(dir .. "/bad"))
    end)

    it("says why pieces cannot be merged (another delta_t), naming them, exit 1, nothing written", function()
      local _, err, status = exec(dir, "-q -t 5 -f none -o five pieces/y-piece.pcap")
      assert.are.equal(0, status, err)
      _, err, status = merge(dir, "-o bad --name day -f none five/mem_dump/y-piece.tpd " .. dumps[2])
      assert.are.equal(1, status, err)
      assert.is_truthy(err:find("nothing written: cannot merge ", 1, true), err)
      assert.is_truthy(err:find("delta_t", 1, true), err)
      assert.is_truthy(err:find("y-piece.tpd", 1, true), err)
      assert.is_false(exists(dir .. "/bad"))
    end)

    it("has a --help and usage errors (exit 2)", function()
      local out, _, status = merge(dir, "--help")
      assert.are.equal(0, status)
      assert.is_truthy(out:find("Usage: tpp scripts/merge.lua -o DIR --name NAME DUMP|DIR", 1, true), out)
      local _, err
      _, err, status = merge(dir, "-o x " .. dumps[1])
      assert.are.equal(2, status)
      assert.is_truthy(err:find("--name NAME is required", 1, true), err)
      _, _, status = merge(dir, "--name x")
      assert.are.equal(2, status)
      assert.is_false(exists(dir .. "/x"))
    end)
  end)

  describe("the REPL", function()
    it("offers tpp.merge when several results are loaded, and merges them", function()
      local _, err, status = exec(dir, "-q -t 1 -f none -o repl --series all pieces")
      assert.are.equal(0, status, err)
      local input = H.write_file(dir .. "/input.lua",
        's = tpp.merge{x_piece, y_piece, w_piece, v_piece}\nprint(s.pieces, s.packets)\nhelp("merge")\n'
        .. 'help(tpp.merger())\n')
      local out
      out, err, status = H.sh(("cd %s && HOME=%s %s -i repl/mem_dump/v-piece.tpd repl/mem_dump/w-piece.tpd "
        .. "repl/mem_dump/x-piece.tpd repl/mem_dump/y-piece.tpd < %s"):format(q(dir), q(dir), q(H.tpp_absolute()), q(input)))
      assert.are.equal(0, status, err)
      assert.is_truthy(out:find("tpp.merge{v_piece, w_piece, x_piece, y_piece} merges them", 1, true), out)
      assert.is_truthy(out:find("\n4\t4000\n", 1, true), out)
      assert.is_truthy(out:find("tpp.merge{r1, r2, ...} -> result | nil, msg", 1, true), out)
      assert.is_truthy(out:find("A merger (tpp.merger): ", 1, true), out)
      assert.is_truthy(out:find("m:add(r) -> true | nil, msg", 1, true), out)
    end)
  end)
end)
