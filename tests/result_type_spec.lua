-- The result type is one type whichever module a script requires first: "tpp.core" (the C half) alone gives
-- results with the same string forms and Lua methods as `require "tpp"` (issue 13, item 3).  Each case runs in a
-- fresh tpp, since a module once loaded stays loaded.
local H = require "tests.helper"

local function q(s) return H.shell_quote(s) end

describe("the result type", function()
  local dir, capture

  setup(function()
    dir = H.tmpdir()
    capture = dir .. "/two.pcap"
    H.write_capture(capture, "ethernet", {
      { ts = 1700000000.25, data = H.eth4_tcp("10.0.0.1", "10.0.0.2", 40000, 443, 0x02) },
      { ts = 1700000001.5, data = H.eth4_udp("10.0.0.3", "10.0.0.4", 5353, 53) },
    })
  end)

  teardown(function() H.rmtree(dir) end)

  -- Run `body` in a fresh tpp after `first` (a require); returns its stdout, asserting it exited 0.
  local function fresh(first, body)
    local script = H.write_file(dir .. "/script.lua", first .. "\nlocal path = arg[1]\n" .. body)
    local out, err, status = H.sh(H.tpp_binary() .. " " .. q(script) .. " " .. q(capture))
    assert.are.equal("", err)
    assert.are.equal(0, status)
    return out
  end

  local show = [[
local r = assert(require("tpp.core").parse(path, { delta_t = 1 }))
print(tostring(r))
print(tostring(r:interval(1)))
print(tostring(r:top_ports("tcp_dst", 1)))
print(tostring(r:column("packets")))
print(r:column("packets"):sum(), r:slice(1700000001):column("packets"):sum(), r:index(2))
]]

  it("prints and behaves the same when only tpp.core was required and after require 'tpp'", function()
    local core_only = fresh('require "tpp.core"', show)
    local after_tpp = fresh('require "tpp"', show)
    local core_then_tpp = fresh('require "tpp.core"', show .. 'require "tpp"\n' .. show)
    assert.are.equal(after_tpp, core_only)
    assert.are.equal(after_tpp .. after_tpp, core_then_tpp)
    -- The one __tostring is the Lua one: the span in UTC and the rates, not the C summary line.
    assert.truthy(core_only:find("tpp.result: " .. capture .. ", 2023-11-14 22:13:20–", 1, true))
    assert.truthy(core_only:find("UTC, 2 intervals of 1 s, 2 packets (2 IP), 1 pkt/s (peak 1)", 1, true))
    assert.truthy(core_only:find("\n2\t1\t2\n", 1, true))
  end)

  it("gives a loaded dump the Lua half too", function()
    local dump = dir .. "/two.tpd"
    fresh('require "tpp"', ("assert(require('tpp.core').parse(path)):dump(%q)"):format(dump))
    local loaded = fresh('require "tpp.core"', ("print(tostring(assert(require('tpp.core').load(%q))))"):format(dump))
    local parsed = fresh('require "tpp"', "print(tostring(assert(require('tpp').parse(path))))")
    assert.are.equal(parsed, loaded)
    assert.truthy(loaded:find(", 2023-11-14 ", 1, true))
  end)
end)
