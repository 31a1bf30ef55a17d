-- tpp.script_cli: the command line of the smaller scripts (plot.lua, merge.lua) from one table of options, so
-- that their parser and their --help text cannot drift apart.
--
--   local parser = script_cli.parser {
--     prog = "tpp scripts/x.lua", usage = "tpp scripts/x.lua [options] FILE ...", summary = "What it does.",
--     argument = { "FILE", "What the arguments are." }, epilog = "Exit status: ...",
--     options = { { "-o --out", "DIR", "Where outputs go.", "." }, { "-q --quiet", nil, "Quiet." }, ... },
--   }                       -- each option: names, ARG (nil for a flag), help, default; "-h --help" prints the text;
--                           -- a fifth field "many" makes an option repeatable (its value a list, {} when absent)
local argparse = require "argparse"

local script_cli = {}

-- The help text: one line per option, the descriptions in one column.
function script_cli.help_text(spec)
  local rows, width = {}, 0
  for _, o in ipairs(spec.options) do
    local names = {}
    for name in o[1]:gmatch("%S+") do names[#names + 1] = name end
    local label = table.concat(names, ", ") .. (o[2] and (" " .. o[2]) or "")
    if #names == 1 and names[1]:sub(2, 2) == "-" then label = "    " .. label end
    local text = o[4] and (o[3]:gsub("%.$", "") .. " (default " .. o[4] .. ").") or o[3]
    if o[5] == "many" then text = text:gsub("%.$", "") .. " (repeatable)." end
    rows[#rows + 1] = { label, text }
    if #label > width then width = #label end
  end
  local out = { "Usage: " .. spec.usage, "", spec.summary, "",
                "Arguments:", ("  %-" .. width .. "s  %s"):format(spec.argument[1], spec.argument[2]), "", "Options:" }
  for _, row in ipairs(rows) do out[#out + 1] = ("  %-" .. width .. "s  %s"):format(row[1], row[2]) end
  out[#out + 1] = ""
  out[#out + 1] = spec.epilog
  return table.concat(out, "\n") .. "\n"
end

-- An argparse parser of spec.options (arguments: "inputs"), whose -h/--help prints script_cli.help_text.
function script_cli.parser(spec)
  local parser = argparse(spec.prog):add_help(false):usage("Usage: " .. spec.usage)
  parser:argument("inputs"):args("*")
  for _, o in ipairs(spec.options) do
    if o[1] == "-h --help" then
      parser:flag(o[1]):action(function() io.stdout:write(script_cli.help_text(spec)); os.exit(0) end)
    elseif o[2] and o[5] == "many" then
      parser:option(o[1], o[3]):count("*")
    elseif o[2] then
      parser:option(o[1], o[3], o[4])
    else
      parser:flag(o[1], o[3])
    end
  end
  return parser
end

-- A usage error: one line "prog: msg" (argparse's suggestion kept on it), the usage, exit 2.
function script_cli.usage_error(prog, usage, msg)
  msg = tostring(msg):gsub("\nDid you mean", "; did you mean")
  io.stderr:write(prog, ": ", require("tpp.walk").printable(msg), "\n", "Usage: ", usage,
                  "  (--help lists the options)\n")
  os.exit(2)
end

return script_cli
