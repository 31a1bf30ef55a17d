-- How the main job finds its captures (tpp.walk): each directory walked once and each file taken once, by device
-- and inode (symbolic-link loops, symbolic and hard links, paths named twice); hidden entries and the output
-- root's own folders skipped; and how it prints what it found: control characters escaped, plurals right, names
-- too long for the file system cut.
local H = require "tests.helper"
local lfs = require "lfs"
local walk = require "tpp.walk"

local q = H.shell_quote

local exec = H.exec_in

local function sh(cmd) assert(os.execute(cmd), cmd) end

local function capture(path, n)
  local pkts = {}
  for i = 1, n or 3 do
    pkts[i] = { ts_ns = H.T0 + (i - 1) * H.NS, data = H.eth4_udp("10.0.0.1", "10.0.0.2", 1000 + i, 53, "x") }
  end
  return H.write_capture(path, "ethernet", pkts)
end

local function lines(text)
  local out = {}
  for line in text:gmatch("[^\n]+") do out[#out + 1] = line end
  return out
end

local function count_matching(text, pattern)
  local n = 0
  for _, line in ipairs(lines(text)) do if line:find(pattern, 1, true) then n = n + 1 end end
  return n
end

describe("walking the inputs", function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rmtree(dir) end)

  it("follows a symbolic-link loop once and says it is a loop", function()
    lfs.mkdir(dir .. "/in")
    lfs.mkdir(dir .. "/in/sub")
    capture(dir .. "/in/x.pcap")
    sh(("ln -s .. %s"):format(q(dir .. "/in/sub/up")))
    local _, err, status = exec(dir, "-f none -o out in")
    assert.are.equal(0, status, err)
    assert.are.equal(1, count_matching(err, " -> "), err)          -- one capture processed
    assert.are.equal(1, count_matching(err, "symbolic link loop"), err)
    assert.is_truthy(err:find("tpp: in/sub/up: a symbolic link loop (it leads back to in): not followed", 1, true), err)
    assert.is_falsy(err:find("no such file", 1, true), err)
    assert.is_truthy(err:find("tpp: 1 capture,", 1, true), err)
  end)

  it("processes a file reached through symbolic and hard links, or named twice, once", function()
    lfs.mkdir(dir .. "/in")
    capture(dir .. "/in/x.pcap")
    sh(("ln -s x.pcap %s && ln %s %s"):format(q(dir .. "/in/y.pcap"), q(dir .. "/in/x.pcap"), q(dir .. "/in/z.pcap")))
    sh(("ln -s in %s"):format(q(dir .. "/again")))
    local _, err, status = exec(dir, "-f none -o out in in/x.pcap again ./in/z.pcap")
    assert.are.equal(0, status, err)
    assert.are.equal(1, count_matching(err, " -> "), err)
    assert.is_truthy(err:find("tpp: in/x.pcap -> x:", 1, true), err)
    local found = walk.captures { dir .. "/in", dir .. "/again", dir .. "/in/z.pcap" }
    assert.are.same({ dir .. "/in/x.pcap" }, found)
  end)

  it("skips hidden files and directories inside a directory, but takes one named explicitly", function()
    lfs.mkdir(dir .. "/in")
    lfs.mkdir(dir .. "/in/.cache")
    capture(dir .. "/in/.cache/hidden.pcap")
    capture(dir .. "/in/.dot.pcap")
    H.write_file(dir .. "/in/.gitkeep", "")
    capture(dir .. "/in/seen.pcap")
    local _, err, status = exec(dir, "-f none -o out in")
    assert.are.equal(0, status, err)
    assert.are.equal(1, count_matching(err, " -> "), err)
    assert.is_falsy(err:find("hidden", 1, true), err)
    assert.is_falsy(err:find("gitkeep", 1, true), err)
    assert.is_falsy(err:find("dot", 1, true), err)
    _, err, status = exec(dir, "-f none -o out in/.dot.pcap")
    assert.are.equal(0, status, err)
    assert.is_truthy(err:find("in/.dot.pcap -> .dot:", 1, true), err)
  end)

  it("skips the output root's own folders when walking it", function()
    capture(dir .. "/x.pcap")
    local _, err, status = exec(dir, "-f none .")
    assert.are.equal(0, status, err)
    _, err, status = exec(dir, "-f none .")   -- now ./critical, ./mem_dump and ./port_count exist
    assert.are.equal(0, status, err)
    assert.is_falsy(err:find("skipping", 1, true), err)
    assert.are.equal(1, count_matching(err, " -> "), err)
    -- another -o: those folders are ordinary directories again
    _, err = exec(dir, "-f none -o elsewhere .")
    assert.is_truthy(err:find("skipping ./critical/x_critical.tsv", 1, true), err)
  end)

  it("reports a self-referencing symbolic link and a dangling one with their reasons", function()
    sh(("ln -s self %s && ln -s nowhere %s"):format(q(dir .. "/self"), q(dir .. "/dangling")))
    local _, err, status = exec(dir, "-f none self dangling")
    assert.are.equal(1, status)
    assert.is_truthy(err:find("tpp: self: too many levels of symbolic links", 1, true), err)
    assert.is_truthy(err:find("tpp: dangling: dangling symbolic link", 1, true), err)
  end)
end)

describe("printing what was found", function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rmtree(dir) end)

  it("escapes control characters in names", function()
    capture(dir .. "/a\nb\27[31m.pcap")
    H.write_file(dir .. "/not\ta capture", "hello")
    local _, err, status = exec(dir, "-f none -o out .")
    assert.are.equal(0, status, err)
    for _, line in ipairs(lines(err)) do
      assert.is_truthy(line:match("^tpp: "), line)
      assert.is_falsy(line:find("\27", 1, true), line)
    end
    assert.is_truthy(err:find("./a\\nb\\x1b[31m.pcap -> a\\nb\\x1b[31m:", 1, true), err)
    assert.is_truthy(err:find("not\\ta capture", 1, true), err)
    assert.are.equal("a\\nb\\x1b[31m", walk.printable("a\nb\27[31m"))
  end)

  it("says 1 interval, 1 packet, 1 capture", function()
    capture(dir .. "/one.pcap", 1)
    local _, err, status = exec(dir, "-f none one.pcap")
    assert.are.equal(0, status, err)
    assert.is_truthy(err:find("one.pcap -> one: 1 interval, 1 packet (parsed)", 1, true), err)
    assert.is_truthy(err:find("tpp: 1 capture, 1 packet, 1 interval, ", 1, true), err)
  end)

  it("gives a capture with a stem of 249 bytes outputs whose names fit the file system", function()
    local stem = ("s"):rep(249)
    capture(dir .. "/" .. stem .. ".pcap")
    local _, err, status = exec(dir, "-f none -o out " .. stem .. ".pcap")
    assert.are.equal(0, status, err)
    local name = walk.names { stem .. ".pcap" }[1]
    assert.is_true(#name + #"_critical.tsv.incomplete" <= 255)
    assert.are.equal(stem:sub(1, #name - 9), name:sub(1, -10))
    for _, f in ipairs { "/out/critical/" .. name .. "_critical.tsv", "/out/mem_dump/" .. name .. ".tpd",
                         "/out/port_count/" .. name .. "_port_count.tsv" } do
      assert.are.equal("file", lfs.attributes(dir .. f, "mode"), f)
    end
    -- a shorter stem keeps its name, and two captures cut alike still get different names
    assert.are.same({ "short" }, walk.names { "short.pcap" })
    local two = walk.names { "a/" .. stem .. "x.pcap", "a/" .. stem .. "y.pcap" }
    assert.are_not.equal(two[1], two[2])
  end)
end)
