-- The REPL: `tpp -i FILE ...` loading, help, printing, error recovery (through a pipe), and completion and history
-- through a pseudo-terminal driven by tmux (pending when tmux is missing).
local lfs = require "lfs"
local tpp = require "tpp"
local synth = require "tpp.synth"
local H = require "tests.helper"

local q = H.shell_quote

local function tpp_binary()
  local t = H.tpp_binary()
  return t:sub(1, 1) == "/" and t or (os.getenv("PWD") .. "/" .. t)
end
local TPP = tpp_binary()

local sh = H.sh -- stdout, stderr, exit status of a shell command

local fx = {}
local function fixture()
  if fx.dir then return end
  fx.dir = H.tmpdir()
  fx.trace = fx.dir .. "/trace.pcap.gz"
  synth.generate(fx.trace, { packets = 20000, duration = 60, scans = 2 })
  fx.r = assert(tpp.open(fx.trace))
  fx.dump = fx.dir .. "/2023-01-26 day.tpd"
  assert(fx.r:dump(fx.dump))
end

-- `tpp -i files...` with `input` on a pipe, in the fixture directory with HOME there.
local function session_on_pipe(files, input)
  local args = {}
  for i, f in ipairs(files) do args[i] = q(f) end
  local input_file = fx.dir .. "/input.lua"
  H.write_file(input_file, input)
  return sh("cd " .. q(fx.dir) .. " && HOME=" .. q(fx.dir) .. " " .. q(TPP) .. " -i " .. table.concat(args, " ")
            .. " < " .. q(input_file))
end

---------------------------------------------------------------------------------------------------------------
-- A tmux session on a private server: send keys, wait for the screen to show something.
---------------------------------------------------------------------------------------------------------------

local Tmux = {}
Tmux.__index = Tmux

local function has_tmux()
  local _, _, status = sh("command -v tmux >/dev/null")
  return status == 0
end

local sessions = 0
function Tmux.start(command)
  sessions = sessions + 1
  local self = setmetatable({ socket = ("tpp-spec-%d-%d"):format(tpp.pid and tpp.pid() or os.time(), sessions) }, Tmux)
  self.tmux = "tmux -f /dev/null -L " .. q(self.socket) .. " "
  local _, err, status = sh(self.tmux .. "new-session -d -s main -x 200 -y 60 " .. q(command))
  assert(status == 0, "tmux new-session: " .. err)
  return self
end

function Tmux:send(...)
  local keys = {}
  for i, k in ipairs { ... } do keys[i] = q(k) end
  local _, err, status = sh(self.tmux .. "send-keys -t main " .. table.concat(keys, " "))
  assert(status == 0, "tmux send-keys: " .. err)
end

-- Literal text (no key names).
function Tmux:type(text)
  local _, err, status = sh(self.tmux .. "send-keys -t main -l " .. q(text))
  assert(status == 0, "tmux send-keys: " .. err)
end

-- The whole screen and scrollback, wrapped lines joined, trailing blank lines dropped.
function Tmux:screen()
  local out = sh(self.tmux .. "capture-pane -p -J -S - -t main")
  return (out:gsub("\n+$", ""))
end

-- Wait until the screen matches `pattern` (a Lua pattern; plain when `plain`); returns the screen, or fails
-- showing it after `timeout` seconds.
function Tmux:wait(pattern, plain, timeout)
  local deadline = tpp.now() + (timeout or 10)
  local screen
  repeat
    screen = self:screen()
    if screen:find(pattern, 1, plain) then return screen end
    sh("sleep 0.05")
  until tpp.now() > deadline
  error(("the screen never showed %q:\n%s"):format(pattern, screen), 2)
end

-- The line being edited (the last line of the screen).
function Tmux:line()
  return self:screen():match("([^\n]*)$")
end

function Tmux:stop() sh(self.tmux .. "kill-server") end

---------------------------------------------------------------------------------------------------------------

