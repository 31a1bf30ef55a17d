-- tpp.progress: progress of the captures being processed, on stderr, and the messages printed between it.
--
--   local display = progress.new { quiet = false }     -- stream = io.stderr, tty = (is it a terminal?), every = 2
--   display:start(key, label, size)                     -- a capture begins (key: any value, label: its path,
--                                                       -- size: bytes, 0 or nil when unknown)
--   display:update(key, bytes_read, size, packets)      -- as tpp.parse's progress callback reports
--   display:finish(key)                                 -- it ended
--   display:message(text)                               -- prints "tpp: text" (also when quiet), on one line:
--                                                       -- control characters escaped (tpp.walk.printable)
--   display:info(text)                                  -- prints "tpp: text" unless quiet
--   display:close()
--
-- On a terminal (width: opts.width, else the terminal's, else $COLUMNS, else 80) each running capture has a bar, redrawn in place (at most 10 times a second); otherwise a plain
-- line per running capture every `every` seconds.  Both show bytes read of the total, packets, packets per second
-- and the time left (estimated from the bytes, compressed bytes for gzip).
local tpp = require "tpp"
local walk = require "tpp.walk"

local progress = {}

local Display = {}
Display.__index = Display

-- 12345678 -> "12.3 MB"
local function bytes_text(n)
  local units = { "B", "kB", "MB", "GB", "TB" }
  local i = 1
  while n >= 1000 and i < #units do n, i = n / 1000, i + 1 end
  return i == 1 and ("%d B"):format(n) or ("%.1f %s"):format(n, units[i])
end

-- 1234567 -> "1.23 M"
local function count_text(n)
  if n >= 1e9 then return ("%.2f G"):format(n / 1e9) end
  if n >= 1e6 then return ("%.2f M"):format(n / 1e6) end
  if n >= 1e4 then return ("%.0f k"):format(n / 1e3) end
  return ("%d"):format(n)
end

-- seconds -> "42 s", "3 min 05 s", "2 h 07 min"
local function duration_text(s)
  if s ~= s or s == math.huge then return "?" end
  s = math.floor(s + 0.5)
  if s < 60 then return ("%d s"):format(s) end
  if s < 3600 then return ("%d min %02d s"):format(s // 60, s % 60) end
  return ("%d h %02d min"):format(s // 3600, s % 3600 // 60)
end

progress.bytes_text, progress.count_text, progress.duration_text = bytes_text, count_text, duration_text

-- The numbers of an entry: fraction done (nil when the size is unknown), rate, time left.
local function estimate(e, now)
  local elapsed = math.max(now - e.started, 1e-6)
  local rate = e.packets / elapsed
  local frac, left = nil, nil
  if e.size > 0 then
    frac = math.min(e.bytes / e.size, 1)
    if e.bytes > 0 then left = elapsed * (e.size - e.bytes) / e.bytes end
  end
  return frac, rate, left
end

function progress.new(opts)
  opts = opts or {}
  local stream = opts.stream or io.stderr
  local tty, columns = opts.tty, nil
  if tty == nil and tpp.isatty then tty, columns = tpp.isatty(stream) end
  local width = opts.width or columns or tonumber(os.getenv("COLUMNS") or "") or 80
  return setmetatable({
    stream = stream, tty = tty, quiet = opts.quiet, every = opts.every or 2, width = math.max(width, 40),
    entries = {}, order = {}, drawn = 0, last_draw = -math.huge,
  }, Display)
end

-- "14.9/37.5 MB": bytes done of a total, in the total's unit.
local function pair_text(done, total)
  local units, scale, i = { "B", "kB", "MB", "GB", "TB" }, 1, 1
  while total >= 1000 * scale and i < #units do scale, i = scale * 1000, i + 1 end
  if i == 1 then return ("%d/%d B"):format(done, total) end
  return ("%.1f/%.1f %s"):format(done / scale, total / scale, units[i])
end

-- 1234567 -> "1.2M", 45678 -> "46k" (at most 5 characters)
local function short_count(n)
  if n >= 1e9 then return ("%.1fG"):format(n / 1e9) end
  if n >= 1e6 then return ("%.1fM"):format(n / 1e6) end
  if n >= 1e3 then return ("%.0fk"):format(n / 1e3) end
  return ("%d"):format(n)
end

-- seconds -> "0:42", "12:05", "2:07:00"
local function clock_text(s)
  if not s or s ~= s or s == math.huge then return "?" end
  s = math.floor(s + 0.5)
  if s >= 3600 then return ("%d:%02d:%02d"):format(s // 3600, s % 3600 // 60, s % 60) end
  return ("%d:%02d"):format(s // 60, s % 60)
end

-- One bar line, at most width - 1 characters (a wrapped line would break the redraw), with fixed-width fields so
-- that the bars of several captures line up:
--   sample.pcap.gz     [#####-------]  39%  14.9/37.5 MB   393k pkts   594k/s   0:02 left
function Display:bar_line(e, now)
  local frac, rate, left = estimate(e, now)
  local label = e.label:match("[^/]*$")
  if #label > 18 then
    local cut = 17
    while cut > 0 and (label:byte(cut + 1) or 0) & 0xc0 == 0x80 do cut = cut - 1 end   -- not inside a UTF-8 character
    label = label:sub(1, cut) .. "~"
  end
  local tail
  if frac then
    tail = ("%3d%% %14s %5s pkts %5s/s %7s left"):format(math.floor(frac * 100), pair_text(e.bytes, e.size),
      short_count(e.packets), short_count(rate), clock_text(left))
  else
    tail = ("%9s read %5s pkts %5s/s"):format(bytes_text(e.bytes), short_count(e.packets), short_count(rate))
  end
  local room = self.width - 1 - 18 - #tail - 4
  local bar = " "
  if room >= 5 then
    local n = math.floor((frac or 0) * room + 0.5)
    bar = " [" .. ("#"):rep(n) .. ("-"):rep(room - n) .. "] "
  end
  return (("%-18s"):format(label) .. bar .. tail):sub(1, self.width - 1)
end

-- The plain line of an entry.
function Display:plain_line(e, now)
  local frac, rate, left = estimate(e, now)
  if frac then
    return ("tpp: %s: %d%% (%s of %s), %d packet%s, %.0f packets/s, %s left"):format(e.label, math.floor(frac * 100),
      bytes_text(e.bytes), bytes_text(e.size), e.packets, e.packets == 1 and "" or "s", rate,
      left and duration_text(left) or "?")
  end
  return ("tpp: %s: %s read, %d packet%s, %.0f packets/s"):format(e.label, bytes_text(e.bytes), e.packets,
    e.packets == 1 and "" or "s", rate)
end

-- Terminal: erase the bars drawn last time (the cursor is below them).
function Display:erase()
  if self.drawn > 0 then
    self.stream:write(("\27[%dF\27[J"):format(self.drawn))
    self.drawn = 0
  end
end

function Display:redraw(now)
  self:erase()
  local lines = {}
  for _, key in ipairs(self.order) do lines[#lines + 1] = self:bar_line(self.entries[key], now) .. "\n" end
  self.stream:write(table.concat(lines))
  self.stream:flush()
  self.drawn = #lines
  self.last_draw = now
end

function Display:start(key, label, size)
  if self.quiet then return end
  local now = tpp.now()
  self.entries[key] = { label = walk.printable(label), bytes = 0, size = size or 0, packets = 0, started = now, printed = now }
  self.order[#self.order + 1] = key
  if self.tty then self:redraw(now) end
end

function Display:update(key, bytes, size, packets)
  local e = self.entries[key]
  if self.quiet or not e then return end
  e.bytes, e.size, e.packets = bytes, size, packets
  local now = tpp.now()
  if self.tty then
    if now - self.last_draw >= 0.1 then self:redraw(now) end
  elseif now - e.printed >= self.every then
    e.printed = now
    self.stream:write(self:plain_line(e, now), "\n")
    self.stream:flush()
  end
end

function Display:finish(key)
  if self.quiet or not self.entries[key] then return end
  self.entries[key] = nil
  for i, k in ipairs(self.order) do
    if k == key then table.remove(self.order, i) break end
  end
  if self.tty then self:redraw(tpp.now()) end
end

function Display:message(text)
  if self.tty then self:erase() end
  self.stream:write("tpp: ", walk.printable(text), "\n")
  if self.tty and not self.quiet and #self.order > 0 then self:redraw(tpp.now()) end
  self.stream:flush()
end

function Display:info(text)
  if not self.quiet then self:message(text) end
end

function Display:close()
  if self.tty then self:erase() end
  self.entries, self.order = {}, {}
  self.stream:flush()
end

return progress
