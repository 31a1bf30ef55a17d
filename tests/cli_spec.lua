-- The main job's library modules on their own: tpp.cli (figure lists, options, configs), tpp.walk (names of
-- same-stem captures), tpp.outputs (paths, atomic writes, port counts) and tpp.workers (its wire format).
local H = require "tests.helper"
local lfs = require "lfs"
local cli = require "tpp.cli"
local outputs = require "tpp.outputs"
local walk = require "tpp.walk"
local workers = require "tpp.workers"

describe("tpp.cli", function()
  describe("parse_figures", function()
    it("reads numbers, ranges, all and none", function()
      assert.are.same({ 1, 2, 12, 13, 14, 15, 16, 17, 18 }, cli.parse_figures("1,2,12-18"))
      assert.are.same({ 3 }, cli.parse_figures("3"))
      assert.are.same({ 2, 4, 5, 6 }, cli.parse_figures(" 6, 2 ,4-5,5 "))
      assert.are.same({}, cli.parse_figures("none"))
      local all = cli.parse_figures("ALL")
      assert.are.equal(22, #all)                     -- the original's 18 and tpp's 19-22
      for i = 1, 22 do assert.are.equal(i, all[i]) end
      assert.are.same({ 7, 9 }, cli.parse_figures({ 9, 7, 9 }))
    end)

    it("refuses anything else with a message naming the bad item", function()
      for _, bad in ipairs { "", "0", "23", "3-1", "1,,2", "x", "1-", "-3", "1.5", "2-24" } do
        local list, err = cli.parse_figures(bad)
        assert.is_nil(list, bad)
        assert.is_truthy(err:match("^figure list '"), bad)
      end
      assert.is_nil(cli.parse_figures({ 1, 23 }))
      assert.is_nil(cli.parse_figures({ "1" }))
      assert.is_nil(cli.parse_figures(12))
    end)
  end)

  describe("resolve", function()
    it("gives the defaults", function()
      local s = assert(cli.resolve {})
      assert.are.same({ "data" }, s.paths)
      assert.are.equal(".", s.out)
      assert.are.same({ delta_t = 10, boundary = "aligned", ip = "any", anchor = "epoch", max_packets = 0,
                        max_intervals = 0 }, s.parse)
      assert.are.equal(22, #s.figures)
      assert.is_true(s.jobs >= 1)
      assert.is_false(s.force)
      assert.is_false(s.quiet)
      assert.is_false(s.print_critical)
    end)

    it("reads every option", function()
      local s = assert(cli.resolve { "-o", "out", "-t", "0.5", "--max-packets", "7", "--max-intervals", "3", "-f", "2-3",
        "--filter", "udp", "--boundary", "packet", "--ip", "v6", "--anchor", "first", "-j", "5", "--print-critical",
        "--force", "-q", "x.pcap", "dir" })
      assert.are.same({ "x.pcap", "dir" }, s.paths)
      assert.are.equal("out", s.out)
      assert.are.same({ delta_t = 0.5, boundary = "packet", ip = "v6", anchor = "first", filter = "udp",
                        max_packets = 7, max_intervals = 3 }, s.parse)
      assert.are.same({ 2, 3 }, s.figures)
      assert.are.equal(5, s.jobs)
      assert.is_true(s.print_critical and s.force and s.quiet)
    end)

    it("expands --compat", function()
      local s = assert(cli.resolve { "--compat" })
      assert.are.equal("packet", s.parse.boundary)
      assert.are.equal("v4", s.parse.ip)
      assert.is_truthy(cli.resolve { "--compat", "--ip", "v4" })
      local none, err = cli.resolve { "--compat", "--ip", "any" }
      assert.is_nil(none)
      assert.is_truthy(err:match("conflicts with %-%-ip any"))
    end)

    it("lets the command line win over a config, and the config over the defaults", function()
      local dir = H.tmpdir()
      local cfg = H.write_file(dir .. "/c.lua", 'return { delta_t = 3, ip = "v4", compat = true, jobs = 9, figures = { 4 } }')
      local s = assert(cli.resolve { "--config", cfg, "-t", "2", "--boundary", "aligned" })
      H.rmtree(dir)
      assert.are.equal(2, s.parse.delta_t)         -- command line
      assert.are.equal("aligned", s.parse.boundary) -- command line over the config's compat
      assert.are.equal("v4", s.parse.ip)            -- config
      assert.are.equal(9, s.jobs)
      assert.are.same({ 4 }, s.figures)
      assert.are.equal(0, s.parse.max_packets)      -- default
    end)
  end)

  describe("load_config", function()
    local dir
    before_each(function() dir = H.tmpdir() end)
    after_each(function() H.rmtree(dir) end)

    it("runs the file with an empty environment", function()
      local path = H.write_file(dir .. "/c.lua", "return { filter = tostring(print) .. tostring(string) .. tostring(_G) }")
      local t, err = cli.load_config(path)
      assert.is_nil(t)
      assert.is_truthy(err:match("c%.lua:1: attempt to call a nil value %(global 'tostring'%)"), err)
    end)

    it("checks every value", function()
      local cases = {
        { "{ max_packets = 1.5 }", "option max_packets must be a non%-negative integer" },
        { "{ jobs = 0 }", "option jobs must be a positive integer" },
        { "{ quiet = 'yes' }", "option quiet must be true or false" },
        { "{ paths = {} }", "option paths must be a path" },
        { "{ boundary = 'x' }", "option boundary must be one of aligned, packet" },
        { "{ config = 'other.lua' }", "unknown option 'config'" },
        { "{ [1] = 2 }", "unknown option '1'" },
      }
      for _, c in ipairs(cases) do
        local path = H.write_file(dir .. "/c.lua", "return " .. c[1])
        local t, err = cli.load_config(path)
        assert.is_nil(t, c[1])
        assert.is_truthy(err:match("^" .. path:gsub("%p", "%%%0") .. ": " .. c[2]), err)
      end
    end)
  end)
end)

describe("tpp.walk", function()
  it("normalises paths to absolute ones", function()
    assert.are.equal("/a/c", walk.absolute("/a/./b/../c/"))
    assert.are.equal("/", walk.absolute("/.."))
    assert.are.equal(lfs.currentdir() .. "/x", walk.absolute("./x"))
  end)

  it("names captures after their stems, and same-stem ones after their paths too", function()
    local names = walk.names { "a/x.pcap", "b/x.pcap.gz", "y.pcapng", "b/x.pcap" }
    assert.are.equal("y", names[3])
    local seen = {}
    for _, i in ipairs { 1, 2, 4 } do
      assert.is_truthy(names[i]:match("^x%-%x%x%x%x%x%x%x%x$"), names[i])
      assert.is_nil(seen[names[i]])
      seen[names[i]] = true
    end
    -- the same capture gets the same name whatever the order and however it was written
    local again = walk.names { "./b/x.pcap", "y.pcapng", "a/../a/x.pcap" }
    assert.are.equal(names[4], again[1])
    assert.are.equal(names[1], again[3])
    assert.are.same({ "x", "y" }, walk.names { "a/x.pcap", "y.pcap" })
  end)

  it("lists a capture reached twice once, and flags missing paths", function()
    local dir = H.tmpdir()
    H.write_capture(dir .. "/c.pcap", "ethernet", {})
    local found, skipped = walk.captures { dir, dir .. "/c.pcap", dir .. "/nope" }
    H.rmtree(dir)
    assert.are.same({ dir .. "/c.pcap" }, found)
    assert.are.equal(1, #skipped)
    assert.is_true(skipped[1].missing)
  end)
end)

describe("tpp.outputs", function()
  it("places the outputs under the root", function()
    assert.are.same({ dump = "o/mem_dump/n.tpd", critical = "o/critical/n_critical.tsv",
                      incomplete = "o/critical/n_critical.tsv.incomplete", port_count = "o/port_count/n_port_count.tsv",
                      hh = "o/hh/n_hh.tsv", labels = "o/labels/n_labels.tsv", plot = "o/plot" },
                    outputs.paths("o/", "n"))
    assert.are.equal("/mem_dump/n.tpd", outputs.paths("/", "n").dump)
  end)

  it("writes files atomically, leaving no temporary behind on failure", function()
    local dir = H.tmpdir()
    local path = dir .. "/f.tsv"
    assert.is_true(outputs.write_atomic(path, "one\n"))
    assert.is_true(outputs.write_atomic(path, "two\n"))
    assert.are.equal("two\n", H.read_file(path))
    local ok, err = outputs.write_atomic(dir .. "/no/such/dir/f.tsv", "x")
    assert.is_nil(ok)
    assert.is_truthy(err:match("^" .. dir:gsub("%p", "%%%0") .. "/no/such/dir/f%.tsv: cannot create"), err)
    lfs.mkdir(dir .. "/d")
    ok = outputs.write_atomic(dir .. "/d", "x")     -- a directory in the way: the rename fails
    assert.is_nil(ok)
    local names = {}
    for name in lfs.dir(dir) do names[#names + 1] = name end
    table.sort(names)
    assert.are.same({ ".", "..", "d", "f.tsv" }, names)
    H.rmtree(dir)
  end)

  it("formats the port counts with their total", function()
    local fake = { distinct_ports = function(_, s) return ({ tcp_src = 3, tcp_dst = 5, udp_src = 0, udp_dst = 1 })[s] end }
    assert.are.equal("series\tdistinct_ports\ntcp_src\t3\ntcp_dst\t5\nudp_src\t0\nudp_dst\t1\ntotal\t9\n",
      outputs.port_count_text(fake))
  end)
end)

describe("tpp.workers wire format", function()
  it("round-trips summaries on one line", function()
    local v = { path = "a\nb\\c\"d\r", n = 3, x = 0.1, big = 2 ^ 60, list = { 1, 2, "three" }, flag = false,
                nested = { ["not an identifier"] = true }, huge = math.huge }
    local text = workers.encode(v)
    assert.is_falsy(text:find("\n"))
    assert.are.same(v, workers.decode(text))
    local nan = workers.decode(workers.encode(0 / 0))
    assert.is_true(nan ~= nan)
  end)

  it("refuses what it cannot encode and code that is not data", function()
    assert.has_error(function() workers.encode({ f = print }) end)
    assert.is_nil(workers.decode("os.exit(1)"))
  end)
end)
