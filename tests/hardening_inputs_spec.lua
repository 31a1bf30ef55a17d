-- Red-team findings on names, inputs and walking (issue 12, items 1-3, 14, 15, 19): variants of the issue's
-- cases that the first fixes missed, each checked on real files through the main job, scripts/plot.lua or the
-- REPL as a user would run them.
local H = require "tests.helper"
local lfs = require "lfs"
local walk = require "tpp.walk"

local q = H.shell_quote
local ROOT, TPP = H.ROOT, H.tpp_absolute()
local EXEC = ROOT .. "/scripts/exec.lua"
local PLOT = ROOT .. "/scripts/plot.lua"

local tpp_in = H.tpp_in

local function sh(cmd) assert(os.execute(cmd), cmd) end

-- A capture of n UDP packets one second apart.
local function capture(path, n)
  local pkts = {}
  for i = 1, n do
    pkts[i] = { ts_ns = H.T0 + (i - 1) * H.NS, data = H.eth4_udp("10.0.0.1", "10.0.0.2", 1000 + i, 53, "x") }
  end
  return H.write_capture(path, "ethernet", pkts)
end

local function packets_in_dump(path)
  local r = assert(require("tpp").load(path))
  return r.packets, r.source
end

describe("a path with '..' after a symbolic link", function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rmtree(dir) end)

  -- a/link -> ../b/sub, so a/link/../x.pcap is b/x.pcap for the system, not a/x.pcap
  local function layout()
    lfs.mkdir(dir .. "/a")
    lfs.mkdir(dir .. "/b")
    lfs.mkdir(dir .. "/b/sub")
    capture(dir .. "/a/x.pcap", 3)
    capture(dir .. "/b/x.pcap", 7)
    sh(("ln -s ../b/sub %s"):format(q(dir .. "/a/link")))
  end

  it("names the file the system opens (walk.absolute)", function()
    layout()
    assert.are.equal(dir .. "/b/x.pcap", walk.absolute(dir .. "/a/link/../x.pcap"))
    assert.are.equal(dir .. "/b", walk.absolute(dir .. "/a/link/.."))
    assert.are.equal(dir .. "/a/x.pcap", walk.absolute(dir .. "/a/./b/../x.pcap"))   -- no link: as written
  end)

  it("is parsed as that file by the main job, named or walked", function()
    layout()
    local _, err, status = tpp_in(dir, ("%s -f none -o out1 a/link/../x.pcap"):format(q(EXEC)))
    assert.are.equal(0, status, err)
    local n, source = packets_in_dump(dir .. "/out1/mem_dump/x.tpd")
    assert.are.equal(7, n, err)
    assert.are.equal(dir .. "/b/x.pcap", source)
    _, err, status = tpp_in(dir, ("%s -f none -o out2 a/link/.."):format(q(EXEC)))
    assert.are.equal(0, status, err)
    assert.are.equal(7, (packets_in_dump(dir .. "/out2/mem_dump/x.tpd")))
  end)
end)

describe("a FIFO inside a walked directory", function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rmtree(dir) end)

  it("is skipped with one line, not read (nobody writes to it: reading would block forever)", function()
    lfs.mkdir(dir .. "/in")
    capture(dir .. "/in/x.pcap", 3)
    sh("mkfifo " .. q(dir .. "/in/stale.fifo"))
    local _, err, status = tpp_in(dir, ("%s -f none -o out -j 1 in"):format(q(EXEC)))
    assert.are.equal(0, status, err)
    assert.is_truthy(err:find("tpp: skipping in/stale.fifo: a named pipe inside a directory, not read", 1, true), err)
    assert.is_truthy(err:find("tpp: in/x.pcap -> x: 1 interval, 3 packets", 1, true), err)
    _, err, status = tpp_in(dir, ("%s -f 1 -o figs in"):format(q(PLOT)))
    assert.is_truthy(err:find("skipping in/stale.fifo: a named pipe", 1, true), err)
    assert.are_not.equal(124, status, err)
    _, err, status = tpp_in(dir, "-i in < /dev/null")
    assert.are.equal(0, status, err)
  end)
end)

