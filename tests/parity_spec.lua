-- Parity: tpp's numbers against those of the original tool (packet boundary, IPv4) and of an independent
-- decoder (aligned windows), on the captures in tests/data/parity (see its expected/ files).
local tpp = require "tpp"
local H = require "tests.helper"

local DATA = "tests/data/parity/"

local read_tsv = H.read_tsv_rows

-- "1674709210.001074" -> integer nanoseconds, exactly.
local function to_ns(text)
  local sec, frac = text:match("^(%d+)%.?(%d*)$")
  assert(sec, "not a timestamp: " .. text)
  return tonumber(sec) * 1000000000 + tonumber((frac .. "000000000"):sub(1, 9))
end

local TIME = { start = true, ["end"] = true }
local COUNT = { interval = true, packets = true, ip_packets = true, ip_bytes = true, src_ips = true, dst_ips = true,
                syn = true, fin = true, tcp_port_packets = true, udp_port_packets = true }
local LOOSE = { iat_std = true, iat_skew = true, iat_kurt = true } -- relative 1e-7 (parity README)

-- Compare one expected cell with tpp's; returns nil when equal, else a description.
local function differs(name, want, got)
  if TIME[name] then
    -- Times are compared in integer nanoseconds, exactly: far tighter than the README's relative 1e-9 (1.7 s at
    -- today's epoch).  The aligned grid sits on multiples of delta_t since the epoch, and the original tool's
    -- interval ends are packet timestamps.
    if to_ns(want) ~= to_ns(got) then return ("%s: want %s, got %s"):format(name, want, got) end
    return nil
  end
  if COUNT[name] then
    if math.tointeger(tonumber(want)) ~= math.tointeger(tonumber(got)) then
      return ("%s: want %s, got %s"):format(name, want, got)
    end
    return nil
  end
  local w, g = tonumber(want), tonumber(got)
  if w ~= w or g ~= g then
    if (w ~= w) ~= (g ~= g) then return ("%s: want %s, got %s"):format(name, want, got) end
    return nil
  end
  local rel = LOOSE[name] and 1e-7 or 1e-9
  local diff = math.abs(w - g)
  if diff <= 1e-12 or diff <= rel * math.max(math.abs(w), math.abs(g)) then return nil end
  return ("%s: want %s, got %s (relative difference %.3g)"):format(name, want, got, diff / math.abs(w))
end

local function check_columns(r, expected_path)
  local header, want = read_tsv(expected_path)
  local out = os.tmpname()
  assert(r:write_critical(out))
  local _, got = read_tsv(out)
  os.remove(out)
  assert.are.equal(#want, #got, "interval count")
  local problems = {}
  for i, row in ipairs(want) do
    for _, name in ipairs(header) do
      local d = differs(name, row[name], got[i][name])
      if d then problems[#problems + 1] = ("interval %d %s"):format(i - 1, d) end
    end
  end
  assert.are.same({}, problems)
end

local function check_ports(r, expected_path)
  local _, want = read_tsv(expected_path)
  local expected = {}
  for _, row in ipairs(want) do
    expected[#expected + 1] = ("%s %s %s %s"):format(row.interval, row.series, row.port, row.count)
  end
  local got = {}
  for _, series in ipairs { "tcp_src", "tcp_dst", "udp_src", "udp_dst" } do
    for i, port, count in r:ports(series) do got[#got + 1] = ("%d %s %d %d"):format(i - 1, series, port, count) end
  end
  table.sort(expected)
  table.sort(got)
  assert.are.equal(#expected, #got, "port histogram entries")
  assert.are.same(expected, got)
end

local function read_summary(path)
  local s = {}
  for line in io.lines(path) do
    local k, v = line:match("^(%S+)%s+(%S+)$")
    if k then s[k] = tonumber(v) end
  end
  return s
end

local cases = {
  { capture = "synth-a.pcap", name = "synth-a", dt = 10 },
  { capture = "synth-a.pcap", name = "synth-a", dt = 1 },
  { capture = "synth-b.pcap.gz", name = "synth-b", dt = 5 },
  { capture = "afs.pcap", name = "afs", dt = 10 },
  { capture = "modbusBig.pcap", name = "modbusBig", dt = 5 },
  { capture = "cwd-navigation.pcap", name = "cwd-navigation", dt = 60 },
}

describe("parity with the original tool (packet boundary, IPv4)", function()
  for _, c in ipairs(cases) do
    describe(("%s at delta_t = %d"):format(c.capture, c.dt), function()
      local base = DATA .. "expected/" .. c.name .. "_dt" .. c.dt
      local r
      setup(function()
        r = assert(tpp.parse(DATA .. c.capture, { delta_t = c.dt, boundary = "packet", ip = "v4" }))
      end)
      it("matches every column of every interval", function() check_columns(r, base .. ".tsv") end)
      it("matches the per-interval port histograms", function() check_ports(r, base .. ".ports.tsv") end)
      it("matches the summary: packets read, intervals, distinct ports", function()
        local s = read_summary(base .. ".summary")
        assert.are.equal(s.packets_read, r.packets)
        assert.are.equal(s.intervals, #r)
        for _, series in ipairs { "tcp_src", "tcp_dst", "udp_src", "udp_dst" } do
          assert.are.equal(s["distinct_" .. series .. "_ports"], r:distinct_ports(series), series)
        end
      end)
    end)
  end
end)

local aligned = {
  { capture = "synth-a.pcap", file = "synth-a_aligned_dt10_v4", dt = 10, ip = "v4" },
  { capture = "synth-a.pcap", file = "synth-a_aligned_dt1_any", dt = 1, ip = "any" },
  { capture = "synth-b.pcap.gz", file = "synth-b_aligned_dt5_any", dt = 5, ip = "any" },
}

describe("parity with an independent decoder (aligned windows)", function()
  for _, c in ipairs(aligned) do
    describe(("%s at delta_t = %d, ip = %s"):format(c.capture, c.dt, c.ip), function()
      local r
      setup(function()
        r = assert(tpp.parse(DATA .. c.capture, { delta_t = c.dt, boundary = "aligned", ip = c.ip }))
      end)
      it("matches every column of every interval", function()
        check_columns(r, DATA .. "expected/" .. c.file .. ".tsv")
      end)
      it("matches the per-interval port histograms", function()
        check_ports(r, DATA .. "expected/" .. c.file .. ".ports.tsv")
      end)
    end)
  end
end)
