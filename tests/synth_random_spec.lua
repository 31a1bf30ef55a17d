-- Specs for tpp.synth's random stream (splitmix64, the one generator behind every synthetic trace): the published
-- reference sequence, and the block reads the packet loop relies on (fill, then skip back over what a bin left).

local synth = require "tpp.synth"
local splitmix64 = synth._splitmix64

describe("tpp.synth's splitmix64 stream", function()
    it("gives splitmix64's reference sequence from state 0", function()
        -- Steele, Lea and Flood's splitmix64 (as in Vigna's splitmix64.c) seeded with 0
        local rng = splitmix64(0)
        assert.are.equal(0xe220a8397b1dcdaf, rng.next())
        assert.are.equal(0x6e789e6aa1b965f4, rng.next())
        assert.are.equal(0x06c45d188009454f, rng.next())
        assert.are.equal(0xf88bb8a8724c81ec, rng.next())
        assert.are.equal(0x1b39896a51a8749b, rng.next())
    end)

    it("fills a block with the values next() would give, in order", function()
        local a, b = splitmix64(12345), splitmix64(12345)
        local block = {}
        a.fill(block, 100)
        for i = 1, 100 do assert.are.equal(b.next(), block[i], "value " .. i) end
        assert.are.equal(b.next(), a.next(), "both streams continue at the same place")
    end)

    it("moves back over the unused end of a block, so the next block starts right after what was used", function()
        local a, b = splitmix64(-7), splitmix64(-7)
        local block = {}
        a.fill(block, 40)
        a.skip(25 - 40)                               -- 25 used
        for _ = 1, 25 do b.next() end
        a.fill(block, 3)
        for i = 1, 3 do assert.are.equal(b.next(), block[i], "value " .. (25 + i)) end
    end)

    it("draws floats in [0, 1) and integers in [lo, hi]", function()
        local rng = splitmix64(99)
        local lo_seen, hi_seen = false, false
        for _ = 1, 2000 do
            local f = rng.float()
            assert.is_true(f >= 0 and f < 1, tostring(f))
            local n = rng.int(3, 5)
            assert.is_true(math.type(n) == "integer" and n >= 3 and n <= 5, tostring(n))
            lo_seen, hi_seen = lo_seen or n == 3, hi_seen or n == 5
        end
        assert.is_true(lo_seen and hi_seen, "both ends of [3, 5] drawn")
    end)
end)