describe("names printed on a terminal", function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rmtree(dir) end)

  it("escape bytes that are not UTF-8 and the C1 and bidirectional controls, keeping other UTF-8", function()
    assert.are.equal("caf\xc3\xa9 \\xff\\xfe x\\u{9b}2J \\u{202e}gpj \\x1b[2J \\xc3",
      walk.printable("caf\xc3\xa9 \xff\xfe x\xc2\x9b2J \xe2\x80\xaegpj \27[2J \xc3"))
  end)

  it("are escaped in the main job's lines and summaries", function()
    local name = "x\xc2\x9b2J\xff"
    capture(dir .. "/" .. name .. ".pcap", 2)
    local _, err, status = tpp_in(dir, ("%s -f none -o out %s"):format(q(EXEC), q(name .. ".pcap")))
    assert.are.equal(0, status, err)
    assert.is_truthy(err:find("tpp: x\\u{9b}2J\\xff.pcap -> x\\u{9b}2J\\xff: 1 interval", 1, true), err)
    assert.is_falsy(err:find("\xc2\x9b", 1, true) or err:find("\xff", 1, true), err)
    assert.is_truthy(lfs.attributes(dir .. "/out/critical/" .. name .. "_critical.tsv"))   -- the file keeps its name
  end)

  it("are escaped in the REPL's load lines, its errors and a result's one-line form", function()
    local name = "two\nlines"
    capture(dir .. "/" .. name .. ".pcap", 2)
    H.write_file(dir .. "/bad\27[2J.pcap", "not a capture at all")
    local out, err = tpp_in(dir, ("-i %s %s < /dev/null"):format(q(name .. ".pcap"), q("bad\27[2J.pcap")))
    assert.is_truthy(out:find("two_lines = tpp.result: two\\nlines.pcap, ", 1, true), out)
    assert.is_truthy(err:find("tpp: bad\\x1b[2J.pcap: ", 1, true), err)
    assert.is_falsy(err:find("\27", 1, true), err)
    local r = assert(require("tpp").parse(dir .. "/" .. name .. ".pcap"))
    assert.is_falsy(tostring(r):find("\n", 1, true), tostring(r))
  end)

  it("keep argparse's suggestion on the usage error's line", function()
    local _, err, status = tpp_in(dir, ("%s -x.pcap"):format(q(EXEC)))
    assert.are.equal(2, status, err)
    assert.is_truthy(err:find("tpp: unknown option '-x'; did you mean one of these:", 1, true), err)
    _, err, status = tpp_in(dir, ("%s -x.pcap"):format(q(PLOT)))
    assert.are.equal(2, status, err)
    assert.is_truthy(err:find("plot: unknown option '-x'; did you mean one of these:", 1, true), err)
  end)
end)

describe("standard input named twice", function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rmtree(dir) end)

  it("is read once, whether it is called '-' or /dev/stdin, also with -j 4", function()
    capture(dir .. "/in.pcap", 3)
    capture(dir .. "/other.pcap", 2)
    for _, args in ipairs { "- other.pcap /dev/stdin -", "/dev/stdin other.pcap -" } do
      local _, err, status = H.sh(("cd %s && cat in.pcap | timeout 20 %s %s -f none -j 4 -o out -- %s")
        :format(q(dir), q(TPP), q(EXEC), args))
      assert.are.equal(0, status, err)
      assert.is_truthy(err:find("tpp: 2 captures[^\n]*, 5 packets"), err)
      assert.is_falsy(err:find("empty file", 1, true), err)
    end
  end)
end)

describe("a capture whose name starts with '-'", function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rmtree(dir) end)

  it("is taken after '--' by the main job, scripts/plot.lua and tpp -i", function()
    capture(dir .. "/-rf.pcap", 3)
    local _, err, status = tpp_in(dir, ("%s -f none -o out -- -rf.pcap"):format(q(EXEC)))
    assert.are.equal(0, status, err)
    assert.is_truthy(lfs.attributes(dir .. "/out/critical/-rf_critical.tsv"), err)
    _, err, status = tpp_in(dir, ("%s -f none -o figs -- -rf.pcap"):format(q(PLOT)))
    assert.are.equal(0, status, err)
    assert.is_truthy(lfs.attributes(dir .. "/figs/-rf.html"), err)
    local out
    out, err, status = tpp_in(dir, "-i -- -rf.pcap < /dev/null")
    assert.are.equal(0, status, err)
    assert.is_truthy(out:find("_rf = tpp.result: -rf.pcap, ", 1, true), out .. err)
  end)
