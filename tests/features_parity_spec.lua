-- Issue 16's feature columns and heavy hitters against an independent computation: tests/reference/features.py
-- decodes the captures with tshark (not tpp's decoder) and aggregates them by the definitions of docs/lua-api.md.
-- tpp's main job runs on the parity captures and on captures written here with known answers (flow timeouts,
-- fragments, IPv6 prefixes, heavy-hitter ties, headers at the edges of decoding), whole, split into chunks and cut
-- into the pieces of a series; every new column and the heavy-hitter file must agree, and so must six older
-- columns (ip_packets .. udp_port_packets) that show whether tshark and tpp decoded the same packets.  The
-- reference itself is checked by hand on the written captures.
local tpp = require "tpp"
local H = require "tests.helper"
local lfs = require "lfs"

local REFERENCE = H.ROOT .. "/tests/reference/features.py"
local PARITY = H.ROOT .. "/tests/data/parity/"

-- The 21 columns of issue 16; counts are compared exactly, the rest within relative 1e-12.
local COLUMNS = { "entropy_tcp_src", "entropy_tcp_dst", "entropy_udp_src", "entropy_udp_dst",
                  "src_p24", "dst_p24", "src_p16", "dst_p16", "entropy_src_p24", "entropy_dst_p24",
                  "flows", "flows_new", "fanout_max", "new_src", "new_dst",
                  "synack", "rst", "frag", "ttl_mean", "len_p50", "len_p95" }
local REAL = { entropy_tcp_src = true, entropy_tcp_dst = true, entropy_udp_src = true, entropy_udp_dst = true,
               entropy_src_p24 = true, entropy_dst_p24 = true, ttl_mean = true, share = true }
local REL = 1e-12
-- Each column's feature group (docs/lua-api.md): a group switched off leaves its columns NaN.
local GROUP = { flows = "flows", flows_new = "flows", fanout_max = "flows", new_src = "novelty",
                new_dst = "novelty" }
for _, name in ipairs { "entropy_tcp_src", "entropy_tcp_dst", "entropy_udp_src", "entropy_udp_dst" } do
  GROUP[name] = "ports"
end
for _, name in ipairs { "src_p24", "dst_p24", "src_p16", "dst_p16", "entropy_src_p24", "entropy_dst_p24" } do
  GROUP[name] = "prefixes"
end
for _, name in ipairs { "synack", "rst", "frag", "ttl_mean", "len_p50", "len_p95" } do GROUP[name] = "headers" end

-- Is feature group g on under o.features (a list such as "flows,hh"; all when nil)?
local function group_on(o, g)
  if not o.features then return true end
  for name in o.features:gmatch("[^,]+") do
    if name == g then return true end
  end
  return false
end

