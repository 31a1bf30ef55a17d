-- The main job's inputs and messages beyond ordinary files: standard input and FIFOs, a bad filter checked once
-- before any work, unusable output roots with their real reasons, usage errors, and the warning line a capture
-- gets when its numbers need a word of explanation.
local H = require "tests.helper"
local lfs = require "lfs"
local tpp = require "tpp"

local q = H.shell_quote
local ROOT, TPP = H.ROOT, H.tpp_absolute()
local EXEC = ROOT .. "/scripts/exec.lua"
local SAMPLE = ROOT .. "/data/sample.pcap.gz"

local exec = H.exec_in

local function bash(text) return "bash -c " .. q(text) end

local function exists(path) return lfs.attributes(path, "mode") ~= nil end

-- The critical table the library writes for `path`.
local function critical_of(path, opts)
  local r = assert(tpp.parse(path, opts))
  local tmp = os.tmpname()
  assert(r:write_critical(tmp))
  local text = H.read_file(tmp)
  os.remove(tmp)
  return text
end

local function capture(path, pkts_or_n)
  local pkts = pkts_or_n
  if type(pkts) == "number" then
    pkts = {}
    for i = 1, pkts_or_n do
      pkts[i] = { ts_ns = H.T0 + (i - 1) * H.NS, data = H.eth4_udp("10.0.0.1", "10.0.0.2", 1000 + i, 53, "x") }
    end
  end
  return H.write_capture(path, "ethernet", pkts)
end

describe("the main job reads streams", function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rmtree(dir) end)

  it("reads standard input as '-', named stdin, never reusing its dump, also with -j", function()
    local want = critical_of(SAMPLE)
    for _, jobs in ipairs { "-j 1", "-j 4" } do
      local _, err, status = exec(dir, "-f none -o out " .. jobs .. " - < " .. q(SAMPLE))
      assert.are.equal(0, status, err)
      assert.is_truthy(err:find("tpp: stdin -> stdin: 12 intervals, 80000 packets (parsed)", 1, true), err)
      assert.are.equal(want, H.read_file(dir .. "/out/critical/stdin_critical.tsv"))
    end
    -- beside files sent to workers
    capture(dir .. "/f.pcap", 5)
    local _, err, status = exec(dir, "-f none -o out -j 4 f.pcap - < " .. q(SAMPLE))
    assert.are.equal(0, status, err)
    assert.is_truthy(err:find("stdin -> stdin: 12 intervals", 1, true), err)
    assert.is_truthy(err:find("f.pcap -> f: 1 interval, 5 packets", 1, true), err)
    assert.is_truthy(err:find("tpp: 2 captures,", 1, true), err)
  end)

  it("reads a FIFO, bash's <(...) included, gzip or not, named after it", function()
    local _, err, status = H.sh(bash(("cd %s && %s %s -f none -o out <(cat %s) <(zcat %s)"):format(q(dir), q(TPP),
      q(EXEC), q(SAMPLE), q(SAMPLE))))
    assert.are.equal(0, status, err)
    local want, n = critical_of(SAMPLE), 0
    for name in lfs.dir(dir .. "/out/critical") do
      if name:match("^fd%d+_critical%.tsv$") then
        n = n + 1
        assert.are.equal(want, H.read_file(dir .. "/out/critical/" .. name))
      end
    end
    assert.are.equal(2, n)

    assert(os.execute("mkfifo " .. q(dir .. "/trace.pcap")))
    _, err, status = H.sh(("cd %s && { zcat %s > trace.pcap & %s %s -f none -o out trace.pcap; }"):format(q(dir),
      q(SAMPLE), q(TPP), q(EXEC)))
    assert.are.equal(0, status, err)
    assert.are.equal(want, H.read_file(dir .. "/out/critical/trace_critical.tsv"))

    -- a small capture: its writer is gone before tpp looks at the FIFO a second time (which must not wait for one)
    capture(dir .. "/small-src.pcap", 3)
    assert(os.execute("mkfifo " .. q(dir .. "/small.pcap")))
    _, err, status = H.sh(("cd %s && { cat small-src.pcap > small.pcap & timeout 20 %s %s -f none -o out small.pcap; }")
      :format(q(dir), q(TPP), q(EXEC)))
    assert.are.equal(0, status, err)
    assert.is_truthy(err:find("small.pcap -> small: 1 interval, 3 packets (parsed)", 1, true), err)
  end)
end)

