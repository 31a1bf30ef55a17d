-- The main job, `tpp scripts/exec.lua`, run as users run it: in a temporary directory, on small captures made by the
-- synthetic generator and the pcap writer; its outputs compared with what the library computes for the same
-- options, with the parity files of the original tool, and with arithmetic of their own.
local H = require "tests.helper"
local lfs = require "lfs"
local tpp = require "tpp"
local synth = require "tpp.synth"

local q = H.shell_quote
local ROOT = H.ROOT
local PARITY = ROOT .. "/tests/data/parity/"

local exec = H.exec_in

local function exists(path) return lfs.attributes(path, "mode") ~= nil end

local function lines_of(text)
  local out = {}
  for line in text:gmatch("[^\n]+") do out[#out + 1] = line end
  return out
end

-- Files under dir (relative names), sorted.
local function tree(dir)
  local out = {}
  local function walk(d, prefix)
    for name in lfs.dir(d) do
      if name ~= "." and name ~= ".." then
        local full = d .. "/" .. name
        if lfs.attributes(full, "mode") == "directory" then walk(full, prefix .. name .. "/")
        else out[#out + 1] = prefix .. name end
      end
    end
  end
  walk(dir, "")
  table.sort(out)
  return out
end

-- A small synthetic capture.
local function make_capture(path, opts)
  opts = opts or {}
  synth.generate(path, { packets = opts.packets or 3000, duration = opts.duration or 40, seed = opts.seed or 1,
                         scans = opts.scans or 1 })
  return path
end

-- The critical TSV and port counts the library gives for a capture and options, as text.
local function expected_critical(path, opts)
  local r = assert(tpp.parse(path, opts))
  local tmp = os.tmpname()
  assert(r:write_critical(tmp))
  local text = H.read_file(tmp)
  os.remove(tmp)
  return text, r
end

local function port_rows(path)
  local header, rows = H.read_tsv(path)
  local map = {}
  for _, row in ipairs(rows) do map[row[1]] = tonumber(row[2]) end
  return header, rows, map
end

describe("tpp scripts/exec.lua", function()
  local dir

  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rmtree(dir) end)

  describe("outputs", function()
    it("writes the dump, the critical table and the port counts of each capture under -o", function()
      lfs.mkdir(dir .. "/in")
      make_capture(dir .. "/in/one.pcap", { seed = 1 })
      make_capture(dir .. "/in/two.pcap.gz", { seed = 2 })
      local out, err, status = exec(dir, "-o out -f none in")
      assert.are.equal(0, status, err)
      assert.are.equal("", out)
      assert.are.same({ "critical/one_critical.tsv", "critical/two_critical.tsv", "hh/one_hh.tsv", "hh/two_hh.tsv",
                        "mem_dump/one.tpd", "mem_dump/two.tpd", "plot/index.html", "port_count/one_port_count.tsv",
                        "port_count/two_port_count.tsv" },
        tree(dir .. "/out"))
      for _, name in ipairs { "one", "two" } do
        local capture = dir .. "/in/" .. (name == "one" and "one.pcap" or "two.pcap.gz")
        local want, r = expected_critical(capture, { delta_t = 10 })
        assert.are.equal(want, H.read_file(dir .. "/out/critical/" .. name .. "_critical.tsv"))

        local header, rows, map = port_rows(dir .. "/out/port_count/" .. name .. "_port_count.tsv")
        assert.are.same({ "series", "distinct_ports" }, header)
        assert.are.same({ "tcp_src", "tcp_dst", "udp_src", "udp_dst", "total" },
          { rows[1][1], rows[2][1], rows[3][1], rows[4][1], rows[5][1] })
        local sum = 0
        for _, series in ipairs { "tcp_src", "tcp_dst", "udp_src", "udp_dst" } do
          assert.are.equal(r:distinct_ports(series), map[series], series)
          assert.is_true(map[series] > 0, series)
          sum = sum + map[series]
        end
        assert.are.equal(sum, map.total)

        local d = assert(tpp.load(dir .. "/out/mem_dump/" .. name .. ".tpd"))
        assert.are.equal(#r, #d)
        assert.are.equal(r.packets, d.packets)
        assert.are.same(r:column("entropy_src"), d:column("entropy_src"))
      end
      assert.are.same({ "index.html" }, tree(dir .. "/out/plot"))   -- -f none: the run's index, no figure
    end)

    it("defaults to data/ and the current directory", function()
      lfs.mkdir(dir .. "/data")
      make_capture(dir .. "/data/trace.pcap")
      local _, err, status = exec(dir, "-f none")
      assert.are.equal(0, status, err)
      assert.is_truthy(exists(dir .. "/critical/trace_critical.tsv"))
      assert.is_truthy(exists(dir .. "/port_count/trace_port_count.tsv"))
      assert.is_truthy(exists(dir .. "/mem_dump/trace.tpd"))
    end)

    it("ends with a summary line: captures, packets, intervals, time, files written", function()
      make_capture(dir .. "/a.pcap", { seed = 3 })
      make_capture(dir .. "/b.pcap", { seed = 4, packets = 2000, duration = 25 })
      local _, err, status = exec(dir, "-f none a.pcap b.pcap")
      assert.are.equal(0, status, err)
      local ra, rb = assert(tpp.parse(dir .. "/a.pcap")), assert(tpp.parse(dir .. "/b.pcap"))
      local last = lines_of(err)[#lines_of(err)]
      local n, packets, intervals, secs, files = last:match(
        "^tpp: (%d+) captures, (%d+) packets, (%d+) intervals, ([%d.]+) s, (%d+) files written$")
      assert.is_truthy(n, last)
      assert.are.equal(2, tonumber(n))
      assert.are.equal(ra.packets + rb.packets, tonumber(packets))
      assert.are.equal(#ra + #rb, tonumber(intervals))
      assert.is_true(tonumber(secs) >= 0)
      assert.are.equal(9, tonumber(files))   -- 4 per capture (with hh/) and the run's index, plot/index.html
    end)

    it("draws the selected figures only", function()
      make_capture(dir .. "/f.pcap")
      local _, err, status = exec(dir, "-f 1,2 f.pcap")
      assert.are.equal(0, status, err)
      local plots = tree(dir .. "/plot")
      local figures = {}
      for _, f in ipairs(plots) do
        local n = f:match("^f_(%d+)%.%a+$")
        if n then figures[#figures + 1] = tonumber(n) end
      end
      table.sort(figures)
      assert.are.same({ 1, 2 }, figures)
    end)
  end)

  describe("options", function()
    local capture
    before_each(function() capture = make_capture(dir .. "/c.pcap", { packets = 4000, duration = 30 }) end)

    it("-t takes fractions of a second", function()
      local _, err, status = exec(dir, "-f none -t 0.25 c.pcap")
      assert.are.equal(0, status, err)
      local got = H.read_file(dir .. "/critical/c_critical.tsv")
      assert.are.equal((expected_critical(capture, { delta_t = 0.25 })), got)
      local _, rows = H.read_tsv(dir .. "/critical/c_critical.tsv")
      assert.is_true(#rows >= 119 and #rows <= 121, #rows .. " intervals") -- 30 s / 0.25 s (+ a partial one)
      local span = H.text_to_ns(rows[2][3]) - H.text_to_ns(rows[2][2])
      assert.are.equal(250000000, span)
    end)

    it("--max-packets stops each capture after N packets, --max-intervals after N intervals", function()
      local _, err, status = exec(dir, "-f none --max-packets 1234 c.pcap")
      assert.are.equal(0, status, err)
      local header, rows = H.read_tsv(dir .. "/critical/c_critical.tsv")
      local col = {}
      for i, name in ipairs(header) do col[name] = i end
      local sum = 0
      for _, row in ipairs(rows) do sum = sum + tonumber(row[col.packets]) end
      assert.are.equal(1234, sum)

      _, err, status = exec(dir, "-f none --max-intervals 2 c.pcap")
      assert.are.equal(0, status, err)
      _, rows = H.read_tsv(dir .. "/critical/c_critical.tsv")
      assert.are.equal(2, #rows)
    end)

    it("--filter applies a BPF filter, and a bad one is a usage error before any work", function()
      local _, err, status = exec(dir, "-f none --filter udp c.pcap")
      assert.are.equal(0, status, err)
      local header, rows = H.read_tsv(dir .. "/critical/c_critical.tsv")
      local col = {}
      for i, name in ipairs(header) do col[name] = i end
      for _, row in ipairs(rows) do
        assert.are.equal(0, tonumber(row[col.tcp_frac]))
        assert.are.equal(0, tonumber(row[col.syn]))
      end
      assert.are.equal((expected_critical(capture, { filter = "udp" })), H.read_file(dir .. "/critical/c_critical.tsv"))

      local out
      out, err, status = exec(dir, "-o bad -f none --filter 'port port' c.pcap")
      assert.are.equal(2, status)
      assert.are.equal("", out)
      assert.is_truthy(err:match("^tpp: option %-%-filter: bad filter \"port port\": [^\n]+\n$"), err)
      assert.is_falsy(exists(dir .. "/bad"))
    end)

    it("--boundary and --ip select the interval semantics and the IP family", function()
      local _, err, status = exec(dir, "-f none --boundary packet --ip v6 c.pcap")
      assert.are.equal(0, status, err)
      assert.are.equal((expected_critical(capture, { boundary = "packet", ip = "v6" })),
        H.read_file(dir .. "/critical/c_critical.tsv"))
      assert.are_not.equal((expected_critical(capture, {})), H.read_file(dir .. "/critical/c_critical.tsv"))
    end)

    it("--compat reproduces the original tool's numbers (parity capture afs at delta_t 10)", function()
      assert(os.execute("cp " .. q(PARITY .. "afs.pcap") .. " " .. q(dir .. "/afs.pcap")))
      local _, err, status = exec(dir, "-f none --compat -t 10 afs.pcap")
      assert.are.equal(0, status, err)
      local want_header, want = H.read_tsv(PARITY .. "expected/afs_dt10.tsv")
      local got_header, got = H.read_tsv(dir .. "/critical/afs_critical.tsv")
      local col = {}
      for i, name in ipairs(got_header) do col[name] = i end
      assert.are.equal(#want, #got)
      for i, row in ipairs(want) do
        for j, name in ipairs(want_header) do
          local w, g = row[j], got[i][col[name]]
          if name == "end" then
            assert.are.equal(H.text_to_ns(w), H.text_to_ns(g), "interval " .. i .. " end")
          else
            local rel = (name == "iat_std" or name == "iat_skew" or name == "iat_kurt") and 1e-7 or 1e-9
            H.assert_close(tonumber(g), tonumber(w), rel, ("interval %d %s"):format(i - 1, name))
          end
        end
      end
      local summary = {}
      for line in io.lines(PARITY .. "expected/afs_dt10.summary") do
        local k, v = line:match("^(%S+)%s+(%S+)$")
        summary[k] = tonumber(v)
      end
      local _, _, ports = port_rows(dir .. "/port_count/afs_port_count.tsv")
      local total = 0
      for _, series in ipairs { "tcp_src", "tcp_dst", "udp_src", "udp_dst" } do
        assert.are.equal(summary["distinct_" .. series .. "_ports"], ports[series], series)
        total = total + summary["distinct_" .. series .. "_ports"]
      end
      assert.are.equal(total, ports.total)
    end)

    it("--compat conflicting with --boundary aligned is a usage error", function()
      local _, err, status = exec(dir, "--compat --boundary aligned c.pcap")
      assert.are.equal(2, status)
      assert.is_truthy(err:match("%-%-compat"))
    end)

    it("-q prints nothing for a good run and only the problems otherwise", function()
      local out, err, status = exec(dir, "-q -f none c.pcap")
      assert.are.equal(0, status)
      assert.are.equal("", out)
      assert.are.equal("", err)
      H.write_file(dir .. "/broken.pcap", H.read_file(capture):sub(1, 5000))
      out, err, status = exec(dir, "-q -f none c.pcap broken.pcap")
      assert.are.equal(1, status)
      assert.are.equal("", out)
      local lines = lines_of(err)
      assert.are.equal(1, #lines, err)
      assert.is_truthy(lines[1]:match("^tpp: broken%.pcap: incomplete: "))
    end)

    it("--print-critical prints every capture's rows on stdout, first column the capture", function()
      make_capture(dir .. "/d.pcap", { seed = 9, packets = 1000, duration = 15 })
      local out, err, status = exec(dir, "-f none -j 1 --print-critical c.pcap d.pcap")
      assert.are.equal(0, status, err)
      local want = {}
      for _, name in ipairs { "c", "d" } do
        local file = lines_of(H.read_file(dir .. "/critical/" .. name .. "_critical.tsv"))
        if #want == 0 then want[1] = "capture\t" .. file[1] end
        for i = 2, #file do want[#want + 1] = name .. "\t" .. file[i] end
      end
      assert.are.same(want, lines_of(out))
    end)

    it("--help lists every option and exits 0", function()
      local out, _, status = exec(dir, "--help")
      assert.are.equal(0, status)
      for _, opt in ipairs { "-o, --out DIR", "-t, --delta-t SEC", "--max-packets N", "--max-intervals N",
                             "-f, --figures LIST", "--filter EXPR", "--boundary MODE", "--ip FAMILY", "--compat",
                             "-j, --jobs N", "--config FILE", "--print-critical", "--force", "-q, --quiet",
                             "-h, --help" } do
        assert.is_truthy(out:find("\n%s+" .. opt:gsub("%p", "%%%0")), opt)
      end
    end)

    it("rejects bad values with a message and status 2", function()
      for _, args in ipairs { "-t 0", "-t abc", "--max-packets -1", "-j 0", "-f 1,23", "-f x", "--boundary diagonal",
                              "--ip v5", "--no-such-option" } do
        local out, err, status = exec(dir, args .. " c.pcap")
        assert.are.equal(2, status, args)
        assert.are.equal("", out, args)
        assert.is_truthy(err:match("^tpp: "), args)
        -- the usage when the command line does not parse; one line naming the option when a value is wrong
        if args == "--no-such-option" or args == "--max-packets -1" then assert.is_truthy(err:match("Usage:"), args)
        else assert.is_truthy(err:match("^tpp: [^\n]*\n$"), args) end
      end
      assert.is_falsy(exists(dir .. "/critical"))
    end)
  end)

  describe("--config", function()
    local capture
    before_each(function() capture = make_capture(dir .. "/c.pcap", { packets = 2000, duration = 20 }) end)

    it("takes options from a Lua file, the command line winning", function()
      H.write_file(dir .. "/cfg.lua", [[
        -- a config is data: local names and arithmetic are fine
        local minute = 60
        return { delta_t = minute / 30, max_intervals = 3, figures = "none", out = "from-config", boundary = "packet" }
      ]])
      local _, err, status = exec(dir, "--config cfg.lua c.pcap")
      assert.are.equal(0, status, err)
      assert.are.equal((expected_critical(capture, { delta_t = 2, max_intervals = 3, boundary = "packet" })),
        H.read_file(dir .. "/from-config/critical/c_critical.tsv"))

      _, err, status = exec(dir, "--config cfg.lua -t 5 -o cli c.pcap")
      assert.are.equal(0, status, err)
      assert.are.equal((expected_critical(capture, { delta_t = 5, max_intervals = 3, boundary = "packet" })),
        H.read_file(dir .. "/cli/critical/c_critical.tsv"))
    end)

    it("accepts paths and a list of figures", function()
      H.write_file(dir .. "/cfg.lua", 'return { paths = { "c.pcap" }, figures = {}, quiet = true }')
      local out, err, status = exec(dir, "--config cfg.lua")
      assert.are.equal(0, status, err)
      assert.are.equal("", out .. err)
      assert.is_truthy(exists(dir .. "/critical/c_critical.tsv"))
    end)

    it("runs the file without os, io or require: trying them fails, naming the file and line", function()
      H.write_file(dir .. "/evil.lua", 'local t = { delta_t = 5 }\nos.exit(0)\nreturn t\n')
      local out, err, status = exec(dir, "--config evil.lua c.pcap")
      assert.are.equal(2, status)
      assert.are.equal("", out)
      assert.is_truthy(err:match("evil%.lua:2:"), err)
      assert.is_falsy(exists(dir .. "/critical"))

      H.write_file(dir .. "/evil2.lua", 'return { filter = io.read("l") }\n')
      out, err, status = exec(dir, "--config evil2.lua c.pcap")
      assert.are.equal("", out)
      assert.are.equal(2, status)
      assert.is_truthy(err:match("evil2%.lua:1:"), err)
    end)

    it("reports syntax errors, unknown options, bad values and a missing file, naming the file", function()
      local cases = {
        { "return { delta_t = }", "bad1%.lua:1:" },
        { "return { delta = 5 }", "bad2%.lua: unknown option 'delta'" },
        { "return { delta_t = -1 }", "bad3%.lua: option delta_t must be" },
        { "return 42", "bad4%.lua: must return a table" },
        { "return { figures = '1-99' }", "bad5%.lua: option figures" },
      }
      for i, case in ipairs(cases) do
        H.write_file(dir .. "/bad" .. i .. ".lua", case[1])
        local _, err, status = exec(dir, "--config bad" .. i .. ".lua c.pcap")
        assert.are.equal(2, status, case[1])
        assert.is_truthy(err:match(case[2]), err)
      end
      local _, err, status = exec(dir, "--config nowhere.lua c.pcap")
      assert.are.equal(2, status)
      assert.is_truthy(err:match("nowhere%.lua"), err)
    end)
  end)

  describe("dumps", function()
    local capture
    before_each(function() capture = make_capture(dir .. "/c.pcap", { packets = 3000, duration = 30 }) end)

    local function ino(path) return lfs.attributes(path, "ino") end

    it("reuses an up-to-date dump made with the same options, --force re-parses", function()
      local _, err, status = exec(dir, "-f none c.pcap")
      assert.are.equal(0, status, err)
      local dump = dir .. "/mem_dump/c.tpd"
      local first = ino(dump)
      local critical = H.read_file(dir .. "/critical/c_critical.tsv")
      os.remove(dir .. "/critical/c_critical.tsv")

      _, err, status = exec(dir, "-f none c.pcap")
      assert.are.equal(0, status, err)
      assert.are.equal(first, ino(dump), "the dump was rewritten")
      assert.are.equal(critical, H.read_file(dir .. "/critical/c_critical.tsv"))
      assert.is_truthy(err:match("from its dump"), err)
      assert.is_truthy(err:match("%(1 from its dump%)"), err)

      _, err, status = exec(dir, "-f none --force c.pcap")
      assert.are.equal(0, status, err)
      assert.are_not.equal(first, ino(dump))
      assert.is_falsy(err:match("from its dump"), err)
      assert.are.equal(critical, H.read_file(dir .. "/critical/c_critical.tsv"))
    end)

    it("re-parses when the capture was modified or the options differ", function()
      local dump = dir .. "/mem_dump/c.tpd"
      assert.are.equal(0, select(3, exec(dir, "-f none c.pcap")))
      local before = ino(dump)
      local mtime = lfs.attributes(capture, "modification")
      assert(lfs.touch(capture, mtime + 100, mtime + 100))
      local _, err, status = exec(dir, "-f none c.pcap")
      assert.are.equal(0, status, err)
      assert.are_not.equal(before, ino(dump))

      for _, args in ipairs { "-t 5", "-t 5 --boundary packet", "-t 5 --boundary packet --ip v4",
                              "-t 5 --boundary packet --ip v4 --filter tcp", "-t 5 --max-packets 100",
                              "-t 5 --max-packets 100 --max-intervals 1" } do
        before = ino(dump)
        _, err, status = exec(dir, "-f none " .. args .. " c.pcap")
        assert.are.equal(0, status, err)
        assert.are_not.equal(before, ino(dump), args)
        before = ino(dump)
        _, err, status = exec(dir, "-f none " .. args .. " c.pcap")
        assert.are.equal(0, status, err)
        assert.are.equal(before, ino(dump), args .. " (second run)")
      end
      local d = assert(tpp.load(dump))
      assert.are.equal(100, d.max_packets)
      assert.are.equal(1, d.max_intervals)
      assert.are.equal(5, d.delta_t)
      assert.are.equal("aligned", d.boundary)
    end)

    it("re-parses when the dump is damaged, saying so", function()
      assert.are.equal(0, select(3, exec(dir, "-f none c.pcap")))
      local dump = dir .. "/mem_dump/c.tpd"
      local bytes = H.read_file(dump)
      H.write_file(dump, bytes:sub(1, #bytes // 2))
      local _, err, status = exec(dir, "-f none c.pcap")
      assert.are.equal(0, status, err)
      assert.is_truthy(err:match("not reusing [^\n]*c%.tpd"), err)
      assert.is_truthy(tpp.load(dump))
    end)
  end)

  describe("several captures", function()
    it("gives captures with the same stem distinct, stable names", function()
      lfs.mkdir(dir .. "/a")
      lfs.mkdir(dir .. "/b")
      make_capture(dir .. "/a/x.pcap", { seed = 11 })
      make_capture(dir .. "/b/x.pcap.gz", { seed = 12 })
      make_capture(dir .. "/b/x.pcap", { seed = 13, packets = 1000 })
      local _, err, status = exec(dir, "-f none a b")
      assert.are.equal(0, status, err)
      local files = tree(dir .. "/critical")
      assert.are.equal(3, #files)
      local by_content = {}
      for _, f in ipairs(files) do
        assert.is_truthy(f:match("^x%-%x%x%x%x%x%x%x%x_critical%.tsv$"), f)
        by_content[H.read_file(dir .. "/critical/" .. f)] = f
      end
      for _, c in ipairs { "a/x.pcap", "b/x.pcap.gz", "b/x.pcap" } do
        assert.is_truthy(by_content[(expected_critical(dir .. "/" .. c, {}))], c)
      end
      assert.are.equal(3, #tree(dir .. "/mem_dump"))
      assert.are.equal(3, #tree(dir .. "/port_count"))
      _, err, status = exec(dir, "-f none --force a b")
      assert.are.equal(0, status, err)
      assert.are.same(files, tree(dir .. "/critical"))
    end)

    it("processes a capture reached twice once", function()
      lfs.mkdir(dir .. "/in")
      make_capture(dir .. "/in/x.pcap")
      local _, err, status = exec(dir, "-f none in in/x.pcap ./in/../in/x.pcap")
      assert.are.equal(0, status, err)
      assert.are.same({ "x_critical.tsv" }, tree(dir .. "/critical"))
      assert.is_truthy(err:match("tpp: 1 capture,"), err)
    end)

    it("gives the same outputs with -j 1 and -j 2", function()
      lfs.mkdir(dir .. "/in")
      for seed = 1, 4 do make_capture(("%s/in/t%d.pcap"):format(dir, seed), { seed = seed, packets = 2000 + seed }) end
      local _, err, status = exec(dir, "-f none -j 1 -o one in")
      assert.are.equal(0, status, err)
      _, err, status = exec(dir, "-f none -j 2 -o two in")
      assert.are.equal(0, status, err)
      local files = tree(dir .. "/one")
      assert.are.equal(17, #files)   -- 4 per capture (with hh/) and plot/index.html
      assert.are.same(files, tree(dir .. "/two"))
      for _, f in ipairs(files) do
        if not f:match("%.tpd$") then   -- the tables and the index
          assert.are.equal(H.read_file(dir .. "/one/" .. f), H.read_file(dir .. "/two/" .. f), f)
        else
          local d1, d2 = assert(tpp.load(dir .. "/one/" .. f)), assert(tpp.load(dir .. "/two/" .. f))
          assert.are.same(d1:column("entropy_dst"), d2:column("entropy_dst"), f)
          assert.are.equal(d1.packets, d2.packets, f)
        end
      end
    end)

    for _, jobs in ipairs { 1, 2 } do
      it(("keeps going past broken captures and marks the truncated one (-j %d)"):format(jobs), function()
        lfs.mkdir(dir .. "/in")
        make_capture(dir .. "/in/a_good.pcap", { seed = 1 })
        local whole = H.read_file(make_capture(dir .. "/whole.pcap", { seed = 2 }))
        H.write_file(dir .. "/in/b_truncated.pcap", whole:sub(1, #whole // 2 + 7))
        H.write_file(dir .. "/in/c_garbage.pcap.gz", "\x1f\x8b" .. ("not really gzip"):rep(50))
        H.write_file(dir .. "/in/d_notes.txt", "not a capture\n")
        make_capture(dir .. "/in/e_good.pcap.gz", { seed = 3 })
        local out, err, status = exec(dir, ("-f none -j %d in"):format(jobs))
        assert.are.equal(1, status, err)
        assert.are.equal("", out)

        for _, name in ipairs { "a_good", "e_good" } do
          assert.is_truthy(exists(dir .. "/critical/" .. name .. "_critical.tsv"), name)
          assert.is_falsy(exists(dir .. "/critical/" .. name .. "_critical.tsv.incomplete"), name)
        end
        -- the truncated capture: everything up to the fault, marked
        local marker = dir .. "/critical/b_truncated_critical.tsv.incomplete"
        assert.is_truthy(exists(marker))
        local reason = H.read_file(marker)
        assert.is_truthy(#reason > 1 and reason:sub(-1) == "\n")
        local partial = assert(tpp.parse(dir .. "/in/b_truncated.pcap"))
        assert.is_false(partial.complete)
        assert.are.equal(partial.error .. "\n", reason)
        local _, rows = H.read_tsv(dir .. "/critical/b_truncated_critical.tsv")
        assert.are.equal(#partial, #rows)
        assert.is_true(#rows > 0)
        assert.is_truthy(exists(dir .. "/port_count/b_truncated_port_count.tsv"))
        assert.is_truthy(exists(dir .. "/mem_dump/b_truncated.tpd"))
        assert.is_truthy(err:find("tpp: in/b_truncated.pcap: incomplete: " .. partial.error, 1, true), err)
        -- the unreadable one: reported, no outputs
        assert.is_truthy(err:match("\ntpp: in/c_garbage%.pcap%.gz: [^\n]+") or err:match("^tpp: in/c_garbage"), err)
        assert.is_falsy(exists(dir .. "/critical/c_garbage_critical.tsv"))
        -- the text file: one line
        local mentions = 0
        for line in err:gmatch("[^\n]+") do
          if line:find("d_notes.txt", 1, true) then mentions = mentions + 1 end
        end
        assert.are.equal(1, mentions)
        assert.is_falsy(exists(dir .. "/critical/d_notes_critical.tsv"))

        -- once the capture is whole again, the marker goes
        H.write_file(dir .. "/in/b_truncated.pcap", whole)
        os.remove(dir .. "/in/c_garbage.pcap.gz")
        _, err, status = exec(dir, ("-f none -j %d in"):format(jobs))
        assert.are.equal(0, status, err)
        assert.is_falsy(exists(marker))
      end)
    end
  end)

  describe("exit status", function()
    it("is 0 when a non-capture file is skipped with one line", function()
      make_capture(dir .. "/c.pcap")
      H.write_file(dir .. "/README", "hello\n")
      local _, err, status = exec(dir, "-f none c.pcap README")
      assert.are.equal(0, status, err)
      local lines = {}
      for line in err:gmatch("[^\n]+") do if line:find("README", 1, true) then lines[#lines + 1] = line end end
      assert.are.same({ "tpp: skipping README: not a capture (unknown magic bytes)" }, lines)
    end)

    it("is 1 for a path that does not exist, or when there is no capture at all", function()
      make_capture(dir .. "/c.pcap")
      local _, err, status = exec(dir, "-f none c.pcap missing.pcap")
      assert.are.equal(1, status)
      assert.is_truthy(err:match("tpp: missing%.pcap: no such file or directory"), err)
      assert.is_truthy(exists(dir .. "/critical/c_critical.tsv"))

      lfs.mkdir(dir .. "/empty")
      _, err, status = exec(dir, "-f none empty")
      assert.are.equal(1, status)
      assert.is_truthy(err:match("no captures found in empty"), err)
    end)

    it("is 1 when an output cannot be written", function()
      make_capture(dir .. "/c.pcap")
      H.write_file(dir .. "/blocker", "a file where a directory should be\n")
      local _, err, status = exec(dir, "-f none -o blocker c.pcap")
      assert.are.equal(1, status)
      assert.is_truthy(err:match("blocker"), err)
    end)

    it("is 1, and the input untouched, when an output would be one of the inputs", function()
      local cap = make_capture(dir .. "/c.pcap")
      local before = H.read_file(cap)
      assert(lfs.mkdir(dir .. "/out"))
      assert(lfs.mkdir(dir .. "/out/mem_dump"))
      assert(os.execute(("ln %s %s"):format(q(cap), q(dir .. "/out/mem_dump/c.tpd")))) -- the dump's path, hard-linked
      local _, err, status = exec(dir, "-f none -o out c.pcap")
      assert.are.equal(1, status)
      assert.is_truthy(err:find("is the input", 1, true), err)
      assert.are.equal(before, H.read_file(cap))
      assert.is_false(exists(dir .. "/out/critical/c_critical.tsv"))
    end)
  end)
end)
