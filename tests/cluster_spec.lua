-- The main job on real engines (issue 15): scripts/cluster.lua on a single-node Slurm and on GNU parallel gives the
-- outputs of `exec.lua` on one machine byte for byte, for a directory of captures with the same stems in different
-- folders, gzip and plain, pcap and pcapng, one truncated, one in a folder named `x'; rm -rf ~`; a task killed and
-- requeued changes nothing; MaxArraySize batches the shards.
--
-- The engine specs run under `make test-cluster` (TPP_TEST_CLUSTER=1, SLURM_CONF set by tests/cluster/slurm.sh);
-- in a plain `busted tests` they are pending.  Under make test-cluster a Slurm that does not answer is a failure.
local H = require "tests.helper"
local lfs = require "lfs"
local tpp = require "tpp"
local synth = require "tpp.synth"
local cluster = require "tpp.cluster"

local q = H.shell_quote
local ENGINES = os.getenv("TPP_TEST_CLUSTER") == "1"
local ODD = "x'; rm -rf ~"   -- a folder name that a shell would run as code

-- Every file under dir (relative paths, sorted), except the cluster/ folder of job scripts and logs.
local function files(dir)
  local out = {}
  local function walk(rel)
    for name in lfs.dir(dir .. (rel == "" and "" or "/" .. rel)) do
      if name ~= "." and name ~= ".." then
        local r = rel == "" and name or (rel .. "/" .. name)
        if lfs.attributes(dir .. "/" .. r, "mode") == "directory" then
          if r ~= "cluster" then walk(r) end
        else
          out[#out + 1] = r
        end
      end
    end
  end
  walk("")
  table.sort(out)
  return out
end

-- Assert that two output roots hold the same files with the same bytes.
local function same_outputs(want_dir, got_dir)
  local want, got = files(want_dir), files(got_dir)
  assert.are.same(want, got)
  assert.is_true(#want > 0)
  for _, f in ipairs(want) do
    local a, b = H.read_file(want_dir .. "/" .. f), H.read_file(got_dir .. "/" .. f)
    assert(a == b, ("%s differs between %s and %s"):format(f, want_dir, got_dir))
  end
end

-- The captures: same stems in different folders, gzip and plain, pcap and pcapng, one truncated, one big enough
-- (about a second to parse) that its task can be killed while it runs, and one in a folder named ODD.
local function make_captures(dir)
  for _, d in ipairs { "caps", "caps/a", "caps/b", "caps/c", "caps/" .. ODD } do assert(lfs.mkdir(dir .. "/" .. d)) end
  local function gen(path, opts) assert(synth.generate(dir .. "/caps/" .. path, opts)) end
  gen("a/x.pcap", { packets = 3000, duration = 40, seed = 1 })
  gen("b/x.pcap.gz", { packets = 4000, duration = 30, seed = 2 })
  gen("c/x.pcapng", { packets = 2000, duration = 20, seed = 3 })
  gen("c/y.pcap", { packets = 5000, duration = 50, seed = 4 })
  gen(ODD .. "/x.pcap", { packets = 1000, duration = 10, seed = 5 })
  gen("t.pcap", { packets = 3000, duration = 30, seed = 6 })
  gen("big.pcap", { packets = 600000, duration = 120, seed = 7 })
  local bytes = H.read_file(dir .. "/caps/t.pcap")
  H.write_file(dir .. "/caps/t.pcap", bytes:sub(1, #bytes - 37))   -- the last record cut short
end

-- Run tpp SCRIPT ARGS in dir with HOME pointing at a canary folder (were a quoted word ever run as code, `rm -rf ~`
-- would remove it): stdout, stderr, exit status.
local function run_in(dir, script, args, timeout)
  return H.sh(("cd %s && HOME=%s timeout %d %s %s %s"):format(q(dir), q(dir .. "/home"), timeout or 180,
    q(H.tpp_absolute()), q(H.ROOT .. "/scripts/" .. script), args))
end

local function scontrol_job(id)
  local out = H.sh("scontrol show job -o " .. q(id))
  return out
end

describe("cluster.lua's command line and scripts", function()
  it("keeps exec.lua's options and their values apart from its own, whatever the values look like", function()
    local p = assert(cluster.split { "slurm", "--tasks", "3", "--filter", "--wait", "--wait", "-o", "--mem",
                                     "--mem=2G", "a b", "--", "--time=5", "--wait" })
    assert.are.same({ tasks = "3", wait = true, mem = "2G" }, p.own)
    assert.are.same({ "--filter", "--wait", "-o", "--mem", "a b" }, p.exec)
    assert.are.same({ "--time=5", "--wait" }, p.extra)
    local bad, err = cluster.split { "pbs", "x" }
    assert.is_nil(bad)
    assert.matches("slurm or parallel", err)
    bad, err = cluster.split { "parallel", "--partition", "p", "x" }
    assert.is_nil(bad)
    assert.matches("for the slurm engine", err)
  end)

  it("batches shards by MaxArraySize", function()
    assert.are.same({ { first = 1, count = 4 }, { first = 5, count = 4 }, { first = 9, count = 1 } },
      cluster.batches(9, 4))
    assert.are.same({ { first = 1, count = 3 } }, cluster.batches(3, 1001))
  end)

  it("writes every word into its job scripts single-quoted: sh passes them on as data", function()
    local dir = H.tmpdir()
    lfs.mkdir(dir .. "/home")
    H.write_file(dir .. "/home/canary", "alive")
    -- the "tpp" the script runs prints its arguments, one per line
    local show = H.write_file(dir .. "/show-args", '#!/bin/sh\nfor a in "$@"; do printf "[%s]\\n" "$a"; done\n')
    H.sh("chmod +x " .. q(show))
    local words = { "-o", ODD, "$(touch pwned)", "`touch pwned`", "a\nb", "\"; touch pwned; \"", "*", "--x=$HOME" }
    local o = { engine = "parallel", cwd = dir, tpp = show, exec = "exec.lua", shards = 3, args = words }
    local script = H.write_file(dir .. "/task.sh", cluster.task_script(o))
    local out, err, status = H.sh(("cd %s && HOME=%s sh %s 2"):format(q(dir), q(dir .. "/home"), q(script)))
    local want = { "[exec.lua]", "[--shard]", "[2/3]", "[-j]", "[1]" }
    for _, w in ipairs(words) do want[#want + 1] = "[" .. w .. "]" end
    for _, w in ipairs { "[-f]", "[none]" } do want[#want + 1] = w end
    assert.are.equal(table.concat(want, "\n") .. "\n", out, err)
    assert.are.equal(0, status)
    assert.is_nil(lfs.attributes(dir .. "/pwned"))
    assert.are.equal("alive", H.read_file(dir .. "/home/canary"))

    o.engine = "slurm"
    script = H.write_file(dir .. "/finish.sh", cluster.finish_script(o))
    out = H.sh(("cd / && HOME=%s SLURM_CPUS_PER_TASK=3 sh %s"):format(q(dir .. "/home"), q(script)))
    assert.matches("^%[exec.lua%]\n%[%-%-finish%]\n%[%-j%]\n%[3%]\n%[%-o%]\n%[x'; rm %-rf ~%]\n", out)
    assert.is_nil(lfs.attributes(dir .. "/pwned"))
    H.rmtree(dir)
  end)

  it("refuses a stream, -j and its own exec options, with the reason (exit 2)", function()
    local dir = H.tmpdir()
    for _, case in ipairs {
      { "slurm -", "is a stream" }, { "slurm -j 2 .", "cpus%-per%-task" }, { "slurm --shard 1/2 .", "cluster.lua's" },
      { "parallel .", "needs %-%-sshlogin" }, { "slurm --tasks 0 .", "positive integer" },
      { "slurm --delta-t=-1 .", "delta%-t" },
    } do
      local _, err, status = run_in(dir, "cluster.lua", case[1], 20)
      assert.are.equal(2, status, case[1] .. ": " .. err)
      assert.matches(case[2], err)
    end
    H.rmtree(dir)
  end)
end)

describe("cluster.lua on the engines", function()
  local dir, local_status

  setup(function()
    dir = H.tmpdir()
    lfs.mkdir(dir .. "/home")
    H.write_file(dir .. "/home/canary", "alive")
    make_captures(dir)
    local _, err
    _, err, local_status = run_in(dir, "exec.lua", "-o local -f none caps")
    assert.are.equal(1, local_status, err)   -- the truncated capture is incomplete
    assert.matches("t.pcap: incomplete", err)
  end)

  teardown(function()
    if dir then
      assert.are.equal("alive", H.read_file(dir .. "/home/canary"))
      H.rmtree(dir)
    end
  end)

  -- An engine spec: pending outside make test-cluster; there, a Slurm that does not answer fails it.
  local function engine_it(name, f)
    it(name, function()
      if not ENGINES then
        pending("run by make test-cluster (a single-node Slurm and GNU parallel)")
        return
      end
      local out, err, status = H.sh("sinfo -h -o %t")
      assert(status == 0 and (out:match("idle") or out:match("mix") or out:match("alloc")),
        "make test-cluster: the test Slurm does not answer: " .. err .. out)
      f()
    end)
  end

  engine_it("Slurm: job arrays batched by MaxArraySize, then the finishing job, give the local run's bytes", function()
    local out, err, status = run_in(dir, "cluster.lua", "slurm --wait --tasks 7 --cpus-per-task 1 -o slurm -f none caps")
    assert.are.equal(local_status, status, err)
    local max = tonumber(os.getenv("TPP_TEST_MAX_ARRAY_SIZE") or "4")
    local arrays = 0
    for _ in out:gmatch("array %d+: shards") do arrays = arrays + 1 end
    assert.are.equal(math.ceil(7 / max), arrays, out)
    assert.matches("finish %d+\n", out)
    assert.matches("t.pcap: incomplete", err)            -- the finishing job's summary, passed on
    same_outputs(dir .. "/local", dir .. "/slurm")
    assert.is_nil(lfs.attributes(dir .. "/pwned"))
    -- a log per shard task and one for the finishing job
    assert.are.equal(8, #H.list_dir(dir .. "/slurm/cluster/logs"))
  end)

  engine_it("Slurm: --wait exits 0 when every capture completed, and the figures are the finishing job's", function()
    local _, err, status = run_in(dir, "exec.lua", "-o local2 -f 1,2 caps/a caps/c")
    assert.are.equal(0, status, err)
    local out
    out, err, status = run_in(dir, "cluster.lua",
      "slurm --wait --cpus-per-task 2 -o slurm2 -f 1,2 caps/a caps/c -- --comment=given-after-dashes")
    assert.are.equal(0, status, out .. err)
    same_outputs(dir .. "/local2", dir .. "/slurm2")
    -- the options after -- went to sbatch, for the arrays and the finishing job alike, with --cpus-per-task
    for _, id in ipairs { out:match("array (%d+):"), out:match("finish (%d+)") } do
      local job = scontrol_job(id)
      assert.matches("Comment=given%-after%-dashes", job)
      assert.matches("CPUs/Task=2", job)
    end
  end)

  engine_it("Slurm: a .pcap and a .pcap.gz split into 4 chunks each give the single pass's outputs", function()
    local args = "-t 5 -f none caps/c/y.pcap caps/b/x.pcap.gz"
    local _, err, status = run_in(dir, "exec.lua", "-o local4 " .. args)
    assert.are.equal(0, status, err)
    local out
    out, err, status = run_in(dir, "cluster.lua", "slurm --wait --split 4 -o split " .. args)
    assert.are.equal(0, status, out .. err)
    assert.matches("shards 1%-4 of 8", out)                    -- 8 chunks: 4 + 4, in two arrays
    -- the single pass's files, byte for byte; besides them only the chunks' dumps and the gzip index
    local want, got = files(dir .. "/local4"), files(dir .. "/split")
    local extra = {}
    for _, f in ipairs(got) do
      if not H.read_file(dir .. "/split/" .. f) or not lfs.attributes(dir .. "/local4/" .. f) then extra[#extra + 1] = f end
    end
    assert.are.same({ "mem_dump/x.chunk1of4.tpd", "mem_dump/x.chunk2of4.tpd",
                      "mem_dump/x.chunk3of4.tpd", "mem_dump/x.chunk4of4.tpd",
                      "mem_dump/x.tpx", "mem_dump/y.chunk1of4.tpd", "mem_dump/y.chunk2of4.tpd",
                      "mem_dump/y.chunk3of4.tpd", "mem_dump/y.chunk4of4.tpd" }, extra)
    for _, f in ipairs(want) do
      assert(H.read_file(dir .. "/local4/" .. f) == H.read_file(dir .. "/split/" .. f), f .. " differs")
    end
    assert.is_true(#want >= 7)
  end)

  engine_it("Slurm: a task killed while it parses, and requeued, changes nothing", function()
    -- 2 ms intervals make big.pcap's task last about a second, long enough to be killed in the middle
    local args = "-t 0.002 -f none caps/big.pcap caps/a caps/t.pcap"
    local _, err, status = run_in(dir, "exec.lua", "-o local3 " .. args)
    assert.are.equal(1, status, err)
    -- which shard holds big.pcap (the largest capture goes to shard 1), as --list says
    local list = run_in(dir, "exec.lua", "--list --shards 2 " .. args)
    local shard = tonumber(list:match("caps/big%.pcap\t[^\t]*\t%d+\t(%d+)"))
    assert.are.equal(1, shard, list)
    local out
    out, err, status = run_in(dir, "cluster.lua", "slurm --tasks 2 -o requeued " .. args)
    assert.are.equal(0, status, err)
    local array, finish = out:match("array (%d+):"), out:match("finish (%d+)")
    local task = array .. "_" .. (shard - 1)
    -- once its tpp runs, kill the task's processes by requeueing it
    local t0 = tpp.now()
    while not scontrol_job(task):match("JobState=RUNNING") do
      assert(tpp.now() - t0 < 60, "the task did not start: " .. scontrol_job(task))
      cluster.sleep(0.05)
    end
    cluster.sleep(0.2)
    assert.matches("JobState=RUNNING", scontrol_job(task))   -- still parsing
    local _, rerr, rstatus = H.sh("scontrol requeue " .. q(task))
    assert.are.equal(0, rstatus, rerr)
    -- Slurm holds a requeued job back for two minutes (BeginTime): once the killed run is cleaned up (slurmd
    -- refuses to launch again a job it is still killing), let it start again now
    while not scontrol_job(task):match("Reason=BeginTime") do
      assert(tpp.now() - t0 < 60, "the task was not requeued: " .. scontrol_job(task))
      cluster.sleep(0.1)
    end
    cluster.sleep(2)
    _, rerr, rstatus = H.sh("scontrol update JobId=" .. q(task) .. " StartTime=now")
    assert.are.equal(0, rstatus, rerr)
    repeat
      local state = scontrol_job(finish):match("JobState=(%S+)")
      assert(tpp.now() - t0 < 120, "the finishing job did not end: " .. scontrol_job(finish))
      if state == "PENDING" or state == "RUNNING" then cluster.sleep(0.5) end
    until state ~= "PENDING" and state ~= "RUNNING"
    assert.matches("Restarts=1", scontrol_job(task))
    assert.matches("JobState=FAILED", scontrol_job(finish))   -- exit 1: the truncated capture, as locally
    same_outputs(dir .. "/local3", dir .. "/requeued")
  end)

  engine_it("GNU parallel on this machine (--sshlogin :) gives the local run's bytes", function()
    local _, err, status = run_in(dir, "cluster.lua", "parallel --sshlogin : --tasks 4 -o parallel -f none caps -- -j 2")
    assert.are.equal(local_status, status, err)
    same_outputs(dir .. "/local", dir .. "/parallel")
    assert.is_nil(lfs.attributes(dir .. "/pwned"))
  end)
end)
