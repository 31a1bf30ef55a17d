-- Child processes and friends (src/lproc.c): tpp.spawn, proc:read/eof/wait/kill, tpp.poll, tpp.isatty, tpp.cpus.
local tpp = require "tpp"

-- Drain a proc until both pipes end; returns its stdout and stderr lines.
local function drain(p, timeout)
  local out, err = {}, {}
  local deadline = tpp.now() + (timeout or 10)
  while not p:eof() do
    assert(tpp.now() < deadline, "child did not finish")
    tpp.poll({ p }, 1)
    local o, e = p:read()
    for _, l in ipairs(o) do out[#out + 1] = l end
    for _, l in ipairs(e) do err[#err + 1] = l end
  end
  return out, err
end

describe("tpp.spawn", function()
  it("runs a program and returns its stdout and stderr lines, the unterminated last one too", function()
    local p = assert(tpp.spawn { "sh", "-c", "echo one; echo two >&2; printf 'three\\nfour'; exit 3" })
    local out, err = drain(p)
    assert.are.same({ "one", "three", "four" }, out)
    assert.are.same({ "two" }, err)
    assert.are.same({ nil, "exit", 3 }, { p:wait() })
    assert.are.same({ nil, "exit", 3 }, { p:wait() })   -- cached
  end)

  it("reports success as os.execute does and gives the child an empty stdin", function()
    local p = assert(tpp.spawn { "sh", "-c", "cat; echo done" })
    local out = drain(p)
    assert.are.same({ "done" }, out)
    assert.are.same({ true, "exit", 0 }, { p:wait() })
    assert.is_true(p:pid() > 0)
    assert.is_truthy(tostring(p):match("^tpp%.proc %(pid %d+, ended%)$"))
  end)

  it("returns nil and a message for a program that does not exist", function()
    local p, err = tpp.spawn { "/no/such/program", "x" }
    assert.is_nil(p)
    assert.are.equal("/no/such/program: No such file or directory", err)
  end)

  it("raises on misuse", function()
    assert.has_error(function() tpp.spawn {} end)
    assert.has_error(function() tpp.spawn { "sh", {} } end)
    assert.has_error(function() tpp.spawn("sh") end)
    assert.has_error(function() tpp.poll({ {} }, 0) end)
  end)

  it("kills a child and reports the signal", function()
    local p = assert(tpp.spawn { "sleep", "30" })
    assert.is_true(p:kill())
    drain(p)
    assert.are.same({ nil, "signal", 15 }, { p:wait() })
    local ok, err = p:kill()
    assert.is_nil(ok)
    assert.are.equal("process has ended", err)
  end)

  it("does not let one child hold another's pipe open", function()
    local slow = assert(tpp.spawn { "sleep", "5" })
    local quick = assert(tpp.spawn { "sh", "-c", "echo hi" })
    local t0 = tpp.now()
    drain(quick)
    assert.is_true(tpp.now() - t0 < 3)
    slow:kill()
    slow:wait()
  end)

  it("kills and reaps a child that is closed before it ended", function()
    local pid
    do
      local p <close> = assert(tpp.spawn { "sleep", "30" })
      pid = p:pid()
    end
    -- reaped: the pid no longer exists as our child (kill -0 fails)
    assert.is_falsy(os.execute("kill -0 " .. pid .. " 2>/dev/null"))
  end)
end)

describe("tpp.poll", function()
  it("waits for the first child with output and times out otherwise", function()
    local a = assert(tpp.spawn { "sh", "-c", "sleep 0.3; echo late" })
    local b = assert(tpp.spawn { "sleep", "2" })
    local t0 = tpp.now()
    assert.are.equal(0, tpp.poll({ a, b }, 0.05))
    assert.is_true(tpp.now() - t0 < 0.25)
    assert.are.equal(1, tpp.poll({ a, b }, 5))
    assert.are.same({ "late" }, (a:read()))
    b:kill()
    drain(a)
    drain(b)
    a:wait()
    b:wait()
    assert.are.equal(0, tpp.poll({ a, b }, 5)) -- nothing left to wait for: at once
  end)
end)

describe("tpp.isatty, tpp.cpus, tpp.pid", function()
  it("tell facts about this process", function()
    local f = io.tmpfile()
    assert.is_false(tpp.isatty(f))
    f:close()
    assert.has_error(function() tpp.isatty("stderr") end)
    assert.is_true(math.type(tpp.cpus()) == "integer" and tpp.cpus() >= 1)
    local p = io.popen("nproc")
    local n = tonumber(p:read("l"))
    p:close()
    assert.are.equal(n, tpp.cpus())
    assert.is_true(tpp.pid() > 1)
  end)
end)

describe("children and Ctrl-C", function()
  -- The process group of a process, from /proc/PID/stat (the fifth field; the name in parentheses may hold spaces).
  local function pgid(pid)
    local f = assert(io.open("/proc/" .. pid .. "/stat"))
    local stat = f:read("a")
    f:close()
    return tonumber(stat:match("%) %S+ %d+ (%d+)"))
  end

  it("run in a process group of their own", function()
    local p = assert(tpp.spawn { "sleep", "5" })
    assert.are.equal(p:pid(), pgid(p:pid()))
    assert.are_not.equal(pgid(tpp.pid()), pgid(p:pid()))
    p:kill()
    p:wait()
  end)

  it("get a Ctrl-C sent to tpp's process group exactly once, from tpp", function()
    local H = require "tests.helper"
    -- the child counts the SIGINTs it gets; tpp catches its own interrupt, then reports what the child saw
    local code = [[
local tpp = require "tpp"
local p = assert(tpp.spawn { "sh", "-c", "trap 'echo got INT' INT; echo ready; while :; do sleep 0.05; done" })
local lines = {}
local ok, err = pcall(function()
  local give_up = tpp.now() + 20
  while not p:eof() and tpp.now() < give_up do
    tpp.poll({ p }, 1)
    for _, l in ipairs((p:read())) do lines[#lines + 1] = l; if l == "ready" then io.stdout:write("ready\n") io.stdout:flush() end end
  end
end)
local deadline = tpp.now() + 0.5
while tpp.now() < deadline do
  tpp.poll({ p }, 0.1)
  for _, l in ipairs((p:read())) do lines[#lines + 1] = l end
end
p:kill(9)
print(tpp.interrupted(err), table.concat(lines, ","))
]]
    local script = H.write_file(os.tmpname(), code)
    -- setsid: tpp leads a process group of its own, to which the SIGINT goes, as a terminal sends it
    local out, err, status = H.sh(("{ setsid %s %s > %s.out & pid=$!; "
      .. "for i in $(seq 100); do grep -q ready %s.out 2>/dev/null && break; sleep 0.05; done; "
      .. "kill -INT -$pid; wait $pid; cat %s.out; }")
      :format(H.shell_quote(H.tpp_binary()), script, script, script, script))
    os.remove(script)
    os.remove(script .. ".out")
    assert.are.equal(0, status, err)
    assert.are.equal("ready\ntrue\tready,got INT\n", out)
  end)
end)
