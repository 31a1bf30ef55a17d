-- tpp.cpus() honours cgroup CPU quotas (issue 15): a container, a Slurm task or a Kubernetes pod limited to 1.5
-- CPUs on a 64-core node must not start 64 workers.  Checked on made-up system trees (tpp.cpus(root): cgroup v2's
-- cpu.max, v1's cpu.cfs_quota_us/cfs_period_us, a container's own view, ancestors' limits, no limit) and, when
-- this machine lets root make a cgroup, on a real one.
local H = require "tests.helper"
local lfs = require "lfs"
local tpp = require "tpp"

-- The affinity count alone: what tpp.cpus() says without any cgroup file (an empty root).
local function affinity()
  local dir = H.tmpdir()
  local n = tpp.cpus(dir)
  H.rmtree(dir)
  return n
end

-- A made-up root: files = { ["proc/self/cgroup"] = text, ... }; directories are made as needed.
local function tree(files)
  local root = H.tmpdir()
  for path, text in pairs(files) do
    local sofar = root
    for part in path:match("^(.*)/[^/]*$"):gmatch("[^/]+") do
      sofar = sofar .. "/" .. part
      lfs.mkdir(sofar)
    end
    H.write_file(root .. "/" .. path, text)
  end
  return root
end

local MOUNT_V2 = "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"

describe("tpp.cpus and cgroup CPU limits", function()
  it("reads cgroup v2's cpu.max along the process's cgroup path and rounds a fraction up", function()
    local root = tree {
      ["proc/self/cgroup"] = "0::/user.slice/job.scope\n",
      ["proc/self/mountinfo"] = "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n" .. MOUNT_V2,
      ["sys/fs/cgroup/user.slice/job.scope/cpu.max"] = "150000 100000\n",   -- 1.5 CPUs
    }
    local n, limit = tpp.cpus(root)
    assert.are.equal(2, limit)
    assert.are.equal(math.min(2, affinity()), n)
    H.rmtree(root)
  end)

  it("takes the smallest limit of the cgroup and its ancestors, and 'max' is no limit", function()
    local root = tree {
      ["proc/self/cgroup"] = "0::/a/b/c\n",
      ["proc/self/mountinfo"] = MOUNT_V2,
      ["sys/fs/cgroup/a/cpu.max"] = "100000 100000\n",
      ["sys/fs/cgroup/a/b/cpu.max"] = "max 100000\n",
      ["sys/fs/cgroup/a/b/c/cpu.max"] = "800000 100000\n",
    }
    local n, limit = tpp.cpus(root)
    assert.are.equal(1, limit)
    assert.are.equal(1, n)
    H.rmtree(root)

    root = tree {
      ["proc/self/cgroup"] = "0::/a\n",
      ["proc/self/mountinfo"] = MOUNT_V2,
      ["sys/fs/cgroup/a/cpu.max"] = "max 100000\n",
    }
    n, limit = tpp.cpus(root)
    assert.is_nil(limit)
    assert.are.equal(affinity(), n)
    H.rmtree(root)
  end)

  it("reads cgroup v1's cfs quota and period, the cpu controller mounted with cpuacct, in a container's view", function()
    -- a container: /proc/self/cgroup names the host's path, the mount's root is that same path
    local root = tree {
      ["proc/self/cgroup"] = "12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n0::/\n",
      ["proc/self/mountinfo"] = "22 1 8:1 / / rw - overlay overlay rw\n"
        .. "35 31 0:30 /docker/abc /sys/fs/cgroup/cpu,cpuacct ro,nosuid - cgroup cgroup rw,cpu,cpuacct\n"
        .. "36 31 0:31 /docker/abc /sys/fs/cgroup/memory ro,nosuid - cgroup cgroup rw,memory\n",
      ["sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us"] = "100000\n",
      ["sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us"] = "100000\n",
      ["sys/fs/cgroup/memory/cpu.cfs_quota_us"] = "-1\n",
    }
    local n, limit = tpp.cpus(root)
    assert.are.equal(1, limit)
    assert.are.equal(1, n)
    H.rmtree(root)
  end)

  it("finds a mount point written with mountinfo's octal escapes, and -1 means no v1 quota", function()
    local root = tree {
      ["proc/self/cgroup"] = "3:cpu:/slurm/uid_0/job_7\n",
      ["proc/self/mountinfo"] = "40 31 0:29 / /sys/fs/cgroup/my\\040cpu rw - cgroup cgroup rw,cpu\n",
      ["sys/fs/cgroup/my cpu/slurm/uid_0/job_7/cpu.cfs_quota_us"] = "250000\n",
      ["sys/fs/cgroup/my cpu/slurm/uid_0/job_7/cpu.cfs_period_us"] = "100000\n",
      ["sys/fs/cgroup/my cpu/slurm/cpu.cfs_quota_us"] = "-1\n",
      ["sys/fs/cgroup/my cpu/slurm/cpu.cfs_period_us"] = "100000\n",
    }
    local _, limit = tpp.cpus(root)
    assert.are.equal(3, limit)
    H.rmtree(root)
  end)

  it("is the affinity count when there is no cgroup file at all", function()
    local n, limit = tpp.cpus("/nonexistent-root-for-tpp")
    assert.is_nil(limit)
    assert.is_true(n >= 1)
  end)

  -- A real cgroup: a child tpp moved into a new cgroup with a quota of one CPU (root and a writable cpu
  -- hierarchy: v1's cpu controller or v2 with cpu enabled for children).
  it("counts one CPU in a real cgroup limited to one CPU", function()
    local dir, files
    if lfs.attributes("/sys/fs/cgroup/cpu/cpu.cfs_quota_us") then
      dir, files = "/sys/fs/cgroup/cpu/tpp-spec-" .. tpp.pid(), "v1"
    elseif (H.read_file("/proc/self/cgroup"):match("^0::(/%S*)\n$")) and lfs.attributes("/sys/fs/cgroup/cgroup.subtree_control") then
      local parent = "/sys/fs/cgroup" .. H.read_file("/proc/self/cgroup"):match("^0::(/%S*)\n$"):gsub("/$", "")
      if H.read_file(parent .. "/cgroup.subtree_control"):find("cpu", 1, true) then
        dir, files = parent .. "/tpp-spec-" .. tpp.pid(), "v2"
      end
    end
    if not dir or not lfs.mkdir(dir) then
      pending("no writable cgroup cpu hierarchy here (needs root and a cpu controller)")
      return
    end
    local ok = pcall(function()
      if files == "v1" then
        H.write_file(dir .. "/cpu.cfs_period_us", "100000")
        H.write_file(dir .. "/cpu.cfs_quota_us", "100000")
      else
        H.write_file(dir .. "/cpu.max", "100000 100000")
      end
    end)
    local out = ok and H.sh(("sh -c 'echo $$ > \"$1/cgroup.procs\" && exec \"$2\" -e \"print(require([[tpp]]).cpus())\"' sh %s %s")
      :format(H.shell_quote(dir), H.shell_quote(H.tpp_absolute()))) or ""
    lfs.rmdir(dir)
    assert.is_true(ok, "could not set the quota of " .. dir)
    assert.are.equal("1\t1\n", out)
  end)
end)
