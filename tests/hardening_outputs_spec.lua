-- Red-team findings on outputs, interruption and limits (issue 12, items 11-13, 16, 17, 20): variants of the
-- issue's cases that the first fixes missed.
local H = require "tests.helper"
local lfs = require "lfs"

local q = H.shell_quote
local ROOT, TPP = H.ROOT, H.tpp_absolute()
local EXEC = ROOT .. "/scripts/exec.lua"
local PLOT = ROOT .. "/scripts/plot.lua"

local tpp_in = H.tpp_in

local function capture(path, n)
  local pkts = {}
  for i = 1, n do
    pkts[i] = { ts_ns = H.T0 + (i - 1) * H.NS, data = H.eth4_udp("10.0.0.1", "10.0.0.2", 1000 + i, 53, "x") }
  end
  return H.write_capture(path, "ethernet", pkts)
end

-- Names in dir that are not in `expected` (a set).
local function others(dir, expected)
  local out = {}
  for name in lfs.dir(dir) do
    if name ~= "." and name ~= ".." and not expected[name] then out[#out + 1] = name end
  end
  table.sort(out)
  return out
end

describe("a pcap writer left open when Ctrl-C ends the script", function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rmtree(dir) end)

  -- The script writes packets until it is interrupted; `after` is what it does with the interrupt.
  local function interrupted_writer(after)
    H.write_file(dir .. "/gen.lua", ([[
local tpp = require "tpp"
local w = tpp.pcap_writer("out.pcap", "raw")
local ip = "\x45\0\0\x28\0\0\0\0\x40\x06\0\0\10\0\0\1\10\0\0\2" .. ("\0"):rep(20)
io.stdout:write("writing\n") io.stdout:flush()
local ok, err = pcall(function() local i = 0 while true do i = i + 1 w:write(i * 1e-6, ip) end end)
%s
]]):format(after))
    return H.sh(("cd %s && { %s gen.lua > started & pid=$!; "
      .. "for i in $(seq 100); do [ -s started ] && break; sleep 0.05; done; sleep 0.2; kill -INT $pid; wait $pid; }")
      :format(q(dir), q(TPP)))
  end

  it("is thrown away, not committed half-written (exit 130)", function()
    local _, err, status = interrupted_writer("error(err, 0)")
    assert.are.equal(130, status, err)
    assert.are.equal("tpp: interrupted\n", err)
    assert.is_nil(lfs.attributes(dir .. "/out.pcap"))
    assert.are.same({}, others(dir, { ["gen.lua"] = true, started = true }))
  end)

  it("is thrown away when the script passes the interrupt on with os.exit(130)", function()
    local _, err, status = interrupted_writer("os.exit(130)")
    assert.are.equal(130, status, err)
    assert.is_nil(lfs.attributes(dir .. "/out.pcap"))
  end)

  it("is still committed when the script ends normally or by another error", function()
    H.write_file(dir .. "/ok.lua", [[
local w = require("tpp").pcap_writer("ok.pcap", "raw") w:write(1, ("\0"):rep(20))
local v = require("tpp").pcap_writer("err.pcap", "raw") v:write(1, ("\0"):rep(20))
error("boom")]])
    local _, _, status = tpp_in(dir, "ok.lua")
    assert.are.equal(1, status)
    assert.are.equal(1, assert(require("tpp").parse(dir .. "/ok.pcap")).packets)
    assert.are.equal(1, assert(require("tpp").parse(dir .. "/err.pcap")).packets)
  end)
end)

