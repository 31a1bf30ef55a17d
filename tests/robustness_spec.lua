-- Regressions from fuzzing, the tcpdump corpus and code review (issue 7).  The inputs are in tests/data/regress/
-- (README.md there says where each came from); `make test` runs this file under ASan/UBSan too, where most of
-- these bugs were a sanitizer report rather than a wrong number.  The C-level fuzz finding (tpp_addr_format) is
-- replayed by `make test-fuzz-replay`.
local tpp = require "tpp"
local H = require "tests.helper"

local REGRESS = "tests/data/regress/"

describe("robustness regressions", function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rmtree(dir) end)

  describe("pcapng timestamps", function()
    -- Two interfaces whose if_tsoffset puts packets 285 years before and after 1970: each timestamp fits an int64
    -- of nanoseconds, their difference does not.  interval.c (now aggregate.c) subtracted them (signed overflow, UBSan).
    -- Until issue 14 the gap between them was refused as a broken clock and the later packets lost; now it ends a
    -- segment.
    it("far apart do not overflow the interval arithmetic", function()
      local path = REGRESS .. "capture/pcapng-ts-span-overflow.pcapng"
      local r = assert(tpp.parse(path, { delta_t = 10 }))
      assert.is_true(r.complete)
      assert.are.same({ 3, 2, 2 }, { r.packets, #r, r.segments })
      assert.are.same({ 1, 2 }, { r:column("packets")[1], r:column("packets")[2] })
      assert.are.same({ 0, 1 }, { r:column("segment")[1], r:column("segment")[2] })
      local p = assert(tpp.parse(path, { delta_t = 10, boundary = "packet" }))
      assert.is_true(p.complete)
      assert.are.same({ 3, 1, 1 }, { p.packets, #p, p.backwards_packets })
      assert.are.equal(2, p:interval(1).packets)
      assert.is_true(p:interval(1).iat_mean > 0)
    end)

    -- tpp_capture_next once computed tv_sec * 1000000000 unchecked: a pcapng timestamp in seconds (if_tsresol
    -- 10^0) of 2^63 - 1 overflowed int64 (UBSan: signed integer overflow).  Such a packet stops the parse.
    it("a timestamp beyond the year 2262 stops the parse with an error, the packets before it kept", function()
      local r = assert(tpp.parse(REGRESS .. "capture/pcapng-ts-seconds-overflow.pcapng", { delta_t = 10 }))
      assert.is_false(r.complete)
      assert.truthy(r.error:find("timestamp", 1, true))
      assert.are.equal(1, r.packets)
    end)
  end)

  describe("empty intervals", function()
    -- Closing an empty interval used to scan the four 8 KB port bitmaps: a capture with a long silence took 17 s
    -- under ASan for 560,000 empty intervals (tcpdump corpus, cve2015-0261-ipv6.pcap).
    -- (A gap of more than 100,000 empty intervals ends a segment whatever max_gap says: segments_spec.)
    it("in a long gap are emitted as zero rows, quickly", function()
      local path = H.write_capture(dir .. "/gap.pcap", "ethernet", {
        { ts_ns = H.T0, data = H.eth4_tcp("10.0.0.1", "10.0.0.2", 1234, 80, H.SYN) },
        { ts_ns = H.T0 + 100000 * H.NS + 5, data = H.eth4_udp("10.0.0.3", "10.0.0.4", 53, 5353) },
      })
      local t0 = tpp.now()
      local r = assert(tpp.parse(path, { delta_t = 1, max_gap = 1e6 }))
      local elapsed = tpp.now() - t0
      assert.is_true(r.complete)
      assert.are.same({ 100001, 1 }, { #r, r.segments })
      local packets = r:column("packets")
      assert.are.same({ 1, 0, 0, 1 }, { packets[1], packets[2], packets[50000], packets[100001] })
      assert.are.same({ { 1, 1234, 1 } }, H.ports_list(r, "tcp_src"))
      assert.are.same({ { 100001, 5353, 1 } }, H.ports_list(r, "udp_dst"))
      assert.are.same({ 1, 1, 1, 1 }, { r:distinct_ports("tcp_src"), r:distinct_ports("tcp_dst"),
        r:distinct_ports("udp_src"), r:distinct_ports("udp_dst") })
      assert.is_true(elapsed < 10, ("took %.1f s"):format(elapsed))
    end)
  end)

  describe("addresses", function()
    -- fuzz_decode: tpp_addr_format wrote past a short buffer once "::" reached its end (packet.c).  tpp's own
    -- callers pass 64 bytes; this checks the text of the address that found it.
    it("of the fuzz finding are formatted as RFC 5952 says", function()
      local frame = H.read_file(REGRESS .. "decode/addr-format-short-buffer"):sub(2) -- byte 0: SLL2
      local path = H.write_capture(dir .. "/a.pcap", "sll2", { { ts_ns = H.T0, data = frame } })
      local n = 0
      for p in tpp.packets(path) do
        n = n + 1
        assert.are.same({ 6, "0:1:0:1::9:2", "2001:db8:60:0:2929:2929:2929:2929" }, { p.ipv, p.src, p.dst })
      end
      assert.are.equal(1, n)
    end)
  end)

  describe("tpp.pcap_writer", function()
    -- w:write(ts) multiplied ts by 10^9 in an int64 without a range check: UBSan "signed integer overflow".
    it("refuses timestamps whose nanoseconds do not fit", function()
      local w = tpp.pcap_writer(dir .. "/w.pcap", "ethernet")
      local frame = H.eth4_udp("10.0.0.1", "10.0.0.2", 1, 2)
      for _, ts in ipairs { 1e10, -1e10, 10000000000, 1 / 0, -1 / 0, 0 / 0, 1e300 } do
        assert.has_error(function() w:write(ts, frame) end, "bad argument #1 to 'write' (timestamp out of range)")
      end
      w:write(1700000000.25, frame)
      assert(w:close())
      local r = assert(tpp.parse(dir .. "/w.pcap"))
      assert.are.equal(1, r.packets)
      assert.are.equal(1700000000250000000, r.first_ns)
    end)
  end)

  describe("tpp.packets", function()
    -- The iterator kept the path in a 256-byte buffer: errors about a longer path named a cut-off file.
    it("names a long path in full in its errors", function()
      local deep = dir .. "/" .. ("d"):rep(120) .. "/" .. ("e"):rep(120)
      assert(os.execute("mkdir -p " .. H.shell_quote(deep)))
      local path = H.write_capture(deep .. "/capture-with-a-long-name.pcap", "ethernet", {
        { ts_ns = H.T0, data = H.eth4_udp("10.0.0.1", "10.0.0.2", 1, 2) },
        { ts_ns = H.T0 + 1, data = H.eth4_udp("10.0.0.1", "10.0.0.2", 1, 2) },
      })
      local bytes = H.read_file(path)
      H.write_file(path, bytes:sub(1, #bytes - 3))
      local ok, err = pcall(function() for _ in tpp.packets(path) do end end)
      assert.is_false(ok)
      assert.truthy(tostring(err):find(path .. ": truncated", 1, true), err)
    end)
  end)
end)