describe("the main job checks before it works", function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rmtree(dir) end)

  it("reports a bad filter once, exits 2 and creates nothing", function()
    lfs.mkdir(dir .. "/in")
    for i = 1, 4 do capture(dir .. "/in/c" .. i .. ".pcap", 3) end
    local out, err, status = exec(dir, "-o out --filter 'tcp prt 80' in")
    assert.are.equal(2, status)
    assert.are.equal("", out)
    assert.are.equal(1, select(2, err:gsub("\n", "")), err)
    assert.is_truthy(err:match('^tpp: option %-%-filter: bad filter "tcp prt 80": '), err)
    assert.is_false(exists(dir .. "/out"))
    -- from a config file too, naming the file
    H.write_file(dir .. "/c.lua", "return { filter = 'port port' }")
    _, err, status = exec(dir, "-o out --config c.lua in")
    assert.are.equal(2, status)
    assert.is_truthy(err:match("^tpp: c%.lua: option filter: bad filter"), err)
    assert.is_false(exists(dir .. "/out"))
    assert.is_true(tpp.check_filter("tcp port 80"))
    local ok, why = tpp.check_filter("tcp prt 80")
    assert.is_nil(ok)
    assert.is_truthy(why:find("syntax error", 1, true), why)
  end)

  it("refuses an interval below one nanosecond as a usage error", function()
    capture(dir .. "/c.pcap", 3)
    local _, err, status = exec(dir, "-o out -t 1e-10 c.pcap")
    assert.are.equal(2, status)
    assert.is_truthy(err:find("--delta-t must be at least one nanosecond", 1, true), err)
    assert.is_false(exists(dir .. "/out"))
    _, err, status = exec(dir, "-o out -f none -t 1e-9 --boundary packet c.pcap")
    assert.are.equal(0, status, err)
  end)

  it("names the real reason an output root is unusable", function()
    capture(dir .. "/c.pcap", 3)
    H.write_file(dir .. "/file", "x")
    local _, err, status = exec(dir, "-f none -o file c.pcap")
    assert.are.equal(1, status)
    assert.is_truthy(err:find("tpp: file: not a directory\n", 1, true), err)
    assert(os.execute("ln -s loop " .. q(dir .. "/loop")))
    _, err, status = exec(dir, "-f none -o loop/x c.pcap")
    assert.are.equal(1, status)
    assert.is_truthy(err:find("tpp: loop: too many levels of symbolic links\n", 1, true), err)
    assert.are.equal("x", H.read_file(dir .. "/file"))
  end)

  it("names a read-only file system as the reason (where a read-only bind mount can be made)", function()
    capture(dir .. "/c.pcap", 3)
    lfs.mkdir(dir .. "/ro")
    local _, err, status = exec(dir, "-f none -o ro c.pcap")         -- outputs exist before the file system is read-only
    assert.are.equal(0, status, err)
    local mount = "mount --bind ro ro && mount -o remount,bind,ro ro && "
    local probe = H.sh(("cd %s && unshare -m sh -c %s"):format(q(dir), q(mount .. "echo yes")))
    if probe ~= "yes\n" then
      pending("unshare -m and a read-only bind mount are not available here")
      return
    end
    for _, out in ipairs { "ro", "ro/new" } do
      _, err, status = H.sh(("cd %s && unshare -m sh -c %s"):format(q(dir),
        q(mount .. q(TPP) .. " " .. q(EXEC) .. " --force -f none -o " .. out .. " c.pcap")))
      assert.are.equal(1, status, err)
      assert.is_truthy(err:lower():find("read%-only file system"), err)
      assert.is_falsy(err:find("the file is read-only", 1, true), err)
    end
  end)

  it("lists exit status 130 in --help", function()
    local out, _, status = exec(dir, "--help")
    assert.are.equal(0, status)
    assert.is_truthy(out:gsub("%s+", " "):find("130 when interrupted", 1, true), out)
  end)
end)

describe("the main job's warning line", function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rmtree(dir) end)

  local function warnings(err)
    local out = {}
    for line in err:gmatch("[^\n]+") do if line:find(": warning: ", 1, true) then out[#out + 1] = line end end
    return out
  end

  it("says once when packets went backwards in time or were cut short", function()
    local frame = H.eth4_udp("10.0.0.1", "10.0.0.2", 1, 53, "x")
    capture(dir .. "/b.pcap", {
      { ts_ns = H.T0 + 5 * H.NS, data = frame }, { ts_ns = H.T0 + 2 * H.NS, data = frame },
      { ts_ns = H.T0 + 1 * H.NS, data = frame }, { ts_ns = H.T0 + 8 * H.NS, data = frame:sub(1, 20) } })
    local r = assert(tpp.parse(dir .. "/b.pcap"))
    assert.are.equal(2, r.backwards_packets)
    local _, err, status = exec(dir, "-f none b.pcap")
    assert.are.equal(0, status, err)
    local w = warnings(err)
    assert.are.equal(1, #w, err)
    assert.is_truthy(w[1]:find("^tpp: b%.pcap: warning: 2 packets went backwards in time"), w[1])
    if r.truncated_packets > 0 then
      assert.is_truthy(w[1]:find(r.truncated_packets .. " packet" .. (r.truncated_packets == 1 and "" or "s")
        .. " cut short", 1, true), w[1])
    end
  end)

  it("says when no packet of the chosen family or no interval came out", function()
    capture(dir .. "/c.pcap", 3)
    local _, err = exec(dir, "-f none --ip v6 c.pcap")
    local w = warnings(err)
    assert.are.equal(1, #w, err)
    assert.is_truthy(w[1]:find("no IPv6 packet among 3 packets", 1, true), w[1])
    _, err = exec(dir, "-f none --boundary packet -t 100 --force c.pcap")
    w = warnings(err)
    assert.are.equal(1, #w, err)
    assert.is_truthy(w[1]:find("no interval: the packets span less than one interval of 100 s", 1, true), w[1])
    _, err = exec(dir, "-f none --force c.pcap")
    assert.are.same({}, warnings(err))
  end)
end)
