-- Red-team findings on numbers and formats (issue 12, items 4-10, 18, 21, 22): each block below is a defect that
-- the merged fixes still had, on inputs built byte by byte (tests/helper.lua) so that nothing depends on tpp's
-- own writer.
local tpp = require "tpp"
local H = require "tests.helper"

local SEC = H.NS
local radiotap = ("\0\0\8\0\0\0\0\0") .. ("w"):rep(30)

describe("hardening: numbers and formats", function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rmtree(dir) end)

  local function file(name, bytes) return H.write_file(dir .. "/" .. name, bytes) end

  -- Item 8: a pcap of a link type tpp does not decode is read by libpcap, which takes a native-order file's
  -- seconds as signed: 2038 came out as 1901.  Its packets still count, so their times must be right.
  it("reads pcap seconds at and after 2038 as unsigned for link types libpcap reads", function()
    for _, big in ipairs({ false, true }) do
      local recs = { { 2147483648, 5, radiotap }, { 4294967295, 0, radiotap } }
      local path = file("radiotap2038.pcap", H.pcap_bytes(recs, { big = big, linktype = 127 }))
      local r = assert(tpp.parse(path, { delta_t = 86400 }))
      assert.are.equal(2147483648 * SEC + 5000, r.first_ns)
      assert.are.equal(4294967295 * SEC, r.last_ns)
      assert.are.equal(2, r.packets)
      local ts = {}
      for p in tpp.packets(path) do ts[#ts + 1] = p.ts_ns end
      assert.are.same({ 2147483648 * SEC + 5000, 4294967295 * SEC }, ts)
    end
  end)
end)
