-- What the known-answer specs of the parse pipeline share (decode_spec, interval_spec, parse_spec): the interval
-- columns, a checker of one interval against expected values, the expected IAT moments, and a scratch directory.
--
-- Conventions: timestamps are integer nanoseconds (H.T0 is an epoch base, H.NS one second); counts are compared
-- exactly, floats with a relative tolerance of 1e-9 (iat_std/skew/kurt 1e-7), NaN as NaN.

local HERE = debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./"
local H = dofile(HERE .. "helper.lua")
local tpp = require "tpp"
local assert = require "luassert"   -- busted's assert: a required module does not see the spec's globals
local busted = require "busted"     -- and its lazy_setup / lazy_teardown

local NS, T0 = H.NS, H.T0
local SEC = function(s) return math.floor(s * NS + 0.5) end   -- seconds (exact in binary or decimal ms) -> ns

local COLUMNS = { "interval", "start", "end", "packets", "ip_packets", "ip_bytes", "src_ips", "dst_ips", "f2_src",
    "f2_dst", "iat_mean", "iat_std", "iat_skew", "iat_kurt", "entropy_src", "entropy_dst", "avg_len", "icmp_frac",
    "tcp_frac", "udp_frac", "syn", "fin", "tcp_port_packets", "udp_port_packets" }

local COUNT = { interval = true, packets = true, ip_packets = true, ip_bytes = true, src_ips = true, dst_ips = true,
    syn = true, fin = true, tcp_port_packets = true, udp_port_packets = true }
local LOOSE = { iat_std = true, iat_skew = true, iat_kurt = true }

-- Compare interval i (1-based) of r with `expected` (column -> value; start/end as integer ns).
local function check(r, i, expected)
    local iv = r:interval(i)
    assert.is_table(iv, "interval " .. i .. " exists")
    for k, v in pairs(expected) do
        local what = string.format("interval %d (1-based) column %s", i, k)
        if k == "start" or k == "end" then
            H.assert_time(iv[k], v, what)
        elseif COUNT[k] then
            assert.are.equal(v, iv[k], what)
        else
            H.assert_close(iv[k], v, LOOSE[k] and 1e-7 or 1e-9, what)
        end
    end
end

local NAN = 0 / 0

-- Every column of an interval with no packets (times given): counts 0, statistics undefined (NaN).
local function empty_interval(index, start_ns, end_ns)
    local e = { interval = index, start = start_ns, ["end"] = end_ns }
    for _, c in ipairs(COLUMNS) do
        if e[c] == nil then e[c] = COUNT[c] and 0 or NAN end
    end
    return e
end

-- The IAT moments of tpp's own (aligned) mode: H.ref.moments' definitions, NaN where undefined (the mean of no IAT,
-- the std, skewness and kurtosis of fewer than two).
local function iat_expect(e, iats)
    if #iats <= 1 then
        e.iat_mean, e.iat_std, e.iat_skew, e.iat_kurt = iats[1] or NAN, NAN, NAN, NAN
    else
        e.iat_mean, e.iat_std, e.iat_skew, e.iat_kurt = H.ref.moments(iats)
    end
    return e
end

-- The packet (original tool's) mode keeps its conventions: all four 0 up to one IAT.
local function iat_expect_original(e, iats)
    e.iat_mean, e.iat_std, e.iat_skew, e.iat_kurt = H.ref.moments(iats)
    if #iats == 1 then e.iat_mean = iats[1] end
    return e
end

local function parse(path, opts)
    local r, err = tpp.parse(path, opts)
    assert.is_not_nil(r, "tpp.parse failed: " .. tostring(err))
    return r
end

local function packets_of(path, opts)
    local list = {}
    for p in tpp.packets(path, opts) do list[#list + 1] = p end
    return list
end

local function column_sum(r, name)
    local s = 0
    for _, v in ipairs(r:column(name)) do s = s + v end
    return s
end

-- A scratch directory for one describe block.
local function scratch()
    local area = {}
    busted.lazy_setup(function() area.dir = H.tmpdir() end)
    busted.lazy_teardown(function() if area.dir then H.rmtree(area.dir) end end)
    function area.path(name) return area.dir .. "/" .. name end
    function area.capture(name, linktype, pkts, opts)
        return H.write_capture(area.path(name), linktype, pkts, opts)
    end
    return area
end

return {
    SEC = SEC, COLUMNS = COLUMNS, NAN = NAN, check = check, empty_interval = empty_interval, iat_expect = iat_expect,
    iat_expect_original = iat_expect_original, parse = parse, packets_of = packets_of, column_sum = column_sum,
    scratch = scratch,
}