describe("scripts/plot.lua", function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rmtree(dir) end)

  it("reports a bad filter once, as a usage error (exit 2), before drawing or creating anything", function()
    lfs.mkdir(dir .. "/in")
    for i = 1, 3 do capture(("%s/in/c%d.pcap"):format(dir, i), 2) end
    local _, err, status = tpp_in(dir, ("%s -f 1 --filter 'tcp and and' -o figs in"):format(q(PLOT)))
    assert.are.equal(2, status, err)
    local n = 0
    for _ in err:gmatch("bad filter") do n = n + 1 end
    assert.are.equal(1, n, err)
    assert.is_nil(lfs.attributes(dir .. "/figs"))
  end)

  it("does not take its own output directory for inputs when it walks the directory holding it", function()
    lfs.mkdir(dir .. "/in")
    capture(dir .. "/in/x.pcap", 2)
    for _ = 1, 2 do
      local _, err, status = tpp_in(dir, ("%s -f none -o in/figs in"):format(q(PLOT)))
      assert.are.equal(0, status, err)
      assert.is_falsy(err:find("skipping", 1, true), err)
    end
    assert.are.same({ "x.html" }, others(dir .. "/in/figs", {}))
  end)

  it("writes its page as every output is written: nothing but the page is left beside it", function()
    lfs.mkdir(dir .. "/in")
    capture(dir .. "/in/x.pcap", 2)
    H.write_file(dir .. "/in/.tpp-tmp-999999999-ab", "a dead writer's temporary")
    local _, err, status = tpp_in(dir, ("%s -f none -o in in/x.pcap"):format(q(PLOT)))
    assert.are.equal(0, status, err)
    assert.are.same({ "x.html", "x.pcap" }, others(dir .. "/in", {}))
  end)
end)

describe("a config file", function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rmtree(dir) end)

  it("that never ends (an endless comment from a pipe) fails at once, naming it: exit 2, nothing written", function()
    capture(dir .. "/x.pcap", 2)
    -- the parser runs no instruction hook: only a limit on what is read stops this
    local _, err, status = H.sh("bash -c " .. q(("cd %s && timeout 20 %s %s -o out --config <(printf 'return {} --'; "
      .. "exec tr '\\0' a < /dev/zero) x.pcap"):format(q(dir), q(TPP), q(EXEC))))
    assert.are.equal(2, status, err)
    assert.is_truthy(err:find("^tpp: /dev/fd/%d+: larger than 16 MB"), err)
    assert.is_nil(lfs.attributes(dir .. "/out"))
  end)

  it("may still start with #! and a byte-order mark, and its errors give the right line", function()
    capture(dir .. "/x.pcap", 2)
    H.write_file(dir .. "/job.lua", "\xef\xbb\xbf#!/usr/bin/env tpp\nreturn { delta_t = 2, figures = 'none' }\n")
    local _, err, status = tpp_in(dir, ("%s -o out --config job.lua x.pcap"):format(q(EXEC)))
    assert.are.equal(0, status, err)
    H.write_file(dir .. "/bad.lua", "#!/usr/bin/env tpp\n\nreturn { delta_t = 2 +}\n")
    _, err, status = tpp_in(dir, ("%s -o out --config bad.lua x.pcap"):format(q(EXEC)))
    assert.are.equal(2, status, err)
    assert.is_truthy(err:find("tpp: bad.lua:3: ", 1, true), err)
  end)
end)

describe("scripts/synth.lua", function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rmtree(dir) end)

  it("exits 2 on a usage error, as every script does, and writes nothing", function()
    for _, args in ipairs { "--bogus x.pcap", "", "--duration 0 x.pcap", "--ipv6 2 x.pcap" } do
      local _, err, status = tpp_in(dir, ("%s %s"):format(q(ROOT .. "/scripts/synth.lua"), args))
      assert.are.equal(2, status, args .. ": " .. err)
      assert.is_truthy(err:find("Usage: tpp scripts/synth.lua", 1, true), err)
      assert.is_nil(lfs.attributes(dir .. "/x.pcap"))
    end
  end)
end)

describe("the example scripts", function()
  it("exit 1 when their trace cannot be read (a failure of the world, as in the main job), 2 on a usage error", function()
    for _, script in ipairs { "top_ports.lua", "entropy_anomalies.lua", "compare.lua" } do
      local cmd = ("%s %s"):format(q(TPP), q(ROOT .. "/scripts/examples/" .. script))
      local missing = script == "compare.lua" and " no-such-a.pcap no-such-b.pcap" or " no-such-a.pcap"
      local _, err, status = H.sh(cmd .. missing)
      assert.are.equal(1, status, script .. ": " .. err)
      assert.is_truthy(err:find("no-such-a.pcap: No such file or directory", 1, true), err)
      _, err, status = H.sh(cmd .. " --no-such-option")
      assert.are.equal(2, status, script .. ": " .. err)
    end
  end)
end)

