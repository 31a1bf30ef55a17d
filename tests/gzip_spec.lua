-- Reading gzip-compressed captures: single and multi-member files, truncation, damage, standard input.
-- Runs with the default build (ISA-L when installed) and, in `make test`, again with the zlib-only build.
local tpp = require "tpp"
local synth = require "tpp.synth"
local H = require "tests.helper"

describe("gzip input (" .. tpp.gzip_backend .. ")", function()
  local dir, plain, reference
  setup(function()
    dir = H.tmpdir()
    plain = dir .. "/a.pcap"
    synth.generate(plain, { packets = 40000, duration = 30, seed = 11 })
    reference = assert(tpp.parse(plain, { delta_t = 1 }))
  end)
  teardown(function() H.rmtree(dir) end)

  local function same_columns(r)
    assert.are.equal(#reference, #r)
    for _, name in ipairs { "packets", "ip_bytes", "src_ips", "f2_dst", "iat_std", "entropy_src" } do
      assert.are.same(reference:column(name), r:column(name), name)
    end
  end

  it("reads a single-member gzip file, whatever its name", function()
    os.execute(("gzip -c %s > %s"):format(plain, dir .. "/single.data"))
    local r = assert(tpp.parse(dir .. "/single.data", { delta_t = 1 }))
    assert.is_true(r.complete)
    same_columns(r)
  end)

  it("reads a multi-member gzip file (members cut at arbitrary bytes)", function()
    local data = H.read_file(plain)
    local members = {}
    for k, cut in ipairs { 1, 24, 100001, 1048577, #data + 1 } do
      if k > 1 then
        local part = H.write_file(dir .. "/part", data:sub(members.last or 1, cut - 1))
        members[#members + 1] = H.run("gzip -c " .. part)
      end
      members.last = cut
    end
    H.write_file(dir .. "/multi.pcap.gz", table.concat(members))
    local r = assert(tpp.parse(dir .. "/multi.pcap.gz", { delta_t = 1 }))
    assert.is_true(r.complete, r.error)
    same_columns(r)
  end)

  it("ignores bytes after the last member that are not another member", function()
    local gz = H.run("gzip -c " .. plain)
    H.write_file(dir .. "/trailing.gz", gz .. string.rep("\0", 512))
    local r = assert(tpp.parse(dir .. "/trailing.gz", { delta_t = 1 }))
    assert.is_true(r.complete, r.error)
    same_columns(r)
  end)

  it("keeps the intervals before a truncation and says the gzip data is truncated", function()
    local gz = H.run("gzip -c " .. plain)
    H.write_file(dir .. "/cut.gz", gz:sub(1, #gz // 2))
    local r = assert(tpp.parse(dir .. "/cut.gz", { delta_t = 1 }))
    assert.is_false(r.complete)
    assert.truthy(r.error:match("truncated"), r.error)
    assert.is_true(r.packets > 0 and r.packets < reference.packets)
    local want, got = reference:column("packets"), r:column("packets")
    for i = 1, #r - 1 do assert.are.equal(want[i], got[i], "interval " .. i) end
  end)

  it("reports damaged compressed data instead of crashing", function()
    local gz = H.run("gzip -c " .. plain)
    local mid = #gz // 3
    local bad = gz:sub(1, mid) .. string.rep("\255", 64) .. gz:sub(mid + 65)
    H.write_file(dir .. "/bad.gz", bad)
    local r, err = tpp.parse(dir .. "/bad.gz", { delta_t = 1 })
    if r then
      assert.is_false(r.complete)
      assert.is_string(r.error)
    else
      assert.is_string(err)
    end
  end)

  it("reads plain and compressed captures from standard input", function()
    local code = H.shell_quote("print(assert(require('tpp').parse('-')).packets)")
    for _, feed in ipairs { "cat " .. plain, "gzip -c " .. plain } do
      local out, ok = H.run(feed .. " | " .. H.tpp_binary() .. " -e " .. code)
      assert.is_true(ok)
      assert.are.equal(tostring(reference.packets), out:match("%d+"))
    end
  end)
end)
