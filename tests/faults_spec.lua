-- Faults with defined outcomes (issue 7): broken and odd inputs, full or read-only disks, failing scripts.
-- What each outcome is, in words, is the "When things go wrong" section of the README.
local tpp = require "tpp"
local H = require "tests.helper"

local TPP = H.tpp_binary()
local q = H.shell_quote
local IS_ROOT = (H.run("id -u")):match("^0%s") ~= nil

local sh = H.sh -- stdout, stderr, exit status of a shell command

local function ls(dir) return (H.run("ls -A " .. q(dir))) end

-- Every column of interval i of r and of interval i of full are the same (NaN equal to NaN).
local function same_interval(r, full, i, what)
  local a, b = r:interval(i), full:interval(i)
  for name, v in pairs(b) do
    local w = a[name]
    if not (v == w or (v ~= v and w ~= w)) then
      error(("%s: interval %d, column %s: %s, the full parse says %s"):format(what, i, name, tostring(w), tostring(v)), 2)
    end
  end
end

-- A capture with some variety in it: 48 packets over ~10 s, IPv4 and IPv6, TCP, UDP and ICMP, many addresses.
local function varied_packets()
  local list = {}
  for i = 0, 47 do
    local src, dst = ("10.0.%d.%d"):format(i % 3, i % 7 + 1), ("192.168.1.%d"):format(i % 5 + 1)
    local data
    if i % 6 == 0 then data = H.eth6_udp("2001:db8::" .. (i % 4 + 1), "2001:db8::ff", 5000 + i, 53, ("q"):rep(i))
    elseif i % 6 == 1 then data = H.eth4_icmp(src, dst, 8, 0, "\0\1\0\1")
    elseif i % 2 == 0 then data = H.eth4_udp(src, dst, 1000 + i % 9, 53, ("u"):rep(i % 13))
    else data = H.eth4_tcp(src, dst, 40000 + i, 80 + i % 3, (i % 5 == 0) and H.SYN or H.ACK, ("t"):rep(i % 17)) end
    list[#list + 1] = { ts_ns = H.T0 + i * 210000000 + (i * 7919) % 100000, data = data }
  end
  return list
end

describe("faults", function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rmtree(dir) end)

  describe("a truncated capture", function()
    -- Byte offsets where records (pcap) or blocks (pcapng) end, for the file tpp.pcap_writer makes of `packets`.
    local function record_ends(format, packets)
      local ends, pos = {}, format == "pcap" and 24 or 60
      for _, p in ipairs(packets) do
        pos = pos + (format == "pcap" and 16 + #p.data or 32 + #p.data + (4 - #p.data % 4) % 4)
        ends[#ends + 1] = pos
      end
      return ends
    end

    -- The offsets to cut at: every byte of the headers, then a stride, and each record end and its neighbours.
    local function cuts(size, ends)
      local set, list = {}, {}
      for c = 0, math.min(size - 1, 100) do set[c] = true end
      for c = 101, size - 1, 11 do set[c] = true end
      for _, e in ipairs(ends or {}) do
        for c = e - 1, e + 1 do if c < size then set[c] = true end end
      end
      for c in pairs(set) do list[#list + 1] = c end
      table.sort(list)
      return list
    end

    for _, format in ipairs { "pcap", "pcapng", "pcap.gz" } do
      it(("keeps the intervals before a cut at any byte (%s)"):format(format), function()
        local packets = varied_packets()
        local full_path = H.write_capture(dir .. "/full." .. format, "ethernet", packets,
          { format = format == "pcapng" and "pcapng" or "pcap", gzip = format == "pcap.gz" })
        local bytes = H.read_file(full_path)
        local plain = format ~= "pcap.gz"
        local ends = plain and record_ends(format, packets) or nil
        if plain then assert.are.equal(#bytes, ends[#ends]) end
        local header = format == "pcap" and 24 or 60 -- file header / section + interface blocks
        local full = {}
        for _, mode in ipairs { "aligned", "packet" } do
          full[mode] = assert(tpp.parse(full_path, { delta_t = 1, boundary = mode }))
          assert.is_true(full[mode].complete)
        end
        assert.is_true(#full.packet >= 8)

        local path = dir .. "/cut." .. format
        local seen = { aligned = -1, packet = -1 } -- packets read at the previous cut (-1: refused)
        for _, cut in ipairs(cuts(#bytes, ends)) do
          H.write_file(path, bytes:sub(1, cut))
          local whole = 0 -- records wholly before the cut
          for k, e in ipairs(ends or {}) do if e <= cut then whole = k end end
          for _, mode in ipairs { "aligned", "packet" } do
            local what = ("%s cut at byte %d (%s)"):format(format, cut, mode)
            local r, err = tpp.parse(path, { delta_t = 1, boundary = mode })
            if not r then
              -- Refused only while the file header itself is incomplete (for gzip: not yet inflated), with the
              -- file's name and a reason.
              assert(cut < header or not plain and seen[mode] < 0 and cut < 250, what .. ": refused: " .. tostring(err))
              assert(err:sub(1, #path + 2) == path .. ": ", what .. ": " .. err)
              assert(err:find(cut == 0 and "empty file" or "trunc") or err:find("not a pcap")
                or err:find("Interface Description") or err:find("gzip"), what .. ": " .. err)
            else
              local at_boundary = plain and (cut == header or whole > 0 and ends[whole] == cut)
              if at_boundary then
                -- A cut exactly between records cannot be told from the end of the file.
                assert(r.complete, what .. ": " .. tostring(r.error))
              else
                assert(r.complete == false, what .. ": complete")
                assert(type(r.error) == "string", what)
                assert(r.error:find("truncated") or r.error:find("unexpected end"), what .. ": " .. r.error)
                local near = tonumber(r.error:match("near byte (%d+)"))
                assert(near, what .. ": no offset in " .. r.error)
                if plain then assert(near <= cut, what .. ": " .. r.error) end
              end
              if plain then assert.are.equal(whole, r.packets, what) end
              -- gzip: what inflated before the cut is read; without just the 8-byte trailer, every packet is.
              assert(r.packets >= seen[mode], what .. ": fewer packets than a shorter cut gave")
              if not plain and cut >= #bytes - 8 then assert.are.equal(#packets, r.packets, what) end
              seen[mode] = r.packets
              assert(r.packets <= full[mode].packets, what)
              assert(#r <= #full[mode], what)
              -- Packet mode: every interval closed before the cut; aligned: all but the last, which the cut may
              -- have ended early.
              local n = mode == "packet" and #r or #r - 1
              for i = 1, n do same_interval(r, full[mode], i, what) end
              if #r > 0 then assert.are.equal(full[mode]:interval(#r).start, r:interval(#r).start, what) end
            end
          end
        end
      end)
    end

    it("is reported by tpp.packets as an error naming the file", function()
      local full = H.write_capture(dir .. "/full.pcap", "ethernet", varied_packets())
      local bytes = H.read_file(full)
      local path = H.write_file(dir .. "/cut.pcap", bytes:sub(1, #bytes - 5))
      local n = 0
      local ok, err = pcall(function() for _ in tpp.packets(path) do n = n + 1 end end)
      assert.is_false(ok)
      assert.truthy(tostring(err):find(path .. ": truncated", 1, true))
      assert.are.equal(47, n)
    end)
  end)

  describe("a file that is not a capture", function()
    it("is refused when empty", function()
      local path = H.write_file(dir .. "/empty.pcap", "")
      local r, err = tpp.parse(path)
      assert.is_nil(r)
      assert.are.equal(path .. ": empty file (0 bytes), not a capture", err)
    end)

    it("is refused when it is a directory named x.pcap", function()
      local path = dir .. "/x.pcap"
      assert(os.execute("mkdir " .. q(path)))
      local r, err = tpp.parse(path)
      assert.is_nil(r)
      assert.are.equal(path .. ": is a directory", err)
      assert.has_error(function() for _ in tpp.packets(path) do end end, path .. ": is a directory")
      r, err = tpp.load(path)
      assert.is_nil(r)
      assert.are.equal(path .. ": is a directory", err)
    end)

    it("is refused when it holds something else", function()
      local path = H.write_file(dir .. "/notes.pcap", "these are not packets\n")
      local r, err = tpp.parse(path)
      assert.is_nil(r)
      assert.are.equal(path .. ": not a pcap or pcapng capture", err)
      local gz = dir .. "/notes.pcap.gz"
      assert(os.execute("gzip -c " .. q(path) .. " > " .. q(gz)))
      r, err = tpp.parse(gz)
      assert.is_nil(r)
      assert.truthy(err:find(gz .. ": not a pcap or pcapng capture", 1, true))
    end)

    it("is refused when missing", function()
      local r, err = tpp.parse(dir .. "/missing.pcap")
      assert.is_nil(r)
      assert.are.equal(dir .. "/missing.pcap: No such file or directory", err)
    end)

    -- chmod 000 does not stop root: as root, the check runs as user nobody (setpriv).
    it("is refused when unreadable", function()
      local path = H.write_capture(dir .. "/secret.pcap", "ethernet", varied_packets())
      assert(os.execute("chmod 000 " .. q(path) .. " && chmod 755 " .. q(dir)))
      local code = ("local r, err = require('tpp').parse(%q) io.write(tostring(r), '|', tostring(err))"):format(path)
      local cmd = TPP .. " -e " .. q(code)
      if IS_ROOT then
        if not os.execute("setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null") then
          pending("running as root and setpriv cannot drop to user nobody: an unreadable file cannot be made")
          return
        end
        cmd = "setpriv --reuid=65534 --regid=65534 --clear-groups " .. cmd
      end
      local out, err, status = sh(cmd)
      assert.are.equal(0, status, err)
      assert.are.equal("nil|" .. path .. ": Permission denied", out)
    end)
  end)

  describe("an unsupported link type", function()
    it("is parsed with a warning, its packets counted as non-IP", function()
      local packets = {}
      for i = 0, 4 do packets[#packets + 1] = { ts_ns = H.T0 + i * H.NS // 2, data = H.eth_ip(H.ipv4("10.0.0.1", "10.0.0.2", 17, H.udp(1, 2))) } end
      local path = H.write_capture(dir .. "/user0.pcap", H.LINKTYPE.USER0, packets)
      local r = assert(tpp.parse(path, { delta_t = 1 }))
      assert.is_true(r.complete)
      assert.are.equal(147, r.linktype)
      assert.are.equal("link type user 0 (147) is not decoded: its 5 packets count as non-IP", r.warning)
      assert.are.same({ 5, 0, 5 }, { r.packets, r.ip_packets, r.non_ip_packets })
      assert.are.same({ 2, 2, 1 }, r:column("packets"))
      assert.are.same({ 0, 0, 0 }, r:column("ip_packets"))
      local n = 0
      for p in tpp.packets(path) do n = n + 1; assert.is_nil(p.ipv); assert.are.equal(147, p.linktype) end
      assert.are.equal(5, n)
    end)
  end)

  describe("timestamps going backwards", function()
    local function udp(i) return H.eth4_udp("10.0.0." .. i, "10.9.9.9", 1000 + i, 53) end
    local function at(list) -- list of { seconds after T0, packet number }
      local packets = {}
      for _, e in ipairs(list) do packets[#packets + 1] = { ts_ns = H.T0 + math.floor(e[1] * 1e9 + 0.5), data = udp(e[2]) } end
      return packets
    end

    it("are counted in the current interval with the IAT clamped at 0, and counted", function()
      local path = H.write_capture(dir .. "/back.pcap", "ethernet", at { { 0, 1 }, { 0.5, 2 }, { 0.2, 3 }, { 0.6, 4 }, { 1.5, 5 } })
      local r = assert(tpp.parse(path, { delta_t = 1 }))
      assert.are.equal(1, r.backwards_packets)
      assert.are.same({ 4, 1 }, r:column("packets"))
      -- IATs of interval 0: 0.5, -0.3 clamped to 0, 0.4 (the capture's first packet has none).
      local mean, std, skew, kurt = H.ref.moments { 0.5, 0, 0.4 }
      local iv = r:interval(1)
      H.assert_close(iv.iat_mean, mean, 1e-9, "iat_mean")
      H.assert_close(iv.iat_std, std, 1e-9, "iat_std")
      H.assert_close(iv.iat_skew, skew, 1e-6, "iat_skew")
      H.assert_close(iv.iat_kurt, kurt, 1e-6, "iat_kurt")
      H.assert_close(r:interval(2).iat_mean, 0.9, 1e-9, "iat_mean of interval 1")
      assert.are.equal(4, r:interval(1).src_ips)

      local p = assert(tpp.parse(path, { delta_t = 1, boundary = "packet" }))
      assert.are.equal(1, p.backwards_packets)
      assert.are.same({ 5 }, p:column("packets"))
      -- the original tool's conventions: the first packet's IAT is 0 and the backward step stays negative
      H.assert_close(p:interval(1).iat_mean, (0 + 0.5 - 0.3 + 0.4 + 0.9) / 5, 1e-9, "iat_mean, packet mode")
    end)

    it("stay in the current interval even when earlier than its start", function()
      local path = H.write_capture(dir .. "/back.pcap", "ethernet", at { { 0, 1 }, { 1.2, 2 }, { 0.3, 3 }, { 1.4, 4 } })
      local r = assert(tpp.parse(path, { delta_t = 1 }))
      assert.are.equal(1, r.backwards_packets)
      assert.are.same({ 1, 3 }, r:column("packets"))
      H.assert_close(r:interval(2).iat_mean, (1.2 + 0 + 1.1) / 3, 1e-9, "iat_mean")
      H.assert_time(r:interval(2).start, H.T0 + H.NS, "start")
      local p = assert(tpp.parse(path, { delta_t = 1, boundary = "packet" }))
      assert.are.same({ 2 }, p:column("packets"))
      assert.are.equal(1, p.backwards_packets)
      assert.are.equal(H.T0 + 1400000000, p.last_ns)
    end)
  end)

  describe("odd record lengths", function()
    local function pcap_header(snaplen) return string.pack("<I4I2I2i4I4I4I4", 0xa1b2c3d4, 2, 4, 0, 0, snaplen, 1) end
    local function record(sec, caplen, wirelen, data) return string.pack("<I4I4I4I4", sec, 0, caplen, wirelen) .. data end
    local frame = H.eth4_udp("10.0.0.1", "10.0.0.2", 1000, 53, ("y"):rep(100))

    it("cuts a record longer than the snaplen to the snaplen, and counts it", function()
      local path = H.write_file(dir .. "/snap.pcap", pcap_header(64) .. record(1700000000, #frame, #frame, frame)
        .. record(1700000001, #frame, #frame, frame))
      local r = assert(tpp.parse(path, { delta_t = 1 }))
      assert.is_true(r.complete)
      assert.are.same({ 2, 2 }, { r.packets, r.ip_packets })
      for p in tpp.packets(path) do
        assert.are.same({ 64, #frame, 1000, 53 }, { p.caplen, p.wirelen, p.sport, p.dport })
      end
    end)

    it("accepts a caplen above the wire length", function()
      local path = H.write_file(dir .. "/wire.pcap", pcap_header(65535) .. record(1700000000, #frame, 60, frame))
      local r = assert(tpp.parse(path))
      assert.is_true(r.complete)
      assert.are.equal(1, r.ip_packets)
    end)

    for _, caplen in ipairs { 300000, 0x7fffffff, 0xfffffff0 } do
      it(("stops at a caplen of %d with the packets before it kept"):format(caplen), function()
        local path = H.write_file(dir .. "/huge.pcap", pcap_header(65535) .. record(1700000000, #frame, #frame, frame)
          .. record(1700000001, caplen, caplen, frame))
        local r = assert(tpp.parse(path, { delta_t = 1 }))
        assert.is_false(r.complete)
        -- the position is where the bad record starts
        assert.are.equal(("invalid packet capture length %d, bigger than the maximum of 262144 (near byte %d)")
          :format(caplen, 24 + 16 + #frame), r.error)
        assert.are.same({ 1, 1 }, { r.packets, #r })
      end)
    end
  end)

  describe("pcapng blocks with bad lengths", function()
    local function pad4(s) return s .. ("\0"):rep((4 - #s % 4) % 4) end
    local function block(t, body, len, trail)
      body = pad4(body)
      len = len or 12 + #body
      return string.pack("<I4I4", t, len) .. body .. string.pack("<I4", trail or len)
    end
    local SHB_BODY = string.pack("<I4I2I2i8", 0x1A2B3C4D, 1, 0, -1)
    local shb = block(0x0A0D0D0A, SHB_BODY)
    local idb = block(1, string.pack("<I2I2I4", 1, 0, 65535))
    local frame = H.eth4_udp("10.0.0.1", "10.0.0.2", 1000, 53, "x")
    local function epb(sec, caplen, len, trail)
      local us = sec * 1000000
      return block(6, string.pack("<I4I4I4I4I4", 0, us >> 32, us & 0xffffffff, caplen or #frame, #frame) .. pad4(frame), len, trail)
    end
    local good = epb(1700000000)

    local broken = {
      { "a block length below 12", epb(1700000001, nil, 8), "has a length of 8, less than 12" },
      { "a block length of 0", epb(1700000001, nil, 0), "has a length of 0, less than 12" },
      { "a block length not a multiple of 4", epb(1700000001, nil, 33), "not a multiple of 4" },
      { "a huge block length", epb(1700000001, nil, 0xfffffffc), "has a length of 4294967292, more than the largest block allowed" },
      { "header and trailer lengths that differ", epb(1700000001, nil, nil, 12) .. good, "has a length of 76 but a trailing length of 12" },
      { "a caplen beyond its block", epb(1700000001, 1000), "captured length 1000 goes past the block's 44 bytes of data" },
      { "a huge caplen", epb(1700000001, 0xfffffff0), "invalid packet capture length 4294967280" },
    }
    for _, case in ipairs(broken) do
      it(("stops at %s with the packets before it kept"):format(case[1]), function()
        local path = H.write_file(dir .. "/bad.pcapng", shb .. idb .. good .. case[2])
        local r = assert(tpp.parse(path, { delta_t = 1 }))
        assert.is_false(r.complete)
        assert.truthy(r.error:find(case[3], 1, true), r.error)
        assert.truthy(r.error:find("%(near byte %d+%)$"), r.error)
        assert.are.same({ 1, 1 }, { r.packets, #r })
      end)
    end

    it("refuses a file whose first blocks are broken", function()
      for _, bytes in ipairs {
        block(0x0A0D0D0A, SHB_BODY, 8) .. idb .. good,
        block(0x0A0D0D0A, SHB_BODY, 0x7ffffff0) .. idb .. good,
        shb .. block(1, string.pack("<I2I2I4", 1, 0, 65535), 12) .. good,
        shb .. good,
      } do
        local path = H.write_file(dir .. "/bad.pcapng", bytes)
        local r, err = tpp.parse(path)
        assert.is_nil(r)
        assert.are.equal(path .. ": ", err:sub(1, #path + 2))
        assert.is_true(#err > #path + 10)
      end
    end)
  end)

  describe("outputs", function()
    local r
    before_each(function()
      r = assert(tpp.parse(H.write_capture(dir .. "/in.pcap", "ethernet", varied_packets()), { delta_t = 0.01 }))
    end)

    it("are not written into a missing directory", function()
      local ok, err = r:write_critical(dir .. "/no/such/dir/c.tsv")
      assert.is_nil(ok)
      assert.are.equal(dir .. "/no/such/dir/c.tsv: cannot create: No such file or directory", err)
      ok, err = r:dump(dir .. "/no/such/dir/c.tpd")
      assert.is_nil(ok)
      assert.are.equal(dir .. "/no/such/dir/c.tpd: cannot create: No such file or directory", err)
    end)

    it("never replace a read-only file (an input, say)", function()
      local path = H.write_file(dir .. "/keep.tsv", "precious\n")
      assert(os.execute("chmod 444 " .. q(path)))
      local ok, err = r:write_critical(path)
      assert.is_nil(ok)
      assert.are.equal(path .. ": cannot write: the file is read-only (tpp does not replace it)", err)
      ok = r:dump(path)
      assert.is_nil(ok)
      local w, w_err = tpp.pcap_writer(path, "ethernet")
      assert.is_nil(w)
      assert.truthy(w_err:find("read-only", 1, true))
      assert.are.equal("precious\n", H.read_file(path))
      assert.are.equal("in.pcap\nkeep.tsv\n", ls(dir))
    end)

    it("never replace a directory, a device or a FIFO", function()
      assert(os.execute("mkdir " .. q(dir .. "/d") .. " && mkfifo " .. q(dir .. "/fifo")))
      local ok, err = r:write_critical(dir .. "/d")
      assert.is_nil(ok)
      assert.are.equal(dir .. "/d: cannot write: is a directory", err)
      ok, err = r:dump(dir .. "/fifo")
      assert.is_nil(ok)
      assert.are.equal(dir .. "/fifo: cannot write: not a regular file", err)
      if IS_ROOT and os.execute("mknod " .. q(dir .. "/null") .. " c 1 3") then
        -- Renaming over a device node would put a regular file in its place (think of /dev/null).
        ok, err = r:dump(dir .. "/null")
        assert.is_nil(ok)
        assert.are.equal(dir .. "/null: cannot write: not a regular file", err)
        assert.truthy((H.run("stat -c %F " .. q(dir .. "/null"))):find("character special file"))
      end
      assert.are.equal("d\nfifo\nin.pcap\n" .. (IS_ROOT and "null\n" or ""), ls(dir))
    end)

    -- A full disk: a 64 KB tmpfs (mounting needs root; CI runs as root).
    describe("on a full disk", function()
      local mnt
      before_each(function()
        mnt = dir .. "/full"
        assert(os.execute("mkdir " .. q(mnt)))
        if not os.execute("mount -t tmpfs -o size=64k tmpfs " .. q(mnt) .. " 2>/dev/null") then mnt = nil end
      end)
      after_each(function()
        if mnt then os.execute("umount " .. q(mnt)) end
      end)

      it("fail with a message and leave no partial or temporary file", function()
        if not mnt then
          pending("cannot mount a small tmpfs here (not root?): the full-disk case is not exercised")
          return
        end
        r = assert(tpp.parse(dir .. "/in.pcap", { delta_t = 1 })) -- a result whose outputs fit in 64 KB
        H.write_file(mnt .. "/old.tsv", "the previous output\n")
        os.execute("dd if=/dev/zero of=" .. q(mnt .. "/filler") .. " bs=4096 2>/dev/null")
        local ok, err = r:write_critical(mnt .. "/new.tsv")
        assert.is_nil(ok)
        assert.are.equal(mnt .. "/new.tsv: write failed: No space left on device", err)
        ok, err = r:write_critical(mnt .. "/old.tsv")
        assert.is_nil(ok)
        ok, err = r:dump(mnt .. "/new.tpd")
        assert.is_nil(ok)
        assert.are.equal(mnt .. "/new.tpd: cannot write: No space left on device", err)
        local w = assert(tpp.pcap_writer(mnt .. "/new.pcap", "ethernet"))
        local big = ("z"):rep(60000)
        local wrote = pcall(function() for i = 1, 10 do w:write(1700000000 + i, big) end end)
        local closed, cerr = w:close()
        assert.is_nil(closed)                          -- a failure of the world: nil and the reason, as f:close()
        assert.truthy(cerr:find(mnt .. "/new.pcap", 1, true))
        -- Nothing new, and the previous output as it was.
        assert.are.equal("filler\nold.tsv\n", ls(mnt))
        assert.are.equal("the previous output\n", H.read_file(mnt .. "/old.tsv"))
        -- With room again, the same calls succeed.
        os.remove(mnt .. "/filler")
        assert(r:write_critical(mnt .. "/new.tsv"))
        assert(r:dump(mnt .. "/new.tpd"))
        assert.are.equal("new.tpd\nnew.tsv\nold.tsv\n", ls(mnt))
      end)
    end)

    it("fail on a read-only file system, leaving nothing", function()
      local mnt = dir .. "/ro"
      assert(os.execute("mkdir " .. q(mnt)))
      if not os.execute("mount -t tmpfs -o size=64k,ro tmpfs " .. q(mnt) .. " 2>/dev/null") then
        pending("cannot mount a read-only tmpfs here (not root?)")
        return
      end
      finally(function() os.execute("umount " .. q(mnt)) end)
      local ok, err = r:write_critical(mnt .. "/c.tsv")
      assert.is_nil(ok)
      assert.are.equal(mnt .. "/c.tsv: cannot create: Read-only file system", err)
      ok, err = r:dump(mnt .. "/c.tpd")
      assert.is_nil(ok)
      assert.are.equal(mnt .. "/c.tpd: cannot create: Read-only file system", err)
      assert.are.equal("", ls(mnt))
    end)

    it("fail in a directory the user may not write to, leaving nothing", function()
      local out = dir .. "/locked"
      assert(os.execute("mkdir " .. q(out) .. " && chmod 555 " .. q(out) .. " && chmod 755 " .. q(dir)))
      local dump = dir .. "/r.tpd"
      assert(r:dump(dump))
      assert(os.execute("chmod 644 " .. q(dump)))
      local code = ("local r = assert(require('tpp').load(%q)) io.write(tostring(select(2, r:write_critical(%q))))")
        :format(dump, out .. "/c.tsv")
      local cmd = TPP .. " -e " .. q(code)
      if IS_ROOT then
        if not os.execute("setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null") then
          pending("running as root and setpriv cannot drop to user nobody: permissions do not apply")
          return
        end
        cmd = "setpriv --reuid=65534 --regid=65534 --clear-groups " .. cmd
      end
      local stdout, stderr, status = sh(cmd)
      assert.are.equal(0, status, stderr)
      assert.are.equal(out .. "/c.tsv: cannot create: Permission denied", stdout)
      assert.are.equal("", ls(out))
    end)
  end)

  describe("a Lua error in a user script", function()
    -- Write `files` into the temporary directory and run `tpp main` there.
    local function run(files, main)
      for name, text in pairs(files) do H.write_file(dir .. "/" .. name, text) end
      local tpp_path = TPP
      if tpp_path:sub(1, 1) ~= "/" then tpp_path = (H.run("pwd"):gsub("%s+$", "")) .. "/" .. tpp_path:gsub("^%./", "") end
      return sh("cd " .. q(dir) .. " && " .. q(tpp_path) .. " " .. main)
    end

    it("is reported with its file and line, exit status 1", function()
      local _, err, status = run({ ["s.lua"] = "local t = {}\nlocal x = 1\nprint(t.a.b)\n" }, "s.lua")
      assert.are.equal(1, status)
      assert.truthy(err:match("^tpp: s%.lua:3: attempt to index a nil value"), err)
      assert.truthy(err:find("stack traceback:", 1, true))
    end)

    it("is reported for a syntax error with its file and line, exit status 1", function()
      local _, err, status = run({ ["s.lua"] = "print(1)\n\nlocal = 3\n" }, "s.lua")
      assert.are.equal(1, status)
      assert.truthy(err:match("^tpp: s%.lua:3: .*near"), err)
    end)

    it("is reported with the config file's name and line when a loaded config fails", function()
      local files = {
        ["conf.lua"] = "delta_t = 10\nboundary = 'aligned' ..\n",
        ["conf2.lua"] = "delta_t = 10\nlocal x = nil + 1\n",
        ["s.lua"] = "dofile(arg[1])\nprint('not reached')\n",
      }
      local out, err, status = run(files, "s.lua conf.lua")
      assert.are.equal(1, status)
      assert.are.equal("", out)
      assert.truthy(err:match("^tpp: conf%.lua:%d: "), err)
      out, err, status = run(files, "s.lua conf2.lua")
      assert.are.equal(1, status)
      assert.truthy(err:match("^tpp: conf2%.lua:2: attempt to perform arithmetic on a nil value"), err)
    end)

    it("is reported for a non-string error object, exit status 1", function()
      local _, err, status = run({ ["s.lua"] = "error({ code = 7 })\n" }, "s.lua")
      assert.are.equal(1, status)
      assert.truthy(err:match("^tpp: %(error object is a table value%)"), err)
    end)

    it("raised in a tpp.parse progress callback stops the parse and is reported", function()
      local cap = H.write_capture(dir .. "/c.pcap", "ethernet", (function()
        local list = {}
        for i = 1, 70000 do list[i] = { ts_ns = H.T0 + i * 1000, data = H.eth4_udp("10.0.0.1", "10.0.0.2", 1, 2) } end
        return list
      end)())
      local _, err, status = run({ ["s.lua"] = ("local tpp = require 'tpp'\ntpp.parse(%q, nil, function()\n  error('stop here')\nend)\n"):format(cap) }, "s.lua")
      assert.are.equal(1, status)
      assert.truthy(err:match("^tpp: s%.lua:3: stop here"), err)
    end)
  end)
end)