describe("a filter that compiles for Ethernet but not for a capture's link type", function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rmtree(dir) end)

  it("fails that capture naming the link type, and a run that wrote nothing leaves no empty folders", function()
    local ip = H.ipv4("10.0.0.1", "10.0.0.2", 17, H.udp(1000, 53, "x"))
    H.write_capture(dir .. "/raw.pcap", "raw", { { ts_ns = H.T0, data = ip }, { ts_ns = H.T0 + H.NS, data = ip } })
    local _, err, status = tpp_in(dir, ("%s -f 1 -o out --filter 'ether host 1:2:3:4:5:6' raw.pcap"):format(q(EXEC)))
    assert.are.equal(1, status, err)
    local want = 'tpp: raw.pcap: bad filter "ether host 1:2:3:4:5:6" for link type raw IP (101): '
    assert.is_truthy(err:find(want, 1, true), err)
    assert.is_nil(lfs.attributes(dir .. "/out"))
    -- folders that were there before the run stay, empty or not
    lfs.mkdir(dir .. "/kept")
    lfs.mkdir(dir .. "/kept/critical")
    _, err, status = tpp_in(dir, ("%s -f none -o kept --filter 'ether host 1:2:3:4:5:6' raw.pcap"):format(q(EXEC)))
    assert.are.equal(1, status, err)
    assert.are.same({ "critical" }, others(dir .. "/kept", {}))
  end)
end)

describe("a figure moved across file systems (the work directory under another $TMPDIR)", function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rmtree(dir) end)

  it("is written as every output is: no named temporary, and a dead writer's one is cleared", function()
    local shm = "/dev/shm"
    local a, b = lfs.attributes(shm), lfs.attributes(dir)
    if not a or a.dev == b.dev then return pending("no second file system at /dev/shm") end
    local from = ("%s/tpp-spec-r1-move-%d"):format(shm, require("tpp").pid())
    H.write_file(from, ("figure"):rep(50000))
    H.write_file(dir .. "/.tpp-tmp-999999999-zz", "left by a writer that was killed")
    assert.is_true(require("tpp.gnuplot").move(from, dir .. "/x_1.png"))
    assert.are.equal(("figure"):rep(50000), H.read_file(dir .. "/x_1.png"))
    assert.is_nil(lfs.attributes(from))
    assert.are.same({ "x_1.png" }, others(dir, {}))
  end)
end)

describe("a bad filter given to tpp -i", function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rmtree(dir) end)

  it("is one usage error (exit 2), not one failure per file; tpp.parse names the link type only when it matters", function()
    lfs.mkdir(dir .. "/in")
    for i = 1, 3 do capture(("%s/in/c%d.pcap"):format(dir, i), 2) end
    local _, err, status = tpp_in(dir, "-i --filter 'tcp and and' in < /dev/null")
    assert.are.equal(2, status, err)
    local n = 0
    for _ in err:gmatch("bad filter") do n = n + 1 end
    assert.are.equal(1, n, err)
    local tpp = require "tpp"
    local _, perr = tpp.parse(dir .. "/in/c1.pcap", { filter = "tcp and and" })
    assert.is_truthy(perr:find('c1.pcap: bad filter "tcp and and": ', 1, true), perr)
  end)
end)

describe("the example scripts' header line", function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rmtree(dir) end)

  it("stays one comment line when the capture's name holds a newline", function()
    local name = "two\nlines.pcap"
    capture(dir .. "/" .. name, 3)
    for _, script in ipairs { "top_ports.lua", "entropy_anomalies.lua" } do
      local out, err, status = H.sh(("cd %s && %s %s %s"):format(q(dir), q(TPP),
        q(ROOT .. "/scripts/examples/" .. script), q(name)))
      assert.are.equal(0, status, err)
      assert.is_truthy(out:find("^# [^\n]*two\\nlines%.pcap"), out)
      assert.is_falsy(out:find("\nlines.pcap", 1, true), out)
    end
  end)
end)

