-- The C sources keep one home per declaration and no import loops (issue 13, item 2), read from the sources
-- themselves: every function a header declares is defined in the .c file of the same name, and no two .c files
-- use functions of each other, directly or through others.  ltpp.h is the one gathering header, as Lua's
-- lualib.h: it declares each binding file's registration function.
local lfs = require "lfs"

-- The checkout this spec belongs to.
local ROOT = debug.getinfo(1, "S").source:match("^@(.*)/tests/[^/]*$") or "."

-- Functions that ltpp.h declares and other files define: the registration of each binding file.
local GATHERED = { ["src/ltpp.h"] = "^tpp_l%w+_register$" }

local function read(path)
  local f = assert(io.open(ROOT .. "/" .. path, "rb"))
  local text = f:read("a")
  f:close()
  return text
end

-- The text without comments, string and character literals and preprocessor lines, so that only code is matched.
local function code_of(text)
  local out, i, n = {}, 1, #text
  local line_start = true
  while i <= n do
    local c, two = text:sub(i, i), text:sub(i, i + 1)
    if two == "/*" then
      local e = text:find("*/", i + 2, true) or n
      out[#out + 1], i = " ", e + 2
    elseif two == "//" or (line_start and text:match("^[ \t]*#", i)) then
      repeat                                          -- to the end of the line, continued lines included
        local e = text:find("\n", i, true) or n + 1
        local continued = text:sub(e - 1, e - 1) == "\\"
        i = e + 1
      until not continued or i > n
      out[#out + 1], line_start = "\n", true
    elseif c == '"' or c == "'" then
      local j = i + 1
      while j <= n and text:sub(j, j) ~= c do j = j + (text:sub(j, j) == "\\" and 2 or 1) end
      out[#out + 1], i = " ", j + 1
    else
      out[#out + 1], i = c, i + 1
      if c == "\n" then line_start = true elseif not c:match("%s") then line_start = false end
    end
  end
  return table.concat(out)
end

local function files_in(dir, ext)
  local out = {}
  for name in lfs.dir(ROOT .. "/" .. dir) do
    if name:sub(-#ext) == ext then out[#out + 1] = dir .. "/" .. name end
  end
  table.sort(out)
  return out
end

-- The function prototypes of a header: name -> true (bodies of structs and inline functions left out).
local function prototypes(path)
  local code = code_of(read(path)):gsub("%b{}", ";")
  local out = {}
  for decl in code:gmatch("[^;]+") do
    local name = decl:match("([%a_][%w_]*)%s*%b()%s*$")
    if name and not decl:match("%f[%w_]typedef%f[^%w_]") and not decl:match("%f[%w_]static%f[^%w_]") then
      out[name] = true
    end
  end
  return out
end

local KEYWORDS = { ["if"] = true, ["for"] = true, ["while"] = true, ["switch"] = true, ["do"] = true }

-- The functions a .c file defines outside any block, static ones left out: name -> true.  (Statements that a
-- macro spreads over the top level, such as a table of FIELD(name, code) entries, are not definitions.)
local function definitions(code)
  local out = {}
  local depth_free = code:gsub("%b{}", "{}")
  for head, name in depth_free:gmatch("([^;{}]-)([%a_][%w_]*)%s*%b()%s*{}") do
    if not KEYWORDS[name] and not head:match("%f[%w_]static%f[^%w_]") and not head:match("=") then
      out[name] = true
    end
  end
  return out
end

local function stem(path) return path:match("([^/]+)%.[ch]$") end

local function layout()
  local sources, headers = files_in("src", ".c"), files_in("src", ".h")
  for _, h in ipairs(files_in("include/tpp", ".h")) do headers[#headers + 1] = h end
  local code, defined_in = {}, {}
  for _, c in ipairs(sources) do
    code[c] = code_of(read(c))
    for name in pairs(definitions(code[c])) do defined_in[name] = c end
  end
  return sources, headers, code, defined_in
end

describe("the C layout", function()
  local sources, headers, code, defined_in = layout()

  it("declares each function beside its definition", function()
    local misplaced = {}
    for _, h in ipairs(headers) do
      for name in pairs(prototypes(h)) do
        local home = defined_in[name]
        local expected = "src/" .. stem(h) .. ".c"
        local gathered = GATHERED[h] and name:match(GATHERED[h])
        if home ~= expected and not gathered then
          misplaced[#misplaced + 1] = ("%s declared in %s, defined in %s"):format(name, h, home or "no file")
        end
      end
    end
    table.sort(misplaced)
    assert.are.same({}, misplaced)
  end)

  it("has no loop among the .c files", function()
    -- file -> { file it uses a function of = the first such function }
    local uses = {}
    for _, c in ipairs(sources) do
      uses[c] = {}
      for word in code[c]:gmatch("[%a_][%w_]*") do
        local home = defined_in[word]
        if home and home ~= c and not uses[c][home] then uses[c][home] = word end
      end
    end
    -- Depth-first search; a file met again while it is on the path closes a loop.
    local state, path, loops = {}, {}, {}
    local function visit(f)
      state[f] = "open"
      path[#path + 1] = f
      local targets = {}
      for g in pairs(uses[f]) do targets[#targets + 1] = g end
      table.sort(targets)
      for _, g in ipairs(targets) do
        if state[g] == "open" then
          local from = 1
          while path[from] ~= g do from = from + 1 end
          local ring = {}
          for i = from, #path do
            local nxt = path[i + 1] or g
            ring[#ring + 1] = ("%s -(%s)-> %s"):format(path[i], uses[path[i]][nxt], nxt)
          end
          loops[#loops + 1] = table.concat(ring, ", ")
        elseif not state[g] then
          visit(g)
        end
      end
      path[#path] = nil
      state[f] = "done"
    end
    for _, c in ipairs(sources) do if not state[c] then visit(c) end end
    assert.are.same({}, loops)
  end)

  it("passes errors one way: (err, errlen), TPP_ERRBUF_SIZE buffers, tpp_push_fail", function()
    local odd = {}
    for _, h in ipairs(headers) do
      for param in code_of(read(h)):gmatch("[(,]%s*char%s+[%w_]*err[%w_]*%s*%[[^%]]*%]") do
        odd[#odd + 1] = h .. ": a fixed-size error parameter, " .. param
      end
    end
    for _, f in ipairs(sources) do
      for buf in code[f]:gmatch("char%s+[%w_]*err[%w_]*%s*%[%s*%d+%s*%]") do
        odd[#odd + 1] = f .. ": an error buffer sized by hand, " .. buf
      end
      if f:match("^src/l") and f ~= "src/lfail.c" then
        for push in code[f]:gmatch("luaL_pushfail%s*%(%s*L%s*%)%s*;%s*lua_[%w_]+") do
          if push:match("pushf?string$") or push:match("insert$") then
            odd[#odd + 1] = f .. ": nil, message pushed by hand, " .. push:gsub("%s+", " ")
          end
        end
      end
    end
    table.sort(odd)
    assert.are.same({}, odd)
  end)

  it("defines the program name and the version once", function()
    local homes = {}
    for _, list in ipairs({ sources, headers }) do
      for _, f in ipairs(list) do
        for macro in read(f):gmatch("#%s*define%s+([%u_]+)") do homes[macro] = (homes[macro] or 0) + 1 end
      end
    end
    assert.are.equal(1, homes.PROGNAME)
    assert.are.equal(1, homes.TPP_VERSION)
  end)
end)
