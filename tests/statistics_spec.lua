-- Honest numbers (issue 12, items 4, 5, 6 and 9): NaN where a statistic is undefined, the capture's first packet
-- without an inter-arrival time, the aligned grid anchored at multiples of delta_t since the epoch (or at the first
-- packet with anchor = "first"), the original tool's conventions in the packet mode (--compat), and IP lengths that
-- cannot claim more than the frame holds.  Captures are written here; expected values are worked out by hand.
local tpp = require "tpp"
local H = require "tests.helper"
local cli = require "tpp.cli"
local job = require "tpp.job"
local lfs = require "lfs"

local NS, T0 = H.NS, H.T0               -- T0 = 1700000000 s: a multiple of 1, 2, 5 and 10 s, not of 3 s
local NAN = 0 / 0
local function sec(s) return math.floor(s * NS + 0.5) end

local function isnan(v) return v ~= v end

local function udp(src, dst, payload) return H.eth4_udp(src or "10.0.0.1", dst or "10.0.0.2", 1000, 53, payload or "") end
local function arp() return H.ethernet(nil, nil, H.ETH_ARP, H.arp()) end

-- A TSV, CSV or other delimited file as a list of rows of fields, and the header's column positions.
local function table_of(path, sep, eol)
  local rows = {}
  for line in (H.read_file(path)):gmatch("([^\n]*)\n") do
    if eol then line = line:gsub(eol .. "$", "") end
    local fields = {}
    for field in (line .. sep):gmatch("([^" .. sep .. "]*)" .. sep) do fields[#fields + 1] = field end
    rows[#rows + 1] = fields
  end
  local pos = {}
  for i, name in ipairs(rows[1]) do pos[name] = i end
  return rows, pos
end

local STATISTICS = { "f2_src", "f2_dst", "iat_mean", "iat_std", "iat_skew", "iat_kurt", "entropy_src",
                     "entropy_dst", "avg_len", "icmp_frac", "tcp_frac", "udp_frac" }

describe("statistics", function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rmtree(dir) end)

  local function capture(name, packets, opts)
    return H.write_capture(dir .. "/" .. name, "ethernet", packets, opts)
  end

  ---------------------------------------------------------------------------------------------------------------
  describe("that are undefined, in tpp's own (aligned) mode", function()
    -- dt = 10: interval 0 holds the capture's first packet only (UDP); interval 1 only an ARP frame; interval 2 one
    -- UDP packet 13 s after the ARP frame.
    local function three_intervals()
      return capture("undefined.pcap", {
        { ts_ns = T0, data = udp() },
        { ts_ns = T0 + sec(12), data = arp() },
        { ts_ns = T0 + sec(25), data = udp("10.0.0.3", "10.0.0.4", "abcd") },
      })
    end

    it("are NaN in an interval without an IP packet: nan in the TSV, empty in the CSV, null in the JSON", function()
      local r = assert(tpp.parse(three_intervals(), { delta_t = 10 }))
      assert.are.equal(3, #r)
      local iv = r:interval(2)
      assert.are.same({ 1, 0, 0, 0, 0, 0, 0, 0, 0 }, { iv.packets, iv.ip_packets, iv.ip_bytes, iv.src_ips, iv.dst_ips,
        iv.syn, iv.fin, iv.tcp_port_packets, iv.udp_port_packets })
      for _, name in ipairs(STATISTICS) do assert.is_true(isnan(iv[name]), name .. " is NaN, got " .. tostring(iv[name])) end

      assert(r:write_critical(dir .. "/c.tsv"))
      local rows, pos = table_of(dir .. "/c.tsv", "\t")
      for _, name in ipairs(STATISTICS) do assert.are.equal("nan", rows[3][pos[name]], "TSV " .. name) end
      assert.are.equal("1", rows[3][pos.packets])

      assert(r:to_csv(dir .. "/c.csv"))
      rows, pos = table_of(dir .. "/c.csv", ",", "\r")
      for _, name in ipairs(STATISTICS) do assert.are.equal("", rows[3][pos[name]], "CSV " .. name) end
      assert.are.equal("0", rows[3][pos.ip_packets])

      assert(r:to_json(dir .. "/c.json"))
      local records = {}
      for line in H.read_file(dir .. "/c.json"):gmatch("[^\n]+") do
        if line:find('"interval": ', 1, true) then records[#records + 1] = line end
      end
      assert.are.equal(3, #records)
      for _, name in ipairs(STATISTICS) do
        assert.truthy(records[2]:find('"' .. name .. '": null', 1, true), "JSON " .. name .. " in " .. records[2])
      end
      assert.truthy(records[2]:find('"packets": 1,', 1, true))
    end)

    it("leave the statistics of one IP packet defined where they are: entropy 0 for one address", function()
      local r = assert(tpp.parse(three_intervals(), { delta_t = 10 }))
      local iv = r:interval(3)
      assert.are.same({ 1, 1, 32, 1, 1 }, { iv.packets, iv.ip_packets, iv.ip_bytes, iv.src_ips, iv.dst_ips })
      assert.are.same({ 1, 1, 0, 0, 32, 0, 0, 1 }, { iv.f2_src, iv.f2_dst, iv.entropy_src, iv.entropy_dst,
        iv.avg_len, iv.icmp_frac, iv.tcp_frac, iv.udp_frac })
      -- one IAT (13 s, from the ARP frame): a mean, but no standard deviation, skewness or kurtosis
      H.assert_close(iv.iat_mean, 13, 1e-12, "iat_mean")
      assert.is_true(isnan(iv.iat_std) and isnan(iv.iat_skew) and isnan(iv.iat_kurt))
    end)

    it("give the capture's first packet no inter-arrival time", function()
      local r = assert(tpp.parse(three_intervals(), { delta_t = 10 }))
      local iv = r:interval(1)
      assert.are.equal(1, iv.ip_packets)
      assert.are.same({ 1, 0 }, { iv.f2_src, iv.entropy_src })
      for _, name in ipairs { "iat_mean", "iat_std", "iat_skew", "iat_kurt" } do
        assert.is_true(isnan(iv[name]), name .. " is NaN, got " .. tostring(iv[name]))
      end
    end)

    it("give ten packets exactly 1 s apart an iat_mean of 1 (not 0.9)", function()
      local packets = {}
      for k = 0, 9 do packets[#packets + 1] = { ts_ns = T0 + k * NS, data = udp() } end
      local r = assert(tpp.parse(capture("ten.pcap", packets), { delta_t = 100 }))
      assert.are.equal(1, #r)
      local iv = r:interval(1)
      assert.are.equal(10, iv.ip_packets)
      assert.are.equal(1, iv.iat_mean)
      -- nine equal IATs, a zero variance: std, skewness and kurtosis are NaN (the issue's rule, after scipy's)
      assert.is_true(isnan(iv.iat_std) and isnan(iv.iat_skew) and isnan(iv.iat_kurt))
      -- the packet mode keeps the original's std of 0 there (packets 0 … 9 s; the one at 9 s closes interval 0)
      local p = assert(tpp.parse(dir .. "/ten.pcap", { delta_t = 9, boundary = "packet" }))
      H.assert_close(p:interval(1).iat_std, select(2, H.ref.moments { 0, 1, 1, 1, 1, 1, 1, 1, 1, 1 }), 1e-9, "std")
    end)

    it("measure each IAT from the packet before of any kind, counted for IP packets of the chosen family", function()
      local path = capture("kinds.pcap", {
        { ts_ns = T0, data = udp() },
        { ts_ns = T0 + sec(0.4), data = H.eth6_udp("2001:db8::1", "2001:db8::2", 1, 2, "") },
        { ts_ns = T0 + sec(0.7), data = arp() },
        { ts_ns = T0 + sec(1), data = udp() },
        { ts_ns = T0 + sec(1.5), data = udp() },
      })
      local r = assert(tpp.parse(path, { delta_t = 10, ip = "v4" }))
      local iv = r:interval(1)
      assert.are.equal(3, iv.ip_packets)
      -- IATs of the IPv4 packets: none (first), 0.3 (after the ARP frame), 0.5
      H.assert_close(iv.iat_mean, 0.4, 1e-12, "iat_mean")
      H.assert_close(iv.iat_std, math.sqrt(0.02), 1e-9, "iat_std")
      assert.are.equal(0, iv.iat_skew)
    end)
  end)

  ---------------------------------------------------------------------------------------------------------------
  describe("aligned intervals on the epoch grid", function()
    it("start at a multiple of delta_t, not at the first packet", function()
      local first = T0 + 882000                          -- …0.000882, as in the issue
      local r = assert(tpp.parse(capture("epoch.pcap", {
        { ts_ns = first, data = udp() }, { ts_ns = first + sec(10), data = udp() },
      }), { delta_t = 10 }))
      assert.are.equal("epoch", r.anchor)
      assert.are.equal(first, r.first_ns)
      assert.are.equal(2, #r)
      assert(r:write_critical(dir .. "/e.tsv"))
      local rows, pos = table_of(dir .. "/e.tsv", "\t")
      assert.are.same({ "1700000000.000000000", "1700000010.000000000", "1700000020.000000000" },
        { rows[2][pos.start], rows[2][pos["end"]], rows[3][pos["end"]] })
    end)

    it("are exact in integer nanoseconds for a delta_t of 0.3 s", function()
      local dt = 300000000
      local first = T0 + 250000000                       -- 1700000000.25 s
      local t0 = first // dt * dt                          -- 1700000000.1 s
      assert.are.equal(T0 + 100000000, t0)
      local path = capture("dt03.pcap", {
        { ts_ns = first, data = udp() },
        { ts_ns = t0 + dt - 1, data = udp() },             -- the last nanosecond of interval 0
        { ts_ns = t0 + dt, data = udp() },                 -- exactly on the boundary: interval 1
        { ts_ns = t0 + 3 * dt + 5, data = udp() },         -- interval 3, after an empty one
      }, { nanosecond = true })
      local r = assert(tpp.parse(path, { delta_t = 0.3 }))
      assert.are.same({ 2, 1, 0, 1 }, r:column("packets"))
      assert(r:write_critical(dir .. "/d.tsv"))
      local rows, pos = table_of(dir .. "/d.tsv", "\t")
      for k = 0, 3 do
        assert.are.equal(t0 + k * dt, H.text_to_ns(rows[k + 2][pos.start]), "start of interval " .. k)
        assert.are.equal(t0 + (k + 1) * dt, H.text_to_ns(rows[k + 2][pos["end"]]), "end of interval " .. k)
      end
      assert.are.equal("1700000000.100000000", rows[2][pos.start])
      assert.are.equal("1700000001.000000000", rows[5][pos.start])
    end)

    -- A pcapng whose interface has if_tsresol 10^-9 and an if_tsoffset of -10 s: its packets are stamped before
    -- 1970.  `at` lists the timestamps in nanoseconds since the epoch (>= -10 s).
    local function pcapng_before_1970(path, at)
      local function block(kind, body)
        return string.pack("<I4I4", kind, 12 + #body) .. body .. string.pack("<I4", 12 + #body)
      end
      local shb = block(0x0A0D0D0A, string.pack("<I4I2I2i8", 0x1A2B3C4D, 1, 0, -1))
      local options = string.pack("<I2I2B", 9, 1, 9) .. "\0\0\0" .. string.pack("<I2I2i8", 14, 8, -10)
        .. string.pack("<I2I2", 0, 0)
      local idb = block(1, string.pack("<I2I2I4", 1, 0, 65535) .. options)
      local out = { shb, idb }
      for _, ns in ipairs(at) do
        local frame = udp()
        local units = ns + 10 * NS
        local padded = frame .. string.rep("\0", (4 - #frame % 4) % 4)
        out[#out + 1] = block(6, string.pack("<I4I4I4I4I4", 0, units >> 32, units & 0xffffffff, #frame, #frame) .. padded)
      end
      return H.write_file(path, table.concat(out))
    end

    it("round down negative timestamps (before 1970) towards minus infinity", function()
      local path = pcapng_before_1970(dir .. "/old.pcapng",
        { -1450000000, -1200000000, -50000000, 100000000 })
      local r = assert(tpp.parse(path, { delta_t = 0.3 }))
      assert.are.equal(-1450000000, r.first_ns)
      -- t0 = floor(-1.45 / 0.3) * 0.3 = -5 * 0.3 = -1.5 s (not -1.2 s, which truncation towards zero gives)
      assert.are.same({ 1, 1, 0, 0, 1, 1 }, r:column("packets"))
      assert(r:write_critical(dir .. "/old.tsv"))
      local rows, pos = table_of(dir .. "/old.tsv", "\t")
      assert.are.same({ "-1.500000000", "-1.200000000", "-0.300000000", "0.000000000", "0.300000000" },
        { rows[2][pos.start], rows[2][pos["end"]], rows[6][pos.start], rows[7][pos.start], rows[7][pos["end"]] })
      H.assert_close(r:interval(2).iat_mean, 0.25, 1e-9, "iat_mean across the negative timestamps")
    end)
  end)

  ---------------------------------------------------------------------------------------------------------------
  describe("anchor = \"first\"", function()
    local first = T0 + 882000
    local function two()
      return capture("anchor.pcap", { { ts_ns = first, data = udp() }, { ts_ns = first + sec(12), data = udp() } })
    end

    it("starts the aligned grid at the first packet, as before", function()
      local r = assert(tpp.parse(two(), { delta_t = 10, anchor = "first" }))
      assert.are.equal("first", r.anchor)
      assert.are.same({ 1, 1 }, r:column("packets"))
      assert(r:write_critical(dir .. "/f.tsv"))
      local rows, pos = table_of(dir .. "/f.tsv", "\t")
      assert.are.same({ "1700000000.000882000", "1700000010.000882000", "1700000020.000882000" },
        { rows[2][pos.start], rows[3][pos.start], rows[3][pos["end"]] })
    end)

    it("is refused when misspelt", function()
      local ok, err = pcall(tpp.parse, two(), { anchor = "start" })
      assert.is_false(ok)
      assert.truthy(tostring(err):find("option anchor must be one of epoch, first", 1, true), err)
    end)

    it("is kept in the dump and is part of dump reuse", function()
      local path = two()
      local r = assert(tpp.parse(path, { delta_t = 10, anchor = "first" }))
      assert(r:dump(dir .. "/a.tpd"))
      local d = assert(tpp.load(dir .. "/a.tpd"))
      assert.are.equal("first", d.anchor)
      local source = { path = d.source, fingerprint = tpp.fingerprint(path) }
      assert.are.equal(r.source_fingerprint, source.fingerprint)
      assert.is_true(job.dump_matches(d, { delta_t = 10, anchor = "first" }, source))
      local same, why = job.dump_matches(d, { delta_t = 10 }, source)
      assert.is_false(same)
      assert.are.equal("anchor differs", why)
      local e = assert(tpp.parse(path, { delta_t = 10 }))
      assert(e:dump(dir .. "/e.tpd"))
      assert.are.equal("epoch", assert(tpp.load(dir .. "/e.tpd")).anchor)
      assert.is_true(job.dump_matches(assert(tpp.load(dir .. "/e.tpd")), { delta_t = 10 }, source))
    end)

    it("is an option of the main job and a key of its config file", function()
      local s = assert(cli.resolve { "--anchor", "first" })
      assert.are.equal("first", s.parse.anchor)
      assert.are.equal("epoch", assert(cli.resolve {}).parse.anchor)
      local conf = H.write_file(dir .. "/conf.lua", 'return { anchor = "first" }')
      assert.are.equal("first", assert(cli.resolve { "--config", conf }).parse.anchor)
      assert.are.equal("epoch", assert(cli.resolve { "--config", conf, "--anchor", "epoch" }).parse.anchor)
      local bad, err = cli.resolve { "--anchor", "middle" }
      assert.is_nil(bad)
      assert.truthy(err:find("--anchor must be one of epoch, first", 1, true), err)
    end)

    it("reaches the critical TSV of the main job, and a change of anchor re-parses instead of reusing the dump", function()
      two()
      H.write_file(dir .. "/conf.lua", 'return { anchor = "first" }')
      local tpp_bin = H.tpp_binary()
      if tpp_bin:sub(1, 1) ~= "/" then tpp_bin = lfs.currentdir() .. "/" .. tpp_bin end
      local exec = lfs.currentdir() .. "/scripts/exec.lua"
      local function run(args)
        local out, err, status = H.sh(("cd %s && %s %s -q -f none -t 10 %s anchor.pcap"):format(H.shell_quote(dir),
          H.shell_quote(tpp_bin), H.shell_quote(exec), args))
        assert.are.equal(0, status, out .. err)
        local rows, pos = table_of(dir .. "/critical/anchor_critical.tsv", "\t")
        return rows[2][pos.start]
      end
      assert.are.equal("1700000000.000882000", run("--anchor first"))
      assert.are.equal("1700000000.000000000", run(""))
      assert.are.equal("1700000000.000882000", run("--anchor first"))
      assert.are.equal("1700000000.000882000", run("--config conf.lua"))
    end)
  end)

  ---------------------------------------------------------------------------------------------------------------
  describe("in the packet mode (--compat)", function()
    local COMPAT = { boundary = "packet", ip = "v4" }
    local function with(opts, extra)
      local o = {}
      for k, v in pairs(opts) do o[k] = v end
      for k, v in pairs(extra or {}) do o[k] = v end
      return o
    end

    -- dt = 5.  Interval 0 (start 0): two ARP frames, the second at 6 s closing it.  Interval 1 (start 6): UDP at 7
    -- and 12 (closing).  Interval 2 (start 12): UDP at 20 (closing).  UDP at 21: the trailing partial interval.
    local function zeros_trace()
      return capture("zeros.pcap", {
        { ts_ns = T0, data = arp() }, { ts_ns = T0 + sec(6), data = arp() },
        { ts_ns = T0 + sec(7), data = udp() }, { ts_ns = T0 + sec(12), data = udp("10.0.0.5") },
        { ts_ns = T0 + sec(20), data = udp() }, { ts_ns = T0 + sec(21), data = udp() },
      })
    end

    it("writes zeros where the original tool wrote zeros, whatever the ip option", function()
      for _, ip in ipairs { "v4", "any" } do
        local r = assert(tpp.parse(zeros_trace(), with(COMPAT, { delta_t = 5, ip = ip })))
        assert.are.equal(3, #r)
        local iv = r:interval(1)
        assert.are.same({ 2, 0 }, { iv.packets, iv.ip_packets })
        for _, name in ipairs(STATISTICS) do assert.are.equal(0, iv[name], ip .. " " .. name) end
        iv = r:interval(3)                               -- one IP packet: IAT 8, the other moments 0
        assert.are.same({ 1, 8, 0, 0, 0 }, { iv.ip_packets, iv.iat_mean, iv.iat_std, iv.iat_skew, iv.iat_kurt })
        iv = r:interval(2)                               -- IATs 1 and 5
        assert.are.same({ 2, 3 }, { iv.ip_packets, iv.iat_mean })
        assert(r:write_critical(dir .. "/z.tsv"))
        local rows, pos = table_of(dir .. "/z.tsv", "\t")
        for _, name in ipairs(STATISTICS) do assert.are.equal("0", rows[2][pos[name]], "TSV " .. name) end
      end
      -- the same capture in tpp's own mode: NaN there
      local own = assert(tpp.parse(zeros_trace(), { delta_t = 5, anchor = "first" }))
      assert.is_true(isnan(own:interval(1).f2_src) and isnan(own:interval(1).avg_len))
    end)

    it("counts an IAT of 0 for the capture's first packet (ten packets 1 s apart: 0.9)", function()
      local packets = {}
      for k = 0, 10 do packets[#packets + 1] = { ts_ns = T0 + k * NS, data = udp() } end
      local path = capture("ten.pcap", packets)
      local r = assert(tpp.parse(path, with(COMPAT, { delta_t = 9 })))
      -- packets at 0 … 9 s: the one at 9 s closes interval 0; IATs 0, 1, 1, …, 1
      assert.are.equal(1, #r)
      assert.are.equal(10, r:interval(1).ip_packets)
      H.assert_close(r:interval(1).iat_mean, 0.9, 1e-12, "iat_mean")
      local mean, std = H.ref.moments { 0, 1, 1, 1, 1, 1, 1, 1, 1, 1 }
      H.assert_close(r:interval(1).iat_std, std, 1e-9, "iat_std")
      assert.are.equal(0.9, mean)
    end)

    it("keeps negative inter-arrival times when timestamps go backwards; the aligned mode clamps them", function()
      local path = capture("back.pcap", {
        { ts_ns = T0, data = udp() }, { ts_ns = T0 + sec(2), data = udp() }, { ts_ns = T0 + sec(1), data = udp() },
        { ts_ns = T0 + sec(3), data = udp() }, { ts_ns = T0 + sec(10), data = udp() },
      })
      local r = assert(tpp.parse(path, with(COMPAT, { delta_t = 5 })))
      assert.are.equal(1, r.backwards_packets)
      assert.are.equal(1, #r)
      local mean, std, skew, kurt = H.ref.moments { 0, 2, -1, 2, 7 }
      local iv = r:interval(1)
      assert.are.equal(2, mean)
      H.assert_close(iv.iat_mean, mean, 1e-12, "iat_mean")
      H.assert_close(iv.iat_std, std, 1e-9, "iat_std")
      H.assert_close(iv.iat_skew, skew, 1e-7, "iat_skew")
      H.assert_close(iv.iat_kurt, kurt, 1e-7, "iat_kurt")

      local own = assert(tpp.parse(path, { delta_t = 100 }))
      assert.are.equal(1, own.backwards_packets)
      mean, std = H.ref.moments { 2, 0, 2, 7 }
      H.assert_close(own:interval(1).iat_mean, mean, 1e-12, "aligned iat_mean")
      H.assert_close(own:interval(1).iat_std, std, 1e-9, "aligned iat_std")
    end)
  end)

  ---------------------------------------------------------------------------------------------------------------
  describe("IP lengths", function()
    local function eth_ip4(proto, payload, opts)
      return H.eth_ip(H.ipv4("10.0.0.1", "10.0.0.2", proto, payload, opts))
    end

    it("never exceed what the frame holds after the link header", function()
      local path = capture("len.pcap", {
        -- total length 65535 in a 46-byte frame: 32 bytes of IP
        { ts_ns = T0, data = eth_ip4(H.PROTO_UDP, H.udp(1, 2, "abcd"), { total_length = 65535 }) },
        -- IPv6 payload length 65000 in a frame with 40 + 12 bytes of IP
        { ts_ns = T0 + 1, data = H.eth_ip(H.ipv6("2001:db8::1", "2001:db8::2", H.PROTO_UDP, H.udp(3, 4, "abcd"),
          { payload_length = 65000 })) },
      }, { nanosecond = true })
      local r = assert(tpp.parse(path, { delta_t = 1 }))
      assert.are.same({ 2, 32 + 52 }, { r:interval(1).ip_packets, r:interval(1).ip_bytes })
      local lens = {}
      for p in tpp.packets(path) do lens[#lens + 1] = p.ip_len end
      assert.are.same({ 32, 52 }, lens)
    end)

    it("are trusted up to the wire length when the capture was cut by a snap length", function()
      local full = eth_ip4(H.PROTO_TCP, H.tcp(1, 2, H.ACK, string.rep("x", 1460)))        -- 1514 bytes on the wire
      local liar = eth_ip4(H.PROTO_TCP, H.tcp(1, 2, H.ACK, string.rep("x", 1460)), { total_length = 9000 })
      local path = capture("snap.pcap", {
        { ts_ns = T0, data = full:sub(1, 64), wirelen = #full },
        { ts_ns = T0 + 1, data = liar:sub(1, 64), wirelen = #liar },
      }, { nanosecond = true })
      local r = assert(tpp.parse(path, { delta_t = 1 }))
      assert.are.same({ 2, 1500 + 1500 }, { r:interval(1).ip_packets, r:interval(1).ip_bytes })
    end)

    it("make an impossible IPv4 header malformed: not IP, not TCP", function()
      local good = eth_ip4(H.PROTO_TCP, H.tcp(1000, 80, H.SYN))
      local ihl4 = good:sub(1, 14) .. string.char(0x44) .. good:sub(16)                   -- IHL 4: 16 bytes
      local short = good:sub(1, 16) .. string.pack(">I2", 12) .. good:sub(19)              -- total length 12 < 20
      local path = capture("malformed.pcap", {
        { ts_ns = T0, data = good }, { ts_ns = T0 + sec(0.1), data = ihl4 }, { ts_ns = T0 + sec(0.2), data = short },
      })
      local r = assert(tpp.parse(path, { delta_t = 1 }))
      assert.are.same({ 3, 1, 2, 2 }, { r.packets, r.ip_packets, r.non_ip_packets, r.malformed_packets })
      local iv = r:interval(1)
      assert.are.same({ 3, 1, 40, 1, 1, 1 }, { iv.packets, iv.ip_packets, iv.ip_bytes, iv.syn, iv.tcp_port_packets,
        iv.tcp_frac })
      assert.are.same({ { 1, 80, 1 } }, H.ports_list(r, "tcp_dst"))
      local ipv = {}
      for p in tpp.packets(path) do ipv[#ipv + 1] = p.ipv or 0 end
      assert.are.same({ 4, 0, 0 }, ipv)
      assert(r:dump(dir .. "/m.tpd"))
      assert.are.equal(2, assert(tpp.load(dir .. "/m.tpd")).malformed_packets)
    end)
  end)

  ---------------------------------------------------------------------------------------------------------------
  describe("in dumps", function()
    it("of the older format (1, zeros and the first-packet grid) are refused, so the capture is parsed again", function()
      local r = assert(tpp.parse(capture("d.pcap", { { ts_ns = T0, data = udp() } })))
      assert(r:dump(dir .. "/d.tpd"))
      local bytes = H.read_file(dir .. "/d.tpd")
      assert.are.equal(5, string.unpack("<I4", bytes, 9))
      H.write_file(dir .. "/old.tpd", bytes:sub(1, 8) .. string.pack("<I4", 1) .. bytes:sub(13))
      local d, err = tpp.load(dir .. "/old.tpd")
      assert.is_nil(d)
      assert.truthy(err:find(dir .. "/old.tpd: written by an older tpp (dump format 1", 1, true), err)
    end)
  end)
end)
