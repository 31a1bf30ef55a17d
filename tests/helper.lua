-- tests/helper.lua — byte builders for hand-made packets, capture files and reference arithmetic for the specs.
--
--   local H = dofile(debug.getinfo(1, "S").source:match("^@(.*[/\\])") .. "helper.lua")
--   -- or, with tests/ on package.path: local H = require "helper"
--
-- Everything here is independent of tpp's own code except write_capture (which uses tpp.pcap_writer, the thing the
-- specs are told to build captures with).  All multi-byte fields are big-endian (network order) unless said.
-- The module defines no globals.

local H = {}

---------------------------------------------------------------------------------------------------------------
-- Constants
---------------------------------------------------------------------------------------------------------------

H.ETH_IPV4, H.ETH_IPV6, H.ETH_ARP = 0x0800, 0x86dd, 0x0806
H.ETH_VLAN, H.ETH_QINQ = 0x8100, 0x88a8

H.PROTO_HOPOPT, H.PROTO_ICMP, H.PROTO_TCP, H.PROTO_UDP = 0, 1, 6, 17
H.PROTO_ROUTING, H.PROTO_FRAGMENT, H.PROTO_ICMPV6, H.PROTO_NONE, H.PROTO_DSTOPTS = 43, 44, 58, 59, 60
H.PROTO_GRE = 47

H.FIN, H.SYN, H.RST, H.PSH, H.ACK, H.URG = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20

H.LINKTYPE = { NULL = 0, ETHERNET = 1, RAW = 101, LOOP = 108, SLL = 113, USER0 = 147, IPV4 = 228, IPV6 = 229,
               SLL2 = 276 }

H.AF_INET = 2
H.AF_INET6 = { 24, 28, 30 }   -- NetBSD/OpenBSD, FreeBSD, Darwin

H.NS = 1000000000             -- one second in nanoseconds
H.T0 = 1700000000 * H.NS      -- a plausible epoch base for timestamps (integer nanoseconds)

---------------------------------------------------------------------------------------------------------------
-- Addresses
---------------------------------------------------------------------------------------------------------------

-- "10.0.0.1" -> 4 bytes
function H.ip4(text)
    local a, b, c, d = text:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
    assert(a, "bad IPv4 address: " .. tostring(text))
    a, b, c, d = tonumber(a), tonumber(b), tonumber(c), tonumber(d)
    assert(a < 256 and b < 256 and c < 256 and d < 256, "bad IPv4 address: " .. text)
    return string.char(a, b, c, d)
end

