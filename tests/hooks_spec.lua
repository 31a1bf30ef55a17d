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

  it("hands over rows whose covered the table revises when the clock steps back before the segment's first packet",
    function()
      -- 2000 packets from 0.3 s into an interval, 10 ms apart (rows are handed over after each batch of 512), then
      -- one 0.5 s before the first: the segment's earliest packet is then the last one read
      local packets, base = {}, H.T0 + 300000000
      for i = 0, 1999 do
        packets[#packets + 1] = { ts_ns = base + i * 10000000, data = H.eth4_udp("10.0.0.1", "10.0.0.2", 1000, 53, "x") }
      end
      packets[#packets + 1] = { ts_ns = base - 500000000, data = H.eth4_udp("10.0.0.1", "10.0.0.2", 1000, 53, "x") }
      local path = H.write_capture(H.tmpfile(), H.LINKTYPE.ETHERNET, packets)
      local handed, first_calls = {}, 0
      local r = assert(tpp.parse(path, { delta_t = 1 }, nil, function(text, first)
        if first == 1 then first_calls = first_calls + 1 end
        for line in text:gmatch("[^\n]+") do handed[#handed + 1] = line end
      end))
      os.remove(path)
      local names = tpp.column_names()
      local covered
      for k, n in ipairs(names) do if n == "covered" then covered = k end end
      assert.is_number(covered)
      local text = r:critical_text()
      local rows, k = {}, 0
      for line in text:gmatch("[^\n]+") do
        if k > 0 then rows[k] = line end
        k = k + 1
      end
      assert.are.equal(#r, #handed)
      assert.are.equal(1, first_calls)
      local function cells(line)
        local t = {}
        for c in (line .. "\t"):gmatch("([^\t]*)\t") do t[#t + 1] = c end
        return t
      end
      for i = 1, #r do
        local a, b = cells(handed[i]), cells(rows[i])
        for c = 1, #names do
          if c ~= covered then assert.are.equal(b[c], a[c], ("row %d, %s"):format(i - 1, names[c])) end
        end
      end
      -- row 0 as handed over: from the first packet read (0.3 s in) to its end; revised: the whole second
      assert.are.equal("0.700000000", cells(handed[1])[covered])
      assert.are.equal("1.000000000", cells(rows[1])[covered])
      assert.are.equal(1.0, r:column("covered")[1])
    end)
end)
