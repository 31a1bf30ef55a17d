-- One large capture split into chunks (issue 15, item 4): tpp.split_plan finds chunk limits at interval
-- boundaries of the epoch grid, tpp.parse reads a chunk (range, prev_ns, and for .pcap.gz the checkpoint index of
-- tpp.gzindex), and the merge of the chunks is the single pass, byte for byte.
local tpp = require "tpp"
local H = require "tests.helper"
local synth = require "tpp.synth"

local PARITY = "tests/data/parity/"

-- Parse the chunks of `plan` and merge them.
local function chunks_merged(path, plan, opts)
  local parts = {}
  for k, c in ipairs(plan) do
    local o = { range = { c.from, c.to }, prev_ns = c.prev_ns }
    for key, v in pairs(opts) do o[key] = v end
    parts[k] = assert(tpp.parse(path, o))
    assert.is_true(parts[k].complete, parts[k].error)
  end
  local shuffled = {}
  for i = #parts, 1, -1 do shuffled[#shuffled + 1] = parts[i] end -- any order
  return assert(tpp.merge(shuffled)), parts
end

local function file_bytes(r, path)
  assert(r:write_critical(path))
  return H.read_file(path)
end

describe("splitting one capture", function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rmtree(dir) end)

  local cases = {
    { "synth-a.pcap", 1, 4 }, { "synth-a.pcap", 0.01, 7 }, { "modbusBig.pcap", 0.1, 5 }, { "afs.pcap", 2, 3 },
  }
  for _, case in ipairs(cases) do
    local name, dt, k = case[1], case[2], case[3]
    it(("gives the single pass byte for byte: %s at dt %s in %d chunks, plain and gzipped"):format(name, dt, k), function()
      local plain = PARITY .. name
      local gz = dir .. "/" .. name .. ".gz"
      H.sh("gzip -c " .. H.shell_quote(plain) .. " > " .. H.shell_quote(gz))
      assert(tpp.gzindex(gz, dir .. "/x.tpx"))
      for _, src in ipairs { { plain }, { gz, dir .. "/x.tpx" } } do
        local path, index = src[1], src[2]
        local whole = assert(tpp.parse(path, { delta_t = dt }))
        local plan = assert(tpp.split_plan(path, { delta_t = dt, chunks = k, index = index }))
        assert.is_true(#plan >= 2 and #plan <= k, #plan .. " chunks")
        for i = 2, #plan do  -- each chunk starts at an interval boundary, right after the chunk before
          assert.are.equal(plan[i - 1].to, plan[i].from)
          assert.is_true(math.type(plan[i].prev_ns) == "integer")
        end
        local merged, parts = chunks_merged(path, plan, { delta_t = dt, index = index })
        assert.are.equal(file_bytes(whole, dir .. "/w.tsv"), file_bytes(merged, dir .. "/m.tsv"))
        for i = 2, #parts do -- no interval is shared: each chunk's first row starts after the last one's before
          assert.is_true(parts[i]:interval(1).start >= parts[i - 1]:interval(#parts[i - 1])["end"])
        end
        -- the chunks of one capture make that capture's result again: its source, one piece, even its dump
        assert.are.same({ whole.source, 1, 0, 0 }, { merged.source, merged.pieces, merged.range_from, merged.range_to })
        assert(whole:dump(dir .. "/w.tpd"))
        assert(merged:dump(dir .. "/m.tpd"))
        assert.are.equal(H.read_file(dir .. "/w.tpd"), H.read_file(dir .. "/m.tpd"))
      end
    end)
  end

  it("splits a generated trace of many intervals into balanced chunks", function()
    local path = dir .. "/g.pcap"
    assert(synth.generate(path, { packets = 60000, duration = 120, seed = 3 }))
    local plan = assert(tpp.split_plan(path, { delta_t = 1, chunks = 4 }))
    assert.are.equal(4, #plan)
    local size = #H.read_file(path)
    for _, c in ipairs(plan) do
      assert.is_true(math.abs((c.to - c.from) - size / 4) < size / 10, ("%d bytes"):format(c.to - c.from))
    end
    local whole = assert(tpp.parse(path, { delta_t = 1 }))
    local merged = chunks_merged(path, plan, { delta_t = 1 })
    assert.are.equal(file_bytes(whole, dir .. "/w.tsv"), file_bytes(merged, dir .. "/m.tsv"))
  end)

  it("gives fewer chunks when the file has fewer interval boundaries", function()
    local plan = assert(tpp.split_plan(PARITY .. "synth-a.pcap", { delta_t = 1000, chunks = 4 }))
    assert.are.equal(1, #plan)
    assert.are.same({ 24, #H.read_file(PARITY .. "synth-a.pcap") }, { plan[1].from, plan[1].to })
  end)

  it("fails a chunk whose limits are not record boundaries, naming the place", function()
    local path = PARITY .. "afs.pcap"
    local plan = assert(tpp.split_plan(path, { delta_t = 2, chunks = 2 }))
    local r = assert(tpp.parse(path, { delta_t = 2, range = { plan[1].from, plan[1].to + 3 } }))
    assert.is_false(r.complete)
    assert.truthy(r.error:find("crosses the chunk's end at byte " .. (plan[1].to + 3), 1, true), r.error)
    local _, err = tpp.parse(path, { delta_t = 2, range = { 10, 100 } })
    assert.truthy(err:find("not inside the file's records", 1, true), err)
  end)

  it("refuses what cannot be split, with the reason", function()
    local ng = dir .. "/x.pcapng"
    local w = assert(tpp.pcap_writer(ng, "ethernet", { format = "pcapng" }))
    w:write(1, H.eth4_udp("10.0.0.1", "10.0.0.2", 1, 2, "x"))
    assert(w:close())
    local plan, err = tpp.split_plan(ng, { delta_t = 1, chunks = 2 })
    assert.is_nil(plan)
    assert.truthy(err:find("only an uncompressed classic pcap", 1, true), err)
    -- a gzip file of two members
    local two = dir .. "/two.pcap.gz"
    H.sh(("gzip -c %s > %s && gzip -c /dev/null >> %s"):format(PARITY .. "afs.pcap", two, two))
    local ok, why = tpp.gzindex(two, dir .. "/two.tpx")
    assert.is_nil(ok)
    assert.truthy(why:find("several members", 1, true), why)
    -- a chunk needs the epoch grid and no filter or limit
    for _, bad in ipairs { { boundary = "packet" }, { anchor = "first" }, { filter = "udp" }, { max_packets = 5 } } do
      bad.range = { 24, 1000 }
      assert.has_error(function() tpp.parse(PARITY .. "afs.pcap", bad) end)
    end
  end)

  it("uses an index only for the file it was made of", function()
    local a, b = dir .. "/a.pcap.gz", dir .. "/b.pcap.gz"
    H.sh(("gzip -c %s > %s; gzip -c %s > %s"):format(PARITY .. "afs.pcap", a, PARITY .. "synth-a.pcap", b))
    assert(tpp.gzindex(a, dir .. "/a.tpx"))
    local plan, err = tpp.split_plan(b, { delta_t = 1, chunks = 2, index = dir .. "/a.tpx" })
    assert.is_nil(plan)
    assert.truthy(err:find("the index is of another file", 1, true), err)
    H.write_file(dir .. "/bad.tpx", "TPPGZX1\nrubbish")
    plan, err = tpp.split_plan(a, { delta_t = 1, chunks = 2, index = dir .. "/bad.tpx" })
    assert.is_nil(plan)
    assert.truthy(err:find("damaged", 1, true), err)
  end)
end)

-- The main job (exec.lua --split K): every output of a run that splits its captures is a plain run's, byte for
-- byte, on one machine with -j 2 and in shards with --finish; only the chunks' own dumps and the gzip index are
-- added.
describe("exec.lua --split", function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rmtree(dir) end)

  local function files_of(root)
    local out = {}
    local function walk(d, prefix)
      for _, name in ipairs(H.list_dir(d)) do
        local full = d .. "/" .. name
        if require("lfs").attributes(full, "mode") == "directory" then walk(full, prefix .. name .. "/")
        elseif not name:find("%.chunk%d+of%d+%.tpd$") and not name:find("%.tpx$") then
          out[prefix .. name] = H.read_file(full)
        end
      end
    end
    walk(root, "")
    return out
  end

  local function assert_same_outputs(a, b)
    local fa, fb = files_of(a), files_of(b)
    local na, nb = {}, {}
    for k in pairs(fa) do na[#na + 1] = k end
    for k in pairs(fb) do nb[#nb + 1] = k end
    table.sort(na)
    table.sort(nb)
    assert.are.same(na, nb)
    for k, bytes in pairs(fa) do assert(bytes == fb[k], k .. " differs") end
    return na
  end

  it("gives a plain run's outputs, with -j 2 and in shards, for plain, gzipped and truncated captures", function()
    H.sh("mkdir -p " .. H.shell_quote(dir .. "/in"))
    assert(synth.generate(dir .. "/in/big.pcap", { packets = 40000, duration = 90, seed = 5 }))
    H.sh(("gzip -c %s > %s"):format(H.shell_quote(dir .. "/in/big.pcap"), H.shell_quote(dir .. "/in/zipped.pcap.gz")))
    local bytes = H.read_file(dir .. "/in/big.pcap")
    H.write_file(dir .. "/in/cut.pcap", bytes:sub(1, #bytes // 2 + 7))   -- ends inside a record
    local _, err, status = H.exec_in(dir, "-q -f none -t 1 -o plain in")
    assert.are.equal(1, status, err)                                      -- cut.pcap is incomplete
    _, err, status = H.exec_in(dir, "-f none -t 1 -j 2 --split 3 -o split in")
    assert.are.equal(1, status, err)
    assert.truthy(err:find("in/big.pcap -> big: 90 intervals, 40000 packets (merged from 3 chunks)", 1, true), err)
    assert.truthy(err:find("in/zipped.pcap.gz -> zipped: 90 intervals, 40000 packets (merged from 3 chunks)", 1, true), err)
    local names = assert_same_outputs(dir .. "/plain", dir .. "/split")
    assert.truthy(names[1] == "critical/big_critical.tsv" and #names == 3 * 4 + 2, table.concat(names, " "))

    -- the same deal of chunks into shards, then the finishing step
    local out = H.exec_in(dir, "--list --shards 2 -t 1 --split 3 in")
    assert.truthy(out:find("in/big.pcap\tbig (chunk 2/3)\t", 1, true), out)
    for i = 1, 2 do H.exec_in(dir, ("-q -f none -t 1 --split 3 --shard %d/2 -o cl in"):format(i)) end
    _, err, status = H.exec_in(dir, "-q -f none -t 1 --split 3 --finish -o cl in")
    assert.are.equal(1, status, err)
    assert_same_outputs(dir .. "/plain", dir .. "/cl")
  end)

  -- One pass counts a packet stamped back in time in the interval it is read in; a chunk starting after it would
  -- count it in its own: such captures are parsed whole (and tpp.merge refuses their chunks).
  it("parses a capture whose clock steps back whole, with the same outputs", function()
    H.sh("mkdir -p " .. H.shell_quote(dir .. "/in"))
    local packets, T = {}, 1700000000 * H.NS
    for k = 0, 299 do
      local back = k % 37 == 36 and -2500 * 1000000 or 0          -- now and then 2.5 s back
      packets[#packets + 1] = { ts_ns = T + k * 100000000 + back,
                                data = H.eth4_udp("10.0.0." .. (k % 7 + 1), "10.0.1.1", 1000 + k, 53, "q") }
    end
    H.write_capture(dir .. "/in/back.pcap", "ethernet", packets)
    local path = dir .. "/in/back.pcap"
    local plan = assert(tpp.split_plan(path, { delta_t = 1, chunks = 3 }))
    assert.are.equal(3, #plan)
    local parts = {}
    for k, c in ipairs(plan) do
      parts[k] = assert(tpp.parse(path, { delta_t = 1, range = { c.from, c.to }, prev_ns = c.prev_ns }))
    end
    local merged, why = tpp.merge(parts)
    assert.is_nil(merged)
    assert.truthy(why:find("timestamps go back in time", 1, true), why)

    local _, err, status = H.exec_in(dir, "-q -f none -t 1 -o plain in")
    assert.are.equal(0, status, err)
    _, err, status = H.exec_in(dir, "-f none -t 1 --split 3 -o split in")
    assert.are.equal(0, status, err)
    assert.truthy(err:find("in/back.pcap: parsed whole: ", 1, true), err)
    assert_same_outputs(dir .. "/plain", dir .. "/split")
  end)

  it("refuses to split what cannot be, before any work", function()
    for _, args in ipairs { "--compat --split 2", "--boundary packet --split 2", "--anchor first --split 2",
                            "--filter udp --split 2", "--max-packets 10 --split-size 5M", "--split 0", "--split-size 1k" } do
      local _, err, status = H.exec_in(dir, args .. " -o out nothing")
      assert.are.equal(2, status, args .. ": " .. err)
      assert.truthy(err:find("option --split", 1, true), err)
      assert.is_nil(require("lfs").attributes(dir .. "/out"))
    end
  end)
end)