describe("the REPL", function()
  lazy_setup(fixture)
  lazy_teardown(function() if fx.dir then H.rmtree(fx.dir) end end)

  describe("tpp -i FILE ...", function()
    it("loads captures and dumps into globals named after them, with a summary line each", function()
      local out, err, status = session_on_pipe({ fx.trace, fx.dump, "missing.pcap" },
                                               "print(trace.packets, _2023_01_26_day.packets, #trace)\n")
      assert.are.equal(0, status, err)
      assert.truthy(out:find("\ntrace = " .. tostring(fx.r) .. "\n", 1, true), out)
      assert.truthy(out:find("\n_2023_01_26_day = tpp.result: ", 1, true), out)
      assert.truthy(out:find("help() lists what is loaded", 1, true))
      assert.truthy(out:find(("\n%d\t%d\t%d\n"):format(fx.r.packets, fx.r.packets, #fx.r), 1, true), out)
      assert.are.equal("tpp: missing.pcap: No such file or directory\n", err)
    end)

    it("still runs a script first when the first argument is one (as lua -i)", function()
      local script = H.write_file(fx.dir .. "/s.lua", "answer = 6 * 7\n")
      local out, err, status = session_on_pipe({ script }, "answer\n")
      assert.are.equal(0, status, err)
      assert.truthy(out:find("\n42\n", 1, true), out)
    end)

    it("answers the question of the issue in two lines", function()
      local out, err, status = session_on_pipe({ fx.trace },
        'i = trace:column("entropy_src"):argmax()\ntrace:interval(i), trace:top_ports("tcp_dst", i)\n')
      assert.are.equal(0, status, err)
      local i = fx.r:column("entropy_src"):argmax()
      local want = tostring(fx.r:interval(i)) .. "\n" .. tostring(fx.r:top_ports("tcp_dst", i)) .. "\n"
      assert.truthy(out:find(want, 1, true), out)
    end)

    it("prints help, tables and tpp objects readably", function()
      local out, err, status = session_on_pipe({ fx.trace },
        'help()\nhelp(trace)\n{ 1, "a", k = true }\ntrace:column("syn")\ntrace:top_ports("tcp_dst", 1, 2)\n')
      assert.are.equal(0, status, err)
      assert.truthy(out:find("Loaded:\n  trace  tpp.result: ", 1, true), out)
      assert.truthy(out:find("tpp.open tpp.parse", 1, true), out)
      assert.truthy(out:find('i = trace:column("entropy_src"):argmax()', 1, true), out)
      assert.truthy(out:find("\n  top_ports +r:top_ports%(series"), out)
      assert.truthy(out:find("\n  slice +r:slice%(t1, t2%)"), out)
      assert.truthy(out:find('\n{ 1, "a", k = true }\n', 1, true), out)
      assert.truthy(out:find("\n" .. tostring(fx.r:column("syn")) .. "\n", 1, true), out)
      assert.truthy(out:find("\n" .. tostring(fx.r:top_ports("tcp_dst", 1, 2)) .. "\n", 1, true), out)
    end)

    it("takes parse options and directories, loading every capture and dump under them", function()
      local d = fx.dir .. "/opts"
      assert(lfs.mkdir(d))
      assert(lfs.mkdir(d .. "/sub"))
      H.write_file(d .. "/sub/trace.pcap.gz", H.read_file(fx.trace))
      assert(fx.r:dump(d .. "/old.tpd"))
      H.write_file(d .. "/notes.txt", "not a capture\n")
      local out, err, status = session_on_pipe({ "-t", "1", "--ip=v4", "--max-packets", "5000", d },
        "print(trace.delta_t, trace.ip, trace.packets, old.delta_t, old.ip, old.packets)\n")
      assert.are.equal(0, status, err)
      assert.are.equal("", err)
      assert.truthy(out:find("\nold = tpp.result: ", 1, true), out)
      assert.truthy(out:find("\ntrace = tpp.result: ", 1, true), out)
      assert.truthy(out:find(("\n1.0\tv4\t5000\t%s\tany\t%d\n"):format(fx.r.delta_t, fx.r.packets), 1, true), out)
      out, err, status = session_on_pipe({ "-t", "1", fx.trace }, "print(#trace, trace.delta_t)\n")
      assert.are.equal(0, status, err)
      assert.truthy(out:find(("\n%d\t1.0\n"):format(#assert(tpp.parse(fx.trace, { delta_t = 1 }))), 1, true), out)
    end)

    it("refuses a bad parse option with a usage error, exit status 2", function()
      for _, args in ipairs { { "--boundary", "sideways", fx.trace }, { "-t", "0", fx.trace }, { "--bogus", fx.trace },
                              { fx.trace, "-t" } } do
        local out, err, status = session_on_pipe(args, "print('in the session')\n")
        assert.are.equal(2, status, table.concat(args, " "))
        assert.is_nil(out:find("in the session", 1, true))
        assert.matches("^tpp: .*\nusage: tpp %-i ", err)
      end
    end)

    it("shows an error's message without a traceback and goes on as before", function()
      local out, err, status = session_on_pipe({ fx.trace },
        'x = 5\nerror("boom")\ntrace:column("nope")\nx = = 1\nx = x +\n 1\nfor i = 1, 2 do\n  x = x + i\nend\nx, #trace\n')
      assert.are.equal(0, status, err)
      assert.are.equal("stdin:1: boom\nstdin:1: bad argument #1 to 'column' (no column named 'nope')\n"
                       .. "stdin:1: unexpected symbol near '='\n", err)
      assert.truthy(out:find("\n9\t" .. #fx.r .. "\n", 1, true), out)
    end)
  end)

  describe("on a terminal", function()
    local session
    before_each(function()
      if not has_tmux() then return end
      session = Tmux.start("cd " .. q(fx.dir) .. " && HOME=" .. q(fx.dir) .. " " .. q(TPP) .. " -i " .. q(fx.trace))
      session:wait("\n> $")
    end)
    after_each(function()
      if session then session:stop() end
      session = nil
    end)

    it("completes methods, fields and globals with Tab", function()
      if not session then return pending("tmux is not installed") end
      session:type("trace:top")
      session:send("Tab")
      session:wait("> trace:top_ports%($")
      session:type('"tcp_dst", 1, 2)')
      session:send("Enter")
      session:wait("\n" .. tostring(fx.r:top_ports("tcp_dst", 1, 2)) .. "\n> ", true)
      session:type("trace.pack")
      session:send("Tab")
      session:wait("> trace.packets$")
      session:send("Enter")
      session:wait("\n" .. fx.r.packets .. "\n> ", true)
      session:type("tra")
      session:send("Tab")
      session:wait("> trace$")
      session:type(":")
      session:send("Tab")
      session:send("Tab")
      local screen = session:wait("trace:where")
      for _, m in ipairs { "trace:column", "trace:top_ports", "trace:port_entropy", "trace:slice", "trace:to_json" } do
        assert.truthy(screen:find(m, 1, true), m)
      end
      assert.is_nil(screen:find("trace:packets", 1, true))      -- fields are not offered after ':'
      session:send("C-u")
      session:type('c = trace:column("f2_s')                     -- (entropy_s: entropy_src and entropy_src_p24)
      session:send("Tab")
      session:wait('> c = trace:column%("f2_src"$')
      session:type(")")
      session:send("Enter")
      session:type("c:arg")
      session:send("Tab")
      session:wait("> c:argm$")
      session:send("Tab")                                      -- readline lists the candidates on a repeated Tab
      session:send("Tab")
      session:wait("c:argmax +c:argmin")
    end)

    it("discards the line being typed on Ctrl-C and shows a new prompt; only Ctrl-D leaves", function()
      if not session then return pending("tmux is not installed") end
      session:type("lost = 12")
      session:send("C-c")
      session:wait("\n> lost = 12^C\n> $")
      session:type("for i = 1, 2 do")
      session:send("Enter")
      session:wait("\n%.%.%. $")
      session:send("C-c")                                       -- the whole unfinished statement goes
      session:wait("\n%.%.%. ^C\n> $")
      session:type("while true do end")                         -- a running statement stops, the session stays
      session:send("Enter")
      H.run("sleep 0.3")
      session:send("C-c")
      session:wait("interrupted\n> $")
      session:type("lost, 40 + 2")
      session:send("Enter")
      session:wait("\nnil%s+42\n> $")
      session:send("C-c")
      session:wait("\n> ^C\n> $")                             -- one at a time: two signals at once may merge
      session:send("C-c")
      session:wait("\n> ^C\n> ^C\n> $")
      session:send("C-d")
      H.run("sleep 0.3")
      local history = H.read_file(fx.dir .. "/.tpp_history")
      assert.is_nil(history:find("lost = 12", 1, true), history)
      assert.truthy(history:find("while true do end\nlost, 40 + 2\n", 1, true), history)
    end)

    it("completes file paths inside strings", function()
      if not session then return pending("tmux is not installed") end
      assert(lfs.mkdir(fx.dir .. "/paths"))
      assert(lfs.mkdir(fx.dir .. "/paths/sub"))
      H.write_file(fx.dir .. "/paths/sub/deep.pcap", "")
      H.write_file(fx.dir .. "/paths/sample.pcap", "")
      session:type('f = "paths/sa')
      session:send("Tab")
      session:wait('> f = "paths/sample.pcap"$')
      session:send("Enter")
      session:type('g = io.open("paths/su')
      session:send("Tab")
      session:wait('> g = io.open%("paths/sub/$')
      session:type("d")
      session:send("Tab")
      session:wait('> g = io.open%("paths/sub/deep.pcap"$')
      session:type(")")
      session:send("Enter")
      session:type("f, io.type(g)")
      session:send("Enter")
      session:wait("\npaths/sample%.pcap%s+file\n> $")
    end)

    it("shows help, recovers from errors and keeps a history", function()
      if not session then return pending("tmux is not installed") end
      session:type("help()")
      session:send("Enter")
      session:wait("Loaded:\n  trace  tpp.result: ", true)
      session:type("y = 2")
      session:send("Enter")
      session:type("error('boom')")
      session:send("Enter")
      session:wait("\nstdin:1: boom\n> $")
      session:type("y * 21")
      session:send("Enter")
      session:wait("\n42\n> $")
      session:send("C-d")
      local history = H.read_file(fx.dir .. "/.tpp_history")
      assert.truthy(history:find("help()\ny = 2\nerror('boom')\ny * 21\n", 1, true), history)
    end)
  end)
end)
