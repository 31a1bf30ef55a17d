-- tpp.cluster: the main job on existing engines (Slurm job arrays, GNU parallel), for scripts/cluster.lua.
--
--   cluster.quote(word)                     -> word single-quoted for sh: always data, never code
--   cluster.command(words)                  -> the words quoted and joined by spaces
--   cluster.exec_value_options()          -> set of exec.lua's option spellings that take a value
--   cluster.split(argv)                     -> { engine, own = {key = value}, exec = {...}, extra = {...} } |
--                                              nil, message                     (see below)
--   cluster.batches(n, max)                 -> { {first = shard, count = k}, ... }: arrays of at most max tasks
--   cluster.run(argv)                       -> ok, how, code, stdout lines, stderr lines   (waits for the end)
--   cluster.task_script(o), finish_script(o)-> the text of a generated sh script
--   cluster.slurm_max_array()               -> Slurm's MaxArraySize | nil, reason
--   cluster.slurm_state(id)                 -> "COMPLETED", exit code | nil, reason
--
-- Every word that comes from outside (paths, options, the output root) goes into a generated script only through
-- quote(); the engines' own command lines are argv lists given to tpp.spawn, never a shell's text.
local tpp = require "tpp"

local cluster = {}

function cluster.quote(word)
  word = tostring(word)
  return "'" .. word:gsub("'", [['\'']]) .. "'"
end

function cluster.command(words)
  local out = {}
  for i, w in ipairs(words) do out[i] = cluster.quote(w) end
  return table.concat(out, " ")
end

-- cluster.lua's own options, by engine; true: takes a value.
local OWN = {
  slurm = { ["--wait"] = false, ["--tasks"] = true, ["--cpus-per-task"] = true, ["--mem"] = true,
            ["--partition"] = true, ["--max-running"] = true },
  parallel = { ["--sshlogin"] = true, ["--transfer"] = false, ["--tasks"] = true },
}
cluster.ENGINES = { "slurm", "parallel" }

-- exec.lua's options that take a value (from its parser, so that a value such as `--filter --wait` stays the
-- filter's), as a set of spellings: "-o", "--out", ...
function cluster.exec_value_options()
  local set = {}
  for _, option in ipairs(require("tpp.cli").parser()._options or {}) do
    if (option._maxargs or 0) > 0 then
      for _, alias in ipairs(option._aliases) do set[alias] = true end
    end
  end
  return set
end