describe("figures of a dump with a long name", function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rmtree(dir) end)

  it("are named after its name cut as the main job cuts it, so that every figure, heatmaps included, fits", function()
    capture(dir .. "/x.pcap", 3)
    local name = ("n"):rep(248)
    assert(assert(require("tpp").parse(dir .. "/x.pcap")):dump(dir .. "/" .. name .. ".tpd"))
    local _, err, status = tpp_in(dir, ("%s -f 12 --heatmap -o figs %s"):format(q(PLOT), q(name .. ".tpd")))
    assert.are.equal(0, status, err)
    local files = others(dir .. "/figs", {})
    assert.are.equal(3, #files, table.concat(files, "\n"))
    for _, f in ipairs(files) do assert.is_true(#f <= 255, f) end
  end)
end)

describe("a config file's values", function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rmtree(dir) end)

  it("are reported by what is wrong, never as a table's address", function()
    capture(dir .. "/x.pcap", 2)
    H.write_file(dir .. "/bad.lua", "return { paths = { 'x.pcap', 7 } }\n")
    local _, err, status = tpp_in(dir, ("%s -o out --config bad.lua"):format(q(EXEC)))
    assert.are.equal(2, status, err)
    local want = "tpp: bad.lua: option paths must be a path or a non-empty list of paths (item 2 is 7)"
    assert.is_truthy(err:find(want, 1, true), err)
    assert.is_falsy(err:find("0x", 1, true), err)
    H.write_file(dir .. "/figs.lua", "return { paths = 'x.pcap', figures = { 1, 30 } }\n")
    _, err, status = tpp_in(dir, ("%s -o out --config figs.lua"):format(q(EXEC)))
    assert.are.equal(2, status, err)
    assert.is_falsy(err:find("0x", 1, true), err)
  end)
end)

describe("counts in messages", function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rmtree(dir) end)

  it("are singular for one: a result of 1 packet, 1 of 1 figure, 1 packet read", function()
    capture(dir .. "/one.pcap", 1)
    local r = assert(require("tpp").parse(dir .. "/one.pcap"))
    assert.is_truthy(tostring(r):find(", 1 packet (1 IP)", 1, true), tostring(r))
    local sink, lines = { flush = function() end }, {}
    function sink.write(_, ...) for _, s in ipairs { ... } do lines[#lines + 1] = s end end
    local d = require("tpp.progress").new { tty = false, every = 0, stream = sink }
    d:start(1, "one.pcap", 100)
    d:update(1, 50, 100, 1)
    d:start(2, "-", 0)
    d:update(2, 50, 0, 1)
    local text = table.concat(lines)
    assert.is_truthy(text:find("(50 B of 100 B), 1 packet, ", 1, true), text)
    assert.is_truthy(text:find("50 B read, 1 packet, ", 1, true), text)
    local _, _, has = H.sh("command -v gnuplot >/dev/null")
    if has ~= 0 then return end
    local _, err = H.sh(("cd %s && %s -e %s"):format(q(dir), q(TPP), q("require('tpp.plot').draw("
      .. "assert(require('tpp').parse('one.pcap')), { dir = 'figs', figures = { 1 } })")))
    assert.is_truthy(err:find("plot: one: 1 of 1 figure in ", 1, true), err)
  end)
end)

describe("scripts/plot.lua -o naming a regular file", function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rmtree(dir) end)

  it("says once that it is not a directory (exit 1), not once per figure with 'File exists'", function()
    capture(dir .. "/x.pcap", 2)
    H.write_file(dir .. "/taken", "a file")
    local _, err, status = tpp_in(dir, ("%s -f 1,2,3 -o taken x.pcap"):format(q(PLOT)))
    assert.are.equal(1, status, err)
    assert.are.equal("plot: taken: not a directory\n", err)
    assert.are.equal("a file", H.read_file(dir .. "/taken"))
    -- tpp.plot.draw itself: a failure per figure in its list, one line on stderr
    local out
    out, err = H.sh(("cd %s && %s -e %s"):format(q(dir), q(TPP), q("local _, f = require('tpp.plot').draw("
      .. "assert(require('tpp').parse('x.pcap')), { dir = 'taken/figs', figures = { 1, 2, 3 } }) print(#f)")))
    assert.are.equal("4\n", out)
    assert.are.equal("plot: x: page: cannot create the output directory: taken: not a directory\n", err)
  end)
end)
