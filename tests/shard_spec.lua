-- A run split into tasks (issue 15): `exec.lua --shard I/N` takes its share of the captures under the whole run's
-- names, `--finish` takes their dumps and writes what needs them all, `--list` shows the deal.  Shards and finish,
-- in any order or at the same time, must give exactly the files of one run on one machine.
local H = require "tests.helper"
local lfs = require "lfs"
local tpp = require "tpp"
local synth = require "tpp.synth"
local shard = require "tpp.shard"

local q = H.shell_quote
local exec = H.exec_in

-- Every file under `dir` as "relative/path" -> its bytes.
local function files_of(dir)
  local out = {}
  local function walk(d, prefix)
    for name in lfs.dir(d) do
      if name ~= "." and name ~= ".." then
        local full = d .. "/" .. name
        if lfs.attributes(full, "mode") == "directory" then walk(full, prefix .. name .. "/")
        else out[prefix .. name] = H.read_file(full) end
      end
    end
  end
  walk(dir, "")
  return out
end

local function names_of(files)
  local list = {}
  for name in pairs(files) do list[#list + 1] = name end
  table.sort(list)
  return list
end

-- The output trees `a` and `b` hold the same files with the same bytes.
local function assert_same_tree(a, b)
  local fa, fb = files_of(a), files_of(b)
  assert.are.same(names_of(fa), names_of(fb))
  for name, bytes in pairs(fa) do assert(bytes == fb[name], name .. " differs between " .. a .. " and " .. b) end
  return names_of(fa)
end

-- The list of `exec.lua --list ARGS` in dir: rows { capture, name, size, shard } (a header first).
local function list(dir, args)
  local out, err, status = exec(dir, "--list " .. args)
  assert.are.equal(0, status, err)
  local lines = {}
  for line in out:gmatch("[^\n]+") do lines[#lines + 1] = line end
  assert.are.equal("capture\tname\tsize\tshard", lines[1])
  local rows = {}
  for k = 2, #lines do
    local capture, name, size, n = lines[k]:match("^([^\t]*)\t([^\t]*)\t(%d+)\t(%d+)$")
    assert(capture, "not a --list line: " .. lines[k])
    rows[#rows + 1] = { capture = capture, name = name, size = tonumber(size), shard = tonumber(n) }
  end
  return rows
end

-- name -> shard of a --list
local function deal(rows)
  local map = {}
  for _, r in ipairs(rows) do map[r.name] = r.shard end
  return map
end

-- Run `exec.lua ARGS` for each of `args` in dir, all at the same time: their stderr and exit statuses.
local function concurrently(dir, args)
  local parts = {}
  for k, a in ipairs(args) do
    parts[k] = ("{ %s %s %s 2>%s; echo $? >%s; } &"):format(q(H.tpp_absolute()), q(H.ROOT .. "/scripts/exec.lua"), a,
      q(("%s/.err%d"):format(dir, k)), q(("%s/.status%d"):format(dir, k)))
  end
  local _, err, status = H.sh(("cd %s && { %s wait; }"):format(q(dir), table.concat(parts, " ")))
  assert.are.equal(0, status, err)
  local errs, statuses = {}, {}
  for k = 1, #args do
    errs[k] = H.read_file(("%s/.err%d"):format(dir, k))
    statuses[k] = tonumber(H.read_file(("%s/.status%d"):format(dir, k)))
    os.remove(("%s/.err%d"):format(dir, k))
    os.remove(("%s/.status%d"):format(dir, k))
  end
  return errs, statuses
end

-- Cut `n` bytes off the end of a file (a truncated capture).
local function truncate(path, n)
  local bytes = H.read_file(path)
  H.write_file(path, bytes:sub(1, #bytes - n))
end

-- The issue's directory: same stems in different folders, gzip and plain, one capture truncated.
local function captures(dir)
  for _, d in ipairs { "/in", "/in/a", "/in/b" } do lfs.mkdir(dir .. d) end
  local start = 1674709200
  assert(synth.generate(dir .. "/in/a/x.pcap", { packets = 3000, duration = 30, seed = 1, start = start }))
  assert(synth.generate(dir .. "/in/b/x.pcap", { packets = 1500, duration = 20, seed = 2, start = start + 100 }))
  assert(synth.generate(dir .. "/in/b/x.pcap.gz", { packets = 2500, duration = 25, seed = 3, start = start + 200 }))
  assert(synth.generate(dir .. "/in/c.pcap", { packets = 2000, duration = 20, seed = 4, start = start + 300 }))
  assert(synth.generate(dir .. "/in/d.pcapng", { packets = 800, duration = 10, seed = 5, start = start + 400 }))
  truncate(dir .. "/in/c.pcap", 50)
end

local ARGS = "-q -j 1 -t 1 "

describe("exec.lua in shards", function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rmtree(dir) end)

  it("gives exactly the files of one local run: shards at the same time, then --finish", function()
    captures(dir)
    local _, err, status = exec(dir, ARGS .. "-f none -o local in")
    assert.are.equal(1, status, err)   -- c.pcap is truncated
    assert.truthy(err:find("in/c.pcap: incomplete: truncated", 1, true), err)

    local rows = list(dir, "--shards 3 in")
    assert.are.equal(5, #rows)
    local errs, statuses = concurrently(dir, { ARGS .. "-f none -o cl --shard 1/3 in",
      ARGS .. "-f none -o cl --shard 2/3 in", ARGS .. "-f none -o cl --shard 3/3 in" })
    local truncated_shard = deal(rows).c
    for k = 1, 3 do
      assert.are.equal(k == truncated_shard and 1 or 0, statuses[k], errs[k])
    end
    -- the shards wrote each capture's outputs under the whole run's names, and no index
    local written = files_of(dir .. "/cl")
    for _, r in ipairs(rows) do
      assert.truthy(written["mem_dump/" .. r.name .. ".tpd"], r.name)
      assert.truthy(written["critical/" .. r.name .. "_critical.tsv"], r.name)
    end
    assert.is_nil(written["plot/index.html"])

    _, err, status = exec(dir, ARGS .. "-f none -o cl --finish in")
    assert.are.equal(1, status, err)
    assert.truthy(err:find("in/c.pcap: incomplete: truncated", 1, true), err)
    local names = assert_same_tree(dir .. "/local", dir .. "/cl")
    assert.are.same({ "critical/c_critical.tsv", "critical/c_critical.tsv.incomplete", "critical/d_critical.tsv" },
      { names[1], names[2], names[3] })
    assert.are.equal(5 * 4 + 2, #names)   -- dump, table, port counts and hh table of each, the marker, the index
  end)

  it("gives the same files whatever order the shards run in, each writing only its share", function()
    captures(dir)
    local _, err, status = exec(dir, ARGS .. "-f none -o local in")
    assert.are.equal(1, status, err)
    local d = deal(list(dir, "--shards 3 in"))
    local ran = {}
    for _, k in ipairs { 3, 1, 2 } do
      _, err, status = exec(dir, ("%s-f none -o cl --shard %d/3 in"):format(ARGS, k))
      assert.are.equal(d.c == k and 1 or 0, status, err)
      ran[k] = true
      for name, shard_of in pairs(d) do   -- the captures of the shards run so far, and only those
        local there = lfs.attributes(("%s/cl/critical/%s_critical.tsv"):format(dir, name)) ~= nil
        assert.are.equal(ran[shard_of] == true, there, ("%s, of shard %d, after shard %d"):format(name, shard_of, k))
      end
    end
    _, err, status = exec(dir, ARGS .. "-f none -o cl --finish in")
    assert.are.equal(1, status, err)
    assert_same_tree(dir .. "/local", dir .. "/cl")
  end)

  it("draws the figures in --finish, the same files as a local run", function()
    if not require("tpp.gnuplot").find() then return pending("gnuplot is not installed") end
    captures(dir)
    local _, err, status = exec(dir, ARGS .. "-f 1,12 -o local in")
    assert.are.equal(1, status, err)
    for k = 1, 2 do
      _, err = exec(dir, ("%s-f none -o cl --shard %d/2 in"):format(ARGS, k))
    end
    assert.is_nil(lfs.attributes(dir .. "/cl/plot"))   -- -f none in the shards
    _, err, status = exec(dir, ARGS .. "-f 1,12 -o cl --finish in")
    assert.are.equal(1, status, err)
    local names = assert_same_tree(dir .. "/local", dir .. "/cl")
    local pages = 0
    for _, n in ipairs(names) do if n:match("^plot/.*%.png$") then pages = pages + 1 end end
    assert.are.equal(5 * 2, pages)
    -- the index links each capture's page
    local index = H.read_file(dir .. "/cl/plot/index.html")
    assert.truthy(index:find('<a href="c.html">c</a>', 1, true), index)
  end)

  it("prints a shard's own summary, and an empty shard says so and succeeds", function()
    lfs.mkdir(dir .. "/in")
    assert(synth.generate(dir .. "/in/one.pcap", { packets = 500, duration = 5, seed = 1 }))
    assert(synth.generate(dir .. "/in/two.pcap", { packets = 300, duration = 5, seed = 2 }))
    local _, err, status = exec(dir, "-j 1 -f none -o cl --shard 1/3 in")
    assert.are.equal(0, status, err)
    assert.truthy(err:find("\ntpp: shard 1/3: 1 capture, 500 packets, %d+ intervals?, [%d.]+ s, 4 files written\n$"), err)
    _, err, status = exec(dir, "-j 1 -f none -o empty --shard 3/3 in")
    assert.are.equal(0, status, err)
    assert.truthy(err:find("shard 3/3: no capture (the 2 captures went to the other shards)", 1, true), err)
    assert.is_nil(lfs.attributes(dir .. "/empty"))   -- nothing to write, nothing created
  end)

  it("is dealt by size, the same whatever order and spelling the paths are given in", function()
    for _, d in ipairs { "/in", "/in/a", "/in/b", "/in/c" } do lfs.mkdir(dir .. d) end
    local sizes = { ["a/x.pcap"] = 9000, ["b/x.pcap"] = 4000, ["b/x.pcap.gz"] = 3000, ["c/y.pcap"] = 2500,
                    ["c/z.pcap"] = 2000, ["a/w.pcap"] = 1000, ["b/v.pcap"] = 500 }
    local seed = 0
    for path, packets in pairs(sizes) do
      seed = seed + 1
      assert(synth.generate(dir .. "/in/" .. path, { packets = packets, duration = 10, seed = seed }))
    end
    local one = list(dir, "--shards 3 in")
    local two = list(dir, "--shards 3 in/c/z.pcap ./in/b in/c in/a/../a")
    assert.are.equal(7, #one)
    assert.are.equal(7, #two)
    assert.are.same(deal(one), deal(two))
    -- --shard I/N gives the same deal as --shards N, and --list alone puts everything in shard 1
    assert.are.same(deal(one), deal(list(dir, "--shard 2/3 in")))
    for _, r in ipairs(list(dir, "in")) do assert.are.equal(1, r.shard) end
    -- the sizes are the files' own
    for _, r in ipairs(one) do
      assert.are.equal(lfs.attributes(dir .. "/" .. r.capture, "size"), r.size, r.capture)
    end
    -- largest first onto the least-loaded shard (the lowest of equals), computed here from the listed sizes
    local order = {}
    for _, r in ipairs(one) do order[#order + 1] = r end
    table.sort(order, function(a, b)
      if a.size ~= b.size then return a.size > b.size end
      return a.name < b.name
    end)
    local loads, want = { 0, 0, 0 }, {}
    for _, r in ipairs(order) do
      local best = 1
      for k = 2, 3 do if loads[k] < loads[best] then best = k end end
      want[r.name], loads[best] = best, loads[best] + r.size
    end
    assert.are.same(want, deal(one))
    -- balanced: no shard holds more than the least-loaded one plus the largest capture
    local have = { 0, 0, 0 }
    for _, r in ipairs(one) do have[r.shard] = have[r.shard] + r.size end
    table.sort(have)
    assert.is_true(have[3] - have[1] <= order[1].size)
  end)

  it("deals items in tpp.shard independently of their order, ties by name", function()
    local items = {}
    for k = 1, 12 do items[k] = { path = "/p/" .. k, name = ("n%02d"):format(k), size = (k % 4) * 100 } end
    local a = {}
    for k, item in ipairs(shard.assign(items, 5)) do a[item.name] = item.shard; items[k].shard = nil end
    local reversed = {}
    for k = #items, 1, -1 do reversed[#reversed + 1] = items[k] end
    local b = {}
    for _, item in ipairs(shard.assign(reversed, 5)) do b[item.name] = item.shard end
    assert.are.same(a, b)
    -- the three of size 300 (n03, n07, n11) open shards 1, 2, 3; the 200s go on 4, 5, then 4 again
    assert.are.same({ 1, 2, 3 }, { a.n03, a.n07, a.n11 })
    assert.are.same({ 4, 5 }, { a.n02, a.n06 })
    local _, loads = shard.assign(items, 5)
    local sum = 0
    for _, l in ipairs(loads) do sum = sum + l end
    assert.are.equal(1800, sum)
    assert.has_error(function() shard.assign(items, 0) end)
  end)

  it("reruns a task killed mid-parse to the same outputs; --finish before that names the capture", function()
    lfs.mkdir(dir .. "/in")
    -- the large capture: 600 intervals of 0.1 s, whose rows (--print-critical) fill a pipe nobody reads
    assert(synth.generate(dir .. "/in/big.pcap", { packets = 30000, duration = 60, seed = 7 }))
    assert(synth.generate(dir .. "/in/small.pcap.gz", { packets = 800, duration = 10, seed = 8 }))
    assert(synth.generate(dir .. "/in/other.pcap", { packets = 700, duration = 10, seed = 9 }))
    local args = "-q -j 1 -t 0.1 -f none "
    local _, err, status = exec(dir, args .. "-o local in")
    assert.are.equal(0, status, err)
    local k = deal(list(dir, "--shards 2 in")).big

    -- the task stops writing rows once the pipe is full: it is inside big.pcap's parse when it is killed
    local p = assert(io.popen(("cd %s && sh -c 'echo $$; exec \"$@\"' sh %s %s %s--print-critical -o cl --shard %d/2 in "
      .. "2>/dev/null"):format(q(dir), q(H.tpp_absolute()), q(H.ROOT .. "/scripts/exec.lua"), args, k)))
    local pid = assert(tonumber(p:read("l")))
    local seen = false
    for line in p:lines() do
      if line:match("^big\t") then seen = true; break end
    end
    assert.is_true(seen)
    assert(os.execute("kill -9 " .. pid))
    p:close()
    assert.is_nil(lfs.attributes(dir .. "/cl/mem_dump/big.tpd"))
    assert.is_nil(lfs.attributes(dir .. "/cl/critical/big_critical.tsv"))
    -- nothing half-written: every file there is a whole output of a capture
    for name in pairs(files_of(dir .. "/cl")) do
      assert.truthy(name:match("^mem_dump/%a+%.tpd$") or name:match("^critical/%a+_critical%.tsv$")
        or name:match("^port_count/%a+_port_count%.tsv$"), name)
    end

    -- the other shard runs; the finishing step finds big.pcap's dump missing
    _, err, status = exec(dir, ("%s-o cl --shard %d/2 in"):format(args, 3 - k))
    assert.are.equal(0, status, err)
    _, err, status = exec(dir, args .. "-o cl --finish in")
    assert.are.equal(1, status, err)
    assert.truthy(err:find("tpp: in/big.pcap: no usable dump (did its task fail?)\n", 1, true), err)
    assert.is_nil(lfs.attributes(dir .. "/cl/critical/big_critical.tsv"))

    -- requeued: the task runs again, and the run is the local one
    _, err, status = exec(dir, ("%s-o cl --shard %d/2 in"):format(args, k))
    assert.are.equal(0, status, err)
    _, err, status = exec(dir, args .. "-o cl --finish in")
    assert.are.equal(0, status, err)
    assert_same_tree(dir .. "/local", dir .. "/cl")
  end)

  it("--finish refuses a dump made with other options, saying why", function()
    lfs.mkdir(dir .. "/in")
    assert(synth.generate(dir .. "/in/one.pcap", { packets = 500, duration = 5, seed = 1 }))
    local _, err, status = exec(dir, "-q -f none -t 1 -o cl --shard 1/1 in")
    assert.are.equal(0, status, err)
    _, err, status = exec(dir, "-q -f none -t 2 -o cl --finish in")
    assert.are.equal(1, status, err)
    assert.truthy(err:find("tpp: in/one.pcap: no usable dump (did its task fail?): cl/mem_dump/one.tpd: delta_t differs",
      1, true), err)
    assert.is_nil(lfs.attributes(dir .. "/cl/plot/index.html"))   -- every capture failed: no index
  end)

  it("--series: shards and --finish equal --series on one machine", function()
    for _, d in ipairs { "/in", "/in/a", "/in/b" } do lfs.mkdir(dir .. d) end
    local start = 1674709200
    -- consecutive pieces of one day, named against their time order, one gzip-compressed, one truncated
    assert(synth.generate(dir .. "/in/b/x.pcap", { packets = 1200, duration = 20, seed = 1, start = start }))
    assert(synth.generate(dir .. "/in/a/x.pcap.gz", { packets = 1500, duration = 20, seed = 2, start = start + 20 }))
    assert(synth.generate(dir .. "/in/a/y.pcap", { packets = 1000, duration = 20, seed = 3, start = start + 40 }))
    assert(synth.generate(dir .. "/in/z.pcap", { packets = 900, duration = 20, seed = 4, start = start + 60 }))
    local _, err, status = exec(dir, ARGS .. "-f none -o local --series day in")
    assert.are.equal(0, status, err)
    local errs, statuses = concurrently(dir, { ARGS .. "-f none -o cl --series day --shard 2/2 in",
      ARGS .. "-f none -o cl --series day --shard 1/2 in" })
    assert.are.same({ 0, 0 }, statuses, errs[1] .. errs[2])
    -- a series' shard writes its pieces' dumps only
    for name in pairs(files_of(dir .. "/cl")) do assert.truthy(name:match("^mem_dump/"), name) end
    _, err, status = exec(dir, ARGS .. "-f none -o cl --series day --finish in")
    assert.are.equal(0, status, err)
    local names = assert_same_tree(dir .. "/local", dir .. "/cl")
    assert.truthy(H.read_file(dir .. "/cl/critical/day_critical.tsv"))
    assert.are.equal(4 + 1 + 3 + 1, #names)   -- the pieces' dumps; the series' dump, table, port counts, hh; the index
    local index = H.read_file(dir .. "/cl/plot/index.html")
    assert.truthy(index:find("<h2>Series</h2>", 1, true), index)

    -- a limit of the series is spent in time order, one capture after the other: not in shards
    _, err, status = exec(dir, ARGS .. "-f none -o cl --series day --max-intervals 5 --shard 1/2 in")
    assert.are.equal(2, status, err)
    assert.truthy(err:find("a series' limit is spent one capture after the other", 1, true), err)
  end)

  it("--series with a truncated piece: shards and --finish equal one machine, marked incomplete", function()
    lfs.mkdir(dir .. "/in")
    local start = 1674709200
    assert(synth.generate(dir .. "/in/p1.pcap", { packets = 1200, duration = 20, seed = 1, start = start }))
    assert(synth.generate(dir .. "/in/p2.pcap", { packets = 1500, duration = 20, seed = 2, start = start + 20 }))
    truncate(dir .. "/in/p2.pcap", 30)
    local _, err, status = exec(dir, ARGS .. "-f none -o local --series day in")
    assert.are.equal(1, status, err)
    for k = 1, 2 do
      _, err, status = exec(dir, ("%s-f none -o cl --series day --shard %d/2 in"):format(ARGS, k))
      assert.are.equal(0, status, err)   -- a piece that breaks off is the series' matter, said by --finish
    end
    _, err, status = exec(dir, ARGS .. "-f none -o cl --series day --finish in")
    assert.are.equal(1, status, err)
    local names = assert_same_tree(dir .. "/local", dir .. "/cl")
    assert.truthy(lfs.attributes(dir .. "/cl/critical/day_critical.tsv.incomplete"), table.concat(names, " "))
  end)

  it("refuses bad --shard values and conflicting options with exit 2, creating nothing", function()
    lfs.mkdir(dir .. "/in")
    assert(synth.generate(dir .. "/in/one.pcap", { packets = 100, duration = 5, seed = 1 }))
    local cases = {
      { "--shard 0/3", "option --shard 0/3: there is no shard 0 of 3" },
      { "--shard 4/3", "option --shard 4/3: there is no shard 4 of 3" },
      { "--shard x", "option --shard x: must be I/N" },
      { "--shard 3", "option --shard 3: must be I/N" },
      { "--shard 1/0", "option --shard 1/0: there must be at least one shard" },
      { "--shard 1/3/4", "option --shard 1/3/4: must be I/N" },
      { "--shard ''", "option --shard : must be I/N" },
      { "--shards 0 --list", "option --shards must be a positive integer, got '0'" },
      { "--shards 2", "option --shards goes with --list" },
      { "--finish --shard 1/2", "--finish and --shard cannot be given together" },
      { "--finish --list", "--finish and --list cannot be given together" },
      { "--finish --force", "--finish and --force cannot be given together" },
    }
    for _, c in ipairs(cases) do
      local out, err, status = exec(dir, "-o out " .. c[1] .. " in")
      assert.are.equal(2, status, c[1] .. ": " .. err)
      assert.are.equal("", out)
      assert.truthy(err:find("tpp: " .. c[2], 1, true), c[1] .. ": " .. err)
      assert.are.equal(1, select(2, err:gsub("\n", "")), c[1] .. ": one line: " .. err)
    end
    assert.is_nil(lfs.attributes(dir .. "/out"))
    -- standard input has no dump for --finish to take
    local _, err, status = H.sh(("cd %s && %s %s -o out --shard 1/2 - <in/one.pcap"):format(q(dir),
      q(H.tpp_absolute()), q(H.ROOT .. "/scripts/exec.lua")))
    assert.are.equal(2, status, err)
    assert.truthy(err:find("tpp: standard input: a stream cannot be processed in shards", 1, true), err)
    assert.is_nil(lfs.attributes(dir .. "/out"))
  end)

  it("--list prints the work items and does nothing else", function()
    lfs.mkdir(dir .. "/in")
    assert(synth.generate(dir .. "/in/one.pcap", { packets = 100, duration = 5, seed = 1 }))
    H.write_file(dir .. "/in/notes.txt", "not a capture\n")
    local out, err, status = exec(dir, "-o out --list in")
    assert.are.equal(0, status, err)
    assert.are.equal(("capture\tname\tsize\tshard\nin/one.pcap\tone\t%d\t1\n"):format(
      lfs.attributes(dir .. "/in/one.pcap", "size")), out)
    assert.truthy(err:find("skipping in/notes.txt", 1, true), err)
    assert.is_nil(lfs.attributes(dir .. "/out"))
    _, err, status = exec(dir, "--list in missing")
    assert.are.equal(1, status, err)
    assert.truthy(err:find("missing: no such file or directory", 1, true), err)
  end)
end)

describe("the run's index, plot/index.html", function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rmtree(dir) end)

  it("lists every capture with its numbers and status, names escaped, sorted by capture", function()
    lfs.mkdir(dir .. "/in")
    local odd = [[<i>&"q'.pcap]]
    assert(synth.generate(dir .. "/in/" .. odd, { packets = 400, duration = 5, seed = 1 }))
    assert(synth.generate(dir .. "/in/b.pcap", { packets = 300, duration = 5, seed = 2 }))
    truncate(dir .. "/in/b.pcap", 20)
    local _, err, status = exec(dir, "-q -j 1 -t 1 -f none -o out in")
    assert.are.equal(1, status, err)
    local index = H.read_file(dir .. "/out/plot/index.html")
    assert.is_nil(index:find("<i>", 1, true))
    local abs = require("tpp.walk").absolute(dir .. "/in")
    local a = assert(tpp.load(dir .. "/out/mem_dump/" .. odd:gsub("%.pcap$", "") .. ".tpd"))
    local b = assert(tpp.load(dir .. "/out/mem_dump/b.tpd"))
    assert.is_truthy(b.error)
    local rows = {}
    for row in index:gmatch("<tr><td>(.-)</tr>") do rows[#rows + 1] = row end
    -- the span from the first packet to the last (UTC start, length), and the mean packet rate over it
    local function span(r)
      local seconds = (r.last_ns - r.first_ns) / 1e9
      return ("<td>%s UTC, %s</td><td class=\"n\">%.1f</td>"):format(os.date("!%Y-%m-%d %H:%M:%S",
        r.first_ns // 1000000000), require("tpp.page").duration(seconds), r.packets / seconds)
    end
    assert.are.same({   -- "<" sorts before "b"
      ("&lt;i&gt;&amp;&quot;q&#39;</td><td>%s/&lt;i&gt;&amp;&quot;q&#39;.pcap</td><td class=\"n\">400</td>"
        .. "<td class=\"n\">%d</td>%s<td class=\"ok\">complete</td>"):format(abs, #a, span(a)),
      ("b</td><td>%s/b.pcap</td><td class=\"n\">%d</td><td class=\"n\">%d</td>%s<td class=\"incomplete\">incomplete: %s</td>")
        :format(abs, b.packets, #b, span(b), b.error),
    }, rows)
    assert.truthy(index:find(("<p>1 complete, 1 incomplete, 0 failed; %d packets, %d intervals.</p>"):format(
      400 + b.packets, #a + #b), 1, true), index)
    -- nothing in it depends on the moment: a second run writes the same bytes
    exec(dir, "-q -j 2 -t 1 -f none --force -o out in")
    assert.are.equal(index, H.read_file(dir .. "/out/plot/index.html"))
  end)

  it("links a page only when it was drawn, its name escaped for a URL", function()
    if not require("tpp.gnuplot").find() then return pending("gnuplot is not installed") end
    lfs.mkdir(dir .. "/in")
    assert(synth.generate(dir .. "/in/a b#1.pcap", { packets = 300, duration = 5, seed = 1 }))
    local _, err, status = exec(dir, "-q -j 1 -t 1 -f 1 -o out in")
    assert.are.equal(0, status, err)
    local index = H.read_file(dir .. "/out/plot/index.html")
    assert.truthy(index:find('<a href="a%20b%231.html">a b#1</a>', 1, true), index)
    assert.truthy(lfs.attributes(dir .. "/out/plot/a b#1.html"))
  end)
end)
