-- Ctrl-C (SIGINT): one recognisable value (tpp.INTERRUPTED), one line "tpp: interrupted", exit status 130, the parse
-- loop noticing it within a second, and the main job leaving no temporary file and no child process behind.
local tpp = require "tpp"
local lfs = require "lfs"
local synth = require "tpp.synth"
local H = require "tests.helper"

local q = H.shell_quote
local TPP = H.tpp_binary()
TPP = TPP:sub(1, 1) == "/" and TPP or lfs.currentdir() .. "/" .. TPP:gsub("^%./", "")

-- Milliseconds since the epoch, in the shell (date +%s%N), so that a command can time its own steps.
local NOW_MS = "$(($(date +%s%N) / 1000000))"

-- Every process whose command line or working directory mentions `dir`: what an interrupted run left running.
local function processes_in(dir)
  local found = {}
  for pid in lfs.dir("/proc") do
    if pid:match("^%d+$") and tonumber(pid) ~= tpp.pid() then
      local f = io.open("/proc/" .. pid .. "/cmdline", "rb")
      local cmdline = f and f:read("a") or ""
      if f then f:close() end
      local cwd = lfs.symlinkattributes("/proc/" .. pid .. "/cwd", "target") or ""
      if cmdline:find(dir, 1, true) or cwd:find(dir, 1, true) then
        found[#found + 1] = pid .. ": " .. cmdline:gsub("%z", " ")
      end
    end
  end
  return found
end

-- Files under dir whose names say they are temporary or half-written.
local function leftovers(dir)
  local out = H.run("find " .. q(dir) .. " \\( -name '*.tmp*' -o -name '*.part' -o -name 'tpp-plot.*' -o -name '.tpp-tmp*' \\) -print")
  local names = {}
  for name in out:gmatch("[^\n]+") do names[#names + 1] = name end
  return names
end

describe("Ctrl-C", function()
  local dir
  setup(function()
    dir = H.tmpdir()
    assert(lfs.mkdir(dir .. "/in"))
    synth.generate(dir .. "/in/a.pcap.gz", { packets = 100000, duration = 600, seed = 1 })
    synth.generate(dir .. "/in/b.pcap.gz", { packets = 100000, duration = 600, seed = 2 })
  end)
  teardown(function() H.rmtree(dir) end)

  it("is one value, tpp.INTERRUPTED, that the host reports as one line and status 130", function()
    assert.is_true(tpp.interrupted(tpp.INTERRUPTED))
    assert.is_false(tpp.interrupted("interrupted!"))
    assert.is_false(tpp.interrupted(nil))
    assert.are.equal("interrupted", tostring(tpp.INTERRUPTED))
    local out, err, status = H.sh(q(TPP) .. " -e " .. q("print 'before' error(require('tpp').INTERRUPTED)"))
    assert.are.equal("before\n", out)
    assert.are.equal("tpp: interrupted\n", err)
    assert.are.equal(130, status)
  end)

  it("interrupts a running script: one line, status 130", function()
    local _, err, status = H.sh(("{ %s -e 'while true do end' & pid=$!; sleep 0.3; kill -INT $pid; wait $pid; }")
      :format(q(TPP)))
    assert.are.equal("tpp: interrupted\n", err)
    assert.are.equal(130, status)
  end)

  it("is not lost while os.execute runs a command (system() would ignore it)", function()
    local code = "local tpp = require 'tpp' os.execute('sleep 0.6') "
      .. "local t = tpp.now() while tpp.now() - t < 4 do end print('the interrupt was lost')"
    local out, err, status = H.sh(("{ %s -e %s & pid=$!; sleep 0.2; kill -INT $pid; wait $pid; }"):format(q(TPP), q(code)))
    assert.are.equal("", out)
    assert.are.equal("tpp: interrupted\n", err)
    assert.are.equal(130, status)
  end)

  it("stops tpp.parse within a second on a gzip stream that arrives slowly, raising tpp.INTERRUPTED", function()
    -- The capture trickles in, 32 KiB every 20 ms: the parse keeps receiving data for about 5 s.
    local feeder = ("local f = assert(io.open(%q, 'rb')) "
      .. "for block in function() return f:read(32768) end do io.stdout:write(block) io.stdout:flush() "
      .. "os.execute('sleep 0.02') end"):format(dir .. "/in/a.pcap.gz")
    local parse = "local tpp = require 'tpp' local ok, e = pcall(tpp.parse, '-') "
      .. "print(ok and 'finished' or tpp.interrupted(e) and 'interrupted' or tostring(e))"
    local out, err, status = H.sh(("{ %s -e %s | %s -e %s & pid=$!; sleep 1; kill -INT $pid; t0=%s; wait $pid; "
      .. "s=$?; echo \"$((%s - t0))\" >&2; exit $s; }"):format(q(TPP), q(feeder), q(TPP), q(parse), NOW_MS, NOW_MS))
    assert.are.equal("interrupted\n", out, err)
    assert.are.equal(0, status, err)
    local ms = tonumber(err:match("(%d+)\n$"))
    assert.is_true(ms < 1000, ("it took %d ms after the SIGINT"):format(ms))
  end)

  it("stops scripts/synth.lua part-way, leaving no capture (its writer is discarded, not committed)", function()
    local out_file = dir .. "/synth-out.pcap"
    local _, err, status = H.sh(("{ %s scripts/synth.lua -q --packets 5000000 %s & pid=$!; sleep 0.7; kill -INT $pid; "
      .. "wait $pid; }"):format(q(TPP), q(out_file)))
    assert.are.equal("tpp: interrupted\n", err)
    assert.are.equal(130, status)
    assert.is_nil(lfs.attributes(out_file))
    assert.are.same({}, leftovers(dir))
  end)

  it("ends a parse blocked on a stream that went silent within about a second (the watchdog)", function()
    local code = "require('tpp').parse('-') print('finished')"
    local fifo = dir .. "/silent.fifo"
    local out, err, status = H.sh(("{ mkfifo %s; { head -c 300000 %s; sleep 3; } > %s & %s -e %s < %s & pid=$!; "
      .. "sleep 0.5; kill -INT $pid; t0=%s; wait $pid; s=$?; echo \"$((%s - t0))\"; exit $s; }")
      :format(q(fifo), q(dir .. "/in/a.pcap.gz"), q(fifo), q(TPP), q(code), q(fifo), NOW_MS, NOW_MS))
    os.remove(fifo)
    assert.are.equal("tpp: interrupted\n", err)
    assert.are.equal(130, status)
    local ms = tonumber(out:match("^(%d+)\n$"))
    assert.is_true(ms ~= nil and ms < 1800, out)
  end)

  it("stops the main job (-j 2, figures) while it draws: 130, one line, no temporary file, no child left", function()
    local out_dir, tmp = dir .. "/out", dir .. "/tmp"
    assert(lfs.mkdir(tmp))
    -- SIGINT once drawing has begun (a figure or its partial file exists), measured from there to the exit.
    local cmd = ("{ TMPDIR=%s %s scripts/exec.lua -q -j 2 -o %s %s & pid=$!; "
      .. "for i in $(seq 200); do ls %s/plot 2>/dev/null | grep -q png && break; sleep 0.05; done; "
      .. "kill -INT $pid; t0=%s; wait $pid; s=$?; echo \"$((%s - t0))\"; exit $s; }")
      :format(q(tmp), q(TPP), q(out_dir), q(dir .. "/in"), q(out_dir), NOW_MS, NOW_MS)
    local out, err, status = H.sh(cmd)
    assert.are.equal("tpp: interrupted\n", err)
    assert.are.equal(130, status)
    local ms = tonumber(out:match("(%d+)\n$"))
    assert.is_true(ms < 1500, ("it took %d ms after the SIGINT"):format(ms))
    assert.are.same({}, leftovers(dir))
    H.run("sleep 0.2")
    assert.are.same({}, processes_in(dir))
    -- whatever was written is whole: every figure is a complete PNG (it ends with the IEND chunk)
    for name in lfs.dir(out_dir .. "/plot") do
      if name:match("%.png$") then
        assert.are.equal("IEND\xae\x42\x60\x82", H.read_file(out_dir .. "/plot/" .. name):sub(-8), name)
      end
    end
  end)
end)

describe("tpp --help and usage errors", function()
  it("prints the usage, the options, where the main job is and the exit statuses, exit status 0", function()
    for _, opt in ipairs { "--help", "-h" } do
      local out, err, status = H.sh("cd / && " .. q(TPP) .. " " .. opt)
      assert.are.equal(0, status, opt)
      assert.are.equal("", err)
      assert.matches("usage: tpp %[options%] %[script %[args%]%]", out)
      assert.matches("\n       tpp %-i %[%-t SEC%]", out)
      for _, option in ipairs { "-e stat", "-l mod", "-v", "-E", "-W", "-h, --help" } do
        assert.truthy(out:find("\n  " .. option, 1, true), option)
      end
      -- the main job, at a path that works from any directory
      local exec = out:match("\n  tpp (%S+) %-%-help")
      assert.truthy(exec, out)
      assert.are.equal(lfs.currentdir() .. "/scripts/exec.lua", exec)
      assert.truthy(out:find("130 interrupted", 1, true), out)
    end
  end)

  it("exits with status 2 on a usage error, after the usage on stderr", function()
    for _, args in ipairs { "-x", "--bogus", "-e", "-l" } do
      local out, err, status = H.sh(q(TPP) .. " " .. args)
      assert.are.equal(2, status, args)
      assert.are.equal("", out)
      assert.matches("^tpp: .*\nusage: tpp ", err)
    end
  end)
end)
