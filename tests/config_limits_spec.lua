-- Config files run as data with limits: tpp.load_data's sandbox (memory, instructions, nothing but plain data
-- back) and the main job's --config refusing a file that hangs or eats memory, naming it, exit status 2.
local tpp = require "tpp"
local lfs = require "lfs"
local H = require "tests.helper"

local q = H.shell_quote
local TPP = H.tpp_binary()
TPP = TPP:sub(1, 1) == "/" and TPP or lfs.currentdir() .. "/" .. TPP:gsub("^%./", "")
local EXEC = lfs.currentdir() .. "/scripts/exec.lua"
local ASAN = TPP:find("asan", 1, true) ~= nil

-- Run a shell command under a time limit and, unless under ASan (which reserves terabytes of address space), a
-- limit on memory: a loader without limits fails the spec instead of hanging or swapping the machine.
local function bounded(cmd)
  return H.sh(("%s timeout 60 sh -c %s"):format(ASAN and "" or "ulimit -v 4000000;", q(cmd)))
end

describe("tpp.load_data", function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rmtree(dir) end)

  local function load(source)
    local t, err = tpp.load_data(H.write_file(dir .. "/c.lua", source))
    return t, err
  end

  it("returns a copy of the plain data the file returns, computed with arithmetic and string methods", function()
    local t = load([[
local minute = 60
return { delta_t = minute / 30, max = 3, name = ("mawi"):upper() .. ("-"):rep(2), on = true,
         paths = { "a", "b" }, [7] = { deep = { 1.5 } } }
]])
    assert.are.same({ delta_t = 2.0, max = 3, name = "MAWI--", on = true, paths = { "a", "b" }, [7] = { deep = { 1.5 } } }, t)
    assert.are.equal("integer", math.type(t.max))
  end)

  it("runs the file in an empty environment", function()
    for _, code in ipairs { "print(1)", "os.exit(3)", "io.open('x', 'w')", "require 'lfs'", "load('return 1')",
                            "setmetatable({}, {})", "string.rep('x', 2)", "return _G.x" } do
      local t, err = load(code)
      assert.is_nil(t, code)
      assert.matches("c%.lua:1: attempt to", err, nil, code)
    end
  end)

  it("offers no pattern matching, which can run for hours inside one instruction", function()
    local _, err = load("return { (('a'):rep(30)):find(('a*'):rep(30) .. 'b') }")
    assert.matches("c%.lua:1: attempt to call a nil value %(method 'find'%)", err)
  end)

  it("stops a file that runs too long, naming the file and line", function()
    local t0 = tpp.now()
    local t, err = load("local x = 0\nwhile true do x = x + 1 end\n")
    assert.is_nil(t)
    assert.are.equal(dir .. "/c.lua:2: runs too long (stopped after 100 million Lua instructions)", err)
    assert.is_true(tpp.now() - t0 < 30)
  end)

  it("stops a file that uses too much memory", function()
    for _, code in ipairs { "local s = 'x' while true do s = s .. s end",
                            "return { ('x'):rep(1 << 30) }",
                            "local t = {} for i = 1, 1e8 do t[i] = i end return t" } do
      local t, err = load(code)
      assert.is_nil(t, code)
      assert.are.equal(dir .. "/c.lua: uses too much memory (the limit is 64 MB)", err)
    end
    collectgarbage()
  end)

  it("refuses what is not plain data: functions, cycles, a non-table", function()
    local cases = {
      { "return { f = function() end }", "the returned table holds a function" },
      { "local t = {} t.self = t return t", "nested more than 16 deep" },
      { "return { [{}] = 1 }", "has a key that is a table" },
      { "return 42", "must return a table, returned number" },
      { "return { delta_t = }", "c%.lua:1: unexpected symbol near '}'" },
    }
    for _, c in ipairs(cases) do
      local t, err = load(c[1])
      assert.is_nil(t, c[1])
      assert.matches(c[2], err, nil, c[1])
    end
    local t, err = tpp.load_data(dir .. "/missing.lua")
    assert.is_nil(t)
    assert.are.equal(dir .. "/missing.lua: cannot open: No such file or directory", err)
  end)
end)

describe("the main job's --config", function()
  local dir
  setup(function()
    dir = H.tmpdir()
    H.write_capture(dir .. "/c.pcap", "ethernet",
      { { ts = 1700000000, data = H.eth4_udp("10.0.0.1", "10.0.0.2", 1000, 53, "x") } })
  end)
  teardown(function() H.rmtree(dir) end)

  local function exec(args)
    return bounded(("cd %s && %s %s %s"):format(q(dir), q(TPP), q(EXEC), args))
  end

  it("refuses a config that never ends: the file and line, exit status 2, nothing written", function()
    H.write_file(dir .. "/hang.lua", "local t = { delta_t = 5 }\nwhile true do end\nreturn t\n")
    local out, err, status = exec("--config hang.lua -o out c.pcap")
    assert.are.equal(2, status, err)
    assert.are.equal("", out)
    assert.matches("^tpp: hang%.lua:2: runs too long", err)
    assert.is_nil(lfs.attributes(dir .. "/out"))
  end)

  it("refuses a config that doubles a string until memory runs out: exit status 2, nothing written", function()
    H.write_file(dir .. "/greedy.lua", "local s = 'x'\nwhile true do s = s .. s end\n")
    local out, err, status = exec("--config greedy.lua -o out c.pcap")
    assert.are.equal(2, status, err)
    assert.are.equal("", out)
    assert.matches("^tpp: greedy%.lua: uses too much memory %(the limit is 64 MB%)", err)
    assert.is_nil(lfs.attributes(dir .. "/out"))
  end)

  it("is stopped by Ctrl-C while it runs: one line, status 130", function()
    H.write_file(dir .. "/slow.lua", "while true do end\n")
    local _, err, status = H.sh(("cd %s && { %s %s --config slow.lua c.pcap & pid=$!; sleep 0.2; kill -INT $pid; wait $pid; }")
      :format(q(dir), q(TPP), q(EXEC)))
    assert.are.equal("tpp: interrupted\n", err)
    assert.are.equal(130, status)
  end)
end)
