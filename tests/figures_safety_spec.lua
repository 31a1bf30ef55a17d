-- Specs: no string from outside runs as code when figures are drawn (issue 12, item 1 for figures), plot.lua
-- walks directories as the main job does (item 15), a missing gnuplot is one line per run and plot.lua's
-- command line (item 20).  Captures, output directories and work directories are named with gnuplot commands,
-- shell substitutions and HTML; a command that ran would leave a file PWNED where gnuplot ran or one level up.

local HERE = debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./"
local H = dofile(HERE .. "helper.lua")
local tpp = require "tpp"
local lfs = require "lfs"
local plot = require "tpp.plot"
local gnuplot = require "tpp.gnuplot"
local synth = require "tpp.synth"
local walk = require "tpp.walk"

local HAVE_GNUPLOT = gnuplot.find() ~= nil
local it_gp = HAVE_GNUPLOT and it or pending
local q = H.shell_quote

-- Breaks out of a gnuplot string literal and runs a shell command in gnuplot's directory and its parent.
local INJECT = "x'\nsystem \"touch PWNED; cd ..; touch PWNED\"\n'"
local NAMES = {
  INJECT,
  "q'uote\"s and spaces",
  "$(touch PWNED)",
  "`touch PWNED`",
  "<script>alert(1)",
  "<img src=x onerror=alert(1)>",
  "a\"; system \"touch PWNED",
  "-c dash & amp",
}

local TPP = walk.absolute(H.tpp_binary())
local ROOT = lfs.currentdir()

