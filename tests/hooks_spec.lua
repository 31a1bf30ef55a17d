-- tpp.parse's hooks: progress as packets are read, rows as intervals close.
local tpp = require "tpp"
local H = require "tests.helper"

local CAPTURE = "tests/data/parity/synth-a.pcap"

describe("tpp.parse hooks", function()
  it("hands over every row once, in order, as the intervals close, in the critical TSV's format", function()
    local calls, lines = {}, {}
    local r = assert(tpp.parse(CAPTURE, { delta_t = 1 }, nil, function(text, first)
      calls[#calls + 1] = first
      for line in text:gmatch("[^\n]+") do lines[#lines + 1] = line end
    end))
    local path = os.tmpname()
    assert(r:write_critical(path))
    local _, rows = H.read_tsv(path)
    os.remove(path)
    assert.are.equal(#r, #lines)
    for i, row in ipairs(rows) do assert.are.equal(table.concat(row, "\t"), lines[i]) end
    assert.is_true(#calls > 1, "rows arrive while the capture is read, not only at its end")
    assert.are.equal(1, calls[1])
  end)

  it("stops the parse when the rows hook returns false, keeping what was counted", function()
    local r = assert(tpp.parse(CAPTURE, { delta_t = 1 }, nil, function(_, first) return first < 3 end))
    assert.is_false(r.complete)
    assert.are.equal("interrupted", r.error)
    assert.is_true(#r >= 3 and #r < 34)
  end)

  it("raises an error from a hook after cleaning up", function()
    local ok, err = pcall(tpp.parse, CAPTURE, { delta_t = 1 }, nil, function() error("in the hook") end)
    assert.is_false(ok)
    assert.truthy(tostring(err):find("in the hook", 1, true))
  end)

  it("names the critical table's columns without a result", function()
    local r = assert(tpp.parse("tests/data/parity/afs.pcap"))
    assert.are.same(r:columns(), tpp.column_names())
  end)
end)