end)

describe("scripts/plot.lua on streams", function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rmtree(dir) end)

  it("names standard input 'stdin' and <(...) after its descriptor, as the main job does", function()
    capture(dir .. "/x.pcap", 3)
    local _, err, status = H.sh(("cd %s && cat x.pcap | timeout 20 %s %s -f none -o figs -"):format(q(dir), q(TPP), q(PLOT)))
    assert.are.equal(0, status, err)
    assert.is_truthy(lfs.attributes(dir .. "/figs/stdin.html"), err)
    _, err, status = H.sh("bash -c " .. q(("cd %s && timeout 20 %s %s -f none -o figs <(cat x.pcap)")
      :format(q(dir), q(TPP), q(PLOT))))
    assert.are.equal(0, status, err)
    local fd = err:match("/dev/fd/(%d+)")
    assert.is_truthy(fd and lfs.attributes(dir .. "/figs/fd" .. fd .. ".html"), err)
  end)
end)

describe("Tab completion of a file name inside a string in the REPL", function()
  local dir, server
  before_each(function() dir = H.tmpdir() end)
  after_each(function()
    if server then H.sh("tmux -f /dev/null -L " .. q(server) .. " kill-server") end
    server = nil
    H.rmtree(dir)
  end)

  local function tmux(args) return H.sh("tmux -f /dev/null -L " .. q(server) .. " " .. args) end
  local function screen() return (tmux("capture-pane -p -J -S - -t main")) end
  local function wait_for(text)
    local deadline = require("tpp").now() + 10
    repeat
      if screen():find(text, 1, true) then return end
      H.sh("sleep 0.05")
    until require("tpp").now() > deadline
    error("the screen never showed " .. text .. ":\n" .. screen())
  end

  it("inserts the name escaped as the string's text, so that a name is never run as code", function()
    local _, _, has = H.sh("command -v tmux >/dev/null")
    if has ~= 0 then return pending("tmux is not installed") end
    H.write_file(dir .. '/x".. os.execute("touch PWNED") .."', "")
    H.write_file(dir .. "/two\nlines", "")
    server = ("tpp-r1-%d"):format(require("tpp").pid())
    tmux("new-session -d -s main -x 200 -y 30 " .. q(("cd %s && HOME=%s %s -i"):format(q(dir), q(dir), q(TPP))))
    wait_for("> ")
    tmux("send-keys -t main -l " .. q('f = "x'))
    tmux("send-keys -t main Tab")
    wait_for([[f = "x\".. os.execute(\"touch PWNED\") ..\""]])
    tmux("send-keys -t main Enter")
    tmux("send-keys -t main -l " .. q("g = 'two"))
    tmux("send-keys -t main Tab")
    wait_for([[g = 'two\010lines']])
    tmux("send-keys -t main Enter")
    tmux("send-keys -t main -l " .. q("print(io.open(f) and io.open(g) and 'both names ' .. 'open')"))
    tmux("send-keys -t main Enter")
    wait_for("both names open")
    assert.is_nil(lfs.attributes(dir .. "/PWNED"))
  end)
end)

describe("the progress bar of a capture with a long UTF-8 name", function()
  it("cuts the name between characters, never inside one", function()
    local progress = require "tpp.progress"
    local sink = { write = function() end, flush = function() end }
    local d = progress.new { tty = true, width = 100, stream = sink }
    d:start(1, "dir/\u{65e5}\u{672c}\u{8a9e}\u{306e}\u{30d5}\u{30a1}\u{30a4}\u{30eb}.pcap", 1000)
    local line = d:bar_line(d.entries[1], require("tpp").now())
    assert.is_truthy(utf8.len(line), line)
    assert.is_truthy(line:find("~", 1, true), line)
  end)
end)