-- Run argv to its end (no shell); returns whether it exited 0 and its stderr.
local function run(argv, timeout)
  local p = assert(tpp.spawn(argv))
  local err = {}
  local deadline = tpp.now() + (timeout or 300)
  while not p:eof() do
    if tpp.now() > deadline then
      p:kill()
      error(argv[1] .. " did not finish in " .. (timeout or 300) .. " s")
    end
    tpp.poll({ p }, 1)
    local _, e = p:read()
    for _, l in ipairs(e) do err[#err + 1] = l end
  end
  local ok = p:wait()
  return ok, table.concat(err, "\n")
end

-- The reference needs python3 and tshark: without them the spec fails and says so (it never skips).
local function require_tools()
  for _, tool in ipairs { "python3", "tshark" } do
    local ok = run { "sh", "-c", 'command -v "$0" >/dev/null', tool }
    assert(ok, tool .. " is not installed: the feature parity spec needs it (scripts/install-deps.sh installs it)")
  end
end

-- "nan" -> NaN; numbers as numbers; anything else stays text.
local function value(text)
  if text == "nan" or text == "-nan" then return 0 / 0 end
  return tonumber(text) or text
end

-- A TSV as a list of rows keyed by column name.
local function read_rows(path)
  local header, rows = H.read_tsv_rows(path)
  return rows, header
end

-- nil when equal under the rules above, else a description.
local function differs(name, want, got)
  if got == nil then return ("%s: want %s, tpp has no such column"):format(name, want) end
  local w, g = value(want), value(got)
  if w ~= w or g ~= g then
    if (w ~= w) ~= (g ~= g) then return ("%s: want %s, got %s"):format(name, want, got) end
    return nil
  end
  if type(w) ~= "number" or type(g) ~= "number" then
    if want ~= got then return ("%s: want %s, got %s"):format(name, want, got) end
    return nil
  end
  if not REAL[name] then
    if w ~= g then return ("%s: want %s, got %s"):format(name, want, got) end
    return nil
  end
  local diff = math.abs(w - g)
  if diff == 0 or diff <= REL * math.max(math.abs(w), math.abs(g)) then return nil end
  return ("%s: want %s, got %s (relative difference %.3g)"):format(name, want, got, diff / math.abs(w))
end

-- Run the reference on a capture; its critical rows and heavy-hitter rows.
local function reference(capture, o, dir)
  local crit, hh = dir .. "/ref_critical.tsv", dir .. "/ref_hh.tsv"
  local argv = { "python3", REFERENCE, capture, "--delta-t", tostring(o.delta_t), "--ip", o.ip or "any",
                 "--flow-timeout", tostring(o.flow_timeout or 60), "--hh-k", tostring(o.hh_k or 10),
                 "--hhh-phi", tostring(o.hhh_phi or 0.05), "--critical", crit, "--hh", hh }
  if o.compat then argv[#argv + 1] = "--compat" end
  local ok, err = run(argv)
  assert(ok, "the reference failed on " .. capture .. ": " .. err)
  return (read_rows(crit)), (read_rows(hh))
end

-- The one file in dir/sub (the main job names it after the capture).
local function only_file(dir, sub)
  local names = H.list_dir(dir .. "/" .. sub)
  assert(#names == 1, ("%s/%s: want one file, found %d"):format(dir, sub, #names))
  return dir .. "/" .. sub .. "/" .. names[1]
end

-- Cut a capture into pieces dir/piece-1.pcap ... before the packets numbered in `cuts` (1-based, ascending):
-- the pieces of one series, as a trace cut into files.
local function cut(capture, dir, cuts)
  assert(lfs.mkdir(dir))
  local n, piece, w = 0, 0, nil
  for p in tpp.packets(capture, { bytes = true }) do
    n = n + 1
    if not w or n == cuts[piece] then
      if w then assert(w:close()) end
      piece = piece + 1
      w = assert(tpp.pcap_writer(("%s/piece-%d.pcap"):format(dir, piece), p.linktype))
    end
    w:write_ns(p.ts_ns, p.bytes, p.wirelen)
  end
  assert(w:close())
  assert(piece == #cuts + 1, "the capture has fewer packets than the cuts")
end

-- Deal a capture's packets in turn to k pieces dir/piece-1.pcap ...: pieces that overlap in time all along.
local function deal(capture, dir, k)
  assert(lfs.mkdir(dir))
  local w, n = {}, 0
  for p in tpp.packets(capture, { bytes = true }) do
    local i = n % k + 1
    w[i] = w[i] or assert(tpp.pcap_writer(("%s/piece-%d.pcap"):format(dir, i), p.linktype))
    w[i]:write_ns(p.ts_ns, p.bytes, p.wirelen)
    n = n + 1
  end
  for i = 1, k do assert(w[i]:close()) end
end

-- Run tpp's main job on a capture with the same options (o.split: as chunks merged; o.cuts: as the pieces of a
-- series); its critical rows and heavy-hitter rows.
local function run_tpp(capture, o, dir)
  local out = dir .. "/out"
  local argv = { H.tpp_absolute(), H.ROOT .. "/scripts/exec.lua", "-q", "-j", "2", "-f", "none", "-o", out,
                 "-t", tostring(o.delta_t), o.compat and "--compat" or "--ip=" .. (o.ip or "any"),
                 "--flow-timeout", tostring(o.flow_timeout or 60), "--heavy-hitters", tostring(o.hh_k or 10),
                 "--hhh-phi", tostring(o.hhh_phi or 0.05), "--features", o.features or "all" }
  if o.split then
    argv[#argv + 1] = "--split"
    argv[#argv + 1] = tostring(o.split)
  end
  if o.cuts or o.deal then
    if o.cuts then cut(capture, dir .. "/pieces", o.cuts) else deal(capture, dir .. "/pieces", o.deal) end
    for _, a in ipairs { "--series", "whole", "--keep-tables", o.deal and "all" or "edges" } do argv[#argv + 1] = a end
    capture = dir .. "/pieces"
  end
  argv[#argv + 1] = capture
  local ok, err = run(argv)
  assert(ok, "tpp's main job failed on " .. capture .. ": " .. err)
  -- Chunks and pieces were parsed apart and merged (each has its dump), not parsed whole.
  local dumps = 0
  for _, name in ipairs(H.list_dir(out .. "/mem_dump")) do
    if name:match("%.tpd$") then dumps = dumps + 1 end
  end
  if o.split then assert.are.equal(o.split + 1, dumps, "dumps of the chunks and of the merge") end
  if o.cuts then assert.are.equal(#o.cuts + 2, dumps, "dumps of the pieces and of the series") end
  if o.deal then assert.are.equal(o.deal + 1, dumps, "dumps of the pieces and of the series") end
  local hh = lfs.attributes(out .. "/hh") and read_rows(only_file(out, "hh")) or nil
  return (read_rows(only_file(out, "critical"))), hh
end

-- Every reference row against tpp's row of the same start; returns the problems (at most `cap`).
local function compare_columns(want, got, o)
  local problems = {}
  local by_start = {}
  for _, row in ipairs(got) do by_start[row.start] = row end
  local rows_with_packets = 0
  for _, w in ipairs(want) do
    local g = by_start[w.start]
    if not g then
      problems[#problems + 1] = ("interval starting %s: tpp has no row"):format(w.start)
    else
      if tonumber(w.ip_packets) > 0 then rows_with_packets = rows_with_packets + 1 end
      for _, name in ipairs { "ip_packets", "ip_bytes", "src_ips", "dst_ips", "tcp_port_packets",
                              "udp_port_packets", table.unpack(COLUMNS) } do
        local expected = w[name]
        if GROUP[name] and not group_on(o, GROUP[name]) then expected = "nan" end
        -- Pieces that overlap cannot tell which flow came back after flow_timeout: NaN where they interleave.
        if name == "flows_new" and o.deal and tonumber(w.ip_packets) > 0 then expected = "nan" end
        local d = differs(name, expected, g[name])
        if d then problems[#problems + 1] = ("interval %s (start %s) %s"):format(g.interval, w.start, d) end
      end
    end
  end
  if #got ~= #want then
    problems[#problems + 1] = ("rows: reference %d, tpp %d"):format(#want, #got)
  end
  return problems, rows_with_packets
end

-- Heavy-hitter rows, interval by interval (matched by start), in order.
local function compare_hh(want, got, want_crit, got_crit)
  local function by_start(rows, crit)
    local start = {}
    for _, r in ipairs(crit) do start[r.interval] = r.start end
    local out, order = {}, {}
    for _, r in ipairs(rows) do
      local s = start[r.interval] or ("interval " .. r.interval .. " with no critical row")
      if not out[s] then out[s] = {}; order[#order + 1] = s end
      table.insert(out[s], r)
    end
    return out, order
  end
  local w, order = by_start(want, want_crit)
  local g, gorder = by_start(got, got_crit)
  local problems = {}
  for _, s in ipairs(gorder) do
    if not w[s] then problems[#problems + 1] = ("start %s: tpp has heavy hitters, the reference none"):format(s) end
  end
  for _, s in ipairs(order) do
    local wl, gl = w[s], g[s] or {}
    for k = 1, math.max(#wl, #gl) do
      local a, b = wl[k], gl[k]
      if not a or not b then
        local r = a or b
        problems[#problems + 1] = ("start %s rank %d: only %s has %s %s %s %s"):format(s, k,
          a and "the reference" or "tpp", r.dim, r.key, r.packets, r.bytes)
      else
        for _, name in ipairs { "dim", "key", "packets", "bytes", "share" } do
          local d = differs(name, a[name], b[name])
          if d then problems[#problems + 1] = ("start %s rank %d (%s %s) %s"):format(s, k, a.dim, a.key, d) end
        end
      end
    end
  end
  return problems
end

-- At most the first 30 problems, so that a failure stays readable.
local function shown(problems)
  local out = {}
  for k = 1, math.min(#problems, 30) do out[k] = problems[k] end
  if #problems > 30 then out[#out + 1] = ("... and %d more"):format(#problems - 30) end
  return out
end

local function check(capture, o)
  local dir = H.tmpdir()
  local ok, err = pcall(function()
    local ref_crit, ref_hh = reference(capture, o, dir)
    local tpp_crit, tpp_hh = run_tpp(capture, o, dir)
    local problems, rows = compare_columns(ref_crit, tpp_crit, o)
    assert(rows > 0, "the reference found no IP packet in " .. capture)
    assert(#ref_hh > 0, "the reference found no heavy hitter in " .. capture)
    assert.are.same({}, shown(problems))
    if group_on(o, "hh") then
      assert.are.same({}, shown(compare_hh(ref_hh, tpp_hh, ref_crit, tpp_crit)))
    else
      assert.is_nil(tpp_hh, "hh/ written with the group hh off")
    end
  end)
  H.rmtree(dir)
  if not ok then error(err, 0) end
end

---------------------------------------------------------------------------------------------------------------
-- A capture with known answers: delta_t 10, flow_timeout 5, hh_k 2, hhh_phi 0.3.  Lengths are IP lengths.
---------------------------------------------------------------------------------------------------------------
local KNOWN = { delta_t = 10, flow_timeout = 5, hh_k = 2, hhh_phi = 0.3 }

local function known_packets()
  local P = {}
  local function at(s, frame) P[#P + 1] = { ts_ns = H.T0 + math.floor(s * 1000) * 1000000, data = frame } end
  local function tcp4(src, dst, sp, dp, flags, pay, ttl)
    return H.eth4_tcp(src, dst, sp, dp, flags, string.rep("t", pay or 0), { ttl = ttl })
  end
  local function udp4(src, dst, sp, dp, pay)
    return H.eth4_udp(src, dst, sp, dp, string.rep("u", pay))
  end
  -- interval 0 [0, 10): flows A (TCP 10.0.0.1:1000 -> 10.0.1.1:80), B (its reverse), C, D (UDP to port 53)
  at(0, tcp4("10.0.0.1", "10.0.1.1", 1000, 80, H.SYN))                           -- A 40
  at(1, tcp4("10.0.1.1", "10.0.0.1", 80, 1000, H.SYN | H.ACK, 0, 128))          -- B 40
  at(2, tcp4("10.0.0.1", "10.0.1.1", 1000, 80, H.ACK, 10))                       -- A 50
  at(3, udp4("10.0.0.1", "10.1.0.1", 5000, 53, 20))                              -- C 48
  at(4, udp4("10.0.0.1", "192.168.0.1", 5000, 53, 100))                          -- D 128
  at(5.5, H.ethernet(nil, nil, H.ETH_ARP, H.arp()))                              -- not IP
  at(6, tcp4("10.0.1.1", "10.0.0.1", 80, 1000, H.RST, 0, 128))                  -- B 40
  at(9, udp4("10.0.0.1", "192.168.0.1", 5000, 53, 100))                          -- D 128
  -- interval 1 [10, 20): A after 10 s (new), D after exactly 5 s (not new), B after 9 s (new), an ICMP echo
  at(12, tcp4("10.0.0.1", "10.0.1.1", 1000, 80, H.ACK, 10))                      -- A 50
  at(14, udp4("10.0.0.1", "192.168.0.1", 5000, 53, 100))                         -- D 128
  at(15, tcp4("10.0.1.1", "10.0.0.1", 80, 1000, H.ACK, 0, 128))                 -- B 40
  at(16, H.eth4_icmp("10.0.0.9", "10.0.0.1", 8, 0, string.rep("i", 16)))         -- E 40
  -- interval 2 [20, 30): empty.  Interval 3 [30, 40): IPv6 and fragments.
  at(31, udp4("10.0.0.1", "10.1.0.1", 5000, 53, 20))                             -- C 48 (after 28 s: new)
  at(32, H.eth6_tcp("2001:db8:1::1", "2001:db8:2::1", 4000, 443, H.SYN, "", { hop_limit = 60 }))      -- F 60
  local g = H.udp(7000, 9000, string.rep("g", 16))
  at(33, H.eth_ip(H.ipv4("10.0.0.1", "10.0.2.1", H.PROTO_UDP, g, { more_fragments = true, id = 7 })))  -- G1 44
  at(34, H.eth_ip(H.ipv4("10.0.0.1", "10.0.2.1", H.PROTO_UDP, string.rep("h", 20),
                         { frag_offset = 3, id = 7 })))                                                -- G2 40
  at(35, H.eth_ip(H.ipv6("2001:db8:9::1", "2001:db8:3::1", H.PROTO_UDP, g,
                         { ext = { { type = H.PROTO_FRAGMENT, more = true } } })))                     -- H1 72
  at(36, H.eth_ip(H.ipv6("2001:db8:9::1", "2001:db8:3::1", H.PROTO_UDP, string.rep("h", 20),
                         { ext = { { type = H.PROTO_FRAGMENT, offset = 3 } } })))                       -- H2 68
  at(37, H.eth6_tcp("2001:db8:1::2", "2001:db8:2::1", 4001, 443, H.RST | H.ACK, "", { hop_limit = 60 })) -- I 60
  return P
end

-- 100 packets in one interval, 7 of them from one source, the 93 others from sources in 93 different /8s: with
-- hhh_phi 0.07 the source holds exactly the threshold share (in doubles 0.07 * 100 is 7.000000000000001, so a
-- comparison with the product rather than the share would miss it).
local BOUNDARY = { delta_t = 10, hhh_phi = 0.07, hh_k = 1 }

local function boundary_packets()
  local P = {}
  for k = 1, 100 do
    local src = k <= 7 and "10.9.9.9" or ("%d.0.0.1"):format(92 + k)
    P[k] = { ts_ns = H.T0 + k * 10000000, data = H.eth4_udp(src, "10.0.0.1", 1000 + k, 53, "q") }
  end
  return P
end

-- Interval 0 (delta_t 60, phi 0.1, 20 packets of 48 bytes: threshold 2 packets): hierarchical heavy hitters at
-- every level of both families.  Interval 1: headers at the edges of decoding.
local EDGES = { delta_t = 60, hhh_phi = 0.1, hh_k = 3 }

local function edges_packets()
  local P = {}
  local function at(s, frame, wirelen) P[#P + 1] = { ts_ns = H.T0 + s * H.NS, data = frame, wirelen = wirelen } end
  local sources = { "2001:db8:1:1::1", "2001:db8:1:1::1", "2001:db8:1:1::1",     -- /128 (3)
                    "2001:db8:1:1::2", "2001:db8:1:1::3",                        -- /64 (2)
                    "2001:db8:1:2::1", "2001:db8:1:3::1",                        -- /48 (2)
                    "2001:db8:2::1", "2001:db8:3::1",                            -- /32 (2)
                    "10.0.0.1", "10.0.0.1", "10.0.0.2", "10.0.0.3",              -- /32 (2), /24 (2)
                    "10.1.0.1", "10.2.0.1",                                      -- /8 (2)
                    "192.0.2.1", "198.51.100.1", "203.0.113.1", "100.64.0.1", "172.16.0.1" }
  for k, src in ipairs(sources) do
    if src:find(":") then
      at(k, H.eth6_udp(src, "2001:db8:ff::1", 5000, 53, ""))   -- 48 bytes
    else
      at(k, H.eth4_udp(src, "10.255.0.1", 5000, 53, string.rep("u", 20)))   -- 48 bytes
    end
  end
  -- interval 1 [60, 120)
  at(61, H.eth_ip(H.ipv4("10.5.0.1", "10.5.0.2", H.PROTO_TCP, H.tcp(1, 22, H.SYN | H.ACK),
                         { ttl = 255, options = "\1\1\1\1" })))                               -- options: 44
  local long = H.ipv4("10.5.0.1", "10.5.0.3", H.PROTO_TCP, H.tcp(2, 8080, H.ACK), { total_length = 1000 })
  at(62, H.eth_ip(long))                                                                       -- 40 of 1000
  local tso = H.ipv4("10.5.0.1", "10.5.0.3", H.PROTO_TCP, H.tcp(2, 8080, H.ACK, "xxxx"), { total_length = 0 })
  at(63, H.eth_ip(tso))                                                                        -- 0: 44
  at(64, H.eth_ip(H.ipv6("2001:db8:5::1", "2001:db8:5::2", H.PROTO_TCP, H.tcp(3, 22, H.RST),
                         { ext = { { type = H.PROTO_HOPOPT }, { type = H.PROTO_DSTOPTS, len = 16 } } })))  -- 84
  at(65, H.eth_ip(H.ipv6("2001:db8:5::1", "2001:db8:5::2", H.PROTO_UDP, H.udp(4, 4),
                         { ext = { { type = H.PROTO_FRAGMENT } } })))                          -- atomic fragment: 56
  local cut = H.eth4_tcp("10.5.0.9", "10.5.0.2", 7, 7, H.SYN, string.rep("c", 50))
  at(66, cut:sub(1, 14 + 20 + 3), #cut)                                                        -- ports cut: 90
  local bad = H.ipv4("10.5.0.1", "10.5.0.2", H.PROTO_UDP, H.udp(9, 9))
  at(67, H.eth_ip(string.char(0x44) .. bad:sub(2)))                                            -- IHL 4: not IP
  at(68, H.eth4_udp("10.5.0.1", "10.5.0.2", 9, 9, "", { ttl = 0 }))                            -- 28
  at(69, H.ethernet_qinq(5, 6, H.ETH_IPV4, H.ipv4("10.5.0.4", "10.5.0.2", H.PROTO_UDP, H.udp(10, 53))))  -- 28
  local inner = H.ipv4("10.5.0.2", "10.5.0.1", H.PROTO_TCP, H.tcp(22, 1, H.SYN | H.ACK))
  at(70, H.eth4_icmp("10.5.0.7", "10.5.0.1", 3, 3, "\0\0\0\0" .. inner:sub(1, 28)))          -- ICMP error: 56
  at(71, H.eth_ip(H.ipv4("10.5.0.8", "10.5.0.1", H.PROTO_GRE, "\0\0\8\0" .. inner)))        -- GRE: 64
  at(72, H.eth4_tcp("10.5.0.1", "10.5.0.3", 2, 8080, H.ACK))                                    -- 40
  -- interval 2 [120, 180): an IPv4 address and its IPv4-mapped IPv6 twin are two addresses, of equal packets
  -- and bytes: IPv4 ranks first
  at(121, H.eth6_udp("::ffff:10.5.0.1", "::ffff:10.5.0.2", 1, 2, ""))                          -- 48
  at(122, H.eth4_udp("10.5.0.1", "10.5.0.2", 1, 2, string.rep("m", 20)))                       -- 48
  -- interval 3 [180, 240): TCP behind an IPv6 Authentication Header (24 bytes), whole and cut before its flags
  local ah = string.pack(">BBI2I4I4", H.PROTO_TCP, 4, 0, 0x100, 1) .. string.rep("\0", 12)
  local frame = H.eth_ip(H.ipv6("2001:db8:7::1", "2001:db8:7::2", 51, ah .. H.tcp(5, 6, H.SYN | H.ACK)))
  at(181, frame)
  at(182, frame:sub(1, 14 + 40 + 24 + 13), #frame)
  return P
end

describe("the feature reference (tests/reference/features.py), checked by hand", function()
  local dir, crit, hh
  setup(function()
    require_tools()
    dir = H.tmpdir()
    local capture = H.write_capture(dir .. "/known.pcap", "ethernet", known_packets())
    crit, hh = reference(capture, KNOWN, dir)
  end)
  teardown(function() if dir then H.rmtree(dir) end end)

  local function col(i, name) return value(crit[i + 1][name]) end

  it("puts the packets on the epoch grid, empty intervals included", function()
    assert.are.equal(4, #crit)
    assert.are.equal("1700000030.000000000", crit[4].start)
    assert.are.same({ 7, 4, 0, 7 }, { col(0, "ip_packets"), col(1, "ip_packets"), col(2, "ip_packets"),
                                      col(3, "ip_packets") })
  end)

  it("computes interval 0 by hand", function()
    -- sources 10.0.0.1 x5, 10.0.1.1 x2: one /16, two /24, entropy H(5/7, 2/7)
    assert.are.same({ 2, 1, 4, 3 }, { col(0, "src_p24"), col(0, "src_p16"), col(0, "dst_p24"), col(0, "dst_p16") })
    local h = -(5 / 7 * math.log(5 / 7, 2) + 2 / 7 * math.log(2 / 7, 2))
    H.assert_close(col(0, "entropy_src_p24"), h, 1e-14, "entropy_src_p24")
    -- destinations per /24: 10.0.1 x2, 10.0.0 x2, 10.1.0 x1, 192.168.0 x2
    local hd = -(3 * (2 / 7) * math.log(2 / 7, 2) + 1 / 7 * math.log(1 / 7, 2)) / 2
    H.assert_close(col(0, "entropy_dst_p24"), hd, 1e-14, "entropy_dst_p24")
    -- TCP ports 1000 x2 / 80 x2 both ways: entropy 1; UDP 5000 -> 53 only: 0
    assert.are.same({ 1, 1, 0, 0 }, { col(0, "entropy_tcp_src"), col(0, "entropy_tcp_dst"),
                                      col(0, "entropy_udp_src"), col(0, "entropy_udp_dst") })
    assert.are.same({ 4, 4, 3, 2, 4 }, { col(0, "flows"), col(0, "flows_new"), col(0, "fanout_max"),
                                         col(0, "new_src"), col(0, "new_dst") })
    assert.are.same({ 1, 1, 0 }, { col(0, "synack"), col(0, "rst"), col(0, "frag") })
    H.assert_close(col(0, "ttl_mean"), 576 / 7, 1e-15, "ttl_mean")
    -- lengths 40 40 40 48 50 128 128: rank ceil(3.5) = 4 -> 48, ceil(6.65) = 7 -> 128
    assert.are.same({ 48, 128 }, { col(0, "len_p50"), col(0, "len_p95") })
  end)

  it("counts a flow new only after more than flow_timeout of silence, and addresses new only once", function()
    assert.are.same({ 4, 3, 2, 1, 0 }, { col(1, "flows"), col(1, "flows_new"), col(1, "fanout_max"),
                                         col(1, "new_src"), col(1, "new_dst") })
    assert.are.same({ 0, 0, 0, 0 }, { col(2, "flows"), col(2, "flows_new"), col(2, "new_src"), col(2, "src_p24") })
    for _, name in ipairs { "fanout_max", "ttl_mean", "len_p50", "entropy_src_p24", "entropy_tcp_src" } do
      assert.is_true(col(2, name) ~= col(2, name), name .. " of an empty interval is NaN")
    end
  end)

  it("counts fragments, IPv6 prefixes and ports of first fragments only", function()
    -- C, F, G1 (ports), G2 (no ports), H1 (ports), H2 (no ports), I: 7 flows, all new (C after 28 s)
    assert.are.same({ 7, 7, 2, 3, 3 }, { col(3, "flows"), col(3, "flows_new"), col(3, "fanout_max"),
                                         col(3, "new_src"), col(3, "new_dst") })
    assert.are.same({ 0, 1, 4 }, { col(3, "synack"), col(3, "rst"), col(3, "frag") })
    -- 10.0.0/24, 2001:db8:1::/48, 2001:db8:9::/48; /16 and /32: 10.0, 2001:db8
    assert.are.same({ 3, 2, 4, 3 }, { col(3, "src_p24"), col(3, "src_p16"), col(3, "dst_p24"), col(3, "dst_p16") })
    H.assert_close(col(3, "ttl_mean"), 440 / 7, 1e-15, "ttl_mean")
    assert.are.same({ 60, 72 }, { col(3, "len_p50"), col(3, "len_p95") })
    -- UDP with ports: C (5000 -> 53), G1 and H1 (7000 -> 9000); TCP 4000, 4001 -> 443
    local h = -(1 / 3 * math.log(1 / 3, 2) + 2 / 3 * math.log(2 / 3, 2))
    H.assert_close(col(3, "entropy_udp_src"), h, 1e-14, "entropy_udp_src")
    assert.are.same({ 1, 0 }, { col(3, "entropy_tcp_src"), col(3, "entropy_tcp_dst") })
  end)

  it("ranks heavy hitters by packets, then bytes, then key, and finds the hierarchical ones", function()
    local rows = {}
    for _, r in ipairs(hh) do
      if r.interval == "0" or r.interval == "1" then
        rows[#rows + 1] = table.concat({ r.interval, r.dim, r.key, r.packets, r.bytes }, " ")
      end
    end
    assert.are.same({
      "0 src 10.0.0.1 5 394", "0 src 10.0.1.1 2 80",
      "0 dst 192.168.0.1 2 256", "0 dst 10.0.1.1 2 90",            -- 10.0.0.1 (2, 80) is third
      "0 src_p24 10.0.0.0/24 5 394", "0 src_p24 10.0.1.0/24 2 80",
      "0 dst_p24 192.168.0.0/24 2 256", "0 dst_p24 10.0.1.0/24 2 90",
      "0 tcp_dport 80 2 90", "0 tcp_dport 1000 2 80",
      "0 udp_dport 53 3 304",
      "0 src_hhh 10.0.0.1 5 394",                                -- threshold 0.3 * 7 = 2.1 packets
      "0 dst_hhh 10.0.0.0/16 4 170",                                -- 10.0.1.1 + 10.0.0.1: no /32 or /24 has 3
      "1 src 10.0.0.1 2 178", "1 src 10.0.0.9 1 40",                -- ties 10.0.0.9 and 10.0.1.1 (1, 40): key
      "1 dst 10.0.0.1 2 80", "1 dst 192.168.0.1 1 128",
      "1 src_p24 10.0.0.0/24 3 218", "1 src_p24 10.0.1.0/24 1 40",
      "1 dst_p24 10.0.0.0/24 2 80", "1 dst_p24 192.168.0.0/24 1 128",
      "1 tcp_dport 80 1 50", "1 tcp_dport 1000 1 40",
      "1 udp_dport 53 1 128",
      "1 src_hhh 10.0.0.1 2 178", "1 src_hhh 10.0.0.0/16 2 80",  -- threshold 1.2
      "1 dst_hhh 10.0.0.1 2 80",
    }, rows)
    local shares = {}
    for _, r in ipairs(hh) do
      if r.interval == "0" and (r.dim == "src" or r.dim == "udp_dport") then shares[#shares + 1] = value(r.share) end
    end
    assert.are.same({ 5 / 7, 2 / 7, 1 }, shares)
  end)

  it("orders hierarchical heavy hitters longest prefix first, across both families", function()
    local capture = H.write_capture(dir .. "/edges.pcap", "ethernet", edges_packets())
    local c, rows = reference(capture, EDGES, dir)
    local got = {}
    for _, r in ipairs(rows) do
      if r.interval == "0" and r.dim == "src_hhh" then got[#got + 1] = r.key .. " " .. r.packets end
    end
    assert.are.same({ "2001:db8:1:1::1 3", "2001:db8:1:1::/64 2", "2001:db8:1::/48 2",
                      "10.0.0.1 2", "2001:db8::/32 2",      -- plen 32 both: packets, bytes tie, IPv4 first
                      "10.0.0.0/24 2", "10.0.0.0/8 2" }, got)
    -- interval 1: 12 frames, 11 of them IP (IHL 4 is not); the SYN+ACK inside the ICMP error and the GRE tunnel
    -- are not the outer header's; the atomic fragment is a fragment
    local i1 = c[2]
    assert.are.same({ "11", "1", "1", "1" }, { i1.ip_packets, i1.synack, i1.rst, i1.frag })
    -- lengths 44 40 (of 1000 claimed) 44 (TSO) 84 56 90 (cut) 28 28 56 64 40, sorted 28 28 40 40 44 44 56 56 64
    -- 84 90: ranks 6 and 11
    assert.are.same({ "44", "90" }, { i1.len_p50, i1.len_p95 })
    H.assert_close(value(i1.ttl_mean), (255 + 9 * 64 + 0) / 11, 1e-15, "ttl_mean")
    -- flows: 11 packets, 10.5.0.1:2 -> 10.5.0.3:8080 three times; the cut frame and the ICMP and GRE packets
    -- have ports 0.  10.5.0.1 sends to 10.5.0.2 and 10.5.0.3.
    assert.are.same({ "9", "2" }, { i1.flows, i1.fanout_max })
    local mapped = {}
    for _, r in ipairs(rows) do
      if r.interval == "2" then mapped[#mapped + 1] = table.concat({ r.dim, r.key, r.packets, r.bytes }, " ") end
    end
    assert.are.same({ "src 10.5.0.1 1 48", "src ::ffff:10.5.0.1 1 48", "dst 10.5.0.2 1 48", "dst ::ffff:10.5.0.2 1 48",
                      "src_p24 10.5.0.0/24 1 48", "src_p24 ::/48 1 48", "dst_p24 10.5.0.0/24 1 48",
                      "dst_p24 ::/48 1 48", "udp_dport 2 2 96",
                      "src_hhh ::ffff:10.5.0.1 1 48", "src_hhh 10.5.0.1 1 48",   -- /128 before /32
                      "dst_hhh ::ffff:10.5.0.2 1 48", "dst_hhh 10.5.0.2 1 48" }, mapped)
  end)

  it("refuses what it cannot decode as tpp does, saying why", function()
    local function refused(name, packets)
      local capture = H.write_capture(dir .. "/" .. name, "ethernet", packets)
      local ok, err = run { "python3", REFERENCE, capture, "--delta-t", "1", "--critical", dir .. "/x.tsv",
                            "--hh", dir .. "/y.tsv" }
      assert.is_nil(ok, name)
      return err
    end
    local f = H.eth4_tcp("10.0.0.1", "10.0.0.2", 1, 2, H.SYN, string.rep("x", 40))
    -- the flags byte captured, the rest of the TCP header not: tpp reads the flags, tshark shows none
    local err = refused("cut-tcp.pcap", { { ts_ns = H.T0, data = f:sub(1, 14 + 20 + 14), wirelen = #f } })
    assert.is_truthy(err:find("cut-tcp.pcap: frame at 1700000000000000000 ns: a TCP header cut", 1, true), err)
    err = refused("back.pcap", { { ts_ns = H.T0 + H.NS, data = f }, { ts_ns = H.T0, data = f } })
    assert.is_truthy(err:find("timestamps step back", 1, true), err)
  end)

  it("reports a hierarchical heavy hitter whose share is exactly phi", function()
    local capture = H.write_capture(dir .. "/boundary.pcap", "ethernet", boundary_packets())
    local _, rows = reference(capture, BOUNDARY, dir)
    local got = {}
    for _, r in ipairs(rows) do
      if r.dim == "src_hhh" or r.dim == "src" then got[#got + 1] = table.concat({ r.dim, r.key, r.packets }, " ") end
    end
    assert.are.same({ "src 10.9.9.9 7", "src_hhh 10.9.9.9 7" }, got)
  end)
end)

describe("tpp's feature columns and heavy hitters against the reference", function()
  setup(require_tools)

  it("agree on the capture with known answers", function()
    local dir = H.tmpdir()
    local capture = H.write_capture(dir .. "/known.pcap", "ethernet", known_packets())
    local ok, err = pcall(check, capture, KNOWN)
    H.rmtree(dir)
    if not ok then error(err, 0) end
  end)

  it("agree on a hierarchical heavy hitter at exactly phi", function()
    local dir = H.tmpdir()
    local capture = H.write_capture(dir .. "/boundary.pcap", "ethernet", boundary_packets())
    local ok, err = pcall(check, capture, BOUNDARY)
    H.rmtree(dir)
    if not ok then error(err, 0) end
  end)

  it("agree on hierarchical heavy hitters of both families and on headers at the edges of decoding", function()
    local dir = H.tmpdir()
    local capture = H.write_capture(dir .. "/edges.pcap", "ethernet", edges_packets())
    local ok, err = pcall(check, capture, EDGES)
    H.rmtree(dir)
    if not ok then error(err, 0) end
  end)

  it("agree on a synthetic trace with 40 % IPv6 cut at 60 bytes (IPv6 TCP headers without their flags)", function()
    local dir = H.tmpdir()
    local capture = dir .. "/cut60.pcap"
    local ok, err = pcall(function()
      assert(require("tpp.synth").generate(capture, { packets = 20000, duration = 30, ipv6 = 0.4, snaplen = 60,
                                                      seed = 16 }))
      check(capture, { delta_t = 2, flow_timeout = 3, hh_k = 5, hhh_phi = 0.02 })
    end)
    H.rmtree(dir)
    if not ok then error(err, 0) end
  end)

  -- The known capture's IP packets under the other link layers tpp decodes (the ARP frame stays behind).
  local links = {
    sll = function(ip, v) return H.sll(v == 6 and H.ETH_IPV6 or H.ETH_IPV4, ip) end,
    sll2 = function(ip, v) return H.sll2(v == 6 and H.ETH_IPV6 or H.ETH_IPV4, ip) end,
    null = function(ip, v) return H.null(v == 6 and H.AF_INET6[1] or H.AF_INET, ip) end,
    loop = function(ip, v) return H.loop(v == 6 and H.AF_INET6[3] or H.AF_INET, ip) end,
    raw = function(ip) return ip end,
  }
  for _, link in ipairs { "sll", "sll2", "null", "loop", "raw" } do
    it("agree on the capture with known answers over " .. link, function()
      local packets = {}
      for _, p in ipairs(known_packets()) do
        local ethertype = string.unpack(">I2", p.data, 13)
        if ethertype == H.ETH_IPV4 or ethertype == H.ETH_IPV6 then
          local ip = p.data:sub(15)
          packets[#packets + 1] = { ts_ns = p.ts_ns, data = links[link](ip, ip:byte(1) >> 4) }
        end
      end
      local dir = H.tmpdir()
      local capture = H.write_capture(dir .. "/known-" .. link .. ".pcap", link, packets)
      local ok, err = pcall(check, capture, KNOWN)
      H.rmtree(dir)
      if not ok then error(err, 0) end
    end)
  end

  it("agree on the capture with known answers cut into three pieces of one series", function()
    local dir = H.tmpdir()
    local capture = H.write_capture(dir .. "/known.pcap", "ethernet", known_packets())
    local o = setmetatable({ cuts = { 4, 11 } }, { __index = KNOWN }) -- after 2 s and after 14 s
    local ok, err = pcall(check, capture, o)
    H.rmtree(dir)
    if not ok then error(err, 0) end
  end)

  local cases = {
    { capture = "synth-a.pcap", o = { delta_t = 10 } },
    { capture = "synth-a.pcap", o = { delta_t = 1, ip = "v4", flow_timeout = 2, hh_k = 3 } },
    { capture = "synth-b.pcap.gz", o = { delta_t = 5, flow_timeout = 10, hh_k = 20, hhh_phi = 0.01 } },
    { capture = "synth-b.pcap.gz", o = { delta_t = 10, ip = "v6" } },
    { capture = "afs.pcap", o = { delta_t = 10, flow_timeout = 30 } },
    { capture = "modbusBig.pcap", o = { delta_t = 5, ip = "v4", hhh_phi = 0.2 } },
    { capture = "cwd-navigation.pcap", o = { delta_t = 60, flow_timeout = 30, hh_k = 5 } },
    -- some feature groups only: the others NaN, no hh/ without hh
    { capture = "synth-b.pcap.gz", o = { delta_t = 5, features = "flows,hh" } },
    { capture = "synth-a.pcap", o = { delta_t = 10, features = "ports,prefixes,novelty,headers" } },
    -- the original tool's intervals (--compat: packet boundary, IPv4, 0 for undefined)
    { capture = "synth-a.pcap", o = { delta_t = 1, compat = true, flow_timeout = 2 } },
    { capture = "cwd-navigation.pcap", o = { delta_t = 60, compat = true, flow_timeout = 30 } },
    -- the merge: chunks of one capture, pieces of a series (cut inside intervals)
    { capture = "synth-a.pcap", o = { delta_t = 1, flow_timeout = 2, split = 3 } },
    { capture = "synth-b.pcap.gz", o = { delta_t = 5, flow_timeout = 10, hhh_phi = 0.01, split = 4 } },
    { capture = "synth-b.pcap.gz", o = { delta_t = 5, flow_timeout = 10, cuts = { 20001, 40001 } } },
    { capture = "cwd-navigation.pcap", o = { delta_t = 60, flow_timeout = 30, cuts = { 3000 } } },
    { capture = "synth-b.pcap.gz", o = { delta_t = 5, flow_timeout = 10, deal = 2 } },
    { capture = "modbusBig.pcap", o = { delta_t = 1, deal = 3, hh_k = 3 } },
  }
  for _, c in ipairs(cases) do
    local o = c.o
    local how = o.split and (", split into %d chunks"):format(o.split)
      or o.cuts and (", as a series of %d pieces"):format(#o.cuts + 1) or o.compat and ", --compat"
      or o.deal and (", dealt to %d overlapping pieces"):format(o.deal)
      or o.features and ", features " .. o.features or ""
    it(("agree on %s at delta_t %s, ip %s, flow_timeout %s, k %s, phi %s%s"):format(c.capture, o.delta_t,
        o.ip or "any", o.flow_timeout or 60, o.hh_k or 10, o.hhh_phi or 0.05, how), function()
      check(PARITY .. c.capture, o)
    end)
  end
end)
