-- README.md stays true (issue 12, item 23): every code block of it runs as it stands, in order, in a copy of the
-- checkout (with HOME and TMPDIR in a temporary directory, so that `make install PREFIX="$HOME/.local"` installs
-- there); the installed main job runs from any directory; pandas and R read a critical TSV, NaN cells included,
-- as tpp wrote it.
--
-- Blocks are fenced and tagged: sh (run by sh -e), console (`$ command` lines, `> ` lines fed to it on stdin,
-- the other lines its expected output with the numbers left free, `...` for lines left out), lua (run by the
-- copy's ./tpp), python (Debian's /usr/bin/python3, which python3-pandas serves), r (Rscript) and text (not
-- code: not run).  The one command not run is `make test`, which is this suite.  Inline code in the prose is
-- not run.
local tpp = require "tpp"
local H = require "tests.helper"

local q = H.shell_quote
local RUNNERS = { sh = true, console = true, lua = true, python = true, r = true, text = true }

-- The fenced blocks of a Markdown text: { lang, code, line }; and the lines that would be indented code blocks.
local function blocks_of(text)
  local out, indented = {}, {}
  local lines = {}
  for line in (text .. "\n"):gmatch("(.-)\n") do lines[#lines + 1] = line end
  local i = 1
  while i <= #lines do
    local lang = lines[i]:match("^```(.*)$")
    if lang then
      local first, body = i, {}
      i = i + 1
      while i <= #lines and not lines[i]:match("^```%s*$") do body[#body + 1] = lines[i]; i = i + 1 end
      out[#out + 1] = { lang = lang, code = table.concat(body, "\n") .. "\n", line = first }
    elseif lines[i]:match("^    ") and (i == 1 or lines[i - 1] == "") then
      indented[#indented + 1] = i
    end
    i = i + 1
  end
  return out, indented
end

-- A copy of the checkout where `make` and `make install` have nothing to build: the sources, the Lua library,
-- scripts, sample and docs, the built ./tpp and its objects, with their times kept.
local work
local function setup()
  if work then return work end
  work = { dir = H.tmpdir() }
  work.copy, work.home, work.tmp = work.dir .. "/checkout", work.dir .. "/home", work.dir .. "/tmp"
  local cmd = ("mkdir -p %s/build %s %s && cp -a Makefile README.md src include lua scripts data docs tpp %s/ && "
               .. "cp -a build/*.o %s/build/"):format(q(work.copy), q(work.home), q(work.tmp), q(work.copy),
                                                       q(work.copy))
  local _, err, status = H.sh(cmd)
  assert(status == 0, "copying the checkout failed: " .. err)
  work.env = ("HOME=%s TMPDIR=%s"):format(q(work.home), q(work.tmp))
  return work
end

-- Run a shell command in the copy; stdout, stderr, status.
local function run(cmd, cwd)
  return H.sh(("cd %s && %s %s"):format(q(cwd or setup().copy), setup().env, cmd))
end

-- A line of expected output as a pattern: the text between numbers literal (runs of blanks as %s+), each number
-- free, so that the README need not follow every digit.
local function output_pattern(line)
  line = line:gsub("%s+$", "")
  local parts, pos = {}, 1
  while true do
    local s, e = line:find("%d[%d.]*", pos)
    local text = line:sub(pos, (s or #line + 1) - 1)
    parts[#parts + 1] = text:gsub("[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0"):gsub("%s+", "%%s+")
    if not s then break end
    parts[#parts + 1] = "[%d.]+"
    pos = e + 1
  end
  return "^" .. table.concat(parts)
end

local function run_console(block, where)
  local cmd, input, expected = nil, {}, {}
  for line in block.code:gmatch("(.-)\n") do
    if line:match("^%$ ") then
      assert.is_nil(cmd, where .. ": one command per console block")
      cmd = line:sub(3)
    elseif line:match("^> ") then input[#input + 1] = line:sub(3)
    elseif line ~= "..." and line ~= "" then expected[#expected + 1] = line end
  end
  assert.is_not_nil(cmd, where .. ": a console block starts with `$ command`")
  local stdin = H.write_file(setup().tmp .. "/console.in", table.concat(input, "\n") .. "\n")
  local out, err, status = run(cmd .. " < " .. q(stdin))
  assert.are.equal(0, status, where .. ": " .. cmd .. "\n" .. err)
  assert.are.equal("", err, where .. ": " .. cmd .. " wrote on stderr")
  local lines = {}
  for line in out:gmatch("[^\n]+") do lines[#lines + 1] = (line:gsub("^> ", "")) end
  local at = 1
  for _, want in ipairs(expected) do
    local pat = output_pattern(want)
    while at <= #lines and not lines[at]:find(pat) do at = at + 1 end
    assert.is_true(at <= #lines, ("%s: the output of `%s` has no line like\n%s\nafter the lines before it; "
                                  .. "it was:\n%s"):format(where, cmd, want, out))
    at = at + 1
  end
end

-- Debian's python3 (python3-pandas is installed for it; a python3 earlier on PATH may lack pandas).
local function python() return io.open("/usr/bin/python3") and "/usr/bin/python3" or "python3" end

local function run_block(block, k)
  local where = ("README.md:%d (block %d, %s)"):format(block.line, k, block.lang)
  local file = ("%s/block%d"):format(setup().tmp, k)
  local cmd
  if block.lang == "sh" then cmd = "sh -e " .. q(H.write_file(file .. ".sh", block.code))
  elseif block.lang == "lua" then cmd = "./tpp " .. q(H.write_file(file .. ".lua", block.code))
  elseif block.lang == "python" then cmd = python() .. " " .. q(H.write_file(file .. ".py", block.code))
  elseif block.lang == "r" then cmd = "Rscript " .. q(H.write_file(file .. ".R", block.code))
  elseif block.lang == "console" then return run_console(block, where)
  else return end
  local out, err, status = run(cmd)
  assert.are.equal(0, status, ("%s failed:\n%s\n--- stdout:\n%s\n--- stderr:\n%s"):format(where, block.code, out, err))
end

describe("README.md", function()
  teardown(function() if work then H.rmtree(work.dir) end end)

  it("has only tagged code blocks of languages this spec runs", function()
    local blocks, indented = blocks_of(H.read_file("README.md"))
    assert.is_true(#blocks >= 10, "blocks found: " .. #blocks)
    for _, b in ipairs(blocks) do
      assert.is_true(RUNNERS[b.lang] == true, ("README.md:%d: a code block tagged '%s' (sh, console, lua, python, "
                                               .. "r or text expected)"):format(b.line, b.lang))
    end
    assert.are.same({}, indented, "indented code blocks (lines of README.md): fence and tag them instead")
  end)

  it("runs every command and code block as it stands", function()
    local blocks = blocks_of(H.read_file("README.md"))
    local skipped = 0
    for k, b in ipairs(blocks) do
      if b.lang == "sh" and b.code:find("make test", 1, true) then
        assert.are.equal("make deps && make test\n", b.code, "README.md:" .. b.line .. ": only `make test` is skipped")
        skipped = skipped + 1
      else
        run_block(b, k)
      end
    end
    assert.are.equal(1, skipped)
    -- What the blocks promise: the main job's outputs here, the installed job's in a directory of its own.
    local w = setup()
    for _, f in ipairs { "critical/sample_critical.tsv", "port_count/sample_port_count.tsv", "hh/sample_hh.tsv",
                         "mem_dump/sample.tpd",
                         "plot/sample.html", "out/critical/sample_critical.tsv", "figures/sample_12.svg" } do
      assert.is_truthy(io.open(w.copy .. "/" .. f), f)
    end
    local found = H.sh("find " .. q(w.tmp) .. " -path '*/critical/sample_critical.tsv'")
    assert.truthy(found:find("critical/sample_critical.tsv", 1, true), "the installed main job wrote its outputs")
    assert.is_truthy(io.open(w.home .. "/.local/share/tpp/data/sample.pcap.gz"), "the sample is installed")
  end)

  it("the installed main job runs from any directory: ./data when there is one, else the installed sample", function()
    local w = setup()
    local prefix = w.dir .. "/prefix"
    local out, err, status = run("make install PREFIX=" .. q(prefix))
    assert.are.equal(0, status, err)
    assert.truthy(out:find(prefix .. "/share/tpp", 1, true), "make install says where things go:\n" .. out)
    for _, f in ipairs { "bin/tpp", "share/tpp/lua/tpp/init.lua", "share/tpp/scripts/exec.lua",
                         "share/tpp/scripts/examples/entropy_anomalies.lua", "share/tpp/data/sample.pcap.gz" } do
      assert.is_truthy(io.open(prefix .. "/" .. f), f)
    end
    local job = q(prefix .. "/bin/tpp") .. " " .. q(prefix .. "/share/tpp/scripts/exec.lua") .. " -f none -j 1"
    -- an empty directory: the installed sample
    local empty = w.dir .. "/empty"
    assert(os.execute("mkdir " .. q(empty)))
    out, err, status = run(job, empty)
    assert.are.equal(0, status, err)
    assert.truthy(err:find(prefix .. "/share/tpp/data/sample.pcap.gz", 1, true), err)
    local header, rows = H.read_tsv(empty .. "/critical/sample_critical.tsv")
    assert.are.equal("interval", header[1])
    assert.are.equal(12, #rows)
    -- a directory with its own data/: that one
    local own = w.dir .. "/own"
    assert(os.execute("mkdir -p " .. q(own .. "/data")))
    H.write_capture(own .. "/data/mine.pcap", "ethernet", {
      { ts_ns = H.T0, data = H.eth4_udp("10.0.0.1", "10.0.0.2", 1, 2, "") } })
    out, err, status = run(job, own)
    assert.are.equal(0, status, err)
    assert.is_truthy(io.open(own .. "/critical/mine_critical.tsv"), err)
    assert.is_nil(io.open(own .. "/critical/sample_critical.tsv"))
    -- a PATH that is given is never replaced by the sample
    out, err, status = run(job .. " data", empty)
    assert.are.equal(1, status, err)
    assert.truthy(err:find("data"), err)
    -- and the installed tpp finds its library from anywhere
    out, err, status = run(q(prefix .. "/bin/tpp") .. [[ -e 'print(require("tpp").utc(0, 0))']], "/")
    assert.are.equal(0, status, err)
    assert.are.equal("1970-01-01 00:00:00\n", out)
  end)

  it("pandas and R read a critical TSV as tpp wrote it, NaN cells as NaN", function()
    local w = setup()
    -- Three intervals of 1 s: three packets at the same time (no IAT variance: iat_skew and iat_kurt undefined),
    -- none, then four packets at uneven gaps.
    local T = 1672531200 * H.NS
    local function pkt(ns, dport)
      return { ts_ns = T + ns, data = H.eth4_tcp("10.0.0.1", "10.0.0.2", 1000, dport, H.SYN, "") }
    end
    local capture = w.tmp .. "/nan.pcap"
    H.write_capture(capture, "ethernet", {
      pkt(100000000, 80), pkt(100000000, 80), pkt(100000000, 443),
      pkt(2100000000, 22), pkt(2200000000, 22), pkt(2500000000, 25), pkt(2950000000, 80) })
    local r = assert(tpp.parse(capture, { delta_t = 1 }))
    local tsv = w.tmp .. "/nan_critical.tsv"
    assert(r:write_critical(tsv))
    local text = H.read_file(tsv)
    assert.truthy(text:find("\tnan[\t\n]"), "the TSV has NaN cells:\n" .. text)
    local names = r:columns()

    -- Each reader prints name, row, value (shortest round-trip text; NaN as "nan") and whether it is missing.
    local py = H.write_file(w.tmp .. "/read.py", [[
import math, sys
import pandas as pd
df = pd.read_csv(sys.argv[1], sep="\t")
for name in df.columns:
    assert df[name].dtype.kind in "if", (name, df[name].dtype)
    for i, v in enumerate(df[name]):
        v = float(v)
        print(name, i + 1, "nan" if math.isnan(v) else repr(v), int(bool(pd.isna(df[name][i]))), sep="\t")
]])
    local rs = H.write_file(w.tmp .. "/read.R", [==[
df <- read.delim(commandArgs(TRUE)[1])
for (name in names(df)) {
  stopifnot(is.numeric(df[[name]]))
  for (i in seq_along(df[[name]])) {
    v <- as.numeric(df[[name]][i])
    cat(name, i, if (is.nan(v)) "nan" else sprintf("%.17g", v), as.integer(is.na(v)), sep = "\t")
    cat("\n")
  }
}
]==])
    for _, reader in ipairs { { "pandas", python() .. " " .. q(py) }, { "R", "Rscript " .. q(rs) } } do
      local out, err, status = run(reader[2] .. " " .. q(tsv))
      assert.are.equal(0, status, reader[1] .. ": " .. err)
      local seen, nans = 0, 0
      for name, i, v, missing in out:gmatch("([%w_]+)\t(%d+)\t(%S+)\t(%d)\n") do
        i = tonumber(i)
        local want = r:column(name)[i]
        local what = ("%s: %s of row %d"):format(reader[1], name, i)
        if want ~= want then
          assert.are.equal("nan", v, what)
          assert.are.equal("1", missing, what .. " is missing")
          nans = nans + 1
        else
          local got = tonumber(v)
          local tol = (name == "start" or name == "end") and 1e-6 or 1e-15 * math.max(1, math.abs(want))
          assert.is_true(got ~= nil and math.abs(got - want) <= tol, ("%s: %s, tpp %s"):format(what, v, tostring(want)))
          assert.are.equal("0", missing, what)
        end
        seen = seen + 1
      end
      assert.are.equal(#names * #r, seen, reader[1] .. " read every cell:\n" .. out .. err)
      assert.is_true(nans >= 2, reader[1] .. " found the NaN cells")
    end
  end)
end)
