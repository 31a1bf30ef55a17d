-- tpp.load(path, { state = false }): a dump loaded without its merge state (full tables, addresses seen, flow head
-- and tail) reads, draws and reports as the full load does, and refuses to be merged or dumped, saying why.
local tpp = require "tpp"
local synth = require "tpp.synth"
local figures = require "tpp.figures"
local gnuplot = require "tpp.gnuplot"
local page = require "tpp.page"
local H = require "tests.helper"

local SERIES = { "tcp_src", "tcp_dst", "udp_src", "udp_dst" }

-- The names of a directory's files, sorted.
local function list_dir(dir)
  local names = {}
  for name in require("lfs").dir(dir) do
    if name ~= "." and name ~= ".." then names[#names + 1] = name end
  end
  table.sort(names)
  return names
end

-- The gnuplot scripts and data files of all figures of r, written into workdir without running gnuplot.
local function prepare_all(r, workdir)
  assert(require("lfs").mkdir(workdir))
  local opts = { n = #r, width = 1280, height = 720, dpi = 100, format = "png", alpha = 0.5, min_share = 0.002,
                 bar_width = 2, port_view = "auto", workdir = workdir }
  local ctx = gnuplot.context(r, opts)
  for n = 1, figures.count do
    gnuplot.prepare(figures.get(n), ctx, { output = workdir .. "/out_" .. n .. ".png" })
  end
end

describe("tpp.load with state = false", function()
  local dir, dump, full, light
  setup(function()
    dir = H.tmpdir()
    local cap = dir .. "/t.pcap"
    -- every feature group on (the default), at two deltas' worth of intervals, with scans for the novelty state
    assert(synth.generate(cap, { packets = 20000, duration = 60, scans = 2, seed = 11 }))
    local r = assert(tpp.parse(cap, { delta_t = 2, keep_tables = "all" }))
    dump = dir .. "/t.tpd"
    assert(r:dump(dump))
    full = assert(tpp.load(dump))
    light = assert(tpp.load(dump, { state = false }))
  end)
  teardown(function() H.rmtree(dir) end)

  it("keeps every column, port histogram, heavy hitter and summary field but mergeable", function()
    assert.is_true(#full > 20)
    assert.is_true(full.mergeable)
    assert.is_false(light.mergeable)
    assert.are.equal(#full, #light)
    for _, name in ipairs(full:columns()) do
      local a, b = full:column(name), light:column(name)
      for i = 1, #full do
        if a[i] == a[i] or b[i] == b[i] then assert.are.equal(a[i], b[i], name .. " row " .. i) end
      end
    end
    for _, series in ipairs(SERIES) do
      local a, b = {}, {}
      for i, port, count in full:ports(series) do a[#a + 1] = { i, port, count } end
      for i, port, count in light:ports(series) do b[#b + 1] = { i, port, count } end
      assert.is_true(#a > 0)
      assert.are.same(a, b)
    end
    local hh = 0
    for _, dim in ipairs(tpp.hh_dims) do
      for i = 1, #full do
        local a, b = full:heavy_hitters(dim, i), light:heavy_hitters(dim, i)
        assert.are.equal(#a, #b)
        for k = 1, #a do
          assert.are.same({ tostring(a[k].key), a[k].packets, a[k].bytes }, { tostring(b[k].key), b[k].packets, b[k].bytes })
        end
        hh = hh + #a
      end
    end
    assert.is_true(hh > 0)
    for _, f in ipairs(full:fields()) do
      if f ~= "mergeable" then assert.are.same(full[f], light[f], f) end
    end
    assert.are.equal(full:critical_text(), light:critical_text())
  end)

  it("gives every figure the same gnuplot scripts and data files, and the same page", function()
    prepare_all(full, dir .. "/work-full")
    prepare_all(light, dir .. "/work-light")
    local names = list_dir(dir .. "/work-full")
    assert.is_true(#names >= figures.count * 2)
    assert.are.same(names, list_dir(dir .. "/work-light"))
    for _, name in ipairs(names) do
      local a = H.read_file(dir .. "/work-full/" .. name):gsub("work%-full", "")
      local b = H.read_file(dir .. "/work-light/" .. name):gsub("work%-light", "")
      assert.are.equal(a, b, name)
    end
    local a = assert(page.html(full, { name = "t", dygraphs = false }))
    local b = assert(page.html(light, { name = "t", dygraphs = false }))
    assert.are.equal(a, b)
  end)

  it("refuses to be dumped, saying why, and writes nothing", function()
    local out = dir .. "/again.tpd"
    local ok, err = light:dump(out)
    assert.is_nil(ok)
    assert.are.equal(out .. ": cannot dump a result loaded without its merge state (tpp.load with state = false, "
      .. "for reading and drawing): load it again in full", err)
    assert.is_nil(io.open(out))
    assert(full:dump(out))   -- the full load still can
  end)

  it("refuses to be merged, first piece or not, saying why", function()
    local m = tpp.merger()
    local ok, err = m:add(light)
    assert.is_nil(ok)
    assert.matches("it was loaded without its merge state %(tpp.load with state = false", err)
    local none, why = tpp.merge { full, light }
    assert.is_nil(none)
    assert.matches("loaded without its merge state", why)
  end)

  it("loads in full with state = true or no options, and refuses unknown options", function()
    assert.is_true(assert(tpp.load(dump, { state = true })).mergeable)
    assert.is_true(assert(tpp.load(dump, {})).mergeable)
    assert.has_error(function() tpp.load(dump, { stat = false }) end,
      "tpp.load: unknown option stat (the only one is state)")
    assert.has_error(function() tpp.load(dump, { state = "no" }) end,
      "tpp.load: option state must be true or false, got string")
    assert.has_error(function() tpp.load(dump, false) end)
  end)

  it("still checks the file: a missing or damaged dump is an error naming it", function()
    local none, err = tpp.load(dir .. "/missing.tpd", { state = false })
    assert.is_nil(none)
    assert.matches("missing%.tpd: ", err)
    local bytes = H.read_file(dump)
    local cut = dir .. "/cut.tpd"
    local f = assert(io.open(cut, "wb"))
    f:write(bytes:sub(1, #bytes // 2))
    f:close()
    none, err = tpp.load(cut, { state = false })
    assert.is_nil(none)
    assert.matches("cut%.tpd: ", err)
  end)
end)