describe("a file the main job cannot use", function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rmtree(dir) end)

  it("that is empty is skipped saying it is empty, without a second 'no captures found' line", function()
    H.write_file(dir .. "/empty.pcap", "")
    local _, err, status = tpp_in(dir, ("%s -f none -o out empty.pcap"):format(q(EXEC)))
    assert.are.equal(1, status, err)
    assert.is_truthy(err:find("tpp: skipping empty.pcap: empty file (0 bytes), not a capture\n", 1, true), err)
    _, err, status = tpp_in(dir, ("%s -f none -o out no-such-dir"):format(q(EXEC)))
    assert.are.equal(1, status, err)
    assert.is_falsy(err:find("no captures found", 1, true), err)
    lfs.mkdir(dir .. "/in")
    H.write_file(dir .. "/in/empty.pcap", "")
    _, err = tpp_in(dir, ("%s -f none -o figs in"):format(q(PLOT)))
    assert.is_truthy(err:find("plot: skipping in/empty.pcap: empty file (0 bytes), not a capture\n", 1, true), err)
  end)

  it("that cannot be read is a failure in the system's words (exit 1), not a file skipped", function()
    -- root reads every file: run as nobody when root can (runuser), else as ourselves
    local as = ""
    local uid = H.run("id -u"):gsub("%s", "")
    if uid == "0" then
      local _, _, has = H.sh("command -v runuser >/dev/null && id nobody >/dev/null")
      if has ~= 0 then return pending("running as root without runuser or the user nobody") end
      as = "runuser -u nobody -- "
      sh("chmod 755 " .. q(dir))
    end
    lfs.mkdir(dir .. "/in")
    capture(dir .. "/in/locked.pcap", 2)
    capture(dir .. "/in/ok.pcap", 2)
    sh("chmod 755 " .. q(dir .. "/in") .. " && chmod 644 " .. q(dir .. "/in/ok.pcap") .. " && chmod 000 "
       .. q(dir .. "/in/locked.pcap"))
    lfs.mkdir(dir .. "/out")
    sh("chmod 777 " .. q(dir .. "/out"))
    local _, err, status = H.sh(("cd %s && %s%s %s -f none -o out in"):format(q(dir), as, q(TPP), q(EXEC)))
    assert.are.equal(1, status, err)
    assert.is_truthy(err:find("tpp: in/locked.pcap: permission denied\n", 1, true), err)
    assert.is_truthy(err:find("(1 unreadable)", 1, true), err)
    assert.is_truthy(err:find("tpp: in/ok.pcap -> ok: ", 1, true), err)
  end)
end)

describe("the main job's summary", function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rmtree(dir) end)

  it("counts captures read from their dumps with the right number: 1 from its dump, 2 from their dumps", function()
    capture(dir .. "/a.pcap", 2)
    capture(dir .. "/b.pcap", 2)
    tpp_in(dir, ("%s -f none -o out a.pcap b.pcap"):format(q(EXEC)))
    local _, err = tpp_in(dir, ("%s -f none -o out a.pcap"):format(q(EXEC)))
    assert.is_truthy(err:find("tpp: 1 capture (1 from its dump), ", 1, true), err)
    _, err = tpp_in(dir, ("%s -f none -o out a.pcap b.pcap"):format(q(EXEC)))
    assert.is_truthy(err:find("tpp: 2 captures (2 from their dumps), ", 1, true), err)
  end)
end)

describe("a socket named as a capture", function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rmtree(dir) end)

  it("is said to be a socket, not reported with the system's 'No such device or address'", function()
    local _, _, has = H.sh("command -v python3 >/dev/null")
    if has ~= 0 then return pending("python3 is needed to make a socket") end
    sh(("cd %s && python3 -c %s"):format(q(dir), q("import socket; socket.socket(socket.AF_UNIX).bind('s.pcap')")))
    local _, err, status = tpp_in(dir, ("%s -f none -o out s.pcap"):format(q(EXEC)))
    assert.are.equal(1, status, err)
    assert.is_truthy(err:find("tpp: s.pcap: not a regular file (socket)\n", 1, true), err)
  end)
end)

describe("tpp -i on a directory", function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rmtree(dir) end)

  it("says why a file under it cannot be loaded (a dangling link), as when it is named alone", function()
    lfs.mkdir(dir .. "/in")
    capture(dir .. "/in/x.pcap", 2)
    sh("ln -s nowhere " .. q(dir .. "/in/gone.pcap"))
    local out, err, status = tpp_in(dir, "-i in < /dev/null")
    assert.are.equal(0, status, err)
    assert.is_truthy(out:find("x = tpp.result: in/x.pcap", 1, true), out)
    assert.is_truthy(err:find("tpp: in/gone.pcap: dangling symbolic link (its target does not exist)\n", 1, true), err)
  end)
end)