-- Split cluster.lua's command line: the engine, its own options (--tasks 4 or --tasks=4), exec.lua's options and
-- paths (in their order), and after "--" the engine's own options (sbatch's, parallel's).
function cluster.split(argv)
  local engine = argv[1]
  if not OWN[engine] then
    return nil, ("the first argument must be the engine, %s (got %s)"):format(table.concat(cluster.ENGINES, " or "),
      engine == nil and "nothing" or ("'" .. tostring(engine) .. "'"))
  end
  local own, exec, extra = {}, {}, {}
  local takes_value = cluster.exec_value_options()
  local i, n = 2, #argv
  while i <= n do
    local a = argv[i]
    if a == "--" then
      table.move(argv, i + 1, n, 1, extra)
      break
    end
    local name, value = a:match("^(%-%-[%w-]+)=(.*)$")
    name = name or a
    if OWN[engine][name] ~= nil then
      local key = name:sub(3):gsub("-", "_")
      if OWN[engine][name] then
        if value == nil then
          i = i + 1
          value = argv[i]
          if value == nil then return nil, ("option %s needs a value"):format(name) end
        end
        own[key] = value
      else
        if value ~= nil then return nil, ("option %s takes no value"):format(name) end
        own[key] = true
      end
    else
      for k, v in pairs(OWN) do
        if k ~= engine and v[name] ~= nil and OWN[engine][name] == nil then
          return nil, ("option %s is for the %s engine, not %s"):format(name, k, engine)
        end
      end
      exec[#exec + 1] = a
      if value == nil and takes_value[a] and argv[i + 1] ~= nil then   -- its value, whatever it looks like
        i = i + 1
        exec[#exec + 1] = argv[i]
      end
    end
    i = i + 1
  end
  return { engine = engine, own = own, exec = exec, extra = extra }
end

-- Shards 1..n in job arrays of at most `max` tasks each (Slurm's MaxArraySize: indices 0..max-1).
function cluster.batches(n, max)
  local out = {}
  for first = 1, n, max do out[#out + 1] = { first = first, count = math.min(max, n - first + 1) } end
  return out
end

-- Run argv to its end, collecting its output: ok, how ("exit" | "signal"), code, stdout lines, stderr lines.
-- A program that cannot be started: nil, "start", the reason.
function cluster.run(argv)
  local proc, err = tpp.spawn(argv)
  if not proc then return nil, "start", err, {}, {} end
  local out, errs = {}, {}
  while not proc:eof() do
    tpp.poll({ proc }, 1)
    local o, e = proc:read()
    table.move(o, 1, #o, #out + 1, out)
    table.move(e, 1, #e, #errs + 1, errs)
  end
  local ok, how, code = proc:wait()
  return ok, how, code, out, errs
end

local HEADER = "#!/bin/sh\n# Generated by tpp scripts/cluster.lua; every word from the command line is single-quoted.\n"

-- The command of one shard task: exec.lua --shard "$shard/N" -j "$jobs" -f none, exec's options and paths.
-- Exit status 1 (a capture failed or is incomplete) is the finishing step's to report: the task ran to its end,
-- so that the dependent finishing job still runs; any other failure (a crash, a signal, usage) fails the task.
local function shard_command(o)
  return table.concat({
    "cd " .. cluster.quote(o.cwd) .. " || exit 1",
    cluster.quote(o.tpp) .. " " .. cluster.quote(o.exec) .. ' --shard "$shard/' .. o.shards .. '" -j "$jobs" '
      .. cluster.command(o.args) .. " -f none",
    "status=$?",
    '[ "$status" -eq 1 ] && exit 0',
    'exit "$status"',
  }, "\n") .. "\n"
end

-- o = { engine = "slurm" | "parallel", cwd, tpp, exec (exec.lua's path), shards = N, args = exec's words }.
-- Slurm: `task.sh OFFSET` runs shard SLURM_ARRAY_TASK_ID + 1 + OFFSET with SLURM_CPUS_PER_TASK workers;
-- parallel: `task.sh SHARD` runs that shard with one worker (parallel runs one task per core).
function cluster.task_script(o)
  local head
  if o.engine == "slurm" then
    head = table.concat({
      "offset=${1:-0}",
      'case "$offset$SLURM_ARRAY_TASK_ID" in *[!0-9]*) echo "task.sh: not a Slurm array task" >&2; exit 2 ;; esac',
      "shard=$((SLURM_ARRAY_TASK_ID + 1 + offset))",
      "jobs=${SLURM_CPUS_PER_TASK:-1}",
      'case "$jobs" in "" | *[!0-9]*) jobs=1 ;; esac',
    }, "\n")
  else
    head = table.concat({
      'shard=${1:-}',
      'case "$shard" in "" | *[!0-9]*) echo "task.sh: the shard number is missing" >&2; exit 2 ;; esac',
      "jobs=1",
    }, "\n")
  end
  return HEADER .. "# One shard of the run (" .. o.shards .. " shards).\nset -u\n" .. head .. "\n" .. shard_command(o)
end

-- The finishing step: exec.lua --finish with the run's options and paths (figures, index, series, summary).
function cluster.finish_script(o)
  return HEADER .. "# The finishing step, once every shard has run.\nset -u\n"
    .. "jobs=${SLURM_CPUS_PER_TASK:-1}\n" .. 'case "$jobs" in "" | *[!0-9]*) jobs=1 ;; esac\n'
    .. "cd " .. cluster.quote(o.cwd) .. " || exit 1\n"
    .. "exec " .. cluster.quote(o.tpp) .. " " .. cluster.quote(o.exec) .. ' --finish -j "$jobs" '
    .. cluster.command(o.args) .. "\n"
end

-- Slurm's MaxArraySize (scontrol show config).
function cluster.slurm_max_array()
  local ok, how, code, out, errs = cluster.run { "scontrol", "show", "config" }
  if not ok then
    return nil, ("scontrol show config: %s"):format(how == "start" and code or (errs[1] or (how .. " " .. code)))
  end
  for _, line in ipairs(out) do
    local n = line:match("^MaxArraySize%s*=%s*(%d+)")
    if n then return math.tointeger(tonumber(n)) end
  end
  return 1001 -- Slurm's default
end

-- The state of job `id` ("PENDING", "RUNNING", "COMPLETED", "FAILED", ...), its exit code and, while pending,
-- the reason: from scontrol while the controller remembers the job (MinJobAge), else from sacct.
function cluster.slurm_state(id)
  local ok, how, code, out, errs = cluster.run { "scontrol", "show", "job", "-o", tostring(id) }
  if ok and out[1] then
    local line = out[1]
    local state = line:match("JobState=(%S+)")
    local exit = tonumber(line:match("ExitCode=(%d+):") or "")
    local reason = line:match("Reason=(%S+)")
    if state then return state, exit, reason end
  end
  local sok, _, _, sout = cluster.run { "sacct", "-n", "-X", "-P", "-j", tostring(id), "-o", "State,ExitCode" }
  if sok and sout[1] and sout[1] ~= "" then
    local state, exit = sout[1]:match("^(%S+)[^|]*|(%d+):")
    if state then return state, tonumber(exit) end
  end
  return nil, ("job %s: %s"):format(id, errs[1] or (how == "start" and code) or "unknown to scontrol and sacct")
end

-- Each task of a job array (scontrol show job -o ARRAYID: one line per task): { {id = "12_3", state, exit}, ... }.
function cluster.slurm_array_states(id)
  local ok, _, _, out = cluster.run { "scontrol", "show", "job", "-o", tostring(id) }
  local tasks = {}
  if not ok then return tasks end
  for _, line in ipairs(out) do
    local a, t = line:match("ArrayJobId=(%d+) ArrayTaskId=(%S+)")
    local state = line:match("JobState=(%S+)")
    if a and state then
      tasks[#tasks + 1] = { id = a .. "_" .. t, state = state, exit = tonumber(line:match("ExitCode=(%d+):") or "") }
    end
  end
  table.sort(tasks, function(x, y) return x.id < y.id end)
  return tasks
end

-- Wait `seconds` (tpp has no sleep of its own: sleep(1) runs to its end).
function cluster.sleep(seconds)
  cluster.run { "sleep", tostring(seconds) }
end

-- This program's executable (the tpp that the tasks run).
cluster.executable = require("tpp.workers").executable

return cluster
