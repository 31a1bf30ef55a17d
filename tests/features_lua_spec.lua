-- Issue 16 from Lua and the command line: r:heavy_hitters on a capture with known answers (computed here from
-- the packets written, not by tpp's decoder), the heavy-hitter TSV (r:write_heavy_hitters and the main job's
-- hh/<name>_hh.tsv, in a series too), the options --features, --flow-timeout, --heavy-hitters, --hhh-phi (and
-- their config keys), figures 19-22 and the page that lists them, the help and the REPL's completion, and the
-- column list kept in one place (C's, described by help and docs/lua-api.md).
local H = require "tests.helper"
local lfs = require "lfs"
local tpp = require "tpp"

local q = H.shell_quote
local exec = H.exec_in
local HAVE_GNUPLOT = require("tpp.gnuplot").find() ~= nil

local T0 = 1700000000 -- a multiple of 1 s: interval k is [T0 + k, T0 + k + 1)

-- The known capture: per interval, flows of identical packets { src, dst, proto, sport, dport, count, payload }.
-- Interval 2 is empty.  Ties on purpose: 10.0.0.2 and 10.0.1.7 send 3 packets each (bytes decide), 10.0.0.9 and
-- 2001:db8::1 one packet of the same IP length each (the key decides: IPv4 first).
local FLOWS = {
  [0] = {
    { "10.0.0.1", "192.0.2.1", "tcp", 1000, 443, 5, 100 },
    { "10.0.0.2", "192.0.2.1", "tcp", 1001, 80, 3, 0 },
    { "10.0.1.7", "192.0.2.2", "udp", 5353, 53, 3, 50 },
    { "10.0.0.9", "192.0.2.3", "udp", 5000, 53, 1, 40 },
    { "2001:db8::1", "2001:db8:1::2", "udp", 5000, 53, 1, 20 },
  },
  [1] = {
    { "10.0.0.1", "192.0.2.1", "tcp", 1000, 443, 2, 100 },
  },
  [3] = {
    { "198.51.100.7", "203.0.113.9", "udp", 7, 9, 4, 10 },
  },
}
local LAST = 3

local function is_v6(a) return a:find(":", 1, true) ~= nil end

-- The packet of a flow (raw IP: link type "raw") and its IP length.
local function packet(f)
  local src, dst, proto, sport, dport, payload = f[1], f[2], f[3], f[4], f[5], ("x"):rep(f[7])
  local l4 = proto == "tcp" and H.tcp(sport, dport, 0x10, payload) or H.udp(sport, dport, payload)
  local pn = proto == "tcp" and 6 or 17
  local ip = is_v6(src) and H.ipv6(src, dst, pn, l4) or H.ipv4(src, dst, pn, l4)
  return ip, #ip
end

local function write_known(path)
  local packets = {}
  for k = 0, LAST do
    local n = 0
    for _, f in ipairs(FLOWS[k] or {}) do
      local ip = packet(f)
      for _ = 1, f[6] do
        n = n + 1
        packets[#packets + 1] = { ts_ns = (T0 + k) * 1000000000 + n * 1000000, data = ip }
      end
    end
  end
  return H.write_capture(path, "raw", packets, { nanosecond = true })
end

-- The reference: the heavy hitters of each flat dimension computed from FLOWS, ordered as docs/lua-api.md says
-- (packets desc, bytes desc, key asc: IPv4 before IPv6, then address bytes; ports by number).
local function prefix24(a)
  if is_v6(a) then
    local b = H.ip6(a)
    return b:sub(1, 6) .. ("\0"):rep(10), 6
  end
  local b = H.ip4(a)
  return b:sub(1, 3) .. "\0", 4
end

local PREFIX48 = { ["2001:db8::1"] = "2001:db8::/48", ["2001:db8:1::2"] = "2001:db8:1::/48" }

local function sort_key(a)                     -- bytes that order as the key order
  if is_v6(a) then return "6" .. H.ip6(a) end
  return "4" .. H.ip4(a)
end

local function reference(k)
  local dims = { src = {}, dst = {}, src_p24 = {}, dst_p24 = {}, tcp_dport = {}, udp_dport = {} }
  local totals = { ip = 0, tcp = 0, udp = 0 }
  local function add(dim, key, order, n, bytes)
    local e = dims[dim][key]
    if not e then e = { key = key, order = order, packets = 0, bytes = 0 }; dims[dim][key] = e end
    e.packets, e.bytes = e.packets + n, e.bytes + bytes
  end
  for _, f in ipairs(FLOWS[k] or {}) do
    local _, len = packet(f)
    local n, bytes = f[6], f[6] * len
    totals.ip = totals.ip + n
    totals[f[3]] = totals[f[3]] + n
    add("src", f[1], sort_key(f[1]), n, bytes)
    add("dst", f[2], sort_key(f[2]), n, bytes)
    for _, side in ipairs { { "src_p24", f[1] }, { "dst_p24", f[2] } } do
      local p, fam = prefix24(side[2])
      local text = fam == 6 and PREFIX48[side[2]] or ("%d.%d.%d.0/24"):format(p:byte(1, 3))
      add(side[1], text, (fam == 6 and "6" or "4") .. p, n, bytes)
    end
    add(f[3] .. "_dport", f[5], ("%05d"):format(f[5]), n, bytes)
  end
  return H.ref.ranked_hh(dims, totals)
end

local FLAT = { "src", "dst", "src_p24", "dst_p24", "tcp_dport", "udp_dport" }

-- The rows of the heavy-hitter TSV that r:heavy_hitters gives, as text lines (share compared as a number).
local function rows_from_api(r)
  local rows = {}
  for i = 1, #r do
    for _, dim in ipairs(tpp.hh_dims) do
      for _, e in ipairs(r:heavy_hitters(dim, i)) do
        rows[#rows + 1] = { tostring(i - 1), dim, tostring(e.key), tostring(e.packets), tostring(e.bytes), e.share }
      end
    end
  end
  return rows
end

local function assert_tsv_matches(path, r)
  local header, rows = H.read_tsv(path)
  assert.are.same({ "interval", "dim", "key", "packets", "bytes", "share" }, header)
  local want = rows_from_api(r)
  assert.are.equal(#want, #rows, path)
  for n, row in ipairs(rows) do
    for c = 1, 5 do assert.are.equal(want[n][c], row[c], ("%s row %d column %d"):format(path, n, c)) end
    local share = want[n][6]
    if share ~= share then assert.are.equal("nan", row[6]) else assert.are.equal(share, tonumber(row[6])) end
  end
  return rows
end

describe("heavy hitters from Lua", function()
  local dir, capture, r

  setup(function()
    dir = H.tmpdir()
    capture = write_known(dir .. "/known.pcap")
    r = assert(tpp.parse(capture, { delta_t = 1 }))
  end)
  teardown(function() H.rmtree(dir) end)

  it("gives every flat dimension of every interval as computed from the packets written", function()
    assert.are.equal(LAST + 1, #r)
    for k = 0, LAST do
      local want = reference(k)
      for _, dim in ipairs(FLAT) do
        local got = r:heavy_hitters(dim, k + 1)
        assert.are.same(want[dim], got, ("interval %d, %s"):format(k, dim))
      end
    end
  end)

  it("spells keys as addresses without a length, prefixes with one, ports as integers", function()
    local src = r:heavy_hitters("src", 1)
    assert.are.same({ "10.0.0.1", "10.0.1.7", "10.0.0.2", "10.0.0.9", "2001:db8::1" },
                    { src[1].key, src[2].key, src[3].key, src[4].key, src[5].key })
    assert.are.same({ key = "10.0.0.1", packets = 5, bytes = 5 * 140, share = 5 / 13 }, src[1])
    assert.are.equal("10.0.0.0/24", r:heavy_hitters("src_p24", 1)[1].key)
    assert.are.equal("2001:db8:1::/48", r:heavy_hitters("dst_p24", 1)[2].key)
    local tcp = r:heavy_hitters("tcp_dport", 1)
    assert.are.equal(443, tcp[1].key)
    assert.are.equal("integer", math.type(tcp[1].key))
    assert.are.equal(5 / 8, tcp[1].share)                 -- of the TCP packets with ports
    assert.are.equal(1, r:heavy_hitters("udp_dport", 1)[1].share)
  end)

  it("prints a list as the REPL shows it, and tpp.type and help know it", function()
    local top = r:heavy_hitters("src", 1, 2)
    assert.are.equal("heavy_hitters", tpp.type(top))
    assert.are.equal("10.0.0.1 (5 packets, 700 bytes, 38.46 %), 10.0.1.7 (3 packets, 234 bytes, 23.08 %)",
                     tostring(top))
    assert.are.equal("(no heavy hitters)", tostring(r:heavy_hitters("src", 3)))
    assert.matches("A list of heavy hitters", require("tpp.help").text(top))
  end)

  it("cuts the list at k and keeps the order", function()
    local all = r:heavy_hitters("src", 1)
    local two = r:heavy_hitters("src", 1, 2)
    assert.are.same({ all[1], all[2] }, two)
    assert.are.same(all, r:heavy_hitters("src", 1, 1000))
  end)

  it("gives an empty list for an interval without packets", function()
    for _, dim in ipairs(tpp.hh_dims) do assert.are.same({}, r:heavy_hitters(dim, 3)) end
  end)

  it("raises on an unknown dimension, listing the dimensions, and on an interval out of range", function()
    local ok, err = pcall(function() return r:heavy_hitters("sources", 1) end)
    assert.is_false(ok)
    assert.matches("heavy_hitters", err)
    assert.matches("no heavy%-hitter dimension 'sources'", err)
    for _, dim in ipairs(tpp.hh_dims) do assert.is_truthy(err:find(dim, 1, true), dim) end
    ok, err = pcall(function() return r:heavy_hitters("src", #r + 1) end)
    assert.is_false(ok)
    assert.matches("an interval index from 1 to 4 expected, got 5", err)
    assert.is_false((pcall(function() return r:heavy_hitters("src", 0) end)))
    assert.is_false((pcall(function() return r:heavy_hitters("src", 1, 0) end)))
  end)

  it("keeps at most heavy_hitters keys per dimension", function()
    local r2 = assert(tpp.parse(capture, { delta_t = 1, heavy_hitters = 2 }))
    assert.are.equal(2, r2.hh_k)
    local want = reference(0)
    for _, dim in ipairs(FLAT) do
      assert.are.same({ want[dim][1], want[dim][2] }, r2:heavy_hitters(dim, 1), dim)
    end
  end)

  it("reports hierarchical heavy hitters by residual with hhh_phi", function()
    -- interval 0 has 13 IP packets; at phi 0.3 a prefix needs a residual of 3.9: 10.0.0.1 (5) at /32, then
    -- 10.0.0.0/24 with the 4 packets of 10.0.0.2 and 10.0.0.9; 10.0.1.0/24 (3) and everything shorter fall short
    local r3 = assert(tpp.parse(capture, { delta_t = 1, hhh_phi = 0.3 }))
    assert.are.equal(0.3, r3.hhh_phi)
    assert.are.same({ { key = "10.0.0.1", packets = 5, bytes = 700, share = 5 / 13 },
                      { key = "10.0.0.0/24", packets = 4, bytes = 3 * 40 + 68, share = 4 / 13 } },
                    r3:heavy_hitters("src_hhh", 1))
    -- the destinations: 192.0.2.1 (8) at /32, then 192.0.2.0/24 with the 4 others; the IPv6 one is too small
    assert.are.same({ "192.0.2.1", "192.0.2.0/24" },
                    { r3:heavy_hitters("dst_hhh", 1)[1].key, r3:heavy_hitters("dst_hhh", 1)[2].key })
    assert.are.equal(2, #r3:heavy_hitters("dst_hhh", 1))
  end)

  it("has none with the group hh off, and the options as fields", function()
    local off = assert(tpp.parse(capture, { delta_t = 1, features = "ports,flows", flow_timeout = 5 }))
    assert.are.equal("ports,flows", off.features)
    assert.are.equal(5, off.flow_timeout)
    for _, dim in ipairs(tpp.hh_dims) do assert.are.same({}, off:heavy_hitters(dim, 1)) end
    assert.are.equal("all", r.features)
    assert.are.equal(60, r.flow_timeout)
    assert.are.equal(10, r.hh_k)
    assert.are.equal(0.05, r.hhh_phi)
  end)

  it("writes the heavy-hitter TSV row for row as r:heavy_hitters gives them", function()
    local path = dir .. "/known_hh.tsv"
    assert.is_true(r:write_heavy_hitters(path))
    local rows = assert_tsv_matches(path, r)
    -- intervals ascending, the dimensions in tpp.hh_dims' order within each
    local rank = {}
    for k, dim in ipairs(tpp.hh_dims) do rank[dim] = k end
    for n = 2, #rows do
      local a, b = rows[n - 1], rows[n]
      assert.is_true(tonumber(a[1]) < tonumber(b[1]) or (a[1] == b[1] and rank[a[2]] <= rank[b[2]]))
    end
    assert.are.equal("0\tsrc\t10.0.0.1\t5\t700\t0.38461538461538464", H.read_file(path):match("\n([^\n]*)\n"))
  end)

  it("fails as every output does: nil and the path, nothing left behind", function()
    local ok, err = r:write_heavy_hitters(dir .. "/no-such-dir/x_hh.tsv")
    assert.is_nil(ok)
    assert.matches("no%-such%-dir/x_hh%.tsv", err)
  end)
end)

describe("the main job's heavy-hitter table", function()
  local dir

  before_each(function()
    dir = H.tmpdir()
    lfs.mkdir(dir .. "/in")
    write_known(dir .. "/in/known.pcap")
  end)
  after_each(function() H.rmtree(dir) end)

  it("writes hh/<name>_hh.tsv, the bytes r:write_heavy_hitters writes", function()
    local _, err, status = exec(dir, "-q -f none -t 1 -o out in")
    assert.are.equal(0, status, err)
    local r = assert(tpp.parse(dir .. "/in/known.pcap", { delta_t = 1 }))
    assert.is_true(r:write_heavy_hitters(dir .. "/want.tsv"))
    assert.are.equal(H.read_file(dir .. "/want.tsv"), H.read_file(dir .. "/out/hh/known_hh.tsv"))
    assert_tsv_matches(dir .. "/out/hh/known_hh.tsv", r)
  end)

  it("follows --heavy-hitters and --hhh-phi, and writes no table without hh (removing a stale one)", function()
    local _, err, status = exec(dir, "-q -f none -t 1 -o out --heavy-hitters 1 --hhh-phi 0.3 in")
    assert.are.equal(0, status, err)
    local _, rows = H.read_tsv(dir .. "/out/hh/known_hh.tsv")
    local per = {}
    for _, row in ipairs(rows) do
      local key = row[1] .. "/" .. row[2]
      per[key] = (per[key] or 0) + 1
      if row[2] == "src_hhh" and row[1] == "0" then per.hhh = (per.hhh or "") .. row[3] .. ";" end
    end
    for key, n in pairs(per) do
      if key ~= "hhh" and not key:find("hhh") then assert.are.equal(1, n, key) end
    end
    assert.are.equal("10.0.0.1;10.0.0.0/24;", per.hhh)

    -- (--force: whether a dump made with other features is reused is the reuse rule's business, not this spec's)
    _, err, status = exec(dir, "-q -f none -t 1 -o out --force --features ports,flows,headers in")
    assert.are.equal(0, status, err)
    assert.is_nil(lfs.attributes(dir .. "/out/hh/known_hh.tsv"))
    local header, crit = H.read_tsv(dir .. "/out/critical/known_critical.tsv")
    local col = {}
    for c, name in ipairs(header) do col[name] = c end
    assert.are.equal("nan", crit[1][col.src_p24])      -- prefixes off
    assert.are.equal("5", crit[1][col.flows])          -- flows on: five 5-tuples in interval 0
  end)

  it("takes the options from a config file, the command line winning", function()
    H.write_file(dir .. "/job.lua", 'return { delta_t = 1, features = { "hh", "ports" }, heavy_hitters = 2, '
      .. 'flow_timeout = 30, hhh_phi = 0.5, figures = "none", out = "cfg" }\n')
    local _, err, status = exec(dir, "-q --config job.lua --heavy-hitters 3 in")
    assert.are.equal(0, status, err)
    local d = assert(tpp.load(dir .. "/cfg/mem_dump/known.tpd"))
    assert.are.equal("ports,hh", d.features)
    assert.are.equal(3, d.hh_k)
    assert.are.equal(30, d.flow_timeout)
    assert.are.equal(0.5, d.hhh_phi)
    assert.is_truthy(lfs.attributes(dir .. "/cfg/hh/known_hh.tsv"))
  end)

  it("writes the series' table once, for NAME, from the merge", function()
    local _, err, status = exec(dir, "-q -f none -t 1 -o out --series day in")
    assert.are.equal(0, status, err)
    local merged = assert(tpp.load(dir .. "/out/mem_dump/day.tpd"))
    assert_tsv_matches(dir .. "/out/hh/day_hh.tsv", merged)
    assert.is_nil(lfs.attributes(dir .. "/out/hh/known_hh.tsv"))
    local whole = assert(tpp.parse(dir .. "/in/known.pcap", { delta_t = 1 }))
    assert.is_true(whole:write_heavy_hitters(dir .. "/want.tsv"))
    assert.are.equal(H.read_file(dir .. "/want.tsv"), H.read_file(dir .. "/out/hh/day_hh.tsv"))
    -- scripts/merge.lua, from the piece's dump, writes the same table
    _, err, status = H.tpp_in(dir, q(H.ROOT .. "/scripts/merge.lua") .. " -q -f none -o merged --name day "
      .. "out/mem_dump/known.tpd")
    assert.are.equal(0, status, err)
    assert.are.equal(H.read_file(dir .. "/want.tsv"), H.read_file(dir .. "/merged/hh/day_hh.tsv"))
  end)
end)

describe("the feature options on the command line", function()
  local dir

  before_each(function()
    dir = H.tmpdir()
    lfs.mkdir(dir .. "/in")
    write_known(dir .. "/in/known.pcap")
  end)
  after_each(function() H.rmtree(dir) end)

  for _, case in ipairs {
    { "--features ports,bogus", "option %-%-features must be all, none or a comma%-separated list of ports, "
      .. "prefixes, flows, novelty, headers, hh %('bogus' is none of them%), got 'ports,bogus'" },
    { "--flow-timeout 0", "option %-%-flow%-timeout must be a positive number of seconds, got '0'" },
    { "--flow-timeout soon", "got 'soon'" },
    { "--heavy-hitters 1001", "option %-%-heavy%-hitters must be an integer from 1 to 1000, got '1001'" },
    { "--heavy-hitters 2.5", "got '2.5'" },
    { "--hhh-phi 0.00005", "option %-%-hhh%-phi must be a number from 0%.0001 to 1, got .0%.00005." },
    { "--hhh-phi 1.5", "got '1.5'" },
  } do
    it("refuses " .. case[1] .. " naming the value, exit 2, nothing written", function()
      local _, err, status = exec(dir, "-f none -o out " .. case[1] .. " in")
      assert.are.equal(2, status)
      assert.matches(case[2], err)
      assert.is_nil(lfs.attributes(dir .. "/out"))
    end)
  end

  it("refuses a bad value in a config file, naming the file", function()
    H.write_file(dir .. "/job.lua", 'return { features = "ports,nope" }\n')
    local _, err, status = exec(dir, "-f none --config job.lua in")
    assert.are.equal(2, status)
    assert.matches("job%.lua: option features must be", err)
    assert.matches("'nope' is none of them", err)
  end)

  it("lists them in --help", function()
    local out, _, status = exec(dir, "--help")
    assert.are.equal(0, status)
    for _, flag in ipairs { "--features LIST", "--flow-timeout SEC", "--heavy-hitters K", "--hhh-phi F", "hh/" } do
      assert.is_truthy(out:find(flag, 1, true), flag)
    end
  end)

  it("resolves them into tpp.parse's options", function()
    local s = assert(require("tpp.cli").resolve { "--features", "HH, ports", "--flow-timeout", "2.5",
                                                  "--heavy-hitters", "7", "--hhh-phi", "0.2", "in" })
    assert.are.same({ "ports,hh", 2.5, 7, 0.2 },
                    { s.parse.features, s.parse.flow_timeout, s.parse.heavy_hitters, s.parse.hhh_phi })
    s = assert(require("tpp.cli").resolve { "--features", "hh,headers,novelty,flows,prefixes,ports", "in" })
    assert.are.equal("all", s.parse.features)
    s = assert(require("tpp.cli").resolve { "in" })
    assert.is_nil(s.parse.features)                  -- tpp.parse's default
  end)
end)

describe("figures 19-22", function()
  local figures = require "tpp.figures"
  local dir, r

  setup(function()
    dir = H.tmpdir()
    r = assert(tpp.parse(write_known(dir .. "/known.pcap"), { delta_t = 1 }))
  end)
  teardown(function() H.rmtree(dir) end)

  it("are described after the original 18, over the new columns and the top source's share", function()
    assert.are.equal(22, figures.count)
    local columns = {}
    for _, name in ipairs(tpp.column_names()) do columns[name] = true end
    local want = { [19] = { "entropy_tcp_src", "entropy_tcp_dst", "entropy_udp_src", "entropy_udp_dst" },
                   [20] = { "src_p24", "dst_p24", "src_p16", "dst_p16" }, [21] = { "flows", "flows_new" } }
    for n, cols in pairs(want) do
      local f = figures.get(n)
      assert.are.equal("lines", f.kind)
      assert.are.equal(tostring(n), f.name)
      for k, c in ipairs(cols) do
        assert.are.equal(c, f.series[k].column)
        assert.is_true(columns[c], c)
      end
    end
    assert.are.same({ "src", 1 }, { figures.get(22).series[1].hh, figures.get(22).series[1].rank })
  end)

  local it_gp = HAVE_GNUPLOT and it or pending
  it_gp("are drawn, listed on the page, and see numbers only (no address reaches gnuplot)", function()
    local out, work = dir .. "/plot", dir .. "/work"
    local files, failures = require("tpp.plot").draw(r, { dir = out, stem = "known", figures = { 19, 20, 21, 22 },
                                                           workdir = work, quiet = true, jobs = 1 })
    assert.are.same({}, failures)
    assert.are.same({ out .. "/known_19.png", out .. "/known_20.png", out .. "/known_21.png", out .. "/known_22.png",
                      out .. "/known.html" }, files)
    local page = H.read_file(out .. "/known.html")
    for n = 19, 22 do
      assert.is_truthy(page:find(("%d. %s"):format(n, require("tpp.plot").html_escape(figures.get(n).title)), 1,
                                 true), n)
      assert.is_truthy(page:find(('src="known_%d.png"'):format(n), 1, true), n)
    end
    -- figure 22's data: per interval the top source's share in %, NaN where there is none (interval 2)
    local values = {}
    for line in io.lines(work .. "/fig_22.dat") do
      local v = line:match("^%S+ (%S+)$")
      if v then values[#values + 1] = v end
    end
    assert.are.equal(#r, #values)
    for i = 1, #r do
      local top = r:heavy_hitters("src", i, 1)[1]
      if top then assert.is_true(math.abs(tonumber(values[i]) - 100 * top.share) < 1e-6, values[i])
      else assert.are.equal("NaN", values[i]) end
    end
    for name in lfs.dir(work) do
      if name ~= "." and name ~= ".." then
        local text = H.read_file(work .. "/" .. name)
        assert.is_nil(text:find("10.0.0.1", 1, true), name)
        assert.is_nil(text:find("192.0.2", 1, true), name)
      end
    end
  end)

  it("are part of -f all and of the figure list's range", function()
    local cli = require "tpp.cli"
    assert.are.equal(22, #assert(cli.parse_figures("all")))
    assert.are.same({ 19, 20, 21, 22 }, assert(cli.parse_figures("19-22")))
    assert.is_nil(cli.parse_figures("23"))
  end)
end)

describe("help, completion and the one column list", function()
  local help = require "tpp.help"
  local repl = require "tpp.repl"

  it("describes r:heavy_hitters, the dimensions, the new fields and every column", function()
    local r = assert(tpp.parse("data/sample.pcap.gz", { max_packets = 100 }))
    local text = help.text(r)
    assert.is_truthy(text:find("heavy_hitters", 1, true))
    assert.is_truthy(text:find("write_heavy_hitters", 1, true))
    for _, dim in ipairs(tpp.hh_dims) do assert.is_truthy(text:find(dim, 1, true), dim) end
    for _, f in ipairs { "features", "flow_timeout", "hh_k", "hhh_phi" } do
      assert.is_truthy(text:find(f, 1, true), f)
    end
    assert.matches("^r:heavy_hitters%(dim, i %[, k%]%)", help.text("heavy_hitters"))
    assert.matches("heavy%-hitter dimension src_hhh", help.text("src_hhh"))
    assert.is_truthy(help.text(nil):find("heavy_hitters", 1, true))
    assert.are.equal(#tpp.column_names(), #help.docs.columns)
    for k, name in ipairs(tpp.column_names()) do
      local entry = help.docs.columns[k]
      assert.are.equal(name, entry[1])
      assert.is_nil(entry[2]:find("not described", 1, true), name)
      assert.is_truthy(help.text(name):find(entry[2], 1, true), name)
    end
  end)

  it("completes dimensions after :heavy_hitters( and port series after :port_series(", function()
    assert.are.same({ "src", "src_hhh", "src_p24" }, repl.complete_string('r:heavy_hitters(', "src"))
    assert.are.same({ "udp_dport" }, repl.complete_string('r:heavy_hitters(', "udp"))
    assert.are.same({ "tcp_dst", "tcp_src" }, repl.complete_string('r:port_series(', "tcp"))
  end)

  it("takes the feature options in tpp -i", function()
    local paths, opts = repl.parse_args { "--features", "ports", "--heavy-hitters=3", "--flow-timeout", "9",
                                          "--hhh-phi", "0.25", "x.pcap" }
    assert.are.same({ "x.pcap" }, paths)
    assert.are.same({ features = "ports", heavy_hitters = 3, flow_timeout = 9, hhh_phi = 0.25 }, opts)
  end)

  it("has docs/lua-api.md define every column in its one table", function()
    local doc = H.read_file("docs/lua-api.md")
    local section = doc:match("\n## The critical table's columns\n(.-)\n## ")
    assert.is_string(section)
    local described = {}
    for row in section:gmatch("\n| ([^\n]-) |") do
      for name in row:gmatch("`([%w_]+)`") do described[name] = true end
    end
    for _, name in ipairs(tpp.column_names()) do assert.is_true(described[name], name) end
    -- and no second list of them: the CSV header example reads tpp's
    assert.is_nil(doc:find("udp_port_packets,segment,covered", 1, true))
  end)
end)
