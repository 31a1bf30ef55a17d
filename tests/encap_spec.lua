-- encap_spec.lua — encapsulated traffic in tpp's three decodings (tpp/packet.h): compat (the original tool's
-- classification, checked against scapy's own layer view), outer and inner (checked against the answers of the
-- generator that built each packet); the encapsulated_packets counter through dump, load and merge; --encap.
--
-- The captures and their answers come from tests/reference/encap.py, run with Debian's python3 and python3-scapy
-- 2.5 (the original tool's dissector); Zeek's pppoe-over-qinq.pcap and tunnels/gre-within-gre.pcap are not on
-- this machine, so the script builds captures of the same shapes (described in it).
local tpp = require "tpp"
local H = require "tests.helper"

local REFERENCE = H.ROOT .. "/tests/reference/encap.py"
local PYTHON = "/usr/bin/python3" -- Debian's, which python3-scapy serves (a python3 earlier on PATH may lack it)
local CAPTURES = { "pppoe-over-qinq", "gre-within-gre", "mixed", "truncated" }
local COMPAT = { boundary = "packet", ip = "v4" }
local DELTA = 1

-- Run argv to its end; whether it succeeded, and its stderr.
local function run(argv)
  local p = assert(tpp.spawn(argv))
  local err = {}
  while not p:eof() do
    tpp.poll({ p }, 1)
    local _, e = p:read()
    for _, l in ipairs(e) do err[#err + 1] = l end
  end
  return p:wait(), table.concat(err, "\n")
end

-- The rows of a reference TSV, "-" read as nil, numbers as numbers.
local function rows_of(path)
  local _, rows = H.read_tsv_rows(path)
  for _, r in ipairs(rows) do
    for k, v in pairs(r) do r[k] = v ~= "-" and (math.tointeger(tonumber(v)) or v) or nil end
  end
  return rows
end

local function text(...)
  local t = table.pack(...)
  for i = 1, t.n do t[i] = (t[i] == nil or t[i] == false) and "-" or tostring(t[i]) end
  return table.concat(t, " ", 1, t.n)
end

-- What tpp and the reference say of one packet, as comparable lines.
local function compat_views(p, r)
  local tcp, udp = p.transport == "tcp", p.transport == "udp" or p.udp_sport ~= nil
  local usport = p.udp_sport or (p.transport == "udp" and p.sport or nil)
  local udport = p.udp_dport or (p.transport == "udp" and p.dport or nil)
  local got = p.ipv ~= 4 and "not IPv4" or text(p.src, p.dst, p.ip_len, p.proto, tcp and p.sport, tcp and p.dport,
    tcp and p.flags, udp and usport, udp and udport, p.encapsulated and 1 or 0)
  local want = r.scapy_ip ~= 1 and "not IPv4" or text(r.scapy_src, r.scapy_dst, r.scapy_len, r.scapy_proto,
    r.tcp_sport, r.tcp_dport, r.tcp_flags, r.udp_sport, r.udp_dport, r.scapy_encap)
  return want, got
end

local function known_views(side, p, r)
  local got = not p.ipv and "not IP" or text(p.src, p.dst, p.proto, p.sport, p.dport, p.encapsulated and 1 or 0)
  local want = not r[side .. "_src"] and "not IP" or text(r[side .. "_src"], r[side .. "_dst"], r[side .. "_proto"],
    r[side .. "_sport"], r[side .. "_dport"], r.tunnel)
  return want, got
end

describe("encapsulations", function()
  local dir
  setup(function()
    dir = H.tmpdir()
    assert(io.open(PYTHON), PYTHON .. " is not installed: this spec needs it and python3-scapy "
      .. "(scripts/install-deps.sh installs them)")
    local ok, err = run { PYTHON, REFERENCE, dir, tostring(DELTA) }
    assert(ok, "tests/reference/encap.py failed (is python3-scapy installed?): " .. err)
  end)
  teardown(function() H.rmtree(dir) end)

  local function capture(name) return dir .. "/" .. name .. ".pcap" end

  -- Every packet of `name` decoded with `opts` against the reference's view `views(p, row)`.
  local function check_packets(name, opts, views)
    local rows, n, bad = rows_of(dir .. "/" .. name .. ".tsv"), 0, {}
    for p in tpp.packets(capture(name), opts) do
      n = n + 1
      local want, got = views(p, rows[n])
      if want ~= got then bad[#bad + 1] = ("packet %d: want %s, got %s"):format(n, want, got) end
    end
    assert.are.equal(#rows, n)
    assert.are.same({}, bad)
    return rows
  end

  for _, name in ipairs(CAPTURES) do
    describe(name, function()
      it("is classified in compat mode as scapy 2.5's default dissection classifies it", function()
        check_packets(name, COMPAT, compat_views)
      end)

      it("is analysed by its outermost IP header in the outer mode (PPPoE and MPLS are framing)", function()
        check_packets(name, {}, function(p, r) return known_views("outer", p, r) end)
      end)

      it("is analysed by its innermost IP header in the inner mode", function()
        check_packets(name, { encap = "inner" }, function(p, r) return known_views("inner", p, r) end)
      end)

      it("gives in compat mode the original tool's numbers, computed from scapy's layer view", function()
        local want = rows_of(dir .. "/" .. name .. ".rows.tsv")
        local r = assert(tpp.parse(capture(name), { delta_t = DELTA, boundary = "packet", ip = "v4" }))
        assert.is_true(#want > 0)
        assert.are.equal(#want, #r)
        for i, w in ipairs(want) do
          local iv = r:interval(i)
          local share = function(k) return w.ip_packets > 0 and w[k] / w.ip_packets or 0 end
          assert.are.same(
            { w.ip_packets, w.src_ips, w.dst_ips, share("icmp"), share("tcp"), share("udp"), w.syn, w.fin,
              w.tcp_port_packets, w.udp_port_packets },
            { iv.ip_packets, iv.src_ips, iv.dst_ips, iv.icmp_frac, iv.tcp_frac, iv.udp_frac, iv.syn, iv.fin,
              iv.tcp_port_packets, iv.udp_port_packets }, "interval " .. i)
        end
        local want_ports, got_ports = {}, {}
        for _, e in ipairs(rows_of(dir .. "/" .. name .. ".ports.tsv")) do
          want_ports[#want_ports + 1] = text(e.interval, e.series, e.port, e.count)
        end
        for _, series in ipairs { "tcp_src", "tcp_dst", "udp_src", "udp_dst" } do
          for i, port, count in r:ports(series) do got_ports[#got_ports + 1] = text(i, series, port, count) end
        end
        table.sort(want_ports)
        table.sort(got_ports)
        assert.are.same(want_ports, got_ports)
      end)
    end)
  end

  describe("the reference captures", function()
    it("cover what they claim: PPPoE IPv4 in pppoe-over-qinq, UDP ports two GRE tunnels deep in gre-within-gre",
      function()
        local r = assert(tpp.parse(capture("pppoe-over-qinq"), { delta_t = DELTA, boundary = "packet", ip = "v4" }))
        assert.are.same({ 86, 86 }, { r.packets, r.ip_packets })
        local g = assert(tpp.parse(capture("gre-within-gre"), { delta_t = DELTA, boundary = "packet", ip = "v4" }))
        assert.are.same({ 628, 628, 628 }, { g.packets, g.ip_packets, g.encapsulated_packets })
        local udp = 0
        for i = 1, #g do udp = udp + g:interval(i).udp_port_packets end
        assert.is_true(udp > 0)
        for i = 1, #g do -- the shares are of the outer header's protocol: GRE, neither UDP nor ICMP
          assert.are.same({ 0, 0, 0 }, { g:interval(i).udp_frac, g:interval(i).icmp_frac, g:interval(i).tcp_frac })
        end
        local seen = {}
        for _, port in g:ports("udp_dst") do seen[port] = true end
        assert.are.same({ [520] = true }, seen)
      end)
  end)

  -- Packets of capture `name` whose reference row has `key` = 1.
  local function count(name, key)
    local n = 0
    for _, r in ipairs(rows_of(dir .. "/" .. name .. ".tsv")) do n = n + ((r[key] == 1 and 1) or 0) end
    return n
  end

  describe("encapsulated_packets", function()

    it("counts the packets with a tunnel in every mode, and says which header was analysed", function()
      local outer = assert(tpp.parse(capture("mixed"), { delta_t = DELTA }))
      local inner = assert(tpp.parse(capture("mixed"), { delta_t = DELTA, encap = "inner" }))
      local compat = assert(tpp.parse(capture("mixed"), { delta_t = DELTA, boundary = "packet", ip = "v4" }))
      assert.are.same({ "outer", "inner", "outer" }, { outer.encap, inner.encap, compat.encap })
      assert.is_true(count("mixed", "tunnel") > 10)
      assert.are.equal(count("mixed", "tunnel"), outer.encapsulated_packets)
      assert.are.equal(count("mixed", "tunnel"), inner.encapsulated_packets)
      assert.are.equal(count("mixed", "scapy_encap"), compat.encapsulated_packets)
      -- the inner mode sees the tunnels' TCP where the outer mode sees GRE, IP in IP and UDP
      local function tcp(r) local n = 0 for i = 1, #r do n = n + r:interval(i).tcp_port_packets end return n end
      assert.is_true(tcp(inner) > tcp(outer))
    end)

    it("survives a dump and a load", function()
      local r = assert(tpp.parse(capture("mixed"), { delta_t = DELTA, encap = "inner" }))
      assert(r:dump(dir .. "/mixed.tpd"))
      local d = assert(tpp.load(dir .. "/mixed.tpd"))
      assert.are.same({ "inner", r.encapsulated_packets }, { d.encap, d.encapsulated_packets })
      assert.is_true(d.mergeable)
    end)

    it("adds up in a merge of pieces with the same encap; pieces of different encaps do not merge", function()
      local whole = assert(tpp.parse(capture("mixed"), { delta_t = DELTA, encap = "inner" }))
      local a = assert(tpp.pcap_writer(dir .. "/a.pcap", whole.linktype, { nanosecond = true }))
      local b = assert(tpp.pcap_writer(dir .. "/b.pcap", whole.linktype, { nanosecond = true }))
      local n = 0
      for p in tpp.packets(capture("mixed"), { bytes = true }) do
        n = n + 1;
        (n <= whole.packets // 2 and a or b):write_ns(p.ts_ns, p.bytes, p.wirelen)
      end
      assert(a:close() and b:close())
      local pa = assert(tpp.parse(dir .. "/a.pcap", { delta_t = DELTA, encap = "inner" }))
      local pb = assert(tpp.parse(dir .. "/b.pcap", { delta_t = DELTA, encap = "inner" }))
      assert.is_true(pa.encapsulated_packets > 0 and pb.encapsulated_packets > 0)
      local m = assert(tpp.merge { pb, pa })
      assert.are.same({ whole.encapsulated_packets, "inner" }, { m.encapsulated_packets, m.encap })
      assert.are.same(whole:column("tcp_port_packets"), m:column("tcp_port_packets"))
      local outer_b = assert(tpp.parse(dir .. "/b.pcap", { delta_t = DELTA }))
      local none, why = tpp.merge { pa, outer_b }
      assert.is_nil(none)
      assert.is_truthy(why:find("encap option differs", 1, true), why)
    end)
  end)

  describe("option encap", function()
    it("refuses a value it does not know", function()
      local ok, err = pcall(tpp.parse, capture("mixed"), { encap = "innermost" })
      assert.is_false(ok)
      assert.is_truthy(tostring(err):find("option encap must be one of outer, inner, got 'innermost'", 1, true), err)
    end)

    it("is --encap of the main job, whose dumps of the other encap are stale; --compat refuses --encap inner",
      function()
        local work = dir .. "/job"
        H.run("mkdir -p " .. H.shell_quote(work))
        H.run(("cp %s %s/mixed.pcap"):format(H.shell_quote(capture("mixed")), H.shell_quote(work)))
        local _, err, status = H.exec_in(work, "-f none --encap inner mixed.pcap")
        assert.are.equal(0, status, err)
        assert.are.equal("inner", assert(tpp.load(work .. "/mem_dump/mixed.tpd")).encap)
        _, err, status = H.exec_in(work, "-f none mixed.pcap")
        assert.are.equal(0, status, err)
        assert.is_truthy(err:find("(parsed)", 1, true), err)
        local d = assert(tpp.load(work .. "/mem_dump/mixed.tpd"))
        assert.are.same({ "outer", count("mixed", "tunnel") }, { d.encap, d.encapsulated_packets })
        _, err, status = H.exec_in(work, "-f none --compat --encap inner mixed.pcap")
        assert.are.equal(2, status)
        assert.is_truthy(err:find("--compat classifies packets as the original tool did, which conflicts with "
          .. "--encap inner", 1, true), err)
      end)
  end)
end)