-- "2001:db8::1" (also "::ffff:10.0.0.1") -> 16 bytes
function H.ip6(text)
    local groups = {}
    local function parse_part(part)
        local out = {}
        if part == "" then return out end
        for g in (part .. ":"):gmatch("([^:]*):") do
            if g:find("%.") then
                local v4 = H.ip4(g)
                out[#out + 1] = v4:byte(1) * 256 + v4:byte(2)
                out[#out + 1] = v4:byte(3) * 256 + v4:byte(4)
            else
                assert(g:match("^%x%x?%x?%x?$"), "bad IPv6 address: " .. text)
                out[#out + 1] = tonumber(g, 16)
            end
        end
        return out
    end
    local head, tail = text:match("^(.-)::(.*)$")
    if head then
        local h, t = parse_part(head), parse_part(tail)
        assert(#h + #t <= 7, "bad IPv6 address: " .. text)
        for _, v in ipairs(h) do groups[#groups + 1] = v end
        for _ = 1, 8 - #h - #t do groups[#groups + 1] = 0 end
        for _, v in ipairs(t) do groups[#groups + 1] = v end
    else
        groups = parse_part(text)
    end
    assert(#groups == 8, "bad IPv6 address: " .. text)
    return string.pack(">I2I2I2I2I2I2I2I2", table.unpack(groups))
end

-- Accept text or already-packed bytes.
local function addr4(a) return #a == 4 and a or H.ip4(a) end
local function addr6(a) return (#a == 16 and not a:match("^[%x:.]+$")) and a or H.ip6(a) end

-- "02:00:00:00:00:01" -> 6 bytes (or 6 bytes as they are)
function H.mac(text)
    if #text == 6 then return text end
    local b = {}
    for x in text:gmatch("%x%x") do b[#b + 1] = tonumber(x, 16) end
    assert(#b == 6, "bad MAC address: " .. text)
    return string.char(table.unpack(b))
end

H.MAC_A = H.mac("02:00:00:00:00:0a")
H.MAC_B = H.mac("02:00:00:00:00:0b")

---------------------------------------------------------------------------------------------------------------
-- Checksums
---------------------------------------------------------------------------------------------------------------

-- RFC 1071 Internet checksum of a byte string.
function H.checksum(bytes)
    local sum = 0
    local n = #bytes
    for i = 1, n - 1, 2 do
        sum = sum + bytes:byte(i) * 256 + bytes:byte(i + 1)
    end
    if n % 2 == 1 then sum = sum + bytes:byte(n) * 256 end
    while sum > 0xffff do sum = (sum & 0xffff) + (sum >> 16) end
    return (~sum) & 0xffff
end

---------------------------------------------------------------------------------------------------------------
-- Link layers
---------------------------------------------------------------------------------------------------------------

-- Ethernet II: dst, src (text or 6 bytes; nil = defaults), ethertype, payload.
function H.ethernet(dst, src, ethertype, payload)
    return H.mac(dst or H.MAC_B) .. H.mac(src or H.MAC_A) .. string.pack(">I2", ethertype) .. (payload or "")
end

-- The part of a frame after an 802.1Q / 802.1ad TPID: TCI (PCP 0, DEI 0, VLAN id) + inner ethertype + payload.
-- Compose: H.ethernet(d, s, H.ETH_VLAN, H.vlan(10, H.ETH_IPV4, ip))
function H.vlan(vid, ethertype, payload)
    return string.pack(">I2I2", vid & 0x0fff, ethertype) .. (payload or "")
end

-- A whole Ethernet frame with one 802.1Q tag.
function H.ethernet_vlan(vid, ethertype, payload)
    return H.ethernet(nil, nil, H.ETH_VLAN, H.vlan(vid, ethertype, payload))
end

-- A whole Ethernet frame with QinQ: an 802.1ad (0x88a8) service tag outside an 802.1Q (0x8100) customer tag.
function H.ethernet_qinq(outer_vid, inner_vid, ethertype, payload)
    return H.ethernet(nil, nil, H.ETH_QINQ, H.vlan(outer_vid, H.ETH_VLAN, H.vlan(inner_vid, ethertype, payload)))
end

-- Linux cooked capture v1 (LINKTYPE_LINUX_SLL, 113): 16-byte header, protocol at offset 14.
-- opts: pkttype (0 = to us), hatype (1 = ARPHRD_ETHER), addr (up to 8 bytes).
function H.sll(protocol, payload, opts)
    opts = opts or {}
    local addr = opts.addr or H.MAC_A
    local hdr = string.pack(">I2I2I2", opts.pkttype or 0, opts.hatype or 1, #addr)
        .. addr .. string.rep("\0", 8 - #addr) .. string.pack(">I2", protocol)
    assert(#hdr == 16)
    return hdr .. (payload or "")
end

-- Linux cooked capture v2 (LINKTYPE_LINUX_SLL2, 276): 20-byte header, protocol at offset 0.
function H.sll2(protocol, payload, opts)
    opts = opts or {}
    local addr = opts.addr or H.MAC_A
    local hdr = string.pack(">I2I2I4I2BB", protocol, 0, opts.ifindex or 1, opts.hatype or 1, opts.pkttype or 0,
        #addr) .. addr .. string.rep("\0", 8 - #addr)
    assert(#hdr == 20)
    return hdr .. (payload or "")
end

-- BSD null/loopback (LINKTYPE_NULL, 0): 4-byte address family in the writing host's byte order.
function H.null(family, payload)
    return string.pack("=I4", family) .. (payload or "")
end

-- OpenBSD loopback (LINKTYPE_LOOP, 108): 4-byte address family in network byte order.
function H.loop(family, payload)
    return string.pack(">I4", family) .. (payload or "")
end

---------------------------------------------------------------------------------------------------------------
-- IP
---------------------------------------------------------------------------------------------------------------

-- IPv4 header + payload, with a correct header checksum.
-- opts: ttl (64), id (0), tos (0), frag_offset (in 8-byte units, the header field), more_fragments (bool),
--       dont_fragment (bool), options (bytes, zero-padded to a multiple of 4; IHL grows with it),
--       total_length (override of the total-length field).
function H.ipv4(src, dst, proto, payload, opts)
    opts = opts or {}
    payload = payload or ""
    local options = opts.options or ""
    if #options % 4 ~= 0 then options = options .. string.rep("\0", 4 - #options % 4) end
    local ihl = 5 + #options // 4
    assert(ihl <= 15, "IPv4 options too long")
    local total = opts.total_length or (ihl * 4 + #payload)
    local frag = (opts.frag_offset or 0) & 0x1fff
    if opts.more_fragments then frag = frag | 0x2000 end
    if opts.dont_fragment then frag = frag | 0x4000 end
    local function header(csum)
        return string.pack(">BBI2I2I2BBI2", 0x40 | ihl, opts.tos or 0, total, opts.id or 0, frag, opts.ttl or 64,
            proto, csum) .. addr4(src) .. addr4(dst) .. options
    end
    return header(H.checksum(header(0))) .. payload
end

-- One IPv6 extension header as bytes.  ext = { type = 0|43|44|60, ... }:
--   hop-by-hop (0) / destination options (60): len = total length in bytes (multiple of 8, >= 8; default 8),
--     filled with PadN options;
--   routing (43): segments (number of 16-byte addresses, default 1), routing_type (default 0), segments_left (0);
--   fragment (44): offset (8-byte units), more (bool), id.
-- `next` is the header that follows it.
function H.ipv6_ext(ext, next)
    local t = ext.type
    if t == H.PROTO_HOPOPT or t == H.PROTO_DSTOPTS then
        local len = ext.len or 8
        assert(len >= 8 and len % 8 == 0)
        local body = len - 2
        local opts = ""
        while body > 0 do                   -- PadN options (type 1), each at most 257 bytes; Pad1 for a 1-byte rest
            if body == 1 then
                opts, body = opts .. "\0", 0
            else
                local n = math.min(body - 2, 255)
                opts, body = opts .. string.char(1, n) .. string.rep("\0", n), body - 2 - n
            end
        end
        return string.char(next, len // 8 - 1) .. opts
    elseif t == H.PROTO_ROUTING then
        local segs = ext.segments or 1
        local addrs = {}
        for i = 1, segs do addrs[i] = H.ip6(string.format("2001:db8:ffff::%x", i)) end
        return string.char(next, 2 * segs, ext.routing_type or 0, ext.segments_left or 0) .. "\0\0\0\0"
            .. table.concat(addrs)
    elseif t == H.PROTO_FRAGMENT then
        local off = ((ext.offset or 0) & 0x1fff) << 3
        if ext.more then off = off | 1 end
        return string.pack(">BBI2I4", next, 0, off, ext.id or 0x12345678)
    else
        error("unsupported extension header type " .. tostring(t))
    end
end

-- IPv6 header + extension headers + payload.  `next_header` is the protocol of `payload` (the transport);
-- opts: ext (list of extension header specs, outermost first, see ipv6_ext), hop_limit (64),
--       payload_length (override), flow (0), traffic_class (0).
function H.ipv6(src, dst, next_header, payload, opts)
    opts = opts or {}
    payload = payload or ""
    local exts = opts.ext or {}
    local chain = ""
    local first = next_header
    for i = #exts, 1, -1 do                 -- build inside-out so each header knows what follows it
        chain = H.ipv6_ext(exts[i], first) .. chain
        first = exts[i].type
    end
    local plen = opts.payload_length or (#chain + #payload)
    local vtf = (6 << 28) | ((opts.traffic_class or 0) << 20) | (opts.flow or 0)
    return string.pack(">I4I2BB", vtf, plen, first, opts.hop_limit or 64) .. addr6(src) .. addr6(dst) .. chain
        .. payload
end

---------------------------------------------------------------------------------------------------------------
-- Transport
---------------------------------------------------------------------------------------------------------------

-- TCP header (20 bytes + options) + payload.  flags: byte (H.SYN | H.ACK ...).  Checksum left 0 (tpp does not
-- verify it).  opts: seq, ack, window, options (bytes, padded to 4).
function H.tcp(sport, dport, flags, payload, opts)
    opts = opts or {}
    local options = opts.options or ""
    if #options % 4 ~= 0 then options = options .. string.rep("\1", 4 - #options % 4) end  -- NOP padding
    local off = 5 + #options // 4
    return string.pack(">I2I2I4I4BBI2I2I2", sport, dport, opts.seq or 1, opts.ack or 0, off << 4, flags or 0,
        opts.window or 65535, 0, 0) .. options .. (payload or "")
end

-- UDP header + payload (checksum 0 = none).
function H.udp(sport, dport, payload)
    payload = payload or ""
    return string.pack(">I2I2I2I2", sport, dport, 8 + #payload, 0) .. payload
end

-- ICMP message with a correct checksum.  payload: the rest after the 4-byte type/code/checksum
-- (for an echo request that is identifier, sequence and data).
function H.icmp(type, code, payload)
    payload = payload or ""
    local csum = H.checksum(string.pack(">BBI2", type, code, 0) .. payload)
    return string.pack(">BBI2", type, code, csum) .. payload
end

-- ICMPv6 message (checksum 0: it needs the pseudo-header, and tpp does not verify it).
function H.icmpv6(type, code, payload)
    return string.pack(">BBI2", type, code, 0) .. (payload or "")
end

-- A minimal ARP request (a non-IP ethertype payload).
function H.arp()
    return string.pack(">I2I2BBI2", 1, 0x0800, 6, 4, 1) .. H.MAC_A .. H.ip4("10.0.0.1") .. string.rep("\0", 6)
        .. H.ip4("10.0.0.2")
end

-- Convenience: wrap an IP packet (v4 or v6, told by its version nibble) in Ethernet.
function H.eth_ip(ip)
    local v = ip:byte(1) >> 4
    return H.ethernet(nil, nil, v == 6 and H.ETH_IPV6 or H.ETH_IPV4, ip)
end

-- Convenience: an Ethernet/IPv4/TCP frame and friends.
function H.eth4_tcp(src, dst, sport, dport, flags, payload, ipopts)
    return H.eth_ip(H.ipv4(src, dst, H.PROTO_TCP, H.tcp(sport, dport, flags, payload), ipopts))
end
function H.eth4_udp(src, dst, sport, dport, payload, ipopts)
    return H.eth_ip(H.ipv4(src, dst, H.PROTO_UDP, H.udp(sport, dport, payload), ipopts))
end
function H.eth4_icmp(src, dst, type, code, payload, ipopts)
    return H.eth_ip(H.ipv4(src, dst, H.PROTO_ICMP, H.icmp(type, code, payload), ipopts))
end
function H.eth6_tcp(src, dst, sport, dport, flags, payload, ipopts)
    return H.eth_ip(H.ipv6(src, dst, H.PROTO_TCP, H.tcp(sport, dport, flags, payload), ipopts))
end
function H.eth6_udp(src, dst, sport, dport, payload, ipopts)
    return H.eth_ip(H.ipv6(src, dst, H.PROTO_UDP, H.udp(sport, dport, payload), ipopts))
end

---------------------------------------------------------------------------------------------------------------
-- Files
---------------------------------------------------------------------------------------------------------------

local function shell_quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
H.shell_quote = shell_quote

-- Run a shell command; returns its stdout, its stderr and its exit status.
function H.sh(cmd)
    local err = os.tmpname()
    local p = assert(io.popen(cmd .. " 2>" .. shell_quote(err), "r"))
    local out = p:read("a")
    local _, _, status = p:close()
    local e = H.read_file(err)
    os.remove(err)
    return out, e, status
end

-- Run a shell command; returns its stdout and whether it exited 0.
function H.run(cmd)
    local p = assert(io.popen(cmd, "r"))
    local out = p:read("a")
    local ok = p:close()
    return out, ok
end

-- A fresh temporary directory (mktemp -d); remove it with H.rmtree.
function H.tmpdir()
    local out, ok = H.run("mktemp -d " .. shell_quote((os.getenv("TMPDIR") or "/tmp") .. "/tpp-spec.XXXXXX"))
    assert(ok, "mktemp -d failed")
    return (out:gsub("%s+$", ""))
end

-- A fresh temporary file name (os.tmpname creates it, empty).
function H.tmpfile()
    return os.tmpname()
end

function H.rmtree(dir)
    assert(dir and dir:match("tpp%-spec"), "refusing to remove " .. tostring(dir))
    os.execute("rm -rf " .. shell_quote(dir))
end

function H.read_file(path)
    local f = assert(io.open(path, "rb"))
    local s = f:read("a")
    f:close()
    return s
end

function H.write_file(path, bytes)
    local f = assert(io.open(path, "wb"))
    f:write(bytes)
    assert(f:close())
    return path
end

-- Read a TSV: returns header (list of names), rows (list of lists of strings).
function H.read_tsv(path)
    local header, rows = nil, {}
    for line in io.lines(path) do
        local fields = {}
        for f in (line .. "\t"):gmatch("([^\t]*)\t") do fields[#fields + 1] = f end
        if not header then header = fields else rows[#rows + 1] = fields end
    end
    return header, rows
end

-- A TSV as its header and its rows keyed by column name.
function H.read_tsv_rows(path)
    local header, lists = H.read_tsv(path)
    local rows = {}
    for k, fields in ipairs(lists) do
        rows[k] = {}
        for c, name in ipairs(header) do rows[k][name] = fields[c] end
    end
    return header, rows
end

-- Write a capture with tpp.pcap_writer.  packets: list of { ts_ns = integer, data = bytes, wirelen = n? }
-- (or { ts = seconds, ... }).  opts go to the writer (format, nanosecond, gzip, snaplen).  Returns path.
function H.write_capture(path, linktype, packets, opts)
    local tpp = require "tpp"
    local w = assert(tpp.pcap_writer(path, linktype, opts))
    for _, p in ipairs(packets) do
        if p.ts_ns then
            w:write_ns(p.ts_ns, p.data, p.wirelen)
        else
            w:write(p.ts, p.data, p.wirelen)
        end
    end
    assert(w:close())
    return path
end

-- Path of the tpp binary under test (CLI specs).
function H.tpp_binary()
    local t = os.getenv("TPP")
    if t and t ~= "" then return t end
    return "./tpp"
end

-- The names in a directory, sorted, without "." and "..".
function H.list_dir(dir)
    local out = {}
    for name in require("lfs").dir(dir) do
        if name ~= "." and name ~= ".." then out[#out + 1] = name end
    end
    table.sort(out)
    return out
end

-- The checkout's root (specs run from it), and the tpp under test as an absolute path, for CLI specs that run it
-- from another directory.
H.ROOT = require("lfs").currentdir()
function H.tpp_absolute()
    local t = H.tpp_binary()
    return t:sub(1, 1) == "/" and t or H.ROOT .. "/" .. t
end

-- Run `tpp ARGS` (ARGS already quoted) in `dir`, ended after `timeout` seconds (default 20) should it hang:
-- stdout, stderr, exit status.
function H.tpp_in(dir, args, timeout)
    return H.sh(("cd %s && timeout %d %s %s"):format(shell_quote(dir), timeout or 20, shell_quote(H.tpp_absolute()),
                                                     args or ""))
end

-- Run the main job, `tpp scripts/exec.lua ARGS`, in `dir` (ARGS already quoted), with `env` assignments before it
-- when given: stdout, stderr, exit status.
function H.exec_in(dir, args, env)
    return H.sh(("cd %s && %s%s %s %s"):format(shell_quote(dir), env and (env .. " ") or "",
                                              shell_quote(H.tpp_absolute()),
                                              shell_quote(H.ROOT .. "/scripts/exec.lua"), args or ""))
end

---------------------------------------------------------------------------------------------------------------
-- pcapng blocks, byte by byte (independent of tpp.pcap_writer).  Little-endian unless big is true.
--   H.pcapng.shb{ big = true } .. H.pcapng.idb(1, { tsresol = 9 }) .. H.pcapng.epb(0, ts_units, frame)
---------------------------------------------------------------------------------------------------------------

H.pcapng = {}

local function pad4(s) return s .. ("\0"):rep((4 - #s % 4) % 4) end

-- Any block: type, body (padded to 4 bytes); opts.len and opts.trail override the two length fields.
function H.pcapng.block(type, body, opts)
    opts = opts or {}
    local e = opts.big and ">" or "<"
    body = pad4(body)
    local len = opts.len or 12 + #body
    return string.pack(e .. "I4I4", type, len) .. body .. string.pack(e .. "I4", opts.trail or len)
end

-- Section header block; opts: big, major (1), minor (0).
function H.pcapng.shb(opts)
    opts = opts or {}
    local e = opts.big and ">" or "<"
    return H.pcapng.block(0x0A0D0D0A, string.pack(e .. "I4I2I2i8", 0x1A2B3C4D, opts.major or 1, opts.minor or 0, -1),
        opts)
end

-- One option (code, value bytes), padded.
function H.pcapng.option(code, value, big)
    return string.pack((big and ">" or "<") .. "I2I2", code, #value) .. pad4(value)
end

-- Interface description block; opts: big, snaplen (65535), tsresol (the option's byte), tsoffset (seconds),
-- options (more option bytes).
function H.pcapng.idb(linktype, opts)
    opts = opts or {}
    local e = opts.big and ">" or "<"
    local options = opts.options or ""
    if opts.tsresol then options = options .. H.pcapng.option(9, string.char(opts.tsresol), opts.big) end
    if opts.tsoffset then options = options .. H.pcapng.option(14, string.pack(e .. "i8", opts.tsoffset), opts.big) end
    if options ~= "" then options = options .. H.pcapng.option(0, "", opts.big) end
    return H.pcapng.block(1, string.pack(e .. "I2I2I4", linktype, 0, opts.snaplen or 65535) .. options, opts)
end

-- Enhanced packet block: interface, timestamp in the interface's units (a 64-bit integer), frame bytes;
-- opts: big, caplen, wirelen, len, trail.
function H.pcapng.epb(iface, ts, data, opts)
    opts = opts or {}
    local e = opts.big and ">" or "<"
    return H.pcapng.block(6, string.pack(e .. "I4I4I4I4I4", iface, (ts >> 32) & 0xffffffff, ts & 0xffffffff,
        opts.caplen or #data, opts.wirelen or #data) .. pad4(data), opts)
end

-- Obsolete packet block (interface id of 16 bits, drops count).
function H.pcapng.pb(iface, ts, data, opts)
    opts = opts or {}
    local e = opts.big and ">" or "<"
    return H.pcapng.block(2, string.pack(e .. "I2I2I4I4I4I4", iface, 0, (ts >> 32) & 0xffffffff, ts & 0xffffffff,
        opts.caplen or #data, opts.wirelen or #data) .. pad4(data), opts)
end

-- Simple packet block: the wire length, then the captured bytes (as many as interface 0's snapshot length).
function H.pcapng.spb(data, wirelen, opts)
    opts = opts or {}
    return H.pcapng.block(3, string.pack((opts.big and ">" or "<") .. "I4", wirelen or #data) .. pad4(data), opts)
end

-- A classic pcap file by hand: header and records { sec, frac, data, wirelen? } as unsigned 32-bit fields.
-- opts: big, nano, linktype (1), snaplen (65535).
function H.pcap_bytes(records, opts)
    opts = opts or {}
    local e = opts.big and ">" or "<"
    local out = { string.pack(e .. "I4I2I2i4I4I4I4", opts.nano and 0xa1b23c4d or 0xa1b2c3d4, 2, 4, 0, 0,
        opts.snaplen or 65535, opts.linktype or 1) }
    for _, r in ipairs(records) do
        out[#out + 1] = string.pack(e .. "I4I4I4I4", r[1], r[2], #r[3], r[4] or #r[3]) .. r[3]
    end
    return table.concat(out)
end

---------------------------------------------------------------------------------------------------------------
-- Reference arithmetic, written from the issue's definitions (not from tpp's code)
---------------------------------------------------------------------------------------------------------------

H.ref = {}

-- IAT moments as the issue defines them: mean; sample std (n-1); population skewness m3/m2^1.5 and excess
-- kurtosis m4/m2^2 - 3 (scipy defaults), NaN when m2 <= (1e-15*mean)^2; all 0 when n <= 1.
function H.ref.moments(xs)
    local n = #xs
    if n <= 1 then return 0, 0, 0, 0 end
    local s = 0
    for _, x in ipairs(xs) do s = s + x end
    local mean = s / n
    local m2, m3, m4 = 0, 0, 0
    for _, x in ipairs(xs) do
        local d = x - mean
        m2, m3, m4 = m2 + d * d, m3 + d * d * d, m4 + d * d * d * d
    end
    local std = math.sqrt(m2 / (n - 1))
    m2, m3, m4 = m2 / n, m3 / n, m4 / n
    if m2 <= (1e-15 * mean) ^ 2 then return mean, std, 0 / 0, 0 / 0 end
    return mean, std, m3 / m2 ^ 1.5, m4 / (m2 * m2) - 3
end

-- counts: map key -> count.  Returns distinct, f2 (Σc²/n²), normalised entropy.
function H.ref.addr_stats(counts)
    local n, distinct, sq = 0, 0, 0
    for _, c in pairs(counts) do n, distinct, sq = n + c, distinct + 1, sq + c * c end
    if n == 0 then return 0, 0, 0 end
    local h = 0
    for _, c in pairs(counts) do
        local p = c / n
        h = h - p * math.log(p, 2)
    end
    local e = distinct <= 1 and 0 or h / math.log(distinct, 2)
    return distinct, sq / (n * n), e
end

-- The flat heavy hitters of one interval, from its counts: dims[dim][key] = { key, order, packets, bytes } (order:
-- a string that sorts as tpp orders equal keys: "4" or "6" then the address bytes, or the port in 5 digits) and
-- totals = { ip, tcp, udp } packets.  Returns dims ranked as docs/lua-api.md says (packets descending, bytes
-- descending, key ascending), at most `keep` each (nil: all), as r:heavy_hitters gives them.
function H.ref.ranked_hh(dims, totals, keep)
    local out = {}
    for dim, map in pairs(dims) do
        local list = {}
        for _, e in pairs(map) do list[#list + 1] = e end
        table.sort(list, function(a, b)
            if a.packets ~= b.packets then return a.packets > b.packets end
            if a.bytes ~= b.bytes then return a.bytes > b.bytes end
            return a.order < b.order
        end)
        local total = dim == "tcp_dport" and totals.tcp or dim == "udp_dport" and totals.udp or totals.ip
        out[dim] = {}
        for i = 1, math.min(#list, keep or #list) do
            local e = list[i]
            out[dim][i] = { key = e.key, packets = e.packets, bytes = e.bytes, share = e.packets / total }
        end
    end
    return out
end

---------------------------------------------------------------------------------------------------------------
-- Comparisons
---------------------------------------------------------------------------------------------------------------

-- Is `actual` within a relative tolerance `rel` of `expected` (absolute 1e-12 near zero)?  NaN equals NaN.
function H.close(actual, expected, rel)
    rel = rel or 1e-9
    if type(actual) ~= "number" or type(expected) ~= "number" then return false end
    if expected ~= expected then return actual ~= actual end
    if actual ~= actual then return false end
    local diff = math.abs(actual - expected)
    return diff <= 1e-12 or diff <= rel * math.abs(expected)
end

local function fail(msg, level)
    local ok, luassert = pcall(require, "luassert")
    if ok then luassert.is_true(false, msg) end   -- a busted failure, not an error
    error(msg, level or 3)
end

-- Assert closeness with a readable message.
function H.assert_close(actual, expected, rel, what)
    if not H.close(actual, expected, rel) then
        fail(string.format("%s: expected %.17g, got %s (relative tolerance %g)", what or "value", expected,
            tostring(actual), rel or 1e-9))
    end
end

-- Assert a timestamp in epoch seconds equals integer nanoseconds `ns`, to within `tol` seconds (default 1e-6:
-- a double holds an epoch time to about 2.4e-7 s).
function H.assert_time(actual, ns, what, tol)
    tol = tol or 1e-6
    local expected = ns / 1e9
    if type(actual) ~= "number" or math.abs(actual - expected) > tol then
        fail(string.format("%s: expected %.9f s, got %s", what or "time", expected,
            type(actual) == "number" and string.format("%.9f", actual) or tostring(actual)))
    end
end

-- The text "1700000000.123456789" (any number of fraction digits up to 9) as integer nanoseconds, exactly.
function H.text_to_ns(text)
    local s, frac = tostring(text):match("^(%d+)%.?(%d*)$")
    assert(s, "not a decimal time: " .. tostring(text))
    assert(#frac <= 9, "more than 9 fraction digits: " .. text)
    return tonumber(s) * H.NS + (frac == "" and 0 or tonumber(frac .. string.rep("0", 9 - #frac)))
end

-- Collect r:ports(series) into a list of { i, port, count }.
function H.ports_list(r, series)
    local out = {}
    for i, port, count in r:ports(series) do out[#out + 1] = { i, port, count } end
    return out
end

-- CRC-32 (IEEE, as zlib's crc32) of a string: what a dump ends with, for specs that forge dumps whose checksum is
-- right but whose contents are not.
local CRC = {}
for i = 0, 255 do
  local c = i
  for _ = 1, 8 do c = (c & 1 == 1) and (0xEDB88320 ~ (c >> 1)) or (c >> 1) end
  CRC[i] = c
end
function H.crc32(s)
  local c = 0xFFFFFFFF
  for i = 1, #s do c = CRC[(c ~ s:byte(i)) & 0xFF] ~ (c >> 8) end
  return c ~ 0xFFFFFFFF
end

return H
