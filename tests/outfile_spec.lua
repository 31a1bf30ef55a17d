-- Atomic outputs (src/outfile.c) under adversity: a writer killed between naming its temporary file and renaming
-- it over the target (SIGKILL cannot be caught) leaves a temporary that the next writer in that directory removes;
-- temporary names are short, so a target whose name is as long as the file system allows still works.
local H = require "tests.helper"
local lfs = require "lfs"
local tpp = require "tpp"

local q = H.shell_quote

local function names_in(dir)
  local out = {}
  for name in lfs.dir(dir) do if name ~= "." and name ~= ".." then out[#out + 1] = name end end
  table.sort(out)
  return out
end

-- The PID of a process that has ended (a shell that printed its own PID and exited).
local function dead_pid()
  local pid = tonumber((H.run("sh -c 'echo $$'")))
  assert(not os.execute("kill -0 " .. pid .. " 2>/dev/null"), "the PID was reused at once")
  return pid
end

describe("atomic outputs", function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rmtree(dir) end)

  it("remove the temporaries of dead writers, and only theirs", function()
    local stale = (".tpp-tmp-%d-0"):format(dead_pid())
    local sleeper = tpp.spawn { "sleep", "30" }
    local alive = (".tpp-tmp-%d-0"):format(sleeper:pid())
    H.write_file(dir .. "/" .. stale, "left by a writer killed between link and rename")
    H.write_file(dir .. "/" .. alive, "another writer's, in its window")
    H.write_file(dir .. "/.tpp-tmp-notapid", "not ours")
    local r = assert(tpp.parse("tests/data/parity/afs.pcap"))
    assert(r:write_critical(dir .. "/x.tsv"))
    local want = { ".tpp-tmp-notapid", alive, "x.tsv" }
    table.sort(want)
    assert.are.same(want, names_in(dir))
    sleeper:kill()
    sleeper:wait()
    assert(r:dump(dir .. "/x.tsv"))                            -- replacing a target: the same cleaning
    assert.are.same({ ".tpp-tmp-notapid", "x.tsv" }, names_in(dir))
    assert.are.equal(#r, #assert(tpp.load(dir .. "/x.tsv")))
  end)

  it("write and replace targets whose names are 255 bytes long", function()
    local r = assert(tpp.parse("tests/data/parity/afs.pcap"))
    local long = dir .. "/" .. ("n"):rep(251)
    for _ = 1, 2 do                                             -- create, then replace
      assert(r:dump(long .. ".tpd"))
      assert(r:write_critical(long .. ".tsv"))
    end
    assert.are.same({ ("n"):rep(251) .. ".tpd", ("n"):rep(251) .. ".tsv" }, names_in(dir))
    assert.are.equal(#r, #assert(tpp.load(long .. ".tpd")))
  end)

  -- A killed writer is a zombie until its parent reaps it, and kill(pid, 0) still succeeds on a zombie: its
  -- temporary file was kept, and this spec below failed now and then under load (make test, session 4).
  it("clear a temporary name whose writer was killed but not yet reaped", function()
    local child = assert(tpp.spawn({ "sh", "-c", "exit 0" }))
    local pid = child:pid()
    local zombie = false
    for _ = 1, 200 do                                  -- wait until it has exited (it is not reaped: a zombie)
      local f = io.open(("/proc/%d/stat"):format(pid))
      local state = f and f:read("a"):match("%) (%a)")
      if f then f:close() end
      if state == "Z" then zombie = true break end
      os.execute("sleep 0.01")
    end
    assert.is_true(zombie)
    H.write_file(("%s/.tpp-tmp-%d-0"):format(dir, pid), "half-written")
    assert(require("tpp.outputs").write_atomic(dir .. "/t.txt", "done\n"))
    assert.are.same({ "t.txt" }, names_in(dir))
    child:wait()
  end)

  it("leave nothing but the target when writers are killed over and over", function()
    local target = dir .. "/t.txt"
    assert(require("tpp.outputs").write_atomic(target, "first\n"))
    local code = ("local outputs = require('tpp.outputs') local s = ('x'):rep(1 << 16) "
      .. "while true do assert(outputs.write_atomic(%q, s)) end"):format(target)
    for attempt = 1, 5 do
      local pid = H.run(H.tpp_binary() .. " -e " .. q(code) .. " >/dev/null 2>&1 & echo $!")
      os.execute(("sleep 0.%d; kill -9 %s; sleep 0.05"):format(1 + attempt, pid:match("%d+")))
      local text = H.read_file(target)
      assert.is_true(text == "first\n" or text == ("x"):rep(1 << 16))
    end
    assert(require("tpp.outputs").write_atomic(target, "last\n")) -- the next writer clears what a killed one left
    assert.are.same({ "t.txt" }, names_in(dir))
  end)
end)
