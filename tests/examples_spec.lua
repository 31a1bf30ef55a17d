-- The bundled example scripts on the bundled sample (issue 12, item 22): with its defaults,
-- scripts/examples/entropy_anomalies.lua flags the intervals of the sample's port scan and address sweep, and no
-- other.  Where they are comes from the generator's own summary (the sample is synth's output for
-- `--packets 80000 --duration 120`, which the spec checks byte for byte first).
local tpp = require "tpp"
local synth = require "tpp.synth"
local H = require "tests.helper"

local SAMPLE = "data/sample.pcap.gz"

-- The scans of the sample, as synth describes them: { kind, start_ns, end_ns, ... }.
local function sample_scans()
  local dir = H.tmpdir()
  local copy = dir .. "/sample.pcap.gz"
  local summary = synth.generate(copy, { packets = 80000, duration = 120 })
  local same = H.read_file(copy) == H.read_file(SAMPLE)
  H.rmtree(dir)
  assert(same, "data/sample.pcap.gz is no longer synth's --packets 80000 --duration 120: update this spec")
  return summary.scans
end

-- The flagged interval numbers (0-based) of the example's output, as a set, and how many flag lines.
local function flagged(out)
  local set, lines = {}, 0
  for line in out:gmatch("[^\n]+") do
    local k = line:match("^(%d+)\t")
    if k then set[tonumber(k)], lines = true, lines + 1 end
  end
  return set, lines
end

describe("scripts/examples/entropy_anomalies.lua", function()
  it("flags the sample's port scan and address sweep with its defaults, and nothing else", function()
    local scans = sample_scans()
    assert.are.equal(2, #scans)
    local kinds = { scans[1].kind, scans[2].kind }
    table.sort(kinds)
    assert.are.same({ "addresses", "ports" }, kinds)

    local out, err, status = H.sh(H.tpp_binary() .. " scripts/examples/entropy_anomalies.lua " .. SAMPLE)
    assert.are.equal(0, status, err)
    local set, lines = flagged(out)
    assert.truthy(out:find("\n# " .. lines .. " flags?\n$"), out)

    -- The intervals as the example cut them (its default delta_t, 10 s).
    local r = assert(tpp.parse(SAMPLE, { delta_t = 10 }))
    local function overlaps(k, scan)
      local iv = r:interval(k + 1)
      return iv.start * 1e9 < scan.end_ns and iv["end"] * 1e9 > scan.start_ns
    end
    for _, scan in ipairs(scans) do
      local hit = false
      for k in pairs(set) do hit = hit or overlaps(k, scan) end
      assert.is_true(hit, ("the %s scan at %.1f..%.1f s is flagged\n%s"):format(scan.kind,
        scan.start_ns / 1e9 - r.first_ts, scan.end_ns / 1e9 - r.first_ts, out))
    end
    local n = 0
    for k in pairs(set) do
      n = n + 1
      assert.is_true(overlaps(k, scans[1]) or overlaps(k, scans[2]),
                     ("interval %d is flagged but holds no scan\n%s"):format(k, out))
    end
    assert.is_true(n < #r, "not every interval is flagged")
  end)

  it("flags the scans at finer intervals too, and nothing in a trace without any", function()
    local scans = sample_scans()
    local out, err, status = H.sh(H.tpp_binary() .. " scripts/examples/entropy_anomalies.lua " .. SAMPLE
                                  .. " --delta-t 2")
    assert.are.equal(0, status, err)
    local set = flagged(out)
    local r = assert(tpp.parse(SAMPLE, { delta_t = 2 }))
    for k in pairs(set) do
      local iv = r:interval(k + 1)
      local inside = false
      for _, scan in ipairs(scans) do
        inside = inside or (iv.start * 1e9 < scan.end_ns and iv["end"] * 1e9 > scan.start_ns)
      end
      assert.is_true(inside, ("interval %d is flagged but holds no scan\n%s"):format(k, out))
    end
    for _, scan in ipairs(scans) do
      local hits = 0
      for k in pairs(set) do
        local iv = r:interval(k + 1)
        if iv.start * 1e9 < scan.end_ns and iv["end"] * 1e9 > scan.start_ns then hits = hits + 1 end
      end
      assert.is_true(hits >= 2, ("the %s scan spans several 2 s intervals, %d flagged\n%s")
                                :format(scan.kind, hits, out))
    end

    local dir = H.tmpdir()
    local quiet = dir .. "/quiet.pcap.gz"
    synth.generate(quiet, { packets = 40000, duration = 120, scans = 0 })
    out, err, status = H.sh(H.tpp_binary() .. " scripts/examples/entropy_anomalies.lua " .. H.shell_quote(quiet))
    H.rmtree(dir)
    assert.are.equal(0, status, err)
    assert.truthy(out:find("\n# 0 flags\n$"), out)
  end)

  it("still offers the sliding window, judging only the intervals after it", function()
    local out, err, status = H.sh(H.tpp_binary() .. " scripts/examples/entropy_anomalies.lua " .. SAMPLE
                                  .. " --delta-t 2 --window 10")
    assert.are.equal(0, status, err)
    assert.truthy(out:find("z%-score against the 10 intervals before"), out)
    local set = flagged(out)
    for k in pairs(set) do assert.is_true(k >= 10, out) end
    assert.is_true(next(set) ~= nil, out)
    local _, err2, status2 = H.sh(H.tpp_binary() .. " scripts/examples/entropy_anomalies.lua " .. SAMPLE
                                  .. " --window 1")
    assert.are.equal(2, status2)
    assert.truthy(err2:find("at least 2"), err2)
  end)
end)