-- Every file called PWNED under `dir` (recursively).
local function pwned(dir)
  local found = {}
  local function visit(d)
    for name in lfs.dir(d) do
      if name ~= "." and name ~= ".." then
        local path = d .. "/" .. name
        local mode = lfs.symlinkattributes(path, "mode")
        if name == "PWNED" then found[#found + 1] = path end
        if mode == "directory" then visit(path) end
      end
    end
  end
  visit(dir)
  return found
end

local list_dir = H.list_dir

local function is_png(path)
  local f = io.open(path, "rb")
  if not f then return false end
  local head = f:read(8)
  f:close()
  return head == "\137PNG\r\n\26\n"
end

-- The HTML text of a string, written from the HTML rules (not from tpp's code).
local function escaped(s)
  return (s:gsub("&", "&amp;"):gsub("<", "&lt;"):gsub(">", "&gt;"):gsub('"', "&quot;"):gsub("'", "&#39;"))
end

local function url_decode(s)
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

-- Checks a page drawn for `name`: the name appears only escaped (control characters shown as escapes, as in
-- messages), no script but the page's own four, and every image source is a percent-encoded relative URL naming
-- one of `want` (file names).
local function check_page(html, name, want)
  if name:find("[<>\"'&]") then assert.is_nil(html:find(name, 1, true), "raw name in the page: " .. name) end
  assert.is_truthy(html:find("<h1>" .. escaped(walk.printable(name)) .. "</h1>", 1, true), name)
  assert.is_nil(html:find("<img src=x", 1, true))
  assert.is_nil(html:find("<script>", 1, true))
  local scripts = {}
  for tag in html:gmatch("<script[^>]*>") do scripts[#scripts + 1] = tag end
  local own = { '<script id="tpp-guard">', '<script type="application/json" id="tpp-data">',
                '<script id="tpp-dygraphs">', '<script id="tpp-page">' }
  assert.are.same(#scripts == 4 and own or { own[1], own[2], own[4] }, scripts)
  local srcs = {}
  for src in html:gmatch('<img src="([^"]*)"') do
    assert.matches("^[%w%-%._~%%]+$", src)
    srcs[#srcs + 1] = url_decode(src)
  end
  table.sort(want)
  table.sort(srcs)
  assert.are.same(want, srcs)
end

-- A small capture at dir/name.pcap.
local function capture(dir, name)
  local path = dir .. "/" .. name .. ".pcap"
  synth.generate(path, { packets = 2000, duration = 30 })
  return path
end

describe("figures of captures named like code", function()
  local dir

  setup(function() dir = H.tmpdir() end)
  teardown(function() if dir then H.rmtree(dir) end end)

  it("refuses control characters in script text", function()
    assert.are.equal("'it''s'", gnuplot.quote("it's"))
    assert.has_error(function() gnuplot.quote("a\nsystem 'x'") end)
    assert.has_error(function() gnuplot.quote("tab\there") end)
  end)

  it_gp("tpp.plot.draw: draws each figure under its name and runs nothing", function()
    local inputs, out, work = dir .. "/draw-in", dir .. "/draw-out " .. INJECT, dir .. "/draw-work"
    assert(lfs.mkdir(inputs))
    for _, name in ipairs(NAMES) do
      local path = capture(inputs, name)
      local r = assert(tpp.parse(path, { delta_t = 5 }))
      local stem = walk.stem(path)
      assert.are.equal(name, stem)
      local files, failures = plot.draw(r, { dir = out, stem = stem, figures = { 1, 12 }, workdir = work,
                                             quiet = true })
      assert.are.same({}, failures)
      assert.are.same({ out .. "/" .. name .. "_1.png", out .. "/" .. name .. "_12.png", out .. "/" .. name .. ".html" },
        files)
      assert.is_true(is_png(files[1]) and is_png(files[2]), name)
      check_page(H.read_file(files[3]), name, { name .. "_1.png", name .. "_12.png" })
    end
    assert.are.same({}, pwned(dir))
    assert.is_nil(lfs.attributes(ROOT .. "/PWNED"))
    -- the scripts hold only names tpp made up
    for _, script in ipairs({ "fig_1.gp", "fig_12.gp" }) do
      local text = H.read_file(work .. "/" .. script)
      assert.is_nil(text:find("draw-", 1, true), script)
      assert.is_nil(text:find("system", 1, true), script)
    end
  end)

  it_gp("tpp.plot.draw: keeps the figures of a dump whose source is a name like code", function()
    local path = capture(dir, INJECT)
    local r = assert(tpp.parse(path, { delta_t = 5 }))
    local dump = dir .. "/d.tpd"
    assert(r:dump(dump))
    local d = assert(tpp.load(dump))
    assert.are.equal(path, d.source)
    local files, failures = plot.draw(d, { dir = dir .. "/dump-out", figures = { 4 }, workdir = dir .. "/dump-work",
                                           quiet = true })
    assert.are.same({}, failures)
    assert.are.same({ dir .. "/dump-out/" .. INJECT .. "_4.png", dir .. "/dump-out/" .. INJECT .. ".html" }, files)
    assert.is_true(is_png(files[1]))
    local html = H.read_file(files[2])
    check_page(html, INJECT, { INJECT .. "_4.png" })
    assert.is_truthy(html:find(escaped(walk.printable(path)), 1, true))
    assert.are.same({}, pwned(dir))
  end)

  it_gp("scripts/plot.lua: draws a directory of such captures, its work directory under such a TMPDIR", function()
    local inputs, out, tmp = dir .. "/cli-in", dir .. "/cli-out\n" .. INJECT, dir .. "/cli-tmp " .. INJECT
    assert(lfs.mkdir(inputs))
    assert(lfs.mkdir(tmp))
    for _, name in ipairs({ INJECT, "<img src=x onerror=alert(1)>", "`touch PWNED`" }) do capture(inputs, name) end
    local _, err, status = H.sh(("cd %s && TMPDIR=%s %s %s -f 1,12 -o %s %s"):format(q(dir), q(tmp), q(TPP),
      q(ROOT .. "/scripts/plot.lua"), q(out), q(inputs)))
    assert.are.equal(0, status, err)
    assert.are.same({}, pwned(dir))
    local want = {}
    for _, name in ipairs({ INJECT, "<img src=x onerror=alert(1)>", "`touch PWNED`" }) do
      for _, f in ipairs({ "_1.png", "_12.png", ".html" }) do want[#want + 1] = name .. f end
    end
    table.sort(want)
    assert.are.same(want, list_dir(out))
    assert.are.same({}, list_dir(tmp))           -- the work directories are gone
    check_page(H.read_file(out .. "/" .. INJECT .. ".html"), INJECT, { INJECT .. "_1.png", INJECT .. "_12.png" })
    -- a name's newline is shown escaped: every line of stderr starts as plot's lines do
    for line in err:gmatch("[^\n]+") do assert.matches("^plot: ", line) end
  end)

  it_gp("the main job: figures under the capture's name, nothing run, in parallel workers too", function()
    local inputs, out, tmp = dir .. "/job-in", dir .. "/job-out", dir .. "/job-tmp"
    assert(lfs.mkdir(inputs))
    assert(lfs.mkdir(tmp))
    local names = { INJECT, "<script>alert(1)", "$(touch PWNED)" }
    for _, name in ipairs(names) do capture(inputs, name) end
    local _, err, status = H.sh(("cd %s && TMPDIR=%s %s %s -q -j 2 -f 1,12 -o %s %s"):format(q(dir), q(tmp), q(TPP),
      q(ROOT .. "/scripts/exec.lua"), q(out), q(inputs)))
    assert.are.equal(0, status, err)
    assert.are.same({}, pwned(dir))
    for _, name in ipairs(names) do
      for _, f in ipairs({ "_1.png", "_12.png" }) do assert.is_true(is_png(out .. "/plot/" .. name .. f), name .. f) end
      check_page(H.read_file(out .. "/plot/" .. name .. ".html"), name, { name .. "_1.png", name .. "_12.png" })
    end
    assert.are.same({}, list_dir(tmp))
  end)
end)

describe("tpp.gnuplot.move", function()
  local dir
  setup(function() dir = H.tmpdir() end)
  teardown(function() if dir then H.rmtree(dir) end end)

  it("moves a file atomically across file systems", function()
    local shm = "/dev/shm"
    local a, b = lfs.attributes(shm), lfs.attributes(dir)
    if not a or a.dev == b.dev then
      pending("no second file system at /dev/shm")
      return
    end
    local from = ("%s/tpp-spec-move-%d"):format(shm, tpp.pid())
    H.write_file(from, ("0123456789"):rep(10000))
    H.write_file(dir .. "/target.png", "old")
    assert.is_true(gnuplot.move(from, dir .. "/target.png"))
    assert.are.equal(("0123456789"):rep(10000), H.read_file(dir .. "/target.png"))
    assert.is_nil(lfs.attributes(from))
    assert.are.same({ "target.png" }, list_dir(dir))   -- no temporary left beside it
  end)

  it("returns nil and a reason when the target's directory does not exist", function()
    local from = H.write_file(dir .. "/f", "x")
    local ok, err = gnuplot.move(from, dir .. "/no/such/dir/f")
    assert.is_nil(ok)
    assert.matches("No such file", err)
    assert.is_truthy(lfs.attributes(from))
  end)
end)

describe("scripts/plot.lua on directories", function()
  local dir, dump

  setup(function()
    dir = H.tmpdir()
    local path = capture(dir, "walked")
    dump = dir .. "/mem_dump/walked.tpd"
    assert(lfs.mkdir(dir .. "/mem_dump"))
    assert(assert(tpp.parse(path, { delta_t = 5 })):dump(dump))
    H.write_file(dir .. "/mem_dump/.gitkeep", "")
    H.write_file(dir .. "/mem_dump/notes.txt", "not a dump")
    assert(lfs.mkdir(dir .. "/empty_dump"))
    H.write_file(dir .. "/empty_dump/.gitkeep", "")
  end)
  teardown(function() if dir then H.rmtree(dir) end end)

  local function plot_cli(args)
    local _, err, status = H.sh(("%s %s %s"):format(q(TPP), q(ROOT .. "/scripts/plot.lua"), args))
    return status, err
  end

  it_gp("draws the dumps of mem_dump/ and skips .gitkeep and other files with one line each", function()
    local out = dir .. "/out"
    local status, err = plot_cli(("-f 4 -o %s %s"):format(q(out), q(dir .. "/mem_dump/")))
    assert.are.equal(0, status, err)
    assert.is_true(is_png(out .. "/walked_4.png"))
    local skips = 0
    for line in err:gmatch("[^\n]+") do
      if line:find("skipping", 1, true) then skips = skips + 1 end
      assert.is_nil(line:find("dump:", 1, true), line)     -- not read as a damaged dump
    end
    assert.is_true(skips >= 1 and skips <= 2, err)   -- notes.txt, and .gitkeep unless hidden files are passed over
    assert.matches("notes%.txt: neither a capture nor a dump", err)
  end)

  it("says there is nothing to draw in a directory without captures or dumps", function()
    local status, err = plot_cli(("-o %s %s"):format(q(dir .. "/out-empty"), q(dir .. "/empty_dump")))
    assert.are.equal(1, status)
    assert.matches("nothing to draw", err)
    assert.is_nil(err:find("not a dump", 1, true))
    assert.is_nil(lfs.attributes(dir .. "/out-empty"))
  end)

  it("fails for a named file that is neither a capture nor a dump", function()
    local status, err = plot_cli(q(dir .. "/mem_dump/notes.txt"))
    assert.are.equal(1, status)
    assert.matches("notes.txt: neither a capture nor a dump", err)
  end)
end)

describe("a missing gnuplot", function()
  local dir, a, b

  setup(function()
    dir = H.tmpdir()
    a, b = capture(dir, "one"), capture(dir, "two")
    assert(lfs.mkdir(dir .. "/bin"))      -- a PATH holding tpp and no gnuplot
    assert(lfs.link(TPP, dir .. "/bin/tpp", true))
  end)
  teardown(function() if dir then H.rmtree(dir) end end)

  local function count(text, pattern)
    local n = 0
    for line in text:gmatch("[^\n]+") do if line:find(pattern, 1, true) then n = n + 1 end end
    return n
  end

  it("is one failure of tpp.plot.draw, and the page says so", function()
    local r = assert(tpp.parse(a, { delta_t = 5 }))
    local files, failures = plot.draw(r, { dir = dir .. "/draw", gnuplot = "tpp-spec-no-such-gnuplot", quiet = true })
    assert.are.equal(1, #failures)
    assert.are.equal("missing gnuplot", failures[1].kind)
    assert.are.equal(gnuplot.MISSING, failures[1].reason)
    assert.are.equal(require("tpp.figures").count, #failures[1].figures)
    assert.are.same({ dir .. "/draw/one.html" }, files)
    assert.matches("gnuplot not found", H.read_file(files[1]))
  end)

  it("is one line of scripts/plot.lua for all its inputs, exit status 1", function()
    local _, err, status = H.sh(("%s %s --gnuplot tpp-spec-no-such-gnuplot -o %s %s %s"):format(q(TPP),
      q(ROOT .. "/scripts/plot.lua"), q(dir .. "/cli"), q(a), q(b)))
    assert.are.equal(1, status)
    assert.are.equal(1, count(err, "gnuplot not found"), err)
    assert.are.equal(1, count(err, "\n") + 1, err)
  end)

  it("is one line of the main job per run, with parallel workers too", function()
    local out = dir .. "/job"
    local _, err, status = H.sh(("cd %s && PATH=%s %s %s -j 2 -o %s %s %s"):format(q(dir), q(dir .. "/bin"), q(TPP),
      q(ROOT .. "/scripts/exec.lua"), q(out), q(a), q(b)))
    assert.are.equal(1, status, err)
    assert.are.equal(1, count(err, "gnuplot"), err)
    assert.are.equal(1, count(err, "gnuplot not found: install the Debian package gnuplot-nox"), err)
    assert.are.equal("file", lfs.attributes(out .. "/critical/one_critical.tsv", "mode"))
    assert.are.equal("file", lfs.attributes(out .. "/critical/two_critical.tsv", "mode"))
  end)
end)

describe("scripts/plot.lua's command line", function()
  local dir
  setup(function() dir = H.tmpdir() end)
  teardown(function() if dir then H.rmtree(dir) end end)

  local function plot_cli(args)
    local out, err, status = H.sh(("%s %s %s"):format(q(TPP), q(ROOT .. "/scripts/plot.lua"), args))
    return status, err, out
  end

  it("prints an aligned --help that lists the exit status", function()
    local status, err, out = plot_cli("--help")
    assert.are.equal(0, status, err)
    assert.matches("Exit status: 0 .* 1 .* 2 on a usage error, 130 when interrupted", out:gsub("\n", " "))
    local column
    for line in out:gmatch("[^\n]+") do
      local label_end = line:match("^  %-.-%S()  +%S")
      if label_end then
        local col = line:find("%S", label_end)
        column = column or col
        assert.are.equal(column, col, line)
      end
    end
    assert.is_truthy(column)
    assert.matches("\n  %-o, %-%-out DIR +Output directory", out)
  end)

  it("exits 2 on a usage error", function()
    for _, args in ipairs({ "--no-such-option x", "--width abc x", "--format jpg x", "-f 1,30 x", "" }) do
      local status, err = plot_cli(args)
      assert.are.equal(2, status, args .. ": " .. err)
      assert.matches("^plot: ", err)
    end
  end)

  it_gp("exits 130 when interrupted, its gnuplot processes ended and no figure half-written", function()
    local path = capture(dir, "slow")
    local pids = dir .. "/pids"
    local fake = H.write_file(dir .. "/slow-gnuplot", ("#!/bin/sh\necho $$ >> %s\nexec sleep 30\n"):format(q(pids)))
    os.execute("chmod +x " .. q(fake))
    local out = dir .. "/out"
    local _, err, status = H.sh(("{ %s %s -f 1,2,3 -j 2 --gnuplot %s -o %s %s & pid=$!; sleep 1; kill -INT $pid; "
      .. "wait $pid; }"):format(q(TPP), q(ROOT .. "/scripts/plot.lua"), q(fake), q(out), q(path)))
    assert.are.equal(130, status, err)
    assert.are.equal("tpp: interrupted\n", err)   -- the host's one line, as for every script
    local started = 0
    for pid in io.lines(pids) do
      started = started + 1
      assert.is_false(os.execute("kill -0 " .. pid .. " 2>/dev/null") and true or false, "gnuplot " .. pid .. " runs on")
    end
    assert.are.equal(2, started)
    assert.are.same({}, list_dir(out))
  end)
end)
