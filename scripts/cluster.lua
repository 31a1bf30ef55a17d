-- tpp scripts/cluster.lua slurm|parallel [options] [exec.lua options] PATH... [-- engine options]
--
-- The main job (scripts/exec.lua) on an existing engine, with exactly the outputs of a run on one machine: the
-- captures are cut into N shards (exec.lua --shard I/N, whole-run names), each shard is one task, and a finishing
-- step (exec.lua --finish) writes what needs every result (series merge, figures, plot/index.html, the summary).
--
--   slurm    [--wait] [--tasks N] [--cpus-per-task C] [--mem M] [--partition P] [--max-running K]
--            a job array of N tasks (several arrays when N exceeds Slurm's MaxArraySize) and a finishing job that
--            depends on them (afterok); the job ids are printed; --wait waits and exits with the run's status.
--   parallel --sshlogin LIST [--tasks N]
--            the N tasks through GNU parallel on LIST (":" is this machine; a shared file system is assumed),
--            then the finishing step here.
--
-- The job scripts and logs go to OUT/cluster/ (OUT: exec.lua's -o, default .).  docs/cluster.md has the details.
-- Exit status: 0 submitted (slurm) or every capture completed (parallel, slurm --wait); 1 a run failure; 2 usage.
local lfs = require "lfs"
local tpp = require "tpp"
local cli = require "tpp.cli"
local cluster = require "tpp.cluster"
local outputs = require "tpp.outputs"
local walk = require "tpp.walk"

local USAGE = [[
usage: tpp scripts/cluster.lua slurm [--wait] [--tasks N] [--cpus-per-task C] [--mem M] [--partition P]
                                     [--max-running K] [exec.lua options] PATH... [-- sbatch options]
       tpp scripts/cluster.lua parallel --sshlogin LIST [--tasks N] [exec.lua options] PATH... [-- parallel options]
]]

local function say(...) io.stderr:write("tpp: ", walk.printable(table.concat({ ... })), "\n") end
local function usage_error(text)
  say(text)
  io.stderr:write(USAGE)
  os.exit(2)
end
local function failure(text)
  say(text)
  os.exit(1)
end

if arg[1] == "-h" or arg[1] == "--help" then
  io.stdout:write(USAGE)
  os.exit(0)
end

local parsed, err = cluster.split(arg)
if not parsed then usage_error(err) end
local own = parsed.own

local function positive(key, flag)
  if own[key] == nil then return nil end
  local n = math.tointeger(tonumber(own[key]))
  if not n or n < 1 then usage_error(("option %s must be a positive integer, got '%s'"):format(flag, own[key])) end
  return n
end
local tasks = positive("tasks", "--tasks")
local cpus = positive("cpus_per_task", "--cpus-per-task")
local max_running = positive("max_running", "--max-running")
if parsed.engine == "parallel" and not own.sshlogin then
  usage_error("the parallel engine needs --sshlogin LIST (':' for this machine)")
end
if own.transfer then
  usage_error("--transfer is not supported yet: run on a file system that every host shares (docs/cluster.md)")
end

-- exec.lua's options, checked as exec.lua checks them, before anything is submitted.  The tasks get them without
-- -f (figures are the finishing step's: -f none); -j and the modes are cluster.lua's to give.
local exec_args, task_args = parsed.exec, {}
do
  local takes_value = cluster.exec_value_options()
  local i = 1
  while i <= #exec_args do
    local a = exec_args[i]
    local name = a:match("^(%-%-[%w-]+)=") or (a:match("^%-%a.") and a:sub(1, 2)) or a
    if name == "-j" or name == "--jobs" then
      usage_error("-j is set per task: use --cpus-per-task (slurm) or parallel's own -j after -- (parallel)")
    elseif name == "--shard" or name == "--shards" or name == "--finish" or name == "--list" then
      usage_error(("%s is cluster.lua's to give"):format(name))
    end
    local with_value = a == name and takes_value[a] and exec_args[i + 1] ~= nil
    if name ~= "-f" and name ~= "--figures" then
      task_args[#task_args + 1] = a
      if with_value then task_args[#task_args + 1] = exec_args[i + 1] end
    end
    i = i + (with_value and 2 or 1)
  end
end
local settings, why = cli.resolve(exec_args)
if not settings then usage_error("exec.lua options: " .. tostring(why)) end
for _, p in ipairs(settings.paths) do
  if walk.is_stream(p) then usage_error(("%s is a stream: a cluster run takes files and directories"):format(p)) end
end

local here = lfs.currentdir()
local scripts_dir = (arg[0] or ""):match("^(.*)/[^/]*$") or "."
local exec_path = walk.absolute(scripts_dir .. "/exec.lua")
local tpp_path = cluster.executable()

-- The work items, as exec.lua --list sees them (it walks and names the captures as every task will).
local ok, how, code, out, errs = cluster.run(table.move(exec_args, 1, #exec_args, 4,
  { tpp_path, exec_path, "--list" }))
if not ok then
  for _, line in ipairs(errs) do io.stderr:write(line, "\n") end
  if how == "start" then failure(code) end
  os.exit(how == "exit" and code == 2 and 2 or 1)
end
local items = math.max(0, #out - 1) -- a header line first
if items == 0 then failure("no captures found in " .. table.concat(settings.paths, ", ")) end
local shards = math.min(tasks or items, items)

-- OUT/cluster/: the scripts (written atomically) and the logs.
local dir = outputs.paths(settings.out, "x").plot:gsub("/plot$", "/cluster")
for _, d in ipairs { dir, dir .. "/logs" } do
  local made, merr = outputs.mkdir(d)
  if not made then failure(merr) end
end
local function write_script(name, text)
  local path = dir .. "/" .. name
  local done, werr = tpp.write_atomic(path, text)
  if not done then failure(werr) end
  return walk.absolute(path)
end
local common = { engine = parsed.engine, cwd = here, tpp = tpp_path, exec = exec_path, shards = shards }
local function with(t, extra)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  for k, v in pairs(extra) do c[k] = v end
  return c
end

-- Slurm writes a log file name's %A, %a, %j...: a % of our own is %%.
local function slurm_pattern(path) return (path:gsub("%%", "%%%%")) end

-- Submit; on failure, say which jobs were submitted already (`submitted`: their ids), to be cancelled.
local function sbatch(args, submitted)
  local argv = { "sbatch", "--parsable" }
  table.move(args, 1, #args, #argv + 1, argv)
  local sok, shw, scode, sout, serrs = cluster.run(argv)
  if not sok then
    for _, line in ipairs(serrs) do io.stderr:write(line, "\n") end
    failure(("sbatch: %s%s"):format(shw == "start" and scode or ("exit status " .. tostring(scode)),
      #submitted > 0 and ("; submitted already: " .. table.concat(submitted, ", ") .. " (scancel "
        .. table.concat(submitted, " ") .. " cancels them)") or ""))
  end
  local id = (sout[#sout] or ""):match("^(%d+)")
  if not id then failure(("sbatch: no job id in its answer '%s'"):format(table.concat(sout, " "))) end
  return id
end

local function run_slurm()
  local max, merr = cluster.slurm_max_array()
  if not max then failure(merr) end
  local logs = slurm_pattern(walk.absolute(dir .. "/logs"))
  local common_opts = {}
  if cpus then common_opts[#common_opts + 1] = "--cpus-per-task=" .. cpus end
  if own.mem then common_opts[#common_opts + 1] = "--mem=" .. own.mem end
  if own.partition then common_opts[#common_opts + 1] = "--partition=" .. own.partition end
  local task_path = write_script("slurm-task.sh", cluster.task_script(with(common, { args = task_args })))
  local finish_path = write_script("slurm-finish.sh", cluster.finish_script(with(common, { args = exec_args })))

  local arrays = {}
  for _, b in ipairs(cluster.batches(shards, max)) do
    local args = { ("--array=0-%d%s"):format(b.count - 1, max_running and ("%%" .. max_running) or ""),
                   "--job-name=tpp-shards", "--output=" .. logs .. "/task-%A_%a.log" }
    table.move(common_opts, 1, #common_opts, #args + 1, args)
    table.move(parsed.extra, 1, #parsed.extra, #args + 1, args)
    args[#args + 1] = task_path
    args[#args + 1] = tostring(b.first - 1)
    local id = sbatch(args, arrays)
    arrays[#arrays + 1] = id
    io.stdout:write(("array %s: shards %d-%d of %d\n"):format(id, b.first, b.first + b.count - 1, shards))
  end
  local args = { "--dependency=afterok:" .. table.concat(arrays, ":"), "--kill-on-invalid-dep=yes",
                 "--job-name=tpp-finish", "--output=" .. logs .. "/finish-%j.log" }
  table.move(common_opts, 1, #common_opts, #args + 1, args)
  table.move(parsed.extra, 1, #parsed.extra, #args + 1, args)
  args[#args + 1] = finish_path
  local finish = sbatch(args, arrays)
  io.stdout:write(("finish %s\n"):format(finish))
  io.stdout:flush()
  if not own.wait then os.exit(0) end

  -- --wait: until the finishing job has ended (or was cancelled because a shard task failed).
  local DONE = { COMPLETED = true, FAILED = true, CANCELLED = true, TIMEOUT = true, NODE_FAIL = true,
                 OUT_OF_MEMORY = true, PREEMPTED = true, BOOT_FAIL = true, DEADLINE = true }
  local state, exit
  repeat
    local s, e = cluster.slurm_state(finish)
    if not s then failure(e) end
    state, exit = s, e
    if not DONE[state] then cluster.sleep(1) end
  until DONE[state]
  local log = io.open(dir .. "/logs/finish-" .. finish .. ".log", "rb")
  if log then
    io.stderr:write(log:read("a"))
    log:close()
  end
  if state == "COMPLETED" and exit == 0 then os.exit(0) end
  for _, id in ipairs(arrays) do
    for _, t in ipairs(cluster.slurm_array_states(id)) do
      if t.state ~= "COMPLETED" then
        say(("shard task %s: %s%s (its log: %s/logs/task-%s.log)"):format(t.id, t.state,
          t.exit and (", exit status " .. t.exit) or "", dir, t.id))
      end
    end
  end
  say(("finishing job %s: %s%s"):format(finish, state, exit and (", exit status " .. exit) or ""))
  os.exit(1)
end

local function run_parallel()
  local task_path = write_script("parallel-task.sh", cluster.task_script(with(common, { args = task_args })))
  if task_path:find("[\t\n]") then failure(task_path .. ": a tab or newline in the output root cannot be given to parallel") end
  -- parallel reads its jobs from this file, one "script<TAB>shard" line each, and quotes them as data: no word
  -- of ours or the user's is ever part of parallel's command template (where {= ... =} is Perl).
  local lines = {}
  for s = 1, shards do lines[s] = task_path .. "\t" .. s end
  local list = write_script("parallel-tasks.txt", table.concat(lines, "\n") .. "\n")
  local argv = { "parallel", "--colsep", "\t", "--sshlogin", own.sshlogin, "--joblog", walk.absolute(dir .. "/logs/parallel.joblog"),
                 "--halt", "never", "--no-notice" }
  table.move(parsed.extra, 1, #parsed.extra, #argv + 1, argv)
  for _, w in ipairs { "sh", "::::", list } do argv[#argv + 1] = w end
  local proc, perr = tpp.spawn(argv)
  if not proc then failure("parallel: " .. perr) end
  while not proc:eof() do   -- the tasks' output, as it comes
    tpp.poll({ proc }, 1)
    local o, e = proc:read()
    for _, line in ipairs(o) do io.stdout:write(line, "\n") end
    for _, line in ipairs(e) do io.stderr:write(line, "\n") end
  end
  local pok, phow, pcode = proc:wait()
  if not pok then
    say(("parallel: %s (%s %s); the finishing step reports the captures without a dump")
      :format(phow == "exit" and (pcode .. " task(s) failed") or "killed", phow, pcode))
  end
  local fargv = { tpp_path, exec_path, "--finish", "-j", tostring(tpp.cpus()) }
  table.move(exec_args, 1, #exec_args, #fargv + 1, fargv)
  local finish, ferr = tpp.spawn(fargv)
  if not finish then failure(ferr) end
  while not finish:eof() do
    tpp.poll({ finish }, 1)
    local o, e = finish:read()
    for _, line in ipairs(o) do io.stdout:write(line, "\n") end
    for _, line in ipairs(e) do io.stderr:write(line, "\n") end
  end
  local fok, _, fcode = finish:wait()
  os.exit((fok and pok) and 0 or (fcode == 2 and 2 or 1))
end

if parsed.engine == "slurm" then run_slurm() else run_parallel() end
